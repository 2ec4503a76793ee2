/* awsvpc task networks (§6.3): the pause container that holds a task's network namespace,
 * the task ENI moved into it (found by MAC, waiting for one that is late), the veth to the
 * ecs-bridge for 169.254.170.2, and the way back at stop. Every step is asynchronous and
 * idempotent, so an agent restarted half-way completes what is missing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ecs_loop;
struct docker_client;
struct ecs_task;
struct tasknet;
struct json_object;

#define TASKNET_PAUSE_IMAGE          "amazon/amazon-ecs-pause:0.1.0"
#define TASKNET_PAUSE_CONTAINER_NAME "~internal~ecs~pause"

struct tasknet_params {
        struct ecs_loop *loop;
        struct docker_client *docker;
        const char *datadir;       /* the bridge IPAM file lives here */
        const char *cluster;       /* container label */
        bool block_imds;           /* ECS_AWSVPC_BLOCK_IMDS */
        char *const *extra_routes; /* ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES */
        uint64_t eni_wait_usec;    /* how long a missing ENI is waited for */
};

/* error 0: done; else a negative errno and a reason for the task. */
typedef void (*tasknet_done_fn)(struct ecs_task *t, int error, const char *reason, void *ud);

int tasknet_new(const struct tasknet_params *p, struct tasknet **ret);
struct tasknet *tasknet_free(struct tasknet *n);

/* Pause container created (t->pause_docker_name is chosen before this returns, so the caller
 * can persist it first) and running, ENI and veth in its namespace; sets t->pause_docker_id
 * and t->local_ip. */
int tasknet_setup(struct tasknet *n, struct ecs_task *t, const char *cgroup_parent,
                  tasknet_done_fn cb, void *ud);
/* ENI back to the host, veth gone, pause container stopped. */
int tasknet_teardown(struct tasknet *n, struct ecs_task *t, tasknet_done_fn cb, void *ud);
/* Pause container removed and the bridge address released (task cleanup). */
int tasknet_release(struct tasknet *n, struct ecs_task *t, tasknet_done_fn cb, void *ud);
/* Drops the task's operation in flight, if any, without its callback. */
void tasknet_cancel(struct tasknet *n, struct ecs_task *t);
/* The pause container's create body (exposed for tests). */
int tasknet_pause_config(const struct ecs_task *t, const char *cluster, const char *cgroup_parent,
                         struct json_object **ret);
