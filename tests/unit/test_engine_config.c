/* The engine's pure parts: Docker create body, container names, task status from
 * containers, and host port selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../agent/engine/engine-internal.h"
#include "ecs/engine.h"
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/tasknet.h"

static char **strv(const char *a, const char *b)
{
        char **l = calloc(3, sizeof(char *));
        l[0] = a ? strdup(a) : NULL;
        l[1] = b ? strdup(b) : NULL;
        return l;
}

static struct ecs_task *sample_task(void)
{
        struct ecs_task *t = ecs_task_new();
        t->arn = strdup("arn:aws:ecs:us-west-2:123456789012:task/default/abc");
        t->id = strdup("abc");
        t->family = strdup("web");
        t->version = strdup("12");
        t->n_containers = 2;
        t->containers = calloc(2, sizeof(struct ecs_container));
        struct ecs_container *c = &t->containers[0];
        c->name = strdup("web_1.x");
        c->image = strdup("busybox");
        c->cpu = 0;
        c->memory_mib = 1;
        c->command = strv("sleep", "30");
        c->environment = strv("MODE=prod", NULL);
        c->endpoint_id = strdup("ep-1");
        c->n_ports = 2;
        c->ports = calloc(2, sizeof(struct port_mapping));
        c->ports[0] = (struct port_mapping){.container_port = 80};
        c->ports[1] = (struct port_mapping){.container_port = 53, .protocol = PORT_PROTOCOL_UDP};
        c->links = strv("db:database", NULL);
        c->docker_config = strdup("{\"Labels\":{\"team\":\"a\",\"com.amazonaws.ecs.cluster\":"
                                  "\"evil\"},\"Env\":null,\"User\":\"1000\"}");
        c->docker_host_config = strdup("{\"MemoryReservation\":134217728,\"CpuShares\":5}");
        t->containers[1].name = strdup("db");
        t->containers[1].image = strdup("busybox");
        return t;
}

static const char *name_of(const struct ecs_task *t, const char *name)
{
        return streq(name, "db") ? "ecs-web-12-db-0000" : NULL;
}

static void test_create_config(void **state)
{
        struct ecs_task *t = sample_task();
        uint16_t ports[] = {8080, 49153};
        struct create_config_input in = {.task = t,
                                         .container = &t->containers[0],
                                         .host_ports = ports,
                                         .region = "us-west-2",
                                         .cluster = "default",
                                         .docker_name_of = name_of};
        json_object *cfg = NULL;
        char *err = NULL;

        assert_int_equal(engine_build_create_config(&in, &cfg, &err), 0);
        assert_null(err);
        assert_string_equal(json_get_string(cfg, "Image", NULL), "busybox");
        assert_string_equal(json_get_string(cfg, "User", NULL), "1000");
        /* "Env": null in dockerConfig replaces the list, like Go's Unmarshal does. */
        assert_null(json_get(cfg, "Env"));

        json_object *labels = json_get_object(cfg, "Labels", NULL);
        assert_string_equal(json_get_string(labels, "team", NULL), "a");
        /* Our labels win over the task definition's. */
        assert_string_equal(json_get_string(labels, "com.amazonaws.ecs.cluster", NULL), "default");
        assert_string_equal(json_get_string(labels, "com.amazonaws.ecs.container-name", NULL),
                            "web_1.x");
        assert_string_equal(
            json_get_string(labels, "com.amazonaws.ecs.task-definition-version", NULL), "12");

        json_object *hc = json_get_object(cfg, "HostConfig", NULL);
        assert_int_equal(json_get_int(hc, "CpuShares", 0, NULL), 5); /* hostConfig wins */
        assert_int_equal(json_get_int(hc, "Memory", 0, NULL), 4 * 1024 * 1024);
        assert_int_equal(json_get_int(hc, "MemoryReservation", 0, NULL), 134217728);
        json_object *pb = json_get_object(hc, "PortBindings", NULL);
        json_object *b80 = json_get_array(pb, "80/tcp", NULL);
        assert_non_null(b80);
        assert_string_equal(json_get_string(json_object_array_get_idx(b80, 0), "HostPort", NULL),
                            "8080");
        json_object *b53 = json_get_array(pb, "53/udp", NULL);
        assert_string_equal(json_get_string(json_object_array_get_idx(b53, 0), "HostPort", NULL),
                            "49153");
        assert_non_null(json_get(json_get(cfg, "ExposedPorts"), "53/udp"));
        json_object *links = json_get_array(hc, "Links", NULL);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(links, 0)),
                            "ecs-web-12-db-0000:database");
        json_object_put(cfg);
        ecs_task_unref(t);
}

/* awsvpc: containers join the pause container's namespace and publish nothing; the pause
 * container carries the ENI's DNS settings and name (§6.3 steps 2 and 5). */
static void test_awsvpc_configs(void **state)
{
        struct ecs_task *t = sample_task();
        struct create_config_input in = {.task = t,
                                         .container = &t->containers[0],
                                         .network_container = "pause123",
                                         .cluster = "default",
                                         .docker_name_of = name_of};
        json_object *cfg = NULL;
        char *err = NULL;

        assert_int_equal(engine_build_create_config(&in, &cfg, &err), 0);
        json_object *hc = json_get_object(cfg, "HostConfig", NULL);
        assert_string_equal(json_get_string(hc, "NetworkMode", NULL), "container:pause123");
        assert_null(json_get(hc, "PortBindings"));
        assert_null(json_get(cfg, "ExposedPorts"));
        json_object_put(cfg);

        t->eni = calloc(1, sizeof(*t->eni));
        t->eni->mac = strdup("0e:00:00:00:00:01");
        t->eni->ipv4 = strv("10.0.1.57", NULL);
        t->eni->ipv6 = strv("2001:db8::57", NULL);
        t->eni->dns_servers = strv("10.0.0.2", NULL);
        t->eni->search_domains = strv("ex.internal", NULL);
        t->eni->private_dns_name = strdup("ip-10-0-1-57.ex.internal");
        assert_int_equal(tasknet_pause_config(t, "default", "/ecs/abc", &cfg), 0);
        assert_string_equal(json_get_string(cfg, "Image", NULL), TASKNET_PAUSE_IMAGE);
        assert_string_equal(json_get_string(cfg, "Hostname", NULL), "ip-10-0-1-57.ex.internal");
        assert_string_equal(
            json_get_string(json_get(cfg, "Labels"), "com.amazonaws.ecs.container-name", NULL),
            TASKNET_PAUSE_CONTAINER_NAME);
        hc = json_get_object(cfg, "HostConfig", NULL);
        assert_string_equal(json_get_string(hc, "NetworkMode", NULL), "none");
        assert_string_equal(json_get_string(hc, "CgroupParent", NULL), "/ecs/abc");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(json_get(hc, "Dns"), 0)), "10.0.0.2");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(json_get(hc, "DnsSearch"), 0)),
            "ex.internal");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(json_get(hc, "ExtraHosts"), 0)),
            "ip-10-0-1-57.ex.internal:10.0.1.57");
        assert_string_equal(
            json_get_string(json_get(hc, "Sysctls"), "net.ipv6.conf.all.disable_ipv6", NULL), "0");
        json_object_put(cfg);
        ecs_task_unref(t);
}

static void test_create_config_env(void **state)
{
        struct ecs_task *t = sample_task();
        free(t->containers[0].docker_config);
        t->containers[0].docker_config = NULL;
        t->role_credentials_id = strdup("cred-1");
        struct create_config_input in = {.task = t,
                                         .container = &t->containers[0],
                                         .region = "eu-west-1",
                                         .cluster = "c",
                                         .docker_name_of = name_of};
        json_object *cfg = NULL;
        char *err = NULL;

        assert_int_equal(engine_build_create_config(&in, &cfg, &err), 0);
        _cleanup_free_ char *env = json_dump(json_get(cfg, "Env"));
        assert_non_null(strstr(env, "\"MODE=prod\""));
        assert_non_null(strstr(env, "\"AWS_REGION=eu-west-1\""));
        assert_non_null(strstr(env, "\"AWS_DEFAULT_REGION=eu-west-1\""));
        assert_non_null(strstr(env, "\"ECS_CONTAINER_METADATA_URI=http://169.254.170.2/v3/ep-1\""));
        assert_non_null(
            strstr(env, "\"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/ep-1\""));
        assert_non_null(strstr(env, "\"ECS_AGENT_URI=http://169.254.170.2/api/ep-1\""));
        assert_non_null(
            strstr(env, "\"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/cred-1\""));
        json_object_put(cfg);

        /* A task definition that sets the region keeps its own. */
        strv_free(t->containers[0].environment);
        t->containers[0].environment = strv("AWS_REGION=ap-south-1", NULL);
        assert_int_equal(engine_build_create_config(&in, &cfg, &err), 0);
        _cleanup_free_ char *env2 = json_dump(json_get(cfg, "Env"));
        assert_null(strstr(env2, "eu-west-1"));
        json_object_put(cfg);
        ecs_task_unref(t);
}

static void test_create_config_errors(void **state)
{
        struct ecs_task *t = sample_task();
        struct create_config_input in = {
            .task = t, .container = &t->containers[0], .cluster = "c", .docker_name_of = name_of};
        json_object *cfg = NULL;
        char *err = NULL;

        free(t->containers[0].docker_host_config);
        t->containers[0].docker_host_config = strdup("[1,2]");
        assert_int_equal(engine_build_create_config(&in, &cfg, &err), -EINVAL);
        assert_non_null(strstr(err, "hostConfig"));
        free(err);
        err = NULL;

        free(t->containers[0].docker_host_config);
        t->containers[0].docker_host_config = NULL;
        strv_free(t->containers[0].links);
        t->containers[0].links = strv("ghost", NULL);
        assert_int_equal(engine_build_create_config(&in, &cfg, &err), -EINVAL);
        assert_non_null(strstr(err, "ghost"));
        free(err);
        ecs_task_unref(t);
}

static void test_docker_name(void **state)
{
        struct ecs_task *t = sample_task();
        char *n = NULL;
        assert_int_equal(engine_container_docker_name(t, &t->containers[0], &n), 0);
        assert_int_equal(strncmp(n, "ecs-web-12-web1x-", 17), 0);
        assert_int_equal(strlen(n), 17 + 20);
        free(n);
        ecs_task_unref(t);
}

static void test_task_status(void **state)
{
        struct ecs_task *t = sample_task();
        t->containers[0].known_status = CONTAINER_STATUS_RUNNING;
        t->containers[1].known_status = CONTAINER_STATUS_PULLED;
        assert_int_equal(engine_task_status_from_containers(t), TASK_STATUS_MANIFEST_PULLED);
        t->containers[1].known_status = CONTAINER_STATUS_CREATED;
        assert_int_equal(engine_task_status_from_containers(t), TASK_STATUS_CREATED);
        t->containers[1].known_status = CONTAINER_STATUS_STOPPED;
        assert_int_equal(engine_task_status_from_containers(t), TASK_STATUS_RUNNING);
        t->containers[0].known_status = CONTAINER_STATUS_STOPPED;
        assert_int_equal(engine_task_status_from_containers(t), TASK_STATUS_STOPPED);
        ecs_task_unref(t);
}

static bool probe_busy_odd(uint16_t port, enum port_protocol proto, void *ud)
{
        return port % 2 == 0; /* odd ports are "in use" on the host */
}

static void test_ports(void **state)
{
        static struct port_allocator pa;
        const uint16_t reserved[] = {100};
        uint16_t p;

        port_allocator_init(&pa, 100, 106, reserved, 1, NULL, 0);
        pa.probe = probe_busy_odd;
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_TCP, &p), 0);
        assert_int_equal(p, 102); /* 100 reserved, 101 busy */
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_TCP, &p), 0);
        assert_int_equal(p, 104); /* starts after the last one handed out */
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_TCP, &p), 0);
        assert_int_equal(p, 106);
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_TCP, &p), -EADDRNOTAVAIL);
        /* UDP is separate. */
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_UDP, &p), 0);
        assert_int_equal(p, 100);
        port_allocator_release(&pa, 104, PORT_PROTOCOL_TCP);
        assert_int_equal(port_allocator_pick(&pa, PORT_PROTOCOL_TCP, &p), 0);
        assert_int_equal(p, 104); /* wraps around */

        assert_int_equal(port_allocator_hold(&pa, 100, PORT_PROTOCOL_TCP), -EADDRINUSE);
        assert_int_equal(port_allocator_hold(&pa, 104, PORT_PROTOCOL_TCP), -EADDRINUSE);
        assert_int_equal(port_allocator_hold(&pa, 8080, PORT_PROTOCOL_TCP), 0);
        assert_true(port_allocator_is_held(&pa, 8080, PORT_PROTOCOL_TCP));
}

static void test_merge(void **state)
{
        _cleanup_json_ json_object *a = NULL, *b = NULL;
        const char *da = "{\"x\":{\"k\":1,\"m\":2},\"l\":[1,2],\"s\":\"a\"}";
        const char *db = "{\"x\":{\"k\":3},\"l\":[9],\"n\":true}";
        assert_int_equal(json_parse(da, strlen(da), &a), 0);
        assert_int_equal(json_parse(db, strlen(db), &b), 0);
        assert_int_equal(json_merge_onto(a, b), 0);
        _cleanup_free_ char *s = json_dump(a);
        assert_string_equal(s, "{\"x\":{\"k\":3,\"m\":2},\"l\":[9],\"s\":\"a\",\"n\":true}");
}

static void test_metadata_file_paths(void **state)
{
        char *p = NULL;

        assert_int_equal(engine_metadata_task_path("arn:aws:ecs:us-west-2:1:task/default/abc", &p),
                         0);
        assert_string_equal(p, "default/abc");
        free(p);
        assert_int_equal(engine_metadata_task_path("arn:aws-cn:ecs:cn-north-1:1:task/abc", &p), 0);
        assert_string_equal(p, "abc");
        free(p);
        static const char *const bad[] = {
            "arn:aws:ecs:us-west-2:1:task/../etc", "arn:aws:ecs:us-west-2:1:task/a/..",
            "arn:aws:ecs:us-west-2:1:task/a/b/c",  "arn:aws:ecs:us-west-2:1:task/",
            "arn:aws:ecs:us-west-2:1:task//abc",   "arn:aws:ecs:us-west-2:1:container/abc",
            "arn:aws:ecs:us-west-2:1:task/a b",    "arn:aws:ecs:us-west-2:task/abc",
            "arn:aws:ecs:us-west-2:1:task/.",      "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                p = NULL;
                assert_int_equal(engine_metadata_task_path(bad[i], &p), -EINVAL);
                assert_null(p);
        }
        assert_int_equal(engine_metadata_dir("/d", "arn:aws:ecs:r:1:task/c/t", "web_1.x", &p), 0);
        assert_string_equal(p, "/d/metadata/c/t/web_1.x");
        free(p);
        static const char *const bad_names[] = {"..", ".", "a/b", "", "x\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++)
                assert_int_equal(
                    engine_metadata_dir("/d", "arn:aws:ecs:r:1:task/c/t", bad_names[i], &p),
                    -EINVAL);
}

static const char md_inspect[] =
    "{\"Id\":\"f44a\",\"Name\":\"/ecs-web-12-web-c6a8\",\"Image\":\"sha256:ea20\","
    "\"State\":{\"Status\":\"running\",\"Running\":true,\"Pid\":1,"
    "\"StartedAt\":\"2026-11-23T11:01:52.18Z\"},"
    "\"HostConfig\":{\"NetworkMode\":\"bridge\"},\"Config\":{\"Image\":\"nginx:1.25\"},"
    "\"NetworkSettings\":{\"Ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":"
    "\"32768\"}],\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"5353\"}]},"
    "\"Networks\":{\"bridge\":{\"IPAddress\":\"172.17.0.2\","
    "\"GlobalIPv6Address\":\"2001:db8::2\"}}}}";

static json_object *parse_text(char *text)
{
        json_object *o = NULL;
        assert_non_null(text);
        assert_int_equal(json_parse(text, strlen(text), &o), 0);
        free(text);
        return o;
}

static void test_metadata_file_render(void **state)
{
        struct ecs_task *t = sample_task();
        struct docker_container *d = NULL;
        struct metadata_file_info info = {
            .cluster = "prod", .container_instance_arn = "arn:ci", .host_private_ipv4 = "10.0.0.5"};
        json_object *o;

        o = parse_text(engine_metadata_file_render(&info, t, &t->containers[0], NULL));
        assert_string_equal(json_get_string(o, "MetadataFileStatus", NULL), "INITIAL");
        assert_string_equal(json_get_string(o, "Cluster", NULL), "prod");
        assert_string_equal(json_get_string(o, "ContainerInstanceARN", NULL), "arn:ci");
        assert_string_equal(json_get_string(o, "TaskARN", NULL), t->arn);
        assert_string_equal(json_get_string(o, "TaskDefinitionFamily", NULL), "web");
        assert_string_equal(json_get_string(o, "TaskDefinitionRevision", NULL), "12");
        assert_string_equal(json_get_string(o, "ContainerName", NULL), "web_1.x");
        assert_string_equal(json_get_string(o, "HostPrivateIPv4Address", NULL), "10.0.0.5");
        /* Unknown before the container exists, and empty values are left out. */
        assert_null(json_get(o, "ContainerID"));
        assert_null(json_get(o, "PortMappings"));
        assert_null(json_get(o, "AvailabilityZone"));
        assert_null(json_get(o, "HostPublicIPv4Address"));
        json_object_put(o);

        assert_int_equal(docker_container_parse(md_inspect, strlen(md_inspect), &d), 0);
        info.availability_zone = "us-west-2a";
        o = parse_text(engine_metadata_file_render(&info, t, &t->containers[0], d));
        assert_string_equal(json_get_string(o, "MetadataFileStatus", NULL), "READY");
        assert_string_equal(json_get_string(o, "ContainerID", NULL), "f44a");
        assert_string_equal(json_get_string(o, "DockerContainerName", NULL),
                            "/ecs-web-12-web-c6a8");
        assert_string_equal(json_get_string(o, "ImageID", NULL), "sha256:ea20");
        assert_string_equal(json_get_string(o, "ImageName", NULL), "nginx:1.25");
        assert_string_equal(json_get_string(o, "AvailabilityZone", NULL), "us-west-2a");
        json_object *ports = json_get_array(o, "PortMappings", NULL);
        assert_int_equal(json_object_array_length(ports), 2);
        bool tcp = false, udp = false;
        for (size_t i = 0; i < 2; i++) {
                json_object *p = json_object_array_get_idx(ports, i);
                const char *proto = json_get_string(p, "Protocol", NULL);
                if (streq(proto, "tcp")) {
                        tcp = json_get_int(p, "ContainerPort", 0, NULL) == 80 &&
                              json_get_int(p, "HostPort", 0, NULL) == 32768 &&
                              streq(json_get_string(p, "BindIp", NULL), "0.0.0.0");
                } else if (streq(proto, "udp"))
                        udp = json_get_int(p, "ContainerPort", 0, NULL) == 53 &&
                              json_get_int(p, "HostPort", 0, NULL) == 5353 &&
                              streq(json_get_string(p, "BindIp", NULL), "127.0.0.1");
        }
        assert_true(tcp && udp);
        json_object *nets = json_get_array(o, "Networks", NULL);
        assert_int_equal(json_object_array_length(nets), 1);
        json_object *n = json_object_array_get_idx(nets, 0);
        assert_string_equal(json_get_string(n, "NetworkMode", NULL), "bridge");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(json_get(n, "IPv4Addresses"), 0)),
            "172.17.0.2");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(json_get(n, "IPv6Addresses"), 0)),
            "2001:db8::2");
        json_object_put(o);
        docker_container_free(d);
        ecs_task_unref(t);
}

static char *read_text(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;
        if (!f)
                return NULL;
        ssize_t len = getdelim(&buf, &n, '\0', f);
        fclose(f);
        if (len < 0)
                return free(buf), NULL;
        return buf;
}

/* Writes, updates and removes the files on a real file system: the mount and the variable
 * in the create body, INITIAL then READY atomically, and a removal that takes only what is
 * below the task's directory (a planted link's target survives). */
static void test_metadata_file_lifecycle(void **state)
{
        char base[] = "/tmp/ecs-md-test-XXXXXX";
        char path[512], outside[256];
        struct ecs_config cfg = {.container_metadata = true};
        struct engine e = {.config = &cfg, .cluster = "prod", .instance_arn = "arn:ci"};
        struct ecs_task *t = sample_task();
        struct engine_task et = {.task = t, .engine = &e};
        struct ecs_container *c = &t->containers[0];
        json_object *body = json_object_new_object();
        struct docker_container *d = NULL;
        struct stat st;

        assert_non_null(mkdtemp(base));
        cfg.data_dir = base;
        engine_metadata_file_prepare(&e, &et, c, body);
        snprintf(path, sizeof(path), "%s/metadata/default/abc/web_1.x/ecs-container-metadata.json",
                 base);
        json_object *o = parse_text(read_text(path));
        assert_string_equal(json_get_string(o, "MetadataFileStatus", NULL), "INITIAL");
        json_object_put(o);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);

        /* The mount (read-only) and the variable name the same random directory. */
        const char *bind = json_object_get_string(
            json_object_array_get_idx(json_get(json_get(body, "HostConfig"), "Binds"), 0));
        const char *env =
            json_object_get_string(json_object_array_get_idx(json_get(body, "Env"), 0));
        char want[700];
        snprintf(want, sizeof(want), "%s/metadata/default/abc/web_1.x:/opt/ecs/metadata/", base);
        assert_non_null(bind);
        assert_true(startswith(bind, want));
        assert_string_equal(bind + strlen(bind) - 3, ":ro");
        const char *id = bind + strlen(want);
        assert_int_equal(strlen(id), 36 + 3);
        snprintf(want, sizeof(want),
                 "ECS_CONTAINER_METADATA_FILE=/opt/ecs/metadata/%.36s/ecs-container-metadata.json",
                 id);
        assert_string_equal(env, want);

        /* ECS_HOST_DATA_DIR set (the agent in a container): the mount source is below it. */
        json_object *body2 = json_object_new_object();
        cfg.host_data_dir = "/var/lib/ecs";
        engine_metadata_file_prepare(&e, &et, &t->containers[1], body2);
        bind = json_object_get_string(
            json_object_array_get_idx(json_get(json_get(body2, "HostConfig"), "Binds"), 0));
        snprintf(want, sizeof(want), "/var/lib/ecs%s/metadata/default/abc/db:", base);
        assert_true(startswith(bind, want));
        json_object_put(body2);
        cfg.host_data_dir = NULL;

        assert_int_equal(docker_container_parse(md_inspect, strlen(md_inspect), &d), 0);
        engine_metadata_file_ready(&e, &et, c, d);
        o = parse_text(read_text(path));
        assert_string_equal(json_get_string(o, "MetadataFileStatus", NULL), "READY");
        assert_string_equal(json_get_string(o, "ContainerID", NULL), "f44a");
        json_object_put(o);

        /* READY alone (after a restart no create ran) checks the name too. */
        struct ecs_container evil = {.name = (char *)"../../escape"};
        engine_metadata_file_ready(&e, &et, &evil, d);
        snprintf(path, sizeof(path), "%s/metadata/escape", base);
        assert_int_equal(stat(path, &st), -1);
        snprintf(path, sizeof(path), "%s/escape", base);
        assert_int_equal(stat(path, &st), -1);

        /* Whatever appears in the directory, removal stays inside it. */
        snprintf(outside, sizeof(outside), "%s/outside", base);
        assert_int_equal(mkdir(outside, 0755), 0);
        snprintf(want, sizeof(want), "%s/keep", outside);
        FILE *f = fopen(want, "we");
        assert_non_null(f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/metadata/default/abc/web_1.x/link", base);
        assert_int_equal(symlink(outside, path), 0);
        snprintf(path, sizeof(path), "%s/metadata/default/abc/web_1.x/sub", base);
        assert_int_equal(mkdir(path, 0755), 0);
        engine_metadata_file_remove(&e, t);
        snprintf(path, sizeof(path), "%s/metadata/default", base);
        assert_int_equal(stat(path, &st), -1); /* the task's and the empty cluster directory */
        assert_int_equal(stat(want, &st), 0);
        snprintf(path, sizeof(path), "%s/metadata", base);
        assert_int_equal(stat(path, &st), 0);

        /* Off: nothing written, nothing added. */
        json_object *body3 = json_object_new_object();
        cfg.container_metadata = false;
        engine_metadata_file_prepare(&e, &et, c, body3);
        assert_null(json_get(body3, "Env"));
        snprintf(path, sizeof(path), "%s/metadata/default", base);
        assert_int_equal(stat(path, &st), -1);
        json_object_put(body3);

        unlink(want);
        rmdir(outside);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/metadata", base);
        rmdir(path);
        rmdir(base);
        docker_container_free(d);
        json_object_put(body);
        ecs_task_unref(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_create_config),
            cmocka_unit_test(test_create_config_env),
            cmocka_unit_test(test_awsvpc_configs),
            cmocka_unit_test(test_create_config_errors),
            cmocka_unit_test(test_docker_name),
            cmocka_unit_test(test_task_status),
            cmocka_unit_test(test_ports),
            cmocka_unit_test(test_merge),
            cmocka_unit_test(test_metadata_file_paths),
            cmocka_unit_test(test_metadata_file_render),
            cmocka_unit_test(test_metadata_file_lifecycle),
        };
        return cmocka_run_group_tests_name("test_engine_config", tests, NULL, NULL);
}
