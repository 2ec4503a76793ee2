/* Dependency graph (§4.7, §4.8): every condition satisfied / waiting / failing, timeouts to
 * the microsecond, implied links and volumesFrom edges, cycles, unknown names, stop order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "ecs/depgraph.h"
#include "ecs/macro.h"
#include "ecs/task.h"

#define SEC 1000000ULL
#define T0  (1700000000ULL * SEC)

/* A task of n containers named by the arguments, all desired RUNNING and known PULLED. */
static struct ecs_task *mk(int n, ...)
{
        struct ecs_task *t = ecs_task_new();
        va_list ap;

        assert_non_null(t);
        t->containers = calloc(n, sizeof(*t->containers));
        t->n_containers = n;
        va_start(ap, n);
        for (int i = 0; i < n; i++) {
                t->containers[i].name = strdup(va_arg(ap, const char *));
                t->containers[i].desired_status = CONTAINER_STATUS_RUNNING;
                t->containers[i].known_status = CONTAINER_STATUS_PULLED;
        }
        va_end(ap);
        return t;
}

static struct ecs_container *C(struct ecs_task *t, const char *name)
{
        struct ecs_container *c = ecs_task_find_container(t, name);
        assert_non_null(c);
        return c;
}

static size_t idx(struct ecs_task *t, const char *name)
{
        return (size_t)(C(t, name) - t->containers);
}

static void depends(struct ecs_task *t, const char *who, const char *on,
                    enum dependency_condition cond)
{
        struct ecs_container *c = C(t, who);
        c->depends_on = realloc(c->depends_on, (c->n_depends_on + 1) * sizeof(*c->depends_on));
        c->depends_on[c->n_depends_on++] =
            (struct container_dependency){.container_name = strdup(on), .condition = cond};
}

static void link_to(struct ecs_task *t, const char *who, const char *link)
{
        struct ecs_container *c = C(t, who);
        size_t n = 0;
        while (c->links && c->links[n])
                n++;
        c->links = realloc(c->links, (n + 2) * sizeof(char *));
        c->links[n] = strdup(link);
        c->links[n + 1] = NULL;
}

static void volumes_from(struct ecs_task *t, const char *who, const char *src)
{
        struct ecs_container *c = C(t, who);
        c->volumes_from =
            realloc(c->volumes_from, (c->n_volumes_from + 1) * sizeof(*c->volumes_from));
        c->volumes_from[c->n_volumes_from++] =
            (struct volume_from){.source_container = strdup(src), .read_only = false};
}

static void stopped(struct ecs_container *c, bool has_exit, int code)
{
        c->known_status = CONTAINER_STATUS_STOPPED;
        c->desired_status = CONTAINER_STATUS_STOPPED;
        c->has_exit_code = has_exit;
        c->exit_code = code;
}

/* The verdict for who -> target at now; the reason must be present exactly for WAIT and FAIL,
 * and FAIL reasons carry the reported prefix. Returns the reason for further checks. */
static char *verdict(struct ecs_task *t, const char *who, enum container_status target,
                     uint64_t now, enum depgraph_verdict want)
{
        char *reason = NULL;
        enum depgraph_verdict v = depgraph_can_transition(t, idx(t, who), target, now, &reason);

        if (v != want)
                fail_msg("%s -> %s: verdict %d, want %d (%s)", who,
                         container_status_to_string(target), v, want, strna(reason));
        if (want == DEPGRAPH_OK)
                assert_null(reason);
        else
                assert_non_null(reason);
        if (want == DEPGRAPH_FAIL)
                assert_true(strncmp(reason, "CannotStartContainerError: dependency graph: ",
                                    strlen("CannotStartContainerError: dependency graph: ")) == 0);
        /* Without a reason pointer the verdict is the same. */
        assert_int_equal(depgraph_can_transition(t, idx(t, who), target, now, NULL), want);
        return reason;
}

#define CHECK(t, who, target, now, want) free(verdict(t, who, target, now, want))

static void test_create_condition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "data");
        volumes_from(t, "web", "data");

        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        C(t, "data")->known_status = CONTAINER_STATUS_CREATED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        /* A volume source that exited still has its volumes. */
        stopped(C(t, "data"), true, 0);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        ecs_task_unref(t);
}

static void test_start_condition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        depends(t, "web", "db", DEPENDENCY_START);

        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        C(t, "db")->known_status = CONTAINER_STATUS_CREATED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        /* A dependent that only goes to CREATED is satisfied by a created dependency. */
        C(t, "web")->desired_status = CONTAINER_STATUS_CREATED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        C(t, "web")->desired_status = CONTAINER_STATUS_RUNNING;
        C(t, "db")->known_status = CONTAINER_STATUS_RUNNING;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        CHECK(t, "web", CONTAINER_STATUS_RUNNING, T0, DEPGRAPH_OK);
        C(t, "db")->known_status = CONTAINER_STATUS_RESOURCES_PROVISIONED;
        CHECK(t, "web", CONTAINER_STATUS_RUNNING, T0, DEPGRAPH_OK);
        /* Already exited, even with a failure: START is satisfied. */
        stopped(C(t, "db"), true, 1);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        /* START never times out. */
        C(t, "db")->known_status = CONTAINER_STATUS_CREATED;
        C(t, "db")->desired_status = CONTAINER_STATUS_RUNNING;
        C(t, "db")->started_at = T0;
        C(t, "db")->start_timeout_sec = 1;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0 + 3600 * SEC, DEPGRAPH_WAIT);
        assert_int_equal(depgraph_next_deadline(t), 0);
        ecs_task_unref(t);
}

static void test_complete_condition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "job");
        depends(t, "web", "job", DEPENDENCY_COMPLETE);

        C(t, "job")->known_status = CONTAINER_STATUS_RUNNING;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        stopped(C(t, "job"), true, 1);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        stopped(C(t, "job"), true, 0);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        CHECK(t, "web", CONTAINER_STATUS_RUNNING, T0, DEPGRAPH_OK);
        /* Stopped without an exit code (never ran): it can never complete. */
        stopped(C(t, "job"), false, 0);
        free(verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL));
        ecs_task_unref(t);
}

static void test_success_condition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "migrate");
        char *reason;
        depends(t, "web", "migrate", DEPENDENCY_SUCCESS);

        C(t, "migrate")->known_status = CONTAINER_STATUS_RUNNING;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        stopped(C(t, "migrate"), true, 0);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        stopped(C(t, "migrate"), true, 1);
        reason = verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL);
        assert_non_null(strstr(reason, "[migrate]"));
        assert_non_null(strstr(reason, "[web]"));
        assert_non_null(strstr(reason, "did not exit successfully"));
        free(reason);
        ecs_task_unref(t);
}

static void test_healthy_condition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        struct ecs_container *db = C(t, "db");
        depends(t, "web", "db", DEPENDENCY_HEALTHY);

        db->known_status = CONTAINER_STATUS_RUNNING;
        db->health_check_docker = true;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        db->health_status = 2; /* unhealthy for now: may still turn healthy */
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        db->health_status = 1;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        CHECK(t, "web", CONTAINER_STATUS_RUNNING, T0, DEPGRAPH_OK);
        /* A health status without a docker health check does not count. */
        db->health_check_docker = false;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        /* Stopped before becoming healthy: never will be. */
        db->health_check_docker = true;
        db->health_status = 0;
        stopped(db, true, 0);
        free(verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL));
        ecs_task_unref(t);
}

static void test_timeout(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        struct ecs_container *db = C(t, "db");
        char *reason;
        depends(t, "web", "db", DEPENDENCY_HEALTHY);

        db->known_status = CONTAINER_STATUS_RUNNING;
        db->health_check_docker = true;
        db->start_timeout_sec = 60;
        /* Not started yet (no started_at): no clock. */
        assert_int_equal(depgraph_next_deadline(t), 0);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0 + 3600 * SEC, DEPGRAPH_WAIT);

        db->started_at = T0;
        assert_int_equal(depgraph_next_deadline(t), T0 + 60 * SEC);
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0 + 60 * SEC - 1, DEPGRAPH_WAIT);
        reason = verdict(t, "web", CONTAINER_STATUS_CREATED, T0 + 60 * SEC, DEPGRAPH_FAIL);
        assert_non_null(strstr(reason, "timed out"));
        assert_non_null(strstr(reason, "[db]"));
        free(reason);

        /* Healthy in time: no failure however late the dependent asks, no deadline. */
        db->health_status = 1;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0 + 3600 * SEC, DEPGRAPH_OK);
        assert_int_equal(depgraph_next_deadline(t), 0);
        db->health_status = 0;

        /* Only while the dependent is not created yet. */
        C(t, "web")->known_status = CONTAINER_STATUS_CREATED;
        CHECK(t, "web", CONTAINER_STATUS_RUNNING, T0 + 3600 * SEC, DEPGRAPH_WAIT);
        assert_int_equal(depgraph_next_deadline(t), 0);
        C(t, "web")->known_status = CONTAINER_STATUS_PULLED;

        /* No timeout configured: waits forever. */
        db->start_timeout_sec = 0;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0 + 3600 * SEC, DEPGRAPH_WAIT);
        assert_int_equal(depgraph_next_deadline(t), 0);

        /* COMPLETE and SUCCESS time out too; the earliest deadline wins. */
        struct ecs_task *u = mk(3, "app", "a", "b");
        depends(u, "app", "a", DEPENDENCY_COMPLETE);
        depends(u, "app", "b", DEPENDENCY_SUCCESS);
        C(u, "a")->known_status = C(u, "b")->known_status = CONTAINER_STATUS_RUNNING;
        C(u, "a")->started_at = T0;
        C(u, "a")->start_timeout_sec = 30;
        C(u, "b")->started_at = T0 + 5 * SEC;
        C(u, "b")->start_timeout_sec = 10;
        assert_int_equal(depgraph_next_deadline(u), T0 + 15 * SEC);
        CHECK(u, "app", CONTAINER_STATUS_CREATED, T0 + 15 * SEC - 1, DEPGRAPH_WAIT);
        reason = verdict(u, "app", CONTAINER_STATUS_CREATED, T0 + 15 * SEC, DEPGRAPH_FAIL);
        assert_non_null(strstr(reason, "[b]"));
        free(reason);
        ecs_task_unref(u);
        ecs_task_unref(t);
}

static void test_will_never_start(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        struct ecs_container *db = C(t, "db");
        char *reason;
        depends(t, "web", "db", DEPENDENCY_START);

        db->desired_status = CONTAINER_STATUS_STOPPED;
        db->transition_in_flight = true; /* e.g. a create that will fail or be undone */
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        db->transition_in_flight = false;
        reason = verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL);
        assert_non_null(strstr(reason, "will never start"));
        free(reason);
        ecs_task_unref(t);
}

static void test_ungated(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        depends(t, "web", "db", DEPENDENCY_SUCCESS);
        C(t, "web")->known_status = CONTAINER_STATUS_NONE;

        /* Pulling happens regardless of dependencies (§4.7). */
        CHECK(t, "web", CONTAINER_STATUS_MANIFEST_PULLED, T0, DEPGRAPH_OK);
        CHECK(t, "web", CONTAINER_STATUS_PULLED, T0, DEPGRAPH_OK);
        C(t, "web")->known_status = CONTAINER_STATUS_PULLED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        /* A dependent on its way to STOPPED ignores its dependencies. */
        C(t, "web")->desired_status = CONTAINER_STATUS_STOPPED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        /* No dependencies at all: always OK. */
        CHECK(t, "db", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        CHECK(t, "db", CONTAINER_STATUS_RUNNING, T0, DEPGRAPH_OK);
        ecs_task_unref(t);
}

static void test_missing_at_transition(void **state)
{
        (void)state;
        struct ecs_task *t = mk(1, "web");
        char *reason;
        depends(t, "web", "ghost", DEPENDENCY_START);

        reason = verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL);
        assert_non_null(strstr(reason, "[ghost]"));
        assert_non_null(strstr(reason, "does not exist"));
        free(reason);
        ecs_task_unref(t);
}

/* Several dependencies: a failing one wins over a waiting one, whatever the order. */
static void test_fail_beats_wait(void **state)
{
        (void)state;
        struct ecs_task *t = mk(3, "web", "db", "init");
        depends(t, "web", "db", DEPENDENCY_START); /* waits */
        depends(t, "web", "init", DEPENDENCY_SUCCESS);
        stopped(C(t, "init"), true, 2);

        free(verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_FAIL));
        stopped(C(t, "init"), true, 0);
        char *reason = verdict(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        assert_non_null(strstr(reason, "[db]"));
        free(reason);
        C(t, "db")->known_status = CONTAINER_STATUS_RUNNING;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        ecs_task_unref(t);
}

/* links imply START on the link target (the alias is not a container name). */
static void test_implied_links(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "web", "db");
        link_to(t, "web", "db:database");

        assert_int_equal(depgraph_validate(t, NULL), 0);
        C(t, "db")->known_status = CONTAINER_STATUS_CREATED;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        C(t, "db")->known_status = CONTAINER_STATUS_RUNNING;
        CHECK(t, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_OK);
        /* ... and a plain "name" link works too. */
        struct ecs_task *u = mk(2, "web", "db");
        link_to(u, "web", "db");
        CHECK(u, "web", CONTAINER_STATUS_CREATED, T0, DEPGRAPH_WAIT);
        ecs_task_unref(u);
        ecs_task_unref(t);
}

static void expect_invalid(struct ecs_task *t, const char *needle)
{
        char *err = NULL;

        assert_int_equal(depgraph_validate(t, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, needle))
                fail_msg("'%s' does not contain '%s'", err, needle);
        free(err);
        assert_int_equal(depgraph_validate(t, NULL), -EINVAL);
}

static void test_cycles(void **state)
{
        (void)state;
        struct ecs_task *t;

        t = mk(2, "a", "b");
        depends(t, "a", "b", DEPENDENCY_START);
        assert_int_equal(depgraph_validate(t, NULL), 0);
        depends(t, "b", "a", DEPENDENCY_COMPLETE);
        expect_invalid(t, "circular dependency between containers: a -> b -> a");
        ecs_task_unref(t);

        t = mk(2, "a", "b");
        depends(t, "a", "a", DEPENDENCY_HEALTHY);
        expect_invalid(t, "a -> a");
        ecs_task_unref(t);

        /* Through the implied edges: a links b, b takes volumes from c, c dependsOn a. */
        t = mk(4, "x", "a", "b", "c");
        link_to(t, "a", "b:bee");
        volumes_from(t, "b", "c");
        assert_int_equal(depgraph_validate(t, NULL), 0);
        depends(t, "c", "a", DEPENDENCY_START);
        expect_invalid(t, "a -> b -> c -> a");
        ecs_task_unref(t);

        /* A cycle that does not include the first container searched. */
        t = mk(3, "root", "p", "q");
        depends(t, "root", "p", DEPENDENCY_START);
        link_to(t, "p", "q");
        link_to(t, "q", "p");
        expect_invalid(t, "p -> q -> p");
        ecs_task_unref(t);

        /* A diamond is not a cycle. */
        t = mk(4, "top", "l", "r", "base");
        depends(t, "top", "l", DEPENDENCY_START);
        depends(t, "top", "r", DEPENDENCY_START);
        depends(t, "l", "base", DEPENDENCY_SUCCESS);
        volumes_from(t, "r", "base");
        assert_int_equal(depgraph_validate(t, NULL), 0);
        ecs_task_unref(t);
}

static void test_unknown_names(void **state)
{
        (void)state;
        struct ecs_task *t;

        t = mk(1, "web");
        depends(t, "web", "db", DEPENDENCY_START);
        expect_invalid(t, "container [web] depends on unknown container [db]");
        ecs_task_unref(t);

        t = mk(2, "web", "database");
        link_to(t, "web", "db:database"); /* the alias does not name a container */
        expect_invalid(t, "container [web] links to unknown container [db]");
        ecs_task_unref(t);

        t = mk(1, "web");
        volumes_from(t, "web", "data");
        expect_invalid(t, "container [web] takes volumes from unknown container [data]");
        ecs_task_unref(t);

        t = mk(2, "web", "web");
        expect_invalid(t, "duplicate container name [web]");
        ecs_task_unref(t);

        t = mk(0);
        assert_int_equal(depgraph_validate(t, NULL), 0);
        assert_int_equal(depgraph_next_deadline(t), 0);
        assert_false(depgraph_task_should_stop(t));
        ecs_task_unref(t);
}

static void test_stop_order(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "a", "b");
        char *reason;
        depends(t, "b", "a", DEPENDENCY_START);
        C(t, "a")->known_status = C(t, "b")->known_status = CONTAINER_STATUS_RUNNING;
        C(t, "a")->desired_status = C(t, "b")->desired_status = CONTAINER_STATUS_STOPPED;

        reason = verdict(t, "a", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_WAIT);
        assert_string_equal(reason, "dependency graph: target a needs other containers stopped "
                                    "before it can stop: [b]");
        free(reason);
        CHECK(t, "b", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_OK);
        stopped(C(t, "b"), true, 143);
        CHECK(t, "a", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_OK);

        /* A dependent that was never created holds nothing: no wait (and no deadlock with a
         * dependent waiting for this container's health). */
        C(t, "b")->known_status = CONTAINER_STATUS_PULLED;
        CHECK(t, "a", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_OK);
        /* ... unless its create is in flight. */
        C(t, "b")->transition_in_flight = true;
        CHECK(t, "a", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_WAIT);
        ecs_task_unref(t);

        /* Implied edges order shutdown too; every blocker is named. */
        t = mk(4, "data", "web", "side", "free");
        volumes_from(t, "web", "data");
        link_to(t, "side", "data:d");
        for (size_t i = 0; i < t->n_containers; i++)
                t->containers[i].known_status = CONTAINER_STATUS_RUNNING;
        reason = verdict(t, "data", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_WAIT);
        assert_non_null(strstr(reason, "[web], [side]"));
        free(reason);
        stopped(C(t, "web"), true, 0);
        CHECK(t, "data", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_WAIT);
        stopped(C(t, "side"), true, 0);
        CHECK(t, "data", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_OK);
        CHECK(t, "free", CONTAINER_STATUS_STOPPED, T0, DEPGRAPH_OK);
        ecs_task_unref(t);
}

static void test_task_should_stop(void **state)
{
        (void)state;
        struct ecs_task *t = mk(2, "app", "sidecar");
        C(t, "app")->essential = true;

        assert_false(depgraph_task_should_stop(t));
        /* A non-essential container exiting changes nothing (§4.6). */
        stopped(C(t, "sidecar"), true, 1);
        assert_false(depgraph_task_should_stop(t));
        C(t, "app")->desired_status = CONTAINER_STATUS_STOPPED;
        assert_true(depgraph_task_should_stop(t));
        C(t, "app")->desired_status = CONTAINER_STATUS_RUNNING;
        C(t, "app")->known_status = CONTAINER_STATUS_STOPPED;
        assert_true(depgraph_task_should_stop(t));
        ecs_task_unref(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_create_condition),      cmocka_unit_test(test_start_condition),
            cmocka_unit_test(test_complete_condition),    cmocka_unit_test(test_success_condition),
            cmocka_unit_test(test_healthy_condition),     cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_will_never_start),      cmocka_unit_test(test_ungated),
            cmocka_unit_test(test_missing_at_transition), cmocka_unit_test(test_fail_beats_wait),
            cmocka_unit_test(test_implied_links),         cmocka_unit_test(test_cycles),
            cmocka_unit_test(test_unknown_names),         cmocka_unit_test(test_stop_order),
            cmocka_unit_test(test_task_should_stop),
        };
        return cmocka_run_group_tests_name("test_depgraph", tests, NULL, NULL);
}
