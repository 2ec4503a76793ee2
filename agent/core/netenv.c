/* Proxy selection and log-safe URLs (include/ecs/netenv.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecs/macro.h"
#include "ecs/netenv.h"

#define HOST_MAX 256

struct url_parts {
        const char *scheme; /* not terminated: scheme_len */
        size_t scheme_len;
        const char *authority; /* user information included; authority_len */
        size_t authority_len;
        const char *host; /* brackets of an IPv6 literal removed; host_len */
        size_t host_len;
        unsigned port; /* explicit, or the scheme's default; 0 when unknown */
};

static bool scheme_is(const struct url_parts *u, const char *s)
{
        return u->scheme_len == strlen(s) && strncasecmp(u->scheme, s, u->scheme_len) == 0;
}

/* n decimal digits (no sign, at most 5) worth at most max. */
static int parse_decimal(const char *p, size_t n, unsigned max, unsigned *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)p[i]))
                        return -1;
                v = v * 10 + (unsigned)(p[i] - '0');
        }
        if (v > max)
                return -1;
        *ret = v;
        return 0;
}

static int parse_port(const char *p, size_t n, unsigned *ret)
{
        if (parse_decimal(p, n, 65535, ret) < 0 || *ret == 0)
                return -1;
        return 0;
}

/* Splits host[:port] or [v6][:port]; port stays 0 without one. */
static int split_host_port(const char *s, size_t n, const char **host, size_t *host_len,
                           unsigned *port)
{
        *port = 0;
        if (n > 0 && s[0] == '[') {
                const char *end = memchr(s, ']', n);
                if (!end)
                        return -1;
                *host = s + 1;
                *host_len = (size_t)(end - s - 1);
                size_t rest = n - (size_t)(end + 1 - s);
                if (rest == 0)
                        return 0;
                if (end[1] != ':')
                        return -1;
                return parse_port(end + 2, rest - 1, port);
        }
        const char *colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) {
                /* a bare IPv6 address: no port */
                *host = s;
                *host_len = n;
                return 0;
        }
        *host = s;
        *host_len = colon ? (size_t)(colon - s) : n;
        if (colon)
                return parse_port(colon + 1, n - (size_t)(colon + 1 - s), port);
        return 0;
}

static int url_parse(const char *url, struct url_parts *u)
{
        const char *sep, *p, *at;
        size_t n;

        *u = (struct url_parts){0};
        if (!url)
                return -1;
        sep = strstr(url, "://");
        if (!sep || sep == url)
                return -1;
        for (p = url; p < sep; p++)
                if (!isalpha((unsigned char)*p))
                        return -1;
        u->scheme = url;
        u->scheme_len = (size_t)(sep - url);
        u->authority = sep + 3;
        n = strcspn(u->authority, "/?#");
        u->authority_len = n;
        /* the host follows the last '@' of the authority */
        at = NULL;
        for (size_t i = 0; i < n; i++)
                if (u->authority[i] == '@')
                        at = u->authority + i;
        p = at ? at + 1 : u->authority;
        n -= (size_t)(p - u->authority);
        if (split_host_port(p, n, &u->host, &u->host_len, &u->port) < 0 || u->host_len == 0 ||
            u->host_len >= HOST_MAX)
                return -1;
        if (u->port == 0) {
                if (scheme_is(u, "http") || scheme_is(u, "ws"))
                        u->port = 80;
                else if (scheme_is(u, "https") || scheme_is(u, "wss"))
                        u->port = 443;
        }
        return 0;
}

/* Whether addr (in_addr or in6_addr bytes, len 4 or 16) is inside net/prefix. */
static bool prefix_match(const unsigned char *addr, const unsigned char *net, size_t len,
                         unsigned prefix)
{
        size_t whole = prefix / 8;
        unsigned bits = prefix % 8;

        if (prefix > len * 8)
                return false;
        if (memcmp(addr, net, whole) != 0)
                return false;
        if (bits == 0)
                return true;
        unsigned char mask = (unsigned char)(0xffu << (8 - bits));
        return (addr[whole] & mask) == (net[whole] & mask);
}

/* Parses host as an IP address into buf (16 bytes); returns its length, 0 for a name. */
static size_t parse_ip(const char *host, unsigned char *buf)
{
        if (inet_pton(AF_INET, host, buf) == 1)
                return 4;
        if (inet_pton(AF_INET6, host, buf) == 1)
                return 16;
        return 0;
}

static bool entry_matches(const char *entry, const char *host, unsigned port)
{
        char name[HOST_MAX], want[HOST_MAX];
        unsigned char hip[16], eip[16];
        const char *slash, *h;
        size_t hl, hip_len;
        unsigned eport = 0;

        if (streq(entry, "*"))
                return true;
        snprintf(name, sizeof(name), "%s", host);
        hip_len = parse_ip(name, hip);

        slash = strchr(entry, '/');
        if (slash) {
                /* CIDR: address/prefix, never with a port */
                char net[HOST_MAX];
                unsigned prefix;
                size_t l = (size_t)(slash - entry);
                if (l >= sizeof(net) || hip_len == 0 ||
                    parse_decimal(slash + 1, strlen(slash + 1), 128, &prefix) < 0)
                        return false;
                memcpy(net, entry, l);
                net[l] = 0;
                if (parse_ip(net, eip) != hip_len)
                        return false;
                return prefix_match(hip, eip, hip_len, prefix);
        }
        if (split_host_port(entry, strlen(entry), &h, &hl, &eport) < 0 || hl == 0 ||
            hl >= sizeof(want))
                return false;
        if (eport && eport != port)
                return false;
        memcpy(want, h, hl);
        want[hl] = 0;
        if (hip_len > 0) {
                size_t l = parse_ip(want, eip);
                return l == hip_len && memcmp(hip, eip, l) == 0;
        }
        /* a name: "example.com", ".example.com" and "*.example.com" cover the domain */
        const char *d = want;
        if (d[0] == '*' && d[1] == '.')
                d += 2;
        else if (d[0] == '.')
                d += 1;
        size_t dl = strlen(d), nl = strlen(name);
        while (nl > 0 && name[nl - 1] == '.') /* a fully qualified name */
                name[--nl] = 0;
        if (dl == 0 || nl < dl)
                return false;
        if (strcasecmp(name + nl - dl, d) != 0)
                return false;
        return nl == dl || name[nl - dl - 1] == '.';
}

bool ecs_no_proxy_match(const char *no_proxy, const char *host, unsigned port)
{
        char entry[HOST_MAX + 8];
        const char *p = no_proxy;

        if (!no_proxy || !host || !host[0])
                return false;
        while (*p) {
                size_t n;

                p += strspn(p, ", \t");
                n = strcspn(p, ", \t");
                if (n > 0 && n < sizeof(entry)) {
                        memcpy(entry, p, n);
                        entry[n] = 0;
                        if (entry_matches(entry, host, port))
                                return true;
                }
                p += n;
        }
        return false;
}

const char *ecs_proxy_for_url(const struct ecs_proxy_config *p, const char *url)
{
        struct url_parts u;
        char host[HOST_MAX];
        const char *proxy;

        if (!p || url_parse(url, &u) < 0)
                return NULL;
        if (scheme_is(&u, "https") || scheme_is(&u, "wss"))
                proxy = p->https_proxy;
        else if (scheme_is(&u, "http") || scheme_is(&u, "ws"))
                proxy = p->http_proxy;
        else
                return NULL;
        if (!proxy || !proxy[0])
                return NULL;
        memcpy(host, u.host, u.host_len);
        host[u.host_len] = 0;
        if (ecs_no_proxy_match(p->no_proxy, host, u.port))
                return NULL;
        return proxy;
}

void ecs_url_redact(const char *url, char *buf, size_t size)
{
        struct url_parts u;
        const char *at = NULL, *colon;

        if (size == 0)
                return;
        if (!url) {
                snprintf(buf, size, "n/a");
                return;
        }
        if (!strstr(url, "://")) {
                /* "user:password@host:port", as proxies are often written */
                char full[1024], out[1024];
                snprintf(full, sizeof(full), "http://%s", url);
                ecs_url_redact(full, out, sizeof(out));
                snprintf(buf, size, "%s", strncmp(out, "http://", 7) == 0 ? out + 7 : out);
                return;
        }
        if (url_parse(url, &u) < 0) {
                /* Not a URL we understand: it may still hold a secret, so show none of it. */
                snprintf(buf, size, "<unparsable URL>");
                return;
        }
        for (size_t i = 0; i < u.authority_len; i++)
                if (u.authority[i] == '@')
                        at = u.authority + i;
        colon = at ? memchr(u.authority, ':', (size_t)(at - u.authority)) : NULL;
        if (!colon) {
                snprintf(buf, size, "%s", url);
                return;
        }
        snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
}

void ecs_url_origin(const char *url, char *buf, size_t size)
{
        struct url_parts u;
        bool v6;

        if (size == 0)
                return;
        if (url_parse(url, &u) < 0) {
                snprintf(buf, size, "<unparsable URL>");
                return;
        }
        v6 = memchr(u.host, ':', u.host_len) != NULL;
        snprintf(buf, size, "%.*s://%s%.*s%s:%u", (int)u.scheme_len, u.scheme, v6 ? "[" : "",
                 (int)u.host_len, u.host, v6 ? "]" : "", u.port);
}
