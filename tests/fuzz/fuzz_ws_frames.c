/* Feeds arbitrary bytes to the WebSocket client as the server's side of the stream, from
 * the upgrade answer on: the response head parser, refusal bodies (chunked too), and then
 * wslay's framing with our callbacks, limits and close logic. The client uses the fixed key
 * of RFC 6455 §1.3, so an input starting with
 *   "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
 *   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
 * reaches the frame parser. The first input byte chooses how the stream is cut into
 * reads and whether our writes block, so partial frames and retries are covered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/ws/ws-internal.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/ws.h"

#define FUZZ_MAX_MESSAGE 4096

struct stream {
        const uint8_t *data;
        size_t len, off;
        size_t chunk;      /* bytes per read */
        bool again;        /* alternate reads with CURLE_AGAIN */
        bool block_writes; /* every other write would block */
        unsigned n_recv, n_send;
};

struct outcome {
        int opened, errors, closes, messages;
        bool over, freed;
};

static CURLcode fuzz_recv(CURL *handle, void *buf, size_t len, size_t *n)
{
        struct stream *s = handle;

        if (s->again && (s->n_recv++ & 1))
                return CURLE_AGAIN;
        if (s->off == s->len) {
                *n = 0; /* end of stream */
                return CURLE_OK;
        }
        size_t k = s->len - s->off;
        if (k > len)
                k = len;
        if (k > s->chunk)
                k = s->chunk;
        memcpy(buf, s->data + s->off, k);
        s->off += k;
        *n = k;
        return CURLE_OK;
}

static CURLcode fuzz_send(CURL *handle, const void *buf, size_t len, size_t *n)
{
        struct stream *s = handle;

        if (s->block_writes && (s->n_send++ & 1))
                return CURLE_AGAIN;
        *n = len > 7 && s->block_writes ? len / 2 : len; /* partial writes too */
        return CURLE_OK;
}

static void on_open(struct ws_client *ws, void *ud)
{
        struct outcome *o = ud;
        if (o->opened++ || o->errors)
                abort();
        (void)ws_client_send_text(ws, "hello", 5);
}

static void on_connect_error(struct ws_client *ws, int error, long status, const char *body,
                             void *ud)
{
        struct outcome *o = ud;
        if (error >= 0 || o->opened || o->errors++ || (body && strlen(body) > 64 * 1024))
                abort();
        o->over = true;
}

static void on_message(struct ws_client *ws, const char *data, size_t len, bool binary, void *ud)
{
        struct outcome *o = ud;
        if (!o->opened || o->closes || len > FUZZ_MAX_MESSAGE)
                abort();
        o->messages++;
        if (len > 0 && data[0] == 'c')
                (void)ws_client_close(ws, 1000, "bye");
        else if (len > 0 && data[0] == 'f') {
                ws_client_free(ws); /* from inside wslay's callback */
                o->over = o->freed = true;
        } else
                (void)ws_client_send_text(ws, data, len);
}

static void on_close(struct ws_client *ws, enum ws_close_reason reason, uint16_t code, void *ud)
{
        struct outcome *o = ud;
        if (!o->opened || o->closes++)
                abort();
        o->over = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct ws_callbacks cb = {
            .on_open = on_open,
            .on_connect_error = on_connect_error,
            .on_message = on_message,
            .on_close = on_close,
        };
        struct ws_options opts = {.url = "ws://ecs.example.com/ws?x=1",
                                  .max_message = FUZZ_MAX_MESSAGE};
        struct ecs_loop *loop = NULL;
        struct ws_client *ws = NULL;
        struct outcome o = {0};

        if (size < 1)
                return 0;
        struct stream s = {
            .data = data + 1,
            .len = size - 1,
            .chunk = (size_t)(data[0] & 0x3f) + 1,
            .again = data[0] & 0x40,
            .block_writes = data[0] & 0x80,
        };
        log_set_max_level(LOG_LEVEL_NONE);
        if (ecs_loop_new(&loop) < 0)
                abort();
        if (ws_client_new_on_transport(loop, &opts, &cb, &o, fuzz_recv, fuzz_send, &s, &ws) < 0)
                abort();
        /* Each pass reads until the stream says "again"; the stream ends in EOF, so this
         * ends well before the bound unless the client stops making progress. */
        for (size_t i = 0; i < 4 * size + 64 && !o.over; i++)
                ws_client_pump(ws);
        if (!o.over)
                abort(); /* EOF must end the connection one way or another */
        if (!o.freed && o.errors + o.closes != 1)
                abort();
        if (!o.freed)
                ws_client_free(ws);
        ecs_loop_free(loop);
        return 0;
}
