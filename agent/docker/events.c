/* The container event stream: GET /events streamed, split into typed events, delivered from
 * the loop (never from inside the transfer), reopened with backoff and `since` after a gap. */
#include <systemd/sd-event.h>

#include "docker-internal.h"
#include "ecs/backoff.h"
#include "ecs/log.h"

/* Docker flushes the response headers as soon as it has subscribed us, but loop.h only tells
 * us about body bytes, and an idle daemon sends none. A stream still open this long after
 * the request went out has been accepted (refusals and HTTP errors end it at once). */
#define EVENTS_CONFIRM_USEC (500 * USEC_PER_MSEC)
#define EVENTS_BACKOFF_MIN  (250 * USEC_PER_MSEC)
#define EVENTS_BACKOFF_MAX  (30 * USEC_PER_SEC)
/* Parsed but not yet delivered; past this the stream is dropped and replayed with since. */
#define EVENTS_MAX_QUEUE 4096

static const char *const action_table[_DOCKER_EVENT_ACTION_MAX] = {
    [DOCKER_EVENT_CREATE] = "create",
    [DOCKER_EVENT_START] = "start",
    [DOCKER_EVENT_RESTART] = "restart",
    [DOCKER_EVENT_DIE] = "die",
    [DOCKER_EVENT_STOP] = "stop",
    [DOCKER_EVENT_KILL] = "kill",
    [DOCKER_EVENT_OOM] = "oom",
    [DOCKER_EVENT_DESTROY] = "destroy",
    [DOCKER_EVENT_PAUSE] = "pause",
    [DOCKER_EVENT_UNPAUSE] = "unpause",
    [DOCKER_EVENT_HEALTH_STATUS] = "health_status",
    [DOCKER_EVENT_OTHER] = "other",
};

const char *docker_event_action_to_string(enum docker_event_action a)
{
        return a >= 0 && a < _DOCKER_EVENT_ACTION_MAX ? action_table[a] : NULL;
}

enum docker_event_action docker_event_action_from_string(const char *s)
{
        size_t n;

        if (isempty(s))
                return _DOCKER_EVENT_ACTION_INVALID;
        /* "health_status: healthy", "exec_start: sh -c ..." carry a detail after a colon. */
        n = strcspn(s, ":");
        for (int i = 0; i < DOCKER_EVENT_OTHER; i++)
                if (strlen(action_table[i]) == n && strncmp(s, action_table[i], n) == 0)
                        return i;
        return DOCKER_EVENT_OTHER;
}

/* ---- parsing ---- */

struct docker_event *docker_event_free(struct docker_event *e)
{
        if (!e)
                return NULL;
        free(e->action_text);
        free(e->type);
        free(e->id);
        free(e->name);
        free(e->image);
        free(e->signal);
        docker_kv_free_many(e->attributes, e->n_attributes);
        free(e);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct docker_event *, docker_event_free)

const char *docker_event_attribute(const struct docker_event *e, const char *key)
{
        return e ? docker_kv_get(e->attributes, e->n_attributes, key) : NULL;
}

static int dup_or_null(const char *s, char **ret)
{
        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int docker_event_from_json(json_object *obj, struct docker_event **ret)
{
        _cleanup_(docker_event_freep) struct docker_event *e = NULL;
        json_object *actor = json_get_object(obj, "Actor", NULL);
        const char *action, *id, *type, *v;
        int64_t t;

        /* API < 1.22 daemons only had "status", "id" and "from". */
        action = json_get_string(obj, "Action", NULL);
        if (isempty(action))
                action = json_get_string(obj, "status", NULL);
        id = json_get_string(actor, "ID", NULL);
        if (isempty(id))
                id = json_get_string(obj, "id", NULL);
        type = json_get_string(obj, "Type", NULL);
        if (isempty(action) || isempty(id))
                return -EBADMSG;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->action = docker_event_action_from_string(action);
        e->exit_code = -1;
        if (dup_or_null(action, &e->action_text) < 0 || dup_or_null(id, &e->id) < 0 ||
            dup_or_null(type ? type : "container", &e->type) < 0 ||
            docker_kv_from_json(json_get_object(actor, "Attributes", NULL), &e->attributes,
                                &e->n_attributes) < 0)
                return -ENOMEM;
        t = json_get_int(obj, "timeNano", 0, NULL);
        if (t <= 0)
                t = json_get_int(obj, "time", 0, NULL) * 1000000000LL;
        e->time_nsec = t > 0 ? (uint64_t)t : 0;

        v = docker_event_attribute(e, "image");
        if (dup_or_null(docker_event_attribute(e, "name"), &e->name) < 0 ||
            dup_or_null(v ? v : json_get_string(obj, "from", NULL), &e->image) < 0 ||
            dup_or_null(docker_event_attribute(e, "signal"), &e->signal) < 0)
                return -ENOMEM;
        v = docker_event_attribute(e, "exitCode");
        if (e->action == DOCKER_EVENT_DIE && v) {
                char *end;
                errno = 0;
                long code = strtol(v, &end, 10);
                if (errno == 0 && end != v && *end == 0 && code >= 0 && code <= 255)
                        e->exit_code = (int)code;
        }
        if (e->action == DOCKER_EVENT_HEALTH_STATUS) {
                const char *h = strchr(action, ':');
                if (h)
                        h += strspn(h + 1, " ") + 1;
                e->health = docker_health_status_from_string(h);
                if (e->health < 0)
                        e->health = DOCKER_HEALTH_NONE;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

/* ---- the stream ---- */

struct queued {
        struct queued *next;
        struct docker_event *event; /* NULL: a state change */
        enum docker_events_state state;
        int error;
};

struct docker_events {
        struct docker_client_hook hook; /* hook.client: NULL once detached */
        docker_event_fn on_event;
        docker_events_state_fn on_state;
        void *userdata;
        char *filters; /* JSON, unescaped */
        uint64_t since_nsec;
        uint64_t request_nsec; /* realtime when the current request went out */
        struct ecs_http_call *http;
        sd_event_source *retry, *confirm, *defer;
        struct docker_json_stream *parser;
        struct backoff backoff;
        uint64_t last_time_nsec;
        char *last_id, *last_action;
        struct queued *head, **tail;
        size_t n_queued;
        bool confirmed, ever_connected, reported_down;
        bool dispatching, free_pending;
};

static void queue_clear(struct docker_events *ev)
{
        while (ev->head) {
                struct queued *q = ev->head;
                ev->head = q->next;
                docker_event_free(q->event);
                free(q);
        }
        ev->tail = &ev->head;
        ev->n_queued = 0;
}

static int enqueue(struct docker_events *ev, struct docker_event *e, enum docker_events_state st,
                   int error)
{
        struct queued *q;

        if (ev->n_queued >= EVENTS_MAX_QUEUE)
                return -ENOBUFS;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->event = e;
        q->state = st;
        q->error = error;
        *ev->tail = q;
        ev->tail = &q->next;
        ev->n_queued++;
        if (ev->defer)
                (void)sd_event_source_set_enabled(ev->defer, SD_EVENT_ONESHOT);
        return 0;
}

static void events_stop(struct docker_events *ev)
{
        ecs_http_call_cancel(ev->http);
        ev->http = NULL;
        ev->retry = sd_event_source_disable_unref(ev->retry);
        ev->confirm = sd_event_source_disable_unref(ev->confirm);
        ev->defer = sd_event_source_disable_unref(ev->defer);
        docker_client_hook_remove(&ev->hook);
}

static void events_free_now(struct docker_events *ev)
{
        queue_clear(ev);
        docker_json_stream_free(ev->parser);
        free(ev->filters);
        free(ev->last_id);
        free(ev->last_action);
        free(ev);
}

struct docker_events *docker_events_free(struct docker_events *ev)
{
        if (!ev)
                return NULL;
        events_stop(ev);
        if (ev->dispatching)
                ev->free_pending = true; /* the dispatcher frees it when the callback returns */
        else
                events_free_now(ev);
        return NULL;
}

/* The client is being freed first: stop, keeping what the user may still free. */
static void events_detach(struct docker_client_hook *h)
{
        struct docker_events *ev = container_of(h, struct docker_events, hook);

        events_stop(ev);
        if (!ev->dispatching)
                queue_clear(ev);
}

uint64_t docker_events_last_time(const struct docker_events *ev)
{
        return ev ? ev->last_time_nsec : 0;
}

static int events_dispatch(sd_event_source *s, void *userdata)
{
        struct docker_events *ev = userdata;

        ev->dispatching = true;
        while (ev->head && ev->hook.client && !ev->free_pending) {
                struct queued *q = ev->head;
                ev->head = q->next;
                if (!ev->head)
                        ev->tail = &ev->head;
                ev->n_queued--;
                if (q->event)
                        ev->on_event(ev, q->event, ev->userdata);
                else if (ev->on_state)
                        ev->on_state(ev, q->state, q->error, ev->userdata);
                docker_event_free(q->event);
                free(q);
        }
        ev->dispatching = false;
        if (ev->free_pending)
                events_free_now(ev);
        else if (!ev->hook.client)
                queue_clear(ev);
        return 0;
}

static void events_confirm(struct docker_events *ev)
{
        if (ev->confirmed)
                return;
        ev->confirmed = true;
        ev->reported_down = false;
        /* Until an event arrives, a replay after a drop must start where this stream did. */
        if (!ev->since_nsec)
                ev->since_nsec = ev->request_nsec;
        ev->confirm = sd_event_source_disable_unref(ev->confirm);
        backoff_reset(&ev->backoff);
        log_debug("Docker event stream %s", ev->ever_connected ? "reconnected" : "connected");
        (void)enqueue(ev, NULL,
                      ev->ever_connected ? DOCKER_EVENTS_RECONNECTED : DOCKER_EVENTS_CONNECTED, 0);
        ev->ever_connected = true;
}

/* Docker replays from `since` inclusively: skip what we already delivered. */
static bool seen(struct docker_events *ev, const struct docker_event *e)
{
        if (e->time_nsec == 0)
                return false;
        if (e->time_nsec < ev->last_time_nsec)
                return true;
        return e->time_nsec == ev->last_time_nsec && streq_ptr(e->id, ev->last_id) &&
               streq_ptr(e->action_text, ev->last_action);
}

static int events_object(json_object *obj, void *userdata)
{
        struct docker_events *ev = userdata;
        struct docker_event *e = NULL;
        int r;

        r = docker_event_from_json(obj, &e);
        if (r == -EBADMSG) {
                log_debug("Ignoring malformed Docker event");
                return 0;
        }
        if (r < 0)
                return r;
        /* Only a real event proves the stream is up: an HTTP error body also arrives here. */
        events_confirm(ev);
        if (!streq(e->type, "container") || seen(ev, e)) {
                docker_event_free(e);
                return 0;
        }
        r = enqueue(ev, e, 0, 0);
        if (r < 0) {
                docker_event_free(e);
                return r;
        }
        if (e->time_nsec > 0) {
                char *id = strdup(e->id), *action = strdup(e->action_text);
                if (!id || !action) {
                        free(id);
                        free(action);
                        return -ENOMEM;
                }
                free(ev->last_id);
                free(ev->last_action);
                ev->last_id = id;
                ev->last_action = action;
                ev->last_time_nsec = e->time_nsec;
        }
        return 0;
}

/* Inside libcurl's write callback: parse and queue only. */
static int events_on_data(const char *data, size_t len, void *userdata)
{
        struct docker_events *ev = userdata;

        return docker_json_stream_feed(ev->parser, data, len, events_object, ev);
}

static int events_connect(struct docker_events *ev);

static int events_on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct docker_events *ev = userdata;

        ev->retry = sd_event_source_disable_unref(ev->retry);
        (void)events_connect(ev);
        return 0;
}

static void events_schedule_retry(struct docker_events *ev)
{
        uint64_t delay = backoff_next(&ev->backoff);
        int r;

        ev->retry = sd_event_source_disable_unref(ev->retry);
        r = ecs_loop_add_timer(ev->hook.client->loop, delay, events_on_retry, ev, &ev->retry);
        if (r < 0)
                log_error_errno(r, "Failed to schedule Docker event stream reconnect: %m");
}

static void events_lost(struct docker_events *ev, int error)
{
        ev->confirm = sd_event_source_disable_unref(ev->confirm);
        if (ev->confirmed || !ev->reported_down) {
                ev->reported_down = true;
                (void)enqueue(ev, NULL, DOCKER_EVENTS_DISCONNECTED, error);
        }
        ev->confirmed = false;
        events_schedule_retry(ev);
}

static void events_on_done(const struct ecs_http_response *resp, void *userdata)
{
        struct docker_events *ev = userdata;
        int error;

        ev->http = NULL; /* the loop frees it */
        if (resp->error < 0)
                error = resp->error;
        else if (resp->status != 200)
                error = docker_error_from_status(resp->status, 0) ?: -EPROTO;
        else
                error = -ECONNRESET; /* the daemon ended the stream: it is going away */
        log_debug_errno(error, "Docker event stream ended (HTTP %ld): %m", resp->status);
        events_lost(ev, error);
}

static int events_on_confirm(sd_event_source *s, uint64_t usec, void *userdata)
{
        events_confirm(userdata);
        return 0;
}

static int events_connect(struct docker_events *ev)
{
        struct strbuf path = STRBUF_INIT(0);
        _cleanup_free_ char *url = NULL;
        uint64_t since = ev->last_time_nsec ? ev->last_time_nsec : ev->since_nsec;
        int r;

        /* A fresh parser: a partial object of the old stream must not prefix the new one. */
        ev->parser = docker_json_stream_free(ev->parser);
        r = docker_json_stream_new(DOCKER_MAX_OBJECT, &ev->parser);
        if (r >= 0)
                r = strbuf_puts(&path, "/events?filters=");
        if (r >= 0)
                r = docker_url_escape(&path, ev->filters, false);
        if (r >= 0 && since)
                r = strbuf_printf(&path, "&since=%llu.%09llu",
                                  (unsigned long long)(since / 1000000000ULL),
                                  (unsigned long long)(since % 1000000000ULL));
        if (r >= 0)
                r = docker_client_url(ev->hook.client, path.data, false, &url);
        ev->request_nsec = realtime_usec() * 1000ULL;
        strbuf_done(&path);
        if (r >= 0) {
                /* No timeouts: the stream is idle for as long as nothing happens. */
                struct ecs_http_request req = {
                    .url = url,
                    .unix_socket = ev->hook.client->socket_path,
                    .on_data = events_on_data,
                };
                r = ecs_http_start(ev->hook.client->loop, &req, events_on_done, ev, &ev->http);
        }
        if (r >= 0)
                r = ecs_loop_add_timer(ev->hook.client->loop, EVENTS_CONFIRM_USEC,
                                       events_on_confirm, ev, &ev->confirm);
        if (r < 0) {
                ecs_http_call_cancel(ev->http);
                ev->http = NULL;
                events_lost(ev, r);
        }
        return r;
}

static int events_filters(char *const *labels, char **ret)
{
        static const char *const actions[] = {"create", "start",   "restart",      "die",
                                              "stop",   "kill",    "oom",          "destroy",
                                              "pause",  "unpause", "health_status"};
        _cleanup_json_ json_object *f = NULL;
        _cleanup_free_ char *base = NULL;
        json_object *arr;
        int r;

        r = docker_label_filters("container", labels, &base);
        if (r < 0)
                return r;
        r = json_parse(base, strlen(base), &f);
        if (r < 0)
                return r;
        /* Server-side: spares us the exec_* noise of health checks. Docker matches
         * "health_status" against "health_status: healthy" by prefix. */
        arr = json_object_new_array();
        if (!arr || json_add(f, "event", arr) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (json_object_array_add(arr, json_object_new_string(actions[i])) < 0)
                        return -ENOMEM;
        *ret = json_dump(f);
        return *ret ? 0 : -ENOMEM;
}

int docker_events_new(struct docker_client *client, const struct docker_events_options *opts,
                      struct docker_events **ret)
{
        struct docker_events *ev;
        int r;

        if (!client || !opts || !opts->on_event)
                return -EINVAL;
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        ev->tail = &ev->head;
        ev->on_event = opts->on_event;
        ev->on_state = opts->on_state;
        ev->userdata = opts->userdata;
        ev->since_nsec = opts->since_usec * 1000ULL;
        ev->backoff = BACKOFF_INIT(EVENTS_BACKOFF_MIN, EVENTS_BACKOFF_MAX, 1.5, 0.2);
        r = events_filters(opts->labels, &ev->filters);
        if (r >= 0)
                r = sd_event_add_defer(ecs_loop_event(client->loop), &ev->defer, events_dispatch,
                                       ev);
        if (r >= 0)
                r = sd_event_source_set_enabled(ev->defer, SD_EVENT_OFF);
        if (r < 0) {
                events_stop(ev);
                events_free_now(ev);
                return r;
        }
        ev->hook.detach = events_detach;
        docker_client_hook_add(client, &ev->hook);
        /* A failed first attempt is retried like a lost stream and reported as DISCONNECTED. */
        (void)events_connect(ev);
        *ret = ev;
        return 0;
}
