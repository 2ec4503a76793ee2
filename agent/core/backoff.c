#include <sys/random.h>

#include "ecs/backoff.h"

uint64_t random_u64_below(uint64_t max)
{
        uint64_t v = 0;

        if (max == 0)
                return 0;
        /* GRND_NONBLOCK: never stall the loop waiting for entropy at early boot; the
         * fallback is good enough for jitter. */
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v)) {
                static uint64_t x = 0x9e3779b97f4a7c15ULL;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v = x;
        }
        return v % max;
}

uint64_t backoff_next(struct backoff *b)
{
        uint64_t base = b->current ? b->current : b->min_usec;
        uint64_t jitter = (uint64_t)((double)base * b->jitter);
        uint64_t next = (uint64_t)((double)base * b->multiple);

        b->current = next > b->max_usec ? b->max_usec : next;
        if (b->current < b->min_usec)
                b->current = b->min_usec;
        return base + random_u64_below(jitter + 1);
}

void backoff_reset(struct backoff *b)
{
        b->current = b->min_usec;
}
