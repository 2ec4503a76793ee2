/* Tests the sd-event + libcurl multi HTTP client against a small server thread on a unix
 * socket and on loopback TCP: buffered and streamed bodies, limits, timeouts, cancel, raw
 * connections, and the proxy rules (a fake HTTP proxy thread: CONNECT tunnels with
 * authentication, a refused tunnel, NO_PROXY and direct requests) with their error texts. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecs/loop.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

struct server {
        int fd;
        int port; /* TCP only */
        char path[108];
        pthread_t thread;
};

static void write_all(int fd, const char *s, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k <= 0)
                        return;
                s += k;
                n -= (size_t)k;
        }
}

/* Reads one request; returns the path in path[] and the body length. */
static int read_request(int fd, char *path, size_t pathlen, size_t *ret_body)
{
        char buf[65536];
        size_t n = 0;
        char *end;

        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0)
                        return -1;
                n += (size_t)k;
                buf[n] = 0;
                if ((end = strstr(buf, "\r\n\r\n")))
                        break;
        }
        sscanf(buf, "%*s %255s", path);
        (void)pathlen;
        size_t clen = 0;
        char *cl = strcasestr(buf, "Content-Length:");
        if (cl)
                clen = strtoul(cl + 15, NULL, 10);
        size_t have = n - (size_t)(end + 4 - buf);
        while (have < clen) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k <= 0)
                        return -1;
                have += (size_t)k;
        }
        *ret_body = clen;
        return 0;
}

static void *http_server(void *arg)
{
        struct server *s = arg;
        for (;;) {
                int c = accept(s->fd, NULL, NULL);
                if (c < 0)
                        return NULL;
                char path[256] = "";
                size_t body = 0;
                if (read_request(c, path, sizeof(path), &body) < 0) {
                        close(c);
                        continue;
                }
                char out[512];
                if (streq(path, "/hello")) {
                        snprintf(out, sizeof(out),
                                 "HTTP/1.1 200 OK\r\nX-Amzn-ErrorType: Nope\r\nContent-Length: "
                                 "5\r\nConnection: close\r\n\r\nhello");
                        write_all(c, out, strlen(out));
                } else if (streq(path, "/echo-len")) {
                        char b[32];
                        int bl = snprintf(b, sizeof(b), "%zu", body);
                        snprintf(out, sizeof(out),
                                 "HTTP/1.1 201 Created\r\nContent-Length: %d\r\nConnection: "
                                 "close\r\n\r\n%s",
                                 bl, b);
                        write_all(c, out, strlen(out));
                } else if (streq(path, "/big")) {
                        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                                        "Connection: close\r\n\r\n";
                        write_all(c, h, strlen(h));
                        static char blob[100000];
                        memset(blob, 'x', sizeof(blob));
                        write_all(c, blob, sizeof(blob));
                } else if (streq(path, "/stream")) {
                        const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                        "Connection: close\r\n\r\n";
                        write_all(c, h, strlen(h));
                        for (int i = 0; i < 3; i++) {
                                const char *chunk = "6\r\n{\"i\":}\r\n";
                                write_all(c, chunk, strlen(chunk));
                                usleep(20000);
                        }
                        write_all(c, "0\r\n\r\n", 5);
                } else if (streq(path, "/hang")) {
                        sleep(3); /* longer than the client's timeout */
                } else {
                        const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                        "Connection: close\r\n\r\n";
                        write_all(c, r, strlen(r));
                }
                close(c);
        }
}

static void *echo_server(void *arg)
{
        struct server *s = arg;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
                return NULL;
        char buf[256];
        ssize_t k;
        while ((k = read(c, buf, sizeof(buf))) > 0)
                write_all(c, buf, (size_t)k);
        close(c);
        return NULL;
}

static int unix_server(struct server *s)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(s->path, sizeof(s->path), "/tmp/ecs-test-loop-%d.sock", getpid());
        unlink(s->path);
        strcpy(sa.sun_path, s->path);
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s->fd, 16), 0);
        return pthread_create(&s->thread, NULL, http_server, s);
}

static int tcp_server(struct server *s)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s->fd, 4), 0);
        getsockname(s->fd, (struct sockaddr *)&sa, &sl);
        s->port = ntohs(sa.sin_port);
        return pthread_create(&s->thread, NULL, echo_server, s);
}

struct result {
        struct ecs_loop *loop;
        long status;
        int error;
        char body[256];
        char errtype[64];
        int chunks;
        bool done;
};

static void on_done(const struct ecs_http_response *resp, void *ud)
{
        struct result *r = ud;
        r->done = true;
        r->status = resp->status;
        r->error = resp->error;
        if (resp->body)
                snprintf(r->body, sizeof(r->body), "%s", resp->body);
        const char *h = ecs_http_response_header(resp, "x-amzn-errortype");
        if (h)
                snprintf(r->errtype, sizeof(r->errtype), "%s", h);
        ecs_loop_exit(r->loop, 0);
}

static int on_chunk(const char *data, size_t len, void *ud)
{
        struct result *r = ud;
        r->chunks++;
        return 0;
}

static struct result run(struct server *s, const char *method, const char *path, const char *body,
                         uint64_t timeout, size_t max, bool stream)
{
        struct ecs_loop *loop = NULL;
        char url[300];
        struct result r = {0};

        assert_int_equal(ecs_loop_new(&loop), 0);
        r.loop = loop;
        snprintf(url, sizeof(url), "http://localhost%s", path);
        struct ecs_http_request req = {
            .method = method,
            .url = url,
            .unix_socket = s->path,
            .body = body,
            .body_len = body ? strlen(body) : 0,
            .timeout_usec = timeout,
            .max_response = max,
            .on_data = stream ? on_chunk : NULL,
        };
        assert_int_equal(ecs_http_start(loop, &req, on_done, &r, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 0);
        ecs_loop_free(loop);
        return r;
}

static struct server srv;

static void test_get(void **state)
{
        struct result r = run(&srv, NULL, "/hello", NULL, 5 * USEC_PER_SEC, 0, false);
        assert_true(r.done);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello");
        assert_string_equal(r.errtype, "Nope");
}

static void test_post_body(void **state)
{
        struct result r = run(&srv, "POST", "/echo-len", "0123456789", 5 * USEC_PER_SEC, 0, false);
        assert_int_equal(r.status, 201);
        assert_string_equal(r.body, "10");
}

static void test_not_found(void **state)
{
        struct result r = run(&srv, "DELETE", "/nothing", NULL, 5 * USEC_PER_SEC, 0, false);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.status, 404);
}

static void test_limit(void **state)
{
        struct result r = run(&srv, NULL, "/big", NULL, 5 * USEC_PER_SEC, 1000, false);
        assert_int_equal(r.error, -E2BIG);
}

static void test_timeout(void **state)
{
        uint64_t t0 = now_usec();
        struct result r = run(&srv, NULL, "/hang", NULL, 300 * USEC_PER_MSEC, 0, false);
        assert_int_equal(r.error, -ETIMEDOUT);
        assert_true(now_usec() - t0 < 2 * USEC_PER_SEC);
}

static void test_stream(void **state)
{
        struct result r = run(&srv, NULL, "/stream", NULL, 5 * USEC_PER_SEC, 0, true);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.status, 200);
        assert_true(r.chunks >= 1);
        assert_string_equal(r.body, ""); /* streamed bodies are not buffered */
}

static void test_connect_refused(void **state)
{
        struct server none = {0};
        snprintf(none.path, sizeof(none.path), "/tmp/ecs-test-loop-none-%d.sock", getpid());
        struct result r = run(&none, NULL, "/x", NULL, 5 * USEC_PER_SEC, 0, false);
        assert_true(r.error < 0);
        assert_int_equal(r.status, 0);
}

static int cancel_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct result *r = ud;
        ecs_loop_exit(r->loop, 7);
        return 0;
}

static void test_cancel(void **state)
{
        struct ecs_loop *loop = NULL;
        struct ecs_http_call *call = NULL;
        struct result r = {0};
        char url[] = "http://localhost/hang";

        assert_int_equal(ecs_loop_new(&loop), 0);
        r.loop = loop;
        struct ecs_http_request req = {
            .url = url, .unix_socket = srv.path, .timeout_usec = 100 * USEC_PER_MSEC};
        assert_int_equal(ecs_http_start(loop, &req, on_done, &r, &call), 0);
        ecs_http_call_cancel(call);
        assert_int_equal(ecs_loop_add_timer(loop, 300 * USEC_PER_MSEC, cancel_timer, &r, NULL), 0);
        assert_int_equal(ecs_loop_run(loop), 7);
        assert_false(r.done); /* the callback of a cancelled call never runs */
        ecs_loop_free(loop);
}

struct raw_result {
        struct ecs_loop *loop;
        CURL *easy;
        int fd;
        int error;
        char error_text[1024];
        char got[32];
        size_t got_len;
        sd_event_source *io;
};

static int raw_on_io(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
        struct raw_result *r = ud;
        size_t n = 0;
        CURLcode c =
            curl_easy_recv(r->easy, r->got + r->got_len, sizeof(r->got) - 1 - r->got_len, &n);
        if (c == CURLE_AGAIN)
                return 0;
        r->got_len += n;
        r->got[r->got_len] = 0;
        if (c != CURLE_OK || r->got_len >= 4)
                ecs_loop_exit(r->loop, 0);
        return 0;
}

static void raw_done(int error, const char *error_text, CURL *easy, int fd, void *ud)
{
        struct raw_result *r = ud;
        r->error = error;
        snprintf(r->error_text, sizeof(r->error_text), "%s", strempty(error_text));
        r->easy = easy;
        r->fd = fd;
        if (error < 0) {
                ecs_loop_exit(r->loop, 0);
                return;
        }
        size_t sent = 0;
        assert_int_equal(curl_easy_send(easy, "ping", 4, &sent), CURLE_OK);
        assert_int_equal(sent, 4);
        assert_int_equal(
            sd_event_add_io(ecs_loop_event(r->loop), &r->io, fd, EPOLLIN, raw_on_io, r), 0);
}

/* The connection of a raw_done that succeeded: it echoed "ping"; then released. */
static void raw_expect_echo_and_free(struct raw_result *r)
{
        assert_int_equal(r->error, 0);
        assert_true(r->fd >= 0);
        assert_string_equal(r->got, "ping");
        sd_event_source_disable_unref(r->io);
        ecs_raw_conn_free(r->easy);
        ecs_loop_free(r->loop);
}

static void test_raw_connect(void **state)
{
        struct server tcp = {0};
        struct raw_result r = {0};
        char url[64];

        assert_int_equal(tcp_server(&tcp), 0);
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", tcp.port);
        assert_int_equal(ecs_raw_connect(r.loop, url, 5 * USEC_PER_SEC, raw_done, &r, NULL), 0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        raw_expect_echo_and_free(&r);
        close(tcp.fd);
        pthread_join(tcp.thread, NULL);
}

static void test_raw_connect_refused(void **state)
{
        struct raw_result r = {0};
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        /* Port 1 on loopback: nothing listens there in a test environment. */
        assert_int_equal(
            ecs_raw_connect(r.loop, "http://127.0.0.1:1/", 2 * USEC_PER_SEC, raw_done, &r, NULL),
            0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        assert_true(r.error < 0);
        assert_null(r.easy);
        /* the operator learns which peer and what failed */
        assert_true(strncmp(r.error_text, "http://127.0.0.1:1: cannot connect: ", 36) == 0);
        ecs_loop_free(r.loop);
}

/* A one-connection HTTP proxy: a CONNECT gets `answer` (then, for a 200, an echo of the
 * tunnel); any other request is answered 200 "direct". It records the request head. */
struct fake_proxy {
        struct server s;
        const char *answer;
        char head[1024];
};

static void *fake_proxy_thread(void *arg)
{
        struct fake_proxy *p = arg;
        size_t n = 0;
        ssize_t k;
        int c = accept(p->s.fd, NULL, NULL);

        if (c < 0)
                return NULL;
        while (n < sizeof(p->head) - 1 && !strstr(p->head, "\r\n\r\n") &&
               (k = read(c, p->head + n, 1)) > 0)
                p->head[n += (size_t)k] = 0;
        if (strncmp(p->head, "CONNECT ", 8) == 0) {
                write_all(c, p->answer, strlen(p->answer));
                if (strstr(p->answer, " 200 ")) {
                        char buf[256];
                        while ((k = read(c, buf, sizeof(buf))) > 0)
                                write_all(c, buf, (size_t)k);
                }
        } else {
                const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n"
                                "\r\ndirect";
                write_all(c, r, strlen(r));
        }
        close(c);
        return NULL;
}

static void fake_proxy_start(struct fake_proxy *p, const char *answer)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);

        p->answer = answer;
        p->s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(p->s.fd >= 0);
        assert_int_equal(bind(p->s.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(p->s.fd, 4), 0);
        getsockname(p->s.fd, (struct sockaddr *)&sa, &sl);
        p->s.port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&p->s.thread, NULL, fake_proxy_thread, p), 0);
}

static void fake_proxy_stop(struct fake_proxy *p)
{
        /* wakes an accept() still waiting when the test expected no connection */
        shutdown(p->s.fd, SHUT_RDWR);
        pthread_join(p->s.thread, NULL);
        close(p->s.fd);
}

static void test_raw_connect_tunnels_through_proxy(void **state)
{
        struct fake_proxy p = {0};
        struct raw_result r = {0};
        char proxy[64];

        fake_proxy_start(&p, "HTTP/1.1 200 Connection established\r\n\r\n");
        snprintf(proxy, sizeof(proxy), "user:pw@127.0.0.1:%d", p.s.port);
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        assert_int_equal(
            ecs_loop_set_network(r.loop, &(struct ecs_loop_network){.http_proxy = proxy}), 0);
        /* ws:// (plain http) still tunnels: the WebSocket upgrade goes inside the tunnel */
        assert_int_equal(
            ecs_raw_connect(r.loop, "http://10.9.8.7:4321/", 5 * USEC_PER_SEC, raw_done, &r, NULL),
            0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        raw_expect_echo_and_free(&r);
        assert_true(strncmp(p.head, "CONNECT 10.9.8.7:4321 HTTP/1.1\r\n", 32) == 0);
        /* the credentials of the proxy URL, as Basic authentication ("user:pw") */
        assert_non_null(strstr(p.head, "Proxy-Authorization: Basic dXNlcjpwdw==\r\n"));
        fake_proxy_stop(&p);
}

static void test_proxy_refusal_is_explained_without_password(void **state)
{
        struct fake_proxy p = {0};
        struct raw_result r = {0};
        char proxy[64], want[128];

        fake_proxy_start(&p, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        snprintf(proxy, sizeof(proxy), "http://user:s3cret@127.0.0.1:%d", p.s.port);
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        assert_int_equal(
            ecs_loop_set_network(r.loop, &(struct ecs_loop_network){.https_proxy = proxy}), 0);
        assert_int_equal(ecs_raw_connect(r.loop, "https://10.9.8.7:4443/ws?a=b", 5 * USEC_PER_SEC,
                                         raw_done, &r, NULL),
                         0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        assert_true(r.error < 0);
        snprintf(want, sizeof(want),
                 "https://10.9.8.7:4443 via proxy http://user:***@127.0.0.1:%d: the proxy refused "
                 "the tunnel (HTTP 403): ",
                 p.s.port);
        assert_true(strncmp(r.error_text, want, strlen(want)) == 0);
        assert_null(strstr(r.error_text, "s3cret"));
        ecs_loop_free(r.loop);
        fake_proxy_stop(&p);
}

static void test_no_proxy_and_direct_requests_skip_the_proxy(void **state)
{
        struct fake_proxy p = {0};
        struct result res = {0};
        struct raw_result r = {0};
        struct server tcp = {0};
        char url[64];

        /* The proxy is a dead port: whatever uses it fails. */
        struct ecs_loop_network net = {.http_proxy = "127.0.0.1:1",
                                       .no_proxy = "localhost,10.0.0.0/8"};
        fake_proxy_start(&p, "unused");
        assert_int_equal(ecs_loop_new(&res.loop), 0);
        assert_int_equal(ecs_loop_set_network(res.loop, &net), 0);
        /* direct (IMDS, the endpoints): straight to the server, here the fake proxy's
         * plain-request path */
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/latest/meta-data", p.s.port);
        struct ecs_http_request req = {
            .url = url, .timeout_usec = 5 * USEC_PER_SEC, .direct = true};
        assert_int_equal(ecs_http_start(res.loop, &req, on_done, &res, NULL), 0);
        assert_int_equal(ecs_loop_run(res.loop), 0);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "direct");
        assert_true(strncmp(p.head, "GET /latest/meta-data HTTP/1.1\r\n", 32) == 0);
        /* not direct: through the dead proxy, and the text says so */
        req.direct = false;
        ecs_loop_free(res.loop);
        res = (struct result){0};
        assert_int_equal(ecs_loop_new(&res.loop), 0);
        assert_int_equal(ecs_loop_set_network(res.loop, &net), 0);
        assert_int_equal(ecs_http_start(res.loop, &req, on_done, &res, NULL), 0);
        assert_int_equal(ecs_loop_run(res.loop), 0);
        assert_true(res.error < 0);
        ecs_loop_free(res.loop);
        fake_proxy_stop(&p);

        /* NO_PROXY: a raw connection to 127.0.0.1 when only localhost is excluded goes
         * through the dead proxy; with 127.0.0.0/8 excluded it reaches the echo server. */
        assert_int_equal(tcp_server(&tcp), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", tcp.port);
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        assert_int_equal(ecs_loop_set_network(r.loop, &net), 0);
        assert_int_equal(ecs_raw_connect(r.loop, url, 5 * USEC_PER_SEC, raw_done, &r, NULL), 0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        assert_true(r.error < 0);
        assert_non_null(strstr(r.error_text, " via proxy http://127.0.0.1:1: cannot connect to the "
                                             "proxy: "));
        net.no_proxy = "localhost, 127.0.0.0/8";
        ecs_loop_free(r.loop);
        r = (struct raw_result){0};
        assert_int_equal(ecs_loop_new(&r.loop), 0);
        assert_int_equal(ecs_loop_set_network(r.loop, &net), 0);
        assert_int_equal(ecs_raw_connect(r.loop, url, 5 * USEC_PER_SEC, raw_done, &r, NULL), 0);
        assert_int_equal(ecs_loop_run(r.loop), 0);
        raw_expect_echo_and_free(&r);
        close(tcp.fd);
        pthread_join(tcp.thread, NULL);
}

static int setup(void **state)
{
        return unix_server(&srv);
}

static int teardown(void **state)
{
        shutdown(srv.fd, SHUT_RDWR);
        close(srv.fd);
        unlink(srv.path);
        return 0;
}

int main(void)
{
        /* The server thread may write to a connection the client already aborted (the
         * size-limit test): that must be EPIPE, not a killed test. */
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_get),
            cmocka_unit_test(test_post_body),
            cmocka_unit_test(test_not_found),
            cmocka_unit_test(test_limit),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_stream),
            cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_connect_refused),
            cmocka_unit_test(test_raw_connect),
            cmocka_unit_test(test_raw_connect_refused),
            cmocka_unit_test(test_raw_connect_tunnels_through_proxy),
            cmocka_unit_test(test_proxy_refusal_is_explained_without_password),
            cmocka_unit_test(test_no_proxy_and_direct_requests_skip_the_proxy),
        };
        return cmocka_run_group_tests_name("test_loop", tests, setup, teardown);
}
