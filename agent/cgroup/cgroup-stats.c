/* Task cgroup counters for TCS/metrics, read straight from the kernel's files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "ecs/cgroup.h"
#include "ecs/macro.h"

static const struct cgroup_hierarchy *find_v1(const struct cgroup_manager *m, unsigned bit)
{
        for (size_t i = 0; i < m->n_hier; i++)
                if (!m->hier[i].unified && (m->hier[i].controllers & bit))
                        return &m->hier[i];
        return NULL;
}

/* Reads file from the task cgroup in hierarchy h; optional files read as NULL when absent. */
static int read_task_file(const struct cgroup_hierarchy *h, const char *rel, const char *file,
                          bool optional, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!h)
                return -EOPNOTSUPP;
        if (asprintf(&dir, "%s/%s", h->path, rel) < 0)
                return -ENOMEM;
        r = cgroup_read_file(dir, file, ret);
        if (r == -ENOENT && optional) {
                /* Distinguish "no such file" from "no such cgroup". */
                if (access(dir, F_OK) < 0)
                        return -ENOENT;
                *ret = NULL;
                return 0;
        }
        return r;
}

/* v1 counts an OOM kill only in the victim's own memcg (v2 propagates it upwards), and the
 * victims live in the container cgroups one level below the task: add those up. */
static void add_child_oom_kills(const struct cgroup_hierarchy *h, const char *rel,
                                struct cgroup_stats *s)
{
        _cleanup_free_ char *dir = NULL;
        struct dirent *de;
        DIR *d;

        if (!h || asprintf(&dir, "%s/%s", h->path, rel) < 0)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *child = NULL, *text = NULL;
                uint64_t v;
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&child, "%s/%s", dir, de->d_name) < 0)
                        break;
                if (cgroup_read_file(child, "memory.oom_control", &text) < 0)
                        continue;
                if (cgroup_parse_keyed_u64(text, "oom_kill", &v) == 0) {
                        s->oom_kills += v;
                        s->has_oom_kills = true;
                }
        }
        closedir(d);
}

static int read_stats_v1(const struct cgroup_manager *m, const char *rel, struct cgroup_stats *ret)
{
        _cleanup_free_ char *usage = NULL, *cpu_stat = NULL, *mem = NULL, *oom = NULL;
        const struct cgroup_hierarchy *mh = find_v1(m, CGROUP_CTRL_MEMORY);
        int r;

        r = read_task_file(find_v1(m, CGROUP_CTRL_CPUACCT), rel, "cpuacct.usage", false, &usage);
        if (r < 0)
                return r;
        r = read_task_file(find_v1(m, CGROUP_CTRL_CPU), rel, "cpu.stat", false, &cpu_stat);
        if (r < 0)
                return r;
        r = read_task_file(mh, rel, "memory.usage_in_bytes", false, &mem);
        if (r < 0)
                return r;
        r = read_task_file(mh, rel, "memory.oom_control", true, &oom);
        if (r < 0)
                return r;
        r = cgroup_stats_parse_v1(usage, cpu_stat, mem, oom, ret);
        if (r < 0)
                return r;
        add_child_oom_kills(mh, rel, ret);
        return 0;
}

static int read_stats_v2(const struct cgroup_manager *m, const char *rel, struct cgroup_stats *ret)
{
        _cleanup_free_ char *cpu_stat = NULL, *cur = NULL, *events = NULL;
        const struct cgroup_hierarchy *h = &m->hier[0];
        int r;

        r = read_task_file(h, rel, "cpu.stat", false, &cpu_stat);
        if (r < 0)
                return r;
        r = read_task_file(h, rel, "memory.current", false, &cur);
        if (r < 0)
                return r;
        r = read_task_file(h, rel, "memory.events", true, &events);
        if (r < 0)
                return r;
        return cgroup_stats_parse_v2(cpu_stat, cur, events, ret);
}

int cgroup_task_read_stats(const struct cgroup_manager *m, const char *task_id,
                           struct cgroup_stats *ret)
{
        _cleanup_free_ char *rel = NULL;
        int r;

        if (!m || !ret)
                return -EINVAL;
        r = cgroup_task_relpath(m, task_id, &rel);
        if (r < 0)
                return r;
        return m->version == 2 ? read_stats_v2(m, rel, ret) : read_stats_v1(m, rel, ret);
}

/* ---- per container ---- */

#define NSEC_PER_USER_HZ (1000000000ULL / 100) /* cpuacct.stat counts USER_HZ (100) ticks */

static int add_u64(uint64_t *sum, const char *num)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(num, &end, 10);
        if (errno || end == num || (*end && *end != '\n' && *end != ' ') || num[0] == '-')
                return -EINVAL;
        *sum += v;
        return 0;
}

static struct cgroup_io_device *io_device(struct cgroup_io_device *devs, size_t max, unsigned *n,
                                          uint32_t major, uint32_t minor)
{
        for (unsigned i = 0; i < *n; i++)
                if (devs[i].major == major && devs[i].minor == minor)
                        return &devs[i];
        if (*n >= max)
                return NULL;
        devs[*n] = (struct cgroup_io_device){.major = major, .minor = minor};
        return &devs[(*n)++];
}

enum { IO_READ_BYTES, IO_WRITE_BYTES, IO_READ_OPS, IO_WRITE_OPS };

static uint64_t *io_field(struct cgroup_io_device *d, int which)
{
        return which == IO_READ_BYTES    ? &d->read_bytes
               : which == IO_WRITE_BYTES ? &d->write_bytes
               : which == IO_READ_OPS    ? &d->read_ops
                                         : &d->write_ops;
}

/* Adds the value text num to field which of the total and of d (when the device fit). */
static int io_add(struct cgroup_io_device *total, struct cgroup_io_device *d, int which,
                  const char *num)
{
        uint64_t v = 0;
        if (add_u64(&v, num) < 0)
                return -EINVAL;
        *io_field(total, which) += v;
        if (d)
                *io_field(d, which) += v;
        return 0;
}

/* One v1 blkio file ("8:0 Read 4096" lines, Total skipped; ops: the counts file) or v2
 * io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." lines): every device into *total, the
 * first max devices also into devs[0..*n). */
static int parse_io(const char *text, bool v2, bool ops, struct cgroup_io_device *total,
                    struct cgroup_io_device *devs, size_t max, unsigned *n)
{
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[256];
                unsigned major, minor;
                int used = 0;

                if (len >= sizeof(buf))
                        return -EINVAL;
                memcpy(buf, line, len);
                buf[len] = 0;
                line = nl ? nl + 1 : NULL;
                if (len == 0 || (!v2 && startswith(buf, "Total")))
                        continue;
                if (sscanf(buf, "%u:%u%n", &major, &minor, &used) != 2)
                        return -EINVAL;
                struct cgroup_io_device *d = io_device(devs, max, n, major, minor);
                if (!v2) {
                        char op[16], num[32];
                        if (sscanf(buf + used, " %15s %31s", op, num) != 2)
                                return -EINVAL;
                        if ((streq(op, "Read") &&
                             io_add(total, d, ops ? IO_READ_OPS : IO_READ_BYTES, num) < 0) ||
                            (streq(op, "Write") &&
                             io_add(total, d, ops ? IO_WRITE_OPS : IO_WRITE_BYTES, num) < 0))
                                return -EINVAL;
                        continue;
                }
                static const char *const keys[] = {"rbytes", "wbytes", "rios", "wios"};
                for (char *tok = strtok(buf + used, " "); tok; tok = strtok(NULL, " ")) {
                        char *eq = strchr(tok, '=');
                        if (!eq)
                                continue;
                        *eq = 0;
                        for (int k = 0; k < (int)ELEMENTSOF(keys); k++)
                                if (streq(tok, keys[k]) && io_add(total, d, k, eq + 1) < 0)
                                        return -EINVAL;
                }
        }
        return 0;
}

int cgroup_parse_blkio_v1(const char *text, uint64_t *ret_read, uint64_t *ret_write)
{
        struct cgroup_io_device total = {0};
        unsigned n = 0;
        int r = parse_io(text, false, false, &total, NULL, 0, &n);
        if (r < 0)
                return r;
        *ret_read = total.read_bytes;
        *ret_write = total.write_bytes;
        return 0;
}

int cgroup_parse_io_stat(const char *text, uint64_t *rbytes, uint64_t *wbytes, uint64_t *rios,
                         uint64_t *wios)
{
        struct cgroup_io_device total = {0};
        unsigned n = 0;
        int r = parse_io(text, true, false, &total, NULL, 0, &n);
        if (r < 0)
                return r;
        *rbytes = total.read_bytes;
        *wbytes = total.write_bytes;
        *rios = total.read_ops;
        *wios = total.write_ops;
        return 0;
}

int cgroup_parse_io_devices(const char *text, bool v2, bool ops, struct cgroup_io_device *devs,
                            size_t max, unsigned *n)
{
        struct cgroup_io_device total = {0};
        return parse_io(text, v2, ops, &total, devs, max, n);
}

/* The container's cgroup below its task's, as runc names it: "<task>/<docker id>" with the
 * cgroupfs driver, "<task slice>/docker-<docker id>.scope" with the systemd driver. */
static int container_relpath(const struct cgroup_manager *m, const char *task_id,
                             const char *docker_id, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        int r;

        if (isempty(docker_id) || strchr(docker_id, '/') || docker_id[0] == '.')
                return -EINVAL;
        r = cgroup_task_relpath(m, task_id, &rel);
        if (r < 0)
                return r;
        r = m->driver == CGROUP_DRIVER_SYSTEMD ? asprintf(ret, "%s/docker-%s.scope", rel, docker_id)
                                               : asprintf(ret, "%s/%s", rel, docker_id);
        return r < 0 ? -ENOMEM : 0;
}

/* A container's counter files, kept open between samples: a pread() of an open cgroup file
 * costs a fraction of opening it by path each time. slot numbers the files a sampler reads,
 * in its own order. */
#define CF_SLOTS    12
#define CF_UNOPENED (-2)
#define CF_ABSENT   (-1)
#define CF_READ_MAX (64 * 1024)

struct cgroup_container_files {
        char *crel; /* the container's cgroup below each hierarchy's root */
        int fd[CF_SLOTS];
};

static int cf_read(struct cgroup_container_files *f, unsigned slot,
                   const struct cgroup_hierarchy *h, const char *file, bool optional, char **ret)
{
        int r;

        *ret = NULL;
        if (!h)
                return -EOPNOTSUPP;
        if (f->fd[slot] == CF_ABSENT)
                return optional ? 0 : -ENOENT;
        if (f->fd[slot] == CF_UNOPENED) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s/%s", h->path, f->crel, file) < 0)
                        return -ENOMEM;
                int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        /* The first read tells a missing file from a missing cgroup. */
                        r = read_task_file(h, f->crel, file, optional, ret);
                        if (r == 0 && !*ret)
                                f->fd[slot] = CF_ABSENT;
                        return r;
                }
                f->fd[slot] = fd;
        }
        _cleanup_free_ char *buf = malloc(CF_READ_MAX);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(f->fd[slot], buf, CF_READ_MAX - 1, 0);
        if (n < 0)
                /* A removed cgroup's files answer ENODEV. */
                return errno == ENODEV || errno == ENOENT ? -ENOENT : -errno;
        if (n == CF_READ_MAX - 1)
                return -EFBIG;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

void cgroup_container_files_free(struct cgroup_container_files *f)
{
        if (!f)
                return;
        for (unsigned i = 0; i < CF_SLOTS; i++)
                if (f->fd[i] >= 0)
                        close(f->fd[i]);
        free(f->crel);
        free(f);
}

static int keyed_or_zero(const char *text, const char *key, uint64_t *ret)
{
        int r = text ? cgroup_parse_keyed_u64(text, key, ret) : -ENOENT;
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        return r;
}

static void io_done(struct cgroup_container_sample *s, const struct cgroup_io_device *total)
{
        s->has_io = true;
        s->io_read_bytes = total->read_bytes;
        s->io_write_bytes = total->write_bytes;
        s->io_read_ops = total->read_ops;
        s->io_write_ops = total->write_ops;
}

static int sample_v1(const struct cgroup_manager *m, struct cgroup_container_files *f,
                     struct cgroup_container_sample *s)
{
        _cleanup_free_ char *usage = NULL, *stat = NULL, *cpu = NULL, *mem = NULL, *maxu = NULL,
                            *limit = NULL, *mstat = NULL, *bytes = NULL, *ops = NULL, *pids = NULL;
        const struct cgroup_hierarchy *acct = find_v1(m, CGROUP_CTRL_CPUACCT),
                                      *mh = find_v1(m, CGROUP_CTRL_MEMORY),
                                      *bh = find_v1(m, CGROUP_CTRL_BLKIO),
                                      *ph = find_v1(m, CGROUP_CTRL_PIDS);
        uint64_t user = 0, sys = 0;
        struct cgroup_io_device total = {0};
        int r;

        if ((r = cf_read(f, 0, acct, "cpuacct.usage", false, &usage)) < 0 ||
            (r = cf_read(f, 1, acct, "cpuacct.stat", true, &stat)) < 0 ||
            (r = cf_read(f, 2, find_v1(m, CGROUP_CTRL_CPU), "cpu.stat", true, &cpu)) < 0 ||
            (r = cf_read(f, 3, mh, "memory.usage_in_bytes", false, &mem)) < 0 ||
            (r = cf_read(f, 4, mh, "memory.max_usage_in_bytes", true, &maxu)) < 0 ||
            (r = cf_read(f, 5, mh, "memory.limit_in_bytes", true, &limit)) < 0 ||
            (r = cf_read(f, 6, mh, "memory.stat", true, &mstat)) < 0)
                return r;
        if ((r = cgroup_parse_u64(usage, &s->cpu_total_ns)) < 0 ||
            (r = keyed_or_zero(stat, "user", &user)) < 0 ||
            (r = keyed_or_zero(stat, "system", &sys)) < 0 ||
            (r = keyed_or_zero(cpu, "nr_periods", &s->nr_periods)) < 0 ||
            (r = keyed_or_zero(cpu, "nr_throttled", &s->nr_throttled)) < 0 ||
            (r = keyed_or_zero(cpu, "throttled_time", &s->throttled_ns)) < 0 ||
            (r = cgroup_parse_u64(mem, &s->memory_usage)) < 0 ||
            (maxu && (r = cgroup_parse_u64(maxu, &s->memory_max_usage)) < 0) ||
            (r = keyed_or_zero(mstat, "cache", &s->memory_cache)) < 0 ||
            (r = keyed_or_zero(mstat, "total_inactive_file", &s->memory_inactive_file)) < 0 ||
            (r = keyed_or_zero(mstat, "rss", &s->memory_rss)) < 0)
                return r;
        s->cpu_user_ns = user * NSEC_PER_USER_HZ;
        s->cpu_kernel_ns = sys * NSEC_PER_USER_HZ;
        s->memory_limit = UINT64_MAX;
        /* v1 shows "unlimited" as a huge page-aligned number. */
        if (limit && cgroup_parse_u64(limit, &s->memory_limit) == 0 &&
            s->memory_limit >= (UINT64_C(1) << 62))
                s->memory_limit = UINT64_MAX;
        if (bh &&
            cf_read(f, 7, bh, "blkio.throttle.io_service_bytes_recursive", true, &bytes) == 0 &&
            bytes && cf_read(f, 8, bh, "blkio.throttle.io_serviced_recursive", true, &ops) == 0 &&
            ops &&
            parse_io(bytes, false, false, &total, s->io_dev, CGROUP_IO_DEVICES_MAX, &s->n_io_dev) ==
                0 &&
            parse_io(ops, false, true, &total, s->io_dev, CGROUP_IO_DEVICES_MAX, &s->n_io_dev) == 0)
                io_done(s, &total);
        if (ph && cf_read(f, 9, ph, "pids.current", true, &pids) == 0 && pids &&
            cgroup_parse_u64(pids, &s->pids_current) == 0)
                s->has_pids = true;
        return 0;
}

static int sample_v2(const struct cgroup_manager *m, struct cgroup_container_files *f,
                     struct cgroup_container_sample *s)
{
        _cleanup_free_ char *cpu = NULL, *cur = NULL, *max = NULL, *mstat = NULL, *io = NULL,
                            *pids = NULL;
        const struct cgroup_hierarchy *h = &m->hier[0];
        uint64_t usage = 0, user = 0, sys = 0, thr = 0;
        struct cgroup_io_device total = {0};
        int r;

        if ((r = cf_read(f, 0, h, "cpu.stat", false, &cpu)) < 0 ||
            (r = cf_read(f, 1, h, "memory.current", false, &cur)) < 0 ||
            (r = cf_read(f, 2, h, "memory.max", true, &max)) < 0 ||
            (r = cf_read(f, 3, h, "memory.stat", true, &mstat)) < 0)
                return r;
        if ((r = cgroup_parse_keyed_u64(cpu, "usage_usec", &usage)) < 0 ||
            (r = keyed_or_zero(cpu, "user_usec", &user)) < 0 ||
            (r = keyed_or_zero(cpu, "system_usec", &sys)) < 0 ||
            (r = keyed_or_zero(cpu, "nr_periods", &s->nr_periods)) < 0 ||
            (r = keyed_or_zero(cpu, "nr_throttled", &s->nr_throttled)) < 0 ||
            (r = keyed_or_zero(cpu, "throttled_usec", &thr)) < 0 ||
            (r = cgroup_parse_u64(cur, &s->memory_usage)) < 0 ||
            (r = keyed_or_zero(mstat, "file", &s->memory_cache)) < 0 ||
            (r = keyed_or_zero(mstat, "inactive_file", &s->memory_inactive_file)) < 0 ||
            (r = keyed_or_zero(mstat, "anon", &s->memory_rss)) < 0)
                return r;
        s->cpu_total_ns = usage * 1000;
        s->cpu_user_ns = user * 1000;
        s->cpu_kernel_ns = sys * 1000;
        s->throttled_ns = thr * 1000;
        s->memory_limit = UINT64_MAX;
        if (max)
                (void)cgroup_parse_u64(max, &s->memory_limit); /* "max" reads as UINT64_MAX */
        if (cf_read(f, 4, h, "io.stat", true, &io) == 0 && io &&
            parse_io(io, true, false, &total, s->io_dev, CGROUP_IO_DEVICES_MAX, &s->n_io_dev) == 0)
                io_done(s, &total);
        if (cf_read(f, 5, h, "pids.current", true, &pids) == 0 && pids &&
            cgroup_parse_u64(pids, &s->pids_current) == 0)
                s->has_pids = true;
        return 0;
}

int cgroup_container_files_new(const struct cgroup_manager *m, const char *task_id,
                               const char *docker_id, struct cgroup_container_files **ret)
{
        _cleanup_free_ char *crel = NULL;
        int r;

        if (!m || !ret)
                return -EINVAL;
        r = container_relpath(m, task_id, docker_id, &crel);
        if (r < 0)
                return r;
        struct cgroup_container_files *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        for (unsigned i = 0; i < CF_SLOTS; i++)
                f->fd[i] = CF_UNOPENED;
        f->crel = TAKE_PTR(crel);
        *ret = f;
        return 0;
}

int cgroup_container_files_read(const struct cgroup_manager *m, struct cgroup_container_files *f,
                                struct cgroup_container_sample *ret)
{
        if (!m || !f || !ret)
                return -EINVAL;
        *ret = (struct cgroup_container_sample){0};
        int r = m->version == 2 ? sample_v2(m, f, ret) : sample_v1(m, f, ret);
        if (!ret->has_io)
                ret->n_io_dev = 0;
        return r;
}

int cgroup_container_read_sample(const struct cgroup_manager *m, const char *task_id,
                                 const char *docker_id, struct cgroup_container_sample *ret)
{
        struct cgroup_container_files *f = NULL;
        int r = cgroup_container_files_new(m, task_id, docker_id, &f);
        if (r < 0)
                return r;
        r = cgroup_container_files_read(m, f, ret);
        cgroup_container_files_free(f);
        return r;
}

uint64_t cgroup_container_memory_used(const struct cgroup_container_sample *s, int version)
{
        uint64_t cache = version == 2 ? s->memory_inactive_file : s->memory_cache;
        return cache < s->memory_usage ? s->memory_usage - cache : s->memory_usage;
}

int cgroup_container_pid(const struct cgroup_manager *m, const char *task_id, const char *docker_id,
                         int *ret)
{
        _cleanup_free_ char *crel = NULL, *procs = NULL;
        int r;

        if (!m || !ret)
                return -EINVAL;
        r = container_relpath(m, task_id, docker_id, &crel);
        if (r < 0)
                return r;
        r = read_task_file(m->version == 2 ? &m->hier[0] : find_v1(m, CGROUP_CTRL_MEMORY), crel,
                           "cgroup.procs", false, &procs);
        if (r < 0)
                return r;
        char *end;
        long pid = strtol(procs, &end, 10);
        if (end == procs || pid <= 0 || pid > INT32_MAX)
                return -ENOENT;
        *ret = (int)pid;
        return 0;
}
