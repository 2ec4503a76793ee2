/* Durable form of the task model (§9.3): every definition and runtime field of a task and its
 * containers, as JSON the state store writes and reads back after a restart.
 *
 * Document: {"version": 1, "task": {...}}. The version is that of this format, so a later
 * agent can migrate an older file; an unknown version is refused. Statuses are their internal
 * names ("PULLED", "RESOURCES_PROVISIONED", ...), times are realtime microseconds as integers,
 * NULL strings and string lists are absent keys (an empty list stays an empty list).
 *
 * Not persisted, on purpose: transition_in_flight (no Docker call survives the process, so a
 * loaded container never has one in flight) and the reference count (a loaded task has one).
 * Credentials are not in the model; only their IDs are kept (ACS re-sends the credentials).
 *
 * Reading is strict: wrong types, unknown enum values, out-of-range numbers, strings longer
 * than TASK_JSON_MAX_STRING_LEN or with embedded NULs, lists longer than TASK_JSON_MAX_ITEMS
 * give an error and no task. The limits are the ACS decoder's, so whatever ACS can deliver can
 * be stored; task_to_json refuses (-E2BIG) what task_from_json would refuse. */
#pragma once

#include <json-c/json.h>

#include "ecs/task.h"

#define TASK_JSON_VERSION        1
#define TASK_JSON_MAX_STRING_LEN (64U * 1024U)
#define TASK_JSON_MAX_ITEMS      4096U

/* -EINVAL for a status or enum value without a name, -E2BIG over a limit, -ERANGE for a
 * time beyond INT64_MAX or a non-finite cpu, -ENOMEM. */
int task_to_json(const struct ecs_task *t, json_object **ret);

/* -EBADMSG for a malformed document (with *ret_error, when given, saying where and why),
 * -EPROTONOSUPPORT for another format version, -ENOMEM. The task has one reference. */
int task_from_json(json_object *o, struct ecs_task **ret, char **ret_error);
