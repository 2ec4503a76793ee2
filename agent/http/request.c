/* HTTP/1.1 request parsing (RFC 9112), strict where leniency has been a source of request
 * smuggling: CRLF line ends only, no obs-fold, one Content-Length, no Transfer-Encoding. */
#include <ctype.h>
#include <strings.h>

#include "ecs/httpd.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

#define METHOD_MAX 16

const char *httpd_reason_phrase(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 413:
                return "Content Too Large";
        case 414:
                return "URI Too Long";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return status < 500 ? "Client Error" : "Server Error";
        }
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
        return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field values: visible ASCII, space, tab and obs-text; never CR, LF, NUL or DEL. */
static bool field_value_ok(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return false;
        }
        return true;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        k = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        k = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                if (n - i <= k)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

/* Percent-decodes n bytes of s into out (at least n + 1 bytes). -EINVAL for a bad escape, a
 * NUL, or a result that is not UTF-8. */
static int percent_decode(const char *s, size_t n, bool plus_is_space, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '%') {
                        if (i + 2 >= n)
                                return -EINVAL;
                        int hi = unhexchar(s[i + 1]), lo = unhexchar(s[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (char)(hi << 4 | lo);
                        i += 2;
                } else if (c == '+' && plus_is_space)
                        c = ' ';
                if (c == 0)
                        return -EINVAL;
                out[o++] = c;
        }
        out[o] = 0;
        return utf8_valid((const unsigned char *)out, o) ? 0 : -EINVAL;
}

/* A path with a "." or ".." segment is refused rather than normalised: no endpoint has one,
 * and a proxy in front may normalise it differently. */
static bool has_dot_segment(const char *p)
{
        for (const char *seg = p; seg; seg = strchr(seg + 1, '/')) {
                const char *s = seg + 1;
                size_t len = strcspn(s, "/");
                if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
                        return true;
        }
        return false;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool value_has_token(const char *v, const char *token)
{
        size_t tl = strlen(token);

        while (*v) {
                v += strspn(v, " \t,");
                size_t len = strcspn(v, ",");
                size_t end = len;
                while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
                        end--;
                if (end == tl && strncasecmp(v, token, tl) == 0)
                        return true;
                v += len;
        }
        return false;
}

static int parse_request_line(char *line, struct httpd_parsed *p, char **ret_target, int *ret_minor)
{
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

        if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
                return 400;
        size_t mlen = (size_t)(sp1 - line);
        if (mlen == 0 || mlen > METHOD_MAX)
                return 400;
        for (size_t i = 0; i < mlen; i++)
                if (!isupper((unsigned char)line[i]))
                        return 400;
        size_t tlen = (size_t)(sp2 - sp1 - 1);
        if (tlen > HTTPD_MAX_TARGET)
                return 414;
        if (tlen == 0 || sp1[1] != '/')
                return 400; /* origin-form only */
        for (char *t = sp1 + 1; t < sp2; t++)
                if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
                        return 400;
        const char *v = sp2 + 1;
        if (strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
            !isdigit((unsigned char)v[7]) || v[8])
                return 400;
        if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
                return 505;
        *sp1 = *sp2 = 0;
        p->req.method = line;
        *ret_target = sp1 + 1;
        *ret_minor = v[7] - '0';
        return 0;
}

/* Splits the header lines (NUL-terminated, CRLF already cut) into name/value pairs. */
static int parse_header(char *line, struct httpd_header *h)
{
        char *colon = strchr(line, ':');

        if (!colon || colon == line)
                return 400; /* includes obs-fold: a line starting with SP or HTAB */
        for (char *c = line; c < colon; c++)
                if (!is_tchar((unsigned char)*c))
                        return 400;
        *colon = 0;
        char *v = colon + 1;
        v += strspn(v, " \t");
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                v[--n] = 0;
        if (!field_value_ok(v, n))
                return 400;
        *h = (struct httpd_header){line, v};
        return 0;
}

static int body_length(const struct httpd_request *req, size_t *ret)
{
        bool seen = false;
        size_t len = 0;

        for (size_t i = 0; i < req->n_headers; i++) {
                const struct httpd_header *h = &req->headers[i];
                if (strcasecmp(h->name, "Transfer-Encoding") == 0)
                        return 501;
                if (strcasecmp(h->name, "Content-Length") != 0)
                        continue;
                size_t v = 0, n = strlen(h->value);
                if (n == 0 || n > 9 || strspn(h->value, "0123456789") != n)
                        return 400;
                for (size_t k = 0; k < n; k++)
                        v = v * 10 + (size_t)(h->value[k] - '0');
                if (seen && v != len)
                        return 400;
                seen = true;
                len = v;
        }
        if (len > HTTPD_MAX_BODY)
                return 413;
        *ret = len;
        return 0;
}

void httpd_parsed_done(struct httpd_parsed *p)
{
        free(p->storage);
        free(p->header_storage);
        free(p->body_storage);
        *p = (struct httpd_parsed){0};
}

static int parse_head(char *head, struct httpd_parsed *p, char **ret_target, int *ret_minor)
{
        char *eol = strstr(head, "\r\n");
        int r;

        *eol = 0;
        r = parse_request_line(head, p, ret_target, ret_minor);
        if (r != 0)
                return r;
        for (char *line = eol + 2; *line; line = eol + 2) {
                eol = strstr(line, "\r\n");
                *eol = 0;
                if (p->req.n_headers >= HTTPD_MAX_HEADERS)
                        return 431;
                r = parse_header(line, &p->header_storage[p->req.n_headers]);
                if (r != 0)
                        return r;
                p->req.n_headers++;
        }
        return 0;
}

int httpd_parse_request(const char *buf, size_t len, struct httpd_parsed *ret)
{
        struct httpd_parsed p = {0};
        const char *end = memmem(buf, MIN(len, (size_t)HTTPD_MAX_HEAD), "\r\n\r\n", 4);
        char *target = NULL;
        size_t body_len = 0;
        int minor = 1, r;

        if (!end)
                return len >= HTTPD_MAX_HEAD ? 431 : HTTPD_PARSE_INCOMPLETE;
        size_t head_len = (size_t)(end - buf) + 2; /* through the last header's CRLF */
        if (memchr(buf, 0, head_len))
                return 400;
        /* The head and its decoded path in one allocation. */
        p.storage = malloc(head_len + 1 + HTTPD_MAX_TARGET + 1);
        p.header_storage = calloc(HTTPD_MAX_HEADERS, sizeof(struct httpd_header));
        if (!p.storage || !p.header_storage) {
                httpd_parsed_done(&p);
                return -ENOMEM;
        }
        memcpy(p.storage, buf, head_len);
        p.storage[head_len] = 0;
        p.req.headers = p.header_storage;
        r = parse_head(p.storage, &p, &target, &minor);
        if (r == 0)
                r = body_length(&p.req, &body_len);
        if (r != 0 || len < head_len + 2 + body_len) {
                httpd_parsed_done(&p);
                return r != 0 ? r : HTTPD_PARSE_INCOMPLETE;
        }

        char *q = strchr(target, '?');
        char *path = p.storage + head_len + 1;
        if (q)
                *q++ = 0;
        if (percent_decode(target, strlen(target), false, path) < 0 || has_dot_segment(path)) {
                httpd_parsed_done(&p);
                return 400;
        }
        p.req.path = path;
        p.req.query = q ? q : "";

        p.body_storage = malloc(body_len + 1);
        if (!p.body_storage) {
                httpd_parsed_done(&p);
                return -ENOMEM;
        }
        memcpy(p.body_storage, buf + head_len + 2, body_len);
        p.body_storage[body_len] = 0;
        p.req.body = p.body_storage;
        p.req.body_len = body_len;
        p.consumed = head_len + 2 + body_len;

        const char *conn = httpd_request_header(&p.req, "Connection");
        p.keep_alive = minor == 1 ? !(conn && value_has_token(conn, "close"))
                                  : conn && value_has_token(conn, "keep-alive");
        *ret = p;
        return HTTPD_PARSE_DONE;
}

const char *httpd_request_header(const struct httpd_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->headers[i].name, name) == 0)
                        return req->headers[i].value;
        return NULL;
}

int httpd_query_param(const char *query, const char *key, char **ret)
{
        size_t kl = strlen(key);

        for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
                size_t len = strcspn(p, "&");
                size_t nl = strcspn(p, "=&");
                if (nl != kl || strncmp(p, key, kl) != 0)
                        continue;
                const char *v = nl < len ? p + nl + 1 : p + nl;
                size_t vl = (size_t)(p + len - v);
                char *out = malloc(vl + 1);
                if (!out)
                        return -ENOMEM;
                if (percent_decode(v, vl, true, out) < 0) {
                        free(out);
                        return -EINVAL;
                }
                *ret = out;
                return 1;
        }
        return 0;
}
