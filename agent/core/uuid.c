#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

#include "ecs/uuid.h"

static int fill_random(void *buf, size_t n)
{
        size_t done = 0;
        while (done < n) {
                ssize_t k = getrandom((char *)buf + done, n - done, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)k;
        }
        return 0;
}

int uuid_v4(char buf[static 37])
{
        uint8_t b[16];
        int r = fill_random(b, sizeof(b));
        if (r < 0)
                return r;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
        return 0;
}

int random_hex(char *buf, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        uint8_t b[64];

        if (n > sizeof(b))
                return -EINVAL;
        int r = fill_random(b, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                buf[2 * i] = hex[b[i] >> 4];
                buf[2 * i + 1] = hex[b[i] & 15];
        }
        buf[2 * n] = 0;
        return 0;
}
