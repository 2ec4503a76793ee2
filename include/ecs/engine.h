/* The task engine: drives every task's containers toward the desired status through
 * Docker, one transition at a time, and tells its owner when something reportable changed.
 * It never sees wire JSON: tasks arrive as typed structs (task.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "ecs/task.h"

struct ecs_loop;
struct ecs_config;
struct docker_client;
struct cgroup_manager;
struct state_store;
struct engine;
struct credstore;
struct aws_credential_provider;

struct engine_callbacks {
        /* A task's or container's known status (or reportable detail: exit code, reason,
         * bindings) changed. Called after the engine has settled for this loop turn. */
        void (*task_changed)(struct engine *e, struct ecs_task *t, void *userdata);
        /* The task was cleaned up and is about to be dropped: forget it. */
        void (*task_removed)(struct engine *e, struct ecs_task *t, void *userdata);
};

struct engine_params {
        struct ecs_loop *loop;
        struct docker_client *docker;
        struct cgroup_manager *cgroups; /* NULL: no task cgroups (feature off or unusable) */
        struct state_store *store;      /* NULL: nothing persisted (ECS_CHECKPOINT=false) */
        const struct ecs_config *config;
        const char *region;
        const char *cluster; /* as configured: container label com.amazonaws.ecs.cluster */
        /* Registered resources tasks are admitted against (§4.11); 0 = unlimited. */
        uint32_t cpu_units;
        uint32_t memory_mib;
        /* What the container metadata file (§7.7) says of the instance; NULL when unknown. */
        const char *container_instance_arn;
        const char *availability_zone;
        const char *host_private_ipv4;
        const char *host_public_ipv4;
        /* Execution-role credentials for registry pulls, and the instance's for ECR
         * without the execution role; either may be NULL. */
        struct credstore *credstore;
        struct aws_credential_provider *instance_creds;
        struct engine_callbacks callbacks;
        void *userdata;
};

int engine_new(const struct engine_params *p, struct engine **ret);
struct engine *engine_free(struct engine *e);

/* Loads the saved tasks and checks them against Docker (§4.14): containers created but not
 * recorded are adopted, ones that died or vanished while the agent was down are stopped with
 * their exit code or ContainerVanishedError, and containers of this cluster whose task was
 * not saved get a task rebuilt from their labels. Unsent statuses are reported again. done
 * runs once everything is settled. */
int engine_restore(struct engine *e, void (*done)(struct engine *e, size_t n_tasks, void *ud),
                   void *userdata);

/* Adds a task, or raises the desired status of a known one (desired status never moves
 * backwards; anything else in a repeated payload is ignored). Takes a reference. */
int engine_add_task(struct engine *e, struct ecs_task *t);
struct ecs_task *engine_get_task(struct engine *e, const char *arn);
/* The task's cgroup ("/ecs/<task id>", as Docker's CgroupParent), NULL before it exists or
 * when task cgroups are off. */
const char *engine_task_cgroup(struct engine *e, const char *arn);
/* Calls fn for every task; fn must not add or remove tasks. */
void engine_foreach_task(struct engine *e, void (*fn)(struct ecs_task *t, void *ud), void *ud);
size_t engine_task_count(struct engine *e);

/* Container metrics (§3.3), sampled from the cgroups every second unless
 * ECS_DISABLE_METRICS. Calls fn for every sampled container that has enough samples for its
 * sets (metrics_window_compute()), task by task; a negative return stops the walk and is
 * returned. *ret_tracked: containers being sampled, with or without new samples. */
struct metrics_window;
typedef int (*engine_metrics_fn)(const struct ecs_task *t, const struct ecs_container *c,
                                 const struct metrics_window *w, void *userdata);
int engine_metrics_foreach(struct engine *e, engine_metrics_fn fn, void *userdata,
                           size_t *ret_tracked);
/* The samples collected so far were published (or the publish failed: they are not sent
 * twice, as the official agent does). */
void engine_metrics_mark_sent(struct engine *e);
/* The stats endpoints' view of a container (§7.5): its last two full samples (prev NULL
 * before the second), and the receive and send rates between them (has_rate false before).
 * -ENOENT when the container is not sampled: not running, or metrics are off. 0 with cur
 * NULL: running, not sampled yet. The pointers live until the next turn of the loop. */
struct metrics_raw;
struct engine_container_stats {
        const struct metrics_raw *cur, *prev;
        bool has_rate;
        double rx_bytes_per_sec, tx_bytes_per_sec;
};
int engine_container_stats(struct engine *e, const struct ecs_task *t,
                           const struct ecs_container *c, struct engine_container_stats *ret);
/* Stops a task (desired STOPPED), as StopTask / a manifest does. -ENOENT if unknown. */
int engine_stop_task(struct engine *e, const char *arn);
/* The reporter calls this after ECS accepted a change (sent_status updated), so that
 * cleanup may proceed once STOPPED is acknowledged. */
void engine_task_sent(struct engine *e, struct ecs_task *t);

/* Pure helpers, exposed for tests. */

/* The Docker create body for container c of task t (§4.15, §5.2, §5.4, §2.6.4): our own
 * settings, the task definition's dockerConfig merged on top, then ECS labels. host_ports
 * has one entry per c->ports element (the chosen host port). */
struct create_config_input {
        const struct ecs_task *task;
        const struct ecs_container *container;
        const uint16_t *host_ports;
        const char *region;
        const char *cluster;
        const char *cgroup_parent;     /* task cgroup for HostConfig.CgroupParent, or NULL */
        const char *network_container; /* awsvpc: the pause container's Docker ID */
        /* Docker names of the task's other containers, for links and volumesFrom. */
        const char *(*docker_name_of)(const struct ecs_task *t, const char *container_name);
};
int engine_build_create_config(const struct create_config_input *in, json_object **ret,
                               char **ret_error);
/* "ecs-<family>-<version>-<name, [^A-Za-z0-9-] removed>-<20 hex>" */
int engine_container_docker_name(const struct ecs_task *t, const struct ecs_container *c,
                                 char **ret);
/* The container metadata file (§7.7). The task part of its path is the ARN resource after
 * "task/" ("<cluster>/<id>" or "<id>"); -EINVAL when the ARN or a name could escape the
 * metadata directory. */
int engine_metadata_task_path(const char *task_arn, char **ret);
/* "<base>/metadata/<task path>/<container>" */
int engine_metadata_dir(const char *base, const char *task_arn, const char *container, char **ret);
struct metadata_file_info {
        const char *cluster, *container_instance_arn, *availability_zone;
        const char *host_private_ipv4, *host_public_ipv4;
};
struct docker_container;
/* The file's JSON: INITIAL without d (before create), READY from Docker's inspect d. */
char *engine_metadata_file_render(const struct metadata_file_info *info, const struct ecs_task *t,
                                  const struct ecs_container *c, const struct docker_container *d);
/* Task known status from its containers (§4.3). */
enum task_status engine_task_status_from_containers(const struct ecs_task *t);
/* Recursively merges src into dst as Go's json.Unmarshal onto a filled struct does: objects
 * merge key by key, everything else replaces. */
int json_merge_onto(json_object *dst, json_object *src);
