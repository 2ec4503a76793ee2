/* Durable task JSON: every field survives a round trip, the output is stable, every written
 * key is read back, and corrupt documents give an error and no task. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>

#include "ecs/jsonutil.h"
#include "ecs/macro.h"
#include "ecs/task.h"
#include "ecs/task_json.h"

#define ARN "arn:aws:ecs:us-west-2:123456789012:task/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
#define ID  "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"

static char **strv(int n, ...)
{
        va_list ap;
        char **l = calloc(n + 1, sizeof(char *));

        assert_non_null(l);
        va_start(ap, n);
        for (int i = 0; i < n; i++)
                l[i] = strdup(va_arg(ap, const char *));
        va_end(ap);
        return l;
}

/* Distinct, non-default values in every field; k makes two containers differ. */
static void fill_container(struct ecs_container *c, int k)
{
        char buf[64];

#define S(field, text)                                                                             \
        do {                                                                                       \
                snprintf(buf, sizeof(buf), "%s-%d", text, k);                                      \
                (field) = strdup(buf);                                                             \
        } while (0)
        S(c->name, "web");
        S(c->arn, "arn:aws:ecs:us-west-2:123456789012:container/x");
        S(c->image, "busybox:1.36");
        c->cpu = 256 + k;
        c->memory_mib = 512 + k;
        c->essential = true;
        c->command = strv(3, "sh", "-c", "echo \"hi\"\n\ttab \\ ü");
        c->entrypoint = strv(0); /* empty, not NULL: must stay empty */
        c->environment = strv(2, "A=1", "B=two=2");
        c->n_ports = 2;
        c->ports = calloc(2, sizeof(*c->ports));
        c->ports[0] = (struct port_mapping){80, 8080, PORT_PROTOCOL_UDP, 1, 2};
        c->ports[1] = (struct port_mapping){9000, 1, PORT_PROTOCOL_TCP, 9000, 9010};
        c->links = strv(2, "db:database", "cache");
        c->n_mounts = 1;
        c->mounts = calloc(1, sizeof(*c->mounts));
        S(c->mounts[0].source_volume, "vol");
        S(c->mounts[0].container_path, "/data");
        c->mounts[0].read_only = true;
        c->n_volumes_from = 1;
        c->volumes_from = calloc(1, sizeof(*c->volumes_from));
        S(c->volumes_from[0].source_container, "data");
        c->volumes_from[0].read_only = true;
        c->n_depends_on = 2;
        c->depends_on = calloc(2, sizeof(*c->depends_on));
        S(c->depends_on[0].container_name, "db");
        c->depends_on[0].condition = DEPENDENCY_HEALTHY;
        S(c->depends_on[1].container_name, "init");
        c->depends_on[1].condition = DEPENDENCY_SUCCESS;
        S(c->docker_config, "{\"User\":\"nobody\"}");
        S(c->docker_host_config, "{\"Privileged\":false}");
        S(c->docker_version, "1.41");
        c->health_check_docker = true;
        c->start_timeout_sec = 60 + k;
        c->stop_timeout_sec = 30 + k;
        c->restart.enabled = true;
        c->restart.n_ignored_exit_codes = 3;
        c->restart.ignored_exit_codes = calloc(3, sizeof(int));
        c->restart.ignored_exit_codes[0] = 0;
        c->restart.ignored_exit_codes[1] = -1;
        c->restart.ignored_exit_codes[2] = 2147483647;
        c->restart.attempt_period_sec = 300 + k;
        c->n_secrets = 1;
        c->secrets = calloc(1, sizeof(*c->secrets));
        S(c->secrets[0].name, "DB_PASSWORD");
        S(c->secrets[0].value_from, "arn:aws:ssm:us-west-2:1:parameter/p");
        S(c->secrets[0].region, "us-east-1");
        S(c->secrets[0].provider, "ssm");
        S(c->secrets[0].type, "MOUNT_POINT");
        S(c->secrets[0].target, "CONTAINER");
        S(c->secrets[0].container_path, "/run/secrets");
        S(c->registry_auth.type, "ecr");
        S(c->registry_auth.ecr_registry_id, "123456789012");
        S(c->registry_auth.ecr_region, "eu-west-1");
        S(c->registry_auth.ecr_endpoint_override, "https://ecr.example");
        c->registry_auth.ecr_use_execution_role = true;
        S(c->registry_auth.asm_credentials_parameter, "arn:aws:secretsmanager:x");
        S(c->registry_auth.asm_region, "ap-south-1");
        c->logs_auth_execution_role = true;

        c->desired_status = CONTAINER_STATUS_RUNNING;
        c->known_status = CONTAINER_STATUS_RESOURCES_PROVISIONED;
        c->sent_status = CONTAINER_STATUS_MANIFEST_PULLED;
        S(c->docker_id, "0123456789abcdef");
        S(c->docker_name, "ecs-web-12-web-c6a8f4e2b1d0e9f7a501");
        S(c->image_id, "sha256:aaaa");
        S(c->image_digest, "sha256:bbbb");
        c->exit_code = -143 - k;
        c->has_exit_code = true;
        S(c->reason, "CannotStartContainerError: boom");
        c->n_bindings = 2;
        c->bindings = calloc(2, sizeof(*c->bindings));
        c->bindings[0] = (struct network_binding){"0.0.0.0", 80, 8080, PORT_PROTOCOL_UDP};
        c->bindings[1] = (struct network_binding){"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                                                  9000, 32768, PORT_PROTOCOL_TCP};
        S(c->endpoint_id, "6f1b7c2e-uuid");
        c->health_status = 2;
        c->created_at = 1700000000000001ULL + k;
        c->started_at = 1700000000000002ULL + k;
        c->health_since = 1700000000000005ULL + k;
        c->finished_at = 1700000000000003ULL + k;
        c->restart_count = 4 + k;
        S(c->network_name, "bridge");
        S(c->ipv4_address, "172.17.0.9");
        S(c->ipv6_address, "fd00::9");
        c->docker_labels = calloc(3, sizeof(char *));
        c->docker_labels[0] = strdup("team=it");
        c->docker_labels[1] = strdup("com.amazonaws.ecs.cluster=default");
#undef S
}

static struct ecs_task *fill_task(void)
{
        struct ecs_task *t = ecs_task_new();

        assert_non_null(t);
        t->arn = strdup(ARN);
        t->id = strdup(ID);
        t->cluster_arn = strdup("arn:aws:ecs:us-west-2:123456789012:cluster/default");
        t->family = strdup("web");
        t->version = strdup("12");
        t->network_mode = NETWORK_MODE_AWSVPC;
        t->cpu = 0.1; /* not exactly representable: the text must still round-trip */
        t->memory_mib = 1024;
        t->launch_type = strdup("EC2");
        t->service_name = strdup("svc");
        t->role_credentials_id = strdup("role-cred-id");
        t->execution_credentials_id = strdup("exec-cred-id");
        t->n_containers = 2;
        t->containers = calloc(2, sizeof(*t->containers));
        fill_container(&t->containers[0], 0);
        fill_container(&t->containers[1], 1);
        t->n_volumes = 2;
        t->volumes = calloc(2, sizeof(*t->volumes));
        t->volumes[0].name = strdup("vol");
        t->volumes[0].type = strdup("docker");
        t->volumes[0].source_path = strdup("/host/path");
        t->volumes[0].scope = strdup("shared");
        t->volumes[0].autoprovision = true;
        t->volumes[0].driver = strdup("local");
        t->volumes[0].driver_opts = strv(2, "type=tmpfs", "device=tmpfs");
        t->volumes[0].labels = strv(1, "a=b");
        t->volumes[0].docker_name = strdup("ecs-vol-123");
        t->volumes[1].name = strdup("empty");
        t->volumes[1].driver_opts = strv(0);
        t->volumes[1].autoprovision = true;

        t->desired_status = TASK_STATUS_RUNNING;
        t->known_status = TASK_STATUS_CREATED;
        t->sent_status = TASK_STATUS_MANIFEST_PULLED;
        t->known_status_time = 1700000000000010ULL;
        t->reason = strdup("TaskStateError: x");
        t->pull_started_at = 1700000000000011ULL;
        t->pull_stopped_at = 1700000000000012ULL;
        t->execution_stopped_at = 1700000000000013ULL;
        t->created_at = 1700000000000014ULL;
        t->eni = calloc(1, sizeof(*t->eni));
        t->eni->ec2_id = strdup("eni-1");
        t->eni->mac = strdup("0e:12:34:56:78:9a");
        t->eni->attachment_arn = strdup("arn:aws:ecs:r:1:attachment/a");
        t->eni->ipv4 = strv(2, "10.0.1.57", "10.0.1.58");
        t->eni->ipv6 = strv(1, "2001:db8::5");
        t->eni->subnet_gateway_ipv4 = strdup("10.0.1.1/24");
        t->eni->subnet_gateway_ipv6 = strdup("2001:db8::1/64");
        t->eni->dns_servers = strv(1, "10.0.0.2");
        t->eni->search_domains = strv(2, "a.internal", "b.internal");
        t->eni->private_dns_name = strdup("ip-10-0-1-57.internal");
        t->pause_docker_id = strdup("abc123");
        t->pause_docker_name = strdup("ecs-fam-1-internalecspause-00");
        t->local_ip = strdup("169.254.172.2");
        return t;
}

/* ---- field-by-field equality (transition_in_flight and refs are not persisted) ---- */

static bool verbose = true;

#define EQ(cond, what)                                                                             \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        if (verbose)                                                               \
                                fprintf(stderr, "field differs: %s\n", what);                      \
                        return false;                                                              \
                }                                                                                  \
        } while (0)

static bool strv_equal(char **a, char **b)
{
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

static bool container_equal(const struct ecs_container *a, const struct ecs_container *b)
{
        EQ(streq_ptr(a->name, b->name), "name");
        EQ(streq_ptr(a->arn, b->arn), "arn");
        EQ(streq_ptr(a->image, b->image), "image");
        EQ(a->cpu == b->cpu, "cpu");
        EQ(a->memory_mib == b->memory_mib, "memory_mib");
        EQ(a->essential == b->essential, "essential");
        EQ(strv_equal(a->command, b->command), "command");
        EQ(strv_equal(a->entrypoint, b->entrypoint), "entrypoint");
        EQ(strv_equal(a->environment, b->environment), "environment");
        EQ(a->n_ports == b->n_ports, "n_ports");
        for (size_t i = 0; i < a->n_ports; i++) {
                EQ(a->ports[i].container_port == b->ports[i].container_port, "container_port");
                EQ(a->ports[i].host_port == b->ports[i].host_port, "host_port");
                EQ(a->ports[i].protocol == b->ports[i].protocol, "port protocol");
                EQ(a->ports[i].range_start == b->ports[i].range_start, "range_start");
                EQ(a->ports[i].range_end == b->ports[i].range_end, "range_end");
        }
        EQ(strv_equal(a->links, b->links), "links");
        EQ(a->n_mounts == b->n_mounts, "n_mounts");
        for (size_t i = 0; i < a->n_mounts; i++) {
                EQ(streq_ptr(a->mounts[i].source_volume, b->mounts[i].source_volume),
                   "source_volume");
                EQ(streq_ptr(a->mounts[i].container_path, b->mounts[i].container_path),
                   "mount container_path");
                EQ(a->mounts[i].read_only == b->mounts[i].read_only, "mount read_only");
        }
        EQ(a->n_volumes_from == b->n_volumes_from, "n_volumes_from");
        for (size_t i = 0; i < a->n_volumes_from; i++) {
                EQ(streq_ptr(a->volumes_from[i].source_container,
                             b->volumes_from[i].source_container),
                   "source_container");
                EQ(a->volumes_from[i].read_only == b->volumes_from[i].read_only,
                   "volumes_from read_only");
        }
        EQ(a->n_depends_on == b->n_depends_on, "n_depends_on");
        for (size_t i = 0; i < a->n_depends_on; i++) {
                EQ(streq_ptr(a->depends_on[i].container_name, b->depends_on[i].container_name),
                   "depends_on name");
                EQ(a->depends_on[i].condition == b->depends_on[i].condition, "condition");
        }
        EQ(streq_ptr(a->docker_config, b->docker_config), "docker_config");
        EQ(streq_ptr(a->docker_host_config, b->docker_host_config), "docker_host_config");
        EQ(streq_ptr(a->docker_version, b->docker_version), "docker_version");
        EQ(a->health_check_docker == b->health_check_docker, "health_check_docker");
        EQ(a->start_timeout_sec == b->start_timeout_sec, "start_timeout_sec");
        EQ(a->stop_timeout_sec == b->stop_timeout_sec, "stop_timeout_sec");
        EQ(a->restart.enabled == b->restart.enabled, "restart.enabled");
        EQ(a->restart.n_ignored_exit_codes == b->restart.n_ignored_exit_codes,
           "n_ignored_exit_codes");
        for (size_t i = 0; i < a->restart.n_ignored_exit_codes; i++)
                EQ(a->restart.ignored_exit_codes[i] == b->restart.ignored_exit_codes[i],
                   "ignored_exit_codes");
        EQ(a->restart.attempt_period_sec == b->restart.attempt_period_sec, "attempt_period_sec");
        EQ(a->n_secrets == b->n_secrets, "n_secrets");
        for (size_t i = 0; i < a->n_secrets; i++) {
                const struct container_secret *x = &a->secrets[i], *y = &b->secrets[i];
                EQ(streq_ptr(x->name, y->name), "secret name");
                EQ(streq_ptr(x->value_from, y->value_from), "secret value_from");
                EQ(streq_ptr(x->region, y->region), "secret region");
                EQ(streq_ptr(x->provider, y->provider), "secret provider");
                EQ(streq_ptr(x->type, y->type), "secret type");
                EQ(streq_ptr(x->target, y->target), "secret target");
                EQ(streq_ptr(x->container_path, y->container_path), "secret container_path");
        }
        const struct registry_auth *x = &a->registry_auth, *y = &b->registry_auth;
        EQ(streq_ptr(x->type, y->type), "auth type");
        EQ(streq_ptr(x->ecr_registry_id, y->ecr_registry_id), "ecr_registry_id");
        EQ(streq_ptr(x->ecr_region, y->ecr_region), "ecr_region");
        EQ(streq_ptr(x->ecr_endpoint_override, y->ecr_endpoint_override), "ecr_endpoint_override");
        EQ(x->ecr_use_execution_role == y->ecr_use_execution_role, "ecr_use_execution_role");
        EQ(streq_ptr(x->asm_credentials_parameter, y->asm_credentials_parameter),
           "asm_credentials_parameter");
        EQ(streq_ptr(x->asm_region, y->asm_region), "asm_region");
        EQ(a->logs_auth_execution_role == b->logs_auth_execution_role, "logs_auth");

        EQ(a->desired_status == b->desired_status, "desired_status");
        EQ(a->known_status == b->known_status, "known_status");
        EQ(a->sent_status == b->sent_status, "sent_status");
        EQ(streq_ptr(a->docker_id, b->docker_id), "docker_id");
        EQ(streq_ptr(a->docker_name, b->docker_name), "docker_name");
        EQ(streq_ptr(a->image_id, b->image_id), "image_id");
        EQ(streq_ptr(a->image_digest, b->image_digest), "image_digest");
        EQ(a->exit_code == b->exit_code, "exit_code");
        EQ(a->has_exit_code == b->has_exit_code, "has_exit_code");
        EQ(streq_ptr(a->reason, b->reason), "reason");
        EQ(a->n_bindings == b->n_bindings, "n_bindings");
        for (size_t i = 0; i < a->n_bindings; i++) {
                EQ(streq(a->bindings[i].bind_ip, b->bindings[i].bind_ip), "bind_ip");
                EQ(a->bindings[i].container_port == b->bindings[i].container_port,
                   "binding container_port");
                EQ(a->bindings[i].host_port == b->bindings[i].host_port, "binding host_port");
                EQ(a->bindings[i].protocol == b->bindings[i].protocol, "binding protocol");
        }
        EQ(streq_ptr(a->endpoint_id, b->endpoint_id), "endpoint_id");
        EQ(a->health_status == b->health_status, "health_status");
        EQ(a->created_at == b->created_at, "created_at");
        EQ(a->started_at == b->started_at, "started_at");
        EQ(a->health_since == b->health_since, "health_since");
        EQ(a->finished_at == b->finished_at, "finished_at");
        EQ(a->restart_count == b->restart_count, "restart_count");
        EQ(streq_ptr(a->network_name, b->network_name), "network_name");
        EQ(streq_ptr(a->ipv4_address, b->ipv4_address), "ipv4_address");
        EQ(streq_ptr(a->ipv6_address, b->ipv6_address), "ipv6_address");
        EQ(strv_equal(a->docker_labels, b->docker_labels), "docker_labels");
        return true;
}

static bool task_equal(const struct ecs_task *a, const struct ecs_task *b)
{
        EQ(streq_ptr(a->arn, b->arn), "task arn");
        EQ(streq_ptr(a->id, b->id), "task id");
        EQ(streq_ptr(a->cluster_arn, b->cluster_arn), "cluster_arn");
        EQ(streq_ptr(a->family, b->family), "family");
        EQ(streq_ptr(a->version, b->version), "version");
        EQ(a->network_mode == b->network_mode, "network_mode");
        EQ(a->cpu == b->cpu, "task cpu");
        EQ(a->memory_mib == b->memory_mib, "task memory");
        EQ(streq_ptr(a->launch_type, b->launch_type), "launch_type");
        EQ(streq_ptr(a->service_name, b->service_name), "service_name");
        EQ(streq_ptr(a->role_credentials_id, b->role_credentials_id), "role_credentials_id");
        EQ(streq_ptr(a->execution_credentials_id, b->execution_credentials_id),
           "execution_credentials_id");
        EQ(a->n_containers == b->n_containers, "n_containers");
        for (size_t i = 0; i < a->n_containers; i++)
                if (!container_equal(&a->containers[i], &b->containers[i]))
                        return false;
        EQ(a->n_volumes == b->n_volumes, "n_volumes");
        for (size_t i = 0; i < a->n_volumes; i++) {
                const struct task_volume *x = &a->volumes[i], *y = &b->volumes[i];
                EQ(streq_ptr(x->name, y->name), "volume name");
                EQ(streq_ptr(x->type, y->type), "volume type");
                EQ(streq_ptr(x->source_path, y->source_path), "source_path");
                EQ(streq_ptr(x->scope, y->scope), "scope");
                EQ(x->autoprovision == y->autoprovision, "autoprovision");
                EQ(streq_ptr(x->driver, y->driver), "driver");
                EQ(strv_equal(x->driver_opts, y->driver_opts), "driver_opts");
                EQ(strv_equal(x->labels, y->labels), "labels");
                EQ(streq_ptr(x->docker_name, y->docker_name), "volume docker_name");
        }
        EQ(a->desired_status == b->desired_status, "task desired_status");
        EQ(a->known_status == b->known_status, "task known_status");
        EQ(a->sent_status == b->sent_status, "task sent_status");
        EQ(a->known_status_time == b->known_status_time, "known_status_time");
        EQ(streq_ptr(a->reason, b->reason), "task reason");
        EQ(a->pull_started_at == b->pull_started_at, "pull_started_at");
        EQ(a->pull_stopped_at == b->pull_stopped_at, "pull_stopped_at");
        EQ(a->execution_stopped_at == b->execution_stopped_at, "execution_stopped_at");
        EQ(a->created_at == b->created_at, "task created_at");
        EQ(!a->eni == !b->eni, "eni");
        if (a->eni) {
                const struct task_eni *x = a->eni, *y = b->eni;
                EQ(streq_ptr(x->ec2_id, y->ec2_id), "eni ec2_id");
                EQ(streq_ptr(x->mac, y->mac), "eni mac");
                EQ(streq_ptr(x->attachment_arn, y->attachment_arn), "eni attachment_arn");
                EQ(strv_equal(x->ipv4, y->ipv4), "eni ipv4");
                EQ(strv_equal(x->ipv6, y->ipv6), "eni ipv6");
                EQ(streq_ptr(x->subnet_gateway_ipv4, y->subnet_gateway_ipv4), "eni gw4");
                EQ(streq_ptr(x->subnet_gateway_ipv6, y->subnet_gateway_ipv6), "eni gw6");
                EQ(strv_equal(x->dns_servers, y->dns_servers), "eni dns_servers");
                EQ(strv_equal(x->search_domains, y->search_domains), "eni search_domains");
                EQ(streq_ptr(x->private_dns_name, y->private_dns_name), "eni private_dns_name");
        }
        EQ(streq_ptr(a->pause_docker_id, b->pause_docker_id), "pause_docker_id");
        EQ(streq_ptr(a->pause_docker_name, b->pause_docker_name), "pause_docker_name");
        EQ(streq_ptr(a->local_ip, b->local_ip), "local_ip");
        return true;
}

static char *dump_task(const struct ecs_task *t)
{
        json_object *o = NULL;
        char *s;

        assert_int_equal(task_to_json(t, &o), 0);
        s = json_dump(o);
        assert_non_null(s);
        json_object_put(o);
        return s;
}

static int load(const char *text, struct ecs_task **ret, char **ret_error)
{
        json_object *o = NULL;
        int r;

        assert_int_equal(json_parse(text, strlen(text), &o), 0);
        r = task_from_json(o, ret, ret_error);
        json_object_put(o);
        return r;
}

/* ---- tests ---- */

static void test_roundtrip_every_field(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task(), *u = NULL;
        _cleanup_free_ char *s1 = dump_task(t), *s2 = NULL, *err = NULL;

        assert_int_equal(load(s1, &u, &err), 0);
        assert_null(err);
        assert_true(task_equal(t, u));
        assert_int_equal(u->refs, 1);
        /* NULL and empty lists stay distinct. */
        assert_non_null(u->containers[0].entrypoint);
        assert_null(u->containers[0].entrypoint[0]);
        assert_null(u->volumes[1].labels);
        /* The text is stable: to_json(from_json(to_json(t))) == to_json(t). */
        s2 = dump_task(u);
        assert_string_equal(s1, s2);
        /* The fixture really is non-default everywhere it can be: an empty task differs. */
        struct ecs_task *empty = ecs_task_new();
        verbose = false;
        assert_false(task_equal(t, empty));
        verbose = true;
        ecs_task_unref(empty);
        ecs_task_unref(t);
        ecs_task_unref(u);
}

static void test_format(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task();
        _cleanup_free_ char *s = dump_task(t);

        assert_non_null(strstr(s, "{\"version\":1,\"task\":{"));
        assert_non_null(strstr(s, "\"knownStatus\":\"RESOURCES_PROVISIONED\""));
        assert_non_null(strstr(s, "\"desiredStatus\":\"RUNNING\""));
        assert_non_null(strstr(s, "\"healthStatus\":\"UNHEALTHY\""));
        assert_non_null(strstr(s, "\"condition\":\"HEALTHY\""));
        assert_non_null(strstr(s, "\"networkMode\":\"awsvpc\""));
        assert_non_null(strstr(s, "\"startedAt\":1700000000000002"));
        ecs_task_unref(t);
}

/* transition_in_flight and health_published are process state: never written, reset on
 * load. */
static void test_in_flight_not_persisted(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task(), *u = NULL;

        t->containers[0].transition_in_flight = true;
        t->containers[0].health_published = 2;
        _cleanup_free_ char *s = dump_task(t);
        assert_null(strstr(s, "nFlight"));
        assert_null(strstr(s, "ublished"));
        assert_int_equal(load(s, &u, NULL), 0);
        assert_false(u->containers[0].transition_in_flight);
        assert_int_equal(u->containers[0].health_published, 0);
        ecs_task_unref(t);
        ecs_task_unref(u);
}

static void test_minimal(void **state)
{
        (void)state;
        struct ecs_task *u = NULL;
        _cleanup_free_ char *s = NULL;

        assert_int_equal(load("{\"version\":1,\"task\":{\"arn\":\"" ARN "\",\"id\":\"" ID "\","
                              "\"networkMode\":\"host\",\"desiredStatus\":\"RUNNING\","
                              "\"knownStatus\":\"NONE\",\"sentStatus\":\"NONE\","
                              "\"family\":null,\"containers\":[{\"name\":\"a\","
                              "\"desiredStatus\":\"RUNNING\",\"knownStatus\":\"NONE\","
                              "\"sentStatus\":\"NONE\",\"healthStatus\":\"UNKNOWN\"}]}}",
                              &u, NULL),
                         0);
        assert_string_equal(u->containers[0].name, "a");
        assert_null(u->family);
        assert_null(u->containers[0].command);
        assert_null(u->containers[0].registry_auth.type);
        assert_int_equal(u->network_mode, NETWORK_MODE_HOST);
        assert_int_equal(u->n_volumes, 0);
        /* Stable from there on too. */
        s = dump_task(u);
        struct ecs_task *v = NULL;
        assert_int_equal(load(s, &v, NULL), 0);
        _cleanup_free_ char *s2 = dump_task(v);
        assert_string_equal(s, s2);
        ecs_task_unref(u);
        ecs_task_unref(v);
}

/* Delete each key of the full document in turn (depth-first): the result must either be
 * refused or decode to a different task. A key the reader ignores fails this. */
static bool delete_nth(json_object *o, int *n)
{
        if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (delete_nth(json_object_array_get_idx(o, i), n))
                                return true;
                return false;
        }
        if (!json_object_is_type(o, json_type_object))
                return false;
        json_object_object_foreach (o, key, val) {
                if ((*n)-- == 0) {
                        json_object_object_del(o, key);
                        return true;
                }
                if (delete_nth(val, n))
                        return true;
        }
        return false;
}

static void test_every_key_is_read(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task();
        _cleanup_free_ char *s = dump_task(t);
        int k, deleted = 0;

        verbose = false;
        for (k = 0;; k++) {
                json_object *o = NULL;
                struct ecs_task *u = NULL;
                char *err = NULL;
                int n = k;

                assert_int_equal(json_parse(s, strlen(s), &o), 0);
                if (!delete_nth(o, &n)) {
                        json_object_put(o);
                        break;
                }
                deleted++;
                if (task_from_json(o, &u, &err) == 0) {
                        if (task_equal(t, u))
                                fail_msg("key #%d is written but not read", k);
                        ecs_task_unref(u);
                } else {
                        assert_non_null(err);
                        assert_null(u);
                }
                free(err);
                json_object_put(o);
        }
        verbose = true;
        /* A sanity floor: two full containers carry well over a hundred keys. */
        assert_true(deleted > 150);
        ecs_task_unref(t);
}

static void test_version(void **state)
{
        (void)state;
        struct ecs_task *u = NULL;
        char *err = NULL;

        assert_int_equal(load("{\"version\":2,\"task\":{}}", &u, &err), -EPROTONOSUPPORT);
        assert_null(u);
        assert_non_null(strstr(err, "unsupported format version 2"));
        err = mfree(err);
        assert_int_equal(load("{\"task\":{}}", &u, &err), -EBADMSG);
        assert_non_null(strstr(err, "version"));
        err = mfree(err);
        assert_int_equal(load("{\"version\":\"1\",\"task\":{}}", &u, &err), -EBADMSG);
        err = mfree(err);
        assert_int_equal(load("[1]", &u, &err), -EBADMSG);
        err = mfree(err);
        assert_int_equal(load("{\"version\":1}", &u, &err), -EBADMSG);
        assert_non_null(strstr(err, "task"));
        free(err);
}

/* Replace the first occurrence of from by to in the full document and expect a refusal
 * whose message mentions where. */
static void expect_corrupt(const char *doc, const char *from, const char *to, const char *where)
{
        const char *p = strstr(doc, from);
        _cleanup_free_ char *text = NULL, *err = NULL;
        struct ecs_task *u = (struct ecs_task *)0x1;

        assert_non_null(p);
        assert_true(asprintf(&text, "%.*s%s%s", (int)(p - doc), doc, to, p + strlen(from)) > 0);
        assert_int_equal(load(text, &u, &err), -EBADMSG);
        assert_ptr_equal(u, (struct ecs_task *)0x1); /* untouched */
        assert_non_null(err);
        if (!strstr(err, where))
                fail_msg("error '%s' does not mention '%s' (replacing %s)", err, where, from);
}

static void test_corrupt(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task();
        _cleanup_free_ char *doc = dump_task(t);

        expect_corrupt(doc, "\"knownStatus\":\"RESOURCES_PROVISIONED\"",
                       "\"knownStatus\":\"BOGUS\"", "containers[0].knownStatus");
        expect_corrupt(doc, "\"desiredStatus\":\"RUNNING\"", "\"desiredStatus\":3",
                       "task.desiredStatus");
        expect_corrupt(doc, "\"networkMode\":\"awsvpc\"", "\"networkMode\":\"\"", "networkMode");
        expect_corrupt(doc, "\"condition\":\"HEALTHY\"", "\"condition\":\"healthy\"", "condition");
        expect_corrupt(doc, "\"protocol\":\"udp\"", "\"protocol\":\"sctp\"", "protocol");
        expect_corrupt(doc, "\"healthStatus\":\"UNHEALTHY\"", "\"healthStatus\":2", "healthStatus");
        expect_corrupt(doc, "\"essential\":true", "\"essential\":1", "essential");
        expect_corrupt(doc, "\"cpu\":256", "\"cpu\":-1", "containers[0].cpu");
        expect_corrupt(doc, "\"cpu\":256", "\"cpu\":4294967296", "cpu");
        expect_corrupt(doc, "\"cpu\":256", "\"cpu\":1.5", "cpu");
        expect_corrupt(doc, "\"cpu\":0.10000000000000001", "\"cpu\":-0.5", "task.cpu");
        expect_corrupt(doc, "\"cpu\":0.10000000000000001", "\"cpu\":\"1\"", "task.cpu");
        expect_corrupt(doc, "\"containerPort\":80", "\"containerPort\":65536", "containerPort");
        expect_corrupt(doc, "\"exitCode\":-143", "\"exitCode\":2147483648", "exitCode");
        expect_corrupt(doc, "\"startedAt\":1700000000000002", "\"startedAt\":-1", "startedAt");
        expect_corrupt(doc, "\"name\":\"web-0\"", "\"name\":\"\"", "containers[0].name");
        expect_corrupt(doc, "\"name\":\"web-0\"", "\"name\":null", "containers[0].name");
        expect_corrupt(doc, "\"name\":\"web-0\"", "\"name\":\"a\\u0000b\"", "NUL");
        expect_corrupt(doc, "\"image\":\"busybox:1.36-0\"", "\"image\":[]", "image");
        expect_corrupt(doc, "\"command\":[\"sh\"", "\"command\":[1", "command");
        expect_corrupt(doc, "\"command\":[", "\"command\":{},\"x\":[", "command");
        expect_corrupt(doc, "\"links\":[", "\"links\":[null,", "links");
        expect_corrupt(doc, "\"portMappings\":[", "\"portMappings\":[1,", "portMappings");
        expect_corrupt(doc, "\"containers\":[", "\"containers\":[[],", "containers");
        expect_corrupt(doc, "\"registryAuth\":{", "\"registryAuth\":[],\"x\":{", "registryAuth");
        expect_corrupt(doc, "\"ignoredExitCodes\":[", "\"ignoredExitCodes\":[\"1\",",
                       "ignoredExitCodes");
        expect_corrupt(doc, "\"bindIp\":\"0.0.0.0\"",
                       "\"bindIp\":\"0123456789012345678901234567890123456789012345\"", "bindIp");
        expect_corrupt(doc, "\"id\":\"" ID "\"", "\"id\":\"../../etc\"", "task.id");
        expect_corrupt(doc, "\"arn\":\"" ARN "\"", "\"arn\":\"not-an-arn\"", "task.arn");
        ecs_task_unref(t);
}

static void test_limits(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task(), *u = NULL;
        json_object *o = NULL, *big = NULL;
        char *err = NULL;

        /* A string of exactly the limit is fine on both sides; one byte more is refused. */
        char *s = malloc(TASK_JSON_MAX_STRING_LEN + 2);
        memset(s, 'x', TASK_JSON_MAX_STRING_LEN + 1);
        s[TASK_JSON_MAX_STRING_LEN] = 0;
        free(t->containers[0].reason);
        t->containers[0].reason = strdup(s);
        assert_int_equal(task_to_json(t, &o), 0);
        assert_int_equal(task_from_json(o, &u, NULL), 0);
        u = ecs_task_unref(u);
        /* Over the limit: the reader refuses it (the writer too, below). */
        json_object *c0 = json_object_array_get_idx(
            json_object_object_get(json_object_object_get(o, "task"), "containers"), 0);
        s[TASK_JSON_MAX_STRING_LEN] = 'x';
        s[TASK_JSON_MAX_STRING_LEN + 1] = 0;
        json_object_object_add(c0, "reason", json_object_new_string(s));
        assert_int_equal(task_from_json(o, &u, &err), -EBADMSG);
        assert_non_null(strstr(err, "containers[0].reason"));
        err = mfree(err);
        json_object_object_add(c0, "reason", NULL);
        /* A list of TASK_JSON_MAX_ITEMS + 1 is refused. */
        big = json_object_new_array();
        for (unsigned i = 0; i <= TASK_JSON_MAX_ITEMS; i++)
                json_object_array_add(big, json_object_new_string("A=1"));
        json_object_object_add(c0, "environment", big);
        assert_int_equal(task_from_json(o, &u, &err), -EBADMSG);
        assert_non_null(strstr(err, "environment"));
        assert_null(u);
        err = mfree(err);
        json_object_put(o);
        o = NULL;

        /* The writer refuses what the reader would. */
        free(t->containers[0].reason);
        t->containers[0].reason = s;
        assert_int_equal(task_to_json(t, &o), -E2BIG);
        assert_null(o);
        ecs_task_unref(t);
}

static void test_writer_rejects_invalid(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task();
        json_object *o = NULL;

        t->containers[1].known_status = _CONTAINER_STATUS_MAX;
        assert_int_equal(task_to_json(t, &o), -EINVAL);
        t->containers[1].known_status = CONTAINER_STATUS_STOPPED;
        t->containers[1].health_status = 3;
        assert_int_equal(task_to_json(t, &o), -EINVAL);
        t->containers[1].health_status = 0;
        t->containers[1].depends_on[0].condition = _DEPENDENCY_INVALID;
        assert_int_equal(task_to_json(t, &o), -EINVAL);
        t->containers[1].depends_on[0].condition = DEPENDENCY_CREATE;
        t->pull_started_at = (uint64_t)INT64_MAX + 1;
        assert_int_equal(task_to_json(t, &o), -ERANGE);
        t->pull_started_at = 0;
        t->cpu = INFINITY;
        assert_int_equal(task_to_json(t, &o), -ERANGE);
        t->cpu = 2;
        t->desired_status = _TASK_STATUS_INVALID;
        assert_int_equal(task_to_json(t, &o), -EINVAL);
        assert_null(o);
        t->desired_status = TASK_STATUS_STOPPED;
        assert_int_equal(task_to_json(t, &o), 0);
        json_object_put(o);
        ecs_task_unref(t);
}

/* Legacy container status spellings load (§4.1) and are written canonically. */
static void test_legacy_status(void **state)
{
        (void)state;
        struct ecs_task *t = fill_task(), *u = NULL;
        _cleanup_free_ char *doc = dump_task(t), *text = NULL, *again = NULL;
        const char *from = "\"knownStatus\":\"RESOURCES_PROVISIONED\"";
        const char *p = strstr(doc, from);

        assert_true(asprintf(&text, "%.*s\"knownStatus\":\"DEAD\"%s", (int)(p - doc), doc,
                             p + strlen(from)) > 0);
        assert_int_equal(load(text, &u, NULL), 0);
        assert_int_equal(u->containers[0].known_status, CONTAINER_STATUS_STOPPED);
        again = dump_task(u);
        assert_non_null(strstr(again, "\"knownStatus\":\"STOPPED\""));
        ecs_task_unref(t);
        ecs_task_unref(u);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip_every_field),
            cmocka_unit_test(test_format),
            cmocka_unit_test(test_in_flight_not_persisted),
            cmocka_unit_test(test_minimal),
            cmocka_unit_test(test_every_key_is_read),
            cmocka_unit_test(test_version),
            cmocka_unit_test(test_corrupt),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_writer_rejects_invalid),
            cmocka_unit_test(test_legacy_status),
        };
        return cmocka_run_group_tests_name("test_task_json", tests, NULL, NULL);
}
