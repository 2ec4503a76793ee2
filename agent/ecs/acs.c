/* The ACS WebSocket session. */
#include "ecs/acs.h"
#include "ecs/acs_codec.h"
#include "ecs/awsjson.h"
#include "ecs/backoff.h"
#include "ecs/credentials.h"
#include "ecs/credstore.h"
#include "ecs/ecs_requests.h"
#include "ecs/engine.h"
#include "ecs/eniwatch.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/reporter.h"
#include "ecs/sigv4.h"
#include "ecs/wsession.h"

#define INACTIVE_DELAY_USEC (1 * USEC_PER_HOUR)

struct acs_session {
        struct acs_session_params p;
        struct wsession *ws;
        bool send_credentials; /* true until the first connection succeeded */
        int64_t seq_num;       /* highest payload seqNum / manifest timeline seen */
        char *manifest_id;     /* the manifest whose stop verification we await */
};

static int64_t max_i64(int64_t a, int64_t b)
{
        return a > b ? a : b;
}

static void send_text(struct acs_session *s, char *text)
{
        if (!text) {
                log_oom();
                return;
        }
        int r = wsession_send(s->ws, text, strlen(text));
        if (r < 0)
                log_warning_errno(r, "ACS: failed to send a reply: %m");
        free(text);
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

/* waitTimeoutMs comes from the peer: bounded, so the conversion cannot overflow. */
#define ATTACH_WAIT_MAX_MSEC (60 * 60 * 1000)
static uint64_t attach_wait_usec(const struct acs_attach_eni_message *m)
{
        int64_t ms =
            m->wait_timeout_ms < ATTACH_WAIT_MAX_MSEC ? m->wait_timeout_ms : ATTACH_WAIT_MAX_MSEC;
        return (uint64_t)ms * USEC_PER_MSEC;
}

static void handle_update(struct acs_session *s, struct acs_update_message *m)
{
        char *nack = NULL;
        (void)acs_encode_nack(m->cluster_arn, m->container_instance_arn, m->message_id,
                              "Updates are disabled", &nack);
        send_text(s, nack);
}

static bool on_message(struct wsession *ws, const char *data, size_t len, void *ud)
{
        struct acs_session *s = ud;
        bool activity;
        struct acs_message m;
        struct acs_error err = {0};
        int r;

        r = acs_decode(data, len, &m, &err);
        if (r < 0) {
                log_warning("ACS: dropped a message: %s", err.reason);
                return err.type != ACS_MSG_UNKNOWN;
        }
        activity = acs_message_type_is_activity(m.type);

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
                if (m.type == ACS_MSG_ATTACH_TASK_ENI && s->p.eniwatch)
                        for (size_t i = 0; i < m.attach_eni.n_enis; i++) {
                                const struct acs_eni *eni = &m.attach_eni.enis[i];
                                int er = eniwatch_expect(s->p.eniwatch, m.attach_eni.task_arn,
                                                         eni->attachment_arn, eni->mac_address,
                                                         attach_wait_usec(&m.attach_eni));
                                if (er < 0)
                                        log_warning_errno(er, "ACS: ENI %s not watched: %m",
                                                          eni->mac_address);
                        }
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
        return activity;
}

/* ---- connection ---- */

static int build_url(struct wsession *ws, const char *endpoint, char **ret, void *ud)
{
        struct acs_session *s = ud;
        return acs_build_url(endpoint, wsession_cluster(ws), wsession_instance_arn(ws),
                             ECS_AGENT_VERSION, ECS_AGENT_GIT_HASH, wsession_docker_version(ws),
                             s->send_credentials, 1, ret);
}

static void on_open(struct wsession *ws, void *ud)
{
        struct acs_session *s = ud;
        s->send_credentials = false;
        if (s->p.on_connected)
                s->p.on_connected(s, s->p.userdata);
}

static bool on_refused(struct wsession *ws, long status, const char *body, void *ud)
{
        struct acs_session *s = ud;

        if (!body || !strstr(body, "InactiveInstanceException"))
                return false;
        log_error("ACS: the control plane says this container instance is inactive "
                  "(deregistered): %s",
                  body);
        if (s->p.on_inactive)
                s->p.on_inactive(s, s->p.userdata);
        else
                wsession_reconnect_in(s->ws, INACTIVE_DELAY_USEC);
        return true;
}

static const struct wsession_ops acs_ops = {
    .name = "ACS",
    .backoff = BACKOFF_INIT(250 * USEC_PER_MSEC, 2 * USEC_PER_MINUTE, 1.5, 0.2),
    .max_message = ACS_MAX_MESSAGE_SIZE,
    .build_url = build_url,
    .on_open = on_open,
    .on_message = on_message,
    .on_refused = on_refused,
};

int acs_session_new(const struct acs_session_params *p, struct acs_session **ret)
{
        struct acs_session *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->p = *p;
        s->send_credentials = true;
        struct wsession_params wp = {
            .peer = p->peer,
            .ops = &acs_ops,
            .userdata = s,
        };
        r = wsession_new(&wp, &s->ws);
        if (r < 0) {
                acs_session_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct acs_session *acs_session_free(struct acs_session *s)
{
        if (!s)
                return NULL;
        wsession_free(s->ws);
        free(s->manifest_id);
        free(s);
        return NULL;
}

int acs_session_start(struct acs_session *s)
{
        return wsession_start(s->ws);
}
