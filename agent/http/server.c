/* The connections and listeners of httpd.h, on the agent's loop. A connection reads one
 * request, answers it, and (keep-alive) goes on with the next, one at a time; each phase --
 * reading a request, writing its answer, waiting idle for the next -- has its own deadline.
 *
 * Connections are edge-triggered: a wake-up drains the socket (reads to EAGAIN, answers what
 * it can), so a crowd of ready clients is reported once per arrival, not on every turn of
 * the loop. Moving a deadline only stores it; the connection's one timer is moved when it
 * fires early, so a request costs no timer or epoll changes in the common case. */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ecs/httpd.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/strbuf.h"

/* The official endpoints' read/write timeout (§7.2), also the keep-alive idle time. */
#define HTTPD_TIMEOUT_USEC    (5 * USEC_PER_SEC)
#define HTTPD_MAX_CONNECTIONS 1024
#define HTTPD_MAX_PER_PEER    32
#define HTTPD_MAX_LISTENERS   4
#define HTTPD_MAX_BUCKETS     256
#define HTTPD_THROTTLED_BODY  "You have reached maximum request limit."

struct conn {
        struct httpd *server;
        struct conn *next;
        int fd;
        sd_event_source *io, *timer;
        struct strbuf in, out;
        size_t written;
        bool writing;              /* an answer is being sent; nothing else is read meanwhile */
        bool close_after;          /* the answer ends the connection */
        bool secret;               /* the answer being sent is wiped once written */
        bool head_only;            /* the request being answered is a HEAD */
        uint32_t events;           /* what epoll watches for now */
        uint64_t deadline;         /* CLOCK_MONOTONIC end of the current phase */
        struct httpd_reply *reply; /* a handler's answer to come (httpd_defer) */
        char peer_ip[INET6_ADDRSTRLEN], local_ip[INET6_ADDRSTRLEN];
        uint16_t peer_port, local_port;
};

/* A client's token bucket (§7.2: the official limiter is per client address). */
struct bucket {
        char ip[INET6_ADDRSTRLEN];
        double tokens;
        uint64_t last_usec;
};

struct httpd_reply {
        struct conn *conn;
        void (*on_gone)(void *userdata);
        void *userdata;
};

struct httpd {
        struct ecs_loop *loop;
        struct httpd_params p;
        int listen_fd[HTTPD_MAX_LISTENERS];
        sd_event_source *listen_src[HTTPD_MAX_LISTENERS];
        size_t n_listeners;
        struct conn *conns;
        unsigned n_conns, peak_conns;
        struct bucket *buckets;
        size_t n_buckets;
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
        if (c->reply) {
                struct httpd_reply *reply = TAKE_PTR(c->reply);
                reply->on_gone(reply->userdata);
                free(reply);
        }
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        if (c->secret && c->out.data)
                explicit_bzero(c->out.data, c->out.len);
        strbuf_done(&c->in);
        strbuf_done(&c->out);
        free(c);
        /* After a crowd (a burst of clients), what their buffers took goes back to the
         * kernel, not only to malloc's free lists; the heap is small, so this is cheap. */
        if (s->n_conns == 0 && s->peak_conns >= 64) {
                s->peak_conns = 0;
                malloc_trim(0);
        }
}

static int on_conn_timeout(sd_event_source *src, uint64_t usec, void *ud)
{
        struct conn *c = ud;

        if (usec < c->deadline && sd_event_source_set_time(src, c->deadline) >= 0 &&
            sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) >= 0)
                return 0; /* the phase changed meanwhile: its own deadline */
        conn_free(c);     /* a phase took too long: the client loses its connection, no one else */
        return 0;
}

/* A new phase begins: it has HTTPD_TIMEOUT_USEC from now. */
static int conn_arm_timer(struct conn *c)
{
        c->deadline = now_usec() + HTTPD_TIMEOUT_USEC;
        if (c->timer)
                return 0;
        return ecs_loop_add_timer(c->server->loop, HTTPD_TIMEOUT_USEC, on_conn_timeout, c,
                                  &c->timer);
}

static int conn_watch(struct conn *c, uint32_t events)
{
        int r;

        if (c->events == events)
                return 0;
        r = sd_event_source_set_io_events(c->io, events);
        if (r >= 0)
                c->events = events;
        return r;
}

/* Queues the answer and switches the connection to writing (conn_drive sends it). */
static int conn_respond(struct conn *c, bool head_only, int status, const char *type,
                        const char *body)
{
        size_t len = body ? strlen(body) : 0;
        int r = strbuf_printf(&c->out,
                              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                              status, httpd_reason_phrase(status), type ? type : "application/json",
                              len, c->close_after ? "Connection: close\r\n" : "");
        if (r >= 0 && len && !head_only)
                r = strbuf_append(&c->out, body, len);
        if (r < 0)
                return r;
        c->writing = true;
        return conn_arm_timer(c);
}

static bool bucket_take(struct httpd *s, const char *ip)
{
        uint64_t now = now_usec();
        struct bucket *b = NULL, *oldest = NULL;

        for (size_t i = 0; i < s->n_buckets; i++) {
                if (streq(s->buckets[i].ip, ip)) {
                        b = &s->buckets[i];
                        break;
                }
                if (!oldest || s->buckets[i].last_usec < oldest->last_usec)
                        oldest = &s->buckets[i];
        }
        if (!b) {
                /* A new client starts full; when the table is full, the client heard from
                 * longest ago gives up its slot (its bucket would have refilled by now). */
                b = s->n_buckets < HTTPD_MAX_BUCKETS ? &s->buckets[s->n_buckets++] : oldest;
                snprintf(b->ip, sizeof(b->ip), "%s", ip);
                b->tokens = s->p.rate_burst;
                b->last_usec = now;
        }
        b->tokens += (double)(now - b->last_usec) * s->p.rate_steady / (double)USEC_PER_SEC;
        if (b->tokens > s->p.rate_burst)
                b->tokens = s->p.rate_burst;
        b->last_usec = now;
        if (b->tokens < 1.0)
                return false;
        b->tokens -= 1.0;
        return true;
}

/* Handles what is buffered: one request at a time, the next after its answer is sent. */
static int conn_process(struct conn *c)
{
        struct httpd *s = c->server;
        struct httpd_parsed p;
        int r;

        if (c->writing)
                return 0;
        r = httpd_parse_request(c->in.data ? c->in.data : "", c->in.len, &p);
        if (r < 0)
                return r;
        if (r == HTTPD_PARSE_INCOMPLETE)
                return 0;
        if (r != HTTPD_PARSE_DONE) {
                /* Refused before any handler: answered, and the connection ends, because
                 * where the next request would start is not known. */
                c->close_after = true;
                return conn_respond(c, false, r, "text/plain", httpd_reason_phrase(r));
        }
        p.req.peer_ip = c->peer_ip;
        p.req.peer_port = c->peer_port;
        p.req.local_ip = c->local_ip;
        p.req.local_port = c->local_port;
        c->close_after = !p.keep_alive;
        strbuf_consume(&c->in, p.consumed);

        bool head = streq(p.req.method, "HEAD");
        struct httpd_response resp = {.status = 404, .conn_ = c};
        if (s->p.rate_steady && !bucket_take(s, c->peer_ip)) {
                resp.status = 429;
                if (s->p.on_throttled)
                        s->p.on_throttled(&p.req, &resp, s->p.userdata);
                r = conn_respond(c, head, 429, "text/plain", HTTPD_THROTTLED_BODY);
        } else {
                s->p.handler(&p.req, &resp, s->p.userdata);
                if (resp.reply_) {
                        /* Answered later: nothing else is read meanwhile, and the deadline
                         * of this phase still holds. */
                        c->reply = resp.reply_;
                        c->head_only = head;
                        c->writing = true;
                        free(resp.body);
                        httpd_parsed_done(&p);
                        r = conn_watch(c, 0);
                        return r < 0 ? r : conn_arm_timer(c);
                }
                r = conn_respond(c, head, resp.status, resp.content_type, resp.body);
        }
        if (resp.secret && resp.body)
                explicit_bzero(resp.body, strlen(resp.body));
        c->secret = resp.secret;
        free(resp.body);
        httpd_parsed_done(&p);
        return r;
}

/* Sends what is queued; 1 when all of it is out, 0 at EAGAIN, < 0 when the connection
 * failed. */
static int conn_flush(struct conn *c)
{
        while (c->written < c->out.len) {
                ssize_t k =
                    send(c->fd, c->out.data + c->written, c->out.len - c->written, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN ? 0 : -errno;
                c->written += (size_t)k;
        }
        return 1;
}

/* Moves the connection as far as it can go now: sends the queued answer, then answers what
 * is buffered, then reads, until the socket would block (edge-triggered: nothing is left for
 * a later wake-up to find) or an answer is awaited. */
static void conn_drive(struct conn *c)
{
        char buf[4096];
        int r;

        for (;;) {
                if (c->reply)
                        return; /* a deferred answer: httpd_reply_send() goes on */
                if (c->writing) {
                        r = conn_flush(c);
                        if (r == 0) {
                                if (conn_watch(c, EPOLLOUT | EPOLLET) < 0)
                                        break;
                                return;
                        }
                        if (r < 0)
                                break;
                        if (c->secret) {
                                explicit_bzero(c->out.data, c->out.len);
                                c->secret = false;
                        }
                        if (c->close_after)
                                break;
                        /* Kept alive: idle until the next request, which may already be
                         * buffered. */
                        strbuf_clear(&c->out);
                        c->written = 0;
                        c->writing = false;
                        if (conn_arm_timer(c) < 0)
                                break;
                }
                if (c->in.len > 0) {
                        if (conn_process(c) < 0)
                                break;
                        if (c->writing || c->reply)
                                continue;
                }
                ssize_t k = recv(c->fd, buf, sizeof(buf), 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        if (conn_watch(c, EPOLLIN | EPOLLET) < 0)
                                break;
                        return;
                }
                if (k <= 0)
                        break; /* closed (or failed) with no answer owed */
                if (strbuf_append(&c->in, buf, (size_t)k) < 0) {
                        /* More than a request's head and body could be: refused. */
                        c->close_after = true;
                        strbuf_clear(&c->in);
                        if (conn_respond(c, false, 431, "text/plain", httpd_reason_phrase(431)) < 0)
                                break;
                }
        }
        conn_free(c);
}

static int on_conn_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
        struct conn *c = ud;

        if (c->reply) {
                /* Only hang-ups and errors are reported while an answer is awaited. */
                if (revents & (EPOLLHUP | EPOLLERR))
                        conn_free(c);
                return 0;
        }
        conn_drive(c);
        return 0;
}

struct httpd_reply *httpd_defer(struct httpd_response *resp, void (*on_gone)(void *userdata),
                                void *userdata)
{
        struct httpd_reply *reply;

        if (!resp->conn_ || resp->reply_ || !on_gone)
                return NULL;
        reply = calloc(1, sizeof(*reply));
        if (!reply)
                return NULL;
        reply->conn = resp->conn_;
        reply->on_gone = on_gone;
        reply->userdata = userdata;
        resp->reply_ = reply;
        return reply;
}

void httpd_reply_send(struct httpd_reply *reply, struct httpd_response *resp)
{
        struct conn *c = reply->conn;
        int r;

        c->reply = NULL;
        free(reply);
        c->writing = false;
        r = conn_respond(c, c->head_only, resp->status, resp->content_type, resp->body);
        c->secret = resp->secret;
        if (resp->secret && resp->body)
                explicit_bzero(resp->body, strlen(resp->body));
        resp->body = mfree(resp->body);
        if (r < 0)
                conn_free(c);
        else
                conn_drive(c);
}

static void addr_text(const struct sockaddr_storage *ss, char *ip, size_t size, uint16_t *port)
{
        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
                inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)size);
                *port = ntohs(sin->sin_port);
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
                inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)size);
                *port = ntohs(sin6->sin6_port);
        }
}

static unsigned peer_connections(const struct httpd *s, const char *ip)
{
        unsigned n = 0;
        for (const struct conn *c = s->conns; c; c = c->next)
                n += streq(c->peer_ip, ip);
        return n;
}

static void conn_new(struct httpd *s, int cfd, const struct sockaddr_storage *peer)
{
        struct sockaddr_storage local = {0};
        socklen_t ll = sizeof(local);
        struct conn *c = calloc(1, sizeof(*c));

        if (!c) {
                safe_close(cfd);
                return;
        }
        c->server = s;
        c->fd = cfd;
        c->in = STRBUF_INIT(HTTPD_MAX_HEAD + HTTPD_MAX_BODY);
        c->out = STRBUF_INIT(0);
        addr_text(peer, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
        if (getsockname(cfd, (struct sockaddr *)&local, &ll) == 0)
                addr_text(&local, c->local_ip, sizeof(c->local_ip), &c->local_port);
        if (s->n_conns >= HTTPD_MAX_CONNECTIONS ||
            peer_connections(s, c->peer_ip) >= HTTPD_MAX_PER_PEER) {
                /* Over the limit: refused, nothing else changes. */
                safe_close(cfd);
                free(c);
                return;
        }
        c->next = s->conns;
        s->conns = c;
        if (++s->n_conns > s->peak_conns)
                s->peak_conns = s->n_conns;
        c->events = EPOLLIN | EPOLLET;
        if (sd_event_add_io(ecs_loop_event(s->loop), &c->io, cfd, c->events, on_conn_io, c) < 0 ||
            conn_arm_timer(c) < 0)
                conn_free(c);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
        struct httpd *s = ud;

        for (;;) {
                struct sockaddr_storage ss = {0};
                socklen_t sl = sizeof(ss);
                int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0)
                        return 0;
                conn_new(s, cfd, &ss);
        }
}

int httpd_new(struct ecs_loop *loop, const struct httpd_params *p, struct httpd **ret)
{
        struct httpd *s;

        if (!p->handler)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->p = *p;
        if (p->rate_steady) {
                if (!s->p.rate_burst)
                        s->p.rate_burst = p->rate_steady;
                s->buckets = calloc(HTTPD_MAX_BUCKETS, sizeof(*s->buckets));
                if (!s->buckets) {
                        free(s);
                        return -ENOMEM;
                }
        }
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
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
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

unsigned httpd_connection_count(const struct httpd *s)
{
        return s ? s->n_conns : 0;
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
        free(s->buckets);
        free(s);
        return NULL;
}
