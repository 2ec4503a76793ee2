#include <string.h>

#include "ecs/macro.h"
#include "ecs/task.h"

static const char *const task_status_names[_TASK_STATUS_MAX] = {
    [TASK_STATUS_NONE] = "NONE",       [TASK_STATUS_MANIFEST_PULLED] = "MANIFEST_PULLED",
    [TASK_STATUS_PULLED] = "PULLED",   [TASK_STATUS_CREATED] = "CREATED",
    [TASK_STATUS_RUNNING] = "RUNNING", [TASK_STATUS_STOPPED] = "STOPPED",
};

static const char *const container_status_names[_CONTAINER_STATUS_MAX] = {
    [CONTAINER_STATUS_NONE] = "NONE",
    [CONTAINER_STATUS_MANIFEST_PULLED] = "MANIFEST_PULLED",
    [CONTAINER_STATUS_PULLED] = "PULLED",
    [CONTAINER_STATUS_CREATED] = "CREATED",
    [CONTAINER_STATUS_RUNNING] = "RUNNING",
    [CONTAINER_STATUS_RESOURCES_PROVISIONED] = "RESOURCES_PROVISIONED",
    [CONTAINER_STATUS_STOPPED] = "STOPPED",
};

static const char *const network_mode_names[_NETWORK_MODE_MAX] = {
    [NETWORK_MODE_BRIDGE] = "bridge",
    [NETWORK_MODE_HOST] = "host",
    [NETWORK_MODE_AWSVPC] = "awsvpc",
    [NETWORK_MODE_NONE] = "none",
};

static const char *const port_protocol_names[_PORT_PROTOCOL_MAX] = {
    [PORT_PROTOCOL_TCP] = "tcp",
    [PORT_PROTOCOL_UDP] = "udp",
};

static const char *const dependency_names[_DEPENDENCY_MAX] = {
    [DEPENDENCY_START] = "START",     [DEPENDENCY_COMPLETE] = "COMPLETE",
    [DEPENDENCY_SUCCESS] = "SUCCESS", [DEPENDENCY_HEALTHY] = "HEALTHY",
    [DEPENDENCY_CREATE] = "CREATE",
};

static int lookup(const char *const *table, int n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return i;
        return -EINVAL;
}

static const char *name_of(const char *const *table, int n, int v)
{
        return v >= 0 && v < n ? table[v] : NULL;
}

const char *task_status_to_string(enum task_status s)
{
        return name_of(task_status_names, _TASK_STATUS_MAX, s);
}

enum task_status task_status_from_string(const char *s)
{
        return lookup(task_status_names, _TASK_STATUS_MAX, s);
}

/* ECS only knows PENDING, RUNNING and STOPPED (§4.2). */
const char *task_status_backend(enum task_status s)
{
        return s == TASK_STATUS_RUNNING   ? "RUNNING"
               : s == TASK_STATUS_STOPPED ? "STOPPED"
                                          : "PENDING";
}

const char *container_status_to_string(enum container_status s)
{
        return name_of(container_status_names, _CONTAINER_STATUS_MAX, s);
}

enum container_status container_status_from_string(const char *s)
{
        /* Legacy spellings the official agent still accepts (§4.1). */
        if (s && streq(s, "UNKNOWN"))
                return CONTAINER_STATUS_NONE;
        if (s && streq(s, "DEAD"))
                return CONTAINER_STATUS_STOPPED;
        return lookup(container_status_names, _CONTAINER_STATUS_MAX, s);
}

const char *container_status_backend(enum container_status s)
{
        if (s == CONTAINER_STATUS_RUNNING || s == CONTAINER_STATUS_RESOURCES_PROVISIONED)
                return "RUNNING";
        return s == CONTAINER_STATUS_STOPPED ? "STOPPED" : "PENDING";
}

const char *network_mode_to_string(enum network_mode m)
{
        return name_of(network_mode_names, _NETWORK_MODE_MAX, m);
}

static const char *const health_names[] = {"UNKNOWN", "HEALTHY", "UNHEALTHY"};

const char *health_status_to_string(int h)
{
        return name_of(health_names, ELEMENTSOF(health_names), h);
}

int health_status_from_string(const char *s)
{
        return lookup(health_names, ELEMENTSOF(health_names), s);
}

enum network_mode network_mode_from_string(const char *s)
{
        if (isempty(s))
                return NETWORK_MODE_BRIDGE;
        return lookup(network_mode_names, _NETWORK_MODE_MAX, s);
}

const char *port_protocol_to_string(enum port_protocol p)
{
        return name_of(port_protocol_names, _PORT_PROTOCOL_MAX, p);
}

enum port_protocol port_protocol_from_string(const char *s)
{
        if (isempty(s))
                return PORT_PROTOCOL_TCP;
        return lookup(port_protocol_names, _PORT_PROTOCOL_MAX, s);
}

const char *dependency_condition_to_string(enum dependency_condition c)
{
        return name_of(dependency_names, _DEPENDENCY_MAX, c);
}

enum dependency_condition dependency_condition_from_string(const char *s)
{
        return lookup(dependency_names, _DEPENDENCY_MAX, s);
}

struct ecs_task *ecs_task_new(void)
{
        struct ecs_task *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->refs = 1;
        return t;
}

struct ecs_task *ecs_task_ref(struct ecs_task *t)
{
        if (t)
                t->refs++;
        return t;
}

static void task_volume_done(struct task_volume *v)
{
        free(v->name);
        free(v->type);
        free(v->source_path);
        free(v->scope);
        free(v->driver);
        strv_free(v->driver_opts);
        strv_free(v->labels);
        free(v->docker_name);
}

void ecs_container_done(struct ecs_container *c)
{
        if (!c)
                return;
        free(c->name);
        free(c->arn);
        free(c->image);
        strv_free(c->command);
        strv_free(c->entrypoint);
        strv_free(c->environment);
        free(c->ports);
        strv_free(c->links);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].source_volume);
                free(c->mounts[i].container_path);
        }
        free(c->mounts);
        for (size_t i = 0; i < c->n_volumes_from; i++)
                free(c->volumes_from[i].source_container);
        free(c->volumes_from);
        for (size_t i = 0; i < c->n_depends_on; i++)
                free(c->depends_on[i].container_name);
        free(c->depends_on);
        free(c->docker_config);
        free(c->docker_host_config);
        free(c->docker_version);
        free(c->restart.ignored_exit_codes);
        for (size_t i = 0; i < c->n_secrets; i++) {
                free(c->secrets[i].name);
                free(c->secrets[i].value_from);
                free(c->secrets[i].region);
                free(c->secrets[i].provider);
                free(c->secrets[i].type);
                free(c->secrets[i].target);
                free(c->secrets[i].container_path);
        }
        free(c->secrets);
        free(c->registry_auth.type);
        free(c->registry_auth.ecr_registry_id);
        free(c->registry_auth.ecr_region);
        free(c->registry_auth.ecr_endpoint_override);
        free(c->registry_auth.asm_credentials_parameter);
        free(c->registry_auth.asm_region);
        free(c->docker_id);
        free(c->docker_name);
        free(c->image_id);
        free(c->image_digest);
        free(c->reason);
        free(c->bindings);
        free(c->endpoint_id);
        free(c->network_name);
        free(c->ipv4_address);
        free(c->ipv6_address);
        strv_free(c->docker_labels);
        memset(c, 0, sizeof(*c));
}

void task_eni_free(struct task_eni *e)
{
        if (!e)
                return;
        free(e->ec2_id);
        free(e->mac);
        free(e->attachment_arn);
        strv_free(e->ipv4);
        strv_free(e->ipv6);
        free(e->subnet_gateway_ipv4);
        free(e->subnet_gateway_ipv6);
        strv_free(e->dns_servers);
        strv_free(e->search_domains);
        free(e->private_dns_name);
        free(e);
}

struct ecs_task *ecs_task_unref(struct ecs_task *t)
{
        if (!t || --t->refs > 0)
                return NULL;
        free(t->arn);
        free(t->id);
        free(t->cluster_arn);
        free(t->family);
        free(t->version);
        free(t->launch_type);
        free(t->service_name);
        free(t->role_credentials_id);
        free(t->execution_credentials_id);
        for (size_t i = 0; i < t->n_containers; i++)
                ecs_container_done(&t->containers[i]);
        free(t->containers);
        for (size_t i = 0; i < t->n_volumes; i++)
                task_volume_done(&t->volumes[i]);
        free(t->volumes);
        task_eni_free(t->eni);
        free(t->pause_docker_id);
        free(t->pause_docker_name);
        free(t->local_ip);
        free(t->reason);
        free(t);
        return NULL;
}

struct ecs_container *ecs_task_find_container(struct ecs_task *t, const char *name)
{
        for (size_t i = 0; i < t->n_containers; i++)
                if (streq(t->containers[i].name, name))
                        return &t->containers[i];
        return NULL;
}

/* "arn:aws:ecs:region:account:task/cluster/id" or the older ".../task/id": the id is the
 * last '/'-separated component of the resource, which must start with "task/" (§2.6.1). */
int ecs_task_id_from_arn(const char *arn, char **ret)
{
        const char *res, *id;
        int colons = 0;

        if (!arn || strncmp(arn, "arn:", 4) != 0)
                return -EINVAL;
        for (res = arn; *res && colons < 5; res++)
                if (*res == ':')
                        colons++;
        if (colons < 5 || strncmp(res, "task/", 5) != 0)
                return -EINVAL;
        id = strrchr(res, '/') + 1;
        if (isempty(id))
                return -EINVAL;
        for (const char *p = id; *p; p++)
                if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
                      ('0' <= *p && *p <= '9') || *p == '-' || *p == '_'))
                        return -EINVAL; /* the id names cgroups and files: keep it tame */
        char *s = strdup(id);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
