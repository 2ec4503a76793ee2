/* Container dependency graph of one task (§4.7, §4.8): pure decisions over the model, no I/O.
 *
 * Edges of a container ("the dependent") towards the containers it needs:
 *   - dependsOn entries, with their condition;
 *   - links "name[:alias]"   -> {name, START}   (implied, §4.7);
 *   - volumesFrom source      -> {source, CREATE} (implied, §4.7).
 * The engine asks before every transition whether it may happen now. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecs/task.h"

enum depgraph_verdict {
        DEPGRAPH_OK,   /* the transition may start now */
        DEPGRAPH_WAIT, /* not yet: ask again when another container changes (or at the deadline) */
        DEPGRAPH_FAIL, /* never: mark the container STOPPED (exit code 143) with the reason */
};

/* Checks names and cycles once, when the task is added. Unknown names (dependsOn, links,
 * volumesFrom), duplicate container names and cycles over all edges give -EINVAL and, when
 * ret_error is given, a message such as "circular dependency between containers: a -> b -> a"
 * (the caller reports it as "TaskDependencyError: <message>"). -ENOMEM when out of memory. */
int depgraph_validate(const struct ecs_task *t, char **ret_error);

/* May container container_idx move to target now?
 *   - targets up to PULLED: always OK (dependencies are ignored until the dependent pulled);
 *   - CREATED, RUNNING, RESOURCES_PROVISIONED: every dependency condition must hold, while
 *     the dependent's desired status is CREATED or its steady state; FAIL per §4.7's
 *     terminal rules (missing dependency, SUCCESS with a non-zero exit, dependency that has
 *     not and will not start, dependency stopped so the condition can never hold, start
 *     timeout of a COMPLETE/SUCCESS/HEALTHY dependency reached at now_usec);
 *   - STOPPED: WAIT while a container that depends on this one (any edge) is created and not
 *     yet STOPPED, or has a transition in flight (§4.8 shutdown order).
 * For WAIT and FAIL, *ret_reason (when given, and when memory allows; NULL otherwise) gets an
 * allocated text; for FAIL it is the full reason, "CannotStartContainerError: dependency
 * graph: ...". now_usec is realtime microseconds, like started_at. */
enum depgraph_verdict depgraph_can_transition(const struct ecs_task *t, size_t container_idx,
                                              enum container_status target, uint64_t now_usec,
                                              char **ret_reason);

/* The earliest realtime usec at which some container's WAIT turns into FAIL by a dependency
 * start timeout (at that instant depgraph_can_transition returns FAIL), or 0 when no wait can
 * time out. May be <= now when a deadline has already passed. */
uint64_t depgraph_next_deadline(const struct ecs_task *t);

/* An essential container is known or desired STOPPED: the whole task must stop (§4.6). */
bool depgraph_task_should_stop(const struct ecs_task *t);
