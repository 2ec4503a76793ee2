/* PayloadMessage (§2.6): each task validated into a struct ecs_task, or refused with the
 * reason the official agent reports for a task it cannot load (§1.8(c)). */
#include <math.h>
#include <stdio.h>

#include "acs_internal.h"

/* ECS's own rule for container, volume and family names ("up to 255 letters, numbers,
 * hyphens and underscores"). The engine builds Docker names, labels and paths from them,
 * and it keeps ACS names from colliding with the agent's internal "~internal~..." ones. */
static bool name_is_valid(const char *s)
{
        size_t n = 0;

        for (; s && *s; s++, n++)
                if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
                      ('0' <= *s && *s <= '9') || *s == '-' || *s == '_'))
                        return false;
        return n > 0 && n <= 255;
}

static int check_name(struct acs_dec *d, const char *what, const char *s)
{
        char q[48];

        if (!name_is_valid(s))
                return acs_fail(d, -EINVAL,
                                "invalid %s '%s' (1-255 letters, digits, '-' or '_' expected)",
                                what, acs_quote(s, q));
        return 0;
}

/* Must be a JSON object when non-empty: the engine decodes it on top of its own Docker
 * config, so a broken document is a task error now rather than a create failure later. */
static int check_json_object(struct acs_dec *d, const char *what, const char *s)
{
        _cleanup_json_ json_object *o = NULL;
        int r;

        if (isempty(s))
                return 0;
        r = json_parse(s, strlen(s), &o);
        if (r == -ENOMEM)
                return acs_fail(d, r, "out of memory");
        if (r < 0 || !json_object_is_type(o, json_type_object))
                return acs_fail(d, -EINVAL, "%s is not a JSON object", what);
        return 0;
}

/* An absent, null or empty list is fine; anything else is a feature this agent does not
 * implement, and running the task without it would be silently wrong. */
static int refuse_if_set(struct acs_dec *d, json_object *o, const char *key)
{
        json_object *v = json_get(o, key);

        if (!v)
                return 0;
        if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0)
                return 0;
        if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0)
                return 0;
        return acs_fail(d, -EOPNOTSUPP, "%s is not supported yet", key);
}

/* ---- container members ---- */

static int parse_port_range(const char *s, uint16_t *ret_start, uint16_t *ret_end)
{
        unsigned long a, b;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        a = strtoul(s, &end, 10);
        if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
                return -EINVAL;
        b = strtoul(end + 1, &end, 10);
        if (errno || *end || a < 1 || b > 65535 || a > b)
                return -EINVAL;
        *ret_start = (uint16_t)a;
        *ret_end = (uint16_t)b;
        return 0;
}

static int decode_port_mappings(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jc, "portMappings", ACS_MAX_LIST_ITEMS, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        c->ports = calloc(n, sizeof(*c->ports));
        if (!c->ports)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->n_ports = n;
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(a, i);
                struct port_mapping *pm = &c->ports[i];
                _cleanup_free_ char *proto = NULL, *range = NULL;
                int64_t cport = 0, hport = 0;
                char q[48];

                if (!p || !json_object_is_type(p, json_type_object))
                        return acs_fail(d, -EINVAL, "portMappings[%zu] is not an object", i);
                if ((r = acs_get_int(d, p, "containerPort", 0, 65535, &cport)) < 0 ||
                    (r = acs_get_int(d, p, "hostPort", 0, 65535, &hport)) < 0 ||
                    (r = acs_get_string(d, p, "protocol", false, &proto)) < 0 ||
                    (r = acs_get_string(d, p, "containerPortRange", false, &range)) < 0)
                        return r;
                pm->protocol = port_protocol_from_string(proto);
                if (pm->protocol < 0)
                        return acs_fail(d, -EINVAL, "portMappings[%zu]: unknown protocol '%s'", i,
                                        acs_quote(proto, q));
                if (!isempty(range)) {
                        /* A range maps 1:1 onto host ports the agent picks (§5.4); a
                         * single containerPort alongside it would be ambiguous. */
                        if (cport != 0)
                                return acs_fail(d, -EINVAL,
                                                "portMappings[%zu]: both containerPort and "
                                                "containerPortRange are set",
                                                i);
                        if (parse_port_range(range, &pm->range_start, &pm->range_end) < 0)
                                return acs_fail(d, -EINVAL,
                                                "portMappings[%zu]: invalid containerPortRange "
                                                "'%s'",
                                                i, acs_quote(range, q));
                } else if (cport == 0)
                        return acs_fail(d, -EINVAL, "portMappings[%zu]: containerPort is not set",
                                        i);
                pm->container_port = (uint16_t)cport;
                pm->host_port = (uint16_t)hport;
        }
        return 0;
}

static int decode_mount_points(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jc, "mountPoints", ACS_MAX_LIST_ITEMS, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        c->mounts = calloc(n, sizeof(*c->mounts));
        if (!c->mounts)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->n_mounts = n;
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(a, i);
                struct mount_point *mp = &c->mounts[i];

                if (!m || !json_object_is_type(m, json_type_object))
                        return acs_fail(d, -EINVAL, "mountPoints[%zu] is not an object", i);
                if ((r = acs_get_string(d, m, "sourceVolume", true, &mp->source_volume)) < 0 ||
                    (r = acs_get_string(d, m, "containerPath", true, &mp->container_path)) < 0 ||
                    (r = acs_get_bool(d, m, "readOnly", &mp->read_only)) < 0)
                        return r;
                if (mp->container_path[0] != '/')
                        return acs_fail(d, -EINVAL,
                                        "mountPoints[%zu]: containerPath is not absolute", i);
        }
        return 0;
}

static int decode_volumes_from(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jc, "volumesFrom", ACS_MAX_LIST_ITEMS, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        c->volumes_from = calloc(n, sizeof(*c->volumes_from));
        if (!c->volumes_from)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->n_volumes_from = n;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);

                if (!v || !json_object_is_type(v, json_type_object))
                        return acs_fail(d, -EINVAL, "volumesFrom[%zu] is not an object", i);
                if ((r = acs_get_string(d, v, "sourceContainer", true,
                                        &c->volumes_from[i].source_container)) < 0 ||
                    (r = acs_get_bool(d, v, "readOnly", &c->volumes_from[i].read_only)) < 0)
                        return r;
        }
        return 0;
}

static int decode_depends_on(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jc, "dependsOn", ACS_MAX_LIST_ITEMS, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        c->depends_on = calloc(n, sizeof(*c->depends_on));
        if (!c->depends_on)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->n_depends_on = n;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(a, i);
                struct container_dependency *dep = &c->depends_on[i];
                _cleanup_free_ char *cond = NULL;
                char q[48];

                if (!o || !json_object_is_type(o, json_type_object))
                        return acs_fail(d, -EINVAL, "dependsOn[%zu] is not an object", i);
                if ((r = acs_get_string(d, o, "containerName", true, &dep->container_name)) < 0 ||
                    (r = acs_get_string(d, o, "condition", true, &cond)) < 0)
                        return r;
                dep->condition = dependency_condition_from_string(cond);
                /* CREATE is the engine's own (implied by volumesFrom), not a wire value. */
                if (dep->condition < 0 || dep->condition == DEPENDENCY_CREATE)
                        return acs_fail(d, -EINVAL, "dependsOn[%zu]: unknown condition '%s'", i,
                                        acs_quote(cond, q));
        }
        return 0;
}

static int decode_docker_config(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *dc;
        int r;

        r = acs_get_object(d, jc, "dockerConfig", &dc);
        if (r < 0 || !dc)
                return r;
        if ((r = acs_get_string(d, dc, "config", false, &c->docker_config)) < 0 ||
            (r = acs_get_string(d, dc, "hostConfig", false, &c->docker_host_config)) < 0 ||
            (r = acs_get_string(d, dc, "version", false, &c->docker_version)) < 0)
                return r;
        if (isempty(c->docker_config))
                c->docker_config = mfree(c->docker_config);
        if (isempty(c->docker_host_config))
                c->docker_host_config = mfree(c->docker_host_config);
        if (isempty(c->docker_version))
                c->docker_version = mfree(c->docker_version);
        if ((r = check_json_object(d, "dockerConfig.config", c->docker_config)) < 0 ||
            (r = check_json_object(d, "dockerConfig.hostConfig", c->docker_host_config)) < 0)
                return r;
        return 0;
}

/* overrides: an object or a string holding one (§2.6.2); only "command" is honoured and it
 * replaces the container's command. Other members are ignored (the official agent refuses
 * them, but no other override exists in this protocol version). */
static int decode_overrides(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        _cleanup_json_ json_object *parsed = NULL;
        json_object *ov = json_get(jc, "overrides"), *cmd;
        char **command = NULL;
        int r;

        if (!ov)
                return 0;
        if (json_object_is_type(ov, json_type_string)) {
                const char *s = json_object_get_string(ov);
                size_t len = (size_t)json_object_get_string_len(ov);
                if (len == 0)
                        return 0;
                if (len > ACS_MAX_STRING_LEN)
                        return acs_fail(d, -E2BIG, "overrides is too long");
                r = json_parse(s, len, &parsed);
                if (r == -ENOMEM)
                        return acs_fail(d, r, "out of memory");
                if (r < 0 || !json_object_is_type(parsed, json_type_object))
                        return acs_fail(d, -EINVAL, "overrides is not a JSON object");
                ov = parsed;
        } else if (!json_object_is_type(ov, json_type_object))
                return acs_fail(d, -EINVAL, "overrides is neither an object nor a string");

        cmd = json_get(ov, "command");
        if (!cmd)
                return 0;
        r = acs_get_strv(d, ov, "command", &command);
        if (r < 0)
                return r;
        strv_free(c->command);
        c->command = command; /* [] means the image's default, as with Docker */
        return 0;
}

static int decode_restart_policy(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *rp, *codes;
        size_t n;
        int r;

        r = acs_get_object(d, jc, "restartPolicy", &rp);
        if (r < 0 || !rp)
                return r;
        if ((r = acs_get_bool(d, rp, "enabled", &c->restart.enabled)) < 0 ||
            (r = acs_get_u32(d, rp, "restartAttemptPeriod", UINT32_MAX,
                             &c->restart.attempt_period_sec)) < 0 ||
            (r = acs_get_array(d, rp, "ignoredExitCodes", ACS_MAX_LIST_ITEMS, &codes)) < 0)
                return r;
        n = codes ? json_object_array_length(codes) : 0;
        if (n == 0)
                return 0;
        c->restart.ignored_exit_codes = calloc(n, sizeof(int));
        if (!c->restart.ignored_exit_codes)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->restart.n_ignored_exit_codes = n;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(codes, i);
                if (!v || !json_object_is_type(v, json_type_int) ||
                    json_object_get_int64(v) < INT32_MIN || json_object_get_int64(v) > INT32_MAX)
                        return acs_fail(d, -EINVAL,
                                        "restartPolicy.ignoredExitCodes[%zu] is not an integer", i);
                c->restart.ignored_exit_codes[i] = (int)json_object_get_int64(v);
        }
        return 0;
}

static int decode_secrets(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jc, "secrets", ACS_MAX_LIST_ITEMS, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        c->secrets = calloc(n, sizeof(*c->secrets));
        if (!c->secrets)
                return acs_fail(d, -ENOMEM, "out of memory");
        c->n_secrets = n;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(a, i);
                struct container_secret *s = &c->secrets[i];
                char q[48];

                if (!o || !json_object_is_type(o, json_type_object))
                        return acs_fail(d, -EINVAL, "secrets[%zu] is not an object", i);
                if ((r = acs_get_string(d, o, "name", true, &s->name)) < 0 ||
                    (r = acs_get_string(d, o, "valueFrom", true, &s->value_from)) < 0 ||
                    (r = acs_get_string(d, o, "region", false, &s->region)) < 0 ||
                    (r = acs_get_string(d, o, "provider", true, &s->provider)) < 0 ||
                    (r = acs_get_string(d, o, "type", false, &s->type)) < 0 ||
                    (r = acs_get_string(d, o, "target", false, &s->target)) < 0 ||
                    (r = acs_get_string(d, o, "containerPath", false, &s->container_path)) < 0)
                        return r;
                if (!streq(s->provider, "ssm") && !streq(s->provider, "asm"))
                        return acs_fail(d, -EINVAL, "secrets[%zu]: unknown provider '%s'", i,
                                        acs_quote(s->provider, q));
        }
        return 0;
}

static int decode_registry_auth(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        struct registry_auth *ra = &c->registry_auth;
        json_object *o, *ecr, *asmd;
        char q[48];
        int r;

        r = acs_get_object(d, jc, "registryAuthentication", &o);
        if (r < 0 || !o)
                return r;
        if ((r = acs_get_string(d, o, "type", true, &ra->type)) < 0 ||
            (r = acs_get_object(d, o, "ecrAuthData", &ecr)) < 0 ||
            (r = acs_get_object(d, o, "asmAuthData", &asmd)) < 0)
                return r;
        if (streq(ra->type, "ecr")) {
                if (!ecr)
                        return acs_fail(d, -EINVAL,
                                        "registryAuthentication: ecrAuthData is not set");
                if ((r = acs_get_string(d, ecr, "registryId", false, &ra->ecr_registry_id)) < 0 ||
                    (r = acs_get_string(d, ecr, "region", false, &ra->ecr_region)) < 0 ||
                    (r = acs_get_string(d, ecr, "endpointOverride", false,
                                        &ra->ecr_endpoint_override)) < 0 ||
                    (r = acs_get_bool(d, ecr, "useExecutionRole", &ra->ecr_use_execution_role)) < 0)
                        return r;
        } else if (streq(ra->type, "asm")) {
                if (!asmd)
                        return acs_fail(d, -EINVAL,
                                        "registryAuthentication: asmAuthData is not set");
                if ((r = acs_get_string(d, asmd, "credentialsParameter", true,
                                        &ra->asm_credentials_parameter)) < 0 ||
                    (r = acs_get_string(d, asmd, "region", false, &ra->asm_region)) < 0)
                        return r;
        } else
                return acs_fail(d, -EINVAL, "registryAuthentication: unknown type '%s'",
                                acs_quote(ra->type, q));
        return 0;
}

static int decode_container(struct acs_dec *d, json_object *jc, struct ecs_container *c)
{
        _cleanup_free_ char *hc_type = NULL, *logs_auth = NULL;
        int r;

        if ((r = acs_get_string(d, jc, "name", true, &c->name)) < 0 ||
            (r = check_name(d, "container name", c->name)) < 0)
                return r;
        acs_where(d, "container '%s'", c->name);

        if ((r = acs_get_string(d, jc, "containerArn", false, &c->arn)) < 0 ||
            (r = acs_get_string(d, jc, "image", true, &c->image)) < 0 ||
            (r = acs_get_u32(d, jc, "cpu", UINT32_MAX, &c->cpu)) < 0 ||
            (r = acs_get_u32(d, jc, "memory", UINT32_MAX, &c->memory_mib)) < 0 ||
            /* Missing means false, the Go zero value the official agent ends up with. */
            (r = acs_get_bool(d, jc, "essential", &c->essential)) < 0 ||
            (r = acs_get_strv(d, jc, "command", &c->command)) < 0 ||
            (r = acs_get_strv(d, jc, "entryPoint", &c->entrypoint)) < 0 ||
            (r = acs_get_kv_map(d, jc, "environment", &c->environment)) < 0 ||
            (r = decode_port_mappings(d, jc, c)) < 0 ||
            (r = acs_get_strv(d, jc, "links", &c->links)) < 0 ||
            (r = decode_mount_points(d, jc, c)) < 0 || (r = decode_volumes_from(d, jc, c)) < 0 ||
            (r = decode_depends_on(d, jc, c)) < 0 || (r = decode_docker_config(d, jc, c)) < 0 ||
            (r = acs_get_string(d, jc, "healthCheckType", false, &hc_type)) < 0 ||
            (r = acs_get_u32(d, jc, "startTimeout", UINT32_MAX, &c->start_timeout_sec)) < 0 ||
            (r = acs_get_u32(d, jc, "stopTimeout", UINT32_MAX, &c->stop_timeout_sec)) < 0 ||
            (r = decode_restart_policy(d, jc, c)) < 0 || (r = decode_overrides(d, jc, c)) < 0 ||
            (r = decode_secrets(d, jc, c)) < 0 || (r = decode_registry_auth(d, jc, c)) < 0 ||
            (r = acs_get_string(d, jc, "logsAuthStrategy", false, &logs_auth)) < 0)
                return r;
        c->health_check_docker = streq_ptr(hc_type, "docker");
        c->logs_auth_execution_role = streq_ptr(logs_auth, "ExecutionRole");

        /* Features whose absence would change what runs: refuse rather than ignore.
         * (managedAgents -- ECS Exec -- only adds an optional side channel, so it is
         * ignored; linuxParameters / privileged are carried in dockerConfig.) */
        if ((r = refuse_if_set(d, jc, "environmentFiles")) < 0 ||
            (r = refuse_if_set(d, jc, "firelensConfiguration")) < 0 ||
            (r = refuse_if_set(d, jc, "credentialSpecs")) < 0)
                return r;
        return 0;
}

/* ---- volumes (§2.6.3) ---- */

static int decode_volume(struct acs_dec *d, json_object *jv, struct task_volume *v)
{
        _cleanup_free_ char *type = NULL;
        json_object *host, *dvc;
        char q[48];
        int r;

        if ((r = acs_get_string(d, jv, "name", true, &v->name)) < 0 ||
            (r = check_name(d, "volume name", v->name)) < 0)
                return r;
        acs_where(d, "volume '%s'", v->name);
        r = acs_get_string(d, jv, "type", false, &type);
        if (r < 0)
                return r;
        if (isempty(type) || streq(type, "host")) {
                v->type = strdup("host");
                if (!v->type)
                        return acs_fail(d, -ENOMEM, "out of memory");
                if ((r = acs_get_object(d, jv, "host", &host)) < 0 ||
                    (host &&
                     (r = acs_get_string(d, host, "sourcePath", false, &v->source_path)) < 0))
                        return r;
                if (isempty(v->source_path))
                        v->source_path = mfree(v->source_path); /* agent-managed local volume */
                else if (v->source_path[0] != '/')
                        return acs_fail(d, -EINVAL, "host sourcePath is not absolute");
                return 0;
        }
        if (!streq(type, "docker"))
                return acs_fail(d, -EOPNOTSUPP, "volume type '%s' is not supported yet",
                                acs_quote(type, q));

        v->type = TAKE_PTR(type);
        r = acs_get_object(d, jv, "dockerVolumeConfiguration", &dvc);
        if (r < 0)
                return r;
        if (dvc && ((r = acs_get_string(d, dvc, "scope", false, &v->scope)) < 0 ||
                    (r = acs_get_bool(d, dvc, "autoprovision", &v->autoprovision)) < 0 ||
                    (r = acs_get_string(d, dvc, "driver", false, &v->driver)) < 0 ||
                    (r = acs_get_kv_map(d, dvc, "driverOpts", &v->driver_opts)) < 0 ||
                    (r = acs_get_kv_map(d, dvc, "labels", &v->labels)) < 0))
                return r;
        if (isempty(v->scope)) {
                free(v->scope);
                v->scope = strdup("task"); /* the ECS default */
                if (!v->scope)
                        return acs_fail(d, -ENOMEM, "out of memory");
        } else if (!streq(v->scope, "task") && !streq(v->scope, "shared"))
                return acs_fail(d, -EINVAL, "unknown docker volume scope '%s'",
                                acs_quote(v->scope, q));
        if (isempty(v->driver))
                v->driver = mfree(v->driver); /* Docker's "local" */
        return 0;
}

/* ---- cross references ---- */

static bool task_has_volume(const struct ecs_task *t, const char *name)
{
        for (size_t i = 0; i < t->n_volumes; i++)
                if (streq(t->volumes[i].name, name))
                        return true;
        return false;
}

static int check_container_ref(struct acs_dec *d, struct ecs_task *t, const struct ecs_container *c,
                               const char *what, const char *name, size_t len)
{
        char q[48], buf[256];

        if (len >= sizeof(buf))
                len = sizeof(buf) - 1;
        memcpy(buf, name, len);
        buf[len] = 0;
        if (streq(buf, c->name))
                return acs_fail(d, -EINVAL, "%s refers to the container itself", what);
        if (!ecs_task_find_container(t, buf))
                return acs_fail(d, -EINVAL, "%s refers to unknown container '%s'", what,
                                acs_quote(buf, q));
        return 0;
}

/* What ECS validates at task-definition registration, checked again because the engine
 * looks these up by name. */
static int check_references(struct acs_dec *d, struct ecs_task *t)
{
        for (size_t i = 0; i < t->n_containers; i++) {
                struct ecs_container *c = &t->containers[i];
                char q[48];
                int r;

                acs_where(d, "container '%s'", c->name);
                for (size_t j = i + 1; j < t->n_containers; j++)
                        if (streq(c->name, t->containers[j].name))
                                return acs_fail(d, -EINVAL, "duplicate container name");
                for (size_t j = 0; j < c->n_mounts; j++)
                        if (!task_has_volume(t, c->mounts[j].source_volume))
                                return acs_fail(d, -EINVAL,
                                                "mountPoints refers to unknown volume '%s'",
                                                acs_quote(c->mounts[j].source_volume, q));
                for (size_t j = 0; j < c->n_volumes_from; j++) {
                        const char *s = c->volumes_from[j].source_container;
                        r = check_container_ref(d, t, c, "volumesFrom", s, strlen(s));
                        if (r < 0)
                                return r;
                }
                for (size_t j = 0; j < c->n_depends_on; j++) {
                        const char *s = c->depends_on[j].container_name;
                        r = check_container_ref(d, t, c, "dependsOn", s, strlen(s));
                        if (r < 0)
                                return r;
                }
                strv_foreach (l, c->links) {
                        r = check_container_ref(d, t, c, "links", *l, strcspn(*l, ":"));
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < t->n_volumes; i++)
                for (size_t j = i + 1; j < t->n_volumes; j++)
                        if (streq(t->volumes[i].name, t->volumes[j].name)) {
                                acs_where(d, "volume '%s'", t->volumes[i].name);
                                return acs_fail(d, -EINVAL, "duplicate volume name");
                        }
        acs_where(d, "%s", "");
        return 0;
}

/* ---- task (§2.6.1) ---- */

static int decode_task_volumes(struct acs_dec *d, json_object *jt, struct ecs_task *t)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jt, "volumes", ACS_MAX_VOLUMES_PER_TASK, &a);
        if (r < 0 || !a || (n = json_object_array_length(a)) == 0)
                return r;
        t->volumes = calloc(n, sizeof(*t->volumes));
        if (!t->volumes)
                return acs_fail(d, -ENOMEM, "out of memory");
        t->n_volumes = n;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                acs_where(d, "volumes[%zu]", i);
                if (!v || !json_object_is_type(v, json_type_object))
                        return acs_fail(d, -EINVAL, "not an object");
                r = decode_volume(d, v, &t->volumes[i]);
                if (r < 0)
                        return r;
        }
        acs_where(d, "%s", "");
        return 0;
}

static int decode_task_containers(struct acs_dec *d, json_object *jt, struct ecs_task *t)
{
        json_object *a;
        size_t n;
        int r;

        r = acs_get_array(d, jt, "containers", ACS_MAX_CONTAINERS_PER_TASK, &a);
        if (r < 0)
                return r;
        n = a ? json_object_array_length(a) : 0;
        if (n == 0)
                return acs_fail(d, -EINVAL, "task has no containers");
        t->containers = calloc(n, sizeof(*t->containers));
        if (!t->containers)
                return acs_fail(d, -ENOMEM, "out of memory");
        t->n_containers = n;
        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(a, i);
                acs_where(d, "containers[%zu]", i);
                if (!c || !json_object_is_type(c, json_type_object))
                        return acs_fail(d, -EINVAL, "not an object");
                r = decode_container(d, c, &t->containers[i]);
                if (r < 0)
                        return r;
        }
        acs_where(d, "%s", "");
        return 0;
}

static int decode_task_credentials(struct acs_dec *d, json_object *jt, const char *key,
                                   struct acs_credentials *ret, char **ret_id)
{
        json_object *o;
        int r;

        r = acs_get_object(d, jt, key, &o);
        if (r < 0 || !o)
                return r;
        acs_where(d, "%s", key);
        r = acs_decode_credentials(d, o, ret);
        acs_where(d, "%s", "");
        if (r < 0)
                return r;
        *ret_id = strdup(ret->credentials_id);
        if (!*ret_id)
                return acs_fail(d, -ENOMEM, "out of memory");
        return 0;
}

static int decode_task_scalars(struct acs_dec *d, json_object *jt, const char *payload_cluster,
                               struct ecs_task *t)
{
        _cleanup_free_ char *desired = NULL, *mode = NULL;
        bool ok = true;
        char q[48];
        int r;

        if ((r = acs_get_string(d, jt, "taskClusterArn", false, &t->cluster_arn)) < 0 ||
            (r = acs_get_string_or_empty(d, jt, "family", &t->family)) < 0 ||
            (r = acs_get_string_or_empty(d, jt, "version", &t->version)) < 0 ||
            (r = acs_get_string(d, jt, "desiredStatus", true, &desired)) < 0 ||
            (r = acs_get_string(d, jt, "networkMode", false, &mode)) < 0 ||
            (r = acs_get_u32(d, jt, "memory", UINT32_MAX, &t->memory_mib)) < 0 ||
            (r = acs_get_string(d, jt, "launchType", false, &t->launch_type)) < 0 ||
            (r = acs_get_string(d, jt, "serviceName", false, &t->service_name)) < 0)
                return r;
        if (isempty(t->cluster_arn)) {
                free(t->cluster_arn);
                t->cluster_arn = strdup(payload_cluster);
                if (!t->cluster_arn)
                        return acs_fail(d, -ENOMEM, "out of memory");
        }
        if (*t->family && (r = check_name(d, "family", t->family)) < 0)
                return r;
        if (*t->version && (r = check_name(d, "version", t->version)) < 0)
                return r;

        t->desired_status = task_status_from_string(desired);
        /* PULLED has no string form in the official agent. */
        if (t->desired_status < 0 || t->desired_status == TASK_STATUS_PULLED)
                return acs_fail(d, -EINVAL, "unknown desiredStatus '%s'", acs_quote(desired, q));
        t->network_mode = network_mode_from_string(mode);
        if (t->network_mode < 0)
                return acs_fail(d, -EINVAL, "unknown networkMode '%s'", acs_quote(mode, q));

        /* vCPUs, not CPU units (§11.5). Bounded so quota = cpu * period cannot overflow. */
        t->cpu = json_get_double(jt, "cpu", 0, &ok);
        if (!ok || !isfinite(t->cpu) || t->cpu < 0 || t->cpu > 10000)
                return acs_fail(d, -EINVAL, "cpu is not a number of vCPUs in [0, 10000]");
        return 0;
}

static int addresses_strv(const struct acs_eni_address *a, size_t n, char ***ret)
{
        if (n == 0)
                return 0;
        char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(a[i].address))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret = l;
        return 0;
}

static int strv_dup(char **src, char ***ret)
{
        size_t n = 0;
        strv_foreach (p, src)
                n++;
        if (n == 0)
                return 0;
        char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(src[i]))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *ret = l;
        return 0;
}

/* The ENI an awsvpc task runs on, copied into the task model (§6.5). */
static int acs_eni_to_task_eni(const struct acs_eni *a, struct task_eni **ret)
{
        struct task_eni *e = calloc(1, sizeof(*e));
        int r = -ENOMEM;

        if (!e)
                return -ENOMEM;
        if (!(e->ec2_id = strdup(a->ec2_id)) || !(e->mac = strdup(a->mac_address)) ||
            (a->attachment_arn && !(e->attachment_arn = strdup(a->attachment_arn))) ||
            (a->subnet_gateway_ipv4 &&
             !(e->subnet_gateway_ipv4 = strdup(a->subnet_gateway_ipv4))) ||
            (a->subnet_gateway_ipv6 &&
             !(e->subnet_gateway_ipv6 = strdup(a->subnet_gateway_ipv6))) ||
            (a->private_dns_name && !(e->private_dns_name = strdup(a->private_dns_name))))
                goto fail;
        if ((r = addresses_strv(a->ipv4, a->n_ipv4, &e->ipv4)) < 0 ||
            (r = addresses_strv(a->ipv6, a->n_ipv6, &e->ipv6)) < 0 ||
            (r = strv_dup(a->dns_servers, &e->dns_servers)) < 0 ||
            (r = strv_dup(a->search_domains, &e->search_domains)) < 0)
                goto fail;
        *ret = e;
        return 0;
fail:
        task_eni_free(e);
        return r;
}

static int decode_task(struct acs_dec *d, json_object *jt, const char *payload_cluster,
                       struct acs_payload_task *e)
{
        _cleanup_(ecs_task_unrefp) struct ecs_task *t = NULL;
        char q[48];
        int r;

        if (!jt || !json_object_is_type(jt, json_type_object))
                return acs_fail(d, -EINVAL, "task is not an object");
        r = acs_get_string(d, jt, "arn", true, &e->arn);
        if (r < 0)
                return r;
        t = ecs_task_new();
        if (!t)
                return acs_fail(d, -ENOMEM, "out of memory");
        t->arn = strdup(e->arn);
        if (!t->arn)
                return acs_fail(d, -ENOMEM, "out of memory");
        r = ecs_task_id_from_arn(t->arn, &t->id);
        if (r == -ENOMEM)
                return acs_fail(d, r, "out of memory");
        if (r < 0)
                return acs_fail(d, -EINVAL, "invalid task ARN '%s'", acs_quote(t->arn, q));

        if ((r = decode_task_scalars(d, jt, payload_cluster, t)) < 0 ||
            /* Not implemented: the task would run without them. */
            (r = refuse_if_set(d, jt, "pidMode")) < 0 ||
            (r = refuse_if_set(d, jt, "ipcMode")) < 0 ||
            (r = refuse_if_set(d, jt, "proxyConfiguration")) < 0 ||
            (r = refuse_if_set(d, jt, "associations")) < 0 ||
            (r = refuse_if_set(d, jt, "attachments")) < 0 ||
            (r = decode_task_volumes(d, jt, t)) < 0 || (r = decode_task_containers(d, jt, t)) < 0 ||
            (r = check_references(d, t)) < 0 ||
            (r = decode_task_credentials(d, jt, "roleCredentials", &e->role_credentials,
                                         &t->role_credentials_id)) < 0 ||
            (r = decode_task_credentials(d, jt, "executionRoleCredentials",
                                         &e->execution_credentials, &t->execution_credentials_id)) <
                0 ||
            (r = acs_decode_enis(d, jt, "elasticNetworkInterfaces", &e->enis, &e->n_enis)) < 0)
                return r;
        if (t->network_mode == NETWORK_MODE_AWSVPC) {
                if (e->n_enis != 1)
                        return acs_fail(d, -EINVAL, "awsvpc task with %zu ENIs (one expected)",
                                        e->n_enis);
                if (e->enis[0].association == ACS_ENI_ASSOCIATION_VLAN)
                        return acs_fail(d, -EOPNOTSUPP, "trunked (vlan) ENIs are not supported");
                if ((r = acs_eni_to_task_eni(&e->enis[0], &t->eni)) < 0)
                        return acs_fail(d, r, "out of memory");
        }

        e->task = TAKE_PTR(t);
        return 0;
}

static void payload_task_clear_decoded(struct acs_payload_task *e)
{
        e->task = ecs_task_unref(e->task);
        acs_credentials_done(&e->role_credentials);
        acs_credentials_done(&e->execution_credentials);
        acs_enis_free(e->enis, e->n_enis);
        e->enis = NULL;
        e->n_enis = 0;
}

void acs_payload_message_done(struct acs_payload_message *p)
{
        if (!p)
                return;
        free(p->message_id);
        free(p->cluster_arn);
        free(p->container_instance_arn);
        for (size_t i = 0; p->tasks && i < p->n_tasks; i++) {
                payload_task_clear_decoded(&p->tasks[i]);
                free(p->tasks[i].arn);
                free(p->tasks[i].error);
        }
        free(p->tasks);
        *p = (struct acs_payload_message){};
}

int acs_decode_payload(struct acs_dec *d, json_object *msg, struct acs_payload_message *p)
{
        json_object *tasks;
        size_t n;
        int r;

        /* Without these the message is dropped with no ack (§2.6). */
        if ((r = acs_get_string(d, msg, "messageId", true, &p->message_id)) < 0 ||
            (r = acs_get_string(d, msg, "clusterArn", true, &p->cluster_arn)) < 0 ||
            (r = acs_get_string(d, msg, "containerInstanceArn", true, &p->container_instance_arn)) <
                0 ||
            (r = acs_get_int(d, msg, "seqNum", INT64_MIN, INT64_MAX, &p->seq_num)) < 0 ||
            (r = acs_get_int(d, msg, "generatedAt", INT64_MIN, INT64_MAX, &p->generated_at)) < 0 ||
            (r = acs_get_array(d, msg, "tasks", ACS_MAX_TASKS_PER_PAYLOAD, &tasks)) < 0)
                return r;
        n = tasks ? json_object_array_length(tasks) : 0;
        if (n == 0)
                return 0;
        p->tasks = calloc(n, sizeof(*p->tasks));
        if (!p->tasks)
                return acs_fail(d, -ENOMEM, "out of memory");
        p->n_tasks = n;

        for (size_t i = 0; i < n; i++) {
                struct acs_payload_task *e = &p->tasks[i];
                struct acs_dec td = {};

                r = decode_task(&td, json_object_array_get_idx(tasks, i), p->cluster_arn, e);
                if (r == -ENOMEM)
                        return acs_fail(d, r, "out of memory");
                if (r >= 0)
                        continue;
                payload_task_clear_decoded(e);
                if (asprintf(&e->error, ACS_TASK_ERROR_PREFIX "%s",
                             td.reason[0] ? td.reason : "invalid task") < 0) {
                        e->error = NULL;
                        return acs_fail(d, -ENOMEM, "out of memory");
                }
                p->n_failed++;
        }
        return 0;
}
