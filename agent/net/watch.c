/* Waiting for a link with a given MAC: RTNLGRP_LINK notifications on a non-blocking netlink
 * socket that sd-event watches, so the engine waits with a timer and no polling. */
#include <linux/rtnetlink.h>
#include <sys/epoll.h>

#include <netlink/msg.h>

#include "ecs/log.h"
#include "net-internal.h"

struct net_link_watch {
        struct nl_sock *sock;
        sd_event_source *source;
        struct net_ns *ns; /* for the rescan after an overrun; NULL = ours */
        uint8_t mac[6];
        net_link_watch_fn cb;
        void *userdata;
        bool dispatching; /* inside on_io: a free from the callback is deferred */
        bool freed;
};

static void watch_destroy(struct net_link_watch *w)
{
        sd_event_source_disable_unref(w->source);
        nl_socket_free(w->sock);
        net_ns_free(w->ns);
        free(w);
}

static int on_valid(struct nl_msg *msg, void *arg)
{
        struct net_link_watch *w = arg;
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct nlattr *tb[IFLA_MAX + 1];
        struct ifinfomsg *ifi;
        char name[IFNAMSIZ] = "";

        if (w->freed)
                return NL_STOP;
        if (h->nlmsg_type != RTM_NEWLINK)
                return NL_OK;
        if (nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
                return NL_OK;
        ifi = nlmsg_data(h);
        if (!tb[IFLA_ADDRESS] || nla_len(tb[IFLA_ADDRESS]) != 6 ||
            memcmp(nla_data(tb[IFLA_ADDRESS]), w->mac, 6) != 0)
                return NL_OK;
        if (tb[IFLA_IFNAME])
                nla_strlcpy(name, tb[IFLA_IFNAME], sizeof(name));
        w->cb(w, ifi->ifi_index, name, w->userdata);
        return NL_OK;
}

static void rescan(struct net_link_watch *w)
{
        char name[IFNAMSIZ];
        int ifindex;

        if (net_find_link_by_mac(w->ns, w->mac, &ifindex, name) >= 0)
                w->cb(w, ifindex, name, w->userdata);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct net_link_watch *w = userdata;
        int r;

        /* One datagram per call; sd-event calls again while more are queued. */
        w->dispatching = true;
        r = nl_recvmsgs_default(w->sock);
        if (r == -NLE_NOMEM && !w->freed) {
                /* ENOBUFS: notifications were dropped; the link may have come then. */
                log_debug("link watch: notifications lost, rescanning");
                rescan(w);
        } else if (r < 0 && r != -NLE_AGAIN && !w->freed)
                log_debug("link watch: receive failed: %s", nl_geterror(r));
        w->dispatching = false;
        if (w->freed)
                watch_destroy(w);
        return 0;
}

struct watch_open {
        struct nl_sock *sock;
};

static int watch_socket(void *userdata)
{
        struct watch_open *o = userdata;
        int r;

        o->sock = nl_socket_alloc();
        if (!o->sock)
                return -ENOMEM;
        nl_socket_disable_seq_check(o->sock);
        r = nl_connect(o->sock, NETLINK_ROUTE);
        if (r >= 0)
                r = nl_socket_add_membership(o->sock, RTNLGRP_LINK);
        if (r >= 0)
                r = nl_socket_set_nonblocking(o->sock);
        if (r < 0) {
                o->sock = (nl_socket_free(o->sock), NULL);
                return net_nlerr(r);
        }
        return 0;
}

int net_link_watch_new(sd_event *e, int netns_fd, const uint8_t mac[6], net_link_watch_fn cb,
                       void *userdata, struct net_link_watch **ret)
{
        struct net_link_watch *w;
        struct watch_open o = {};
        int r;

        if (!e || !mac || !cb || !ret)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        memcpy(w->mac, mac, 6);
        w->cb = cb;
        w->userdata = userdata;
        if (netns_fd >= 0) {
                r = net_ns_open(netns_fd, &w->ns);
                if (r >= 0)
                        r = net_run_in_netns(netns_fd, watch_socket, &o);
        } else
                r = watch_socket(&o);
        if (r < 0)
                goto fail;
        w->sock = o.sock;
        r = nl_socket_modify_cb(w->sock, NL_CB_VALID, NL_CB_CUSTOM, on_valid, w);
        if (r < 0) {
                r = net_nlerr(r);
                goto fail;
        }
        r = sd_event_add_io(e, &w->source, nl_socket_get_fd(w->sock), EPOLLIN, on_io, w);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        net_link_watch_free(w);
        return r;
}

struct net_link_watch *net_link_watch_free(struct net_link_watch *w)
{
        if (!w)
                return NULL;
        if (w->dispatching) {
                /* Called from its own callback: libnl is still reading from the socket. */
                w->freed = true;
                (void)sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
                return NULL;
        }
        watch_destroy(w);
        return NULL;
}
