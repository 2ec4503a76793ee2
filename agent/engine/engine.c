/* The task engine: one state machine step per task, driven by Docker call completions and
 * Docker events. Each container moves one status at a time toward its desired status; the
 * task's known status follows from its containers (§4.3, §4.4). This file holds the task
 * table, the step, settling and notification, and the Docker event stream; admission.c,
 * ops.c, pull.c, resources.c, cleanup.c and restore.c do the rest. */
#include <stdarg.h>

#include "ecs/config.h"
#include "ecs/depgraph.h"
#include "ecs/docker.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/asm.h"
#include "ecs/pullauth.h"
#include "ecs/state.h"
#include "ecs/strbuf.h"
#include "ecs/task_json.h"
#include "ecs/tasknet.h"
#include "engine-internal.h"

/* How long an awsvpc task waits for its ENI to show up on the host. */
#define ENI_WAIT_USEC (3 * USEC_PER_MINUTE)

static void schedule_settle(struct engine *e);
static void step_waiting(struct engine *e);

struct engine_task *engine_find_task(struct engine *e, const char *arn)
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

void engine_mark_dirty(struct engine *e, struct engine_task *et)
{
        et->dirty = true;
        et->persist_dirty = true;
        schedule_settle(e);
}

int engine_task_file_name(const struct ecs_task *t, char *buf, size_t size)
{
        if (snprintf(buf, size, "tasks/%s.json", t->id) >= (int)size)
                return -ENAMETOOLONG;
        return 0;
}

/* Writes the task to the store (crash-safe); what is reported and acknowledged is always
 * what was written first. */
int engine_persist(struct engine *e, struct engine_task *et)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *text = NULL;
        char name[300];
        int r;

        if (!e->store)
                return 0;
        r = task_to_json(et->task, &o);
        if (r >= 0)
                r = engine_task_file_name(et->task, name, sizeof(name));
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
void engine_container_set_reason(struct ecs_container *c, const char *name, const char *msg)
{
        if (c->reason)
                return;
        if (asprintf(&c->reason, "%s: %s", name, strempty(msg)) < 0)
                c->reason = NULL;
}

void engine_task_set_desired_stopped(struct engine_task *et, const char *why)
{
        struct ecs_task *t = et->task;
        if (t->desired_status >= TASK_STATUS_STOPPED)
                return;
        log_info("Task %s: desired status STOPPED (%s)", t->arn, why);
        t->desired_status = TASK_STATUS_STOPPED;
}

void engine_container_set_known(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                enum container_status s)
{
        if (s <= c->known_status)
                return; /* known status only moves forward */
        log_debug("Task %s container %s: %s -> %s", et->task->arn, c->name,
                  container_status_to_string(c->known_status), container_status_to_string(s));
        c->known_status = s;
        if (s == CONTAINER_STATUS_STOPPED && !c->finished_at)
                c->finished_at = realtime_usec();
        engine_mark_dirty(e, et);
}

void engine_task_fail(struct engine_task *et, const char *name, const char *fmt, ...)
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
        engine_task_set_desired_stopped(et, name);
}

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
                        engine_container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
                engine_mark_dirty(e, et);
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
                        engine_container_set_known(e, et, c, CONTAINER_STATUS_STOPPED);
                        return;
                }
                /* Containers that depend on this one stop first (§4.8). */
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_STOPPED))
                        engine_start_stop(e, et, idx);
                return;
        }

        switch (c->known_status) {
        case CONTAINER_STATUS_NONE:
        case CONTAINER_STATUS_MANIFEST_PULLED:
                engine_start_pull(e, et, idx);
                break;
        case CONTAINER_STATUS_PULLED:
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_CREATED))
                        engine_start_create(e, et, idx);
                break;
        case CONTAINER_STATUS_CREATED:
                if (dependencies_allow(e, et, idx, CONTAINER_STATUS_RUNNING))
                        engine_start_start(e, et, idx);
                break;
        default:
                break;
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
                engine_release(e, et);
                engine_teardown_network(e, et);
                if (t->desired_status < TASK_STATUS_STOPPED)
                        t->desired_status = TASK_STATUS_STOPPED;
        }
        engine_mark_dirty(e, et);
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

void engine_step(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        int r;

        if (t->known_status >= TASK_STATUS_STOPPED || et->reconciling)
                return;

        /* An essential container that stopped stops the task (§4.6). */
        if (t->desired_status < TASK_STATUS_STOPPED && depgraph_task_should_stop(t)) {
                if (!t->execution_stopped_at)
                        t->execution_stopped_at = realtime_usec();
                engine_task_set_desired_stopped(et, "an essential container stopped");
        }

        if (t->desired_status < TASK_STATUS_STOPPED && !et->admitted) {
                r = engine_admit(e, et);
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
                r = engine_create_task_cgroup(e, et);
                if (r < 0) {
                        engine_task_fail(et, "ResourceInitializationError", "%s", strerror(-r));
                        engine_mark_dirty(e, et);
                }
        }

        if (t->desired_status < TASK_STATUS_STOPPED && !et->volumes_ready) {
                engine_prepare_volumes(e, et);
                if (!et->volumes_ready) {
                        update_task_known(e, et);
                        return; /* engine_step runs again when the volumes are there */
                }
        }
        if (t->network_mode == NETWORK_MODE_AWSVPC && t->desired_status < TASK_STATUS_STOPPED &&
            !et->network_ready) {
                engine_prepare_network(e, et);
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
                        (void)engine_persist(e, et);
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
                engine_start_inspect(e, et, idx);
                break;
        case DOCKER_EVENT_HEALTH_STATUS:
                /* A HEALTHY dependency may be met now. */
                if (engine_container_set_health(e, et, c, de->health))
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
                                engine_start_inspect(e, et, j);
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
        if ((p->container_instance_arn && !(e->instance_arn = strdup(p->container_instance_arn))) ||
            (p->availability_zone && !(e->availability_zone = strdup(p->availability_zone))) ||
            (p->host_private_ipv4 && !(e->host_private_ipv4 = strdup(p->host_private_ipv4))) ||
            (p->host_public_ipv4 && !(e->host_public_ipv4 = strdup(p->host_public_ipv4))) ||
            !e->region || !e->cluster) {
                engine_free(e);
                return -ENOMEM;
        }
        e->credstore = p->credstore;
        if (pullauth_ecr_new(p->loop, p->instance_creds, &e->ecr) < 0) {
                engine_free(e);
                return -ENOMEM;
        }
        if (asm_client_new(p->loop, p->instance_creds, e->region,
                           p->config->aws_endpoint_url_secrets_manager
                               ?: p->config->aws_endpoint_url,
                           &e->asm_client) < 0) {
                engine_free(e);
                return -ENOMEM;
        }
        /* A malformed ECS_ENGINE_AUTH_DATA costs its entries (with a warning), not the agent. */
        if (pullauth_static_parse(p->config->engine_auth_type, p->config->engine_auth_data,
                                  &e->static_auth) == -ENOMEM) {
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
        if (r >= 0)
                r = engine_images_init(e);
        if (r >= 0)
                r = engine_stats_init(e);
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

void engine_task_free(struct engine_task *et)
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
        engine_stats_task_free(et);
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
        free(e->instance_arn);
        free(e->availability_zone);
        free(e->host_private_ipv4);
        free(e->host_public_ipv4);
        engine_images_free(e);
        engine_stats_free(e);
        pullauth_ecr_free(e->ecr);
        asm_client_free(e->asm_client);
        pullauth_static_free(e->static_auth);
        free(e);
        return NULL;
}

int engine_add_task(struct engine *e, struct ecs_task *t)
{
        struct engine_task *et = engine_find_task(e, t->arn);
        _cleanup_free_ char *dep_error = NULL;
        int r;

        if (et) {
                enum task_status want = t->desired_status;
                if (et->rebuilt)
                        engine_adopt_definition(et, t);
                /* Known task: only the desired status may move, and only forward. */
                if (want > et->task->desired_status) {
                        log_info("Task %s: desired status %s -> %s", t->arn,
                                 task_status_to_string(et->task->desired_status),
                                 task_status_to_string(want));
                        et->task->desired_status = want;
                        r = engine_persist(e, et);
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
                engine_task_fail(et, "TaskDependencyError", "%s", strna(dep_error));
        }
        /* Written before the payload is acknowledged: an ack means "persisted". */
        r = engine_persist(e, et);
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
        struct engine_task *et = engine_find_task(e, arn);
        return et ? et->task : NULL;
}

const char *engine_task_cgroup(struct engine *e, const char *arn)
{
        struct engine_task *et = engine_find_task(e, arn);
        return et ? et->cgroup_parent : NULL;
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
        struct engine_task *et = engine_find_task(e, arn);
        if (!et)
                return -ENOENT;
        engine_task_set_desired_stopped(et, "stop requested");
        engine_step(e, et);
        return 0;
}
