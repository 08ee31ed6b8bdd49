/* test_zipread.c - the in-place ZIP reader (src/zipread.c).
 *
 * Archives come from three places: a tiny ZIP writer in this file (STORE /
 * DEFLATE via zlib, ZIP64, with knobs and byte patches for every hostile
 * case), Info-ZIP and Python's zipfile (via system()), and zippy_pack. The
 * reader must give back every file byte for byte, refuse each hostile rule
 * with a message naming the reason, and fail cleanly under os-layer faults
 * and a failing allocator.
 *
 * `test_zipread --write-corpus DIR` also saves the small archives built
 * here into DIR: fuzz/corpus/fuzz_zipcd/t_* are a selection of them.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include "os.h"
#include "util.h"
#include "zipread.h"
#include "zippy.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static char *g_base;          /* per-process scratch directory */
static const char *g_corpus;  /* --write-corpus DIR, else NULL */

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

static void path2(char *out, size_t cap, const char *a, const char *b) {
    snprintf(out, cap, "%s/%s", a, b);
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

/* Writes root/rel (creating parents). */
static int put_file(const char *root, const char *rel, const void *data, size_t n) {
    char p[4200], dir[4200];
    path2(p, sizeof p, root, rel);
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    if (mkdir_p(dir)) return -1;
    return t_write_file(p, data, n);
}

static void corpus_save(const void *p, size_t n, const char *what) {
    if (!g_corpus || n > 16384) return;
    char name[200], path[4400];
    size_t o = 0;
    for (const char *s = what; *s && o + 1 < sizeof name; s++)
        name[o++] = ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) ? *s : '_';
    name[o] = 0;
    snprintf(path, sizeof path, "%s/t_%s", g_corpus, name);
    if (t_write_file(path, p, n)) fprintf(stderr, "cannot write %s\n", path);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* ---- a tiny ZIP writer ---- */

typedef struct tbuf {
    unsigned char *p;
    size_t len, cap;
} tbuf;

static void tb_put(tbuf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n) c *= 2;
        b->p = realloc(b->p, c);
        if (!b->p) abort();
        b->cap = c;
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void tb_u16(tbuf *b, unsigned v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    tb_put(b, x, 2);
}
static void tb_u32(tbuf *b, uint32_t v) {
    unsigned char x[4];
    z_put_le32(x, v);
    tb_put(b, x, 4);
}
static void tb_u64(tbuf *b, uint64_t v) {
    unsigned char x[8];
    z_put_le64(x, v);
    tb_put(b, x, 8);
}

/* Raw deflate of p[0..n) (malloc'ed). */
static unsigned char *deflate_raw(const void *p, size_t n, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)n) + 16;
    unsigned char *o = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = o;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) abort();
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return o;
}

#define H_DOS 100 /* tent.host: MS-DOS (0) */

typedef struct tent {
    const char *name;
    const char *data;       /* NULL: empty */
    size_t len;             /* with data: 0 means strlen(data) */
    int deflate;            /* method 8 */
    unsigned mode;          /* Unix st_mode; 0: 0100644 (040755 for "x/") */
    unsigned host;          /* 0: Unix (3); H_DOS: MS-DOS; else the value */
    unsigned flags;         /* general purpose flags (central and local) */
    const char *local_name; /* name in the local header; NULL: name */
    size_t name_len;        /* 0: strlen(name) */
    int zip64;              /* sizes and offset through a ZIP64 extra */
    int descriptor;         /* flag bit 3, zero local sizes, descriptor */
    const void *raw;        /* stored bytes as given (data gives usize/CRC) */
    size_t raw_len;
    const void *extra;      /* central extra bytes appended */
    size_t extra_len;
} tent;

typedef struct tzopt {
    int zip64_eocd;      /* ZIP64 end record + locator */
    const char *comment; /* archive comment */
    size_t comment_len;  /* 0: strlen(comment) */
    size_t trailing;     /* junk after the EOCD */
    size_t prefix;       /* junk before the first entry */
} tzopt;

#define TZ_MAX 64
typedef struct tzip {
    tbuf b;
    size_t n, lho[TZ_MAX], data[TZ_MAX], cen[TZ_MAX];
    size_t cd_off, cd_size, eocd, e64, loc64;
} tzip;

/* Central entry field offsets (for patches). */
enum { C_FLAGS = 8, C_METHOD = 10, C_CRC = 16, C_CSIZE = 20, C_USIZE = 24,
       C_NLEN = 28, C_XLEN = 30, C_DISK = 34, C_EXT = 38, C_LHO = 42 };
enum { L_FLAGS = 6, L_METHOD = 8, L_NLEN = 26, L_XLEN = 28 };
enum { E_DISK = 4, E_CDDISK = 6, E_HERE = 8, E_TOTAL = 10, E_SIZE = 12,
       E_OFF = 16, E_CLEN = 20 };

static void tz_p16(tzip *z, size_t off, unsigned v) {
    z->b.p[off] = (unsigned char)v;
    z->b.p[off + 1] = (unsigned char)(v >> 8);
}
static void tz_p32(tzip *z, size_t off, uint32_t v) { z_put_le32(z->b.p + off, v); }
static void tz_p64(tzip *z, size_t off, uint64_t v) { z_put_le64(z->b.p + off, v); }
static void tz_free(tzip *z) {
    free(z->b.p);
    memset(&z->b, 0, sizeof z->b);
}

static void tz_build(tzip *z, const tent *ents, size_t n, const tzopt *o) {
    static const tzopt none;
    uint32_t crc[TZ_MAX];
    uint64_t csz[TZ_MAX], usz[TZ_MAX];
    if (!o) o = &none;
    if (n > TZ_MAX) abort();
    memset(z, 0, sizeof *z);
    z->n = n;
    tbuf *b = &z->b;
    for (size_t k = 0; k < o->prefix; k++) tb_put(b, "J", 1);
    for (size_t i = 0; i < n; i++) {
        const tent *e = &ents[i];
        size_t nl = e->name_len ? e->name_len : strlen(e->name);
        const char *ln = e->local_name ? e->local_name : e->name;
        size_t lnl = e->local_name ? strlen(ln) : nl;
        size_t dl = e->data ? (e->len ? e->len : strlen(e->data)) : 0;
        const unsigned char *stored = (const unsigned char *)(e->data ? e->data : "");
        unsigned char *tmp = NULL;
        size_t sl = dl;
        crc[i] = (uint32_t)crc32(0, stored, (uInt)dl);
        usz[i] = dl;
        if (e->raw) {
            stored = e->raw;
            sl = e->raw_len;
        } else if (e->deflate) {
            stored = tmp = deflate_raw(stored, dl, &sl);
        }
        csz[i] = sl;
        unsigned flags = e->flags | (e->descriptor ? 8u : 0u);
        z->lho[i] = b->len;
        tb_u32(b, 0x04034b50u);
        tb_u16(b, 20);
        tb_u16(b, flags);
        tb_u16(b, e->deflate ? 8 : 0);
        tb_u16(b, 0);
        tb_u16(b, 0x21);
        tb_u32(b, e->descriptor ? 0 : crc[i]);
        tb_u32(b, e->descriptor ? 0 : (uint32_t)sl);
        tb_u32(b, e->descriptor ? 0 : (uint32_t)dl);
        tb_u16(b, (unsigned)lnl);
        tb_u16(b, 0);
        tb_put(b, ln, lnl);
        z->data[i] = b->len;
        tb_put(b, stored, sl);
        if (e->descriptor) {
            tb_u32(b, 0x08074b50u);
            tb_u32(b, crc[i]);
            tb_u32(b, (uint32_t)sl);
            tb_u32(b, (uint32_t)dl);
        }
        free(tmp);
    }
    z->cd_off = b->len;
    for (size_t i = 0; i < n; i++) {
        const tent *e = &ents[i];
        size_t nl = e->name_len ? e->name_len : strlen(e->name);
        int dir = nl && e->name[nl - 1] == '/';
        unsigned host = e->host == 0 ? 3 : e->host == H_DOS ? 0 : e->host;
        unsigned mode = e->mode ? e->mode : dir ? 040755u : 0100644u;
        z->cen[i] = b->len;
        tb_u32(b, 0x02014b50u);
        tb_u16(b, host << 8 | 30);
        tb_u16(b, e->zip64 ? 45 : 20);
        tb_u16(b, e->flags | (e->descriptor ? 8u : 0u));
        tb_u16(b, e->deflate ? 8 : 0);
        tb_u16(b, 0);
        tb_u16(b, 0x21);
        tb_u32(b, crc[i]);
        tb_u32(b, e->zip64 ? 0xffffffffu : (uint32_t)csz[i]);
        tb_u32(b, e->zip64 ? 0xffffffffu : (uint32_t)usz[i]);
        tb_u16(b, (unsigned)nl);
        tb_u16(b, (unsigned)((e->zip64 ? 28 : 0) + e->extra_len));
        tb_u16(b, 0);
        tb_u16(b, 0);
        tb_u16(b, 0);
        tb_u32(b, (host == 3 || host == 19 ? mode << 16 : 0) | (dir ? 0x10u : 0u));
        tb_u32(b, e->zip64 ? 0xffffffffu : (uint32_t)z->lho[i]);
        tb_put(b, e->name, nl);
        if (e->zip64) {
            tb_u16(b, 1);
            tb_u16(b, 24);
            tb_u64(b, usz[i]);
            tb_u64(b, csz[i]);
            tb_u64(b, z->lho[i]);
        }
        tb_put(b, e->extra, e->extra_len);
    }
    z->cd_size = b->len - z->cd_off;
    if (o->zip64_eocd) {
        z->e64 = b->len;
        tb_u32(b, 0x06064b50u);
        tb_u64(b, 44);
        tb_u16(b, 0x31e);
        tb_u16(b, 45);
        tb_u32(b, 0);
        tb_u32(b, 0);
        tb_u64(b, n);
        tb_u64(b, n);
        tb_u64(b, z->cd_size);
        tb_u64(b, z->cd_off);
        z->loc64 = b->len;
        tb_u32(b, 0x07064b50u);
        tb_u32(b, 0);
        tb_u64(b, z->e64);
        tb_u32(b, 1);
    }
    size_t cl = o->comment ? (o->comment_len ? o->comment_len : strlen(o->comment)) : 0;
    z->eocd = b->len;
    tb_u32(b, 0x06054b50u);
    tb_u16(b, 0);
    tb_u16(b, 0);
    tb_u16(b, o->zip64_eocd ? 0xffffu : (unsigned)n);
    tb_u16(b, o->zip64_eocd ? 0xffffu : (unsigned)n);
    tb_u32(b, o->zip64_eocd ? 0xffffffffu : (uint32_t)z->cd_size);
    tb_u32(b, o->zip64_eocd ? 0xffffffffu : (uint32_t)z->cd_off);
    tb_u16(b, (unsigned)cl);
    tb_put(b, o->comment, cl);
    for (size_t k = 0; k < o->trailing; k++) tb_put(b, "T", 1);
}

#define LABEL "t.zds"

/* Opens z's bytes; NULL (message printed) on failure. */
static zr_archive *tz_open(const tzip *z, const char *what) {
    zr_archive *a = NULL;
    corpus_save(z->b.p, z->b.len, what);
    int rc = zr_open_mem(&a, z->b.p, z->b.len, LABEL);
    if (rc) printf("  %s: open failed: %d %s\n", what, rc, zippy_errmsg());
    return a;
}

/* 1 if opening z's bytes fails with `code`, *out left NULL, and a message
 * naming the archive and holding `needle`. */
static int tz_refused(const tzip *z, int code, const char *needle, const char *what) {
    zr_archive *a = (zr_archive *)&a; /* must be reset to NULL */
    corpus_save(z->b.p, z->b.len, what);
    int rc = zr_open_mem(&a, z->b.p, z->b.len, LABEL);
    const char *m = zippy_errmsg();
    int ok = rc == code && !a && zippy_errcode() == code && strstr(m, needle) &&
             strstr(m, "'" LABEL "'");
    if (!ok)
        printf("  %s: rc %d (want %d): \"%s\" (want \"%s\")\n", what, rc, code, m,
               needle);
    if (!rc && a) zr_close(a);
    return ok;
}

/* Builds one entry and expects the refusal. */
static int refuse1(const tent *e, int code, const char *needle, const char *what) {
    tzip z;
    tz_build(&z, e, 1, NULL);
    int ok = tz_refused(&z, code, needle, what);
    tz_free(&z);
    return ok;
}

/* 1 if entry `name` of a holds exactly data[0..n). */
static int entry_is(const zr_archive *a, const char *name, const void *data, size_t n) {
    const zr_entry *e = zr_find(a, name);
    if (!e) {
        printf("  entry '%s' not found\n", name);
        return 0;
    }
    const char *p;
    size_t len;
    void *owned = (void *)&p;
    int rc = zr_entry_bytes(a, e, &p, &len, &owned);
    if (rc) {
        printf("  entry '%s': %s\n", name, zippy_errmsg());
        return 0;
    }
    int ok = len == n && len == e->usize && (n == 0 || !memcmp(p, data, n));
    if (e->method == ZR_STORE) ok = ok && !owned;
    else ok = ok && owned == (void *)p && p[len] == 0;
    if (!ok) printf("  entry '%s': bytes differ (%zu vs %zu)\n", name, len, n);
    z_free(owned);
    return ok;
}

/* 1 if entry e's bytes fail with ZIPPY_ECORRUPT mentioning needle and its name. */
static int bytes_refused(const zr_archive *a, const char *name, const char *needle) {
    const zr_entry *e = zr_find(a, name);
    if (!e) return 0;
    const char *p = (const char *)&p;
    size_t len = 12345;
    void *owned = (void *)&p;
    int rc = zr_entry_bytes(a, e, &p, &len, &owned);
    const char *m = zippy_errmsg();
    int ok = rc == ZIPPY_ECORRUPT && strstr(m, needle) && strstr(m, name) &&
             len == 12345 && owned == (void *)&p;
    if (!ok) printf("  '%s': rc %d \"%s\" (want \"%s\")\n", name, rc, m, needle);
    return ok;
}

/* ---- comparing an archive with a directory ---- */

typedef int (*skip_fn)(const char *dir_name, const char *name);

static int skip_none(const char *d, const char *n) { (void)d; (void)n; return 0; }

/* As archive.c's pack_skip. */
static int skip_pack(const char *d, const char *n) {
    size_t l = strlen(n);
    if (l >= 4 && !strcmp(n + l - 4, ".tmp")) return 1;
    if (!d) return !strcmp(n, ".zds.lock");
    if (strcmp(d, "meta")) return 0;
    return !strcmp(n, "lock") || (l >= 8 && !strcmp(n + l - 8, ".compact"));
}

/* Counts regular files under root/rel that skip() keeps, checking each is
 * an entry of a with the same bytes. -1 on a difference. */
static long walk_compare(const zr_archive *a, const char *root, const char *rel,
                         const char *dir_name, skip_fn skip) {
    char abs[4400];
    if (rel[0]) path2(abs, sizeof abs, root, rel);
    else snprintf(abs, sizeof abs, "%s", root);
    DIR *d = opendir(abs);
    if (!d) return -1;
    long files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (skip(dir_name, de->d_name)) continue;
        char r[4400], p[4400];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        path2(p, sizeof p, root, r);
        struct stat st;
        if (lstat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            long k = walk_compare(a, root, r, de->d_name, skip);
            if (k < 0) {
                files = -1;
                break;
            }
            files += k;
        } else if (S_ISREG(st.st_mode)) {
            size_t n = 0;
            char *data = t_read_file(p, &n);
            int ok = data && entry_is(a, r, data, n);
            free(data);
            if (!ok) {
                files = -1;
                break;
            }
            files++;
        }
    }
    closedir(d);
    return files;
}

/* 1 if a holds exactly the files under root (less skipped ones), each
 * with the same bytes, and its directory entries are directories there. */
static int same_as_dir(const zr_archive *a, const char *root, skip_fn skip) {
    long files = walk_compare(a, root, "", NULL, skip), entries = 0;
    if (files < 0) return 0;
    for (size_t i = 0; i < zr_count(a); i++) {
        const zr_entry *e = zr_entry_at(a, i);
        char p[4400];
        path2(p, sizeof p, root, e->name);
        struct stat st;
        if (lstat(p, &st) || (e->is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
            printf("  entry '%s' is not on disk as such\n", e->name);
            return 0;
        }
        entries += !e->is_dir;
    }
    if (entries != files) printf("  %ld file entries, %ld files\n", entries, files);
    return entries == files;
}

/* A sample tree: nested directories, an empty file and directory, a
 * compressible log and binary bytes. */
static int make_tree(const char *root) {
    int rc = 0;
    rc |= put_file(root, "zds.json", "{\"format\":1}\n", 13);
    rc |= put_file(root, "collections/users/docs/alice.json", "{\"name\":\"alice\"}", 16);
    rc |= put_file(root, "collections/users/docs/b:ob@x.json", "{}", 2);
    rc |= put_file(root, "collections/users/docs/\xc3\xa9t\xc3\xa9.json", "{\"e\":1}", 7);
    rc |= put_file(root, "empty.txt", "", 0);
    size_t n = 0, cap = 300000;
    char *log = malloc(cap);
    for (int i = 0; n + 64 < cap; i++)
        n += (size_t)snprintf(log + n, cap - n, "{\"_id\":\"u%06d\",\"v\":%d}\n", i,
                              (i * 7919) % 1000);
    rc |= put_file(root, "collections/users/meta/data.jsonl", log, n);
    free(log);
    unsigned char bin[5000];
    unsigned x = 7;
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    rc |= put_file(root, "bin/blob.dat", bin, sizeof bin);
    char d[4200];
    path2(d, sizeof d, root, "collections/empty/meta");
    rc |= mkdir_p(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static const char k_log[] =
    "{\"_id\":\"1\",\"name\":\"alice\"}\n{\"_id\":\"2\",\"name\":\"bob\"}\n"
    "{\"_id\":\"3\",\"name\":\"carol\"}\n{\"_id\":\"4\",\"name\":\"alice\"}\n";

static const tent k_basic[] = {
    {.name = "zds.json", .data = "{\"format\":1}"},
    {.name = "collections/"},
    {.name = "collections/users/"},
    {.name = "collections/users/meta/data.jsonl", .data = k_log, .deflate = 1},
    {.name = "collections/users/docs/a.json", .data = "{\"a\":1}"},
    {.name = "collections/users/docs/\xc3\xa9.json", .data = "{\"e\":2}", .deflate = 1},
    {.name = "empty", .data = ""},
    {.name = "emptyd", .data = "", .deflate = 1},
};
#define N_BASIC (sizeof k_basic / sizeof *k_basic)

TEST(read_store_and_deflate) {
    tzip z;
    tz_build(&z, k_basic, N_BASIC, NULL);
    zr_archive *a = tz_open(&z, "basic");
    CHECK(a);
    CHECK_EQ(zr_count(a), N_BASIC);
    CHECK_STR(zr_label(a), LABEL);
    for (size_t i = 0; i < N_BASIC; i++) {
        const zr_entry *e = zr_entry_at(a, i);
        CHECK(e && !strcmp(e->name, k_basic[i].name));
        CHECK_EQ(e->name_len, strlen(e->name));
        CHECK_EQ(zr_entry_index(a, e), i);
        CHECK(zr_find(a, e->name) == e);
        CHECK_EQ(e->method, k_basic[i].deflate ? ZR_DEFLATE : ZR_STORE);
        CHECK_EQ(e->is_dir, e->name[e->name_len - 1] == '/');
        CHECK_EQ(e->data_off, z.data[i]);
        const char *d = k_basic[i].data ? k_basic[i].data : "";
        CHECK(entry_is(a, e->name, d, strlen(d)));
        CHECK_EQ(e->crc32, (uint32_t)crc32(0, (const Bytef *)d, (uInt)strlen(d)));
    }
    CHECK(zr_entry_at(a, N_BASIC) == NULL);
    /* STORE: zero copy into the buffer, CRC checked once, twice is fine. */
    const zr_entry *e = zr_find(a, "zds.json");
    const char *p;
    size_t len;
    void *owned;
    for (int k = 0; k < 2; k++) {
        CHECK(zr_entry_bytes(a, e, &p, &len, &owned) == 0);
        CHECK((const unsigned char *)p == z.b.p + z.data[0] && len == 12 && !owned);
    }
    /* Directory entries: no data. */
    CHECK(zr_entry_bytes(a, zr_find(a, "collections/"), &p, &len, &owned) == 0);
    CHECK(len == 0 && !owned && p && !*p);
    /* Exact names only. */
    CHECK(zr_find(a, "collections") == NULL);
    CHECK(zr_find(a, "zds.json/") == NULL);
    CHECK(zr_find(a, "nope") == NULL);
    CHECK(zr_find(a, "") == NULL);
    CHECK(zr_find(a, NULL) == NULL);
    CHECK(zr_find(a, "collections/users/docs/") == NULL); /* implicit: no entry */
    /* An entry of another archive is refused. */
    zr_entry fake = *e;
    CHECK(zr_entry_bytes(a, &fake, &p, &len, &owned) == ZIPPY_EINVAL);
    zr_close(a);
    zr_close(NULL);
    tz_free(&z);
}

static int strv_is(char **v, size_t n, const char *const *want) {
    size_t k = 0;
    for (; want[k]; k++)
        if (k >= n || !v[k] || strcmp(v[k], want[k])) {
            printf("  child %zu: '%s' (want '%s')\n", k, k < n && v[k] ? v[k] : "(none)",
                   want[k]);
            return 0;
        }
    if (k != n || v[n]) printf("  %zu children, want %zu\n", n, k);
    return k == n && !v[n];
}

TEST(listing_helpers) {
    tzip z;
    tz_build(&z, k_basic, N_BASIC, NULL);
    zr_archive *a = tz_open(&z, "basic");
    CHECK(a);
    char **v;
    size_t n, first;
    static const char *const top[] = {"collections/", "empty", "emptyd", "zds.json", NULL};
    CHECK(zr_list_children(a, "", &v, &n) == 0 && strv_is(v, n, top));
    zippy_strv_free(v);
    CHECK(zr_list_children(a, NULL, &v, NULL) == 0 && strv_is(v, 4, top));
    zippy_strv_free(v);
    static const char *const colls[] = {"users/", NULL};
    CHECK(zr_list_children(a, "collections/", &v, &n) == 0 && strv_is(v, n, colls));
    zippy_strv_free(v);
    static const char *const user[] = {"docs/", "meta/", NULL}; /* implicit dirs */
    CHECK(zr_list_children(a, "collections/users/", &v, &n) == 0 && strv_is(v, n, user));
    zippy_strv_free(v);
    static const char *const docs[] = {"a.json", "\xc3\xa9.json", NULL};
    CHECK(zr_list_children(a, "collections/users/docs/", &v, &n) == 0 &&
          strv_is(v, n, docs));
    zippy_strv_free(v);
    static const char *const none[] = {NULL};
    CHECK(zr_list_children(a, "nope/", &v, &n) == 0 && strv_is(v, n, none));
    zippy_strv_free(v);
    CHECK(zr_list_children(a, "zds.json/", &v, &n) == 0 && strv_is(v, n, none));
    zippy_strv_free(v);
    v = (char **)&v;
    CHECK(zr_list_children(a, "collections", &v, &n) == ZIPPY_EINVAL && v == NULL);
    CHECK(strstr(zippy_errmsg(), "trailing '/'"));

    /* Everything below collections/ (not the directory entry itself). */
    CHECK_EQ(zr_prefix_range(a, "collections/", &first), 4);
    CHECK_STR(zr_sorted_at(a, first)->name, "collections/users/");
    CHECK_STR(zr_sorted_at(a, first + 1)->name, "collections/users/docs/a.json");
    CHECK_STR(zr_sorted_at(a, first + 3)->name, "collections/users/meta/data.jsonl");
    CHECK_EQ(zr_prefix_range(a, "collections/users/docs/", &first), 2);
    CHECK_EQ(zr_prefix_range(a, "", &first), N_BASIC);
    CHECK_EQ(first, 0);
    CHECK_EQ(zr_prefix_range(a, "zzz", &first), 0);
    CHECK_EQ(zr_prefix_range(a, "empty", &first), 2);
    CHECK(zr_sorted_at(a, N_BASIC) == NULL);
    zr_close(a);
    tz_free(&z);

    /* '/' sorts before every byte: "p/..." stays together, before "p!y". */
    const tent t[] = {{.name = "p.z", .data = "1"}, {.name = "p!y", .data = "2"},
                      {.name = "p/x", .data = "3"}, {.name = "p/"},
                      {.name = "q/r/s/t", .data = "4"}};
    tz_build(&z, t, 5, NULL);
    CHECK((a = tz_open(&z, "path_order")));
    static const char *const order[] = {"p/", "p/x", "p!y", "p.z", "q/r/s/t"};
    for (size_t k = 0; k < 5; k++) CHECK_STR(zr_sorted_at(a, k)->name, order[k]);
    static const char *const top2[] = {"p/", "p!y", "p.z", "q/", NULL};
    CHECK(zr_list_children(a, "", &v, &n) == 0 && strv_is(v, n, top2));
    zippy_strv_free(v);
    static const char *const q[] = {"s/", NULL};
    CHECK(zr_list_children(a, "q/r/", &v, &n) == 0 && strv_is(v, n, q));
    zippy_strv_free(v);
    CHECK_EQ(zr_prefix_range(a, "p/", &first), 1);
    CHECK_EQ(zr_prefix_range(a, "p", &first), 4);
    zr_close(a);
    tz_free(&z);
}

TEST(empty_archive) {
    tzip z;
    tz_build(&z, NULL, 0, NULL);
    CHECK_EQ(z.b.len, 22);
    zr_archive *a = tz_open(&z, "empty");
    CHECK(a && zr_count(a) == 0 && !zr_find(a, "x") && !zr_entry_at(a, 0));
    char **v;
    size_t n = 9, first = 9;
    CHECK(zr_list_children(a, "", &v, &n) == 0 && n == 0 && v && !v[0]);
    zippy_strv_free(v);
    CHECK(zr_prefix_range(a, "", &first) == 0 && first == 0);
    zr_close(a);
    tz_free(&z);
    /* With a comment that itself holds an end-record signature. */
    static const char fake[] = "PK\x05\x06 not the real one";
    tzopt o = {.comment = fake, .comment_len = sizeof fake - 1};
    const tent one = {.name = "a.json", .data = "{}"};
    tz_build(&z, &one, 1, &o);
    CHECK((a = tz_open(&z, "comment_with_signature")) && zr_count(a) == 1);
    CHECK(entry_is(a, "a.json", "{}", 2));
    zr_close(a);
    tz_free(&z);
    /* Junk before the first entry (offsets are absolute): fine. */
    tzopt pre = {.prefix = 100};
    tz_build(&z, k_basic, N_BASIC, &pre);
    CHECK((a = tz_open(&z, "prefix_junk")) && zr_count(a) == N_BASIC);
    CHECK(entry_is(a, "collections/users/meta/data.jsonl", k_log, strlen(k_log)));
    zr_close(a);
    tz_free(&z);
    /* Python's empty archive. */
    if (have_tool("python3")) {
        char p[4200];
        path2(p, sizeof p, g_base, "empty.zip");
        CHECK(sh("python3 -c \"import zipfile; zipfile.ZipFile('%s','w').close()\"", p) == 0);
        CHECK(zr_open(&a, p) == 0 && zr_count(a) == 0);
        zr_close(a);
    }
}

TEST(data_descriptor) {
    const tent t[] = {{.name = "s.json", .data = "{\"s\":1}", .descriptor = 1},
                      {.name = "d.jsonl", .data = k_log, .deflate = 1, .descriptor = 1}};
    tzip z;
    tz_build(&z, t, 2, NULL);
    zr_archive *a = tz_open(&z, "descriptor");
    CHECK(a);
    CHECK(entry_is(a, "s.json", "{\"s\":1}", 7));
    CHECK(entry_is(a, "d.jsonl", k_log, strlen(k_log)));
    zr_close(a);
    tz_free(&z);
}

TEST(zip64_hand_built) {
    const tent t[] = {{.name = "a/", .zip64 = 1},
                      {.name = "a/s.json", .data = "{\"s\":1}", .zip64 = 1},
                      {.name = "a/d.jsonl", .data = k_log, .deflate = 1, .zip64 = 1},
                      {.name = "plain", .data = "p"}};
    tzopt o = {.zip64_eocd = 1};
    tzip z;
    tz_build(&z, t, 4, &o);
    zr_archive *a = tz_open(&z, "zip64");
    CHECK(a && zr_count(a) == 4);
    const zr_entry *e = zr_find(a, "a/d.jsonl");
    CHECK(e && e->usize == strlen(k_log) && e->csize < e->usize && e->data_off == z.data[2]);
    CHECK(entry_is(a, "a/s.json", "{\"s\":1}", 7));
    CHECK(entry_is(a, "a/d.jsonl", k_log, strlen(k_log)));
    CHECK(entry_is(a, "plain", "p", 1));
    zr_close(a);

    /* The ZIP64 end record is where its values come from. */
    tz_p64(&z, z.e64 + 40, z.cd_size + 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "zip64_cd_size"));
    tz_p64(&z, z.e64 + 40, z.cd_size);
    tz_p64(&z, z.e64 + 48, 1ull << 40);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "zip64_cd_off"));
    tz_p64(&z, z.e64 + 48, z.cd_off);
    tz_p64(&z, z.e64 + 32, 5);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "zip64_here_total"));
    tz_p64(&z, z.e64 + 24, 7);
    tz_p64(&z, z.e64 + 32, 7);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "cannot hold", "zip64_count_too_big"));
    tz_p64(&z, z.e64 + 24, 5);
    tz_p64(&z, z.e64 + 32, 5);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry 4: the central directory ends inside",
                     "zip64_count_plus_one"));
    tz_p64(&z, z.e64 + 24, 20000000);
    tz_p64(&z, z.e64 + 32, 20000000);
    CHECK(tz_refused(&z, ZIPPY_ETOOBIG, "limit", "zip64_count_limit"));
    tz_p64(&z, z.e64 + 24, 4);
    tz_p64(&z, z.e64 + 32, 4);
    tz_p32(&z, z.e64 + 16, 1);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "zip64_disk"));
    tz_p32(&z, z.e64 + 16, 0);
    tz_p64(&z, z.e64 + 4, 10);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "bad size", "zip64_record_size"));
    tz_p64(&z, z.e64 + 4, 44);
    tz_p32(&z, z.e64, 0x06064b51u);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "no ZIP64 end of central directory",
                     "zip64_record_sig"));
    tz_p32(&z, z.e64, 0x06064b50u);
    tz_p64(&z, z.loc64 + 8, z.loc64 - 10);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "zip64_locator_off"));
    tz_p64(&z, z.loc64 + 8, 1ull << 62);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "zip64_locator_far"));
    tz_p64(&z, z.loc64 + 8, z.e64);
    tz_p32(&z, z.loc64 + 16, 3);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "zip64_locator_disks"));
    tz_p32(&z, z.loc64 + 16, 1);
    CHECK((a = tz_open(&z, "zip64_restored")));
    zr_close(a);

    /* ZIP64 extra fields: missing, short, malformed. */
    size_t c = z.cen[3]; /* "plain": no ZIP64 extra */
    tz_p32(&z, c + C_USIZE, 0xffffffffu);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "no ZIP64 extra field", "zip64_extra_missing"));
    tz_free(&z);

    static const unsigned char short64[] = {1, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    tent s = {.name = "s", .data = "s", .extra = short64, .extra_len = sizeof short64};
    tz_build(&z, &s, 1, NULL);
    tz_p32(&z, z.cen[0] + C_USIZE, 0xffffffffu);
    tz_p32(&z, z.cen[0] + C_CSIZE, 0xffffffffu);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "too short", "zip64_extra_short"));
    tz_p32(&z, z.cen[0] + C_CSIZE, 1);
    CHECK((a = tz_open(&z, "zip64_extra_usize_only")) && entry_is(a, "s", "s", 1));
    zr_close(a);
    tz_free(&z);
    static const unsigned char past[] = {0x99, 0x99, 16, 0, 1, 2};
    s.extra = past;
    s.extra_len = sizeof past;
    CHECK(refuse1(&s, ZIPPY_ECORRUPT, "extra field runs past", "extra_runs_past"));
    /* Unknown extra fields are skipped, and so is padding after the last. */
    static const unsigned char ut[] = {0x55, 0x54, 5, 0, 3, 1, 2, 3, 4, 0, 0, 0};
    s.extra = ut;
    s.extra_len = sizeof ut;
    tz_build(&z, &s, 1, NULL);
    CHECK((a = tz_open(&z, "extra_ut")) && entry_is(a, "s", "s", 1));
    zr_close(a);
    tz_free(&z);
}

/* ------------------------------------------------------------------ */
/* Archives made by other tools                                        */
/* ------------------------------------------------------------------ */

TEST(info_zip_archives) {
    if (!have_tool("zip")) {
        printf("  (zip not installed: skipped)\n");
        return;
    }
    char root[4200], zp[4200];
    path2(root, sizeof root, g_base, "iz");
    CHECK(make_tree(root) == 0);
    static const char *const modes[][2] = {
        {"d.zip", ""}, {"s.zip", "-0"}, {"z.zip", "-fz"}, {"zd.zip", "-fz -0"}};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        path2(zp, sizeof zp, g_base, modes[m][0]);
        CHECK(sh("cd '%s' && zip -q -r %s '%s' . 2>&1", root, modes[m][1], zp) == 0);
        zr_archive *a = NULL;
        CHECKF(zr_open(&a, zp) == 0, "%s: %s", modes[m][0], zippy_errmsg());
        CHECKF(same_as_dir(a, root, skip_none), "%s", modes[m][0]);
        CHECK(zr_find(a, "collections/empty/meta/") && zr_find(a, "empty.txt"));
        const zr_entry *e = zr_find(a, "collections/users/meta/data.jsonl");
        CHECK(e && e->method == (modes[m][1][0] && strstr(modes[m][1], "-0") ? ZR_STORE
                                                                              : ZR_DEFLATE));
        zr_close(a);
    }
    /* zip -y stores a symbolic link as such: refused. */
    char link[4200];
    path2(link, sizeof link, root, "bin/link");
    CHECK(symlink("../zds.json", link) == 0);
    path2(zp, sizeof zp, g_base, "y.zip");
    CHECK(sh("cd '%s' && zip -q -r -y '%s' . 2>&1", root, zp) == 0);
    zr_archive *a = NULL;
    CHECK(zr_open(&a, zp) == ZIPPY_ECORRUPT && !a);
    CHECK(strstr(zippy_errmsg(), "symbolic link") && strstr(zippy_errmsg(), "bin/link"));
    CHECK(strstr(zippy_errmsg(), zp));
    unlink(link);
}

TEST(python_zipfile_archives) {
    if (!have_tool("python3")) {
        printf("  (python3 not installed: skipped)\n");
        return;
    }
    char root[4200], zp[4200], script[4200];
    path2(root, sizeof root, g_base, "py");
    CHECK(make_tree(root) == 0);
    /* DEFLATE, with ZIP64 local headers forced on every entry. */
    path2(zp, sizeof zp, g_base, "py64.zip");
    path2(script, sizeof script, g_base, "mk.py");
    static const char py[] =
        "import os, sys, zipfile\n"
        "root, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n"
        "    for d, dirs, files in os.walk(root):\n"
        "        dirs.sort()\n"
        "        for f in sorted(files):\n"
        "            p = os.path.join(d, f)\n"
        "            with open(p, 'rb') as src, z.open(os.path.relpath(p, root), 'w',\n"
        "                                              force_zip64=True) as dst:\n"
        "                dst.write(src.read())\n"
        "    for i in range(n):\n"
        "        z.writestr('many/%06d' % i, b'')\n";
    CHECK(t_write_file(script, py, sizeof py - 1) == 0);
    CHECK(sh("python3 '%s' '%s' '%s' 0", script, root, zp) == 0);
    zr_archive *a = NULL;
    CHECKF(zr_open(&a, zp) == 0, "%s", zippy_errmsg());
    CHECK(same_as_dir(a, root, skip_none));
    zr_close(a);
    /* Over 65535 entries: Python writes the ZIP64 end records. */
    path2(zp, sizeof zp, g_base, "pymany.zip");
    CHECK(sh("python3 '%s' '%s' '%s' 70000", script, root, zp) == 0);
    CHECKF(zr_open(&a, zp) == 0, "%s", zippy_errmsg());
    CHECK(zr_count(a) > 70000);
    CHECK(zr_find(a, "many/069999") && zr_find(a, "many/000000") && !zr_find(a, "many/070000"));
    size_t first;
    CHECK_EQ(zr_prefix_range(a, "many/", &first), 70000);
    CHECK(entry_is(a, "many/012345", "", 0));
    zr_close(a);
}

/* A store written through the public API. */
static int make_api_store(const char *path) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    int rc = zippy_root_open(&root, path, NULL);
    if (rc) return rc;
    static const char *const names[] = {"users", "logs"};
    for (int k = 0; k < 2 && !rc; k++) {
        if ((rc = zippy_coll_open(&c, root, names[k], NULL))) break;
        for (int i = 0; i < 200 && !rc; i++) {
            char id[32], doc[128];
            int il = snprintf(id, sizeof id, "%s_%03d", names[k], i);
            int dl = snprintf(doc, sizeof doc, "{\"n\":%d,\"tag\":\"t%d\",\"k\":\"%s\"}", i,
                              i % 7, names[k]);
            rc = zippy_put(c, id, (size_t)il, doc, (size_t)dl);
        }
        int rc2 = zippy_coll_close(c);
        if (!rc) rc = rc2;
    }
    zippy_root_close(root);
    return rc;
}

TEST(zippy_pack_archives) {
    char store[4200], zp[4200];
    path2(store, sizeof store, g_base, "api-store");
    CHECKF(make_api_store(store) == 0, "%s", zippy_errmsg());
    static const unsigned flags[] = {0, ZIPPY_PACK_DEFLATE};
    for (int k = 0; k < 2; k++) {
        path2(zp, sizeof zp, g_base, k ? "packed-deflate.zds" : "packed-store.zds");
        CHECKF(zippy_pack(store, zp, flags[k], NULL, NULL) == 0, "%s", zippy_errmsg());
        zr_archive *a = NULL;
        CHECKF(zr_open(&a, zp) == 0, "%s", zippy_errmsg());
        CHECK(same_as_dir(a, store, skip_pack));
        int deflated = 0, files = 0;
        for (size_t i = 0; i < zr_count(a); i++) {
            const zr_entry *e = zr_entry_at(a, i);
            files += !e->is_dir;
            deflated += e->method == ZR_DEFLATE;
        }
        CHECK(files >= 4 && zr_find(a, "collections/users/meta/data.jsonl"));
        CHECKF(k ? deflated > 0 : deflated == 0, "pack %u: %d deflated", flags[k], deflated);
        char **v;
        size_t n;
        static const char *const colls[] = {"logs/", "users/", NULL};
        CHECK(zr_list_children(a, "collections/", &v, &n) == 0 && strv_is(v, n, colls));
        zippy_strv_free(v);
        zr_close(a);
    }
}

/* ------------------------------------------------------------------ */
/* Hostile archives                                                    */
/* ------------------------------------------------------------------ */

TEST(hostile_end_records) {
    tzip z;
    memset(&z, 0, sizeof z);
    tb_put(&z.b, "PK\x05\x06", 4);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "shorter than an end of central directory",
                     "tiny"));
    tz_free(&z);
    zr_archive *a = (zr_archive *)&a;
    CHECK(zr_open_mem(&a, NULL, 0, NULL) == ZIPPY_ECORRUPT && !a);
    CHECK(strstr(zippy_errmsg(), "<memory>"));
    unsigned x = 1;
    for (int i = 0; i < 70000; i++) {
        unsigned char c = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
        tb_put(&z.b, &c, 1);
    }
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "no end of central directory record", "random"));
    tz_free(&z);

    tzopt trail = {.trailing = 5};
    tz_build(&z, k_basic, N_BASIC, &trail);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "does not end the file", "trailing"));
    tz_free(&z);

    tz_build(&z, k_basic, N_BASIC, NULL);
    size_t e = z.eocd;
    tz_p16(&z, e + E_DISK, 1);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "eocd_disk"));
    tz_p16(&z, e + E_DISK, 0);
    tz_p16(&z, e + E_CDDISK, 2);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "eocd_cd_disk"));
    tz_p16(&z, e + E_CDDISK, 0);
    tz_p16(&z, e + E_HERE, 3);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "eocd_here"));
    tz_p16(&z, e + E_HERE, N_BASIC);
    tz_p32(&z, e + E_OFF, (uint32_t)z.cd_off + 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "cd_off_shifted"));
    tz_p32(&z, e + E_OFF, 0xfffffff0u);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "cd_off_far"));
    tz_p32(&z, e + E_OFF, (uint32_t)z.cd_off);
    tz_p32(&z, e + E_SIZE, (uint32_t)z.cd_size + 30);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the file", "cd_size_big"));
    tz_p32(&z, e + E_SIZE, (uint32_t)z.cd_size - 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "runs past the central directory", "cd_size_small"));
    tz_p32(&z, e + E_SIZE, (uint32_t)z.cd_size);
    tz_p16(&z, e + E_HERE, 60000);
    tz_p16(&z, e + E_TOTAL, 60000);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "cannot hold", "count_big"));
    tz_p16(&z, e + E_HERE, N_BASIC - 1);
    tz_p16(&z, e + E_TOTAL, N_BASIC - 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry count and size disagree", "count_small"));
    tz_p16(&z, e + E_HERE, N_BASIC + 1);
    tz_p16(&z, e + E_TOTAL, N_BASIC + 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry 8: the central directory ends inside",
                     "count_plus_one"));
    tz_p16(&z, e + E_HERE, N_BASIC);
    tz_p16(&z, e + E_TOTAL, N_BASIC);
    tz_p16(&z, e + E_CLEN, 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "does not end the file", "comment_len_lies"));
    tz_p16(&z, e + E_CLEN, 0);
    tz_p32(&z, z.cen[3], 0x02014b51u);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry 3: no central directory header",
                     "central_sig"));
    tz_p32(&z, z.cen[3], 0x02014b50u);
    tz_p16(&z, z.cen[7] + C_NLEN, 0xffff);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "runs past the central directory", "name_len_big"));
    tz_p16(&z, z.cen[7] + C_NLEN, 6);
    tz_p16(&z, z.cen[2] + C_XLEN, 4000);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "runs past the central directory", "extra_len_big"));
    tz_p16(&z, z.cen[2] + C_XLEN, 0);
    CHECK((a = tz_open(&z, "restored")));
    zr_close(a);
    tz_free(&z);
}

typedef struct bad_name {
    const char *name;
    size_t len; /* 0: strlen */
    const char *why;
} bad_name;

TEST(hostile_names) {
    static char longname[5000], longseg[300];
    memset(longname, 'a', 4097);
    for (int i = 100; i < 4097; i += 100) longname[i] = '/';
    memset(longseg, 'b', 256);
    const bad_name bad[] = {
        {"", 0, "empty name"},
        {"/etc/passwd", 0, "escapes the root"},
        {"/", 0, "escapes the root"},
        {"../x.json", 0, "escapes the root"},
        {"a/../../x", 0, "escapes the root"},
        {"a/..", 0, "escapes the root"},
        {"a/../", 0, "escapes the root"},
        {"C:x.json", 0, "drive letter"},
        {"c:/windows", 0, "drive letter"},
        {"b:ob@x.json", 0, "drive letter"},
        {"Z:", 0, "drive letter"},
        {"a\\b.json", 0, "backslash"},
        {"..\\x", 0, "backslash"},
        {"a\0b", 3, "NUL byte"},
        {"./a", 0, "'.' path segment"},
        {"a/./b", 0, "'.' path segment"},
        {"a//b", 0, "empty path segment"},
        {"a//", 0, "empty path segment"},
        {"a\x01.json", 0, "control character"},
        {"a\x7f", 0, "control character"},
        {"\xff.json", 0, "not valid UTF-8"},
        {"\xc0\xaf", 0, "not valid UTF-8"},
        {"\xe0\x80\xaf", 0, "not valid UTF-8"},
        {"\xed\xa0\x80", 0, "not valid UTF-8"},
        {"\xf4\x90\x80\x80", 0, "not valid UTF-8"},
        {"a\xe2\x82", 0, "not valid UTF-8"},
        {"\x80", 0, "not valid UTF-8"},
        {longname, 0, "longer than 4096"},
        {longseg, 0, "longer than 255"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tent e = {.name = bad[i].name, .name_len = bad[i].len, .data = "x"};
        char what[64];
        snprintf(what, sizeof what, "name_%zu", i);
        CHECKF(refuse1(&e, ZIPPY_ECORRUPT, bad[i].why, what), "name %zu", i);
        CHECK(zr_name_problem(bad[i].name, bad[i].len ? bad[i].len : strlen(bad[i].name)));
    }
    /* The message shows the name safely. */
    tent e = {.name = "../\x01\xff", .data = "x"};
    CHECK(refuse1(&e, ZIPPY_ECORRUPT, "entry 0 '../?\?'", "shown"));
    static const char *const good[] = {
        "a", "a.json", "...json", "..a", "a..", "a/b/c/d.json", "docs/b:ob@x.json", "d/", "ab:c",
        "\xc3\xa9t\xc3\xa9.json", "\xf0\x9f\x98\x80", "a b", "\xef\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        CHECKF(!zr_name_problem(good[i], strlen(good[i])), "%s", good[i]);
        tent g = {.name = good[i], .data = good[i][strlen(good[i]) - 1] == '/' ? NULL : "x"};
        tzip z;
        tz_build(&z, &g, 1, NULL);
        zr_archive *a = tz_open(&z, "good_name");
        CHECKF(a && zr_find(a, good[i]), "%s", good[i]);
        zr_close(a);
        tz_free(&z);
    }
    memset(longname, 'a', 4096);
    for (int i = 100; i < 4096; i += 100) longname[i] = '/';
    longname[4096] = 0;
    CHECK(!zr_name_problem(longname, 4096));
    longseg[255] = 0;
    CHECK(!zr_name_problem(longseg, 255));
}

TEST(hostile_types) {
    static const struct {
        const char *name;
        unsigned mode, host;
        const char *why;
    } bad[] = {
        {"link", 0120777, 0, "symbolic links"},
        {"link/", 0120777, 0, "symbolic links"},
        {"osx-link", 0120755, 19, "symbolic links"},
        {"fifo", 0010644, 0, "special files"},
        {"sock", 0140755, 0, "special files"},
        {"blk", 0060644, 0, "special files"},
        {"chr", 0020644, 0, "special files"},
        {"dir", 0040755, 0, "directory mode on a name without a trailing '/'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int dir = bad[i].name[strlen(bad[i].name) - 1] == '/';
        tent e = {.name = bad[i].name, .mode = bad[i].mode, .host = bad[i].host,
                  .data = dir ? NULL : "target"};
        CHECKF(refuse1(&e, ZIPPY_ECORRUPT, bad[i].why, bad[i].name), "%s", bad[i].name);
    }
    /* Other hosts' attributes carry no Unix type: fine; so is type 0. */
    const tent ok[] = {{.name = "dos", .host = H_DOS, .data = "x"},
                       {.name = "ntfs", .host = 10, .mode = 0120777, .data = "x"},
                       {.name = "notype", .mode = 0644, .data = "x"},
                       {.name = "regdir/", .mode = 0100644}};
    tzip z;
    tz_build(&z, ok, 4, NULL);
    tz_p32(&z, z.cen[1] + C_EXT, 0120777u << 16);
    zr_archive *a = tz_open(&z, "types_ok");
    CHECK(a && zr_count(a) == 4);
    zr_close(a);
    tz_free(&z);
    tent d = {.name = "d/", .data = "data"};
    CHECK(refuse1(&d, ZIPPY_ECORRUPT, "directory entry with 4 bytes", "dir_with_data"));
}

TEST(hostile_duplicates) {
    static const struct {
        const char *a, *b, *why;
    } bad[] = {
        {"a.json", "a.json", "duplicate name"},
        {"d/", "d/", "duplicate name"},
        {"x/y", "x/y", "duplicate name"},
        {"a", "a/", "names both a file and a directory"},
        {"a/", "a", "names both a file and a directory"},
        {"a", "a/b", "which is a file"},
        {"a/b/c", "a/b", "which is a file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int da = bad[i].a[strlen(bad[i].a) - 1] == '/', db = bad[i].b[strlen(bad[i].b) - 1] == '/';
        const tent t[] = {{.name = "before", .data = "0"},
                          {.name = bad[i].a, .data = da ? NULL : "1"},
                          {.name = "middle/z", .data = "2"},
                          {.name = bad[i].b, .data = db ? NULL : "3"}};
        tzip z;
        tz_build(&z, t, 4, NULL);
        char what[64];
        snprintf(what, sizeof what, "dup_%zu", i);
        CHECKF(tz_refused(&z, ZIPPY_ECORRUPT, bad[i].why, what), "%s / %s", bad[i].a,
               bad[i].b);
        tz_free(&z);
    }
    /* Both entries are named in the message. */
    const tent t[] = {{.name = "x.json", .data = "1"}, {.name = "x.json", .data = "2"}};
    tzip z;
    tz_build(&z, t, 2, NULL);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry 1 'x.json': duplicate name: the same as entry 0 'x.json'",
                     "dup_message"));
    tz_free(&z);
    const tent fine[] = {{.name = "a/"}, {.name = "a/b", .data = "1"}, {.name = "a!b", .data = "2"},
                         {.name = "a.b", .data = "3"}, {.name = "ab/", .data = NULL}};
    tz_build(&z, fine, 5, NULL);
    zr_archive *a = tz_open(&z, "dup_fine");
    CHECK(a);
    zr_close(a);
    tz_free(&z);
}

TEST(hostile_flags_and_methods) {
    tent e = {.name = "enc.json", .data = "secret", .flags = 1};
    CHECK(refuse1(&e, ZIPPY_EUNSUPPORTED, "encrypted entries are not supported", "encrypted"));
    e.flags = 0x41;
    CHECK(refuse1(&e, ZIPPY_EUNSUPPORTED, "encrypted", "strong_encryption"));
    e.flags = 0x40;
    CHECK(refuse1(&e, ZIPPY_EUNSUPPORTED, "encrypted", "strong_encryption_only"));
    e.flags = 0x800; /* UTF-8 names: fine */
    tzip z;
    tz_build(&z, &e, 1, NULL);
    zr_archive *a = tz_open(&z, "utf8_flag");
    CHECK(a);
    zr_close(a);
    static const unsigned methods[] = {12, 14, 93, 95, 99, 1, 9};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        tz_p16(&z, z.cen[0] + C_METHOD, methods[i]);
        tz_p16(&z, z.lho[0] + L_METHOD, methods[i]);
        char want[64], what[32];
        snprintf(want, sizeof want, "compression method %u is not supported", methods[i]);
        snprintf(what, sizeof what, "method_%u", methods[i]);
        CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, want, what));
    }
    tz_p16(&z, z.cen[0] + C_METHOD, 0);
    tz_p16(&z, z.lho[0] + L_METHOD, 0);
    tz_p16(&z, z.cen[0] + C_DISK, 1);
    CHECK(tz_refused(&z, ZIPPY_EUNSUPPORTED, "multi-disk", "entry_disk"));
    tz_free(&z);
}

TEST(hostile_local_headers) {
    tzip z;
    tz_build(&z, k_basic, N_BASIC, NULL);
    size_t c = z.cen[4], l = z.lho[4]; /* collections/users/docs/a.json, STORE */
    tz_p32(&z, c + C_LHO, (uint32_t)z.cd_off);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the entries", "lho_at_cd"));
    tz_p32(&z, c + C_LHO, (uint32_t)z.b.len + 100);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "points outside the entries", "lho_past_end"));
    tz_p32(&z, c + C_LHO, (uint32_t)l + 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "no local header at offset", "lho_shifted"));
    tz_p32(&z, c + C_LHO, (uint32_t)l);
    z.b.p[l + 30] ^= 0x20; /* 'c' -> 'C' */
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "names that lie", "local_name"));
    z.b.p[l + 30] ^= 0x20;
    tz_p16(&z, l + L_NLEN, 28);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "names that lie", "local_name_len"));
    tz_p16(&z, l + L_NLEN, 29);
    tz_p16(&z, l + L_XLEN, 0xffff);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "runs into the central directory", "local_xlen"));
    tz_p16(&z, l + L_XLEN, 0);
    tz_p16(&z, l + L_METHOD, 8);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "local header says method 8", "local_method"));
    tz_p16(&z, l + L_METHOD, 0);
    tz_p16(&z, l + L_FLAGS, 1);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "method 0 encrypted", "local_encrypted"));
    tz_p16(&z, l + L_FLAGS, 0);
    size_t last = z.cen[7], ldef = z.cen[3];
    /* A size that runs into the central directory. */
    tz_p32(&z, last + C_CSIZE, 50);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "run past the start of the central directory",
                     "csize_into_cd"));
    tz_p32(&z, last + C_CSIZE, 2);
    tz_p32(&z, ldef + C_CSIZE, 0x7fffffffu);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "run past the start of the central directory",
                     "csize_huge"));
    tz_p32(&z, ldef + C_CSIZE, (uint32_t)(z.lho[4] - z.data[3]));
    /* STORE with sizes that differ. */
    tz_p32(&z, c + C_USIZE, 8);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "sizes that lie", "store_sizes"));
    tz_p32(&z, c + C_USIZE, 7);
    zr_archive *a = tz_open(&z, "local_restored");
    CHECK(a);
    zr_close(a);
    tz_free(&z);
}

TEST(overlapping_entries) {
    /* Entry "outer" stores, as its data, a whole local header + data of
     * "inner"; the central entry of "inner" points inside "outer". */
    tbuf in = {0};
    tb_u32(&in, 0x04034b50u);
    tb_u16(&in, 20);
    tb_u16(&in, 0);
    tb_u16(&in, 0);
    tb_u32(&in, 0x210000);
    tb_u32(&in, (uint32_t)crc32(0, (const Bytef *)"hi", 2));
    tb_u32(&in, 2);
    tb_u32(&in, 2);
    tb_u16(&in, 5);
    tb_u16(&in, 0);
    tb_put(&in, "inner", 5);
    tb_put(&in, "hi", 2);
    const tent t[] = {{.name = "outer", .data = (const char *)in.p, .len = in.len},
                      {.name = "inner", .data = "hi"}};
    tzip z;
    tz_build(&z, t, 2, NULL);
    tz_p32(&z, z.cen[1] + C_LHO, (uint32_t)z.data[0]);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "overlapping entries", "overlap_nested"));
    /* Two central entries on one local header. */
    tz_p32(&z, z.cen[1] + C_LHO, 0);
    tz_p32(&z, z.cen[1] + C_CRC, z_le32(z.b.p + z.cen[0] + C_CRC));
    tz_p32(&z, z.cen[1] + C_CSIZE, (uint32_t)in.len);
    tz_p32(&z, z.cen[1] + C_USIZE, (uint32_t)in.len);
    memcpy(z.b.p + z.cen[1] + 46, "outer", 5);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "overlapping entries", "overlap_same_header"));
    tz_free(&z);
    /* Data that runs into the next entry's header. */
    const tent u[] = {{.name = "a", .data = "aaaa"}, {.name = "b", .data = "bbbb"}};
    tz_build(&z, u, 2, NULL);
    tz_p32(&z, z.cen[0] + C_CSIZE, 6);
    tz_p32(&z, z.cen[0] + C_USIZE, 6);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "entry 1 'b': its local header or data overlaps entry 0 'a'",
                     "overlap_adjacent"));
    tz_free(&z);
    free(in.p);
}

TEST(zip_bombs) {
    size_t big = (2u << 20);
    char *zeros = calloc(1, big);
    CHECK(zeros);
    tent e = {.name = "bomb.json", .data = zeros, .len = big, .deflate = 1};
    CHECK(refuse1(&e, ZIPPY_ETOOBIG, "inflates past 100 times its compressed size", "bomb"));
    /* Up to 1 MiB any ratio is fine. */
    e.len = 1u << 20;
    tzip z;
    tz_build(&z, &e, 1, NULL);
    zr_archive *a = tz_open(&z, "bomb_1mib");
    CHECK(a && entry_is(a, "bomb.json", zeros, 1u << 20));
    zr_close(a);
    tz_free(&z);
    /* Large but only mildly compressible: fine. */
    unsigned x = 3;
    for (size_t i = 0; i < big; i++)
        zeros[i] = (char)('a' + ((x = x * 1103515245u + 12345u) >> 16) % 16);
    e.len = big;
    tz_build(&z, &e, 1, NULL);
    CHECK((a = tz_open(&z, "big_ok")) && entry_is(a, "bomb.json", zeros, big));
    zr_close(a);
    tz_free(&z);
    free(zeros);

    /* Declared sizes over 64 GiB in total: 700 entries each declaring
     * 100 MiB from 1 MiB (all on one local header; refused before the
     * overlap check would be reached). */
    tbuf b = {0};
    size_t mib = 1u << 20;
    char *blob = calloc(1, mib);
    tb_u32(&b, 0x04034b50u);
    tb_u16(&b, 20);
    tb_u16(&b, 0);
    tb_u16(&b, 8);
    tb_u32(&b, 0);
    tb_u32(&b, 0);
    tb_u32(&b, (uint32_t)mib);
    tb_u32(&b, 100 * (uint32_t)mib);
    tb_u16(&b, 1);
    tb_u16(&b, 0);
    tb_put(&b, "a", 1);
    tb_put(&b, blob, mib);
    free(blob);
    size_t cd = b.len;
    for (int i = 0; i < 700; i++) {
        tb_u32(&b, 0x02014b50u);
        tb_u16(&b, 0x31e);
        tb_u16(&b, 20);
        tb_u16(&b, 0);
        tb_u16(&b, 8);
        tb_u32(&b, 0);
        tb_u32(&b, 0);
        tb_u32(&b, (uint32_t)mib);
        tb_u32(&b, 100 * (uint32_t)mib);
        tb_u16(&b, 1);
        tb_u16(&b, 0);
        tb_u16(&b, 0);
        tb_u16(&b, 0);
        tb_u16(&b, 0);
        tb_u32(&b, 0100644u << 16);
        tb_u32(&b, 0);
        tb_put(&b, "a", 1);
    }
    size_t cds = b.len - cd;
    tb_u32(&b, 0x06054b50u);
    tb_u32(&b, 0);
    tb_u16(&b, 700);
    tb_u16(&b, 700);
    tb_u32(&b, (uint32_t)cds);
    tb_u32(&b, (uint32_t)cd);
    tb_u16(&b, 0);
    a = (zr_archive *)&a;
    CHECK(zr_open_mem(&a, b.p, b.len, "total") == ZIPPY_ETOOBIG && !a);
    CHECKF(strstr(zippy_errmsg(), "more than 64 GiB in total"), "%s", zippy_errmsg());
    free(b.p);

    /* A size past 2^63 is refused, not wrapped. */
    tent h = {.name = "h", .data = "hhhh", .zip64 = 1};
    tz_build(&z, &h, 1, NULL);
    size_t x64 = z.cen[0] + 46 + 1 + 4; /* the ZIP64 values */
    tz_p64(&z, x64, 1ull << 62);
    tz_p64(&z, x64 + 8, 1ull << 62);
    CHECK(tz_refused(&z, ZIPPY_ETOOBIG, "64 GiB", "huge_declared"));
    tz_p64(&z, x64, UINT64_MAX);
    tz_p64(&z, x64 + 8, UINT64_MAX);
    CHECK(tz_refused(&z, ZIPPY_ETOOBIG, "do not fit in memory", "huge_store"));
    tz_p64(&z, x64 + 8, 4);
    CHECK(tz_refused(&z, ZIPPY_ECORRUPT, "sizes that lie", "huge_store_lie"));
    tz_p16(&z, z.cen[0] + C_METHOD, 8);
    tz_p16(&z, z.lho[0] + L_METHOD, 8);
    CHECK(tz_refused(&z, ZIPPY_ETOOBIG, "100 times", "huge_deflate_ratio"));
    tz_p64(&z, x64 + 8, UINT64_MAX);
    CHECK(tz_refused(&z, ZIPPY_ETOOBIG, "do not fit in memory", "huge_deflate"));
    tz_free(&z);
}

TEST(inflate_lies) {
    const tent t[] = {{.name = "more", .data = k_log, .deflate = 1},
                      {.name = "fewer", .data = k_log, .deflate = 1},
                      {.name = "cut", .data = k_log, .deflate = 1},
                      {.name = "crc", .data = k_log, .deflate = 1},
                      {.name = "scrc", .data = "stored"},
                      {.name = "junk", .data = "hello", .deflate = 1, .raw = "\xff\xff\xff\xff",
                       .raw_len = 4},
                      {.name = "zero", .data = "", .deflate = 1},
                      {.name = "ok", .data = k_log, .deflate = 1}};
    tent tt[8];
    memcpy(tt, t, sizeof t);
    size_t hl;
    unsigned char *hello = deflate_raw("hello", 5, &hl);
    tt[6].raw = hello; /* usize 0, but the stream holds "hello" */
    tt[6].raw_len = hl;
    tzip z;
    tz_build(&z, tt, 8, NULL);
    free(hello);
    size_t ll = strlen(k_log);
    tz_p32(&z, z.cen[0] + C_USIZE, (uint32_t)ll - 1);
    tz_p32(&z, z.cen[1] + C_USIZE, (uint32_t)ll + 1);
    tz_p32(&z, z.cen[2] + C_CSIZE, z_le32(z.b.p + z.cen[2] + C_CSIZE) - 3);
    tz_p32(&z, z.cen[3] + C_CRC, z_le32(z.b.p + z.cen[3] + C_CRC) ^ 1);
    tz_p32(&z, z.cen[4] + C_CRC, z_le32(z.b.p + z.cen[4] + C_CRC) ^ 0x100);
    zr_archive *a = tz_open(&z, "inflate_lies");
    CHECK(a);
    CHECK(bytes_refused(a, "more", "inflates to more than its declared"));
    CHECK(bytes_refused(a, "fewer", "not its declared"));
    CHECK(bytes_refused(a, "cut", "end inside the deflate stream"));
    CHECK(bytes_refused(a, "crc", "CRC-32"));
    CHECK(bytes_refused(a, "scrc", "CRC-32"));
    CHECK(bytes_refused(a, "scrc", "CRC-32")); /* not marked checked */
    CHECK(bytes_refused(a, "junk", "invalid deflate data"));
    CHECK(bytes_refused(a, "zero", "inflates to more than its declared 0"));
    CHECK(entry_is(a, "ok", k_log, ll));
    zr_close(a);
    tz_free(&z);
}

static void *crc_thread(void *arg) {
    const zr_archive *a = arg;
    const zr_entry *e = zr_find(a, "big");
    for (int k = 0; k < 20; k++) {
        const char *p;
        size_t len;
        void *owned;
        if (zr_entry_bytes(a, e, &p, &len, &owned) || len != e->usize) return (void *)1;
    }
    return NULL;
}

TEST(shared_between_threads) {
    size_t n = 200000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    const tent t[] = {{.name = "big", .data = data, .len = n}};
    tzip z;
    tz_build(&z, t, 1, NULL);
    free(data);
    zr_archive *a = tz_open(&z, "threads");
    CHECK(a);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, crc_thread, a) == 0);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += r != NULL;
    }
    CHECK(bad == 0);
    zr_close(a);
    tz_free(&z);
}

/* ------------------------------------------------------------------ */
/* Files, os faults, allocation failures                               */
/* ------------------------------------------------------------------ */

TEST(open_file_and_faults) {
    char zp[4200], dir[4200], empty[4200];
    path2(zp, sizeof zp, g_base, "f.zds");
    path2(dir, sizeof dir, g_base, "adir");
    path2(empty, sizeof empty, g_base, "empty.zds");
    tzip z;
    tz_build(&z, k_basic, N_BASIC, NULL);
    CHECK(t_write_file(zp, z.b.p, z.b.len) == 0);
    CHECK(t_write_file(empty, "", 0) == 0);
    CHECK(mkdir_p(dir) == 0);
    int fds = open_fds();
    zr_archive *a = NULL;
    CHECK(zr_open(&a, zp) == 0 && zr_count(a) == N_BASIC);
    CHECK_STR(zr_label(a), zp);
    CHECK(entry_is(a, "collections/users/meta/data.jsonl", k_log, strlen(k_log)));
    CHECK(entry_is(a, "zds.json", "{\"format\":1}", 12));
    zr_close(a);

    char missing[4200];
    path2(missing, sizeof missing, g_base, "missing.zds");
    a = (zr_archive *)&a;
    CHECK(zr_open(&a, missing) == ZIPPY_ENOTFOUND && !a && strstr(zippy_errmsg(), "does not exist"));
    CHECK(zr_open(&a, dir) == ZIPPY_EINVAL && !a && strstr(zippy_errmsg(), "is a directory"));
    CHECK(zr_open(&a, "") == ZIPPY_EINVAL && !a);
    CHECK(zr_open(&a, empty) == ZIPPY_ECORRUPT && !a && strstr(zippy_errmsg(), "0 bytes"));
    CHECK(strstr(zippy_errmsg(), empty));

    static const struct {
        zos_op op;
        int err, want;
        const char *needle;
    } cases[] = {
        {ZOS_OP_OPEN, EIO, ZIPPY_EIO, "cannot open"},
        {ZOS_OP_OPEN, EACCES, ZIPPY_EIO, "cannot open"},
        {ZOS_OP_OPEN, EMFILE, ZIPPY_EIO, "cannot open"},
        {ZOS_OP_MMAP, EIO, ZIPPY_EIO, "cannot map"},
        {ZOS_OP_MMAP, ENOMEM, ZIPPY_ENOMEM, "cannot map"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        zos_fault_set(cases[i].op, 1, cases[i].err, 0);
        int rc = zr_open(&a, zp);
        zos_fault_clear();
        CHECKF(rc == cases[i].want && !a && strstr(zippy_errmsg(), cases[i].needle) &&
                   strstr(zippy_errmsg(), zp),
               "case %zu: %d %s", i, rc, zippy_errmsg());
    }
    /* Not mappable (ENODEV): read into memory instead, through zos_pread. */
    unsigned long reads = zos_op_count(ZOS_OP_READ);
    zos_fault_set(ZOS_OP_MMAP, 1, ENODEV, 0);
    int rc = zr_open(&a, zp);
    zos_fault_clear();
    CHECKF(rc == 0, "%s", zippy_errmsg());
    CHECK(zos_op_count(ZOS_OP_READ) > reads);
    CHECK(entry_is(a, "collections/users/meta/data.jsonl", k_log, strlen(k_log)));
    CHECK(entry_is(a, "collections/users/docs/a.json", "{\"a\":1}", 7));
    zr_close(a);
    zos_fault_set(ZOS_OP_MMAP, 1, ENODEV, 0);
    zos_fault_set(ZOS_OP_READ, 1, EIO, 0);
    rc = zr_open(&a, zp);
    zos_fault_clear();
    CHECKF(rc == ZIPPY_EIO && !a && strstr(zippy_errmsg(), "cannot read"), "%s", zippy_errmsg());
    /* A READ fault alone does not matter: the file is mapped. */
    zos_fault_set(ZOS_OP_READ, 1, EIO, ZOS_FAULT_STICKY);
    rc = zr_open(&a, zp);
    zos_fault_clear();
    CHECK(rc == 0);
    zr_close(a);
    /* A hostile file is refused with its path in the message. */
    z.b.p[z.lho[4] + 31] ^= 1;
    CHECK(t_write_file(zp, z.b.p, z.b.len) == 0);
    CHECK(zr_open(&a, zp) == ZIPPY_ECORRUPT && !a && strstr(zippy_errmsg(), "names that lie"));
    CHECK(strstr(zippy_errmsg(), zp));
    CHECK_EQ(open_fds(), fds);
    tz_free(&z);
}

/* A failing allocator: the nth allocation from now fails. */
static struct {
    long nth, calls, live;
} g_fa;
static void *fa_malloc(size_t n) {
    if (++g_fa.calls == g_fa.nth) return NULL;
    void *p = malloc(n);
    if (p) g_fa.live++;
    return p;
}
static void *fa_realloc(void *p, size_t n) {
    if (++g_fa.calls == g_fa.nth) return NULL;
    void *q = realloc(p, n);
    if (q && !p) g_fa.live++;
    return q;
}
static void fa_free(void *p) {
    if (p) g_fa.live--;
    free(p);
}

/* Open, read every entry, list: ZIPPY_OK or the first error. */
static int full_read(const void *p, size_t n) {
    zr_archive *a = NULL;
    int rc = zr_open_mem(&a, p, n, LABEL);
    for (size_t i = 0; !rc && i < zr_count(a); i++) {
        const char *d;
        size_t len;
        void *owned = NULL;
        rc = zr_entry_bytes(a, zr_entry_at(a, i), &d, &len, &owned);
        z_free(owned);
    }
    char **v = NULL;
    if (!rc) rc = zr_list_children(a, "collections/users/", &v, NULL);
    zippy_strv_free(v);
    zr_close(a);
    return rc;
}

TEST(allocation_failures) {
    tzip z;
    tz_build(&z, k_basic, N_BASIC, NULL);
    static const zippy_allocator fa = {fa_malloc, fa_realloc, fa_free};
    int failures = 0, done = 0;
    for (long nth = 1; nth < 500 && !done; nth++) {
        memset(&g_fa, 0, sizeof g_fa);
        g_fa.nth = nth;
        zippy_set_allocator(&fa);
        int rc = full_read(z.b.p, z.b.len);
        zippy_set_allocator(NULL);
        CHECKF(rc == 0 || rc == ZIPPY_ENOMEM, "nth %ld: %d %s", nth, rc, zippy_errmsg());
        CHECKF(g_fa.live == 0, "nth %ld: %ld blocks leaked", nth, g_fa.live);
        if (rc == 0) done = 1;
        else failures++;
    }
    CHECK(done && failures >= 8);
    tz_free(&z);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) {
        g_corpus = argv[2];
        argc = 1;
    }
    umask(022);
    g_base = t_tmpdir();
    t_select(argc, argv);
    RUN_SEL(read_store_and_deflate);
    RUN_SEL(listing_helpers);
    RUN_SEL(empty_archive);
    RUN_SEL(data_descriptor);
    RUN_SEL(zip64_hand_built);
    RUN_SEL(info_zip_archives);
    RUN_SEL(python_zipfile_archives);
    RUN_SEL(zippy_pack_archives);
    RUN_SEL(hostile_end_records);
    RUN_SEL(hostile_names);
    RUN_SEL(hostile_types);
    RUN_SEL(hostile_duplicates);
    RUN_SEL(hostile_flags_and_methods);
    RUN_SEL(hostile_local_headers);
    RUN_SEL(overlapping_entries);
    RUN_SEL(zip_bombs);
    RUN_SEL(inflate_lies);
    RUN_SEL(shared_between_threads);
    RUN_SEL(open_file_and_faults);
    RUN_SEL(allocation_failures);
    t_rm_rf(g_base);
    free(g_base);
    TEST_END();
}
