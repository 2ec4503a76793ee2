/* The TCS session (§3): the telemetry WebSocket. It publishes the Docker health status of
 * health-checked containers (PublishHealthRequest) every 20 s and soon after one changes,
 * and the container runtime's state (PublishInstanceStatusRequest, from a Docker ping) every
 * 20 s, and the engine's container metrics (PublishMetricsRequest) every 20 s. Every frame
 * is signed on its own (§3.2). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/wsession.h"

struct ecs_loop;
struct aws_credential_provider;
struct aws_credentials;
struct awsjson_client;
struct docker_client;
struct engine;
struct ecs_task;
struct tcs_session;

struct tcs_session_params {
        struct wsession_peer peer;
        struct engine *engine;
        struct docker_client *docker; /* pinged for the ContainerRuntime status */
        bool metrics_disabled;        /* ECS_DISABLE_METRICS: no PublishMetricsRequest */
};

int tcs_session_new(const struct tcs_session_params *p, struct tcs_session **ret);
struct tcs_session *tcs_session_free(struct tcs_session *s);
int tcs_session_start(struct tcs_session *s);
/* A task changed: publishes health within a second when a container's health moved. */
void tcs_session_task_changed(struct tcs_session *s, struct ecs_task *t);

/* Pure helpers, exported for the unit tests. */

/* Tasks whose health is published: not yet stopped, with a Docker-health-checked
 * container. */
bool tcs_task_has_health(const struct ecs_task *t);
/* One PublishHealthRequest envelope for tasks[0..n) (at most TCS_TASKS_PER_REQUEST). */
#define TCS_TASKS_PER_REQUEST 10
int tcs_encode_health(const char *cluster, const char *instance_arn, const char *message_id,
                      struct ecs_task *const *tasks, size_t n, bool fin, uint64_t now_realtime,
                      char **ret);
/* One containerMetrics entry: {"containerName", "cpuStatsSet", "memoryStatsSet",
 * "storageStatsSet", "networkStatsSet"?}, ULong sets with overflowMin/Max/Sum. */
struct metrics_window;
int tcs_encode_container_metrics(const char *container_name, const struct metrics_window *w,
                                 json_object **ret);
/* One PublishMetricsRequest with task_metrics[first..first+n) (none when idle). */
int tcs_encode_metrics(const char *cluster, const char *instance_arn, const char *message_id,
                       json_object *task_metrics, size_t first, size_t n, bool idle, bool fin,
                       uint64_t now_realtime, char **ret);
/* How many tasks from first go in one request: at most TCS_TASKS_PER_REQUEST, and no more
 * than limit_bytes of task JSON (but at least one). */
#define TCS_METRICS_MAX_BYTES (1024 * 1024 - 4096) /* 1 MiB less room for the rest */
size_t tcs_metrics_batch(json_object *task_metrics, size_t first, size_t limit_bytes);
/* One PublishInstanceStatusRequest for the ContainerRuntime check. */
int tcs_encode_instance_status(const char *cluster, const char *instance_arn,
                               const char *request_id, const char *status, uint64_t last_updated,
                               uint64_t last_change, uint64_t now_realtime, char **ret);
/* The frame for payload: SigV4 headers for GET url (ws(s) mapped to http(s)) with payload as
 * the body, sorted by name, a blank line, then payload (§3.2). */
int tcs_sign_frame(const char *url, const char *region, const struct aws_credentials *c,
                   uint64_t now_realtime, const char *payload, char **ret);
