/* Tests the proxy rules (which proxy a URL takes, NO_PROXY matching) and the log-safe forms
 * of URLs (include/ecs/netenv.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "ecs/netenv.h"

static void test_proxy_by_scheme(void **state)
{
        struct ecs_proxy_config p = {.http_proxy = "http://hp:3128",
                                     .https_proxy = "http://sp:3128"};

        assert_string_equal(ecs_proxy_for_url(&p, "http://ecs.local/x"), "http://hp:3128");
        assert_string_equal(ecs_proxy_for_url(&p, "ws://ecs.local/ws"), "http://hp:3128");
        assert_string_equal(ecs_proxy_for_url(&p, "https://ecs.us-west-2.amazonaws.com/"),
                            "http://sp:3128");
        assert_string_equal(ecs_proxy_for_url(&p, "WSS://ecs-a-1.amazonaws.com/ws?x=1"),
                            "http://sp:3128");
        /* no fallback from one scheme's proxy to the other's, as Go's net/http */
        p.http_proxy = NULL;
        assert_null(ecs_proxy_for_url(&p, "http://ecs.local/x"));
        p.https_proxy = "";
        assert_null(ecs_proxy_for_url(&p, "https://ecs.local/x"));
        /* not a URL we know: direct */
        p.https_proxy = "http://sp:3128";
        assert_null(ecs_proxy_for_url(&p, "unix:///var/run/docker.sock"));
        assert_null(ecs_proxy_for_url(&p, "no scheme here"));
        assert_null(ecs_proxy_for_url(NULL, "https://x/"));
}

static void test_no_proxy_entries(void **state)
{
        struct ecs_proxy_config p = {.https_proxy = "http://sp:3128"};

        p.no_proxy = "169.254.169.254, .internal,example.com:8443 ,10.0.0.0/8,[fd00::1],fe80::/10";
        assert_null(ecs_proxy_for_url(&p, "https://169.254.169.254/latest"));
        assert_null(ecs_proxy_for_url(&p, "https://db.internal/"));
        assert_null(ecs_proxy_for_url(&p, "https://internal/"));
        assert_non_null(ecs_proxy_for_url(&p, "https://notinternal/"));
        assert_null(ecs_proxy_for_url(&p, "https://example.com:8443/"));
        assert_null(ecs_proxy_for_url(&p, "https://api.example.com:8443/"));
        assert_non_null(ecs_proxy_for_url(&p, "https://example.com/")); /* port 443 */
        assert_non_null(ecs_proxy_for_url(&p, "https://badexample.com:8443/"));
        assert_null(ecs_proxy_for_url(&p, "https://10.200.3.4:1234/"));
        assert_non_null(ecs_proxy_for_url(&p, "https://11.0.0.1/"));
        assert_null(ecs_proxy_for_url(&p, "https://[fd00::1]:443/"));
        assert_null(ecs_proxy_for_url(&p, "https://[fe80::abcd]/"));
        assert_non_null(ecs_proxy_for_url(&p, "https://[fd00::2]/"));
        /* case, a trailing dot, user information before the host */
        assert_null(ecs_proxy_for_url(&p, "https://user:pw@DB.Internal./"));

        assert_true(ecs_no_proxy_match("*", "anything", 1));
        assert_true(ecs_no_proxy_match("*.svc", "a.svc", 80));
        assert_true(ecs_no_proxy_match("127.0.0.0/8", "127.1.2.3", 80));
        assert_true(ecs_no_proxy_match("0.0.0.0/0", "8.8.8.8", 80));
        assert_false(ecs_no_proxy_match("127.0.0.0/33", "127.0.0.1", 80));
        assert_false(ecs_no_proxy_match("127.0.0.0/8", "localhost", 80));
        assert_false(ecs_no_proxy_match("::1", "127.0.0.1", 80));
        assert_false(ecs_no_proxy_match("", "x", 80));
        assert_false(ecs_no_proxy_match(" , ,", "x", 80));
        assert_false(ecs_no_proxy_match(NULL, "x", 80));
        assert_false(ecs_no_proxy_match("x:notaport", "x", 80));
}

static void test_url_redact(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"http://user:s3cret@proxy:3128", "http://user:***@proxy:3128"},
            {"user:s3cret@proxy:3128", "user:***@proxy:3128"},
            /* a password holding '@' and ':' */
            {"http://u:p@ss:w@proxy:3128/", "http://u:***@proxy:3128/"},
            {"http://proxy:3128", "http://proxy:3128"},
            {"http://onlyuser@proxy:3128", "http://onlyuser@proxy:3128"},
            /* what cannot be parsed is not shown */
            {"http://a:b@", "<unparsable URL>"},
            {NULL, "n/a"},
        };
        char buf[128];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ecs_url_redact(cases[i].in, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].out);
        }
        /* cut short, never past the buffer */
        ecs_url_redact("http://user:s3cret@proxy:3128", buf, 12);
        assert_string_equal(buf, "http://user");
}

static void test_url_origin(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"https://ecs.us-west-2.amazonaws.com/", "https://ecs.us-west-2.amazonaws.com:443"},
            {"http://127.0.0.1:8080/acs/ws?clusterArn=x&seqNum=1", "http://127.0.0.1:8080"},
            {"https://u:pw@[::1]:4443/x", "https://[::1]:4443"},
            {"garbage", "<unparsable URL>"},
        };
        char buf[128];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ecs_url_origin(cases[i].in, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].out);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_proxy_by_scheme),
            cmocka_unit_test(test_no_proxy_entries),
            cmocka_unit_test(test_url_redact),
            cmocka_unit_test(test_url_origin),
        };
        return cmocka_run_group_tests_name("test_netenv", tests, NULL, NULL);
}
