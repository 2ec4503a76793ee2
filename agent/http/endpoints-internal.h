/* Shared by the endpoint handlers of agent/http/. */
#pragma once

#include <stdio.h>

#include "ecs/endpoints.h"
#include "ecs/httpd.h"

struct ecs_task;

struct endpoints {
        struct endpoints_params p;
        struct httpd *task_server;
        struct httpd *introspection;
        FILE *audit;             /* NULL when disabled or not writable */
        unsigned refused_logged; /* binding refusals logged so far (rate-limited) */
};

/* A JSON string body: "\"<text>\"" (text is escaped). */
char *endpoints_json_string(const char *text);
/* RFC 3339 UTC with nanoseconds, as Go's time.Time marshals: "2024-01-01T00:00:03.1Z". */
void endpoints_format_time(uint64_t realtime_usec, char buf[static 40]);

/* credentials.c */
void endpoints_credentials(struct endpoints *ep, const struct httpd_request *req,
                           struct httpd_response *resp, int version, const char *id);
void endpoints_audit(struct endpoints *ep, const struct httpd_request *req, int status,
                     const char *arn, const char *event_type);

/* introspection.c */
void endpoints_introspection_route(struct endpoints *ep, const struct httpd_request *req,
                                   struct httpd_response *resp);
