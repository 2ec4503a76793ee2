/* Bounded, typed member readers for the ACS codec, recording why a document was refused. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "acs_internal.h"

int acs_fail(struct acs_dec *d, int r, const char *fmt, ...)
{
        size_t off = 0;
        va_list ap;

        if (d->reason[0])
                return r;
        if (d->where[0]) {
                off = strnlen(d->where, sizeof(d->where) - 1);
                memcpy(d->reason, d->where, off);
                memcpy(d->reason + off, ": ", 2);
                off += 2;
        }
        va_start(ap, fmt);
        vsnprintf(d->reason + off, sizeof(d->reason) - off, fmt, ap);
        va_end(ap);
        return r;
}

void acs_prepend(struct acs_dec *d, const char *prefix)
{
        size_t pl = strlen(prefix) + 2, rl = strlen(d->reason);

        if (pl >= sizeof(d->reason))
                return;
        if (pl + rl >= sizeof(d->reason))
                rl = sizeof(d->reason) - pl - 1;
        memmove(d->reason + pl, d->reason, rl);
        d->reason[pl + rl] = 0;
        memcpy(d->reason, prefix, pl - 2);
        memcpy(d->reason + pl - 2, ": ", 2);
}

void acs_where(struct acs_dec *d, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(d->where, sizeof(d->where), fmt, ap);
        va_end(ap);
}

const char *acs_quote(const char *s, char buf[static 48])
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

static int string_value(struct acs_dec *d, json_object *v, const char *what, const char **ret)
{
        if (!json_object_is_type(v, json_type_string))
                return acs_fail(d, -EINVAL, "%s is not a string", what);
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (len > ACS_MAX_STRING_LEN)
                return acs_fail(d, -E2BIG, "%s is longer than %u bytes", what, ACS_MAX_STRING_LEN);
        if (strlen(s) != len)
                return acs_fail(d, -EINVAL, "%s contains a NUL character", what);
        *ret = s;
        return 0;
}

int acs_get_string(struct acs_dec *d, json_object *o, const char *key, bool required, char **ret)
{
        json_object *v = json_get(o, key);
        const char *s;
        int r;

        if (!v) {
                if (required)
                        return acs_fail(d, -EINVAL, "%s is not set", key);
                *ret = NULL;
                return 0;
        }
        r = string_value(d, v, key, &s);
        if (r < 0)
                return r;
        if (required && !*s)
                return acs_fail(d, -EINVAL, "%s is empty", key);
        char *c = strdup(s);
        if (!c)
                return acs_fail(d, -ENOMEM, "out of memory");
        *ret = c;
        return 0;
}

int acs_get_string_or_empty(struct acs_dec *d, json_object *o, const char *key, char **ret)
{
        char *s = NULL;
        int r = acs_get_string(d, o, key, false, &s);
        if (r < 0)
                return r;
        if (!s) {
                s = strdup("");
                if (!s)
                        return acs_fail(d, -ENOMEM, "out of memory");
        }
        *ret = s;
        return 0;
}

int acs_get_array(struct acs_dec *d, json_object *o, const char *key, size_t max, json_object **ret)
{
        json_object *v = json_get(o, key);

        if (v && !json_object_is_type(v, json_type_array))
                return acs_fail(d, -EINVAL, "%s is not an array", key);
        if (v && json_object_array_length(v) > max)
                return acs_fail(d, -E2BIG, "%s has more than %zu entries", key, max);
        *ret = v;
        return 0;
}

int acs_get_object(struct acs_dec *d, json_object *o, const char *key, json_object **ret)
{
        json_object *v = json_get(o, key);

        if (v && !json_object_is_type(v, json_type_object))
                return acs_fail(d, -EINVAL, "%s is not an object", key);
        *ret = v;
        return 0;
}

int acs_get_strv(struct acs_dec *d, json_object *o, const char *key, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        json_object *a = NULL;
        size_t n;
        int r;

        r = acs_get_array(d, o, key, ACS_MAX_LIST_ITEMS, &a);
        if (r < 0)
                return r;
        n = a ? json_object_array_length(a) : 0;
        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return acs_fail(d, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                const char *s;
                if (!v)
                        return acs_fail(d, -EINVAL, "%s[%zu] is null", key, i);
                r = string_value(d, v, key, &s);
                if (r < 0)
                        return r;
                l[i] = strdup(s);
                if (!l[i])
                        return acs_fail(d, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int acs_get_kv_map(struct acs_dec *d, json_object *o, const char *key, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        json_object *m = NULL;
        size_t n, i = 0;
        int r;

        r = acs_get_object(d, o, key, &m);
        if (r < 0)
                return r;
        n = m ? (size_t)json_object_object_length(m) : 0;
        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        if (n > ACS_MAX_LIST_ITEMS)
                return acs_fail(d, -E2BIG, "%s has more than %u entries", key, ACS_MAX_LIST_ITEMS);
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return acs_fail(d, -ENOMEM, "out of memory");
        /* json-c keeps members in wire order: the environment stays in task-definition
         * order, which is what Docker would get from the official agent's map as well
         * (modulo Go's random map order). */
        json_object_object_foreach (m, k, v) {
                const char *s = "";
                char q[48];
                if (!*k || strchr(k, '='))
                        return acs_fail(d, -EINVAL, "%s has an invalid key '%s'", key,
                                        acs_quote(k, q));
                if (strlen(k) > ACS_MAX_STRING_LEN)
                        return acs_fail(d, -E2BIG, "%s has a key longer than %u bytes", key,
                                        ACS_MAX_STRING_LEN);
                if (v) {
                        r = string_value(d, v, key, &s);
                        if (r < 0)
                                return r;
                }
                if (asprintf(&l[i], "%s=%s", k, s) < 0) {
                        l[i] = NULL;
                        return acs_fail(d, -ENOMEM, "out of memory");
                }
                i++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int acs_get_int(struct acs_dec *d, json_object *o, const char *key, int64_t min, int64_t max,
                int64_t *ret)
{
        json_object *v = json_get(o, key);
        bool ok = true;
        int64_t x;

        if (!v)
                return 0;
        /* json-c clamps integers beyond int64 to INT64_MAX/MIN, which the range check
         * below refuses for every field we read. */
        x = json_get_int(o, key, 0, &ok);
        if (!ok)
                return acs_fail(d, -EINVAL, "%s is not an integer", key);
        if (x < min || x > max)
                return acs_fail(d, -ERANGE, "%s is out of range [%" PRId64 ", %" PRId64 "]", key,
                                min, max);
        *ret = x;
        return 0;
}

int acs_get_u32(struct acs_dec *d, json_object *o, const char *key, uint32_t max, uint32_t *ret)
{
        int64_t x = *ret;
        int r = acs_get_int(d, o, key, 0, max, &x);
        if (r < 0)
                return r;
        *ret = (uint32_t)x;
        return 0;
}

int acs_get_bool(struct acs_dec *d, json_object *o, const char *key, bool *ret)
{
        bool ok = true;
        bool b = json_get_bool(o, key, *ret, &ok);

        if (!ok)
                return acs_fail(d, -EINVAL, "%s is not a boolean", key);
        *ret = b;
        return 0;
}
