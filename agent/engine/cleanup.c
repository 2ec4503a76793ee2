/* Cleanup (§4.12): once ECS has accepted a task's STOPPED and the cleanup wait
 * (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION) has passed, its containers, volumes, cgroup and
 * saved state are removed. */
#include <malloc.h>

#include "ecs/backoff.h"
#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/state.h"
#include "ecs/tasknet.h"
#include "engine-internal.h"

static void on_volume_removed(const struct docker_result *res, void *ud)
{
        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Failed to remove a task volume: %s", res->message);
}

void engine_remove_task(struct engine *e, struct engine_task *et)
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
        engine_metadata_file_remove(e, et->task);
        if (e->store) {
                char name[300];
                int r = engine_task_file_name(et->task, name, sizeof(name));
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
        engine_op_finish(o);
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
            tasknet_release(e->net, t, engine_on_network_done, et) >= 0) {
                et->network_busy = true;
                et->ops++;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *c = &t->containers[i];
                if (!c->docker_id)
                        continue;
                struct op *o = engine_op_new(e, et, i, OP_REMOVE);
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
        struct engine_task *et = engine_find_task(e, t->arn);

        if (et)
                (void)engine_persist(e, et); /* sent statuses changed */
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
