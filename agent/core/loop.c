#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/macro.h"
#include "ecs/netenv.h"
#include "ecs/strbuf.h"

#define HTTP_DEFAULT_MAX_RESPONSE    (8u * 1024 * 1024)
#define HTTP_DEFAULT_CONNECT_TIMEOUT (30 * USEC_PER_SEC)
#define HTTP_MAX_RESPONSE_HEADERS    100
#define HTTP_MAX_HEADER_BYTES        (64u * 1024)

/* One libcurl multi handle wired into sd-event. The loop has one for all ordinary
 * transfers; every raw connection gets a private one, so that the connection it keeps open
 * lives in a cache nothing else uses (and therefore nothing prunes or reuses it). */
struct io_watch {
        struct io_watch *next;
        sd_event_source *source;
        curl_socket_t fd;
};

struct curl_driver {
        CURLM *multi;
        sd_event *event;
        sd_event_source *timer;
        struct io_watch *watches;
        bool muted; /* a raw connection was handed over: stop watching its socket */
};

struct ecs_loop {
        sd_event *event;
        struct curl_driver driver;
        /* TLS session tickets (and DNS answers) shared by every transfer, the private
         * multis of raw connections included, so a reconnect resumes the TLS session. */
        CURLSH *share;
        bool insecure;
        char *http_proxy, *https_proxy, *no_proxy;
        char *ca_file, *ca_dir;
};

struct ecs_http_call {
        struct ecs_loop *loop;
        struct curl_driver *driver; /* &loop->driver, or owned_driver for raw connections */
        struct curl_driver *owned_driver;
        CURL *easy;
        struct curl_slist *req_headers;
        struct strbuf body;
        char **resp_headers;
        size_t n_resp_headers;
        size_t resp_header_bytes;
        ecs_http_done_fn done;
        ecs_http_data_fn on_data;
        ecs_raw_connect_fn raw_done;
        void *userdata;
        int abort_error;   /* why a callback aborted the transfer */
        const char *proxy; /* the proxy crossed (the loop's string), NULL when direct */
        bool unix_socket;
        char errbuf[CURL_ERROR_SIZE];
        char errtext[CURL_ERROR_SIZE + 1024];
};

uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t realtime_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void driver_check_done(struct curl_driver *d);

/* After a raw connection is handed over, its owner watches the socket itself; drop our
 * watch and ignore any later socket callbacks of that private multi. */
static void watch_remove(struct curl_driver *d, struct io_watch *w)
{
        for (struct io_watch **p = &d->watches; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        sd_event_source_disable_unref(w->source);
        curl_multi_assign(d->multi, w->fd, NULL);
        free(w);
}

static void driver_mute(struct curl_driver *d)
{
        d->muted = true;
        while (d->watches)
                watch_remove(d, d->watches);
}

static int driver_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct curl_driver *d = userdata;
        int flags = 0, running;

        if (revents & EPOLLIN)
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(d->multi, fd, flags, &running);
        driver_check_done(d);
        return 0;
}

static int driver_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct curl_driver *d = userdata;
        int running;

        curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        driver_check_done(d);
        return 0;
}

static int driver_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct curl_driver *d = userp;
        struct io_watch *w = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE || d->muted) {
                if (w)
                        watch_remove(d, w);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (w)
                r = sd_event_source_set_io_events(w->source, events);
        else {
                w = calloc(1, sizeof(*w));
                if (!w)
                        return -1;
                w->fd = fd;
                r = sd_event_add_io(d->event, &w->source, fd, events, driver_on_io, d);
                if (r < 0) {
                        free(w);
                        w = NULL;
                } else {
                        w->next = d->watches;
                        d->watches = w;
                        curl_multi_assign(d->multi, fd, w);
                }
        }
        if (r < 0) {
                log_debug_errno(r, "Failed to watch curl socket %d: %m", fd);
                return -1;
        }
        return 0;
}

static int driver_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        struct curl_driver *d = userp;
        int r;

        if (timeout_ms < 0)
                return d->timer ? sd_event_source_set_enabled(d->timer, SD_EVENT_OFF) >= 0 ? 0 : -1
                                : 0;
        uint64_t when = now_usec() + (uint64_t)timeout_ms * USEC_PER_MSEC;
        if (!d->timer) {
                /* Accuracy 1 µs: the default would hold every transfer up to 250 ms. */
                r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, when, 1,
                                      driver_on_timer, d);
                if (r < 0)
                        return -1;
        } else {
                r = sd_event_source_set_time(d->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
                if (r < 0)
                        return -1;
        }
        return 0;
}

static int driver_init(struct curl_driver *d, sd_event *event)
{
        d->event = event;
        d->multi = curl_multi_init();
        if (!d->multi)
                return -ENOMEM;
        curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, driver_socket_cb);
        curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
        curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, driver_timer_cb);
        curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
        return 0;
}

static void driver_done(struct curl_driver *d)
{
        while (d->watches)
                watch_remove(d, d->watches);
        if (d->multi) {
                curl_multi_cleanup(d->multi);
                d->multi = NULL;
        }
        d->timer = sd_event_source_disable_unref(d->timer);
}

int ecs_loop_new(struct ecs_loop **ret)
{
        struct ecs_loop *loop;
        int r;

        static bool curl_initialised;
        if (!curl_initialised) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                curl_initialised = true;
        }

        loop = calloc(1, sizeof(*loop));
        if (!loop)
                return -ENOMEM;
        r = sd_event_new(&loop->event);
        if (r < 0) {
                free(loop);
                return r;
        }
        r = driver_init(&loop->driver, loop->event);
        if (r < 0) {
                ecs_loop_free(loop);
                return r;
        }
        loop->share = curl_share_init();
        if (!loop->share ||
            curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
                CURLSHE_OK ||
            curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
                ecs_loop_free(loop);
                return -ENOMEM;
        }
        *ret = loop;
        return 0;
}

struct ecs_loop *ecs_loop_free(struct ecs_loop *loop)
{
        if (!loop)
                return NULL;
        driver_done(&loop->driver);
        if (loop->share)
                (void)curl_share_cleanup(loop->share);
        sd_event_unref(loop->event);
        free(loop->http_proxy);
        free(loop->https_proxy);
        free(loop->no_proxy);
        free(loop->ca_file);
        free(loop->ca_dir);
        free(loop);
        return NULL;
}

sd_event *ecs_loop_event(struct ecs_loop *loop)
{
        return loop->event;
}

int ecs_loop_run(struct ecs_loop *loop)
{
        return sd_event_loop(loop->event);
}

int ecs_loop_exit(struct ecs_loop *loop, int code)
{
        return sd_event_exit(loop->event, code);
}

void ecs_loop_set_insecure(struct ecs_loop *loop, bool insecure)
{
        loop->insecure = insecure;
}

static int copy_setting(const char *v, bool proxy, char **field)
{
        char *s = NULL;

        if (v && v[0]) {
                /* A proxy without a scheme is an HTTP proxy, as Go and libcurl read it. */
                if (proxy && !strstr(v, "://")) {
                        if (asprintf(&s, "http://%s", v) < 0)
                                return -ENOMEM;
                } else if (!(s = strdup(v)))
                        return -ENOMEM;
        }
        free(*field);
        *field = s;
        return 0;
}

int ecs_loop_set_network(struct ecs_loop *loop, const struct ecs_loop_network *n)
{
        if (copy_setting(n->http_proxy, true, &loop->http_proxy) < 0 ||
            copy_setting(n->https_proxy, true, &loop->https_proxy) < 0 ||
            copy_setting(n->no_proxy, false, &loop->no_proxy) < 0 ||
            copy_setting(n->ca_file, false, &loop->ca_file) < 0 ||
            copy_setting(n->ca_dir, false, &loop->ca_dir) < 0)
                return -ENOMEM;
        return 0;
}

int ecs_loop_add_timer(struct ecs_loop *loop, uint64_t delay_usec, sd_event_time_handler_t cb,
                       void *userdata, sd_event_source **ret)
{
        /* Accuracy 1 µs: sd-event's default (0) coalesces timers over 250 ms, which would
         * delay every retry and reconnect by up to that much. */
        return sd_event_add_time_relative(loop->event, ret, CLOCK_MONOTONIC, delay_usec, 1, cb,
                                          userdata);
}

const char *ecs_http_response_header(const struct ecs_http_response *resp, const char *name)
{
        size_t n = strlen(name);

        if (!resp->headers)
                return NULL;
        for (char **h = resp->headers; *h; h++)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
                        const char *v = *h + n + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        return v;
                }
        return NULL;
}

static void call_free(struct ecs_http_call *c)
{
        if (!c)
                return;
        if (c->easy) {
                curl_multi_remove_handle(c->driver->multi, c->easy);
                curl_easy_cleanup(c->easy);
        }
        if (c->owned_driver) {
                driver_done(c->owned_driver);
                free(c->owned_driver);
        }
        curl_slist_free_all(c->req_headers);
        strbuf_done(&c->body);
        for (size_t i = 0; i < c->n_resp_headers; i++)
                free(c->resp_headers[i]);
        free(c->resp_headers);
        free(c);
}

void ecs_http_call_cancel(struct ecs_http_call *call)
{
        call_free(call);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct ecs_http_call *c = userdata;
        size_t len = size * nmemb;
        int r;

        if (c->on_data) {
                r = c->on_data(ptr, len, c->userdata);
                if (r < 0) {
                        c->abort_error = r;
                        return 0; /* makes libcurl fail the transfer with a write error */
                }
                return len;
        }
        r = strbuf_append(&c->body, ptr, len);
        if (r < 0) {
                c->abort_error = r;
                return 0;
        }
        return len;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
        struct ecs_http_call *c = userdata;
        size_t len = size * nitems;

        /* A new status line starts a new header block (after 100-continue or a redirect). */
        if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
                for (size_t i = 0; i < c->n_resp_headers; i++)
                        free(c->resp_headers[i]);
                c->n_resp_headers = 0;
                c->resp_header_bytes = 0;
                return len;
        }
        while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
                len--;
        if (len == 0 || !memchr(buf, ':', len))
                return size * nitems;

        c->resp_header_bytes += len;
        if (c->n_resp_headers >= HTTP_MAX_RESPONSE_HEADERS ||
            c->resp_header_bytes > HTTP_MAX_HEADER_BYTES) {
                c->abort_error = -E2BIG;
                return 0;
        }
        char **l = realloc(c->resp_headers, (c->n_resp_headers + 2) * sizeof(char *));
        if (!l) {
                c->abort_error = -ENOMEM;
                return 0;
        }
        c->resp_headers = l;
        l[c->n_resp_headers] = strndup(buf, len);
        if (!l[c->n_resp_headers]) {
                c->abort_error = -ENOMEM;
                return 0;
        }
        l[++c->n_resp_headers] = NULL;
        return size * nitems;
}

static int curl_code_to_errno(CURLcode code)
{
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
                return -EPROTO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* Puts in c->errtext what failed, in words an operator can act on: which peer (and proxy),
 * what went wrong, libcurl's detail, and what to do when that is clear. */
static void describe_error(struct ecs_http_call *c, CURLcode code)
{
        const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);
        const char *what = "transfer failed", *hint = NULL;
        char origin[300] = "", via[300] = "", buf[128];
        long connect_code = 0, verify = 0;
        char *url = NULL;

        if (c->unix_socket)
                snprintf(origin, sizeof(origin), "unix socket");
        else if (curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
                ecs_url_origin(url, origin, sizeof(origin));
        if (c->proxy) {
                char shown[256];
                ecs_url_redact(c->proxy, shown, sizeof(shown));
                snprintf(via, sizeof(via), " via proxy %s", shown);
        }
        (void)curl_easy_getinfo(c->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
        (void)curl_easy_getinfo(c->easy, CURLINFO_SSL_VERIFYRESULT, &verify);

        if (c->proxy && connect_code >= 300) {
                snprintf(buf, sizeof(buf), "the proxy refused the tunnel (HTTP %ld)", connect_code);
                what = buf;
                if (connect_code == 407 || connect_code == 401)
                        hint = "check the user and password in the proxy URL";
        } else
                switch (code) {
                case CURLE_PEER_FAILED_VERIFICATION:
                        if (strstr(detail, "subject name") || strstr(detail, "does not match") ||
                            verify == 62 /* X509_V_ERR_HOSTNAME_MISMATCH */) {
                                what = "TLS certificate is for another host name";
                                hint = "use an endpoint name the certificate lists";
                        } else if (verify == 10 /* X509_V_ERR_CERT_HAS_EXPIRED */) {
                                what = "TLS certificate has expired";
                        } else if (verify == 9 /* X509_V_ERR_CERT_NOT_YET_VALID */) {
                                what = "TLS certificate is not valid yet";
                                hint = "check this host's clock";
                        } else {
                                what = "TLS certificate not trusted";
                                hint = c->loop->ca_file
                                           ? "its CA is not in the configured CA bundle"
                                           : "add its CA to the system store, or set "
                                             "AWS_CA_BUNDLE or SSL_CERT_FILE to a PEM file "
                                             "holding it";
                        }
                        break;
                case CURLE_SSL_CONNECT_ERROR:
                        what = "TLS handshake failed";
                        if (strstr(detail, "wrong version number") ||
                            strstr(detail, "packet length too long"))
                                hint = "the server does not speak TLS: is it plain http://?";
                        else if (strstr(detail, "SSL_ERROR_SYSCALL"))
                                hint = "the server closed the connection during the handshake: "
                                       "is it plain http://, or not the endpoint?";
                        break;
                case CURLE_SSL_CACERT_BADFILE:
                        what = "cannot load the trusted CAs";
                        break;
                case CURLE_COULDNT_RESOLVE_PROXY:
                        what = "cannot resolve the proxy";
                        break;
                case CURLE_COULDNT_RESOLVE_HOST:
                        what = "cannot resolve the host";
                        break;
                case CURLE_COULDNT_CONNECT:
                        what = c->proxy ? "cannot connect to the proxy" : "cannot connect";
                        break;
                case CURLE_OPERATION_TIMEDOUT:
                        if (strstr(detail, "SSL connection timeout")) {
                                what = "TLS handshake timed out";
                                hint = "the server did not answer it: is it plain http://, or "
                                       "not the endpoint?";
                        } else
                                what = "timed out";
                        break;
                default:
                        break;
                }
        snprintf(c->errtext, sizeof(c->errtext), "%s%s: %s: %s%s%s", origin[0] ? origin : "?", via,
                 what, detail, hint ? "; " : "", strempty(hint));
}

static void call_finish(struct ecs_http_call *c, CURLcode code)
{
        struct ecs_http_response resp = {0};
        long status = 0;

        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        resp.status = status;
        resp.error = code == CURLE_OK ? 0
                     : c->abort_error ? c->abort_error
                                      : curl_code_to_errno(code);
        if (code != CURLE_OK)
                describe_error(c, code);
        resp.error_text = code == CURLE_OK ? NULL : c->errtext;
        if (!c->on_data) {
                if (!c->body.data)
                        (void)strbuf_append(&c->body, "", 0);
                resp.body = c->body.data;
                resp.body_len = c->body.len;
        }
        resp.headers = c->resp_headers;

        if (c->raw_done) {
                curl_socket_t fd = CURL_SOCKET_BAD;
                if (code == CURLE_OK)
                        curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &fd);
                if (code == CURLE_OK && fd != CURL_SOCKET_BAD) {
                        /* Hand the easy handle (still inside its private multi, whose cache
                         * holds the open connection) to the caller; the driver travels with
                         * it through CURLINFO_PRIVATE. */
                        ecs_raw_connect_fn cb = c->raw_done;
                        void *ud = c->userdata;
                        CURL *easy = TAKE_PTR(c->easy);
                        struct curl_driver *d = TAKE_PTR(c->owned_driver);
                        curl_easy_setopt(easy, CURLOPT_PRIVATE, d);
                        /* The error buffer lives in the call, freed below; libcurl would
                         * write to it when a later send or receive fails. */
                        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
                        driver_mute(d);
                        call_free(c);
                        cb(0, NULL, easy, fd, ud);
                        return;
                }
                ecs_raw_connect_fn cb = c->raw_done;
                void *ud = c->userdata;
                int err = resp.error ? resp.error : -EIO;
                char text[sizeof(c->errtext)];
                snprintf(text, sizeof(text), "%s", resp.error_text ? resp.error_text : "no socket");
                call_free(c);
                cb(err, text, NULL, -EBADF, ud);
                return;
        }

        ecs_http_done_fn done = c->done;
        void *ud = c->userdata;
        if (done)
                done(&resp, ud);
        call_free(c);
}

static void driver_check_done(struct curl_driver *d)
{
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(d->multi, &left))) {
                struct ecs_http_call *c = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                if (!c)
                        continue;
                /* A private driver carries exactly one transfer, and finishing it either
                 * frees the driver or hands it over: touch it no more. */
                bool private = c->owned_driver == d;
                call_finish(c, msg->data.result);
                if (private)
                        return;
        }
}

static struct ecs_http_call *call_new(struct ecs_loop *loop, const char *url,
                                      uint64_t connect_timeout_usec, bool direct)
{
        struct ecs_http_call *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->loop = loop;
        c->driver = &loop->driver;
        c->easy = curl_easy_init();
        if (!c->easy) {
                free(c);
                return NULL;
        }
        CURL *e = c->easy;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, c);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(
            e, CURLOPT_CONNECTTIMEOUT_MS,
            (long)((connect_timeout_usec ? connect_timeout_usec : HTTP_DEFAULT_CONNECT_TIMEOUT) /
                   USEC_PER_MSEC));
        curl_easy_setopt(e, CURLOPT_SHARE, loop->share);
        /* The proxy is chosen here, never by libcurl from the environment, so the Docker
         * socket, IMDS and the agent's own endpoints stay direct whatever NO_PROXY says. */
        if (!direct) {
                struct ecs_proxy_config pc = {loop->http_proxy, loop->https_proxy, loop->no_proxy};
                c->proxy = ecs_proxy_for_url(&pc, url);
        }
        curl_easy_setopt(e, CURLOPT_PROXY, c->proxy ? c->proxy : "");
        if (loop->ca_file)
                curl_easy_setopt(e, CURLOPT_CAINFO, loop->ca_file);
        if (loop->ca_dir)
                curl_easy_setopt(e, CURLOPT_CAPATH, loop->ca_dir);
        if (loop->insecure) {
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        return c;
}

int ecs_http_start(struct ecs_loop *loop, const struct ecs_http_request *req, ecs_http_done_fn done,
                   void *userdata, struct ecs_http_call **ret)
{
        struct ecs_http_call *c;
        const char *method = req->method ? req->method : "GET";

        if (!req->url)
                return -EINVAL;
        c = call_new(loop, req->url, req->connect_timeout_usec, req->direct || req->unix_socket);
        if (!c)
                return -ENOMEM;
        c->done = done;
        c->on_data = req->on_data;
        c->userdata = userdata;
        c->body = STRBUF_INIT(req->max_response ? req->max_response : HTTP_DEFAULT_MAX_RESPONSE);

        CURL *e = c->easy;
        if (req->unix_socket) {
                curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
                c->unix_socket = true;
        }
        if (streq(method, "GET"))
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        else if (streq(method, "HEAD"))
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || !streq(method, "GET")) {
                if (!streq(method, "GET") && !streq(method, "HEAD")) {
                        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
                        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
                }
        }
        /* libcurl adds "Expect: 100-continue" to large bodies; none of our peers needs it
         * and it costs a round trip. An empty Content-Type must not be invented either. */
        c->req_headers = curl_slist_append(NULL, "Expect:");
        if (req->headers)
                for (char *const *h = req->headers; *h; h++) {
                        struct curl_slist *l = curl_slist_append(c->req_headers, *h);
                        if (!l) {
                                call_free(c);
                                return -ENOMEM;
                        }
                        c->req_headers = l;
                }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->req_headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
        if (req->timeout_usec)
                curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_usec / USEC_PER_MSEC));
        if (req->stall_timeout_usec) {
                curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                                 (long)MAX(req->stall_timeout_usec / USEC_PER_SEC, 1ULL));
        }

        if (curl_multi_add_handle(c->driver->multi, e) != CURLM_OK) {
                call_free(c);
                return -EIO;
        }
        if (ret)
                *ret = c;
        return 0;
}

int ecs_raw_connect(struct ecs_loop *loop, const char *url, uint64_t timeout_usec,
                    ecs_raw_connect_fn done, void *userdata, struct ecs_http_call **ret)
{
        struct ecs_http_call *c;
        int r;

        c = call_new(loop, url, timeout_usec, false);
        if (!c)
                return -ENOMEM;
        c->raw_done = done;
        /* Through a proxy, a raw connection is a CONNECT tunnel, ws:// as well as wss://. */
        if (c->proxy)
                curl_easy_setopt(c->easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
        c->userdata = userdata;
        c->owned_driver = calloc(1, sizeof(struct curl_driver));
        if (!c->owned_driver) {
                call_free(c);
                return -ENOMEM;
        }
        r = driver_init(c->owned_driver, loop->event);
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->driver = c->owned_driver;
        curl_easy_setopt(c->easy, CURLOPT_CONNECT_ONLY, 1L);
        if (timeout_usec)
                curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)(timeout_usec / USEC_PER_MSEC));
        if (curl_multi_add_handle(c->driver->multi, c->easy) != CURLM_OK) {
                call_free(c);
                return -EIO;
        }
        if (ret)
                *ret = c;
        return 0;
}

void ecs_raw_conn_free(CURL *easy)
{
        struct curl_driver *d = NULL;

        if (!easy)
                return;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
        if (d)
                curl_multi_remove_handle(d->multi, easy);
        curl_easy_cleanup(easy);
        if (d) {
                driver_done(d);
                free(d);
        }
}
