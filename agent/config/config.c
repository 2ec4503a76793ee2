/* ecs.config + environment -> struct ecs_config. One table drives defaults, lookup, parsing
 * and the dump, so a setting cannot be parsed but forgotten in the dump or vice versa. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>

#include "config-internal.h"
#include "ecs/strbuf.h"
#include "ecs/config.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/macro.h"

#define USEC_MS   1000ULL
#define USEC_S    1000000ULL
#define USEC_MIN  (60ULL * USEC_S)
#define USEC_HOUR (60ULL * USEC_MIN)

/* No legitimate value comes close (ECS_ENGINE_AUTH_DATA for many registries is a few KiB);
 * the bound keeps a runaway environment variable from reaching the JSON parser. */
#define VALUE_MAX (64 * 1024)

#define DEFAULT_PORT_RANGE_PATH "/proc/sys/net/ipv4/ip_local_port_range"
#define DEFAULT_OS_RELEASE_PATH "/etc/os-release"
#define PROMETHEUS_PORT         51680
#define REDACTED                "<redacted>"

static const char *const image_pull_behavior_table[_ECS_IMAGE_PULL_BEHAVIOR_MAX] = {
    [ECS_IMAGE_PULL_BEHAVIOR_DEFAULT] = "default",
    [ECS_IMAGE_PULL_BEHAVIOR_ALWAYS] = "always",
    [ECS_IMAGE_PULL_BEHAVIOR_ONCE] = "once",
    [ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED] = "prefer-cached",
};

static const char *const engine_auth_type_table[_ECS_ENGINE_AUTH_TYPE_MAX] = {
    [ECS_ENGINE_AUTH_TYPE_NONE] = NULL,
    [ECS_ENGINE_AUTH_TYPE_DOCKER] = "docker",
    [ECS_ENGINE_AUTH_TYPE_DOCKERCFG] = "dockercfg",
};

static int table_lookup(const char *const *table, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *ecs_image_pull_behavior_to_string(enum ecs_image_pull_behavior b)
{
        if ((unsigned)b >= _ECS_IMAGE_PULL_BEHAVIOR_MAX)
                return NULL;
        return image_pull_behavior_table[b];
}

int ecs_image_pull_behavior_from_string(const char *s)
{
        return table_lookup(image_pull_behavior_table, ELEMENTSOF(image_pull_behavior_table), s);
}

const char *ecs_engine_auth_type_to_string(enum ecs_engine_auth_type t)
{
        if ((unsigned)t >= _ECS_ENGINE_AUTH_TYPE_MAX)
                return NULL;
        return engine_auth_type_table[t];
}

int ecs_engine_auth_type_from_string(const char *s)
{
        return table_lookup(engine_auth_type_table, ELEMENTSOF(engine_auth_type_table), s);
}

/* Logging drivers the official agent knows (dockerclient.LoggingDriverMinimumVersion). */
static const char *const known_logging_drivers[] = {
    "json-file", "syslog",     "journald",  "gelf", "fluentd",     "awslogs",
    "splunk",    "logentries", "sumologic", "none", "awsfirelens",
};

/* Official settings we recognise but do not implement; setting one earns a warning instead
 * of the silent debug line unknown keys get. */
static const char *const unsupported_keys[] = {
    "ECS_AGENT_CONFIG_FILE_PATH",
    "ECS_ENABLE_GPU_SUPPORT",
    "ECS_NVIDIA_RUNTIME",
    "ECS_ENABLE_INF_SUPPORT",
    "ECS_GMSA_SUPPORTED",
    "ECS_LOGLEVEL_ON_INSTANCE",
    "ECS_LOG_DRIVER",
    "ECS_LOG_OPTS",
    "ECS_LOG_ROLLOVER_TYPE",
    "ECS_LOG_OUTPUT_FORMAT",
    "ECS_LOG_MAX_FILE_SIZE_MB",
    "ECS_LOG_MAX_ROLL_COUNT",
    "ECS_UPDATE_DOWNLOAD_DIR",
    "ECS_POLLING_METRICS_WAIT_DURATION",
    "ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP",
    "NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE",
    "NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE",
    "ECS_EXCLUDE_UNTRACKED_IMAGE",
    "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM",
    "ECS_CNI_PLUGINS_PATH",
    "ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2",
    "ECS_SHARED_VOLUME_MATCH_FULL_CONFIG",
    "ECS_ENABLE_RUNTIME_STATS",
    "ECS_INSTANCE_IP_COMPATIBILITY",
    "ECS_ENABLE_FIRELENS_ASYNC",
    "ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME",
    "ECS_AGENT_LABELS",
    "ECS_AGENT_APPARMOR_PROFILE",
    "ECS_AGENT_PID_NAMESPACE_HOST",
};

struct ctx {
        struct ecs_config *c;
        struct ecs_config_error *err;
        const struct ecs_config_input *in;
        const char *source; /* where the value being parsed came from */
        const char *key;    /* the name it was found under (a setting may have an alias) */
        bool creds_from_env;
};

struct setting;
typedef int (*parse_fn)(struct ctx *x, const struct setting *s, const char *value);
typedef void (*dump_fn)(const struct ecs_config *c, FILE *f);
/* Returns false and writes a reason into why when v is not acceptable. */
typedef bool (*check_fn)(const char *v, char *why, size_t size);

enum kind {
        KIND_STRING,   /* trimmed like the official `trim` fields */
        KIND_PATH,     /* absolute path, not trimmed */
        KIND_BOOL,     /* Go ParseBool */
        KIND_DURATION, /* Go duration; 0 means the default (official merge semantics) */
        KIND_UINT,     /* decimal, stored as uint32_t */
        KIND_CUSTOM,
};

/* What happens to a parsed value outside [min, max]. */
enum bound {
        BOUND_ERROR,   /* invalid: the value can never be right */
        BOUND_RAISE,   /* official: silently clamped; we clamp and warn */
        BOUND_DEFAULT, /* official: silently reset to the default; we reset and warn */
};

enum {
        F_SECRET = 1 << 0, /* shown as <redacted> in the dump and in error messages */
        F_CRED = 1 << 1,   /* AWS credential group: all members come from one source */
        F_NOTRIM = 1 << 2,
};

struct setting {
        const char *name;
        const char *alias; /* looked up after name, in the same source */
        enum kind kind;
        unsigned flags;
        size_t offset;
        const char *def_str;
        uint64_t def, min, max; /* max 0: none */
        enum bound bound;
        check_fn check;
        parse_fn parse;
        dump_fn dump;
};

#define OFF(field) offsetof(struct ecs_config, field)
#define STRING(n, field, d, chk, fl)                                                               \
        {                                                                                          \
                .name = (n), .kind = KIND_STRING, .offset = OFF(field), .def_str = (d),            \
                .check = (chk), .flags = (fl)                                                      \
        }
#define PATH(n, field, d)                                                                          \
        {                                                                                          \
                .name = (n), .kind = KIND_PATH, .offset = OFF(field), .def_str = (d)               \
        }
#define BOOL(n, field, d)                                                                          \
        {                                                                                          \
                .name = (n), .kind = KIND_BOOL, .offset = OFF(field), .def = (d)                   \
        }
#define DURATION(n, field, d, lo, hi, b)                                                           \
        {                                                                                          \
                .name = (n), .kind = KIND_DURATION, .offset = OFF(field), .def = (d), .min = (lo), \
                .max = (hi), .bound = (b)                                                          \
        }
#define UINT(n, field, d, lo, hi, b)                                                               \
        {                                                                                          \
                .name = (n), .kind = KIND_UINT, .offset = OFF(field), .def = (d), .min = (lo),     \
                .max = (hi), .bound = (b)                                                          \
        }
#define CUSTOM(n, p, dmp, fl)                                                                      \
        {                                                                                          \
                .name = (n), .kind = KIND_CUSTOM, .parse = (p), .dump = (dmp), .flags = (fl)       \
        }

#define FIELD(c, s, type)  ((type *)((char *)(c) + (s)->offset))
#define CFIELD(c, s, type) ((const type *)((const char *)(c) + (s)->offset))

/* ---- error reporting ---------------------------------------------------------------- */

/* Quotes v for a message: escapes quotes, backslashes and control bytes, cuts long values. */
static void quote_value(const char *v, char *buf, size_t size)
{
        size_t n = 0, i;

        if (size < 8)
                return;
        buf[n++] = '"';
        for (i = 0; v[i] && n + 8 < size && i < 200; i++) {
                unsigned char ch = (unsigned char)v[i];

                if (ch == '"' || ch == '\\') {
                        buf[n++] = '\\';
                        buf[n++] = (char)ch;
                } else if (ch < 0x20 || ch == 0x7f)
                        n += (size_t)snprintf(buf + n, size - n, "\\x%02x", ch);
                else
                        buf[n++] = (char)ch;
        }
        if (v[i] && n + 4 < size) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n++] = '"';
        buf[n] = 0;
}

static int fail(struct ctx *x, const struct setting *s, const char *value, const char *fmt, ...)
    _printf_(4, 5);
static int fail(struct ctx *x, const struct setting *s, const char *value, const char *fmt, ...)
{
        char quoted[256], why[320];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);

        if (s->flags & F_SECRET)
                snprintf(quoted, sizeof(quoted), "%s", REDACTED);
        else
                quote_value(strempty(value), quoted, sizeof(quoted));
        x->err->key = x->key ?: s->name;
        snprintf(x->err->message, sizeof(x->err->message),
                 "Invalid value for %s: %s: %s (set in %s)", x->err->key, quoted, why,
                 strna(x->source));
        return -EINVAL;
}

/* ---- lookup ------------------------------------------------------------------------- */

static const char *env_get(char **envp, const char *name)
{
        size_t n = strlen(name);

        strv_foreach (e, envp)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

static const char *file_get(const struct ecs_config_input *in, const char *name)
{
        /* Later lines override earlier ones, as ecs-init's map assignment does. */
        for (size_t i = in->n_file_pairs; i > 0; i--)
                if (streq(in->file_pairs[i - 1].key, name))
                        return in->file_pairs[i - 1].value;
        return NULL;
}

static const char *file_label(const struct ctx *x)
{
        return x->in->file_label ?: "config file";
}

/* The effective raw value of a setting, or NULL for "use the default". Empty counts as
 * unset, so "KEY=" in the environment does not hide the file's value. */
static const char *lookup(struct ctx *x, const struct setting *s)
{
        const char *names[2] = {s->name, s->alias};
        bool use_env = true, use_file = true;
        const char *v;

        if (s->flags & F_CRED) {
                use_env = x->creds_from_env;
                use_file = !x->creds_from_env;
        }
        for (size_t i = 0; use_env && i < ELEMENTSOF(names) && names[i]; i++) {
                v = env_get(x->in->envp, names[i]);
                if (!isempty(v)) {
                        x->source = "environment";
                        x->key = names[i];
                        return v;
                }
        }
        for (size_t i = 0; use_file && i < ELEMENTSOF(names) && names[i]; i++) {
                v = file_get(x->in, names[i]);
                if (!isempty(v)) {
                        x->source = file_label(x);
                        x->key = names[i];
                        return v;
                }
        }
        x->source = "defaults";
        x->key = s->name;
        return NULL;
}

/* ---- small validators --------------------------------------------------------------- */

static bool has_control_chars(const char *v)
{
        for (; *v; v++)
                if ((unsigned char)*v < 0x20 || *v == 0x7f)
                        return true;
        return false;
}

static bool all_chars_in(const char *v, const char *extra)
{
        for (; *v; v++)
                if (!isalnum((unsigned char)*v) && !strchr(extra, *v))
                        return false;
        return true;
}

static const char *quote_hint(const char *v)
{
        /* The most common ecs.config mistake: shell-style quoting. */
        if (strchr(v, '"') || strchr(v, '\''))
                return " (ecs.config does not remove quotes)";
        return "";
}

static bool check_cluster(const char *v, char *why, size_t size)
{
        /* Cluster names: up to 255 letters, digits, '-' and '_'; or a cluster ARN. */
        if (strncmp(v, "arn:", 4) == 0) {
                if (strlen(v) <= 2048 && all_chars_in(v, "-_:/."))
                        return true;
        } else if (strlen(v) <= 255 && all_chars_in(v, "-_"))
                return true;
        snprintf(why, size, "not a cluster name (up to 255 letters, digits, '-', '_') or ARN%s",
                 quote_hint(v));
        return false;
}

static bool check_region(const char *v, char *why, size_t size)
{
        /* It becomes part of endpoint host names and the SigV4 scope. */
        if (strlen(v) <= 64 && all_chars_in(v, "-"))
                return true;
        snprintf(why, size, "not a region name (letters, digits and '-')%s", quote_hint(v));
        return false;
}

static bool check_http_url(const char *v, char *why, size_t size)
{
        if ((strncasecmp(v, "http://", 7) == 0 && v[7]) ||
            (strncasecmp(v, "https://", 8) == 0 && v[8]))
                return true;
        snprintf(why, size, "not an http:// or https:// URL%s", quote_hint(v));
        return false;
}

static bool check_no_blanks(const char *v, char *why, size_t size)
{
        for (const char *p = v; *p; p++)
                if (isspace((unsigned char)*p)) {
                        snprintf(why, size, "must not contain blanks");
                        return false;
                }
        return true;
}

/* ECS attribute names: up to 128 letters, digits, '_', '.', '/', '\', '@', '-'. */
static bool attribute_name_ok(const char *name)
{
        return !isempty(name) && strlen(name) <= 128 && all_chars_in(name, "_./\\@-");
}

/* ---- generic kinds ------------------------------------------------------------------ */

static int set_string(struct ctx *x, const struct setting *s, const char *value)
{
        char **field = FIELD(x->c, s, char *);
        const char *p = value;
        size_t n;
        char *copy;

        if (!value) {
                free(*field);
                *field = NULL;
                if (s->def_str) {
                        *field = strdup(s->def_str);
                        if (!*field)
                                return -ENOMEM;
                }
                return 0;
        }
        n = strlen(value);
        if (s->kind == KIND_STRING && !(s->flags & F_NOTRIM))
                config_trim_space(&p, &n);
        if (n == 0)
                return set_string(x, s, NULL);
        copy = strndup(p, n);
        if (!copy)
                return -ENOMEM;
        if (has_control_chars(copy)) {
                free(copy);
                return fail(x, s, value, "contains control characters");
        }
        if (s->kind == KIND_PATH && copy[0] != '/') {
                free(copy);
                return fail(x, s, value, "not an absolute path");
        }
        if (s->check) {
                char why[200];

                if (!s->check(copy, why, sizeof(why))) {
                        free(copy);
                        return fail(x, s, value, "%s", why);
                }
        }
        free(*field);
        *field = copy;
        return 0;
}

static int set_bool(struct ctx *x, const struct setting *s, const char *value)
{
        bool *field = FIELD(x->c, s, bool);

        if (!value) {
                *field = s->def;
                return 0;
        }
        if (ecs_parse_go_bool(value, field) < 0)
                return fail(
                    x, s, value,
                    "not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)");
        return 0;
}

static void warn_bound(const struct setting *s, const char *value, uint64_t used, bool duration)
{
        char a[64], b[64], m[64];

        if (duration) {
                config_format_duration(used, a, sizeof(a));
                config_format_duration(s->min, b, sizeof(b));
                config_format_duration(s->max, m, sizeof(m));
        } else {
                snprintf(a, sizeof(a), "%llu", (unsigned long long)used);
                snprintf(b, sizeof(b), "%llu", (unsigned long long)s->min);
                snprintf(m, sizeof(m), "%llu", (unsigned long long)s->max);
        }
        if (s->max)
                log_warning("%s=%s is outside %s..%s; using %s instead.", s->name, value, b, m, a);
        else
                log_warning("%s=%s is below the minimum of %s; using %s instead.", s->name, value,
                            b, a);
}

/* Applies min/max to a parsed number; the caller stores *v on success. */
static int apply_bounds(struct ctx *x, const struct setting *s, const char *value, uint64_t *v,
                        bool duration)
{
        bool low = s->min && *v < s->min, high = s->max && *v > s->max;

        if (!low && !high)
                return 0;
        switch (s->bound) {
        case BOUND_RAISE:
                *v = low ? s->min : s->max;
                break;
        case BOUND_DEFAULT:
                *v = s->def;
                break;
        case BOUND_ERROR:
        default:
                if (s->max)
                        return fail(x, s, value, "out of range %llu..%llu",
                                    (unsigned long long)s->min, (unsigned long long)s->max);
                return fail(x, s, value, "below the minimum of %llu", (unsigned long long)s->min);
        }
        warn_bound(s, value, *v, duration);
        return 0;
}

static int set_duration(struct ctx *x, const struct setting *s, const char *value)
{
        uint64_t *field = FIELD(x->c, s, uint64_t), v;
        int r;

        if (!value) {
                *field = s->def;
                return 0;
        }
        r = ecs_parse_go_duration(value, &v);
        if (r == -ERANGE && value[0] == '-')
                return fail(x, s, value, "negative durations are not allowed");
        if (r == -ERANGE)
                return fail(x, s, value, "duration out of range");
        if (r < 0)
                return fail(x, s, value,
                            "not a duration (a number with a unit ns, us, ms, s, m or h, e.g. "
                            "90s or 1h30m)");
        if (v == 0 && s->def != 0) {
                /* The official agent cannot tell 0 from unset: both get the default. */
                char d[64];

                config_format_duration(s->def, d, sizeof(d));
                log_warning("%s=%s means the default, %s.", s->name, value, d);
                v = s->def;
        }
        r = apply_bounds(x, s, value, &v, true);
        if (r < 0)
                return r;
        *field = v;
        return 0;
}

static int set_uint(struct ctx *x, const struct setting *s, const char *value)
{
        uint32_t *field = FIELD(x->c, s, uint32_t);
        uint64_t v;
        int r;

        if (!value) {
                *field = (uint32_t)s->def;
                return 0;
        }
        r = config_parse_uint(value, UINT32_MAX, &v);
        if (r == -ERANGE)
                return fail(x, s, value, "number too large");
        if (r < 0)
                return fail(x, s, value, "not a non-negative integer");
        r = apply_bounds(x, s, value, &v, false);
        if (r < 0)
                return r;
        *field = (uint32_t)v;
        return 0;
}

/* ---- JSON-typed settings ------------------------------------------------------------ */

static int parse_json_typed(struct ctx *x, const struct setting *s, const char *value,
                            json_type want, json_object **ret)
{
        json_object *o = NULL;

        if (json_parse(value, strlen(value), &o) < 0)
                return fail(x, s, value, "not valid JSON");
        if (!json_object_is_type(o, want)) {
                json_object_put(o);
                return fail(x, s, value, "not a JSON %s",
                            want == json_type_array ? "array" : "object");
        }
        *ret = o;
        return 0;
}

static bool json_string_ok(json_object *o)
{
        /* A "\u0000" would silently cut the C string short. */
        return json_object_is_type(o, json_type_string) &&
               (size_t)json_object_get_string_len(o) == strlen(json_object_get_string(o));
}

static int parse_port_list(struct ctx *x, const struct setting *s, const char *value,
                           uint16_t **ret, size_t *ret_n)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ uint16_t *ports = NULL;
        size_t n = 0, len;
        int r;

        r = parse_json_typed(x, s, value, json_type_array, &o);
        if (r < 0)
                return r;
        len = json_object_array_length(o);
        ports = calloc(len ?: 1, sizeof(uint16_t));
        if (!ports)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(o, i);
                int64_t p;
                bool dup = false;

                if (!json_object_is_type(e, json_type_int))
                        return fail(x, s, value, "element %zu is not an integer port", i + 1);
                p = json_object_get_int64(e);
                if (p < 1 || p > 65535)
                        return fail(x, s, value, "port %lld out of range 1..65535", (long long)p);
                for (size_t j = 0; j < n; j++)
                        dup = dup || ports[j] == p;
                if (!dup)
                        ports[n++] = (uint16_t)p;
        }
        *ret = TAKE_PTR(ports);
        *ret_n = n;
        return 0;
}

static int set_ports(uint16_t **field, size_t *n_field, const uint16_t *ports, size_t n)
{
        uint16_t *copy = calloc(n ?: 1, sizeof(uint16_t));

        if (!copy)
                return -ENOMEM;
        if (n)
                memcpy(copy, ports, n * sizeof(uint16_t));
        free(*field);
        *field = copy;
        *n_field = n;
        return 0;
}

static int parse_reserved_ports(struct ctx *x, const struct setting *s, const char *value)
{
        static const uint16_t defaults[] = {22, 2375, 2376, 51678, 51679};
        uint16_t *ports = NULL;
        size_t n = 0;
        int r;

        if (value) {
                r = parse_port_list(x, s, value, &ports, &n);
                if (r < 0)
                        return r;
                if (n > 0) {
                        free(x->c->reserved_ports);
                        x->c->reserved_ports = ports;
                        x->c->n_reserved_ports = n;
                        return 0;
                }
                /* Official merge semantics: an empty list is "unset" and gets the default. */
                free(ports);
                log_warning("%s=[] means the default list.", s->name);
        }
        return set_ports(&x->c->reserved_ports, &x->c->n_reserved_ports, defaults,
                         ELEMENTSOF(defaults));
}

static int parse_reserved_ports_udp(struct ctx *x, const struct setting *s, const char *value)
{
        uint16_t *ports = NULL;
        size_t n = 0;
        int r;

        if (!value)
                return set_ports(&x->c->reserved_ports_udp, &x->c->n_reserved_ports_udp, NULL, 0);
        r = parse_port_list(x, s, value, &ports, &n);
        if (r < 0)
                return r;
        free(x->c->reserved_ports_udp);
        x->c->reserved_ports_udp = ports;
        x->c->n_reserved_ports_udp = n;
        return 0;
}

/* JSON array of strings, each checked; an empty array yields an empty (non-NULL) list. */
static int parse_string_list(struct ctx *x, const struct setting *s, const char *value,
                             check_fn check, char ***ret)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t len;
        int r;

        r = parse_json_typed(x, s, value, json_type_array, &o);
        if (r < 0)
                return r;
        len = json_object_array_length(o);
        l = calloc(len + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(o, i);
                char why[200];

                if (!json_string_ok(e))
                        return fail(x, s, value, "element %zu is not a string", i + 1);
                if (check && !check(json_object_get_string(e), why, sizeof(why)))
                        return fail(x, s, value, "%s", why);
                l[i] = strdup(json_object_get_string(e));
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int strv_from_list(char ***field, const char *const *items, size_t n)
{
        _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(items[i]);
                if (!l[i])
                        return -ENOMEM;
        }
        strv_free(*field);
        *field = TAKE_PTR(l);
        return 0;
}

static bool check_logging_driver(const char *v, char *why, size_t size)
{
        for (size_t i = 0; i < ELEMENTSOF(known_logging_drivers); i++)
                if (streq(v, known_logging_drivers[i]))
                        return true;
        snprintf(why, size, "unknown logging driver \"%.64s\"", v);
        return false;
}

static int parse_logging_drivers(struct ctx *x, const struct setting *s, const char *value)
{
        static const char *const defaults[] = {"json-file", "none"};
        char **l = NULL;
        int r;

        if (value) {
                r = parse_string_list(x, s, value, check_logging_driver, &l);
                if (r < 0)
                        return r;
                if (l[0]) {
                        strv_free(x->c->available_logging_drivers);
                        x->c->available_logging_drivers = l;
                        return 0;
                }
                strv_free(l);
                log_warning("%s=[] means the default list.", s->name);
        }
        return strv_from_list(&x->c->available_logging_drivers, defaults, ELEMENTSOF(defaults));
}

static bool check_capability(const char *v, char *why, size_t size)
{
        /* Advertised as the attribute "ecs.capability.<v>". */
        if (attribute_name_ok(v) && strlen(v) <= 128 - strlen("ecs.capability."))
                return true;
        snprintf(why, size, "\"%.64s\" is not usable as an attribute name", v);
        return false;
}

static int parse_volume_plugin_caps(struct ctx *x, const struct setting *s, const char *value)
{
        char **l = NULL;
        int r;

        if (!value)
                return strv_from_list(&x->c->volume_plugin_capabilities, NULL, 0);
        r = parse_string_list(x, s, value, check_capability, &l);
        if (r < 0)
                return r;
        strv_free(x->c->volume_plugin_capabilities);
        x->c->volume_plugin_capabilities = l;
        return 0;
}

static bool check_cidr(const char *v, char *why, size_t size)
{
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char buf[sizeof(struct in6_addr)];
        const char *slash = strchr(v, '/');
        uint64_t prefix;
        bool v6;

        if (slash && (size_t)(slash - v) < sizeof(addr)) {
                memcpy(addr, v, (size_t)(slash - v));
                addr[slash - v] = 0;
                v6 = strchr(addr, ':');
                if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) == 1 &&
                    config_parse_uint(slash + 1, v6 ? 128 : 32, &prefix) == 0)
                        return true;
        }
        snprintf(why, size, "\"%.64s\" is not a CIDR block", v);
        return false;
}

static int parse_local_routes(struct ctx *x, const struct setting *s, const char *value)
{
        char **l = NULL;
        int r;

        if (!value)
                return strv_from_list(&x->c->awsvpc_additional_local_routes, NULL, 0);
        r = parse_string_list(x, s, value, check_cidr, &l);
        if (r < 0)
                return r;
        strv_free(x->c->awsvpc_additional_local_routes);
        x->c->awsvpc_additional_local_routes = l;
        return 0;
}

static void kv_free_array(struct ecs_config_kv **kv, size_t *n)
{
        ecs_config_kv_free_many(*kv, *n);
        *kv = NULL;
        *n = 0;
}

typedef bool (*kv_check_fn)(const char *k, const char *v, char *why, size_t size);

/* JSON object of string values, in document order. */
static int parse_string_map(struct ctx *x, const struct setting *s, const char *value,
                            kv_check_fn check, size_t max_entries, struct ecs_config_kv **field,
                            size_t *n_field)
{
        _cleanup_json_ json_object *o = NULL;
        struct ecs_config_kv *kv;
        size_t n = 0, len;
        int r;

        r = parse_json_typed(x, s, value, json_type_object, &o);
        if (r < 0)
                return r;
        len = (size_t)json_object_object_length(o);
        if (max_entries && len > max_entries)
                return fail(x, s, value, "more than %zu entries", max_entries);
        kv = calloc(len ?: 1, sizeof(*kv));
        if (!kv)
                return -ENOMEM;
        r = 0;
        json_object_object_foreach (o, k, v) {
                char why[200];

                if (!json_string_ok(v)) {
                        r = fail(x, s, value, "the value of \"%.64s\" is not a string", k);
                        break;
                }
                if (check && !check(k, json_object_get_string(v), why, sizeof(why))) {
                        r = fail(x, s, value, "%s", why);
                        break;
                }
                kv[n].key = strdup(k);
                kv[n].value = strdup(json_object_get_string(v));
                n++;
                if (!kv[n - 1].key || !kv[n - 1].value) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                ecs_config_kv_free_many(kv, n);
                return r;
        }
        kv_free_array(field, n_field);
        *field = kv;
        *n_field = n;
        return 0;
}

static bool check_attribute(const char *k, const char *v, char *why, size_t size)
{
        if (!attribute_name_ok(k)) {
                snprintf(why, size,
                         "attribute name \"%.64s\" must be 1-128 letters, digits, or _ . / \\ @ -",
                         k);
                return false;
        }
        if (config_utf8_len(v) > 128) {
                snprintf(why, size, "the value of attribute \"%.64s\" is longer than 128", k);
                return false;
        }
        return true;
}

static int parse_attributes(struct ctx *x, const struct setting *s, const char *value)
{
        if (!value) {
                kv_free_array(&x->c->instance_attributes, &x->c->n_instance_attributes);
                return 0;
        }
        return parse_string_map(x, s, value, check_attribute, 0, &x->c->instance_attributes,
                                &x->c->n_instance_attributes);
}

static bool check_tag(const char *k, const char *v, char *why, size_t size)
{
        size_t klen = config_utf8_len(k);

        if (klen < 1 || klen > 128) {
                snprintf(why, size, "tag key \"%.64s\" must be 1-128 characters", k);
                return false;
        }
        if (strncasecmp(k, "aws:", 4) == 0) {
                snprintf(why, size, "tag key \"%.64s\" uses the reserved prefix aws:", k);
                return false;
        }
        if (config_utf8_len(v) > 256) {
                snprintf(why, size, "the value of tag \"%.64s\" is longer than 256", k);
                return false;
        }
        return true;
}

static int parse_tags(struct ctx *x, const struct setting *s, const char *value)
{
        if (!value) {
                kv_free_array(&x->c->container_instance_tags, &x->c->n_container_instance_tags);
                return 0;
        }
        /* 50 is the per-resource tag limit of every AWS API. */
        return parse_string_map(x, s, value, check_tag, 50, &x->c->container_instance_tags,
                                &x->c->n_container_instance_tags);
}

static bool check_label(const char *k, const char *v, char *why, size_t size)
{
        if (isempty(k)) {
                snprintf(why, size, "empty label name");
                return false;
        }
        return true;
}

static int parse_pause_labels(struct ctx *x, const struct setting *s, const char *value)
{
        if (!value) {
                kv_free_array(&x->c->pause_labels, &x->c->n_pause_labels);
                return 0;
        }
        return parse_string_map(x, s, value, check_label, 0, &x->c->pause_labels,
                                &x->c->n_pause_labels);
}

/* ---- other custom settings ---------------------------------------------------------- */

static int set_owned(char **field, const char *v)
{
        char *copy = NULL;

        if (v) {
                copy = strdup(v);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

/* A trimmed copy of value, for the custom string settings. */
static char *trimmed(const char *value)
{
        const char *p = value;
        size_t n = strlen(value);

        config_trim_space(&p, &n);
        return strndup(p, n);
}

static int parse_log_level(struct ctx *x, const struct setting *s, const char *value)
{
        char lower[16];
        size_t i;
        int l;

        if (!value) {
                x->c->log_level = LOG_LEVEL_INFO;
                return 0;
        }
        /* Any case is accepted: the names are unambiguous. */
        for (i = 0; value[i] && i < sizeof(lower) - 1; i++)
                lower[i] = (char)tolower((unsigned char)value[i]);
        lower[i] = 0;
        l = value[i] ? -EINVAL : log_level_from_string(lower);
        if (l < LOG_LEVEL_NONE)
                return fail(x, s, value, "not one of crit, error, warn, info, debug, none");
        x->c->log_level = l;
        return 0;
}

static int parse_backend_host(struct ctx *x, const struct setting *s, const char *value)
{
        _cleanup_free_ char *v = NULL;
        const char *sep;
        char *url;
        char why[200];

        if (!value)
                return set_owned(&x->c->backend_host, NULL);
        v = trimmed(value);
        if (!v)
                return -ENOMEM;
        if (has_control_chars(v) || !check_no_blanks(v, why, sizeof(why)))
                return fail(x, s, value, "not a host name or URL");
        sep = strstr(v, "://");
        if (sep) {
                /* An explicit scheme is kept: http:// is how a local control plane is used. */
                if (!((sep - v == 4 && strncasecmp(v, "http", 4) == 0) ||
                      (sep - v == 5 && strncasecmp(v, "https", 5) == 0)))
                        return fail(x, s, value, "only http:// and https:// are supported%s",
                                    quote_hint(v));
                if (!sep[3] || sep[3] == '/')
                        return fail(x, s, value, "no host name after the scheme");
                return set_owned(&x->c->backend_host, v);
        }
        if (v[0] == '/' || v[0] == ':' || strchr(v, '"') || strchr(v, '\''))
                return fail(x, s, value, "not a host name or URL%s", quote_hint(v));
        /* Like the SDK: no scheme means https. */
        if (asprintf(&url, "https://%s", v) < 0)
                return -ENOMEM;
        free(x->c->backend_host);
        x->c->backend_host = url;
        return 0;
}

static int parse_docker_host(struct ctx *x, const struct setting *s, const char *value)
{
        _cleanup_free_ char *v = NULL;
        const char *path;
        int r;

        v = trimmed(value ?: "unix:///var/run/docker.sock");
        if (!v)
                return -ENOMEM;
        if (strncmp(v, "tcp://", 6) == 0)
                return fail(x, s, value,
                            "tcp:// endpoints are not supported yet; use unix:///path/to/socket");
        if (strncmp(v, "unix://", 7) != 0)
                return fail(x, s, value, "expected unix:///path/to/socket%s", quote_hint(v));
        path = v + 7;
        if (path[0] != '/' || !path[1] || has_control_chars(path))
                return fail(x, s, value, "expected an absolute socket path after unix://");
        r = set_owned(&x->c->docker_socket_path, path);
        if (r < 0)
                return r;
        return set_owned(&x->c->docker_host, v);
}

static int parse_port_range(struct ctx *x, const struct setting *s, const char *value)
{
        uint64_t first, last;
        const char *dash;
        char lo[8];

        if (!value) {
                uint16_t f, l;
                const char *path = x->in->port_range_path ?: DEFAULT_PORT_RANGE_PATH;
                int r = config_read_port_range(path, &f, &l);

                if (r < 0) {
                        log_debug("Cannot use %s (%s), dynamic host ports are 49153-65535.", path,
                                  strerror(-r));
                        f = 49153;
                        l = 65535;
                }
                x->c->dynamic_host_port_first = f;
                x->c->dynamic_host_port_last = l;
                return 0;
        }
        dash = strchr(value, '-');
        if (!dash || (size_t)(dash - value) >= sizeof(lo))
                return fail(x, s, value, "expected a port range like 32768-60999");
        memcpy(lo, value, (size_t)(dash - value));
        lo[dash - value] = 0;
        if (config_parse_uint(lo, 65535, &first) < 0 ||
            config_parse_uint(dash + 1, 65535, &last) < 0 || first < 1 || last < 1)
                return fail(x, s, value, "expected a port range like 32768-60999 (ports 1..65535)");
        if (first > last)
                return fail(x, s, value, "the first port is greater than the last");
        x->c->dynamic_host_port_first = (uint16_t)first;
        x->c->dynamic_host_port_last = (uint16_t)last;
        return 0;
}

static int parse_pull_behavior(struct ctx *x, const struct setting *s, const char *value)
{
        int b;

        if (!value) {
                x->c->image_pull_behavior = ECS_IMAGE_PULL_BEHAVIOR_DEFAULT;
                return 0;
        }
        b = ecs_image_pull_behavior_from_string(value);
        if (b < 0)
                return fail(x, s, value, "not one of default, always, once, prefer-cached");
        x->c->image_pull_behavior = b;
        return 0;
}

static int parse_os_family(struct ctx *x, const struct setting *s, const char *value)
{
        _cleanup_free_ char *v = NULL;
        int r;

        if (!value) {
                const char *path = x->in->os_release_path ?: DEFAULT_OS_RELEASE_PATH;

                r = ecs_config_read_os_family(path, &v);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_debug("Cannot derive the OS family from %s (%s), using LINUX.", path,
                                  strerror(-r));
                        return set_owned(&x->c->detailed_os_family, "LINUX");
                }
        } else {
                v = trimmed(value);
                if (!v)
                        return -ENOMEM;
        }
        /* It is sent as the value of the ecs.os-type-detailed attribute. */
        if (isempty(v) || config_utf8_len(v) > 128 || has_control_chars(v)) {
                if (!value)
                        return set_owned(&x->c->detailed_os_family, "LINUX");
                return fail(x, s, value, "not a usable attribute value (1-128 characters)");
        }
        free(x->c->detailed_os_family);
        x->c->detailed_os_family = TAKE_PTR(v);
        return 0;
}

static int parse_cpu_mem_limit(struct ctx *x, const struct setting *s, const char *value)
{
        bool b;

        if (!value) {
                x->c->task_cpu_mem_limit = true;
                x->c->task_cpu_mem_limit_explicit = false;
                return 0;
        }
        if (ecs_parse_go_bool(value, &b) < 0)
                return fail(
                    x, s, value,
                    "not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)");
        x->c->task_cpu_mem_limit = b;
        x->c->task_cpu_mem_limit_explicit = true;
        return 0;
}

static int parse_rps_part(const char *p, size_t n, uint64_t *ret)
{
        char buf[16];

        config_trim_space(&p, &n);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, p, n);
        buf[n] = 0;
        return config_parse_uint(buf, UINT32_MAX, ret);
}

static int parse_rps_limit(struct ctx *x, const struct setting *s, const char *value)
{
        const char *comma;
        uint64_t steady, burst;

        if (!value) {
                x->c->task_metadata_rps_steady = 40;
                x->c->task_metadata_rps_burst = 60;
                return 0;
        }
        comma = strchr(value, ',');
        if (!comma || strchr(comma + 1, ',') ||
            parse_rps_part(value, (size_t)(comma - value), &steady) < 0 ||
            parse_rps_part(comma + 1, strlen(comma + 1), &burst) < 0)
                return fail(x, s, value, "expected \"steady,burst\" as two non-negative integers");
        if (steady == 0 || burst == 0) {
                log_warning("%s=%s: rates must be positive; using 40,60 instead.", s->name, value);
                steady = 40;
                burst = 60;
        }
        x->c->task_metadata_rps_steady = (uint32_t)steady;
        x->c->task_metadata_rps_burst = (uint32_t)burst;
        return 0;
}

static int parse_auth_type(struct ctx *x, const struct setting *s, const char *value)
{
        _cleanup_free_ char *v = NULL;
        int t;

        if (!value) {
                x->c->engine_auth_type = ECS_ENGINE_AUTH_TYPE_NONE;
                return 0;
        }
        v = trimmed(value);
        if (!v)
                return -ENOMEM;
        t = ecs_engine_auth_type_from_string(v);
        if (t < 0)
                return fail(x, s, value, "not one of docker, dockercfg");
        x->c->engine_auth_type = t;
        return 0;
}

static int parse_auth_data(struct ctx *x, const struct setting *s, const char *value)
{
        json_object *o = NULL;
        int r;

        if (!value)
                return set_owned(&x->c->engine_auth_data, NULL);
        r = parse_json_typed(x, s, value, json_type_object, &o);
        if (r < 0)
                return r;
        json_object_put(o);
        return set_owned(&x->c->engine_auth_data, value);
}

/* ---- dump helpers ------------------------------------------------------------------- */

static void dump_json(json_object *o, FILE *f)
{
        if (o)
                fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE),
                      f);
        json_object_put(o);
}

static void dump_port_list(const uint16_t *ports, size_t n, FILE *f)
{
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%u", i ? "," : "", (unsigned)ports[i]);
        fputc(']', f);
}

static void dump_strv(char **l, FILE *f)
{
        json_object *a = json_object_new_array();

        strv_foreach (e, l)
                json_object_array_add(a, json_object_new_string(*e));
        dump_json(a, f);
}

static void dump_kv(const struct ecs_config_kv *kv, size_t n, FILE *f)
{
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < n; i++)
                json_object_object_add(o, kv[i].key, json_object_new_string(kv[i].value));
        dump_json(o, f);
}

static void dump_log_level(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(log_level_to_string(c->log_level)), f);
}
static void dump_backend_host(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->backend_host), f);
}
static void dump_docker_host(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->docker_host), f);
}
static void dump_reserved_ports(const struct ecs_config *c, FILE *f)
{
        dump_port_list(c->reserved_ports, c->n_reserved_ports, f);
}
static void dump_reserved_ports_udp(const struct ecs_config *c, FILE *f)
{
        dump_port_list(c->reserved_ports_udp, c->n_reserved_ports_udp, f);
}
static void dump_port_range(const struct ecs_config *c, FILE *f)
{
        fprintf(f, "%u-%u", (unsigned)c->dynamic_host_port_first,
                (unsigned)c->dynamic_host_port_last);
}
static void dump_pull_behavior(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(ecs_image_pull_behavior_to_string(c->image_pull_behavior)), f);
}
static void dump_attributes(const struct ecs_config *c, FILE *f)
{
        dump_kv(c->instance_attributes, c->n_instance_attributes, f);
}
static void dump_tags(const struct ecs_config *c, FILE *f)
{
        dump_kv(c->container_instance_tags, c->n_container_instance_tags, f);
}
static void dump_pause_labels(const struct ecs_config *c, FILE *f)
{
        dump_kv(c->pause_labels, c->n_pause_labels, f);
}
static void dump_logging_drivers(const struct ecs_config *c, FILE *f)
{
        dump_strv(c->available_logging_drivers, f);
}
static void dump_volume_plugin_caps(const struct ecs_config *c, FILE *f)
{
        dump_strv(c->volume_plugin_capabilities, f);
}
static void dump_local_routes(const struct ecs_config *c, FILE *f)
{
        dump_strv(c->awsvpc_additional_local_routes, f);
}
static void dump_os_family(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->detailed_os_family), f);
}
static void dump_cpu_mem_limit(const struct ecs_config *c, FILE *f)
{
        fputs(c->task_cpu_mem_limit ? "true" : "false", f);
}
static void dump_rps_limit(const struct ecs_config *c, FILE *f)
{
        fprintf(f, "%u,%u", (unsigned)c->task_metadata_rps_steady,
                (unsigned)c->task_metadata_rps_burst);
}
static void dump_auth_type(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(ecs_engine_auth_type_to_string(c->engine_auth_type)), f);
}
static void dump_auth_data(const struct ecs_config *c, FILE *f)
{
        if (c->engine_auth_data)
                fputs(REDACTED, f);
}

/* ---- the table ---------------------------------------------------------------------- */

static const struct setting settings[] = {
    STRING("ECS_CLUSTER", cluster, "default", check_cluster, 0),
    {.name = "AWS_DEFAULT_REGION",
     .alias = "AWS_REGION",
     .kind = KIND_STRING,
     .offset = OFF(aws_region),
     .check = check_region},
    CUSTOM("ECS_BACKEND_HOST", parse_backend_host, dump_backend_host, 0),
    CUSTOM("DOCKER_HOST", parse_docker_host, dump_docker_host, 0),
    STRING("AWS_EC2_METADATA_SERVICE_ENDPOINT", ec2_metadata_endpoint, NULL, check_http_url, 0),
    BOOL("ECS_EXTERNAL", external, false),

    STRING("AWS_ACCESS_KEY_ID", aws_access_key_id, NULL, check_no_blanks, F_CRED),
    STRING("AWS_SECRET_ACCESS_KEY", aws_secret_access_key, NULL, NULL,
           F_CRED | F_SECRET | F_NOTRIM),
    STRING("AWS_SESSION_TOKEN", aws_session_token, NULL, NULL, F_CRED | F_SECRET | F_NOTRIM),
    STRING("ECS_ALTERNATE_CREDENTIAL_PROFILE", alternate_credential_profile, "default", NULL, 0),

    PATH("ECS_DATADIR", data_dir, "/var/lib/ecs/data"),
    BOOL("ECS_CHECKPOINT", checkpoint, true),
    PATH("ECS_HOST_DATA_DIR", host_data_dir, "/var/lib/ecs"),
    CUSTOM("ECS_LOGLEVEL", parse_log_level, dump_log_level, 0),
    PATH("ECS_LOGFILE", log_file, NULL),
    PATH("ECS_AUDIT_LOGFILE", audit_log_file, "/var/log/ecs/audit.log"),
    BOOL("ECS_AUDIT_LOGFILE_DISABLED", audit_log_disabled, false),

    /* The official field is a uint16 (MiB). */
    UINT("ECS_RESERVED_MEMORY", reserved_memory_mib, 0, 0, 65535, BOUND_ERROR),
    CUSTOM("ECS_RESERVED_PORTS", parse_reserved_ports, dump_reserved_ports, 0),
    CUSTOM("ECS_RESERVED_PORTS_UDP", parse_reserved_ports_udp, dump_reserved_ports_udp, 0),
    CUSTOM("ECS_DYNAMIC_HOST_PORT_RANGE", parse_port_range, dump_port_range, 0),

    DURATION("ECS_CONTAINER_STOP_TIMEOUT", container_stop_timeout_usec, 30 * USEC_S, USEC_S, 0,
             BOUND_RAISE),
    DURATION("ECS_CONTAINER_START_TIMEOUT", container_start_timeout_usec, 3 * USEC_MIN, 45 * USEC_S,
             0, BOUND_RAISE),
    DURATION("ECS_CONTAINER_CREATE_TIMEOUT", container_create_timeout_usec, 4 * USEC_MIN, USEC_MIN,
             0, BOUND_RAISE),
    DURATION("ECS_IMAGE_PULL_TIMEOUT", image_pull_timeout_usec, 2 * USEC_HOUR, 0, 0, BOUND_RAISE),
    DURATION("ECS_IMAGE_PULL_INACTIVITY_TIMEOUT", image_pull_inactivity_timeout_usec, USEC_MIN,
             USEC_MIN, 0, BOUND_RAISE),
    DURATION("ECS_MANIFEST_PULL_TIMEOUT", manifest_pull_timeout_usec, USEC_MIN, 30 * USEC_S, 0,
             BOUND_RAISE),
    CUSTOM("ECS_IMAGE_PULL_BEHAVIOR", parse_pull_behavior, dump_pull_behavior, 0),
    BOOL("ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT", pull_dependent_containers_upfront, false),

    CUSTOM("ECS_INSTANCE_ATTRIBUTES", parse_attributes, dump_attributes, 0),
    CUSTOM("ECS_CONTAINER_INSTANCE_TAGS", parse_tags, dump_tags, 0),
    CUSTOM("ECS_AVAILABLE_LOGGING_DRIVERS", parse_logging_drivers, dump_logging_drivers, 0),
    BOOL("ECS_DISABLE_PRIVILEGED", privileged_disabled, false),
    BOOL("ECS_SELINUX_CAPABLE", selinux_capable, false),
    BOOL("ECS_APPARMOR_CAPABLE", apparmor_capable, false),
    BOOL("ECS_ENABLE_TASK_IAM_ROLE", task_iam_role, false),
    BOOL("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", task_iam_role_network_host, false),
    BOOL("ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE", awslogs_executionrole_override, false),
    BOOL("ECS_DISABLE_DOCKER_HEALTH_CHECK", docker_health_check_disabled, false),
    CUSTOM("ECS_VOLUME_PLUGIN_CAPABILITIES", parse_volume_plugin_caps, dump_volume_plugin_caps, 0),
    CUSTOM("ECS_DETAILED_OS_FAMILY", parse_os_family, dump_os_family, 0),
    BOOL("ECS_EBSTA_SUPPORTED", ebsta_supported, true),

    BOOL("ECS_ENABLE_TASK_ENI", task_eni, false),
    BOOL("ECS_ENABLE_HIGH_DENSITY_ENI", high_density_eni, true),
    /* Safe default (ours): awsvpc tasks cannot reach the instance role unless allowed. */
    BOOL("ECS_AWSVPC_BLOCK_IMDS", awsvpc_block_imds, true),
    /* Ours: bridge-mode tasks cannot reach the instance metadata service unless this is
     * set to false (the official agent leaves that to iptables rules of the operator). */
    BOOL("ECS_BRIDGE_BLOCK_IMDS", bridge_block_imds, true),
    CUSTOM("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", parse_local_routes, dump_local_routes, 0),
    BOOL("ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", skip_localhost_traffic_filter, false),
    BOOL("ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS", allow_offhost_introspection_access, false),

    CUSTOM("ECS_ENABLE_TASK_CPU_MEM_LIMIT", parse_cpu_mem_limit, dump_cpu_mem_limit, 0),
    PATH("ECS_CGROUP_PATH", cgroup_path, "/sys/fs/cgroup"),
    DURATION("ECS_CGROUP_CPU_PERIOD", cgroup_cpu_period_usec, 100 * USEC_MS, 8 * USEC_MS,
             100 * USEC_MS, BOUND_DEFAULT),
    /* 4194304 is the kernel's PID_MAX_LIMIT. */
    UINT("ECS_TASK_PIDS_LIMIT", task_pids_limit, 0, 1, 4194304, BOUND_ERROR),

    DURATION("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", task_cleanup_wait_usec, 3 * USEC_HOUR, USEC_S,
             0, BOUND_DEFAULT),
    DURATION("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER", task_cleanup_wait_jitter_usec, 0, 0, 0,
             BOUND_RAISE),
    BOOL("ECS_DISABLE_IMAGE_CLEANUP", image_cleanup_disabled, false),
    DURATION("ECS_IMAGE_CLEANUP_INTERVAL", image_cleanup_interval_usec, 30 * USEC_MIN,
             10 * USEC_MIN, 0, BOUND_DEFAULT),
    DURATION("ECS_IMAGE_MINIMUM_CLEANUP_AGE", image_minimum_cleanup_age_usec, USEC_HOUR, 0, 0,
             BOUND_RAISE),
    UINT("ECS_NUM_IMAGES_DELETE_PER_CYCLE", num_images_delete_per_cycle, 5, 1, 0, BOUND_DEFAULT),

    BOOL("ECS_DISABLE_METRICS", metrics_disabled, false),
    BOOL("ECS_POLL_METRICS", poll_metrics, false),
    BOOL("ECS_ENABLE_PROMETHEUS_METRICS", prometheus_metrics, false),
    BOOL("ECS_ENABLE_CONTAINER_METADATA", container_metadata, false),
    CUSTOM("ECS_TASK_METADATA_RPS_LIMIT", parse_rps_limit, dump_rps_limit, 0),
    BOOL("ECS_DISABLE_TASK_METADATA_AZ", task_metadata_az_disabled, false),
    BOOL("ECS_EXCLUDE_IPV6_PORTBINDING", exclude_ipv6_portbinding, true),
    STRING("ECS_AGENT_HEALTHCHECK_HOST", healthcheck_host, "localhost", check_no_blanks, 0),
    STRING("ECS_PAUSE_IMAGE_TARBALL", pause_image_tarball, "", NULL, 0),

    BOOL("ECS_UPDATES_ENABLED", updates_enabled, false),
    BOOL("ECS_ENABLE_SPOT_INSTANCE_DRAINING", spot_instance_draining, false),
    BOOL("ECS_WARM_POOLS_CHECK", warm_pools_check, false),
    CUSTOM("ECS_ENGINE_AUTH_TYPE", parse_auth_type, dump_auth_type, 0),
    CUSTOM("ECS_ENGINE_AUTH_DATA", parse_auth_data, dump_auth_data, F_SECRET),
    CUSTOM("ECS_PAUSE_LABELS", parse_pause_labels, dump_pause_labels, 0),
};

static const struct setting *find_setting(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (streq(settings[i].name, name) ||
                    (settings[i].alias && streq(settings[i].alias, name)))
                        return &settings[i];
        return NULL;
}

static int apply(struct ctx *x, const struct setting *s, const char *value)
{
        switch (s->kind) {
        case KIND_STRING:
        case KIND_PATH:
                return set_string(x, s, value);
        case KIND_BOOL:
                return set_bool(x, s, value);
        case KIND_DURATION:
                return set_duration(x, s, value);
        case KIND_UINT:
                return set_uint(x, s, value);
        case KIND_CUSTOM:
        default:
                return s->parse(x, s, value);
        }
}

/* ---- loading ------------------------------------------------------------------------ */

static bool is_unsupported_key(const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(unsupported_keys); i++)
                if (streq(unsupported_keys[i], key))
                        return true;
        return false;
}

/* Tells the operator about what is ignored. Keys only: values may be secrets. */
static void report_ignored(struct ctx *x)
{
        for (size_t i = 0; i < ELEMENTSOF(unsupported_keys); i++) {
                const char *k = unsupported_keys[i];

                if (!isempty(env_get(x->in->envp, k)) || !isempty(file_get(x->in, k)))
                        log_warning("%s is not supported by this agent and is ignored.", k);
        }
        for (size_t i = 0; i < x->in->n_file_pairs; i++) {
                const char *k = x->in->file_pairs[i].key, *p = k;
                size_t n = strlen(k);
                char trimmed_key[128];

                if (find_setting(k) || is_unsupported_key(k))
                        continue;
                config_trim_space(&p, &n);
                if (n != strlen(k) && n < sizeof(trimmed_key)) {
                        memcpy(trimmed_key, p, n);
                        trimmed_key[n] = 0;
                        if (find_setting(trimmed_key)) {
                                log_warning("Ignoring \"%s\" in %s: ecs.config allows no blanks "
                                            "between the key and '='.",
                                            k, file_label(x));
                                continue;
                        }
                }
                log_debug("Ignoring unknown key \"%s\" in %s.", k, file_label(x));
        }
}

static int add_port(uint16_t **ports, size_t *n, uint16_t port)
{
        uint16_t *a;

        for (size_t i = 0; i < *n; i++)
                if ((*ports)[i] == port)
                        return 0;
        a = reallocarray(*ports, *n + 1, sizeof(uint16_t));
        if (!a)
                return -ENOMEM;
        a[(*n)++] = port;
        *ports = a;
        return 0;
}

/* Rules that involve more than one setting. */
static int finalize(struct ctx *x)
{
        struct ecs_config *c = x->c;
        int r;

        if (c->external && !c->aws_region) {
                x->err->key = "AWS_DEFAULT_REGION";
                snprintf(x->err->message, sizeof(x->err->message),
                         "Missing value for AWS_DEFAULT_REGION: required when ECS_EXTERNAL=true "
                         "(there is no instance metadata to ask)");
                return -EINVAL;
        }
        if (c->external && c->task_eni) {
                /* ecs-init forces this: no ENIs can be attached off EC2. */
                log_warning("ECS_ENABLE_TASK_ENI is not available with ECS_EXTERNAL=true; "
                            "disabled.");
                c->task_eni = false;
        }
        if (c->prometheus_metrics) {
                r = add_port(&c->reserved_ports, &c->n_reserved_ports, PROMETHEUS_PORT);
                if (r < 0)
                        return r;
        }
        if (c->engine_auth_type != ECS_ENGINE_AUTH_TYPE_NONE && !c->engine_auth_data)
                log_warning("ECS_ENGINE_AUTH_TYPE is set but ECS_ENGINE_AUTH_DATA is not; no "
                            "static registry credentials will be used.");
        if (c->engine_auth_type == ECS_ENGINE_AUTH_TYPE_NONE && c->engine_auth_data)
                log_warning("ECS_ENGINE_AUTH_DATA is set without ECS_ENGINE_AUTH_TYPE; ignored.");
        return 0;
}

int ecs_config_build(const struct ecs_config_input *in, struct ecs_config *ret,
                     struct ecs_config_error *err)
{
        struct ecs_config c = {};
        struct ctx x = {.c = &c, .err = err, .in = in};
        int r = 0;

        err->key = NULL;
        err->message[0] = 0;

        /* The static credentials are one identity: never pair an access key from the
         * environment with a secret from the file. */
        x.creds_from_env = !isempty(env_get(in->envp, "AWS_ACCESS_KEY_ID"));

        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const struct setting *s = &settings[i];
                const char *v = lookup(&x, s);

                if (v && strlen(v) > VALUE_MAX) {
                        r = fail(&x, s, v, "longer than %d bytes", VALUE_MAX);
                        break;
                }
                r = apply(&x, s, v);
                if (r < 0)
                        break;
        }
        if (r >= 0) {
                x.source = NULL;
                r = finalize(&x);
        }
        if (r < 0) {
                if (r == -ENOMEM && !err->message[0])
                        snprintf(err->message, sizeof(err->message),
                                 "Out of memory while loading the configuration");
                ecs_config_done(&c);
                return r;
        }
        report_ignored(&x);
        *ret = c;
        return 0;
}

static int read_config_file(const char *path, struct ecs_config_kv **pairs, size_t *n)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = read_file_full(path, CONFIG_FILE_MAX, &data, &len);
        if (r < 0)
                return r;
        return ecs_config_parse_file_data(data, len, pairs, n);
}

static int file_error(struct ecs_config_error *err, const char *path, int r)
{
        err->key = NULL;
        if (r == -EBADMSG)
                snprintf(err->message, sizeof(err->message),
                         "Failed to read config file %s: it contains a NUL byte", path);
        else if (r == -EFBIG)
                snprintf(err->message, sizeof(err->message),
                         "Failed to read config file %s: larger than %d bytes", path,
                         CONFIG_FILE_MAX);
        else
                snprintf(err->message, sizeof(err->message), "Failed to read config file %s: %s",
                         path, strerror(-r));
        return r;
}

int ecs_config_load(const char *path, char **envp, struct ecs_config *ret,
                    struct ecs_config_error *err)
{
        static const char *const default_paths[] = {ECS_CONFIG_INSTANCE_DEFAULT_PATH,
                                                    ECS_CONFIG_DEFAULT_PATH};
        struct ecs_config_kv *pairs = NULL;
        size_t n = 0;
        char label[256] = "";
        int r = 0;

        if (path) {
                r = read_config_file(path, &pairs, &n);
                if (r < 0) {
                        ecs_config_kv_free_many(pairs, n);
                        return file_error(err, path, r);
                }
                snprintf(label, sizeof(label), "%s", path);
        } else {
                /* ecs-init reads both and ignores a missing file; so do we. */
                for (size_t i = 0; i < ELEMENTSOF(default_paths); i++) {
                        r = read_config_file(default_paths[i], &pairs, &n);
                        if (r == -ENOENT) {
                                log_debug("No config file %s.", default_paths[i]);
                                continue;
                        }
                        if (r < 0) {
                                ecs_config_kv_free_many(pairs, n);
                                return file_error(err, default_paths[i], r);
                        }
                        snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%s",
                                 label[0] ? " or " : "", default_paths[i]);
                }
        }

        r = ecs_config_build(
            &(struct ecs_config_input){
                .file_pairs = pairs,
                .n_file_pairs = n,
                .file_label = label[0] ? label : NULL,
                .envp = envp ?: environ,
            },
            ret, err);
        ecs_config_kv_free_many(pairs, n);
        return r;
}

void ecs_config_done(struct ecs_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const struct setting *s = &settings[i];

                if (s->kind == KIND_STRING || s->kind == KIND_PATH)
                        free(*FIELD(c, s, char *));
        }
        free(c->backend_host);
        free(c->docker_host);
        free(c->docker_socket_path);
        free(c->reserved_ports);
        free(c->reserved_ports_udp);
        free(c->detailed_os_family);
        free(c->engine_auth_data);
        strv_free(c->available_logging_drivers);
        strv_free(c->volume_plugin_capabilities);
        strv_free(c->awsvpc_additional_local_routes);
        ecs_config_kv_free_many(c->instance_attributes, c->n_instance_attributes);
        ecs_config_kv_free_many(c->container_instance_tags, c->n_container_instance_tags);
        ecs_config_kv_free_many(c->pause_labels, c->n_pause_labels);
        *c = (struct ecs_config){};
}

void ecs_config_dump(const struct ecs_config *c, FILE *f)
{
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const struct setting *s = &settings[i];
                char buf[64];

                fprintf(f, "%s=", s->name);
                switch (s->kind) {
                case KIND_STRING:
                case KIND_PATH: {
                        const char *v = *CFIELD(c, s, char *);

                        if (v && (s->flags & F_SECRET))
                                v = REDACTED;
                        fputs(strempty(v), f);
                        break;
                }
                case KIND_BOOL:
                        fputs(*CFIELD(c, s, bool) ? "true" : "false", f);
                        break;
                case KIND_DURATION:
                        config_format_duration(*CFIELD(c, s, uint64_t), buf, sizeof(buf));
                        fputs(buf, f);
                        break;
                case KIND_UINT:
                        /* An unset pids limit prints as empty, which reads back as unset. */
                        if (*CFIELD(c, s, uint32_t) || s->min == 0)
                                fprintf(f, "%u", (unsigned)*CFIELD(c, s, uint32_t));
                        break;
                case KIND_CUSTOM:
                default:
                        s->dump(c, f);
                        break;
                }
                fputc('\n', f);
        }
}
