/* test_archive.c - zippy_pack / zippy_unpack: round trips, interop with
 * Info-ZIP, hostile archives, and fault injection through the os layer. */
#include "test.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <zip.h>

#include "os.h"
#include "zippy.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static char *g_base; /* per-process scratch directory */

/* Paths handed out by pth/fresh stay valid until the end of main. */
static char *g_pool[8192];
static size_t g_npool;

static char *keep(char *p) {
    if (g_npool < sizeof g_pool / sizeof *g_pool) g_pool[g_npool++] = p;
    return p;
}

static char *pth(const char *a, const char *b) {
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return keep(p);
}

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static int mkdir_p(const char *path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0755);
            *s = '/';
        }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int put(const char *root, const char *rel, const void *data, size_t n) {
    char p[4200], dir[4200];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", p);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (mkdir_p(dir)) return -1;
    return t_write_file(p, data, n);
}

static int puts_(const char *root, const char *rel, const char *s) {
    return put(root, rel, s, strlen(s));
}

/* A fresh empty directory under the scratch base. */
static char *fresh(const char *name) {
    char *p = pth(g_base, name);
    t_rm_rf(p);
    mkdir_p(p);
    return p;
}

static size_t g_big_len;

/* A small store: two collections, JSONL + index + manifest + lock, docs/,
 * an empty directory, a *.tmp leftover and a ~3 MiB log. */
static int make_store(const char *root) {
    int rc = 0;
    rc |= puts_(root, "zds.json", "{\"format\":1,\"name\":\"demo\"}\n");
    rc |= puts_(root, "collections/users/meta/manifest.json", "{\"version\":1}\n");
    rc |= puts_(root, "collections/users/meta/lock", "12345\n");
    rc |= puts_(root, "collections/users/meta/data.jsonl.tmp", "partial");
    rc |= puts_(root, "collections/users/docs/alice.json", "{\"name\":\"alice\"}");
    rc |= puts_(root, "collections/users/docs/b:ob@x.json", "{\"name\":\"bob\"}");
    rc |= put(root, "collections/users/docs/empty.json", "", 0);
    unsigned char bin[1024];
    for (int i = 0; i < 1024; i++) bin[i] = (unsigned char)(i * 7 + (i >> 3));
    rc |= put(root, "collections/users/meta/index.bin", bin, sizeof bin);
    /* A log that deflate shrinks well but far less than 100x. */
    size_t cap = 3u << 20, n = 0;
    char *big = malloc(cap);
    unsigned x = 12345;
    for (int i = 0; n + 128 < cap; i++) {
        x = x * 1103515245u + 12345u;
        n += (size_t)snprintf(big + n, cap - n,
                              "{\"_id\":\"u%07d\",\"score\":%u,\"tag\":\"%08x\"}\n", i,
                              (x >> 8) % 100000, x);
    }
    g_big_len = n;
    rc |= put(root, "collections/users/meta/data.jsonl", big, n);
    free(big);
    rc |= puts_(root, "collections/logs/meta/data.jsonl", "{\"_id\":\"1\"}\n");
    rc |= puts_(root, "collections/logs/meta/lock", "");
    /* "lock" outside meta/ is an ordinary file and is packed. */
    rc |= puts_(root, "collections/logs/docs/lock", "{\"a\":1}");
    rc |= mkdir_p(pth(root, "collections/empty/meta"));
    return rc;
}

/* 1 if the trees are equal (names, kinds, bytes), ignoring in `a` what pack
 * skips when skip_like_pack is set. Reports the first difference. */
static int skip_name(const char *dir, const char *name) {
    size_t n = strlen(name);
    if (n >= 4 && !strcmp(name + n - 4, ".tmp")) return 1;
    const char *slash = strrchr(dir, '/');
    return !strcmp(name, "lock") && slash && !strcmp(slash + 1, "meta");
}

static int names_of(const char *dir, char names[][256], int max, const char *skipdir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (skipdir && skip_name(skipdir, e->d_name)) continue;
        if (n < max) snprintf(names[n], 256, "%s", e->d_name);
        n++;
    }
    closedir(d);
    /* sort */
    for (int i = 1; i < n && i < max; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], 256);
            memcpy(names[j], names[j - 1], 256);
            memcpy(names[j - 1], t, 256);
        }
    return n;
}

static int trees_equal(const char *a, const char *b, int skip_like_pack) {
    static char na[64][256], nb[64][256];
    int ca = names_of(a, na, 64, skip_like_pack ? a : NULL);
    int cb = names_of(b, nb, 64, NULL);
    if (ca > 64 || cb > 64) {
        printf("  trees_equal: more than 64 entries in %s\n", a);
        return 0;
    }
    if (ca != cb || ca < 0) {
        printf("  tree diff: %s has %d entries, %s has %d\n", a, ca, b, cb);
        return 0;
    }
    char la[64][256], lb[64][256];
    memcpy(la, na, sizeof la);
    memcpy(lb, nb, sizeof lb);
    for (int i = 0; i < ca; i++) {
        if (strcmp(la[i], lb[i])) {
            printf("  tree diff: %s vs %s\n", pth(a, la[i]), pth(b, lb[i]));
            return 0;
        }
        char pa[4200], pb[4200];
        snprintf(pa, sizeof pa, "%s/%s", a, la[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, lb[i]);
        struct stat sa, sb;
        if (lstat(pa, &sa) || lstat(pb, &sb)) return 0;
        if (S_ISDIR(sa.st_mode) != S_ISDIR(sb.st_mode) || !(S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode))) {
            printf("  kind differs: %s\n", pb);
            return 0;
        }
        if (S_ISDIR(sa.st_mode)) {
            if ((sb.st_mode & 0777) != 0755) {
                printf("  mode %o: %s\n", sb.st_mode & 0777, pb);
                return 0;
            }
            if (!trees_equal(pa, pb, skip_like_pack)) return 0;
            continue;
        }
        size_t xa = 0, xb = 0;
        char *da = t_read_file(pa, &xa), *db = t_read_file(pb, &xb);
        int same = da && db && xa == xb && memcmp(da, db, xa) == 0;
        free(da);
        free(db);
        if (!same) {
            printf("  content differs: %s\n", pb);
            return 0;
        }
        if ((sb.st_mode & 0777) != 0644) {
            printf("  mode %o: %s\n", sb.st_mode & 0777, pb);
            return 0;
        }
    }
    return 1;
}

/* Number of entries in dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && strcmp(e->d_name, ".") &&
            strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int count_all(const char *dir) { return count_prefix(dir, ""); }

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int have_tool(const char *t) { return sh("command -v %s >/dev/null 2>&1", t) == 0; }

/* ---- building hostile archives with libzip ---- */

typedef struct zent {
    const char *name;
    const char *data; /* NULL: empty */
    size_t len;       /* 0: strlen(data) */
    unsigned mode;    /* 0: libzip default; else Unix mode (with type) */
    int method;       /* -2: default (store); else ZIP_CM_* */
} zent;

static int build_zip(const char *path, const zent *e, int n) {
    int err = 0;
    unlink(path);
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_EXCL, &err);
    if (!za) return -1;
    for (int i = 0; i < n; i++) {
        size_t len = e[i].len ? e[i].len : e[i].data ? strlen(e[i].data) : 0;
        zip_source_t *src = zip_source_buffer(za, e[i].data ? e[i].data : "", len, 0);
        zip_int64_t idx = src ? zip_file_add(za, e[i].name, src, 0) : -1;
        if (idx < 0) {
            printf("  zip_file_add(%s): %s\n", e[i].name, zip_strerror(za));
            zip_source_free(src);
            zip_discard(za);
            return -1;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx,
                                 e[i].method == -2 || e[i].method == 0 ? ZIP_CM_STORE
                                                                       : e[i].method,
                                 0);
        if (e[i].mode)
            zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                             (zip_uint32_t)e[i].mode << 16);
    }
    return zip_close(za) == 0 ? 0 : (zip_discard(za), -1);
}

/* Replaces every occurrence of `from` by `to` (same length) in the file. */
static int patch_bytes(const char *path, const void *from, const void *to, size_t n) {
    size_t len;
    char *d = t_read_file(path, &len);
    if (!d) return -1;
    int hits = 0;
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(d + i, from, n)) {
            memcpy(d + i, to, n);
            hits++;
        }
    int rc = hits ? t_write_file(path, d, len) : -1;
    free(d);
    return rc;
}

static void put_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Rewrites the declared uncompressed size of entry `name` in both its local
 * header and its central-directory record. */
static int patch_size(const char *path, const char *name, uint32_t size) {
    size_t len, nl = strlen(name);
    unsigned char *d = (unsigned char *)t_read_file(path, &len);
    if (!d) return -1;
    int hits = 0;
    for (size_t i = 46; i + nl <= len; i++) {
        if (memcmp(d + i, name, nl)) continue;
        if (!memcmp(d + i - 30, "PK\3\4", 4) && d[i - 30 + 26] == nl) {
            put_le32(d + i - 30 + 22, size);
            hits++;
        }
        if (!memcmp(d + i - 46, "PK\1\2", 4) && d[i - 46 + 28] == nl) {
            put_le32(d + i - 46 + 24, size);
            hits++;
        }
    }
    int rc = hits == 2 ? t_write_file(path, d, len) : -1;
    free(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */
/* ------------------------------------------------------------------ */

typedef struct prog_rec {
    int calls, monotonic;
    uint64_t last, total;
} prog_rec;

static void on_progress(void *ctx, uint64_t done, uint64_t total) {
    prog_rec *r = ctx;
    if (r->calls && (done < r->last || total != r->total)) r->monotonic = 0;
    if (done > total) r->monotonic = 0;
    r->calls++;
    r->last = done;
    r->total = total;
}

static const char *k_entries[] = {
    "collections/",
    "collections/empty/",
    "collections/empty/meta/",
    "collections/logs/",
    "collections/logs/docs/",
    "collections/logs/docs/lock",
    "collections/logs/meta/",
    "collections/logs/meta/data.jsonl",
    "collections/users/",
    "collections/users/docs/",
    "collections/users/docs/alice.json",
    "collections/users/docs/b:ob@x.json",
    "collections/users/docs/empty.json",
    "collections/users/meta/",
    "collections/users/meta/data.jsonl",
    "collections/users/meta/index.bin",
    "collections/users/meta/manifest.json",
    "zds.json",
};
#define N_ENTRIES ((int)(sizeof k_entries / sizeof *k_entries))

static void round_trip(unsigned flags) {
    char *w = fresh(flags ? "rt_deflate" : "rt_store");
    char *store = pth(w, "store"), *zip = pth(w, "out.zds"), *dest = pth(w, "copy");
    CHECK(make_store(store) == 0);
    prog_rec pr = {0, 1, 0, 0};
    int rc = zippy_pack(store, zip, flags, on_progress, &pr);
    CHECKF(rc == 0, "pack: %d %s", rc, zippy_errmsg());
    CHECK(exists(zip));
    CHECK(count_prefix(w, "out.zds.tmp") == 0);
    CHECK(pr.calls >= 2 && pr.monotonic);
    CHECK(pr.last == pr.total && pr.total > g_big_len);

    /* A standard ZIP: Info-ZIP tests and lists it. */
    CHECK(sh("unzip -t -q '%s' >/dev/null", zip) == 0);
    CHECK(sh("unzip -l '%s' | grep -q 'collections/users/meta/data.jsonl'", zip) == 0);
    CHECK(sh("unzip -l '%s' | grep -q 'meta/lock'", zip) != 0);

    /* Entries, order and methods as libzip reads them. */
    int err = 0;
    zip_t *za = zip_open(zip, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    CHECK(za);
    CHECK_EQ(zip_get_num_entries(za, 0), N_ENTRIES);
    int ok = 1;
    for (int i = 0; i < N_ENTRIES && ok; i++) {
        zip_stat_t st;
        zip_stat_index(za, (zip_uint64_t)i, 0, &st);
        int is_dir = k_entries[i][strlen(k_entries[i]) - 1] == '/';
        if (strcmp(st.name, k_entries[i])) {
            printf("  entry %d: %s != %s\n", i, st.name, k_entries[i]);
            ok = 0;
        }
        int want = (flags & ZIPPY_PACK_DEFLATE) && !is_dir ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
        if (st.comp_method != want) {
            printf("  entry %s: method %d\n", st.name, st.comp_method);
            ok = 0;
        }
        zip_uint8_t os = 0;
        zip_uint32_t attr = 0;
        zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &os, &attr);
        if (os != ZIP_OPSYS_UNIX || (attr >> 16) != (is_dir ? (S_IFDIR | 0755u) : (S_IFREG | 0644u))) {
            printf("  entry %s: attr %o\n", st.name, attr >> 16);
            ok = 0;
        }
    }
    zip_close(za);
    CHECK(ok);

    /* Info-ZIP extracts it to the same tree. */
    char *ux = pth(w, "unzipped");
    CHECK(sh("unzip -q '%s' -d '%s'", zip, ux) == 0);
    CHECK(trees_equal(store, ux, 1));

    /* And so do we, byte for byte, with progress up to the total. */
    prog_rec pu = {0, 1, 0, 0};
    rc = zippy_unpack(zip, dest, on_progress, &pu);
    CHECKF(rc == 0, "unpack: %d %s", rc, zippy_errmsg());
    CHECK(trees_equal(store, dest, 1));
    CHECK(!exists(pth(dest, "collections/users/meta/lock")));
    CHECK(!exists(pth(dest, "collections/users/meta/data.jsonl.tmp")));
    CHECK(exists(pth(dest, "collections/logs/docs/lock")));
    CHECK(count_prefix(w, "copy.tmp") == 0);
    CHECK(pu.calls >= 2 && pu.monotonic && pu.last == pu.total && pu.total == pr.total);
    t_rm_rf(w);
}

TEST(pack_store_round_trip) { round_trip(0); }
TEST(pack_deflate_round_trip) { round_trip(ZIPPY_PACK_DEFLATE); }

TEST(pack_keeps_mtime) {
    char *w = fresh("mtime");
    char *store = pth(w, "s"), *zip = pth(w, "m.zip");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    struct timespec ts[2] = {{1600000000, 0}, {1600000000, 0}};
    CHECK(utimensat(AT_FDCWD, pth(store, "zds.json"), ts, 0) == 0);
    CHECK(zippy_pack(store, zip, 0, NULL, NULL) == 0);
    int err = 0;
    zip_t *za = zip_open(zip, ZIP_RDONLY, &err);
    CHECK(za);
    zip_stat_t st;
    CHECK(zip_stat(za, "zds.json", 0, &st) == 0);
    zip_close(za);
    long long d = (long long)st.mtime - 1600000000LL;
    CHECKF(d >= -2 && d <= 2, "mtime off by %lld", d);
    t_rm_rf(w);
}

TEST(pack_refusals) {
    char *w = fresh("pack_ref");
    char *store = pth(w, "store"), *zip = pth(w, "x.zip");
    CHECK(puts_(store, "zds.json", "{}") == 0);

    /* Existing target (even an empty file) is never replaced. */
    CHECK(t_write_file(zip, "keep", 4) == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_EEXISTS);
    CHECK(strstr(zippy_errmsg(), zip));
    size_t n;
    char *d = t_read_file(zip, &n);
    CHECK(d && n == 4 && !memcmp(d, "keep", 4));
    free(d);
    unlink(zip);

    /* Not a store / missing / a file / bad arguments. */
    char *plain = pth(w, "plain");
    CHECK(puts_(plain, "readme.txt", "hi") == 0);
    CHECK_EQ(zippy_pack(plain, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), plain));
    CHECK_EQ(zippy_pack(pth(w, "missing"), zip, 0, NULL, NULL), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "missing"));
    CHECK_EQ(zippy_pack(pth(plain, "readme.txt"), zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_pack(store, zip, 0x80, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_pack(NULL, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_pack(store, "", 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_pack(store, pth(w, "nodir/x.zip"), 0, NULL, NULL), ZIPPY_ENOTFOUND);

    /* The archive may not be written inside the store itself. */
    CHECK_EQ(zippy_pack(store, pth(store, "self.zip"), 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK(!exists(pth(store, "self.zip")));

    /* Symlinks inside the store are refused, not followed. */
    CHECK(puts_(w, "secret", "outside") == 0);
    CHECK(symlink(pth(w, "secret"), pth(store, "link.json")) == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "link.json") && strstr(zippy_errmsg(), "symbolic link"));
    unlink(pth(store, "link.json"));
    CHECK(mkdir_p(pth(store, "collections")) == 0);
    CHECK(symlink("/etc", pth(store, "collections/etc")) == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    unlink(pth(store, "collections/etc"));

    /* A FIFO would hang a naive packer. */
    CHECK(mkfifo(pth(store, "fifo"), 0644) == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "special file"));
    unlink(pth(store, "fifo"));

    /* A name unpack would refuse is refused by pack too. */
    CHECK(puts_(store, "collections/a\\b", "x") == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "backslash"));
    unlink(pth(store, "collections/a\\b"));

    CHECK(!exists(zip));
    CHECK(count_prefix(w, "x.zip") == 0);
    CHECK_EQ(zippy_pack(store, zip, 0, NULL, NULL), ZIPPY_OK);
    CHECK(exists(zip));
    t_rm_rf(w);
}

TEST(pack_unreadable_file_names_it) {
    char *w = fresh("unreadable");
    char *store = pth(w, "s"), *zip = pth(w, "u.zip");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    CHECK(puts_(store, "collections/c/meta/data.jsonl", "{}") == 0);
    int rc;
    if (geteuid() != 0) {
        chmod(pth(store, "collections/c/meta/data.jsonl"), 0);
        rc = zippy_pack(store, zip, 0, NULL, NULL);
    } else { /* root reads anything: make the first read fail instead */
        zos_fault_set(ZOS_OP_READ, 1, EIO, 0);
        rc = zippy_pack(store, zip, 0, NULL, NULL);
        zos_fault_clear();
    }
    CHECKF(rc != 0 && strstr(zippy_errmsg(), "collections/c/meta/data.jsonl"), "%d %s", rc,
           zippy_errmsg());
    CHECK(count_all(w) == 1);
    t_rm_rf(w);
}

TEST(pack_flushes_open_writers) {
    /* Writes through a handle of this process that is still open reach the
     * archive, and the unpacked copy opens as a store with them. */
    char *w = fresh("live");
    char *store = pth(w, "s"), *zip = pth(w, "live.zds"), *dest = pth(w, "copy");
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.sync = ZIPPY_SYNC_NONE;
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    CHECKF(zippy_root_open(&root, store, &o) == 0, "%s", zippy_errmsg());
    CHECKF(zippy_coll_open(&c, root, "people", &o) == 0, "%s", zippy_errmsg());
    char id[32], doc[64];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "p%03d", i);
        snprintf(doc, sizeof doc, "{\"n\":%d}", i);
        CHECK(zippy_put(c, id, strlen(id), doc, strlen(doc)) == 0);
    }
    int rc = zippy_pack(store, zip, ZIPPY_PACK_DEFLATE, NULL, NULL);
    CHECKF(rc == 0, "%s", zippy_errmsg());
    CHECK(zippy_coll_close(c) == 0);
    zippy_root_close(root);
    CHECK(sh("unzip -l '%s' | grep -q 'collections/people/meta/lock'", zip) != 0);
    CHECKF(zippy_unpack(zip, dest, NULL, NULL) == 0, "%s", zippy_errmsg());
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    CHECKF(zippy_root_open(&root, dest, &ro) == 0, "%s", zippy_errmsg());
    CHECKF(zippy_coll_open(&c, root, "people", &ro) == 0, "%s", zippy_errmsg());
    uint64_t count = 0;
    CHECK(zippy_count(c, &count) == 0);
    CHECK_EQ(count, 200);
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK(zippy_get(c, "p123", 4, 0, &b) == 0);
    CHECK_MEM(b.ptr, b.len, "{\"n\":123}");
    zippy_buf_free(&b);
    zippy_coll_close(c);
    zippy_root_close(root);
    t_rm_rf(w);
}

TEST(unpack_refusals) {
    char *w = fresh("unpack_ref");
    char *store = pth(w, "s"), *zip = pth(w, "a.zip"), *dest = pth(w, "d");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    CHECK(zippy_pack(store, zip, 0, NULL, NULL) == 0);

    /* An existing destination is never written into: dir, file, symlink. */
    CHECK(mkdir(dest, 0755) == 0);
    CHECK_EQ(zippy_unpack(zip, dest, NULL, NULL), ZIPPY_EEXISTS);
    CHECK(strstr(zippy_errmsg(), dest));
    CHECK(count_all(dest) == 0);
    rmdir(dest);
    CHECK(symlink(pth(w, "nowhere"), dest) == 0);
    CHECK_EQ(zippy_unpack(zip, dest, NULL, NULL), ZIPPY_EEXISTS);
    CHECK(!exists(pth(w, "nowhere")));
    unlink(dest);

    CHECK_EQ(zippy_unpack(pth(w, "none.zip"), dest, NULL, NULL), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "none.zip"));
    CHECK_EQ(zippy_unpack(zip, pth(w, "no/such/dir"), NULL, NULL), ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_unpack(w, dest, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_unpack(NULL, dest, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_unpack(zip, "", NULL, NULL), ZIPPY_EINVAL);

    /* A trailing slash on the destination is the same destination. */
    char slashed[4200];
    snprintf(slashed, sizeof slashed, "%s/", dest);
    CHECK_EQ(zippy_unpack(zip, slashed, NULL, NULL), ZIPPY_OK);
    CHECK(exists(pth(dest, "zds.json")));
    CHECK(count_prefix(w, "d.tmp") == 0);
    t_rm_rf(w);
}

/* ---- hostile archives ---- */

typedef struct hostile {
    const char *label;
    zent e[4];
    int n;
    int want;           /* expected code */
    const char *in_msg; /* substring of the message, or NULL */
} hostile;

#define ZDS {"zds.json", "{}", 0, 0, -2}

static const hostile k_hostile[] = {
    {"dotdot", {ZDS, {"../evil", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "../evil"},
    {"absolute", {ZDS, {"/tmp/abs-zippy", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "absolute"},
    {"inner dotdot", {ZDS, {"a/../../x", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "a/../../x"},
    {"dotdot dir", {ZDS, {"../", NULL, 0, 0, -2}}, 2, ZIPPY_EINVAL, "'..'"},
    {"dot", {ZDS, {"./a", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "'.'"},
    {"backslash", {ZDS, {"a\\b", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "backslash"},
    {"backslash dotdot", {ZDS, {"..\\..\\evil", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, NULL},
    {"empty segment", {ZDS, {"a//b", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "empty path segment"},
    {"drive letter", {ZDS, {"C:/evil", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "drive"},
    {"control char", {ZDS, {"a\nb", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL, "control"},
    {"symlink", {ZDS, {"collections/link", "/etc/passwd", 0, S_IFLNK | 0777, -2}}, 2,
     ZIPPY_EINVAL, "symbolic link"},
    {"symlink dir", {ZDS, {"collections/", NULL, 0, S_IFLNK | 0777, -2}}, 2,
     ZIPPY_EINVAL, "symbolic link"},
    {"fifo", {ZDS, {"collections/fifo", NULL, 0, S_IFIFO | 0644, -2}}, 2, ZIPPY_EINVAL,
     "special"},
    {"device", {ZDS, {"collections/dev", NULL, 0, S_IFCHR | 0644, -2}}, 2, ZIPPY_EINVAL,
     "special"},
    {"dir mode on file", {ZDS, {"collections", NULL, 0, S_IFDIR | 0755, -2}}, 2,
     ZIPPY_EINVAL, NULL},
    {"dir with data", {ZDS, {"collections/", "data", 0, 0, -2}}, 2, ZIPPY_EINVAL,
     "directory entry with data"},
    {"file and dir", {ZDS, {"collections", "x", 0, 0, -2}, {"collections/", NULL, 0, 0, -2}},
     3, ZIPPY_EINVAL, "both a file and a directory"},
    {"file as prefix", {ZDS, {"zds.json/x", "x", 0, 0, -2}}, 2, ZIPPY_EINVAL,
     "under a name that is a file"},
    {"file as prefix deep",
     {ZDS, {"collections/a", "x", 0, 0, -2}, {"collections/a-b", "x", 0, 0, -2},
      {"collections/a/c", "x", 0, 0, -2}},
     4, ZIPPY_EINVAL, "under a name that is a file"},
    {"not a store", {{"readme.txt", "hello", 0, 0, -2}}, 1, ZIPPY_EINVAL, "not a zippy store"},
};

/* Work dir layout for hostile cases: W/in.zip, W/sub/ (empty) and the
 * destination W/sub/out; afterwards W and W/sub must be as before. */
static int hostile_run(const char *w, const char *zip, int want, const char *in_msg,
                       const char *label) {
    char *sub = pth(w, "sub"), *dest = pth(sub, "out");
    int rc = zippy_unpack(zip, dest, NULL, NULL);
    if (rc != want) {
        printf("  %s: got %d (%s), want %d\n", label, rc, zippy_errmsg(), want);
        return 0;
    }
    if (in_msg && !strstr(zippy_errmsg(), in_msg)) {
        printf("  %s: message \"%s\" lacks \"%s\"\n", label, zippy_errmsg(), in_msg);
        return 0;
    }
    if (!strstr(zippy_errmsg(), zip)) {
        printf("  %s: message \"%s\" does not name the archive\n", label, zippy_errmsg());
        return 0;
    }
    if (count_all(sub) != 0 || count_all(w) != 2 || exists("/tmp/abs-zippy")) {
        printf("  %s: something was written (sub %d, w %d)\n", label, count_all(sub),
               count_all(w));
        return 0;
    }
    return 1;
}

TEST(unpack_hostile_names_and_types) {
    char *w = fresh("hostile");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    for (size_t i = 0; i < sizeof k_hostile / sizeof *k_hostile; i++) {
        const hostile *h = &k_hostile[i];
        CHECKF(build_zip(zip, h->e, h->n) == 0, "%s", h->label);
        CHECK(hostile_run(w, zip, h->want, h->in_msg, h->label));
    }
    t_rm_rf(w);
}

TEST(unpack_hostile_duplicates) {
    char *w = fresh("dups");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    /* libzip refuses to write duplicates, so rename one afterwards. */
    zent e[] = {ZDS, {"collections/aa", "1", 0, 0, -2}, {"collections/ab", "2", 0, 0, -2}};
    CHECK(build_zip(zip, e, 3) == 0);
    CHECK(patch_bytes(zip, "collections/ab", "collections/aa", 14) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "duplicate", "duplicate files"));
    zent e2[] = {ZDS, {"collections/", NULL, 0, 0, -2}, {"collectionsX", NULL, 0, 0, -2}};
    CHECK(build_zip(zip, e2, 3) == 0);
    CHECK(patch_bytes(zip, "collectionsX", "collections/", 12) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "duplicate", "duplicate dirs"));
    /* A NUL inside a name: libzip turns it into a space or we refuse it;
     * either way nothing lands outside and no file is named "a". */
    zent e3[] = {ZDS, {"collections/aXb", "1", 0, 0, -2}};
    CHECK(build_zip(zip, e3, 2) == 0);
    CHECK(patch_bytes(zip, "collections/aXb", "collections/a\0b", 15) == 0);
    char *dest = pth(pth(w, "sub"), "out");
    int rc = zippy_unpack(zip, dest, NULL, NULL);
    if (rc == 0) {
        CHECK(!exists(pth(dest, "collections/a")));
        CHECK(count_all(pth(dest, "collections")) == 1);
        t_rm_rf(dest);
    }
    CHECK(count_all(pth(w, "sub")) == 0 && count_all(w) == 2);
    t_rm_rf(w);
}

TEST(unpack_hostile_limits) {
    char *w = fresh("limits");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    char seg[300], lng[4200];
    memset(seg, 'a', 256);
    seg[256] = 0;
    char name[400];
    snprintf(name, sizeof name, "collections/%s", seg);
    zent e[] = {ZDS, {name, "x", 0, 0, -2}};
    CHECK(build_zip(zip, e, 2) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "255", "long segment"));
    size_t k = 0;
    while (k < 4100) {
        memcpy(lng + k, "abcdefghi/", 10);
        k += 10;
    }
    memcpy(lng + k, "z", 2);
    zent e2[] = {ZDS, {lng, "x", 0, 0, -2}};
    CHECK(build_zip(zip, e2, 2) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "4096", "long name"));
    t_rm_rf(w);
}

TEST(unpack_zip_bomb) {
    char *w = fresh("bomb");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    size_t n = 20u << 20;
    char *zeros = calloc(1, n);
    CHECK(zeros);
    zent e[] = {ZDS, {"collections/c/meta/data.jsonl", zeros, n, 0, ZIP_CM_DEFLATE}};
    int rc = build_zip(zip, e, 2);
    free(zeros);
    CHECK(rc == 0);
    struct stat st;
    CHECK(stat(zip, &st) == 0 && st.st_size < (off_t)(n / 100));
    CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "zip bomb", "bomb"));
    t_rm_rf(w);
}

TEST(unpack_lying_sizes) {
    char *w = fresh("sizes");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    char text[5000];
    for (int i = 0; i < 4999; i++) text[i] = (char)('a' + (i * 7 % 26));
    text[4999] = 0;
    /* Deflated data that yields more than declared, then less. */
    zent e[] = {ZDS, {"collections/c/meta/data.jsonl", text, 0, 0, ZIP_CM_DEFLATE}};
    CHECK(build_zip(zip, e, 2) == 0);
    CHECK(patch_size(zip, "collections/c/meta/data.jsonl", 4000) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_ECORRUPT, "data.jsonl", "more than declared"));
    CHECK(build_zip(zip, e, 2) == 0);
    CHECK(patch_size(zip, "collections/c/meta/data.jsonl", 6000) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_ECORRUPT, "data.jsonl", "less than declared"));
    /* A stored entry whose two sizes disagree. */
    zent e2[] = {ZDS, {"collections/c/meta/data.jsonl", text, 0, 0, ZIP_CM_STORE}};
    CHECK(build_zip(zip, e2, 2) == 0);
    CHECK(patch_size(zip, "collections/c/meta/data.jsonl", 4000) == 0);
    CHECK(hostile_run(w, zip, ZIPPY_ECORRUPT, "data.jsonl", "stored sizes"));
    t_rm_rf(w);
}

TEST(unpack_encrypted_and_unsupported) {
    char *w = fresh("enc");
    char *zip = pth(w, "in.zip");
    CHECK(mkdir_p(pth(w, "sub")) == 0);
    zip_uint16_t em = zip_encryption_method_supported(ZIP_EM_AES_256, 1) ? ZIP_EM_AES_256
                    : zip_encryption_method_supported(ZIP_EM_TRAD_PKWARE, 1) ? ZIP_EM_TRAD_PKWARE
                                                                             : 0;
    if (em) {
        int err = 0;
        unlink(zip);
        zip_t *za = zip_open(zip, ZIP_CREATE, &err);
        CHECK(za);
        zip_file_add(za, "zds.json", zip_source_buffer(za, "{}", 2, 0), 0);
        zip_int64_t i = zip_file_add(za, "collections/x", zip_source_buffer(za, "secret", 6, 0), 0);
        CHECK(i >= 0 && zip_file_set_encryption(za, (zip_uint64_t)i, em, "pw") == 0);
        CHECK(zip_close(za) == 0);
        CHECK(hostile_run(w, zip, ZIPPY_EINVAL, "encrypted", "encrypted"));
    } else {
        printf("  (libzip cannot encrypt here: skipped encrypted case)\n");
    }
    if (zip_compression_method_supported(ZIP_CM_BZIP2, 1)) {
        zent e[] = {ZDS, {"collections/x", "hello hello hello", 0, 0, ZIP_CM_BZIP2}};
        CHECK(build_zip(zip, e, 2) == 0);
        CHECK(hostile_run(w, zip, ZIPPY_EUNSUPPORTED, "compression method", "bzip2"));
    }
    t_rm_rf(w);
}

TEST(unpack_corrupt_archives) {
    char *w = fresh("corrupt");
    char *store = pth(w, "store"), *good = pth(w, "good.zip"), *zip = pth(w, "in.zip");
    CHECK(puts_(store, "zds.json", "{\"name\":\"corrupt-me\"}") == 0);
    CHECK(puts_(store, "collections/c/meta/data.jsonl",
                "{\"_id\":\"1\",\"text\":\"THE-MARKER-TEXT\"}\n") == 0);
    CHECK(zippy_pack(store, good, 0, NULL, NULL) == 0);
    /* Work dir must hold only in.zip and sub/ for hostile_run. */
    char *w2 = fresh("corrupt2");
    zip = pth(w2, "in.zip");
    CHECK(mkdir_p(pth(w2, "sub")) == 0);

    /* A bit flipped in stored data: the CRC check must catch it. */
    size_t n;
    char *d = t_read_file(good, &n);
    CHECK(d);
    char *m = memmem(d, n, "THE-MARKER-TEXT", 15);
    CHECK(m);
    m[4] ^= 0x01;
    CHECK(t_write_file(zip, d, n) == 0);
    m[4] ^= 0x01;
    CHECK(hostile_run(w2, zip, ZIPPY_ECORRUPT, "data.jsonl", "crc"));
    CHECK(strstr(zippy_errmsg(), "CRC") || strstr(zippy_errmsg(), "checksum"));

    /* Truncated at several points. */
    size_t cuts[] = {n / 2, n - 1, n - 22, 30, 4, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        CHECK(t_write_file(zip, d, cuts[i]) == 0);
        char *sub = pth(w2, "sub");
        int rc = zippy_unpack(zip, pth(sub, "out"), NULL, NULL);
        CHECKF(rc == ZIPPY_EINVAL || rc == ZIPPY_ECORRUPT, "cut %zu: %d %s", cuts[i], rc,
               zippy_errmsg());
        CHECK(count_all(sub) == 0 && count_all(w2) == 2);
    }

    /* Random bytes; random bytes with a plausible end record. */
    unsigned char rnd[4096];
    unsigned x = 99;
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)((x = x * 1664525u + 1013904223u) >> 24);
    CHECK(t_write_file(zip, rnd, sizeof rnd) == 0);
    CHECK(hostile_run(w2, zip, ZIPPY_EINVAL, "zip archive", "random"));
    memcpy(rnd + sizeof rnd - 22, "PK\5\6", 4);
    CHECK(t_write_file(zip, rnd, sizeof rnd) == 0);
    int rc = zippy_unpack(zip, pth(pth(w2, "sub"), "out"), NULL, NULL);
    CHECKF(rc == ZIPPY_EINVAL || rc == ZIPPY_ECORRUPT || rc == ZIPPY_EUNSUPPORTED, "%d %s",
           rc, zippy_errmsg());
    CHECK(count_all(pth(w2, "sub")) == 0 && count_all(w2) == 2);
    free(d);
    t_rm_rf(w);
    t_rm_rf(w2);
}

TEST(unpack_info_zip_archive) {
    /* Archives made by other tools (here Info-ZIP, with its extra fields,
     * forced ZIP64 records and data descriptors) unpack too. */
    if (!have_tool("zip")) {
        printf("  (zip not installed: skipped)\n");
        return;
    }
    char *w = fresh("infozip");
    char *store = pth(w, "s"), *zip = pth(w, "z64.zip"), *dest = pth(w, "d");
    CHECK(make_store(store) == 0);
    CHECK(sh("cd '%s' && zip -q -r -fz -X ../z64.zip zds.json collections", store) == 0);
    int rc = zippy_unpack(zip, dest, NULL, NULL);
    CHECKF(rc == 0, "%d %s", rc, zippy_errmsg());
    CHECK(trees_equal(store, dest, 0));
    /* Streamed input (data descriptor, unknown sizes up front). */
    char *z2 = pth(w, "stream.zip"), *d2 = pth(w, "d2");
    CHECK(sh("cd '%s' && zip -q -r -X - zds.json collections | cat > ../stream.zip", store) == 0);
    rc = zippy_unpack(z2, d2, NULL, NULL);
    CHECKF(rc == 0, "%d %s", rc, zippy_errmsg());
    CHECK(trees_equal(store, d2, 0));
    t_rm_rf(w);
}

TEST(pack_many_entries_uses_zip64) {
    /* More than 65535 entries needs the ZIP64 end records; libzip writes
     * them on its own as long as nothing stops it (our sources report true
     * sizes, so the same holds for >4 GiB files). Creating 65k files is
     * slow on a real disk, so this runs on tmpfs only, and not under
     * ZIPPY_QUICK (valgrind / sanitizers). */
    char tmpl[] = "/dev/shm/zippy-zip64-XXXXXX";
    if (getenv("ZIPPY_QUICK") || !mkdtemp(tmpl)) {
        printf("  (skipped: ZIPPY_QUICK set or no /dev/shm)\n");
        return;
    }
    char *w = pth(tmpl, ".");
    char *store = pth(w, "s"), *zip = pth(w, "many.zip");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    char dir[4200];
    int files = 0;
    for (int d = 0; d < 65; d++) {
        snprintf(dir, sizeof dir, "%s/collections/c/docs/%02d", store, d);
        CHECK(mkdir_p(dir) == 0);
        for (int f = 0; f < 1008; f++, files++) {
            char p[4300];
            snprintf(p, sizeof p, "%s/%d.json", dir, f);
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            CHECK(fd >= 0);
            close(fd);
        }
    }
    CHECK(zippy_pack(store, zip, 0, NULL, NULL) == 0);
    size_t n;
    char *d = t_read_file(zip, &n);
    CHECK(d);
    /* ZIP64 end of central directory record + locator near the end. */
    int has64 = memmem(d + (n > 4096 ? n - 4096 : 0), n > 4096 ? 4096 : n, "PK\6\6", 4) &&
                memmem(d + (n > 4096 ? n - 4096 : 0), n > 4096 ? 4096 : n, "PK\6\7", 4);
    free(d);
    CHECK(has64);
    int err = 0;
    zip_t *za = zip_open(zip, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    CHECK(za);
    CHECK(zip_get_num_entries(za, 0) > 65535);
    zip_close(za);
    CHECK(sh("unzip -t -q '%s' >/dev/null", zip) == 0);
    t_rm_rf(tmpl);
}

/* ---- fault injection ---- */

typedef struct fault_case {
    zos_op op;
    int err;
} fault_case;

static const char *op_name(zos_op op) {
    static const char *n[] = {"OPEN", "WRITE", "READ", "FSYNC", "RENAME",
                              "UNLINK", "MKDIR", "TRUNCATE", "MMAP"};
    return n[op];
}

TEST(unpack_fault_injection) {
    char *w = fresh("ufault");
    char *store = pth(w, "s"), *zip = pth(w, "f.zip"), *dest = pth(w, "d");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    CHECK(puts_(store, "collections/a/meta/data.jsonl", "{\"_id\":\"1\"}\n") == 0);
    CHECK(puts_(store, "collections/a/meta/manifest.json", "{}") == 0);
    CHECK(puts_(store, "collections/b/docs/x.json", "{}") == 0);
    CHECK(zippy_pack(store, zip, ZIPPY_PACK_DEFLATE, NULL, NULL) == 0);
    fault_case cases[] = {{ZOS_OP_WRITE, ENOSPC}, {ZOS_OP_WRITE, EIO}, {ZOS_OP_FSYNC, EIO},
                          {ZOS_OP_RENAME, EIO},   {ZOS_OP_OPEN, EIO},  {ZOS_OP_MKDIR, ENOSPC},
                          {ZOS_OP_READ, EIO}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zos_op op = cases[c].op;
        int err = cases[c].err;
        int failures = 0, done = 0;
        for (unsigned long nth = 1; nth < 400 && !done; nth++) {
            zos_fault_set(op, nth, err, 0);
            int rc = zippy_unpack(zip, dest, NULL, NULL);
            zos_fault_clear();
            if (rc == 0) {
                CHECKF(trees_equal(store, dest, 1), "%s #%lu", op_name(op), nth);
                t_rm_rf(dest);
                done = 1;
                break;
            }
            failures++;
            CHECKF(rc < 0 && !exists(dest) && count_prefix(w, "d.tmp") == 0,
                   "%s #%lu err %d: rc %d, leftovers", op_name(op), nth, err, rc);
            if (err == ENOSPC && op == ZOS_OP_WRITE)
                CHECKF(rc == ZIPPY_ENOSPC, "rc %d %s", rc, zippy_errmsg());
        }
        CHECKF(done && failures > 0, "%s: done %d failures %d", op_name(op), done,
               failures);
    }
    /* Disk full from the first write on; short writes are retried. */
    zos_fault_set(ZOS_OP_WRITE, 1, ENOSPC, ZOS_FAULT_STICKY);
    int rc = zippy_unpack(zip, dest, NULL, NULL);
    zos_fault_clear();
    CHECK(rc == ZIPPY_ENOSPC && !exists(dest) && count_prefix(w, "d.tmp") == 0);
    for (unsigned long nth = 1; nth < 6; nth++) {
        zos_fault_set(ZOS_OP_WRITE, nth, 0, ZOS_FAULT_SHORT);
        rc = zippy_unpack(zip, dest, NULL, NULL);
        zos_fault_clear();
        CHECK(rc == 0 && trees_equal(store, dest, 1));
        t_rm_rf(dest);
    }
    t_rm_rf(w);
}

TEST(pack_fault_injection) {
    char *w = fresh("pfault");
    char *store = pth(w, "s"), *zip = pth(w, "p.zip");
    CHECK(puts_(store, "zds.json", "{}") == 0);
    CHECK(puts_(store, "collections/a/meta/data.jsonl", "{\"_id\":\"1\"}\n") == 0);
    CHECK(puts_(store, "collections/b/docs/x.json", "{}") == 0);
    fault_case cases[] = {{ZOS_OP_WRITE, ENOSPC}, {ZOS_OP_WRITE, EIO}, {ZOS_OP_FSYNC, EIO},
                          {ZOS_OP_RENAME, EIO},   {ZOS_OP_OPEN, EIO},  {ZOS_OP_READ, EIO}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zos_op op = cases[c].op;
        int err = cases[c].err;
        int failures = 0, done = 0;
        for (unsigned long nth = 1; nth < 400 && !done; nth++) {
            zos_fault_set(op, nth, err, 0);
            int rc = zippy_pack(store, zip, ZIPPY_PACK_DEFLATE, NULL, NULL);
            zos_fault_clear();
            if (rc == 0) {
                CHECK(sh("unzip -t -q '%s' >/dev/null", zip) == 0);
                unlink(zip);
                done = 1;
                break;
            }
            failures++;
            CHECKF(rc < 0 && !exists(zip) && count_prefix(w, "p.zip") == 0,
                   "%s #%lu: rc %d, leftovers", op_name(op), nth, rc);
            if (err == ENOSPC && op == ZOS_OP_WRITE)
                CHECKF(rc == ZIPPY_ENOSPC, "rc %d %s", rc, zippy_errmsg());
        }
        CHECKF(done && failures > 0, "%s: done %d failures %d", op_name(op), done,
               failures);
    }
    CHECK(count_all(w) == 1);
    t_rm_rf(w);
}

int main(void) {
    umask(022);
    g_base = t_tmpdir();
    RUN(pack_store_round_trip);
    RUN(pack_deflate_round_trip);
    RUN(pack_keeps_mtime);
    RUN(pack_refusals);
    RUN(pack_unreadable_file_names_it);
    RUN(pack_flushes_open_writers);
    RUN(unpack_refusals);
    RUN(unpack_hostile_names_and_types);
    RUN(unpack_hostile_duplicates);
    RUN(unpack_hostile_limits);
    RUN(unpack_zip_bomb);
    RUN(unpack_lying_sizes);
    RUN(unpack_encrypted_and_unsupported);
    RUN(unpack_corrupt_archives);
    RUN(unpack_info_zip_archive);
    RUN(pack_many_entries_uses_zip64);
    RUN(unpack_fault_injection);
    RUN(pack_fault_injection);
    t_rm_rf(g_base);
    free(g_base);
    for (size_t i = 0; i < g_npool; i++) free(g_pool[i]);
    TEST_END();
}
