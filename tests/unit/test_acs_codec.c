/* Unit tests for the ACS codec: envelope forms, every message type, the PayloadMessage task
 * model and its validation rules, encoders and connection URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "ecs/acs_codec.h"
#include "ecs/jsonutil.h"

/* Reference §2.6.5, verbatim. */
static const char payload_example[] =
    "{\n"
    "  \"type\": \"PayloadMessage\",\n"
    "  \"message\": {\n"
    "    \"messageId\": \"3f1c2a8e-5b7d-4e0a-9c6f-1d2e3f4a5b6c\",\n"
    "    \"clusterArn\": \"arn:aws:ecs:us-west-2:123456789012:cluster/default\",\n"
    "    \"containerInstanceArn\": "
    "\"arn:aws:ecs:us-west-2:123456789012:container-instance/default/"
    "4b3d0c6f2e8a4c1b9f7e6d5c4b3a2910\",\n"
    "    \"generatedAt\": 1700000000000,\n"
    "    \"seqNum\": 7,\n"
    "    \"tasks\": [\n"
    "      {\n"
    "        \"arn\": "
    "\"arn:aws:ecs:us-west-2:123456789012:task/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6\",\n"
    "        \"taskClusterArn\": \"arn:aws:ecs:us-west-2:123456789012:cluster/default\",\n"
    "        \"family\": \"web\",\n"
    "        \"version\": \"12\",\n"
    "        \"desiredStatus\": \"RUNNING\",\n"
    "        \"launchType\": \"EC2\",\n"
    "        \"networkMode\": \"bridge\",\n"
    "        \"cpu\": 0.5,\n"
    "        \"memory\": 512,\n"
    "        \"volumes\": [\n"
    "          {\"name\": \"scratch\", \"type\": \"host\", \"host\": {}},\n"
    "          {\"name\": \"config\", \"type\": \"host\", \"host\": {\"sourcePath\": "
    "\"/etc/web\"}}\n"
    "        ],\n"
    "        \"roleCredentials\": {\n"
    "          \"credentialsId\": \"e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b\",\n"
    "          \"roleArn\": \"arn:aws:iam::123456789012:role/web-task\",\n"
    "          \"accessKeyId\": \"ASIAEXAMPLEEXAMPLE01\",\n"
    "          \"secretAccessKey\": \"secretExampleKey\",\n"
    "          \"sessionToken\": \"tokenExample\",\n"
    "          \"expiration\": \"2024-01-01T06:00:00.000+0000\",\n"
    "          \"credentialScope\": \"\"\n"
    "        },\n"
    "        \"executionRoleCredentials\": {\n"
    "          \"credentialsId\": \"9a8b7c6d-5e4f-4321-8fed-cba987654321\",\n"
    "          \"roleArn\": \"arn:aws:iam::123456789012:role/ecsTaskExecutionRole\",\n"
    "          \"accessKeyId\": \"ASIAEXAMPLEEXAMPLE02\",\n"
    "          \"secretAccessKey\": \"secretExampleKey2\",\n"
    "          \"sessionToken\": \"tokenExample2\",\n"
    "          \"expiration\": \"2024-01-01T06:00:00.000+0000\"\n"
    "        },\n"
    "        \"containers\": [\n"
    "          {\n"
    "            \"name\": \"web\",\n"
    "            \"containerArn\": "
    "\"arn:aws:ecs:us-west-2:123456789012:container/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6/"
    "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\",\n"
    "            \"image\": \"123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4\",\n"
    "            \"cpu\": 256,\n"
    "            \"memory\": 256,\n"
    "            \"essential\": true,\n"
    "            \"command\": [],\n"
    "            \"entryPoint\": null,\n"
    "            \"environment\": {\"MODE\": \"prod\"},\n"
    "            \"portMappings\": [{\"containerPort\": 80, \"hostPort\": 0, \"protocol\": "
    "\"tcp\"}],\n"
    "            \"mountPoints\": [\n"
    "              {\"sourceVolume\": \"scratch\", \"containerPath\": \"/scratch\", \"readOnly\": "
    "false},\n"
    "              {\"sourceVolume\": \"config\", \"containerPath\": \"/config\", \"readOnly\": "
    "true}\n"
    "            ],\n"
    "            \"volumesFrom\": [],\n"
    "            \"links\": [],\n"
    "            \"dependsOn\": [{\"containerName\": \"init\", \"condition\": \"SUCCESS\"}],\n"
    "            \"healthCheckType\": \"docker\",\n"
    "            \"secrets\": [\n"
    "              {\"name\": \"DB_PASSWORD\", \"valueFrom\": \"/prod/db/password\", \"provider\": "
    "\"ssm\",\n"
    "               \"region\": \"us-west-2\", \"type\": \"ENVIRONMENT_VARIABLE\", \"target\": "
    "\"CONTAINER\"}\n"
    "            ],\n"
    "            \"registryAuthentication\": {\n"
    "              \"type\": \"ecr\",\n"
    "              \"ecrAuthData\": {\"registryId\": \"123456789012\", \"region\": \"us-west-2\", "
    "\"useExecutionRole\": true}\n"
    "            },\n"
    "            \"logsAuthStrategy\": \"ExecutionRole\",\n"
    "            \"overrides\": \"{}\",\n"
    "            \"startTimeout\": 120,\n"
    "            \"stopTimeout\": 30,\n"
    "            \"dockerConfig\": {\n"
    "              \"config\": \"{\\\"Healthcheck\\\":{\\\"Test\\\":[\\\"CMD-SHELL\\\",\\\"exit "
    "0\\\"],\\\"Interval\\\":10000000000,\\\"Timeout\\\":2000000000,\\\"Retries\\\":3}}\",\n"
    "              \"hostConfig\": "
    "\"{\\\"MemoryReservation\\\":134217728,\\\"LogConfig\\\":{\\\"Type\\\":\\\"awslogs\\\","
    "\\\"Config\\\":{\\\"awslogs-group\\\":\\\"/ecs/"
    "web\\\",\\\"awslogs-region\\\":\\\"us-west-2\\\",\\\"awslogs-stream-prefix\\\":\\\"web\\\"}}}"
    "\",\n"
    "              \"version\": \"1.17\"\n"
    "            }\n"
    "          },\n"
    "          {\n"
    "            \"name\": \"init\",\n"
    "            \"image\": \"public.ecr.aws/docker/library/busybox:1.36\",\n"
    "            \"cpu\": 0,\n"
    "            \"memory\": 32,\n"
    "            \"essential\": false,\n"
    "            \"command\": [\"sh\", \"-c\", \"echo ready\"],\n"
    "            \"environment\": {},\n"
    "            \"portMappings\": [],\n"
    "            \"mountPoints\": [],\n"
    "            \"volumesFrom\": [],\n"
    "            \"overrides\": \"{}\",\n"
    "            \"dockerConfig\": {\"config\": \"{}\", \"hostConfig\": \"{}\", \"version\": "
    "\"1.17\"}\n"
    "          }\n"
    "        ]\n"
    "      }\n"
    "    ]\n"
    "  }\n"
    "}\n";

#define TASK_ARN(id) "arn:aws:ecs:us-west-2:123456789012:task/default/" id

static int decode_str(const char *s, struct acs_message *m, struct acs_error *err)
{
        return acs_decode(s, strlen(s), m, err);
}

/* A PayloadMessage around the given task array members. */
static char *payload_with(const char *tasks)
{
        char *s = NULL;
        assert_true(asprintf(&s,
                             "{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":\"m1\","
                             "\"clusterArn\":\"cl\",\"containerInstanceArn\":\"ci\","
                             "\"seqNum\":3,\"tasks\":[%s]}}",
                             tasks) > 0);
        return s;
}

/* One task with the given extra task members and containers. */
static char *task_with(const char *extra, const char *containers)
{
        char *s = NULL;
        assert_true(asprintf(&s,
                             "{\"arn\":\"" TASK_ARN(
                                 "t1") "\",\"family\":\"f\",\"version\":\"1\","
                                       "\"desiredStatus\":\"RUNNING\"%s%s,\"containers\":[%s]}",
                             *extra ? "," : "", extra, containers) > 0);
        return s;
}

/* Decodes a payload holding one task; returns that task's error (NULL when it decoded). */
static const char *decode_one(const char *extra, const char *containers, struct acs_message *m)
{
        _cleanup_free_ char *t = task_with(extra, containers);
        _cleanup_free_ char *p = payload_with(t);
        struct acs_error err = {};

        assert_int_equal(decode_str(p, m, &err), 0);
        assert_int_equal(m->type, ACS_MSG_PAYLOAD);
        assert_int_equal(m->payload.n_tasks, 1);
        if (m->payload.tasks[0].error) {
                assert_null(m->payload.tasks[0].task);
                assert_int_equal(m->payload.n_failed, 1);
        } else {
                assert_non_null(m->payload.tasks[0].task);
                assert_int_equal(m->payload.n_failed, 0);
        }
        return m->payload.tasks[0].error;
}

#define C_APP "{\"name\":\"app\",\"image\":\"busybox\"}"

static void assert_task_fails(const char *extra, const char *containers, const char *needle)
{
        struct acs_message m = {};
        const char *e = decode_one(extra, containers, &m);

        assert_non_null(e);
        assert_true(strncmp(e, ACS_TASK_ERROR_PREFIX, strlen(ACS_TASK_ERROR_PREFIX)) == 0);
        if (!strstr(e, needle))
                fail_msg("reason '%s' does not contain '%s'", e, needle);
        /* The ARN survives so the session can report the task STOPPED. */
        assert_string_equal(m.payload.tasks[0].arn, TASK_ARN("t1"));
        acs_message_done(&m);
}

static void test_payload_example(void **state)
{
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_str(payload_example, &m, &err), 0);
        assert_int_equal(m.type, ACS_MSG_PAYLOAD);
        assert_string_equal(m.type_name, "PayloadMessage");
        assert_true(acs_message_type_is_activity(m.type));

        const struct acs_payload_message *p = &m.payload;
        assert_string_equal(p->message_id, "3f1c2a8e-5b7d-4e0a-9c6f-1d2e3f4a5b6c");
        assert_string_equal(p->cluster_arn, "arn:aws:ecs:us-west-2:123456789012:cluster/default");
        assert_string_equal(p->container_instance_arn,
                            "arn:aws:ecs:us-west-2:123456789012:container-instance/default/"
                            "4b3d0c6f2e8a4c1b9f7e6d5c4b3a2910");
        assert_int_equal(p->generated_at, 1700000000000LL);
        assert_int_equal(p->seq_num, 7);
        assert_int_equal(p->n_tasks, 1);
        assert_int_equal(p->n_failed, 0);

        const struct acs_payload_task *pt = &p->tasks[0];
        assert_null(pt->error);
        assert_string_equal(pt->arn, TASK_ARN("1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"));
        assert_int_equal(pt->n_enis, 0);

        /* Credentials travel beside the task; the task only knows their ids. */
        assert_string_equal(pt->role_credentials.credentials_id,
                            "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b");
        assert_string_equal(pt->role_credentials.role_arn,
                            "arn:aws:iam::123456789012:role/web-task");
        assert_string_equal(pt->role_credentials.access_key_id, "ASIAEXAMPLEEXAMPLE01");
        assert_string_equal(pt->role_credentials.secret_access_key, "secretExampleKey");
        assert_string_equal(pt->role_credentials.session_token, "tokenExample");
        assert_string_equal(pt->role_credentials.expiration, "2024-01-01T06:00:00.000+0000");
        assert_string_equal(pt->execution_credentials.credentials_id,
                            "9a8b7c6d-5e4f-4321-8fed-cba987654321");
        assert_string_equal(pt->execution_credentials.role_arn,
                            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole");
        assert_string_equal(pt->execution_credentials.access_key_id, "ASIAEXAMPLEEXAMPLE02");
        assert_string_equal(pt->execution_credentials.secret_access_key, "secretExampleKey2");
        assert_string_equal(pt->execution_credentials.session_token, "tokenExample2");
        assert_string_equal(pt->execution_credentials.expiration, "2024-01-01T06:00:00.000+0000");

        const struct ecs_task *t = pt->task;
        assert_non_null(t);
        assert_int_equal(t->refs, 1);
        assert_string_equal(t->arn, TASK_ARN("1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"));
        assert_string_equal(t->id, "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6");
        assert_string_equal(t->cluster_arn, "arn:aws:ecs:us-west-2:123456789012:cluster/default");
        assert_string_equal(t->family, "web");
        assert_string_equal(t->version, "12");
        assert_int_equal(t->desired_status, TASK_STATUS_RUNNING);
        assert_int_equal(t->known_status, TASK_STATUS_NONE);
        assert_string_equal(t->launch_type, "EC2");
        assert_null(t->service_name);
        assert_int_equal(t->network_mode, NETWORK_MODE_BRIDGE);
        assert_true(t->cpu == 0.5);
        assert_int_equal(t->memory_mib, 512);
        assert_string_equal(t->role_credentials_id, "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b");
        assert_string_equal(t->execution_credentials_id, "9a8b7c6d-5e4f-4321-8fed-cba987654321");
        assert_null(t->reason);

        assert_int_equal(t->n_volumes, 2);
        assert_string_equal(t->volumes[0].name, "scratch");
        assert_string_equal(t->volumes[0].type, "host");
        assert_null(t->volumes[0].source_path); /* agent-managed local volume */
        assert_string_equal(t->volumes[1].name, "config");
        assert_string_equal(t->volumes[1].type, "host");
        assert_string_equal(t->volumes[1].source_path, "/etc/web");

        assert_int_equal(t->n_containers, 2);
        const struct ecs_container *w = &t->containers[0];
        assert_string_equal(w->name, "web");
        assert_string_equal(w->arn, "arn:aws:ecs:us-west-2:123456789012:container/default/"
                                    "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6/"
                                    "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a");
        assert_string_equal(w->image, "123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4");
        assert_int_equal(w->cpu, 256);
        assert_int_equal(w->memory_mib, 256);
        assert_true(w->essential);
        assert_null(w->command);    /* [] */
        assert_null(w->entrypoint); /* null */
        assert_non_null(w->environment);
        assert_string_equal(w->environment[0], "MODE=prod");
        assert_null(w->environment[1]);
        assert_int_equal(w->n_ports, 1);
        assert_int_equal(w->ports[0].container_port, 80);
        assert_int_equal(w->ports[0].host_port, 0);
        assert_int_equal(w->ports[0].protocol, PORT_PROTOCOL_TCP);
        assert_int_equal(w->ports[0].range_start, 0);
        assert_int_equal(w->ports[0].range_end, 0);
        assert_int_equal(w->n_mounts, 2);
        assert_string_equal(w->mounts[0].source_volume, "scratch");
        assert_string_equal(w->mounts[0].container_path, "/scratch");
        assert_false(w->mounts[0].read_only);
        assert_string_equal(w->mounts[1].source_volume, "config");
        assert_string_equal(w->mounts[1].container_path, "/config");
        assert_true(w->mounts[1].read_only);
        assert_int_equal(w->n_volumes_from, 0);
        assert_null(w->links);
        assert_int_equal(w->n_depends_on, 1);
        assert_string_equal(w->depends_on[0].container_name, "init");
        assert_int_equal(w->depends_on[0].condition, DEPENDENCY_SUCCESS);
        assert_true(w->health_check_docker);
        assert_int_equal(w->n_secrets, 1);
        assert_string_equal(w->secrets[0].name, "DB_PASSWORD");
        assert_string_equal(w->secrets[0].value_from, "/prod/db/password");
        assert_string_equal(w->secrets[0].provider, "ssm");
        assert_string_equal(w->secrets[0].region, "us-west-2");
        assert_string_equal(w->secrets[0].type, "ENVIRONMENT_VARIABLE");
        assert_string_equal(w->secrets[0].target, "CONTAINER");
        assert_null(w->secrets[0].container_path);
        assert_string_equal(w->registry_auth.type, "ecr");
        assert_string_equal(w->registry_auth.ecr_registry_id, "123456789012");
        assert_string_equal(w->registry_auth.ecr_region, "us-west-2");
        assert_null(w->registry_auth.ecr_endpoint_override);
        assert_true(w->registry_auth.ecr_use_execution_role);
        assert_true(w->logs_auth_execution_role);
        assert_int_equal(w->start_timeout_sec, 120);
        assert_int_equal(w->stop_timeout_sec, 30);
        assert_string_equal(w->docker_config,
                            "{\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"exit 0\"],\"Interval\":"
                            "10000000000,\"Timeout\":2000000000,\"Retries\":3}}");
        assert_string_equal(w->docker_host_config,
                            "{\"MemoryReservation\":134217728,\"LogConfig\":{\"Type\":\"awslogs\","
                            "\"Config\":{\"awslogs-group\":\"/ecs/web\",\"awslogs-region\":\"us-"
                            "west-2\",\"awslogs-stream-prefix\":\"web\"}}}");
        assert_string_equal(w->docker_version, "1.17");
        assert_false(w->restart.enabled);
        assert_int_equal(w->desired_status, CONTAINER_STATUS_NONE);
        assert_null(w->docker_id);

        const struct ecs_container *in = &t->containers[1];
        assert_string_equal(in->name, "init");
        assert_null(in->arn);
        assert_string_equal(in->image, "public.ecr.aws/docker/library/busybox:1.36");
        assert_int_equal(in->cpu, 0);
        assert_int_equal(in->memory_mib, 32);
        assert_false(in->essential);
        assert_non_null(in->command);
        assert_string_equal(in->command[0], "sh");
        assert_string_equal(in->command[1], "-c");
        assert_string_equal(in->command[2], "echo ready");
        assert_null(in->command[3]);
        assert_null(in->environment); /* {} */
        assert_int_equal(in->n_ports, 0);
        assert_int_equal(in->n_mounts, 0);
        assert_int_equal(in->n_depends_on, 0);
        assert_false(in->health_check_docker);
        assert_int_equal(in->n_secrets, 0);
        assert_null(in->registry_auth.type);
        assert_false(in->logs_auth_execution_role);
        assert_string_equal(in->docker_config, "{}");
        assert_string_equal(in->docker_host_config, "{}");
        assert_string_equal(in->docker_version, "1.17");
        assert_int_equal(in->start_timeout_sec, 0);

        /* The message owns the task; a session takes it like this. */
        struct ecs_task *taken = ecs_task_ref(m.payload.tasks[0].task);
        acs_message_done(&m);
        assert_int_equal(m.type, ACS_MSG_UNKNOWN);
        assert_int_equal(taken->refs, 1);
        assert_string_equal(taken->containers[1].name, "init");
        ecs_task_unref(taken);
}

static void test_payload_envelope_validation(void **state)
{
        static const char *const bad[] = {
            /* no messageId */
            "{\"type\":\"PayloadMessage\",\"message\":{\"clusterArn\":\"c\","
            "\"containerInstanceArn\":\"ci\",\"tasks\":[]}}",
            /* empty messageId */
            "{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":\"\",\"clusterArn\":"
            "\"c\",\"containerInstanceArn\":\"ci\"}}",
            /* no clusterArn */
            "{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":\"m\","
            "\"containerInstanceArn\":\"ci\"}}",
            /* empty containerInstanceArn */
            "{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":\"m\",\"clusterArn\":"
            "\"c\",\"containerInstanceArn\":\"\"}}",
            /* tasks not an array */
            "{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":\"m\",\"clusterArn\":"
            "\"c\",\"containerInstanceArn\":\"ci\",\"tasks\":{}}}",
        };
        static const char *const why[] = {"messageId", "messageId", "clusterArn",
                                          "containerInstanceArn", "tasks"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct acs_message m = {.type = ACS_MSG_HEARTBEAT};
                struct acs_error err = {};
                assert_int_equal(decode_str(bad[i], &m, &err), -EINVAL);
                /* Recognised (counts as activity), dropped without ack, *ret untouched. */
                assert_int_equal(err.type, ACS_MSG_PAYLOAD);
                assert_int_equal(m.type, ACS_MSG_HEARTBEAT);
                assert_non_null(strstr(err.reason, "PayloadMessage"));
                assert_non_null(strstr(err.reason, why[i]));
        }

        /* An empty payload is valid (and acked). */
        struct acs_message m = {};
        assert_int_equal(decode_str("{\"type\":\"PayloadMessage\",\"message\":{\"messageId\":"
                                    "\"m\",\"clusterArn\":\"c\",\"containerInstanceArn\":"
                                    "\"ci\",\"tasks\":null}}",
                                    &m, NULL),
                         0);
        assert_int_equal(m.payload.n_tasks, 0);
        assert_int_equal(m.payload.n_failed, 0);
        acs_message_done(&m);
}

static void test_payload_bad_arn_others_decode(void **state)
{
        _cleanup_free_ char *good = task_with("", C_APP);
        _cleanup_free_ char *tasks = NULL, *p = NULL;
        struct acs_message m = {};

        assert_true(asprintf(&tasks,
                             "{\"arn\":\"not-an-arn\",\"desiredStatus\":\"RUNNING\","
                             "\"containers\":[" C_APP "]},%s,"
                             "{\"desiredStatus\":\"RUNNING\"},"
                             "{\"arn\":\"arn:aws:ecs:us-west-2:1:task/cluster/bad.id\","
                             "\"desiredStatus\":\"RUNNING\",\"containers\":[" C_APP "]},"
                             "[]",
                             good) > 0);
        p = payload_with(tasks);
        assert_int_equal(decode_str(p, &m, NULL), 0);
        assert_int_equal(m.payload.n_tasks, 5);
        assert_int_equal(m.payload.n_failed, 4);

        assert_string_equal(m.payload.tasks[0].arn, "not-an-arn");
        assert_null(m.payload.tasks[0].task);
        assert_string_equal(m.payload.tasks[0].error,
                            "UnrecogniedTaskError: Error loading task - invalid task ARN "
                            "'not-an-arn'");

        assert_null(m.payload.tasks[1].error);
        assert_non_null(m.payload.tasks[1].task);
        assert_string_equal(m.payload.tasks[1].task->id, "t1");
        assert_string_equal(m.payload.tasks[1].task->cluster_arn, "cl"); /* payload's */

        /* No ARN at all: nothing to report, but the payload is still not acked. */
        assert_null(m.payload.tasks[2].arn);
        assert_non_null(strstr(m.payload.tasks[2].error, "arn is not set"));
        assert_non_null(strstr(m.payload.tasks[3].error, "invalid task ARN"));
        assert_null(m.payload.tasks[4].arn);
        assert_non_null(strstr(m.payload.tasks[4].error, "task is not an object"));
        acs_message_done(&m);
}

static void test_payload_too_many(void **state)
{
        _cleanup_free_ char *t = task_with("", C_APP);
        _cleanup_free_ char *p = NULL;
        struct strbuf_like {
                char *s;
        } b = {};
        size_t n = ACS_MAX_TASKS_PER_PAYLOAD + 1, tl = strlen(t);
        struct acs_message m = {};
        struct acs_error err = {};

        b.s = calloc(n * (tl + 1) + 1, 1);
        assert_non_null(b.s);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strcat(b.s, ",");
                strcat(b.s, t);
        }
        p = payload_with(b.s);
        assert_int_equal(decode_str(p, &m, &err), -E2BIG);
        assert_int_equal(err.type, ACS_MSG_PAYLOAD);
        assert_non_null(strstr(err.reason, "tasks has more than 100 entries"));

        /* Exactly the limit is fine. */
        b.s[strlen(b.s) - tl - 1] = 0;
        free(p);
        p = payload_with(b.s);
        assert_int_equal(decode_str(p, &m, &err), 0);
        assert_int_equal(m.payload.n_tasks, ACS_MAX_TASKS_PER_PAYLOAD);
        assert_int_equal(m.payload.n_failed, 0);
        acs_message_done(&m);
        free(b.s);

        /* Too many containers refuses that task only. */
        size_t cn = ACS_MAX_CONTAINERS_PER_TASK + 1;
        char *cs = calloc(cn * 48, 1);
        assert_non_null(cs);
        for (size_t i = 0; i < cn; i++)
                sprintf(cs + strlen(cs), "%s{\"name\":\"c%zu\",\"image\":\"x\"}", i ? "," : "", i);
        assert_task_fails("", cs, "containers has more than 100 entries");
        free(cs);
}

static void test_task_validation(void **state)
{
        /* Container names: required, unique, tame. */
        assert_task_fails("", C_APP "," C_APP, "container 'app': duplicate container name");
        assert_task_fails("", "{\"image\":\"x\"}", "name is not set");
        assert_task_fails("", "{\"name\":\"~internal~ecs~pause\",\"image\":\"x\"}",
                          "invalid container name");
        assert_task_fails("", "{\"name\":\"a\"}", "containers[0].image is not set");
        assert_task_fails("", "", "task has no containers");
        /* Task members. */
        assert_task_fails("\"networkMode\":\"overlay\"", C_APP,
                          "networkMode has an unknown value 'overlay'");
        assert_task_fails("\"desiredStatus\":\"PULLED\"", C_APP,
                          "desiredStatus has an unknown value 'PULLED'");
        assert_task_fails("\"cpu\":\"1\"", C_APP, "cpu is not a number");
        assert_task_fails("\"cpu\":-1", C_APP, "cpu is not a number");
        assert_task_fails("\"memory\":-5", C_APP, "memory is out of range");
        assert_task_fails("\"memory\":1.5", C_APP, "memory is not an integer");
        assert_task_fails("\"pidMode\":\"task\"", C_APP, "pidMode is not supported yet");
        assert_task_fails("\"proxyConfiguration\":{\"type\":\"APPMESH\"}", C_APP,
                          "proxyConfiguration is not supported yet");
        assert_task_fails("\"family\":\"a b\"", C_APP, "invalid family");
        assert_task_fails("\"roleCredentials\":{\"roleArn\":\"r\"}", C_APP,
                          "roleCredentials.credentialsId is not set");
        /* dockerConfig documents must be JSON objects. */
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"dockerConfig\":{\"hostConfig\":"
                          "\"{not json\"}}",
                          "containers[0].dockerConfig.hostConfig is not a JSON object");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"dockerConfig\":{\"config\":"
                          "\"[1]\"}}",
                          "dockerConfig.config is not a JSON object");
        /* dependsOn. */
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"dependsOn\":[{\"containerName\":"
                          "\"b\",\"condition\":\"READY\"}]},"
                          "{\"name\":\"b\",\"image\":\"x\"}",
                          "containers[0].dependsOn[0].condition has an unknown value 'READY'");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"dependsOn\":[{\"containerName\":"
                          "\"b\",\"condition\":\"CREATE\"}]},"
                          "{\"name\":\"b\",\"image\":\"x\"}",
                          "dependsOn[0].condition has an unknown value 'CREATE'");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"dependsOn\":[{\"containerName\":"
                          "\"zz\",\"condition\":\"START\"}]}",
                          "dependsOn refers to unknown container 'zz'");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"links\":[\"a:self\"]}",
                          "links refers to the container itself");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"volumesFrom\":[{"
                          "\"sourceContainer\":\"q\"}]}",
                          "volumesFrom refers to unknown container 'q'");
        /* Volumes. */
        assert_task_fails("\"volumes\":[{\"name\":\"v\",\"type\":\"efs\","
                          "\"efsVolumeConfiguration\":{\"fileSystemId\":\"fs-1\"}}]",
                          C_APP, "volumes[0]: volume type 'efs' is not supported yet");
        assert_task_fails("\"volumes\":[{\"name\":\"v\",\"type\":\"fsxWindowsFileServer\"}]", C_APP,
                          "not supported yet");
        assert_task_fails("\"volumes\":[{\"name\":\"v\"},{\"name\":\"v\"}]", C_APP,
                          "volume 'v': duplicate volume name");
        assert_task_fails("\"volumes\":[{\"name\":\"v\",\"host\":{\"sourcePath\":\"rel\"}}]", C_APP,
                          "volumes[0].host.sourcePath is not absolute");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"mountPoints\":[{"
                          "\"sourceVolume\":\"nope\",\"containerPath\":\"/d\"}]}",
                          "mountPoints refers to unknown volume 'nope'");
        /* Ports. */
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"portMappings\":[{"
                          "\"containerPort\":70000}]}",
                          "containerPort is out of range");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"portMappings\":[{"
                          "\"containerPort\":80,\"hostPort\":-1}]}",
                          "hostPort is out of range");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"portMappings\":[{"
                          "\"containerPort\":80,\"protocol\":\"sctp\"}]}",
                          "portMappings[0].protocol has an unknown value 'sctp'");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"portMappings\":[{"
                          "\"hostPort\":80}]}",
                          "containerPort is not set");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"portMappings\":[{"
                          "\"containerPortRange\":\"9-3\"}]}",
                          "invalid containerPortRange '9-3'");
        /* Types. */
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"command\":\"ls\"}",
                          "command is not an array");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"command\":[1]}",
                          "containers[0].command[0] is not a string");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"essential\":\"yes\"}",
                          "essential is not a boolean");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"environment\":{\"A\":1}}",
                          "containers[0].environment.A is not a string");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"environment\":{\"A=B\":\"1\"}}",
                          "environment has an invalid key");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"image\":\"a\\u0000b\"}",
                          "image contains a NUL character");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"environmentFiles\":[{"
                          "\"value\":\"arn:aws:s3:::b/f.env\",\"type\":\"s3\"}]}",
                          "environmentFiles is not supported yet");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"overrides\":\"{bad\"}",
                          "overrides is not a JSON object");
        assert_task_fails("", "{\"name\":\"a\",\"image\":\"x\",\"overrides\":42}",
                          "overrides is neither an object nor a string");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"secrets\":[{\"name\":\"S\","
                          "\"valueFrom\":\"v\",\"provider\":\"vault\"}]}",
                          "unknown provider 'vault'");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"registryAuthentication\":{"
                          "\"type\":\"ecr\"}}",
                          "ecrAuthData is not set");
        assert_task_fails("",
                          "{\"name\":\"a\",\"image\":\"x\",\"restartPolicy\":{"
                          "\"ignoredExitCodes\":[\"1\"]}}",
                          "ignoredExitCodes[0] is not an integer");
        /* Task ENIs are validated like the attach messages. */
        assert_task_fails("\"networkMode\":\"awsvpc\",\"elasticNetworkInterfaces\":[{"
                          "\"ec2Id\":\"eni-1\",\"macAddress\":\"0e:00:00:00:00:01\","
                          "\"ipv4Addresses\":[{\"privateAddress\":\"10.0.0.5\",\"primary\":true}],"
                          "\"subnetGatewayIpv4Address\":\"10.0.0.1\"}]",
                          C_APP, "invalid subnet gateway ipv4 address '10.0.0.1'");
}

static void test_task_members(void **state)
{
        struct acs_message m = {};
        const struct ecs_container *c;
        const struct ecs_task *t;

        /* Overrides as a JSON string replace the command. */
        assert_null(decode_one("\"networkMode\":\"host\",\"cpu\":2,\"serviceName\":\"svc\","
                               "\"desiredStatus\":\"STOPPED\",\"taskClusterArn\":\"tc\","
                               "\"volumes\":[{\"name\":\"d\",\"type\":\"docker\","
                               "\"dockerVolumeConfiguration\":{\"scope\":\"shared\","
                               "\"autoprovision\":true,\"driver\":\"local\",\"driverOpts\":{"
                               "\"type\":\"tmpfs\"},\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}],"
                               "\"unknownField\":{\"ignored\":[1,2]}",
                               "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"old\"],"
                               "\"overrides\":\"{\\\"command\\\":[\\\"new\\\",\\\"arg\\\"]}\","
                               "\"environment\":{\"Z\":\"1\",\"A\":\"2\",\"E\":null},"
                               "\"links\":[\"b:alias\"],\"volumesFrom\":[{\"sourceContainer\":"
                               "\"b\",\"readOnly\":true}],\"mountPoints\":[{\"sourceVolume\":"
                               "\"d\",\"containerPath\":\"/d\"}],\"portMappings\":[{"
                               "\"containerPortRange\":\"8000-8010\",\"protocol\":\"udp\"},{"
                               "\"containerPort\":53,\"hostPort\":5353,\"protocol\":\"udp\"}],"
                               "\"restartPolicy\":{\"enabled\":true,\"ignoredExitCodes\":[0,-1],"
                               "\"restartAttemptPeriod\":60},\"essential\":true,"
                               "\"healthCheckType\":\"other\",\"managedAgents\":[{}]},"
                               "{\"name\":\"b\",\"image\":\"y\",\"overrides\":{\"command\":null},"
                               "\"command\":[\"keep\"],\"dependsOn\":[{\"containerName\":\"a\","
                               "\"condition\":\"HEALTHY\"}]}",
                               &m));
        t = m.payload.tasks[0].task;
        assert_int_equal(t->network_mode, NETWORK_MODE_HOST);
        assert_true(t->cpu == 2.0);
        assert_string_equal(t->service_name, "svc");
        assert_int_equal(t->desired_status, TASK_STATUS_STOPPED);
        assert_string_equal(t->cluster_arn, "tc");
        assert_null(t->role_credentials_id);
        assert_null(m.payload.tasks[0].role_credentials.credentials_id);
        assert_string_equal(t->volumes[0].type, "docker");
        assert_string_equal(t->volumes[0].scope, "shared");
        assert_true(t->volumes[0].autoprovision);
        assert_string_equal(t->volumes[0].driver, "local");
        assert_string_equal(t->volumes[0].driver_opts[0], "type=tmpfs");
        assert_null(t->volumes[0].driver_opts[1]);
        assert_string_equal(t->volumes[0].labels[0], "a=1");
        assert_string_equal(t->volumes[0].labels[1], "b=2");

        c = &t->containers[0];
        assert_string_equal(c->command[0], "new");
        assert_string_equal(c->command[1], "arg");
        assert_null(c->command[2]);
        /* Wire order, null value as "". */
        assert_string_equal(c->environment[0], "Z=1");
        assert_string_equal(c->environment[1], "A=2");
        assert_string_equal(c->environment[2], "E=");
        assert_null(c->environment[3]);
        assert_string_equal(c->links[0], "b:alias");
        assert_true(c->volumes_from[0].read_only);
        assert_int_equal(c->n_ports, 2);
        assert_int_equal(c->ports[0].container_port, 0);
        assert_int_equal(c->ports[0].range_start, 8000);
        assert_int_equal(c->ports[0].range_end, 8010);
        assert_int_equal(c->ports[0].protocol, PORT_PROTOCOL_UDP);
        assert_int_equal(c->ports[1].container_port, 53);
        assert_int_equal(c->ports[1].host_port, 5353);
        assert_true(c->restart.enabled);
        assert_int_equal(c->restart.n_ignored_exit_codes, 2);
        assert_int_equal(c->restart.ignored_exit_codes[1], -1);
        assert_int_equal(c->restart.attempt_period_sec, 60);
        assert_false(c->health_check_docker);

        c = &t->containers[1];
        assert_string_equal(c->command[0], "keep"); /* "command": null overrides nothing */
        assert_int_equal(c->depends_on[0].condition, DEPENDENCY_HEALTHY);
        acs_message_done(&m);

        /* Object-form overrides with an empty command: the image's default. */
        assert_null(decode_one("",
                               "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"old\"],"
                               "\"overrides\":{\"command\":[]}}",
                               &m));
        assert_null(m.payload.tasks[0].task->containers[0].command);
        acs_message_done(&m);

        /* awsvpc with a valid ENI. */
        assert_null(
            decode_one("\"networkMode\":\"awsvpc\",\"elasticNetworkInterfaces\":[{"
                       "\"ec2Id\":\"eni-1\",\"macAddress\":\"0e:00:00:00:00:01\","
                       "\"attachmentArn\":\"arn:aws:ecs:r:1:attachment/x\","
                       "\"ipv4Addresses\":[{\"privateAddress\":\"10.0.1.57\","
                       "\"primary\":true}],\"subnetGatewayIpv4Address\":\"10.0.1.1/24\","
                       "\"domainNameServers\":[\"10.0.0.2\"],\"domainName\":[\"ex.internal\"],"
                       "\"privateDnsName\":\"ip-10-0-1-57\"}]",
                       C_APP, &m));
        assert_int_equal(m.payload.tasks[0].task->network_mode, NETWORK_MODE_AWSVPC);
        assert_int_equal(m.payload.tasks[0].n_enis, 1);
        assert_string_equal(m.payload.tasks[0].enis[0].ipv4[0].address, "10.0.1.57");
        assert_string_equal(m.payload.tasks[0].enis[0].dns_servers[0], "10.0.0.2");
        /* ... and copied into the task model the engine works from. */
        const struct task_eni *te = m.payload.tasks[0].task->eni;
        assert_non_null(te);
        assert_string_equal(te->mac, "0e:00:00:00:00:01");
        assert_string_equal(te->ipv4[0], "10.0.1.57");
        assert_null(te->ipv4[1]);
        assert_null(te->ipv6);
        assert_string_equal(te->subnet_gateway_ipv4, "10.0.1.1/24");
        assert_string_equal(te->search_domains[0], "ex.internal");
        assert_string_equal(te->private_dns_name, "ip-10-0-1-57");
        assert_string_equal(te->attachment_arn, "arn:aws:ecs:r:1:attachment/x");
        acs_message_done(&m);

        /* awsvpc needs exactly one ENI. */
        assert_task_fails("\"networkMode\":\"awsvpc\"", C_APP, "ENIs");
}

static void test_envelope_forms(void **state)
{
        struct acs_message m = {};
        struct acs_error err = {};

        /* Compact exception form. */
        assert_int_equal(
            decode_str("{\"InactiveInstanceException\":\"Container instance is inactive\"}", &m,
                       &err),
            0);
        assert_int_equal(m.type, ACS_MSG_EXCEPTION);
        assert_int_equal(m.text.exception, ACS_EXCEPTION_INACTIVE_INSTANCE);
        assert_string_equal(m.text.message, "Container instance is inactive");
        assert_string_equal(m.type_name, "InactiveInstanceException");
        acs_message_done(&m);

        /* Envelope exception form. */
        assert_int_equal(decode_str("{\"type\":\"AccessDeniedException\",\"message\":{"
                                    "\"message\":\"no\"}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_EXCEPTION);
        assert_int_equal(m.text.exception, ACS_EXCEPTION_ACCESS_DENIED);
        assert_string_equal(m.text.message, "no");
        assert_true(acs_message_type_is_activity(m.type));
        acs_message_done(&m);

        /* CloseMessage, ErrorMessage. */
        assert_int_equal(
            decode_str("{\"type\":\"CloseMessage\",\"message\":{\"message\":\"bye\"}}", &m, &err),
            0);
        assert_int_equal(m.type, ACS_MSG_CLOSE);
        assert_string_equal(m.text.message, "bye");
        acs_message_done(&m);
        assert_int_equal(decode_str("{\"ErrorMessage\":\"boom\"}", &m, &err), 0);
        assert_int_equal(m.type, ACS_MSG_ERROR);
        assert_string_equal(m.text.message, "boom");
        acs_message_done(&m);

        /* Unknown type: decoded, but not activity. */
        assert_int_equal(
            decode_str("{\"type\":\"FancyNewMessage\",\"message\":{\"x\":1}}", &m, &err), 0);
        assert_int_equal(m.type, ACS_MSG_UNKNOWN);
        assert_string_equal(m.type_name, "FancyNewMessage");
        assert_false(acs_message_type_is_activity(m.type));
        acs_message_done(&m);

        /* Recognised agent->ACS shapes echo back as unhandled activity. */
        assert_int_equal(
            decode_str("{\"type\":\"AckRequest\",\"message\":{\"messageId\":\"x\"}}", &m, &err), 0);
        assert_int_equal(m.type, ACS_MSG_UNHANDLED);
        assert_true(acs_message_type_is_activity(m.type));
        acs_message_done(&m);

        /* Undecodable frames. */
        static const char *const bad[] = {
            "",
            "not json",
            "[1,2]",
            "{\"type\":5,\"message\":{}}",
            "{\"type\":\"HeartbeatMessage\",\"message\":[]}",
            "{\"type\":\"HeartbeatMessage\"}",
            "{\"UnknownException\":\"x\"}",
            "{\"PayloadMessage\":\"x\"}",
            "{\"ServerException\":1}",
            "{\"ServerException\":\"a\",\"BadRequestException\":\"b\"}",
            "{}",
            "{\"type\":\"\"}",
            "{\"type\":\"HeartbeatMessage\",\"message\":{}} trailing",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                m.type = ACS_MSG_CLOSE;
                assert_int_equal(decode_str(bad[i], &m, &err), -EBADMSG);
                assert_int_equal(err.type, ACS_MSG_UNKNOWN);
                assert_int_equal(m.type, ACS_MSG_CLOSE); /* untouched */
                assert_true(err.reason[0] != 0);
        }
        assert_int_equal(acs_decode(NULL, 0, &m, NULL), -EBADMSG);

        /* Over the size limit: refused before parsing. */
        size_t big = ACS_MAX_MESSAGE_SIZE + 1;
        char *buf = malloc(big);
        assert_non_null(buf);
        memset(buf, ' ', big);
        assert_int_equal(acs_decode(buf, big, &m, &err), -E2BIG);
        free(buf);

        /* Nesting beyond the JSON depth limit. */
        char deep[2 * 40 + 64];
        size_t n = (size_t)sprintf(deep, "{\"type\":\"X\",\"message\":");
        for (int i = 0; i < 40; i++)
                deep[n++] = '[';
        for (int i = 0; i < 40; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        assert_int_equal(decode_str(deep, &m, &err), -EBADMSG);
}

static void test_credentials_message(void **state)
{
        static const char good[] =
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{"
            "\"messageId\":\"c0ffee00-1111-2222-3333-444455556666\",\"clusterArn\":\"default\","
            "\"taskArn\":\"arn:aws:ecs:us-west-2:123456789012:task/default/"
            "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6\",\"roleType\":\"TaskApplication\","
            "\"roleCredentials\":{\"credentialsId\":\"e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b\","
            "\"roleArn\":\"arn:aws:iam::123456789012:role/web-task\",\"accessKeyId\":"
            "\"ASIANEWKEYEXAMPLE001\",\"secretAccessKey\":\"newSecret\",\"sessionToken\":"
            "\"newToken\",\"expiration\":\"2024-01-01T12:00:00.000+0000\"}}}";
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_str(good, &m, &err), 0);
        assert_int_equal(m.type, ACS_MSG_IAM_ROLE_CREDENTIALS);
        assert_string_equal(m.credentials.message_id, "c0ffee00-1111-2222-3333-444455556666");
        assert_string_equal(m.credentials.task_arn, TASK_ARN("1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"));
        assert_null(m.credentials.task_cluster_arn);
        assert_int_equal(m.credentials.role_type, ACS_ROLE_TASK_APPLICATION);
        assert_string_equal(m.credentials.credentials.credentials_id,
                            "e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b");
        assert_string_equal(m.credentials.credentials.secret_access_key, "newSecret");
        assert_string_equal(m.credentials.credentials.session_token, "newToken");
        assert_string_equal(m.credentials.credentials.expiration, "2024-01-01T12:00:00.000+0000");
        acs_message_done(&m);

        static const char *const bad[] = {
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"taskArn\":\"t\","
            "\"roleType\":\"TaskApplication\",\"roleCredentials\":{\"credentialsId\":\"c\"}}}",
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"messageId\":\"m\","
            "\"roleType\":\"TaskApplication\",\"roleCredentials\":{\"credentialsId\":\"c\"}}}",
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"messageId\":\"m\","
            "\"taskArn\":\"t\",\"roleType\":\"TaskApplication\"}}",
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"messageId\":\"m\","
            "\"taskArn\":\"t\",\"roleType\":\"TaskApplication\",\"roleCredentials\":{"
            "\"credentialsId\":\"\",\"secretAccessKey\":\"SECRETVALUE\"}}}",
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"messageId\":\"m\","
            "\"taskArn\":\"t\",\"roleType\":\"Admin\",\"roleCredentials\":{"
            "\"credentialsId\":\"c\",\"secretAccessKey\":\"SECRETVALUE\"}}}",
            "{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{\"messageId\":\"m\","
            "\"taskArn\":\"t\",\"roleCredentials\":{\"credentialsId\":\"c\"}}}",
        };
        static const char *const why[] = {"messageId is not set",
                                          "taskArn is not set",
                                          "roleCredentials is not set",
                                          "roleCredentials.credentialsId is empty",
                                          "roleType has an unknown value 'Admin'",
                                          "roleType is not set"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(decode_str(bad[i], &m, &err), -EINVAL);
                assert_int_equal(err.type, ACS_MSG_IAM_ROLE_CREDENTIALS);
                if (!strstr(err.reason, why[i]))
                        fail_msg("'%s' lacks '%s'", err.reason, why[i]);
                assert_null(strstr(err.reason, "SECRETVALUE"));
        }

        /* Execution role. */
        assert_int_equal(decode_str("{\"type\":\"IAMRoleCredentialsMessage\",\"message\":{"
                                    "\"messageId\":\"m\",\"taskArn\":\"t\",\"taskClusterArn\":"
                                    "\"tc\",\"roleType\":\"TaskExecution\",\"roleCredentials\":{"
                                    "\"credentialsId\":\"c\"}}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.credentials.role_type, ACS_ROLE_TASK_EXECUTION);
        assert_string_equal(m.credentials.task_cluster_arn, "tc");
        assert_string_equal(m.credentials.credentials.access_key_id, "");
        assert_string_equal(m.credentials.credentials.expiration, "");
        acs_message_done(&m);
}

static void test_heartbeat_manifest_stop_ack(void **state)
{
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_str("{\"type\":\"HeartbeatMessage\",\"message\":{\"healthy\":"
                                    "true,\"messageId\":\"hb-0001\"}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_HEARTBEAT);
        assert_string_equal(m.heartbeat.message_id, "hb-0001");
        assert_true(m.heartbeat.healthy);
        acs_message_done(&m);
        assert_int_equal(decode_str("{\"type\":\"HeartbeatMessage\",\"message\":{}}", &m, &err), 0);
        assert_string_equal(m.heartbeat.message_id, "");
        acs_message_done(&m);

        assert_int_equal(
            decode_str("{\"type\":\"TaskManifestMessage\",\"message\":{\"messageId\":\"mm\","
                       "\"clusterArn\":\"c\",\"containerInstanceArn\":\"ci\",\"generatedAt\":5,"
                       "\"timeline\":12,\"tasks\":[{\"taskArn\":\"a1\",\"taskClusterArn\":\"c\","
                       "\"desiredStatus\":\"RUNNING\"},{\"taskArn\":\"a2\",\"desiredStatus\":"
                       "\"STOPPED\"},{\"taskArn\":\"a3\",\"desiredStatus\":\"WEIRD\"}]}}",
                       &m, &err),
            0);
        assert_int_equal(m.type, ACS_MSG_TASK_MANIFEST);
        assert_string_equal(m.manifest.message_id, "mm");
        assert_int_equal(m.manifest.timeline, 12);
        assert_int_equal(m.manifest.generated_at, 5);
        assert_int_equal(m.manifest.n_tasks, 3);
        assert_string_equal(m.manifest.tasks[0].task_arn, "a1");
        assert_string_equal(m.manifest.tasks[0].task_cluster_arn, "c");
        assert_int_equal(m.manifest.tasks[0].desired_status, TASK_STATUS_RUNNING);
        assert_string_equal(m.manifest.tasks[1].task_cluster_arn, "");
        assert_int_equal(m.manifest.tasks[1].desired_status, TASK_STATUS_STOPPED);
        assert_int_equal(m.manifest.tasks[2].desired_status, _TASK_STATUS_INVALID);
        acs_message_done(&m);
        assert_int_equal(
            decode_str("{\"type\":\"TaskManifestMessage\",\"message\":{\"timeline\":1}}", &m, &err),
            -EINVAL);
        assert_int_equal(err.type, ACS_MSG_TASK_MANIFEST);

        assert_int_equal(decode_str("{\"type\":\"TaskStopVerificationAck\",\"message\":{"
                                    "\"generatedAt\":1,\"messageId\":\"mm\",\"stopTasks\":[{"
                                    "\"taskArn\":\"a9\",\"taskClusterArn\":\"c\","
                                    "\"desiredStatus\":\"STOPPED\"}]}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_TASK_STOP_VERIFICATION_ACK);
        assert_string_equal(m.stop_ack.message_id, "mm");
        assert_int_equal(m.stop_ack.n_stop_tasks, 1);
        assert_string_equal(m.stop_ack.stop_tasks[0].task_arn, "a9");
        assert_int_equal(m.stop_ack.stop_tasks[0].desired_status, TASK_STATUS_STOPPED);
        acs_message_done(&m);

        assert_int_equal(decode_str("{\"type\":\"StageUpdateMessage\",\"message\":{\"messageId\":"
                                    "\"u1\",\"clusterArn\":\"c\",\"containerInstanceArn\":\"ci\","
                                    "\"updateInfo\":{\"location\":\"https://x/a.tar\","
                                    "\"signature\":\"abc\"}}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_STAGE_UPDATE);
        assert_string_equal(m.update.message_id, "u1");
        assert_string_equal(m.update.location, "https://x/a.tar");
        assert_string_equal(m.update.signature, "abc");
        acs_message_done(&m);
        assert_int_equal(decode_str("{\"type\":\"PerformUpdateMessage\",\"message\":{}}", &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_PERFORM_UPDATE);
        assert_string_equal(m.update.cluster_arn, "");
        acs_message_done(&m);
}

#define ENI_OK                                                                                     \
        "{\"ec2Id\":\"eni-0a1b2c3d4e5f60718\",\"macAddress\":\"0e:12:34:56:78:9a\","               \
        "\"attachmentArn\":\"arn:aws:ecs:us-west-2:123456789012:attachment/5e6f\","                \
        "\"ipv4Addresses\":[{\"primary\":true,\"privateAddress\":\"10.0.1.57\"}],"                 \
        "\"subnetGatewayIpv4Address\":\"10.0.1.1/24\",\"domainNameServers\":[\"10.0.0.2\"],"       \
        "\"domainName\":[\"us-west-2.compute.internal\"],"                                         \
        "\"privateDnsName\":\"ip-10-0-1-57.us-west-2.compute.internal\","                          \
        "\"interfaceAssociationProtocol\":\"default\"}"

static int decode_attach(const char *type, const char *extra, const char *enis,
                         struct acs_message *m, struct acs_error *err)
{
        _cleanup_free_ char *s = NULL;
        assert_true(asprintf(&s,
                             "{\"type\":\"%s\",\"message\":{\"messageId\":\"a1\",\"clusterArn\":"
                             "\"c\",\"containerInstanceArn\":\"ci\",\"generatedAt\":1%s,"
                             "\"elasticNetworkInterfaces\":[%s]}}",
                             type, extra, enis) > 0);
        return decode_str(s, m, err);
}

static void assert_eni_refused(const char *eni, const char *needle)
{
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_attach("AttachTaskNetworkInterfacesMessage",
                                       ",\"taskArn\":\"t\",\"waitTimeoutMs\":1000", eni, &m, &err),
                         -EINVAL);
        assert_int_equal(err.type, ACS_MSG_ATTACH_TASK_ENI);
        if (!strstr(err.reason, needle))
                fail_msg("'%s' lacks '%s'", err.reason, needle);
}

static void test_attach_eni(void **state)
{
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_attach("AttachTaskNetworkInterfacesMessage",
                                       ",\"taskArn\":\"t\",\"taskClusterArn\":\"tc\","
                                       "\"waitTimeoutMs\":5000",
                                       ENI_OK, &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_ATTACH_TASK_ENI);
        const struct acs_attach_eni_message *a = &m.attach_eni;
        assert_string_equal(a->message_id, "a1");
        assert_string_equal(a->task_arn, "t");
        assert_string_equal(a->task_cluster_arn, "tc");
        assert_int_equal(a->wait_timeout_ms, 5000);
        assert_int_equal(a->n_enis, 1);
        const struct acs_eni *e = &a->enis[0];
        assert_string_equal(e->ec2_id, "eni-0a1b2c3d4e5f60718");
        assert_string_equal(e->mac_address, "0e:12:34:56:78:9a");
        assert_string_equal(e->attachment_arn,
                            "arn:aws:ecs:us-west-2:123456789012:attachment/5e6f");
        assert_int_equal(e->n_ipv4, 1);
        assert_string_equal(e->ipv4[0].address, "10.0.1.57");
        assert_true(e->ipv4[0].primary);
        assert_int_equal(e->n_ipv6, 0);
        assert_string_equal(e->subnet_gateway_ipv4, "10.0.1.1/24");
        assert_null(e->subnet_gateway_ipv6);
        assert_string_equal(e->dns_servers[0], "10.0.0.2");
        assert_null(e->dns_servers[1]);
        assert_string_equal(e->search_domains[0], "us-west-2.compute.internal");
        assert_string_equal(e->private_dns_name, "ip-10-0-1-57.us-west-2.compute.internal");
        assert_int_equal(e->association, ACS_ENI_ASSOCIATION_DEFAULT);
        acs_message_done(&m);

        /* Instance variant: no taskArn needed. */
        assert_int_equal(decode_attach("AttachInstanceNetworkInterfacesMessage",
                                       ",\"waitTimeoutMs\":5000", ENI_OK, &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_ATTACH_INSTANCE_ENI);
        assert_null(m.attach_eni.task_arn);
        acs_message_done(&m);

        /* Message-level rules. */
        assert_int_equal(decode_attach("AttachTaskNetworkInterfacesMessage", ",\"waitTimeoutMs\":5",
                                       ENI_OK, &m, &err),
                         -EINVAL);
        assert_non_null(strstr(err.reason, "taskArn is not set"));
        assert_int_equal(decode_attach("AttachInstanceNetworkInterfacesMessage",
                                       ",\"waitTimeoutMs\":0", ENI_OK, &m, &err),
                         -EINVAL);
        assert_non_null(strstr(err.reason, "invalid waitTimeoutMs"));
        assert_int_equal(decode_attach("AttachInstanceNetworkInterfacesMessage",
                                       ",\"waitTimeoutMs\":10", "", &m, &err),
                         -EINVAL);
        assert_non_null(strstr(err.reason, "no ENIs"));

        /* ENI rules (official ValidateENI). */
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1\"}",
                           "invalid subnet gateway ipv4 address '10.0.0.1'");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/24/8\"}",
                           "invalid subnet gateway ipv4 address");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/33\"}",
                           "invalid subnet gateway ipv4 address");
        /* What the net layer could not set up is refused here already: no netmask, or an IPv6
         * gateway where IPv4 is expected. */
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/0\"}",
                           "invalid subnet gateway ipv4 address '10.0.0.1/0'");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"2001:db8::1/64\"}",
                           "invalid subnet gateway ipv4 address '2001:db8::1/64'");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}]}",
                           "no subnet gateway ipv4 address");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/24\"}",
                           "no ipv4 addresses");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.300\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/24\"}",
                           "invalid address '10.0.0.300'");
        assert_eni_refused("{\"ec2Id\":\"e\",\"ipv4Addresses\":[{\"privateAddress\":\"10.0.0.2\"}],"
                           "\"subnetGatewayIpv4Address\":\"10.0.0.1/24\"}",
                           "empty eni mac address");
        assert_eni_refused("{\"macAddress\":\"m\",\"ipv4Addresses\":[{\"privateAddress\":"
                           "\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":\"10.0.0.1/24\"}",
                           "empty eni id");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/24\",\"interfaceAssociationProtocol\":\"vlan\"}",
                           "vlan interface properties missing");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv4Addresses\":[{"
                           "\"privateAddress\":\"10.0.0.2\"}],\"subnetGatewayIpv4Address\":"
                           "\"10.0.0.1/24\",\"interfaceAssociationProtocol\":\"tunnel\"}",
                           "elasticNetworkInterfaces[0].interfaceAssociationProtocol has an "
                           "unknown value 'tunnel'");
        assert_eni_refused("{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv6Addresses\":[{"
                           "\"address\":\"2001:db8::5\"}]}",
                           "no subnet gateway ipv6 address");

        /* IPv6-only and trunked (vlan) ENIs. */
        assert_int_equal(
            decode_attach("AttachTaskNetworkInterfacesMessage",
                          ",\"taskArn\":\"t\",\"waitTimeoutMs\":1",
                          "{\"ec2Id\":\"e\",\"macAddress\":\"m\",\"ipv6Addresses\":[{"
                          "\"address\":\"2001:db8::5\",\"primary\":true}],"
                          "\"subnetGatewayIpv6Address\":\"2001:db8::1/64\"},"
                          "{\"ec2Id\":\"e2\",\"macAddress\":\"m2\",\"ipv4Addresses\":[{"
                          "\"privateAddress\":\"10.0.0.2\"}],"
                          "\"subnetGatewayIpv4Address\":\"10.0.0.1/24\","
                          "\"interfaceAssociationProtocol\":\"vlan\","
                          "\"interfaceVlanProperties\":{\"vlanId\":\"101\","
                          "\"trunkInterfaceMacAddress\":\"0e:00:00:00:00:99\"}}",
                          &m, &err),
            0);
        assert_int_equal(m.attach_eni.n_enis, 2);
        assert_string_equal(m.attach_eni.enis[0].ipv6[0].address, "2001:db8::5");
        assert_string_equal(m.attach_eni.enis[0].subnet_gateway_ipv6, "2001:db8::1/64");
        assert_int_equal(m.attach_eni.enis[1].association, ACS_ENI_ASSOCIATION_VLAN);
        assert_string_equal(m.attach_eni.enis[1].vlan_id, "101");
        assert_string_equal(m.attach_eni.enis[1].trunk_mac_address, "0e:00:00:00:00:99");
        acs_message_done(&m);
}

static void test_confirm_attachment(void **state)
{
        struct acs_message m = {};
        struct acs_error err = {};

        assert_int_equal(decode_str("{\"type\":\"ConfirmAttachmentMessage\",\"message\":{"
                                    "\"messageId\":\"ca\",\"taskArn\":\"" TASK_ARN(
                                        "t") "\","
                                             "\"attachment\":{\"attachmentArn\":\"arn:aws:ecs:r:1:"
                                             "attachment/a\",\"attachmentType\":\"amazonebs\","
                                             "\"attachmentProperties\":[{\"name\":\"volumeId\","
                                             "\"value\":\"vol-1\"}]}}}",
                                    &m, &err),
                         0);
        assert_int_equal(m.type, ACS_MSG_CONFIRM_ATTACHMENT);
        assert_int_equal(m.confirm.wait_timeout_ms, 300000);
        assert_string_equal(m.confirm.attachment_type, "amazonebs");
        assert_int_equal(m.confirm.n_properties, 1);
        assert_string_equal(m.confirm.properties[0].value, "vol-1");
        acs_message_done(&m);

        assert_int_equal(decode_str("{\"type\":\"ConfirmAttachmentMessage\",\"message\":{"
                                    "\"messageId\":\"ca\",\"attachment\":{\"attachmentArn\":"
                                    "\"arn:aws:ecs:r:1:attachment/a\",\"attachmentProperties\":"
                                    "[{\"name\":\"volumeId\",\"value\":\"\"}]}}}",
                                    &m, &err),
                         -EINVAL);
        assert_non_null(strstr(err.reason, "value is empty"));
        assert_int_equal(decode_str("{\"type\":\"ConfirmAttachmentMessage\",\"message\":{"
                                    "\"messageId\":\"ca\",\"attachment\":{\"attachmentArn\":"
                                    "\"nope\"}}}",
                                    &m, &err),
                         -EINVAL);
        assert_non_null(strstr(err.reason, "attachment.attachmentArn: invalid ARN 'nope'"));
}

static void assert_json_eq(const char *actual, const char *expected)
{
        _cleanup_json_ json_object *a = NULL, *e = NULL;

        assert_int_equal(json_parse(actual, strlen(actual), &a), 0);
        assert_int_equal(json_parse(expected, strlen(expected), &e), 0);
        if (!json_object_equal(a, e))
                fail_msg("JSON differs:\n  actual:   %s\n  expected: %s", actual, expected);
}

static void test_encoders(void **state)
{
        char *s = NULL;

        assert_int_equal(acs_encode_ack("arn:aws:ecs:us-west-2:123456789012:cluster/default",
                                        "arn:ci", "3f1c", &s),
                         0);
        assert_json_eq(s, "{\"type\":\"AckRequest\",\"message\":{\"cluster\":\"arn:aws:ecs:us-"
                          "west-2:123456789012:cluster/default\",\"containerInstance\":\"arn:ci\","
                          "\"messageId\":\"3f1c\"}}");
        /* The envelope's type comes first, compact, slashes unescaped. */
        assert_true(strncmp(s, "{\"type\":\"AckRequest\",\"message\":{", 32) == 0);
        assert_non_null(strstr(s, "cluster/default"));
        free(s);

        assert_int_equal(acs_encode_heartbeat_ack("hb-0001", &s), 0);
        assert_string_equal(s, "{\"type\":\"HeartbeatAckRequest\",\"message\":{\"messageId\":"
                               "\"hb-0001\"}}");
        free(s);

        assert_int_equal(
            acs_encode_credentials_ack("c0ffee", "2024-01-01T12:00:00.000+0000", "e1d2", &s), 0);
        assert_json_eq(s, "{\"type\":\"IAMRoleCredentialsAckRequest\",\"message\":{\"messageId\":"
                          "\"c0ffee\",\"expiration\":\"2024-01-01T12:00:00.000+0000\","
                          "\"credentialsId\":\"e1d2\"}}");
        free(s);

        assert_int_equal(acs_encode_nack("c", "ci", "u1", "Updates are disabled", &s), 0);
        assert_json_eq(s, "{\"type\":\"NackRequest\",\"message\":{\"cluster\":\"c\","
                          "\"containerInstance\":\"ci\",\"messageId\":\"u1\",\"reason\":"
                          "\"Updates are disabled\"}}");
        free(s);

        /* NULL members are left out (omitempty). */
        assert_int_equal(acs_encode_nack(NULL, "ci", "u1", NULL, &s), 0);
        assert_json_eq(s, "{\"type\":\"NackRequest\",\"message\":{\"containerInstance\":\"ci\","
                          "\"messageId\":\"u1\"}}");
        free(s);

        struct acs_task_identifier cands[] = {
            {.task_arn = "a1", .task_cluster_arn = "c", .desired_status = TASK_STATUS_STOPPED},
            {.task_arn = "a2", .task_cluster_arn = "c", .desired_status = TASK_STATUS_STOPPED},
        };
        assert_int_equal(acs_encode_stop_verification("mm", cands, 2, &s), 0);
        assert_json_eq(s, "{\"type\":\"TaskStopVerificationMessage\",\"message\":{\"messageId\":"
                          "\"mm\",\"stopCandidates\":[{\"taskArn\":\"a1\",\"taskClusterArn\":\"c\","
                          "\"desiredStatus\":\"STOPPED\"},{\"taskArn\":\"a2\",\"taskClusterArn\":"
                          "\"c\",\"desiredStatus\":\"STOPPED\"}]}}");
        free(s);
        assert_int_equal(acs_encode_stop_verification("mm", NULL, 0, &s), 0);
        assert_json_eq(s, "{\"type\":\"TaskStopVerificationMessage\",\"message\":{\"messageId\":"
                          "\"mm\",\"stopCandidates\":[]}}");
        free(s);

        /* Encoders round-trip through the decoder's envelope rules. */
        struct acs_message m = {};
        assert_int_equal(acs_encode_ack("c", "ci", "x", &s), 0);
        assert_int_equal(decode_str(s, &m, NULL), 0);
        assert_int_equal(m.type, ACS_MSG_UNHANDLED);
        free(s);
}

static void test_urls(void **state)
{
        char *u = NULL;

        /* §2.2, computed by hand: keys sorted; ':' %3A, '/' %2F, ' ' '+'. */
        assert_int_equal(acs_build_url("https://ecs-a-1.us-west-2.amazonaws.com", "default",
                                       "arn:aws:ecs:us-west-2:123456789012:container-instance/"
                                       "default/4b3d0c6f2e8a4c1b9f7e6d5c4b3a2910",
                                       "1.105.1", "a8b3e7d3", "25.0.8", true, 1, &u),
                         0);
        assert_string_equal(u, "https://ecs-a-1.us-west-2.amazonaws.com/ws?agentHash=a8b3e7d3&"
                               "agentVersion=1.105.1&clusterArn=default&containerInstanceArn="
                               "arn%3Aaws%3Aecs%3Aus-west-2%3A123456789012%3Acontainer-instance%2F"
                               "default%2F4b3d0c6f2e8a4c1b9f7e6d5c4b3a2910&dockerVersion="
                               "DockerVersion%3A+25.0.8&protocolVersion=2&sendCredentials=true&"
                               "seqNum=1");
        free(u);

        /* Trailing slash kept single; unknown Docker version omitted; escapes of odd bytes. */
        assert_int_equal(acs_build_url("http://127.0.0.1:8080/", "my cluster&x=y", "ci~_.-",
                                       "0.1.0", "unknown", NULL, false, 1, &u),
                         0);
        assert_string_equal(u, "http://127.0.0.1:8080/ws?agentHash=unknown&agentVersion=0.1.0&"
                               "clusterArn=my+cluster%26x%3Dy&containerInstanceArn=ci~_.-&"
                               "protocolVersion=2&sendCredentials=false&seqNum=1");
        free(u);

        assert_int_equal(acs_build_url("", "c", "ci", "v", "h", NULL, true, 1, &u), -EINVAL);

        /* §3.1: raw docker version, different key names. */
        assert_int_equal(tcs_build_url("https://ecs-t-1.us-west-2.amazonaws.com", "default",
                                       "arn:aws:ecs:us-west-2:1:container-instance/default/abc",
                                       "1.105.1", "a8b3e7d3", "25.0.8", &u),
                         0);
        assert_string_equal(u,
                            "https://ecs-t-1.us-west-2.amazonaws.com/ws?agentHash=a8b3e7d3&"
                            "agentVersion=1.105.1&cluster=default&containerInstance="
                            "arn%3Aaws%3Aecs%3Aus-west-2%3A1%3Acontainer-instance%2Fdefault%2Fabc"
                            "&dockerVersion=25.0.8");
        free(u);
        assert_int_equal(tcs_build_url("http://h/", "c", "ci", "v", "h", "", &u), 0);
        assert_string_equal(u, "http://h/ws?agentHash=h&agentVersion=v&cluster=c&"
                               "containerInstance=ci");
        free(u);
}

static void test_names(void **state)
{
        assert_string_equal(acs_message_type_to_string(ACS_MSG_PAYLOAD), "PayloadMessage");
        assert_null(acs_message_type_to_string(_ACS_MSG_MAX));
        assert_string_equal(acs_exception_to_string(ACS_EXCEPTION_SERVER), "ServerException");
        assert_int_equal(acs_role_type_from_string("TaskExecution"), ACS_ROLE_TASK_EXECUTION);
        assert_int_equal(acs_role_type_from_string(NULL), _ACS_ROLE_INVALID);
        assert_string_equal(acs_role_type_to_string(ACS_ROLE_TASK_APPLICATION), "TaskApplication");
        /* Done on a zeroed or already-done message is harmless. */
        struct acs_message m = {};
        acs_message_done(&m);
        acs_message_done(&m);
        acs_message_done(NULL);
        acs_credentials_done(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_payload_example),
            cmocka_unit_test(test_payload_envelope_validation),
            cmocka_unit_test(test_payload_bad_arn_others_decode),
            cmocka_unit_test(test_payload_too_many),
            cmocka_unit_test(test_task_validation),
            cmocka_unit_test(test_task_members),
            cmocka_unit_test(test_envelope_forms),
            cmocka_unit_test(test_credentials_message),
            cmocka_unit_test(test_heartbeat_manifest_stop_ack),
            cmocka_unit_test(test_attach_eni),
            cmocka_unit_test(test_confirm_attachment),
            cmocka_unit_test(test_encoders),
            cmocka_unit_test(test_urls),
            cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests_name("test_acs_codec", tests, NULL, NULL);
}
