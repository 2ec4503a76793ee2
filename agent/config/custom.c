/* The settings whose syntax is their own: a log level in any case, the backend URL, the
 * Docker socket, a port range, the OS family, the CPU/memory limit switch, the metadata
 * rate limit and the registry auth data. Each is a parser and a printer. */
#include <ctype.h>

#include "config-internal.h"
#include "ecs/log.h"
#include "ecs/macro.h"

#define DEFAULT_PORT_RANGE_PATH "/proc/sys/net/ipv4/ip_local_port_range"
#define DEFAULT_OS_RELEASE_PATH "/etc/os-release"

static int parse_log_level(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        char lower[16];
        size_t i;
        int l;

        if (!value) {
                x->c->log_level = LOG_LEVEL_INFO;
                return 0;
        }
        /* Any case is accepted: the names are unambiguous. */
        for (i = 0; value[i] && i < sizeof(lower) - 1; i++)
                lower[i] = (char)tolower((unsigned char)value[i]);
        lower[i] = 0;
        l = value[i] ? -EINVAL : log_level_from_string(lower);
        if (l < LOG_LEVEL_NONE)
                return config_fail(x, s, value, "not one of crit, error, warn, info, debug, none");
        x->c->log_level = l;
        return 0;
}

static void dump_log_level(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(log_level_to_string(c->log_level)), f);
}

const struct config_custom config_custom_log_level = {parse_log_level, dump_log_level};

static int parse_backend_host(struct config_ctx *x, const struct config_setting *s,
                              const char *value)
{
        _cleanup_free_ char *v = NULL;
        const char *sep;
        char *url;
        char why[200];

        if (!value)
                return config_set_owned(&x->c->backend_host, NULL);
        v = config_trimmed(value);
        if (!v)
                return -ENOMEM;
        if (config_has_control_chars(v) || !config_check_no_blanks(v, why, sizeof(why)))
                return config_fail(x, s, value, "not a host name or URL");
        sep = strstr(v, "://");
        if (sep) {
                /* An explicit scheme is kept: http:// is how a local control plane is used. */
                if (!((sep - v == 4 && strncasecmp(v, "http", 4) == 0) ||
                      (sep - v == 5 && strncasecmp(v, "https", 5) == 0)))
                        return config_fail(x, s, value, "only http:// and https:// are supported%s",
                                           config_quote_hint(v));
                if (!sep[3] || sep[3] == '/')
                        return config_fail(x, s, value, "no host name after the scheme");
                return config_set_owned(&x->c->backend_host, v);
        }
        if (v[0] == '/' || v[0] == ':' || strchr(v, '"') || strchr(v, '\''))
                return config_fail(x, s, value, "not a host name or URL%s", config_quote_hint(v));
        /* Like the SDK: no scheme means https. */
        if (asprintf(&url, "https://%s", v) < 0)
                return -ENOMEM;
        free(x->c->backend_host);
        x->c->backend_host = url;
        return 0;
}

static void dump_backend_host(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->backend_host), f);
}

const struct config_custom config_custom_backend_host = {parse_backend_host, dump_backend_host};

static int parse_docker_host(struct config_ctx *x, const struct config_setting *s,
                             const char *value)
{
        _cleanup_free_ char *v = NULL;
        const char *path;
        int r;

        v = config_trimmed(value ?: "unix:///var/run/docker.sock");
        if (!v)
                return -ENOMEM;
        if (strncmp(v, "tcp://", 6) == 0)
                return config_fail(
                    x, s, value,
                    "tcp:// endpoints are not supported yet; use unix:///path/to/socket");
        if (strncmp(v, "unix://", 7) != 0)
                return config_fail(x, s, value, "expected unix:///path/to/socket%s",
                                   config_quote_hint(v));
        path = v + 7;
        if (path[0] != '/' || !path[1] || config_has_control_chars(path))
                return config_fail(x, s, value, "expected an absolute socket path after unix://");
        r = config_set_owned(&x->c->docker_socket_path, path);
        if (r < 0)
                return r;
        return config_set_owned(&x->c->docker_host, v);
}

static void dump_docker_host(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->docker_host), f);
}

const struct config_custom config_custom_docker_host = {parse_docker_host, dump_docker_host};

static void default_port_range(struct config_ctx *x)
{
        const char *path = x->in->port_range_path ?: DEFAULT_PORT_RANGE_PATH;
        uint16_t f, l;
        int r = config_read_port_range(path, &f, &l);

        if (r < 0) {
                log_debug("Cannot use %s (%s), dynamic host ports are 49153-65535.", path,
                          strerror(-r));
                f = 49153;
                l = 65535;
        }
        x->c->dynamic_host_port_first = f;
        x->c->dynamic_host_port_last = l;
}

static int parse_port_range(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        uint64_t first, last;
        const char *dash;
        char lo[8];

        if (!value) {
                default_port_range(x);
                return 0;
        }
        dash = strchr(value, '-');
        if (!dash || (size_t)(dash - value) >= sizeof(lo))
                return config_fail(x, s, value, "expected a port range like 32768-60999");
        memcpy(lo, value, (size_t)(dash - value));
        lo[dash - value] = 0;
        if (config_parse_uint(lo, 65535, &first) < 0 ||
            config_parse_uint(dash + 1, 65535, &last) < 0 || first < 1 || last < 1)
                return config_fail(x, s, value,
                                   "expected a port range like 32768-60999 (ports 1..65535)");
        if (first > last)
                return config_fail(x, s, value, "the first port is greater than the last");
        x->c->dynamic_host_port_first = (uint16_t)first;
        x->c->dynamic_host_port_last = (uint16_t)last;
        return 0;
}

static void dump_port_range(const struct ecs_config *c, FILE *f)
{
        fprintf(f, "%u-%u", (unsigned)c->dynamic_host_port_first,
                (unsigned)c->dynamic_host_port_last);
}

const struct config_custom config_custom_port_range = {parse_port_range, dump_port_range};

static int parse_os_family(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        _cleanup_free_ char *v = NULL;
        int r;

        if (!value) {
                const char *path = x->in->os_release_path ?: DEFAULT_OS_RELEASE_PATH;

                r = ecs_config_read_os_family(path, &v);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_debug("Cannot derive the OS family from %s (%s), using LINUX.", path,
                                  strerror(-r));
                        return config_set_owned(&x->c->detailed_os_family, "LINUX");
                }
        } else {
                v = config_trimmed(value);
                if (!v)
                        return -ENOMEM;
        }
        /* It is sent as the value of the ecs.os-type-detailed attribute. */
        if (isempty(v) || config_utf8_len(v) > 128 || config_has_control_chars(v)) {
                if (!value)
                        return config_set_owned(&x->c->detailed_os_family, "LINUX");
                return config_fail(x, s, value, "not a usable attribute value (1-128 characters)");
        }
        free(x->c->detailed_os_family);
        x->c->detailed_os_family = TAKE_PTR(v);
        return 0;
}

static void dump_os_family(const struct ecs_config *c, FILE *f)
{
        fputs(strempty(c->detailed_os_family), f);
}

const struct config_custom config_custom_os_family = {parse_os_family, dump_os_family};

static int parse_cpu_mem_limit(struct config_ctx *x, const struct config_setting *s,
                               const char *value)
{
        bool b;

        if (!value) {
                x->c->task_cpu_mem_limit = true;
                x->c->task_cpu_mem_limit_explicit = false;
                return 0;
        }
        if (ecs_parse_go_bool(value, &b) < 0)
                return config_fail(
                    x, s, value,
                    "not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)");
        x->c->task_cpu_mem_limit = b;
        x->c->task_cpu_mem_limit_explicit = true;
        return 0;
}

static void dump_cpu_mem_limit(const struct ecs_config *c, FILE *f)
{
        fputs(c->task_cpu_mem_limit ? "true" : "false", f);
}

const struct config_custom config_custom_cpu_mem_limit = {parse_cpu_mem_limit, dump_cpu_mem_limit};

static int parse_rps_part(const char *p, size_t n, uint64_t *ret)
{
        char buf[16];

        config_trim_space(&p, &n);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, p, n);
        buf[n] = 0;
        return config_parse_uint(buf, UINT32_MAX, ret);
}

static int parse_rps_limit(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        const char *comma;
        uint64_t steady, burst;

        if (!value) {
                x->c->task_metadata_rps_steady = 40;
                x->c->task_metadata_rps_burst = 60;
                return 0;
        }
        comma = strchr(value, ',');
        if (!comma || strchr(comma + 1, ',') ||
            parse_rps_part(value, (size_t)(comma - value), &steady) < 0 ||
            parse_rps_part(comma + 1, strlen(comma + 1), &burst) < 0)
                return config_fail(x, s, value,
                                   "expected \"steady,burst\" as two non-negative integers");
        if (steady == 0 || burst == 0) {
                log_warning("%s=%s: rates must be positive; using 40,60 instead.", s->name, value);
                steady = 40;
                burst = 60;
        }
        x->c->task_metadata_rps_steady = (uint32_t)steady;
        x->c->task_metadata_rps_burst = (uint32_t)burst;
        return 0;
}

static void dump_rps_limit(const struct ecs_config *c, FILE *f)
{
        fprintf(f, "%u,%u", (unsigned)c->task_metadata_rps_steady,
                (unsigned)c->task_metadata_rps_burst);
}

const struct config_custom config_custom_rps_limit = {parse_rps_limit, dump_rps_limit};

/* Kept as the raw JSON text the Docker client decodes; only its shape is checked here. */
static int parse_auth_data(struct config_ctx *x, const struct config_setting *s, const char *value)
{
        json_object *o = NULL;
        int r;

        if (!value)
                return config_set_owned(&x->c->engine_auth_data, NULL);
        r = config_parse_json_typed(x, s, value, json_type_object, &o);
        if (r < 0)
                return r;
        json_object_put(o);
        return config_set_owned(&x->c->engine_auth_data, value);
}

static void dump_auth_data(const struct ecs_config *c, FILE *f)
{
        if (c->engine_auth_data)
                fputs(CONFIG_REDACTED, f);
}

const struct config_custom config_custom_auth_data = {parse_auth_data, dump_auth_data};
