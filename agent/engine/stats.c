/* Container metrics (§3.3): every second (ECS_POLL_METRICS: every
 * ECS_POLLING_METRICS_WAIT_DURATION) each running container's counters are read from its
 * own cgroup and its network namespace's /proc/<pid>/net/dev. TCS turns the fixed ring of
 * compact samples into PublishMetricsRequest every 20 s; the stats endpoints show the last
 * two full samples. No Docker call, no thread. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/metrics.h"
#include "ecs/strbuf.h"
#include "engine-internal.h"

#define SAMPLE_USEC (1000ULL * 1000ULL)
#define NET_DEV_MAX (64 * 1024)
#define STAT_MAX    (1024 * 1024) /* /proc/stat: a line per CPU, and interrupt counts */

struct container_stats {
        struct metrics_ring ring;
        struct metrics_raw raw[2]; /* raw[last] the newest */
        unsigned n_raw, last;
        struct cgroup_container_files *files; /* its counter files, held open */
        int net_fd;                           /* /proc/<pid>/net/dev, or -1 */
};

static void container_stats_free(struct container_stats *cs)
{
        if (!cs)
                return;
        cgroup_container_files_free(cs->files);
        safe_close(cs->net_fd);
        free(cs);
}

static uint64_t sample_interval(const struct engine *e)
{
        return e->config->poll_metrics ? e->config->polling_metrics_wait_usec : SAMPLE_USEC;
}

void engine_stats_task_free(struct engine_task *et)
{
        if (!et->stats)
                return;
        for (size_t i = 0; i < et->n_stats; i++)
                container_stats_free(et->stats[i]);
        free(et->stats);
        et->stats = NULL;
        et->n_stats = 0;
}

/* The container's interfaces from /proc/<pid>/net/dev of a process of its own, the file
 * kept open (its pid is found again when that process is gone). */
static bool read_net(struct engine *e, const struct ecs_task *t, const struct ecs_container *c,
                     struct container_stats *cs, struct metrics_raw *raw, struct metrics_net *sum)
{
        static char buf[NET_DEV_MAX]; /* the loop thread only */
        size_t n = 0;

        for (int attempt = 0; attempt < 2; attempt++) {
                if (cs->net_fd < 0) {
                        char path[64];
                        int pid;
                        if (cgroup_container_pid(e->cgroups, t->id, c->docker_id, &pid) < 0)
                                return false;
                        snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
                        if ((cs->net_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                                return false;
                }
                ssize_t k = pread(cs->net_fd, buf, sizeof(buf) - 1, 0);
                if (k > 0) {
                        buf[k] = 0;
                        if (metrics_parse_net_dev_ifaces(buf, raw->ifs, METRICS_IFACES_MAX, &n,
                                                         sum) < 0)
                                return false;
                        raw->n_ifs = (unsigned)n;
                        return true;
                }
                cs->net_fd = safe_close(cs->net_fd); /* that process went: find another */
        }
        return false;
}

static uint64_t system_cpu_ns(void)
{
        _cleanup_free_ char *text = NULL;
        uint64_t ns;
        if (read_file_full("/proc/stat", STAT_MAX, &text, NULL) < 0 ||
            metrics_parse_proc_stat(text, &ns) < 0)
                return 0;
        return ns;
}

/* Network counters go with bridge and awsvpc tasks only, as the official agent's: a host
 * or none task has no interface of its own. */
static bool has_own_network(const struct ecs_task *t)
{
        return t->network_mode == NETWORK_MODE_BRIDGE || t->network_mode == NETWORK_MODE_AWSVPC;
}

static void drop_container(struct engine_task *et, size_t i)
{
        if (et->stats && et->stats[i]) {
                container_stats_free(et->stats[i]);
                et->stats[i] = NULL;
        }
}

struct tick {
        uint64_t system_ns;
        bool system_read;
};

static void sample_task(struct engine *e, struct engine_task *et, struct tick *tick)
{
        struct ecs_task *t = et->task;

        if (t->known_status >= TASK_STATUS_STOPPED ||
            (et->stats && et->n_stats != t->n_containers)) {
                engine_stats_task_free(et);
                if (t->known_status >= TASK_STATUS_STOPPED)
                        return;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *c = &t->containers[i];
                struct metrics_raw raw = {.online_cpus = e->stats_ncpus};
                struct container_stats *cs = et->stats ? et->stats[i] : NULL;
                if (c->known_status != CONTAINER_STATUS_RUNNING || isempty(c->docker_id)) {
                        drop_container(et, i);
                        continue;
                }
                if (!cs) {
                        if (!et->stats) {
                                if (!(et->stats = calloc(t->n_containers, sizeof(*et->stats))))
                                        return;
                                et->n_stats = t->n_containers;
                        }
                        if (!(cs = calloc(1, sizeof(*cs))))
                                continue;
                        cs->net_fd = -EBADF;
                        if (cgroup_container_files_new(e->cgroups, t->id, c->docker_id,
                                                       &cs->files) < 0) {
                                container_stats_free(cs);
                                continue;
                        }
                        et->stats[i] = cs;
                }
                if (cgroup_container_files_read(e->cgroups, cs->files, &raw.cg) < 0) {
                        /* Its cgroup vanished between two samples (or is not there yet):
                         * what was kept of it goes, so nothing stale is published or
                         * served. */
                        drop_container(et, i);
                        continue;
                }
                if (!tick->system_read) {
                        tick->system_ns = system_cpu_ns();
                        tick->system_read = true;
                }
                raw.time_usec = realtime_usec();
                raw.system_cpu_ns = tick->system_ns;
                raw.cgroup_version = cgroup_manager_version(e->cgroups);
                struct metrics_input in = {
                    .time_usec = raw.time_usec,
                    .cpu_ns = raw.cg.cpu_total_ns,
                    .memory_bytes = cgroup_container_memory_used(&raw.cg, raw.cgroup_version),
                    .io_read_bytes = raw.cg.io_read_bytes,
                    .io_write_bytes = raw.cg.io_write_bytes,
                };
                if (has_own_network(t))
                        raw.has_net = in.has_net = read_net(e, t, c, cs, &raw, &in.net);
                metrics_ring_add(&cs->ring, &in, e->stats_ncpus);
                cs->last = cs->n_raw ? (cs->last + 1) % 2 : 0;
                cs->raw[cs->last] = raw;
                if (cs->n_raw < 2)
                        cs->n_raw++;
        }
}

static int on_sample(sd_event_source *s, uint64_t usec, void *ud)
{
        struct engine *e = ud;
        struct tick tick = {0};
        for (size_t i = 0; i < e->n_tasks; i++)
                sample_task(e, e->tasks[i], &tick);
        if (sd_event_source_set_time_relative(s, sample_interval(e)) < 0 ||
            sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0)
                log_error("Metrics: cannot schedule the next sample");
        return 0;
}

int engine_stats_init(struct engine *e)
{
        if (e->config->metrics_disabled) {
                log_info("Container metrics are off (ECS_DISABLE_METRICS)");
                return 0;
        }
        if (!e->cgroups || !cgroup_manager_task_limits_available(e->cgroups)) {
                log_warning("Container metrics are unavailable: no task cgroups on this host");
                return 0;
        }
        int n = get_nprocs();
        e->stats_ncpus = n > 0 ? (unsigned)n : 1;
        return sd_event_add_time_relative(ecs_loop_event(e->loop), &e->stats_timer, CLOCK_MONOTONIC,
                                          sample_interval(e), 0, on_sample, e);
}

void engine_stats_free(struct engine *e)
{
        e->stats_timer = sd_event_source_disable_unref(e->stats_timer);
}

int engine_metrics_foreach(struct engine *e, engine_metrics_fn fn, void *userdata,
                           size_t *ret_tracked)
{
        size_t tracked = 0;
        int r;

        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                for (size_t j = 0; et->stats && j < et->n_stats; j++) {
                        struct metrics_window w;
                        if (!et->stats[j])
                                continue;
                        tracked++;
                        if (metrics_window_compute(&et->stats[j]->ring, &w) < 0)
                                continue; /* fewer than 2 samples, or nothing new */
                        if ((r = fn(et->task, &et->task->containers[j], &w, userdata)) < 0)
                                return r;
                }
        }
        if (ret_tracked)
                *ret_tracked = tracked;
        return 0;
}

void engine_metrics_mark_sent(struct engine *e)
{
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct engine_task *et = e->tasks[i];
                for (size_t j = 0; et->stats && j < et->n_stats; j++)
                        if (et->stats[j])
                                metrics_ring_mark_sent(&et->stats[j]->ring);
        }
}

int engine_container_stats(struct engine *e, const struct ecs_task *t,
                           const struct ecs_container *c, struct engine_container_stats *ret)
{
        if (!e->stats_timer || !t || !c || c < t->containers ||
            c >= t->containers + t->n_containers)
                return -ENOENT;
        struct engine_task *et = engine_find_task(e, t->arn);
        size_t i = (size_t)(c - t->containers);
        struct container_stats *cs =
            et && et->task == t && et->stats && i < et->n_stats ? et->stats[i] : NULL;

        *ret = (struct engine_container_stats){0};
        if (!cs)
                return c->known_status == CONTAINER_STATUS_RUNNING &&
                               t->known_status < TASK_STATUS_STOPPED
                           ? 0
                           : -ENOENT;
        ret->cur = &cs->raw[cs->last];
        if (cs->n_raw == 2)
                ret->prev = &cs->raw[(cs->last + 1) % 2];
        const struct metrics_sample *s = metrics_ring_last(&cs->ring);
        if (s && s->has_net && ret->prev && ret->prev->has_net && !isnan(s->rx_bytes_per_sec)) {
                ret->has_rate = true;
                ret->rx_bytes_per_sec = s->rx_bytes_per_sec;
                ret->tx_bytes_per_sec = s->tx_bytes_per_sec;
        }
        return 0;
}
