/* The agent's one event loop: sd-event owns every fd and timer, and one libcurl multi
 * handle is driven by it, so every HTTP exchange (Docker, ECS, IMDS, ECR, ...) is
 * asynchronous and nothing blocks the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define USEC_PER_MSEC   1000ULL
#define USEC_PER_SEC    1000000ULL
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR   (60ULL * USEC_PER_MINUTE)

struct ecs_loop;
struct ecs_http_call;
typedef void CURL;

int ecs_loop_new(struct ecs_loop **ret);
struct ecs_loop *ecs_loop_free(struct ecs_loop *loop);
sd_event *ecs_loop_event(struct ecs_loop *loop);
/* Runs until ecs_loop_exit(); returns the exit code given there. */
int ecs_loop_run(struct ecs_loop *loop);
int ecs_loop_exit(struct ecs_loop *loop, int code);
/* Disables TLS peer verification for every later transfer (the agent's -k flag). */
void ecs_loop_set_insecure(struct ecs_loop *loop, bool insecure);

/* How later transfers reach their peers. Strings are copied; NULL or empty = unset. */
struct ecs_loop_network {
        const char *http_proxy;  /* for http:// URLs; "host:port" means http://host:port */
        const char *https_proxy; /* for https:// URLs and wss:// sessions */
        const char *no_proxy;    /* NO_PROXY list (include/ecs/netenv.h) */
        const char *ca_file;     /* PEM bundle trusted instead of the system store */
        const char *ca_dir;      /* hashed CA directory, trusted as well */
};
int ecs_loop_set_network(struct ecs_loop *loop, const struct ecs_loop_network *n);
/* CLOCK_MONOTONIC and CLOCK_REALTIME in microseconds. */
uint64_t now_usec(void);
uint64_t realtime_usec(void);

/* A one-shot timer on the loop; cb gets userdata. The source is floating (owned by the loop)
 * unless ret is given, in which case the caller owns a reference. */
int ecs_loop_add_timer(struct ecs_loop *loop, uint64_t delay_usec, sd_event_time_handler_t cb,
                       void *userdata, sd_event_source **ret);

struct ecs_http_response {
        long status;            /* HTTP status, 0 when no response arrived */
        int error;              /* 0, or negative errno-style error: -ETIMEDOUT, -ECONNREFUSED,
                                   -E2BIG (body over max_response), -ECANCELED, -EIO ... */
        const char *error_text; /* when error != 0: the peer (scheme://host:port, and the
                                 * proxy, password hidden), what failed and libcurl's detail,
                                 * e.g. "https://h:443: TLS certificate not trusted: ..." */
        char *body;             /* NUL-terminated; NULL for streamed transfers */
        size_t body_len;
        char **headers; /* NULL-terminated "name: value" lines of the final response */
};

/* Case-insensitive header lookup on a response; value has leading blanks removed. */
const char *ecs_http_response_header(const struct ecs_http_response *resp, const char *name);

/* Called once per transfer when it ends (success, HTTP error, transport error or timeout),
 * never after ecs_http_call_cancel(). The response is valid only during the callback. */
typedef void (*ecs_http_done_fn)(const struct ecs_http_response *resp, void *userdata);
/* Streaming: called with each chunk of the body as it arrives (Docker events, pull
 * progress). Return < 0 to abort the transfer (done then gets that error). */
typedef int (*ecs_http_data_fn)(const char *data, size_t len, void *userdata);

struct ecs_http_request {
        const char *method; /* default "GET" */
        const char *url;
        const char *unix_socket; /* connect through this AF_UNIX path (Docker) */
        char *const *headers;    /* NULL-terminated "Name: value" */
        const void *body;
        size_t body_len;
        uint64_t timeout_usec;         /* whole transfer; 0 = none (only for streams) */
        uint64_t connect_timeout_usec; /* default 30 s */
        uint64_t stall_timeout_usec;   /* abort when no byte arrives for this long; 0 = off */
        size_t max_response;           /* body limit when buffered; default 8 MiB */
        ecs_http_data_fn on_data;      /* stream the body instead of buffering it */
        bool direct;                   /* never through a proxy (IMDS, local endpoints) */
};

int ecs_http_start(struct ecs_loop *loop, const struct ecs_http_request *req, ecs_http_done_fn done,
                   void *userdata, struct ecs_http_call **ret);
/* Aborts a transfer in flight; its done callback is not called. Accepts NULL. */
void ecs_http_call_cancel(struct ecs_http_call *call);

/* Opens a raw connection (TCP, or TLS for https) to url's host without sending a request,
 * for protocols that take over the socket (the WebSocket client). On success done gets a
 * connected easy handle the caller owns: use curl_easy_send/curl_easy_recv on it (they
 * return CURLE_AGAIN when they would block), watch fd with sd-event, and release it with
 * ecs_raw_conn_free(). A proxy configured for url's scheme is crossed with an HTTP CONNECT
 * tunnel. On failure error_text says what failed, as ecs_http_response.error_text does. */
typedef void (*ecs_raw_connect_fn)(int error, const char *error_text, CURL *easy, int fd,
                                   void *userdata);
int ecs_raw_connect(struct ecs_loop *loop, const char *url, uint64_t timeout_usec,
                    ecs_raw_connect_fn done, void *userdata, struct ecs_http_call **ret);
void ecs_raw_conn_free(CURL *easy);
