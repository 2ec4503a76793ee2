/* Secrets Manager GetSecretValue for tasks (§10.2) and registry credential secrets (§10.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <systemd/sd-event.h>

#include "ecs/asm.h"
#include "ecs/awsjson.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

#define ASM_TARGET     "secretsmanager.GetSecretValue"
#define ASM_TIMEOUT    (30ULL * 1000000ULL)
#define MAX_SECRET_LEN 65536 /* Secrets Manager's own limit */

/* One client per region: the endpoint and the signing region go together. */
struct region_client {
        char *region;
        struct awsjson_client *client;
        struct region_client *next;
};

struct asm_call {
        struct asm_client *owner;
        char *secret_id;
        asm_secret_fn cb;
        void *userdata;
        struct awsjson_call *call;
        struct asm_call *prev, *next;
};

struct asm_client {
        struct ecs_loop *loop;
        struct aws_credential_provider *creds;
        char *default_region;
        char *endpoint_override;
        struct region_client *clients;
        struct asm_call *calls;
};

int asm_client_new(struct ecs_loop *loop, struct aws_credential_provider *instance_creds,
                   const char *default_region, const char *endpoint_override,
                   struct asm_client **ret)
{
        struct asm_client *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->loop = loop;
        a->creds = instance_creds;
        a->default_region = strdup(strempty(default_region));
        a->endpoint_override = isempty(endpoint_override) ? NULL : strdup(endpoint_override);
        if (!a->default_region || (!isempty(endpoint_override) && !a->endpoint_override)) {
                asm_client_free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

static void call_free(struct asm_call *c)
{
        struct asm_client *a = c->owner;
        if (c->prev)
                c->prev->next = c->next;
        else
                a->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        awsjson_call_cancel(c->call);
        free(c->secret_id);
        free(c);
}

struct asm_client *asm_client_free(struct asm_client *a)
{
        if (!a)
                return NULL;
        while (a->calls)
                call_free(a->calls);
        while (a->clients) {
                struct region_client *rc = a->clients;
                a->clients = rc->next;
                awsjson_client_free(rc->client);
                free(rc->region);
                free(rc);
        }
        free(a->default_region);
        free(a->endpoint_override);
        free(a);
        return NULL;
}

char *asm_arn_region(const char *arn)
{
        /* arn:<partition>:secretsmanager:<region>:<account>:secret:<name> */
        const char *p = arn;
        for (int field = 0; p && field < 3; field++) {
                p = strchr(p, ':');
                if (p)
                        p++;
        }
        if (!p || !startswith(arn, "arn:"))
                return NULL;
        const char *end = strchr(p, ':');
        if (!end || end == p)
                return NULL;
        return strndup(p, (size_t)(end - p));
}

static struct awsjson_client *client_for(struct asm_client *a, const char *region)
{
        for (struct region_client *rc = a->clients; rc; rc = rc->next)
                if (streq(rc->region, region))
                        return rc->client;

        _cleanup_free_ char *endpoint = NULL;
        if (a->endpoint_override)
                endpoint = strdup(a->endpoint_override);
        else if (asprintf(&endpoint, "https://secretsmanager.%s.amazonaws.com", region) < 0)
                endpoint = NULL;
        struct region_client *rc = calloc(1, sizeof(*rc));
        if (!endpoint || !rc || !(rc->region = strdup(region))) {
                free(rc);
                return NULL;
        }
        struct awsjson_client_options o = {
            .endpoint = endpoint,
            .region = region,
            .signing_name = "secretsmanager",
        };
        if (awsjson_client_new(a->loop, a->creds, &o, &rc->client) < 0) {
                free(rc->region);
                free(rc);
                return NULL;
        }
        rc->next = a->clients;
        a->clients = rc;
        return rc->client;
}

static void on_secret(const struct awsjson_result *res, void *ud)
{
        struct asm_call *c = ud;
        _cleanup_free_ char *msg = NULL;
        const char *value = NULL;
        int r = 0;

        c->call = NULL;
        if (res->error_class != AWSJSON_OK) {
                /* The official wording, with the AWS error the SDK would show. */
                if (res->code)
                        msg = strdup_printf("asm fetching secret from the service for %s: %s: %s",
                                            c->secret_id, res->code, strempty(res->message));
                else
                        msg = strdup_printf("asm fetching secret from the service for %s: %s (%s)",
                                            c->secret_id, strerror(-res->error),
                                            awsjson_error_class_to_string(res->error_class));
                r = res->error < 0 ? res->error : -EIO;
        } else {
                bool ok = true;
                value = json_get_string(res->response, "SecretString", &ok);
                if (!ok) {
                        msg = strdup_printf(
                            "asm fetching secret from the service for %s: the response's "
                            "SecretString is not a string",
                            c->secret_id);
                        r = -EBADMSG;
                } else if (value && strlen(value) > MAX_SECRET_LEN) {
                        msg = strdup_printf(
                            "asm fetching secret from the service for %s: the secret is "
                            "larger than %u bytes",
                            c->secret_id, MAX_SECRET_LEN);
                        r = -EMSGSIZE;
                }
        }
        if (r < 0)
                log_warning("Secrets Manager: %s", msg ? msg : "GetSecretValue failed");
        asm_secret_fn cb = c->cb;
        void *userdata = c->userdata;
        /* The response (and the value in it) lives until this callback returns. */
        cb(r, r < 0 ? (msg ? msg : "asm fetching secret from the service failed") : NULL,
           r < 0 ? NULL : value, userdata);
        call_free(c);
}

int asm_get_secret(struct asm_client *a, const struct asm_request *req, asm_secret_fn cb,
                   void *userdata)
{
        _cleanup_free_ char *arn_region = NULL;
        _cleanup_json_ json_object *body = NULL;
        int r;

        if (!a || !req || isempty(req->secret_id) || !cb || !req->credentials)
                return -EINVAL;
        const char *region = req->region;
        if (isempty(region)) {
                arn_region = asm_arn_region(req->secret_id);
                region = !isempty(arn_region) ? arn_region : a->default_region;
        }
        /* The region becomes part of a host name: nothing but a region's characters. */
        if (isempty(region) ||
            strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
                return -EINVAL;
        struct awsjson_client *client = client_for(a, region);
        if (!client)
                return -ENOMEM;
        body = json_object_new_object();
        if (!body || json_add_string(body, "SecretId", req->secret_id) < 0 ||
            (!isempty(req->version_stage) &&
             json_add_string(body, "VersionStage", req->version_stage) < 0) ||
            (!isempty(req->version_id) && json_add_string(body, "VersionId", req->version_id) < 0))
                return -ENOMEM;
        struct asm_call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->owner = a;
        c->cb = cb;
        c->userdata = userdata;
        c->secret_id = strdup(req->secret_id);
        c->next = a->calls;
        if (a->calls)
                a->calls->prev = c;
        a->calls = c;
        if (!c->secret_id) {
                call_free(c);
                return -ENOMEM;
        }
        struct awsjson_call_opts co = {
            .timeout_usec = ASM_TIMEOUT,
            .credentials = req->credentials,
        };
        r = awsjson_call(client, ASM_TARGET, body, &co, on_secret, c, &c->call);
        if (r < 0) {
                call_free(c);
                return r;
        }
        log_debug("Secrets Manager GetSecretValue for %s in %s", req->secret_id, region);
        return 0;
}

/* Field names match as Go's encoding/json matches them: exactly, else ignoring case. */
static const char *get_string_ci(json_object *o, const char *key, bool *ok)
{
        json_object *v = json_get(o, key);
        if (!v) {
                json_object_object_foreach (o, k, val) {
                        if (strcasecmp(k, key) == 0) {
                                v = val;
                                break;
                        }
                }
        }
        if (!v || json_object_is_type(v, json_type_null))
                return NULL;
        if (!json_object_is_type(v, json_type_string)) {
                *ok = false;
                return NULL;
        }
        return json_object_get_string(v);
}

int asm_parse_registry_auth(const char *secret_string, char **ret_username, char **ret_password,
                            const char **ret_why)
{
        _cleanup_json_ json_object *o = NULL;
        bool ok = true;

        *ret_why = NULL;
        if (isempty(secret_string)) {
                *ret_why = "asm fetching authorization data: empty secrets value";
                return -EBADMSG;
        }
        if (json_parse(secret_string, strlen(secret_string), &o) < 0 ||
            !json_object_is_type(o, json_type_object)) {
                *ret_why = "asm fetching authorization data: unable to unmarshal secret value, "
                           "invalid schema";
                return -EBADMSG;
        }
        const char *user = get_string_ci(o, "username", &ok);
        const char *pass = get_string_ci(o, "password", &ok);
        if (!ok) {
                *ret_why = "asm fetching authorization data: unable to unmarshal secret value, "
                           "invalid schema";
                return -EBADMSG;
        }
        if (isempty(user)) {
                *ret_why = "asm fetching username: AuthorizationData is malformed, empty field";
                return -EBADMSG;
        }
        if (isempty(pass)) {
                *ret_why = "asm fetching password: AuthorizationData is malformed, empty field";
                return -EBADMSG;
        }
        char *u = strdup(user), *p = strdup(pass);
        if (!u || !p) {
                free(u);
                free(p);
                return -ENOMEM;
        }
        *ret_username = u;
        *ret_password = p;
        return 0;
}
