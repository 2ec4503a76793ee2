/* Engine-private pieces shared between the engine's source files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/task.h"

/* Host ports for bridge-mode tasks (§5.4): the agent, not Docker, picks dynamic ports, by
 * probing with bind() from just after the last port it handed out; reserved ports and ports
 * held by live tasks are never handed out. */
struct port_allocator {
        uint16_t first, last; /* dynamic range, inclusive */
        uint16_t next[_PORT_PROTOCOL_MAX];
        const uint16_t *reserved[_PORT_PROTOCOL_MAX];
        size_t n_reserved[_PORT_PROTOCOL_MAX];
        /* Ports held by tasks that are not yet stopped (bitmaps of 65536 bits). */
        uint8_t held[_PORT_PROTOCOL_MAX][65536 / 8];
        /* For tests: replaces the bind() probe. */
        bool (*probe)(uint16_t port, enum port_protocol proto, void *ud);
        void *probe_userdata;
};

void port_allocator_init(struct port_allocator *pa, uint16_t first, uint16_t last,
                         const uint16_t *reserved_tcp, size_t n_tcp, const uint16_t *reserved_udp,
                         size_t n_udp);
bool port_allocator_is_reserved(const struct port_allocator *pa, uint16_t port,
                                enum port_protocol proto);
bool port_allocator_is_held(const struct port_allocator *pa, uint16_t port,
                            enum port_protocol proto);
/* Picks a free dynamic port and holds it; -EADDRNOTAVAIL when the range is exhausted. */
int port_allocator_pick(struct port_allocator *pa, enum port_protocol proto, uint16_t *ret);
/* Holds a static port; -EADDRINUSE when reserved or held by another live task. */
int port_allocator_hold(struct port_allocator *pa, uint16_t port, enum port_protocol proto);
void port_allocator_release(struct port_allocator *pa, uint16_t port, enum port_protocol proto);
