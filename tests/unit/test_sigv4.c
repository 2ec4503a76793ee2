/* SigV4: every case of the AWS signing test suite in $ECS_TESTDATA/sigv4, plus the shapes of
 * the requests the agent itself signs (ACS/TCS upgrades, JSON 1.1 POSTs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ecs/jsonutil.h"
#include "ecs/sigv4.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char *read_text(const char *dir, const char *name, size_t *ret_len)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *buf = NULL;
        size_t cap = 0;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        f = fopen(path, "re");
        if (!f) {
                print_error("cannot open %s: %m\n", path);
                fail();
        }
        FILE *m = open_memstream(&buf, &cap);
        assert_non_null(m);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        assert_false(ferror(f));
        fclose(m);
        if (ret_len)
                *ret_len = cap;
        return buf;
}

static uint64_t parse_timestamp(const char *s)
{
        struct tm tm = {0};
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

        assert_non_null(end);
        assert_int_equal(*end, 0);
        return (uint64_t)timegm(&tm) * 1000000ULL;
}

/* A raw request from request.txt: "METHOD path HTTP/1.1", header lines (continuation lines
 * start with blanks and are kept with a newline, so the signer must fold them), a blank
 * line, the body. The path may contain spaces, so the method ends at the first blank and
 * the path at the last one. */
struct raw_request {
        char *method;
        char *target;
        char **headers;
        size_t n_headers;
        char *host;
        const char *body;
        size_t body_len;
};

static void raw_request_done(struct raw_request *r)
{
        free(r->method);
        free(r->target);
        strv_free(r->headers);
        free(r->host);
}

static void parse_request(char *text, size_t len, struct raw_request *req)
{
        char *line = text, *end = text + len;
        bool first = true;

        *req = (struct raw_request){0};
        req->headers = calloc(64, sizeof(char *));
        assert_non_null(req->headers);
        while (line < end) {
                char *nl = memchr(line, '\n', end - line);
                char *next = nl ? nl + 1 : end;
                size_t l = (nl ? nl : end) - line;
                if (l > 0 && line[l - 1] == '\r')
                        l--;
                if (first) {
                        char *sp1 = memchr(line, ' ', l), *sp2 = memrchr(line, ' ', l);
                        assert_non_null(sp1);
                        assert_true(sp2 > sp1);
                        req->method = strndup(line, sp1 - line);
                        req->target = strndup(sp1 + 1, sp2 - sp1 - 1);
                        first = false;
                } else if (l == 0) {
                        req->body = next;
                        req->body_len = end - next;
                        break;
                } else if (line[0] == ' ' || line[0] == '\t') {
                        assert_true(req->n_headers > 0);
                        char *prev = req->headers[req->n_headers - 1], *joined = NULL;
                        assert_true(asprintf(&joined, "%s\n%.*s", prev, (int)l, line) > 0);
                        free(prev);
                        req->headers[req->n_headers - 1] = joined;
                } else {
                        assert_true(req->n_headers < 63);
                        req->headers[req->n_headers++] = strndup(line, l);
                        if (strncasecmp(line, "host:", 5) == 0)
                                req->host = strndup(line + 5, l - 5);
                }
                line = next;
        }
        assert_non_null(req->method);
        assert_non_null(req->host);
}

static char *trim_newline(char *s)
{
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r'))
                s[--l] = 0;
        return s;
}

static bool check_equal(const char *name, const char *what, const char *expected, const char *got)
{
        if (got && streq(expected, got))
                return true;
        print_error("[%s] %s differs\n--- expected\n%s\n--- got\n%s\n", name, what, expected,
                    strna(got));
        return false;
}

/* The expected Authorization value from header-signed-request.txt. */
static char *expected_authorization(char *signed_request)
{
        for (char *l = strtok(signed_request, "\n"); l; l = strtok(NULL, "\n"))
                if (strncasecmp(l, "Authorization:", 14) == 0) {
                        l += 14;
                        while (*l == ' ')
                                l++;
                        return strdup(trim_newline(l));
                }
        return NULL;
}

static bool run_case(const char *dir, const char *name)
{
        _cleanup_free_ char *ctx_text = NULL, *req_text = NULL, *exp_creq = NULL, *exp_sts = NULL,
                            *exp_sig = NULL, *exp_signed = NULL, *url = NULL, *creq = NULL,
                            *sts = NULL, *sig = NULL, *exp_auth = NULL;
        _cleanup_json_ json_object *ctx = NULL;
        _cleanup_strv_free_ char **added = NULL;
        struct raw_request req;
        size_t ctx_len, req_len;
        bool ok = true;

        ctx_text = read_text(dir, "context.json", &ctx_len);
        req_text = read_text(dir, "request.txt", &req_len);
        exp_creq = read_text(dir, "header-canonical-request.txt", NULL);
        exp_sts = read_text(dir, "header-string-to-sign.txt", NULL);
        exp_sig = trim_newline(read_text(dir, "header-signature.txt", NULL));
        exp_signed = read_text(dir, "header-signed-request.txt", NULL);
        exp_auth = expected_authorization(exp_signed);
        assert_non_null(exp_auth);

        assert_int_equal(json_parse(ctx_text, ctx_len, &ctx), 0);
        json_object *cj = json_get_object(ctx, "credentials", NULL);
        assert_non_null(cj);
        struct aws_credentials creds = {
            .access_key_id = (char *)json_get_string(cj, "access_key_id", NULL),
            .secret_access_key = (char *)json_get_string(cj, "secret_access_key", NULL),
            .session_token = (char *)json_get_string(cj, "token", NULL),
        };
        assert_non_null(creds.access_key_id);
        assert_non_null(creds.secret_access_key);

        parse_request(req_text, req_len, &req);
        assert_true(asprintf(&url, "https://%s%s", req.host, req.target) > 0);

        const char *ts = json_get_string(ctx, "timestamp", NULL);
        assert_non_null(ts);
        struct sigv4_params p = {
            .method = req.method,
            .url = url,
            .headers = req.headers,
            .body = req.body,
            .body_len = req.body_len,
            .region = json_get_string(ctx, "region", NULL),
            .service = json_get_string(ctx, "service", NULL),
            .time_usec = parse_timestamp(ts),
            .normalize_path = json_get_bool(ctx, "normalize", true, NULL),
            .sign_body_header = json_get_bool(ctx, "sign_body", false, NULL),
            .session_token_unsigned = json_get_bool(ctx, "omit_session_token", false, NULL),
        };

        assert_int_equal(sigv4_canonical_request(&p, &creds, &creq, NULL), 0);
        ok = check_equal(name, "canonical request", exp_creq, creq) && ok;
        assert_int_equal(sigv4_string_to_sign(&p, creq, &sts), 0);
        ok = check_equal(name, "string to sign", exp_sts, sts) && ok;
        assert_int_equal(sigv4_signature(&p, &creds, sts, &sig), 0);
        ok = check_equal(name, "signature", exp_sig, sig) && ok;

        assert_int_equal(sigv4_sign(&p, &creds, &added), 0);
        const char *auth = NULL, *token = NULL;
        strv_foreach (h, added) {
                if (strncmp(*h, "Authorization: ", 15) == 0)
                        auth = *h + 15;
                if (strncmp(*h, "X-Amz-Security-Token: ", 22) == 0)
                        token = *h + 22;
                /* libcurl adds Host itself */
                assert_false(strncasecmp(*h, "Host:", 5) == 0);
        }
        ok = check_equal(name, "Authorization", exp_auth, auth) && ok;
        /* the token travels even when it is not signed */
        if (creds.session_token)
                ok = check_equal(name, "X-Amz-Security-Token", creds.session_token, token) && ok;

        raw_request_done(&req);
        return ok;
}

static void test_aws_vectors(void **state)
{
        const char *base = getenv("ECS_TESTDATA");
        _cleanup_free_ char *root = NULL;
        unsigned cases = 0, failed = 0;
        DIR *d;

        assert_non_null(base);
        assert_true(asprintf(&root, "%s/sigv4", base) > 0);
        d = opendir(root);
        if (!d) {
                print_error("cannot open %s: %m\n", root);
                fail();
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *dir = NULL;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                assert_true(asprintf(&dir, "%s/%s", root, de->d_name) > 0);
                assert_int_equal(stat(dir, &st), 0);
                if (!S_ISDIR(st.st_mode))
                        continue;
                cases++;
                if (!run_case(dir, de->d_name))
                        failed++;
        }
        closedir(d);
        print_message("sigv4: %u cases, %u failed\n", cases, failed);
        assert_true(cases >= 30);
        assert_int_equal(failed, 0);
}

static const struct aws_credentials test_creds = {
    .access_key_id = "AKIDEXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

#define T_2024 (1704067200ULL * 1000000ULL) /* 2024-01-01T00:00:00Z */

/* ACS upgrade URL as Go's url.Values.Encode() writes it (space as '+'), parameters
 * shuffled and one escape in lower case. Expected canonical query written by hand from the
 * SigV4 rules: decoded, re-encoded with only A-Z a-z 0-9 - _ . ~ unescaped, upper-case
 * hex, space as %20, sorted by key. */
static void test_acs_upgrade_query(void **state)
{
        const char *url = "wss://ecs-a-1.us-west-2.amazonaws.com/ws?seqNum=1&sendCredentials=true"
                          "&protocolVersion=2&dockerVersion=DockerVersion%3A+25.0.8"
                          "&containerInstanceArn=arn%3aaws%3Aecs%3Aus-west-2%3A123456789012"
                          "%3Acontainer-instance%2Fdefault%2F4b3d0c6f"
                          "&clusterArn=default&agentVersion=1.105.1&agentHash=a8b3e7d3";
        const char *expected = "GET\n"
                               "/ws\n"
                               "agentHash=a8b3e7d3&agentVersion=1.105.1&clusterArn=default"
                               "&containerInstanceArn=arn%3Aaws%3Aecs%3Aus-west-2%3A123456789012"
                               "%3Acontainer-instance%2Fdefault%2F4b3d0c6f"
                               "&dockerVersion=DockerVersion%3A%2025.0.8&protocolVersion=2"
                               "&sendCredentials=true&seqNum=1\n"
                               "host:ecs-a-1.us-west-2.amazonaws.com\n"
                               "x-amz-date:20240101T000000Z\n"
                               "\n"
                               "host;x-amz-date\n" EMPTY_SHA256;
        struct sigv4_params p = {.method = "GET",
                                 .url = url,
                                 .region = "us-west-2",
                                 .service = "ecs",
                                 .time_usec = T_2024,
                                 .normalize_path = true};
        _cleanup_free_ char *creq = NULL, *sh = NULL;
        _cleanup_strv_free_ char **h = NULL;

        assert_int_equal(sigv4_canonical_request(&p, &test_creds, &creq, &sh), 0);
        assert_string_equal(creq, expected);
        assert_string_equal(sh, "host;x-amz-date");

        assert_int_equal(sigv4_sign(&p, &test_creds, &h), 0);
        assert_non_null(h[0]);
        assert_string_equal(h[0], "X-Amz-Date: 20240101T000000Z");
        const char *prefix = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/"
                             "us-west-2/ecs/aws4_request, SignedHeaders=host;x-amz-date, "
                             "Signature=";
        assert_non_null(h[1]);
        assert_memory_equal(h[1], prefix, strlen(prefix));
        assert_int_equal(strlen(h[1]), strlen(prefix) + 64);
        assert_int_equal(strspn(h[1] + strlen(prefix), "0123456789abcdef"), 64);
        assert_null(h[2]);
}

static void test_session_token_and_host(void **state)
{
        struct aws_credentials c = test_creds;
        c.session_token = "TOKEN";
        struct sigv4_params p = {.method = "GET",
                                 .url = "ws://127.0.0.1:8082/ws?a=b",
                                 .region = "us-west-2",
                                 .service = "ecs",
                                 .time_usec = T_2024,
                                 .normalize_path = true,
                                 .add_host_header = true};
        _cleanup_strv_free_ char **h = NULL;
        _cleanup_free_ char *creq = NULL, *sh = NULL;

        assert_int_equal(sigv4_canonical_request(&p, &c, &creq, &sh), 0);
        assert_string_equal(sh, "host;x-amz-date;x-amz-security-token");
        assert_non_null(strstr(creq, "\nhost:127.0.0.1:8082\n"));
        assert_non_null(strstr(creq, "\nx-amz-security-token:TOKEN\n"));

        assert_int_equal(sigv4_sign(&p, &c, &h), 0);
        assert_string_equal(h[0], "Host: 127.0.0.1:8082");
        assert_string_equal(h[1], "X-Amz-Date: 20240101T000000Z");
        assert_string_equal(h[2], "X-Amz-Security-Token: TOKEN");
        assert_non_null(strstr(h[3], "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
        assert_null(h[4]);
}

static void check_host(const char *url, const char *host)
{
        struct sigv4_params p = {.method = "GET",
                                 .url = url,
                                 .region = "r",
                                 .service = "s",
                                 .time_usec = T_2024,
                                 .normalize_path = true};
        _cleanup_free_ char *creq = NULL, *want = NULL;

        assert_int_equal(sigv4_canonical_request(&p, &test_creds, &creq, NULL), 0);
        assert_true(asprintf(&want, "\nhost:%s\n", host) > 0);
        if (!strstr(creq, want)) {
                print_error("%s: expected %s in\n%s\n", url, want, creq);
                fail();
        }
}

static void test_host_port(void **state)
{
        check_host("https://ecs.us-west-2.amazonaws.com", "ecs.us-west-2.amazonaws.com");
        check_host("https://ecs.us-west-2.amazonaws.com:443/", "ecs.us-west-2.amazonaws.com");
        check_host("http://h:80/", "h");
        check_host("http://h:443/", "h:443");
        check_host("wss://h:443/ws", "h");
        check_host("ws://h:8081/ws", "h:8081");
        check_host("http://user:pw@[::1]:80/x", "[::1]");
        check_host("http://[::1]:8080", "[::1]:8080");
        check_host("http://h:8080?x=1#frag", "h:8080");

        struct sigv4_params p = {.method = "GET", .region = "r", .service = "s"};
        char *creq = NULL;
        const char *bad[] = {"no-scheme/x",     "http://",      "http://:80/",
                             "http://h:99999/", "http://h:8x/", "http://[::1/"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                p.url = bad[i];
                assert_int_equal(sigv4_canonical_request(&p, &test_creds, &creq, NULL), -EINVAL);
                assert_null(creq);
        }
}

static void check_path(const char *url, bool normalize, const char *path, const char *query)
{
        struct sigv4_params p = {.method = "GET",
                                 .url = url,
                                 .region = "r",
                                 .service = "s",
                                 .time_usec = T_2024,
                                 .normalize_path = normalize};
        _cleanup_free_ char *creq = NULL, *want = NULL;

        assert_int_equal(sigv4_canonical_request(&p, &test_creds, &creq, NULL), 0);
        assert_true(asprintf(&want, "GET\n%s\n%s\n", path, query) > 0);
        if (strncmp(creq, want, strlen(want)) != 0) {
                print_error("%s: expected\n%s\ngot\n%s\n", url, want, creq);
                fail();
        }
}

static void test_path_and_query(void **state)
{
        /* Non-S3: the wire path is normalised and encoded again, so '%' becomes %25. */
        check_path("http://h/a%20b/./c/../d", true, "/a%2520b/d", "");
        /* S3: used as sent; escapes stay, raw bytes are still encoded. */
        check_path("http://h/a%20b/./c d", false, "/a%20b/./c%20d", "");
        check_path("http://h/a/b/..", true, "/a/", "");
        check_path("http://h/..", true, "/", "");
        /* Query: empty pieces dropped, key without '=' has an empty value, duplicates sorted
         * by value, reserved characters upper-case hex, '+' is a space, %2B a plus. */
        check_path("http://h/?b=2&&a&b=1&c=%2b+x%7e&d=%zz", true, "/",
                   "a=&b=1&b=2&c=%2B%20x~&d=%25zz");
        check_path("http://h/?%E1%88%B4=%00", true, "/", "%E1%88%B4=%00");
}

static void test_headers(void **state)
{
        char *hdrs[] = {"Content-Type: application/x-amz-json-1.1",
                        "X-Amz-Target: AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint",
                        "User-Agent: Amazon ECS Agent - v1.105.1",
                        "Expect:",
                        "X-Empty;",
                        "X-Multi:  a \t  b  ",
                        NULL};
        const char *body = "{}";
        struct sigv4_params p = {.method = "POST",
                                 .url = "https://ecs.us-west-2.amazonaws.com/",
                                 .headers = hdrs,
                                 .body = body,
                                 .body_len = 2,
                                 .region = "us-west-2",
                                 .service = "ecs",
                                 .time_usec = T_2024,
                                 .normalize_path = true,
                                 .sign_body_header = true};
        _cleanup_free_ char *creq = NULL, *sh = NULL;
        _cleanup_strv_free_ char **h = NULL;
        char body_hash[65];

        sigv4_sha256_hex(body, 2, body_hash);
        assert_int_equal(sigv4_canonical_request(&p, &test_creds, &creq, &sh), 0);
        assert_string_equal(sh, "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;"
                                "x-empty;x-multi");
        assert_non_null(strstr(creq, "\nx-empty:\nx-multi:a b\n"));
        assert_string_equal(creq + strlen(creq) - 64, body_hash);

        assert_int_equal(sigv4_sign(&p, &test_creds, &h), 0);
        assert_string_equal(h[1],
                            "X-Amz-Content-Sha256: "
                            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assert_string_equal(body_hash,
                            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");

        /* Headers the signer adds itself must not be given. */
        char *dup[] = {"X-Amz-Date: 20240101T000000Z", NULL};
        char **out = NULL;
        p.headers = dup;
        assert_int_equal(sigv4_sign(&p, &test_creds, &out), -EEXIST);
        assert_null(out);
        char *bad[] = {"NoColon", NULL};
        p.headers = bad;
        assert_int_equal(sigv4_sign(&p, &test_creds, &out), -EINVAL);

        /* Missing credentials are an error, not an unsigned request. */
        struct aws_credentials none = {0};
        p.headers = NULL;
        assert_int_equal(sigv4_sign(&p, &none, &out), -EINVAL);
}

static void test_sha256_and_date(void **state)
{
        char hex[65], date[17];

        sigv4_sha256_hex("", 0, hex);
        assert_string_equal(hex, EMPTY_SHA256);
        sigv4_sha256_hex(NULL, 0, hex);
        assert_string_equal(hex, EMPTY_SHA256);
        sigv4_format_amz_date(1440938160ULL * 1000000ULL + 999999, date);
        assert_string_equal(date, "20150830T123600Z");
}

static void test_credentials_copy(void **state)
{
        struct aws_credentials c = {0}, src = test_creds;

        src.session_token = "tok";
        src.expiration_usec = 42;
        assert_int_equal(aws_credentials_copy(&src, &c), 0);
        assert_string_equal(c.access_key_id, "AKIDEXAMPLE");
        assert_string_equal(c.session_token, "tok");
        assert_int_equal(c.expiration_usec, 42);
        aws_credentials_done(&c);
        assert_null(c.access_key_id);
        assert_null(c.secret_access_key);

        src.secret_access_key = NULL;
        assert_int_equal(aws_credentials_copy(&src, &c), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_aws_vectors),
            cmocka_unit_test(test_acs_upgrade_query),
            cmocka_unit_test(test_session_token_and_host),
            cmocka_unit_test(test_host_port),
            cmocka_unit_test(test_path_and_query),
            cmocka_unit_test(test_headers),
            cmocka_unit_test(test_sha256_and_date),
            cmocka_unit_test(test_credentials_copy),
        };
        return cmocka_run_group_tests_name("test_sigv4", tests, NULL, NULL);
}
