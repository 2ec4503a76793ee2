/* The TCS WebSocket session: health and container runtime status, each frame signed. */
#include "ecs/tcs.h"
#include "ecs/acs_codec.h"
#include "ecs/backoff.h"
#include "ecs/credentials.h"
#include "ecs/docker.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/metrics.h"
#include "ecs/loop.h"
#include "ecs/sigv4.h"
#include "ecs/strbuf.h"
#include "ecs/task.h"
#include "ecs/uuid.h"
#include "ecs/wsession.h"

/* §3.4 */
#define PUBLISH_INTERVAL_USEC (20 * USEC_PER_SEC)
/* A health change is published this soon, so one flapping check costs one frame a second. */
#define CHANGE_DELAY_USEC (1 * USEC_PER_SEC)
#define PING_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define MAX_MESSAGE       (1U * 1024U * 1024U)

struct tcs_session {
        struct tcs_session_params p;
        struct wsession *ws;
        sd_event_source *publish_timer, *change_timer;
        struct aws_credential_request *cred_req;
        struct docker_call *ping;
        /* ContainerRuntime check (§3.3): "INITIALIZING" until the first ping answers. */
        const char *runtime_status;
        uint64_t runtime_updated, runtime_changed;
        unsigned pending; /* PUBLISH_* waiting for credentials */
};

/* ---- encoding ---- */

bool tcs_task_has_health(const struct ecs_task *t)
{
        if (t->known_status >= TASK_STATUS_STOPPED || t->desired_status >= TASK_STATUS_STOPPED)
                return false;
        for (size_t i = 0; i < t->n_containers; i++)
                if (t->containers[i].health_check_docker)
                        return true;
        return false;
}

static int envelope(const char *type, json_object *msg, char **ret)
{
        _cleanup_json_ json_object *env = json_object_new_object();
        if (!env) {
                json_object_put(msg);
                return -ENOMEM;
        }
        int r = json_add_string(env, "type", type);
        if (r >= 0)
                r = json_add(env, "message", msg);
        else
                json_object_put(msg);
        if (r < 0)
                return r;
        *ret = json_dump(env);
        return *ret ? 0 : -ENOMEM;
}

static int encode_task_health(const struct ecs_task *t, json_object *arr)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *cs = json_object_new_array();
        int r;

        if (!o || !cs) {
                json_object_put(cs);
                return -ENOMEM;
        }
        if ((r = json_add(o, "containers", cs)) < 0 ||
            (r = json_add_string(o, "taskArn", t->arn)) < 0 ||
            (r = json_add_string(o, "clusterArn", t->cluster_arn)) < 0 ||
            (r = json_add_string(o, "taskDefinitionFamily", t->family)) < 0 ||
            (r = json_add_string(o, "taskDefinitionVersion", t->version)) < 0)
                return r;
        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                if (!c->health_check_docker)
                        continue;
                int h = c->health_status >= 0 && c->health_status <= 2 ? c->health_status : 0;
                json_object *co = json_object_new_object();
                if (!co || json_object_array_add(cs, co) < 0) {
                        json_object_put(co);
                        return -ENOMEM;
                }
                if ((r = json_add_string(co, "containerName", c->name)) < 0 ||
                    (r = json_add_string(co, "healthStatus", health_status_to_string(h))) < 0 ||
                    (c->health_since &&
                     (r = json_add_epoch(co, "statusSince", c->health_since)) < 0))
                        return r;
        }
        r = json_object_array_add(arr, o);
        if (r < 0)
                return -ENOMEM;
        TAKE_PTR(o);
        return 0;
}

static int metadata(json_object *msg, const char *cluster, const char *instance_arn,
                    const char *id_key, const char *id, json_object **ret)
{
        json_object *md = json_object_new_object();
        int r;

        if (!md)
                return -ENOMEM;
        if ((r = json_add(msg, "metadata", md)) < 0)
                return r;
        if ((r = json_add_string(md, "cluster", cluster)) < 0 ||
            (r = json_add_string(md, "containerInstance", instance_arn)) < 0 ||
            (r = json_add_string(md, id_key, id)) < 0)
                return r;
        *ret = md;
        return 0;
}

int tcs_encode_health(const char *cluster, const char *instance_arn, const char *message_id,
                      struct ecs_task *const *tasks, size_t n, bool fin, uint64_t now, char **ret)
{
        _cleanup_json_ json_object *msg = json_object_new_object();
        json_object *md, *arr;
        int r;

        if (!msg)
                return -ENOMEM;
        if (n > TCS_TASKS_PER_REQUEST)
                return -E2BIG;
        if ((r = metadata(msg, cluster, instance_arn, "messageId", message_id, &md)) < 0 ||
            (r = json_add_bool(md, "fin", fin)) < 0)
                return r;
        arr = json_object_new_array();
        if (!arr || (r = json_add(msg, "tasks", arr)) < 0)
                return arr ? r : -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if ((r = encode_task_health(tasks[i], arr)) < 0)
                        return r;
        if ((r = json_add_epoch(msg, "timestamp", now)) < 0)
                return r;
        return envelope("PublishHealthRequest", TAKE_PTR(msg), ret);
}

/* ---- container metrics (§3.3) ---- */

/* json_add() that treats a NULL value (a failed constructor) as out of memory. */
static int add_req(json_object *o, const char *key, json_object *val)
{
        return val ? json_add(o, key, val) : -ENOMEM;
}

static json_object *cw_json(const struct metrics_cw_set *c)
{
        json_object *o = json_object_new_object();
        if (!o || add_req(o, "max", json_object_new_double(c->max)) < 0 ||
            add_req(o, "min", json_object_new_double(c->min)) < 0 ||
            json_add_int(o, "sampleCount", c->count) < 0 ||
            add_req(o, "sum", json_object_new_double(c->sum)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* A uint64 as the official agent packs it into int64: INT64_MAX and the excess modulo
 * INT64_MAX in the overflow field. */
static void split(uint64_t v, int64_t *base, int64_t *overflow)
{
        if (v > (uint64_t)INT64_MAX) {
                *base = INT64_MAX;
                *overflow = (int64_t)(v % (uint64_t)INT64_MAX);
        } else {
                *base = (int64_t)v;
                *overflow = 0;
        }
}

static json_object *ul_json(const struct metrics_ulong_set *u)
{
        json_object *o = json_object_new_object();
        int64_t b[3], ov[3];
        split(u->max, &b[0], &ov[0]);
        split(u->min, &b[1], &ov[1]);
        split(u->sum, &b[2], &ov[2]);
        if (!o || json_add_int(o, "max", b[0]) < 0 || json_add_int(o, "min", b[1]) < 0 ||
            json_add_int(o, "overflowMax", ov[0]) < 0 ||
            json_add_int(o, "overflowMin", ov[1]) < 0 ||
            json_add_int(o, "overflowSum", ov[2]) < 0 ||
            json_add_int(o, "sampleCount", u->count) < 0 || json_add_int(o, "sum", b[2]) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *storage_json(const struct metrics_window *w)
{
        json_object *o = json_object_new_object();
        if (!o || add_req(o, "readSizeBytes", ul_json(&w->read_bytes)) < 0 ||
            add_req(o, "writeSizeBytes", ul_json(&w->write_bytes)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *network_json(const struct metrics_window *w)
{
        static const char *const names[] = {"rxBytes", "rxDropped", "rxErrors", "rxPackets",
                                            "txBytes", "txDropped", "txErrors", "txPackets"};
        const struct metrics_ulong_set *sets[] = {&w->rx_bytes,   &w->rx_dropped, &w->rx_errors,
                                                  &w->rx_packets, &w->tx_bytes,   &w->tx_dropped,
                                                  &w->tx_errors,  &w->tx_packets};
        json_object *o = json_object_new_object();
        bool ok = o;
        for (size_t i = 0; ok && i < ELEMENTSOF(names); i++)
                ok = add_req(o, names[i], ul_json(sets[i])) >= 0;
        if (!ok || add_req(o, "rxBytesPerSecond", cw_json(&w->rx_per_sec)) < 0 ||
            add_req(o, "txBytesPerSecond", cw_json(&w->tx_per_sec)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int tcs_encode_container_metrics(const char *container_name, const struct metrics_window *w,
                                 json_object **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "containerName", container_name) < 0 ||
            add_req(o, "cpuStatsSet", cw_json(&w->cpu)) < 0 ||
            add_req(o, "memoryStatsSet", cw_json(&w->memory)) < 0 ||
            add_req(o, "storageStatsSet", storage_json(w)) < 0 ||
            (w->has_net && add_req(o, "networkStatsSet", network_json(w)) < 0))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int tcs_encode_metrics(const char *cluster, const char *instance_arn, const char *message_id,
                       json_object *task_metrics, size_t first, size_t n, bool idle, bool fin,
                       uint64_t now, char **ret)
{
        _cleanup_json_ json_object *msg = json_object_new_object();
        json_object *md;
        int r;

        if (!msg)
                return -ENOMEM;
        if ((r = metadata(msg, cluster, instance_arn, "messageId", message_id, &md)) < 0 ||
            (r = json_add_bool(md, "fin", fin)) < 0 || (r = json_add_bool(md, "idle", idle)) < 0)
                return r;
        if (!idle) {
                json_object *arr = json_object_new_array();
                if (!arr || (r = json_add(msg, "taskMetrics", arr)) < 0)
                        return arr ? r : -ENOMEM;
                for (size_t i = first; i < first + n; i++)
                        if ((r = json_append(arr, json_object_get(json_object_array_get_idx(
                                                      task_metrics, i)))) < 0)
                                return r;
        }
        if ((r = json_add_epoch(msg, "timestamp", now)) < 0)
                return r;
        return envelope("PublishMetricsRequest", TAKE_PTR(msg), ret);
}

size_t tcs_metrics_batch(json_object *task_metrics, size_t first, size_t limit_bytes)
{
        size_t len = json_object_array_length(task_metrics), bytes = 0, n = 0;

        for (size_t i = first; i < len && n < TCS_TASKS_PER_REQUEST; i++) {
                const char *t = json_object_to_json_string_ext(
                    json_object_array_get_idx(task_metrics, i), JSON_C_TO_STRING_PLAIN);
                size_t tl = (t ? strlen(t) : 0) + 1;
                /* A task that alone is over the limit still goes, on its own. */
                if (n > 0 && bytes + tl > limit_bytes)
                        break;
                bytes += tl;
                n++;
        }
        return n;
}

int tcs_encode_instance_status(const char *cluster, const char *instance_arn,
                               const char *request_id, const char *status, uint64_t last_updated,
                               uint64_t last_change, uint64_t now, char **ret)
{
        _cleanup_json_ json_object *msg = json_object_new_object();
        json_object *md, *arr, *st;
        int r;

        if (!msg)
                return -ENOMEM;
        if ((r = metadata(msg, cluster, instance_arn, "requestId", request_id, &md)) < 0)
                return r;
        arr = json_object_new_array();
        if (!arr || (r = json_add(msg, "statuses", arr)) < 0)
                return arr ? r : -ENOMEM;
        st = json_object_new_object();
        if (!st || json_object_array_add(arr, st) < 0) {
                json_object_put(st);
                return -ENOMEM;
        }
        if ((r = json_add_string(st, "type", "ContainerRuntime")) < 0 ||
            (r = json_add_string(st, "status", status)) < 0 ||
            (r = json_add_epoch(st, "lastUpdated", last_updated)) < 0 ||
            (r = json_add_epoch(st, "lastStatusChange", last_change)) < 0 ||
            (r = json_add_epoch(msg, "timestamp", now)) < 0)
                return r;
        return envelope("PublishInstanceStatusRequest", TAKE_PTR(msg), ret);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int tcs_sign_frame(const char *url, const char *region, const struct aws_credentials *c,
                   uint64_t now, const char *payload, char **ret)
{
        _cleanup_free_ char *http = NULL;
        _cleanup_strv_free_ char **headers = NULL;
        struct strbuf b = STRBUF_INIT(0);
        size_t n = 0;
        int r;

        if (!url || !payload)
                return -EINVAL;
        if (strncmp(url, "ws://", 5) == 0 || strncmp(url, "wss://", 6) == 0)
                r = asprintf(&http, "http%s", url + 2);
        else
                r = asprintf(&http, "%s", url);
        if (r < 0)
                return -ENOMEM;
        struct sigv4_params sp = {
            .method = "GET",
            .url = http,
            .body = payload,
            .body_len = strlen(payload),
            .region = region,
            .service = "ecs",
            .time_usec = now,
            .normalize_path = true,
            .add_host_header = true,
        };
        r = sigv4_sign(&sp, c, &headers);
        if (r < 0)
                return r;
        while (headers[n])
                n++;
        qsort(headers, n, sizeof(char *), cmp_str);
        strv_foreach (h, headers)
                if ((r = strbuf_printf(&b, "%s\r\n", *h)) < 0)
                        goto fail;
        if ((r = strbuf_printf(&b, "\r\n%s", payload)) < 0)
                goto fail;
        *ret = strbuf_steal(&b);
        return 0;
fail:
        strbuf_done(&b);
        return r;
}

/* ---- publishing ---- */

static int send_signed(struct tcs_session *s, const struct aws_credentials *c, char *payload)
{
        _cleanup_free_ char *frame = NULL;
        int r;

        if (!payload) {
                log_oom();
                return -ENOMEM;
        }
        r = tcs_sign_frame(wsession_url(s->ws), wsession_region(s->ws), c, realtime_usec(), payload,
                           &frame);
        if (r >= 0)
                r = wsession_send(s->ws, frame, strlen(frame));
        if (r < 0)
                log_warning_errno(r, "TCS: failed to send a message: %m");
        free(payload);
        return r;
}

struct collect {
        struct ecs_task **tasks;
        size_t n, cap;
};

static void collect_health(struct ecs_task *t, void *ud)
{
        struct collect *c = ud;

        if (!tcs_task_has_health(t))
                return;
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                struct ecs_task **l = reallocarray(c->tasks, cap, sizeof(*l));
                if (!l)
                        return;
                c->tasks = l;
                c->cap = cap;
        }
        c->tasks[c->n++] = t;
}

static void publish_health(struct tcs_session *s, const struct aws_credentials *cred)
{
        struct collect col = {0};
        char id[37];
        uint64_t now = realtime_usec();

        engine_foreach_task(s->p.engine, collect_health, &col);
        if (col.n == 0 || uuid_v4(id) < 0) {
                free(col.tasks);
                return;
        }
        bool sent = true;
        for (size_t i = 0; sent && i < col.n; i += TCS_TASKS_PER_REQUEST) {
                size_t k = MIN(col.n - i, (size_t)TCS_TASKS_PER_REQUEST);
                char *text = NULL;
                if (tcs_encode_health(wsession_cluster(s->ws), wsession_instance_arn(s->ws), id,
                                      col.tasks + i, k, i + k == col.n, now, &text) < 0)
                        text = NULL; /* send_signed reports it */
                sent = send_signed(s, cred, text) >= 0;
        }
        if (!sent) {
                /* Nothing marked as published: the next change or tick sends it again. */
                free(col.tasks);
                return;
        }
        for (size_t i = 0; i < col.n; i++)
                for (size_t j = 0; j < col.tasks[i]->n_containers; j++) {
                        struct ecs_container *c = &col.tasks[i]->containers[j];
                        c->health_published = c->health_status + 1;
                }
        log_debug("TCS: published the health of %zu task(s)", col.n);
        free(col.tasks);
}

/* Groups the engine's containers into taskMetrics entries, one per task. */
struct metrics_collect {
        json_object *tasks; /* the taskMetrics array */
        const struct ecs_task *last;
        json_object *last_containers;
};

static int collect_container(const struct ecs_task *t, const struct ecs_container *c,
                             const struct metrics_window *w, void *ud)
{
        struct metrics_collect *mc = ud;
        json_object *co;
        int r;

        if (t != mc->last) {
                json_object *tm = json_object_new_object(), *arr = json_object_new_array();
                if (!tm || !arr) {
                        json_object_put(tm);
                        json_object_put(arr);
                        return -ENOMEM;
                }
                if (json_append(mc->tasks, tm) < 0) { /* it dropped tm */
                        json_object_put(arr);
                        return -ENOMEM;
                }
                if ((r = json_add(tm, "containerMetrics", arr)) < 0 ||
                    (r = json_add_string(tm, "taskArn", t->arn)) < 0 ||
                    (r = json_add_string(tm, "taskDefinitionFamily", t->family)) < 0 ||
                    (r = json_add_string(tm, "taskDefinitionVersion", t->version)) < 0)
                        return r;
                mc->last = t;
                mc->last_containers = arr;
        }
        if ((r = tcs_encode_container_metrics(c->name, w, &co)) < 0)
                return r;
        return json_append(mc->last_containers, co);
}

static void publish_metrics(struct tcs_session *s, const struct aws_credentials *cred)
{
        _cleanup_json_ json_object *tasks = json_object_new_array();
        struct metrics_collect mc = {.tasks = tasks};
        size_t tracked = 0;
        char id[37];
        uint64_t now = realtime_usec();

        if (s->p.metrics_disabled || !s->p.engine)
                return;
        if (!tasks || engine_metrics_foreach(s->p.engine, collect_container, &mc, &tracked) < 0 ||
            uuid_v4(id) < 0) {
                log_oom();
                return;
        }
        size_t n = json_object_array_length(tasks);
        if (n == 0) {
                /* Nothing sampled at all: the idle frame. Sampled, but nothing new: none. */
                char *text = NULL;
                if (tracked == 0 &&
                    tcs_encode_metrics(wsession_cluster(s->ws), wsession_instance_arn(s->ws), id,
                                       tasks, 0, 0, true, true, now, &text) >= 0)
                        (void)send_signed(s, cred, text);
                return;
        }
        for (size_t i = 0; i < n;) {
                size_t k = tcs_metrics_batch(tasks, i, TCS_METRICS_MAX_BYTES);
                char *text = NULL;
                if (tcs_encode_metrics(wsession_cluster(s->ws), wsession_instance_arn(s->ws), id,
                                       tasks, i, k, false, i + k == n, now, &text) < 0)
                        text = NULL; /* send_signed reports it */
                if (send_signed(s, cred, text) < 0)
                        break; /* the rest of this publish is dropped, as the official agent */
                i += k;
        }
        /* Sent or not, these samples are done with. */
        engine_metrics_mark_sent(s->p.engine);
        log_debug("TCS: published the metrics of %zu task(s)", n);
}

static void publish_instance_status(struct tcs_session *s, const struct aws_credentials *cred)
{
        char id[37], *text = NULL;

        if (!s->runtime_updated || uuid_v4(id) < 0)
                return;
        if (tcs_encode_instance_status(wsession_cluster(s->ws), wsession_instance_arn(s->ws), id,
                                       s->runtime_status, s->runtime_updated, s->runtime_changed,
                                       realtime_usec(), &text) < 0) {
                log_oom();
                return;
        }
        (void)send_signed(s, cred, text);
}

enum { PUBLISH_HEALTH = 1 << 0, PUBLISH_STATUS = 1 << 1, PUBLISH_METRICS = 1 << 2 };

static void publish(struct tcs_session *s, unsigned what);

static void on_publish_credentials(int error, const struct aws_credentials *c, void *ud)
{
        struct tcs_session *s = ud;
        s->cred_req = NULL;
        if (error < 0)
                log_warning_errno(error, "TCS: no credentials to sign with: %m");
        else
                publish(s, 0);
}

/* Sends what is asked plus whatever waited for credentials. */
static void publish(struct tcs_session *s, unsigned what)
{
        s->pending |= what;
        if (!wsession_connected(s->ws)) {
                s->pending = 0;
                return;
        }
        const struct aws_credentials *c = aws_credential_provider_peek(s->p.peer.creds);
        if (!c) {
                /* Frames are signed synchronously: resolve the credentials and come back. */
                if (!s->cred_req &&
                    aws_credential_provider_get(s->p.peer.creds, on_publish_credentials, s,
                                                &s->cred_req) < 0)
                        log_oom();
                return;
        }
        if (s->pending & PUBLISH_HEALTH)
                publish_health(s, c);
        if (s->pending & PUBLISH_STATUS)
                publish_instance_status(s, c);
        if (s->pending & PUBLISH_METRICS)
                publish_metrics(s, c);
        s->pending = 0;
}

static void on_ping(const struct docker_result *res, const struct docker_version *v, void *ud)
{
        struct tcs_session *s = ud;
        const char *st = res->error < 0 ? "IMPAIRED" : "OK";
        uint64_t now = realtime_usec();

        s->ping = NULL;
        if (res->error < 0)
                log_warning("TCS: the container runtime does not answer: %s", res->message);
        if (!streq_ptr(st, s->runtime_status))
                s->runtime_changed = now;
        s->runtime_status = st;
        s->runtime_updated = now;
        publish(s, PUBLISH_STATUS);
}

static int on_publish_timer(sd_event_source *src, uint64_t usec, void *ud)
{
        struct tcs_session *s = ud;

        publish(s, PUBLISH_HEALTH | PUBLISH_METRICS);
        if (!s->ping && s->p.docker &&
            docker_client_version(s->p.docker, PING_TIMEOUT_USEC, on_ping, s, &s->ping) < 0)
                s->ping = NULL;
        if (sd_event_source_set_time_relative(src, PUBLISH_INTERVAL_USEC) < 0 ||
            sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) < 0)
                log_error("TCS: cannot schedule the next publish");
        return 0;
}

static int on_change_timer(sd_event_source *src, uint64_t usec, void *ud)
{
        struct tcs_session *s = ud;
        s->change_timer = sd_event_source_disable_unref(s->change_timer);
        publish(s, PUBLISH_HEALTH);
        return 0;
}

void tcs_session_task_changed(struct tcs_session *s, struct ecs_task *t)
{
        if (!s || s->change_timer || !wsession_connected(s->ws))
                return;
        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                if (c->health_check_docker && c->health_published != c->health_status + 1 &&
                    tcs_task_has_health(t)) {
                        (void)ecs_loop_add_timer(s->p.peer.loop, CHANGE_DELAY_USEC, on_change_timer,
                                                 s, &s->change_timer);
                        return;
                }
        }
}

/* ---- session ---- */

static int build_url(struct wsession *ws, const char *endpoint, char **ret, void *ud)
{
        return tcs_build_url(endpoint, wsession_cluster(ws), wsession_instance_arn(ws),
                             ECS_AGENT_VERSION, ECS_AGENT_GIT_HASH, wsession_docker_version(ws),
                             ret);
}

static void on_open(struct wsession *ws, void *ud)
{
        struct tcs_session *s = ud;
        /* Everything once at once, then every 20 s (§3.4). */
        s->publish_timer = sd_event_source_disable_unref(s->publish_timer);
        if (ecs_loop_add_timer(s->p.peer.loop, 0, on_publish_timer, s, &s->publish_timer) < 0)
                log_error("TCS: cannot schedule publishing");
}

static void on_close(struct wsession *ws, void *ud)
{
        struct tcs_session *s = ud;
        s->publish_timer = sd_event_source_disable_unref(s->publish_timer);
        s->change_timer = sd_event_source_disable_unref(s->change_timer);
}

static bool on_message(struct wsession *ws, const char *data, size_t len, void *ud)
{
        _cleanup_json_ json_object *env = NULL;
        const char *type;

        if (json_parse(data, len, &env) < 0 || !(type = json_get_string(env, "type", NULL))) {
                log_warning("TCS: dropped a message that is not a JSON envelope");
                return false;
        }
        if (streq(type, "HeartbeatMessage") || strncmp(type, "AckPublish", 10) == 0)
                return true;
        json_object *msg = json_get_object(env, "message", NULL);
        const char *text = msg ? json_get_string(msg, "message", NULL) : NULL;
        size_t tl = strlen(type);
        if ((tl > 9 && streq(type + tl - 9, "Exception")) ||
            streq(type, "StopTelemetrySessionMessage")) {
                /* Recognised, but only heartbeats and acks keep the session alive (§3.4). */
                log_warning("TCS: %s: %s", type, strna(text));
                return false;
        }
        log_info("TCS: ignoring a message of unknown type %.64s", type);
        return false;
}

static const struct wsession_ops tcs_ops = {
    .name = "TCS",
    .telemetry = true,
    .backoff = BACKOFF_INIT(1 * USEC_PER_SEC, 1 * USEC_PER_MINUTE, 2.0, 0.2),
    .max_message = MAX_MESSAGE,
    .build_url = build_url,
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

int tcs_session_new(const struct tcs_session_params *p, struct tcs_session **ret)
{
        struct tcs_session *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->p = *p;
        s->runtime_status = "INITIALIZING";
        struct wsession_params wp = {
            .peer = p->peer,
            .ops = &tcs_ops,
            .userdata = s,
        };
        r = wsession_new(&wp, &s->ws);
        if (r < 0) {
                tcs_session_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct tcs_session *tcs_session_free(struct tcs_session *s)
{
        if (!s)
                return NULL;
        wsession_free(s->ws);
        sd_event_source_disable_unref(s->publish_timer);
        sd_event_source_disable_unref(s->change_timer);
        aws_credential_request_cancel(s->cred_req);
        docker_call_cancel(s->ping);
        free(s);
        return NULL;
}

int tcs_session_start(struct tcs_session *s)
{
        return wsession_start(s->ws);
}
