/* The attributes a container instance registers with (§1.5): capabilities, platform and
 * custom attributes, in the official order. */
#include <stdio.h>
#include <string.h>

#include "ecs/ecs_requests.h"
#include "ecs/jsonutil.h"

#define CAP_LEGACY "com.amazonaws.ecs.capability."
#define CAP        "ecs.capability."

const char *const ecs_known_capabilities[] = {
    /* The official agent's unconditional list (§1.5). */
    CAP "private-registry-authentication.secretsmanager",
    CAP "secrets.ssm.environment-variables",
    CAP "secrets.ssm.bootstrap.log-driver",
    CAP "ecr-endpoint",
    CAP "secrets.asm.environment-variables",
    CAP "secrets.asm.bootstrap.log-driver",
    CAP "container-ordering",
    CAP "full-sync",
    CAP "env-files.s3",
    CAP "network.container-port-range",
    CAP "container-restart-policy",
    CAP "docker-plugin.local",
    CAP "aws-appmesh",
    CAP "task-eia",
    CAP "firelens.fluentd",
    CAP "firelens.fluentbit",
    CAP "firelens.non-root-user",
    CAP "logging-driver.awsfirelens.log-driver-buffer-limit",
    CAP "efs",
    CAP "storage.s3-files",
    CAP "firelens.options.config.file",
    CAP "firelens.options.config.s3",
    CAP "ipv6-only",
    CAP_LEGACY "logging-driver.awsfirelens",
    /* Name-only conditional ones whose condition is a feature of ours. */
    CAP "task-eni",
    CAP "task-eni.ipv6",
    CAP "task-eni-block-instance-metadata",
    CAP "task-eni-trunking",
    CAP "pid-ipc-namespace-sharing",
    CAP "execute-command",
    CAP "fault-injection",
    CAP "imds-iam-roles",
    NULL,
};

/* Removed from the list on external instances, as the official agent does. */
static const char *const external_unsupported[] = {
    CAP "task-eni",          CAP "task-eni.ipv6", CAP "task-eni-block-instance-metadata",
    CAP "task-eni-trunking", CAP "aws-appmesh",   CAP "task-eia",
    CAP "fault-injection",
};

/* Minimum Docker API minor version (1.x) of each logging driver (§1.5). */
static const struct {
        const char *name;
        int min_api;
} logging_driver_api[] = {
    {"json-file", 18}, {"syslog", 18}, {"journald", 19},   {"gelf", 20},      {"fluentd", 20},
    {"awslogs", 21},   {"splunk", 22}, {"logentries", 25}, {"sumologic", 29}, {"none", 19},
};

/* The API versions the official agent knows: 1.17 ... 1.44. */
#define DOCKER_API_KNOWN_MIN 17
#define DOCKER_API_KNOWN_MAX 44

void ecs_attribute_list_done(struct ecs_attribute_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].name);
                free(l->items[i].value);
        }
        free(l->items);
        *l = (struct ecs_attribute_list){};
}

const struct ecs_attribute *ecs_attribute_list_find(const struct ecs_attribute_list *l,
                                                    const char *name)
{
        for (size_t i = 0; l && i < l->n; i++)
                if (streq(l->items[i].name, name))
                        return &l->items[i];
        return NULL;
}

/* Appends name[=value] unless the name is already there. */
static int attr_add(struct ecs_attribute_list *l, const char *name, const char *value)
{
        struct ecs_attribute *items;

        if (ecs_attribute_list_find(l, name))
                return 0;
        if (l->n >= ECS_MAX_ATTRIBUTES)
                return -E2BIG;
        items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        l->items = items;
        items[l->n] = (struct ecs_attribute){.name = strdup(name)};
        if (!items[l->n].name)
                return -ENOMEM;
        if (value) {
                items[l->n].value = strdup(value);
                if (!items[l->n].value) {
                        free(items[l->n].name);
                        return -ENOMEM;
                }
        }
        l->n++;
        return 0;
}

static int attr_addf(struct ecs_attribute_list *l, const char *prefix, const char *suffix)
{
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, "%s%s", prefix, suffix) < 0)
                return -ENOMEM;
        return attr_add(l, name, NULL);
}

/* "1.45" -> 45. Only API major 1 exists. */
static int parse_api_version(const char *s, int *ret)
{
        unsigned long minor;
        char *end;

        if (!s || strncmp(s, "1.", 2) != 0 || s[2] < '0' || s[2] > '9')
                return -EINVAL;
        errno = 0;
        minor = strtoul(s + 2, &end, 10);
        if (errno || *end || minor > 1000)
                return -EINVAL;
        *ret = (int)minor;
        return 0;
}

static bool strv_contains(const char *const *l, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

static bool is_known_capability(const char *s)
{
        for (const char *const *k = ecs_known_capabilities; *k; k++)
                if (streq(*k, s))
                        return true;
        return false;
}

/* The API versions the official agent considers supported: known versions up to the
 * daemon's maximum, from its minimum -- or from 1.17 when the minimum is >= 1.24, since
 * Docker 25 deprecated 1.17-1.23 as request versions while keeping what they offer. */
static void api_range(int daemon_min, int daemon_max, int *ret_lo, int *ret_hi)
{
        *ret_lo = daemon_min >= 24 ? DOCKER_API_KNOWN_MIN : MAX(daemon_min, DOCKER_API_KNOWN_MIN);
        *ret_hi = MIN(daemon_max, DOCKER_API_KNOWN_MAX);
}

static int add_docker_capabilities(struct ecs_attribute_list *l, const struct attribute_inputs *in,
                                   int lo, int hi)
{
#define API_OK(v) (lo <= (v) && (v) <= hi)
        char buf[64];
        int r = 0;

        if (in->privileged)
                r = attr_add(l, CAP_LEGACY "privileged-container", NULL);
        /* The official agent stops at 1.32 and skips 1.26, 1.27, 1.31 (attribute count
         * limit); ECS only matches on the old ones. */
        for (int v = lo; v <= hi && v < 33 && r >= 0; v++) {
                if (v == 26 || v == 27 || v == 31)
                        continue;
                snprintf(buf, sizeof(buf), CAP_LEGACY "docker-remote-api.1.%d", v);
                r = attr_add(l, buf, NULL);
        }
        for (char *const *d = in->logging_drivers; d && *d && r >= 0; d++)
                for (size_t i = 0; i < ELEMENTSOF(logging_driver_api) && r >= 0; i++)
                        if (streq(logging_driver_api[i].name, *d) &&
                            API_OK(logging_driver_api[i].min_api))
                                r = attr_addf(l, CAP_LEGACY "logging-driver.", *d);
        if (r >= 0 && in->selinux)
                r = attr_add(l, CAP_LEGACY "selinux", NULL);
        if (r >= 0 && in->apparmor)
                r = attr_add(l, CAP_LEGACY "apparmor", NULL);
        if (r >= 0 && in->task_iam_role && API_OK(19))
                r = attr_add(l, CAP_LEGACY "task-iam-role", NULL);
        if (r >= 0 && in->task_iam_role_network_host && API_OK(19))
                r = attr_add(l, CAP_LEGACY "task-iam-role-network-host", NULL);
        if (r >= 0 && in->task_cpu_mem_limit && API_OK(22)) {
                r = attr_add(l, CAP "task-cpu-mem-limit", NULL);
                if (r >= 0)
                        r = attr_add(l, CAP "increased-task-cpu-limit", NULL);
        }
        if (r >= 0 && in->ecr_auth && API_OK(19)) {
                r = attr_add(l, CAP_LEGACY "ecr-auth", NULL);
                if (r >= 0)
                        r = attr_add(l, CAP "execution-role-ecr-pull", NULL);
        }
        if (r >= 0 && in->container_health_check && API_OK(24))
                r = attr_add(l, CAP "container-health-check", NULL);
        return r;
#undef API_OK
}

static int add_capabilities(struct ecs_attribute_list *l, const struct attribute_inputs *in)
{
        int lo = 1, hi = 0, r = 0; /* empty range: no API-gated capability */

        if (in->docker_api_min || in->docker_api_max) {
                int dmin, dmax;
                if (parse_api_version(in->docker_api_min, &dmin) < 0 ||
                    parse_api_version(in->docker_api_max, &dmax) < 0 || dmin > dmax)
                        return -EINVAL;
                api_range(dmin, dmax, &lo, &hi);
        }
        for (char *const *c = in->capabilities; c && *c; c++) {
                if (!is_known_capability(*c))
                        return -EINVAL;
                if (in->external &&
                    strv_contains(external_unsupported, ELEMENTSOF(external_unsupported), *c))
                        continue;
                r = attr_add(l, *c, NULL);
                if (r < 0)
                        return r;
        }
        r = add_docker_capabilities(l, in, lo, hi);
        if (r >= 0 && in->execution_role_awslogs)
                r = attr_add(l, CAP "execution-role-awslogs", NULL);
        for (char *const *p = in->docker_plugins; p && *p && r >= 0; p++) {
                _cleanup_free_ char *name = strdup(*p);
                if (!name)
                        return -ENOMEM;
                for (char *s = name; *s; s++)
                        if (*s == ':') /* image tag separator, as the official agent */
                                *s = '.';
                r = attr_addf(l, CAP "docker-plugin.", name);
        }
        for (char *const *v = in->volume_plugin_capabilities; v && *v && r >= 0; v++)
                r = attr_addf(l, CAP, *v);
        if (r >= 0 && in->external)
                r = attr_add(l, CAP "external", NULL);
        return r;
}

static const char *default_cpu_architecture(void)
{
#if defined(__x86_64__)
        return "x86_64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__i386__)
        return "i386";
#else
        return "unknown";
#endif
}

int ecs_build_attributes(const struct attribute_inputs *in, struct ecs_attribute_list *ret)
{
        struct ecs_attribute_list l = {};
        int r = 0;

        if (!in->reregister)
                for (size_t i = 0; i < in->n_custom && r >= 0; i++) {
                        if (isempty(in->custom[i].key)) {
                                r = -EINVAL;
                                break;
                        }
                        r = attr_add(&l, in->custom[i].key, strempty(in->custom[i].value));
                }
        if (r >= 0)
                r = add_capabilities(&l, in);
        if (r >= 0 && !isempty(in->vpc_id))
                r = attr_add(&l, "ecs.vpc-id", in->vpc_id);
        if (r >= 0 && !isempty(in->subnet_id))
                r = attr_add(&l, "ecs.subnet-id", in->subnet_id);
        if (r >= 0)
                r = attr_add(&l, "ecs.os-type", "linux");
        if (r >= 0)
                r = attr_add(&l, "ecs.os-family", "LINUX");
        if (r >= 0)
                r = attr_add(&l, "ecs.os-type-detailed",
                             isempty(in->os_type_detailed) ? "LINUX" : in->os_type_detailed);
        if (r >= 0 && in->external)
                r = attr_add(&l, "ecs.cpu-architecture",
                             isempty(in->cpu_architecture) ? default_cpu_architecture()
                                                           : in->cpu_architecture);
        if (r < 0) {
                ecs_attribute_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}
