#include <ctype.h>
#include <math.h>

#include "ecs/jsonutil.h"

int json_parse(const char *data, size_t len, json_object **ret)
{
        struct json_tokener *tok;
        json_object *obj;
        size_t end;

        if (len > INT32_MAX)
                return -E2BIG;
        tok = json_tokener_new_ex(ECS_JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, data, (int)len);
        if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(obj);
                json_tokener_free(tok);
                return -EBADMSG;
        }
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        for (; end < len; end++)
                if (!isspace((unsigned char)data[end])) {
                        json_object_put(obj);
                        return -EBADMSG;
                }
        *ret = obj;
        return 0;
}

json_object *json_get(json_object *obj, const char *key)
{
        json_object *v = NULL;

        if (!obj || !json_object_is_type(obj, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v; /* NULL for JSON null too */
}

static json_object *get_typed(json_object *obj, const char *key, json_type t, bool *ok)
{
        json_object *v = json_get(obj, key);
        if (!v)
                return NULL;
        if (!json_object_is_type(v, t)) {
                if (ok)
                        *ok = false;
                return NULL;
        }
        return v;
}

const char *json_get_string(json_object *obj, const char *key, bool *ok)
{
        json_object *v = get_typed(obj, key, json_type_string, ok);
        return v ? json_object_get_string(v) : NULL;
}

bool json_get_bool(json_object *obj, const char *key, bool def, bool *ok)
{
        json_object *v = get_typed(obj, key, json_type_boolean, ok);
        return v ? json_object_get_boolean(v) : def;
}

int64_t json_get_int(json_object *obj, const char *key, int64_t def, bool *ok)
{
        json_object *v = json_get(obj, key);

        if (!v)
                return def;
        if (json_object_is_type(v, json_type_int))
                return json_object_get_int64(v);
        if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                /* Integral doubles (1.0) are integers on the wire; fractions are not. */
                if (isfinite(d) && d == floor(d) && fabs(d) < 9.0e15)
                        return (int64_t)d;
        }
        if (ok)
                *ok = false;
        return def;
}

double json_get_double(json_object *obj, const char *key, double def, bool *ok)
{
        json_object *v = json_get(obj, key);

        if (!v)
                return def;
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
                return json_object_get_double(v);
        if (ok)
                *ok = false;
        return def;
}

json_object *json_get_array(json_object *obj, const char *key, bool *ok)
{
        return get_typed(obj, key, json_type_array, ok);
}

json_object *json_get_object(json_object *obj, const char *key, bool *ok)
{
        return get_typed(obj, key, json_type_object, ok);
}

int json_add(json_object *obj, const char *key, json_object *val)
{
        if (!val)
                return 0;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

int json_append(json_object *array, json_object *val)
{
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(array, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

int json_add_string(json_object *obj, const char *key, const char *s)
{
        if (!s)
                return 0;
        json_object *v = json_object_new_string(s);
        if (!v)
                return -ENOMEM;
        return json_add(obj, key, v);
}

int json_add_int(json_object *obj, const char *key, int64_t v)
{
        json_object *o = json_object_new_int64(v);
        if (!o)
                return -ENOMEM;
        return json_add(obj, key, o);
}

int json_add_bool(json_object *obj, const char *key, bool v)
{
        json_object *o = json_object_new_boolean(v);
        if (!o)
                return -ENOMEM;
        return json_add(obj, key, o);
}

json_object *json_new_epoch(uint64_t realtime_usec)
{
        char buf[32];

        /* Milliseconds are all the AWS JSON protocol carries; print them exactly. */
        snprintf(buf, sizeof(buf), "%llu.%03llu", (unsigned long long)(realtime_usec / 1000000),
                 (unsigned long long)(realtime_usec % 1000000 / 1000));
        return json_object_new_double_s(strtod(buf, NULL), buf);
}

int json_add_epoch(json_object *obj, const char *key, uint64_t realtime_usec)
{
        json_object *o = json_new_epoch(realtime_usec);
        if (!o)
                return -ENOMEM;
        return json_add(obj, key, o);
}

char *json_dump(json_object *obj)
{
        const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
