/* The credentials endpoint (§7.3): /v1/credentials?id=<id> and /v2/credentials/<id>, with the
 * official answers, and -- beyond the official agent -- bound to the owning task: an ID is
 * answered only to a caller inside the task it belongs to (ECS_CREDENTIALS_BOUND_TO_TASK).
 *
 * The official agent serves anyone who presents an ID; the ID is the only secret. An ID leaks
 * easily: it sits in every container's environment (docker inspect, /proc/<pid>/environ of a
 * process that was started with it, a crash dump, a log line of an application printing its
 * environment). With the binding, a leaked ID is worth nothing outside its task: another
 * task's container, or a process on the host, gets "Credentials not found". A caller is known
 * by its source address for bridge containers (the container's address on its Docker network)
 * and awsvpc tasks (the task's address on the ecs-bridge), and by the cgroup of the process
 * holding the connection for host-network tasks, which share the host's addresses.
 * Execution-role IDs are never given to containers; they are answered only to callers outside
 * every task (the Docker daemon's awslogs driver). */
#include <time.h>

#include "ecs/config.h"
#include "ecs/credstore.h"
#include "ecs/engine.h"
#include "ecs/log.h"
#include "ecs/net.h"
#include "ecs/strbuf.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

#define REFUSALS_LOGGED_MAX 100

/* Appends s as a JSON string literal. */
static int json_quote(struct strbuf *b, const char *s)
{
        int r = strbuf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *)strempty(s); r >= 0 && *p; p++) {
                if (*p == '"' || *p == '\\')
                        r = strbuf_printf(b, "\\%c", *p);
                else if (*p < 0x20)
                        r = strbuf_printf(b, "\\u%04x", *p);
                else
                        r = strbuf_append(b, p, 1);
        }
        return r < 0 ? r : strbuf_puts(b, "\"");
}

char *endpoints_json_string(const char *text)
{
        struct strbuf b = STRBUF_INIT(0);
        if (json_quote(&b, text) < 0) {
                strbuf_done(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}

/* {"code","message","HTTPErrorCode"}: the official error body, with the field clients parse. */
static void error_body(struct httpd_response *resp, int status, const char *code, int version,
                       const char *what)
{
        struct strbuf b = STRBUF_INIT(0);
        int r = strbuf_puts(&b, "{\"code\":");
        if (r >= 0)
                r = json_quote(&b, code);
        if (r >= 0)
                r = strbuf_printf(
                    &b, ",\"message\":\"CredentialsV%dRequest: %s\",\"HTTPErrorCode\":%d}", version,
                    what, status);
        resp->status = status;
        if (r < 0) {
                strbuf_done(&b);
                resp->status = 500;
                return;
        }
        resp->body = strbuf_steal(&b);
}

static int credentials_body(const struct task_credentials *tc, char **ret)
{
        /* Sized once, so that no reallocation leaves a copy of the secret behind. */
        size_t cap =
            128 + 2 * (strlen(strempty(tc->role_arn)) + strlen(strempty(tc->access_key_id)) +
                       strlen(strempty(tc->secret_access_key)) +
                       strlen(strempty(tc->session_token)) + strlen(strempty(tc->expiration)));
        struct strbuf b = STRBUF_INIT(cap);
        const struct {
                const char *key, *value;
        } fields[] = {
            {"RoleArn", tc->role_arn},
            {"AccessKeyId", tc->access_key_id},
            {"SecretAccessKey", tc->secret_access_key},
            {"Token", tc->session_token},
            {"Expiration", tc->expiration},
        };
        int r;

        b.data = malloc(cap + 1);
        if (!b.data)
                return -ENOMEM;
        b.cap = cap + 1;
        b.data[0] = 0;
        r = strbuf_puts(&b, "{");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fields); i++) {
                r = strbuf_printf(&b, "%s\"%s\":", i ? "," : "", fields[i].key);
                if (r >= 0)
                        r = json_quote(&b, fields[i].value);
        }
        if (r >= 0)
                r = strbuf_puts(&b, "}");
        if (r < 0) {
                explicit_bzero(b.data, b.cap);
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return 0;
}

struct owner_search {
        const char *ip;
        const struct ecs_task *owner;
};

static void find_owner_by_address(struct ecs_task *t, void *ud)
{
        struct owner_search *s = ud;

        if (s->owner || t->known_status >= TASK_STATUS_STOPPED)
                return;
        if (t->network_mode == NETWORK_MODE_AWSVPC) {
                if (streq_ptr(t->local_ip, s->ip))
                        s->owner = t;
                return;
        }
        if (t->network_mode == NETWORK_MODE_HOST)
                return; /* host addresses are no one task's */
        for (size_t i = 0; i < t->n_containers; i++)
                if (streq_ptr(t->containers[i].ipv4_address, s->ip))
                        s->owner = t;
}

struct cgroup_search {
        struct engine *engine;
        const char *cgroup;
        const struct ecs_task *owner;
};

static bool cgroup_under(const char *path, const char *parent)
{
        size_t n = strlen(parent);
        return n > 0 && strncmp(path, parent, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static void find_owner_by_cgroup(struct ecs_task *t, void *ud)
{
        struct cgroup_search *s = ud;
        const char *cg = engine_task_cgroup(s->engine, t->arn);

        if (!s->owner && cg && cgroup_under(s->cgroup, cg))
                s->owner = t;
}

int endpoints_caller_task(struct endpoints *ep, const struct httpd_request *req,
                          const struct ecs_task **ret)
{
        struct owner_search s = {.ip = req->peer_ip};
        _cleanup_free_ char *cgroup = NULL;
        int r;

        engine_foreach_task(ep->p.engine, find_owner_by_address, &s);
        if (s.owner) {
                *ret = s.owner;
                return 0;
        }
        r = ep->p.peer_cgroup(req->peer_ip, req->peer_port, req->local_ip, req->local_port,
                              &cgroup);
        if (r < 0)
                return r;
        struct cgroup_search cs = {.engine = ep->p.engine, .cgroup = cgroup};
        engine_foreach_task(ep->p.engine, find_owner_by_cgroup, &cs);
        *ret = cs.owner;
        return 0;
}

/* Whether the caller may have these credentials (the binding; always true when it is off). */
static bool caller_allowed(struct endpoints *ep, const struct httpd_request *req,
                           const struct task_credentials *tc, const char **ret_why)
{
        const struct ecs_task *caller = NULL;

        if (!ep->p.config->credentials_bound_to_task)
                return true;
        int r = endpoints_caller_task(ep, req, &caller);
        if (r < 0) {
                *ret_why = "the calling process could not be identified";
                return false;
        }
        if (tc->execution_role) {
                *ret_why = "execution-role credentials are not for tasks";
                return !caller;
        }
        *ret_why = caller ? "the caller belongs to another task" : "the caller is outside the task";
        return caller && streq(caller->arn, tc->task_arn);
}

struct id_search {
        const char *id;
        struct task_credentials found; /* borrowed strings */
        bool hit;
};

static void find_task_of_id(struct ecs_task *t, void *ud)
{
        struct id_search *s = ud;

        if (s->hit || t->known_status >= TASK_STATUS_STOPPED)
                return;
        bool exec = streq_ptr(t->execution_credentials_id, s->id);
        if (!exec && !streq_ptr(t->role_credentials_id, s->id))
                return;
        s->found = (struct task_credentials){
            .credentials_id = (char *)s->id, .task_arn = t->arn, .execution_role = exec};
        s->hit = true;
}

static const char *event_type(const struct task_credentials *tc)
{
        if (!tc)
                return "";
        return tc->execution_role ? "GetCredentialsExecutionRole" : "GetCredentials";
}

void endpoints_credentials(struct endpoints *ep, const struct httpd_request *req,
                           struct httpd_response *resp, int version, const char *id)
{
        const struct task_credentials *tc = NULL;
        const char *why = NULL;
        char shown[12];

        if (isempty(id)) {
                error_body(resp, 400, "NoIdInRequest", version, "No Credential ID in the request");
                endpoints_audit(ep, req, resp->status, NULL, event_type(NULL));
                return;
        }
        snprintf(shown, sizeof(shown), "%.8s", id); /* never the whole ID in a log line */
        tc = credstore_get(ep->p.credstore, id);
        if (tc && !caller_allowed(ep, req, tc, &why)) {
                /* Told exactly what an unknown ID gets: the caller learns nothing. */
                if (ep->refused_logged < REFUSALS_LOGGED_MAX) {
                        ep->refused_logged++;
                        log_warning("Credentials %s... of task %s refused to %s:%u: %s", shown,
                                    tc->task_arn, req->peer_ip, req->peer_port, why);
                }
                tc = NULL;
        }
        if (!tc) {
                /* A live task's ID whose credentials have not come (yet) from ACS: after a
                 * restart they come again once the session is up (sendCredentials=true).
                 * Meanwhile the owner is told to retry (503, which SDKs do), not that the ID
                 * is unknown. */
                struct id_search s = {.id = id};
                engine_foreach_task(ep->p.engine, find_task_of_id, &s);
                if (s.hit && caller_allowed(ep, req, &s.found, &why)) {
                        error_body(resp, 503, "CredentialsUninitialized", version,
                                   "Credentials uninitialized for ID");
                        endpoints_audit(ep, req, resp->status, s.found.task_arn,
                                        event_type(&s.found));
                        return;
                }
                error_body(resp, 400, "InvalidIdInRequest", version, "Credentials not found");
                endpoints_audit(ep, req, resp->status, NULL, event_type(NULL));
                return;
        }
        if (isempty(tc->access_key_id)) {
                error_body(resp, 503, "CredentialsUninitialized", version,
                           "Credentials uninitialized for ID");
                endpoints_audit(ep, req, resp->status, tc->task_arn, event_type(tc));
                return;
        }
        if (credentials_body(tc, &resp->body) < 0) {
                resp->status = 500;
                resp->body = strdup("{\"code\":\"InternalServerError\",\"message\":\"Internal "
                                    "server error\",\"HTTPErrorCode\":500}");
                endpoints_audit(ep, req, resp->status, tc->task_arn, event_type(tc));
                return;
        }
        resp->status = 200;
        resp->secret = true;
        log_debug("Credentials %s... (%s) served to %s:%u for task %s", shown,
                  tc->execution_role ? "execution role" : "task role", req->peer_ip, req->peer_port,
                  tc->task_arn);
        endpoints_audit(ep, req, 200, tc->task_arn, event_type(tc));
}

/* ---- audit log (§7.3): one line per request, the official version-2 format ---- */

void endpoints_audit(struct endpoints *ep, const struct httpd_request *req, int status,
                     const char *arn, const char *event_type)
{
        char when[32], ua[160];
        time_t now = time(NULL);
        struct tm tm;

        if (!ep->audit)
                return;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        /* The user agent is the client's text: printable ASCII only, quotes escaped away. */
        const char *u = req ? httpd_request_header(req, "User-Agent") : NULL;
        size_t n = 0;
        for (const char *p = strempty(u); *p && n < sizeof(ua) - 1; p++)
                ua[n++] = (*p >= 0x20 && *p < 0x7f && *p != '"') ? *p : '_';
        ua[n] = 0;
        /* The path without the ID: /v2/credentials/<id> is logged as /v2/credentials. */
        const char *path = req ? req->path : "";
        if (startswith(path, "/v2/credentials/"))
                path = "/v2/credentials";
        char line[1024];
        int k;
        if (!isempty(event_type))
                k = snprintf(line, sizeof(line), "%s %d %s:%u \"%s\" \"%s\" %s %s 2 %s %s\n", when,
                             status, req ? req->peer_ip : "-", req ? req->peer_port : 0, path, ua,
                             isempty(arn) ? "-" : arn, event_type,
                             strempty(ep->p.identity.cluster)[0] ? ep->p.identity.cluster : "-",
                             isempty(ep->p.identity.container_instance_arn)
                                 ? "-"
                                 : ep->p.identity.container_instance_arn);
        else
                k = snprintf(line, sizeof(line), "%s %d %s:%u \"%s\" \"%s\" %s \n", when, status,
                             req ? req->peer_ip : "-", req ? req->peer_port : 0, path, ua,
                             isempty(arn) ? "-" : arn);
        if (k > 0 && (size_t)k < sizeof(line) && fputs(line, ep->audit) >= 0)
                (void)fflush(ep->audit);
}
