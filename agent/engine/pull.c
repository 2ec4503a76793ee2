/* Image pulls, by ECS_IMAGE_PULL_BEHAVIOR (§4.9): when to pull, when a cached image will do,
 * and when a failed pull fails the task. */
#include "ecs/asm.h"
#include "ecs/config.h"
#include "ecs/credstore.h"
#include "ecs/docker.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/pullauth.h"
#include "engine-internal.h"

static bool pull_failure_stops_task(const struct engine *e)
{
        /* With "always" and "once" a failed pull fails the task; "default" and
         * "prefer-cached" go on with a cached image if there is one (§4.9). */
        return e->config->image_pull_behavior == ECS_IMAGE_PULL_BEHAVIOR_ALWAYS ||
               e->config->image_pull_behavior == ECS_IMAGE_PULL_BEHAVIOR_ONCE;
}

static void pull_done_common(struct op *o)
{
        struct ecs_task *t = o->et->task;
        t->pull_stopped_at = realtime_usec();
        engine_container_set_known(o->engine, o->et, &t->containers[o->idx],
                                   CONTAINER_STATUS_PULLED);
        engine_op_finish(o);
}

static void on_pull_fallback_inspect(const struct docker_result *res,
                                     const struct docker_image *img, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        /* The pull failed; a cached image lets the task run, and then the pull error is not
         * the container's story. Without one, create will fail and the pull error stays the
         * reason (§11.18). */
        if (res->error == 0) {
                log_info("Task %s container %s: pull failed, using the cached image %s",
                         o->et->task->arn, c->name, c->image);
                free(c->reason);
                c->reason = NULL;
        }
        pull_done_common(o);
}

/* A failed pull, or no credentials for it (an ECR failure is not retried, §4.9): with
 * "always" and "once" the task stops; "default" and "prefer-cached" go on with a cached
 * image if there is one. */
static void pull_failed(struct op *o, const char *name, const char *msg)
{
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        log_warning("Task %s container %s: failed to pull %s: %s", o->et->task->arn, c->name,
                    c->image, msg);
        engine_container_set_reason(c, name, msg);
        if (pull_failure_stops_task(e)) {
                engine_task_set_desired_stopped(o->et, "image pull failed");
                o->et->task->pull_stopped_at = realtime_usec();
                engine_op_finish(o);
                return;
        }
        if (docker_image_inspect(e->docker, c->image, 0, on_pull_fallback_inspect, o, NULL) < 0)
                pull_done_common(o);
}

static void on_pulled_inspect(const struct docker_result *res, const struct docker_image *img,
                              void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0 && img && img->id) {
                if (!streq_ptr(c->image_id, img->id)) {
                        free(c->image_id);
                        c->image_id = strdup(img->id);
                }
                engine_images_seen(o->engine, c, 0);
        }
        pull_done_common(o);
}

static void on_pull(const struct docker_result *res, const char *digest, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0) {
                if (digest && !c->image_digest)
                        c->image_digest = strdup(digest);
                engine_images_pulled(o->engine, c->image);
                log_debug("Task %s container %s: pulled %s", o->et->task->arn, c->name, c->image);
                /* The ID now, not at the create: image cleanup must see what is in use even
                 * while the container waits for its dependencies. */
                if (docker_image_inspect(o->engine->docker, c->image, 0, on_pulled_inspect, o,
                                         NULL) < 0)
                        pull_done_common(o);
                return;
        }
        _cleanup_free_ char *msg = pullauth_explain_pull_error(res->message);
        pull_failed(o, "CannotPullContainerError", msg ? msg : strempty(res->message));
}

static void pull_with(struct op *o, const struct docker_auth *auth)
{
        struct engine *e = o->engine;
        struct ecs_task *t = o->et->task;
        struct ecs_container *c = &t->containers[o->idx];
        struct docker_pull_options opts = {
            .image = c->image,
            .auth = auth,
            .timeout_usec = e->config->image_pull_timeout_usec,
            .stall_timeout_usec = e->config->image_pull_inactivity_timeout_usec,
        };
        int r = docker_image_pull(e->docker, &opts, on_pull, o, NULL);
        if (r < 0) {
                struct docker_result res = {.error = r, .message = strerror(-r)};
                on_pull(&res, NULL, o);
        }
}

static void on_ecr_auth(int error, const char *message, const char *username, const char *password,
                        const char *server_address, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];
        _cleanup_free_ char *why = NULL;

        if (error < 0) {
                if (asprintf(&why, "registry %s: %s", strna(c->registry_auth.ecr_registry_id),
                             strna(message)) < 0)
                        why = NULL;
                pull_failed(o, "CannotPullECRContainerError", why ? why : strna(message));
                return;
        }
        struct docker_auth auth = {
            .username = username,
            .password = password,
            .server_address = server_address,
        };
        pull_with(o, &auth);
}

static void pull_ecr(struct op *o)
{
        struct engine *e = o->engine;
        struct ecs_task *t = o->et->task;
        struct ecs_container *c = &t->containers[o->idx];
        const struct registry_auth *ra = &c->registry_auth;
        const struct task_credentials *tc = NULL;
        struct aws_credentials ac = {0};
        int r;

        if (ra->ecr_use_execution_role) {
                tc = t->execution_credentials_id && e->credstore
                         ? credstore_get(e->credstore, t->execution_credentials_id)
                         : NULL;
                if (!tc) {
                        pull_failed(o, "CannotPullECRContainerError",
                                    "the task's execution role credentials are not "
                                    "available; check the task definition's "
                                    "executionRoleArn");
                        return;
                }
                ac = task_credentials_for_signing(tc);
        }
        struct pullauth_ecr_request req = {
            .registry_id = ra->ecr_registry_id,
            .region = !isempty(ra->ecr_region) ? ra->ecr_region : e->region,
            .endpoint_override = ra->ecr_endpoint_override,
            .credentials = tc ? &ac : NULL,
            .credentials_id = tc ? tc->credentials_id : NULL,
            .role_arn = tc ? tc->role_arn : NULL,
        };
        r = pullauth_ecr_get(e->ecr, &req, on_ecr_auth, o);
        if (r < 0) {
                _cleanup_free_ char *why = NULL;
                if (asprintf(&why, "registry %s: cannot ask ECR for a token: %s",
                             strna(ra->ecr_registry_id), strerror(-r)) < 0)
                        why = NULL;
                pull_failed(o, "CannotPullECRContainerError", why ? why : strerror(-r));
        }
}

/* A failure to get the registry credentials of repositoryCredentials is the task's:
 * the official agent fetches them as a task resource before any pull. */
static void asm_failed(struct op *o, const char *msg)
{
        engine_task_fail(o->et, "ResourceInitializationError", "%s", msg);
        o->et->task->pull_stopped_at = realtime_usec();
        engine_op_finish(o);
}

static void on_asm_secret(int error, const char *message, const char *secret_string, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];
        _cleanup_free_ char *user = NULL;
        char *password = NULL;
        const char *why = NULL;

        if (error < 0) {
                asm_failed(o, message);
                return;
        }
        int r = asm_parse_registry_auth(secret_string, &user, &password, &why);
        if (r < 0) {
                log_warning("Task %s container %s: registry credentials in %s: %s",
                            o->et->task->arn, c->name, c->registry_auth.asm_credentials_parameter,
                            why ? why : strerror(-r));
                asm_failed(o, why ? why : strerror(-r));
                return;
        }
        /* No server address: Docker sends the credentials to the image's registry. */
        struct docker_auth auth = {.username = user, .password = password};
        pull_with(o, &auth);
        explicit_bzero(password, strlen(password));
        free(password);
}

static void pull_asm(struct op *o)
{
        struct engine *e = o->engine;
        struct ecs_task *t = o->et->task;
        struct ecs_container *c = &t->containers[o->idx];
        const struct registry_auth *ra = &c->registry_auth;
        const struct task_credentials *tc =
            t->execution_credentials_id && e->credstore
                ? credstore_get(e->credstore, t->execution_credentials_id)
                : NULL;

        if (!tc) {
                asm_failed(o, "asm resource: unable to find execution role credentials");
                return;
        }
        struct aws_credentials ac = task_credentials_for_signing(tc);
        struct asm_request req = {
            .secret_id = ra->asm_credentials_parameter,
            .region = ra->asm_region,
            .credentials = &ac,
        };
        int r = asm_get_secret(e->asm_client, &req, on_asm_secret, o);
        if (r < 0) {
                _cleanup_free_ char *why = NULL;
                if (asprintf(&why, "asm fetching secret from the service for %s: %s",
                             strna(ra->asm_credentials_parameter), strerror(-r)) < 0)
                        why = NULL;
                asm_failed(o, why ? why : strerror(-r));
        }
}

static void do_pull(struct op *o)
{
        struct engine *e = o->engine;
        struct ecs_task *t = o->et->task;
        struct ecs_container *c = &t->containers[o->idx];

        if (!t->pull_started_at)
                t->pull_started_at = realtime_usec();
        if (streq_ptr(c->registry_auth.type, "ecr")) {
                pull_ecr(o);
                return;
        }
        if (streq_ptr(c->registry_auth.type, "asm")) {
                pull_asm(o);
                return;
        }
        /* Everything else pulls with the host's credentials for the registry, if any. */
        const struct pullauth_entry *se = pullauth_static_lookup(e->static_auth, c->image);
        if (se) {
                struct docker_auth auth = {
                    .username = se->username,
                    .password = se->password,
                    .server_address = se->server_address,
                };
                pull_with(o, &auth);
                return;
        }
        pull_with(o, NULL);
}

static void on_pull_check(const struct docker_result *res, const struct docker_image *img, void *ud)
{
        struct op *o = ud;
        struct ecs_container *c = &o->et->task->containers[o->idx];

        if (res->error == 0) {
                /* "once" and "prefer-cached" with the image present: no pull. */
                if (img && img->id && !c->image_id)
                        c->image_id = strdup(img->id);
                engine_images_seen(o->engine, c, 0);
                engine_container_set_known(o->engine, o->et, c, CONTAINER_STATUS_PULLED);
                engine_op_finish(o);
                return;
        }
        do_pull(o);
}

void engine_start_pull(struct engine *e, struct engine_task *et, size_t idx)
{
        struct op *o = engine_op_new(e, et, idx, OP_PULL);
        if (!o)
                return;
        /* No pull while image cleanup removes images: it could remove what we pull. */
        if (engine_images_hold_pull(e, o))
                return;
        engine_pull_begin(o);
}

void engine_pull_begin(struct op *o)
{
        struct engine *e = o->engine;
        struct ecs_container *c = &o->et->task->containers[o->idx];
        /* Held during an image cleanup cycle and the task stopped meanwhile: no pull. */
        if (o->et->task->desired_status >= TASK_STATUS_STOPPED) {
                engine_op_finish(o);
                return;
        }
        switch (e->config->image_pull_behavior) {
        case ECS_IMAGE_PULL_BEHAVIOR_ONCE:
        case ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED:
                if (docker_image_inspect(e->docker, c->image, 0, on_pull_check, o, NULL) >= 0)
                        return;
                break;
        default:
                break;
        }
        do_pull(o);
}
