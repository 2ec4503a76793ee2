/* awsvpc task networks: pause container + netlink. */
#include <stdarg.h>
#include <stdio.h>

#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/net.h"
#include "ecs/task.h"
#include "ecs/tasknet.h"
#include "ecs/uuid.h"

#define DOCKER_TIMEOUT_USEC  (60 * USEC_PER_SEC)
#define PAUSE_STOP_GRACE_SEC 5
#define ENI_RETRY_USEC       (200 * USEC_PER_MSEC)

enum op_kind { OP_SETUP, OP_TEARDOWN, OP_RELEASE };

struct op {
        struct tasknet *n;
        struct ecs_task *t;
        enum op_kind kind;
        char *cgroup_parent;
        tasknet_done_fn cb;
        void *ud;
        struct docker_call *call;
        struct net_link_watch *watch;
        sd_event_source *timer; /* the deadline for a missing ENI */
        sd_event_source *retry;
        bool created; /* this op already tried to create the pause container */
        struct op *next;
};

struct tasknet {
        struct tasknet_params p;
        char *datadir, *cluster;
        struct net_cidr *routes;
        size_t n_routes;
        struct net_ipam *ipam;
        struct op *ops;
};

static void op_free(struct op *o)
{
        struct op **p;

        for (p = &o->n->ops; *p && *p != o; p = &(*p)->next)
                ;
        if (*p)
                *p = o->next;
        docker_call_cancel(o->call);
        net_link_watch_free(o->watch);
        sd_event_source_disable_unref(o->timer);
        sd_event_source_disable_unref(o->retry);
        ecs_task_unref(o->t);
        free(o->cgroup_parent);
        free(o);
}

static void op_done(struct op *o, int error, const char *fmt, ...) _printf_(3, 4);
static void op_done(struct op *o, int error, const char *fmt, ...)
{
        char reason[256] = "";
        tasknet_done_fn cb = o->cb;
        struct ecs_task *t = ecs_task_ref(o->t);
        void *ud = o->ud;

        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(reason, sizeof(reason), fmt, ap);
                va_end(ap);
        }
        op_free(o);
        cb(t, error, error < 0 ? reason : NULL, ud);
        ecs_task_unref(t);
}

/* ---- the ENI as net.h wants it ---- */

static int eni_of(const struct tasknet *n, const struct ecs_task *t, struct net_eni *ret)
{
        const struct task_eni *e = t->eni;
        int r;

        if (!e || !e->mac)
                return -EINVAL;
        r = net_eni_init(ret, e->mac, e->subnet_gateway_ipv4, e->subnet_gateway_ipv6);
        if (r < 0)
                return r;
        strv_foreach (a, e->ipv4)
                if ((r = net_eni_add_address(ret, *a)) < 0)
                        return r;
        strv_foreach (a, e->ipv6)
                if ((r = net_eni_add_address(ret, *a)) < 0)
                        return r;
        ret->block_imds = n->p.block_imds;
        return 0;
}

static struct net_awsvpc_params awsvpc_params(struct tasknet *n, const struct net_eni *eni)
{
        return (struct net_awsvpc_params){
            .eni = eni,
            .routes = n->routes,
            .n_routes = n->n_routes,
            .ipam = n->ipam,
        };
}

static int open_netns(int pid, struct net_ns **ret)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
        return net_ns_open_path(path, ret);
}

/* ---- setup ---- */

/* A Docker call that could not even start ends the operation. */
static void check_call(struct op *o, int r)
{
        if (r < 0)
                op_done(o, r, "cannot call Docker: %s", strerror(-r));
}

static void setup_inspect(struct op *o);
static void setup_network(struct op *o, int pid);

static int on_eni_timeout(sd_event_source *s, uint64_t usec, void *ud)
{
        struct op *o = ud;
        op_done(o, -ETIMEDOUT, "ENI %s did not appear on the host in time", o->t->eni->mac);
        return 0;
}

static void on_eni_link(struct net_link_watch *w, int ifindex, const char *name, void *ud)
{
        struct op *o = ud;
        o->watch = net_link_watch_free(o->watch);
        log_info("Task %s: ENI %s appeared as %s", o->t->arn, o->t->eni->mac, name);
        setup_inspect(o); /* the pause PID again: it may have changed meanwhile */
}

static int on_eni_retry(sd_event_source *s, uint64_t usec, void *ud)
{
        struct op *o = ud;
        o->retry = sd_event_source_disable_unref(o->retry);
        setup_inspect(o);
        return 0;
}

static void wait_for_eni(struct op *o, const struct net_eni *eni)
{
        int r = 0;

        if (o->watch || o->retry)
                return;
        /* One deadline for the whole wait, however often the setup is tried again. */
        if (!o->timer)
                r = ecs_loop_add_timer(o->n->p.loop, o->n->p.eni_wait_usec, on_eni_timeout, o,
                                       &o->timer);
        if (r >= 0)
                r = net_link_watch_new(ecs_loop_event(o->n->p.loop), -1, eni->mac, on_eni_link, o,
                                       &o->watch);
        if (r >= 0 && net_find_link_by_mac(NULL, eni->mac, NULL, NULL) >= 0) {
                /* It arrived between the setup attempt and the subscription (or the setup
                 * could not take it yet): try again shortly. */
                o->watch = net_link_watch_free(o->watch);
                r = ecs_loop_add_timer(o->n->p.loop, ENI_RETRY_USEC, on_eni_retry, o, &o->retry);
                if (r >= 0)
                        return;
        }
        if (r < 0) {
                op_done(o, r, "cannot wait for ENI %s: %s", o->t->eni->mac, strerror(-r));
                return;
        }
        log_info("Task %s: waiting for ENI %s", o->t->arn, o->t->eni->mac);
}

static void setup_network(struct op *o, int pid)
{
        struct ecs_task *t = o->t;
        struct net_eni eni;
        struct net_ns *ns = NULL;
        struct net_awsvpc_result res = {0};
        char ip[NET_IP_STRLEN];
        uint64_t t0 = now_usec();
        int r;

        r = eni_of(o->n, t, &eni);
        if (r < 0) {
                op_done(o, r, "invalid ENI in the task: %s", strerror(-r));
                return;
        }
        r = open_netns(pid, &ns);
        if (r < 0) {
                op_done(o, r, "cannot open the pause container's network namespace: %s",
                        strerror(-r));
                return;
        }
        struct net_awsvpc_params ap = awsvpc_params(o->n, &eni);
        r = net_awsvpc_setup(&ap, net_ns_fd(ns), &res);
        net_ns_free(ns);
        if (r == -ENOENT) {
                wait_for_eni(o, &eni);
                return;
        }
        if (r < 0) {
                op_done(o, r, "network setup for ENI %s failed: %s", t->eni->mac, strerror(-r));
                return;
        }
        if (net_ip_format(&res.local_ip, ip, sizeof(ip)) >= 0 && !streq_ptr(t->local_ip, ip)) {
                free(t->local_ip);
                t->local_ip = strdup(ip);
        }
        log_info("Task %s: ENI %s is eth0 of the task namespace, bridge address %s (%llu us)",
                 t->arn, t->eni->mac, strna(t->local_ip), (unsigned long long)(now_usec() - t0));
        op_done(o, 0, NULL);
}

static void on_pause_started(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        o->call = NULL;
        if (res->error < 0) {
                op_done(o, res->error, "CannotStartContainerError: pause container: %s",
                        res->message);
                return;
        }
        setup_inspect(o);
}

static void on_pause_created(const struct docker_result *res, const char *id, void *ud)
{
        struct op *o = ud;
        struct ecs_task *t = o->t;

        o->call = NULL;
        if (res->error == -EEXIST) {
                /* Created before a crash, not recorded: adopt it by name. */
                setup_inspect(o);
                return;
        }
        if (res->error < 0) {
                op_done(o, res->error, "CannotCreateContainerError: pause container: %s",
                        res->message);
                return;
        }
        free(t->pause_docker_id);
        t->pause_docker_id = strdup(id);
        if (!t->pause_docker_id) {
                op_done(o, -ENOMEM, "out of memory");
                return;
        }
        check_call(o, docker_container_start(o->n->p.docker, id, DOCKER_TIMEOUT_USEC,
                                             on_pause_started, o, &o->call));
}

static void setup_create(struct op *o)
{
        _cleanup_json_ json_object *config = NULL;
        int r;

        o->created = true;
        r = tasknet_pause_config(o->t, o->n->cluster, o->cgroup_parent, &config);
        if (r >= 0)
                r = docker_container_create(o->n->p.docker, o->t->pause_docker_name, config,
                                            DOCKER_TIMEOUT_USEC, on_pause_created, o, &o->call);
        if (r < 0)
                op_done(o, r, "CannotCreateContainerError: pause container: %s", strerror(-r));
}

static void on_setup_inspect(const struct docker_result *res, const struct docker_container *c,
                             void *ud)
{
        struct op *o = ud;
        struct ecs_task *t = o->t;

        o->call = NULL;
        if (res->error == -ENOENT && !o->created) {
                t->pause_docker_id = mfree(t->pause_docker_id);
                setup_create(o);
                return;
        }
        if (res->error < 0) {
                op_done(o, res->error, "pause container: %s", res->message);
                return;
        }
        if (!streq_ptr(t->pause_docker_id, c->id)) {
                free(t->pause_docker_id);
                t->pause_docker_id = strdup(c->id);
        }
        if (c->running && c->pid > 0) {
                setup_network(o, c->pid);
                return;
        }
        if (c->started_at_usec && !o->created) {
                /* It ran and stopped: its namespace and what was in it are gone. */
                op_done(o, -ESRCH, "the pause container stopped (exit code %d)", c->exit_code);
                return;
        }
        check_call(o, docker_container_start(o->n->p.docker, c->id, DOCKER_TIMEOUT_USEC,
                                             on_pause_started, o, &o->call));
}

static void setup_inspect(struct op *o)
{
        const char *ref = o->t->pause_docker_id ? o->t->pause_docker_id : o->t->pause_docker_name;
        check_call(o, docker_container_inspect(o->n->p.docker, ref, DOCKER_TIMEOUT_USEC,
                                               on_setup_inspect, o, &o->call));
}

static struct op *op_new(struct tasknet *n, struct ecs_task *t, enum op_kind kind,
                         tasknet_done_fn cb, void *ud)
{
        struct op *o;

        for (o = n->ops; o; o = o->next)
                if (o->t == t)
                        return NULL; /* one at a time per task */
        o = calloc(1, sizeof(*o));
        if (!o)
                return NULL;
        *o = (struct op){.n = n, .t = ecs_task_ref(t), .kind = kind, .cb = cb, .ud = ud};
        o->next = n->ops;
        n->ops = o;
        return o;
}

static int pause_name(struct ecs_task *t)
{
        char hex[21];
        int r;

        if (t->pause_docker_name)
                return 0;
        r = random_hex(hex, 10);
        if (r < 0)
                return r;
        if (asprintf(&t->pause_docker_name, "ecs-%s-%s-internalecspause-%s", t->family, t->version,
                     hex) < 0) {
                t->pause_docker_name = NULL;
                return -ENOMEM;
        }
        return 0;
}

int tasknet_setup(struct tasknet *n, struct ecs_task *t, const char *cgroup_parent,
                  tasknet_done_fn cb, void *ud)
{
        struct op *o;
        int r;

        if (!t->eni)
                return -EINVAL;
        r = pause_name(t);
        if (r < 0)
                return r;
        o = op_new(n, t, OP_SETUP, cb, ud);
        if (!o)
                return -EBUSY;
        if (cgroup_parent && !(o->cgroup_parent = strdup(cgroup_parent))) {
                op_free(o);
                return -ENOMEM;
        }
        /* Every outcome comes later through cb (the caller persists the name first); a call
         * that cannot even start fails here, without cb. */
        const char *ref = t->pause_docker_id ? t->pause_docker_id : t->pause_docker_name;
        r = docker_container_inspect(n->p.docker, ref, DOCKER_TIMEOUT_USEC, on_setup_inspect, o,
                                     &o->call);
        if (r < 0) {
                op_free(o);
                return r;
        }
        return 0;
}

/* ---- teardown and release ---- */

static void on_pause_stopped(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        o->call = NULL;
        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Task %s: stopping the pause container failed: %s", o->t->arn,
                            res->message);
        op_done(o, 0, NULL);
}

static void on_pause_removed(const struct docker_result *res, void *ud)
{
        struct op *o = ud;
        o->call = NULL;
        if (res->error < 0 && res->error != -ENOENT) {
                op_done(o, res->error, "removing the pause container: %s", res->message);
                return;
        }
        if (o->t->eni && o->t->eni->mac)
                (void)net_ipam_release(o->n->ipam, o->t->eni->mac);
        op_done(o, 0, NULL);
}

static void on_teardown_inspect(const struct docker_result *res, const struct docker_container *c,
                                void *ud)
{
        struct op *o = ud;
        struct ecs_task *t = o->t;
        struct net_ns *ns = NULL;
        struct net_eni eni;
        bool live = false;
        int r;

        o->call = NULL;
        /* A task rebuilt from labels knows its pause container but not its ENI: the kernel
         * hands a physical ENI back when the namespace goes. */
        r = t->eni ? eni_of(o->n, t, &eni) : 0;
        if (r >= 0 && t->eni) {
                struct net_awsvpc_params ap = awsvpc_params(o->n, &eni);
                /* A namespace that is gone already gave the ENI back (the kernel does). */
                live = res->error >= 0 && c->running && c->pid > 0 && open_netns(c->pid, &ns) >= 0;
                r = net_awsvpc_teardown(&ap, live ? net_ns_fd(ns) : -1);
                net_ns_free(ns);
        }
        if (r < 0)
                log_warning_errno(r, "Task %s: network teardown: %m", t->arn);
        else if (live && t->eni)
                log_info("Task %s: ENI %s returned to the host", t->arn, t->eni->mac);
        if (o->kind == OP_RELEASE) {
                const char *ref = t->pause_docker_id ? t->pause_docker_id : t->pause_docker_name;
                check_call(o, docker_container_remove(o->n->p.docker, ref, true, true,
                                                      DOCKER_TIMEOUT_USEC, on_pause_removed, o,
                                                      &o->call));
                return;
        }
        if (res->error < 0 || !c->running) {
                op_done(o, 0, NULL);
                return;
        }
        check_call(o, docker_container_stop(o->n->p.docker, c->id, PAUSE_STOP_GRACE_SEC, 0,
                                            on_pause_stopped, o, &o->call));
}

/* Both start by giving the ENI back (when the agent died between a stop and its teardown,
 * the cleanup still finds the ENI in the namespace), then stop or remove the pause
 * container. */
static int start_teardown(struct tasknet *n, struct ecs_task *t, enum op_kind kind,
                          tasknet_done_fn cb, void *ud)
{
        struct op *o;
        const char *ref = t->pause_docker_id ? t->pause_docker_id : t->pause_docker_name;

        if (!ref)
                return -ENOENT;
        o = op_new(n, t, kind, cb, ud);
        if (!o)
                return -EBUSY;
        if (docker_container_inspect(n->p.docker, ref, DOCKER_TIMEOUT_USEC, on_teardown_inspect, o,
                                     &o->call) < 0) {
                op_free(o);
                return -ENOMEM;
        }
        return 0;
}

int tasknet_teardown(struct tasknet *n, struct ecs_task *t, tasknet_done_fn cb, void *ud)
{
        return start_teardown(n, t, OP_TEARDOWN, cb, ud);
}

int tasknet_release(struct tasknet *n, struct ecs_task *t, tasknet_done_fn cb, void *ud)
{
        return start_teardown(n, t, OP_RELEASE, cb, ud);
}

void tasknet_cancel(struct tasknet *n, struct ecs_task *t)
{
        for (struct op *o = n ? n->ops : NULL; o; o = o->next)
                if (o->t == t) {
                        op_free(o);
                        return;
                }
}

/* ---- the pause container ---- */

static int add_strv_array(json_object *o, const char *key, char **l)
{
        if (!l || !*l)
                return 0;
        json_object *a = json_object_new_array();
        if (!a || json_add(o, key, a) < 0)
                return -ENOMEM;
        strv_foreach (s, l)
                if (json_object_array_add(a, json_object_new_string(*s)) < 0)
                        return -ENOMEM;
        return 0;
}

int tasknet_pause_config(const struct ecs_task *t, const char *cluster, const char *cgroup_parent,
                         json_object **ret)
{
        _cleanup_json_ json_object *c = json_object_new_object();
        json_object *labels, *hc;
        const struct task_eni *e = t->eni;
        int r;

        if (!e)
                return -EINVAL;
        if (!c)
                return -ENOMEM;
        /* Each added (and so owned by c) before the next is made. */
        if (!(labels = json_object_new_object()) || json_add(c, "Labels", labels) < 0 ||
            !(hc = json_object_new_object()) || json_add(c, "HostConfig", hc) < 0)
                return -ENOMEM;
        if ((r = json_add_string(c, "Image", TASKNET_PAUSE_IMAGE)) < 0 ||
            (r = json_add_string(labels, "com.amazonaws.ecs.task-arn", t->arn)) < 0 ||
            (r = json_add_string(labels, "com.amazonaws.ecs.container-name",
                                 TASKNET_PAUSE_CONTAINER_NAME)) < 0 ||
            (r = json_add_string(labels, "com.amazonaws.ecs.task-definition-family", t->family)) <
                0 ||
            (r = json_add_string(labels, "com.amazonaws.ecs.task-definition-version", t->version)) <
                0 ||
            (r = json_add_string(labels, "com.amazonaws.ecs.cluster", cluster)) < 0 ||
            (r = json_add_string(hc, "NetworkMode", "none")) < 0 ||
            (cgroup_parent && (r = json_add_string(hc, "CgroupParent", cgroup_parent)) < 0) ||
            (r = add_strv_array(hc, "Dns", e->dns_servers)) < 0 ||
            (r = add_strv_array(hc, "DnsSearch", e->search_domains)) < 0)
                return r;
        if (!isempty(e->private_dns_name)) {
                /* The task's own name resolves to its ENI addresses (§6.3 step 2). */
                json_object *hosts = json_object_new_array();
                if ((r = json_add_string(c, "Hostname", e->private_dns_name)) < 0 ||
                    json_add(hc, "ExtraHosts", hosts) < 0)
                        return r < 0 ? r : -ENOMEM;
                char **addrs = e->ipv4 ? e->ipv4 : e->ipv6;
                strv_foreach (a, addrs) {
                        _cleanup_free_ char *h = NULL;
                        if (asprintf(&h, "%s:%s", e->private_dns_name, *a) < 0 ||
                            json_object_array_add(hosts, json_object_new_string(h)) < 0)
                                return -ENOMEM;
                }
        }
        if (e->ipv6 && *e->ipv6) {
                json_object *sysctls = json_object_new_object();
                if (json_add(hc, "Sysctls", sysctls) < 0 ||
                    json_add_string(sysctls, "net.ipv6.conf.all.disable_ipv6", "0") < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- lifecycle ---- */

int tasknet_new(const struct tasknet_params *p, struct tasknet **ret)
{
        struct tasknet *n = calloc(1, sizeof(*n));
        size_t k = 0;
        int r;

        if (!n)
                return -ENOMEM;
        n->p = *p;
        n->datadir = strdup(p->datadir);
        n->cluster = strdup(p->cluster);
        if (!n->datadir || !n->cluster) {
                tasknet_free(n);
                return -ENOMEM;
        }
        n->p.datadir = n->datadir;
        n->p.cluster = n->cluster;
        n->p.extra_routes = NULL;
        for (char *const *s = p->extra_routes; s && *s; s++)
                k++;
        n->routes = calloc(k + 1, sizeof(*n->routes));
        if (!n->routes) {
                tasknet_free(n);
                return -ENOMEM;
        }
        for (char *const *s = p->extra_routes; s && *s; s++)
                if (net_cidr_parse(*s, &n->routes[n->n_routes]) >= 0)
                        n->n_routes++;
        r = net_ipam_open(n->datadir, NULL, &n->ipam);
        if (r < 0) {
                tasknet_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

struct tasknet *tasknet_free(struct tasknet *n)
{
        if (!n)
                return NULL;
        while (n->ops)
                op_free(n->ops);
        net_ipam_free(n->ipam);
        free(n->routes);
        free(n->datadir);
        free(n->cluster);
        free(n);
        return NULL;
}
