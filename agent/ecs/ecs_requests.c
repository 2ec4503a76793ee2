/* ECS API bodies and responses for the agent-only calls (§1.4-1.10). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "ecs/ecs_requests.h"
#include "ecs/jsonmap.h"
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

/* ---- RegisterContainerInstance (§1.4) ---- */

/* One totalResources entry: an INTEGER or a STRINGSET of ports. */
struct resource_wire {
        const char *name;
        const char *type;
        int64_t integer; /* the SDK serialises numeric members only when non-zero */
        const uint16_t *ports;
        size_t n_ports;
        bool is_set;
};

static int encode_port_set(const void *value, json_object **ret)
{
        const struct resource_wire *w = value;
        _cleanup_json_ json_object *a = NULL;
        char buf[8];

        if (!w->is_set)
                return 0;
        a = json_object_new_array_ext((int)w->n_ports);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_ports; i++) {
                snprintf(buf, sizeof(buf), "%u", (unsigned)w->ports[i]);
                int r = json_append(a, json_object_new_string(buf));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static const struct jsonmap_field resource_fields[] = {
    JSONMAP_STRING("name", struct resource_wire, name),
    JSONMAP_STRING("type", struct resource_wire, type),
    JSONMAP_I64("integerValue", struct resource_wire, integer, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_CUSTOM_SELF("stringSetValue", .encode = encode_port_set),
    JSONMAP_END,
};
static const struct jsonmap_type resource_type =
    JSONMAP_TYPE(struct resource_wire, resource_fields);

static const struct jsonmap_field attribute_fields[] = {
    JSONMAP_STRING("name", struct ecs_attribute, name),
    JSONMAP_STRING("value", struct ecs_attribute, value), /* left out when name-only */
    JSONMAP_END,
};
static const struct jsonmap_type attribute_type =
    JSONMAP_TYPE(struct ecs_attribute, attribute_fields);

static const struct jsonmap_field tag_fields[] = {
    JSONMAP_STRING("key", struct ecs_kv, key),
    JSONMAP_STRING("value", struct ecs_kv, value, .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_END,
};
static const struct jsonmap_type tag_type = JSONMAP_TYPE(struct ecs_kv, tag_fields);

struct register_wire {
        const char *cluster;
        const char *container_instance_arn;
        const char *identity_document;
        const char *identity_signature;
        const char *client_token;
        const struct ecs_attribute *attributes;
        size_t n_attributes;
        const struct resource_wire *resources;
        size_t n_resources;
        const struct ecs_kv *tags;
        size_t n_tags;
};

#define W struct register_wire
static const struct jsonmap_field register_fields[] = {
    JSONMAP_STRING("cluster", W, cluster),
    JSONMAP_STRING("containerInstanceArn", W, container_instance_arn, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_STRING("instanceIdentityDocument", W, identity_document,
                   .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("instanceIdentityDocumentSignature", W, identity_signature,
                   .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("clientToken", W, client_token),
    JSONMAP_ARRAY("attributes", W, attributes, n_attributes, &attribute_type),
    JSONMAP_ARRAY("totalResources", W, resources, n_resources, &resource_type),
    JSONMAP_ARRAY("tags", W, tags, n_tags, &tag_type, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_END,
};
#undef W
static const struct jsonmap_type register_type =
    JSONMAP_TYPE(struct register_wire, register_fields);

int ecs_register_request_build(const struct ecs_register_params *p, json_object **ret_body)
{
        if (isempty(p->cluster) || p->memory_mib < 0 || p->memory_mib > INT32_MAX ||
            p->cpu_units > INT32_MAX)
                return -EINVAL;
        const struct resource_wire resources[] = {
            {.name = "CPU", .type = "INTEGER", .integer = p->cpu_units},
            {.name = "MEMORY", .type = "INTEGER", .integer = p->memory_mib},
            {.name = "PORTS",
             .type = "STRINGSET",
             .ports = p->reserved_ports,
             .n_ports = p->n_reserved_ports,
             .is_set = true},
            {.name = "PORTS_UDP",
             .type = "STRINGSET",
             .ports = p->reserved_ports_udp,
             .n_ports = p->n_reserved_ports_udp,
             .is_set = true},
        };
        const struct register_wire w = {
            .cluster = p->cluster,
            .container_instance_arn = p->container_instance_arn,
            .identity_document = p->identity_document,
            .identity_signature = p->identity_signature,
            .client_token = p->client_token,
            .attributes = p->attributes ? p->attributes->items : NULL,
            .n_attributes = p->attributes ? p->attributes->n : 0,
            .resources = resources,
            .n_resources = ELEMENTSOF(resources),
            .tags = p->tags,
            .n_tags = p->n_tags,
        };
        return jsonmap_encode(&register_type, &w, NULL, ret_body);
}

void ecs_register_result_done(struct ecs_register_result *r)
{
        if (!r)
                return;
        free(r->container_instance_arn);
        free(r->availability_zone);
        *r = (struct ecs_register_result){};
}

static int fail(struct ecs_request_error *err, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct ecs_request_error *err, int r, const char *fmt, ...)
{
        va_list ap;

        if (err) {
                va_start(ap, fmt);
                vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
                va_end(ap);
        }
        return r;
}

/* The value registered for name (last one wins, like the official map); a missing
 * attribute and a name-only one both read as "". */
static const char *registered_value(const struct ecs_attribute_list *got, const char *name)
{
        const char *found = "";

        for (size_t i = 0; i < got->n; i++)
                if (streq(got->items[i].name, name))
                        found = strempty(got->items[i].value);
        return found;
}

/* Every attribute sent must come back with the same value, or the official agent stops with
 * a terminal error (§1.4). Its comparison treats a missing attribute as value "", so a
 * name-only attribute that is not echoed passes; we keep that exact rule. */
static int check_attributes_echoed(const struct ecs_attribute_list *got,
                                   const struct ecs_attribute_list *sent,
                                   struct ecs_request_error *err)
{
        size_t bad = 0, first = 0;

        for (size_t i = 0; sent && i < sent->n; i++)
                if (!streq(registered_value(got, sent->items[i].name),
                           strempty(sent->items[i].value))) {
                        if (bad++ == 0)
                                first = i;
                }
        if (bad == 0)
                return 0;
        return fail(err, -EPROTO,
                    "Attribute validation failed: attribute '%.128s' was sent with value "
                    "'%.64s' but registered with '%.64s'%s",
                    sent->items[first].name, strempty(sent->items[first].value),
                    registered_value(got, sent->items[first].name),
                    bad > 1 ? " (and more attributes differ)" : "");
}

/* A name is required, but "" is a name. */
static int check_attribute_name(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        return *(char *const *)value ? 0 : jsonmap_fail_member(c, -EINVAL, "is not set");
}

static const struct jsonmap_field registered_attribute_fields[] = {
    JSONMAP_STRING("name", struct ecs_attribute, name, .check = check_attribute_name),
    JSONMAP_STRING("value", struct ecs_attribute, value),
    JSONMAP_END,
};
static const struct jsonmap_type registered_attribute_type =
    JSONMAP_TYPE(struct ecs_attribute, registered_attribute_fields);

struct register_response_wire {
        char *container_instance_arn;
        struct ecs_attribute_list attributes;
};

#define W struct register_response_wire
static const struct jsonmap_field container_instance_fields[] = {
    JSONMAP_STRING("containerInstanceArn", W, container_instance_arn, .flags = JSONMAP_REQUIRED),
    JSONMAP_ARRAY("attributes", W, attributes.items, attributes.n, &registered_attribute_type),
    JSONMAP_END,
};
static const struct jsonmap_type container_instance_type =
    JSONMAP_TYPE(W, container_instance_fields);

static const struct jsonmap_field register_response_fields[] = {
    JSONMAP_FLATTEN("containerInstance", &container_instance_type, .flags = JSONMAP_REQUIRED),
    JSONMAP_END,
};
#undef W
static const struct jsonmap_type register_response_type =
    JSONMAP_TYPE(struct register_response_wire, register_response_fields);

int ecs_register_response_parse(json_object *response, const struct ecs_attribute_list *sent,
                                struct ecs_register_result *ret, struct ecs_request_error *err)
{
        struct register_response_wire w = {};
        struct jsonmap_ctx c;
        const char *az;
        int r;

        jsonmap_ctx_init(&c, NULL, NULL);
        r = jsonmap_decode(&c, &register_response_type, response, &w);
        if (r < 0) {
                r = fail(err, r == -ENOMEM ? r : -EBADMSG, "RegisterContainerInstance response: %s",
                         c.reason);
                goto out;
        }
        r = check_attributes_echoed(&w.attributes, sent, err);
        if (r < 0)
                goto out;
        az = NULL;
        for (size_t i = 0; !az && i < w.attributes.n; i++)
                if (streq(w.attributes.items[i].name, "ecs.availability-zone"))
                        az = w.attributes.items[i].value;
        *ret = (struct ecs_register_result){
            .container_instance_arn = TAKE_PTR(w.container_instance_arn),
            .availability_zone = az ? strdup(az) : NULL,
        };
        if (az && !ret->availability_zone) {
                ecs_register_result_done(ret);
                r = fail(err, -ENOMEM, "out of memory");
        }
out:
        jsonmap_done(&register_response_type, &w);
        return r;
}

/* ---- DiscoverPollEndpoint (§1.7) ---- */

struct discover_wire {
        const char *cluster;
        const char *container_instance;
        const char *zone_id;
};

static const struct jsonmap_field discover_fields[] = {
    JSONMAP_STRING("cluster", struct discover_wire, cluster, .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("containerInstance", struct discover_wire, container_instance,
                   .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("zoneId", struct discover_wire, zone_id),
    JSONMAP_END,
};
static const struct jsonmap_type discover_type =
    JSONMAP_TYPE(struct discover_wire, discover_fields);

int ecs_discover_poll_endpoint_request_build(const char *cluster,
                                             const char *container_instance_arn,
                                             json_object **ret_body)
{
        /* zoneId is "" except for the system-logs endpoint lookup, which we do not do. */
        const struct discover_wire w = {cluster, container_instance_arn, ""};
        return jsonmap_encode(&discover_type, &w, NULL, ret_body);
}

static const struct jsonmap_field poll_endpoints_fields[] = {
    JSONMAP_STRING("endpoint", struct ecs_poll_endpoints, endpoint),
    JSONMAP_STRING("telemetryEndpoint", struct ecs_poll_endpoints, telemetry_endpoint),
    JSONMAP_END,
};
static const struct jsonmap_type poll_endpoints_type =
    JSONMAP_TYPE(struct ecs_poll_endpoints, poll_endpoints_fields);

void ecs_poll_endpoints_done(struct ecs_poll_endpoints *e)
{
        if (!e)
                return;
        jsonmap_done(&poll_endpoints_type, e);
}

/* What is not an http(s)/ws(s) URL of sane length is treated as missing. */
static void drop_unusable_endpoint(char **p)
{
        const char *s = *p;

        if (!s)
                return;
        if (strlen(s) > 2048 ||
            !(strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0 ||
              strncasecmp(s, "ws://", 5) == 0 || strncasecmp(s, "wss://", 6) == 0))
                *p = mfree(*p);
}

int ecs_discover_poll_endpoint_response_parse(json_object *response, struct ecs_poll_endpoints *ret,
                                              struct ecs_request_error *err)
{
        struct ecs_poll_endpoints e = {};
        struct jsonmap_ctx c;
        int r;

        jsonmap_ctx_init(&c, NULL, NULL);
        r = jsonmap_decode(&c, &poll_endpoints_type, response, &e);
        if (r < 0) {
                ecs_poll_endpoints_done(&e);
                return fail(err, r == -ENOMEM ? r : -EBADMSG, "DiscoverPollEndpoint response: %s",
                            c.reason);
        }
        drop_unusable_endpoint(&e.endpoint);
        drop_unusable_endpoint(&e.telemetry_endpoint);
        *ret = e;
        return 0;
}

/* ---- SubmitTaskStateChange (§1.8) ---- */

JSONMAP_ENUM_NAMES(protocol_enum, port_protocol_from_string, port_protocol_to_string);

static const struct jsonmap_field binding_fields[] = {
    JSONMAP_CHARS("bindIP", struct network_binding, bind_ip),
    JSONMAP_U16("containerPort", struct network_binding, container_port),
    JSONMAP_U16("hostPort", struct network_binding, host_port),
    JSONMAP_ENUM("protocol", struct network_binding, protocol, &protocol_enum),
    JSONMAP_END,
};
static const struct jsonmap_type binding_type =
    JSONMAP_TYPE(struct network_binding, binding_fields);

/* One entry of "containers". */
struct change_wire {
        const char *name;
        const char *runtime_id;
        const char *image_digest;
        const char *status;
        const char *reason;
        const struct ecs_container *container;
        const struct ecs_task_state_change_params *params;
};

static int array_append(json_object *a, const struct jsonmap_type *t, const void *obj)
{
        json_object *v = NULL;
        int r = jsonmap_encode(t, obj, NULL, &v);

        return r < 0 ? r : json_append(a, v);
}

static int encode_exit_code(const void *value, json_object **ret)
{
        const struct ecs_container *c = ((const struct change_wire *)value)->container;

        if (!c->has_exit_code)
                return 0;
        *ret = json_object_new_int(c->exit_code);
        return *ret ? 0 : -ENOMEM;
}

/* Always an array, possibly empty (§1.8). */
static int encode_bindings(const void *value, json_object **ret)
{
        const struct change_wire *w = value;
        const struct ecs_container *c = w->container;
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_bindings; i++) {
                const struct network_binding *b = &c->bindings[i];
                if ((w->params->exclude_ipv6_bindings && streq(b->bind_ip, "::")) ||
                    (w->params->exclude_ipv4_bindings && streq(b->bind_ip, "0.0.0.0")))
                        continue;
                if ((r = array_append(a, &binding_type, b)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

#define CUT(n) .flags = JSONMAP_OMIT_EMPTY | JSONMAP_TRUNCATE, .limit = (n)
#define W      struct change_wire
static const struct jsonmap_field change_fields[] = {
    JSONMAP_STRING("containerName", W, name),
    JSONMAP_STRING("runtimeId", W, runtime_id, CUT(ECS_MAX_RUNTIME_ID_LEN)),
    JSONMAP_STRING("imageDigest", W, image_digest, CUT(ECS_MAX_IMAGE_DIGEST_LEN)),
    JSONMAP_STRING("status", W, status),
    JSONMAP_CUSTOM_SELF("exitCode", .encode = encode_exit_code),
    JSONMAP_STRING("reason", W, reason, CUT(ECS_MAX_REASON_LEN)),
    JSONMAP_CUSTOM_SELF("networkBindings", .encode = encode_bindings),
    JSONMAP_END,
};
#undef W
static const struct jsonmap_type change_type = JSONMAP_TYPE(struct change_wire, change_fields);

/* The backend status of a container change, or NULL when the official agent would not
 * submit it (PULLED, CREATED and NONE are internal). */
static const char *container_change_status(enum container_status s)
{
        switch (s) {
        case CONTAINER_STATUS_MANIFEST_PULLED: /* PENDING, with the resolved digest */
        case CONTAINER_STATUS_RUNNING:
        case CONTAINER_STATUS_RESOURCES_PROVISIONED:
        case CONTAINER_STATUS_STOPPED:
                return container_status_backend(s);
        default:
                return NULL;
        }
}

struct task_change_wire {
        const char *cluster;
        const char *task;
        const char *status;
        const char *reason;
        uint64_t pull_started_at, pull_stopped_at, execution_stopped_at;
        const struct ecs_task_state_change_params *params;
        const char *attachment_arn; /* flavour (b) and SubmitAttachmentStateChanges */
        const char *attachment_status;
};

/* Present once any container is included, even if none of them is reportable. */
static int encode_container_changes(const void *value, json_object **ret)
{
        const struct ecs_task_state_change_params *p =
            ((const struct task_change_wire *)value)->params;
        _cleanup_json_ json_object *a = NULL;
        int r;

        for (size_t i = 0; p && p->include_containers && i < p->task->n_containers; i++) {
                const struct ecs_container *c = &p->task->containers[i];
                const struct change_wire w = {
                    .name = c->name,
                    .runtime_id = c->docker_id,
                    .image_digest = c->image_digest,
                    .status = container_change_status(c->known_status),
                    .reason = c->reason,
                    .container = c,
                    .params = p,
                };
                if (!p->include_containers[i])
                        continue;
                if (!a && !(a = json_object_new_array()))
                        return -ENOMEM;
                if (!w.status || isempty(c->name))
                        continue;
                if ((r = array_append(a, &change_type, &w)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* [{"attachmentArn","status"}] when there is an attachment. */
static int encode_attachments(const void *value, json_object **ret)
{
        const struct task_change_wire *w = value;
        _cleanup_json_ json_object *a = NULL, *o = NULL;
        int r;

        if (!w->attachment_arn)
                return 0;
        if (!(a = json_object_new_array()) || !(o = json_object_new_object()))
                return -ENOMEM;
        if ((r = json_add_string(o, "attachmentArn", w->attachment_arn)) < 0 ||
            (r = json_add_string(o, "status", w->attachment_status)) < 0)
                return r;
        if ((r = json_append(a, TAKE_PTR(o))) < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

#define W struct task_change_wire
static const struct jsonmap_field task_change_fields[] = {
    JSONMAP_STRING("cluster", W, cluster, .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("task", W, task),
    JSONMAP_STRING("status", W, status),
    JSONMAP_STRING("reason", W, reason, .flags = JSONMAP_TRUNCATE, .limit = ECS_MAX_REASON_LEN),
    JSONMAP_EPOCH("pullStartedAt", W, pull_started_at, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_EPOCH("pullStoppedAt", W, pull_stopped_at, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_EPOCH("executionStoppedAt", W, execution_stopped_at, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_CUSTOM_SELF("containers", .encode = encode_container_changes),
    JSONMAP_CUSTOM_SELF("attachments", .encode = encode_attachments),
    JSONMAP_END,
};
#undef W
static const struct jsonmap_type task_change_type =
    JSONMAP_TYPE(struct task_change_wire, task_change_fields);

int ecs_build_task_state_change(const struct ecs_task_state_change_params *p,
                                json_object **ret_body)
{
        const struct ecs_task *t = p->task;

        if (!t || isempty(t->arn))
                return -EINVAL;
        const struct task_change_wire w = {
            .cluster = p->cluster,
            .task = t->arn,
            .status = task_status_backend(t->known_status),
            .reason = strempty(t->reason),
            .pull_started_at = t->pull_started_at,
            .pull_stopped_at = t->pull_stopped_at,
            .execution_stopped_at = t->execution_stopped_at,
            .params = p,
        };
        return jsonmap_encode(&task_change_type, &w, NULL, ret_body);
}

int ecs_build_task_attachment_change(const char *cluster, const char *task_arn,
                                     const char *attachment_arn, const char *status,
                                     json_object **ret_body)
{
        if (isempty(task_arn) || isempty(attachment_arn) || isempty(status))
                return -EINVAL;
        /* Only these three members: no status or reason in this flavour (§1.8 b). */
        const struct task_change_wire w = {
            .cluster = cluster,
            .task = task_arn,
            .attachment_arn = attachment_arn,
            .attachment_status = status,
        };
        return jsonmap_encode(&task_change_type, &w, NULL, ret_body);
}

int ecs_build_invalid_task_state_change(const char *cluster, const char *task_arn,
                                        const char *reason, json_object **ret_body)
{
        if (isempty(task_arn))
                return -EINVAL;
        const struct task_change_wire w = {
            .cluster = cluster,
            .task = task_arn,
            .status = "STOPPED",
            .reason = strempty(reason),
        };
        return jsonmap_encode(&task_change_type, &w, NULL, ret_body);
}

/* SubmitAttachmentStateChanges (§1.10): the same shape without a task. */
int ecs_build_attachment_state_changes(const char *cluster, const char *attachment_arn,
                                       const char *status, json_object **ret_body)
{
        if (isempty(attachment_arn) || isempty(status))
                return -EINVAL;
        const struct task_change_wire w = {
            .cluster = cluster,
            .attachment_arn = attachment_arn,
            .attachment_status = status,
        };
        return jsonmap_encode(&task_change_type, &w, NULL, ret_body);
}
