/* Fuzzes the parsers of the kernel files the metrics collector reads every second: cgroup
 * counters (single values, keyed files, blkio and io.stat), /proc/<pid>/net/dev and
 * /proc/stat. A container can influence some of them (its interface names, its I/O). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/cgroup.h"
#include "ecs/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        uint64_t a, b, c, d;
        struct metrics_net net;
        struct metrics_iface ifs[METRICS_IFACES_MAX];
        struct cgroup_io_device devs[CGROUP_IO_DEVICES_MAX];
        unsigned n = 0;
        size_t k;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        (void)cgroup_parse_u64(s, &a);
        (void)cgroup_parse_keyed_u64(s, "inactive_file", &a);
        (void)cgroup_parse_blkio_v1(s, &a, &b);
        (void)cgroup_parse_io_stat(s, &a, &b, &c, &d);
        (void)cgroup_parse_io_devices(s, false, false, devs, CGROUP_IO_DEVICES_MAX, &n);
        (void)cgroup_parse_io_devices(s, false, true, devs, CGROUP_IO_DEVICES_MAX, &n);
        n = 0;
        (void)cgroup_parse_io_devices(s, true, false, devs, CGROUP_IO_DEVICES_MAX, &n);
        (void)metrics_parse_net_dev(s, &net);
        (void)metrics_parse_net_dev_ifaces(s, ifs, METRICS_IFACES_MAX, &k, &net);
        (void)metrics_parse_proc_stat(s, &a);
        free(s);
        return 0;
}
