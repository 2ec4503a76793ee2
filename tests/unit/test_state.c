/* Durable store: atomic replace, subdirectories, listing, metadata, hostile names, and a
 * corrupt metadata file read as empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ecs/macro.h"
#include "ecs/state.h"

static char dir[64];

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ecs-test-state-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        struct state_store *s = NULL;
        /* A nested path that does not exist yet is created. */
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/data", dir);
        if (state_store_open(sub, &s) < 0)
                return -1;
        *state = s;
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        state_store_free(*state);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd);
}

static void test_write_read_replace(void **state)
{
        struct state_store *s = *state;
        char *data = NULL;
        size_t len = 0;

        assert_int_equal(state_store_read(s, "a.json", &data, &len), -ENOENT);
        assert_int_equal(state_store_write(s, "a.json", "one", 3), 0);
        assert_int_equal(state_store_write(s, "a.json", "second", 6), 0);
        assert_int_equal(state_store_read(s, "a.json", &data, &len), 0);
        assert_int_equal(len, 6);
        assert_string_equal(data, "second");
        free(data);

        /* File mode is private: it will hold task state. */
        char p[160];
        struct stat st;
        snprintf(p, sizeof(p), "%s/a.json", state_store_dir(s));
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_subdir_list_remove(void **state)
{
        struct state_store *s = *state;
        char **l = NULL;

        assert_int_equal(state_store_list(s, "tasks", &l), 0);
        assert_null(l[0]);
        strv_free(l);

        assert_int_equal(state_store_write(s, "tasks/b.json", "{}", 2), 0);
        assert_int_equal(state_store_write(s, "tasks/a.json", "{}", 2), 0);
        /* An interrupted write leaves a temp file; listing must not return it. */
        char p[200];
        snprintf(p, sizeof(p), "%s/tasks/.tmp-c.json", state_store_dir(s));
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);

        assert_int_equal(state_store_list(s, "tasks", &l), 0);
        assert_string_equal(l[0], "a.json");
        assert_string_equal(l[1], "b.json");
        assert_null(l[2]);
        strv_free(l);

        assert_int_equal(state_store_remove(s, "tasks/a.json"), 0);
        assert_int_equal(state_store_remove(s, "tasks/a.json"), 0); /* idempotent */
        assert_int_equal(state_store_list(s, "tasks", &l), 0);
        assert_string_equal(l[0], "b.json");
        assert_null(l[1]);
        strv_free(l);
}

static void test_bad_names(void **state)
{
        struct state_store *s = *state;
        assert_int_equal(state_store_write(s, "../escape", "x", 1), -EINVAL);
        assert_int_equal(state_store_write(s, "/abs", "x", 1), -EINVAL);
        assert_int_equal(state_store_write(s, "a/b/c", "x", 1), -EINVAL);
        assert_int_equal(state_store_write(s, "", "x", 1), -EINVAL);
        assert_int_equal(state_store_write(s, ".tmp-x", "x", 1), -EINVAL);
        char **l = NULL;
        assert_int_equal(state_store_list(s, "../", &l), -EINVAL);
}

static void test_meta(void **state)
{
        struct state_store *s = *state;
        char *v = NULL;

        assert_int_equal(state_store_get_meta(s, "container-instance-arn", &v), -ENOENT);
        assert_int_equal(state_store_set_meta(s, "container-instance-arn", "arn:x"), 0);
        assert_int_equal(state_store_set_meta(s, "cluster-name", "c1"), 0);
        assert_int_equal(state_store_get_meta(s, "container-instance-arn", &v), 0);
        assert_string_equal(v, "arn:x");
        free(v);
        assert_int_equal(state_store_set_meta(s, "cluster-name", NULL), 0);
        assert_int_equal(state_store_get_meta(s, "cluster-name", &v), -ENOENT);

        /* Corrupt metadata: reported, and a later write starts it afresh. */
        assert_int_equal(state_store_write(s, "agent.json", "{not json", 9), 0);
        assert_int_equal(state_store_get_meta(s, "container-instance-arn", &v), -EBADMSG);
        assert_int_equal(state_store_set_meta(s, "cluster-name", "c2"), 0);
        assert_int_equal(state_store_get_meta(s, "cluster-name", &v), 0);
        assert_string_equal(v, "c2");
        free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_write_read_replace, setup, teardown),
            cmocka_unit_test_setup_teardown(test_subdir_list_remove, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
            cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        };
        return cmocka_run_group_tests_name("test_state", tests, NULL, NULL);
}
