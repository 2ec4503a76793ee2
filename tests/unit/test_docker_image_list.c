/* GET /images/json answers as image cleanup reads them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ecs/docker.h"

static void test_list(void **state)
{
        (void)state;
        const char *body =
            "[{\"Id\":\"sha256:aa\",\"RepoTags\":[\"busybox:latest\",\"x/y:1\"],\"Created\":"
            "1700000000,\"Size\":4096,\"RepoDigests\":[]},"
            "{\"Id\":\"sha256:bb\",\"RepoTags\":null,\"Created\":0,\"Size\":1},"
            "{\"Id\":\"sha256:cc\",\"RepoTags\":[\"<none>:<none>\"],\"Size\":7}]";
        struct docker_image *l = NULL;
        size_t n = 0;

        assert_int_equal(docker_image_list_parse(body, strlen(body), &l, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(l[0].id, "sha256:aa");
        assert_string_equal(l[0].repo_tags[0], "busybox:latest");
        assert_string_equal(l[0].repo_tags[1], "x/y:1");
        assert_null(l[0].repo_tags[2]);
        assert_int_equal(l[0].created_usec, 1700000000ULL * 1000000ULL);
        assert_int_equal(l[0].size, 4096);
        assert_non_null(l[1].repo_tags);
        assert_null(l[1].repo_tags[0]);
        assert_int_equal(l[1].created_usec, 0);
        assert_string_equal(l[2].repo_tags[0], "<none>:<none>");
        docker_image_list_free(l, n);

        assert_int_equal(docker_image_list_parse("[]", 2, &l, &n), 0);
        assert_int_equal(n, 0);
        docker_image_list_free(l, n);
}

static void test_bad(void **state)
{
        (void)state;
        static const char *const bad[] = {
            "{}", "[1]", "[{\"RepoTags\":[]}]", "[{\"Id\":\"\"}]", "not json", "[{\"Id\":\"a\"",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct docker_image *l = NULL;
                size_t n = 0;
                assert_int_equal(docker_image_list_parse(bad[i], strlen(bad[i]), &l, &n), -EBADMSG);
                assert_null(l);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_list),
            cmocka_unit_test(test_bad),
        };
        return cmocka_run_group_tests_name("docker_image_list", tests, NULL, NULL);
}
