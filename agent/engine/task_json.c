/* The durable JSON form of struct ecs_task (§9.3), one table per struct, read and written by
 * the JSON layer. See task_json.h for the format rules. */
#include <string.h>

#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"
#include "ecs/task_json.h"

/* Every field of these structs is in a table below. The sizes are those of LP64 (x86_64,
 * aarch64); when one changes, a field was added or removed: update the table and
 * tests/unit/test_task_json.c (fill_task / assert_task_equal), then the number here. A new field
 * small enough to hide in padding slips through; the round-trip test of every field is the
 * second net. */
#if defined(__LP64__)
_Static_assert(sizeof(struct task_eni) == 80, "struct task_eni changed: update task_json.c");
_Static_assert(sizeof(struct ecs_task) == 232, "struct ecs_task changed: update task_json.c");
_Static_assert(sizeof(struct ecs_container) == 464,
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

static const struct jsonmap_limits limits = {
    .max_string = TASK_JSON_MAX_STRING_LEN,
    .max_items = TASK_JSON_MAX_ITEMS,
};

/* ---- enums: the internal names, strictly (the writer always names a value) ---- */

JSONMAP_ENUM_NAMES(task_status_enum, task_status_from_string, task_status_to_string);
JSONMAP_ENUM_NAMES(container_status_enum, container_status_from_string, container_status_to_string);

static int parse_network_mode(const char *s)
{
        /* "" would read as bridge in ACS; here it is corruption. */
        return isempty(s) ? -EINVAL : network_mode_from_string(s);
}
JSONMAP_ENUM_NAMES(network_mode_enum, parse_network_mode, network_mode_to_string);

static int parse_protocol(const char *s)
{
        return isempty(s) ? -EINVAL : port_protocol_from_string(s);
}
JSONMAP_ENUM_NAMES(protocol_enum, parse_protocol, port_protocol_to_string);
JSONMAP_ENUM_NAMES(condition_enum, dependency_condition_from_string,
                   dependency_condition_to_string);

static const struct jsonmap_enum health_enum = {health_status_from_string, health_status_to_string};

/* ---- tables ---- */

#define REQ .flags = JSONMAP_REQUIRED

static const struct jsonmap_field port_fields[] = {
    JSONMAP_U16("containerPort", struct port_mapping, container_port),
    JSONMAP_U16("hostPort", struct port_mapping, host_port),
    JSONMAP_ENUM("protocol", struct port_mapping, protocol, &protocol_enum, REQ),
    JSONMAP_U16("containerPortRangeStart", struct port_mapping, range_start),
    JSONMAP_U16("containerPortRangeEnd", struct port_mapping, range_end),
    JSONMAP_END,
};
static const struct jsonmap_type port_type = JSONMAP_TYPE(struct port_mapping, port_fields);

static const struct jsonmap_field binding_fields[] = {
    JSONMAP_CHARS("bindIp", struct network_binding, bind_ip),
    JSONMAP_U16("containerPort", struct network_binding, container_port),
    JSONMAP_U16("hostPort", struct network_binding, host_port),
    JSONMAP_ENUM("protocol", struct network_binding, protocol, &protocol_enum, REQ),
    JSONMAP_END,
};
static const struct jsonmap_type binding_type =
    JSONMAP_TYPE(struct network_binding, binding_fields);

static const struct jsonmap_field mount_fields[] = {
    JSONMAP_STRING("sourceVolume", struct mount_point, source_volume),
    JSONMAP_STRING("containerPath", struct mount_point, container_path),
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

static const struct jsonmap_field secret_fields[] = {
    JSONMAP_STRING("name", struct container_secret, name),
    JSONMAP_STRING("valueFrom", struct container_secret, value_from),
    JSONMAP_STRING("region", struct container_secret, region),
    JSONMAP_STRING("provider", struct container_secret, provider),
    JSONMAP_STRING("type", struct container_secret, type),
    JSONMAP_STRING("target", struct container_secret, target),
    JSONMAP_STRING("containerPath", struct container_secret, container_path),
    JSONMAP_END,
};
static const struct jsonmap_type secret_type = JSONMAP_TYPE(struct container_secret, secret_fields);

static const struct jsonmap_field registry_auth_fields[] = {
    JSONMAP_STRING("type", struct registry_auth, type),
    JSONMAP_STRING("ecrRegistryId", struct registry_auth, ecr_registry_id),
    JSONMAP_STRING("ecrRegion", struct registry_auth, ecr_region),
    JSONMAP_STRING("ecrEndpointOverride", struct registry_auth, ecr_endpoint_override),
    JSONMAP_BOOL("ecrUseExecutionRole", struct registry_auth, ecr_use_execution_role),
    JSONMAP_STRING("asmCredentialsParameter", struct registry_auth, asm_credentials_parameter),
    JSONMAP_STRING("asmRegion", struct registry_auth, asm_region),
    JSONMAP_END,
};
static const struct jsonmap_type registry_auth_type =
    JSONMAP_TYPE(struct registry_auth, registry_auth_fields);

static const struct jsonmap_field restart_fields[] = {
    JSONMAP_BOOL("enabled", struct restart_policy, enabled),
    JSONMAP_U32("restartAttemptPeriod", struct restart_policy, attempt_period_sec),
    JSONMAP_INT_ARRAY("ignoredExitCodes", struct restart_policy, ignored_exit_codes,
                      n_ignored_exit_codes),
    JSONMAP_END,
};
static const struct jsonmap_type restart_type = JSONMAP_TYPE(struct restart_policy, restart_fields);

#define C struct ecs_container
static const struct jsonmap_field container_fields[] = {
    /* Definition. */
    JSONMAP_STRING("name", C, name, REQ),
    JSONMAP_STRING("arn", C, arn),
    JSONMAP_STRING("image", C, image),
    JSONMAP_U32("cpu", C, cpu),
    JSONMAP_U32("memory", C, memory_mib),
    JSONMAP_BOOL("essential", C, essential),
    JSONMAP_STRV("command", C, command),
    JSONMAP_STRV("entryPoint", C, entrypoint),
    JSONMAP_STRV("environment", C, environment),
    JSONMAP_ARRAY("portMappings", C, ports, n_ports, &port_type),
    JSONMAP_ARRAY("mountPoints", C, mounts, n_mounts, &mount_type),
    JSONMAP_ARRAY("volumesFrom", C, volumes_from, n_volumes_from, &volume_from_type),
    JSONMAP_ARRAY("dependsOn", C, depends_on, n_depends_on, &dependency_type),
    JSONMAP_STRV("links", C, links),
    JSONMAP_STRING("dockerConfig", C, docker_config),
    JSONMAP_STRING("dockerHostConfig", C, docker_host_config),
    JSONMAP_STRING("dockerVersion", C, docker_version),
    JSONMAP_BOOL("healthCheckDocker", C, health_check_docker),
    JSONMAP_U32("startTimeout", C, start_timeout_sec),
    JSONMAP_U32("stopTimeout", C, stop_timeout_sec),
    JSONMAP_ARRAY("secrets", C, secrets, n_secrets, &secret_type),
    JSONMAP_OBJECT("registryAuth", C, registry_auth, &registry_auth_type),
    JSONMAP_OBJECT("restartPolicy", C, restart, &restart_type),
    JSONMAP_BOOL("logsAuthExecutionRole", C, logs_auth_execution_role),
    /* Runtime. transition_in_flight and health_published are not kept (task_json.h): a loaded
     * container has no call in flight and a new process publishes health again. */
    JSONMAP_ENUM("desiredStatus", C, desired_status, &container_status_enum, REQ),
    JSONMAP_ENUM("knownStatus", C, known_status, &container_status_enum, REQ),
    JSONMAP_ENUM("sentStatus", C, sent_status, &container_status_enum, REQ),
    JSONMAP_STRING("dockerId", C, docker_id),
    JSONMAP_STRING("dockerName", C, docker_name),
    JSONMAP_STRING("imageId", C, image_id),
    JSONMAP_STRING("imageDigest", C, image_digest),
    JSONMAP_I32("exitCode", C, exit_code),
    JSONMAP_BOOL("hasExitCode", C, has_exit_code),
    JSONMAP_STRING("reason", C, reason),
    JSONMAP_ARRAY("networkBindings", C, bindings, n_bindings, &binding_type),
    JSONMAP_STRING("endpointId", C, endpoint_id),
    JSONMAP_ENUM("healthStatus", C, health_status, &health_enum, REQ),
    JSONMAP_U64("healthSince", C, health_since),
    JSONMAP_U64("createdAt", C, created_at),
    JSONMAP_U64("startedAt", C, started_at),
    JSONMAP_U64("finishedAt", C, finished_at),
    JSONMAP_U32("restartCount", C, restart_count),
    JSONMAP_STRING("networkName", C, network_name),
    JSONMAP_STRING("ipv4Address", C, ipv4_address),
    JSONMAP_STRING("ipv6Address", C, ipv6_address),
    JSONMAP_KV("dockerLabels", C, docker_labels),
    JSONMAP_END,
};
#undef C
static const struct jsonmap_type container_type =
    JSONMAP_TYPE(struct ecs_container, container_fields);

static const struct jsonmap_field volume_fields[] = {
    JSONMAP_STRING("name", struct task_volume, name, REQ),
    JSONMAP_STRING("type", struct task_volume, type),
    JSONMAP_STRING("sourcePath", struct task_volume, source_path),
    JSONMAP_STRING("scope", struct task_volume, scope),
    JSONMAP_BOOL("autoprovision", struct task_volume, autoprovision),
    JSONMAP_STRING("driver", struct task_volume, driver),
    JSONMAP_STRV("driverOpts", struct task_volume, driver_opts),
    JSONMAP_STRV("labels", struct task_volume, labels),
    JSONMAP_STRING("dockerName", struct task_volume, docker_name),
    JSONMAP_END,
};
static const struct jsonmap_type volume_type = JSONMAP_TYPE(struct task_volume, volume_fields);

static const struct jsonmap_field eni_fields[] = {
    JSONMAP_STRING("ec2Id", struct task_eni, ec2_id),
    JSONMAP_STRING("mac", struct task_eni, mac, REQ),
    JSONMAP_STRING("attachmentArn", struct task_eni, attachment_arn),
    JSONMAP_STRV("ipv4", struct task_eni, ipv4),
    JSONMAP_STRV("ipv6", struct task_eni, ipv6),
    JSONMAP_STRING("subnetGatewayIpv4", struct task_eni, subnet_gateway_ipv4),
    JSONMAP_STRING("subnetGatewayIpv6", struct task_eni, subnet_gateway_ipv6),
    JSONMAP_STRV("dnsServers", struct task_eni, dns_servers),
    JSONMAP_STRV("searchDomains", struct task_eni, search_domains),
    JSONMAP_STRING("privateDnsName", struct task_eni, private_dns_name),
    JSONMAP_END,
};
static const struct jsonmap_type eni_type = JSONMAP_TYPE(struct task_eni, eni_fields);

static int check_arn(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        _cleanup_free_ char *id = NULL;
        int r = ecs_task_id_from_arn(*(char *const *)value, &id);

        if (r == -ENOMEM)
                return jsonmap_fail(c, r, "out of memory");
        return r < 0 ? jsonmap_fail(c, -EINVAL, "not a task ARN") : 0;
}

/* The id names cgroups and files; it must be the one the ARN gives (as the ACS translator
 * derives it), or a corrupt file could point the agent at another path. */
static int check_id(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const struct ecs_task *t = obj;
        _cleanup_free_ char *id = NULL;
        int r = ecs_task_id_from_arn(t->arn, &id);

        if (r == -ENOMEM)
                return jsonmap_fail(c, r, "out of memory");
        if (r < 0 || !streq(id, *(char *const *)value))
                return jsonmap_fail(c, -EINVAL, "does not match the ARN");
        return 0;
}

#define T struct ecs_task
static const struct jsonmap_field task_fields[] = {
    /* Definition. */
    JSONMAP_STRING("arn", T, arn, REQ, .check = check_arn),
    JSONMAP_STRING("id", T, id, REQ, .check = check_id),
    JSONMAP_STRING("clusterArn", T, cluster_arn),
    JSONMAP_STRING("family", T, family),
    JSONMAP_STRING("version", T, version),
    JSONMAP_ENUM("networkMode", T, network_mode, &network_mode_enum, REQ),
    JSONMAP_DOUBLE("cpu", T, cpu, .dmin = 0, .dmax = TASK_JSON_MAX_CPU),
    JSONMAP_U32("memory", T, memory_mib),
    JSONMAP_STRING("launchType", T, launch_type),
    JSONMAP_STRING("serviceName", T, service_name),
    JSONMAP_STRING("roleCredentialsId", T, role_credentials_id),
    JSONMAP_STRING("executionCredentialsId", T, execution_credentials_id),
    /* Runtime. */
    JSONMAP_ENUM("desiredStatus", T, desired_status, &task_status_enum, REQ),
    JSONMAP_ENUM("knownStatus", T, known_status, &task_status_enum, REQ),
    JSONMAP_ENUM("sentStatus", T, sent_status, &task_status_enum, REQ),
    JSONMAP_U64("knownStatusTime", T, known_status_time),
    JSONMAP_STRING("reason", T, reason),
    JSONMAP_U64("pullStartedAt", T, pull_started_at),
    JSONMAP_U64("pullStoppedAt", T, pull_stopped_at),
    JSONMAP_U64("executionStoppedAt", T, execution_stopped_at),
    JSONMAP_U64("createdAt", T, created_at),
    JSONMAP_OBJECT_PTR("eni", T, eni, &eni_type),
    JSONMAP_STRING("pauseDockerId", T, pause_docker_id),
    JSONMAP_STRING("pauseDockerName", T, pause_docker_name),
    JSONMAP_STRING("localIp", T, local_ip),
    JSONMAP_ARRAY("containers", T, containers, n_containers, &container_type),
    JSONMAP_ARRAY("volumes", T, volumes, n_volumes, &volume_type),
    JSONMAP_END,
};
#undef T
static const struct jsonmap_type task_type = JSONMAP_TYPE(struct ecs_task, task_fields);

/* ---- the document ---- */

int task_to_json(const struct ecs_task *t, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        json_object *to = NULL;
        int r;

        r = jsonmap_encode(&task_type, t, &limits, &to);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o) {
                json_object_put(to);
                return -ENOMEM;
        }
        if ((r = json_add_int(o, "version", TASK_JSON_VERSION)) < 0 ||
            (r = json_add(o, "task", to)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static void task_unrefp(struct ecs_task **t)
{
        ecs_task_unref(*t);
}

static int version_check(json_object *o, struct jsonmap_ctx *c)
{
        json_object *v = json_get(o, "version");

        if (!v || !json_object_is_type(v, json_type_int))
                return jsonmap_fail(c, -EBADMSG, "version: missing or not an integer");
        if (json_object_get_int64(v) != TASK_JSON_VERSION)
                return jsonmap_fail(c, -EPROTONOSUPPORT, "version: unsupported format version %lld",
                                    (long long)json_object_get_int64(v));
        return 0;
}

int task_from_json(json_object *o, struct ecs_task **ret, char **ret_error)
{
        _cleanup_(task_unrefp) struct ecs_task *t = NULL;
        struct jsonmap_ctx c;
        int r;

        jsonmap_ctx_init(&c, NULL, &limits);
        if (!json_object_is_type(o, json_type_object))
                r = jsonmap_fail(&c, -EBADMSG, "document: not an object");
        else
                r = version_check(o, &c);
        if (r >= 0) {
                t = ecs_task_new();
                if (!t)
                        return -ENOMEM;
                jsonmap_ctx_init(&c, "task", &limits);
                r = jsonmap_decode(&c, &task_type, json_get(o, "task"), t);
                if (r < 0 && r != -ENOMEM)
                        r = -EBADMSG;
        }
        if (r < 0) {
                if (ret_error && c.reason[0])
                        *ret_error = strdup(c.reason);
                return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}
