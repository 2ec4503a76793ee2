/* Engine-private pieces shared between the engine's source files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "ecs/docker.h"
#include "ecs/engine.h"
#include "ecs/macro.h"
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

/* ---- the engine's state, shared by its source files ---- */

struct cgroup_manager;
struct credstore;
struct ecs_config;
struct asm_client;
struct engine_images;
struct metrics_ring;
struct pullauth_ecr;
struct pullauth_static;
struct ecs_loop;
struct state_store;
struct tasknet;
struct container_stats;

struct engine_task {
        struct ecs_task *task;
        struct engine *engine;
        bool dirty;          /* something reportable changed since the last notification */
        bool ports_assigned; /* host ports chosen and held */
        bool admitted;       /* host CPU, memory and ports reserved for it */
        bool waiting_logged; /* "waiting for resources" said once */
        uint64_t cpu_units, memory_mib; /* what admission reserved */
        char *cgroup_parent;            /* the task cgroup, once created */
        bool persist_dirty;             /* changed since last written to the store */
        bool rebuilt;                   /* reconstructed from Docker labels: no definition */
        bool reconciling;               /* loaded at start, not yet checked against Docker */
        bool volumes_ready;             /* task volumes exist in Docker */
        unsigned volume_ops;            /* volume creations in flight */
        bool network_ready;             /* awsvpc: pause container and namespace set up */
        bool network_busy;              /* awsvpc: a tasknet operation in flight */
        uint16_t **host_ports;          /* per container, per port mapping */
        sd_event_source *cleanup_timer;
        sd_event_source *deadline_timer; /* next dependency timeout */
        bool removing;                   /* cleanup started: containers being removed */
        struct container_stats **stats;  /* per container, while it is sampled (stats.c) */
        size_t n_stats;                  /* the task's n_containers when they were made */
        unsigned ops;                    /* Docker calls in flight */
};

struct engine {
        struct ecs_loop *loop;
        struct docker_client *docker;
        struct cgroup_manager *cgroups;
        struct state_store *store;
        const struct ecs_config *config;
        char *region;
        char *cluster;
        struct engine_callbacks cb;
        void *userdata;
        struct engine_task **tasks;
        size_t n_tasks;
        struct port_allocator ports;
        uint64_t cpu_total, memory_total; /* registered resources; 0 = not limited */
        uint64_t cpu_used, memory_used;
        sd_event_source *settle; /* deferred: step dirty tasks, notify */
        struct docker_events *events;
        struct tasknet *net; /* awsvpc; NULL when ECS_ENABLE_TASK_ENI is off */
        char *instance_arn, *availability_zone, *host_private_ipv4, *host_public_ipv4;
        struct credstore *credstore;         /* execution-role credentials; may be NULL */
        struct pullauth_ecr *ecr;            /* ECR tokens */
        struct asm_client *asm_client;       /* repositoryCredentials */
        struct pullauth_static *static_auth; /* ECS_ENGINE_AUTH_DATA */
        struct engine_images *images;        /* image records and cleanup */
        sd_event_source *stats_timer;        /* container metrics sampling */
        unsigned stats_ncpus;                /* online CPUs at start: the per-core divisor */
};

/* engine.c: the task table, the step, and what every part records through. */
struct engine_task *engine_find_task(struct engine *e, const char *arn);
void engine_step(struct engine *e, struct engine_task *et);
/* Something reportable changed: report and save it once the loop settles. */
void engine_mark_dirty(struct engine *e, struct engine_task *et);
int engine_task_file_name(const struct ecs_task *t, char *buf, size_t size);
/* Writes the task to the store (crash-safe); what is reported and acknowledged is always
 * what was written first. */
int engine_persist(struct engine *e, struct engine_task *et);
/* Records the first error of a container (§4.9: later errors don't replace it). */
void engine_container_set_reason(struct ecs_container *c, const char *name, const char *msg);
void engine_container_set_known(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                enum container_status s);
void engine_task_set_desired_stopped(struct engine_task *et, const char *why);
/* Fails the task with a task-level reason (§4.5): set once, and the task stops. */
void engine_task_fail(struct engine_task *et, const char *name, const char *fmt, ...)
    _printf_(3, 4);
void engine_task_free(struct engine_task *et);

/* admission.c: host CPU, memory and ports, reserved all or nothing. */
int engine_admit(struct engine *e, struct engine_task *et);
void engine_release(struct engine *e, struct engine_task *et);

/* ops.c and pull.c: one Docker call on one container, and what its answer means. */
enum op_kind { OP_PULL, OP_CREATE, OP_START, OP_STOP, OP_INSPECT, OP_REMOVE };

struct op {
        struct engine *engine;
        struct engine_task *et;
        size_t idx; /* container index */
        enum op_kind kind;
        unsigned attempt;
};

struct op *engine_op_new(struct engine *e, struct engine_task *et, size_t idx, enum op_kind kind);
void engine_op_finish(struct op *o);
void engine_apply_inspect(struct engine *e, struct engine_task *et, struct ecs_container *c,
                          const struct docker_container *d);
bool engine_container_set_health(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                 enum docker_health_status h);
void engine_start_inspect(struct engine *e, struct engine_task *et, size_t idx);
void engine_start_pull(struct engine *e, struct engine_task *et, size_t idx);
void engine_start_create(struct engine *e, struct engine_task *et, size_t idx);
void engine_start_start(struct engine *e, struct engine_task *et, size_t idx);
void engine_start_stop(struct engine *e, struct engine_task *et, size_t idx);

/* resources.c: what a task holds besides its containers: cgroup, volumes, awsvpc. */
int engine_create_task_cgroup(struct engine *e, struct engine_task *et);
void engine_prepare_volumes(struct engine *e, struct engine_task *et);
void engine_prepare_network(struct engine *e, struct engine_task *et);
void engine_teardown_network(struct engine *e, struct engine_task *et);
void engine_on_network_done(struct ecs_task *t, int error, const char *reason, void *ud);

/* metadata_file.c (ECS_ENABLE_CONTAINER_METADATA; each does nothing when it is off). Before
 * the create: writes INITIAL and adds the bind mount and ECS_CONTAINER_METADATA_FILE to the
 * create body. Once Docker shows the container running: READY. At cleanup: removes the
 * task's files. */
void engine_metadata_file_prepare(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                  json_object *body);
void engine_metadata_file_ready(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                const struct docker_container *d);
void engine_metadata_file_remove(struct engine *e, const struct ecs_task *t);

/* images.c: image records (images.json) and image cleanup (§9.1). */
int engine_images_init(struct engine *e);
void engine_images_free(struct engine *e);
/* A pull of image succeeded. */
void engine_images_pulled(struct engine *e, const char *image);
/* Docker showed the container's image ID; started_usec > 0 once it started. */
void engine_images_seen(struct engine *e, const struct ecs_container *c, uint64_t started_usec);
/* After restore: records for the images of every restored container. */
void engine_images_restored(struct engine *e);
/* True when a cleanup cycle runs: the pull is held and begun (engine_pull_begin) after it. */
bool engine_images_hold_pull(struct engine *e, struct op *o);
void engine_pull_begin(struct op *o);

/* stats.c: container metrics sampled from the cgroups. */
int engine_stats_init(struct engine *e);
void engine_stats_free(struct engine *e);
void engine_stats_task_free(struct engine_task *et);

/* cleanup.c */
void engine_remove_task(struct engine *e, struct engine_task *et);

/* restore.c */
void engine_adopt_definition(struct engine_task *et, struct ecs_task *t);
