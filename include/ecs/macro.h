/* Small language helpers shared by every module: scoped cleanup and ownership hand-over. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
/* The struct holding member at ptr. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Hand over ownership: returns the value and leaves NULL / -EBADF behind. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                typeof(p) _take_p = (p);                                                           \
                (p) = NULL;                                                                        \
                _take_p;                                                                           \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _take_fd = (fd);                                                               \
                (fd) = -EBADF;                                                                     \
                _take_fd;                                                                          \
        })

static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0)
                close(fd); /* never retried on EINTR: the fd is gone either way */
        return -EBADF;
}
static inline void closep(int *fd)
{
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declares name##p(type *) that calls func on a non-NULL value, for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
        static inline void func##p(type *p)                                                        \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline int streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}
static inline int streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
static inline int isempty(const char *s)
{
        return !s || !*s;
}
static inline const char *strempty(const char *s)
{
        return s ? s : "";
}
static inline const char *strna(const char *s)
{
        return s ? s : "n/a";
}
static inline bool startswith(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

#define MIN(a, b)                                                                                  \
        ({                                                                                         \
                typeof(a) _min_a = (a);                                                            \
                typeof(b) _min_b = (b);                                                            \
                _min_a < _min_b ? _min_a : _min_b;                                                 \
        })
#define MAX(a, b)                                                                                  \
        ({                                                                                         \
                typeof(a) _max_a = (a);                                                            \
                typeof(b) _max_b = (b);                                                            \
                _max_a > _max_b ? _max_a : _max_b;                                                 \
        })

/* Free a NULL-terminated string vector. */
static inline char **strv_free(char **l)
{
        if (l)
                for (char **s = l; *s; s++)
                        free(*s);
        free(l);
        return NULL;
}
static inline void strv_freep(char ***l)
{
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
static inline size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}
#define strv_foreach(s, l) for (char **s = (l); s && *s; s++)
