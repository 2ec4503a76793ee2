/* The introspection API (§7.1): /v1/metadata, /v1/tasks (by taskarn or dockerid), /license.
 * The response shapes are jsonmap tables over small view structs filled from the engine. */
#include <time.h>

#include "ecs/engine.h"
#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/loop.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

#define SHORT_ID_MAX 12 /* a dockerid this long or shorter is a prefix (§7.1) */

static const char LICENSE_TEXT[] =
    "ecs-agent\n"
    "Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use this\n"
    "software except in compliance with the License. You may obtain a copy of the License at\n"
    "http://www.apache.org/licenses/LICENSE-2.0\n";

/* ---- views ---- */

struct v1_container {
        const char *docker_id, *docker_name, *name, *image, *image_id;
        char created_at[40], started_at[40];
        struct view_port *ports;
        size_t n_ports;
        struct view_network *networks;
        size_t n_networks;
        struct view_volume *volumes;
        size_t n_volumes;
        int32_t *restart_count; /* NULL: no restart policy */
};

struct v1_task {
        const char *arn, *desired_status, *known_status, *family, *version;
        struct v1_container *containers;
        size_t n_containers;
};

struct v1_tasks {
        struct v1_task *tasks;
        size_t n_tasks;
};

static const struct jsonmap_field container_fields[] = {
    JSONMAP_STRING("DockerId", struct v1_container, docker_id, STR0),
    JSONMAP_STRING("DockerName", struct v1_container, docker_name, STR0),
    JSONMAP_STRING("Name", struct v1_container, name, STR0),
    JSONMAP_STRING("Image", struct v1_container, image, STR0),
    JSONMAP_STRING("ImageID", struct v1_container, image_id, STR0),
    JSONMAP_CHARS("CreatedAt", struct v1_container, created_at, OMIT),
    JSONMAP_CHARS("StartedAt", struct v1_container, started_at, OMIT),
    JSONMAP_ARRAY("Ports", struct v1_container, ports, n_ports, &view_port_type, OMIT),
    JSONMAP_ARRAY("Networks", struct v1_container, networks, n_networks, &view_network_type, OMIT),
    JSONMAP_ARRAY("Volumes", struct v1_container, volumes, n_volumes, &view_volume_type, OMIT),
    JSONMAP_CUSTOM("RestartCount", struct v1_container, restart_count,
                   .encode = view_encode_opt_i32),
    JSONMAP_END,
};
static const struct jsonmap_type container_type =
    JSONMAP_TYPE(struct v1_container, container_fields);

static const struct jsonmap_field task_fields[] = {
    JSONMAP_STRING("Arn", struct v1_task, arn, STR0),
    JSONMAP_STRING("DesiredStatus", struct v1_task, desired_status, OMIT),
    JSONMAP_STRING("KnownStatus", struct v1_task, known_status, STR0),
    JSONMAP_STRING("Family", struct v1_task, family, STR0),
    JSONMAP_STRING("Version", struct v1_task, version, STR0),
    /* Left out when NULL; answer_task() writes the null of an error answer. */
    JSONMAP_ARRAY("Containers", struct v1_task, containers, n_containers, &container_type),
    JSONMAP_END,
};
static const struct jsonmap_type task_type = JSONMAP_TYPE(struct v1_task, task_fields);

static const struct jsonmap_field tasks_fields[] = {
    JSONMAP_ARRAY("Tasks", struct v1_tasks, tasks, n_tasks, &task_type),
    JSONMAP_END,
};
static const struct jsonmap_type tasks_type = JSONMAP_TYPE(struct v1_tasks, tasks_fields);

/* ---- filling the views from the engine's tasks ---- */

static void container_view_done(struct v1_container *v)
{
        free(v->ports);
        free(v->networks);
        free(v->volumes);
        free(v->restart_count);
}

static void task_view_done(struct v1_task *v)
{
        for (size_t i = 0; i < v->n_containers; i++)
                container_view_done(&v->containers[i]);
        free(v->containers);
}

static int container_view(const struct ecs_task *t, const struct ecs_container *c,
                          struct v1_container *v)
{
        *v = (struct v1_container){
            .docker_id = c->docker_id,
            .docker_name = c->docker_name,
            .name = c->name,
            .image = c->image,
            .image_id = c->image_id,
        };
        if (c->created_at)
                endpoints_format_time(c->created_at, v->created_at);
        if (c->started_at)
                endpoints_format_time(c->started_at, v->started_at);
        int r = view_ports(c, true, &v->ports, &v->n_ports);
        if (r >= 0 && t->network_mode == NETWORK_MODE_AWSVPC)
                r = view_networks(t, c, false, &v->networks, &v->n_networks);
        if (r >= 0)
                r = view_volumes(t, c, &v->volumes, &v->n_volumes);
        if (r < 0)
                return r;
        if (c->restart.enabled) {
                v->restart_count = malloc(sizeof(int32_t));
                if (!v->restart_count)
                        return -ENOMEM;
                *v->restart_count = (int32_t)c->restart_count;
        }
        return 0;
}

/* §7.1: DesiredStatus is left out where it would only repeat (known STOPPED, or known
 * RUNNING while desired is still PENDING). */
static const char *desired_shown(const struct ecs_task *t)
{
        if (t->known_status >= TASK_STATUS_STOPPED && t->desired_status < TASK_STATUS_STOPPED)
                return NULL;
        if (t->known_status == TASK_STATUS_RUNNING && t->desired_status < TASK_STATUS_RUNNING)
                return NULL;
        return task_status_backend(t->desired_status);
}

static int task_view(const struct ecs_task *t, struct v1_task *v)
{
        *v = (struct v1_task){
            .arn = t->arn,
            .desired_status = desired_shown(t),
            .known_status = task_status_backend(t->known_status),
            .family = t->family,
            .version = t->version,
        };
        v->containers = calloc(t->n_containers + 1, sizeof(*v->containers));
        if (!v->containers)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_containers; i++) {
                int r = container_view(t, &t->containers[i], &v->containers[v->n_containers]);
                v->n_containers++;
                if (r < 0)
                        return r;
        }
        return 0;
}

static void answer_task(struct httpd_response *resp, int status, const struct ecs_task *t)
{
        struct v1_task v = {0};

        resp->status = status;
        if (t && task_view(t, &v) < 0) {
                task_view_done(&v);
                resp->status = 500;
                v = (struct v1_task){0};
        }
        _cleanup_json_ json_object *o = NULL;
        if (jsonmap_encode(&task_type, &v, NULL, &o) >= 0) {
                /* The official empty object of an error answer has "Containers":null. */
                if (!v.containers)
                        json_object_object_add(o, "Containers", NULL);
                resp->body = json_dump(o);
        }
        task_view_done(&v);
        if (!resp->body)
                resp->status = 500;
}

struct collect {
        struct v1_tasks all;
        int error;
        const char *docker_id; /* filters */
        const struct ecs_task *match;
        unsigned n_matches;
};

static void collect_task(struct ecs_task *t, void *ud)
{
        struct collect *c = ud;
        if (c->error < 0)
                return;
        c->error = task_view(t, &c->all.tasks[c->all.n_tasks]);
        c->all.n_tasks++;
}

static bool id_matches(const char *docker_id, const char *want)
{
        if (!docker_id)
                return false;
        if (strlen(want) <= SHORT_ID_MAX)
                return strncmp(docker_id, want, strlen(want)) == 0;
        return streq(docker_id, want);
}

static void find_by_docker_id(struct ecs_task *t, void *ud)
{
        struct collect *c = ud;
        for (size_t i = 0; i < t->n_containers; i++)
                if (id_matches(t->containers[i].docker_id, c->docker_id)) {
                        if (c->match != t)
                                c->n_matches++;
                        c->match = t;
                }
}

static void answer_tasks(struct endpoints *ep, const struct httpd_request *req,
                         struct httpd_response *resp)
{
        _cleanup_free_ char *arn = NULL, *docker_id = NULL;
        int ra = httpd_query_param(req->query, "taskarn", &arn);
        int rd = httpd_query_param(req->query, "dockerid", &docker_id);

        if (ra < 0 || rd < 0 || (ra > 0 && rd > 0))
                return answer_task(resp, 400, NULL);
        if (ra > 0) {
                const struct ecs_task *t = engine_get_task(ep->p.engine, arn);
                return answer_task(resp, t ? 200 : 404, t);
        }
        if (rd > 0) {
                struct collect c = {.docker_id = docker_id};
                if (isempty(docker_id))
                        return answer_task(resp, 400, NULL);
                engine_foreach_task(ep->p.engine, find_by_docker_id, &c);
                if (c.n_matches > 1)
                        return answer_task(resp, 400, NULL);
                return answer_task(resp, c.match ? 200 : 404, c.match);
        }
        struct collect c = {0};
        c.all.tasks = calloc(engine_task_count(ep->p.engine) + 1, sizeof(struct v1_task));
        if (c.all.tasks)
                engine_foreach_task(ep->p.engine, collect_task, &c);
        resp->status = 200;
        if (!c.all.tasks || c.error < 0 || !(resp->body = endpoints_encode(&tasks_type, &c.all))) {
                resp->status = 500;
                resp->body = strdup("{\"Tasks\":null}");
        }
        for (size_t i = 0; i < c.all.n_tasks; i++)
                task_view_done(&c.all.tasks[i]);
        free(c.all.tasks);
}

static void answer_metadata(struct endpoints *ep, struct httpd_response *resp)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        const char *arn = ep->p.identity.container_instance_arn;

        if (o) {
                json_object_object_add(o, "Cluster",
                                       json_object_new_string(strempty(ep->p.identity.cluster)));
                json_object_object_add(o, "ContainerInstanceArn",
                                       isempty(arn) ? NULL : json_object_new_string(arn));
                json_object_object_add(
                    o, "Version",
                    json_object_new_string("Amazon ECS Agent - v" ECS_AGENT_VERSION
                                           " (" ECS_AGENT_GIT_HASH ")"));
        }
        resp->status = 200;
        resp->body = o ? json_dump(o) : NULL;
        if (!resp->body)
                resp->status = 500;
}

void endpoints_introspection_route(struct endpoints *ep, const struct httpd_request *req,
                                   struct httpd_response *resp)
{
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD")) {
                resp->status = 405;
                resp->body = strdup("{}");
                return;
        }
        if (streq(req->path, "/v1/metadata"))
                return answer_metadata(ep, resp);
        if (streq(req->path, "/v1/tasks"))
                return answer_tasks(ep, req, resp);
        if (streq(req->path, "/license")) {
                resp->status = 200;
                resp->content_type = "text/plain";
                resp->body = strdup(LICENSE_TEXT);
                return;
        }
        /* Any other path: the list of commands (§7.1), as the official agent answers. */
        resp->status = 200;
        resp->body =
            strdup("{\"AvailableCommands\":[\"/v1/metadata\",\"/v1/tasks\",\"/license\"]}");
}
