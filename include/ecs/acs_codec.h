/* ACS wire codec (reference §2): decodes every ACS message into typed structs and encodes the
 * agent's replies. Pure functions: no I/O, no logging above debug, no global state.
 *
 * The engine never sees ACS JSON: a PayloadMessage decodes straight into struct ecs_task
 * objects (include/ecs/task.h), validated. A task that fails validation does not fail the
 * message: it yields an entry with its ARN and the reason the official agent reports for it
 * (§1.8(c)), and the payload is flagged as not fully handled, so the session reports that
 * task STOPPED and does not ack.
 *
 * Limits on what a peer controls (STYLE §8). Over a message-level limit the whole message
 * is refused (nothing changes, no ack, ACS resends); over a per-task limit only that task is
 * refused:
 *   - message size           ACS_MAX_MESSAGE_SIZE (4 MiB, the ws client's frame limit too)
 *   - JSON nesting           ECS_JSON_MAX_DEPTH (json_parse), also for the JSON documents
 *                            carried in strings (dockerConfig, overrides)
 *   - tasks per payload      ACS_MAX_TASKS_PER_PAYLOAD (message refused when exceeded)
 *   - containers per task    ACS_MAX_CONTAINERS_PER_TASK (task refused)
 *   - volumes per task       ACS_MAX_VOLUMES_PER_TASK (task refused)
 *   - ENIs per task/message  ACS_MAX_ENIS
 *   - any string             ACS_MAX_STRING_LEN bytes, no embedded NUL
 *   - any other list or map  ACS_MAX_LIST_ITEMS entries (command, env, ports, mounts, ...)
 *   - manifest tasks         ACS_MAX_MANIFEST_TASKS
 * Secrets (credentials) are never put into error reasons, and are wiped when freed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/task.h"

#define ACS_MAX_MESSAGE_SIZE        (4U * 1024U * 1024U)
#define ACS_MAX_TASKS_PER_PAYLOAD   100U
#define ACS_MAX_CONTAINERS_PER_TASK 100U
#define ACS_MAX_VOLUMES_PER_TASK    256U
#define ACS_MAX_ENIS                16U
#define ACS_MAX_STRING_LEN          (64U * 1024U)
#define ACS_MAX_LIST_ITEMS          4096U
#define ACS_MAX_MANIFEST_TASKS      4096U

/* The reason text the official agent reports for a task it cannot load (sic, §1.8(c)). */
#define ACS_TASK_ERROR_PREFIX "UnrecogniedTaskError: Error loading task - "

enum acs_message_type {
        /* A well-formed envelope whose type we do not know. Logged and dropped; unlike every
         * other type it does NOT count as activity for the idle timer (§2.4, §2.14). */
        ACS_MSG_UNKNOWN,
        ACS_MSG_PAYLOAD,
        ACS_MSG_IAM_ROLE_CREDENTIALS,
        ACS_MSG_HEARTBEAT,
        ACS_MSG_ATTACH_TASK_ENI,
        ACS_MSG_ATTACH_INSTANCE_ENI,
        ACS_MSG_CONFIRM_ATTACHMENT,
        ACS_MSG_TASK_MANIFEST,
        ACS_MSG_TASK_STOP_VERIFICATION_ACK,
        ACS_MSG_STAGE_UPDATE,
        ACS_MSG_PERFORM_UPDATE,
        ACS_MSG_CLOSE,
        ACS_MSG_ERROR,
        ACS_MSG_EXCEPTION,
        /* Recognised shapes with no handler (the agent->ACS requests: AckRequest, NackRequest,
         * HeartbeatAckRequest, IAMRoleCredentialsAckRequest, TaskStopVerificationMessage).
         * They count as activity and carry nothing else. */
        ACS_MSG_UNHANDLED,
        _ACS_MSG_MAX,
};

enum acs_exception {
        ACS_EXCEPTION_SERVER,            /* ServerException */
        ACS_EXCEPTION_BAD_REQUEST,       /* BadRequestException */
        ACS_EXCEPTION_INVALID_CLUSTER,   /* InvalidClusterException */
        ACS_EXCEPTION_INVALID_INSTANCE,  /* InvalidInstanceException */
        ACS_EXCEPTION_ACCESS_DENIED,     /* AccessDeniedException */
        ACS_EXCEPTION_INACTIVE_INSTANCE, /* InactiveInstanceException: wait 1 h (§2.13) */
        _ACS_EXCEPTION_MAX,
};

enum acs_role_type {
        ACS_ROLE_TASK_APPLICATION, /* "TaskApplication": the task role */
        ACS_ROLE_TASK_EXECUTION,   /* "TaskExecution": the execution role */
        _ACS_ROLE_MAX,
        _ACS_ROLE_INVALID = -EINVAL,
};

enum acs_eni_association {
        ACS_ENI_ASSOCIATION_DEFAULT, /* absent or "default" */
        ACS_ENI_ASSOCIATION_VLAN,    /* trunked branch ENI */
        _ACS_ENI_ASSOCIATION_MAX,
};

/* The wire "type" name; for ACS_MSG_EXCEPTION and ACS_MSG_UNHANDLED a generic label. */
const char *acs_message_type_to_string(enum acs_message_type t);
const char *acs_exception_to_string(enum acs_exception e);
const char *acs_role_type_to_string(enum acs_role_type r);
enum acs_role_type acs_role_type_from_string(const char *s);
/* Whether receiving a message of this type resets the idle (heartbeat) timer (§2.4). */
bool acs_message_type_is_activity(enum acs_message_type t);

/* IAMRoleCredentials. Every string is non-NULL ("" when absent) except that a decoded set
 * always has a non-empty credentials_id. expiration is passed through verbatim (it is echoed
 * in the IAMRoleCredentialsAckRequest). Never log secret_access_key / session_token. */
struct acs_credentials {
        char *credentials_id;
        char *role_arn;
        char *access_key_id;
        char *secret_access_key;
        char *session_token;
        char *expiration;
};
/* Frees (wiping the secrets first) and zeroes; for sets moved out of a message. */
void acs_credentials_done(struct acs_credentials *c);

struct acs_eni_address {
        char *address; /* validated IPv4 / IPv6 literal */
        bool primary;
};

/* ElasticNetworkInterface (§6.5), validated like the official ValidateENI. */
struct acs_eni {
        char *ec2_id;         /* required */
        char *mac_address;    /* required */
        char *attachment_arn; /* NULL when absent */
        struct acs_eni_address *ipv4;
        size_t n_ipv4;
        struct acs_eni_address *ipv6;
        size_t n_ipv6;
        /* "<gateway>/<prefix>", exactly one '/'. v4 required unless IPv6-only (no IPv4
         * address and at least one IPv6 address), then v6 is required. NULL when absent. */
        char *subnet_gateway_ipv4;
        char *subnet_gateway_ipv6;
        char **dns_servers;    /* NULL-terminated; NULL when none */
        char **search_domains; /* "domainName"; NULL-terminated; NULL when none */
        char *private_dns_name;
        enum acs_eni_association association;
        char *vlan_id;           /* vlan only, non-empty */
        char *trunk_mac_address; /* vlan only, non-empty */
};

/* One task of a PayloadMessage. Exactly one of task / error is set. A decoded task has
 * desired_status from desiredStatus (required: RUNNING, STOPPED, NONE, CREATED or
 * MANIFEST_PULLED), family and version never NULL ("" when absent), cluster_arn from
 * taskClusterArn or else the payload's clusterArn, and all runtime fields zero. */
struct acs_payload_task {
        char *arn;             /* as sent (even when invalid); NULL when missing/unreadable */
        struct ecs_task *task; /* owned reference (refs 1); take it with TAKE_PTR or ref it */
        char *error;           /* ACS_TASK_ERROR_PREFIX "<why>" when the task failed */
        /* Only for decoded tasks; credentials_id NULL when the set was not sent. */
        struct acs_credentials role_credentials;      /* task role (TaskApplication) */
        struct acs_credentials execution_credentials; /* execution role (TaskExecution) */
        /* awsvpc ENIs of the task; the engine model has no ENI type yet. */
        struct acs_eni *enis;
        size_t n_enis;
};

struct acs_payload_message {
        char *message_id;             /* non-empty */
        char *cluster_arn;            /* non-empty; echoed as "cluster" in the AckRequest */
        char *container_instance_arn; /* non-empty; echoed as "containerInstance" */
        int64_t seq_num;              /* 0 when absent */
        int64_t generated_at;         /* 0 when absent; opaque */
        struct acs_payload_task *tasks;
        size_t n_tasks;
        size_t n_failed; /* entries with error set; > 0 means: report them, do not ack */
};

struct acs_credentials_message {
        char *message_id;       /* non-empty */
        char *task_arn;         /* non-empty */
        char *task_cluster_arn; /* NULL when absent */
        enum acs_role_type role_type;
        struct acs_credentials credentials; /* credentials_id non-empty */
};

struct acs_heartbeat_message {
        char *message_id; /* "" when absent: still acked, as the official agent does */
        bool healthy;
};

/* AttachTaskNetworkInterfacesMessage / AttachInstanceNetworkInterfacesMessage (§2.9). */
struct acs_attach_eni_message {
        char *message_id;             /* non-empty */
        char *cluster_arn;            /* non-empty */
        char *container_instance_arn; /* non-empty */
        char *task_arn;               /* task variant: non-empty; instance variant: NULL */
        char *task_cluster_arn;       /* NULL when absent */
        int64_t generated_at;
        int64_t wait_timeout_ms; /* > 0 */
        struct acs_eni *enis;    /* at least one, each valid */
        size_t n_enis;
};

struct acs_attachment_property {
        char *name;  /* non-empty */
        char *value; /* non-empty */
};

/* ConfirmAttachmentMessage (§2.10): decoded so the session can ack or ignore it; EBS task
 * attach is not implemented. */
struct acs_confirm_attachment_message {
        char *message_id;             /* non-empty */
        char *cluster_arn;            /* "" when absent */
        char *container_instance_arn; /* "" when absent */
        char *task_arn;               /* NULL when absent */
        char *task_cluster_arn;       /* NULL when absent */
        int64_t generated_at;
        int64_t wait_timeout_ms; /* 300000 when absent or 0 */
        char *attachment_arn;    /* non-empty, ARN-shaped */
        char *attachment_type;   /* "" when absent */
        struct acs_attachment_property *properties;
        size_t n_properties;
};

/* TaskIdentifier. */
struct acs_task_identifier {
        char *task_arn;         /* "" when absent */
        char *task_cluster_arn; /* "" when absent */
        /* Parsed desiredStatus; _TASK_STATUS_INVALID when absent or unknown (the official
         * agent only ever compares it with "RUNNING"). */
        enum task_status desired_status;
};

struct acs_task_manifest_message {
        char *message_id; /* non-empty */
        char *cluster_arn;
        char *container_instance_arn;
        int64_t generated_at;
        int64_t timeline; /* manifest sequence number; 0 when absent (then always stale) */
        struct acs_task_identifier *tasks;
        size_t n_tasks;
};

struct acs_stop_verification_ack_message {
        char *message_id; /* "" when absent (the session ignores it then) */
        int64_t generated_at;
        struct acs_task_identifier *stop_tasks;
        size_t n_stop_tasks;
};

/* StageUpdateMessage / PerformUpdateMessage: self-update is not implemented, the session
 * nacks them; only what the NackRequest needs is kept. */
struct acs_update_message {
        char *message_id;             /* "" when absent */
        char *cluster_arn;            /* "" when absent */
        char *container_instance_arn; /* "" when absent */
        char *location;               /* NULL when absent */
        char *signature;              /* NULL when absent */
};

/* CloseMessage, ErrorMessage and the exceptions: a single text. */
struct acs_text_message {
        enum acs_exception exception; /* ACS_MSG_EXCEPTION only */
        char *message;                /* "" when absent */
};

struct acs_message {
        enum acs_message_type type;
        char type_name[64]; /* the wire type name (printable, truncated); for logging */
        union {
                struct acs_payload_message payload;                /* PAYLOAD */
                struct acs_credentials_message credentials;        /* IAM_ROLE_CREDENTIALS */
                struct acs_heartbeat_message heartbeat;            /* HEARTBEAT */
                struct acs_attach_eni_message attach_eni;          /* ATTACH_*_ENI */
                struct acs_confirm_attachment_message confirm;     /* CONFIRM_ATTACHMENT */
                struct acs_task_manifest_message manifest;         /* TASK_MANIFEST */
                struct acs_stop_verification_ack_message stop_ack; /* STOP_VERIFICATION_ACK */
                struct acs_update_message update;                  /* STAGE/PERFORM_UPDATE */
                struct acs_text_message text;                      /* CLOSE, ERROR, EXCEPTION */
        };
};

/* Why a message was refused. */
struct acs_error {
        /* The recognised type the envelope named when its content failed validation (the
         * message is dropped without ack but still counts as activity), or ACS_MSG_UNKNOWN
         * when the frame could not be decoded at all (no activity). */
        enum acs_message_type type;
        char reason[256];
};

/* Decodes one ACS frame: {"type":T,"message":{...}} or the compact {"<Exception>":"text"}
 * form (§2.4; also CloseMessage / ErrorMessage, as the official decoder allows).
 * Returns 0 and fills *ret (release with acs_message_done()) -- including ACS_MSG_UNKNOWN
 * for a well-formed envelope of an unknown type, and a PayloadMessage whose n_failed > 0.
 * On error *ret is untouched and *err says why: -E2BIG over a limit, -EBADMSG not JSON or
 * no valid envelope, -EINVAL a recognised message failing validation (missing messageId,
 * ...), -ENOMEM. err may be NULL. */
int acs_decode(const char *data, size_t len, struct acs_message *ret, struct acs_error *err);
void acs_message_done(struct acs_message *m);

/* Encoders: each returns 0 and a malloc'ed compact JSON envelope in *ret. NULL string
 * arguments leave their member out (Go omitempty), "" is sent as "". */
int acs_encode_ack(const char *cluster, const char *container_instance, const char *message_id,
                   char **ret);
int acs_encode_heartbeat_ack(const char *message_id, char **ret);
int acs_encode_credentials_ack(const char *message_id, const char *expiration,
                               const char *credentials_id, char **ret);
int acs_encode_nack(const char *cluster, const char *container_instance, const char *message_id,
                    const char *reason, char **ret);
/* {"messageId":..,"stopCandidates":[{"taskArn","taskClusterArn","desiredStatus"}]}. */
int acs_encode_stop_verification(const char *message_id,
                                 const struct acs_task_identifier *candidates, size_t n,
                                 char **ret);

/* `<endpoint>[/]ws?<query>` with Go's url.Values.Encode(): keys sorted, values escaped like
 * url.QueryEscape (space -> '+', all but [A-Za-z0-9-_.~] as %XX). The endpoint keeps its
 * http(s) scheme: the ws client maps it. docker_version NULL or "" omits dockerVersion.
 * ACS (§2.2): agentHash, agentVersion, clusterArn (the configured cluster), containerInstanceArn,
 * dockerVersion ("DockerVersion: <v>"), protocolVersion=2, sendCredentials, seqNum. */
int acs_build_url(const char *endpoint, const char *cluster, const char *container_instance_arn,
                  const char *agent_version, const char *agent_hash, const char *docker_version,
                  bool send_credentials, int64_t seq_num, char **ret);
/* TCS (§3.1): agentHash, agentVersion, cluster, containerInstance, dockerVersion (raw). */
int tcs_build_url(const char *endpoint, const char *cluster, const char *container_instance_arn,
                  const char *agent_version, const char *agent_hash, const char *docker_version,
                  char **ret);
