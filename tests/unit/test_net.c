/* Pure parts of the net module: MAC, address, CIDR and subnet-gateway parsing, the typed
 * ENI, the bridge IPAM (allocation, stickiness per MAC, no immediate reuse, exhaustion,
 * durable reload, corrupt file) and resolv.conf / hosts rendering. No netlink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ecs/macro.h"
#include "ecs/net.h"

static char dir[64];

static int setup_dir(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ecs-test-net-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd);
}

static const char *ipstr(const struct net_ip *ip)
{
        static char buf[NET_IP_STRLEN];
        assert_int_equal(net_ip_format(ip, buf, sizeof(buf)), 0);
        return buf;
}

static void test_mac(void **state)
{
        uint8_t mac[6];
        char s[NET_MAC_STRLEN];

        assert_int_equal(net_mac_parse("0E:12:34:56:78:9a", mac), 0);
        net_mac_format(mac, s);
        assert_string_equal(s, "0e:12:34:56:78:9a");
        assert_int_equal(net_mac_parse("0e-12-34-56-78-9a", mac), 0);
        assert_int_equal(mac[5], 0x9a);
        assert_int_equal(net_mac_parse("0e:12:34:56:78", mac), -EINVAL);
        assert_int_equal(net_mac_parse("0e:12:34:56:78:9g", mac), -EINVAL);
        assert_int_equal(net_mac_parse("0e:12-34:56:78:9a", mac), -EINVAL); /* mixed */
        assert_int_equal(net_mac_parse("0e:12:34:56:78:9a:", mac), -EINVAL);
        assert_int_equal(net_mac_parse("0e1234:56:78:9a:bc", mac), -EINVAL);
        assert_int_equal(net_mac_parse(NULL, mac), -EINVAL);
}

static void test_cidr_and_gateway(void **state)
{
        struct net_cidr c;
        struct net_ip gw;
        uint8_t prefix = 0;
        char buf[NET_CIDR_STRLEN];

        assert_int_equal(net_gateway_parse("10.0.1.1/24", &gw, &prefix), 0);
        assert_int_equal(prefix, 24);
        assert_int_equal(gw.family, AF_INET);
        assert_string_equal(ipstr(&gw), "10.0.1.1");

        assert_int_equal(net_gateway_parse("10.0.1.1", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/33", &gw, &prefix), -ERANGE);
        assert_int_equal(net_gateway_parse("10.0.1.1/24/8", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/-1", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/ 24", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/24x", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1/24", &gw, &prefix), -EINVAL);
        assert_int_equal(net_gateway_parse("10.0.1.1/0", &gw, &prefix), -ERANGE);

        assert_int_equal(net_gateway_parse("2600:1f14::1/64", &gw, &prefix), 0);
        assert_int_equal(gw.family, AF_INET6);
        assert_int_equal(prefix, 64);
        assert_int_equal(net_cidr_parse("2600:1f14::1/129", &c), -ERANGE);

        assert_int_equal(net_cidr_parse("169.254.172.0/22", &c), 0);
        assert_int_equal(net_cidr_format(&c, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "169.254.172.0/22");
        assert_int_equal(net_cidr_parse("fd00:ec2::254/128", &c), 0);
        assert_int_equal(net_cidr_format(&c, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "fd00:ec2::254/128");
}

static void test_eni(void **state)
{
        struct net_eni e;
        char name[IFNAMSIZ], buf[NET_CIDR_STRLEN];

        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", "10.0.1.1/24", NULL), 0);
        assert_int_equal(net_eni_add_address(&e, "10.0.1.57"), 0);
        assert_int_equal(net_eni_add_address(&e, "2600:1f14::57"), 0);
        assert_int_equal(e.n_ipv4, 1);
        assert_int_equal(net_cidr_format(&e.ipv4[0], buf, sizeof(buf)), 0);
        assert_string_equal(buf, "10.0.1.57/24");
        assert_int_equal(net_cidr_format(&e.ipv6[0], buf, sizeof(buf)), 0);
        assert_string_equal(buf, "2600:1f14::57/64"); /* no IPv6 gateway: /64 */
        assert_string_equal(ipstr(&e.gateway4), "10.0.1.1");
        assert_int_equal(net_eni_add_address(&e, "10.0.1.57/24"), -EINVAL);

        net_eni_host_name(e.mac, name);
        assert_string_equal(name, "ecs0e1234");

        /* IPv6-only: the prefix comes from the IPv6 gateway; IPv4 has no prefix to use. */
        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", NULL, "2600:1f14::1/80"), 0);
        assert_int_equal(net_eni_add_address(&e, "2600:1f14::9"), 0);
        assert_int_equal(e.ipv6[0].prefixlen, 80);
        assert_int_equal(net_eni_add_address(&e, "10.0.1.57"), -EINVAL);

        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", NULL, NULL), -EINVAL);
        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", "10.0.1.1", NULL), -EINVAL);
        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", "2600::1/64", NULL), -EAFNOSUPPORT);
        assert_int_equal(net_eni_init(&e, "nope", "10.0.1.1/24", NULL), -EINVAL);

        assert_int_equal(net_eni_init(&e, "0e:12:34:56:78:9a", "10.0.1.1/24", NULL), 0);
        for (int i = 0; i < NET_ENI_MAX_ADDRS; i++)
                assert_int_equal(net_eni_add_address(&e, "10.0.1.9"), 0);
        assert_int_equal(net_eni_add_address(&e, "10.0.1.9"), -E2BIG);
}

static void test_ipam(void **state)
{
        struct net_ipam *m = NULL;
        struct net_ip a, b, c;
        struct net_cidr gw;

        assert_int_equal(net_ipam_open(dir, NULL, &m), 0);
        net_ipam_gateway(m, &gw);
        assert_string_equal(ipstr(&gw.addr), "169.254.172.1");
        assert_int_equal(gw.prefixlen, 22);

        /* First address skips network and gateway; the same MAC (any spelling) is sticky. */
        assert_int_equal(net_ipam_allocate(m, "0e:00:00:00:00:01", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.2");
        assert_int_equal(net_ipam_allocate(m, "0E-00-00-00-00-01", &b), 0);
        assert_true(net_ip_equal(&a, &b));
        assert_int_equal(net_ipam_allocate(m, "0e:00:00:00:00:02", &b), 0);
        assert_string_equal(ipstr(&b), "169.254.172.3");

        /* A released address is not handed out again at once. */
        assert_int_equal(net_ipam_release(m, "0e:00:00:00:00:01"), 0);
        assert_int_equal(net_ipam_release(m, "0e:00:00:00:00:01"), -ENOENT);
        assert_int_equal(net_ipam_lookup(m, "0e:00:00:00:00:01", NULL), -ENOENT);
        assert_int_equal(net_ipam_allocate(m, "0e:00:00:00:00:03", &c), 0);
        assert_string_equal(ipstr(&c), "169.254.172.4");
        assert_int_equal(net_ipam_allocate(m, "bad key", &c), -EINVAL);
        m = net_ipam_free(m);

        /* Reload: same answers, and allocation continues after the last one. */
        assert_int_equal(net_ipam_open(dir, NULL, &m), 0);
        assert_int_equal(net_ipam_lookup(m, "0e:00:00:00:00:02", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.3");
        assert_int_equal(net_ipam_lookup(m, "0e:00:00:00:00:03", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.4");
        assert_int_equal(net_ipam_allocate(m, "0e:00:00:00:00:04", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.5");
        m = net_ipam_free(m);
}

static void test_ipam_exhaustion_and_wrap(void **state)
{
        struct net_ipam *m = NULL;
        struct net_cidr small;
        struct net_ip a;
        char key[32];

        /* A /29 has 8 addresses: network, gateway and broadcast leave .2 - .6 (host bits of
         * the given subnet are ignored: it is 10.77.0.8/29). */
        assert_int_equal(net_cidr_parse("10.77.0.9/29", &small), 0);
        assert_int_equal(net_ipam_open(dir, &small, &m), 0);
        for (int i = 2; i <= 6; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                assert_int_equal(net_ipam_allocate(m, key, &a), 0);
                assert_int_equal(ntohl(a.in.s_addr) & 7, i);
        }
        assert_int_equal(net_ipam_allocate(m, "k7", &a), -ENOSPC);
        /* Still sticky when full. */
        assert_int_equal(net_ipam_allocate(m, "k4", &a), 0);
        assert_string_equal(ipstr(&a), "10.77.0.12");
        /* After a release, the search wraps around past the broadcast to the free one. */
        assert_int_equal(net_ipam_release(m, "k3"), 0);
        assert_int_equal(net_ipam_allocate(m, "k7", &a), 0);
        assert_string_equal(ipstr(&a), "10.77.0.11");
        m = net_ipam_free(m);

        assert_int_equal(net_cidr_parse("10.77.0.0/31", &small), 0);
        assert_int_equal(net_ipam_open(dir, &small, &m), -EINVAL);
        assert_int_equal(net_cidr_parse("fd00::/64", &small), 0);
        assert_int_equal(net_ipam_open(dir, &small, &m), -EINVAL);
}

static void test_ipam_corrupt_file(void **state)
{
        struct net_ipam *m = NULL;
        struct net_ip a;
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, NET_IPAM_FILE);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("# x\n"
              "0e:00:00:00:00:01 169.254.172.7\n"
              "0e:00:00:00:00:02 169.254.172.7\n" /* duplicate address: dropped */
              "0e:00:00:00:00:03 10.0.0.1\n"      /* outside the subnet */
              "0e:00:00:00:00:04 169.254.172.1\n" /* the gateway */
              "0e:00:00:00:00:05\n"
              "garbage line with words\n"
              "last 169.254.172.9\n",
              f);
        fclose(f);
        assert_int_equal(net_ipam_open(dir, NULL, &m), 0);
        assert_int_equal(net_ipam_lookup(m, "0e:00:00:00:00:01", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.7");
        for (int i = 2; i <= 5; i++) {
                char key[32];
                snprintf(key, sizeof(key), "0e:00:00:00:00:0%d", i);
                assert_int_equal(net_ipam_lookup(m, key, NULL), -ENOENT);
        }
        assert_int_equal(net_ipam_allocate(m, "0e:00:00:00:00:02", &a), 0);
        assert_string_equal(ipstr(&a), "169.254.172.10");
        m = net_ipam_free(m);
        unlink(path);
}

static void test_render(void **state)
{
        char *s = NULL;
        char *servers[] = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", NULL};
        char *search[] = {"us-west-2.compute.internal", "example.com", NULL};
        char *bad_server[] = {"10.0.0.2\noptions ndots:15", NULL};
        char *bad_search[] = {"a b", NULL};
        char *ips[] = {"10.0.1.57", NULL};

        assert_int_equal(net_render_resolv_conf(servers, search, &s), 0);
        assert_string_equal(s, "nameserver 10.0.0.2\nnameserver 10.0.0.3\n"
                               "nameserver 10.0.0.4\n"
                               "search us-west-2.compute.internal example.com\n");
        free(s);
        assert_int_equal(net_render_resolv_conf(NULL, NULL, &s), 0);
        assert_string_equal(s, "");
        free(s);
        assert_int_equal(net_render_resolv_conf(bad_server, NULL, &s), -EINVAL);
        assert_int_equal(net_render_resolv_conf(servers, bad_search, &s), -EINVAL);

        assert_int_equal(net_render_hosts("ip-10-0-1-57.us-west-2.compute.internal", ips, &s), 0);
        assert_non_null(strstr(s, "127.0.0.1\tlocalhost\n"));
        assert_non_null(strstr(s, "\n10.0.1.57\tip-10-0-1-57.us-west-2.compute.internal\n"));
        free(s);
        assert_int_equal(net_render_hosts("evil\n1.2.3.4 x", ips, &s), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_mac),
            cmocka_unit_test(test_cidr_and_gateway),
            cmocka_unit_test(test_eni),
            cmocka_unit_test_setup_teardown(test_ipam, setup_dir, teardown_dir),
            cmocka_unit_test_setup_teardown(test_ipam_exhaustion_and_wrap, setup_dir, teardown_dir),
            cmocka_unit_test_setup_teardown(test_ipam_corrupt_file, setup_dir, teardown_dir),
            cmocka_unit_test(test_render),
        };
        return cmocka_run_group_tests_name("test_net", tests, NULL, NULL);
}
