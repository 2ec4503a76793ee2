/* Tests the WebSocket client against tests/unit/ws_test_server.py: python-websockets on
 * ws:// and wss:// (self-signed certificate made here with the openssl CLI), plus a raw
 * port with hand-made HTTP answers. Every check is made on what crossed the wire: the
 * server echoes, reports what it saw (headers, pongs, close codes), or misbehaves on
 * purpose.
 *
 * ECS_WS_IDLE_SECONDS=N additionally keeps a ws:// and a wss:// connection idle for N
 * seconds before using them (the libcurl connection-cache check; not run by default). */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/strbuf.h"
#include "ecs/ws.h"
#include "../../agent/ws/ws-internal.h"

static struct {
        pid_t pid;
        int ws_port, wss_port, raw_port;
        char dir[64];
} srv = {.pid = -1};

#define MAX_MSGS 8

struct tc {
        struct ecs_loop *loop;
        struct ws_client *ws;
        sd_event_source *guard;

        /* what happened */
        int opened;
        int n_connect_error;
        int connect_error;
        long http_status;
        char *body;
        int n_msgs;
        char *msgs[MAX_MSGS];
        size_t lens[MAX_MSGS];
        int n_close;
        enum ws_close_reason reason;
        uint16_t code;

        /* what to do */
        const char *send_on_open;
        size_t send_big; /* send a generated message of this size on open */
        bool close_on_open;
        uint16_t close_code;
        const char *close_reason;
        int close_after; /* ws_client_close() after this many messages */
        int exit_after;  /* stop the loop after this many messages */
        bool free_on_open, free_on_message, free_on_close, free_on_error;
};

static void big_fill(char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (char)('a' + (i * 7 + i / 26) % 26);
}

static int on_exit_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct tc *t = ud;
        ecs_loop_exit(t->loop, 0);
        return 0;
}

static int on_free_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct tc *t = ud;
        t->ws = ws_client_free(t->ws);
        return 0;
}

/* After an idle period: the connection must still carry a round trip. */
static int on_idle_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct tc *t = ud;
        assert_int_equal(t->opened, 1);
        assert_int_equal(t->n_close, 0);
        assert_int_equal(ws_client_send_text(t->ws, "still there", 11), 0);
        t->close_after = 1;
        t->close_code = 1000;
        return 0;
}

static void on_open(struct ws_client *ws, void *ud)
{
        struct tc *t = ud;

        t->opened++;
        if (t->free_on_open) {
                t->ws = ws_client_free(ws);
                ecs_loop_exit(t->loop, 0);
                return;
        }
        if (t->send_on_open)
                assert_int_equal(ws_client_send_text(ws, t->send_on_open, strlen(t->send_on_open)),
                                 0);
        if (t->send_big) {
                char *p = malloc(t->send_big);
                assert_non_null(p);
                big_fill(p, t->send_big);
                assert_int_equal(ws_client_send_text(ws, p, t->send_big), 0);
                free(p);
                assert_true(ws_client_pending(ws) >= t->send_big);
        }
        if (t->close_on_open)
                assert_int_equal(ws_client_close(ws, t->close_code, t->close_reason), 0);
}

static void on_connect_error(struct ws_client *ws, int error, long status, const char *body,
                             void *ud)
{
        struct tc *t = ud;

        t->n_connect_error++;
        t->connect_error = error;
        t->http_status = status;
        t->body = body ? strdup(body) : NULL;
        if (t->free_on_error)
                t->ws = ws_client_free(ws);
        ecs_loop_exit(t->loop, 0);
}

static void on_message(struct ws_client *ws, const char *data, size_t len, bool binary, void *ud)
{
        struct tc *t = ud;

        assert_false(binary);
        assert_true(t->n_msgs < MAX_MSGS);
        t->msgs[t->n_msgs] = strndup(data, len);
        t->lens[t->n_msgs] = len;
        t->n_msgs++;
        if (t->free_on_message) {
                t->ws = ws_client_free(ws);
                assert_int_equal(
                    ecs_loop_add_timer(t->loop, 100 * USEC_PER_MSEC, on_exit_timer, t, NULL), 0);
                return;
        }
        if (t->close_after && t->n_msgs == t->close_after)
                assert_int_equal(ws_client_close(ws, t->close_code, t->close_reason), 0);
        if (t->exit_after && t->n_msgs == t->exit_after)
                ecs_loop_exit(t->loop, 0);
}

static void on_close(struct ws_client *ws, enum ws_close_reason reason, uint16_t code, void *ud)
{
        struct tc *t = ud;

        t->n_close++;
        t->reason = reason;
        t->code = code;
        assert_int_equal(ws_client_send_text(ws, "late", 4), -ENOTCONN);
        if (t->free_on_close)
                t->ws = ws_client_free(ws);
        ecs_loop_exit(t->loop, 0);
}

static const struct ws_callbacks callbacks = {
    .on_open = on_open,
    .on_connect_error = on_connect_error,
    .on_message = on_message,
    .on_close = on_close,
};

static int on_guard(sd_event_source *s, uint64_t usec, void *ud)
{
        struct tc *t = ud;
        ecs_loop_exit(t->loop, -ETIMEDOUT);
        return 0;
}

static void tc_start(struct tc *t, const char *url, const struct ws_options *o, bool insecure)
{
        struct ws_options opts = o ? *o : (struct ws_options){0};

        opts.url = url;
        assert_int_equal(ecs_loop_new(&t->loop), 0);
        ecs_loop_set_insecure(t->loop, insecure);
        assert_int_equal(ecs_loop_add_timer(t->loop, 8 * USEC_PER_SEC, on_guard, t, &t->guard), 0);
        assert_int_equal(ws_client_new(t->loop, &opts, &callbacks, t, &t->ws), 0);
}

/* Runs until a callback stops the loop; fails the test if the guard timer fires. */
static void tc_run(struct tc *t)
{
        assert_int_equal(ecs_loop_run(t->loop), 0);
}

static void tc_done(struct tc *t)
{
        t->ws = ws_client_free(t->ws);
        sd_event_source_disable_unref(t->guard);
        t->loop = ecs_loop_free(t->loop);
        for (int i = 0; i < t->n_msgs; i++)
                free(t->msgs[i]);
        free(t->body);
}

static void url(char *buf, size_t n, const char *scheme, int port, const char *path)
{
        snprintf(buf, n, "%s://127.0.0.1:%d%s", scheme, port, path);
}

/* Opens a fresh connection to /lastclose?id=... and returns what the server recorded for
 * an earlier connection with that id ("code reason"). */
static char *server_close_record(const char *id)
{
        struct tc t = {.exit_after = 1};
        char u[128];

        snprintf(u, sizeof(u), "ws://127.0.0.1:%d/lastclose?id=%s", srv.ws_port, id);
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 1);
        char *s = TAKE_PTR(t.msgs[0]);
        t.n_msgs = 0;
        tc_done(&t);
        return s;
}

static void test_echo_text(void **state)
{
        struct tc t = {.send_on_open = "hello", .close_after = 1, .close_code = 1000};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/echo");
        tc_start(&t, u, NULL, false);
        assert_int_equal(ws_client_send_text(t.ws, "x", 1), -ENOTCONN); /* not open yet */
        tc_run(&t);
        assert_int_equal(t.opened, 1);
        assert_int_equal(t.n_msgs, 1);
        assert_string_equal(t.msgs[0], "hello");
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_US);
        assert_int_equal(t.code, 1000);
        tc_done(&t);
}

static void test_large_message(void **state)
{
        const size_t n = 1024 * 1024;
        struct tc t = {.send_big = n, .close_after = 1, .close_code = 1000};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/echo");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 1);
        assert_int_equal(t.lens[0], n);
        char *want = malloc(n);
        big_fill(want, n);
        assert_memory_equal(t.msgs[0], want, n);
        free(want);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_US);
        tc_done(&t);
}

static void test_fragmented(void **state)
{
        struct tc t = {.exit_after = 1};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/fragmented");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 1);
        assert_string_equal(t.msgs[0], "frag1-frag2-frag3");
        tc_done(&t);
}

static void test_server_ping(void **state)
{
        struct tc t = {.exit_after = 1};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/ping");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 1);
        assert_string_equal(t.msgs[0], "pong-ok"); /* the server got our pong */
        tc_done(&t);
}

static void test_server_close(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/close4000");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 1);
        assert_int_equal(t.n_msgs, 0);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_PEER);
        assert_int_equal(t.code, 4000);
        tc_done(&t);
}

static void test_client_close(void **state)
{
        struct tc t = {.close_on_open = true, .close_code = 4321, .close_reason = "bye now"};
        char u[128], id[32];

        snprintf(id, sizeof(id), "cc%d", getpid());
        snprintf(u, sizeof(u), "ws://127.0.0.1:%d/echo?id=%s", srv.ws_port, id);
        uint64_t t0 = now_usec();
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_US);
        assert_int_equal(t.code, 4321);              /* echoed back by the server */
        assert_true(now_usec() - t0 < USEC_PER_SEC); /* answered, not timed out */
        tc_done(&t);

        char *rec = server_close_record(id);
        assert_string_equal(rec, "4321 bye now");
        free(rec);
}

static void test_client_close_waits_for_answer(void **state)
{
        struct tc t = {.close_on_open = true, .close_code = 1000, .close_reason = "done"};
        char u[128];

        /* The raw peer answers our close 200 ms later with its own code. */
        url(u, sizeof(u), "ws", srv.raw_port, "/closeecho");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_US);
        assert_int_equal(t.code, 4999);
        tc_done(&t);
}

static void test_reject(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/reject");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 0);
        assert_int_equal(t.n_connect_error, 1);
        assert_int_equal(t.connect_error, -ECONNREFUSED);
        assert_int_equal(t.http_status, 403);
        assert_non_null(t.body);
        assert_string_equal(t.body,
                            "{\"InactiveInstanceException\":\"Container instance is inactive\"}");
        assert_int_equal(t.n_close, 0);
        tc_done(&t);
}

static void test_reject_chunked(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.raw_port, "/chunked");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_connect_error, 1);
        assert_int_equal(t.http_status, 401);
        assert_string_equal(t.body, "{\"AccessDeniedException\":\"not allowed\"}");
        tc_done(&t);
}

static void test_bad_accept(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.raw_port, "/badaccept");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 0);
        assert_int_equal(t.n_connect_error, 1);
        assert_int_equal(t.connect_error, -EPROTO);
        tc_done(&t);
}

static void test_frames_with_head(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.raw_port, "/early");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 1);
        assert_int_equal(t.n_msgs, 1);
        assert_string_equal(t.msgs[0], "early");
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_PEER);
        assert_int_equal(t.code, 1000);
        tc_done(&t);
}

static void test_too_big(void **state)
{
        struct tc t = {0};
        struct ws_options o = {.max_message = 1024};
        char u[128], id[32];

        snprintf(id, sizeof(id), "big%d", getpid());
        snprintf(u, sizeof(u), "ws://127.0.0.1:%d/toobig?n=5000&id=%s", srv.ws_port, id);
        tc_start(&t, u, &o, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 0);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_PROTOCOL_ERROR);
        assert_int_equal(t.code, 1009);
        tc_done(&t);

        char *rec = server_close_record(id);
        assert_string_equal(rec, "1009 "); /* the close frame reached the server */
        free(rec);
}

static void test_connection_reset(void **state)
{
        struct tc t = {0};
        char u[128];

        url(u, sizeof(u), "ws", srv.ws_port, "/reset");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 1);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CONNECTION_LOST);
        assert_int_equal(t.code, 1006);
        tc_done(&t);
}

static void test_connect_timeout(void **state)
{
        struct tc t = {0};
        struct ws_options o = {.connect_timeout_usec = 300 * USEC_PER_MSEC};
        char u[128];

        url(u, sizeof(u), "ws", srv.raw_port, "/hang");
        uint64_t t0 = now_usec();
        tc_start(&t, u, &o, false);
        tc_run(&t);
        uint64_t dt = now_usec() - t0;
        assert_int_equal(t.n_connect_error, 1);
        assert_int_equal(t.connect_error, -ETIMEDOUT);
        assert_int_equal(t.http_status, 0);
        assert_null(t.body);
        assert_true(dt >= 250 * USEC_PER_MSEC && dt < 2 * USEC_PER_SEC);
        tc_done(&t);
}

static void test_connect_refused(void **state)
{
        struct tc t = {0};

        /* Port 1 on loopback: nothing listens there in a test environment. */
        tc_start(&t, "ws://127.0.0.1:1/echo", NULL, false);
        tc_run(&t);
        assert_int_equal(t.n_connect_error, 1);
        assert_true(t.connect_error < 0);
        assert_int_equal(t.http_status, 0);
        assert_int_equal(t.opened, 0);
        tc_done(&t);
}

static void test_extra_headers(void **state)
{
        char *const headers[] = {
            "X-Test-One: alpha",
            "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-west-2/ecs/aws4_request",
            NULL,
        };
        struct ws_options o = {.extra_headers = headers};
        struct tc t = {.exit_after = 1};
        char u[128], host[64];

        url(u, sizeof(u), "ws", srv.ws_port, "/headers?b=2&a=x%3Ay");
        tc_start(&t, u, &o, false);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 1);
        json_object *j = json_tokener_parse(t.msgs[0]);
        assert_non_null(j);
        json_object *v;
        assert_true(json_object_object_get_ex(j, "X-Test-One", &v));
        assert_string_equal(json_object_get_string(v), "alpha");
        assert_true(json_object_object_get_ex(j, "Authorization", &v));
        assert_string_equal(json_object_get_string(v), headers[1] + strlen("Authorization: "));
        assert_true(json_object_object_get_ex(j, "Host", &v));
        snprintf(host, sizeof(host), "127.0.0.1:%d", srv.ws_port);
        assert_string_equal(json_object_get_string(v), host);
        assert_true(json_object_object_get_ex(j, "Sec-WebSocket-Version", &v));
        assert_string_equal(json_object_get_string(v), "13");
        assert_true(json_object_object_get_ex(j, "__path__", &v));
        assert_string_equal(json_object_get_string(v), "/headers?b=2&a=x%3Ay");
        json_object_put(j);
        tc_done(&t);
}

static void test_tls(void **state)
{
        const size_t n = 300 * 1024; /* several TLS records and partial writes */
        struct tc t = {.send_on_open = "over tls", .close_after = 2, .close_code = 1000};
        char u[128];

        url(u, sizeof(u), "wss", srv.wss_port, "/echo");
        t.send_big = n;
        tc_start(&t, u, NULL, true);
        tc_run(&t);
        assert_int_equal(t.n_msgs, 2);
        assert_string_equal(t.msgs[0], "over tls");
        assert_int_equal(t.lens[1], n);
        char *want = malloc(n);
        big_fill(want, n);
        assert_memory_equal(t.msgs[1], want, n);
        free(want);
        assert_int_equal(t.n_close, 1);
        assert_int_equal(t.reason, WS_CLOSED_BY_US);
        assert_int_equal(t.code, 1000);
        tc_done(&t);
}

static void test_tls_server_close_and_reject(void **state)
{
        struct tc t = {0}, r = {0};
        char u[128];

        url(u, sizeof(u), "wss", srv.wss_port, "/close4000");
        tc_start(&t, u, NULL, true);
        tc_run(&t);
        assert_int_equal(t.reason, WS_CLOSED_BY_PEER);
        assert_int_equal(t.code, 4000);
        tc_done(&t);

        url(u, sizeof(u), "wss", srv.wss_port, "/reject");
        tc_start(&r, u, NULL, true);
        tc_run(&r);
        assert_int_equal(r.http_status, 403);
        assert_string_equal(r.body,
                            "{\"InactiveInstanceException\":\"Container instance is inactive\"}");
        tc_done(&r);
}

static void test_tls_verify(void **state)
{
        struct tc t = {0};
        char u[128];

        /* Without -k the self-signed certificate must be refused: TLS is really in use. */
        url(u, sizeof(u), "wss", srv.wss_port, "/echo");
        tc_start(&t, u, NULL, false);
        tc_run(&t);
        assert_int_equal(t.opened, 0);
        assert_int_equal(t.n_connect_error, 1);
        assert_true(t.connect_error < 0);
        tc_done(&t);
}

static void test_free_in_callbacks(void **state)
{
        char u[128];

        /* In on_message, with two more messages in the same read: nothing more arrives
         * (the loop goes on for a while after the free). */
        struct tc a = {.free_on_message = true};
        url(u, sizeof(u), "ws", srv.raw_port, "/burst");
        tc_start(&a, u, NULL, false);
        tc_run(&a);
        assert_null(a.ws);
        assert_int_equal(a.n_msgs, 1);
        assert_string_equal(a.msgs[0], "burst-0");
        assert_int_equal(a.n_close, 0);
        tc_done(&a);

        struct tc b = {.free_on_open = true};
        url(u, sizeof(u), "ws", srv.raw_port, "/early"); /* frames wait right behind the 101 */
        tc_start(&b, u, NULL, false);
        tc_run(&b);
        assert_null(b.ws);
        assert_int_equal(b.opened, 1);
        assert_int_equal(b.n_msgs, 0);
        tc_done(&b);

        struct tc c = {.free_on_close = true};
        url(u, sizeof(u), "ws", srv.ws_port, "/close4000");
        tc_start(&c, u, NULL, false);
        tc_run(&c);
        assert_null(c.ws);
        assert_int_equal(c.n_close, 1);
        tc_done(&c);

        struct tc d = {.free_on_error = true};
        url(u, sizeof(u), "ws", srv.ws_port, "/reject");
        tc_start(&d, u, NULL, false);
        tc_run(&d);
        assert_null(d.ws);
        assert_int_equal(d.http_status, 403);
        tc_done(&d);

        /* Freed from a timer while the upgrade is pending: nothing is called afterwards
         * (timers have sd-event's default 250 ms accuracy, hence the wide gap). */
        struct tc e = {0};
        url(u, sizeof(u), "ws", srv.raw_port, "/hang");
        tc_start(&e, u, NULL, false);
        assert_int_equal(ecs_loop_add_timer(e.loop, 50 * USEC_PER_MSEC, on_free_timer, &e, NULL),
                         0);
        assert_int_equal(ecs_loop_add_timer(e.loop, 600 * USEC_PER_MSEC, on_exit_timer, &e, NULL),
                         0);
        tc_run(&e);
        assert_null(e.ws);
        assert_int_equal(e.n_connect_error + e.opened + e.n_close, 0);
        tc_done(&e);
}

static void test_invalid(void **state)
{
        struct ecs_loop *loop = NULL;
        struct ws_client *ws = NULL;
        struct tc t = {0};
        char *const bad[] = {"X-Evil: a\r\nX-Injected: b", NULL};
        char *const noname[] = {": value", NULL};

        assert_int_equal(ecs_loop_new(&loop), 0);
        struct ws_options o = {.url = "ftp://127.0.0.1/x"};
        assert_int_equal(ws_client_new(loop, &o, &callbacks, &t, &ws), -EINVAL);
        o.url = "ws://127.0.0.1/x";
        o.extra_headers = bad;
        assert_int_equal(ws_client_new(loop, &o, &callbacks, &t, &ws), -EINVAL);
        o.extra_headers = noname;
        assert_int_equal(ws_client_new(loop, &o, &callbacks, &t, &ws), -EINVAL);
        assert_null(ws);
        assert_null(ws_client_free(NULL));
        ecs_loop_free(loop);
}

/* The pure parts of the handshake, through the module's private header. */
static void test_url_and_handshake_parsing(void **state)
{
        static const struct {
                const char *in, *http_url, *host, *target;
        } urls[] = {
            {"wss://ecs-a-1.us-west-2.amazonaws.com/ws?agentHash=a8b3&clusterArn=default",
             "https://ecs-a-1.us-west-2.amazonaws.com/ws?agentHash=a8b3&clusterArn=default",
             "ecs-a-1.us-west-2.amazonaws.com", "/ws?agentHash=a8b3&clusterArn=default"},
            {"ws://h:80/x", "http://h:80/x", "h", "/x"},
            {"wss://h:443", "https://h:443", "h", "/"},
            {"WSS://h:8443/ws", "https://h:8443/ws", "h:8443", "/ws"},
            {"http://127.0.0.1:51678/ws?a=%3A+b", "http://127.0.0.1:51678/ws?a=%3A+b",
             "127.0.0.1:51678", "/ws?a=%3A+b"},
            {"ws://[::1]:9000/v6", "http://[::1]:9000/v6", "[::1]:9000", "/v6"},
        };
        for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                struct ws_url u = {0};
                assert_int_equal(ws_url_parse(urls[i].in, &u), 0);
                assert_string_equal(u.http_url, urls[i].http_url);
                assert_string_equal(u.host, urls[i].host);
                assert_string_equal(u.target, urls[i].target);
                ws_url_done(&u);
        }
        struct ws_url bad = {0};
        assert_int_equal(ws_url_parse("ftp://h/x", &bad), -EINVAL);
        assert_int_equal(ws_url_parse("ws://h/a b", &bad), -EINVAL);
        assert_int_equal(ws_url_parse(NULL, &bad), -EINVAL);

        /* RFC 6455 §1.3 */
        char accept[WS_ACCEPT_LEN + 1], key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1];
        assert_int_equal(ws_accept_compute("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
        assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_int_equal(ws_key_generate(key), 0);
        assert_int_equal(ws_key_generate(key2), 0);
        assert_int_equal(strlen(key), WS_KEY_LEN);
        assert_string_not_equal(key, key2);

        struct ws_http_head h;
        const char *ok = "HTTP/1.1 101 Switching Protocols\r\nupgrade:  WebSocket \r\n"
                         "Connection: keep-alive, Upgrade\r\n"
                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_int_equal(ws_http_head_parse(ok, strlen(ok), &h), 0);
        assert_int_equal(h.status, 101);
        assert_true(h.upgrade_websocket && h.connection_upgrade && h.has_accept);
        assert_string_equal(h.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        const char *cl = "HTTP/1.0 403 Forbidden\r\nContent-Length: 12\r\n\r\n";
        assert_int_equal(ws_http_head_parse(cl, strlen(cl), &h), 0);
        assert_int_equal(h.status, 403);
        assert_true(h.has_content_length && h.content_length == 12 && !h.chunked);
        const char *bad_heads[] = {
            "HTTP/1.1 10 x\r\n\r\n",
            "HTTP/2 101 x\r\n\r\n",
            "HTTP/1.1 101 x\r\n folded: y\r\n\r\n",
            "HTTP/1.1 101 x\r\nNoColon\r\n\r\n",
            "HTTP/1.1 403 x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 403 x\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 101 x\r\nSec-WebSocket-Accept: a\r\nSec-WebSocket-Accept: b\r\n\r\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_heads); i++)
                assert_int_equal(ws_http_head_parse(bad_heads[i], strlen(bad_heads[i]), &h),
                                 -EBADMSG);
        struct strbuf many = STRBUF_INIT(0);
        assert_int_equal(strbuf_puts(&many, "HTTP/1.1 101 x\r\n"), 0);
        for (int i = 0; i < 101; i++)
                assert_int_equal(strbuf_printf(&many, "X-%d: y\r\n", i), 0);
        assert_int_equal(strbuf_puts(&many, "\r\n"), 0);
        assert_int_equal(ws_http_head_parse(many.data, many.len, &h), -E2BIG);
        strbuf_done(&many);

        struct strbuf out = STRBUF_INIT(8);
        const char *ch = "4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n";
        assert_int_equal(ws_chunked_decode(ch, strlen(ch), &out), 1);
        assert_string_equal(out.data, "abcdefg");
        assert_int_equal(ws_chunked_decode(ch, 20, &out), 0); /* cut mid-chunk */
        assert_string_equal(out.data, "abcdef");
        assert_int_equal(ws_chunked_decode("zz\r\n", 4, &out), -EBADMSG);
        assert_int_equal(ws_chunked_decode("4\r\nabcdXY", 10, &out), -EBADMSG);
        const char *big = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
        assert_int_equal(ws_chunked_decode(big, strlen(big), &out), 1); /* bounded */
        assert_int_equal(out.len, 8);
        strbuf_done(&out);

        struct strbuf req = STRBUF_INIT(0);
        struct ws_url u = {.host = "h:1", .target = "/ws?q=1"};
        char *const hdrs[] = {"Host: other", "X-A: b", NULL};
        assert_int_equal(ws_request_build(&u, key, hdrs, &req), 0);
        assert_non_null(strstr(req.data, "GET /ws?q=1 HTTP/1.1\r\n"));
        assert_null(strstr(req.data, "Host: h:1")); /* the caller's Host wins */
        assert_non_null(strstr(req.data, "\r\nHost: other\r\nX-A: b\r\n\r\n"));
        assert_non_null(strstr(req.data, "\r\nSec-WebSocket-Version: 13\r\n"));
        strbuf_done(&req);
}

static void test_idle(void **state)
{
        const char *e = getenv("ECS_WS_IDLE_SECONDS");
        if (!e) {
                skip();
                return;
        }
        unsigned secs = (unsigned)atoi(e);
        for (int tls = 0; tls < 2; tls++) {
                struct tc t = {0};
                char u[128];
                url(u, sizeof(u), tls ? "wss" : "ws", tls ? srv.wss_port : srv.ws_port, "/echo");
                tc_start(&t, u, NULL, true);
                sd_event_source_set_time_relative(t.guard, (secs + 10) * USEC_PER_SEC);
                assert_int_equal(
                    ecs_loop_add_timer(t.loop, secs * USEC_PER_SEC, on_idle_timer, &t, NULL), 0);
                fprintf(stderr, "idle %s connection for %u s...\n", tls ? "wss" : "ws", secs);
                tc_run(&t);
                assert_int_equal(t.n_msgs, 1);
                assert_string_equal(t.msgs[0], "still there");
                assert_int_equal(t.n_close, 1);
                assert_int_equal(t.reason, WS_CLOSED_BY_US);
                fprintf(stderr, "%s connection usable after %u s idle\n", tls ? "wss" : "ws", secs);
                tc_done(&t);
        }
}

static int start_server(void **state)
{
        const char *src = getenv("ECS_SOURCE_DIR");
        char script[512], cmd[1024], line[128];
        int pipefd[2];

        snprintf(srv.dir, sizeof(srv.dir), "/tmp/ecs-test-ws-XXXXXX");
        if (!mkdtemp(srv.dir))
                return -1;
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-days 1 -subj /CN=localhost -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
                 srv.dir, srv.dir);
        if (system(cmd) != 0)
                return -1;
        if (src)
                snprintf(script, sizeof(script), "%s/tests/unit/ws_test_server.py", src);
        else {
                /* next to this source file */
                snprintf(script, sizeof(script), "%s", __FILE__);
                char *slash = strrchr(script, '/');
                snprintf(slash ? slash + 1 : script,
                         sizeof(script) - (size_t)(slash ? slash + 1 - script : 0),
                         "ws_test_server.py");
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -1;
        srv.pid = fork();
        if (srv.pid < 0)
                return -1;
        if (srv.pid == 0) {
                char cert[128], key[128];
                snprintf(cert, sizeof(cert), "%s/cert.pem", srv.dir);
                snprintf(key, sizeof(key), "%s/key.pem", srv.dir);
                /* Dies with us, even when a test crashes, so ctest's pipes close. */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(pipefd[1], STDOUT_FILENO);
                execl("/usr/bin/python3", "python3", script, cert, key, (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        /* Wait (bounded) for the "PORTS" line. */
        size_t n = 0;
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
                if (poll(&p, 1, 10000) <= 0)
                        break;
                ssize_t k = read(pipefd[0], line + n, sizeof(line) - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
        }
        line[n] = 0;
        close(pipefd[0]);
        if (sscanf(line, "PORTS %d %d %d", &srv.ws_port, &srv.wss_port, &srv.raw_port) != 3) {
                fprintf(stderr, "ws_test_server.py did not start: '%s'\n", line);
                return -1;
        }
        return 0;
}

static int stop_server(void **state)
{
        char cmd[128];

        if (srv.pid > 0) {
                kill(srv.pid, SIGTERM);
                waitpid(srv.pid, NULL, 0);
        }
        if (srv.dir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", srv.dir);
                if (system(cmd) != 0)
                        return -1;
        }
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_echo_text),
            cmocka_unit_test(test_large_message),
            cmocka_unit_test(test_fragmented),
            cmocka_unit_test(test_server_ping),
            cmocka_unit_test(test_server_close),
            cmocka_unit_test(test_client_close),
            cmocka_unit_test(test_client_close_waits_for_answer),
            cmocka_unit_test(test_reject),
            cmocka_unit_test(test_reject_chunked),
            cmocka_unit_test(test_bad_accept),
            cmocka_unit_test(test_frames_with_head),
            cmocka_unit_test(test_too_big),
            cmocka_unit_test(test_connection_reset),
            cmocka_unit_test(test_connect_timeout),
            cmocka_unit_test(test_connect_refused),
            cmocka_unit_test(test_extra_headers),
            cmocka_unit_test(test_tls),
            cmocka_unit_test(test_tls_server_close_and_reject),
            cmocka_unit_test(test_tls_verify),
            cmocka_unit_test(test_free_in_callbacks),
            cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_url_and_handshake_parsing),
            cmocka_unit_test(test_idle),
        };
        signal(SIGPIPE, SIG_IGN);
        if (getenv("ECS_TEST_DEBUG"))
                log_set_max_level(LOG_LEVEL_DEBUG);
        return cmocka_run_group_tests_name("test_ws", tests, start_server, stop_server);
}
