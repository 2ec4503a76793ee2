/* Credential provider chain. Environment and files are read synchronously (small local
 * files); the IMDS role goes through the loop. Callers are always answered from a deferred
 * event, so they never see their callback run inside their own call. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ecs/credentials.h"
#include "ecs/imds.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/strbuf.h"

#define SHARED_FILE_MAX (1024u * 1024)
#define IMDS_ROLE_PATH  "/latest/meta-data/iam/security-credentials/"
#define IMDS_ROLE_MAX   128

enum source_kind {
        SOURCE_ENV,
        SOURCE_SHARED_FILE,
        SOURCE_ROTATING_FILE,
        SOURCE_IMDS,
};

static const enum source_kind chain_ec2[] = {SOURCE_ENV, SOURCE_SHARED_FILE, SOURCE_IMDS,
                                             SOURCE_ROTATING_FILE};
static const enum source_kind chain_external[] = {SOURCE_ENV, SOURCE_ROTATING_FILE,
                                                  SOURCE_SHARED_FILE, SOURCE_IMDS};

struct aws_credential_request {
        struct aws_credential_provider *provider;
        struct aws_credential_request *next, *prev;
        aws_credentials_fn cb;
        void *userdata;
        bool ready; /* answer decided, delivered by the dispatch event */
        int error;
};

struct aws_credential_provider {
        unsigned n_ref;
        struct ecs_loop *loop;
        char *profile;
        char *rotating_file;
        bool external;
        bool imds_disabled;
        struct imds_client *imds;
        bool own_imds;

        struct aws_credentials creds; /* cache; access_key_id NULL when empty */
        char *source;
        uint64_t refresh_at; /* CLOCK_REALTIME, 0 = never */
        sd_event_source *refresh_timer;
        sd_event_source *dispatch; /* deferred delivery to ready requests */
        int last_error;            /* of the last resolution, to log a failure once */

        bool resolving;
        size_t step;    /* index into the chain */
        int imds_error; /* why the instance role failed in this resolution, for the log */
        struct imds_request *imds_req;
        char *role;

        struct aws_credential_request *requests;
};

/* ---- pure helpers ---- */

enum aws_credentials_state aws_credentials_check(const struct aws_credentials *c,
                                                 uint64_t refresh_at, uint64_t now)
{
        if (!c || !c->access_key_id || !c->secret_access_key)
                return AWS_CREDENTIALS_MISSING;
        if (c->expiration_usec && now + AWS_CREDENTIALS_EXPIRY_MARGIN_USEC >= c->expiration_usec)
                return AWS_CREDENTIALS_EXPIRED;
        if (refresh_at && now >= refresh_at)
                return AWS_CREDENTIALS_REFRESH_DUE;
        return AWS_CREDENTIALS_VALID;
}

uint64_t aws_credentials_next_refresh(uint64_t expiration, bool reread, uint64_t now)
{
        uint64_t soonest = now + AWS_CREDENTIALS_REREAD_USEC;

        if (expiration) {
                if (expiration <= AWS_CREDENTIALS_REFRESH_WINDOW_USEC ||
                    expiration - AWS_CREDENTIALS_REFRESH_WINDOW_USEC < soonest)
                        return soonest;
                uint64_t t = expiration - AWS_CREDENTIALS_REFRESH_WINDOW_USEC;
                return reread ? MIN(t, soonest) : t;
        }
        return reread ? soonest : 0;
}

static int credentials_set(struct aws_credentials *ret, const char *id, const char *secret,
                           const char *token, uint64_t expiration)
{
        struct aws_credentials src = {
            .access_key_id = (char *)id,
            .secret_access_key = (char *)secret,
            .session_token = (char *)(isempty(token) ? NULL : token),
            .expiration_usec = expiration,
        };
        return aws_credentials_copy(&src, ret);
}

int aws_credentials_from_env(struct aws_credentials *ret)
{
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");

        /* the names older SDKs also accept */
        if (isempty(id))
                id = getenv("AWS_ACCESS_KEY");
        if (isempty(secret))
                secret = getenv("AWS_SECRET_KEY");
        if (isempty(id) && isempty(secret))
                return -ENOENT;
        if (isempty(id) || isempty(secret))
                return -ENOKEY;
        return credentials_set(ret, id, secret, getenv("AWS_SESSION_TOKEN"), 0);
}

static void strip(const char **s, const char **e)
{
        while (*s < *e && isspace((unsigned char)**s))
                (*s)++;
        while (*e > *s && isspace((unsigned char)(*e)[-1]))
                (*e)--;
}

static bool range_eq(const char *s, const char *e, const char *word)
{
        size_t l = strlen(word);
        return (size_t)(e - s) == l && strncasecmp(s, word, l) == 0;
}

/* Values end at an inline comment: ' #' or ' ;' (never found in keys or base64 tokens). */
static const char *value_end(const char *s, const char *e)
{
        for (const char *p = s + 1; p < e; p++)
                if ((*p == '#' || *p == ';') && isspace((unsigned char)p[-1]))
                        return p;
        return e;
}

/* Where the value of a credentials key goes; NULL for keys we do not use (region, ...). */
static char **ini_slot(const char *ks, const char *ke, char **id, char **secret, char **token)
{
        if (range_eq(ks, ke, "aws_access_key_id"))
                return id;
        if (range_eq(ks, ke, "aws_secret_access_key"))
                return secret;
        /* aws_security_token: the name boto2-era tools wrote */
        if (range_eq(ks, ke, "aws_session_token") || range_eq(ks, ke, "aws_security_token"))
                return token;
        return NULL;
}

int aws_shared_credentials_parse(const char *text, size_t len, const char *profile,
                                 struct aws_credentials *ret)
{
        _cleanup_free_ char *id = NULL, *secret = NULL, *token = NULL;
        const char *end = text + len;
        bool in_profile = false, found = false;
        int r;

        if (isempty(profile))
                profile = "default";
        for (const char *line = text; line < end;) {
                const char *nl = memchr(line, '\n', end - line);
                const char *s = line, *e = nl ? nl : end;
                line = nl ? nl + 1 : end;

                strip(&s, &e);
                if (s == e || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        const char *close = memchr(s, ']', e - s);
                        if (!close) {
                                in_profile = false; /* broken header: skip its keys */
                                continue;
                        }
                        const char *ns = s + 1, *ne = close;
                        strip(&ns, &ne);
                        /* Same as the SDKs: sections in the credentials file are bare profile
                         * names; "[profile x]" belongs to the config file. */
                        in_profile = (size_t)(ne - ns) == strlen(profile) &&
                                     memcmp(ns, profile, ne - ns) == 0;
                        found = found || in_profile;
                        continue;
                }
                if (!in_profile)
                        continue;
                const char *eq = memchr(s, '=', e - s);
                if (!eq)
                        continue;
                const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
                strip(&ks, &ke);
                ve = value_end(vs, ve);
                strip(&vs, &ve);

                char **slot = ini_slot(ks, ke, &id, &secret, &token);
                if (!slot)
                        continue;
                if (*slot)
                        explicit_bzero(*slot, strlen(*slot));
                free(*slot);
                *slot = strndup(vs, ve - vs);
                if (!*slot)
                        return -ENOMEM;
        }

        if (!found)
                r = -ENOENT;
        else if (isempty(id) || isempty(secret))
                r = -ENOKEY;
        else
                r = credentials_set(ret, id, secret, token, 0);
        if (secret)
                explicit_bzero(secret, strlen(secret));
        if (token)
                explicit_bzero(token, strlen(token));
        return r;
}

int aws_shared_credentials_read(const char *path, const char *profile, struct aws_credentials *ret)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = open_regular_file(path, SHARED_FILE_MAX, &fd);
        if (r < 0)
                return r;
        buf = malloc(SHARED_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        /* read to EOF: the SSM agent may be rewriting the file right now (it renames a new one
         * into place, so we see either version) */
        for (;;) {
                ssize_t n = read(fd, buf + len, SHARED_FILE_MAX + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (n == 0)
                        break;
                len += n;
                if (len > SHARED_FILE_MAX) {
                        r = -EFBIG;
                        goto finish;
                }
        }
        r = aws_shared_credentials_parse(buf, len, profile, ret);
finish:
        explicit_bzero(buf, len);
        return r;
}

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++, (*p)++) {
                if (!isdigit((unsigned char)**p))
                        return -EINVAL;
                v = v * 10 + (**p - '0');
        }
        *ret = v;
        return 0;
}

int aws_parse_timestamp(const char *s, uint64_t *ret_usec)
{
        int Y, M, D, h, m, sec, oh = 0, om = 0;
        const char *p = s;
        uint64_t frac = 0, scale = 1000000;
        long offset = 0;

        if (!s || parse_digits(&p, 4, &Y) < 0 || *p++ != '-' || parse_digits(&p, 2, &M) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &D) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &m) < 0 ||
            *p++ != ':' || parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                for (; isdigit((unsigned char)*p); p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (uint64_t)(*p - '0') * scale;
                        }
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1;
                if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0 ||
                    oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600L + om * 60L);
        } else
                return -EINVAL;
        if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 ||
            Y < 1970)
                return -EINVAL;

        struct tm tm = {.tm_year = Y - 1900,
                        .tm_mon = M - 1,
                        .tm_mday = D,
                        .tm_hour = h,
                        .tm_min = m,
                        .tm_sec = sec};
        time_t t = timegm(&tm);
        if (t == (time_t)-1 || tm.tm_mday != D) /* timegm normalised e.g. Feb 30 */
                return -EINVAL;
        t -= offset;
        if (t < 0)
                return -EINVAL;
        *ret_usec = (uint64_t)t * 1000000ULL + frac;
        return 0;
}

int aws_imds_credentials_parse(const char *json, size_t len, struct aws_credentials *ret)
{
        _cleanup_json_ json_object *o = NULL;
        const char *code, *id, *secret, *token, *exp;
        uint64_t expiration;
        bool ok = true;

        if (json_parse(json, len, &o) < 0 || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        code = json_get_string(o, "Code", &ok);
        id = json_get_string(o, "AccessKeyId", &ok);
        secret = json_get_string(o, "SecretAccessKey", &ok);
        token = json_get_string(o, "Token", &ok);
        exp = json_get_string(o, "Expiration", &ok);
        if (!ok)
                return -EBADMSG;
        if (!streq_ptr(code, "Success"))
                return -EREMOTEIO;
        if (isempty(id) || isempty(secret) || isempty(token) || !exp ||
            aws_parse_timestamp(exp, &expiration) < 0)
                return -EBADMSG;
        return credentials_set(ret, id, secret, token, expiration);
}

/* ---- the provider ---- */

static void provider_unref(struct aws_credential_provider *p)
{
        if (!p || --p->n_ref > 0)
                return;
        aws_credentials_done(&p->creds);
        free(p->source);
        free(p->profile);
        free(p->rotating_file);
        free(p->role);
        if (p->own_imds)
                imds_client_free(p->imds);
        free(p);
}

static int on_dispatch(sd_event_source *s, void *userdata);

int aws_credential_provider_new(struct ecs_loop *loop, const struct aws_credential_options *opts,
                                struct aws_credential_provider **ret)
{
        static const struct aws_credential_options none = {0};
        struct aws_credential_provider *p;
        int r;

        if (!opts)
                opts = &none;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->n_ref = 1;
        p->loop = loop;
        p->external = opts->external;
        p->imds_disabled = opts->imds_disabled;
        p->profile = strdup(isempty(opts->profile) ? "default" : opts->profile);
        p->rotating_file = opts->rotating_file ? strdup(opts->rotating_file) : NULL;
        if (!p->profile || (opts->rotating_file && !p->rotating_file)) {
                r = -ENOMEM;
                goto fail;
        }
        if (opts->imds)
                p->imds = opts->imds;
        else if (!p->imds_disabled) {
                r = imds_client_new(loop, opts->imds_endpoint, &p->imds);
                if (r < 0)
                        goto fail;
                p->own_imds = true;
        }
        r = sd_event_add_defer(ecs_loop_event(loop), &p->dispatch, on_dispatch, p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->dispatch, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        *ret = p;
        return 0;
fail:
        p->dispatch = sd_event_source_disable_unref(p->dispatch);
        provider_unref(p);
        return r;
}

static void request_unlink(struct aws_credential_request *r)
{
        struct aws_credential_provider *p = r->provider;

        if (r->prev)
                r->prev->next = r->next;
        else if (p->requests == r)
                p->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->next = r->prev = NULL;
}

void aws_credential_request_cancel(struct aws_credential_request *r)
{
        if (!r)
                return;
        request_unlink(r);
        free(r);
}

struct aws_credential_provider *aws_credential_provider_free(struct aws_credential_provider *p)
{
        if (!p)
                return NULL;
        while (p->requests)
                aws_credential_request_cancel(p->requests);
        imds_request_cancel(TAKE_PTR(p->imds_req));
        p->dispatch = sd_event_source_disable_unref(p->dispatch);
        p->refresh_timer = sd_event_source_disable_unref(p->refresh_timer);
        p->resolving = false;
        provider_unref(p);
        return NULL;
}

const struct aws_credentials *aws_credential_provider_peek(struct aws_credential_provider *p)
{
        enum aws_credentials_state s = aws_credentials_check(&p->creds, 0, realtime_usec());
        return s == AWS_CREDENTIALS_VALID ? &p->creds : NULL;
}

const char *aws_credential_provider_source(struct aws_credential_provider *p)
{
        return p->creds.access_key_id ? p->source : NULL;
}

void aws_credential_provider_invalidate(struct aws_credential_provider *p)
{
        aws_credentials_done(&p->creds);
        p->source = mfree(p->source);
        p->refresh_at = 0;
}

static struct aws_credential_request *first_ready(struct aws_credential_provider *p)
{
        for (struct aws_credential_request *r = p->requests; r; r = r->next)
                if (r->ready)
                        return r;
        return NULL;
}

static int on_dispatch(sd_event_source *s, void *userdata)
{
        struct aws_credential_provider *p = userdata;

        /* a callback may free the provider or cancel other requests: hold a reference and
         * look the next ready request up again each time */
        p->n_ref++;
        for (struct aws_credential_request *r; p->dispatch && (r = first_ready(p));) {
                aws_credentials_fn cb = r->cb;
                void *ud = r->userdata;
                int error = r->error;

                if (error >= 0 && !p->creds.access_key_id)
                        error = -ENOKEY; /* invalidated in between */
                aws_credential_request_cancel(r);
                cb(error, error < 0 ? NULL : &p->creds, ud);
        }
        provider_unref(p);
        return 0;
}

static void schedule_dispatch(struct aws_credential_provider *p)
{
        int r = sd_event_source_set_enabled(p->dispatch, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to schedule credential delivery: %m");
}

static void resolve_start(struct aws_credential_provider *p);

static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct aws_credential_provider *p = userdata;

        p->refresh_timer = sd_event_source_disable_unref(p->refresh_timer);
        if (!p->resolving)
                resolve_start(p);
        return 0;
}

static void arm_refresh_timer(struct aws_credential_provider *p)
{
        uint64_t now = realtime_usec();
        int r;

        p->refresh_timer = sd_event_source_disable_unref(p->refresh_timer);
        if (!p->refresh_at)
                return;
        r = ecs_loop_add_timer(p->loop, p->refresh_at > now ? p->refresh_at - now : 0,
                               on_refresh_timer, p, &p->refresh_timer);
        if (r < 0)
                log_warning_errno(r, "Failed to arm credential refresh timer: %m");
}

/* Ends a resolution: caches what was found, answers the waiting requests, arms the next
 * refresh. Never calls back directly. */
static void resolve_finish(struct aws_credential_provider *p, int error,
                           struct aws_credentials *found, char *source, bool reread)
{
        uint64_t now = realtime_usec();

        p->resolving = false;
        if (error >= 0) {
                bool changed = !streq_ptr(p->source, source) ||
                               !streq_ptr(p->creds.access_key_id, found->access_key_id);
                if (changed)
                        log_info("Using AWS credentials from %s (access key %.4s...)", source,
                                 found->access_key_id);
                aws_credentials_done(&p->creds);
                p->creds = *found;
                *found = (struct aws_credentials){0};
                free(p->source);
                p->source = source;
                p->refresh_at = aws_credentials_next_refresh(p->creds.expiration_usec, reread, now);
        } else {
                free(source);
                enum aws_credentials_state st = aws_credentials_check(&p->creds, 0, now);
                bool usable = st == AWS_CREDENTIALS_VALID;
                if (error != p->last_error) {
                        if (usable)
                                log_warning_errno(error,
                                                  "Failed to refresh AWS credentials, keeping "
                                                  "those from %s: %m",
                                                  strna(p->source));
                        else if (p->imds_error < 0)
                                log_error_errno(error,
                                                "No AWS credentials found (instance role: %s): %m",
                                                strerror(-p->imds_error));
                        else
                                log_error_errno(error, "No AWS credentials found: %m");
                }
                p->last_error = error;
                if (usable)
                        error = 0;
                /* retry soon in the background only while we still have something to
                 * protect; without credentials the next get() starts over */
                p->refresh_at = usable ? now + AWS_CREDENTIALS_REREAD_USEC : 0;
        }
        if (error >= 0 && found)
                p->last_error = 0;

        bool any = false;
        for (struct aws_credential_request *r = p->requests; r; r = r->next)
                if (!r->ready) {
                        r->ready = true;
                        r->error = error;
                        any = true;
                }
        if (any)
                schedule_dispatch(p);
        arm_refresh_timer(p);
}

static const char *rotating_file_path(struct aws_credential_provider *p)
{
        if (p->rotating_file)
                return p->rotating_file;
        if (access(AWS_ROTATING_CREDENTIALS_FILE, F_OK) >= 0)
                return AWS_ROTATING_CREDENTIALS_FILE;
        return AWS_ROTATING_CREDENTIALS_FILE_HOST;
}

static char *shared_file_path(void)
{
        const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home;
        char *path;

        if (!isempty(env))
                return strdup(env);
        home = getenv("HOME");
        if (isempty(home))
                return NULL;
        if (asprintf(&path, "%s/.aws/credentials", home) < 0)
                return NULL;
        return path;
}

static void resolve_continue(struct aws_credential_provider *p);

static void imds_fail(struct aws_credential_provider *p, int error, const char *what)
{
        log_debug_errno(error, "IMDS role credentials unavailable (%s): %m", what);
        p->imds_error = error;
        p->step++;
        resolve_continue(p);
}

static void on_imds_credentials(int error, const char *body, size_t len, void *userdata)
{
        struct aws_credential_provider *p = userdata;
        struct aws_credentials c = {0};
        char *source = NULL;

        p->imds_req = NULL;
        if (error >= 0)
                error = aws_imds_credentials_parse(body, len, &c);
        if (error < 0) {
                imds_fail(p, error, "credentials");
                return;
        }
        if (asprintf(&source, "imds:%s", p->role) < 0) {
                aws_credentials_done(&c);
                imds_fail(p, -ENOMEM, "credentials");
                return;
        }
        resolve_finish(p, 0, &c, source, false);
}

static void on_imds_role(int error, const char *body, size_t len, void *userdata)
{
        struct aws_credential_provider *p = userdata;
        _cleanup_free_ char *path = NULL;
        size_t l;

        p->imds_req = NULL;
        if (error < 0) {
                imds_fail(p, error, "role");
                return;
        }
        /* the listing holds one role name per line; an instance profile has exactly one */
        l = strcspn(body, "\r\n");
        while (l > 0 && isspace((unsigned char)body[l - 1]))
                l--;
        if (l == 0 || l > IMDS_ROLE_MAX || memchr(body, '/', l) || memchr(body, '?', l)) {
                imds_fail(p, -EBADMSG, "role");
                return;
        }
        free(p->role);
        p->role = strndup(body, l);
        if (!p->role || asprintf(&path, IMDS_ROLE_PATH "%s", p->role) < 0) {
                imds_fail(p, -ENOMEM, "role");
                return;
        }
        error = imds_get(p->imds, path, on_imds_credentials, p, &p->imds_req);
        if (error < 0)
                imds_fail(p, error, "credentials");
}

/* Runs the chain from p->step: the local sources answer at once, IMDS continues from its
 * callbacks. A source that is absent or broken passes to the next one. */
static void resolve_continue(struct aws_credential_provider *p)
{
        bool ext = p->external;
        const enum source_kind *chain = ext ? chain_external : chain_ec2;
        size_t n = ext ? ELEMENTSOF(chain_external) : ELEMENTSOF(chain_ec2);

        for (; p->step < n; p->step++) {
                struct aws_credentials c = {0};
                _cleanup_free_ char *path = NULL;
                char *source = NULL;
                int r;

                switch (chain[p->step]) {
                case SOURCE_ENV:
                        r = aws_credentials_from_env(&c);
                        if (r == -ENOKEY)
                                log_warning("Ignoring incomplete AWS credentials in the "
                                            "environment (need both the key id and the secret)");
                        if (r >= 0 && !(source = strdup("environment")))
                                r = -ENOMEM;
                        if (r >= 0) {
                                resolve_finish(p, 0, &c, source, false);
                                return;
                        }
                        break;
                case SOURCE_SHARED_FILE:
                case SOURCE_ROTATING_FILE: {
                        bool rotating = chain[p->step] == SOURCE_ROTATING_FILE;
                        const char *profile = p->profile, *env = getenv("AWS_PROFILE");
                        if (!rotating && !isempty(env))
                                profile = env;
                        path = rotating ? strdup(rotating_file_path(p)) : shared_file_path();
                        if (!path)
                                break;
                        r = aws_shared_credentials_read(path, profile, &c);
                        if (r < 0 && r != -ENOENT)
                                log_debug_errno(r, "Cannot use credentials file %s [%s]: %m", path,
                                                profile);
                        if (r >= 0 && asprintf(&source, "shared-file:%s", path) < 0) {
                                aws_credentials_done(&c);
                                r = -ENOMEM;
                        }
                        if (r >= 0) {
                                resolve_finish(p, 0, &c, source, true);
                                return;
                        }
                        break;
                }
                case SOURCE_IMDS:
                        if (p->imds_disabled || !p->imds)
                                break;
                        r = imds_get(p->imds, IMDS_ROLE_PATH, on_imds_role, p, &p->imds_req);
                        if (r >= 0)
                                return; /* continues in on_imds_role() */
                        log_debug_errno(r, "Cannot query IMDS: %m");
                        break;
                }
        }
        resolve_finish(p, -ENOKEY, NULL, NULL, false);
}

static void resolve_start(struct aws_credential_provider *p)
{
        p->resolving = true;
        p->step = 0;
        p->imds_error = 0;
        resolve_continue(p);
}

int aws_credential_provider_get(struct aws_credential_provider *p, aws_credentials_fn cb,
                                void *userdata, struct aws_credential_request **ret)
{
        struct aws_credential_request *r;
        enum aws_credentials_state s;

        if (!p || !cb)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->provider = p;
        r->cb = cb;
        r->userdata = userdata;
        r->next = p->requests;
        if (p->requests)
                p->requests->prev = r;
        p->requests = r;
        if (ret)
                *ret = r;

        s = aws_credentials_check(&p->creds, p->refresh_at, realtime_usec());
        if (s == AWS_CREDENTIALS_VALID || s == AWS_CREDENTIALS_REFRESH_DUE) {
                r->ready = true;
                schedule_dispatch(p);
        }
        /* Runs after the request is queued: a resolution that ends at once (environment,
         * files) only marks it ready for the deferred dispatch. */
        if (s != AWS_CREDENTIALS_VALID && !p->resolving)
                resolve_start(p);
        return 0;
}
