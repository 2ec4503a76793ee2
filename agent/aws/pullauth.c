/* Registry credentials for pulls: static host credentials and ECR tokens (§1.13, §10.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "ecs/awsjson.h"
#include "ecs/backoff.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/macro.h"
#include "ecs/pullauth.h"
#include "ecs/sigv4.h"
#include "ecs/strbuf.h"

#define USEC_PER_SEC   1000000ULL
#define USEC_PER_MIN   (60ULL * USEC_PER_SEC)
#define ECR_TIMEOUT    (5ULL * USEC_PER_SEC) /* the official ECR round-trip timeout */
#define ECR_TARGET     "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
#define MAX_SECRET_LEN 65536

static void free_secret(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int pullauth_base64_decode(const char *in, char **ret, size_t *ret_len)
{
        size_t n = in ? strlen(in) : 0, o = 0;
        char *out;

        if (n == 0 || n % 4 != 0 || n > MAX_SECRET_LEN)
                return -EINVAL;
        out = malloc(n / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];
                size_t pad = 0;
                for (size_t k = 0; k < 4; k++) {
                        unsigned char c = (unsigned char)in[i + k];
                        if (c == '=' && i + 4 == n && k >= 2) {
                                v[k] = 0;
                                pad++;
                                continue;
                        }
                        if (pad > 0 || (v[k] = b64_value(c)) < 0) {
                                explicit_bzero(out, n / 4 * 3 + 1);
                                free(out);
                                return -EINVAL;
                        }
                }
                uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                             (uint32_t)v[3];
                out[o++] = (char)(w >> 16);
                if (pad < 2)
                        out[o++] = (char)(w >> 8 & 0xff);
                if (pad < 1)
                        out[o++] = (char)(w & 0xff);
        }
        out[o] = '\0';
        *ret = out;
        if (ret_len)
                *ret_len = o;
        return 0;
}

/* "user:password" (split at the first colon, both non-empty user) into two strings. */
static int split_user_password(const char *plain, size_t len, char **ret_user, char **ret_pass)
{
        const char *colon = memchr(plain, ':', len);

        if (!colon || colon == plain || memchr(plain, '\0', len))
                return -EINVAL;
        *ret_user = strndup(plain, (size_t)(colon - plain));
        *ret_pass = strndup(colon + 1, len - (size_t)(colon - plain) - 1);
        if (!*ret_user || !*ret_pass) {
                free(*ret_user);
                free_secret(*ret_pass);
                return -ENOMEM;
        }
        return 0;
}

/* ---- static credentials ---- */

static const char *strip_scheme(const char *key)
{
        if (startswith(key, "http://"))
                return key + 7;
        if (startswith(key, "https://"))
                return key + 8;
        return key;
}

static void entry_done(struct pullauth_entry *e)
{
        free(e->key);
        free(e->username);
        free_secret(e->password);
        free(e->email);
        free(e->server_address);
}

struct pullauth_static *pullauth_static_free(struct pullauth_static *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                entry_done(&s->entries[i]);
        free(s->entries);
        free(s);
        return NULL;
}

static int dup_opt(json_object *o, const char *key, char **ret)
{
        bool ok = true;
        const char *v = json_get_string(o, key, &ok);
        if (!ok)
                return -EINVAL;
        if (v && !(*ret = strdup(v)))
                return -ENOMEM;
        return 0;
}

/* {"auth": base64("user:password")} into the entry's username and password. */
static int decode_auth_member(json_object *v, struct pullauth_entry *e)
{
        _cleanup_free_ char *plain = NULL;
        size_t len = 0;
        bool ok = true;
        const char *auth = json_get_string(v, "auth", &ok);
        int r;

        if (!ok || !auth)
                return -EINVAL;
        r = pullauth_base64_decode(auth, &plain, &len);
        if (r < 0)
                return r;
        r = split_user_password(plain, len, &e->username, &e->password);
        explicit_bzero(plain, len);
        return r;
}

static int parse_entry(enum ecs_engine_auth_type type, const char *key, json_object *v,
                       struct pullauth_entry *e)
{
        int r;

        if (!json_object_is_type(v, json_type_object))
                return -EINVAL;
        if (type == ECS_ENGINE_AUTH_TYPE_DOCKER &&
            ((r = dup_opt(v, "username", &e->username)) < 0 ||
             (r = dup_opt(v, "password", &e->password)) < 0 ||
             (r = dup_opt(v, "email", &e->email)) < 0 ||
             (r = dup_opt(v, "serveraddress", &e->server_address)) < 0))
                return r;
        /* dockercfg has only {"auth": base64}; the docker format accepts it too. */
        if (!e->username && !e->password && (r = decode_auth_member(v, e)) < 0)
                return r;
        e->key = strdup(strip_scheme(key));
        return e->key ? 0 : -ENOMEM;
}

int pullauth_static_parse(enum ecs_engine_auth_type type, const char *data,
                          struct pullauth_static **ret)
{
        _cleanup_json_ json_object *doc = NULL;
        struct pullauth_static *s = calloc(1, sizeof(*s));
        int r = 0;

        if (!s)
                return -ENOMEM;
        *ret = s;
        if (type == ECS_ENGINE_AUTH_TYPE_NONE || isempty(data))
                return 0;
        if (json_parse(data, strlen(data), &doc) < 0 ||
            !json_object_is_type(doc, json_type_object)) {
                log_warning("ECS_ENGINE_AUTH_DATA is not a JSON object; no static registry "
                            "credentials are used");
                return -EBADMSG;
        }
        size_t n = (size_t)json_object_object_length(doc);
        s->entries = calloc(n ? n : 1, sizeof(*s->entries));
        if (!s->entries)
                return -ENOMEM;
        json_object_object_foreach (doc, key, val) {
                struct pullauth_entry e = {0};
                int k = parse_entry(type, key, val, &e);
                if (k == -ENOMEM) {
                        entry_done(&e);
                        return -ENOMEM;
                }
                if (k < 0 || isempty(e.key)) {
                        /* The key names a registry, never a secret. */
                        log_warning("ECS_ENGINE_AUTH_DATA: malformed %s credentials for "
                                    "registry %s; ignored",
                                    ecs_engine_auth_type_to_string(type), key);
                        entry_done(&e);
                        r = -EBADMSG;
                        continue;
                }
                s->entries[s->n++] = e;
        }
        return r;
}

static bool is_docker_hub(const char *host, size_t n)
{
        static const char *const hubs[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
        for (size_t i = 0; i < ELEMENTSOF(hubs); i++)
                if (strlen(hubs[i]) == n && !memcmp(hubs[i], host, n))
                        return true;
        return false;
}

const struct pullauth_entry *pullauth_static_lookup(const struct pullauth_static *s,
                                                    const char *image)
{
        const struct pullauth_entry *best = NULL;
        const char *slash, *at, *colon;
        size_t repo_len, host_len;

        if (!s || s->n == 0 || isempty(image))
                return NULL;
        /* The repository: the tag (a colon after the last slash) and the digest go. */
        at = strchr(image, '@');
        repo_len = at ? (size_t)(at - image) : strlen(image);
        slash = memrchr(image, '/', repo_len);
        colon = memrchr(image, ':', repo_len);
        if (colon && (!slash || colon > slash))
                repo_len = (size_t)(colon - image);
        /* The registry: the first component when it looks like a host, else Docker Hub. */
        slash = memchr(image, '/', repo_len);
        host_len = slash ? (size_t)(slash - image) : 0;
        if (!slash ||
            (!memchr(image, '.', host_len) && !memchr(image, ':', host_len) &&
             !(host_len == 9 && !memcmp(image, "localhost", 9))) ||
            is_docker_hub(image, host_len)) {
                for (size_t i = 0; i < s->n; i++)
                        if (streq(s->entries[i].key, "index.docker.io/v1/"))
                                return &s->entries[i];
                return NULL;
        }
        /* A key that is exactly the host is the default; another key on that host replaces
         * it only when it is longer and prefixes the image (a namespace). */
        for (size_t i = 0; i < s->n; i++)
                if (strlen(s->entries[i].key) == host_len &&
                    !memcmp(s->entries[i].key, image, host_len))
                        best = &s->entries[i];
        for (size_t i = 0; i < s->n; i++) {
                const struct pullauth_entry *e = &s->entries[i];
                const char *ks = strchr(e->key, '/');
                size_t klen = ks ? (size_t)(ks - e->key) : strlen(e->key);
                if (klen != host_len || memcmp(e->key, image, host_len))
                        continue;
                if (!best || (strlen(e->key) > strlen(best->key) && startswith(image, e->key)))
                        best = e;
        }
        return best;
}

/* ---- ECR ---- */

struct token;

struct pullauth_wait {
        struct token *tok;
        pullauth_ecr_fn cb;
        void *userdata;
        sd_event_source *defer; /* a cache hit is answered from the loop */
        struct pullauth_wait *next;
};

struct token {
        char *key;
        char *username, *password, *endpoint;
        uint64_t refresh_usec; /* realtime: not used from here on */
        bool valid;
        struct awsjson_client *client;
        struct awsjson_call *call;
        struct pullauth_wait *waiters;
        struct token *next;
};

struct pullauth_ecr {
        struct ecs_loop *loop;
        struct aws_credential_provider *creds;
        struct token *tokens;
};

int pullauth_ecr_new(struct ecs_loop *loop, struct aws_credential_provider *instance_creds,
                     struct pullauth_ecr **ret)
{
        struct pullauth_ecr *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->loop = loop;
        p->creds = instance_creds;
        *ret = p;
        return 0;
}

static void token_forget(struct token *t)
{
        free(t->username);
        free_secret(t->password);
        free(t->endpoint);
        t->username = t->password = t->endpoint = NULL;
        t->valid = false;
}

static void wait_free(struct pullauth_wait *w)
{
        sd_event_source_disable_unref(w->defer);
        free(w);
}

struct pullauth_ecr *pullauth_ecr_free(struct pullauth_ecr *p)
{
        if (!p)
                return NULL;
        while (p->tokens) {
                struct token *t = p->tokens;
                p->tokens = t->next;
                awsjson_call_cancel(t->call);
                awsjson_client_free(t->client);
                while (t->waiters) {
                        struct pullauth_wait *w = t->waiters;
                        t->waiters = w->next;
                        wait_free(w);
                }
                token_forget(t);
                free(t->key);
                free(t);
        }
        free(p);
        return NULL;
}

static void unlink_wait(struct pullauth_wait *w)
{
        for (struct pullauth_wait **pp = &w->tok->waiters; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        return;
                }
}

int pullauth_ecr_parse(const char *json, size_t len, char **ret_user, char **ret_password,
                       char **ret_endpoint, uint64_t *ret_expires_usec, const char **ret_why)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *plain = NULL;
        json_object *arr, *d;
        const char *tok, *endpoint;
        bool ok = true;
        size_t plen = 0;
        double exp;
        int r;

        *ret_why = "the response is not JSON";
        if (json_parse(json, len, &o) < 0)
                return -EBADMSG;
        *ret_why = "the response has no authorizationData";
        arr = json_get_array(o, "authorizationData", &ok);
        if (!ok || !arr || json_object_array_length(arr) != 1)
                return -EBADMSG;
        d = json_object_array_get_idx(arr, 0);
        tok = json_get_string(d, "authorizationToken", &ok);
        endpoint = json_get_string(d, "proxyEndpoint", &ok);
        exp = json_get_double(d, "expiresAt", 0, &ok);
        *ret_why = "the authorization data is malformed";
        if (!ok || !tok || isempty(endpoint) || !(exp > 0 && exp < 1e11))
                return -EBADMSG;
        *ret_why = "the authorization token is not base64 of user:password";
        r = pullauth_base64_decode(tok, &plain, &plen);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        r = split_user_password(plain, plen, ret_user, ret_password);
        explicit_bzero(plain, plen);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        *ret_endpoint = strdup(endpoint);
        if (!*ret_endpoint) {
                free(*ret_user);
                free_secret(*ret_password);
                return -ENOMEM;
        }
        *ret_expires_usec = (uint64_t)(exp * (double)USEC_PER_SEC);
        *ret_why = NULL;
        return 0;
}

/* Answers every waiter; the callbacks may add new waiters (they wait for the next round). */
static void token_answer(struct token *t, int error, const char *message)
{
        struct pullauth_wait *list = t->waiters;
        t->waiters = NULL;
        while (list) {
                struct pullauth_wait *w = list;
                list = w->next;
                w->cb(error, message, t->username, t->password, t->endpoint, w->userdata);
                wait_free(w);
        }
}

static void on_token(const struct awsjson_result *res, void *ud)
{
        struct token *t = ud;
        _cleanup_free_ char *msg = NULL, *body = NULL;
        const char *why = NULL;
        uint64_t expires = 0, now = realtime_usec();
        int r = 0;

        t->call = NULL;
        if (res->error_class != AWSJSON_OK) {
                if (res->code)
                        msg = strdup_printf("GetAuthorizationToken failed: %s: %s", res->code,
                                            strempty(res->message));
                else
                        msg = strdup_printf("GetAuthorizationToken failed: %s (%s)",
                                            strerror(-res->error),
                                            awsjson_error_class_to_string(res->error_class));
                r = res->error < 0 ? res->error : -EIO;
        } else {
                const char *json =
                    json_object_to_json_string_ext(res->response, JSON_C_TO_STRING_PLAIN);
                body = json ? strdup(json) : NULL;
                r = body ? pullauth_ecr_parse(body, strlen(body), &t->username, &t->password,
                                              &t->endpoint, &expires, &why)
                         : -ENOMEM;
                if (body)
                        explicit_bzero(body, strlen(body));
                if (r < 0)
                        msg = strdup_printf("GetAuthorizationToken: %s", why ? why : strerror(-r));
                else if (expires <= now) {
                        msg =
                            strdup_printf("GetAuthorizationToken returned a token that had already "
                                          "expired (%llu s ago); check the host's clock",
                                          (unsigned long long)((now - expires) / USEC_PER_SEC));
                        r = -EKEYEXPIRED;
                }
        }
        if (r < 0) {
                log_warning("ECR %s", msg ? msg : "GetAuthorizationToken failed");
                token_forget(t);
                token_answer(t, r, msg ? msg : "GetAuthorizationToken failed");
                return;
        }
        /* Used until 30 to 60 minutes before it expires, as the official agent does; a token
         * already inside that window serves the pulls that asked for it, and no more. */
        uint64_t margin = 30 * USEC_PER_MIN + random_u64_below(30 * USEC_PER_MIN);
        t->refresh_usec = expires > margin ? expires - margin : 0;
        t->valid = true;
        token_answer(t, 0, NULL);
        if (t->refresh_usec <= realtime_usec())
                token_forget(t);
}

static void wait_from_cache_cb(struct pullauth_wait *w)
{
        struct token *t = w->tok;
        if (!t->valid) {
                /* It expired meanwhile: the fetch that replaced it answers this waiter. */
                w->defer = sd_event_source_disable_unref(w->defer);
                return;
        }
        unlink_wait(w);
        w->cb(0, NULL, t->username, t->password, t->endpoint, w->userdata);
        wait_free(w);
}

static int on_cache_defer(sd_event_source *s, void *ud)
{
        wait_from_cache_cb(ud);
        return 0;
}

static int token_fetch(struct pullauth_ecr *p, struct token *t,
                       const struct pullauth_ecr_request *req)
{
        _cleanup_free_ char *endpoint = NULL;
        _cleanup_json_ json_object *body = json_object_new_object();
        json_object *ids = json_object_new_array();
        int r;

        if (!body || !ids) {
                json_object_put(ids);
                return -ENOMEM;
        }
        if (!isempty(req->endpoint_override))
                endpoint = strdup(req->endpoint_override);
        else if (asprintf(&endpoint, "https://api.ecr.%s.amazonaws.com", req->region) < 0)
                endpoint = NULL;
        if (!endpoint)
                return -ENOMEM;
        if (!isempty(req->registry_id) &&
            json_append(ids, json_object_new_string(req->registry_id)) < 0) {
                json_object_put(ids);
                return -ENOMEM;
        }
        if (json_add(body, "registryIds", ids) < 0)
                return -ENOMEM;
        awsjson_client_free(t->client);
        t->client = NULL;
        struct awsjson_client_options o = {
            .endpoint = endpoint,
            .region = req->region,
            .signing_name = "ecr",
        };
        r = awsjson_client_new(p->loop, p->creds, &o, &t->client);
        if (r < 0)
                return r;
        struct awsjson_call_opts co = {
            .timeout_usec = ECR_TIMEOUT,
            .credentials = req->credentials,
        };
        r = awsjson_call(t->client, ECR_TARGET, body, &co, on_token, t, &t->call);
        if (r < 0)
                return r;
        log_debug("ECR GetAuthorizationToken for registry %s in %s via %s", strna(req->registry_id),
                  req->region, endpoint);
        return 0;
}

int pullauth_ecr_get(struct pullauth_ecr *p, const struct pullauth_ecr_request *req,
                     pullauth_ecr_fn cb, void *userdata)
{
        _cleanup_free_ char *key = NULL;
        struct token *t;
        struct pullauth_wait *w;
        int r;

        if (!p || !req || isempty(req->region) || !cb)
                return -EINVAL;
        if (!req->credentials && !p->creds)
                return -ENOKEY;
        /* Per (role, region, registry, endpoint): a token got with one task's credentials
         * for a role serves every task with that role, so ten tasks make one call. Role
         * credentials without a role ARN are keyed by their ID. */
        const char *who = !req->credentials         ? ""
                          : !isempty(req->role_arn) ? req->role_arn
                                                    : strempty(req->credentials_id);
        if (asprintf(&key, "%s|%s|%s|%s", who, req->region, strempty(req->registry_id),
                     strempty(req->endpoint_override)) < 0)
                return -ENOMEM;
        for (t = p->tokens; t; t = t->next)
                if (streq(t->key, key))
                        break;
        if (!t) {
                t = calloc(1, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                t->key = TAKE_PTR(key);
                t->next = p->tokens;
                p->tokens = t;
        }
        if (t->valid && t->refresh_usec <= realtime_usec())
                token_forget(t);
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->tok = t;
        w->cb = cb;
        w->userdata = userdata;
        if (t->valid) {
                r = sd_event_add_defer(ecs_loop_event(p->loop), &w->defer, on_cache_defer, w);
                if (r < 0) {
                        free(w);
                        return r;
                }
        } else if (!t->call) {
                r = token_fetch(p, t, req);
                if (r < 0) {
                        free(w);
                        return r;
                }
        }
        w->next = t->waiters;
        t->waiters = w;
        return 0;
}

/* ---- pull error advice ---- */

char *pullauth_explain_pull_error(const char *raw)
{
        static const char user[] = "denied: User: ";
        static const char perm[] = " is not authorized to perform: ecr:BatchGetImage on resource";
        const char *advice = NULL, *u;

        raw = strempty(raw);
        u = strstr(raw, user);
        if (u && u[strlen(user)] && strstr(u + strlen(user) + 1, perm))
                advice = "Check that the role has the permissions to pull images from the "
                         "registry.";
        else if (strstr(raw, "denied: requested access to the resource is denied"))
                advice = "Check whether the image exists.";
        else if (strstr(raw, "request canceled while waiting for connection"))
                advice = "Check your network configuration.";
        if (!advice)
                return strdup(raw);
        char *out;
        if (asprintf(&out, "The task can\u2019t pull the image. %s %s", advice, raw) < 0)
                return NULL;
        return out;
}
