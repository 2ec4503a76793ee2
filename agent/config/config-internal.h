/* Helpers shared by config.c and parse.c; not part of the public surface. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/config.h"

/* ecs.config is a handful of lines; anything this big is not one. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* os-release and ip_local_port_range are tiny. */
#define CONFIG_SMALL_FILE_MAX (64 * 1024)

/* Go's strings.TrimSpace (ASCII and Unicode white space in UTF-8) on [*p, *p + *len). */
void config_trim_space(const char **p, size_t *len);

/* Decimal digits only (no sign, no blanks), value <= max. -EINVAL / -ERANGE. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* Go-style duration text that ecs_parse_go_duration() reads back, e.g. "1h30m", "100ms". */
void config_format_duration(uint64_t usec, char *buf, size_t size);

/* The kernel's ephemeral port range ("32768\t60999"). -EINVAL if unusable. */
int config_read_port_range(const char *path, uint16_t *ret_first, uint16_t *ret_last);

/* Number of UTF-8 code points (continuation bytes are not counted). */
size_t config_utf8_len(const char *s);
