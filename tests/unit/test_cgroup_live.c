/* Task cgroups on this host's real cgroup filesystem (v1 or v2, whichever the manager
 * detects) and, when Docker is reachable, with real containers placed in them:
 *   - the limit files read back with the §5.1 values, and removal leaves nothing behind;
 *   - a cgroup holding a process is reported -EBUSY and the other hierarchies still go;
 *   - a CPU burner under a 0.5 vCPU task cgroup gets throttled (the quota applies);
 *   - a memory hog under a 16 MiB task cgroup is OOM-killed (OOMKilled, exit 137).
 * Needs root; skips otherwise. Containers are labelled ecs-agent-test=cgroup and named with a
 * per-run prefix; teardown removes them and the task cgroups even after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "../../agent/cgroup/cgroup-internal.h"
#include "ecs/cgroup.h"
#include "ecs/macro.h"

#define TEST_IMAGE "ecs-test/busybox:latest"
#define TEST_LABEL "ecs-agent-test=cgroup"

static struct cgroup_manager *mgr;
static bool have_docker;
static char prefix[64]; /* container names */
static char task_id[64];

static int sh(const char *cmd, char *out, size_t size)
{
        FILE *p = popen(cmd, "re");
        size_t n = 0;
        int st;

        if (!p)
                return -errno;
        if (out && size) {
                n = fread(out, 1, size - 1, p);
                out[n] = 0;
                out[strcspn(out, "\n")] = 0;
        } else {
                char buf[256];
                while (fread(buf, 1, sizeof(buf), p) > 0)
                        ;
        }
        st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void remove_test_containers(void)
{
        char cmd[512];
        if (!have_docker)
                return;
        snprintf(cmd, sizeof(cmd),
                 "docker ps -aq --filter label=" TEST_LABEL " --filter name=%s | "
                 "xargs -r docker rm -f >/dev/null 2>&1",
                 prefix);
        (void)sh(cmd, NULL, 0);
}

static int group_setup(void **state)
{
        char driver[64] = "";
        int r;

        if (geteuid() != 0)
                return 0;
        snprintf(prefix, sizeof(prefix), "ecs-cgroup-test-%d-", (int)getpid());
        have_docker = access("/var/run/docker.sock", F_OK) == 0 &&
                      sh("docker info --format '{{.CgroupDriver}}' 2>/dev/null", driver,
                         sizeof(driver)) == 0 &&
                      driver[0];
        if (have_docker && sh("docker image inspect " TEST_IMAGE " >/dev/null 2>&1", NULL, 0)) {
                const char *src = getenv("ECS_SOURCE_DIR");
                char cmd[512];
                snprintf(cmd, sizeof(cmd), "%s/scripts/test-images.sh >/dev/null 2>&1",
                         src ? src : ".");
                if (sh(cmd, NULL, 0) != 0)
                        have_docker = false;
        }
        r = cgroup_manager_new(getenv("ECS_CGROUP_PATH"), driver[0] ? driver : NULL, &mgr);
        if (r < 0) {
                fprintf(stderr, "cgroup_manager_new: %s\n", strerror(-r));
                return 0;
        }
        fprintf(stderr, "# cgroup v%d, driver %s, docker %s\n", cgroup_manager_version(mgr),
                cgroup_driver_to_string(cgroup_manager_driver(mgr)), have_docker ? "yes" : "no");
        return 0;
}

static int group_teardown(void **state)
{
        remove_test_containers();
        mgr = cgroup_manager_free(mgr);
        return 0;
}

static int setup(void **state)
{
        struct timespec ts;

        if (!mgr || !cgroup_manager_task_limits_available(mgr)) {
                skip();
                return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* No "-": a systemd-driver slice name would nest on it. */
        snprintf(task_id, sizeof(task_id), "ecsagenttest%dx%lx", (int)getpid(),
                 (unsigned long)ts.tv_nsec);
        return 0;
}

static int teardown(void **state)
{
        remove_test_containers();
        if (mgr && task_id[0])
                (void)cgroup_task_remove(mgr, task_id);
        task_id[0] = 0;
        return 0;
}

/* The task cgroup's directory in the hierarchy holding bit (v1) or the v2 root. */
static char *task_dir(unsigned bit)
{
        _cleanup_free_ char *rel = NULL;
        char *dir = NULL;

        assert_int_equal(cgroup_task_relpath(mgr, task_id, &rel), 0);
        for (size_t i = 0; i < mgr->n_hier; i++) {
                const struct cgroup_hierarchy *h = &mgr->hier[i];
                if ((mgr->version == 2 || !h->unified) && (h->controllers & bit)) {
                        assert_true(asprintf(&dir, "%s/%s", h->path, rel) >= 0);
                        return dir;
                }
        }
        fail_msg("no hierarchy with controller bit %u", bit);
        return NULL;
}

static void assert_value(unsigned bit, const char *file, const char *want)
{
        _cleanup_free_ char *dir = task_dir(bit), *got = NULL;
        assert_int_equal(cgroup_read_file(dir, file, &got), 0);
        got[strcspn(got, "\n")] = 0;
        if (!streq(got, want))
                fail_msg("%s/%s = '%s', want '%s'", dir, file, got, want);
}

static void assert_gone_everywhere(void)
{
        _cleanup_free_ char *rel = NULL;

        assert_int_equal(cgroup_task_relpath(mgr, task_id, &rel), 0);
        for (size_t i = 0; i < mgr->n_hier; i++) {
                _cleanup_free_ char *p = NULL;
                assert_true(asprintf(&p, "%s/%s", mgr->hier[i].path, rel) >= 0);
                if (access(p, F_OK) == 0)
                        fail_msg("%s still exists", p);
        }
}

static void create_task(double vcpus, uint64_t mib, uint32_t pids, char **ret_parent)
{
        struct cgroup_task_spec spec = {.task_id = task_id,
                                        .cpu_vcpus = vcpus,
                                        .memory_mib = mib,
                                        .cpu_period_usec = 100000,
                                        .pids_limit = pids};
        int r = cgroup_task_create(mgr, &spec, ret_parent);
        if (r < 0)
                fail_msg("cgroup_task_create: %s", strerror(-r));
}

static void test_limits_read_back(void **state)
{
        _cleanup_free_ char *parent = NULL;
        struct cgroup_stats st;

        create_task(0.5, 64, 100, &parent);
        if (cgroup_manager_version(mgr) == 1) {
                assert_value(CGROUP_CTRL_CPU, "cpu.cfs_quota_us", "50000");
                assert_value(CGROUP_CTRL_CPU, "cpu.cfs_period_us", "100000");
                assert_value(CGROUP_CTRL_MEMORY, "memory.limit_in_bytes", "67108864");
        } else {
                assert_value(CGROUP_CTRL_CPU, "cpu.max", "50000 100000");
                assert_value(CGROUP_CTRL_MEMORY, "memory.max", "67108864");
        }
        assert_value(CGROUP_CTRL_PIDS, "pids.max", "100");
        if (cgroup_manager_driver(mgr) == CGROUP_DRIVER_CGROUPFS) {
                char want[128];
                snprintf(want, sizeof(want), "/ecs/%s", task_id);
                assert_string_equal(parent, want);
        }
        /* An empty cgroup has readable, zero-ish counters. */
        assert_int_equal(cgroup_task_read_stats(mgr, task_id, &st), 0);
        assert_int_equal(st.nr_throttled, 0);

        /* Re-applying the same spec to the existing cgroup succeeds. */
        create_task(0.5, 64, 100, NULL);
        assert_int_equal(cgroup_task_remove(mgr, task_id), 0);
        assert_gone_everywhere();
        assert_int_equal(cgroup_task_remove(mgr, task_id), 0);
        assert_int_equal(cgroup_task_read_stats(mgr, task_id, &st), -ENOENT);
}

static void test_busy_cgroup(void **state)
{
        _cleanup_free_ char *dir = NULL, *procs_dir = NULL;
        char pid[32];
        pid_t child;
        int r;

        create_task(1, 32, 0, NULL);
        dir = task_dir(CGROUP_CTRL_MEMORY);
        /* v2: the task cgroup has controllers enabled for children, so (no internal
         * processes) the process goes one level down, as a container would. */
        if (cgroup_manager_version(mgr) == 2) {
                assert_true(asprintf(&procs_dir, "%s/sub", dir) >= 0);
                assert_int_equal(mkdir(procs_dir, 0755), 0);
        } else
                procs_dir = strdup(dir);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        snprintf(pid, sizeof(pid), "%d", (int)child);
        r = cgroup_write_file(mgr, procs_dir, "cgroup.procs", pid);
        if (r < 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
                fail_msg("moving %d into %s: %s", (int)child, procs_dir, strerror(-r));
        }
        r = cgroup_task_remove(mgr, task_id);
        assert_true(access(dir, F_OK) == 0);
        if (cgroup_manager_version(mgr) == 1) {
                /* The other hierarchies were cleaned regardless. */
                _cleanup_free_ char *cpu = task_dir(CGROUP_CTRL_CPU);
                if (!streq(cpu, dir))
                        assert_true(access(cpu, F_OK) < 0);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        assert_int_equal(r, -EBUSY);
        /* The kernel drops the dead process from the cgroup asynchronously. */
        for (int i = 0; i < 100; i++) {
                r = cgroup_task_remove(mgr, task_id);
                if (r != -EBUSY)
                        break;
                usleep(20000);
        }
        assert_int_equal(r, 0);
        assert_gone_everywhere();
}

static void docker_run(const char *parent, const char *tag, const char *script, char *ret_id,
                       size_t size)
{
        char cmd[1024];
        int r;

        snprintf(cmd, sizeof(cmd),
                 "docker run -d --label " TEST_LABEL " --name %s%s --cgroup-parent %s " TEST_IMAGE
                 " sh -c '%s' 2>&1",
                 prefix, tag, parent, script);
        r = sh(cmd, ret_id, size);
        if (r != 0)
                fail_msg("docker run: %s", ret_id);
}

static void docker_rm(const char *id)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "docker rm -f %s >/dev/null 2>&1", id);
        assert_int_equal(sh(cmd, NULL, 0), 0);
}

static void test_docker_cpu_quota_throttles(void **state)
{
        _cleanup_free_ char *parent = NULL;
        struct cgroup_stats st;
        char id[256];

        if (!have_docker)
                skip();
        struct timespec t0, t1;
        double wall;

        create_task(0.5, 0, 0, &parent);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        docker_run(parent, "cpu", "while :; do :; done", id, sizeof(id));
        usleep(2000 * 1000);
        assert_int_equal(cgroup_task_read_stats(mgr, task_id, &st), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "# cpu %lu ns, periods %lu, throttled %lu (%lu ns)\n",
                (unsigned long)st.cpu_usage_ns, (unsigned long)st.nr_periods,
                (unsigned long)st.nr_throttled, (unsigned long)st.throttled_ns);
        assert_true(st.nr_throttled > 0);
        assert_true(st.throttled_ns > 0);
        /* Half a CPU over the wall time (one period of slack); a burner unthrottled would
         * use a whole CPU. */
        assert_true(st.cpu_usage_ns > 100000000ULL);
        assert_true((double)st.cpu_usage_ns < (0.5 * wall + 0.1) * 1e9);

        /* Docker placed the container's own cgroup below the task cgroup. */
        {
                _cleanup_free_ char *dir = task_dir(CGROUP_CTRL_CPU);
                char cmd[512], n[32];
                snprintf(cmd, sizeof(cmd), "find %s -mindepth 1 -type d | wc -l", dir);
                assert_int_equal(sh(cmd, n, sizeof(n)), 0);
                assert_true(atoi(n) >= 1);
        }
        docker_rm(id);
        assert_int_equal(cgroup_task_remove(mgr, task_id), 0);
        assert_gone_everywhere();
}

/* A number from Docker's stats JSON for the container, by a Python expression on it. */
static uint64_t docker_stat(const char *id, const char *expr)
{
        char cmd[1024], out[64];
        snprintf(cmd, sizeof(cmd),
                 "curl -s --unix-socket /var/run/docker.sock "
                 "'http://docker/containers/%s/stats?stream=false' | /usr/bin/python3 -c "
                 "'import json,sys; s=json.load(sys.stdin); print(int(%s))'",
                 id, expr);
        if (sh(cmd, out, sizeof(out)) != 0)
                fail_msg("docker stats of %s: %s", id, out);
        return strtoull(out, NULL, 10);
}

/* The container's own counters, read from its cgroup below the task's, agree with what
 * Docker's stats API shows for it. */
static void test_container_sample_matches_docker(void **state)
{
        _cleanup_free_ char *parent = NULL;
        struct cgroup_container_sample before, after;
        char id[256];

        if (!have_docker)
                skip();
        create_task(0.5, 64, 0, &parent);
        docker_run(parent, "sample", "while :; do :; done", id, sizeof(id));
        usleep(1500 * 1000);
        /* The sampler's way: the files opened once, read again and again. */
        struct cgroup_container_files *files = NULL;
        assert_int_equal(cgroup_container_files_new(mgr, task_id, id, &files), 0);
        assert_int_equal(cgroup_container_files_read(mgr, files, &before), 0);
        uint64_t cpu = docker_stat(id, "s[\"cpu_stats\"][\"cpu_usage\"][\"total_usage\"]");
        uint64_t mem = docker_stat(id, "s[\"memory_stats\"][\"usage\"]");
        uint64_t pids = docker_stat(id, "s[\"pids_stats\"][\"current\"]");
        assert_int_equal(cgroup_container_files_read(mgr, files, &after), 0);
        fprintf(stderr, "# ours %lu..%lu ns, docker %lu ns; memory ours %lu docker %lu\n",
                (unsigned long)before.cpu_total_ns, (unsigned long)after.cpu_total_ns,
                (unsigned long)cpu, (unsigned long)after.memory_usage, (unsigned long)mem);
        /* The same counter read between our two reads. */
        assert_true(before.cpu_total_ns > 0);
        assert_true(before.cpu_total_ns <= cpu && cpu <= after.cpu_total_ns);
        assert_true(after.cpu_user_ns + after.cpu_kernel_ns > 0);
        double dm = (double)after.memory_usage - (double)mem;
        assert_true(dm < 0.05 * (double)mem && -dm < 0.05 * (double)mem);
        assert_true(after.memory_limit <= 64ULL << 20 || after.memory_limit == UINT64_MAX);
        if (after.has_pids)
                assert_int_equal(after.pids_current, pids);
        docker_rm(id);
        assert_int_equal(cgroup_container_read_sample(mgr, task_id, id, &after), -ENOENT);
        /* The held files of a cgroup that vanished say so too. */
        assert_int_equal(cgroup_container_files_read(mgr, files, &after), -ENOENT);
        cgroup_container_files_free(files);
}

static void test_docker_memory_oom(void **state)
{
        _cleanup_free_ char *parent = NULL;
        struct cgroup_stats st;
        char id[256], cmd[512], out[128];

        if (!have_docker)
                skip();
        create_task(1, 16, 0, &parent);
        docker_run(parent, "oom", "x=a; while :; do x=$x$x; done", id, sizeof(id));
        snprintf(cmd, sizeof(cmd), "timeout 10 docker wait %s", id);
        assert_int_equal(sh(cmd, out, sizeof(out)), 0);
        assert_string_equal(out, "137");
        snprintf(cmd, sizeof(cmd),
                 "docker inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' %s", id);
        assert_int_equal(sh(cmd, out, sizeof(out)), 0);
        assert_string_equal(out, "true 137");
        /* runc removes the container's cgroup at exit, and on v1 the kill was counted there
         * only (v2 propagates it up): the task-level counter is logged, not asserted. */
        assert_int_equal(cgroup_task_read_stats(mgr, task_id, &st), 0);
        fprintf(stderr, "# oom_kill counter: %s %lu\n", st.has_oom_kills ? "yes" : "no",
                (unsigned long)st.oom_kills);
        docker_rm(id);
        assert_int_equal(cgroup_task_remove(mgr, task_id), 0);
        assert_gone_everywhere();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_limits_read_back, setup, teardown),
            cmocka_unit_test_setup_teardown(test_busy_cgroup, setup, teardown),
            cmocka_unit_test_setup_teardown(test_docker_cpu_quota_throttles, setup, teardown),
            cmocka_unit_test_setup_teardown(test_docker_memory_oom, setup, teardown),
            cmocka_unit_test_setup_teardown(test_container_sample_matches_docker, setup, teardown),
        };
        return cmocka_run_group_tests_name("test_cgroup_live", tests, group_setup, group_teardown);
}
