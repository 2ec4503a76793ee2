/* Docker operations on one container (create, start, stop, restart, inspect) and what their
 * answers mean for the container's known status. Inspect is the source of truth for exit
 * codes, OOM kills and port bindings. */
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/uuid.h"
#include "engine-internal.h"

#define STOP_RETRY_MAX 5

static void on_restart(const struct docker_result *res, void *ud);

struct op *engine_op_new(struct engine *e, struct engine_task *et, size_t idx, enum op_kind kind)
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
void engine_op_finish(struct op *o)
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

static void start_restart(struct engine *e, struct engine_task *et, size_t idx, int exit_code)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = engine_op_new(e, et, idx, OP_START);

        if (!o)
                return;
        c->restart_count++;
        c->metadata_file_ready = false;
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
bool engine_container_set_health(struct engine *e, struct engine_task *et, struct ecs_container *c,
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
        engine_mark_dirty(e, et);
        return changed;
}

static bool set_changed(char **slot, const char *v)
{
        if (streq_ptr(*slot, v))
                return false;
        free(*slot);
        *slot = v ? strdup(v) : NULL;
        return true;
}

/* What Docker shows of the container that the endpoints report: its first network (a task
 * container has one) and its labels (the image's too). */
static void record_network(struct engine *e, struct engine_task *et, struct ecs_container *c,
                           const struct docker_container *d)
{
        const struct docker_network *n = d->n_networks > 0 ? &d->networks[0] : NULL;
        bool changed = set_changed(&c->network_name, n ? n->name : d->network_mode);
        changed |= set_changed(&c->ipv4_address, n ? n->ip_address : NULL);
        changed |= set_changed(&c->ipv6_address, n ? n->ipv6_address : NULL);
        if (!c->docker_labels && d->n_labels > 0) {
                c->docker_labels = calloc(d->n_labels + 1, sizeof(char *));
                for (size_t i = 0; c->docker_labels && i < d->n_labels; i++)
                        if (asprintf(&c->docker_labels[i], "%s=%s", d->labels[i].key,
                                     strempty(d->labels[i].value)) < 0)
                                c->docker_labels[i] = NULL;
                changed = true;
        }
        if (changed)
                engine_mark_dirty(e, et);
}

void engine_apply_inspect(struct engine *e, struct engine_task *et, struct ecs_container *c,
                          const struct docker_container *d)
{
        if (d->image_id && !streq_ptr(c->image_id, d->image_id)) {
                free(c->image_id);
                c->image_id = strdup(d->image_id);
        }
        engine_images_seen(e, c, d->started_at_usec);
        if (d->created_usec && !c->created_at)
                c->created_at = d->created_usec;
        if (d->started_at_usec && !c->started_at)
                c->started_at = d->started_at_usec;

        if (d->running) {
                record_network(e, et, c, d);
                engine_metadata_file_ready(e, et, c, d);
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
                        engine_mark_dirty(e, et);
                }
                if (d->health != DOCKER_HEALTH_NONE)
                        (void)engine_container_set_health(e, et, c, d->health);
                engine_container_set_known(e, et, c, CONTAINER_STATUS_RUNNING);
                return;
        }
        if (!d->started_at_usec && isempty(d->error) && !d->dead &&
            c->desired_status != CONTAINER_STATUS_STOPPED) {
                engine_container_set_known(e, et, c, CONTAINER_STATUS_CREATED);
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
                engine_container_set_reason(c, "OutOfMemoryError",
                                            "Container killed due to memory usage");
        else if (!isempty(d->error))
                engine_container_set_reason(c, "DockerStateError", d->error);
        if (d->finished_at_usec && !c->finished_at)
                c->finished_at = d->finished_at_usec;
        engine_container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
}

static void on_inspect(const struct docker_result *res, const struct docker_container *d, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == -ENOENT) {
                /* Removed behind our back: it is stopped, and we say why (§4.13). */
                engine_container_set_reason(c, "ContainerVanishedError",
                                            "No container matching saved ID found");
                engine_container_set_known(o->engine, o->et, c, CONTAINER_STATUS_STOPPED);
        } else if (res->error < 0)
                log_warning_errno(res->error, "Failed to inspect container %s of task %s: %s",
                                  c->name, o->et->task->arn, res->message);
        else
                engine_apply_inspect(o->engine, o->et, c, d);
        engine_op_finish(o);
}

void engine_start_inspect(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o;
        int r;

        if (!c->docker_id)
                return;
        o = engine_op_new(e, et, idx, OP_INSPECT);
        if (!o)
                return;
        r = docker_container_inspect(e->docker, c->docker_id, 0, on_inspect, o, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to inspect container %s: %m", c->name);
                et->ops--;
                free(o);
        }
}

/* A create, start or stop is over; what Docker shows now decides the known status. */
static int op_inspect_again(struct op *o, const char *ref)
{
        o->kind = OP_INSPECT;
        o->et->task->containers[o->idx].transition_in_flight = false;
        return docker_container_inspect(o->engine->docker, ref, 0, on_inspect, o, NULL);
}

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
                engine_container_set_known(e, o->et, c, CONTAINER_STATUS_CREATED);
                engine_op_finish(o);
                return;
        }
        if (res->error == -EEXIST) {
                /* Our deterministic name is taken: a create of ours that completed before a
                 * crash. Adopt it instead of making a duplicate. */
                log_info("Task %s container %s: adopting existing container %s", o->et->task->arn,
                         c->name, c->docker_name);
                free(c->docker_id);
                c->docker_id = strdup(c->docker_name);
                if (op_inspect_again(o, c->docker_name) >= 0)
                        return;
        }
        log_warning("Task %s container %s: create failed: %s", o->et->task->arn, c->name,
                    res->message);
        engine_container_set_reason(c, "CannotCreateContainerError", res->message);
        c->desired_status = CONTAINER_STATUS_STOPPED;
        engine_op_finish(o);
}

void engine_start_create(struct engine *e, struct engine_task *et, size_t idx)
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
                if (engine_persist(e, et) < 0) {
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
        if (r >= 0)
                engine_metadata_file_prepare(e, et, c, body);
        if (r < 0) {
                engine_container_set_reason(
                    c, r == -EPERM ? "CannotCreateContainerError" : "HostConfigError",
                    err ? err : strerror(-r));
                c->desired_status = CONTAINER_STATUS_STOPPED;
                engine_mark_dirty(e, et);
                return;
        }
        struct op *o = engine_op_new(e, et, idx, OP_CREATE);
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

static void on_start(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error < 0) {
                log_warning("Task %s container %s: start failed: %s", o->et->task->arn, c->name,
                            res->message);
                engine_container_set_reason(c,
                                            res->error == -ETIMEDOUT ? "DockerTimeoutError"
                                                                     : "CannotStartContainerError",
                                            res->message);
                c->desired_status = CONTAINER_STATUS_STOPPED;
                engine_op_finish(o);
                return;
        }
        /* Inspect for the real bindings and start time; RUNNING is set from what it shows
         * (a container may already have exited again). */
        if (op_inspect_again(o, c->docker_id) < 0) {
                engine_container_set_known(e, o->et, c, CONTAINER_STATUS_RUNNING);
                engine_op_finish(o);
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
                engine_container_set_reason(c, "CannotStartContainerError", res->message);
                c->desired_status = CONTAINER_STATUS_STOPPED;
        }
        if (op_inspect_again(o, c->docker_id) < 0)
                engine_op_finish(o);
}

void engine_start_start(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = engine_op_new(e, et, idx, OP_START);
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
                engine_container_set_reason(c, "CannotStopContainerError", res->message);
        }
        /* Stopped (or gone): inspect for the exit code. */
        if (op_inspect_again(o, c->docker_id) < 0) {
                engine_container_set_known(e, o->et, c, CONTAINER_STATUS_STOPPED);
                engine_op_finish(o);
        }
}

void engine_start_stop(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = engine_op_new(e, et, idx, OP_STOP);
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
