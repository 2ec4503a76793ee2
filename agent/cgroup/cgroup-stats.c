/* Task cgroup counters for TCS/metrics, read straight from the kernel's files. */
#include <dirent.h>
#include <stdio.h>

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
