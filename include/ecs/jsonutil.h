/* Helpers for reading json-c trees with types checked, used at every parsing edge. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecs/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Maximum nesting accepted from any peer. */
#define ECS_JSON_MAX_DEPTH 32

/* Parses exactly one JSON document of len bytes (trailing blanks allowed); -EBADMSG on
 * syntax errors or nesting beyond ECS_JSON_MAX_DEPTH. */
int json_parse(const char *data, size_t len, json_object **ret);

/* Member accessors. They return NULL / the default when the key is missing or JSON null,
 * and set *ok = false (when ok is given) when it is present with another type. */
json_object *json_get(json_object *obj, const char *key);
const char *json_get_string(json_object *obj, const char *key, bool *ok);
bool json_get_bool(json_object *obj, const char *key, bool def, bool *ok);
int64_t json_get_int(json_object *obj, const char *key, int64_t def, bool *ok);
double json_get_double(json_object *obj, const char *key, double def, bool *ok);
json_object *json_get_array(json_object *obj, const char *key, bool *ok);
json_object *json_get_object(json_object *obj, const char *key, bool *ok);

/* Builders that take ownership of val and ignore NULL values (no member added). */
int json_add(json_object *obj, const char *key, json_object *val);
int json_add_string(json_object *obj, const char *key, const char *s);
/* Appends val to an array, taking ownership; NULL val (a failed constructor) is -ENOMEM. */
int json_append(json_object *array, json_object *val);
int json_add_int(json_object *obj, const char *key, int64_t v);
int json_add_bool(json_object *obj, const char *key, bool v);
/* Epoch seconds with millisecond fraction, as the AWS JSON protocols use. */
json_object *json_new_epoch(uint64_t realtime_usec);
int json_add_epoch(json_object *obj, const char *key, uint64_t realtime_usec);

/* Compact serialisation; the returned string is owned by the caller. */
char *json_dump(json_object *obj);
