/* One parser and one printer per kind of setting, driven by the row of the table: a value
 * (or NULL for the default) goes into the row's field, and the field prints back as text
 * that reads back to the same value. */
#include <stdarg.h>

#include "config-internal.h"
#include "ecs/log.h"
#include "ecs/macro.h"
#include "ecs/netenv.h"
#include "ecs/strbuf.h"

/* ---- error reporting ---------------------------------------------------------------- */

/* v as the dump and error messages may show it: secrets redacted, URL passwords hidden. */
static const char *shown_value(const struct config_setting *s, const char *v, char *buf,
                               size_t size)
{
        if (v && (s->flags & F_SECRET))
                return CONFIG_REDACTED;
        if (v && (s->flags & F_URL_CREDS)) {
                ecs_url_redact(v, buf, size);
                return buf;
        }
        return v;
}

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

int config_fail(struct config_ctx *x, const struct config_setting *s, const char *value,
                const char *fmt, ...)
{
        char quoted[256], why[320];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);

        char shown[sizeof(quoted) - 8];
        const char *v = shown_value(s, strempty(value), shown, sizeof(shown));

        if (s->flags & F_SECRET)
                snprintf(quoted, sizeof(quoted), "%s", v);
        else
                quote_value(v, quoted, sizeof(quoted));
        x->err->key = x->key ?: s->name;
        snprintf(x->err->message, sizeof(x->err->message),
                 "Invalid value for %s: %s: %s (set in %s)", x->err->key, quoted, why,
                 strna(x->source));
        return -EINVAL;
}

/* ---- small shared helpers ----------------------------------------------------------- */

int config_set_owned(char **field, const char *v)
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

char *config_trimmed(const char *value)
{
        const char *p = value;
        size_t n = strlen(value);

        config_trim_space(&p, &n);
        return strndup(p, n);
}

int config_enum_lookup(const char *const *names, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(names[i], s))
                        return (int)i;
        return -EINVAL;
}

/* ---- scalar kinds ------------------------------------------------------------------- */

static int set_string(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        char **field = CONFIG_FIELD(x->c, s, char *);
        const char *p = value;
        size_t n;
        char *copy;

        if (!value)
                return config_set_owned(field, s->def_str);
        n = strlen(value);
        if (s->kind == KIND_STRING && !(s->flags & F_NOTRIM))
                config_trim_space(&p, &n);
        if (n == 0)
                return set_string(x, s, NULL);
        copy = strndup(p, n);
        if (!copy)
                return -ENOMEM;
        if (config_has_control_chars(copy)) {
                free(copy);
                return config_fail(x, s, value, "contains control characters");
        }
        if (s->kind == KIND_PATH && copy[0] != '/') {
                free(copy);
                return config_fail(x, s, value, "not an absolute path");
        }
        if (s->check) {
                char why[200];

                if (!s->check(copy, why, sizeof(why))) {
                        free(copy);
                        return config_fail(x, s, value, "%s", why);
                }
        }
        free(*field);
        *field = copy;
        return 0;
}

static int set_bool(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        bool *field = CONFIG_FIELD(x->c, s, bool);

        if (!value) {
                *field = s->def;
                return 0;
        }
        if (ecs_parse_go_bool(value, field) < 0)
                return config_fail(
                    x, s, value,
                    "not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)");
        return 0;
}

static void warn_bound(const struct config_setting *s, const char *value, uint64_t used,
                       bool duration)
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
static int apply_bounds(struct config_ctx *x, const struct config_setting *s, const char *value,
                        uint64_t *v, bool duration)
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
                        return config_fail(x, s, value, "out of range %llu..%llu",
                                           (unsigned long long)s->min, (unsigned long long)s->max);
                return config_fail(x, s, value, "below the minimum of %llu",
                                   (unsigned long long)s->min);
        }
        warn_bound(s, value, *v, duration);
        return 0;
}

static int set_duration(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        uint64_t *field = CONFIG_FIELD(x->c, s, uint64_t), v;
        int r;

        if (!value) {
                *field = s->def;
                return 0;
        }
        r = ecs_parse_go_duration(value, &v);
        if (r == -ERANGE && value[0] == '-')
                return config_fail(x, s, value, "negative durations are not allowed");
        if (r == -ERANGE)
                return config_fail(x, s, value, "duration out of range");
        if (r < 0)
                return config_fail(x, s, value,
                                   "not a duration (a number with a unit ns, us, ms, s, m or h, "
                                   "e.g. 90s or 1h30m)");
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

static int set_uint(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        uint32_t *field = CONFIG_FIELD(x->c, s, uint32_t);
        uint64_t v;
        int r;

        if (!value) {
                *field = (uint32_t)s->def;
                return 0;
        }
        r = config_parse_uint(value, UINT32_MAX, &v);
        if (r == -ERANGE)
                return config_fail(x, s, value, "number too large");
        if (r < 0)
                return config_fail(x, s, value, "not a non-negative integer");
        r = apply_bounds(x, s, value, &v, false);
        if (r < 0)
                return r;
        *field = (uint32_t)v;
        return 0;
}

static int set_enum(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        int *field = CONFIG_FIELD(x->c, s, int);
        _cleanup_free_ char *v = NULL;
        char names[200] = "";
        int i;

        if (!value) {
                *field = (int)s->def;
                return 0;
        }
        if (!(s->flags & F_NOTRIM)) {
                v = config_trimmed(value);
                if (!v)
                        return -ENOMEM;
        }
        i = config_enum_lookup(s->names, s->n_names, v ?: value);
        if (i >= 0) {
                *field = i;
                return 0;
        }
        for (size_t k = 0; k < s->n_names; k++)
                if (s->names[k])
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                                 names[0] ? ", " : "", s->names[k]);
        return config_fail(x, s, value, "not one of %s", names);
}

/* ---- JSON kinds --------------------------------------------------------------------- */

int config_parse_json_typed(struct config_ctx *x, const struct config_setting *s, const char *value,
                            json_type want, json_object **ret)
{
        json_object *o = NULL;

        if (json_parse(value, strlen(value), &o) < 0)
                return config_fail(x, s, value, "not valid JSON");
        if (!json_object_is_type(o, want)) {
                json_object_put(o);
                return config_fail(x, s, value, "not a JSON %s",
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

static int parse_port_list(struct config_ctx *x, const struct config_setting *s, const char *value,
                           uint16_t **ret, size_t *ret_n)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ uint16_t *ports = NULL;
        size_t n = 0, len;
        int r;

        r = config_parse_json_typed(x, s, value, json_type_array, &o);
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
                        return config_fail(x, s, value, "element %zu is not an integer port",
                                           i + 1);
                p = json_object_get_int64(e);
                if (p < 1 || p > 65535)
                        return config_fail(x, s, value, "port %lld out of range 1..65535",
                                           (long long)p);
                for (size_t j = 0; j < n; j++)
                        dup = dup || ports[j] == p;
                if (!dup)
                        ports[n++] = (uint16_t)p;
        }
        *ret = TAKE_PTR(ports);
        *ret_n = n;
        return 0;
}

static int copy_ports(uint16_t **field, size_t *n_field, const uint16_t *ports, size_t n)
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

static int set_ports(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        uint16_t **field = CONFIG_FIELD(x->c, s, uint16_t *), *ports = NULL;
        size_t *n_field = CONFIG_FIELD_N(x->c, s), n = 0;
        int r;

        if (value) {
                r = parse_port_list(x, s, value, &ports, &n);
                if (r < 0)
                        return r;
                if (n > 0 || s->n_def == 0) {
                        free(*field);
                        *field = ports;
                        *n_field = n;
                        return 0;
                }
                /* Official merge semantics: an empty list is "unset" and gets the default. */
                free(ports);
                log_warning("%s=[] means the default list.", s->name);
        }
        return copy_ports(field, n_field, s->def_ports, s->n_def);
}

/* JSON array of strings, each checked; an empty array yields an empty (non-NULL) list. */
static int parse_string_list(struct config_ctx *x, const struct config_setting *s,
                             const char *value, char ***ret)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t len;
        int r;

        r = config_parse_json_typed(x, s, value, json_type_array, &o);
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
                        return config_fail(x, s, value, "element %zu is not a string", i + 1);
                if (s->check && !s->check(json_object_get_string(e), why, sizeof(why)))
                        return config_fail(x, s, value, "%s", why);
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

static int set_strv(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        char ***field = CONFIG_FIELD(x->c, s, char **), **l = NULL;
        int r;

        if (value) {
                r = parse_string_list(x, s, value, &l);
                if (r < 0)
                        return r;
                if (l[0] || s->n_def == 0) {
                        strv_free(*field);
                        *field = l;
                        return 0;
                }
                strv_free(l);
                log_warning("%s=[] means the default list.", s->name);
        }
        return strv_from_list(field, s->def_strv, s->n_def);
}

/* JSON object of string values, in document order. */
static int parse_string_map(struct config_ctx *x, const struct config_setting *s, const char *value,
                            struct ecs_config_kv **ret, size_t *ret_n)
{
        _cleanup_json_ json_object *o = NULL;
        struct ecs_config_kv *kv;
        size_t n = 0, len;
        int r;

        r = config_parse_json_typed(x, s, value, json_type_object, &o);
        if (r < 0)
                return r;
        len = (size_t)json_object_object_length(o);
        if (s->max && len > s->max)
                return config_fail(x, s, value, "more than %zu entries", (size_t)s->max);
        kv = calloc(len ?: 1, sizeof(*kv));
        if (!kv)
                return -ENOMEM;
        r = 0;
        json_object_object_foreach (o, k, v) {
                char why[200];

                if (!json_string_ok(v)) {
                        r = config_fail(x, s, value, "the value of \"%.64s\" is not a string", k);
                        break;
                }
                if (s->kv_check && !s->kv_check(k, json_object_get_string(v), why, sizeof(why))) {
                        r = config_fail(x, s, value, "%s", why);
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
        *ret = kv;
        *ret_n = n;
        return 0;
}

static int set_map(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        struct ecs_config_kv **field = CONFIG_FIELD(x->c, s, struct ecs_config_kv *), *kv = NULL;
        size_t *n_field = CONFIG_FIELD_N(x->c, s), n = 0;
        int r;

        if (value) {
                r = parse_string_map(x, s, value, &kv, &n);
                if (r < 0)
                        return r;
        }
        ecs_config_kv_free_many(*field, *n_field);
        *field = kv;
        *n_field = n;
        return 0;
}

int config_setting_apply(struct config_ctx *x, const struct config_setting *s, const char *value)
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
        case KIND_ENUM:
                return set_enum(x, s, value);
        case KIND_PORTS:
                return set_ports(x, s, value);
        case KIND_STRV:
                return set_strv(x, s, value);
        case KIND_MAP:
                return set_map(x, s, value);
        case KIND_CUSTOM:
        default:
                return s->custom->parse(x, s, value);
        }
}

/* ---- printing and freeing ----------------------------------------------------------- */

static void dump_json(json_object *o, FILE *f)
{
        if (o)
                fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE),
                      f);
        json_object_put(o);
}

static void dump_ports(const uint16_t *ports, size_t n, FILE *f)
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

static void dump_map(const struct ecs_config_kv *kv, size_t n, FILE *f)
{
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < n; i++)
                json_object_object_add(o, kv[i].key, json_object_new_string(kv[i].value));
        dump_json(o, f);
}

void config_setting_dump(const struct ecs_config *c, const struct config_setting *s, FILE *f)
{
        char buf[64];

        switch (s->kind) {
        case KIND_STRING:
        case KIND_PATH: {
                char shown[512];

                fputs(strempty(shown_value(s, *CONFIG_CFIELD(c, s, char *), shown, sizeof(shown))),
                      f);
                break;
        }
        case KIND_BOOL:
                fputs(*CONFIG_CFIELD(c, s, bool) ? "true" : "false", f);
                break;
        case KIND_DURATION:
                config_format_duration(*CONFIG_CFIELD(c, s, uint64_t), buf, sizeof(buf));
                fputs(buf, f);
                break;
        case KIND_UINT:
                /* An unset pids limit prints as empty, which reads back as unset. */
                if (*CONFIG_CFIELD(c, s, uint32_t) || s->min == 0)
                        fprintf(f, "%u", (unsigned)*CONFIG_CFIELD(c, s, uint32_t));
                break;
        case KIND_ENUM: {
                unsigned v = (unsigned)*CONFIG_CFIELD(c, s, int);

                fputs(strempty(v < s->n_names ? s->names[v] : NULL), f);
                break;
        }
        case KIND_PORTS:
                dump_ports(*CONFIG_CFIELD(c, s, uint16_t *), *CONFIG_CFIELD_N(c, s), f);
                break;
        case KIND_STRV:
                dump_strv(*CONFIG_CFIELD(c, s, char **), f);
                break;
        case KIND_MAP:
                dump_map(*CONFIG_CFIELD(c, s, struct ecs_config_kv *), *CONFIG_CFIELD_N(c, s), f);
                break;
        case KIND_CUSTOM:
        default:
                s->custom->dump(c, f);
                break;
        }
}

void config_setting_done(struct ecs_config *c, const struct config_setting *s)
{
        switch (s->kind) {
        case KIND_STRING:
        case KIND_PATH:
                free(*CONFIG_FIELD(c, s, char *));
                break;
        case KIND_PORTS:
                free(*CONFIG_FIELD(c, s, uint16_t *));
                break;
        case KIND_STRV:
                strv_free(*CONFIG_FIELD(c, s, char **));
                break;
        case KIND_MAP:
                ecs_config_kv_free_many(*CONFIG_FIELD(c, s, struct ecs_config_kv *),
                                        *CONFIG_FIELD_N(c, s));
                break;
        default:
                break;
        }
}
