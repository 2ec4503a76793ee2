/* The Docker client core: endpoint, API version negotiation, the call machinery every
 * request goes through (timeouts, limits, status -> errno, Docker's message), and the
 * daemon-level calls (version, info, ping). */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "docker-internal.h"
#include "ecs/log.h"

/* ---- calls ---- */

static void call_unlink(struct docker_call *c)
{
        if (!c->client)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->client->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->client = NULL;
}

static void call_free(struct docker_call *c)
{
        if (!c)
                return;
        call_unlink(c);
        ecs_http_call_cancel(c->http);
        docker_json_stream_free(c->stream);
        docker_progress_done(&c->progress);
        free(c);
}

void docker_call_cancel(struct docker_call *call)
{
        call_free(call);
}

static int progress_object(json_object *obj, void *userdata)
{
        struct docker_call *c = userdata;
        return docker_progress_parse(&c->progress, obj);
}

/* Runs inside libcurl's write callback: parse only, never call user code from here. */
static int call_on_data(const char *data, size_t len, void *userdata)
{
        struct docker_call *c = userdata;
        int r;

        r = docker_json_stream_feed(c->stream, data, len, progress_object, c);
        if (r < 0)
                c->stream_error = r;
        return r;
}

static bool status_ok(long status)
{
        return (status >= 200 && status < 300) || status == 304;
}

static void call_on_done(const struct ecs_http_response *resp, void *userdata)
{
        struct docker_call *c = userdata;
        struct docker_result res = {.http_status = resp->status};
        _cleanup_free_ char *owned = NULL;
        const char *text = NULL;

        c->http = NULL; /* the loop frees the transfer once we return */
        call_unlink(c); /* from here on the user may free the client */

        /* A non-JSON error body makes the progress parser abort: the status says more. */
        bool http_error = !status_ok(resp->status) && resp->status > 0;
        if (resp->error < 0 && !(c->stream_error && http_error)) {
                res.error = resp->error;
                text = c->stream_error ? "invalid progress stream from Docker" : resp->error_text;
        } else if (http_error || resp->status == 0) {
                res.error = docker_error_from_status(resp->status, c->conflict);
                if (c->stream)
                        text = c->progress.message ? c->progress.message : c->progress.error;
                else
                        text = owned = docker_error_message(resp->body, resp->body_len);
        } else if (c->progress.error) {
                /* Pulls and loads report failures inside a 200 stream. */
                res.error = docker_pull_error_from_text(c->progress.error);
                text = c->progress.error;
        }
        if (res.error < 0 && isempty(text)) {
                char *m = NULL;
                if (resp->status > 0 && asprintf(&m, "HTTP %ld from Docker", resp->status) < 0)
                        m = NULL;
                else if (resp->status <= 0)
                        m = strdup(strerror(-res.error));
                free(owned);
                owned = m;
                text = owned ? owned : "Docker error";
        }
        res.message = res.error < 0 ? text : NULL;
        c->finish(c, resp, &res);
        call_free(c);
}

int docker_client_url(struct docker_client *client, const char *path, bool unversioned, char **ret)
{
        bool v = !unversioned && client->api_version[0];
        char *u;

        if (asprintf(&u, "%s%s%s%s", client->base_url, v ? "/v" : "", v ? client->api_version : "",
                     path) < 0)
                return -ENOMEM;
        *ret = u;
        return 0;
}

int docker_call_start(struct docker_client *client, const struct docker_request *req,
                      docker_finish_fn finish, void (*cb)(void), void *userdata,
                      struct docker_call **ret)
{
        _cleanup_free_ char *url = NULL, *ctype = NULL, *auth = NULL;
        struct docker_call *c;
        char *headers[3] = {};
        size_t n = 0;
        int r;

        if (!client || !cb)
                return -EINVAL;
        r = docker_client_url(client, req->path, req->unversioned, &url);
        if (r < 0)
                return r;
        if (req->content_type) {
                if (asprintf(&ctype, "Content-Type: %s", req->content_type) < 0)
                        return -ENOMEM;
                headers[n++] = ctype;
        }
        if (req->auth_header) {
                if (asprintf(&auth, "X-Registry-Auth: %s", req->auth_header) < 0)
                        return -ENOMEM;
                headers[n++] = auth;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->finish = finish;
        c->cb = cb;
        c->userdata = userdata;
        c->conflict = req->conflict ? req->conflict : -EBUSY;
        if (req->progress) {
                r = docker_json_stream_new(DOCKER_MAX_OBJECT, &c->stream);
                if (r < 0) {
                        free(c);
                        return r;
                }
        }

        struct ecs_http_request hr = {
            .method = req->method,
            .url = url,
            .unix_socket = client->socket_path,
            .headers = headers,
            .body = req->body,
            .body_len = req->body_len,
            .timeout_usec = req->timeout_usec,
            .stall_timeout_usec = req->stall_timeout_usec,
            .max_response = req->max_response ? req->max_response : DOCKER_MAX_SMALL,
            .on_data = req->progress ? call_on_data : NULL,
        };
        r = ecs_http_start(client->loop, &hr, call_on_done, c, &c->http);
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->client = c->owner = client;
        c->next = client->calls;
        if (c->next)
                c->next->prev = c;
        client->calls = c;
        log_debug("Docker %s %s", req->method ? req->method : "GET", req->path);
        if (ret)
                *ret = c;
        return 0;
}

/* ---- the client ---- */

int docker_client_new(struct ecs_loop *loop, const char *docker_host, struct docker_client **ret)
{
        _cleanup_free_ char *path = NULL, *url = NULL;
        struct docker_client *c;
        const char *h = docker_host ? docker_host : DOCKER_DEFAULT_HOST;

        if (!loop || !ret)
                return -EINVAL;
        if (strncmp(h, "unix://", 7) == 0 || h[0] == '/') {
                const char *p = h[0] == '/' ? h : h + 7;
                /* sun_path holds 108 bytes including the NUL. */
                if (p[0] != '/' || strlen(p) >= 108)
                        return -EINVAL;
                path = strdup(p);
                /* The host part is never resolved: libcurl connects to the socket. */
                url = strdup("http://docker");
                if (!path || !url)
                        return -ENOMEM;
        } else if (strncmp(h, "tcp://", 6) == 0 || strncmp(h, "http://", 7) == 0) {
                const char *hp = h + (h[0] == 't' ? 6 : 7);
                size_t n = strcspn(hp, "/");
                if (n == 0 || strpbrk(hp, " \t\r\n?#@") || (hp[n] && !streq(hp + n, "/")))
                        return -EINVAL;
                if (asprintf(&url, "http://%.*s", (int)n, hp) < 0)
                        return -ENOMEM;
        } else
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->socket_path = TAKE_PTR(path);
        c->base_url = TAKE_PTR(url);
        *ret = c;
        return 0;
}

struct docker_client *docker_client_free(struct docker_client *client)
{
        if (!client)
                return NULL;
        while (client->calls)
                call_free(client->calls);
        while (client->streams)
                docker_events_detach(client->streams);
        free(client->socket_path);
        free(client->base_url);
        free(client);
        return NULL;
}

const char *docker_client_api_version(const struct docker_client *client)
{
        return client && client->api_version[0] ? client->api_version : NULL;
}

/* ---- errors ---- */

int docker_error_from_status(long status, int conflict)
{
        if (status_ok(status))
                return 0;
        switch (status) {
        case 400:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 409:
                return conflict < 0 ? conflict : -EBUSY;
        case 413:
                return -E2BIG;
        }
        if (status >= 500 || status == 0)
                return -EIO;
        return -EPROTO;
}

#define DOCKER_MAX_MESSAGE 4096

static char *trimmed_copy(const char *s, size_t len)
{
        while (len > 0 && isspace((unsigned char)*s))
                s++, len--;
        while (len > 0 && isspace((unsigned char)s[len - 1]))
                len--;
        if (len == 0)
                return NULL;
        return strndup(s, MIN(len, (size_t)DOCKER_MAX_MESSAGE));
}

char *docker_error_message(const char *body, size_t len)
{
        _cleanup_json_ json_object *obj = NULL;

        if (!body || len == 0)
                return NULL;
        if (json_parse(body, len, &obj) >= 0 && json_object_is_type(obj, json_type_object)) {
                const char *m = json_get_string(obj, "message", NULL);
                return m ? trimmed_copy(m, strlen(m)) : NULL;
        }
        return trimmed_copy(body, len);
}

/* ---- small parsing helpers ---- */

int docker_url_escape(struct strbuf *b, const char *s, bool path)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                int r;
                if (isalnum(ch) || strchr("-._~", ch) || (path && strchr("/:@+", ch)))
                        r = strbuf_append(b, s, 1);
                else {
                        char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
                        r = strbuf_append(b, e, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

bool docker_name_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 255 || !isalnum((unsigned char)s[0]))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
                        return false;
        return true;
}

bool docker_image_name_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 1024 || !isalnum((unsigned char)s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("_.-/:@+", *p))
                        return false;
        /* curl would squash dot segments and reach another endpoint. */
        return !strstr(s, "/.") && !strstr(s, "..");
}

int docker_label_filters(const char *type, char *const *labels, char **ret)
{
        _cleanup_json_ json_object *f = json_object_new_object();
        json_object *arr = NULL;
        int r;

        if (!f)
                return -ENOMEM;
        if (type) {
                arr = json_object_new_array();
                if (!arr || json_object_array_add(arr, json_object_new_string(type)) < 0) {
                        json_object_put(arr);
                        return -ENOMEM;
                }
                r = json_add(f, "type", arr);
                if (r < 0)
                        return r;
        }
        if (labels && labels[0]) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                r = json_add(f, "label", arr);
                if (r < 0)
                        return r;
                for (char *const *l = labels; *l; l++) {
                        if (isempty(*l))
                                return -EINVAL;
                        json_object *s = json_object_new_string(*l);
                        if (!s || json_object_array_add(arr, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }
        if (json_object_object_length(f) == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = json_dump(f);
        return *ret ? 0 : -ENOMEM;
}

const char *docker_kv_get(const struct docker_kv *kv, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (streq(kv[i].key, key))
                        return kv[i].value;
        return NULL;
}

void docker_kv_free_many(struct docker_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

int docker_kv_from_json(json_object *obj, struct docker_kv **ret, size_t *ret_n)
{
        struct docker_kv *kv = NULL;
        size_t n = 0;

        if (obj && json_object_is_type(obj, json_type_object) &&
            json_object_object_length(obj) > 0) {
                kv = calloc((size_t)json_object_object_length(obj), sizeof(*kv));
                if (!kv)
                        return -ENOMEM;
                json_object_object_foreach (obj, k, v) {
                        if (!json_object_is_type(v, json_type_string))
                                continue;
                        kv[n].key = strdup(k);
                        kv[n].value = strdup(json_object_get_string(v));
                        n++;
                        if (!kv[n - 1].key || !kv[n - 1].value) {
                                docker_kv_free_many(kv, n);
                                return -ENOMEM;
                        }
                }
        }
        *ret = kv;
        *ret_n = n;
        return 0;
}

int docker_strdup_member(json_object *obj, const char *key, bool empty_is_null, char **ret)
{
        const char *s = json_get_string(obj, key, NULL);

        if (!s || (empty_is_null && !*s)) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int docker_strv_from_json(json_object *arr, char ***ret)
{
        size_t n =
            arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
        char **l = calloc(n + 1, sizeof(char *));
        size_t k = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(arr, i);
                if (!json_object_is_type(v, json_type_string))
                        continue;
                l[k] = strdup(json_object_get_string(v));
                if (!l[k++]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, char c)
{
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int docker_time_parse(const char *s, uint64_t *ret_usec)
{
        struct tm tm = {};
        int year, mon, day, hour, min, sec, off = 0;
        uint64_t nsec = 0;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &year) < 0 || expect_char(&p, '-') < 0 ||
            parse_digits(&p, 2, &mon) < 0 || expect_char(&p, '-') < 0 ||
            parse_digits(&p, 2, &day) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &hour) < 0 || expect_char(&p, ':') < 0 ||
            parse_digits(&p, 2, &min) < 0 || expect_char(&p, ':') < 0 ||
            parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                int digits = 0;
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                for (; isdigit((unsigned char)*p); p++)
                        if (digits++ < 9)
                                nsec = nsec * 10 + (uint64_t)(*p - '0');
                for (; digits < 9; digits++)
                        nsec *= 10;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;
                p++;
                if (parse_digits(&p, 2, &oh) < 0 || expect_char(&p, ':') < 0 ||
                    parse_digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;
        /* Go's zero time.Time ("0001-01-01T00:00:00Z") means "never". */
        if (year < 1970) {
                *ret_usec = 0;
                return 0;
        }
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        int64_t t = (int64_t)timegm(&tm) - off;
        *ret_usec = t < 0 ? 0 : (uint64_t)t * USEC_PER_SEC + nsec / 1000;
        return 0;
}

/* ---- concatenated JSON objects ---- */

struct docker_json_stream {
        struct json_tokener *tok;
        size_t max_object;
        size_t pending; /* bytes fed into the object being parsed */
};

int docker_json_stream_new(size_t max_object, struct docker_json_stream **ret)
{
        struct docker_json_stream *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->tok = json_tokener_new_ex(ECS_JSON_MAX_DEPTH);
        if (!s->tok) {
                free(s);
                return -ENOMEM;
        }
        /* Not strict: strict mode refuses a second object after the first in one buffer. */
        json_tokener_set_flags(s->tok, 0);
        s->max_object = max_object ? max_object : DOCKER_MAX_OBJECT;
        *ret = s;
        return 0;
}

struct docker_json_stream *docker_json_stream_free(struct docker_json_stream *s)
{
        if (!s)
                return NULL;
        json_tokener_free(s->tok);
        free(s);
        return NULL;
}

int docker_json_stream_feed(struct docker_json_stream *s, const char *data, size_t len,
                            docker_json_object_fn cb, void *userdata)
{
        while (len > 0) {
                int chunk = (int)MIN(len, (size_t)INT32_MAX);
                json_object *obj = json_tokener_parse_ex(s->tok, data, chunk);
                enum json_tokener_error e = json_tokener_get_error(s->tok);

                if (e == json_tokener_continue) {
                        s->pending += (size_t)chunk;
                        if (s->pending > s->max_object) {
                                json_tokener_reset(s->tok);
                                s->pending = 0;
                                return -E2BIG;
                        }
                        data += chunk;
                        len -= (size_t)chunk;
                        continue;
                }
                size_t end = json_tokener_get_parse_end(s->tok);
                if (e != json_tokener_success || end == 0 || end > (size_t)chunk) {
                        json_object_put(obj);
                        json_tokener_reset(s->tok);
                        s->pending = 0;
                        return -EBADMSG;
                }
                bool big = s->pending + end > s->max_object;
                s->pending = 0;
                data += end;
                len -= end;
                if (big) {
                        json_object_put(obj);
                        return -E2BIG;
                }
                if (obj && json_object_is_type(obj, json_type_object)) {
                        int r = cb(obj, userdata);
                        json_object_put(obj);
                        if (r < 0)
                                return r;
                } else
                        json_object_put(obj);
        }
        return 0;
}

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
