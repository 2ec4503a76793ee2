/* AWS JSON 1.1 client (ECS, ECR, SSM, Secrets Manager): POST / with X-Amz-Target, SigV4
 * signed with the agent's credentials, errors classified and retried the way the SDK's
 * standard retryer does. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/backoff.h"
#include "ecs/sigv4.h"

struct ecs_loop;
struct aws_credential_provider;
struct awsjson_client;
struct awsjson_call;

/* Whole round trip of one attempt, as the official agent's HTTP client: dial 30 s + TLS
 * handshake 10 s + 2 s. */
#define AWSJSON_DEFAULT_TIMEOUT_USEC (42ULL * 1000000ULL)
#define AWSJSON_DEFAULT_MAX_ATTEMPTS 3
#define AWSJSON_MAX_RESPONSE         (8u * 1024 * 1024)
#define AWSJSON_CONTENT_TYPE         "application/x-amz-json-1.1"

enum awsjson_error_class {
        AWSJSON_OK,
        AWSJSON_ERROR_TRANSPORT,  /* no HTTP answer: connect, TLS, timeout, no credentials */
        AWSJSON_ERROR_THROTTLING, /* a throttling code, or HTTP 429 */
        AWSJSON_ERROR_SERVER,     /* HTTP 5xx, or a 2xx body that is not JSON */
        AWSJSON_ERROR_CLIENT,     /* any other 3xx/4xx: the request itself was refused */
        _AWSJSON_ERROR_CLASS_MAX,
};

const char *awsjson_error_class_to_string(enum awsjson_error_class c);

struct awsjson_client_options {
        const char *endpoint; /* "https://ecs.us-west-2.amazonaws.com"; https:// is
                               * assumed without a scheme */
        const char *region;
        const char *signing_name; /* "ecs", "ecr", "ssm", "secretsmanager" */
        const char *user_agent;   /* NULL = none sent */
};

int awsjson_client_new(struct ecs_loop *loop, struct aws_credential_provider *creds,
                       const struct awsjson_client_options *opts, struct awsjson_client **ret);
/* Cancels every call in flight without calling back. Safe inside a callback. */
struct awsjson_client *awsjson_client_free(struct awsjson_client *c);

struct awsjson_result {
        enum awsjson_error_class error_class;
        int error;              /* 0, or -ETIMEDOUT/-ECONNREFUSED/... (transport), -ENOKEY (no
                                 * credentials), -EBADMSG (2xx body not JSON), -EREMOTEIO (an AWS
                                 * error: see code and message) */
        long status;            /* HTTP status of the last attempt, 0 without one */
        const char *code;       /* AWS error code, e.g. "ClientException"; NULL when none */
        const char *message;    /* AWS error message; NULL when none */
        json_object *response;  /* parsed body when ok (an empty body reads as {}); borrowed:
                                 * json_object_get() it to keep it */
        const char *request_id; /* the server's x-amzn-RequestId; NULL when none */
        unsigned attempts;
};

/* Delay before attempt `attempt` + 1 (attempt >= 1 failed ones so far). */
typedef uint64_t (*awsjson_retry_delay_fn)(unsigned attempt, void *userdata);

struct awsjson_call_opts {
        uint64_t timeout_usec;              /* per attempt; 0 = AWSJSON_DEFAULT_TIMEOUT_USEC */
        unsigned max_attempts;              /* 0 = AWSJSON_DEFAULT_MAX_ATTEMPTS; 1 = no retries */
        const struct backoff *backoff;      /* template, copied; NULL = 0.5 s doubling to 20 s,
                                             * up to +100 % jitter */
        awsjson_retry_delay_fn retry_delay; /* overrides backoff when set */
        void *retry_userdata;
        /* Signs with these (copied, wiped when the call ends) instead of the client's
         * provider: a call made on behalf of a task, with its role. */
        const struct aws_credentials *credentials;
};

/* Called once when the call ends (success, final error, or attempts exhausted), never from
 * inside awsjson_call() and never after awsjson_call_cancel(). The result is valid only
 * during the call; the call handle is gone when it runs. */
typedef void (*awsjson_done_fn)(const struct awsjson_result *res, void *userdata);

/* Starts target (e.g. "AmazonEC2ContainerServiceV20141113.RegisterContainerInstance") with
 * body (not consumed; serialised now; NULL = {}). ret, when given, is the handle for
 * awsjson_call_cancel(), valid until cb runs. */
int awsjson_call(struct awsjson_client *c, const char *target, json_object *body,
                 const struct awsjson_call_opts *opts, awsjson_done_fn cb, void *userdata,
                 struct awsjson_call **ret);
/* Stops the call wherever it is (waiting for credentials, in flight, backing off); the
 * callback is not called. Accepts NULL. */
void awsjson_call_cancel(struct awsjson_call *call);

/* The state-change client's policy (§1.1): attempts 1..13 wait 2^attempt x 30..59 ms, later
 * ones 5 minutes; use with max_attempts = 298. */
uint64_t awsjson_retry_delay_state_change(unsigned attempt, void *userdata);

/* --- Internal, exported for the unit tests. --- */

/* Normalises a raw error code as the SDK does: cut at the first ':', then keep what follows
 * the first '#' ("com.amazonaws.ecs#ClientException:http://..." -> "ClientException").
 * *ret is NULL when nothing is left. */
int awsjson_error_code_normalize(const char *raw, char **ret);
/* Extracts code and message from an error response: code from the X-Amzn-ErrorType header
 * (may be NULL) else body "__type" else "code"; message from "message" else "Message".
 * Either result may be NULL (e.g. a proxy's HTML error page). */
int awsjson_parse_error(const char *error_type_header, const char *body, size_t body_len,
                        char **ret_code, char **ret_message);
bool awsjson_is_throttling_code(const char *code);
enum awsjson_error_class awsjson_classify(int transport_error, long status, const char *code);
/* Whether a failed attempt of this class/status/code is worth another attempt. */
bool awsjson_is_retryable(enum awsjson_error_class cls, int error, long status, const char *code);

struct awsjson_request_params {
        const char *url; /* endpoint + "/" */
        const char *region;
        const char *signing_name;
        const char *target;
        const char *user_agent; /* may be NULL */
        const char *body;
        size_t body_len;
        uint64_t time_usec; /* CLOCK_REALTIME, for the signature */
};

/* The headers of one signed attempt: Content-Type, X-Amz-Target, User-Agent (when given),
 * then the SigV4 ones (X-Amz-Date, X-Amz-Security-Token, Authorization). */
int awsjson_build_request(const struct awsjson_request_params *p, const struct aws_credentials *c,
                          char ***ret_headers);
