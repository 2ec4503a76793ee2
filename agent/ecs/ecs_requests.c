/* ECS API bodies and responses for the agent-only calls (§1.4-1.10). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

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

/* ---- RegisterContainerInstance (§1.4) ---- */

static int add_new(json_object *parent, const char *key, json_type t, json_object **ret)
{
        json_object *o = t == json_type_array ? json_object_new_array() : json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = json_add(parent, key, o);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

static int array_add(json_object *a, json_object *v)
{
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_integer_resource(json_object *list, const char *name, int64_t v)
{
        json_object *o = json_object_new_object();
        int r;

        r = array_add(list, o);
        if (r < 0)
                return r;
        if ((r = json_add_string(o, "name", name)) < 0 ||
            (r = json_add_string(o, "type", "INTEGER")) < 0)
                return r;
        /* The SDK serialises numeric members only when non-zero. */
        return v != 0 ? json_add_int(o, "integerValue", v) : 0;
}

static int add_ports_resource(json_object *list, const char *name, const uint16_t *ports, size_t n)
{
        json_object *o = json_object_new_object(), *set;
        char buf[8];
        int r;

        r = array_add(list, o);
        if (r < 0)
                return r;
        if ((r = json_add_string(o, "name", name)) < 0 ||
            (r = json_add_string(o, "type", "STRINGSET")) < 0 ||
            (r = add_new(o, "stringSetValue", json_type_array, &set)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                snprintf(buf, sizeof(buf), "%u", (unsigned)ports[i]);
                r = array_add(set, json_object_new_string(buf));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_register_lists(json_object *root, const struct ecs_register_params *p)
{
        json_object *attrs, *res, *tags;
        int r;

        r = add_new(root, "attributes", json_type_array, &attrs);
        for (size_t i = 0; r >= 0 && p->attributes && i < p->attributes->n; i++) {
                json_object *a = json_object_new_object();
                r = array_add(attrs, a);
                if (r >= 0)
                        r = json_add_string(a, "name", p->attributes->items[i].name);
                if (r >= 0)
                        r = json_add_string(a, "value", p->attributes->items[i].value);
        }
        if (r >= 0)
                r = add_new(root, "totalResources", json_type_array, &res);
        if (r >= 0)
                r = add_integer_resource(res, "CPU", p->cpu_units);
        if (r >= 0)
                r = add_integer_resource(res, "MEMORY", p->memory_mib);
        if (r >= 0)
                r = add_ports_resource(res, "PORTS", p->reserved_ports, p->n_reserved_ports);
        if (r >= 0)
                r = add_ports_resource(res, "PORTS_UDP", p->reserved_ports_udp,
                                       p->n_reserved_ports_udp);
        if (r < 0 || p->n_tags == 0)
                return r;
        r = add_new(root, "tags", json_type_array, &tags);
        for (size_t i = 0; r >= 0 && i < p->n_tags; i++) {
                json_object *t = json_object_new_object();
                r = array_add(tags, t);
                if (r >= 0)
                        r = json_add_string(t, "key", p->tags[i].key);
                if (r >= 0)
                        r = json_add_string(t, "value", strempty(p->tags[i].value));
        }
        return r;
}

int ecs_register_request_build(const struct ecs_register_params *p, json_object **ret_body)
{
        _cleanup_json_ json_object *root = NULL;
        int r;

        if (isempty(p->cluster) || p->memory_mib < 0 || p->memory_mib > INT32_MAX ||
            p->cpu_units > INT32_MAX)
                return -EINVAL;
        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        if ((r = json_add_string(root, "cluster", p->cluster)) < 0 ||
            (!isempty(p->container_instance_arn) &&
             (r = json_add_string(root, "containerInstanceArn", p->container_instance_arn)) < 0) ||
            (r = json_add_string(root, "instanceIdentityDocument",
                                 strempty(p->identity_document))) < 0 ||
            (r = json_add_string(root, "instanceIdentityDocumentSignature",
                                 strempty(p->identity_signature))) < 0 ||
            (r = json_add_string(root, "clientToken", p->client_token)) < 0 ||
            (r = add_register_lists(root, p)) < 0)
                return r;
        *ret_body = TAKE_PTR(root);
        return 0;
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

/* The value registered for name in the response's attributes (last one wins, like the
 * official map); a missing attribute and a name-only one both read as "". */
static const char *registered_value(json_object *attrs, const char *name)
{
        const char *found = "";
        size_t n = attrs ? json_object_array_length(attrs) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(attrs, i);
                const char *an = json_get_string(a, "name", NULL);
                if (an && streq(an, name))
                        found = strempty(json_get_string(a, "value", NULL));
        }
        return found;
}

/* Every attribute sent must come back with the same value, or the official agent stops with
 * a terminal error (§1.4). Its comparison treats a missing attribute as value "", so a
 * name-only attribute that is not echoed passes; we keep that exact rule. */
static int check_attributes_echoed(json_object *attrs, const struct ecs_attribute_list *sent,
                                   struct ecs_request_error *err)
{
        size_t bad = 0, first = 0;

        for (size_t i = 0; sent && i < sent->n; i++)
                if (!streq(registered_value(attrs, sent->items[i].name),
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
                    registered_value(attrs, sent->items[first].name),
                    bad > 1 ? " (and more attributes differ)" : "");
}

int ecs_register_response_parse(json_object *response, const struct ecs_attribute_list *sent,
                                struct ecs_register_result *ret, struct ecs_request_error *err)
{
        json_object *ci, *attrs;
        const char *arn, *az = NULL;
        bool ok = true;
        size_t n;
        int r;

        ci = json_get_object(response, "containerInstance", &ok);
        arn = json_get_string(ci, "containerInstanceArn", &ok);
        attrs = json_get_array(ci, "attributes", &ok);
        if (!ok || isempty(arn))
                return fail(err, -EBADMSG,
                            "RegisterContainerInstance response has no containerInstance."
                            "containerInstanceArn");
        n = attrs ? json_object_array_length(attrs) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(attrs, i);
                const char *name = json_get_string(a, "name", &ok);
                (void)json_get_string(a, "value", &ok);
                if (!a || !json_object_is_type(a, json_type_object) || !ok || !name)
                        return fail(err, -EBADMSG,
                                    "RegisterContainerInstance response has a malformed attribute");
                if (!az && streq(name, "ecs.availability-zone"))
                        az = json_get_string(a, "value", NULL);
        }
        r = check_attributes_echoed(attrs, sent, err);
        if (r < 0)
                return r;

        struct ecs_register_result res = {.container_instance_arn = strdup(arn)};
        if (!res.container_instance_arn || (az && !(res.availability_zone = strdup(az)))) {
                ecs_register_result_done(&res);
                return fail(err, -ENOMEM, "out of memory");
        }
        *ret = res;
        return 0;
}

/* ---- DiscoverPollEndpoint (§1.7) ---- */

int ecs_discover_poll_endpoint_request_build(const char *cluster,
                                             const char *container_instance_arn,
                                             json_object **ret_body)
{
        json_object *root = json_object_new_object();
        int r;

        if (!root)
                return -ENOMEM;
        /* zoneId is "" except for the system-logs endpoint lookup, which we do not do. */
        if ((r = json_add_string(root, "cluster", strempty(cluster))) < 0 ||
            (r = json_add_string(root, "containerInstance", strempty(container_instance_arn))) <
                0 ||
            (r = json_add_string(root, "zoneId", "")) < 0) {
                json_object_put(root);
                return r;
        }
        *ret_body = root;
        return 0;
}

void ecs_poll_endpoints_done(struct ecs_poll_endpoints *e)
{
        if (!e)
                return;
        free(e->endpoint);
        free(e->telemetry_endpoint);
        *e = (struct ecs_poll_endpoints){};
}

static bool url_scheme_ok(const char *s)
{
        return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0 ||
               strncasecmp(s, "ws://", 5) == 0 || strncasecmp(s, "wss://", 6) == 0;
}

static int dup_endpoint(const char *s, char **ret)
{
        *ret = NULL;
        if (isempty(s) || !url_scheme_ok(s) || strlen(s) > 2048)
                return 0; /* treated as missing */
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int ecs_discover_poll_endpoint_response_parse(json_object *response, struct ecs_poll_endpoints *ret,
                                              struct ecs_request_error *err)
{
        struct ecs_poll_endpoints e = {};
        const char *acs, *tcs;
        bool ok = true;

        if (!response || !json_object_is_type(response, json_type_object))
                return fail(err, -EBADMSG, "DiscoverPollEndpoint response is not a JSON object");
        acs = json_get_string(response, "endpoint", &ok);
        tcs = json_get_string(response, "telemetryEndpoint", &ok);
        if (!ok)
                return fail(err, -EBADMSG,
                            "DiscoverPollEndpoint response has a non-string endpoint");
        if (dup_endpoint(acs, &e.endpoint) < 0 || dup_endpoint(tcs, &e.telemetry_endpoint) < 0) {
                ecs_poll_endpoints_done(&e);
                return fail(err, -ENOMEM, "out of memory");
        }
        *ret = e;
        return 0;
}

/* ---- SubmitTaskStateChange (§1.8) ---- */

void ecs_truncate_utf8(char *s, size_t max)
{
        size_t n = strlen(s);

        if (n <= max)
                return;
        /* Back up over continuation bytes (10xxxxxx) so no sequence is cut in half. */
        while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
                max--;
        s[max] = 0;
}

static int add_truncated(json_object *o, const char *key, const char *s, size_t max)
{
        _cleanup_free_ char *c = strndup(s, max + 4); /* enough to see a cut sequence */

        if (!c)
                return -ENOMEM;
        ecs_truncate_utf8(c, max);
        return json_add_string(o, key, c);
}

static int add_bindings(json_object *o, const struct ecs_container *c,
                        const struct ecs_task_state_change_params *p)
{
        json_object *list;
        int r;

        /* Always an array, possibly empty (§1.8). */
        r = add_new(o, "networkBindings", json_type_array, &list);
        for (size_t i = 0; r >= 0 && i < c->n_bindings; i++) {
                const struct network_binding *b = &c->bindings[i];
                char ip[sizeof(b->bind_ip) + 1];
                json_object *j;

                snprintf(ip, sizeof(ip), "%.*s", (int)sizeof(b->bind_ip), b->bind_ip);
                if ((p->exclude_ipv6_bindings && streq(ip, "::")) ||
                    (p->exclude_ipv4_bindings && streq(ip, "0.0.0.0")))
                        continue;
                j = json_object_new_object();
                r = array_add(list, j);
                if (r >= 0)
                        r = json_add_string(j, "bindIP", ip);
                if (r >= 0)
                        r = json_add_int(j, "containerPort", b->container_port);
                if (r >= 0)
                        r = json_add_int(j, "hostPort", b->host_port);
                if (r >= 0)
                        r = json_add_string(j, "protocol", port_protocol_to_string(b->protocol));
        }
        return r;
}

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

static int add_container_change(json_object *list, const struct ecs_container *c,
                                const struct ecs_task_state_change_params *p)
{
        const char *status = container_change_status(c->known_status);
        json_object *o;
        int r;

        if (!status || isempty(c->name))
                return 0;
        o = json_object_new_object();
        r = array_add(list, o);
        if (r >= 0)
                r = json_add_string(o, "containerName", c->name);
        if (r >= 0 && !isempty(c->docker_id))
                r = add_truncated(o, "runtimeId", c->docker_id, ECS_MAX_RUNTIME_ID_LEN);
        if (r >= 0 && !isempty(c->image_digest))
                r = add_truncated(o, "imageDigest", c->image_digest, ECS_MAX_IMAGE_DIGEST_LEN);
        if (r >= 0)
                r = json_add_string(o, "status", status);
        if (r >= 0 && c->has_exit_code)
                r = json_add_int(o, "exitCode", c->exit_code);
        if (r >= 0 && !isempty(c->reason))
                r = add_truncated(o, "reason", c->reason, ECS_MAX_REASON_LEN);
        if (r >= 0)
                r = add_bindings(o, c, p);
        return r;
}

int ecs_build_task_state_change(const struct ecs_task_state_change_params *p,
                                json_object **ret_body)
{
        _cleanup_json_ json_object *root = NULL;
        const struct ecs_task *t = p->task;
        json_object *list = NULL;
        int r;

        if (!t || isempty(t->arn))
                return -EINVAL;
        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        if ((r = json_add_string(root, "cluster", strempty(p->cluster))) < 0 ||
            (r = json_add_string(root, "task", t->arn)) < 0 ||
            (r = json_add_string(root, "status", task_status_backend(t->known_status))) < 0 ||
            (r = add_truncated(root, "reason", strempty(t->reason), ECS_MAX_REASON_LEN)) < 0 ||
            (t->pull_started_at &&
             (r = json_add_epoch(root, "pullStartedAt", t->pull_started_at)) < 0) ||
            (t->pull_stopped_at &&
             (r = json_add_epoch(root, "pullStoppedAt", t->pull_stopped_at)) < 0) ||
            (t->execution_stopped_at &&
             (r = json_add_epoch(root, "executionStoppedAt", t->execution_stopped_at)) < 0))
                return r;
        for (size_t i = 0; p->include_containers && i < t->n_containers; i++) {
                if (!p->include_containers[i])
                        continue;
                if (!list && (r = add_new(root, "containers", json_type_array, &list)) < 0)
                        return r;
                r = add_container_change(list, &t->containers[i], p);
                if (r < 0)
                        return r;
        }
        *ret_body = TAKE_PTR(root);
        return 0;
}

static int attachment_list(json_object *root, const char *attachment_arn, const char *status)
{
        json_object *list, *a;
        int r;

        r = add_new(root, "attachments", json_type_array, &list);
        if (r < 0)
                return r;
        a = json_object_new_object();
        r = array_add(list, a);
        if (r >= 0)
                r = json_add_string(a, "attachmentArn", attachment_arn);
        if (r >= 0)
                r = json_add_string(a, "status", status);
        return r;
}

int ecs_build_task_attachment_change(const char *cluster, const char *task_arn,
                                     const char *attachment_arn, const char *status,
                                     json_object **ret_body)
{
        json_object *root;
        int r;

        if (isempty(task_arn) || isempty(attachment_arn) || isempty(status))
                return -EINVAL;
        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        /* Only these three members: no status or reason in this flavour (§1.8 b). */
        if ((r = json_add_string(root, "cluster", strempty(cluster))) < 0 ||
            (r = json_add_string(root, "task", task_arn)) < 0 ||
            (r = attachment_list(root, attachment_arn, status)) < 0) {
                json_object_put(root);
                return r;
        }
        *ret_body = root;
        return 0;
}

int ecs_build_invalid_task_state_change(const char *cluster, const char *task_arn,
                                        const char *reason, json_object **ret_body)
{
        json_object *root;
        int r;

        if (isempty(task_arn))
                return -EINVAL;
        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        if ((r = json_add_string(root, "cluster", strempty(cluster))) < 0 ||
            (r = json_add_string(root, "task", task_arn)) < 0 ||
            (r = json_add_string(root, "status", "STOPPED")) < 0 ||
            (r = add_truncated(root, "reason", strempty(reason), ECS_MAX_REASON_LEN)) < 0) {
                json_object_put(root);
                return r;
        }
        *ret_body = root;
        return 0;
}

int ecs_build_attachment_state_changes(const char *cluster, const char *attachment_arn,
                                       const char *status, json_object **ret_body)
{
        json_object *root;
        int r;

        if (isempty(attachment_arn) || isempty(status))
                return -EINVAL;
        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        if ((r = json_add_string(root, "cluster", strempty(cluster))) < 0 ||
            (r = attachment_list(root, attachment_arn, status)) < 0) {
                json_object_put(root);
                return r;
        }
        *ret_body = root;
        return 0;
}
