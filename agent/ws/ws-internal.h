/* Private to agent/ws: the HTTP/1.1 upgrade (request, response head, refusal bodies) and
 * a hook that runs the client over an in-memory transport for the fuzzer. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecs/strbuf.h"
#include "ecs/ws.h"

#define WS_KEY_LEN    24 /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

struct ws_url {
        char *http_url; /* what ecs_raw_connect dials: ws -> http, wss -> https */
        char *host;     /* Host header value, with the port when it is not the default */
        char *target;   /* request target: path[?query] */
};

int ws_url_parse(const char *url, struct ws_url *ret);
void ws_url_done(struct ws_url *u);

int ws_key_generate(char key[static WS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept a server must answer for key (RFC 6455 §4.2.2). */
int ws_accept_compute(const char *key, char accept[static WS_ACCEPT_LEN + 1]);

/* The GET upgrade request; -EINVAL when an extra header could smuggle CR/LF or is not
 * "Name: value". */
int ws_request_build(const struct ws_url *u, const char *key, char *const *extra_headers,
                     struct strbuf *out);

struct ws_http_head {
        long status;
        bool upgrade_websocket;  /* Upgrade: websocket */
        bool connection_upgrade; /* Connection has the "upgrade" token */
        bool has_accept;
        char accept[WS_ACCEPT_LEN + 1]; /* valid when has_accept */
        bool has_extensions;            /* we offer none, so any answer is an error */
        bool has_protocol;
        bool chunked;
        bool has_content_length;
        uint64_t content_length;
};

/* Parses a response head (status line, headers, the empty line; data[len] need not be NUL).
 * -EBADMSG when malformed, -E2BIG when it has too many headers. */
int ws_http_head_parse(const char *data, size_t len, struct ws_http_head *ret);

/* Decodes a chunked body from the start. Returns 1 when the last chunk was seen or out is
 * full (out->max), 0 when more input is needed, -EBADMSG when malformed. out is cleared
 * first and holds what could be decoded. */
int ws_chunked_decode(const char *data, size_t len, struct strbuf *out);

/* For the fuzzer: a client on an already connected transport, with the fixed key of RFC
 * 6455 §1.3 ("dGhlIHNhbXBsZSBub25jZQ==", accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), that
 * has just sent its upgrade request. ws_client_pump() runs one read/write pass as if the
 * socket had become ready; no fd is watched and no timer fires unless the loop runs. */
typedef CURLcode (*ws_recv_fn)(CURL *handle, void *buf, size_t len, size_t *n);
typedef CURLcode (*ws_send_fn)(CURL *handle, const void *buf, size_t len, size_t *n);
int ws_client_new_on_transport(struct ecs_loop *loop, const struct ws_options *opts,
                               const struct ws_callbacks *cb, void *userdata, ws_recv_fn recv,
                               ws_send_fn send, void *handle, struct ws_client **ret);
void ws_client_pump(struct ws_client *ws);
