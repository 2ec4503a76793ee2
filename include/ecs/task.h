/* The engine's task and container model: what a task asks for (from ACS, already validated
 * and typed by ecs/), and what the agent knows, wants and has reported about it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum task_status {
        TASK_STATUS_NONE,
        TASK_STATUS_MANIFEST_PULLED,
        TASK_STATUS_PULLED,
        TASK_STATUS_CREATED,
        TASK_STATUS_RUNNING,
        TASK_STATUS_STOPPED,
        _TASK_STATUS_MAX,
        _TASK_STATUS_INVALID = -EINVAL,
};

enum container_status {
        CONTAINER_STATUS_NONE,
        CONTAINER_STATUS_MANIFEST_PULLED,
        CONTAINER_STATUS_PULLED,
        CONTAINER_STATUS_CREATED,
        CONTAINER_STATUS_RUNNING,
        CONTAINER_STATUS_RESOURCES_PROVISIONED,
        CONTAINER_STATUS_STOPPED,
        _CONTAINER_STATUS_MAX,
        _CONTAINER_STATUS_INVALID = -EINVAL,
};

enum network_mode {
        NETWORK_MODE_BRIDGE,
        NETWORK_MODE_HOST,
        NETWORK_MODE_AWSVPC,
        NETWORK_MODE_NONE,
        _NETWORK_MODE_MAX,
        _NETWORK_MODE_INVALID = -EINVAL,
};

enum port_protocol {
        PORT_PROTOCOL_TCP,
        PORT_PROTOCOL_UDP,
        _PORT_PROTOCOL_MAX,
        _PORT_PROTOCOL_INVALID = -EINVAL,
};

enum dependency_condition {
        DEPENDENCY_START,
        DEPENDENCY_COMPLETE,
        DEPENDENCY_SUCCESS,
        DEPENDENCY_HEALTHY,
        DEPENDENCY_CREATE, /* internal: implied by volumesFrom */
        _DEPENDENCY_MAX,
        _DEPENDENCY_INVALID = -EINVAL,
};

/* Internal names (NONE, MANIFEST_PULLED, ..., RESOURCES_PROVISIONED) both ways, and the
 * backend names ECS is told (PENDING, RUNNING, STOPPED). */
const char *task_status_to_string(enum task_status s);
enum task_status task_status_from_string(const char *s);
const char *task_status_backend(enum task_status s);
const char *container_status_to_string(enum container_status s);
enum container_status container_status_from_string(const char *s);
const char *container_status_backend(enum container_status s);
const char *network_mode_to_string(enum network_mode m);
enum network_mode network_mode_from_string(const char *s); /* "" and NULL mean bridge */
/* ecs_container.health_status: 0 UNKNOWN, 1 HEALTHY, 2 UNHEALTHY (§4.1); NULL / -EINVAL
 * outside that. */
const char *health_status_to_string(int h);
int health_status_from_string(const char *s);
const char *port_protocol_to_string(enum port_protocol p);
enum port_protocol port_protocol_from_string(const char *s); /* NULL means tcp */
const char *dependency_condition_to_string(enum dependency_condition c);
enum dependency_condition dependency_condition_from_string(const char *s);

struct port_mapping {
        uint16_t container_port;
        uint16_t host_port; /* 0 = dynamic, chosen by the agent */
        enum port_protocol protocol;
        uint16_t range_start, range_end; /* containerPortRange "a-b"; 0 when unused */
};

struct network_binding {
        char bind_ip[46];
        uint16_t container_port;
        uint16_t host_port;
        enum port_protocol protocol;
};

struct mount_point {
        char *source_volume;
        char *container_path;
        bool read_only;
};

struct volume_from {
        char *source_container;
        bool read_only;
};

struct container_dependency {
        char *container_name;
        enum dependency_condition condition;
};

struct task_volume {
        char *name;
        char *type;        /* "host" (default) or "docker"; others refused at the edge */
        char *source_path; /* host: empty means an agent-managed local volume */
        /* docker volumes */
        char *scope; /* "task" or "shared" */
        bool autoprovision;
        char *driver;
        char **driver_opts; /* "k=v" */
        char **labels;      /* "k=v" */
        /* runtime */
        char *docker_name; /* the Docker volume backing it, once created */
};

/* A secret injected into a container (§10): provider "ssm" or "asm", type
 * "ENVIRONMENT_VARIABLE" / "MOUNT_POINT" / "BOOTSTRAP", target "CONTAINER" / "LOG_DRIVER". */
struct container_secret {
        char *name;
        char *value_from; /* SSM parameter name/ARN or Secrets Manager ARN */
        char *region;     /* NULL: the agent's region */
        char *provider;
        char *type;
        char *target;
        char *container_path; /* MOUNT_POINT only */
};

/* Private registry authentication for the image pull; type NULL when there is none. */
struct registry_auth {
        char *type; /* "ecr" or "asm" */
        char *ecr_registry_id;
        char *ecr_region;
        char *ecr_endpoint_override;
        bool ecr_use_execution_role;
        char *asm_credentials_parameter; /* Secrets Manager ARN */
        char *asm_region;
};

struct restart_policy {
        bool enabled;
        int *ignored_exit_codes;
        size_t n_ignored_exit_codes;
        uint32_t attempt_period_sec;
};

struct ecs_container {
        /* --- definition (from ACS) --- */
        char *name;
        char *arn;
        char *image;
        uint32_t cpu;        /* CPU units */
        uint32_t memory_mib; /* hard limit; 0 = none */
        bool essential;
        char **command;     /* NULL = image default */
        char **entrypoint;  /* NULL = image default */
        char **environment; /* "KEY=value", task definition order */
        struct port_mapping *ports;
        size_t n_ports;
        char **links; /* "name[:alias]" */
        struct mount_point *mounts;
        size_t n_mounts;
        struct volume_from *volumes_from;
        size_t n_volumes_from;
        struct container_dependency *depends_on;
        size_t n_depends_on;
        char *docker_config;      /* Docker ContainerConfig JSON applied on top of ours */
        char *docker_host_config; /* Docker HostConfig JSON applied on top of ours */
        char *docker_version;
        bool health_check_docker; /* healthCheckType == "docker" */
        uint32_t start_timeout_sec;
        uint32_t stop_timeout_sec; /* 0 = ECS_CONTAINER_STOP_TIMEOUT */
        struct restart_policy restart;
        struct container_secret *secrets;
        size_t n_secrets;
        struct registry_auth registry_auth;
        bool logs_auth_execution_role; /* logsAuthStrategy "ExecutionRole" */

        /* --- runtime --- */
        enum container_status desired_status;
        enum container_status known_status;
        enum container_status sent_status;
        bool transition_in_flight;
        bool metadata_file_ready; /* READY written since the last start (not saved) */
        char *docker_id;
        char *docker_name;
        char *image_id;
        char *image_digest;
        int exit_code;
        bool has_exit_code;
        char *reason; /* first error: "<ErrorName>: <message>" */
        struct network_binding *bindings;
        size_t n_bindings;
        char *endpoint_id;                            /* metadata endpoint UUID */
        int health_status;                            /* 0 unknown, 1 healthy, 2 unhealthy */
        uint64_t health_since;                        /* realtime usec of the last change */
        int health_published;                         /* health_status + 1 sent to TCS; 0 none */
        uint64_t created_at, started_at, finished_at; /* realtime usec */
        uint32_t restart_count;
        /* Docker's view of its network (bridge/host; awsvpc tasks use the ENI): how the
         * endpoints know a caller and what metadata reports. */
        char *network_name; /* "bridge", "host", a user network */
        char *ipv4_address, *ipv6_address;
        char **docker_labels; /* "k=v" as Docker shows them (image labels too); NULL: not seen */
};

/* The task's ENI (awsvpc, §6.5), as ACS sent it. */
struct task_eni {
        char *ec2_id;
        char *mac; /* "0e:12:34:56:78:9a" */
        char *attachment_arn;
        char **ipv4; /* plain addresses; NULL-terminated or NULL */
        char **ipv6;
        char *subnet_gateway_ipv4; /* "10.0.1.1/24" */
        char *subnet_gateway_ipv6;
        char **dns_servers;
        char **search_domains;
        char *private_dns_name;
};

void task_eni_free(struct task_eni *e);

struct ecs_task {
        /* --- definition (from ACS) --- */
        char *arn;
        char *id; /* last component of the ARN resource */
        char *cluster_arn;
        char *family;
        char *version;
        enum network_mode network_mode;
        double cpu;          /* vCPUs, 0 = none */
        uint32_t memory_mib; /* 0 = none */
        char *launch_type;
        char *service_name;
        char *role_credentials_id;
        char *execution_credentials_id;
        struct ecs_container *containers;
        size_t n_containers;
        struct task_volume *volumes;
        size_t n_volumes;
        struct task_eni *eni; /* awsvpc only */

        /* --- runtime --- */
        enum task_status desired_status;
        enum task_status known_status;
        enum task_status sent_status;
        uint64_t known_status_time;
        char *reason; /* task-level reason, set only when the agent fails the task */
        uint64_t pull_started_at, pull_stopped_at, execution_stopped_at;
        uint64_t created_at;
        /* awsvpc: the pause container holding the network namespace, and the task's address
         * on the ecs-bridge (how the metadata endpoints know a caller). */
        char *pause_docker_id;
        char *pause_docker_name;
        char *local_ip;
        unsigned refs;
};

/* Lifecycle. task_new takes no fields; the ACS translator fills them. */
struct ecs_task *ecs_task_new(void);
struct ecs_task *ecs_task_ref(struct ecs_task *t);
struct ecs_task *ecs_task_unref(struct ecs_task *t);
void ecs_container_done(struct ecs_container *c);

struct ecs_container *ecs_task_find_container(struct ecs_task *t, const char *name);
/* The task id from a task ARN ("arn:aws:ecs:r:a:task/cluster/id" or ".../task/id"). */
int ecs_task_id_from_arn(const char *arn, char **ret);
