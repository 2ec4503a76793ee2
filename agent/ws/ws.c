/* WebSocket client (RFC 6455) for ACS and TCS. ecs_raw_connect() gives us a connected
 * TCP or TLS stream (libcurl CONNECT_ONLY); we write the HTTP/1.1 upgrade ourselves, read
 * the answer, and then let wslay's event API do the framing. Everything runs from
 * sd-event callbacks of the agent's one loop and nothing blocks: a read or write that
 * would block (CURLE_AGAIN) simply ends the pass until epoll reports the fd ready. */
#include <curl/curl.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <wslay/wslay.h>

#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/strbuf.h"
#include "ecs/ws.h"
#include "ws-internal.h"

#define WS_DEFAULT_CONNECT_TIMEOUT (30 * USEC_PER_SEC)
#define WS_DEFAULT_MAX_MESSAGE     (4u * 1024 * 1024)
#define WS_MAX_HEADER_BYTES        (16u * 1024)
#define WS_MAX_REFUSAL_BODY        (64u * 1024)
/* Raw chunked refusal bodies: room for the body plus chunk framing. */
#define WS_MAX_REFUSAL_RAW (WS_MAX_REFUSAL_BODY + 16u * 1024)
#define WS_IO_CHUNK        (16u * 1024)
#define WS_OUT_BUFFER      (16u * 1024)
/* Bytes read per loop iteration before yielding, so a peer that sends without pause cannot
 * starve heartbeats and the metadata endpoints. */
#define WS_READ_BUDGET (1u * 1024 * 1024)
/* How long we wait for the peer to answer our close frame, or to take our last frames. */
#define WS_CLOSE_TIMEOUT (5 * USEC_PER_SEC)

#define WS_CODE_ABNORMAL       1006
#define WS_CODE_PROTOCOL_ERROR 1002
#define WS_CODE_NO_STATUS      1005

/* The example key of RFC 6455 §1.3, used only by the fuzzing hook. */
#define WS_FIXED_KEY "dGhlIHNhbXBsZSBub25jZQ=="

enum ws_state {
        WS_STATE_CONNECTING,   /* TCP (+TLS) through ecs_raw_connect() */
        WS_STATE_UPGRADE_SEND, /* writing the GET upgrade request */
        WS_STATE_UPGRADE_RECV, /* reading the response head */
        WS_STATE_REFUSAL_BODY, /* not 101: reading the body for on_connect_error */
        WS_STATE_OPEN,         /* framing through wslay */
        WS_STATE_CLOSING,      /* ws_client_close() queued our close frame */
        WS_STATE_DONE,         /* on_connect_error or on_close delivered; all released */
};

struct ws_client {
        struct ecs_loop *loop;
        struct ws_callbacks cb;
        void *userdata;
        enum ws_state state;
        uint64_t connect_timeout_usec;
        size_t max_message;

        struct ecs_http_call *connect_call;
        CURL *easy; /* the raw connection we own (NULL for a test transport) */
        void *handle;
        ws_recv_fn recv;
        ws_send_fn send;
        sd_event_source *io_source;
        uint32_t io_events;
        sd_event_source *timer; /* connect timeout, then the closing timeout */
        sd_event_source *defer; /* continues reading after the read budget ran out */

        char key[WS_KEY_LEN + 1];
        char accept[WS_ACCEPT_LEN + 1];
        struct strbuf request;
        size_t request_sent;
        struct strbuf in; /* response head; then the bytes that followed it, for wslay */
        size_t in_off;
        struct ws_http_head head;
        struct strbuf body; /* of a refusal */

        wslay_event_context_ptr ctx;
        /* Frames are staged here and written from here. A TLS write that would block must be
         * retried with the same bytes at the same address (OpenSSL's rule), so nothing is
         * appended or moved until the buffer is drained. */
        uint8_t *out;
        size_t out_off, out_len;
        size_t read_budget;
        bool read_more;

        bool eof;
        int io_error;
        char errbuf[CURL_ERROR_SIZE];
        char *connect_error; /* what the raw connect said when it failed */
        bool protocol_error;
        bool close_requested;
        uint16_t close_code;
        bool closing_timer; /* WS_CLOSE_TIMEOUT is running */

        unsigned dispatching; /* > 0 while one of our handlers is on the stack */
        bool free_requested;  /* ws_client_free() inside a callback: free on the way out */
};

static void ws_client_pump_one(struct ws_client *ws);

static int curl_to_errno(CURLcode c)
{
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
                return -ECONNRESET;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static void ws_release(struct ws_client *ws)
{
        ws->io_source = sd_event_source_disable_unref(ws->io_source);
        ws->timer = sd_event_source_disable_unref(ws->timer);
        ws->defer = sd_event_source_disable_unref(ws->defer);
        if (ws->connect_call) {
                ecs_http_call_cancel(ws->connect_call);
                ws->connect_call = NULL;
        }
        if (ws->ctx) {
                wslay_event_context_free(ws->ctx);
                ws->ctx = NULL;
        }
        if (ws->easy) {
                ecs_raw_conn_free(ws->easy);
                ws->easy = NULL;
        }
        ws->handle = NULL;
        ws->out = mfree(ws->out);
        ws->out_off = ws->out_len = 0;
        strbuf_done(&ws->request);
        strbuf_done(&ws->in);
        strbuf_done(&ws->body);
}

static void ws_destroy(struct ws_client *ws)
{
        ws_release(ws);
        free(ws->connect_error);
        free(ws);
}

const char *ws_client_connect_error(const struct ws_client *ws)
{
        return ws ? ws->connect_error : NULL;
}

static void ws_destroyp(struct ws_client **ws)
{
        if (*ws)
                ws_destroy(*ws);
}

static void ws_enter(struct ws_client *ws)
{
        ws->dispatching++;
}

static void ws_leave(struct ws_client *ws)
{
        if (--ws->dispatching == 0 && ws->free_requested)
                ws_destroy(ws);
}

static void ws_set_events(struct ws_client *ws, uint32_t events)
{
        int r;

        if (!ws->io_source || ws->io_events == events)
                return;
        r = sd_event_source_set_io_events(ws->io_source, events);
        if (r < 0) {
                log_debug_errno(r, "WebSocket: failed to update watched events: %m");
                if (ws->io_error == 0)
                        ws->io_error = r;
                return;
        }
        ws->io_events = events;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int ws_arm_timer(struct ws_client *ws, uint64_t usec)
{
        ws->timer = sd_event_source_disable_unref(ws->timer);
        return ecs_loop_add_timer(ws->loop, usec, on_timer, ws, &ws->timer);
}

/* The connection attempt is over without an open WebSocket. Takes body. */
static void ws_connect_fail(struct ws_client *ws, int error, long status, char *body)
{
        log_debug_errno(error, "WebSocket: connect failed (HTTP %ld): %m", status);
        ws->state = WS_STATE_DONE;
        ws_release(ws);
        if (!ws->free_requested && ws->cb.on_connect_error)
                ws->cb.on_connect_error(ws, error, status, body, ws->userdata);
        free(body);
}

static void ws_finish(struct ws_client *ws, enum ws_close_reason reason, uint16_t code)
{
        log_debug("WebSocket: closed (reason %d, code %u)", (int)reason, code);
        ws->state = WS_STATE_DONE;
        ws_release(ws);
        if (!ws->free_requested && ws->cb.on_close)
                ws->cb.on_close(ws, reason, code, ws->userdata);
}

/* Decides how an open connection ended, from what was sent and received. */
static void ws_conclude(struct ws_client *ws)
{
        wslay_event_context_ptr ctx = ws->ctx;

        if (wslay_event_get_close_received(ctx)) {
                ws_finish(ws, ws->close_requested ? WS_CLOSED_BY_US : WS_CLOSED_BY_PEER,
                          wslay_event_get_status_code_received(ctx));
        } else if (ws->close_requested && wslay_event_get_close_sent(ctx) && ws->eof) {
                /* The peer closed the stream instead of answering our close frame. */
                ws_finish(ws, WS_CLOSED_BY_US, ws->close_code);
        } else if (ws->protocol_error) {
                uint16_t code = WS_CODE_ABNORMAL;
                if (wslay_event_get_close_sent(ctx)) {
                        code = wslay_event_get_status_code_sent(ctx);
                        /* wslay answers framing errors with an empty close frame */
                        if (code == WS_CODE_NO_STATUS)
                                code = WS_CODE_PROTOCOL_ERROR;
                }
                ws_finish(ws, WS_PROTOCOL_ERROR, code);
        } else
                ws_finish(ws, WS_CONNECTION_LOST, WS_CODE_ABNORMAL);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct ws_client *ws = userdata;

        ws_enter(ws);
        switch (ws->state) {
        case WS_STATE_CONNECTING:
        case WS_STATE_UPGRADE_SEND:
        case WS_STATE_UPGRADE_RECV:
                ws_connect_fail(ws, -ETIMEDOUT, 0, NULL);
                break;
        case WS_STATE_REFUSAL_BODY:
                /* We have the status; the rest of the body is not worth waiting for. */
                ws_connect_fail(ws, -ECONNREFUSED, ws->head.status, strbuf_steal(&ws->body));
                break;
        case WS_STATE_OPEN:
        case WS_STATE_CLOSING:
                log_debug("WebSocket: closing handshake timed out");
                if (!wslay_event_get_close_received(ws->ctx) && !ws->protocol_error)
                        ws_finish(ws, WS_CONNECTION_LOST, WS_CODE_ABNORMAL);
                else
                        ws_conclude(ws);
                break;
        case WS_STATE_DONE:
                break;
        }
        ws_leave(ws);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata)
{
        ws_client_pump(userdata);
        return 0;
}

/* wslay's transport callbacks: reads come first from the bytes that arrived with the 101,
 * then from the connection; writes go to the staging buffer. */
static ssize_t wslay_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *userdata)
{
        struct ws_client *ws = userdata;
        size_t n = 0;

        if (ws->in_off < ws->in.len) {
                n = MIN(len, ws->in.len - ws->in_off);
                memcpy(buf, ws->in.data + ws->in_off, n);
                ws->in_off += n;
                if (ws->in_off == ws->in.len) {
                        strbuf_done(&ws->in);
                        ws->in_off = 0;
                }
                return (ssize_t)n;
        }
        if (ws->read_budget == 0) {
                ws->read_more = true;
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        CURLcode c = ws->recv(ws->handle, buf, MIN(len, ws->read_budget), &n);
        if (c == CURLE_AGAIN) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        if (c != CURLE_OK || n == 0) {
                if (c == CURLE_OK)
                        ws->eof = true;
                else {
                        ws->io_error = curl_to_errno(c);
                        log_debug("WebSocket: receive failed: %s", ws->errbuf);
                }
                wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
                return -1;
        }
        ws->read_budget -= n;
        return (ssize_t)n;
}

static ssize_t wslay_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *userdata)
{
        struct ws_client *ws = userdata;
        size_t room = WS_OUT_BUFFER - ws->out_len;

        if (room == 0) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        size_t n = MIN(room, len);
        memcpy(ws->out + ws->out_len, data, n);
        ws->out_len += n;
        return (ssize_t)n;
}

static int wslay_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *userdata)
{
        if (RAND_bytes(buf, (int)len) != 1) {
                wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
                return -1;
        }
        return 0;
}

static void wslay_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                         void *userdata)
{
        struct ws_client *ws = userdata;

        if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
                return; /* wslay answers pings and close frames itself */
        if (ws->free_requested || !ws->cb.on_message)
                return;
        ws->cb.on_message(ws, arg->msg ? (const char *)arg->msg : "", arg->msg_length,
                          arg->opcode == WSLAY_BINARY_FRAME, ws->userdata);
        if (ws->free_requested)
                wslay_event_shutdown_read(ctx); /* deliver nothing more from this read */
}

static bool ws_want_write(struct ws_client *ws)
{
        return ws->out_off < ws->out_len || wslay_event_want_write(ws->ctx);
}

static void frames_read(struct ws_client *ws)
{
        int r;

        ws->read_budget = WS_READ_BUDGET;
        ws->read_more = false;
        r = wslay_event_recv(ws->ctx);
        if (ws->free_requested)
                return;
        if (!wslay_event_get_read_enabled(ws->ctx) && !wslay_event_get_close_received(ws->ctx) &&
            !ws->eof && ws->io_error == 0) {
                log_debug("WebSocket: peer broke the protocol or a limit (%d)", r);
                ws->protocol_error = true;
        }
        /* With TLS, decrypted bytes may wait inside OpenSSL while the fd is quiet: when we
         * stopped early, come back on the next iteration instead of waiting for epoll. */
        if (ws->read_more && ws->defer)
                (void)sd_event_source_set_enabled(ws->defer, SD_EVENT_ONESHOT);
}

static void frames_write(struct ws_client *ws)
{
        for (;;) {
                if (ws->out_off == ws->out_len) {
                        ws->out_off = ws->out_len = 0;
                        if (!wslay_event_want_write(ws->ctx))
                                return;
                        if (wslay_event_send(ws->ctx) < 0) {
                                if (ws->io_error == 0)
                                        ws->io_error = -EIO;
                                return;
                        }
                        if (ws->out_len == 0)
                                return;
                }
                size_t n = 0;
                CURLcode c =
                    ws->send(ws->handle, ws->out + ws->out_off, ws->out_len - ws->out_off, &n);
                if (c == CURLE_AGAIN)
                        return;
                if (c != CURLE_OK) {
                        ws->io_error = curl_to_errno(c);
                        log_debug("WebSocket: send failed: %s", ws->errbuf);
                        return;
                }
                ws->out_off += n;
        }
}

/* After a pass: finish when the connection is over, else watch what is still wanted. */
static void frames_check(struct ws_client *ws)
{
        bool want_read = wslay_event_want_read(ws->ctx);
        bool want_write = ws_want_write(ws);

        if (ws->eof || ws->io_error != 0 || (!want_read && !want_write)) {
                ws_conclude(ws);
                return;
        }
        /* Reading is over (their close frame, or a limit they broke): only our last frames
         * are left, and a peer that stops reading must not keep us forever. */
        if (!want_read && !ws->closing_timer) {
                if (ws_arm_timer(ws, WS_CLOSE_TIMEOUT) < 0) {
                        ws_conclude(ws);
                        return;
                }
                ws->closing_timer = true;
        }
        ws_set_events(ws, (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0));
}

static void frames_io(struct ws_client *ws)
{
        if (wslay_event_want_read(ws->ctx))
                frames_read(ws);
        if (ws->free_requested)
                return;
        if (!ws->eof && ws->io_error == 0)
                frames_write(ws);
        frames_check(ws);
}

static int frames_init(struct ws_client *ws)
{
        static const struct wslay_event_callbacks callbacks = {
            .recv_callback = wslay_recv_cb,
            .send_callback = wslay_send_cb,
            .genmask_callback = wslay_genmask_cb,
            .on_msg_recv_callback = wslay_msg_cb,
        };
        int r;

        ws->out = malloc(WS_OUT_BUFFER);
        if (!ws->out)
                return -ENOMEM;
        if (wslay_event_context_client_init(&ws->ctx, &callbacks, ws) != 0)
                return -ENOMEM;
        wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_message);
        r = sd_event_add_defer(ecs_loop_event(ws->loop), &ws->defer, on_defer, ws);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(ws->defer, SD_EVENT_OFF);
}

static void upgrade_complete(struct ws_client *ws)
{
        const struct ws_http_head *h = &ws->head;
        int r;

        if (!h->upgrade_websocket || !h->connection_upgrade || !h->has_accept ||
            !streq(h->accept, ws->accept) || h->has_extensions || h->has_protocol) {
                log_debug("WebSocket: invalid 101 answer (upgrade=%d connection=%d accept=%s)",
                          h->upgrade_websocket, h->connection_upgrade,
                          h->has_accept ? h->accept : "none");
                ws_connect_fail(ws, -EPROTO, h->status, NULL);
                return;
        }
        r = frames_init(ws);
        if (r < 0) {
                ws_connect_fail(ws, r, 0, NULL);
                return;
        }
        ws->timer = sd_event_source_disable_unref(ws->timer);
        ws->state = WS_STATE_OPEN;
        ws->in_off = 0; /* what followed the head in ws->in is the start of the first frame */
        ws_set_events(ws, EPOLLIN);
        if (ws->cb.on_open)
                ws->cb.on_open(ws, ws->userdata);
        if (ws->free_requested)
                return;
        frames_io(ws);
}

static void refusal_input(struct ws_client *ws, const char *data, size_t n)
{
        const struct ws_http_head *h = &ws->head;
        bool complete;
        int r;

        if (h->status < 200 || h->status == 204 || h->status == 304)
                complete = true;
        else if (h->chunked) {
                size_t take = MIN(n, WS_MAX_REFUSAL_RAW - ws->in.len);
                r = strbuf_append(&ws->in, data, take);
                if (r >= 0)
                        r = ws_chunked_decode(ws->in.data ? ws->in.data : "", ws->in.len,
                                              &ws->body);
                /* a malformed body still leaves what could be decoded */
                complete = r != 0 || ws->in.len >= WS_MAX_REFUSAL_RAW;
        } else {
                uint64_t want = h->has_content_length
                                    ? MIN(h->content_length, (uint64_t)WS_MAX_REFUSAL_BODY)
                                    : WS_MAX_REFUSAL_BODY; /* or until the peer closes */
                size_t take = (size_t)MIN((uint64_t)n, want - ws->body.len);
                (void)strbuf_append(&ws->body, data, take);
                complete = ws->body.len >= want;
        }
        if (complete)
                ws_connect_fail(ws, -ECONNREFUSED, h->status, strbuf_steal(&ws->body));
}

static void upgrade_input(struct ws_client *ws, const char *data, size_t n)
{
        int r;

        if (ws->state == WS_STATE_REFUSAL_BODY) {
                refusal_input(ws, data, n);
                return;
        }
        r = strbuf_append(&ws->in, data, n);
        if (r < 0) {
                ws_connect_fail(ws, r, 0, NULL);
                return;
        }
        const char *end = memmem(ws->in.data, ws->in.len, "\r\n\r\n", 4);
        size_t head_len = end ? (size_t)(end + 4 - ws->in.data) : 0;
        if (!end || head_len > WS_MAX_HEADER_BYTES) {
                if (!end && ws->in.len <= WS_MAX_HEADER_BYTES)
                        return;
                ws_connect_fail(ws, -E2BIG, 0, NULL);
                return;
        }
        r = ws_http_head_parse(ws->in.data, head_len, &ws->head);
        if (r < 0) {
                ws_connect_fail(ws, r, 0, NULL);
                return;
        }
        strbuf_consume(&ws->in, head_len);
        if (ws->head.status == 101) {
                upgrade_complete(ws);
                return;
        }

        /* What came with the head is the start of the body; ws->in now keeps the raw body
         * of a chunked answer. */
        struct strbuf rest = ws->in;
        ws->in = STRBUF_INIT(WS_MAX_REFUSAL_RAW);
        ws->state = WS_STATE_REFUSAL_BODY;
        refusal_input(ws, rest.data, rest.len);
        strbuf_done(&rest);
}

static int upgrade_send(struct ws_client *ws)
{
        while (ws->request_sent < ws->request.len) {
                size_t n = 0;
                CURLcode c = ws->send(ws->handle, ws->request.data + ws->request_sent,
                                      ws->request.len - ws->request_sent, &n);
                if (c == CURLE_AGAIN)
                        return 0;
                if (c != CURLE_OK)
                        return curl_to_errno(c);
                ws->request_sent += n;
        }
        return 1;
}

static void upgrade_io(struct ws_client *ws)
{
        int r;

        if (ws->state == WS_STATE_UPGRADE_SEND) {
                r = upgrade_send(ws);
                if (r < 0) {
                        ws_connect_fail(ws, r, 0, NULL);
                        return;
                }
                if (r == 0) {
                        ws_set_events(ws, EPOLLOUT);
                        return;
                }
                strbuf_done(&ws->request);
                ws->state = WS_STATE_UPGRADE_RECV;
                ws_set_events(ws, EPOLLIN);
        }
        /* Read until CURLE_AGAIN: with TLS, OpenSSL may hold bytes the fd no longer shows. */
        while (!ws->free_requested &&
               (ws->state == WS_STATE_UPGRADE_RECV || ws->state == WS_STATE_REFUSAL_BODY)) {
                char buf[WS_IO_CHUNK];
                size_t n = 0;
                CURLcode c = ws->recv(ws->handle, buf, sizeof(buf), &n);
                if (c == CURLE_AGAIN)
                        return;
                if (c == CURLE_OK && n > 0) {
                        upgrade_input(ws, buf, n);
                        continue;
                }
                r = c == CURLE_OK ? -ECONNRESET : curl_to_errno(c);
                if (ws->state == WS_STATE_REFUSAL_BODY) /* the body ends with the stream */
                        ws_connect_fail(ws, -ECONNREFUSED, ws->head.status,
                                        strbuf_steal(&ws->body));
                else
                        ws_connect_fail(ws, r, 0, NULL);
        }
}

/* One pass of whatever the current state needs, as if the socket became ready. */
static void ws_client_pump_one(struct ws_client *ws)
{
        switch (ws->state) {
        case WS_STATE_UPGRADE_SEND:
        case WS_STATE_UPGRADE_RECV:
        case WS_STATE_REFUSAL_BODY:
                upgrade_io(ws);
                break;
        case WS_STATE_OPEN:
        case WS_STATE_CLOSING:
                frames_io(ws);
                break;
        case WS_STATE_CONNECTING:
        case WS_STATE_DONE:
                break;
        }
}

void ws_client_pump(struct ws_client *ws)
{
        ws_enter(ws);
        ws_client_pump_one(ws);
        ws_leave(ws);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        ws_client_pump(userdata);
        return 0;
}

static void on_raw_connected(int error, const char *error_text, CURL *easy, int fd, void *userdata)
{
        struct ws_client *ws = userdata;
        int r;

        ws->connect_call = NULL; /* finished: the loop has released it */
        ws_enter(ws);
        if (error < 0) {
                free(ws->connect_error);
                ws->connect_error = error_text ? strdup(error_text) : NULL;
                ws_connect_fail(ws, error, 0, NULL);
                goto out;
        }
        ws->easy = easy;
        ws->handle = easy;
        /* The handle arrives with CURLOPT_ERRORBUFFER still pointing into the connect call,
         * which is gone: libcurl writes there when curl_easy_recv/send fail. */
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, ws->errbuf);
        r = sd_event_add_io(ecs_loop_event(ws->loop), &ws->io_source, fd, EPOLLOUT, on_io, ws);
        if (r < 0) {
                ws_connect_fail(ws, r, 0, NULL);
                goto out;
        }
        ws->io_events = EPOLLOUT;
        ws->state = WS_STATE_UPGRADE_SEND;
        ws_client_pump_one(ws);
out:
        ws_leave(ws);
}

static int ws_client_alloc(struct ecs_loop *loop, const struct ws_options *opts,
                           const struct ws_callbacks *cb, void *userdata, const char *key,
                           struct ws_client **ret)
{
        _cleanup_(ws_destroyp) struct ws_client *ws = NULL;
        _cleanup_(ws_url_done) struct ws_url u = {0};
        int r;

        if (!loop || !opts || !cb || !ret)
                return -EINVAL;
        r = ws_url_parse(opts->url, &u);
        if (r < 0)
                return r;
        ws = calloc(1, sizeof(*ws));
        if (!ws)
                return -ENOMEM;
        ws->loop = loop;
        ws->cb = *cb;
        ws->userdata = userdata;
        ws->connect_timeout_usec =
            opts->connect_timeout_usec ? opts->connect_timeout_usec : WS_DEFAULT_CONNECT_TIMEOUT;
        ws->max_message = opts->max_message ? opts->max_message : WS_DEFAULT_MAX_MESSAGE;
        ws->in = STRBUF_INIT(WS_MAX_HEADER_BYTES + WS_IO_CHUNK);
        ws->body = STRBUF_INIT(WS_MAX_REFUSAL_BODY);
        ws->recv = curl_easy_recv;
        ws->send = curl_easy_send;

        if (key)
                snprintf(ws->key, sizeof(ws->key), "%s", key);
        else {
                r = ws_key_generate(ws->key);
                if (r < 0)
                        return r;
        }
        r = ws_accept_compute(ws->key, ws->accept);
        if (r < 0)
                return r;
        r = ws_request_build(&u, ws->key, opts->extra_headers, &ws->request);
        if (r < 0)
                return r;
        if (!key) {
                r = ecs_raw_connect(loop, u.http_url, ws->connect_timeout_usec, on_raw_connected,
                                    ws, &ws->connect_call);
                if (r < 0)
                        return r;
        }
        r = ws_arm_timer(ws, ws->connect_timeout_usec);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ws);
        return 0;
}

int ws_client_new(struct ecs_loop *loop, const struct ws_options *opts,
                  const struct ws_callbacks *cb, void *userdata, struct ws_client **ret)
{
        return ws_client_alloc(loop, opts, cb, userdata, NULL, ret);
}

int ws_client_new_on_transport(struct ecs_loop *loop, const struct ws_options *opts,
                               const struct ws_callbacks *cb, void *userdata, ws_recv_fn recv,
                               ws_send_fn send, void *handle, struct ws_client **ret)
{
        struct ws_client *ws = NULL;
        int r;

        if (!recv || !send)
                return -EINVAL;
        r = ws_client_alloc(loop, opts, cb, userdata, WS_FIXED_KEY, &ws);
        if (r < 0)
                return r;
        ws->recv = recv;
        ws->send = send;
        ws->handle = handle;
        ws->state = WS_STATE_UPGRADE_SEND;
        *ret = ws;
        return 0;
}

struct ws_client *ws_client_free(struct ws_client *ws)
{
        if (!ws)
                return NULL;
        if (ws->dispatching > 0) {
                /* Inside one of our handlers (perhaps inside wslay): silence every callback
                 * and let the outermost handler free on its way out. */
                ws->free_requested = true;
                if (ws->ctx)
                        wslay_event_shutdown_read(ws->ctx);
                return NULL;
        }
        ws_destroy(ws);
        return NULL;
}

static void ws_kick(struct ws_client *ws)
{
        /* The next pass writes; inside a pass, frames_check() sets the final mask. */
        ws_set_events(ws, ws->io_events | EPOLLOUT);
}

int ws_client_send_text(struct ws_client *ws, const char *data, size_t len)
{
        int r;

        if (!ws || (!data && len > 0))
                return -EINVAL;
        if (ws->state != WS_STATE_OPEN || ws->free_requested)
                return -ENOTCONN;
        struct wslay_event_msg msg = {
            .opcode = WSLAY_TEXT_FRAME,
            .msg = (const uint8_t *)data,
            .msg_length = len,
        };
        r = wslay_event_queue_msg(ws->ctx, &msg);
        if (r == WSLAY_ERR_NO_MORE_MSG)
                return -ENOTCONN; /* a close frame is already on its way */
        if (r == WSLAY_ERR_NOMEM)
                return -ENOMEM;
        if (r != 0)
                return -EINVAL;
        ws_kick(ws);
        return 0;
}

static bool close_code_sendable(uint16_t code)
{
        /* RFC 6455 §7.4: 1004-1006 and 1015 are never sent; 1012-2999 are reserved. */
        return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
               (code >= 3000 && code <= 4999);
}

int ws_client_close(struct ws_client *ws, uint16_t code, const char *reason)
{
        size_t len = reason ? strlen(reason) : 0;
        int r;

        if (!ws || !close_code_sendable(code))
                return -EINVAL;
        if (ws->state == WS_STATE_CLOSING)
                return -EALREADY;
        if (ws->state != WS_STATE_OPEN || ws->free_requested)
                return -ENOTCONN;
        /* A close frame has room for 123 bytes of reason; cut at a UTF-8 boundary. */
        if (len > 123) {
                len = 123;
                while (len > 0 && ((uint8_t)reason[len] & 0xc0) == 0x80)
                        len--;
        }
        r = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, len);
        if (r == WSLAY_ERR_NO_MORE_MSG)
                return -ENOTCONN; /* the peer's close arrived first; on_close follows */
        if (r != 0)
                return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EINVAL;
        ws->close_requested = true;
        ws->close_code = code;
        ws->state = WS_STATE_CLOSING;
        r = ws_arm_timer(ws, WS_CLOSE_TIMEOUT);
        if (r < 0)
                log_debug_errno(r, "WebSocket: failed to arm the closing timer: %m");
        else
                ws->closing_timer = true;
        ws_kick(ws);
        return 0;
}

size_t ws_client_pending(struct ws_client *ws)
{
        if (!ws || !ws->ctx)
                return 0;
        return wslay_event_get_queued_msg_length(ws->ctx) + (ws->out_len - ws->out_off);
}
