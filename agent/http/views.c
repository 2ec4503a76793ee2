/* The response pieces the introspection API and task metadata share: ports, volumes and
 * networks of a container, as view structs filled from the engine's model and encoded by
 * jsonmap tables. The views borrow the model's strings; only their arrays are theirs. */
#include <arpa/inet.h>
#include <time.h>

#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/net.h"
#include "ecs/task.h"
#include "endpoints-internal.h"

static const struct jsonmap_field port_fields[] = {
    JSONMAP_U16("ContainerPort", struct view_port, container_port, OMIT),
    JSONMAP_STRING("Protocol", struct view_port, protocol, OMIT),
    JSONMAP_U16("HostPort", struct view_port, host_port, OMIT),
    JSONMAP_STRING("HostIp", struct view_port, host_ip, OMIT),
    JSONMAP_END,
};
const struct jsonmap_type view_port_type = JSONMAP_TYPE(struct view_port, port_fields);

static const struct jsonmap_field volume_fields[] = {
    JSONMAP_STRING("DockerName", struct view_volume, docker_name, STR0),
    JSONMAP_STRING("Source", struct view_volume, source, STR0),
    JSONMAP_STRING("Destination", struct view_volume, destination, STR0),
    JSONMAP_END,
};
const struct jsonmap_type view_volume_type = JSONMAP_TYPE(struct view_volume, volume_fields);

int view_encode_opt_i32(const void *value, json_object **ret)
{
        const int32_t *const *p = value;
        *ret = *p ? json_object_new_int(**p) : NULL;
        return *p && !*ret ? -ENOMEM : 0;
}

static const struct jsonmap_field network_fields[] = {
    JSONMAP_STRING("NetworkMode", struct view_network, mode, OMIT),
    JSONMAP_STRV("IPv4Addresses", struct view_network, ipv4, OMIT),
    JSONMAP_STRV("IPv6Addresses", struct view_network, ipv6, OMIT),
    JSONMAP_END,
};
const struct jsonmap_type view_network_type = JSONMAP_TYPE(struct view_network, network_fields);

/* v4 adds the ENI's details for awsvpc (§7.6). */
static const struct jsonmap_field network_v4_fields[] = {
    JSONMAP_STRING("NetworkMode", struct view_network, mode, OMIT),
    JSONMAP_STRV("IPv4Addresses", struct view_network, ipv4, OMIT),
    JSONMAP_STRV("IPv6Addresses", struct view_network, ipv6, OMIT),
    JSONMAP_CUSTOM("AttachmentIndex", struct view_network, attachment_index,
                   .encode = view_encode_opt_i32),
    JSONMAP_STRING("MACAddress", struct view_network, mac, OMIT),
    JSONMAP_CHARS("IPv4SubnetCIDRBlock", struct view_network, subnet_cidr, OMIT),
    JSONMAP_STRV("DomainNameServers", struct view_network, dns, OMIT),
    JSONMAP_STRV("DomainNameSearchList", struct view_network, search, OMIT),
    JSONMAP_STRING("PrivateDNSName", struct view_network, private_dns, OMIT),
    JSONMAP_STRING("SubnetGatewayIpv4Address", struct view_network, gateway, OMIT),
    JSONMAP_END,
};
const struct jsonmap_type view_network_v4_type =
    JSONMAP_TYPE(struct view_network, network_v4_fields);

int view_ports(const struct ecs_container *c, bool host_ip, struct view_port **ret, size_t *ret_n)
{
        *ret = NULL;
        *ret_n = 0;
        if (!c->n_bindings)
                return 0;
        struct view_port *v = calloc(c->n_bindings, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_bindings; i++)
                v[i] = (struct view_port){
                    .container_port = c->bindings[i].container_port,
                    .host_port = c->bindings[i].host_port,
                    .protocol = port_protocol_to_string(c->bindings[i].protocol),
                    .host_ip = host_ip ? c->bindings[i].bind_ip : NULL,
                };
        *ret = v;
        *ret_n = c->n_bindings;
        return 0;
}

int view_volumes(const struct ecs_task *t, const struct ecs_container *c, struct view_volume **ret,
                 size_t *ret_n)
{
        *ret = NULL;
        *ret_n = 0;
        if (!c->n_mounts)
                return 0;
        struct view_volume *v = calloc(c->n_mounts, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_mounts; i++) {
                v[i].destination = c->mounts[i].container_path;
                for (size_t j = 0; j < t->n_volumes; j++)
                        if (streq_ptr(t->volumes[j].name, c->mounts[i].source_volume)) {
                                v[i].docker_name = t->volumes[j].docker_name;
                                v[i].source = t->volumes[j].source_path;
                        }
        }
        *ret = v;
        *ret_n = c->n_mounts;
        return 0;
}

/* "10.0.1.1/24" (the subnet gateway) -> "10.0.1.0/24". */
static void subnet_of_gateway(const char *gw, char buf[static 64])
{
        struct net_ip ip;
        uint8_t plen;

        buf[0] = 0;
        if (!gw || net_gateway_parse(gw, &ip, &plen) < 0 || ip.family != AF_INET || plen > 32)
                return;
        uint32_t a = ntohl(ip.in.s_addr), mask = plen ? ~0U << (32 - plen) : 0;
        struct in_addr n = {.s_addr = htonl(a & mask)};
        char text[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &n, text, sizeof(text)))
                snprintf(buf, 64, "%s/%u", text, plen);
}

static char **one(const char *s, char *storage[2])
{
        if (isempty(s))
                return NULL;
        storage[0] = (char *)s;
        storage[1] = NULL;
        return storage;
}

int view_networks(const struct ecs_task *t, const struct ecs_container *c, bool awsvpc_details,
                  struct view_network **ret, size_t *ret_n)
{
        *ret = NULL;
        *ret_n = 0;
        if (t->network_mode == NETWORK_MODE_AWSVPC) {
                if (!t->eni)
                        return 0;
        } else if (!c->network_name)
                return 0;
        struct view_network *v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        if (t->network_mode == NETWORK_MODE_AWSVPC) {
                v->mode = "awsvpc";
                v->ipv4 = t->eni->ipv4;
                v->ipv6 = t->eni->ipv6;
                if (awsvpc_details) {
                        v->attachment_index = &v->index_storage;
                        v->mac = t->eni->mac;
                        subnet_of_gateway(t->eni->subnet_gateway_ipv4, v->subnet_cidr);
                        v->dns = t->eni->dns_servers;
                        v->search = t->eni->search_domains;
                        v->private_dns = t->eni->private_dns_name;
                        v->gateway = t->eni->subnet_gateway_ipv4;
                }
        } else {
                /* bridge and host: what Docker's inspect showed (§7.5). */
                v->mode = c->network_name;
                v->ipv4 = one(c->ipv4_address, v->ipv4_storage);
                v->ipv6 = one(c->ipv6_address, v->ipv6_storage);
        }
        *ret = v;
        *ret_n = 1;
        return 0;
}

void endpoints_format_time(uint64_t usec, char buf[static 40])
{
        time_t s = (time_t)(usec / 1000000ULL);
        unsigned frac = (unsigned)(usec % 1000000ULL) * 1000; /* nanoseconds */
        struct tm tm;
        size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", gmtime_r(&s, &tm));

        if (frac) {
                /* Go's RFC3339Nano: the fraction without trailing zeros. */
                int k = snprintf(buf + n, 40 - n, ".%09u", frac);
                while (k > 1 && buf[n + (size_t)k - 1] == '0')
                        buf[n + (size_t)--k] = 0;
                n += (size_t)k;
        }
        snprintf(buf + n, 40 - n, "Z");
}

char *endpoints_encode(const struct jsonmap_type *type, const void *obj)
{
        _cleanup_json_ json_object *o = NULL;
        if (jsonmap_encode(type, obj, NULL, &o) < 0)
                return NULL;
        return json_dump(o);
}
