/* Registry credentials: ECS_ENGINE_AUTH_DATA in both formats with the official lookup rules,
 * and GetAuthorizationToken responses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecs/asm.h"
#include "ecs/pullauth.h"

static struct pullauth_static *parse(enum ecs_engine_auth_type type, const char *data, int want)
{
        struct pullauth_static *s = NULL;
        assert_int_equal(pullauth_static_parse(type, data, &s), want);
        assert_non_null(s);
        return s;
}

static const char *user_for(const struct pullauth_static *s, const char *image)
{
        const struct pullauth_entry *e = pullauth_static_lookup(s, image);
        return e ? e->username : NULL;
}

static void test_docker_format(void **state)
{
        struct pullauth_static *s =
            parse(ECS_ENGINE_AUTH_TYPE_DOCKER,
                  "{\"https://registry.example.com\":{\"username\":\"u1\",\"password\":\"p1\","
                  "\"email\":\"e@x\"},"
                  "\"registry.example.com/team\":{\"username\":\"u2\",\"password\":\"p2\"},"
                  "\"127.0.0.1:5000\":{\"username\":\"AWS\",\"password\":\"pw\"},"
                  "\"https://index.docker.io/v1/\":{\"username\":\"hub\",\"password\":\"hp\"}}",
                  0);
        assert_int_equal(s->n, 4);
        /* The scheme is not part of the key; the host matches. */
        assert_string_equal(user_for(s, "registry.example.com/app:1"), "u1");
        assert_string_equal(pullauth_static_lookup(s, "registry.example.com/app")->password, "p1");
        assert_string_equal(pullauth_static_lookup(s, "registry.example.com/app")->email, "e@x");
        /* A longer key on the same host that prefixes the image wins. */
        assert_string_equal(user_for(s, "registry.example.com/team/app:2"), "u2");
        assert_string_equal(user_for(s, "127.0.0.1:5000/ns/img@sha256:"
                                        "0123456789abcdef0123456789abcdef0123456789abcdef01234567"
                                        "89abcdef"),
                            "AWS");
        /* Docker Hub, under any of its names, uses index.docker.io/v1/. */
        assert_string_equal(user_for(s, "busybox"), "hub");
        assert_string_equal(user_for(s, "library/busybox:latest"), "hub");
        assert_string_equal(user_for(s, "docker.io/library/busybox"), "hub");
        assert_string_equal(user_for(s, "index.docker.io/x/y"), "hub");
        /* Another registry, or a registry only named as a path component: nothing. */
        assert_null(user_for(s, "other.example.com/app"));
        assert_null(user_for(s, "127.0.0.1:5001/app"));
        /* A host named only further down the path is a Docker Hub image. */
        assert_string_equal(user_for(s, "team/registry.example.com"), "hub");
        pullauth_static_free(s);
}

static void test_dockercfg_format(void **state)
{
        /* base64("user:pa:ss") — the password may hold colons. */
        struct pullauth_static *s =
            parse(ECS_ENGINE_AUTH_TYPE_DOCKERCFG,
                  "{\"https://my.registry:5000/v1/\":{\"auth\":\"dXNlcjpwYTpzcw==\","
                  "\"email\":\"e\"},"
                  "\"bad.example.com\":{\"auth\":\"bm9jb2xvbg==\"},"
                  "\"worse.example.com\":{\"auth\":\"***\"}}",
                  -EBADMSG);
        assert_int_equal(s->n, 1);
        const struct pullauth_entry *e = pullauth_static_lookup(s, "my.registry:5000/app");
        assert_non_null(e);
        assert_string_equal(e->key, "my.registry:5000/v1/");
        assert_string_equal(e->username, "user");
        assert_string_equal(e->password, "pa:ss");
        assert_null(pullauth_static_lookup(s, "bad.example.com/app"));
        pullauth_static_free(s);
}

static void test_static_bad_documents(void **state)
{
        struct pullauth_static *s = parse(ECS_ENGINE_AUTH_TYPE_DOCKER, "[1,2]", -EBADMSG);
        assert_int_equal(s->n, 0);
        assert_null(pullauth_static_lookup(s, "busybox"));
        pullauth_static_free(s);
        s = parse(ECS_ENGINE_AUTH_TYPE_DOCKER, "{\"h.example.com\":\"x\"}", -EBADMSG);
        assert_int_equal(s->n, 0);
        pullauth_static_free(s);
        s = parse(ECS_ENGINE_AUTH_TYPE_DOCKER, "{\"h.example.com\":{\"username\":7}}", -EBADMSG);
        assert_int_equal(s->n, 0);
        pullauth_static_free(s);
        s = parse(ECS_ENGINE_AUTH_TYPE_NONE, "{\"h.example.com\":{\"username\":\"u\"}}", 0);
        assert_int_equal(s->n, 0);
        pullauth_static_free(s);
}

static void test_base64(void **state)
{
        char *out = NULL;
        size_t n = 0;
        assert_int_equal(pullauth_base64_decode("QVdTOnNlY3JldA==", &out, &n), 0);
        assert_int_equal(n, 10);
        assert_string_equal(out, "AWS:secret");
        free(out);
        assert_int_equal(pullauth_base64_decode("QQ==", &out, &n), 0);
        assert_string_equal(out, "A");
        free(out);
        assert_int_equal(pullauth_base64_decode("QVdT", &out, &n), 0);
        assert_string_equal(out, "AWS");
        free(out);
        assert_int_equal(pullauth_base64_decode("QVd", &out, &n), -EINVAL);
        assert_int_equal(pullauth_base64_decode("Q=dT", &out, &n), -EINVAL);
        assert_int_equal(pullauth_base64_decode("QV=T", &out, &n), -EINVAL);
        assert_int_equal(pullauth_base64_decode("QVd$", &out, &n), -EINVAL);
        assert_int_equal(pullauth_base64_decode("", &out, &n), -EINVAL);
}

static int ecr(const char *json, char **u, char **p, char **ep, uint64_t *exp, const char **why)
{
        return pullauth_ecr_parse(json, strlen(json), u, p, ep, exp, why);
}

static void test_ecr_response(void **state)
{
        char *u = NULL, *p = NULL, *ep = NULL;
        uint64_t exp = 0;
        const char *why = NULL;

        assert_int_equal(ecr("{\"authorizationData\":[{\"authorizationToken\":"
                             "\"QVdTOnNlY3JldA==\",\"expiresAt\":1700043200.5,"
                             "\"proxyEndpoint\":\"https://1.dkr.ecr.us-west-2.amazonaws.com\"}]}",
                             &u, &p, &ep, &exp, &why),
                         0);
        assert_string_equal(u, "AWS");
        assert_string_equal(p, "secret");
        assert_string_equal(ep, "https://1.dkr.ecr.us-west-2.amazonaws.com");
        assert_int_equal(exp, 1700043200500000ULL);
        free(u);
        free(p);
        free(ep);

        static const char *const bad[] = {
            "not json",
            "{}",
            "{\"authorizationData\":[]}",
            "{\"authorizationData\":[{},{}]}",
            "{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnNlY3JldA==\","
            "\"proxyEndpoint\":\"https://x\"}]}",
            "{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnNlY3JldA==\","
            "\"expiresAt\":\"soon\",\"proxyEndpoint\":\"https://x\"}]}",
            "{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnNlY3JldA==\","
            "\"expiresAt\":1700043200}]}",
            /* not base64 */
            "{\"authorizationData\":[{\"authorizationToken\":\"%%%%\",\"expiresAt\":1700043200,"
            "\"proxyEndpoint\":\"https://x\"}]}",
            /* base64("nocolon") */
            "{\"authorizationData\":[{\"authorizationToken\":\"bm9jb2xvbg==\","
            "\"expiresAt\":1700043200,\"proxyEndpoint\":\"https://x\"}]}",
            /* base64(":pw"): no user */
            "{\"authorizationData\":[{\"authorizationToken\":\"OnB3\","
            "\"expiresAt\":1700043200,\"proxyEndpoint\":\"https://x\"}]}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                why = NULL;
                assert_int_equal(ecr(bad[i], &u, &p, &ep, &exp, &why), -EBADMSG);
                assert_non_null(why);
                /* The reason names what is wrong, never the token. */
                assert_null(strstr(why, "QVdT"));
        }
}

static void expect_asm_auth(const char *secret, const char *user, const char *password,
                            const char *why)
{
        char *u = NULL, *p = NULL;
        const char *w = NULL;
        int r = asm_parse_registry_auth(secret, &u, &p, &w);
        if (user) {
                assert_int_equal(r, 0);
                assert_string_equal(u, user);
                assert_string_equal(p, password);
        } else {
                assert_int_equal(r, -EBADMSG);
                assert_non_null(w);
                assert_non_null(strstr(w, why));
                assert_null(u);
        }
        free(u);
        free(p);
}

static void test_asm_registry_auth(void **state)
{
        (void)state;
        expect_asm_auth("{\"username\":\"u\",\"password\":\"p:w\"}", "u", "p:w", NULL);
        /* Field names match as Go's encoding/json does: ignoring case. */
        expect_asm_auth("{\"Username\":\"U\",\"PASSWORD\":\"P\"}", "U", "P", NULL);
        expect_asm_auth("", NULL, NULL, "empty secrets value");
        expect_asm_auth(NULL, NULL, NULL, "empty secrets value");
        expect_asm_auth("user:pass", NULL, NULL, "invalid schema");
        expect_asm_auth("[\"u\",\"p\"]", NULL, NULL, "invalid schema");
        expect_asm_auth("{\"username\":1,\"password\":\"p\"}", NULL, NULL, "invalid schema");
        expect_asm_auth("{\"password\":\"p\"}", NULL, NULL, "asm fetching username");
        expect_asm_auth("{\"username\":\"u\",\"password\":\"\"}", NULL, NULL,
                        "asm fetching password");
}

static void test_asm_arn_region(void **state)
{
        (void)state;
        char *r = asm_arn_region("arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf");
        assert_string_equal(r, "eu-west-1");
        free(r);
        assert_null(asm_arn_region("my-secret"));
        assert_null(asm_arn_region("arn:aws:secretsmanager::123456789012:secret:a"));
        assert_null(asm_arn_region("arn:aws:secretsmanager"));
}

static void expect_explained(const char *raw, const char *want)
{
        char *got = pullauth_explain_pull_error(raw);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

static void test_pull_error_advice(void **state)
{
        (void)state;
        const char *perm = "Error response from daemon: pull access denied: denied: User: "
                           "arn:aws:sts::1:assumed-role/r/i is not authorized to perform: "
                           "ecr:BatchGetImage on resource: arn:aws:ecr:x";
        const char *missing = "pull access denied for x, repository does not exist or may "
                              "require 'docker login': denied: requested access to the resource "
                              "is denied";
        const char *net = "Get \"https://r/v2/\": net/http: request canceled while waiting for "
                          "connection (Client.Timeout exceeded while awaiting headers)";
        char want[1024];

        snprintf(want, sizeof(want),
                 "The task can\u2019t pull the image. Check that the role has the permissions to "
                 "pull images from the registry. %s",
                 perm);
        expect_explained(perm, want);
        snprintf(want, sizeof(want),
                 "The task can\u2019t pull the image. Check whether the image exists. %s", missing);
        expect_explained(missing, want);
        snprintf(want, sizeof(want),
                 "The task can\u2019t pull the image. Check your network configuration. %s", net);
        expect_explained(net, want);
        /* No user between the two parts: no match. */
        expect_explained("denied: User:  is not authorized to perform: ecr:BatchGetImage on "
                         "resource",
                         "denied: User:  is not authorized to perform: ecr:BatchGetImage on "
                         "resource");
        expect_explained("manifest unknown", "manifest unknown");
        expect_explained(NULL, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_docker_format),        cmocka_unit_test(test_dockercfg_format),
            cmocka_unit_test(test_static_bad_documents), cmocka_unit_test(test_base64),
            cmocka_unit_test(test_ecr_response),         cmocka_unit_test(test_asm_registry_auth),
            cmocka_unit_test(test_asm_arn_region),       cmocka_unit_test(test_pull_error_advice),
        };
        return cmocka_run_group_tests_name("pullauth", tests, NULL, NULL);
}
