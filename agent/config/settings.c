/* Every setting of ecs.config and the environment, in dump order: its name, the kind of
 * value, the field of struct ecs_config it fills, its default and limits. config.c walks
 * this table to look values up, parse, free and print them, so a setting cannot be parsed
 * but forgotten in the dump, or the other way round. include/ecs/config.h explains each
 * setting for the operator. */
#include <assert.h>

#include "config-internal.h"
#include "ecs/macro.h"

/* KIND_ENUM stores through an int. */
static_assert(sizeof(enum ecs_image_pull_behavior) == sizeof(int), "enum size");
static_assert(sizeof(enum ecs_engine_auth_type) == sizeof(int), "enum size");

const char *const config_image_pull_behavior_names[_ECS_IMAGE_PULL_BEHAVIOR_MAX] = {
    [ECS_IMAGE_PULL_BEHAVIOR_DEFAULT] = "default",
    [ECS_IMAGE_PULL_BEHAVIOR_ALWAYS] = "always",
    [ECS_IMAGE_PULL_BEHAVIOR_ONCE] = "once",
    [ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED] = "prefer-cached",
};

const char *const config_engine_auth_type_names[_ECS_ENGINE_AUTH_TYPE_MAX] = {
    [ECS_ENGINE_AUTH_TYPE_NONE] = NULL,
    [ECS_ENGINE_AUTH_TYPE_DOCKER] = "docker",
    [ECS_ENGINE_AUTH_TYPE_DOCKERCFG] = "dockercfg",
};

static const uint16_t default_reserved_ports[] = {22, 2375, 2376, 51678, 51679};
static const char *const default_logging_drivers[] = {"json-file", "none"};

/* Setting one of these earns a warning instead of the silent debug line unknown keys get. */
const char *const config_unsupported_keys[] = {
    "ECS_AGENT_CONFIG_FILE_PATH",
    "ECS_ENABLE_GPU_SUPPORT",
    "ECS_NVIDIA_RUNTIME",
    "ECS_ENABLE_INF_SUPPORT",
    "ECS_GMSA_SUPPORTED",
    "ECS_LOGLEVEL_ON_INSTANCE",
    "ECS_LOG_DRIVER",
    "ECS_LOG_OPTS",
    "ECS_LOG_ROLLOVER_TYPE",
    "ECS_LOG_OUTPUT_FORMAT",
    "ECS_LOG_MAX_FILE_SIZE_MB",
    "ECS_LOG_MAX_ROLL_COUNT",
    "ECS_UPDATE_DOWNLOAD_DIR",
    "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM",
    "ECS_CNI_PLUGINS_PATH",
    "ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2",
    "ECS_SHARED_VOLUME_MATCH_FULL_CONFIG",
    "ECS_ENABLE_RUNTIME_STATS",
    "ECS_INSTANCE_IP_COMPATIBILITY",
    "ECS_ENABLE_FIRELENS_ASYNC",
    "ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME",
    "ECS_AGENT_LABELS",
    "ECS_AGENT_APPARMOR_PROFILE",
    "ECS_AGENT_PID_NAMESPACE_HOST",
};
const size_t config_n_unsupported_keys = ELEMENTSOF(config_unsupported_keys);

#define OFF(field) offsetof(struct ecs_config, field)
/* A string, trimmed unless F_NOTRIM; chk (or NULL) vets the trimmed value. */
#define STRING(n, field, d, chk, fl, text)                                                         \
        {                                                                                          \
                .name = (n), .kind = KIND_STRING, .offset = OFF(field), .def_str = (d),            \
                .check = (chk), .flags = (fl), .doc = (text)                                       \
        }
#define PATH(n, field, d, text)                                                                    \
        {                                                                                          \
                .name = (n), .kind = KIND_PATH, .offset = OFF(field), .def_str = (d),              \
                .doc = (text)                                                                      \
        }
/* A path checked by chk when set (no default). */
#define CHECKED_PATH(n, field, chk, text)                                                          \
        {                                                                                          \
                .name = (n), .kind = KIND_PATH, .offset = OFF(field), .check = (chk),              \
                .doc = (text)                                                                      \
        }
#define BOOL(n, field, d, text)                                                                    \
        {                                                                                          \
                .name = (n), .kind = KIND_BOOL, .offset = OFF(field), .def = (d), .doc = (text)    \
        }
/* Durations in usec; lo, hi (0: none) and what b does with a value outside them. */
#define DURATION(n, field, d, lo, hi, b, text)                                                     \
        {                                                                                          \
                .name = (n), .kind = KIND_DURATION, .offset = OFF(field), .def = (d), .min = (lo), \
                .max = (hi), .bound = (b), .doc = (text)                                           \
        }
#define UINT(n, field, d, lo, hi, b, text)                                                         \
        {                                                                                          \
                .name = (n), .kind = KIND_UINT, .offset = OFF(field), .def = (d), .min = (lo),     \
                .max = (hi), .bound = (b), .doc = (text)                                           \
        }
#define ENUM(n, field, table, fl, text)                                                            \
        {                                                                                          \
                .name = (n), .kind = KIND_ENUM, .offset = OFF(field), .names = (table),            \
                .n_names = ELEMENTSOF(table), .flags = (fl), .doc = (text)                         \
        }
/* A JSON array of ports; a non-empty default list (d, or NULL) is also what "[]" means. */
#define PORTS(n, field, d, nd, text)                                                               \
        {                                                                                          \
                .name = (n), .kind = KIND_PORTS, .offset = OFF(field), .offset_n = OFF(n_##field), \
                .def_ports = (d), .n_def = (nd), .doc = (text)                                     \
        }
#define STRV(n, field, d, nd, chk, text)                                                           \
        {                                                                                          \
                .name = (n), .kind = KIND_STRV, .offset = OFF(field), .def_strv = (d),             \
                .n_def = (nd), .check = (chk), .doc = (text)                                       \
        }
/* A JSON object of strings, each entry vetted by chk; at most most entries (0: any). */
#define MAP(n, field, chk, most, text)                                                             \
        {                                                                                          \
                .name = (n), .kind = KIND_MAP, .offset = OFF(field), .offset_n = OFF(n_##field),   \
                .kv_check = (chk), .max = (most), .doc = (text)                                    \
        }
#define CUSTOM(n, c, fl, text)                                                                     \
        {                                                                                          \
                .name = (n), .kind = KIND_CUSTOM, .custom = &config_custom_##c, .flags = (fl),     \
                .doc = (text)                                                                      \
        }

const struct config_setting config_settings[] = {
    STRING("ECS_CLUSTER", cluster, "default", config_check_cluster, 0,
           "the cluster to register in: a name or an ARN"),
    {.name = "AWS_DEFAULT_REGION",
     .alias = "AWS_REGION",
     .kind = KIND_STRING,
     .offset = OFF(aws_region),
     .check = config_check_region,
     .doc = "the region of the cluster; unset on EC2: ask IMDS"},
    CUSTOM("ECS_BACKEND_HOST", backend_host, 0,
           "the ECS endpoint; a bare host name means https://"),
    CUSTOM("DOCKER_HOST", docker_host, 0, "the Docker socket, unix:///path only"),
    STRING("AWS_EC2_METADATA_SERVICE_ENDPOINT", ec2_metadata_endpoint, NULL, config_check_http_url,
           0, "the instance metadata service, when not 169.254.169.254"),
    STRING("AWS_ENDPOINT_URL", aws_endpoint_url, NULL, config_check_http_url, 0,
           "ours, as the AWS SDKs: the endpoint of the AWS services called for tasks "
           "(Secrets Manager), when not the regional one"),
    STRING("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_endpoint_url_secrets_manager, NULL,
           config_check_http_url, 0,
           "ours, as the AWS SDKs: the Secrets Manager endpoint; wins over AWS_ENDPOINT_URL"),
    {.name = "HTTP_PROXY",
     .alias = "http_proxy",
     .kind = KIND_STRING,
     .offset = OFF(http_proxy),
     .check = config_check_proxy_url,
     .flags = F_URL_CREDS,
     .doc = "the proxy for http:// URLs ([scheme://][user:password@]host:port)"},
    {.name = "HTTPS_PROXY",
     .alias = "https_proxy",
     .kind = KIND_STRING,
     .offset = OFF(https_proxy),
     .check = config_check_proxy_url,
     .flags = F_URL_CREDS,
     .doc = "the proxy for https:// URLs and the ACS and TCS WebSockets"},
    {.name = "NO_PROXY",
     .alias = "no_proxy",
     .kind = KIND_STRING,
     .offset = OFF(no_proxy),
     .doc = "hosts, domains, IP addresses and CIDR blocks reached without the proxy"},
    CHECKED_PATH("AWS_CA_BUNDLE", aws_ca_bundle, config_check_readable_file,
                 "a PEM file of the CAs trusted for TLS instead of the system store"),
    CHECKED_PATH("SSL_CERT_FILE", ssl_cert_file, config_check_readable_file,
                 "the same, when AWS_CA_BUNDLE is unset"),
    CHECKED_PATH("SSL_CERT_DIR", ssl_cert_dir, config_check_directory,
                 "a directory of hashed CA certificates (c_rehash), trusted as well"),
    CHECKED_PATH("CURL_CA_BUNDLE", curl_ca_bundle, config_check_readable_file,
                 "ours, as the curl tool: the CA file when AWS_CA_BUNDLE and SSL_CERT_FILE "
                 "are unset"),
    BOOL("ECS_EXTERNAL", external, false, "an external (ECS Anywhere) instance: no IMDS, no ENIs"),

    STRING("AWS_ACCESS_KEY_ID", aws_access_key_id, NULL, config_check_no_blanks, F_CRED,
           "static instance credentials: the key id"),
    STRING("AWS_SECRET_ACCESS_KEY", aws_secret_access_key, NULL, NULL, F_CRED | F_SECRET | F_NOTRIM,
           "static instance credentials: the secret key"),
    STRING("AWS_SESSION_TOKEN", aws_session_token, NULL, NULL, F_CRED | F_SECRET | F_NOTRIM,
           "static instance credentials: the session token"),
    STRING("ECS_ALTERNATE_CREDENTIAL_PROFILE", alternate_credential_profile, "default", NULL, 0,
           "the profile read from the shared credentials file"),

    PATH("ECS_DATADIR", data_dir, "/var/lib/ecs/data", "where the agent keeps its state"),
    BOOL("ECS_CHECKPOINT", checkpoint, true, "save state, so a restart picks up the tasks it ran"),
    PATH("ECS_HOST_DATA_DIR", host_data_dir, NULL,
         "set only when the agent runs in a container: the host directory its data dir is "
         "under, for metadata-file mounts"),
    CUSTOM("ECS_LOGLEVEL", log_level, 0, "crit, error, warn, info, debug or none, in any case"),
    PATH("ECS_LOGFILE", log_file, NULL, "a log file; unset: stderr or journald"),
    PATH("ECS_AUDIT_LOGFILE", audit_log_file, "/var/log/ecs/audit.log",
         "the credentials endpoint's audit log"),
    BOOL("ECS_AUDIT_LOGFILE_DISABLED", audit_log_disabled, false, "write no audit log"),

    /* The official field is a uint16 (MiB). */
    UINT("ECS_RESERVED_MEMORY", reserved_memory_mib, 0, 0, 65535, BOUND_ERROR,
         "MiB of memory not offered to tasks"),
    PORTS("ECS_RESERVED_PORTS", reserved_ports, default_reserved_ports,
          ELEMENTSOF(default_reserved_ports), "TCP host ports not offered to tasks"),
    PORTS("ECS_RESERVED_PORTS_UDP", reserved_ports_udp, NULL, 0,
          "UDP host ports not offered to tasks"),
    CUSTOM("ECS_DYNAMIC_HOST_PORT_RANGE", port_range, 0,
           "FIRST-LAST for dynamic host ports; unset: the kernel's ephemeral range"),

    DURATION("ECS_CONTAINER_STOP_TIMEOUT", container_stop_timeout_usec, 30 * USEC_S, USEC_S, 0,
             BOUND_RAISE, "SIGTERM to SIGKILL when a container is stopped"),
    DURATION("ECS_CONTAINER_START_TIMEOUT", container_start_timeout_usec, 3 * USEC_MIN, 45 * USEC_S,
             0, BOUND_RAISE, "how long Docker may take to start a container"),
    DURATION("ECS_CONTAINER_CREATE_TIMEOUT", container_create_timeout_usec, 4 * USEC_MIN, USEC_MIN,
             0, BOUND_RAISE, "how long Docker may take to create a container"),
    DURATION("ECS_IMAGE_PULL_TIMEOUT", image_pull_timeout_usec, 2 * USEC_HOUR, 0, 0, BOUND_RAISE,
             "how long one image pull may take"),
    DURATION("ECS_IMAGE_PULL_INACTIVITY_TIMEOUT", image_pull_inactivity_timeout_usec, USEC_MIN,
             USEC_MIN, 0, BOUND_RAISE, "a pull that shows no progress this long is given up"),
    DURATION("ECS_MANIFEST_PULL_TIMEOUT", manifest_pull_timeout_usec, USEC_MIN, 30 * USEC_S, 0,
             BOUND_RAISE, "how long fetching an image manifest may take"),
    ENUM("ECS_IMAGE_PULL_BEHAVIOR", image_pull_behavior, config_image_pull_behavior_names, F_NOTRIM,
         "when images are pulled: default, always, once or prefer-cached"),
    BOOL("ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT", pull_dependent_containers_upfront, false,
         "pull the images of containers that wait on others right away"),

    MAP("ECS_INSTANCE_ATTRIBUTES", instance_attributes, config_check_attribute, 0,
        "custom attributes registered with the instance"),
    /* 50 is the per-resource tag limit of every AWS API. */
    MAP("ECS_CONTAINER_INSTANCE_TAGS", container_instance_tags, config_check_tag, 50,
        "tags registered with the instance"),
    STRV("ECS_AVAILABLE_LOGGING_DRIVERS", available_logging_drivers, default_logging_drivers,
         ELEMENTSOF(default_logging_drivers), config_check_logging_driver,
         "log drivers advertised to the scheduler"),
    BOOL("ECS_DISABLE_PRIVILEGED", privileged_disabled, false, "refuse privileged containers"),
    BOOL("ECS_SELINUX_CAPABLE", selinux_capable, false, "advertise SELinux support"),
    BOOL("ECS_APPARMOR_CAPABLE", apparmor_capable, false, "advertise AppArmor support"),
    BOOL("ECS_ENABLE_TASK_IAM_ROLE", task_iam_role, false,
         "task IAM role credentials for bridge and awsvpc tasks"),
    /* Ours: the credentials endpoint answers an ID only to the task that owns it. */
    BOOL("ECS_CREDENTIALS_BOUND_TO_TASK", credentials_bound_to_task, true,
         "serve task credentials only to a caller inside the task (false: to anyone with the ID)"),
    BOOL("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", task_iam_role_network_host, false,
         "task IAM role credentials for host-network tasks"),
    BOOL("ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE", awslogs_executionrole_override, false,
         "advertise that awslogs may use the task execution role"),
    BOOL("ECS_DISABLE_DOCKER_HEALTH_CHECK", docker_health_check_disabled, false,
         "do not track Docker health checks"),
    STRV("ECS_VOLUME_PLUGIN_CAPABILITIES", volume_plugin_capabilities, NULL, 0,
         config_check_capability, "extra ecs.capability.* names to advertise"),
    CUSTOM("ECS_DETAILED_OS_FAMILY", os_family, 0,
           "the ecs.os-type-detailed attribute; unset: from /etc/os-release"),
    BOOL("ECS_EBSTA_SUPPORTED", ebsta_supported, true, "EBS task attachment support (parsed only)"),

    BOOL("ECS_ENABLE_TASK_ENI", task_eni, false, "run awsvpc tasks (one ENI per task)"),
    BOOL("ECS_ENABLE_HIGH_DENSITY_ENI", high_density_eni, true, "ENI trunking (parsed only)"),
    /* Safe default (ours): awsvpc tasks cannot reach the instance role unless allowed. */
    BOOL("ECS_AWSVPC_BLOCK_IMDS", awsvpc_block_imds, true,
         "awsvpc tasks cannot reach the instance metadata service"),
    /* Ours: bridge-mode tasks cannot reach the instance metadata service unless this is
     * set to false (the official agent leaves that to iptables rules of the operator). */
    BOOL("ECS_BRIDGE_BLOCK_IMDS", bridge_block_imds, true,
         "bridge tasks cannot reach the instance metadata service"),
    STRV("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", awsvpc_additional_local_routes, NULL, 0,
         config_check_cidr, "extra CIDR routes awsvpc tasks take through ecs-bridge"),
    BOOL("ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", skip_localhost_traffic_filter, false,
         "do not drop off-host traffic to 127.0.0.0/8"),
    BOOL("ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS", allow_offhost_introspection_access, false,
         "let other hosts reach the introspection API"),

    CUSTOM("ECS_ENABLE_TASK_CPU_MEM_LIMIT", cpu_mem_limit, 0,
           "task-level CPU and memory limits in a task cgroup"),
    PATH("ECS_CGROUP_PATH", cgroup_path, "/sys/fs/cgroup",
         "where the cgroup file system is mounted"),
    DURATION("ECS_CGROUP_CPU_PERIOD", cgroup_cpu_period_usec, 100 * USEC_MS, 8 * USEC_MS,
             100 * USEC_MS, BOUND_DEFAULT, "the CFS period of task cgroups"),
    /* 4194304 is the kernel's PID_MAX_LIMIT. */
    UINT("ECS_TASK_PIDS_LIMIT", task_pids_limit, 0, 1, 4194304, BOUND_ERROR,
         "most processes in one task; unset: no limit"),

    DURATION("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", task_cleanup_wait_usec, 3 * USEC_HOUR, USEC_S,
             0, BOUND_DEFAULT, "how long a stopped task is kept before cleanup"),
    DURATION("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER", task_cleanup_wait_jitter_usec, 0, 0, 0,
             BOUND_RAISE, "a random extra wait up to this, per task"),
    BOOL("ECS_DISABLE_IMAGE_CLEANUP", image_cleanup_disabled, false, "never remove unused images"),
    DURATION("ECS_IMAGE_CLEANUP_INTERVAL", image_cleanup_interval_usec, 30 * USEC_MIN,
             10 * USEC_MIN, 0, BOUND_DEFAULT, "how often unused images are looked for"),
    DURATION("ECS_IMAGE_MINIMUM_CLEANUP_AGE", image_minimum_cleanup_age_usec, USEC_HOUR, 0, 0,
             BOUND_RAISE, "an image is not removed sooner than this after its pull"),
    UINT("ECS_NUM_IMAGES_DELETE_PER_CYCLE", num_images_delete_per_cycle, 5, 1, 0, BOUND_DEFAULT,
         "the most images removed per cleanup round"),
    DURATION("ECS_IMAGE_CLEANUP_TEST_INTERVAL", image_cleanup_test_interval_usec, 0, 0, 0,
             BOUND_ERROR,
             "ours, for tests only: the cleanup interval, below ECS_IMAGE_CLEANUP_INTERVAL's "
             "10 m floor"),
    BOOL("ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP", untracked_image_cleanup, false,
         "also remove stopped non-ECS containers and unused non-ECS images"),
    DURATION("NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE", nonecs_image_minimum_cleanup_age_usec, USEC_HOUR,
             0, 0, BOUND_RAISE,
             "a non-ECS image is not removed sooner than this after its creation"),
    UINT("NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE", nonecs_num_containers_delete_per_cycle, 5, 0, 0,
         BOUND_DEFAULT, "the most non-ECS containers removed per cleanup round"),
    STRING("ECS_EXCLUDE_UNTRACKED_IMAGE", exclude_untracked_image, NULL, NULL, 0,
           "name:tag,... never removed by image cleanup"),

    BOOL("ECS_DISABLE_METRICS", metrics_disabled, false,
         "collect no container metrics and publish none"),
    BOOL("ECS_POLL_METRICS", poll_metrics, false,
         "sample container counters every ECS_POLLING_METRICS_WAIT_DURATION, not every second"),
    DURATION("ECS_POLLING_METRICS_WAIT_DURATION", polling_metrics_wait_usec, 10 * USEC_S,
             5 * USEC_S, 20 * USEC_S, BOUND_RAISE,
             "sampling period with ECS_POLL_METRICS (clamped to 5s-20s)"),
    BOOL("ECS_ENABLE_PROMETHEUS_METRICS", prometheus_metrics, false,
         "reserve port 51680 for Prometheus metrics"),
    BOOL("ECS_ENABLE_CONTAINER_METADATA", container_metadata, false,
         "write a metadata file into each container"),
    CUSTOM("ECS_TASK_METADATA_RPS_LIMIT", rps_limit, 0,
           "steady,burst requests per second on the task metadata endpoint"),
    BOOL("ECS_DISABLE_TASK_METADATA_AZ", task_metadata_az_disabled, false,
         "leave the availability zone out of task metadata"),
    BOOL("ECS_EXCLUDE_IPV6_PORTBINDING", exclude_ipv6_portbinding, true,
         "leave :: port bindings out of reports"),
    STRING("ECS_AGENT_HEALTHCHECK_HOST", healthcheck_host, "localhost", config_check_no_blanks, 0,
           "the host the agent's health check asks"),
    STRING("ECS_PAUSE_IMAGE_TARBALL", pause_image_tarball, "", NULL, 0,
           "the pause image tarball; empty: next to the binary, else libdir"),

    BOOL("ECS_UPDATES_ENABLED", updates_enabled, false,
         "accept agent update messages (parsed only)"),
    BOOL("ECS_ENABLE_SPOT_INSTANCE_DRAINING", spot_instance_draining, false,
         "drain the instance when a spot interruption is announced"),
    BOOL("ECS_WARM_POOLS_CHECK", warm_pools_check, false,
         "wait for the warm pool to put the instance in service before registering"),
    ENUM("ECS_ENGINE_AUTH_TYPE", engine_auth_type, config_engine_auth_type_names, 0,
         "the format of ECS_ENGINE_AUTH_DATA: docker or dockercfg"),
    CUSTOM("ECS_ENGINE_AUTH_DATA", auth_data, F_SECRET,
           "static registry credentials, a JSON object"),
    MAP("ECS_PAUSE_LABELS", pause_labels, config_check_label, 0, "labels put on pause containers"),
};
const size_t config_n_settings = ELEMENTSOF(config_settings);
