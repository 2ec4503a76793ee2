/* AWS JSON 1.1 client: error code extraction and classification (tables), request
 * construction, and whole calls with retries against a scripted fake endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ecs/awsjson.h"
#include "ecs/credentials.h"
#include "ecs/jsonutil.h"
#include "ecs/loop.h"
#include "fake_http.h"

static void test_error_code_normalize(void **state)
{
        static const struct {
                const char *raw, *code;
        } cases[] = {
            {"ClientException", "ClientException"},
            {"com.amazonaws.ecs#ClientException", "ClientException"},
            {"ClientException:http://internal.amazon.com/coral/com.amazon.coral.validate/",
             "ClientException"},
            {"aws.protocoljson#ThrottlingException:http://x#y", "ThrottlingException"},
            {"  ServerException  ", "ServerException"},
            {"#", NULL},
            {":", NULL},
            {"", NULL},
            {NULL, NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *code = (char *)"sentinel";
                assert_int_equal(awsjson_error_code_normalize(cases[i].raw, &code), 0);
                if (!streq_ptr(code, cases[i].code)) {
                        print_error("'%s': got '%s' want '%s'\n", strna(cases[i].raw), strna(code),
                                    strna(cases[i].code));
                        fail();
                }
                free(code);
        }
}

static void test_parse_error(void **state)
{
        static const struct {
                const char *header, *body, *code, *message;
        } cases[] = {
            /* header wins over the body */
            {"ClientException",
             "{\"__type\":\"ServerException\",\"message\":\"Cluster not found.\"}",
             "ClientException", "Cluster not found."},
            {NULL, "{\"__type\":\"com.amazonaws.ecs#InvalidParameterException\",\"message\":\"m\"}",
             "InvalidParameterException", "m"},
            {NULL, "{\"code\":\"AccessDeniedException\",\"Message\":\"M\"}",
             "AccessDeniedException", "M"},
            /* __type before code, message before Message */
            {NULL, "{\"code\":\"B\",\"__type\":\"A\",\"Message\":\"M\",\"message\":\"m\"}", "A",
             "m"},
            {"", "{\"__type\":\"A\"}", "A", NULL},
            {"ThrottlingException:http://x", "<html>502 Bad Gateway</html>", "ThrottlingException",
             NULL},
            {NULL, "<html>502 Bad Gateway</html>", NULL, NULL},
            {NULL, "", NULL, NULL},
            {NULL, "[\"__type\"]", NULL, NULL},
            {NULL, "{\"__type\":7,\"message\":[1]}", NULL, NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *code = NULL, *message = NULL;
                const char *b = cases[i].body;
                assert_int_equal(
                    awsjson_parse_error(cases[i].header, b, strlen(b), &code, &message), 0);
                if (!streq_ptr(code, cases[i].code) || !streq_ptr(message, cases[i].message)) {
                        print_error("case %zu: got %s/%s\n", i, strna(code), strna(message));
                        fail();
                }
        }
}

static void test_classify(void **state)
{
        static const struct {
                int error;
                long status;
                const char *code;
                enum awsjson_error_class cls;
                bool retry;
        } cases[] = {
            {-ETIMEDOUT, 0, NULL, AWSJSON_ERROR_TRANSPORT, true},
            {-ECONNREFUSED, 0, NULL, AWSJSON_ERROR_TRANSPORT, true},
            {-ECONNRESET, 200, NULL, AWSJSON_ERROR_TRANSPORT, true},
            {-E2BIG, 200, NULL, AWSJSON_ERROR_TRANSPORT, false},
            {-ENOKEY, 0, NULL, AWSJSON_ERROR_TRANSPORT, false},
            {0, 200, NULL, AWSJSON_OK, false},
            {0, 204, NULL, AWSJSON_OK, false},
            {0, 400, "ThrottlingException", AWSJSON_ERROR_THROTTLING, true},
            {0, 400, "LimitExceededException", AWSJSON_ERROR_THROTTLING, true},
            {0, 400, "TooManyRequestsException", AWSJSON_ERROR_THROTTLING, true},
            {0, 503, "SlowDown", AWSJSON_ERROR_THROTTLING, true},
            {0, 400, "RequestLimitExceeded", AWSJSON_ERROR_THROTTLING, true},
            {0, 400, "EC2ThrottledException", AWSJSON_ERROR_THROTTLING, true},
            {0, 429, NULL, AWSJSON_ERROR_THROTTLING, true},
            {0, 500, "ServerException", AWSJSON_ERROR_SERVER, true},
            {0, 502, NULL, AWSJSON_ERROR_SERVER, true},
            {0, 400, "ClientException", AWSJSON_ERROR_CLIENT, false},
            {0, 400, "InvalidParameterException", AWSJSON_ERROR_CLIENT, false},
            {0, 403, "AccessDeniedException", AWSJSON_ERROR_CLIENT, false},
            {0, 400, "RequestTimeoutException", AWSJSON_ERROR_CLIENT, true},
            {0, 404, NULL, AWSJSON_ERROR_CLIENT, false},
            {0, 301, NULL, AWSJSON_ERROR_CLIENT, false},
            /* code matching is exact */
            {0, 400, "throttlingexception", AWSJSON_ERROR_CLIENT, false},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                enum awsjson_error_class c =
                    awsjson_classify(cases[i].error, cases[i].status, cases[i].code);
                bool retry =
                    c != AWSJSON_OK &&
                    awsjson_is_retryable(c, cases[i].error, cases[i].status, cases[i].code);
                if (c != cases[i].cls || retry != cases[i].retry) {
                        print_error("case %zu (%ld %s): class %s retry %d\n", i, cases[i].status,
                                    strna(cases[i].code), awsjson_error_class_to_string(c), retry);
                        fail();
                }
        }
        /* a 2xx that is not JSON is the server's fault but not retried */
        assert_false(awsjson_is_retryable(AWSJSON_ERROR_SERVER, -EBADMSG, 200, NULL));
        assert_string_equal(awsjson_error_class_to_string(AWSJSON_ERROR_CLIENT), "client");
        assert_null(awsjson_error_class_to_string(_AWSJSON_ERROR_CLASS_MAX));
}

static void test_build_request(void **state)
{
        struct aws_credentials c = {.access_key_id = "AKIDEXAMPLE",
                                    .secret_access_key = "secret",
                                    .session_token = "TOKEN"};
        const char *body = "{\"cluster\":\"default\"}";
        struct awsjson_request_params p = {
            .url = "https://ecs.us-west-2.amazonaws.com/",
            .region = "us-west-2",
            .signing_name = "ecs",
            .target = "AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint",
            .user_agent = "Amazon ECS Agent - v1.105.1 (test)",
            .body = body,
            .body_len = strlen(body),
            .time_usec = 1704067200ULL * 1000000ULL,
        };
        _cleanup_strv_free_ char **h = NULL, **expect = NULL;

        assert_int_equal(awsjson_build_request(&p, &c, &h), 0);
        assert_string_equal(h[0], "Content-Type: application/x-amz-json-1.1");
        assert_string_equal(
            h[1], "X-Amz-Target: AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint");
        assert_string_equal(h[2], "User-Agent: Amazon ECS Agent - v1.105.1 (test)");
        assert_string_equal(h[3], "X-Amz-Date: 20240101T000000Z");
        assert_string_equal(h[4], "X-Amz-Security-Token: TOKEN");
        assert_non_null(h[5]);
        assert_null(h[6]);
        assert_non_null(strstr(h[5], "Credential=AKIDEXAMPLE/20240101/us-west-2/ecs/aws4_request, "
                                     "SignedHeaders=content-type;host;x-amz-date;"
                                     "x-amz-security-token;x-amz-target, Signature="));

        /* the signature covers exactly those headers and the body */
        char *signed_hdrs[] = {h[0], h[1], NULL};
        struct sigv4_params sp = {.method = "POST",
                                  .url = p.url,
                                  .headers = signed_hdrs,
                                  .body = body,
                                  .body_len = strlen(body),
                                  .region = "us-west-2",
                                  .service = "ecs",
                                  .time_usec = p.time_usec,
                                  .normalize_path = true};
        assert_int_equal(sigv4_sign(&sp, &c, &expect), 0);
        assert_string_equal(expect[2], h[5]);
        sp.body_len--;
        strv_free(expect);
        expect = NULL;
        assert_int_equal(sigv4_sign(&sp, &c, &expect), 0);
        assert_string_not_equal(expect[2], h[5]);

        strv_free(h);
        h = NULL;
        p.user_agent = NULL;
        c.session_token = NULL;
        assert_int_equal(awsjson_build_request(&p, &c, &h), 0);
        assert_string_equal(h[2], "X-Amz-Date: 20240101T000000Z");
        assert_non_null(strstr(h[3], "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
        assert_null(h[4]);

        char **none = NULL;
        p.target = "";
        assert_int_equal(awsjson_build_request(&p, &c, &none), -EINVAL);
        assert_null(none);
}

static void test_state_change_delay(void **state)
{
        for (unsigned a = 1; a <= 13; a++)
                for (int i = 0; i < 20; i++) {
                        uint64_t d = awsjson_retry_delay_state_change(a, NULL);
                        assert_true(d >= (1ULL << a) * 30 * USEC_PER_MSEC);
                        assert_true(d < (1ULL << a) * 60 * USEC_PER_MSEC);
                }
        assert_int_equal(awsjson_retry_delay_state_change(14, NULL), 5 * USEC_PER_MINUTE);
        assert_int_equal(awsjson_retry_delay_state_change(297, NULL), 5 * USEC_PER_MINUTE);
}

/* ---- a scripted fake endpoint ---- */

struct answer {
        int status;
        const char *headers; /* extra header lines, each ending in \r\n */
        const char *body;
};

struct seen {
        char method[8];
        char path[64];
        char head[2048];
        char body[512];
};

struct fake {
        struct fake_http http;
        const struct answer *script;
        size_t n_script;
        struct seen seen[8];
        unsigned n;
};

/* Records the request and answers with the next step of the script (500 past its end). */
static void fake_handle(void *userdata, const char *request, const char *body, int *status,
                        const char **headers, const char **body_out)
{
        struct fake *s = userdata;
        struct seen *q = &s->seen[s->n < ELEMENTSOF(s->seen) ? s->n : 0];
        static const struct answer fallback = {500, NULL, ""};
        const struct answer *a = s->n < s->n_script ? &s->script[s->n] : &fallback;

        *q = (struct seen){0};
        sscanf(request, "%7s %63s", q->method, q->path);
        snprintf(q->head, sizeof(q->head), "%.*s", (int)(body - 2 - request), request);
        snprintf(q->body, sizeof(q->body), "%s", body);
        s->n++;
        *status = a->status;
        *headers = a->headers;
        *body_out = a->body;
}

static void fake_start(struct fake *s, struct ecs_loop *loop)
{
        fake_http_start(&s->http, loop, fake_handle, s);
}

static void fake_stop(struct fake *s)
{
        fake_http_stop(&s->http);
}

/* ---- whole calls ---- */

struct outcome {
        struct ecs_loop *loop;
        bool done;
        enum awsjson_error_class cls;
        int error;
        long status;
        char code[64], message[64], response[256], request_id[64];
        unsigned attempts;
};

/* Per-call credentials for the next run_call(), NULL: the provider's. */
static const struct aws_credentials *call_creds;

static void on_done(const struct awsjson_result *res, void *userdata)
{
        struct outcome *o = userdata;

        assert_false(o->done);
        o->done = true;
        o->cls = res->error_class;
        o->error = res->error;
        o->status = res->status;
        o->attempts = res->attempts;
        snprintf(o->code, sizeof(o->code), "%s", strna(res->code));
        snprintf(o->message, sizeof(o->message), "%s", strna(res->message));
        snprintf(o->request_id, sizeof(o->request_id), "%s", strna(res->request_id));
        snprintf(o->response, sizeof(o->response), "%s",
                 res->response
                     ? json_object_to_json_string_ext(res->response, JSON_C_TO_STRING_PLAIN)
                     : "(null)");
        assert_true(res->error_class == AWSJSON_OK ? res->error == 0 && res->response
                                                   : res->error < 0 && !res->response);
        ecs_loop_exit(o->loop, 0);
}

static int on_watchdog(sd_event_source *es, uint64_t usec, void *userdata)
{
        ecs_loop_exit(userdata, -ETIMEDOUT);
        return 0;
}

static const struct backoff fast = BACKOFF_INIT(1000, 2000, 2.0, 0.0);

/* Runs one call against the script; dead = the endpoint's port no longer listens. */
static void run_call(const struct answer *script, size_t n, bool with_creds, bool dead,
                     struct fake *srv, struct outcome *o)
{
        struct ecs_loop *loop = NULL;
        struct aws_credential_provider *p = NULL;
        struct awsjson_client *c = NULL;
        struct aws_credential_options co = {.rotating_file = "/nonexistent/rotating",
                                            .imds_disabled = true};
        struct awsjson_call_opts opts = {.backoff = &fast, .credentials = call_creds};
        _cleanup_json_ json_object *body = json_object_new_object();
        _cleanup_free_ char *url = NULL;

        unsetenv("AWS_PROFILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        setenv("HOME", "/nonexistent-test-home", 1);
        if (with_creds) {
                setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
                setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
        } else {
                unsetenv("AWS_ACCESS_KEY_ID");
                unsetenv("AWS_SECRET_ACCESS_KEY");
        }
        json_add_string(body, "cluster", "default");

        assert_int_equal(ecs_loop_new(&loop), 0);
        *srv = (struct fake){.script = script, .n_script = n};
        fake_start(srv, loop);
        assert_true(asprintf(&url, "http://127.0.0.1:%d", srv->http.port) > 0);
        if (dead)
                fake_stop(srv);
        assert_int_equal(aws_credential_provider_new(loop, &co, &p), 0);
        struct awsjson_client_options copts = {.endpoint = url,
                                               .region = "us-west-2",
                                               .signing_name = "ecs",
                                               .user_agent = "test-agent"};
        assert_int_equal(awsjson_client_new(loop, p, &copts, &c), 0);
        *o = (struct outcome){.loop = loop};
        assert_int_equal(awsjson_call(c, "AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint",
                                      body, &opts, on_done, o, NULL),
                         0);
        assert_false(o->done);
        assert_int_equal(ecs_loop_add_timer(loop, 10 * USEC_PER_SEC, on_watchdog, loop, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 0);
        assert_true(o->done);
        awsjson_client_free(c);
        aws_credential_provider_free(p);
        if (!dead)
                fake_stop(srv);
        ecs_loop_free(loop);
}

static void test_call_retries_then_succeeds(void **state)
{
        const struct answer script[] = {
            {500, NULL, "{\"__type\":\"ServerException\",\"message\":\"boom\"}"},
            {400, "X-Amzn-ErrorType: ThrottlingException:http://x\r\n",
             "{\"message\":\"Rate exceeded\"}"},
            {200, NULL, "{\"endpoint\":\"https://ecs-a-1\"}"},
        };
        struct fake s;
        struct outcome o;

        run_call(script, ELEMENTSOF(script), true, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_OK);
        assert_int_equal(o.attempts, 3);
        assert_int_equal(o.status, 200);
        assert_string_equal(o.response, "{\"endpoint\":\"https:\\/\\/ecs-a-1\"}");
        assert_int_equal(s.n, 3);
        for (unsigned i = 0; i < s.n; i++) {
                struct seen *q = &s.seen[i];
                assert_string_equal(q->method, "POST");
                assert_string_equal(q->path, "/");
                assert_string_equal(q->body, "{\"cluster\":\"default\"}");
                assert_non_null(
                    strstr(q->head, "\r\nContent-Type: application/x-amz-json-1.1\r\n"));
                assert_non_null(strstr(q->head, "\r\nX-Amz-Target: "
                                                "AmazonEC2ContainerServiceV20141113."
                                                "DiscoverPollEndpoint\r\n"));
                assert_non_null(strstr(q->head, "\r\nUser-Agent: test-agent\r\n"));
                assert_non_null(strstr(q->head, "\r\nAuthorization: AWS4-HMAC-SHA256 "
                                                "Credential=AKIDTEST/"));
                assert_non_null(strstr(q->head, "/us-west-2/ecs/aws4_request, SignedHeaders="
                                                "content-type;host;x-amz-date;x-amz-target, "));
                assert_non_null(strstr(q->head, "\r\nX-Amz-Date: "));
                assert_null(strstr(q->head, "X-Amz-Security-Token"));
                assert_null(strstr(q->head, "Expect:"));
        }
}

/* A call on a task's behalf: signed with the credentials it was given, not the provider's
 * (which has none here), session token included; the server's request ID comes back. */
static void test_call_own_credentials(void **state)
{
        const struct answer script[] = {
            {200, "x-amzn-RequestId: rid-42\r\n", "{\"protectedTasks\":[]}"},
        };
        const struct aws_credentials task = {
            .access_key_id = (char *)"ASIATASK",
            .secret_access_key = (char *)"task-secret",
            .session_token = (char *)"task-token",
        };
        struct fake s;
        struct outcome o;

        call_creds = &task;
        run_call(script, ELEMENTSOF(script), false, false, &s, &o);
        call_creds = NULL;
        assert_int_equal(o.cls, AWSJSON_OK);
        assert_int_equal(s.n, 1);
        assert_non_null(strstr(s.seen[0].head, "Credential=ASIATASK/"));
        assert_non_null(strstr(s.seen[0].head, "\r\nX-Amz-Security-Token: task-token\r\n"));
        assert_string_equal(o.request_id, "rid-42");
}

static void test_call_client_error(void **state)
{
        const struct answer script[] = {
            {400, "X-Amzn-ErrorType: ClientException\r\n",
             "{\"__type\":\"ClientException\",\"message\":\"Cluster not found.\"}"},
        };
        struct fake s;
        struct outcome o;

        run_call(script, ELEMENTSOF(script), true, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_ERROR_CLIENT);
        assert_int_equal(o.error, -EREMOTEIO);
        assert_int_equal(o.status, 400);
        assert_string_equal(o.code, "ClientException");
        assert_string_equal(o.message, "Cluster not found.");
        assert_int_equal(o.attempts, 1);
        assert_int_equal(s.n, 1);
}

static void test_call_exhausted(void **state)
{
        const struct answer script[] = {
            {503, NULL, "<html>unavailable</html>"},
            {503, NULL, "<html>unavailable</html>"},
            {503, NULL, "<html>unavailable</html>"},
            {200, NULL, "{}"},
        };
        struct fake s;
        struct outcome o;

        run_call(script, ELEMENTSOF(script), true, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_ERROR_SERVER);
        assert_int_equal(o.status, 503);
        assert_string_equal(o.code, "n/a");
        assert_int_equal(o.attempts, 3);
        assert_int_equal(s.n, 3);
}

static void test_call_bad_body(void **state)
{
        const struct answer bad[] = {{200, NULL, "not json"}};
        const struct answer empty[] = {{200, NULL, ""}};
        struct fake s;
        struct outcome o;

        run_call(bad, 1, true, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_ERROR_SERVER);
        assert_int_equal(o.error, -EBADMSG);
        assert_int_equal(o.attempts, 1);

        run_call(empty, 1, true, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_OK);
        assert_string_equal(o.response, "{}");
}

static void test_call_no_credentials(void **state)
{
        struct fake s;
        struct outcome o;

        run_call(NULL, 0, false, false, &s, &o);
        assert_int_equal(o.cls, AWSJSON_ERROR_TRANSPORT);
        assert_int_equal(o.error, -ENOKEY);
        assert_int_equal(o.attempts, 1);
        assert_int_equal(s.n, 0);
}

static void test_call_unreachable(void **state)
{
        struct fake s;
        struct outcome o;

        run_call(NULL, 0, true, true, &s, &o);
        assert_int_equal(o.cls, AWSJSON_ERROR_TRANSPORT);
        assert_int_equal(o.error, -ECONNREFUSED);
        assert_int_equal(o.attempts, 3);
}

static void on_done_never(const struct awsjson_result *res, void *userdata)
{
        fail_msg("cancelled call called back");
}

static int on_stop(sd_event_source *es, uint64_t usec, void *userdata)
{
        ecs_loop_exit(userdata, 0);
        return 0;
}

static void test_call_cancel(void **state)
{
        struct ecs_loop *loop = NULL;
        struct aws_credential_provider *p = NULL;
        struct awsjson_client *c = NULL;
        struct awsjson_call *call = NULL;
        struct aws_credential_options co = {.rotating_file = "/nonexistent/rotating",
                                            .imds_disabled = true};
        struct awsjson_client_options copts = {
            .endpoint = "127.0.0.1:9", .region = "us-west-2", .signing_name = "ecs"};

        setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(aws_credential_provider_new(loop, &co, &p), 0);
        assert_int_equal(awsjson_client_new(loop, p, &copts, &c), 0);

        /* cancelled while waiting for credentials */
        assert_int_equal(awsjson_call(c, "X.Y", NULL, NULL, on_done_never, NULL, &call), 0);
        assert_non_null(call);
        awsjson_call_cancel(call);
        /* in flight when the client goes away */
        assert_int_equal(awsjson_call(c, "X.Y", NULL, NULL, on_done_never, NULL, NULL), 0);
        assert_int_equal(awsjson_call(c, "", NULL, NULL, on_done_never, NULL, NULL), -EINVAL);
        assert_int_equal(ecs_loop_add_timer(loop, 100 * USEC_PER_MSEC, on_stop, loop, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 0);
        awsjson_client_free(c);

        struct awsjson_client_options bad = {.endpoint = "", .region = "r", .signing_name = "s"};
        assert_int_equal(awsjson_client_new(loop, p, &bad, &c), -EINVAL);
        aws_credential_provider_free(p);
        ecs_loop_free(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error_code_normalize),
            cmocka_unit_test(test_parse_error),
            cmocka_unit_test(test_classify),
            cmocka_unit_test(test_build_request),
            cmocka_unit_test(test_state_change_delay),
            cmocka_unit_test(test_call_retries_then_succeeds),
            cmocka_unit_test(test_call_own_credentials),
            cmocka_unit_test(test_call_client_error),
            cmocka_unit_test(test_call_exhausted),
            cmocka_unit_test(test_call_bad_body),
            cmocka_unit_test(test_call_no_credentials),
            cmocka_unit_test(test_call_unreachable),
            cmocka_unit_test(test_call_cancel),
        };
        return cmocka_run_group_tests_name("test_awsjson", tests, NULL, NULL);
}
