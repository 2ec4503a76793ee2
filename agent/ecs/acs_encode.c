/* The agent's ACS replies (§2.5) and the ACS / TCS connection URLs (§2.2, §3.1). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "ecs/acs_codec.h"
#include "ecs/jsonutil.h"
#include "ecs/strbuf.h"

/* {"type":type,"message":msg}; takes msg. */
static int envelope(const char *type, json_object *msg, char **ret)
{
        _cleanup_json_ json_object *root = json_object_new_object();
        char *s;
        int r;

        if (!root) {
                json_object_put(msg);
                return -ENOMEM;
        }
        if ((r = json_add_string(root, "type", type)) < 0) {
                json_object_put(msg);
                return r;
        }
        if ((r = json_add(root, "message", msg)) < 0)
                return r;
        s = json_dump(root);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Adds the (key, value) pairs of a NULL-terminated vararg list; NULL values are skipped. */
static int encode_strings(const char *type, char **ret, ...)
{
        _cleanup_json_ json_object *msg = json_object_new_object();
        const char *key;
        va_list ap;
        int r = 0;

        if (!msg)
                return -ENOMEM;
        va_start(ap, ret);
        while ((key = va_arg(ap, const char *))) {
                const char *val = va_arg(ap, const char *);
                r = json_add_string(msg, key, val);
                if (r < 0)
                        break;
        }
        va_end(ap);
        if (r < 0)
                return r;
        return envelope(type, TAKE_PTR(msg), ret);
}

int acs_encode_ack(const char *cluster, const char *container_instance, const char *message_id,
                   char **ret)
{
        return encode_strings("AckRequest", ret, "cluster", cluster, "containerInstance",
                              container_instance, "messageId", message_id, NULL);
}

int acs_encode_heartbeat_ack(const char *message_id, char **ret)
{
        return encode_strings("HeartbeatAckRequest", ret, "messageId", message_id, NULL);
}

int acs_encode_credentials_ack(const char *message_id, const char *expiration,
                               const char *credentials_id, char **ret)
{
        return encode_strings("IAMRoleCredentialsAckRequest", ret, "messageId", message_id,
                              "expiration", expiration, "credentialsId", credentials_id, NULL);
}

int acs_encode_nack(const char *cluster, const char *container_instance, const char *message_id,
                    const char *reason, char **ret)
{
        return encode_strings("NackRequest", ret, "cluster", cluster, "containerInstance",
                              container_instance, "messageId", message_id, "reason", reason, NULL);
}

int acs_encode_stop_verification(const char *message_id,
                                 const struct acs_task_identifier *candidates, size_t n, char **ret)
{
        _cleanup_json_ json_object *msg = json_object_new_object();
        json_object *list;
        int r;

        if (!msg)
                return -ENOMEM;
        if ((r = json_add_string(msg, "messageId", message_id)) < 0)
                return r;
        list = json_object_new_array();
        if (!list)
                return -ENOMEM;
        if ((r = json_add(msg, "stopCandidates", list)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_new_object();
                if (!t)
                        return -ENOMEM;
                if (json_object_array_add(list, t) < 0) {
                        json_object_put(t);
                        return -ENOMEM;
                }
                if ((r = json_add_string(t, "taskArn", candidates[i].task_arn)) < 0 ||
                    (r = json_add_string(t, "taskClusterArn", candidates[i].task_cluster_arn)) <
                        0 ||
                    (r = json_add_string(t, "desiredStatus",
                                         task_status_to_string(candidates[i].desired_status))) < 0)
                        return r;
        }
        return envelope("TaskStopVerificationMessage", TAKE_PTR(msg), ret);
}

/* ---- URLs ---- */

struct query_param {
        const char *key;
        const char *value;
};

/* Go's url.QueryEscape. */
static int query_escape(struct strbuf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        int r = 0;

        for (; *s && r >= 0; s++) {
                unsigned char c = (unsigned char)*s;
                if (('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~')
                        r = strbuf_append(b, s, 1);
                else if (c == ' ')
                        r = strbuf_append(b, "+", 1);
                else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        r = strbuf_append(b, e, 3);
                }
        }
        return r;
}

static int cmp_param(const void *a, const void *b)
{
        return strcmp(((const struct query_param *)a)->key, ((const struct query_param *)b)->key);
}

/* url.Values.Encode(): sorted by key. */
static int build_url(const char *endpoint, struct query_param *params, size_t n, char **ret)
{
        struct strbuf b = STRBUF_INIT(0);
        size_t elen;
        int r;

        if (isempty(endpoint))
                return -EINVAL;
        elen = strlen(endpoint);
        qsort(params, n, sizeof(*params), cmp_param);
        r = strbuf_puts(&b, endpoint);
        if (r >= 0)
                r = strbuf_puts(&b, endpoint[elen - 1] == '/' ? "ws?" : "/ws?");
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (i > 0)
                        r = strbuf_puts(&b, "&");
                if (r >= 0)
                        r = query_escape(&b, params[i].key);
                if (r >= 0)
                        r = strbuf_puts(&b, "=");
                if (r >= 0)
                        r = query_escape(&b, params[i].value);
        }
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int acs_build_url(const char *endpoint, const char *cluster, const char *container_instance_arn,
                  const char *agent_version, const char *agent_hash, const char *docker_version,
                  bool send_credentials, int64_t seq_num, char **ret)
{
        _cleanup_free_ char *dv = NULL;
        char seq[24];
        struct query_param p[8];
        size_t n = 0;

        snprintf(seq, sizeof(seq), "%" PRId64, seq_num);
        p[n++] = (struct query_param){"agentHash", strempty(agent_hash)};
        p[n++] = (struct query_param){"agentVersion", strempty(agent_version)};
        p[n++] = (struct query_param){"clusterArn", strempty(cluster)};
        p[n++] = (struct query_param){"containerInstanceArn", strempty(container_instance_arn)};
        if (!isempty(docker_version)) {
                /* The literal prefix is part of the value the official agent sends. */
                if (asprintf(&dv, "DockerVersion: %s", docker_version) < 0)
                        return -ENOMEM;
                p[n++] = (struct query_param){"dockerVersion", dv};
        }
        /* 2: ACS may close the connection itself when heartbeat acks go missing. */
        p[n++] = (struct query_param){"protocolVersion", "2"};
        p[n++] = (struct query_param){"sendCredentials", send_credentials ? "true" : "false"};
        p[n++] = (struct query_param){"seqNum", seq};
        return build_url(endpoint, p, n, ret);
}

int tcs_build_url(const char *endpoint, const char *cluster, const char *container_instance_arn,
                  const char *agent_version, const char *agent_hash, const char *docker_version,
                  char **ret)
{
        struct query_param p[5];
        size_t n = 0;

        p[n++] = (struct query_param){"agentHash", strempty(agent_hash)};
        p[n++] = (struct query_param){"agentVersion", strempty(agent_version)};
        p[n++] = (struct query_param){"cluster", strempty(cluster)};
        p[n++] = (struct query_param){"containerInstance", strempty(container_instance_arn)};
        if (!isempty(docker_version)) /* raw here: no "DockerVersion: " prefix for TCS */
                p[n++] = (struct query_param){"dockerVersion", docker_version};
        return build_url(endpoint, p, n, ret);
}
