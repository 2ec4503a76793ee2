/* AWS Signature Version 4 for requests signed in headers (ECS/ECR/SSM JSON calls, the
 * ACS/TCS WebSocket upgrades and TCS frames). Pure functions: no I/O, no clock reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/macro.h"

struct aws_credentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token;      /* NULL when the credentials are long-term keys */
        uint64_t expiration_usec; /* CLOCK_REALTIME; 0 = never expires */
};

/* Frees the contents (secrets are wiped first) and leaves *c zeroed. */
void aws_credentials_done(struct aws_credentials *c);
/* Deep copy; -EINVAL when src lacks the key id or the secret. */
int aws_credentials_copy(const struct aws_credentials *src, struct aws_credentials *ret);

struct sigv4_params {
        const char *method;   /* "GET", "POST", ... */
        const char *url;      /* scheme://host[:port]/path?query, as sent on the wire */
        char *const *headers; /* NULL-terminated "Name: value" the request carries; all are
                               * signed except User-Agent, Expect, X-Amzn-Trace-Id,
                               * Transfer-Encoding and libcurl's "Name:" removals. A Host
                               * header here overrides the one derived from url. */
        const void *body;
        size_t body_len;
        const char *region;
        const char *service;         /* signing name, e.g. "ecs" */
        uint64_t time_usec;          /* CLOCK_REALTIME */
        bool normalize_path;         /* true for every service except S3: remove dot segments and
                                      * duplicate slashes, and percent-encode the wire path again */
        bool sign_body_header;       /* add and sign X-Amz-Content-Sha256 */
        bool session_token_unsigned; /* add X-Amz-Security-Token after signing (services
                                      * that reject a signed token); normally false */
        bool add_host_header;        /* also return "Host: ..." (TCS frames carry their own
                                      * headers; libcurl adds Host to ordinary requests) */
};

/* Signs the request and returns the NULL-terminated list of headers to add to it:
 * "X-Amz-Date: ...", "X-Amz-Security-Token: ..." (when the credentials have a token),
 * "X-Amz-Content-Sha256: ..." (when asked), "Authorization: AWS4-HMAC-SHA256 ...", and
 * "Host: ..." first when add_host_header is set. -EINVAL on a bad URL or missing
 * parameters, -EEXIST when the headers already carry Authorization or X-Amz-Date. */
int sigv4_sign(const struct sigv4_params *p, const struct aws_credentials *c, char ***ret_headers);

/* The steps of sigv4_sign(), exported so the tests can compare each against the AWS test
 * vectors. ret_signed_headers is e.g. "host;x-amz-date" and may be NULL. */
int sigv4_canonical_request(const struct sigv4_params *p, const struct aws_credentials *c,
                            char **ret_request, char **ret_signed_headers);
int sigv4_string_to_sign(const struct sigv4_params *p, const char *canonical_request, char **ret);
/* Lower-case hex HMAC-SHA256 of string_to_sign with the key derived from the secret. */
int sigv4_signature(const struct sigv4_params *p, const struct aws_credentials *c,
                    const char *string_to_sign, char **ret_hex);

/* Lower-case hex SHA-256 of data; out must hold 65 bytes. */
void sigv4_sha256_hex(const void *data, size_t len, char out[static 65]);
/* "YYYYMMDDTHHMMSSZ" for a CLOCK_REALTIME time; out must hold 17 bytes. */
void sigv4_format_amz_date(uint64_t time_usec, char out[static 17]);
