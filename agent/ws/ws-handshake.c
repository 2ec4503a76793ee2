/* The HTTP/1.1 side of the WebSocket opening handshake (RFC 6455 §4): the upgrade request
 * we send, and the response head and refusal body we read back. Pure functions over
 * buffers, so the fuzzer can reach them. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <strings.h>

#include "ws-internal.h"

#define WS_GUID            "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_HEADERS     100
#define WS_MAX_CHUNK_LINE  1024
#define WS_MAX_CONTENT_LEN (1ULL << 53)

static void curl_freep(char **p)
{
        curl_free(*p);
}

static void curl_url_cleanupp(CURLU **u)
{
        if (*u)
                curl_url_cleanup(*u);
}

void ws_url_done(struct ws_url *u)
{
        u->http_url = mfree(u->http_url);
        u->host = mfree(u->host);
        u->target = mfree(u->target);
}

static int map_scheme(const char *url, char **ret)
{
        static const struct {
                const char *from, *to;
        } map[] = {
            {"ws://", "http://"},
            {"wss://", "https://"},
            {"http://", "http://"},
            {"https://", "https://"},
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                size_t n = strlen(map[i].from);
                if (strncasecmp(url, map[i].from, n) == 0) {
                        char *s;
                        if (asprintf(&s, "%s%s", map[i].to, url + n) < 0)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
        }
        return -EINVAL;
}

int ws_url_parse(const char *url, struct ws_url *ret)
{
        _cleanup_(curl_url_cleanupp) CURLU *h = NULL;
        _cleanup_(curl_freep) char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
        _cleanup_free_ char *mapped = NULL;
        struct ws_url u = {0};
        int r;

        if (isempty(url) || strpbrk(url, "\r\n \t"))
                return -EINVAL;
        r = map_scheme(url, &mapped);
        if (r < 0)
                return r;
        h = curl_url();
        if (!h)
                return -ENOMEM;
        if (curl_url_set(h, CURLUPART_URL, mapped, 0) != CURLUE_OK)
                return -EINVAL;
        if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || isempty(host))
                return -EINVAL;
        /* The Host header carries the port only when it is not the scheme's default, as
         * browsers and Go's dialer do; SigV4 signs exactly this value. */
        CURLUcode rc = curl_url_get(h, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
        if (rc != CURLUE_OK && rc != CURLUE_NO_PORT)
                return -EINVAL;
        if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
                return -EINVAL;
        rc = curl_url_get(h, CURLUPART_QUERY, &query, 0);
        if (rc != CURLUE_OK && rc != CURLUE_NO_QUERY)
                return -EINVAL;

        if ((port ? asprintf(&u.host, "%s:%s", host, port) : asprintf(&u.host, "%s", host)) < 0) {
                u.host = NULL;
                return -ENOMEM;
        }
        const char *p = isempty(path) ? "/" : path;
        if ((query ? asprintf(&u.target, "%s?%s", p, query) : asprintf(&u.target, "%s", p)) < 0) {
                u.target = NULL;
                ws_url_done(&u);
                return -ENOMEM;
        }
        u.http_url = TAKE_PTR(mapped);
        *ret = u;
        return 0;
}

int ws_key_generate(char key[static WS_KEY_LEN + 1])
{
        unsigned char raw[16];

        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -EIO;
        EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
        return 0;
}

int ws_accept_compute(const char *key, char accept[static WS_ACCEPT_LEN + 1])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char buf[128];

        int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
        if (n < 0 || (size_t)n >= sizeof(buf))
                return -EINVAL;
        if (EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
                return -EIO;
        EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
        return 0;
}

static bool is_tchar(char c)
{
        return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c);
}

/* "Name: value" with a token name and no CR, LF or NUL that could end the header early. */
static int header_check(const char *h, size_t *ret_name_len)
{
        const char *colon = strchr(h, ':');

        if (!colon || colon == h || strpbrk(h, "\r\n"))
                return -EINVAL;
        for (const char *p = h; p < colon; p++)
                if (!is_tchar(*p))
                        return -EINVAL;
        *ret_name_len = (size_t)(colon - h);
        return 0;
}

int ws_request_build(const struct ws_url *u, const char *key, char *const *extra_headers,
                     struct strbuf *out)
{
        bool have_host = false;
        size_t n;
        int r;

        if (extra_headers)
                for (char *const *h = extra_headers; *h; h++) {
                        r = header_check(*h, &n);
                        if (r < 0)
                                return r;
                        if (n == 4 && strncasecmp(*h, "Host", 4) == 0)
                                have_host = true;
                }

        strbuf_clear(out);
        r = strbuf_printf(out, "GET %s HTTP/1.1\r\n", u->target);
        if (r >= 0 && !have_host)
                r = strbuf_printf(out, "Host: %s\r\n", u->host);
        if (r >= 0)
                r = strbuf_printf(out,
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: %s\r\n"
                                  "Sec-WebSocket-Version: 13\r\n",
                                  key);
        if (extra_headers)
                for (char *const *h = extra_headers; r >= 0 && *h; h++)
                        r = strbuf_printf(out, "%s\r\n", *h);
        if (r >= 0)
                r = strbuf_puts(out, "\r\n");
        return r;
}

static bool name_is(const char *name, size_t n, const char *want)
{
        return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool value_has_token(const char *v, size_t n, const char *token)
{
        size_t tl = strlen(token);
        const char *end = v + n;

        while (v < end) {
                const char *comma = memchr(v, ',', (size_t)(end - v));
                const char *e = comma ? comma : end;
                const char *s = v;
                while (s < e && (*s == ' ' || *s == '\t'))
                        s++;
                const char *t = e;
                while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
                        t--;
                if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0)
                        return true;
                v = comma ? comma + 1 : end;
        }
        return false;
}

static int parse_status_line(const char *p, size_t n, long *ret)
{
        /* HTTP/1.x SP 3DIGIT [SP reason] */
        if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]) || p[8] != ' ')
                return -EBADMSG;
        for (size_t i = 9; i < 12; i++)
                if (!isdigit((unsigned char)p[i]))
                        return -EBADMSG;
        if (n > 12 && p[12] != ' ')
                return -EBADMSG;
        *ret = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        return 0;
}

static int parse_content_length(const char *v, size_t n, uint64_t *ret)
{
        uint64_t x = 0;

        if (n == 0)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)v[i]))
                        return -EBADMSG;
                x = x * 10 + (uint64_t)(v[i] - '0');
                if (x > WS_MAX_CONTENT_LEN)
                        return -EBADMSG;
        }
        *ret = x;
        return 0;
}

static int parse_header_line(const char *p, size_t n, struct ws_http_head *h)
{
        const char *colon = memchr(p, ':', n);
        int r;

        if (!colon || colon == p)
                return -EBADMSG;
        size_t nl = (size_t)(colon - p);
        for (size_t i = 0; i < nl; i++)
                if (!is_tchar(p[i]))
                        return -EBADMSG; /* also rejects obsolete line folding */
        const char *v = colon + 1, *end = p + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        size_t vl = (size_t)(end - v);

        if (name_is(p, nl, "Upgrade"))
                h->upgrade_websocket = h->upgrade_websocket || value_has_token(v, vl, "websocket");
        else if (name_is(p, nl, "Connection"))
                h->connection_upgrade = h->connection_upgrade || value_has_token(v, vl, "upgrade");
        else if (name_is(p, nl, "Sec-WebSocket-Accept")) {
                if (h->has_accept)
                        return -EBADMSG;
                h->has_accept = true;
                if (vl == WS_ACCEPT_LEN) {
                        memcpy(h->accept, v, vl);
                        h->accept[vl] = 0;
                }
        } else if (name_is(p, nl, "Sec-WebSocket-Extensions"))
                h->has_extensions = h->has_extensions || vl > 0;
        else if (name_is(p, nl, "Sec-WebSocket-Protocol"))
                h->has_protocol = h->has_protocol || vl > 0;
        else if (name_is(p, nl, "Transfer-Encoding"))
                h->chunked = h->chunked || value_has_token(v, vl, "chunked");
        else if (name_is(p, nl, "Content-Length")) {
                uint64_t len;
                r = parse_content_length(v, vl, &len);
                if (r < 0)
                        return r;
                if (h->has_content_length && h->content_length != len)
                        return -EBADMSG;
                h->has_content_length = true;
                h->content_length = len;
        }
        return 0;
}

int ws_http_head_parse(const char *data, size_t len, struct ws_http_head *ret)
{
        struct ws_http_head h = {0};
        const char *p = data, *end = data + len;
        unsigned n = 0;
        int r;

        if (memchr(data, 0, len))
                return -EBADMSG;
        const char *eol = memmem(p, len, "\r\n", 2);
        if (!eol)
                return -EBADMSG;
        r = parse_status_line(p, (size_t)(eol - p), &h.status);
        if (r < 0)
                return r;
        for (p = eol + 2;; p = eol + 2) {
                eol = memmem(p, (size_t)(end - p), "\r\n", 2);
                if (!eol)
                        return -EBADMSG;
                if (eol == p)
                        break;
                if (++n > WS_MAX_HEADERS)
                        return -E2BIG;
                r = parse_header_line(p, (size_t)(eol - p), &h);
                if (r < 0)
                        return r;
        }
        *ret = h;
        return 0;
}

int ws_chunked_decode(const char *data, size_t len, struct strbuf *out)
{
        const char *p = data, *end = data + len;
        int r;

        strbuf_clear(out);
        for (;;) {
                const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
                if (!eol)
                        return end - p > WS_MAX_CHUNK_LINE ? -EBADMSG : 0;
                uint64_t size = 0;
                const char *q = p;
                for (; q < eol && unhexchar(*q) >= 0; q++) {
                        if (q - p >= 15)
                                return -EBADMSG;
                        size = size * 16 + (uint64_t)unhexchar(*q);
                }
                if (q == p || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
                        return -EBADMSG;
                p = eol + 2;
                if (size == 0)
                        return 1; /* trailers, if any, are of no interest */

                size_t avail = (size_t)(end - p);
                size_t take = (size_t)MIN((uint64_t)avail, size);
                if (out->max && take > out->max - out->len) {
                        r = strbuf_append(out, p, out->max - out->len);
                        return r < 0 ? r : 1; /* as much as we keep */
                }
                r = strbuf_append(out, p, take);
                if (r < 0)
                        return r;
                if ((uint64_t)avail < size + 2)
                        return 0;
                if (memcmp(p + size, "\r\n", 2) != 0)
                        return -EBADMSG;
                p += size + 2;
        }
}
