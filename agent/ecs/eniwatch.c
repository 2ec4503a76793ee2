/* Waiting for task ENIs to appear and reporting them ATTACHED. */
#include "ecs/eniwatch.h"
#include "ecs/awsjson.h"
#include "ecs/ecs_requests.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/net.h"

#define TARGET_SUBMIT_TASK "AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange"

struct expectation {
        struct eniwatch *w;
        char *task_arn, *attachment_arn;
        uint8_t mac[6];
        struct net_link_watch *watch;
        sd_event_source *expiry;
        struct awsjson_call *call;
        struct expectation *next;
};

struct eniwatch {
        struct ecs_loop *loop;
        struct awsjson_client *ecs;
        char *cluster;
        struct expectation *list;
};

static void expectation_free(struct expectation *x)
{
        struct expectation **p;

        for (p = &x->w->list; *p && *p != x; p = &(*p)->next)
                ;
        if (*p)
                *p = x->next;
        net_link_watch_free(x->watch);
        sd_event_source_disable_unref(x->expiry);
        awsjson_call_cancel(x->call);
        free(x->task_arn);
        free(x->attachment_arn);
        free(x);
}

static void on_reported(const struct awsjson_result *res, void *ud)
{
        struct expectation *x = ud;

        x->call = NULL;
        if (res->error_class == AWSJSON_OK)
                log_info("ENI attachment %s of task %s reported ATTACHED", x->attachment_arn,
                         x->task_arn);
        else
                log_warning("ENI attachment %s: ATTACHED not accepted: %s: %s", x->attachment_arn,
                            strna(res->code), strna(res->message));
        expectation_free(x);
}

static void report(struct expectation *x)
{
        _cleanup_json_ json_object *body = NULL;
        struct awsjson_call_opts opts = {
            .max_attempts = 298,
            .retry_delay = awsjson_retry_delay_state_change,
        };
        int r;

        /* The deadline stays: past it ECS has given up on the attachment (§2.9). */
        x->watch = net_link_watch_free(x->watch);
        if (x->call)
                return;
        r = ecs_build_task_attachment_change(x->w->cluster, x->task_arn, x->attachment_arn,
                                             "ATTACHED", &body);
        if (r >= 0)
                r = awsjson_call(x->w->ecs, TARGET_SUBMIT_TASK, body, &opts, on_reported, x,
                                 &x->call);
        if (r < 0) {
                log_error_errno(r, "ENI attachment %s: cannot report it: %m", x->attachment_arn);
                expectation_free(x);
        }
}

static void on_link(struct net_link_watch *lw, int ifindex, const char *name, void *ud)
{
        struct expectation *x = ud;
        log_info("ENI for attachment %s appeared as %s", x->attachment_arn, name);
        report(x);
}

static int on_expiry(sd_event_source *s, uint64_t usec, void *ud)
{
        struct expectation *x = ud;
        log_warning("ENI attachment %s of task %s: %s in time; giving up", x->attachment_arn,
                    x->task_arn, x->call ? "not reported" : "no link appeared");
        expectation_free(x);
        return 0;
}

int eniwatch_expect(struct eniwatch *w, const char *task_arn, const char *attachment_arn,
                    const char *mac, uint64_t timeout_usec)
{
        struct expectation *x;
        uint8_t m[6];
        char name[IFNAMSIZ];
        int r;

        if (net_mac_parse(mac, m) < 0 || isempty(task_arn) || isempty(attachment_arn))
                return -EINVAL;
        for (x = w->list; x; x = x->next)
                if (streq(x->attachment_arn, attachment_arn)) {
                        /* Sent again: waiting or reporting already, with a new deadline. */
                        if (x->expiry)
                                (void)sd_event_source_set_time_relative(x->expiry, timeout_usec);
                        return 0;
                }
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->w = w;
        memcpy(x->mac, m, 6);
        x->next = w->list;
        w->list = x;
        x->task_arn = strdup(task_arn);
        x->attachment_arn = strdup(attachment_arn);
        if (!x->task_arn || !x->attachment_arn) {
                expectation_free(x);
                return -ENOMEM;
        }
        /* Subscribe first, then look: a link arriving in between is not missed. */
        r = net_link_watch_new(ecs_loop_event(w->loop), -1, m, on_link, x, &x->watch);
        if (r < 0) {
                log_error_errno(r, "ENI attachment %s: cannot watch links: %m", attachment_arn);
                expectation_free(x);
                return r;
        }
        r = ecs_loop_add_timer(w->loop, timeout_usec, on_expiry, x, &x->expiry);
        if (r < 0) {
                expectation_free(x);
                return r;
        }
        if (net_find_link_by_mac(NULL, m, NULL, name) >= 0) {
                log_info("ENI for attachment %s is %s", attachment_arn, name);
                report(x);
                return 0;
        }
        log_info("Waiting up to %llu s for the ENI %s of task %s",
                 (unsigned long long)(timeout_usec / USEC_PER_SEC), mac, task_arn);
        return 0;
}

int eniwatch_new(struct ecs_loop *loop, struct awsjson_client *ecs, const char *cluster,
                 struct eniwatch **ret)
{
        struct eniwatch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->loop = loop;
        w->ecs = ecs;
        w->cluster = strdup(cluster);
        if (!w->cluster) {
                free(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

struct eniwatch *eniwatch_free(struct eniwatch *w)
{
        if (!w)
                return NULL;
        while (w->list)
                expectation_free(w->list);
        free(w->cluster);
        free(w);
        return NULL;
}
