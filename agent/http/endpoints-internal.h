/* Shared by the endpoint handlers of agent/http/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ecs/endpoints.h"
#include "ecs/httpd.h"

struct awsjson_client;
struct ecs_task;

/* Row flags of the response tables. */
#define OMIT .flags = JSONMAP_OMIT_EMPTY
#define STR0 .flags = JSONMAP_NULL_AS_EMPTY

struct endpoints {
        struct endpoints_params p;
        struct httpd *task_server;
        struct httpd *introspection;
        FILE *audit; /* NULL when disabled or not writable */
        char *identity_storage[4];
        unsigned refused_logged; /* binding refusals logged so far (rate-limited) */
};

/* ---- views.c: response pieces shared by introspection and task metadata ---- */

struct jsonmap_type;
struct ecs_container;
typedef struct json_object json_object;

struct view_port {
        uint16_t container_port, host_port;
        const char *protocol;
        const char *host_ip; /* NULL: left out */
};

struct view_volume {
        const char *docker_name, *source, *destination;
};

struct view_network {
        const char *mode;
        char **ipv4, **ipv6;
        int32_t *attachment_index; /* awsvpc in v4: points at index_storage */
        const char *mac;
        char subnet_cidr[64];
        char **dns, **search;
        const char *private_dns, *gateway;
        int32_t index_storage;
        char *ipv4_storage[2], *ipv6_storage[2];
};

extern const struct jsonmap_type view_port_type, view_volume_type, view_network_type,
    view_network_v4_type;

/* Encodes an int32_t * member: left out when NULL. */
int view_encode_opt_i32(const void *value, json_object **ret);
/* The arrays are the caller's to free(); their strings are the model's. */
int view_ports(const struct ecs_container *c, bool host_ip, struct view_port **ret, size_t *ret_n);
int view_volumes(const struct ecs_task *t, const struct ecs_container *c, struct view_volume **ret,
                 size_t *ret_n);
int view_networks(const struct ecs_task *t, const struct ecs_container *c, bool awsvpc_details,
                  struct view_network **ret, size_t *ret_n);
/* The encoded object as text; NULL on failure. */
char *endpoints_encode(const struct jsonmap_type *type, const void *obj);

/* A JSON string body: "\"<text>\"" (text is escaped). */
char *endpoints_json_string(const char *text);
/* RFC 3339 UTC with nanoseconds, as Go's time.Time marshals: "2024-01-01T00:00:03.1Z". */
void endpoints_format_time(uint64_t realtime_usec, char buf[static 40]);

/* credentials.c */
/* The task the caller belongs to, by its address or (a host address) by the cgroup of the
 * process holding the connection; *ret NULL when it is outside every task. */
int endpoints_caller_task(struct endpoints *ep, const struct httpd_request *req,
                          const struct ecs_task **ret);
void endpoints_credentials(struct endpoints *ep, const struct httpd_request *req,
                           struct httpd_response *resp, int version, const char *id);
void endpoints_audit(struct endpoints *ep, const struct httpd_request *req, int status,
                     const char *arn, const char *event_type);

/* metadata.c: true when the path is one of task metadata's (the answer is then set). */
bool endpoints_metadata_route(struct endpoints *ep, const struct httpd_request *req,
                              struct httpd_response *resp);

/* stats.c: container c's stats in Docker's shape, with network_rate_stats when rate (v4).
 * -ENOENT when the collector does not sample it (not running, metrics off); 0 with *ret
 * NULL when it is running but not sampled yet. */
int endpoints_container_stats(struct endpoints *ep, const struct ecs_task *t,
                              const struct ecs_container *c, bool rate, json_object **ret);

/* protection.c: /api/<endpointId>/task-protection/v1/state; true when the path is that. */
bool endpoints_protection_route(struct endpoints *ep, const struct httpd_request *req,
                                struct httpd_response *resp);

/* introspection.c */
void endpoints_introspection_route(struct endpoints *ep, const struct httpd_request *req,
                                   struct httpd_response *resp);
