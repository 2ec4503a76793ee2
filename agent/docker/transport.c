/* The Docker transport: the endpoint, the call machinery every request goes through
 * (timeouts, limits, streamed bodies, status -> errno, Docker's message) and the client's
 * lifetime. It knows nothing of containers, images or events. */
#include <ctype.h>
#include <stdio.h>

#include "docker-internal.h"
#include "ecs/log.h"

/* ---- calls ---- */

static void call_unlink(struct docker_call *c)
{
        if (!c->client)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->client->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->client = NULL;
}

static void call_free(struct docker_call *c)
{
        if (!c)
                return;
        call_unlink(c);
        ecs_http_call_cancel(c->http);
        docker_json_stream_free(c->stream);
        docker_progress_done(&c->progress);
        free(c);
}

void docker_call_cancel(struct docker_call *call)
{
        call_free(call);
}

static int progress_object(json_object *obj, void *userdata)
{
        struct docker_call *c = userdata;
        return docker_progress_parse(&c->progress, obj);
}

/* Runs inside libcurl's write callback: parse only, never call user code from here. */
static int call_on_data(const char *data, size_t len, void *userdata)
{
        struct docker_call *c = userdata;
        int r;

        r = docker_json_stream_feed(c->stream, data, len, progress_object, c);
        if (r < 0)
                c->stream_error = r;
        return r;
}

static bool status_ok(long status)
{
        return (status >= 200 && status < 300) || status == 304;
}

static void call_on_done(const struct ecs_http_response *resp, void *userdata)
{
        struct docker_call *c = userdata;
        struct docker_result res = {.http_status = resp->status};
        _cleanup_free_ char *owned = NULL;
        const char *text = NULL;

        c->http = NULL; /* the loop frees the transfer once we return */
        call_unlink(c); /* from here on the user may free the client */
        c->elapsed_usec = now_usec() - c->started_usec;

        /* A non-JSON error body makes the progress parser abort: the status says more. */
        bool http_error = !status_ok(resp->status) && resp->status > 0;
        if (resp->error < 0 && !(c->stream_error && http_error)) {
                res.error = resp->error;
                text = c->stream_error ? "invalid progress stream from Docker" : resp->error_text;
        } else if (http_error || resp->status == 0) {
                res.error = docker_error_from_status(resp->status, c->conflict);
                if (c->stream)
                        text = c->progress.message ? c->progress.message : c->progress.error;
                else
                        text = owned = docker_error_message(resp->body, resp->body_len);
        } else if (c->progress.error) {
                /* Pulls and loads report failures inside a 200 stream. */
                res.error = docker_pull_error_from_text(c->progress.error);
                text = c->progress.error;
        }
        if (res.error < 0 && isempty(text)) {
                char *m = NULL;
                if (resp->status > 0 && asprintf(&m, "HTTP %ld from Docker", resp->status) < 0)
                        m = NULL;
                else if (resp->status <= 0)
                        m = strdup(strerror(-res.error));
                free(owned);
                owned = m;
                text = owned ? owned : "Docker error";
        }
        res.message = res.error < 0 ? text : NULL;
        c->finish(c, resp, &res);
        call_free(c);
}

uint64_t docker_call_expired_limit(const struct docker_call *c, bool *ret_stalled)
{
        /* libcurl reports both as CURLE_OPERATION_TIMEDOUT. The whole-call timeout fires on
         * time to the millisecond; the stall check (below 1 byte/s, averaged over a few
         * seconds) only after stall_timeout_usec of quiet (in whole seconds), so never that
         * early in a call. */
        *ret_stalled = false;
        if (c->timeout_usec && c->elapsed_usec + 500 * USEC_PER_MSEC >= c->timeout_usec)
                return c->timeout_usec;
        if (c->stall_timeout_usec && c->elapsed_usec + USEC_PER_SEC >= c->stall_timeout_usec) {
                *ret_stalled = true;
                return c->stall_timeout_usec;
        }
        return 0;
}

int docker_client_url(struct docker_client *client, const char *path, bool unversioned, char **ret)
{
        bool v = !unversioned && client->api_version[0];
        char *u;

        if (asprintf(&u, "%s%s%s%s", client->base_url, v ? "/v" : "", v ? client->api_version : "",
                     path) < 0)
                return -ENOMEM;
        *ret = u;
        return 0;
}

int docker_call_start(struct docker_client *client, const struct docker_request *req,
                      docker_finish_fn finish, void (*cb)(void), void *userdata,
                      struct docker_call **ret)
{
        _cleanup_free_ char *url = NULL, *ctype = NULL, *auth = NULL;
        struct docker_call *c;
        char *headers[3] = {};
        size_t n = 0;
        int r;

        if (!client || !cb)
                return -EINVAL;
        r = docker_client_url(client, req->path, req->unversioned, &url);
        if (r < 0)
                return r;
        if (req->content_type) {
                if (asprintf(&ctype, "Content-Type: %s", req->content_type) < 0)
                        return -ENOMEM;
                headers[n++] = ctype;
        }
        if (req->auth_header) {
                if (asprintf(&auth, "X-Registry-Auth: %s", req->auth_header) < 0)
                        return -ENOMEM;
                headers[n++] = auth;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->finish = finish;
        c->cb = cb;
        c->userdata = userdata;
        c->conflict = req->conflict ? req->conflict : -EBUSY;
        c->timeout_usec = req->timeout_usec;
        c->stall_timeout_usec = req->stall_timeout_usec;
        c->started_usec = now_usec();
        if (req->progress) {
                r = docker_json_stream_new(DOCKER_MAX_OBJECT, &c->stream);
                if (r < 0) {
                        free(c);
                        return r;
                }
        }

        struct ecs_http_request hr = {
            .method = req->method,
            .url = url,
            .unix_socket = client->socket_path,
            .headers = headers,
            .body = req->body,
            .body_len = req->body_len,
            .timeout_usec = req->timeout_usec,
            .stall_timeout_usec = req->stall_timeout_usec,
            .max_response = req->max_response ? req->max_response : DOCKER_MAX_SMALL,
            .on_data = req->progress ? call_on_data : NULL,
        };
        r = ecs_http_start(client->loop, &hr, call_on_done, c, &c->http);
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->client = c->owner = client;
        c->next = client->calls;
        if (c->next)
                c->next->prev = c;
        client->calls = c;
        log_debug("Docker %s %s", req->method ? req->method : "GET", req->path);
        if (ret)
                *ret = c;
        return 0;
}

/* ---- the client ---- */

int docker_client_new(struct ecs_loop *loop, const char *docker_host, struct docker_client **ret)
{
        _cleanup_free_ char *path = NULL, *url = NULL;
        struct docker_client *c;
        const char *h = docker_host ? docker_host : DOCKER_DEFAULT_HOST;

        if (!loop || !ret)
                return -EINVAL;
        if (strncmp(h, "unix://", 7) == 0 || h[0] == '/') {
                const char *p = h[0] == '/' ? h : h + 7;
                /* sun_path holds 108 bytes including the NUL. */
                if (p[0] != '/' || strlen(p) >= 108)
                        return -EINVAL;
                path = strdup(p);
                /* The host part is never resolved: libcurl connects to the socket. */
                url = strdup("http://docker");
                if (!path || !url)
                        return -ENOMEM;
        } else if (strncmp(h, "tcp://", 6) == 0 || strncmp(h, "http://", 7) == 0) {
                const char *hp = h + (h[0] == 't' ? 6 : 7);
                size_t n = strcspn(hp, "/");
                if (n == 0 || strpbrk(hp, " \t\r\n?#@") || (hp[n] && !streq(hp + n, "/")))
                        return -EINVAL;
                if (asprintf(&url, "http://%.*s", (int)n, hp) < 0)
                        return -ENOMEM;
        } else
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->socket_path = TAKE_PTR(path);
        c->base_url = TAKE_PTR(url);
        *ret = c;
        return 0;
}

struct docker_client *docker_client_free(struct docker_client *client)
{
        if (!client)
                return NULL;
        while (client->calls)
                call_free(client->calls);
        while (client->hooks) {
                struct docker_client_hook *h = client->hooks;
                docker_client_hook_remove(h);
                h->detach(h);
        }
        free(client->socket_path);
        free(client->base_url);
        free(client);
        return NULL;
}

void docker_client_hook_add(struct docker_client *c, struct docker_client_hook *h)
{
        h->client = c;
        h->prev = NULL;
        h->next = c->hooks;
        if (h->next)
                h->next->prev = h;
        c->hooks = h;
}

void docker_client_hook_remove(struct docker_client_hook *h)
{
        if (!h->client)
                return;
        if (h->prev)
                h->prev->next = h->next;
        else
                h->client->hooks = h->next;
        if (h->next)
                h->next->prev = h->prev;
        h->prev = h->next = NULL;
        h->client = NULL;
}

const char *docker_client_api_version(const struct docker_client *client)
{
        return client && client->api_version[0] ? client->api_version : NULL;
}

/* ---- errors ---- */

int docker_error_from_status(long status, int conflict)
{
        if (status_ok(status))
                return 0;
        switch (status) {
        case 400:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 409:
                return conflict < 0 ? conflict : -EBUSY;
        case 413:
                return -E2BIG;
        }
        if (status >= 500 || status == 0)
                return -EIO;
        return -EPROTO;
}

#define DOCKER_MAX_MESSAGE 4096

static char *trimmed_copy(const char *s, size_t len)
{
        while (len > 0 && isspace((unsigned char)*s))
                s++, len--;
        while (len > 0 && isspace((unsigned char)s[len - 1]))
                len--;
        if (len == 0)
                return NULL;
        return strndup(s, MIN(len, (size_t)DOCKER_MAX_MESSAGE));
}

char *docker_error_message(const char *body, size_t len)
{
        _cleanup_json_ json_object *obj = NULL;

        if (!body || len == 0)
                return NULL;
        if (json_parse(body, len, &obj) >= 0 && json_object_is_type(obj, json_type_object)) {
                const char *m = json_get_string(obj, "message", NULL);
                return m ? trimmed_copy(m, strlen(m)) : NULL;
        }
        return trimmed_copy(body, len);
}
