/* Value and file syntax of the official agent and ecs-init: Go's ParseBool, ParseDuration,
 * strings.TrimSpace, the ecs.config line rules and the os-release lookup. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "config-internal.h"
#include "ecs/log.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

/* Length of the white-space character at p (Go's unicode.IsSpace), 0 if there is none. */
static size_t space_len_at(const unsigned char *p, size_t avail)
{
        if (avail >= 1 && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')))
                return 1;
        if (avail >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
                return 2; /* NEL, NO-BREAK SPACE */
        if (avail >= 3) {
                if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
                        return 3; /* U+1680 */
                if (p[0] == 0xe2 && p[1] == 0x80 &&
                    ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 ||
                     p[2] == 0xaf))
                        return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
                if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
                        return 3; /* U+205F */
                if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
                        return 3; /* U+3000 */
        }
        return 0;
}

static size_t space_len_before(const unsigned char *start, size_t len)
{
        for (size_t k = 1; k <= 3 && k <= len; k++)
                if (space_len_at(start + len - k, k) == k)
                        return k;
        return 0;
}

void config_trim_space(const char **p, size_t *len)
{
        const unsigned char *s = (const unsigned char *)*p;
        size_t n = *len, k;

        while (n > 0 && (k = space_len_at(s, n)) > 0) {
                s += k;
                n -= k;
        }
        while (n > 0 && (k = space_len_before(s, n)) > 0)
                n -= k;
        *p = (const char *)s;
        *len = n;
}

int config_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;

        if (isempty(s))
                return -EINVAL;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*c - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

size_t config_utf8_len(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

int ecs_parse_go_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
        static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

#define NSEC_PER_USEC 1000ULL
#define DURATION_MAX  ((uint64_t)INT64_MAX) /* Go's time.Duration is int64 nanoseconds */

static const struct {
        const char *name;
        uint64_t nsec;
} duration_units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC Greek small letter mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* One "<number><unit>" element of a duration, added to *total (nanoseconds). Follows Go's
 * time.ParseDuration, including its float rounding of the fraction. */
static int parse_duration_element(const char **pp, uint64_t *total)
{
        const char *p = *pp, *unit;
        uint64_t v = 0, f = 0, unit_ns = 0;
        double scale = 1;
        bool pre = false, post = false, f_overflow = false;
        size_t ulen;

        if (!(*p == '.' || is_digit(*p)))
                return -EINVAL;
        for (; is_digit(*p); p++) {
                if (v > DURATION_MAX / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
                if (v > DURATION_MAX)
                        return -ERANGE;
                pre = true;
        }
        if (*p == '.') {
                for (p++; is_digit(*p); p++) {
                        post = true;
                        /* Like Go: digits that no longer fit are ignored, not an error. */
                        if (f_overflow || f > DURATION_MAX / 10) {
                                f_overflow = true;
                                continue;
                        }
                        f = f * 10 + (uint64_t)(*p - '0');
                        scale *= 10;
                }
        }
        if (!pre && !post)
                return -EINVAL;

        unit = p;
        while (*p && *p != '.' && !is_digit(*p))
                p++;
        ulen = (size_t)(p - unit);
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                if (strlen(duration_units[i].name) == ulen &&
                    memcmp(duration_units[i].name, unit, ulen) == 0)
                        unit_ns = duration_units[i].nsec;
        if (unit_ns == 0)
                return -EINVAL; /* missing or unknown unit */

        if (v > DURATION_MAX / unit_ns)
                return -ERANGE;
        v *= unit_ns;
        if (f > 0) {
                v += (uint64_t)((double)f * ((double)unit_ns / scale));
                if (v > DURATION_MAX)
                        return -ERANGE;
        }
        if (v > DURATION_MAX - *total)
                return -ERANGE;
        *total += v;
        *pp = p;
        return 0;
}

int ecs_parse_go_duration(const char *s, uint64_t *ret_usec)
{
        uint64_t total = 0;
        const char *p = s;
        int r;

        bool neg;

        if (isempty(s))
                return -EINVAL;
        neg = *p == '-';
        if (*p == '-' || *p == '+')
                p++;
        if (!*p)
                return -EINVAL;
        if (!streq(p, "0"))
                while (*p) {
                        r = parse_duration_element(&p, &total);
                        if (r < 0)
                                return r;
                }
        /* Go accepts a sign; a negative timeout or interval makes no sense for any setting. */
        if (neg)
                return -ERANGE;
        *ret_usec = total / NSEC_PER_USEC;
        return 0;
}

void config_format_duration(uint64_t usec, char *buf, size_t size)
{
        static const struct {
                const char *suffix;
                uint64_t usec;
        } parts[] = {
            {"h", 3600ULL * 1000000ULL},
            {"m", 60ULL * 1000000ULL},
            {"s", 1000000ULL},
            {"ms", 1000ULL},
            {"us", 1ULL},
        };
        size_t n = 0;

        if (size == 0)
                return;
        buf[0] = 0;
        if (usec == 0) {
                snprintf(buf, size, "0s");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts) && usec > 0; i++) {
                uint64_t q = usec / parts[i].usec;
                int w;

                if (q == 0)
                        continue;
                usec -= q * parts[i].usec;
                w = snprintf(buf + n, size - n, "%" PRIu64 "%s", q, parts[i].suffix);
                if (w < 0 || (size_t)w >= size - n)
                        return;
                n += (size_t)w;
        }
}

static int kv_append(struct ecs_config_kv **pairs, size_t *n, const char *key, size_t klen,
                     const char *value, size_t vlen)
{
        struct ecs_config_kv *a;
        char *k, *v;

        k = strndup(key, klen);
        v = strndup(value, vlen);
        a = reallocarray(*pairs, *n + 1, sizeof(**pairs));
        if (!k || !v || !a) {
                free(k);
                free(v);
                if (a)
                        *pairs = a;
                return -ENOMEM;
        }
        a[*n] = (struct ecs_config_kv){.key = k, .value = v};
        *pairs = a;
        (*n)++;
        return 0;
}

int ecs_config_parse_file_data(const char *data, size_t len, struct ecs_config_kv **pairs,
                               size_t *n_pairs)
{
        const char *end = data + len;
        int r;

        if (len > 0 && memchr(data, 0, len))
                return -EBADMSG;

        /* ecs-init: strings.Split(TrimSpace(file), "\n"), then per line SplitN(TrimSpace(line),
         * "=", 2). The key keeps any blanks before '=' (so "KEY =v" is the unknown key "KEY "),
         * the value keeps any after it and any quotes. */
        for (const char *line = data; line < end;) {
                const char *nl = memchr(line, '\n', (size_t)(end - line));
                const char *next = nl ? nl + 1 : end;
                const char *p = line, *eq;
                size_t n = (size_t)((nl ? nl : end) - line);

                config_trim_space(&p, &n);
                line = next;
                eq = memchr(p, '=', n);
                if (!eq || eq == p) /* no '=', or an empty key nobody can look up */
                        continue;
                r = kv_append(pairs, n_pairs, p, (size_t)(eq - p), eq + 1,
                              n - (size_t)(eq - p) - 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

void ecs_config_kv_free_many(struct ecs_config_kv *kv, size_t n)
{
        for (size_t i = 0; kv && i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

/* ecs-init's parseOSReleaseValue: TrimSpace, then strip any leading/trailing quote chars. */
static char *os_release_value(const char *p, size_t n)
{
        config_trim_space(&p, &n);
        while (n > 0 && (*p == '"' || *p == '\''))
                p++, n--;
        while (n > 0 && (p[n - 1] == '"' || p[n - 1] == '\''))
                n--;
        return strndup(p, n);
}

int ecs_config_read_os_family(const char *os_release_path, char **ret)
{
        _cleanup_free_ char *data = NULL, *id = NULL, *version_id = NULL;
        char *result;
        size_t len;
        int r;

        r = read_file_full(os_release_path, CONFIG_SMALL_FILE_MAX, &data, &len);
        if (r < 0)
                return r;

        /* Like ecs-init: only lines that start with the key count, the last one wins. */
        for (char *line = data; line && *line;) {
                char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);
                char **dst = NULL;
                size_t skip = 0;

                if (n >= 3 && strncmp(line, "ID=", 3) == 0)
                        dst = &id, skip = 3;
                else if (n >= 11 && strncmp(line, "VERSION_ID=", 11) == 0)
                        dst = &version_id, skip = 11;
                if (dst) {
                        free(*dst);
                        *dst = os_release_value(line + skip, n - skip);
                        if (!*dst)
                                return -ENOMEM;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (isempty(id) || isempty(version_id))
                return -ENODATA;
        if (asprintf(&result, "%s_%s", id, version_id) < 0)
                return -ENOMEM;
        *ret = result;
        return 0;
}

int config_read_port_range(const char *path, uint16_t *ret_first, uint16_t *ret_last)
{
        _cleanup_free_ char *data = NULL;
        unsigned long first, last;
        char *p, *e;
        int r;

        r = read_file_full(path, CONFIG_SMALL_FILE_MAX, &data, NULL);
        if (r < 0)
                return r;

        /* "32768\t60999\n" */
        p = data;
        errno = 0;
        first = strtoul(p, &e, 10);
        if (e == p || errno != 0)
                return -EINVAL;
        p = e;
        last = strtoul(p, &e, 10);
        if (e == p || errno != 0)
                return -EINVAL;
        if (first < 1 || last > 65535 || first > last)
                return -EINVAL;
        *ret_first = (uint16_t)first;
        *ret_last = (uint16_t)last;
        return 0;
}
