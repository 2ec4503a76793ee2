/* Pure helpers of the cgroup module: id validation, the §5.1 arithmetic, control-file and
 * mountinfo parsers, and the small file I/O every cgroup operation is made of. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "ecs/cgroup.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

static const char *const driver_table[_CGROUP_DRIVER_MAX] = {
    [CGROUP_DRIVER_CGROUPFS] = "cgroupfs",
    [CGROUP_DRIVER_SYSTEMD] = "systemd",
};

const char *cgroup_driver_to_string(enum cgroup_driver d)
{
        if (d < 0 || d >= _CGROUP_DRIVER_MAX)
                return NULL;
        return driver_table[d];
}

enum cgroup_driver cgroup_driver_from_string(const char *s)
{
        if (isempty(s))
                return CGROUP_DRIVER_CGROUPFS;
        for (int i = 0; i < _CGROUP_DRIVER_MAX; i++)
                if (streq(s, driver_table[i]))
                        return i;
        return _CGROUP_DRIVER_INVALID;
}

bool cgroup_task_id_is_valid(const char *id)
{
        size_t n;

        if (isempty(id))
                return false;
        n = strlen(id);
        if (n > CGROUP_TASK_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = id[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

uint64_t cgroup_cpu_shares_sum(const uint32_t *container_cpu, size_t n)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < n; i++) {
                sum += MAX((uint64_t)container_cpu[i], CGROUP_CPU_SHARES_MIN);
                if (sum >= CGROUP_CPU_SHARES_MAX)
                        return CGROUP_CPU_SHARES_MAX;
        }
        return sum == 0 ? CGROUP_CPU_SHARES_MIN : sum;
}

int cgroup_cpu_quota_usec(double vcpus, uint64_t period_usec, int64_t *ret)
{
        double q;

        if (!isfinite(vcpus) || vcpus < 0 || period_usec == 0)
                return -EINVAL;
        q = vcpus * (double)period_usec;
        /* No instance has a million vCPUs; beyond 2^53 the double is no longer exact. */
        if (q >= 9007199254740992.0)
                return -EINVAL;
        *ret = (int64_t)q; /* truncation, as Go's int64(task.CPU * float64(period)) */
        return 0;
}

uint64_t cgroup_cpu_shares_to_weight(uint64_t shares)
{
        shares = MIN(MAX(shares, CGROUP_CPU_SHARES_MIN), CGROUP_CPU_SHARES_MAX);
        return 1 + ((shares - 2) * 9999) / 262142;
}

/* ---- parsers ---- */

static int parse_u64_token(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;

        if (len == 3 && strncmp(s, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                unsigned d;
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                d = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int cgroup_parse_u64(const char *text, uint64_t *ret)
{
        size_t len;

        if (!text)
                return -EINVAL;
        len = strlen(text);
        while (len > 0 && isspace((unsigned char)text[len - 1]))
                len--;
        return parse_u64_token(text, len, ret);
}

int cgroup_parse_keyed_u64(const char *text, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);

        if (!text)
                return -EINVAL;
        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');

                if ((size_t)(eol - line) > klen && strncmp(line, key, klen) == 0 &&
                    line[klen] == ' ') {
                        const char *v = line + klen + 1;
                        const char *end = eol;
                        while (end > v && isspace((unsigned char)end[-1]))
                                end--;
                        return parse_u64_token(v, (size_t)(end - v), ret);
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

bool cgroup_controllers_contain(const char *text, const char *name)
{
        size_t nlen = strlen(name);

        if (!text || nlen == 0)
                return false;
        for (const char *p = text; *p;) {
                size_t n;
                p += strspn(p, " \t\n");
                n = strcspn(p, " \t\n");
                if (n == nlen && strncmp(p, name, n) == 0)
                        return true;
                p += n;
        }
        return false;
}

static int parse_oom(const char *text, struct cgroup_stats *s)
{
        int r;

        if (!text)
                return 0;
        r = cgroup_parse_keyed_u64(text, "oom_kill", &s->oom_kills);
        if (r == -ENOENT) /* v1 before Linux 4.13 */
                return 0;
        if (r < 0)
                return r;
        s->has_oom_kills = true;
        return 0;
}

int cgroup_stats_parse_v1(const char *cpuacct_usage, const char *cpu_stat, const char *memory_usage,
                          const char *oom_control, struct cgroup_stats *ret)
{
        struct cgroup_stats s = {};
        int r;

        r = cgroup_parse_u64(cpuacct_usage, &s.cpu_usage_ns);
        if (r < 0)
                return r;
        r = cgroup_parse_keyed_u64(cpu_stat, "nr_periods", &s.nr_periods);
        if (r < 0)
                return r;
        r = cgroup_parse_keyed_u64(cpu_stat, "nr_throttled", &s.nr_throttled);
        if (r < 0)
                return r;
        r = cgroup_parse_keyed_u64(cpu_stat, "throttled_time", &s.throttled_ns);
        if (r < 0)
                return r;
        r = cgroup_parse_u64(memory_usage, &s.memory_usage_bytes);
        if (r < 0)
                return r;
        r = parse_oom(oom_control, &s);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

static int usec_to_nsec(uint64_t usec, uint64_t *ret)
{
        if (usec > UINT64_MAX / 1000)
                return -ERANGE;
        *ret = usec * 1000;
        return 0;
}

int cgroup_stats_parse_v2(const char *cpu_stat, const char *memory_current,
                          const char *memory_events, struct cgroup_stats *ret)
{
        struct cgroup_stats s = {};
        uint64_t usec;
        int r;

        r = cgroup_parse_keyed_u64(cpu_stat, "usage_usec", &usec);
        if (r < 0)
                return r;
        r = usec_to_nsec(usec, &s.cpu_usage_ns);
        if (r < 0)
                return r;
        /* Without the cpu controller enabled, cpu.stat has only the usage lines. */
        r = cgroup_parse_keyed_u64(cpu_stat, "nr_periods", &s.nr_periods);
        if (r < 0 && r != -ENOENT)
                return r;
        r = cgroup_parse_keyed_u64(cpu_stat, "nr_throttled", &s.nr_throttled);
        if (r < 0 && r != -ENOENT)
                return r;
        r = cgroup_parse_keyed_u64(cpu_stat, "throttled_usec", &usec);
        if (r >= 0)
                r = usec_to_nsec(usec, &s.throttled_ns);
        if (r < 0 && r != -ENOENT)
                return r;
        r = cgroup_parse_u64(memory_current, &s.memory_usage_bytes);
        if (r < 0)
                return r;
        r = parse_oom(memory_events, &s);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* ---- mountinfo ---- */

void cgroup_hierarchies_free(struct cgroup_hierarchy *h, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(h[i].path);
        free(h);
}

/* Mount points escape space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s, size_t len)
{
        char *out = malloc(len + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *o++ =
                            (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                } else
                        *o++ = s[i];
        }
        *o = 0;
        return out;
}

static unsigned controllers_from_options(const char *opts, size_t len)
{
        static const struct {
                const char *name;
                unsigned bit;
        } table[] = {
            {"cpu", CGROUP_CTRL_CPU},       {"cpuacct", CGROUP_CTRL_CPUACCT},
            {"memory", CGROUP_CTRL_MEMORY}, {"pids", CGROUP_CTRL_PIDS},
            {"cpuset", CGROUP_CTRL_CPUSET}, {"blkio", CGROUP_CTRL_BLKIO},
        };
        unsigned bits = 0;

        for (size_t i = 0; i < len;) {
                size_t n = 0;
                while (i + n < len && opts[i + n] != ',')
                        n++;
                for (size_t k = 0; k < ELEMENTSOF(table); k++)
                        if (strlen(table[k].name) == n && strncmp(opts + i, table[k].name, n) == 0)
                                bits |= table[k].bit;
                i += n + 1;
        }
        return bits;
}

/* Splits line [p, end) into space-separated fields; returns the count (at most max). */
static size_t split_fields(const char *p, const char *end, const char **f, size_t *flen, size_t max)
{
        size_t n = 0;

        while (p < end && n < max) {
                const char *s;
                while (p < end && *p == ' ')
                        p++;
                if (p >= end)
                        break;
                s = p;
                while (p < end && *p != ' ')
                        p++;
                f[n] = s;
                flen[n] = (size_t)(p - s);
                n++;
        }
        return n;
}

static bool is_direct_child(const char *root, const char *path)
{
        size_t rl = strlen(root);

        while (rl > 1 && root[rl - 1] == '/')
                rl--;
        if (strncmp(path, root, rl) != 0 || path[rl] != '/' || path[rl + 1] == 0)
                return false;
        return !strchr(path + rl + 1, '/');
}

int cgroup_parse_mountinfo(const char *text, const char *root, struct cgroup_hierarchy **ret,
                           size_t *ret_n)
{
        struct cgroup_hierarchy *h = NULL;
        size_t n = 0;

        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *f[64];
                size_t fl[64], nf, sep = 0;
                _cleanup_free_ char *mnt = NULL;
                bool unified;
                unsigned ctrls = 0;

                nf = split_fields(line, eol, f, fl, ELEMENTSOF(f));
                line = *eol ? eol + 1 : eol;
                /* id parent maj:min root mountpoint opts [optional...] - fstype source super */
                for (size_t i = 6; i < nf; i++)
                        if (fl[i] == 1 && f[i][0] == '-') {
                                sep = i;
                                break;
                        }
                if (sep == 0 || sep + 2 >= nf)
                        continue;
                if (fl[sep + 1] == 6 && strncmp(f[sep + 1], "cgroup", 6) == 0)
                        unified = false;
                else if (fl[sep + 1] == 7 && strncmp(f[sep + 1], "cgroup2", 7) == 0)
                        unified = true;
                else
                        continue;
                if (!unified) {
                        if (sep + 3 >= nf)
                                continue;
                        ctrls = controllers_from_options(f[sep + 3], fl[sep + 3]);
                }
                mnt = unescape_octal(f[4], fl[4]);
                if (!mnt) {
                        cgroup_hierarchies_free(h, n);
                        return -ENOMEM;
                }
                if (!is_direct_child(root, mnt))
                        continue;

                size_t k;
                for (k = 0; k < n; k++)
                        if (streq(h[k].path, mnt))
                                break;
                if (k == n) {
                        struct cgroup_hierarchy *nh = reallocarray(h, n + 1, sizeof(*h));
                        if (!nh) {
                                cgroup_hierarchies_free(h, n);
                                return -ENOMEM;
                        }
                        h = nh;
                        h[n++] = (struct cgroup_hierarchy){.path = TAKE_PTR(mnt)};
                }
                h[k].controllers = ctrls;
                h[k].unified = unified;
        }
        *ret = h;
        *ret_n = n;
        return 0;
}

/* ---- file I/O ---- */

int cgroup_read_file(const char *dir, const char *file, char **ret)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        return read_file_full(path, CGROUP_FILE_MAX, ret, NULL);
}

int cgroup_write_file(const struct cgroup_manager *m, const char *dir, const char *file,
                      const char *value)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t k;

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        /* cgroupfs files always exist (a missing one means a missing feature: ENOENT); only a
         * fake tree needs them created. */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (m->fake ? O_CREAT | O_TRUNC : 0), 0644);
        if (fd < 0)
                return -errno;
        /* One write(): the kernel parses each write as a whole value. */
        k = write(fd, value, len);
        if (k < 0)
                return -errno;
        if ((size_t)k != len)
                return -EIO;
        return 0;
}
