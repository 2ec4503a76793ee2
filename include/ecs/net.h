/* Networking over netlink (libnl route): awsvpc task namespaces (ENI moved in as eth0, a veth
 * to the ecs bridge), the bridge IPAM, host plumbing for 169.254.170.2 and IMDS blocking.
 *
 * Every call is a few netlink requests answered by the kernel at once, so they may run on
 * the loop thread. Work inside another network namespace goes through a struct net_ns,
 * whose netlink socket was opened in that namespace by a short-lived helper thread; the
 * calling thread never changes namespace. Errors are negative errno. */
#pragma once

#include <netinet/in.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* ---- addresses ---- */

struct net_ip {
        int family; /* AF_INET, AF_INET6; 0 = unset */
        union {
                struct in_addr in;
                struct in6_addr in6;
        };
};

struct net_cidr {
        struct net_ip addr;
        uint8_t prefixlen;
};

#define NET_MAC_STRLEN     18 /* "0e:12:34:56:78:9a" + NUL */
#define NET_IP_STRLEN      INET6_ADDRSTRLEN
#define NET_CIDR_STRLEN    (INET6_ADDRSTRLEN + 4)
#define NET_IMDS_IPV4      "169.254.169.254"
#define NET_IMDS_IPV6      "fd00:ec2::254"
#define NET_ENDPOINT_IPV4  "169.254.170.2"
#define NET_BRIDGE_DEFAULT "ecs-bridge"
#define NET_BRIDGE_SUBNET  "169.254.172.0/22"
#define NET_ENDPOINT_LINK  "ecs-agent0"

/* "0e:12:34:56:78:9a" (either case, ':' or '-' separators). */
int net_mac_parse(const char *s, uint8_t ret[6]);
void net_mac_format(const uint8_t mac[6], char buf[NET_MAC_STRLEN]);
/* A plain address, v4 or v6, no prefix. */
int net_ip_parse(const char *s, struct net_ip *ret);
int net_ip_format(const struct net_ip *ip, char *buf, size_t n);
bool net_ip_equal(const struct net_ip *a, const struct net_ip *b);
/* "a.b.c.d/n" or "x::y/n": exactly one '/', prefix in range for the family. The host bits
 * are kept (so "10.0.1.1/24" is the gateway 10.0.1.1 in a /24). */
int net_cidr_parse(const char *s, struct net_cidr *ret);
int net_cidr_format(const struct net_cidr *c, char *buf, size_t n);
/* ACS subnetGatewayIpv4Address / subnetGatewayIpv6Address: "10.0.1.1/24" ⇒ gateway 10.0.1.1,
 * prefix 24. Rejects a missing prefix, two slashes and out-of-range prefixes. */
int net_gateway_parse(const char *s, struct net_ip *ret_gateway, uint8_t *ret_prefixlen);

/* ---- namespaces ---- */

struct net_ns;

/* A handle on the namespace netns_fd refers to (the fd is duplicated). */
int net_ns_open(int netns_fd, struct net_ns **ret);
/* The namespace the calling thread is in now (the agent's "host" namespace). */
int net_ns_open_self(struct net_ns **ret);
/* E.g. "/run/netns/<name>" or "/proc/<pid>/ns/net". */
int net_ns_open_path(const char *path, struct net_ns **ret);
struct net_ns *net_ns_free(struct net_ns *ns);
/* The handle's namespace fd (owned by the handle). */
int net_ns_fd(const struct net_ns *ns);
/* A socket (SOCK_CLOEXEC added) created inside the namespace netns_fd refers to; it keeps
 * working in that namespace whatever thread uses it. */
int net_ns_socket(int netns_fd, int domain, int type, int protocol);

/* ---- link primitives (ns NULL = the calling thread's namespace where noted) ---- */

/* One check, no waiting: -ENOENT when no link has that MAC. ret_name may be NULL. */
int net_find_link_by_mac(struct net_ns *ns, const uint8_t mac[6], int *ret_ifindex,
                         char ret_name[IFNAMSIZ]);
int net_find_link_by_name(struct net_ns *ns, const char *name, int *ret_ifindex);
/* Moves the link into target_netns_fd and, when new_name is set, renames it there in the
 * same request. The link arrives down. */
int net_link_move(struct net_ns *ns, int ifindex, int target_netns_fd, const char *new_name);
int net_link_rename(struct net_ns *ns, int ifindex, const char *new_name); /* link down */
/* mtu 0 leaves the MTU alone. */
int net_link_set_up(struct net_ns *ns, int ifindex, uint32_t mtu);
int net_link_set_down(struct net_ns *ns, int ifindex);
int net_link_delete(struct net_ns *ns, int ifindex);
/* Idempotent (an existing identical address or route is success). */
int net_addr_add(struct net_ns *ns, int ifindex, const struct net_cidr *addr);
/* gateway NULL: a directly connected (scope link) route on ifindex. */
int net_route_add(struct net_ns *ns, int ifindex, const struct net_cidr *dst,
                  const struct net_ip *gateway);
int net_route_add_default(struct net_ns *ns, int ifindex, const struct net_ip *gateway);
int net_route_add_blackhole(struct net_ns *ns, const struct net_cidr *dst);
/* Creates the bridge if missing (an existing link of another kind is -EEXIST), puts addr on
 * it and sets it up. */
int net_bridge_ensure(struct net_ns *ns, const char *name, const struct net_cidr *addr,
                      int *ret_ifindex);
/* Deletes the link only if it is a bridge with that name; -ENOENT if there is none. */
int net_bridge_remove(struct net_ns *ns, const char *name);
/* A veth pair: host_name in ns attached to bridge_ifindex (0 = none) and up, peer_name
 * created directly in peer_netns_fd (down). */
int net_veth_create(struct net_ns *ns, const char *host_name, int bridge_ifindex, int peer_netns_fd,
                    const char *peer_name, uint32_t mtu);

/* ---- awsvpc ---- */

#define NET_ENI_MAX_ADDRS 16

/* The ENI as the task netns needs it (typed from ACS ElasticNetworkInterface, §6.5). */
struct net_eni {
        uint8_t mac[6];
        struct net_cidr ipv4[NET_ENI_MAX_ADDRS];
        size_t n_ipv4;
        struct net_cidr ipv6[NET_ENI_MAX_ADDRS];
        size_t n_ipv6;
        struct net_ip gateway4, gateway6; /* family 0 = none */
        uint8_t prefix4, prefix6;         /* from the subnet gateways; prefix6 defaults 64 */
        uint32_t mtu;                     /* 0 = leave */
        bool block_imds;
};

/* mac required; subnet_gw4 / subnet_gw6 ("10.0.1.1/24") may be NULL (not both). */
int net_eni_init(struct net_eni *e, const char *mac, const char *subnet_gw4,
                 const char *subnet_gw6);
/* Adds a plain address with the prefix of the matching subnet gateway (IPv6 without a
 * gateway: /64). -E2BIG past NET_ENI_MAX_ADDRS. */
int net_eni_add_address(struct net_eni *e, const char *ip);
/* "ecs" + the first three MAC bytes in hex: the name an ENI gets back in the host (§6.3). */
void net_eni_host_name(const uint8_t mac[6], char buf[IFNAMSIZ]);

struct net_ipam;

struct net_awsvpc_params {
        const struct net_eni *eni;
        struct net_ns *host;     /* where the ENI appears and the bridge lives; NULL = self */
        const char *bridge_name; /* NULL = "ecs-bridge" */
        const struct net_cidr *bridge_subnet; /* NULL = 169.254.172.0/22; gateway = first host */
        const struct net_cidr *routes;        /* extra routes via the bridge gateway in the netns */
        size_t n_routes;
        struct net_ipam *ipam;   /* must use the same subnet; keyed by the ENI MAC */
        const char *eni_ifname;  /* NULL = "eth0" */
        const char *veth_ifname; /* NULL = "ecs-eth0" */
};

struct net_awsvpc_result {
        struct net_ip local_ip; /* the bridge-side task address (metadata v2 key) */
        char host_veth[IFNAMSIZ];
};

/* Moves the ENI into the task netns as eth0 with its addresses, default route(s) and the
 * IMDS blackholes when asked; creates the bridge if missing and a veth (ecs-eth0 in the
 * netns) with an IPAM address and a 169.254.170.2/32 route via the bridge gateway.
 * Re-running on a half-done namespace completes it. */
int net_awsvpc_setup(const struct net_awsvpc_params *p, int task_netns_fd,
                     struct net_awsvpc_result *ret);
/* Sets the ENI down, moves it back to the host renamed "ecs<mac[0..2]>", deletes the veth.
 * The IPAM address is kept (release it with net_ipam_release once the task stopped).
 * Succeeds when there is nothing left to undo; task_netns_fd < 0 means the namespace is
 * gone (the kernel already returned the ENI and destroyed the veth): only renames. */
int net_awsvpc_teardown(const struct net_awsvpc_params *p, int task_netns_fd);

/* ---- waiting for an ENI ---- */

struct net_link_watch;
/* Called for every RTM_NEWLINK whose MAC matches (a link's later changes too), and after a
 * notification overrun when a rescan finds it. */
typedef void (*net_link_watch_fn)(struct net_link_watch *w, int ifindex, const char *name,
                                  void *userdata);

/* Subscribes to RTNLGRP_LINK on a non-blocking socket watched by e, in netns_fd (< 0: the
 * caller's namespace). Start the watch, then call net_find_link_by_mac once: a link that
 * appeared before the subscription is not reported. */
int net_link_watch_new(sd_event *e, int netns_fd, const uint8_t mac[6], net_link_watch_fn cb,
                       void *userdata, struct net_link_watch **ret);
/* Safe from inside the watch's own callback (the memory goes when the callback returns). */
struct net_link_watch *net_link_watch_free(struct net_link_watch *w);

/* ---- bridge IPAM ---- */

#define NET_IPAM_FILE "eni-ipam.txt"

/* Loads (or starts) dir/eni-ipam.txt for subnet (NULL = 169.254.172.0/22, IPv4, prefix
 * 16..30). Unreadable lines are dropped with a warning. */
int net_ipam_open(const char *dir, const struct net_cidr *subnet, struct net_ipam **ret);
struct net_ipam *net_ipam_free(struct net_ipam *ipam);
/* The address of key (an ENI MAC) or a new one, persisted before returning. Skips the
 * network, gateway (first host) and broadcast addresses; new ones continue after the last
 * one handed out so a released address is not reused at once. -ENOSPC when full. */
int net_ipam_allocate(struct net_ipam *ipam, const char *key, struct net_ip *ret);
/* -ENOENT when key holds nothing. */
int net_ipam_lookup(struct net_ipam *ipam, const char *key, struct net_ip *ret);
int net_ipam_release(struct net_ipam *ipam, const char *key);
void net_ipam_gateway(const struct net_ipam *ipam, struct net_cidr *ret);

/* ---- host plumbing ---- */

/* A dummy link (name NULL = "ecs-agent0"; a port-less bridge where the kernel has no dummy
 * driver) carrying addr (NULL = 169.254.170.2/32), up, so local listeners on that address
 * are reachable from bridge and awsvpc containers. A link of another kind with that name is
 * -EEXIST. */
int net_host_setup_endpoint_address(struct net_ns *ns, const char *name,
                                    const struct net_cidr *addr);
/* Deletes the link only if it is a dummy (or bridge) of that name; -ENOENT otherwise. */
int net_host_remove_endpoint_address(struct net_ns *ns, const char *name);

#define NET_IMDS_RULE_PRIORITY 10
/* ip rule "iif <iif> to dst (NULL = 169.254.169.254/32) blackhole" at priority: forwarded
 * traffic from that bridge to IMDS is dropped, the host's own is not. Idempotent. */
int net_host_block_imds_from(struct net_ns *ns, const char *iif, const struct net_cidr *dst,
                             uint32_t priority);
/* Removes only a rule with exactly those attributes; -ENOENT if none. */
int net_host_unblock_imds_from(struct net_ns *ns, const char *iif, const struct net_cidr *dst,
                               uint32_t priority);

/* ---- resolv.conf / hosts for the task ---- */

/* "nameserver" lines (at most 3 used, as glibc) and one "search" line. Entries with blanks
 * or control characters are -EINVAL. */
int net_render_resolv_conf(char *const *servers, char *const *search, char **ret);
/* localhost lines plus "<ip> <hostname>" for each address (hostname may be NULL). */
int net_render_hosts(const char *hostname, char *const *ips, char **ret);

/* The cgroup (as /proc/<pid>/cgroup names it: the v2 path, else the v1 memory controller's) of
 * the process holding the client end of the TCP connection peer_ip:peer_port ->
 * local_ip:local_port on this host. -ENOENT when the kernel knows no such socket, -ESRCH when
 * no process holds it (it closed meanwhile). IPv4 only. */
int net_socket_owner_cgroup(const char *peer_ip, uint16_t peer_port, const char *local_ip,
                            uint16_t local_port, char **ret_cgroup);
