/* ECS API request bodies and response parsing for the agent-only calls (reference §1.4-1.10).
 * Pure functions: they build AWS JSON 1.1 bodies (json-c objects, as awsjson_call() takes
 * them) from typed inputs and validate parsed responses into typed results; the awsjson
 * client sends them and classifies AWS errors. Every builder returns 0 and a new object in
 * *ret_body (the caller puts it), or a negative errno and leaves *ret_body untouched. */
#pragma once

#include <json-c/json_types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/task.h"

/* Attribute lists longer than this are refused (-E2BIG): far above anything we build. */
#define ECS_MAX_ATTRIBUTES 512U
/* Truncation limits of the official client (§1.8, §11.27). */
#define ECS_MAX_REASON_LEN       1024U
#define ECS_MAX_RUNTIME_ID_LEN   255U
#define ECS_MAX_IMAGE_DIGEST_LEN 255U

/* A human-readable reason for the operator (a registration refused, a response unusable). */
struct ecs_request_error {
        char reason[512];
};

struct ecs_attribute {
        char *name;
        char *value; /* NULL: a name-only attribute */
};

struct ecs_attribute_list {
        struct ecs_attribute *items;
        size_t n;
};
void ecs_attribute_list_done(struct ecs_attribute_list *l);
/* The item with that name, or NULL. */
const struct ecs_attribute *ecs_attribute_list_find(const struct ecs_attribute_list *l,
                                                    const char *name);

/* A key/value pair from the config (ECS_INSTANCE_ATTRIBUTES, ECS_CONTAINER_INSTANCE_TAGS). */
struct ecs_kv {
        const char *key;
        const char *value;
};

/* The name-only capabilities of the official agent's unconditional list (§1.5), full names,
 * NULL-terminated. The official agent advertises all of them; we advertise only what this
 * build really implements, because ECS places tasks by these capabilities and a task that
 * needs e.g. secrets, EFS, FireLens, App Mesh or container ordering must not land on an
 * agent that would run it wrongly. The caller picks the implemented subset and passes it in
 * attribute_inputs.capabilities; names outside this list are refused (typo guard). */
extern const char *const ecs_known_capabilities[];

struct attribute_inputs {
        /* Custom attributes (ECS_INSTANCE_ATTRIBUTES) are sent only on the first registration,
         * not when re-registering with a saved container instance ARN (§1.4, §11.25). */
        bool reregister;
        const struct ecs_kv *custom;
        size_t n_custom;

        /* Subset of ecs_known_capabilities this build implements; NULL-terminated or NULL. */
        char *const *capabilities;

        /* The daemon's API version range ("1.24", "1.45"), from /version MinAPIVersion and
         * ApiVersion. NULL: unknown, then no docker-remote-api.* nor any capability gated on
         * an API version is advertised. */
        const char *docker_api_min;
        const char *docker_api_max;

        bool privileged;                 /* !ECS_DISABLE_PRIVILEGED */
        char *const *logging_drivers;    /* ECS_AVAILABLE_LOGGING_DRIVERS, NULL-terminated */
        bool selinux;                    /* ECS_SELINUX_CAPABLE */
        bool apparmor;                   /* ECS_APPARMOR_CAPABLE */
        bool task_iam_role;              /* task role credentials served (API >= 1.19) */
        bool task_iam_role_network_host; /* ... also for host-network tasks */
        bool task_cpu_mem_limit;         /* task cgroups work (API >= 1.22) */
        bool ecr_auth;                   /* ECR pulls incl. execution role (API >= 1.19) */
        bool container_health_check;     /* Docker health tracked (API >= 1.24) */
        bool execution_role_awslogs;     /* ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE */
        char *const *docker_plugins;     /* volume plugins: ecs.capability.docker-plugin.<n> */
        char *const *volume_plugin_capabilities; /* ECS_VOLUME_PLUGIN_CAPABILITIES */
        /* task-eni capabilities are the caller's to add via .capabilities; ecs.vpc-id and
         * ecs.subnet-id follow them when set (task ENI enabled). */
        const char *vpc_id;
        const char *subnet_id;

        bool external;                /* ECS Anywhere: ecs.capability.external + cpu arch */
        const char *os_type_detailed; /* ECS_DETAILED_OS_FAMILY; NULL/"": "LINUX" */
        const char *cpu_architecture; /* external only: x86_64, arm64, i386 */
};

/* The attributes to register, in the official order: custom (first registration only),
 * capabilities, ecs.vpc-id / ecs.subnet-id, ecs.os-type, ecs.os-family,
 * ecs.os-type-detailed, ecs.cpu-architecture (external). -EINVAL for an unknown capability
 * or a malformed API version. */
int ecs_build_attributes(const struct attribute_inputs *in, struct ecs_attribute_list *ret);

struct ecs_register_params {
        const char *cluster;                /* the configured cluster ("default" if unset) */
        const char *container_instance_arn; /* saved ARN when re-registering, else NULL */
        const char *identity_document;      /* IMDS text; NULL/"" when external or failed */
        const char *identity_signature;
        uint32_t cpu_units;             /* logical CPUs x 1024 */
        int64_t memory_mib;             /* MemTotal - ECS_RESERVED_MEMORY; < 0 refused */
        const uint16_t *reserved_ports; /* PORTS */
        size_t n_reserved_ports;
        const uint16_t *reserved_ports_udp; /* PORTS_UDP (an empty array when none) */
        size_t n_reserved_ports_udp;
        const struct ecs_attribute_list *attributes;
        const struct ecs_kv *tags; /* omitted when none */
        size_t n_tags;
        const char *client_token; /* one random UUID per registration attempt sequence */
};
int ecs_register_request_build(const struct ecs_register_params *p, json_object **ret_body);

struct ecs_register_result {
        char *container_instance_arn;
        char *availability_zone; /* NULL when the response had no ecs.availability-zone */
};
void ecs_register_result_done(struct ecs_register_result *r);
/* Validates a RegisterContainerInstance response against the attributes sent. -EBADMSG:
 * no containerInstance.containerInstanceArn or malformed attributes (not terminal); -EPROTO: an
 * attribute was not echoed with the same value, err names it (terminal, exit 5). On
 * re-registration the caller keeps its saved ARN (§1.4). */
int ecs_register_response_parse(json_object *response, const struct ecs_attribute_list *sent,
                                struct ecs_register_result *ret, struct ecs_request_error *err);

/* DiscoverPollEndpoint (§1.7): {"cluster","containerInstance","zoneId":""}. */
int ecs_discover_poll_endpoint_request_build(const char *cluster,
                                             const char *container_instance_arn,
                                             json_object **ret_body);
struct ecs_poll_endpoints {
        char *endpoint;           /* ACS base URL; NULL when missing or not http(s)/ws(s) */
        char *telemetry_endpoint; /* TCS base URL; same */
};
void ecs_poll_endpoints_done(struct ecs_poll_endpoints *e);
/* -EBADMSG when the response is not a JSON object or a member has the wrong type. A missing
 * endpoint is not an error here: each session refuses to start without its own. */
int ecs_discover_poll_endpoint_response_parse(json_object *response, struct ecs_poll_endpoints *ret,
                                              struct ecs_request_error *err);

/* SubmitTaskStateChange, flavour (a) (§1.8, §1.12): the task's status plus the containers
 * with pending changes. status = task_status_backend(task->known_status) (the periodic
 * flush may therefore repeat RUNNING or send PENDING); reason = task->reason, always sent
 * ("" if none, at most 1024 bytes cut at a UTF-8 boundary); pullStartedAt, pullStoppedAt,
 * executionStoppedAt when non-zero. Each included container is reported with
 * container_status_backend(known_status) -- unless that status is not reportable (NONE,
 * PULLED, CREATED), then it is left out as the official agent does -- its runtimeId and
 * imageDigest when set (<= 255 bytes), exitCode when known, reason when set (<= 1024) and
 * networkBindings, always an array. */
struct ecs_task_state_change_params {
        const char *cluster; /* the configured cluster */
        const struct ecs_task *task;
        /* One flag per task->containers entry; NULL: no container changes. Never set it for
         * internal containers. */
        const bool *include_containers;
        bool exclude_ipv6_bindings; /* ECS_EXCLUDE_IPV6_PORTBINDING: drop bindIP "::" */
        bool exclude_ipv4_bindings; /* IPv6-only instance: drop bindIP "0.0.0.0" */
};
int ecs_build_task_state_change(const struct ecs_task_state_change_params *p,
                                json_object **ret_body);

/* Flavour (b): {"cluster","task","attachments":[{"attachmentArn","status"}]}. */
int ecs_build_task_attachment_change(const char *cluster, const char *task_arn,
                                     const char *attachment_arn, const char *status,
                                     json_object **ret_body);
/* Flavour (c): a task that could not be loaded, reported STOPPED with its reason (the
 * decoder's "UnrecogniedTaskError: Error loading task - ..."). */
int ecs_build_invalid_task_state_change(const char *cluster, const char *task_arn,
                                        const char *reason, json_object **ret_body);

/* SubmitAttachmentStateChanges (§1.10): {"cluster","attachments":[{"attachmentArn","status"}]}. */
int ecs_build_attachment_state_changes(const char *cluster, const char *attachment_arn,
                                       const char *status, json_object **ret_body);
