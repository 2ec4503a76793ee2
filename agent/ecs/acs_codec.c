/* ACS message decoding (§2.4-2.13): the envelope, and every message type except the
 * PayloadMessage's tasks (acs_payload.c). */
#include <arpa/inet.h>
#include <stdio.h>

#include "acs_internal.h"

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

/* ---- credentials ---- */

static char *wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

void acs_credentials_done(struct acs_credentials *c)
{
        if (!c)
                return;
        free(c->credentials_id);
        free(c->role_arn);
        free(c->access_key_id);
        wipe_free(c->secret_access_key);
        wipe_free(c->session_token);
        free(c->expiration);
        *c = (struct acs_credentials){};
}

int acs_decode_credentials(struct acs_dec *d, json_object *o, struct acs_credentials *ret)
{
        struct acs_credentials c = {};
        int r;

        /* Member names only in reasons: values may be secret. */
        if ((r = acs_get_string(d, o, "credentialsId", true, &c.credentials_id)) < 0 ||
            (r = acs_get_string_or_empty(d, o, "roleArn", &c.role_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, o, "accessKeyId", &c.access_key_id)) < 0 ||
            (r = acs_get_string_or_empty(d, o, "secretAccessKey", &c.secret_access_key)) < 0 ||
            (r = acs_get_string_or_empty(d, o, "sessionToken", &c.session_token)) < 0 ||
            (r = acs_get_string_or_empty(d, o, "expiration", &c.expiration)) < 0) {
                acs_credentials_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ---- ENIs (§6.5) ---- */

static void eni_done(struct acs_eni *e)
{
        free(e->ec2_id);
        free(e->mac_address);
        free(e->attachment_arn);
        for (size_t i = 0; i < e->n_ipv4; i++)
                free(e->ipv4[i].address);
        free(e->ipv4);
        for (size_t i = 0; i < e->n_ipv6; i++)
                free(e->ipv6[i].address);
        free(e->ipv6);
        free(e->subnet_gateway_ipv4);
        free(e->subnet_gateway_ipv6);
        strv_free(e->dns_servers);
        strv_free(e->search_domains);
        free(e->private_dns_name);
        free(e->vlan_id);
        free(e->trunk_mac_address);
}

void acs_enis_free(struct acs_eni *e, size_t n)
{
        for (size_t i = 0; e && i < n; i++)
                eni_done(&e[i]);
        free(e);
}

static int decode_eni_addresses(struct acs_dec *d, json_object *o, const char *key,
                                const char *addr_key, int family, struct acs_eni_address **ret,
                                size_t *ret_n)
{
        unsigned char buf[sizeof(struct in6_addr)];
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, o, key, ACS_MAX_LIST_ITEMS, &a);
        if (r < 0)
                return r;
        n = a ? json_object_array_length(a) : 0;
        if (n == 0)
                return 0;
        *ret = calloc(n, sizeof(**ret));
        if (!*ret)
                return acs_fail(d, -ENOMEM, "out of memory");
        *ret_n = n;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                char q[48];
                if (!e || !json_object_is_type(e, json_type_object))
                        return acs_fail(d, -EINVAL, "%s[%zu] is not an object", key, i);
                r = acs_get_string(d, e, addr_key, true, &(*ret)[i].address);
                if (r < 0)
                        return r;
                if (inet_pton(family, (*ret)[i].address, buf) != 1)
                        return acs_fail(d, -EINVAL, "%s[%zu]: invalid address '%s'", key, i,
                                        acs_quote((*ret)[i].address, q));
                r = acs_get_bool(d, e, "primary", &(*ret)[i].primary);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "<address>/<prefix>": exactly one '/' (as the official ValidateENI), and since the net
 * layer takes both the gateway and the ENI's netmask from it, a real address and prefix. */
static int check_subnet_gateway(struct acs_dec *d, const char *what, const char *s, int family)
{
        unsigned char buf[sizeof(struct in6_addr)];
        char addr[INET6_ADDRSTRLEN], q[48];
        const char *slash = strchr(s, '/');
        unsigned long prefix;
        char *end;

        if (!slash || strchr(slash + 1, '/'))
                return acs_fail(d, -EINVAL, "invalid subnet gateway %s address '%s'", what,
                                acs_quote(s, q));
        if ((size_t)(slash - s) >= sizeof(addr) || !slash[1] || slash[1] < '0' || slash[1] > '9')
                return acs_fail(d, -EINVAL, "invalid subnet gateway %s address '%s'", what,
                                acs_quote(s, q));
        memcpy(addr, s, (size_t)(slash - s));
        addr[slash - s] = 0;
        errno = 0;
        prefix = strtoul(slash + 1, &end, 10);
        if (errno || *end || prefix > (family == AF_INET ? 32U : 128U) ||
            inet_pton(family, addr, buf) != 1)
                return acs_fail(d, -EINVAL, "invalid subnet gateway %s address '%s'", what,
                                acs_quote(s, q));
        return 0;
}

static int decode_eni_fields(struct acs_dec *d, json_object *o, struct acs_eni *e)
{
        json_object *vlan;
        char *proto = NULL;
        int r;

        if ((r = acs_get_string(d, o, "ec2Id", false, &e->ec2_id)) < 0 ||
            (r = acs_get_string(d, o, "macAddress", false, &e->mac_address)) < 0 ||
            (r = acs_get_string(d, o, "attachmentArn", false, &e->attachment_arn)) < 0 ||
            (r = decode_eni_addresses(d, o, "ipv4Addresses", "privateAddress", AF_INET, &e->ipv4,
                                      &e->n_ipv4)) < 0 ||
            (r = decode_eni_addresses(d, o, "ipv6Addresses", "address", AF_INET6, &e->ipv6,
                                      &e->n_ipv6)) < 0 ||
            (r = acs_get_string(d, o, "subnetGatewayIpv4Address", false, &e->subnet_gateway_ipv4)) <
                0 ||
            (r = acs_get_string(d, o, "subnetGatewayIpv6Address", false, &e->subnet_gateway_ipv6)) <
                0 ||
            (r = acs_get_strv(d, o, "domainNameServers", &e->dns_servers)) < 0 ||
            (r = acs_get_strv(d, o, "domainName", &e->search_domains)) < 0 ||
            (r = acs_get_string(d, o, "privateDnsName", false, &e->private_dns_name)) < 0 ||
            (r = acs_get_object(d, o, "interfaceVlanProperties", &vlan)) < 0)
                return r;
        if (vlan && ((r = acs_get_string(d, vlan, "vlanId", false, &e->vlan_id)) < 0 ||
                     (r = acs_get_string(d, vlan, "trunkInterfaceMacAddress", false,
                                         &e->trunk_mac_address)) < 0))
                return r;

        r = acs_get_string(d, o, "interfaceAssociationProtocol", false, &proto);
        if (r < 0)
                return r;
        if (!proto || streq(proto, "default"))
                e->association = ACS_ENI_ASSOCIATION_DEFAULT;
        else if (streq(proto, "vlan"))
                e->association = ACS_ENI_ASSOCIATION_VLAN;
        else {
                char q[48];
                r = acs_fail(d, -EINVAL, "invalid interface association protocol '%s'",
                             acs_quote(proto, q));
        }
        free(proto);
        return r;
}

/* The official ValidateENI rules, in its order. */
static int validate_eni(struct acs_dec *d, const struct acs_eni *e)
{
        int r;

        if (e->n_ipv6 > 0 && e->n_ipv4 == 0) {
                if (!e->subnet_gateway_ipv6)
                        return acs_fail(d, -EINVAL, "no subnet gateway ipv6 address");
                r = check_subnet_gateway(d, "ipv6", e->subnet_gateway_ipv6, AF_INET6);
                if (r < 0)
                        return r;
        } else {
                if (e->n_ipv4 == 0)
                        return acs_fail(d, -EINVAL, "no ipv4 addresses");
                if (!e->subnet_gateway_ipv4)
                        return acs_fail(d, -EINVAL, "no subnet gateway ipv4 address");
                r = check_subnet_gateway(d, "ipv4", e->subnet_gateway_ipv4, AF_INET);
                if (r < 0)
                        return r;
        }
        if (isempty(e->mac_address))
                return acs_fail(d, -EINVAL, "empty eni mac address");
        if (isempty(e->ec2_id))
                return acs_fail(d, -EINVAL, "empty eni id");
        if (e->association == ACS_ENI_ASSOCIATION_VLAN &&
            (isempty(e->vlan_id) || isempty(e->trunk_mac_address)))
                return acs_fail(d, -EINVAL, "vlan interface properties missing");
        return 0;
}

int acs_decode_enis(struct acs_dec *d, json_object *o, const char *key, struct acs_eni **ret,
                    size_t *ret_n)
{
        struct acs_eni *enis = NULL;
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, o, key, ACS_MAX_ENIS, &a);
        if (r < 0)
                return r;
        n = a ? json_object_array_length(a) : 0;
        if (n > 0) {
                enis = calloc(n, sizeof(*enis));
                if (!enis)
                        return acs_fail(d, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                char where[sizeof(d->where)];

                memcpy(where, d->where, sizeof(where));
                if (where[0])
                        acs_where(d, "%.60s: eni message validation: %s[%zu]", where, key, i);
                else
                        acs_where(d, "eni message validation: %s[%zu]", key, i);
                if (!e || !json_object_is_type(e, json_type_object))
                        r = acs_fail(d, -EINVAL, "not an object");
                else if ((r = decode_eni_fields(d, e, &enis[i])) >= 0)
                        r = validate_eni(d, &enis[i]);
                memcpy(d->where, where, sizeof(where));
                if (r < 0) {
                        acs_enis_free(enis, n);
                        return r;
                }
        }
        *ret = enis;
        *ret_n = n;
        return 0;
}

/* ---- simple messages ---- */

static int decode_credentials_message(struct acs_dec *d, json_object *msg,
                                      struct acs_credentials_message *m)
{
        json_object *creds;
        char *role = NULL;
        int r;

        m->role_type = _ACS_ROLE_INVALID;
        if ((r = acs_get_string(d, msg, "messageId", true, &m->message_id)) < 0 ||
            (r = acs_get_string(d, msg, "taskArn", true, &m->task_arn)) < 0 ||
            (r = acs_get_string(d, msg, "taskClusterArn", false, &m->task_cluster_arn)) < 0 ||
            (r = acs_get_object(d, msg, "roleCredentials", &creds)) < 0)
                return r;
        if (!creds)
                return acs_fail(d, -EINVAL, "roleCredentials is not set");
        acs_where(d, "roleCredentials");
        r = acs_decode_credentials(d, creds, &m->credentials);
        acs_where(d, "%s", "");
        if (r < 0)
                return r;
        r = acs_get_string(d, msg, "roleType", false, &role);
        if (r < 0)
                return r;
        m->role_type = acs_role_type_from_string(role);
        if (m->role_type < 0) {
                char q[48];
                r = acs_fail(d, -EINVAL, "roleType '%s' is invalid", acs_quote(role, q));
        }
        free(role);
        return r;
}

static int decode_attach_eni_message(struct acs_dec *d, json_object *msg, bool task_variant,
                                     struct acs_attach_eni_message *m)
{
        int r;

        if ((r = acs_get_string(d, msg, "messageId", true, &m->message_id)) < 0 ||
            (r = acs_get_string(d, msg, "clusterArn", true, &m->cluster_arn)) < 0 ||
            (r = acs_get_string(d, msg, "containerInstanceArn", true, &m->container_instance_arn)) <
                0 ||
            (task_variant && (r = acs_get_string(d, msg, "taskArn", true, &m->task_arn)) < 0) ||
            (task_variant &&
             (r = acs_get_string(d, msg, "taskClusterArn", false, &m->task_cluster_arn)) < 0) ||
            (r = acs_get_int(d, msg, "generatedAt", INT64_MIN, INT64_MAX, &m->generated_at)) < 0 ||
            (r = acs_get_int(d, msg, "waitTimeoutMs", INT64_MIN, INT64_MAX, &m->wait_timeout_ms)) <
                0)
                return r;
        if (m->wait_timeout_ms <= 0)
                return acs_fail(d, -EINVAL, "invalid waitTimeoutMs");
        r = acs_decode_enis(d, msg, "elasticNetworkInterfaces", &m->enis, &m->n_enis);
        if (r < 0)
                return r;
        if (m->n_enis == 0)
                return acs_fail(d, -EINVAL, "no ENIs");
        return 0;
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

static int decode_confirm_attachment(struct acs_dec *d, json_object *msg,
                                     struct acs_confirm_attachment_message *m)
{
        json_object *att, *props;
        char q[48];
        size_t n;
        int r;

        if ((r = acs_get_string(d, msg, "messageId", true, &m->message_id)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "clusterArn", &m->cluster_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "containerInstanceArn",
                                         &m->container_instance_arn)) < 0 ||
            (r = acs_get_string(d, msg, "taskArn", false, &m->task_arn)) < 0 ||
            (r = acs_get_string(d, msg, "taskClusterArn", false, &m->task_cluster_arn)) < 0 ||
            (r = acs_get_int(d, msg, "generatedAt", INT64_MIN, INT64_MAX, &m->generated_at)) < 0 ||
            (r = acs_get_int(d, msg, "waitTimeoutMs", 0, INT64_MAX, &m->wait_timeout_ms)) < 0 ||
            (r = acs_get_object(d, msg, "attachment", &att)) < 0)
                return r;
        if (m->wait_timeout_ms == 0)
                m->wait_timeout_ms = 300000; /* the official default (§2.10) */
        if (m->task_arn && !arn_is_valid(m->task_arn))
                return acs_fail(d, -EINVAL, "invalid taskArn '%s'", acs_quote(m->task_arn, q));
        if (!att)
                return acs_fail(d, -EINVAL, "attachment is not set");
        acs_where(d, "attachment");
        if ((r = acs_get_string(d, att, "attachmentArn", true, &m->attachment_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, att, "attachmentType", &m->attachment_type)) < 0 ||
            (r = acs_get_array(d, att, "attachmentProperties", ACS_MAX_LIST_ITEMS, &props)) < 0)
                return r;
        if (!arn_is_valid(m->attachment_arn))
                return acs_fail(d, -EINVAL, "invalid attachmentArn '%s'",
                                acs_quote(m->attachment_arn, q));
        n = props ? json_object_array_length(props) : 0;
        if (n > 0) {
                m->properties = calloc(n, sizeof(*m->properties));
                if (!m->properties)
                        return acs_fail(d, -ENOMEM, "out of memory");
                m->n_properties = n;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(props, i);
                acs_where(d, "attachment property %zu", i);
                if (!p || !json_object_is_type(p, json_type_object))
                        return acs_fail(d, -EINVAL, "not an object");
                if ((r = acs_get_string(d, p, "name", true, &m->properties[i].name)) < 0 ||
                    (r = acs_get_string(d, p, "value", true, &m->properties[i].value)) < 0)
                        return r;
        }
        return 0;
}

static void task_identifiers_free(struct acs_task_identifier *t, size_t n)
{
        for (size_t i = 0; t && i < n; i++) {
                free(t[i].task_arn);
                free(t[i].task_cluster_arn);
        }
        free(t);
}

static int decode_task_identifiers(struct acs_dec *d, json_object *msg, const char *key,
                                   struct acs_task_identifier **ret, size_t *ret_n)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, msg, key, ACS_MAX_MANIFEST_TASKS, &a);
        if (r < 0)
                return r;
        n = a ? json_object_array_length(a) : 0;
        if (n == 0)
                return 0;
        *ret = calloc(n, sizeof(**ret));
        if (!*ret)
                return acs_fail(d, -ENOMEM, "out of memory");
        *ret_n = n;
        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_array_get_idx(a, i);
                char *status = NULL;

                acs_where(d, "%s[%zu]", key, i);
                if (!t || !json_object_is_type(t, json_type_object))
                        return acs_fail(d, -EINVAL, "not an object");
                if ((r = acs_get_string_or_empty(d, t, "taskArn", &(*ret)[i].task_arn)) < 0 ||
                    (r = acs_get_string_or_empty(d, t, "taskClusterArn",
                                                 &(*ret)[i].task_cluster_arn)) < 0 ||
                    (r = acs_get_string(d, t, "desiredStatus", false, &status)) < 0)
                        return r;
                (*ret)[i].desired_status = task_status_from_string(status);
                free(status);
        }
        acs_where(d, "%s", "");
        return 0;
}

static int decode_manifest(struct acs_dec *d, json_object *msg, struct acs_task_manifest_message *m)
{
        int r;

        if ((r = acs_get_string(d, msg, "messageId", true, &m->message_id)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "clusterArn", &m->cluster_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "containerInstanceArn",
                                         &m->container_instance_arn)) < 0 ||
            (r = acs_get_int(d, msg, "generatedAt", INT64_MIN, INT64_MAX, &m->generated_at)) < 0 ||
            (r = acs_get_int(d, msg, "timeline", INT64_MIN, INT64_MAX, &m->timeline)) < 0)
                return r;
        return decode_task_identifiers(d, msg, "tasks", &m->tasks, &m->n_tasks);
}

static int decode_stop_ack(struct acs_dec *d, json_object *msg,
                           struct acs_stop_verification_ack_message *m)
{
        int r;

        if ((r = acs_get_string_or_empty(d, msg, "messageId", &m->message_id)) < 0 ||
            (r = acs_get_int(d, msg, "generatedAt", INT64_MIN, INT64_MAX, &m->generated_at)) < 0)
                return r;
        return decode_task_identifiers(d, msg, "stopTasks", &m->stop_tasks, &m->n_stop_tasks);
}

static int decode_update(struct acs_dec *d, json_object *msg, struct acs_update_message *m)
{
        json_object *info;
        int r;

        if ((r = acs_get_string_or_empty(d, msg, "messageId", &m->message_id)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "clusterArn", &m->cluster_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, msg, "containerInstanceArn",
                                         &m->container_instance_arn)) < 0 ||
            (r = acs_get_object(d, msg, "updateInfo", &info)) < 0)
                return r;
        if (info && ((r = acs_get_string(d, info, "location", false, &m->location)) < 0 ||
                     (r = acs_get_string(d, info, "signature", false, &m->signature)) < 0))
                return r;
        return 0;
}

/* ---- envelope ---- */

void acs_message_done(struct acs_message *m)
{
        if (!m)
                return;
        switch (m->type) {
        case ACS_MSG_PAYLOAD:
                acs_payload_message_done(&m->payload);
                break;
        case ACS_MSG_IAM_ROLE_CREDENTIALS:
                free(m->credentials.message_id);
                free(m->credentials.task_arn);
                free(m->credentials.task_cluster_arn);
                acs_credentials_done(&m->credentials.credentials);
                break;
        case ACS_MSG_HEARTBEAT:
                free(m->heartbeat.message_id);
                break;
        case ACS_MSG_ATTACH_TASK_ENI:
        case ACS_MSG_ATTACH_INSTANCE_ENI:
                free(m->attach_eni.message_id);
                free(m->attach_eni.cluster_arn);
                free(m->attach_eni.container_instance_arn);
                free(m->attach_eni.task_arn);
                free(m->attach_eni.task_cluster_arn);
                acs_enis_free(m->attach_eni.enis, m->attach_eni.n_enis);
                break;
        case ACS_MSG_CONFIRM_ATTACHMENT:
                free(m->confirm.message_id);
                free(m->confirm.cluster_arn);
                free(m->confirm.container_instance_arn);
                free(m->confirm.task_arn);
                free(m->confirm.task_cluster_arn);
                free(m->confirm.attachment_arn);
                free(m->confirm.attachment_type);
                for (size_t i = 0; i < m->confirm.n_properties; i++) {
                        free(m->confirm.properties[i].name);
                        free(m->confirm.properties[i].value);
                }
                free(m->confirm.properties);
                break;
        case ACS_MSG_TASK_MANIFEST:
                free(m->manifest.message_id);
                free(m->manifest.cluster_arn);
                free(m->manifest.container_instance_arn);
                task_identifiers_free(m->manifest.tasks, m->manifest.n_tasks);
                break;
        case ACS_MSG_TASK_STOP_VERIFICATION_ACK:
                free(m->stop_ack.message_id);
                task_identifiers_free(m->stop_ack.stop_tasks, m->stop_ack.n_stop_tasks);
                break;
        case ACS_MSG_STAGE_UPDATE:
        case ACS_MSG_PERFORM_UPDATE:
                free(m->update.message_id);
                free(m->update.cluster_arn);
                free(m->update.container_instance_arn);
                free(m->update.location);
                free(m->update.signature);
                break;
        case ACS_MSG_CLOSE:
        case ACS_MSG_ERROR:
        case ACS_MSG_EXCEPTION:
                free(m->text.message);
                break;
        default:
                break;
        }
        *m = (struct acs_message){};
}

static int decode_body(struct acs_dec *d, const struct acs_type_info *ti, json_object *msg,
                       struct acs_message *m)
{
        switch (ti->type) {
        case ACS_MSG_PAYLOAD:
                return acs_decode_payload(d, msg, &m->payload);
        case ACS_MSG_IAM_ROLE_CREDENTIALS:
                return decode_credentials_message(d, msg, &m->credentials);
        case ACS_MSG_HEARTBEAT: {
                int r = acs_get_string_or_empty(d, msg, "messageId", &m->heartbeat.message_id);
                return r < 0 ? r : acs_get_bool(d, msg, "healthy", &m->heartbeat.healthy);
        }
        case ACS_MSG_ATTACH_TASK_ENI:
        case ACS_MSG_ATTACH_INSTANCE_ENI:
                return decode_attach_eni_message(d, msg, ti->type == ACS_MSG_ATTACH_TASK_ENI,
                                                 &m->attach_eni);
        case ACS_MSG_CONFIRM_ATTACHMENT:
                return decode_confirm_attachment(d, msg, &m->confirm);
        case ACS_MSG_TASK_MANIFEST:
                return decode_manifest(d, msg, &m->manifest);
        case ACS_MSG_TASK_STOP_VERIFICATION_ACK:
                return decode_stop_ack(d, msg, &m->stop_ack);
        case ACS_MSG_STAGE_UPDATE:
        case ACS_MSG_PERFORM_UPDATE:
                return decode_update(d, msg, &m->update);
        case ACS_MSG_CLOSE:
        case ACS_MSG_ERROR:
        case ACS_MSG_EXCEPTION:
                if (ti->exception >= 0)
                        m->text.exception = ti->exception;
                return acs_get_string_or_empty(d, msg, "message", &m->text.message);
        default:
                return 0;
        }
}

/* {"<Name>":"text"}: an object with exactly one string member naming a type that has a
 * single message text (the exceptions, CloseMessage, ErrorMessage), like the official
 * DecodeConnectionError. */
static int decode_compact(struct acs_dec *d, json_object *root, struct acs_message *m)
{
        const struct acs_type_info *ti;
        int r;

        if (json_object_object_length(root) != 1)
                return acs_fail(d, -EBADMSG, "no message type");
        json_object_object_foreach (root, k, v) {
                ti = acs_type_lookup(k);
                if (!ti || !(ti->type == ACS_MSG_EXCEPTION || ti->type == ACS_MSG_CLOSE ||
                             ti->type == ACS_MSG_ERROR))
                        return acs_fail(d, -EBADMSG, "no message type");
                if (!v || !json_object_is_type(v, json_type_string))
                        return acs_fail(d, -EBADMSG, "%s text is not a string", ti->name);
                r = acs_get_string(d, root, k, false, &m->text.message);
                if (r < 0)
                        return r;
                m->type = ti->type;
                if (ti->exception >= 0)
                        m->text.exception = ti->exception;
                snprintf(m->type_name, sizeof(m->type_name), "%s", ti->name);
        }
        return 0;
}

static int report(struct acs_error *err, struct acs_dec *d, enum acs_message_type type, int r)
{
        if (err) {
                err->type = type;
                snprintf(err->reason, sizeof(err->reason), "%s",
                         d->reason[0] ? d->reason : "invalid message");
        }
        return r;
}

int acs_decode(const char *data, size_t len, struct acs_message *ret, struct acs_error *err)
{
        _cleanup_json_ json_object *root = NULL;
        const struct acs_type_info *ti;
        struct acs_message m = {};
        struct acs_dec d = {};
        json_object *jtype, *msg;
        const char *type;
        char q[48];
        int r;

        if (!data && len > 0)
                return -EINVAL;
        if (len > ACS_MAX_MESSAGE_SIZE)
                return report(err, &d, ACS_MSG_UNKNOWN,
                              acs_fail(&d, -E2BIG, "message of %zu bytes exceeds %u bytes", len,
                                       ACS_MAX_MESSAGE_SIZE));
        r = json_parse(data ? data : "", len, &root);
        if (r == -ENOMEM)
                return report(err, &d, ACS_MSG_UNKNOWN, acs_fail(&d, r, "out of memory"));
        if (r < 0)
                return report(err, &d, ACS_MSG_UNKNOWN,
                              acs_fail(&d, -EBADMSG,
                                       "not a JSON document (or nested deeper "
                                       "than %d levels)",
                                       ECS_JSON_MAX_DEPTH));
        if (!json_object_is_type(root, json_type_object))
                return report(err, &d, ACS_MSG_UNKNOWN,
                              acs_fail(&d, -EBADMSG, "not a JSON object"));

        jtype = json_get(root, "type");
        if (jtype && !json_object_is_type(jtype, json_type_string))
                return report(err, &d, ACS_MSG_UNKNOWN,
                              acs_fail(&d, -EBADMSG, "type is not a string"));
        type = jtype ? json_object_get_string(jtype) : "";
        if (!*type) {
                r = decode_compact(&d, root, &m);
                if (r < 0) {
                        acs_message_done(&m);
                        return report(err, &d, ACS_MSG_UNKNOWN, r);
                }
                *ret = m;
                return 0;
        }

        ti = acs_type_lookup(type);
        if (!ti) {
                /* Dropped by the session, and it does not keep the connection alive. */
                m.type = ACS_MSG_UNKNOWN;
                snprintf(m.type_name, sizeof(m.type_name), "%s", acs_quote(type, q));
                *ret = m;
                return 0;
        }
        msg = json_get(root, "message");
        if (!msg || !json_object_is_type(msg, json_type_object))
                return report(err, &d, ACS_MSG_UNKNOWN,
                              acs_fail(&d, -EBADMSG, "%s: message is not an object", ti->name));

        m.type = ti->type;
        snprintf(m.type_name, sizeof(m.type_name), "%s", ti->name);
        r = decode_body(&d, ti, msg, &m);
        if (r < 0) {
                acs_message_done(&m);
                acs_prepend(&d, ti->name); /* for the log line */
                return report(err, &d, r == -ENOMEM ? ACS_MSG_UNKNOWN : ti->type, r);
        }
        *ret = m;
        return 0;
}
