/* Task state reporting (§1.8, §1.12): every reportable change of a task or its containers
 * becomes a SubmitTaskStateChange, queued per task and sent strictly in order, retried until
 * ECS accepts it (InvalidParameterException drops it). Sent statuses are recorded on the
 * task only after ECS accepted them, so a crash can only cause a re-send, never a loss. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct ecs_loop;
struct ecs_task;
struct awsjson_client;
struct engine;
struct reporter;

struct reporter_params {
        struct ecs_loop *loop;
        struct awsjson_client *ecs;
        struct engine *engine;
        const char *cluster;
        bool exclude_ipv6_bindings;
        /* Called after a task's sent statuses changed (to persist them). */
        void (*sent_changed)(struct ecs_task *t, void *userdata);
        void *userdata;
};

int reporter_new(const struct reporter_params *p, struct reporter **ret);
struct reporter *reporter_free(struct reporter *r);
/* Looks at what the task knows and what has been queued, and queues what is new. */
void reporter_task_changed(struct reporter *r, struct ecs_task *t);
/* Reports a task the agent could not load as STOPPED with the given reason (§1.8 c). */
int reporter_report_invalid(struct reporter *r, const char *task_arn, const char *reason);
/* The task is gone from the engine: drop its queue. */
void reporter_forget(struct reporter *r, const char *task_arn);
/* Number of events waiting (all tasks). */
size_t reporter_pending(const struct reporter *r);
