/* Statistic sets of PublishMetricsRequest from container samples, computed as the official
 * agent's stats queue computes them. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ecs/metrics.h"

#define SEC 1000000ULL
#define MIB (1024ULL * 1024ULL)

static struct metrics_input in(uint64_t t_sec, uint64_t cpu_ns, uint64_t mem, uint64_t rx)
{
        return (struct metrics_input){
            .time_usec = t_sec * SEC,
            .cpu_ns = cpu_ns,
            .memory_bytes = mem,
            .io_read_bytes = 100,
            .io_write_bytes = 4096 * t_sec,
            .net = {.rx_bytes = rx, .tx_bytes = rx / 2, .rx_packets = rx / 100},
            .has_net = true,
        };
}

static void test_cpu_memory_network(void **state)
{
        (void)state;
        struct metrics_ring r = {0};
        struct metrics_window w;
        struct metrics_input i;

        i = in(100, 0, 64 * MIB + 5, 0);
        metrics_ring_add(&r, &i, 2);
        /* One sample is not enough for anything. */
        assert_int_equal(metrics_window_compute(&r, &w), -ENODATA);
        /* Half a CPU of a 2-CPU host for 1 s: 25 % of the instance. */
        i = in(101, 500000000ULL, 64 * MIB + 5, 1000);
        metrics_ring_add(&r, &i, 2);
        i = in(102, 1000000000ULL, 32 * MIB, 3000);
        metrics_ring_add(&r, &i, 2);
        assert_int_equal(metrics_window_compute(&r, &w), 0);
        assert_int_equal(w.cpu.count, 2); /* the first sample has no rate */
        assert_float_equal(w.cpu.min, 25.0, 0.01);
        assert_float_equal(w.cpu.max, 25.0, 0.01);
        assert_float_equal(w.cpu.sum, 50.0, 0.02);
        /* Memory in whole MiB, truncated, over every unsent sample. */
        assert_int_equal(w.memory.count, 3);
        assert_float_equal(w.memory.min, 32, 0);
        assert_float_equal(w.memory.max, 64, 0);
        assert_float_equal(w.memory.sum, 160, 0);
        /* Storage and network are sums of the cumulative counters. */
        assert_int_equal(w.write_bytes.sum, 4096 * (100 + 101 + 102));
        assert_int_equal(w.read_bytes.min, 100);
        assert_true(w.has_net);
        assert_int_equal(w.rx_bytes.max, 3000);
        assert_int_equal(w.rx_bytes.sum, 4000);
        assert_float_equal(w.rx_per_sec.max, 2000.0, 0.5);
        assert_float_equal(w.tx_per_sec.max, 1000.0, 0.5);

        /* After a publish only new samples count; the rate still uses the last sent one. */
        metrics_ring_mark_sent(&r);
        assert_int_equal(metrics_window_compute(&r, &w), -ENODATA);
        i = in(104, 1000000000ULL + 2 * 2000000000ULL, 10 * MIB, 3000);
        metrics_ring_add(&r, &i, 2);
        assert_int_equal(metrics_window_compute(&r, &w), 0);
        assert_int_equal(w.cpu.count, 1);
        assert_float_equal(w.cpu.sum, 100.0, 0.05); /* both CPUs for 2 s */
        assert_int_equal(w.memory.count, 1);
        assert_float_equal(w.rx_per_sec.sum, 0.0, 0.0);
}

static void test_counter_reset_and_duplicates(void **state)
{
        (void)state;
        struct metrics_ring r = {0};
        struct metrics_window w;
        struct metrics_input i;

        i = in(10, 4000000000ULL, MIB, 500);
        metrics_ring_add(&r, &i, 1);
        i = in(11, 4500000000ULL, MIB, 600);
        metrics_ring_add(&r, &i, 1);
        /* The same timestamp again: the previous rate stands. */
        i = in(11, 4600000000ULL, MIB, 700);
        metrics_ring_add(&r, &i, 1);
        /* A restart in a new cgroup: the counters start again; no negative rate. */
        i = in(12, 1000, MIB, 10);
        metrics_ring_add(&r, &i, 1);
        assert_int_equal(metrics_window_compute(&r, &w), 0);
        assert_int_equal(w.cpu.count, 2);
        assert_float_equal(w.cpu.min, 50.0, 0.01);
        assert_float_equal(w.cpu.max, 50.0, 0.01);
        assert_true(w.rx_per_sec.min >= 0);
}

static void test_ring_bounded(void **state)
{
        (void)state;
        struct metrics_ring r = {0};
        struct metrics_window w;
        for (unsigned k = 0; k < 3 * METRICS_RING_SIZE; k++) {
                struct metrics_input i = in(k + 1, (uint64_t)k * 100000000ULL, MIB, 0);
                i.has_net = false;
                metrics_ring_add(&r, &i, 1);
        }
        assert_int_equal(r.n, METRICS_RING_SIZE);
        assert_int_equal(metrics_window_compute(&r, &w), 0);
        assert_int_equal(w.memory.count, METRICS_RING_SIZE);
        assert_int_equal(w.cpu.count, METRICS_RING_SIZE);
        assert_float_equal(w.cpu.max, 10.0, 0.01);
        assert_false(w.has_net);
        assert_int_equal(metrics_ring_last(&r)->time_usec, 3 * METRICS_RING_SIZE * SEC);
}

/* The start of a file the kernel makes, NUL-terminated. */
static void read_proc_file(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t len = fread(buf, 1, size - 1, f);
        fclose(f);
        buf[len] = 0;
}

static void test_net_dev(void **state)
{
        (void)state;
        struct metrics_net n;
        const char *text =
            "Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
            "errs drop fifo colls carrier compressed\n"
            "    lo:  900      9    0    0    0     0          0         0      900       9    "
            "0    0    0     0       0          0\n"
            "  eth0: 1500     15    1    2    0     0          0         0     3000      30    "
            "3    4    0     0       0          0\n"
            "  eth1:  500      5    0    0    0     0          0         0     1000      10    "
            "0    0    0     0       0          0\n";
        assert_int_equal(metrics_parse_net_dev(text, &n), 0);
        assert_int_equal(n.rx_bytes, 2000);
        assert_int_equal(n.rx_packets, 20);
        assert_int_equal(n.rx_errors, 1);
        assert_int_equal(n.rx_dropped, 2);
        assert_int_equal(n.tx_bytes, 4000);
        assert_int_equal(n.tx_packets, 40);
        assert_int_equal(n.tx_errors, 3);
        assert_int_equal(n.tx_dropped, 4);
        /* The kernel's own file reads too. */
        {
                char buf[16384];
                read_proc_file("/proc/self/net/dev", buf, sizeof(buf));
                assert_int_equal(metrics_parse_net_dev(buf, &n), 0);
        }
        /* Interface by interface, lo left out, for the stats endpoints' networks. */
        struct metrics_iface ifs[1];
        size_t k;
        assert_int_equal(metrics_parse_net_dev_ifaces(text, ifs, 1, &k, &n), 0);
        assert_int_equal(k, 1);
        assert_string_equal(ifs[0].name, "eth0");
        assert_int_equal(ifs[0].net.tx_bytes, 3000);
        assert_int_equal(ifs[0].net.rx_dropped, 2);
        assert_int_equal(n.tx_bytes, 4000); /* the sum still counts eth1 */
        assert_int_equal(metrics_parse_net_dev("", &n), -EINVAL);
        assert_int_equal(metrics_parse_net_dev("a\nb\n  eth0: 1 2 3\n", &n), -EINVAL);
        assert_int_equal(metrics_parse_net_dev("a\nb\nno colon here\n", &n), -EINVAL);
}

static void test_proc_stat(void **state)
{
        (void)state;
        uint64_t ns;
        /* user nice system idle iowait irq softirq count; steal and the guests do not. */
        assert_int_equal(metrics_parse_proc_stat("cpu  100 2 30 400 5 6 7 800 0 0\ncpu0 1 2 3 "
                                                 "4 5 6 7 8 0 0\n",
                                                 &ns),
                         0);
        assert_int_equal(ns, 550ULL * 10000000ULL);
        char buf[4096];
        read_proc_file("/proc/stat", buf, sizeof(buf));
        assert_int_equal(metrics_parse_proc_stat(buf, &ns), 0);
        assert_true(ns > 0);
        assert_int_equal(metrics_parse_proc_stat("cpu0 1 2 3 4 5 6 7\n", &ns), -EINVAL);
        assert_int_equal(metrics_parse_proc_stat("cpu 1 2 3\n", &ns), -EINVAL);
        assert_int_equal(metrics_parse_proc_stat("", &ns), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cpu_memory_network),
            cmocka_unit_test(test_counter_reset_and_duplicates),
            cmocka_unit_test(test_ring_bounded),
            cmocka_unit_test(test_net_dev),
            cmocka_unit_test(test_proc_stat),
        };
        return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
