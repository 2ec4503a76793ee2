/* Address parsing and formatting, the typed ENI, resolv.conf and hosts rendering. */
#include <arpa/inet.h>
#include <ctype.h>

#include <netlink/addr.h>

#include "ecs/strbuf.h"
#include "net-internal.h"

int net_mac_parse(const char *s, uint8_t ret[6])
{
        uint8_t mac[6];
        char sep = 0;

        if (!s || strlen(s) != 17)
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                const char *p = s + i * 3;
                int hi = unhexchar(p[0]), lo = unhexchar(p[1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i < 5) {
                        if (p[2] != ':' && p[2] != '-')
                                return -EINVAL;
                        if (sep && p[2] != sep)
                                return -EINVAL;
                        sep = p[2];
                }
                mac[i] = (uint8_t)(hi << 4 | lo);
        }
        memcpy(ret, mac, 6);
        return 0;
}

void net_mac_format(const uint8_t mac[6], char buf[NET_MAC_STRLEN])
{
        snprintf(buf, NET_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                 mac[3], mac[4], mac[5]);
}

int net_ip_parse(const char *s, struct net_ip *ret)
{
        struct net_ip ip = {};

        if (isempty(s))
                return -EINVAL;
        if (inet_pton(AF_INET, s, &ip.in) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, s, &ip.in6) == 1)
                ip.family = AF_INET6;
        else
                return -EINVAL;
        *ret = ip;
        return 0;
}

int net_ip_format(const struct net_ip *ip, char *buf, size_t n)
{
        if (!ip || (ip->family != AF_INET && ip->family != AF_INET6))
                return -EAFNOSUPPORT;
        if (!inet_ntop(ip->family, &ip->in6, buf, (socklen_t)n))
                return -errno;
        return 0;
}

bool net_ip_equal(const struct net_ip *a, const struct net_ip *b)
{
        if (a->family != b->family)
                return false;
        if (a->family == AF_INET)
                return a->in.s_addr == b->in.s_addr;
        if (a->family == AF_INET6)
                return memcmp(&a->in6, &b->in6, sizeof(a->in6)) == 0;
        return true;
}

int net_cidr_parse(const char *s, struct net_cidr *ret)
{
        char buf[NET_CIDR_STRLEN + 1];
        const char *slash;
        char *end;
        struct net_ip ip;
        unsigned long n;
        int r;

        if (isempty(s) || strlen(s) >= sizeof(buf))
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash || strchr(slash + 1, '/'))
                return -EINVAL;
        memcpy(buf, s, (size_t)(slash - s));
        buf[slash - s] = '\0';
        r = net_ip_parse(buf, &ip);
        if (r < 0)
                return r;
        if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3)
                return -EINVAL;
        errno = 0;
        n = strtoul(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (n > (ip.family == AF_INET ? 32u : 128u))
                return -ERANGE;
        *ret = (struct net_cidr){.addr = ip, .prefixlen = (uint8_t)n};
        return 0;
}

int net_cidr_format(const struct net_cidr *c, char *buf, size_t n)
{
        char ip[NET_IP_STRLEN];
        int r;

        r = net_ip_format(&c->addr, ip, sizeof(ip));
        if (r < 0)
                return r;
        if ((size_t)snprintf(buf, n, "%s/%u", ip, c->prefixlen) >= n)
                return -ENOBUFS;
        return 0;
}

int net_gateway_parse(const char *s, struct net_ip *ret_gateway, uint8_t *ret_prefixlen)
{
        struct net_cidr c;
        int r;

        r = net_cidr_parse(s, &c);
        if (r < 0)
                return r;
        if (c.prefixlen == 0)
                return -ERANGE;
        if (ret_gateway)
                *ret_gateway = c.addr;
        if (ret_prefixlen)
                *ret_prefixlen = c.prefixlen;
        return 0;
}

void net_cidr_network(const struct net_cidr *c, struct net_cidr *ret)
{
        struct net_cidr out = *c;
        uint8_t *b = (uint8_t *)&out.addr.in6;
        size_t len = c->addr.family == AF_INET ? 4 : 16;

        for (size_t i = 0; i < len; i++) {
                int bits = (int)c->prefixlen - (int)(i * 8);
                if (bits >= 8)
                        continue;
                b[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
        }
        *ret = out;
}

struct nl_addr *net_ip_to_nl(const struct net_ip *ip, uint8_t prefixlen)
{
        struct nl_addr *a;

        if (ip->family == AF_INET)
                a = nl_addr_build(AF_INET, &ip->in, 4);
        else if (ip->family == AF_INET6)
                a = nl_addr_build(AF_INET6, &ip->in6, 16);
        else
                return NULL;
        if (a)
                nl_addr_set_prefixlen(a, prefixlen);
        return a;
}

struct nl_addr *net_cidr_to_nl(const struct net_cidr *c)
{
        return net_ip_to_nl(&c->addr, c->prefixlen);
}

int net_eni_init(struct net_eni *e, const char *mac, const char *subnet_gw4, const char *subnet_gw6)
{
        struct net_eni n = {.prefix6 = 64};
        int r;

        if (!e)
                return -EINVAL;
        r = net_mac_parse(mac, n.mac);
        if (r < 0)
                return r;
        if (isempty(subnet_gw4) && isempty(subnet_gw6))
                return -EINVAL;
        if (!isempty(subnet_gw4)) {
                r = net_gateway_parse(subnet_gw4, &n.gateway4, &n.prefix4);
                if (r < 0)
                        return r;
                if (n.gateway4.family != AF_INET)
                        return -EAFNOSUPPORT;
        }
        if (!isempty(subnet_gw6)) {
                r = net_gateway_parse(subnet_gw6, &n.gateway6, &n.prefix6);
                if (r < 0)
                        return r;
                if (n.gateway6.family != AF_INET6)
                        return -EAFNOSUPPORT;
        }
        *e = n;
        return 0;
}

int net_eni_add_address(struct net_eni *e, const char *s)
{
        struct net_ip ip;
        int r;

        r = net_ip_parse(s, &ip);
        if (r < 0)
                return r;
        if (ip.family == AF_INET) {
                if (e->gateway4.family != AF_INET)
                        return -EINVAL; /* no subnet gateway, so no prefix */
                if (e->n_ipv4 >= NET_ENI_MAX_ADDRS)
                        return -E2BIG;
                e->ipv4[e->n_ipv4++] = (struct net_cidr){.addr = ip, .prefixlen = e->prefix4};
        } else {
                if (e->n_ipv6 >= NET_ENI_MAX_ADDRS)
                        return -E2BIG;
                e->ipv6[e->n_ipv6++] =
                    (struct net_cidr){.addr = ip, .prefixlen = e->prefix6 ? e->prefix6 : 64};
        }
        return 0;
}

void net_eni_host_name(const uint8_t mac[6], char buf[IFNAMSIZ])
{
        snprintf(buf, IFNAMSIZ, "ecs%02x%02x%02x", mac[0], mac[1], mac[2]);
}

/* resolv.conf and hosts take whitespace-separated tokens: anything that could break a line
 * or add a token (a peer-supplied "10.0.0.2\noptions ...") is refused. */
static bool token_ok(const char *s, size_t max)
{
        if (isempty(s) || strlen(s) > max)
                return false;
        for (const char *p = s; *p; p++)
                if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '#')
                        return false;
        return true;
}

int net_render_resolv_conf(char *const *servers, char *const *search, char **ret)
{
        struct strbuf b = STRBUF_INIT(64 * 1024);
        size_t n = 0;
        int r = 0;

        for (char *const *s = servers; s && *s; s++) {
                struct net_ip ip;
                if (net_ip_parse(*s, &ip) < 0)
                        goto inval;
        }
        for (char *const *s = search; s && *s; s++)
                if (!token_ok(*s, 253))
                        goto inval;

        /* glibc reads only the first MAXNS (3) nameservers. */
        for (char *const *s = servers; s && *s && n < 3 && r >= 0; s++, n++)
                r = strbuf_printf(&b, "nameserver %s\n", *s);
        if (r >= 0 && search && *search) {
                r = strbuf_puts(&b, "search");
                for (char *const *s = search; *s && r >= 0; s++)
                        r = strbuf_printf(&b, " %s", *s);
                if (r >= 0)
                        r = strbuf_puts(&b, "\n");
        }
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return 0;
inval:
        strbuf_done(&b);
        return -EINVAL;
}

int net_render_hosts(const char *hostname, char *const *ips, char **ret)
{
        struct strbuf b = STRBUF_INIT(64 * 1024);
        int r;

        if (hostname && !token_ok(hostname, 253))
                return -EINVAL;
        for (char *const *s = ips; s && *s; s++) {
                struct net_ip ip;
                if (net_ip_parse(*s, &ip) < 0)
                        return -EINVAL;
        }
        r = strbuf_puts(&b, "127.0.0.1\tlocalhost\n"
                            "::1\tlocalhost ip6-localhost ip6-loopback\n");
        for (char *const *s = ips; hostname && s && *s && r >= 0; s++)
                r = strbuf_printf(&b, "%s\t%s\n", *s, hostname);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return 0;
}
