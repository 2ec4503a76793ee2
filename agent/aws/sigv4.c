/* AWS Signature Version 4, header variant.
 *
 * The canonical request follows the published algorithm and the aws-c-auth test suite:
 * header values trimmed with inner whitespace runs collapsed (so folded multi-line values
 * become one line), duplicate headers joined with ',' in the order given, query
 * parameters decoded and re-encoded with AWS's encoding and sorted by encoded key then
 * value, and for every service but S3 the path normalised and percent-encoded once more
 * (so a wire "%20" is signed as "%2520", as the Go SDK and botocore do). */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ecs/sigv4.h"
#include "ecs/strbuf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* Our own requests carry a handful of headers; a bound keeps a caller bug from turning
 * into quadratic work. */
#define SIGV4_MAX_HEADERS 64

void aws_credentials_done(struct aws_credentials *c)
{
        if (!c)
                return;
        if (c->secret_access_key)
                explicit_bzero(c->secret_access_key, strlen(c->secret_access_key));
        if (c->session_token)
                explicit_bzero(c->session_token, strlen(c->session_token));
        free(c->access_key_id);
        free(c->secret_access_key);
        free(c->session_token);
        *c = (struct aws_credentials){0};
}

int aws_credentials_copy(const struct aws_credentials *src, struct aws_credentials *ret)
{
        struct aws_credentials c = {.expiration_usec = src->expiration_usec};

        if (isempty(src->access_key_id) || isempty(src->secret_access_key))
                return -EINVAL;
        c.access_key_id = strdup(src->access_key_id);
        c.secret_access_key = strdup(src->secret_access_key);
        c.session_token = src->session_token ? strdup(src->session_token) : NULL;
        if (!c.access_key_id || !c.secret_access_key || (src->session_token && !c.session_token)) {
                aws_credentials_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void sigv4_sha256_hex(const void *data, size_t len, char out[static 65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[SHA256_DIGEST_LENGTH];

        SHA256(data ? data : (const void *)"", len, md);
        for (size_t i = 0; i < sizeof(md); i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        out[64] = '\0';
}

void sigv4_format_amz_date(uint64_t time_usec, char out[static 17])
{
        time_t t = (time_t)(time_usec / 1000000ULL);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* URL pieces the signature needs. Nothing is validated beyond what signing requires:
 * libcurl rejects a malformed URL later anyway. */
struct url_parts {
        char *host;  /* host[:port], the port only when not the scheme's default */
        char *path;  /* raw, "/" when empty */
        char *query; /* raw, without '?'; "" when none */
};

static void url_parts_done(struct url_parts *u)
{
        free(u->host);
        free(u->path);
        free(u->query);
}

static int default_port(const char *scheme, size_t len)
{
        if ((len == 4 && strncasecmp(scheme, "http", 4) == 0) ||
            (len == 2 && strncasecmp(scheme, "ws", 2) == 0))
                return 80;
        if ((len == 5 && strncasecmp(scheme, "https", 5) == 0) ||
            (len == 3 && strncasecmp(scheme, "wss", 3) == 0))
                return 443;
        return -1;
}

static int url_split(const char *url, struct url_parts *ret)
{
        const char *sep = strstr(url, "://");
        const char *auth, *auth_end, *at, *hostport_end, *port = NULL;
        struct url_parts u = {0};

        if (!sep || sep == url)
                return -EINVAL;
        auth = sep + 3;
        auth_end = auth + strcspn(auth, "/?#");
        /* userinfo never reaches the Host header */
        at = memrchr(auth, '@', auth_end - auth);
        if (at)
                auth = at + 1;
        hostport_end = auth_end;
        if (*auth == '[') {
                const char *rb = memchr(auth, ']', auth_end - auth);
                if (!rb)
                        return -EINVAL;
                if (rb + 1 < auth_end && rb[1] == ':')
                        port = rb + 2;
                hostport_end = port ? port - 1 : auth_end;
        } else {
                const char *colon = memchr(auth, ':', auth_end - auth);
                if (colon) {
                        port = colon + 1;
                        hostport_end = colon;
                }
        }
        if (hostport_end == auth)
                return -EINVAL;

        bool keep_port = false;
        if (port && port < auth_end) {
                char *end;
                long n = strtol(port, &end, 10);
                if (end != auth_end || n <= 0 || n > 65535)
                        return -EINVAL;
                keep_port = n != default_port(url, sep - url);
        }
        u.host = strndup(auth, (keep_port ? auth_end : hostport_end) - auth);

        const char *path = auth_end, *path_end = path + strcspn(path, "?#");
        u.path = path == path_end ? strdup("/") : strndup(path, path_end - path);
        if (*path_end == '?')
                u.query = strndup(path_end + 1, strcspn(path_end + 1, "#"));
        else
                u.query = strdup("");
        if (!u.host || !u.path || !u.query) {
                url_parts_done(&u);
                return -ENOMEM;
        }
        *ret = u;
        return 0;
}

/* ASCII only: isalnum() would follow the locale. */
static bool is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

/* AWS's URI encoding: everything but the unreserved set as upper-case %XX; '/' is kept in
 * paths, and in S3 mode an existing escape is kept because the wire path is already the
 * encoded form. */
static int uri_encode(struct strbuf *b, const char *s, size_t len, bool path, bool keep_escapes)
{
        static const char hex[] = "0123456789ABCDEF";
        int r;

        for (size_t i = 0; i < len; i++) {
                unsigned char ch = s[i];
                bool keep = is_unreserved(ch) || (path && ch == '/') ||
                            (keep_escapes && ch == '%' && i + 2 < len && unhexchar(s[i + 1]) >= 0 &&
                             unhexchar(s[i + 2]) >= 0);
                if (keep)
                        r = strbuf_append(b, &s[i], 1);
                else {
                        char esc[3] = {'%', hex[ch >> 4], hex[ch & 0xf]};
                        r = strbuf_append(b, esc, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Removes "." and ".." segments and empty segments (duplicate slashes), keeping a trailing
 * slash: "/a/./b//../c/" -> "/a/c/". */
static int path_normalize(const char *path, char **ret)
{
        size_t len = strlen(path), n = 0;
        _cleanup_free_ const char **seg = calloc(len / 2 + 2, sizeof(char *));
        _cleanup_free_ size_t *seglen = calloc(len / 2 + 2, sizeof(size_t));
        struct strbuf b = STRBUF_INIT(0);
        bool trailing = false;
        int r = 0;

        if (!seg || !seglen)
                return -ENOMEM;
        for (const char *p = path; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                size_t l = strcspn(p, "/");
                bool last = p[l] == '\0';
                if (l == 1 && p[0] == '.')
                        trailing = last;
                else if (l == 2 && p[0] == '.' && p[1] == '.') {
                        if (n > 0)
                                n--;
                        trailing = last;
                } else {
                        seg[n] = p;
                        seglen[n++] = l;
                        trailing = false;
                }
                p += l;
        }
        if (len > 0 && path[len - 1] == '/')
                trailing = true;

        for (size_t i = 0; i < n && r >= 0; i++) {
                r = strbuf_append(&b, "/", 1);
                if (r >= 0)
                        r = strbuf_append(&b, seg[i], seglen[i]);
        }
        if (r >= 0 && (n == 0 || trailing))
                r = strbuf_append(&b, "/", 1);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return 0;
}

static int canonical_uri(const char *path, bool normalize, struct strbuf *out)
{
        _cleanup_free_ char *norm = NULL;
        int r;

        if (normalize) {
                r = path_normalize(path, &norm);
                if (r < 0)
                        return r;
                path = norm;
        }
        return uri_encode(out, path, strlen(path), true, !normalize);
}

/* Percent-decoding as a form/query decoder does: '+' is a space (Go's url.Values.Encode
 * writes spaces that way, and the Go SDK signs them as %20); a broken escape stays as is.
 * The result may contain NUL bytes (%00), hence the explicit length. */
static char *query_decode(const char *s, size_t len, size_t *ret_len)
{
        char *d = malloc(len + 1), *o = d;

        if (!d)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '+')
                        *o++ = ' ';
                else if (s[i] == '%' && i + 2 < len && unhexchar(s[i + 1]) >= 0 &&
                         unhexchar(s[i + 2]) >= 0) {
                        *o++ = (char)(unhexchar(s[i + 1]) << 4 | unhexchar(s[i + 2]));
                        i += 2;
                } else
                        *o++ = s[i];
        }
        *o = '\0';
        *ret_len = o - d;
        return d;
}

struct query_param {
        char *key;   /* encoded */
        char *value; /* encoded */
};

static int query_param_cmp(const void *a, const void *b)
{
        const struct query_param *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        return c ? c : strcmp(x->value, y->value);
}

static char *encode_component(const char *raw, size_t len)
{
        size_t dlen;
        _cleanup_free_ char *dec = query_decode(raw, len, &dlen);
        struct strbuf b = STRBUF_INIT(0);

        if (!dec)
                return NULL;
        if (uri_encode(&b, dec, dlen, false, false) < 0 || strbuf_append(&b, "", 0) < 0) {
                strbuf_done(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}

static int canonical_query(const char *query, struct strbuf *out)
{
        size_t n = 0, cap = 1;
        struct query_param *params;
        int r = 0;

        for (const char *q = query; *q; q++)
                if (*q == '&')
                        cap++;
        params = calloc(cap, sizeof(*params));
        if (!params)
                return -ENOMEM;

        for (const char *p = query; *p;) {
                size_t l = strcspn(p, "&");
                if (l > 0) {
                        const char *eq = memchr(p, '=', l);
                        size_t kl = eq ? (size_t)(eq - p) : l;
                        params[n].key = encode_component(p, kl);
                        params[n].value = eq ? encode_component(eq + 1, l - kl - 1) : strdup("");
                        n++;
                        if (!params[n - 1].key || !params[n - 1].value) {
                                r = -ENOMEM;
                                goto finish;
                        }
                }
                p += l;
                if (*p == '&')
                        p++;
        }
        qsort(params, n, sizeof(*params), query_param_cmp);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = strbuf_printf(out, "%s%s=%s", i ? "&" : "", params[i].key, params[i].value);
finish:
        for (size_t i = 0; i < n; i++) {
                free(params[i].key);
                free(params[i].value);
        }
        free(params);
        return r;
}

struct canon_header {
        char *name;  /* lower case */
        char *value; /* trimmed, whitespace runs collapsed */
        size_t order;
};

static int canon_header_cmp(const void *a, const void *b)
{
        const struct canon_header *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        /* stable: duplicates keep the order they were given in */
        return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static char *canonical_value(const char *v, size_t len)
{
        char *d = malloc(len + 1), *o = d;
        bool space = false;

        if (!d)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (isspace((unsigned char)v[i])) {
                        space = o != d;
                        continue;
                }
                if (space)
                        *o++ = ' ';
                space = false;
                *o++ = v[i];
        }
        *o = '\0';
        return d;
}

/* Headers libcurl or proxies may add, change or drop; the Go SDK v2 leaves them unsigned. */
static bool header_ignored(const char *lname)
{
        static const char *const ignored[] = {"user-agent", "expect", "x-amzn-trace-id",
                                              "transfer-encoding"};
        for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
                if (streq(lname, ignored[i]))
                        return true;
        return false;
}

struct header_set {
        struct canon_header h[SIGV4_MAX_HEADERS + 4];
        size_t n;
};

static void header_set_done(struct header_set *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->h[i].name);
                free(s->h[i].value);
        }
        s->n = 0;
}

static bool header_set_has(const struct header_set *s, const char *lname)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->h[i].name, lname))
                        return true;
        return false;
}

static const char *header_set_get(const struct header_set *s, const char *lname)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->h[i].name, lname))
                        return s->h[i].value;
        return NULL;
}

static int header_set_add(struct header_set *s, const char *name, size_t nlen, const char *value,
                          size_t vlen)
{
        _cleanup_free_ char *n = NULL, *v = NULL;

        if (s->n >= ELEMENTSOF(s->h))
                return -E2BIG;
        n = strndup(name, nlen);
        v = canonical_value(value, vlen);
        if (!n || !v)
                return -ENOMEM;
        for (char *c = n; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        s->h[s->n] =
            (struct canon_header){.name = TAKE_PTR(n), .value = TAKE_PTR(v), .order = s->n};
        s->n++;
        return 0;
}

/* Parses one "Name: value" the way libcurl sends it: "Name:" alone removes a header, so
 * it is not signed; "Name;" sends an empty value. */
static int header_set_add_line(struct header_set *s, const char *line)
{
        const char *colon = strchr(line, ':'), *value;
        size_t nlen;

        if (!colon) {
                size_t l = strlen(line);
                if (l < 2 || line[l - 1] != ';')
                        return -EINVAL;
                nlen = l - 1;
                value = "";
        } else {
                nlen = colon - line;
                value = colon + 1;
                if (value[strspn(value, " \t\r\n")] == '\0')
                        return 0;
        }
        while (nlen > 0 && isspace((unsigned char)line[nlen - 1]))
                nlen--;
        if (nlen == 0)
                return -EINVAL;

        int r = header_set_add(s, line, nlen, value, strlen(value));
        if (r < 0)
                return r;
        const char *lname = s->h[s->n - 1].name;
        if (streq(lname, "authorization") || streq(lname, "x-amz-date"))
                return -EEXIST;
        if (header_ignored(lname)) {
                s->n--;
                free(s->h[s->n].name);
                free(s->h[s->n].value);
        }
        return 0;
}

struct sign_ctx {
        char amz_date[17];
        char date[9];
        char payload_hash[65];
        char *host;
        char *canonical_request;
        char *signed_headers;
        bool hash_given; /* the caller's headers carry X-Amz-Content-Sha256 */
};

static void sign_ctx_done(struct sign_ctx *x)
{
        free(x->host);
        free(x->canonical_request);
        free(x->signed_headers);
}

static int build_headers(const struct sigv4_params *p, const struct aws_credentials *c,
                         struct sign_ctx *x, struct header_set *hs)
{
        size_t count = 0;
        int r;

        if (p->headers)
                for (char *const *h = p->headers; *h; h++) {
                        if (++count > SIGV4_MAX_HEADERS)
                                return -E2BIG;
                        r = header_set_add_line(hs, *h);
                        if (r < 0)
                                return r;
                }

        /* A Host given by the caller is what libcurl sends; otherwise libcurl derives it from
         * the URL exactly as url_split() does. */
        if (header_set_has(hs, "host")) {
                free(x->host);
                x->host = strdup(header_set_get(hs, "host"));
                if (!x->host)
                        return -ENOMEM;
        } else {
                r = header_set_add(hs, "host", 4, x->host, strlen(x->host));
                if (r < 0)
                        return r;
        }
        r = header_set_add(hs, "x-amz-date", 10, x->amz_date, 16);
        if (r < 0)
                return r;
        if (c->session_token && !p->session_token_unsigned) {
                if (header_set_has(hs, "x-amz-security-token"))
                        return -EEXIST;
                r = header_set_add(hs, "x-amz-security-token", 20, c->session_token,
                                   strlen(c->session_token));
                if (r < 0)
                        return r;
        }
        /* A caller-provided body hash (e.g. UNSIGNED-PAYLOAD) is what the server compares. */
        const char *given = header_set_get(hs, "x-amz-content-sha256");
        if (given) {
                if (strlen(given) != 64 && !streq(given, "UNSIGNED-PAYLOAD"))
                        return -EINVAL;
                snprintf(x->payload_hash, sizeof(x->payload_hash), "%s", given);
                x->hash_given = true;
        } else if (p->sign_body_header) {
                r = header_set_add(hs, "x-amz-content-sha256", 20, x->payload_hash, 64);
                if (r < 0)
                        return r;
        }
        qsort(hs->h, hs->n, sizeof(hs->h[0]), canon_header_cmp);
        return 0;
}

static int sign_ctx_build(const struct sigv4_params *p, const struct aws_credentials *c,
                          struct sign_ctx *x)
{
        _cleanup_(url_parts_done) struct url_parts u = {0};
        struct header_set hs = {0};
        struct strbuf req = STRBUF_INIT(0), sh = STRBUF_INIT(0);
        int r;

        if (!p->method || !p->url || isempty(p->region) || isempty(p->service) || !c ||
            isempty(c->access_key_id) || isempty(c->secret_access_key))
                return -EINVAL;
        r = url_split(p->url, &u);
        if (r < 0)
                return r;
        x->host = TAKE_PTR(u.host);
        sigv4_format_amz_date(p->time_usec, x->amz_date);
        memcpy(x->date, x->amz_date, 8);
        x->date[8] = '\0';
        sigv4_sha256_hex(p->body, p->body_len, x->payload_hash);

        r = build_headers(p, c, x, &hs);
        if (r < 0)
                goto finish;

        r = strbuf_printf(&req, "%s\n", p->method);
        if (r >= 0)
                r = canonical_uri(u.path, p->normalize_path, &req);
        if (r >= 0)
                r = strbuf_puts(&req, "\n");
        if (r >= 0)
                r = canonical_query(u.query, &req);
        if (r >= 0)
                r = strbuf_puts(&req, "\n");
        for (size_t i = 0; i < hs.n && r >= 0; i++) {
                bool dup = i > 0 && streq(hs.h[i - 1].name, hs.h[i].name);
                bool more = i + 1 < hs.n && streq(hs.h[i + 1].name, hs.h[i].name);
                if (dup)
                        r = strbuf_printf(&req, ",%s", hs.h[i].value);
                else
                        r = strbuf_printf(&req, "%s:%s", hs.h[i].name, hs.h[i].value);
                if (r >= 0 && !more)
                        r = strbuf_puts(&req, "\n");
                if (r >= 0 && !dup)
                        r = strbuf_printf(&sh, "%s%s", sh.len ? ";" : "", hs.h[i].name);
        }
        if (r >= 0)
                r = strbuf_printf(&req, "\n%s\n%s", strempty(sh.data), x->payload_hash);
        if (r < 0)
                goto finish;
        x->canonical_request = strbuf_steal(&req);
        x->signed_headers = strbuf_steal(&sh);
finish:
        header_set_done(&hs);
        strbuf_done(&req);
        strbuf_done(&sh);
        return r;
}

int sigv4_canonical_request(const struct sigv4_params *p, const struct aws_credentials *c,
                            char **ret_request, char **ret_signed_headers)
{
        struct sign_ctx x = {0};
        int r;

        r = sign_ctx_build(p, c, &x);
        if (r >= 0) {
                *ret_request = TAKE_PTR(x.canonical_request);
                if (ret_signed_headers)
                        *ret_signed_headers = TAKE_PTR(x.signed_headers);
        }
        sign_ctx_done(&x);
        return r < 0 ? r : 0;
}

int sigv4_string_to_sign(const struct sigv4_params *p, const char *canonical_request, char **ret)
{
        char amz_date[17], hash[65];
        char *s;

        if (isempty(p->region) || isempty(p->service) || !canonical_request)
                return -EINVAL;
        sigv4_format_amz_date(p->time_usec, amz_date);
        sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
        if (asprintf(&s, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date,
                     p->region, p->service, hash) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int hmac(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
        unsigned int len = 32;

        if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out,
                  &len))
                return -EIO;
        return 0;
}

int sigv4_signature(const struct sigv4_params *p, const struct aws_credentials *c,
                    const char *string_to_sign, char **ret_hex)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char k1[32], k2[32], sig[32];
        char amz_date[17], date[9];
        _cleanup_free_ char *secret = NULL;
        char *out;
        int r;

        if (!c || isempty(c->secret_access_key) || !string_to_sign || isempty(p->region) ||
            isempty(p->service))
                return -EINVAL;
        sigv4_format_amz_date(p->time_usec, amz_date);
        memcpy(date, amz_date, 8);
        date[8] = '\0';
        if (asprintf(&secret, "AWS4%s", c->secret_access_key) < 0)
                return -ENOMEM;

        /* kDate -> kRegion -> kService -> kSigning, then the signature */
        r = hmac(secret, strlen(secret), date, k1);
        explicit_bzero(secret, strlen(secret));
        if (r >= 0)
                r = hmac(k1, sizeof(k1), p->region, k2);
        if (r >= 0)
                r = hmac(k2, sizeof(k2), p->service, k1);
        if (r >= 0)
                r = hmac(k1, sizeof(k1), "aws4_request", k2);
        if (r >= 0)
                r = hmac(k2, sizeof(k2), string_to_sign, sig);
        explicit_bzero(k1, sizeof(k1));
        explicit_bzero(k2, sizeof(k2));
        if (r < 0)
                return r;

        out = malloc(65);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < sizeof(sig); i++) {
                out[2 * i] = hex[sig[i] >> 4];
                out[2 * i + 1] = hex[sig[i] & 0xf];
        }
        out[64] = '\0';
        *ret_hex = out;
        return 0;
}

static int strv_push_printf(char **l, size_t *n, const char *fmt, ...) _printf_(3, 4);
static int strv_push_printf(char **l, size_t *n, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&l[*n], fmt, ap);
        va_end(ap);
        if (r < 0) {
                l[*n] = NULL;
                return -ENOMEM;
        }
        l[++*n] = NULL;
        return 0;
}

int sigv4_sign(const struct sigv4_params *p, const struct aws_credentials *c, char ***ret_headers)
{
        struct sign_ctx x = {0};
        _cleanup_free_ char *sts = NULL, *sig = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        r = sign_ctx_build(p, c, &x);
        if (r >= 0)
                r = sigv4_string_to_sign(p, x.canonical_request, &sts);
        if (r >= 0)
                r = sigv4_signature(p, c, sts, &sig);
        if (r < 0)
                goto finish;

        l = calloc(6, sizeof(char *));
        if (!l) {
                r = -ENOMEM;
                goto finish;
        }
        if (p->add_host_header)
                r = strv_push_printf(l, &n, "Host: %s", x.host);
        if (r >= 0)
                r = strv_push_printf(l, &n, "X-Amz-Date: %s", x.amz_date);
        if (r >= 0 && c->session_token)
                r = strv_push_printf(l, &n, "X-Amz-Security-Token: %s", c->session_token);
        /* a hash header the caller passed is already on the request */
        if (r >= 0 && p->sign_body_header && !x.hash_given)
                r = strv_push_printf(l, &n, "X-Amz-Content-Sha256: %s", x.payload_hash);
        if (r >= 0)
                r = strv_push_printf(l, &n,
                                     "Authorization: " SIGV4_ALGORITHM
                                     " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                                     "Signature=%s",
                                     c->access_key_id, x.date, p->region, p->service,
                                     x.signed_headers, sig);
        if (r >= 0)
                *ret_headers = TAKE_PTR(l);
finish:
        sign_ctx_done(&x);
        return r < 0 ? r : 0;
}
