/* Container metrics (§3.3): every second (ECS_POLL_METRICS: every 10 s) each running
 * container's counters are read from its own cgroup and its network namespace's
 * /proc/<pid>/net/dev, into a fixed ring per container. TCS turns the rings into
 * PublishMetricsRequest every 20 s. No Docker call, no thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>

#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/metrics.h"
#include "engine-internal.h"

#define SAMPLE_USEC      (1000ULL * 1000ULL)
#define POLL_SAMPLE_USEC (10ULL * 1000ULL * 1000ULL) /* ECS_POLLING_METRICS_WAIT_DURATION */
#define NET_DEV_MAX      (64 * 1024)

static uint64_t sample_interval(const struct engine *e)
{
        return e->config->poll_metrics ? POLL_SAMPLE_USEC : SAMPLE_USEC;
}

void engine_stats_task_free(struct engine_task *et)
{
        if (!et->rings)
                return;
        for (size_t i = 0; i < et->n_rings; i++)
                free(et->rings[i]);
        free(et->rings);
        et->rings = NULL;
        et->n_rings = 0;
}

static bool read_net(int pid, struct metrics_net *ret)
{
        char path[64], buf[NET_DEV_MAX];
        snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        return metrics_parse_net_dev(buf, ret) == 0;
}

/* Network counters go with bridge and awsvpc tasks only, as the official agent's: a host
 * or none task has no interface of its own. */
static bool has_own_network(const struct ecs_task *t)
{
        return t->network_mode == NETWORK_MODE_BRIDGE || t->network_mode == NETWORK_MODE_AWSVPC;
}

static void sample_task(struct engine *e, struct engine_task *et, unsigned ncpus)
{
        struct ecs_task *t = et->task;

        if (t->known_status >= TASK_STATUS_STOPPED ||
            (et->rings && et->n_rings != t->n_containers)) {
                engine_stats_task_free(et);
                if (t->known_status >= TASK_STATUS_STOPPED)
                        return;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *c = &t->containers[i];
                struct cgroup_container_sample cs;
                if (c->known_status != CONTAINER_STATUS_RUNNING || isempty(c->docker_id) ||
                    cgroup_container_read_sample(e->cgroups, t->id, c->docker_id, &cs) < 0) {
                        /* Not running (or its cgroup vanished between two samples). */
                        if (et->rings && et->rings[i] &&
                            c->known_status >= CONTAINER_STATUS_STOPPED) {
                                free(et->rings[i]);
                                et->rings[i] = NULL;
                        }
                        continue;
                }
                if (!et->rings) {
                        if (!(et->rings = calloc(t->n_containers, sizeof(*et->rings))))
                                return;
                        et->n_rings = t->n_containers;
                }
                if (!et->rings[i] && !(et->rings[i] = calloc(1, sizeof(*et->rings[i]))))
                        continue;
                struct metrics_input in = {
                    .time_usec = realtime_usec(),
                    .cpu_ns = cs.cpu_total_ns,
                    .memory_bytes =
                        cgroup_container_memory_used(&cs, cgroup_manager_version(e->cgroups)),
                    .io_read_bytes = cs.io_read_bytes,
                    .io_write_bytes = cs.io_write_bytes,
                };
                int pid;
                if (has_own_network(t) &&
                    cgroup_container_pid(e->cgroups, t->id, c->docker_id, &pid) == 0)
                        in.has_net = read_net(pid, &in.net);
                metrics_ring_add(et->rings[i], &in, ncpus);
        }
}

static int on_sample(sd_event_source *s, uint64_t usec, void *ud)
{
        struct engine *e = ud;
        for (size_t i = 0; i < e->n_tasks; i++)
                sample_task(e, e->tasks[i], e->stats_ncpus);
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
                for (size_t j = 0; et->rings && j < et->n_rings; j++) {
                        struct metrics_window w;
                        if (!et->rings[j])
                                continue;
                        tracked++;
                        if (metrics_window_compute(et->rings[j], &w) < 0)
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
                for (size_t j = 0; et->rings && j < et->n_rings; j++)
                        if (et->rings[j])
                                metrics_ring_mark_sent(et->rings[j]);
        }
}
