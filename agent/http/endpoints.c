/* The two servers of endpoints.h and the routing of the task server (§7.2). */
#include <fcntl.h>
#include <sys/stat.h>

#include "ecs/config.h"
#include "ecs/log.h"
#include "ecs/net.h"
#include "ecs/strbuf.h"
#include "endpoints-internal.h"

#define TASK_SERVER_PORT   51679
#define INTROSPECTION_PORT 51678
#define ENDPOINT_IPV4      "169.254.170.2"

/* Routes of §7.2 that later work adds; until then they answer "not found" like any path. */
static void not_found(struct httpd_response *resp, const char *what)
{
        resp->status = 404;
        resp->body = endpoints_json_string(what);
}

void endpoints_task_server_handle(struct endpoints *ep, const struct httpd_request *req,
                                  struct httpd_response *resp)
{
        const char *p = req->path;

        if (endpoints_protection_route(ep, req, resp))
                return; /* GET and PUT */
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD")) {
                resp->status = 405;
                resp->body = endpoints_json_string("Method not allowed");
                return;
        }
        if (streq(p, "/v1/credentials")) {
                _cleanup_free_ char *id = NULL;
                int r = httpd_query_param(req->query, "id", &id);
                if (r < 0) {
                        /* An ID that does not decode is no ID we handed out. */
                        free(id);
                        id = strdup("\x01");
                }
                endpoints_credentials(ep, req, resp, 1, id);
                return;
        }
        if (streq(p, "/v2/credentials") || streq(p, "/v2/credentials/")) {
                endpoints_credentials(ep, req, resp, 2, NULL);
                return;
        }
        if (startswith(p, "/v2/credentials/") && !strchr(p + strlen("/v2/credentials/"), '/')) {
                endpoints_credentials(ep, req, resp, 2, p + strlen("/v2/credentials/"));
                return;
        }
        if (endpoints_metadata_route(ep, req, resp))
                return;
        not_found(resp, "Not found");
}

static void on_task_request(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
        endpoints_task_server_handle(ud, req, resp);
}

/* A throttled credentials request is audited, as the official limiter's hook does. */
static void on_task_throttled(const struct httpd_request *req, struct httpd_response *resp,
                              void *ud)
{
        if (startswith(req->path, "/v1/credentials") || startswith(req->path, "/v2/credentials"))
                endpoints_audit(ud, req, 429, NULL, "");
}

void endpoints_introspection_handle(struct endpoints *ep, const struct httpd_request *req,
                                    struct httpd_response *resp)
{
        endpoints_introspection_route(ep, req, resp);
}

static void on_introspection_request(const struct httpd_request *req, struct httpd_response *resp,
                                     void *ud)
{
        endpoints_introspection_handle(ud, req, resp);
}

static void open_audit_log(struct endpoints *ep)
{
        const struct ecs_config *cfg = ep->p.config;

        if (cfg->audit_log_disabled || isempty(cfg->audit_log_file))
                return;
        int fd =
            open(cfg->audit_log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0) {
                log_warning_errno(errno, "Cannot open the audit log %s: %m", cfg->audit_log_file);
                return;
        }
        ep->audit = fdopen(fd, "a");
        if (!ep->audit)
                close(fd);
}

static int listen_or_warn(struct httpd *s, const char *ip, uint16_t port)
{
        int r = httpd_listen(s, ip, port);
        if (r < 0)
                log_warning_errno(r, "Cannot listen on %s:%u: %m", ip, port);
        return r;
}

int endpoints_new(const struct endpoints_params *p, struct endpoints **ret)
{
        struct endpoints *ep = calloc(1, sizeof(*ep));
        int r;

        if (!ep)
                return -ENOMEM;
        ep->p = *p;
        /* Copies: the instance may replace its strings (a re-registration's zone). */
        ep->identity_storage[0] = strdup(strempty(p->identity.cluster));
        ep->identity_storage[1] = strdup(strempty(p->identity.container_instance_arn));
        ep->identity_storage[2] = strdup(strempty(p->identity.region));
        ep->identity_storage[3] =
            p->identity.availability_zone ? strdup(p->identity.availability_zone) : NULL;
        if (!ep->identity_storage[0] || !ep->identity_storage[1] || !ep->identity_storage[2] ||
            (p->identity.availability_zone && !ep->identity_storage[3])) {
                endpoints_free(ep);
                return -ENOMEM;
        }
        ep->p.identity =
            (struct endpoints_identity){ep->identity_storage[0], ep->identity_storage[1],
                                        ep->identity_storage[2], ep->identity_storage[3]};
        if (!ep->p.peer_cgroup)
                ep->p.peer_cgroup = net_socket_owner_cgroup;
        open_audit_log(ep);
        if (p->no_listen) {
                *ret = ep;
                return 0;
        }

        struct httpd_params tp = {
            .handler = on_task_request,
            .userdata = ep,
            .rate_steady = p->config->task_metadata_rps_steady,
            .rate_burst = p->config->task_metadata_rps_burst,
            .on_throttled = on_task_throttled,
        };
        r = httpd_new(p->loop, &tp, &ep->task_server);
        if (r >= 0) {
                r = listen_or_warn(ep->task_server,
                                   p->task_server_ip ? p->task_server_ip : "127.0.0.1",
                                   p->task_server_port ? p->task_server_port : TASK_SERVER_PORT);
                if (!p->no_endpoint_address)
                        (void)listen_or_warn(ep->task_server, ENDPOINT_IPV4, 80);
        }
        if (r < 0) {
                endpoints_free(ep);
                return r;
        }

        /* Loopback only unless allowed off-host (§7.1); tasks cannot reach it either way:
         * 169.254.170.2 answers only the task server. */
        struct httpd_params ip = {.handler = on_introspection_request, .userdata = ep};
        const char *iaddr = p->introspection_ip                             ? p->introspection_ip
                            : p->config->allow_offhost_introspection_access ? "0.0.0.0"
                                                                            : "127.0.0.1";
        r = httpd_new(p->loop, &ip, &ep->introspection);
        if (r >= 0)
                r = listen_or_warn(ep->introspection, iaddr,
                                   p->introspection_port ? p->introspection_port
                                                         : INTROSPECTION_PORT);
        if (r < 0) {
                endpoints_free(ep);
                return r;
        }
        *ret = ep;
        return 0;
}

struct endpoints *endpoints_free(struct endpoints *ep)
{
        if (!ep)
                return NULL;
        httpd_free(ep->task_server);
        httpd_free(ep->introspection);
        if (ep->audit)
                fclose(ep->audit);
        for (size_t i = 0; i < ELEMENTSOF(ep->identity_storage); i++)
                free(ep->identity_storage[i]);
        free(ep);
        return NULL;
}
