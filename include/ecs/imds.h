/* EC2 instance metadata (IMDS) client: IMDSv2 session tokens, asynchronous on the loop.
 * Used for the instance role credentials and, by registration, for the identity document
 * and its signature. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ecs_loop;
struct imds_client;
struct imds_request;

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
/* IMDS answers from the hypervisor within milliseconds; off EC2 nothing answers at all, and
 * a long timeout would only delay the fallback to other credential sources. */
#define IMDS_CONNECT_TIMEOUT_USEC (1ULL * 1000000ULL)
#define IMDS_TIMEOUT_USEC         (5ULL * 1000000ULL)
#define IMDS_TOKEN_TTL_SEC        21600
#define IMDS_MAX_RESPONSE         (256u * 1024)

/* endpoint: NULL = $AWS_EC2_METADATA_SERVICE_ENDPOINT, else IMDS_DEFAULT_ENDPOINT. */
int imds_client_new(struct ecs_loop *loop, const char *endpoint, struct imds_client **ret);
/* Cancels every request in flight without calling back. Safe inside a callback. */
struct imds_client *imds_client_free(struct imds_client *c);
const char *imds_client_endpoint(const struct imds_client *c);

/* Called once with the body (NUL-terminated) or an error: -ENOENT for HTTP 404 (an optional
 * item such as public-ipv4 is absent), -EACCES for 401/403, -EIO for other HTTP errors,
 * else the transport error (-ETIMEDOUT, -ECONNREFUSED, ...). body is valid only during the
 * call. Never called from inside imds_get(). */
typedef void (*imds_done_fn)(int error, const char *body, size_t body_len, void *userdata);

/* Fetches path (e.g. "/latest/dynamic/instance-identity/document"; a missing leading '/'
 * is added) with an IMDSv2 token, fetching or refreshing the token first when needed.
 * Falls back to IMDSv1 (no token) only when the token request gets 403, 404 or 405. One
 * attempt: callers that need the official agent's 5 attempts retry themselves. ret, when
 * given, is a handle for imds_request_cancel() valid until done is called. */
int imds_get(struct imds_client *c, const char *path, imds_done_fn done, void *userdata,
             struct imds_request **ret);
/* Cancels a request; done is not called. Accepts NULL. */
void imds_request_cancel(struct imds_request *r);
