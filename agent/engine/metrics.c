/* Container samples and the statistic sets PublishMetricsRequest carries (§3.3), computed
 * over the samples not yet sent. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/macro.h"
#include "ecs/metrics.h"

#define BYTES_PER_MIB (1024ULL * 1024ULL)

int metrics_parse_net_dev_ifaces(const char *text, struct metrics_iface *ifs, size_t max,
                                 size_t *ret_n, struct metrics_net *ret_sum)
{
        struct metrics_net sum = {0};
        unsigned lines = 0;
        size_t n = 0;

        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[512], name[64];
                unsigned long long v[16];
                lines++;
                if (len >= sizeof(buf))
                        return -EINVAL;
                memcpy(buf, line, len);
                buf[len] = 0;
                line = nl ? nl + 1 : NULL;
                if (lines <= 2)
                        continue; /* the two header lines */
                char *colon = strchr(buf, ':');
                if (!colon)
                        return -EINVAL;
                *colon = 0;
                if (sscanf(buf, " %63s", name) != 1)
                        return -EINVAL;
                int k = sscanf(colon + 1,
                               "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
                               "%llu %llu %llu %llu",
                               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                               &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
                if (k != 16)
                        return -EINVAL;
                if (streq(name, "lo"))
                        continue;
                struct metrics_net one = {
                    .rx_bytes = v[0],
                    .rx_packets = v[1],
                    .rx_errors = v[2],
                    .rx_dropped = v[3],
                    .tx_bytes = v[8],
                    .tx_packets = v[9],
                    .tx_errors = v[10],
                    .tx_dropped = v[11],
                };
                sum.rx_bytes += one.rx_bytes;
                sum.rx_packets += one.rx_packets;
                sum.rx_errors += one.rx_errors;
                sum.rx_dropped += one.rx_dropped;
                sum.tx_bytes += one.tx_bytes;
                sum.tx_packets += one.tx_packets;
                sum.tx_errors += one.tx_errors;
                sum.tx_dropped += one.tx_dropped;
                if (n < max && strlen(name) < sizeof(ifs[n].name)) {
                        strcpy(ifs[n].name, name);
                        ifs[n].net = one;
                        n++;
                }
        }
        if (lines < 2)
                return -EINVAL;
        if (ret_n)
                *ret_n = n;
        if (ret_sum)
                *ret_sum = sum;
        return 0;
}

int metrics_parse_net_dev(const char *text, struct metrics_net *ret)
{
        return metrics_parse_net_dev_ifaces(text, NULL, 0, NULL, ret);
}

/* Docker reads the first seven fields (user nice system idle iowait irq softirq) in
 * USER_HZ ticks, which Linux fixes at 100 for user space. */
#define NSEC_PER_TICK (1000000000ULL / 100)

int metrics_parse_proc_stat(const char *text, uint64_t *ret_ns)
{
        unsigned long long v[7];
        int used = 0;

        if (!text || !startswith(text, "cpu ") ||
            sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu%n", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &used) != 7 ||
            used == 0)
                return -EINVAL;
        uint64_t ticks = 0;
        for (size_t i = 0; i < 7; i++)
                ticks += v[i];
        *ret_ns = ticks * NSEC_PER_TICK;
        return 0;
}

static struct metrics_sample *at(struct metrics_ring *r, unsigned i)
{
        return &r->s[(r->first + i) % METRICS_RING_SIZE];
}

static const struct metrics_sample *cat(const struct metrics_ring *r, unsigned i)
{
        return &r->s[(r->first + i) % METRICS_RING_SIZE];
}

const struct metrics_sample *metrics_ring_last(const struct metrics_ring *r)
{
        return r->n ? cat(r, r->n - 1) : NULL;
}

void metrics_ring_add(struct metrics_ring *r, const struct metrics_input *in, unsigned ncpus)
{
        const struct metrics_sample *last = metrics_ring_last(r);
        struct metrics_sample s = {
            .time_usec = in->time_usec,
            .cpu_per_core_ns = in->cpu_ns / (ncpus ? ncpus : 1),
            .cpu_percent = NAN,
            .rx_bytes_per_sec = NAN,
            .tx_bytes_per_sec = NAN,
            .memory_mib = (uint32_t)MIN(in->memory_bytes / BYTES_PER_MIB, (uint64_t)UINT32_MAX),
            .io_read_bytes = in->io_read_bytes,
            .io_write_bytes = in->io_write_bytes,
            .net = in->net,
            .has_net = in->has_net,
        };

        if (last) {
                if (in->time_usec <= last->time_usec) {
                        /* The same instant twice: the previous rates stand. */
                        s.cpu_percent = last->cpu_percent;
                        s.rx_bytes_per_sec = last->rx_bytes_per_sec;
                        s.tx_bytes_per_sec = last->tx_bytes_per_sec;
                } else {
                        float dt_ns = (float)((in->time_usec - last->time_usec) * 1000ULL);
                        /* A counter that went back (the container restarted in a new cgroup)
                         * gives no rate for this step. */
                        if (s.cpu_per_core_ns >= last->cpu_per_core_ns)
                                s.cpu_percent = 100.0f *
                                                (float)(s.cpu_per_core_ns - last->cpu_per_core_ns) /
                                                dt_ns;
                        if (s.has_net && last->has_net && s.net.rx_bytes >= last->net.rx_bytes &&
                            s.net.tx_bytes >= last->net.tx_bytes) {
                                s.rx_bytes_per_sec =
                                    1e9f * ((float)(s.net.rx_bytes - last->net.rx_bytes) / dt_ns);
                                s.tx_bytes_per_sec =
                                    1e9f * ((float)(s.net.tx_bytes - last->net.tx_bytes) / dt_ns);
                        }
                }
        }
        if (r->n == METRICS_RING_SIZE) {
                r->first = (r->first + 1) % METRICS_RING_SIZE;
                r->n--;
        }
        *at(r, r->n) = s;
        r->n++;
}

void metrics_ring_mark_sent(struct metrics_ring *r)
{
        for (unsigned i = 0; i < r->n; i++)
                at(r, i)->sent = true;
}

static void cw_init(struct metrics_cw_set *c)
{
        *c = (struct metrics_cw_set){.min = DBL_MAX, .max = -DBL_MAX};
}

static void cw_add(struct metrics_cw_set *c, double v)
{
        if (isnan(v))
                return;
        c->min = MIN(c->min, v);
        c->max = MAX(c->max, v);
        c->sum += v;
        c->count++;
}

static void ul_init(struct metrics_ulong_set *u)
{
        *u = (struct metrics_ulong_set){.min = UINT64_MAX};
}

static void ul_add(struct metrics_ulong_set *u, uint64_t v)
{
        u->min = MIN(u->min, v);
        u->max = MAX(u->max, v);
        u->sum += v; /* wraps as the official agent's uint64 sum does */
        u->count++;
}

int metrics_window_compute(const struct metrics_ring *r, struct metrics_window *w)
{
        if (r->n < 2)
                return -ENODATA;
        cw_init(&w->cpu);
        cw_init(&w->memory);
        cw_init(&w->rx_per_sec);
        cw_init(&w->tx_per_sec);
        struct metrics_ulong_set *uls[] = {
            &w->read_bytes, &w->write_bytes, &w->rx_bytes,   &w->rx_packets, &w->rx_errors,
            &w->rx_dropped, &w->tx_bytes,    &w->tx_packets, &w->tx_errors,  &w->tx_dropped};
        for (size_t i = 0; i < ELEMENTSOF(uls); i++)
                ul_init(uls[i]);
        w->has_net = false;
        for (unsigned i = 0; i < r->n; i++) {
                const struct metrics_sample *s = cat(r, i);
                if (s->sent)
                        continue;
                cw_add(&w->cpu, s->cpu_percent);
                cw_add(&w->memory, s->memory_mib);
                ul_add(&w->read_bytes, s->io_read_bytes);
                ul_add(&w->write_bytes, s->io_write_bytes);
                if (!s->has_net)
                        continue;
                w->has_net = true;
                ul_add(&w->rx_bytes, s->net.rx_bytes);
                ul_add(&w->rx_packets, s->net.rx_packets);
                ul_add(&w->rx_errors, s->net.rx_errors);
                ul_add(&w->rx_dropped, s->net.rx_dropped);
                ul_add(&w->tx_bytes, s->net.tx_bytes);
                ul_add(&w->tx_packets, s->net.tx_packets);
                ul_add(&w->tx_errors, s->net.tx_errors);
                ul_add(&w->tx_dropped, s->net.tx_dropped);
                cw_add(&w->rx_per_sec, s->rx_bytes_per_sec);
                cw_add(&w->tx_per_sec, s->tx_bytes_per_sec);
        }
        if (w->cpu.count == 0 || w->memory.count == 0)
                return -ENODATA;
        return 0;
}
