/* Host plumbing: the 169.254.170.2 endpoint address and IMDS blocking for bridge
 * containers, in a namespace handle (the agent's own in production, a test's own in tests).
 * Removal only ever touches objects carrying exactly our attributes. */
#include <linux/fib_rules.h>

#include <netlink/route/rule.h>

#include "net-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_rule *, rtnl_rule_put);

int net_host_setup_endpoint_address(struct net_ns *ns, const char *name,
                                    const struct net_cidr *addr)
{
        _cleanup_(net_ns_freep) struct net_ns *tmp = NULL;
        struct net_cidr def;
        int ifindex, r;

        r = net_ns_resolve(ns, &tmp, &ns);
        if (r < 0)
                return r;
        if (!addr) {
                r = net_cidr_parse(NET_ENDPOINT_IPV4 "/32", &def);
                if (r < 0)
                        return r;
                addr = &def;
        }
        /* A dummy holds the address as a local one: the host answers for it on every
         * interface, so bridge containers and awsvpc tasks (via ecs-bridge) reach
         * listeners bound to it, without iptables. */
        name = name ? name : NET_ENDPOINT_LINK;
        r = net_link_ensure_kind(ns, name, "dummy", &ifindex);
        if (r == -EOPNOTSUPP || r == -EEXIST) {
                /* Kernels without the dummy driver (minimal VM kernels): a port-less bridge
                 * holds a local address just as well. */
                int q = net_link_ensure_kind(ns, name, "bridge", &ifindex);
                if (q >= 0 || r == -EOPNOTSUPP)
                        r = q;
        }
        if (r < 0)
                return r;
        r = net_addr_add(ns, ifindex, addr);
        if (r < 0)
                return r;
        return net_link_set_up(ns, ifindex, 0);
}

int net_host_remove_endpoint_address(struct net_ns *ns, const char *name)
{
        _cleanup_(net_ns_freep) struct net_ns *tmp = NULL;
        int r;

        r = net_ns_resolve(ns, &tmp, &ns);
        if (r < 0)
                return r;
        name = name ? name : NET_ENDPOINT_LINK;
        r = net_link_remove_kind(ns, name, "dummy");
        if (r == -ENOENT)
                r = net_link_remove_kind(ns, name, "bridge");
        return r;
}

static int imds_rule(const char *iif, const struct net_cidr *dst, uint32_t priority,
                     struct rtnl_rule **ret)
{
        _cleanup_(rtnl_rule_putp) struct rtnl_rule *rule = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *d = NULL;
        struct net_cidr def;
        int r;

        if (isempty(iif) || strlen(iif) >= IFNAMSIZ || priority == 0)
                return -EINVAL;
        if (!dst) {
                r = net_cidr_parse(NET_IMDS_IPV4 "/32", &def);
                if (r < 0)
                        return r;
                dst = &def;
        }
        rule = rtnl_rule_alloc();
        d = net_cidr_to_nl(dst);
        if (!rule || !d)
                return -ENOMEM;
        rtnl_rule_set_family(rule, dst->addr.family);
        rtnl_rule_set_prio(rule, priority);
        r = rtnl_rule_set_iif(rule, iif);
        if (r >= 0)
                r = rtnl_rule_set_dst(rule, d);
        if (r < 0)
                return net_nlerr(r);
        /* Blackhole, like the DROP rule of the official agent: the packet is forwarded
         * traffic, so the host's own requests to IMDS (iif lo) never match. */
        rtnl_rule_set_action(rule, FR_ACT_BLACKHOLE);
        *ret = TAKE_PTR(rule);
        return 0;
}

static int change_imds_rule(struct net_ns *ns, const char *iif, const struct net_cidr *dst,
                            uint32_t priority, bool add)
{
        _cleanup_(net_ns_freep) struct net_ns *tmp = NULL;
        _cleanup_(rtnl_rule_putp) struct rtnl_rule *rule = NULL;
        int r;

        r = imds_rule(iif, dst, priority, &rule);
        if (r < 0)
                return r;
        r = net_ns_resolve(ns, &tmp, &ns);
        if (r < 0)
                return r;
        if (!add)
                /* The kernel deletes the first rule matching every attribute given. */
                return net_nlerr(rtnl_rule_delete(ns->sock, rule, 0));
        /* NLM_F_EXCL: the kernel refuses an identical rule instead of adding a duplicate. */
        r = net_nlerr(rtnl_rule_add(ns->sock, rule, NLM_F_EXCL));
        return r == -EEXIST ? 0 : r;
}

int net_host_block_imds_from(struct net_ns *ns, const char *iif, const struct net_cidr *dst,
                             uint32_t priority)
{
        return change_imds_rule(ns, iif, dst, priority, true);
}

int net_host_unblock_imds_from(struct net_ns *ns, const char *iif, const struct net_cidr *dst,
                               uint32_t priority)
{
        return change_imds_rule(ns, iif, dst, priority, false);
}
