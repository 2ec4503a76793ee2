/* Exponential backoff with multiplicative jitter, as the official agent uses everywhere. */
#pragma once

#include <stdint.h>

struct backoff {
        uint64_t min_usec;
        uint64_t max_usec;
        double multiple;  /* growth factor, e.g. 1.5 */
        double jitter;    /* fraction, e.g. 0.2 = up to 20 % added */
        uint64_t current; /* next base delay */
};

#define BACKOFF_INIT(min, max, mult, jit)                                                          \
        ((struct backoff){.min_usec = (min),                                                       \
                          .max_usec = (max),                                                       \
                          .multiple = (mult),                                                      \
                          .jitter = (jit),                                                         \
                          .current = (min)})

/* Returns the next delay (base plus random jitter) and grows the base. */
uint64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);
/* Uniform random value in [0, max) from a non-blocking source; 0 when max is 0. */
uint64_t random_u64_below(uint64_t max);
