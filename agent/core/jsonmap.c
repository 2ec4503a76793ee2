/* The decoder and the destructor for every table of include/ecs/jsonmap.h, and the reasons
 * and paths decoding records (the encoder is in jsonmap-encode.c). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"

/* Integral doubles below this are integers on the wire (1.0); beyond it a double has lost
 * precision already. */
#define EXACT_DOUBLE_MAX 9.0e15

/* ---- reasons and paths ---- */

static int vfail(struct jsonmap_ctx *c, int r, const char *subject, const char *sep,
                 const char *fmt, va_list ap)
{
        size_t off = 0;

        if (c->reason[0])
                return r;
        if (subject) {
                int n = snprintf(c->reason, sizeof(c->reason), "%s%s", subject, sep);
                off = n < 0 ? 0 : MIN((size_t)n, sizeof(c->reason) - 1);
        }
        vsnprintf(c->reason + off, sizeof(c->reason) - off, fmt, ap);
        return r;
}

int jsonmap_fail(struct jsonmap_ctx *c, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = vfail(c, r, c->path_len ? c->path : NULL, ": ", fmt, ap);
        va_end(ap);
        return r;
}

/* "<path> <what>": the member named by the path is what is wrong with it. */
int jsonmap_fail_member(struct jsonmap_ctx *c, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = vfail(c, r, c->path_len ? c->path : "document", " ", fmt, ap);
        va_end(ap);
        return r;
}

static int oom(struct jsonmap_ctx *c)
{
        return jsonmap_fail(c, -ENOMEM, "out of memory");
}

void jsonmap_prepend(struct jsonmap_ctx *c, const char *prefix)
{
        size_t pl = strlen(prefix) + 2, rl = strlen(c->reason);

        if (pl >= sizeof(c->reason))
                return;
        if (pl + rl >= sizeof(c->reason))
                rl = sizeof(c->reason) - pl - 1;
        memmove(c->reason + pl, c->reason, rl);
        c->reason[pl + rl] = 0;
        memcpy(c->reason, prefix, pl - 2);
        memcpy(c->reason + pl - 2, ": ", 2);
}

const char *jsonmap_quote(const char *s, char buf[static 48])
{
        size_t n = 0;

        if (!s)
                return "(null)";
        for (; *s && n < 40; s++)
                buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
        if (*s) {
                buf[n++] = '.';
                buf[n++] = '.';
                buf[n++] = '.';
        }
        buf[n] = 0;
        return buf;
}

static size_t path_push(struct jsonmap_ctx *c, const char *fmt, ...) _printf_(2, 3);
static size_t path_push(struct jsonmap_ctx *c, const char *fmt, ...)
{
        size_t old = c->path_len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
        va_end(ap);
        c->path_len = n < 0 ? old : MIN(old + (size_t)n, sizeof(c->path) - 1);
        return old;
}

static size_t path_push_key(struct jsonmap_ctx *c, const char *key)
{
        return path_push(c, "%s%s", c->path_len ? "." : "", key);
}

static void path_pop(struct jsonmap_ctx *c, size_t old)
{
        c->path_len = old;
        c->path[old] = 0;
}

void jsonmap_ctx_init(struct jsonmap_ctx *c, const char *root, const struct jsonmap_limits *lim)
{
        *c = (struct jsonmap_ctx){};
        if (lim)
                c->limits = *lim;
        if (root)
                path_push(c, "%s", root);
}

void jsonmap_truncate_utf8(char *s, size_t max)
{
        size_t n = strlen(s);

        if (n <= max)
                return;
        /* Back up over continuation bytes (10xxxxxx) so no sequence is cut in half. */
        while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
                max--;
        s[max] = 0;
}

static void done_array(const struct jsonmap_field *f, void *p, size_t *count);

/* ---- decoding ---- */

static size_t string_limit(const struct jsonmap_ctx *c, const struct jsonmap_field *f)
{
        return f->limit ? f->limit : c->limits.max_string;
}

static size_t items_limit(const struct jsonmap_ctx *c, const struct jsonmap_field *f)
{
        return f->limit ? f->limit : c->limits.max_items;
}

/* A string value within the field's limit, without embedded NUL. */
static int string_value(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                        const char **ret, size_t *ret_len)
{
        size_t len, max = string_limit(c, f);
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return jsonmap_fail_member(c, -EINVAL, "is not a string");
        s = json_object_get_string(v);
        len = (size_t)json_object_get_string_len(v);
        if (max && len > max)
                return jsonmap_fail_member(c, -E2BIG, "is longer than %zu bytes", max);
        if (strlen(s) != len)
                return jsonmap_fail_member(c, -EINVAL, "contains a NUL character");
        *ret = s;
        *ret_len = len;
        return 0;
}

static char *wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

static void string_set(const struct jsonmap_field *f, char **p, char *s)
{
        if (f->flags & JSONMAP_SECRET)
                wipe_free(*p);
        else
                free(*p);
        *p = s;
}

static int decode_string(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                         char **p)
{
        const char *s = "";
        size_t len = 0;
        char *copy;
        int r;

        if (!v && !(f->flags & JSONMAP_EMPTY_IF_ABSENT))
                return 0;
        if (v && (r = string_value(c, f, v, &s, &len)) < 0)
                return r;
        if (v && len == 0 && (f->flags & JSONMAP_REQUIRED))
                return jsonmap_fail_member(c, -EINVAL, "is empty");
        if (len == 0 && (f->flags & JSONMAP_NULL_IF_EMPTY)) {
                string_set(f, p, NULL);
                return 0;
        }
        copy = strndup(s, len);
        if (!copy)
                return oom(c);
        string_set(f, p, copy);
        return 0;
}

static int decode_chars(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                        char *p)
{
        const char *s;
        size_t len;
        int r;

        r = string_value(c, f, v, &s, &len);
        if (r < 0)
                return r;
        if (len >= f->size)
                return jsonmap_fail_member(c, -E2BIG, "is longer than %zu bytes", f->size - 1);
        memcpy(p, s, len + 1);
        return 0;
}

static int check_count(struct jsonmap_ctx *c, const struct jsonmap_field *f, size_t n)
{
        size_t max = items_limit(c, f);

        if (max && n > max)
                return jsonmap_fail_member(c, -E2BIG, "has more than %zu entries", max);
        return 0;
}

/* The start of a list of strings from a JSON array or object v: its type and size checked,
 * and either *ret allocated for n entries plus NULL (1), or, for an empty one with
 * JSONMAP_NULL_IF_EMPTY, the list at p cleared (0). */
static int strv_begin(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                      bool object, char ***p, char ***ret)
{
        size_t n;
        int r;

        if (!json_object_is_type(v, object ? json_type_object : json_type_array))
                return jsonmap_fail_member(c, -EINVAL, "is not an %s", object ? "object" : "array");
        n = object ? (size_t)json_object_object_length(v) : json_object_array_length(v);
        if ((r = check_count(c, f, n)) < 0)
                return r;
        if (n == 0 && (f->flags & JSONMAP_NULL_IF_EMPTY)) {
                *p = strv_free(*p);
                return 0;
        }
        *ret = calloc(n + 1, sizeof(char *));
        return *ret ? 1 : oom(c);
}

static void strv_set(char ***p, char **l)
{
        strv_free(*p);
        *p = l;
}

static int decode_strv(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                       char ***p)
{
        _cleanup_strv_free_ char **l = NULL;
        int r = strv_begin(c, f, v, false, p, &l);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                size_t old = path_push(c, "[%zu]", i), len = 0;
                const char *s = NULL;

                r = e ? string_value(c, f, e, &s, &len)
                      : jsonmap_fail_member(c, -EINVAL, "is not a string");
                path_pop(c, old);
                if (r < 0)
                        return r;
                if (!(l[i] = strndup(s, len)))
                        return oom(c);
        }
        strv_set(p, TAKE_PTR(l));
        return 0;
}

static int decode_kv(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                     char ***p)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t i = 0, max = string_limit(c, f);
        int r = strv_begin(c, f, v, true, p, &l);

        if (r <= 0)
                return r;
        /* json-c keeps members in wire order. */
        json_object_object_foreach (v, k, e) {
                const char *s = "";
                size_t len = 0, old;
                char q[48];

                if (!*k || strchr(k, '='))
                        return jsonmap_fail_member(c, -EINVAL, "has an invalid key '%s'",
                                                   jsonmap_quote(k, q));
                if (max && strlen(k) > max)
                        return jsonmap_fail_member(c, -E2BIG, "has a key longer than %zu bytes",
                                                   max);
                old = path_push(c, ".%s", jsonmap_quote(k, q));
                r = e ? string_value(c, f, e, &s, &len) : 0; /* null reads as "" */
                path_pop(c, old);
                if (r < 0)
                        return r;
                if (asprintf(&l[i], "%s=%.*s", k, (int)len, s) < 0) {
                        l[i] = NULL;
                        return oom(c);
                }
                i++;
        }
        strv_set(p, TAKE_PTR(l));
        return 0;
}

/* The C type's range per integer kind; kinds not listed take int64's. */
static const struct {
        int64_t min, max;
} int_ranges[] = {
    [JSONMAP_U16] = {0, UINT16_MAX},        [JSONMAP_U32] = {0, UINT32_MAX},
    [JSONMAP_I32] = {INT32_MIN, INT32_MAX}, [JSONMAP_INT_ARRAY] = {INT32_MIN, INT32_MAX},
    [JSONMAP_U64] = {0, INT64_MAX},
};

static void int_range(const struct jsonmap_field *f, int64_t *ret_min, int64_t *ret_max)
{
        *ret_min = INT64_MIN, *ret_max = INT64_MAX;
        if (f->min != 0 || f->max != 0)
                *ret_min = f->min, *ret_max = f->max;
        else if ((size_t)f->kind < ELEMENTSOF(int_ranges) &&
                 (int_ranges[f->kind].min != 0 || int_ranges[f->kind].max != 0))
                *ret_min = int_ranges[f->kind].min, *ret_max = int_ranges[f->kind].max;
}

/* An integer (or integral double) within the field's range. json-c clamps integers below
 * int64 to INT64_MIN, which every narrower range refuses. */
static int integer_value(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                         int64_t *ret)
{
        int64_t x, min, max;
        bool too_big = false;

        if (json_object_is_type(v, json_type_int)) {
                x = json_object_get_int64(v);
                /* json-c holds what int64 cannot as uint64 (or clamps it to UINT64_MAX): it
                 * would read as INT64_MAX. */
                too_big = x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX;
        } else if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                if (!isfinite(d) || d != floor(d) || fabs(d) >= EXACT_DOUBLE_MAX)
                        return jsonmap_fail_member(c, -EINVAL, "is not an integer");
                x = (int64_t)d;
        } else
                return jsonmap_fail_member(c, -EINVAL, "is not an integer");
        int_range(f, &min, &max);
        if (too_big || x < min || x > max)
                return jsonmap_fail_member(c, -ERANGE, "is out of range [%" PRId64 ", %" PRId64 "]",
                                           min, max);
        *ret = x;
        return 0;
}

static int decode_integer(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                          void *p)
{
        int64_t x;
        int r = integer_value(c, f, v, &x);

        if (r < 0)
                return r;
        switch (f->kind) {
        case JSONMAP_U16:
                *(uint16_t *)p = (uint16_t)x;
                break;
        case JSONMAP_U32:
                *(uint32_t *)p = (uint32_t)x;
                break;
        case JSONMAP_I32:
                *(int32_t *)p = (int32_t)x;
                break;
        case JSONMAP_I64:
                *(int64_t *)p = x;
                break;
        default:
                *(uint64_t *)p = (uint64_t)x;
                break;
        }
        return 0;
}

static int decode_double(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                         double *p)
{
        bool ranged = f->dmin != 0 || f->dmax != 0;
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                d = NAN;
        else
                d = json_object_get_double(v);
        if (!isfinite(d) || (ranged && (d < f->dmin || d > f->dmax))) {
                if (ranged)
                        return jsonmap_fail_member(c, -EINVAL, "is not a number in [%g, %g]",
                                                   f->dmin, f->dmax);
                return jsonmap_fail_member(c, -EINVAL, "is not a number");
        }
        *p = d;
        return 0;
}

static int decode_epoch(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                        uint64_t *p)
{
        double d = NAN;

        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
                d = json_object_get_double(v);
        if (!isfinite(d) || d < 0 || d > 1.0e12)
                return jsonmap_fail_member(c, -EINVAL, "is not a time in epoch seconds");
        *p = (uint64_t)llround(d * 1e6);
        return 0;
}

static int decode_enum(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v, int *p)
{
        const char *s;
        size_t len;
        char q[48];
        int r, x;

        r = string_value(c, f, v, &s, &len);
        if (r < 0)
                return r;
        x = f->enumeration->parse(s);
        if (x < 0 && !(f->flags & JSONMAP_LENIENT))
                return jsonmap_fail_member(c, -EINVAL, "has an unknown value '%s'",
                                           jsonmap_quote(s, q));
        *p = x;
        return 0;
}

static int decode_object_ptr(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                             void **p)
{
        if (!*p) {
                *p = calloc(1, f->size);
                if (!*p)
                        return oom(c);
        }
        return jsonmap_decode(c, f->type, v, *p);
}

static int decode_array(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                        void *p, size_t *count)
{
        char **items = p; /* the element pointer, as bytes */
        size_t n;
        int r;

        if (!json_object_is_type(v, json_type_array))
                return jsonmap_fail_member(c, -EINVAL, "is not an array");
        n = json_object_array_length(v);
        if ((r = check_count(c, f, n)) < 0)
                return r;
        done_array(f, p, count);
        if (n == 0)
                return 0;
        *items = calloc(n, f->size);
        if (!*items)
                return oom(c);
        *count = n; /* zeroed entries free cleanly if decoding stops half-way */
        for (size_t i = 0; i < n; i++) {
                size_t old = path_push(c, "[%zu]", i);
                r = jsonmap_decode(c, f->type, json_object_array_get_idx(v, i),
                                   *items + i * f->size);
                path_pop(c, old);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_int_array(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                            int **p, size_t *count)
{
        size_t n;
        int r;

        if (!json_object_is_type(v, json_type_array))
                return jsonmap_fail_member(c, -EINVAL, "is not an array");
        n = json_object_array_length(v);
        if ((r = check_count(c, f, n)) < 0 || n == 0)
                return r;
        *p = calloc(n, sizeof(int));
        if (!*p)
                return oom(c);
        *count = n;
        for (size_t i = 0; i < n; i++) {
                size_t old = path_push(c, "[%zu]", i);
                json_object *e = json_object_array_get_idx(v, i);
                int64_t x = 0;
                r = e ? integer_value(c, f, e, &x)
                      : jsonmap_fail_member(c, -EINVAL, "is not an integer");
                path_pop(c, old);
                if (r < 0)
                        return r;
                (*p)[i] = (int)x;
        }
        return 0;
}

static bool is_empty_value(json_object *v)
{
        return (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) ||
               (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
}

/* Kinds whose absence leaves the field as it is, or for strings as the flags say. */
static int decode_present(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *v,
                          void *base)
{
        char *p = (char *)base + f->offset;

        switch (f->kind) {
        case JSONMAP_STRING:
                return decode_string(c, f, v, (char **)p);
        case JSONMAP_CHARS:
                return decode_chars(c, f, v, p);
        case JSONMAP_STRV:
                return decode_strv(c, f, v, (char ***)p);
        case JSONMAP_KV:
                return decode_kv(c, f, v, (char ***)p);
        case JSONMAP_BOOL:
                if (!json_object_is_type(v, json_type_boolean))
                        return jsonmap_fail_member(c, -EINVAL, "is not a boolean");
                *(bool *)p = json_object_get_boolean(v);
                return 0;
        case JSONMAP_U16:
        case JSONMAP_U32:
        case JSONMAP_I32:
        case JSONMAP_I64:
        case JSONMAP_U64:
                return decode_integer(c, f, v, p);
        case JSONMAP_DOUBLE:
                return decode_double(c, f, v, (double *)p);
        case JSONMAP_EPOCH:
                return decode_epoch(c, f, v, (uint64_t *)p);
        case JSONMAP_ENUM:
                return decode_enum(c, f, v, (int *)p);
        case JSONMAP_OBJECT:
                return jsonmap_decode(c, f->type, v, p);
        case JSONMAP_OBJECT_PTR:
                return decode_object_ptr(c, f, v, (void **)p);
        case JSONMAP_ARRAY:
                return decode_array(c, f, v, p, (size_t *)((char *)base + f->count_offset));
        case JSONMAP_INT_ARRAY:
                return decode_int_array(c, f, v, (int **)p,
                                        (size_t *)((char *)base + f->count_offset));
        case JSONMAP_REFUSE:
                if (is_empty_value(v))
                        return 0;
                return jsonmap_fail_member(c, -EOPNOTSUPP, "is not supported yet");
        case JSONMAP_CUSTOM:
                return f->decode(c, v, p);
        }
        return jsonmap_fail_member(c, -EINVAL, "has no decoder");
}

static int decode_field(struct jsonmap_ctx *c, const struct jsonmap_field *f, json_object *o,
                        void *base)
{
        json_object *v = json_get(o, f->name); /* NULL for JSON null too */
        int r = 0;

        if (!v && (f->flags & JSONMAP_REQUIRED))
                return jsonmap_fail_member(c, -EINVAL, "is not set");
        if (v || f->kind == JSONMAP_STRING)
                r = decode_present(c, f, v, base);
        if (r >= 0 && f->check)
                r = f->check(c, base, (char *)base + f->offset);
        return r;
}

int jsonmap_decode(struct jsonmap_ctx *c, const struct jsonmap_type *t, json_object *o, void *obj)
{
        int r;

        if (!o || !json_object_is_type(o, json_type_object))
                return jsonmap_fail_member(c, -EINVAL, "is not an object");
        if (t->init)
                t->init(obj);
        for (const struct jsonmap_field *f = t->fields; f->name; f++) {
                size_t old;

                old = path_push_key(c, f->name);
                r = decode_field(c, f, o, obj);
                path_pop(c, old);
                if (r < 0)
                        return r;
        }
        return t->check ? t->check(c, o, obj) : 0;
}

int jsonmap_decode_member(struct jsonmap_ctx *c, const struct jsonmap_type *t, json_object *parent,
                          const char *key, bool required, void *obj)
{
        const struct jsonmap_field f = {
            .name = key,
            .kind = JSONMAP_OBJECT,
            .flags = required ? JSONMAP_REQUIRED : 0,
            .type = t,
        };
        size_t old = path_push_key(c, key);
        int r = decode_field(c, &f, parent, obj);

        path_pop(c, old);
        return r;
}

/* ---- freeing ---- */

static void done_strv(const struct jsonmap_field *f, char ***p)
{
        if ((f->flags & JSONMAP_SECRET) && *p)
                for (char **s = *p; *s; s++)
                        explicit_bzero(*s, strlen(*s));
        *p = strv_free(*p);
}

static void done_array(const struct jsonmap_field *f, void *p, size_t *count)
{
        char **items = p;

        for (size_t i = 0; *items && i < *count; i++)
                jsonmap_done(f->type, *items + i * f->size);
        *items = mfree(*items);
        *count = 0;
}

void jsonmap_done(const struct jsonmap_type *t, void *obj)
{
        if (!obj)
                return;
        for (const struct jsonmap_field *f = t->fields; f->name; f++) {
                char *p = (char *)obj + f->offset;

                switch (f->kind) {
                case JSONMAP_STRING:
                        string_set(f, (char **)p, NULL);
                        break;
                case JSONMAP_STRV:
                case JSONMAP_KV:
                        done_strv(f, (char ***)p);
                        break;
                case JSONMAP_OBJECT:
                        jsonmap_done(f->type, p);
                        break;
                case JSONMAP_OBJECT_PTR:
                        jsonmap_done(f->type, *(void **)p);
                        *(void **)p = mfree(*(void **)p);
                        break;
                case JSONMAP_ARRAY:
                        done_array(f, p, (size_t *)((char *)obj + f->count_offset));
                        break;
                case JSONMAP_INT_ARRAY:
                        *(int **)p = mfree(*(int **)p);
                        *(size_t *)((char *)obj + f->count_offset) = 0;
                        break;
                case JSONMAP_CUSTOM:
                        if (f->done)
                                f->done(p);
                        break;
                default:
                        break;
                }
        }
}
