/* ECS API bodies and responses for the agent-only calls (§1.4-1.10). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "ecs/ecs_requests.h"
#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"

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

struct attachment_wire {
        const char *arn;
        const char *status;
};

static const struct jsonmap_field attachment_fields[] = {
    JSONMAP_STRING("attachmentArn", struct attachment_wire, arn),
    JSONMAP_STRING("status", struct attachment_wire, status),
    JSONMAP_END,
};
static const struct jsonmap_type attachment_type =
    JSONMAP_TYPE(struct attachment_wire, attachment_fields);

struct task_change_wire {
        const char *cluster;
        const char *task;
        const char *status;
        const char *reason;
        uint64_t pull_started_at, pull_stopped_at, execution_stopped_at;
        const struct ecs_task_state_change_params *params;
        /* Flavour (b) and SubmitAttachmentStateChanges: one attachment. */
        const struct attachment_wire *attachments;
        size_t n_attachments;
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
    JSONMAP_ARRAY("attachments", W, attachments, n_attachments, &attachment_type,
                  .flags = JSONMAP_OMIT_EMPTY),
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
            .attachments = &(const struct attachment_wire){attachment_arn, status},
            .n_attachments = 1,
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
            .attachments = &(const struct attachment_wire){attachment_arn, status},
            .n_attachments = 1,
        };
        return jsonmap_encode(&task_change_type, &w, NULL, ret_body);
}
