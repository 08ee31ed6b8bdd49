/* test_files.c - the file-per-document layout (docs/FORMAT.md 2a) through
 * the public API: every call on a files collection, the bytes of document
 * files, id <-> file name encoding, hand edits seen at reopen and refresh,
 * errors naming the file, strict collections, read-only opens that change
 * nothing, stores of the original ZDS built byte by byte, derived files
 * that self-heal, and injected I/O faults during flushes.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "os.h" /* fault injection */
#include "zippy.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static zippy_buf g_buf = ZIPPY_BUF_INIT;
static char *g_dirs[1024];
static int g_ndirs;

static const char *tmpdir(void) {
    char *d = t_tmpdir();
    if (g_ndirs < 1024) g_dirs[g_ndirs++] = d; /* freed and removed at exit */
    return d;
}

static const char *fmt(const char *f, ...) {
    static char bufs[16][8192];
    static int k;
    char *b = bufs[k++ & 15];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 8192, f, ap);
    va_end(ap);
    return b;
}

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static int write_s(const char *path, const char *s) { return t_write_file(path, s, strlen(s)); }

static int open_c(const char *dir, const char *name, unsigned flags, zippy_layout layout, zippy_sync_mode sync,
                  zippy_root **r, zippy_coll **c) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = flags;
    o.layout = layout;
    o.sync = sync;
    *r = NULL;
    *c = NULL;
    int rc = zippy_root_open(r, dir, &o);
    if (rc) return rc;
    rc = zippy_coll_open(c, *r, name, &o);
    if (rc) {
        zippy_root_close(*r);
        *r = NULL;
        *c = NULL;
    }
    return rc;
}
#define OPEN_FILES(dir, name, r, c) open_c(dir, name, ZIPPY_OPEN_CREATE, ZIPPY_LAYOUT_FILES, ZIPPY_SYNC_FLUSH, r, c)
#define OPEN_RW(dir, name, r, c) open_c(dir, name, ZIPPY_OPEN_CREATE, ZIPPY_LAYOUT_DEFAULT, ZIPPY_SYNC_FLUSH, r, c)
#define OPEN_RO(dir, name, r, c) open_c(dir, name, ZIPPY_OPEN_READONLY, ZIPPY_LAYOUT_DEFAULT, ZIPPY_SYNC_FLUSH, r, c)

static int close_c(zippy_root *r, zippy_coll *c) {
    int rc = zippy_coll_close(c);
    zippy_root_close(r);
    return rc;
}

static int put_s(zippy_coll *c, const char *id, const char *json) {
    return zippy_put(c, id, strlen(id), json, strlen(json));
}

/* The document id as compact JSON (NULL if absent / error). */
static const char *get_s(zippy_coll *c, const char *id) {
    int rc = zippy_get(c, id, strlen(id), 0, &g_buf);
    return rc ? NULL : g_buf.ptr;
}

/* Every document in scan order: "id=doc\n"... (malloc'ed). */
static char *dump(zippy_coll *c, const zippy_scan_options *so) {
    zippy_scan *s;
    zippy_buf out = ZIPPY_BUF_INIT;
    const char *id, *doc;
    size_t il, dl;
    if (zippy_scan_open(&s, c, so)) return NULL;
    int rc;
    while ((rc = zippy_scan_next(s, &id, &il, &doc, &dl)) == 1) {
        char *p = realloc(out.ptr, out.len + il + dl + 3);
        if (!p) break;
        out.ptr = p;
        memcpy(out.ptr + out.len, id, il);
        out.len += il;
        out.ptr[out.len++] = '=';
        if (doc) memcpy(out.ptr + out.len, doc, dl);
        out.len += doc ? dl : 0;
        out.ptr[out.len++] = '\n';
    }
    zippy_scan_close(s);
    if (rc < 0) {
        free(out.ptr);
        return NULL;
    }
    char *p = realloc(out.ptr, out.len + 1);
    if (!p) {
        free(out.ptr);
        return NULL;
    }
    p[out.len] = 0;
    return p;
}

static const char *coll_dir(const char *dir, const char *name) { return fmt("%s/collections/%s", dir, name); }
static const char *doc_file(const char *dir, const char *name, const char *file) {
    return fmt("%s/collections/%s/docs/%s", dir, name, file);
}

/* Names, sizes, mtimes and contents of every file under dir (recursive),
 * as one string, to show that nothing changed. */
static void snap_rec(const char *dir, const char *rel, zippy_buf *out) {
    char p[4096];
    snprintf(p, sizeof p, "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(p);
    if (!d) return;
    char *names[512];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) > 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    for (int i = 0; i < n; i++) {
        char r2[4096], full[8192];
        snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        snprintf(full, sizeof full, "%s/%s", dir, r2);
        struct stat st;
        if (lstat(full, &st) == 0) {
            char line[8400];
            int k = snprintf(line, sizeof line, "%s %lld %lld.%09ld\n", r2, (long long)st.st_size,
                             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            size_t nl = out->len + (size_t)k + (size_t)st.st_size + 2;
            out->ptr = realloc(out->ptr, nl + 1);
            memcpy(out->ptr + out->len, line, (size_t)k);
            out->len += (size_t)k;
            if (S_ISDIR(st.st_mode)) {
                snap_rec(dir, r2, out);
            } else {
                size_t fl = 0;
                char *c = t_read_file(full, &fl);
                if (c) {
                    out->ptr = realloc(out->ptr, out->len + fl + 2);
                    memcpy(out->ptr + out->len, c, fl);
                    out->len += fl;
                    free(c);
                }
            }
            out->ptr[out->len] = 0;
        }
        free(names[i]);
    }
}
static char *snapshot(const char *dir) {
    zippy_buf b = ZIPPY_BUF_INIT;
    b.ptr = calloc(1, 1);
    snap_rec(dir, "", &b);
    return b.ptr;
}

/* Sleeps a little so that rewrites get new mtimes even on coarse clocks. */
static void tick(void) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* Basics                                                              */
/* ------------------------------------------------------------------ */

TEST(files_basics) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_FILES(dir, "users", &r, &c), 0);
    CHECK(exists(fmt("%s/docs", coll_dir(dir, "users"))));
    CHECK_EQ(put_s(c, "user_001", "{\"name\":\"Alice\",\"age\":28}"), 0);
    CHECK_EQ(put_s(c, "user_002", "{\"_id\":\"user_002\",\"name\":\"Bob\"}"), 0);
    CHECK_EQ(put_s(c, "user_003", "{}"), 0);
    CHECK_STR(get_s(c, "user_001"), "{\"name\":\"Alice\",\"age\":28}");
    CHECK_EQ(zippy_get(c, "user_002", 8, ZIPPY_GET_WITH_ID, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"_id\":\"user_002\",\"name\":\"Bob\"}");
    CHECK_EQ(zippy_exists(c, "user_003", 8), 1);
    CHECK_EQ(zippy_exists(c, "nobody", 6), 0);
    CHECK_EQ(zippy_delete(c, "user_003", 8), 0);
    CHECK_EQ(zippy_delete(c, "user_003", 8), ZIPPY_ENOTFOUND);
    uint64_t n = 0;
    CHECK_EQ(zippy_count(c, &n), 0);
    CHECK_EQ(n, 2);
    /* Not flushed yet: docs/ lags, the cache answers. */
    CHECK(!exists(doc_file(dir, "users", "user_001.json")));
    CHECK_EQ(zippy_coll_flush(c), 0);
    CHECK(exists(doc_file(dir, "users", "user_001.json")));
    CHECK(exists(doc_file(dir, "users", "user_002.json")));
    CHECK(!exists(doc_file(dir, "users", "user_003.json")));
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_FILES);
    CHECK_EQ(st.count, 2);
    CHECK_EQ(st.legacy, 0);
    char **ids = NULL;
    size_t k = 0;
    CHECK_EQ(zippy_ids(c, &ids, &k), 0);
    CHECK_EQ(k, 2);
    CHECK_STR(ids[0], "user_001");
    CHECK_STR(ids[1], "user_002");
    zippy_strv_free(ids);
    CHECK_EQ(close_c(r, c), 0);

    /* Derived and recorded files. */
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/meta", coll_dir(dir, "users"));
    char *man = t_read_file(fmt("%s/manifest.json", meta), NULL);
    CHECK(man && strstr(man, "\"layout\": \"files\""));
    free(man);
    char *zj = t_read_file(fmt("%s/zds.json", dir), NULL);
    CHECK(zj && strstr(zj, "\"users\": {\"count\": 2, \"layout\": \"files\"}"));
    free(zj);
    char *order = t_read_file(fmt("%s/order.ids", meta), NULL);
    CHECK(order);
    CHECK_STR(order, "user_001\nuser_002\n");
    free(order);
    char *gi = t_read_file(fmt("%s/.gitignore", meta), NULL);
    CHECK(gi && strstr(gi, "cache.jsonl\n") && strstr(gi, "files.state\n") && strstr(gi, "lock\n"));
    free(gi);
    CHECK(exists(fmt("%s/cache.jsonl", meta)));
    CHECK(exists(fmt("%s/cache.idx", meta)));
    CHECK(exists(fmt("%s/files.state", meta)));
    CHECK(!exists(fmt("%s/data.jsonl", meta)));

    /* Reopen with the default layout: it keeps files. */
    CHECK_EQ(OPEN_RW(dir, "users", &r, &c), 0);
    CHECK_STR(get_s(c, "user_001"), "{\"name\":\"Alice\",\"age\":28}");
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_FILES);
    CHECK_EQ(put_s(c, "user_001", "{\"name\":\"Alice\",\"age\":29}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "users", &r, &c), 0);
    CHECK_STR(get_s(c, "user_001"), "{\"name\":\"Alice\",\"age\":29}");
    CHECK_EQ(put_s(c, "x", "{}"), ZIPPY_EREADONLY);
    zippy_buf info = ZIPPY_BUF_INIT;
    CHECK_EQ(zippy_root_info_json(r, &info), 0);
    CHECK(strstr(info.ptr, "\"layout\": \"files\""));
    zippy_buf_free(&info);
    CHECK_EQ(close_c(r, c), 0);
    /* A new collection without the option is JSONL. */
    CHECK_EQ(OPEN_RW(dir, "plain", &r, &c), 0);
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_JSONL);
    CHECK_EQ(close_c(r, c), 0);
}

TEST(files_pretty_bytes) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    CHECK_EQ(put_s(c, "doc_001",
                   "{ \"name\" : \"Al\\u00e9\", \"age\":3, \"tags\":[\"a\",{\"b\":null}], \"o\":{}, \"e\":[], "
                   "\"big\": 123456789012345678901234567890, \"f\": 1.50e3, \"q\":\"x\\\"y\\n\"}"),
             0);
    CHECK_EQ(close_c(r, c), 0);
    size_t n = 0;
    char *txt = t_read_file(doc_file(dir, "c", "doc_001.json"), &n);
    CHECK(txt);
    const char *want = "{\n"
                       "  \"name\": \"Al\xc3\xa9\",\n"
                       "  \"age\": 3,\n"
                       "  \"tags\": [\n"
                       "    \"a\",\n"
                       "    {\n"
                       "      \"b\": null\n"
                       "    }\n"
                       "  ],\n"
                       "  \"o\": {},\n"
                       "  \"e\": [],\n"
                       "  \"big\": 123456789012345678901234567890,\n"
                       "  \"f\": 1.50e3,\n"
                       "  \"q\": \"x\\\"y\\n\"\n"
                       "}\n";
    CHECKF(n == strlen(want) && !memcmp(txt, want, n), "file is:\n%s", txt);
    free(txt);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "doc_001"), "{\"name\":\"Al\\u00e9\",\"age\":3,\"tags\":[\"a\",{\"b\":null}],\"o\":{},\"e\":[],"
                                   "\"big\":123456789012345678901234567890,\"f\":1.50e3,\"q\":\"x\\\"y\\n\"}");
    CHECK_EQ(close_c(r, c), 0);
}

/* ------------------------------------------------------------------ */
/* Same answers as JSONL                                               */
/* ------------------------------------------------------------------ */

static int fill_both(zippy_coll *c) {
    char id[32], doc[256];
    int rc = 0;
    for (int i = 0; i < 60 && !rc; i++) {
        snprintf(id, sizeof id, "doc_%03d", (i * 37) % 60);
        snprintf(doc, sizeof doc, "{\"n\":%d,\"grp\":\"g%d\",\"addr\":{\"city\":\"c%d\",\"zip\":%d},\"tags\":[%d]}", i,
                 i % 4, i % 3, 1000 + i, i);
        rc = put_s(c, id, doc);
    }
    for (int i = 0; i < 60 && !rc; i += 7) {
        snprintf(id, sizeof id, "doc_%03d", i);
        rc = zippy_delete(c, id, strlen(id));
    }
    for (int i = 1; i < 60 && !rc; i += 11) { /* updates move to the end */
        snprintf(id, sizeof id, "doc_%03d", i);
        snprintf(doc, sizeof doc, "{\"n\":%d,\"grp\":\"upd\",\"addr\":{\"city\":\"x\"}}", i);
        rc = put_s(c, id, doc);
    }
    const char *jl = "{\"_id\":\"bulk_1\",\"n\":-1,\"grp\":\"b\"}\n{\"_id\":\"bulk_2\",\"n\":-2}\n";
    uint64_t w = 0;
    if (!rc) rc = zippy_put_jsonl(c, jl, strlen(jl), NULL, NULL, 0, &w);
    return rc;
}

static const char *compare_colls(zippy_coll *a, zippy_coll *b) {
    static char why[512];
    static const struct {
        const char *filter, *fields;
        uint64_t limit, skip;
        unsigned flags;
    } q[] = {
        {NULL, NULL, 0, 0, 0},
        {NULL, NULL, 0, 0, ZIPPY_SCAN_WITH_ID},
        {"{\"n\":{\"$gt\":20}}", NULL, 0, 0, 0},
        {"{\"grp\":{\"$in\":[\"g1\",\"upd\"]}}", "n,addr.city", 0, 0, ZIPPY_SCAN_WITH_ID},
        {NULL, "addr.zip", 5, 3, 0},
        {"{\"addr.city\":\"c1\"}", NULL, 4, 2, ZIPPY_SCAN_IDS_ONLY},
        {"{\"$or\":[{\"n\":{\"$lt\":0}},{\"tags\":{\"$exists\":false}}]}", "grp", 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.filter = q[i].filter;
        so.fields = q[i].fields;
        so.limit = q[i].limit;
        so.skip = q[i].skip;
        so.flags = q[i].flags;
        char *x = dump(a, &so), *y = dump(b, &so);
        int same = x && y && !strcmp(x, y);
        if (!same) snprintf(why, sizeof why, "query %zu differs:\n%.200s\nvs\n%.200s", i, x ? x : "(err)", y ? y : "(err)");
        free(x);
        free(y);
        if (!same) return why;
    }
    uint64_t na, nb;
    if (zippy_count(a, &na) || zippy_count(b, &nb) || na != nb) return "counts differ";
    zippy_buf ia = ZIPPY_BUF_INIT, da = ZIPPY_BUF_INIT, ib = ZIPPY_BUF_INIT, db = ZIPPY_BUF_INIT;
    for (uint64_t i = 0; i <= na; i++) {
        int ra = zippy_get_at(a, i, 0, &ia, &da), rb = zippy_get_at(b, i, 0, &ib, &db);
        if (ra != rb || (!ra && (strcmp(ia.ptr, ib.ptr) || strcmp(da.ptr, db.ptr)))) {
            snprintf(why, sizeof why, "get_at %llu differs", (unsigned long long)i);
            return why;
        }
    }
    zippy_buf_free(&ia);
    zippy_buf_free(&da);
    zippy_buf_free(&ib);
    zippy_buf_free(&db);
    char **va, **vb;
    size_t ka, kb;
    if (zippy_ids(a, &va, &ka) || zippy_ids(b, &vb, &kb)) return "ids failed";
    int same = ka == kb;
    for (size_t i = 0; same && i < ka; i++) same = !strcmp(va[i], vb[i]);
    zippy_strv_free(va);
    zippy_strv_free(vb);
    return same ? NULL : "ids differ";
}

TEST(files_same_as_jsonl) {
    const char *dir = tmpdir();
    zippy_root *ra, *rb;
    zippy_coll *a, *b;
    CHECK_EQ(OPEN_RW(dir, "j", &ra, &a), 0);
    CHECK_EQ(OPEN_FILES(dir, "f", &rb, &b), 0);
    CHECK_EQ(fill_both(a), 0);
    CHECK_EQ(fill_both(b), 0);
    const char *why = compare_colls(a, b);
    CHECKF(!why, "before flush: %s", why);
    CHECK_EQ(zippy_coll_flush(b), 0);
    why = compare_colls(a, b);
    CHECKF(!why, "after flush: %s", why);
    CHECK_EQ(close_c(rb, b), 0);
    /* Reopened: read-only, then writable, then after compact and reindex. */
    CHECK_EQ(OPEN_RO(dir, "f", &rb, &b), 0);
    why = compare_colls(a, b);
    CHECKF(!why, "read-only reopen: %s", why);
    CHECK_EQ(close_c(rb, b), 0);
    CHECK_EQ(OPEN_RW(dir, "f", &rb, &b), 0);
    why = compare_colls(a, b);
    CHECKF(!why, "writable reopen: %s", why);
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(b, &st), 0);
    uint64_t before = st.log_bytes;
    CHECK_EQ(zippy_coll_compact(b), 0);
    CHECK_EQ(zippy_coll_compact(a), 0);
    CHECK_EQ(zippy_coll_stats(b, &st), 0);
    CHECK(st.log_bytes < before);
    CHECK_EQ(st.log_bytes, st.live_bytes);
    why = compare_colls(a, b);
    CHECKF(!why, "after compact: %s", why);
    CHECK_EQ(zippy_coll_reindex(b), 0);
    why = compare_colls(a, b);
    CHECKF(!why, "after reindex: %s", why);
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(b, &vr) == 0, "%s", zippy_errmsg());
    CHECK_EQ(vr.live, st.count);
    CHECK_EQ(close_c(rb, b), 0);
    /* After compaction and reindex the reopen still needs no rebuild and
     * agrees. */
    CHECK_EQ(OPEN_RO(dir, "f", &rb, &b), 0);
    why = compare_colls(a, b);
    CHECKF(!why, "reopen after maintenance: %s", why);
    CHECK_EQ(close_c(rb, b), 0);
    CHECK_EQ(close_c(ra, a), 0);
}

/* ------------------------------------------------------------------ */
/* Ids and file names                                                  */
/* ------------------------------------------------------------------ */

TEST(files_id_encoding) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    char id255[256], colons[256], uni[256];
    memset(id255, 'a', 255);
    id255[255] = 0;
    for (int i = 0; i < 255; i++) colons[i] = i % 2 ? ':' : 'b';
    colons[255] = 0;
    /* 84 three-byte characters + 3 ASCII bytes = 255 bytes */
    size_t u = 0;
    for (int i = 0; i < 84; i++) {
        memcpy(uni + u, "\xe6\x97\xa5", 3);
        u += 3;
    }
    memcpy(uni + u, "x:y", 4);
    CHECK_EQ(strlen(uni), 255);
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    CHECK_EQ(put_s(c, "doc_001", "{\"v\":1}"), 0);
    CHECK_EQ(put_s(c, "urn:isbn:123", "{\"v\":2}"), 0);
    CHECK_EQ(put_s(c, "\xe6\x97\xa5\xe6\x9c\xac-\xc3\xbc", "{\"v\":3}"), 0);
    CHECK_EQ(put_s(c, id255, "{\"v\":4}"), 0);
    CHECK_EQ(put_s(c, colons, "{\"v\":5}"), 0);
    CHECK_EQ(put_s(c, uni, "{\"v\":6}"), 0);
    CHECK_EQ(put_s(c, "a.b@c+d=e_f-g", "{\"v\":7}"), 0);
    /* 250 bytes: the name would fit but its temp name ".<name>.json.tmp"
     * would not, so it is hashed too (a regression: flush failed) */
    char id250[251];
    memset(id250, 'z', 250);
    id250[250] = 0;
    CHECK_EQ(put_s(c, id250, "{\"v\":8}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK(exists(doc_file(dir, "c", "doc_001.json")));
    CHECK(exists(doc_file(dir, "c", "urn%3Aisbn%3A123.json")));
    CHECK(exists(doc_file(dir, "c", "\xe6\x97\xa5\xe6\x9c\xac-\xc3\xbc.json")));
    CHECK(exists(doc_file(dir, "c", "a.b@c+d=e_f-g.json")));
    /* Long ids: <prefix>~<hash>.json, carrying "_id". */
    DIR *d = opendir(fmt("%s/docs", coll_dir(dir, "c")));
    CHECK(d);
    struct dirent *de;
    int hashed = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (!strchr(de->d_name, '~')) continue;
        hashed++;
        CHECK(n <= 255);
        const char *t = strchr(de->d_name, '~');
        CHECK_EQ(strlen(t), 1 + 16 + 5);
        size_t fl;
        char *txt = t_read_file(doc_file(dir, "c", de->d_name), &fl);
        CHECK(txt && !strncmp(txt, "{\n  \"_id\": \"", 12));
        /* the prefix is cut at a character boundary */
        CHECK(!strncmp(de->d_name, id255, 10) || !strncmp(de->d_name, "b%3Ab", 5) ||
              !strncmp(de->d_name, "\xe6\x97\xa5", 3) || !strncmp(de->d_name, "zzzz", 4));
        if (!strncmp(de->d_name, "\xe6\x97\xa5\xe6\x97\xa5", 6)) CHECK((t - de->d_name) % 3 == 0);
        if (!strncmp(de->d_name, "b%3A", 4)) CHECK(t[-1] == 'b' || t[-1] == 'A');
        free(txt);
    }
    closedir(d);
    CHECK_EQ(hashed, 4);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "urn:isbn:123"), "{\"v\":2}");
    CHECK_STR(get_s(c, "\xe6\x97\xa5\xe6\x9c\xac-\xc3\xbc"), "{\"v\":3}");
    CHECK_STR(get_s(c, id255), "{\"v\":4}");
    CHECK_STR(get_s(c, colons), "{\"v\":5}");
    CHECK_STR(get_s(c, uni), "{\"v\":6}");
    CHECK_EQ(close_c(r, c), 0);
    /* Rebuilt from docs/ alone (no cache): same. */
    CHECK_EQ(unlink(fmt("%s/meta/cache.jsonl", coll_dir(dir, "c"))), 0);
    CHECK_EQ(unlink(fmt("%s/meta/order.ids", coll_dir(dir, "c"))), 0);
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, id255), "{\"v\":4}");
    CHECK_STR(get_s(c, uni), "{\"v\":6}");
    CHECK_STR(get_s(c, "urn:isbn:123"), "{\"v\":2}");
    uint64_t n;
    CHECK_EQ(zippy_count(c, &n), 0);
    CHECK_EQ(n, 8);
    CHECK_STR(get_s(c, id250), "{\"v\":8}");
    /* deleting a hashed one removes its file */
    CHECK_EQ(zippy_delete(c, id255, 255), 0);
    CHECK_EQ(close_c(r, c), 0);
    d = opendir(fmt("%s/docs", coll_dir(dir, "c")));
    hashed = 0;
    while ((de = readdir(d))) hashed += strchr(de->d_name, '~') != NULL;
    closedir(d);
    CHECK_EQ(hashed, 3);
}

TEST(files_invalid_names) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":1}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    static const char *bad[] = {"my file.json", "a:b.json", "x%3a.json", "noext", "a..b.json", "a%25.json",
                                "q~0123.json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = doc_file(dir, "c", bad[i]);
        CHECK_EQ(write_s(p, "{}\n"), 0);
        int rc = OPEN_RW(dir, "c", &r, &c);
        CHECKF(rc == ZIPPY_ECORRUPT, "%s: rc %d", bad[i], rc);
        CHECKF(strstr(zippy_errmsg(), fmt("docs/%s: not a valid document id (rename it)", bad[i])), "%s: %s", bad[i],
               zippy_errmsg());
        rc = OPEN_RO(dir, "c", &r, &c);
        CHECK_EQ(rc, ZIPPY_ECORRUPT);
        CHECK_EQ(unlink(p), 0);
    }
    /* Hidden files that are not ours are left alone; our temp files go. */
    CHECK_EQ(write_s(doc_file(dir, "c", ".gitkeep"), ""), 0);
    CHECK_EQ(write_s(doc_file(dir, "c", ".a.json.tmp"), "{\"half"), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "a"), "{\"v\":1}");
    CHECK_EQ(close_c(r, c), 0);
    CHECK(exists(doc_file(dir, "c", ".a.json.tmp")));
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK(!exists(doc_file(dir, "c", ".a.json.tmp")));
    CHECK(exists(doc_file(dir, "c", ".gitkeep")));
    /* A directory in docs/ is not a document. */
    CHECK_EQ(mkdir(doc_file(dir, "c", "sub.json"), 0755), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "sub.json: not a regular file"));
    CHECK_EQ(rmdir(doc_file(dir, "c", "sub.json")), 0);
    /* A hashed name whose file lacks the matching "_id". */
    char name[300];
    memset(name, 'z', 200);
    snprintf(name + 200, 100, "~0123456789abcdef.json");
    CHECK_EQ(write_s(doc_file(dir, "c", name), "{\"v\":1}\n"), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "hashed name"));
    CHECK_EQ(unlink(doc_file(dir, "c", name)), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    CHECK_EQ(close_c(r, c), 0);
}

/* ------------------------------------------------------------------ */
/* Hand edits                                                          */
/* ------------------------------------------------------------------ */

TEST(files_hand_edits) {
    const char *dir = tmpdir();
    zippy_root *r, *ro_r;
    zippy_coll *c, *ro;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":1}"), 0);
    CHECK_EQ(put_s(c, "b", "{\"v\":2}"), 0);
    CHECK_EQ(put_s(c, "c", "{\"v\":3}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    /* A read-only handle open before the edits. */
    CHECK_EQ(OPEN_RO(dir, "c", &ro_r, &ro), 0);
    CHECK_STR(get_s(ro, "a"), "{\"v\":1}");
    /* Edit in place (same size, same inode), add, delete. */
    FILE *f = fopen(doc_file(dir, "c", "a.json"), "r+");
    CHECK(f);
    CHECK(fputs("{\n  \"v\": 9\n}\n", f) >= 0);
    fclose(f);
    CHECK_EQ(write_s(doc_file(dir, "c", "new_one.json"), "{\n  \"hand\": true,\n  \"list\": [1, 2]\n}\n"), 0);
    CHECK_EQ(unlink(doc_file(dir, "c", "b.json")), 0);
    /* Not yet seen by the open handle... */
    CHECK_STR(get_s(ro, "a"), "{\"v\":1}");
    /* ...until it refreshes. */
    CHECKF(zippy_coll_refresh(ro) == 0, "%s", zippy_errmsg());
    CHECK_STR(get_s(ro, "a"), "{\"v\":9}");
    CHECK_STR(get_s(ro, "new_one"), "{\"hand\":true,\"list\":[1,2]}");
    CHECK(get_s(ro, "b") == NULL);
    uint64_t n;
    CHECK_EQ(zippy_count(ro, &n), 0);
    CHECK_EQ(n, 3);
    /* A new read-only open sees them, changing no file. */
    char *before = snapshot(dir);
    zippy_root *r2;
    zippy_coll *c2;
    CHECK_EQ(OPEN_RO(dir, "c", &r2, &c2), 0);
    CHECK_STR(get_s(c2, "a"), "{\"v\":9}");
    CHECK_STR(get_s(c2, "new_one"), "{\"hand\":true,\"list\":[1,2]}");
    CHECK(get_s(c2, "b") == NULL);
    char *d2 = dump(c2, NULL);
    CHECK(d2);
    /* edits count as writes: the edited and new documents come last */
    CHECK_STR(d2, "c={\"v\":3}\na={\"v\":9}\nnew_one={\"hand\":true,\"list\":[1,2]}\n");
    free(d2);
    CHECK_EQ(close_c(r2, c2), 0);
    char *after = snapshot(dir);
    CHECK_STR(before, after);
    free(before);
    free(after);
    /* A writable open takes them into the cache and order.ids. */
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "a"), "{\"v\":9}");
    CHECK(get_s(c, "b") == NULL);
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
    /* Edits made while the writer is open are seen at its refresh too. */
    tick();
    CHECK_EQ(write_s(doc_file(dir, "c", "c.json"), "{\"v\":33}"), 0);
    CHECK_EQ(zippy_coll_verify(c, &vr), ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "docs/c.json: differs from the cache"), "%s", zippy_errmsg());
    CHECK_EQ(zippy_coll_refresh(c), 0);
    CHECK_STR(get_s(c, "c"), "{\"v\":33}");
    CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
    CHECK_EQ(close_c(r, c), 0);
    char *order = t_read_file(fmt("%s/meta/order.ids", coll_dir(dir, "c")), NULL);
    CHECK_STR(order, "a\nnew_one\nc\n");
    free(order);
    /* The old read-only handle: a stray file is reported by verify. */
    CHECK_EQ(write_s(doc_file(dir, "c", "bad name.json"), "{}"), 0);
    CHECK_EQ(zippy_coll_verify(ro, &vr), ZIPPY_ECORRUPT);
    CHECK(vr.bad_lines > 0);
    CHECK_EQ(close_c(ro_r, ro), 0);
    CHECK_EQ(unlink(doc_file(dir, "c", "bad name.json")), 0);
}

TEST(files_invalid_json_reported) {
    const char *dir = tmpdir();
    zippy_root *r, *ro_r;
    zippy_coll *c, *ro;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":1}"), 0);
    CHECK_EQ(put_s(c, "b", "{\"v\":2}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &ro_r, &ro), 0);
    CHECK_EQ(write_s(doc_file(dir, "c", "b.json"), "{\n  \"v\": 2,\n  \"w\": tru\n}\n"), 0);
    /* A refresh reports it and keeps serving what it had. */
    CHECK_EQ(zippy_coll_refresh(ro), ZIPPY_ECORRUPT);
    const char *m = zippy_errmsg();
    CHECKF(strstr(m, "docs/b.json") && strstr(m, "line 3"), "%s", m);
    CHECK_STR(get_s(ro, "b"), "{\"v\":2}");
    CHECK_EQ(close_c(ro_r, ro), 0);
    /* Opens fail, naming the file and the line. */
    int rc = OPEN_RW(dir, "c", &r, &c);
    CHECK_EQ(rc, ZIPPY_ECORRUPT);
    m = zippy_errmsg();
    CHECKF(strstr(m, "docs/b.json") && strstr(m, "line 3") && strstr(m, "column"), "%s", m);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "docs/b.json"));
    /* Not an object, the reserved key, an _id that disagrees. */
    static const char *bad[] = {"[1,2]\n", "{\"$deleted\":true}\n", "{\"_id\":\"zzz\",\"v\":1}\n", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(write_s(doc_file(dir, "c", "b.json"), bad[i]), 0);
        CHECKF(OPEN_RO(dir, "c", &r, &c) == ZIPPY_ECORRUPT, "%s", bad[i]);
        CHECK(strstr(zippy_errmsg(), "docs/b.json"));
    }
    /* An _id that agrees is fine (and stripped). */
    CHECK_EQ(write_s(doc_file(dir, "c", "b.json"), "{\"_id\":\"b\",\"v\":7}"), 0);
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "b"), "{\"v\":7}");
    CHECK_EQ(close_c(r, c), 0);
}

TEST(files_strict) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.layout = ZIPPY_LAYOUT_FILES;
    o.strict = 1;
    CHECK_EQ(zippy_root_open(&r, dir, &o), 0);
    CHECK_EQ(zippy_coll_open(&c, r, "p", &o), 0);
    CHECK_EQ(put_s(c, "u1", "{\"name\":\"Al\",\"age\":30}"), 0);
    CHECK_EQ(put_s(c, "u2", "{\"name\":\"Al\",\"age\":\"x\"}"), ZIPPY_ESCHEMA);
    CHECK_EQ(close_c(r, c), 0);
    CHECK(exists(fmt("%s/meta/schema.json", coll_dir(dir, "p"))));
    CHECK(!exists(doc_file(dir, "p", "u2.json")));
    /* persists */
    CHECK_EQ(OPEN_RW(dir, "p", &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    CHECK_EQ(put_s(c, "u3", "{\"name\":1,\"age\":2}"), ZIPPY_ESCHEMA);
    CHECK_EQ(put_s(c, "u3", "{\"age\":2,\"name\":\"Cy\"}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    /* a hand edit that breaks the schema is reported naming the file */
    CHECK_EQ(write_s(doc_file(dir, "p", "u3.json"), "{\"age\":2}\n"), 0);
    CHECK_EQ(OPEN_RW(dir, "p", &r, &c), ZIPPY_ESCHEMA);
    const char *m = zippy_errmsg();
    CHECKF(strstr(m, "Schema mismatch") && strstr(m, "docs/u3.json") && strstr(m, "missing field \"name\""), "%s", m);
    CHECK_EQ(OPEN_RO(dir, "p", &r, &c), ZIPPY_ESCHEMA);
    CHECK(strstr(zippy_errmsg(), "docs/u3.json"));
    CHECK_EQ(write_s(doc_file(dir, "p", "u3.json"), "{\"age\":2,\"name\":\"fixed\"}\n"), 0);
    CHECK_EQ(OPEN_RO(dir, "p", &r, &c), 0);
    CHECK_STR(get_s(c, "u3"), "{\"age\":2,\"name\":\"fixed\"}");
    CHECK_EQ(close_c(r, c), 0);
}

/* ------------------------------------------------------------------ */
/* Read-only opens and stores of the original ZDS                      */
/* ------------------------------------------------------------------ */

/* Builds collections/<name> of the original ZDS's file layout. */
static void zds_store(const char *dir, const char *name, int pretty, int with_order, int with_extras) {
    char cd[4096];
    snprintf(cd, sizeof cd, "%s", coll_dir(dir, name));
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/docs' '%s/meta'", cd, cd);
    if (system(cmd)) return;
    static const char *ids[] = {"doc_003", "doc_001", "doc_002", "extra"};
    static const char *compact[] = {"{\"title\":\"three\",\"n\":3}", "{\"title\":\"one\",\"n\":1,\"tags\":[\"x\"]}",
                                    "{\"title\":\"two\",\"n\":2,\"nested\":{\"k\":null}}", "{\"title\":\"extra\"}"};
    static const char *prettyv[] = {"{\n  \"title\": \"three\",\n  \"n\": 3\n}",
                                    "{\n  \"title\": \"one\",\n  \"n\": 1,\n  \"tags\": [\n    \"x\"\n  ]\n}",
                                    "{\n    \"title\": \"two\",\n    \"n\": 2,\n    \"nested\": {\"k\": null}\n}\n",
                                    "{\"title\": \"extra\"}\n"};
    for (int i = 0; i < 4; i++)
        write_s(fmt("%s/docs/%s.json", cd, ids[i]), pretty ? prettyv[i] : compact[i]);
    if (with_order) write_s(fmt("%s/meta/order.ids", cd), "doc_003\ndoc_001\ngone_id\ndoc_002\n");
    if (with_extras) {
        write_s(fmt("%s/meta/doc_index.jsonl", cd),
                "{\"_id\":\"doc_002\",\"file\":\"docs/doc_002.json\"}\n{\"id\":\"doc_001\"}\nnot json\n"
                "{\"_id\":\"doc_003\"}\n");
        write_s(fmt("%s/meta/schemas.jsonl", cd), "{\"schema\":{\"title\":\"string\"},\"count\":4}\n");
        write_s(fmt("%s/meta/journal.log", cd), "put doc_001\nput doc_002\n");
        write_s(fmt("%s/meta/manifest.json", cd), "{\"name\":\"zds\",\"layout\":\"document_store\",\"version\":\"0.1\"}\n");
    }
}

static const char *zds_expect(int with_order, int with_index) {
    if (with_order) /* order.ids, then the rest by name */
        return "doc_003={\"title\":\"three\",\"n\":3}\ndoc_001={\"title\":\"one\",\"n\":1,\"tags\":[\"x\"]}\n"
               "doc_002={\"title\":\"two\",\"n\":2,\"nested\":{\"k\":null}}\nextra={\"title\":\"extra\"}\n";
    if (with_index) /* doc_index.jsonl */
        return "doc_002={\"title\":\"two\",\"n\":2,\"nested\":{\"k\":null}}\ndoc_001={\"title\":\"one\",\"n\":1,\"tags\":[\"x\"]}\n"
               "doc_003={\"title\":\"three\",\"n\":3}\nextra={\"title\":\"extra\"}\n";
    return "doc_001={\"title\":\"one\",\"n\":1,\"tags\":[\"x\"]}\ndoc_002={\"title\":\"two\",\"n\":2,\"nested\":{\"k\":null}}\n"
           "doc_003={\"title\":\"three\",\"n\":3}\nextra={\"title\":\"extra\"}\n";
}

TEST(files_original_zds_stores) {
    for (int v = 0; v < 8; v++) {
        int pretty = v & 1, with_order = (v >> 1) & 1, extras = (v >> 2) & 1;
        const char *dir = tmpdir();
        zds_store(dir, "ds", pretty, with_order, extras);
        char *before = snapshot(dir);
        zippy_root *r;
        zippy_coll *c;
        CHECKF(OPEN_RO(dir, "ds", &r, &c) == 0, "variant %d: %s", v, zippy_errmsg());
        char *d = dump(c, NULL);
        CHECKF(d && !strcmp(d, zds_expect(with_order, extras)), "variant %d read-only:\n%s", v, d ? d : "(null)");
        free(d);
        uint64_t n;
        CHECK_EQ(zippy_count(c, &n), 0);
        CHECK_EQ(n, 4);
        CHECK_STR(get_s(c, "extra"), "{\"title\":\"extra\"}"); /* missing from order.ids: still live */
        zippy_stats st;
        CHECK_EQ(zippy_coll_stats(c, &st), 0);
        CHECK_EQ(st.layout, ZIPPY_LAYOUT_FILES);
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "variant %d: %s", v, zippy_errmsg());
        CHECK_EQ(close_c(r, c), 0);
        char *after = snapshot(dir);
        CHECKF(!strcmp(before, after), "variant %d: a read-only open changed files", v);
        free(after);
        /* Writable: our meta files are added, theirs are left alone. */
        CHECKF(OPEN_RW(dir, "ds", &r, &c) == 0, "variant %d: %s", v, zippy_errmsg());
        d = dump(c, NULL);
        CHECKF(d && !strcmp(d, zds_expect(with_order, extras)), "variant %d writable:\n%s", v, d ? d : "(null)");
        free(d);
        CHECK_EQ(put_s(c, "doc_004", "{\"title\":\"four\"}"), 0);
        CHECK_EQ(close_c(r, c), 0);
        char cd[4096];
        snprintf(cd, sizeof cd, "%s", coll_dir(dir, "ds"));
        CHECK(exists(fmt("%s/meta/cache.jsonl", cd)));
        CHECK(exists(fmt("%s/meta/files.state", cd)));
        CHECK(exists(fmt("%s/meta/order.ids", cd)));
        if (extras) {
            char *j = t_read_file(fmt("%s/meta/journal.log", cd), NULL);
            CHECK(j && !strcmp(j, "put doc_001\nput doc_002\n"));
            free(j);
            CHECK(exists(fmt("%s/meta/schemas.jsonl", cd)));
            CHECK(exists(fmt("%s/meta/doc_index.jsonl", cd)));
        }
        /* untouched documents keep their bytes */
        size_t fl;
        char *t = t_read_file(fmt("%s/docs/doc_003.json", cd), &fl);
        CHECK(t && !strcmp(t, pretty ? "{\n  \"title\": \"three\",\n  \"n\": 3\n}" : "{\"title\":\"three\",\"n\":3}"));
        free(t);
        CHECK_EQ(OPEN_RO(dir, "ds", &r, &c), 0);
        CHECK_STR(get_s(c, "doc_004"), "{\"title\":\"four\"}");
        CHECK_EQ(zippy_count(c, &n), 0);
        CHECK_EQ(n, 5);
        CHECK_EQ(close_c(r, c), 0);
        free(before);
    }
}

/* A store as a git checkout leaves it: docs/, order.ids, manifest.json. */
TEST(files_readonly_without_cache_changes_nothing) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    for (int i = 0; i < 30; i++) CHECK_EQ(put_s(c, fmt("k%02d", 29 - i), fmt("{\"i\":%d}", i)), 0);
    CHECK_EQ(zippy_delete(c, "k10", 3), 0);
    CHECK_EQ(close_c(r, c), 0);
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/meta", coll_dir(dir, "c"));
    CHECK_EQ(unlink(fmt("%s/cache.jsonl", meta)), 0);
    CHECK_EQ(unlink(fmt("%s/cache.idx", meta)), 0);
    CHECK_EQ(unlink(fmt("%s/files.state", meta)), 0);
    CHECK_EQ(unlink(fmt("%s/lock", meta)), 0);
    CHECK_EQ(unlink(fmt("%s/.gitignore", meta)), 0);
    char *before = snapshot(dir);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    uint64_t n;
    CHECK_EQ(zippy_count(c, &n), 0);
    CHECK_EQ(n, 29);
    zippy_buf id = ZIPPY_BUF_INIT;
    CHECK_EQ(zippy_get_at(c, 0, 0, &id, &g_buf), 0);
    CHECK_STR(id.ptr, "k29"); /* the order of order.ids */
    CHECK_EQ(zippy_get_at(c, 28, 0, &id, &g_buf), 0);
    CHECK_STR(id.ptr, "k00");
    zippy_buf_free(&id);
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = "{\"i\":{\"$gte\":25}}";
    char *d = dump(c, &so);
    CHECK_STR(d, "k04={\"i\":25}\nk03={\"i\":26}\nk02={\"i\":27}\nk01={\"i\":28}\nk00={\"i\":29}\n");
    free(d);
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
    CHECK_EQ(zippy_coll_refresh(c), 0);
    CHECK_EQ(close_c(r, c), 0);
    char *after = snapshot(dir);
    CHECK_STR(before, after);
    free(before);
    free(after);
}

/* ------------------------------------------------------------------ */
/* Derived files heal                                                  */
/* ------------------------------------------------------------------ */

TEST(files_derived_files_heal) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    char meta[4096];
    snprintf(meta, sizeof meta, "%s/meta", coll_dir(dir, "c"));
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    for (int i = 0; i < 20; i++) CHECK_EQ(put_s(c, fmt("d%02d", i), fmt("{\"i\":%d}", i)), 0);
    CHECK_EQ(close_c(r, c), 0);
    char *want = NULL;
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    want = dump(c, NULL);
    CHECK(want);
    CHECK_EQ(close_c(r, c), 0);
    /* 1. a cache ahead of files.state (a flush that crashed before its
     *    commit), 2. a torn cache tail, 3. a missing index, 4. a damaged
     *    state file, 5. a missing cache, 6. a missing state file. */
    for (int k = 0; k < 6; k++) {
        char cache[4200];
        snprintf(cache, sizeof cache, "%s/cache.jsonl", meta);
        if (k == 0) {
            FILE *f = fopen(cache, "ab");
            fputs("{\"_id\":\"ghost\",\"v\":1}\n", f);
            fclose(f);
        } else if (k == 1) {
            FILE *f = fopen(cache, "ab");
            fputs("{\"_id\":\"gho", f);
            fclose(f);
        } else if (k == 2) {
            CHECK_EQ(unlink(fmt("%s/cache.idx", meta)), 0);
        } else if (k == 3) {
            CHECK_EQ(write_s(fmt("%s/files.state", meta), "zippy files state 1\n12 x\n"), 0);
        } else if (k == 4) {
            CHECK_EQ(unlink(cache), 0);
        } else {
            CHECK_EQ(unlink(fmt("%s/files.state", meta)), 0);
        }
        /* read-only first: consistent, in memory */
        CHECKF(OPEN_RO(dir, "c", &r, &c) == 0, "case %d: %s", k, zippy_errmsg());
        char *d = dump(c, NULL);
        CHECKF(d && !strcmp(d, want), "case %d read-only:\n%s", k, d ? d : zippy_errmsg());
        free(d);
        CHECK(get_s(c, "ghost") == NULL);
        CHECK_EQ(close_c(r, c), 0);
        CHECKF(OPEN_RW(dir, "c", &r, &c) == 0, "case %d: %s", k, zippy_errmsg());
        d = dump(c, NULL);
        CHECKF(d && !strcmp(d, want), "case %d writable:\n%s", k, d ? d : zippy_errmsg());
        free(d);
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "case %d: %s", k, zippy_errmsg());
        CHECK_EQ(close_c(r, c), 0);
    }
    /* Damage inside the cache is reported (never served); reindex rebuilds
     * the cache from docs/. */
    {
        char cache[4200];
        snprintf(cache, sizeof cache, "%s/cache.jsonl", meta);
        FILE *f = fopen(cache, "r+b");
        CHECK(f);
        fseek(f, 12, SEEK_SET);
        fputs("##", f);
        fclose(f);
        CHECKF(OPEN_RO(dir, "c", &r, &c) == 0, "%s", zippy_errmsg());
        char *d0 = dump(c, NULL);
        CHECKF(d0 ? !strcmp(d0, want) : zippy_errcode() == ZIPPY_ECORRUPT, "%s", d0 ? d0 : zippy_errmsg());
        free(d0);
        CHECK_EQ(close_c(r, c), 0);
        CHECKF(OPEN_RW(dir, "c", &r, &c) == 0, "%s", zippy_errmsg());
        zippy_verify_report vr;
        CHECKF(zippy_coll_reindex(c) == 0, "%s", zippy_errmsg());
        char *d = dump(c, NULL);
        CHECKF(d && !strcmp(d, want), "after reindex:\n%s", d ? d : zippy_errmsg());
        free(d);
        CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
        CHECK_EQ(close_c(r, c), 0);
    }
    /* A leftover temp file of an interrupted flush: ignored, then removed. */
    CHECK_EQ(write_s(doc_file(dir, "c", ".d05.json.tmp"), "{\"i\":"), 0);
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    CHECK_STR(get_s(c, "d05"), "{\"i\":5}");
    CHECK_EQ(close_c(r, c), 0);
    CHECK(!exists(doc_file(dir, "c", ".d05.json.tmp")));
    /* order.ids changed by hand (a git checkout): its order is taken. */
    CHECK_EQ(write_s(fmt("%s/order.ids", meta), "d19\nd00\n"), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    zippy_buf id = ZIPPY_BUF_INIT;
    CHECK_EQ(zippy_get_at(c, 0, 0, &id, &g_buf), 0);
    CHECK_STR(id.ptr, "d19");
    CHECK_EQ(zippy_get_at(c, 1, 0, &id, &g_buf), 0);
    CHECK_STR(id.ptr, "d00");
    CHECK_EQ(zippy_get_at(c, 2, 0, &id, &g_buf), 0);
    CHECK_STR(id.ptr, "d01");
    zippy_buf_free(&id);
    CHECK_EQ(close_c(r, c), 0);
    free(want);
}

/* ------------------------------------------------------------------ */
/* Sync modes and faults                                               */
/* ------------------------------------------------------------------ */

TEST(files_sync_always) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_c(dir, "c", ZIPPY_OPEN_CREATE, ZIPPY_LAYOUT_FILES, ZIPPY_SYNC_ALWAYS, &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":1}"), 0);
    CHECK(exists(doc_file(dir, "c", "a.json")));
    const char *jl = "{\"_id\":\"b\",\"v\":2}\n{\"_id\":\"c\",\"v\":3}";
    CHECK_EQ(zippy_put_jsonl(c, jl, strlen(jl), NULL, NULL, 0, NULL), 0);
    CHECK(exists(doc_file(dir, "c", "c.json")));
    CHECK_EQ(zippy_delete(c, "a", 1), 0);
    CHECK(!exists(doc_file(dir, "c", "a.json")));
    /* another process's view (a read-only open) matches without a flush */
    zippy_root *r2;
    zippy_coll *c2;
    CHECK_EQ(OPEN_RO(dir, "c", &r2, &c2), 0);
    char *d = dump(c2, NULL);
    CHECK_STR(d, "b={\"v\":2}\nc={\"v\":3}\n");
    free(d);
    CHECK_EQ(close_c(r2, c2), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK_EQ(open_c(dir, "n", ZIPPY_OPEN_CREATE, ZIPPY_LAYOUT_FILES, ZIPPY_SYNC_NONE, &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":1}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    CHECK(exists(doc_file(dir, "n", "a.json")));
}

/* Each fault during a flush: the flush fails, nothing acknowledged before
 * is lost, a retry succeeds, and a reopen agrees. */
TEST(files_fault_injection) {
    static const struct {
        zos_op op;
        int err;
        unsigned flags;
    } faults[] = {
        {ZOS_OP_WRITE, ENOSPC, 0}, {ZOS_OP_WRITE, EIO, ZOS_FAULT_SHORT}, {ZOS_OP_FSYNC, EIO, 0},
        {ZOS_OP_RENAME, EIO, 0},   {ZOS_OP_OPEN, EMFILE, 0},             {ZOS_OP_UNLINK, EIO, 0},
    };
    int tried = 0;
    for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
        for (unsigned long nth = 1; nth <= 12; nth++) {
            const char *dir = tmpdir();
            zippy_root *r;
            zippy_coll *c;
            CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
            CHECK_EQ(put_s(c, "keep", "{\"v\":0}"), 0);
            CHECK_EQ(put_s(c, "gone", "{\"v\":0}"), 0);
            CHECK_EQ(zippy_coll_flush(c), 0); /* acknowledged */
            for (int i = 0; i < 5; i++) CHECK_EQ(put_s(c, fmt("n%d", i), fmt("{\"v\":%d}", i + 1)), 0);
            CHECK_EQ(put_s(c, "keep", "{\"v\":1}"), 0);
            CHECK_EQ(zippy_delete(c, "gone", 4), 0);
            zos_fault_set(faults[f].op, nth, faults[f].err, faults[f].flags);
            int rc = zippy_coll_flush(c);
            zos_fault_clear();
            if (rc) tried++;
            /* the handle still answers with every write */
            CHECK_STR(get_s(c, "keep"), "{\"v\":1}");
            CHECK(get_s(c, "gone") == NULL);
            /* a retry completes the flush */
            CHECKF(zippy_coll_flush(c) == 0, "fault %zu at %lu: retry: %s", f, nth, zippy_errmsg());
            CHECK_EQ(close_c(r, c), 0);
            CHECK(!exists(doc_file(dir, "c", "gone.json")));
            CHECKF(OPEN_RO(dir, "c", &r, &c) == 0, "fault %zu at %lu: %s", f, nth, zippy_errmsg());
            CHECK_STR(get_s(c, "keep"), "{\"v\":1}");
            CHECK(get_s(c, "gone") == NULL);
            for (int i = 0; i < 5; i++) CHECK_STR(get_s(c, fmt("n%d", i)), fmt("{\"v\":%d}", i + 1));
            zippy_verify_report vr;
            CHECKF(zippy_coll_verify(c, &vr) == 0, "fault %zu at %lu: %s", f, nth, zippy_errmsg());
            CHECK_EQ(close_c(r, c), 0);
            /* no temp file survives a writable open */
            CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
            CHECK_EQ(close_c(r, c), 0);
            DIR *d = opendir(fmt("%s/docs", coll_dir(dir, "c")));
            struct dirent *de;
            while ((de = readdir(d))) CHECKF(strstr(de->d_name, ".tmp") == NULL, "left %s", de->d_name);
            closedir(d);
        }
    }
    printf("note files_fault_injection: %d flushes failed by an injected fault\n", tried);
    CHECK(tried > 20);
}

/* A fault during close's flush: the handle is released; what the failed
 * flush had not made durable may be lost, but the reopen is consistent and
 * every earlier acknowledged write is there. */
TEST(files_fault_on_close) {
    for (unsigned long nth = 1; nth <= 6; nth++) {
        const char *dir = tmpdir();
        zippy_root *r;
        zippy_coll *c;
        CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
        CHECK_EQ(put_s(c, "acked", "{\"v\":1}"), 0);
        CHECK_EQ(zippy_coll_flush(c), 0);
        CHECK_EQ(put_s(c, "acked", "{\"v\":2}"), 0);
        CHECK_EQ(put_s(c, "late", "{\"v\":3}"), 0);
        zos_fault_set(ZOS_OP_RENAME, nth, EIO, 0);
        (void)close_c(r, c);
        zos_fault_clear();
        CHECKF(OPEN_RO(dir, "c", &r, &c) == 0, "%s", zippy_errmsg());
        const char *a = get_s(c, "acked");
        CHECK(a && (!strcmp(a, "{\"v\":1}") || !strcmp(a, "{\"v\":2}")));
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
        CHECK_EQ(close_c(r, c), 0);
        CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
        CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
        CHECK_EQ(close_c(r, c), 0);
    }
}

TEST(files_two_handles_one_engine) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *w, *ro;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &w), 0);
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ZIPPY_OPEN_READONLY;
    CHECK_EQ(zippy_coll_open(&ro, r, "c", &o), 0);
    CHECK_EQ(put_s(w, "a", "{\"v\":1}"), 0);
    CHECK_STR(get_s(ro, "a"), "{\"v\":1}");
    /* the last writable handle gives the lock back; the reader stays */
    CHECK_EQ(zippy_coll_close(w), 0);
    CHECK(exists(doc_file(dir, "c", "a.json")));
    CHECK_STR(get_s(ro, "a"), "{\"v\":1}");
    zippy_root *r2;
    zippy_coll *w2;
    CHECK_EQ(OPEN_RW(dir, "c", &r2, &w2), 0);
    CHECK_EQ(put_s(w2, "b", "{\"v\":2}"), 0);
    CHECK_EQ(close_c(r2, w2), 0);
    CHECK_EQ(zippy_coll_refresh(ro), 0);
    CHECK_STR(get_s(ro, "b"), "{\"v\":2}");
    CHECK_EQ(zippy_coll_close(ro), 0);
    zippy_root_close(r);
}

/* A writer process flushing in a loop while this process opens and
 * refreshes read-only handles: every open succeeds and every document read
 * is a complete version that was written. */
TEST(files_reader_while_writer_flushes) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_FILES(dir, "c", &r, &c), 0);
    for (int i = 0; i < 20; i++) CHECK_EQ(put_s(c, fmt("k%02d", i), "{\"v\":0,\"pad\":\"x\"}"), 0);
    CHECK_EQ(close_c(r, c), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        zippy_root *wr;
        zippy_coll *wc;
        if (OPEN_RW(dir, "c", &wr, &wc)) _exit(1);
        for (int round = 1; round <= 150; round++) {
            for (int i = 0; i < 20; i++) {
                int rc = (round + i) % 7 == 0 ? zippy_delete(wc, fmt("k%02d", i), 3)
                                               : put_s(wc, fmt("k%02d", i), fmt("{\"v\":%d,\"pad\":\"%0*d\"}", round,
                                                                                   round % 50, 0));
                if (rc && rc != ZIPPY_ENOTFOUND) _exit(2);
            }
            if (zippy_coll_flush(wc)) _exit(3);
            if (round % 40 == 0 && zippy_coll_compact(wc)) _exit(4);
        }
        _exit(close_c(wr, wc) ? 5 : 0);
    }
    int opens = 0, refreshes = 0, status = 0, done = 0;
    zippy_root *rr = NULL;
    zippy_coll *rc_ = NULL;
    while (!done) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        zippy_root *r2;
        zippy_coll *c2;
        int rc = OPEN_RO(dir, "c", &r2, &c2);
        CHECKF(rc == 0, "read-only open during flushes: %s", zippy_errmsg());
        opens++;
        char *d = dump(c2, NULL);
        CHECKF(d != NULL, "scan during flushes: %s", zippy_errmsg());
        for (char *p = d; *p; p = strchr(p, '\n') + 1) CHECK(!strncmp(p, "k", 1) && strstr(p, "={\"v\":"));
        free(d);
        CHECK_EQ(close_c(r2, c2), 0);
        if (!rr) CHECK_EQ(OPEN_RO(dir, "c", &rr, &rc_), 0);
        CHECKF(zippy_coll_refresh(rc_) == 0, "refresh during flushes: %s", zippy_errmsg());
        refreshes++;
        uint64_t n;
        CHECK_EQ(zippy_count(rc_, &n), 0);
        CHECK(n <= 20);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(close_c(rr, rc_), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
    for (int i = 0; i < 20; i++) {
        const char *g = get_s(c, fmt("k%02d", i));
        if ((150 + i) % 7 == 0) CHECK(g == NULL);
        else CHECKF(g && !strncmp(g, "{\"v\":150,", 9), "k%02d: %s", i, g ? g : "(absent)");
    }
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(c, &vr) == 0, "%s", zippy_errmsg());
    CHECK_EQ(close_c(r, c), 0);
    printf("note files_reader_while_writer_flushes: %d read-only opens, %d refreshes\n", opens, refreshes);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(files_basics);
    RUN_SEL(files_pretty_bytes);
    RUN_SEL(files_same_as_jsonl);
    RUN_SEL(files_id_encoding);
    RUN_SEL(files_invalid_names);
    RUN_SEL(files_hand_edits);
    RUN_SEL(files_invalid_json_reported);
    RUN_SEL(files_strict);
    RUN_SEL(files_original_zds_stores);
    RUN_SEL(files_readonly_without_cache_changes_nothing);
    RUN_SEL(files_derived_files_heal);
    RUN_SEL(files_sync_always);
    RUN_SEL(files_fault_injection);
    RUN_SEL(files_fault_on_close);
    RUN_SEL(files_two_handles_one_engine);
    RUN_SEL(files_reader_while_writer_flushes);
    zippy_buf_free(&g_buf);
    if (!t_failed_count)
        for (int i = 0; i < g_ndirs; i++) t_rm_rf(g_dirs[i]);
    for (int i = 0; i < g_ndirs; i++) free(g_dirs[i]);
    TEST_END();
}
