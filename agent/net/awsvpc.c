/* awsvpc task networking (§6.3): what the vpc-eni and ecs-bridge CNI plugins do, done
 * directly over netlink. */

#include "ecs/log.h"
#include "net-internal.h"

static const char *eni_ifname(const struct net_awsvpc_params *p)
{
        return p->eni_ifname ? p->eni_ifname : "eth0";
}

static const char *veth_ifname(const struct net_awsvpc_params *p)
{
        return p->veth_ifname ? p->veth_ifname : "ecs-eth0";
}

/* Host end of the task veth: derived from the ENI MAC, so a retry or teardown finds the
 * same name without any stored state (MACs are unique on a host). */
static void host_veth_name(const uint8_t mac[6], char buf[IFNAMSIZ])
{
        snprintf(buf, IFNAMSIZ, "veth%02x%02x%02x%02x%02x", mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int bridge_gateway(const struct net_awsvpc_params *p, struct net_cidr *ret)
{
        struct net_cidr subnet;
        int r;

        if (p->bridge_subnet)
                subnet = *p->bridge_subnet;
        else {
                r = net_cidr_parse(NET_BRIDGE_SUBNET, &subnet);
                if (r < 0)
                        return r;
        }
        if (subnet.addr.family != AF_INET || subnet.prefixlen > 30)
                return -EINVAL;
        net_cidr_network(&subnet, ret);
        ret->addr.in.s_addr = htonl(ntohl(ret->addr.in.s_addr) + 1);
        return 0;
}

/* Finds the ENI in the task netns, or moves it there from the host, named eth0. */
static int eni_move_in(const struct net_awsvpc_params *p, struct net_ns *host, struct net_ns *task,
                       int *ret_ifindex)
{
        char name[IFNAMSIZ];
        int ifindex, r;

        r = net_find_link_by_mac(task, p->eni->mac, &ifindex, name);
        if (r == -ENOENT) {
                int host_ifindex;

                r = net_find_link_by_mac(host, p->eni->mac, &host_ifindex, NULL);
                if (r < 0)
                        return r;
                r = net_link_move(host, host_ifindex, net_ns_fd(task), eni_ifname(p));
                if (r < 0)
                        return r;
                r = net_find_link_by_mac(task, p->eni->mac, &ifindex, name);
        }
        if (r < 0)
                return r;
        if (!streq(name, eni_ifname(p))) {
                /* A half-done earlier attempt: moved, but not renamed. */
                r = net_link_set_down(task, ifindex);
                if (r < 0)
                        return r;
                r = net_link_rename(task, ifindex, eni_ifname(p));
                if (r < 0)
                        return r;
        }
        *ret_ifindex = ifindex;
        return 0;
}

static int block_imds(const struct net_eni *eni, struct net_ns *task)
{
        struct net_cidr v4, v6;
        int r;

        r = net_cidr_parse(NET_IMDS_IPV4 "/32", &v4);
        if (r >= 0)
                r = net_cidr_parse(NET_IMDS_IPV6 "/128", &v6);
        if (r < 0)
                return r;
        r = net_route_add_blackhole(task, &v4);
        if (r < 0)
                return r;
        r = net_route_add_blackhole(task, &v6);
        /* With IPv6 disabled in the namespace there is no IPv6 path to block. */
        if (r < 0 && eni->n_ipv6 == 0)
                return 0;
        return r;
}

static int eni_configure(const struct net_awsvpc_params *p, struct net_ns *task, int ifindex)
{
        const struct net_eni *e = p->eni;
        int r;

        /* Blackholes first: no moment where the task's traffic could reach IMDS. */
        if (e->block_imds) {
                r = block_imds(e, task);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < e->n_ipv4; i++) {
                r = net_addr_add(task, ifindex, &e->ipv4[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < e->n_ipv6; i++) {
                r = net_addr_add(task, ifindex, &e->ipv6[i]);
                if (r < 0)
                        return r;
        }
        /* Up before the default route: the gateway must be reachable via the connected
         * prefix route, which only exists on an up link. */
        r = net_link_set_up(task, ifindex, e->mtu);
        if (r < 0)
                return r;
        if (e->gateway4.family == AF_INET && e->n_ipv4 > 0) {
                r = net_route_add_default(task, ifindex, &e->gateway4);
                if (r < 0)
                        return r;
        }
        if (e->gateway6.family == AF_INET6 && e->n_ipv6 > 0) {
                r = net_route_add_default(task, ifindex, &e->gateway6);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int bridge_attach(const struct net_awsvpc_params *p, struct net_ns *host,
                         struct net_ns *task, struct net_awsvpc_result *ret)
{
        char mac[NET_MAC_STRLEN], hname[IFNAMSIZ], kind[32];
        struct net_cidr gw, local, dst170;
        int bridge, ifindex, r;

        r = bridge_gateway(p, &gw);
        if (r < 0)
                return r;
        r = net_bridge_ensure(host, p->bridge_name ? p->bridge_name : NET_BRIDGE_DEFAULT, &gw,
                              &bridge);
        if (r < 0)
                return r;
        net_mac_format(p->eni->mac, mac);
        local = (struct net_cidr){.prefixlen = gw.prefixlen};
        r = net_ipam_allocate(p->ipam, mac, &local.addr);
        if (r < 0)
                return r;

        host_veth_name(p->eni->mac, hname);
        r = net_find_link_by_name(task, veth_ifname(p), &ifindex);
        if (r == -ENOENT) {
                /* A host end without its peer in this netns is left from a task whose netns
                 * is gone (its peer would have died with it), or a failed earlier try. */
                if (net_link_get_kind(host, hname, kind, sizeof(kind)) >= 0 && streq(kind, "veth"))
                        (void)net_link_remove_kind(host, hname, "veth");
                r = net_veth_create(host, hname, bridge, net_ns_fd(task), veth_ifname(p), 0);
                if (r < 0)
                        return r;
                r = net_find_link_by_name(task, veth_ifname(p), &ifindex);
        }
        if (r < 0)
                return r;
        r = net_addr_add(task, ifindex, &local);
        if (r < 0)
                return r;
        r = net_link_set_up(task, ifindex, 0);
        if (r < 0)
                return r;
        r = net_cidr_parse(NET_ENDPOINT_IPV4 "/32", &dst170);
        if (r < 0)
                return r;
        r = net_route_add(task, ifindex, &dst170, &gw.addr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_routes; i++) {
                r = net_route_add(task, ifindex, &p->routes[i], &gw.addr);
                if (r < 0)
                        return r;
        }
        ret->local_ip = local.addr;
        snprintf(ret->host_veth, sizeof(ret->host_veth), "%s", hname);
        return 0;
}

static int params_check(const struct net_awsvpc_params *p)
{
        if (!p || !p->eni || !p->ipam)
                return -EINVAL;
        if (p->eni->n_ipv4 == 0 && p->eni->n_ipv6 == 0)
                return -EINVAL;
        return 0;
}

int net_awsvpc_setup(const struct net_awsvpc_params *p, int task_netns_fd,
                     struct net_awsvpc_result *ret)
{
        _cleanup_(net_ns_freep) struct net_ns *tmp = NULL, *task = NULL;
        struct net_awsvpc_result res = {};
        struct net_ns *host;
        int ifindex, r;

        r = params_check(p);
        if (r < 0)
                return r;
        if (task_netns_fd < 0)
                return -EBADF;
        r = net_ns_resolve(p->host, &tmp, &host);
        if (r < 0)
                return r;
        r = net_ns_open(task_netns_fd, &task);
        if (r < 0)
                return r;
        r = eni_move_in(p, host, task, &ifindex);
        if (r < 0)
                return log_debug_errno(r, "awsvpc: ENI not moved into the task netns: %m");
        r = eni_configure(p, task, ifindex);
        if (r < 0)
                return log_debug_errno(r, "awsvpc: ENI configuration failed: %m");
        r = bridge_attach(p, host, task, &res);
        if (r < 0)
                return log_debug_errno(r, "awsvpc: bridge attachment failed: %m");
        if (ret)
                *ret = res;
        return 0;
}

/* Gives the ENI back to the host: down, renamed in the task netns (where the name cannot be
 * taken), then moved. Renaming first means a name clash in the host fails before the move,
 * instead of leaving an "eth0" behind in the host. */
static int eni_move_out(const struct net_awsvpc_params *p, struct net_ns *host, struct net_ns *task)
{
        char hostname[IFNAMSIZ];
        int ifindex, r;

        r = net_find_link_by_mac(task, p->eni->mac, &ifindex, NULL);
        if (r < 0)
                return r;
        net_eni_host_name(p->eni->mac, hostname);
        r = net_link_set_down(task, ifindex);
        if (r < 0)
                return r;
        r = net_link_rename(task, ifindex, hostname);
        if (r < 0)
                return r;
        r = net_link_move(task, ifindex, net_ns_fd(host), NULL);
        if (r == -EEXIST)
                r = net_link_move(task, ifindex, net_ns_fd(host), "ecs%d");
        return r;
}

/* The namespace died: the kernel already returned the ENI to the initial namespace under
 * its task name (or devN). Rename it if it is down; an up link is someone else's now. */
static int eni_rename_in_host(const struct net_awsvpc_params *p, struct net_ns *host)
{
        char name[IFNAMSIZ], hostname[IFNAMSIZ];
        unsigned flags;
        int ifindex, r;

        r = net_find_link_by_mac(host, p->eni->mac, &ifindex, name);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        net_eni_host_name(p->eni->mac, hostname);
        if (streq(name, hostname))
                return 0;
        r = net_link_get_flags(host, ifindex, &flags);
        if (r < 0)
                return r;
        if (flags & IFF_UP)
                return 0;
        r = net_link_rename(host, ifindex, hostname);
        return r == -EEXIST ? 0 : r; /* keeps the kernel's "ecsN" */
}

int net_awsvpc_teardown(const struct net_awsvpc_params *p, int task_netns_fd)
{
        _cleanup_(net_ns_freep) struct net_ns *tmp = NULL, *task = NULL;
        char hname[IFNAMSIZ], kind[32];
        struct net_ns *host;
        int ifindex, r;

        if (!p || !p->eni)
                return -EINVAL;
        r = net_ns_resolve(p->host, &tmp, &host);
        if (r < 0)
                return r;
        if (task_netns_fd >= 0) {
                r = net_ns_open(task_netns_fd, &task);
                if (r < 0)
                        return r;
                r = eni_move_out(p, host, task);
                if (r < 0 && r != -ENOENT)
                        return log_debug_errno(r, "awsvpc: ENI not moved back: %m");
                r = net_find_link_by_name(task, veth_ifname(p), &ifindex);
                if (r >= 0)
                        r = net_link_delete(task, ifindex);
                if (r < 0 && r != -ENOENT)
                        return log_debug_errno(r, "awsvpc: task veth not deleted: %m");
        }
        r = eni_rename_in_host(p, host);
        if (r < 0)
                return r;
        /* Deleting one end deletes both; this catches a host end whose peer is gone. */
        host_veth_name(p->eni->mac, hname);
        if (net_link_get_kind(host, hname, kind, sizeof(kind)) >= 0 && streq(kind, "veth")) {
                r = net_link_remove_kind(host, hname, "veth");
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}
