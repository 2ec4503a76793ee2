/* Link, address and route primitives: one or two netlink requests each, on the socket of a
 * namespace handle. */
#include <linux/rtnetlink.h>

#include <netlink/route/addr.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "net-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put);

#define RESOLVE_NS(ns)                                                                             \
        _cleanup_(net_ns_freep) struct net_ns *_tmp_ns = NULL;                                     \
        do {                                                                                       \
                int _r = net_ns_resolve((ns), &_tmp_ns, &(ns));                                    \
                if (_r < 0)                                                                        \
                        return _r;                                                                 \
        } while (0)

/* Links that copy the MAC of the device they sit on: never "the ENI". */
static bool kind_is_derived(const char *kind)
{
        static const char *const kinds[] = {"bridge",  "bond",    "team",   "vlan",
                                            "macvlan", "macvtap", "ipvlan", "vrf"};
        if (!kind)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kind, kinds[i]))
                        return true;
        return false;
}

int net_find_link_by_mac(struct net_ns *ns, const uint8_t mac[6], int *ret_ifindex,
                         char ret_name[IFNAMSIZ])
{
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        int r;

        RESOLVE_NS(ns);
        r = rtnl_link_alloc_cache(ns->sock, AF_UNSPEC, &cache);
        if (r < 0)
                return net_nlerr(r);
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *)o;
                struct nl_addr *a = rtnl_link_get_addr(l);

                if (!a || nl_addr_get_len(a) != 6 ||
                    memcmp(nl_addr_get_binary_addr(a), mac, 6) != 0)
                        continue;
                if (kind_is_derived(rtnl_link_get_type(l)))
                        continue;
                if (ret_ifindex)
                        *ret_ifindex = rtnl_link_get_ifindex(l);
                if (ret_name)
                        snprintf(ret_name, IFNAMSIZ, "%s", strempty(rtnl_link_get_name(l)));
                return 0;
        }
        return -ENOENT;
}

static int link_get(struct net_ns *ns, int ifindex, const char *name, struct rtnl_link **ret)
{
        int r = rtnl_link_get_kernel(ns->sock, ifindex, name, ret);

        if (r < 0) {
                r = net_nlerr(r);
                return r == -ENODEV ? -ENOENT : r;
        }
        return 0;
}

int net_find_link_by_name(struct net_ns *ns, const char *name, int *ret_ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        if (isempty(name) || strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        RESOLVE_NS(ns);
        r = link_get(ns, 0, name, &l);
        if (r < 0)
                return r;
        if (ret_ifindex)
                *ret_ifindex = rtnl_link_get_ifindex(l);
        return 0;
}

static int link_change(struct net_ns *ns, int ifindex, struct rtnl_link *changes)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *orig = rtnl_link_alloc();

        if (!orig)
                return -ENOMEM;
        rtnl_link_set_ifindex(orig, ifindex);
        return net_nlerr(rtnl_link_change(ns->sock, orig, changes, 0));
}

static bool ifname_ok(const char *name)
{
        return !isempty(name) && strlen(name) < IFNAMSIZ && !strchr(name, '/');
}

int net_link_move(struct net_ns *ns, int ifindex, int target_netns_fd, const char *new_name)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *c = rtnl_link_alloc();

        if (!c)
                return -ENOMEM;
        if (ifindex <= 0 || target_netns_fd < 0 || (new_name && !ifname_ok(new_name)))
                return -EINVAL;
        RESOLVE_NS(ns);
        /* The kernel moves first, then renames (do_setlink), so one request does both; the
         * name also serves as the fallback should the current name be taken there. */
        rtnl_link_set_ns_fd(c, target_netns_fd);
        if (new_name)
                rtnl_link_set_name(c, new_name);
        return link_change(ns, ifindex, c);
}

int net_link_rename(struct net_ns *ns, int ifindex, const char *new_name)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *c = rtnl_link_alloc();

        if (!c)
                return -ENOMEM;
        if (ifindex <= 0 || !ifname_ok(new_name))
                return -EINVAL;
        RESOLVE_NS(ns);
        rtnl_link_set_name(c, new_name);
        return link_change(ns, ifindex, c);
}

int net_link_set_up(struct net_ns *ns, int ifindex, uint32_t mtu)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *c = rtnl_link_alloc();

        if (!c)
                return -ENOMEM;
        RESOLVE_NS(ns);
        if (mtu > 0)
                rtnl_link_set_mtu(c, mtu);
        rtnl_link_set_flags(c, IFF_UP);
        return link_change(ns, ifindex, c);
}

int net_link_set_down(struct net_ns *ns, int ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *c = rtnl_link_alloc();

        if (!c)
                return -ENOMEM;
        RESOLVE_NS(ns);
        rtnl_link_unset_flags(c, IFF_UP);
        return link_change(ns, ifindex, c);
}

int net_link_delete(struct net_ns *ns, int ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_alloc();
        int r;

        if (!l)
                return -ENOMEM;
        RESOLVE_NS(ns);
        rtnl_link_set_ifindex(l, ifindex);
        r = net_nlerr(rtnl_link_delete(ns->sock, l));
        return r == -ENODEV ? -ENOENT : r;
}

int net_addr_add(struct net_ns *ns, int ifindex, const struct net_cidr *addr)
{
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
        int r;

        if (!a)
                return -ENOMEM;
        RESOLVE_NS(ns);
        local = net_cidr_to_nl(addr);
        if (!local)
                return -EINVAL;
        rtnl_addr_set_ifindex(a, ifindex);
        r = rtnl_addr_set_local(a, local);
        if (r < 0)
                return net_nlerr(r);
        /* VPC addresses are assigned by EC2 and cannot be duplicates; without NODAD an IPv6
         * address stays tentative (unusable as a source) for a second or more. */
        if (addr->addr.family == AF_INET6)
                rtnl_addr_set_flags(a, IFA_F_NODAD);
        r = net_nlerr(rtnl_addr_add(ns->sock, a, NLM_F_EXCL));
        return r == -EEXIST ? 0 : r;
}

static int route_add(struct net_ns *ns, struct rtnl_route *rt)
{
        int r = net_nlerr(rtnl_route_add(ns->sock, rt, NLM_F_EXCL));

        return r == -EEXIST ? 0 : r;
}

static struct rtnl_route *route_new(const struct net_cidr *dst, uint8_t type, uint8_t scope)
{
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *d = NULL;

        if (!rt)
                return NULL;
        d = net_cidr_to_nl(dst);
        if (!d)
                return NULL;
        rtnl_route_set_family(rt, (uint8_t)dst->addr.family);
        if (rtnl_route_set_dst(rt, d) < 0)
                return NULL;
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        rtnl_route_set_protocol(rt, RTPROT_BOOT);
        rtnl_route_set_type(rt, type);
        rtnl_route_set_scope(rt, scope);
        return TAKE_PTR(rt);
}

int net_route_add(struct net_ns *ns, int ifindex, const struct net_cidr *dst,
                  const struct net_ip *gateway)
{
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *gw = NULL;
        struct net_cidr net;
        struct rtnl_nexthop *nh;

        if (!dst || ifindex <= 0 || (gateway && gateway->family != dst->addr.family))
                return -EINVAL;
        RESOLVE_NS(ns);
        net_cidr_network(dst, &net);
        rt = route_new(&net, RTN_UNICAST, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
        if (!rt)
                return -ENOMEM;
        nh = rtnl_route_nh_alloc();
        if (!nh)
                return -ENOMEM;
        rtnl_route_nh_set_ifindex(nh, ifindex);
        if (gateway) {
                gw = net_ip_to_nl(gateway, gateway->family == AF_INET ? 32 : 128);
                if (!gw) {
                        rtnl_route_nh_free(nh);
                        return -EINVAL;
                }
                rtnl_route_nh_set_gateway(nh, gw);
        }
        rtnl_route_add_nexthop(rt, nh);
        return route_add(ns, rt);
}

int net_route_add_default(struct net_ns *ns, int ifindex, const struct net_ip *gateway)
{
        struct net_cidr any = {.addr.family = gateway ? gateway->family : 0};

        if (!gateway)
                return -EINVAL;
        return net_route_add(ns, ifindex, &any, gateway);
}

int net_route_add_blackhole(struct net_ns *ns, const struct net_cidr *dst)
{
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;

        if (!dst)
                return -EINVAL;
        RESOLVE_NS(ns);
        rt = route_new(dst, RTN_BLACKHOLE, RT_SCOPE_UNIVERSE);
        if (!rt)
                return -ENOMEM;
        return route_add(ns, rt);
}

/* Name -> (ifindex, kind check). -EEXIST when the name is taken by another kind. */
static int link_of_kind(struct net_ns *ns, const char *name, const char *kind, int *ret_ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        r = link_get(ns, 0, name, &l);
        if (r < 0)
                return r;
        if (!streq_ptr(rtnl_link_get_type(l), kind))
                return -EEXIST;
        *ret_ifindex = rtnl_link_get_ifindex(l);
        return 0;
}

/* Creates a link of a simple kind (bridge, dummy) unless one of that kind exists. */
int net_link_ensure_kind(struct net_ns *ns, const char *name, const char *kind, int *ret_ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        r = link_of_kind(ns, name, kind, ret_ifindex);
        if (r != -ENOENT)
                return r;
        l = rtnl_link_alloc();
        if (!l)
                return -ENOMEM;
        rtnl_link_set_name(l, name);
        r = rtnl_link_set_type(l, kind);
        if (r < 0)
                return net_nlerr(r);
        r = net_nlerr(rtnl_link_add(ns->sock, l, NLM_F_CREATE | NLM_F_EXCL));
        if (r < 0 && r != -EEXIST)
                return r;
        return link_of_kind(ns, name, kind, ret_ifindex);
}

/* Deletes name only if it is a link of that kind. */
int net_link_remove_kind(struct net_ns *ns, const char *name, const char *kind)
{
        int ifindex, r;

        r = link_of_kind(ns, name, kind, &ifindex);
        if (r == -EEXIST)
                return -ENOENT; /* not ours: leave it */
        if (r < 0)
                return r;
        return net_link_delete(ns, ifindex);
}

int net_bridge_ensure(struct net_ns *ns, const char *name, const struct net_cidr *addr,
                      int *ret_ifindex)
{
        int ifindex, r;

        if (!ifname_ok(name) || !addr)
                return -EINVAL;
        RESOLVE_NS(ns);
        r = net_link_ensure_kind(ns, name, "bridge", &ifindex);
        if (r < 0)
                return r;
        r = net_addr_add(ns, ifindex, addr);
        if (r < 0)
                return r;
        r = net_link_set_up(ns, ifindex, 0);
        if (r < 0)
                return r;
        if (ret_ifindex)
                *ret_ifindex = ifindex;
        return 0;
}

int net_bridge_remove(struct net_ns *ns, const char *name)
{
        if (!ifname_ok(name))
                return -EINVAL;
        RESOLVE_NS(ns);
        return net_link_remove_kind(ns, name, "bridge");
}

int net_veth_create(struct net_ns *ns, const char *host_name, int bridge_ifindex, int peer_netns_fd,
                    const char *peer_name, uint32_t mtu)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *veth = NULL, *peer = NULL;

        if (!ifname_ok(host_name) || !ifname_ok(peer_name) || peer_netns_fd < 0)
                return -EINVAL;
        RESOLVE_NS(ns);
        veth = rtnl_link_veth_alloc();
        if (!veth)
                return -ENOMEM;
        peer = rtnl_link_veth_get_peer(veth);
        if (!peer)
                return -ENOMEM;
        rtnl_link_set_name(veth, host_name);
        if (bridge_ifindex > 0)
                rtnl_link_set_master(veth, bridge_ifindex);
        rtnl_link_set_flags(veth, IFF_UP);
        /* The peer is born in the task namespace: no window where it sits in the host. */
        rtnl_link_set_name(peer, peer_name);
        rtnl_link_set_ns_fd(peer, peer_netns_fd);
        if (mtu > 0) {
                rtnl_link_set_mtu(veth, mtu);
                rtnl_link_set_mtu(peer, mtu);
        }
        return net_nlerr(rtnl_link_add(ns->sock, veth, NLM_F_CREATE | NLM_F_EXCL));
}

/* Flags of a link (for "is it up"). */
int net_link_get_flags(struct net_ns *ns, int ifindex, unsigned *ret_flags)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        r = link_get(ns, ifindex, NULL, &l);
        if (r < 0)
                return r;
        *ret_flags = rtnl_link_get_flags(l);
        return 0;
}

/* Kind of a link by name ("veth", "bridge", NULL for physical devices) copied to buf. */
int net_link_get_kind(struct net_ns *ns, const char *name, char *buf, size_t n)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        r = link_get(ns, 0, name, &l);
        if (r < 0)
                return r;
        snprintf(buf, n, "%s", strempty(rtnl_link_get_type(l)));
        return 0;
}
