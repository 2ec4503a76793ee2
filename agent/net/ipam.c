/* IPAM for the bridge subnet (the ecs-ipam plugin's job): addresses keyed by ENI MAC, kept
 * in a small text file rewritten durably on every change:
 *
 *   # ecs-agent bridge IPAM
 *   last 169.254.172.3
 *   0e:12:34:56:78:9a 169.254.172.2
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "ecs/log.h"
#include "ecs/strbuf.h"
#include "net-internal.h"

#define IPAM_KEY_MAX  64
#define IPAM_FILE_MAX (1024 * 1024)

struct ipam_entry {
        char key[IPAM_KEY_MAX + 1];
        uint32_t offset; /* host part */
};

struct net_ipam {
        char *dir;
        uint32_t network; /* host byte order */
        uint8_t prefixlen;
        uint32_t size; /* addresses in the subnet */
        uint32_t last; /* offset handed out last */
        struct ipam_entry *entries;
        size_t n_entries;
        uint8_t *used; /* bitmap over offsets */
};

static bool used(const struct net_ipam *m, uint32_t off)
{
        return m->used[off / 8] & (1u << (off % 8));
}

static void mark(struct net_ipam *m, uint32_t off, bool on)
{
        if (on)
                m->used[off / 8] |= (uint8_t)(1u << (off % 8));
        else
                m->used[off / 8] &= (uint8_t) ~(1u << (off % 8));
}

/* Network (0), gateway (1) and broadcast (size - 1) are never handed out. */
static bool usable(const struct net_ipam *m, uint32_t off)
{
        return off >= 2 && off < m->size - 1;
}

static int key_normalize(const char *key, char buf[IPAM_KEY_MAX + 1])
{
        uint8_t mac[6];

        if (net_mac_parse(key, mac) >= 0) {
                net_mac_format(mac, buf);
                return 0;
        }
        if (isempty(key) || strlen(key) > IPAM_KEY_MAX)
                return -EINVAL;
        for (const char *p = key; *p; p++)
                if (!isgraph((unsigned char)*p) || *p == '#')
                        return -EINVAL;
        strcpy(buf, key);
        return 0;
}

static struct ipam_entry *entry_find(struct net_ipam *m, const char *key)
{
        for (size_t i = 0; i < m->n_entries; i++)
                if (streq(m->entries[i].key, key))
                        return &m->entries[i];
        return NULL;
}

static int offset_of(const struct net_ipam *m, const char *s, uint32_t *ret)
{
        struct in_addr a;
        uint32_t h;

        if (inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        h = ntohl(a.s_addr);
        if ((h & ~(m->size - 1)) != m->network)
                return -ERANGE;
        *ret = h - m->network;
        return 0;
}

static void offset_ip(const struct net_ipam *m, uint32_t off, struct net_ip *ret)
{
        *ret = (struct net_ip){.family = AF_INET};
        ret->in.s_addr = htonl(m->network + off);
}

static int entry_add(struct net_ipam *m, const char *key, uint32_t off)
{
        struct ipam_entry *e;

        e = reallocarray(m->entries, m->n_entries + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        m->entries = e;
        e = &m->entries[m->n_entries++];
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->offset = off;
        mark(m, off, true);
        return 0;
}

static int ipam_load_line(struct net_ipam *m, char *line)
{
        char key[IPAM_KEY_MAX + 1], *k, *v, *extra;
        uint32_t off;
        int r;

        k = strtok_r(line, " \t", &extra);
        v = k ? strtok_r(NULL, " \t", &extra) : NULL;
        if (!k || *k == '#')
                return 0;
        if (!v || strtok_r(NULL, " \t", &extra))
                return -EINVAL;
        r = offset_of(m, v, &off);
        if (r < 0)
                return r;
        if (streq(k, "last")) {
                m->last = off;
                return 0;
        }
        r = key_normalize(k, key);
        if (r < 0)
                return r;
        if (!usable(m, off) || used(m, off) || entry_find(m, key))
                return -EEXIST;
        return entry_add(m, key, off);
}

static int ipam_load(struct net_ipam *m)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned lineno = 0;
        size_t total = 0;

        if (asprintf(&path, "%s/%s", m->dir, NET_IPAM_FILE) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof(line), f)) {
                size_t len = strlen(line);
                int r;

                lineno++;
                total += len;
                if (total > IPAM_FILE_MAX)
                        return log_warning_errno(E2BIG, "%s: too large, rest ignored", path), 0;
                if (len > 0 && line[len - 1] == '\n')
                        line[len - 1] = '\0';
                else if (!feof(f)) {
                        int c;
                        while ((c = fgetc(f)) != EOF && c != '\n')
                                ;
                        log_warning("%s:%u: line too long, ignored", path, lineno);
                        continue;
                }
                r = ipam_load_line(m, line);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_warning_errno(r, "%s:%u: bad IPAM entry ignored: %m", path, lineno);
        }
        return 0;
}

static int fsync_dir(const char *dir)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Durable: temp file in the same directory, fsync, rename, fsync the directory. */
static int ipam_save(struct net_ipam *m)
{
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct strbuf b = STRBUF_INIT(0);
        struct net_ip ip;
        char s[NET_IP_STRLEN];
        int r;

        if (asprintf(&path, "%s/%s", m->dir, NET_IPAM_FILE) < 0 ||
            asprintf(&tmp, "%s/.%s.XXXXXX", m->dir, NET_IPAM_FILE) < 0)
                return -ENOMEM;
        offset_ip(m, m->last, &ip);
        (void)net_ip_format(&ip, s, sizeof(s));
        r = strbuf_printf(&b, "# ecs-agent bridge IPAM\nlast %s\n", s);
        for (size_t i = 0; i < m->n_entries && r >= 0; i++) {
                offset_ip(m, m->entries[i].offset, &ip);
                (void)net_ip_format(&ip, s, sizeof(s));
                r = strbuf_printf(&b, "%s %s\n", m->entries[i].key, s);
        }
        if (r < 0)
                goto out;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = write_all(fd, b.data, b.len);
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        else
                r = fsync_dir(m->dir);
out:
        strbuf_done(&b);
        return r;
}

int net_ipam_open(const char *dir, const struct net_cidr *subnet, struct net_ipam **ret)
{
        struct net_cidr net;
        struct net_ipam *m;
        int r;

        if (isempty(dir) || !ret)
                return -EINVAL;
        if (subnet)
                net = *subnet;
        else {
                r = net_cidr_parse(NET_BRIDGE_SUBNET, &net);
                if (r < 0)
                        return r;
        }
        if (net.addr.family != AF_INET || net.prefixlen < 16 || net.prefixlen > 30)
                return -EINVAL;
        net_cidr_network(&net, &net);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->prefixlen = net.prefixlen;
        m->size = 1u << (32 - net.prefixlen);
        m->network = ntohl(net.addr.in.s_addr);
        m->last = 1;
        m->dir = strdup(dir);
        m->used = calloc(m->size / 8 + 1, 1);
        if (!m->dir || !m->used) {
                net_ipam_free(m);
                return -ENOMEM;
        }
        r = ipam_load(m);
        if (r < 0) {
                net_ipam_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct net_ipam *net_ipam_free(struct net_ipam *m)
{
        if (!m)
                return NULL;
        free(m->dir);
        free(m->entries);
        free(m->used);
        return mfree(m);
}

/* The entry for key (-ENOENT when there is none), with the normalised key in k. */
static int entry_lookup(struct net_ipam *m, const char *key, char k[static IPAM_KEY_MAX + 1],
                        struct ipam_entry **ret)
{
        int r;

        if (!m)
                return -EINVAL;
        r = key_normalize(key, k);
        if (r < 0)
                return r;
        *ret = entry_find(m, k);
        return *ret ? 0 : -ENOENT;
}

int net_ipam_lookup(struct net_ipam *m, const char *key, struct net_ip *ret)
{
        char k[IPAM_KEY_MAX + 1];
        struct ipam_entry *e;
        int r;

        r = entry_lookup(m, key, k, &e);
        if (r < 0)
                return r;
        if (ret)
                offset_ip(m, e->offset, ret);
        return 0;
}

int net_ipam_allocate(struct net_ipam *m, const char *key, struct net_ip *ret)
{
        char k[IPAM_KEY_MAX + 1];
        struct ipam_entry *e;
        uint32_t prev_last;
        int r;

        r = entry_lookup(m, key, k, &e);
        if (r >= 0)
                return net_ipam_lookup(m, k, ret);
        if (r != -ENOENT)
                return r;
        /* Continue after the last one handed out: metadata v2 identifies a task by source
         * address, so a just-released address should not be reused at once. */
        for (uint32_t i = 1; i <= m->size; i++) {
                uint32_t off = (m->last + i) % m->size;

                if (!usable(m, off) || used(m, off))
                        continue;
                r = entry_add(m, k, off);
                if (r < 0)
                        return r;
                prev_last = m->last;
                m->last = off;
                r = ipam_save(m);
                if (r < 0) {
                        /* Not persisted, not handed out. */
                        m->n_entries--;
                        mark(m, off, false);
                        m->last = prev_last;
                        return r;
                }
                if (ret)
                        offset_ip(m, off, ret);
                return 0;
        }
        return -ENOSPC;
}

int net_ipam_release(struct net_ipam *m, const char *key)
{
        char k[IPAM_KEY_MAX + 1];
        struct ipam_entry *e, saved;
        size_t idx;
        int r;

        r = entry_lookup(m, key, k, &e);
        if (r < 0)
                return r;
        saved = *e;
        idx = (size_t)(e - m->entries);
        mark(m, e->offset, false);
        memmove(e, e + 1, (m->n_entries - idx - 1) * sizeof(*e));
        m->n_entries--;
        r = ipam_save(m);
        if (r < 0) {
                /* Still on disk: keep it in memory too. */
                memmove(m->entries + idx + 1, m->entries + idx, (m->n_entries - idx) * sizeof(*e));
                m->entries[idx] = saved;
                m->n_entries++;
                mark(m, saved.offset, true);
        }
        return r;
}

void net_ipam_gateway(const struct net_ipam *m, struct net_cidr *ret)
{
        *ret = (struct net_cidr){.addr.family = AF_INET, .prefixlen = m->prefixlen};
        ret->addr.in.s_addr = htonl(m->network + 1);
}
