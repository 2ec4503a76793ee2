/* Image records and image cleanup (§9.1). The engine records every image its containers use:
 * the names tasks gave it, its ID once Docker shows it, when it was pulled and when a
 * container last started from it. The records live in images.json in the data directory
 * and are rebuilt from the restored containers when that file is lost. Every cleanup
 * interval the least recently used images that no task references and that were pulled
 * long enough ago are removed, a bounded number per cycle; untracked images only when
 * ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP asks for it. Pulls wait while a cycle runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/state.h"
#include "ecs/strbuf.h"
#include "ecs/tasknet.h"
#include "engine-internal.h"

#define IMAGES_FILE    "images.json"
#define AGENT_IMAGE    "amazon/amazon-ecs-agent:latest"
#define LABEL_TASK_ARN "com.amazonaws.ecs.task-arn"
#define MAX_RECORDS    4096 /* a corrupt or hostile file cannot make us hold more */
#define MAX_NAMES      64
#define MAX_INSPECTS   50                       /* untracked containers looked at per cycle */
#define CALL_TIMEOUT   (60ULL * 1000000ULL)     /* each Docker call of a cycle */
#define CYCLE_BUDGET   (5ULL * 60 * 1000000ULL) /* then the rest waits: pulls are held */

struct image_record {
        char *id;                      /* "sha256:..."; NULL until Docker showed it */
        char **names;                  /* normalised references tasks used, never NULL */
        uint64_t pulled_at, last_used; /* realtime usec; last_used 0: never started */
};

/* What a cycle saw in Docker, copied out of the list callbacks. */
struct seen_container {
        char *id, *image_id, *task_arn; /* task_arn NULL: not an ECS container */
        enum docker_container_state state;
};

struct seen_image {
        char *id;
        char **tags; /* without "<none>:<none>" */
        uint64_t created;
        int64_t size;
};

enum phase {
        PHASE_IDLE,
        PHASE_LIST_CONTAINERS,
        PHASE_LIST_IMAGES,
        PHASE_TRACKED,           /* removing the chosen tracked images */
        PHASE_UNTRACKED_INSPECT, /* looking at stopped non-ECS containers */
        PHASE_UNTRACKED_IMAGES,  /* removing unused non-ECS images */
};

struct engine_images {
        struct engine *e;
        struct image_record *recs;
        size_t n;
        sd_event_source *timer, *save;
        bool dirty;

        /* The cycle. */
        enum phase phase;
        uint64_t cycle_started;
        struct docker_call *call;
        struct seen_container *cs;
        size_t n_cs;
        struct seen_image *is;
        size_t n_is;
        char **victims; /* tracked: record IDs chosen, LRU first */
        size_t n_victims, victim, name_idx, container_idx;
        size_t deleted;           /* images removed this cycle */
        size_t cursor;            /* untracked phases */
        size_t untracked_removed; /* non-ECS containers removed this cycle */
        size_t inspected;         /* non-ECS containers looked at this cycle */
        struct op **held_pulls;   /* pulls that arrived during the cycle */
        size_t n_held;
};

static void cycle_step(struct engine_images *im);

/* ---- names ---- */

/* "busybox", "docker.io/library/busybox" and "busybox:latest" are one image, spelled as
 * Docker's RepoTags spell it: Docker Hub's prefixes dropped, no tag meaning latest. */
static char *normalise(const char *image)
{
        static const char *const hub[] = {"docker.io/", "index.docker.io/",
                                          "registry-1.docker.io/"};
        for (size_t i = 0; i < ELEMENTSOF(hub); i++)
                if (startswith(image, hub[i])) {
                        image += strlen(hub[i]);
                        if (startswith(image, "library/") && !strchr(image + 8, '/'))
                                image += 8;
                        break;
                }
        const char *slash = strrchr(image, '/');
        const char *last = slash ? slash + 1 : image;
        if (strchr(last, ':') || strchr(image, '@'))
                return strdup(image);
        char *out;
        return asprintf(&out, "%s:latest", image) < 0 ? NULL : out;
}

static bool strv_has(char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static int strv_add(char ***l, const char *s)
{
        size_t n = strv_length(*l);
        if (strv_has(*l, s))
                return 0;
        if (n >= MAX_NAMES)
                return -E2BIG;
        char **nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl)
                return -ENOMEM;
        *l = nl;
        if (!(nl[n] = strdup(s)))
                return -ENOMEM;
        nl[n + 1] = NULL;
        return 0;
}

static void strv_del(char **l, const char *s)
{
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s)) {
                        free(l[i]);
                        memmove(&l[i], &l[i + 1], (strv_length(&l[i + 1]) + 1) * sizeof(char *));
                        return;
                }
}

/* The official exclusion list: the pause image, the agent's image, ECS_EXCLUDE_UNTRACKED_IMAGE. */
static bool excluded(const struct engine *e, const char *name)
{
        if (streq(name, TASKNET_PAUSE_IMAGE) || streq(name, AGENT_IMAGE))
                return true;
        const char *list = e->config->exclude_untracked_image;
        size_t len = strlen(name);
        for (const char *p = list; p && *p;) {
                p += strspn(p, ", \t");
                size_t n = strcspn(p, ", \t");
                if (n == len && strncmp(p, name, n) == 0)
                        return true;
                if (n > 0) {
                        /* "busybox" excludes "busybox:latest", as the names are kept. */
                        _cleanup_free_ char *raw = strndup(p, n);
                        _cleanup_free_ char *norm = raw ? normalise(raw) : NULL;
                        if (!norm || streq(norm, name))
                                return true; /* without memory: keep rather than remove */
                }
                p += n;
        }
        return false;
}

static bool any_excluded(const struct engine *e, char *const *names)
{
        for (; names && *names; names++)
                if (excluded(e, *names))
                        return true;
        return false;
}

/* ---- records ---- */

static struct image_record *find_by_id(struct engine_images *im, const char *id)
{
        for (size_t i = 0; id && i < im->n; i++)
                if (streq_ptr(im->recs[i].id, id))
                        return &im->recs[i];
        return NULL;
}

static struct image_record *find_pending(struct engine_images *im, const char *name)
{
        for (size_t i = 0; i < im->n; i++)
                if (!im->recs[i].id && strv_has(im->recs[i].names, name))
                        return &im->recs[i];
        return NULL;
}

static struct image_record *record_add(struct engine_images *im)
{
        if (im->n >= MAX_RECORDS)
                return NULL;
        struct image_record *nr = realloc(im->recs, (im->n + 1) * sizeof(*nr));
        if (!nr)
                return NULL;
        im->recs = nr;
        struct image_record *r = &im->recs[im->n++];
        *r = (struct image_record){0};
        r->names = calloc(1, sizeof(char *));
        if (!r->names) {
                im->n--;
                return NULL;
        }
        return r;
}

static void record_drop(struct engine_images *im, struct image_record *r)
{
        free(r->id);
        strv_free(r->names);
        size_t i = (size_t)(r - im->recs);
        memmove(&im->recs[i], &im->recs[i + 1], (im->n - i - 1) * sizeof(*r));
        im->n--;
}

static int save_file(struct engine_images *im)
{
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();
        int r;

        if (!root || !arr || json_add(root, "images", arr) < 0) {
                if (!root)
                        json_object_put(arr);
                return -ENOMEM;
        }
        for (size_t i = 0; i < im->n; i++) {
                const struct image_record *rec = &im->recs[i];
                json_object *o = json_object_new_object(), *names = json_object_new_array();
                if (!o || !names) {
                        json_object_put(o);
                        json_object_put(names);
                        return -ENOMEM;
                }
                for (char **n = rec->names; *n; n++)
                        if (json_append(names, json_object_new_string(*n)) < 0) {
                                json_object_put(o);
                                json_object_put(names);
                                return -ENOMEM;
                        }
                if (json_add(o, "names", names) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                if (json_append(arr, o) < 0 || json_add_string(o, "id", rec->id) < 0 ||
                    json_add_int(o, "pulledAt", (int64_t)rec->pulled_at) < 0 ||
                    json_add_int(o, "lastUsed", (int64_t)rec->last_used) < 0)
                        return -ENOMEM;
        }
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        r = state_store_write(im->e->store, IMAGES_FILE, text, strlen(text));
        if (r < 0)
                log_warning("Image records: cannot write %s: %s", IMAGES_FILE, strerror(-r));
        return r;
}

static int on_save(sd_event_source *s, void *ud)
{
        struct engine_images *im = ud;
        if (im->dirty && save_file(im) >= 0)
                im->dirty = false;
        return 0;
}

/* Written once the loop settles: many changes in one iteration make one write. */
static void mark_dirty(struct engine_images *im)
{
        im->dirty = true;
        if (im->save)
                sd_event_source_set_enabled(im->save, SD_EVENT_ONESHOT);
}

static int load_file(struct engine_images *im)
{
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ json_object *root = NULL;
        size_t len;
        int r;

        r = state_store_read(im->e->store, IMAGES_FILE, &data, &len);
        if (r < 0)
                return r;
        if (json_parse(data, len, &root) < 0 || !json_object_is_type(root, json_type_object))
                return -EBADMSG;
        json_object *arr = json_get_array(root, "images", NULL);
        size_t n = arr ? json_object_array_length(arr) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                bool ok = true;
                const char *id = json_get_string(o, "id", &ok);
                json_object *names = json_get_array(o, "names", &ok);
                int64_t pulled = json_get_int(o, "pulledAt", 0, &ok);
                int64_t used = json_get_int(o, "lastUsed", 0, &ok);
                if (!ok || !json_object_is_type(o, json_type_object) || pulled < 0 || used < 0 ||
                    (id && !startswith(id, "sha256:")) || find_by_id(im, id))
                        continue; /* one bad entry costs only itself */
                struct image_record *rec = record_add(im);
                if (!rec)
                        return -ENOMEM;
                if (id && !(rec->id = strdup(id)))
                        return -ENOMEM;
                for (size_t j = 0; names && j < json_object_array_length(names); j++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(names, j));
                        if (!isempty(s) && strv_add(&rec->names, s) == -ENOMEM)
                                return -ENOMEM;
                }
                rec->pulled_at = (uint64_t)pulled;
                rec->last_used = (uint64_t)used;
        }
        return 0;
}

void engine_images_pulled(struct engine *e, const char *image)
{
        struct engine_images *im = e->images;
        _cleanup_free_ char *name = image ? normalise(image) : NULL;
        if (!im || !name)
                return;
        struct image_record *rec = find_pending(im, name);
        if (!rec) {
                rec = record_add(im);
                if (!rec)
                        return;
                if (strv_add(&rec->names, name) < 0) {
                        record_drop(im, rec);
                        return;
                }
        }
        rec->pulled_at = realtime_usec();
        mark_dirty(im);
}

void engine_images_seen(struct engine *e, const struct ecs_container *c, uint64_t started_usec)
{
        struct engine_images *im = e->images;
        _cleanup_free_ char *name = c->image ? normalise(c->image) : NULL;
        if (!im || !name || isempty(c->image_id))
                return;
        struct image_record *rec = find_by_id(im, c->image_id);
        struct image_record *pending = find_pending(im, name);
        bool changed = false;
        uint64_t pulled = pending ? pending->pulled_at : 0;

        if (pending) {
                record_drop(im, pending); /* its pull time moves to the record of the ID */
                changed = true;
                rec = find_by_id(im, c->image_id); /* the array moved */
        }
        if (!rec) {
                rec = record_add(im);
                if (!rec)
                        return;
                if (!(rec->id = strdup(c->image_id))) {
                        record_drop(im, rec);
                        return;
                }
                rec->pulled_at = pulled ? pulled : realtime_usec();
                changed = true;
        } else if (pulled > rec->pulled_at) {
                rec->pulled_at = pulled;
                changed = true;
        }
        bool newer_has_it = false;
        for (size_t i = 0; i < im->n; i++)
                if (&im->recs[i] != rec && im->recs[i].pulled_at > rec->pulled_at &&
                    strv_has(im->recs[i].names, name))
                        newer_has_it = true;
        if (!strv_has(rec->names, name) && !newer_has_it) {
                /* A tag that moved upstream: the name now belongs to the newest ID only, so
                 * removing the old image never removes the tag of the new one (and an old
                 * container seen again does not take it back). */
                for (size_t i = 0; i < im->n; i++)
                        if (&im->recs[i] != rec)
                                strv_del(im->recs[i].names, name);
                if (strv_add(&rec->names, name) == -ENOMEM)
                        return;
                changed = true;
        }
        if (changed)
                mark_dirty(im);
        if (started_usec > rec->last_used) {
                /* Only the order of removal depends on it: saved with the next change, at
                 * the next cycle or at exit, not with an fsync per container start. */
                rec->last_used = started_usec;
                im->dirty = true;
        }
}

void engine_images_restored(struct engine *e)
{
        /* Rebuilds what a lost images.json knew from the containers Docker still has. */
        for (size_t i = 0; i < e->n_tasks; i++) {
                struct ecs_task *t = e->tasks[i]->task;
                for (size_t j = 0; j < t->n_containers; j++)
                        engine_images_seen(e, &t->containers[j], t->containers[j].started_at);
        }
}

/* ---- in use ---- */

static bool used_by_task(struct engine *e, const struct image_record *rec)
{
        for (size_t i = 0; i < e->n_tasks; i++) {
                const struct ecs_task *t = e->tasks[i]->task;
                for (size_t j = 0; j < t->n_containers; j++) {
                        const struct ecs_container *c = &t->containers[j];
                        if (rec->id && streq_ptr(c->image_id, rec->id))
                                return true;
                        if (!c->image)
                                continue;
                        _cleanup_free_ char *name = normalise(c->image);
                        if (!name || strv_has(rec->names, name))
                                return true; /* without memory: in use, to be safe */
                }
        }
        return false;
}

static bool task_known(struct engine *e, const char *arn)
{
        return arn && engine_find_task(e, arn);
}

/* ---- the cycle ---- */

static void seen_free(struct engine_images *im)
{
        for (size_t i = 0; i < im->n_cs; i++) {
                free(im->cs[i].id);
                free(im->cs[i].image_id);
                free(im->cs[i].task_arn);
        }
        free(im->cs);
        im->cs = NULL;
        im->n_cs = 0;
        for (size_t i = 0; i < im->n_is; i++) {
                free(im->is[i].id);
                strv_free(im->is[i].tags);
        }
        free(im->is);
        im->is = NULL;
        im->n_is = 0;
        strv_free(im->victims);
        im->victims = NULL;
        im->n_victims = 0;
}

static void release_pulls(struct engine_images *im)
{
        struct op **held = im->held_pulls;
        size_t n = im->n_held;
        im->held_pulls = NULL;
        im->n_held = 0;
        for (size_t i = 0; i < n; i++)
                engine_pull_begin(held[i]);
        free(held);
}

static void cycle_end(struct engine_images *im, const char *why)
{
        if (why)
                log_warning("Image cleanup: %s", why);
        else
                log_info("Image cleanup: removed %zu image(s) and %zu non-ECS container(s) in "
                         "%llu ms",
                         im->deleted, im->untracked_removed,
                         (unsigned long long)((now_usec() - im->cycle_started) / 1000));
        im->phase = PHASE_IDLE;
        im->call = NULL;
        if (im->dirty && save_file(im) >= 0)
                im->dirty = false;
        seen_free(im);
        release_pulls(im);
}

bool engine_images_hold_pull(struct engine *e, struct op *o)
{
        struct engine_images *im = e->images;
        if (!im || im->phase == PHASE_IDLE)
                return false;
        struct op **nh = realloc(im->held_pulls, (im->n_held + 1) * sizeof(*nh));
        if (!nh)
                return false; /* rather pull now than lose the pull */
        im->held_pulls = nh;
        nh[im->n_held++] = o;
        return true;
}

static void on_containers(const struct docker_result *res,
                          const struct docker_container_summary *list, size_t n, void *ud)
{
        struct engine_images *im = ud;
        im->call = NULL;
        if (res->error < 0) {
                cycle_end(im, res->message ? res->message : "cannot list containers");
                return;
        }
        im->cs = calloc(n ? n : 1, sizeof(*im->cs));
        if (!im->cs) {
                cycle_end(im, "out of memory");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                struct seen_container *s = &im->cs[im->n_cs++];
                const char *arn = docker_kv_get(list[i].labels, list[i].n_labels, LABEL_TASK_ARN);
                s->state = list[i].state;
                if (!(s->id = strdup(list[i].id)) ||
                    (list[i].image_id && !(s->image_id = strdup(list[i].image_id))) ||
                    (arn && !(s->task_arn = strdup(arn)))) {
                        cycle_end(im, "out of memory");
                        return;
                }
        }
        im->phase = PHASE_LIST_IMAGES;
        cycle_step(im);
}

static bool image_used_by_container(struct engine_images *im, const char *id)
{
        for (size_t i = 0; i < im->n_cs; i++)
                if (im->cs[i].id && streq_ptr(im->cs[i].image_id, id))
                        return true;
        return false;
}

static struct seen_image *seen_image(struct engine_images *im, const char *id)
{
        for (size_t i = 0; i < im->n_is; i++)
                if (streq(im->is[i].id, id))
                        return &im->is[i];
        return NULL;
}

static int cmp_lru(const void *a, const void *b)
{
        const struct image_record *x = *(const struct image_record *const *)a;
        const struct image_record *y = *(const struct image_record *const *)b;
        uint64_t xa = x->last_used ? x->last_used : x->pulled_at;
        uint64_t ya = y->last_used ? y->last_used : y->pulled_at;
        return xa < ya ? -1 : xa > ya;
}

/* The tracked images this cycle removes: unused, old enough, not excluded, LRU first. */
static int choose_victims(struct engine_images *im)
{
        struct engine *e = im->e;
        uint64_t now = realtime_usec(), age = e->config->image_minimum_cleanup_age_usec;
        _cleanup_free_ struct image_record **cand = calloc(im->n ? im->n : 1, sizeof(*cand));
        size_t n = 0;
        bool changed = false;

        if (!cand)
                return -ENOMEM;
        for (size_t i = 0; i < im->n;) {
                struct image_record *rec = &im->recs[i];
                /* A pull whose ID was never learnt, long ago: its image is untracked now. */
                bool stale_pending = !rec->id && rec->pulled_at + age <= now;
                if ((stale_pending || (rec->id && !seen_image(im, rec->id))) &&
                    !used_by_task(e, rec)) {
                        /* Gone from Docker (removed by someone else): nothing to track. */
                        record_drop(im, rec);
                        changed = true;
                        continue;
                }
                i++;
        }
        for (size_t i = 0; i < im->n; i++) {
                struct image_record *rec = &im->recs[i];
                if (!rec->id || used_by_task(e, rec) || any_excluded(e, rec->names) ||
                    rec->pulled_at + age > now)
                        continue;
                struct seen_image *si = seen_image(im, rec->id);
                if (si && any_excluded(e, si->tags))
                        continue;
                cand[n++] = rec;
        }
        qsort(cand, n, sizeof(*cand), cmp_lru);
        if (n > e->config->num_images_delete_per_cycle)
                n = e->config->num_images_delete_per_cycle;
        im->victims = calloc(n + 1, sizeof(char *));
        if (!im->victims)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(im->victims[i] = strdup(cand[i]->id)))
                        return -ENOMEM;
        im->n_victims = n;
        im->victim = im->name_idx = im->container_idx = 0;
        if (changed)
                mark_dirty(im);
        return 0;
}

static void on_images(const struct docker_result *res, const struct docker_image *list, size_t n,
                      void *ud)
{
        struct engine_images *im = ud;
        im->call = NULL;
        if (res->error < 0) {
                cycle_end(im, res->message ? res->message : "cannot list images");
                return;
        }
        im->is = calloc(n ? n : 1, sizeof(*im->is));
        if (!im->is) {
                cycle_end(im, "out of memory");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                struct seen_image *s = &im->is[im->n_is++];
                s->created = list[i].created_usec;
                s->size = list[i].size;
                s->tags = calloc(1, sizeof(char *));
                if (!s->tags || !(s->id = strdup(list[i].id))) {
                        cycle_end(im, "out of memory");
                        return;
                }
                for (char **t = list[i].repo_tags; t && *t; t++)
                        if (!streq(*t, "<none>:<none>") && strv_add(&s->tags, *t) == -ENOMEM) {
                                cycle_end(im, "out of memory");
                                return;
                        }
        }
        if (choose_victims(im) < 0) {
                cycle_end(im, "out of memory");
                return;
        }
        im->phase = PHASE_TRACKED;
        cycle_step(im);
}

static void next_victim(struct engine_images *im)
{
        im->victim++;
        im->name_idx = im->container_idx = 0;
}

static void on_victim_container_removed(const struct docker_result *res, void *ud)
{
        struct engine_images *im = ud;
        im->call = NULL;
        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Image cleanup: cannot remove container %s: %s",
                            im->cs[im->container_idx].id, strna(res->message));
        im->container_idx++;
        cycle_step(im);
}

static void on_victim_removed(const struct docker_result *res, void *ud)
{
        struct engine_images *im = ud;
        const char *id = im->victims[im->victim];
        struct image_record *rec = find_by_id(im, id);

        im->call = NULL;
        if (res->error < 0 && res->error != -ENOENT) {
                /* In use by a container we do not own, or Docker refused: keep the record
                 * and go on with the next image. */
                log_warning("Image cleanup: cannot remove image %s: %s", id, strna(res->message));
                next_victim(im);
                cycle_step(im);
                return;
        }
        if (rec && im->name_idx < strv_length(rec->names)) {
                struct seen_image *si = seen_image(im, id);
                if (si)
                        strv_del(si->tags, rec->names[im->name_idx]);
                im->name_idx++;
                /* Its last tag gone, Docker has deleted the image: no removal by ID. */
                if (!si || strv_length(si->tags) > 0) {
                        cycle_step(im);
                        return;
                }
        }
        log_info("Image cleanup: removed image %s", id);
        if (rec)
                record_drop(im, rec);
        /* Saved once at the end of the cycle, not once per image. */
        im->dirty = true;
        im->deleted++;
        next_victim(im);
        cycle_step(im);
}

/* One tracked image: first the stopped ECS containers made from it that no task of ours
 * owns any more (leftovers Docker would refuse the removal for), then `docker rmi` of each
 * of its names still on it, then of its ID. */
static int step_tracked(struct engine_images *im)
{
        struct engine *e = im->e;

        while (im->victim < im->n_victims) {
                const char *id = im->victims[im->victim];
                struct image_record *rec = find_by_id(im, id);
                struct seen_image *si = seen_image(im, id);

                /* A task may have come for it since the cycle started. */
                if (!rec || used_by_task(e, rec)) {
                        next_victim(im);
                        continue;
                }
                for (; im->container_idx < im->n_cs; im->container_idx++) {
                        struct seen_container *s = &im->cs[im->container_idx];
                        if (!streq_ptr(s->image_id, id) || !s->task_arn ||
                            task_known(e, s->task_arn) || s->state == DOCKER_CONTAINER_RUNNING ||
                            s->state == DOCKER_CONTAINER_PAUSED ||
                            s->state == DOCKER_CONTAINER_RESTARTING)
                                continue;
                        return docker_container_remove(e->docker, s->id, true, false, CALL_TIMEOUT,
                                                       on_victim_container_removed, im, &im->call);
                }
                /* Names first, skipping those Docker no longer has on this ID; the ID last. */
                char **names = rec->names;
                while (im->name_idx < strv_length(names) &&
                       !(si && strv_has(si->tags, names[im->name_idx])))
                        im->name_idx++;
                const char *target = im->name_idx < strv_length(names) ? names[im->name_idx] : id;
                log_debug("Image cleanup: removing %s (%s)", target, id);
                return docker_image_remove(e->docker, target, false, CALL_TIMEOUT,
                                           on_victim_removed, im, &im->call);
        }
        return 0;
}

static bool untracked_container(const struct seen_container *s)
{
        return !s->task_arn &&
               (s->state == DOCKER_CONTAINER_EXITED || s->state == DOCKER_CONTAINER_DEAD ||
                s->state == DOCKER_CONTAINER_CREATED);
}

static void on_untracked_removed(const struct docker_result *res, void *ud)
{
        struct engine_images *im = ud;
        struct seen_container *s = &im->cs[im->cursor];
        im->call = NULL;
        if (res->error < 0 && res->error != -ENOENT)
                log_warning("Image cleanup: cannot remove non-ECS container %s: %s", s->id,
                            strna(res->message));
        else {
                log_info("Image cleanup: removed non-ECS container %s", s->id);
                im->untracked_removed++;
                free(s->id); /* gone: it no longer holds its image */
                s->id = NULL;
        }
        im->cursor++;
        cycle_step(im);
}

static void on_untracked_inspect(const struct docker_result *res, const struct docker_container *d,
                                 void *ud)
{
        struct engine_images *im = ud;
        struct engine *e = im->e;
        struct seen_container *s = &im->cs[im->cursor];
        uint64_t wait = e->config->task_cleanup_wait_usec;
        im->call = NULL;

        if (res->error == 0 && d) {
                uint64_t since = d->finished_at_usec ? d->finished_at_usec : d->created_usec;
                if (since && since + wait <= realtime_usec() &&
                    docker_container_remove(e->docker, s->id, true, false, CALL_TIMEOUT,
                                            on_untracked_removed, im, &im->call) >= 0)
                        return;
        }
        im->cursor++;
        cycle_step(im);
}

/* Stopped non-ECS containers finished longer than the task cleanup wait ago. */
static int step_untracked_containers(struct engine_images *im)
{
        struct engine *e = im->e;

        for (; im->cursor < im->n_cs; im->cursor++) {
                if (im->untracked_removed >= e->config->nonecs_num_containers_delete_per_cycle)
                        break;
                if (!untracked_container(&im->cs[im->cursor]) || ++im->inspected > MAX_INSPECTS)
                        continue;
                return docker_container_inspect(e->docker, im->cs[im->cursor].id, CALL_TIMEOUT,
                                                on_untracked_inspect, im, &im->call);
        }
        return 0;
}

static int cmp_size(const void *a, const void *b)
{
        const struct seen_image *x = *(const struct seen_image *const *)a;
        const struct seen_image *y = *(const struct seen_image *const *)b;
        return x->size < y->size ? -1 : x->size > y->size;
}

static void on_untracked_image_removed(const struct docker_result *res, void *ud)
{
        struct engine_images *im = ud;
        const char *id = im->victims[im->victim];
        im->call = NULL;
        if (res->error < 0 && res->error != -ENOENT) {
                log_warning("Image cleanup: cannot remove non-ECS image %s: %s", id,
                            strna(res->message));
                next_victim(im);
        } else {
                struct seen_image *si = seen_image(im, id);
                if (si && im->name_idx < strv_length(si->tags)) {
                        im->name_idx++;
                } else {
                        log_info("Image cleanup: removed non-ECS image %s", id);
                        im->deleted++;
                        next_victim(im);
                }
        }
        cycle_step(im);
}

/* Unused non-ECS images older than NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE, smallest first, with
 * what is left of the per-cycle budget. */
static int choose_untracked_images(struct engine_images *im)
{
        struct engine *e = im->e;
        uint64_t now = realtime_usec(), age = e->config->nonecs_image_minimum_cleanup_age_usec;
        _cleanup_free_ struct seen_image **cand = calloc(im->n_is ? im->n_is : 1, sizeof(*cand));
        size_t n = 0, budget = e->config->num_images_delete_per_cycle;

        if (!cand)
                return -ENOMEM;
        budget = im->deleted < budget ? budget - im->deleted : 0;
        for (size_t i = 0; i < im->n_is; i++) {
                struct seen_image *si = &im->is[i];
                if (find_by_id(im, si->id) || image_used_by_container(im, si->id) ||
                    any_excluded(e, si->tags) || !si->created || si->created + age > now)
                        continue;
                /* A task that has not created its container yet names it only by tag. */
                struct image_record probe = {.id = si->id, .names = si->tags};
                if (used_by_task(e, &probe))
                        continue;
                bool tracked_name = false;
                for (size_t j = 0; j < im->n && !tracked_name; j++)
                        for (char **t = si->tags; *t && !tracked_name; t++)
                                tracked_name = strv_has(im->recs[j].names, *t);
                if (!tracked_name)
                        cand[n++] = si;
        }
        qsort(cand, n, sizeof(*cand), cmp_size);
        if (n > budget)
                n = budget;
        strv_free(im->victims);
        im->victims = calloc(n + 1, sizeof(char *));
        if (!im->victims)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(im->victims[i] = strdup(cand[i]->id)))
                        return -ENOMEM;
        im->n_victims = n;
        im->victim = im->name_idx = 0;
        return 0;
}

static int step_untracked_images(struct engine_images *im)
{
        struct engine *e = im->e;
        while (im->victim < im->n_victims) {
                const char *id = im->victims[im->victim];
                struct seen_image *si = seen_image(im, id);
                size_t nt = si ? strv_length(si->tags) : 0;
                const char *target = im->name_idx < nt ? si->tags[im->name_idx] : id;
                if (im->name_idx >= nt && nt > 0) {
                        /* All tags removed: Docker deleted the image with the last one. */
                        im->deleted++;
                        next_victim(im);
                        continue;
                }
                return docker_image_remove(e->docker, target, false, CALL_TIMEOUT,
                                           on_untracked_image_removed, im, &im->call);
        }
        return 0;
}

static void cycle_step(struct engine_images *im)
{
        struct engine *e = im->e;
        int r = 0;

        if (now_usec() - im->cycle_started > CYCLE_BUDGET) {
                cycle_end(im, "cycle took too long; the rest waits for the next one");
                return;
        }
        switch (im->phase) {
        case PHASE_LIST_CONTAINERS:
                r = docker_container_list(e->docker, NULL, CALL_TIMEOUT, on_containers, im,
                                          &im->call);
                break;
        case PHASE_LIST_IMAGES:
                r = docker_image_list(e->docker, CALL_TIMEOUT, on_images, im, &im->call);
                break;
        case PHASE_TRACKED:
                r = step_tracked(im);
                if (r >= 0 && !im->call) {
                        if (!e->config->untracked_image_cleanup) {
                                cycle_end(im, NULL);
                                return;
                        }
                        im->phase = PHASE_UNTRACKED_INSPECT;
                        im->cursor = 0;
                        cycle_step(im);
                        return;
                }
                break;
        case PHASE_UNTRACKED_INSPECT:
                r = step_untracked_containers(im);
                if (r >= 0 && !im->call) {
                        im->phase = PHASE_UNTRACKED_IMAGES;
                        if (choose_untracked_images(im) < 0) {
                                cycle_end(im, "out of memory");
                                return;
                        }
                        cycle_step(im);
                        return;
                }
                break;
        case PHASE_UNTRACKED_IMAGES:
                r = step_untracked_images(im);
                if (r >= 0 && !im->call) {
                        cycle_end(im, NULL);
                        return;
                }
                break;
        case PHASE_IDLE:
                return;
        }
        if (r < 0)
                cycle_end(im, strerror(-r));
}

static uint64_t interval(const struct engine *e)
{
        return e->config->image_cleanup_test_interval_usec
                   ? e->config->image_cleanup_test_interval_usec
                   : e->config->image_cleanup_interval_usec;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *ud)
{
        struct engine_images *im = ud;
        sd_event_source_set_time_relative(s, interval(im->e));
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (im->phase != PHASE_IDLE)
                return 0;
        if (im->dirty && save_file(im) >= 0)
                im->dirty = false;
        im->cycle_started = now_usec();
        im->deleted = im->untracked_removed = im->inspected = 0;
        im->phase = PHASE_LIST_CONTAINERS;
        cycle_step(im);
        return 0;
}

static bool cleanup_enabled(const struct ecs_config *c)
{
        /* prefer-cached means "keep what is cached": the official agent cleans nothing then. */
        return !c->image_cleanup_disabled &&
               c->image_pull_behavior != ECS_IMAGE_PULL_BEHAVIOR_PREFER_CACHED;
}

int engine_images_init(struct engine *e)
{
        struct engine_images *im = calloc(1, sizeof(*im));
        int r;

        if (!im)
                return -ENOMEM;
        im->e = e;
        e->images = im;
        r = e->store ? load_file(im) : -ENOENT;
        if (r == -ENOMEM)
                return r;
        if (r < 0 && r != -ENOENT)
                log_warning("Image records: %s is unreadable (%s); rebuilding them from the "
                            "containers Docker has",
                            IMAGES_FILE, strerror(-r));
        r = sd_event_add_defer(ecs_loop_event(e->loop), &im->save, on_save, im);
        if (r >= 0)
                r = sd_event_source_set_enabled(im->save, SD_EVENT_OFF);
        if (r < 0)
                return r;
        if (!cleanup_enabled(e->config)) {
                log_info("Image cleanup is off (%s)",
                         e->config->image_cleanup_disabled
                             ? "ECS_DISABLE_IMAGE_CLEANUP"
                             : "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached");
                return 0;
        }
        return sd_event_add_time_relative(ecs_loop_event(e->loop), &im->timer, CLOCK_MONOTONIC,
                                          interval(e), 0, on_timer, im);
}

void engine_images_free(struct engine *e)
{
        struct engine_images *im = e->images;
        if (!im)
                return;
        if (im->dirty && e->store)
                (void)save_file(im);
        docker_call_cancel(im->call);
        sd_event_source_disable_unref(im->timer);
        sd_event_source_disable_unref(im->save);
        seen_free(im);
        free(im->held_pulls); /* their ops go with their tasks */
        for (size_t i = 0; i < im->n; i++) {
                free(im->recs[i].id);
                strv_free(im->recs[i].names);
        }
        free(im->recs);
        free(im);
        e->images = NULL;
}
