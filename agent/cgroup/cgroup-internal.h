/* Shared by the cgroup module's files and its unit test; not part of the public surface.
 *
 * Why direct cgroupfs I/O and not libcgroup: libcgroup finds hierarchies only through the
 * process's mount table (cgroup_init() parses /proc/mounts) and keeps that in global state,
 * so it cannot honour ECS_CGROUP_PATH when that differs from where the mounts are listed, nor
 * run against a fake tree in unit tests; its v2 support in 2.0 still goes through the same
 * global tables. What we need is mkdir, a handful of writes, rmdir and reads — a few dozen
 * lines of plain file I/O that the unit test exercises exactly as production runs it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecs/cgroup.h"

enum {
        CGROUP_CTRL_CPU = 1U << 0,
        CGROUP_CTRL_CPUACCT = 1U << 1,
        CGROUP_CTRL_MEMORY = 1U << 2,
        CGROUP_CTRL_PIDS = 1U << 3,
        CGROUP_CTRL_CPUSET = 1U << 4,
        CGROUP_CTRL_BLKIO = 1U << 5,
};

/* Control files are tiny; anything bigger is not one. */
#define CGROUP_FILE_MAX (64 * 1024)
/* runc nests one level (container) under the task; systemd slices a few more. */
#define CGROUP_REMOVE_DEPTH_MAX 16

struct cgroup_hierarchy {
        char *path;           /* absolute mount point */
        unsigned controllers; /* CGROUP_CTRL_* */
        bool unified;         /* cgroup2: the v2 root, or the hybrid "unified" mount on v1 */
};

struct cgroup_manager {
        int version;
        enum cgroup_driver driver;
        char *root;
        bool fake; /* plain directory tree (tests): control files are created on write */
        /* v1: every v1 hierarchy under root, plus a hybrid cgroup2 mount (only cleaned up:
         * runc mirrors container cgroups there). v2: exactly one, the root. */
        struct cgroup_hierarchy *hier;
        size_t n_hier;
        int init_error; /* 0, or why task limits are unavailable */
};

/* Builds a manager without detection: root is taken to be a cgroup v1 tmpfs (then
 * mountinfo, in /proc/self/mountinfo format, lists the hierarchies; only mounts directly
 * below root count) or the cgroup2 root. fake makes writes create missing files and lets
 * removal unlink plain files, so a temp directory tree can stand in for cgroupfs. Runs the
 * same base setup as cgroup_manager_new(). */
int cgroup_manager_new_internal(const char *root, int version, enum cgroup_driver driver,
                                const char *mountinfo, bool fake, struct cgroup_manager **ret);

/* The cgroup v1 hierarchies in a mountinfo text that are mounted directly below root, and
 * cgroup2 mounts there (unified = true). Later mounts on the same point replace earlier. */
int cgroup_parse_mountinfo(const char *text, const char *root, struct cgroup_hierarchy **ret,
                           size_t *ret_n);
void cgroup_hierarchies_free(struct cgroup_hierarchy *h, size_t n);

/* Task cgroup path relative to a hierarchy ("ecs/<id>",
 * "ecstasks.slice/ecstasks-a.slice/ecstasks-a-b.slice"). -EINVAL for an invalid id. */
int cgroup_task_relpath(const struct cgroup_manager *m, const char *task_id, char **ret);

/* File helpers. Reads (read_file_full) are NUL-terminated; -EFBIG past CGROUP_FILE_MAX.
 * Writes are one write() of the whole value. */
int cgroup_read_file(const char *dir, const char *file, char **ret);
int cgroup_write_file(const struct cgroup_manager *m, const char *dir, const char *file,
                      const char *value);
