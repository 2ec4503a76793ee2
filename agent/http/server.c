#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ecs/httpd.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/strbuf.h"

#define HTTPD_MAX_HEAD        8192
#define HTTPD_MAX_CONNECTIONS 64
/* The official endpoints' read/write timeout (§7.2). */
#define HTTPD_TIMEOUT_USEC  (5 * USEC_PER_SEC)
#define HTTPD_MAX_LISTENERS 4

struct conn {
        struct httpd *server;
        struct conn *next;
        int fd;
        sd_event_source *io, *timer;
        struct strbuf in, out;
        size_t written;
        char peer[INET6_ADDRSTRLEN];
};

struct httpd {
        struct ecs_loop *loop;
        httpd_handler_fn handler;
        void *userdata;
        int listen_fd[HTTPD_MAX_LISTENERS];
        sd_event_source *listen_src[HTTPD_MAX_LISTENERS];
        size_t n_listeners;
        struct conn *conns;
        unsigned n_conns;
};

static void conn_free(struct conn *c)
{
        struct httpd *s = c->server;

        for (struct conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        s->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        strbuf_done(&c->in);
        strbuf_done(&c->out);
        free(c);
}

static const char *reason_phrase(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 503:
                return "Service Unavailable";
        default:
                return status < 500 ? "Client Error" : "Internal Server Error";
        }
}

static int conn_respond(struct conn *c, int status, const char *type, const char *body)
{
        size_t len = body ? strlen(body) : 0;
        int r = strbuf_printf(&c->out,
                              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              status, reason_phrase(status), type ? type : "application/json", len);
        if (r >= 0 && len)
                r = strbuf_append(&c->out, body, len);
        if (r < 0)
                return r;
        return sd_event_source_set_io_events(c->io, EPOLLOUT);
}

/* Parses "METHOD SP target SP HTTP/1.x" of a complete head and hands it to the handler. */
static int conn_dispatch(struct conn *c)
{
        char *line_end = strstr(c->in.data, "\r\n");
        char *sp1, *sp2;

        *line_end = 0;
        sp1 = strchr(c->in.data, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
                return conn_respond(c, 400, NULL, "\"malformed request\"");
        *sp1 = *sp2 = 0;
        char *target = sp1 + 1;
        char *q = strchr(target, '?');
        if (q)
                *q++ = 0;
        struct httpd_request req = {
            .method = c->in.data, .path = target, .query = q ? q : "", .peer = c->peer};
        struct httpd_response resp = {.status = 404};
        c->server->handler(&req, &resp, c->server->userdata);
        int r = conn_respond(c, resp.status, resp.content_type, resp.body);
        free(resp.body);
        return r;
}

static int on_conn_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
        struct conn *c = ud;
        char buf[2048];

        if (revents & EPOLLOUT) {
                while (c->written < c->out.len) {
                        ssize_t k = send(fd, c->out.data + c->written, c->out.len - c->written,
                                         MSG_NOSIGNAL);
                        if (k < 0) {
                                if (errno == EAGAIN)
                                        return 0;
                                conn_free(c);
                                return 0;
                        }
                        c->written += (size_t)k;
                }
                conn_free(c);
                return 0;
        }
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof(buf), 0);
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k <= 0) {
                        conn_free(c);
                        return 0;
                }
                if (strbuf_append(&c->in, buf, (size_t)k) < 0) {
                        (void)conn_respond(c, 431, NULL, "\"request head too large\"");
                        return 0;
                }
                if (strstr(c->in.data, "\r\n\r\n")) {
                        if (conn_dispatch(c) < 0)
                                conn_free(c);
                        return 0;
                }
        }
}

static int on_conn_timeout(sd_event_source *src, uint64_t usec, void *ud)
{
        conn_free(ud);
        return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
        struct httpd *s = ud;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);

        for (;;) {
                int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0)
                        return 0;
                if (s->n_conns >= HTTPD_MAX_CONNECTIONS) {
                        safe_close(cfd); /* over the limit: refused, nothing else changes */
                        continue;
                }
                struct conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        safe_close(cfd);
                        continue;
                }
                c->server = s;
                c->fd = cfd;
                c->in = STRBUF_INIT(HTTPD_MAX_HEAD);
                c->out = STRBUF_INIT(0);
                if (ss.ss_family == AF_INET)
                        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
                                  sizeof(c->peer));
                else if (ss.ss_family == AF_INET6)
                        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
                                  sizeof(c->peer));
                c->next = s->conns;
                s->conns = c;
                s->n_conns++;
                if (sd_event_add_io(ecs_loop_event(s->loop), &c->io, cfd, EPOLLIN, on_conn_io, c) <
                        0 ||
                    ecs_loop_add_timer(s->loop, HTTPD_TIMEOUT_USEC, on_conn_timeout, c, &c->timer) <
                        0)
                        conn_free(c);
                sl = sizeof(ss);
        }
}

int httpd_new(struct ecs_loop *loop, httpd_handler_fn handler, void *userdata, struct httpd **ret)
{
        struct httpd *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->handler = handler;
        s->userdata = userdata;
        *ret = s;
        return 0;
}

int httpd_listen(struct httpd *s, const char *ip, uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        int one = 1, fd, r;

        if (s->n_listeners >= HTTPD_MAX_LISTENERS)
                return -E2BIG;
        if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* The endpoint address may be configured just after we bind. */
        (void)setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        r = sd_event_add_io(ecs_loop_event(s->loop), &s->listen_src[s->n_listeners], fd, EPOLLIN,
                            on_accept, s);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        s->listen_fd[s->n_listeners++] = fd;
        return 0;
}

struct httpd *httpd_free(struct httpd *s)
{
        if (!s)
                return NULL;
        while (s->conns)
                conn_free(s->conns);
        for (size_t i = 0; i < s->n_listeners; i++) {
                sd_event_source_disable_unref(s->listen_src[i]);
                safe_close(s->listen_fd[i]);
        }
        free(s);
        return NULL;
}
