/* Validators the setting table names: what a cluster, region, URL, logging driver, CIDR,
 * attribute, tag or label may look like. Each returns false with a reason in why. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "ecs/macro.h"

/* Logging drivers the official agent knows (dockerclient.LoggingDriverMinimumVersion). */
static const char *const known_logging_drivers[] = {
    "json-file", "syslog",     "journald",  "gelf", "fluentd",     "awslogs",
    "splunk",    "logentries", "sumologic", "none", "awsfirelens",
};

bool config_has_control_chars(const char *v)
{
        for (; *v; v++)
                if ((unsigned char)*v < 0x20 || *v == 0x7f)
                        return true;
        return false;
}

static bool all_chars_in(const char *v, const char *extra)
{
        for (; *v; v++)
                if (!isalnum((unsigned char)*v) && !strchr(extra, *v))
                        return false;
        return true;
}

const char *config_quote_hint(const char *v)
{
        /* The most common ecs.config mistake: shell-style quoting. */
        if (strchr(v, '"') || strchr(v, '\''))
                return " (ecs.config does not remove quotes)";
        return "";
}

bool config_check_cluster(const char *v, char *why, size_t size)
{
        /* Cluster names: up to 255 letters, digits, '-' and '_'; or a cluster ARN. */
        if (strncmp(v, "arn:", 4) == 0) {
                if (strlen(v) <= 2048 && all_chars_in(v, "-_:/."))
                        return true;
        } else if (strlen(v) <= 255 && all_chars_in(v, "-_"))
                return true;
        snprintf(why, size, "not a cluster name (up to 255 letters, digits, '-', '_') or ARN%s",
                 config_quote_hint(v));
        return false;
}

bool config_check_region(const char *v, char *why, size_t size)
{
        /* It becomes part of endpoint host names and the SigV4 scope. */
        if (strlen(v) <= 64 && all_chars_in(v, "-"))
                return true;
        snprintf(why, size, "not a region name (letters, digits and '-')%s", config_quote_hint(v));
        return false;
}

bool config_check_http_url(const char *v, char *why, size_t size)
{
        if ((strncasecmp(v, "http://", 7) == 0 && v[7]) ||
            (strncasecmp(v, "https://", 8) == 0 && v[8]))
                return true;
        snprintf(why, size, "not an http:// or https:// URL%s", config_quote_hint(v));
        return false;
}

bool config_check_proxy_url(const char *v, char *why, size_t size)
{
        static const char *const schemes[] = {"http://",    "https://",  "socks4://",
                                              "socks4a://", "socks5://", "socks5h://"};
        const char *rest = v;

        if (strstr(v, "://")) {
                rest = NULL;
                for (size_t i = 0; i < ELEMENTSOF(schemes) && !rest; i++)
                        if (strncasecmp(v, schemes[i], strlen(schemes[i])) == 0)
                                rest = v + strlen(schemes[i]);
                if (!rest) {
                        snprintf(why, size, "not an http, https or socks proxy URL");
                        return false;
                }
        }
        const char *at = strrchr(rest, '@');
        if (at)
                rest = at + 1;
        if (!rest[0] || rest[0] == '/' || rest[0] == ':' || strpbrk(v, " \t")) {
                snprintf(why, size, "no proxy host");
                return false;
        }
        return true;
}

/* v exists as a file of type kind (S_IFREG, S_IFDIR) that we may read. */
static bool check_readable(const char *v, mode_t kind, const char *not_kind, char *why, size_t size)
{
        struct stat st;

        if (stat(v, &st) < 0 || access(v, R_OK) < 0) {
                snprintf(why, size, "cannot read it: %s", strerror(errno));
                return false;
        }
        if ((st.st_mode & S_IFMT) != kind) {
                snprintf(why, size, "%s", not_kind);
                return false;
        }
        return true;
}

bool config_check_readable_file(const char *v, char *why, size_t size)
{
        return check_readable(v, S_IFREG, "not a regular file", why, size);
}

bool config_check_directory(const char *v, char *why, size_t size)
{
        return check_readable(v, S_IFDIR, "not a directory", why, size);
}

bool config_check_no_blanks(const char *v, char *why, size_t size)
{
        for (const char *p = v; *p; p++)
                if (isspace((unsigned char)*p)) {
                        snprintf(why, size, "must not contain blanks");
                        return false;
                }
        return true;
}

bool config_check_logging_driver(const char *v, char *why, size_t size)
{
        for (size_t i = 0; i < ELEMENTSOF(known_logging_drivers); i++)
                if (streq(v, known_logging_drivers[i]))
                        return true;
        snprintf(why, size, "unknown logging driver \"%.64s\"", v);
        return false;
}

/* ECS attribute names: up to 128 letters, digits, '_', '.', '/', '\', '@', '-'. */
static bool attribute_name_ok(const char *name)
{
        return !isempty(name) && strlen(name) <= 128 && all_chars_in(name, "_./\\@-");
}

bool config_check_capability(const char *v, char *why, size_t size)
{
        /* Advertised as the attribute "ecs.capability.<v>". */
        if (attribute_name_ok(v) && strlen(v) <= 128 - strlen("ecs.capability."))
                return true;
        snprintf(why, size, "\"%.64s\" is not usable as an attribute name", v);
        return false;
}

bool config_check_cidr(const char *v, char *why, size_t size)
{
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char buf[sizeof(struct in6_addr)];
        const char *slash = strchr(v, '/');
        uint64_t prefix;
        bool v6;

        if (slash && (size_t)(slash - v) < sizeof(addr)) {
                memcpy(addr, v, (size_t)(slash - v));
                addr[slash - v] = 0;
                v6 = strchr(addr, ':');
                if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) == 1 &&
                    config_parse_uint(slash + 1, v6 ? 128 : 32, &prefix) == 0)
                        return true;
        }
        snprintf(why, size, "\"%.64s\" is not a CIDR block", v);
        return false;
}

bool config_check_attribute(const char *k, const char *v, char *why, size_t size)
{
        if (!attribute_name_ok(k)) {
                snprintf(why, size,
                         "attribute name \"%.64s\" must be 1-128 letters, digits, or _ . / \\ @ -",
                         k);
                return false;
        }
        if (config_utf8_len(v) > 128) {
                snprintf(why, size, "the value of attribute \"%.64s\" is longer than 128", k);
                return false;
        }
        return true;
}

bool config_check_tag(const char *k, const char *v, char *why, size_t size)
{
        size_t klen = config_utf8_len(k);

        if (klen < 1 || klen > 128) {
                snprintf(why, size, "tag key \"%.64s\" must be 1-128 characters", k);
                return false;
        }
        if (strncasecmp(k, "aws:", 4) == 0) {
                snprintf(why, size, "tag key \"%.64s\" uses the reserved prefix aws:", k);
                return false;
        }
        if (config_utf8_len(v) > 256) {
                snprintf(why, size, "the value of tag \"%.64s\" is longer than 256", k);
                return false;
        }
        return true;
}

bool config_check_label(const char *k, const char *v, char *why, size_t size)
{
        if (isempty(k)) {
                snprintf(why, size, "empty label name");
                return false;
        }
        return true;
}
