/* Shared by the files of agent/config; not part of the public surface.
 *
 *   settings.c  the table: every setting, its kind, field, default and limits
 *   checks.c    validators the table names for string, list and map values
 *   values.c    one parser and one printer per kind, and the error message
 *   custom.c    the few settings with a syntax of their own
 *   config.c    lookup (environment over file over default), cross-setting rules, load,
 *               free and dump, each a walk over the table
 *   parse.c     Go and ecs-init value and file syntax */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ecs/config.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"

/* ecs.config is a handful of lines; anything this big is not one. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* os-release and ip_local_port_range are tiny. */
#define CONFIG_SMALL_FILE_MAX (64 * 1024)

#define USEC_MS   1000ULL
#define USEC_S    1000000ULL
#define USEC_MIN  (60ULL * USEC_S)
#define USEC_HOUR (60ULL * USEC_MIN)

#define CONFIG_REDACTED "<redacted>"

/* ---- the setting table ------------------------------------------------------------- */

struct config_ctx {
        struct ecs_config *c;
        struct ecs_config_error *err;
        const struct ecs_config_input *in;
        const char *source; /* where the value being parsed came from */
        const char *key;    /* the name it was found under (a setting may have an alias) */
        bool creds_from_env;
};

struct config_setting;
/* value NULL: unset, store the default. */
typedef int (*config_parse_fn)(struct config_ctx *x, const struct config_setting *s,
                               const char *value);
typedef void (*config_dump_fn)(const struct ecs_config *c, FILE *f);
/* Return false and write a reason into why when the value is not acceptable. */
typedef bool (*config_check_fn)(const char *v, char *why, size_t size);
typedef bool (*config_kv_check_fn)(const char *k, const char *v, char *why, size_t size);

/* A setting whose syntax is its own (custom.c). */
struct config_custom {
        config_parse_fn parse;
        config_dump_fn dump;
};

enum config_kind {
        KIND_STRING,   /* char *, trimmed like the official `trim` fields */
        KIND_PATH,     /* char *, absolute path, not trimmed */
        KIND_BOOL,     /* bool, Go ParseBool */
        KIND_DURATION, /* uint64_t usec, Go duration; 0 means the default (official merge) */
        KIND_UINT,     /* uint32_t, decimal */
        KIND_ENUM,     /* an enum, one of .names (NULL entries cannot be chosen) */
        KIND_PORTS,    /* uint16_t * + size_t count: JSON array of ports, de-duplicated */
        KIND_STRV,     /* char ** (never NULL): JSON array of strings, each .check'ed */
        KIND_MAP,      /* struct ecs_config_kv * + size_t count: JSON object of strings */
        KIND_CUSTOM,
};

/* What happens to a parsed number outside [min, max]. */
enum config_bound {
        BOUND_ERROR,   /* invalid: the value can never be right */
        BOUND_RAISE,   /* official: silently clamped; we clamp and warn */
        BOUND_DEFAULT, /* official: silently reset to the default; we reset and warn */
};

enum {
        F_SECRET = 1 << 0,    /* shown as <redacted> in the dump and in error messages */
        F_CRED = 1 << 1,      /* AWS credential group: all members come from one source */
        F_NOTRIM = 1 << 2,    /* KIND_STRING, KIND_ENUM: the value is used as written */
        F_URL_CREDS = 1 << 3, /* a URL whose password is shown as *** in the dump and errors */
};

struct config_setting {
        const char *name;
        const char *alias; /* looked up after name, in the same source */
        enum config_kind kind;
        unsigned flags;
        size_t offset;   /* the field in struct ecs_config */
        size_t offset_n; /* KIND_PORTS, KIND_MAP: its element count */
        const char *def_str;
        uint64_t def, min, max; /* max 0: none; KIND_MAP: max is the most entries */
        enum config_bound bound;
        config_check_fn check;       /* KIND_STRING, KIND_PATH, KIND_STRV (each element) */
        config_kv_check_fn kv_check; /* KIND_MAP (each entry) */
        const char *const *names;    /* KIND_ENUM */
        size_t n_names;              /* KIND_ENUM */
        const uint16_t *def_ports;   /* KIND_PORTS; a non-empty default makes [] mean it */
        const char *const *def_strv; /* KIND_STRV; likewise */
        size_t n_def;                /* entries of def_ports or def_strv */
        const struct config_custom *custom;
        const char *doc; /* one line for the reader of the table */
};

#define CONFIG_FIELD(c, s, type)  ((type *)((char *)(c) + (s)->offset))
#define CONFIG_CFIELD(c, s, type) ((const typeof(type) *)((const char *)(c) + (s)->offset))
#define CONFIG_FIELD_N(c, s)      ((size_t *)((char *)(c) + (s)->offset_n))
#define CONFIG_CFIELD_N(c, s)     ((const size_t *)((const char *)(c) + (s)->offset_n))

/* settings.c */
extern const struct config_setting config_settings[];
extern const size_t config_n_settings;
/* Official settings we recognise but do not implement. */
extern const char *const config_unsupported_keys[];
extern const size_t config_n_unsupported_keys;
extern const char *const config_image_pull_behavior_names[_ECS_IMAGE_PULL_BEHAVIOR_MAX];
extern const char *const config_engine_auth_type_names[_ECS_ENGINE_AUTH_TYPE_MAX];

/* checks.c: validators named by the table, and two helpers the custom parsers share. */
bool config_has_control_chars(const char *v);
/* A hint appended to an error about v: ecs.config does not remove quotes. */
const char *config_quote_hint(const char *v);
bool config_check_cluster(const char *v, char *why, size_t size);
bool config_check_region(const char *v, char *why, size_t size);
bool config_check_http_url(const char *v, char *why, size_t size);
bool config_check_no_blanks(const char *v, char *why, size_t size);
bool config_check_proxy_url(const char *v, char *why, size_t size);
bool config_check_readable_file(const char *v, char *why, size_t size);
bool config_check_directory(const char *v, char *why, size_t size);
bool config_check_logging_driver(const char *v, char *why, size_t size);
bool config_check_capability(const char *v, char *why, size_t size);
bool config_check_cidr(const char *v, char *why, size_t size);
bool config_check_attribute(const char *k, const char *v, char *why, size_t size);
bool config_check_tag(const char *k, const char *v, char *why, size_t size);
bool config_check_label(const char *k, const char *v, char *why, size_t size);

/* custom.c */
extern const struct config_custom config_custom_log_level;
extern const struct config_custom config_custom_backend_host;
extern const struct config_custom config_custom_docker_host;
extern const struct config_custom config_custom_port_range;
extern const struct config_custom config_custom_os_family;
extern const struct config_custom config_custom_cpu_mem_limit;
extern const struct config_custom config_custom_rps_limit;
extern const struct config_custom config_custom_auth_data;

/* values.c */
/* Fills x->err with "Invalid value for KEY: "VALUE": why (set in SOURCE)"; -EINVAL. */
int config_fail(struct config_ctx *x, const struct config_setting *s, const char *value,
                const char *fmt, ...) _printf_(4, 5);
/* Stores value (NULL: the default) into the setting's field. */
int config_setting_apply(struct config_ctx *x, const struct config_setting *s, const char *value);
/* Prints the setting's value as it reads back (without the key and newline). */
void config_setting_dump(const struct ecs_config *c, const struct config_setting *s, FILE *f);
/* Frees what the setting's field owns (custom settings free their own in config.c). */
void config_setting_done(struct ecs_config *c, const struct config_setting *s);
/* Index of s in names (NULL entries skipped), or -EINVAL. */
int config_enum_lookup(const char *const *names, size_t n, const char *s);
/* Parses value as JSON of the wanted type (array or object). */
int config_parse_json_typed(struct config_ctx *x, const struct config_setting *s, const char *value,
                            json_type want, json_object **ret);
/* Replaces *field with a copy of v (NULL allowed). */
int config_set_owned(char **field, const char *v);
/* A trimmed copy of value, NULL when out of memory. */
char *config_trimmed(const char *value);

/* ---- parse.c ------------------------------------------------------------------------ */

/* Go's strings.TrimSpace (ASCII and Unicode white space in UTF-8) on [*p, *p + *len). */
void config_trim_space(const char **p, size_t *len);

/* Decimal digits only (no sign, no blanks), value <= max. -EINVAL / -ERANGE. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* Go-style duration text that ecs_parse_go_duration() reads back, e.g. "1h30m", "100ms". */
void config_format_duration(uint64_t usec, char *buf, size_t size);

/* The kernel's ephemeral port range ("32768\t60999"). -EINVAL if unusable. */
int config_read_port_range(const char *path, uint16_t *ret_first, uint16_t *ret_last);

/* Number of UTF-8 code points (continuation bytes are not counted). */
size_t config_utf8_len(const char *s);
