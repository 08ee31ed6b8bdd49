/* test_legacy.c - stores written by ZDS 0.1.x, built byte by byte here:
 * collections/<name>/meta/data.jsonl with "_id" anywhere in a line and
 * spaces after colons, and meta/index.bin as
 *   binary: "ISDZ", u32 version 1, u64 count, then per entry u16 id length,
 *           id bytes, u64 offset, u32 length (newline included), LE;
 *   text:   "id\toffset\tlength" lines;
 *   or no index at all (every line live, the last line of an id wins).
 * With an index, only the lines it names are live.
 *
 * Read-only opens must change nothing; a writable open converts the store
 * to zippy's format without losing a document.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "os.h" /* fault injection (zos_fault_set) */
#include "zippy.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char g_why[4096];
#define WHY(...) (snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
/* Puts "ctx: " in front of a reason (NULL stays NULL). */
static const char *with_ctx(const char *ctx, const char *why) {
    if (!why) return NULL;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", why);
    snprintf(g_why, sizeof g_why, "%s: %s", ctx, tmp);
    return g_why;
}
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        const char *why_ = (expr);                                             \
        CHECKF(why_ == NULL, "%s", why_);                                      \
    } while (0)

static char *g_dirs[512];
static int g_ndirs;
static zippy_buf g_buf = ZIPPY_BUF_INIT;

static const char *tmpdir(void) {
    char *d = t_tmpdir();
    if (g_ndirs < 512) g_dirs[g_ndirs++] = d;
    return d;
}

/* Removes a tree without spawning a shell (the loops below make many). */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}
static void rm_tree(const char *dir) {
    if (!getenv("ZIPPY_KEEP")) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *path_in(const char *dir, const char *rel) {
    static char bufs[8][4096];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 4096, "%s/%s", dir, rel);
    return b;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Snapshot of a tree (names, sizes, contents, inodes), to prove that
 * nothing changed. */
static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void snap_walk(FILE *out, const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) { fprintf(out, "!%s\n", rel); return; }
    char *names[1024];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 1024)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char p[4096], r[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(r, sizeof r, "%s/%s", rel, names[i]);
        struct stat st;
        if (lstat(p, &st)) { fprintf(out, "?%s\n", r); free(names[i]); continue; }
        if (S_ISDIR(st.st_mode)) {
            fprintf(out, "D %s\n", r);
            snap_walk(out, p, r);
        } else {
            size_t len = 0;
            char *b = t_read_file(p, &len);
            fprintf(out, "F %s %zu ino=%llu mtime=%lld.%09ld\n", r, len, (unsigned long long)st.st_ino,
                    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            if (b) fwrite(b, 1, len, out);
            fputc('\n', out);
            free(b);
        }
        free(names[i]);
    }
}
static char *snapshot(const char *dir, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    snap_walk(f, dir, ".");
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Building ZDS 0.1.x stores                                           */
/* ------------------------------------------------------------------ */

typedef struct lrow {
    const char *id;
    const char *line;   /* as ZDS wrote it, without the newline */
    int indexed;        /* named by the index (the live version) */
    const char *expect; /* the document zippy returns for it (no "_id") */
} lrow;

/* x1 updated (two lines, the second live), x3 and x6 deleted (not in the
 * index), the others live. */
static const lrow ROWS[] = {
    {"x1", "{\"name\": \"Ann\", \"_id\": \"x1\", \"age\": 3}", 0, "{\"name\":\"Ann\",\"age\":3}"},
    {"x2", "{\"_id\": \"x2\", \"name\": \"Bob\"}", 1, "{\"name\":\"Bob\"}"},
    {"x3", "{\"age\": 40, \"name\": \"Cy\", \"_id\": \"x3\"}", 0, "{\"age\":40,\"name\":\"Cy\"}"},
    {"x1", "{\"name\": \"Ann B\", \"_id\": \"x1\", \"age\": 4, \"tags\": [\"a\", \"b\"]}", 1,
     "{\"name\":\"Ann B\",\"age\":4,\"tags\":[\"a\",\"b\"]}"},
    {"x4", "{\"_id\": \"x4\",\"nested\":{\"_id\":\"inner\",\"k\":[1, 2, {\"z\": null}]},\"n\":12345678901234567890}", 1,
     "{\"nested\":{\"_id\":\"inner\",\"k\":[1,2,{\"z\":null}]},\"n\":12345678901234567890}"},
    {"x5", "{\"v\": \"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\", \"_id\": \"x5\", \"q\": \"say \\\"hi\\\"\\n\"}", 1,
     "{\"v\":\"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\",\"q\":\"say \\\"hi\\\"\\n\"}"},
    {"x6", "{\"_id\": \"x6\", \"name\": \"deleted\"}", 0, "{\"name\":\"deleted\"}"},
    {"a@b.com", "{ \"f\" : 1.50 , \"_id\" : \"a@b.com\" , \"e\" : {} , \"l\" : [] }", 1,
     "{\"f\":1.50,\"e\":{},\"l\":[]}"},
    {"x7", "{\"w\":true,\"_id\":\"x7\"}", 1, "{\"w\":true}"},
    {"x8", "{\"_id\":\"x8\"}", 1, "{}"},
};
#define NROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

enum { IX_NONE, IX_EMPTY, IX_BINARY, IX_TEXT };

/* An extra live document on the last line (set by the allocation-failure
 * tests), expected in addition to ROWS. */
static const char *g_extra_id, *g_extra_expect;

typedef struct lstore {
    char data[8192];
    size_t len;
    uint64_t off[NROWS];
    unsigned char ix[8192];
    size_t ixlen;
} lstore;

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Lays out data.jsonl and the index bytes of the given kind. */
static void build(lstore *s, int kind) {
    s->len = 0;
    for (int i = 0; i < NROWS; i++) {
        s->off[i] = s->len;
        size_t n = strlen(ROWS[i].line);
        memcpy(s->data + s->len, ROWS[i].line, n);
        s->len += n;
        s->data[s->len++] = '\n';
    }
    s->ixlen = 0;
    if (kind == IX_BINARY) {
        uint64_t count = 0;
        for (int i = 0; i < NROWS; i++) count += ROWS[i].indexed;
        memcpy(s->ix, "ISDZ", 4);
        put_le(s->ix + 4, 1, 4);
        put_le(s->ix + 8, count, 8);
        s->ixlen = 16;
        /* entries in an order other than the log's */
        for (int k = NROWS - 1; k >= 0; k--) {
            if (!ROWS[k].indexed) continue;
            size_t idlen = strlen(ROWS[k].id);
            put_le(s->ix + s->ixlen, idlen, 2);
            memcpy(s->ix + s->ixlen + 2, ROWS[k].id, idlen);
            put_le(s->ix + s->ixlen + 2 + idlen, s->off[k], 8);
            put_le(s->ix + s->ixlen + 2 + idlen + 8, strlen(ROWS[k].line) + 1, 4);
            s->ixlen += 2 + idlen + 12;
        }
    } else if (kind == IX_TEXT) {
        for (int k = 0; k < NROWS; k++) {
            if (!ROWS[k].indexed) continue;
            s->ixlen += (size_t)snprintf((char *)s->ix + s->ixlen, sizeof s->ix - s->ixlen, "%s\t%llu\t%zu\n",
                                         ROWS[k].id, (unsigned long long)s->off[k], strlen(ROWS[k].line) + 1);
        }
    }
}

/* Writes the store under dir (collection "legacy"), with ZDS-style
 * manifests that are not zippy's. */
static const char *write_store(const char *dir, const lstore *s, int kind) {
    if (mkdir(path_in(dir, "collections"), 0755) && errno != EEXIST) return "mkdir collections";
    if (mkdir(path_in(dir, "collections/legacy"), 0755) && errno != EEXIST) return "mkdir collections/legacy";
    if (mkdir(path_in(dir, "collections/legacy/meta"), 0755) && errno != EEXIST) return "mkdir meta";
    if (t_write_file(path_in(dir, "manifest.json"), "{\"version\": \"0.1.0\", \"name\": \"old\"}\n", 37))
        return "write manifest";
    if (t_write_file(path_in(dir, "collections/legacy/meta/manifest.json"), "{\"version\":\"0.1.0\"}", 19))
        return "write manifest";
    if (t_write_file(path_in(dir, "collections/legacy/meta/data.jsonl"), s->data, s->len)) return "write data";
    if (kind != IX_NONE && t_write_file(path_in(dir, "collections/legacy/meta/index.bin"), s->ix, s->ixlen))
        return "write index";
    return NULL;
}

/* Expected document of id, or NULL if absent. With an index the indexed
 * line decides; without, the last line of the id. */
static const char *expected(const char *id, int kind) {
    if (g_extra_id && !strcmp(id, g_extra_id)) return g_extra_expect;
    const char *e = NULL;
    for (int i = 0; i < NROWS; i++) {
        if (strcmp(ROWS[i].id, id)) continue;
        if (kind == IX_BINARY || kind == IX_TEXT) {
            if (ROWS[i].indexed) e = ROWS[i].expect;
        } else {
            e = ROWS[i].expect;
        }
    }
    return e;
}

/* Expected scan: ids in the order of their live lines. */
static void expected_scan(int kind, int with_id, char *out, size_t cap) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < NROWS; i++) {
        const char *e = expected(ROWS[i].id, kind);
        int live = kind == IX_BINARY || kind == IX_TEXT ? ROWS[i].indexed : 1;
        if (live && !(kind == IX_BINARY || kind == IX_TEXT)) /* last line of the id only */
            for (int j = i + 1; j < NROWS; j++)
                if (!strcmp(ROWS[j].id, ROWS[i].id)) live = 0;
        if (!live) continue;
        if (with_id)
            used += (size_t)snprintf(out + used, cap - used, "%s={\"_id\":\"%s\"%s%s;", ROWS[i].id, ROWS[i].id,
                                     strcmp(e, "{}") ? "," : "}", strcmp(e, "{}") ? e + 1 : "");
        else
            used += (size_t)snprintf(out + used, cap - used, "%s=%s;", ROWS[i].id, e);
    }
    if (g_extra_id) {
        const char *e = g_extra_expect;
        if (with_id)
            snprintf(out + used, cap - used, "%s={\"_id\":\"%s\",%s;", g_extra_id, g_extra_id, e + 1);
        else
            snprintf(out + used, cap - used, "%s=%s;", g_extra_id, e);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The collection serves exactly the expected documents: count, every get
 * (also of dead ids), ids, one scan in order. */
static const char *check_content(zippy_coll *c, int kind) {
    const char *all[NROWS + 1];
    int n = 0;
    for (int i = 0; i < NROWS; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= !strcmp(all[j], ROWS[i].id);
        if (!dup) all[n++] = ROWS[i].id;
    }
    if (g_extra_id) all[n++] = g_extra_id;
    uint64_t live = 0;
    for (int i = 0; i < n; i++) {
        const char *e = expected(all[i], kind);
        int rc = zippy_get(c, all[i], strlen(all[i]), 0, &g_buf);
        if (!e) {
            if (rc != ZIPPY_ENOTFOUND) return WHY("get %s: %d (%s), expected ENOTFOUND", all[i], rc, rc ? zippy_errmsg() : g_buf.ptr);
            if (zippy_exists(c, all[i], strlen(all[i])) != 0) return WHY("exists %s", all[i]);
            continue;
        }
        live++;
        if (rc) return WHY("get %s: %d %s", all[i], rc, zippy_errmsg());
        if (strcmp(g_buf.ptr, e)) return WHY("get %s: %s, expected %s", all[i], g_buf.ptr, e);
        rc = zippy_get(c, all[i], strlen(all[i]), ZIPPY_GET_WITH_ID, &g_buf);
        static char want[8192];
        snprintf(want, sizeof want, "{\"_id\":\"%s\"%s%s", all[i], strcmp(e, "{}") ? "," : "}",
                 strcmp(e, "{}") ? e + 1 : "");
        if (rc || strcmp(g_buf.ptr, want)) return WHY("get %s with id: %d %s, expected %s", all[i], rc, rc ? "" : g_buf.ptr, want);
    }
    uint64_t cnt = 0;
    if (zippy_count(c, &cnt) || cnt != live) return WHY("count %llu, expected %llu", (unsigned long long)cnt, (unsigned long long)live);
    char **ids;
    size_t nids;
    if (zippy_ids(c, &ids, &nids)) return WHY("ids: %s", zippy_errmsg());
    const char *want_ids[NROWS + 1];
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (expected(all[i], kind)) want_ids[k++] = all[i];
    qsort(want_ids, k, sizeof *want_ids, cmp_str);
    const char *why = NULL;
    if (nids != k) why = WHY("ids: %zu, expected %zu", nids, k);
    for (size_t i = 0; !why && i < k; i++)
        if (strcmp(ids[i], want_ids[i])) why = WHY("ids[%zu] = %s, expected %s", i, ids[i], want_ids[i]);
    zippy_strv_free(ids);
    if (why) return why;
    for (int with_id = 0; with_id < 2; with_id++) {
        static char got[16384], want[16384];
        got[0] = 0;
        size_t used = 0;
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.flags = with_id ? ZIPPY_SCAN_WITH_ID : 0;
        zippy_scan *s;
        if (zippy_scan_open(&s, c, &so)) return WHY("scan_open: %s", zippy_errmsg());
        const char *id, *doc;
        size_t idlen, doclen;
        int rc;
        while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen)) == 1)
            used += (size_t)snprintf(got + used, sizeof got - used, "%.*s=%.*s;", (int)idlen, id, (int)doclen, doc);
        zippy_scan_close(s);
        if (rc) return WHY("scan_next: %d %s", rc, zippy_errmsg());
        expected_scan(kind, with_id, want, sizeof want);
        if (strcmp(got, want)) return WHY("scan%s:\n  got  %s\n  want %s", with_id ? " with ids" : "", got, want);
    }
    /* a filter over the legacy lines */
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = "{\"name\":{\"$exists\":true}}";
    so.flags = ZIPPY_SCAN_IDS_ONLY;
    zippy_scan *s;
    if (zippy_scan_open(&s, c, &so)) return WHY("scan_open: %s", zippy_errmsg());
    int rows = 0, rc;
    while ((rc = zippy_scan_next(s, NULL, NULL, NULL, NULL)) == 1) rows++;
    zippy_scan_close(s);
    int want_rows = 0;
    for (int i = 0; i < n; i++) {
        const char *e = expected(all[i], kind);
        want_rows += e && strstr(e, "\"name\"") && !strstr(e, "\"nested\"");
    }
    if (rc || rows != want_rows) return WHY("filtered scan: %d rows (rc %d), expected %d", rows, rc, want_rows);
    return NULL;
}

static int open_coll(const char *dir, unsigned flags, zippy_root **r, zippy_coll **c) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = flags;
    *r = NULL;
    *c = NULL;
    int rc = zippy_root_open(r, dir, &o);
    if (rc) { *r = NULL; return rc; }
    rc = zippy_coll_open(c, *r, "legacy", &o);
    if (rc) {
        zippy_root_close(*r);
        *r = NULL;
        *c = NULL;
    }
    return rc;
}
#define OPEN_RO(dir, r, c) open_coll(dir, ZIPPY_OPEN_READONLY, r, c)
#define OPEN_RW(dir, r, c) open_coll(dir, 0, r, c)

static int close_coll(zippy_root *r, zippy_coll *c) {
    int rc = zippy_coll_close(c);
    zippy_root_close(r);
    return rc;
}

static const char *kind_name(int kind) {
    return kind == IX_NONE ? "no index" : kind == IX_EMPTY ? "empty index" : kind == IX_BINARY ? "binary index" : "text index";
}

/* ------------------------------------------------------------------ */
/* Reading legacy stores                                                */
/* ------------------------------------------------------------------ */

/* Read-only: the content follows the index (or the log), no file changes,
 * no lock file, no zds.json. */
static const char *read_only_case(int kind) {
    const char *dir = tmpdir();
    static lstore s;
    build(&s, kind);
    const char *why = write_store(dir, &s, kind);
    if (why) return why;
    size_t l0, l1;
    char *s0 = snapshot(dir, &l0);
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RO(dir, &r, &c);
    if (rc) { free(s0); return WHY("%s: read-only open: %d %s", kind_name(kind), rc, zippy_errmsg()); }
    why = check_content(c, kind);
    zippy_stats st;
    if (!why && zippy_coll_stats(c, &st)) why = WHY("stats: %s", zippy_errmsg());
    if (!why && !st.legacy) why = "stats.legacy is 0 for a ZDS 0.1.x store";
    if (!why && st.log_lines != (uint64_t)NROWS) why = WHY("stats.log_lines %llu", (unsigned long long)st.log_lines);
    if (!why && zippy_put(c, "x9", 2, "{}", 2) != ZIPPY_EREADONLY) why = "put through a read-only handle did not fail with EREADONLY";
    zippy_verify_report vr;
    if (!why) (void)zippy_coll_verify(c, &vr); /* may complain; must not change anything */
    if (!why && zippy_coll_refresh(c)) why = WHY("refresh: %s", zippy_errmsg());
    if (!why) why = check_content(c, kind);
    close_coll(r, c);
    char *s1 = snapshot(dir, &l1);
    int same = l0 == l1 && !memcmp(s0, s1, l0);
    free(s0);
    free(s1);
    if (why) return with_ctx(kind_name(kind), why);
    if (!same) return WHY("%s: a read-only open changed the store", kind_name(kind));
    if (file_exists(path_in(dir, "collections/legacy/meta/lock"))) return "read-only open created a lock file";
    if (file_exists(path_in(dir, "zds.json"))) return "read-only open created zds.json";
    return NULL;
}

TEST(test_read_only_binary_index) { CHECK_OK(read_only_case(IX_BINARY)); }
TEST(test_read_only_text_index) { CHECK_OK(read_only_case(IX_TEXT)); }
TEST(test_read_only_no_index) { CHECK_OK(read_only_case(IX_NONE)); }
TEST(test_read_only_empty_index) { CHECK_OK(read_only_case(IX_EMPTY)); }

/* ------------------------------------------------------------------ */
/* Conversion                                                          */
/* ------------------------------------------------------------------ */

/* A writable open converts to zippy's format: manifest, canonical lines
 * ("_id" first, compact, live lines only), a zippy index; the documents
 * are the same before and after; reopening works. */
static const char *convert_case(int kind) {
    const char *dir = tmpdir();
    static lstore s;
    build(&s, kind);
    const char *why = write_store(dir, &s, kind);
    if (why) return why;
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RW(dir, &r, &c);
    if (rc) return WHY("writable open: %d %s", rc, zippy_errmsg());
    why = with_ctx("right after the conversion", check_content(c, kind));
    zippy_stats st;
    if (!why && zippy_coll_stats(c, &st)) why = WHY("stats: %s", zippy_errmsg());
    if (!why && st.legacy) why = "stats.legacy still 1 after a writable open";
    if (close_coll(r, c) && !why) why = WHY("close: %s", zippy_errmsg());
    if (why) return why;
    /* the files */
    size_t len;
    char *m = t_read_file(path_in(dir, "collections/legacy/meta/manifest.json"), &len);
    int ok = m && strstr(m, "\"format\": \"zippy\"") != NULL;
    free(m);
    if (!ok) return "collection manifest.json does not say \"format\": \"zippy\"";
    char *ix = t_read_file(path_in(dir, "collections/legacy/meta/index.bin"), &len);
    ok = ix && len >= 64 && !memcmp(ix, "ZPYIDX01", 8);
    free(ix);
    if (!ok) return "meta/index.bin is not a zippy index after conversion";
    if (!file_exists(path_in(dir, "zds.json"))) return "no zds.json after a writable open";
    char *d = t_read_file(path_in(dir, "collections/legacy/meta/data.jsonl"), &len);
    if (!d) return "no data.jsonl";
    int lines = 0, live = 0;
    for (size_t i = 0; i < len; i++) lines += d[i] == '\n';
    const char *seen[NROWS];
    int nseen = 0;
    for (int i = 0; i < NROWS; i++) {
        int dup = 0;
        for (int j = 0; j < nseen; j++) dup |= !strcmp(seen[j], ROWS[i].id);
        if (dup) continue;
        seen[nseen++] = ROWS[i].id;
        const char *e = expected(ROWS[i].id, kind);
        if (!e) continue;
        live++;
        char line[600];
        snprintf(line, sizeof line, "{\"_id\":\"%s\"%s%s\n", ROWS[i].id, strcmp(e, "{}") ? "," : "}",
                 strcmp(e, "{}") ? e + 1 : "");
        if (!strstr(d, line)) {
            why = WHY("canonical line missing from data.jsonl: %s--- data.jsonl:\n%s", line, d);
            break;
        }
    }
    free(d);
    if (why) return why;
    if (lines != live) return WHY("data.jsonl has %d lines, %d live documents", lines, live);
    /* reopen both ways */
    if (OPEN_RO(dir, &r, &c)) return WHY("read-only reopen: %s", zippy_errmsg());
    why = with_ctx("read-only reopen", check_content(c, kind));
    zippy_verify_report vr;
    if (!why && zippy_coll_verify(c, &vr)) why = WHY("verify: %s", zippy_errmsg());
    close_coll(r, c);
    if (why) return why;
    if (OPEN_RW(dir, &r, &c)) return WHY("writable reopen: %s", zippy_errmsg());
    why = with_ctx("writable reopen", check_content(c, kind));
    if (!why && zippy_put(c, "new", 3, "{\"n\":1}", 7)) why = WHY("put: %s", zippy_errmsg());
    if (close_coll(r, c) && !why) why = WHY("close: %s", zippy_errmsg());
    return why;
}

TEST(test_convert_binary_index) { CHECK_OK(with_ctx("binary index", convert_case(IX_BINARY))); }
TEST(test_convert_text_index) { CHECK_OK(with_ctx("text index", convert_case(IX_TEXT))); }
TEST(test_convert_no_index) { CHECK_OK(with_ctx("no index", convert_case(IX_NONE))); }
TEST(test_convert_empty_index) { CHECK_OK(with_ctx("empty index", convert_case(IX_EMPTY))); }

/* A store without any manifest and with a root that has only
 * collections/ (no zds.json, no manifest.json) opens too. */
TEST(test_bare_legacy_store) {
    const char *dir = tmpdir();
    static lstore s;
    build(&s, IX_BINARY);
    CHECK_OK(write_store(dir, &s, IX_BINARY));
    CHECK_EQ(unlink(path_in(dir, "manifest.json")), 0);
    CHECK_EQ(unlink(path_in(dir, "collections/legacy/meta/manifest.json")), 0);
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    CHECK_OK(check_content(c, IX_BINARY));
    char **names;
    size_t n;
    CHECK_EQ(zippy_root_list(r, &names, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_STR(names[0], "legacy");
    zippy_strv_free(names);
    close_coll(r, c);
    CHECK_EQ(OPEN_RW(dir, &r, &c), 0);
    CHECK_OK(check_content(c, IX_BINARY));
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    CHECK_OK(check_content(c, IX_BINARY));
    close_coll(r, c);
}

/* A ZDS line that happens to start like zippy's ({"_id":"x",) but has
 * spaces further on: documents come back compact, and the conversion
 * writes the canonical (compact) line. */
TEST(test_legacy_line_with_zippy_like_prefix) {
    const char *dir = tmpdir();
    const char *meta = path_in(dir, "collections/legacy/meta");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", meta);
    CHECK_EQ(system(cmd), 0);
    const char *data = "{\"_id\":\"p1\",\"k\": [1, 2, {\"z\": null}], \"s\": \"a b\"}\n{\"_id\": \"p2\", \"v\": 1}\n";
    CHECK_EQ(t_write_file(path_in(dir, "collections/legacy/meta/data.jsonl"), data, strlen(data)), 0);
    const char *want = "{\"k\":[1,2,{\"z\":null}],\"s\":\"a b\"}";
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    int rc = zippy_get(c, "p1", 2, 0, &g_buf);
    char got_ro[256];
    snprintf(got_ro, sizeof got_ro, "%s", rc ? zippy_errmsg() : g_buf.ptr);
    close_coll(r, c);
    CHECK_EQ(OPEN_RW(dir, &r, &c), 0);
    CHECK_EQ(close_coll(r, c), 0);
    size_t len;
    char *d = t_read_file(path_in(dir, "collections/legacy/meta/data.jsonl"), &len);
    CHECK(d);
    int canon = strstr(d, "{\"_id\":\"p1\",\"k\":[1,2,{\"z\":null}],\"s\":\"a b\"}\n") != NULL;
    char first[256];
    snprintf(first, sizeof first, "%.*s", (int)(strchr(d, '\n') ? strchr(d, '\n') - d : 0), d);
    free(d);
    CHECKF(rc == 0 && !strcmp(got_ro, want), "read-only get p1: %s, expected compact %s", got_ro, want);
    CHECKF(canon, "converted line not canonical: %s", first);
}

/* ------------------------------------------------------------------ */
/* Broken legacy indexes                                               */
/* ------------------------------------------------------------------ */

/* Both opens fail with ECORRUPT and a message naming what is wrong; the
 * writable one converts nothing. */
static const char *expect_corrupt(const char *dir, const char *needle1, const char *needle2) {
    size_t d0len = 0, i0len = 0, d1len = 0, i1len = 0;
    char *d0 = t_read_file(path_in(dir, "collections/legacy/meta/data.jsonl"), &d0len);
    char *i0 = t_read_file(path_in(dir, "collections/legacy/meta/index.bin"), &i0len);
    const char *why = NULL;
    for (int rw = 0; rw < 2 && !why; rw++) {
        zippy_root *r;
        zippy_coll *c;
        int rc = rw ? OPEN_RW(dir, &r, &c) : OPEN_RO(dir, &r, &c);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        if (rc == 0) {
            uint64_t n = 0;
            zippy_count(c, &n);
            close_coll(r, c);
            why = WHY("%s open succeeded (count %llu)", rw ? "writable" : "read-only", (unsigned long long)n);
        } else if (rc != ZIPPY_ECORRUPT) {
            why = WHY("%s open: %d (%s), expected ECORRUPT", rw ? "writable" : "read-only", rc, msg);
        } else if ((needle1 && !strstr(msg, needle1)) || (needle2 && !strstr(msg, needle2))) {
            why = WHY("message \"%s\" lacks \"%s\" / \"%s\"", msg, needle1 ? needle1 : "", needle2 ? needle2 : "");
        }
    }
    char *d1 = t_read_file(path_in(dir, "collections/legacy/meta/data.jsonl"), &d1len);
    char *i1 = t_read_file(path_in(dir, "collections/legacy/meta/index.bin"), &i1len);
    if (!why && !(d0 && d1 && d0len == d1len && !memcmp(d0, d1, d0len))) why = "data.jsonl changed by a failed open";
    if (!why && !(i0 && i1 && i0len == i1len && !memcmp(i0, i1, i0len))) why = "index.bin changed by a failed open";
    free(d0);
    free(d1);
    free(i0);
    free(i1);
    return why;
}

TEST(test_index_entry_past_end) {
    /* binary: the entry of x4 points past the end of data.jsonl */
    for (int kind = IX_BINARY; kind <= IX_TEXT; kind++) {
        const char *dir = tmpdir();
        static lstore s;
        build(&s, kind);
        if (kind == IX_BINARY) {
            size_t p = 16;
            while (p < s.ixlen) {
                size_t idlen = (size_t)(s.ix[p] | s.ix[p + 1] << 8);
                if (idlen == 2 && !memcmp(s.ix + p + 2, "x4", 2)) put_le(s.ix + p + 4, s.len + 100, 8);
                p += 2 + idlen + 12;
            }
        } else {
            s.ixlen += (size_t)snprintf((char *)s.ix + s.ixlen, sizeof s.ix - s.ixlen, "x9\t%zu\t20\n", s.len - 5);
        }
        CHECK_OK(write_store(dir, &s, kind));
        const char *why = expect_corrupt(dir, kind == IX_BINARY ? "x4" : "x9", "offset");
        CHECKF(!why, "%s: %s", kind_name(kind), why);
    }
    /* an offset so large that offset + length wraps around */
    const char *dir = tmpdir();
    static lstore s;
    build(&s, IX_BINARY);
    put_le(s.ix + 16 + 2 + strlen("x8"), UINT64_MAX - 3, 8);
    CHECK_OK(write_store(dir, &s, IX_BINARY));
    CHECK_OK(expect_corrupt(dir, "index", NULL));
    /* an entry whose length does not end at a newline */
    dir = tmpdir();
    build(&s, IX_BINARY);
    size_t len_at = 16 + 2 + strlen("x8") + 8;
    put_le(s.ix + len_at, 5, 4);
    CHECK_OK(write_store(dir, &s, IX_BINARY));
    CHECK_OK(expect_corrupt(dir, "x8", NULL));
}

/* An entry that points at a whole line of another id: the index does not
 * match the log. Serving x3's document as x2 (or dropping x2 in the
 * conversion) would be a wrong answer. The expect_corrupt check needs
 * both opens to fail; a read-only open may instead fail x2 alone. */
TEST(test_index_entry_points_at_other_id) {
    for (int kind = IX_BINARY; kind <= IX_TEXT; kind++) {
        const char *dir = tmpdir();
        static lstore s;
        build(&s, kind);
        /* x2's entry -> the (dead) line of x3, same length */
        if (kind == IX_BINARY) {
            size_t p = 16;
            while (p < s.ixlen) {
                size_t idlen = (size_t)(s.ix[p] | s.ix[p + 1] << 8);
                if (idlen == 2 && !memcmp(s.ix + p + 2, "x2", 2)) {
                    put_le(s.ix + p + 4, s.off[2], 8);
                    put_le(s.ix + p + 12, strlen(ROWS[2].line) + 1, 4);
                }
                p += 2 + idlen + 12;
            }
        } else {
            char *x2 = strstr((char *)s.ix, "x2\t");
            char *nl = strchr(x2, '\n');
            char rest[4096];
            snprintf(rest, sizeof rest, "%s", nl + 1);
            int n = snprintf(x2, sizeof s.ix - (size_t)(x2 - (char *)s.ix), "x2\t%llu\t%zu\n%s",
                             (unsigned long long)s.off[2], strlen(ROWS[2].line) + 1, rest);
            s.ixlen = (size_t)(x2 - (char *)s.ix) + (size_t)n;
        }
        CHECK_OK(write_store(dir, &s, kind));
        /* read-only: the open may fail, or x2 may fail, with ECORRUPT; the
         * other documents are fine; x2 is never served as x3's document */
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RO(dir, &r, &c);
        int g = 0;
        char got[256] = "";
        if (rc == 0) {
            g = zippy_get(c, "x2", 2, ZIPPY_GET_WITH_ID, &g_buf);
            snprintf(got, sizeof got, "%d %s", g, g ? zippy_errmsg() : g_buf.ptr);
            int g1 = zippy_get(c, "x1", 2, 0, &g_buf);
            int ok1 = g1 == 0 && !strcmp(g_buf.ptr, expected("x1", kind));
            close_coll(r, c);
            CHECKF(ok1, "%s: x1 not served (%d)", kind_name(kind), g1);
        }
        CHECKF(rc == ZIPPY_ECORRUPT || g == ZIPPY_ECORRUPT,
               "%s: x2's entry points at x3's line: read-only open %d, get x2 -> %s", kind_name(kind), rc, got);
        /* writable: no conversion that would drop x2 */
        const char *why = expect_corrupt(dir, "x2", NULL);
        CHECKF(!why, "%s: %s", kind_name(kind), why);
    }
}

/* A binary index cut anywhere after its magic: an error, never a crash
 * and never a wrong answer. */
TEST(test_truncated_binary_index) {
    static lstore s;
    build(&s, IX_BINARY);
    const char *dir = tmpdir();
    CHECK_OK(write_store(dir, &s, IX_BINARY));
    const char *ip = path_in(dir, "collections/legacy/meta/index.bin");
    char ipath[4096];
    snprintf(ipath, sizeof ipath, "%s", ip);
    for (size_t cut = 4; cut < s.ixlen; cut++) {
        CHECK_EQ(t_write_file(ipath, s.ix, cut), 0);
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RO(dir, &r, &c);
        if (rc == 0) {
            uint64_t n = 0;
            zippy_count(c, &n);
            close_coll(r, c);
            CHECKF(0, "index cut to %zu of %zu bytes: read-only open succeeded (count %llu)", cut, s.ixlen,
                   (unsigned long long)n);
        }
        CHECKF(rc == ZIPPY_ECORRUPT, "cut %zu: %d %s", cut, rc, zippy_errmsg());
    }
    /* writable: also refused, nothing converted */
    CHECK_EQ(t_write_file(ipath, s.ix, s.ixlen - 7), 0);
    CHECK_OK(expect_corrupt(dir, NULL, NULL));
}

/* The first 1-3 bytes of "ISDZ" are a truncated binary index too: not
 * "no index" (which would bring deleted documents back). */
TEST(test_index_cut_inside_magic) {
    static lstore s;
    build(&s, IX_BINARY);
    for (size_t cut = 1; cut < 4; cut++) {
        const char *dir = tmpdir();
        CHECK_OK(write_store(dir, &s, IX_BINARY));
        CHECK_EQ(t_write_file(path_in(dir, "collections/legacy/meta/index.bin"), s.ix, cut), 0);
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RO(dir, &r, &c);
        int x3 = -1;
        if (rc == 0) {
            x3 = zippy_get(c, "x3", 2, 0, &g_buf);
            close_coll(r, c);
        }
        CHECKF(rc == ZIPPY_ECORRUPT, "index.bin = first %zu bytes of \"ISDZ\": open %d, deleted x3 then gets %d", cut,
               rc, x3);
    }
}

/* A valid binary index with zero entries: every line is dead (all
 * documents were deleted), not "no index". */
TEST(test_index_with_zero_entries) {
    static lstore s;
    build(&s, IX_BINARY);
    for (int kind = 0; kind < 2; kind++) {
        const char *dir = tmpdir();
        CHECK_OK(write_store(dir, &s, IX_BINARY));
        if (kind == 0) {
            unsigned char hdr[16];
            memcpy(hdr, "ISDZ", 4);
            put_le(hdr + 4, 1, 4);
            put_le(hdr + 8, 0, 8);
            CHECK_EQ(t_write_file(path_in(dir, "collections/legacy/meta/index.bin"), hdr, 16), 0);
        } else {
            /* a text index naming only x8 */
            char t[64];
            int n = snprintf(t, sizeof t, "x8\t%llu\t%zu\n", (unsigned long long)s.off[NROWS - 1],
                             strlen(ROWS[NROWS - 1].line) + 1);
            CHECK_EQ(t_write_file(path_in(dir, "collections/legacy/meta/index.bin"), t, (size_t)n), 0);
        }
        zippy_root *r;
        zippy_coll *c;
        CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
        uint64_t n = 99;
        CHECK_EQ(zippy_count(c, &n), 0);
        int x2 = zippy_get(c, "x2", 2, 0, &g_buf);
        close_coll(r, c);
        CHECKF(n == (uint64_t)kind && x2 == ZIPPY_ENOTFOUND,
               "%s: count %llu (expected %d), deleted x2 gets %d",
               kind == 0 ? "binary index with 0 entries" : "text index with 1 entry", (unsigned long long)n, kind, x2);
    }
}

/* ------------------------------------------------------------------ */
/* Conversion under allocation failures                                */
/* ------------------------------------------------------------------ */

static struct {
    long calls, fail_at, failures;
    int sticky;
} fa;
static int fa_fail(void) {
    fa.calls++;
    if (fa.fail_at && (fa.calls == fa.fail_at || (fa.sticky && fa.calls > fa.fail_at))) {
        fa.failures++;
        return 1;
    }
    return 0;
}
static void *fa_malloc(size_t n) { return fa_fail() ? NULL : malloc(n); }
static void *fa_realloc(void *p, size_t n) { return fa_fail() ? NULL : realloc(p, n); }
static void fa_free(void *p) { free(p); }

/* A bigger last line, so that parsing it needs fresh memory. */
static void build_big_tail(lstore *s, int kind, char *bigline, size_t cap) {
    build(s, kind);
    size_t n = (size_t)snprintf(bigline, cap, "{\"big\": [");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(bigline + n, cap - n, "%s{\"k\": %d}", i ? ", " : "", i);
    n += (size_t)snprintf(bigline + n, cap - n, "], \"_id\": \"zz\"}");
    memcpy(s->data + s->len, bigline, n);
    s->len += n;
    s->data[s->len++] = '\n';
    if (kind == IX_BINARY) {
        size_t p = s->ixlen;
        put_le(s->ix + p, 2, 2);
        memcpy(s->ix + p + 2, "zz", 2);
        put_le(s->ix + p + 4, s->len - n - 1, 8);
        put_le(s->ix + p + 12, n + 1, 4);
        s->ixlen += 16;
        put_le(s->ix + 8, (uint64_t)s->ix[8] + 1, 8); /* count (small) + 1 */
    }
}

/* Every run of a writable open under a failing allocator either works or
 * fails with ENOMEM; afterwards the store still holds every document. */
static const char *fa_convert(int kind, int sticky) {
    static lstore s;
    static char big[16384], big_expect[16384];
    build_big_tail(&s, kind, big, sizeof big);
    size_t k = 0;
    k += (size_t)snprintf(big_expect + k, sizeof big_expect - k, "{\"big\":[");
    for (int i = 0; i < 300; i++) k += (size_t)snprintf(big_expect + k, sizeof big_expect - k, "%s{\"k\":%d}", i ? "," : "", i);
    snprintf(big_expect + k, sizeof big_expect - k, "]}");
    g_extra_id = "zz";
    g_extra_expect = big_expect;
    const char *res = NULL;
    static const zippy_allocator fa_alloc = {fa_malloc, fa_realloc, fa_free};
    char wrong[1024] = "";
    /* every allocation up to 64, then every third (each run converts a
     * store, with its fsyncs) */
    for (long n = 1; n < 3000; n += n < 64 ? 1 : 3) {
        char *dir = t_tmpdir(); /* one store per run, removed after it */
        const char *why = write_store(dir, &s, kind);
        if (why) { free(dir); return why; }
        zippy_set_allocator(&fa_alloc);
        fa.calls = fa.failures = 0;
        fa.sticky = sticky;
        fa.fail_at = n;
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RW(dir, &r, &c);
        if (rc == 0) close_coll(r, c);
        fa.fail_at = 0;
        zippy_set_allocator(NULL);
        long failures = fa.failures;
        if (rc && rc != ZIPPY_ENOMEM && !wrong[0])
            snprintf(wrong, sizeof wrong, "allocation %ld%s failing: writable open returned %d, not ENOMEM: %s", n,
                     sticky ? " and later" : "", rc, zippy_errmsg());
        /* with normal allocations: every document is still there */
        rc = OPEN_RO(dir, &r, &c);
        if (rc) {
            res = WHY("allocation %ld%s failed during conversion; then a read-only open: %d %s", n,
                      sticky ? " and later" : "", rc, zippy_errmsg());
            free(dir);
            break;
        }
        why = check_content(c, kind);
        uint64_t cnt = 0;
        zippy_count(c, &cnt);
        close_coll(r, c);
        if (why) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s", why);
            size_t dlen = 0;
            char *d = t_read_file(path_in(dir, "collections/legacy/meta/data.jsonl"), &dlen);
            free(d);
            res = WHY("allocation %ld%s failed during the conversion of a legacy store (%s); afterwards: %.300s "
                      "(count %llu, data.jsonl %zu of %zu bytes)",
                      n, sticky ? " and later" : "", kind_name(kind), tmp, (unsigned long long)cnt, dlen, s.len);
        }
        rm_tree(dir);
        free(dir);
        if (res || failures == 0) break;
    }
    if (!res && wrong[0]) res = WHY("%s", wrong);
    g_extra_id = g_extra_expect = NULL;
    return res;
}

TEST(test_convert_failing_allocator_no_index) { CHECK_OK(fa_convert(IX_NONE, 0)); }
TEST(test_convert_failing_allocator_no_index_sticky) { CHECK_OK(fa_convert(IX_NONE, 1)); }
TEST(test_convert_failing_allocator_binary_index) { CHECK_OK(fa_convert(IX_BINARY, 0)); }
TEST(test_convert_failing_allocator_binary_index_sticky) { CHECK_OK(fa_convert(IX_BINARY, 1)); }

/* ------------------------------------------------------------------ */
/* Conversion under I/O failures                                       */
/* ------------------------------------------------------------------ */

/* With a ZDS index, the index is the only record of deletions: an I/O
 * error at any point of the conversion (and so a crash at that point)
 * must not leave the old log without its index, which would bring the
 * deleted documents back. */
TEST(test_convert_io_failure_keeps_deletions) {
    static lstore s;
    build(&s, IX_BINARY);
    static const char *ops[] = {"open", "write", "read", "fsync", "rename", "unlink", "mkdir", "truncate", "mmap"};
    int runs = 0;
    for (int op = 0; op < ZOS_OP_COUNT; op++) {
        for (unsigned long nth = 1; nth < 60; nth++) {
            char *dir = t_tmpdir();
            const char *why = write_store(dir, &s, IX_BINARY);
            if (why) { free(dir); CHECK_OK(why); }
            unsigned long before = zos_op_count((zos_op)op);
            zos_fault_set((zos_op)op, nth, op == ZOS_OP_WRITE ? ENOSPC : EIO, ZOS_FAULT_STICKY);
            zippy_root *r;
            zippy_coll *c;
            int rc = OPEN_RW(dir, &r, &c);
            if (rc == 0) close_coll(r, c);
            zos_fault_clear();
            unsigned long used = zos_op_count((zos_op)op) - before;
            rc = OPEN_RO(dir, &r, &c);
            char msg[600] = "";
            if (rc) snprintf(msg, sizeof msg, "read-only open: %d %s", rc, zippy_errmsg());
            else {
                why = check_content(c, IX_BINARY);
                if (why) snprintf(msg, sizeof msg, "%s", why);
                close_coll(r, c);
            }
            rm_tree(dir);
            free(dir);
            runs++;
            CHECKF(!msg[0], "conversion with %s call #%lu (and later) failing; afterwards: %s", ops[op], nth, msg);
            if (used < nth) break; /* the conversion made fewer calls: done with this op */
        }
    }
    CHECK(runs > ZOS_OP_COUNT);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(test_read_only_binary_index);
    RUN_SEL(test_read_only_text_index);
    RUN_SEL(test_read_only_no_index);
    RUN_SEL(test_read_only_empty_index);
    RUN_SEL(test_convert_binary_index);
    RUN_SEL(test_convert_text_index);
    RUN_SEL(test_convert_no_index);
    RUN_SEL(test_convert_empty_index);
    RUN_SEL(test_bare_legacy_store);
    RUN_SEL(test_legacy_line_with_zippy_like_prefix);
    RUN_SEL(test_index_entry_past_end);
    RUN_SEL(test_index_entry_points_at_other_id);
    RUN_SEL(test_truncated_binary_index);
    RUN_SEL(test_index_cut_inside_magic);
    RUN_SEL(test_index_with_zero_entries);
    RUN_SEL(test_convert_failing_allocator_no_index);
    RUN_SEL(test_convert_failing_allocator_no_index_sticky);
    RUN_SEL(test_convert_failing_allocator_binary_index);
    RUN_SEL(test_convert_failing_allocator_binary_index_sticky);
    RUN_SEL(test_convert_io_failure_keeps_deletions);
    zippy_buf_free(&g_buf);
    for (int i = 0; i < g_ndirs; i++) {
        if (!getenv("ZIPPY_KEEP")) t_rm_rf(g_dirs[i]); /* ZIPPY_KEEP=1 keeps them */
        free(g_dirs[i]);
    }
    TEST_END();
}
