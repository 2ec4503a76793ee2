/* The durable JSON form of struct ecs_task (§9.3). See task_json.h for the format rules. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "ecs/jsonutil.h"
#include "ecs/macro.h"
#include "ecs/task_json.h"

/* Every field of these structs is written and read below. The sizes are those of LP64
 * (x86_64, aarch64); when one changes, a field was added or removed: update task_to_json,
 * task_from_json and tests/unit/test_task_json.c (fill_task / assert_task_equal), then the
 * number here. A new field small enough to hide in padding slips through; the round-trip test
 * of every field is the second net. */
#if defined(__LP64__)
_Static_assert(sizeof(struct task_eni) == 80, "struct task_eni changed: update task_json.c");
_Static_assert(sizeof(struct ecs_task) == 232, "struct ecs_task changed: update task_json.c");
_Static_assert(sizeof(struct ecs_container) == 432,
               "struct ecs_container changed: update task_json.c");
_Static_assert(sizeof(struct port_mapping) == 12,
               "struct port_mapping changed: update task_json.c");
_Static_assert(sizeof(struct network_binding) == 56,
               "struct network_binding changed: update task_json.c");
_Static_assert(sizeof(struct mount_point) == 24, "struct mount_point changed: update task_json.c");
_Static_assert(sizeof(struct volume_from) == 16, "struct volume_from changed: update task_json.c");
_Static_assert(sizeof(struct container_dependency) == 16,
               "struct container_dependency changed: update task_json.c");
_Static_assert(sizeof(struct task_volume) == 72, "struct task_volume changed: update task_json.c");
_Static_assert(sizeof(struct container_secret) == 56,
               "struct container_secret changed: update task_json.c");
_Static_assert(sizeof(struct registry_auth) == 56,
               "struct registry_auth changed: update task_json.c");
_Static_assert(sizeof(struct restart_policy) == 32,
               "struct restart_policy changed: update task_json.c");
#endif

/* Generous for vCPUs, and keeps the value an ordinary finite double. */
#define TASK_JSON_MAX_CPU 1.0e6

/* ---- writing ---- */

static int add_str(json_object *o, const char *key, const char *s)
{
        if (!s)
                return 0;
        if (strlen(s) > TASK_JSON_MAX_STRING_LEN)
                return -E2BIG;
        return json_add_string(o, key, s);
}

static int add_strv(json_object *o, const char *key, char **l)
{
        _cleanup_json_ json_object *a = NULL;
        size_t n = 0;

        if (!l)
                return 0;
        a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        strv_foreach (s, l) {
                if (++n > TASK_JSON_MAX_ITEMS || strlen(*s) > TASK_JSON_MAX_STRING_LEN)
                        return -E2BIG;
                json_object *v = json_object_new_string(*s);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        return json_add(o, key, TAKE_PTR(a));
}

static int add_time(json_object *o, const char *key, uint64_t usec)
{
        if (usec > INT64_MAX)
                return -ERANGE;
        return json_add_int(o, key, (int64_t)usec);
}

static int add_name(json_object *o, const char *key, const char *name)
{
        return name ? json_add_string(o, key, name) : -EINVAL;
}

/* A new array of n items under key, owned by o. */
static int add_array(json_object *o, const char *key, size_t n, json_object **ret)
{
        json_object *a;
        int r;

        if (n > TASK_JSON_MAX_ITEMS)
                return -E2BIG;
        a = json_object_new_array_ext((int)n);
        if (!a)
                return -ENOMEM;
        r = json_add(o, key, a);
        if (r < 0)
                return r;
        *ret = a;
        return 0;
}

/* A new object appended to array a, owned by it. */
static int add_item(json_object *a, json_object **ret)
{
        json_object *v = json_object_new_object();

        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

/* A new object under key, owned by o. */
static int add_object(json_object *o, const char *key, json_object **ret)
{
        json_object *v = json_object_new_object();
        int r;

        if (!v)
                return -ENOMEM;
        r = json_add(o, key, v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

static int write_ports(json_object *o, const struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        int r;

        r = add_array(o, "portMappings", c->n_ports, &a);
        for (size_t i = 0; r >= 0 && i < c->n_ports; i++) {
                const struct port_mapping *m = &c->ports[i];
                if ((r = add_item(a, &p)) < 0 ||
                    (r = json_add_int(p, "containerPort", m->container_port)) < 0 ||
                    (r = json_add_int(p, "hostPort", m->host_port)) < 0 ||
                    (r = add_name(p, "protocol", port_protocol_to_string(m->protocol))) < 0 ||
                    (r = json_add_int(p, "containerPortRangeStart", m->range_start)) < 0 ||
                    (r = json_add_int(p, "containerPortRangeEnd", m->range_end)) < 0)
                        break;
        }
        return r;
}

static int write_bindings(json_object *o, const struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        int r;

        r = add_array(o, "networkBindings", c->n_bindings, &a);
        for (size_t i = 0; r >= 0 && i < c->n_bindings; i++) {
                const struct network_binding *b = &c->bindings[i];
                if (strnlen(b->bind_ip, sizeof(b->bind_ip)) >= sizeof(b->bind_ip))
                        return -EINVAL;
                if ((r = add_item(a, &p)) < 0 || (r = add_str(p, "bindIp", b->bind_ip)) < 0 ||
                    (r = json_add_int(p, "containerPort", b->container_port)) < 0 ||
                    (r = json_add_int(p, "hostPort", b->host_port)) < 0 ||
                    (r = add_name(p, "protocol", port_protocol_to_string(b->protocol))) < 0)
                        break;
        }
        return r;
}

static int write_links_and_volumes(json_object *o, const struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        int r;

        r = add_array(o, "mountPoints", c->n_mounts, &a);
        for (size_t i = 0; r >= 0 && i < c->n_mounts; i++)
                if ((r = add_item(a, &p)) < 0 ||
                    (r = add_str(p, "sourceVolume", c->mounts[i].source_volume)) < 0 ||
                    (r = add_str(p, "containerPath", c->mounts[i].container_path)) < 0 ||
                    (r = json_add_bool(p, "readOnly", c->mounts[i].read_only)) < 0)
                        return r;
        if (r < 0)
                return r;
        r = add_array(o, "volumesFrom", c->n_volumes_from, &a);
        for (size_t i = 0; r >= 0 && i < c->n_volumes_from; i++)
                if ((r = add_item(a, &p)) < 0 ||
                    (r = add_str(p, "sourceContainer", c->volumes_from[i].source_container)) < 0 ||
                    (r = json_add_bool(p, "readOnly", c->volumes_from[i].read_only)) < 0)
                        return r;
        if (r < 0)
                return r;
        r = add_array(o, "dependsOn", c->n_depends_on, &a);
        for (size_t i = 0; r >= 0 && i < c->n_depends_on; i++)
                if ((r = add_item(a, &p)) < 0 ||
                    (r = add_str(p, "containerName", c->depends_on[i].container_name)) < 0 ||
                    (r = add_name(p, "condition",
                                  dependency_condition_to_string(c->depends_on[i].condition))) < 0)
                        return r;
        if (r < 0)
                return r;
        return add_strv(o, "links", c->links);
}

static int write_secrets_and_auth(json_object *o, const struct ecs_container *c)
{
        const struct registry_auth *ra = &c->registry_auth;
        json_object *a = NULL, *p = NULL;
        int r;

        r = add_array(o, "secrets", c->n_secrets, &a);
        for (size_t i = 0; r >= 0 && i < c->n_secrets; i++) {
                const struct container_secret *s = &c->secrets[i];
                if ((r = add_item(a, &p)) < 0 || (r = add_str(p, "name", s->name)) < 0 ||
                    (r = add_str(p, "valueFrom", s->value_from)) < 0 ||
                    (r = add_str(p, "region", s->region)) < 0 ||
                    (r = add_str(p, "provider", s->provider)) < 0 ||
                    (r = add_str(p, "type", s->type)) < 0 ||
                    (r = add_str(p, "target", s->target)) < 0 ||
                    (r = add_str(p, "containerPath", s->container_path)) < 0)
                        return r;
        }
        if (r < 0 || (r = add_object(o, "registryAuth", &p)) < 0)
                return r;
        if ((r = add_str(p, "type", ra->type)) < 0 ||
            (r = add_str(p, "ecrRegistryId", ra->ecr_registry_id)) < 0 ||
            (r = add_str(p, "ecrRegion", ra->ecr_region)) < 0 ||
            (r = add_str(p, "ecrEndpointOverride", ra->ecr_endpoint_override)) < 0 ||
            (r = json_add_bool(p, "ecrUseExecutionRole", ra->ecr_use_execution_role)) < 0 ||
            (r = add_str(p, "asmCredentialsParameter", ra->asm_credentials_parameter)) < 0 ||
            (r = add_str(p, "asmRegion", ra->asm_region)) < 0)
                return r;

        if ((r = add_object(o, "restartPolicy", &p)) < 0 ||
            (r = json_add_bool(p, "enabled", c->restart.enabled)) < 0 ||
            (r = json_add_int(p, "restartAttemptPeriod", c->restart.attempt_period_sec)) < 0 ||
            (r = add_array(p, "ignoredExitCodes", c->restart.n_ignored_exit_codes, &a)) < 0)
                return r;
        for (size_t i = 0; i < c->restart.n_ignored_exit_codes; i++) {
                json_object *v = json_object_new_int(c->restart.ignored_exit_codes[i]);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int write_container(json_object *o, const struct ecs_container *c)
{
        int r;

        if (!health_status_to_string(c->health_status))
                return -EINVAL;
        /* Definition. */
        if ((r = add_str(o, "name", c->name)) < 0 || (r = add_str(o, "arn", c->arn)) < 0 ||
            (r = add_str(o, "image", c->image)) < 0 || (r = json_add_int(o, "cpu", c->cpu)) < 0 ||
            (r = json_add_int(o, "memory", c->memory_mib)) < 0 ||
            (r = json_add_bool(o, "essential", c->essential)) < 0 ||
            (r = add_strv(o, "command", c->command)) < 0 ||
            (r = add_strv(o, "entryPoint", c->entrypoint)) < 0 ||
            (r = add_strv(o, "environment", c->environment)) < 0 || (r = write_ports(o, c)) < 0 ||
            (r = write_links_and_volumes(o, c)) < 0 ||
            (r = add_str(o, "dockerConfig", c->docker_config)) < 0 ||
            (r = add_str(o, "dockerHostConfig", c->docker_host_config)) < 0 ||
            (r = add_str(o, "dockerVersion", c->docker_version)) < 0 ||
            (r = json_add_bool(o, "healthCheckDocker", c->health_check_docker)) < 0 ||
            (r = json_add_int(o, "startTimeout", c->start_timeout_sec)) < 0 ||
            (r = json_add_int(o, "stopTimeout", c->stop_timeout_sec)) < 0 ||
            (r = write_secrets_and_auth(o, c)) < 0 ||
            (r = json_add_bool(o, "logsAuthExecutionRole", c->logs_auth_execution_role)) < 0)
                return r;
        /* Runtime. */
        if ((r = add_name(o, "desiredStatus", container_status_to_string(c->desired_status))) < 0 ||
            (r = add_name(o, "knownStatus", container_status_to_string(c->known_status))) < 0 ||
            (r = add_name(o, "sentStatus", container_status_to_string(c->sent_status))) < 0 ||
            (r = add_str(o, "dockerId", c->docker_id)) < 0 ||
            (r = add_str(o, "dockerName", c->docker_name)) < 0 ||
            (r = add_str(o, "imageId", c->image_id)) < 0 ||
            (r = add_str(o, "imageDigest", c->image_digest)) < 0 ||
            (r = json_add_int(o, "exitCode", c->exit_code)) < 0 ||
            (r = json_add_bool(o, "hasExitCode", c->has_exit_code)) < 0 ||
            (r = add_str(o, "reason", c->reason)) < 0 || (r = write_bindings(o, c)) < 0 ||
            (r = add_str(o, "endpointId", c->endpoint_id)) < 0 ||
            (r = json_add_string(o, "healthStatus", health_status_to_string(c->health_status))) <
                0 ||
            (r = add_time(o, "healthSince", c->health_since)) < 0 ||
            (r = add_time(o, "createdAt", c->created_at)) < 0 ||
            (r = add_time(o, "startedAt", c->started_at)) < 0 ||
            (r = add_time(o, "finishedAt", c->finished_at)) < 0 ||
            (r = json_add_int(o, "restartCount", c->restart_count)) < 0)
                return r;
        return 0;
}

static int write_volume(json_object *o, const struct task_volume *v)
{
        int r;

        if ((r = add_str(o, "name", v->name)) < 0 || (r = add_str(o, "type", v->type)) < 0 ||
            (r = add_str(o, "sourcePath", v->source_path)) < 0 ||
            (r = add_str(o, "scope", v->scope)) < 0 ||
            (r = json_add_bool(o, "autoprovision", v->autoprovision)) < 0 ||
            (r = add_str(o, "driver", v->driver)) < 0 ||
            (r = add_strv(o, "driverOpts", v->driver_opts)) < 0 ||
            (r = add_strv(o, "labels", v->labels)) < 0 ||
            (r = add_str(o, "dockerName", v->docker_name)) < 0)
                return r;
        return 0;
}

static int write_eni(json_object *o, const struct task_eni *e)
{
        json_object *eo = NULL;
        int r;

        if (!e)
                return 0;
        if ((r = add_object(o, "eni", &eo)) < 0)
                return r;
        if ((r = add_str(eo, "ec2Id", e->ec2_id)) < 0 || (r = add_str(eo, "mac", e->mac)) < 0 ||
            (r = add_str(eo, "attachmentArn", e->attachment_arn)) < 0 ||
            (r = add_strv(eo, "ipv4", e->ipv4)) < 0 || (r = add_strv(eo, "ipv6", e->ipv6)) < 0 ||
            (r = add_str(eo, "subnetGatewayIpv4", e->subnet_gateway_ipv4)) < 0 ||
            (r = add_str(eo, "subnetGatewayIpv6", e->subnet_gateway_ipv6)) < 0 ||
            (r = add_strv(eo, "dnsServers", e->dns_servers)) < 0 ||
            (r = add_strv(eo, "searchDomains", e->search_domains)) < 0 ||
            (r = add_str(eo, "privateDnsName", e->private_dns_name)) < 0)
                return r;
        return 0;
}

static int write_task(json_object *o, const struct ecs_task *t)
{
        json_object *a = NULL, *p = NULL;
        int r;

        if (!isfinite(t->cpu) || t->cpu < 0 || t->cpu > TASK_JSON_MAX_CPU)
                return -ERANGE;
        if ((r = add_str(o, "arn", t->arn)) < 0 || (r = add_str(o, "id", t->id)) < 0 ||
            (r = add_str(o, "clusterArn", t->cluster_arn)) < 0 ||
            (r = add_str(o, "family", t->family)) < 0 ||
            (r = add_str(o, "version", t->version)) < 0 ||
            (r = add_name(o, "networkMode", network_mode_to_string(t->network_mode))) < 0 ||
            (r = json_add(o, "cpu", json_object_new_double(t->cpu))) < 0 ||
            (r = json_add_int(o, "memory", t->memory_mib)) < 0 ||
            (r = add_str(o, "launchType", t->launch_type)) < 0 ||
            (r = add_str(o, "serviceName", t->service_name)) < 0 ||
            (r = add_str(o, "roleCredentialsId", t->role_credentials_id)) < 0 ||
            (r = add_str(o, "executionCredentialsId", t->execution_credentials_id)) < 0)
                return r;
        if ((r = add_name(o, "desiredStatus", task_status_to_string(t->desired_status))) < 0 ||
            (r = add_name(o, "knownStatus", task_status_to_string(t->known_status))) < 0 ||
            (r = add_name(o, "sentStatus", task_status_to_string(t->sent_status))) < 0 ||
            (r = add_time(o, "knownStatusTime", t->known_status_time)) < 0 ||
            (r = add_str(o, "reason", t->reason)) < 0 ||
            (r = add_time(o, "pullStartedAt", t->pull_started_at)) < 0 ||
            (r = add_time(o, "pullStoppedAt", t->pull_stopped_at)) < 0 ||
            (r = add_time(o, "executionStoppedAt", t->execution_stopped_at)) < 0 ||
            (r = add_time(o, "createdAt", t->created_at)) < 0 || (r = write_eni(o, t->eni)) < 0 ||
            (r = add_str(o, "pauseDockerId", t->pause_docker_id)) < 0 ||
            (r = add_str(o, "pauseDockerName", t->pause_docker_name)) < 0 ||
            (r = add_str(o, "localIp", t->local_ip)) < 0)
                return r;

        if ((r = add_array(o, "containers", t->n_containers, &a)) < 0)
                return r;
        for (size_t i = 0; i < t->n_containers; i++)
                if ((r = add_item(a, &p)) < 0 || (r = write_container(p, &t->containers[i])) < 0)
                        return r;
        if ((r = add_array(o, "volumes", t->n_volumes, &a)) < 0)
                return r;
        for (size_t i = 0; i < t->n_volumes; i++)
                if ((r = add_item(a, &p)) < 0 || (r = write_volume(p, &t->volumes[i])) < 0)
                        return r;
        return 0;
}

int task_to_json(const struct ecs_task *t, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        json_object *to;
        int r;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if ((r = json_add_int(o, "version", TASK_JSON_VERSION)) < 0 ||
            (r = add_object(o, "task", &to)) < 0 || (r = write_task(to, t)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- reading ---- */

/* The first error, as "<where>.<key>: <what>". */
struct dec {
        char *error;
};

static int fail(struct dec *d, const char *where, const char *key, const char *fmt, ...)
    _printf_(4, 5);
static int fail(struct dec *d, const char *where, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (d->error)
                return -EBADMSG;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (what &&
            asprintf(&d->error, "%s%s%s: %s", where, key ? "." : "", strempty(key), what) < 0)
                d->error = NULL;
        return -EBADMSG;
}

static int dup_string(struct dec *d, const char *w, const char *key, json_object *v, char **ret)
{
        size_t len;
        const char *s;
        char *c;

        if (!json_object_is_type(v, json_type_string))
                return fail(d, w, key, "not a string");
        len = (size_t)json_object_get_string_len(v);
        s = json_object_get_string(v);
        if (len > TASK_JSON_MAX_STRING_LEN)
                return fail(d, w, key, "string longer than %u bytes", TASK_JSON_MAX_STRING_LEN);
        if (strlen(s) != len)
                return fail(d, w, key, "string with an embedded NUL");
        c = strndup(s, len);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static int get_str(struct dec *d, const char *w, json_object *o, const char *key, bool required,
                   char **ret)
{
        json_object *v = json_get(o, key);
        int r;

        if (!v) {
                if (required)
                        return fail(d, w, key, "missing");
                *ret = NULL;
                return 0;
        }
        r = dup_string(d, w, key, v, ret);
        if (r >= 0 && required && isempty(*ret)) {
                *ret = mfree(*ret);
                return fail(d, w, key, "empty");
        }
        return r;
}

/* An array of at most TASK_JSON_MAX_ITEMS, or NULL and 0 when absent. */
static int get_array(struct dec *d, const char *w, json_object *o, const char *key,
                     json_object **ret, size_t *ret_n)
{
        json_object *v = json_get(o, key);

        *ret = NULL;
        *ret_n = 0;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_array))
                return fail(d, w, key, "not an array");
        if (json_object_array_length(v) > TASK_JSON_MAX_ITEMS)
                return fail(d, w, key, "more than %u items", TASK_JSON_MAX_ITEMS);
        *ret = v;
        *ret_n = json_object_array_length(v);
        return 0;
}

/* Item i of a, which must be an object. */
static int get_item(struct dec *d, const char *w, const char *key, json_object *a, size_t i,
                    json_object **ret)
{
        json_object *v = json_object_array_get_idx(a, i);

        if (!json_object_is_type(v, json_type_object))
                return fail(d, w, key, "item %zu is not an object", i);
        *ret = v;
        return 0;
}

static int get_strv(struct dec *d, const char *w, json_object *o, const char *key, char ***ret)
{
        json_object *a;
        size_t n;
        int r;

        *ret = NULL;
        r = get_array(d, w, o, key, &a, &n);
        if (r < 0 || !a)
                return r;
        _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = dup_string(d, w, key, json_object_array_get_idx(a, i), &l[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int get_int(struct dec *d, const char *w, json_object *o, const char *key, int64_t min,
                   int64_t max, int64_t *ret)
{
        json_object *v = json_get(o, key);
        int64_t x = 0;

        if (!v) {
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return fail(d, w, key, "not an integer");
        x = json_object_get_int64(v);
        if (x < min || x > max)
                return fail(d, w, key, "%" PRId64 " out of range", x);
        *ret = x;
        return 0;
}

static int get_u16(struct dec *d, const char *w, json_object *o, const char *key, uint16_t *ret)
{
        int64_t x = 0;
        int r = get_int(d, w, o, key, 0, UINT16_MAX, &x);
        if (r >= 0)
                *ret = (uint16_t)x;
        return r;
}

static int get_u32(struct dec *d, const char *w, json_object *o, const char *key, uint32_t *ret)
{
        int64_t x = 0;
        int r = get_int(d, w, o, key, 0, UINT32_MAX, &x);
        if (r >= 0)
                *ret = (uint32_t)x;
        return r;
}

static int get_s32(struct dec *d, const char *w, json_object *o, const char *key, int *ret)
{
        int64_t x = 0;
        int r = get_int(d, w, o, key, INT_MIN, INT_MAX, &x);
        if (r >= 0)
                *ret = (int)x;
        return r;
}

static int get_time(struct dec *d, const char *w, json_object *o, const char *key, uint64_t *ret)
{
        int64_t x = 0;
        int r = get_int(d, w, o, key, 0, INT64_MAX, &x);
        if (r >= 0)
                *ret = (uint64_t)x;
        return r;
}

static int get_bool(struct dec *d, const char *w, json_object *o, const char *key, bool *ret)
{
        json_object *v = json_get(o, key);

        if (!v) {
                *ret = false;
                return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return fail(d, w, key, "not a boolean");
        *ret = json_object_get_boolean(v);
        return 0;
}

/* A required enum name, through the model's from_string (negative when unknown). */
static int get_enum(struct dec *d, const char *w, json_object *o, const char *key,
                    int (*from_string)(const char *), int *ret)
{
        json_object *v = json_get(o, key);
        int x;

        if (!v)
                return fail(d, w, key, "missing");
        if (!json_object_is_type(v, json_type_string))
                return fail(d, w, key, "not a string");
        x = from_string(json_object_get_string(v));
        if (x < 0)
                return fail(d, w, key, "unknown value");
        *ret = x;
        return 0;
}

/* The model's parsers return their enum types; these adapt them to get_enum. */
static int parse_container_status(const char *s)
{
        return container_status_from_string(s);
}
static int parse_task_status(const char *s)
{
        return task_status_from_string(s);
}
static int parse_network_mode(const char *s)
{
        /* Strict: the writer always names the mode, so "" is corruption, not "bridge". */
        return isempty(s) ? -EINVAL : network_mode_from_string(s);
}
static int parse_protocol(const char *s)
{
        return isempty(s) ? -EINVAL : port_protocol_from_string(s);
}
static int parse_condition(const char *s)
{
        return dependency_condition_from_string(s);
}
static int parse_health(const char *s)
{
        return health_status_from_string(s);
}

static int read_ports(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r, x;

        if ((r = get_array(d, w, o, "portMappings", &a, &n)) < 0 || n == 0)
                return r;
        c->ports = calloc(n, sizeof(*c->ports));
        if (!c->ports)
                return -ENOMEM;
        c->n_ports = n;
        for (size_t i = 0; i < n; i++) {
                struct port_mapping *m = &c->ports[i];
                if ((r = get_item(d, w, "portMappings", a, i, &p)) < 0 ||
                    (r = get_u16(d, w, p, "containerPort", &m->container_port)) < 0 ||
                    (r = get_u16(d, w, p, "hostPort", &m->host_port)) < 0 ||
                    (r = get_enum(d, w, p, "protocol", parse_protocol, &x)) < 0 ||
                    (r = get_u16(d, w, p, "containerPortRangeStart", &m->range_start)) < 0 ||
                    (r = get_u16(d, w, p, "containerPortRangeEnd", &m->range_end)) < 0)
                        return r;
                m->protocol = x;
        }
        return 0;
}

static int read_bindings(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        _cleanup_free_ char *ip = NULL;
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r, x;

        if ((r = get_array(d, w, o, "networkBindings", &a, &n)) < 0 || n == 0)
                return r;
        c->bindings = calloc(n, sizeof(*c->bindings));
        if (!c->bindings)
                return -ENOMEM;
        c->n_bindings = n;
        for (size_t i = 0; i < n; i++) {
                struct network_binding *b = &c->bindings[i];
                ip = mfree(ip);
                if ((r = get_item(d, w, "networkBindings", a, i, &p)) < 0 ||
                    (r = get_str(d, w, p, "bindIp", false, &ip)) < 0 ||
                    (r = get_u16(d, w, p, "containerPort", &b->container_port)) < 0 ||
                    (r = get_u16(d, w, p, "hostPort", &b->host_port)) < 0 ||
                    (r = get_enum(d, w, p, "protocol", parse_protocol, &x)) < 0)
                        return r;
                if (ip && strlen(ip) >= sizeof(b->bind_ip))
                        return fail(d, w, "networkBindings", "item %zu: bindIp too long", i);
                strcpy(b->bind_ip, strempty(ip));
                b->protocol = x;
        }
        return 0;
}

static int read_mounts(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r;

        if ((r = get_array(d, w, o, "mountPoints", &a, &n)) < 0 || n == 0)
                return r;
        c->mounts = calloc(n, sizeof(*c->mounts));
        if (!c->mounts)
                return -ENOMEM;
        c->n_mounts = n;
        for (size_t i = 0; i < n; i++) {
                struct mount_point *m = &c->mounts[i];
                if ((r = get_item(d, w, "mountPoints", a, i, &p)) < 0 ||
                    (r = get_str(d, w, p, "sourceVolume", false, &m->source_volume)) < 0 ||
                    (r = get_str(d, w, p, "containerPath", false, &m->container_path)) < 0 ||
                    (r = get_bool(d, w, p, "readOnly", &m->read_only)) < 0)
                        return r;
        }
        return 0;
}

static int read_volumes_from(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r;

        if ((r = get_array(d, w, o, "volumesFrom", &a, &n)) < 0 || n == 0)
                return r;
        c->volumes_from = calloc(n, sizeof(*c->volumes_from));
        if (!c->volumes_from)
                return -ENOMEM;
        c->n_volumes_from = n;
        for (size_t i = 0; i < n; i++) {
                struct volume_from *v = &c->volumes_from[i];
                if ((r = get_item(d, w, "volumesFrom", a, i, &p)) < 0 ||
                    (r = get_str(d, w, p, "sourceContainer", true, &v->source_container)) < 0 ||
                    (r = get_bool(d, w, p, "readOnly", &v->read_only)) < 0)
                        return r;
        }
        return 0;
}

static int read_depends_on(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r, x;

        if ((r = get_array(d, w, o, "dependsOn", &a, &n)) < 0 || n == 0)
                return r;
        c->depends_on = calloc(n, sizeof(*c->depends_on));
        if (!c->depends_on)
                return -ENOMEM;
        c->n_depends_on = n;
        for (size_t i = 0; i < n; i++) {
                struct container_dependency *dep = &c->depends_on[i];
                if ((r = get_item(d, w, "dependsOn", a, i, &p)) < 0 ||
                    (r = get_str(d, w, p, "containerName", true, &dep->container_name)) < 0 ||
                    (r = get_enum(d, w, p, "condition", parse_condition, &x)) < 0)
                        return r;
                dep->condition = x;
        }
        return 0;
}

static int read_secrets(struct dec *d, const char *w, json_object *o, struct ecs_container *c)
{
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r;

        if ((r = get_array(d, w, o, "secrets", &a, &n)) < 0 || n == 0)
                return r;
        c->secrets = calloc(n, sizeof(*c->secrets));
        if (!c->secrets)
                return -ENOMEM;
        c->n_secrets = n;
        for (size_t i = 0; i < n; i++) {
                struct container_secret *s = &c->secrets[i];
                if ((r = get_item(d, w, "secrets", a, i, &p)) < 0 ||
                    (r = get_str(d, w, p, "name", false, &s->name)) < 0 ||
                    (r = get_str(d, w, p, "valueFrom", false, &s->value_from)) < 0 ||
                    (r = get_str(d, w, p, "region", false, &s->region)) < 0 ||
                    (r = get_str(d, w, p, "provider", false, &s->provider)) < 0 ||
                    (r = get_str(d, w, p, "type", false, &s->type)) < 0 ||
                    (r = get_str(d, w, p, "target", false, &s->target)) < 0 ||
                    (r = get_str(d, w, p, "containerPath", false, &s->container_path)) < 0)
                        return r;
        }
        return 0;
}

static int read_object(struct dec *d, const char *w, json_object *o, const char *key,
                       json_object **ret)
{
        json_object *v = json_get(o, key);

        if (v && !json_object_is_type(v, json_type_object))
                return fail(d, w, key, "not an object");
        *ret = v; /* NULL reads as {} */
        return 0;
}

static int read_auth_and_restart(struct dec *d, const char *w, json_object *o,
                                 struct ecs_container *c)
{
        struct registry_auth *ra = &c->registry_auth;
        struct restart_policy *rp = &c->restart;
        json_object *p = NULL, *a = NULL;
        size_t n;
        int r;

        if ((r = read_object(d, w, o, "registryAuth", &p)) < 0 ||
            (r = get_str(d, w, p, "type", false, &ra->type)) < 0 ||
            (r = get_str(d, w, p, "ecrRegistryId", false, &ra->ecr_registry_id)) < 0 ||
            (r = get_str(d, w, p, "ecrRegion", false, &ra->ecr_region)) < 0 ||
            (r = get_str(d, w, p, "ecrEndpointOverride", false, &ra->ecr_endpoint_override)) < 0 ||
            (r = get_bool(d, w, p, "ecrUseExecutionRole", &ra->ecr_use_execution_role)) < 0 ||
            (r = get_str(d, w, p, "asmCredentialsParameter", false,
                         &ra->asm_credentials_parameter)) < 0 ||
            (r = get_str(d, w, p, "asmRegion", false, &ra->asm_region)) < 0)
                return r;

        if ((r = read_object(d, w, o, "restartPolicy", &p)) < 0 ||
            (r = get_bool(d, w, p, "enabled", &rp->enabled)) < 0 ||
            (r = get_u32(d, w, p, "restartAttemptPeriod", &rp->attempt_period_sec)) < 0 ||
            (r = get_array(d, w, p, "ignoredExitCodes", &a, &n)) < 0 || n == 0)
                return r;
        rp->ignored_exit_codes = calloc(n, sizeof(int));
        if (!rp->ignored_exit_codes)
                return -ENOMEM;
        rp->n_ignored_exit_codes = n;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                int64_t x = 0;
                if (!json_object_is_type(v, json_type_int))
                        return fail(d, w, "restartPolicy.ignoredExitCodes",
                                    "item %zu: not an "
                                    "integer",
                                    i);
                x = json_object_get_int64(v);
                if (x < INT_MIN || x > INT_MAX)
                        return fail(d, w, "restartPolicy.ignoredExitCodes",
                                    "item %zu: out of range", i);
                rp->ignored_exit_codes[i] = (int)x;
        }
        return 0;
}

static int read_container(struct dec *d, size_t idx, json_object *o, struct ecs_container *c)
{
        char w[48];
        int r, des, known, sent, health;

        snprintf(w, sizeof(w), "task.containers[%zu]", idx);
        if ((r = get_str(d, w, o, "name", true, &c->name)) < 0 ||
            (r = get_str(d, w, o, "arn", false, &c->arn)) < 0 ||
            (r = get_str(d, w, o, "image", false, &c->image)) < 0 ||
            (r = get_u32(d, w, o, "cpu", &c->cpu)) < 0 ||
            (r = get_u32(d, w, o, "memory", &c->memory_mib)) < 0 ||
            (r = get_bool(d, w, o, "essential", &c->essential)) < 0 ||
            (r = get_strv(d, w, o, "command", &c->command)) < 0 ||
            (r = get_strv(d, w, o, "entryPoint", &c->entrypoint)) < 0 ||
            (r = get_strv(d, w, o, "environment", &c->environment)) < 0 ||
            (r = read_ports(d, w, o, c)) < 0 || (r = get_strv(d, w, o, "links", &c->links)) < 0 ||
            (r = read_mounts(d, w, o, c)) < 0 || (r = read_volumes_from(d, w, o, c)) < 0 ||
            (r = read_depends_on(d, w, o, c)) < 0 ||
            (r = get_str(d, w, o, "dockerConfig", false, &c->docker_config)) < 0 ||
            (r = get_str(d, w, o, "dockerHostConfig", false, &c->docker_host_config)) < 0 ||
            (r = get_str(d, w, o, "dockerVersion", false, &c->docker_version)) < 0 ||
            (r = get_bool(d, w, o, "healthCheckDocker", &c->health_check_docker)) < 0 ||
            (r = get_u32(d, w, o, "startTimeout", &c->start_timeout_sec)) < 0 ||
            (r = get_u32(d, w, o, "stopTimeout", &c->stop_timeout_sec)) < 0 ||
            (r = read_secrets(d, w, o, c)) < 0 || (r = read_auth_and_restart(d, w, o, c)) < 0 ||
            (r = get_bool(d, w, o, "logsAuthExecutionRole", &c->logs_auth_execution_role)) < 0)
                return r;

        if ((r = get_enum(d, w, o, "desiredStatus", parse_container_status, &des)) < 0 ||
            (r = get_enum(d, w, o, "knownStatus", parse_container_status, &known)) < 0 ||
            (r = get_enum(d, w, o, "sentStatus", parse_container_status, &sent)) < 0 ||
            (r = get_str(d, w, o, "dockerId", false, &c->docker_id)) < 0 ||
            (r = get_str(d, w, o, "dockerName", false, &c->docker_name)) < 0 ||
            (r = get_str(d, w, o, "imageId", false, &c->image_id)) < 0 ||
            (r = get_str(d, w, o, "imageDigest", false, &c->image_digest)) < 0 ||
            (r = get_s32(d, w, o, "exitCode", &c->exit_code)) < 0 ||
            (r = get_bool(d, w, o, "hasExitCode", &c->has_exit_code)) < 0 ||
            (r = get_str(d, w, o, "reason", false, &c->reason)) < 0 ||
            (r = read_bindings(d, w, o, c)) < 0 ||
            (r = get_str(d, w, o, "endpointId", false, &c->endpoint_id)) < 0 ||
            (r = get_enum(d, w, o, "healthStatus", parse_health, &health)) < 0 ||
            (r = get_time(d, w, o, "healthSince", &c->health_since)) < 0 ||
            (r = get_time(d, w, o, "createdAt", &c->created_at)) < 0 ||
            (r = get_time(d, w, o, "startedAt", &c->started_at)) < 0 ||
            (r = get_time(d, w, o, "finishedAt", &c->finished_at)) < 0 ||
            (r = get_u32(d, w, o, "restartCount", &c->restart_count)) < 0)
                return r;
        c->desired_status = des;
        c->known_status = known;
        c->sent_status = sent;
        c->health_status = health;
        c->transition_in_flight = false; /* nothing survives the process (task_json.h) */
        c->health_published = 0;         /* a new process publishes everything again */
        return 0;
}

static int read_volume(struct dec *d, size_t idx, json_object *o, struct task_volume *v)
{
        char w[48];
        int r;

        snprintf(w, sizeof(w), "task.volumes[%zu]", idx);
        if ((r = get_str(d, w, o, "name", true, &v->name)) < 0 ||
            (r = get_str(d, w, o, "type", false, &v->type)) < 0 ||
            (r = get_str(d, w, o, "sourcePath", false, &v->source_path)) < 0 ||
            (r = get_str(d, w, o, "scope", false, &v->scope)) < 0 ||
            (r = get_bool(d, w, o, "autoprovision", &v->autoprovision)) < 0 ||
            (r = get_str(d, w, o, "driver", false, &v->driver)) < 0 ||
            (r = get_strv(d, w, o, "driverOpts", &v->driver_opts)) < 0 ||
            (r = get_strv(d, w, o, "labels", &v->labels)) < 0 ||
            (r = get_str(d, w, o, "dockerName", false, &v->docker_name)) < 0)
                return r;
        return 0;
}

static int read_cpu(struct dec *d, const char *w, json_object *o, double *ret)
{
        json_object *v = json_get(o, "cpu");
        double x;

        *ret = 0;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                return fail(d, w, "cpu", "not a number");
        x = json_object_get_double(v);
        if (!isfinite(x) || x < 0 || x > TASK_JSON_MAX_CPU)
                return fail(d, w, "cpu", "out of range");
        *ret = x;
        return 0;
}

/* The id names cgroups and files; it must be the one the ARN gives (as the ACS translator
 * derives it), or a corrupt file could point the agent at another path. */
static int check_id(struct dec *d, const char *w, const struct ecs_task *t)
{
        _cleanup_free_ char *id = NULL;
        int r = ecs_task_id_from_arn(t->arn, &id);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(d, w, "arn", "not a task ARN");
        if (!streq(id, t->id))
                return fail(d, w, "id", "does not match the ARN");
        return 0;
}

static int read_eni(struct dec *d, json_object *o, struct ecs_task *t)
{
        const char *w = "eni";
        json_object *eo = json_get(o, "eni");
        struct task_eni *e;
        int r;

        if (!eo)
                return 0;
        if (!json_object_is_type(eo, json_type_object))
                return fail(d, "task", "eni", "not an object");
        e = t->eni = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        if ((r = get_str(d, w, eo, "ec2Id", false, &e->ec2_id)) < 0 ||
            (r = get_str(d, w, eo, "mac", true, &e->mac)) < 0 ||
            (r = get_str(d, w, eo, "attachmentArn", false, &e->attachment_arn)) < 0 ||
            (r = get_strv(d, w, eo, "ipv4", &e->ipv4)) < 0 ||
            (r = get_strv(d, w, eo, "ipv6", &e->ipv6)) < 0 ||
            (r = get_str(d, w, eo, "subnetGatewayIpv4", false, &e->subnet_gateway_ipv4)) < 0 ||
            (r = get_str(d, w, eo, "subnetGatewayIpv6", false, &e->subnet_gateway_ipv6)) < 0 ||
            (r = get_strv(d, w, eo, "dnsServers", &e->dns_servers)) < 0 ||
            (r = get_strv(d, w, eo, "searchDomains", &e->search_domains)) < 0 ||
            (r = get_str(d, w, eo, "privateDnsName", false, &e->private_dns_name)) < 0)
                return r;
        return 0;
}

static int read_task(struct dec *d, json_object *o, struct ecs_task *t)
{
        const char *w = "task";
        json_object *a = NULL, *p = NULL;
        size_t n;
        int r, mode, des, known, sent;

        if ((r = get_str(d, w, o, "arn", true, &t->arn)) < 0 ||
            (r = get_str(d, w, o, "id", true, &t->id)) < 0 || (r = check_id(d, w, t)) < 0 ||
            (r = get_str(d, w, o, "clusterArn", false, &t->cluster_arn)) < 0 ||
            (r = get_str(d, w, o, "family", false, &t->family)) < 0 ||
            (r = get_str(d, w, o, "version", false, &t->version)) < 0 ||
            (r = get_enum(d, w, o, "networkMode", parse_network_mode, &mode)) < 0 ||
            (r = read_cpu(d, w, o, &t->cpu)) < 0 ||
            (r = get_u32(d, w, o, "memory", &t->memory_mib)) < 0 ||
            (r = get_str(d, w, o, "launchType", false, &t->launch_type)) < 0 ||
            (r = get_str(d, w, o, "serviceName", false, &t->service_name)) < 0 ||
            (r = get_str(d, w, o, "roleCredentialsId", false, &t->role_credentials_id)) < 0 ||
            (r = get_str(d, w, o, "executionCredentialsId", false, &t->execution_credentials_id)) <
                0)
                return r;
        if ((r = get_enum(d, w, o, "desiredStatus", parse_task_status, &des)) < 0 ||
            (r = get_enum(d, w, o, "knownStatus", parse_task_status, &known)) < 0 ||
            (r = get_enum(d, w, o, "sentStatus", parse_task_status, &sent)) < 0 ||
            (r = get_time(d, w, o, "knownStatusTime", &t->known_status_time)) < 0 ||
            (r = get_str(d, w, o, "reason", false, &t->reason)) < 0 ||
            (r = get_time(d, w, o, "pullStartedAt", &t->pull_started_at)) < 0 ||
            (r = get_time(d, w, o, "pullStoppedAt", &t->pull_stopped_at)) < 0 ||
            (r = get_time(d, w, o, "executionStoppedAt", &t->execution_stopped_at)) < 0 ||
            (r = get_time(d, w, o, "createdAt", &t->created_at)) < 0 ||
            (r = read_eni(d, o, t)) < 0 ||
            (r = get_str(d, w, o, "pauseDockerId", false, &t->pause_docker_id)) < 0 ||
            (r = get_str(d, w, o, "pauseDockerName", false, &t->pause_docker_name)) < 0 ||
            (r = get_str(d, w, o, "localIp", false, &t->local_ip)) < 0)
                return r;
        t->network_mode = mode;
        t->desired_status = des;
        t->known_status = known;
        t->sent_status = sent;

        if ((r = get_array(d, w, o, "containers", &a, &n)) < 0)
                return r;
        if (n > 0) {
                t->containers = calloc(n, sizeof(*t->containers));
                if (!t->containers)
                        return -ENOMEM;
                t->n_containers = n; /* zeroed entries free cleanly if we stop half-way */
                for (size_t i = 0; i < n; i++)
                        if ((r = get_item(d, w, "containers", a, i, &p)) < 0 ||
                            (r = read_container(d, i, p, &t->containers[i])) < 0)
                                return r;
        }
        if ((r = get_array(d, w, o, "volumes", &a, &n)) < 0)
                return r;
        if (n > 0) {
                t->volumes = calloc(n, sizeof(*t->volumes));
                if (!t->volumes)
                        return -ENOMEM;
                t->n_volumes = n;
                for (size_t i = 0; i < n; i++)
                        if ((r = get_item(d, w, "volumes", a, i, &p)) < 0 ||
                            (r = read_volume(d, i, p, &t->volumes[i])) < 0)
                                return r;
        }
        return 0;
}

static void task_unrefp(struct ecs_task **t)
{
        ecs_task_unref(*t);
}

int task_from_json(json_object *o, struct ecs_task **ret, char **ret_error)
{
        _cleanup_(task_unrefp) struct ecs_task *t = NULL;
        struct dec d = {};
        json_object *v, *to;
        int r;

        if (!json_object_is_type(o, json_type_object)) {
                r = fail(&d, "document", NULL, "not an object");
                goto fail;
        }
        v = json_get(o, "version");
        if (!v || !json_object_is_type(v, json_type_int)) {
                r = fail(&d, "document", "version", "missing or not an integer");
                goto fail;
        }
        if (json_object_get_int64(v) != TASK_JSON_VERSION) {
                (void)fail(&d, "document", "version", "unsupported format version %" PRId64,
                           json_object_get_int64(v));
                r = -EPROTONOSUPPORT;
                goto fail;
        }
        to = json_get(o, "task");
        if (!to || !json_object_is_type(to, json_type_object)) {
                r = fail(&d, "document", "task", "missing or not an object");
                goto fail;
        }
        t = ecs_task_new();
        if (!t) {
                r = -ENOMEM;
                goto fail;
        }
        r = read_task(&d, to, t);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(t);
        return 0;
fail:
        if (ret_error && d.error)
                *ret_error = TAKE_PTR(d.error);
        free(d.error);
        return r;
}
