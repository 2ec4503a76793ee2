/* AWS JSON 1.1 calls: credentials -> sign -> POST -> classify -> maybe back off and retry.
 * Each attempt is signed afresh, so a retry after a credential refresh or a long backoff
 * never carries a stale signature. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/awsjson.h"
#include "ecs/credentials.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"

struct awsjson_client {
        struct ecs_loop *loop;
        struct aws_credential_provider *creds;
        char *url;
        char *region;
        char *signing_name;
        char *user_agent;
        struct awsjson_call *calls;
};

struct awsjson_call {
        struct awsjson_client *client;
        struct awsjson_call *next, *prev;
        char *target;
        char *body;
        size_t body_len;
        uint64_t timeout_usec;
        unsigned max_attempts;
        struct backoff backoff;
        awsjson_retry_delay_fn retry_delay;
        void *retry_userdata;
        unsigned attempt;
        awsjson_done_fn cb;
        void *userdata;
        struct aws_credential_request *cred_req;
        struct aws_credentials own_creds; /* access_key_id NULL: the client's provider */
        struct ecs_http_call *http;
        sd_event_source *timer;
};

static const char *const error_class_table[_AWSJSON_ERROR_CLASS_MAX] = {
    [AWSJSON_OK] = "ok",
    [AWSJSON_ERROR_TRANSPORT] = "transport",
    [AWSJSON_ERROR_THROTTLING] = "throttling",
    [AWSJSON_ERROR_SERVER] = "server",
    [AWSJSON_ERROR_CLIENT] = "client",
};

const char *awsjson_error_class_to_string(enum awsjson_error_class c)
{
        if ((unsigned)c >= _AWSJSON_ERROR_CLASS_MAX)
                return NULL;
        return error_class_table[c];
}

/* ---- pure parts ---- */

int awsjson_error_code_normalize(const char *raw, char **ret)
{
        const char *s, *e, *hash;
        char *code = NULL;

        if (raw) {
                /* as the SDK's SanitizeErrorCode: cut at the first ':', then keep what follows
                 * the first '#' */
                s = raw;
                e = s + strcspn(s, ":");
                hash = memchr(s, '#', e - s);
                if (hash)
                        s = hash + 1;
                while (s < e && isspace((unsigned char)*s))
                        s++;
                while (e > s && isspace((unsigned char)e[-1]))
                        e--;
                if (s < e) {
                        code = strndup(s, e - s);
                        if (!code)
                                return -ENOMEM;
                }
        }
        *ret = code;
        return 0;
}

int awsjson_parse_error(const char *error_type_header, const char *body, size_t body_len,
                        char **ret_code, char **ret_message)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL;
        const char *raw = NULL, *msg = NULL;

        if (body && body_len > 0 && json_parse(body, body_len, &o) >= 0 &&
            json_object_is_type(o, json_type_object)) {
                raw = json_get_string(o, "__type", NULL);
                if (!raw)
                        raw = json_get_string(o, "code", NULL);
                msg = json_get_string(o, "message", NULL);
                if (!msg)
                        msg = json_get_string(o, "Message", NULL);
        }
        if (!isempty(error_type_header))
                raw = error_type_header;
        if (awsjson_error_code_normalize(raw, &code) < 0)
                return -ENOMEM;
        if (msg) {
                message = strdup(msg);
                if (!message)
                        return -ENOMEM;
        }
        *ret_code = TAKE_PTR(code);
        *ret_message = TAKE_PTR(message);
        return 0;
}

bool awsjson_is_throttling_code(const char *code)
{
        /* the SDKs' throttling list (aws-sdk-go-v2 retry, smithy error classification) */
        static const char *const codes[] = {
            "ThrottlingException",
            "Throttling",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "TransactionInProgressException",
            "RequestLimitExceeded",
            "BandwidthLimitExceeded",
            "LimitExceededException",
            "RequestThrottled",
            "SlowDown",
            "PriorRequestNotComplete",
            "EC2ThrottledException",
        };
        if (!code)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                if (streq(code, codes[i]))
                        return true;
        return false;
}

static bool is_transient_code(const char *code)
{
        return code && (streq(code, "RequestTimeout") || streq(code, "RequestTimeoutException"));
}

enum awsjson_error_class awsjson_classify(int transport_error, long status, const char *code)
{
        if (transport_error < 0 || status <= 0)
                return AWSJSON_ERROR_TRANSPORT;
        if (status >= 200 && status < 300)
                return AWSJSON_OK;
        if (awsjson_is_throttling_code(code) || status == 429)
                return AWSJSON_ERROR_THROTTLING;
        if (status >= 500)
                return AWSJSON_ERROR_SERVER;
        return AWSJSON_ERROR_CLIENT;
}

bool awsjson_is_retryable(enum awsjson_error_class cls, int error, long status, const char *code)
{
        switch (cls) {
        case AWSJSON_ERROR_TRANSPORT:
                /* local failures would fail the same way again; a missing credential is
                 * retried by the caller's own loop once some source has them */
                return error != -ENOMEM && error != -EINVAL && error != -ENOKEY && error != -E2BIG;
        case AWSJSON_ERROR_THROTTLING:
                return true;
        case AWSJSON_ERROR_SERVER:
                /* not a 2xx with a broken body: the operation may well have happened */
                return status >= 500;
        case AWSJSON_ERROR_CLIENT:
                return is_transient_code(code);
        default:
                return false;
        }
}

int awsjson_build_request(const struct awsjson_request_params *p, const struct aws_credentials *c,
                          char ***ret_headers)
{
        _cleanup_strv_free_ char **base = NULL, **sig = NULL;
        char **all;
        size_t n = 0, m = 0;
        int r;

        if (!p->url || isempty(p->target) || !c)
                return -EINVAL;
        base = calloc(4, sizeof(char *));
        if (!base)
                return -ENOMEM;
        r = asprintf(&base[n], "Content-Type: %s", AWSJSON_CONTENT_TYPE);
        if (r >= 0)
                r = asprintf(&base[++n], "X-Amz-Target: %s", p->target);
        if (r >= 0 && p->user_agent)
                r = asprintf(&base[++n], "User-Agent: %s", p->user_agent);
        if (r < 0) {
                base[n] = NULL; /* asprintf() leaves it undefined on failure */
                return -ENOMEM;
        }
        n++;

        struct sigv4_params sp = {
            .method = "POST",
            .url = p->url,
            .headers = base,
            .body = p->body,
            .body_len = p->body_len,
            .region = p->region,
            .service = p->signing_name,
            .time_usec = p->time_usec,
            .normalize_path = true,
        };
        r = sigv4_sign(&sp, c, &sig);
        if (r < 0)
                return r;

        while (sig[m])
                m++;
        all = calloc(n + m + 1, sizeof(char *));
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                all[i] = TAKE_PTR(base[i]);
        for (size_t i = 0; i < m; i++)
                all[n + i] = TAKE_PTR(sig[i]);
        *ret_headers = all;
        return 0;
}

uint64_t awsjson_retry_delay_state_change(unsigned attempt, void *userdata)
{
        if (attempt >= 1 && attempt <= 13)
                return (1ULL << attempt) * (30 + random_u64_below(30)) * USEC_PER_MSEC;
        return 5 * USEC_PER_MINUTE;
}

/* ---- the client ---- */

int awsjson_client_new(struct ecs_loop *loop, struct aws_credential_provider *creds,
                       const struct awsjson_client_options *opts, struct awsjson_client **ret)
{
        struct awsjson_client *c;
        const char *ep;
        size_t l;
        int r;

        if (!loop || !creds || !opts || isempty(opts->endpoint) || isempty(opts->region) ||
            isempty(opts->signing_name))
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->creds = creds;
        ep = opts->endpoint;
        l = strlen(ep);
        /* POST goes to the endpoint's path, "/" when it has none */
        const char *auth = strstr(ep, "://");
        bool has_path = auth && strchr(auth + 3, '/');
        r = asprintf(&c->url, "%s%s%s", auth ? "" : "https://", ep,
                     has_path || (l > 0 && ep[l - 1] == '/') ? "" : "/");
        if (r < 0) {
                c->url = NULL;
                goto oom;
        }
        c->region = strdup(opts->region);
        c->signing_name = strdup(opts->signing_name);
        c->user_agent = opts->user_agent ? strdup(opts->user_agent) : NULL;
        if (!c->region || !c->signing_name || (opts->user_agent && !c->user_agent))
                goto oom;
        *ret = c;
        return 0;
oom:
        awsjson_client_free(c);
        return -ENOMEM;
}

static void call_free(struct awsjson_call *call)
{
        struct awsjson_client *c = call->client;

        if (call->prev)
                call->prev->next = call->next;
        else if (c->calls == call)
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        aws_credential_request_cancel(call->cred_req);
        ecs_http_call_cancel(call->http);
        sd_event_source_disable_unref(call->timer);
        aws_credentials_done(&call->own_creds);
        free(call->target);
        free(call->body);
        free(call);
}

void awsjson_call_cancel(struct awsjson_call *call)
{
        if (call)
                call_free(call);
}

struct awsjson_client *awsjson_client_free(struct awsjson_client *c)
{
        if (!c)
                return NULL;
        while (c->calls)
                call_free(c->calls);
        free(c->url);
        free(c->region);
        free(c->signing_name);
        free(c->user_agent);
        free(c);
        return NULL;
}

/* The call is gone before the callback runs: the callback may free anything. */
static void call_finish(struct awsjson_call *call, const struct awsjson_result *res)
{
        awsjson_done_fn cb = call->cb;
        void *ud = call->userdata;

        call_free(call);
        cb(res, ud);
}

static int attempt_start(struct awsjson_call *call);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct awsjson_call *call = userdata;
        int r;

        call->timer = sd_event_source_disable_unref(call->timer);
        r = attempt_start(call);
        if (r < 0) {
                struct awsjson_result res = {
                    .error_class = AWSJSON_ERROR_TRANSPORT, .error = r, .attempts = call->attempt};
                call_finish(call, &res);
        }
        return 0;
}

/* Finishes the call with res, or schedules the next attempt when the failure is worth one. */
static void attempt_done(struct awsjson_call *call, struct awsjson_result *res)
{
        uint64_t delay;
        int r;

        res->attempts = call->attempt;
        if (res->error_class == AWSJSON_OK || call->attempt >= call->max_attempts ||
            !awsjson_is_retryable(res->error_class, res->error, res->status, res->code)) {
                call_finish(call, res);
                return;
        }
        delay = call->retry_delay ? call->retry_delay(call->attempt, call->retry_userdata)
                                  : backoff_next(&call->backoff);
        log_debug("%s attempt %u failed (%s, status %ld, %s), retrying in %llu ms", call->target,
                  call->attempt, awsjson_error_class_to_string(res->error_class), res->status,
                  res->code ? res->code : "no code", (unsigned long long)(delay / USEC_PER_MSEC));
        r = ecs_loop_add_timer(call->client->loop, delay, on_retry_timer, call, &call->timer);
        if (r < 0)
                call_finish(call, res);
}

static void on_http_done(const struct ecs_http_response *resp, void *userdata)
{
        struct awsjson_call *call = userdata;
        _cleanup_json_ json_object *body = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL;
        struct awsjson_result res = {.status = resp->status};
        int r;

        call->http = NULL; /* loop.c frees the transfer after this callback */

        if (resp->error < 0) {
                res.error_class = AWSJSON_ERROR_TRANSPORT;
                res.error = resp->error;
                /* what failed, where and why: the caller's log line needs it */
                if (resp->error_text)
                        message = strdup(resp->error_text);
                res.message = message;
        } else if (resp->status >= 200 && resp->status < 300) {
                size_t l = resp->body_len;
                while (l > 0 && isspace((unsigned char)resp->body[l - 1]))
                        l--;
                /* an empty body reads as {} (output-less operations) */
                r = l == 0 ? ((body = json_object_new_object()) ? 0 : -ENOMEM)
                           : json_parse(resp->body, resp->body_len, &body);
                if (r >= 0 && !json_object_is_type(body, json_type_object))
                        r = -EBADMSG;
                if (r < 0) {
                        res.error_class =
                            r == -ENOMEM ? AWSJSON_ERROR_TRANSPORT : AWSJSON_ERROR_SERVER;
                        res.error = r;
                } else {
                        res.error_class = AWSJSON_OK;
                        res.response = body;
                }
        } else {
                r = awsjson_parse_error(ecs_http_response_header(resp, "X-Amzn-ErrorType"),
                                        resp->body, resp->body_len, &code, &message);
                res.error = r < 0 ? r : -EREMOTEIO;
                res.code = code;
                res.message = message;
                res.error_class = awsjson_classify(0, resp->status, code);
        }
        res.request_id = ecs_http_response_header(resp, "x-amzn-RequestId");
        attempt_done(call, &res);
}

static void on_credentials(int error, const struct aws_credentials *creds, void *userdata)
{
        struct awsjson_call *call = userdata;
        struct awsjson_client *c = call->client;
        _cleanup_strv_free_ char **headers = NULL;
        struct awsjson_result res = {.error_class = AWSJSON_ERROR_TRANSPORT};
        int r = error;

        call->cred_req = NULL;
        if (r >= 0) {
                struct awsjson_request_params p = {
                    .url = c->url,
                    .region = c->region,
                    .signing_name = c->signing_name,
                    .target = call->target,
                    .user_agent = c->user_agent,
                    .body = call->body,
                    .body_len = call->body_len,
                    .time_usec = realtime_usec(),
                };
                r = awsjson_build_request(&p, creds, &headers);
        }
        if (r >= 0) {
                struct ecs_http_request req = {
                    .method = "POST",
                    .url = c->url,
                    .headers = headers,
                    .body = call->body,
                    .body_len = call->body_len,
                    .timeout_usec = call->timeout_usec,
                    .max_response = AWSJSON_MAX_RESPONSE,
                };
                r = ecs_http_start(c->loop, &req, on_http_done, call, &call->http);
        }
        /* the signature and the session token stay out of freed memory */
        strv_foreach (h, headers) {
                explicit_bzero(*h, strlen(*h));
        }
        if (r >= 0)
                return;
        res.error = r;
        attempt_done(call, &res);
}

static int on_own_credentials(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct awsjson_call *call = userdata;

        call->timer = sd_event_source_disable_unref(call->timer);
        on_credentials(0, &call->own_creds, call);
        return 0;
}

static int attempt_start(struct awsjson_call *call)
{
        call->attempt++;
        if (call->own_creds.access_key_id) /* from the loop, as the provider would */
                return ecs_loop_add_timer(call->client->loop, 0, on_own_credentials, call,
                                          &call->timer);
        return aws_credential_provider_get(call->client->creds, on_credentials, call,
                                           &call->cred_req);
}

int awsjson_call(struct awsjson_client *c, const char *target, json_object *body,
                 const struct awsjson_call_opts *opts, awsjson_done_fn cb, void *userdata,
                 struct awsjson_call **ret)
{
        static const struct awsjson_call_opts defaults = {0};
        struct awsjson_call *call;
        const char *json;
        int r;

        if (!c || isempty(target) || !cb)
                return -EINVAL;
        if (!opts)
                opts = &defaults;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        call->client = c;
        call->cb = cb;
        call->userdata = userdata;
        call->timeout_usec = opts->timeout_usec ? opts->timeout_usec : AWSJSON_DEFAULT_TIMEOUT_USEC;
        call->max_attempts = opts->max_attempts ? opts->max_attempts : AWSJSON_DEFAULT_MAX_ATTEMPTS;
        call->backoff = opts->backoff
                            ? *opts->backoff
                            : BACKOFF_INIT(500 * USEC_PER_MSEC, 20 * USEC_PER_SEC, 2.0, 1.0);
        backoff_reset(&call->backoff);
        call->retry_delay = opts->retry_delay;
        call->retry_userdata = opts->retry_userdata;
        json = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "{}";
        call->target = strdup(target);
        call->body = json ? strdup(json) : NULL;
        if (!call->target || !call->body) {
                free(call->target);
                free(call->body);
                free(call);
                return -ENOMEM;
        }
        call->body_len = strlen(call->body);
        if (opts->credentials) {
                r = aws_credentials_copy(opts->credentials, &call->own_creds);
                if (r < 0) {
                        free(call->target);
                        free(call->body);
                        free(call);
                        return r;
                }
        }

        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;

        /* get() never calls back from inside itself, so nothing can finish this call before
         * it is returned */
        r = attempt_start(call);
        if (r < 0) {
                call_free(call);
                return r;
        }
        if (ret)
                *ret = call;
        return 0;
}
