/* The net module against the real kernel, as root, only inside namespaces and links this
 * test creates (names carry a per-run suffix: ecsnet-test-<sfx>-*, ecst<sfx>*, ecstbr<sfx>).
 *
 * awsvpc: a "subnet" netns holds the VPC gateway end of a veth whose other end (in the root
 * netns, with a chosen MAC) plays the ENI; a "task" netns stands in for the pause
 * container's. After net_awsvpc_setup, `ip -j` must show eth0/ecs-eth0 with their addresses
 * and routes, TCP must reach the gateway and the bridge, IMDS must fail at once; after
 * net_awsvpc_teardown the ENI is back in the root netns, down, renamed ecs<mac[0..2]>, and
 * the veth is gone. Also: the late-ENI watcher on an sd-event loop, the endpoint dummy link
 * and the IMDS ip rule (both in a test netns). Everything is removed in teardown, also after
 * a failed assertion. Skipped when not root or without iproute2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "ecs/macro.h"
#include "ecs/net.h"

static char sfx[8];        /* 4 hex digits */
static unsigned subnet_n;  /* 10.99.<n>.0/24 */
static unsigned bridge_n;  /* 169.254.<n>.0/24 */
static uint8_t eni_mac[6]; /* 0e:..:..:..:..:.. */
static char ns_sub[64], ns_task[64], ns_host[64];
static char eni_link[IFNAMSIZ], gw_link[IFNAMSIZ], bridge[IFNAMSIZ], eni_back[IFNAMSIZ];
static char ipam_dir[64];

static _printf_(1, 2) int sh(const char *fmt, ...)
{
        char cmd[1024];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
        r = system(cmd);
        return r == 0 ? 0 : -1;
}

/* Runs an `ip -j` command and parses its JSON (NULL when it failed). */
static _printf_(1, 2) json_object *ipj(const char *fmt, ...)
{
        char cmd[1024], buf[65536];
        size_t n = 0;
        va_list ap;
        FILE *f;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        strncat(cmd, " 2>/dev/null", sizeof(cmd) - strlen(cmd) - 1);
        f = popen(cmd, "r");
        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        if (pclose(f) != 0)
                return NULL;
        buf[n] = '\0';
        return json_tokener_parse(buf);
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* The route in an `ip -j route` array with that dst (and type, if given). */
static json_object *find_route(json_object *routes, const char *dst, const char *type)
{
        for (size_t i = 0; routes && i < json_object_array_length(routes); i++) {
                json_object *r = json_object_array_get_idx(routes, i);
                if (streq_ptr(jstr(r, "dst"), dst) && (!type || streq_ptr(jstr(r, "type"), type)))
                        return r;
        }
        return NULL;
}

static bool has_addr(json_object *link, const char *local, int prefixlen)
{
        json_object *ai;
        if (!json_object_object_get_ex(link, "addr_info", &ai))
                return false;
        for (size_t i = 0; i < json_object_array_length(ai); i++) {
                json_object *a = json_object_array_get_idx(ai, i), *p;
                if (streq_ptr(jstr(a, "local"), local) &&
                    json_object_object_get_ex(a, "prefixlen", &p) &&
                    json_object_get_int(p) == prefixlen)
                        return true;
        }
        return false;
}

static void cleanup_all(void)
{
        (void)sh("ip netns del %s", ns_task);
        (void)sh("ip netns del %s", ns_sub);
        (void)sh("ip netns del %s", ns_host);
        (void)sh("ip link del %s", eni_link);
        (void)sh("ip link del %s", eni_back);
        (void)sh("ip link del ecst%sw", sfx);
        (void)sh("ip link del %s type bridge", bridge);
        (void)sh("rm -rf '%s'", ipam_dir);
}

static int group_setup(void **state)
{
        uint8_t rnd[8];

        if (geteuid() != 0 || sh("ip -V") < 0)
                return 0; /* every test skips */
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -1;
        snprintf(sfx, sizeof(sfx), "%02x%02x", rnd[0], rnd[1]);
        subnet_n = 1 + rnd[2] % 254;
        bridge_n = 200 + rnd[3] % 50;
        eni_mac[0] = 0x0e;
        memcpy(eni_mac + 1, rnd + 3, 5);
        snprintf(ns_sub, sizeof(ns_sub), "ecsnet-test-%s-sub", sfx);
        snprintf(ns_task, sizeof(ns_task), "ecsnet-test-%s-task", sfx);
        snprintf(ns_host, sizeof(ns_host), "ecsnet-test-%s-host", sfx);
        snprintf(eni_link, sizeof(eni_link), "ecst%se", sfx);
        snprintf(gw_link, sizeof(gw_link), "ecst%sg", sfx);
        snprintf(bridge, sizeof(bridge), "ecstbr%s", sfx);
        net_eni_host_name(eni_mac, eni_back);
        /* Never reuse a name that exists already: it is not ours. */
        if (sh("ip link show %s", eni_back) == 0 || sh("ip link show %s", bridge) == 0)
                return -1;
        snprintf(ipam_dir, sizeof(ipam_dir), "/tmp/ecs-test-netlive-XXXXXX");
        if (!mkdtemp(ipam_dir))
                return -1;
        return 0;
}

static int group_teardown(void **state)
{
        if (sfx[0])
                cleanup_all();
        return 0;
}

static void require_root(void)
{
        if (!sfx[0])
                skip();
}

/* ---- sockets inside namespaces ---- */

static int ns_fd_of(const char *name)
{
        char path[128];
        snprintf(path, sizeof(path), "/run/netns/%s", name);
        return open(path, O_RDONLY | O_CLOEXEC);
}

static int listener(int netns_fd, const char *ip, uint16_t *ret_port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd = netns_fd >= 0 ? net_ns_socket(netns_fd, AF_INET, SOCK_STREAM, 0)
                               : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* connect() from a socket in netns_fd; returns 0 or -errno. */
static int connect_from(int netns_fd, const char *ip, uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        struct timeval tv = {.tv_sec = 2};
        _cleanup_close_ int fd = net_ns_socket(netns_fd, AF_INET, SOCK_STREAM, 0);

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
        return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

/* ---- awsvpc ---- */

static void make_subnet(void)
{
        char mac[NET_MAC_STRLEN];

        net_mac_format(eni_mac, mac);
        assert_int_equal(sh("ip netns add %s", ns_sub), 0);
        assert_int_equal(sh("ip netns add %s", ns_task), 0);
        assert_int_equal(sh("ip link add %s address %s type veth peer name %s netns %s", eni_link,
                            mac, gw_link, ns_sub),
                         0);
        assert_int_equal(sh("ip -n %s addr add 10.99.%u.1/24 dev %s", ns_sub, subnet_n, gw_link),
                         0);
        assert_int_equal(
            sh("ip -n %s addr add fd99:%x::1/64 dev %s nodad", ns_sub, subnet_n, gw_link), 0);
        assert_int_equal(sh("ip -n %s link set %s up", ns_sub, gw_link), 0);
}

static void check_task_netns(const struct net_awsvpc_result *res)
{
        char mac[NET_MAC_STRLEN], ip[64], gw[64], local[NET_IP_STRLEN];
        json_object *j, *r;

        net_mac_format(eni_mac, mac);
        snprintf(ip, sizeof(ip), "10.99.%u.57", subnet_n);
        snprintf(gw, sizeof(gw), "10.99.%u.1", subnet_n);

        j = ipj("ip -n %s -j addr show dev eth0", ns_task);
        assert_non_null(j);
        r = json_object_array_get_idx(j, 0);
        assert_string_equal(jstr(r, "address"), mac);
        assert_string_equal(jstr(r, "operstate"), "UP");
        assert_true(has_addr(r, ip, 24));
        snprintf(ip, sizeof(ip), "fd99:%x::57", subnet_n);
        assert_true(has_addr(r, ip, 64));
        json_object_put(j);

        j = ipj("ip -n %s -j addr show dev ecs-eth0", ns_task);
        assert_non_null(j);
        assert_int_equal(net_ip_format(&res->local_ip, local, sizeof(local)), 0);
        assert_true(has_addr(json_object_array_get_idx(j, 0), local, 24));
        json_object_put(j);

        j = ipj("ip -n %s -j route show", ns_task);
        assert_non_null(j);
        r = find_route(j, "default", NULL);
        assert_non_null(r);
        assert_string_equal(jstr(r, "gateway"), gw);
        assert_string_equal(jstr(r, "dev"), "eth0");
        assert_non_null(find_route(j, "169.254.169.254", "blackhole"));
        r = find_route(j, "169.254.170.2", NULL);
        assert_non_null(r);
        snprintf(gw, sizeof(gw), "169.254.%u.1", bridge_n);
        assert_string_equal(jstr(r, "gateway"), gw);
        assert_string_equal(jstr(r, "dev"), "ecs-eth0");
        r = find_route(j, "10.123.0.0/16", NULL); /* the additional local route */
        assert_non_null(r);
        assert_string_equal(jstr(r, "gateway"), gw);
        json_object_put(j);

        j = ipj("ip -n %s -6 -j route show", ns_task);
        assert_non_null(j);
        assert_non_null(find_route(j, "fd00:ec2::254", "blackhole"));
        r = find_route(j, "default", NULL);
        assert_non_null(r);
        snprintf(gw, sizeof(gw), "fd99:%x::1", subnet_n);
        assert_string_equal(jstr(r, "gateway"), gw);
        json_object_put(j);

        /* Host side: the ENI left, the veth host end hangs on the bridge. */
        assert_int_not_equal(sh("ip link show %s", eni_link), 0);
        j = ipj("ip -j link show master %s", bridge);
        assert_non_null(j);
        assert_int_equal(json_object_array_length(j), 1);
        assert_string_equal(jstr(json_object_array_get_idx(j, 0), "ifname"), res->host_veth);
        json_object_put(j);
}

static void check_traffic(int task_fd)
{
        char gw[64];
        uint16_t port;
        int l, r;

        /* Through the ENI to the VPC gateway. */
        snprintf(gw, sizeof(gw), "10.99.%u.1", subnet_n);
        _cleanup_close_ int sub_fd = ns_fd_of(ns_sub);
        assert_true(sub_fd >= 0);
        l = listener(sub_fd, gw, &port);
        r = connect_from(task_fd, gw, port);
        safe_close(l);
        assert_int_equal(r, 0);

        /* Through ecs-eth0 and the bridge to a listener on the bridge gateway. */
        snprintf(gw, sizeof(gw), "169.254.%u.1", bridge_n);
        l = listener(-1, gw, &port);
        r = connect_from(task_fd, gw, port);
        safe_close(l);
        assert_int_equal(r, 0);

        /* IMDS: the blackhole route fails the connect at once, no SYN goes out. */
        r = connect_from(task_fd, NET_IMDS_IPV4, 80);
        assert_int_equal(r, -EINVAL); /* RTN_BLACKHOLE on output */
}

static void test_awsvpc(void **state)
{
        struct net_ipam *ipam = NULL;
        struct net_awsvpc_result res = {}, again = {};
        struct net_cidr bsub, extra;
        struct net_eni eni;
        char mac[NET_MAC_STRLEN], gw4[64], gw6[64], buf[64];
        int task_fd;
        json_object *j;

        require_root();
        make_subnet();
        net_mac_format(eni_mac, mac);
        snprintf(gw4, sizeof(gw4), "10.99.%u.1/24", subnet_n);
        snprintf(gw6, sizeof(gw6), "fd99:%x::1/64", subnet_n);
        assert_int_equal(net_eni_init(&eni, mac, gw4, gw6), 0);
        snprintf(buf, sizeof(buf), "10.99.%u.57", subnet_n);
        assert_int_equal(net_eni_add_address(&eni, buf), 0);
        snprintf(buf, sizeof(buf), "fd99:%x::57", subnet_n);
        assert_int_equal(net_eni_add_address(&eni, buf), 0);
        eni.block_imds = true;

        snprintf(buf, sizeof(buf), "169.254.%u.0/24", bridge_n);
        assert_int_equal(net_cidr_parse(buf, &bsub), 0);
        assert_int_equal(net_cidr_parse("10.123.0.0/16", &extra), 0);
        assert_int_equal(net_ipam_open(ipam_dir, &bsub, &ipam), 0);
        struct net_awsvpc_params p = {
            .eni = &eni,
            .bridge_name = bridge,
            .bridge_subnet = &bsub,
            .routes = &extra,
            .n_routes = 1,
            .ipam = ipam,
        };

        task_fd = ns_fd_of(ns_task);
        assert_true(task_fd >= 0);
        assert_int_equal(net_awsvpc_setup(&p, task_fd, &res), 0);
        assert_int_equal(res.local_ip.family, AF_INET);
        assert_int_equal(ntohl(res.local_ip.in.s_addr) >> 8, (169u << 16) | (254u << 8) | bridge_n);
        check_task_netns(&res);

        /* Running it again changes nothing and returns the same address. */
        assert_int_equal(net_awsvpc_setup(&p, task_fd, &again), 0);
        assert_true(net_ip_equal(&res.local_ip, &again.local_ip));
        check_task_netns(&res);
        check_traffic(task_fd);

        assert_int_equal(net_awsvpc_teardown(&p, task_fd), 0);
        /* The ENI is back in the root netns, down, named per §6.3, same MAC. */
        j = ipj("ip -j link show %s", eni_back);
        assert_non_null(j);
        assert_string_equal(jstr(json_object_array_get_idx(j, 0), "address"), mac);
        assert_string_equal(jstr(json_object_array_get_idx(j, 0), "operstate"), "DOWN");
        json_object_put(j);
        /* Nothing left in the task netns but lo; the host veth end is gone too. */
        j = ipj("ip -n %s -j link show", ns_task);
        assert_non_null(j);
        assert_int_equal(json_object_array_length(j), 1);
        assert_string_equal(jstr(json_object_array_get_idx(j, 0), "ifname"), "lo");
        json_object_put(j);
        assert_int_not_equal(sh("ip link show %s", res.host_veth), 0);
        /* Teardown twice is fine. */
        assert_int_equal(net_awsvpc_teardown(&p, task_fd), 0);

        assert_int_equal(net_ipam_release(ipam, mac), 0);
        assert_int_equal(net_bridge_remove(NULL, bridge), 0);
        assert_int_not_equal(sh("ip link show %s", bridge), 0);
        assert_int_equal(net_bridge_remove(NULL, bridge), -ENOENT);
        net_ipam_free(ipam);
        close(task_fd);
        cleanup_all();
}

static void test_awsvpc_missing_eni(void **state)
{
        struct net_ipam *ipam = NULL;
        struct net_awsvpc_result res = {};
        struct net_eni eni;
        int task_fd;

        require_root();
        assert_int_equal(sh("ip netns add %s", ns_task), 0);
        assert_int_equal(net_eni_init(&eni, "0e:00:5e:00:53:ff", "10.99.0.1/24", NULL), 0);
        assert_int_equal(net_eni_add_address(&eni, "10.99.0.5"), 0);
        assert_int_equal(net_ipam_open(ipam_dir, NULL, &ipam), 0);
        struct net_awsvpc_params p = {.eni = &eni, .bridge_name = bridge, .ipam = ipam};
        task_fd = ns_fd_of(ns_task);
        assert_true(task_fd >= 0);
        /* No link with that MAC: nothing is created, not even the bridge. */
        assert_int_equal(net_awsvpc_setup(&p, task_fd, &res), -ENOENT);
        assert_int_not_equal(sh("ip link show %s", bridge), 0);
        close(task_fd);
        net_ipam_free(ipam);
        cleanup_all();
}

/* ---- late ENI ---- */

struct seen {
        int ifindex;
        char name[IFNAMSIZ];
        int calls;
};

static void on_link(struct net_link_watch *w, int ifindex, const char *name, void *userdata)
{
        struct seen *s = userdata;
        s->ifindex = ifindex;
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->calls++;
}

static void watch_once(const char *netns /* NULL = root */)
{
        sd_event *e = NULL;
        struct net_link_watch *w = NULL;
        struct seen seen = {};
        uint8_t mac[6];
        char smac[NET_MAC_STRLEN], name[IFNAMSIZ], ipn[80] = "";
        _cleanup_close_ int fd = -EBADF;

        memcpy(mac, eni_mac, 6);
        mac[5] ^= 0x5a;
        net_mac_format(mac, smac);
        snprintf(name, sizeof(name), "ecst%sw", sfx);
        if (netns) {
                snprintf(ipn, sizeof(ipn), "-n %s", netns);
                fd = ns_fd_of(netns);
                assert_true(fd >= 0);
        }
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(net_link_watch_new(e, fd, mac, on_link, &seen, &w), 0);
        assert_int_equal(net_find_link_by_mac(NULL, mac, NULL, NULL), -ENOENT);
        assert_int_equal(
            sh("ip %s link add %s address %s type veth peer name ecst%sx", ipn, name, smac, sfx),
            0);
        for (int i = 0; i < 40 && seen.calls == 0; i++)
                assert_true(sd_event_run(e, 50 * 1000) >= 0);
        net_link_watch_free(w);
        sd_event_unref(e);
        (void)sh("ip %s link del %s", ipn, name);
        assert_true(seen.calls > 0);
        assert_string_equal(seen.name, name);
        assert_true(seen.ifindex > 0);
}

static void test_link_watch(void **state)
{
        require_root();
        watch_once(NULL);
        assert_int_equal(sh("ip netns add %s", ns_host), 0);
        watch_once(ns_host);
        cleanup_all();
}

/* ---- host plumbing, in a netns of the test's own ---- */

static void test_host_plumbing(void **state)
{
        struct net_ns *ns = NULL;
        struct net_cidr addr;
        char dummy[IFNAMSIZ], iif[IFNAMSIZ], other[IFNAMSIZ];
        json_object *j, *r;
        size_t ours = 0;
        const uint32_t prio = 1234;

        require_root();
        snprintf(dummy, sizeof(dummy), "ecst%sd", sfx);
        snprintf(iif, sizeof(iif), "ecst%sb", sfx);
        snprintf(other, sizeof(other), "ecst%so", sfx);
        assert_int_equal(sh("ip netns add %s", ns_host), 0);
        {
                char path[128];
                snprintf(path, sizeof(path), "/run/netns/%s", ns_host);
                assert_int_equal(net_ns_open_path(path, &ns), 0);
        }

        assert_int_equal(net_cidr_parse(NET_ENDPOINT_IPV4 "/32", &addr), 0);
        assert_int_equal(net_host_setup_endpoint_address(ns, dummy, &addr), 0);
        assert_int_equal(net_host_setup_endpoint_address(ns, dummy, &addr), 0);
        j = ipj("ip -n %s -d -j addr show dev %s", ns_host, dummy);
        assert_non_null(j);
        r = json_object_array_get_idx(j, 0);
        assert_true(has_addr(r, NET_ENDPOINT_IPV4, 32));
        {
                /* dummy, or a bridge on kernels without the dummy driver */
                json_object *li;
                assert_true(json_object_object_get_ex(r, "linkinfo", &li));
                assert_true(streq_ptr(jstr(li, "info_kind"), "dummy") ||
                            streq_ptr(jstr(li, "info_kind"), "bridge"));
        }
        json_object_put(j);

        /* Reachable from a "container" netns routed through the host netns, like a bridge
         * container's traffic: the host delivers locally to its own address. */
        {
                _cleanup_close_ int hfd = ns_fd_of(ns_host), cfd = -EBADF;
                uint16_t port;
                int l, rc;

                assert_int_equal(sh("ip netns add %s", ns_sub), 0);
                assert_int_equal(sh("ip -n %s link add ecst%sc type veth peer name ecst%sk "
                                    "netns %s",
                                    ns_host, sfx, sfx, ns_sub),
                                 0);
                assert_int_equal(
                    sh("ip -n %s addr add 10.98.%u.1/24 dev ecst%sc", ns_host, subnet_n, sfx), 0);
                assert_int_equal(sh("ip -n %s link set ecst%sc up", ns_host, sfx), 0);
                assert_int_equal(
                    sh("ip -n %s addr add 10.98.%u.2/24 dev ecst%sk", ns_sub, subnet_n, sfx), 0);
                assert_int_equal(sh("ip -n %s link set ecst%sk up", ns_sub, sfx), 0);
                assert_int_equal(sh("ip -n %s route add default via 10.98.%u.1", ns_sub, subnet_n),
                                 0);
                cfd = ns_fd_of(ns_sub);
                assert_true(hfd >= 0 && cfd >= 0);
                l = listener(hfd, NET_ENDPOINT_IPV4, &port);
                rc = connect_from(cfd, NET_ENDPOINT_IPV4, port);
                safe_close(l);
                assert_int_equal(rc, 0);
        }

        /* A link of another kind under the name is neither adopted nor removed. */
        assert_int_equal(sh("ip -n %s link add %s type veth peer name %sp", ns_host, other, other),
                         0);
        assert_int_equal(net_host_setup_endpoint_address(ns, other, &addr), -EEXIST);
        assert_int_equal(net_host_remove_endpoint_address(ns, other), -ENOENT);
        assert_int_equal(sh("ip -n %s link show %s", ns_host, other), 0);

        /* IMDS rule: idempotent; removal spares a look-alike with another destination. */
        assert_int_equal(net_host_block_imds_from(ns, iif, NULL, prio), 0);
        assert_int_equal(net_host_block_imds_from(ns, iif, NULL, prio), 0);
        assert_int_equal(
            sh("ip -n %s rule add pref %u iif %s to 169.254.169.253 blackhole", ns_host, prio, iif),
            0);
        j = ipj("ip -n %s -j rule show", ns_host);
        assert_non_null(j);
        for (size_t i = 0; i < json_object_array_length(j); i++) {
                r = json_object_array_get_idx(j, i);
                if (streq_ptr(jstr(r, "dst"), NET_IMDS_IPV4)) {
                        json_object *p;
                        assert_true(json_object_object_get_ex(r, "priority", &p));
                        assert_int_equal(json_object_get_int(p), prio);
                        assert_string_equal(jstr(r, "iif"), iif);
                        assert_string_equal(jstr(r, "action"), "blackhole");
                        ours++;
                }
        }
        assert_int_equal(ours, 1);
        json_object_put(j);
        assert_int_equal(net_host_unblock_imds_from(ns, iif, NULL, prio), 0);
        assert_int_equal(net_host_unblock_imds_from(ns, iif, NULL, prio), -ENOENT);
        j = ipj("ip -n %s -j rule show", ns_host);
        assert_non_null(j);
        ours = 0;
        for (size_t i = 0; i < json_object_array_length(j); i++) {
                r = json_object_array_get_idx(j, i);
                assert_false(streq_ptr(jstr(r, "dst"), NET_IMDS_IPV4));
                ours += streq_ptr(jstr(r, "dst"), "169.254.169.253");
        }
        assert_int_equal(ours, 1);
        json_object_put(j);

        assert_int_equal(net_host_remove_endpoint_address(ns, dummy), 0);
        assert_int_not_equal(sh("ip -n %s link show %s", ns_host, dummy), 0);
        net_ns_free(ns);
        cleanup_all();
}

static int test_teardown(void **state)
{
        if (sfx[0])
                cleanup_all();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(test_awsvpc, test_teardown),
            cmocka_unit_test_teardown(test_awsvpc_missing_eni, test_teardown),
            cmocka_unit_test_teardown(test_link_watch, test_teardown),
            cmocka_unit_test_teardown(test_host_plumbing, test_teardown),
        };
        return cmocka_run_group_tests_name("test_net_live", tests, group_setup, group_teardown);
}
