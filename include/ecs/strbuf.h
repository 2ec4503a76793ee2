/* Growable byte buffer with an upper bound, for bodies and messages a peer controls. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "ecs/macro.h"

struct strbuf {
        char *data; /* always NUL-terminated when non-NULL */
        size_t len;
        size_t cap;
        size_t max; /* 0 = unbounded; appends past it fail with -E2BIG and change nothing */
};

#define STRBUF_INIT(limit) ((struct strbuf){.max = (limit)})

int strbuf_append(struct strbuf *b, const void *data, size_t len);
int strbuf_puts(struct strbuf *b, const char *s);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
int strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap);
/* A new formatted string; NULL when out of memory (where vasprintf leaves it undefined). */
char *strdup_vprintf(const char *fmt, va_list ap) _printf_(1, 0);
/* The same with arguments; NULL only without memory. */
char *strdup_printf(const char *fmt, ...) _printf_(1, 2);
/* Drops the first n bytes. */
void strbuf_consume(struct strbuf *b, size_t n);
void strbuf_clear(struct strbuf *b);
void strbuf_done(struct strbuf *b);
/* Returns the data (never NULL: "" for an empty buffer) and leaves the buffer empty. */
char *strbuf_steal(struct strbuf *b);

/* Appends what fd gives until EOF (EINTR retried); -EFBIG once more than b->max bytes would
 * be held. */
int strbuf_read_fd(struct strbuf *b, int fd);
/* The whole file at path, NUL-terminated ("" when empty), read to EOF (cgroupfs and /proc
 * files report size 0); -EFBIG past max bytes. ret_len may be NULL. */
int read_file_full(const char *path, size_t max, char **ret, size_t *ret_len);
/* Opens path read-only for a caller that reads it whole: -EBADF when it is not a regular
 * file, -EFBIG when it is larger than max bytes. */
int open_regular_file(const char *path, size_t max, int *ret_fd);

/* The value of a hexadecimal digit (either case); -EINVAL for any other character. */
int unhexchar(char c);
