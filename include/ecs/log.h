/* Logging: levels checked before formatting, logfmt lines to stderr, journald or a file. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>

#include "ecs/macro.h"

enum log_level {
        LOG_LEVEL_NONE = -1, /* "none": nothing is logged */
        LOG_LEVEL_CRIT = 0,
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARN,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
        _LOG_LEVEL_MAX,
};

/* Parses the ECS_LOGLEVEL names: crit, error, warn, info, debug, none. -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

void log_set_max_level(int level);
int log_get_max_level(void);

/* Opens the log target: a file path (appended, 0600) if logfile is non-empty, else stderr.
 * When JOURNAL_STREAM names our stderr, lines carry a <N> priority prefix for journald. */
int log_open(const char *logfile);
void log_close(void);

/* Logs when level is enabled and returns -abs(error) (or 0 when error is 0), so callers
 * can write `return log_error_errno(r, "...: %m")`. %m expands to strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                          \
        ({                                                                                         \
                int _l = (level), _e = (error);                                                    \
                (log_get_max_level() >= _l)                                                        \
                    ? log_internal(_l, _e, __FILE__, __LINE__, __func__, __VA_ARGS__)              \
                    : -abs(_e);                                                                    \
        })
#define log_full(level, ...) (void)log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_full(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...)   log_full(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_crit(...)    log_full(LOG_LEVEL_CRIT, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_LEVEL_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_LEVEL_INFO, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_LEVEL_WARN, error, __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_LEVEL_ERROR, error, __VA_ARGS__)

/* Returns -ENOMEM after logging it; for allocation failures. */
#define log_oom() log_full_errno(LOG_LEVEL_ERROR, ENOMEM, "Out of memory.")
