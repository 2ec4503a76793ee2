/* The agent's own AWS credentials (what signs ECS/ACS/TCS/ECR/SSM requests): a provider
 * chain resolved asynchronously on the loop, cached, and refreshed before expiry.
 *
 * Chain on EC2:      environment -> shared credentials file -> IMDS instance role ->
 *                    rotating credentials file (last resort)
 * Chain when external (ECS Anywhere): environment -> rotating credentials file (kept fresh
 *                    by the SSM agent) -> shared credentials file -> IMDS role */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/sigv4.h"

struct ecs_loop;
struct imds_client;
struct aws_credential_provider;
struct aws_credential_request;

#define AWS_ROTATING_CREDENTIALS_FILE      "/rotatingcreds/credentials"
#define AWS_ROTATING_CREDENTIALS_FILE_HOST "/root/.aws/credentials"

struct aws_credential_options {
        const char *profile;       /* ECS_ALTERNATE_CREDENTIAL_PROFILE; NULL = "default". For the
                                    * shared file AWS_PROFILE takes precedence. */
        bool external;             /* ECS_EXTERNAL: rotating file right after the environment */
        const char *rotating_file; /* NULL = AWS_ROTATING_CREDENTIALS_FILE, or, when that does
                                    * not exist (agent on a plain host), ..._FILE_HOST */
        const char *imds_endpoint; /* NULL = $AWS_EC2_METADATA_SERVICE_ENDPOINT or default */
        bool imds_disabled;        /* skip the instance role (off EC2) */
        struct imds_client *imds;  /* optional, borrowed: share the agent's IMDS client */
};

/* error is 0 and c the credentials (valid only during the call; copy them with
 * aws_credentials_copy() to keep them), or -ENOKEY when no source has credentials, or
 * another negative errno. */
typedef void (*aws_credentials_fn)(int error, const struct aws_credentials *c, void *userdata);

int aws_credential_provider_new(struct ecs_loop *loop, const struct aws_credential_options *opts,
                                struct aws_credential_provider **ret);
/* Pending requests are dropped without a callback. Safe inside a callback. */
struct aws_credential_provider *aws_credential_provider_free(struct aws_credential_provider *p);

/* Delivers credentials to cb, always from the loop and never from inside this call (so a
 * caller may be freed or re-entered safely): on the next loop iteration when valid cached
 * credentials exist, else when the chain has been resolved. Concurrent requests share one
 * resolution. ret, when given, is a handle for aws_credential_request_cancel(), valid until
 * cb runs. Returns < 0 (and never calls cb) only for allocation failures. */
int aws_credential_provider_get(struct aws_credential_provider *p, aws_credentials_fn cb,
                                void *userdata, struct aws_credential_request **ret);
void aws_credential_request_cancel(struct aws_credential_request *r);

/* The cached credentials if still valid for signing, else NULL; never starts I/O. For
 * synchronous signers (TCS frames) that cannot wait. */
const struct aws_credentials *aws_credential_provider_peek(struct aws_credential_provider *p);
/* Where the cached credentials came from, for logs: "environment", "shared-file:<path>",
 * "imds:<role>"; NULL when nothing is cached. */
const char *aws_credential_provider_source(struct aws_credential_provider *p);
/* Forgets the cache, e.g. after a server answered ExpiredTokenException; the next get()
 * resolves the chain again. */
void aws_credential_provider_invalidate(struct aws_credential_provider *p);

/* --- Internal, exported for the unit tests. --- */

/* Credentials are not handed out during their last minute: a request signed now must still
 * be valid when it reaches the server, and an attempt takes up to 42 s. */
#define AWS_CREDENTIALS_EXPIRY_MARGIN_USEC (60ULL * 1000000ULL)
/* Expiring credentials are refreshed in the background from ten minutes before expiry.
 * IMDS offers new role credentials at least five minutes before the old ones expire
 * (usually much earlier), so starting at ten leaves several one-minute retries before the
 * margin above while the cached ones keep serving requests; fetching the same credentials
 * again before IMDS rotates them costs one small local request. */
#define AWS_CREDENTIALS_REFRESH_WINDOW_USEC (10ULL * 60ULL * 1000000ULL)
/* Files are re-read at least this often, so an SSM rotation of the rotating credentials
 * file is picked up within a minute; it is also the retry interval after a failed refresh. */
#define AWS_CREDENTIALS_REREAD_USEC (60ULL * 1000000ULL)

enum aws_credentials_state {
        AWS_CREDENTIALS_MISSING,
        AWS_CREDENTIALS_EXPIRED,     /* within the expiry margin: not usable */
        AWS_CREDENTIALS_REFRESH_DUE, /* usable, but a background refresh should start */
        AWS_CREDENTIALS_VALID,
};

/* refresh_at and now are CLOCK_REALTIME; refresh_at 0 = never. */
enum aws_credentials_state aws_credentials_check(const struct aws_credentials *c,
                                                 uint64_t refresh_at, uint64_t now);
/* When to refresh credentials just obtained: expiration - window (but not sooner than a
 * minute from now) for expiring ones, now + a minute for file sources (reread), never (0)
 * otherwise. */
uint64_t aws_credentials_next_refresh(uint64_t expiration, bool reread, uint64_t now);

/* AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY), AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY),
 * AWS_SESSION_TOKEN. -ENOENT when neither key is set, -ENOKEY when only one is. */
int aws_credentials_from_env(struct aws_credentials *ret);
/* Parses a shared credentials file (INI: [profile] sections, key = value, '#' and ';'
 * comments). -ENOENT when the profile has no section, -ENOKEY when it lacks the key id or
 * the secret. */
int aws_shared_credentials_parse(const char *text, size_t len, const char *profile,
                                 struct aws_credentials *ret);
/* Reads and parses path: -ENOENT when the file does not exist, -EFBIG over 1 MiB. */
int aws_shared_credentials_read(const char *path, const char *profile, struct aws_credentials *ret);
/* Parses IMDS iam/security-credentials/<role>: -EREMOTEIO when Code is not "Success",
 * -EBADMSG when it is not JSON or a field is missing or malformed. */
int aws_imds_credentials_parse(const char *json, size_t len, struct aws_credentials *ret);
/* "2024-01-01T06:00:00Z" (fraction and numeric offsets accepted) -> CLOCK_REALTIME usec. */
int aws_parse_timestamp(const char *s, uint64_t *ret_usec);
