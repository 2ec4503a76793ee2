/* The JSON layer: every kind decodes, validates with a reason naming the field path, encodes,
 * survives a round trip, and frees what it allocated (ASan checks the last). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"

enum colour { RED, GREEN, _COLOUR_INVALID = -EINVAL };

static enum colour colour_from_string(const char *s)
{
        return streq_ptr(s, "red") ? RED : streq_ptr(s, "green") ? GREEN : _COLOUR_INVALID;
}

static const char *colour_to_string(enum colour c)
{
        return c == RED ? "red" : c == GREEN ? "green" : NULL;
}

JSONMAP_ENUM_NAMES(colour_enum, colour_from_string, colour_to_string);

struct point {
        int32_t x, y;
};

struct inner {
        char *label;
        bool on;
};

struct all {
        char *str;
        char chars[8];
        char **list;
        char **env;
        bool flag;
        uint16_t u16;
        uint32_t u32;
        int32_t i32;
        int64_t i64;
        uint64_t u64;
        double dbl;
        uint64_t when;
        enum colour colour;
        struct inner inner;
        struct inner *ptr;
        struct point *points;
        size_t n_points;
        int *codes;
        size_t n_codes;
        char *flat; /* from "wrapper": {"flat": ...} */
        int custom;
        char *secret;
};

static const struct jsonmap_field point_fields[] = {
    JSONMAP_I32("x", struct point, x, .flags = JSONMAP_REQUIRED),
    JSONMAP_I32("y", struct point, y, .min = -10, .max = 10),
    JSONMAP_END,
};
static const struct jsonmap_type point_type = JSONMAP_TYPE(struct point, point_fields);

static const struct jsonmap_field inner_fields[] = {
    JSONMAP_STRING("label", struct inner, label),
    JSONMAP_BOOL("on", struct inner, on),
    JSONMAP_END,
};
static const struct jsonmap_type inner_type = JSONMAP_TYPE(struct inner, inner_fields);

static const struct jsonmap_field wrapper_fields[] = {
    JSONMAP_STRING("flat", struct all, flat),
    JSONMAP_END,
};
static const struct jsonmap_type wrapper_type = JSONMAP_TYPE(struct all, wrapper_fields);

/* "custom": an integer written as a string of digits. */
static int decode_custom(struct jsonmap_ctx *c, json_object *v, void *value)
{
        if (!json_object_is_type(v, json_type_string))
                return jsonmap_fail_member(c, -EINVAL, "is not a string of digits");
        *(int *)value = atoi(json_object_get_string(v));
        return 0;
}

static int encode_custom(const void *value, json_object **ret)
{
        char buf[16];

        if (*(const int *)value == 0)
                return 0;
        snprintf(buf, sizeof(buf), "%d", *(const int *)value);
        *ret = json_object_new_string(buf);
        return *ret ? 0 : -ENOMEM;
}

static int check_even(struct jsonmap_ctx *c, const void *obj, const void *value)
{
        if (*(const uint16_t *)value % 2)
                return jsonmap_fail(c, -EINVAL, "odd value %u", *(const uint16_t *)value);
        return 0;
}

#define A struct all
static const struct jsonmap_field all_fields[] = {
    JSONMAP_STRING("str", A, str),
    JSONMAP_CHARS("chars", A, chars),
    JSONMAP_STRV("list", A, list),
    JSONMAP_KV("env", A, env),
    JSONMAP_BOOL("flag", A, flag),
    JSONMAP_U16("u16", A, u16, .check = check_even),
    JSONMAP_U32("u32", A, u32),
    JSONMAP_I32("i32", A, i32),
    JSONMAP_I64("i64", A, i64),
    JSONMAP_U64("u64", A, u64),
    JSONMAP_DOUBLE("dbl", A, dbl, .dmin = -1, .dmax = 100),
    JSONMAP_EPOCH("when", A, when),
    JSONMAP_ENUM("colour", A, colour, &colour_enum),
    JSONMAP_OBJECT("inner", A, inner, &inner_type),
    JSONMAP_OBJECT_PTR("ptr", A, ptr, &inner_type),
    JSONMAP_ARRAY("points", A, points, n_points, &point_type, .limit = 3),
    JSONMAP_INT_ARRAY("codes", A, codes, n_codes),
    JSONMAP_FLATTEN("wrapper", &wrapper_type),
    JSONMAP_CUSTOM("custom", A, custom, .decode = decode_custom, .encode = encode_custom),
    JSONMAP_STRING("secret", A, secret, .flags = JSONMAP_SECRET),
    JSONMAP_REFUSE("future"),
    JSONMAP_END,
};
#undef A
static const struct jsonmap_type all_type = JSONMAP_TYPE(struct all, all_fields);

static const struct jsonmap_limits limits = {.max_string = 32, .max_items = 4};

#define FULL                                                                                       \
        "{\"str\":\"hello\",\"chars\":\"abc\",\"list\":[\"a\",\"b\"],\"env\":{\"K\":\"v\","        \
        "\"E\":null},\"flag\":true,\"u16\":65534,\"u32\":4294967295,\"i32\":-2147483648,"          \
        "\"i64\":-9007199254740993,\"u64\":9223372036854775807,\"dbl\":2.5,"                       \
        "\"when\":1700000001.512,\"colour\":\"green\",\"inner\":{\"label\":\"in\",\"on\":true},"   \
        "\"ptr\":{\"label\":\"p\"},\"points\":[{\"x\":1,\"y\":-10},{\"x\":2.0}],"                  \
        "\"codes\":[0,-1,255],\"wrapper\":{\"flat\":\"f\"},\"custom\":\"42\","                     \
        "\"secret\":\"s3cr3t\",\"future\":[],\"ignored\":{\"x\":1}}"

static int decode_text(const char *text, struct all *a, struct jsonmap_ctx *c)
{
        _cleanup_json_ json_object *o = NULL;

        assert_int_equal(json_parse(text, strlen(text), &o), 0);
        jsonmap_ctx_init(c, "doc", &limits);
        return jsonmap_decode(c, &all_type, o, a);
}

static void test_decode_every_kind(void **state)
{
        struct jsonmap_ctx c;
        struct all a = {};

        assert_int_equal(decode_text(FULL, &a, &c), 0);
        assert_string_equal(c.reason, "");
        assert_string_equal(a.str, "hello");
        assert_string_equal(a.chars, "abc");
        assert_string_equal(a.list[0], "a");
        assert_string_equal(a.list[1], "b");
        assert_null(a.list[2]);
        assert_string_equal(a.env[0], "K=v");
        assert_string_equal(a.env[1], "E="); /* null reads as "" */
        assert_null(a.env[2]);
        assert_true(a.flag);
        assert_int_equal(a.u16, 65534);
        assert_int_equal(a.u32, UINT32_MAX);
        assert_int_equal(a.i32, INT32_MIN);
        assert_true(a.i64 == -9007199254740993LL);
        assert_true(a.u64 == (uint64_t)INT64_MAX);
        assert_true(a.dbl == 2.5);
        assert_true(a.when == 1700000001512000ULL);
        assert_int_equal(a.colour, GREEN);
        assert_string_equal(a.inner.label, "in");
        assert_true(a.inner.on);
        assert_non_null(a.ptr);
        assert_string_equal(a.ptr->label, "p");
        assert_false(a.ptr->on);
        assert_int_equal(a.n_points, 2);
        assert_int_equal(a.points[0].x, 1);
        assert_int_equal(a.points[0].y, -10);
        assert_int_equal(a.points[1].x, 2); /* an integral double is an integer */
        assert_int_equal(a.n_codes, 3);
        assert_int_equal(a.codes[1], -1);
        assert_int_equal(a.codes[2], 255);
        assert_string_equal(a.flat, "f");
        assert_int_equal(a.custom, 42);
        assert_string_equal(a.secret, "s3cr3t");
        jsonmap_done(&all_type, &a);
        assert_null(a.str);
        assert_null(a.list);
        assert_null(a.ptr);
        assert_null(a.points);
        assert_int_equal(a.n_points, 0);
        assert_null(a.codes);
}

static void test_absent_and_null(void **state)
{
        struct jsonmap_ctx c;
        struct all a = {.u32 = 7, .colour = GREEN, .flag = true};

        /* Absent and null leave numbers, enums and booleans as the caller set them. */
        assert_int_equal(decode_text("{\"u32\":null,\"str\":null,\"list\":null}", &a, &c), 0);
        assert_int_equal(a.u32, 7);
        assert_int_equal(a.colour, GREEN);
        assert_true(a.flag);
        assert_null(a.str);
        assert_null(a.list);
        assert_null(a.ptr);
        jsonmap_done(&all_type, &a);
}

struct flags {
        char *req;
        char *empty;
        char *nulled;
        char **list;
        int colour;
};

static const struct jsonmap_field flags_fields[] = {
    JSONMAP_STRING("req", struct flags, req, .flags = JSONMAP_REQUIRED),
    JSONMAP_STRING("empty", struct flags, empty, .flags = JSONMAP_EMPTY_IF_ABSENT),
    JSONMAP_STRING("nulled", struct flags, nulled, .flags = JSONMAP_NULL_IF_EMPTY),
    JSONMAP_STRV("list", struct flags, list, .flags = JSONMAP_NULL_IF_EMPTY),
    JSONMAP_ENUM("colour", struct flags, colour, &colour_enum, .flags = JSONMAP_LENIENT),
    JSONMAP_END,
};
static const struct jsonmap_type flags_type = JSONMAP_TYPE(struct flags, flags_fields);

static int decode_flags(const char *text, struct flags *f, struct jsonmap_ctx *c)
{
        _cleanup_json_ json_object *o = NULL;

        assert_int_equal(json_parse(text, strlen(text), &o), 0);
        jsonmap_ctx_init(c, NULL, NULL);
        return jsonmap_decode(c, &flags_type, o, f);
}

static void test_flags(void **state)
{
        struct jsonmap_ctx c;
        struct flags f = {};

        assert_int_equal(decode_flags("{\"req\":\"r\",\"nulled\":\"\",\"list\":[],"
                                      "\"colour\":\"blue\"}",
                                      &f, &c),
                         0);
        assert_string_equal(f.req, "r");
        assert_string_equal(f.empty, "");
        assert_null(f.nulled);
        assert_null(f.list);
        assert_int_equal(f.colour, -EINVAL); /* lenient: the parse's error is kept */
        jsonmap_done(&flags_type, &f);

        assert_int_equal(decode_flags("{}", &f, &c), -EINVAL);
        assert_string_equal(c.reason, "req is not set");
        jsonmap_done(&flags_type, &f);
        assert_int_equal(decode_flags("{\"req\":null}", &f, &c), -EINVAL);
        assert_string_equal(c.reason, "req is not set");
        assert_int_equal(decode_flags("{\"req\":\"\"}", &f, &c), -EINVAL);
        assert_string_equal(c.reason, "req is empty");
        jsonmap_done(&flags_type, &f);
        assert_int_equal(decode_flags("[]", &f, &c), -EINVAL);
        assert_string_equal(c.reason, "document is not an object");
}

static void assert_refused(const char *text, int code, const char *reason)
{
        struct jsonmap_ctx c;
        struct all a = {};
        int r = decode_text(text, &a, &c);

        if (r != code || !streq(c.reason, reason))
                fail_msg("%s: got %d '%s', want %d '%s'", text, r, c.reason, code, reason);
        jsonmap_done(&all_type, &a); /* frees what was decoded before the failure */
}

static void test_errors_name_the_path(void **state)
{
        assert_refused("{\"str\":5}", -EINVAL, "doc.str is not a string");
        assert_refused("{\"str\":\"a\\u0000b\"}", -EINVAL, "doc.str contains a NUL character");
        assert_refused("{\"str\":\"012345678901234567890123456789012\"}", -E2BIG,
                       "doc.str is longer than 32 bytes");
        assert_refused("{\"chars\":\"12345678\"}", -E2BIG, "doc.chars is longer than 7 bytes");
        assert_refused("{\"list\":\"a\"}", -EINVAL, "doc.list is not an array");
        assert_refused("{\"list\":[\"a\",null]}", -EINVAL, "doc.list[1] is not a string");
        assert_refused("{\"list\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", -E2BIG,
                       "doc.list has more than 4 entries");
        assert_refused("{\"env\":[]}", -EINVAL, "doc.env is not an object");
        assert_refused("{\"env\":{\"A=B\":\"1\"}}", -EINVAL, "doc.env has an invalid key 'A=B'");
        assert_refused("{\"env\":{\"A\":1}}", -EINVAL, "doc.env.A is not a string");
        assert_refused("{\"flag\":1}", -EINVAL, "doc.flag is not a boolean");
        assert_refused("{\"u16\":65536}", -ERANGE, "doc.u16 is out of range [0, 65535]");
        assert_refused("{\"u16\":-1}", -ERANGE, "doc.u16 is out of range [0, 65535]");
        assert_refused("{\"u16\":3}", -EINVAL, "doc.u16: odd value 3");
        assert_refused("{\"u32\":1.5}", -EINVAL, "doc.u32 is not an integer");
        assert_refused("{\"u32\":\"1\"}", -EINVAL, "doc.u32 is not an integer");
        assert_refused("{\"i32\":2147483648}", -ERANGE,
                       "doc.i32 is out of range [-2147483648, 2147483647]");
        assert_refused("{\"u64\":-1}", -ERANGE, "doc.u64 is out of range [0, 9223372036854775807]");
        /* What int64 cannot hold is refused, though json-c reads it as INT64_MAX. */
        assert_refused("{\"u64\":9223372036854775808}", -ERANGE,
                       "doc.u64 is out of range [0, 9223372036854775807]");
        assert_refused("{\"i64\":99999999999999999999}", -ERANGE,
                       "doc.i64 is out of range [-9223372036854775808, 9223372036854775807]");
        assert_refused("{\"dbl\":101}", -EINVAL, "doc.dbl is not a number in [-1, 100]");
        assert_refused("{\"dbl\":\"2\"}", -EINVAL, "doc.dbl is not a number in [-1, 100]");
        assert_refused("{\"when\":-1}", -EINVAL, "doc.when is not a time in epoch seconds");
        assert_refused("{\"colour\":\"blue\"}", -EINVAL, "doc.colour has an unknown value 'blue'");
        assert_refused("{\"colour\":\"\\u0001x\"}", -EINVAL,
                       "doc.colour has an unknown value '?x'");
        assert_refused("{\"inner\":[]}", -EINVAL, "doc.inner is not an object");
        assert_refused("{\"inner\":{\"on\":\"yes\"}}", -EINVAL, "doc.inner.on is not a boolean");
        assert_refused("{\"ptr\":{\"label\":1}}", -EINVAL, "doc.ptr.label is not a string");
        assert_refused("{\"points\":[{\"x\":1},{\"y\":1}]}", -EINVAL, "doc.points[1].x is not set");
        assert_refused("{\"points\":[{\"x\":1,\"y\":11}]}", -ERANGE,
                       "doc.points[0].y is out of range [-10, 10]");
        assert_refused("{\"points\":[1]}", -EINVAL, "doc.points[0] is not an object");
        assert_refused("{\"points\":[{\"x\":1},{\"x\":1},{\"x\":1},{\"x\":1}]}", -E2BIG,
                       "doc.points has more than 3 entries");
        assert_refused("{\"codes\":[1,\"2\"]}", -EINVAL, "doc.codes[1] is not an integer");
        assert_refused("{\"wrapper\":{\"flat\":[]}}", -EINVAL, "doc.wrapper.flat is not a string");
        assert_refused("{\"custom\":7}", -EINVAL, "doc.custom is not a string of digits");
        assert_refused("{\"future\":{\"a\":1}}", -EOPNOTSUPP, "doc.future is not supported yet");
        assert_refused("{\"future\":\"x\"}", -EOPNOTSUPP, "doc.future is not supported yet");
        /* A secret is never quoted: only the member's name appears. */
        assert_refused("{\"secret\":\"012345678901234567890123456789012\"}", -E2BIG,
                       "doc.secret is longer than 32 bytes");
        /* The first failure is the one reported. */
        assert_refused("{\"str\":1,\"flag\":2}", -EINVAL, "doc.str is not a string");
}

static void test_encode(void **state)
{
        _cleanup_free_ char *list0 = strdup("x"), *env0 = strdup("K=v");
        char *list[] = {list0, NULL}, *env[] = {env0, NULL};
        struct point points[] = {{1, 2}, {-3, 4}};
        int codes[] = {7, -8};
        struct inner in = {.label = (char *)"p", .on = true};
        struct all a = {
            .str = (char *)"hello",
            .chars = "ab",
            .list = list,
            .env = env,
            .u16 = 2,
            .i64 = -5,
            .u64 = 6,
            .dbl = 0.5,
            .when = 1700000001512999ULL,
            .colour = RED,
            .inner = {.label = (char *)"in"},
            .ptr = &in,
            .points = points,
            .n_points = 2,
            .codes = codes,
            .n_codes = 2,
            .flat = (char *)"f",
            .custom = 9,
        };
        _cleanup_json_ json_object *o = NULL;

        assert_int_equal(jsonmap_encode(&all_type, &a, NULL, &o), 0);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"str\":\"hello\",\"chars\":\"ab\",\"list\":[\"x\"],\"env\":{\"K\":"
                            "\"v\"},\"flag\":false,\"u16\":2,\"u32\":0,\"i32\":0,\"i64\":-5,"
                            "\"u64\":6,\"dbl\":0.5,\"when\":1700000001.512,\"colour\":\"red\","
                            "\"inner\":{\"label\":\"in\",\"on\":false},\"ptr\":{\"label\":\"p\","
                            "\"on\":true},\"points\":[{\"x\":1,\"y\":2},{\"x\":-3,\"y\":4}],"
                            "\"codes\":[7,-8],\"wrapper\":{\"flat\":\"f\"},\"custom\":\"9\"}");

        /* Over a limit without JSONMAP_TRUNCATE; an enum value without a name. */
        json_object *bad = NULL;
        assert_int_equal(jsonmap_encode(&all_type, &a, &limits, &bad), 0);
        json_object_put(bad);
        a.str = (char *)"0123456789012345678901234567890123";
        assert_int_equal(jsonmap_encode(&all_type, &a, &limits, &bad), -E2BIG);
        a.str = NULL;
        a.colour = (enum colour)5;
        assert_int_equal(jsonmap_encode(&all_type, &a, NULL, &bad), -EINVAL);
        a.colour = RED;
        a.u64 = UINT64_MAX;
        assert_int_equal(jsonmap_encode(&all_type, &a, NULL, &bad), -ERANGE);
}

struct report {
        const char *name;
        const char *note;
        const char *reason;
        uint64_t at;
        int count;
        bool ok;
        char **tags;
};

static const struct jsonmap_field report_fields[] = {
    JSONMAP_STRING("name", struct report, name, .flags = JSONMAP_NULL_AS_EMPTY),
    JSONMAP_STRING("note", struct report, note, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_STRING("reason", struct report, reason, .flags = JSONMAP_TRUNCATE, .limit = 5),
    JSONMAP_EPOCH("at", struct report, at, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_I32("count", struct report, count, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_BOOL("ok", struct report, ok, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_STRV("tags", struct report, tags, .flags = JSONMAP_OMIT_EMPTY),
    JSONMAP_END,
};
static const struct jsonmap_type report_type = JSONMAP_TYPE(struct report, report_fields);

static void assert_report(const struct report *r, const char *want)
{
        _cleanup_json_ json_object *o = NULL;

        assert_int_equal(jsonmap_encode(&report_type, r, NULL, &o), 0);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), want);
}

static void test_encode_flags(void **state)
{
        char *none[] = {NULL};

        assert_report(&(struct report){.note = "", .tags = none}, "{\"name\":\"\"}");
        assert_report(
            &(struct report){.name = "n", .note = "x", .at = 1500, .count = -1, .ok = true},
            "{\"name\":\"n\",\"note\":\"x\",\"at\":0.001,\"count\":-1,\"ok\":true}");
        /* Cut at the limit, never inside a UTF-8 sequence: "ab" + 3-byte euro sign + "z". */
        assert_report(&(struct report){.name = "n", .reason = "ab\xE2\x82\xACz"},
                      "{\"name\":\"n\",\"reason\":\"ab\xE2\x82\xAC\"}");
        assert_report(&(struct report){.name = "n", .reason = "abc\xE2\x82\xAC"},
                      "{\"name\":\"n\",\"reason\":\"abc\"}");
}

static void test_round_trip(void **state)
{
        _cleanup_json_ json_object *first = NULL, *second = NULL;
        struct jsonmap_ctx c;
        struct all a = {}, b = {};

        assert_int_equal(decode_text(FULL, &a, &c), 0);
        assert_int_equal(jsonmap_encode(&all_type, &a, NULL, &first), 0);
        jsonmap_ctx_init(&c, NULL, NULL);
        assert_int_equal(jsonmap_decode(&c, &all_type, first, &b), 0);
        assert_int_equal(jsonmap_encode(&all_type, &b, NULL, &second), 0);
        assert_true(json_object_equal(first, second));
        assert_string_equal(b.secret, "s3cr3t");
        assert_true(b.when == a.when);
        assert_true(b.i64 == a.i64);
        jsonmap_done(&all_type, &a);
        jsonmap_done(&all_type, &b);
}

/* A type check choosing a member's shape by another member. */
struct shape {
        char *kind;
        struct point p;
};

static const struct jsonmap_field shape_point_fields[] = {
    JSONMAP_I32("x", struct point, x),
    JSONMAP_END,
};
static const struct jsonmap_type shape_point_type = JSONMAP_TYPE(struct point, shape_point_fields);

static int check_shape(struct jsonmap_ctx *c, json_object *o, void *obj)
{
        struct shape *s = obj;

        if (streq(s->kind, "point"))
                return jsonmap_decode_member(c, &shape_point_type, o, "point", true, &s->p);
        return jsonmap_fail(c, -EINVAL, "unknown kind");
}

static void shape_init(void *obj)
{
        ((struct shape *)obj)->p.x = -1;
}

static const struct jsonmap_field shape_fields[] = {
    JSONMAP_STRING("kind", struct shape, kind, .flags = JSONMAP_REQUIRED),
    JSONMAP_END,
};
static const struct jsonmap_type shape_type =
    JSONMAP_TYPE(struct shape, shape_fields, .init = shape_init, .check = check_shape);

static int decode_shape(const char *text, struct shape *s, struct jsonmap_ctx *c)
{
        _cleanup_json_ json_object *o = NULL;

        assert_int_equal(json_parse(text, strlen(text), &o), 0);
        jsonmap_ctx_init(c, "shapes[2]", NULL);
        return jsonmap_decode(c, &shape_type, o, s);
}

static void test_type_hooks(void **state)
{
        struct jsonmap_ctx c;
        struct shape s = {};

        assert_int_equal(decode_shape("{\"kind\":\"point\",\"point\":{\"x\":3}}", &s, &c), 0);
        assert_int_equal(s.p.x, 3);
        jsonmap_done(&shape_type, &s);

        assert_int_equal(decode_shape("{\"kind\":\"point\"}", &s, &c), -EINVAL);
        assert_string_equal(c.reason, "shapes[2].point is not set");
        assert_int_equal(s.p.x, -1); /* init ran */
        jsonmap_done(&shape_type, &s);

        assert_int_equal(decode_shape("{\"kind\":\"line\"}", &s, &c), -EINVAL);
        assert_string_equal(c.reason, "shapes[2]: unknown kind");
        jsonmap_prepend(&c, "Message");
        assert_string_equal(c.reason, "Message: shapes[2]: unknown kind");
        jsonmap_done(&shape_type, &s);
}

static void test_truncate_and_quote(void **state)
{
        char s1[] = "ab\xC3\xA9";
        jsonmap_truncate_utf8(s1, 3);
        assert_string_equal(s1, "ab");
        char s2[] = "abc";
        jsonmap_truncate_utf8(s2, 5);
        assert_string_equal(s2, "abc");

        char q[48];
        assert_string_equal(jsonmap_quote(NULL, q), "(null)");
        assert_string_equal(jsonmap_quote("a\nb", q), "a?b");
        assert_string_equal(jsonmap_quote("0123456789012345678901234567890123456789xyz", q),
                            "0123456789012345678901234567890123456789...");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_decode_every_kind),
            cmocka_unit_test(test_absent_and_null),
            cmocka_unit_test(test_flags),
            cmocka_unit_test(test_errors_name_the_path),
            cmocka_unit_test(test_encode),
            cmocka_unit_test(test_encode_flags),
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_type_hooks),
            cmocka_unit_test(test_truncate_and_quote),
        };
        return cmocka_run_group_tests_name("jsonmap", tests, NULL, NULL);
}
