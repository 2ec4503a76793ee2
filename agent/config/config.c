/* ecs.config + environment -> struct ecs_config, by walks over the setting table
 * (settings.c): defaults, lookup, parsing, freeing and the dump, plus the rules that involve
 * more than one setting. */
#include "config-internal.h"
#include "ecs/config.h"
#include "ecs/log.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

/* No legitimate value comes close (ECS_ENGINE_AUTH_DATA for many registries is a few KiB);
 * the bound keeps a runaway environment variable from reaching the JSON parser. */
#define VALUE_MAX (64 * 1024)

#define PROMETHEUS_PORT 51680

const char *ecs_image_pull_behavior_to_string(enum ecs_image_pull_behavior b)
{
        if ((unsigned)b >= _ECS_IMAGE_PULL_BEHAVIOR_MAX)
                return NULL;
        return config_image_pull_behavior_names[b];
}

int ecs_image_pull_behavior_from_string(const char *s)
{
        return config_enum_lookup(config_image_pull_behavior_names, _ECS_IMAGE_PULL_BEHAVIOR_MAX,
                                  s);
}

const char *ecs_engine_auth_type_to_string(enum ecs_engine_auth_type t)
{
        if ((unsigned)t >= _ECS_ENGINE_AUTH_TYPE_MAX)
                return NULL;
        return config_engine_auth_type_names[t];
}

int ecs_engine_auth_type_from_string(const char *s)
{
        return config_enum_lookup(config_engine_auth_type_names, _ECS_ENGINE_AUTH_TYPE_MAX, s);
}

/* ---- lookup ------------------------------------------------------------------------- */

static const char *env_get(char **envp, const char *name)
{
        size_t n = strlen(name);

        strv_foreach (e, envp)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

static const char *file_get(const struct ecs_config_input *in, const char *name)
{
        /* Later lines override earlier ones, as ecs-init's map assignment does. */
        for (size_t i = in->n_file_pairs; i > 0; i--)
                if (streq(in->file_pairs[i - 1].key, name))
                        return in->file_pairs[i - 1].value;
        return NULL;
}

static const char *file_label(const struct config_ctx *x)
{
        return x->in->file_label ?: "config file";
}

/* The effective raw value of a setting, or NULL for "use the default". Empty counts as
 * unset, so "KEY=" in the environment does not hide the file's value. */
static const char *lookup(struct config_ctx *x, const struct config_setting *s)
{
        const char *names[2] = {s->name, s->alias};
        bool use_env = true, use_file = true;
        const char *v;

        if (s->flags & F_CRED) {
                use_env = x->creds_from_env;
                use_file = !x->creds_from_env;
        }
        for (size_t i = 0; use_env && i < ELEMENTSOF(names) && names[i]; i++) {
                v = env_get(x->in->envp, names[i]);
                if (!isempty(v)) {
                        x->source = "environment";
                        x->key = names[i];
                        return v;
                }
        }
        for (size_t i = 0; use_file && i < ELEMENTSOF(names) && names[i]; i++) {
                v = file_get(x->in, names[i]);
                if (!isempty(v)) {
                        x->source = file_label(x);
                        x->key = names[i];
                        return v;
                }
        }
        x->source = "defaults";
        x->key = s->name;
        return NULL;
}

static const struct config_setting *find_setting(const char *name)
{
        for (size_t i = 0; i < config_n_settings; i++) {
                const struct config_setting *s = &config_settings[i];

                if (streq(s->name, name) || (s->alias && streq(s->alias, name)))
                        return s;
        }
        return NULL;
}

/* ---- loading ------------------------------------------------------------------------ */

static bool is_unsupported_key(const char *key)
{
        for (size_t i = 0; i < config_n_unsupported_keys; i++)
                if (streq(config_unsupported_keys[i], key))
                        return true;
        return false;
}

/* Tells the operator about what is ignored. Keys only: values may be secrets. */
static void report_ignored(struct config_ctx *x)
{
        for (size_t i = 0; i < config_n_unsupported_keys; i++) {
                const char *k = config_unsupported_keys[i];

                if (!isempty(env_get(x->in->envp, k)) || !isempty(file_get(x->in, k)))
                        log_warning("%s is not supported by this agent and is ignored.", k);
        }
        for (size_t i = 0; i < x->in->n_file_pairs; i++) {
                const char *k = x->in->file_pairs[i].key, *p = k;
                size_t n = strlen(k);
                char trimmed_key[128];

                if (find_setting(k) || is_unsupported_key(k))
                        continue;
                config_trim_space(&p, &n);
                if (n != strlen(k) && n < sizeof(trimmed_key)) {
                        memcpy(trimmed_key, p, n);
                        trimmed_key[n] = 0;
                        if (find_setting(trimmed_key)) {
                                log_warning("Ignoring \"%s\" in %s: ecs.config allows no blanks "
                                            "between the key and '='.",
                                            k, file_label(x));
                                continue;
                        }
                }
                log_debug("Ignoring unknown key \"%s\" in %s.", k, file_label(x));
        }
}

static int add_port(uint16_t **ports, size_t *n, uint16_t port)
{
        uint16_t *a;

        for (size_t i = 0; i < *n; i++)
                if ((*ports)[i] == port)
                        return 0;
        a = reallocarray(*ports, *n + 1, sizeof(uint16_t));
        if (!a)
                return -ENOMEM;
        a[(*n)++] = port;
        *ports = a;
        return 0;
}

/* Rules that involve more than one setting. */
static int finalize(struct config_ctx *x)
{
        struct ecs_config *c = x->c;
        int r;

        if (c->external && !c->aws_region) {
                x->err->key = "AWS_DEFAULT_REGION";
                snprintf(x->err->message, sizeof(x->err->message),
                         "Missing value for AWS_DEFAULT_REGION: required when ECS_EXTERNAL=true "
                         "(there is no instance metadata to ask)");
                return -EINVAL;
        }
        if (c->external && c->task_eni) {
                /* ecs-init forces this: no ENIs can be attached off EC2. */
                log_warning("ECS_ENABLE_TASK_ENI is not available with ECS_EXTERNAL=true; "
                            "disabled.");
                c->task_eni = false;
        }
        c->ca_file = c->aws_ca_bundle   ? c->aws_ca_bundle
                     : c->ssl_cert_file ? c->ssl_cert_file
                                        : c->curl_ca_bundle;
        if (c->prometheus_metrics) {
                r = add_port(&c->reserved_ports, &c->n_reserved_ports, PROMETHEUS_PORT);
                if (r < 0)
                        return r;
        }
        if (c->engine_auth_type != ECS_ENGINE_AUTH_TYPE_NONE && !c->engine_auth_data)
                log_warning("ECS_ENGINE_AUTH_TYPE is set but ECS_ENGINE_AUTH_DATA is not; no "
                            "static registry credentials will be used.");
        if (c->engine_auth_type == ECS_ENGINE_AUTH_TYPE_NONE && c->engine_auth_data)
                log_warning("ECS_ENGINE_AUTH_DATA is set without ECS_ENGINE_AUTH_TYPE; ignored.");
        return 0;
}

int ecs_config_build(const struct ecs_config_input *in, struct ecs_config *ret,
                     struct ecs_config_error *err)
{
        struct ecs_config c = {};
        struct config_ctx x = {.c = &c, .err = err, .in = in};
        int r = 0;

        err->key = NULL;
        err->message[0] = 0;

        /* The static credentials are one identity: never pair an access key from the
         * environment with a secret from the file. */
        x.creds_from_env = !isempty(env_get(in->envp, "AWS_ACCESS_KEY_ID"));

        for (size_t i = 0; i < config_n_settings; i++) {
                const struct config_setting *s = &config_settings[i];
                const char *v = lookup(&x, s);

                if (v && strlen(v) > VALUE_MAX) {
                        r = config_fail(&x, s, v, "longer than %d bytes", VALUE_MAX);
                        break;
                }
                r = config_setting_apply(&x, s, v);
                if (r < 0)
                        break;
        }
        if (r >= 0) {
                x.source = NULL;
                r = finalize(&x);
        }
        if (r < 0) {
                if (r == -ENOMEM && !err->message[0])
                        snprintf(err->message, sizeof(err->message),
                                 "Out of memory while loading the configuration");
                ecs_config_done(&c);
                return r;
        }
        report_ignored(&x);
        *ret = c;
        return 0;
}

static int read_config_file(const char *path, struct ecs_config_kv **pairs, size_t *n)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = read_file_full(path, CONFIG_FILE_MAX, &data, &len);
        if (r < 0)
                return r;
        return ecs_config_parse_file_data(data, len, pairs, n);
}

static int file_error(struct ecs_config_error *err, const char *path, int r)
{
        err->key = NULL;
        if (r == -EBADMSG)
                snprintf(err->message, sizeof(err->message),
                         "Failed to read config file %s: it contains a NUL byte", path);
        else if (r == -EFBIG)
                snprintf(err->message, sizeof(err->message),
                         "Failed to read config file %s: larger than %d bytes", path,
                         CONFIG_FILE_MAX);
        else
                snprintf(err->message, sizeof(err->message), "Failed to read config file %s: %s",
                         path, strerror(-r));
        return r;
}

int ecs_config_load(const char *path, char **envp, struct ecs_config *ret,
                    struct ecs_config_error *err)
{
        static const char *const default_paths[] = {ECS_CONFIG_INSTANCE_DEFAULT_PATH,
                                                    ECS_CONFIG_DEFAULT_PATH};
        struct ecs_config_kv *pairs = NULL;
        size_t n = 0;
        char label[256] = "";
        int r = 0;

        if (path) {
                r = read_config_file(path, &pairs, &n);
                if (r < 0) {
                        ecs_config_kv_free_many(pairs, n);
                        return file_error(err, path, r);
                }
                snprintf(label, sizeof(label), "%s", path);
        } else {
                /* ecs-init reads both and ignores a missing file; so do we. */
                for (size_t i = 0; i < ELEMENTSOF(default_paths); i++) {
                        r = read_config_file(default_paths[i], &pairs, &n);
                        if (r == -ENOENT) {
                                log_debug("No config file %s.", default_paths[i]);
                                continue;
                        }
                        if (r < 0) {
                                ecs_config_kv_free_many(pairs, n);
                                return file_error(err, default_paths[i], r);
                        }
                        snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%s",
                                 label[0] ? " or " : "", default_paths[i]);
                }
        }

        r = ecs_config_build(
            &(struct ecs_config_input){
                .file_pairs = pairs,
                .n_file_pairs = n,
                .file_label = label[0] ? label : NULL,
                .envp = envp ?: environ,
            },
            ret, err);
        ecs_config_kv_free_many(pairs, n);
        return r;
}

void ecs_config_done(struct ecs_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < config_n_settings; i++)
                config_setting_done(c, &config_settings[i]);
        /* What the custom settings own. */
        free(c->backend_host);
        free(c->docker_host);
        free(c->docker_socket_path);
        free(c->detailed_os_family);
        free(c->engine_auth_data);
        *c = (struct ecs_config){};
}

void ecs_config_dump(const struct ecs_config *c, FILE *f)
{
        for (size_t i = 0; i < config_n_settings; i++) {
                const struct config_setting *s = &config_settings[i];

                fprintf(f, "%s=", s->name);
                config_setting_dump(c, s, f);
                fputc('\n', f);
        }
}
