/* Per-task FIFO queues of SubmitTaskStateChange events, sent in order and retried. */
#include "ecs/awsjson.h"
#include "ecs/backoff.h"
#include "ecs/ecs_requests.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/reporter.h"
#include "ecs/task.h"

#define TARGET_SUBMIT_TASK "AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange"
/* At most this many tasks report at once (§1.12.4). */
#define MAX_CONCURRENT 10

struct report_container {
        size_t idx;
        enum container_status status;
};

struct report_event {
        struct report_event *next;
        json_object *body;
        enum task_status task_status; /* reportable task status carried, NONE if only containers */
        struct report_container *containers;
        size_t n_containers;
};

struct task_queue {
        char *arn;
        struct ecs_task *task; /* NULL for invalid-task reports */
        enum task_status queued_task;
        enum container_status *queued; /* per container */
        struct report_event *head, *tail;
        size_t n_events;
        struct awsjson_call *call;
        sd_event_source *retry;
        struct backoff backoff;
        struct reporter *reporter;
};

struct reporter {
        struct reporter_params p;
        char *cluster;
        struct task_queue **queues;
        size_t n_queues;
        unsigned in_flight;
};

static void kick_all(struct reporter *r);

static enum task_status reportable_task(enum task_status s)
{
        return s == TASK_STATUS_RUNNING || s == TASK_STATUS_STOPPED ? s : TASK_STATUS_NONE;
}

static enum container_status reportable_container(enum container_status s)
{
        if (s == CONTAINER_STATUS_RUNNING || s == CONTAINER_STATUS_RESOURCES_PROVISIONED)
                return CONTAINER_STATUS_RUNNING;
        return s == CONTAINER_STATUS_STOPPED ? s : CONTAINER_STATUS_NONE;
}

static void event_free(struct report_event *ev)
{
        if (!ev)
                return;
        json_object_put(ev->body);
        free(ev->containers);
        free(ev);
}

static void queue_free(struct task_queue *q)
{
        if (!q)
                return;
        awsjson_call_cancel(q->call);
        if (q->call)
                q->reporter->in_flight--;
        sd_event_source_disable_unref(q->retry);
        while (q->head) {
                struct report_event *n = q->head->next;
                event_free(q->head);
                q->head = n;
        }
        ecs_task_unref(q->task);
        free(q->queued);
        free(q->arn);
        free(q);
}

static struct task_queue *queue_find(struct reporter *r, const char *arn)
{
        for (size_t i = 0; i < r->n_queues; i++)
                if (streq(r->queues[i]->arn, arn))
                        return r->queues[i];
        return NULL;
}

static struct task_queue *queue_new(struct reporter *r, const char *arn, struct ecs_task *t)
{
        struct task_queue **l = realloc(r->queues, (r->n_queues + 1) * sizeof(*l));
        if (!l)
                return NULL;
        r->queues = l;
        struct task_queue *q = calloc(1, sizeof(*q));
        if (!q)
                return NULL;
        q->reporter = r;
        q->arn = strdup(arn);
        q->backoff = BACKOFF_INIT(USEC_PER_SEC, 30 * USEC_PER_SEC, 1.3, 0.2);
        if (t) {
                q->task = ecs_task_ref(t);
                q->queued = calloc(t->n_containers + 1, sizeof(*q->queued));
                /* What ECS already accepted needs no new event (after a restart too). */
                q->queued_task = reportable_task(t->sent_status);
                for (size_t i = 0; q->queued && i < t->n_containers; i++)
                        q->queued[i] = reportable_container(t->containers[i].sent_status);
        }
        if (!q->arn || (t && !q->queued)) {
                queue_free(q);
                return NULL;
        }
        r->queues[r->n_queues++] = q;
        return q;
}

/* Starts the queue over for t from what ECS accepted (t's sent statuses). */
static int queue_reset(struct task_queue *q, struct ecs_task *t)
{
        enum container_status *queued = calloc(t->n_containers + 1, sizeof(*queued));

        if (!queued)
                return -ENOMEM;
        awsjson_call_cancel(q->call);
        bool freed_slot = q->call != NULL;
        if (q->call)
                q->reporter->in_flight--;
        q->call = NULL;
        q->retry = sd_event_source_disable_unref(q->retry);
        while (q->head) {
                struct report_event *n = q->head->next;
                event_free(q->head);
                q->head = n;
        }
        q->tail = NULL;
        q->n_events = 0;
        ecs_task_unref(q->task);
        q->task = ecs_task_ref(t);
        free(q->queued);
        q->queued = queued;
        q->queued_task = reportable_task(t->sent_status);
        for (size_t i = 0; i < t->n_containers; i++)
                q->queued[i] = reportable_container(t->containers[i].sent_status);
        if (freed_slot)
                kick_all(q->reporter); /* a queue may have waited for that slot */
        return 0;
}

static void queue_push(struct task_queue *q, struct report_event *ev)
{
        if (q->tail)
                q->tail->next = ev;
        else
                q->head = ev;
        q->tail = ev;
        q->n_events++;
}

static struct report_event *queue_pop(struct task_queue *q)
{
        struct report_event *ev = q->head;
        if (!ev)
                return NULL;
        q->head = ev->next;
        if (!q->head)
                q->tail = NULL;
        q->n_events--;
        return ev;
}

/* ---- sending ---- */

static void kick(struct task_queue *q);

static int on_retry(sd_event_source *s, uint64_t usec, void *ud)
{
        struct task_queue *q = ud;
        q->retry = sd_event_source_disable_unref(q->retry);
        kick(q);
        return 0;
}

static void apply_sent(struct task_queue *q, const struct report_event *ev)
{
        struct ecs_task *t = q->task;
        bool changed = false;

        if (!t)
                return;
        if (ev->task_status > t->sent_status) {
                t->sent_status = ev->task_status;
                changed = true;
        }
        for (size_t i = 0; i < ev->n_containers; i++) {
                struct ecs_container *c = &t->containers[ev->containers[i].idx];
                if (ev->containers[i].status > c->sent_status) {
                        c->sent_status = ev->containers[i].status;
                        changed = true;
                }
        }
        if (changed && q->reporter->p.sent_changed)
                q->reporter->p.sent_changed(t, q->reporter->p.userdata);
}

static void on_submitted(const struct awsjson_result *res, void *ud)
{
        struct task_queue *q = ud;
        struct reporter *r = q->reporter;

        q->call = NULL;
        r->in_flight--;
        if (res->error_class == AWSJSON_OK || streq_ptr(res->code, "InvalidParameterException")) {
                struct report_event *ev = queue_pop(q);
                if (res->error_class == AWSJSON_OK) {
                        log_debug("Reported task %s", q->arn);
                        apply_sent(q, ev);
                } else
                        /* The one error that drops the event instead of retrying (§1.12.6). */
                        log_error("State change of task %s refused for good: %s: %s; dropped",
                                  q->arn, res->code, strna(res->message));
                event_free(ev);
                backoff_reset(&q->backoff);
                if (q->task && res->error_class == AWSJSON_OK)
                        engine_task_sent(r->p.engine, q->task);
                kick_all(r);
                return;
        }
        uint64_t delay = backoff_next(&q->backoff);
        log_warning("Failed to report task %s (%s%s%s); retrying in %llu ms", q->arn,
                    strna(res->code ? res->code : awsjson_error_class_to_string(res->error_class)),
                    res->message ? ": " : "", strempty(res->message),
                    (unsigned long long)(delay / USEC_PER_MSEC));
        (void)ecs_loop_add_timer(r->p.loop, delay, on_retry, q, &q->retry);
        kick_all(r);
}

static void kick(struct task_queue *q)
{
        struct reporter *r = q->reporter;
        /* Retries go through the queue: the client itself does not retry. */
        static const struct awsjson_call_opts opts = {.max_attempts = 1};
        int ret;

        if (q->call || q->retry || !q->head || r->in_flight >= MAX_CONCURRENT)
                return;
        ret = awsjson_call(r->p.ecs, TARGET_SUBMIT_TASK, q->head->body, &opts, on_submitted, q,
                           &q->call);
        if (ret < 0) {
                log_error_errno(ret, "Failed to send the state change of task %s: %m", q->arn);
                (void)ecs_loop_add_timer(r->p.loop, backoff_next(&q->backoff), on_retry, q,
                                         &q->retry);
                return;
        }
        r->in_flight++;
}

static void kick_all(struct reporter *r)
{
        for (size_t i = 0; i < r->n_queues && r->in_flight < MAX_CONCURRENT; i++)
                kick(r->queues[i]);
}

/* ---- public ---- */

int reporter_new(const struct reporter_params *p, struct reporter **ret)
{
        struct reporter *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->p = *p;
        r->cluster = strdup(p->cluster);
        if (!r->cluster) {
                free(r);
                return -ENOMEM;
        }
        r->p.cluster = r->cluster;
        *ret = r;
        return 0;
}

struct reporter *reporter_free(struct reporter *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_queues; i++)
                queue_free(r->queues[i]);
        free(r->queues);
        free(r->cluster);
        free(r);
        return NULL;
}

void reporter_task_changed(struct reporter *r, struct ecs_task *t)
{
        struct task_queue *q = queue_find(r, t->arn);
        struct report_event *ev;
        bool *include;
        size_t n = 0;
        int ret;

        if (!q && !(q = queue_new(r, t->arn, t))) {
                log_oom();
                return;
        }
        if (!q->task)
                return;
        /* The engine replaced the task object (a task rebuilt from labels got its definition
         * back): start over from what ECS accepted; a change in flight may go out twice,
         * none is lost. */
        if (q->task != t && queue_reset(q, t) < 0) {
                log_oom();
                return;
        }
        enum task_status ts = reportable_task(t->known_status);
        bool task_new = ts > q->queued_task;
        include = calloc(t->n_containers + 1, sizeof(bool));
        if (!include) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                enum container_status cs = reportable_container(t->containers[i].known_status);
                if (cs > q->queued[i]) {
                        include[i] = true;
                        n++;
                }
        }
        if (!task_new && n == 0) {
                free(include);
                return;
        }

        ev = calloc(1, sizeof(*ev));
        if (ev)
                ev->containers = calloc(n + 1, sizeof(*ev->containers));
        if (!ev || !ev->containers) {
                event_free(ev);
                free(include);
                log_oom();
                return;
        }
        struct ecs_task_state_change_params sp = {
            .cluster = r->cluster,
            .task = t,
            .include_containers = include,
            .exclude_ipv6_bindings = r->p.exclude_ipv6_bindings,
        };
        ret = ecs_build_task_state_change(&sp, &ev->body);
        if (ret < 0) {
                log_error_errno(ret, "Failed to build the state change of task %s: %m", t->arn);
                event_free(ev);
                free(include);
                return;
        }
        if (task_new) {
                ev->task_status = ts;
                q->queued_task = ts;
        }
        for (size_t i = 0; i < t->n_containers; i++)
                if (include[i]) {
                        enum container_status cs =
                            reportable_container(t->containers[i].known_status);
                        ev->containers[ev->n_containers++] =
                            (struct report_container){.idx = i, .status = cs};
                        q->queued[i] = cs;
                }
        free(include);
        log_info("Task %s: reporting %s (%zu container change(s))", t->arn,
                 task_status_backend(t->known_status), ev->n_containers);
        queue_push(q, ev);
        kick(q);
}

int reporter_report_invalid(struct reporter *r, const char *task_arn, const char *reason)
{
        struct task_queue *q = queue_find(r, task_arn);
        struct report_event *ev;
        int ret;

        if (q && q->task)
                return -EEXIST; /* a task we run is not invalid */
        if (!q && !(q = queue_new(r, task_arn, NULL)))
                return -ENOMEM;
        if (q->queued_task == TASK_STATUS_STOPPED)
                return 0; /* reported once is enough, however often ACS resends it */
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        ret = ecs_build_invalid_task_state_change(r->cluster, task_arn, reason, &ev->body);
        if (ret < 0) {
                event_free(ev);
                return ret;
        }
        ev->task_status = TASK_STATUS_STOPPED;
        q->queued_task = TASK_STATUS_STOPPED;
        queue_push(q, ev);
        kick(q);
        return 0;
}

void reporter_forget(struct reporter *r, const char *task_arn)
{
        for (size_t i = 0; i < r->n_queues; i++)
                if (streq(r->queues[i]->arn, task_arn)) {
                        queue_free(r->queues[i]);
                        memmove(&r->queues[i], &r->queues[i + 1],
                                (r->n_queues - i - 1) * sizeof(*r->queues));
                        r->n_queues--;
                        break;
                }
        kick_all(r);
}

size_t reporter_pending(const struct reporter *r)
{
        size_t n = 0;
        for (size_t i = 0; i < r->n_queues; i++)
                n += r->queues[i]->n_events;
        return n;
}
