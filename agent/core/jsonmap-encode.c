/* The encoder for every table of include/ecs/jsonmap.h: members in table order, with the
 * flags' omissions and truncation. */
#include <math.h>
#include <stdio.h>

#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"

static int add_member(json_object *o, const char *key, json_object *v)
{
        if (!v)
                return -ENOMEM;
        return json_add(o, key, v);
}

static int encode_string(const struct jsonmap_field *f, const char *s,
                         const struct jsonmap_limits *lim, json_object **ret)
{
        size_t max = f->limit ? f->limit : lim ? lim->max_string : 0;

        if (!s && (f->flags & JSONMAP_NULL_AS_EMPTY))
                s = "";
        if (!s || (!*s && (f->flags & JSONMAP_OMIT_EMPTY)))
                return 0;
        if (max && strlen(s) > max) {
                if (!(f->flags & JSONMAP_TRUNCATE))
                        return -E2BIG;
                /* Enough to see a cut sequence. */
                _cleanup_free_ char *cut = strndup(s, max + 4);
                if (!cut)
                        return -ENOMEM;
                jsonmap_truncate_utf8(cut, max);
                *ret = json_object_new_string(cut);
                return *ret ? 0 : -ENOMEM;
        }
        *ret = json_object_new_string(s);
        return *ret ? 0 : -ENOMEM;
}

static int encode_strv(const struct jsonmap_field *f, char *const *l,
                       const struct jsonmap_limits *lim, bool kv, json_object **ret)
{
        size_t max_items = f->limit ? f->limit : lim ? lim->max_items : 0;
        size_t max_len = lim ? lim->max_string : 0, n = 0;
        _cleanup_json_ json_object *a = NULL;

        if (!l || (!*l && (f->flags & JSONMAP_OMIT_EMPTY)))
                return 0;
        a = kv ? json_object_new_object() : json_object_new_array();
        if (!a)
                return -ENOMEM;
        for (char *const *s = l; *s; s++) {
                int r;
                if ((max_items && ++n > max_items) || (max_len && strlen(*s) > max_len))
                        return -E2BIG;
                if (kv) {
                        const char *eq = strchr(*s, '=');
                        _cleanup_free_ char *k = eq ? strndup(*s, (size_t)(eq - *s)) : NULL;
                        if (!eq)
                                return -EINVAL;
                        if (!k)
                                return -ENOMEM;
                        r = add_member(a, k, json_object_new_string(eq + 1));
                } else
                        r = json_append(a, json_object_new_string(*s));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int encode_integer(const struct jsonmap_field *f, const void *p, json_object **ret)
{
        int64_t x;

        switch (f->kind) {
        case JSONMAP_U16:
                x = *(const uint16_t *)p;
                break;
        case JSONMAP_U32:
                x = *(const uint32_t *)p;
                break;
        case JSONMAP_I32:
                x = *(const int32_t *)p;
                break;
        case JSONMAP_I64:
                x = *(const int64_t *)p;
                break;
        default:
                if (*(const uint64_t *)p > INT64_MAX)
                        return -ERANGE;
                x = (int64_t) * (const uint64_t *)p;
                break;
        }
        if (x == 0 && (f->flags & JSONMAP_OMIT_EMPTY))
                return 0;
        *ret = json_object_new_int64(x);
        return *ret ? 0 : -ENOMEM;
}

static int encode_epoch(const struct jsonmap_field *f, uint64_t usec, json_object **ret)
{
        if (usec == 0 && (f->flags & JSONMAP_OMIT_EMPTY))
                return 0;
        *ret = json_new_epoch(usec);
        return *ret ? 0 : -ENOMEM;
}

static int encode_array(const struct jsonmap_field *f, const void *base,
                        const struct jsonmap_limits *lim, json_object **ret)
{
        size_t n = *(const size_t *)((const char *)base + f->count_offset);
        const char *items = *(char *const *)((const char *)base + f->offset);
        size_t max = f->limit ? f->limit : lim ? lim->max_items : 0;
        _cleanup_json_ json_object *a = NULL;

        if (n == 0 && (f->flags & JSONMAP_OMIT_EMPTY))
                return 0;
        if (max && n > max)
                return -E2BIG;
        a = json_object_new_array_ext((int)n);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = NULL;
                int r;
                if (f->kind == JSONMAP_INT_ARRAY)
                        r = (v = json_object_new_int(((const int *)items)[i])) ? 0 : -ENOMEM;
                else
                        r = jsonmap_encode(f->type, items + i * f->size, lim, &v);
                if (r < 0 || (r = json_append(a, v)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int encode_value(const struct jsonmap_field *f, const void *base,
                        const struct jsonmap_limits *lim, json_object **ret)
{
        const char *p = (const char *)base + f->offset;

        switch (f->kind) {
        case JSONMAP_STRING:
                return encode_string(f, *(char *const *)p, lim, ret);
        case JSONMAP_CHARS:
                if (strnlen(p, f->size) >= f->size)
                        return -EINVAL;
                return encode_string(f, p, lim, ret);
        case JSONMAP_STRV:
        case JSONMAP_KV:
                return encode_strv(f, *(char **const *)p, lim, f->kind == JSONMAP_KV, ret);
        case JSONMAP_BOOL:
                if (!*(const bool *)p && (f->flags & JSONMAP_OMIT_EMPTY))
                        return 0;
                *ret = json_object_new_boolean(*(const bool *)p);
                return *ret ? 0 : -ENOMEM;
        case JSONMAP_U16:
        case JSONMAP_U32:
        case JSONMAP_I32:
        case JSONMAP_I64:
        case JSONMAP_U64:
                return encode_integer(f, p, ret);
        case JSONMAP_DOUBLE: {
                double d = *(const double *)p;
                if (!isfinite(d) ||
                    ((f->dmin != 0 || f->dmax != 0) && (d < f->dmin || d > f->dmax)))
                        return -ERANGE;
                if (d == 0 && (f->flags & JSONMAP_OMIT_EMPTY))
                        return 0;
                *ret = json_object_new_double(d);
                return *ret ? 0 : -ENOMEM;
        }
        case JSONMAP_EPOCH:
                return encode_epoch(f, *(const uint64_t *)p, ret);
        case JSONMAP_ENUM: {
                const char *name = f->enumeration->name(*(const int *)p);
                if (!name)
                        return -EINVAL;
                *ret = json_object_new_string(name);
                return *ret ? 0 : -ENOMEM;
        }
        case JSONMAP_OBJECT:
                return jsonmap_encode(f->type, p, lim, ret);
        case JSONMAP_OBJECT_PTR:
                if (!*(void *const *)p)
                        return 0;
                return jsonmap_encode(f->type, *(void *const *)p, lim, ret);
        case JSONMAP_ARRAY:
        case JSONMAP_INT_ARRAY:
                return encode_array(f, base, lim, ret);
        case JSONMAP_REFUSE:
                return 0;
        case JSONMAP_CUSTOM:
                return f->encode ? f->encode(p, ret) : 0;
        }
        return -EINVAL;
}

int jsonmap_encode(const struct jsonmap_type *t, const void *obj, const struct jsonmap_limits *lim,
                   json_object **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        for (const struct jsonmap_field *f = t->fields; f->name; f++) {
                json_object *v = NULL;
                int r;

                r = encode_value(f, obj, lim, &v);
                if (r < 0)
                        return r;
                if (!v)
                        continue;
                if (f->kind == JSONMAP_OBJECT && (f->flags & JSONMAP_OMIT_EMPTY) &&
                    json_object_object_length(v) == 0) {
                        json_object_put(v);
                        continue;
                }
                r = json_add(o, f->name, v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}
