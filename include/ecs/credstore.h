/* Task credentials delivered over ACS (task role and execution role), kept in memory only
 * and looked up by credentials ID: the credentials endpoint serves them, ECR pulls and log
 * drivers use them. Never persisted and never logged (§4.14, §7.3). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/sigv4.h"

struct credstore;

struct task_credentials {
        char *credentials_id;
        char *task_arn;
        bool execution_role; /* TaskExecution, else TaskApplication */
        char *role_arn;
        char *access_key_id;
        char *secret_access_key;
        char *session_token;
        char *expiration; /* verbatim from ACS */
};

/* The credentials to sign a call with, borrowing tc's strings. */
static inline struct aws_credentials task_credentials_for_signing(const struct task_credentials *tc)
{
        return (struct aws_credentials){
            .access_key_id = tc->access_key_id,
            .secret_access_key = tc->secret_access_key,
            .session_token = tc->session_token,
        };
}

int credstore_new(struct credstore **ret);
struct credstore *credstore_free(struct credstore *s);
/* Adds or replaces (a refresh keeps the ID: containers have it in their environment). The
 * strings are copied. */
int credstore_put(struct credstore *s, const struct task_credentials *c);
const struct task_credentials *credstore_get(struct credstore *s, const char *credentials_id);
void credstore_remove(struct credstore *s, const char *credentials_id);
size_t credstore_count(const struct credstore *s);
