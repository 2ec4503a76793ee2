/* The signed, reconnecting WebSocket shared by the ACS and TCS sessions. */
#include "ecs/wsession.h"
#include "ecs/awsjson.h"
#include "ecs/credentials.h"
#include "ecs/ecs_requests.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/sigv4.h"
#include "ecs/ws.h"

/* §2.14, §3.4 */
#define IDLE_TIMEOUT_USEC    (1 * USEC_PER_MINUTE)
#define LIFETIME_USEC        (30 * USEC_PER_MINUTE)
#define LIFETIME_JITTER_USEC (5 * USEC_PER_MINUTE)
#define BACKOFF_RESET_USEC   (1 * USEC_PER_MINUTE)
#define DPE_CACHE_USEC       (12 * USEC_PER_HOUR)
#define CONNECT_TIMEOUT_USEC (30 * USEC_PER_SEC)
/* A "clean" close that comes this fast after connecting is treated as an error, so a peer
 * that keeps closing at once cannot make us spin. */
#define QUICK_CLOSE_USEC (1 * USEC_PER_SEC)

struct wsession {
        struct wsession_params p;
        const struct wsession_ops *ops;
        const char *name;
        char *cluster, *instance_arn, *region, *docker_version;
        struct ws_client *ws;
        struct awsjson_call *dpe_call;
        struct aws_credential_request *cred_req;
        char *endpoint, *url;
        uint64_t endpoint_fetched;
        bool connected;
        uint64_t connected_at;
        struct backoff backoff;
        sd_event_source *reconnect_timer, *idle_timer, *lifetime_timer, *reset_timer;
};

static void session_connect(struct wsession *s);

static void clear_timers(struct wsession *s)
{
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->lifetime_timer = sd_event_source_disable_unref(s->lifetime_timer);
        s->reset_timer = sd_event_source_disable_unref(s->reset_timer);
}

static int on_reconnect_timer(sd_event_source *src, uint64_t usec, void *ud)
{
        struct wsession *s = ud;
        s->reconnect_timer = sd_event_source_disable_unref(s->reconnect_timer);
        session_connect(s);
        return 0;
}

void wsession_reconnect_in(struct wsession *s, uint64_t delay)
{
        s->reconnect_timer = sd_event_source_disable_unref(s->reconnect_timer);
        log_info("%s: reconnecting in %llu ms", s->name,
                 (unsigned long long)(delay / USEC_PER_MSEC));
        if (ecs_loop_add_timer(s->p.peer.loop, delay, on_reconnect_timer, s, &s->reconnect_timer) <
            0)
                log_error("%s: cannot schedule a reconnect", s->name);
}

static void reconnect_after_error(struct wsession *s)
{
        wsession_reconnect_in(s, backoff_next(&s->backoff));
}

int wsession_send(struct wsession *s, const char *text, size_t len)
{
        return s->ws && s->connected ? ws_client_send_text(s->ws, text, len) : -ENOTCONN;
}

/* ---- timers ---- */

static int on_idle(sd_event_source *src, uint64_t usec, void *ud)
{
        struct wsession *s = ud;
        log_warning("%s: no message within the idle timeout; reconnecting", s->name);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        if (s->ws)
                ws_client_close(s->ws, 1000, "idle timeout");
        return 0;
}

static void reset_idle_timer(struct wsession *s)
{
        uint64_t d = IDLE_TIMEOUT_USEC + random_u64_below(IDLE_TIMEOUT_USEC);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        (void)ecs_loop_add_timer(s->p.peer.loop, d, on_idle, s, &s->idle_timer);
}

static int on_lifetime(sd_event_source *src, uint64_t usec, void *ud)
{
        struct wsession *s = ud;
        s->lifetime_timer = sd_event_source_disable_unref(s->lifetime_timer);
        log_info("%s: connection reached its lifetime; reconnecting", s->name);
        if (s->ws)
                ws_client_close(s->ws, 1000, "ConnectionExpired: Reconnect to continue");
        return 0;
}

static int on_backoff_reset(sd_event_source *src, uint64_t usec, void *ud)
{
        struct wsession *s = ud;
        s->reset_timer = sd_event_source_disable_unref(s->reset_timer);
        backoff_reset(&s->backoff);
        return 0;
}

/* ---- connection ---- */

static void on_ws_open(struct ws_client *ws, void *ud)
{
        struct wsession *s = ud;

        log_info("%s: connected to %s", s->name, s->endpoint);
        s->connected = true;
        s->connected_at = now_usec();
        reset_idle_timer(s);
        (void)ecs_loop_add_timer(s->p.peer.loop,
                                 LIFETIME_USEC + random_u64_below(LIFETIME_JITTER_USEC),
                                 on_lifetime, s, &s->lifetime_timer);
        (void)ecs_loop_add_timer(s->p.peer.loop,
                                 BACKOFF_RESET_USEC + random_u64_below(BACKOFF_RESET_USEC),
                                 on_backoff_reset, s, &s->reset_timer);
        s->ops->on_open(s, s->p.userdata);
}

static void on_ws_message(struct ws_client *ws, const char *data, size_t len, bool binary, void *ud)
{
        struct wsession *s = ud;
        if (s->ops->on_message(s, data, len, s->p.userdata))
                reset_idle_timer(s);
}

static void on_ws_connect_error(struct ws_client *ws, int error, long status, const char *body,
                                void *ud)
{
        struct wsession *s = ud;
        _cleanup_free_ char *why = NULL;

        if (ws_client_connect_error(ws))
                why = strdup(ws_client_connect_error(ws));
        s->ws = ws_client_free(s->ws);
        s->url = mfree(s->url);
        if (status > 0 && s->ops->on_refused && s->ops->on_refused(s, status, body, s->p.userdata))
                return;
        if (status > 0)
                log_warning("%s: upgrade refused with HTTP %ld: %s", s->name, status,
                            strempty(body));
        else if (why)
                log_warning("%s: connection failed: %s", s->name, why);
        else
                log_warning_errno(error, "%s: connection failed: %m", s->name);
        /* The endpoint may have moved: discover it again next time. */
        s->endpoint_fetched = 0;
        reconnect_after_error(s);
}

static void on_ws_close(struct ws_client *ws, enum ws_close_reason reason, uint16_t code, void *ud)
{
        struct wsession *s = ud;
        bool quick = now_usec() - s->connected_at < QUICK_CLOSE_USEC;

        s->connected = false;
        clear_timers(s);
        s->ws = ws_client_free(s->ws);
        s->url = mfree(s->url);
        log_info("%s: connection closed (%s, code %u)", s->name,
                 reason == WS_CLOSED_BY_PEER    ? "by peer"
                 : reason == WS_CLOSED_BY_US    ? "by us"
                 : reason == WS_CONNECTION_LOST ? "lost"
                                                : "protocol error",
                 code);
        if (s->ops->on_close)
                s->ops->on_close(s, s->p.userdata);
        /* Clean closes reconnect at once with the backoff reset (§2.14). */
        bool clean = reason != WS_PROTOCOL_ERROR &&
                     (code == 1000 || code == 1001 || code == 1006 || code == 1011);
        if (clean && !quick) {
                backoff_reset(&s->backoff);
                wsession_reconnect_in(s, 0);
        } else
                reconnect_after_error(s);
}

static void on_credentials(int error, const struct aws_credentials *c, void *ud)
{
        struct wsession *s = ud;
        _cleanup_free_ char *url = NULL;
        char **headers = NULL;
        int r;

        s->cred_req = NULL;
        if (error < 0) {
                log_error_errno(error, "%s: no credentials to sign the connection: %m", s->name);
                reconnect_after_error(s);
                return;
        }
        r = s->ops->build_url(s, s->endpoint, &url, s->p.userdata);
        if (r < 0) {
                log_error_errno(r, "%s: cannot build the URL: %m", s->name);
                reconnect_after_error(s);
                return;
        }
        struct sigv4_params sp = {
            .method = "GET",
            .url = url,
            .region = s->region,
            .service = "ecs",
            .time_usec = realtime_usec(),
            .normalize_path = true,
        };
        r = sigv4_sign(&sp, c, &headers);
        if (r < 0) {
                log_error_errno(r, "%s: cannot sign the connection: %m", s->name);
                reconnect_after_error(s);
                return;
        }
        struct ws_options wo = {
            .url = url,
            .extra_headers = headers,
            .connect_timeout_usec = CONNECT_TIMEOUT_USEC,
            .max_message = s->ops->max_message,
        };
        static const struct ws_callbacks cbs = {
            .on_open = on_ws_open,
            .on_connect_error = on_ws_connect_error,
            .on_message = on_ws_message,
            .on_close = on_ws_close,
        };
        log_debug("%s: connecting to %s", s->name, url);
        r = ws_client_new(s->p.peer.loop, &wo, &cbs, s, &s->ws);
        strv_free(headers);
        if (r < 0) {
                log_error_errno(r, "%s: cannot start the connection: %m", s->name);
                reconnect_after_error(s);
                return;
        }
        free(s->url);
        s->url = TAKE_PTR(url);
}

static void connect_with_endpoint(struct wsession *s)
{
        int r = aws_credential_provider_get(s->p.peer.creds, on_credentials, s, &s->cred_req);
        if (r < 0) {
                log_oom();
                reconnect_after_error(s);
        }
}

static void on_dpe(const struct awsjson_result *res, void *ud)
{
        struct wsession *s = ud;
        struct ecs_poll_endpoints eps = {0};
        struct ecs_request_error err = {0};

        s->dpe_call = NULL;
        if (res->error_class != AWSJSON_OK) {
                log_warning("%s: DiscoverPollEndpoint failed: %s: %s", s->name, strna(res->code),
                            strna(res->message));
                if (s->endpoint) {
                        /* An expired endpoint beats none (§1.7). */
                        connect_with_endpoint(s);
                        return;
                }
                reconnect_after_error(s);
                return;
        }
        char **mine = s->ops->telemetry ? &eps.telemetry_endpoint : &eps.endpoint;
        if (ecs_discover_poll_endpoint_response_parse(res->response, &eps, &err) < 0 || !*mine) {
                log_error("%s: DiscoverPollEndpoint returned no usable endpoint%s%s", s->name,
                          err.reason[0] ? ": " : "", err.reason);
                ecs_poll_endpoints_done(&eps);
                reconnect_after_error(s);
                return;
        }
        free(s->endpoint);
        s->endpoint = TAKE_PTR(*mine);
        s->endpoint_fetched = now_usec();
        ecs_poll_endpoints_done(&eps);
        connect_with_endpoint(s);
}

static void session_connect(struct wsession *s)
{
        _cleanup_json_ json_object *body = NULL;
        int r;

        if (s->endpoint && s->endpoint_fetched &&
            now_usec() - s->endpoint_fetched < DPE_CACHE_USEC) {
                connect_with_endpoint(s);
                return;
        }
        r = ecs_discover_poll_endpoint_request_build(s->cluster, s->instance_arn, &body);
        if (r >= 0)
                r = awsjson_call(s->p.peer.ecs,
                                 "AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint", body,
                                 NULL, on_dpe, s, &s->dpe_call);
        if (r < 0) {
                log_error_errno(r, "%s: DiscoverPollEndpoint could not start: %m", s->name);
                reconnect_after_error(s);
        }
}

int wsession_new(const struct wsession_params *p, struct wsession **ret)
{
        struct wsession *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->p = *p;
        s->ops = p->ops;
        s->name = p->ops->name;
        s->backoff = p->ops->backoff;
        s->cluster = strdup(p->peer.cluster);
        s->instance_arn = strdup(p->peer.container_instance_arn);
        s->region = strdup(p->peer.region);
        s->docker_version = p->peer.docker_version ? strdup(p->peer.docker_version) : NULL;
        if (!s->cluster || !s->instance_arn || !s->region ||
            (p->peer.docker_version && !s->docker_version)) {
                wsession_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

struct wsession *wsession_free(struct wsession *s)
{
        if (!s)
                return NULL;
        clear_timers(s);
        sd_event_source_disable_unref(s->reconnect_timer);
        awsjson_call_cancel(s->dpe_call);
        aws_credential_request_cancel(s->cred_req);
        ws_client_free(s->ws);
        free(s->endpoint);
        free(s->url);
        free(s->cluster);
        free(s->instance_arn);
        free(s->region);
        free(s->docker_version);
        free(s);
        return NULL;
}

int wsession_start(struct wsession *s)
{
        session_connect(s);
        return 0;
}

bool wsession_connected(const struct wsession *s)
{
        return s->connected;
}

const char *wsession_cluster(const struct wsession *s)
{
        return s->cluster;
}

const char *wsession_instance_arn(const struct wsession *s)
{
        return s->instance_arn;
}

const char *wsession_region(const struct wsession *s)
{
        return s->region;
}

const char *wsession_docker_version(const struct wsession *s)
{
        return s->docker_version;
}

const char *wsession_url(const struct wsession *s)
{
        return s->connected ? s->url : NULL;
}
