/* The HTTP layer: the request parser's refusals (each with its status), and the server over
 * loopback: keep-alive and pipelining, the limits, a slow client losing only its own
 * connection, the per-client rate limit, and the wiping of secret answers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ecs/httpd.h"
#include "ecs/loop.h"
#include "ecs/macro.h"

static int parse(const char *text, struct httpd_parsed *p)
{
        return httpd_parse_request(text, strlen(text), p);
}

static int parse_status(const char *text)
{
        struct httpd_parsed p;
        int r = parse(text, &p);
        if (r == HTTPD_PARSE_DONE)
                httpd_parsed_done(&p);
        return r;
}

static void test_parse_ok(void **state)
{
        struct httpd_parsed p;
        char *v = NULL;

        assert_int_equal(parse("GET /v2/credentials/ab%2Dc?x=1&id=a%20b+c HTTP/1.1\r\n"
                               "Host: h\r\nUser-Agent:  curl/8  \r\n\r\nNEXT",
                               &p),
                         HTTPD_PARSE_DONE);
        assert_string_equal(p.req.method, "GET");
        assert_string_equal(p.req.path, "/v2/credentials/ab-c");
        assert_string_equal(p.req.query, "x=1&id=a%20b+c");
        assert_string_equal(httpd_request_header(&p.req, "user-agent"), "curl/8");
        assert_null(httpd_request_header(&p.req, "Cookie"));
        assert_true(p.keep_alive);
        assert_int_equal(p.consumed, strlen("GET /v2/credentials/ab%2Dc?x=1&id=a%20b+c HTTP/1.1\r\n"
                                            "Host: h\r\nUser-Agent:  curl/8  \r\n\r\n"));
        assert_int_equal(httpd_query_param(p.req.query, "id", &v), 1);
        assert_string_equal(v, "a b c");
        free(v);
        assert_int_equal(httpd_query_param(p.req.query, "nope", &v), 0);
        assert_int_equal(httpd_query_param("id=%zz", "id", &v), -EINVAL);
        assert_int_equal(httpd_query_param("id=%00", "id", &v), -EINVAL);
        assert_int_equal(httpd_query_param("id", "id", &v), 1);
        assert_string_equal(v, "");
        free(v);
        httpd_parsed_done(&p);

        /* A body by Content-Length; HTTP/1.0 closes unless asked not to. */
        assert_int_equal(parse("PUT /x HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", &p),
                         HTTPD_PARSE_DONE);
        assert_string_equal(p.req.body, "hello");
        assert_int_equal(p.req.body_len, 5);
        assert_false(p.keep_alive);
        httpd_parsed_done(&p);
        assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &p),
                         HTTPD_PARSE_DONE);
        assert_true(p.keep_alive);
        httpd_parsed_done(&p);
        assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &p),
                         HTTPD_PARSE_DONE);
        assert_false(p.keep_alive);
        httpd_parsed_done(&p);
}

static void test_parse_refusals(void **state)
{
        char big[HTTPD_MAX_HEAD + 64];

        /* Not yet whole. */
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: x\r\n"), HTTPD_PARSE_INCOMPLETE);
        assert_int_equal(parse_status("PUT / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"),
                         HTTPD_PARSE_INCOMPLETE);
        /* Request line. */
        assert_int_equal(parse_status("get / HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET  / HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET * HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/2.0\r\n\r\n"), 505);
        assert_int_equal(parse_status("GET / FTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /\x01 HTTP/1.1\r\n\r\n"), 400);
        /* Paths: bad escapes, NUL, invalid UTF-8 (overlong, surrogate, stray), dot segments. */
        assert_int_equal(parse_status("GET /a%2 HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /a%00b HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%C0%AF HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%ED%A0%80 HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%FF HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%E2%82 HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /a/../b HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /a/%2e%2e/b HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /./b HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%E2%82%AC/..x HTTP/1.1\r\n\r\n"), HTTPD_PARSE_DONE);
        /* Headers: obs-fold, no colon, bad name, control characters, smuggling vectors. */
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nA: x\ny\r\n\r\n"), 400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                         501);
        assert_int_equal(
            parse_status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
            400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"), 400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"), 413);
        /* Limits: header count, head size, target length. */
        char *head = calloc(1, HTTPD_MAX_HEAD);
        size_t n = (size_t)snprintf(head, HTTPD_MAX_HEAD, "GET / HTTP/1.1\r\n");
        for (int i = 0; i <= HTTPD_MAX_HEADERS; i++)
                n += (size_t)snprintf(head + n, HTTPD_MAX_HEAD - n, "X-%d: v\r\n", i);
        snprintf(head + n, HTTPD_MAX_HEAD - n, "\r\n");
        assert_int_equal(parse_status(head), 431);
        free(head);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        memcpy(big, "GET /", 5);
        assert_int_equal(parse_status(big), 431);
        char *target = calloc(1, HTTPD_MAX_TARGET + 64);
        memcpy(target, "GET /", 5);
        memset(target + 5, 'a', HTTPD_MAX_TARGET);
        strcat(target, " HTTP/1.1\r\n\r\n");
        assert_int_equal(parse_status(target), 414);
        free(target);
        /* A NUL inside the head. */
        struct httpd_parsed p;
        assert_int_equal(httpd_parse_request("GET / HTTP/1.1\r\nA: \0x\r\n\r\n", 25, &p), 400);
}

/* ---- the server over loopback ---- */

struct server {
        struct ecs_loop *loop;
        struct httpd *httpd;
        uint16_t port;
        int handled, throttled, gone;
        struct httpd_reply *later;
        sd_event_source *later_timer;
        pthread_t thread;
        volatile bool stop;
};

static int on_later(sd_event_source *src, uint64_t usec, void *ud)
{
        struct server *s = ud;
        struct httpd_response resp = {.status = 202, .body = strdup("{\"path\":\"/later\"}")};

        s->later_timer = sd_event_source_disable_unref(s->later_timer);
        httpd_reply_send(TAKE_PTR(s->later), &resp);
        assert_null(resp.body); /* taken over */
        return 0;
}

static void on_gone(void *ud)
{
        struct server *s = ud;
        s->gone++;
        s->later = NULL;
        s->later_timer = sd_event_source_disable_unref(s->later_timer);
}

static void handler(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
        struct server *s = ud;
        s->handled++;
        /* Answered from a timer 100 ms later, or (/never) not at all. */
        if (streq(req->path, "/later") || streq(req->path, "/never")) {
                s->later = httpd_defer(resp, on_gone, s);
                assert_non_null(s->later);
                assert_null(httpd_defer(resp, on_gone, s)); /* once */
                if (streq(req->path, "/later"))
                        assert_int_equal(ecs_loop_add_timer(s->loop, 100 * USEC_PER_MSEC, on_later,
                                                            s, &s->later_timer),
                                         0);
                return;
        }
        resp->status = 200;
        if (asprintf(&resp->body, "{\"path\":\"%s\",\"body\":%zu,\"peer\":\"%s\"}", req->path,
                     req->body_len, req->peer_ip) < 0)
                resp->body = NULL;
        resp->secret = streq(req->path, "/secret");
}

static void on_throttled(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
        ((struct server *)ud)->throttled++;
}

static void *run_loop(void *ud)
{
        struct server *s = ud;
        while (!s->stop)
                sd_event_run(ecs_loop_event(s->loop), 20 * USEC_PER_MSEC);
        return NULL;
}

static uint16_t free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(sa);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static void server_start(struct server *s, uint32_t steady, uint32_t burst)
{
        struct httpd_params p = {.handler = handler,
                                 .userdata = s,
                                 .rate_steady = steady,
                                 .rate_burst = burst,
                                 .on_throttled = on_throttled};
        assert_int_equal(ecs_loop_new(&s->loop), 0);
        assert_int_equal(httpd_new(s->loop, &p, &s->httpd), 0);
        s->port = free_port();
        assert_int_equal(httpd_listen(s->httpd, "127.0.0.1", s->port), 0);
        assert_int_equal(pthread_create(&s->thread, NULL, run_loop, s), 0);
}

static void server_stop(struct server *s)
{
        s->stop = true;
        pthread_join(s->thread, NULL);
        httpd_free(s->httpd);
        ecs_loop_free(s->loop);
}

static int connect_to(uint16_t port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct timeval tv = {.tv_sec = 15};
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

static void send_all(int fd, const char *s)
{
        assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads until the peer closes, or until `want` answers have arrived (by counting status
 * lines and their Content-Length bodies). */
static size_t read_answers(int fd, char *buf, size_t size, int want)
{
        size_t n = 0;
        for (;;) {
                int seen = 0;
                const char *p = buf;
                buf[n] = 0;
                while ((p = strstr(p, "HTTP/1.1 ")) && seen < want) {
                        const char *cl = strstr(p, "Content-Length: ");
                        const char *end = strstr(p, "\r\n\r\n");
                        if (!cl || !end || n < (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16))
                                break;
                        seen++;
                        p = end + 4 + atoi(cl + 16);
                }
                if (want && seen >= want)
                        return n;
                ssize_t k = recv(fd, buf + n, size - 1 - n, 0);
                if (k <= 0)
                        return n;
                n += (size_t)k;
        }
}

static void test_keep_alive_and_pipelining(void **state)
{
        struct server s = {0};
        char buf[8192];
        int fd;

        server_start(&s, 0, 0);
        fd = connect_to(s.port);
        /* Two requests in one write: both answered, in order, on the same connection. */
        send_all(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nPUT /two HTTP/1.1\r\nContent-Length: "
                     "3\r\n\r\nabc");
        read_answers(fd, buf, sizeof(buf), 2);
        const char *one = strstr(buf, "\"path\":\"/one\"");
        const char *two = strstr(buf, "\"path\":\"/two\",\"body\":3");
        assert_non_null(one);
        assert_non_null(two);
        assert_true(one < two);
        assert_null(strstr(buf, "Connection: close"));
        /* A secret answer arrives whole (and is wiped only after it was sent). */
        send_all(fd, "GET /secret HTTP/1.1\r\n\r\n");
        memset(buf, 0, sizeof(buf));
        read_answers(fd, buf, sizeof(buf), 1);
        assert_non_null(strstr(buf, "\"path\":\"/secret\",\"body\":0"));
        /* A third one later, still the same connection; then the client asks to close. */
        send_all(fd, "GET /three HTTP/1.1\r\nConnection: close\r\n\r\n");
        size_t n = read_answers(fd, buf, sizeof(buf), 0); /* until closed */
        buf[n] = 0;
        assert_non_null(strstr(buf, "\"path\":\"/three\""));
        assert_non_null(strstr(buf, "Connection: close"));
        close(fd);
        assert_int_equal(s.handled, 4);
        server_stop(&s);
}

static void test_refusals_close(void **state)
{
        struct server s = {0};
        char buf[4096];
        int fd;

        server_start(&s, 0, 0);
        fd = connect_to(s.port);
        send_all(fd, "GET /a/../b HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
        size_t n = read_answers(fd, buf, sizeof(buf), 0);
        buf[n] = 0;
        assert_true(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
        assert_null(strstr(buf, "/never"));
        close(fd);

        /* An endless head: refused at the limit with 431 and closed. */
        fd = connect_to(s.port);
        send_all(fd, "GET / HTTP/1.1\r\n");
        char line[1024];
        memset(line, 'a', sizeof(line) - 3);
        memcpy(line + sizeof(line) - 3, "\r\n", 3);
        memcpy(line, "X-A: ", 5);
        for (int i = 0; i < 80; i++)
                if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
                        break;
        n = read_answers(fd, buf, sizeof(buf), 0);
        buf[n] = 0;
        assert_true(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
        close(fd);
        assert_int_equal(s.handled, 0);
        server_stop(&s);
}

/* A client that sends half a request holds only its own connection, and loses it after the
 * deadline; everyone else is answered meanwhile. */
static void test_slow_client(void **state)
{
        struct server s = {0};
        char buf[4096];
        int slow, fast;

        server_start(&s, 0, 0);
        slow = connect_to(s.port);
        send_all(slow, "GET /slow HTTP/1.1\r\nHost: x");
        for (int i = 0; i < 20; i++) {
                fast = connect_to(s.port);
                send_all(fast, "GET /fast HTTP/1.1\r\nConnection: close\r\n\r\n");
                size_t n = read_answers(fast, buf, sizeof(buf), 0);
                buf[n] = 0;
                assert_non_null(strstr(buf, "\"path\":\"/fast\""));
                close(fast);
        }
        /* The deadline (5 s) closes it without an answer. */
        struct pollfd pfd = {.fd = slow, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 20000), 1);
        assert_int_equal(recv(slow, buf, sizeof(buf), 0), 0);
        close(slow);
        assert_int_equal(s.handled, 20);
        server_stop(&s);
}

static void test_rate_limit(void **state)
{
        struct server s = {0};
        char buf[65536];
        int fd, ok = 0, limited = 0;

        server_start(&s, 1, 5); /* burst 5, then one a second */
        fd = connect_to(s.port);
        for (int i = 0; i < 12; i++)
                send_all(fd, "GET /r HTTP/1.1\r\n\r\n");
        read_answers(fd, buf, sizeof(buf), 12);
        for (const char *p = buf; (p = strstr(p, "HTTP/1.1 ")); p++) {
                ok += strncmp(p, "HTTP/1.1 200", 12) == 0;
                limited += strncmp(p, "HTTP/1.1 429", 12) == 0;
        }
        /* Five at once, perhaps one more refilled meanwhile; the rest refused. */
        assert_true(ok >= 5 && ok <= 6);
        assert_int_equal(ok + limited, 12);
        assert_int_equal(s.throttled, limited);
        assert_non_null(strstr(buf, "You have reached maximum request limit."));
        close(fd);
        server_stop(&s);
}

/* A deferred answer: the connection waits for it (a pipelined request behind it is answered
 * after it, in order), and a reply that never comes ends at the deadline, its owner told. */
static void test_deferred_reply(void **state)
{
        struct server s = {0};
        char buf[8192];
        int fd;

        server_start(&s, 0, 0);
        fd = connect_to(s.port);
        send_all(fd, "GET /later HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
        read_answers(fd, buf, sizeof(buf), 2);
        const char *later = strstr(buf, "HTTP/1.1 202 ");
        const char *after = strstr(buf, "\"path\":\"/after\"");
        assert_non_null(later);
        assert_non_null(after);
        assert_true(later < after);
        assert_non_null(strstr(buf, "{\"path\":\"/later\"}"));

        /* Never answered: closed after the 5 s deadline with no answer, and on_gone ran. */
        send_all(fd, "GET /never HTTP/1.1\r\n\r\n");
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 20000), 1);
        assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
        close(fd);
        server_stop(&s);
        assert_int_equal(s.gone, 1);
        assert_int_equal(s.handled, 3);

        /* A handler called directly (no server) cannot defer: it answers at once. */
        struct httpd_response resp = {0};
        assert_null(httpd_defer(&resp, on_gone, &s));
}

static void test_parse_fuzz_corpus(void **state)
{
        /* Every prefix of a valid request is incomplete or done, never an error. */
        const char *req = "PUT /api/x/task-protection/v1/state HTTP/1.1\r\nHost: 169.254.170.2\r\n"
                          "Content-Type: application/json\r\nContent-Length: 23\r\n\r\n"
                          "{\"ProtectionEnabled\":1}";
        for (size_t i = 0; i <= strlen(req); i++) {
                struct httpd_parsed p;
                int r = httpd_parse_request(req, i, &p);
                assert_true(r == HTTPD_PARSE_INCOMPLETE || r == HTTPD_PARSE_DONE);
                if (r == HTTPD_PARSE_DONE) {
                        assert_int_equal(i, strlen(req));
                        httpd_parsed_done(&p);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_ok),
            cmocka_unit_test(test_parse_refusals),
            cmocka_unit_test(test_parse_fuzz_corpus),
            cmocka_unit_test(test_keep_alive_and_pipelining),
            cmocka_unit_test(test_refusals_close),
            cmocka_unit_test(test_slow_client),
            cmocka_unit_test(test_rate_limit),
            cmocka_unit_test(test_deferred_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
