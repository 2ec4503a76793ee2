#include "ecs/credstore.h"
#include "ecs/macro.h"

struct credstore {
        struct task_credentials *items;
        size_t n;
};

static void wipe_free(char *s)
{
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}

static void creds_done(struct task_credentials *c)
{
        free(c->credentials_id);
        free(c->task_arn);
        free(c->role_arn);
        free(c->access_key_id);
        wipe_free(c->secret_access_key);
        wipe_free(c->session_token);
        free(c->expiration);
        memset(c, 0, sizeof(*c));
}

int credstore_new(struct credstore **ret)
{
        *ret = calloc(1, sizeof(struct credstore));
        return *ret ? 0 : -ENOMEM;
}

struct credstore *credstore_free(struct credstore *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                creds_done(&s->items[i]);
        free(s->items);
        free(s);
        return NULL;
}

static struct task_credentials *find(struct credstore *s, const char *id)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->items[i].credentials_id, id))
                        return &s->items[i];
        return NULL;
}

static char *dup_or_empty(const char *s)
{
        return strdup(s ? s : "");
}

int credstore_put(struct credstore *s, const struct task_credentials *c)
{
        struct task_credentials n = {
            .credentials_id = dup_or_empty(c->credentials_id),
            .task_arn = dup_or_empty(c->task_arn),
            .execution_role = c->execution_role,
            .role_arn = dup_or_empty(c->role_arn),
            .access_key_id = dup_or_empty(c->access_key_id),
            .secret_access_key = dup_or_empty(c->secret_access_key),
            .session_token = dup_or_empty(c->session_token),
            .expiration = dup_or_empty(c->expiration),
        };
        if (!n.credentials_id || !n.task_arn || !n.role_arn || !n.access_key_id ||
            !n.secret_access_key || !n.session_token || !n.expiration ||
            isempty(n.credentials_id)) {
                int r = n.credentials_id && isempty(n.credentials_id) ? -EINVAL : -ENOMEM;
                creds_done(&n);
                return r;
        }
        struct task_credentials *old = find(s, c->credentials_id);
        if (old) {
                creds_done(old);
                *old = n;
                return 0;
        }
        struct task_credentials *l = realloc(s->items, (s->n + 1) * sizeof(*l));
        if (!l) {
                creds_done(&n);
                return -ENOMEM;
        }
        s->items = l;
        s->items[s->n++] = n;
        return 0;
}

const struct task_credentials *credstore_get(struct credstore *s, const char *credentials_id)
{
        return credentials_id ? find(s, credentials_id) : NULL;
}

void credstore_remove(struct credstore *s, const char *credentials_id)
{
        struct task_credentials *c = credentials_id ? find(s, credentials_id) : NULL;
        if (!c)
                return;
        creds_done(c);
        size_t i = (size_t)(c - s->items);
        memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*c));
        s->n--;
}

size_t credstore_count(const struct credstore *s)
{
        return s->n;
}
