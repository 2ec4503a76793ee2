/* Daemon-level calls: version (and API version negotiation), info, ping. */
#include <stdio.h>

#include "docker-internal.h"
#include "ecs/jsonmap.h"
#include "ecs/log.h"

/* ---- daemon calls ---- */

#define STR(n, st, m) JSONMAP_STRING(n, st, m, .flags = JSONMAP_NULL_IF_EMPTY)

static const struct jsonmap_field version_fields[] = {
    STR("Version", struct docker_version, version),
    STR("ApiVersion", struct docker_version, api_version),
    STR("MinAPIVersion", struct docker_version, min_api_version),
    STR("Os", struct docker_version, os),
    STR("Arch", struct docker_version, arch),
    STR("KernelVersion", struct docker_version, kernel_version),
    JSONMAP_END,
};
static const struct jsonmap_type version_type = JSONMAP_TYPE(struct docker_version, version_fields);

/* "1.41" -> 1041; -EINVAL when malformed. */
static int api_version_number(const char *s)
{
        unsigned major, minor;
        int n = 0;

        if (!s || sscanf(s, "%3u.%3u%n", &major, &minor, &n) != 2 || s[n] != 0)
                return -EINVAL;
        return (int)(major * 1000 + minor);
}

/* Docker's answer as a struct; a malformed one is -EBADMSG (-ENOMEM aside). */
static int answer_parse(const struct jsonmap_type *t, const char *what, const char *body,
                        size_t len, void *obj)
{
        _cleanup_json_ json_object *o = NULL;
        struct jsonmap_ctx ctx;
        int r;

        r = json_parse(body, len, &o);
        if (r < 0)
                return r;
        jsonmap_ctx_init(&ctx, what, NULL);
        r = jsonmap_decode(&ctx, t, o, obj);
        if (r < 0) {
                log_debug("Docker's %s answer is malformed: %s", what, ctx.reason);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        return 0;
}

static int version_parse(const char *body, size_t len, struct docker_version *v)
{
        int r = answer_parse(&version_type, "version", body, len, v);
        if (r >= 0 && api_version_number(v->api_version) < 0)
                return -EBADMSG;
        return r;
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
        jsonmap_done(&version_type, &v);
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

/* Runtimes is an object keyed by runtime name; the names are what is kept. */
static int decode_runtime_names(struct jsonmap_ctx *c, json_object *v, void *value)
{
        char ***ret = value;
        size_t n = 0;

        if (!json_object_is_type(v, json_type_object))
                return jsonmap_fail_member(c, -EINVAL, "is not a JSON object");
        char **l = calloc((size_t)json_object_object_length(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        *ret = l;
        json_object_object_foreach (v, k, unused) {
                (void)unused;
                l[n] = strdup(k);
                if (!l[n++])
                        return -ENOMEM;
        }
        return 0;
}

static void runtime_names_done(void *value)
{
        char ***l = value;
        *l = strv_free(*l);
}

static const struct jsonmap_field info_fields[] = {
    STR("ID", struct docker_info, id),
    STR("Name", struct docker_info, name),
    STR("ServerVersion", struct docker_info, server_version),
    STR("Driver", struct docker_info, driver),
    STR("CgroupDriver", struct docker_info, cgroup_driver),
    STR("CgroupVersion", struct docker_info, cgroup_version),
    STR("DockerRootDir", struct docker_info, docker_root_dir),
    STR("OSType", struct docker_info, os_type),
    STR("OperatingSystem", struct docker_info, operating_system),
    STR("Architecture", struct docker_info, architecture),
    STR("KernelVersion", struct docker_info, kernel_version),
    JSONMAP_STRV("SecurityOptions", struct docker_info, security_options),
    JSONMAP_I32("NCPU", struct docker_info, ncpu),
    JSONMAP_U64("MemTotal", struct docker_info, mem_total),
    JSONMAP_I32("Containers", struct docker_info, containers),
    JSONMAP_I32("ContainersRunning", struct docker_info, containers_running),
    JSONMAP_CUSTOM("Runtimes", struct docker_info, runtimes, .decode = decode_runtime_names,
                   .done = runtime_names_done),
    JSONMAP_END,
};
static const struct jsonmap_type info_type = JSONMAP_TYPE(struct docker_info, info_fields);

static void info_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        struct docker_info info = {};

        if (res->error == 0) {
                int r = answer_parse(&info_type, "info", resp->body, resp->body_len, &info);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid info answer from Docker";
                }
        }
        ((docker_info_fn)c->cb)(res, res->error ? NULL : &info, c->userdata);
        jsonmap_done(&info_type, &info);
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
