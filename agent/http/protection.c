/* Task scale-in protection (§7.2): GET and PUT /api/<endpointId>/task-protection/v1/state let a
 * task read or set its protection, which the agent passes on to the ECS API's
 * GetTaskProtection / UpdateTaskProtection signed with the task's own role credentials (the
 * task's role is what the caller is allowed to do). The answer waits for ECS; the loop does not.
 *
 * Answers, as the official agent's: 200 {"protection":{...}} or 200 {"failure":{...}} (ECS
 * refused the task), else an HTTP error with {"error":{"Arn","Code","Message"}} and, when ECS
 * answered, its "requestID". With ECS_CREDENTIALS_BOUND_TO_TASK (ours, on by default) only a
 * caller inside the task may act for it, as only it may have the task's credentials. */
#include <strings.h>

#include "ecs/awsjson.h"
#include "ecs/config.h"
#include "ecs/credstore.h"
#include "ecs/engine.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/sigv4.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

#define PROTECTION_CALL_TIMEOUT_USEC (4 * USEC_PER_SEC) /* within the server's 5 s deadline */
#define LOOKUP_FAILED                "Failed to find a task for the request"

struct protection_call {
        struct httpd_reply *reply;
        struct awsjson_call *call;
        char *task_arn;
        bool update;
};

/* {"error":{"Arn","Code","Message"}[,"requestID"]} with status. */
static void answer_error(struct httpd_response *resp, int status, const char *arn, const char *code,
                         const char *message, const char *request_id)
{
        _cleanup_json_ json_object *o = json_object_new_object(), *e = json_object_new_object();

        resp->status = 500;
        if (!o || !e || (!isempty(arn) && json_add_string(e, "Arn", arn) < 0) ||
            json_add_string(e, "Code", strempty(code)) < 0 ||
            json_add_string(e, "Message", strempty(message)) < 0 ||
            (request_id && json_add_string(o, "requestID", request_id) < 0) ||
            json_add(o, "error", TAKE_PTR(e)) < 0)
                return;
        resp->body = json_dump(o);
        if (resp->body)
                resp->status = status;
}

/* A string member as the SDK's *string marshals: the value, or null when absent. */
static int add_string_or_null(json_object *o, const char *key, json_object *from,
                              const char *from_key)
{
        const char *s = json_get_string(from, from_key, NULL);
        if (!s)
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        return json_add_string(o, key, s);
}

/* ECS's ProtectedTask / Failure, with the official agent's (Go field) names. */
static int protection_body(json_object *task, char **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object(), *p = json_object_new_object();
        json_object *when = json_get(task, "expirationDate");
        json_object *enabled = json_get(task, "protectionEnabled");
        int r = o && p ? 0 : -ENOMEM;

        if (r >= 0 && when &&
            (json_object_is_type(when, json_type_double) ||
             json_object_is_type(when, json_type_int))) {
                char buf[40];
                double secs = json_object_get_double(when);
                endpoints_format_time(secs > 0 ? (uint64_t)(secs * 1e6 + 0.5) : 0, buf);
                r = json_add_string(p, "ExpirationDate", buf);
        } else if (r >= 0)
                r = json_object_object_add(p, "ExpirationDate", NULL) < 0 ? -ENOMEM : 0;
        if (r >= 0)
                r = json_object_object_add(p, "ProtectionEnabled",
                                           json_object_is_type(enabled, json_type_boolean)
                                               ? json_object_get(enabled)
                                               : NULL) < 0
                        ? -ENOMEM
                        : 0;
        if (r >= 0)
                r = add_string_or_null(p, "TaskArn", task, "taskArn");
        if (r >= 0)
                r = json_add(o, "protection", TAKE_PTR(p));
        if (r < 0)
                return r;
        *ret = json_dump(o);
        return *ret ? 0 : -ENOMEM;
}

static int failure_body(json_object *failure, char **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object(), *f = json_object_new_object();
        int r = o && f ? 0 : -ENOMEM;

        if (r >= 0)
                r = add_string_or_null(f, "Arn", failure, "arn");
        if (r >= 0)
                r = add_string_or_null(f, "Detail", failure, "detail");
        if (r >= 0)
                r = add_string_or_null(f, "Reason", failure, "reason");
        if (r >= 0)
                r = json_add(o, "failure", TAKE_PTR(f));
        if (r < 0)
                return r;
        *ret = json_dump(o);
        return *ret ? 0 : -ENOMEM;
}

/* What ECS answered, as the container is told it. */
static void answer_result(struct protection_call *pc, const struct awsjson_result *res,
                          struct httpd_response *resp)
{
        const char *op = pc->update ? "UpdateTaskProtection" : "GetTaskProtection";

        if (res->error_class == AWSJSON_ERROR_TRANSPORT) {
                bool timeout = res->error == -ETIMEDOUT;
                log_warning("%s for task %s: the ECS API did not answer (%s)", op, pc->task_arn,
                            strerror(-res->error));
                if (timeout)
                        answer_error(resp, 504, pc->task_arn, "RequestCanceled",
                                     "Timed out calling ECS Task Protection API", NULL);
                else
                        answer_error(resp, 500, pc->task_arn, "ServerException",
                                     "Unable to reach the ECS Task Protection API", NULL);
                return;
        }
        if (res->error_class != AWSJSON_OK) {
                log_warning("%s for task %s: ECS answered %ld %s", op, pc->task_arn, res->status,
                            strempty(res->code));
                answer_error(resp, res->status >= 400 && res->status < 600 ? (int)res->status : 500,
                             pc->task_arn, res->code ? res->code : "ServerException",
                             res->message ? res->message : "Unexpected error occurred",
                             res->request_id ? res->request_id : "");
                return;
        }
        json_object *tasks = json_get_array(res->response, "protectedTasks", NULL);
        json_object *failures = json_get_array(res->response, "failures", NULL);
        size_t n_tasks = tasks ? json_object_array_length(tasks) : 0;
        size_t n_failures = failures ? json_object_array_length(failures) : 0;
        int r = -EBADMSG;

        resp->status = 200;
        if (n_failures == 1)
                r = failure_body(json_object_array_get_idx(failures, 0), &resp->body);
        else if (n_failures == 0 && n_tasks == 1 &&
                 json_object_is_type(json_object_array_get_idx(tasks, 0), json_type_object))
                r = protection_body(json_object_array_get_idx(tasks, 0), &resp->body);
        if (r < 0) {
                log_warning("%s for task %s: ECS answered %zu protections and %zu failures, "
                            "expected one",
                            op, pc->task_arn, n_tasks, n_failures);
                answer_error(resp, 500, pc->task_arn, "ServerException",
                             "Unexpected error occurred", NULL);
        }
}

static void protection_call_free(struct protection_call *pc)
{
        free(pc->task_arn);
        free(pc);
}

static void on_ecs_done(const struct awsjson_result *res, void *ud)
{
        struct protection_call *pc = ud;
        struct httpd_response resp = {0};

        pc->call = NULL;
        answer_result(pc, res, &resp);
        httpd_reply_send(pc->reply, &resp);
        protection_call_free(pc);
}

static void on_connection_gone(void *ud)
{
        struct protection_call *pc = ud;

        awsjson_call_cancel(pc->call);
        protection_call_free(pc);
}

/* The PUT body: {"ProtectionEnabled": bool, "ExpiresInMinutes": int}, names matched without
 * case as the official decoder does, nothing else allowed. */
static int parse_update(const struct httpd_request *req, json_object **ret_enabled,
                        json_object **ret_minutes, json_object **ret_doc)
{
        json_object *doc = NULL;

        *ret_enabled = *ret_minutes = NULL;
        if (json_parse(req->body, req->body_len, &doc) < 0)
                return -EBADMSG;
        *ret_doc = doc;
        if (!json_object_is_type(doc, json_type_object))
                return -EBADMSG;
        json_object_object_foreach (doc, key, val) {
                if (strcasecmp(key, "ProtectionEnabled") == 0) {
                        if (val && !json_object_is_type(val, json_type_boolean))
                                return -EBADMSG;
                        *ret_enabled = val;
                } else if (strcasecmp(key, "ExpiresInMinutes") == 0) {
                        if (val && !json_object_is_type(val, json_type_int))
                                return -EBADMSG;
                        *ret_minutes = val;
                } else
                        return -EBADMSG;
        }
        return 0;
}

struct endpoint_search {
        const char *endpoint_id;
        const struct ecs_task *task;
};

static void find_by_endpoint_id(struct ecs_task *t, void *ud)
{
        struct endpoint_search *s = ud;
        for (size_t i = 0; !s->task && i < t->n_containers; i++)
                if (streq_ptr(t->containers[i].endpoint_id, s->endpoint_id))
                        s->task = t;
}

static void protection_handle(struct endpoints *ep, const struct httpd_request *req,
                              struct httpd_response *resp, const char *endpoint_id)
{
        bool update = streq(req->method, "PUT");
        _cleanup_json_ json_object *doc = NULL, *body = NULL;
        json_object *enabled = NULL, *minutes = NULL;

        if (update && parse_update(req, &enabled, &minutes, &doc) < 0)
                return answer_error(resp, 400, NULL, "InvalidParameterException",
                                    "UpdateTaskProtection: failed to decode request", NULL);

        struct endpoint_search s = {.endpoint_id = endpoint_id};
        engine_foreach_task(ep->p.engine, find_by_endpoint_id, &s);
        if (s.task && ep->p.config->credentials_bound_to_task) {
                /* The task's role acts here: as for its credentials, only the task may. */
                const struct ecs_task *caller = NULL;
                if (endpoints_caller_task(ep, req, &caller) < 0 || caller != s.task)
                        s.task = NULL;
        }
        if (!s.task)
                return answer_error(resp, 404, NULL, "ResourceNotFoundException", LOOKUP_FAILED,
                                    NULL);
        const struct ecs_task *t = s.task;
        log_info("%s endpoint was called for task %s",
                 update ? "UpdateTaskProtection" : "GetTaskProtection", t->arn);
        if (update && !enabled)
                return answer_error(resp, 400, t->arn, "InvalidParameterException",
                                    "Invalid request: does not contain 'ProtectionEnabled' field",
                                    NULL);

        const struct task_credentials *tc =
            t->role_credentials_id ? credstore_get(ep->p.credstore, t->role_credentials_id) : NULL;
        if (!tc || isempty(tc->access_key_id))
                return answer_error(resp, 403, t->arn, "AccessDeniedException",
                                    "Invalid Request: no task IAM role credentials available for "
                                    "task",
                                    NULL);
        if (!ep->p.ecs)
                return answer_error(resp, 500, t->arn, "ServerException",
                                    "The ECS API is not available", NULL);

        body = json_object_new_object();
        _cleanup_json_ json_object *tasks = json_object_new_array();
        if (!body || !tasks || json_add_string(body, "cluster", ep->p.identity.cluster) < 0 ||
            json_append(tasks, json_object_new_string(t->arn)) < 0 ||
            json_add(body, "tasks", TAKE_PTR(tasks)) < 0 ||
            (update && json_add(body, "protectionEnabled", json_object_get(enabled)) < 0) ||
            (minutes && json_add(body, "expiresInMinutes", json_object_get(minutes)) < 0))
                return answer_error(resp, 500, t->arn, "ServerException",
                                    "Unexpected error occurred", NULL);

        struct protection_call *pc = calloc(1, sizeof(*pc));
        struct aws_credentials creds = task_credentials_for_signing(tc);
        struct awsjson_call_opts opts = {
            .timeout_usec = PROTECTION_CALL_TIMEOUT_USEC,
            .max_attempts = 1,
            .credentials = &creds,
        };
        int r = -ENOMEM;
        if (pc && (pc->task_arn = strdup(t->arn))) {
                pc->update = update;
                r = awsjson_call(ep->p.ecs,
                                 update ? "AmazonEC2ContainerServiceV20141113.UpdateTaskProtection"
                                        : "AmazonEC2ContainerServiceV20141113.GetTaskProtection",
                                 body, &opts, on_ecs_done, pc, &pc->call);
        }
        /* Deferred only once nothing can fail at once: the reply is then sent from the
         * call's end or dropped with the connection. */
        if (r >= 0 && !(pc->reply = httpd_defer(resp, on_connection_gone, pc)))
                r = -ENOMEM;
        if (r < 0) {
                if (pc) {
                        awsjson_call_cancel(pc->call);
                        protection_call_free(pc);
                }
                answer_error(resp, 500, t->arn, "ServerException", "Unexpected error occurred",
                             NULL);
        }
}

bool endpoints_protection_route(struct endpoints *ep, const struct httpd_request *req,
                                struct httpd_response *resp)
{
        const char *p = req->path, *suffix = "/task-protection/v1/state";
        char id[128];

        if (!startswith(p, "/api/"))
                return false;
        p += strlen("/api/");
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof(id) || !streq(p + n, suffix))
                return false;
        memcpy(id, p, n);
        id[n] = 0;
        if (!streq(req->method, "GET") && !streq(req->method, "PUT")) {
                resp->status = 405;
                resp->body = endpoints_json_string("Method not allowed");
                return true;
        }
        protection_handle(ep, req, resp, id);
        return true;
}
