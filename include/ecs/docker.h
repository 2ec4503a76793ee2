/* Docker Engine API client: typed, asynchronous calls over the agent's loop (libcurl multi on
 * sd-event, through the Docker unix socket), and the container event stream.
 *
 * Every call returns at once; its callback runs later on the loop, exactly once, unless the
 * call is cancelled (docker_call_cancel()) or the client is freed first, in which case it never
 * runs. Every call has a timeout (0 = the default below). Results are typed: callers never see
 * Docker's JSON except the container-create body, which the engine builds in Docker's own API
 * shape. Structures passed to callbacks are borrowed: valid during the callback only.
 *
 * Errors are negative errno with Docker's message alongside (struct docker_result):
 *   404 -ENOENT, 409 -EEXIST (create: name taken) or -EBUSY (other conflicts), 400 -EINVAL,
 *   401/403 -EACCES, other 4xx -EPROTO, 5xx -EIO, timeouts -ETIMEDOUT, transport errors as
 *   loop.h reports them (-ECONNREFUSED, -ECONNRESET, ...), bad answers -EBADMSG. */
#pragma once

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/loop.h"

struct docker_client;
struct docker_call;
struct docker_events;

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"
/* Highest API version we speak and the lowest we accept from the daemon. Calls use versioned
 * paths (/v1.41/...) with min(ours, the daemon's), as the official agent does. */
#define DOCKER_API_VERSION_MAX "1.41"
#define DOCKER_API_VERSION_MIN "1.25"

/* Default timeouts, those of the official agent (ECS_CONTAINER_*_TIMEOUT etc. override them). */
#define DOCKER_TIMEOUT_DEFAULT      (30 * USEC_PER_SEC) /* version, info, ping, inspect, list */
#define DOCKER_TIMEOUT_CREATE       (4 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_START        (3 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_STOP_EXTRA   (2 * USEC_PER_MINUTE) /* added to the stop grace period */
#define DOCKER_TIMEOUT_REMOVE       (5 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_IMAGE_REMOVE (3 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_PULL         (2 * USEC_PER_HOUR)
#define DOCKER_TIMEOUT_PULL_STALL   (1 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_LOAD         (10 * USEC_PER_MINUTE)
#define DOCKER_TIMEOUT_VOLUME       (5 * USEC_PER_MINUTE)

/* ---- results ---- */

struct docker_result {
        int error;           /* 0, or negative errno as above */
        long http_status;    /* 0 when no HTTP answer arrived */
        const char *message; /* on error: Docker's message, or the transport's; never NULL then */
};

struct docker_kv {
        char *key;
        char *value;
};

/* Value of key in a kv list, NULL when absent. */
const char *docker_kv_get(const struct docker_kv *kv, size_t n, const char *key);
void docker_kv_free_many(struct docker_kv *kv, size_t n);

/* ---- client ---- */

/* docker_host: "unix:///path", "/path", or "tcp://host:port" (plain HTTP); NULL means
 * DOCKER_DEFAULT_HOST. No I/O happens here. */
int docker_client_new(struct ecs_loop *loop, const char *docker_host, struct docker_client **ret);
/* Cancels every call in flight (their callbacks never run) and detaches event streams (they
 * stop; free them with docker_events_free()). Accepts NULL. */
struct docker_client *docker_client_free(struct docker_client *client);
/* The negotiated API version ("1.41"), or NULL before docker_client_version() succeeded (calls
 * then use unversioned paths, which the daemon serves at its own latest version). */
const char *docker_client_api_version(const struct docker_client *client);

/* Aborts a call in flight; its callback never runs. Accepts NULL. The handle is invalid once
 * the callback has started: drop it there. */
void docker_call_cancel(struct docker_call *call);

typedef void (*docker_done_fn)(const struct docker_result *res, void *userdata);

/* ---- daemon ---- */

struct docker_version {
        char *version;         /* "20.10.24" */
        char *api_version;     /* the daemon's ApiVersion, "1.41" */
        char *min_api_version; /* "1.12" */
        char *os, *arch, *kernel_version;
};
typedef void (*docker_version_fn)(const struct docker_result *res, const struct docker_version *v,
                                  void *userdata);
/* GET /version; on success also fixes the API version later calls use. A daemon older than
 * DOCKER_API_VERSION_MIN fails with -EPROTONOSUPPORT. */
int docker_client_version(struct docker_client *client, uint64_t timeout_usec, docker_version_fn cb,
                          void *userdata, struct docker_call **ret);

struct docker_info {
        char *id;
        char *name;            /* host name */
        char *server_version;  /* "20.10.24+dfsg1" */
        char *driver;          /* storage driver, "overlay2" */
        char *cgroup_driver;   /* "cgroupfs" or "systemd" */
        char *cgroup_version;  /* "1" or "2"; NULL on daemons before 20.10 */
        char *docker_root_dir; /* "/var/lib/docker" */
        char *os_type, *operating_system, *architecture, *kernel_version;
        char **security_options; /* strv: "name=seccomp,profile=default", ... */
        char **runtimes;         /* strv of runtime names */
        int ncpu;
        uint64_t mem_total; /* bytes */
        int containers, containers_running;
};
typedef void (*docker_info_fn)(const struct docker_result *res, const struct docker_info *info,
                               void *userdata);
int docker_client_info(struct docker_client *client, uint64_t timeout_usec, docker_info_fn cb,
                       void *userdata, struct docker_call **ret);
/* GET /_ping: error 0 when the daemon answers "OK". */
int docker_client_ping(struct docker_client *client, uint64_t timeout_usec, docker_done_fn cb,
                       void *userdata, struct docker_call **ret);

/* ---- images ---- */

/* An image reference split the way the pull API wants it. "host:5000/img" has no tag (the
 * colon is a port); "img@sha256:..." has a digest. */
struct docker_image_ref {
        char *repository; /* "host:5000/ns/img" */
        char *tag;        /* NULL when none was given */
        char *digest;     /* "sha256:<64 hex>", NULL when none was given */
};
/* -EINVAL for an empty or malformed reference (blanks, bad tag or digest, uppercase in the
 * repository path, empty path components). */
int docker_image_ref_parse(const char *image, struct docker_image_ref *ret);
void docker_image_ref_done(struct docker_image_ref *ref);

struct docker_image {
        char *id;            /* "sha256:..." */
        char **repo_tags;    /* strv, never NULL */
        char **repo_digests; /* strv, never NULL: "name@sha256:..." */
        char *os, *architecture;
        uint64_t created_usec; /* realtime, 0 when unknown */
        int64_t size;
};
int docker_image_parse(const char *json, size_t len, struct docker_image **ret);
struct docker_image *docker_image_free(struct docker_image *img);
typedef void (*docker_image_fn)(const struct docker_result *res, const struct docker_image *img,
                                void *userdata);
/* GET /images/{name}/json; a missing image is -ENOENT. name: reference or "sha256:..." id. */
int docker_image_inspect(struct docker_client *client, const char *name, uint64_t timeout_usec,
                         docker_image_fn cb, void *userdata, struct docker_call **ret);

/* GET /images/json: every image on the host (id, repo_tags, created_usec, size set; the
 * list is valid only during the callback). */
typedef void (*docker_image_list_fn)(const struct docker_result *res,
                                     const struct docker_image *list, size_t n, void *userdata);
int docker_image_list(struct docker_client *client, uint64_t timeout_usec, docker_image_list_fn cb,
                      void *userdata, struct docker_call **ret);
/* Internal, exported for the unit tests. */
int docker_image_list_parse(const char *body, size_t len, struct docker_image **ret, size_t *ret_n);
void docker_image_list_free(struct docker_image *l, size_t n);

/* Registry credentials for a pull. Never logged. */
struct docker_auth {
        const char *username;
        const char *password;
        const char *server_address; /* "https://123456789012.dkr.ecr.us-west-2.amazonaws.com" */
};
/* The X-Registry-Auth value: base64url (padded) of {"username","password","serveraddress"}. */
int docker_auth_encode(const struct docker_auth *auth, char **ret);

struct docker_pull_options {
        const char *image;              /* any reference; no tag nor digest means "latest" */
        const struct docker_auth *auth; /* NULL: anonymous */
        uint64_t timeout_usec;          /* whole pull; 0 = DOCKER_TIMEOUT_PULL */
        uint64_t stall_timeout_usec; /* no progress for this long; 0 = DOCKER_TIMEOUT_PULL_STALL */
};
/* digest: the "Digest: sha256:..." the daemon reported, or NULL (e.g. image already local
 * under an older daemon). A progress "error" line fails the pull even under HTTP 200. Either
 * timeout fails it with -ETIMEDOUT and a message naming the limit (as ECS_IMAGE_PULL_TIMEOUT
 * or ECS_IMAGE_PULL_INACTIVITY_TIMEOUT) and the last progress line; hanging up also ends the
 * pull in the daemon, unless another client waits on the same download. */
typedef void (*docker_pull_fn)(const struct docker_result *res, const char *digest, void *userdata);
int docker_image_pull(struct docker_client *client, const struct docker_pull_options *opts,
                      docker_pull_fn cb, void *userdata, struct docker_call **ret);
/* DELETE /images/{name}; 409 (in use) is -EBUSY. */
int docker_image_remove(struct docker_client *client, const char *name, bool force,
                        uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                        struct docker_call **ret);

/* loaded: the first "Loaded image: name:tag" (or image ID) the daemon reported. */
typedef void (*docker_load_fn)(const struct docker_result *res, const char *loaded, void *userdata);
/* POST /images/load with a `docker save` tarball. The file is read into memory before the
 * call starts (-EFBIG above 64 MiB); meant for the small pause image. */
int docker_image_load_file(struct docker_client *client, const char *path, uint64_t timeout_usec,
                           docker_load_fn cb, void *userdata, struct docker_call **ret);
int docker_image_load(struct docker_client *client, const void *tar, size_t len,
                      uint64_t timeout_usec, docker_load_fn cb, void *userdata,
                      struct docker_call **ret);

/* ---- containers ---- */

enum docker_container_state {
        DOCKER_CONTAINER_CREATED,
        DOCKER_CONTAINER_RUNNING,
        DOCKER_CONTAINER_PAUSED,
        DOCKER_CONTAINER_RESTARTING,
        DOCKER_CONTAINER_REMOVING,
        DOCKER_CONTAINER_EXITED,
        DOCKER_CONTAINER_DEAD,
        _DOCKER_CONTAINER_STATE_MAX,
        _DOCKER_CONTAINER_STATE_INVALID = -EINVAL,
};
const char *docker_container_state_to_string(enum docker_container_state s);
enum docker_container_state docker_container_state_from_string(const char *s);

enum docker_health_status {
        DOCKER_HEALTH_NONE, /* no health check configured */
        DOCKER_HEALTH_STARTING,
        DOCKER_HEALTH_HEALTHY,
        DOCKER_HEALTH_UNHEALTHY,
        _DOCKER_HEALTH_MAX,
        _DOCKER_HEALTH_INVALID = -EINVAL,
};
const char *docker_health_status_to_string(enum docker_health_status h);
enum docker_health_status docker_health_status_from_string(const char *s);

struct docker_port_binding {
        uint16_t container_port;
        char protocol[8]; /* "tcp", "udp", "sctp" */
        char *host_ip;    /* "0.0.0.0", "::" */
        uint16_t host_port;
};

struct docker_network {
        char *name;         /* "bridge", or a user network */
        char *ip_address;   /* IPv4, NULL when none */
        char *ipv6_address; /* global IPv6, NULL when none */
};

struct docker_container {
        char *id;
        char *name;                        /* without Docker's leading '/' */
        char *image_id;                    /* "sha256:..." */
        char *config_image;                /* Config.Image: the reference it was created from */
        enum docker_container_state state; /* _INVALID when Docker said something unknown */
        bool running, paused, restarting, oom_killed, dead;
        int pid;
        int exit_code;
        char *error;                                              /* State.Error, NULL when empty */
        uint64_t created_usec, started_at_usec, finished_at_usec; /* realtime; 0 = never */
        enum docker_health_status health;
        char *health_output; /* output of the last health check, NULL when none */
        int health_exit_code;
        int restart_count;
        char *network_mode; /* HostConfig.NetworkMode */
        struct docker_kv *labels;
        size_t n_labels;
        struct docker_port_binding *ports; /* NetworkSettings.Ports, bound ones only */
        size_t n_ports;
        struct docker_network *networks;
        size_t n_networks;
};
int docker_container_parse(const char *json, size_t len, struct docker_container **ret);
struct docker_container *docker_container_free(struct docker_container *c);
const char *docker_container_label(const struct docker_container *c, const char *key);

typedef void (*docker_create_fn)(const struct docker_result *res, const char *id, void *userdata);
/* POST /containers/create?name=... with the engine's Docker create body (Image, Cmd, Env,
 * Labels, HostConfig, ...; not taken over). A name already in use is -EEXIST (the caller
 * adopts the existing container); a missing image -ENOENT. */
int docker_container_create(struct docker_client *client, const char *name, json_object *config,
                            uint64_t timeout_usec, docker_create_fn cb, void *userdata,
                            struct docker_call **ret);
/* Started or already running (304) is success. */
int docker_container_start(struct docker_client *client, const char *id, uint64_t timeout_usec,
                           docker_done_fn cb, void *userdata, struct docker_call **ret);
/* POST /containers/{id}/stop?t=grace_sec. timeout 0 = grace + DOCKER_TIMEOUT_STOP_EXTRA.
 * Already stopped (304) is success; a missing container -ENOENT. */
int docker_container_stop(struct docker_client *client, const char *id, unsigned grace_sec,
                          uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                          struct docker_call **ret);
/* signal: "SIGKILL", "TERM", "9"; NULL = SIGKILL. Not running is -EBUSY. */
int docker_container_kill(struct docker_client *client, const char *id, const char *signal,
                          uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                          struct docker_call **ret);
typedef void (*docker_container_fn)(const struct docker_result *res,
                                    const struct docker_container *c, void *userdata);
/* id: ID, ID prefix or name. */
int docker_container_inspect(struct docker_client *client, const char *id, uint64_t timeout_usec,
                             docker_container_fn cb, void *userdata, struct docker_call **ret);
/* DELETE /containers/{id}?v=..&force=..; missing -ENOENT, running without force -EBUSY. */
int docker_container_remove(struct docker_client *client, const char *id, bool remove_volumes,
                            bool force, uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                            struct docker_call **ret);

struct docker_container_summary {
        char *id;
        char *name; /* first name, without the leading '/' */
        char *image;
        char *image_id;
        enum docker_container_state state;
        char *status; /* "Up 2 minutes", "Exited (0) 3 seconds ago" */
        uint64_t created_usec;
        struct docker_kv *labels;
        size_t n_labels;
};
typedef void (*docker_list_fn)(const struct docker_result *res,
                               const struct docker_container_summary *list, size_t n,
                               void *userdata);
/* GET /containers/json?all=1&filters={"label":[...]}: every container (running or not) that
 * carries all of labels ("key" or "key=value"; NULL or empty = no filter). */
int docker_container_list(struct docker_client *client, char *const *labels, uint64_t timeout_usec,
                          docker_list_fn cb, void *userdata, struct docker_call **ret);

/* ---- volumes ---- */

struct docker_volume {
        char *name;
        char *driver;
        char *mountpoint;
        char *scope; /* "local" or "global" */
        struct docker_kv *labels;
        size_t n_labels;
        struct docker_kv *options; /* driver options */
        size_t n_options;
};
struct docker_volume_spec {
        const char *name;
        const char *driver; /* NULL = "local" */
        const struct docker_kv *driver_opts;
        size_t n_driver_opts;
        const struct docker_kv *labels;
        size_t n_labels;
};
typedef void (*docker_volume_fn)(const struct docker_result *res, const struct docker_volume *v,
                                 void *userdata);
/* Creating a volume that exists with the same driver returns the existing one (Docker's rule). */
int docker_volume_create(struct docker_client *client, const struct docker_volume_spec *spec,
                         uint64_t timeout_usec, docker_volume_fn cb, void *userdata,
                         struct docker_call **ret);
int docker_volume_inspect(struct docker_client *client, const char *name, uint64_t timeout_usec,
                          docker_volume_fn cb, void *userdata, struct docker_call **ret);
/* Missing -ENOENT, in use -EBUSY. */
int docker_volume_remove(struct docker_client *client, const char *name, bool force,
                         uint64_t timeout_usec, docker_done_fn cb, void *userdata,
                         struct docker_call **ret);

/* ---- events ---- */

enum docker_event_action {
        DOCKER_EVENT_CREATE,
        DOCKER_EVENT_START,
        DOCKER_EVENT_RESTART,
        DOCKER_EVENT_DIE,
        DOCKER_EVENT_STOP,
        DOCKER_EVENT_KILL,
        DOCKER_EVENT_OOM,
        DOCKER_EVENT_DESTROY,
        DOCKER_EVENT_PAUSE,
        DOCKER_EVENT_UNPAUSE,
        DOCKER_EVENT_HEALTH_STATUS, /* "health_status: healthy" etc.; see health */
        DOCKER_EVENT_OTHER,         /* anything else (exec_*, rename, ...): see action_text */
        _DOCKER_EVENT_ACTION_MAX,
        _DOCKER_EVENT_ACTION_INVALID = -EINVAL,
};
const char *docker_event_action_to_string(enum docker_event_action a);
/* Maps Docker's Action; "health_status: x" gives HEALTH_STATUS, unknown ones OTHER. */
enum docker_event_action docker_event_action_from_string(const char *s);

struct docker_event {
        enum docker_event_action action;
        char *action_text; /* Docker's Action verbatim */
        char *type;        /* "container" */
        char *id;
        uint64_t time_nsec; /* timeNano, realtime */
        char *name;         /* container name (Actor.Attributes.name) */
        char *image;
        int exit_code;                    /* die: exitCode attribute; -1 otherwise */
        char *signal;                     /* kill: signal attribute */
        enum docker_health_status health; /* health_status: the new status */
        struct docker_kv *attributes;     /* all Actor.Attributes (container labels included) */
        size_t n_attributes;
};
/* Parses one event object; -EBADMSG when it has no id or action. */
int docker_event_from_json(json_object *obj, struct docker_event **ret);
struct docker_event *docker_event_free(struct docker_event *e);
const char *docker_event_attribute(const struct docker_event *e, const char *key);

enum docker_events_state {
        DOCKER_EVENTS_CONNECTED,    /* first stream up */
        DOCKER_EVENTS_RECONNECTED,  /* up again after a gap: re-inspect what you track */
        DOCKER_EVENTS_DISCONNECTED, /* stream lost or could not connect; retrying */
};
typedef void (*docker_event_fn)(struct docker_events *ev, const struct docker_event *e,
                                void *userdata);
typedef void (*docker_events_state_fn)(struct docker_events *ev, enum docker_events_state state,
                                       int error, void *userdata);
struct docker_events_options {
        uint64_t since_usec; /* realtime; replay events from then on; 0 = new events only */
        char *const *labels; /* only containers with these labels ("k" or "k=v"); NULL = all */
        docker_event_fn on_event;
        docker_events_state_fn on_state; /* optional */
        void *userdata;
};
/* GET /events for container lifecycle events, streamed. When the stream ends or fails it is
 * reopened with backoff (250 ms -> 30 s) and since=<last event time>, so Docker replays what
 * happened in between (events it no longer remembers are lost: hence RECONNECTED). Callbacks
 * run from the loop, never from inside a transfer; both may free the stream or the client. */
int docker_events_new(struct docker_client *client, const struct docker_events_options *opts,
                      struct docker_events **ret);
struct docker_events *docker_events_free(struct docker_events *ev);
/* timeNano of the last event delivered, 0 before the first. */
uint64_t docker_events_last_time(const struct docker_events *ev);

/* ---- parsing helpers, exposed for tests and fuzzing ---- */

/* RFC 3339 with optional fraction (nanoseconds) and zone; Go's zero time
 * "0001-01-01T00:00:00Z" and anything before 1970 give 0. -EINVAL when malformed. */
int docker_time_parse(const char *s, uint64_t *ret_usec);

/* HTTP status -> negative errno (0 for 2xx and 304). conflict: what 409 means (-EEXIST or
 * -EBUSY). */
int docker_error_from_status(long status, int conflict);
/* Docker's {"message": "..."} from an error body; a non-JSON body is returned trimmed. NULL
 * when empty. */
char *docker_error_message(const char *body, size_t len);

/* Splits a stream of concatenated JSON objects (newline-separated or not) at any byte
 * boundary. Objects over max_object bytes fail with -E2BIG. */
struct docker_json_stream;
typedef int (*docker_json_object_fn)(json_object *obj, void *userdata);
int docker_json_stream_new(size_t max_object, struct docker_json_stream **ret);
struct docker_json_stream *docker_json_stream_free(struct docker_json_stream *s);
/* Calls cb for each complete top-level object (non-objects are skipped). -EBADMSG on bad
 * JSON; a negative return of cb stops and is returned. */
int docker_json_stream_feed(struct docker_json_stream *s, const char *data, size_t len,
                            docker_json_object_fn cb, void *userdata);

/* What a pull or load progress stream said. */
struct docker_progress {
        char *error;    /* first "error" / errorDetail.message */
        char *message;  /* "message" of an error body (HTTP error answers) */
        char *digest;   /* "sha256:..." from a "Digest: ..." status */
        char *loaded;   /* from "Loaded image: X" or "Loaded image ID: X" */
        char last[160]; /* the latest status line, "<id>: <status> <progress>", printable */
        size_t n_objects;
};
int docker_progress_parse(struct docker_progress *p, json_object *obj);
void docker_progress_done(struct docker_progress *p);
/* errno for a pull error text: -ENOENT (not found / manifest unknown), -EACCES
 * (unauthorized, denied), else -EIO. */
int docker_pull_error_from_text(const char *text);
