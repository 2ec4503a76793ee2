/* libFuzzer target for the ecs.config parser and every typed value parser behind it.
 *
 * The input is an ecs.config file. Besides "no crash, no leak", it checks two properties:
 * a configuration that loads dumps to text that loads back to the same configuration, and
 * a duration that parses prints to text that parses back to the same value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/config.h"
#include "ecs/log.h"

/* Bigger inputs only make the fuzzer slower; the real limit (1 MiB) is tested elsewhere. */
#define FUZZ_MAX_INPUT (64 * 1024)

static char *dump(const struct ecs_config *c)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                abort();
        ecs_config_dump(c, f);
        fclose(f);
        return buf;
}

static int build(const char *data, size_t len, struct ecs_config *c)
{
        static char *no_env[] = {NULL};
        struct ecs_config_kv *pairs = NULL;
        struct ecs_config_error err;
        size_t n = 0;
        int r;

        r = ecs_config_parse_file_data(data, len, &pairs, &n);
        if (r >= 0) {
                /* Host files that cannot exist keep the result independent of the machine. */
                r = ecs_config_build(
                    &(struct ecs_config_input){
                        .file_pairs = pairs,
                        .n_file_pairs = n,
                        .file_label = "fuzz",
                        .envp = no_env,
                        .port_range_path = "/nonexistent/ip_local_port_range",
                        .os_release_path = "/nonexistent/os-release",
                    },
                    c, &err);
                /* A rejection always explains itself. */
                if (r < 0 && r != -ENOMEM && !err.message[0])
                        abort();
        }
        ecs_config_kv_free_many(pairs, n);
        return r;
}

static void check_round_trip(const struct ecs_config *c)
{
        struct ecs_config again;
        char *text, *text2;

        /* The dump redacts the auth data, and "<redacted>" is not JSON. */
        if (c->engine_auth_data)
                return;
        text = dump(c);
        if (build(text, strlen(text), &again) < 0)
                abort();
        text2 = dump(&again);
        if (strcmp(text, text2) != 0)
                abort();
        free(text);
        free(text2);
        ecs_config_done(&again);
}

static void check_duration(const uint8_t *data, size_t size)
{
        char s[64], printed[64];
        uint64_t v, v2;

        if (size >= sizeof(s))
                return;
        memcpy(s, data, size);
        s[size] = 0;
        if (ecs_parse_go_duration(s, &v) < 0)
                return;
        /* The dump's own format ("1h30m") is covered by the round trip above. */
        snprintf(printed, sizeof(printed), "%lluus", (unsigned long long)v);
        if (ecs_parse_go_duration(printed, &v2) < 0 || v2 != v)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ecs_config c;

        log_set_max_level(LOG_LEVEL_NONE);
        if (size > FUZZ_MAX_INPUT)
                return 0;

        check_duration(data, size);
        if (build((const char *)data, size, &c) == 0) {
                check_round_trip(&c);
                ecs_config_done(&c);
        }
        return 0;
}
