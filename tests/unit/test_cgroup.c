/* Unit tests of the task cgroup module against fake cgroupfs trees in a temp directory:
 * the §5.1 arithmetic, id checks, the files and values written for v1 and v2 (cgroupfs and
 * systemd drivers), removal with nested child cgroups, mountinfo and stats parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "../../agent/cgroup/cgroup-internal.h"
#include "ecs/cgroup.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

/* ---- fixture helpers ---- */

static char *path_join(const char *a, const char *b)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
        return p;
}

static void mkdirs(const char *root, const char *rel)
{
        _cleanup_free_ char *p = path_join(root, rel);
        for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
                *s = '/';
        }
        assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
}

static void put(const char *root, const char *rel, const char *content)
{
        _cleanup_free_ char *p = path_join(root, rel);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

/* The file's content, or NULL when it does not exist. */
static char *get(const char *root, const char *rel)
{
        _cleanup_free_ char *p = path_join(root, rel);
        char *s = NULL;
        int r = read_file_full(p, 65536, &s, NULL);
        if (r == -ENOENT)
                return NULL;
        assert_int_equal(r, 0);
        return s;
}

static bool exists(const char *root, const char *rel)
{
        _cleanup_free_ char *p = path_join(root, rel);
        return access(p, F_OK) == 0;
}

#define assert_file(root, rel, want)                                                               \
        do {                                                                                       \
                _cleanup_free_ char *_g = get((root), (rel));                                      \
                if (!_g)                                                                           \
                        fail_msg("%s/%s missing", (root), (rel));                                  \
                assert_string_equal(_g, (want));                                                   \
        } while (0)

static int rm_rf(const char *path)
{
        _cleanup_free_ char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", path) < 0)
                return -1;
        return system(cmd);
}

struct fx {
        char root[64];
};

static int fx_setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/tmp/test-cgroup-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;
        rm_rf(f->root);
        free(f);
        return 0;
}

/* A v2 root as the kernel shows it: the available controllers, nothing enabled yet. */
static struct cgroup_manager *fake_v2(const char *root, const char *controllers,
                                      enum cgroup_driver driver)
{
        struct cgroup_manager *m = NULL;
        put(root, "cgroup.controllers", controllers);
        put(root, "cgroup.subtree_control", "");
        assert_int_equal(cgroup_manager_new_internal(root, 2, driver, NULL, true, &m), 0);
        assert_int_equal(cgroup_manager_version(m), 2);
        return m;
}

/* A v1 tmpfs with per-controller hierarchies (cpu and cpuacct co-mounted, as on Amazon
 * Linux), a hybrid cgroup2 "unified" mount, and mounts elsewhere that must be ignored. */
static struct cgroup_manager *fake_v1(const char *root, bool with_memory, enum cgroup_driver driver)
{
        static const char *const dirs[] = {"cpu,cpuacct", "memory",  "pids",   "cpuset",
                                           "systemd",     "unified", "freezer"};
        struct cgroup_manager *m = NULL;
        _cleanup_free_ char *mi = NULL, *memline = NULL;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                mkdirs(root, dirs[i]);
        put(root, "cpuset/cpuset.cpus", "0-3\n");
        put(root, "cpuset/cpuset.mems", "0\n");
        if (with_memory)
                assert_true(asprintf(&memline,
                                     "29 25 0:25 / %s/memory rw - cgroup cgroup rw,memory\n",
                                     root) >= 0);
        assert_true(
            asprintf(&mi,
                     "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                     "25 22 0:21 / %1$s rw,nosuid - tmpfs tmpfs ro,mode=755\n"
                     "26 25 0:22 / %1$s/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw\n"
                     "27 25 0:23 / %1$s/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
                     "28 25 0:24 / %1$s/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
                     "%2$s"
                     "30 25 0:26 / %1$s/pids rw - cgroup cgroup rw,pids\n"
                     "31 25 0:27 / %1$s/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
                     "32 25 0:28 / %1$s/freezer rw - cgroup cgroup rw,freezer\n"
                     "33 22 0:29 / /elsewhere/memory rw - cgroup cgroup rw,memory\n"
                     "34 25 0:30 / %1$s/pids/nested rw - cgroup cgroup rw,blkio\n",
                     root, strempty(memline)) >= 0);
        assert_int_equal(cgroup_manager_new_internal(root, 1, driver, mi, true, &m), 0);
        assert_int_equal(cgroup_manager_version(m), 1);
        return m;
}

/* ---- arithmetic and ids ---- */

static void test_shares_and_weight(void **state)
{
        const uint32_t none[1] = {0};
        const uint32_t small[] = {0, 1, 2};
        const uint32_t mixed[] = {256, 512, 0};
        const uint32_t huge[] = {200000, 100000};

        assert_int_equal(cgroup_cpu_shares_sum(none, 0), 2);
        assert_int_equal(cgroup_cpu_shares_sum(none, 1), 2);
        assert_int_equal(cgroup_cpu_shares_sum(small, 3), 6);
        assert_int_equal(cgroup_cpu_shares_sum(mixed, 3), 770);
        assert_int_equal(cgroup_cpu_shares_sum(huge, 2), 262144);

        /* 1 + ((shares - 2) * 9999) / 262142, integer division */
        assert_int_equal(cgroup_cpu_shares_to_weight(2), 1);
        assert_int_equal(cgroup_cpu_shares_to_weight(0), 1); /* clamped to 2 */
        assert_int_equal(cgroup_cpu_shares_to_weight(128), 5);
        assert_int_equal(cgroup_cpu_shares_to_weight(512), 20);
        assert_int_equal(cgroup_cpu_shares_to_weight(1024), 39);
        assert_int_equal(cgroup_cpu_shares_to_weight(2048), 79);
        assert_int_equal(cgroup_cpu_shares_to_weight(262144), 10000);
        assert_int_equal(cgroup_cpu_shares_to_weight(1000000), 10000); /* clamped */
}

static void test_quota(void **state)
{
        static const struct {
                double vcpus;
                uint64_t period;
                int64_t quota;
        } t[] = {
            {0.25, 100000, 25000},
            {0.5, 100000, 50000},
            {1, 100000, 100000},
            {2, 100000, 200000},
            {0.25, 50000, 12500},
            {0.5, 50000, 25000},
            {1, 50000, 50000},
            {2, 50000, 100000},
            {0.125, 8000, 1000},
            {0, 100000, 0},
            /* truncation, as Go's int64(): 0.29 * 100000 = 28999.999999999996 */
            {0.29, 100000, 28999},
        };
        int64_t q;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(cgroup_cpu_quota_usec(t[i].vcpus, t[i].period, &q), 0);
                assert_int_equal(q, t[i].quota);
        }
        assert_int_equal(cgroup_cpu_quota_usec(-0.5, 100000, &q), -EINVAL);
        assert_int_equal(cgroup_cpu_quota_usec(NAN, 100000, &q), -EINVAL);
        assert_int_equal(cgroup_cpu_quota_usec(INFINITY, 100000, &q), -EINVAL);
        assert_int_equal(cgroup_cpu_quota_usec(1e12, 100000, &q), -EINVAL);
}

static void test_task_ids(void **state)
{
        char long_id[CGROUP_TASK_ID_MAX + 2];

        assert_true(cgroup_task_id_is_valid("0123456789abcdef0123456789abcdef"));
        assert_true(cgroup_task_id_is_valid("c5cba4eb-5dad-405e-96db-71ef8eefe6a8"));
        assert_true(cgroup_task_id_is_valid("A_b-9"));
        assert_false(cgroup_task_id_is_valid(NULL));
        assert_false(cgroup_task_id_is_valid(""));
        assert_false(cgroup_task_id_is_valid("."));
        assert_false(cgroup_task_id_is_valid(".."));
        assert_false(cgroup_task_id_is_valid("../etc"));
        assert_false(cgroup_task_id_is_valid("a/b"));
        assert_false(cgroup_task_id_is_valid("a.b"));
        assert_false(cgroup_task_id_is_valid("a b"));
        assert_false(cgroup_task_id_is_valid("a\nb"));
        assert_false(cgroup_task_id_is_valid("é"));
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = 0;
        assert_false(cgroup_task_id_is_valid(long_id));
        long_id[CGROUP_TASK_ID_MAX] = 0;
        assert_true(cgroup_task_id_is_valid(long_id));

        assert_int_equal(cgroup_driver_from_string(NULL), CGROUP_DRIVER_CGROUPFS);
        assert_int_equal(cgroup_driver_from_string("cgroupfs"), CGROUP_DRIVER_CGROUPFS);
        assert_int_equal(cgroup_driver_from_string("systemd"), CGROUP_DRIVER_SYSTEMD);
        assert_int_equal(cgroup_driver_from_string("Systemd"), -EINVAL);
        assert_string_equal(cgroup_driver_to_string(CGROUP_DRIVER_SYSTEMD), "systemd");
}

static void test_invalid_ids_touch_nothing(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        static const char *const bad[] = {"", "..", "../x", "a/b", "x y", "a.b"};
        struct cgroup_stats st;
        char *parent = (char *)"untouched";

        m = fake_v2(f->root, "cpu memory pids", CGROUP_DRIVER_CGROUPFS);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct cgroup_task_spec spec = {.task_id = bad[i], .cpu_vcpus = 1};
                assert_int_equal(cgroup_task_create(m, &spec, &parent), -EINVAL);
                assert_int_equal(cgroup_task_remove(m, bad[i]), -EINVAL);
                assert_int_equal(cgroup_task_read_stats(m, bad[i], &st), -EINVAL);
                assert_int_equal(cgroup_task_docker_parent(m, bad[i], &parent), -EINVAL);
        }
        assert_string_equal(parent, "untouched"); /* ret_* untouched on failure */
        {
                struct cgroup_task_spec spec = {.task_id = NULL};
                assert_int_equal(cgroup_task_create(m, &spec, &parent), -EINVAL);
        }
        /* Only the base exists below the root. */
        assert_false(exists(f->root, "x"));
        assert_false(exists(f->root, "a"));
        assert_true(exists(f->root, "ecs"));
}

static void test_bad_specs(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        struct cgroup_task_spec spec = {.task_id = "t1"};

        m = fake_v2(f->root, "cpu memory pids", CGROUP_DRIVER_CGROUPFS);
        spec.cpu_vcpus = -1;
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        spec.cpu_vcpus = 1;
        spec.cpu_period_usec = 999;
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        spec.cpu_period_usec = 1000001;
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        spec.cpu_period_usec = 0;
        spec.memory_mib = UINT64_MAX / 2;
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        assert_false(exists(f->root, "ecs/t1"));
}

/* ---- v2 ---- */

static void test_v2_setup_and_create(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        _cleanup_free_ char *parent = NULL, *parent2 = NULL, *again = NULL;
        struct cgroup_task_spec spec = {
            .task_id = "0123456789abcdef0123456789abcdef",
            .cpu_vcpus = 0.5,
            .memory_mib = 512,
            .cpu_period_usec = 100000,
            .pids_limit = 100,
        };

        m = fake_v2(f->root, "cpuset cpu io memory hugetlb pids rdma misc\n",
                    CGROUP_DRIVER_CGROUPFS);
        assert_true(cgroup_manager_task_limits_available(m));
        assert_int_equal(cgroup_manager_init_error(m), 0);
        assert_int_equal(cgroup_manager_driver(m), CGROUP_DRIVER_CGROUPFS);
        assert_file(f->root, "cgroup.subtree_control", "+cpu +memory +pids");
        assert_file(f->root, "ecs/cgroup.subtree_control", "+cpu +memory +pids");

        assert_int_equal(cgroup_task_create(m, &spec, &parent), 0);
        assert_string_equal(parent, "/ecs/0123456789abcdef0123456789abcdef");
        assert_file(f->root, "ecs/0123456789abcdef0123456789abcdef/cpu.max", "50000 100000");
        assert_file(f->root, "ecs/0123456789abcdef0123456789abcdef/memory.max", "536870912");
        assert_file(f->root, "ecs/0123456789abcdef0123456789abcdef/pids.max", "100");
        assert_file(f->root, "ecs/0123456789abcdef0123456789abcdef/cgroup.subtree_control",
                    "+cpu +memory +pids");
        assert_false(exists(f->root, "ecs/0123456789abcdef0123456789abcdef/cpu.weight"));
        assert_int_equal(cgroup_task_docker_parent(m, spec.task_id, &again), 0);
        assert_string_equal(again, parent);

        /* No task cpu: shares from the containers, converted to a weight; no memory limit
         * and no pids limit means no such files written. Period 50 ms. */
        spec = (struct cgroup_task_spec){
            .task_id = "t-shares", .cpu_shares = 1024, .cpu_period_usec = 50000};
        assert_int_equal(cgroup_task_create(m, &spec, &parent2), 0);
        assert_string_equal(parent2, "/ecs/t-shares");
        assert_file(f->root, "ecs/t-shares/cpu.weight", "39");
        assert_false(exists(f->root, "ecs/t-shares/cpu.max"));
        assert_false(exists(f->root, "ecs/t-shares/memory.max"));
        assert_false(exists(f->root, "ecs/t-shares/pids.max"));

        /* 0.25 vCPU at 50 ms; re-applying to an existing cgroup is fine. */
        spec = (struct cgroup_task_spec){
            .task_id = "t-shares", .cpu_vcpus = 0.25, .cpu_period_usec = 50000};
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_file(f->root, "ecs/t-shares/cpu.max", "12500 50000");

        /* Shares above the cap are clamped: 262144 => weight 10000. */
        spec = (struct cgroup_task_spec){.task_id = "t-cap", .cpu_shares = 999999};
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_file(f->root, "ecs/t-cap/cpu.weight", "10000");
}

static void test_v2_controllers_missing(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1};
        _cleanup_free_ char *sc = NULL;

        m = fake_v2(f->root, "cpuset io pids", CGROUP_DRIVER_CGROUPFS);
        assert_false(cgroup_manager_task_limits_available(m));
        assert_int_equal(cgroup_manager_init_error(m), -EOPNOTSUPP);
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EOPNOTSUPP);
        assert_false(exists(f->root, "ecs"));
        sc = get(f->root, "cgroup.subtree_control");
        assert_string_equal(sc, ""); /* nothing enabled when we give up */
}

static void test_v2_without_pids(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1, .pids_limit = 10};

        m = fake_v2(f->root, "cpu memory", CGROUP_DRIVER_CGROUPFS);
        assert_true(cgroup_manager_task_limits_available(m));
        assert_file(f->root, "cgroup.subtree_control", "+cpu +memory");
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EOPNOTSUPP);
        assert_false(exists(f->root, "ecs/t1"));
        spec.pids_limit = 0;
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_file(f->root, "ecs/t1/cpu.max", "100000 100000");
}

static void test_v2_systemd_slices(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        _cleanup_free_ char *parent = NULL, *p2 = NULL;
        struct cgroup_task_spec spec = {
            .task_id = "c5cba4eb-5dad", .cpu_vcpus = 2, .memory_mib = 64};
        const char *leaf = "ecstasks.slice/ecstasks-c5cba4eb.slice/ecstasks-c5cba4eb-5dad.slice";

        m = fake_v2(f->root, "cpu memory pids", CGROUP_DRIVER_SYSTEMD);
        assert_true(cgroup_manager_task_limits_available(m));
        assert_false(exists(f->root, "ecs"));
        assert_file(f->root, "ecstasks.slice/cgroup.subtree_control", "+cpu +memory +pids");

        assert_int_equal(cgroup_task_create(m, &spec, &parent), 0);
        assert_string_equal(parent, "ecstasks-c5cba4eb-5dad.slice");
        {
                _cleanup_free_ char *cm = NULL, *mm = NULL;
                assert_true(asprintf(&cm, "%s/cpu.max", leaf) >= 0);
                assert_true(asprintf(&mm, "%s/memory.max", leaf) >= 0);
                assert_file(f->root, cm, "200000 100000");
                assert_file(f->root, mm, "67108864");
        }
        assert_file(f->root, "ecstasks.slice/ecstasks-c5cba4eb.slice/cgroup.subtree_control",
                    "+cpu +memory +pids");

        /* Plain 32-hex id: one level. */
        spec.task_id = "0123456789abcdef0123456789abcdef";
        assert_int_equal(cgroup_task_create(m, &spec, &p2), 0);
        assert_string_equal(p2, "ecstasks-0123456789abcdef0123456789abcdef.slice");
        assert_true(exists(f->root, "ecstasks.slice/ecstasks-0123456789abcdef0123456789abcdef."
                                    "slice/cpu.max"));

        /* Names systemd cannot take as slices. */
        spec.task_id = "a--b";
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        spec.task_id = "-a";
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);
        spec.task_id = "a-";
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EINVAL);

        /* Removal takes the leaf and the now-empty intermediate slice, not the base or the
         * other task. */
        mkdirs(f->root, "ecstasks.slice/ecstasks-c5cba4eb.slice/ecstasks-c5cba4eb-5dad.slice/"
                        "docker-abc.scope");
        assert_int_equal(cgroup_task_remove(m, "c5cba4eb-5dad"), 0);
        assert_false(exists(f->root, "ecstasks.slice/ecstasks-c5cba4eb.slice"));
        assert_true(exists(f->root, "ecstasks.slice"));
        assert_true(exists(f->root, "ecstasks.slice/ecstasks-0123456789abcdef0123456789abcdef."
                                    "slice"));
        assert_int_equal(cgroup_task_remove(m, "c5cba4eb-5dad"), 0);
}

/* ---- v1 ---- */

static void test_v1_setup_and_create(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        _cleanup_free_ char *parent = NULL;
        struct cgroup_task_spec spec = {.task_id = "task1",
                                        .cpu_vcpus = 0.25,
                                        .cpu_period_usec = 50000,
                                        .memory_mib = 64,
                                        .pids_limit = 4194304};
        static const char *const hier[] = {"cpu,cpuacct", "memory",  "pids",
                                           "cpuset",      "systemd", "freezer"};

        m = fake_v1(f->root, true, CGROUP_DRIVER_CGROUPFS);
        assert_true(cgroup_manager_task_limits_available(m));
        /* /ecs in every v1 hierarchy, none in the cgroup2 mount or outside root. */
        for (size_t i = 0; i < ELEMENTSOF(hier); i++) {
                _cleanup_free_ char *p = path_join(hier[i], "ecs");
                assert_true(exists(f->root, p));
        }
        assert_false(exists(f->root, "unified/ecs"));
        assert_false(exists(f->root, "pids/nested"));
        assert_file(f->root, "cpuset/ecs/cpuset.cpus", "0-3");
        assert_file(f->root, "cpuset/ecs/cpuset.mems", "0");

        assert_int_equal(cgroup_task_create(m, &spec, &parent), 0);
        assert_string_equal(parent, "/ecs/task1");
        assert_file(f->root, "cpu,cpuacct/ecs/task1/cpu.cfs_period_us", "50000");
        assert_file(f->root, "cpu,cpuacct/ecs/task1/cpu.cfs_quota_us", "12500");
        assert_false(exists(f->root, "cpu,cpuacct/ecs/task1/cpu.shares"));
        assert_file(f->root, "memory/ecs/task1/memory.limit_in_bytes", "67108864");
        assert_file(f->root, "pids/ecs/task1/pids.max", "4194304");
        assert_file(f->root, "cpuset/ecs/task1/cpuset.cpus", "0-3");
        assert_true(exists(f->root, "systemd/ecs/task1"));
        assert_true(exists(f->root, "freezer/ecs/task1"));
        assert_false(exists(f->root, "unified/ecs/task1"));
        /* Limits only where their controller lives. */
        assert_false(exists(f->root, "memory/ecs/task1/cpu.cfs_quota_us"));
        assert_false(exists(f->root, "freezer/ecs/task1/memory.limit_in_bytes"));

        spec = (struct cgroup_task_spec){.task_id = "task2", .cpu_shares = 770};
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_file(f->root, "cpu,cpuacct/ecs/task2/cpu.shares", "770");
        assert_false(exists(f->root, "cpu,cpuacct/ecs/task2/cpu.cfs_quota_us"));
        assert_false(exists(f->root, "memory/ecs/task2/memory.limit_in_bytes"));
        assert_false(exists(f->root, "pids/ecs/task2/pids.max"));

        spec = (struct cgroup_task_spec){.task_id = "task3", .cpu_vcpus = 1};
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_file(f->root, "cpu,cpuacct/ecs/task3/cpu.cfs_period_us", "100000");
        assert_file(f->root, "cpu,cpuacct/ecs/task3/cpu.cfs_quota_us", "100000");
}

static void test_v1_missing_memory(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1};

        m = fake_v1(f->root, false, CGROUP_DRIVER_CGROUPFS);
        assert_false(cgroup_manager_task_limits_available(m));
        assert_int_equal(cgroup_manager_init_error(m), -EOPNOTSUPP);
        assert_int_equal(cgroup_task_create(m, &spec, NULL), -EOPNOTSUPP);
        assert_false(exists(f->root, "cpu,cpuacct/ecs"));
}

static void test_v1_systemd_driver(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        _cleanup_free_ char *parent = NULL;
        struct cgroup_task_spec spec = {.task_id = "abc", .cpu_vcpus = 1, .memory_mib = 1};

        m = fake_v1(f->root, true, CGROUP_DRIVER_SYSTEMD);
        assert_true(exists(f->root, "memory/ecstasks.slice"));
        assert_false(exists(f->root, "memory/ecs"));
        assert_int_equal(cgroup_task_create(m, &spec, &parent), 0);
        assert_string_equal(parent, "ecstasks-abc.slice");
        assert_file(f->root, "memory/ecstasks.slice/ecstasks-abc.slice/memory.limit_in_bytes",
                    "1048576");
        assert_int_equal(cgroup_task_remove(m, "abc"), 0);
        assert_false(exists(f->root, "memory/ecstasks.slice/ecstasks-abc.slice"));
}

static void test_v1_remove_nested(void **state)
{
        struct fx *f = *state;
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        struct cgroup_task_spec spec = {.task_id = "task1", .cpu_vcpus = 1, .memory_mib = 64};
        static const char *const hier[] = {"cpu,cpuacct", "memory",  "pids",
                                           "cpuset",      "systemd", "freezer"};

        m = fake_v1(f->root, true, CGROUP_DRIVER_CGROUPFS);
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        spec.task_id = "task10"; /* a sibling whose name extends ours must survive */
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        /* What runc leaves: a container cgroup per hierarchy (and in the hybrid unified
         * mount), with files and a nested child. */
        for (size_t i = 0; i < ELEMENTSOF(hier); i++) {
                _cleanup_free_ char *c = NULL, *file = NULL;
                assert_true(asprintf(&c, "%s/ecs/task1/0123abcd/sub", hier[i]) >= 0);
                mkdirs(f->root, c);
                assert_true(asprintf(&file, "%s/ecs/task1/0123abcd/tasks", hier[i]) >= 0);
                put(f->root, file, "");
        }
        mkdirs(f->root, "unified/ecs/task1/0123abcd");
        put(f->root, "unified/ecs/task1/0123abcd/cgroup.procs", "");

        assert_int_equal(cgroup_task_remove(m, "task1"), 0);
        for (size_t i = 0; i < ELEMENTSOF(hier); i++) {
                _cleanup_free_ char *gone = NULL, *kept = NULL, *base = NULL;
                assert_true(asprintf(&gone, "%s/ecs/task1", hier[i]) >= 0);
                assert_true(asprintf(&kept, "%s/ecs/task10", hier[i]) >= 0);
                assert_true(asprintf(&base, "%s/ecs", hier[i]) >= 0);
                assert_false(exists(f->root, gone));
                assert_true(exists(f->root, kept));
                assert_true(exists(f->root, base));
        }
        assert_false(exists(f->root, "unified/ecs/task1"));
        /* Idempotent. */
        assert_int_equal(cgroup_task_remove(m, "task1"), 0);
        assert_int_equal(cgroup_task_remove(m, "never-created"), 0);
        assert_int_equal(cgroup_task_remove(m, "../ecs"), -EINVAL);
        assert_true(exists(f->root, "memory/ecs/task10"));
}

/* ---- parsers ---- */

static void test_mountinfo(void **state)
{
        struct cgroup_hierarchy *h = NULL;
        size_t n = 0;
        const char *mi =
            "25 1 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs ro\n"
            "26 25 0:22 / /sys/fs/cgroup/unified rw shared:5 - cgroup2 cgroup2 rw,nsdelegate\n"
            "27 25 0:23 / /sys/fs/cgroup/cpu\\054cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
            "28 25 0:24 / /sys/fs/cgroup/net_cls rw master:3 shared:4 - cgroup cgroup rw,net_cls\n"
            "29 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
            "30 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,pids\n"
            "31 25 0:26 / /sys/fs/cgroup/a\\040b rw - cgroup cgroup rw,cpuset\n"
            "32 25 0:27 / /sys/fs/cgroupx/cpu rw - cgroup cgroup rw,cpu\n"
            "33 25 0:28 / /sys/fs/cgroup/memory/x rw - cgroup cgroup rw,cpu\n"
            "garbage line\n"
            "34 25 0:29 / /sys/fs/cgroup/bad rw -\n";

        assert_int_equal(cgroup_parse_mountinfo(mi, "/sys/fs/cgroup/", &h, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(h[0].path, "/sys/fs/cgroup/unified");
        assert_true(h[0].unified);
        assert_string_equal(h[1].path, "/sys/fs/cgroup/cpu,cpuacct");
        assert_int_equal(h[1].controllers, CGROUP_CTRL_CPU | CGROUP_CTRL_CPUACCT);
        assert_false(h[1].unified);
        assert_string_equal(h[2].path, "/sys/fs/cgroup/net_cls");
        assert_int_equal(h[2].controllers, 0);
        assert_string_equal(h[3].path, "/sys/fs/cgroup/memory");
        assert_int_equal(h[3].controllers, CGROUP_CTRL_MEMORY | CGROUP_CTRL_PIDS); /* last wins */
        assert_string_equal(h[4].path, "/sys/fs/cgroup/a b");
        assert_int_equal(h[4].controllers, CGROUP_CTRL_CPUSET);
        cgroup_hierarchies_free(h, n);

        assert_int_equal(cgroup_parse_mountinfo("", "/sys/fs/cgroup", &h, &n), 0);
        assert_int_equal(n, 0);
        cgroup_hierarchies_free(h, n);
}

static void test_value_parsers(void **state)
{
        uint64_t v = 7;

        assert_int_equal(cgroup_parse_u64("123\n", &v), 0);
        assert_int_equal(v, 123);
        assert_int_equal(cgroup_parse_u64("max\n", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(cgroup_parse_u64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(cgroup_parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(cgroup_parse_u64("", &v), -EINVAL);
        assert_int_equal(cgroup_parse_u64("-1", &v), -EINVAL);
        assert_int_equal(cgroup_parse_u64("12 34", &v), -EINVAL);
        assert_int_equal(cgroup_parse_u64(NULL, &v), -EINVAL);

        const char *stat = "nr_periods 10\nnr_throttled 3\nthrottled_time 4500\n";
        assert_int_equal(cgroup_parse_keyed_u64(stat, "nr_throttled", &v), 0);
        assert_int_equal(v, 3);
        assert_int_equal(cgroup_parse_keyed_u64(stat, "throttled_time", &v), 0);
        assert_int_equal(v, 4500);
        assert_int_equal(cgroup_parse_keyed_u64(stat, "nr_periods", &v), 0);
        assert_int_equal(v, 10);
        assert_int_equal(cgroup_parse_keyed_u64(stat, "throttled", &v), -ENOENT);
        assert_int_equal(cgroup_parse_keyed_u64(stat, "nr", &v), -ENOENT);
        assert_int_equal(cgroup_parse_keyed_u64("a x\n", "a", &v), -EINVAL);

        assert_true(cgroup_controllers_contain("cpuset cpu io memory pids\n", "cpu"));
        assert_true(cgroup_controllers_contain("cpuset cpu io memory pids\n", "pids"));
        assert_false(cgroup_controllers_contain("cpuset io memory\n", "cpu"));
        assert_false(cgroup_controllers_contain("", "cpu"));
        assert_false(cgroup_controllers_contain(NULL, "cpu"));
}

static void test_stats_parsers(void **state)
{
        struct cgroup_stats s;
        const char *cpu_stat_v1 = "nr_periods 42\nnr_throttled 17\nthrottled_time 987654321\n"
                                  "nr_bursts 0\nburst_time 0\n";
        const char *oom_v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        const char *cpu_stat_v2 = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
                                  "nr_periods 8\nnr_throttled 5\nthrottled_usec 250\n";
        const char *events_v2 = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";

        assert_int_equal(
            cgroup_stats_parse_v1("123456789\n", cpu_stat_v1, "67108864\n", oom_v1, &s), 0);
        assert_int_equal(s.cpu_usage_ns, 123456789);
        assert_int_equal(s.nr_periods, 42);
        assert_int_equal(s.nr_throttled, 17);
        assert_int_equal(s.throttled_ns, 987654321);
        assert_int_equal(s.memory_usage_bytes, 67108864);
        assert_true(s.has_oom_kills);
        assert_int_equal(s.oom_kills, 2);

        /* Kernels before 4.13 have no oom_kill line. */
        assert_int_equal(
            cgroup_stats_parse_v1("1", cpu_stat_v1, "2", "oom_kill_disable 0\nunder_oom 0\n", &s),
            0);
        assert_false(s.has_oom_kills);
        assert_int_equal(s.oom_kills, 0);
        assert_int_equal(cgroup_stats_parse_v1("1", cpu_stat_v1, "2", NULL, &s), 0);
        assert_false(s.has_oom_kills);
        assert_int_equal(cgroup_stats_parse_v1("x", cpu_stat_v1, "2", NULL, &s), -EINVAL);
        assert_int_equal(cgroup_stats_parse_v1("1", "nr_periods 1\n", "2", NULL, &s), -ENOENT);

        assert_int_equal(cgroup_stats_parse_v2(cpu_stat_v2, "4096\n", events_v2, &s), 0);
        assert_int_equal(s.cpu_usage_ns, 1500000);
        assert_int_equal(s.nr_periods, 8);
        assert_int_equal(s.nr_throttled, 5);
        assert_int_equal(s.throttled_ns, 250000);
        assert_int_equal(s.memory_usage_bytes, 4096);
        assert_true(s.has_oom_kills);
        assert_int_equal(s.oom_kills, 1);

        /* cpu controller not enabled: only the usage lines. */
        assert_int_equal(
            cgroup_stats_parse_v2("usage_usec 7\nuser_usec 7\nsystem_usec 0\n", "0", NULL, &s), 0);
        assert_int_equal(s.cpu_usage_ns, 7000);
        assert_int_equal(s.nr_throttled, 0);
        assert_false(s.has_oom_kills);
        assert_int_equal(cgroup_stats_parse_v2("user_usec 7\n", "0", NULL, &s), -ENOENT);
        assert_int_equal(cgroup_stats_parse_v2("usage_usec 18446744073709551615\n", "0", NULL, &s),
                         -ERANGE);
}

static void test_stats_read(void **state)
{
        struct fx *f = *state;
        struct cgroup_stats s;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1};

        {
                _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
                m = fake_v2(f->root, "cpu memory pids", CGROUP_DRIVER_CGROUPFS);
                assert_int_equal(cgroup_task_read_stats(m, "t1", &s), -ENOENT);
                assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
                put(f->root, "ecs/t1/cpu.stat",
                    "usage_usec 10\nnr_periods 2\nnr_throttled 1\nthrottled_usec 3\n");
                put(f->root, "ecs/t1/memory.current", "8192\n");
                assert_int_equal(cgroup_task_read_stats(m, "t1", &s), 0);
                assert_int_equal(s.cpu_usage_ns, 10000);
                assert_int_equal(s.throttled_ns, 3000);
                assert_int_equal(s.memory_usage_bytes, 8192);
                assert_false(s.has_oom_kills); /* no memory.events: optional */
                put(f->root, "ecs/t1/memory.events", "oom 3\noom_kill 3\n");
                assert_int_equal(cgroup_task_read_stats(m, "t1", &s), 0);
                assert_int_equal(s.oom_kills, 3);
        }
        rm_rf(f->root);
        assert_int_equal(mkdir(f->root, 0700), 0);
        {
                _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
                m = fake_v1(f->root, true, CGROUP_DRIVER_CGROUPFS);
                assert_int_equal(cgroup_task_read_stats(m, "t1", &s), -ENOENT);
                assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
                put(f->root, "cpu,cpuacct/ecs/t1/cpuacct.usage", "5555\n");
                put(f->root, "cpu,cpuacct/ecs/t1/cpu.stat",
                    "nr_periods 9\nnr_throttled 4\nthrottled_time 77\n");
                put(f->root, "memory/ecs/t1/memory.usage_in_bytes", "1024\n");
                put(f->root, "memory/ecs/t1/memory.oom_control", "under_oom 0\noom_kill 1\n");
                /* v1 counts kills in the victim's memcg: the containers' are added. */
                mkdirs(f->root, "memory/ecs/t1/c1");
                put(f->root, "memory/ecs/t1/c1/memory.oom_control", "under_oom 0\noom_kill 2\n");
                assert_int_equal(cgroup_task_read_stats(m, "t1", &s), 0);
                assert_int_equal(s.cpu_usage_ns, 5555);
                assert_int_equal(s.nr_periods, 9);
                assert_int_equal(s.nr_throttled, 4);
                assert_int_equal(s.throttled_ns, 77);
                assert_int_equal(s.memory_usage_bytes, 1024);
                assert_true(s.has_oom_kills);
                assert_int_equal(s.oom_kills, 3);
        }
}

static void test_container_parsers(void **state)
{
        (void)state;
        uint64_t r, w, a, b;

        assert_int_equal(cgroup_parse_blkio_v1("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\n"
                                               "8:16 Read 100\n8:16 Write 0\nTotal 4708\n",
                                               &r, &w),
                         0);
        assert_int_equal(r, 4196);
        assert_int_equal(w, 512);
        assert_int_equal(cgroup_parse_blkio_v1("Total 0\n", &r, &w), 0);
        assert_int_equal(r + w, 0);
        assert_int_equal(cgroup_parse_blkio_v1("", &r, &w), 0);
        assert_int_equal(cgroup_parse_blkio_v1("8:0 Read -1\n", &r, &w), -EINVAL);
        assert_int_equal(cgroup_parse_blkio_v1("8:0 Read 12x\n", &r, &w), -EINVAL);
        assert_int_equal(cgroup_parse_blkio_v1("garbage here now too\n", &r, &w), -EINVAL);

        assert_int_equal(cgroup_parse_io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 "
                                              "dios=0\n259:0 rbytes=5 wbytes=0 rios=1 wios=0\n",
                                              &r, &w, &a, &b),
                         0);
        assert_int_equal(r, 15);
        assert_int_equal(w, 20);
        assert_int_equal(a, 2);
        assert_int_equal(b, 2);
        assert_int_equal(cgroup_parse_io_stat("", &r, &w, &a, &b), 0);
        assert_int_equal(r + w + a + b, 0);
        assert_int_equal(cgroup_parse_io_stat("8:0 rbytes=1x\n", &r, &w, &a, &b), -EINVAL);
        assert_int_equal(cgroup_parse_io_stat("nodev rbytes=1\n", &r, &w, &a, &b), -EINVAL);

        /* Device by device, for the stats endpoints' blkio_stats. */
        struct cgroup_io_device d[2];
        unsigned n = 0;
        assert_int_equal(cgroup_parse_io_devices("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\n"
                                                 "8:16 Read 100\n8:32 Read 7\nTotal 4708\n",
                                                 false, false, d, 2, &n),
                         0);
        assert_int_equal(n, 2); /* 8:32 does not fit */
        assert_int_equal(d[0].major, 8);
        assert_int_equal(d[0].minor, 0);
        assert_int_equal(d[0].read_bytes, 4096);
        assert_int_equal(d[0].write_bytes, 512);
        assert_int_equal(d[1].minor, 16);
        assert_int_equal(d[1].read_bytes, 100);
        assert_int_equal(
            cgroup_parse_io_devices("8:16 Read 3\n8:16 Write 4\n", false, true, d, 2, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(d[1].read_ops, 3);
        assert_int_equal(d[1].write_ops, 4);
        assert_int_equal(d[1].read_bytes, 100); /* the bytes stay */
        assert_int_equal(cgroup_parse_io_devices("8:0 Read -1\n", false, false, d, 2, &n), -EINVAL);
        assert_int_equal(cgroup_parse_io_devices("sda Read 1\n", false, false, d, 2, &n), -EINVAL);
        n = 0;
        assert_int_equal(
            cgroup_parse_io_devices("259:1 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=9\n", true,
                                    false, d, 2, &n),
            0);
        assert_int_equal(n, 1);
        assert_int_equal(d[0].major, 259);
        assert_int_equal(d[0].read_bytes + d[0].write_bytes, 30);
        assert_int_equal(d[0].read_ops + d[0].write_ops, 3);
        assert_int_equal(cgroup_parse_io_devices("8:0 rbytes=1x\n", true, false, d, 2, &n),
                         -EINVAL);
}

static void test_container_sample(void **state)
{
        struct fx *f = *state;
        struct cgroup_container_sample s;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1};
        const char *id = "0123abcd";

        {
                _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
                m = fake_v1(f->root, true, CGROUP_DRIVER_CGROUPFS);
                assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
                assert_int_equal(cgroup_container_read_sample(m, "t1", id, &s), -ENOENT);
                assert_int_equal(cgroup_container_read_sample(m, "t1", "../x", &s), -EINVAL);
                assert_int_equal(cgroup_container_read_sample(m, "t1", "..", &s), -EINVAL);
                mkdirs(f->root, "cpu,cpuacct/ecs/t1/0123abcd");
                mkdirs(f->root, "memory/ecs/t1/0123abcd");
                mkdirs(f->root, "pids/ecs/t1/0123abcd");
                put(f->root, "cpu,cpuacct/ecs/t1/0123abcd/cpuacct.usage", "2000000000\n");
                put(f->root, "cpu,cpuacct/ecs/t1/0123abcd/cpuacct.stat", "user 150\nsystem 50\n");
                put(f->root, "cpu,cpuacct/ecs/t1/0123abcd/cpu.stat",
                    "nr_periods 10\nnr_throttled 3\nthrottled_time 900\n");
                put(f->root, "memory/ecs/t1/0123abcd/memory.usage_in_bytes", "73400320\n");
                put(f->root, "memory/ecs/t1/0123abcd/memory.max_usage_in_bytes", "80000000\n");
                put(f->root, "memory/ecs/t1/0123abcd/memory.limit_in_bytes",
                    "9223372036854771712\n");
                put(f->root, "memory/ecs/t1/0123abcd/memory.stat",
                    "cache 6291456\nrss 67108864\ntotal_inactive_file 4194304\n");
                put(f->root, "pids/ecs/t1/0123abcd/pids.current", "3\n");
                assert_int_equal(cgroup_container_read_sample(m, "t1", id, &s), 0);
                assert_int_equal(s.cpu_total_ns, 2000000000ULL);
                assert_int_equal(s.cpu_user_ns, 1500000000ULL);
                assert_int_equal(s.cpu_kernel_ns, 500000000ULL);
                assert_int_equal(s.nr_throttled, 3);
                assert_int_equal(s.throttled_ns, 900);
                assert_int_equal(s.memory_usage, 73400320);
                assert_int_equal(s.memory_max_usage, 80000000);
                assert_true(s.memory_limit == UINT64_MAX); /* v1's "unlimited" */
                assert_int_equal(s.memory_inactive_file, 4194304);
                /* The official rule on v1: usage less the cache. */
                assert_int_equal(cgroup_container_memory_used(&s, 1), 73400320 - 6291456);
                assert_false(s.has_io); /* no blkio hierarchy here */
                assert_true(s.has_pids);
                assert_int_equal(s.pids_current, 3);
                /* A counter file that is not a number is an error, not a zero. */
                put(f->root, "cpu,cpuacct/ecs/t1/0123abcd/cpuacct.usage", "lots\n");
                assert_int_equal(cgroup_container_read_sample(m, "t1", id, &s), -EINVAL);
        }
        rm_rf(f->root);
        assert_int_equal(mkdir(f->root, 0700), 0);
        {
                _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
                m = fake_v2(f->root, "cpu memory pids io", CGROUP_DRIVER_CGROUPFS);
                assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
                mkdirs(f->root, "ecs/t1/0123abcd");
                put(f->root, "ecs/t1/0123abcd/cpu.stat",
                    "usage_usec 500\nuser_usec 300\nsystem_usec 200\nnr_periods 4\n"
                    "nr_throttled 1\nthrottled_usec 7\n");
                put(f->root, "ecs/t1/0123abcd/memory.current", "1048576\n");
                put(f->root, "ecs/t1/0123abcd/memory.max", "max\n");
                put(f->root, "ecs/t1/0123abcd/memory.stat",
                    "anon 524288\nfile 524288\ninactive_file 262144\n");
                put(f->root, "ecs/t1/0123abcd/io.stat",
                    "8:0 rbytes=4096 wbytes=8192 rios=1 "
                    "wios=2 dbytes=0 dios=0\n");
                assert_int_equal(cgroup_container_read_sample(m, "t1", id, &s), 0);
                assert_int_equal(s.cpu_total_ns, 500000);
                assert_int_equal(s.cpu_user_ns, 300000);
                assert_int_equal(s.throttled_ns, 7000);
                assert_true(s.memory_limit == UINT64_MAX);
                assert_int_equal(cgroup_container_memory_used(&s, 2), 1048576 - 262144);
                assert_true(s.has_io);
                assert_int_equal(s.io_read_bytes, 4096);
                assert_int_equal(s.io_write_ops, 2);
                assert_false(s.has_pids);
        }
}

/* With the systemd driver runc names the container's cgroup docker-<id>.scope. */
static void test_container_sample_systemd(void **state)
{
        struct fx *f = *state;
        struct cgroup_container_sample s;
        struct cgroup_task_spec spec = {.task_id = "t1", .cpu_vcpus = 1};
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        _cleanup_free_ char *rel = NULL, *dir = NULL, *file = NULL;
        int pid = 0;

        m = fake_v2(f->root, "cpu memory pids", CGROUP_DRIVER_SYSTEMD);
        assert_int_equal(cgroup_task_create(m, &spec, NULL), 0);
        assert_int_equal(cgroup_task_relpath(m, "t1", &rel), 0);
        assert_true(asprintf(&dir, "%s/docker-abc.scope", rel) >= 0);
        mkdirs(f->root, dir);
        assert_true(asprintf(&file, "%s/cpu.stat", dir) >= 0);
        put(f->root, file, "usage_usec 42\n");
        free(file);
        assert_true(asprintf(&file, "%s/memory.current", dir) >= 0);
        put(f->root, file, "4096\n");
        free(file);
        assert_true(asprintf(&file, "%s/cgroup.procs", dir) >= 0);
        put(f->root, file, "1234\n5678\n");
        assert_int_equal(cgroup_container_read_sample(m, "t1", "abc", &s), 0);
        assert_int_equal(s.cpu_total_ns, 42000);
        assert_int_equal(s.memory_usage, 4096);
        assert_int_equal(cgroup_container_pid(m, "t1", "abc", &pid), 0);
        assert_int_equal(pid, 1234);
}

static void test_detection_rejects_plain_dir(void **state)
{
        struct fx *f = *state;
        struct cgroup_manager *m = NULL;

        /* A temp dir on tmpfs/ext4 with no cgroup mounts below it is no v1 root either. */
        int r = cgroup_manager_new(f->root, "cgroupfs", &m);
        if (r == 0) {
                /* /tmp on tmpfs: detected as v1 with no hierarchies => unavailable */
                assert_false(cgroup_manager_task_limits_available(m));
                m = cgroup_manager_free(m);
        } else
                assert_int_equal(r, -ENOMEDIUM);
        assert_int_equal(cgroup_manager_new(f->root, "docker", &m), -EINVAL);
        assert_int_equal(cgroup_manager_new("/nonexistent/cgroup", NULL, &m), -ENOENT);
        assert_null(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_shares_and_weight),
            cmocka_unit_test(test_quota),
            cmocka_unit_test(test_task_ids),
            cmocka_unit_test_setup_teardown(test_invalid_ids_touch_nothing, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_bad_specs, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v2_setup_and_create, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v2_controllers_missing, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v2_without_pids, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v2_systemd_slices, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v1_setup_and_create, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v1_missing_memory, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v1_systemd_driver, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_v1_remove_nested, fx_setup, fx_teardown),
            cmocka_unit_test(test_mountinfo),
            cmocka_unit_test(test_value_parsers),
            cmocka_unit_test(test_stats_parsers),
            cmocka_unit_test_setup_teardown(test_stats_read, fx_setup, fx_teardown),
            cmocka_unit_test(test_container_parsers),
            cmocka_unit_test_setup_teardown(test_container_sample, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_container_sample_systemd, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_detection_rejects_plain_dir, fx_setup,
                                            fx_teardown),
        };
        return cmocka_run_group_tests_name("test_cgroup", tests, NULL, NULL);
}
