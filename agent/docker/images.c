/* Images: reference parsing, inspect, pull (streamed progress), remove, load. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "docker-internal.h"

#define DOCKER_MAX_LOAD (64u * 1024 * 1024)

/* ---- references ---- */

void docker_image_ref_done(struct docker_image_ref *ref)
{
        if (!ref)
                return;
        ref->repository = mfree(ref->repository);
        ref->tag = mfree(ref->tag);
        ref->digest = mfree(ref->digest);
}

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool path_component_valid(const char *s, size_t n)
{
        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = s[i];
                if (is_lower_alnum(c) || c == '-')
                        continue;
                if (c == '.' && is_lower_alnum(s[i - 1]))
                        continue;
                if (c == '_' && (is_lower_alnum(s[i - 1]) ||
                                 (s[i - 1] == '_' && i >= 2 && is_lower_alnum(s[i - 2]))))
                        continue;
                return false;
        }
        return true;
}

/* A registry host: [A-Za-z0-9.-]+ with an optional :port (or a bracketed IPv6 literal). */
static bool domain_valid(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0)
                return false;
        if (s[0] == '[') {
                while (i < n && s[i] != ']')
                        i++;
                if (i == n)
                        return false;
                i++;
        } else {
                while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
                        i++;
                if (i == 0 || s[0] == '-' || s[0] == '.' || s[i - 1] == '-' || s[i - 1] == '.')
                        return false;
        }
        if (i == n)
                return true;
        if (s[i] != ':' || i + 1 == n)
                return false;
        for (i++; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

static bool repository_valid(const char *s, size_t n)
{
        const char *slash = memchr(s, '/', n);
        size_t start = 0;

        if (n == 0 || n > 255)
                return false;
        /* The first component is a registry host when it looks like one. */
        if (slash) {
                size_t d = (size_t)(slash - s);
                if (memchr(s, '.', d) || memchr(s, ':', d) ||
                    (d == 9 && !memcmp(s, "localhost", 9)) || memchr(s, '[', d)) {
                        if (!domain_valid(s, d))
                                return false;
                        start = d + 1;
                }
        }
        while (start <= n) {
                const char *e = memchr(s + start, '/', n - start);
                size_t end = e ? (size_t)(e - s) : n;
                if (!path_component_valid(s + start, end - start))
                        return false;
                start = end + 1;
        }
        return true;
}

static bool tag_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static bool digest_valid(const char *s)
{
        const char *colon = strchr(s, ':');
        size_t hex;

        if (!colon || colon == s)
                return false;
        for (const char *p = s; p < colon; p++)
                if (!is_lower_alnum(*p) && !strchr("+._-", *p))
                        return false;
        hex = strlen(colon + 1);
        if (hex < 32 || strspn(colon + 1, "0123456789abcdefABCDEF") != hex)
                return false;
        return (size_t)(colon - s) != 6 || memcmp(s, "sha256", 6) || hex == 64;
}

int docker_image_ref_parse(const char *image, struct docker_image_ref *ret)
{
        _cleanup_free_ char *repo = NULL, *tag = NULL, *digest = NULL;
        const char *at, *slash, *colon;
        size_t n;

        if (isempty(image) || strlen(image) > 1024)
                return -EINVAL;
        for (const char *p = image; *p; p++)
                if (!isgraph((unsigned char)*p))
                        return -EINVAL;

        at = strchr(image, '@');
        n = at ? (size_t)(at - image) : strlen(image);
        if (at) {
                if (!digest_valid(at + 1))
                        return -EINVAL;
                digest = strdup(at + 1);
                if (!digest)
                        return -ENOMEM;
        }
        /* A colon after the last slash starts the tag; before it, it is a registry port. */
        slash = memrchr(image, '/', n);
        colon = memrchr(image, ':', n);
        if (colon && (!slash || colon > slash)) {
                tag = strndup(colon + 1, n - (size_t)(colon + 1 - image));
                if (!tag)
                        return -ENOMEM;
                if (!tag_valid(tag))
                        return -EINVAL;
                n = (size_t)(colon - image);
        }
        if (!repository_valid(image, n))
                return -EINVAL;
        repo = strndup(image, n);
        if (!repo)
                return -ENOMEM;
        ret->repository = TAKE_PTR(repo);
        ret->tag = TAKE_PTR(tag);
        ret->digest = TAKE_PTR(digest);
        return 0;
}

/* ---- inspect ---- */

struct docker_image *docker_image_free(struct docker_image *img)
{
        if (!img)
                return NULL;
        free(img->id);
        strv_free(img->repo_tags);
        strv_free(img->repo_digests);
        free(img->os);
        free(img->architecture);
        free(img);
        return NULL;
}

int docker_image_parse(const char *json, size_t len, struct docker_image **ret)
{
        _cleanup_json_ json_object *o = NULL;
        struct docker_image *img;
        const char *created;
        int r;

        r = json_parse(json, len, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object) || !json_get_string(o, "Id", NULL))
                return -EBADMSG;
        img = calloc(1, sizeof(*img));
        if (!img)
                return -ENOMEM;
        if (docker_strdup_member(o, "Id", false, &img->id) < 0 ||
            docker_strv_from_json(json_get_array(o, "RepoTags", NULL), &img->repo_tags) < 0 ||
            docker_strv_from_json(json_get_array(o, "RepoDigests", NULL), &img->repo_digests) < 0 ||
            docker_strdup_member(o, "Os", true, &img->os) < 0 ||
            docker_strdup_member(o, "Architecture", true, &img->architecture) < 0) {
                docker_image_free(img);
                return -ENOMEM;
        }
        created = json_get_string(o, "Created", NULL);
        if (created && docker_time_parse(created, &img->created_usec) < 0)
                img->created_usec = 0;
        img->size = json_get_int(o, "Size", 0, NULL);
        *ret = img;
        return 0;
}

static void image_finish(struct docker_call *c, const struct ecs_http_response *resp,
                         struct docker_result *res)
{
        struct docker_image *img = NULL;

        if (res->error == 0) {
                int r = docker_image_parse(resp->body, resp->body_len, &img);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid image inspect answer from Docker";
                }
        }
        ((docker_image_fn)c->cb)(res, img, c->userdata);
        docker_image_free(img);
}

/* "/images/<name>" with the name checked and escaped: a reference, never a path. */
static int image_path(struct strbuf *b, const char *name)
{
        if (!docker_image_name_valid(name))
                return -EINVAL;
        int r = strbuf_puts(b, "/images/");
        return r < 0 ? r : docker_url_escape(b, name, true);
}

int docker_image_inspect(struct docker_client *client, const char *name, uint64_t timeout_usec,
                         docker_image_fn cb, void *userdata, struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r;

        r = image_path(&path, name);
        if (r >= 0)
                r = strbuf_puts(&path, "/json");
        if (r >= 0) {
                struct docker_request req = {
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
                    .max_response = DOCKER_MAX_INSPECT,
                };
                r = docker_call_start(client, &req, image_finish, (void (*)(void))cb, userdata,
                                      ret);
        }
        strbuf_done(&path);
        return r;
}

/* ---- pull ---- */

static char *base64url(const unsigned char *in, size_t n)
{
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                *o++ = tbl[(v >> 18) & 63];
                *o++ = tbl[(v >> 12) & 63];
                *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? tbl[v & 63] : '=';
        }
        *o = 0;
        return out;
}

int docker_auth_encode(const struct docker_auth *auth, char **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_free_ char *json = NULL;
        char *b;

        if (!auth || !ret)
                return -EINVAL;
        if (!o || json_add_string(o, "username", strempty(auth->username)) < 0 ||
            json_add_string(o, "password", strempty(auth->password)) < 0 ||
            json_add_string(o, "serveraddress", strempty(auth->server_address)) < 0)
                return -ENOMEM;
        json = json_dump(o);
        if (!json)
                return -ENOMEM;
        b = base64url((const unsigned char *)json, strlen(json));
        /* The JSON holds the password: wipe it before it goes back to the allocator. */
        explicit_bzero(json, strlen(json));
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

/* "15s", "1m", "1m30s", "2h", "250ms": as the settings are written. */
static void format_duration(char *buf, size_t n, uint64_t usec)
{
        uint64_t s = usec / USEC_PER_SEC;
        int l = 0;

        if (s == 0 || usec % USEC_PER_SEC) {
                snprintf(buf, n, "%llums", (unsigned long long)(usec / USEC_PER_MSEC));
                return;
        }
        buf[0] = '\0';
        if (s >= 3600)
                l += snprintf(buf + l, n - l, "%lluh", (unsigned long long)(s / 3600));
        if (s % 3600 >= 60 && (size_t)l < n)
                l += snprintf(buf + l, n - l, "%llum", (unsigned long long)(s % 3600 / 60));
        if (s % 60 && (size_t)l < n)
                snprintf(buf + l, n - l, "%llus", (unsigned long long)(s % 60));
}

static void pull_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        char why[384], limit[32];

        /* libcurl's "Operation timed out after N milliseconds with M bytes received" counts
         * the bytes of Docker's progress stream, not of the image: say which of our limits
         * ended the pull and where Docker was. */
        bool stalled = false;
        uint64_t expired = res->error == -ETIMEDOUT ? docker_call_expired_limit(c, &stalled) : 0;
        if (expired) {
                format_duration(limit, sizeof(limit), expired);
                snprintf(why, sizeof(why), "%s %s (%s); %s%s",
                         stalled ? "image pull stalled: no progress for"
                                 : "image pull did not finish within",
                         limit,
                         stalled ? "ECS_IMAGE_PULL_INACTIVITY_TIMEOUT" : "ECS_IMAGE_PULL_TIMEOUT",
                         c->progress.last[0] ? "last progress: " : "no progress reported",
                         c->progress.last);
                res->message = why;
        }
        ((docker_pull_fn)c->cb)(res, res->error ? NULL : c->progress.digest, c->userdata);
}

int docker_image_pull(struct docker_client *client, const struct docker_pull_options *opts,
                      docker_pull_fn cb, void *userdata, struct docker_call **ret)
{
        _cleanup_(docker_image_ref_done) struct docker_image_ref ref = {};
        _cleanup_free_ char *auth = NULL;
        struct strbuf path = STRBUF_INIT(0);
        int r;

        if (!opts)
                return -EINVAL;
        r = docker_image_ref_parse(opts->image, &ref);
        if (r < 0)
                return r;
        if (opts->auth) {
                r = docker_auth_encode(opts->auth, &auth);
                if (r < 0)
                        return r;
        }
        /* Without a tag the daemon would pull every tag of the repository. */
        r = strbuf_puts(&path, "/images/create?fromImage=");
        if (r >= 0)
                r = docker_url_escape(&path, ref.repository, false);
        if (r >= 0)
                r = strbuf_puts(&path, "&tag=");
        if (r >= 0)
                r = docker_url_escape(&path,
                                      ref.digest ? ref.digest
                                      : ref.tag  ? ref.tag
                                                 : "latest",
                                      false);
        if (r >= 0) {
                struct docker_request req = {
                    .method = "POST",
                    .path = path.data,
                    .auth_header = auth,
                    .timeout_usec = opts->timeout_usec ? opts->timeout_usec : DOCKER_TIMEOUT_PULL,
                    .stall_timeout_usec = opts->stall_timeout_usec ? opts->stall_timeout_usec
                                                                   : DOCKER_TIMEOUT_PULL_STALL,
                    .progress = true,
                };
                r = docker_call_start(client, &req, pull_finish, (void (*)(void))cb, userdata, ret);
        }
        if (auth)
                explicit_bzero(auth, strlen(auth));
        strbuf_done(&path);
        return r;
}

/* ---- remove ---- */

int docker_image_remove(struct docker_client *client, const char *name, bool force,
                        uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                        struct docker_call **ret)
{
        struct strbuf path = STRBUF_INIT(0);
        int r;

        r = image_path(&path, name);
        if (r >= 0)
                r = strbuf_printf(&path, "?force=%d&noprune=0", force);
        if (r >= 0) {
                struct docker_request req = {
                    .method = "DELETE",
                    .path = path.data,
                    .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_IMAGE_REMOVE,
                };
                r = docker_call_start(client, &req, docker_done_finish, (void (*)(void))cb,
                                      userdata, ret);
        }
        strbuf_done(&path);
        return r;
}

/* ---- load ---- */

static void load_finish(struct docker_call *c, const struct ecs_http_response *resp,
                        struct docker_result *res)
{
        ((docker_load_fn)c->cb)(res, res->error ? NULL : c->progress.loaded, c->userdata);
}

int docker_image_load(struct docker_client *client, const void *tar, size_t len,
                      uint64_t timeout_usec, docker_load_fn cb, void *userdata,
                      struct docker_call **ret)
{
        if (!tar || len == 0)
                return -EINVAL;
        if (len > DOCKER_MAX_LOAD)
                return -EFBIG;
        struct docker_request req = {
            .method = "POST",
            .path = "/images/load?quiet=1",
            .content_type = "application/x-tar",
            .body = tar,
            .body_len = len,
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_LOAD,
            .progress = true,
        };
        /* The loop copies the body, so tar need not outlive this call. */
        return docker_call_start(client, &req, load_finish, (void (*)(void))cb, userdata, ret);
}

int docker_image_load_file(struct docker_client *client, const char *path, uint64_t timeout_usec,
                           docker_load_fn cb, void *userdata, struct docker_call **ret)
{
        _cleanup_close_ int fd = -EBADF;
        struct strbuf b = STRBUF_INIT(DOCKER_MAX_LOAD);
        int r;

        if (!path)
                return -EINVAL;
        r = open_regular_file(path, DOCKER_MAX_LOAD, &fd);
        if (r < 0)
                return r;
        /* A local file of a few MiB: reading it here is bounded and quick. */
        r = strbuf_read_fd(&b, fd);
        if (r >= 0 && b.len == 0)
                r = -ENODATA;
        if (r >= 0)
                r = docker_image_load(client, b.data, b.len, timeout_usec, cb, userdata, ret);
        strbuf_done(&b);
        return r;
}
