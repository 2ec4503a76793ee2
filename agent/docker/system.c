/* Daemon-level calls: version (and API version negotiation), info, ping. */
#include <stdio.h>

#include "docker-internal.h"

/* ---- daemon calls ---- */

static void version_free(struct docker_version *v)
{
        free(v->version);
        free(v->api_version);
        free(v->min_api_version);
        free(v->os);
        free(v->arch);
        free(v->kernel_version);
}

/* "1.41" -> 1041; -EINVAL when malformed. */
static int api_version_number(const char *s)
{
        unsigned major, minor;
        int n = 0;

        if (!s || sscanf(s, "%3u.%3u%n", &major, &minor, &n) != 2 || s[n] != 0)
                return -EINVAL;
        return (int)(major * 1000 + minor);
}

static int version_parse(const char *body, size_t len, struct docker_version *v)
{
        _cleanup_json_ json_object *o = NULL;
        int r;

        r = json_parse(body, len, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (docker_strdup_member(o, "Version", true, &v->version) < 0 ||
            docker_strdup_member(o, "ApiVersion", true, &v->api_version) < 0 ||
            docker_strdup_member(o, "MinAPIVersion", true, &v->min_api_version) < 0 ||
            docker_strdup_member(o, "Os", true, &v->os) < 0 ||
            docker_strdup_member(o, "Arch", true, &v->arch) < 0 ||
            docker_strdup_member(o, "KernelVersion", true, &v->kernel_version) < 0)
                return -ENOMEM;
        if (api_version_number(v->api_version) < 0)
                return -EBADMSG;
        return 0;
}

static void version_finish(struct docker_call *c, const struct ecs_http_response *resp,
                           struct docker_result *res)
{
        struct docker_version v = {};
        char msg[160];
        int r;

        if (res->error == 0) {
                r = version_parse(resp->body, resp->body_len, &v);
                int ours = api_version_number(DOCKER_API_VERSION_MAX);
                int theirs = api_version_number(v.api_version);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid version answer from Docker";
                } else if (theirs < api_version_number(DOCKER_API_VERSION_MIN)) {
                        snprintf(msg, sizeof(msg),
                                 "Docker API version %s is older than the minimum %s",
                                 v.api_version, DOCKER_API_VERSION_MIN);
                        res->error = -EPROTONOSUPPORT;
                        res->message = msg;
                } else {
                        /* No user code has run yet, so the client is alive. */
                        snprintf(c->owner->api_version, sizeof(c->owner->api_version), "%s",
                                 theirs < ours ? v.api_version : DOCKER_API_VERSION_MAX);
                }
        }
        ((docker_version_fn)c->cb)(res, res->error ? NULL : &v, c->userdata);
        version_free(&v);
}

int docker_client_version(struct docker_client *client, uint64_t timeout_usec, docker_version_fn cb,
                          void *userdata, struct docker_call **ret)
{
        struct docker_request req = {
            .path = "/version",
            .unversioned = true,
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
        };
        return docker_call_start(client, &req, version_finish, (void (*)(void))cb, userdata, ret);
}

static void info_free(struct docker_info *i)
{
        free(i->id);
        free(i->name);
        free(i->server_version);
        free(i->driver);
        free(i->cgroup_driver);
        free(i->cgroup_version);
        free(i->docker_root_dir);
        free(i->os_type);
        free(i->operating_system);
        free(i->architecture);
        free(i->kernel_version);
        strv_free(i->security_options);
        strv_free(i->runtimes);
}

static int info_parse(const char *body, size_t len, struct docker_info *i)
{
        _cleanup_json_ json_object *o = NULL;
        json_object *rt;
        size_t n = 0;
        int r;

        r = json_parse(body, len, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (docker_strdup_member(o, "ID", true, &i->id) < 0 ||
            docker_strdup_member(o, "Name", true, &i->name) < 0 ||
            docker_strdup_member(o, "ServerVersion", true, &i->server_version) < 0 ||
            docker_strdup_member(o, "Driver", true, &i->driver) < 0 ||
            docker_strdup_member(o, "CgroupDriver", true, &i->cgroup_driver) < 0 ||
            docker_strdup_member(o, "CgroupVersion", true, &i->cgroup_version) < 0 ||
            docker_strdup_member(o, "DockerRootDir", true, &i->docker_root_dir) < 0 ||
            docker_strdup_member(o, "OSType", true, &i->os_type) < 0 ||
            docker_strdup_member(o, "OperatingSystem", true, &i->operating_system) < 0 ||
            docker_strdup_member(o, "Architecture", true, &i->architecture) < 0 ||
            docker_strdup_member(o, "KernelVersion", true, &i->kernel_version) < 0 ||
            docker_strv_from_json(json_get_array(o, "SecurityOptions", NULL),
                                  &i->security_options) < 0)
                return -ENOMEM;
        i->ncpu = (int)json_get_int(o, "NCPU", 0, NULL);
        i->mem_total = (uint64_t)MAX(json_get_int(o, "MemTotal", 0, NULL), (int64_t)0);
        i->containers = (int)json_get_int(o, "Containers", 0, NULL);
        i->containers_running = (int)json_get_int(o, "ContainersRunning", 0, NULL);

        rt = json_get_object(o, "Runtimes", NULL);
        i->runtimes = calloc((rt ? (size_t)json_object_object_length(rt) : 0) + 1, sizeof(char *));
        if (!i->runtimes)
                return -ENOMEM;
        if (rt) {
                json_object_object_foreach (rt, k, v) {
                        (void)v;
                        i->runtimes[n] = strdup(k);
                        if (!i->runtimes[n++])
                                return -ENOMEM;
                }
        }
        return 0;
}

static void info_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        struct docker_info info = {};

        if (res->error == 0) {
                int r = info_parse(resp->body, resp->body_len, &info);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid info answer from Docker";
                }
        }
        ((docker_info_fn)c->cb)(res, res->error ? NULL : &info, c->userdata);
        info_free(&info);
}

int docker_client_info(struct docker_client *client, uint64_t timeout_usec, docker_info_fn cb,
                       void *userdata, struct docker_call **ret)
{
        struct docker_request req = {
            .path = "/info",
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
        };
        return docker_call_start(client, &req, info_finish, (void (*)(void))cb, userdata, ret);
}

static void done_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        ((docker_done_fn)c->cb)(res, c->userdata);
}

int docker_client_ping(struct docker_client *client, uint64_t timeout_usec, docker_done_fn cb,
                       void *userdata, struct docker_call **ret)
{
        struct docker_request req = {
            .path = "/_ping",
            .unversioned = true,
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
            .max_response = 4096,
        };
        return docker_call_start(client, &req, done_finish, (void (*)(void))cb, userdata, ret);
}

/* For the simple calls of the other files: the user callback gets only the result. */
void docker_done_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        done_finish(c, resp, res);
}
