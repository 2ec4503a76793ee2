/* Private to agent/net: the namespace handle and libnl glue. */
#pragma once

/* ecs/net.h pulls in <net/if.h>, which must come before the <linux/if.h> of libnl. */
#include "ecs/macro.h"
#include "ecs/net.h"

#include <netlink/netlink.h>
#include <netlink/route/link.h>

struct net_ns {
        int fd;               /* the namespace, O_CLOEXEC */
        struct nl_sock *sock; /* NETLINK_ROUTE, opened inside that namespace */
};

/* libnl returns -NLE_*; everything above this module speaks negative errno. */
int net_nlerr(int nlerr);

/* Runs fn(userdata) on a short-lived thread that first joins netns_fd, and waits for it.
 * fn must only create things (sockets): they keep their namespace afterwards. */
int net_run_in_netns(int netns_fd, int (*fn)(void *userdata), void *userdata);

/* ns, or a handle on the caller's namespace stored in *tmp (freed by the caller). */
int net_ns_resolve(struct net_ns *ns, struct net_ns **tmp, struct net_ns **ret);

struct nl_addr *net_ip_to_nl(const struct net_ip *ip, uint8_t prefixlen);
struct nl_addr *net_cidr_to_nl(const struct net_cidr *c);
/* The network (host bits cleared) of c; and its first host (the gateway). */
void net_cidr_network(const struct net_cidr *c, struct net_cidr *ret);

/* Creates a link of a simple kind (bridge, dummy) unless one of that kind exists; a link of
 * another kind with that name is -EEXIST. */
int net_link_ensure_kind(struct net_ns *ns, const char *name, const char *kind, int *ret_ifindex);
/* Deletes name only if it is a link of that kind (-ENOENT otherwise). */
int net_link_remove_kind(struct net_ns *ns, const char *name, const char *kind);
int net_link_get_flags(struct net_ns *ns, int ifindex, unsigned *ret_flags);
/* Kind of a link by name ("veth", "bridge", "" for physical devices). */
int net_link_get_kind(struct net_ns *ns, const char *name, char *buf, size_t n);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct net_ns *, net_ns_free);
