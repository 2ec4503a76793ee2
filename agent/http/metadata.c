/* Task metadata v2, v3 and v4 (§7.4-§7.6): the task and container responses, found by the
 * caller's address (v2) or by the endpoint ID in the path that each container has in
 * ECS_CONTAINER_METADATA_URI[_V4] (v3, v4). Statuses are the agent's own names here, not the
 * backend's. The stats routes answer from the collector's samples (stats.c). */
#include "ecs/awsjson.h"
#include "ecs/config.h"
#include "ecs/engine.h"
#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

struct md_limits {
        double cpu;
        int64_t memory;
};

struct md_health {
        const char *status;
        char since[40];
};

struct md_container {
        const char *docker_id, *name, *docker_name, *image, *image_id;
        struct view_port *ports;
        size_t n_ports;
        char **labels; /* "k=v" */
        const char *desired_status, *known_status;
        int32_t *exit_code;
        struct md_limits limits;
        char created_at[40], started_at[40], finished_at[40];
        const char *type;
        struct view_network *networks;
        size_t n_networks;
        struct md_health *health;
        struct view_volume *volumes;
        size_t n_volumes;
        const char *log_driver; /* v4 */
        char *log_driver_storage;
        char **log_options;        /* v4, "k=v" */
        const char *container_arn; /* v4 */
        int32_t *restart_count;    /* v4, with a restart policy */
        int32_t exit_code_storage, restart_count_storage;
        struct md_health health_storage;
};

/* Why a WithTags answer lacks tags: what ListTagsForResource answered. */
struct md_error {
        const char *field; /* "TaskTags", "ContainerInstanceTags" */
        char *code, *message, *request_id;
        int64_t status;
        const char *resource_arn;
};

struct md_task {
        const char *cluster, *task_arn, *family, *revision, *desired_status, *known_status;
        struct md_container *containers;
        size_t n_containers;
        struct md_limits *limits;
        char pull_started_at[40], pull_stopped_at[40], execution_stopped_at[40];
        const char *availability_zone;
        const char *launch_type, *service_name; /* v4 */
        bool fault_injection;                   /* v4 */
        char **container_instance_tags;         /* WithTags */
        char **task_tags;                       /* WithTags */
        struct md_error *errors;                /* WithTags, borrowed */
        size_t n_errors;
        struct md_limits limits_storage;
};

static const struct jsonmap_field limits_fields[] = {
    JSONMAP_DOUBLE("CPU", struct md_limits, cpu),
    JSONMAP_I64("Memory", struct md_limits, memory),
    JSONMAP_END,
};
static const struct jsonmap_type limits_type = JSONMAP_TYPE(struct md_limits, limits_fields);

static const struct jsonmap_field error_fields[] = {
    JSONMAP_STRING("ErrorField", struct md_error, field, OMIT),
    JSONMAP_STRING("ErrorCode", struct md_error, code, OMIT),
    JSONMAP_STRING("ErrorMessage", struct md_error, message, OMIT),
    JSONMAP_I64("StatusCode", struct md_error, status, OMIT),
    JSONMAP_STRING("RequestId", struct md_error, request_id, OMIT),
    JSONMAP_STRING("ResourceARN", struct md_error, resource_arn, OMIT),
    JSONMAP_END,
};
static const struct jsonmap_type error_type = JSONMAP_TYPE(struct md_error, error_fields);

static const struct jsonmap_field health_fields[] = {
    JSONMAP_STRING("status", struct md_health, status),
    JSONMAP_CHARS("statusSince", struct md_health, since, OMIT),
    JSONMAP_END,
};
static const struct jsonmap_type health_type = JSONMAP_TYPE(struct md_health, health_fields);

/* The fields of v2 and v3; v4 appends its own at the end of the same list. */
#define CONTAINER_V2_FIELDS(PORT_T, NET_T)                                                         \
        JSONMAP_STRING("DockerId", struct md_container, docker_id, STR0),                          \
            JSONMAP_STRING("Name", struct md_container, name, STR0),                               \
            JSONMAP_STRING("DockerName", struct md_container, docker_name, STR0),                  \
            JSONMAP_STRING("Image", struct md_container, image, STR0),                             \
            JSONMAP_STRING("ImageID", struct md_container, image_id, STR0),                        \
            JSONMAP_ARRAY("Ports", struct md_container, ports, n_ports, PORT_T, OMIT),             \
            JSONMAP_KV("Labels", struct md_container, labels, OMIT),                               \
            JSONMAP_STRING("DesiredStatus", struct md_container, desired_status, STR0),            \
            JSONMAP_STRING("KnownStatus", struct md_container, known_status, STR0),                \
            JSONMAP_CUSTOM("ExitCode", struct md_container, exit_code,                             \
                           .encode = view_encode_opt_i32),                                         \
            JSONMAP_OBJECT("Limits", struct md_container, limits, &limits_type),                   \
            JSONMAP_CHARS("CreatedAt", struct md_container, created_at, OMIT),                     \
            JSONMAP_CHARS("StartedAt", struct md_container, started_at, OMIT),                     \
            JSONMAP_CHARS("FinishedAt", struct md_container, finished_at, OMIT),                   \
            JSONMAP_STRING("Type", struct md_container, type, STR0),                               \
            JSONMAP_ARRAY("Networks", struct md_container, networks, n_networks, NET_T, OMIT),     \
            JSONMAP_OBJECT_PTR("Health", struct md_container, health, &health_type),               \
            JSONMAP_ARRAY("Volumes", struct md_container, volumes, n_volumes, &view_volume_type,   \
                          OMIT)

/* v2 and v3 ports carry no HostIp (the views leave it NULL there). */
static const struct jsonmap_field container_v3_fields[] = {
    CONTAINER_V2_FIELDS(&view_port_type, &view_network_type),
    JSONMAP_END,
};
static const struct jsonmap_type container_v3_type =
    JSONMAP_TYPE(struct md_container, container_v3_fields);

static const struct jsonmap_field container_v4_fields[] = {
    CONTAINER_V2_FIELDS(&view_port_type, &view_network_v4_type),
    JSONMAP_STRING("LogDriver", struct md_container, log_driver, OMIT),
    JSONMAP_KV("LogOptions", struct md_container, log_options, OMIT),
    JSONMAP_STRING("ContainerARN", struct md_container, container_arn, OMIT),
    JSONMAP_CUSTOM("RestartCount", struct md_container, restart_count,
                   .encode = view_encode_opt_i32),
    JSONMAP_END,
};
static const struct jsonmap_type container_v4_type =
    JSONMAP_TYPE(struct md_container, container_v4_fields);

#define TASK_V2_FIELDS(CONTAINER_T)                                                                \
        JSONMAP_STRING("Cluster", struct md_task, cluster, STR0),                                  \
            JSONMAP_STRING("TaskARN", struct md_task, task_arn, STR0),                             \
            JSONMAP_STRING("Family", struct md_task, family, STR0),                                \
            JSONMAP_STRING("Revision", struct md_task, revision, STR0),                            \
            JSONMAP_STRING("DesiredStatus", struct md_task, desired_status, STR0),                 \
            JSONMAP_STRING("KnownStatus", struct md_task, known_status, STR0),                     \
            JSONMAP_ARRAY("Containers", struct md_task, containers, n_containers, CONTAINER_T),    \
            JSONMAP_OBJECT_PTR("Limits", struct md_task, limits, &limits_type),                    \
            JSONMAP_CHARS("PullStartedAt", struct md_task, pull_started_at, OMIT),                 \
            JSONMAP_CHARS("PullStoppedAt", struct md_task, pull_stopped_at, OMIT),                 \
            JSONMAP_CHARS("ExecutionStoppedAt", struct md_task, execution_stopped_at, OMIT),       \
            JSONMAP_STRING("AvailabilityZone", struct md_task, availability_zone, OMIT),           \
            JSONMAP_KV("TaskTags", struct md_task, task_tags, OMIT),                               \
            JSONMAP_KV("ContainerInstanceTags", struct md_task, container_instance_tags, OMIT),    \
            JSONMAP_ARRAY("Errors", struct md_task, errors, n_errors, &error_type, OMIT)

static const struct jsonmap_field task_v3_fields[] = {
    TASK_V2_FIELDS(&container_v3_type),
    JSONMAP_END,
};
static const struct jsonmap_type task_v3_type = JSONMAP_TYPE(struct md_task, task_v3_fields);

static const struct jsonmap_field task_v4_fields[] = {
    TASK_V2_FIELDS(&container_v4_type),
    JSONMAP_STRING("LaunchType", struct md_task, launch_type, OMIT),
    JSONMAP_STRING("ServiceName", struct md_task, service_name, OMIT),
    JSONMAP_BOOL("FaultInjectionEnabled", struct md_task, fault_injection),
    JSONMAP_END,
};
static const struct jsonmap_type task_v4_type = JSONMAP_TYPE(struct md_task, task_v4_fields);

/* ---- filling ---- */

static void container_done(struct md_container *v)
{
        free(v->ports);
        free(v->networks);
        free(v->volumes);
        strv_free(v->labels);
        strv_free(v->log_options);
        free(v->log_driver_storage);
}

static void task_done(struct md_task *v)
{
        for (size_t i = 0; i < v->n_containers; i++)
                container_done(&v->containers[i]);
        free(v->containers);
        strv_free(v->container_instance_tags);
        strv_free(v->task_tags);
}

static int strv_push(char ***l, size_t *n, const char *k, const char *v)
{
        char **nl = realloc(*l, (*n + 2) * sizeof(char *));
        if (!nl)
                return -ENOMEM;
        *l = nl;
        if (asprintf(&nl[*n], "%s=%s", k, strempty(v)) < 0)
                return -ENOMEM;
        nl[++*n] = NULL;
        return 0;
}

/* The object of strings at key in a JSON document of the task definition, as "k=v". */
static int strings_of(const char *doc, const char *key, const char *inner, char ***l, size_t *n)
{
        _cleanup_json_ json_object *o = NULL;

        if (isempty(doc) || json_parse(doc, strlen(doc), &o) < 0)
                return 0;
        json_object *m = json_get_object(o, key, NULL);
        if (inner)
                m = json_get_object(m, inner, NULL);
        if (!m)
                return 0;
        json_object_object_foreach (m, k, v) {
                if (!json_object_is_type(v, json_type_string))
                        continue;
                int r = strv_push(l, n, k, json_object_get_string(v));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The labels Docker has (§7.4): as its inspect showed them, else the task definition's
 * dockerLabels and ours (§4.15). */
static int container_labels(struct endpoints *ep, const struct ecs_task *t,
                            const struct ecs_container *c, char ***ret)
{
        const struct {
                const char *k, *v;
        } ours[] = {
            {"com.amazonaws.ecs.cluster", ep->p.identity.cluster},
            {"com.amazonaws.ecs.container-name", c->name},
            {"com.amazonaws.ecs.task-arn", t->arn},
            {"com.amazonaws.ecs.task-definition-family", t->family},
            {"com.amazonaws.ecs.task-definition-version", t->version},
        };
        size_t n = 0;
        int r;

        if (c->docker_labels) {
                for (char **l = c->docker_labels; *l; l++) {
                        char *eq = strchr(*l, '=');
                        _cleanup_free_ char *k = eq ? strndup(*l, (size_t)(eq - *l)) : NULL;
                        if (eq && (!k || strv_push(ret, &n, k, eq + 1) < 0))
                                return -ENOMEM;
                }
                return 0;
        }
        /* Not inspected yet: what the agent gave Docker. */
        r = strings_of(c->docker_config, "Labels", NULL, ret, &n);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(ours); i++)
                r = strv_push(ret, &n, ours[i].k, ours[i].v);
        return r;
}

static int container_view(struct endpoints *ep, const struct ecs_task *t,
                          const struct ecs_container *c, int version, struct md_container *v)
{
        _cleanup_json_ json_object *hc = NULL;
        size_t n = 0;
        int r;

        *v = (struct md_container){
            .docker_id = c->docker_id,
            .name = c->name,
            .docker_name = c->docker_name,
            .image = c->image,
            .image_id = c->image_id,
            .desired_status = container_status_to_string(c->desired_status),
            .known_status = container_status_to_string(c->known_status),
            .limits = {.cpu = c->cpu, .memory = c->memory_mib},
            .type = "NORMAL",
        };
        if (c->has_exit_code) {
                v->exit_code_storage = c->exit_code;
                v->exit_code = &v->exit_code_storage;
        }
        if (c->created_at)
                endpoints_format_time(c->created_at, v->created_at);
        if (c->started_at)
                endpoints_format_time(c->started_at, v->started_at);
        if (c->finished_at)
                endpoints_format_time(c->finished_at, v->finished_at);
        if (c->health_check_docker) {
                v->health_storage.status = health_status_to_string(c->health_status);
                if (c->health_since)
                        endpoints_format_time(c->health_since, v->health_storage.since);
                v->health = &v->health_storage;
        }
        r = view_ports(c, version >= 4, &v->ports, &v->n_ports);
        if (r >= 0)
                r = view_networks(t, c, version >= 4, &v->networks, &v->n_networks);
        if (r >= 0)
                r = view_volumes(t, c, &v->volumes, &v->n_volumes);
        if (r >= 0)
                r = container_labels(ep, t, c, &v->labels);
        if (r < 0 || version < 4)
                return r;
        v->container_arn = c->arn;
        if (c->restart.enabled) {
                v->restart_count_storage = (int32_t)c->restart_count;
                v->restart_count = &v->restart_count_storage;
        }
        if (!isempty(c->docker_host_config) &&
            json_parse(c->docker_host_config, strlen(c->docker_host_config), &hc) >= 0) {
                const char *driver =
                    json_get_string(json_get_object(hc, "LogConfig", NULL), "Type", NULL);
                if (!isempty(driver) && !(v->log_driver = v->log_driver_storage = strdup(driver)))
                        return -ENOMEM;
        }
        return strings_of(c->docker_host_config, "LogConfig", "Config", &v->log_options, &n);
}

static int task_view(struct endpoints *ep, const struct ecs_task *t, int version, struct md_task *v)
{
        *v = (struct md_task){
            .cluster = ep->p.identity.cluster,
            .task_arn = t->arn,
            .family = t->family,
            .revision = t->version,
            .desired_status = task_status_to_string(t->desired_status),
            .known_status = task_status_to_string(t->known_status),
            .availability_zone =
                ep->p.config->task_metadata_az_disabled ? NULL : ep->p.identity.availability_zone,
        };
        if (t->cpu > 0 || t->memory_mib > 0) {
                v->limits_storage = (struct md_limits){.cpu = t->cpu, .memory = t->memory_mib};
                v->limits = &v->limits_storage;
        }
        if (t->pull_started_at)
                endpoints_format_time(t->pull_started_at, v->pull_started_at);
        if (t->pull_stopped_at)
                endpoints_format_time(t->pull_stopped_at, v->pull_stopped_at);
        if (t->execution_stopped_at)
                endpoints_format_time(t->execution_stopped_at, v->execution_stopped_at);
        if (version >= 4) {
                v->launch_type = isempty(t->launch_type) ? "EC2" : t->launch_type;
                v->service_name = t->service_name;
        }
        v->containers = calloc(t->n_containers + 1, sizeof(*v->containers));
        if (!v->containers)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_containers; i++) {
                /* v2/v3 show containers Docker knows; v4 also those only pulled (§7.6). */
                const struct ecs_container *c = &t->containers[i];
                if (version < 4 && !c->docker_id)
                        continue;
                int r = container_view(ep, t, c, version, &v->containers[v->n_containers]);
                v->n_containers++;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- lookup ---- */

struct lookup {
        const char *endpoint_id, *ip, *docker_id;
        const struct ecs_task *task;
        const struct ecs_container *container;
};

static void by_endpoint_id(struct ecs_task *t, void *ud)
{
        struct lookup *l = ud;
        for (size_t i = 0; !l->task && i < t->n_containers; i++)
                if (streq_ptr(t->containers[i].endpoint_id, l->endpoint_id)) {
                        l->task = t;
                        l->container = &t->containers[i];
                }
}

static void by_address(struct ecs_task *t, void *ud)
{
        struct lookup *l = ud;
        if (l->task || t->known_status >= TASK_STATUS_STOPPED)
                return;
        if (streq_ptr(t->local_ip, l->ip))
                l->task = t;
        for (size_t i = 0; !l->task && i < t->n_containers; i++)
                if (t->network_mode == NETWORK_MODE_BRIDGE &&
                    streq_ptr(t->containers[i].ipv4_address, l->ip))
                        l->task = t;
}

static void answer_string(struct httpd_response *resp, int status, const char *fmt, const char *arg)
{
        _cleanup_free_ char *msg = NULL;
        resp->status = status;
        if (asprintf(&msg, fmt, arg) >= 0)
                resp->body = endpoints_json_string(msg);
}

static void answer_view(struct httpd_response *resp, const struct jsonmap_type *type,
                        const void *view)
{
        resp->body = endpoints_encode(type, view);
        resp->status = resp->body ? 200 : 500;
}

/* tags: the fetched tags (taken over) and why some are missing; NULL without WithTags. */
struct fetched_tags {
        char **tags[2]; /* task, container instance */
        struct md_error errors[2];
        size_t n_errors;
};

static void answer_task_tagged(struct endpoints *ep, struct httpd_response *resp,
                               const struct ecs_task *t, int version, struct fetched_tags *tags)
{
        struct md_task v;
        if (task_view(ep, t, version, &v) < 0)
                resp->status = 500;
        else {
                if (tags) {
                        v.task_tags = TAKE_PTR(tags->tags[0]);
                        v.container_instance_tags = TAKE_PTR(tags->tags[1]);
                        v.errors = tags->errors;
                        v.n_errors = tags->n_errors;
                }
                answer_view(resp, version >= 4 ? &task_v4_type : &task_v3_type, &v);
        }
        task_done(&v);
}

/* ---- WithTags: the task's and the instance's tags from ListTagsForResource (§7.4) ---- */

#define TAGS_CALL_TIMEOUT_USEC (4 * USEC_PER_SEC) /* within the server's 5 s deadline */

struct tags_fetch;

struct tags_part {
        struct tags_fetch *f;
        unsigned index;
};

struct tags_fetch {
        struct endpoints *ep;
        struct httpd_reply *reply;
        struct awsjson_call *calls[2];
        struct tags_part parts[2]; /* each call's userdata */
        char *arns[2];
        int version;
        unsigned pending;
        struct fetched_tags got;
};

static void tags_fetch_free(struct tags_fetch *f)
{
        for (unsigned i = 0; i < 2; i++) {
                awsjson_call_cancel(f->calls[i]);
                strv_free(f->got.tags[i]);
                free(f->arns[i]);
        }
        for (size_t i = 0; i < f->got.n_errors; i++) {
                free(f->got.errors[i].code);
                free(f->got.errors[i].message);
                free(f->got.errors[i].request_id);
        }
        free(f);
}

static int tags_of(json_object *response, char ***ret)
{
        json_object *a = json_get_array(response, "tags", NULL);
        size_t n = 0;

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *tag = json_object_array_get_idx(a, i);
                const char *k = json_get_string(tag, "key", NULL);
                if (!isempty(k) && strv_push(ret, &n, k, json_get_string(tag, "value", NULL)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static void tags_record(struct tags_fetch *f, unsigned i, const struct awsjson_result *res)
{
        static const char *const fields[2] = {"TaskTags", "ContainerInstanceTags"};

        if (res->error_class == AWSJSON_OK && tags_of(res->response, &f->got.tags[i]) >= 0)
                return;
        struct md_error *e = &f->got.errors[f->got.n_errors++];
        *e = (struct md_error){
            .field = fields[i],
            .code = strdup(res->code ? res->code : "ServerException"),
            .message = strdup(res->message     ? res->message
                              : res->error < 0 ? strerror(-res->error)
                                               : "Unexpected error occurred"),
            .request_id = res->request_id ? strdup(res->request_id) : NULL,
            .status = res->status,
            .resource_arn = f->arns[i],
        };
        log_warning("ListTagsForResource %s: %s", f->arns[i], strempty(e->code));
}

static void on_tags(const struct awsjson_result *res, void *ud)
{
        struct tags_part *part = ud;
        struct tags_fetch *f = part->f;
        unsigned i = part->index;

        f->calls[i] = NULL;
        tags_record(f, i, res);
        if (--f->pending > 0)
                return;
        /* The task is looked up again: it may have gone while ECS answered. */
        struct httpd_response resp = {0};
        const struct ecs_task *t = engine_get_task(f->ep->p.engine, f->arns[0]);
        if (t)
                answer_task_tagged(f->ep, &resp, t, f->version, &f->got);
        else
                answer_string(&resp, 404, "%s", "Task not found");
        httpd_reply_send(f->reply, &resp);
        tags_fetch_free(f);
}

static void on_tags_connection_gone(void *ud)
{
        tags_fetch_free(ud);
}

static int tags_call(struct tags_fetch *f, unsigned i)
{
        _cleanup_json_ json_object *body = json_object_new_object();
        struct awsjson_call_opts opts = {.timeout_usec = TAGS_CALL_TIMEOUT_USEC, .max_attempts = 1};
        int r;

        if (!body || json_add_string(body, "resourceArn", f->arns[i]) < 0)
                return -ENOMEM;
        f->parts[i] = (struct tags_part){.f = f, .index = i};
        r = awsjson_call(f->ep->p.ecs, "AmazonEC2ContainerServiceV20141113.ListTagsForResource",
                         body, &opts, on_tags, &f->parts[i], &f->calls[i]);
        if (r >= 0)
                f->pending++;
        return r;
}

/* Starts the two calls and defers the answer; < 0 when that cannot be (then answer now). */
static int tags_start(struct endpoints *ep, struct httpd_response *resp, const struct ecs_task *t,
                      int version)
{
        struct tags_fetch *f;
        int r = -ENOMEM;

        if (!ep->p.ecs || isempty(ep->p.identity.container_instance_arn))
                return -EOPNOTSUPP;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->ep = ep;
        f->version = version;
        f->arns[0] = strdup(t->arn);
        f->arns[1] = strdup(ep->p.identity.container_instance_arn);
        if (f->arns[0] && f->arns[1] && (r = tags_call(f, 0)) >= 0)
                r = tags_call(f, 1);
        if (r >= 0 && !(f->reply = httpd_defer(resp, on_tags_connection_gone, f)))
                r = -EOPNOTSUPP;
        if (r < 0) {
                tags_fetch_free(f); /* cancels what was started */
        }
        return r;
}

static void answer_task(struct endpoints *ep, struct httpd_response *resp, const struct ecs_task *t,
                        int version, bool with_tags)
{
        if (with_tags) {
                int r = tags_start(ep, resp, t, version);
                if (r >= 0)
                        return;
                /* Told as the official agent tells a failed lookup: in Errors. */
                struct fetched_tags none = {.n_errors = 1};
                none.errors[0] =
                    (struct md_error){.field = "TaskTags",
                                      .code = (char *)"ServerException",
                                      .message = (char *)"The ECS API is not available",
                                      .resource_arn = t->arn};
                return answer_task_tagged(ep, resp, t, version, &none);
        }
        answer_task_tagged(ep, resp, t, version, NULL);
}

static void answer_container(struct endpoints *ep, struct httpd_response *resp,
                             const struct ecs_task *t, const struct ecs_container *c, int version)
{
        struct md_container v;
        if (container_view(ep, t, c, version, &v) < 0)
                resp->status = 500;
        else
                answer_view(resp, version >= 4 ? &container_v4_type : &container_v3_type, &v);
        container_done(&v);
}

/* v2: the caller's task by its address; NULL (the answer set) when it has none. */
static const struct ecs_task *caller_by_address(struct endpoints *ep,
                                                const struct httpd_request *req,
                                                struct httpd_response *resp)
{
        struct lookup l = {.ip = req->peer_ip};

        engine_foreach_task(ep->p.engine, by_address, &l);
        if (!l.task)
                answer_string(resp, 400,
                              "Unable to get task arn from request: unable to associate '%s' "
                              "with task",
                              req->peer_ip);
        return l.task;
}

/* ---- stats (§7.5, §7.6) ---- */

static void answer_json(struct httpd_response *resp, json_object *o)
{
        resp->body = o ? json_dump(o) : strdup("null");
        resp->status = resp->body ? 200 : 500;
}

/* One container: v2 and v3 answer null before the first sample, v4 {}. */
static void answer_container_stats(struct endpoints *ep, struct httpd_response *resp,
                                   const struct ecs_task *t, const struct ecs_container *c,
                                   int version)
{
        _cleanup_json_ json_object *o = NULL;
        int r = endpoints_container_stats(ep, t, c, version == 4, &o);

        if (r == -ENOENT)
                return answer_string(resp, version == 4 ? 500 : 400,
                                     "Unable to get container stats for: %s",
                                     strempty(c->docker_id));
        if (r < 0)
                return answer_string(resp, 500, "%s", "failed to get stats");
        if (!o && version == 4 && !(o = json_object_new_object()))
                return answer_string(resp, 500, "%s", "failed to get stats");
        answer_json(resp, o);
}

/* The task's containers by Docker ID, each with its stats, or null (v2, v3) or {} (v4)
 * when it has none. */
static void answer_task_stats(struct endpoints *ep, struct httpd_response *resp,
                              const struct ecs_task *t, int version)
{
        _cleanup_json_ json_object *map = json_object_new_object();

        for (size_t i = 0; map && i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                json_object *o = NULL;
                if (isempty(c->docker_id))
                        continue;
                int r = endpoints_container_stats(ep, t, c, version == 4, &o);
                if ((r == -ENOMEM) || (!o && version == 4 && !(o = json_object_new_object())) ||
                    json_object_object_add(map, c->docker_id, o) < 0) {
                        json_object_put(o);
                        return answer_string(resp, 500, "%s", "failed to get stats");
                }
        }
        if (!map)
                return answer_string(resp, 500, "%s", "failed to get stats");
        answer_json(resp, map);
}

/* /v2/stats[/] and /v2/stats/<dockerId>: the caller's task by its address. */
static void stats_v2(struct endpoints *ep, const struct httpd_request *req,
                     struct httpd_response *resp, const char *rest)
{
        const struct ecs_task *t = caller_by_address(ep, req, resp);

        if (!t)
                return;
        if (streq(rest, "") || streq(rest, "/"))
                return answer_task_stats(ep, resp, t, 2);
        const char *id = rest + 1;
        for (size_t i = 0; i < t->n_containers; i++)
                if (streq_ptr(t->containers[i].docker_id, id))
                        return answer_container_stats(ep, resp, t, &t->containers[i], 2);
        answer_string(resp, 400, "Unable to get container stats for: %s", id);
}

/* /v3|v4/<endpoint id>/stats and /task/stats. */
static void stats_v34(struct endpoints *ep, struct httpd_response *resp, int version,
                      const char *id, bool task)
{
        struct lookup l = {.endpoint_id = id};
        engine_foreach_task(ep->p.engine, by_endpoint_id, &l);
        if (!l.task) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg,
                             "V%d %s stats handler: unable to get task arn from request: unable "
                             "to get task Arn from v3 endpoint ID: %s",
                             version, task ? "task" : "container", id) < 0)
                        return answer_string(resp, 500, "%s", "failed to get stats");
                /* §7.6: v4 says 404 for an unknown endpoint ID, v3 400. */
                return answer_string(resp, version == 4 ? 404 : 400, "%s", msg);
        }
        if (task)
                answer_task_stats(ep, resp, l.task, version);
        else
                answer_container_stats(ep, resp, l.task, l.container, version);
}

/* /v2/metadata[WithTags][/] and /v2/metadata/<dockerId>: the caller's task by its address. */
static void metadata_v2(struct endpoints *ep, const struct httpd_request *req,
                        struct httpd_response *resp, const char *rest)
{
        const struct ecs_task *t = caller_by_address(ep, req, resp);
        bool tags = startswith(rest, "WithTags");

        if (!t)
                return;
        rest += tags ? strlen("WithTags") : 0;
        if (streq(rest, "") || streq(rest, "/"))
                return answer_task(ep, resp, t, 2, tags);
        if (tags || rest[0] != '/')
                return answer_string(resp, 404, "%s", "Not found");
        const char *id = rest + 1;
        for (size_t i = 0; i < t->n_containers; i++)
                if (streq_ptr(t->containers[i].docker_id, id))
                        return answer_container(ep, resp, t, &t->containers[i], 2);
        answer_string(resp, 400,
                      "Unable to get container metadata: container '%s' is not in the task", id);
}

bool endpoints_metadata_route(struct endpoints *ep, const struct httpd_request *req,
                              struct httpd_response *resp)
{
        const char *p = req->path;
        int version;

        if (streq(p, "/v2/stats") || startswith(p, "/v2/stats/")) {
                stats_v2(ep, req, resp, p + strlen("/v2/stats"));
                return true;
        }
        if (startswith(p, "/v2/metadata")) {
                metadata_v2(ep, req, resp, p + strlen("/v2/metadata"));
                return true;
        }
        if (startswith(p, "/v3/"))
                version = 3;
        else if (startswith(p, "/v4/"))
                version = 4;
        else
                return false;
        const char *id_start = p + 4;
        size_t id_len = strcspn(id_start, "/");
        const char *rest = id_start + id_len;
        char id[128];
        if (id_len == 0 || id_len >= sizeof(id))
                return false;
        memcpy(id, id_start, id_len);
        id[id_len] = 0;
        if (streq(rest, "/stats") || streq(rest, "/task/stats")) {
                stats_v34(ep, resp, version, id, streq(rest, "/task/stats"));
                return true;
        }
        if (!streq(rest, "") && !streq(rest, "/task") && !streq(rest, "/taskWithTags"))
                return false; /* associations: not served */

        struct lookup l = {.endpoint_id = id};
        engine_foreach_task(ep->p.engine, by_endpoint_id, &l);
        bool task = !streq(rest, "");
        if (!l.task) {
                /* §7.5, §7.6: v4 says 404, v3 500, with the official wording. */
                if (task)
                        answer_string(resp, version == 4 ? 404 : 500,
                                      version == 4 ? "V4 task metadata handler: unable to get task "
                                                     "arn from request: unable to get task Arn "
                                                     "from v3 endpoint ID: %s"
                                                   : "V3 task metadata handler: unable to get task "
                                                     "arn from request: unable to get task Arn "
                                                     "from v3 endpoint ID: %s",
                                      id);
                else
                        answer_string(resp, version == 4 ? 404 : 500,
                                      version == 4
                                          ? "V4 container metadata handler: unable to get "
                                            "container ID from request: unable to get docker ID "
                                            "from v3 endpoint ID: %s"
                                          : "V3 container metadata handler: unable to get "
                                            "container ID from request: unable to get docker ID "
                                            "from v3 endpoint ID: %s",
                                      id);
                return true;
        }
        if (task)
                answer_task(ep, resp, l.task, version, streq(rest, "/taskWithTags"));
        else
                answer_container(ep, resp, l.task, l.container, version);
        return true;
}
