/* libFuzzer target: arbitrary bytes as what a container or a local process sends to the
 * agent's endpoints. Each request the parser accepts goes through both routers and their
 * handlers (credentials with an ID in the store, introspection over a real, empty engine),
 * from the first byte to the answer, exactly as a connection would; then the rest of the
 * input is parsed as the next request on the same connection. It must never crash or leak,
 * and every refusal must be an HTTP error status. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/config.h"
#include "ecs/credstore.h"
#include "ecs/docker.h"
#include "ecs/endpoints.h"
#include "ecs/engine.h"
#include "ecs/httpd.h"
#include "ecs/loop.h"

static struct ecs_loop *loop;
static struct docker_client *docker;
static struct engine *engine;
static struct credstore *store;
static struct endpoints *ep;
static struct ecs_config config;

static int no_cgroup(const char *peer_ip, uint16_t peer_port, const char *local_ip,
                     uint16_t local_port, char **ret)
{
        return -ENOENT;
}

static void setup(void)
{
        if (ep)
                return;
        if (ecs_loop_new(&loop) < 0 ||
            docker_client_new(loop, "unix:///nonexistent/docker.sock", &docker) < 0 ||
            credstore_new(&store) < 0)
                abort();
        config.credentials_bound_to_task = true;
        config.audit_log_disabled = true;
        struct engine_params e = {.loop = loop,
                                  .docker = docker,
                                  .config = &config,
                                  .region = "us-west-2",
                                  .cluster = "fuzz"};
        if (engine_new(&e, &engine) < 0)
                abort();
        struct task_credentials tc = {
            .credentials_id = "abcd-1234",
            .task_arn = "arn:aws:ecs:us-west-2:1:task/fuzz/1",
            .role_arn = "arn:aws:iam::1:role/r",
            .access_key_id = "ASIAFUZZ",
            .secret_access_key = "secret",
            .session_token = "token",
            .expiration = "2030-01-01T00:00:00Z",
        };
        if (credstore_put(store, &tc) < 0)
                abort();
        /* No server is started: the handlers are called directly. */
        struct endpoints_params p = {
            .loop = loop,
            .config = &config,
            .engine = engine,
            .credstore = store,
            .identity = {"fuzz", "arn:aws:ecs:us-west-2:1:container-instance/fuzz/1", "us-west-2",
                         NULL},
            .no_listen = true,
            .peer_cgroup = no_cgroup,
        };
        if (endpoints_new(&p, &ep) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;

        setup();
        for (int round = 0; round < 4 && size > 0; round++) {
                struct httpd_parsed p;
                int r = httpd_parse_request(buf, size, &p);
                if (r == HTTPD_PARSE_INCOMPLETE || r == -ENOMEM)
                        return 0;
                if (r != HTTPD_PARSE_DONE) {
                        if (r < 400 || r > 505 || !httpd_reason_phrase(r))
                                abort();
                        return 0;
                }
                if (p.consumed == 0 || p.consumed > size)
                        abort();
                p.req.peer_ip = "172.17.0.5";
                p.req.peer_port = 40000;
                p.req.local_ip = "169.254.170.2";
                p.req.local_port = 80;
                for (int which = 0; which < 2; which++) {
                        struct httpd_response resp = {.status = 404};
                        if (which == 0)
                                endpoints_task_server_handle(ep, &p.req, &resp);
                        else
                                endpoints_introspection_handle(ep, &p.req, &resp);
                        if (resp.status < 200 || resp.status > 599)
                                abort();
                        free(resp.body);
                }
                buf += p.consumed;
                size -= p.consumed;
                httpd_parsed_done(&p);
        }
        return 0;
}
