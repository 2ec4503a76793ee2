/* Bring-up of the container instance: Docker, identity, registration, then the engine,
 * the reporter and the ACS session. */
#include <limits.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "ecs/acs.h"
#include "ecs/awsjson.h"
#include "ecs/backoff.h"
#include "ecs/cgroup.h"
#include "ecs/config.h"
#include "ecs/credentials.h"
#include "ecs/credstore.h"
#include "ecs/docker.h"
#include "ecs/ecs_requests.h"
#include "ecs/engine.h"
#include "ecs/net.h"
#include "ecs/imds.h"

#include "ecs/instance.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/eniwatch.h"
#include "ecs/reporter.h"
#include "ecs/tcs.h"
#include "ecs/state.h"
#include "ecs/uuid.h"

#define TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."
/* §1.4: the registration loop runs for up to an hour, 3 s -> 192 s. */
#define REGISTER_DEADLINE_USEC (1 * USEC_PER_HOUR)
/* §1.4: the identity document is retried for 30 s, 100 ms -> 5 s. */
#define IDENTITY_DEADLINE_USEC (30 * USEC_PER_SEC)

enum phase {
        PHASE_DOCKER,
        PHASE_DOCKER_INFO,
        PHASE_IDENTITY,
        PHASE_REGISTER,
        PHASE_RUNNING,
};

struct ecs_instance {
        struct ecs_instance_params p;
        const struct ecs_config *cfg;
        enum phase phase;
        struct backoff backoff;
        sd_event_source *retry;
        uint64_t phase_started;

        struct docker_client *docker;
        struct docker_call *docker_call;
        char *docker_version, *docker_api_min, *docker_api_max;
        struct cgroup_manager *cgroups; /* NULL when task cgroups are off or unusable */

        struct imds_client *imds;
        struct imds_request *imds_req;
        char *region;
        char *identity_document, *identity_signature;
        bool identity_signature_phase;
        char *private_ipv4, *public_ipv4; /* EC2 only, for the container metadata file */
        bool public_ipv4_asked;

        struct state_store *state;
        struct aws_credential_provider *creds;
        struct awsjson_client *ecs;
        struct awsjson_call *call;
        struct ecs_attribute_list attributes;
        char client_token[37];
        uint32_t cpu_units; /* registered CPU */
        int64_t memory_mib; /* registered MEMORY */
        char *instance_arn;
        char *availability_zone;
        bool created_default_cluster;

        struct credstore *credstore;
        struct engine *engine;
        struct reporter *reporter;
        struct acs_session *acs;
        struct tcs_session *tcs;
        bool endpoint_link;  /* we put 169.254.170.2 on a link */
        char *pause_tarball; /* awsvpc on: the pause image to load; NULL = awsvpc off */
        struct docker_call *pause_load;
        struct eniwatch *eniwatch;
        bool imds_rule; /* we added the IMDS blackhole rule for docker0 */
};

static void phase_next(struct ecs_instance *inst);

static void fail(struct ecs_instance *inst, int code)
{
        ecs_loop_exit(inst->p.loop, code);
}

static void status(struct ecs_instance *inst, bool ready, const char *text)
{
        if (inst->p.on_status)
                inst->p.on_status(inst, ready, text, inst->p.userdata);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *ud)
{
        struct ecs_instance *inst = ud;
        inst->retry = sd_event_source_disable_unref(inst->retry);
        phase_next(inst);
        return 0;
}

static void retry_later(struct ecs_instance *inst)
{
        uint64_t d = backoff_next(&inst->backoff);
        inst->retry = sd_event_source_disable_unref(inst->retry);
        (void)ecs_loop_add_timer(inst->p.loop, d, on_retry, inst, &inst->retry);
}

static void enter_phase(struct ecs_instance *inst, enum phase ph, struct backoff b)
{
        inst->phase = ph;
        inst->backoff = b;
        inst->phase_started = now_usec();
        phase_next(inst);
}

/* ---- Docker ---- */

static void on_docker_version(const struct docker_result *res, const struct docker_version *v,
                              void *ud)
{
        struct ecs_instance *inst = ud;

        inst->docker_call = NULL;
        if (res->error < 0) {
                log_warning("Docker is not answering at %s: %s; retrying", inst->cfg->docker_host,
                            res->message);
                status(inst, false, "waiting for Docker");
                retry_later(inst);
                return;
        }
        free(inst->docker_version);
        free(inst->docker_api_min);
        free(inst->docker_api_max);
        inst->docker_version = strdup(strempty(v->version));
        inst->docker_api_min = strdup(strempty(v->min_api_version));
        inst->docker_api_max = strdup(strempty(v->api_version));
        log_info("Docker %s (API %s) at %s", v->version, v->api_version, inst->cfg->docker_host);
        enter_phase(inst, PHASE_DOCKER_INFO, inst->backoff);
}

/* Task cgroups (§5.1): on unless ECS_ENABLE_TASK_CPU_MEM_LIMIT=false. When they cannot be
 * set up the feature is dropped quietly, unless the setting asked for it explicitly. */
static int setup_cgroups(struct ecs_instance *inst, const char *driver)
{
        const struct ecs_config *cfg = inst->cfg;
        int r;

        if (!cfg->task_cpu_mem_limit)
                return 0;
        r = cgroup_manager_new(cfg->cgroup_path, driver ? driver : "cgroupfs", &inst->cgroups);
        if (r >= 0 && !cgroup_manager_task_limits_available(inst->cgroups))
                r = cgroup_manager_init_error(inst->cgroups) ?: -EOPNOTSUPP;
        if (r < 0) {
                inst->cgroups = cgroup_manager_free(inst->cgroups);
                if (cfg->task_cpu_mem_limit_explicit)
                        return log_error_errno(r,
                                               "Task CPU and memory limits were asked for "
                                               "(ECS_ENABLE_TASK_CPU_MEM_LIMIT=true) but "
                                               "cgroups under %s cannot be used: %m",
                                               cfg->cgroup_path);
                log_warning_errno(r, "Task CPU and memory limits disabled: %m");
                return 0;
        }
        log_info("Task cgroups: cgroup v%d, %s driver", cgroup_manager_version(inst->cgroups),
                 cgroup_driver_to_string(cgroup_manager_driver(inst->cgroups)));
        return 0;
}

static void on_docker_info(const struct docker_result *res, const struct docker_info *info,
                           void *ud)
{
        struct ecs_instance *inst = ud;

        inst->docker_call = NULL;
        if (res->error < 0) {
                log_warning("Docker info failed: %s; retrying", res->message);
                retry_later(inst);
                return;
        }
        if (setup_cgroups(inst, info->cgroup_driver) < 0) {
                fail(inst, ECS_EXIT_TERMINAL);
                return;
        }
        enter_phase(inst, PHASE_IDENTITY,
                    BACKOFF_INIT(100 * USEC_PER_MSEC, 5 * USEC_PER_SEC, 2.0, 0.2));
}

/* ---- identity (EC2 only) ---- */

static void identity_done(struct ecs_instance *inst);

static void on_imds(int error, const char *body, size_t len, void *ud)
{
        struct ecs_instance *inst = ud;

        inst->imds_req = NULL;
        if (error < 0) {
                if (now_usec() - inst->phase_started < IDENTITY_DEADLINE_USEC) {
                        retry_later(inst);
                        return;
                }
                log_warning_errno(error, "No instance identity from IMDS: %m; registering "
                                         "without it");
                identity_done(inst);
                return;
        }
        if (!inst->identity_document)
                inst->identity_document = strndup(body, len);
        else
                inst->identity_signature = strndup(body, len);
        phase_next(inst);
}

/* The public address is optional (404 when the instance has none): one try, no retry. */
static void on_imds_public(int error, const char *body, size_t len, void *ud)
{
        struct ecs_instance *inst = ud;

        inst->imds_req = NULL;
        if (error >= 0 && len > 0 && len < 64 && !memchr(body, '\0', len))
                inst->public_ipv4 = strndup(body, len);
        phase_next(inst);
}

static void identity_done(struct ecs_instance *inst)
{
        if (inst->identity_document) {
                _cleanup_json_ json_object *doc = NULL;
                if (json_parse(inst->identity_document, strlen(inst->identity_document), &doc) >=
                    0) {
                        const char *r = json_get_string(doc, "region", NULL);
                        const char *ip = json_get_string(doc, "privateIp", NULL);
                        if (r && !inst->region)
                                inst->region = strdup(r);
                        if (ip && !inst->private_ipv4)
                                inst->private_ipv4 = strdup(ip);
                }
        }
        if (!inst->region) {
                log_error("No region: set AWS_DEFAULT_REGION (the instance identity document "
                          "was not available)");
                fail(inst, ECS_EXIT_TERMINAL);
                return;
        }
        enter_phase(inst, PHASE_REGISTER,
                    BACKOFF_INIT(3 * USEC_PER_SEC, 192 * USEC_PER_SEC, 2.0, 0.2));
}

static void phase_identity(struct ecs_instance *inst)
{
        int r;

        if (inst->cfg->external) {
                identity_done(inst);
                return;
        }
        if (!inst->imds) {
                r = imds_client_new(inst->p.loop, inst->cfg->ec2_metadata_endpoint, &inst->imds);
                if (r < 0) {
                        fail(inst, ECS_EXIT_ERROR);
                        return;
                }
        }
        if (!inst->identity_document)
                r = imds_get(inst->imds, "/latest/dynamic/instance-identity/document", on_imds,
                             inst, &inst->imds_req);
        else if (!inst->identity_signature)
                r = imds_get(inst->imds, "/latest/dynamic/instance-identity/signature", on_imds,
                             inst, &inst->imds_req);
        else if (!inst->public_ipv4_asked) {
                inst->public_ipv4_asked = true;
                r = imds_get(inst->imds, "/latest/meta-data/public-ipv4", on_imds_public, inst,
                             &inst->imds_req);
                if (r < 0) {
                        identity_done(inst);
                        return;
                }
        } else {
                identity_done(inst);
                return;
        }
        if (r < 0)
                retry_later(inst);
}

/* ---- registration ---- */

static int read_mem_total_mib(uint64_t *ret)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        unsigned long long kb;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
                        *ret = kb / 1024;
                        return 0;
                }
        return -ENODATA;
}

static const char *cpu_architecture(void)
{
        static struct utsname u;
        if (uname(&u) < 0)
                return NULL;
        if (streq(u.machine, "aarch64"))
                return "arm64";
        return u.machine;
}

/* The capabilities of the official agent's list that this build really implements; ECS
 * places tasks by them, so one listed here must work (§1.5). */
static char *const implemented_capabilities[] = {
    "ecs.capability.container-ordering",       /* dependsOn: engine/depgraph.c */
    "ecs.capability.container-restart-policy", /* restartPolicy: engine.c */
    /* repositoryCredentials: engine/pull.c, aws/asm.c */
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.capability.ecr-endpoint", /* ecrAuthData.endpointOverride: aws/pullauth.c */
    NULL,
};

/* awsvpc needs the pause image (§6.3): ECS_PAUSE_IMAGE_TARBALL, else the one built next to
 * the binary, else the installed one. */
static char *find_pause_tarball(const struct ecs_config *cfg)
{
        char exe[PATH_MAX], *path = NULL;
        ssize_t n;

        if (!isempty(cfg->pause_image_tarball))
                return strdup(cfg->pause_image_tarball);
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = 0;
                char *slash = strrchr(exe, '/');
                if (slash)
                        *slash = 0;
                if (asprintf(&path, "%s/amazon-ecs-pause.tar", exe) < 0)
                        return NULL;
                if (access(path, R_OK) == 0)
                        return path;
                free(path);
        }
        return strdup("/usr/lib/ecs-agent/amazon-ecs-pause.tar");
}

static void check_awsvpc(struct ecs_instance *inst)
{
        const struct ecs_config *cfg = inst->cfg;

        inst->pause_tarball = mfree(inst->pause_tarball);
        if (!cfg->task_eni || cfg->external)
                return;
        _cleanup_free_ char *path = find_pause_tarball(cfg);
        if (!path || access(path, R_OK) < 0) {
                log_warning("awsvpc networking is off: the pause image %s is not readable",
                            strna(path));
                return;
        }
        inst->pause_tarball = TAKE_PTR(path);
}

static int build_attributes(struct ecs_instance *inst, bool reregister)
{
        const struct ecs_config *cfg = inst->cfg;
        struct ecs_kv *custom = calloc(cfg->n_instance_attributes + 1, sizeof(*custom));
        char *caps[ELEMENTSOF(implemented_capabilities) + 2];
        size_t n_caps = 0;

        for (size_t i = 0; implemented_capabilities[i]; i++)
                caps[n_caps++] = implemented_capabilities[i];
        if (inst->pause_tarball) {
                caps[n_caps++] = "ecs.capability.task-eni";
                if (cfg->awsvpc_block_imds)
                        caps[n_caps++] = "ecs.capability.task-eni-block-instance-metadata";
        }
        caps[n_caps] = NULL;

        if (!custom)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_instance_attributes; i++)
                custom[i] = (struct ecs_kv){cfg->instance_attributes[i].key,
                                            cfg->instance_attributes[i].value};
        /* Only what this build implements is advertised: ECS places tasks by these names. */
        struct attribute_inputs in = {
            .reregister = reregister,
            .custom = custom,
            .n_custom = cfg->n_instance_attributes,
            .capabilities = caps,
            .docker_api_min = inst->docker_api_min,
            .docker_api_max = inst->docker_api_max,
            .privileged = !cfg->privileged_disabled,
            .task_cpu_mem_limit = inst->cgroups != NULL,
            .container_health_check = !cfg->docker_health_check_disabled,
            .logging_drivers = cfg->available_logging_drivers,
            .selinux = cfg->selinux_capable,
            .apparmor = cfg->apparmor_capable,
            .task_iam_role = cfg->task_iam_role,
            /* Host-network callers are known by their task cgroup while credentials are
             * bound to their task: without task cgroups they could not be served. */
            .task_iam_role_network_host = cfg->task_iam_role_network_host &&
                                          (inst->cgroups || !cfg->credentials_bound_to_task),
            .external = cfg->external,
            .os_type_detailed = cfg->detailed_os_family,
            .cpu_architecture = cpu_architecture(),
        };
        ecs_attribute_list_done(&inst->attributes);
        int r = ecs_build_attributes(&in, &inst->attributes);
        free(custom);
        return r;
}

static bool registration_retryable(const struct awsjson_result *res)
{
        if (res->error_class == AWSJSON_ERROR_TRANSPORT ||
            res->error_class == AWSJSON_ERROR_THROTTLING ||
            res->error_class == AWSJSON_ERROR_SERVER)
                return true;
        /* Bad or unknown credentials may be fixed while we wait (a rotated credentials file,
         * an instance role attached late): retry, saying clearly what is wrong. */
        return streq_ptr(res->code, "InvalidSignatureException") ||
               streq_ptr(res->code, "UnrecognizedClientException") ||
               streq_ptr(res->code, "ExpiredTokenException") ||
               streq_ptr(res->code, "MissingAuthenticationTokenException") ||
               streq_ptr(res->code, "AccessDeniedException");
}

static void start_services(struct ecs_instance *inst);

static void on_create_cluster(const struct awsjson_result *res, void *ud)
{
        struct ecs_instance *inst = ud;
        inst->call = NULL;
        if (res->error_class != AWSJSON_OK)
                log_warning("CreateCluster failed: %s: %s", strna(res->code), strna(res->message));
        phase_next(inst);
}

static void on_register(const struct awsjson_result *res, void *ud)
{
        struct ecs_instance *inst = ud;
        struct ecs_register_result rr = {0};
        struct ecs_request_error err = {0};
        int r;

        inst->call = NULL;
        if (res->error_class != AWSJSON_OK) {
                bool not_found = streq_ptr(res->code, "ClusterNotFoundException") ||
                                 (res->message && strstr(res->message, "Cluster not found."));
                if (not_found && streq(inst->cfg->cluster, "default") &&
                    !inst->created_default_cluster) {
                        /* §1.2: the implicit default cluster is created on demand. */
                        _cleanup_json_ json_object *body = json_object_new_object();
                        inst->created_default_cluster = true;
                        log_info("Cluster 'default' not found; creating it");
                        if (body && json_add_string(body, "clusterName", "default") >= 0 &&
                            awsjson_call(inst->ecs, TARGET_PREFIX "CreateCluster", body, NULL,
                                         on_create_cluster, inst, &inst->call) >= 0)
                                return;
                }
                if (registration_retryable(res) &&
                    now_usec() - inst->phase_started < REGISTER_DEADLINE_USEC) {
                        log_error("Registration failed: %s: %s; retrying",
                                  strna(res->code
                                            ? res->code
                                            : awsjson_error_class_to_string(res->error_class)),
                                  strna(res->message));
                        status(inst, false, "registration failed; retrying");
                        if (res->error_class == AWSJSON_ERROR_CLIENT)
                                aws_credential_provider_invalidate(inst->creds);
                        retry_later(inst);
                        return;
                }
                log_error("Registration refused: %s: %s", strna(res->code), strna(res->message));
                fail(inst,
                     res->error_class == AWSJSON_ERROR_CLIENT ? ECS_EXIT_TERMINAL : ECS_EXIT_ERROR);
                return;
        }
        r = ecs_register_response_parse(res->response, &inst->attributes, &rr, &err);
        if (r < 0) {
                log_error("Registration response unusable: %s", err.reason);
                fail(inst, r == -EPROTO ? ECS_EXIT_TERMINAL : ECS_EXIT_ERROR);
                ecs_register_result_done(&rr);
                return;
        }
        /* On re-registration the saved ARN stays ours (§1.4). */
        if (!inst->instance_arn)
                inst->instance_arn = TAKE_PTR(rr.container_instance_arn);
        free(inst->availability_zone);
        inst->availability_zone = TAKE_PTR(rr.availability_zone);
        ecs_register_result_done(&rr);
        log_info("Registered as %s in cluster %s", inst->instance_arn, inst->cfg->cluster);
        if (inst->state) {
                if ((r = state_store_set_meta(inst->state, "container-instance-arn",
                                              inst->instance_arn)) < 0 ||
                    (r = state_store_set_meta(inst->state, "cluster-name", inst->cfg->cluster)) < 0)
                        log_error_errno(r, "Failed to save the container instance ARN: %m");
        }
        start_services(inst);
}

static void phase_register(struct ecs_instance *inst)
{
        const struct ecs_config *cfg = inst->cfg;
        _cleanup_json_ json_object *body = NULL;
        struct ecs_kv *tags = NULL;
        uint64_t mem = 0;
        int r;

        r = read_mem_total_mib(&mem);
        if (r < 0) {
                log_error_errno(r, "Cannot read the host memory size: %m");
                fail(inst, ECS_EXIT_ERROR);
                return;
        }
        inst->cpu_units = (uint32_t)get_nprocs() * 1024;
        inst->memory_mib = (int64_t)mem - cfg->reserved_memory_mib;
        check_awsvpc(inst); /* what build_attributes advertises for awsvpc */
        r = build_attributes(inst, inst->instance_arn != NULL);
        if (r < 0) {
                log_error_errno(r, "Cannot build the registration attributes: %m");
                fail(inst, ECS_EXIT_TERMINAL);
                return;
        }
        tags = calloc(cfg->n_container_instance_tags + 1, sizeof(*tags));
        if (!tags) {
                fail(inst, ECS_EXIT_ERROR);
                return;
        }
        for (size_t i = 0; i < cfg->n_container_instance_tags; i++)
                tags[i] = (struct ecs_kv){cfg->container_instance_tags[i].key,
                                          cfg->container_instance_tags[i].value};
        struct ecs_register_params rp = {
            .cluster = cfg->cluster,
            .container_instance_arn = inst->instance_arn,
            .identity_document = strempty(inst->identity_document),
            .identity_signature = strempty(inst->identity_signature),
            .cpu_units = inst->cpu_units,
            .memory_mib = inst->memory_mib,
            .reserved_ports = cfg->reserved_ports,
            .n_reserved_ports = cfg->n_reserved_ports,
            .reserved_ports_udp = cfg->reserved_ports_udp,
            .n_reserved_ports_udp = cfg->n_reserved_ports_udp,
            .attributes = &inst->attributes,
            .tags = tags,
            .n_tags = cfg->n_container_instance_tags,
            .client_token = inst->client_token,
        };
        r = ecs_register_request_build(&rp, &body);
        free(tags);
        if (r < 0) {
                log_error_errno(r, "Cannot build the registration request: %m");
                fail(inst, ECS_EXIT_TERMINAL);
                return;
        }
        status(inst, false, "registering");
        r = awsjson_call(inst->ecs, TARGET_PREFIX "RegisterContainerInstance", body, NULL,
                         on_register, inst, &inst->call);
        if (r < 0)
                retry_later(inst);
}

/* ---- services ---- */

static void on_task_changed(struct engine *e, struct ecs_task *t, void *ud)
{
        struct ecs_instance *inst = ud;

        /* Task-role credentials go as soon as the task is stopped (§4.12). */
        if (t->known_status == TASK_STATUS_STOPPED && t->role_credentials_id)
                credstore_remove(inst->credstore, t->role_credentials_id);
        reporter_task_changed(inst->reporter, t);
        tcs_session_task_changed(inst->tcs, t);
}

static void on_task_removed(struct engine *e, struct ecs_task *t, void *ud)
{
        struct ecs_instance *inst = ud;
        credstore_remove(inst->credstore, t->role_credentials_id);
        credstore_remove(inst->credstore, t->execution_credentials_id);
        reporter_forget(inst->reporter, t->arn);
}

static void on_inactive(struct acs_session *s, void *ud)
{
        struct ecs_instance *inst = ud;
        /* A deregistered instance cannot get work; ecs-init does not restart on 5. */
        log_error("Container instance %s is inactive; exiting", inst->instance_arn);
        fail(inst, ECS_EXIT_TERMINAL);
}

static void on_acs_connected(struct acs_session *s, void *ud)
{
        struct ecs_instance *inst = ud;
        status(inst, true, "connected to ACS");
}

static void on_restored(struct engine *e, size_t n_tasks, void *ud)
{
        struct ecs_instance *inst = ud;
        int r;

        if (inst->pause_tarball && !inst->eniwatch &&
            eniwatch_new(inst->p.loop, inst->ecs, inst->cfg->cluster, &inst->eniwatch) < 0)
                log_oom();
        const struct wsession_peer peer = {
            .loop = inst->p.loop,
            .creds = inst->creds,
            .ecs = inst->ecs,
            .region = inst->region,
            .cluster = inst->cfg->cluster,
            .container_instance_arn = inst->instance_arn,
            .docker_version = inst->docker_version,
        };
        struct acs_session_params ap = {
            .peer = peer,
            .engine = inst->engine,
            .credstore = inst->credstore,
            .reporter = inst->reporter,
            .eniwatch = inst->eniwatch,
            .on_inactive = on_inactive,
            .on_connected = on_acs_connected,
            .userdata = inst,
        };
        r = acs_session_new(&ap, &inst->acs);
        if (r >= 0)
                r = acs_session_start(inst->acs);
        if (r < 0) {
                log_error_errno(r, "Failed to start the ACS session: %m");
                fail(inst, ECS_EXIT_ERROR);
                return;
        }
        struct tcs_session_params tp = {
            .peer = peer,
            .engine = inst->engine,
            .docker = inst->docker,
            .metrics_disabled = inst->cfg->metrics_disabled,
        };
        /* Telemetry is worth a warning, not the agent. */
        r = tcs_session_new(&tp, &inst->tcs);
        if (r >= 0)
                r = tcs_session_start(inst->tcs);
        if (r < 0) {
                log_warning_errno(r, "Failed to start the TCS session: %m");
                inst->tcs = tcs_session_free(inst->tcs);
        }
}

/* 169.254.170.2 on a local link, reachable from containers (no iptables, §6.2), and the
 * instance metadata address out of reach of bridge-mode tasks unless
 * ECS_BRIDGE_BLOCK_IMDS=false. Failures here cost features, not the agent. */
static void setup_endpoints(struct ecs_instance *inst)
{
        int r;

        r = net_host_setup_endpoint_address(NULL, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot put %s on link %s: %m", NET_ENDPOINT_IPV4,
                                  NET_ENDPOINT_LINK);
        else
                inst->endpoint_link = true;
        if (inst->p.on_services) {
                struct ecs_instance_services svc = {
                    .engine = inst->engine,
                    .credstore = inst->credstore,
                    .ecs = inst->ecs,
                    .cluster = inst->cfg->cluster,
                    .container_instance_arn = inst->instance_arn,
                    .region = inst->region,
                    .availability_zone = inst->availability_zone,
                };
                inst->p.on_services(inst, &svc, inst->p.userdata);
        }
        if (inst->cfg->bridge_block_imds) {
                r = net_host_block_imds_from(NULL, "docker0", NULL, NET_IMDS_RULE_PRIORITY);
                if (r < 0)
                        log_warning_errno(r, "Cannot block %s for bridge tasks: %m", NET_IMDS_IPV4);
                else
                        inst->imds_rule = true;
        }
}

static void on_pause_loaded(const struct docker_result *res, const char *loaded, void *ud)
{
        struct ecs_instance *inst = ud;
        inst->pause_load = NULL;
        if (res->error < 0)
                log_error("Loading the pause image %s failed: %s; awsvpc tasks will fail",
                          inst->pause_tarball, res->message);
        else
                log_info("Pause image %s loaded from %s", strna(loaded), inst->pause_tarball);
}

static void load_pause_image(struct ecs_instance *inst)
{
        int r;

        if (!inst->pause_tarball)
                return;
        r = docker_image_load_file(inst->docker, inst->pause_tarball, 0, on_pause_loaded, inst,
                                   &inst->pause_load);
        if (r < 0)
                log_error_errno(r, "Cannot load the pause image %s: %m", inst->pause_tarball);
}

static void start_services(struct ecs_instance *inst)
{
        int r;

        inst->phase = PHASE_RUNNING;
        struct engine_params ep = {
            .loop = inst->p.loop,
            .docker = inst->docker,
            .cgroups = inst->cgroups,
            .store = inst->state,
            .config = inst->cfg,
            .region = inst->region,
            .cluster = inst->cfg->cluster,
            .cpu_units = inst->cpu_units,
            .memory_mib = inst->memory_mib > 0 ? (uint32_t)inst->memory_mib : 0,
            .container_instance_arn = inst->instance_arn,
            .availability_zone = inst->availability_zone,
            .host_private_ipv4 = inst->private_ipv4,
            .host_public_ipv4 = inst->public_ipv4,
            .instance_creds = inst->creds,
            .callbacks = {.task_changed = on_task_changed, .task_removed = on_task_removed},
            .userdata = inst,
        };
        struct reporter_params rp = {
            .loop = inst->p.loop,
            .ecs = inst->ecs,
            .cluster = inst->cfg->cluster,
            .exclude_ipv6_bindings = inst->cfg->exclude_ipv6_portbinding,
        };
        r = credstore_new(&inst->credstore);
        ep.credstore = inst->credstore;
        if (r >= 0)
                r = engine_new(&ep, &inst->engine);
        if (r >= 0) {
                rp.engine = inst->engine;
                r = reporter_new(&rp, &inst->reporter);
        }
        if (r < 0) {
                log_error_errno(r, "Failed to start the task engine: %m");
                fail(inst, ECS_EXIT_ERROR);
                return;
        }
        setup_endpoints(inst);
        load_pause_image(inst);
        r = engine_restore(inst->engine, on_restored, inst);
        if (r < 0) {
                log_error_errno(r, "Failed to restore saved tasks: %m");
                fail(inst, ECS_EXIT_ERROR);
                return;
        }
        status(inst, true, "registered");
}

/* ---- phases ---- */

static int make_ecs_client(struct ecs_instance *inst)
{
        _cleanup_free_ char *endpoint = NULL, *ua = NULL;
        struct utsname u;

        if (inst->ecs)
                return 0;
        if (inst->cfg->backend_host)
                endpoint = strdup(inst->cfg->backend_host);
        else if (asprintf(&endpoint, "https://ecs.%s.amazonaws.com", inst->region) < 0)
                endpoint = NULL;
        if (!endpoint)
                return -ENOMEM;
        (void)uname(&u);
        /* The official agent's User-Agent shape (§1.1), naming this implementation. */
        if (asprintf(&ua, "Amazon ECS Agent - v%s (%s) (linux; %s) (+http://aws.amazon.com/ecs/)",
                     ECS_AGENT_VERSION, ECS_AGENT_GIT_HASH, u.release) < 0)
                return -ENOMEM;
        struct awsjson_client_options o = {
            .endpoint = endpoint,
            .region = inst->region,
            .signing_name = "ecs",
            .user_agent = ua,
        };
        return awsjson_client_new(inst->p.loop, inst->creds, &o, &inst->ecs);
}

static void phase_next(struct ecs_instance *inst)
{
        int r;

        switch (inst->phase) {
        case PHASE_DOCKER:
                r = docker_client_version(inst->docker, 0, on_docker_version, inst,
                                          &inst->docker_call);
                if (r < 0)
                        retry_later(inst);
                break;
        case PHASE_DOCKER_INFO:
                r = docker_client_info(inst->docker, 0, on_docker_info, inst, &inst->docker_call);
                if (r < 0)
                        retry_later(inst);
                break;
        case PHASE_IDENTITY:
                phase_identity(inst);
                break;
        case PHASE_REGISTER:
                r = make_ecs_client(inst);
                if (r < 0) {
                        log_error_errno(r, "Cannot create the ECS client: %m");
                        fail(inst, ECS_EXIT_ERROR);
                        return;
                }
                phase_register(inst);
                break;
        case PHASE_RUNNING:
                break;
        }
}

static int load_saved_state(struct ecs_instance *inst)
{
        _cleanup_free_ char *cluster = NULL;
        int r;

        if (!inst->cfg->checkpoint)
                return 0;
        r = state_store_open(inst->cfg->data_dir, &inst->state);
        if (r < 0)
                return log_error_errno(r, "Cannot open the data directory %s: %m",
                                       inst->cfg->data_dir);
        r = state_store_get_meta(inst->state, "cluster-name", &cluster);
        if (r == -EBADMSG)
                log_error("The saved agent state in %s is corrupt; registering as a new "
                          "container instance",
                          inst->cfg->data_dir);
        if (r >= 0 && !streq(cluster, inst->cfg->cluster)) {
                /* The official agent refuses to move an instance between clusters (§4.14). */
                log_error("Data directory %s belongs to cluster '%s', but ECS_CLUSTER is '%s'; "
                          "clear the data directory to join another cluster",
                          inst->cfg->data_dir, cluster, inst->cfg->cluster);
                return -EEXIST;
        }
        r = state_store_get_meta(inst->state, "container-instance-arn", &inst->instance_arn);
        if (r >= 0)
                log_info("Re-registering as %s", inst->instance_arn);
        return 0;
}

int ecs_instance_new(const struct ecs_instance_params *p, struct ecs_instance **ret)
{
        struct ecs_instance *inst = calloc(1, sizeof(*inst));
        int r;

        if (!inst)
                return -ENOMEM;
        inst->p = *p;
        inst->cfg = p->config;
        if (p->config->aws_region)
                inst->region = strdup(p->config->aws_region);
        r = uuid_v4(inst->client_token);
        if (r >= 0)
                r = docker_client_new(p->loop, p->config->docker_host, &inst->docker);
        if (r >= 0) {
                struct aws_credential_options co = {
                    .profile = p->config->alternate_credential_profile,
                    .external = p->config->external,
                    .imds_endpoint = p->config->ec2_metadata_endpoint,
                    .imds_disabled = p->config->external,
                };
                r = aws_credential_provider_new(p->loop, &co, &inst->creds);
        }
        if (r < 0) {
                ecs_instance_free(inst);
                return r;
        }
        *ret = inst;
        return 0;
}

struct ecs_instance *ecs_instance_free(struct ecs_instance *inst)
{
        if (!inst)
                return NULL;
        acs_session_free(inst->acs);
        eniwatch_free(inst->eniwatch);
        docker_call_cancel(inst->pause_load);
        free(inst->pause_tarball);
        tcs_session_free(inst->tcs);
        reporter_free(inst->reporter);
        engine_free(inst->engine);
        credstore_free(inst->credstore);
        awsjson_call_cancel(inst->call);
        awsjson_client_free(inst->ecs);
        aws_credential_provider_free(inst->creds);
        imds_request_cancel(inst->imds_req);
        imds_client_free(inst->imds);
        docker_call_cancel(inst->docker_call);
        docker_client_free(inst->docker);
        cgroup_manager_free(inst->cgroups);
        state_store_free(inst->state);
        sd_event_source_disable_unref(inst->retry);
        ecs_attribute_list_done(&inst->attributes);
        free(inst->docker_version);
        free(inst->docker_api_min);
        free(inst->docker_api_max);
        free(inst->region);
        free(inst->identity_document);
        free(inst->identity_signature);
        free(inst->private_ipv4);
        free(inst->public_ipv4);
        free(inst->instance_arn);
        free(inst->availability_zone);
        free(inst);
        return NULL;
}

int ecs_instance_start(struct ecs_instance *inst)
{
        int r = load_saved_state(inst);
        if (r < 0) {
                fail(inst, ECS_EXIT_TERMINAL);
                return 0;
        }
        if (inst->cfg->external && !inst->region) {
                log_error("AWS_DEFAULT_REGION is required when ECS_EXTERNAL=true");
                fail(inst, ECS_EXIT_TERMINAL);
                return 0;
        }
        status(inst, false, "waiting for Docker");
        enter_phase(inst, PHASE_DOCKER, BACKOFF_INIT(USEC_PER_SEC, 30 * USEC_PER_SEC, 1.5, 0.2));
        return 0;
}

void ecs_instance_shutdown(struct ecs_instance *inst)
{
        /* State is written as it changes; what goes is the host plumbing, as ecs-init
         * removes its rules when it stops. Running tasks lose the endpoint address until
         * the agent is back. */
        if (inst->imds_rule &&
            net_host_unblock_imds_from(NULL, "docker0", NULL, NET_IMDS_RULE_PRIORITY) >= 0)
                inst->imds_rule = false;
        if (inst->endpoint_link && net_host_remove_endpoint_address(NULL, NULL) >= 0)
                inst->endpoint_link = false;
}
