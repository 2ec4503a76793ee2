/* Random identifiers. */
#pragma once

#include <stddef.h>

/* Writes a random RFC 4122 version-4 UUID ("8-4-4-4-12", lowercase) into buf[37]. */
int uuid_v4(char buf[static 37]);
/* Writes n random bytes as 2n lowercase hex characters plus NUL into buf. */
int random_hex(char *buf, size_t n);
