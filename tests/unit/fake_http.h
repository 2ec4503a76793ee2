/* A loopback HTTP server for unit tests, driven by the test's event loop: one request per
 * connection (head plus Content-Length body), answered by the test's handler and closed. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ecs/loop.h"
#include "ecs/macro.h"

/* request: the whole request, NUL-terminated; body points into it. Set *status, *headers
 * (extra "Name: value\r\n" lines, may stay NULL) and *body_out. */
typedef void (*fake_http_handler)(void *userdata, const char *request, const char *body,
                                  int *status, const char **headers, const char **body_out);

struct fake_http {
        int fd, port;
        sd_event_source *src;
        fake_http_handler handler;
        void *userdata;
};

struct fake_http_conn {
        struct fake_http *srv;
        int fd;
        sd_event_source *src;
        char buf[8192];
        size_t len;
};

static int fake_http_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct fake_http_conn *c = userdata;
        ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

        if (n > 0) {
                c->len += n;
                c->buf[c->len] = '\0';
                char *end = strstr(c->buf, "\r\n\r\n");
                if (!end)
                        return 0;
                const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
                size_t want = (end + 4 - c->buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
                if (c->len < want)
                        return 0;
                int status = 500;
                const char *headers = NULL, *body = "";
                c->srv->handler(c->srv->userdata, c->buf, end + 4, &status, &headers, &body);
                char resp[4096];
                int l = snprintf(resp, sizeof(resp),
                                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
                                 "%s\r\n%s",
                                 status, strlen(body), headers ? headers : "", body);
                assert_int_equal(write(fd, resp, l), l);
        }
        sd_event_source_disable_unref(c->src);
        close(c->fd);
        free(c);
        return 0;
}

static int fake_http_on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        struct fake_http_conn *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->srv = userdata;
        c->fd = cfd;
        assert_int_equal(sd_event_add_io(sd_event_source_get_event(es), &c->src, cfd, EPOLLIN,
                                         fake_http_on_io, c),
                         0);
        return 0;
}

static void fake_http_start(struct fake_http *s, struct ecs_loop *loop, fake_http_handler h,
                            void *userdata)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);

        s->handler = h;
        s->userdata = userdata;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(s->fd, 16), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
        s->port = ntohs(a.sin_port);
        assert_int_equal(
            sd_event_add_io(ecs_loop_event(loop), &s->src, s->fd, EPOLLIN, fake_http_on_accept, s),
            0);
}

static void fake_http_stop(struct fake_http *s)
{
        s->src = sd_event_source_disable_unref(s->src);
        close(s->fd);
}
