/* The container dependency graph of a task (§4.7, §4.8). Pure functions of the model: the
 * engine decides what to do with the verdicts. Modelled on the official agent's
 * dependencygraph/graph.go, with two deliberate differences noted where they are made. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ecs/depgraph.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

#define USEC_PER_SEC 1000000ULL

/* One edge "dependent needs <name> to satisfy <cond>"; name is not NUL-terminated for links
 * ("name:alias"). */
struct edge {
        const char *name;
        size_t len;
        enum dependency_condition cond;
        const char *what; /* for messages: how the dependent refers to it */
};

static size_t strv_len(char **l)
{
        size_t n = 0;
        strv_foreach (s, l)
                n++;
        return n;
}

static size_t edge_count(const struct ecs_container *c)
{
        return c->n_depends_on + strv_len(c->links) + c->n_volumes_from;
}

static void edge_get(const struct ecs_container *c, size_t k, struct edge *e)
{
        const char *s;

        if (k < c->n_depends_on) {
                s = strempty(c->depends_on[k].container_name);
                *e = (struct edge){s, strlen(s), c->depends_on[k].condition, "depends on"};
                return;
        }
        k -= c->n_depends_on;
        size_t nl = strv_len(c->links);
        if (k < nl) {
                s = c->links[k];
                *e = (struct edge){s, strcspn(s, ":"), DEPENDENCY_START, "links to"};
                return;
        }
        k -= nl;
        s = strempty(c->volumes_from[k].source_container);
        *e = (struct edge){s, strlen(s), DEPENDENCY_CREATE, "takes volumes from"};
}

static const struct ecs_container *find(const struct ecs_task *t, const char *name, size_t len,
                                        size_t *ret_idx)
{
        for (size_t i = 0; i < t->n_containers; i++) {
                const char *n = t->containers[i].name;
                if (n && strlen(n) == len && memcmp(n, name, len) == 0) {
                        if (ret_idx)
                                *ret_idx = i;
                        return &t->containers[i];
                }
        }
        return NULL;
}

/* ---- validation ---- */

enum { WHITE, GREY, BLACK };

/* Depth-first search; on a back edge, *ret_cycle gets the message and -EINVAL is returned. */
static int dfs(const struct ecs_task *t, size_t u, uint8_t *color, size_t *stack, size_t depth,
               char **ret_cycle)
{
        const struct ecs_container *c = &t->containers[u];
        struct edge e;
        size_t v;

        color[u] = GREY;
        stack[depth] = u;
        for (size_t k = 0, n = edge_count(c); k < n; k++) {
                edge_get(c, k, &e);
                if (!find(t, e.name, e.len, &v))
                        continue; /* reported by the name check */
                if (color[v] == GREY) {
                        struct strbuf b = STRBUF_INIT(0);
                        size_t from = depth;
                        while (stack[from] != v)
                                from--;
                        int r = strbuf_puts(&b, "circular dependency between containers: ");
                        for (size_t i = from; r >= 0 && i <= depth; i++)
                                r = strbuf_printf(&b, "%s -> ", t->containers[stack[i]].name);
                        if (r >= 0)
                                r = strbuf_puts(&b, t->containers[v].name);
                        if (r < 0) {
                                strbuf_done(&b);
                                return r;
                        }
                        *ret_cycle = strbuf_steal(&b);
                        return -EINVAL;
                }
                if (color[v] == WHITE) {
                        int r = dfs(t, v, color, stack, depth + 1, ret_cycle);
                        if (r < 0)
                                return r;
                }
        }
        color[u] = BLACK;
        return 0;
}

static int check_names(const struct ecs_task *t, char **ret_error)
{
        struct edge e;

        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                if (!c->name)
                        return asprintf(ret_error, "container %zu has no name", i) < 0 ? -ENOMEM
                                                                                       : -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(c->name, t->containers[j].name))
                                return asprintf(ret_error, "duplicate container name [%s]",
                                                c->name) < 0
                                           ? -ENOMEM
                                           : -EINVAL;
        }
        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                for (size_t k = 0, n = edge_count(c); k < n; k++) {
                        edge_get(c, k, &e);
                        if (e.cond < 0 || e.cond >= _DEPENDENCY_MAX)
                                return asprintf(ret_error,
                                                "container [%s] has an invalid dependency "
                                                "condition on [%.*s]",
                                                c->name, (int)e.len, e.name) < 0
                                           ? -ENOMEM
                                           : -EINVAL;
                        if (!find(t, e.name, e.len, NULL))
                                return asprintf(ret_error,
                                                "container [%s] %s unknown container [%.*s]",
                                                c->name, e.what, (int)e.len, e.name) < 0
                                           ? -ENOMEM
                                           : -EINVAL;
                }
        }
        return 0;
}

int depgraph_validate(const struct ecs_task *t, char **ret_error)
{
        _cleanup_free_ uint8_t *color = NULL;
        _cleanup_free_ size_t *stack = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        r = check_names(t, &msg);
        if (r < 0)
                goto fail;
        if (t->n_containers == 0)
                return 0;
        color = calloc(t->n_containers, sizeof(*color));
        stack = calloc(t->n_containers, sizeof(*stack));
        if (!color || !stack)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_containers; i++)
                if (color[i] == WHITE) {
                        r = dfs(t, i, color, stack, 0, &msg);
                        if (r < 0)
                                goto fail;
                }
        return 0;
fail:
        if (ret_error && msg)
                *ret_error = TAKE_PTR(msg);
        return r;
}

/* ---- transitions ---- */

static bool is_gated(enum container_status s)
{
        return s == CONTAINER_STATUS_CREATED || s == CONTAINER_STATUS_RUNNING ||
               s == CONTAINER_STATUS_RESOURCES_PROVISIONED;
}

static bool condition_holds(const struct ecs_container *c, const struct ecs_container *d,
                            enum dependency_condition cond)
{
        switch (cond) {
        case DEPENDENCY_CREATE:
                return d->known_status >= CONTAINER_STATUS_CREATED;
        case DEPENDENCY_START:
                /* A dependent that only goes to CREATED needs the dependency created; one going
                 * to its steady state needs it started. STOPPED counts as started (§4.7; the
                 * official agent would wait forever on a dependency that already exited). */
                if (c->desired_status == CONTAINER_STATUS_CREATED)
                        return d->known_status >= CONTAINER_STATUS_CREATED;
                return d->known_status >= CONTAINER_STATUS_RUNNING;
        case DEPENDENCY_COMPLETE:
                return d->known_status == CONTAINER_STATUS_STOPPED && d->has_exit_code;
        case DEPENDENCY_SUCCESS:
                return d->known_status == CONTAINER_STATUS_STOPPED && d->has_exit_code &&
                       d->exit_code == 0;
        case DEPENDENCY_HEALTHY:
                return d->health_check_docker && d->health_status == 1;
        default:
                return false;
        }
}

/* When a timed dependency gives up (§4.7), or 0 when it cannot time out. */
static uint64_t timeout_at(const struct ecs_container *c, const struct ecs_container *d,
                           enum dependency_condition cond)
{
        if (cond != DEPENDENCY_COMPLETE && cond != DEPENDENCY_SUCCESS && cond != DEPENDENCY_HEALTHY)
                return 0;
        /* Only while the dependent waits to be created, and a stopped dependency is decided by
         * its exit, not by the clock. */
        if (c->known_status >= CONTAINER_STATUS_CREATED ||
            d->known_status == CONTAINER_STATUS_STOPPED || d->started_at == 0 ||
            d->start_timeout_sec == 0)
                return 0;
        uint64_t span = (uint64_t)d->start_timeout_sec * USEC_PER_SEC;
        return d->started_at > UINT64_MAX - span ? UINT64_MAX : d->started_at + span;
}

static void set_reason(char **ret_reason, const char *fmt, ...) _printf_(2, 3);
static void set_reason(char **ret_reason, const char *fmt, ...)
{
        va_list ap;

        if (!ret_reason)
                return;
        va_start(ap, fmt);
        *ret_reason = strdup_vprintf(fmt, ap);
        va_end(ap);
}

#define FAIL_PREFIX "CannotStartContainerError: dependency graph: "

/* One edge of the dependent c. Satisfaction is checked before the timeout, unlike the
 * official agent: a dependency that became HEALTHY in time does not fail a dependent that
 * was held back by something else. */
static enum depgraph_verdict check_edge(const struct ecs_task *t, const struct ecs_container *c,
                                        const struct edge *e, uint64_t now, char **reason)
{
        const struct ecs_container *d = find(t, e->name, e->len, NULL);
        const char *cond = strna(dependency_condition_to_string(e->cond));
        int nl = (int)e->len;

        if (!d) {
                set_reason(reason,
                           FAIL_PREFIX "container ordering dependency [%.*s] for target [%s] "
                                       "does not exist",
                           nl, e->name, c->name);
                return DEPGRAPH_FAIL;
        }
        if (condition_holds(c, d, e->cond))
                return DEPGRAPH_OK;

        uint64_t deadline = timeout_at(c, d, e->cond);
        if (deadline != 0 && now >= deadline) {
                set_reason(reason,
                           FAIL_PREFIX "container ordering dependency [%s] for target [%s] has "
                                       "timed out waiting for %s after %" PRIu32 "s",
                           d->name, c->name, cond, d->start_timeout_sec);
                return DEPGRAPH_FAIL;
        }
        if (e->cond == DEPENDENCY_SUCCESS && d->known_status == CONTAINER_STATUS_STOPPED &&
            d->has_exit_code) {
                set_reason(reason,
                           FAIL_PREFIX "failed to resolve container ordering dependency [%s] "
                                       "for target [%s] as dependency did not exit successfully "
                                       "(exit code %d)",
                           d->name, c->name, d->exit_code);
                return DEPGRAPH_FAIL;
        }
        if (d->known_status < CONTAINER_STATUS_RUNNING &&
            d->desired_status == CONTAINER_STATUS_STOPPED && !d->transition_in_flight) {
                set_reason(reason,
                           FAIL_PREFIX "failed to resolve container ordering dependency [%s] "
                                       "for target [%s] because dependency will never start",
                           d->name, c->name);
                return DEPGRAPH_FAIL;
        }
        /* STOPPED is terminal: a condition it does not satisfy never will be (the official
         * agent waits here until the task is stopped for another reason). */
        if (d->known_status == CONTAINER_STATUS_STOPPED) {
                set_reason(reason,
                           FAIL_PREFIX "failed to resolve container ordering dependency [%s] "
                                       "for target [%s] as dependency stopped without "
                                       "reaching %s",
                           d->name, c->name, cond);
                return DEPGRAPH_FAIL;
        }
        set_reason(reason,
                   "dependency graph: waiting for container ordering dependency [%s] (%s) for "
                   "target [%s]",
                   d->name, cond, c->name);
        return DEPGRAPH_WAIT;
}

static bool edge_targets(const struct ecs_container *c, const char *name)
{
        struct edge e;

        for (size_t k = 0, n = edge_count(c); k < n; k++) {
                edge_get(c, k, &e);
                if (strlen(name) == e.len && memcmp(name, e.name, e.len) == 0)
                        return true;
        }
        return false;
}

/* §4.8: stop after everything that depends on us. A dependent that was never created holds
 * nothing of ours (no link, no volume) and must not block us, or a dependent waiting for
 * this container's health would deadlock with it. */
static enum depgraph_verdict check_shutdown(const struct ecs_task *t, size_t idx, char **reason)
{
        const struct ecs_container *c = &t->containers[idx];
        struct strbuf b = STRBUF_INIT(0);
        bool blocked = false;
        int r = 0;

        if (!c->name)
                return DEPGRAPH_OK;
        for (size_t j = 0; j < t->n_containers; j++) {
                const struct ecs_container *d = &t->containers[j];
                if (j == idx || d->known_status == CONTAINER_STATUS_STOPPED)
                        continue;
                if (d->known_status < CONTAINER_STATUS_CREATED && !d->transition_in_flight)
                        continue;
                if (!edge_targets(d, c->name))
                        continue;
                if (reason && r >= 0)
                        r = strbuf_printf(&b, "%s[%s]", blocked ? ", " : "", strempty(d->name));
                blocked = true;
        }
        if (!blocked)
                return DEPGRAPH_OK;
        if (reason && r >= 0)
                set_reason(reason,
                           "dependency graph: target %s needs other containers stopped before it "
                           "can stop: %s",
                           c->name, b.data);
        strbuf_done(&b);
        return DEPGRAPH_WAIT;
}

enum depgraph_verdict depgraph_can_transition(const struct ecs_task *t, size_t container_idx,
                                              enum container_status target, uint64_t now_usec,
                                              char **ret_reason)
{
        const struct ecs_container *c;
        enum depgraph_verdict v = DEPGRAPH_OK;
        _cleanup_free_ char *wait_reason = NULL;
        struct edge e;

        if (container_idx >= t->n_containers)
                return DEPGRAPH_OK;
        c = &t->containers[container_idx];
        if (target == CONTAINER_STATUS_STOPPED)
                return check_shutdown(t, container_idx, ret_reason);
        /* Only checked while the dependent is going somewhere dependencies matter (§4.7). */
        if (!is_gated(target) || !is_gated(c->desired_status) || !c->name)
                return DEPGRAPH_OK;

        for (size_t k = 0, n = edge_count(c); k < n; k++) {
                _cleanup_free_ char *r = NULL;
                edge_get(c, k, &e);
                switch (check_edge(t, c, &e, now_usec, ret_reason ? &r : NULL)) {
                case DEPGRAPH_FAIL:
                        if (ret_reason)
                                *ret_reason = TAKE_PTR(r);
                        return DEPGRAPH_FAIL;
                case DEPGRAPH_WAIT:
                        /* Keep looking: a later edge may fail, which must win. */
                        if (v == DEPGRAPH_OK)
                                wait_reason = TAKE_PTR(r);
                        v = DEPGRAPH_WAIT;
                        break;
                case DEPGRAPH_OK:
                        break;
                }
        }
        if (v == DEPGRAPH_WAIT && ret_reason)
                *ret_reason = TAKE_PTR(wait_reason);
        return v;
}

uint64_t depgraph_next_deadline(const struct ecs_task *t)
{
        uint64_t best = 0;
        struct edge e;

        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                if (!is_gated(c->desired_status))
                        continue;
                for (size_t k = 0, n = edge_count(c); k < n; k++) {
                        edge_get(c, k, &e);
                        const struct ecs_container *d = find(t, e.name, e.len, NULL);
                        if (!d || condition_holds(c, d, e.cond))
                                continue;
                        uint64_t at = timeout_at(c, d, e.cond);
                        if (at != 0 && (best == 0 || at < best))
                                best = at;
                }
        }
        return best;
}

bool depgraph_task_should_stop(const struct ecs_task *t)
{
        for (size_t i = 0; i < t->n_containers; i++) {
                const struct ecs_container *c = &t->containers[i];
                if (c->essential && (c->known_status == CONTAINER_STATUS_STOPPED ||
                                     c->desired_status == CONTAINER_STATUS_STOPPED))
                        return true;
        }
        return false;
}
