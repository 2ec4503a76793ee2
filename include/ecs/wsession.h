/* A long-lived, SigV4-signed WebSocket to an ECS endpoint found with DiscoverPollEndpoint:
 * the connection management the ACS (§2) and TCS (§3) sessions share. It discovers and
 * caches the endpoint (12 h), signs the upgrade, closes a connection that stays silent
 * (1-2 min) or grows old (30-35 min), and reconnects with backoff (at once after a clean
 * close). What travels over it belongs to the owner. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/backoff.h"

struct ecs_loop;
struct aws_credential_provider;
struct awsjson_client;
struct wsession;

struct wsession_ops {
        const char *name; /* for logs: "ACS", "TCS" */
        bool telemetry;   /* connect to telemetryEndpoint rather than endpoint */
        struct backoff backoff;
        size_t max_message;
        /* The URL for the discovered endpoint. */
        int (*build_url)(struct wsession *ws, const char *endpoint, char **ret, void *ud);
        void (*on_open)(struct wsession *ws, void *ud);
        /* One message. Return true when it counts as activity (resets the idle timer). */
        bool (*on_message)(struct wsession *ws, const char *data, size_t len, void *ud);
        void (*on_close)(struct wsession *ws, void *ud); /* optional */
        /* The upgrade was refused with an HTTP answer: return true when the owner took care
         * of it (no reconnect is scheduled then); optional. */
        bool (*on_refused)(struct wsession *ws, long status, const char *body, void *ud);
};

/* Who connects, where from and how: the same for the ACS and TCS sessions. */
struct wsession_peer {
        struct ecs_loop *loop;
        struct aws_credential_provider *creds;
        struct awsjson_client *ecs; /* for DiscoverPollEndpoint */
        const char *region;
        const char *cluster;
        const char *container_instance_arn;
        const char *docker_version; /* NULL when unknown */
};

struct wsession_params {
        struct wsession_peer peer;
        const struct wsession_ops *ops;
        void *userdata;
};

int wsession_new(const struct wsession_params *p, struct wsession **ret);
struct wsession *wsession_free(struct wsession *ws);
int wsession_start(struct wsession *ws);
bool wsession_connected(const struct wsession *ws);
/* What the session was made with (its own copies). */
const char *wsession_cluster(const struct wsession *ws);
const char *wsession_instance_arn(const struct wsession *ws);
const char *wsession_region(const struct wsession *ws);
const char *wsession_docker_version(const struct wsession *ws);
/* The URL of the open connection (NULL when not connected). */
const char *wsession_url(const struct wsession *ws);
/* Queues a text message; -ENOTCONN when not connected. */
int wsession_send(struct wsession *ws, const char *text, size_t len);
/* Connects again after delay_usec (e.g. an hour after the instance was said inactive). */
void wsession_reconnect_in(struct wsession *ws, uint64_t delay_usec);
