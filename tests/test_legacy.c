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
#include <stdarg.h>
#include <sys/stat.h>

#include "zippy.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char g_why[4096], g_why2[4096];
#define WHY(...) (snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
#define WHY_MORE(...) (memcpy(g_why2, g_why, sizeof g_why), snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
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
    {"x4", "{\"_id\":\"x4\",\"nested\":{\"_id\":\"inner\",\"k\":[1, 2, {\"z\": null}]},\"n\":12345678901234567890}", 1,
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
    const char *meta = path_in(dir, "collections/legacy/meta");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", meta);
    if (system(cmd)) return "mkdir";
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
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The collection serves exactly the expected documents: count, every get
 * (also of dead ids), ids, one scan in order. */
static const char *check_content(zippy_coll *c, int kind) {
    const char *all[NROWS];
    int n = 0;
    for (int i = 0; i < NROWS; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= !strcmp(all[j], ROWS[i].id);
        if (!dup) all[n++] = ROWS[i].id;
    }
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
        char want[512];
        snprintf(want, sizeof want, "{\"_id\":\"%s\"%s%s", all[i], strcmp(e, "{}") ? "," : "}",
                 strcmp(e, "{}") ? e + 1 : "");
        if (rc || strcmp(g_buf.ptr, want)) return WHY("get %s with id: %d %s, expected %s", all[i], rc, rc ? "" : g_buf.ptr, want);
    }
    uint64_t cnt = 0;
    if (zippy_count(c, &cnt) || cnt != live) return WHY("count %llu, expected %llu", (unsigned long long)cnt, (unsigned long long)live);
    char **ids;
    size_t nids;
    if (zippy_ids(c, &ids, &nids)) return WHY("ids: %s", zippy_errmsg());
    const char *want_ids[NROWS];
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
        char got[4096] = "", want[4096];
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
    if (!why && put_s_ro(c)) why = "put through a read-only handle did not fail with EREADONLY";
    zippy_verify_report vr;
    if (!why) (void)zippy_coll_verify(c, &vr); /* may complain; must not change anything */
    if (!why && zippy_coll_refresh(c)) why = WHY("refresh: %s", zippy_errmsg());
    if (!why) why = check_content(c, kind);
    close_coll(r, c);
    char *s1 = snapshot(dir, &l1);
    int same = l0 == l1 && !memcmp(s0, s1, l0);
    free(s0);
    free(s1);
    if (why) return WHY_MORE("%s: %s", kind_name(kind), g_why2 == why ? g_why2 : why);
    if (!same) return WHY("%s: a read-only open changed the store", kind_name(kind));
    if (file_exists(path_in(dir, "collections/legacy/meta/lock"))) return "read-only open created a lock file";
    if (file_exists(path_in(dir, "zds.json"))) return "read-only open created zds.json";
    return NULL;
}
