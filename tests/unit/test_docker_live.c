/* Tests the Docker client against the real dockerd (DOCKER_HOST or /var/run/docker.sock):
 * version/info, images, the container lifecycle with its events, conflicts, port bindings,
 * exit codes, OOM, listing by label, volumes, load and pull errors.
 *
 * Needs the image ecs-test/busybox:latest (scripts/test-images.sh). Everything created is
 * named with a per-run prefix and labelled ecs-agent-test=1, and is removed in each test's
 * teardown, even after a failure. Callbacks only record; assertions run outside the loop,
 * because a failed assertion longjmps and must not leave sd-event mid-dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/loop.h"
#include "ecs/uuid.h"

#define TEST_IMAGE "ecs-test/busybox:latest"
#define TEST_LABEL "ecs-agent-test"

static char docker_host[256];
static char prefix[64]; /* ecs-agent-test-<pid>-<hex> */

struct ctx {
        struct ecs_loop *loop;
        struct docker_client *client;
        struct docker_events *events;
        bool events_up;
        struct {
                enum docker_event_action action;
                char id[80];
                int exit_code;
        } seen[256];
        size_t n_seen;
};

/* ---- synchronous helpers (tests only) ---- */

struct outcome {
        bool done;
        int error;
        long status;
        char message[512];
        char value[256];
        /* container inspect */
        bool running, oom_killed, dead;
        enum docker_container_state state;
        int pid, exit_code;
        uint64_t started, finished;
        char name[256], label[128], ip[64], config_image[256];
        size_t n_ports;
        struct docker_port_binding ports[8];
        char port_ips[8][64];
        /* image / version / info / volume */
        char a[256], b[256], c[256];
        int64_t n1, n2;
};

static void record(struct outcome *o, const struct docker_result *res, const char *value)
{
        o->done = true;
        o->error = res->error;
        o->status = res->http_status;
        snprintf(o->message, sizeof(o->message), "%s", strempty(res->message));
        snprintf(o->value, sizeof(o->value), "%s", strempty(value));
        if (res->error < 0 && !res->message)
                snprintf(o->message, sizeof(o->message), "BUG: no message");
}

/* How long to wait for Docker to answer or for an event: a bound on a hang, not a performance
 * expectation. Longer than any of the client's own call timeouts, so a slow daemon ends in the
 * call's answer (checked) rather than in the test giving up. */
#define DOCKER_WAIT (6 * USEC_PER_MINUTE)

static bool run_until(struct ctx *t, bool *flag, uint64_t max_usec)
{
        uint64_t deadline = now_usec() + max_usec;
        while (!*flag && now_usec() < deadline)
                if (sd_event_run(ecs_loop_event(t->loop), 50 * USEC_PER_MSEC) < 0)
                        return false;
        return *flag;
}

#define WAIT(t, o, max)                                                                            \
        do {                                                                                       \
                if (!run_until((t), &(o)->done, (max)))                                            \
                        fail_msg("Docker call did not complete in time (line %d)", __LINE__);      \
        } while (0)

static void on_done(const struct docker_result *res, void *ud)
{
        record(ud, res, NULL);
}

static void on_create(const struct docker_result *res, const char *id, void *ud)
{
        record(ud, res, id);
}

static void on_inspect(const struct docker_result *res, const struct docker_container *c, void *ud)
{
        struct outcome *o = ud;

        record(o, res, c ? c->id : NULL);
        if (!c)
                return;
        o->running = c->running;
        o->oom_killed = c->oom_killed;
        o->dead = c->dead;
        o->state = c->state;
        o->pid = c->pid;
        o->exit_code = c->exit_code;
        o->started = c->started_at_usec;
        o->finished = c->finished_at_usec;
        snprintf(o->name, sizeof(o->name), "%s", strempty(c->name));
        snprintf(o->label, sizeof(o->label), "%s", strempty(docker_container_label(c, TEST_LABEL)));
        snprintf(o->config_image, sizeof(o->config_image), "%s", strempty(c->config_image));
        for (size_t i = 0; i < c->n_networks; i++)
                if (streq(c->networks[i].name, "bridge"))
                        snprintf(o->ip, sizeof(o->ip), "%s", strempty(c->networks[i].ip_address));
        o->n_ports = MIN(c->n_ports, ELEMENTSOF(o->ports));
        for (size_t i = 0; i < o->n_ports; i++) {
                o->ports[i] = c->ports[i];
                snprintf(o->port_ips[i], sizeof(o->port_ips[i]), "%s", c->ports[i].host_ip);
                o->ports[i].host_ip = o->port_ips[i];
        }
}

static void on_image(const struct docker_result *res, const struct docker_image *img, void *ud)
{
        struct outcome *o = ud;
        record(o, res, img ? img->id : NULL);
        /* Other tests may have tagged the same image under more names. */
        strv_foreach (tag, img ? img->repo_tags : NULL)
                if (streq(*tag, TEST_IMAGE))
                        snprintf(o->a, sizeof(o->a), "%s", *tag);
}

static void on_version(const struct docker_result *res, const struct docker_version *v, void *ud)
{
        struct outcome *o = ud;
        record(o, res, v ? v->api_version : NULL);
        if (v)
                snprintf(o->a, sizeof(o->a), "%s", strempty(v->version));
}

static void on_info(const struct docker_result *res, const struct docker_info *info, void *ud)
{
        struct outcome *o = ud;
        record(o, res, info ? info->cgroup_driver : NULL);
        if (!info)
                return;
        snprintf(o->a, sizeof(o->a), "%s", strempty(info->cgroup_version));
        snprintf(o->b, sizeof(o->b), "%s", strempty(info->driver));
        snprintf(o->c, sizeof(o->c), "%s", strempty(info->server_version));
        o->n1 = info->ncpu;
        o->n2 = (int64_t)info->mem_total;
}

static void on_volume(const struct docker_result *res, const struct docker_volume *v, void *ud)
{
        struct outcome *o = ud;
        record(o, res, v ? v->name : NULL);
        if (!v)
                return;
        snprintf(o->a, sizeof(o->a), "%s",
                 strempty(docker_kv_get(v->labels, v->n_labels, TEST_LABEL)));
        snprintf(o->b, sizeof(o->b), "%s",
                 strempty(docker_kv_get(v->options, v->n_options, "type")));
        snprintf(o->c, sizeof(o->c), "%s", strempty(v->mountpoint));
}

static void on_load(const struct docker_result *res, const char *loaded, void *ud)
{
        record(ud, res, loaded);
}

static void on_pull(const struct docker_result *res, const char *digest, void *ud)
{
        record(ud, res, digest);
}

static void on_event(struct docker_events *ev, const struct docker_event *e, void *ud)
{
        struct ctx *t = ud;
        if (t->n_seen >= ELEMENTSOF(t->seen))
                return;
        t->seen[t->n_seen].action = e->action;
        t->seen[t->n_seen].exit_code = e->exit_code;
        snprintf(t->seen[t->n_seen].id, sizeof(t->seen[0].id), "%s", e->id);
        t->n_seen++;
}

static void on_events_state(struct docker_events *ev, enum docker_events_state st, int error,
                            void *ud)
{
        struct ctx *t = ud;
        t->events_up = st != DOCKER_EVENTS_DISCONNECTED;
}

/* Index of the first event (action, id) seen, waiting up to max_usec; -1 if none came. */
static int wait_event(struct ctx *t, enum docker_event_action action, const char *id,
                      uint64_t max_usec)
{
        uint64_t deadline = now_usec() + max_usec;
        for (;;) {
                for (size_t i = 0; i < t->n_seen; i++)
                        if (t->seen[i].action == action && streq(t->seen[i].id, id))
                                return (int)i;
                if (now_usec() >= deadline)
                        return -1;
                sd_event_run(ecs_loop_event(t->loop), 50 * USEC_PER_MSEC);
        }
}

static void events_start(struct ctx *t)
{
        char *labels[] = {TEST_LABEL "=1", NULL};
        struct docker_events_options opts = {
            /* A second of replay covers the moment between subscribing and being confirmed. */
            .since_usec = realtime_usec() - USEC_PER_SEC,
            .labels = labels,
            .on_event = on_event,
            .on_state = on_events_state,
            .userdata = t,
        };
        assert_int_equal(docker_events_new(t->client, &opts, &t->events), 0);
        if (!run_until(t, &t->events_up, DOCKER_WAIT))
                fail_msg("Docker event stream did not connect");
}

/* Builds a create body: image, cmd (sh -c), our labels, optional HostConfig. */
static json_object *create_config(const char *cmd, json_object *host_config)
{
        json_object *cfg = json_object_new_object();
        json_object *argv = json_object_new_array();
        json_object *labels = json_object_new_object();

        json_add_string(cfg, "Image", TEST_IMAGE);
        json_object_array_add(argv, json_object_new_string("sh"));
        json_object_array_add(argv, json_object_new_string("-c"));
        json_object_array_add(argv, json_object_new_string(cmd));
        json_add(cfg, "Cmd", argv);
        json_add_string(labels, TEST_LABEL, "1");
        json_add_string(labels, "com.amazonaws.ecs.container-name", "web");
        json_add(cfg, "Labels", labels);
        if (!host_config)
                host_config = json_object_new_object();
        json_add(cfg, "HostConfig", host_config);
        return cfg;
}

static void create_container_cfg(struct ctx *t, const char *suffix, json_object *cfg,
                                 char ret_id[static 80])
{
        struct outcome o = {};
        char name[128];

        snprintf(name, sizeof(name), "%s-%s", prefix, suffix);
        assert_int_equal(docker_container_create(t->client, name, cfg, 0, on_create, &o, NULL), 0);
        json_object_put(cfg);
        WAIT(t, &o, DOCKER_WAIT);
        if (o.error < 0)
                fail_msg("create %s: %d %s", name, o.error, o.message);
        assert_true(strlen(o.value) == 64);
        memcpy(ret_id, o.value, 65);
}

static void create_container(struct ctx *t, const char *suffix, const char *cmd,
                             json_object *host_config, char ret_id[static 80])
{
        create_container_cfg(t, suffix, create_config(cmd, host_config), ret_id);
}

static void start_container(struct ctx *t, const char *id)
{
        struct outcome o = {};
        assert_int_equal(docker_container_start(t->client, id, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        if (o.error < 0)
                fail_msg("start %s: %d %s", id, o.error, o.message);
}

static struct outcome inspect_container(struct ctx *t, const char *id)
{
        struct outcome o = {};
        assert_int_equal(docker_container_inspect(t->client, id, 0, on_inspect, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        return o;
}

/* ---- fixtures ---- */

static struct ctx *ctx_new(void)
{
        struct ctx *t = calloc(1, sizeof(*t));
        struct outcome o = {};

        assert_non_null(t);
        assert_int_equal(ecs_loop_new(&t->loop), 0);
        assert_int_equal(docker_client_new(t->loop, docker_host, &t->client), 0);
        assert_int_equal(docker_client_version(t->client, 0, on_version, &o, NULL), 0);
        if (!run_until(t, &o.done, DOCKER_WAIT) || o.error < 0)
                fail_msg("Docker at %s does not answer /version: %s", docker_host, o.message);
        return t;
}

static void ctx_free(struct ctx *t)
{
        if (!t)
                return;
        docker_events_free(t->events);
        docker_client_free(t->client);
        ecs_loop_free(t->loop);
        free(t);
}

struct cleanup {
        bool done;
        char ids[64][80];
        size_t n;
};

static void on_cleanup_list(const struct docker_result *res,
                            const struct docker_container_summary *l, size_t n, void *ud)
{
        struct cleanup *c = ud;
        c->done = true;
        for (size_t i = 0; i < n && c->n < ELEMENTSOF(c->ids); i++)
                if (l[i].name && strncmp(l[i].name, prefix, strlen(prefix)) == 0)
                        snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", l[i].id);
}

/* Removes the containers and volumes of this run, with a fresh loop: the test's own may have
 * been abandoned by a failed assertion. */
static void cleanup_all(void)
{
        struct ctx *t = ctx_new();
        struct cleanup c = {};
        char *labels[] = {TEST_LABEL "=1", NULL};

        assert_int_equal(docker_container_list(t->client, labels, 0, on_cleanup_list, &c, NULL), 0);
        run_until(t, &c.done, DOCKER_WAIT);
        for (size_t i = 0; i < c.n; i++) {
                struct outcome o = {};
                if (docker_container_remove(t->client, c.ids[i], true, true, 0, on_done, &o,
                                            NULL) >= 0)
                        run_until(t, &o.done, DOCKER_WAIT);
        }
        for (int i = 0; i < 2; i++) {
                struct outcome o = {};
                char name[128];
                snprintf(name, sizeof(name), "%s-vol%d", prefix, i);
                if (docker_volume_remove(t->client, name, true, 0, on_done, &o, NULL) >= 0)
                        run_until(t, &o.done, DOCKER_WAIT);
        }
        ctx_free(t);
}

static int setup(void **state)
{
        *state = ctx_new();
        return 0;
}

static int teardown(void **state)
{
        ctx_free(*state);
        cleanup_all();
        return 0;
}

static int group_setup(void **state)
{
        const char *h = getenv("DOCKER_HOST");
        char hex[9];
        struct stat st;

        snprintf(docker_host, sizeof(docker_host), "%s", isempty(h) ? DOCKER_DEFAULT_HOST : h);
        if (strncmp(docker_host, "unix://", 7) == 0 &&
            (stat(docker_host + 7, &st) < 0 || !S_ISSOCK(st.st_mode))) {
                fprintf(stderr,
                        "FATAL: no Docker socket at %s: start dockerd (scripts/test.sh does) or "
                        "set DOCKER_HOST\n",
                        docker_host + 7);
                return -1;
        }
        assert_int_equal(random_hex(hex, 4), 0);
        snprintf(prefix, sizeof(prefix), "ecs-agent-test-%d-%s", (int)getpid(), hex);
        return 0;
}

/* ---- tests ---- */

static void test_version_info(void **state)
{
        struct ctx *t = *state;
        struct outcome o = {};

        /* ctx_new negotiated already. */
        assert_non_null(docker_client_api_version(t->client));
        assert_true(strcmp(docker_client_api_version(t->client), DOCKER_API_VERSION_MIN) >= 0);
        assert_true(strcmp(docker_client_api_version(t->client), DOCKER_API_VERSION_MAX) <= 0);

        assert_int_equal(docker_client_info(t->client, 0, on_info, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        assert_true(streq(o.value, "cgroupfs") || streq(o.value, "systemd"));
        assert_true(o.n1 > 0);
        assert_true(o.n2 > 64 * 1024 * 1024);
        assert_true(strlen(o.b) > 0);
        assert_true(strlen(o.c) > 0);
        print_message("docker %s api %s cgroup %s/%s storage %s ncpu %lld mem %lld MiB\n", o.c,
                      docker_client_api_version(t->client), o.value, o.a, o.b, (long long)o.n1,
                      (long long)(o.n2 >> 20));

        o = (struct outcome){};
        assert_int_equal(docker_client_ping(t->client, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.status, 200);
}

static void test_image_inspect(void **state)
{
        struct ctx *t = *state;
        struct outcome o = {};

        assert_int_equal(docker_image_inspect(t->client, TEST_IMAGE, 0, on_image, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        if (o.error == -ENOENT)
                fail_msg("image %s is missing: run scripts/test-images.sh", TEST_IMAGE);
        assert_int_equal(o.error, 0);
        assert_int_equal(strncmp(o.value, "sha256:", 7), 0);
        assert_string_equal(o.a, TEST_IMAGE);

        o = (struct outcome){};
        assert_int_equal(
            docker_image_inspect(t->client, "ecs-test/no-such-image:nope", 0, on_image, &o, NULL),
            0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);
        assert_int_equal(o.status, 404);
        assert_non_null(strcasestr(o.message, "no such image"));
}

static double elapsed_ms(uint64_t since)
{
        return (double)(now_usec() - since) / 1000.0;
}

static void test_container_lifecycle(void **state)
{
        struct ctx *t = *state;
        struct outcome o;
        char id[80];
        uint64_t t0;
        double ms_create, ms_start, ms_stop, ms_remove;

        events_start(t);

        t0 = now_usec();
        create_container(t, "life", "exec sleep 30", NULL, id);
        ms_create = elapsed_ms(t0);
        assert_true(wait_event(t, DOCKER_EVENT_CREATE, id, DOCKER_WAIT) >= 0);

        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.state, DOCKER_CONTAINER_CREATED);
        assert_int_equal(o.started, 0);
        assert_false(o.running);

        t0 = now_usec();
        start_container(t, id);
        ms_start = elapsed_ms(t0);
        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        assert_true(o.running);
        assert_int_equal(o.state, DOCKER_CONTAINER_RUNNING);
        assert_true(o.pid > 0);
        assert_true(o.started > 0);
        assert_int_equal(o.finished, 0);
        assert_string_equal(o.label, "1");
        assert_string_equal(o.config_image, TEST_IMAGE);
        assert_int_equal(strncmp(o.name, prefix, strlen(prefix)), 0);
        assert_true(strlen(o.ip) > 0);
        assert_true(wait_event(t, DOCKER_EVENT_START, id, DOCKER_WAIT) >= 0);

        /* Starting a running container is not an error (304). */
        o = (struct outcome){};
        assert_int_equal(docker_container_start(t->client, id, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.status, 304);

        t0 = now_usec();
        o = (struct outcome){};
        assert_int_equal(docker_container_stop(t->client, id, 1, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        ms_stop = elapsed_ms(t0);
        assert_int_equal(o.error, 0);
        int i = wait_event(t, DOCKER_EVENT_DIE, id, DOCKER_WAIT);
        assert_true(i >= 0);
        /* sleep as PID 1 ignores SIGTERM, so Docker kills it after the grace period. */
        assert_true(t->seen[i].exit_code == 143 || t->seen[i].exit_code == 137);
        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        assert_false(o.running);
        assert_int_equal(o.state, DOCKER_CONTAINER_EXITED);
        assert_true(o.exit_code == 143 || o.exit_code == 137);
        assert_true(o.finished >= o.started);

        /* Stopping again: 304, success. */
        o = (struct outcome){};
        assert_int_equal(docker_container_stop(t->client, id, 1, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);

        t0 = now_usec();
        o = (struct outcome){};
        assert_int_equal(docker_container_remove(t->client, id, true, false, 0, on_done, &o, NULL),
                         0);
        WAIT(t, &o, DOCKER_WAIT);
        ms_remove = elapsed_ms(t0);
        assert_int_equal(o.error, 0);
        assert_true(wait_event(t, DOCKER_EVENT_DESTROY, id, DOCKER_WAIT) >= 0);

        o = inspect_container(t, id);
        assert_int_equal(o.error, -ENOENT);
        assert_non_null(strcasestr(o.message, "no such container"));

        /* Everything on a missing container is -ENOENT. */
        o = (struct outcome){};
        assert_int_equal(docker_container_stop(t->client, id, 1, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);
        o = (struct outcome){};
        assert_int_equal(docker_container_start(t->client, id, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);
        o = (struct outcome){};
        assert_int_equal(docker_container_remove(t->client, id, true, true, 0, on_done, &o, NULL),
                         0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);

        print_message("client: create %.1f ms, start %.1f ms, stop(t=1) %.1f ms, remove %.1f ms\n",
                      ms_create, ms_start, ms_stop, ms_remove);
}

static void test_create_conflict(void **state)
{
        struct ctx *t = *state;
        struct outcome o = {};
        char id[80], name[128];

        create_container(t, "dup", "true", NULL, id);
        snprintf(name, sizeof(name), "%s-dup", prefix);
        json_object *cfg = create_config("true", NULL);
        assert_int_equal(docker_container_create(t->client, name, cfg, 0, on_create, &o, NULL), 0);
        json_object_put(cfg);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -EEXIST);
        assert_int_equal(o.status, 409);
        assert_non_null(strstr(o.message, "already in use"));
        /* The caller adopts by name. */
        o = inspect_container(t, name);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, id);

        /* A bad body is -EINVAL with Docker's reason. */
        o = (struct outcome){};
        json_object *bad = json_object_new_object();
        json_add_string(bad, "Image", TEST_IMAGE);
        json_object *hc = json_object_new_object();
        json_add_int(hc, "Memory", 1);
        json_add(bad, "HostConfig", hc);
        snprintf(name, sizeof(name), "%s-bad", prefix);
        assert_int_equal(docker_container_create(t->client, name, bad, 0, on_create, &o, NULL), 0);
        json_object_put(bad);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -EINVAL);
        assert_int_equal(o.status, 400);
        assert_non_null(strstr(o.message, "Minimum memory limit"));

        /* A missing image: -ENOENT (CannotCreateContainerError: <message>). */
        o = (struct outcome){};
        json_object *noimg = json_object_new_object();
        json_add_string(noimg, "Image", "ecs-test/no-such-image:nope");
        snprintf(name, sizeof(name), "%s-noimg", prefix);
        assert_int_equal(docker_container_create(t->client, name, noimg, 0, on_create, &o, NULL),
                         0);
        json_object_put(noimg);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);
        assert_non_null(strcasestr(o.message, "no such image"));
}

static void test_port_binding(void **state)
{
        struct ctx *t = *state;
        struct outcome o;
        char id[80];

        /* {"PortBindings":{"80/tcp":[{"HostPort":"0"}]}}: Docker picks the host port. */
        const char *pb = "{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"0\"}]}}";
        json_object *hc = NULL;
        assert_int_equal(json_parse(pb, strlen(pb), &hc), 0);
        json_object *cfg = create_config("exec sleep 30", hc), *exposed = NULL;
        /* As the agent does (and the CLI's -p): a bound port is also exposed. */
        assert_int_equal(json_parse("{\"80/tcp\":{}}", 13, &exposed), 0);
        json_add(cfg, "ExposedPorts", exposed);
        create_container_cfg(t, "ports", cfg, id);
        start_container(t, id);
        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        assert_true(o.n_ports >= 1);
        uint16_t hport = 0;
        for (size_t i = 0; i < o.n_ports; i++) {
                assert_int_equal(o.ports[i].container_port, 80);
                assert_string_equal(o.ports[i].protocol, "tcp");
                assert_true(o.ports[i].host_port > 0);
                assert_true(streq(o.ports[i].host_ip, "0.0.0.0") ||
                            streq(o.ports[i].host_ip, "::"));
                /* IPv4 and IPv6 bindings share the port. */
                if (hport)
                        assert_int_equal(o.ports[i].host_port, hport);
                hport = o.ports[i].host_port;
        }
        print_message("80/tcp bound to host port %u (%zu bindings)\n", hport, o.n_ports);

        /* kill, then kill again: not running is a conflict. */
        o = (struct outcome){};
        assert_int_equal(docker_container_kill(t->client, id, "SIGKILL", 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        o = (struct outcome){};
        for (int i = 0; i < 20; i++) {
                o = inspect_container(t, id);
                if (!o.running)
                        break;
                usleep(50000);
        }
        assert_int_equal(o.exit_code, 137);
        o = (struct outcome){};
        assert_int_equal(docker_container_kill(t->client, id, NULL, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -EBUSY);
        assert_non_null(strstr(o.message, "is not running"));
}

static void test_exit_code(void **state)
{
        struct ctx *t = *state;
        struct outcome o;
        char id[80];

        events_start(t);
        create_container(t, "exit3", "exit 3", NULL, id);
        start_container(t, id);
        int i = wait_event(t, DOCKER_EVENT_DIE, id, DOCKER_WAIT);
        assert_true(i >= 0);
        assert_int_equal(t->seen[i].exit_code, 3);
        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.exit_code, 3);
        assert_false(o.oom_killed);
        assert_int_equal(o.state, DOCKER_CONTAINER_EXITED);
        assert_true(o.finished > 0);
}

static void test_oom(void **state)
{
        struct ctx *t = *state;
        struct outcome o;
        char id[80];
        json_object *hc = json_object_new_object();

        /* 8 MiB and no swap: the doubling string hits the limit within a second. */
        json_add_int(hc, "Memory", 8 * 1024 * 1024);
        json_add_int(hc, "MemorySwap", 8 * 1024 * 1024);
        events_start(t);
        create_container(t, "oom", "x=1234567890; while true; do x=$x$x; done", hc, id);
        start_container(t, id);
        int i = wait_event(t, DOCKER_EVENT_DIE, id, DOCKER_WAIT);
        if (i < 0)
                fail_msg("memory hog did not die within 8 s");
        o = inspect_container(t, id);
        assert_int_equal(o.error, 0);
        if (!o.oom_killed)
                fail_msg("OOMKilled false (exit code %d): kernel did not report the OOM kill",
                         o.exit_code);
        assert_int_equal(o.exit_code, 137);
        assert_int_equal(t->seen[i].exit_code, 137);
        /* Docker emits "oom" before "die" when it sees the cgroup OOM event. */
        assert_true(wait_event(t, DOCKER_EVENT_OOM, id, DOCKER_WAIT) >= 0);
}

struct listed {
        bool done;
        int error;
        int found;
        size_t n;
        char ids[2][80];
        char state[2][16];
};

static void on_list(const struct docker_result *res, const struct docker_container_summary *l,
                    size_t n, void *ud)
{
        struct listed *c = ud;
        c->done = true;
        c->error = res->error;
        c->n = n;
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 2; k++)
                        if (streq(l[i].id, c->ids[k])) {
                                c->found++;
                                snprintf(c->state[k], sizeof(c->state[k]), "%s",
                                         strna(docker_container_state_to_string(l[i].state)));
                                if (!streq_ptr(docker_kv_get(l[i].labels, l[i].n_labels,
                                                             "com.amazonaws.ecs.container-name"),
                                               "web") ||
                                    !l[i].name || strncmp(l[i].name, prefix, strlen(prefix)))
                                        c->found += 100; /* reported as a mismatch below */
                        }
}

static void test_list_by_label(void **state)
{
        struct ctx *t = *state;
        struct listed c = {};
        char *labels[] = {TEST_LABEL "=1", "com.amazonaws.ecs.container-name", NULL};

        create_container(t, "list0", "exec sleep 30", NULL, c.ids[0]);
        create_container(t, "list1", "true", NULL, c.ids[1]);
        start_container(t, c.ids[0]);
        assert_int_equal(docker_container_list(t->client, labels, 0, on_list, &c, NULL), 0);
        run_until(t, &c.done, DOCKER_WAIT);
        assert_true(c.done);
        assert_int_equal(c.error, 0);
        assert_int_equal(c.found, 2);
        assert_string_equal(c.state[0], "running");
        /* list1 ran "true" (created, not started) */
        assert_string_equal(c.state[1], "created");

        /* A label nobody has. */
        char key[128];
        snprintf(key, sizeof(key), "%s-nobody=1", prefix);
        char *none[] = {key, NULL};
        struct listed d = {};
        assert_int_equal(docker_container_list(t->client, none, 0, on_list, &d, NULL), 0);
        run_until(t, &d.done, DOCKER_WAIT);
        assert_true(d.done);
        assert_int_equal(d.error, 0);
        assert_int_equal(d.n, 0);
}

static void test_volume(void **state)
{
        struct ctx *t = *state;
        struct outcome o = {};
        char name[128];
        struct docker_kv labels[] = {{TEST_LABEL, "1"}, {"com.amazonaws.ecs.task-arn", "arn:x"}};
        struct docker_kv opts[] = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}};

        snprintf(name, sizeof(name), "%s-vol0", prefix);
        struct docker_volume_spec spec = {.name = name,
                                          .driver_opts = opts,
                                          .n_driver_opts = ELEMENTSOF(opts),
                                          .labels = labels,
                                          .n_labels = ELEMENTSOF(labels)};
        assert_int_equal(docker_volume_create(t->client, &spec, 0, on_volume, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        if (o.error < 0)
                fail_msg("volume create: %s", o.message);
        assert_string_equal(o.value, name);
        assert_string_equal(o.a, "1");

        o = (struct outcome){};
        assert_int_equal(docker_volume_inspect(t->client, name, 0, on_volume, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.a, "1");
        assert_string_equal(o.b, "tmpfs");
        assert_true(strlen(o.c) > 0);

        o = (struct outcome){};
        assert_int_equal(docker_volume_remove(t->client, name, false, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);

        o = (struct outcome){};
        assert_int_equal(docker_volume_inspect(t->client, name, 0, on_volume, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);
        o = (struct outcome){};
        assert_int_equal(docker_volume_remove(t->client, name, false, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -ENOENT);

        /* In use by a container: -EBUSY. */
        snprintf(name, sizeof(name), "%s-vol1", prefix);
        spec = (struct docker_volume_spec){.name = name, .labels = labels, .n_labels = 1};
        o = (struct outcome){};
        assert_int_equal(docker_volume_create(t->client, &spec, 0, on_volume, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, 0);
        json_object *hc = json_object_new_object();
        json_object *binds = json_object_new_array();
        char bind[160];
        snprintf(bind, sizeof(bind), "%s:/data", name);
        json_object_array_add(binds, json_object_new_string(bind));
        json_add(hc, "Binds", binds);
        char id[80];
        create_container(t, "voluser", "true", hc, id);
        o = (struct outcome){};
        assert_int_equal(docker_volume_remove(t->client, name, false, 0, on_done, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_int_equal(o.error, -EBUSY);
        assert_non_null(strstr(o.message, "in use"));
}

struct saved {
        bool done;
        int error;
        long status;
        char *body;
        size_t len;
};

static void on_saved(const struct ecs_http_response *resp, void *ud)
{
        struct saved *s = ud;
        s->done = true;
        s->error = resp->error;
        s->status = resp->status;
        if (resp->body && resp->error == 0) {
                s->body = malloc(resp->body_len);
                if (s->body) {
                        memcpy(s->body, resp->body, resp->body_len);
                        s->len = resp->body_len;
                }
        }
}

static void test_image_load(void **state)
{
        struct ctx *t = *state;
        struct saved s = {};
        struct outcome o = {};
        char url[256];

        /* `docker save` of the test image through the API, then load it back. */
        assert_int_equal(strncmp(docker_host, "unix://", 7), 0);
        snprintf(url, sizeof(url), "http://docker/images/%s/get", TEST_IMAGE);
        struct ecs_http_request req = {.url = url,
                                       .unix_socket = docker_host + 7,
                                       .timeout_usec = 10 * USEC_PER_SEC,
                                       .max_response = 32 * 1024 * 1024};
        assert_int_equal(ecs_http_start(t->loop, &req, on_saved, &s, NULL), 0);
        run_until(t, &s.done, DOCKER_WAIT);
        assert_true(s.done);
        assert_int_equal(s.error, 0);
        assert_int_equal(s.status, 200);
        assert_true(s.len > 1024);

        assert_int_equal(docker_image_load(t->client, s.body, s.len, 0, on_load, &o, NULL), 0);
        free(s.body);
        WAIT(t, &o, DOCKER_WAIT);
        if (o.error < 0)
                fail_msg("load: %d %s", o.error, o.message);
        assert_string_equal(o.value, TEST_IMAGE);

        /* Not a tarball: the daemon's error travels back. */
        o = (struct outcome){};
        assert_int_equal(docker_image_load(t->client, "garbage", 7, 0, on_load, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_true(o.error < 0);
        assert_true(strlen(o.message) > 0);
}

static void test_pull_unreachable(void **state)
{
        struct ctx *t = *state;
        struct outcome o = {};

        /* Nothing listens on port 1: the registry error comes back as Docker's message. */
        struct docker_pull_options po = {.image = "localhost:1/ecs-test/nothing:latest",
                                         .timeout_usec = 8 * USEC_PER_SEC};
        assert_int_equal(docker_image_pull(t->client, &po, on_pull, &o, NULL), 0);
        WAIT(t, &o, DOCKER_WAIT);
        assert_true(o.error < 0);
        assert_non_null(strstr(o.message, "localhost:1"));
        print_message("pull error %d (HTTP %ld): %s\n", o.error, o.status, o.message);
}

static void test_cancel_and_free(void **state)
{
        struct ctx *t = *state;
        struct outcome a = {}, b = {};
        struct docker_call *call = NULL;

        /* A cancelled call never calls back; freeing the client cancels the rest and stops
         * the event stream. */
        events_start(t);
        assert_int_equal(docker_client_info(t->client, 0, on_info, &a, &call), 0);
        docker_call_cancel(call);
        assert_int_equal(docker_client_ping(t->client, 0, on_done, &b, NULL), 0);
        t->client = docker_client_free(t->client);
        for (int i = 0; i < 10; i++)
                sd_event_run(ecs_loop_event(t->loop), 20 * USEC_PER_MSEC);
        assert_false(a.done);
        assert_false(b.done);
        t->events = docker_events_free(t->events);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_version_info, setup, teardown),
            cmocka_unit_test_setup_teardown(test_image_inspect, setup, teardown),
            cmocka_unit_test_setup_teardown(test_container_lifecycle, setup, teardown),
            cmocka_unit_test_setup_teardown(test_create_conflict, setup, teardown),
            cmocka_unit_test_setup_teardown(test_port_binding, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
            cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
            cmocka_unit_test_setup_teardown(test_list_by_label, setup, teardown),
            cmocka_unit_test_setup_teardown(test_volume, setup, teardown),
            cmocka_unit_test_setup_teardown(test_image_load, setup, teardown),
            cmocka_unit_test_setup_teardown(test_pull_unreachable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
        };
        return cmocka_run_group_tests_name("test_docker_live", tests, group_setup, NULL);
}
