/* Admission (§4.11, §5.4): a task starts only when the host's registered CPU and memory and
 * the host ports it maps are free for it; it then holds them until it stops. */
#include "ecs/jsonutil.h"
#include "engine-internal.h"

static void release_ports(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        if (!et->ports_assigned)
                return;
        for (size_t i = 0; i < t->n_containers; i++)
                for (size_t j = 0; j < t->containers[i].n_ports; j++)
                        port_allocator_release(&e->ports, et->host_ports[i][j],
                                               t->containers[i].ports[j].protocol);
        et->ports_assigned = false;
}

/* Chooses and holds host ports for every mapping of the task (§5.4), all or nothing. Static
 * ports that are reserved or held by a live task make the task wait. */
static int assign_ports(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        size_t done_c = 0, done_p = 0;
        int r = 0;

        if (et->ports_assigned)
                return 0;
        if (t->network_mode != NETWORK_MODE_BRIDGE) {
                et->ports_assigned = true; /* host/none/awsvpc: no agent-chosen ports */
                return 0;
        }
        if (!et->host_ports) {
                et->host_ports = calloc(t->n_containers ? t->n_containers : 1, sizeof(uint16_t *));
                if (!et->host_ports)
                        return -ENOMEM;
                for (size_t i = 0; i < t->n_containers; i++) {
                        et->host_ports[i] = calloc(t->containers[i].n_ports + 1, sizeof(uint16_t));
                        if (!et->host_ports[i])
                                return -ENOMEM;
                }
        }
        for (done_c = 0; done_c < t->n_containers; done_c++) {
                struct ecs_container *c = &t->containers[done_c];
                for (done_p = 0; done_p < c->n_ports; done_p++) {
                        struct port_mapping *p = &c->ports[done_p];
                        uint16_t port = p->host_port;
                        if (port)
                                r = port_allocator_hold(&e->ports, port, p->protocol);
                        else
                                r = port_allocator_pick(&e->ports, p->protocol, &port);
                        if (r < 0)
                                goto undo;
                        et->host_ports[done_c][done_p] = port;
                }
        }
        et->ports_assigned = true;
        return 0;
undo:
        /* Give back what this attempt took, so a waiting task holds nothing. */
        for (size_t i = 0; i <= done_c && i < t->n_containers; i++) {
                size_t n = i == done_c ? done_p : t->containers[i].n_ports;
                for (size_t j = 0; j < n; j++)
                        port_allocator_release(&e->ports, et->host_ports[i][j],
                                               t->containers[i].ports[j].protocol);
        }
        return r;
}

/* What a task needs from the host (§4.11): task-level cpu/memory when set, else the sum
 * over its containers (a container without a hard limit counts its soft limit). */
static void task_requirements(const struct ecs_task *t, uint64_t *ret_cpu, uint64_t *ret_mem)
{
        uint64_t cpu = 0, mem = 0;

        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                cpu += c->cpu;
                uint64_t m = c->memory_mib;
                if (m == 0 && c->docker_host_config) {
                        _cleanup_json_ json_object *hc = NULL;
                        if (json_parse(c->docker_host_config, strlen(c->docker_host_config), &hc) >=
                            0) {
                                int64_t res = json_get_int(hc, "MemoryReservation", 0, NULL);
                                if (res > 0)
                                        m = (uint64_t)res / (1024 * 1024);
                        }
                }
                mem += m;
        }
        *ret_cpu = t->cpu > 0 ? (uint64_t)(t->cpu * 1024.0 + 0.5) : cpu;
        *ret_mem = t->memory_mib > 0 ? t->memory_mib : mem;
}

/* Reserves CPU, memory and host ports for a task, all or nothing. Tasks are admitted in
 * arrival order, but one that does not fit does not hold back those behind it. */
int engine_admit(struct engine *e, struct engine_task *et)
{
        uint64_t cpu, mem;
        int r;

        if (et->admitted)
                return 0;
        task_requirements(et->task, &cpu, &mem);
        if ((e->cpu_total && e->cpu_used + cpu > e->cpu_total) ||
            (e->memory_total && e->memory_used + mem > e->memory_total))
                return -ENOSPC;
        r = assign_ports(e, et);
        if (r < 0)
                return r;
        et->cpu_units = cpu;
        et->memory_mib = mem;
        e->cpu_used += cpu;
        e->memory_used += mem;
        et->admitted = true;
        return 0;
}

void engine_release(struct engine *e, struct engine_task *et)
{
        release_ports(e, et);
        if (!et->admitted)
                return;
        e->cpu_used -= et->cpu_units;
        e->memory_used -= et->memory_mib;
        et->admitted = false;
}
