/* ACS message decoding (§2.4-2.13): the envelope, and every message type except the
 * PayloadMessage's tasks (acs_payload.c). */
#include <arpa/inet.h>
#include <stdio.h>

#include "acs_internal.h"
#include "ecs/net.h"

static const struct acs_type_info {
        const char *name;
        enum acs_message_type type;
        int exception; /* enum acs_exception, or -1 */
} acs_types[] = {
    {"PayloadMessage", ACS_MSG_PAYLOAD, -1},
    {"IAMRoleCredentialsMessage", ACS_MSG_IAM_ROLE_CREDENTIALS, -1},
    {"HeartbeatMessage", ACS_MSG_HEARTBEAT, -1},
    {"AttachTaskNetworkInterfacesMessage", ACS_MSG_ATTACH_TASK_ENI, -1},
    {"AttachInstanceNetworkInterfacesMessage", ACS_MSG_ATTACH_INSTANCE_ENI, -1},
    {"ConfirmAttachmentMessage", ACS_MSG_CONFIRM_ATTACHMENT, -1},
    {"TaskManifestMessage", ACS_MSG_TASK_MANIFEST, -1},
    {"TaskStopVerificationAck", ACS_MSG_TASK_STOP_VERIFICATION_ACK, -1},
    {"StageUpdateMessage", ACS_MSG_STAGE_UPDATE, -1},
    {"PerformUpdateMessage", ACS_MSG_PERFORM_UPDATE, -1},
    {"CloseMessage", ACS_MSG_CLOSE, -1},
    {"ErrorMessage", ACS_MSG_ERROR, -1},
    {"ServerException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_SERVER},
    {"BadRequestException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_BAD_REQUEST},
    {"InvalidClusterException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_INVALID_CLUSTER},
    {"InvalidInstanceException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_INVALID_INSTANCE},
    {"AccessDeniedException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_ACCESS_DENIED},
    {"InactiveInstanceException", ACS_MSG_EXCEPTION, ACS_EXCEPTION_INACTIVE_INSTANCE},
    {"AckRequest", ACS_MSG_UNHANDLED, -1},
    {"NackRequest", ACS_MSG_UNHANDLED, -1},
    {"HeartbeatAckRequest", ACS_MSG_UNHANDLED, -1},
    {"IAMRoleCredentialsAckRequest", ACS_MSG_UNHANDLED, -1},
    {"TaskStopVerificationMessage", ACS_MSG_UNHANDLED, -1},
};

static const char *const acs_type_names[_ACS_MSG_MAX] = {
    [ACS_MSG_UNKNOWN] = "unknown",
    [ACS_MSG_PAYLOAD] = "PayloadMessage",
    [ACS_MSG_IAM_ROLE_CREDENTIALS] = "IAMRoleCredentialsMessage",
    [ACS_MSG_HEARTBEAT] = "HeartbeatMessage",
    [ACS_MSG_ATTACH_TASK_ENI] = "AttachTaskNetworkInterfacesMessage",
    [ACS_MSG_ATTACH_INSTANCE_ENI] = "AttachInstanceNetworkInterfacesMessage",
    [ACS_MSG_CONFIRM_ATTACHMENT] = "ConfirmAttachmentMessage",
    [ACS_MSG_TASK_MANIFEST] = "TaskManifestMessage",
    [ACS_MSG_TASK_STOP_VERIFICATION_ACK] = "TaskStopVerificationAck",
    [ACS_MSG_STAGE_UPDATE] = "StageUpdateMessage",
    [ACS_MSG_PERFORM_UPDATE] = "PerformUpdateMessage",
    [ACS_MSG_CLOSE] = "CloseMessage",
    [ACS_MSG_ERROR] = "ErrorMessage",
    [ACS_MSG_EXCEPTION] = "exception",
    [ACS_MSG_UNHANDLED] = "unhandled",
};

static const char *const acs_exception_names[_ACS_EXCEPTION_MAX] = {
    [ACS_EXCEPTION_SERVER] = "ServerException",
    [ACS_EXCEPTION_BAD_REQUEST] = "BadRequestException",
    [ACS_EXCEPTION_INVALID_CLUSTER] = "InvalidClusterException",
    [ACS_EXCEPTION_INVALID_INSTANCE] = "InvalidInstanceException",
    [ACS_EXCEPTION_ACCESS_DENIED] = "AccessDeniedException",
    [ACS_EXCEPTION_INACTIVE_INSTANCE] = "InactiveInstanceException",
};

static const char *const acs_role_names[_ACS_ROLE_MAX] = {
    [ACS_ROLE_TASK_APPLICATION] = "TaskApplication",
    [ACS_ROLE_TASK_EXECUTION] = "TaskExecution",
};

const char *acs_message_type_to_string(enum acs_message_type t)
{
        return t >= 0 && t < _ACS_MSG_MAX ? acs_type_names[t] : NULL;
}

const char *acs_exception_to_string(enum acs_exception e)
{
        return e >= 0 && e < _ACS_EXCEPTION_MAX ? acs_exception_names[e] : NULL;
}

const char *acs_role_type_to_string(enum acs_role_type r)
{
        return r >= 0 && r < _ACS_ROLE_MAX ? acs_role_names[r] : NULL;
}

enum acs_role_type acs_role_type_from_string(const char *s)
{
        for (int i = 0; s && i < _ACS_ROLE_MAX; i++)
                if (streq(acs_role_names[i], s))
                        return i;
        return _ACS_ROLE_INVALID;
}

bool acs_message_type_is_activity(enum acs_message_type t)
{
        return t > ACS_MSG_UNKNOWN && t < _ACS_MSG_MAX;
}

static const struct acs_type_info *acs_type_lookup(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(acs_types); i++)
                if (streq(acs_types[i].name, name))
                        return &acs_types[i];
        return NULL;
}

const struct jsonmap_limits acs_limits = {
    .max_string = ACS_MAX_STRING_LEN,
    .max_items = ACS_MAX_LIST_ITEMS,
};

#define REQ   .flags = JSONMAP_REQUIRED
#define EMPTY .flags = JSONMAP_EMPTY_IF_ABSENT

/* ---- credentials (§2.7) ---- */

/* Member names only in reasons: values may be secret. */
static const struct jsonmap_field credentials_fields[] = {
    JSONMAP_STRING("credentialsId", struct acs_credentials, credentials_id, REQ),
    JSONMAP_STRING("roleArn", struct acs_credentials, role_arn, EMPTY),
    JSONMAP_STRING("accessKeyId", struct acs_credentials, access_key_id, EMPTY),
    JSONMAP_STRING("secretAccessKey", struct acs_credentials, secret_access_key,
                   .flags = JSONMAP_EMPTY_IF_ABSENT | JSONMAP_SECRET),
    JSONMAP_STRING("sessionToken", struct acs_credentials, session_token,
                   .flags = JSONMAP_EMPTY_IF_ABSENT | JSONMAP_SECRET),
    JSONMAP_STRING("expiration", struct acs_credentials, expiration, EMPTY),
    JSONMAP_END,
};
const struct jsonmap_type acs_credentials_type =
    JSONMAP_TYPE(struct acs_credentials, credentials_fields);

void acs_credentials_done(struct acs_credentials *c)
{
        if (!c)
                return;
        jsonmap_done(&acs_credentials_type, c);
        *c = (struct acs_credentials){};
}

/* ---- ENIs (§6.5) ---- */

static int check_address(struct jsonmap_ctx *c, int family, const char *s)
{
        unsigned char buf[sizeof(struct in6_addr)];
        char q[48];

        if (inet_pton(family, s, buf) != 1)
                return jsonmap_fail(c, -EINVAL, "invalid address '%s'", jsonmap_quote(s, q));
        return 0;
}

static int check_ipv4(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        return check_address(c, AF_INET, *(char *const *)value);
}

static int check_ipv6(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        return check_address(c, AF_INET6, *(char *const *)value);
}

static const struct jsonmap_field ipv4_fields[] = {
    JSONMAP_STRING("privateAddress", struct acs_eni_address, address, REQ, .check = check_ipv4),
    JSONMAP_BOOL("primary", struct acs_eni_address, primary),
    JSONMAP_END,
};
static const struct jsonmap_type ipv4_type = JSONMAP_TYPE(struct acs_eni_address, ipv4_fields);

static const struct jsonmap_field ipv6_fields[] = {
    JSONMAP_STRING("address", struct acs_eni_address, address, REQ, .check = check_ipv6),
    JSONMAP_BOOL("primary", struct acs_eni_address, primary),
    JSONMAP_END,
};
static const struct jsonmap_type ipv6_type = JSONMAP_TYPE(struct acs_eni_address, ipv6_fields);

static const struct jsonmap_field vlan_fields[] = {
    JSONMAP_STRING("vlanId", struct acs_eni, vlan_id),
    JSONMAP_STRING("trunkInterfaceMacAddress", struct acs_eni, trunk_mac_address),
    JSONMAP_END,
};
static const struct jsonmap_type vlan_type = JSONMAP_TYPE(struct acs_eni, vlan_fields);

static int parse_association(const char *s)
{
        if (streq(s, "default"))
                return ACS_ENI_ASSOCIATION_DEFAULT;
        return streq(s, "vlan") ? ACS_ENI_ASSOCIATION_VLAN : -EINVAL;
}
static const char *name_association(int v)
{
        return v == ACS_ENI_ASSOCIATION_VLAN ? "vlan" : v == 0 ? "default" : NULL;
}
static const struct jsonmap_enum association_enum = {parse_association, name_association};

/* "<address>/<prefix>": exactly one '/' (as the official ValidateENI), and, since the net
 * layer takes both the gateway and the ENI's netmask from it, what that layer's own parser
 * (net_gateway_parse, used again at setup) accepts, of the right family. */
static int check_subnet_gateway(struct jsonmap_ctx *c, const char *what, const char *s, int family)
{
        struct net_ip gw;
        char q[48];

        if (net_gateway_parse(s, &gw, NULL) >= 0 && gw.family == family)
                return 0;
        return jsonmap_fail(c, -EINVAL, "invalid subnet gateway %s address '%s'", what,
                            jsonmap_quote(s, q));
}

/* The official ValidateENI rules, in its order. */
static int check_eni(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        const struct acs_eni *e = obj;

        if (e->n_ipv6 > 0 && e->n_ipv4 == 0) {
                if (!e->subnet_gateway_ipv6)
                        return jsonmap_fail(c, -EINVAL, "no subnet gateway ipv6 address");
                if (check_subnet_gateway(c, "ipv6", e->subnet_gateway_ipv6, AF_INET6) < 0)
                        return -EINVAL;
        } else {
                if (e->n_ipv4 == 0)
                        return jsonmap_fail(c, -EINVAL, "no ipv4 addresses");
                if (!e->subnet_gateway_ipv4)
                        return jsonmap_fail(c, -EINVAL, "no subnet gateway ipv4 address");
                if (check_subnet_gateway(c, "ipv4", e->subnet_gateway_ipv4, AF_INET) < 0)
                        return -EINVAL;
        }
        if (isempty(e->mac_address))
                return jsonmap_fail(c, -EINVAL, "empty eni mac address");
        if (isempty(e->ec2_id))
                return jsonmap_fail(c, -EINVAL, "empty eni id");
        if (e->association == ACS_ENI_ASSOCIATION_VLAN &&
            (isempty(e->vlan_id) || isempty(e->trunk_mac_address)))
                return jsonmap_fail(c, -EINVAL, "vlan interface properties missing");
        return 0;
}

#define E struct acs_eni
static const struct jsonmap_field eni_fields[] = {
    JSONMAP_STRING("ec2Id", E, ec2_id),
    JSONMAP_STRING("macAddress", E, mac_address),
    JSONMAP_STRING("attachmentArn", E, attachment_arn),
    JSONMAP_ARRAY("ipv4Addresses", E, ipv4, n_ipv4, &ipv4_type),
    JSONMAP_ARRAY("ipv6Addresses", E, ipv6, n_ipv6, &ipv6_type),
    JSONMAP_STRING("subnetGatewayIpv4Address", E, subnet_gateway_ipv4),
    JSONMAP_STRING("subnetGatewayIpv6Address", E, subnet_gateway_ipv6),
    JSONMAP_STRV("domainNameServers", E, dns_servers, .flags = JSONMAP_NULL_IF_EMPTY),
    JSONMAP_STRV("domainName", E, search_domains, .flags = JSONMAP_NULL_IF_EMPTY),
    JSONMAP_STRING("privateDnsName", E, private_dns_name),
    JSONMAP_FLATTEN("interfaceVlanProperties", &vlan_type),
    JSONMAP_ENUM("interfaceAssociationProtocol", E, association, &association_enum),
    JSONMAP_END,
};
#undef E
const struct jsonmap_type acs_eni_type =
    JSONMAP_TYPE(struct acs_eni, eni_fields, .check = check_eni);

#define ENIS_FIELD(st)                                                                             \
        JSONMAP_ARRAY("elasticNetworkInterfaces", st, enis, n_enis, &acs_eni_type,                 \
                      .limit = ACS_MAX_ENIS)

/* ---- simple messages ---- */

JSONMAP_ENUM_NAMES(role_enum, acs_role_type_from_string, acs_role_type_to_string);

#define M struct acs_credentials_message
static const struct jsonmap_field credentials_message_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, REQ),
    JSONMAP_STRING("taskArn", M, task_arn, REQ),
    JSONMAP_STRING("taskClusterArn", M, task_cluster_arn),
    JSONMAP_OBJECT("roleCredentials", M, credentials, &acs_credentials_type, REQ),
    JSONMAP_ENUM("roleType", M, role_type, &role_enum, REQ),
    JSONMAP_END,
};
#undef M

static const struct jsonmap_field heartbeat_fields[] = {
    JSONMAP_STRING("messageId", struct acs_heartbeat_message, message_id, EMPTY),
    JSONMAP_BOOL("healthy", struct acs_heartbeat_message, healthy),
    JSONMAP_END,
};

static int check_wait_timeout(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        if (*(const int64_t *)value <= 0)
                return jsonmap_fail(c, -EINVAL, "invalid waitTimeoutMs");
        return 0;
}

static int check_has_enis(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const struct acs_attach_eni_message *m = obj;
        return m->n_enis == 0 ? jsonmap_fail(c, -EINVAL, "no ENIs") : 0;
}

#define M struct acs_attach_eni_message
static const struct jsonmap_field attach_eni_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, REQ),
    JSONMAP_STRING("clusterArn", M, cluster_arn, REQ),
    JSONMAP_STRING("containerInstanceArn", M, container_instance_arn, REQ),
    JSONMAP_STRING("taskArn", M, task_arn),
    JSONMAP_STRING("taskClusterArn", M, task_cluster_arn),
    JSONMAP_I64("generatedAt", M, generated_at),
    JSONMAP_I64("waitTimeoutMs", M, wait_timeout_ms, .check = check_wait_timeout),
    JSONMAP_ARRAY("elasticNetworkInterfaces", M, enis, n_enis, &acs_eni_type, .limit = ACS_MAX_ENIS,
                  .check = check_has_enis),
    JSONMAP_END,
};
#undef M

/* The task variant names its task; the instance variant has none. */
static int check_attach_task_eni(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        const struct acs_attach_eni_message *m = obj;
        return isempty(m->task_arn) ? jsonmap_fail(c, -EINVAL, "taskArn is not set") : 0;
}

/* ARN-shaped: "arn:partition:service:region:account:resource" with a non-empty resource. */
static bool arn_is_valid(const char *s)
{
        int colons = 0;

        if (!s || strncmp(s, "arn:", 4) != 0)
                return false;
        for (; *s && colons < 5; s++)
                if (*s == ':')
                        colons++;
        return colons == 5 && *s;
}

static int check_arn(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        const char *s = *(char *const *)value;
        char q[48];

        if (s && !arn_is_valid(s))
                return jsonmap_fail(c, -EINVAL, "invalid ARN '%s'", jsonmap_quote(s, q));
        return 0;
}

static const struct jsonmap_field property_fields[] = {
    JSONMAP_STRING("name", struct acs_attachment_property, name, REQ),
    JSONMAP_STRING("value", struct acs_attachment_property, value, REQ),
    JSONMAP_END,
};
static const struct jsonmap_type property_type =
    JSONMAP_TYPE(struct acs_attachment_property, property_fields);

#define M struct acs_confirm_attachment_message
static const struct jsonmap_field attachment_fields[] = {
    JSONMAP_STRING("attachmentArn", M, attachment_arn, REQ, .check = check_arn),
    JSONMAP_STRING("attachmentType", M, attachment_type, EMPTY),
    JSONMAP_ARRAY("attachmentProperties", M, properties, n_properties, &property_type),
    JSONMAP_END,
};
static const struct jsonmap_type attachment_type = JSONMAP_TYPE(M, attachment_fields);

static int check_confirm(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        struct acs_confirm_attachment_message *m = obj;

        if (m->wait_timeout_ms == 0)
                m->wait_timeout_ms = 300000; /* the official default (§2.10) */
        return 0;
}

static const struct jsonmap_field confirm_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, REQ),
    JSONMAP_STRING("clusterArn", M, cluster_arn, EMPTY),
    JSONMAP_STRING("containerInstanceArn", M, container_instance_arn, EMPTY),
    JSONMAP_STRING("taskArn", M, task_arn, .check = check_arn),
    JSONMAP_STRING("taskClusterArn", M, task_cluster_arn),
    JSONMAP_I64("generatedAt", M, generated_at),
    JSONMAP_I64("waitTimeoutMs", M, wait_timeout_ms, .min = 0, .max = INT64_MAX),
    JSONMAP_FLATTEN("attachment", &attachment_type, REQ),
    JSONMAP_END,
};
#undef M

JSONMAP_ENUM_NAMES(status_enum, task_status_from_string, task_status_to_string);

/* The official agent only ever compares desiredStatus with "RUNNING": an unknown or missing
 * one is kept as _TASK_STATUS_INVALID, not refused. */
static void identifier_init(void *obj)
{
        ((struct acs_task_identifier *)obj)->desired_status = _TASK_STATUS_INVALID;
}

#define I struct acs_task_identifier
static const struct jsonmap_field identifier_fields[] = {
    JSONMAP_STRING("taskArn", I, task_arn, EMPTY),
    JSONMAP_STRING("taskClusterArn", I, task_cluster_arn, EMPTY),
    JSONMAP_ENUM("desiredStatus", I, desired_status, &status_enum, .flags = JSONMAP_LENIENT),
    JSONMAP_END,
};
#undef I
static const struct jsonmap_type identifier_type =
    JSONMAP_TYPE(struct acs_task_identifier, identifier_fields, .init = identifier_init);

#define M struct acs_task_manifest_message
static const struct jsonmap_field manifest_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, REQ),
    JSONMAP_STRING("clusterArn", M, cluster_arn, EMPTY),
    JSONMAP_STRING("containerInstanceArn", M, container_instance_arn, EMPTY),
    JSONMAP_I64("generatedAt", M, generated_at),
    JSONMAP_I64("timeline", M, timeline),
    JSONMAP_ARRAY("tasks", M, tasks, n_tasks, &identifier_type, .limit = ACS_MAX_MANIFEST_TASKS),
    JSONMAP_END,
};
#undef M

#define M struct acs_stop_verification_ack_message
static const struct jsonmap_field stop_ack_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, EMPTY),
    JSONMAP_I64("generatedAt", M, generated_at),
    JSONMAP_ARRAY("stopTasks", M, stop_tasks, n_stop_tasks, &identifier_type,
                  .limit = ACS_MAX_MANIFEST_TASKS),
    JSONMAP_END,
};
#undef M

#define M struct acs_update_message
static const struct jsonmap_field update_info_fields[] = {
    JSONMAP_STRING("location", M, location),
    JSONMAP_STRING("signature", M, signature),
    JSONMAP_END,
};
static const struct jsonmap_type update_info_type = JSONMAP_TYPE(M, update_info_fields);

static const struct jsonmap_field update_fields[] = {
    JSONMAP_STRING("messageId", M, message_id, EMPTY),
    JSONMAP_STRING("clusterArn", M, cluster_arn, EMPTY),
    JSONMAP_STRING("containerInstanceArn", M, container_instance_arn, EMPTY),
    JSONMAP_FLATTEN("updateInfo", &update_info_type),
    JSONMAP_END,
};
#undef M

static const struct jsonmap_field text_fields[] = {
    JSONMAP_STRING("message", struct acs_text_message, message, EMPTY),
    JSONMAP_END,
};

/* The body of each message type; NULL for those decoded elsewhere or carrying nothing. */
static const struct jsonmap_type message_types[_ACS_MSG_MAX] = {
    [ACS_MSG_IAM_ROLE_CREDENTIALS] =
        JSONMAP_TYPE(struct acs_credentials_message, credentials_message_fields),
    [ACS_MSG_HEARTBEAT] = JSONMAP_TYPE(struct acs_heartbeat_message, heartbeat_fields),
    [ACS_MSG_ATTACH_TASK_ENI] = JSONMAP_TYPE(struct acs_attach_eni_message, attach_eni_fields,
                                             .check = check_attach_task_eni),
    [ACS_MSG_ATTACH_INSTANCE_ENI] = JSONMAP_TYPE(struct acs_attach_eni_message, attach_eni_fields),
    [ACS_MSG_CONFIRM_ATTACHMENT] =
        JSONMAP_TYPE(struct acs_confirm_attachment_message, confirm_fields, .check = check_confirm),
    [ACS_MSG_TASK_MANIFEST] = JSONMAP_TYPE(struct acs_task_manifest_message, manifest_fields),
    [ACS_MSG_TASK_STOP_VERIFICATION_ACK] =
        JSONMAP_TYPE(struct acs_stop_verification_ack_message, stop_ack_fields),
    [ACS_MSG_STAGE_UPDATE] = JSONMAP_TYPE(struct acs_update_message, update_fields),
    [ACS_MSG_PERFORM_UPDATE] = JSONMAP_TYPE(struct acs_update_message, update_fields),
    [ACS_MSG_CLOSE] = JSONMAP_TYPE(struct acs_text_message, text_fields),
    [ACS_MSG_ERROR] = JSONMAP_TYPE(struct acs_text_message, text_fields),
    [ACS_MSG_EXCEPTION] = JSONMAP_TYPE(struct acs_text_message, text_fields),
};

/* ---- envelope ---- */

void acs_message_done(struct acs_message *m)
{
        if (!m)
                return;
        if (m->type == ACS_MSG_PAYLOAD)
                acs_payload_message_done(&m->payload);
        else if (m->type < _ACS_MSG_MAX && message_types[m->type].fields)
                jsonmap_done(&message_types[m->type], &m->payload);
        *m = (struct acs_message){};
}

static int decode_body(struct jsonmap_ctx *c, const struct acs_type_info *ti, json_object *msg,
                       struct acs_message *m)
{
        if (ti->exception >= 0)
                m->text.exception = ti->exception;
        if (ti->type == ACS_MSG_PAYLOAD)
                return acs_decode_payload(c, msg, &m->payload);
        if (!message_types[ti->type].fields)
                return 0;
        /* Every body struct is a member of the union, so its address is the union's. */
        return jsonmap_decode(c, &message_types[ti->type], msg, &m->payload);
}

/* {"<Name>":"text"}: an object with exactly one string member naming a type that has a
 * single message text (the exceptions, CloseMessage, ErrorMessage), like the official
 * DecodeConnectionError. */
static int decode_compact(struct jsonmap_ctx *c, json_object *root, struct acs_message *m)
{
        const struct acs_type_info *ti = NULL;
        json_object *text = NULL;
        const char *key = NULL;
        int r;

        if (json_object_object_length(root) == 1) {
                json_object_object_foreach (root, k, v) {
                        key = k;
                        text = v;
                        ti = acs_type_lookup(k);
                }
        }
        if (!ti || !(ti->type == ACS_MSG_EXCEPTION || ti->type == ACS_MSG_CLOSE ||
                     ti->type == ACS_MSG_ERROR))
                return jsonmap_fail(c, -EBADMSG, "no message type");
        if (!text || !json_object_is_type(text, json_type_string))
                return jsonmap_fail(c, -EBADMSG, "%s text is not a string", ti->name);
        const struct jsonmap_field f[] = {
            JSONMAP_STRING(key, struct acs_text_message, message),
            JSONMAP_END,
        };
        const struct jsonmap_type t = JSONMAP_TYPE(struct acs_text_message, f);
        r = jsonmap_decode(c, &t, root, &m->text);
        if (r < 0)
                return r;
        m->type = ti->type;
        if (ti->exception >= 0)
                m->text.exception = ti->exception;
        snprintf(m->type_name, sizeof(m->type_name), "%s", ti->name);
        return 0;
}

static int report(struct acs_error *err, struct jsonmap_ctx *c, enum acs_message_type type, int r)
{
        if (err) {
                err->type = type;
                snprintf(err->reason, sizeof(err->reason), "%.*s", (int)sizeof(err->reason) - 1,
                         c->reason[0] ? c->reason : "invalid message");
        }
        return r;
}

static int decode_root(const char *data, size_t len, struct jsonmap_ctx *c, json_object **ret)
{
        int r;

        if (len > ACS_MAX_MESSAGE_SIZE)
                return jsonmap_fail(c, -E2BIG, "message of %zu bytes exceeds %u bytes", len,
                                    ACS_MAX_MESSAGE_SIZE);
        r = json_parse(data ? data : "", len, ret);
        if (r == -ENOMEM)
                return jsonmap_fail(c, r, "out of memory");
        if (r < 0)
                return jsonmap_fail(c, -EBADMSG,
                                    "not a JSON document (or nested deeper than %d levels)",
                                    ECS_JSON_MAX_DEPTH);
        if (!json_object_is_type(*ret, json_type_object))
                return jsonmap_fail(c, -EBADMSG, "not a JSON object");
        return 0;
}

int acs_decode(const char *data, size_t len, struct acs_message *ret, struct acs_error *err)
{
        _cleanup_json_ json_object *root = NULL;
        const struct acs_type_info *ti;
        struct acs_message m = {};
        struct jsonmap_ctx c;
        json_object *jtype, *msg;
        const char *type;
        char q[48];
        int r;

        if (!data && len > 0)
                return -EINVAL;
        jsonmap_ctx_init(&c, NULL, &acs_limits);
        r = decode_root(data, len, &c, &root);
        if (r < 0)
                return report(err, &c, ACS_MSG_UNKNOWN, r);

        jtype = json_get(root, "type");
        if (jtype && !json_object_is_type(jtype, json_type_string))
                return report(err, &c, ACS_MSG_UNKNOWN,
                              jsonmap_fail(&c, -EBADMSG, "type is not a string"));
        type = jtype ? json_object_get_string(jtype) : "";
        if (!*type) {
                r = decode_compact(&c, root, &m);
                if (r < 0) {
                        acs_message_done(&m);
                        return report(err, &c, ACS_MSG_UNKNOWN, r);
                }
                *ret = m;
                return 0;
        }

        ti = acs_type_lookup(type);
        if (!ti) {
                /* Dropped by the session, and it does not keep the connection alive. */
                m.type = ACS_MSG_UNKNOWN;
                snprintf(m.type_name, sizeof(m.type_name), "%s", jsonmap_quote(type, q));
                *ret = m;
                return 0;
        }
        msg = json_get(root, "message");
        if (!msg || !json_object_is_type(msg, json_type_object))
                return report(err, &c, ACS_MSG_UNKNOWN,
                              jsonmap_fail(&c, -EBADMSG, "%s: message is not an object", ti->name));

        m.type = ti->type;
        snprintf(m.type_name, sizeof(m.type_name), "%s", ti->name);
        r = decode_body(&c, ti, msg, &m);
        if (r < 0) {
                acs_message_done(&m);
                jsonmap_prepend(&c, ti->name); /* for the log line */
                return report(err, &c, r == -ENOMEM ? ACS_MSG_UNKNOWN : ti->type, r);
        }
        *ret = m;
        return 0;
}
