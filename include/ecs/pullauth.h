/* Registry credentials for image pulls: the host's static ones (ECS_ENGINE_AUTH_TYPE and
 * ECS_ENGINE_AUTH_DATA, §10.3) and Amazon ECR tokens from GetAuthorizationToken (§1.13),
 * cached per (role, region, registry, endpoint) and shared by concurrent pulls.
 * Nothing here is ever logged or persisted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/config.h"

struct ecs_loop;
struct aws_credential_provider;
struct aws_credentials;

/* ---- static credentials (ECS_ENGINE_AUTH_DATA) ---- */

struct pullauth_entry {
        char *key; /* registry key without its http:// or https:// scheme */
        char *username, *password, *email, *server_address;
};

struct pullauth_static {
        struct pullauth_entry *entries;
        size_t n;
};

/* Parses the data in the given format ("docker": {"host": {"username","password",...}},
 * "dockercfg": {"https://host/v1/": {"auth": base64("user:pass")}}). Malformed entries are
 * skipped with a warning naming only the registry; a malformed document gives an empty
 * table and -EBADMSG. */
int pullauth_static_parse(enum ecs_engine_auth_type type, const char *data,
                          struct pullauth_static **ret);
struct pullauth_static *pullauth_static_free(struct pullauth_static *s);
/* The official lookup: Docker Hub images use "index.docker.io/v1/"; others the entry whose
 * host is the image's registry, the longest key that prefixes the image winning. NULL when
 * none matches. */
const struct pullauth_entry *pullauth_static_lookup(const struct pullauth_static *s,
                                                    const char *image);

/* ---- ECR ---- */

struct pullauth_ecr;

struct pullauth_ecr_request {
        const char *registry_id; /* may be NULL: the caller's account */
        const char *region;
        const char *endpoint_override; /* NULL: https://api.ecr.<region>.amazonaws.com */
        /* The execution role's credentials, or NULL for the instance's. */
        const struct aws_credentials *credentials;
        const char *credentials_id; /* cache key parts for role credentials */
        const char *role_arn;
};

/* error 0: username, password and server address are valid during the call only. Else
 * message says what failed, fit for a container's reason (no secrets in it). */
typedef void (*pullauth_ecr_fn)(int error, const char *message, const char *username,
                                const char *password, const char *server_address, void *userdata);

int pullauth_ecr_new(struct ecs_loop *loop, struct aws_credential_provider *instance_creds,
                     struct pullauth_ecr **ret);
struct pullauth_ecr *pullauth_ecr_free(struct pullauth_ecr *p);
/* Calls back from the cache (from the loop, never inside this call) or once the shared
 * GetAuthorizationToken for the key finishes. */
int pullauth_ecr_get(struct pullauth_ecr *p, const struct pullauth_ecr_request *req,
                     pullauth_ecr_fn cb, void *userdata);

/* Docker's pull error with the official advice in front when it matches one of the official
 * patterns (permission to ecr:BatchGetImage, an image that does not exist, the network);
 * else a copy of it. NULL only without memory. */
char *pullauth_explain_pull_error(const char *raw);

/* Internal, exported for the unit tests: strict base64 (standard alphabet, padded). */
int pullauth_base64_decode(const char *in, char **ret, size_t *ret_len);
/* Parses a GetAuthorizationToken response; -EBADMSG with *ret_why on malformed data. */
int pullauth_ecr_parse(const char *json, size_t len, char **ret_user, char **ret_password,
                       char **ret_endpoint, uint64_t *ret_expires_usec, const char **ret_why);
