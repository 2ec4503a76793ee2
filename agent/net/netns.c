/* Namespace handles: a netlink socket opened inside the target namespace by a helper
 * thread, so the loop thread itself never calls setns(). */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#include <netlink/errno.h>

#include "net-internal.h"

int net_nlerr(int nlerr)
{
        static const int map[] = {
            [NLE_SUCCESS] = 0,
            [NLE_INTR] = EINTR,
            [NLE_BAD_SOCK] = EBADF,
            [NLE_AGAIN] = EAGAIN,
            [NLE_NOMEM] = ENOMEM,
            [NLE_EXIST] = EEXIST,
            [NLE_INVAL] = EINVAL,
            [NLE_RANGE] = ERANGE,
            [NLE_MSGSIZE] = EMSGSIZE,
            [NLE_OPNOTSUPP] = EOPNOTSUPP,
            [NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
            [NLE_OBJ_NOTFOUND] = ENOENT,
            [NLE_NOATTR] = ENODATA,
            [NLE_MISSING_ATTR] = EINVAL,
            [NLE_AF_MISMATCH] = EAFNOSUPPORT,
            [NLE_SEQ_MISMATCH] = EILSEQ,
            [NLE_MSG_OVERFLOW] = EOVERFLOW,
            [NLE_MSG_TRUNC] = EMSGSIZE,
            [NLE_NOADDR] = EADDRNOTAVAIL,
            [NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
            [NLE_MSG_TOOSHORT] = EBADMSG,
            [NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
            [NLE_OBJ_MISMATCH] = EINVAL,
            [NLE_NOCACHE] = ENOENT,
            [NLE_BUSY] = EBUSY,
            [NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
            [NLE_NOACCESS] = EACCES,
            [NLE_PERM] = EPERM,
            [NLE_PKTLOC_FILE] = ENOENT,
            [NLE_PARSE_ERR] = EBADMSG,
            [NLE_NODEV] = ENODEV,
            [NLE_IMMUTABLE] = EPERM,
            [NLE_DUMP_INTR] = EINTR,
            [NLE_ATTRSIZE] = EMSGSIZE,
        };
        int e = nlerr < 0 ? -nlerr : nlerr;

        if (e == 0)
                return 0;
        if ((size_t)e < ELEMENTSOF(map) && map[e] != 0)
                return -map[e];
        return -EIO;
}

struct ns_thread {
        int netns_fd;
        int (*fn)(void *userdata);
        void *userdata;
        int r;
};

static void *ns_thread_main(void *p)
{
        struct ns_thread *t = p;

        /* Only this thread changes namespace, and it ends right after. */
        if (setns(t->netns_fd, CLONE_NEWNET) < 0)
                t->r = -errno;
        else
                t->r = t->fn(t->userdata);
        return NULL;
}

int net_run_in_netns(int netns_fd, int (*fn)(void *userdata), void *userdata)
{
        struct ns_thread t = {.netns_fd = netns_fd, .fn = fn, .userdata = userdata};
        pthread_t tid;
        int r;

        if (netns_fd < 0 || !fn)
                return -EBADF;
        r = pthread_create(&tid, NULL, ns_thread_main, &t);
        if (r != 0)
                return -r;
        r = pthread_join(tid, NULL);
        if (r != 0)
                return -r;
        return t.r;
}

static int nl_route_socket(struct nl_sock **ret)
{
        _cleanup_(nl_socket_freep) struct nl_sock *sock = nl_socket_alloc();
        int r;

        if (!sock)
                return -ENOMEM;
        r = nl_connect(sock, NETLINK_ROUTE);
        if (r < 0)
                return net_nlerr(r);
        /* The kernel answers at once; a lost answer must not hang the loop forever. */
        struct timeval tv = {.tv_sec = 5};
        (void)setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        *ret = TAKE_PTR(sock);
        return 0;
}

static int open_sock_fn(void *userdata)
{
        return nl_route_socket(userdata);
}

static int ns_new(int fd, bool self, struct net_ns **ret)
{
        _cleanup_(net_ns_freep) struct net_ns *ns = NULL;
        int r;

        ns = calloc(1, sizeof(*ns));
        if (!ns) {
                safe_close(fd);
                return -ENOMEM;
        }
        ns->fd = fd;
        if (self)
                r = nl_route_socket(&ns->sock);
        else
                r = net_run_in_netns(ns->fd, open_sock_fn, &ns->sock);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ns);
        return 0;
}

int net_ns_open(int netns_fd, struct net_ns **ret)
{
        int fd;

        if (netns_fd < 0 || !ret)
                return -EBADF;
        fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        return ns_new(fd, false, ret);
}

int net_ns_open_self(struct net_ns **ret)
{
        int fd;

        if (!ret)
                return -EINVAL;
        fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return ns_new(fd, true, ret);
}

int net_ns_open_path(const char *path, struct net_ns **ret)
{
        int fd;

        if (isempty(path) || !ret)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return ns_new(fd, false, ret);
}

struct net_ns *net_ns_free(struct net_ns *ns)
{
        if (!ns)
                return NULL;
        nl_socket_free(ns->sock);
        safe_close(ns->fd);
        return mfree(ns);
}

int net_ns_fd(const struct net_ns *ns)
{
        return ns ? ns->fd : -EBADF;
}

int net_ns_resolve(struct net_ns *ns, struct net_ns **tmp, struct net_ns **ret)
{
        int r;

        if (ns) {
                *ret = ns;
                return 0;
        }
        r = net_ns_open_self(tmp);
        if (r < 0)
                return r;
        *ret = *tmp;
        return 0;
}

struct sock_args {
        int domain, type, protocol;
        int fd;
};

static int sock_fn(void *userdata)
{
        struct sock_args *a = userdata;

        a->fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);
        return a->fd < 0 ? -errno : 0;
}

int net_ns_socket(int netns_fd, int domain, int type, int protocol)
{
        struct sock_args a = {.domain = domain, .type = type, .protocol = protocol, .fd = -EBADF};
        int r;

        r = net_run_in_netns(netns_fd, sock_fn, &a);
        if (r < 0)
                return r;
        return a.fd;
}
