#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include "ecs/strbuf.h"

static int strbuf_reserve(struct strbuf *b, size_t extra)
{
        size_t need = b->len + extra + 1;

        if (b->max && b->len + extra > b->max)
                return -E2BIG;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int strbuf_append(struct strbuf *b, const void *data, size_t len)
{
        int r = strbuf_reserve(b, len);
        if (r < 0)
                return r;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
        return 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
        return strbuf_append(b, s, strlen(s));
}

char *strdup_vprintf(const char *fmt, va_list ap)
{
        char *s;

        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

int strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        int r = strbuf_reserve(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void strbuf_consume(struct strbuf *b, size_t n)
{
        if (n >= b->len) {
                b->len = 0;
                if (b->data)
                        b->data[0] = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
        b->data[b->len] = 0;
}

void strbuf_clear(struct strbuf *b)
{
        strbuf_consume(b, b->len);
}

void strbuf_done(struct strbuf *b)
{
        b->data = mfree(b->data);
        b->len = b->cap = 0;
}

char *strbuf_steal(struct strbuf *b)
{
        char *p = b->data ? b->data : strdup("");
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

int strbuf_read_fd(struct strbuf *b, int fd)
{
        char buf[8192];

        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                int r = strbuf_append(b, buf, (size_t)k);
                if (r < 0)
                        return r == -E2BIG ? -EFBIG : r;
        }
}

int open_regular_file(const char *path, size_t max, int *ret_fd)
{
        struct stat st;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EBADF;
        else if ((uint64_t)st.st_size > max)
                r = -EFBIG;
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int unhexchar(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int read_file_full(const char *path, size_t max, char **ret, size_t *ret_len)
{
        struct strbuf b = STRBUF_INIT(max);
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = strbuf_read_fd(&b, fd);
        close(fd);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        if (ret_len)
                *ret_len = b.len;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

char *strdup_printf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = strdup_vprintf(fmt, ap);
        va_end(ap);
        return s;
}
