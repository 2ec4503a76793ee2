/* Container metrics for TCS (§3.3): a fixed ring of samples per container, and the
 * statistic sets of PublishMetricsRequest computed over the samples not yet sent, the way
 * the official agent's stats queue computes them. Pure: no I/O, no clock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecs/cgroup.h"

/* 20 s of samples at 1 Hz plus slack; a publish consumes them. */
#define METRICS_RING_SIZE 24

struct metrics_net {
        uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
        uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

/* /proc/<pid>/net/dev of a container's namespace: the counters of every interface but lo,
 * summed. -EINVAL when the text is not that file's format. */
int metrics_parse_net_dev(const char *text, struct metrics_net *ret);

/* The same, interface by interface (lo left out): the first max interfaces in ifs, their
 * count in *ret_n; ret_sum (optional) gets the sum over all of them. */
#define METRICS_IFACES_MAX 4
struct metrics_iface {
        char name[16];
        struct metrics_net net;
};
int metrics_parse_net_dev_ifaces(const char *text, struct metrics_iface *ifs, size_t max,
                                 size_t *ret_n, struct metrics_net *ret_sum);

/* The first line of /proc/stat as Docker's system_cpu_usage: user..softirq in ns.
 * -EINVAL when it is not there. */
int metrics_parse_proc_stat(const char *text, uint64_t *ret_ns);

/* One full sample of a container, kept for the stats endpoints (§7.5): the cgroup's
 * counters with the host's CPU time and the namespace's interfaces at the same instant. */
struct metrics_raw {
        uint64_t time_usec;     /* realtime */
        uint64_t system_cpu_ns; /* 0 when /proc/stat could not be read */
        unsigned online_cpus;
        int cgroup_version;
        struct cgroup_container_sample cg;
        struct metrics_iface ifs[METRICS_IFACES_MAX];
        unsigned n_ifs;
        bool has_net;
};

/* What the collector read for one container at one time. */
struct metrics_input {
        uint64_t time_usec;    /* realtime of the read */
        uint64_t cpu_ns;       /* cumulative CPU time of the container */
        uint64_t memory_bytes; /* usage less cache (cgroup_container_memory_used) */
        uint64_t io_read_bytes, io_write_bytes;
        struct metrics_net net;
        bool has_net;
};

struct metrics_sample {
        uint64_t time_usec;
        uint64_t cpu_per_core_ns; /* cpu_ns / online CPUs, as the official agent keeps it */
        float cpu_percent;        /* of the whole instance; NaN for the first sample */
        uint32_t memory_mib;      /* truncated to whole MiB */
        uint64_t io_read_bytes, io_write_bytes;
        struct metrics_net net;
        float rx_bytes_per_sec, tx_bytes_per_sec; /* NaN for the first sample */
        bool has_net, sent;
};

struct metrics_ring {
        struct metrics_sample s[METRICS_RING_SIZE];
        unsigned first, n;
};

/* Adds a sample (the oldest goes when full). ncpus >= 1. */
void metrics_ring_add(struct metrics_ring *r, const struct metrics_input *in, unsigned ncpus);
const struct metrics_sample *metrics_ring_last(const struct metrics_ring *r);
/* After a publish: nothing in the ring counts again. */
void metrics_ring_mark_sent(struct metrics_ring *r);

struct metrics_cw_set {
        double min, max, sum;
        int64_t count;
};
struct metrics_ulong_set {
        uint64_t min, max, sum;
        int64_t count;
};

struct metrics_window {
        struct metrics_cw_set cpu, memory;
        struct metrics_ulong_set read_bytes, write_bytes;
        bool has_net;
        struct metrics_ulong_set rx_bytes, rx_packets, rx_errors, rx_dropped;
        struct metrics_ulong_set tx_bytes, tx_packets, tx_errors, tx_dropped;
        struct metrics_cw_set rx_per_sec, tx_per_sec;
};

/* The sets over the unsent samples. -ENODATA when the ring holds fewer than 2 samples or
 * CPU or memory has no unsent value: the container is left out of the publish. */
int metrics_window_compute(const struct metrics_ring *r, struct metrics_window *ret);
