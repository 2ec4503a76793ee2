/* Unit tests for the Docker client without a daemon: image references, inspect documents,
 * progress and event streams split at every byte boundary, error mapping; and the call
 * machinery and event-stream reconnection against a scripted fake daemon on a unix socket. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/loop.h"

/* ---- image references ---- */

static void test_image_ref(void **state)
{
        static const struct {
                const char *in, *repo, *tag, *digest;
        } ok[] = {
            {"busybox", "busybox", NULL, NULL},
            {"busybox:1.36", "busybox", "1.36", NULL},
            {"library/busybox:latest", "library/busybox", "latest", NULL},
            {"host:5000/ns/img:tag", "host:5000/ns/img", "tag", NULL},
            {"host:5000/img", "host:5000/img", NULL, NULL},
            {"localhost/img", "localhost/img", NULL, NULL},
            {"localhost:5000/a/b/c:v1.2_3-x", "localhost:5000/a/b/c", "v1.2_3-x", NULL},
            {"123456789012.dkr.ecr.us-west-2.amazonaws.com/web:prod",
             "123456789012.dkr.ecr.us-west-2.amazonaws.com/web", "prod", NULL},
            {"img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "img",
             NULL, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
            {"host:5000/"
             "img:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
             "host:5000/img", "1",
             "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
            {"my_ns/my__img-x.y", "my_ns/my__img-x.y", NULL, NULL},
            {"[::1]:5000/img:t", "[::1]:5000/img", "t", NULL},
            {"Registry.Example.com/img", "Registry.Example.com/img", NULL, NULL},
        };
        static const char *const bad[] = {
            "",
            "busybox:",
            ":tag",
            "Busybox",
            "ns/Img:tag",
            "img:ta g",
            "img@sha256:abc",
            "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeZ",
            "img@",
            "host:5000/",
            "a//b",
            "/img",
            "img/",
            "-img",
            "img:-tag",
            "img:"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "img\n",
            "host:port/img",
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                struct docker_image_ref ref = {};
                int r = docker_image_ref_parse(ok[i].in, &ref);
                if (r < 0)
                        fail_msg("'%s' rejected: %d", ok[i].in, r);
                assert_string_equal(ref.repository, ok[i].repo);
                if (ok[i].tag)
                        assert_string_equal(ref.tag, ok[i].tag);
                else
                        assert_null(ref.tag);
                if (ok[i].digest)
                        assert_string_equal(ref.digest, ok[i].digest);
                else
                        assert_null(ref.digest);
                docker_image_ref_done(&ref);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct docker_image_ref ref = {};
                int r = docker_image_ref_parse(bad[i], &ref);
                if (r != -EINVAL)
                        fail_msg("'%s' accepted (%d): repo=%s tag=%s", bad[i], r,
                                 strna(ref.repository), strna(ref.tag));
                assert_null(ref.repository);
        }
        assert_int_equal(docker_image_ref_parse(NULL, &(struct docker_image_ref){}), -EINVAL);
}

/* ---- time ---- */

static void test_time_parse(void **state)
{
        uint64_t t = 42;

        assert_int_equal(docker_time_parse("0001-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(docker_time_parse("1970-01-01T00:00:01Z", &t), 0);
        assert_int_equal(t, 1000000);
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52.182609008Z", &t), 0);
        assert_int_equal(t, 1795431712182609ULL);
        /* Nanoseconds beyond micro precision are truncated; short fractions are scaled. */
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52.5Z", &t), 0);
        assert_int_equal(t, 1795431712500000ULL);
        assert_int_equal(docker_time_parse("2026-11-23T12:01:52.182609008+01:00", &t), 0);
        assert_int_equal(t, 1795431712182609ULL);
        assert_int_equal(docker_time_parse("2026-11-23T10:31:52-00:30", &t), 0);
        assert_int_equal(t, 1795431712000000ULL);
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52.1234567891234Z", &t), 0);
        assert_int_equal(t, 1795431712123456ULL);

        t = 7;
        assert_int_equal(docker_time_parse("", &t), -EINVAL);
        assert_int_equal(docker_time_parse("2026-11-23", &t), -EINVAL);
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52", &t), -EINVAL);
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52.Z", &t), -EINVAL);
        assert_int_equal(docker_time_parse("2026-13-23T11:01:52Z", &t), -EINVAL);
        assert_int_equal(docker_time_parse("2026-11-23T11:01:52Zjunk", &t), -EINVAL);
        assert_int_equal(docker_time_parse(NULL, &t), -EINVAL);
        assert_int_equal(t, 7); /* untouched on failure */
}

/* ---- container inspect ---- */

static const char inspect_running[] =
    "{\"Id\":\"f44a5459c0509134916fee1a6deb540a0f51d38153f183e9b4e2ced49cc5c539\","
    "\"Created\":\"2026-11-23T11:01:51.728988922Z\",\"Path\":\"sleep\",\"Args\":[\"300\"],"
    "\"State\":{\"Status\":\"running\",\"Running\":true,\"Paused\":false,\"Restarting\":false,"
    "\"OOMKilled\":false,\"Dead\":false,\"Pid\":8330,\"ExitCode\":0,\"Error\":\"\","
    "\"StartedAt\":\"2026-11-23T11:01:52.182609008Z\",\"FinishedAt\":\"0001-01-01T00:00:00Z\","
    "\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":3,\"Log\":["
    "{\"Start\":\"2026-11-23T11:01:53.183469042Z\",\"End\":\"2026-11-23T11:01:53.265235335Z\","
    "\"ExitCode\":0,\"Output\":\"ok\\n\"},"
    "{\"Start\":\"2026-11-23T11:01:54.183469042Z\",\"End\":\"2026-11-23T11:01:54.265235335Z\","
    "\"ExitCode\":1,\"Output\":\"curl: (7) Failed to connect\\n\"}]}},"
    "\"Image\":\"sha256:ea20ea6319402f0cf083d778f5efb165e718aea57cc51781626acef0070366de\","
    "\"Name\":\"/ecs-web-12-web-c6a8f4e2b1d0e9f7a501\",\"RestartCount\":2,"
    "\"Driver\":\"overlay2\",\"Platform\":\"linux\",\"ExecIDs\":null,"
    "\"HostConfig\":{\"Binds\":null,\"NetworkMode\":\"default\",\"PortBindings\":{\"80/tcp\":"
    "[{\"HostIp\":\"\",\"HostPort\":\"\"}]},\"RestartPolicy\":{\"Name\":\"no\","
    "\"MaximumRetryCount\":0},\"Memory\":536870912,\"CpuShares\":256},"
    "\"Mounts\":[],"
    "\"Config\":{\"Hostname\":\"f44a5459c050\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{},"
    "\"9000/tcp\":{}},\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sleep\",\"300\"],"
    "\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":1000000000},"
    "\"Image\":\"nginx:1.25\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,"
    "\"Labels\":{\"com.amazonaws.ecs.task-arn\":\"arn:aws:ecs:us-west-2:123456789012:task/c/"
    "0123456789abcdef\",\"com.amazonaws.ecs.container-name\":\"web\",\"com.amazonaws.ecs.cluster"
    "\":\"default\",\"numeric\":7}},"
    "\"NetworkSettings\":{\"Bridge\":\"\",\"SandboxID\":\"08f907721241\",\"Ports\":{"
    "\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"32768\"},{\"HostIp\":\"::\","
    "\"HostPort\":\"32768\"}],"
    "\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"5353\"}],"
    "\"9000/tcp\":null},"
    "\"SandboxKey\":\"/var/run/docker/netns/08f907721241\",\"Gateway\":\"172.17.0.1\","
    "\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,\"MacAddress\":\"02:42:ac:11:00:02\","
    "\"Networks\":{\"bridge\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,"
    "\"NetworkID\":\"d6165da9b5b9\",\"EndpointID\":\"a0bb42117ec9\",\"Gateway\":\"172.17.0.1\","
    "\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,\"IPv6Gateway\":\"\","
    "\"GlobalIPv6Address\":\"2001:db8::2\",\"GlobalIPv6PrefixLen\":64,"
    "\"MacAddress\":\"02:42:ac:11:00:02\",\"DriverOpts\":null}}}}";

static void test_inspect_running(void **state)
{
        struct docker_container *c = NULL;

        assert_int_equal(docker_container_parse(inspect_running, strlen(inspect_running), &c), 0);
        assert_string_equal(c->id,
                            "f44a5459c0509134916fee1a6deb540a0f51d38153f183e9b4e2ced49cc5c539");
        assert_string_equal(c->name, "ecs-web-12-web-c6a8f4e2b1d0e9f7a501");
        assert_string_equal(
            c->image_id, "sha256:ea20ea6319402f0cf083d778f5efb165e718aea57cc51781626acef0070366de");
        assert_string_equal(c->config_image, "nginx:1.25");
        assert_int_equal(c->state, DOCKER_CONTAINER_RUNNING);
        assert_true(c->running);
        assert_false(c->oom_killed || c->dead || c->paused || c->restarting);
        assert_int_equal(c->pid, 8330);
        assert_int_equal(c->exit_code, 0);
        assert_null(c->error);
        assert_int_equal(c->started_at_usec, 1795431712182609ULL);
        assert_int_equal(c->finished_at_usec, 0);
        assert_int_equal(c->created_usec, 1795431711728988ULL);
        assert_int_equal(c->restart_count, 2);
        assert_string_equal(c->network_mode, "default");

        /* The last health log entry is the current one. */
        assert_int_equal(c->health, DOCKER_HEALTH_UNHEALTHY);
        assert_int_equal(c->health_exit_code, 1);
        assert_string_equal(c->health_output, "curl: (7) Failed to connect\n");

        /* Non-string label values are not labels. */
        assert_int_equal(c->n_labels, 3);
        assert_string_equal(docker_container_label(c, "com.amazonaws.ecs.container-name"), "web");
        assert_null(docker_container_label(c, "numeric"));
        assert_null(docker_container_label(c, "missing"));

        /* Published ports only (9000/tcp is exposed, not bound), IPv4 and IPv6 both. */
        assert_int_equal(c->n_ports, 3);
        bool v4 = false, v6 = false, udp = false;
        for (size_t i = 0; i < c->n_ports; i++) {
                struct docker_port_binding *p = &c->ports[i];
                if (p->container_port == 80) {
                        assert_string_equal(p->protocol, "tcp");
                        assert_int_equal(p->host_port, 32768);
                        if (streq(p->host_ip, "0.0.0.0"))
                                v4 = true;
                        else if (streq(p->host_ip, "::"))
                                v6 = true;
                } else {
                        assert_int_equal(p->container_port, 53);
                        assert_string_equal(p->protocol, "udp");
                        assert_string_equal(p->host_ip, "127.0.0.1");
                        assert_int_equal(p->host_port, 5353);
                        udp = true;
                }
        }
        assert_true(v4 && v6 && udp);

        assert_int_equal(c->n_networks, 1);
        assert_string_equal(c->networks[0].name, "bridge");
        assert_string_equal(c->networks[0].ip_address, "172.17.0.2");
        assert_string_equal(c->networks[0].ipv6_address, "2001:db8::2");
        docker_container_free(c);
}

static const char inspect_oom[] =
    "{\"Id\":\"aa11\",\"Created\":\"2026-11-23T11:05:00.000000001Z\","
    "\"State\":{\"Status\":\"exited\",\"Running\":false,\"Paused\":false,\"Restarting\":false,"
    "\"OOMKilled\":true,\"Dead\":false,\"Pid\":0,\"ExitCode\":137,\"Error\":\"\","
    "\"StartedAt\":\"2026-11-23T11:05:01.5Z\",\"FinishedAt\":\"2026-11-23T11:05:02.25Z\"},"
    "\"Image\":\"sha256:ea20\",\"Name\":\"/hog\",\"RestartCount\":0,"
    "\"HostConfig\":{\"NetworkMode\":\"bridge\",\"Memory\":8388608},"
    "\"Config\":{\"Image\":\"ecs-test/busybox:latest\",\"Labels\":{}},"
    "\"NetworkSettings\":{\"Ports\":{},\"Networks\":{\"bridge\":{\"IPAddress\":\"\","
    "\"GlobalIPv6Address\":\"\"}}}}";

static void test_inspect_oom(void **state)
{
        struct docker_container *c = NULL;

        assert_int_equal(docker_container_parse(inspect_oom, strlen(inspect_oom), &c), 0);
        assert_int_equal(c->state, DOCKER_CONTAINER_EXITED);
        assert_false(c->running);
        assert_true(c->oom_killed);
        assert_int_equal(c->exit_code, 137);
        assert_int_equal(c->started_at_usec, 1795431901500000ULL);
        assert_int_equal(c->finished_at_usec, 1795431902250000ULL);
        assert_int_equal(c->health, DOCKER_HEALTH_NONE);
        assert_null(c->health_output);
        assert_int_equal(c->n_labels, 0);
        assert_int_equal(c->n_ports, 0);
        /* A stopped container keeps its network entry without addresses. */
        assert_int_equal(c->n_networks, 1);
        assert_null(c->networks[0].ip_address);
        docker_container_free(c);
}

static const char inspect_created[] =
    "{\"Id\":\"bb22\",\"Created\":\"2026-11-23T11:06:00Z\","
    "\"State\":{\"Status\":\"created\",\"Running\":false,\"Paused\":false,\"Restarting\":false,"
    "\"OOMKilled\":false,\"Dead\":false,\"Pid\":0,\"ExitCode\":0,\"Error\":\"\","
    "\"StartedAt\":\"0001-01-01T00:00:00Z\",\"FinishedAt\":\"0001-01-01T00:00:00Z\"},"
    "\"Image\":\"sha256:ea20\",\"Name\":\"/never-started\",\"RestartCount\":0,"
    "\"HostConfig\":{\"NetworkMode\":\"none\"},"
    "\"Config\":{\"Image\":\"ecs-test/busybox\",\"Labels\":null},"
    "\"NetworkSettings\":{\"Ports\":null,\"Networks\":{}}}";

static void test_inspect_created(void **state)
{
        struct docker_container *c = NULL;

        assert_int_equal(docker_container_parse(inspect_created, strlen(inspect_created), &c), 0);
        assert_int_equal(c->state, DOCKER_CONTAINER_CREATED);
        assert_int_equal(c->started_at_usec, 0);
        assert_int_equal(c->finished_at_usec, 0);
        assert_null(c->error);
        assert_string_equal(c->name, "never-started");
        assert_string_equal(c->network_mode, "none");
        assert_int_equal(c->n_ports, 0);
        assert_int_equal(c->n_networks, 0);
        docker_container_free(c);
}

static const char inspect_dead[] =
    "{\"Id\":\"cc33\",\"Created\":\"2026-11-23T11:07:00Z\","
    "\"State\":{\"Status\":\"dead\",\"Running\":false,\"Paused\":false,\"Restarting\":false,"
    "\"OOMKilled\":false,\"Dead\":true,\"Pid\":0,\"ExitCode\":128,"
    "\"Error\":\"driver failed programming external connectivity: port is already allocated\","
    "\"StartedAt\":\"0001-01-01T00:00:00Z\",\"FinishedAt\":\"2026-11-23T11:07:01Z\"},"
    "\"Image\":\"sha256:ea20\",\"Name\":\"/zombie\","
    "\"Config\":{\"Image\":\"x\"},\"NetworkSettings\":{}}";

static void test_inspect_dead(void **state)
{
        struct docker_container *c = NULL;

        assert_int_equal(docker_container_parse(inspect_dead, strlen(inspect_dead), &c), 0);
        assert_int_equal(c->state, DOCKER_CONTAINER_DEAD);
        assert_true(c->dead);
        assert_int_equal(c->exit_code, 128);
        assert_string_equal(c->error,
                            "driver failed programming external connectivity: port is already "
                            "allocated");
        assert_int_equal(c->started_at_usec, 0);
        assert_int_equal(c->finished_at_usec, 1795432021000000ULL);
        assert_null(c->network_mode);
        docker_container_free(c);
}

static void test_inspect_invalid(void **state)
{
        static const char *const bad[] = {
            "",
            "[]",
            "{}",
            "{\"Id\":\"\",\"State\":{}}",
            "{\"Id\":\"x\"}",                                 /* no State */
            "{\"Id\":\"x\",\"State\":{\"Running\":\"yes\"}}", /* wrong type */
            "{\"Id\":\"x\",\"State\":{\"Pid\":\"12\"}}",      /* wrong type */
            "{\"Id\":\"x\",\"State\":{\"StartedAt\":\"yesterday\"}}",
            "{\"Id\":\"x\",\"State\":{}", /* truncated */
            "{\"Id\":\"x\",\"State\":{}} trailing",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct docker_container *c = NULL;
                int r = docker_container_parse(bad[i], strlen(bad[i]), &c);
                if (r != -EBADMSG)
                        fail_msg("'%s' gave %d", bad[i], r);
                assert_null(c);
        }
        /* Odd but harmless: unknown status, malformed port keys and host ports are skipped. */
        const char *odd = "{\"Id\":\"x\",\"State\":{\"Status\":\"zombie\"},\"NetworkSettings\":"
                          "{\"Ports\":{\"abc/tcp\":[{\"HostPort\":\"1\"}],\"80/tcp\":[{"
                          "\"HostPort\":\"99999\"},{\"HostPort\":\"x\"},7],\"0/udp\":[{"
                          "\"HostPort\":\"5\"}],\"81\":[{\"HostPort\":\"8081\"}]}}}";
        struct docker_container *c = NULL;
        assert_int_equal(docker_container_parse(odd, strlen(odd), &c), 0);
        assert_int_equal(c->state, _DOCKER_CONTAINER_STATE_INVALID);
        assert_int_equal(c->n_ports, 1);
        assert_int_equal(c->ports[0].container_port, 81);
        assert_string_equal(c->ports[0].protocol, "tcp");
        assert_string_equal(c->ports[0].host_ip, "0.0.0.0");
        assert_int_equal(c->ports[0].host_port, 8081);
        docker_container_free(c);
}

static void test_image_parse(void **state)
{
        const char *doc =
            "{\"Id\":\"sha256:ea20\",\"RepoTags\":[\"ecs-test/busybox:latest\",\"b:1\"],"
            "\"RepoDigests\":[\"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
            "0123456789abcdef\"],\"Created\":\"2026-11-23T11:01:40.81750112Z\",\"Size\":1982256,"
            "\"Os\":\"linux\",\"Architecture\":\"amd64\"}";
        struct docker_image *img = NULL;

        assert_int_equal(docker_image_parse(doc, strlen(doc), &img), 0);
        assert_string_equal(img->id, "sha256:ea20");
        assert_string_equal(img->repo_tags[0], "ecs-test/busybox:latest");
        assert_string_equal(img->repo_tags[1], "b:1");
        assert_null(img->repo_tags[2]);
        assert_non_null(strstr(img->repo_digests[0], "@sha256:0123"));
        assert_null(img->repo_digests[1]);
        assert_int_equal(img->size, 1982256);
        assert_int_equal(img->created_usec, 1795431700817501ULL);
        assert_string_equal(img->os, "linux");
        docker_image_free(img);

        /* Imported images have an empty RepoDigests; a null one is also an empty list. */
        img = NULL;
        assert_int_equal(docker_image_parse("{\"Id\":\"sha256:1\",\"RepoDigests\":null}", 36, &img),
                         0);
        assert_null(img->repo_digests[0]);
        assert_null(img->repo_tags[0]);
        docker_image_free(img);
        assert_int_equal(docker_image_parse("{\"RepoTags\":[]}", 15, &img), -EBADMSG);
}

/* ---- streams ---- */

struct collected {
        json_object *objs[64];
        size_t n;
};

static int collect(json_object *obj, void *userdata)
{
        struct collected *c = userdata;
        assert_true(c->n < ELEMENTSOF(c->objs));
        c->objs[c->n++] = json_object_get(obj);
        return 0;
}

static void collected_done(struct collected *c)
{
        for (size_t i = 0; i < c->n; i++)
                json_object_put(c->objs[i]);
        c->n = 0;
}

/* A pull that fails under HTTP 200, as Docker reports registry errors mid-stream. */
static const char pull_stream[] =
    "{\"status\":\"Pulling from library/busybox\",\"id\":\"1.36\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2c3\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1024,\"total\":4096},"
    "\"progress\":\"[====>   ] 1.024kB/4.096kB\",\"id\":\"a1b2c3\"}\r\n"
    "{\"status\":\"Digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "\"}\r\n"
    "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n"
    "{\"status\":\"Status: ignored after the error\"}\r\n";

static void check_pull_progress(struct docker_progress *p)
{
        assert_int_equal(p->n_objects, 6);
        assert_string_equal(p->error, "unexpected EOF");
        assert_null(p->message);
        assert_string_equal(
            p->digest, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        assert_int_equal(docker_pull_error_from_text(p->error), -EIO);
        assert_string_equal(p->last, "Status: ignored after the error");
}

static int progress_cb(json_object *obj, void *userdata)
{
        return docker_progress_parse(userdata, obj);
}

static void test_pull_progress_split(void **state)
{
        size_t len = strlen(pull_stream);

        /* Every split point, and one byte at a time. */
        for (size_t cut = 0; cut <= len; cut++) {
                struct docker_json_stream *s = NULL;
                struct docker_progress p = {};
                assert_int_equal(docker_json_stream_new(0, &s), 0);
                assert_int_equal(docker_json_stream_feed(s, pull_stream, cut, progress_cb, &p), 0);
                assert_int_equal(
                    docker_json_stream_feed(s, pull_stream + cut, len - cut, progress_cb, &p), 0);
                check_pull_progress(&p);
                docker_progress_done(&p);
                docker_json_stream_free(s);
        }
        struct docker_json_stream *s = NULL;
        struct docker_progress p = {};
        assert_int_equal(docker_json_stream_new(0, &s), 0);
        for (size_t i = 0; i < len; i++)
                assert_int_equal(docker_json_stream_feed(s, pull_stream + i, 1, progress_cb, &p),
                                 0);
        check_pull_progress(&p);
        docker_progress_done(&p);
        docker_json_stream_free(s);
}

static void test_progress_misc(void **state)
{
        struct docker_progress p = {};
        json_object *o = NULL;

        /* HTTP error bodies arrive through the same parser. */
        assert_int_equal(json_parse("{\"message\":\"pull access denied for nope\"}", 41, &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.message, "pull access denied for nope");
        assert_null(p.error);
        docker_progress_done(&p);

        /* errorDetail alone is enough. */
        assert_int_equal(json_parse("{\"errorDetail\":{\"message\":\"manifest unknown\"}}", 46, &o),
                         0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.error, "manifest unknown");
        assert_int_equal(docker_pull_error_from_text(p.error), -ENOENT);
        docker_progress_done(&p);

        /* docker load answers. */
        const char *load = "{\"stream\":\"Loaded image: amazon/amazon-ecs-pause:0.1.0\\n\"}";
        assert_int_equal(json_parse(load, strlen(load), &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.loaded, "amazon/amazon-ecs-pause:0.1.0");
        docker_progress_done(&p);
        load = "{\"stream\":\"Loaded image ID: sha256:abcd\\n\"}";
        assert_int_equal(json_parse(load, strlen(load), &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.loaded, "sha256:abcd");
        docker_progress_done(&p);

        /* The latest status line, for a timeout's message: id, status and bar; printable,
         * spaces squeezed and cut to fit; lines without a status leave it alone. */
        const char *dl = "{\"status\":\"Downloading\",\"id\":\"a1b2c3\",\"progress\":\"[>  ] "
                         "3.1MB/10.74GB\",\"progressDetail\":{\"current\":3100000}}";
        assert_int_equal(json_parse(dl, strlen(dl), &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.last, "a1b2c3: Downloading [> ] 3.1MB/10.74GB");
        const char *odd = "{\"status\":\"Wait\\u0007ing\\n\",\"id\":\"\"}";
        assert_int_equal(json_parse(odd, strlen(odd), &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.last, "Wait?ing?");
        assert_int_equal(json_parse("{\"progressDetail\":{}}", 21, &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_string_equal(p.last, "Wait?ing?");
        char big[600];
        snprintf(big, sizeof(big), "{\"status\":\"%0500d\"}", 7);
        assert_int_equal(json_parse(big, strlen(big), &o), 0);
        assert_int_equal(docker_progress_parse(&p, o), 0);
        json_object_put(o);
        assert_int_equal(strlen(p.last), sizeof(p.last) - 1);
        docker_progress_done(&p);
        assert_string_equal(p.last, "");

        assert_int_equal(docker_pull_error_from_text("unauthorized: authentication required"),
                         -EACCES);
        assert_int_equal(docker_pull_error_from_text("repository does not exist or may require "
                                                     "'docker login': denied"),
                         -ENOENT);
        assert_int_equal(docker_pull_error_from_text("net/http: TLS handshake timeout"), -EIO);
}

static void test_json_stream_limits(void **state)
{
        struct docker_json_stream *s = NULL;
        struct collected c = {};

        /* Objects without separators, blanks and non-objects in between. */
        const char *mixed = "{\"a\":1}{\"b\":2}\n\n  [1,2]\n\"str\"\n{\"c\":{\"d\":[3]}}\n";
        assert_int_equal(docker_json_stream_new(64, &s), 0);
        assert_int_equal(docker_json_stream_feed(s, mixed, strlen(mixed), collect, &c), 0);
        assert_int_equal(c.n, 3);
        assert_int_equal(json_get_int(c.objs[1], "b", 0, NULL), 2);
        collected_done(&c);

        /* One object over the limit, whole or in pieces. */
        char big[200];
        memset(big, ' ', sizeof(big));
        memcpy(big, "{\"k\":\"", 6);
        memset(big + 6, 'x', 150);
        memcpy(big + 156, "\"}", 2);
        assert_int_equal(docker_json_stream_feed(s, big, 158, collect, &c), -E2BIG);
        assert_int_equal(docker_json_stream_feed(s, big, 40, collect, &c), 0);
        assert_int_equal(docker_json_stream_feed(s, big + 40, 40, collect, &c), -E2BIG);
        assert_int_equal(c.n, 0);
        docker_json_stream_free(s);

        assert_int_equal(docker_json_stream_new(0, &s), 0);
        assert_int_equal(docker_json_stream_feed(s, "{\"a\":}", 6, collect, &c), -EBADMSG);
        /* Too deep. */
        char deep[200] = "";
        for (int i = 0; i < 40; i++)
                strcat(deep, "[");
        assert_int_equal(docker_json_stream_feed(s, "{\"a\":", 5, collect, &c), 0);
        assert_int_equal(docker_json_stream_feed(s, deep, strlen(deep), collect, &c), -EBADMSG);
        assert_int_equal(c.n, 0);
        docker_json_stream_free(s);
}

/* ---- events ---- */

static const char event_stream[] =
    "{\"status\":\"create\",\"id\":\"f44a\",\"from\":\"ecs-test/busybox:latest\",\"Type\":"
    "\"container\",\"Action\":\"create\",\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{"
    "\"ecs-agent-test\":\"1\",\"image\":\"ecs-test/busybox:latest\",\"name\":\"evt\"}},"
    "\"scope\":\"local\",\"time\":1795431711,\"timeNano\":1795431711738836837}\n"
    "{\"status\":\"start\",\"id\":\"f44a\",\"Type\":\"container\",\"Action\":\"start\","
    "\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{\"name\":\"evt\"}},\"time\":1795431712,"
    "\"timeNano\":1795431712185030543}\n"
    "{\"status\":\"health_status: healthy\",\"id\":\"f44a\",\"Type\":\"container\","
    "\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{"
    "\"name\":\"evt\"}},\"time\":1795431713,\"timeNano\":1795431713271847888}\n"
    "{\"status\":\"kill\",\"id\":\"f44a\",\"Type\":\"container\",\"Action\":\"kill\","
    "\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{\"name\":\"evt\",\"signal\":\"15\"}},"
    "\"time\":1795431714,\"timeNano\":1795431714000000001}\n"
    "{\"status\":\"die\",\"id\":\"f44a\",\"Type\":\"container\",\"Action\":\"die\","
    "\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{\"exitCode\":\"143\",\"name\":\"evt\","
    "\"com.amazonaws.ecs.task-arn\":\"arn:t\"}},\"time\":1795431714,"
    "\"timeNano\":1795431714100000000}\n"
    "{\"status\":\"oom\",\"id\":\"f44a\",\"Type\":\"container\",\"Action\":\"oom\","
    "\"Actor\":{\"ID\":\"f44a\",\"Attributes\":{}},\"time\":1795431715}\n"
    "{\"Type\":\"network\",\"Action\":\"disconnect\",\"Actor\":{\"ID\":\"d616\","
    "\"Attributes\":{\"container\":\"f44a\"}},\"time\":1795431715}\n"
    "{\"status\":\"exec_create: sh -c true\",\"id\":\"f44a\",\"Type\":\"container\","
    "\"Action\":\"exec_create: sh -c true\",\"Actor\":{\"ID\":\"f44a\"},\"time\":1}\n";

static int event_collect(json_object *obj, void *userdata)
{
        struct docker_event **events = userdata;
        struct docker_event *e = NULL;
        size_t n = 0;

        assert_int_equal(docker_event_from_json(obj, &e), 0);
        while (events[n])
                n++;
        assert_true(n < 15);
        events[n] = e;
        return 0;
}

static void check_events(struct docker_event **ev)
{
        assert_int_equal(ev[0]->action, DOCKER_EVENT_CREATE);
        assert_string_equal(ev[0]->id, "f44a");
        assert_string_equal(ev[0]->type, "container");
        assert_string_equal(ev[0]->name, "evt");
        assert_string_equal(ev[0]->image, "ecs-test/busybox:latest");
        assert_string_equal(docker_event_attribute(ev[0], "ecs-agent-test"), "1");
        assert_int_equal(ev[0]->time_nsec, 1795431711738836837ULL);
        assert_int_equal(ev[0]->exit_code, -1);

        assert_int_equal(ev[1]->action, DOCKER_EVENT_START);
        assert_null(ev[1]->image);

        assert_int_equal(ev[2]->action, DOCKER_EVENT_HEALTH_STATUS);
        assert_int_equal(ev[2]->health, DOCKER_HEALTH_HEALTHY);
        assert_string_equal(ev[2]->action_text, "health_status: healthy");

        assert_int_equal(ev[3]->action, DOCKER_EVENT_KILL);
        assert_string_equal(ev[3]->signal, "15");
        assert_int_equal(ev[3]->exit_code, -1);

        assert_int_equal(ev[4]->action, DOCKER_EVENT_DIE);
        assert_int_equal(ev[4]->exit_code, 143);
        assert_string_equal(docker_event_attribute(ev[4], "com.amazonaws.ecs.task-arn"), "arn:t");

        /* No timeNano: seconds. */
        assert_int_equal(ev[5]->action, DOCKER_EVENT_OOM);
        assert_int_equal(ev[5]->time_nsec, 1795431715000000000ULL);
        assert_null(ev[5]->name);

        assert_string_equal(ev[6]->type, "network");
        assert_int_equal(ev[6]->action, DOCKER_EVENT_OTHER);
        assert_int_equal(ev[7]->action, DOCKER_EVENT_OTHER);
        assert_null(ev[8]);
}

static void free_events(struct docker_event **ev)
{
        for (size_t i = 0; ev[i]; i++)
                ev[i] = docker_event_free(ev[i]);
}

static void test_event_stream_split(void **state)
{
        size_t len = strlen(event_stream);
        struct docker_event *ev[16] = {};
        struct docker_json_stream *s = NULL;

        for (size_t cut = 0; cut <= len; cut += 7) {
                assert_int_equal(docker_json_stream_new(0, &s), 0);
                assert_int_equal(docker_json_stream_feed(s, event_stream, cut, event_collect, ev),
                                 0);
                assert_int_equal(
                    docker_json_stream_feed(s, event_stream + cut, len - cut, event_collect, ev),
                    0);
                check_events(ev);
                free_events(ev);
                s = docker_json_stream_free(s);
        }
        assert_int_equal(docker_json_stream_new(0, &s), 0);
        for (size_t i = 0; i < len; i++)
                assert_int_equal(docker_json_stream_feed(s, event_stream + i, 1, event_collect, ev),
                                 0);
        check_events(ev);
        free_events(ev);
        docker_json_stream_free(s);
}

static void test_event_parse_edge(void **state)
{
        struct docker_event *e = NULL;
        json_object *o = NULL;

        static const char *const bad[] = {
            "{}",
            "{\"Action\":\"start\"}",
            "{\"Actor\":{\"ID\":\"x\"}}",
            "{\"Action\":\"\",\"Actor\":{\"ID\":\"x\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(json_parse(bad[i], strlen(bad[i]), &o), 0);
                assert_int_equal(docker_event_from_json(o, &e), -EBADMSG);
                json_object_put(o);
        }
        /* A bogus exit code is not taken. */
        const char *s = "{\"Action\":\"die\",\"Actor\":{\"ID\":\"x\",\"Attributes\":{\"exitCode\":"
                        "\"12abc\"}},\"timeNano\":5}";
        assert_int_equal(json_parse(s, strlen(s), &o), 0);
        assert_int_equal(docker_event_from_json(o, &e), 0);
        json_object_put(o);
        assert_int_equal(e->exit_code, -1);
        assert_string_equal(e->type, "container");
        e = docker_event_free(e);

        assert_int_equal(docker_event_action_from_string("health_status: unhealthy"),
                         DOCKER_EVENT_HEALTH_STATUS);
        assert_int_equal(docker_event_action_from_string("die"), DOCKER_EVENT_DIE);
        assert_int_equal(docker_event_action_from_string("dies"), DOCKER_EVENT_OTHER);
        assert_int_equal(docker_event_action_from_string("exec_start: sh"), DOCKER_EVENT_OTHER);
        assert_int_equal(docker_event_action_from_string(""), _DOCKER_EVENT_ACTION_INVALID);
        for (int i = 0; i < _DOCKER_EVENT_ACTION_MAX - 1; i++)
                assert_int_equal(docker_event_action_from_string(docker_event_action_to_string(i)),
                                 i);
        for (int i = 0; i < _DOCKER_CONTAINER_STATE_MAX; i++)
                assert_int_equal(
                    docker_container_state_from_string(docker_container_state_to_string(i)), i);
        for (int i = 0; i < _DOCKER_HEALTH_MAX; i++)
                assert_int_equal(
                    docker_health_status_from_string(docker_health_status_to_string(i)), i);
        assert_null(docker_health_status_to_string(_DOCKER_HEALTH_MAX));
}

/* ---- errors, auth, client construction ---- */

static void test_error_mapping(void **state)
{
        assert_int_equal(docker_error_from_status(200, 0), 0);
        assert_int_equal(docker_error_from_status(201, 0), 0);
        assert_int_equal(docker_error_from_status(204, 0), 0);
        assert_int_equal(docker_error_from_status(304, 0), 0);
        assert_int_equal(docker_error_from_status(400, 0), -EINVAL);
        assert_int_equal(docker_error_from_status(401, 0), -EACCES);
        assert_int_equal(docker_error_from_status(403, 0), -EACCES);
        assert_int_equal(docker_error_from_status(404, 0), -ENOENT);
        assert_int_equal(docker_error_from_status(409, 0), -EBUSY);
        assert_int_equal(docker_error_from_status(409, -EEXIST), -EEXIST);
        assert_int_equal(docker_error_from_status(406, 0), -EPROTO);
        assert_int_equal(docker_error_from_status(500, 0), -EIO);
        assert_int_equal(docker_error_from_status(503, 0), -EIO);
        assert_int_equal(docker_error_from_status(0, 0), -EIO);
        assert_int_equal(docker_error_from_status(302, 0), -EPROTO);

        char *m = docker_error_message("{\"message\":\"No such container: abc\"}\n", 37);
        assert_string_equal(m, "No such container: abc");
        free(m);
        m = docker_error_message("  page not found\n", 17);
        assert_string_equal(m, "page not found");
        free(m);
        assert_null(docker_error_message("", 0));
        assert_null(docker_error_message(" \n", 2));
        assert_null(docker_error_message("{\"msg\":1}", 9));
}

/* Standard base64 decoding of the URL alphabet, for checking the header. */
static size_t b64url_decode(const char *in, unsigned char *out)
{
        size_t n = 0;
        uint32_t acc = 0;
        int bits = 0;

        for (; *in && *in != '='; in++) {
                const char *tbl =
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                const char *p = strchr(tbl, *in);
                assert_non_null(p);
                acc = acc << 6 | (uint32_t)(p - tbl);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char)(acc >> bits);
                }
        }
        out[n] = 0;
        return n;
}

static void test_auth_encode(void **state)
{
        struct docker_auth a = {.username = "AWS",
                                .password = "p?>~+/=\"",
                                .server_address =
                                    "https://123456789012.dkr.ecr.us-west-2.amazonaws.com"};
        unsigned char dec[512];
        json_object *o = NULL;
        char *h = NULL;

        assert_int_equal(docker_auth_encode(&a, &h), 0);
        /* URL alphabet, padded to a multiple of 4. */
        assert_int_equal(strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                   "-_="),
                         strlen(h));
        assert_int_equal(strlen(h) % 4, 0);
        size_t n = b64url_decode(h, dec);
        assert_int_equal(json_parse((char *)dec, n, &o), 0);
        assert_string_equal(json_get_string(o, "username", NULL), "AWS");
        assert_string_equal(json_get_string(o, "password", NULL), "p?>~+/=\"");
        assert_string_equal(json_get_string(o, "serveraddress", NULL), a.server_address);
        json_object_put(o);
        free(h);

        /* Known vector. */
        struct docker_auth b = {.username = "u", .password = "p", .server_address = "s"};
        assert_int_equal(docker_auth_encode(&b, &h), 0);
        assert_string_equal(h,
                            "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJzZXJ2ZXJhZGRyZXNzIjoicyJ9");
        free(h);
}

static void never_called(const struct docker_result *res, void *userdata)
{
        fail();
}

static void test_client_new(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *c = NULL;
        static const char *const ok[] = {NULL, "unix:///var/run/docker.sock", "/run/d.sock",
                                         "tcp://127.0.0.1:2375", "tcp://docker:2375/"};
        static const char *const bad[] = {
            "",          "unix://",        "unix://relative",
            "tcp://",    "tcp://h:1/path", "npipe:////./pipe/docker_engine",
            "ssh://host"};

        assert_int_equal(ecs_loop_new(&loop), 0);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                assert_int_equal(docker_client_new(loop, ok[i], &c), 0);
                assert_null(docker_client_api_version(c));
                c = docker_client_free(c);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(docker_client_new(loop, bad[i], &c), -EINVAL);

        /* Arguments are checked before anything is sent. */
        assert_int_equal(docker_client_new(loop, NULL, &c), 0);
        docker_done_fn nop = never_called;
        assert_int_equal(docker_container_start(c, "../../images/x", 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(docker_container_stop(c, "a/b", 1, 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(docker_container_remove(c, "", false, false, 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(docker_container_kill(c, "abc", "KILL&x=1", 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(
            docker_image_remove(c, "img/../../containers/x", false, 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(docker_volume_remove(c, "v?x", false, 0, nop, NULL, NULL), -EINVAL);
        assert_int_equal(
            docker_image_pull(c, &(struct docker_pull_options){.image = "Bad"}, NULL, NULL, NULL),
            -EINVAL);
        assert_int_equal(docker_image_load_file(c, "/nonexistent/pause.tar", 0, NULL, NULL, NULL),
                         -ENOENT);
        docker_client_free(c);
        ecs_loop_free(loop);
}

/* ---- a scripted fake daemon ---- */

struct fake {
        int fd;
        char path[108];
        pthread_t thread;
        pthread_mutex_t lock;
        char requests[16][1200]; /* request lines seen, with X-Registry-Auth if any */
        size_t n_requests;
        int events_conns;
        int info_calls; /* the first /info answer is good, later ones malformed */
        volatile bool stop;
        int hold_fd;     /* the event stream kept open */
        bool quiet_drop; /* first event stream: no events, then dropped */
};

static void write_all(int fd, const char *s, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k <= 0)
                        return;
                s += k;
                n -= (size_t)k;
        }
}

static void send_chunk(int fd, const char *s)
{
        char hdr[32];
        snprintf(hdr, sizeof(hdr), "%zx\r\n", strlen(s));
        write_all(fd, hdr, strlen(hdr));
        write_all(fd, s, strlen(s));
        write_all(fd, "\r\n", 2);
}

static void respond(int fd, int status, const char *body)
{
        char hdr[256];
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 status, strlen(body));
        write_all(fd, hdr, strlen(hdr));
        write_all(fd, body, strlen(body));
}

static const char ev1[] = "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"c1\"},"
                          "\"timeNano\":1000000000500}\n";
static const char ev2[] = "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"c1\","
                          "\"Attributes\":{\"exitCode\":\"3\"}},\"timeNano\":2000000000700}\n";
static const char ev3[] =
    "{\"Type\":\"container\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"c1\"},"
    "\"timeNano\":3000000000000}\n";

static void fake_handle(struct fake *f, int c)
{
        char buf[8192], line[1024] = "";
        size_t n = 0;
        char *end;

        for (;;) {
                ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0) {
                        close(c);
                        return;
                }
                n += (size_t)k;
                buf[n] = 0;
                if ((end = strstr(buf, "\r\n\r\n")))
                        break;
        }
        sscanf(buf, "%*s %1023s", line);
        char *auth = strcasestr(buf, "X-Registry-Auth: ");
        pthread_mutex_lock(&f->lock);
        if (f->n_requests < ELEMENTSOF(f->requests)) {
                snprintf(f->requests[f->n_requests], sizeof(f->requests[0]), "%s%s%.*s", line,
                         auth ? " auth=" : "", auth ? (int)strcspn(auth + 17, "\r") : 0,
                         auth ? auth + 17 : "");
                f->n_requests++;
        }
        pthread_mutex_unlock(&f->lock);

        if (strncmp(line, "/version", 8) == 0)
                respond(c, 200,
                        "{\"Version\":\"19.03.1\",\"ApiVersion\":\"1.40\","
                        "\"MinAPIVersion\":\"1.12\",\"Os\":\"linux\"}");
        else if (strncmp(line, "/v1.40/info", 11) == 0 && f->info_calls++ > 0)
                respond(c, 200, "{\"ID\":\"x\",\"NCPU\":\"two\"}");
        else if (strncmp(line, "/v1.40/info", 11) == 0)
                respond(c, 200,
                        "{\"ID\":\"abc\",\"Name\":\"\",\"CgroupDriver\":\"systemd\",\"NCPU\":2,"
                        "\"MemTotal\":4096,\"SecurityOptions\":[\"name=seccomp\"],"
                        "\"Runtimes\":{\"runc\":{\"path\":\"runc\"}},\"Unknown\":[1]}");
        else if (strncmp(line, "/v1.40/containers/create", 24) == 0)
                respond(c, 409,
                        "{\"message\":\"Conflict. The container name \\\"/x\\\" is "
                        "already in use\"}");
        else if (strncmp(line, "/v1.40/containers/gone/stop", 27) == 0)
                respond(c, 404, "{\"message\":\"No such container: gone\"}");
        else if (strncmp(line, "/v1.40/containers/c1/stop", 25) == 0)
                respond(c, 304, "");
        else if (strncmp(line, "/v1.40/containers/c1/json", 25) == 0)
                respond(c, 200, "not json");
        else if (strncmp(line, "/v1.40/images/create?fromImage=plain", 36) == 0)
                respond(c, 404, "404 page not found\n");
        else if (strncmp(line, "/v1.40/images/create?fromImage=stuck", 36) == 0 ||
                 strncmp(line, "/v1.40/images/create?fromImage=mute", 35) == 0) {
                /* A pull that starts (stuck: with one line), then says nothing more until the
                 * client hangs up. */
                const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                write_all(c, h, strlen(h));
                if (strstr(line, "=stuck"))
                        send_chunk(c, "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},"
                                      "\"id\":\"a1b2c3\"}\r\n");
                while (read(c, buf, sizeof(buf)) > 0)
                        ;
        } else if (strncmp(line, "/v1.40/images/create", 20) == 0) {
                const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                write_all(c, h, strlen(h));
                send_chunk(c, "{\"status\":\"Pulling from x\",\"id\":\"1\"}\r\n{\"status\":\"Dig");
                send_chunk(c, "est: sha256:abc\"}\r\n{\"errorDetail\":{\"message\":\"toomany");
                send_chunk(
                    c, "requests: rate limit\"},\"error\":\"toomanyrequests: rate limit\"}\r\n");
                write_all(c, "0\r\n\r\n", 5);
        } else if (strncmp(line, "/v1.40/events", 13) == 0 || strncmp(line, "/events", 7) == 0) {
                const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n";
                write_all(c, h, strlen(h));
                int conn = __atomic_add_fetch(&f->events_conns, 1, __ATOMIC_SEQ_CST);
                if (conn == 1 && f->quiet_drop) {
                        /* Accepted, quiet past the confirmation delay, then gone. */
                        usleep(700000);
                        close(c);
                        return;
                }
                if (conn == 1) {
                        /* Two events, the second split, then the daemon "restarts". */
                        send_chunk(c, ev1);
                        char part[128];
                        snprintf(part, sizeof(part), "%.20s", ev2);
                        send_chunk(c, part);
                        usleep(20000);
                        send_chunk(c, ev2 + 20);
                        usleep(20000);
                        close(c); /* no terminating chunk: an abrupt end */
                        return;
                }
                /* Replays from since (inclusive), then something new; stays open. */
                send_chunk(c, ev2);
                send_chunk(c, ev3);
                f->hold_fd = c;
                return;
        } else
                respond(c, 404, "{\"message\":\"page not found\"}");
        close(c);
}

static void *fake_main(void *arg)
{
        struct fake *f = arg;
        for (;;) {
                int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0 || f->stop) {
                        if (c >= 0)
                                close(c);
                        return NULL;
                }
                fake_handle(f, c);
        }
}

static void fake_start(struct fake *f, bool quiet_drop)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        memset(f, 0, sizeof(*f));
        f->quiet_drop = quiet_drop;
        f->hold_fd = -1;
        pthread_mutex_init(&f->lock, NULL);
        snprintf(f->path, sizeof(f->path), "/tmp/ecs-test-docker-%d.sock", getpid());
        unlink(f->path);
        strcpy(sa.sun_path, f->path);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 16), 0);
        assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
        f->stop = true;
        shutdown(f->fd, SHUT_RDWR);
        /* Wake accept() in case shutdown does not on this kernel. */
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, f->path);
        (void)connect(s, (struct sockaddr *)&sa, sizeof(sa));
        close(s);
        pthread_join(f->thread, NULL);
        close(f->fd);
        if (f->hold_fd >= 0)
                close(f->hold_fd);
        unlink(f->path);
        pthread_mutex_destroy(&f->lock);
}

struct outcome {
        bool done;
        int error;
        long status;
        char message[256];
        char value[256];
};

static void run_until(struct ecs_loop *loop, bool *flag, uint64_t max_usec)
{
        uint64_t deadline = now_usec() + max_usec;
        while (!*flag && now_usec() < deadline)
                assert_true(sd_event_run(ecs_loop_event(loop), 50 * USEC_PER_MSEC) >= 0);
        assert_true(*flag);
}

static void record(struct outcome *o, const struct docker_result *res, const char *value)
{
        o->done = true;
        o->error = res->error;
        o->status = res->http_status;
        snprintf(o->message, sizeof(o->message), "%s", strempty(res->message));
        snprintf(o->value, sizeof(o->value), "%s", strempty(value));
        if (res->error < 0)
                assert_non_null(res->message);
        else
                assert_null(res->message);
}

static void on_version(const struct docker_result *res, const struct docker_version *v, void *ud)
{
        record(ud, res, v ? v->api_version : NULL);
}
static void on_create(const struct docker_result *res, const char *id, void *ud)
{
        record(ud, res, id);
}
static void on_done(const struct docker_result *res, void *ud)
{
        record(ud, res, NULL);
}
static void on_pull(const struct docker_result *res, const char *digest, void *ud)
{
        record(ud, res, digest);
}
static void on_inspect(const struct docker_result *res, const struct docker_container *c, void *ud)
{
        record(ud, res, c ? c->id : NULL);
}

static void on_info(const struct docker_result *res, const struct docker_info *info, void *ud)
{
        char v[256] = "";
        if (info)
                snprintf(v, sizeof(v), "%s|%s|%s|%d|%llu|%s|%s", info->id, strna(info->name),
                         info->cgroup_driver, info->ncpu, (unsigned long long)info->mem_total,
                         info->security_options ? info->security_options[0] : "-",
                         info->runtimes ? info->runtimes[0] : "-");
        record(ud, res, v);
}

static void test_fake_calls(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *client = NULL;
        struct fake f;
        struct outcome o = {};
        char host[128];

        fake_start(&f, false);
        snprintf(host, sizeof(host), "unix://%s", f.path);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(docker_client_new(loop, host, &client), 0);

        /* An older daemon lowers the API version of every later call. */
        assert_int_equal(docker_client_version(client, 0, on_version, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, 0);
        assert_string_equal(docker_client_api_version(client), "1.40");

        /* Name conflict on create: -EEXIST with Docker's message. */
        o = (struct outcome){};
        json_object *cfg = json_object_new_object();
        json_add_string(cfg, "Image", "busybox");
        assert_int_equal(docker_container_create(client, "x", cfg, 0, on_create, &o, NULL), 0);
        json_object_put(cfg);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -EEXIST);
        assert_int_equal(o.status, 409);
        assert_non_null(strstr(o.message, "is already in use"));
        assert_string_equal(o.value, "");

        o = (struct outcome){};
        assert_int_equal(docker_container_stop(client, "gone", 5, 0, on_done, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -ENOENT);
        assert_string_equal(o.message, "No such container: gone");

        /* 304: already stopped is fine. */
        o = (struct outcome){};
        assert_int_equal(docker_container_stop(client, "c1", 5, 0, on_done, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.status, 304);

        /* Garbage where JSON belongs. */
        o = (struct outcome){};
        assert_int_equal(docker_container_inspect(client, "c1", 0, on_inspect, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -EBADMSG);

        /* A pull that fails inside a 200 stream; the auth header goes out encoded. */
        o = (struct outcome){};
        struct docker_auth auth = {.username = "u", .password = "p", .server_address = "s"};
        struct docker_pull_options po = {.image = "host:5000/ns/img@sha256:"
                                                  "0123456789abcdef0123456789abcdef0123456789abcde"
                                                  "f0123456789abcdef",
                                         .auth = &auth};
        assert_int_equal(docker_image_pull(client, &po, on_pull, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -EIO);
        assert_int_equal(o.status, 200);
        assert_string_equal(o.message, "toomanyrequests: rate limit");

        /* A plain-text error body on a streamed call still maps by status. */
        o = (struct outcome){};
        po = (struct docker_pull_options){.image = "plain"};
        assert_int_equal(docker_image_pull(client, &po, on_pull, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -ENOENT);
        assert_int_equal(o.status, 404);
        assert_string_equal(o.message, "HTTP 404 from Docker");

        /* /info: its table's fields, "" as absent, unknown members ignored; a member of the
         * wrong type makes the whole answer malformed. */
        o = (struct outcome){};
        assert_int_equal(docker_client_info(client, 0, on_info, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "abc|n/a|systemd|2|4096|name=seccomp|runc");
        o = (struct outcome){};
        assert_int_equal(docker_client_info(client, 0, on_info, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -EBADMSG);
        assert_string_equal(o.message, "Invalid info answer from Docker");
        assert_string_equal(o.value, "");

        /* A cancelled call never calls back; freeing the client cancels the rest. */
        o = (struct outcome){};
        struct docker_call *call = NULL;
        assert_int_equal(docker_container_stop(client, "gone", 5, 0, on_done, &o, &call), 0);
        docker_call_cancel(call);
        assert_int_equal(docker_container_stop(client, "gone", 5, 0, on_done, &o, NULL), 0);
        client = docker_client_free(client);
        for (int i = 0; i < 10; i++)
                sd_event_run(ecs_loop_event(loop), 10 * USEC_PER_MSEC);
        assert_false(o.done);

        pthread_mutex_lock(&f.lock);
        assert_string_equal(f.requests[0], "/version");
        assert_string_equal(f.requests[1], "/v1.40/containers/create?name=x");
        assert_string_equal(f.requests[3], "/v1.40/containers/c1/stop?t=5");
        assert_string_equal(
            f.requests[5],
            "/v1.40/images/create?fromImage=host%3A5000%2Fns%2Fimg&tag=sha256%3A0123456789abcdef01"
            "23456789abcdef0123456789abcdef0123456789abcdef auth="
            "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJzZXJ2ZXJhZGRyZXNzIjoicyJ9");
        pthread_mutex_unlock(&f.lock);

        ecs_loop_free(loop);
        fake_stop(&f);
}

/* A pull that goes quiet ends by whichever limit runs out first, and says which. */
static void test_fake_pull_timeouts(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *client = NULL;
        struct fake f;
        struct outcome o = {};
        char host[128];

        fake_start(&f, false);
        snprintf(host, sizeof(host), "unix://%s", f.path);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(docker_client_new(loop, host, &client), 0);
        assert_int_equal(docker_client_version(client, 0, on_version, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);

        /* The whole-pull limit, long before the stall limit. */
        o = (struct outcome){};
        struct docker_pull_options po = {.image = "stuck", .timeout_usec = 300 * USEC_PER_MSEC};
        uint64_t t0 = now_usec();
        assert_int_equal(docker_image_pull(client, &po, on_pull, &o, NULL), 0);
        run_until(loop, &o.done, 5 * USEC_PER_SEC);
        assert_int_equal(o.error, -ETIMEDOUT);
        assert_string_equal(o.message, "image pull did not finish within 300ms "
                                       "(ECS_IMAGE_PULL_TIMEOUT); last progress: a1b2c3: "
                                       "Pulling fs layer");
        assert_true(now_usec() - t0 < 2 * USEC_PER_SEC);

        /* The stall limit, long before the whole-pull limit. (Nothing at all from Docker:
         * libcurl averages the speed over the last few seconds, so bytes at the start would
         * hold the stall off for that long.) */
        o = (struct outcome){};
        po = (struct docker_pull_options){
            .image = "mute", .timeout_usec = USEC_PER_MINUTE, .stall_timeout_usec = USEC_PER_SEC};
        t0 = now_usec();
        assert_int_equal(docker_image_pull(client, &po, on_pull, &o, NULL), 0);
        run_until(loop, &o.done, 20 * USEC_PER_SEC);
        assert_int_equal(o.error, -ETIMEDOUT);
        assert_string_equal(o.message, "image pull stalled: no progress for 1s "
                                       "(ECS_IMAGE_PULL_INACTIVITY_TIMEOUT); no progress "
                                       "reported");
        assert_true(now_usec() - t0 >= USEC_PER_SEC);

        client = docker_client_free(client);
        ecs_loop_free(loop);
        fake_stop(&f);
}

struct stream_log {
        char log[512];
        int events;
        bool reconnected;
        struct docker_events *free_me_on_destroy;
};

static void on_stream_event(struct docker_events *ev, const struct docker_event *e, void *ud)
{
        struct stream_log *l = ud;
        char s[64];
        snprintf(s, sizeof(s), "%s:%s:%d ", e->action_text, e->id, e->exit_code);
        strcat(l->log, s);
        l->events++;
        /* Freeing the stream from its own callback is allowed. */
        if (e->action == DOCKER_EVENT_DESTROY && l->free_me_on_destroy)
                l->free_me_on_destroy = docker_events_free(l->free_me_on_destroy);
}

static void on_stream_state(struct docker_events *ev, enum docker_events_state st, int error,
                            void *ud)
{
        struct stream_log *l = ud;
        static const char *const names[] = {"CONNECTED", "RECONNECTED", "DISCONNECTED"};
        strcat(l->log, names[st]);
        strcat(l->log, " ");
        if (st == DOCKER_EVENTS_RECONNECTED)
                l->reconnected = true;
        if (st == DOCKER_EVENTS_DISCONNECTED)
                assert_true(error < 0);
}

static void test_fake_events_reconnect(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *client = NULL;
        struct stream_log l = {};
        struct fake f;
        char host[128];

        fake_start(&f, false);
        snprintf(host, sizeof(host), "unix://%s", f.path);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(docker_client_new(loop, host, &client), 0);

        struct docker_events *ev = NULL;
        char *labels[] = {"com.amazonaws.ecs.task-arn", NULL};
        struct docker_events_options opts = {.labels = labels,
                                             .on_event = on_stream_event,
                                             .on_state = on_stream_state,
                                             .userdata = &l};
        assert_int_equal(docker_events_new(client, &opts, &ev), 0);
        l.free_me_on_destroy = ev;
        bool done = false;
        uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
        while (!(l.events == 3) && now_usec() < deadline)
                sd_event_run(ecs_loop_event(loop), 50 * USEC_PER_MSEC);
        done = l.events == 3;
        if (!done)
                fail_msg("events seen: %s", l.log);
        assert_null(l.free_me_on_destroy);
        /* The replayed die is delivered once; the stream ended abruptly in between. */
        assert_string_equal(l.log, "CONNECTED start:c1:-1 die:c1:3 DISCONNECTED RECONNECTED "
                                   "destroy:c1:-1 ");

        pthread_mutex_lock(&f.lock);
        assert_int_equal(f.n_requests, 2);
        /* filters: type, label, event; the reconnect asks for a replay from the last event. */
        assert_int_equal(strncmp(f.requests[0], "/events?filters=", 16), 0);
        assert_non_null(strstr(f.requests[0], "com.amazonaws.ecs.task-arn"));
        assert_non_null(strstr(f.requests[0], "health_status"));
        assert_null(strstr(f.requests[0], "since="));
        assert_non_null(strstr(f.requests[1], "&since=2000.000000700"));
        pthread_mutex_unlock(&f.lock);

        docker_client_free(client);
        ecs_loop_free(loop);
        fake_stop(&f);
}

/* A stream that drops before any event: the replay starts where the first stream did. */
static void test_fake_events_quiet_drop(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *client = NULL;
        struct docker_events *ev = NULL;
        struct stream_log l = {};
        struct fake f;
        char host[128];

        fake_start(&f, true);
        snprintf(host, sizeof(host), "unix://%s", f.path);
        assert_int_equal(ecs_loop_new(&loop), 0);
        assert_int_equal(docker_client_new(loop, host, &client), 0);
        struct docker_events_options opts = {
            .on_event = on_stream_event, .on_state = on_stream_state, .userdata = &l};
        uint64_t before = realtime_usec();
        assert_int_equal(docker_events_new(client, &opts, &ev), 0);
        uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
        while (l.events < 2 && now_usec() < deadline)
                sd_event_run(ecs_loop_event(loop), 50 * USEC_PER_MSEC);
        assert_string_equal(l.log, "CONNECTED DISCONNECTED RECONNECTED die:c1:3 destroy:c1:-1 ");
        assert_int_equal(docker_events_last_time(ev), 3000000000000ULL);

        pthread_mutex_lock(&f.lock);
        assert_int_equal(f.n_requests, 2);
        assert_null(strstr(f.requests[0], "since="));
        char *since = strstr(f.requests[1], "&since=");
        assert_non_null(since);
        unsigned long long sec = strtoull(since + 7, NULL, 10);
        assert_true(sec >= before / USEC_PER_SEC && sec <= before / USEC_PER_SEC + 2);
        pthread_mutex_unlock(&f.lock);

        docker_events_free(ev);
        docker_client_free(client);
        ecs_loop_free(loop);
        fake_stop(&f);
}

static void test_events_after_client_free(void **state)
{
        struct ecs_loop *loop = NULL;
        struct docker_client *client = NULL;
        struct docker_events *ev = NULL;
        struct stream_log l = {};

        assert_int_equal(ecs_loop_new(&loop), 0);
        /* Nothing listens there: the stream keeps retrying and reports being down once. */
        assert_int_equal(
            docker_client_new(loop, "unix:///tmp/ecs-test-docker-nowhere.sock", &client), 0);
        struct docker_events_options opts = {
            .on_event = on_stream_event, .on_state = on_stream_state, .userdata = &l};
        assert_int_equal(docker_events_new(client, &opts, &ev), 0);
        for (int i = 0; i < 40; i++)
                sd_event_run(ecs_loop_event(loop), 25 * USEC_PER_MSEC);
        assert_string_equal(l.log, "DISCONNECTED ");
        client = docker_client_free(client);
        for (int i = 0; i < 5; i++)
                sd_event_run(ecs_loop_event(loop), 10 * USEC_PER_MSEC);
        docker_events_free(ev);
        ecs_loop_free(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_image_ref),
            cmocka_unit_test(test_time_parse),
            cmocka_unit_test(test_inspect_running),
            cmocka_unit_test(test_inspect_oom),
            cmocka_unit_test(test_inspect_created),
            cmocka_unit_test(test_inspect_dead),
            cmocka_unit_test(test_inspect_invalid),
            cmocka_unit_test(test_image_parse),
            cmocka_unit_test(test_pull_progress_split),
            cmocka_unit_test(test_progress_misc),
            cmocka_unit_test(test_json_stream_limits),
            cmocka_unit_test(test_event_stream_split),
            cmocka_unit_test(test_event_parse_edge),
            cmocka_unit_test(test_error_mapping),
            cmocka_unit_test(test_auth_encode),
            cmocka_unit_test(test_client_new),
            cmocka_unit_test(test_fake_calls),
            cmocka_unit_test(test_fake_pull_timeouts),
            cmocka_unit_test(test_fake_events_reconnect),
            cmocka_unit_test(test_fake_events_quiet_drop),
            cmocka_unit_test(test_events_after_client_free),
        };
        return cmocka_run_group_tests_name("test_docker", tests, NULL, NULL);
}
