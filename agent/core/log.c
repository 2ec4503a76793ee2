#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "ecs/log.h"

static int max_level = LOG_LEVEL_INFO;
static int log_fd = STDERR_FILENO;
static bool journal_prefix;

static const char *const level_names[_LOG_LEVEL_MAX] = {
    [LOG_LEVEL_CRIT] = "crit", [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
};

/* syslog priorities, for the <N> prefix journald understands on a stream. */
static const int level_prio[_LOG_LEVEL_MAX] = {2, 3, 4, 6, 7};

int log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        if (streq(s, "none"))
                return LOG_LEVEL_NONE;
        for (int i = 0; i < _LOG_LEVEL_MAX; i++)
                if (streq(s, level_names[i]))
                        return i;
        return -EINVAL;
}

const char *log_level_to_string(int level)
{
        if (level == LOG_LEVEL_NONE)
                return "none";
        if (level < 0 || level >= _LOG_LEVEL_MAX)
                return NULL;
        return level_names[level];
}

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

/* JOURNAL_STREAM is "dev:ino" of the stream systemd connected to our stderr. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

int log_open(const char *logfile)
{
        log_close();
        if (!isempty(logfile)) {
                int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
                if (fd < 0)
                        return -errno;
                log_fd = fd;
                journal_prefix = false;
                return 0;
        }
        journal_prefix = stderr_is_journal();
        return 0;
}

void log_close(void)
{
        if (log_fd != STDERR_FILENO)
                safe_close(log_fd);
        log_fd = STDERR_FILENO;
}

/* Quotes a logfmt value: the message is always quoted, with " and \ and newlines escaped. */
static size_t logfmt_quote(char *dst, size_t dstlen, const char *src)
{
        size_t n = 0;

        for (; *src && n + 3 < dstlen; src++) {
                char c = *src;
                if (c == '"' || c == '\\') {
                        dst[n++] = '\\';
                        dst[n++] = c;
                } else if (c == '\n') {
                        dst[n++] = '\\';
                        dst[n++] = 'n';
                } else
                        dst[n++] = c;
        }
        dst[n] = 0;
        return n;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...)
{
        char msg[4096], quoted[8192], ts[64], out[9000];
        struct timespec now;
        struct tm tm;
        va_list ap;
        int saved = errno;
        const char *base;

        if (error < 0)
                error = -error;
        if (level > max_level || level < 0)
                return -error;

        errno = error; /* so %m prints the error we were given */
        va_start(ap, format);
        vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000000);
        logfmt_quote(quoted, sizeof(quoted), msg);
        base = strrchr(file, '/');
        base = base ? base + 1 : file;

        int n =
            snprintf(out, sizeof(out), "%slevel=%s time=%s msg=\"%s\" module=%s:%d\n",
                     journal_prefix ? (char[]){'<', (char)('0' + level_prio[level]), '>', 0} : "",
                     level_names[level], ts, quoted, base, line);
        if (n > (int)sizeof(out) - 1)
                n = sizeof(out) - 1;
        (void)!write(log_fd, out, n);
        (void)func;
        errno = saved;
        return -error;
}
