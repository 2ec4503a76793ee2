/* WebSocket client (RFC 6455) for the ACS and TCS sessions: wslay framing over a raw
 * libcurl connection (TCP, or TLS for wss), driven by the agent's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ecs_loop;
struct ws_client;

enum ws_close_reason {
        WS_CLOSED_BY_PEER,  /* close frame received; code holds the peer's status */
        WS_CLOSED_BY_US,    /* ws_client_close() completed */
        WS_CONNECTION_LOST, /* EOF or socket error without a close frame (code 1006) */
        WS_PROTOCOL_ERROR,  /* peer broke the framing rules or a limit */
};

struct ws_callbacks {
        /* The upgrade succeeded (101 with a valid Sec-WebSocket-Accept). */
        void (*on_open)(struct ws_client *ws, void *userdata);
        /* Upgrade refused or connect failed: error < 0; http_status and body are those of
         * the refusal when there was an HTTP answer (0 / NULL otherwise). ACS delivers
         * InactiveInstanceException this way.
         * error is -ECONNREFUSED for a non-101 answer (body: up to 64 KiB, Content-Length,
         * chunked or until close), -EPROTO for a 101 that is not a valid WebSocket answer
         * (Upgrade, Connection, Sec-WebSocket-Accept), -ETIMEDOUT when connect_timeout_usec
         * ran out, -E2BIG for a response head over 16 KiB, else a transport error. */
        void (*on_connect_error)(struct ws_client *ws, int error, long http_status,
                                 const char *body, void *userdata);
        /* One complete text or binary message (fragments reassembled). data is not
         * NUL-terminated and is valid only during the call. */
        void (*on_message)(struct ws_client *ws, const char *data, size_t len, bool binary,
                           void *userdata);
        /* The connection is over; the client may be freed from inside this callback.
         * Called exactly once after on_open. code: BY_PEER the peer's status (1005 when its
         * close frame had none); BY_US the status the peer echoed (else the one we sent);
         * CONNECTION_LOST 1006 (also when the peer did not answer our close within 5 s);
         * PROTOCOL_ERROR the status we closed with (1009 message too big, 1002, 1007;
         * 1006 when our close frame could not be sent). */
        void (*on_close)(struct ws_client *ws, enum ws_close_reason reason, uint16_t code,
                         void *userdata);
};

struct ws_options {
        const char *url;               /* ws://, wss://, http:// or https:// (mapped) */
        char *const *extra_headers;    /* "Name: value" sent with the upgrade (SigV4) */
        uint64_t connect_timeout_usec; /* TCP+TLS+upgrade; default 30 s */
        size_t max_message;            /* default 4 MiB; larger messages close with 1009 */
};

/* Starts connecting; every outcome arrives through the callbacks, never from inside this
 * call. -EINVAL for a bad URL or an extra header that is not "Name: value" or holds CR/LF.
 * An extra "Host" header replaces the one derived from the URL (host[:port], the port only
 * when it is not the scheme's default). */
int ws_client_new(struct ecs_loop *loop, const struct ws_options *opts,
                  const struct ws_callbacks *cb, void *userdata, struct ws_client **ret);
/* Drops the connection without a closing handshake; no callback follows. Safe from inside
 * any callback of this client (the memory is released when the callback returns). */
struct ws_client *ws_client_free(struct ws_client *ws);
/* After on_connect_error for a transport failure: the loop's description of it (peer, what
 * failed, why; include/ecs/loop.h), else NULL. Valid until the client is freed. */
const char *ws_client_connect_error(const struct ws_client *ws);
/* Queues a text message; -ENOTCONN when not open. Writes never block the loop. */
int ws_client_send_text(struct ws_client *ws, const char *data, size_t len);
/* Starts the closing handshake with code and reason; on_close follows. */
/* -EINVAL for a status that may not be sent (RFC 6455 §7.4), -EALREADY when closing,
 * -ENOTCONN when not open or the peer's close came first. reason is cut to 123 bytes. */
int ws_client_close(struct ws_client *ws, uint16_t code, const char *reason);
/* Bytes queued but not yet written to the socket. */
/* (An upper bound: a message counts in full until its last byte is handed to the socket.) */
size_t ws_client_pending(struct ws_client *ws);
