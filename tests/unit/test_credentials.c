/* Credentials: the parsers (INI, IMDS JSON, timestamps), the refresh decisions, and the
 * asynchronous chain and IMDS client against a fake metadata server on the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecs/credentials.h"
#include "ecs/imds.h"
#include "ecs/loop.h"
#include "fake_http.h"

/* ---- pure parsers ---- */

static void test_ini_profiles(void **state)
{
        const char *ini = "# leading comment\n"
                          "; another\n"
                          "\n"
                          "[default]\n"
                          "aws_access_key_id=AKIDDEFAULT\n"
                          "aws_secret_access_key =  secretdefault  \n"
                          "\n"
                          "  [ alt ]  \r\n"
                          "\taws_access_key_id\t=\tAKIDALT\r\n"
                          "AWS_Secret_Access_Key = secret/alt+x== ; inline comment\r\n"
                          "aws_session_token = tok#en # trailing\r\n"
                          "region = us-west-2\n"
                          "[profile prof]\n"
                          "aws_access_key_id = AKIDPROF\n"
                          "aws_secret_access_key = s\n"
                          "[incomplete]\n"
                          "aws_access_key_id = AKIDONLY\n"
                          "[dup]\n"
                          "aws_access_key_id = OLD\n"
                          "aws_secret_access_key = s1\n"
                          "aws_security_token = legacy\n"
                          "aws_access_key_id = NEW\n"
                          "[broken\n"
                          "aws_access_key_id = BROKEN\n";
        struct aws_credentials c = {0};
        size_t len = strlen(ini);

        assert_int_equal(aws_shared_credentials_parse(ini, len, NULL, &c), 0);
        assert_string_equal(c.access_key_id, "AKIDDEFAULT");
        assert_string_equal(c.secret_access_key, "secretdefault");
        assert_null(c.session_token);
        assert_int_equal(c.expiration_usec, 0);
        aws_credentials_done(&c);

        assert_int_equal(aws_shared_credentials_parse(ini, len, "alt", &c), 0);
        assert_string_equal(c.access_key_id, "AKIDALT");
        assert_string_equal(c.secret_access_key, "secret/alt+x==");
        assert_string_equal(c.session_token, "tok#en");
        aws_credentials_done(&c);

        assert_int_equal(aws_shared_credentials_parse(ini, len, "dup", &c), 0);
        assert_string_equal(c.access_key_id, "NEW");
        assert_string_equal(c.session_token, "legacy");
        aws_credentials_done(&c);

        /* "[profile x]" is config-file syntax; the credentials file names profiles bare */
        assert_int_equal(aws_shared_credentials_parse(ini, len, "prof", &c), -ENOENT);
        assert_int_equal(aws_shared_credentials_parse(ini, len, "profile prof", &c), 0);
        aws_credentials_done(&c);

        assert_int_equal(aws_shared_credentials_parse(ini, len, "incomplete", &c), -ENOKEY);
        assert_int_equal(aws_shared_credentials_parse(ini, len, "missing", &c), -ENOENT);
        assert_int_equal(aws_shared_credentials_parse(ini, len, "broken", &c), -ENOENT);
        assert_null(c.access_key_id);

        assert_int_equal(aws_shared_credentials_parse("", 0, "default", &c), -ENOENT);
        /* no final newline, NUL-free slice of a longer buffer */
        const char *tail = "[default]\naws_access_key_id=A\naws_secret_access_key=B trailing";
        assert_int_equal(aws_shared_credentials_parse(tail, strlen(tail) - 9, NULL, &c), 0);
        assert_string_equal(c.secret_access_key, "B");
        aws_credentials_done(&c);
}

static void test_ini_file(void **state)
{
        char dir[] = "/tmp/test-creds-XXXXXX";
        _cleanup_free_ char *path = NULL;
        struct aws_credentials c = {0};
        FILE *f;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/credentials", dir) > 0);
        assert_int_equal(aws_shared_credentials_read(path, "default", &c), -ENOENT);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = sec\n", f);
        fclose(f);
        assert_int_equal(aws_shared_credentials_read(path, "default", &c), 0);
        assert_string_equal(c.access_key_id, "AKIDFILE");
        aws_credentials_done(&c);
        assert_int_equal(aws_shared_credentials_read(dir, "default", &c), -EBADF);
        unlink(path);
        rmdir(dir);
}

static void test_timestamp(void **state)
{
        uint64_t t = 0;

        assert_int_equal(aws_parse_timestamp("2024-01-01T06:00:00Z", &t), 0);
        assert_int_equal(t, 1704088800ULL * 1000000ULL);
        assert_int_equal(aws_parse_timestamp("2024-01-01T06:00:00.250Z", &t), 0);
        assert_int_equal(t, 1704088800ULL * 1000000ULL + 250000);
        assert_int_equal(aws_parse_timestamp("2024-01-01T08:00:00+02:00", &t), 0);
        assert_int_equal(t, 1704088800ULL * 1000000ULL);
        assert_int_equal(aws_parse_timestamp("2024-01-01T05:30:00-00:30", &t), 0);
        assert_int_equal(t, 1704088800ULL * 1000000ULL);

        const char *bad[] = {"",
                             "2024-01-01",
                             "2024-01-01T06:00:00",
                             "2024-01-01T06:00:00ZZ",
                             "2024-13-01T06:00:00Z",
                             "2024-02-30T06:00:00Z",
                             "2024-01-01T24:00:00Z",
                             "2024-01-01T06:00:00.Z",
                             "24-01-01T06:00:00Z",
                             "2024-01-01T06:00:00+0200",
                             "1969-12-31T23:59:59Z",
                             "1704088800"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                t = 7;
                if (aws_parse_timestamp(bad[i], &t) != -EINVAL) {
                        print_error("accepted '%s'\n", bad[i]);
                        fail();
                }
                assert_int_equal(t, 7);
        }
        assert_int_equal(aws_parse_timestamp(NULL, &t), -EINVAL);
}

#define GOOD_IMDS_JSON                                                                             \
        "{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","    \
        "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"imdssecret\",\"Token\":\"imdstoken\"," \
        "\"Expiration\":\"2024-01-01T06:00:00Z\"}"

static void test_imds_json(void **state)
{
        struct aws_credentials c = {0};
        const char *good = GOOD_IMDS_JSON;

        assert_int_equal(aws_imds_credentials_parse(good, strlen(good), &c), 0);
        assert_string_equal(c.access_key_id, "ASIAIMDS");
        assert_string_equal(c.secret_access_key, "imdssecret");
        assert_string_equal(c.session_token, "imdstoken");
        assert_int_equal(c.expiration_usec, 1704088800ULL * 1000000ULL);
        aws_credentials_done(&c);

        static const struct {
                const char *json;
                int error;
        } cases[] = {
            {"{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"x\"}", -EREMOTEIO},
            {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
             "\"Expiration\":\"2024-01-01T06:00:00Z\"}",
             -EREMOTEIO},
            {"{\"Code\":\"Success\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
             "\"Expiration\":\"2024-01-01T06:00:00Z\"}",
             -EBADMSG},
            {"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Expiration\":\"2024-01-01T06:00:00Z\"}",
             -EBADMSG},
            {"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\"}",
             -EBADMSG},
            {"{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":\"tomorrow\"}",
             -EBADMSG},
            {"{\"Code\":\"Success\",\"AccessKeyId\":7,\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":\"2024-01-01T06:00:00Z\"}",
             -EBADMSG},
            {"{\"Code\":\"Success\",\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":\"2024-01-01T06:00:00Z\"}",
             -EBADMSG},
            {"not json", -EBADMSG},
            {"[]", -EBADMSG},
            {"", -EBADMSG},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = aws_imds_credentials_parse(cases[i].json, strlen(cases[i].json), &c);
                if (r != cases[i].error) {
                        print_error("case %zu: got %d, want %d\n", i, r, cases[i].error);
                        fail();
                }
                assert_null(c.access_key_id);
        }
}

static void test_refresh_decisions(void **state)
{
        const uint64_t M = 60ULL * 1000000ULL, now = 1000000ULL * M;
        struct aws_credentials c = {.access_key_id = "A", .secret_access_key = "S"};

        assert_int_equal(aws_credentials_check(NULL, 0, now), AWS_CREDENTIALS_MISSING);
        struct aws_credentials empty = {0};
        assert_int_equal(aws_credentials_check(&empty, 0, now), AWS_CREDENTIALS_MISSING);

        /* long-term keys */
        assert_int_equal(aws_credentials_check(&c, 0, now), AWS_CREDENTIALS_VALID);
        assert_int_equal(aws_credentials_check(&c, now + 1, now), AWS_CREDENTIALS_VALID);
        assert_int_equal(aws_credentials_check(&c, now, now), AWS_CREDENTIALS_REFRESH_DUE);

        /* expiring: unusable in the last minute */
        c.expiration_usec = now + 6 * 60 * M;
        assert_int_equal(aws_credentials_check(&c, now + 1, now), AWS_CREDENTIALS_VALID);
        c.expiration_usec = now + M + 1;
        assert_int_equal(aws_credentials_check(&c, 0, now), AWS_CREDENTIALS_VALID);
        c.expiration_usec = now + M;
        assert_int_equal(aws_credentials_check(&c, 0, now), AWS_CREDENTIALS_EXPIRED);
        c.expiration_usec = now - 1;
        assert_int_equal(aws_credentials_check(&c, 0, now), AWS_CREDENTIALS_EXPIRED);

        /* next refresh: 10 min before expiry, but not within a minute, files every minute */
        assert_int_equal(aws_credentials_next_refresh(0, false, now), 0);
        assert_int_equal(aws_credentials_next_refresh(0, true, now), now + M);
        assert_int_equal(aws_credentials_next_refresh(now + 360 * M, false, now), now + 350 * M);
        assert_int_equal(aws_credentials_next_refresh(now + 360 * M, true, now), now + M);
        assert_int_equal(aws_credentials_next_refresh(now + 10 * M, false, now), now + M);
        assert_int_equal(aws_credentials_next_refresh(now + 11 * M, false, now), now + M);
        assert_int_equal(aws_credentials_next_refresh(now + 12 * M, false, now), now + 2 * M);
        assert_int_equal(aws_credentials_next_refresh(now - M, false, now), now + M);
        assert_int_equal(aws_credentials_next_refresh(5, false, now), now + M);
}

static void clear_env(void)
{
        const char *vars[] = {"AWS_ACCESS_KEY_ID",
                              "AWS_SECRET_ACCESS_KEY",
                              "AWS_ACCESS_KEY",
                              "AWS_SECRET_KEY",
                              "AWS_SESSION_TOKEN",
                              "AWS_PROFILE",
                              "AWS_SHARED_CREDENTIALS_FILE",
                              "AWS_EC2_METADATA_SERVICE_ENDPOINT"};
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                unsetenv(vars[i]);
        setenv("HOME", "/nonexistent-test-home", 1);
}

static void test_env(void **state)
{
        struct aws_credentials c = {0};

        clear_env();
        assert_int_equal(aws_credentials_from_env(&c), -ENOENT);
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        assert_int_equal(aws_credentials_from_env(&c), -ENOKEY);
        setenv("AWS_SECRET_KEY", "legacy", 1);
        assert_int_equal(aws_credentials_from_env(&c), 0);
        assert_string_equal(c.secret_access_key, "legacy");
        assert_null(c.session_token);
        aws_credentials_done(&c);
        setenv("AWS_SECRET_ACCESS_KEY", "sec", 1);
        setenv("AWS_SESSION_TOKEN", "tok", 1);
        assert_int_equal(aws_credentials_from_env(&c), 0);
        assert_string_equal(c.access_key_id, "AKIDENV");
        assert_string_equal(c.secret_access_key, "sec");
        assert_string_equal(c.session_token, "tok");
        aws_credentials_done(&c);
        clear_env();
}

/* ---- a fake IMDS on the loop ---- */

struct fake_req {
        char method[8];
        char path[256];
        char token[64]; /* X-aws-ec2-metadata-token */
        char ttl[16];   /* X-aws-ec2-metadata-token-ttl-seconds */
};

struct fake_imds {
        struct fake_http http;
        struct fake_req log[64];
        unsigned n;
        int token_status;      /* answer to PUT /latest/api/token */
        unsigned token_serial; /* tokens handed out: TOKEN1, TOKEN2, ... */
        unsigned accept_uses;  /* >0: a token is accepted that many times, then 401 */
        unsigned uses;
        const char *creds_json;
};

static void header_value(const char *req, const char *name, char *out, size_t outlen)
{
        const char *p = strcasestr(req, name);
        out[0] = '\0';
        if (!p)
                return;
        p += strlen(name);
        while (*p == ' ')
                p++;
        snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
}

static void fake_answer(struct fake_imds *s, const struct fake_req *q, int *status,
                        const char **body)
{
        static char token[32];
        bool tokened = false;

        if (streq(q->method, "PUT") && streq(q->path, "/latest/api/token")) {
                *status = s->token_status;
                if (*status == 200) {
                        snprintf(token, sizeof(token), "TOKEN%u\n", ++s->token_serial);
                        s->uses = 0;
                        *body = token;
                }
                return;
        }
        if (s->token_status == 200) {
                char cur[32];
                snprintf(cur, sizeof(cur), "TOKEN%u", s->token_serial);
                tokened = streq(q->token, cur) && (!s->accept_uses || s->uses++ < s->accept_uses);
                if (!tokened) {
                        *status = 401;
                        return;
                }
        }
        *status = 200;
        if (streq(q->path, "/latest/meta-data/iam/security-credentials/"))
                *body = "my-role\nsecond-role\n";
        else if (streq(q->path, "/latest/meta-data/iam/security-credentials/my-role"))
                *body = s->creds_json;
        else if (streq(q->path, "/latest/dynamic/instance-identity/document"))
                *body = "{\"region\":\"us-west-2\"}";
        else
                *status = 404;
}

static void fake_handle(void *userdata, const char *request, const char *body, int *status,
                        const char **headers, const char **body_out)
{
        struct fake_imds *s = userdata;
        struct fake_req *q = &s->log[s->n < ELEMENTSOF(s->log) ? s->n++ : s->n - 1];

        *q = (struct fake_req){0};
        sscanf(request, "%7s %255s", q->method, q->path);
        header_value(request, "X-aws-ec2-metadata-token:", q->token, sizeof(q->token));
        header_value(request, "X-aws-ec2-metadata-token-ttl-seconds:", q->ttl, sizeof(q->ttl));
        fake_answer(s, q, status, body_out);
}

static void fake_start(struct fake_imds *s, struct ecs_loop *loop)
{
        fake_http_start(&s->http, loop, fake_handle, s);
}

static void fake_stop(struct fake_imds *s)
{
        fake_http_stop(&s->http);
}

static char *fake_url(struct fake_imds *s)
{
        char *u;
        assert_true(asprintf(&u, "http://127.0.0.1:%d/", s->http.port) > 0);
        return u;
}

static unsigned fake_count(struct fake_imds *s, const char *method, const char *path)
{
        unsigned n = 0;
        for (unsigned i = 0; i < s->n; i++)
                if (streq(s->log[i].method, method) && streq(s->log[i].path, path))
                        n++;
        return n;
}

static int on_watchdog(sd_event_source *es, uint64_t usec, void *userdata)
{
        ecs_loop_exit(userdata, -ETIMEDOUT);
        return 0;
}

static void run_loop(struct ecs_loop *loop)
{
        assert_int_equal(ecs_loop_add_timer(loop, 10 * USEC_PER_SEC, on_watchdog, loop, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 0);
}

/* ---- IMDS client ---- */

struct imds_result {
        struct ecs_loop *loop;
        unsigned pending;
        int error[4];
        char body[4][256];
        unsigned n;
};

static void on_imds(int error, const char *body, size_t len, void *userdata)
{
        struct imds_result *r = userdata;
        r->error[r->n] = error;
        snprintf(r->body[r->n], sizeof(r->body[0]), "%s", body ? body : "(null)");
        r->n++;
        if (--r->pending == 0)
                ecs_loop_exit(r->loop, 0);
}

static void imds_run(struct fake_imds *s, const char **paths, size_t n, struct imds_result *res)
{
        struct ecs_loop *loop = NULL;
        struct imds_client *c = NULL;
        _cleanup_free_ char *url = NULL;

        assert_int_equal(ecs_loop_new(&loop), 0);
        fake_start(s, loop);
        url = fake_url(s);
        assert_int_equal(imds_client_new(loop, url, &c), 0);
        /* the trailing '/' is dropped */
        assert_int_equal(strlen(imds_client_endpoint(c)), strlen(url) - 1);
        assert_memory_equal(imds_client_endpoint(c), url, strlen(url) - 1);
        *res = (struct imds_result){.loop = loop, .pending = n};
        for (size_t i = 0; i < n; i++)
                assert_int_equal(imds_get(c, paths[i], on_imds, res, NULL), 0);
        assert_int_equal(res->n, 0); /* never called back from inside imds_get() */
        run_loop(loop);
        imds_client_free(c);
        fake_stop(s);
        ecs_loop_free(loop);
}

static void test_imds_v2_token_shared(void **state)
{
        struct fake_imds s = {.token_status = 200};
        struct imds_result r;
        const char *paths[] = {"/latest/dynamic/instance-identity/document",
                               "latest/dynamic/instance-identity/document",
                               "/latest/meta-data/public-ipv4"};

        imds_run(&s, paths, 3, &r);
        assert_int_equal(r.n, 3);
        unsigned ok = 0, missing = 0;
        for (unsigned i = 0; i < 3; i++) {
                if (r.error[i] == 0) {
                        assert_string_equal(r.body[i], "{\"region\":\"us-west-2\"}");
                        ok++;
                } else if (r.error[i] == -ENOENT)
                        missing++;
        }
        assert_int_equal(ok, 2);
        assert_int_equal(missing, 1);
        /* one token for all three, asked for with the 6 h TTL, and sent on every GET */
        assert_int_equal(fake_count(&s, "PUT", "/latest/api/token"), 1);
        for (unsigned i = 0; i < s.n; i++) {
                if (streq(s.log[i].method, "PUT"))
                        assert_string_equal(s.log[i].ttl, "21600");
                else
                        assert_string_equal(s.log[i].token, "TOKEN1");
        }
}

static void test_imds_v1_fallback(void **state)
{
        static const int statuses[] = {403, 404, 405};

        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                struct fake_imds s = {.token_status = statuses[i]};
                struct imds_result r;
                const char *paths[] = {"/latest/dynamic/instance-identity/document"};

                imds_run(&s, paths, 1, &r);
                assert_int_equal(r.error[0], 0);
                assert_int_equal(s.n, 2);
                assert_string_equal(s.log[1].method, "GET");
                assert_string_equal(s.log[1].token, "");
        }
}

static void test_imds_no_fallback(void **state)
{
        struct fake_imds s = {.token_status = 400};
        struct imds_result r;
        const char *paths[] = {"/latest/dynamic/instance-identity/document",
                               "/latest/meta-data/instance-id"};

        imds_run(&s, paths, 2, &r);
        assert_int_equal(r.error[0], -EIO);
        assert_int_equal(r.error[1], -EIO);
        assert_string_equal(r.body[0], "(null)");
        assert_int_equal(s.n, 1); /* no unauthenticated GET */
}

static void test_imds_token_rejected(void **state)
{
        /* IMDS forgot the token (restart): 401, new token, retried once */
        struct fake_imds s = {.token_status = 200, .accept_uses = 1};
        struct imds_result r;
        const char *paths[] = {"/latest/dynamic/instance-identity/document",
                               "/latest/dynamic/instance-identity/document"};

        imds_run(&s, paths, 2, &r);
        assert_int_equal(r.error[0], 0);
        assert_int_equal(r.error[1], 0);
        assert_int_equal(fake_count(&s, "PUT", "/latest/api/token"), 2);
}

static void test_imds_unreachable(void **state)
{
        struct ecs_loop *loop = NULL;
        struct imds_client *c = NULL;
        struct imds_result r;
        struct fake_imds s = {0};
        _cleanup_free_ char *url = NULL;

        /* a port nobody listens on: bind one, close it */
        assert_int_equal(ecs_loop_new(&loop), 0);
        fake_start(&s, loop);
        url = fake_url(&s);
        fake_stop(&s);
        assert_int_equal(imds_client_new(loop, url, &c), 0);
        r = (struct imds_result){.loop = loop, .pending = 1};
        assert_int_equal(imds_get(c, "/latest/meta-data/instance-id", on_imds, &r, NULL), 0);
        run_loop(loop);
        assert_int_equal(r.error[0], -ECONNREFUSED);
        imds_client_free(c);
        ecs_loop_free(loop);

        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://10.0.0.1:1/", 1);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(imds_client_new(loop, NULL, &c), 0);
        assert_string_equal(imds_client_endpoint(c), "http://10.0.0.1:1");
        imds_client_free(c);
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        assert_int_equal(imds_client_new(loop, NULL, &c), 0);
        assert_string_equal(imds_client_endpoint(c), IMDS_DEFAULT_ENDPOINT);
        imds_client_free(c);
        assert_int_equal(imds_client_new(loop, "169.254.169.254", &c), -EINVAL);
        ecs_loop_free(loop);
}

/* ---- the provider chain ---- */

struct cred_result {
        struct ecs_loop *loop;
        unsigned pending;
        bool in_get;
        int error[4];
        char key[4][32];
        unsigned n;
};

static void on_creds(int error, const struct aws_credentials *c, void *userdata)
{
        struct cred_result *r = userdata;

        assert_false(r->in_get);
        r->error[r->n] = error;
        snprintf(r->key[r->n], sizeof(r->key[0]), "%s", c ? c->access_key_id : "(null)");
        if (error == 0)
                assert_non_null(c->secret_access_key);
        else
                assert_null(c);
        r->n++;
        if (--r->pending == 0)
                ecs_loop_exit(r->loop, 0);
}

static char *write_file(const char *dir, const char *name, const char *content)
{
        char *path;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        return path;
}

/* Runs n concurrent get()s on a provider built from opts; returns the source. */
static char *provider_run(struct aws_credential_options *opts, struct fake_imds *s, unsigned n,
                          struct cred_result *res)
{
        struct ecs_loop *loop = NULL;
        struct aws_credential_provider *p = NULL;
        _cleanup_free_ char *url = NULL;
        char *source;

        assert_int_equal(ecs_loop_new(&loop), 0);
        if (s) {
                fake_start(s, loop);
                url = fake_url(s);
                opts->imds_endpoint = url;
        }
        assert_int_equal(aws_credential_provider_new(loop, opts, &p), 0);
        assert_null(aws_credential_provider_peek(p));
        *res = (struct cred_result){.loop = loop, .pending = n};
        for (unsigned i = 0; i < n; i++) {
                res->in_get = true;
                assert_int_equal(aws_credential_provider_get(p, on_creds, res, NULL), 0);
                res->in_get = false;
        }
        run_loop(loop);
        source = strdup(strna(aws_credential_provider_source(p)));
        if (res->error[0] == 0)
                assert_non_null(aws_credential_provider_peek(p));
        aws_credential_provider_free(p);
        if (s)
                fake_stop(s);
        ecs_loop_free(loop);
        return source;
}

static void test_provider_imds(void **state)
{
        char exp[64];
        _cleanup_free_ char *json = NULL, *source = NULL;
        struct cred_result r;
        uint64_t t = realtime_usec() / 1000000ULL + 6 * 3600;
        struct tm tm;
        time_t tt = (time_t)t;

        clear_env();
        gmtime_r(&tt, &tm);
        strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        assert_true(asprintf(&json,
                             "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAROLE\","
                             "\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"%s\"}",
                             exp) > 0);
        struct fake_imds s = {.token_status = 200, .creds_json = json};
        struct aws_credential_options o = {.rotating_file = "/nonexistent/rotating"};

        source = provider_run(&o, &s, 3, &r);
        assert_int_equal(r.n, 3);
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(r.error[i], 0);
                assert_string_equal(r.key[i], "ASIAROLE");
        }
        assert_string_equal(source, "imds:my-role");
        /* three callers, one resolution */
        assert_int_equal(fake_count(&s, "PUT", "/latest/api/token"), 1);
        assert_int_equal(fake_count(&s, "GET", "/latest/meta-data/iam/security-credentials/"), 1);
        assert_int_equal(
            fake_count(&s, "GET", "/latest/meta-data/iam/security-credentials/my-role"), 1);
}

static void test_provider_imds_expired(void **state)
{
        /* credentials expiring within the margin are still better than nothing for the
         * waiting callers, but peek() refuses them */
        struct cred_result r;
        struct fake_imds s = {.token_status = 200, .creds_json = GOOD_IMDS_JSON};
        struct aws_credential_options o = {.rotating_file = "/nonexistent/rotating"};
        struct ecs_loop *loop = NULL;
        struct aws_credential_provider *p = NULL;
        _cleanup_free_ char *url = NULL;

        clear_env();
        assert_int_equal(ecs_loop_new(&loop), 0);
        fake_start(&s, loop);
        url = fake_url(&s);
        o.imds_endpoint = url;
        assert_int_equal(aws_credential_provider_new(loop, &o, &p), 0);
        r = (struct cred_result){.loop = loop, .pending = 1};
        assert_int_equal(aws_credential_provider_get(p, on_creds, &r, NULL), 0);
        run_loop(loop);
        assert_int_equal(r.error[0], 0);
        assert_string_equal(r.key[0], "ASIAIMDS");
        assert_null(aws_credential_provider_peek(p));
        aws_credential_provider_free(p);
        fake_stop(&s);
        ecs_loop_free(loop);
}

static void test_provider_env_files(void **state)
{
        char dir[] = "/tmp/test-chain-XXXXXX";
        _cleanup_free_ char *shared = NULL, *rotating = NULL, *src = NULL, *want = NULL;
        struct cred_result r;

        clear_env();
        assert_non_null(mkdtemp(dir));
        shared = write_file(dir, "shared",
                            "[default]\naws_access_key_id=AKIDSHARED\n"
                            "aws_secret_access_key=s\n"
                            "[alt]\naws_access_key_id=AKIDSHAREDALT\n"
                            "aws_secret_access_key=s\n");
        rotating = write_file(dir, "rotating",
                              "[default]\naws_access_key_id=AKIDROTATING\n"
                              "aws_secret_access_key=s\n");
        setenv("AWS_SHARED_CREDENTIALS_FILE", shared, 1);

        /* EC2 order: shared file before the rotating one */
        struct aws_credential_options o = {.rotating_file = rotating, .imds_disabled = true};
        src = provider_run(&o, NULL, 2, &r);
        assert_int_equal(r.error[0], 0);
        assert_int_equal(r.error[1], 0);
        assert_string_equal(r.key[0], "AKIDSHARED");
        assert_true(asprintf(&want, "shared-file:%s", shared) > 0);
        assert_string_equal(src, want);
        free(src);

        /* the configured profile, overridden by AWS_PROFILE for the shared file */
        o.profile = "alt";
        src = provider_run(&o, NULL, 1, &r);
        assert_string_equal(r.key[0], "AKIDSHAREDALT");
        free(src);
        setenv("AWS_PROFILE", "default", 1);
        src = provider_run(&o, NULL, 1, &r);
        assert_string_equal(r.key[0], "AKIDSHARED");
        free(src);
        unsetenv("AWS_PROFILE");
        o.profile = NULL;

        /* external: the rotating file first */
        o.external = true;
        src = provider_run(&o, NULL, 1, &r);
        assert_string_equal(r.key[0], "AKIDROTATING");
        free(src);

        /* EC2 with no shared file: the rotating file as the last resort */
        o.external = false;
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        src = provider_run(&o, NULL, 1, &r);
        assert_string_equal(r.key[0], "AKIDROTATING");
        free(src);

        /* the environment wins over everything */
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
        o.external = true;
        src = provider_run(&o, NULL, 1, &r);
        assert_string_equal(r.key[0], "AKIDENV");
        assert_string_equal(src, "environment");
        free(src);
        src = NULL;
        clear_env();

        unlink(shared);
        unlink(rotating);
        rmdir(dir);
}

static void test_provider_none(void **state)
{
        _cleanup_free_ char *src = NULL;
        struct cred_result r;
        struct fake_imds s = {.token_status = 200, .creds_json = "{\"Code\":\"Failure\"}"};
        struct aws_credential_options o = {.rotating_file = "/nonexistent/rotating"};

        clear_env();
        src = provider_run(&o, &s, 2, &r);
        assert_int_equal(r.error[0], -ENOKEY);
        assert_int_equal(r.error[1], -ENOKEY);
        assert_string_equal(src, "n/a");
        free(src);

        o = (struct aws_credential_options){.rotating_file = "/nonexistent/rotating",
                                            .imds_disabled = true};
        src = provider_run(&o, NULL, 1, &r);
        assert_int_equal(r.error[0], -ENOKEY);
}

static void on_creds_never(int error, const struct aws_credentials *c, void *userdata)
{
        fail_msg("cancelled request called back");
}

static int on_stop(sd_event_source *es, uint64_t usec, void *userdata)
{
        ecs_loop_exit(userdata, 0);
        return 0;
}

static void test_provider_cancel(void **state)
{
        struct ecs_loop *loop = NULL;
        struct aws_credential_provider *p = NULL;
        struct aws_credential_request *req = NULL;
        struct aws_credential_options o = {.rotating_file = "/nonexistent/rotating",
                                           .imds_disabled = true};

        clear_env();
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(aws_credential_provider_new(loop, &o, &p), 0);
        assert_int_equal(aws_credential_provider_get(p, on_creds_never, NULL, &req), 0);
        assert_non_null(req);
        aws_credential_request_cancel(req);
        /* a pending request dropped by free is not called either */
        assert_int_equal(aws_credential_provider_get(p, on_creds_never, NULL, NULL), 0);
        assert_non_null(aws_credential_provider_peek(p));
        aws_credential_provider_invalidate(p);
        assert_null(aws_credential_provider_peek(p));
        assert_null(aws_credential_provider_source(p));
        aws_credential_provider_free(p);
        assert_int_equal(ecs_loop_add_timer(loop, 50 * USEC_PER_MSEC, on_stop, loop, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 0);
        ecs_loop_free(loop);
        clear_env();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ini_profiles),
            cmocka_unit_test(test_ini_file),
            cmocka_unit_test(test_timestamp),
            cmocka_unit_test(test_imds_json),
            cmocka_unit_test(test_refresh_decisions),
            cmocka_unit_test(test_env),
            cmocka_unit_test(test_imds_v2_token_shared),
            cmocka_unit_test(test_imds_v1_fallback),
            cmocka_unit_test(test_imds_no_fallback),
            cmocka_unit_test(test_imds_token_rejected),
            cmocka_unit_test(test_imds_unreachable),
            cmocka_unit_test(test_provider_imds),
            cmocka_unit_test(test_provider_imds_expired),
            cmocka_unit_test(test_provider_env_files),
            cmocka_unit_test(test_provider_none),
            cmocka_unit_test(test_provider_cancel),
        };
        return cmocka_run_group_tests_name("test_credentials", tests, NULL, NULL);
}
