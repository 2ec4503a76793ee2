#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/state.h"
#include "ecs/strbuf.h"

#define STATE_MAX_FILE (16u * 1024 * 1024)
#define META_FILE      "agent.json"
#define TMP_PREFIX     ".tmp-"

struct state_store {
        char *dir;
        int dir_fd;
};

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int state_store_open(const char *dir, struct state_store **ret)
{
        struct state_store *s;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dir = strdup(dir);
        s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!s->dir || s->dir_fd < 0) {
                r = s->dir ? -errno : -ENOMEM;
                state_store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct state_store *state_store_free(struct state_store *s)
{
        if (!s)
                return NULL;
        safe_close(s->dir_fd);
        free(s->dir);
        free(s);
        return NULL;
}

const char *state_store_dir(const struct state_store *s)
{
        return s->dir;
}

static int name_valid(const char *name)
{
        const char *slash;

        if (isempty(name) || name[0] == '/' || strstr(name, ".."))
                return 0;
        slash = strchr(name, '/');
        if (slash && (strchr(slash + 1, '/') || slash[1] == 0))
                return 0;
        return strncmp(slash ? slash + 1 : name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0;
}

/* Opens the directory holding name (creating a subdirectory on demand) and returns the
 * base name within it. */
static int open_parent(struct state_store *s, const char *name, bool create, int *ret_fd,
                       const char **ret_base)
{
        const char *slash = strchr(name, '/');

        if (!slash) {
                *ret_fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3);
                if (*ret_fd < 0)
                        return -errno;
                *ret_base = name;
                return 0;
        }
        _cleanup_free_ char *sub = strndup(name, (size_t)(slash - name));
        if (!sub)
                return -ENOMEM;
        if (create) {
                if (mkdirat(s->dir_fd, sub, 0700) == 0)
                        (void)fsync(s->dir_fd); /* the new directory entry must persist too */
                else if (errno != EEXIST)
                        return -errno;
        }
        int fd = openat(s->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        *ret_base = slash + 1;
        return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                len -= (size_t)k;
        }
        return 0;
}

int state_store_write(struct state_store *s, const char *name, const void *data, size_t len)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        char tmp[300];
        const char *base;
        int r;

        if (!name_valid(name))
                return -EINVAL;
        r = open_parent(s, name, true, &dfd, &base);
        if (r < 0)
                return r;
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", base);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        fd = safe_close(fd);
        /* rename is the commit point; the directory fsync makes it survive power loss. */
        if (renameat(dfd, tmp, dfd, base) < 0) {
                r = -errno;
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int state_store_read(struct state_store *s, const char *name, char **ret_data, size_t *ret_len)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        struct strbuf b = STRBUF_INIT(STATE_MAX_FILE);
        const char *base;
        int r;

        if (!name_valid(name))
                return -EINVAL;
        r = open_parent(s, name, false, &dfd, &base);
        if (r < 0)
                return r;
        fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        r = strbuf_read_fd(&b, fd);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        if (ret_len)
                *ret_len = b.len;
        *ret_data = strbuf_steal(&b);
        return *ret_data ? 0 : -ENOMEM;
}

int state_store_remove(struct state_store *s, const char *name)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base = NULL; /* set by open_parent() on success */
        int r;

        if (!name_valid(name))
                return -EINVAL;
        r = open_parent(s, name, false, &dfd, &base);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_store_list(struct state_store *s, const char *subdir, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int fd;
        DIR *d;

        if (isempty(subdir) || strchr(subdir, '/') || strstr(subdir, ".."))
                return -EINVAL;
        fd = openat(s->dir_fd, subdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
                return -errno;
        l = calloc(1, sizeof(char *));
        if (!l) {
                safe_close(fd);
                return -ENOMEM;
        }
        if (fd < 0) {
                *ret = TAKE_PTR(l);
                return 0;
        }
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                        continue;
                if (de->d_name[0] == '.')
                        continue; /* ".", "..", and .tmp- leftovers of an interrupted write */
                char **nl = realloc(l, (n + 2) * sizeof(char *));
                if (!nl) {
                        closedir(d);
                        return -ENOMEM;
                }
                l = nl;
                l[n] = strdup(de->d_name);
                if (!l[n]) {
                        closedir(d);
                        return -ENOMEM;
                }
                l[++n] = NULL;
        }
        closedir(d);
        qsort(l, n, sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

static int meta_load(struct state_store *s, json_object **ret)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        json_object *o = NULL;
        int r;

        r = state_store_read(s, META_FILE, &data, &len);
        if (r == -ENOENT) {
                *ret = json_object_new_object();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        if (json_parse(data, len, &o) < 0 || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *ret = json_object_new_object();
                return *ret ? -EBADMSG : -ENOMEM;
        }
        *ret = o;
        return 0;
}

int state_store_get_meta(struct state_store *s, const char *key, char **ret)
{
        _cleanup_json_ json_object *o = NULL;
        const char *v;
        int r;

        r = meta_load(s, &o);
        if (r < 0)
                return r;
        v = json_get_string(o, key, NULL);
        if (!v)
                return -ENOENT;
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

int state_store_set_meta(struct state_store *s, const char *key, const char *value)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = meta_load(s, &o);
        if (r < 0 && r != -EBADMSG)
                return r;
        if (value)
                r = json_add_string(o, key, value);
        else {
                json_object_object_del(o, key);
                r = 0;
        }
        if (r < 0)
                return r;
        text = json_dump(o);
        if (!text)
                return -ENOMEM;
        return state_store_write(s, META_FILE, text, strlen(text));
}
