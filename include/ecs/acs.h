/* The ACS session (§2): discovers the endpoint, holds the SigV4-signed WebSocket, answers
 * heartbeats, turns payloads into engine tasks and acknowledges them, refreshes task
 * credentials, handles task manifests and stop verification, and reconnects with backoff. */
#pragma once

#include <stdbool.h>

#include "ecs/wsession.h"

struct ecs_loop;
struct aws_credential_provider;
struct awsjson_client;
struct engine;
struct credstore;
struct reporter;
struct acs_session;

struct acs_session_params {
        struct wsession_peer peer;
        struct engine *engine;
        struct credstore *credstore;
        struct reporter *reporter;
        struct eniwatch *eniwatch; /* NULL: task ENIs are not handled (awsvpc off) */
        /* The control plane says this instance is deregistered. */
        void (*on_inactive)(struct acs_session *s, void *userdata);
        /* A connection became established (for readiness / tests). */
        void (*on_connected)(struct acs_session *s, void *userdata);
        void *userdata;
};

int acs_session_new(const struct acs_session_params *p, struct acs_session **ret);
struct acs_session *acs_session_free(struct acs_session *s);
int acs_session_start(struct acs_session *s);
