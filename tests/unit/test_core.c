/* Unit tests for the small core helpers: bounded buffers, JSON edge parsing, backoff, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ecs/backoff.h"
#include "ecs/jsonutil.h"
#include "ecs/strbuf.h"
#include "ecs/uuid.h"

/* The one whole-file reader: empty files, the limit to the byte, missing files, and the
 * size-0 files of /proc read to EOF. */
static void test_read_file_full(void **state)
{
        char dir[] = "/tmp/ecs-test-read-XXXXXX", path[64];
        char *data = NULL;
        size_t len = 99;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/f", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(read_file_full(path, 4, &data, &len), 0);
        assert_string_equal(data, "");
        assert_int_equal(len, 0);
        free(data);

        f = fopen(path, "w");
        fputs("abcd", f);
        fclose(f);
        assert_int_equal(read_file_full(path, 4, &data, &len), 0);
        assert_string_equal(data, "abcd");
        assert_int_equal(len, 4);
        free(data);
        data = NULL;
        assert_int_equal(read_file_full(path, 3, &data, NULL), -EFBIG);
        assert_null(data);
        unlink(path);
        assert_int_equal(read_file_full(path, 3, &data, NULL), -ENOENT);
        rmdir(dir);

        assert_int_equal(read_file_full("/proc/self/status", 1 << 20, &data, &len), 0);
        assert_true(len > 0 && strstr(data, "VmRSS:"));
        free(data);
}

/* Opening a file to read whole: only a regular file, and only up to the limit. */
static void test_open_regular_file(void **state)
{
        char dir[] = "/tmp/ecs-test-open-XXXXXX", path[64];
        int fd = -EBADF;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/f", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("abcd", f);
        fclose(f);
        assert_int_equal(open_regular_file(path, 4, &fd), 0);
        assert_true(fd >= 0);
        close(fd);
        fd = -EBADF;
        assert_int_equal(open_regular_file(path, 3, &fd), -EFBIG);
        assert_int_equal(open_regular_file(dir, 1 << 20, &fd), -EBADF);
        assert_int_equal(open_regular_file("/dev/null", 1 << 20, &fd), -EBADF);
        assert_int_equal(fd, -EBADF); /* written only on success */
        unlink(path);
        assert_int_equal(open_regular_file(path, 4, &fd), -ENOENT);
        rmdir(dir);
}

static void test_unhexchar(void **state)
{
        const char *digits = "0123456789abcdef", *upper = "ABCDEF";

        for (int i = 0; i < 16; i++)
                assert_int_equal(unhexchar(digits[i]), i);
        for (int i = 0; i < 6; i++)
                assert_int_equal(unhexchar(upper[i]), 10 + i);
        assert_int_equal(unhexchar('g'), -EINVAL);
        assert_int_equal(unhexchar('G'), -EINVAL);
        assert_int_equal(unhexchar(' '), -EINVAL);
        assert_int_equal(unhexchar('\0'), -EINVAL);
        assert_int_equal(unhexchar((char)0xc3), -EINVAL);
}

static void test_strbuf_limit(void **state)
{
        struct strbuf b = STRBUF_INIT(8);

        assert_int_equal(strbuf_puts(&b, "abcd"), 0);
        assert_int_equal(strbuf_printf(&b, "%d", 123), 0);
        assert_string_equal(b.data, "abcd123");
        /* Past the limit nothing changes. */
        assert_int_equal(strbuf_puts(&b, "xy"), -E2BIG);
        assert_string_equal(b.data, "abcd123");
        strbuf_consume(&b, 2);
        assert_string_equal(b.data, "cd123");
        char *s = strbuf_steal(&b);
        assert_string_equal(s, "cd123");
        assert_null(b.data);
        free(s);
        strbuf_done(&b);
}

static void test_json_parse(void **state)
{
        json_object *o = NULL;

        assert_int_equal(json_parse("{\"a\":1}  \n", 10, &o), 0);
        assert_int_equal(json_get_int(o, "a", 0, NULL), 1);
        json_object_put(o);

        o = NULL;
        assert_int_equal(json_parse("{\"a\":1} x", 9, &o), -EBADMSG);
        assert_null(o);
        assert_int_equal(json_parse("{\"a\":", 5, &o), -EBADMSG);
        assert_int_equal(json_parse("", 0, &o), -EBADMSG);

        /* Nesting beyond the limit is refused. */
        char deep[2 * (ECS_JSON_MAX_DEPTH + 2) + 1];
        size_t n = 0;
        for (int i = 0; i < ECS_JSON_MAX_DEPTH + 2; i++)
                deep[n++] = '[';
        for (int i = 0; i < ECS_JSON_MAX_DEPTH + 2; i++)
                deep[n++] = ']';
        deep[n] = 0;
        assert_int_equal(json_parse(deep, n, &o), -EBADMSG);
}

static void test_json_typed_get(void **state)
{
        _cleanup_json_ json_object *o = NULL;
        const char *doc = "{\"s\":\"x\",\"i\":7,\"d\":0.25,\"di\":3.0,\"b\":true,\"n\":null,"
                          "\"a\":[1],\"o\":{}}";
        bool ok = true;

        assert_int_equal(json_parse(doc, strlen(doc), &o), 0);
        assert_string_equal(json_get_string(o, "s", &ok), "x");
        assert_true(ok);
        assert_int_equal(json_get_int(o, "i", 0, &ok), 7);
        assert_int_equal(json_get_int(o, "di", 0, &ok), 3);
        assert_true(ok);
        assert_true(json_get_double(o, "d", 0, &ok) == 0.25);
        assert_true(json_get_bool(o, "b", false, &ok));
        assert_null(json_get_string(o, "n", &ok));
        assert_null(json_get_string(o, "missing", &ok));
        assert_true(ok); /* missing and null are not type errors */
        assert_non_null(json_get_array(o, "a", &ok));
        assert_non_null(json_get_object(o, "o", &ok));
        assert_true(ok);

        assert_null(json_get_string(o, "i", &ok));
        assert_false(ok);
        ok = true;
        assert_int_equal(json_get_int(o, "d", -1, &ok), -1); /* 0.25 is not an integer */
        assert_false(ok);
        ok = true;
        assert_null(json_get_array(o, "o", &ok));
        assert_false(ok);
}

static void test_json_epoch(void **state)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        assert_int_equal(json_add_epoch(o, "t", 1700000000123456ULL), 0);
        _cleanup_free_ char *s = json_dump(o);
        assert_string_equal(s, "{\"t\":1700000000.123}");
}

static void test_backoff(void **state)
{
        struct backoff b = BACKOFF_INIT(100, 1000, 2.0, 0.2);
        uint64_t d;

        d = backoff_next(&b);
        assert_true(d >= 100 && d <= 120);
        d = backoff_next(&b);
        assert_true(d >= 200 && d <= 240);
        for (int i = 0; i < 10; i++)
                d = backoff_next(&b);
        assert_true(d >= 1000 && d <= 1200); /* capped base plus jitter */
        backoff_reset(&b);
        d = backoff_next(&b);
        assert_true(d >= 100 && d <= 120);
}

static void test_uuid(void **state)
{
        char a[37], b[37], h[21];

        assert_int_equal(uuid_v4(a), 0);
        assert_int_equal(uuid_v4(b), 0);
        assert_int_equal(strlen(a), 36);
        assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
        assert_true(a[14] == '4');
        assert_true(strchr("89ab", a[19]) != NULL);
        assert_string_not_equal(a, b);
        assert_int_equal(random_hex(h, 10), 0);
        assert_int_equal(strlen(h), 20);
        assert_int_equal(strspn(h, "0123456789abcdef"), 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_strbuf_limit),
            cmocka_unit_test(test_read_file_full),
            cmocka_unit_test(test_open_regular_file),
            cmocka_unit_test(test_unhexchar),
            cmocka_unit_test(test_json_parse),
            cmocka_unit_test(test_json_typed_get),
            cmocka_unit_test(test_json_epoch),
            cmocka_unit_test(test_backoff),
            cmocka_unit_test(test_uuid),
        };
        return cmocka_run_group_tests_name("test_core", tests, NULL, NULL);
}
