/* Durable store in ECS_DATADIR: small files written crash-safely (temp file, fsync, rename,
 * fsync of the directory), so a reader only ever sees the old or the new content. */
#pragma once

#include <stddef.h>

struct state_store;

/* Opens (creating, mode 0700) the data directory. */
int state_store_open(const char *dir, struct state_store **ret);
struct state_store *state_store_free(struct state_store *s);
const char *state_store_dir(const struct state_store *s);

/* name is a relative path of at most one subdirectory level ("agent.json",
 * "tasks/<id>.json"); anything with "..", a leading '/' or deeper nesting is -EINVAL. */
int state_store_write(struct state_store *s, const char *name, const void *data, size_t len);
/* -ENOENT when the file does not exist; the data is NUL-terminated. */
int state_store_read(struct state_store *s, const char *name, char **ret_data, size_t *ret_len);
int state_store_remove(struct state_store *s, const char *name);
/* Names of the regular files in a subdirectory (NULL-terminated, sorted), skipping
 * leftover temp files. */
int state_store_list(struct state_store *s, const char *subdir, char ***ret);

/* Instance metadata kept in agent.json: string keys, as the official agent's metadata
 * bucket ("cluster-name", "container-instance-arn", "ec2-instance-id",
 * "availability-zone", "task-manifest-seq-num"). A missing or corrupt file reads as empty
 * (and a corrupt one is reported by the return value -EBADMSG). */
int state_store_get_meta(struct state_store *s, const char *key, char **ret);
int state_store_set_meta(struct state_store *s, const char *key, const char *value);
