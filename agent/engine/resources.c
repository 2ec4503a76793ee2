/* What a task holds besides its containers, set up before any container is created and
 * released when it stops: the task cgroup (§5.1), task volumes (§2.6.3) and, for awsvpc,
 * the network namespace held by the pause container (tasknet.c does that work). */
#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/log.h"
#include "ecs/tasknet.h"
#include "ecs/uuid.h"
#include "engine-internal.h"

/* The task cgroup comes before any container is pulled (§4.4, §5.1). */
int engine_create_task_cgroup(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        uint32_t *cpus = calloc(t->n_containers + 1, sizeof(uint32_t));

        if (!cpus)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_containers; i++) {
                cpus[i] = t->containers[i].cpu;
                if (t->memory_mib && t->containers[i].memory_mib > t->memory_mib) {
                        free(cpus);
                        engine_task_fail(
                            et, "ResourceInitializationError",
                            "container %s memory %u MiB exceeds the task memory %u MiB",
                            t->containers[i].name, t->containers[i].memory_mib, t->memory_mib);
                        return 0;
                }
        }
        struct cgroup_task_spec spec = {
            .task_id = t->id,
            .cpu_vcpus = t->cpu,
            .cpu_shares = cgroup_cpu_shares_sum(cpus, t->n_containers),
            .memory_mib = t->memory_mib,
            .cpu_period_usec = e->config->cgroup_cpu_period_usec,
            .pids_limit = e->config->task_pids_limit,
        };
        free(cpus);
        int r = cgroup_task_create(e->cgroups, &spec, &et->cgroup_parent);
        if (r < 0)
                return log_error_errno(r, "Task %s: failed to create the task cgroup: %m", t->arn);
        log_debug("Task %s: cgroup %s", t->arn, et->cgroup_parent);
        return 0;
}

struct volume_op {
        struct engine_task *et;
        size_t idx;
};

static void volume_op_done(struct engine *e, struct engine_task *et)
{
        if (--et->volume_ops > 0)
                return;
        et->ops--;
        if (et->removing) {
                if (et->ops == 0)
                        engine_remove_task(e, et);
                return;
        }
        bool ready = true;
        for (size_t i = 0; i < et->task->n_volumes; i++)
                if (!et->task->volumes[i].docker_name && isempty(et->task->volumes[i].source_path))
                        ready = false;
        et->volumes_ready = ready;
        et->persist_dirty = true;
        engine_step(e, et);
}

static void on_volume(const struct docker_result *res, const struct docker_volume *v, void *ud)
{
        struct volume_op *op = ud;
        struct engine_task *et = op->et;
        struct engine *e = et->engine;
        struct task_volume *tv = &et->task->volumes[op->idx];

        free(op);
        if (res->error < 0) {
                /* A shared volume that must already exist, or a create Docker refused. */
                engine_task_fail(et, "ResourceInitializationError", "volume %s: %s", tv->name,
                                 res->message);
                engine_mark_dirty(e, et);
        } else if (!tv->docker_name)
                tv->docker_name = strdup(v->name);
        volume_op_done(e, et);
}

static int kv_list(char **strv, struct docker_kv **ret, size_t *ret_n)
{
        size_t n = 0;
        strv_foreach (p, strv)
                n++;
        struct docker_kv *kv = calloc(n + 1, sizeof(*kv));
        if (!kv)
                return -ENOMEM;
        n = 0;
        strv_foreach (p, strv) {
                char *eq = strchr(*p, '=');
                kv[n].key = eq ? strndup(*p, (size_t)(eq - *p)) : strdup(*p);
                kv[n].value = strdup(eq ? eq + 1 : "");
                n++;
        }
        *ret = kv;
        *ret_n = n;
        return 0;
}

/* Creates (or, for shared volumes without autoprovision, looks up) the Docker volumes the
 * task needs, before any container is created. Task-scoped and agent-managed host volumes
 * are named ecs-<family>-<version>-<volume>-<hex> and removed at cleanup. */
void engine_prepare_volumes(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;

        if (et->volume_ops > 0)
                return;
        et->ops++;
        et->volume_ops = 1; /* held while issuing */
        for (size_t i = 0; i < t->n_volumes; i++) {
                struct task_volume *v = &t->volumes[i];
                bool docker = streq_ptr(v->type, "docker");
                if (v->docker_name || (!docker && !isempty(v->source_path)))
                        continue;
                bool shared = docker && streq_ptr(v->scope, "shared");
                if (!shared && !v->docker_name) {
                        char hex[21];
                        if (random_hex(hex, 10) < 0 ||
                            asprintf(&v->docker_name, "ecs-%s-%s-%s-%s", t->family, t->version,
                                     v->name, hex) < 0) {
                                v->docker_name = NULL;
                                continue;
                        }
                        (void)engine_persist(e, et); /* the name first: adopted after a crash */
                }
                struct volume_op *op = calloc(1, sizeof(*op));
                if (!op)
                        continue;
                *op = (struct volume_op){et, i};
                struct docker_kv *opts = NULL, *labels = NULL;
                size_t n_opts = 0, n_labels = 0;
                (void)kv_list(v->driver_opts, &opts, &n_opts);
                (void)kv_list(v->labels, &labels, &n_labels);
                struct docker_volume_spec spec = {
                    .name = shared ? v->name : v->docker_name,
                    .driver = v->driver,
                    .driver_opts = opts,
                    .n_driver_opts = n_opts,
                    .labels = labels,
                    .n_labels = n_labels,
                };
                int r;
                et->volume_ops++;
                if (shared && !v->autoprovision)
                        r = docker_volume_inspect(e->docker, v->name, 0, on_volume, op, NULL);
                else
                        r = docker_volume_create(e->docker, &spec, 0, on_volume, op, NULL);
                docker_kv_free_many(opts, n_opts);
                docker_kv_free_many(labels, n_labels);
                if (r < 0) {
                        et->volume_ops--;
                        free(op);
                        engine_task_fail(et, "ResourceInitializationError", "volume %s: %s",
                                         v->name, strerror(-r));
                }
        }
        if (et->volume_ops == 1 && !t->reason) {
                /* Nothing to wait for. */
                et->volume_ops = 0;
                et->ops--;
                et->volumes_ready = true;
                return;
        }
        volume_op_done(e, et);
}

void engine_on_network_done(struct ecs_task *t, int error, const char *reason, void *ud)
{
        struct engine_task *et = ud;
        struct engine *e = et->engine;

        et->network_busy = false;
        et->ops--;
        if (et->removing) {
                if (et->ops == 0)
                        engine_remove_task(e, et);
                return;
        }
        if (t->known_status >= TASK_STATUS_STOPPED) {
                engine_mark_dirty(e, et);
                return; /* a teardown finished */
        }
        if (error < 0)
                engine_task_fail(et, "ResourceInitializationError", "%s", strna(reason));
        else
                et->network_ready = true;
        engine_mark_dirty(e, et);
        engine_step(e, et);
}

void engine_prepare_network(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;
        int r;

        if (et->network_busy)
                return;
        if (!e->net) {
                engine_task_fail(et, "ResourceInitializationError",
                                 "awsvpc networking is not enabled on this instance");
                engine_mark_dirty(e, et);
                return;
        }
        r = tasknet_setup(e->net, t, et->cgroup_parent, engine_on_network_done, et);
        if (r < 0) {
                engine_task_fail(et, "ResourceInitializationError", "network setup: %s",
                                 strerror(-r));
                engine_mark_dirty(e, et);
                return;
        }
        et->network_busy = true;
        et->ops++;
        (void)engine_persist(e, et); /* the pause container's name before Docker sees it */
}

/* All containers stopped: the ENI goes back to the host, the pause container stops. */
void engine_teardown_network(struct engine *e, struct engine_task *et)
{
        struct ecs_task *t = et->task;

        if (t->network_mode != NETWORK_MODE_AWSVPC || !e->net || !t->pause_docker_name)
                return;
        tasknet_cancel(e->net, t);
        if (et->network_busy) {
                et->network_busy = false;
                et->ops--;
        }
        if (tasknet_teardown(e->net, t, engine_on_network_done, et) >= 0) {
                et->network_busy = true;
                et->ops++;
        }
}
