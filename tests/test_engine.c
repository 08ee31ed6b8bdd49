/* test_engine.c - the public API of libzippy (include/zippy.h) against the
 * JSONL engine (src/engine.c, src/root.c): documents, ids, persistence,
 * scans, bulk loads, maintenance, corruption handling, read-only handles,
 * the store root, sync modes and allocation failures.
 *
 * Every store lives in a fresh directory under $TMPDIR. Files are inspected
 * and damaged by hand (t_read_file / t_write_file) to check the on-disk
 * behaviour described in src/engine.c and src/index.h.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "json.h" /* only to parse zds.json / root_info_json in checks */
#include "zippy.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char g_why[4096];
static char g_why2[4096];
#define WHY(...) (snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
/* Adds context in front of the last WHY reason. */
#define WHY_MORE(...) (memcpy(g_why2, g_why, sizeof g_why), snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
/* Runs a helper returning NULL (fine) or a reason, and fails with it. */
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        const char *why_ = (expr);                                             \
        CHECKF(why_ == NULL, "%s", why_);                                      \
    } while (0)

static zippy_buf g_buf = ZIPPY_BUF_INIT;
static char *g_dirs[256];
static int g_ndirs;

static int quick(void) { return getenv("ZIPPY_QUICK") != NULL; }

/* A fresh directory, removed at the end of the run. */
static const char *tmpdir(void) {
    char *d = t_tmpdir();
    if (g_ndirs < 256) g_dirs[g_ndirs++] = d;
    return d;
}

/* printf into one of 16 rotating static buffers (paths, ids). */
static const char *fmt(const char *f, ...) {
    static char bufs[16][4096];
    static int k;
    char *b = bufs[k++ & 15];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 4096, f, ap);
    va_end(ap);
    return b;
}

/* Paths of a collection's files (own rotating buffers: a test may keep
 * them while calling fmt many times). */
static const char *data_path(const char *dir, const char *coll) {
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 4096, "%s/collections/%s/meta/data.jsonl", dir, coll);
    return b;
}
static const char *index_path(const char *dir, const char *coll) {
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 4096, "%s/collections/%s/meta/index.bin", dir, coll);
    return b;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}
static long long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static int append_file(const char *path, const char *s) {
    FILE *f = fopen(path, "ab");
    if (!f) return -1;
    size_t n = strlen(s), w = fwrite(s, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static int count_char(const char *s, size_t n, char c) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == c;
    return k;
}

/* Byte offset of the line starting with {"_id":"<id>" in buf, or -1. */
static long line_offset(const char *buf, const char *id) {
    char pat[512];
    snprintf(pat, sizeof pat, "{\"_id\":\"%s\"", id);
    size_t pl = strlen(pat);
    const char *p = buf;
    for (;;) {
        if (!strncmp(p, pat, pl) && (p[pl] == ',' || p[pl] == '}')) return (long)(p - buf);
        const char *nl = strchr(p, '\n');
        if (!nl) return -1;
        p = nl + 1;
    }
}

/* Opens (root, collection) with the given flags and sync mode. */
static int open_coll(const char *dir, const char *name, unsigned flags, zippy_sync_mode sync, zippy_root **r,
                     zippy_coll **c) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = flags;
    o.sync = sync;
    *r = NULL;
    *c = NULL;
    int rc = zippy_root_open(r, dir, &o);
    if (rc) {
        *r = NULL;
        return rc;
    }
    rc = zippy_coll_open(c, *r, name, &o);
    if (rc) {
        *c = NULL;
        zippy_root_close(*r);
        *r = NULL;
    }
    return rc;
}
#define OPEN_RW(dir, name, r, c) open_coll(dir, name, ZIPPY_OPEN_CREATE, ZIPPY_SYNC_FLUSH, r, c)
#define OPEN_RO(dir, name, r, c) open_coll(dir, name, ZIPPY_OPEN_READONLY, ZIPPY_SYNC_FLUSH, r, c)

static int close_coll(zippy_root *r, zippy_coll *c) {
    int rc = zippy_coll_close(c);
    zippy_root_close(r);
    return rc;
}

static int put_s(zippy_coll *c, const char *id, const char *json) {
    return zippy_put(c, id, strlen(id), json, strlen(json));
}
static int get_s(zippy_coll *c, const char *id, unsigned flags) {
    return zippy_get(c, id, strlen(id), flags, &g_buf);
}
static int del_s(zippy_coll *c, const char *id) { return zippy_delete(c, id, strlen(id)); }
static uint64_t count_of(zippy_coll *c) {
    uint64_t n = UINT64_MAX;
    if (zippy_count(c, &n)) return UINT64_MAX;
    return n;
}

#define PUT(c, id, json)                                                       \
    do {                                                                       \
        int rc_ = put_s(c, id, json);                                          \
        CHECKF(rc_ == ZIPPY_OK, "put %s: %d %s", (const char *)(id), rc_, zippy_errmsg()); \
    } while (0)
#define GET_IS(c, id, expect)                                                  \
    do {                                                                       \
        int rc_ = get_s(c, id, 0);                                             \
        CHECKF(rc_ == ZIPPY_OK, "get %s: %d %s", (const char *)(id), rc_, zippy_errmsg()); \
        CHECK_MEM(g_buf.ptr, g_buf.len, expect);                               \
    } while (0)
#define GET_RC(c, id, code)                                                    \
    do {                                                                       \
        int rc_ = get_s(c, id, 0);                                             \
        CHECKF(rc_ == (code), "get %s: %d, expected %d (%s)", (const char *)(id), rc_, (int)(code), \
               zippy_errmsg());                                                \
    } while (0)

/* Snapshot of a directory tree: names, kinds, sizes and contents, sorted,
 * as one malloc'ed blob (to compare "changes no file"). */
static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void snap_walk(FILE *out, const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) { fprintf(out, "!%s\n", rel); return; }
    char *names[4096];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 4096)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char p[4096], r[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(r, sizeof r, "%s/%s", rel, names[i]);
        struct stat st;
        if (lstat(p, &st)) { fprintf(out, "?%s\n", r); continue; }
        if (S_ISDIR(st.st_mode)) {
            fprintf(out, "D %s\n", r);
            snap_walk(out, p, r);
        } else {
            size_t len = 0;
            char *b = t_read_file(p, &len);
            fprintf(out, "F %s %zu ino=%llu\n", r, len, (unsigned long long)st.st_ino);
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
static int same_snapshot(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Scans with the given options; writes "id=doc;" per row (or "id;" with
 * IDS_ONLY) into out. Returns the first negative code or 0. */
static int scan_collect(zippy_coll *c, unsigned flags, const char *filter, const char *fields, uint64_t limit,
                        uint64_t skip, char *out, size_t cap) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.flags = flags;
    so.filter = filter;
    so.fields = fields;
    so.limit = limit;
    so.skip = skip;
    zippy_scan *s = NULL;
    size_t used = 0;
    out[0] = 0;
    int rc = zippy_scan_open(&s, c, &so);
    if (rc) return rc;
    for (;;) {
        const char *id = NULL, *doc = (const char *)1;
        size_t idlen = 0, doclen = 7;
        rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen);
        if (rc <= 0) break;
        int n;
        if (flags & ZIPPY_SCAN_IDS_ONLY)
            n = snprintf(out + used, cap - used, "%.*s%s;", (int)idlen, id, doc ? "(doc!)" : "");
        else
            n = snprintf(out + used, cap - used, "%.*s=%.*s;", (int)idlen, id, (int)doclen, doc);
        if (n < 0 || (size_t)n >= cap - used) { rc = -1000; break; }
        used += (size_t)n;
    }
    zippy_scan_close(s);
    return rc;
}

/* Parses a JSON text and follows a path of object keys; returns the value
 * as text (numbers/strings raw) in one of 8 rotating static buffers, or
 * NULL. */
static const char *json_at(const char *txt, size_t len, const char *k1, const char *k2, const char *k3) {
    static char bufs[8][1024];
    static int bk;
    char *res = bufs[bk++ & 7];
    zj_doc *d = zj_doc_new();
    zj_val *v = NULL;
    const char *ret = NULL;
    if (!d || zj_parse(d, txt, len, &v, NULL) != ZIPPY_OK) goto done;
    const char *keys[3] = {k1, k2, k3};
    for (int i = 0; i < 3 && keys[i] && v; i++) v = (zj_val *)zj_get(v, keys[i], strlen(keys[i]));
    if (!v) goto done;
    if (v->type == ZJ_STRING || v->type == ZJ_NUMBER) {
        snprintf(res, 1024, "%.*s", (int)v->len, v->u.str);
    } else {
        zippy_buf b = ZIPPY_BUF_INIT;
        zj_write(&b, v, 0);
        snprintf(res, 1024, "%s", b.ptr ? b.ptr : "");
        zippy_buf_free(&b);
    }
    ret = res;
done:
    zj_doc_free(d);
    return ret;
}

/* Forks; the child runs fn(arg) and _exits with its return value. */
static pid_t fork_child(int (*fn)(void *), void *arg) {
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == 0) _exit(fn(arg));
    return p;
}
static int wait_child(pid_t p) {
    int st = 0;
    pid_t w;
    while ((w = waitpid(p, &st, 0)) < 0 && errno == EINTR) {}
    if (w != p) {
        printf("# waitpid(%d) in pid %d: %s\n", (int)p, (int)getpid(), strerror(errno));
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Creates collection `coll` with n documents d000.. = {"n":i,"name":"name<i>"}. */
static const char *make_store(const char *dir, const char *coll, int n) {
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RW(dir, coll, &r, &c);
    if (rc) return WHY("open %s: %s", dir, zippy_errmsg());
    for (int i = 0; i < n; i++) {
        char id[32], doc[128];
        snprintf(id, sizeof id, "d%03d", i);
        snprintf(doc, sizeof doc, "{\"n\":%d,\"name\":\"name%03d\"}", i, i);
        if ((rc = put_s(c, id, doc))) { close_coll(r, c); return WHY("put %s: %s", id, zippy_errmsg()); }
    }
    if ((rc = close_coll(r, c))) return WHY("close: %s", zippy_errmsg());
    return NULL;
}
static const char *doc_of(int i) { return fmt("{\"n\":%d,\"name\":\"name%03d\"}", i, i); }

/* Checks that documents d000..d<n-1> read back as made by make_store
 * (absent[i] == 1: must be absent; 2: not checked), and count == expected. */
static const char *check_store(zippy_coll *c, int n, const unsigned char *absent, uint64_t expected) {
    uint64_t cnt = count_of(c);
    if (cnt != expected) return WHY("count %llu, expected %llu", (unsigned long long)cnt, (unsigned long long)expected);
    for (int i = 0; i < n; i++) {
        const char *id = fmt("d%03d", i);
        int rc = get_s(c, id, 0);
        if (absent && absent[i] == 2) continue;
        if (absent && absent[i]) {
            if (rc != ZIPPY_ENOTFOUND) return WHY("get %s: %d, expected ENOTFOUND", id, rc);
            continue;
        }
        if (rc) return WHY("get %s: %d %s", id, rc, zippy_errmsg());
        const char *want = doc_of(i);
        if (g_buf.len != strlen(want) || memcmp(g_buf.ptr, want, g_buf.len))
            return WHY("get %s: %s, expected %s", id, g_buf.ptr, want);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

TEST(test_put_get_delete_basics) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "people", &r, &c), ZIPPY_OK);
    CHECK(zippy_coll_writable(c) == 1);
    CHECK_STR(zippy_coll_name(c), "people");
    CHECK_STR(zippy_root_path(r), dir);
    CHECK_EQ(count_of(c), 0);
    PUT(c, "alice", "{\"name\":\"Alice\",\"age\":30}");
    PUT(c, "bob", "{\"name\":\"Bob\"}");
    CHECK_EQ(count_of(c), 2);
    GET_IS(c, "alice", "{\"name\":\"Alice\",\"age\":30}");
    CHECK_EQ(get_s(c, "alice", ZIPPY_GET_WITH_ID), ZIPPY_OK);
    CHECK_MEM(g_buf.ptr, g_buf.len, "{\"_id\":\"alice\",\"name\":\"Alice\",\"age\":30}");
    CHECK(g_buf.ptr[g_buf.len] == 0);
    CHECK_EQ(zippy_exists(c, "alice", 5), 1);
    CHECK_EQ(zippy_exists(c, "carol", 5), 0);
    GET_RC(c, "carol", ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "carol") != NULL);
    CHECK_EQ(zippy_errcode(), ZIPPY_ENOTFOUND);
    /* ids and documents need not be NUL-terminated */
    CHECK_EQ(zippy_put(c, "carolXYZ", 5, "{\"x\":1}garbage", 7), ZIPPY_OK);
    CHECK_EQ(zippy_get(c, "carol!!", 5, 0, &g_buf), ZIPPY_OK);
    CHECK_MEM(g_buf.ptr, g_buf.len, "{\"x\":1}");
    CHECK_EQ(zippy_exists(c, "carolXYZ", 8), 0);
    /* ids */
    char **ids = NULL;
    size_t n = 0;
    CHECK_EQ(zippy_ids(c, &ids, &n), ZIPPY_OK);
    CHECK_EQ(n, 3);
    CHECK_STR(ids[0], "alice");
    CHECK_STR(ids[1], "bob");
    CHECK_STR(ids[2], "carol");
    CHECK(ids[3] == NULL);
    zippy_strv_free(ids);
    /* delete */
    CHECK_EQ(del_s(c, "bob"), ZIPPY_OK);
    CHECK_EQ(count_of(c), 2);
    GET_RC(c, "bob", ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_exists(c, "bob", 3), 0);
    CHECK_EQ(del_s(c, "bob"), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "bob") != NULL);
    CHECK_EQ(del_s(c, "never"), ZIPPY_ENOTFOUND);
    CHECK_EQ(count_of(c), 2);
    /* re-put after delete */
    PUT(c, "bob", "{\"name\":\"Bob\",\"v\":2}");
    GET_IS(c, "bob", "{\"name\":\"Bob\",\"v\":2}");
    CHECK_EQ(count_of(c), 3);
    /* ids with count NULL; empty collection gives an empty vector */
    CHECK_EQ(zippy_ids(c, &ids, NULL), ZIPPY_OK);
    CHECK_STR(ids[0], "alice");
    zippy_strv_free(ids);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);

    CHECK_EQ(OPEN_RW(dir, "empty", &r, &c), ZIPPY_OK);
    CHECK_EQ(zippy_ids(c, &ids, &n), ZIPPY_OK);
    CHECK_EQ(n, 0);
    CHECK(ids && ids[0] == NULL);
    zippy_strv_free(ids);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    zippy_coll_close(NULL);
    zippy_root_close(NULL);
}

TEST(test_read_your_writes_and_updates) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    for (int v = 0; v < 50; v++) {
        const char *doc = fmt("{\"v\":%d}", v);
        PUT(c, "x", doc);
        GET_IS(c, "x", doc); /* before any flush */
        CHECK_EQ(count_of(c), 1);
    }
    CHECK_EQ(del_s(c, "x"), ZIPPY_OK);
    GET_RC(c, "x", ZIPPY_ENOTFOUND);
    PUT(c, "x", "{\"v\":\"again\"}");
    GET_IS(c, "x", "{\"v\":\"again\"}");
    CHECK_EQ(zippy_coll_flush(c), ZIPPY_OK);
    GET_IS(c, "x", "{\"v\":\"again\"}");
    PUT(c, "x", "{\"v\":\"after flush\"}");
    GET_IS(c, "x", "{\"v\":\"after flush\"}");
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    GET_IS(c, "x", "{\"v\":\"after flush\"}");
    CHECK_EQ(count_of(c), 1);
    close_coll(r, c);
}

TEST(test_document_forms) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    /* key order kept, insignificant whitespace removed, string bytes kept */
    PUT(c, "order", "{ \"z\" : 1 ,\n\t\"a\" : [ 1 , 2 , { \"k\" : \"a b  c\" } ] ,\r\n \"m\":null }  ");
    GET_IS(c, "order", "{\"z\":1,\"a\":[1,2,{\"k\":\"a b  c\"}],\"m\":null}");
    /* nested */
    PUT(c, "nested", "{\"a\":{\"b\":{\"c\":{\"d\":[[],{},[{\"e\":true}]]}}},\"f\":false}");
    GET_IS(c, "nested", "{\"a\":{\"b\":{\"c\":{\"d\":[[],{},[{\"e\":true}]]}}},\"f\":false}");
    /* unicode, escapes kept as written */
    PUT(c, "uni", "{\"name\":\"日本語 é ☃ 😀\",\"esc\":\"\\u00e9\\n\\\"q\\\"\",\"k\\u00e9y\":1}");
    GET_IS(c, "uni", "{\"name\":\"日本語 é ☃ 😀\",\"esc\":\"\\u00e9\\n\\\"q\\\"\",\"k\\u00e9y\":1}");
    /* numbers keep their exact text */
    PUT(c, "big", "{\"n\":12345678901234567890123,\"neg\":-98765432109876543210,\"f\":1.50,\"e\":1E+400,\"z\":-0}");
    GET_IS(c, "big", "{\"n\":12345678901234567890123,\"neg\":-98765432109876543210,\"f\":1.50,\"e\":1E+400,\"z\":-0}");
    /* empty object */
    PUT(c, "empty", "{}");
    GET_IS(c, "empty", "{}");
    CHECK_EQ(get_s(c, "empty", ZIPPY_GET_WITH_ID), ZIPPY_OK);
    CHECK_MEM(g_buf.ptr, g_buf.len, "{\"_id\":\"empty\"}");
    PUT(c, "empty2", "  { }  ");
    GET_IS(c, "empty2", "{}");
    /* "_id" equal to the id: accepted, not stored twice, wherever it is */
    PUT(c, "k1", "{\"_id\":\"k1\",\"a\":1}");
    GET_IS(c, "k1", "{\"a\":1}");
    CHECK_EQ(get_s(c, "k1", ZIPPY_GET_WITH_ID), ZIPPY_OK);
    CHECK_MEM(g_buf.ptr, g_buf.len, "{\"_id\":\"k1\",\"a\":1}");
    PUT(c, "k2", "{\"a\":1,\"_id\":\"k2\",\"b\":2}");
    GET_IS(c, "k2", "{\"a\":1,\"b\":2}");
    CHECK_EQ(get_s(c, "k2", ZIPPY_GET_WITH_ID), ZIPPY_OK);
    CHECK_MEM(g_buf.ptr, g_buf.len, "{\"_id\":\"k2\",\"a\":1,\"b\":2}");
    PUT(c, "k3", "{\"_id\":\"k3\"}");
    GET_IS(c, "k3", "{}");
    PUT(c, "k4", "{\"_id\":\"k\\u0034\",\"a\":1}"); /* the same id, escaped */
    GET_IS(c, "k4", "{\"a\":1}");
    /* nested "_id" and "$deleted" are ordinary keys */
    PUT(c, "k5", "{\"sub\":{\"_id\":\"other\",\"$deleted\":true}}");
    GET_IS(c, "k5", "{\"sub\":{\"_id\":\"other\",\"$deleted\":true}}");
    CHECK_EQ(count_of(c), 11);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);

    /* the log has "_id" first, compact, one line per write */
    size_t len;
    char *log = t_read_file(data_path(dir, "c"), &len);
    CHECK(log != NULL);
    CHECK(strstr(log, "{\"_id\":\"k2\",\"a\":1,\"b\":2}\n") != NULL);
    CHECK(strstr(log, "{\"_id\":\"k3\"}\n") != NULL);
    CHECK(strstr(log, "{\"_id\":\"order\",\"z\":1,\"a\":[1,2,{\"k\":\"a b  c\"}],\"m\":null}\n") != NULL);
    CHECK_EQ(count_char(log, len, '\n'), 11);
    free(log);

    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    GET_IS(c, "big", "{\"n\":12345678901234567890123,\"neg\":-98765432109876543210,\"f\":1.50,\"e\":1E+400,\"z\":-0}");
    GET_IS(c, "uni", "{\"name\":\"日本語 é ☃ 😀\",\"esc\":\"\\u00e9\\n\\\"q\\\"\",\"k\\u00e9y\":1}");
    GET_IS(c, "k2", "{\"a\":1,\"b\":2}");
    close_coll(r, c);
}

/* put of (id, json) must fail with code, leave count and the id's current
 * state unchanged, and name `needle` in the message. */
static const char *refused(zippy_coll *c, const char *id, const char *json, size_t len, int code,
                           const char *needle, const char *needle2) {
    uint64_t before = count_of(c);
    int had = get_s(c, id, 0);
    char *old = had == ZIPPY_OK ? strndup(g_buf.ptr, g_buf.len) : NULL;
    int rc = zippy_put(c, id, strlen(id), json, len);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    const char *why = NULL;
    if (rc != code)
        why = WHY("put %s %.60s: %d, expected %d (%s)", id, json, rc, code, msg);
    else if (zippy_errcode() != code)
        why = WHY("errcode %d", zippy_errcode());
    else if (needle && !strstr(msg, needle))
        why = WHY("put %s %.60s: message \"%s\" lacks \"%s\"", id, json, msg, needle);
    else if (needle2 && !strstr(msg, needle2))
        why = WHY("put %s %.60s: message \"%s\" lacks \"%s\"", id, json, msg, needle2);
    else if (count_of(c) != before)
        why = WHY("count changed after refused put of %s", id);
    else {
        int now = get_s(c, id, 0);
        if (now != had) why = WHY("get %s after refused put: %d, before %d", id, now, had);
        else if (old && (g_buf.len != strlen(old) || memcmp(g_buf.ptr, old, g_buf.len)))
            why = WHY("document %s changed by a refused put: %s", id, g_buf.ptr);
    }
    free(old);
    return why;
}
#define REFUSED(c, id, json, code, n1, n2) CHECK_OK(refused(c, id, json, strlen(json), code, n1, n2))

TEST(test_refused_documents) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "keep", "{\"v\":1}");
    const char *ids[] = {"keep", "fresh"};
    for (int k = 0; k < 2; k++) {
        const char *id = ids[k];
        /* "_id" different or not a string */
        REFUSED(c, id, "{\"_id\":\"other\",\"a\":1}", ZIPPY_EINVAL, id, "_id");
        REFUSED(c, id, "{\"a\":1,\"_id\":5}", ZIPPY_EINVAL, id, "_id");
        REFUSED(c, id, "{\"_id\":null}", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "{\"_id\":[\"keep\"]}", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "{\"_id\":\"\"}", ZIPPY_EINVAL, id, NULL);
        /* reserved top-level key */
        REFUSED(c, id, "{\"$deleted\":true}", ZIPPY_EINVAL, id, "$deleted");
        REFUSED(c, id, "{\"a\":1,\"$deleted\":false}", ZIPPY_EINVAL, id, "$deleted");
        /* non-objects */
        REFUSED(c, id, "[1,2]", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "[]", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "\"str\"", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "42", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "null", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "true", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "", ZIPPY_EINVAL, id, NULL);
        REFUSED(c, id, "   \n", ZIPPY_EINVAL, id, NULL);
        /* malformed: message names the id and the byte offset */
        REFUSED(c, id, "{\"a\":1,}", ZIPPY_EINVAL, id, "byte 7");
        REFUSED(c, id, "{\"a\" 1}", ZIPPY_EINVAL, id, "byte 5");
        REFUSED(c, id, "{\"a\":tru}", ZIPPY_EINVAL, id, "byte ");
        REFUSED(c, id, "{\"a\":\"unterminated}", ZIPPY_EINVAL, id, "byte ");
        REFUSED(c, id, "{\"a\":1", ZIPPY_EINVAL, id, "byte 6");
        REFUSED(c, id, "{\"a\":1}}", ZIPPY_EINVAL, id, "byte 7");
        REFUSED(c, id, "{} {}", ZIPPY_EINVAL, id, "byte 3");
        REFUSED(c, id, "{'a':1}", ZIPPY_EINVAL, id, "byte 1");
        REFUSED(c, id, "{\"a\":01}", ZIPPY_EINVAL, id, "byte ");
        REFUSED(c, id, "{\"a\":\"\xff\"}", ZIPPY_EINVAL, id, "byte 6");
        REFUSED(c, id, "{\"a\":\"x\ty\"}", ZIPPY_EINVAL, id, "byte ");
        CHECK_OK(refused(c, id, "{\"a\":\0}", 7, ZIPPY_EINVAL, id, "byte 5"));
    }
    /* NULL json */
    CHECK_EQ(zippy_put(c, "keep", 4, NULL, 0), ZIPPY_EINVAL);
    GET_IS(c, "keep", "{\"v\":1}");
    CHECK_EQ(count_of(c), 1);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    /* nothing of the refused writes reached the log */
    size_t len;
    char *log = t_read_file(data_path(dir, "c"), &len);
    CHECK(log != NULL);
    CHECK_MEM(log, len, "{\"_id\":\"keep\",\"v\":1}\n");
    free(log);
}

/* Keys spelled with escapes are the same JSON keys: "\u005fid" is "_id" and
 * "\u0024deleted" is "$deleted"; duplicate "_id" members must all match. */
TEST(test_refused_escaped_reserved_keys) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    REFUSED(c, "e1", "{\"\\u0024deleted\":true}", ZIPPY_EINVAL, "e1", NULL);
    REFUSED(c, "e2", "{\"\\u005fid\":\"other\"}", ZIPPY_EINVAL, "e2", NULL);
    close_coll(r, c);
}

/* Two top-level "_id" members: refused unless both equal the id (the
 * second must not be dropped silently). */
TEST(test_refused_duplicate_id_members) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    char why4[1024] = "", why3[1024] = "";
    const char *w = refused(c, "e4", "{\"_id\":\"zz\",\"_id\":\"e4\"}", 22, ZIPPY_EINVAL, "e4", NULL);
    if (w) snprintf(why4, sizeof why4, "%s", w);
    w = refused(c, "e3", "{\"_id\":\"e3\",\"_id\":\"zz\"}", 22, ZIPPY_EINVAL, "e3", NULL);
    if (w) {
        snprintf(why3, sizeof why3, "%s", w);
        if (get_s(c, "e3", ZIPPY_GET_WITH_ID) == 0)
            snprintf(why3 + strlen(why3), sizeof why3 - strlen(why3), "; stored as %s", g_buf.ptr);
    }
    close_coll(r, c);
    CHECKF(!why4[0], "%s", why4);
    CHECKF(!why3[0], "%s", why3);
}

TEST(test_oversized_document) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "big", "{\"small\":1}");
    size_t n = (size_t)ZIPPY_DOC_MAX + 1;
    char *doc = malloc(n + 1);
    CHECK(doc != NULL);
    memcpy(doc, "{\"a\":\"", 6);
    memset(doc + 6, 'x', n - 8);
    memcpy(doc + n - 2, "\"}", 2);
    doc[n] = 0;
    const char *why = refused(c, "big", doc, n, ZIPPY_ETOOBIG, "big", NULL);
    if (why) free(doc);
    CHECK_OK(why);
    why = refused(c, "other", doc, n, ZIPPY_ETOOBIG, "other", NULL);
    if (why) free(doc);
    CHECK_OK(why);
    if (!quick()) {
        /* exactly the limit is fine */
        memcpy(doc + n - 3, "\"}", 3);
        int rc = zippy_put(c, "max", 3, doc, n - 1);
        if (rc) free(doc);
        CHECKF(rc == ZIPPY_OK, "%s", zippy_errmsg());
        rc = get_s(c, "max", 0);
        int same = rc == 0 && g_buf.len == n - 1 && !memcmp(g_buf.ptr, doc, n - 1);
        free(doc);
        CHECK(same);
        CHECK_EQ(del_s(c, "max"), ZIPPY_OK);
        zippy_buf_free(&g_buf);
    } else {
        free(doc);
    }
    GET_IS(c, "big", "{\"small\":1}");
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
}

/* ------------------------------------------------------------------ */
/* Ids                                                                 */
/* ------------------------------------------------------------------ */

TEST(test_ids_valid) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    char long_id[256];
    memset(long_id, 'a', 255);
    long_id[255] = 0;
    char long_u[256]; /* 85 x "é" (2 bytes) + "x" = 171 bytes; then pad */
    size_t k = 0;
    while (k + 2 <= 254) { long_u[k++] = (char)0xC3; long_u[k++] = (char)0xA9; }
    while (k < 255) long_u[k++] = 'z';
    long_u[255] = 0;
    const char *ok[] = {"user_001", "a@b.com", "urn:isbn:123", "x+y=z", "é", "日本", "a.b", "a-b", "_",
                        "0", "A=B:C@D+E", "Ωmega", long_id, long_u};
    size_t nok = sizeof ok / sizeof ok[0];
    for (size_t i = 0; i < nok; i++) {
        const char *id = ok[i];
        CHECKF(zippy_id_valid(id, strlen(id)) == ZIPPY_OK, "%s: %s", id, zippy_errmsg());
        const char *doc = fmt("{\"i\":%zu}", i);
        PUT(c, id, doc);
        GET_IS(c, id, doc);
        CHECK_EQ(zippy_exists(c, id, strlen(id)), 1);
        CHECK_EQ(get_s(c, id, ZIPPY_GET_WITH_ID), ZIPPY_OK);
        CHECK(g_buf.len > 8 && !memcmp(g_buf.ptr + 8, id, strlen(id)));
    }
    CHECK_EQ(count_of(c), nok);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    char **ids;
    size_t n;
    CHECK_EQ(zippy_ids(c, &ids, &n), ZIPPY_OK);
    CHECK_EQ(n, nok);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(ids[i - 1], ids[i]) < 0); /* byte order */
    zippy_strv_free(ids);
    for (size_t i = 0; i < nok; i++) {
        GET_IS(c, ok[i], fmt("{\"i\":%zu}", i));
        CHECKF(del_s(c, ok[i]) == ZIPPY_OK, "%s", ok[i]);
        GET_RC(c, ok[i], ZIPPY_ENOTFOUND);
    }
    CHECK_EQ(count_of(c), 0);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
}

/* An id with a NUL byte is not valid: stored raw in the log it would make
 * an invalid JSON line that breaks every later rebuild of the index. */
TEST(test_id_with_nul_byte) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "a", "{}");
    int v = zippy_id_valid("a\0b", 3);
    int p = zippy_put(c, "a\0b", 3, "{\"v\":1}", 7);
    PUT(c, "z", "{}");
    int ri = zippy_coll_reindex(c);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    close_coll(r, c);
    CHECKF(v == ZIPPY_EINVAL && p == ZIPPY_EINVAL,
           "id \"a\\0b\": id_valid %d, put %d; a reindex afterwards returned %d (%s)", v, p, ri, msg);
    CHECK_EQ(ri, 0);
}

TEST(test_ids_invalid) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "there", "{}");
    char long_id[257];
    memset(long_id, 'b', 256);
    long_id[256] = 0;
    struct { const char *id; size_t len; } bad[] = {
        {"", 0}, {"../evil", 7}, {".hidden", 7}, {"a/b", 3}, {"a..b", 4}, {"a b", 3}, {long_id, 256},
        {"\xff", 1}, {"a\xc3", 2}, {"\xc0\xaf", 2}, {"\xed\xa0\x80", 3}, {"a\"b", 3}, {"a\\b", 3},
        {"\n", 1}, {"tab\t", 4}, {"a,b", 3}, {"{x}", 3}, {"a*b", 3}, {"/", 1}, {"..", 2},
        {".", 1}, {"a\x7f", 2}, {"\xe2\x80\x83", 3} /* em space */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *id = bad[i].id;
        size_t len = bad[i].len;
        /* the message shows the id (the first 40 bytes of an over-long one) */
        char needle[64];
        if (len == 0) snprintf(needle, sizeof needle, "\"\"");
        else snprintf(needle, sizeof needle, "%.*s", (int)(len > 40 ? 40 : len), id);
        size_t nl = len == 0 ? 2 : (len > 40 ? 40 : len);
#define CHECK_BAD_ID(expr, what)                                                       \
        do {                                                                           \
            int rc_ = (expr);                                                          \
            CHECKF(rc_ == ZIPPY_EINVAL, "%s of bad id #%zu: %d", what, i, rc_);        \
            const char *m_ = zippy_errmsg();                                           \
            CHECKF(memmem(m_, strlen(m_), needle, nl) != NULL, "%s #%zu: \"%s\"", what, i, m_); \
        } while (0)
        CHECK_BAD_ID(zippy_id_valid(id, len), "id_valid");
        CHECK_BAD_ID(zippy_put(c, id, len, "{}", 2), "put");
        CHECK_BAD_ID(zippy_get(c, id, len, 0, &g_buf), "get");
        CHECK_BAD_ID(zippy_delete(c, id, len), "delete");
        CHECK_BAD_ID(zippy_exists(c, id, len), "exists");
        const char *line = fmt("{\"_id\":\"%.*s\"}\n", (int)len, id);
        uint64_t w = 99;
        int rc = zippy_put_jsonl(c, line, strlen(line), NULL, NULL, 0, &w);
        CHECKF(rc == ZIPPY_EINVAL, "put_jsonl bad id #%zu: %d", i, rc);
        CHECK_EQ(w, 0);
#undef CHECK_BAD_ID
    }
    CHECK_EQ(zippy_id_valid(NULL, 3), ZIPPY_EINVAL);
    CHECK_EQ(count_of(c), 1);
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    size_t len;
    char *log = t_read_file(data_path(dir, "c"), &len);
    CHECK(log != NULL);
    CHECK_MEM(log, len, "{\"_id\":\"there\"}\n");
    free(log);
}

/* ------------------------------------------------------------------ */
/* Persistence against a reference model                               */
/* ------------------------------------------------------------------ */

#define M_IDS 22000
typedef struct model {
    char *doc[M_IDS]; /* expected document of id u<i>, NULL if absent */
    uint64_t live;
    uint64_t rng;
} model;

static uint64_t rnd(model *m) {
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}
static const char *mid(int i) { return fmt("u%05d", i); }
static void m_set(model *m, int i, char *doc) {
    if (!m->doc[i] && doc) m->live++;
    if (m->doc[i] && !doc) m->live--;
    free(m->doc[i]);
    m->doc[i] = doc;
}
static void m_free(model *m) {
    for (int i = 0; i < M_IDS; i++) free(m->doc[i]);
    free(m);
}
static char *m_make_doc(model *m, int i) {
    char pad[200];
    int padn = (int)(rnd(m) % 120);
    memset(pad, 'p', (size_t)padn);
    pad[padn] = 0;
    char *d = NULL;
    if (asprintf(&d, "{\"i\":%d,\"v\":%llu,\"name\":\"user %d\",\"tags\":[\"a\",%d],\"pad\":\"%s\"}", i,
                 (unsigned long long)(rnd(m) % 1000000), i, i % 7, pad) < 0)
        return NULL;
    return d;
}

/* Applies n random operations to the model and (if c) to the store.
 * Returns NULL or why the store disagreed. */
static const char *m_ops(model *m, zippy_coll *c, int n, int id_range) {
    for (int k = 0; k < n; k++) {
        uint64_t x = rnd(m) % 100;
        int i = (int)(rnd(m) % (uint64_t)id_range);
        const char *id = mid(i);
        if (x < 60) {
            char *d = m_make_doc(m, i);
            if (c) {
                int rc = put_s(c, id, d);
                if (rc) { free(d); return WHY("put %s: %s", id, zippy_errmsg()); }
            }
            m_set(m, i, d);
        } else if (x < 85) {
            if (c) {
                int rc = del_s(c, id);
                int want = m->doc[i] ? ZIPPY_OK : ZIPPY_ENOTFOUND;
                if (rc != want) return WHY("delete %s: %d, expected %d", id, rc, want);
            }
            m_set(m, i, NULL);
        } else if (c) {
            int rc = get_s(c, id, 0);
            if (m->doc[i]) {
                if (rc || strcmp(g_buf.ptr, m->doc[i])) return WHY("get %s: %d %s", id, rc, rc ? "" : g_buf.ptr);
            } else if (rc != ZIPPY_ENOTFOUND) {
                return WHY("get %s: %d, expected ENOTFOUND", id, rc);
            }
        }
    }
    return NULL;
}

/* The store holds exactly the model: count, every get, one scan, ids. */
static const char *m_check(model *m, zippy_coll *c) {
    uint64_t cnt = count_of(c);
    if (cnt != m->live) return WHY("count %llu, model %llu", (unsigned long long)cnt, (unsigned long long)m->live);
    for (int i = 0; i < M_IDS; i++) {
        int rc = get_s(c, mid(i), 0);
        if (m->doc[i]) {
            if (rc) return WHY("get %s: %d %s", mid(i), rc, zippy_errmsg());
            if (strcmp(g_buf.ptr, m->doc[i])) return WHY("get %s: %s, expected %s", mid(i), g_buf.ptr, m->doc[i]);
        } else if (rc != ZIPPY_ENOTFOUND) {
            return WHY("get %s: %d, expected ENOTFOUND", mid(i), rc);
        }
    }
    unsigned char *seen = calloc(M_IDS, 1);
    zippy_scan *s = NULL;
    int rc = zippy_scan_open(&s, c, NULL);
    if (rc) { free(seen); return WHY("scan_open: %s", zippy_errmsg()); }
    uint64_t rows = 0;
    const char *why = NULL;
    const char *id, *doc;
    size_t idlen, doclen;
    while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen)) == 1) {
        int i = idlen == 6 && id[0] == 'u' ? atoi(fmt("%.5s", id + 1)) : -1;
        if (i < 0 || i >= M_IDS || !m->doc[i]) { why = WHY("scan: unexpected %.*s", (int)idlen, id); break; }
        if (seen[i]++) { why = WHY("scan: %.*s twice", (int)idlen, id); break; }
        if (doclen != strlen(m->doc[i]) || memcmp(doc, m->doc[i], doclen)) {
            why = WHY("scan: %.*s = %.*s", (int)idlen, id, (int)doclen, doc);
            break;
        }
        rows++;
    }
    zippy_scan_close(s);
    free(seen);
    if (why) return why;
    if (rc < 0) return WHY("scan_next: %s", zippy_errmsg());
    if (rows != m->live) return WHY("scan: %llu rows, model %llu", (unsigned long long)rows, (unsigned long long)m->live);
    char **ids;
    size_t n;
    if (zippy_ids(c, &ids, &n)) return WHY("ids: %s", zippy_errmsg());
    size_t j = 0;
    for (int i = 0; i < M_IDS && !why; i++) {
        if (!m->doc[i]) continue;
        if (j >= n || strcmp(ids[j], mid(i))) why = WHY("ids[%zu] = %s, expected %s", j, j < n ? ids[j] : "-", mid(i));
        j++;
    }
    if (!why && j != n) why = WHY("ids: %zu, model %zu", n, j);
    zippy_strv_free(ids);
    return why;
}

typedef struct child_ops {
    const char *dir;
    model *m;
    int n, flushes;
} child_ops;

/* Child: opens the store, applies ops in `flushes` batches each ending
 * with a flush, then exits without closing anything. */
/* Handles a child leaves open on purpose (kept reachable for valgrind). */
zippy_root *volatile g_child_root;
zippy_coll *volatile g_child_coll;

static int child_write_flush(void *arg) {
    child_ops *a = arg;
    zippy_root *r;
    zippy_coll *c;
    if (OPEN_RW(a->dir, "m", &r, &c)) return 10;
    g_child_root = r;
    g_child_coll = c;
    for (int b = 0; b < a->flushes; b++) {
        if (m_ops(a->m, c, a->n / a->flushes, M_IDS)) return 11;
        if (zippy_coll_flush(c)) return 12;
    }
    return 0; /* _exit without close */
}

TEST(test_persistence_model) {
    const char *dir = tmpdir();
    model *m = calloc(1, sizeof *m);
    m->rng = 0x9E3779B97F4A7C15ull;
    zippy_root *r;
    zippy_coll *c;
    int nbase = quick() ? 5000 : 20000;
    CHECK_EQ(OPEN_RW(dir, "m", &r, &c), ZIPPY_OK);
    for (int i = 0; i < nbase; i++) {
        char *d = m_make_doc(m, i);
        int rc = put_s(c, mid(i), d);
        m_set(m, i, d);
        CHECKF(rc == 0, "%s", zippy_errmsg());
        if (i % 7000 == 6999) CHECK_EQ(zippy_coll_flush(c), ZIPPY_OK);
    }
    CHECK_OK(m_ops(m, c, nbase / 2, M_IDS));
    CHECK_OK(m_check(m, c)); /* before close: in-memory state */
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);

    CHECK_EQ(OPEN_RW(dir, "m", &r, &c), ZIPPY_OK);
    CHECK_OK(m_check(m, c));
    CHECK_OK(m_ops(m, c, nbase / 4, M_IDS));
    CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    CHECK_EQ(OPEN_RO(dir, "m", &r, &c), ZIPPY_OK);
    CHECK_OK(m_check(m, c));
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(c, &vr) == ZIPPY_OK, "%s", zippy_errmsg());
    close_coll(r, c);

    /* A child writes and flushes, then dies without closing: everything
     * flushed is there. First few changes (no checkpoint: catch-up at
     * open), then many (checkpoints). */
    int rounds[2][2] = {{300, 3}, {nbase / 2, 4}};
    for (int k = 0; k < 2; k++) {
        child_ops a = {dir, m, rounds[k][0], rounds[k][1]};
        pid_t p = fork_child(child_write_flush, &a);
        CHECK(p > 0);
        int st = wait_child(p);
        CHECKF(st == 0, "child exit status %d", st);
        /* replay the child's changes on the model (same random sequence) */
        CHECK_OK(m_ops(m, NULL, (rounds[k][0] / rounds[k][1]) * rounds[k][1], M_IDS));
        CHECK_EQ(OPEN_RO(dir, "m", &r, &c), ZIPPY_OK);
        CHECK_OK(m_check(m, c));
        close_coll(r, c);
        CHECK_EQ(OPEN_RW(dir, "m", &r, &c), ZIPPY_OK);
        CHECK_OK(m_check(m, c));
        CHECKF(zippy_coll_verify(c, &vr) == ZIPPY_OK, "%s", zippy_errmsg());
        CHECK_EQ(close_coll(r, c), ZIPPY_OK);
    }
    m_free(m);
}

/* ------------------------------------------------------------------ */
/* Scans                                                               */
/* ------------------------------------------------------------------ */

static char g_scan[1 << 16];

TEST(test_scan_order) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(scan_collect(c, 0, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "");
    PUT(c, "a", "{\"v\":1}");
    PUT(c, "b", "{\"v\":2}");
    PUT(c, "c", "{\"v\":3}");
    PUT(c, "d", "{\"v\":4}");
    PUT(c, "b", "{\"v\":22}");
    CHECK_EQ(del_s(c, "c"), 0);
    PUT(c, "e", "{}");
    const char *want = "a={\"v\":1};d={\"v\":4};b={\"v\":22};e={};";
    CHECK_EQ(scan_collect(c, 0, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, want);
    CHECK_EQ(scan_collect(c, ZIPPY_SCAN_WITH_ID, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "a={\"_id\":\"a\",\"v\":1};d={\"_id\":\"d\",\"v\":4};b={\"_id\":\"b\",\"v\":22};e={\"_id\":\"e\"};");
    CHECK_EQ(scan_collect(c, ZIPPY_SCAN_IDS_ONLY, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "a;d;b;e;");
    /* the same after a flush, and after reopening */
    CHECK_EQ(zippy_coll_flush(c), 0);
    CHECK_EQ(scan_collect(c, 0, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, want);
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(scan_collect(c, 0, NULL, NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, want);
    /* NULL out pointers are fine */
    zippy_scan *s;
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    CHECK_EQ(zippy_scan_next(s, NULL, NULL, NULL, NULL), 1);
    zippy_scan_close(s);
    zippy_scan_close(NULL);
    close_coll(r, c);
}

TEST(test_scan_filters_projections) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "a", "{\"name\":\"Ann\",\"age\":31,\"address\":{\"city\":\"Paris\",\"zip\":\"75001\"},\"tags\":[\"x\",\"y\"]}");
    PUT(c, "b", "{\"name\":\"Bob\",\"age\":19,\"address\":{\"city\":\"Lyon\",\"zip\":\"69001\"},\"tags\":[\"y\"]}");
    PUT(c, "c", "{\"name\":\"Cy\",\"age\":25,\"address\":{\"city\":\"Paris\",\"zip\":\"75002\"},\"tags\":[]}");
    PUT(c, "d", "{\"name\":\"Dee\",\"age\":40,\"address\":{\"city\":\"Nice\",\"zip\":\"06000\"}}");
    PUT(c, "e", "{\"name\":\"Eve\",\"age\":27}");
    const unsigned IDS = ZIPPY_SCAN_IDS_ONLY;
    struct { const char *filter, *want; } cases[] = {
        {"{\"age\":{\"$gt\":25}}", "a;d;e;"},
        {"{\"age\":{\"$gte\":25,\"$lt\":31}}", "c;e;"},
        {"{\"name\":{\"$in\":[\"Bob\",\"Eve\",\"Zed\"]}}", "b;e;"},
        {"{\"name\":{\"$nin\":[\"Bob\",\"Eve\"]}}", "a;c;d;"},
        {"{\"address.city\":\"Paris\"}", "a;c;"},
        {"{\"address.zip\":{\"$gt\":\"7\"}}", "a;c;"},
        {"{\"$or\":[{\"age\":{\"$lt\":20}},{\"address.city\":\"Nice\"}]}", "b;d;"},
        {"{\"$and\":[{\"age\":{\"$gt\":20}},{\"address.city\":\"Paris\"}]}", "a;c;"},
        {"{\"tags\":\"y\"}", "a;b;"},
        {"{\"address\":{\"$exists\":false}}", "e;"},
        {"{\"_id\":\"c\"}", "c;"},
        {"{}", "a;b;c;d;e;"},
        {"{\"age\":{\"$gt\":100}}", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = scan_collect(c, IDS, cases[i].filter, NULL, 0, 0, g_scan, sizeof g_scan);
        CHECKF(rc == 0, "%s: %d %s", cases[i].filter, rc, zippy_errmsg());
        CHECKF(!strcmp(g_scan, cases[i].want), "%s: %s, expected %s", cases[i].filter, g_scan, cases[i].want);
    }
    /* filter + full documents */
    CHECK_EQ(scan_collect(c, 0, "{\"age\":{\"$lt\":20}}", NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "b={\"name\":\"Bob\",\"age\":19,\"address\":{\"city\":\"Lyon\",\"zip\":\"69001\"},\"tags\":[\"y\"]};");
    CHECK_EQ(scan_collect(c, ZIPPY_SCAN_WITH_ID, "{\"age\":{\"$lt\":20}}", NULL, 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan,
              "b={\"_id\":\"b\",\"name\":\"Bob\",\"age\":19,\"address\":{\"city\":\"Lyon\",\"zip\":\"69001\"},\"tags\":[\"y\"]};");
    /* projections keep nesting and document order */
    CHECK_EQ(scan_collect(c, 0, NULL, "name,address.city", 0, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "a={\"name\":\"Ann\",\"address\":{\"city\":\"Paris\"}};b={\"name\":\"Bob\",\"address\":{\"city\":\"Lyon\"}};"
                      "c={\"name\":\"Cy\",\"address\":{\"city\":\"Paris\"}};d={\"name\":\"Dee\",\"address\":{\"city\":\"Nice\"}};"
                      "e={\"name\":\"Eve\"};");
    CHECK_EQ(scan_collect(c, ZIPPY_SCAN_WITH_ID, "{\"address.city\":\"Paris\"}", "address.city,name", 0, 0, g_scan,
                          sizeof g_scan), 0);
    CHECK_STR(g_scan, "a={\"_id\":\"a\",\"name\":\"Ann\",\"address\":{\"city\":\"Paris\"}};"
                      "c={\"_id\":\"c\",\"name\":\"Cy\",\"address\":{\"city\":\"Paris\"}};");
    /* limit and skip (after filtering) */
    CHECK_EQ(scan_collect(c, IDS, NULL, NULL, 2, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "a;b;");
    CHECK_EQ(scan_collect(c, IDS, NULL, NULL, 0, 3, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "d;e;");
    CHECK_EQ(scan_collect(c, IDS, NULL, NULL, 0, 10, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "");
    CHECK_EQ(scan_collect(c, IDS, NULL, NULL, 100, 4, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "e;");
    CHECK_EQ(scan_collect(c, 0, "{\"age\":{\"$gt\":25}}", "name", 1, 1, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "d={\"name\":\"Dee\"};");
    /* bad filters and fields fail at scan_open with EINVAL */
    const char *badf[] = {"{\"age\":{\"$bogus\":1}}", "{\"age\":", "[1]", "\"x\"", "{\"$or\":5}", "{\"age\":{\"$in\":3}}"};
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.filter = badf[i];
        zippy_scan *s = (zippy_scan *)&so;
        int rc = zippy_scan_open(&s, c, &so);
        CHECKF(rc == ZIPPY_EINVAL, "filter %s: %d", badf[i], rc);
        CHECK(s == (zippy_scan *)&so); /* out untouched on failure */
        CHECK(strlen(zippy_errmsg()) > 0);
    }
    const char *badp[] = {"", "a,,b", "a.", ",", ".a"};
    for (size_t i = 0; i < sizeof badp / sizeof badp[0]; i++) {
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.fields = badp[i];
        zippy_scan *s = NULL;
        int rc = zippy_scan_open(&s, c, &so);
        if (rc == 0) zippy_scan_close(s);
        CHECKF(rc == ZIPPY_EINVAL, "fields \"%s\": %d", badp[i], rc);
    }
    /* filter_len limits the filter text */
    {
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        const char *f = "{\"name\":\"Cy\"}GARBAGE";
        so.filter = f;
        so.filter_len = 13;
        so.flags = IDS;
        zippy_scan *s = NULL;
        CHECK_EQ(zippy_scan_open(&s, c, &so), 0);
        const char *id;
        size_t idlen;
        const char *doc = "x";
        CHECK_EQ(zippy_scan_next(s, &id, &idlen, &doc, NULL), 1);
        CHECK_MEM(id, idlen, "c");
        CHECK(doc == NULL);
        CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), 0);
        CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), 0);
        zippy_scan_close(s);
    }
    CHECK_EQ(close_coll(r, c), 0);
}

TEST(test_scan_snapshot_new_rows) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    for (int i = 0; i < 100; i++) PUT(c, fmt("d%03d", i), doc_of(i));
    CHECK_EQ(zippy_coll_flush(c), 0);
    for (int i = 100; i < 150; i++) PUT(c, fmt("d%03d", i), doc_of(i)); /* some still buffered */
    zippy_scan *s;
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    char pad[700];
    memset(pad, 'q', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    int rows = 0, rc;
    const char *id, *doc;
    size_t idlen, doclen;
    while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen)) == 1) {
        CHECK(rows < 150);
        CHECK_MEM(id, idlen, fmt("d%03d", rows));
        CHECK_MEM(doc, doclen, doc_of(rows));
        /* new rows while scanning: over 1 MB in total, so the write buffer
         * is written out and the log remapped under the scan */
        for (int k = 0; k < 15; k++) {
            char *d = NULL;
            CHECK(asprintf(&d, "{\"new\":%d,\"pad\":\"%s\"}", rows * 15 + k, pad) > 0);
            int prc = put_s(c, fmt("n%05d", rows * 15 + k), d);
            free(d);
            CHECK_EQ(prc, 0);
        }
        rows++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(rows, 150);
    zippy_scan_close(s);
    CHECK_EQ(count_of(c), 150 + 150 * 15);
    CHECK_EQ(close_coll(r, c), 0);
}

/* A scan sees the collection as of scan_open: a document updated or
 * deleted after scan_open is still returned (once). */
TEST(test_scan_snapshot_update_during_scan) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    PUT(c, "a", "{\"v\":1}");
    PUT(c, "b", "{\"v\":2}");
    PUT(c, "c", "{\"v\":3}");
    PUT(c, "d", "{\"v\":4}");
    zippy_scan *s;
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    const char *id, *doc;
    size_t idlen, doclen;
    CHECK_EQ(zippy_scan_next(s, &id, &idlen, &doc, &doclen), 1);
    CHECK_MEM(id, idlen, "a");
    PUT(c, "b", "{\"v\":20}");
    CHECK_EQ(del_s(c, "c"), 0);
    char got[256] = "";
    int rc;
    while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen)) == 1)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%.*s=%.*s;", (int)idlen, id, (int)doclen, doc);
    zippy_scan_close(s);
    CHECK_EQ(rc, 0);
    CHECKF(!strcmp(got, "b={\"v\":2};c={\"v\":3};d={\"v\":4};"),
           "rows after the first: \"%s\" (b updated and c deleted after scan_open)", got);
    close_coll(r, c);
}

TEST(test_scan_busy_after_compact) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    for (int i = 0; i < 20; i++) PUT(c, fmt("d%03d", i), doc_of(i));
    for (int i = 0; i < 10; i++) CHECK_EQ(del_s(c, fmt("d%03d", i * 2)), 0);
    zippy_scan *s;
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    const char *id;
    size_t idlen;
    CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), 1);
    CHECK_EQ(zippy_coll_compact(c), 0);
    CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), ZIPPY_EBUSY);
    CHECK_EQ(zippy_errcode(), ZIPPY_EBUSY);
    zippy_scan_close(s);
    /* also after a reindex */
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), 1);
    CHECK_EQ(zippy_coll_reindex(c), 0);
    CHECK_EQ(zippy_scan_next(s, &id, &idlen, NULL, NULL), ZIPPY_EBUSY);
    zippy_scan_close(s);
    /* a scan opened after compaction works */
    CHECK_EQ(scan_collect(c, ZIPPY_SCAN_IDS_ONLY, NULL, NULL, 3, 0, g_scan, sizeof g_scan), 0);
    CHECK_STR(g_scan, "d001;d003;d005;");
    CHECK_EQ(close_coll(r, c), 0);
}

/* ------------------------------------------------------------------ */
/* put_jsonl                                                           */
/* ------------------------------------------------------------------ */

TEST(test_put_jsonl) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    uint64_t w = 99;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    /* "_id" in each line, anywhere, last line without newline */
    const char *t1 = "{\"_id\":\"a\",\"v\":1}\n{\"v\":2, \"_id\" : \"b\"}\n{\"_id\":\"c\"}";
    CHECK_EQ(zippy_put_jsonl(c, t1, strlen(t1), NULL, NULL, 0, &w), 0);
    CHECK_EQ(w, 3);
    GET_IS(c, "a", "{\"v\":1}");
    GET_IS(c, "b", "{\"v\":2}");
    GET_IS(c, "c", "{}");
    /* an ids array, blank lines skipped (also with spaces/CR), CRLF ends */
    const char *t2 = "\n{\"x\":1}\r\n   \n\t\r\n{\"x\":2}\n\n{\"x\":3,\"_id\":\"z3\"}\n\n";
    const char *ids[] = {"z1", "z2xx", "z3"};
    size_t lens[] = {2, 2, 2};
    CHECK_EQ(zippy_put_jsonl(c, t2, strlen(t2), ids, lens, 3, &w), 0);
    CHECK_EQ(w, 3);
    GET_IS(c, "z1", "{\"x\":1}");
    GET_IS(c, "z2", "{\"x\":2}");
    GET_IS(c, "z3", "{\"x\":3}");
    /* ids array with idlens NULL: NUL-terminated */
    const char *t3 = "{\"y\":1}\n{\"y\":2}\n";
    const char *ids3[] = {"y1", "y2"};
    CHECK_EQ(zippy_put_jsonl(c, t3, strlen(t3), ids3, NULL, 2, &w), 0);
    GET_IS(c, "y2", "{\"y\":2}");
    CHECK_EQ(count_of(c), 8);
    /* empty input */
    CHECK_EQ(zippy_put_jsonl(c, "", 0, NULL, NULL, 0, &w), 0);
    CHECK_EQ(w, 0);
    CHECK_EQ(zippy_put_jsonl(c, "\n\n", 2, NULL, NULL, 0, NULL), 0);
    /* a bad line in the middle: earlier lines stored, later not */
    const char *t4 = "{\"_id\":\"p1\"}\n\n{\"_id\":\"p2\"}\n{\"_id\":\"p3\",}\n{\"_id\":\"p4\"}\n";
    int rc = zippy_put_jsonl(c, t4, strlen(t4), NULL, NULL, 0, &w);
    CHECK_EQ(rc, ZIPPY_EINVAL);
    CHECKF(strstr(zippy_errmsg(), "line 4") != NULL, "%s", zippy_errmsg());
    CHECK_EQ(w, 2);
    GET_IS(c, "p1", "{}");
    GET_IS(c, "p2", "{}");
    GET_RC(c, "p3", ZIPPY_ENOTFOUND);
    GET_RC(c, "p4", ZIPPY_ENOTFOUND);
    CHECK_EQ(count_of(c), 10);
    /* other bad lines: no "_id", non-string "_id", not an object, bad id */
    struct { const char *text; const char *line; } bad[] = {
        {"{\"_id\":\"q1\"}\n{\"v\":1}\n", "line 2"},
        {"{\"_id\":5}\n", "line 1"},
        {"\n\n[1]\n", "line 3"},
        {"{\"_id\":\"q2\"}\n{\"_id\":\"a b\"}\n", "line 2"},
        {"{\"_id\":\"q3\"}\n{\"_id\":\"q4\",\"$deleted\":true}\n", "line 2"},
        {"{\"_id\":\"q5\"}\r\n{\"_id\":\"q6\"} x\r\n", "line 2"},
    };
    uint64_t before = count_of(c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = zippy_put_jsonl(c, bad[i].text, strlen(bad[i].text), NULL, NULL, 0, &w);
        CHECKF(rc == ZIPPY_EINVAL, "bad #%zu: %d", i, rc);
        CHECKF(strstr(zippy_errmsg(), bad[i].line) != NULL, "bad #%zu: %s", i, zippy_errmsg());
    }
    GET_IS(c, "q1", "{}");
    GET_IS(c, "q2", "{}");
    GET_IS(c, "q3", "{}");
    GET_IS(c, "q5", "{}");
    GET_RC(c, "q4", ZIPPY_ENOTFOUND);
    GET_RC(c, "q6", ZIPPY_ENOTFOUND);
    CHECK_EQ(count_of(c), before + 4);
    /* with an ids array: a line whose "_id" differs is refused */
    const char *t5 = "{\"v\":1}\n{\"_id\":\"other\",\"v\":2}\n";
    const char *ids5[] = {"r1", "r2"};
    rc = zippy_put_jsonl(c, t5, strlen(t5), ids5, NULL, 2, &w);
    CHECK_EQ(rc, ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "line 2") != NULL);
    CHECK_EQ(w, 1);
    GET_IS(c, "r1", "{\"v\":1}");
    GET_RC(c, "r2", ZIPPY_ENOTFOUND);
    /* id count mismatch: nothing stored */
    before = count_of(c);
    const char *t6 = "{\"v\":1}\n{\"v\":2}\n\n{\"v\":3}";
    const char *ids6[] = {"s1", "s2", "s3", "s4"};
    w = 77;
    rc = zippy_put_jsonl(c, t6, strlen(t6), ids6, NULL, 2, &w);
    CHECK_EQ(rc, ZIPPY_EINVAL);
    CHECK(w == 77 || w == 0);
    rc = zippy_put_jsonl(c, t6, strlen(t6), ids6, NULL, 4, &w);
    CHECK_EQ(rc, ZIPPY_EINVAL);
    CHECK_EQ(count_of(c), before);
    GET_RC(c, "s1", ZIPPY_ENOTFOUND);
    /* durable like any put */
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(count_of(c), before);
    GET_IS(c, "b", "{\"v\":2}");
    GET_IS(c, "z3", "{\"x\":3}");
    GET_RC(c, "p3", ZIPPY_ENOTFOUND);
    close_coll(r, c);
}

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */
/* ------------------------------------------------------------------ */

TEST(test_stats_compact_reindex_verify) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    zippy_verify_report vr;
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    CHECK_EQ(vr.lines, 0);
    /* 40 puts, 15 updates, 10 deletes: 65 lines, 30 live */
    uint64_t live_bytes = 0, log_bytes = 0;
    for (int i = 0; i < 40; i++) PUT(c, fmt("d%03d", i), doc_of(i));
    for (int i = 0; i < 15; i++) PUT(c, fmt("d%03d", i), fmt("{\"updated\":%d}", i));
    for (int i = 30; i < 40; i++) CHECK_EQ(del_s(c, fmt("d%03d", i)), 0);
    for (int i = 0; i < 40; i++) {
        size_t l = strlen(fmt("{\"_id\":\"d%03d\",", i)) + strlen(doc_of(i)) - 1 + 1;
        log_bytes += l;
        if (i >= 15 && i < 30) live_bytes += l;
    }
    for (int i = 0; i < 15; i++) {
        size_t l = strlen(fmt("{\"_id\":\"d%03d\",", i)) + strlen(fmt("{\"updated\":%d}", i)) - 1 + 1;
        log_bytes += l;
        live_bytes += l;
    }
    for (int i = 30; i < 40; i++) log_bytes += strlen(fmt("{\"_id\":\"d%03d\",\"$deleted\":true}\n", i));
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.count, 30);
    CHECK_EQ(st.log_lines, 65);
    CHECK_EQ(st.live_bytes, live_bytes);
    CHECK_EQ(st.log_bytes, log_bytes);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_JSONL);
    CHECK_EQ(st.legacy, 0);
    CHECK_EQ(st.strict, 0);
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    CHECK_EQ(vr.lines, 65);
    CHECK_EQ(vr.live, 30);
    CHECK_EQ(vr.bad_lines, 0);
    CHECK_EQ(vr.index_errors, 0);
    CHECK_EQ(close_coll(r, c), 0);

    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(file_size(data_path(dir, "c")), (long long)log_bytes);
    CHECK_EQ(st.index_bytes, file_size(index_path(dir, "c")));
    CHECK(st.index_bytes >= 64 + 24 * 30);
    CHECK_EQ(st.indexed_bytes, log_bytes); /* close checkpointed */
    CHECK_EQ(st.log_bytes, log_bytes);
    /* compact: count unchanged, log = live lines only */
    CHECK_EQ(zippy_coll_compact(c), 0);
    CHECK_EQ(count_of(c), 30);
    CHECK_EQ(file_size(data_path(dir, "c")), (long long)live_bytes);
    size_t len;
    char *log = t_read_file(data_path(dir, "c"), &len);
    CHECK(log);
    int lines = count_char(log, len, '\n');
    int live_order_ok = line_offset(log, "d015") < line_offset(log, "d000") && line_offset(log, "d030") < 0 &&
                        line_offset(log, "d014") > line_offset(log, "d029");
    free(log);
    CHECK_EQ(lines, 30);
    CHECK(live_order_ok); /* insertion order of the live versions kept */
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.log_lines, 30);
    CHECK_EQ(st.live_bytes, live_bytes);
    CHECK_EQ(st.log_bytes, live_bytes);
    CHECK_EQ(st.indexed_bytes, live_bytes);
    for (int i = 0; i < 15; i++) GET_IS(c, fmt("d%03d", i), fmt("{\"updated\":%d}", i));
    for (int i = 15; i < 30; i++) GET_IS(c, fmt("d%03d", i), doc_of(i));
    for (int i = 30; i < 40; i++) GET_RC(c, fmt("d%03d", i), ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    CHECK_EQ(vr.lines, 30);
    /* writes after compaction */
    PUT(c, "d030", "{\"back\":true}");
    CHECK_EQ(del_s(c, "d000"), 0);
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(count_of(c), 30);
    GET_IS(c, "d030", "{\"back\":true}");
    GET_RC(c, "d000", ZIPPY_ENOTFOUND);
    /* reindex: the same results */
    CHECK_EQ(unlink(index_path(dir, "c")), 0); /* proves it is rewritten */
    CHECK_EQ(zippy_coll_reindex(c), 0);
    CHECK(file_exists(index_path(dir, "c")));
    CHECK_EQ(count_of(c), 30);
    GET_IS(c, "d030", "{\"back\":true}");
    GET_IS(c, "d001", "{\"updated\":1}");
    GET_IS(c, "d020", doc_of(20));
    GET_RC(c, "d000", ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(count_of(c), 30);
    GET_IS(c, "d030", "{\"back\":true}");
    CHECK_EQ(zippy_coll_verify(c, NULL), 0);
    close_coll(r, c);
}

/* Maintenance on an empty collection and repeated compaction. */
TEST(test_compact_edge_cases) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(zippy_coll_compact(c), 0);
    CHECK_EQ(zippy_coll_reindex(c), 0);
    CHECK_EQ(count_of(c), 0);
    PUT(c, "a", "{}");
    CHECK_EQ(del_s(c, "a"), 0);
    CHECK_EQ(zippy_coll_compact(c), 0);
    CHECK_EQ(file_size(data_path(dir, "c")), 0);
    CHECK_EQ(count_of(c), 0);
    for (int k = 0; k < 3; k++) {
        PUT(c, "b", fmt("{\"k\":%d}", k));
        CHECK_EQ(zippy_coll_compact(c), 0);
        GET_IS(c, "b", fmt("{\"k\":%d}", k));
    }
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    GET_IS(c, "b", "{\"k\":2}");
    CHECK_EQ(count_of(c), 1);
    close_coll(r, c);
}

/* ------------------------------------------------------------------ */
/* Corruption                                                          */
/* ------------------------------------------------------------------ */

TEST(test_corrupt_document_byte) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 50));
    const char *dp = data_path(dir, "c"), *ip = index_path(dir, "c");
    size_t len, ixlen;
    char *log = t_read_file(dp, &len);
    CHECK(log);
    long off = line_offset(log, "d017");
    CHECK(off > 0);
    char *hit = strstr(log + off, "name017");
    CHECK(hit);
    hit[2] = 'M'; /* "naMe017": still valid JSON, wrong checksum */
    CHECK_EQ(t_write_file(dp, log, len), 0);
    char *ix0 = t_read_file(ip, &ixlen);
    CHECK(ix0);

    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    int rc = get_s(c, "d017", 0);
    CHECK_EQ(rc, ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "d017") && strstr(zippy_errmsg(), fmt("%ld", off)), "%s", zippy_errmsg());
    CHECK_EQ(zippy_errcode(), ZIPPY_ECORRUPT);
    CHECK_EQ(get_s(c, "d017", ZIPPY_GET_WITH_ID), ZIPPY_ECORRUPT);
    for (int i = 0; i < 50; i++) {
        if (i == 17) continue;
        GET_IS(c, fmt("d%03d", i), doc_of(i));
    }
    zippy_verify_report vr;
    rc = zippy_coll_verify(c, &vr);
    CHECK_EQ(rc, ZIPPY_ECORRUPT);
    CHECK_EQ(vr.first_bad_offset, off);
    CHECK(vr.bad_lines >= 1);
    uint64_t bad_lines = vr.bad_lines; /* checked last: exactly one line is bad */
    CHECK_EQ(vr.lines, 50);
    CHECKF(strstr(zippy_errmsg(), fmt("%ld", off)) != NULL, "%s", zippy_errmsg());
    /* a scan stops at it with ECORRUPT naming the id */
    rc = scan_collect(c, 0, NULL, NULL, 0, 0, g_scan, sizeof g_scan);
    CHECK_EQ(rc, ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "d017") != NULL);
    /* compaction refuses and changes nothing */
    CHECK_EQ(zippy_coll_compact(c), ZIPPY_ECORRUPT);
    size_t len2;
    char *log2 = t_read_file(dp, &len2);
    int same_log = log2 && len2 == len && !memcmp(log, log2, len);
    free(log2);
    CHECK(same_log);
    GET_IS(c, "d018", doc_of(18));
    /* the index was not rebuilt from the corrupt log */
    char *ix1 = t_read_file(ip, &len2);
    int same_ix = ix1 && len2 == ixlen && !memcmp(ix0, ix1, ixlen);
    free(ix1);
    CHECK(same_ix);
    CHECK_EQ(close_coll(r, c), 0);
    /* still refused after close + reopen (never served) */
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(get_s(c, "d017", 0), ZIPPY_ECORRUPT);
    CHECK_EQ(count_of(c), 50);
    CHECK_EQ(zippy_coll_verify(c, &vr), ZIPPY_ECORRUPT);
    CHECK_EQ(vr.first_bad_offset, off);
    close_coll(r, c);
    free(log);
    free(ix0);
    CHECKF(bad_lines == 1, "verify counts %llu bad lines for one damaged line", (unsigned long long)bad_lines);
}

/* A byte flip inside the "_id" of an indexed line: the document must not
 * silently turn into "not found" (nor be served under another id). */
TEST(test_corrupt_id_byte) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 30));
    const char *dp = data_path(dir, "c");
    size_t len;
    char *log = t_read_file(dp, &len);
    CHECK(log);
    long off = line_offset(log, "d012");
    CHECK(off > 0);
    log[off + 11] = 'X'; /* {"_id":"d01X" */
    CHECK_EQ(t_write_file(dp, log, len), 0);
    free(log);
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    int g12 = get_s(c, "d012", 0);
    int g1x = get_s(c, "d01X", 0);
    zippy_verify_report vr;
    int v = zippy_coll_verify(c, &vr);
    uint64_t first = vr.first_bad_offset;
    for (int i = 0; i < 30; i++)
        if (i != 12) GET_IS(c, fmt("d%03d", i), doc_of(i));
    close_coll(r, c);
    CHECKF(g12 == ZIPPY_ECORRUPT, "get d012 (its id bytes damaged): %d", g12);
    CHECKF(g1x == ZIPPY_ENOTFOUND || g1x == ZIPPY_ECORRUPT, "get d01X: %d", g1x);
    CHECK_EQ(v, ZIPPY_ECORRUPT);
    CHECK_EQ(first, off);
}

/* A byte flip that breaks the JSON itself. */
TEST(test_corrupt_document_syntax) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 30));
    const char *dp = data_path(dir, "c");
    size_t len;
    char *log = t_read_file(dp, &len);
    CHECK(log);
    long off = line_offset(log, "d009");
    CHECK(off > 0);
    char *q = strstr(log + off, ":\"name009");
    CHECK(q);
    q[1] = '{'; /* {"_id":"d009","n":9,"name":{name009"} */
    CHECK_EQ(t_write_file(dp, log, len), 0);
    free(log);
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(get_s(c, "d009", 0), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "d009") != NULL);
    GET_IS(c, "d010", doc_of(10));
    zippy_verify_report vr;
    CHECK_EQ(zippy_coll_verify(c, &vr), ZIPPY_ECORRUPT);
    CHECK_EQ(vr.first_bad_offset, off);
    close_coll(r, c);
}

/* A reindex that fails on a corrupt line in the middle of the log must
 * not lose the documents the old index still served. */
TEST(test_failed_reindex_keeps_documents) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 40));
    const char *dp = data_path(dir, "c");
    size_t len;
    char *log = t_read_file(dp, &len);
    CHECK(log);
    long off = line_offset(log, "d010");
    char *q = strstr(log + off, "\"n\":10");
    CHECK(q);
    q[3] = 'x'; /* invalid JSON */
    CHECK_EQ(t_write_file(dp, log, len), 0);
    free(log);
    unsigned char absent[40] = {0};
    absent[10] = 2;
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_OK(check_store(c, 40, absent, 40));
    int rc = zippy_coll_reindex(c);
    CHECKF(rc == ZIPPY_ECORRUPT && strstr(zippy_errmsg(), fmt("offset %ld", off)), "reindex: %d %s", rc,
           zippy_errmsg());
    char in_handle[1024] = "";
    const char *why = check_store(c, 40, absent, 40);
    if (why) snprintf(in_handle, sizeof in_handle, "%s", why);
    close_coll(r, c);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    why = check_store(c, 40, absent, 40);
    uint64_t cnt = count_of(c);
    close_coll(r, c);
    CHECKF(!in_handle[0] && !why, "after the failed reindex: in the handle: %s; after close+reopen: %s (count %llu)",
           in_handle[0] ? in_handle : "fine", why ? why : "fine", (unsigned long long)cnt);
}

/* Damaged index files are rebuilt from the log by a writable open. */
TEST(test_corrupt_index_rebuilt) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 60));
    const char *ip = index_path(dir, "c");
    size_t ixlen;
    char *good = t_read_file(ip, &ixlen);
    CHECK(good && ixlen >= 64 + 24 * 60);
    zippy_root *r;
    zippy_coll *c;
    int kinds = 0;
    int positions[] = {0, 7, 8, 12, 16, 23, 24, 32, 40, 48, 56, 63};
    for (size_t k = 0; k < sizeof positions / sizeof positions[0] + 4; k++) {
        char *bad = malloc(ixlen);
        memcpy(bad, good, ixlen);
        size_t blen = ixlen;
        int missing = 0;
        if (k < sizeof positions / sizeof positions[0]) {
            bad[positions[k]] ^= 0x5a; /* header byte */
        } else if (k == sizeof positions / sizeof positions[0]) {
            blen = ixlen - 24; /* truncated by one slot */
        } else if (k == sizeof positions / sizeof positions[0] + 1) {
            blen = 30; /* truncated inside the header */
        } else if (k == sizeof positions / sizeof positions[0] + 2) {
            blen = 0; /* empty */
        } else {
            missing = 1;
        }
        if (missing) unlink(ip);
        else CHECK_EQ(t_write_file(ip, bad, blen), 0);
        /* read-only: works, changes no file */
        size_t s0len, s1len;
        char *s0 = snapshot(dir, &s0len);
        int rc = OPEN_RO(dir, "c", &r, &c);
        if (rc) { free(bad); free(s0); }
        CHECKF(rc == 0, "case %zu: %s", k, zippy_errmsg());
        const char *why = check_store(c, 60, NULL, 60);
        close_coll(r, c);
        char *s1 = snapshot(dir, &s1len);
        int same = same_snapshot(s0, s0len, s1, s1len);
        free(s0);
        free(s1);
        if (why || !same) free(bad);
        CHECKF(!why, "case %zu read-only: %s", k, why);
        CHECKF(same, "case %zu: read-only open changed files", k);
        /* writable: rebuilt at open */
        rc = OPEN_RW(dir, "c", &r, &c);
        if (rc) free(bad);
        CHECKF(rc == 0, "case %zu: %s", k, zippy_errmsg());
        size_t nlen;
        char *now = t_read_file(ip, &nlen);
        int rewritten = now && nlen >= 64 && !memcmp(now, "ZPYIDX01", 8) && (missing || nlen != blen || memcmp(now, bad, blen));
        free(now);
        free(bad);
        CHECKF(rewritten, "case %zu: index.bin not rewritten at open", k);
        CHECK_OK(check_store(c, 60, NULL, 60));
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "case %zu: %s", k, zippy_errmsg());
        CHECK_EQ(close_coll(r, c), 0);
        kinds++;
    }
    free(good);
    CHECK_EQ(kinds, 16);
}

/* A corrupt slot (not the header) fails the gets that probe it; a
 * writable open does not silently drop documents. */
TEST(test_corrupt_index_slot) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 40));
    const char *ip = index_path(dir, "c");
    size_t ixlen;
    char *ix = t_read_file(ip, &ixlen);
    CHECK(ix);
    /* damage the first occupied slot's offset field */
    size_t slot = 0;
    for (size_t s = 64; s + 24 <= ixlen; s += 24) {
        uint64_t h;
        memcpy(&h, ix + s, 8);
        if (h) { slot = s; break; }
    }
    CHECK(slot);
    ix[slot + 9] ^= 0x01;
    CHECK_EQ(t_write_file(ip, ix, ixlen), 0);
    free(ix);
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    int bad = 0;
    for (int i = 0; i < 40; i++) {
        int rc = get_s(c, fmt("d%03d", i), 0);
        if (rc == ZIPPY_ECORRUPT) { bad++; continue; }
        CHECKF(rc == 0, "get d%03d: %d %s", i, rc, zippy_errmsg());
        CHECK_MEM(g_buf.ptr, g_buf.len, doc_of(i));
    }
    CHECK(bad >= 1);
    zippy_verify_report vr;
    CHECK_EQ(zippy_coll_verify(c, &vr), ZIPPY_ECORRUPT);
    CHECK(vr.index_errors >= 1);
    close_coll(r, c);
    /* reindex repairs it */
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(zippy_coll_reindex(c), 0);
    CHECK_OK(check_store(c, 40, NULL, 40));
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_OK(check_store(c, 40, NULL, 40));
    close_coll(r, c);
}

/* The index covers more than the log has (log cut back): rebuilt, the
 * documents past the cut are gone, nothing crashes. */
TEST(test_index_claims_more_than_log) {
    for (int mid_line = 0; mid_line < 2; mid_line++) {
        const char *dir = tmpdir();
        CHECK_OK(make_store(dir, "c", 50));
        const char *dp = data_path(dir, "c");
        size_t len;
        char *log = t_read_file(dp, &len);
        CHECK(log);
        long cut = line_offset(log, "d030");
        CHECK(cut > 0);
        CHECK_EQ(t_write_file(dp, log, (size_t)cut + (mid_line ? 9 : 0)), 0);
        free(log);
        unsigned char absent[50] = {0};
        for (int i = 30; i < 50; i++) absent[i] = 1;
        zippy_root *r;
        zippy_coll *c;
        CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
        CHECK_OK(check_store(c, 50, absent, 30));
        CHECK_EQ(scan_collect(c, ZIPPY_SCAN_IDS_ONLY, NULL, NULL, 0, 29, g_scan, sizeof g_scan), 0);
        CHECK_STR(g_scan, "d029;");
        close_coll(r, c);
        CHECK_EQ(OPEN_RW(dir, "c", &r, &c), ZIPPY_OK);
        CHECK_OK(check_store(c, 50, absent, 30));
        CHECK_EQ(file_size(dp), cut);
        zippy_verify_report vr;
        CHECK_EQ(zippy_coll_verify(c, &vr), 0);
        PUT(c, "d040", doc_of(40));
        CHECK_EQ(close_coll(r, c), 0);
        absent[40] = 0;
        CHECK_EQ(OPEN_RO(dir, "c", &r, &c), ZIPPY_OK);
        CHECK_OK(check_store(c, 50, absent, 31));
        close_coll(r, c);
    }
}

/* A torn tail (no newline, or garbage) is cut by a writable open and
 * ignored by a read-only one. */
TEST(test_torn_tail) {
    const char *tails[] = {"{\"_id\":\"zz\",\"v\":", "garbage\n", "{\"_id\":\"zz\",\"v\":1\n", "\n",
                           "{\"_id\":\"zz\",\"v\":1}\n{\"_id\":\"zy\"", "{\"_id\":\"zz\",\"v\":1}\n\xff\xfe\n"};
    int keeps_zz[] = {0, 0, 0, 0, 1, 1};
    for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        const char *dir = tmpdir();
        CHECK_OK(make_store(dir, "c", 20));
        const char *dp = data_path(dir, "c");
        long long base = file_size(dp);
        CHECK_EQ(append_file(dp, tails[k]), 0);
        long long torn = file_size(dp);
        long long good = base + (keeps_zz[k] ? (long long)strlen("{\"_id\":\"zz\",\"v\":1}\n") : 0);
        zippy_root *r;
        zippy_coll *c;
        size_t s0len, s1len;
        char *s0 = snapshot(dir, &s0len);
        int rc = OPEN_RO(dir, "c", &r, &c);
        if (rc) free(s0);
        CHECKF(rc == 0, "tail %zu: %s", k, zippy_errmsg());
        const char *why = check_store(c, 20, NULL, 20 + keeps_zz[k]);
        close_coll(r, c);
        char *s1 = snapshot(dir, &s1len);
        int same = same_snapshot(s0, s0len, s1, s1len);
        free(s0);
        free(s1);
        CHECKF(!why, "tail %zu read-only: %s", k, why);
        CHECKF(same, "tail %zu: read-only open changed files", k);
        CHECK_EQ(file_size(dp), torn);
        CHECKF(OPEN_RW(dir, "c", &r, &c) == 0, "tail %zu: %s", k, zippy_errmsg());
        CHECKF(file_size(dp) == good, "tail %zu: size %lld, expected %lld", k, file_size(dp), good);
        CHECK_OK(check_store(c, 20, NULL, 20 + keeps_zz[k]));
        if (keeps_zz[k]) GET_IS(c, "zz", "{\"v\":1}");
        else GET_RC(c, "zz", ZIPPY_ENOTFOUND);
        GET_RC(c, "zy", ZIPPY_ENOTFOUND);
        PUT(c, "after", "{\"ok\":1}");
        CHECK_EQ(close_coll(r, c), 0);
        CHECK_EQ(OPEN_RO(dir, "c", &r, &c), 0);
        GET_IS(c, "after", "{\"ok\":1}");
        CHECK_OK(check_store(c, 20, NULL, 21 + keeps_zz[k]));
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "tail %zu: %s", k, zippy_errmsg());
        close_coll(r, c);
    }
}

/* An invalid line followed by valid lines is corruption, not a torn tail:
 * open fails naming the offset, and no file is cut. */
TEST(test_invalid_line_in_middle) {
    for (int variant = 0; variant < 3; variant++) {
        const char *dir = tmpdir();
        CHECK_OK(make_store(dir, "c", 20));
        const char *dp = data_path(dir, "c");
        long bad_off;
        if (variant == 0) {
            /* in the unindexed tail */
            bad_off = (long)file_size(dp) + (long)strlen("{\"_id\":\"n1\",\"v\":1}\n");
            CHECK_EQ(append_file(dp, "{\"_id\":\"n1\",\"v\":1}\nBROKEN LINE\n{\"_id\":\"n2\",\"v\":2}\n"), 0);
        } else {
            /* no index: found while rebuilding */
            size_t len;
            char *log = t_read_file(dp, &len);
            CHECK(log);
            bad_off = line_offset(log, "d011");
            char *q = strstr(log + bad_off, "\"n\":11");
            q[variant == 1 ? 3 : 0] = variant == 1 ? 'x' : '\'';
            CHECK_EQ(t_write_file(dp, log, len), 0);
            free(log);
            CHECK_EQ(unlink(index_path(dir, "c")), 0);
        }
        size_t d0len, d1len;
        char *d0 = t_read_file(dp, &d0len);
        CHECK(d0);
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RO(dir, "c", &r, &c);
        if (rc == 0) close_coll(r, c);
        if (rc != ZIPPY_ECORRUPT) free(d0);
        CHECKF(rc == ZIPPY_ECORRUPT, "variant %d read-only: %d", variant, rc);
        CHECKF(strstr(zippy_errmsg(), fmt("offset %ld", bad_off)) != NULL, "variant %d: %s", variant, zippy_errmsg());
        rc = OPEN_RW(dir, "c", &r, &c);
        if (rc == 0) close_coll(r, c);
        char *d1 = t_read_file(dp, &d1len);
        int same_data = d1 && d1len == d0len && !memcmp(d0, d1, d0len);
        free(d0);
        free(d1);
        CHECKF(rc == ZIPPY_ECORRUPT, "variant %d writable: %d", variant, rc);
        CHECKF(strstr(zippy_errmsg(), fmt("offset %ld", bad_off)) != NULL, "variant %d: %s", variant, zippy_errmsg());
        CHECKF(same_data, "variant %d: data.jsonl changed by a failed open", variant);
    }
}

/* Lines appended after the index's covered size (a writer that died before
 * its checkpoint) are picked up at open. */
TEST(test_unindexed_tail_catch_up) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 20));
    const char *dp = data_path(dir, "c");
    CHECK_EQ(append_file(dp, "{\"_id\":\"new1\",\"v\":1}\n{\"_id\":\"d001\",\"v\":\"updated\"}\n"
                             "{\"_id\":\"d002\",\"$deleted\":true}\n{\"_id\":\"new2\"}\n"
                             "{\"_id\":\"new1\",\"$deleted\":true}\n{\"_id\":\"new1\",\"v\":3}\n"),
             0);
    const char *want_scan = NULL;
    unsigned char absent[20] = {0};
    absent[1] = 2;
    absent[2] = 1;
    for (int pass = 0; pass < 3; pass++) {
        zippy_root *r;
        zippy_coll *c;
        int rc = pass == 1 ? OPEN_RW(dir, "c", &r, &c) : OPEN_RO(dir, "c", &r, &c);
        CHECKF(rc == 0, "pass %d: %s", pass, zippy_errmsg());
        CHECK_OK(check_store(c, 20, absent, 21));
        GET_IS(c, "d001", "{\"v\":\"updated\"}");
        GET_RC(c, "d002", ZIPPY_ENOTFOUND);
        GET_IS(c, "new1", "{\"v\":3}");
        GET_IS(c, "new2", "{}");
        CHECK_EQ(scan_collect(c, ZIPPY_SCAN_IDS_ONLY, NULL, NULL, 0, 17, g_scan, sizeof g_scan), 0);
        want_scan = "d019;d001;new2;new1;";
        CHECK_STR(g_scan, want_scan);
        zippy_verify_report vr;
        CHECKF(zippy_coll_verify(c, &vr) == 0, "pass %d: %s", pass, zippy_errmsg());
        CHECK_EQ(vr.lines, 26);
        CHECK_EQ(close_coll(r, c), 0);
    }
}

/* ------------------------------------------------------------------ */
/* Read-only                                                           */
/* ------------------------------------------------------------------ */

TEST(test_read_only) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "c", 10));
    size_t s0len, s1len;
    char *s0 = snapshot(dir, &s0len);
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RO(dir, "c", &r, &c);
    if (rc) free(s0);
    CHECK_EQ(rc, 0);
    int fails = 0;
    fails += zippy_coll_writable(c) != 0;
    fails += put_s(c, "d000", "{}") != ZIPPY_EREADONLY;
    fails += put_s(c, "zzz", "{}") != ZIPPY_EREADONLY;
    fails += del_s(c, "d001") != ZIPPY_EREADONLY;
    fails += zippy_coll_compact(c) != ZIPPY_EREADONLY;
    fails += zippy_coll_reindex(c) != ZIPPY_EREADONLY;
    fails += zippy_put_jsonl(c, "{\"_id\":\"q\"}\n", 11, NULL, NULL, 0, NULL) != ZIPPY_EREADONLY;
    fails += zippy_root_set_info(r, "x", "y") != ZIPPY_EREADONLY;
    fails += zippy_root_drop(r, "c") != ZIPPY_EREADONLY;
    fails += zippy_coll_flush(c) != 0;
    fails += zippy_coll_refresh(c) != 0;
    const char *why = check_store(c, 10, NULL, 10);
    zippy_stats st;
    fails += zippy_coll_stats(c, &st) != 0 || st.count != 10;
    zippy_verify_report vr;
    fails += zippy_coll_verify(c, &vr) != 0;
    zippy_buf info = ZIPPY_BUF_INIT;
    fails += zippy_root_info_json(r, &info) != 0;
    zippy_buf_free(&info);
    fails += close_coll(r, c) != 0;
    /* a read-only collection handle from a writable root */
    zippy_options o = ZIPPY_OPTIONS_INIT;
    fails += zippy_root_open(&r, dir, &o) != 0;
    o.flags = ZIPPY_OPEN_READONLY;
    fails += zippy_coll_open(&c, r, "c", &o) != 0;
    fails += put_s(c, "d000", "{}") != ZIPPY_EREADONLY;
    fails += zippy_coll_writable(c) != 0;
    fails += close_coll(r, c) != 0;
    char *s1 = snapshot(dir, &s1len);
    int same = same_snapshot(s0, s0len, s1, s1len);
    free(s0);
    free(s1);
    CHECK(!why);
    CHECK_EQ(fails, 0);
    CHECK(same);
    /* missing collection / store */
    CHECK_EQ(OPEN_RO(dir, "nope", &r, &c), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "nope") != NULL);
    CHECK(!file_exists(fmt("%s/collections/nope", dir)));
    const char *missing = fmt("%s/no-store-here", dir);
    o.flags = 0;
    rc = zippy_root_open(&r, missing, &o);
    CHECK_EQ(rc, ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "no-store-here") != NULL);
    CHECK(!file_exists(missing));
    o.flags = ZIPPY_OPEN_READONLY | ZIPPY_OPEN_CREATE; /* read-only never creates */
    CHECK_EQ(zippy_root_open(&r, missing, &o), ZIPPY_ENOTFOUND);
    CHECK(!file_exists(missing));
    /* a writable root without CREATE does not create collections */
    o.flags = 0;
    CHECK_EQ(zippy_root_open(&r, dir, &o), 0);
    CHECK_EQ(zippy_coll_open(&c, r, "nope", &o), ZIPPY_ENOTFOUND);
    zippy_root_close(r);
    CHECK(!file_exists(fmt("%s/collections/nope", dir)));
    CHECK_EQ(zippy_root_open(&r, "", NULL), ZIPPY_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Root                                                                */
/* ------------------------------------------------------------------ */

typedef struct hold_arg {
    int in, out; /* parent->child read end, child->parent write end */
    const char *dir, *coll;
} hold_arg;

/* Child: opens dir/coll for writing, says 'o' (or 'e'), waits for a byte,
 * closes. */
static int child_hold_writer(void *arg) {
    hold_arg *a = arg;
    zippy_root *r;
    zippy_coll *c;
    char ch = OPEN_RW(a->dir, a->coll, &r, &c) == 0 ? 'o' : 'e';
    if (write(a->out, &ch, 1) != 1) return 3;
    if (read(a->in, &ch, 1) != 1) return 4;
    close_coll(r, c);
    return 0;
}

TEST(test_root) {
    const char *dir = tmpdir();
    const char *store = fmt("%s/store", dir);
    char storebuf[4096];
    snprintf(storebuf, sizeof storebuf, "%s", store);
    zippy_root *r;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    CHECK_EQ(zippy_root_open(&r, storebuf, &o), 0);
    const char *zp = fmt("%s/zds.json", storebuf);
    char zpath[4096];
    snprintf(zpath, sizeof zpath, "%s", zp);
    CHECK(file_exists(zpath));
    size_t len;
    char *zj = t_read_file(zpath, &len);
    CHECK(zj);
    const char *v = json_at(zj, len, "format", NULL, NULL);
    int fmt_ok = v && !strcmp(v, "zippy");
    free(zj);
    CHECK(fmt_ok);
    /* three collections, counts */
    const char *names[] = {"gamma", "alpha", "beta"};
    int counts[] = {2, 1, 3};
    for (int i = 0; i < 3; i++) {
        zippy_coll *c;
        CHECK_EQ(zippy_coll_open(&c, r, names[i], NULL), 0);
        for (int k = 0; k < counts[i]; k++) PUT(c, fmt("x%d", k), "{}");
        CHECK_EQ(zippy_coll_close(c), 0);
    }
    zj = t_read_file(zpath, &len);
    CHECK(zj);
    const char *a = json_at(zj, len, "collections", "alpha", "count");
    const char *b = json_at(zj, len, "collections", "beta", "count");
    int counts_ok = a && !strcmp(a, "1") && b && !strcmp(b, "3");
    const char *g = json_at(zj, len, "collections", "gamma", "count");
    counts_ok = counts_ok && g && !strcmp(g, "2");
    free(zj);
    CHECK(counts_ok);
    char **list;
    size_t n;
    CHECK_EQ(zippy_root_list(r, &list, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_STR(list[0], "alpha");
    CHECK_STR(list[1], "beta");
    CHECK_STR(list[2], "gamma");
    CHECK(list[3] == NULL);
    zippy_strv_free(list);
    CHECK_EQ(zippy_root_list(r, &list, NULL), 0);
    zippy_strv_free(list);
    CHECK_EQ(zippy_root_has(r, "alpha"), 1);
    CHECK_EQ(zippy_root_has(r, "delta"), 0);
    CHECK_EQ(zippy_root_has(r, "../alpha"), 0);
    CHECK_EQ(zippy_root_has(r, ""), 0);
    /* set_info keeps the collections */
    CHECK_EQ(zippy_root_set_info(r, "My \"data\"", "A description\nwith a newline"), 0);
    zj = t_read_file(zpath, &len);
    CHECK(zj);
    const char *nm = json_at(zj, len, "name", NULL, NULL);
    int info_ok = nm && !strcmp(nm, "My \"data\"");
    const char *ds = json_at(zj, len, "description", NULL, NULL);
    info_ok = info_ok && ds && !strcmp(ds, "A description\nwith a newline");
    const char *bc = json_at(zj, len, "collections", "beta", "count");
    info_ok = info_ok && bc && !strcmp(bc, "3");
    free(zj);
    CHECK(info_ok);
    /* info json: parses, has the counts (refreshed from the collections) */
    zippy_coll *c;
    CHECK_EQ(zippy_coll_open(&c, r, "alpha", NULL), 0);
    PUT(c, "late", "{}");
    zippy_buf info = ZIPPY_BUF_INIT;
    CHECK_EQ(zippy_root_info_json(r, &info), 0);
    const char *ia = json_at(info.ptr, info.len, "collections", "alpha", "count");
    const char *ig = json_at(info.ptr, info.len, "collections", "gamma", "count");
    int ij_ok = ia && !strcmp(ia, "2") && ig && !strcmp(ig, "2");
    const char *in = json_at(info.ptr, info.len, "name", NULL, NULL);
    ij_ok = ij_ok && in && !strcmp(in, "My \"data\"");
    zippy_buf_free(&info);
    (void)ij_ok; /* checked in test_root_info_json */
    CHECK_EQ(zippy_coll_close(c), 0);
    /* invalid collection names */
    char long_name[66];
    memset(long_name, 'n', 65);
    long_name[65] = 0;
    const char *bad[] = {"", ".hidden", "a/b", "a..b", "a b", "../x", long_name, "é", "a\\b", ".", "..", "a:b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zippy_coll *cc = (zippy_coll *)&o;
        int rc = zippy_coll_open(&cc, r, bad[i], NULL);
        CHECKF(rc == ZIPPY_EINVAL, "name \"%s\": %d", bad[i], rc);
        CHECK(cc == (zippy_coll *)&o);
        CHECKF(zippy_root_drop(r, bad[i]) == ZIPPY_EINVAL, "drop \"%s\"", bad[i]);
    }
    long_name[64] = 0; /* 64 bytes is fine */
    CHECK_EQ(zippy_coll_open(&c, r, long_name, NULL), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    CHECK_EQ(zippy_coll_open(&c, r, "A-z_0.9", NULL), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    CHECK_EQ(zippy_root_list(r, &list, &n), 0);
    CHECK_EQ(n, 5);
    zippy_strv_free(list);
    /* drop */
    CHECK_EQ(zippy_root_drop(r, "gamma"), 0);
    CHECK_EQ(zippy_root_has(r, "gamma"), 0);
    CHECK(!file_exists(fmt("%s/collections/gamma", storebuf)));
    CHECK_EQ(zippy_root_drop(r, "gamma"), ZIPPY_ENOTFOUND);
    zj = t_read_file(zpath, &len);
    CHECK(zj);
    int gone = json_at(zj, len, "collections", "gamma", NULL) == NULL &&
               json_at(zj, len, "collections", "alpha", "count") != NULL;
    free(zj);
    CHECK(gone);
    /* drop while another process holds the writer lock */
    int p2c[2], c2p[2];
    CHECK_EQ(pipe(p2c), 0);
    CHECK_EQ(pipe(c2p), 0);
    hold_arg arg = {p2c[0], c2p[1], storebuf, "beta"};
    pid_t pid = fork_child(child_hold_writer, &arg);
    CHECK(pid > 0);
    char ch = 0;
    CHECK_EQ(read(c2p[0], &ch, 1), 1);
    CHECK_EQ(ch, 'o');
    int rc = zippy_root_drop(r, "beta");
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    CHECK_EQ(write(p2c[1], "x", 1), 1);
    int st = wait_child(pid);
    CHECKF(st == 0, "child exit status %d", st);
    close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
    CHECKF(rc == ZIPPY_ELOCKED, "drop of a collection locked by pid %d: %d (%s)", (int)pid, rc, msg);
    CHECK(strstr(msg, fmt("%d", (int)pid)) != NULL);
    CHECK_EQ(zippy_root_has(r, "beta"), 1);
    CHECK_EQ(zippy_coll_open(&c, r, "beta", NULL), 0);
    CHECK_EQ(count_of(c), 3);
    CHECK_EQ(zippy_coll_close(c), 0);
    CHECK_EQ(zippy_root_drop(r, "beta"), 0);
    CHECK_EQ(zippy_root_has(r, "beta"), 0);
    zippy_root_close(r);
    /* reopen without CREATE */
    o.flags = 0;
    CHECK_EQ(zippy_root_open(&r, storebuf, &o), 0);
    CHECK_EQ(zippy_root_list(r, &list, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_STR(list[0], "A-z_0.9");
    CHECK_STR(list[1], "alpha");
    zippy_strv_free(list);
    zippy_root_close(r);
}

/* zippy_root_info_json writes zds.json's content with fresh counts: valid
 * JSON. */
TEST(test_root_info_json) {
    const char *dir = tmpdir();
    CHECK_OK(make_store(dir, "alpha", 2));
    CHECK_OK(make_store(dir, "beta", 5));
    zippy_root *r;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    CHECK_EQ(zippy_root_open(&r, dir, &o), 0);
    CHECK_EQ(zippy_root_set_info(r, "My data", "About it"), 0);
    zippy_coll *c;
    CHECK_EQ(zippy_coll_open(&c, r, "alpha", NULL), 0);
    PUT(c, "late", "{}"); /* not checkpointed yet: the count is refreshed */
    zippy_buf info = ZIPPY_BUF_INIT;
    int rc = zippy_root_info_json(r, &info);
    zippy_coll_close(c);
    zippy_root_close(r);
    char text[2048];
    snprintf(text, sizeof text, "%s", info.ptr ? info.ptr : "");
    const char *ia = json_at(info.ptr, info.len, "collections", "alpha", "count");
    const char *ib = json_at(info.ptr, info.len, "collections", "beta", "count");
    const char *in = json_at(info.ptr, info.len, "name", NULL, NULL);
    const char *id = json_at(info.ptr, info.len, "description", NULL, NULL);
    int ok = ia && !strcmp(ia, "3") && ib && !strcmp(ib, "5") && in && !strcmp(in, "My data") && id &&
             !strcmp(id, "About it");
    zippy_buf_free(&info);
    CHECK_EQ(rc, 0);
    CHECKF(ok, "root_info_json is not valid JSON with the counts:\n%s", text);
    /* empty store */
    const char *dir2 = tmpdir();
    CHECK_EQ(zippy_root_open(&r, dir2, &o), 0);
    rc = zippy_root_info_json(r, &info);
    zippy_root_close(r);
    snprintf(text, sizeof text, "%s", info.ptr ? info.ptr : "");
    const char *cols = json_at(info.ptr, info.len, "collections", NULL, NULL);
    ok = cols && !strcmp(cols, "{}");
    zippy_buf_free(&info);
    CHECK_EQ(rc, 0);
    CHECKF(ok, "root_info_json of an empty store:\n%s", text);
}

/* "Fails with ZIPPY_ELOCKED while it is open anywhere": also while this
 * process has it open for writing. */
TEST(test_drop_open_in_this_process) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, "c", &r, &c), 0);
    PUT(c, "a", "{}");
    int rc = zippy_root_drop(r, "c");
    int has = zippy_root_has(r, "c");
    /* whatever happened, the handle must not write into a dropped dir
     * silently: either the drop failed or writes fail */
    int prc = put_s(c, "b", "{}");
    close_coll(r, c);
    CHECKF(rc == ZIPPY_ELOCKED, "drop of a collection open for writing here: %d (has=%d, later put=%d)", rc, has,
           prc);
    CHECK_EQ(has, 1);
}

/* ------------------------------------------------------------------ */
/* Sync modes                                                          */
/* ------------------------------------------------------------------ */

TEST(test_sync_modes) {
    const char *dir = tmpdir();
    zippy_sync_mode modes[] = {ZIPPY_SYNC_NONE, ZIPPY_SYNC_FLUSH, ZIPPY_SYNC_ALWAYS};
    for (int m = 0; m < 3; m++) {
        const char *name = fmt("s%d", m);
        char nm[16];
        snprintf(nm, sizeof nm, "%s", name);
        zippy_root *r;
        zippy_coll *c;
        CHECK_EQ(open_coll(dir, nm, ZIPPY_OPEN_CREATE, modes[m], &r, &c), 0);
        for (int i = 0; i < 30; i++) {
            PUT(c, fmt("d%03d", i), doc_of(i));
            if (modes[m] == ZIPPY_SYNC_ALWAYS) {
                size_t len;
                char *log = t_read_file(data_path(dir, nm), &len);
                const char *line = fmt("{\"_id\":\"d%03d\",\"n\":%d,\"name\":\"name%03d\"}\n", i, i, i);
                int there = log && len >= strlen(line) && !memcmp(log + len - strlen(line), line, strlen(line));
                free(log);
                CHECKF(there, "SYNC_ALWAYS: line of d%03d not in data.jsonl after put", i);
            }
        }
        CHECK_EQ(del_s(c, "d005"), 0);
        if (modes[m] == ZIPPY_SYNC_ALWAYS) {
            size_t len;
            char *log = t_read_file(data_path(dir, nm), &len);
            int there = log && strstr(log, "{\"_id\":\"d005\",\"$deleted\":true}\n") != NULL;
            free(log);
            CHECK(there);
            uint64_t w;
            CHECK_EQ(zippy_put_jsonl(c, "{\"_id\":\"j1\"}\n", 13, NULL, NULL, 0, &w), 0);
            log = t_read_file(data_path(dir, nm), &len);
            there = log && strstr(log, "{\"_id\":\"j1\"}\n") != NULL;
            free(log);
            CHECK(there);
            CHECK_EQ(del_s(c, "j1"), 0);
        }
        CHECK_EQ(zippy_coll_flush(c), 0);
        CHECK_EQ(close_coll(r, c), 0);
        unsigned char absent[30] = {0};
        absent[5] = 1;
        CHECK_EQ(OPEN_RO(dir, nm, &r, &c), 0);
        CHECK_OK(check_store(c, 30, absent, 29));
        close_coll(r, c);
    }
}

/* ------------------------------------------------------------------ */
/* Allocation failures                                                 */
/* ------------------------------------------------------------------ */

/* A failing allocator: the fail_at-th call (and with sticky every later
 * one) returns NULL. It remembers the blocks it handed out, so that a free
 * of a block it never allocated (memory from libc, e.g. realpath()) is
 * caught: with a real custom allocator that would be an invalid free. */
#define FA_BITS 20
#define FA_SLOTS (1u << FA_BITS)
static struct {
    long calls, fail_at, failures, live, foreign_frees;
    int sticky;
    void **set;
} fa;

static size_t fa_home(void *p) { return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - FA_BITS)); }
static void fa_add(void *p) {
    size_t i = fa_home(p);
    while (fa.set[i]) i = (i + 1) & (FA_SLOTS - 1);
    fa.set[i] = p;
    fa.live++;
}
/* Removes p; 0 if it was not there. Backward-shift deletion. */
static int fa_del(void *p) {
    size_t i = fa_home(p);
    while (fa.set[i] && fa.set[i] != p) i = (i + 1) & (FA_SLOTS - 1);
    if (!fa.set[i]) return 0;
    fa.set[i] = NULL;
    fa.live--;
    for (size_t j = (i + 1) & (FA_SLOTS - 1); fa.set[j]; j = (j + 1) & (FA_SLOTS - 1)) {
        size_t k = fa_home(fa.set[j]);
        int move = i <= j ? (k <= i || k > j) : (k <= i && k > j);
        if (move) {
            fa.set[i] = fa.set[j];
            fa.set[j] = NULL;
            i = j;
        }
    }
    return 1;
}
static int fa_fail(void) {
    fa.calls++;
    if (fa.fail_at && (fa.calls == fa.fail_at || (fa.sticky && fa.calls > fa.fail_at))) {
        fa.failures++;
        return 1;
    }
    return 0;
}
static void *fa_malloc(size_t n) {
    if (fa_fail()) return NULL;
    void *p = malloc(n);
    if (p) fa_add(p);
    return p;
}
static void *fa_realloc(void *p, size_t n) {
    if (fa_fail()) return NULL;
    /* blocks from before the allocator was installed (thread-local
     * buffers of earlier tests) may be grown: they then become ours */
    int ours = p ? fa_del(p) : 0;
    void *q = realloc(p, n);
    if (q) fa_add(q);
    else if (ours) fa_add(p);
    return q;
}
static void fa_free(void *p) {
    if (!p) return;
    if (!fa_del(p)) {
        fa.foreign_frees++;
        if (getenv("FA_DEBUG")) __builtin_trap();
    }
    free(p);
}
static const zippy_allocator fa_alloc = {fa_malloc, fa_realloc, fa_free};
static void fa_install(void) {
    if (!fa.set) fa.set = calloc(FA_SLOTS, sizeof *fa.set);
    fa.fail_at = 0;
    zippy_set_allocator(&fa_alloc);
}

static int nomem_ok(int rc) { return rc == ZIPPY_OK || rc == ZIPPY_ENOMEM; }

typedef struct fa_model {
    char docs[4096][40]; /* id -> "" absent, else the document */
    char ids[4096][24];
    int n;
} fa_model;

static int fam_find(fa_model *m, const char *id) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->ids[i], id)) return i;
    snprintf(m->ids[m->n], sizeof m->ids[0], "%s", id);
    m->docs[m->n][0] = 0;
    return m->n++;
}

/* The store holds exactly the model (normal allocations). */
static const char *fam_check(fa_model *m, const char *dir, int writable) {
    zippy_root *r;
    zippy_coll *c;
    int rc = writable ? OPEN_RW(dir, "c", &r, &c) : OPEN_RO(dir, "c", &r, &c);
    if (rc) return WHY("open after failures: %d %s", rc, zippy_errmsg());
    uint64_t live = 0;
    const char *why = NULL;
    for (int i = 0; i < m->n && !why; i++) {
        rc = get_s(c, m->ids[i], 0);
        if (m->docs[i][0]) {
            live++;
            if (rc || strcmp(g_buf.ptr, m->docs[i])) why = WHY("get %s: %d (%s)", m->ids[i], rc, zippy_errmsg());
        } else if (rc != ZIPPY_ENOTFOUND) {
            why = WHY("get %s: %d, expected ENOTFOUND", m->ids[i], rc);
        }
    }
    if (!why && count_of(c) != live)
        why = WHY("count %llu, expected %llu", (unsigned long long)count_of(c), (unsigned long long)live);
    zippy_verify_report vr;
    if (!why && zippy_coll_verify(c, &vr)) why = WHY("verify: %s", zippy_errmsg());
    close_coll(r, c);
    return why;
}

/* The first call that failed with another code than ZIPPY_ENOMEM (the
 * runs go on, to look for crashes and inconsistencies too). */
static char g_fa_wrong[1024];
static void fa_wrong(long n, const char *what, int rc) {
    if (!g_fa_wrong[0])
        snprintf(g_fa_wrong, sizeof g_fa_wrong, "failing allocation %ld%s: %s returned %d, not ENOMEM: %s", n,
                 fa.sticky ? " (and later)" : "", what, rc, zippy_errmsg());
}
#define FA_OK(rc, what) (nomem_ok(rc) ? 1 : (fa_wrong(iter, what, rc), 0))

/* One run of open / put / delete / get / scan / ids / flush / close under
 * the failing allocator. The model records what succeeded. */
static void fa_sequence(fa_model *m, const char *dir, long iter) {
    zippy_root *r = NULL;
    zippy_coll *c = NULL;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    int rc = zippy_root_open(&r, dir, &o);
    if (rc) { FA_OK(rc, "root_open"); return; }
    rc = zippy_coll_open(&c, r, "c", NULL);
    if (rc) {
        FA_OK(rc, "coll_open");
        zippy_root_close(r);
        return;
    }
    for (int k = 0; k < 3; k++) {
        char id[24], doc[40];
        snprintf(id, sizeof id, "i%ld_%d", iter % 8, k); /* a bounded set of ids */
        snprintf(doc, sizeof doc, "{\"it\":%ld,\"k\":%d}", iter, k);
        rc = put_s(c, id, doc);
        if (FA_OK(rc, "put") && rc == 0) snprintf(m->docs[fam_find(m, id)], sizeof m->docs[0], "%s", doc);
    }
    /* update and delete earlier documents */
    int victim = m->n > 0 ? (int)(iter % m->n) : -1;
    if (victim >= 0 && m->docs[victim][0]) {
        char doc[40];
        snprintf(doc, sizeof doc, "{\"upd\":%ld}", iter);
        rc = put_s(c, m->ids[victim], doc);
        if (FA_OK(rc, "put (update)") && rc == 0) snprintf(m->docs[victim], sizeof m->docs[0], "%s", doc);
    }
    victim = m->n > 1 ? (int)((iter * 7) % m->n) : -1;
    if (victim >= 0 && m->docs[victim][0] && iter % 3 == 0) {
        rc = del_s(c, m->ids[victim]);
        if (FA_OK(rc, "delete") && rc == 0) m->docs[victim][0] = 0;
    }
    if (m->n) {
        rc = get_s(c, m->ids[0], 0);
        if (!(rc == ZIPPY_ENOTFOUND && !m->docs[0][0])) FA_OK(rc, "get");
    }
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = "{\"k\":{\"$gte\":0}}";
    so.fields = "k";
    zippy_scan *s = NULL;
    rc = zippy_scan_open(&s, c, &so);
    if (FA_OK(rc, "scan_open") && rc == 0) {
        int k;
        while ((k = zippy_scan_next(s, NULL, NULL, NULL, NULL)) == 1) {}
        if (k) FA_OK(k, "scan_next (filter + fields)");
        zippy_scan_close(s);
    }
    char **ids = NULL;
    rc = zippy_ids(c, &ids, NULL);
    if (FA_OK(rc, "ids") && rc == 0) zippy_strv_free(ids);
    FA_OK(zippy_coll_flush(c), "flush");
    FA_OK(zippy_coll_close(c), "close");
    zippy_root_close(r);
}

static const char *fa_run(int sticky, long *runs) {
    const char *dir = tmpdir();
    static fa_model m;
    memset(&m, 0, sizeof m);
    const char *why = make_store(dir, "c", 0);
    if (why) return why;
    fa_install();
    fa.sticky = sticky;
    g_fa_wrong[0] = 0;
    /* one run without failures first: thread-local buffers (and g_buf)
     * get allocated once and stay, they are not leaks */
    fa_sequence(&m, dir, 0);
    for (long n = 1; n < 20000 && !why; n++) {
        long live0 = fa.live;
        fa.calls = fa.failures = 0;
        fa.fail_at = n;
        fa_sequence(&m, dir, n);
        fa.fail_at = 0;
        long failures = fa.failures;
        if (fa.live != live0) why = WHY("failing allocation %ld: %ld allocations leaked", n, fa.live - live0);
        if (!why) {
            why = fam_check(&m, dir, n % 4 == 0);
            if (why) why = WHY_MORE("after failing allocation %ld%s: %s", n, sticky ? " (and later)" : "", g_why2);
        }
        *runs = n;
        if (getenv("FA_VERBOSE")) printf("N=%ld calls=%ld\n", n, fa.calls);
        if (failures == 0) break; /* the whole sequence ran without a failure */
    }
    if (!why) why = fam_check(&m, dir, 1);
    zippy_set_allocator(NULL);
    if (!why && g_fa_wrong[0]) why = g_fa_wrong;
    return why;
}

/* Everything the library frees through the allocator came from it. */
TEST(test_allocator_frees_only_its_blocks) {
    const char *dir = tmpdir();
    fa_install();
    fa.foreign_frees = 0;
    const char *why = make_store(dir, "c", 3);
    zippy_root *r;
    zippy_coll *c;
    int rc = why ? -1 : OPEN_RO(dir, "c", &r, &c);
    if (!rc) close_coll(r, c);
    zippy_set_allocator(NULL);
    CHECK_OK(why);
    CHECK_EQ(rc, 0);
    CHECKF(fa.foreign_frees == 0, "%ld blocks freed through the allocator that it never allocated "
           "(e.g. the realpath() result kept as the engine's dir)", fa.foreign_frees);
}

TEST(test_failing_allocator_once) {
    long runs = 0;
    CHECK_OK(fa_run(0, &runs));
    CHECK(runs > 20);
}

TEST(test_failing_allocator_sticky) {
    long runs = 0;
    CHECK_OK(fa_run(1, &runs));
    CHECK(runs > 20);
}

/* A maintenance call that fails for lack of memory must leave every
 * document in place (in the handle, and on disk after close). */
static const char *fa_maintenance(int which, int sticky) {
    const char *dir = tmpdir();
    const char *why = make_store(dir, "c", 60);
    if (why) return why;
    for (long n = 1; n < 5000; n++) {
        zippy_root *r;
        zippy_coll *c;
        if (OPEN_RW(dir, "c", &r, &c)) return WHY("open: %s", zippy_errmsg());
        /* some changes since the checkpoint, so there is an overlay */
        int i = (int)(n % 60);
        if (put_s(c, fmt("d%03d", i), doc_of(i))) return WHY("put: %s", zippy_errmsg());
        fa_install();
        fa.calls = fa.failures = 0;
        fa.sticky = sticky;
        fa.fail_at = n;
        int rc = which == 0 ? zippy_coll_compact(c) : zippy_coll_reindex(c);
        fa.fail_at = 0;
        long failures = fa.failures;
        zippy_set_allocator(NULL);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        const char *what = which == 0 ? "compact" : "reindex";
        if (!nomem_ok(rc)) { close_coll(r, c); return WHY("%s N=%ld: %d %s", what, n, rc, msg); }
        char in_handle[1024] = "", after[1024] = "";
        why = check_store(c, 60, NULL, 60);
        if (why) snprintf(in_handle, sizeof in_handle, "%s", why);
        if (close_coll(r, c)) return WHY("close after %s N=%ld: %s", what, n, zippy_errmsg());
        if (OPEN_RO(dir, "c", &r, &c)) return WHY("reopen: %s", zippy_errmsg());
        why = check_store(c, 60, NULL, 60);
        if (why) snprintf(after, sizeof after, "%s", why);
        uint64_t cnt = count_of(c);
        close_coll(r, c);
        if (after[0] || in_handle[0])
            return WHY("%s failed with %d (allocation %ld%s failing): in the same handle: %s; after close and "
                       "reopen: %s (count %llu)",
                       what, rc, n, sticky ? " and later" : "", in_handle[0] ? in_handle : "fine",
                       after[0] ? after : "fine", (unsigned long long)cnt);
        if (failures == 0) return NULL;
    }
    return "never completed";
}

TEST(test_failing_allocator_compact) { CHECK_OK(fa_maintenance(0, 0)); }
TEST(test_failing_allocator_reindex) { CHECK_OK(fa_maintenance(1, 0)); }
TEST(test_failing_allocator_reindex_sticky) { CHECK_OK(fa_maintenance(1, 1)); }

/* ------------------------------------------------------------------ */
/* Errors and versions                                                 */
/* ------------------------------------------------------------------ */

static void *errmsg_thread(void *arg) {
    const char **out = arg;
    out[0] = zippy_errmsg();
    out[1] = zippy_errcode() == 0 ? "0" : "x";
    return NULL;
}

TEST(test_errors_and_versions) {
    int codes[] = {ZIPPY_OK, ZIPPY_ENOTFOUND, ZIPPY_EEXISTS, ZIPPY_EINVAL, ZIPPY_ECORRUPT,
                   ZIPPY_ELOCKED, ZIPPY_EIO, ZIPPY_ENOMEM, ZIPPY_EREADONLY, ZIPPY_ESCHEMA,
                   ZIPPY_ENOSPC, ZIPPY_ETOOBIG, ZIPPY_ECLOSED, ZIPPY_EBUSY, ZIPPY_EUNSUPPORTED};
    size_t nc = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < nc; i++) {
        const char *s = zippy_strerror(codes[i]);
        CHECK(s && *s);
        CHECKF(strcmp(s, zippy_strerror(-999)) != 0, "code %d has the unknown text", codes[i]);
        for (size_t j = 0; j < i; j++) CHECKF(strcmp(s, zippy_strerror(codes[j])), "%d and %d: %s", codes[i], codes[j], s);
    }
    CHECK(zippy_strerror(-999) && *zippy_strerror(-999));
    CHECK(zippy_strerror(-15) && *zippy_strerror(-15));
    CHECK_STR(zippy_strerror(ENOENT), strerror(ENOENT));
    CHECK_STR(zippy_strerror(EACCES), strerror(EACCES));
    CHECK(zippy_errmsg() != NULL);
    /* a thread that never called the library */
    const char *res[2] = {NULL, NULL};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, errmsg_thread, res), 0);
    pthread_join(t, NULL);
    CHECK(res[0] != NULL);
    CHECK_STR(res[1], "0");
    /* after an error: the code and a message */
    CHECK_EQ(zippy_id_valid("a b", 3), ZIPPY_EINVAL);
    CHECK_EQ(zippy_errcode(), ZIPPY_EINVAL);
    CHECK(strlen(zippy_errmsg()) > 0);
    /* NULL handles */
    CHECK_EQ(zippy_put(NULL, "a", 1, "{}", 2), ZIPPY_EINVAL);
    CHECK(zippy_errmsg() != NULL);
    uint64_t n;
    CHECK(zippy_count(NULL, &n) < 0);
    CHECK(zippy_get(NULL, "a", 1, 0, &g_buf) < 0);
    CHECK(zippy_scan_next(NULL, NULL, NULL, NULL, NULL) < 0);
    CHECK(zippy_root_list(NULL, NULL, NULL) < 0);
    CHECK(zippy_errmsg() != NULL);
    /* versions */
    CHECK_STR(zippy_version(), ZIPPY_VERSION_STRING);
    CHECK_STR(zippy_version(), "0.2.0");
    CHECK_EQ(zippy_version_number(), ZIPPY_VERSION_NUMBER);
    CHECK_EQ(zippy_version_number(), 200);
    CHECK_EQ(zippy_format_version(), ZIPPY_FORMAT_VERSION);
    CHECK_EQ(zippy_format_version(), 1);
    /* buffers */
    zippy_buf b = ZIPPY_BUF_INIT;
    zippy_buf_free(&b);
    zippy_buf_free(NULL);
    zippy_strv_free(NULL);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(test_put_get_delete_basics);
    RUN_SEL(test_read_your_writes_and_updates);
    RUN_SEL(test_document_forms);
    RUN_SEL(test_refused_documents);
    RUN_SEL(test_refused_escaped_reserved_keys);
    RUN_SEL(test_refused_duplicate_id_members);
    RUN_SEL(test_oversized_document);
    RUN_SEL(test_ids_valid);
    RUN_SEL(test_ids_invalid);
    RUN_SEL(test_id_with_nul_byte);
    RUN_SEL(test_persistence_model);
    RUN_SEL(test_scan_order);
    RUN_SEL(test_scan_filters_projections);
    RUN_SEL(test_scan_snapshot_new_rows);
    RUN_SEL(test_scan_snapshot_update_during_scan);
    RUN_SEL(test_scan_busy_after_compact);
    RUN_SEL(test_put_jsonl);
    RUN_SEL(test_stats_compact_reindex_verify);
    RUN_SEL(test_compact_edge_cases);
    RUN_SEL(test_corrupt_document_byte);
    RUN_SEL(test_corrupt_id_byte);
    RUN_SEL(test_corrupt_document_syntax);
    RUN_SEL(test_failed_reindex_keeps_documents);
    RUN_SEL(test_corrupt_index_rebuilt);
    RUN_SEL(test_corrupt_index_slot);
    RUN_SEL(test_index_claims_more_than_log);
    RUN_SEL(test_torn_tail);
    RUN_SEL(test_invalid_line_in_middle);
    RUN_SEL(test_unindexed_tail_catch_up);
    RUN_SEL(test_read_only);
    RUN_SEL(test_root);
    RUN_SEL(test_root_info_json);
    RUN_SEL(test_drop_open_in_this_process);
    RUN_SEL(test_sync_modes);
    RUN_SEL(test_allocator_frees_only_its_blocks);
    RUN_SEL(test_failing_allocator_once);
    RUN_SEL(test_failing_allocator_sticky);
    RUN_SEL(test_failing_allocator_compact);
    RUN_SEL(test_failing_allocator_reindex);
    RUN_SEL(test_failing_allocator_reindex_sticky);
    RUN_SEL(test_errors_and_versions);
    zippy_buf_free(&g_buf);
    for (int i = 0; i < g_ndirs; i++) {
        if (!getenv("ZIPPY_KEEP")) t_rm_rf(g_dirs[i]); /* ZIPPY_KEEP=1 keeps them */
        free(g_dirs[i]);
    }
    TEST_END();
}
