/* Restore after a restart (§4.14): saved tasks are loaded, containers Docker has for this
 * cluster but the saved state does not know are rebuilt from their labels, and every live
 * container is inspected before anything is reported or stepped. */
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/state.h"
#include "ecs/task_json.h"
#include "ecs/tasknet.h"
#include "engine-internal.h"

/* A task rebuilt from Docker labels has containers but no definition; when ACS sends the
 * task again, the definition is taken from there and what Docker showed is kept. */
void engine_adopt_definition(struct engine_task *et, struct ecs_task *t)
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
                n->network_name = TAKE_PTR(o->network_name);
                n->ipv4_address = TAKE_PTR(o->ipv4_address);
                n->ipv6_address = TAKE_PTR(o->ipv6_address);
                n->docker_labels = TAKE_PTR(o->docker_labels);
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
        /* The metrics samples follow the container order of the task they were made for. */
        engine_stats_task_free(et);
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
                if (engine_find_task(e, t->arn) || !engine_task_attach(e, t)) {
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
                        (void)engine_admit(e, et);
                engine_mark_dirty(e, et); /* re-report whatever was not yet accepted */
                engine_step(e, et);
                if (et->task->known_status == TASK_STATUS_STOPPED)
                        engine_task_sent(e, et->task); /* cleanup timers */
        }
        engine_images_restored(e);
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
                engine_apply_inspect(e, ri->et, c, d);
        } else if (res->error == -ENOENT && !ri->by_name) {
                engine_container_set_reason(c, "ContainerVanishedError",
                                            "No container matching saved ID found");
                engine_container_set_known(e, ri->et, c, CONTAINER_STATUS_STOPPED);
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

/* A task known only from its containers' labels, added to the table as rebuilt. */
static struct engine_task *rebuild_task(struct engine *e, const char *arn,
                                        const struct docker_container_summary *d)
{
        struct ecs_task *t = ecs_task_new();
        struct engine_task *et;

        if (!t || ecs_task_id_from_arn(arn, &t->id) < 0) {
                ecs_task_unref(t);
                return NULL;
        }
        t->arn = strdup(arn);
        t->family = strdup(strempty(
            docker_kv_get(d->labels, d->n_labels, "com.amazonaws.ecs.task-definition-family")));
        t->version = strdup(strempty(
            docker_kv_get(d->labels, d->n_labels, "com.amazonaws.ecs.task-definition-version")));
        t->desired_status = TASK_STATUS_RUNNING;
        et = engine_task_attach(e, t);
        if (!et) {
                ecs_task_unref(t);
                return NULL;
        }
        et->rebuilt = true;
        log_error("Task %s was not in the saved state; rebuilt from the labels of its containers",
                  arn);
        return et;
}

/* One container of a rebuilt task, as Docker lists it. */
static void rebuild_container(struct engine_task *et, const char *name,
                              const struct docker_container_summary *d)
{
        struct ecs_task *t = et->task;

        if (streq(name, TASKNET_PAUSE_CONTAINER_NAME)) {
                /* awsvpc: adopted as the task's namespace holder, not reported. */
                t->network_mode = NETWORK_MODE_AWSVPC;
                free(t->pause_docker_id);
                free(t->pause_docker_name);
                t->pause_docker_id = strdup(d->id);
                t->pause_docker_name = strdup(strempty(d->name));
                et->network_ready = true;
                return;
        }
        struct ecs_container *l =
            realloc(t->containers, (t->n_containers + 1) * sizeof(*t->containers));
        if (!l)
                return;
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
                struct engine_task *et = engine_find_task(e, arn);
                /* A known task's container created but not recorded is found by its saved
                 * name during the inspections. */
                if (et && !et->rebuilt)
                        continue;
                if (!et && !(et = rebuild_task(e, arn, d)))
                        continue;
                rebuild_container(et, name, d);
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
                engine_mark_dirty(e, e->tasks[i]);
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
