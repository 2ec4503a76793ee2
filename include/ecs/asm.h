/* AWS Secrets Manager GetSecretValue (§10.2) on behalf of a task, signed with its
 * execution role, and the registry credentials a secret holds (§10.3). Secret values are
 * never logged or persisted; buffers holding them are wiped before they are freed. */
#pragma once

#include <stddef.h>

struct ecs_loop;
struct aws_credential_provider;
struct aws_credentials;
struct asm_client;

struct asm_request {
        const char *secret_id;     /* the secret's ARN (or name) */
        const char *version_stage; /* NULL: AWSCURRENT */
        const char *version_id;    /* may be NULL */
        const char *region;        /* NULL: the secret ARN's region, else the agent's */
        const struct aws_credentials *credentials; /* the task's execution role */
};

/* error 0: secret_string is the value (valid during the call only; NULL when the secret
 * holds binary data). Else message says what failed, fit for a task's reason. */
typedef void (*asm_secret_fn)(int error, const char *message, const char *secret_string,
                              void *userdata);

/* endpoint_override: AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL, NULL for the
 * regional endpoint. instance_creds is only the client's fallback: every call signs with
 * the request's credentials. */
int asm_client_new(struct ecs_loop *loop, struct aws_credential_provider *instance_creds,
                   const char *default_region, const char *endpoint_override,
                   struct asm_client **ret);
/* Cancels every call in flight without calling back. */
struct asm_client *asm_client_free(struct asm_client *a);
/* Calls back once, never inside this call. */
int asm_get_secret(struct asm_client *a, const struct asm_request *req, asm_secret_fn cb,
                   void *userdata);

/* The region part of arn:aws:secretsmanager:<region>:...; NULL when there is none. */
char *asm_arn_region(const char *arn);
/* A registry credential secret: JSON {"username": "...", "password": "..."}. On failure
 * *ret_why is the official explanation. */
int asm_parse_registry_auth(const char *secret_string, char **ret_username, char **ret_password,
                            const char **ret_why);
