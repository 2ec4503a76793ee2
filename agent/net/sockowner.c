/* Which cgroup a loopback client belongs to: the credentials endpoint's proof that a caller on
 * the host network is a process of the task owning the credentials. The kernel names the
 * client's socket (sock_diag: the TCP socket from peer to local, its inode), /proc names the
 * process holding that inode, and /proc/<pid>/cgroup its cgroup. Local reads only, bounded by
 * the processes on the host; nothing waits on the network. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ecs/net.h"
#include "ecs/strbuf.h"

/* The inode of the TCP socket whose local end is src and remote end dst. */
static int tcp_socket_inode(const struct in_addr *src, uint16_t sport, const struct in_addr *dst,
                            uint16_t dport, uint64_t *ret)
{
        struct {
                struct nlmsghdr nh;
                struct inet_diag_req_v2 req;
        } msg = {
            .nh = {.nlmsg_len = sizeof(msg),
                   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                   .nlmsg_flags = NLM_F_REQUEST,
                   .nlmsg_seq = 1},
            .req = {.sdiag_family = AF_INET,
                    .sdiag_protocol = IPPROTO_TCP,
                    .idiag_states = ~0U,
                    .id = {.idiag_sport = htons(sport),
                           .idiag_dport = htons(dport),
                           .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
        };
        char buf[8192];
        int fd, r = -ENOENT;

        memcpy(msg.req.id.idiag_src, src, sizeof(*src));
        memcpy(msg.req.id.idiag_dst, dst, sizeof(*dst));
        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        struct timeval tv = {.tv_sec = 1};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (send(fd, &msg, sizeof(msg), 0) < 0) {
                r = -errno;
                goto finish;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
                r = -errno;
                goto finish;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(h);
                        r = e->error ? e->error : -ENOENT;
                        break;
                }
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                        continue;
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                if (m->idiag_inode == 0)
                        continue;
                *ret = m->idiag_inode;
                r = 0;
                break;
        }
finish:
        close(fd);
        return r;
}

/* Whether process pid holds a descriptor for socket inode. */
static bool pid_holds_socket(const char *pid, const char *want)
{
        char path[300], target[64];
        DIR *d;
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%s/fd", pid);
        d = opendir(path);
        if (!d)
                return false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (k <= 0)
                        continue;
                target[k] = 0;
                found = streq(target, want);
        }
        closedir(d);
        return found;
}

/* The cgroup path of pid as /proc/<pid>/cgroup gives it: the v2 entry, else the v1 memory
 * controller's (task cgroups always have that controller). */
static int pid_cgroup(const char *pid, char **ret)
{
        _cleanup_free_ char *data = NULL;
        char path[300];
        const char *best = NULL;
        size_t best_len = 0;
        int r;

        snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
        r = read_file_full(path, 64 * 1024, &data, NULL);
        if (r < 0)
                return r;
        for (char *line = data; line && *line;) {
                char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                /* "hierarchy-id:controllers:path" */
                char *c1 = memchr(line, ':', len);
                char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
                if (c2) {
                        size_t clen = (size_t)(c2 - c1 - 1);
                        bool v2 = clen == 0,
                             memory = clen == 6 && strncmp(c1 + 1, "memory", 6) == 0;
                        if (memory || (v2 && !best)) {
                                best = c2 + 1;
                                best_len = len - (size_t)(c2 + 1 - line);
                        }
                }
                line = eol ? eol + 1 : NULL;
        }
        if (!best)
                return -ENOENT;
        *ret = strndup(best, best_len);
        return *ret ? 0 : -ENOMEM;
}

int net_socket_owner_cgroup(const char *peer_ip, uint16_t peer_port, const char *local_ip,
                            uint16_t local_port, char **ret_cgroup)
{
        struct in_addr peer, local;
        uint64_t inode = 0;
        char want[48];
        DIR *proc;
        int r;

        if (inet_pton(AF_INET, peer_ip, &peer) != 1 || inet_pton(AF_INET, local_ip, &local) != 1)
                return -EAFNOSUPPORT;
        /* The client's socket: its local end is the peer we see. */
        r = tcp_socket_inode(&peer, peer_port, &local, local_port, &inode);
        if (r < 0)
                return r;
        snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)inode);
        proc = opendir("/proc");
        if (!proc)
                return -errno;
        r = -ESRCH;
        for (struct dirent *de; (de = readdir(proc));) {
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                if (!pid_holds_socket(de->d_name, want))
                        continue;
                r = pid_cgroup(de->d_name, ret_cgroup);
                break;
        }
        closedir(proc);
        return r;
}
