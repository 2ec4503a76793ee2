/* Containers: create, start, stop, kill, inspect (typed), remove, list by label. */
#include <ctype.h>

#include "docker-internal.h"

static const char *const container_state_table[_DOCKER_CONTAINER_STATE_MAX] = {
    [DOCKER_CONTAINER_CREATED] = "created",   [DOCKER_CONTAINER_RUNNING] = "running",
    [DOCKER_CONTAINER_PAUSED] = "paused",     [DOCKER_CONTAINER_RESTARTING] = "restarting",
    [DOCKER_CONTAINER_REMOVING] = "removing", [DOCKER_CONTAINER_EXITED] = "exited",
    [DOCKER_CONTAINER_DEAD] = "dead",
};

static const char *const health_table[_DOCKER_HEALTH_MAX] = {
    [DOCKER_HEALTH_NONE] = "none",
    [DOCKER_HEALTH_STARTING] = "starting",
    [DOCKER_HEALTH_HEALTHY] = "healthy",
    [DOCKER_HEALTH_UNHEALTHY] = "unhealthy",
};

const char *docker_container_state_to_string(enum docker_container_state s)
{
        return s >= 0 && s < _DOCKER_CONTAINER_STATE_MAX ? container_state_table[s] : NULL;
}

enum docker_container_state docker_container_state_from_string(const char *s)
{
        for (int i = 0; s && i < _DOCKER_CONTAINER_STATE_MAX; i++)
                if (streq(s, container_state_table[i]))
                        return i;
        return _DOCKER_CONTAINER_STATE_INVALID;
}

const char *docker_health_status_to_string(enum docker_health_status h)
{
        return h >= 0 && h < _DOCKER_HEALTH_MAX ? health_table[h] : NULL;
}

enum docker_health_status docker_health_status_from_string(const char *s)
{
        for (int i = 0; s && i < _DOCKER_HEALTH_MAX; i++)
                if (streq(s, health_table[i]))
                        return i;
        return _DOCKER_HEALTH_INVALID;
}

/* ---- inspect parsing ---- */

struct docker_container *docker_container_free(struct docker_container *c)
{
        if (!c)
                return NULL;
        free(c->id);
        free(c->name);
        free(c->image_id);
        free(c->config_image);
        free(c->error);
        free(c->health_output);
        free(c->network_mode);
        docker_kv_free_many(c->labels, c->n_labels);
        for (size_t i = 0; i < c->n_ports; i++)
                free(c->ports[i].host_ip);
        free(c->ports);
        for (size_t i = 0; i < c->n_networks; i++) {
                free(c->networks[i].name);
                free(c->networks[i].ip_address);
                free(c->networks[i].ipv6_address);
        }
        free(c->networks);
        free(c);
        return NULL;
}

const char *docker_container_label(const struct docker_container *c, const char *key)
{
        return c ? docker_kv_get(c->labels, c->n_labels, key) : NULL;
}

static int parse_port(const char *s, size_t n, uint16_t *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

/* NetworkSettings.Ports: {"80/tcp": [{"HostIp":"0.0.0.0","HostPort":"32768"}, ...] | null}.
 * Exposed but unpublished ports (null) have no binding and are skipped. */
static int parse_ports(json_object *ports, struct docker_container *c)
{
        size_t cap = 0;

        if (!ports)
                return 0;
        json_object_object_foreach (ports, key, arr) {
                const char *slash = strchr(key, '/');
                uint16_t cport;

                if (!arr || !json_object_is_type(arr, json_type_array))
                        continue;
                if (parse_port(key, slash ? (size_t)(slash - key) : strlen(key), &cport) < 0)
                        continue;
                const char *proto = slash ? slash + 1 : "tcp";
                if (strlen(proto) >= sizeof(c->ports[0].protocol))
                        continue;
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        json_object *b = json_object_array_get_idx(arr, i);
                        const char *hp = json_get_string(b, "HostPort", NULL);
                        const char *hip = json_get_string(b, "HostIp", NULL);
                        uint16_t hport;

                        if (!hp || parse_port(hp, strlen(hp), &hport) < 0)
                                continue;
                        if (c->n_ports == cap) {
                                size_t ncap = cap ? cap * 2 : 4;
                                struct docker_port_binding *p =
                                    reallocarray(c->ports, ncap, sizeof(*p));
                                if (!p)
                                        return -ENOMEM;
                                c->ports = p;
                                cap = ncap;
                        }
                        struct docker_port_binding *pb = &c->ports[c->n_ports];
                        *pb = (struct docker_port_binding){.container_port = cport,
                                                           .host_port = hport};
                        snprintf(pb->protocol, sizeof(pb->protocol), "%s", proto);
                        pb->host_ip = strdup(isempty(hip) ? "0.0.0.0" : hip);
                        if (!pb->host_ip)
                                return -ENOMEM;
                        c->n_ports++;
                }
        }
        return 0;
}

static int parse_networks(json_object *nets, struct docker_container *c)
{
        size_t n;

        if (!nets || (n = (size_t)json_object_object_length(nets)) == 0)
                return 0;
        c->networks = calloc(n, sizeof(*c->networks));
        if (!c->networks)
                return -ENOMEM;
        json_object_object_foreach (nets, name, net) {
                struct docker_network *dn = &c->networks[c->n_networks++];
                dn->name = strdup(name);
                if (!dn->name ||
                    docker_strdup_member(net, "IPAddress", true, &dn->ip_address) < 0 ||
                    docker_strdup_member(net, "GlobalIPv6Address", true, &dn->ipv6_address) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_time_member(json_object *o, const char *key, uint64_t *ret)
{
        const char *s = json_get_string(o, key, NULL);

        *ret = 0;
        return s ? docker_time_parse(s, ret) : 0;
}

static int parse_state(json_object *st, struct docker_container *c)
{
        bool ok = true;
        json_object *health, *log;
        const char *status;

        if (!st)
                return -EBADMSG;
        status = json_get_string(st, "Status", &ok);
        c->state = docker_container_state_from_string(status);
        c->running = json_get_bool(st, "Running", false, &ok);
        c->paused = json_get_bool(st, "Paused", false, &ok);
        c->restarting = json_get_bool(st, "Restarting", false, &ok);
        c->oom_killed = json_get_bool(st, "OOMKilled", false, &ok);
        c->dead = json_get_bool(st, "Dead", false, &ok);
        c->pid = (int)json_get_int(st, "Pid", 0, &ok);
        c->exit_code = (int)json_get_int(st, "ExitCode", 0, &ok);
        if (!ok)
                return -EBADMSG;
        if (docker_strdup_member(st, "Error", true, &c->error) < 0)
                return -ENOMEM;
        if (parse_time_member(st, "StartedAt", &c->started_at_usec) < 0 ||
            parse_time_member(st, "FinishedAt", &c->finished_at_usec) < 0)
                return -EBADMSG;

        health = json_get_object(st, "Health", NULL);
        if (!health)
                return 0;
        c->health = docker_health_status_from_string(json_get_string(health, "Status", NULL));
        if (c->health < 0)
                c->health = DOCKER_HEALTH_NONE;
        log = json_get_array(health, "Log", NULL);
        if (log && json_object_array_length(log) > 0) {
                json_object *last =
                    json_object_array_get_idx(log, json_object_array_length(log) - 1);
                c->health_exit_code = (int)json_get_int(last, "ExitCode", 0, NULL);
                if (docker_strdup_member(last, "Output", true, &c->health_output) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int container_from_json(json_object *o, struct docker_container *c)
{
        json_object *config = json_get_object(o, "Config", NULL);
        json_object *ns = json_get_object(o, "NetworkSettings", NULL);
        const char *name;
        int r;

        if (!json_object_is_type(o, json_type_object) || isempty(json_get_string(o, "Id", NULL)))
                return -EBADMSG;
        name = json_get_string(o, "Name", NULL);
        if (name && name[0] == '/')
                name++;
        c->id = strdup(json_get_string(o, "Id", NULL));
        c->name = name ? strdup(name) : NULL;
        if (!c->id || (name && !c->name))
                return -ENOMEM;
        if (docker_strdup_member(o, "Image", true, &c->image_id) < 0 ||
            docker_strdup_member(config, "Image", true, &c->config_image) < 0 ||
            docker_strdup_member(json_get_object(o, "HostConfig", NULL), "NetworkMode", true,
                                 &c->network_mode) < 0)
                return -ENOMEM;
        r = parse_state(json_get_object(o, "State", NULL), c);
        if (r < 0)
                return r;
        if (parse_time_member(o, "Created", &c->created_usec) < 0)
                c->created_usec = 0;
        c->restart_count = (int)json_get_int(o, "RestartCount", 0, NULL);
        r = docker_kv_from_json(json_get_object(config, "Labels", NULL), &c->labels, &c->n_labels);
        if (r < 0)
                return r;
        r = parse_ports(json_get_object(ns, "Ports", NULL), c);
        if (r < 0)
                return r;
        return parse_networks(json_get_object(ns, "Networks", NULL), c);
}

int docker_container_parse(const char *json, size_t len, struct docker_container **ret)
{
        _cleanup_json_ json_object *o = NULL;
        struct docker_container *c;
        int r;

        r = json_parse(json, len, &o);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = container_from_json(o, c);
        if (r < 0) {
                docker_container_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ---- calls ---- */

/* "/containers/<id><suffix>" with id checked: ids and names only, never paths. */
static int container_path(struct strbuf *b, const char *id, const char *suffix)
{
        if (!docker_name_valid(id))
                return -EINVAL;
        return strbuf_printf(b, "/containers/%s%s", id, suffix);
}

static int simple_call(struct docker_client *client, const char *method, struct strbuf *path, int r,
                       uint64_t timeout_usec, int conflict, docker_done_fn cb, void *userdata,
                       struct docker_call **ret)
{
        if (r >= 0) {
                struct docker_request req = {
                    .method = method,
                    .path = path->data,
                    .timeout_usec = timeout_usec,
                    .conflict = conflict,
                };
                r = docker_call_start(client, &req, docker_done_finish, (void (*)(void))cb,
                                      userdata, ret);
        }
        strbuf_done(path);
        return r;
}

static void create_finish(struct docker_call *c, const struct ecs_http_response *resp,
                          struct docker_result *res)
{
        _cleanup_json_ json_object *o = NULL;
        const char *id = NULL;

        if (res->error == 0) {
                if (json_parse(resp->body, resp->body_len, &o) >= 0)
                        id = json_get_string(o, "Id", NULL);
                if (isempty(id) || !docker_name_valid(id)) {
                        id = NULL;
                        res->error = -EBADMSG;
                        res->message = "Invalid create answer from Docker";
                }
        }
        ((docker_create_fn)c->cb)(res, id, c->userdata);
}

int docker_container_create(struct docker_client *client, const char *name, json_object *config,
                            uint64_t timeout_usec, docker_create_fn cb, void *userdata,
                            struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        _cleanup_free_ char *body = NULL;
        int r;

        if (!config || !json_object_is_type(config, json_type_object) ||
            (name && !docker_name_valid(name)))
                return -EINVAL;
        body = json_dump(config);
        if (!body)
                return -ENOMEM;
        r = strbuf_puts(&path, "/containers/create");
        if (r >= 0 && name)
                r = strbuf_printf(&path, "?name=%s", name);
        if (r >= 0) {
                struct docker_request req = {
                    .method = "POST",
                    .path = path.data,
                    .content_type = "application/json",
                    .body = body,
                    .body_len = strlen(body),
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_CREATE,
                    .max_response = 64 * 1024,
                    .conflict = -EEXIST,
                };
                r = docker_call_start(client, &req, create_finish, (void (*)(void))cb, userdata,
                                      ret);
        }
        strbuf_done(&path);
        return r;
}

int docker_container_start(struct docker_client *client, const char *id, uint64_t timeout_usec,
                           docker_done_fn cb, void *userdata, struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r = container_path(&path, id, "/start");
        return simple_call(client, "POST", &path, r,
                           timeout_usec ? timeout_usec : DOCKER_TIMEOUT_START, 0, cb, userdata,
                           ret);
}

int docker_container_stop(struct docker_client *client, const char *id, unsigned grace_sec,
                          uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                          struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r = container_path(&path, id, "/stop");

        if (r >= 0)
                r = strbuf_printf(&path, "?t=%u", grace_sec);
        /* Docker answers only once the container is gone: the grace period plus slack, as the
         * official agent allows (it reports DockerTimeoutError past that). */
        if (!timeout_usec)
                timeout_usec = (uint64_t)grace_sec * USEC_PER_SEC + DOCKER_TIMEOUT_STOP_EXTRA;
        return simple_call(client, "POST", &path, r, timeout_usec, 0, cb, userdata, ret);
}

int docker_container_kill(struct docker_client *client, const char *id, const char *signal,
                          uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                          struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r;

        if (!signal)
                signal = "SIGKILL";
        if (isempty(signal) || strlen(signal) > 16)
                return -EINVAL;
        for (const char *p = signal; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-')
                        return -EINVAL;
        r = container_path(&path, id, "/kill");
        if (r >= 0)
                r = strbuf_puts(&path, "?signal=");
        if (r >= 0)
                r = docker_url_escape(&path, signal, false);
        return simple_call(client, "POST", &path, r,
                           timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT, 0, cb, userdata,
                           ret);
}

static void inspect_finish(struct docker_call *c, const struct ecs_http_response *resp,
                           struct docker_result *res)
{
        struct docker_container *ct = NULL;

        if (res->error == 0) {
                int r = docker_container_parse(resp->body, resp->body_len, &ct);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid container inspect answer from Docker";
                }
        }
        ((docker_container_fn)c->cb)(res, ct, c->userdata);
        docker_container_free(ct);
}

int docker_container_inspect(struct docker_client *client, const char *id, uint64_t timeout_usec,
                             docker_container_fn cb, void *userdata, struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r = container_path(&path, id, "/json");

        if (r >= 0) {
                struct docker_request req = {
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
                    .max_response = DOCKER_MAX_INSPECT,
                };
                r = docker_call_start(client, &req, inspect_finish, (void (*)(void))cb, userdata,
                                      ret);
        }
        strbuf_done(&path);
        return r;
}

int docker_container_remove(struct docker_client *client, const char *id, bool remove_volumes,
                            bool force, uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                            struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r = container_path(&path, id, "");

        if (r >= 0)
                r = strbuf_printf(&path, "?v=%d&force=%d", remove_volumes, force);
        return simple_call(client, "DELETE", &path, r,
                           timeout_usec ? timeout_usec : DOCKER_TIMEOUT_REMOVE, 0, cb, userdata,
                           ret);
}

/* ---- list ---- */

static void summaries_free(void *list, size_t n)
{
        struct docker_container_summary *l = list;
        for (size_t i = 0; i < n; i++) {
                free(l[i].id);
                free(l[i].name);
                free(l[i].image);
                free(l[i].image_id);
                free(l[i].status);
                docker_kv_free_many(l[i].labels, l[i].n_labels);
        }
        free(l);
}

static int summary_from_json(json_object *o, void *elem)
{
        struct docker_container_summary *s = elem;
        json_object *names = json_get_array(o, "Names", NULL);
        const char *id = json_get_string(o, "Id", NULL);
        int64_t created;

        if (isempty(id))
                return -EBADMSG;
        s->id = strdup(id);
        if (!s->id)
                return -ENOMEM;
        if (names && json_object_array_length(names) > 0) {
                const char *n = json_object_get_string(json_object_array_get_idx(names, 0));
                if (n && n[0] == '/')
                        n++;
                if (n && !(s->name = strdup(n)))
                        return -ENOMEM;
        }
        if (docker_strdup_member(o, "Image", true, &s->image) < 0 ||
            docker_strdup_member(o, "ImageID", true, &s->image_id) < 0 ||
            docker_strdup_member(o, "Status", true, &s->status) < 0)
                return -ENOMEM;
        s->state = docker_container_state_from_string(json_get_string(o, "State", NULL));
        created = json_get_int(o, "Created", 0, NULL);
        s->created_usec = created > 0 ? (uint64_t)created * USEC_PER_SEC : 0;
        return docker_kv_from_json(json_get_object(o, "Labels", NULL), &s->labels, &s->n_labels);
}

static int summaries_parse(const char *body, size_t len, struct docker_container_summary **ret,
                           size_t *ret_n)
{
        return docker_list_parse(body, len, sizeof(**ret), summary_from_json, summaries_free,
                                 (void **)ret, ret_n);
}

static void list_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        struct docker_container_summary *l = NULL;
        size_t n = 0;

        if (res->error == 0) {
                int r = summaries_parse(resp->body, resp->body_len, &l, &n);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid container list answer from Docker";
                }
        }
        ((docker_list_fn)c->cb)(res, l, n, c->userdata);
        summaries_free(l, n);
}

int docker_container_list(struct docker_client *client, char *const *labels, uint64_t timeout_usec,
                          docker_list_fn cb, void *userdata, struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        _cleanup_free_ char *filters = NULL;
        int r;

        r = docker_label_filters(NULL, labels, &filters);
        if (r < 0)
                return r;
        r = strbuf_puts(&path, "/containers/json?all=1");
        if (r >= 0 && filters) {
                r = strbuf_puts(&path, "&filters=");
                if (r >= 0)
                        r = docker_url_escape(&path, filters, false);
        }
        if (r >= 0) {
                struct docker_request req = {
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
                    .max_response = DOCKER_MAX_LIST,
                };
                r = docker_call_start(client, &req, list_finish, (void (*)(void))cb, userdata, ret);
        }
        strbuf_done(&path);
        return r;
}
