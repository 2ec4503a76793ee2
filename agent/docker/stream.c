/* Docker's streamed answers: concatenated JSON objects split at any byte boundary, and the
 * JSON message stream (pull, load) they carry: its error, status and result lines. */
#include <ctype.h>
#include <stdio.h>

#include "docker-internal.h"

/* ---- concatenated JSON objects ---- */

struct docker_json_stream {
        struct json_tokener *tok;
        size_t max_object;
        size_t pending; /* bytes fed into the object being parsed */
};

int docker_json_stream_new(size_t max_object, struct docker_json_stream **ret)
{
        struct docker_json_stream *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->tok = json_tokener_new_ex(ECS_JSON_MAX_DEPTH);
        if (!s->tok) {
                free(s);
                return -ENOMEM;
        }
        /* Not strict: strict mode refuses a second object after the first in one buffer. */
        json_tokener_set_flags(s->tok, 0);
        s->max_object = max_object ? max_object : DOCKER_MAX_OBJECT;
        *ret = s;
        return 0;
}

struct docker_json_stream *docker_json_stream_free(struct docker_json_stream *s)
{
        if (!s)
                return NULL;
        json_tokener_free(s->tok);
        free(s);
        return NULL;
}

int docker_json_stream_feed(struct docker_json_stream *s, const char *data, size_t len,
                            docker_json_object_fn cb, void *userdata)
{
        while (len > 0) {
                int chunk = (int)MIN(len, (size_t)INT32_MAX);
                json_object *obj = json_tokener_parse_ex(s->tok, data, chunk);
                enum json_tokener_error e = json_tokener_get_error(s->tok);

                if (e == json_tokener_continue) {
                        s->pending += (size_t)chunk;
                        if (s->pending > s->max_object) {
                                json_tokener_reset(s->tok);
                                s->pending = 0;
                                return -E2BIG;
                        }
                        data += chunk;
                        len -= (size_t)chunk;
                        continue;
                }
                size_t end = json_tokener_get_parse_end(s->tok);
                if (e != json_tokener_success || end == 0 || end > (size_t)chunk) {
                        json_object_put(obj);
                        json_tokener_reset(s->tok);
                        s->pending = 0;
                        return -EBADMSG;
                }
                bool big = s->pending + end > s->max_object;
                s->pending = 0;
                data += end;
                len -= end;
                if (big) {
                        json_object_put(obj);
                        return -E2BIG;
                }
                if (obj && json_object_is_type(obj, json_type_object)) {
                        int r = cb(obj, userdata);
                        json_object_put(obj);
                        if (r < 0)
                                return r;
                } else
                        json_object_put(obj);
        }
        return 0;
}

static char *bounded_strdup(const char *s)
{
        return strndup(s, 4096);
}

/* "<id>: <status> <progress>" into p->last, cut to fit, anything unprintable as '?' and runs
 * of spaces (the progress bar's) as one: it ends up in a task's stopped reason when the pull
 * times out. */
static void progress_note(struct docker_progress *p, const char *id, const char *status,
                          const char *bar)
{
        char *w = p->last;

        snprintf(p->last, sizeof(p->last), "%s%s%s%s%s", strempty(id), isempty(id) ? "" : ": ",
                 status, isempty(bar) ? "" : " ", strempty(bar));
        for (const char *r = p->last; *r; r++) {
                char ch = isprint((unsigned char)*r) ? *r : '?';
                if (ch == ' ' && w > p->last && w[-1] == ' ')
                        continue;
                *w++ = ch;
        }
        *w = '\0';
}

int docker_progress_parse(struct docker_progress *p, json_object *obj)
{
        const char *err, *msg, *status, *stream;

        p->n_objects++;
        err = json_get_string(obj, "error", NULL);
        if (isempty(err))
                err = json_get_string(json_get_object(obj, "errorDetail", NULL), "message", NULL);
        if (!isempty(err) && !p->error) {
                p->error = bounded_strdup(err);
                if (!p->error)
                        return -ENOMEM;
        }
        msg = json_get_string(obj, "message", NULL);
        if (!isempty(msg) && !p->message) {
                p->message = bounded_strdup(msg);
                if (!p->message)
                        return -ENOMEM;
        }
        status = json_get_string(obj, "status", NULL);
        if (!isempty(status))
                progress_note(p, json_get_string(obj, "id", NULL), status,
                              json_get_string(obj, "progress", NULL));
        if (status && strncmp(status, "Digest: ", 8) == 0 && !p->digest) {
                p->digest = strndup(status + 8, strcspn(status + 8, " \t\r\n"));
                if (!p->digest)
                        return -ENOMEM;
        }
        stream = json_get_string(obj, "stream", NULL);
        if (stream && !p->loaded) {
                const char *v = NULL;
                if (strncmp(stream, "Loaded image: ", 14) == 0)
                        v = stream + 14;
                else if (strncmp(stream, "Loaded image ID: ", 17) == 0)
                        v = stream + 17;
                if (v) {
                        p->loaded = strndup(v, strcspn(v, " \t\r\n"));
                        if (!p->loaded)
                                return -ENOMEM;
                }
        }
        return 0;
}

void docker_progress_done(struct docker_progress *p)
{
        p->error = mfree(p->error);
        p->message = mfree(p->message);
        p->digest = mfree(p->digest);
        p->loaded = mfree(p->loaded);
        p->last[0] = '\0';
        p->n_objects = 0;
}

int docker_pull_error_from_text(const char *text)
{
        static const char *const missing[] = {"not found", "manifest unknown", "does not exist",
                                              "no such"};
        static const char *const denied[] = {"unauthorized", "denied", "authentication required",
                                             "forbidden", "no basic auth credentials"};

        if (!text)
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(missing); i++)
                if (strcasestr(text, missing[i]))
                        return -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(denied); i++)
                if (strcasestr(text, denied[i]))
                        return -EACCES;
        return -EIO;
}
