/* The declarative mapping between wire JSON (json-c trees) and C structs: one table of fields
 * per struct -- JSON name, kind, offset, flags, limits, nested table -- read by one decoder and
 * one encoder, so a new message shape costs a table, not a page of code.
 *
 * Decoding validates as it goes and stops at the first problem, recording a reason that names
 * the field by its JSON path ("containers[1].portMappings[0].hostPort is out of range [0,
 * 65535]"); whatever it allocated so far is freed by jsonmap_done() on the same table. Members
 * the table does not name are ignored; JSON null reads as absent. Peer-supplied text appears in
 * a reason only quoted (printable ASCII, shortened), and never for a JSONMAP_SECRET field.
 *
 * Decoding semantics per kind, when the member is absent or null: strings stay NULL ("" with
 * JSONMAP_EMPTY_IF_ABSENT), lists and arrays stay NULL with a zero count, numbers, booleans,
 * enums and inline objects stay as they were (the caller's defaults; see jsonmap_type.init).
 * With JSONMAP_REQUIRED an absent member is an error and a required string must not be empty.
 *
 * Encoding writes members in table order: NULL strings, lists and pointers are omitted; with
 * JSONMAP_OMIT_EMPTY so are "", empty lists and arrays, false and zero numbers. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/macro.h"

enum jsonmap_kind {
        JSONMAP_STRING,     /* char *: a string */
        JSONMAP_CHARS,      /* char[.size], NUL-terminated: a string shorter than .size */
        JSONMAP_STRV,       /* char **, NULL-terminated: an array of strings */
        JSONMAP_KV,         /* char ** of "key=value", wire order: an object of strings */
        JSONMAP_BOOL,       /* bool */
        JSONMAP_U16,        /* uint16_t */
        JSONMAP_U32,        /* uint32_t */
        JSONMAP_I32,        /* int32_t / int */
        JSONMAP_I64,        /* int64_t */
        JSONMAP_U64,        /* uint64_t, at most INT64_MAX on the wire */
        JSONMAP_DOUBLE,     /* double, finite */
        JSONMAP_EPOCH,      /* uint64_t realtime usec: epoch seconds with millisecond fraction */
        JSONMAP_ENUM,       /* an int-sized enum: a string through .enumeration */
        JSONMAP_OBJECT,     /* struct at .offset (offset of a sub-struct, or 0 to flatten) */
        JSONMAP_OBJECT_PTR, /* struct *, allocated when the member is present */
        JSONMAP_ARRAY,      /* T * and a size_t count: an array of objects */
        JSONMAP_INT_ARRAY,  /* int * and a size_t count: an array of 32-bit integers */
        JSONMAP_REFUSE,     /* decoding only: any value but null, "" or [] is -EOPNOTSUPP */
        JSONMAP_CUSTOM,     /* .decode / .encode / .done */
};

enum {
        JSONMAP_REQUIRED = 1U << 0,        /* absent or null is an error; strings non-empty */
        JSONMAP_EMPTY_IF_ABSENT = 1U << 1, /* strings: absent reads as "" */
        JSONMAP_NULL_IF_EMPTY = 1U << 2,   /* strings, lists, maps: empty reads as NULL */
        JSONMAP_OMIT_EMPTY = 1U << 3,      /* encoding: "", [], {}, false, 0 are left out */
        JSONMAP_NULL_AS_EMPTY = 1U << 4,   /* encoding: a NULL string is written as "" */
        JSONMAP_TRUNCATE = 1U << 5,        /* encoding: cut at .limit bytes (UTF-8 boundary) */
        JSONMAP_SECRET = 1U << 6,          /* strings: never quoted, wiped before free */
        JSONMAP_LENIENT = 1U << 7,         /* enums: an unknown name stores the parse's error */
};

struct jsonmap_ctx;

/* An enum's wire names. parse returns the value or a negative errno; name returns NULL for a
 * value without a name (encoding then fails with -EINVAL). */
struct jsonmap_enum {
        int (*parse)(const char *s);
        const char *(*name)(int v);
};

/* Defines static const struct jsonmap_enum var from a pair of functions over any enum whose
 * values fit an int: parse_fn(const char *) and name_fn(value). */
#define JSONMAP_ENUM_NAMES(var, parse_fn, name_fn)                                                 \
        static int var##_parse_(const char *s)                                                     \
        {                                                                                          \
                return (int)parse_fn(s);                                                           \
        }                                                                                          \
        static const char *var##_name_(int v)                                                      \
        {                                                                                          \
                return name_fn(v);                                                                 \
        }                                                                                          \
        static const struct jsonmap_enum var = {var##_parse_, var##_name_}

struct jsonmap_type;

struct jsonmap_field {
        const char *name; /* JSON member; NULL ends the table */
        enum jsonmap_kind kind;
        unsigned flags;
        size_t offset;
        size_t count_offset; /* ARRAY, INT_ARRAY: the size_t element count */
        size_t size;         /* CHARS: buffer size; ARRAY, OBJECT_PTR: element size */
        int64_t min, max;    /* integers; both 0: the C type's range */
        double dmin, dmax;   /* DOUBLE; both 0: any finite value */
        size_t limit;        /* strings: bytes; lists, maps, arrays: entries; 0: the context's */
        const struct jsonmap_type *type;        /* OBJECT, OBJECT_PTR, ARRAY */
        const struct jsonmap_enum *enumeration; /* ENUM */
        /* After the member was decoded, present or not, with the struct decoded so far (members
         * above this one are set); reports with jsonmap_fail(). */
        int (*check)(struct jsonmap_ctx *c, const void *obj, const void *value);
        /* CUSTOM: v is present (not null); encode sets *ret to NULL to leave the member out. */
        int (*decode)(struct jsonmap_ctx *c, json_object *v, void *value);
        int (*encode)(const void *value, json_object **ret);
        void (*done)(void *value);
};

struct jsonmap_type {
        size_t size;
        const struct jsonmap_field *fields;
        void (*init)(void *obj); /* defaults, before the fields */
        /* After the fields, with the object decoded from: cross-member rules, and members
         * whose shape depends on another (decoded with jsonmap_decode_member()). */
        int (*check)(struct jsonmap_ctx *c, json_object *o, void *obj);
};

/* Caps on what a peer controls; 0: no cap. Per-field .limit overrides them. */
struct jsonmap_limits {
        size_t max_string; /* bytes */
        size_t max_items;  /* list, map and array entries */
};

#define JSONMAP_PATH_MAX   160
#define JSONMAP_REASON_MAX 320

struct jsonmap_ctx {
        struct jsonmap_limits limits;
        char path[JSONMAP_PATH_MAX];
        size_t path_len;
        char reason[JSONMAP_REASON_MAX]; /* the first failure; "" while none */
};

/* root names the top-level object in reasons ("task" gives "task.arn ..."); NULL for none. */
void jsonmap_ctx_init(struct jsonmap_ctx *c, const char *root, const struct jsonmap_limits *lim);

/* Decodes object o into obj (of t->size bytes, zeroed or holding the caller's defaults). On
 * failure obj may hold a partial result: free it with jsonmap_done(). -EINVAL (wrong type,
 * missing, bad value), -E2BIG (over a limit), -ERANGE (number out of range), -EOPNOTSUPP
 * (JSONMAP_REFUSE), -ENOMEM, or what a check returned. */
int jsonmap_decode(struct jsonmap_ctx *c, const struct jsonmap_type *t, json_object *o, void *obj);
/* Decodes member key of parent into obj as one field of kind OBJECT: for custom decoders
 * choosing a shape by another member. Absent: -EINVAL if required, else 0 and untouched. */
int jsonmap_decode_member(struct jsonmap_ctx *c, const struct jsonmap_type *t, json_object *parent,
                          const char *key, bool required, void *obj);

/* A new object from obj. -E2BIG over a limit (lim may be NULL), -ERANGE for a number the wire
 * cannot carry, -EINVAL for an enum value without a name, -ENOMEM. */
int jsonmap_encode(const struct jsonmap_type *t, const void *obj, const struct jsonmap_limits *lim,
                   json_object **ret);
/* Frees every member the table owns and resets it; the struct itself is the caller's. */
void jsonmap_done(const struct jsonmap_type *t, void *obj);

/* Records "<path>: <why>" (or "<why>" at the top) as the reason unless one is recorded;
 * returns r. For checks and custom decoders. */
int jsonmap_fail(struct jsonmap_ctx *c, int r, const char *fmt, ...) _printf_(3, 4);
/* Records "<path> <what>", for a reason about the member the path names ("is not a JSON
 * object"). */
int jsonmap_fail_member(struct jsonmap_ctx *c, int r, const char *fmt, ...) _printf_(3, 4);
/* Puts "<prefix>: " in front of the recorded reason. */
void jsonmap_prepend(struct jsonmap_ctx *c, const char *prefix);
/* Peer text made fit for a reason: printable ASCII, at most ~40 bytes. */
const char *jsonmap_quote(const char *s, char buf[static 48]);

/* Truncates s in place to at most max bytes without splitting a UTF-8 sequence. */
void jsonmap_truncate_utf8(char *s, size_t max);

/* ---- table rows ----
 * JSONMAP_<KIND>(json name, struct type, member, designated initialisers...): the offset is
 * checked at compile time against the member's C type. */

#define JSONMAP_OFFSET_(st, m, T)                                                                  \
        (offsetof(st, m) +                                                                         \
         0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((st *)0)->m), T) ? 1 : -1]))
#define JSONMAP_OFFSET2_(st, m, T1, T2)                                                            \
        (offsetof(st, m) +                                                                         \
         0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((st *)0)->m), T1) ||             \
                                 __builtin_types_compatible_p(__typeof__(((st *)0)->m), T2)        \
                             ? 1                                                                   \
                             : -1]))
#define JSONMAP_ROW_(n, k, off, ...)                                                               \
        {                                                                                          \
                .name = (n), .kind = (k), .offset = (off), __VA_ARGS__                             \
        }

/* A row for a member of C type T. */
#define JSONMAP_TYPED_(k, T, n, st, m, ...)                                                        \
        JSONMAP_ROW_(n, k, JSONMAP_OFFSET_(st, m, T), __VA_ARGS__)

#define JSONMAP_STRING(n, st, m, ...)                                                              \
        JSONMAP_ROW_(n, JSONMAP_STRING, JSONMAP_OFFSET2_(st, m, char *, const char *), __VA_ARGS__)
#define JSONMAP_CHARS(n, st, m, ...)                                                               \
        JSONMAP_ROW_(n, JSONMAP_CHARS, offsetof(st, m), .size = sizeof(((st *)0)->m), __VA_ARGS__)
#define JSONMAP_STRV(n, st, m, ...)                                                                \
        JSONMAP_ROW_(n, JSONMAP_STRV, JSONMAP_OFFSET2_(st, m, char **, char *const *), __VA_ARGS__)
#define JSONMAP_KV(...)     JSONMAP_TYPED_(JSONMAP_KV, char **, __VA_ARGS__)
#define JSONMAP_BOOL(...)   JSONMAP_TYPED_(JSONMAP_BOOL, bool, __VA_ARGS__)
#define JSONMAP_U16(...)    JSONMAP_TYPED_(JSONMAP_U16, uint16_t, __VA_ARGS__)
#define JSONMAP_U32(...)    JSONMAP_TYPED_(JSONMAP_U32, uint32_t, __VA_ARGS__)
#define JSONMAP_I32(...)    JSONMAP_TYPED_(JSONMAP_I32, int32_t, __VA_ARGS__)
#define JSONMAP_I64(...)    JSONMAP_TYPED_(JSONMAP_I64, int64_t, __VA_ARGS__)
#define JSONMAP_U64(...)    JSONMAP_TYPED_(JSONMAP_U64, uint64_t, __VA_ARGS__)
#define JSONMAP_DOUBLE(...) JSONMAP_TYPED_(JSONMAP_DOUBLE, double, __VA_ARGS__)
#define JSONMAP_EPOCH(...)  JSONMAP_TYPED_(JSONMAP_EPOCH, uint64_t, __VA_ARGS__)
/* Any enum whose values fit an int (checked by size). */
#define JSONMAP_ENUM(n, st, m, e, ...)                                                             \
        JSONMAP_ROW_(n, JSONMAP_ENUM,                                                              \
                     offsetof(st, m) +                                                             \
                         0 * sizeof(char[sizeof(((st *)0)->m) == sizeof(int) ? 1 : -1]),           \
                     .enumeration = (e), __VA_ARGS__)
#define JSONMAP_OBJECT(n, st, m, t, ...)                                                           \
        JSONMAP_ROW_(n, JSONMAP_OBJECT, offsetof(st, m), .type = (t), __VA_ARGS__)
/* A JSON object whose members land in the enclosing struct itself. */
#define JSONMAP_FLATTEN(n, t, ...) JSONMAP_ROW_(n, JSONMAP_OBJECT, 0, .type = (t), __VA_ARGS__)
#define JSONMAP_OBJECT_PTR(n, st, m, t, ...)                                                       \
        JSONMAP_ROW_(n, JSONMAP_OBJECT_PTR, offsetof(st, m), .size = sizeof(*((st *)0)->m),        \
                     .type = (t), __VA_ARGS__)
#define JSONMAP_ARRAY(n, st, m, cnt, t, ...)                                                       \
        JSONMAP_ROW_(n, JSONMAP_ARRAY, offsetof(st, m),                                            \
                     .count_offset = JSONMAP_OFFSET_(st, cnt, size_t),                             \
                     .size = sizeof(*((st *)0)->m), .type = (t), __VA_ARGS__)
#define JSONMAP_INT_ARRAY(n, st, m, cnt, ...)                                                      \
        JSONMAP_ROW_(n, JSONMAP_INT_ARRAY, JSONMAP_OFFSET_(st, m, int *),                          \
                     .count_offset = JSONMAP_OFFSET_(st, cnt, size_t), __VA_ARGS__)
#define JSONMAP_REFUSE(n, ...)        JSONMAP_ROW_(n, JSONMAP_REFUSE, 0, __VA_ARGS__)
#define JSONMAP_CUSTOM(n, st, m, ...) JSONMAP_ROW_(n, JSONMAP_CUSTOM, offsetof(st, m), __VA_ARGS__)
/* A custom member whose decoder and encoder get the whole enclosing struct. */
#define JSONMAP_CUSTOM_SELF(n, ...) JSONMAP_ROW_(n, JSONMAP_CUSTOM, 0, __VA_ARGS__)
#define JSONMAP_END                                                                                \
        {                                                                                          \
        }

/* A type for struct st from a field table. */
#define JSONMAP_TYPE(st, f, ...)                                                                   \
        {                                                                                          \
                .size = sizeof(st), .fields = (f), __VA_ARGS__                                     \
        }
