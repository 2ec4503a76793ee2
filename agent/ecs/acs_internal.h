/* Private to the ACS codec (acs_*.c): typed, bounded member readers that record why a
 * document was refused. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecs/acs_codec.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"

/* The decoding context: the first failure's reason, prefixed with where it happened. */
struct acs_dec {
        char where[96]; /* e.g. "container 'web'"; "" at top level */
        char reason[256];
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct ecs_task *, ecs_task_unref)

/* Records "<where>: <why>" unless a reason is already recorded; returns r. */
int acs_fail(struct acs_dec *d, int r, const char *fmt, ...) _printf_(3, 4);
/* Puts "<prefix>: " in front of the recorded reason (truncating its end). */
void acs_prepend(struct acs_dec *d, const char *prefix);
/* Sets the location prefix used by later failures. */
void acs_where(struct acs_dec *d, const char *fmt, ...) _printf_(2, 3);
/* A peer-supplied string made safe for a reason text: printable ASCII, at most ~40 bytes. */
const char *acs_quote(const char *s, char buf[static 48]);

/* String member. Absent or null: *ret = NULL, or -EINVAL when required. Present: must be a
 * string of at most ACS_MAX_STRING_LEN bytes without NUL; required strings must be
 * non-empty. */
int acs_get_string(struct acs_dec *d, json_object *o, const char *key, bool required, char **ret);
/* Like acs_get_string, but absent/null gives "" rather than NULL. */
int acs_get_string_or_empty(struct acs_dec *d, json_object *o, const char *key, char **ret);
/* Array of strings (null elements refused); absent, null or empty: *ret = NULL. */
int acs_get_strv(struct acs_dec *d, json_object *o, const char *key, char ***ret);
/* {string: string} map as "k=v" in wire order; null values count as "". Keys must be
 * non-empty and contain no '='. Absent, null or empty: *ret = NULL. */
int acs_get_kv_map(struct acs_dec *d, json_object *o, const char *key, char ***ret);
/* Integers. Absent/null: *ret untouched. Present: an integer (or integral double) within
 * [min, max]. */
int acs_get_int(struct acs_dec *d, json_object *o, const char *key, int64_t min, int64_t max,
                int64_t *ret);
int acs_get_u32(struct acs_dec *d, json_object *o, const char *key, uint32_t max, uint32_t *ret);
/* Absent/null: *ret untouched. */
int acs_get_bool(struct acs_dec *d, json_object *o, const char *key, bool *ret);
/* Array / object members: absent or null gives NULL, another type -EINVAL. Arrays longer
 * than max are refused with -E2BIG. */
int acs_get_array(struct acs_dec *d, json_object *o, const char *key, size_t max,
                  json_object **ret);
int acs_get_object(struct acs_dec *d, json_object *o, const char *key, json_object **ret);

/* roleCredentials-shaped object; credentialsId required. */
int acs_decode_credentials(struct acs_dec *d, json_object *o, struct acs_credentials *ret);
/* Array of ElasticNetworkInterface under key; absent gives none. */
int acs_decode_enis(struct acs_dec *d, json_object *o, const char *key, struct acs_eni **ret,
                    size_t *ret_n);
void acs_enis_free(struct acs_eni *e, size_t n);

int acs_decode_payload(struct acs_dec *d, json_object *msg, struct acs_payload_message *ret);
void acs_payload_message_done(struct acs_payload_message *p);
