/* Agent configuration: ecs.config file + process environment -> typed, validated struct.
 *
 * Sources, highest first: the process environment, then the ecs.config file(s), then the
 * built-in defaults (reference §8.1/§8.2). An empty value ("KEY=") counts as unset at every
 * level, as in the official agent where os.Getenv() == "" means "use the default".
 *
 * The file format is ecs-init's, exactly: each line is trimmed of surrounding whitespace and
 * split at the FIRST '='; lines without '=' are skipped; the key is not trimmed further; there
 * is no quote removal and no comment syntax. A "#KEY=VALUE" line therefore yields the unknown
 * key "#KEY" and is ignored (logged at debug level). ecs-init passes every pair to the agent
 * as environment, so AWS_ACCESS_KEY_ID & co. in the file reach the credential chain through
 * the aws_* fields below.
 *
 * Validation is strict where the official agent silently falls back to a default: a value
 * that does not parse (bad boolean, duration, JSON, port, unknown enum or driver) is an
 * error naming the key and the value; main.c exits with code 5 (terminal). Values that parse
 * but fall outside a tunable's documented bounds get the official treatment (raised to the
 * minimum or reset to the default, per setting) with a warning.
 *
 * Settings: T is the type (B bool in Go ParseBool forms, D Go duration, I decimal integer,
 * S string, P absolute path, J JSON). The last column is the module expected to act on the
 * setting; "parsed only" means stored and dumped, but nothing acts on it yet.
 *
 * Variable                                     T  Default (ours)                  Acted on by
 * ECS_CLUSTER                                  S  default                         ecs/
 * AWS_DEFAULT_REGION, fallback AWS_REGION      S  unset: ask IMDS (1)             aws/, ecs/
 * ECS_BACKEND_HOST                             S  unset: regional endpoint        ecs/
 * DOCKER_HOST                                  S  unix:///var/run/docker.sock     docker/
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY     S  unset (2)                       aws/ chain
 * AWS_SESSION_TOKEN                            S  unset (2)                       aws/ chain
 * AWS_EC2_METADATA_SERVICE_ENDPOINT            S  unset: 169.254.169.254          aws/ imds
 * ECS_EXTERNAL                                 B  false                           aws/, ecs/
 * ECS_ALTERNATE_CREDENTIAL_PROFILE             S  default                         aws/
 * ECS_DATADIR                                  P  /var/lib/ecs/data (*)           state/
 * ECS_CHECKPOINT                               B  true (*)                        state/
 * ECS_HOST_DATA_DIR                            P  unset (*)                       engine/
 * ECS_LOGLEVEL                                 S  info                            main.c
 * ECS_LOGFILE                                  P  unset: stderr/journald          main.c
 * ECS_AUDIT_LOGFILE                            P  /var/log/ecs/audit.log (*)      http/
 * ECS_AUDIT_LOGFILE_DISABLED                   B  false                           http/
 * ECS_RESERVED_MEMORY                          I  0 (MiB, 0..65535)               ecs/ RCI
 * ECS_RESERVED_PORTS                           J  [22,2375,2376,51678,51679] (3)  ecs/, engine/
 * ECS_RESERVED_PORTS_UDP                       J  []                              ecs/, engine/
 * ECS_DYNAMIC_HOST_PORT_RANGE                  S  kernel range, else 49153-65535  engine/
 * ECS_CONTAINER_STOP_TIMEOUT                   D  30s (< 1s: 1s)                  engine/
 * ECS_CONTAINER_START_TIMEOUT                  D  3m (< 45s: 45s)                 engine/
 * ECS_CONTAINER_CREATE_TIMEOUT                 D  4m (< 1m: 1m)                   engine/
 * ECS_IMAGE_PULL_TIMEOUT                       D  2h                              engine/
 * ECS_IMAGE_PULL_INACTIVITY_TIMEOUT            D  1m (< 1m: 1m)                   engine/
 * ECS_MANIFEST_PULL_TIMEOUT                    D  1m (< 30s: 30s)                 engine/
 * ECS_IMAGE_PULL_BEHAVIOR                      S  default (always, once, ...)     engine/
 * ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT        B  false                           engine/
 * ECS_INSTANCE_ATTRIBUTES                      J  {}                              ecs/ RCI
 * ECS_CONTAINER_INSTANCE_TAGS                  J  {}                              ecs/ RCI
 * ECS_AVAILABLE_LOGGING_DRIVERS                J  ["json-file","none"] (3)        ecs/ attrs
 * ECS_DISABLE_PRIVILEGED                       B  false                           attrs, engine/
 * ECS_SELINUX_CAPABLE, ECS_APPARMOR_CAPABLE    B  false                           attrs only
 * ECS_ENABLE_TASK_IAM_ROLE[_NETWORK_HOST]      B  false                           attrs, http/
 * ECS_CREDENTIALS_BOUND_TO_TASK (ours)         B  true                            http/
 * ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE    B  false                           attrs only
 * ECS_DISABLE_DOCKER_HEALTH_CHECK              B  false                           attrs, engine/
 * ECS_VOLUME_PLUGIN_CAPABILITIES               J  []                              attrs only
 * ECS_DETAILED_OS_FAMILY                       S  <ID>_<VERSION_ID>, else LINUX   attrs
 * ECS_EBSTA_SUPPORTED                          B  true                            parsed only
 * ECS_ENABLE_TASK_ENI                          B  false (false when external)     net/
 * ECS_ENABLE_HIGH_DENSITY_ENI                  B  true                            parsed only
 * ECS_AWSVPC_BLOCK_IMDS                        B  true (ours; official false)     net/
 * ECS_PAUSE_IMAGE_TARBALL (ours)               S  next to the binary, else libdir engine/
 * ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES           J  [] (CIDR strings)               net/
 * ECS_SKIP_LOCALHOST_TRAFFIC_FILTER            B  false (ecs-init's, now ours)    net/
 * ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS       B  false (ecs-init's, now ours)    net/
 * ECS_ENABLE_TASK_CPU_MEM_LIMIT                B  true (explicitness kept)        cgroup/
 * ECS_CGROUP_PATH                              P  /sys/fs/cgroup                  cgroup/
 * ECS_CGROUP_CPU_PERIOD                        D  100ms (not 8-100ms: 100ms)      cgroup/
 * ECS_TASK_PIDS_LIMIT                          I  unset (1..4194304)              cgroup/
 * ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION        D  3h (< 1s: 3h)                   engine/
 * ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER D  0                               engine/
 * ECS_DISABLE_IMAGE_CLEANUP                    B  false                           engine/
 * ECS_IMAGE_CLEANUP_INTERVAL                   D  30m (< 10m: 30m)                engine/
 * ECS_IMAGE_MINIMUM_CLEANUP_AGE                D  1h                              engine/
 * ECS_NUM_IMAGES_DELETE_PER_CYCLE              I  5 (0: 5)                        engine/
 * ECS_DISABLE_METRICS                          B  false                           engine/, ecs/
 * ECS_POLL_METRICS                             B  false                           engine/ (4)
 * ECS_POLLING_METRICS_WAIT_DURATION            D  10s (clamped to 5s..20s)        engine/
 * ECS_ENABLE_PROMETHEUS_METRICS                B  false (true: reserves 51680)    ports only
 * ECS_ENABLE_CONTAINER_METADATA                B  false                           engine/
 * ECS_TASK_METADATA_RPS_LIMIT                  S  40,60 (a 0 rate: 40,60)         http/
 * ECS_DISABLE_TASK_METADATA_AZ                 B  false                           http/
 * ECS_EXCLUDE_IPV6_PORTBINDING                 B  true                            engine/
 * ECS_AGENT_HEALTHCHECK_HOST                   S  localhost                       main.c
 * ECS_UPDATES_ENABLED                          B  false                           parsed only (5)
 * ECS_ENABLE_SPOT_INSTANCE_DRAINING            B  false                           ecs/
 * ECS_WARM_POOLS_CHECK                         B  false                           ecs/
 * ECS_ENGINE_AUTH_TYPE                         S  unset (docker, dockercfg)       docker/
 * ECS_ENGINE_AUTH_DATA                         J  unset; raw JSON object, secret  docker/
 * ECS_PAUSE_LABELS                             J  {}                              engine/
 *
 * (1) Required when ECS_EXTERNAL=true: there is no instance metadata to ask.
 * (2) One group: all three from the environment if it has AWS_ACCESS_KEY_ID, else all from
 *     the file, so a key id and a secret from different places are never paired.
 * (3) "[]" means the default list, as in the official agent (its merge treats an empty list
 *     as unset). Durations: "0" means the default for the same reason.
 * (4) We always read cgroup counters; there is no Docker stats stream to poll. With it the
 *     counters are read every ECS_POLLING_METRICS_WAIT_DURATION instead of every second.
 * (5) There is no self-update mechanism; nothing acts on it.
 *
 * (*) differs from the containerised official agent, whose paths are inside its container:
 * ECS_DATADIR there is /data/ (the host's /var/lib/ecs/data, mounted by ecs-init), so ours is
 * the host path; ECS_CHECKPOINT there defaults to true only when ECS_DATADIR is set (ecs-init
 * always sets it), and since we always have a data directory it defaults to true; the audit
 * log is /log/audit.log there, i.e. /var/log/ecs/audit.log on the host. ECS_HOST_DATA_DIR
 * (/var/lib/ecs there) only matters when our agent itself runs in a container: set, the
 * host path of a metadata file is that directory joined with ECS_DATADIR (as there); unset,
 * ECS_DATADIR is the host path.
 *
 * Other official names (GPU, Inferentia, gMSA, ECS_LOG_* rotation, ECS_AGENT_CONFIG_FILE_PATH
 * JSON config, untracked image cleanup, ...) are recognised and ignored with a warning. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ECS_CONFIG_DEFAULT_PATH "/etc/ecs/ecs.config"
/* ecs-init reads this one first ("instance defaults"); /etc/ecs/ecs.config overrides it. */
#define ECS_CONFIG_INSTANCE_DEFAULT_PATH "/var/lib/ecs/ecs.config"

enum ecs_image_pull_behavior {
        ECS_IMAGE_PULL_BEHAVIOR_DEFAULT,
        ECS_IMAGE_PULL_BEHAVIOR_ALWAYS,
        ECS_IMAGE_PULL_BEHAVIOR_ONCE,
        ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED,
        _ECS_IMAGE_PULL_BEHAVIOR_MAX,
};

enum ecs_engine_auth_type {
        ECS_ENGINE_AUTH_TYPE_NONE,
        ECS_ENGINE_AUTH_TYPE_DOCKER,
        ECS_ENGINE_AUTH_TYPE_DOCKERCFG,
        _ECS_ENGINE_AUTH_TYPE_MAX,
};

const char *ecs_image_pull_behavior_to_string(enum ecs_image_pull_behavior b);
int ecs_image_pull_behavior_from_string(const char *s);
const char *ecs_engine_auth_type_to_string(enum ecs_engine_auth_type t);
int ecs_engine_auth_type_from_string(const char *s);

/* One KEY=VALUE pair: a line of ecs.config, or one member of a JSON {string:string} map. */
struct ecs_config_kv {
        char *key;
        char *value;
};

struct ecs_config {
        /* Where we register and whom we talk to. */
        char *cluster;
        char *aws_region;            /* NULL: not configured, the caller asks IMDS (EC2 only) */
        char *backend_host;          /* NULL: regional endpoint; else always with http(s):// */
        char *docker_host;           /* unix://... */
        char *docker_socket_path;    /* derived from docker_host */
        char *ec2_metadata_endpoint; /* AWS_EC2_METADATA_SERVICE_ENDPOINT; NULL: default */
        /* AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_SECRETS_MANAGER, as the AWS SDKs read them:
         * where Secrets Manager is (NULL: its regional endpoint). */
        char *aws_endpoint_url;
        char *aws_endpoint_url_secrets_manager;
        /* HTTP_PROXY / HTTPS_PROXY / NO_PROXY (or their lower-case forms): the proxy for
         * http:// and ws:// URLs, the one for https:// and wss:// URLs, and what goes direct.
         * The Docker socket, IMDS and 169.254.170.2 never use a proxy. */
        char *http_proxy;
        char *https_proxy;
        char *no_proxy;
        /* The CAs trusted for TLS instead of the system store: AWS_CA_BUNDLE, else
         * SSL_CERT_FILE, else CURL_CA_BUNDLE (a PEM file); SSL_CERT_DIR adds a hashed
         * directory. NULL: the system store. */
        char *aws_ca_bundle;
        char *ssl_cert_file;
        char *ssl_cert_dir;
        char *curl_ca_bundle;
        const char *ca_file; /* derived: the first of the three above that is set */
        bool external;

        /* Static instance credentials for the credential chain (NULL when absent). Taken as a
         * group from the environment if it has AWS_ACCESS_KEY_ID, else from the file. */
        char *aws_access_key_id;
        char *aws_secret_access_key;
        char *aws_session_token;
        char *alternate_credential_profile;

        /* State and logs. */
        char *data_dir;
        bool checkpoint;
        char *host_data_dir;
        int log_level;  /* enum log_level, LOG_LEVEL_NONE for "none" */
        char *log_file; /* NULL: stderr / journald */
        char *audit_log_file;
        bool audit_log_disabled;

        /* Registered resources and host ports. */
        uint32_t reserved_memory_mib;
        uint16_t *reserved_ports; /* TCP, de-duplicated, 51680 added for Prometheus */
        size_t n_reserved_ports;
        uint16_t *reserved_ports_udp;
        size_t n_reserved_ports_udp;
        uint16_t dynamic_host_port_first; /* inclusive */
        uint16_t dynamic_host_port_last;  /* inclusive */

        /* Docker operation timeouts and image pulls. */
        uint64_t container_stop_timeout_usec;
        uint64_t container_start_timeout_usec;
        uint64_t container_create_timeout_usec;
        uint64_t image_pull_timeout_usec;
        uint64_t image_pull_inactivity_timeout_usec;
        uint64_t manifest_pull_timeout_usec;
        enum ecs_image_pull_behavior image_pull_behavior;
        bool pull_dependent_containers_upfront;

        /* What we advertise at registration (§1.5). */
        struct ecs_config_kv *instance_attributes;
        size_t n_instance_attributes;
        struct ecs_config_kv *container_instance_tags;
        size_t n_container_instance_tags;
        char **available_logging_drivers; /* NULL-terminated, never NULL */
        bool privileged_disabled;
        bool selinux_capable;
        bool apparmor_capable;
        bool task_iam_role;
        bool task_iam_role_network_host;
        bool credentials_bound_to_task; /* ECS_CREDENTIALS_BOUND_TO_TASK (ours), default true */
        bool awslogs_executionrole_override;
        bool docker_health_check_disabled;
        char **volume_plugin_capabilities; /* NULL-terminated, never NULL */
        char *detailed_os_family;
        bool ebsta_supported;

        /* Networking. */
        bool task_eni;
        bool high_density_eni;
        bool awsvpc_block_imds;
        bool bridge_block_imds;                /* ECS_BRIDGE_BLOCK_IMDS (ours), default true */
        char **awsvpc_additional_local_routes; /* CIDRs, NULL-terminated, never NULL */
        bool skip_localhost_traffic_filter;
        bool allow_offhost_introspection_access;

        /* Task cgroups. */
        bool task_cpu_mem_limit;
        bool task_cpu_mem_limit_explicit; /* set in file or environment (not the default) */
        char *cgroup_path;
        uint64_t cgroup_cpu_period_usec;
        uint32_t task_pids_limit; /* 0: unset */

        /* Housekeeping. */
        uint64_t task_cleanup_wait_usec;
        uint64_t task_cleanup_wait_jitter_usec;
        bool image_cleanup_disabled;
        uint64_t image_cleanup_interval_usec;
        uint64_t image_minimum_cleanup_age_usec;
        uint32_t num_images_delete_per_cycle;
        uint64_t image_cleanup_test_interval_usec; /* ours, tests only; 0: unset */
        bool untracked_image_cleanup;
        uint64_t nonecs_image_minimum_cleanup_age_usec;
        uint32_t nonecs_num_containers_delete_per_cycle;
        char *exclude_untracked_image; /* comma list of name:tag; NULL: none */

        /* Metrics and endpoints. */
        bool metrics_disabled;
        bool poll_metrics;
        uint64_t polling_metrics_wait_usec;
        bool prometheus_metrics;
        bool container_metadata;
        uint32_t task_metadata_rps_steady;
        uint32_t task_metadata_rps_burst;
        bool task_metadata_az_disabled;
        bool exclude_ipv6_portbinding;
        char *healthcheck_host;
        char *pause_image_tarball; /* ECS_PAUSE_IMAGE_TARBALL (ours); "" = default places */

        /* Misc. */
        bool updates_enabled;
        bool spot_instance_draining;
        bool warm_pools_check;
        enum ecs_engine_auth_type engine_auth_type;
        char *engine_auth_data; /* raw JSON text (validated object); secret */
        struct ecs_config_kv *pause_labels;
        size_t n_pause_labels;
};

/* The one place a config failure's reason travels: "Invalid value for KEY: "VALUE": why
 * (set in SOURCE)". Secret values are shown as <redacted>. */
struct ecs_config_error {
        const char *key; /* variable name as found (static), NULL if the file was unreadable */
        char message[640];
};

/* Loads the config. path NULL: ecs-init's two default files, each optional (a missing file
 * is not an error, as with ecs-init); otherwise exactly that file, which must be readable.
 * envp: "KEY=VALUE" strings, NULL for the process environment. On failure returns a negative
 * errno (-EINVAL for a bad value), fills *err and leaves *ret untouched. */
int ecs_config_load(const char *path, char **envp, struct ecs_config *ret,
                    struct ecs_config_error *err);
void ecs_config_done(struct ecs_config *c);

/* Prints the effective configuration as KEY=VALUE lines (re-readable as an ecs.config);
 * secrets (ECS_ENGINE_AUTH_DATA, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) as <redacted>. */
void ecs_config_dump(const struct ecs_config *c, FILE *f);

/* Lower level, for tests and the fuzzer. */

/* Splits ecs.config text with ecs-init's rules, appending pairs to *pairs / *n_pairs
 * (later pairs win). -EBADMSG when the text contains a NUL byte. */
int ecs_config_parse_file_data(const char *data, size_t len, struct ecs_config_kv **pairs,
                               size_t *n_pairs);
void ecs_config_kv_free_many(struct ecs_config_kv *kv, size_t n);

struct ecs_config_input {
        const struct ecs_config_kv *file_pairs; /* may be NULL when n_file_pairs is 0 */
        size_t n_file_pairs;
        const char *file_label;      /* names the file in messages; NULL: "config file" */
        char **envp;                 /* NULL: no environment at all */
        const char *port_range_path; /* NULL: /proc/sys/net/ipv4/ip_local_port_range */
        const char *os_release_path; /* NULL: /etc/os-release */
};
int ecs_config_build(const struct ecs_config_input *in, struct ecs_config *ret,
                     struct ecs_config_error *err);

/* Value parsers with the official agent's syntax. */
int ecs_parse_go_bool(const char *s, bool *ret);              /* strconv.ParseBool forms */
int ecs_parse_go_duration(const char *s, uint64_t *ret_usec); /* time.ParseDuration, >= 0 */
/* "<ID>_<VERSION_ID>" from an os-release file, as ecs-init derives ECS_DETAILED_OS_FAMILY. */
int ecs_config_read_os_family(const char *os_release_path, char **ret);
