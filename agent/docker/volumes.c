/* Volumes: create, inspect, remove (task-scoped Docker volumes). */
#include "docker-internal.h"

static void volume_done(struct docker_volume *v)
{
        free(v->name);
        free(v->driver);
        free(v->mountpoint);
        free(v->scope);
        docker_kv_free_many(v->labels, v->n_labels);
        docker_kv_free_many(v->options, v->n_options);
}

static int volume_parse(const char *body, size_t len, struct docker_volume *v)
{
        _cleanup_json_ json_object *o = NULL;
        int r;

        r = json_parse(body, len, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object) || isempty(json_get_string(o, "Name", NULL)))
                return -EBADMSG;
        if (docker_strdup_member(o, "Name", false, &v->name) < 0 ||
            docker_strdup_member(o, "Driver", true, &v->driver) < 0 ||
            docker_strdup_member(o, "Mountpoint", true, &v->mountpoint) < 0 ||
            docker_strdup_member(o, "Scope", true, &v->scope) < 0 ||
            docker_kv_from_json(json_get_object(o, "Labels", NULL), &v->labels, &v->n_labels) < 0 ||
            docker_kv_from_json(json_get_object(o, "Options", NULL), &v->options, &v->n_options) <
                0)
                return -ENOMEM;
        return 0;
}

static void volume_finish(struct docker_call *c, const struct ecs_http_response *resp,
                          struct docker_result *res)
{
        struct docker_volume v = {};

        if (res->error == 0) {
                int r = volume_parse(resp->body, resp->body_len, &v);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid volume answer from Docker";
                }
        }
        ((docker_volume_fn)c->cb)(res, res->error ? NULL : &v, c->userdata);
        volume_done(&v);
}

static json_object *kv_to_json(const struct docker_kv *kv, size_t n)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!kv[i].key || json_add_string(o, kv[i].key, strempty(kv[i].value)) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

int docker_volume_create(struct docker_client *client, const struct docker_volume_spec *spec,
                         uint64_t timeout_usec, docker_volume_fn cb, void *userdata,
                         struct docker_call **ret)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *body = NULL;

        if (!spec || !docker_name_valid(spec->name))
                return -EINVAL;
        o = json_object_new_object();
        if (!o || json_add_string(o, "Name", spec->name) < 0 ||
            json_add_string(o, "Driver", spec->driver ? spec->driver : "local") < 0)
                return -ENOMEM;
        json_object *opts = kv_to_json(spec->driver_opts, spec->n_driver_opts);
        if (!opts || json_add(o, "DriverOpts", opts) < 0)
                return -ENOMEM;
        json_object *labels = kv_to_json(spec->labels, spec->n_labels);
        if (!labels || json_add(o, "Labels", labels) < 0)
                return -ENOMEM;
        body = json_dump(o);
        if (!body)
                return -ENOMEM;

        struct docker_request req = {
            .method = "POST",
            .path = "/volumes/create",
            .content_type = "application/json",
            .body = body,
            .body_len = strlen(body),
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_VOLUME,
        };
        return docker_call_start(client, &req, volume_finish, (void (*)(void))cb, userdata, ret);
}

int docker_volume_inspect(struct docker_client *client, const char *name, uint64_t timeout_usec,
                          docker_volume_fn cb, void *userdata, struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r;

        if (!docker_name_valid(name))
                return -EINVAL;
        r = strbuf_printf(&path, "/volumes/%s", name);
        if (r >= 0) {
                struct docker_request req = {
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
                };
                r = docker_call_start(client, &req, volume_finish, (void (*)(void))cb, userdata,
                                      ret);
        }
        strbuf_done(&path);
        return r;
}

int docker_volume_remove(struct docker_client *client, const char *name, bool force,
                         uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                         struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r;

        if (!docker_name_valid(name))
                return -EINVAL;
        r = strbuf_printf(&path, "/volumes/%s?force=%d", name, force);
        if (r >= 0) {
                struct docker_request req = {
                    .method = "DELETE",
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_VOLUME,
                };
                r = docker_call_start(client, &req, docker_done_finish, (void (*)(void))cb,
                                      userdata, ret);
        }
        strbuf_done(&path);
        return r;
}
