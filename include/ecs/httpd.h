/* A small HTTP/1.1 server on the agent's loop, for the endpoints containers call
 * (169.254.170.2:80 and 127.0.0.1:51679): one request per connection, bounded head size,
 * connection count and read time, never blocking the loop. */
#pragma once

#include <stdint.h>

struct ecs_loop;
struct httpd;

struct httpd_request {
        const char *method;
        const char *path;  /* without the query */
        const char *query; /* after '?', "" when none */
        const char *peer;  /* the client's address */
};

struct httpd_response {
        int status;
        const char *content_type; /* NULL = application/json */
        char *body;               /* malloc'ed, taken over; NULL = empty */
};

typedef void (*httpd_handler_fn)(const struct httpd_request *req, struct httpd_response *resp,
                                 void *userdata);

int httpd_new(struct ecs_loop *loop, httpd_handler_fn handler, void *userdata, struct httpd **ret);
/* Listens on ip:port. The address may not exist yet (IP_FREEBIND). */
int httpd_listen(struct httpd *s, const char *ip, uint16_t port);
struct httpd *httpd_free(struct httpd *s);
