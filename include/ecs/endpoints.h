/* The agent's own HTTP endpoints (§7): the credentials and task metadata server containers call
 * (127.0.0.1:51679, reached as 169.254.170.2:80) and the introspection API for operators
 * (127.0.0.1:51678, every interface with ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS). Every answer
 * comes from the agent's memory: the engine's tasks and the credentials ACS delivered. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct awsjson_client;
struct credstore;
struct ecs_config;
struct ecs_loop;
struct endpoints;
struct engine;
struct httpd_request;
struct httpd_response;

/* Who the agent is, as the endpoints report it (copied). */
struct endpoints_identity {
        const char *cluster;
        const char *container_instance_arn;
        const char *region;
        const char *availability_zone;
};

struct endpoints_params {
        struct ecs_loop *loop;
        const struct ecs_config *config;
        struct engine *engine;
        struct credstore *credstore;
        /* The agent's ECS API client (borrowed; outlives the endpoints): ListTagsForResource
         * with the instance's credentials, task protection with a task's. NULL: those
         * answer an error. */
        struct awsjson_client *ecs;
        struct endpoints_identity identity;
        /* Where to listen; NULL: the official addresses. For tests. */
        const char *task_server_ip;   /* 127.0.0.1 (and 169.254.170.2:80) */
        uint16_t task_server_port;    /* 51679 */
        const char *introspection_ip; /* 127.0.0.1, or 0.0.0.0 off-host */
        uint16_t introspection_port;  /* 51678 */
        bool no_endpoint_address;     /* do not also listen on 169.254.170.2:80 */
        bool no_listen;               /* handlers only, no servers (the fuzz target) */
        /* How a caller's socket is found to belong to a task's cgroup (credentials binding for
         * host-network tasks); NULL: the kernel's answer. For tests. */
        int (*peer_cgroup)(const char *peer_ip, uint16_t peer_port, const char *local_ip,
                           uint16_t local_port, char **ret_cgroup_path);
};

int endpoints_new(const struct endpoints_params *p, struct endpoints **ret);
struct endpoints *endpoints_free(struct endpoints *ep);

/* The request handlers, apart from the sockets: unit tests and the fuzz target call them. */
void endpoints_task_server_handle(struct endpoints *ep, const struct httpd_request *req,
                                  struct httpd_response *resp);
void endpoints_introspection_handle(struct endpoints *ep, const struct httpd_request *req,
                                    struct httpd_response *resp);
