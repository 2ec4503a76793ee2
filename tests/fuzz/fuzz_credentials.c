/* Fuzzes the credential parsers fed by files and the network: the shared credentials INI,
 * the IMDS role credentials JSON, its timestamps, and AWS JSON error bodies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/awsjson.h"
#include "ecs/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct aws_credentials c = {0};
        char *code = NULL, *message = NULL, *s;
        uint64_t t;

        if (aws_shared_credentials_parse((const char *)data, size, "default", &c) >= 0)
                aws_credentials_done(&c);
        if (aws_imds_credentials_parse((const char *)data, size, &c) >= 0)
                aws_credentials_done(&c);
        if (awsjson_parse_error(NULL, (const char *)data, size, &code, &message) >= 0) {
                free(code);
                free(message);
        }

        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        (void)aws_parse_timestamp(s, &t);
        if (awsjson_error_code_normalize(s, &code) >= 0)
                free(code);
        free(s);
        return 0;
}
