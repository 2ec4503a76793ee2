/* PayloadMessage (§2.6): each task validated into a struct ecs_task through the tables
 * below, or refused with the reason the official agent reports for a task it cannot load
 * (§1.8(c)). */
#include <stdio.h>

#include "acs_internal.h"

#define REQ   .flags = JSONMAP_REQUIRED
#define LIST  .flags = JSONMAP_NULL_IF_EMPTY
#define UNSET .flags = JSONMAP_NULL_IF_EMPTY

/* ECS's own rule for container, volume and family names ("up to 255 letters, numbers,
 * hyphens and underscores"). The engine builds Docker names, labels and paths from them,
 * and it keeps ACS names from colliding with the agent's internal "~internal~..." ones. */
static bool name_is_valid(const char *s)
{
        size_t n = 0;

        for (; s && *s; s++, n++)
                if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
                      ('0' <= *s && *s <= '9') || *s == '-' || *s == '_'))
                        return false;
        return n > 0 && n <= 255;
}

static int check_name(struct jsonmap_ctx *c, const char *what, const char *s)
{
        char q[48];

        if (!name_is_valid(s))
                return jsonmap_fail(c, -EINVAL,
                                    "invalid %s '%s' (1-255 letters, digits, '-' or '_' expected)",
                                    what, jsonmap_quote(s, q));
        return 0;
}

static int check_container_name(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        return check_name(c, "container name", *(char *const *)value);
}

static int check_volume_name(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        return check_name(c, "volume name", *(char *const *)value);
}

/* family and version may be absent (""), but not odd. */
static int check_family(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;
        return *s ? check_name(c, "family", s) : 0;
}

static int check_version(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;
        return *s ? check_name(c, "version", s) : 0;
}

static int check_absolute(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;

        if (s && s[0] != '/')
                return jsonmap_fail_member(c, -EINVAL, "is not absolute");
        return 0;
}

/* Must be a JSON object when set: the engine decodes it on top of its own Docker config, so
 * a broken document is a task error now rather than a create failure later. */
static int check_json_object(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;
        _cleanup_json_ json_object *o = NULL;
        int r;

        if (!s)
                return 0;
        r = json_parse(s, strlen(s), &o);
        if (r == -ENOMEM)
                return jsonmap_fail(c, r, "out of memory");
        if (r < 0 || !json_object_is_type(o, json_type_object))
                return jsonmap_fail_member(c, -EINVAL, "is not a JSON object");
        return 0;
}

/* A string member that only sets a flag when it holds one value. */
static int string_equals(struct jsonmap_ctx *c, json_object *v, const char *want, bool *ret)
{
        if (!json_object_is_type(v, json_type_string))
                return jsonmap_fail_member(c, -EINVAL, "is not a string");
        if ((size_t)json_object_get_string_len(v) > ACS_MAX_STRING_LEN)
                return jsonmap_fail_member(c, -E2BIG, "is longer than %u bytes",
                                           ACS_MAX_STRING_LEN);
        *ret = streq(json_object_get_string(v), want);
        return 0;
}

/* ---- enums ---- */

JSONMAP_ENUM_NAMES(port_protocol_enum, port_protocol_from_string, port_protocol_to_string);

/* CREATE is the engine's own (implied by volumesFrom), not a wire value. */
static int parse_condition(const char *s)
{
        int v = dependency_condition_from_string(s);
        return v == DEPENDENCY_CREATE ? -EINVAL : v;
}
JSONMAP_ENUM_NAMES(condition_enum, parse_condition, dependency_condition_to_string);

/* PULLED has no string form in the official agent. */
static int parse_desired_status(const char *s)
{
        int v = task_status_from_string(s);
        return v == TASK_STATUS_PULLED ? -EINVAL : v;
}
JSONMAP_ENUM_NAMES(desired_status_enum, parse_desired_status, task_status_to_string);

JSONMAP_ENUM_NAMES(network_mode_enum, network_mode_from_string, network_mode_to_string);

/* ---- container members (§2.6.2) ---- */

static int parse_port_range(const char *s, uint16_t *ret_start, uint16_t *ret_end)
{
        unsigned long a, b;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        a = strtoul(s, &end, 10);
        if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
                return -EINVAL;
        b = strtoul(end + 1, &end, 10);
        if (errno || *end || a < 1 || b > 65535 || a > b)
                return -EINVAL;
        *ret_start = (uint16_t)a;
        *ret_end = (uint16_t)b;
        return 0;
}

/* A range maps 1:1 onto host ports the agent picks (§5.4). */
static int decode_port_range(struct jsonmap_ctx *c, json_object *v, void *value)
{
        struct port_mapping *pm = value;
        const char *s;
        char q[48];

        if (!json_object_is_type(v, json_type_string))
                return jsonmap_fail_member(c, -EINVAL, "is not a string");
        s = json_object_get_string(v);
        if (!*s)
                return 0;
        if (parse_port_range(s, &pm->range_start, &pm->range_end) < 0)
                return jsonmap_fail(c, -EINVAL, "invalid containerPortRange '%s'",
                                    jsonmap_quote(s, q));
        return 0;
}

/* A single containerPort alongside a range would be ambiguous. */
static int check_port(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        const struct port_mapping *pm = obj;

        if (pm->range_end != 0 && pm->container_port != 0)
                return jsonmap_fail(c, -EINVAL,
                                    "both containerPort and containerPortRange are set");
        if (pm->range_end == 0 && pm->container_port == 0)
                return jsonmap_fail(c, -EINVAL, "containerPort is not set");
        return 0;
}

static const struct jsonmap_field port_fields[] = {
    JSONMAP_U16("containerPort", struct port_mapping, container_port),
    JSONMAP_U16("hostPort", struct port_mapping, host_port),
    JSONMAP_ENUM("protocol", struct port_mapping, protocol, &port_protocol_enum),
    JSONMAP_CUSTOM_SELF("containerPortRange", .decode = decode_port_range),
    JSONMAP_END,
};
static const struct jsonmap_type port_type =
    JSONMAP_TYPE(struct port_mapping, port_fields, .check = check_port);

static const struct jsonmap_field mount_fields[] = {
    JSONMAP_STRING("sourceVolume", struct mount_point, source_volume, REQ),
    JSONMAP_STRING("containerPath", struct mount_point, container_path, REQ,
                   .check = check_absolute),
    JSONMAP_BOOL("readOnly", struct mount_point, read_only),
    JSONMAP_END,
};
static const struct jsonmap_type mount_type = JSONMAP_TYPE(struct mount_point, mount_fields);

static const struct jsonmap_field volume_from_fields[] = {
    JSONMAP_STRING("sourceContainer", struct volume_from, source_container, REQ),
    JSONMAP_BOOL("readOnly", struct volume_from, read_only),
    JSONMAP_END,
};
static const struct jsonmap_type volume_from_type =
    JSONMAP_TYPE(struct volume_from, volume_from_fields);

static const struct jsonmap_field dependency_fields[] = {
    JSONMAP_STRING("containerName", struct container_dependency, container_name, REQ),
    JSONMAP_ENUM("condition", struct container_dependency, condition, &condition_enum, REQ),
    JSONMAP_END,
};
static const struct jsonmap_type dependency_type =
    JSONMAP_TYPE(struct container_dependency, dependency_fields);

#define C struct ecs_container
static const struct jsonmap_field docker_config_fields[] = {
    JSONMAP_STRING("config", C, docker_config, UNSET, .check = check_json_object),
    JSONMAP_STRING("hostConfig", C, docker_host_config, UNSET, .check = check_json_object),
    JSONMAP_STRING("version", C, docker_version, UNSET),
    JSONMAP_END,
};
static const struct jsonmap_type docker_config_type = JSONMAP_TYPE(C, docker_config_fields);

/* Only "command" is honoured and it replaces the container's; [] means the image's default,
 * as with Docker. Other members are ignored (the official agent refuses them, but no other
 * override exists in this protocol version). */
static const struct jsonmap_field overrides_fields[] = {
    JSONMAP_STRV("command", C, command, LIST),
    JSONMAP_END,
};
static const struct jsonmap_type overrides_type = JSONMAP_TYPE(C, overrides_fields);
#undef C

/* overrides: an object, or a string holding one (§2.6.2). */
static int decode_overrides(struct jsonmap_ctx *c, json_object *v, void *value)
{
        _cleanup_json_ json_object *parsed = NULL;
        int r;

        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                size_t len = (size_t)json_object_get_string_len(v);
                if (len == 0)
                        return 0;
                if (len > ACS_MAX_STRING_LEN)
                        return jsonmap_fail_member(c, -E2BIG, "is too long");
                r = json_parse(s, len, &parsed);
                if (r == -ENOMEM)
                        return jsonmap_fail(c, r, "out of memory");
                if (r < 0 || !json_object_is_type(parsed, json_type_object))
                        return jsonmap_fail_member(c, -EINVAL, "is not a JSON object");
                v = parsed;
        } else if (!json_object_is_type(v, json_type_object))
                return jsonmap_fail_member(c, -EINVAL, "is neither an object nor a string");
        return jsonmap_decode(c, &overrides_type, v, value);
}

static int decode_health_check_type(struct jsonmap_ctx *c, json_object *v, void *value)
{
        return string_equals(c, v, "docker", value);
}

static int decode_logs_auth_strategy(struct jsonmap_ctx *c, json_object *v, void *value)
{
        return string_equals(c, v, "ExecutionRole", value);
}

static const struct jsonmap_field restart_fields[] = {
    JSONMAP_BOOL("enabled", struct restart_policy, enabled),
    JSONMAP_U32("restartAttemptPeriod", struct restart_policy, attempt_period_sec),
    JSONMAP_INT_ARRAY("ignoredExitCodes", struct restart_policy, ignored_exit_codes,
                      n_ignored_exit_codes),
    JSONMAP_END,
};
static const struct jsonmap_type restart_type = JSONMAP_TYPE(struct restart_policy, restart_fields);

static int check_provider(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;
        char q[48];

        if (!streq(s, "ssm") && !streq(s, "asm"))
                return jsonmap_fail(c, -EINVAL, "unknown provider '%s'", jsonmap_quote(s, q));
        return 0;
}

#define S struct container_secret
static const struct jsonmap_field secret_fields[] = {
    JSONMAP_STRING("name", S, name, REQ),
    JSONMAP_STRING("valueFrom", S, value_from, REQ),
    JSONMAP_STRING("region", S, region),
    JSONMAP_STRING("provider", S, provider, REQ, .check = check_provider),
    JSONMAP_STRING("type", S, type),
    JSONMAP_STRING("target", S, target),
    JSONMAP_STRING("containerPath", S, container_path),
    JSONMAP_END,
};
#undef S
static const struct jsonmap_type secret_type = JSONMAP_TYPE(struct container_secret, secret_fields);

#define A struct registry_auth
static const struct jsonmap_field ecr_auth_fields[] = {
    JSONMAP_STRING("registryId", A, ecr_registry_id),
    JSONMAP_STRING("region", A, ecr_region),
    JSONMAP_STRING("endpointOverride", A, ecr_endpoint_override),
    JSONMAP_BOOL("useExecutionRole", A, ecr_use_execution_role),
    JSONMAP_END,
};
static const struct jsonmap_type ecr_auth_type = JSONMAP_TYPE(A, ecr_auth_fields);

static const struct jsonmap_field asm_auth_fields[] = {
    JSONMAP_STRING("credentialsParameter", A, asm_credentials_parameter, REQ),
    JSONMAP_STRING("region", A, asm_region),
    JSONMAP_END,
};
static const struct jsonmap_type asm_auth_type = JSONMAP_TYPE(A, asm_auth_fields);

/* The type says which of the two data members must be there. */
static int check_registry_auth(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        const struct registry_auth *ra = obj;
        char q[48];

        if (streq(ra->type, "ecr"))
                return jsonmap_decode_member(c, &ecr_auth_type, o, "ecrAuthData", true, obj);
        if (streq(ra->type, "asm"))
                return jsonmap_decode_member(c, &asm_auth_type, o, "asmAuthData", true, obj);
        return jsonmap_fail(c, -EINVAL, "unknown type '%s'", jsonmap_quote(ra->type, q));
}

static const struct jsonmap_field registry_auth_fields[] = {
    JSONMAP_STRING("type", A, type, REQ),
    JSONMAP_END,
};
#undef A
static const struct jsonmap_type registry_auth_type =
    JSONMAP_TYPE(struct registry_auth, registry_auth_fields, .check = check_registry_auth);

#define C struct ecs_container
static const struct jsonmap_field container_fields[] = {
    JSONMAP_STRING("name", C, name, REQ, .check = check_container_name),
    JSONMAP_STRING("containerArn", C, arn),
    JSONMAP_STRING("image", C, image, REQ),
    JSONMAP_U32("cpu", C, cpu),
    JSONMAP_U32("memory", C, memory_mib),
    /* Missing means false, the Go zero value the official agent ends up with. */
    JSONMAP_BOOL("essential", C, essential),
    JSONMAP_STRV("command", C, command, LIST),
    JSONMAP_STRV("entryPoint", C, entrypoint, LIST),
    /* In task-definition order, which is what Docker would get from the official agent's
     * map as well (modulo Go's random map order). */
    JSONMAP_KV("environment", C, environment, LIST),
    JSONMAP_ARRAY("portMappings", C, ports, n_ports, &port_type),
    JSONMAP_STRV("links", C, links, LIST),
    JSONMAP_ARRAY("mountPoints", C, mounts, n_mounts, &mount_type),
    JSONMAP_ARRAY("volumesFrom", C, volumes_from, n_volumes_from, &volume_from_type),
    JSONMAP_ARRAY("dependsOn", C, depends_on, n_depends_on, &dependency_type),
    JSONMAP_FLATTEN("dockerConfig", &docker_config_type),
    JSONMAP_CUSTOM("healthCheckType", C, health_check_docker, .decode = decode_health_check_type),
    JSONMAP_U32("startTimeout", C, start_timeout_sec),
    JSONMAP_U32("stopTimeout", C, stop_timeout_sec),
    JSONMAP_OBJECT("restartPolicy", C, restart, &restart_type),
    JSONMAP_CUSTOM_SELF("overrides", .decode = decode_overrides),
    JSONMAP_ARRAY("secrets", C, secrets, n_secrets, &secret_type),
    JSONMAP_OBJECT("registryAuthentication", C, registry_auth, &registry_auth_type),
    JSONMAP_CUSTOM("logsAuthStrategy", C, logs_auth_execution_role,
                   .decode = decode_logs_auth_strategy),
    /* Features whose absence would change what runs: refused rather than ignored.
     * (managedAgents -- ECS Exec -- only adds an optional side channel, so it is ignored;
     * linuxParameters / privileged are carried in dockerConfig.) */
    JSONMAP_REFUSE("environmentFiles"),
    JSONMAP_REFUSE("firelensConfiguration"),
    JSONMAP_REFUSE("credentialSpecs"),
    JSONMAP_END,
};
#undef C
static const struct jsonmap_type container_type =
    JSONMAP_TYPE(struct ecs_container, container_fields);

/* ---- volumes (§2.6.3) ---- */

#define V struct task_volume
static const struct jsonmap_field host_volume_fields[] = {
    /* Empty: an agent-managed local volume. */
    JSONMAP_STRING("sourcePath", V, source_path, UNSET, .check = check_absolute),
    JSONMAP_END,
};
static const struct jsonmap_type host_volume_type = JSONMAP_TYPE(V, host_volume_fields);

static const struct jsonmap_field docker_volume_fields[] = {
    JSONMAP_STRING("scope", V, scope, UNSET),
    JSONMAP_BOOL("autoprovision", V, autoprovision),
    JSONMAP_STRING("driver", V, driver, UNSET), /* NULL: Docker's "local" */
    JSONMAP_KV("driverOpts", V, driver_opts, LIST),
    JSONMAP_KV("labels", V, labels, LIST),
    JSONMAP_END,
};
static const struct jsonmap_type docker_volume_type = JSONMAP_TYPE(V, docker_volume_fields);

static int set_string(struct jsonmap_ctx *c, char **p, const char *s)
{
        char *copy = strdup(s);

        if (!copy)
                return jsonmap_fail(c, -ENOMEM, "out of memory");
        free(*p);
        *p = copy;
        return 0;
}

/* The type says which configuration member applies. */
static int check_volume(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        struct task_volume *v = obj;
        char q[48];
        int r;

        if (isempty(v->type) || streq(v->type, "host")) {
                r = set_string(c, &v->type, "host");
                return r < 0 ? r : jsonmap_decode_member(c, &host_volume_type, o, "host", false, v);
        }
        if (!streq(v->type, "docker"))
                return jsonmap_fail(c, -EOPNOTSUPP, "volume type '%s' is not supported yet",
                                    jsonmap_quote(v->type, q));
        r = jsonmap_decode_member(c, &docker_volume_type, o, "dockerVolumeConfiguration", false, v);
        if (r < 0)
                return r;
        if (!v->scope)
                return set_string(c, &v->scope, "task"); /* the ECS default */
        if (!streq(v->scope, "task") && !streq(v->scope, "shared"))
                return jsonmap_fail(c, -EINVAL, "unknown docker volume scope '%s'",
                                    jsonmap_quote(v->scope, q));
        return 0;
}

static const struct jsonmap_field volume_fields[] = {
    JSONMAP_STRING("name", V, name, REQ, .check = check_volume_name),
    JSONMAP_STRING("type", V, type),
    JSONMAP_END,
};
#undef V
static const struct jsonmap_type volume_type =
    JSONMAP_TYPE(struct task_volume, volume_fields, .check = check_volume);

/* ---- cross references ---- */

static bool task_has_volume(const struct ecs_task *t, const char *name)
{
        for (size_t i = 0; i < t->n_volumes; i++)
                if (streq(t->volumes[i].name, name))
                        return true;
        return false;
}

static int check_container_ref(struct jsonmap_ctx *c, struct ecs_task *t,
                               const struct ecs_container *ct, const char *what, const char *name,
                               size_t len)
{
        char q[48], buf[256];

        if (len >= sizeof(buf))
                len = sizeof(buf) - 1;
        memcpy(buf, name, len);
        buf[len] = 0;
        if (streq(buf, ct->name))
                return jsonmap_fail(c, -EINVAL, "container '%s': %s refers to the container itself",
                                    ct->name, what);
        if (!ecs_task_find_container(t, buf))
                return jsonmap_fail(c, -EINVAL,
                                    "container '%s': %s refers to unknown container '%s'", ct->name,
                                    what, jsonmap_quote(buf, q));
        return 0;
}

static int check_container_refs(struct jsonmap_ctx *c, struct ecs_task *t, size_t i)
{
        const struct ecs_container *ct = &t->containers[i];
        char q[48];
        int r;

        for (size_t j = i + 1; j < t->n_containers; j++)
                if (streq(ct->name, t->containers[j].name))
                        return jsonmap_fail(c, -EINVAL, "container '%s': duplicate container name",
                                            ct->name);
        for (size_t j = 0; j < ct->n_mounts; j++)
                if (!task_has_volume(t, ct->mounts[j].source_volume))
                        return jsonmap_fail(c, -EINVAL,
                                            "container '%s': mountPoints refers to unknown volume "
                                            "'%s'",
                                            ct->name,
                                            jsonmap_quote(ct->mounts[j].source_volume, q));
        for (size_t j = 0; j < ct->n_volumes_from; j++) {
                const char *s = ct->volumes_from[j].source_container;
                if ((r = check_container_ref(c, t, ct, "volumesFrom", s, strlen(s))) < 0)
                        return r;
        }
        for (size_t j = 0; j < ct->n_depends_on; j++) {
                const char *s = ct->depends_on[j].container_name;
                if ((r = check_container_ref(c, t, ct, "dependsOn", s, strlen(s))) < 0)
                        return r;
        }
        strv_foreach (l, ct->links)
                if ((r = check_container_ref(c, t, ct, "links", *l, strcspn(*l, ":"))) < 0)
                        return r;
        return 0;
}

/* What ECS validates at task-definition registration, checked again because the engine
 * looks these up by name. */
static int check_task(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        struct ecs_task *t = obj;
        int r;

        for (size_t i = 0; i < t->n_containers; i++)
                if ((r = check_container_refs(c, t, i)) < 0)
                        return r;
        for (size_t i = 0; i < t->n_volumes; i++)
                for (size_t j = i + 1; j < t->n_volumes; j++)
                        if (streq(t->volumes[i].name, t->volumes[j].name))
                                return jsonmap_fail(c, -EINVAL,
                                                    "volume '%s': duplicate volume name",
                                                    t->volumes[i].name);
        return 0;
}

static int check_has_containers(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const struct ecs_task *t = obj;
        return t->n_containers == 0 ? jsonmap_fail(c, -EINVAL, "task has no containers") : 0;
}

/* ---- task (§2.6.1) ---- */

#define T struct ecs_task
static const struct jsonmap_field task_fields[] = {
    JSONMAP_STRING("taskClusterArn", T, cluster_arn, UNSET),
    JSONMAP_STRING("family", T, family, .flags = JSONMAP_EMPTY_IF_ABSENT, .check = check_family),
    JSONMAP_STRING("version", T, version, .flags = JSONMAP_EMPTY_IF_ABSENT, .check = check_version),
    JSONMAP_ENUM("desiredStatus", T, desired_status, &desired_status_enum, REQ),
    JSONMAP_ENUM("networkMode", T, network_mode, &network_mode_enum),
    JSONMAP_U32("memory", T, memory_mib),
    JSONMAP_STRING("launchType", T, launch_type),
    JSONMAP_STRING("serviceName", T, service_name),
    /* vCPUs, not CPU units (§11.5). Bounded so quota = cpu * period cannot overflow. */
    JSONMAP_DOUBLE("cpu", T, cpu, .dmin = 0, .dmax = 10000),
    /* Not implemented: the task would run without them. */
    JSONMAP_REFUSE("pidMode"),
    JSONMAP_REFUSE("ipcMode"),
    JSONMAP_REFUSE("proxyConfiguration"),
    JSONMAP_REFUSE("associations"),
    JSONMAP_REFUSE("attachments"),
    JSONMAP_ARRAY("volumes", T, volumes, n_volumes, &volume_type,
                  .limit = ACS_MAX_VOLUMES_PER_TASK),
    JSONMAP_ARRAY("containers", T, containers, n_containers, &container_type,
                  .limit = ACS_MAX_CONTAINERS_PER_TASK, .check = check_has_containers),
    JSONMAP_END,
};
#undef T
static const struct jsonmap_type task_type =
    JSONMAP_TYPE(struct ecs_task, task_fields, .check = check_task);

/* What a payload entry keeps beside its task: the ARN as sent, credentials and ENIs. */
static const struct jsonmap_field entry_arn_fields[] = {
    JSONMAP_STRING("arn", struct acs_payload_task, arn, REQ),
    JSONMAP_END,
};
static const struct jsonmap_type entry_arn_type =
    JSONMAP_TYPE(struct acs_payload_task, entry_arn_fields);

static const struct jsonmap_field entry_fields[] = {
    JSONMAP_OBJECT("roleCredentials", struct acs_payload_task, role_credentials,
                   &acs_credentials_type),
    JSONMAP_OBJECT("executionRoleCredentials", struct acs_payload_task, execution_credentials,
                   &acs_credentials_type),
    JSONMAP_ARRAY("elasticNetworkInterfaces", struct acs_payload_task, enis, n_enis, &acs_eni_type,
                  .limit = ACS_MAX_ENIS),
    JSONMAP_END,
};
static const struct jsonmap_type entry_type = JSONMAP_TYPE(struct acs_payload_task, entry_fields);

/* A NULL-terminated copy of n strings, each a char * member stride bytes after the last;
 * NULL when n is 0. */
static int strv_copy(const void *first, size_t n, size_t stride, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;

        if (n == 0)
                return 0;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(*(char *const *)((const char *)first + i * stride))))
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static int addresses_strv(const struct acs_eni_address *a, size_t n, char ***ret)
{
        return strv_copy(n ? &a[0].address : NULL, n, sizeof(*a), ret);
}

static int strv_dup(char **src, char ***ret)
{
        size_t n = 0;

        strv_foreach (p, src)
                n++;
        return strv_copy(src, n, sizeof(char *), ret);
}

static int strdup_opt(const char *s, char **ret)
{
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

/* The ENI an awsvpc task runs on, copied into the task model (§6.5). */
static int acs_eni_to_task_eni(const struct acs_eni *a, struct task_eni **ret)
{
        struct task_eni *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        if ((r = strdup_opt(a->ec2_id, &e->ec2_id)) < 0 ||
            (r = strdup_opt(a->mac_address, &e->mac)) < 0 ||
            (r = strdup_opt(a->attachment_arn, &e->attachment_arn)) < 0 ||
            (r = strdup_opt(a->subnet_gateway_ipv4, &e->subnet_gateway_ipv4)) < 0 ||
            (r = strdup_opt(a->subnet_gateway_ipv6, &e->subnet_gateway_ipv6)) < 0 ||
            (r = strdup_opt(a->private_dns_name, &e->private_dns_name)) < 0 ||
            (r = addresses_strv(a->ipv4, a->n_ipv4, &e->ipv4)) < 0 ||
            (r = addresses_strv(a->ipv6, a->n_ipv6, &e->ipv6)) < 0 ||
            (r = strv_dup(a->dns_servers, &e->dns_servers)) < 0 ||
            (r = strv_dup(a->search_domains, &e->search_domains)) < 0) {
                task_eni_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

/* The members that tie the entry to its task: credentials ids, the payload's cluster, the
 * awsvpc ENI. */
static int link_task(struct jsonmap_ctx *c, const char *payload_cluster, struct acs_payload_task *e,
                     struct ecs_task *t)
{
        int r;

        if (!t->cluster_arn && (r = set_string(c, &t->cluster_arn, payload_cluster)) < 0)
                return r;
        if (e->role_credentials.credentials_id &&
            (r = set_string(c, &t->role_credentials_id, e->role_credentials.credentials_id)) < 0)
                return r;
        if (e->execution_credentials.credentials_id &&
            (r = set_string(c, &t->execution_credentials_id,
                            e->execution_credentials.credentials_id)) < 0)
                return r;
        if (t->network_mode != NETWORK_MODE_AWSVPC)
                return 0;
        if (e->n_enis != 1)
                return jsonmap_fail(c, -EINVAL, "awsvpc task with %zu ENIs (one expected)",
                                    e->n_enis);
        if (e->enis[0].association == ACS_ENI_ASSOCIATION_VLAN)
                return jsonmap_fail(c, -EOPNOTSUPP, "trunked (vlan) ENIs are not supported");
        if ((r = acs_eni_to_task_eni(&e->enis[0], &t->eni)) < 0)
                return jsonmap_fail(c, r, "out of memory");
        return 0;
}

static int decode_task(struct jsonmap_ctx *c, json_object *jt, const char *payload_cluster,
                       struct acs_payload_task *e)
{
        _cleanup_(ecs_task_unrefp) struct ecs_task *t = NULL;
        char q[48];
        int r;

        if (!jt || !json_object_is_type(jt, json_type_object))
                return jsonmap_fail(c, -EINVAL, "task is not an object");
        r = jsonmap_decode(c, &entry_arn_type, jt, e);
        if (r < 0)
                return r;
        t = ecs_task_new();
        if (!t || !(t->arn = strdup(e->arn)))
                return jsonmap_fail(c, -ENOMEM, "out of memory");
        r = ecs_task_id_from_arn(t->arn, &t->id);
        if (r == -ENOMEM)
                return jsonmap_fail(c, r, "out of memory");
        if (r < 0)
                return jsonmap_fail(c, -EINVAL, "invalid task ARN '%s'", jsonmap_quote(t->arn, q));
        if ((r = jsonmap_decode(c, &task_type, jt, t)) < 0 ||
            (r = jsonmap_decode(c, &entry_type, jt, e)) < 0 ||
            (r = link_task(c, payload_cluster, e, t)) < 0)
                return r;
        e->task = TAKE_PTR(t);
        return 0;
}

static void payload_task_clear_decoded(struct acs_payload_task *e)
{
        e->task = ecs_task_unref(e->task);
        jsonmap_done(&entry_type, e);
}

static void payload_tasks_done(void *value)
{
        struct acs_payload_message *p = value;

        for (size_t i = 0; p->tasks && i < p->n_tasks; i++) {
                payload_task_clear_decoded(&p->tasks[i]);
                jsonmap_done(&entry_arn_type, &p->tasks[i]);
                free(p->tasks[i].error);
        }
        p->tasks = mfree(p->tasks);
        p->n_tasks = p->n_failed = 0;
}

/* Each task is decoded on its own: a bad one yields its reason, the others still run. */
static int decode_payload_tasks(struct jsonmap_ctx *c, json_object *v, void *value)
{
        struct acs_payload_message *p = value;
        size_t n;
        int r;

        if (!json_object_is_type(v, json_type_array))
                return jsonmap_fail_member(c, -EINVAL, "is not an array");
        n = json_object_array_length(v);
        if (n > ACS_MAX_TASKS_PER_PAYLOAD)
                return jsonmap_fail_member(c, -E2BIG, "has more than %u entries",
                                           ACS_MAX_TASKS_PER_PAYLOAD);
        if (n == 0)
                return 0;
        p->tasks = calloc(n, sizeof(*p->tasks));
        if (!p->tasks)
                return jsonmap_fail(c, -ENOMEM, "out of memory");
        p->n_tasks = n;

        for (size_t i = 0; i < n; i++) {
                struct acs_payload_task *e = &p->tasks[i];
                struct jsonmap_ctx tc;

                jsonmap_ctx_init(&tc, NULL, &acs_limits);
                r = decode_task(&tc, json_object_array_get_idx(v, i), p->cluster_arn, e);
                if (r == -ENOMEM)
                        return jsonmap_fail(c, r, "out of memory");
                if (r >= 0)
                        continue;
                payload_task_clear_decoded(e);
                if (asprintf(&e->error, ACS_TASK_ERROR_PREFIX "%s",
                             tc.reason[0] ? tc.reason : "invalid task") < 0) {
                        e->error = NULL;
                        return jsonmap_fail(c, -ENOMEM, "out of memory");
                }
                p->n_failed++;
        }
        return 0;
}

/* Without the ids the message is dropped with no ack (§2.6). */
#define M struct acs_payload_message
static const struct jsonmap_field payload_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, REQ),
    JSONMAP_STRING("clusterArn", M, cluster_arn, REQ),
    JSONMAP_STRING("containerInstanceArn", M, container_instance_arn, REQ),
    JSONMAP_I64("seqNum", M, seq_num),
    JSONMAP_I64("generatedAt", M, generated_at),
    JSONMAP_CUSTOM_SELF("tasks", .decode = decode_payload_tasks, .done = payload_tasks_done),
    JSONMAP_END,
};
#undef M
static const struct jsonmap_type payload_type =
    JSONMAP_TYPE(struct acs_payload_message, payload_fields);

void acs_payload_message_done(struct acs_payload_message *p)
{
        if (!p)
                return;
        jsonmap_done(&payload_type, p);
        *p = (struct acs_payload_message){};
}

int acs_decode_payload(struct jsonmap_ctx *c, json_object *msg, struct acs_payload_message *ret)
{
        return jsonmap_decode(c, &payload_type, msg, ret);
}
