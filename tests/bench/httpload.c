/* A small closed-loop HTTP/1.1 load generator for the endpoint benchmark: C connections on
 * keep-alive, each sending GET <path> and waiting for the whole answer before the next, for
 * D seconds. Clients bind to consecutive loopback source addresses (P per address) so that
 * the server's per-client limits see many clients. Prints one line of figures.
 *
 * usage: httpload HOST PORT PATH CONNECTIONS SECONDS [PER_ADDRESS] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (4 * 1024 * 1024)

struct client {
        int fd;
        char buf[16384];
        size_t len;
        double started;
};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static int open_client(const char *host, int port, int index, int per_address)
{
        struct sockaddr_in src = {.sin_family = AF_INET};
        struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        inet_pton(AF_INET, host, &dst.sin_addr);
        if (per_address > 0 && ntohl(dst.sin_addr.s_addr) >> 24 == 127) {
                src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(index / per_address));
                (void)bind(fd, (struct sockaddr *)&src, sizeof(src));
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
                close(fd);
                return -1;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

/* Length of one whole answer at the start of buf, 0 if not complete yet. */
static size_t answer_length(const char *buf, size_t len, int *status)
{
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end)
                return 0;
        const char *cl = memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
        size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
        size_t total = (size_t)(end + 4 - buf) + body;
        *status = atoi(buf + 9);
        return total <= len ? total : 0;
}

int main(int argc, char **argv)
{
        if (argc < 6) {
                fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS SECONDS [PER_ADDRESS]\n",
                        argv[0]);
                return 2;
        }
        const char *host = argv[1], *path = argv[3];
        int port = atoi(argv[2]), n = atoi(argv[4]), per = argc > 6 ? atoi(argv[6]) : 16;
        double seconds = atof(argv[5]);
        char req[2048];
        int reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
        struct client *cs = calloc((size_t)n, sizeof(*cs));
        double *samples = malloc(MAX_SAMPLES * sizeof(double));
        size_t n_samples = 0, errors = 0, non200 = 0;
        int ep = epoll_create1(EPOLL_CLOEXEC);

        for (int i = 0; i < n; i++) {
                cs[i].fd = open_client(host, port, i, per);
                if (cs[i].fd < 0) {
                        errors++;
                        continue;
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
                epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
                cs[i].started = now();
                if (send(cs[i].fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen)
                        errors++;
        }
        double t0 = now(), deadline = t0 + seconds;
        struct epoll_event evs[256];
        while (now() < deadline) {
                int k = epoll_wait(ep, evs, 256, 100);
                for (int e = 0; e < k; e++) {
                        struct client *c = evs[e].data.ptr;
                        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
                        if (r <= 0) {
                                if (r < 0 && errno == EAGAIN)
                                        continue;
                                errors++;
                                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                                close(c->fd);
                                c->fd = -1;
                                continue;
                        }
                        c->len += (size_t)r;
                        int status = 0;
                        size_t used = answer_length(c->buf, c->len, &status);
                        if (!used)
                                continue;
                        double t = now();
                        if (n_samples < MAX_SAMPLES)
                                samples[n_samples++] = t - c->started;
                        non200 += status != 200;
                        memmove(c->buf, c->buf + used, c->len - used);
                        c->len -= used;
                        c->started = t;
                        if (send(c->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen)
                                errors++;
                }
        }
        double elapsed = now() - t0;
        qsort(samples, n_samples, sizeof(double), cmp);
        double p50 = n_samples ? samples[n_samples / 2] : 0;
        double p99 = n_samples ? samples[(size_t)((double)n_samples * 0.99)] : 0;
        printf("connections=%d requests=%zu rps=%.0f p50_ms=%.3f p99_ms=%.3f non200=%zu "
               "errors=%zu\n",
               n, n_samples, (double)n_samples / elapsed, p50 * 1e3, p99 * 1e3, non200, errors);
        return 0;
}
