/* Task cgroups: detection and base setup at start-up, per-task creation with the §5.1
 * limits, and removal at cleanup. Direct cgroupfs I/O (see cgroup-internal.h for why not
 * libcgroup). Everything happens below the base directory ("ecs" or "ecstasks.slice"); the
 * task id is validated before it becomes part of any path. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "cgroup-internal.h"
#include "ecs/cgroup.h"
#include "ecs/log.h"
#include "ecs/macro.h"
#include "ecs/strbuf.h"

#define CGROUP_ROOT_DEFAULT  "/sys/fs/cgroup"
#define CGROUP_BASE_CGROUPFS "ecs"
#define CGROUP_BASE_SYSTEMD  "ecstasks.slice"
#define MOUNTINFO_PATH       "/proc/self/mountinfo"
#define MOUNTINFO_MAX        (16 * 1024 * 1024)

static const char *manager_base(const struct cgroup_manager *m)
{
        return m->driver == CGROUP_DRIVER_SYSTEMD ? CGROUP_BASE_SYSTEMD : CGROUP_BASE_CGROUPFS;
}

struct cgroup_manager *cgroup_manager_free(struct cgroup_manager *m)
{
        if (!m)
                return NULL;
        cgroup_hierarchies_free(m->hier, m->n_hier);
        free(m->root);
        return mfree(m);
}

int cgroup_manager_version(const struct cgroup_manager *m)
{
        return m->version;
}

enum cgroup_driver cgroup_manager_driver(const struct cgroup_manager *m)
{
        return m->driver;
}

bool cgroup_manager_task_limits_available(const struct cgroup_manager *m)
{
        return m && m->init_error == 0;
}

int cgroup_manager_init_error(const struct cgroup_manager *m)
{
        return m->init_error;
}

static int make_dir(const char *dir, const char *name, bool *ret_created)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        if (mkdir(path, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                if (ret_created)
                        *ret_created = false;
                return 0;
        }
        if (ret_created)
                *ret_created = true;
        return 0;
}

/* A v1 cpuset cgroup starts with empty cpus/mems, and nothing can join it until they are set:
 * copy them from the parent, as runc and the containerd library do. */
static int cpuset_populate(const struct cgroup_manager *m, const char *parent, const char *dir)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *cur = NULL, *want = NULL;
                int r;

                r = cgroup_read_file(dir, files[i], &cur);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0 && strspn(cur, " \n") != strlen(cur))
                        continue;
                r = cgroup_read_file(parent, files[i], &want);
                if (r < 0)
                        return r;
                want[strcspn(want, "\n")] = 0;
                if (isempty(want))
                        return -EINVAL; /* the parent is unpopulated too; nothing could run */
                r = cgroup_write_file(m, dir, files[i], want);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *v2_enable_string(unsigned ctrls)
{
        return (ctrls & CGROUP_CTRL_PIDS) ? "+cpu +memory +pids" : "+cpu +memory";
}

/* Creates dir/rel component by component. v1 cpuset hierarchies get cpus/mems, v2 cgroups
 * get the controllers enabled for their children (runc puts each container one level
 * below). Sets *ret_created when the last component was made by this call. */
static int make_path(const struct cgroup_manager *m, const struct cgroup_hierarchy *h,
                     const char *rel, bool *ret_created)
{
        _cleanup_free_ char *cur = strdup(h->path);
        bool created = false;

        if (!cur)
                return -ENOMEM;
        for (const char *p = rel; *p;) {
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *name = strndup(p, n), *next = NULL;
                int r;

                if (!name || asprintf(&next, "%s/%s", cur, name) < 0)
                        return -ENOMEM;
                r = make_dir(cur, name, &created);
                if (r < 0)
                        return r;
                if (h->unified)
                        r = cgroup_write_file(m, next, "cgroup.subtree_control",
                                              v2_enable_string(h->controllers));
                else if (h->controllers & CGROUP_CTRL_CPUSET)
                        r = cpuset_populate(m, cur, next);
                if (r < 0)
                        return r;
                free(cur);
                cur = TAKE_PTR(next);
                p += n;
                p += strspn(p, "/");
        }
        if (ret_created)
                *ret_created = created;
        return 0;
}

static int setup_v1(struct cgroup_manager *m)
{
        unsigned all = 0;

        for (size_t i = 0; i < m->n_hier; i++)
                if (!m->hier[i].unified)
                        all |= m->hier[i].controllers;
        if (!(all & CGROUP_CTRL_CPU) || !(all & CGROUP_CTRL_MEMORY))
                return log_debug_errno(EOPNOTSUPP, "cgroup v1: no cpu or memory hierarchy");
        for (size_t i = 0; i < m->n_hier; i++) {
                int r;
                if (m->hier[i].unified)
                        continue;
                r = make_path(m, &m->hier[i], manager_base(m), NULL);
                if (r < 0)
                        return log_debug_errno(r, "Failed to create %s/%s: %m", m->hier[i].path,
                                               manager_base(m));
        }
        return 0;
}

static int setup_v2(struct cgroup_manager *m)
{
        struct cgroup_hierarchy *h = &m->hier[0];
        _cleanup_free_ char *avail = NULL;
        int r;

        r = cgroup_read_file(h->path, "cgroup.controllers", &avail);
        if (r < 0)
                return log_debug_errno(r, "Failed to read %s/cgroup.controllers: %m", h->path);
        if (!cgroup_controllers_contain(avail, "cpu") ||
            !cgroup_controllers_contain(avail, "memory"))
                return log_debug_errno(EOPNOTSUPP, "cgroup v2: cpu or memory not available");
        h->controllers = CGROUP_CTRL_CPU | CGROUP_CTRL_MEMORY;
        if (cgroup_controllers_contain(avail, "pids"))
                h->controllers |= CGROUP_CTRL_PIDS;

        /* The kernel refuses the write unless every controller named is available, so a
         * successful write is the verification. */
        r = cgroup_write_file(m, h->path, "cgroup.subtree_control",
                              v2_enable_string(h->controllers));
        if (r < 0)
                return log_debug_errno(r, "Failed to enable controllers in %s: %m", h->path);
        r = make_path(m, h, manager_base(m), NULL);
        if (r < 0)
                return log_debug_errno(r, "Failed to set up %s/%s: %m", h->path, manager_base(m));
        return 0;
}

int cgroup_manager_new_internal(const char *root, int version, enum cgroup_driver driver,
                                const char *mountinfo, bool fake, struct cgroup_manager **ret)
{
        _cleanup_(cgroup_manager_freep) struct cgroup_manager *m = NULL;
        int r;

        if (!root || (version != 1 && version != 2) || driver < 0 || driver >= _CGROUP_DRIVER_MAX ||
            (version == 1 && !mountinfo))
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->version = version;
        m->driver = driver;
        m->fake = fake;
        m->root = strdup(root);
        if (!m->root)
                return -ENOMEM;
        if (version == 2) {
                m->hier = calloc(1, sizeof(*m->hier));
                if (!m->hier)
                        return -ENOMEM;
                m->n_hier = 1;
                m->hier[0] = (struct cgroup_hierarchy){.path = strdup(root), .unified = true};
                if (!m->hier[0].path)
                        return -ENOMEM;
                m->init_error = setup_v2(m);
        } else {
                r = cgroup_parse_mountinfo(mountinfo, root, &m->hier, &m->n_hier);
                if (r < 0)
                        return r;
                m->init_error = setup_v1(m);
        }
        if (m->init_error == -ENOMEM)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

int cgroup_manager_new(const char *cgroup_root, const char *docker_cgroup_driver,
                       struct cgroup_manager **ret)
{
        _cleanup_free_ char *mountinfo = NULL;
        enum cgroup_driver driver;
        const char *root = isempty(cgroup_root) ? CGROUP_ROOT_DEFAULT : cgroup_root;
        struct statfs sfs;
        int r;

        driver = cgroup_driver_from_string(docker_cgroup_driver);
        if (driver < 0)
                return log_debug_errno(EINVAL, "Unknown Docker cgroup driver '%s'",
                                       docker_cgroup_driver);
        if (statfs(root, &sfs) < 0)
                return log_debug_errno(errno, "Failed to statfs %s: %m", root);
        if ((unsigned long)sfs.f_type == CGROUP2_SUPER_MAGIC)
                return cgroup_manager_new_internal(root, 2, driver, NULL, false, ret);
        if ((unsigned long)sfs.f_type != TMPFS_MAGIC)
                return log_debug_errno(ENOMEDIUM,
                                       "%s is neither cgroup2 nor a tmpfs of v1 "
                                       "hierarchies",
                                       root);
        r = read_file_full(MOUNTINFO_PATH, MOUNTINFO_MAX, &mountinfo, NULL);
        if (r < 0)
                return log_debug_errno(r, "Failed to read " MOUNTINFO_PATH ": %m");
        return cgroup_manager_new_internal(root, 1, driver, mountinfo, false, ret);
}

/* ---- task paths ---- */

int cgroup_task_relpath(const struct cgroup_manager *m, const char *task_id, char **ret)
{
        _cleanup_free_ char *path = NULL, *prefix = NULL;

        if (!cgroup_task_id_is_valid(task_id))
                return -EINVAL;
        if (m->driver == CGROUP_DRIVER_CGROUPFS) {
                if (asprintf(&path, CGROUP_BASE_CGROUPFS "/%s", task_id) < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(path);
                return 0;
        }
        /* systemd reads each "-" in a slice name as a parent slice, so ecstasks-a-b.slice
         * lives at ecstasks.slice/ecstasks-a.slice/ecstasks-a-b.slice; "--", a leading or a
         * trailing "-" make no valid slice (runc's ExpandSlice rejects them likewise). */
        if (task_id[0] == '-' || task_id[strlen(task_id) - 1] == '-' || strstr(task_id, "--"))
                return -EINVAL;
        path = strdup(CGROUP_BASE_SYSTEMD);
        prefix = strdup("ecstasks");
        if (!path || !prefix)
                return -ENOMEM;
        for (const char *p = task_id; *p;) {
                size_t n = strcspn(p, "-");
                char *np = NULL, *npre = NULL;

                if (asprintf(&npre, "%s-%.*s", prefix, (int)n, p) < 0)
                        return -ENOMEM;
                if (asprintf(&np, "%s/%s.slice", path, npre) < 0) {
                        free(npre);
                        return -ENOMEM;
                }
                free(path);
                free(prefix);
                path = np;
                prefix = npre;
                p += n;
                if (*p == '-')
                        p++;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

int cgroup_task_docker_parent(const struct cgroup_manager *m, const char *task_id, char **ret)
{
        _cleanup_free_ char *rel = NULL, *s = NULL;
        int r;

        r = cgroup_task_relpath(m, task_id, &rel); /* validates for this driver */
        if (r < 0)
                return r;
        if (m->driver == CGROUP_DRIVER_CGROUPFS)
                r = asprintf(&s, "/" CGROUP_BASE_CGROUPFS "/%s", task_id);
        else
                r = asprintf(&s, "ecstasks-%s.slice", task_id);
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- create ---- */

struct task_values {
        char cpu_period[24], cpu_quota[24], cpu_shares[24], cpu_weight[24], cpu_max[48];
        char memory[24], pids[24];
        bool quota;
};

static int task_values_build(const struct cgroup_task_spec *spec, struct task_values *v)
{
        uint64_t period =
            spec->cpu_period_usec ? spec->cpu_period_usec : CGROUP_CPU_PERIOD_DEFAULT_USEC;
        uint64_t shares;
        int64_t quota;
        int r;

        *v = (struct task_values){};
        if (period < CGROUP_CPU_PERIOD_MIN_USEC || period > CGROUP_CPU_PERIOD_MAX_USEC)
                return -EINVAL;
        r = cgroup_cpu_quota_usec(spec->cpu_vcpus, period, &quota);
        if (r < 0)
                return r;
        if (spec->cpu_vcpus > 0) {
                v->quota = true;
                snprintf(v->cpu_period, sizeof(v->cpu_period), "%" PRIu64, period);
                snprintf(v->cpu_quota, sizeof(v->cpu_quota), "%" PRId64, quota);
                snprintf(v->cpu_max, sizeof(v->cpu_max), "%" PRId64 " %" PRIu64, quota, period);
        } else {
                shares = MIN(MAX(spec->cpu_shares, CGROUP_CPU_SHARES_MIN), CGROUP_CPU_SHARES_MAX);
                snprintf(v->cpu_shares, sizeof(v->cpu_shares), "%" PRIu64, shares);
                snprintf(v->cpu_weight, sizeof(v->cpu_weight), "%" PRIu64,
                         cgroup_cpu_shares_to_weight(shares));
        }
        if (spec->memory_mib > 0) {
                if (spec->memory_mib > (UINT64_MAX >> 20) / 2)
                        return -EINVAL;
                snprintf(v->memory, sizeof(v->memory), "%" PRIu64, spec->memory_mib << 20);
        }
        if (spec->pids_limit > 0)
                snprintf(v->pids, sizeof(v->pids), "%" PRIu32, spec->pids_limit);
        return 0;
}

static int write_limits(const struct cgroup_manager *m, const struct cgroup_hierarchy *h,
                        const char *dir, const struct task_values *v)
{
        int r = 0;

        if (h->controllers & CGROUP_CTRL_CPU) {
                if (h->unified && v->quota)
                        r = cgroup_write_file(m, dir, "cpu.max", v->cpu_max);
                else if (h->unified)
                        r = cgroup_write_file(m, dir, "cpu.weight", v->cpu_weight);
                else if (v->quota) {
                        /* Period first: the kernel checks the quota against it. */
                        r = cgroup_write_file(m, dir, "cpu.cfs_period_us", v->cpu_period);
                        if (r >= 0)
                                r = cgroup_write_file(m, dir, "cpu.cfs_quota_us", v->cpu_quota);
                } else
                        r = cgroup_write_file(m, dir, "cpu.shares", v->cpu_shares);
                if (r < 0)
                        return r;
        }
        if ((h->controllers & CGROUP_CTRL_MEMORY) && v->memory[0]) {
                r = cgroup_write_file(m, dir, h->unified ? "memory.max" : "memory.limit_in_bytes",
                                      v->memory);
                if (r < 0)
                        return r;
        }
        if ((h->controllers & CGROUP_CTRL_PIDS) && v->pids[0]) {
                r = cgroup_write_file(m, dir, "pids.max", v->pids);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool has_controller(const struct cgroup_manager *m, unsigned bit)
{
        for (size_t i = 0; i < m->n_hier; i++)
                if ((m->hier[i].controllers & bit) && (m->version == 2 || !m->hier[i].unified))
                        return true;
        return false;
}

static int task_create_in(struct cgroup_manager *m, const struct cgroup_hierarchy *h,
                          const char *rel, const struct task_values *v, bool *created)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        r = make_path(m, h, rel, created);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/%s", h->path, rel) < 0)
                return -ENOMEM;
        return write_limits(m, h, dir, v);
}

int cgroup_task_create(struct cgroup_manager *m, const struct cgroup_task_spec *spec,
                       char **ret_docker_parent)
{
        _cleanup_free_ char *rel = NULL, *parent = NULL;
        struct task_values v;
        bool created_any = false;
        int r;

        if (!m || !spec)
                return -EINVAL;
        r = cgroup_task_relpath(m, spec->task_id, &rel);
        if (r < 0)
                return r;
        r = task_values_build(spec, &v);
        if (r < 0)
                return r;
        if (m->init_error < 0)
                return -EOPNOTSUPP;
        if (spec->pids_limit > 0 && !has_controller(m, CGROUP_CTRL_PIDS))
                return -EOPNOTSUPP;
        r = cgroup_task_docker_parent(m, spec->task_id, &parent);
        if (r < 0)
                return r;

        for (size_t i = 0; i < m->n_hier; i++) {
                bool created = false;
                if (m->version == 1 && m->hier[i].unified)
                        continue; /* hybrid: runc's business, we only clean it up */
                r = task_create_in(m, &m->hier[i], rel, &v, &created);
                created_any = created_any || created;
                if (r < 0) {
                        log_debug_errno(r, "Failed to set up %s/%s: %m", m->hier[i].path, rel);
                        if (created_any)
                                (void)cgroup_task_remove(m, spec->task_id);
                        return r;
                }
        }
        if (ret_docker_parent)
                *ret_docker_parent = TAKE_PTR(parent);
        return 0;
}

/* ---- remove ---- */

/* Removes path and the cgroups below it, deepest first. On cgroupfs the control files go
 * with their directory; a fake tree needs them unlinked. */
static int remove_tree(const struct cgroup_manager *m, const char *path, unsigned depth)
{
        DIR *d;
        struct dirent *de;
        int fd, r = 0;

        if (depth > CGROUP_REMOVE_DEPTH_MAX)
                return -ELOOP;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                bool is_dir = de->d_type == DT_DIR;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        is_dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                 S_ISDIR(st.st_mode);
                }
                if (is_dir) {
                        _cleanup_free_ char *child = NULL;
                        int k;
                        if (asprintf(&child, "%s/%s", path, de->d_name) < 0) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        k = remove_tree(m, child, depth + 1);
                        if (k < 0 && r == 0)
                                r = k;
                } else if (m->fake && unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = -errno;
        }
        if (errno != 0 && r == 0)
                r = -errno;
        closedir(d);
        if (rmdir(path) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

/* rmdir for a cgroup without child cgroups; in a fake tree its plain files go first. */
static int remove_if_leaf(const struct cgroup_manager *m, const char *path)
{
        if (m->fake) {
                DIR *d = opendir(path);
                struct dirent *de;
                bool leaf = true;

                if (!d)
                        return -errno;
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && !streq(de->d_name, ".") &&
                            !streq(de->d_name, ".."))
                                leaf = false;
                if (leaf) {
                        rewinddir(d);
                        while ((de = readdir(d)))
                                if (de->d_type != DT_DIR)
                                        (void)unlinkat(dirfd(d), de->d_name, 0);
                }
                closedir(d);
                if (!leaf)
                        return -ENOTEMPTY;
        }
        return rmdir(path) < 0 ? -errno : 0;
}

/* systemd slices: the intermediate ecstasks-<prefix>.slice levels go when empty. */
static void remove_empty_parents(const struct cgroup_manager *m, const char *hier, const char *rel)
{
        _cleanup_free_ char *p = NULL;
        char *slash;

        if (asprintf(&p, "%s/%s", hier, rel) < 0)
                return;
        while ((slash = strrchr(p, '/'))) {
                *slash = 0;
                /* Stop at the base: ecstasks.slice itself stays. */
                if (strlen(p) <= strlen(hier) + 1 + strlen(CGROUP_BASE_SYSTEMD))
                        break;
                if (remove_if_leaf(m, p) < 0)
                        break;
        }
}

int cgroup_task_remove(struct cgroup_manager *m, const char *task_id)
{
        _cleanup_free_ char *rel = NULL;
        int r, ret = 0;

        if (!m)
                return -EINVAL;
        r = cgroup_task_relpath(m, task_id, &rel);
        if (r < 0)
                return r;
        /* Every hierarchy, including a hybrid v1 host's cgroup2 mount where runc mirrors the
         * container cgroups; a busy one does not stop the others. */
        for (size_t i = 0; i < m->n_hier; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", m->hier[i].path, rel) < 0)
                        return -ENOMEM;
                r = remove_tree(m, path, 0);
                if (r < 0) {
                        log_debug_errno(r, "Failed to remove %s: %m", path);
                        if (ret == 0 || r == -EBUSY)
                                ret = r;
                        continue;
                }
                if (m->driver == CGROUP_DRIVER_SYSTEMD)
                        remove_empty_parents(m, m->hier[i].path, rel);
        }
        return ret;
}
