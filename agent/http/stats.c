/* The stats endpoints' bodies (§7.5, §7.6): a container's last two samples from the
 * collector, in the shape of Docker's stats JSON (what `GET /containers/<id>/stats` gives),
 * with network_rate_stats on v4. No Docker call: the engine already has the numbers. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/sysinfo.h>

#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"
#include "ecs/metrics.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

/* Go's zero time.Time, which Docker shows as preread before a second sample. */
#define ZERO_TIME "0001-01-01T00:00:00Z"

static int put(json_object *o, const char *key, json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int put_u64(json_object *o, const char *key, uint64_t v)
{
        return put(o, key, json_object_new_uint64(v));
}

static json_object *time_json(const struct metrics_raw *r)
{
        char buf[40];
        if (!r)
                return json_object_new_string(ZERO_TIME);
        endpoints_format_time(r->time_usec, buf);
        return json_object_new_string(buf);
}

/* cpu_stats / precpu_stats; r NULL gives Docker's zero values. */
static json_object *cpu_json(const struct metrics_raw *r)
{
        json_object *cpu = json_object_new_object(), *usage = json_object_new_object(),
                    *thr = json_object_new_object();
        const struct cgroup_container_sample z = {0}, *s = r ? &r->cg : &z;
        int k = 0;

        if (!cpu || !usage || !thr) {
                json_object_put(cpu);
                json_object_put(usage);
                json_object_put(thr);
                return NULL;
        }
        k |= put_u64(usage, "total_usage", s->cpu_total_ns);
        k |= put_u64(usage, "usage_in_kernelmode", s->cpu_kernel_ns);
        k |= put_u64(usage, "usage_in_usermode", s->cpu_user_ns);
        k |= put(cpu, "cpu_usage", usage);
        if (r && r->system_cpu_ns)
                k |= put_u64(cpu, "system_cpu_usage", r->system_cpu_ns);
        if (r)
                k |= put_u64(cpu, "online_cpus", r->online_cpus);
        k |= put_u64(thr, "periods", s->nr_periods);
        k |= put_u64(thr, "throttled_periods", s->nr_throttled);
        k |= put_u64(thr, "throttled_time", s->throttled_ns);
        k |= put(cpu, "throttling_data", thr);
        if (k) {
                json_object_put(cpu);
                return NULL;
        }
        return cpu;
}

static uint64_t host_memory(void)
{
        static uint64_t total;
        struct sysinfo si;
        if (!total && sysinfo(&si) == 0)
                total = (uint64_t)si.totalram * si.mem_unit;
        return total;
}

static json_object *memory_json(const struct metrics_raw *r)
{
        json_object *mem = json_object_new_object(), *st = json_object_new_object();
        const struct cgroup_container_sample *s = &r->cg;
        bool v2 = r->cgroup_version == 2;
        int k = 0;

        if (!mem || !st) {
                json_object_put(mem);
                json_object_put(st);
                return NULL;
        }
        k |= put_u64(mem, "usage", s->memory_usage);
        if (!v2)
                k |= put_u64(mem, "max_usage", s->memory_max_usage);
        /* The memory.stat entries the collector reads, under the kernel's names. */
        k |= put_u64(st, v2 ? "file" : "cache", s->memory_cache);
        k |= put_u64(st, v2 ? "anon" : "rss", s->memory_rss);
        k |= put_u64(st, v2 ? "inactive_file" : "total_inactive_file", s->memory_inactive_file);
        k |= put(mem, "stats", st);
        /* Docker shows an unlimited container's limit as the host's memory. */
        uint64_t limit = s->memory_limit, host = host_memory();
        if (host && limit > host)
                limit = host;
        k |= put_u64(mem, "limit", limit);
        if (k) {
                json_object_put(mem);
                return NULL;
        }
        return mem;
}

static int blkio_entries(json_object *arr, const struct cgroup_container_sample *s, bool ops)
{
        for (unsigned i = 0; i < s->n_io_dev; i++) {
                const struct cgroup_io_device *d = &s->io_dev[i];
                for (int w = 0; w < 2; w++) {
                        json_object *e = json_object_new_object();
                        int k = 0;
                        if (!e)
                                return -ENOMEM;
                        k |= put_u64(e, "major", d->major);
                        k |= put_u64(e, "minor", d->minor);
                        k |= put(e, "op", json_object_new_string(w ? "Write" : "Read"));
                        k |= put_u64(e, "value",
                                     ops ? (w ? d->write_ops : d->read_ops)
                                         : (w ? d->write_bytes : d->read_bytes));
                        if (k || json_object_array_add(arr, e) < 0) {
                                json_object_put(e);
                                return -ENOMEM;
                        }
                }
        }
        return 0;
}

static json_object *blkio_json(const struct metrics_raw *r)
{
        static const char *const keys[] = {
            "io_service_bytes_recursive", "io_serviced_recursive",  "io_queue_recursive",
            "io_service_time_recursive",  "io_wait_time_recursive", "io_merged_recursive",
            "io_time_recursive",          "sectors_recursive",
        };
        json_object *b = json_object_new_object();
        if (!b)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                json_object *arr = json_object_new_array();
                if (!arr || (i < 2 && blkio_entries(arr, &r->cg, i == 1) < 0) ||
                    put(b, keys[i], arr) < 0) {
                        json_object_put(arr);
                        json_object_put(b);
                        return NULL;
                }
        }
        return b;
}

static json_object *networks_json(const struct metrics_raw *r)
{
        json_object *n = json_object_new_object();
        if (!n)
                return NULL;
        for (unsigned i = 0; i < r->n_ifs; i++) {
                const struct metrics_net *c = &r->ifs[i].net;
                json_object *o = json_object_new_object();
                int k = !o;
                if (o) {
                        k |= put_u64(o, "rx_bytes", c->rx_bytes);
                        k |= put_u64(o, "rx_packets", c->rx_packets);
                        k |= put_u64(o, "rx_errors", c->rx_errors);
                        k |= put_u64(o, "rx_dropped", c->rx_dropped);
                        k |= put_u64(o, "tx_bytes", c->tx_bytes);
                        k |= put_u64(o, "tx_packets", c->tx_packets);
                        k |= put_u64(o, "tx_errors", c->tx_errors);
                        k |= put_u64(o, "tx_dropped", c->tx_dropped);
                }
                if (k || put(n, r->ifs[i].name, o) < 0) {
                        json_object_put(n);
                        return NULL;
                }
        }
        return n;
}

static json_object *rate_json(const struct engine_container_stats *st)
{
        json_object *o = json_object_new_object();
        if (!o || put(o, "rx_bytes_per_sec", json_object_new_double(st->rx_bytes_per_sec)) < 0 ||
            put(o, "tx_bytes_per_sec", json_object_new_double(st->tx_bytes_per_sec)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int endpoints_container_stats(struct endpoints *ep, const struct ecs_task *t,
                              const struct ecs_container *c, bool rate, json_object **ret)
{
        struct engine_container_stats st;
        int r = engine_container_stats(ep->p.engine, t, c, &st);

        *ret = NULL;
        if (r < 0)
                return r;
        if (!st.cur)
                return 0; /* running, not sampled yet: Docker's stream has nothing either */

        _cleanup_json_ json_object *o = json_object_new_object();
        char name[300];
        const struct metrics_raw *cur = st.cur;
        int k = !o;

        snprintf(name, sizeof(name), "/%s", strempty(c->docker_name));
        if (o) {
                k |= put(o, "read", time_json(cur));
                k |= put(o, "preread", time_json(st.prev));
                json_object *pids = json_object_new_object();
                if (pids && cur->cg.has_pids && cur->cg.pids_current)
                        k |= put_u64(pids, "current", cur->cg.pids_current);
                k |= put(o, "pids_stats", pids);
                k |= put(o, "blkio_stats", blkio_json(cur));
                k |= put(o, "num_procs", json_object_new_int(0));
                k |= put(o, "storage_stats", json_object_new_object());
                k |= put(o, "cpu_stats", cpu_json(cur));
                k |= put(o, "precpu_stats", cpu_json(st.prev));
                k |= put(o, "memory_stats", memory_json(cur));
                k |= put(o, "name", json_object_new_string(name));
                k |= put(o, "id", json_object_new_string(strempty(c->docker_id)));
                if (cur->has_net)
                        k |= put(o, "networks", networks_json(cur));
                if (rate && st.has_rate)
                        k |= put(o, "network_rate_stats", rate_json(&st));
        }
        if (k)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
