/* The ACS WebSocket session. */
#include "ecs/acs.h"
#include "ecs/acs_codec.h"
#include "ecs/awsjson.h"
#include "ecs/backoff.h"
#include "ecs/credentials.h"
#include "ecs/credstore.h"
#include "ecs/ecs_requests.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/reporter.h"
#include "ecs/sigv4.h"
#include "ecs/ws.h"

/* §2.14 */
#define IDLE_TIMEOUT_USEC    (1 * USEC_PER_MINUTE)
#define LIFETIME_USEC        (30 * USEC_PER_MINUTE)
#define LIFETIME_JITTER_USEC (5 * USEC_PER_MINUTE)
#define BACKOFF_RESET_USEC   (1 * USEC_PER_MINUTE)
#define INACTIVE_DELAY_USEC  (1 * USEC_PER_HOUR)
#define DPE_CACHE_USEC       (12 * USEC_PER_HOUR)
#define CONNECT_TIMEOUT_USEC (30 * USEC_PER_SEC)
/* A "clean" close that comes this fast after connecting is treated as an error, so a peer
 * that keeps closing at once cannot make us spin. */
#define QUICK_CLOSE_USEC (1 * USEC_PER_SEC)

struct acs_session {
        struct acs_session_params p;
        char *cluster, *instance_arn, *region, *docker_version;
        struct ws_client *ws;
        struct awsjson_call *dpe_call;
        struct aws_credential_request *cred_req;
        char *endpoint;
        uint64_t endpoint_fetched;
        bool send_credentials; /* true until the first connection succeeded */
        bool connected;
        uint64_t connected_at;
        struct backoff backoff;
        sd_event_source *reconnect_timer, *idle_timer, *lifetime_timer, *reset_timer;
        int64_t seq_num;   /* highest payload seqNum / manifest timeline seen */
        char *manifest_id; /* the manifest whose stop verification we await */
};

static void session_connect(struct acs_session *s);

static int64_t max_i64(int64_t a, int64_t b)
{
        return a > b ? a : b;
}

static void clear_timers(struct acs_session *s)
{
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->lifetime_timer = sd_event_source_disable_unref(s->lifetime_timer);
        s->reset_timer = sd_event_source_disable_unref(s->reset_timer);
}

static int on_reconnect_timer(sd_event_source *src, uint64_t usec, void *ud)
{
        struct acs_session *s = ud;
        s->reconnect_timer = sd_event_source_disable_unref(s->reconnect_timer);
        session_connect(s);
        return 0;
}

static void schedule_reconnect(struct acs_session *s, uint64_t delay)
{
        s->reconnect_timer = sd_event_source_disable_unref(s->reconnect_timer);
        log_info("ACS: reconnecting in %llu ms", (unsigned long long)(delay / USEC_PER_MSEC));
        if (ecs_loop_add_timer(s->p.loop, delay, on_reconnect_timer, s, &s->reconnect_timer) < 0)
                log_error("ACS: cannot schedule a reconnect");
}

static void reconnect_after_error(struct acs_session *s)
{
        schedule_reconnect(s, backoff_next(&s->backoff));
}

static void send_text(struct acs_session *s, char *text)
{
        if (!text) {
                log_oom();
                return;
        }
        int r = s->ws ? ws_client_send_text(s->ws, text, strlen(text)) : -ENOTCONN;
        if (r < 0)
                log_warning_errno(r, "ACS: failed to send a reply: %m");
        free(text);
}

/* ---- timers ---- */

static int on_idle(sd_event_source *src, uint64_t usec, void *ud)
{
        struct acs_session *s = ud;
        log_warning("ACS: no message within the idle timeout; reconnecting");
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        if (s->ws)
                ws_client_close(s->ws, 1000, "idle timeout");
        return 0;
}

static void reset_idle_timer(struct acs_session *s)
{
        uint64_t d = IDLE_TIMEOUT_USEC + random_u64_below(IDLE_TIMEOUT_USEC);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        (void)ecs_loop_add_timer(s->p.loop, d, on_idle, s, &s->idle_timer);
}

static int on_lifetime(sd_event_source *src, uint64_t usec, void *ud)
{
        struct acs_session *s = ud;
        s->lifetime_timer = sd_event_source_disable_unref(s->lifetime_timer);
        log_info("ACS: connection reached its lifetime; reconnecting");
        if (s->ws)
                ws_client_close(s->ws, 1000, "ConnectionExpired: Reconnect to continue");
        return 0;
}

static int on_backoff_reset(sd_event_source *src, uint64_t usec, void *ud)
{
        struct acs_session *s = ud;
        s->reset_timer = sd_event_source_disable_unref(s->reset_timer);
        backoff_reset(&s->backoff);
        return 0;
}

/* ---- message handlers ---- */

static void store_credentials(struct acs_session *s, const char *task_arn,
                              const struct acs_credentials *c, bool execution)
{
        struct task_credentials tc = {
            .credentials_id = c->credentials_id,
            .task_arn = (char *)task_arn,
            .execution_role = execution,
            .role_arn = c->role_arn,
            .access_key_id = c->access_key_id,
            .secret_access_key = c->secret_access_key,
            .session_token = c->session_token,
            .expiration = c->expiration,
        };
        int r = credstore_put(s->p.credstore, &tc);
        if (r < 0)
                log_error_errno(r, "ACS: failed to store credentials for task %s: %m", task_arn);
}

static void handle_payload(struct acs_session *s, struct acs_payload_message *m)
{
        bool all_ok = m->n_failed == 0;
        int r;

        log_info("ACS: payload %s with %zu task(s)", m->message_id, m->n_tasks);
        for (size_t i = 0; i < m->n_tasks; i++) {
                struct acs_payload_task *pt = &m->tasks[i];
                if (!pt->error)
                        continue;
                log_error("ACS: payload %s: task %s rejected: %s", m->message_id, strna(pt->arn),
                          pt->error);
                if (pt->arn)
                        (void)reporter_report_invalid(s->p.reporter, pt->arn, pt->error);
        }

        /* Stopped tasks first, then the others (§2.6.6), so that what they release is free
         * for the new ones. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < m->n_tasks; i++) {
                        struct acs_payload_task *pt = &m->tasks[i];
                        if (!pt->task)
                                continue;
                        bool stopped = pt->task->desired_status >= TASK_STATUS_STOPPED;
                        if ((pass == 0) != stopped)
                                continue;
                        if (pt->role_credentials.credentials_id)
                                store_credentials(s, pt->task->arn, &pt->role_credentials, false);
                        if (pt->execution_credentials.credentials_id)
                                store_credentials(s, pt->task->arn, &pt->execution_credentials,
                                                  true);
                        r = engine_add_task(s->p.engine, pt->task);
                        if (r < 0) {
                                log_error_errno(r, "ACS: failed to add task %s: %m", pt->task->arn);
                                all_ok = false;
                        }
                }
        s->seq_num = max_i64(s->seq_num, m->seq_num);

        if (!all_ok) {
                log_warning("ACS: payload %s not fully handled; not acknowledging it",
                            m->message_id);
                return;
        }
        char *ack = NULL;
        (void)acs_encode_ack(m->cluster_arn, m->container_instance_arn, m->message_id, &ack);
        send_text(s, ack);
        for (size_t i = 0; i < m->n_tasks; i++) {
                struct acs_payload_task *pt = &m->tasks[i];
                const struct acs_credentials *sets[] = {&pt->role_credentials,
                                                        &pt->execution_credentials};
                for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
                        if (!sets[k]->credentials_id)
                                continue;
                        char *cack = NULL;
                        (void)acs_encode_credentials_ack(m->message_id, sets[k]->expiration,
                                                         sets[k]->credentials_id, &cack);
                        send_text(s, cack);
                }
        }
}

static void handle_credentials(struct acs_session *s, struct acs_credentials_message *m)
{
        struct ecs_task *t = engine_get_task(s->p.engine, m->task_arn);
        bool execution = m->role_type == ACS_ROLE_TASK_EXECUTION;

        if (!t) {
                /* Refreshes for tasks we do not know are not acked (§2.7, §11.12). */
                log_warning("ACS: credentials for unknown task %s; not acknowledging", m->task_arn);
                return;
        }
        store_credentials(s, t->arn, &m->credentials, execution);
        char **slot = execution ? &t->execution_credentials_id : &t->role_credentials_id;
        if (!streq_ptr(*slot, m->credentials.credentials_id)) {
                free(*slot);
                *slot = strdup(m->credentials.credentials_id);
        }
        log_info("ACS: %s credentials refreshed for task %s", execution ? "execution" : "task",
                 t->arn);
        char *ack = NULL;
        (void)acs_encode_credentials_ack(m->message_id, m->credentials.expiration,
                                         m->credentials.credentials_id, &ack);
        send_text(s, ack);
}

struct manifest_ctx {
        struct acs_task_manifest_message *m;
        struct acs_task_identifier *candidates;
        size_t n;
};

static void collect_candidate(struct ecs_task *t, void *ud)
{
        struct manifest_ctx *ctx = ud;

        if (t->desired_status != TASK_STATUS_RUNNING)
                return;
        for (size_t i = 0; i < ctx->m->n_tasks; i++)
                if (streq(ctx->m->tasks[i].task_arn, t->arn) &&
                    ctx->m->tasks[i].desired_status == TASK_STATUS_RUNNING)
                        return;
        struct acs_task_identifier *l =
            realloc(ctx->candidates, (ctx->n + 1) * sizeof(*ctx->candidates));
        if (!l)
                return;
        ctx->candidates = l;
        l[ctx->n++] = (struct acs_task_identifier){.task_arn = t->arn,
                                                   .task_cluster_arn = ctx->m->cluster_arn,
                                                   .desired_status = TASK_STATUS_STOPPED};
}

static void handle_manifest(struct acs_session *s, struct acs_task_manifest_message *m)
{
        struct manifest_ctx ctx = {.m = m};
        char *text = NULL;

        if (m->timeline <= s->seq_num) {
                /* Stale manifests are ignored without an ack (§2.11, §11.22). */
                log_debug("ACS: stale manifest %s (timeline %lld <= %lld)", m->message_id,
                          (long long)m->timeline, (long long)s->seq_num);
                return;
        }
        s->seq_num = m->timeline;
        free(s->manifest_id);
        s->manifest_id = strdup(m->message_id);

        engine_foreach_task(s->p.engine, collect_candidate, &ctx);
        (void)acs_encode_ack(m->cluster_arn, m->container_instance_arn, m->message_id, &text);
        send_text(s, text);
        if (ctx.n > 0) {
                log_info("ACS: manifest %s: %zu task(s) to verify for stopping", m->message_id,
                         ctx.n);
                text = NULL;
                (void)acs_encode_stop_verification(m->message_id, ctx.candidates, ctx.n, &text);
                send_text(s, text);
        }
        free(ctx.candidates);
}

static void handle_stop_ack(struct acs_session *s, struct acs_stop_verification_ack_message *m)
{
        if (isempty(m->message_id) || !streq_ptr(m->message_id, s->manifest_id)) {
                log_debug("ACS: stop verification ack for another manifest; ignored");
                return;
        }
        s->manifest_id = mfree(s->manifest_id);
        for (size_t i = 0; i < m->n_stop_tasks; i++) {
                const char *arn = m->stop_tasks[i].task_arn;
                if (engine_stop_task(s->p.engine, arn) >= 0)
                        log_info("ACS: stopping task %s after stop verification", arn);
        }
}

static void handle_update(struct acs_session *s, struct acs_update_message *m)
{
        char *nack = NULL;
        (void)acs_encode_nack(m->cluster_arn, m->container_instance_arn, m->message_id,
                              "Updates are disabled", &nack);
        send_text(s, nack);
}

static void on_ws_message(struct ws_client *ws, const char *data, size_t len, bool binary, void *ud)
{
        struct acs_session *s = ud;
        struct acs_message m;
        struct acs_error err = {0};
        int r;

        r = acs_decode(data, len, &m, &err);
        if (r < 0) {
                log_warning("ACS: dropped a message: %s", err.reason);
                if (err.type != ACS_MSG_UNKNOWN)
                        reset_idle_timer(s);
                return;
        }
        if (acs_message_type_is_activity(m.type))
                reset_idle_timer(s);

        switch (m.type) {
        case ACS_MSG_PAYLOAD:
                handle_payload(s, &m.payload);
                break;
        case ACS_MSG_HEARTBEAT: {
                char *ack = NULL;
                (void)acs_encode_heartbeat_ack(m.heartbeat.message_id, &ack);
                send_text(s, ack);
                break;
        }
        case ACS_MSG_IAM_ROLE_CREDENTIALS:
                handle_credentials(s, &m.credentials);
                break;
        case ACS_MSG_TASK_MANIFEST:
                handle_manifest(s, &m.manifest);
                break;
        case ACS_MSG_TASK_STOP_VERIFICATION_ACK:
                handle_stop_ack(s, &m.stop_ack);
                break;
        case ACS_MSG_ATTACH_TASK_ENI:
        case ACS_MSG_ATTACH_INSTANCE_ENI:
        case ACS_MSG_CONFIRM_ATTACHMENT: {
                /* Acked at once, as the official agent does (§2.9, §2.10). */
                const char *id = m.type == ACS_MSG_CONFIRM_ATTACHMENT ? m.confirm.message_id
                                                                      : m.attach_eni.message_id;
                const char *cl = m.type == ACS_MSG_CONFIRM_ATTACHMENT ? m.confirm.cluster_arn
                                                                      : m.attach_eni.cluster_arn;
                const char *ci = m.type == ACS_MSG_CONFIRM_ATTACHMENT
                                     ? m.confirm.container_instance_arn
                                     : m.attach_eni.container_instance_arn;
                char *ack = NULL;
                log_info("ACS: %s %s acknowledged", m.type_name, id);
                (void)acs_encode_ack(cl, ci, id, &ack);
                send_text(s, ack);
                break;
        }
        case ACS_MSG_STAGE_UPDATE:
        case ACS_MSG_PERFORM_UPDATE:
                handle_update(s, &m.update);
                break;
        case ACS_MSG_CLOSE:
        case ACS_MSG_ERROR:
        case ACS_MSG_EXCEPTION:
                log_warning("ACS: %s: %s", m.type_name, m.text.message);
                break;
        case ACS_MSG_UNKNOWN:
                log_info("ACS: ignoring message of unknown type %s", m.type_name);
                break;
        default:
                break;
        }
        acs_message_done(&m);
}

/* ---- connection ---- */

static void on_ws_open(struct ws_client *ws, void *ud)
{
        struct acs_session *s = ud;

        log_info("ACS: connected to %s", s->endpoint);
        s->connected = true;
        s->connected_at = now_usec();
        s->send_credentials = false;
        reset_idle_timer(s);
        (void)ecs_loop_add_timer(s->p.loop, LIFETIME_USEC + random_u64_below(LIFETIME_JITTER_USEC),
                                 on_lifetime, s, &s->lifetime_timer);
        (void)ecs_loop_add_timer(s->p.loop,
                                 BACKOFF_RESET_USEC + random_u64_below(BACKOFF_RESET_USEC),
                                 on_backoff_reset, s, &s->reset_timer);
        if (s->p.on_connected)
                s->p.on_connected(s, s->p.userdata);
}

static void on_ws_connect_error(struct ws_client *ws, int error, long status, const char *body,
                                void *ud)
{
        struct acs_session *s = ud;

        s->ws = ws_client_free(s->ws);
        if (body && strstr(body, "InactiveInstanceException")) {
                log_error("ACS: the control plane says this container instance is inactive "
                          "(deregistered): %s",
                          body);
                if (s->p.on_inactive)
                        s->p.on_inactive(s, s->p.userdata);
                else
                        schedule_reconnect(s, INACTIVE_DELAY_USEC);
                return;
        }
        if (status > 0)
                log_warning("ACS: upgrade refused with HTTP %ld: %s", status, strempty(body));
        else
                log_warning_errno(error, "ACS: connection failed: %m");
        /* The endpoint may have moved: discover it again next time. */
        s->endpoint_fetched = 0;
        reconnect_after_error(s);
}

static void on_ws_close(struct ws_client *ws, enum ws_close_reason reason, uint16_t code, void *ud)
{
        struct acs_session *s = ud;
        bool quick = now_usec() - s->connected_at < QUICK_CLOSE_USEC;

        s->connected = false;
        clear_timers(s);
        s->ws = ws_client_free(s->ws);
        log_info("ACS: connection closed (%s, code %u)",
                 reason == WS_CLOSED_BY_PEER    ? "by peer"
                 : reason == WS_CLOSED_BY_US    ? "by us"
                 : reason == WS_CONNECTION_LOST ? "lost"
                                                : "protocol error",
                 code);
        /* Clean closes reconnect at once with the backoff reset (§2.14). */
        bool clean = reason != WS_PROTOCOL_ERROR &&
                     (code == 1000 || code == 1001 || code == 1006 || code == 1011);
        if (clean && !quick) {
                backoff_reset(&s->backoff);
                schedule_reconnect(s, 0);
        } else
                reconnect_after_error(s);
}

static void on_credentials(int error, const struct aws_credentials *c, void *ud)
{
        struct acs_session *s = ud;
        _cleanup_free_ char *url = NULL;
        char **headers = NULL;
        int r;

        s->cred_req = NULL;
        if (error < 0) {
                log_error_errno(error, "ACS: no credentials to sign the connection: %m");
                reconnect_after_error(s);
                return;
        }
        r = acs_build_url(s->endpoint, s->cluster, s->instance_arn, ECS_AGENT_VERSION,
                          ECS_AGENT_GIT_HASH, s->docker_version, s->send_credentials, 1, &url);
        if (r < 0) {
                log_error_errno(r, "ACS: cannot build the URL: %m");
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
                log_error_errno(r, "ACS: cannot sign the connection: %m");
                reconnect_after_error(s);
                return;
        }
        struct ws_options wo = {
            .url = url,
            .extra_headers = headers,
            .connect_timeout_usec = CONNECT_TIMEOUT_USEC,
            .max_message = ACS_MAX_MESSAGE_SIZE,
        };
        static const struct ws_callbacks cbs = {
            .on_open = on_ws_open,
            .on_connect_error = on_ws_connect_error,
            .on_message = on_ws_message,
            .on_close = on_ws_close,
        };
        log_debug("ACS: connecting to %s", url);
        r = ws_client_new(s->p.loop, &wo, &cbs, s, &s->ws);
        strv_free(headers);
        if (r < 0) {
                log_error_errno(r, "ACS: cannot start the connection: %m");
                reconnect_after_error(s);
        }
}

static void connect_with_endpoint(struct acs_session *s)
{
        int r = aws_credential_provider_get(s->p.creds, on_credentials, s, &s->cred_req);
        if (r < 0) {
                log_oom();
                reconnect_after_error(s);
        }
}

static void on_dpe(const struct awsjson_result *res, void *ud)
{
        struct acs_session *s = ud;
        struct ecs_poll_endpoints eps = {0};
        struct ecs_request_error err = {0};

        s->dpe_call = NULL;
        if (res->error_class != AWSJSON_OK) {
                log_warning("ACS: DiscoverPollEndpoint failed: %s: %s", strna(res->code),
                            strna(res->message));
                if (s->endpoint) {
                        /* An expired endpoint beats none (§1.7). */
                        connect_with_endpoint(s);
                        return;
                }
                reconnect_after_error(s);
                return;
        }
        if (ecs_discover_poll_endpoint_response_parse(res->response, &eps, &err) < 0 ||
            !eps.endpoint) {
                log_error("ACS: DiscoverPollEndpoint returned no usable endpoint%s%s",
                          err.reason[0] ? ": " : "", err.reason);
                ecs_poll_endpoints_done(&eps);
                reconnect_after_error(s);
                return;
        }
        free(s->endpoint);
        s->endpoint = TAKE_PTR(eps.endpoint);
        s->endpoint_fetched = now_usec();
        ecs_poll_endpoints_done(&eps);
        connect_with_endpoint(s);
}

static void session_connect(struct acs_session *s)
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
                r = awsjson_call(s->p.ecs,
                                 "AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint", body,
                                 NULL, on_dpe, s, &s->dpe_call);
        if (r < 0) {
                log_error_errno(r, "ACS: DiscoverPollEndpoint could not start: %m");
                reconnect_after_error(s);
        }
}

int acs_session_new(const struct acs_session_params *p, struct acs_session **ret)
{
        struct acs_session *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->p = *p;
        s->cluster = strdup(p->cluster);
        s->instance_arn = strdup(p->container_instance_arn);
        s->region = strdup(p->region);
        s->docker_version = p->docker_version ? strdup(p->docker_version) : NULL;
        s->send_credentials = true;
        s->backoff = BACKOFF_INIT(250 * USEC_PER_MSEC, 2 * USEC_PER_MINUTE, 1.5, 0.2);
        if (!s->cluster || !s->instance_arn || !s->region) {
                acs_session_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

struct acs_session *acs_session_free(struct acs_session *s)
{
        if (!s)
                return NULL;
        clear_timers(s);
        sd_event_source_disable_unref(s->reconnect_timer);
        awsjson_call_cancel(s->dpe_call);
        aws_credential_request_cancel(s->cred_req);
        ws_client_free(s->ws);
        free(s->endpoint);
        free(s->manifest_id);
        free(s->cluster);
        free(s->instance_arn);
        free(s->region);
        free(s->docker_version);
        free(s);
        return NULL;
}

int acs_session_start(struct acs_session *s)
{
        session_connect(s);
        return 0;
}

bool acs_session_connected(const struct acs_session *s)
{
        return s->connected;
}
