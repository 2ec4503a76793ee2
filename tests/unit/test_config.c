/* Unit tests for the config module: ecs.config syntax, precedence, every value type, clamps,
 * error messages and the dump. Nothing here reads the real environment or /etc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "ecs/config.h"
#include "ecs/log.h"

#define SEC    1000000ULL
#define MSEC   1000ULL
#define MINUTE (60 * SEC)
#define HOUR   (60 * MINUTE)

static char *write_tmp(const char *content)
{
        char path[] = "/tmp/test_config.XXXXXX";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        return strdup(path);
}

/* Builds from file text and an environment, with host files that do not exist so the
 * defaults that depend on the host are deterministic. */
static int build_ex(const char *file, char **envp, const char *port_range, const char *os_release,
                    struct ecs_config *c, struct ecs_config_error *err)
{
        struct ecs_config_kv *pairs = NULL;
        size_t n = 0;
        int r;

        if (file)
                assert_int_equal(ecs_config_parse_file_data(file, strlen(file), &pairs, &n), 0);
        r = ecs_config_build(
            &(struct ecs_config_input){
                .file_pairs = pairs,
                .n_file_pairs = n,
                .file_label = "test.config",
                .envp = envp,
                .port_range_path = port_range ?: "/nonexistent/ip_local_port_range",
                .os_release_path = os_release ?: "/nonexistent/os-release",
            },
            c, err);
        ecs_config_kv_free_many(pairs, n);
        return r;
}

static int build(const char *file, char **envp, struct ecs_config *c, struct ecs_config_error *err)
{
        return build_ex(file, envp, NULL, NULL, c, err);
}

/* One "KEY=VALUE" in the environment, expected to load. */
static void env_ok(const char *kv, struct ecs_config *c)
{
        char *envp[] = {(char *)kv, NULL};
        struct ecs_config_error err;
        int r = build(NULL, envp, c, &err);

        if (r < 0)
                fail_msg("%s: %s", kv, err.message);
}

/* One "KEY=VALUE" in the environment, expected to be rejected with the key named. */
static void env_bad(const char *kv, const char *expect_in_message)
{
        char *envp[] = {(char *)kv, NULL};
        struct ecs_config c = {.cluster = (char *)"untouched"};
        struct ecs_config_error err;
        char key[128];
        size_t klen = strcspn(kv, "=");

        memcpy(key, kv, klen);
        key[klen] = 0;
        if (build(NULL, envp, &c, &err) != -EINVAL)
                fail_msg("%s was accepted", kv);
        /* ret is written only on success. */
        assert_string_equal(c.cluster, "untouched");
        assert_non_null(err.key);
        assert_string_equal(err.key, key);
        assert_non_null(strstr(err.message, key));
        if (expect_in_message && !strstr(err.message, expect_in_message))
                fail_msg("message for %s lacks \"%s\": %s", kv, expect_in_message, err.message);
}

static void test_defaults(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        char *envp[] = {NULL};

        assert_int_equal(build(NULL, envp, &c, &err), 0);
        assert_string_equal(c.cluster, "default");
        assert_null(c.aws_region);
        assert_null(c.backend_host);
        assert_string_equal(c.docker_host, "unix:///var/run/docker.sock");
        assert_string_equal(c.docker_socket_path, "/var/run/docker.sock");
        assert_null(c.ec2_metadata_endpoint);
        assert_false(c.external);
        assert_null(c.aws_access_key_id);
        assert_null(c.aws_secret_access_key);
        assert_null(c.aws_session_token);
        assert_string_equal(c.alternate_credential_profile, "default");
        assert_string_equal(c.data_dir, "/var/lib/ecs/data");
        assert_true(c.checkpoint);
        assert_null(c.host_data_dir);
        assert_int_equal(c.log_level, LOG_LEVEL_INFO);
        assert_null(c.log_file);
        assert_string_equal(c.audit_log_file, "/var/log/ecs/audit.log");
        assert_false(c.audit_log_disabled);
        assert_int_equal(c.reserved_memory_mib, 0);
        assert_int_equal(c.n_reserved_ports, 5);
        assert_int_equal(c.reserved_ports[0], 22);
        assert_int_equal(c.reserved_ports[1], 2375);
        assert_int_equal(c.reserved_ports[2], 2376);
        assert_int_equal(c.reserved_ports[3], 51678);
        assert_int_equal(c.reserved_ports[4], 51679);
        assert_int_equal(c.n_reserved_ports_udp, 0);
        assert_int_equal(c.dynamic_host_port_first, 49153);
        assert_int_equal(c.dynamic_host_port_last, 65535);
        assert_int_equal(c.container_stop_timeout_usec, 30 * SEC);
        assert_int_equal(c.container_start_timeout_usec, 3 * MINUTE);
        assert_int_equal(c.container_create_timeout_usec, 4 * MINUTE);
        assert_int_equal(c.image_pull_timeout_usec, 2 * HOUR);
        assert_int_equal(c.image_pull_inactivity_timeout_usec, MINUTE);
        assert_int_equal(c.manifest_pull_timeout_usec, MINUTE);
        assert_int_equal(c.image_pull_behavior, ECS_IMAGE_PULL_BEHAVIOR_DEFAULT);
        assert_int_equal(c.n_instance_attributes, 0);
        assert_int_equal(c.n_container_instance_tags, 0);
        assert_non_null(c.available_logging_drivers);
        assert_string_equal(c.available_logging_drivers[0], "json-file");
        assert_string_equal(c.available_logging_drivers[1], "none");
        assert_null(c.available_logging_drivers[2]);
        assert_false(c.privileged_disabled);
        assert_false(c.task_iam_role);
        assert_non_null(c.volume_plugin_capabilities);
        assert_null(c.volume_plugin_capabilities[0]);
        assert_string_equal(c.detailed_os_family, "LINUX");
        assert_false(c.task_eni);
        assert_non_null(c.awsvpc_additional_local_routes);
        assert_null(c.awsvpc_additional_local_routes[0]);
        assert_true(c.task_cpu_mem_limit);
        assert_false(c.task_cpu_mem_limit_explicit);
        assert_string_equal(c.cgroup_path, "/sys/fs/cgroup");
        assert_int_equal(c.cgroup_cpu_period_usec, 100 * MSEC);
        assert_int_equal(c.task_pids_limit, 0);
        assert_int_equal(c.task_cleanup_wait_usec, 3 * HOUR);
        assert_int_equal(c.task_cleanup_wait_jitter_usec, 0);
        assert_int_equal(c.image_cleanup_interval_usec, 30 * MINUTE);
        assert_int_equal(c.image_minimum_cleanup_age_usec, HOUR);
        assert_int_equal(c.num_images_delete_per_cycle, 5);
        assert_int_equal(c.task_metadata_rps_steady, 40);
        assert_int_equal(c.task_metadata_rps_burst, 60);
        assert_true(c.exclude_ipv6_portbinding);
        assert_string_equal(c.healthcheck_host, "localhost");
        assert_false(c.updates_enabled);
        assert_int_equal(c.engine_auth_type, ECS_ENGINE_AUTH_TYPE_NONE);
        assert_null(c.engine_auth_data);
        assert_int_equal(c.n_pause_labels, 0);
        ecs_config_done(&c);
        assert_null(c.cluster);
        ecs_config_done(&c); /* twice is harmless */
}

static void test_host_derived_defaults(void **state)
{
        _cleanup_free_ char *range = write_tmp("32768\t60999\n");
        _cleanup_free_ char *osr = write_tmp("NAME=\"Amazon Linux\"\nID=\"amzn\"\n"
                                             "ID_LIKE=\"centos rhel fedora\"\n"
                                             "VERSION_ID='2023'\n");
        _cleanup_free_ char *osr_partial = write_tmp("ID=debian\n");
        _cleanup_free_ char *bad_range = write_tmp("60999 32768\n");
        struct ecs_config c;
        struct ecs_config_error err;
        char *envp[] = {NULL};
        char *fam = NULL;

        assert_int_equal(build_ex(NULL, envp, range, osr, &c, &err), 0);
        assert_int_equal(c.dynamic_host_port_first, 32768);
        assert_int_equal(c.dynamic_host_port_last, 60999);
        assert_string_equal(c.detailed_os_family, "amzn_2023");
        ecs_config_done(&c);

        /* Unusable host files fall back. */
        assert_int_equal(build_ex(NULL, envp, bad_range, osr_partial, &c, &err), 0);
        assert_int_equal(c.dynamic_host_port_first, 49153);
        assert_int_equal(c.dynamic_host_port_last, 65535);
        assert_string_equal(c.detailed_os_family, "LINUX");
        ecs_config_done(&c);

        assert_int_equal(ecs_config_read_os_family(osr_partial, &fam), -ENODATA);
        assert_int_equal(ecs_config_read_os_family(osr, &fam), 0);
        assert_string_equal(fam, "amzn_2023");
        free(fam);

        /* The setting wins over the host. */
        char *envp2[] = {"ECS_DETAILED_OS_FAMILY=custom_1", "ECS_DYNAMIC_HOST_PORT_RANGE=100-200",
                         NULL};
        assert_int_equal(build_ex(NULL, envp2, range, osr, &c, &err), 0);
        assert_string_equal(c.detailed_os_family, "custom_1");
        assert_int_equal(c.dynamic_host_port_first, 100);
        assert_int_equal(c.dynamic_host_port_last, 200);
        ecs_config_done(&c);

        unlink(range);
        unlink(osr);
        unlink(osr_partial);
        unlink(bad_range);
}

static void test_file_syntax(void **state)
{
        const char *text = "  A=b=c  \r\n"
                           "\n"
                           "   \n"
                           "no equals sign here\n"
                           "# comment without an equals sign\n"
                           "#B=commented\n"
                           "C =spaced key\n"
                           "D= spaced value \t\n"
                           "E=\"quoted\"\n"
                           "=novalue\n"
                           "F=\n"
                           "G=last line without newline";
        struct ecs_config_kv *kv = NULL;
        size_t n = 0;

        assert_int_equal(ecs_config_parse_file_data(text, strlen(text), &kv, &n), 0);
        assert_int_equal(n, 7);
        assert_string_equal(kv[0].key, "A");
        assert_string_equal(kv[0].value, "b=c"); /* split at the first '=' only */
        assert_string_equal(kv[1].key, "#B");    /* no comment syntax */
        assert_string_equal(kv[1].value, "commented");
        assert_string_equal(kv[2].key, "C "); /* the key is not trimmed */
        assert_string_equal(kv[2].value, "spaced key");
        assert_string_equal(kv[3].key, "D");
        assert_string_equal(kv[3].value, " spaced value"); /* only the line is trimmed */
        assert_string_equal(kv[4].key, "E");
        assert_string_equal(kv[4].value, "\"quoted\""); /* quotes are kept */
        assert_string_equal(kv[5].key, "F");
        assert_string_equal(kv[5].value, "");
        assert_string_equal(kv[6].key, "G");
        assert_string_equal(kv[6].value, "last line without newline");
        ecs_config_kv_free_many(kv, n);

        /* Go's TrimSpace also strips Unicode blanks such as NO-BREAK SPACE. */
        kv = NULL;
        n = 0;
        const char *nbsp = "\xc2\xa0H=x\xc2\xa0\xe2\x80\x83\n";
        assert_int_equal(ecs_config_parse_file_data(nbsp, strlen(nbsp), &kv, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(kv[0].key, "H");
        assert_string_equal(kv[0].value, "x");
        ecs_config_kv_free_many(kv, n);

        /* A NUL byte means this is not an ecs.config. */
        kv = NULL;
        n = 0;
        assert_int_equal(ecs_config_parse_file_data("A=b\0c\n", 6, &kv, &n), -EBADMSG);
        ecs_config_kv_free_many(kv, n);
}

static void test_file_applied(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        char *envp[] = {NULL};

        /* Commented-out and mis-spaced keys are ignored, not errors; later lines win. */
        assert_int_equal(build("ECS_CLUSTER=first\n"
                               "#ECS_RESERVED_MEMORY=abc\n"
                               "# ECS_RESERVED_MEMORY is commented out\n"
                               "ECS_RESERVED_PORTS =[1]\n"
                               "ECS_ALTERNATE_CREDENTIAL_PROFILE=a=b\n"
                               "UNKNOWN_KEY=whatever\n"
                               "ECS_CLUSTER=second\n",
                               envp, &c, &err),
                         0);
        assert_string_equal(c.cluster, "second");
        assert_int_equal(c.reserved_memory_mib, 0);
        assert_int_equal(c.n_reserved_ports, 5);
        assert_string_equal(c.alternate_credential_profile, "a=b");
        ecs_config_done(&c);

        /* Quotes are not removed, so a quoted cluster name is rejected with a hint. */
        assert_int_equal(build("ECS_CLUSTER=\"my-cluster\"\n", envp, &c, &err), -EINVAL);
        assert_string_equal(err.key, "ECS_CLUSTER");
        assert_non_null(strstr(err.message, "\"\\\"my-cluster\\\"\""));
        assert_non_null(strstr(err.message, "does not remove quotes"));
        assert_non_null(strstr(err.message, "test.config"));

        /* Plain strings keep their quotes. */
        assert_int_equal(build("ECS_ALTERNATE_CREDENTIAL_PROFILE='p'\n", envp, &c, &err), 0);
        assert_string_equal(c.alternate_credential_profile, "'p'");
        ecs_config_done(&c);
}

static void test_env_overrides_file(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        const char *file = "ECS_CLUSTER=from-file\n"
                           "ECS_LOGLEVEL=debug\n"
                           "AWS_DEFAULT_REGION=eu-west-1\n"
                           "ECS_RESERVED_MEMORY=100\n";

        char *envp[] = {"ECS_CLUSTER=from-env", "PATH=/usr/bin", "ECS_LOGLEVEL=", "NOEQUALS", NULL};
        assert_int_equal(build(file, envp, &c, &err), 0);
        assert_string_equal(c.cluster, "from-env");
        /* Empty is unset: the environment does not blank out the file. */
        assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
        assert_string_equal(c.aws_region, "eu-west-1");
        assert_int_equal(c.reserved_memory_mib, 100);
        ecs_config_done(&c);

        /* AWS_REGION is a fallback name, but the environment still beats the file. */
        char *envp2[] = {"AWS_REGION=us-west-2", NULL};
        assert_int_equal(build(file, envp2, &c, &err), 0);
        assert_string_equal(c.aws_region, "us-west-2");
        ecs_config_done(&c);

        char *envp3[] = {"AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=us-east-1", NULL};
        assert_int_equal(build(NULL, envp3, &c, &err), 0);
        assert_string_equal(c.aws_region, "us-east-1");
        ecs_config_done(&c);

        char *envp4[] = {NULL};
        assert_int_equal(build("AWS_REGION=ap-south-1\n", envp4, &c, &err), 0);
        assert_string_equal(c.aws_region, "ap-south-1");
        ecs_config_done(&c);

        /* The environment's value wins, so a bad value in the file behind it is never parsed. */
        char *envp5[] = {"ECS_RESERVED_MEMORY=7", NULL};
        assert_int_equal(build("ECS_RESERVED_MEMORY=abc\n", envp5, &c, &err), 0);
        assert_int_equal(c.reserved_memory_mib, 7);
        ecs_config_done(&c);
}

static void test_bools(void **state)
{
        static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
        static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
        struct ecs_config c;
        char buf[64];
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                snprintf(buf, sizeof(buf), "ECS_DISABLE_PRIVILEGED=%s", yes[i]);
                env_ok(buf, &c);
                assert_true(c.privileged_disabled);
                ecs_config_done(&c);
                snprintf(buf, sizeof(buf), "ECS_EXCLUDE_IPV6_PORTBINDING=%s", no[i]);
                env_ok(buf, &c);
                assert_false(c.exclude_ipv6_portbinding);
                ecs_config_done(&c);
        }
        assert_int_equal(ecs_parse_go_bool("yes", &b), -EINVAL);
        assert_int_equal(ecs_parse_go_bool("tRUE", &b), -EINVAL);
        env_bad("ECS_DISABLE_PRIVILEGED=yes", "not a boolean");
        env_bad("ECS_CHECKPOINT=tRuE", "\"tRuE\"");
        env_bad("ECS_ENABLE_TASK_IAM_ROLE= true", "not a boolean");
        env_bad("ECS_EXTERNAL=2", NULL);

        env_ok("ECS_CHECKPOINT=false", &c);
        assert_false(c.checkpoint);
        ecs_config_done(&c);
}

static void test_duration_syntax(void **state)
{
        static const struct {
                const char *s;
                uint64_t usec;
        } good[] = {
            {"0", 0},
            {"+0", 0},
            {"0s", 0},
            {"300ms", 300 * MSEC},
            {"1.5h", 90 * MINUTE},
            {"2h45m", 2 * HOUR + 45 * MINUTE},
            {"1h30m", 90 * MINUTE},
            {"90s", 90 * SEC},
            {"1.5s", 1500 * MSEC},
            {".5s", 500 * MSEC},
            {"1.s", SEC},
            {"+5s", 5 * SEC},
            {"10us", 10},
            {"10\xc2\xb5s", 10},
            {"10\xce\xbcs", 10},
            {"2000ns", 2},
            {"1m0.5s", MINUTE + 500 * MSEC},
            {"1h1m1s1ms1us", HOUR + MINUTE + SEC + MSEC + 1},
        };
        static const char *const bad[] = {"",   "10", "5x",   ".s",    "1..5s", "1h 30m",
                                          "s",  "-",  "+",    "1h-1m", "1 s",   "1S",
                                          "1H", "ms", "1e3s", "0x10s"};
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (ecs_parse_go_duration(good[i].s, &v) < 0)
                        fail_msg("\"%s\" rejected", good[i].s);
                if (v != good[i].usec)
                        fail_msg("\"%s\" = %llu, expected %llu", good[i].s, (unsigned long long)v,
                                 (unsigned long long)good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (ecs_parse_go_duration(bad[i], &v) != -EINVAL)
                        fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(ecs_parse_go_duration("-1s", &v), -ERANGE);
        assert_int_equal(ecs_parse_go_duration("-0", &v), -ERANGE);
        assert_int_equal(ecs_parse_go_duration("9999999999h", &v), -ERANGE);
        assert_int_equal(ecs_parse_go_duration("2562047h", &v), 0);       /* < 2^63 ns */
        assert_int_equal(ecs_parse_go_duration("2562048h", &v), -ERANGE); /* > 2^63 ns */
}

static void test_duration_settings(void **state)
{
        struct ecs_config c;

        env_ok("ECS_CONTAINER_STOP_TIMEOUT=1h30m", &c);
        assert_int_equal(c.container_stop_timeout_usec, 90 * MINUTE);
        ecs_config_done(&c);
        env_ok("ECS_IMAGE_PULL_TIMEOUT=1.5s", &c);
        assert_int_equal(c.image_pull_timeout_usec, 1500 * MSEC);
        ecs_config_done(&c);
        env_ok("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=10m", &c);
        assert_int_equal(c.task_cleanup_wait_jitter_usec, 10 * MINUTE);
        ecs_config_done(&c);
        env_ok("ECS_CGROUP_CPU_PERIOD=10ms", &c);
        assert_int_equal(c.cgroup_cpu_period_usec, 10 * MSEC);
        ecs_config_done(&c);

        /* "0" is a valid duration; like the official agent it selects the default. */
        env_ok("ECS_CONTAINER_STOP_TIMEOUT=0", &c);
        assert_int_equal(c.container_stop_timeout_usec, 30 * SEC);
        ecs_config_done(&c);
        env_ok("ECS_IMAGE_MINIMUM_CLEANUP_AGE=0s", &c);
        assert_int_equal(c.image_minimum_cleanup_age_usec, HOUR);
        ecs_config_done(&c);

        env_bad("ECS_CONTAINER_STOP_TIMEOUT=10", "not a duration");
        env_bad("ECS_CONTAINER_START_TIMEOUT=-1s", "negative");
        env_bad("ECS_IMAGE_PULL_TIMEOUT=5x", "\"5x\"");
        env_bad("ECS_IMAGE_CLEANUP_INTERVAL=forever", NULL);
        env_bad("ECS_CGROUP_CPU_PERIOD=1e3ms", NULL);
}

static void test_clamps(void **state)
{
        static const struct {
                const char *kv;
                size_t offset;
                uint64_t expect;
        } cases[] = {
            /* Below the minimum: raised to it. */
            {"ECS_CONTAINER_STOP_TIMEOUT=500ms",
             offsetof(struct ecs_config, container_stop_timeout_usec), SEC},
            {"ECS_CONTAINER_START_TIMEOUT=10s",
             offsetof(struct ecs_config, container_start_timeout_usec), 45 * SEC},
            {"ECS_CONTAINER_CREATE_TIMEOUT=30s",
             offsetof(struct ecs_config, container_create_timeout_usec), MINUTE},
            {"ECS_IMAGE_PULL_INACTIVITY_TIMEOUT=5s",
             offsetof(struct ecs_config, image_pull_inactivity_timeout_usec), MINUTE},
            {"ECS_MANIFEST_PULL_TIMEOUT=1s",
             offsetof(struct ecs_config, manifest_pull_timeout_usec), 30 * SEC},
            {"ECS_POLLING_METRICS_WAIT_DURATION=1s",
             offsetof(struct ecs_config, polling_metrics_wait_usec), 5 * SEC},
            /* Above the maximum: lowered to it. */
            {"ECS_POLLING_METRICS_WAIT_DURATION=1m",
             offsetof(struct ecs_config, polling_metrics_wait_usec), 20 * SEC},
            {"ECS_POLLING_METRICS_WAIT_DURATION=15s",
             offsetof(struct ecs_config, polling_metrics_wait_usec), 15 * SEC},
            {"ECS_POLL_METRICS=true", offsetof(struct ecs_config, polling_metrics_wait_usec),
             10 * SEC},
            /* Below the minimum: reset to the default, as the official agent does. */
            {"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=500ms",
             offsetof(struct ecs_config, task_cleanup_wait_usec), 3 * HOUR},
            {"ECS_IMAGE_CLEANUP_INTERVAL=1m",
             offsetof(struct ecs_config, image_cleanup_interval_usec), 30 * MINUTE},
            {"ECS_CGROUP_CPU_PERIOD=5ms", offsetof(struct ecs_config, cgroup_cpu_period_usec),
             100 * MSEC},
            {"ECS_CGROUP_CPU_PERIOD=200ms", offsetof(struct ecs_config, cgroup_cpu_period_usec),
             100 * MSEC},
            /* At the bound: kept. */
            {"ECS_CONTAINER_STOP_TIMEOUT=1s",
             offsetof(struct ecs_config, container_stop_timeout_usec), SEC},
            {"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s",
             offsetof(struct ecs_config, task_cleanup_wait_usec), SEC},
            {"ECS_CGROUP_CPU_PERIOD=8ms", offsetof(struct ecs_config, cgroup_cpu_period_usec),
             8 * MSEC},
        };
        struct ecs_config c;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t got;

                env_ok(cases[i].kv, &c);
                got = *(uint64_t *)((char *)&c + cases[i].offset);
                if (got != cases[i].expect)
                        fail_msg("%s gave %llu, expected %llu", cases[i].kv,
                                 (unsigned long long)got, (unsigned long long)cases[i].expect);
                ecs_config_done(&c);
        }

        env_ok("ECS_NUM_IMAGES_DELETE_PER_CYCLE=0", &c);
        assert_int_equal(c.num_images_delete_per_cycle, 5);
        ecs_config_done(&c);
        env_ok("ECS_NUM_IMAGES_DELETE_PER_CYCLE=1", &c);
        assert_int_equal(c.num_images_delete_per_cycle, 1);
        ecs_config_done(&c);
}

static void test_integers(void **state)
{
        struct ecs_config c;

        env_ok("ECS_RESERVED_MEMORY=65535", &c);
        assert_int_equal(c.reserved_memory_mib, 65535);
        ecs_config_done(&c);
        env_ok("ECS_TASK_PIDS_LIMIT=4194304", &c);
        assert_int_equal(c.task_pids_limit, 4194304);
        ecs_config_done(&c);

        env_bad("ECS_RESERVED_MEMORY=abc", "not a non-negative integer");
        env_bad("ECS_RESERVED_MEMORY=-1", "not a non-negative integer");
        env_bad("ECS_RESERVED_MEMORY=65536", "out of range");
        env_bad("ECS_RESERVED_MEMORY=99999999999999999999999", NULL);
        env_bad("ECS_RESERVED_MEMORY=1.5", NULL);
        env_bad("ECS_TASK_PIDS_LIMIT=0", "out of range 1..4194304");
        env_bad("ECS_TASK_PIDS_LIMIT=4194305", "out of range");
        env_bad("ECS_NUM_IMAGES_DELETE_PER_CYCLE=-1", NULL);
}

static void test_ports(void **state)
{
        struct ecs_config c;

        env_ok("ECS_RESERVED_PORTS=[80, 443, 80]", &c);
        assert_int_equal(c.n_reserved_ports, 2);
        assert_int_equal(c.reserved_ports[0], 80);
        assert_int_equal(c.reserved_ports[1], 443);
        ecs_config_done(&c);

        env_ok("ECS_RESERVED_PORTS_UDP=[53,65535,1]", &c);
        assert_int_equal(c.n_reserved_ports_udp, 3);
        assert_int_equal(c.reserved_ports_udp[1], 65535);
        ecs_config_done(&c);

        /* Official merge semantics: an empty list is the default list. */
        env_ok("ECS_RESERVED_PORTS=[]", &c);
        assert_int_equal(c.n_reserved_ports, 5);
        ecs_config_done(&c);
        env_ok("ECS_RESERVED_PORTS_UDP=[]", &c);
        assert_int_equal(c.n_reserved_ports_udp, 0);
        ecs_config_done(&c);

        env_bad("ECS_RESERVED_PORTS=[0]", "out of range");
        env_bad("ECS_RESERVED_PORTS=[65536]", "out of range");
        env_bad("ECS_RESERVED_PORTS=[-22]", "out of range");
        env_bad("ECS_RESERVED_PORTS=[22.5]", "not an integer");
        env_bad("ECS_RESERVED_PORTS=[22.0]", "not an integer");
        env_bad("ECS_RESERVED_PORTS=[\"22\"]", "not an integer");
        env_bad("ECS_RESERVED_PORTS={\"a\":22}", "not a JSON array");
        env_bad("ECS_RESERVED_PORTS=22", NULL);
        env_bad("ECS_RESERVED_PORTS=[22", "not valid JSON");
        env_bad("ECS_RESERVED_PORTS=[22] x", "not valid JSON");
        env_bad("ECS_RESERVED_PORTS_UDP=null", NULL);
        env_bad("ECS_RESERVED_PORTS_UDP=[99999999999999999999]", NULL);

        /* Prometheus reserves its port, once. */
        char *envp[] = {"ECS_ENABLE_PROMETHEUS_METRICS=true", NULL};
        struct ecs_config_error err;
        assert_int_equal(build(NULL, envp, &c, &err), 0);
        assert_int_equal(c.n_reserved_ports, 6);
        assert_int_equal(c.reserved_ports[5], 51680);
        ecs_config_done(&c);
        char *envp2[] = {"ECS_ENABLE_PROMETHEUS_METRICS=true", "ECS_RESERVED_PORTS=[51680]", NULL};
        assert_int_equal(build(NULL, envp2, &c, &err), 0);
        assert_int_equal(c.n_reserved_ports, 1);
        ecs_config_done(&c);
}

static void test_port_range(void **state)
{
        struct ecs_config c;

        env_ok("ECS_DYNAMIC_HOST_PORT_RANGE=1-65535", &c);
        assert_int_equal(c.dynamic_host_port_first, 1);
        assert_int_equal(c.dynamic_host_port_last, 65535);
        ecs_config_done(&c);
        env_ok("ECS_DYNAMIC_HOST_PORT_RANGE=5000-5000", &c);
        assert_int_equal(c.dynamic_host_port_first, 5000);
        ecs_config_done(&c);

        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=2000-1000", "greater than");
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=0-100", NULL);
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=1-65536", NULL);
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=a-b", NULL);
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=100", NULL);
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=100-", NULL);
        env_bad("ECS_DYNAMIC_HOST_PORT_RANGE=1-2-3", NULL);
}

static void test_logging_drivers(void **state)
{
        struct ecs_config c;

        env_ok("ECS_AVAILABLE_LOGGING_DRIVERS=[\"awslogs\",\"json-file\",\"awsfirelens\","
               "\"journald\",\"gelf\",\"fluentd\",\"splunk\",\"logentries\",\"sumologic\","
               "\"syslog\",\"none\"]",
               &c);
        assert_string_equal(c.available_logging_drivers[0], "awslogs");
        assert_string_equal(c.available_logging_drivers[10], "none");
        assert_null(c.available_logging_drivers[11]);
        ecs_config_done(&c);

        env_bad("ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\",\"bogus\"]",
                "unknown logging driver \"bogus\"");
        env_bad("ECS_AVAILABLE_LOGGING_DRIVERS=[1]", "not a string");
        env_bad("ECS_AVAILABLE_LOGGING_DRIVERS=json-file", "not valid JSON");

        env_ok("ECS_VOLUME_PLUGIN_CAPABILITIES=[\"efsAuth\"]", &c);
        assert_string_equal(c.volume_plugin_capabilities[0], "efsAuth");
        ecs_config_done(&c);
        env_bad("ECS_VOLUME_PLUGIN_CAPABILITIES=[\"a b\"]", NULL);

        env_ok("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES=[\"10.0.0.0/8\",\"fd00::/64\"]", &c);
        assert_string_equal(c.awsvpc_additional_local_routes[1], "fd00::/64");
        ecs_config_done(&c);
        env_bad("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES=[\"300.300.300.300/64\"]", "CIDR");
        env_bad("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES=[\"10.0.0.0/33\"]", "CIDR");
        env_bad("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES=[\"10.0.0.0\"]", "CIDR");
}

static char *repeat(char ch, size_t n)
{
        char *s = malloc(n + 1);

        assert_non_null(s);
        memset(s, ch, n);
        s[n] = 0;
        return s;
}

static void test_attributes_and_tags(void **state)
{
        _cleanup_free_ char *a128 = repeat('a', 128), *a129 = repeat('a', 129);
        _cleanup_free_ char *v256 = repeat('v', 256), *v257 = repeat('v', 257);
        struct ecs_config c;
        char buf[2048];

        env_ok("ECS_INSTANCE_ATTRIBUTES={\"stack\":\"prod\",\"a.b/c-d_e@f\\\\g\":\"x y\"}", &c);
        assert_int_equal(c.n_instance_attributes, 2);
        assert_string_equal(c.instance_attributes[0].key, "stack");
        assert_string_equal(c.instance_attributes[0].value, "prod");
        assert_string_equal(c.instance_attributes[1].key, "a.b/c-d_e@f\\g");
        ecs_config_done(&c);

        snprintf(buf, sizeof(buf), "ECS_INSTANCE_ATTRIBUTES={\"%s\":\"%s\"}", a128, a128);
        env_ok(buf, &c);
        assert_int_equal(c.n_instance_attributes, 1);
        ecs_config_done(&c);
        snprintf(buf, sizeof(buf), "ECS_INSTANCE_ATTRIBUTES={\"%s\":\"v\"}", a129);
        env_bad(buf, "attribute name");
        snprintf(buf, sizeof(buf), "ECS_INSTANCE_ATTRIBUTES={\"k\":\"%s\"}", a129);
        env_bad(buf, "longer than 128");
        env_bad("ECS_INSTANCE_ATTRIBUTES={\"a b\":\"v\"}", "attribute name");
        env_bad("ECS_INSTANCE_ATTRIBUTES={\"\":\"v\"}", "attribute name");
        env_bad("ECS_INSTANCE_ATTRIBUTES={\"k\":1}", "not a string");
        env_bad("ECS_INSTANCE_ATTRIBUTES=[\"k\"]", "not a JSON object");
        env_bad("ECS_INSTANCE_ATTRIBUTES=This is not valid JSON", "not valid JSON");
        env_bad("ECS_INSTANCE_ATTRIBUTES={\"k\":\"a\\u0000b\"}", "not a string");

        env_ok("ECS_CONTAINER_INSTANCE_TAGS={\"team\":\"infra\",\"empty\":\"\"}", &c);
        assert_int_equal(c.n_container_instance_tags, 2);
        assert_string_equal(c.container_instance_tags[0].key, "team");
        assert_string_equal(c.container_instance_tags[1].value, "");
        ecs_config_done(&c);
        snprintf(buf, sizeof(buf), "ECS_CONTAINER_INSTANCE_TAGS={\"%s\":\"%s\"}", a128, v256);
        env_ok(buf, &c);
        ecs_config_done(&c);
        snprintf(buf, sizeof(buf), "ECS_CONTAINER_INSTANCE_TAGS={\"%s\":\"v\"}", a129);
        env_bad(buf, "1-128");
        snprintf(buf, sizeof(buf), "ECS_CONTAINER_INSTANCE_TAGS={\"k\":\"%s\"}", v257);
        env_bad(buf, "longer than 256");
        env_bad("ECS_CONTAINER_INSTANCE_TAGS={\"aws:x\":\"v\"}", "reserved");

        size_t n = (size_t)snprintf(buf, sizeof(buf), "ECS_CONTAINER_INSTANCE_TAGS={");
        for (int i = 0; i < 51; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
        snprintf(buf + n, sizeof(buf) - n, "}");
        env_bad(buf, "more than 50");

        env_ok("ECS_PAUSE_LABELS={\"com.example/x\":\"1\"}", &c);
        assert_int_equal(c.n_pause_labels, 1);
        assert_string_equal(c.pause_labels[0].key, "com.example/x");
        ecs_config_done(&c);
        env_bad("ECS_PAUSE_LABELS={\"x\":true}", NULL);
}

static void test_backend_host(void **state)
{
        struct ecs_config c;

        env_ok("ECS_BACKEND_HOST=ecs.example.com", &c);
        assert_string_equal(c.backend_host, "https://ecs.example.com");
        ecs_config_done(&c);
        env_ok("ECS_BACKEND_HOST=localhost:8443/", &c);
        assert_string_equal(c.backend_host, "https://localhost:8443/");
        ecs_config_done(&c);
        env_ok("ECS_BACKEND_HOST=http://127.0.0.1:8080", &c);
        assert_string_equal(c.backend_host, "http://127.0.0.1:8080");
        ecs_config_done(&c);
        env_ok("ECS_BACKEND_HOST=https://ecs.us-east-1.amazonaws.com", &c);
        assert_string_equal(c.backend_host, "https://ecs.us-east-1.amazonaws.com");
        ecs_config_done(&c);

        env_bad("ECS_BACKEND_HOST=ftp://example.com", "http:// and https://");
        env_bad("ECS_BACKEND_HOST=http://", "no host");
        env_bad("ECS_BACKEND_HOST=a b", NULL);
        env_bad("ECS_BACKEND_HOST=\"ecs.example.com\"", "quotes");

        env_ok("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1338", &c);
        assert_string_equal(c.ec2_metadata_endpoint, "http://127.0.0.1:1338");
        ecs_config_done(&c);
        env_bad("AWS_EC2_METADATA_SERVICE_ENDPOINT=169.254.169.254", "http://");
}

static void test_docker_host(void **state)
{
        struct ecs_config c;

        env_ok("DOCKER_HOST=unix:///run/docker.sock", &c);
        assert_string_equal(c.docker_host, "unix:///run/docker.sock");
        assert_string_equal(c.docker_socket_path, "/run/docker.sock");
        ecs_config_done(&c);

        env_bad("DOCKER_HOST=tcp://127.0.0.1:2375", "not supported yet");
        env_bad("DOCKER_HOST=/var/run/docker.sock", "unix://");
        env_bad("DOCKER_HOST=unix://relative.sock", "absolute");
        env_bad("DOCKER_HOST=unix://", NULL);
        env_bad("DOCKER_HOST=npipe:////./pipe/docker_engine", NULL);
}

static void test_strings_and_enums(void **state)
{
        struct ecs_config c;

        env_ok("ECS_CLUSTER=arn:aws:ecs:us-east-1:123456789012:cluster/my_cluster-1", &c);
        assert_string_equal(c.cluster, "arn:aws:ecs:us-east-1:123456789012:cluster/my_cluster-1");
        ecs_config_done(&c);
        /* Strings are trimmed like the official `trim` fields. */
        env_ok("ECS_CLUSTER= my-cluster \r", &c);
        assert_string_equal(c.cluster, "my-cluster");
        ecs_config_done(&c);
        env_bad("ECS_CLUSTER=my cluster", "cluster name");
        env_bad("AWS_DEFAULT_REGION=us east", "region");
        env_bad("AWS_REGION=us/east", "region");

        env_ok("ECS_LOGLEVEL=WARN", &c);
        assert_int_equal(c.log_level, LOG_LEVEL_WARN);
        ecs_config_done(&c);
        env_ok("ECS_LOGLEVEL=none", &c);
        assert_int_equal(c.log_level, LOG_LEVEL_NONE);
        ecs_config_done(&c);
        env_ok("ECS_LOGLEVEL=crit", &c);
        assert_int_equal(c.log_level, LOG_LEVEL_CRIT);
        ecs_config_done(&c);
        env_bad("ECS_LOGLEVEL=verbose", "crit, error, warn, info, debug, none");
        env_bad("ECS_LOGLEVEL=debugdebugdebugdebug", NULL);

        env_ok("ECS_IMAGE_PULL_BEHAVIOR=prefer-cached", &c);
        assert_int_equal(c.image_pull_behavior, ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED);
        ecs_config_done(&c);
        env_ok("ECS_IMAGE_PULL_BEHAVIOR=once", &c);
        assert_int_equal(c.image_pull_behavior, ECS_IMAGE_PULL_BEHAVIOR_ONCE);
        ecs_config_done(&c);
        env_bad("ECS_IMAGE_PULL_BEHAVIOR=sometimes", "prefer-cached");
        assert_string_equal(ecs_image_pull_behavior_to_string(ECS_IMAGE_PULL_BEHAVIOR_ALWAYS),
                            "always");
        assert_int_equal(ecs_image_pull_behavior_from_string("always"),
                         ECS_IMAGE_PULL_BEHAVIOR_ALWAYS);

        env_ok("ECS_DATADIR=/srv/ecs", &c);
        assert_string_equal(c.data_dir, "/srv/ecs");
        ecs_config_done(&c);
        env_bad("ECS_DATADIR=data", "absolute path");
        env_bad("ECS_CGROUP_PATH=sys/fs/cgroup", "absolute path");
        env_bad("ECS_LOGFILE=/var/log/a\tb", "control characters");

        env_ok("ECS_ENABLE_TASK_CPU_MEM_LIMIT=false", &c);
        assert_false(c.task_cpu_mem_limit);
        assert_true(c.task_cpu_mem_limit_explicit);
        ecs_config_done(&c);
        env_ok("ECS_ENABLE_TASK_CPU_MEM_LIMIT=true", &c);
        assert_true(c.task_cpu_mem_limit);
        assert_true(c.task_cpu_mem_limit_explicit);
        ecs_config_done(&c);
        env_bad("ECS_ENABLE_TASK_CPU_MEM_LIMIT=maybe", NULL);

        env_ok("ECS_TASK_METADATA_RPS_LIMIT=  10 ,5  ", &c);
        assert_int_equal(c.task_metadata_rps_steady, 10);
        assert_int_equal(c.task_metadata_rps_burst, 5);
        ecs_config_done(&c);
        env_ok("ECS_TASK_METADATA_RPS_LIMIT=0,5", &c);
        assert_int_equal(c.task_metadata_rps_steady, 40);
        assert_int_equal(c.task_metadata_rps_burst, 60);
        ecs_config_done(&c);
        env_bad("ECS_TASK_METADATA_RPS_LIMIT=10", "steady,burst");
        env_bad("ECS_TASK_METADATA_RPS_LIMIT=10,20,30", NULL);
        env_bad("ECS_TASK_METADATA_RPS_LIMIT=-10,10", NULL);
        env_bad("ECS_TASK_METADATA_RPS_LIMIT=,10", NULL);
}

static void test_engine_auth(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        const char *data = "{\"https://index.docker.io/v1/\":{\"auth\":\"c2VjcmV0\"}}";
        char kv[256];

        snprintf(kv, sizeof(kv), "ECS_ENGINE_AUTH_DATA=%s", data);
        char *envp[] = {"ECS_ENGINE_AUTH_TYPE=dockercfg", kv, NULL};
        assert_int_equal(build(NULL, envp, &c, &err), 0);
        assert_int_equal(c.engine_auth_type, ECS_ENGINE_AUTH_TYPE_DOCKERCFG);
        assert_string_equal(c.engine_auth_data, data); /* raw, for the docker module */
        ecs_config_done(&c);

        env_bad("ECS_ENGINE_AUTH_TYPE=basic", "docker, dockercfg");
        /* The secret never appears in the message. */
        env_bad("ECS_ENGINE_AUTH_DATA={\"x\":\"hunter2\"", "<redacted>");
        char *envp2[] = {"ECS_ENGINE_AUTH_DATA={\"x\":\"hunter2\"", NULL};
        assert_int_equal(build(NULL, envp2, &c, &err), -EINVAL);
        assert_null(strstr(err.message, "hunter2"));
        env_bad("ECS_ENGINE_AUTH_DATA=[\"hunter2\"]", "not a JSON object");
}

static void test_external(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;

        char *envp[] = {"ECS_EXTERNAL=true", "ECS_ENABLE_TASK_ENI=true", NULL};
        assert_int_equal(build(NULL, envp, &c, &err), -EINVAL);
        assert_string_equal(err.key, "AWS_DEFAULT_REGION");
        assert_non_null(strstr(err.message, "ECS_EXTERNAL"));

        assert_int_equal(build("AWS_DEFAULT_REGION=us-east-2\n", envp, &c, &err), 0);
        assert_true(c.external);
        assert_false(c.task_eni); /* as ecs-init forces */
        assert_string_equal(c.aws_region, "us-east-2");
        ecs_config_done(&c);

        char *envp2[] = {"ECS_ENABLE_TASK_ENI=true", NULL};
        assert_int_equal(build(NULL, envp2, &c, &err), 0);
        assert_true(c.task_eni);
        ecs_config_done(&c);
}

static void test_credentials(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        const char *file = "AWS_ACCESS_KEY_ID=AKIAFILE\n"
                           "AWS_SECRET_ACCESS_KEY=file/secret+key\n"
                           "AWS_SESSION_TOKEN=filetoken\n";

        char *envp[] = {NULL};
        assert_int_equal(build(file, envp, &c, &err), 0);
        assert_string_equal(c.aws_access_key_id, "AKIAFILE");
        assert_string_equal(c.aws_secret_access_key, "file/secret+key");
        assert_string_equal(c.aws_session_token, "filetoken");
        ecs_config_done(&c);

        /* The environment's key id takes the whole group: no mixing of identities. */
        char *envp2[] = {"AWS_ACCESS_KEY_ID=AKIAENV", "AWS_SECRET_ACCESS_KEY=envsecret", NULL};
        assert_int_equal(build(file, envp2, &c, &err), 0);
        assert_string_equal(c.aws_access_key_id, "AKIAENV");
        assert_string_equal(c.aws_secret_access_key, "envsecret");
        assert_null(c.aws_session_token);
        ecs_config_done(&c);

        /* A lone secret in the environment does not pair with the file's key id. */
        char *envp3[] = {"AWS_SECRET_ACCESS_KEY=envsecret", NULL};
        assert_int_equal(build(file, envp3, &c, &err), 0);
        assert_string_equal(c.aws_secret_access_key, "file/secret+key");
        ecs_config_done(&c);
}

static char *dump_to_string(const struct ecs_config *c)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        ecs_config_dump(c, f);
        fclose(f);
        return buf;
}

static void test_proxies_and_trust(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;
        _cleanup_free_ char *out = NULL;

        /* upper case wins over lower case; the lower-case forms work alone */
        char *envp[] = {"HTTPS_PROXY=http://op:pr0xy-pw@proxy.corp:3128",
                        "https_proxy=http://other:3128",
                        "http_proxy=proxy.corp:3128",
                        "no_proxy=169.254.169.254,.corp",
                        "SSL_CERT_FILE=/etc/hostname",
                        "SSL_CERT_DIR=/etc",
                        NULL};
        assert_int_equal(build(NULL, envp, &c, &err), 0);
        assert_string_equal(c.https_proxy, "http://op:pr0xy-pw@proxy.corp:3128");
        assert_string_equal(c.http_proxy, "proxy.corp:3128");
        assert_string_equal(c.no_proxy, "169.254.169.254,.corp");
        assert_string_equal(c.ssl_cert_file, "/etc/hostname");
        assert_string_equal(c.ssl_cert_dir, "/etc");
        assert_null(c.aws_ca_bundle);
        assert_string_equal(c.ca_file, "/etc/hostname");
        out = dump_to_string(&c);
        assert_non_null(strstr(out, "HTTPS_PROXY=http://op:***@proxy.corp:3128\n"));
        assert_null(strstr(out, "pr0xy-pw"));
        ecs_config_done(&c);

        /* ecs.config may carry them too, as ecs-init passes its lines on */
        char *none[] = {NULL};
        assert_int_equal(build("HTTP_PROXY=10.0.0.1:3128\nNO_PROXY=.svc\n", none, &c, &err), 0);
        assert_string_equal(c.http_proxy, "10.0.0.1:3128");
        assert_string_equal(c.no_proxy, ".svc");
        ecs_config_done(&c);

        /* AWS_CA_BUNDLE wins over SSL_CERT_FILE and CURL_CA_BUNDLE */
        char *both[] = {"SSL_CERT_FILE=/etc/hostname", "CURL_CA_BUNDLE=/etc/hostname",
                        "AWS_CA_BUNDLE=/etc/passwd", NULL};
        assert_int_equal(build(NULL, both, &c, &err), 0);
        assert_string_equal(c.ca_file, "/etc/passwd");
        ecs_config_done(&c);

        env_ok("HTTPS_PROXY=socks5h://127.0.0.1:1080", &c);
        ecs_config_done(&c);
        env_bad("HTTPS_PROXY=ftp://u:pr0xy-pw@proxy:21", "not an http, https or socks proxy URL");
        env_bad("HTTP_PROXY=http://u:pw@", "no proxy host");
        env_bad("AWS_CA_BUNDLE=/nonexistent/ca.pem", "cannot read it");
        env_bad("AWS_CA_BUNDLE=ca.pem", "not an absolute path");
        env_bad("SSL_CERT_FILE=/etc", "not a regular file");
        env_bad("SSL_CERT_DIR=/etc/hostname", "not a directory");
        env_bad("CURL_CA_BUNDLE=/nonexistent", "cannot read it");

        /* the password of a rejected proxy URL stays out of the message */
        char *bad[] = {"HTTPS_PROXY=ftp://u:pr0xy-pw@proxy:21", NULL};
        assert_int_equal(build(NULL, bad, &c, &err), -EINVAL);
        assert_null(strstr(err.message, "pr0xy-pw"));
        assert_non_null(strstr(err.message, "ftp://u:***@proxy:21"));
}

static void test_dump(void **state)
{
        struct ecs_config c, c2;
        struct ecs_config_error err;
        _cleanup_free_ char *out = NULL, *out2 = NULL;

        char *envp[] = {
            "AWS_ACCESS_KEY_ID=AKIAVISIBLE",
            "AWS_SECRET_ACCESS_KEY=s3cr3t-value",
            "AWS_SESSION_TOKEN=t0ken-value",
            "ECS_ENGINE_AUTH_TYPE=docker",
            "ECS_ENGINE_AUTH_DATA={\"r\":{\"username\":\"u\",\"password\":\"pw-value\"}}",
            NULL};
        assert_int_equal(build(NULL, envp, &c, &err), 0);
        out = dump_to_string(&c);
        assert_non_null(strstr(out, "ECS_CLUSTER=default\n"));
        assert_non_null(strstr(out, "AWS_ACCESS_KEY_ID=AKIAVISIBLE\n"));
        assert_non_null(strstr(out, "AWS_SECRET_ACCESS_KEY=<redacted>\n"));
        assert_non_null(strstr(out, "AWS_SESSION_TOKEN=<redacted>\n"));
        assert_non_null(strstr(out, "ECS_ENGINE_AUTH_DATA=<redacted>\n"));
        assert_null(strstr(out, "s3cr3t"));
        assert_null(strstr(out, "t0ken"));
        assert_null(strstr(out, "pw-value"));
        assert_non_null(strstr(out, "ECS_CONTAINER_STOP_TIMEOUT=30s\n"));
        assert_non_null(strstr(out, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=3h\n"));
        assert_non_null(strstr(out, "ECS_CGROUP_CPU_PERIOD=100ms\n"));
        assert_non_null(strstr(out, "ECS_RESERVED_PORTS=[22,2375,2376,51678,51679]\n"));
        assert_non_null(strstr(out, "ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\",\"none\"]\n"));
        assert_non_null(strstr(out, "ECS_TASK_METADATA_RPS_LIMIT=40,60\n"));
        assert_non_null(strstr(out, "ECS_LOGLEVEL=info\n"));
        assert_non_null(strstr(out, "ECS_TASK_PIDS_LIMIT=\n"));
        assert_non_null(strstr(out, "AWS_DEFAULT_REGION=\n"));
        ecs_config_done(&c);
        free(out);

        /* Without secrets, the dump reads back as the same configuration. */
        char *envp2[] = {"ECS_CLUSTER=round-trip",
                         "AWS_DEFAULT_REGION=us-west-2",
                         "ECS_BACKEND_HOST=http://127.0.0.1:8080",
                         "ECS_RESERVED_PORTS=[22,8080]",
                         "ECS_RESERVED_PORTS_UDP=[53]",
                         "ECS_CONTAINER_STOP_TIMEOUT=1m30.5s",
                         "ECS_INSTANCE_ATTRIBUTES={\"a\":\"x \\\"y\\\"\",\"b/c\":\"2\"}",
                         "ECS_CONTAINER_INSTANCE_TAGS={\"t\":\"v\"}",
                         "ECS_AVAILABLE_LOGGING_DRIVERS=[\"awslogs\"]",
                         "ECS_TASK_PIDS_LIMIT=100",
                         "ECS_LOGLEVEL=debug",
                         "ECS_DYNAMIC_HOST_PORT_RANGE=1000-2000",
                         "ECS_IMAGE_PULL_BEHAVIOR=always",
                         "ECS_ENABLE_PROMETHEUS_METRICS=true",
                         NULL};
        char *none[] = {NULL};
        assert_int_equal(build(NULL, envp2, &c, &err), 0);
        out = dump_to_string(&c);
        if (build(out, none, &c2, &err) < 0)
                fail_msg("dump does not read back: %s\n%s", err.message, out);
        out2 = dump_to_string(&c2);
        assert_string_equal(out, out2);
        assert_int_equal(c2.container_stop_timeout_usec, 90 * SEC + 500 * MSEC);
        assert_string_equal(c2.instance_attributes[0].value, "x \"y\"");
        assert_int_equal(c2.n_reserved_ports, 3);
        ecs_config_done(&c);
        ecs_config_done(&c2);
}

static void test_error_message(void **state)
{
        struct ecs_config c;
        struct ecs_config_error err;

        char *envp[] = {"ECS_RESERVED_MEMORY=abc", NULL};
        assert_int_equal(build(NULL, envp, &c, &err), -EINVAL);
        assert_string_equal(err.key, "ECS_RESERVED_MEMORY");
        assert_string_equal(err.message, "Invalid value for ECS_RESERVED_MEMORY: \"abc\": not a "
                                         "non-negative integer (set in environment)");

        char *none[] = {NULL};
        assert_int_equal(build("ECS_RESERVED_MEMORY=abc\n", none, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, "(set in test.config)"));

        /* Control bytes are escaped and long values cut. */
        _cleanup_free_ char *longv = repeat('x', 1000);
        char kv[1100];
        snprintf(kv, sizeof(kv), "ECS_CONTAINER_STOP_TIMEOUT=%s", longv);
        char *envp2[] = {"ECS_CHECKPOINT=a\x1b[2Jb", NULL};
        assert_int_equal(build(NULL, envp2, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, "\"a\\x1b[2Jb\""));
        char *envp3[] = {kv, NULL};
        assert_int_equal(build(NULL, envp3, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, "...\""));
        assert_true(strlen(err.message) < 400);
}

static void test_load_files(void **state)
{
        _cleanup_free_ char *path = write_tmp("ECS_CLUSTER=file-cluster\n"
                                              "ECS_RESERVED_MEMORY=256\n"
                                              "ECS_LOGLEVEL=warn\n");
        struct ecs_config c = {};
        struct ecs_config_error err;

        char *envp[] = {"ECS_LOGLEVEL=error", NULL};
        assert_int_equal(ecs_config_load(path, envp, &c, &err), 0);
        assert_string_equal(c.cluster, "file-cluster");
        assert_int_equal(c.reserved_memory_mib, 256);
        assert_int_equal(c.log_level, LOG_LEVEL_ERROR);
        ecs_config_done(&c);

        /* An explicit path that cannot be read is an error, and ret stays untouched. */
        c.cluster = (char *)"untouched";
        assert_int_equal(ecs_config_load("/nonexistent/ecs.config", envp, &c, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/ecs.config"));
        assert_string_equal(c.cluster, "untouched");
        assert_int_equal(ecs_config_load("/tmp", envp, &c, &err), -EISDIR);
        assert_non_null(strstr(err.message, "/tmp"));

        if (geteuid() != 0) {
                assert_int_equal(chmod(path, 0), 0);
                assert_int_equal(ecs_config_load(path, envp, &c, &err), -EACCES);
                assert_non_null(strstr(err.message, path));
        }

        /* A bad value in the file names the file. */
        _cleanup_free_ char *bad = write_tmp("ECS_RESERVED_PORTS=[70000]\n");
        assert_int_equal(ecs_config_load(bad, envp, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, bad));
        assert_non_null(strstr(err.message, "ECS_RESERVED_PORTS"));
        assert_non_null(strstr(err.message, "[70000]"));

        /* A NUL byte: not an ecs.config. */
        _cleanup_free_ char *bin = write_tmp("");
        int fd = open(bin, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "A=b\0", 4), 4);
        close(fd);
        assert_int_equal(ecs_config_load(bin, envp, &c, &err), -EBADMSG);

        /* The default files are optional: without /etc/ecs/ecs.config loading succeeds. */
        if (access(ECS_CONFIG_DEFAULT_PATH, F_OK) < 0 &&
            access(ECS_CONFIG_INSTANCE_DEFAULT_PATH, F_OK) < 0) {
                char *none[] = {NULL};
                assert_int_equal(ecs_config_load(NULL, none, &c, &err), 0);
                assert_string_equal(c.cluster, "default");
                ecs_config_done(&c);
        }

        unlink(path);
        unlink(bad);
        unlink(bin);
}

/* The shipped example must load as it is and with every setting in it uncommented. */
static void test_example_file(void **state)
{
        const char *src = getenv("ECS_SOURCE_DIR");
        _cleanup_free_ char *path = NULL, *text = NULL, *uncommented = NULL;
        struct ecs_config c;
        struct ecs_config_error err;
        char *none[] = {NULL};
        size_t n = 0;
        FILE *f;
        long len;

        if (!src)
                skip();
        assert_true(asprintf(&path, "%s/packaging/ecs.config.example", src) > 0);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        len = ftell(f);
        rewind(f);
        text = calloc(1, (size_t)len + 1);
        uncommented = calloc(1, (size_t)len + 1);
        assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
        fclose(f);

        assert_int_equal(build(text, none, &c, &err), 0);
        assert_string_equal(c.cluster, "default");
        assert_int_equal(c.reserved_memory_mib, 0);
        ecs_config_done(&c);

        for (const char *p = text; *p;) {
                if (p[0] == '#' && (p == text || p[-1] == '\n'))
                        p++;
                uncommented[n++] = *p++;
        }
        if (build(uncommented, none, &c, &err) < 0)
                fail_msg("uncommented example: %s", err.message);
        assert_int_equal(c.reserved_memory_mib, 256);
        assert_string_equal(c.aws_region, "us-east-1");
        assert_int_equal(c.engine_auth_type, ECS_ENGINE_AUTH_TYPE_DOCKER);
        ecs_config_done(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_host_derived_defaults),
            cmocka_unit_test(test_file_syntax),
            cmocka_unit_test(test_file_applied),
            cmocka_unit_test(test_env_overrides_file),
            cmocka_unit_test(test_bools),
            cmocka_unit_test(test_duration_syntax),
            cmocka_unit_test(test_duration_settings),
            cmocka_unit_test(test_clamps),
            cmocka_unit_test(test_integers),
            cmocka_unit_test(test_ports),
            cmocka_unit_test(test_port_range),
            cmocka_unit_test(test_logging_drivers),
            cmocka_unit_test(test_attributes_and_tags),
            cmocka_unit_test(test_backend_host),
            cmocka_unit_test(test_docker_host),
            cmocka_unit_test(test_strings_and_enums),
            cmocka_unit_test(test_engine_auth),
            cmocka_unit_test(test_external),
            cmocka_unit_test(test_credentials),
            cmocka_unit_test(test_dump),
            cmocka_unit_test(test_proxies_and_trust),
            cmocka_unit_test(test_error_message),
            cmocka_unit_test(test_load_files),
            cmocka_unit_test(test_example_file),
        };

        /* Clamp and ignore warnings are expected here; keep the output readable. */
        log_set_max_level(LOG_LEVEL_ERROR);
        return cmocka_run_group_tests_name("test_config", tests, NULL, NULL);
}
