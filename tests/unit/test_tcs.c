/* TCS messages (§3.2, §3.3): which tasks carry health, the PublishHealthRequest and
 * PublishInstanceStatusRequest shapes, and the per-frame signature block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecs/jsonutil.h"
#include "ecs/macro.h"
#include "ecs/metrics.h"
#include "ecs/sigv4.h"
#include "ecs/task.h"
#include "ecs/tcs.h"

#define T0 1700000000123456ULL

/* A running task "arn:…/<id>" with two containers: "web" health-checked (status h), "side"
 * not. */
static struct ecs_task *mk(const char *id, int h)
{
        struct ecs_task *t = ecs_task_new();

        assert_non_null(t);
        assert_true(asprintf(&t->arn, "arn:aws:ecs:us-west-2:1:task/c/%s", id) > 0);
        t->cluster_arn = strdup("arn:aws:ecs:us-west-2:1:cluster/c");
        t->family = strdup("web");
        t->version = strdup("3");
        t->desired_status = TASK_STATUS_RUNNING;
        t->known_status = TASK_STATUS_RUNNING;
        t->containers = calloc(2, sizeof(*t->containers));
        t->n_containers = 2;
        t->containers[0].name = strdup("web");
        t->containers[0].health_check_docker = true;
        t->containers[0].health_status = h;
        t->containers[0].health_since = T0;
        t->containers[1].name = strdup("side");
        t->containers[1].health_status = 1; /* not checked: never published */
        return t;
}

static void test_task_has_health(void **state)
{
        (void)state;
        struct ecs_task *t = mk("a", 1);

        assert_true(tcs_task_has_health(t));
        t->desired_status = TASK_STATUS_STOPPED;
        assert_false(tcs_task_has_health(t));
        t->desired_status = TASK_STATUS_RUNNING;
        t->known_status = TASK_STATUS_STOPPED;
        assert_false(tcs_task_has_health(t));
        t->known_status = TASK_STATUS_RUNNING;
        t->containers[0].health_check_docker = false;
        assert_false(tcs_task_has_health(t));
        ecs_task_unref(t);
}

static void test_encode_health(void **state)
{
        (void)state;
        struct ecs_task *ts[2] = {mk("a", 1), mk("b", 2)};
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_object *env = NULL;

        assert_int_equal(tcs_encode_health("c", "arn:inst", "m-1", ts, 2, true, T0, &text), 0);
        assert_int_equal(json_parse(text, strlen(text), &env), 0);
        assert_string_equal(json_get_string(env, "type", NULL), "PublishHealthRequest");
        json_object *msg = json_get_object(env, "message", NULL);
        json_object *md = json_get_object(msg, "metadata", NULL);
        assert_string_equal(json_get_string(md, "cluster", NULL), "c");
        assert_string_equal(json_get_string(md, "containerInstance", NULL), "arn:inst");
        assert_string_equal(json_get_string(md, "messageId", NULL), "m-1");
        assert_true(json_get_bool(md, "fin", false, NULL));
        /* Epoch seconds with milliseconds, as a number. */
        assert_non_null(strstr(text, "\"timestamp\":1700000000.123"));
        json_object *tasks = json_get_array(msg, "tasks", NULL);
        assert_int_equal(json_object_array_length(tasks), 2);
        static const char *const want[] = {"HEALTHY", "UNHEALTHY"};
        for (size_t i = 0; i < 2; i++) {
                json_object *th = json_object_array_get_idx(tasks, i);
                assert_string_equal(json_get_string(th, "taskArn", NULL), ts[i]->arn);
                assert_string_equal(json_get_string(th, "taskDefinitionFamily", NULL), "web");
                assert_string_equal(json_get_string(th, "taskDefinitionVersion", NULL), "3");
                json_object *cs = json_get_array(th, "containers", NULL);
                /* Only the health-checked container. */
                assert_int_equal(json_object_array_length(cs), 1);
                json_object *ch = json_object_array_get_idx(cs, 0);
                assert_string_equal(json_get_string(ch, "containerName", NULL), "web");
                assert_string_equal(json_get_string(ch, "healthStatus", NULL), want[i]);
                assert_true(json_get_double(ch, "statusSince", 0, NULL) > 1.7e9);
        }
        free(TAKE_PTR(text));
        assert_int_equal(tcs_encode_health("c", "arn:inst", "m-1", ts, 1, false, T0, &text), 0);
        assert_non_null(strstr(text, "\"fin\":false"));
        /* More than a request may carry is refused; the caller splits. */
        struct ecs_task *many[TCS_TASKS_PER_REQUEST + 1];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = ts[0];
        char *none = NULL;
        assert_int_equal(
            tcs_encode_health("c", "arn:inst", "m", many, ELEMENTSOF(many), true, T0, &none),
            -E2BIG);
        assert_null(none);
        ecs_task_unref(ts[0]);
        ecs_task_unref(ts[1]);
}

static void test_encode_instance_status(void **state)
{
        (void)state;
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_object *env = NULL;

        assert_int_equal(tcs_encode_instance_status("c", "arn:inst", "r-1", "IMPAIRED", T0,
                                                    T0 - 5000000, T0, &text),
                         0);
        assert_int_equal(json_parse(text, strlen(text), &env), 0);
        assert_string_equal(json_get_string(env, "type", NULL), "PublishInstanceStatusRequest");
        json_object *msg = json_get_object(env, "message", NULL);
        assert_string_equal(
            json_get_string(json_get_object(msg, "metadata", NULL), "requestId", NULL), "r-1");
        json_object *st = json_object_array_get_idx(json_get_array(msg, "statuses", NULL), 0);
        assert_string_equal(json_get_string(st, "type", NULL), "ContainerRuntime");
        assert_string_equal(json_get_string(st, "status", NULL), "IMPAIRED");
        assert_non_null(strstr(text, "\"lastStatusChange\":1699999995.123"));
}

static void test_sign_frame(void **state)
{
        (void)state;
        struct aws_credentials c = {.access_key_id = (char *)"AKIDEXAMPLE",
                                    .secret_access_key = (char *)"secret",
                                    .session_token = (char *)"tok"};
        const char *payload = "{\"type\":\"PublishHealthRequest\",\"message\":{}}";
        const char *url = "ws://127.0.0.1:8080/ws?cluster=c";
        _cleanup_free_ char *frame = NULL, *frame2 = NULL;

        assert_int_equal(tcs_sign_frame(url, "us-west-2", &c, T0, payload, &frame), 0);
        /* Header lines sorted by name, a blank line, then the payload untouched. */
        const char *order[] = {("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/"
                                "us-west-2/ecs/aws4_request"),
                               "\r\nHost: 127.0.0.1:8080\r\n",
                               "\r\nX-Amz-Date: 20231114T221320Z\r\n",
                               "\r\nX-Amz-Security-Token: tok\r\n\r\n"};
        const char *at = frame;
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                const char *p = strstr(frame, order[i]);
                assert_non_null(p);
                assert_true(p >= at);
                at = p;
        }
        assert_int_equal(strncmp(frame, "Authorization: ", 15), 0);
        const char *body = strstr(frame, "\r\n\r\n");
        assert_string_equal(body + 4, payload);

        /* The signature covers the payload (and ws:// signs as http://). */
        char **h = NULL;
        struct sigv4_params sp = {.method = "GET",
                                  .url = "http://127.0.0.1:8080/ws?cluster=c",
                                  .body = payload,
                                  .body_len = strlen(payload),
                                  .region = "us-west-2",
                                  .service = "ecs",
                                  .time_usec = T0,
                                  .normalize_path = true,
                                  .add_host_header = true};
        assert_int_equal(sigv4_sign(&sp, &c, &h), 0);
        bool found = false;
        strv_foreach (x, h)
                if (strncmp(*x, "Authorization: ", 15) == 0)
                        found = strstr(frame, *x) != NULL;
        assert_true(found);
        strv_free(h);
        assert_int_equal(tcs_sign_frame(url, "us-west-2", &c, T0, "{}", &frame2), 0);
        size_t auth_len = (size_t)(strchr(frame, '\r') - frame);
        assert_memory_not_equal(frame, frame2, auth_len);
        assert_int_equal(tcs_sign_frame(NULL, "us-west-2", &c, T0, payload, &frame2), -EINVAL);
}

static json_object *task_metrics(unsigned n, size_t pad)
{
        json_object *arr = json_object_new_array();
        char *blob = calloc(1, pad + 1);
        assert_non_null(blob);
        memset(blob, 'x', pad);
        for (unsigned i = 0; i < n; i++) {
                json_object *t = json_object_new_object();
                char arn[64];
                snprintf(arn, sizeof(arn), "arn:aws:ecs:us-west-2:1:task/c/%u", i);
                assert_int_equal(json_add_string(t, "taskArn", arn), 0);
                assert_int_equal(json_add_string(t, "pad", blob), 0);
                assert_int_equal(json_append(arr, t), 0);
        }
        free(blob);
        return arr;
}

static void test_metrics_split(void **state)
{
        (void)state;
        /* 150 small tasks: 15 requests of 10. */
        json_object *arr = task_metrics(150, 10);
        size_t frames = 0;
        for (size_t i = 0; i < 150; frames++) {
                size_t k = tcs_metrics_batch(arr, i, TCS_METRICS_MAX_BYTES);
                assert_int_equal(k, 10);
                i += k;
        }
        assert_int_equal(frames, 15);
        json_object_put(arr);
        /* 300 KiB tasks: three fit in 1 MiB, and a task over the limit goes alone. */
        arr = task_metrics(7, 300 * 1024);
        assert_int_equal(tcs_metrics_batch(arr, 0, TCS_METRICS_MAX_BYTES), 3);
        assert_int_equal(tcs_metrics_batch(arr, 6, TCS_METRICS_MAX_BYTES), 1);
        assert_int_equal(tcs_metrics_batch(arr, 0, 1000), 1);
        assert_int_equal(tcs_metrics_batch(arr, 7, TCS_METRICS_MAX_BYTES), 0);
        json_object_put(arr);
}

static void test_encode_metrics(void **state)
{
        (void)state;
        json_object *arr = task_metrics(3, 1);
        char *text = NULL;

        assert_int_equal(tcs_encode_metrics("c", "arn:i", "id-1", arr, 1, 2, false, true,
                                            1700000000123000ULL, &text),
                         0);
        assert_non_null(strstr(text, "\"type\":\"PublishMetricsRequest\""));
        assert_non_null(strstr(text, "\"fin\":true"));
        assert_non_null(strstr(text, "\"idle\":false"));
        assert_non_null(strstr(text, "\"messageId\":\"id-1\""));
        assert_null(strstr(text, "task/c/0"));
        assert_non_null(strstr(text, "task/c/1"));
        assert_non_null(strstr(text, "task/c/2"));
        assert_non_null(strstr(text, "\"timestamp\":1700000000.123"));
        free(text);
        assert_int_equal(tcs_encode_metrics("c", "arn:i", "id-2", arr, 0, 0, true, true,
                                            1700000000123000ULL, &text),
                         0);
        assert_non_null(strstr(text, "\"idle\":true"));
        assert_null(strstr(text, "taskMetrics"));
        free(text);
        json_object_put(arr);
}

static struct metrics_input sample_at(uint64_t t_sec, uint64_t cpu_ns)
{
        return (struct metrics_input){
            .time_usec = t_sec * 1000000ULL,
            .cpu_ns = cpu_ns,
            .memory_bytes = 1024 * 1024,
            .io_read_bytes = 100,
            .io_write_bytes = 4096 * t_sec,
            .has_net = true,
        };
}

static void test_encode_container_metrics(void **state)
{
        (void)state;
        struct metrics_ring r = {0};
        struct metrics_window w;
        json_object *o = NULL;
        struct metrics_input i = sample_at(1, 0);
        metrics_ring_add(&r, &i, 1);
        i = sample_at(2, 1000000000ULL);
        i.io_write_bytes = UINT64_MAX; /* beyond int64: base and overflow */
        metrics_ring_add(&r, &i, 1);
        assert_int_equal(metrics_window_compute(&r, &w), 0);
        assert_int_equal(tcs_encode_container_metrics("web", &w, &o), 0);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        assert_non_null(strstr(s, "\"containerName\":\"web\""));
        assert_non_null(strstr(s, "\"cpuStatsSet\":{\"max\":100"));
        assert_non_null(strstr(s, "\"sampleCount\":1"));
        assert_non_null(strstr(s, "\"writeSizeBytes\":{\"max\":9223372036854775807,\"min\":4096,"
                                  "\"overflowMax\":1,\"overflowMin\":0"));
        assert_non_null(strstr(s, "\"networkStatsSet\":{\"rxBytes\":"));
        assert_non_null(strstr(s, "\"rxBytesPerSecond\":{"));
        json_object_put(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_task_has_health),
            cmocka_unit_test(test_encode_health),
            cmocka_unit_test(test_encode_instance_status),
            cmocka_unit_test(test_sign_frame),
            cmocka_unit_test(test_metrics_split),
            cmocka_unit_test(test_encode_metrics),
            cmocka_unit_test(test_encode_container_metrics),
        };
        return cmocka_run_group_tests_name("test_tcs", tests, NULL, NULL);
}
