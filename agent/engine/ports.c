#include <netinet/in.h>
#include <sys/socket.h>

#include "ecs/macro.h"
#include "engine-internal.h"

void port_allocator_init(struct port_allocator *pa, uint16_t first, uint16_t last,
                         const uint16_t *reserved_tcp, size_t n_tcp, const uint16_t *reserved_udp,
                         size_t n_udp)
{
        memset(pa, 0, sizeof(*pa));
        pa->first = first;
        pa->last = last < first ? first : last;
        pa->next[PORT_PROTOCOL_TCP] = pa->next[PORT_PROTOCOL_UDP] = pa->first;
        pa->reserved[PORT_PROTOCOL_TCP] = reserved_tcp;
        pa->n_reserved[PORT_PROTOCOL_TCP] = n_tcp;
        pa->reserved[PORT_PROTOCOL_UDP] = reserved_udp;
        pa->n_reserved[PORT_PROTOCOL_UDP] = n_udp;
}

bool port_allocator_is_reserved(const struct port_allocator *pa, uint16_t port,
                                enum port_protocol proto)
{
        for (size_t i = 0; i < pa->n_reserved[proto]; i++)
                if (pa->reserved[proto][i] == port)
                        return true;
        return false;
}

bool port_allocator_is_held(const struct port_allocator *pa, uint16_t port,
                            enum port_protocol proto)
{
        return pa->held[proto][port / 8] & (1u << (port % 8));
}

static void set_held(struct port_allocator *pa, uint16_t port, enum port_protocol proto, bool on)
{
        if (on)
                pa->held[proto][port / 8] |= (uint8_t)(1u << (port % 8));
        else
                pa->held[proto][port / 8] &= (uint8_t) ~(1u << (port % 8));
}

/* Docker binds published ports on every address, IPv4 and IPv6, so the probe does too. */
static bool bind_probe(uint16_t port, enum port_protocol proto)
{
        int type = (proto == PORT_PROTOCOL_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC;
        _cleanup_close_ int fd = socket(AF_INET6, type, 0);

        if (fd >= 0) {
                int off = 0, one = 1;
                struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                return bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) == 0;
        }
        fd = socket(AF_INET, type, 0);
        if (fd < 0)
                return false;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        return bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

int port_allocator_pick(struct port_allocator *pa, enum port_protocol proto, uint16_t *ret)
{
        uint32_t span = (uint32_t)pa->last - pa->first + 1;
        uint16_t port = pa->next[proto];

        if (port < pa->first || port > pa->last)
                port = pa->first;
        /* One full turn around the range, starting after the last port handed out. */
        for (uint32_t i = 0; i < span; i++) {
                uint16_t cand = port;
                port = port == pa->last ? pa->first : (uint16_t)(port + 1);
                if (port_allocator_is_reserved(pa, cand, proto) ||
                    port_allocator_is_held(pa, cand, proto))
                        continue;
                bool free_port = pa->probe ? pa->probe(cand, proto, pa->probe_userdata)
                                           : bind_probe(cand, proto);
                if (!free_port)
                        continue;
                set_held(pa, cand, proto, true);
                pa->next[proto] = port;
                *ret = cand;
                return 0;
        }
        return -EADDRNOTAVAIL;
}

int port_allocator_hold(struct port_allocator *pa, uint16_t port, enum port_protocol proto)
{
        if (port_allocator_is_reserved(pa, port, proto) || port_allocator_is_held(pa, port, proto))
                return -EADDRINUSE;
        set_held(pa, port, proto, true);
        return 0;
}

void port_allocator_release(struct port_allocator *pa, uint16_t port, enum port_protocol proto)
{
        set_held(pa, port, proto, false);
}
