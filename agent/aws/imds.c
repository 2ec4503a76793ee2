/* IMDS client. One session token is shared by every request of a client; requests that
 * arrive while it is being fetched wait for it. A token the service no longer accepts (401)
 * is dropped and the request retried once with a new one. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/imds.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/macro.h"

/* Renew the token a little before IMDS forgets it, so a request never races its expiry. */
#define TOKEN_RENEW_MARGIN_USEC (5ULL * USEC_PER_MINUTE)
/* After the token API was refused (IMDSv1-only endpoint or proxy), probe it again only now
 * and then instead of on every request. */
#define V1_RETRY_USEC (5ULL * USEC_PER_MINUTE)

struct imds_request {
        struct imds_client *client;
        struct imds_request *next, *prev;
        char *path;
        imds_done_fn done;
        void *userdata;
        struct ecs_http_call *call;
        bool waiting;       /* for the token fetch of generation token_gen */
        bool token_retried; /* already retried once after a 401 */
        unsigned token_gen; /* token fetch waited for, or token the request was sent with */
};

struct imds_client {
        unsigned n_ref;
        struct ecs_loop *loop;
        char *endpoint; /* without trailing '/' */
        char *token;
        uint64_t token_expiry; /* CLOCK_MONOTONIC */
        uint64_t v1_until;     /* CLOCK_MONOTONIC: send no token before this */
        unsigned token_gen;    /* bumped for every token fetch */
        struct ecs_http_call *token_call;
        struct imds_request *requests;
};

static void client_unref(struct imds_client *c)
{
        if (!c || --c->n_ref > 0)
                return;
        free(c->endpoint);
        if (c->token)
                explicit_bzero(c->token, strlen(c->token));
        free(c->token);
        free(c);
}

int imds_client_new(struct ecs_loop *loop, const char *endpoint, struct imds_client **ret)
{
        struct imds_client *c;
        size_t l;

        if (!endpoint)
                endpoint = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (isempty(endpoint))
                endpoint = IMDS_DEFAULT_ENDPOINT;
        if (!strstr(endpoint, "://"))
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->loop = loop;
        c->endpoint = strdup(endpoint);
        if (!c->endpoint) {
                free(c);
                return -ENOMEM;
        }
        l = strlen(c->endpoint);
        while (l > 0 && c->endpoint[l - 1] == '/')
                c->endpoint[--l] = '\0';
        *ret = c;
        return 0;
}

const char *imds_client_endpoint(const struct imds_client *c)
{
        return c->endpoint;
}

static void request_unlink(struct imds_request *r)
{
        struct imds_client *c = r->client;

        if (r->prev)
                r->prev->next = r->next;
        else if (c->requests == r)
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->next = r->prev = NULL;
}

static void request_free(struct imds_request *r)
{
        request_unlink(r);
        ecs_http_call_cancel(r->call);
        free(r->path);
        free(r);
}

void imds_request_cancel(struct imds_request *r)
{
        if (r)
                request_free(r);
}

struct imds_client *imds_client_free(struct imds_client *c)
{
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        ecs_http_call_cancel(TAKE_PTR(c->token_call));
        client_unref(c);
        return NULL;
}

/* Hands the result to the caller; the request is gone before the callback runs, so the
 * callback may free anything, the client included. */
static void request_finish(struct imds_request *r, int error, const char *body, size_t len)
{
        imds_done_fn done = r->done;
        void *ud = r->userdata;

        request_free(r);
        done(error, error < 0 ? NULL : body, error < 0 ? 0 : len, ud);
}

static bool token_usable(const struct imds_client *c)
{
        return c->token && now_usec() < c->token_expiry;
}

static bool v1_mode(const struct imds_client *c)
{
        return c->v1_until > 0 && now_usec() < c->v1_until;
}

static int http_status_to_errno(long status)
{
        if (status >= 200 && status < 300)
                return 0;
        if (status == 404)
                return -ENOENT;
        if (status == 401 || status == 403)
                return -EACCES;
        return -EIO;
}

static int request_dispatch(struct imds_request *r);

static void on_request_done(const struct ecs_http_response *resp, void *userdata)
{
        struct imds_request *r = userdata;
        struct imds_client *c = r->client;
        int error;

        r->call = NULL; /* loop.c frees the transfer after this callback */

        /* The token expired or IMDS restarted: drop it (unless a newer one already replaced
         * it) and try once more with a fresh one. */
        if (resp->status == 401 && !r->token_retried && !v1_mode(c)) {
                r->token_retried = true;
                if (c->token && c->token_gen == r->token_gen) {
                        explicit_bzero(c->token, strlen(c->token));
                        c->token = mfree(c->token);
                }
                error = request_dispatch(r);
                if (error >= 0)
                        return;
                request_finish(r, error, NULL, 0);
                return;
        }

        error = resp->error < 0 ? resp->error : http_status_to_errno(resp->status);
        if (error < 0)
                log_debug("IMDS GET %s failed: status=%ld error=%d (%s)", r->path, resp->status,
                          error, strna(resp->error_text));
        request_finish(r, error, resp->body, resp->body_len);
}

/* One HTTP call to the endpoint, with IMDS's timeouts. */
static int imds_http_start(struct imds_client *c, const char *method, const char *path,
                           char **headers, size_t max_response, ecs_http_done_fn done,
                           void *userdata, struct ecs_http_call **ret)
{
        _cleanup_free_ char *url = NULL;

        if (asprintf(&url, "%s%s", c->endpoint, path) < 0)
                return -ENOMEM;
        struct ecs_http_request req = {
            .method = method,
            .url = url,
            .headers = headers,
            .timeout_usec = IMDS_TIMEOUT_USEC,
            .connect_timeout_usec = IMDS_CONNECT_TIMEOUT_USEC,
            .max_response = max_response,
            .direct = true, /* never through a proxy, whatever NO_PROXY says */
        };
        return ecs_http_start(c->loop, &req, done, userdata, ret);
}

static int request_start_http(struct imds_request *r)
{
        struct imds_client *c = r->client;
        _cleanup_free_ char *hdr = NULL;
        char *headers[2] = {NULL, NULL};
        int ret;

        if (!v1_mode(c) && c->token) {
                if (asprintf(&hdr, "X-aws-ec2-metadata-token: %s", c->token) < 0)
                        return -ENOMEM;
                headers[0] = hdr;
                r->token_gen = c->token_gen;
        }
        ret = imds_http_start(c, "GET", r->path, headers, IMDS_MAX_RESPONSE, on_request_done, r,
                              &r->call);
        if (hdr)
                explicit_bzero(hdr, strlen(hdr));
        return ret;
}

static struct imds_request *first_waiting(struct imds_client *c, unsigned gen)
{
        for (struct imds_request *r = c->requests; r; r = r->next)
                if (r->waiting && r->token_gen == gen)
                        return r;
        return NULL;
}

static void on_token_done(const struct ecs_http_response *resp, void *userdata)
{
        struct imds_client *c = userdata;
        unsigned gen = c->token_gen;
        int error = 0;

        c->token_call = NULL;
        if (resp->error < 0)
                error = resp->error;
        else if (resp->status == 403 || resp->status == 404 || resp->status == 405) {
                /* IMDSv1-only endpoint (or a proxy in front of it): the SDKs fall back to
                 * unauthenticated requests exactly for these answers. */
                log_debug("IMDS token request refused (HTTP %ld), using IMDSv1", resp->status);
                c->v1_until = now_usec() + V1_RETRY_USEC;
        } else if (resp->status < 200 || resp->status >= 300)
                error = -EIO;
        else {
                size_t l = resp->body_len;
                while (l > 0 && strchr(" \t\r\n", resp->body[l - 1]))
                        l--;
                if (l == 0 || memchr(resp->body, '\n', l) || memchr(resp->body, '\r', l))
                        error = -EBADMSG; /* would not even fit in a header */
                else {
                        char *t = strndup(resp->body, l);
                        if (!t)
                                error = -ENOMEM;
                        else {
                                free(c->token);
                                c->token = t;
                                c->token_expiry = now_usec() + IMDS_TOKEN_TTL_SEC * USEC_PER_SEC -
                                                  TOKEN_RENEW_MARGIN_USEC;
                                c->v1_until = 0;
                        }
                }
        }
        if (error < 0)
                log_debug("IMDS token request failed: status=%ld error=%d", resp->status, error);

        /* Callbacks below may free the client or start new requests (which then wait for a
         * newer token generation and are not touched here). */
        c->n_ref++;
        for (struct imds_request *r; (r = first_waiting(c, gen));) {
                int e = error;
                r->waiting = false;
                if (e >= 0) {
                        e = request_start_http(r);
                        if (e >= 0)
                                continue;
                }
                request_finish(r, e, NULL, 0);
        }
        client_unref(c);
}

static int token_start(struct imds_client *c)
{
        char ttl[64];
        char *headers[] = {ttl, NULL};

        snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %d", IMDS_TOKEN_TTL_SEC);
        c->token_gen++;
        return imds_http_start(c, "PUT", "/latest/api/token", headers, 4096, on_token_done, c,
                               &c->token_call);
}

static int request_dispatch(struct imds_request *r)
{
        struct imds_client *c = r->client;
        int ret;

        if (v1_mode(c) || token_usable(c))
                return request_start_http(r);
        if (!c->token_call) {
                ret = token_start(c);
                if (ret < 0)
                        return ret;
        }
        r->waiting = true;
        r->token_gen = c->token_gen;
        return 0;
}

int imds_get(struct imds_client *c, const char *path, imds_done_fn done, void *userdata,
             struct imds_request **ret)
{
        struct imds_request *r;
        int ret_code;

        if (!c || !path || !done)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->done = done;
        r->userdata = userdata;
        if (asprintf(&r->path, "%s%s", path[0] == '/' ? "" : "/", path) < 0) {
                free(r);
                return -ENOMEM;
        }
        r->next = c->requests;
        if (c->requests)
                c->requests->prev = r;
        c->requests = r;

        ret_code = request_dispatch(r);
        if (ret_code < 0) {
                request_free(r);
                return ret_code;
        }
        if (ret)
                *ret = r;
        return 0;
}
