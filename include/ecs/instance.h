/* The container instance: brings the agent up in order (Docker, instance identity,
 * registration, engine, reporter, ACS session) and keeps it up. Failures that the official
 * agent treats as terminal end the loop with its exit codes (§8.9). */
#pragma once

#include <stdbool.h>

struct ecs_loop;
struct ecs_config;
struct ecs_instance;

/* Exit codes shared with ecs-init (§8.9). */
#define ECS_EXIT_SUCCESS  0
#define ECS_EXIT_ERROR    1
#define ECS_EXIT_TERMINAL 5

struct awsjson_client;
struct credstore;
struct engine;

/* What the running agent offers the endpoints (valid until ecs_instance_free()). */
struct ecs_instance_services {
        struct engine *engine;
        struct credstore *credstore;
        struct awsjson_client *ecs; /* the ECS API client, alive until the instance is freed */
        const char *cluster;
        const char *container_instance_arn;
        const char *region;
        const char *availability_zone; /* NULL when not known */
};

struct ecs_instance_params {
        struct ecs_loop *loop;
        const struct ecs_config *config;
        /* Called when the agent is registered and its session is starting (READY=1), and
         * with status text as things progress. */
        void (*on_status)(struct ecs_instance *inst, bool ready, const char *status,
                          void *userdata);
        /* Called once registered, with the engine up and before saved tasks are restored:
         * the endpoints start here. */
        void (*on_services)(struct ecs_instance *inst, const struct ecs_instance_services *svc,
                            void *userdata);
        void *userdata;
};

int ecs_instance_new(const struct ecs_instance_params *p, struct ecs_instance **ret);
struct ecs_instance *ecs_instance_free(struct ecs_instance *inst);
/* Starts the bring-up; the loop ends with ECS_EXIT_TERMINAL / ECS_EXIT_ERROR on failure. */
int ecs_instance_start(struct ecs_instance *inst);
/* Orderly stop before exit (SIGTERM): persist what must be persisted. Tasks keep running. */
void ecs_instance_shutdown(struct ecs_instance *inst);
