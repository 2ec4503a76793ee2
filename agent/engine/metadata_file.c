/* The container metadata file (§7.7, ECS_ENABLE_CONTAINER_METADATA): a JSON file per
 * container under <data dir>/metadata/<task>/<container>/, written INITIAL before the
 * container is created and READY once Docker shows it running, bind-mounted (read-only:
 * the container reads it, never writes it) at /opt/ecs/metadata/<random>/, with
 * ECS_CONTAINER_METADATA_FILE naming it. Removed with the task at cleanup.
 *
 * Every path component comes from the control plane, so each is checked before it touches
 * the file system, and the walk below the data dir never follows a symbolic link. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecs/backoff.h"
#include "ecs/config.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/log.h"
#include "ecs/uuid.h"
#include "engine-internal.h"

#define METADATA_SUBDIR     "metadata"
#define METADATA_FILE_NAME  "ecs-container-metadata.json"
#define METADATA_MOUNT_BASE "/opt/ecs/metadata"
#define METADATA_ENV        "ECS_CONTAINER_METADATA_FILE"

static bool name_char_ok(char ch)
{
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '.';
}

/* One path component: 1..255 letters, digits, '-', '_' or '.', never "." or "..". */
static bool component_ok(const char *s, size_t n)
{
        if (n == 0 || n > 255 || (s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.'))))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!name_char_ok(s[i]))
                        return false;
        return true;
}

int engine_metadata_task_path(const char *task_arn, char **ret)
{
        const char *p = task_arn;

        /* arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id> or task/<id> */
        for (int colons = 0; p && colons < 5; colons++) {
                p = strchr(p, ':');
                if (p)
                        p++;
        }
        if (!p || !startswith(p, "task/"))
                return -EINVAL;
        p += strlen("task/");
        const char *slash = strchr(p, '/');
        if (slash) {
                if (!component_ok(p, (size_t)(slash - p)) ||
                    !component_ok(slash + 1, strlen(slash + 1)))
                        return -EINVAL;
        } else if (!component_ok(p, strlen(p)))
                return -EINVAL;
        *ret = strdup(p);
        return *ret ? 0 : -ENOMEM;
}

/* "metadata/<task path>/<container>", every part checked. */
static int metadata_rel(const char *task_arn, const char *container, char **ret)
{
        _cleanup_free_ char *tp = NULL;
        int r;

        if (!container || !component_ok(container, strlen(container)))
                return -EINVAL;
        r = engine_metadata_task_path(task_arn, &tp);
        if (r < 0)
                return r;
        if (asprintf(ret, METADATA_SUBDIR "/%s/%s", tp, container) < 0)
                return -ENOMEM;
        return 0;
}

int engine_metadata_dir(const char *base, const char *task_arn, const char *container, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        int r = metadata_rel(task_arn, container, &rel);

        if (r < 0)
                return r;
        if (asprintf(ret, "%s/%s", base, rel) < 0)
                return -ENOMEM;
        return 0;
}

/* Where the data dir is on the host. The agent runs on the host, so it is the data dir
 * itself; with ECS_HOST_DATA_DIR set (the agent in a container, as ecs-init runs the
 * official one) it is that directory joined with the data dir. */
static int host_data_dir(const struct ecs_config *cfg, char **ret)
{
        const char *h = cfg->host_data_dir;
        size_t n = h ? strlen(h) : 0;

        while (n > 1 && h[n - 1] == '/')
                n--;
        if (n == 0 || (strncmp(cfg->data_dir, h, n) == 0 &&
                       (cfg->data_dir[n] == '/' || cfg->data_dir[n] == '\0')))
                *ret = strdup(cfg->data_dir);
        else if (asprintf(ret, "%s/%s", h, cfg->data_dir + (cfg->data_dir[0] == '/')) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static int add_str(json_object *o, const char *key, const char *v)
{
        return isempty(v) ? 0 : json_add_string(o, key, v);
}

static json_object *render_ports(const struct docker_container *d)
{
        json_object *a = d->n_ports > 0 ? json_object_new_array() : NULL;

        for (size_t i = 0; a && i < d->n_ports; i++) {
                const struct docker_port_binding *b = &d->ports[i];
                json_object *p = json_object_new_object();
                if (!p || json_append(a, p) < 0)
                        return json_object_put(a), NULL;
                if ((b->container_port &&
                     json_add_int(p, "ContainerPort", b->container_port) < 0) ||
                    (b->host_port && json_add_int(p, "HostPort", b->host_port) < 0) ||
                    add_str(p, "BindIp", b->host_ip) < 0 || add_str(p, "Protocol", b->protocol) < 0)
                        return json_object_put(a), NULL;
        }
        return a;
}

static json_object *one_address(const char *ip)
{
        json_object *a;
        if (isempty(ip) || !(a = json_object_new_array()))
                return NULL;
        if (json_append(a, json_object_new_string(ip)) < 0)
                return json_object_put(a), NULL;
        return a;
}

static json_object *render_networks(const struct docker_container *d)
{
        json_object *a = json_object_new_array();
        size_t n = d->n_networks;

        for (size_t i = 0; a && i < MAX(n, (size_t)1); i++) {
                const struct docker_network *dn = n > 0 ? &d->networks[i] : NULL;
                json_object *o = json_object_new_object();
                if (!o || json_append(a, o) < 0 ||
                    add_str(o, "NetworkMode", dn ? dn->name : d->network_mode) < 0 ||
                    json_add(o, "IPv4Addresses", one_address(dn ? dn->ip_address : NULL)) < 0 ||
                    json_add(o, "IPv6Addresses", one_address(dn ? dn->ipv6_address : NULL)) < 0)
                        return json_object_put(a), NULL;
        }
        return a;
}

char *engine_metadata_file_render(const struct metadata_file_info *info, const struct ecs_task *t,
                                  const struct ecs_container *c, const struct docker_container *d)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_free_ char *docker_name = NULL;
        const char *text;

        if (!o)
                return NULL;
        if (d && d->name && asprintf(&docker_name, "/%s", d->name) < 0)
                return NULL;
        if (add_str(o, "Cluster", info->cluster) < 0 ||
            add_str(o, "ContainerInstanceARN", info->container_instance_arn) < 0 ||
            add_str(o, "TaskARN", t->arn) < 0 ||
            add_str(o, "TaskDefinitionFamily", t->family) < 0 ||
            add_str(o, "TaskDefinitionRevision", t->version) < 0 ||
            add_str(o, "ContainerID", d ? d->id : NULL) < 0 ||
            add_str(o, "ContainerName", c->name) < 0 ||
            add_str(o, "DockerContainerName", docker_name) < 0 ||
            add_str(o, "ImageID", d ? d->image_id : NULL) < 0 ||
            add_str(o, "ImageName", d ? d->config_image : NULL) < 0 ||
            (d && json_add(o, "PortMappings", render_ports(d)) < 0) ||
            (d && json_add(o, "Networks", render_networks(d)) < 0) ||
            add_str(o, "MetadataFileStatus", d ? "READY" : "INITIAL") < 0 ||
            add_str(o, "AvailabilityZone", info->availability_zone) < 0 ||
            add_str(o, "HostPrivateIPv4Address", info->host_private_ipv4) < 0 ||
            add_str(o, "HostPublicIPv4Address", info->host_public_ipv4) < 0)
                return NULL;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_PRETTY_TAB |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        return text ? strdup(text) : NULL;
}

/* Opens (creating as needed) base/rel one component at a time, never following a link. */
static int open_dirs(const char *base, const char *rel, bool create)
{
        _cleanup_free_ char *copy = strdup(rel);
        char *save = NULL;
        int fd;

        if (!copy)
                return -ENOMEM;
        fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                if (create && mkdirat(fd, part, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = -errno;
                close(fd);
                if (next < 0)
                        return r;
                fd = next;
        }
        return fd;
}

/* Replaces the file atomically: readers see the old or the new content, never a part. */
static int write_at(int dfd, const char *text)
{
        char tmp[64];
        size_t len = strlen(text), done = 0;
        int fd, r = 0;

        for (int i = 0;; i++) {
                snprintf(tmp, sizeof(tmp), "." METADATA_FILE_NAME ".%llx",
                         (unsigned long long)random_u64_below(UINT64_MAX));
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd >= 0 || errno != EEXIST || i >= 3)
                        break;
        }
        if (fd < 0)
                return -errno;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t)n;
        }
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, METADATA_FILE_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dfd, tmp, 0);
        return r;
}

static struct metadata_file_info engine_info(const struct engine *e)
{
        return (struct metadata_file_info){
            .cluster = e->cluster,
            .container_instance_arn = e->instance_arn,
            .availability_zone = e->config->task_metadata_az_disabled ? NULL : e->availability_zone,
            .host_private_ipv4 = e->host_private_ipv4,
            .host_public_ipv4 = e->host_public_ipv4,
        };
}

static int write_file(struct engine *e, const struct ecs_task *t, const struct ecs_container *c,
                      const struct docker_container *d)
{
        struct metadata_file_info info = engine_info(e);
        _cleanup_free_ char *rel = NULL, *text = NULL;
        int fd, r;

        /* Checked here, not only before the create: after a restart READY is the first
         * write, and a name must never lead the walk out of the metadata directory. */
        r = metadata_rel(t->arn, c->name, &rel);
        if (r < 0)
                return r;
        text = engine_metadata_file_render(&info, t, c, d);
        if (!text)
                return -ENOMEM;
        fd = open_dirs(e->config->data_dir, rel, true);
        if (fd < 0)
                return fd;
        r = write_at(fd, text);
        close(fd);
        return r;
}

static int append_string(json_object *parent, const char *key, const char *s)
{
        json_object *a = json_get_array(parent, key, NULL);

        if (!a) {
                a = json_object_new_array();
                if (!a || json_add(parent, key, a) < 0)
                        return -ENOMEM;
        }
        return json_append(a, json_object_new_string(s));
}

void engine_metadata_file_prepare(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                  json_object *body)
{
        _cleanup_free_ char *host = NULL, *dir = NULL, *bind = NULL, *env = NULL;
        json_object *hc;
        char id[37];
        int r;

        if (!e->config->container_metadata)
                return;
        c->metadata_file_ready = false;
        r = write_file(e, et->task, c, NULL);
        if (r >= 0)
                r = host_data_dir(e->config, &host);
        if (r >= 0 && uuid_v4(id) < 0)
                r = -EIO;
        if (r >= 0)
                r = engine_metadata_dir(host, et->task->arn, c->name, &dir);
        if (r >= 0 &&
            (asprintf(&bind, "%s:" METADATA_MOUNT_BASE "/%s:ro", dir, id) < 0 ||
             asprintf(&env, METADATA_ENV "=" METADATA_MOUNT_BASE "/%s/" METADATA_FILE_NAME, id) <
                 0))
                r = -ENOMEM;
        hc = json_get_object(body, "HostConfig", NULL);
        if (r >= 0 && !hc) {
                hc = json_object_new_object();
                if (!hc || json_add(body, "HostConfig", hc) < 0)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = append_string(hc, "Binds", bind);
        if (r >= 0)
                r = append_string(body, "Env", env);
        /* As the official agent: the container runs without the file rather than not at
         * all. */
        if (r < 0)
                log_warning_errno(r, "Task %s container %s: no metadata file: %m", et->task->arn,
                                  c->name);
}

void engine_metadata_file_ready(struct engine *e, struct engine_task *et, struct ecs_container *c,
                                const struct docker_container *d)
{
        int r;

        if (!e->config->container_metadata || c->metadata_file_ready)
                return;
        r = write_file(e, et->task, c, d);
        if (r < 0)
                log_warning_errno(r, "Task %s container %s: cannot update the metadata file: %m",
                                  et->task->arn, c->name);
        c->metadata_file_ready = true; /* tried once per start */
}

/* Removes what parent/name holds, depth-limited, without following links. */
static int remove_tree_at(int parent, const char *name, unsigned depth)
{
        int fd, r = 0;
        DIR *dir;

        if (unlinkat(parent, name, 0) >= 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        if (depth == 0)
                return -ELOOP;
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir) {
                r = -errno;
                close(fd);
                return r;
        }
        for (struct dirent *de; (de = readdir(dir));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                int k = remove_tree_at(dirfd(dir), de->d_name, depth - 1);
                if (k < 0 && r >= 0)
                        r = k;
        }
        closedir(dir);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r >= 0)
                r = -errno;
        return r;
}

void engine_metadata_file_remove(struct engine *e, const struct ecs_task *t)
{
        _cleanup_free_ char *tp = NULL;
        char *slash;
        int fd, r;

        if (engine_metadata_task_path(t->arn, &tp) < 0)
                return;
        fd = open_dirs(e->config->data_dir, METADATA_SUBDIR, false);
        if (fd < 0)
                return; /* never written */
        slash = strchr(tp, '/');
        if (slash) {
                /* <cluster>/<id>: the id's tree, then the cluster's directory if now empty. */
                *slash = '\0';
                int cfd = openat(fd, tp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = cfd < 0 ? (errno == ENOENT ? 0 : -errno) : remove_tree_at(cfd, slash + 1, 4);
                if (cfd >= 0) {
                        close(cfd);
                        (void)unlinkat(fd, tp, AT_REMOVEDIR);
                }
                *slash = '/';
        } else
                r = remove_tree_at(fd, tp, 4);
        close(fd);
        if (r < 0)
                log_warning_errno(r, "Task %s: cannot remove its metadata files: %m", t->arn);
}
