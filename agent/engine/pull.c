/* Image pulls, by ECS_IMAGE_PULL_BEHAVIOR (§4.9): when to pull, when a cached image will do,
 * and when a failed pull fails the task. */
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "engine-internal.h"

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
        engine_container_set_known(o->engine, o->et, &t->containers[o->idx],
                                   CONTAINER_STATUS_PULLED);
        engine_op_finish(o);
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
        engine_container_set_reason(c, "CannotPullContainerError", res->message);
        if (pull_failure_stops_task(e)) {
                engine_task_set_desired_stopped(o->et, "image pull failed");
                o->et->task->pull_stopped_at = realtime_usec();
                engine_op_finish(o);
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
                engine_container_set_known(o->engine, o->et, c, CONTAINER_STATUS_PULLED);
                engine_op_finish(o);
                return;
        }
        do_pull(o);
}

void engine_start_pull(struct engine *e, struct engine_task *et, size_t idx)
{
        struct ecs_container *c = &et->task->containers[idx];
        struct op *o = engine_op_new(e, et, idx, OP_PULL);
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
