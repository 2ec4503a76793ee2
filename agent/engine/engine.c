/* The task engine: one state machine step per task, driven by Docker call completions and
 * Docker events. Each container moves one status at a time toward its desired status; the
 * task's known status follows from its containers (§4.3, §4.4). */
#include <malloc.h>
#include <stdarg.h>

#include "ecs/backoff.h"
#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/depgraph.h"
#include "ecs/state.h"
#include "ecs/strbuf.h"
#include "ecs/task_json.h"
#include "ecs/tasknet.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/uuid.h"
#include "engine-internal.h"

#define STOP_RETRY_MAX 5

struct engine_task {
        struct ecs_task *task;
        struct engine *engine;
        bool dirty;          /* something reportable changed since the last notification */
        bool ports_assigned; /* host ports chosen and held */
        bool admitted;       /* host CPU, memory and ports reserved for it */
        bool waiting_logged; /* "waiting for resources" said once */
        uint64_t cpu_units, memory_mib; /* what admission reserved */
        char *cgroup_parent;            /* the task cgroup, once created */
        bool persist_dirty;             /* changed since last written to the store */
        bool rebuilt;                   /* reconstructed from Docker labels: no definition */
        bool reconciling;               /* loaded at start, not yet checked against Docker */
        bool volumes_ready;             /* task volumes exist in Docker */
        unsigned volume_ops;            /* volume creations in flight */
        bool network_ready;             /* awsvpc: pause container and namespace set up */
        bool network_busy;              /* awsvpc: a tasknet operation in flight */
        uint16_t **host_ports;          /* per container, per port mapping */
        sd_event_source *cleanup_timer;
        sd_event_source *deadline_timer; /* next dependency timeout */
        bool removing;                   /* cleanup started: containers being removed */
        unsigned ops;                    /* Docker calls in flight */
};

struct engine {
        struct ecs_loop *loop;
        struct docker_client *docker;
        struct cgroup_manager *cgroups;
        struct state_store *store;
        const struct ecs_config *config;
        char *region;
        char *cluster;
        struct engine_callbacks cb;
        void *userdata;
        struct engine_task **tasks;
        size_t n_tasks;
        struct port_allocator ports;
        uint64_t cpu_total, memory_total; /* registered resources; 0 = not limited */
        uint64_t cpu_used, memory_used;
        sd_event_source *settle; /* deferred: step dirty tasks, notify */
        struct docker_events *events;
        struct tasknet *net; /* awsvpc; NULL when ECS_ENABLE_TASK_ENI is off */
};

/* How long an awsvpc task waits for its ENI to show up on the host. */
#define ENI_WAIT_USEC (3 * USEC_PER_MINUTE)

enum op_kind { OP_PULL, OP_CREATE, OP_START, OP_STOP, OP_INSPECT, OP_REMOVE };

struct op {
        struct engine *engine;
        struct engine_task *et;
        size_t idx; /* container index */
        enum op_kind kind;
        unsigned attempt;
};

static void engine_step(struct engine *e, struct engine_task *et);
static void engine_task_free(struct engine_task *et);
static void prepare_volumes(struct engine *e, struct engine_task *et);
static void adopt_definition(struct engine_task *et, struct ecs_task *t);
static void task_fail(struct engine_task *et, const char *name, const char *fmt, ...)
    _printf_(3, 4);
static void schedule_settle(struct engine *e);
static void engine_remove_task(struct engine *e, struct engine_task *et);
static int persist(struct engine *e, struct engine_task *et);

static struct engine_task *find_et(struct engine *e, const char *arn)
{
        for (size_t i = 0; i < e->n_tasks; i++)
                if (streq(e->tasks[i]->task->arn, arn))
                        return e->tasks[i];
        return NULL;
}

static struct engine_task *find_by_docker_id(struct engine *e, const char *id, size_t *ret_idx)
{
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct ecs_task *t = e->tasks[i]->task;
                for (size_t j = 0; j < t->n_containers; j++)
                        if (streq_ptr(t->containers[j].docker_id, id)) {
                                *ret_idx = j;
                                return e->tasks[i];
                        }
        }
        return NULL;
}

static void mark_dirty(struct engine *e, struct engine_task *et)
{
        et->dirty = true;
        et->persist_dirty = true;
        schedule_settle(e);
}

static int task_file_name(const struct ecs_task *t, char *buf, size_t size)
{
        if (snprintf(buf, size, "tasks/%s.json", t->id) >= (int)size)
                return -ENAMETOOLONG;
        return 0;
}

/* Writes the task to the store (crash-safe); what is reported and acknowledged is always
 * what was written first. */
static int persist(struct engine *e, struct engine_task *et)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *text = NULL;
        char name[300];
        int r;

        if (!e->store)
                return 0;
        r = task_to_json(et->task, &o);
        if (r >= 0)
                r = task_file_name(et->task, name, sizeof(name));
        if (r >= 0 && !(text = json_dump(o)))
                r = -ENOMEM;
        if (r >= 0)
                r = state_store_write(e->store, name, text, strlen(text));
        if (r < 0)
                return log_error_errno(r, "Task %s: failed to save state: %m", et->task->arn);
        et->persist_dirty = false;
        return 0;
}

/* Records the first error of a container (§4.9: later errors don't replace it). */
static void container_set_reason(struct ecs_container *c, const char *name, const char *msg)
{
        if (c->reason)
                return;
        if (asprintf(&c->reason, "%s: %s", name, strempty(msg)) < 0)
                c->reason = NULL;
}

static void task_set_desired_stopped(struct engine_task *et, const char *why)
{
        struct ecs_task *t = et->task;
        if (t->desired_status >= TASK_STATUS_STOPPED)
                return;
        log_info("Task %s: desired status STOPPED (%s)", t->arn, why);
        t->desired_status = TASK_STATUS_STOPPED;
}

static void container_set_known(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                enum container_status s)
{
        if (s <= c->known_status)
                return; /* known status only moves forward */
        log_debug("Task %s container %s: %s -> %s", et->task->arn, c->name,
                  container_status_to_string(c->known_status), container_status_to_string(s));
        c->known_status = s;
        if (s == CONTAINER_STATUS_STOPPED && !c->finished_at)
                c->finished_at = realtime_usec();
        mark_dirty(e, et);
}

static void release_ports(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        if (!et->ports_assigned)
                return;
        for (size_t i = 0; i < t->n_containers; i++)
                for (size_t j = 0; j < t->containers[i].n_ports; j++)
                        port_allocator_release(&e->ports, et->host_ports[i][j],
                                               t->containers[i].ports[j].protocol);
        et->ports_assigned = false;
}

/* Chooses and holds host ports for every mapping of the task (§5.4), all or nothing. Static
 * ports that are reserved or held by a live task make the task wait. */
static int assign_ports(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        size_t done_c = 0, done_p = 0;
        int r = 0;

        if (et->ports_assigned)
                return 0;
        if (t->network_mode != NETWORK_MODE_BRIDGE) {
                et->ports_assigned = true; /* host/none/awsvpc: no agent-chosen ports */
                return 0;
        }
        if (!et->host_ports) {
                et->host_ports = calloc(t->n_containers ? t->n_containers : 1, sizeof(uint16_t *));
                if (!et->host_ports)
                        return -ENOMEM;
                for (size_t i = 0; i < t->n_containers; i++) {
                        et->host_ports[i] = calloc(t->containers[i].n_ports + 1, sizeof(uint16_t));
                        if (!et->host_ports[i])
                                return -ENOMEM;
                }
        }
        for (done_c = 0; done_c < t->n_containers; done_c++) {
                struct ecs_container *c = &t->containers[done_c];
                for (done_p = 0; done_p < c->n_ports; done_p++) {
                        struct port_mapping *p = &c->ports[done_p];
                        uint16_t port = p->host_port;
                        if (port)
                                r = port_allocator_hold(&e->ports, port, p->protocol);
                        else
                                r = port_allocator_pick(&e->ports, p->protocol, &port);
                        if (r < 0)
                                goto undo;
                        et->host_ports[done_c][done_p] = port;
                }
        }
        et->ports_assigned = true;
        return 0;
undo:
        /* Give back what this attempt took, so a waiting task holds nothing. */
        for (size_t i = 0; i <= done_c && i < t->n_containers; i++) {
                size_t n = i == done_c ? done_p : t->containers[i].n_ports;
                for (size_t j = 0; j < n; j++)
                        port_allocator_release(&e->ports, et->host_ports[i][j],
                                               t->containers[i].ports[j].protocol);
        }
        return r;
}

/* What a task needs from the host (§4.11): task-level cpu/memory when set, else the sum
 * over its containers (a container without a hard limit counts its soft limit). */
static void task_requirements(const struct ecs_task *t, uint64_t *ret_cpu, uint64_t *ret_mem)
{
        uint64_t cpu = 0, mem = 0;

        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                cpu += c->cpu;
                uint64_t m = c->memory_mib;
                if (m == 0 && c->docker_host_config) {
                        _cleanup_json_ json_object *hc = NULL;
                        if (json_parse(c->docker_host_config, strlen(c->docker_host_config), &hc) >=
                            0) {
                                int64_t res = json_get_int(hc, "MemoryReservation", 0, NULL);
                                if (res > 0)
                                        m = (uint64_t)res / (1024 * 1024);
                        }
                }
                mem += m;
        }
        *ret_cpu = t->cpu > 0 ? (uint64_t)(t->cpu * 1024.0 + 0.5) : cpu;
        *ret_mem = t->memory_mib > 0 ? t->memory_mib : mem;
}

/* Reserves CPU, memory and host ports for a task, all or nothing. Tasks are admitted in
 * arrival order, but one that does not fit does not hold back those behind it. */
static int admit(struct engine *e, struct engine_task *et)
{
        uint64_t cpu, mem;
        int r;

        if (et->admitted)
                return 0;
        task_requirements(et->task, &cpu, &mem);
        if ((e->cpu_total && e->cpu_used + cpu > e->cpu_total) ||
            (e->memory_total && e->memory_used + mem > e->memory_total))
                return -ENOSPC;
        r = assign_ports(e, et);
        if (r < 0)
                return r;
        et->cpu_units = cpu;
        et->memory_mib = mem;
        e->cpu_used += cpu;
        e->memory_used += mem;
        et->admitted = true;
        return 0;
}

static void release(struct engine *e, struct engine_task *et)
{
        release_ports(e, et);
        if (!et->admitted)
                return;
        e->cpu_used -= et->cpu_units;
        e->memory_used -= et->memory_mib;
        et->admitted = false;
}

static struct op *op_new(struct engine *e, struct engine_task *et, size_t idx, enum op_kind kind)
{
        struct op *o = calloc(1, sizeof(*o));
        if (!o)
                return NULL;
        o->engine = e;
        o->et = et;
        o->idx = idx;
        o->kind = kind;
        et->ops++;
        if (kind != OP_INSPECT && kind != OP_REMOVE)
                et->task->containers[idx].transition_in_flight = true;
        return o;
}

/* Ends an op: clears the in-flight mark and steps the task again. */
static void op_finish(struct op *o)
{
        struct engine *e = o->engine;
        struct engine_task *et = o->et;
        if (o->kind != OP_INSPECT && o->kind != OP_REMOVE)
                et->task->containers[o->idx].transition_in_flight = false;
        et->ops--;
        free(o);
        if (et->removing) {
                if (et->ops == 0)
                        engine_remove_task(e, et);
                return;
        }
        engine_step(e, et);
}

/* ---- inspect: the source of truth for exit codes, OOM kills and bindings ---- */

/* §4.10: restart when enabled, the exit code is not ignored, nobody wants the container
 * stopped, and it ran at least restartAttemptPeriod since it (re)started. */
static bool restart_wanted(struct engine_task *et, const struct ecs_container *c,
                           const struct docker_container *d)
{
        const struct restart_policy *rp = &c->restart;

        if (!rp->enabled || c->desired_status >= CONTAINER_STATUS_STOPPED ||
            et->task->desired_status >= TASK_STATUS_STOPPED)
                return false;
        for (size_t i = 0; i < rp->n_ignored_exit_codes; i++)
                if (rp->ignored_exit_codes[i] == d->exit_code)
                        return false;
        uint64_t started = c->started_at ? c->started_at : d->started_at_usec;
        uint64_t ended = d->finished_at_usec ? d->finished_at_usec : realtime_usec();
        return ended >= started &&
               ended - started >= (uint64_t)rp->attempt_period_sec * USEC_PER_SEC;
}

static void on_restart(const struct docker_result *res, void *ud);

static void start_restart(struct engine *e, struct engine_task *et, size_t idx, int exit_code)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = op_new(e, et, idx, OP_START);

        if (!o)
                return;
        c->restart_count++;
        c->started_at = 0; /* the next start is the one the attempt period counts from */
        log_info("Task %s container %s: exited with %d, restarting (restart %u)", et->task->arn,
                 c->name, exit_code, c->restart_count);
        et->persist_dirty = true;
        if (docker_container_start(e->docker, c->docker_id, e->config->container_start_timeout_usec,
                                   on_restart, o, NULL) < 0) {
                struct docker_result res = {.error = -EIO, .message = "cannot start"};
                on_restart(&res, o);
        }
}

/* Docker's health status as the task model keeps it (§4.1 strings: unknown, healthy,
 * unhealthy; "starting" is still unknown). Only containers with healthCheckType docker. */
static bool container_set_health(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                 enum docker_health_status h)
{
        int v = h == DOCKER_HEALTH_HEALTHY ? 1 : h == DOCKER_HEALTH_UNHEALTHY ? 2 : 0;
        bool changed = v != c->health_status;

        if (!c->health_check_docker || e->config->docker_health_check_disabled)
                return false;
        if (c->health_since && !changed)
                return false;
        if (changed)
                log_info("Container %s of task %s is %s", c->name, et->task->arn,
                         v == 1   ? "healthy"
                         : v == 2 ? "unhealthy"
                                  : "of unknown health");
        c->health_status = v;
        c->health_since = realtime_usec();
        mark_dirty(e, et);
        return changed;
}

static void apply_inspect(struct engine *e, struct engine_task *et, struct ecs_container *c,
                          const struct docker_container *d)
{
        if (d->image_id && !streq_ptr(c->image_id, d->image_id)) {
                free(c->image_id);
                c->image_id = strdup(d->image_id);
        }
        if (d->created_usec && !c->created_at)
                c->created_at = d->created_usec;
        if (d->started_at_usec && !c->started_at)
                c->started_at = d->started_at_usec;

        if (d->running) {
                if (d->n_ports > 0 && c->n_bindings == 0) {
                        c->bindings = calloc(d->n_ports, sizeof(struct network_binding));
                        for (size_t i = 0; c->bindings && i < d->n_ports; i++) {
                                struct network_binding *b = &c->bindings[c->n_bindings];
                                snprintf(b->bind_ip, sizeof(b->bind_ip), "%s",
                                         strempty(d->ports[i].host_ip));
                                b->container_port = d->ports[i].container_port;
                                b->host_port = d->ports[i].host_port;
                                b->protocol = port_protocol_from_string(d->ports[i].protocol);
                                if ((int)b->protocol < 0)
                                        continue; /* sctp: not an ECS protocol */
                                c->n_bindings++;
                        }
                        mark_dirty(e, et);
                }
                if (d->health != DOCKER_HEALTH_NONE)
                        (void)container_set_health(e, et, c, d->health);
                container_set_known(e, et, c, CONTAINER_STATUS_RUNNING);
                return;
        }
        if (!d->started_at_usec && isempty(d->error) && !d->dead &&
            c->desired_status != CONTAINER_STATUS_STOPPED) {
                container_set_known(e, et, c, CONTAINER_STATUS_CREATED);
                return;
        }
        /* Not running, and it ran (or failed to): stopped, with what Docker knows (§4.13),
         * unless the restart policy starts it again. */
        if (restart_wanted(et, c, d)) {
                start_restart(e, et, (size_t)(c - et->task->containers), d->exit_code);
                return;
        }
        if (!c->has_exit_code) {
                c->exit_code = d->exit_code;
                c->has_exit_code = true;
        }
        if (d->oom_killed)
                container_set_reason(c, "OutOfMemoryError", "Container killed due to memory usage");
        else if (!isempty(d->error))
                container_set_reason(c, "DockerStateError", d->error);
        if (d->finished_at_usec && !c->finished_at)
                c->finished_at = d->finished_at_usec;
        container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
}

static void on_inspect(const struct docker_result *res, const struct docker_container *d, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == -ENOENT) {
                /* Removed behind our back: it is stopped, and we say why (§4.13). */
                container_set_reason(c, "ContainerVanishedError",
                                     "No container matching saved ID found");
                container_set_known(o->engine, o->et, c, CONTAINER_STATUS_STOPPED);
        } else if (res->error < 0)
                log_warning_errno(res->error, "Failed to inspect container %s of task %s: %s",
                                  c->name, o->et->task->arn, res->message);
        else
                apply_inspect(o->engine, o->et, c, d);
        op_finish(o);
}

static void start_inspect(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o;
        int r;

        if (!c->docker_id)
                return;
        o = op_new(e, et, idx, OP_INSPECT);
        if (!o)
                return;
        r = docker_container_inspect(e->docker, c->docker_id, 0, on_inspect, o, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to inspect container %s: %m", c->name);
                et->ops--;
                free(o);
        }
}

/* ---- pull ---- */

static bool pull_failure_stops_task(const struct engine *e)
{
        /* With "always" and "once" a failed pull fails the task; "default" and
         * "prefer-cached" go on with a cached image if there is one (§4.9). */
        return e->config->image_pull_behavior == ECS_IMAGE_PULL_BEHAVIOR_ALWAYS ||
               e->config->image_pull_behavior == ECS_IMAGE_PULL_BEHAVIOR_ONCE;
}

static void pull_done_common(struct op *o)
{
        struct ecs_task *t = o->et->task;
        t->pull_stopped_at = realtime_usec();
        container_set_known(o->engine, o->et, &t->containers[o->idx], CONTAINER_STATUS_PULLED);
        op_finish(o);
}

static void on_pull_fallback_inspect(const struct docker_result *res,
                                     const struct docker_image *img, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        /* The pull failed; a cached image lets the task run, and then the pull error is not
         * the container's story. Without one, create will fail and the pull error stays the
         * reason (§11.18). */
        if (res->error == 0) {
                log_info("Task %s container %s: pull failed, using the cached image %s",
                         o->et->task->arn, c->name, c->image);
                free(c->reason);
                c->reason = NULL;
        }
        pull_done_common(o);
}

static void on_pull(const struct docker_result *res, const char *digest, void *ud)
{
        struct op *o = ud;
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0) {
                if (digest && !c->image_digest)
                        c->image_digest = strdup(digest);
                log_debug("Task %s container %s: pulled %s", o->et->task->arn, c->name, c->image);
                pull_done_common(o);
                return;
        }
        log_warning("Task %s container %s: failed to pull %s: %s", o->et->task->arn, c->name,
                    c->image, res->message);
        container_set_reason(c, "CannotPullContainerError", res->message);
        if (pull_failure_stops_task(e)) {
                task_set_desired_stopped(o->et, "image pull failed");
                o->et->task->pull_stopped_at = realtime_usec();
                op_finish(o);
                return;
        }
        if (docker_image_inspect(e->docker, c->image, 0, on_pull_fallback_inspect, o, NULL) < 0)
                pull_done_common(o);
}

static void do_pull(struct op *o)
{
        struct engine *e = o->engine;
        struct ecs_task *t = o->et->task;
        struct ecs_container *c = &t->containers[o->idx];
        struct docker_pull_options opts = {
            .image = c->image,
            .timeout_usec = e->config->image_pull_timeout_usec,
            .stall_timeout_usec = e->config->image_pull_inactivity_timeout_usec,
        };
        int r;

        if (!t->pull_started_at)
                t->pull_started_at = realtime_usec();
        r = docker_image_pull(e->docker, &opts, on_pull, o, NULL);
        if (r < 0) {
                struct docker_result res = {.error = r, .message = strerror(-r)};
                on_pull(&res, NULL, o);
        }
}

static void on_pull_check(const struct docker_result *res, const struct docker_image *img, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0) {
                /* "once" and "prefer-cached" with the image present: no pull. */
                if (img && img->id && !c->image_id)
                        c->image_id = strdup(img->id);
                container_set_known(o->engine, o->et, c, CONTAINER_STATUS_PULLED);
                op_finish(o);
                return;
        }
        do_pull(o);
}

static void start_pull(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = op_new(e, et, idx, OP_PULL);
        if (!o)
                return;
        switch (e->config->image_pull_behavior) {
        case ECS_IMAGE_PULL_BEHAVIOR_ONCE:
        case ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED:
                if (docker_image_inspect(e->docker, c->image, 0, on_pull_check, o, NULL) >= 0)
                        return;
                break;
        default:
                break;
        }
        do_pull(o);
}

/* ---- create ---- */

static const char *docker_name_of(const struct ecs_task *t, const char *name)
{
        for (size_t i = 0; i < t->n_containers; i++)
                if (streq(t->containers[i].name, name))
                        return t->containers[i].docker_name;
        return NULL;
}

/* What the instance does not offer is refused before Docker sees it: ECS places by the
 * advertised capabilities, so such a task should not arrive at all. */
static int check_host_config(struct engine *e, json_object *body, char **ret_error)
{
        json_object *hc = json_get_object(body, "HostConfig", NULL);
        const char *driver = json_get_string(json_get_object(hc, "LogConfig", NULL), "Type", NULL);

        if (json_get_bool(hc, "Privileged", false, NULL) && e->config->privileged_disabled) {
                *ret_error = strdup("privileged containers are disabled on this instance "
                                    "(ECS_DISABLE_PRIVILEGED)");
                return -EPERM;
        }
        if (!isempty(driver)) {
                strv_foreach (d, e->config->available_logging_drivers)
                        if (streq(*d, driver))
                                return 0;
                if (asprintf(ret_error, "log driver %s is not in ECS_AVAILABLE_LOGGING_DRIVERS",
                             driver) < 0)
                        *ret_error = NULL;
                return -EPERM;
        }
        return 0;
}

static void on_create(const struct docker_result *res, const char *id, void *ud)
{
        struct op *o = ud;
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0) {
                free(c->docker_id);
                c->docker_id = strdup(id);
                c->created_at = realtime_usec();
                container_set_known(e, o->et, c, CONTAINER_STATUS_CREATED);
                op_finish(o);
                return;
        }
        if (res->error == -EEXIST) {
                /* Our deterministic name is taken: a create of ours that completed before a
                 * crash. Adopt it instead of making a duplicate. */
                log_info("Task %s container %s: adopting existing container %s", o->et->task->arn,
                         c->name, c->docker_name);
                free(c->docker_id);
                c->docker_id = strdup(c->docker_name);
                o->kind = OP_INSPECT;
                c->transition_in_flight = false;
                if (docker_container_inspect(e->docker, c->docker_name, 0, on_inspect, o, NULL) >=
                    0)
                        return;
        }
        log_warning("Task %s container %s: create failed: %s", o->et->task->arn, c->name,
                    res->message);
        container_set_reason(c, "CannotCreateContainerError", res->message);
        c->desired_status = CONTAINER_STATUS_STOPPED;
        op_finish(o);
}

static void start_create(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_task *t = et->task;
        struct ecs_container *c = &t->containers[idx];
        _cleanup_json_ json_object *body = NULL;
        _cleanup_free_ char *err = NULL;
        char ep[37];
        int r;

        if (!c->docker_name) {
                r = engine_container_docker_name(t, c, &c->docker_name);
                if (r < 0)
                        return (void)log_oom();
                /* The name is saved before Docker hears of it: after a crash during the
                 * create, the container is found by name and adopted, never duplicated. */
                if (!c->endpoint_id && uuid_v4(ep) >= 0)
                        c->endpoint_id = strdup(ep);
                if (persist(e, et) < 0) {
                        c->docker_name = mfree(c->docker_name);
                        return;
                }
        }
        if (!c->endpoint_id && uuid_v4(ep) >= 0)
                c->endpoint_id = strdup(ep);
        struct create_config_input in = {
            .task = t,
            .container = c,
            .host_ports = et->host_ports ? et->host_ports[idx] : NULL,
            .region = e->region,
            .cluster = e->cluster,
            .cgroup_parent = et->cgroup_parent,
            .network_container = t->network_mode == NETWORK_MODE_AWSVPC ? t->pause_docker_id : NULL,
            .docker_name_of = docker_name_of,
        };
        r = engine_build_create_config(&in, &body, &err);
        if (r >= 0)
                r = check_host_config(e, body, &err);
        if (r < 0) {
                container_set_reason(c,
                                     r == -EPERM ? "CannotCreateContainerError" : "HostConfigError",
                                     err ? err : strerror(-r));
                c->desired_status = CONTAINER_STATUS_STOPPED;
                mark_dirty(e, et);
                return;
        }
        struct op *o = op_new(e, et, idx, OP_CREATE);
        if (!o)
                return;
        log_debug("Task %s container %s: creating %s", t->arn, c->name, c->docker_name);
        r = docker_container_create(e->docker, c->docker_name, body,
                                    e->config->container_create_timeout_usec, on_create, o, NULL);
        if (r < 0) {
                struct docker_result res = {.error = r, .message = strerror(-r)};
                on_create(&res, NULL, o);
        }
}

/* ---- start ---- */

static void on_start(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error < 0) {
                log_warning("Task %s container %s: start failed: %s", o->et->task->arn, c->name,
                            res->message);
                container_set_reason(c,
                                     res->error == -ETIMEDOUT ? "DockerTimeoutError"
                                                              : "CannotStartContainerError",
                                     res->message);
                c->desired_status = CONTAINER_STATUS_STOPPED;
                op_finish(o);
                return;
        }
        /* Inspect for the real bindings and start time; RUNNING is set from what it shows
         * (a container may already have exited again). */
        o->kind = OP_INSPECT;
        c->transition_in_flight = false;
        if (docker_container_inspect(e->docker, c->docker_id, 0, on_inspect, o, NULL) < 0) {
                container_set_known(e, o->et, c, CONTAINER_STATUS_RUNNING);
                op_finish(o);
        }
}

/* After a restart: inspect as after any start; a failed restart is recorded as the stop. */
static void on_restart(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error < 0) {
                log_warning("Task %s container %s: restart failed: %s", o->et->task->arn, c->name,
                            res->message);
                container_set_reason(c, "CannotStartContainerError", res->message);
                c->desired_status = CONTAINER_STATUS_STOPPED;
        }
        o->kind = OP_INSPECT;
        c->transition_in_flight = false;
        if (docker_container_inspect(o->engine->docker, c->docker_id, 0, on_inspect, o, NULL) < 0)
                op_finish(o);
}

static void start_start(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = op_new(e, et, idx, OP_START);
        int r;

        if (!o)
                return;
        r = docker_container_start(e->docker, c->docker_id, e->config->container_start_timeout_usec,
                                   on_start, o, NULL);
        if (r < 0) {
                struct docker_result res = {.error = r, .message = strerror(-r)};
                on_start(&res, o);
        }
}

/* ---- stop ---- */

static unsigned stop_grace_sec(const struct engine *e, const struct ecs_container *c)
{
        if (c->stop_timeout_sec > 0)
                return c->stop_timeout_sec;
        return (unsigned)MAX(e->config->container_stop_timeout_usec / USEC_PER_SEC, 1ULL);
}

static void on_stop(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error < 0 && res->error != -ENOENT) {
                log_warning("Task %s container %s: stop failed: %s", o->et->task->arn, c->name,
                            res->message);
                if (++o->attempt < STOP_RETRY_MAX) {
                        if (docker_container_stop(e->docker, c->docker_id, stop_grace_sec(e, c), 0,
                                                  on_stop, o, NULL) >= 0)
                                return;
                }
                container_set_reason(c, "CannotStopContainerError", res->message);
        }
        /* Stopped (or gone): inspect for the exit code. */
        o->kind = OP_INSPECT;
        c->transition_in_flight = false;
        if (docker_container_inspect(e->docker, c->docker_id, 0, on_inspect, o, NULL) < 0) {
                container_set_known(e, o->et, c, CONTAINER_STATUS_STOPPED);
                op_finish(o);
        }
}

static void start_stop(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = op_new(e, et, idx, OP_STOP);
        int r;

        if (!o)
                return;
        log_info("Task %s container %s: stopping (grace %us)", et->task->arn, c->name,
                 stop_grace_sec(e, c));
        r = docker_container_stop(e->docker, c->docker_id, stop_grace_sec(e, c), 0, on_stop, o,
                                  NULL);
        if (r < 0) {
                struct docker_result res = {.error = r, .message = strerror(-r)};
                on_stop(&res, o);
        }
}

/* ---- the step ---- */

/* Asks the dependency graph whether container idx may move to target now (§4.7, §4.8).
 * A failed dependency stops the container for good with the official exit code and
 * reason. */
static bool dependencies_allow(struct engine *e, struct engine_task *et, size_t idx,
                               enum container_status target)
{
        struct ecs_container *c = &et->task->containers[idx];
        _cleanup_free_ char *reason = NULL;

        switch (depgraph_can_transition(et->task, idx, target, realtime_usec(), &reason)) {
        case DEPGRAPH_OK:
                return true;
        case DEPGRAPH_WAIT:
                log_debug("Task %s container %s: waiting: %s", et->task->arn, c->name,
                          strna(reason));
                return false;
        case DEPGRAPH_FAIL:
        default:
                log_warning("Task %s container %s: %s", et->task->arn, c->name, strna(reason));
                if (!c->reason)
                        c->reason = TAKE_PTR(reason);
                if (!c->has_exit_code) {
                        c->exit_code = 143;
                        c->has_exit_code = true;
                }
                c->desired_status = CONTAINER_STATUS_STOPPED;
                if (!c->docker_id || c->known_status < CONTAINER_STATUS_CREATED)
                        container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
                mark_dirty(e, et);
                return false;
        }
}

static void step_container(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_task *t = et->task;
        struct ecs_container *c = &t->containers[idx];
        enum container_status want = t->desired_status >= TASK_STATUS_STOPPED
                                         ? CONTAINER_STATUS_STOPPED
                                         : CONTAINER_STATUS_RUNNING;

        if (c->transition_in_flight || c->known_status == CONTAINER_STATUS_STOPPED)
                return;
        if (want > c->desired_status)
                c->desired_status = want;

        if (c->desired_status == CONTAINER_STATUS_STOPPED) {
                if (!c->docker_id || c->known_status < CONTAINER_STATUS_CREATED) {
                        /* Never created: nothing for Docker to do (§4.4). */
                        container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
                        return;
                }
                /* Containers that depend on this one stop first (§4.8). */
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_STOPPED))
                        start_stop(e, et, idx);
                return;
        }

        switch (c->known_status) {
        case CONTAINER_STATUS_NONE:
        case CONTAINER_STATUS_MANIFEST_PULLED:
                start_pull(e, et, idx);
                break;
        case CONTAINER_STATUS_PULLED:
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_CREATED))
                        start_create(e, et, idx);
                break;
        case CONTAINER_STATUS_CREATED:
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_RUNNING))
                        start_start(e, et, idx);
                break;
        default:
                break;
        }
}

/* ---- awsvpc (tasknet.c does the work) ---- */

static void on_network_done(struct ecs_task *t, int error, const char *reason, void *ud)
{
        struct engine_task *et = ud;
        struct engine *e = et->engine;

        et->network_busy = false;
        et->ops--;
        if (et->removing) {
                if (et->ops == 0)
                        engine_remove_task(e, et);
                return;
        }
        if (t->known_status >= TASK_STATUS_STOPPED) {
                mark_dirty(e, et);
                return; /* a teardown finished */
        }
        if (error < 0)
                task_fail(et, "ResourceInitializationError", "%s", strna(reason));
        else
                et->network_ready = true;
        mark_dirty(e, et);
        engine_step(e, et);
}

static void prepare_network(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        int r;

        if (et->network_busy)
                return;
        if (!e->net) {
                task_fail(et, "ResourceInitializationError",
                          "awsvpc networking is not enabled on this instance");
                mark_dirty(e, et);
                return;
        }
        r = tasknet_setup(e->net, t, et->cgroup_parent, on_network_done, et);
        if (r < 0) {
                task_fail(et, "ResourceInitializationError", "network setup: %s", strerror(-r));
                mark_dirty(e, et);
                return;
        }
        et->network_busy = true;
        et->ops++;
        (void)persist(e, et); /* the pause container's name before Docker sees it */
}

/* All containers stopped: the ENI goes back to the host, the pause container stops. */
static void teardown_network(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;

        if (t->network_mode != NETWORK_MODE_AWSVPC || !e->net || !t->pause_docker_name)
                return;
        tasknet_cancel(e->net, t);
        if (et->network_busy) {
                et->network_busy = false;
                et->ops--;
        }
        if (tasknet_teardown(e->net, t, on_network_done, et) >= 0) {
                et->network_busy = true;
                et->ops++;
        }
}

static void update_task_known(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        enum task_status s = engine_task_status_from_containers(t);

        if (s <= t->known_status)
                return;
        log_info("Task %s: %s -> %s", t->arn, task_status_to_string(t->known_status),
                 task_status_to_string(s));
        t->known_status = s;
        t->known_status_time = realtime_usec();
        if (s == TASK_STATUS_STOPPED) {
                release(e, et);
                teardown_network(e, et);
                if (t->desired_status < TASK_STATUS_STOPPED)
                        t->desired_status = TASK_STATUS_STOPPED;
        }
        mark_dirty(e, et);
}

/* Fails the task with a task-level reason (§4.5): set once, and the task stops. */
static void task_fail(struct engine_task *et, const char *name, const char *fmt, ...)
    _printf_(3, 4);
static void task_fail(struct engine_task *et, const char *name, const char *fmt, ...)
{
        struct ecs_task *t = et->task;
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!t->reason) {
                va_start(ap, fmt);
                msg = strdup_vprintf(fmt, ap);
                va_end(ap);
                if (asprintf(&t->reason, "%s: %s", name, strempty(msg)) < 0)
                        t->reason = NULL;
                log_error("Task %s: %s", t->arn, strna(t->reason));
        }
        task_set_desired_stopped(et, name);
}

/* The task cgroup comes before any container is pulled (§4.4, §5.1). */
static int create_task_cgroup(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        uint32_t *cpus = calloc(t->n_containers + 1, sizeof(uint32_t));

        if (!cpus)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_containers; i++) {
                cpus[i] = t->containers[i].cpu;
                if (t->memory_mib && t->containers[i].memory_mib > t->memory_mib) {
                        free(cpus);
                        task_fail(et, "ResourceInitializationError",
                                  "container %s memory %u MiB exceeds the task memory %u MiB",
                                  t->containers[i].name, t->containers[i].memory_mib,
                                  t->memory_mib);
                        return 0;
                }
        }
        struct cgroup_task_spec spec = {
            .task_id = t->id,
            .cpu_vcpus = t->cpu,
            .cpu_shares = cgroup_cpu_shares_sum(cpus, t->n_containers),
            .memory_mib = t->memory_mib,
            .cpu_period_usec = e->config->cgroup_cpu_period_usec,
            .pids_limit = e->config->task_pids_limit,
        };
        free(cpus);
        int r = cgroup_task_create(e->cgroups, &spec, &et->cgroup_parent);
        if (r < 0)
                return log_error_errno(r, "Task %s: failed to create the task cgroup: %m", t->arn);
        log_debug("Task %s: cgroup %s", t->arn, et->cgroup_parent);
        return 0;
}

/* ---- task volumes (§2.6.3) ---- */

struct volume_op {
        struct engine_task *et;
        size_t idx;
};

static void volume_op_done(struct engine *e, struct engine_task *et)
{
        if (--et->volume_ops > 0)
                return;
        et->ops--;
        if (et->removing) {
                if (et->ops == 0)
                        engine_remove_task(e, et);
                return;
        }
        bool ready = true;
        for (size_t i = 0; i < et->task->n_volumes; i++)
                if (!et->task->volumes[i].docker_name && isempty(et->task->volumes[i].source_path))
                        ready = false;
        et->volumes_ready = ready;
        et->persist_dirty = true;
        engine_step(e, et);
}

static void on_volume(const struct docker_result *res, const struct docker_volume *v, void *ud)
{
        struct volume_op *op = ud;
        struct engine_task *et = op->et;
        struct engine *e = et->engine;
        struct task_volume *tv = &et->task->volumes[op->idx];

        free(op);
        if (res->error < 0) {
                /* A shared volume that must already exist, or a create Docker refused. */
                task_fail(et, "ResourceInitializationError", "volume %s: %s", tv->name,
                          res->message);
                mark_dirty(e, et);
        } else if (!tv->docker_name)
                tv->docker_name = strdup(v->name);
        volume_op_done(e, et);
}

static int kv_list(char **strv, struct docker_kv **ret, size_t *ret_n)
{
        size_t n = 0;
        strv_foreach (p, strv)
                n++;
        struct docker_kv *kv = calloc(n + 1, sizeof(*kv));
        if (!kv)
                return -ENOMEM;
        n = 0;
        strv_foreach (p, strv) {
                char *eq = strchr(*p, '=');
                kv[n].key = eq ? strndup(*p, (size_t)(eq - *p)) : strdup(*p);
                kv[n].value = strdup(eq ? eq + 1 : "");
                n++;
        }
        *ret = kv;
        *ret_n = n;
        return 0;
}

/* Creates (or, for shared volumes without autoprovision, looks up) the Docker volumes the
 * task needs, before any container is created. Task-scoped and agent-managed host volumes
 * are named ecs-<family>-<version>-<volume>-<hex> and removed at cleanup. */
static void prepare_volumes(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;

        if (et->volume_ops > 0)
                return;
        et->ops++;
        et->volume_ops = 1; /* held while issuing */
        for (size_t i = 0; i < t->n_volumes; i++) {
                struct task_volume *v = &t->volumes[i];
                bool docker = streq_ptr(v->type, "docker");
                if (v->docker_name || (!docker && !isempty(v->source_path)))
                        continue;
                bool shared = docker && streq_ptr(v->scope, "shared");
                if (!shared && !v->docker_name) {
                        char hex[21];
                        if (random_hex(hex, 10) < 0 ||
                            asprintf(&v->docker_name, "ecs-%s-%s-%s-%s", t->family, t->version,
                                     v->name, hex) < 0) {
                                v->docker_name = NULL;
                                continue;
                        }
                        (void)persist(e, et); /* the name first: adopted after a crash */
                }
                struct volume_op *op = calloc(1, sizeof(*op));
                if (!op)
                        continue;
                *op = (struct volume_op){et, i};
                struct docker_kv *opts = NULL, *labels = NULL;
                size_t n_opts = 0, n_labels = 0;
                (void)kv_list(v->driver_opts, &opts, &n_opts);
                (void)kv_list(v->labels, &labels, &n_labels);
                struct docker_volume_spec spec = {
                    .name = shared ? v->name : v->docker_name,
                    .driver = v->driver,
                    .driver_opts = opts,
                    .n_driver_opts = n_opts,
                    .labels = labels,
                    .n_labels = n_labels,
                };
                int r;
                et->volume_ops++;
                if (shared && !v->autoprovision)
                        r = docker_volume_inspect(e->docker, v->name, 0, on_volume, op, NULL);
                else
                        r = docker_volume_create(e->docker, &spec, 0, on_volume, op, NULL);
                docker_kv_free_many(opts, n_opts);
                docker_kv_free_many(labels, n_labels);
                if (r < 0) {
                        et->volume_ops--;
                        free(op);
                        task_fail(et, "ResourceInitializationError", "volume %s: %s", v->name,
                                  strerror(-r));
                }
        }
        if (et->volume_ops == 1 && !t->reason) {
                /* Nothing to wait for. */
                et->volume_ops = 0;
                et->ops--;
                et->volumes_ready = true;
                return;
        }
        volume_op_done(e, et);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *ud)
{
        struct engine_task *et = ud;
        et->deadline_timer = sd_event_source_disable_unref(et->deadline_timer);
        engine_step(et->engine, et);
        return 0;
}

/* A dependency start timeout fires even when nothing else happens meanwhile. */
static void arm_deadline(struct engine *e, struct engine_task *et)
{
        uint64_t when =
            et->task->known_status < TASK_STATUS_STOPPED ? depgraph_next_deadline(et->task) : 0;

        et->deadline_timer = sd_event_source_disable_unref(et->deadline_timer);
        if (when == 0)
                return;
        uint64_t now = realtime_usec();
        (void)ecs_loop_add_timer(e->loop, when > now ? when - now : 0, on_deadline, et,
                                 &et->deadline_timer);
}

static void engine_step(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        int r;

        if (t->known_status >= TASK_STATUS_STOPPED || et->reconciling)
                return;

        /* An essential container that stopped stops the task (§4.6). */
        if (t->desired_status < TASK_STATUS_STOPPED && depgraph_task_should_stop(t)) {
                if (!t->execution_stopped_at)
                        t->execution_stopped_at = realtime_usec();
                task_set_desired_stopped(et, "an essential container stopped");
        }

        if (t->desired_status < TASK_STATUS_STOPPED && !et->admitted) {
                r = admit(e, et);
                if (r < 0) {
                        if (!et->waiting_logged)
                                log_info("Task %s: waiting for host %s", t->arn,
                                         r == -ENOSPC ? "CPU or memory" : "ports");
                        et->waiting_logged = true;
                        return;
                }
                if (et->waiting_logged)
                        log_info("Task %s: admitted", t->arn);
        }

        if (t->desired_status < TASK_STATUS_STOPPED && !et->cgroup_parent && e->cgroups) {
                r = create_task_cgroup(e, et);
                if (r < 0) {
                        task_fail(et, "ResourceInitializationError", "%s", strerror(-r));
                        mark_dirty(e, et);
                }
        }

        if (t->desired_status < TASK_STATUS_STOPPED && !et->volumes_ready) {
                prepare_volumes(e, et);
                if (!et->volumes_ready) {
                        update_task_known(e, et);
                        return; /* engine_step runs again when the volumes are there */
                }
        }
        if (t->network_mode == NETWORK_MODE_AWSVPC && t->desired_status < TASK_STATUS_STOPPED &&
            !et->network_ready) {
                prepare_network(e, et);
                if (!et->network_ready && t->desired_status < TASK_STATUS_STOPPED) {
                        update_task_known(e, et);
                        return; /* engine_step runs again when the namespace is ready */
                }
        }

        for (size_t i = 0; i < t->n_containers; i++)
                step_container(e, et, i);
        update_task_known(e, et);
        /* A container this step gave up on (a failed dependency) may be essential: then
         * the task goes on to stop now, not at the next event. */
        if (t->desired_status < TASK_STATUS_STOPPED && depgraph_task_should_stop(t)) {
                engine_step(e, et);
                return;
        }
        arm_deadline(e, et);
}

/* ---- settling and notification ---- */

static void step_waiting(struct engine *e);

static int on_settle(sd_event_source *s, void *ud)
{
        struct engine *e = ud;
        bool stopped = false;

        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                /* Nothing is reported or saved mid-restore: the picture is not whole. */
                if (!et->dirty || et->reconciling)
                        continue;
                et->dirty = false;
                if (et->persist_dirty)
                        (void)persist(e, et);
                stopped = stopped || et->task->known_status == TASK_STATUS_STOPPED;
                if (e->cb.task_changed)
                        e->cb.task_changed(e, et->task, e->userdata);
        }
        /* A task that stopped may have freed ports a waiting task needs. */
        if (stopped)
                step_waiting(e);
        return 0;
}

static void schedule_settle(struct engine *e)
{
        if (e->settle)
                sd_event_source_set_enabled(e->settle, SD_EVENT_ONESHOT);
}

static void step_waiting(struct engine *e)
{
        for (size_t i = 0; i < e->n_tasks; i++)
                if (!e->tasks[i]->admitted &&
                    e->tasks[i]->task->desired_status < TASK_STATUS_STOPPED)
                        engine_step(e, e->tasks[i]);
}

/* ---- Docker events ---- */

static void on_docker_event(struct docker_events *ev, const struct docker_event *de, void *ud)
{
        struct engine *e = ud;
        struct engine_task *et;
        size_t idx = 0;

        et = find_by_docker_id(e, de->id, &idx);
        if (!et || et->removing)
                return;
        struct ecs_container *c = &et->task->containers[idx];
        switch (de->action) {
        case DOCKER_EVENT_DIE:
        case DOCKER_EVENT_DESTROY:
        case DOCKER_EVENT_OOM:
                if (de->action == DOCKER_EVENT_DIE && de->exit_code >= 0 && !c->has_exit_code &&
                    c->known_status < CONTAINER_STATUS_STOPPED) {
                        /* Inspect gives the full story; the event's code is the fallback. */
                        c->exit_code = de->exit_code;
                }
                start_inspect(e, et, idx);
                break;
        case DOCKER_EVENT_HEALTH_STATUS:
                /* A HEALTHY dependency may be met now. */
                if (container_set_health(e, et, c, de->health))
                        engine_step(e, et);
                break;
        default:
                break;
        }
}

static void reinspect_all(struct engine *e)
{
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                for (size_t j = 0; j < et->task->n_containers; j++) {
                        struct ecs_container *c = &et->task->containers[j];
                        if (c->docker_id && c->known_status < CONTAINER_STATUS_STOPPED &&
                            !c->transition_in_flight)
                                start_inspect(e, et, j);
                }
        }
}

static void on_docker_events_state(struct docker_events *ev, enum docker_events_state state,
                                   int error, void *ud)
{
        struct engine *e = ud;
        if (state == DOCKER_EVENTS_DISCONNECTED)
                log_warning_errno(error, "Docker event stream lost, reconnecting: %m");
        else if (state == DOCKER_EVENTS_RECONNECTED) {
                log_info("Docker event stream reconnected; re-inspecting containers");
                reinspect_all(e);
        }
}

/* ---- public ---- */

int engine_new(const struct engine_params *p, struct engine **ret)
{
        struct engine *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->loop = p->loop;
        e->docker = p->docker;
        e->cgroups = p->cgroups;
        e->store = p->store;
        e->config = p->config;
        e->cb = p->callbacks;
        e->userdata = p->userdata;
        e->cpu_total = p->cpu_units;
        e->memory_total = p->memory_mib;
        e->region = strdup(strempty(p->region));
        e->cluster = strdup(strempty(p->cluster));
        if (!e->region || !e->cluster) {
                engine_free(e);
                return -ENOMEM;
        }
        port_allocator_init(&e->ports, p->config->dynamic_host_port_first,
                            p->config->dynamic_host_port_last, p->config->reserved_ports,
                            p->config->n_reserved_ports, p->config->reserved_ports_udp,
                            p->config->n_reserved_ports_udp);
        r = sd_event_add_defer(ecs_loop_event(p->loop), &e->settle, on_settle, e);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->settle, SD_EVENT_OFF);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        static char *const labels[] = {"com.amazonaws.ecs.task-arn", NULL};
        struct docker_events_options eo = {
            .since_usec = realtime_usec(),
            .labels = labels,
            .on_event = on_docker_event,
            .on_state = on_docker_events_state,
            .userdata = e,
        };
        r = docker_events_new(e->docker, &eo, &e->events);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        if (p->config->task_eni) {
                struct tasknet_params np = {
                    .loop = p->loop,
                    .docker = p->docker,
                    .datadir = p->config->data_dir,
                    .cluster = e->cluster,
                    .block_imds = p->config->awsvpc_block_imds,
                    .extra_routes = p->config->awsvpc_additional_local_routes,
                    .eni_wait_usec = ENI_WAIT_USEC,
                };
                r = tasknet_new(&np, &e->net);
                if (r < 0)
                        log_warning_errno(r, "awsvpc networking unavailable: %m");
        }
        *ret = e;
        return 0;
}

static void engine_task_free(struct engine_task *et)
{
        if (!et)
                return;
        if (et->host_ports)
                for (size_t i = 0; i < et->task->n_containers; i++)
                        free(et->host_ports[i]);
        free(et->host_ports);
        sd_event_source_disable_unref(et->cleanup_timer);
        sd_event_source_disable_unref(et->deadline_timer);
        free(et->cgroup_parent);
        ecs_task_unref(et->task);
        free(et);
}

struct engine *engine_free(struct engine *e)
{
        if (!e)
                return NULL;
        docker_events_free(e->events);
        tasknet_free(e->net); /* its operations hold task references, not engine ones */
        for (size_t i = 0; i < e->n_tasks; i++)
                engine_task_free(e->tasks[i]);
        free(e->tasks);
        sd_event_source_disable_unref(e->settle);
        free(e->region);
        free(e->cluster);
        free(e);
        return NULL;
}

int engine_add_task(struct engine *e, struct ecs_task *t)
{
        struct engine_task *et = find_et(e, t->arn);
        _cleanup_free_ char *dep_error = NULL;
        int r;

        if (et) {
                enum task_status want = t->desired_status;
                if (et->rebuilt)
                        adopt_definition(et, t);
                /* Known task: only the desired status may move, and only forward. */
                if (want > et->task->desired_status) {
                        log_info("Task %s: desired status %s -> %s", t->arn,
                                 task_status_to_string(et->task->desired_status),
                                 task_status_to_string(want));
                        et->task->desired_status = want;
                        r = persist(e, et);
                        if (r < 0)
                                return r;
                        engine_step(e, et);
                }
                return 0;
        }

        struct engine_task **l = realloc(e->tasks, (e->n_tasks + 1) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        e->tasks = l;
        et = calloc(1, sizeof(*et));
        if (!et)
                return -ENOMEM;
        et->engine = e;
        et->task = ecs_task_ref(t);
        if (!t->created_at)
                t->created_at = realtime_usec();
        if (depgraph_validate(t, &dep_error) < 0) {
                /* §4.7: refused at once, reported STOPPED with the reason. */
                task_fail(et, "TaskDependencyError", "%s", strna(dep_error));
        }
        /* Written before the payload is acknowledged: an ack means "persisted". */
        r = persist(e, et);
        if (r < 0) {
                engine_task_free(et);
                return r;
        }
        e->tasks[e->n_tasks++] = et;
        log_info("Task %s (%s:%s): added, desired %s", t->arn, t->family, t->version,
                 task_status_to_string(t->desired_status));
        engine_step(e, et);
        return 0;
}

struct ecs_task *engine_get_task(struct engine *e, const char *arn)
{
        struct engine_task *et = find_et(e, arn);
        return et ? et->task : NULL;
}

void engine_foreach_task(struct engine *e, void (*fn)(struct ecs_task *t, void *ud), void *ud)
{
        for (size_t i = 0; i < e->n_tasks; i++)
                fn(e->tasks[i]->task, ud);
}

size_t engine_task_count(struct engine *e)
{
        return e->n_tasks;
}

int engine_stop_task(struct engine *e, const char *arn)
{
        struct engine_task *et = find_et(e, arn);
        if (!et)
                return -ENOENT;
        task_set_desired_stopped(et, "stop requested");
        engine_step(e, et);
        return 0;
}

/* ---- cleanup (§4.12) ---- */

static void on_volume_removed(const struct docker_result *res, void *ud)
{
        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Failed to remove a task volume: %s", res->message);
}

static void engine_remove_task(struct engine *e, struct engine_task *et)
{
        for (size_t i = 0; i < e->n_tasks; i++)
                if (e->tasks[i] == et) {
                        memmove(&e->tasks[i], &e->tasks[i + 1],
                                (e->n_tasks - i - 1) * sizeof(*e->tasks));
                        e->n_tasks--;
                        break;
                }
        for (size_t i = 0; i < et->task->n_volumes; i++) {
                struct task_volume *v = &et->task->volumes[i];
                bool shared = streq_ptr(v->type, "docker") && streq_ptr(v->scope, "shared");
                if (v->docker_name && !shared)
                        (void)docker_volume_remove(e->docker, v->docker_name, false, 0,
                                                   on_volume_removed, NULL, NULL);
        }
        if (et->cgroup_parent) {
                int r = cgroup_task_remove(e->cgroups, et->task->id);
                if (r < 0)
                        log_warning_errno(r, "Task %s: failed to remove the task cgroup: %m",
                                          et->task->arn);
        }
        if (e->store) {
                char name[300];
                int r = task_file_name(et->task, name, sizeof(name));
                if (r >= 0)
                        r = state_store_remove(e->store, name);
                if (r < 0)
                        log_warning_errno(r, "Task %s: failed to remove its saved state: %m",
                                          et->task->arn);
        }
        if (e->cb.task_removed)
                e->cb.task_removed(e, et->task, e->userdata);
        log_info("Task %s: cleaned up", et->task->arn);
        engine_task_free(et);
        /* What the task used goes back to the kernel, not only to malloc's free lists: the
         * heap is small (a few MiB), so walking it once per cleaned-up task is cheap. */
        malloc_trim(0);
}

static void on_remove(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        struct engine_task *et = o->et;
        struct ecs_container *c = &et->task->containers[o->idx];

        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Task %s container %s: remove failed: %s", et->task->arn, c->name,
                            res->message);
        op_finish(o);
}

static int on_cleanup_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct engine_task *et = ud;
        struct engine *e = et->engine;
        struct ecs_task *t = et->task;

        et->cleanup_timer = sd_event_source_disable_unref(et->cleanup_timer);
        if (et->ops > 0) {
                /* Something still runs against this task; look again shortly. */
                (void)ecs_loop_add_timer(e->loop, USEC_PER_SEC, on_cleanup_timer, et,
                                         &et->cleanup_timer);
                return 0;
        }
        et->removing = true;
        if (t->network_mode == NETWORK_MODE_AWSVPC && e->net && t->pause_docker_name &&
            tasknet_release(e->net, t, on_network_done, et) >= 0) {
                et->network_busy = true;
                et->ops++;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *c = &t->containers[i];
                if (!c->docker_id)
                        continue;
                struct op *o = op_new(e, et, i, OP_REMOVE);
                if (!o)
                        continue;
                if (docker_container_remove(e->docker, c->docker_id, true, false, 0, on_remove, o,
                                            NULL) < 0) {
                        et->ops--;
                        free(o);
                }
        }
        if (et->ops == 0)
                engine_remove_task(e, et);
        return 0;
}

void engine_task_sent(struct engine *e, struct ecs_task *t)
{
        struct engine_task *et = find_et(e, t->arn);

        if (et)
                (void)persist(e, et); /* sent statuses changed */
        if (!et || et->cleanup_timer || t->known_status < TASK_STATUS_STOPPED ||
            t->sent_status < TASK_STATUS_STOPPED)
                return;
        /* Only after ECS accepted STOPPED: removing earlier could lose what it must see. */
        uint64_t wait = e->config->task_cleanup_wait_usec +
                        random_u64_below(e->config->task_cleanup_wait_jitter_usec + 1);
        uint64_t elapsed = realtime_usec() - t->known_status_time;
        wait = elapsed >= wait ? 0 : wait - elapsed;
        log_debug("Task %s: cleanup in %llus", t->arn, (unsigned long long)(wait / USEC_PER_SEC));
        (void)ecs_loop_add_timer(e->loop, wait, on_cleanup_timer, et, &et->cleanup_timer);
}

/* ---- restore after a restart (§4.14) ---- */

/* A task rebuilt from Docker labels has containers but no definition; when ACS sends the
 * task again, the definition is taken from there and what Docker showed is kept. */
static void adopt_definition(struct engine_task *et, struct ecs_task *t)
{
        struct ecs_task *old = et->task;

        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *n = &t->containers[i];
                struct ecs_container *o = ecs_task_find_container(old, n->name);
                if (!o)
                        continue;
                n->known_status = o->known_status;
                n->sent_status = o->sent_status;
                n->desired_status = o->desired_status;
                n->exit_code = o->exit_code;
                n->has_exit_code = o->has_exit_code;
                n->created_at = o->created_at;
                n->started_at = o->started_at;
                n->finished_at = o->finished_at;
                n->docker_id = TAKE_PTR(o->docker_id);
                n->docker_name = TAKE_PTR(o->docker_name);
                n->reason = TAKE_PTR(o->reason);
                n->image_id = TAKE_PTR(o->image_id);
                n->bindings = TAKE_PTR(o->bindings);
                n->n_bindings = o->n_bindings;
                o->n_bindings = 0;
        }
        t->known_status = old->known_status;
        t->sent_status = old->sent_status;
        t->known_status_time = old->known_status_time;
        t->desired_status = old->desired_status; /* the caller raises it as usual */
        /* awsvpc: the adopted pause container goes on holding the namespace. */
        if (old->pause_docker_id && !t->pause_docker_id) {
                t->pause_docker_id = TAKE_PTR(old->pause_docker_id);
                free(t->pause_docker_name);
                t->pause_docker_name = TAKE_PTR(old->pause_docker_name);
        }
        et->task = ecs_task_ref(t);
        ecs_task_unref(old);
        et->rebuilt = false;
        et->persist_dirty = true;
        log_info("Task %s: definition restored from ACS", t->arn);
}

struct restore {
        struct engine *engine;
        void (*done)(struct engine *e, size_t n, void *ud);
        void *userdata;
        unsigned pending;
        uint64_t started;
};

static struct engine_task *engine_task_attach(struct engine *e, struct ecs_task *t)
{
        struct engine_task **l = realloc(e->tasks, (e->n_tasks + 1) * sizeof(*l));
        if (!l)
                return NULL;
        e->tasks = l;
        struct engine_task *et = calloc(1, sizeof(*et));
        if (!et)
                return NULL;
        et->engine = e;
        et->task = t;
        et->reconciling = true;
        e->tasks[e->n_tasks++] = et;
        return et;
}

static int load_saved_tasks(struct engine *e)
{
        _cleanup_strv_free_ char **names = NULL;
        int r, n = 0;

        r = state_store_list(e->store, "tasks", &names);
        if (r < 0)
                return log_error_errno(r, "Cannot list saved tasks: %m");
        strv_foreach (name, names) {
                _cleanup_free_ char *data = NULL, *error = NULL, *path = NULL;
                _cleanup_json_ json_object *o = NULL;
                struct ecs_task *t = NULL;
                size_t len = 0;

                if (asprintf(&path, "tasks/%s", *name) < 0)
                        return -ENOMEM;
                r = state_store_read(e->store, path, &data, &len);
                if (r >= 0 && json_parse(data, len, &o) < 0)
                        r = -EBADMSG;
                if (r >= 0)
                        r = task_from_json(o, &t, &error);
                if (r < 0) {
                        /* Loudly, and the task is rebuilt from Docker's labels below. */
                        log_error("Saved state %s/%s is unusable (%s); the task will be rebuilt "
                                  "from its containers' labels",
                                  state_store_dir(e->store), path, error ? error : strerror(-r));
                        (void)state_store_remove(e->store, path);
                        continue;
                }
                if (find_et(e, t->arn) || !engine_task_attach(e, t)) {
                        ecs_task_unref(t);
                        continue;
                }
                n++;
        }
        return n;
}

static void restore_finish(struct restore *rs)
{
        struct engine *e = rs->engine;

        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                if (!et->reconciling)
                        continue;
                et->reconciling = false;
                /* A live task holds its resources again; a stopped one holds none. */
                if (et->task->known_status < TASK_STATUS_STOPPED &&
                    et->task->desired_status < TASK_STATUS_STOPPED)
                        (void)admit(e, et);
                mark_dirty(e, et); /* re-report whatever was not yet accepted */
                engine_step(e, et);
                if (et->task->known_status == TASK_STATUS_STOPPED)
                        engine_task_sent(e, et->task); /* cleanup timers */
        }
        log_info("Restored %zu task(s) in %llu ms", e->n_tasks,
                 (unsigned long long)((now_usec() - rs->started) / USEC_PER_MSEC));
        if (rs->done)
                rs->done(e, e->n_tasks, rs->userdata);
        free(rs);
}

struct restore_inspect {
        struct restore *rs;
        struct engine_task *et;
        size_t idx;
        bool by_name; /* the create was never confirmed: Docker may or may not have it */
};

static void on_restore_inspect(const struct docker_result *res, const struct docker_container *d,
                               void *ud)
{
        struct restore_inspect *ri = ud;
        struct engine *e = ri->rs->engine;
        struct ecs_container *c = &ri->et->task->containers[ri->idx];

        if (res->error == 0) {
                if (!c->docker_id) {
                        log_info("Task %s container %s: adopting %s, created before the "
                                 "agent stopped",
                                 ri->et->task->arn, c->name, d->id);
                        c->docker_id = strdup(d->id);
                        c->known_status = MAX(c->known_status, CONTAINER_STATUS_CREATED);
                }
                apply_inspect(e, ri->et, c, d);
        } else if (res->error == -ENOENT && !ri->by_name) {
                container_set_reason(c, "ContainerVanishedError",
                                     "No container matching saved ID found");
                container_set_known(e, ri->et, c, CONTAINER_STATUS_STOPPED);
        } else if (res->error != -ENOENT)
                log_warning("Task %s container %s: inspect failed at restore: %s",
                            ri->et->task->arn, c->name, res->message);
        /* (by name and absent: the create never happened; it will be made again.) */
        struct restore *rs = ri->rs;
        free(ri);
        if (--rs->pending == 0)
                restore_finish(rs);
}

static void restore_inspect_all(struct restore *rs)
{
        struct engine *e = rs->engine;

        rs->pending++; /* held while issuing, so that a quick answer cannot finish early */
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                if (!et->reconciling)
                        continue;
                for (size_t j = 0; j < et->task->n_containers; j++) {
                        struct ecs_container *c = &et->task->containers[j];
                        const char *ref = c->docker_id ? c->docker_id : c->docker_name;
                        if (!ref || c->known_status >= CONTAINER_STATUS_STOPPED)
                                continue;
                        struct restore_inspect *ri = calloc(1, sizeof(*ri));
                        if (!ri)
                                continue;
                        *ri = (struct restore_inspect){rs, et, j, !c->docker_id};
                        rs->pending++;
                        if (docker_container_inspect(e->docker, ref, 0, on_restore_inspect, ri,
                                                     NULL) < 0) {
                                rs->pending--;
                                free(ri);
                        }
                }
        }
        if (--rs->pending == 0)
                restore_finish(rs);
}

/* Containers Docker has for this cluster whose task the saved state does not know (state
 * lost or corrupt): rebuild a task from their labels, so they are tracked, reported and
 * stopped when ECS no longer wants them, instead of being orphaned. */
static void rebuild_from_labels(struct engine *e, const struct docker_container_summary *list,
                                size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct docker_container_summary *d = &list[i];
                const char *arn =
                    docker_kv_get(d->labels, d->n_labels, "com.amazonaws.ecs.task-arn");
                const char *name =
                    docker_kv_get(d->labels, d->n_labels, "com.amazonaws.ecs.container-name");
                if (!arn || !name)
                        continue;
                struct engine_task *et = find_et(e, arn);
                if (et && !et->rebuilt) {
                        /* Known task; a container created but not recorded is found by its
                         * saved name during the inspections. */
                        continue;
                }
                if (!et) {
                        struct ecs_task *t = ecs_task_new();
                        if (!t || ecs_task_id_from_arn(arn, &t->id) < 0) {
                                ecs_task_unref(t);
                                continue;
                        }
                        t->arn = strdup(arn);
                        t->family = strdup(strempty(docker_kv_get(
                            d->labels, d->n_labels, "com.amazonaws.ecs.task-definition-family")));
                        t->version = strdup(strempty(docker_kv_get(
                            d->labels, d->n_labels, "com.amazonaws.ecs.task-definition-version")));
                        t->desired_status = TASK_STATUS_RUNNING;
                        et = engine_task_attach(e, t);
                        if (!et) {
                                ecs_task_unref(t);
                                continue;
                        }
                        et->rebuilt = true;
                        log_error("Task %s was not in the saved state; rebuilt from the labels "
                                  "of its containers",
                                  arn);
                }
                struct ecs_task *t = et->task;
                if (streq(name, TASKNET_PAUSE_CONTAINER_NAME)) {
                        /* awsvpc: adopted as the task's namespace holder, not reported. */
                        t->network_mode = NETWORK_MODE_AWSVPC;
                        free(t->pause_docker_id);
                        free(t->pause_docker_name);
                        t->pause_docker_id = strdup(d->id);
                        t->pause_docker_name = strdup(strempty(d->name));
                        et->network_ready = true;
                        continue;
                }
                struct ecs_container *l =
                    realloc(t->containers, (t->n_containers + 1) * sizeof(*t->containers));
                if (!l)
                        continue;
                t->containers = l;
                struct ecs_container *c = &t->containers[t->n_containers++];
                *c = (struct ecs_container){0};
                c->name = strdup(name);
                c->image = strdup(strempty(d->image));
                c->essential = true; /* unknown: the safe answer stops the task with it */
                c->docker_id = strdup(d->id);
                c->docker_name = strdup(strempty(d->name));
                c->known_status = CONTAINER_STATUS_CREATED;
                c->desired_status = CONTAINER_STATUS_RUNNING;
        }
        /* Only a pause container left: the task's containers are gone, so it is stopped and
         * its cleanup removes the pause container. */
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct ecs_task *t = e->tasks[i]->task;
                if (!e->tasks[i]->rebuilt || t->n_containers > 0 || !t->pause_docker_name ||
                    t->known_status >= TASK_STATUS_STOPPED)
                        continue;
                t->desired_status = TASK_STATUS_STOPPED;
                t->known_status = TASK_STATUS_STOPPED;
                t->known_status_time = realtime_usec();
                mark_dirty(e, e->tasks[i]);
        }
}

static void on_restore_list(const struct docker_result *res,
                            const struct docker_container_summary *list, size_t n, void *ud)
{
        struct restore *rs = ud;

        if (res->error < 0)
                log_warning("Cannot list containers at restore: %s", res->message);
        else
                rebuild_from_labels(rs->engine, list, n);
        restore_inspect_all(rs);
}

int engine_restore(struct engine *e, void (*done)(struct engine *e, size_t n, void *ud),
                   void *userdata)
{
        struct restore *rs;
        char label[512];
        int r;

        rs = calloc(1, sizeof(*rs));
        if (!rs)
                return -ENOMEM;
        *rs = (struct restore){
            .engine = e, .done = done, .userdata = userdata, .started = now_usec()};
        if (e->store) {
                r = load_saved_tasks(e);
                if (r > 0)
                        log_info("Loaded %d saved task(s)", r);
        }
        snprintf(label, sizeof(label), "com.amazonaws.ecs.cluster=%s", e->cluster);
        char *const labels[] = {label, NULL};
        r = docker_container_list(e->docker, labels, 0, on_restore_list, rs, NULL);
        if (r < 0) {
                log_warning_errno(r, "Cannot list containers at restore: %m");
                restore_inspect_all(rs);
        }
        return 0;
}
