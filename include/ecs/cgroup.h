/* Task cgroups (protocol reference §5.1): the base hierarchy at start-up, one cgroup per
 * task carrying the task's CPU, memory and pids limits, its removal at cleanup (§4.12), and
 * the kernel counters that TCS/metrics read. cgroup v1 and v2.
 *
 * Layout, by Docker's cgroup driver (docker info .CgroupDriver):
 *   cgroupfs: <hierarchy>/ecs/<taskId>, HostConfig.CgroupParent "/ecs/<taskId>"
 *   systemd:  <hierarchy>/ecstasks.slice/ecstasks-<taskId>.slice (systemd's "-" nesting
 *             applies), HostConfig.CgroupParent "ecstasks-<taskId>.slice"
 * On v1 every mounted hierarchy gets the directory (as the official agent does), on v2 the
 * single unified one. Nothing outside those two bases is ever created or removed. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/macro.h"

struct cgroup_manager;

enum cgroup_driver {
        CGROUP_DRIVER_CGROUPFS,
        CGROUP_DRIVER_SYSTEMD,
        _CGROUP_DRIVER_MAX,
        _CGROUP_DRIVER_INVALID = -EINVAL,
};

const char *cgroup_driver_to_string(enum cgroup_driver d);
/* "cgroupfs" or "systemd"; NULL and "" mean cgroupfs (Docker's default). */
enum cgroup_driver cgroup_driver_from_string(const char *s);

#define CGROUP_CPU_SHARES_MIN          2ULL
#define CGROUP_CPU_SHARES_MAX          262144ULL
#define CGROUP_CPU_PERIOD_DEFAULT_USEC 100000ULL
/* The kernel's bounds for cpu.cfs_period_us / the period in cpu.max. */
#define CGROUP_CPU_PERIOD_MIN_USEC 1000ULL
#define CGROUP_CPU_PERIOD_MAX_USEC 1000000ULL
#define CGROUP_TASK_ID_MAX         128

/* Detects the cgroup version of cgroup_root (ECS_CGROUP_PATH; NULL means /sys/fs/cgroup)
 * from its filesystem magic: cgroup2 => v2, tmpfs holding per-controller cgroup mounts =>
 * v1. Then sets up the base (v1: "ecs" — or "ecstasks.slice" with the systemd driver — in
 * every v1 hierarchy, cpuset.cpus/mems populated; v2: +cpu +memory +pids enabled in the
 * root's and the base's cgroup.subtree_control after checking cgroup.controllers).
 *
 * Fails (-ENOMEDIUM, -EINVAL, -ENOMEM, ...) only when no manager can be built at all: the
 * root is missing or not a cgroup mount, or the driver name is unknown. A base that could not
 * be set up (read-only /sys/fs/cgroup, cpu or memory controller missing, ...) still yields a
 * manager, with cgroup_manager_task_limits_available() false and the reason in
 * cgroup_manager_init_error(): the caller decides whether that is fatal
 * (ECS_ENABLE_TASK_CPU_MEM_LIMIT explicitly true) or just drops the capability. */
int cgroup_manager_new(const char *cgroup_root, const char *docker_cgroup_driver,
                       struct cgroup_manager **ret);
struct cgroup_manager *cgroup_manager_free(struct cgroup_manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cgroup_manager *, cgroup_manager_free);

int cgroup_manager_version(const struct cgroup_manager *m); /* 1 or 2 */
enum cgroup_driver cgroup_manager_driver(const struct cgroup_manager *m);
/* True when task cgroups with CPU and memory limits can be created: the condition for
 * advertising ecs.capability.task-cpu-mem-limit (and increased-task-cpu-limit). */
bool cgroup_manager_task_limits_available(const struct cgroup_manager *m);
/* Why they are not (negative errno), 0 when they are. */
int cgroup_manager_init_error(const struct cgroup_manager *m);

struct cgroup_task_spec {
        const char *task_id;      /* last component of the task ARN: [A-Za-z0-9_-]{1,128} */
        double cpu_vcpus;         /* task "cpu" in vCPUs; > 0 => CFS quota, 0 => shares */
        uint64_t cpu_shares;      /* used when cpu_vcpus is 0: cgroup_cpu_shares_sum() of the
                                   * containers' cpu units; clamped to [2, 262144] */
        uint64_t memory_mib;      /* task "memory"; 0 => no limit */
        uint64_t cpu_period_usec; /* ECS_CGROUP_CPU_PERIOD; 0 => 100000 */
        uint32_t pids_limit;      /* ECS_TASK_PIDS_LIMIT; 0 => none */
};

/* Creates (or re-applies, when it exists) the task cgroup with the spec's limits and returns
 * the value for Docker's HostConfig.CgroupParent. -EINVAL for a bad id or spec, -EOPNOTSUPP
 * when task limits are unavailable or a pids limit is asked for without the pids controller.
 * On a failed write, the directories this call made are removed again. */
int cgroup_task_create(struct cgroup_manager *m, const struct cgroup_task_spec *spec,
                       char **ret_docker_parent);
/* The CgroupParent for a task without touching the filesystem (restart, reconcile). */
int cgroup_task_docker_parent(const struct cgroup_manager *m, const char *task_id, char **ret);
/* Removes the task cgroup in every hierarchy, child cgroups (runc's per-container ones)
 * first. Missing is success. A cgroup that still holds processes is left in place and
 * -EBUSY is returned after every other hierarchy has been cleaned. */
int cgroup_task_remove(struct cgroup_manager *m, const char *task_id);

struct cgroup_stats {
        uint64_t cpu_usage_ns;       /* v1 cpuacct.usage, v2 cpu.stat usage_usec × 1000 */
        uint64_t nr_periods;         /* cpu.stat nr_periods */
        uint64_t nr_throttled;       /* cpu.stat nr_throttled */
        uint64_t throttled_ns;       /* v1 throttled_time, v2 throttled_usec × 1000 */
        uint64_t memory_usage_bytes; /* v1 memory.usage_in_bytes, v2 memory.current */
        uint64_t oom_kills;          /* oom_kill of v2 memory.events (hierarchical), or of v1
                                      * memory.oom_control summed over the task cgroup and
                                      * its direct children (the containers) */
        bool has_oom_kills;          /* the kernel reports oom_kill (v1: 4.13 and later) */
};

/* -ENOENT when the task has no cgroup. */
int cgroup_task_read_stats(const struct cgroup_manager *m, const char *task_id,
                           struct cgroup_stats *ret);

/* One container's counters, read from its own cgroup below the task's (runc puts it at
 * <task cgroup>/<docker id>), in the units of Docker's stats JSON. Collected for metrics. */
#define CGROUP_IO_DEVICES_MAX 8
struct cgroup_io_device {
        uint32_t major, minor;
        uint64_t read_bytes, write_bytes, read_ops, write_ops;
};

struct cgroup_container_sample {
        uint64_t cpu_total_ns;               /* v1 cpuacct.usage, v2 usage_usec × 1000 */
        uint64_t cpu_user_ns, cpu_kernel_ns; /* v1 cpuacct.stat × (1e9 / USER_HZ), v2 × 1000 */
        uint64_t nr_periods, nr_throttled, throttled_ns;
        uint64_t memory_usage;         /* v1 memory.usage_in_bytes, v2 memory.current */
        uint64_t memory_max_usage;     /* v1 memory.max_usage_in_bytes; 0 on v2 */
        uint64_t memory_limit;         /* UINT64_MAX when unlimited */
        uint64_t memory_cache;         /* v1 memory.stat cache, v2 file */
        uint64_t memory_inactive_file; /* v1 total_inactive_file, v2 inactive_file */
        uint64_t memory_rss;           /* v1 rss, v2 anon */
        uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
        uint64_t pids_current;
        bool has_io, has_pids;
        struct cgroup_io_device io_dev[CGROUP_IO_DEVICES_MAX]; /* the first ones, by device */
        unsigned n_io_dev;
};

/* -ENOENT when the container has no cgroup (not started, or gone). Block I/O and pids are
 * optional: has_io / has_pids say whether they were there. */
int cgroup_container_read_sample(const struct cgroup_manager *m, const char *task_id,
                                 const char *docker_id, struct cgroup_container_sample *ret);
/* The same from the container's counter files held open between reads (a sampler's
 * handle). read gives -ENOENT once the cgroup is gone. */
struct cgroup_container_files;
int cgroup_container_files_new(const struct cgroup_manager *m, const char *task_id,
                               const char *docker_id, struct cgroup_container_files **ret);
int cgroup_container_files_read(const struct cgroup_manager *m, struct cgroup_container_files *f,
                                struct cgroup_container_sample *ret);
void cgroup_container_files_free(struct cgroup_container_files *f);
/* A process of the container (the first of its cgroup.procs), for its network namespace.
 * -ENOENT when the cgroup is gone or empty. */
int cgroup_container_pid(const struct cgroup_manager *m, const char *task_id, const char *docker_id,
                         int *ret);
/* What the official agent reports as a container's memory: usage less the page cache (v1
 * cache, v2 inactive_file) when that is smaller than the usage. */
uint64_t cgroup_container_memory_used(const struct cgroup_container_sample *s, int version);

/* ---- pure helpers, exposed for the engine and for tests ---- */

/* [A-Za-z0-9_-]{1,CGROUP_TASK_ID_MAX}. */
bool cgroup_task_id_is_valid(const char *id);
/* Σ max(cpu, 2) over the containers, 2 when there are none, capped at 262144. */
uint64_t cgroup_cpu_shares_sum(const uint32_t *container_cpu, size_t n);
/* CFS quota for vcpus at period_usec, truncated as the official agent does
 * (int64(cpu × period)). -EINVAL for a negative, non-finite or absurd vcpus. */
int cgroup_cpu_quota_usec(double vcpus, uint64_t period_usec, int64_t *ret);
/* v1 shares to v2 cpu.weight: 1 + ((shares − 2) × 9999) / 262142, shares clamped first. */
uint64_t cgroup_cpu_shares_to_weight(uint64_t shares);

/* A single-value file ("123\n"); "max" reads as UINT64_MAX. -EINVAL otherwise. */
int cgroup_parse_u64(const char *text, uint64_t *ret);
/* A flat keyed file ("key value\n" lines). -ENOENT when the key is absent. */
int cgroup_parse_keyed_u64(const char *text, const char *key, uint64_t *ret);
/* Whether a space-separated controller list (cgroup.controllers) names the controller. */
bool cgroup_controllers_contain(const char *text, const char *name);
/* Stats from file contents. oom_control / memory_events may be NULL (has_oom_kills false). */
int cgroup_stats_parse_v1(const char *cpuacct_usage, const char *cpu_stat, const char *memory_usage,
                          const char *oom_control, struct cgroup_stats *ret);
int cgroup_stats_parse_v2(const char *cpu_stat, const char *memory_current,
                          const char *memory_events, struct cgroup_stats *ret);
/* v1 blkio.throttle.io_service_bytes_recursive / io_serviced_recursive ("8:0 Read 4096"
 * lines; the Total line skipped): the Read and Write sums over devices. */
int cgroup_parse_blkio_v1(const char *text, uint64_t *ret_read, uint64_t *ret_write);
/* The same files device by device, added to devs[0..*n) (a device not there yet is
 * appended while there is room). v1: called for io_service_bytes_recursive (ops false) and
 * io_serviced_recursive (ops true); v2: io.stat (ops ignored). */
int cgroup_parse_io_devices(const char *text, bool v2, bool ops, struct cgroup_io_device *devs,
                            size_t max, unsigned *n);
/* v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" lines), summed. */
int cgroup_parse_io_stat(const char *text, uint64_t *rbytes, uint64_t *wbytes, uint64_t *rios,
                         uint64_t *wios);
