/* Building the Docker create request for one task container. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/strbuf.h"
#include "ecs/uuid.h"

#define CPU_SHARES_MIN    2
#define CPU_SHARES_MAX    262144
#define MEMORY_MIN_BYTES  (4ULL * 1024 * 1024)
#define METADATA_BASE_URI "http://169.254.170.2"

int json_merge_onto(json_object *dst, json_object *src)
{
        json_object_object_foreach (src, key, val) {
                json_object *cur = json_get(dst, key);
                if (cur && val && json_object_is_type(cur, json_type_object) &&
                    json_object_is_type(val, json_type_object)) {
                        int r = json_merge_onto(cur, val);
                        if (r < 0)
                                return r;
                        continue;
                }
                int r = json_object_object_add(dst, key, json_object_get(val));
                if (r < 0)
                        return -ENOMEM;
        }
        return 0;
}

int engine_container_docker_name(const struct ecs_task *t, const struct ecs_container *c,
                                 char **ret)
{
        struct strbuf b = STRBUF_INIT(0);
        char hex[21];
        int r;

        r = random_hex(hex, 10);
        if (r < 0)
                return r;
        r = strbuf_printf(&b, "ecs-%s-%s-", t->family, t->version);
        for (const char *p = c->name; r >= 0 && *p; p++)
                if (isalnum((unsigned char)*p) || *p == '-')
                        r = strbuf_append(&b, p, 1);
        if (r >= 0)
                r = strbuf_printf(&b, "-%s", hex);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return 0;
}

static bool env_has(char **env, const char *name)
{
        size_t n = strlen(name);
        strv_foreach (e, env)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return true;
        return false;
}

static int add_env(json_object *arr, const char *name, const char *value)
{
        struct strbuf b = STRBUF_INIT(0);
        int r = strbuf_printf(&b, "%s=%s", name, value);
        if (r < 0)
                return r;
        json_object *s = json_object_new_string(b.data);
        strbuf_done(&b);
        if (!s || json_object_array_add(arr, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static json_object *strv_to_json(char **l)
{
        json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        strv_foreach (s, l) {
                json_object *v = json_object_new_string(*s);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static int build_env(const struct create_config_input *in, json_object **ret)
{
        const struct ecs_container *c = in->container;
        const struct ecs_task *t = in->task;
        _cleanup_json_ json_object *env = strv_to_json(c->environment);
        char uri[256];
        int r = 0;

        if (!env)
                return -ENOMEM;
        /* Injected after the task definition's own variables (§4.15). */
        if (c->endpoint_id) {
                snprintf(uri, sizeof(uri), METADATA_BASE_URI "/v3/%s", c->endpoint_id);
                r = add_env(env, "ECS_CONTAINER_METADATA_URI", uri);
                snprintf(uri, sizeof(uri), METADATA_BASE_URI "/v4/%s", c->endpoint_id);
                if (r >= 0)
                        r = add_env(env, "ECS_CONTAINER_METADATA_URI_V4", uri);
                snprintf(uri, sizeof(uri), METADATA_BASE_URI "/api/%s", c->endpoint_id);
                if (r >= 0)
                        r = add_env(env, "ECS_AGENT_URI", uri);
        }
        if (r >= 0 && t->role_credentials_id) {
                snprintf(uri, sizeof(uri), "/v2/credentials/%s", t->role_credentials_id);
                r = add_env(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", uri);
        }
        if (r >= 0 && !isempty(in->region) && !env_has(c->environment, "AWS_REGION") &&
            !env_has(c->environment, "AWS_DEFAULT_REGION")) {
                r = add_env(env, "AWS_REGION", in->region);
                if (r >= 0)
                        r = add_env(env, "AWS_DEFAULT_REGION", in->region);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

static int build_ports(const struct create_config_input *in, json_object *config,
                       json_object *host_config)
{
        const struct ecs_container *c = in->container;
        json_object *exposed, *bindings;

        if (c->n_ports == 0)
                return 0;
        exposed = json_object_new_object();
        bindings = json_object_new_object();
        if (json_add(config, "ExposedPorts", exposed) < 0 ||
            json_add(host_config, "PortBindings", bindings) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_ports; i++) {
                const struct port_mapping *p = &c->ports[i];
                char key[32], hp[8];
                snprintf(key, sizeof(key), "%u/%s", p->container_port,
                         port_protocol_to_string(p->protocol));
                snprintf(hp, sizeof(hp), "%u", in->host_ports ? in->host_ports[i] : 0);
                json_object *list = json_get(bindings, key);
                if (!list) {
                        list = json_object_new_array();
                        if (json_add(bindings, key, list) < 0 ||
                            json_add(exposed, key, json_object_new_object()) < 0)
                                return -ENOMEM;
                }
                json_object *b = json_object_new_object();
                if (!b || json_object_array_add(list, b) < 0) {
                        json_object_put(b);
                        return -ENOMEM;
                }
                if (json_add_string(b, "HostPort", hp) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static const struct task_volume *find_volume(const struct ecs_task *t, const char *name)
{
        for (size_t i = 0; i < t->n_volumes; i++)
                if (streq(t->volumes[i].name, name))
                        return &t->volumes[i];
        return NULL;
}

/* *ret_error = the formatted message (NULL when out of memory); returns r. */
static int set_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        *ret_error = strdup_vprintf(fmt, ap);
        va_end(ap);
        return r;
}

static int build_mounts(const struct create_config_input *in, json_object *host_config,
                        char **ret_error)
{
        const struct ecs_container *c = in->container;
        const struct ecs_task *t = in->task;
        int r;

        if (c->n_mounts > 0) {
                json_object *binds = json_object_new_array();
                if (json_add(host_config, "Binds", binds) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_mounts; i++) {
                        const struct mount_point *m = &c->mounts[i];
                        const struct task_volume *v = find_volume(t, m->source_volume);
                        const char *src =
                            v ? (!isempty(v->source_path) ? v->source_path : v->docker_name) : NULL;
                        if (isempty(src)) {
                                return set_error(
                                    ret_error, -EINVAL, "mount point '%s' refers to %s volume '%s'",
                                    m->container_path, v ? "an unprovisioned" : "an unknown",
                                    m->source_volume);
                        }
                        struct strbuf b = STRBUF_INIT(0);
                        r = strbuf_printf(&b, "%s:%s%s", src, m->container_path,
                                          m->read_only ? ":ro" : "");
                        json_object *s = r < 0 ? NULL : json_object_new_string(b.data);
                        strbuf_done(&b);
                        if (!s || json_object_array_add(binds, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }

        if (c->links) {
                json_object *links = json_object_new_array();
                if (json_add(host_config, "Links", links) < 0)
                        return -ENOMEM;
                strv_foreach (l, c->links) {
                        _cleanup_free_ char *name = strdup(*l);
                        if (!name)
                                return -ENOMEM;
                        char *colon = strchr(name, ':');
                        const char *alias = colon ? colon + 1 : name;
                        if (colon)
                                *colon = 0;
                        const char *dn = in->docker_name_of ? in->docker_name_of(t, name) : NULL;
                        if (!dn) {
                                return set_error(ret_error, -EINVAL,
                                                 "link to unknown container '%s'", name);
                        }
                        struct strbuf b = STRBUF_INIT(0);
                        r = strbuf_printf(&b, "%s:%s", dn, alias);
                        json_object *s = r < 0 ? NULL : json_object_new_string(b.data);
                        strbuf_done(&b);
                        if (!s || json_object_array_add(links, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }

        if (c->n_volumes_from > 0) {
                json_object *vf = json_object_new_array();
                if (json_add(host_config, "VolumesFrom", vf) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_volumes_from; i++) {
                        const struct volume_from *f = &c->volumes_from[i];
                        const char *dn =
                            in->docker_name_of ? in->docker_name_of(t, f->source_container) : NULL;
                        if (!dn) {
                                return set_error(ret_error, -EINVAL,
                                                 "volumesFrom unknown container '%s'",
                                                 f->source_container);
                        }
                        struct strbuf b = STRBUF_INIT(0);
                        r = strbuf_printf(&b, "%s%s", dn, f->read_only ? ":ro" : "");
                        json_object *s = r < 0 ? NULL : json_object_new_string(b.data);
                        strbuf_done(&b);
                        if (!s || json_object_array_add(vf, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }
        return 0;
}

/* Parses one of the task definition's dockerConfig documents and merges it onto target. */
static int merge_docker_config(json_object *target, const char *doc, const char *what,
                               char **ret_error)
{
        _cleanup_json_ json_object *o = NULL;

        if (isempty(doc))
                return 0;
        if (json_parse(doc, strlen(doc), &o) < 0 || !json_object_is_type(o, json_type_object)) {
                return set_error(ret_error, -EINVAL, "dockerConfig.%s is not a JSON object", what);
        }
        return json_merge_onto(target, o);
}

static int build_labels(const struct create_config_input *in, json_object *config)
{
        const struct ecs_task *t = in->task;
        json_object *labels = json_get_object(config, "Labels", NULL);

        if (!labels) {
                labels = json_object_new_object();
                if (json_add(config, "Labels", labels) < 0)
                        return -ENOMEM;
        }
        /* Ours win over the task definition's: they are how we find our containers. */
        if (json_add_string(labels, "com.amazonaws.ecs.task-arn", t->arn) < 0 ||
            json_add_string(labels, "com.amazonaws.ecs.container-name", in->container->name) < 0 ||
            json_add_string(labels, "com.amazonaws.ecs.task-definition-family", t->family) < 0 ||
            json_add_string(labels, "com.amazonaws.ecs.task-definition-version", t->version) < 0 ||
            json_add_string(labels, "com.amazonaws.ecs.cluster", in->cluster) < 0)
                return -ENOMEM;
        return 0;
}

int engine_build_create_config(const struct create_config_input *in, json_object **ret,
                               char **ret_error)
{
        const struct ecs_container *c = in->container;
        _cleanup_json_ json_object *config = json_object_new_object();
        json_object *host_config = json_object_new_object(), *env = NULL;
        int r;

        if (!config || json_add(config, "HostConfig", host_config) < 0)
                return -ENOMEM;
        r = json_add_string(config, "Image", c->image);
        if (r >= 0 && c->command)
                r = json_add(config, "Cmd", strv_to_json(c->command));
        if (r >= 0 && c->entrypoint)
                r = json_add(config, "Entrypoint", strv_to_json(c->entrypoint));
        if (r >= 0)
                r = build_env(in, &env);
        if (r >= 0)
                r = json_add(config, "Env", env);
        if (r < 0)
                return r;

        /* awsvpc: the ports are the ENI's; Docker refuses publishing into another's netns. */
        r = in->network_container ? 0 : build_ports(in, config, host_config);
        if (r < 0)
                return r;
        r = build_mounts(in, host_config, ret_error);
        if (r < 0)
                return r;

        uint32_t shares = c->cpu < CPU_SHARES_MIN   ? CPU_SHARES_MIN
                          : c->cpu > CPU_SHARES_MAX ? CPU_SHARES_MAX
                                                    : c->cpu;
        r = json_add_int(host_config, "CpuShares", shares);
        if (r >= 0 && c->memory_mib > 0) {
                uint64_t bytes = (uint64_t)c->memory_mib * 1024 * 1024;
                r = json_add_int(host_config, "Memory",
                                 (int64_t)(bytes < MEMORY_MIN_BYTES ? MEMORY_MIN_BYTES : bytes));
        }
        if (r < 0)
                return r;

        /* The task definition's Docker documents go on top of what we built (§2.6.4). */
        r = merge_docker_config(config, c->docker_config, "config", ret_error);
        if (r >= 0)
                r = merge_docker_config(json_get(config, "HostConfig"), c->docker_host_config,
                                        "hostConfig", ret_error);
        /* The task cgroup overrides whatever the task definition asked for (§2.6.4). */
        if (r >= 0 && in->cgroup_parent)
                r = json_add_string(json_get(config, "HostConfig"), "CgroupParent",
                                    in->cgroup_parent);
        /* awsvpc: every container joins the pause container's namespace (§6.3 step 5). */
        if (r >= 0 && in->network_container) {
                _cleanup_free_ char *mode = NULL;
                if (asprintf(&mode, "container:%s", in->network_container) < 0)
                        return -ENOMEM;
                r = json_add_string(json_get(config, "HostConfig"), "NetworkMode", mode);
        }
        if (r >= 0)
                r = build_labels(in, config);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(config);
        return 0;
}

enum task_status engine_task_status_from_containers(const struct ecs_task *t)
{
        enum task_status min = _TASK_STATUS_MAX;

        for (size_t i = 0; i < t->n_containers; i++) {
                enum task_status s;
                switch (t->containers[i].known_status) {
                case CONTAINER_STATUS_NONE:
                        s = TASK_STATUS_NONE;
                        break;
                case CONTAINER_STATUS_MANIFEST_PULLED:
                case CONTAINER_STATUS_PULLED:
                        s = TASK_STATUS_MANIFEST_PULLED;
                        break;
                case CONTAINER_STATUS_CREATED:
                        s = TASK_STATUS_CREATED;
                        break;
                case CONTAINER_STATUS_RUNNING:
                case CONTAINER_STATUS_RESOURCES_PROVISIONED:
                        s = TASK_STATUS_RUNNING;
                        break;
                default:
                        s = TASK_STATUS_STOPPED;
                        break;
                }
                if (s < min)
                        min = s;
        }
        return min == _TASK_STATUS_MAX ? TASK_STATUS_NONE : min;
}
