/* Unit tests for the ECS API bodies: attributes, registration, DiscoverPollEndpoint and the
 * state-change flavours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "ecs/ecs_requests.h"
#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"

static json_object *parse(const char *s)
{
        json_object *o = NULL;
        assert_int_equal(json_parse(s, strlen(s), &o), 0);
        return o;
}

static void assert_json_eq(json_object *actual, const char *expected)
{
        _cleanup_json_ json_object *e = parse(expected);

        if (!json_object_equal(actual, e))
                fail_msg("JSON differs:\n  actual:   %s\n  expected: %s",
                         json_object_to_json_string_ext(actual, JSON_C_TO_STRING_PLAIN), expected);
}

static bool has_attr(const struct ecs_attribute_list *l, const char *name)
{
        return ecs_attribute_list_find(l, name) != NULL;
}

static size_t index_of(const struct ecs_attribute_list *l, const char *name)
{
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].name, name))
                        return i;
        fail_msg("attribute %s missing", name);
        return 0;
}

#define LEGACY "com.amazonaws.ecs.capability."

static void test_attributes_docker_versions(void **state)
{
        struct ecs_attribute_list l = {};
        struct attribute_inputs in = {
            .docker_api_min = "1.24",
            .docker_api_max = "1.45",
        };
        static const char *const want[] = {"1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23",
                                           "1.24", "1.25", "1.28", "1.29", "1.30", "1.32"};
        size_t n_api = 0;
        char name[80];

        /* Docker 25+: minimum 1.24, everything older is "extended" back to 1.17 (§1.5). */
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                snprintf(name, sizeof(name), LEGACY "docker-remote-api.%s", want[i]);
                assert_true(has_attr(&l, name));
        }
        for (size_t i = 0; i < l.n; i++)
                if (strstr(l.items[i].name, "docker-remote-api."))
                        n_api++;
        assert_int_equal(n_api, ELEMENTSOF(want)); /* no 1.26, 1.27, 1.31, >= 1.33 */
        assert_false(has_attr(&l, LEGACY "privileged-container"));
        ecs_attribute_list_done(&l);

        /* An older daemon between 1.17 and 1.24 is taken at its word. */
        in.docker_api_min = "1.21";
        in.docker_api_max = "1.23";
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        assert_false(has_attr(&l, LEGACY "docker-remote-api.1.20"));
        assert_true(has_attr(&l, LEGACY "docker-remote-api.1.21"));
        assert_true(has_attr(&l, LEGACY "docker-remote-api.1.23"));
        assert_false(has_attr(&l, LEGACY "docker-remote-api.1.24"));
        ecs_attribute_list_done(&l);

        /* Version-gated features need their exact version in the supported set, as in the
         * official agent: with 1.21-1.23 json-file (1.18) and ECR auth (1.19) are out. */
        char *drivers[] = {"json-file", "awslogs", "sumologic", "awsfirelens", "bogus", NULL};
        in.logging_drivers = drivers;
        in.task_cpu_mem_limit = true;
        in.container_health_check = true; /* needs 1.24 */
        in.ecr_auth = true;
        in.task_iam_role = true;
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        assert_false(has_attr(&l, LEGACY "logging-driver.json-file"));
        assert_true(has_attr(&l, LEGACY "logging-driver.awslogs"));
        assert_false(has_attr(&l, LEGACY "logging-driver.sumologic")); /* 1.29 */
        assert_false(has_attr(&l, LEGACY "logging-driver.awsfirelens"));
        assert_false(has_attr(&l, LEGACY "logging-driver.bogus"));
        assert_true(has_attr(&l, "ecs.capability.task-cpu-mem-limit"));
        assert_true(has_attr(&l, "ecs.capability.increased-task-cpu-limit"));
        assert_false(has_attr(&l, "ecs.capability.container-health-check"));
        assert_false(has_attr(&l, LEGACY "ecr-auth"));
        assert_false(has_attr(&l, LEGACY "task-iam-role"));
        ecs_attribute_list_done(&l);

        /* A modern daemon has them all. */
        in.docker_api_min = "1.24";
        in.docker_api_max = "1.45";
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        assert_true(has_attr(&l, LEGACY "logging-driver.json-file"));
        assert_true(has_attr(&l, LEGACY "logging-driver.sumologic"));
        assert_true(has_attr(&l, "ecs.capability.container-health-check"));
        assert_true(has_attr(&l, LEGACY "ecr-auth"));
        assert_true(has_attr(&l, "ecs.capability.execution-role-ecr-pull"));
        assert_true(has_attr(&l, LEGACY "task-iam-role"));
        assert_false(has_attr(&l, LEGACY "task-iam-role-network-host"));
        ecs_attribute_list_done(&l);

        /* Unknown daemon version: nothing gated on it. */
        in.docker_api_min = in.docker_api_max = NULL;
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        for (size_t i = 0; i < l.n; i++)
                assert_null(strstr(l.items[i].name, "docker-remote-api"));
        assert_false(has_attr(&l, LEGACY "logging-driver.json-file"));
        assert_false(has_attr(&l, LEGACY "ecr-auth"));
        ecs_attribute_list_done(&l);

        in.docker_api_min = "2.0";
        in.docker_api_max = "1.45";
        l.n = 99; /* untouched on error */
        assert_int_equal(ecs_build_attributes(&in, &l), -EINVAL);
        assert_int_equal(l.n, 99);
        in.docker_api_min = "1.45";
        in.docker_api_max = "1.24";
        assert_int_equal(ecs_build_attributes(&in, &l), -EINVAL);
}

static void test_attributes_selection(void **state)
{
        struct ecs_attribute_list l = {};
        char *caps[] = {"ecs.capability.container-restart-policy",
                        "ecs.capability.network.container-port-range", "ecs.capability.task-eni",
                        NULL};
        char *plugins[] = {"rexray/ebs:latest", NULL};
        char *vcaps[] = {"efsAuth", NULL};
        struct ecs_kv custom[] = {{"stack", "prod"}, {"team", ""}};
        struct attribute_inputs in = {
            .custom = custom,
            .n_custom = 2,
            .capabilities = caps,
            .privileged = true,
            .docker_api_min = "1.24",
            .docker_api_max = "1.45",
            .docker_plugins = plugins,
            .volume_plugin_capabilities = vcaps,
            .execution_role_awslogs = true,
            .vpc_id = "vpc-1",
            .subnet_id = "subnet-1",
            .os_type_detailed = "debian_12",
        };

        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        /* Only what the caller says is implemented: none of the §1.5 "always" list. */
        assert_false(has_attr(&l, "ecs.capability.secrets.ssm.environment-variables"));
        assert_false(has_attr(&l, "ecs.capability.efs"));
        assert_false(has_attr(&l, "ecs.capability.container-ordering"));
        assert_false(has_attr(&l, "ecs.capability.firelens.fluentbit"));
        assert_true(has_attr(&l, "ecs.capability.container-restart-policy"));
        assert_true(has_attr(&l, "ecs.capability.task-eni"));
        assert_true(has_attr(&l, LEGACY "privileged-container"));
        assert_true(has_attr(&l, "ecs.capability.docker-plugin.rexray/ebs.latest"));
        assert_true(has_attr(&l, "ecs.capability.efsAuth"));
        assert_true(has_attr(&l, "ecs.capability.execution-role-awslogs"));
        assert_false(has_attr(&l, "ecs.capability.external"));
        assert_false(has_attr(&l, "ecs.cpu-architecture"));

        /* Order: custom, capabilities, vpc/subnet, os attributes. */
        assert_string_equal(l.items[0].name, "stack");
        assert_string_equal(l.items[0].value, "prod");
        assert_string_equal(l.items[1].name, "team");
        assert_string_equal(l.items[1].value, "");
        assert_string_equal(l.items[2].name, "ecs.capability.container-restart-policy");
        assert_null(l.items[2].value);
        size_t vpc = index_of(&l, "ecs.vpc-id");
        assert_int_equal(index_of(&l, "ecs.subnet-id"), vpc + 1);
        assert_int_equal(index_of(&l, "ecs.os-type"), vpc + 2);
        assert_int_equal(index_of(&l, "ecs.os-family"), vpc + 3);
        assert_int_equal(index_of(&l, "ecs.os-type-detailed"), vpc + 4);
        assert_int_equal(l.n, vpc + 5);
        assert_string_equal(l.items[vpc].value, "vpc-1");
        assert_string_equal(ecs_attribute_list_find(&l, "ecs.os-type")->value, "linux");
        assert_string_equal(ecs_attribute_list_find(&l, "ecs.os-family")->value, "LINUX");
        assert_string_equal(ecs_attribute_list_find(&l, "ecs.os-type-detailed")->value,
                            "debian_12");
        ecs_attribute_list_done(&l);

        /* Re-registration: no custom attributes (§1.4). */
        in.reregister = true;
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        assert_false(has_attr(&l, "stack"));
        assert_false(has_attr(&l, "team"));
        assert_string_equal(l.items[0].name, "ecs.capability.container-restart-policy");
        ecs_attribute_list_done(&l);

        /* External: task-eni dropped, external + architecture added. */
        in.external = true;
        in.cpu_architecture = "arm64";
        in.vpc_id = in.subnet_id = NULL;
        in.os_type_detailed = NULL;
        assert_int_equal(ecs_build_attributes(&in, &l), 0);
        assert_false(has_attr(&l, "ecs.capability.task-eni"));
        assert_true(has_attr(&l, "ecs.capability.external"));
        assert_string_equal(ecs_attribute_list_find(&l, "ecs.cpu-architecture")->value, "arm64");
        assert_string_equal(ecs_attribute_list_find(&l, "ecs.os-type-detailed")->value, "LINUX");
        assert_false(has_attr(&l, "ecs.vpc-id"));
        ecs_attribute_list_done(&l);

        /* A capability outside the known list is a caller bug. */
        char *typo[] = {"ecs.capability.secret.ssm.environment-variables", NULL};
        in.capabilities = typo;
        assert_int_equal(ecs_build_attributes(&in, &l), -EINVAL);
        struct ecs_kv nameless[] = {{"", "x"}};
        in.capabilities = NULL;
        in.reregister = false;
        in.custom = nameless;
        in.n_custom = 1;
        assert_int_equal(ecs_build_attributes(&in, &l), -EINVAL);
}

static void test_register_body(void **state)
{
        struct ecs_attribute attrs[] = {
            {"ecs.capability.container-restart-policy", NULL},
            {"ecs.os-type", "linux"},
        };
        struct ecs_attribute_list l = {.items = attrs, .n = 2};
        uint16_t tcp[] = {22, 2375, 2376, 51678, 51679};
        struct ecs_kv tags[] = {{"env", "prod"}};
        struct ecs_register_params p = {
            .cluster = "default",
            .identity_document = "{\"region\":\"us-west-2\"}",
            .identity_signature = "sig==",
            .cpu_units = 2048,
            .memory_mib = 7680,
            .reserved_ports = tcp,
            .n_reserved_ports = 5,
            .attributes = &l,
            .client_token = "8a1f1c9e-7a55-4d1e-9a53-0f5a6a4b6e1d",
        };
        json_object *body = NULL;

        /* First registration: no containerInstanceArn, no tags member when none. */
        assert_int_equal(ecs_register_request_build(&p, &body), 0);
        assert_json_eq(body,
                       "{\"attributes\":[{\"name\":\"ecs.capability.container-restart-policy\"},"
                       "{\"name\":\"ecs.os-type\",\"value\":\"linux\"}],"
                       "\"clientToken\":\"8a1f1c9e-7a55-4d1e-9a53-0f5a6a4b6e1d\","
                       "\"cluster\":\"default\","
                       "\"instanceIdentityDocument\":\"{\\\"region\\\":\\\"us-west-2\\\"}\","
                       "\"instanceIdentityDocumentSignature\":\"sig==\","
                       "\"totalResources\":["
                       "{\"integerValue\":2048,\"name\":\"CPU\",\"type\":\"INTEGER\"},"
                       "{\"integerValue\":7680,\"name\":\"MEMORY\",\"type\":\"INTEGER\"},"
                       "{\"name\":\"PORTS\",\"stringSetValue\":[\"22\",\"2375\",\"2376\","
                       "\"51678\",\"51679\"],\"type\":\"STRINGSET\"},"
                       "{\"name\":\"PORTS_UDP\",\"stringSetValue\":[],\"type\":\"STRINGSET\"}]}");
        json_object_put(body);

        /* Re-registration with tags; external: empty identity; zero memory left out. */
        p.container_instance_arn = "arn:aws:ecs:us-west-2:1:container-instance/default/abc";
        p.identity_document = NULL;
        p.identity_signature = "";
        p.memory_mib = 0;
        p.tags = tags;
        p.n_tags = 1;
        assert_int_equal(ecs_register_request_build(&p, &body), 0);
        assert_json_eq(body,
                       "{\"attributes\":[{\"name\":\"ecs.capability.container-restart-policy\"},"
                       "{\"name\":\"ecs.os-type\",\"value\":\"linux\"}],"
                       "\"clientToken\":\"8a1f1c9e-7a55-4d1e-9a53-0f5a6a4b6e1d\","
                       "\"cluster\":\"default\","
                       "\"containerInstanceArn\":\"arn:aws:ecs:us-west-2:1:container-instance/"
                       "default/abc\","
                       "\"instanceIdentityDocument\":\"\","
                       "\"instanceIdentityDocumentSignature\":\"\","
                       "\"tags\":[{\"key\":\"env\",\"value\":\"prod\"}],"
                       "\"totalResources\":["
                       "{\"integerValue\":2048,\"name\":\"CPU\",\"type\":\"INTEGER\"},"
                       "{\"name\":\"MEMORY\",\"type\":\"INTEGER\"},"
                       "{\"name\":\"PORTS\",\"stringSetValue\":[\"22\",\"2375\",\"2376\","
                       "\"51678\",\"51679\"],\"type\":\"STRINGSET\"},"
                       "{\"name\":\"PORTS_UDP\",\"stringSetValue\":[],\"type\":\"STRINGSET\"}]}");
        json_object_put(body);

        /* Built together with ecs_build_attributes: re-registration drops custom ones. */
        struct ecs_kv custom[] = {{"stack", "prod"}};
        struct attribute_inputs in = {.custom = custom, .n_custom = 1, .reregister = true};
        struct ecs_attribute_list built = {};
        assert_int_equal(ecs_build_attributes(&in, &built), 0);
        p.attributes = &built;
        assert_int_equal(ecs_register_request_build(&p, &body), 0);
        assert_null(strstr(json_object_to_json_string(body), "stack"));
        json_object_put(body);
        ecs_attribute_list_done(&built);
        in.reregister = false;
        assert_int_equal(ecs_build_attributes(&in, &built), 0);
        assert_int_equal(ecs_register_request_build(&p, &body), 0);
        assert_non_null(strstr(json_object_to_json_string(body), "\"stack\""));
        json_object_put(body);
        ecs_attribute_list_done(&built);

        p.memory_mib = -1; /* more reserved than installed */
        body = NULL;
        assert_int_equal(ecs_register_request_build(&p, &body), -EINVAL);
        assert_null(body);
}

static void test_register_response(void **state)
{
        struct ecs_attribute attrs[] = {
            {"ecs.capability.container-restart-policy", NULL},
            {"ecs.os-type", "linux"},
            {"stack", "prod"},
        };
        struct ecs_attribute_list sent = {.items = attrs, .n = 3};
        struct ecs_register_result res = {};
        struct ecs_request_error err = {};
        json_object *o;

        o = parse("{\"containerInstance\":{\"containerInstanceArn\":\"arn:ci\",\"status\":"
                  "\"ACTIVE\",\"attributes\":[{\"name\":\"ecs.capability.container-restart-"
                  "policy\"},{\"name\":\"ecs.os-type\",\"value\":\"linux\"},{\"name\":\"stack\","
                  "\"value\":\"prod\"},{\"name\":\"ecs.availability-zone\",\"value\":"
                  "\"us-west-2a\"}]}}");
        assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), 0);
        assert_string_equal(res.container_instance_arn, "arn:ci");
        assert_string_equal(res.availability_zone, "us-west-2a");
        ecs_register_result_done(&res);
        json_object_put(o);

        /* A value that differs: terminal, named. */
        o = parse("{\"containerInstance\":{\"containerInstanceArn\":\"arn:ci\",\"attributes\":["
                  "{\"name\":\"ecs.os-type\",\"value\":\"windows\"},{\"name\":\"stack\","
                  "\"value\":\"prod\"}]}}");
        assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), -EPROTO);
        assert_non_null(strstr(err.reason, "Attribute validation failed"));
        assert_non_null(strstr(err.reason, "'ecs.os-type'"));
        assert_non_null(strstr(err.reason, "'linux'"));
        assert_non_null(strstr(err.reason, "'windows'"));
        assert_null(res.container_instance_arn);
        json_object_put(o);

        /* A valued attribute not echoed at all. */
        o = parse("{\"containerInstance\":{\"containerInstanceArn\":\"arn:ci\",\"attributes\":["
                  "{\"name\":\"ecs.os-type\",\"value\":\"linux\"}]}}");
        assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), -EPROTO);
        assert_non_null(strstr(err.reason, "'stack'"));
        json_object_put(o);

        /* No attributes at all: several differ. */
        o = parse("{\"containerInstance\":{\"containerInstanceArn\":\"arn:ci\"}}");
        assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), -EPROTO);
        assert_non_null(strstr(err.reason, "'ecs.os-type'"));
        assert_non_null(strstr(err.reason, "and more"));
        json_object_put(o);

        /* The official comparison reads a missing attribute as "", so an unechoed name-only
         * attribute passes; no AZ attribute leaves the AZ unset. */
        o = parse("{\"containerInstance\":{\"containerInstanceArn\":\"arn:ci\",\"attributes\":["
                  "{\"name\":\"ecs.os-type\",\"value\":\"linux\"},{\"name\":\"stack\","
                  "\"value\":\"prod\"}]}}");
        assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), 0);
        assert_null(res.availability_zone);
        ecs_register_result_done(&res);
        json_object_put(o);

        static const char *const bad[] = {
            "{}",
            "{\"containerInstance\":{}}",
            "{\"containerInstance\":{\"containerInstanceArn\":\"\"}}",
            "{\"containerInstance\":{\"containerInstanceArn\":5}}",
            "{\"containerInstance\":{\"containerInstanceArn\":\"a\",\"attributes\":{}}}",
            "{\"containerInstance\":{\"containerInstanceArn\":\"a\",\"attributes\":[1]}}",
            ("{\"containerInstance\":{\"containerInstanceArn\":\"a\",\"attributes\":[{"
             "\"name\":\"x\",\"value\":3}]}}"),
            "[]",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = parse(bad[i]);
                assert_int_equal(ecs_register_response_parse(o, &sent, &res, &err), -EBADMSG);
                json_object_put(o);
        }
        assert_int_equal(ecs_register_response_parse(NULL, &sent, &res, &err), -EBADMSG);
}

static void test_discover_poll_endpoint(void **state)
{
        struct ecs_poll_endpoints e = {};
        struct ecs_request_error err = {};
        json_object *o = NULL;

        assert_int_equal(ecs_discover_poll_endpoint_request_build("default", "arn:ci", &o), 0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"containerInstance\":\"arn:ci\","
                          "\"zoneId\":\"\"}");
        json_object_put(o);

        o = parse("{\"endpoint\":\"https://ecs-a-1.us-west-2.amazonaws.com\","
                  "\"telemetryEndpoint\":\"https://ecs-t-1.us-west-2.amazonaws.com\","
                  "\"serviceConnectEndpoint\":\"https://ecs-sc.us-west-2.api.aws\"}");
        assert_int_equal(ecs_discover_poll_endpoint_response_parse(o, &e, &err), 0);
        assert_string_equal(e.endpoint, "https://ecs-a-1.us-west-2.amazonaws.com");
        assert_string_equal(e.telemetry_endpoint, "https://ecs-t-1.us-west-2.amazonaws.com");
        ecs_poll_endpoints_done(&e);
        json_object_put(o);

        /* Missing or unusable endpoints read as missing: each session decides. */
        o = parse("{\"endpoint\":\"http://127.0.0.1:9000\",\"telemetryEndpoint\":\"ftp://x\"}");
        assert_int_equal(ecs_discover_poll_endpoint_response_parse(o, &e, &err), 0);
        assert_string_equal(e.endpoint, "http://127.0.0.1:9000");
        assert_null(e.telemetry_endpoint);
        ecs_poll_endpoints_done(&e);
        json_object_put(o);
        o = parse("{}");
        assert_int_equal(ecs_discover_poll_endpoint_response_parse(o, &e, &err), 0);
        assert_null(e.endpoint);
        assert_null(e.telemetry_endpoint);
        json_object_put(o);

        o = parse("{\"endpoint\":1}");
        assert_int_equal(ecs_discover_poll_endpoint_response_parse(o, &e, &err), -EBADMSG);
        json_object_put(o);
        o = parse("\"x\"");
        assert_int_equal(ecs_discover_poll_endpoint_response_parse(o, &e, &err), -EBADMSG);
        json_object_put(o);
}

/* A task with one container "web" and one "init"; the caller sets the runtime fields. */
static struct ecs_task *make_task(void)
{
        struct ecs_task *t = ecs_task_new();

        assert_non_null(t);
        t->arn = strdup("arn:aws:ecs:us-west-2:123456789012:task/default/"
                        "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6");
        t->containers = calloc(2, sizeof(*t->containers));
        t->n_containers = 2;
        t->containers[0].name = strdup("web");
        t->containers[1].name = strdup("init");
        return t;
}

static void set_bindings(struct ecs_container *c)
{
        static const struct network_binding b[] = {
            {.bind_ip = "0.0.0.0", .container_port = 80, .host_port = 49153},
            {.bind_ip = "::", .container_port = 80, .host_port = 49153},
            {.bind_ip = "0.0.0.0",
             .container_port = 53,
             .host_port = 5353,
             .protocol = PORT_PROTOCOL_UDP},
        };
        c->bindings = malloc(sizeof(b));
        memcpy(c->bindings, b, sizeof(b));
        c->n_bindings = ELEMENTSOF(b);
}

static void test_task_state_change(void **state)
{
        struct ecs_task *t = make_task();
        struct ecs_container *web = &t->containers[0];
        bool include[2] = {true, false};
        struct ecs_task_state_change_params p = {
            .cluster = "default",
            .task = t,
            .include_containers = include,
            .exclude_ipv6_bindings = true,
        };
        json_object *o = NULL;

        /* RUNNING with bindings; "::" excluded. */
        t->known_status = TASK_STATUS_RUNNING;
        t->pull_started_at = 1700000001512000ULL;
        t->pull_stopped_at = 1700000004027000ULL;
        web->known_status = CONTAINER_STATUS_RUNNING;
        web->docker_id = strdup("5f1d3c0b2a9e8d7c6b5a49382716050f4e3d2c1b0a99887766554433221100ff");
        web->image_digest = strdup("sha256:0a1b");
        set_bindings(web);
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"task\":\"arn:aws:ecs:us-west-2:"
                          "123456789012:task/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6\","
                          "\"status\":\"RUNNING\",\"reason\":\"\",\"pullStartedAt\":1700000001.512,"
                          "\"pullStoppedAt\":1700000004.027,\"containers\":[{\"containerName\":"
                          "\"web\",\"runtimeId\":\"5f1d3c0b2a9e8d7c6b5a49382716050f4e3d2c1b0a99887"
                          "766554433221100ff\",\"imageDigest\":\"sha256:0a1b\",\"status\":"
                          "\"RUNNING\",\"networkBindings\":[{\"bindIP\":\"0.0.0.0\","
                          "\"containerPort\":80,\"hostPort\":49153,\"protocol\":\"tcp\"},"
                          "{\"bindIP\":\"0.0.0.0\",\"containerPort\":53,\"hostPort\":5353,"
                          "\"protocol\":\"udp\"}]}]}");
        /* Timestamps as exact epoch seconds with millis on the wire. */
        assert_non_null(strstr(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                               "\"pullStartedAt\":1700000001.512"));
        json_object_put(o);

        /* Without exclusion the "::" binding stays; IPv6-only drops 0.0.0.0 instead. */
        p.exclude_ipv6_bindings = false;
        p.exclude_ipv4_bindings = true;
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        json_object *nb = json_object_object_get(
            json_object_array_get_idx(json_object_object_get(o, "containers"), 0),
            "networkBindings");
        assert_int_equal(json_object_array_length(nb), 1);
        assert_string_equal(json_get_string(json_object_array_get_idx(nb, 0), "bindIP", NULL),
                            "::");
        json_object_put(o);
        p.exclude_ipv4_bindings = false;
        p.exclude_ipv6_bindings = true;

        /* STOPPED with exit code and reason; the not-yet-started init is reportable as
         * STOPPED too, with an empty bindings array and no runtimeId. */
        t->known_status = TASK_STATUS_STOPPED;
        t->execution_stopped_at = 1700000600004000ULL;
        web->known_status = CONTAINER_STATUS_STOPPED;
        web->exit_code = 137;
        web->has_exit_code = true;
        web->reason = strdup("OutOfMemoryError: Container killed due to memory usage");
        free(web->bindings);
        web->bindings = NULL;
        web->n_bindings = 0;
        t->containers[1].known_status = CONTAINER_STATUS_STOPPED;
        include[1] = true;
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"task\":\"arn:aws:ecs:us-west-2:"
                          "123456789012:task/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6\","
                          "\"status\":\"STOPPED\",\"reason\":\"\",\"pullStartedAt\":1700000001.512,"
                          "\"pullStoppedAt\":1700000004.027,\"executionStoppedAt\":1700000600.004,"
                          "\"containers\":[{\"containerName\":\"web\",\"runtimeId\":\"5f1d3c0b2a9e"
                          "8d7c6b5a49382716050f4e3d2c1b0a99887766554433221100ff\",\"imageDigest\":"
                          "\"sha256:0a1b\",\"status\":\"STOPPED\",\"exitCode\":137,\"reason\":"
                          "\"OutOfMemoryError: Container killed due to memory usage\","
                          "\"networkBindings\":[]},{\"containerName\":\"init\",\"status\":"
                          "\"STOPPED\",\"networkBindings\":[]}]}");
        json_object_put(o);

        /* Non-reportable container statuses are left out; no containers member then.
         * A task reason is sent. PENDING for tasks still starting. */
        t->known_status = TASK_STATUS_CREATED;
        t->execution_stopped_at = t->pull_started_at = t->pull_stopped_at = 0;
        t->reason = strdup("TaskStateError: Agent could not progress task's state to stopped");
        web->known_status = CONTAINER_STATUS_CREATED;
        t->containers[1].known_status = CONTAINER_STATUS_PULLED;
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"task\":\"arn:aws:ecs:us-west-2:"
                          "123456789012:task/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6\","
                          "\"status\":\"PENDING\",\"reason\":\"TaskStateError: Agent could not "
                          "progress task's state to stopped\",\"containers\":[]}");
        json_object_put(o);
        p.include_containers = NULL;
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        assert_null(json_object_object_get(o, "containers"));
        json_object_put(o);

        /* MANIFEST_PULLED with a digest is reported PENDING. */
        web->known_status = CONTAINER_STATUS_MANIFEST_PULLED;
        p.include_containers = include;
        include[1] = false;
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        json_object *c0 = json_object_array_get_idx(json_object_object_get(o, "containers"), 0);
        assert_string_equal(json_get_string(c0, "status", NULL), "PENDING");
        assert_string_equal(json_get_string(c0, "imageDigest", NULL), "sha256:0a1b");
        json_object_put(o);

        p.task = NULL;
        assert_int_equal(ecs_build_task_state_change(&p, &o), -EINVAL);
        ecs_task_unref(t);
}

static void test_truncation(void **state)
{
        struct ecs_task *t = make_task();
        struct ecs_container *web = &t->containers[0];
        bool include[2] = {true, false};
        struct ecs_task_state_change_params p = {
            .cluster = "c", .task = t, .include_containers = include};
        json_object *o = NULL;
        char *reason = malloc(2000);

        /* 1022 ASCII bytes then a 4-byte character straddling the 1024 limit: it must go
         * whole, leaving 1022 bytes. */
        memset(reason, 'a', 1022);
        memcpy(reason + 1022, "\xF0\x9F\x98\x80", 4);
        strcpy(reason + 1026, "tail");
        t->reason = strdup(reason);
        web->reason = strdup(reason);
        web->known_status = CONTAINER_STATUS_STOPPED;
        t->known_status = TASK_STATUS_STOPPED;
        /* A runtime id of 300 bytes is cut at 255. */
        web->docker_id = malloc(301);
        memset(web->docker_id, 'f', 300);
        web->docker_id[300] = 0;

        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        const char *tr = json_get_string(o, "reason", NULL);
        assert_int_equal(strlen(tr), 1022);
        json_object *c0 = json_object_array_get_idx(json_object_object_get(o, "containers"), 0);
        assert_int_equal(strlen(json_get_string(c0, "reason", NULL)), 1022);
        assert_int_equal(strlen(json_get_string(c0, "runtimeId", NULL)), 255);
        json_object_put(o);

        /* Exactly 1024 bytes ending in a complete 2-byte character stays whole. */
        memset(reason, 'a', 1022);
        memcpy(reason + 1022, "\xC3\xA9", 3);
        free(t->reason);
        t->reason = strdup(reason);
        assert_int_equal(ecs_build_task_state_change(&p, &o), 0);
        assert_int_equal(strlen(json_get_string(o, "reason", NULL)), 1024);
        json_object_put(o);

        /* Direct cases. */
        char s1[] = "ab\xC3\xA9"; /* 4 bytes */
        jsonmap_truncate_utf8(s1, 3);
        assert_string_equal(s1, "ab");
        char s2[] = "ab\xC3\xA9";
        jsonmap_truncate_utf8(s2, 4);
        assert_string_equal(s2, "ab\xC3\xA9");
        char s3[] = "\xE2\x82\xAC\xE2\x82\xAC"; /* two euro signs */
        jsonmap_truncate_utf8(s3, 5);
        assert_string_equal(s3, "\xE2\x82\xAC");
        char s4[] = "abc";
        jsonmap_truncate_utf8(s4, 0);
        assert_string_equal(s4, "");

        /* The invalid-task flavour truncates too. */
        assert_int_equal(ecs_build_invalid_task_state_change("c", "arn:t", reason, &o), 0);
        assert_int_equal(strlen(json_get_string(o, "reason", NULL)), 1024);
        json_object_put(o);

        free(reason);
        ecs_task_unref(t);
}

static void test_other_flavours(void **state)
{
        json_object *o = NULL;

        assert_int_equal(ecs_build_invalid_task_state_change(
                             "default", "arn:aws:ecs:us-west-2:1:task/default/bad",
                             "UnrecogniedTaskError: Error loading task - invalid task ARN", &o),
                         0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"task\":\"arn:aws:ecs:us-west-2:1:task/"
                          "default/bad\",\"status\":\"STOPPED\",\"reason\":\"UnrecogniedTaskError:"
                          " Error loading task - invalid task ARN\"}");
        json_object_put(o);

        assert_int_equal(ecs_build_task_attachment_change("default", "arn:task",
                                                          "arn:aws:ecs:r:1:attachment/9f8e",
                                                          "ATTACHED", &o),
                         0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"task\":\"arn:task\",\"attachments\":[{"
                          "\"attachmentArn\":\"arn:aws:ecs:r:1:attachment/9f8e\",\"status\":"
                          "\"ATTACHED\"}]}");
        json_object_put(o);

        assert_int_equal(ecs_build_attachment_state_changes(
                             "default", "arn:aws:ecs:r:1:attachment/abcd", "ATTACHED", &o),
                         0);
        assert_json_eq(o, "{\"cluster\":\"default\",\"attachments\":[{\"attachmentArn\":"
                          "\"arn:aws:ecs:r:1:attachment/abcd\",\"status\":\"ATTACHED\"}]}");
        json_object_put(o);

        o = NULL;
        assert_int_equal(ecs_build_attachment_state_changes("default", "", "ATTACHED", &o),
                         -EINVAL);
        assert_int_equal(ecs_build_task_attachment_change("default", NULL, "a", "ATTACHED", &o),
                         -EINVAL);
        assert_int_equal(ecs_build_invalid_task_state_change("default", NULL, "x", &o), -EINVAL);
        assert_null(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_attributes_docker_versions),
            cmocka_unit_test(test_attributes_selection),
            cmocka_unit_test(test_register_body),
            cmocka_unit_test(test_register_response),
            cmocka_unit_test(test_discover_poll_endpoint),
            cmocka_unit_test(test_task_state_change),
            cmocka_unit_test(test_truncation),
            cmocka_unit_test(test_other_flavours),
        };
        return cmocka_run_group_tests_name("test_ecs_requests", tests, NULL, NULL);
}
