/* Shared between the docker/ sources only: the client, the call machinery and small
 * parsing helpers. Not part of the public surface (that is include/ecs/docker.h). */
#pragma once

#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/strbuf.h"

/* Body limits: one inspect answer, lists, small answers, one streamed JSON object. */
#define DOCKER_MAX_INSPECT (1u * 1024 * 1024)
#define DOCKER_MAX_LIST    (16u * 1024 * 1024)
#define DOCKER_MAX_SMALL   (1u * 1024 * 1024)
#define DOCKER_MAX_OBJECT  (1u * 1024 * 1024)

/* Something living on a client beyond one call (the event stream): told when the client is
 * freed before it, so the transport needs to know nothing of what it is. */
struct docker_client_hook {
        struct docker_client *client; /* NULL while not attached */
        struct docker_client_hook *prev, *next;
        /* Must end what depends on the client; the hook is already removed. */
        void (*detach)(struct docker_client_hook *h);
};
void docker_client_hook_add(struct docker_client *c, struct docker_client_hook *h);
void docker_client_hook_remove(struct docker_client_hook *h);

struct docker_client {
        struct ecs_loop *loop;
        char *socket_path; /* AF_UNIX path; NULL for tcp:// */
        char *base_url;    /* "http://docker" or "http://host:port" */
        char api_version[16];
        struct docker_call *calls;        /* in flight */
        struct docker_client_hook *hooks; /* event streams */
};

struct docker_call;
/* Turns the finished transfer into the typed result and runs the user callback. res already
 * carries the HTTP/transport/progress error, if any; the handler may set a parse error. */
typedef void (*docker_finish_fn)(struct docker_call *c, const struct ecs_http_response *resp,
                                 struct docker_result *res);

struct docker_call {
        struct docker_client *client; /* NULL once unlinked (finished or cancelled) */
        struct docker_client *owner;  /* valid in finish until the user callback runs */
        struct docker_call *prev, *next;
        struct ecs_http_call *http;
        docker_finish_fn finish;
        void (*cb)(void); /* the typed user callback, cast back by finish */
        void *userdata;
        int conflict;                      /* what 409 means */
        struct docker_json_stream *stream; /* progress streams (pull, load) */
        struct docker_progress progress;
        int stream_error; /* why the progress parser gave up */
        /* The limits asked for and how long the call ran, to tell which one ended it. */
        uint64_t timeout_usec, stall_timeout_usec;
        uint64_t started_usec, elapsed_usec;
};

struct docker_request {
        const char *method;
        const char *path; /* escaped, with query; prefixed by /v<api> unless unversioned */
        bool unversioned;
        const char *content_type;
        const char *auth_header; /* X-Registry-Auth value */
        const void *body;
        size_t body_len;
        uint64_t timeout_usec;
        uint64_t stall_timeout_usec;
        size_t max_response;
        bool progress; /* stream the body through the progress parser */
        int conflict;  /* 0 = -EBUSY */
};

int docker_call_start(struct docker_client *client, const struct docker_request *req,
                      docker_finish_fn finish, void (*cb)(void), void *userdata,
                      struct docker_call **ret);
/* For a call that failed with -ETIMEDOUT, the limit that ended it: its whole-call timeout, or
 * its stall timeout (no byte for that long; *ret_stalled set), or 0 when neither ran out. */
uint64_t docker_call_expired_limit(const struct docker_call *c, bool *ret_stalled);
/* finish for calls whose callback is a docker_done_fn. */
void docker_done_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res);
/* The request URL for path (used by the event stream, which drives its own transfer). */
int docker_client_url(struct docker_client *client, const char *path, bool unversioned, char **ret);

/* Percent-encodes s onto b: everything but unreserved characters for query values; for
 * path segments also keeps '/', ':', '@' and '+' (image references). */
int docker_url_escape(struct strbuf *b, const char *s, bool path);
/* Container, volume names and ids: [A-Za-z0-9][A-Za-z0-9_.-]*; image references and ids
 * additionally '/', ':', '@', '+', without ".." segments. */
bool docker_name_valid(const char *s);
bool docker_image_name_valid(const char *s);
/* filters={"label":[...]} value (JSON, not yet escaped) for labels; NULL when none. */
int docker_label_filters(const char *type, char *const *labels, char **ret);

/* json object {"k":"v",...} -> kv list (non-string values skipped). */
int docker_kv_from_json(json_object *obj, struct docker_kv **ret, size_t *ret_n);
/* String member copied (NULL when absent or empty when empty_is_null). */
int docker_strdup_member(json_object *obj, const char *key, bool empty_is_null, char **ret);
/* Array of strings -> strv (never NULL on success). */
int docker_strv_from_json(json_object *arr, char ***ret);
/* A list answer (a JSON array of objects) -> *ret, n elements of elem_size bytes, zeroed,
 * each filled by from_json(object, element). On any failure what was filled is released
 * with free_many(list, n) and the error returned. */
int docker_list_parse(const char *body, size_t len, size_t elem_size,
                      int (*from_json)(json_object *o, void *elem),
                      void (*free_many)(void *list, size_t n), void **ret, size_t *ret_n);
