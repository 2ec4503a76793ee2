/* A small HTTP/1.1 server on the agent's loop, for the endpoints containers and operators call
 * (169.254.170.2:80 and 127.0.0.1:51679 for credentials and task metadata, 127.0.0.1:51678 for
 * introspection). Keep-alive; every request is read, handled and answered within a deadline
 * (5 s, the official endpoints' read/write timeout), with bounded head, header count, body and
 * connections, so that a slow or malicious client holds only its own connection and never the
 * loop. Handlers answer at once from memory: nothing on the request path blocks.
 *
 * What is refused before a handler sees it: a malformed request line or header (400), a target
 * over HTTPD_MAX_TARGET (414), a head over HTTPD_MAX_HEAD (431), a body over HTTPD_MAX_BODY
 * (413), Transfer-Encoding (501), a version other than 1.0/1.1 (505), a path that does not
 * decode to UTF-8 without NUL or that has "." or ".." segments (400), and a client over its
 * rate (429). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ecs_loop;
struct httpd;

#define HTTPD_MAX_HEAD    8192
#define HTTPD_MAX_TARGET  2048
#define HTTPD_MAX_HEADERS 64
#define HTTPD_MAX_BODY    (64 * 1024)

struct httpd_header {
        const char *name; /* as sent; compare case-insensitively */
        const char *value;
};

struct httpd_request {
        const char *method;
        const char *path;  /* percent-decoded; starts with '/' */
        const char *query; /* after '?', still encoded; "" when none */
        const struct httpd_header *headers;
        size_t n_headers;
        const char *body; /* NUL-terminated; "" when none */
        size_t body_len;
        const char *peer_ip; /* the client's address and port */
        uint16_t peer_port;
        const char *local_ip; /* the address and port the client connected to */
        uint16_t local_port;
};

struct httpd_reply;

struct httpd_response {
        int status;
        const char *content_type; /* NULL = application/json */
        char *body;               /* malloc'ed, taken over; NULL = empty */
        bool secret;              /* the body is wiped from memory once sent */
        /* The server's, for httpd_defer(). */
        void *conn_;
        struct httpd_reply *reply_;
};

typedef void (*httpd_handler_fn)(const struct httpd_request *req, struct httpd_response *resp,
                                 void *userdata);

struct httpd_params {
        httpd_handler_fn handler;
        void *userdata;
        /* Per client address, a token bucket: steady requests per second and burst; 0 = none.
         * A client over it gets 429 without reaching the handler; on_throttled (if set) hears
         * of it, e.g. for an audit log. */
        uint32_t rate_steady, rate_burst;
        httpd_handler_fn on_throttled;
};

int httpd_new(struct ecs_loop *loop, const struct httpd_params *p, struct httpd **ret);
/* Listens on ip:port. The address may not exist yet (IP_FREEBIND). */
int httpd_listen(struct httpd *s, const char *ip, uint16_t port);
struct httpd *httpd_free(struct httpd *s);
/* For a handler whose answer needs a call elsewhere (the ECS API): the answer is sent later
 * with httpd_reply_send(), and the handler returns leaving resp unset. The connection reads
 * nothing more meanwhile and still ends at the phase deadline. on_gone(userdata) runs if the
 * connection ends first (deadline, client gone, server freed): the reply is then freed and
 * must not be used. NULL (answer at once instead) when the request did not come through a
 * server (a handler called directly) or on allocation failure. */
struct httpd_reply *httpd_defer(struct httpd_response *resp, void (*on_gone)(void *userdata),
                                void *userdata);
/* Sends the answer (status, content type, body -- taken over -- and secret of resp) and frees
 * the reply. */
void httpd_reply_send(struct httpd_reply *reply, struct httpd_response *resp);

/* Connections now open, for tests and the benchmark. */
unsigned httpd_connection_count(const struct httpd *s);

/* ---- request parsing, apart from the sockets (unit-tested and fuzzed) ---- */

enum {
        HTTPD_PARSE_INCOMPLETE = 0, /* more bytes needed */
        HTTPD_PARSE_DONE = 1,       /* a whole request (head and body) */
};

struct httpd_parsed {
        struct httpd_request req;
        size_t consumed; /* bytes of the buffer this request used */
        bool keep_alive; /* the client wants the connection kept */
        char *storage;   /* these own the strings the request points to */
        char *body_storage;
        struct httpd_header *header_storage;
};

/* Parses one request from the start of buf (len bytes). Returns HTTPD_PARSE_DONE with *ret
 * filled (free with httpd_parsed_done()), HTTPD_PARSE_INCOMPLETE, or the HTTP status with which
 * to refuse it (>= 400; the connection is closed after that answer). -ENOMEM aside. */
int httpd_parse_request(const char *buf, size_t len, struct httpd_parsed *ret);
void httpd_parsed_done(struct httpd_parsed *p);

/* The value of header name (case-insensitive), NULL when absent. */
const char *httpd_request_header(const struct httpd_request *req, const char *name);
/* The percent-decoded value of query parameter key: 1 and *ret (malloc'ed) when present (""
 * for "key" or "key="), 0 when absent, -EINVAL when it does not decode to text without NUL. */
int httpd_query_param(const char *query, const char *key, char **ret);
/* "OK", "Not Found", ...; a generic phrase for codes without one. */
const char *httpd_reason_phrase(int status);
