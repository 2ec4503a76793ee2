/* Small helpers shared by the docker/ sources: URL escaping, name checks, label filters,
 * and readers of Docker's JSON members and timestamps. */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "docker-internal.h"

/* ---- small parsing helpers ---- */

int docker_url_escape(struct strbuf *b, const char *s, bool path)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                int r;
                if (isalnum(ch) || strchr("-._~", ch) || (path && strchr("/:@+", ch)))
                        r = strbuf_append(b, s, 1);
                else {
                        char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
                        r = strbuf_append(b, e, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

bool docker_name_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 255 || !isalnum((unsigned char)s[0]))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
                        return false;
        return true;
}

bool docker_image_name_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 1024 || !isalnum((unsigned char)s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("_.-/:@+", *p))
                        return false;
        /* curl would squash dot segments and reach another endpoint. */
        return !strstr(s, "/.") && !strstr(s, "..");
}

int docker_label_filters(const char *type, char *const *labels, char **ret)
{
        _cleanup_json_ json_object *f = json_object_new_object();
        json_object *arr = NULL;
        int r;

        if (!f)
                return -ENOMEM;
        if (type) {
                arr = json_object_new_array();
                if (!arr || json_object_array_add(arr, json_object_new_string(type)) < 0) {
                        json_object_put(arr);
                        return -ENOMEM;
                }
                r = json_add(f, "type", arr);
                if (r < 0)
                        return r;
        }
        if (labels && labels[0]) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                r = json_add(f, "label", arr);
                if (r < 0)
                        return r;
                for (char *const *l = labels; *l; l++) {
                        if (isempty(*l))
                                return -EINVAL;
                        json_object *s = json_object_new_string(*l);
                        if (!s || json_object_array_add(arr, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }
        if (json_object_object_length(f) == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = json_dump(f);
        return *ret ? 0 : -ENOMEM;
}

const char *docker_kv_get(const struct docker_kv *kv, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (streq(kv[i].key, key))
                        return kv[i].value;
        return NULL;
}

void docker_kv_free_many(struct docker_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

int docker_kv_from_json(json_object *obj, struct docker_kv **ret, size_t *ret_n)
{
        struct docker_kv *kv = NULL;
        size_t n = 0;

        if (obj && json_object_is_type(obj, json_type_object) &&
            json_object_object_length(obj) > 0) {
                kv = calloc((size_t)json_object_object_length(obj), sizeof(*kv));
                if (!kv)
                        return -ENOMEM;
                json_object_object_foreach (obj, k, v) {
                        if (!json_object_is_type(v, json_type_string))
                                continue;
                        kv[n].key = strdup(k);
                        kv[n].value = strdup(json_object_get_string(v));
                        n++;
                        if (!kv[n - 1].key || !kv[n - 1].value) {
                                docker_kv_free_many(kv, n);
                                return -ENOMEM;
                        }
                }
        }
        *ret = kv;
        *ret_n = n;
        return 0;
}

int docker_strdup_member(json_object *obj, const char *key, bool empty_is_null, char **ret)
{
        const char *s = json_get_string(obj, key, NULL);

        if (!s || (empty_is_null && !*s)) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int docker_strv_from_json(json_object *arr, char ***ret)
{
        size_t n =
            arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
        char **l = calloc(n + 1, sizeof(char *));
        size_t k = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(arr, i);
                if (!json_object_is_type(v, json_type_string))
                        continue;
                l[k] = strdup(json_object_get_string(v));
                if (!l[k++]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, char c)
{
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int docker_time_parse(const char *s, uint64_t *ret_usec)
{
        struct tm tm = {};
        int year, mon, day, hour, min, sec, off = 0;
        uint64_t nsec = 0;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &year) < 0 || expect_char(&p, '-') < 0 ||
            parse_digits(&p, 2, &mon) < 0 || expect_char(&p, '-') < 0 ||
            parse_digits(&p, 2, &day) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &hour) < 0 || expect_char(&p, ':') < 0 ||
            parse_digits(&p, 2, &min) < 0 || expect_char(&p, ':') < 0 ||
            parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                int digits = 0;
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                for (; isdigit((unsigned char)*p); p++)
                        if (digits++ < 9)
                                nsec = nsec * 10 + (uint64_t)(*p - '0');
                for (; digits < 9; digits++)
                        nsec *= 10;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;
                p++;
                if (parse_digits(&p, 2, &oh) < 0 || expect_char(&p, ':') < 0 ||
                    parse_digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;
        /* Go's zero time.Time ("0001-01-01T00:00:00Z") means "never". */
        if (year < 1970) {
                *ret_usec = 0;
                return 0;
        }
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        int64_t t = (int64_t)timegm(&tm) - off;
        *ret_usec = t < 0 ? 0 : (uint64_t)t * USEC_PER_SEC + nsec / 1000;
        return 0;
}

int docker_list_parse(const char *body, size_t len, size_t elem_size,
                      int (*from_json)(json_object *o, void *elem),
                      void (*free_many)(void *list, size_t n), void **ret, size_t *ret_n)
{
        _cleanup_json_ json_object *arr = NULL;
        int r = json_parse(body, len, &arr);
        if (r < 0)
                return r;
        if (!json_object_is_type(arr, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(arr);
        char *l = calloc(n + 1, elem_size);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                r = json_object_is_type(o, json_type_object) ? from_json(o, l + i * elem_size)
                                                             : -EBADMSG;
                if (r < 0) {
                        free_many(l, n);
                        return r;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}
