/* test_concurrency.c - threads and processes on one collection: writers on
 * disjoint ids through one shared handle or one handle each, concurrent
 * readers (gets and scans), handle sharing inside a process, the writer
 * lock across processes, read-only refresh, group commit.
 */
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zippy.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char g_why[4096];
#define WHY(...) (snprintf(g_why, sizeof g_why, __VA_ARGS__), g_why)
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        const char *why_ = (expr);                                             \
        CHECKF(why_ == NULL, "%s", why_);                                      \
    } while (0)

static char *g_dirs[64];
static int g_ndirs;
static int quick(void) { return getenv("ZIPPY_QUICK") != NULL; }

static const char *tmpdir(void) {
    char *d = t_tmpdir();
    if (g_ndirs < 64) g_dirs[g_ndirs++] = d;
    return d;
}

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
#define OPEN_RW(dir, r, c) open_coll(dir, "c", ZIPPY_OPEN_CREATE, ZIPPY_SYNC_FLUSH, r, c)
#define OPEN_RO(dir, r, c) open_coll(dir, "c", ZIPPY_OPEN_READONLY, ZIPPY_SYNC_FLUSH, r, c)

static int close_coll(zippy_root *r, zippy_coll *c) {
    int rc = zippy_coll_close(c);
    zippy_root_close(r);
    return rc;
}

static uint64_t count_of(zippy_coll *c) {
    uint64_t n = UINT64_MAX;
    return zippy_count(c, &n) ? UINT64_MAX : n;
}

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

/* ------------------------------------------------------------------ */
/* Threads: writers on disjoint ids, readers                           */
/* ------------------------------------------------------------------ */

#define NW 4
#define MAXPER 4000

/* What writer t leaves behind: deterministic from (t, per). Writer t puts
 * t<t>_<i> = {"t":t,"i":i,"v":0}; at every 10th i it updates i-5 to v 1
 * (re-creating it if it was deleted); at every 17th i it deletes i-3. */
static int w_version(int i, int per) {
    int k = i + 5;
    return k < per && k % 10 == 0 ? 1 : 0;
}

typedef struct shared {
    const char *dir;
    zippy_coll *coll; /* the shared handle, or NULL: each thread opens its own */
    int per;
    atomic_int progress[NW]; /* last i fully put by writer t, -1 none */
    atomic_int writers_done;
    atomic_int reads, scans, scan_rows;
    char err[NW + 4][512];   /* per thread: first problem */
} shared;

typedef struct targ {
    shared *s;
    int t;
} targ;

static void t_fail(shared *s, int t, const char *fmt, ...) {
    if (s->err[t][0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err[t], sizeof s->err[t], fmt, ap);
    va_end(ap);
}

static void *writer(void *arg) {
    targ *a = arg;
    shared *s = a->s;
    int t = a->t;
    zippy_root *r = NULL;
    zippy_coll *c = s->coll;
    if (!c && OPEN_RW(s->dir, &r, &c)) {
        t_fail(s, t, "writer %d: open: %s", t, zippy_errmsg());
        atomic_fetch_add(&s->writers_done, 1);
        return NULL;
    }
    char id[32], doc[96];
    for (int i = 0; i < s->per; i++) {
        snprintf(id, sizeof id, "t%d_%05d", t, i);
        snprintf(doc, sizeof doc, "{\"t\":%d,\"i\":%d,\"v\":0}", t, i);
        int rc = zippy_put(c, id, strlen(id), doc, strlen(doc));
        if (rc) { t_fail(s, t, "put %s: %d %s", id, rc, zippy_errmsg()); break; }
        if (i % 10 == 0 && i >= 5) {
            snprintf(id, sizeof id, "t%d_%05d", t, i - 5);
            snprintf(doc, sizeof doc, "{\"t\":%d,\"i\":%d,\"v\":1}", t, i - 5);
            if ((rc = zippy_put(c, id, strlen(id), doc, strlen(doc)))) {
                t_fail(s, t, "update %s: %d %s", id, rc, zippy_errmsg());
                break;
            }
        }
        if (i % 17 == 0 && i >= 3) {
            snprintf(id, sizeof id, "t%d_%05d", t, i - 3);
            if ((rc = zippy_delete(c, id, strlen(id)))) {
                t_fail(s, t, "delete %s: %d %s", id, rc, zippy_errmsg());
                break;
            }
        }
        atomic_store(&s->progress[t], i);
        if (i % 700 == 699 && (rc = zippy_coll_flush(c))) {
            t_fail(s, t, "flush: %d %s", rc, zippy_errmsg());
            break;
        }
    }
    if (r && close_coll(r, c)) t_fail(s, t, "writer %d: close: %s", t, zippy_errmsg());
    atomic_fetch_add(&s->writers_done, 1);
    return NULL;
}

static uint64_t rnd_next(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Checks a row/get result for id t<t>_<i>: the doc must be one of the
 * versions that writer wrote. */
static int doc_ok(const char *doc, size_t len, int t, int i) {
    char a[96], b[96];
    snprintf(a, sizeof a, "{\"t\":%d,\"i\":%d,\"v\":0}", t, i);
    snprintf(b, sizeof b, "{\"t\":%d,\"i\":%d,\"v\":1}", t, i);
    return (len == strlen(a) && !memcmp(doc, a, len)) || (len == strlen(b) && !memcmp(doc, b, len));
}

static int parse_id(const char *id, size_t len, int *t, int *i) {
    if (len != 8 || id[0] != 't' || id[2] != '_') return 0;
    *t = id[1] - '0';
    *i = atoi((char[6]){id[3], id[4], id[5], id[6], id[7], 0});
    return *t >= 0 && *t < NW;
}

static void *getter(void *arg) {
    targ *a = arg;
    shared *s = a->s;
    int me = a->t;
    zippy_root *r = NULL;
    zippy_coll *c = s->coll;
    if (!c && OPEN_RO(s->dir, &r, &c)) {
        t_fail(s, me, "reader: open: %s", zippy_errmsg());
        return NULL;
    }
    zippy_buf b = ZIPPY_BUF_INIT;
    uint64_t x = 0x1234567ull + (uint64_t)me;
    while (atomic_load(&s->writers_done) < NW) {
        int t = (int)(rnd_next(&x) % NW);
        int p = atomic_load(&s->progress[t]);
        if (p < 0) continue;
        int i = (int)(rnd_next(&x) % (uint64_t)(p + 1));
        char id[32];
        snprintf(id, sizeof id, "t%d_%05d", t, i);
        int rc = zippy_get(c, id, strlen(id), 0, &b);
        atomic_fetch_add(&s->reads, 1);
        if (rc == ZIPPY_OK) {
            if (!doc_ok(b.ptr, b.len, t, i)) { t_fail(s, me, "get %s: %s", id, b.ptr); break; }
        } else if (rc == ZIPPY_ENOTFOUND) {
            /* only ids the writer deletes may be missing */
            if ((i + 3) % 17 != 0 || i + 3 >= s->per) {
                t_fail(s, me, "get %s: not found though put before (progress %d)", id, p);
                break;
            }
        } else {
            t_fail(s, me, "get %s: %d %s", id, rc, zippy_errmsg());
            break;
        }
        if (zippy_exists(c, id, strlen(id)) < 0) { t_fail(s, me, "exists %s: %s", id, zippy_errmsg()); break; }
    }
    zippy_buf_free(&b);
    if (r) close_coll(r, c);
    return NULL;
}

static void *scanner(void *arg) {
    targ *a = arg;
    shared *s = a->s;
    int me = a->t;
    zippy_root *r = NULL;
    zippy_coll *c = s->coll;
    if (!c && OPEN_RO(s->dir, &r, &c)) {
        t_fail(s, me, "scanner: open: %s", zippy_errmsg());
        return NULL;
    }
    unsigned char *seen = malloc((size_t)NW * MAXPER);
    int k = 0;
    while (atomic_load(&s->writers_done) < NW) {
        memset(seen, 0, (size_t)NW * MAXPER);
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        if (k % 3 == 1) so.filter = "{\"v\":1}";
        if (k % 3 == 2) so.fields = "i,t";
        k++;
        zippy_scan *sc;
        int rc = zippy_scan_open(&sc, c, &so);
        if (rc) { t_fail(s, me, "scan_open: %s", zippy_errmsg()); break; }
        const char *id, *doc;
        size_t idlen, doclen;
        int rows = 0;
        while ((rc = zippy_scan_next(sc, &id, &idlen, &doc, &doclen)) == 1) {
            int t, i;
            if (!parse_id(id, idlen, &t, &i) || i >= MAXPER) { t_fail(s, me, "scan: id %.*s", (int)idlen, id); rc = -99; break; }
            if (seen[t * MAXPER + i]++) { t_fail(s, me, "scan: %.*s twice", (int)idlen, id); rc = -99; break; }
            int ok = so.fields ? doclen > 0 && doc[0] == '{' : doc_ok(doc, doclen, t, i);
            if (ok && so.filter) ok = doclen > 4 && !memcmp(doc + doclen - 6, "\"v\":1}", 6);
            if (!ok) { t_fail(s, me, "scan: %.*s = %.*s", (int)idlen, id, (int)doclen, doc); rc = -99; break; }
            rows++;
        }
        zippy_scan_close(sc);
        if (rc < 0 && rc != -99) t_fail(s, me, "scan_next: %d %s", rc, zippy_errmsg());
        if (rc < 0) break;
        atomic_fetch_add(&s->scans, 1);
        atomic_fetch_add(&s->scan_rows, rows);
        /* ids through the same path */
        char **ids;
        size_t n;
        if ((rc = zippy_ids(c, &ids, &n))) { t_fail(s, me, "ids: %s", zippy_errmsg()); break; }
        for (size_t j = 1; j < n; j++)
            if (strcmp(ids[j - 1], ids[j]) >= 0) { t_fail(s, me, "ids not sorted/unique at %zu: %s", j, ids[j]); break; }
        zippy_strv_free(ids);
        zippy_stats st;
        if (zippy_coll_stats(c, &st)) { t_fail(s, me, "stats: %s", zippy_errmsg()); break; }
    }
    free(seen);
    if (r) close_coll(r, c);
    return NULL;
}

/* The collection holds exactly what the writers left. */
static const char *check_final(zippy_coll *c, int per) {
    zippy_buf b = ZIPPY_BUF_INIT;
    uint64_t live = 0;
    const char *why = NULL;
    for (int t = 0; t < NW && !why; t++) {
        for (int i = 0; i < per && !why; i++) {
            char id[32];
            snprintf(id, sizeof id, "t%d_%05d", t, i);
            int rc = zippy_get(c, id, strlen(id), 0, &b);
            /* deleted at step i+3, re-put by the update at step i+5 */
            int del = (i + 3) % 17 == 0 && i + 3 < per && !w_version(i, per);
            if (del) {
                if (rc != ZIPPY_ENOTFOUND) why = WHY("%s: %d, expected deleted", id, rc);
                continue;
            }
            live++;
            char want[96];
            snprintf(want, sizeof want, "{\"t\":%d,\"i\":%d,\"v\":%d}", t, i, w_version(i, per));
            if (rc || strcmp(b.ptr, want)) why = WHY("%s: %d %s, expected %s", id, rc, rc ? zippy_errmsg() : b.ptr, want);
        }
    }
    zippy_buf_free(&b);
    if (why) return why;
    if (count_of(c) != live)
        return WHY("count %llu, expected %llu", (unsigned long long)count_of(c), (unsigned long long)live);
    zippy_verify_report vr;
    if (zippy_coll_verify(c, &vr)) return WHY("verify: %s", zippy_errmsg());
    if (vr.live != live) return WHY("verify live %llu", (unsigned long long)vr.live);
    return NULL;
}

static const char *run_threads(int shared_handle) {
    const char *dir = tmpdir();
    static shared s;
    memset(&s, 0, sizeof s);
    s.dir = dir;
    s.per = quick() ? 1000 : 3000;
    for (int t = 0; t < NW; t++) atomic_store(&s.progress[t], -1);
    zippy_root *r = NULL;
    zippy_coll *c = NULL;
    if (OPEN_RW(dir, &r, &c)) return WHY("open: %s", zippy_errmsg());
    if (shared_handle) s.coll = c;
    pthread_t th[NW + 3];
    targ args[NW + 3];
    for (int t = 0; t < NW + 3; t++) {
        args[t].s = &s;
        args[t].t = t;
        void *(*fn)(void *) = t < NW ? writer : t < NW + 2 ? getter : scanner;
        if (pthread_create(&th[t], NULL, fn, &args[t])) return "pthread_create";
    }
    for (int t = 0; t < NW + 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < NW + 3; t++)
        if (s.err[t][0]) {
            close_coll(r, c);
            return WHY("thread %d: %s", t, s.err[t]);
        }
    const char *why = check_final(c, s.per);
    if (why) { close_coll(r, c); return why; }
    if (close_coll(r, c)) return WHY("close: %s", zippy_errmsg());
    if (OPEN_RO(dir, &r, &c)) return WHY("reopen: %s", zippy_errmsg());
    why = check_final(c, s.per);
    close_coll(r, c);
    if (why) return why;
    if (atomic_load(&s.reads) == 0 || atomic_load(&s.scans) == 0) return WHY("readers did not run (%d reads, %d scans)",
                                                                             atomic_load(&s.reads), atomic_load(&s.scans));
    return NULL;
}

TEST(test_threads_one_handle) { CHECK_OK(run_threads(1)); }
TEST(test_threads_separate_handles) { CHECK_OK(run_threads(0)); }

/* ------------------------------------------------------------------ */
/* Several handles in one process                                      */
/* ------------------------------------------------------------------ */

TEST(test_two_handles_one_process) {
    const char *dir = tmpdir();
    zippy_root *r1, *r2, *r3;
    zippy_coll *h1, *h2, *h3;
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK_EQ(OPEN_RW(dir, &r1, &h1), 0);
    CHECKF(OPEN_RW(dir, &r2, &h2) == 0, "second writable open in one process: %s", zippy_errmsg());
    CHECK_EQ(zippy_coll_writable(h1), 1);
    CHECK_EQ(zippy_coll_writable(h2), 1);
    CHECK_EQ(OPEN_RO(dir, &r3, &h3), 0);
    CHECK_EQ(zippy_coll_writable(h3), 0);
    CHECK_EQ(zippy_put(h1, "a", 1, "{\"v\":1}", 7), 0);
    CHECK_EQ(zippy_get(h2, "a", 1, 0, &b), 0);
    CHECK_MEM(b.ptr, b.len, "{\"v\":1}");
    CHECK_EQ(zippy_get(h3, "a", 1, 0, &b), 0);
    CHECK_MEM(b.ptr, b.len, "{\"v\":1}");
    CHECK_EQ(zippy_put(h2, "a", 1, "{\"v\":2}", 7), 0);
    CHECK_EQ(zippy_get(h1, "a", 1, 0, &b), 0);
    CHECK_MEM(b.ptr, b.len, "{\"v\":2}");
    CHECK_EQ(zippy_delete(h2, "a", 1), 0);
    CHECK_EQ(zippy_get(h1, "a", 1, 0, &b), ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_exists(h3, "a", 1), 0);
    CHECK_EQ(zippy_put(h3, "x", 1, "{}", 2), ZIPPY_EREADONLY);
    CHECK_EQ(zippy_put(h1, "b", 1, "{}", 2), 0);
    CHECK_EQ(count_of(h2), 1);
    CHECK_EQ(count_of(h3), 1);
    /* closing one handle leaves the others working */
    CHECK_EQ(close_coll(r1, h1), 0);
    CHECK_EQ(zippy_put(h2, "c", 1, "{\"v\":3}", 7), 0);
    CHECK_EQ(zippy_get(h3, "c", 1, 0, &b), 0);
    CHECK_MEM(b.ptr, b.len, "{\"v\":3}");
    CHECK_EQ(zippy_coll_flush(h2), 0);
    CHECK_EQ(close_coll(r2, h2), 0);
    CHECK_EQ(zippy_get(h3, "c", 1, 0, &b), 0);
    close_coll(r3, h3);
    /* read-only first, then writable in the same process */
    CHECK_EQ(OPEN_RO(dir, &r3, &h3), 0);
    CHECK_EQ(count_of(h3), 2);
    CHECKF(OPEN_RW(dir, &r1, &h1) == 0, "writable open after a read-only one: %s", zippy_errmsg());
    CHECK_EQ(zippy_put(h1, "d", 1, "{\"v\":4}", 7), 0);
    CHECK_EQ(zippy_get(h3, "d", 1, 0, &b), 0);
    CHECK_MEM(b.ptr, b.len, "{\"v\":4}");
    CHECK_EQ(zippy_put(h3, "e", 1, "{}", 2), ZIPPY_EREADONLY);
    CHECK_EQ(zippy_coll_writable(h3), 0);
    CHECK_EQ(count_of(h3), 3);
    CHECK_EQ(close_coll(r1, h1), 0);
    close_coll(r3, h3);
    CHECK_EQ(OPEN_RO(dir, &r3, &h3), 0);
    CHECK_EQ(count_of(h3), 3);
    CHECK_EQ(zippy_get(h3, "d", 1, 0, &b), 0);
    close_coll(r3, h3);
    zippy_buf_free(&b);
}

/* Threads that open and close their own writable handles over and over:
 * the last close of one thread racing the open of another must not make
 * the process lock itself out. */
typedef struct oc_arg {
    const char *dir;
    int t, iters;
    char err[512];
} oc_arg;

static void *open_close_loop(void *arg) {
    oc_arg *a = arg;
    for (int i = 0; i < a->iters; i++) {
        zippy_root *r;
        zippy_coll *c;
        int rc = OPEN_RW(a->dir, &r, &c);
        if (rc) {
            snprintf(a->err, sizeof a->err, "thread %d, iteration %d: open: %d %s", a->t, i, rc, zippy_errmsg());
            return NULL;
        }
        char id[32];
        snprintf(id, sizeof id, "t%d_%d", a->t, i);
        rc = zippy_put(c, id, strlen(id), "{}", 2);
        if (rc) snprintf(a->err, sizeof a->err, "thread %d: put: %s", a->t, zippy_errmsg());
        if (close_coll(r, c) && !a->err[0]) snprintf(a->err, sizeof a->err, "thread %d: close: %s", a->t, zippy_errmsg());
        if (a->err[0]) return NULL;
    }
    return NULL;
}

TEST(test_open_close_race) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, &r, &c), 0);
    CHECK_EQ(close_coll(r, c), 0);
    enum { NT = 2 };
    oc_arg a[NT];
    pthread_t th[NT];
    int iters = quick() ? 40 : 100;
    for (int t = 0; t < NT; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].dir = dir;
        a[t].t = t;
        a[t].iters = iters;
        CHECK_EQ(pthread_create(&th[t], NULL, open_close_loop, &a[t]), 0);
    }
    for (int t = 0; t < NT; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < NT; t++) CHECKF(!a[t].err[0], "%s", a[t].err);
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    uint64_t n = count_of(c);
    close_coll(r, c);
    CHECK_EQ(n, NT * iters);
}

/* Threads that wrote and exited leave no memory behind: per-thread
 * buffers must be released when a thread ends (a server with a thread per
 * request would otherwise grow without bound). */
static atomic_long g_live;
static void *cnt_malloc(size_t n) {
    void *p = malloc(n);
    if (p) atomic_fetch_add(&g_live, 1);
    return p;
}
static void *cnt_realloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (q && !p) atomic_fetch_add(&g_live, 1);
    return q;
}
static void cnt_free(void *p) {
    if (p) atomic_fetch_sub(&g_live, 1);
    free(p);
}

typedef struct one_put_arg {
    zippy_coll *c;
    int t, rc;
} one_put_arg;

static void *one_put(void *arg) {
    one_put_arg *a = arg;
    char id[32];
    snprintf(id, sizeof id, "thr%03d", a->t);
    a->rc = zippy_put(a->c, id, strlen(id), "{\"x\":1}", 7);
    uint64_t w = 0;
    char line[64];
    snprintf(line, sizeof line, "{\"_id\":\"jl%03d\"}\n", a->t);
    if (!a->rc) a->rc = zippy_put_jsonl(a->c, line, strlen(line), NULL, NULL, 0, &w);
    return NULL;
}

TEST(test_exited_threads_leave_no_memory) {
    const char *dir = tmpdir();
    static const zippy_allocator cnt = {cnt_malloc, cnt_realloc, cnt_free};
    zippy_set_allocator(&cnt);
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RW(dir, &r, &c);
    if (rc) zippy_set_allocator(NULL);
    CHECK_EQ(rc, 0);
    /* warm up the engine (overlay tables) and this thread's buffers */
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "main%02d", i);
        zippy_put(c, id, strlen(id), "{\"x\":1}", 7);
    }
    zippy_put_jsonl(c, "{\"_id\":\"jmain\"}\n", 16, NULL, NULL, 0, NULL);
    long base = atomic_load(&g_live);
    enum { NTH = 16 };
    one_put_arg a[NTH];
    for (int t = 0; t < NTH; t++) {
        pthread_t th;
        a[t].c = c;
        a[t].t = t;
        a[t].rc = -1;
        if (pthread_create(&th, NULL, one_put, &a[t]) == 0) pthread_join(th, NULL);
    }
    long after = atomic_load(&g_live);
    uint64_t n = count_of(c);
    close_coll(r, c);
    zippy_set_allocator(NULL);
    for (int t = 0; t < NTH; t++) CHECK_EQ(a[t].rc, 0);
    CHECK_EQ(n, 21 + 2 * NTH);
    CHECKF(after == base, "%ld blocks still allocated after %d threads that each did one put and one put_jsonl "
           "exited (thread-local buffers never freed?)", after - base, NTH);
}

/* ------------------------------------------------------------------ */
/* Across processes                                                    */
/* ------------------------------------------------------------------ */

typedef struct xp_arg {
    const char *dir;
    int in, out; /* commands from the parent, replies to it */
    int n1, n2;
} xp_arg;

static int say(int fd, char c) { return write(fd, &c, 1) == 1 ? 0 : -1; }
static char hear(int fd) {
    char c = 0;
    return read(fd, &c, 1) == 1 ? c : 0;
}

static int put_n(zippy_coll *c, int from, int to) {
    for (int i = from; i < to; i++) {
        char id[32], doc[64];
        snprintf(id, sizeof id, "p%05d", i);
        snprintf(doc, sizeof doc, "{\"i\":%d}", i);
        if (zippy_put(c, id, strlen(id), doc, strlen(doc))) return -1;
    }
    return 0;
}

/* Child: the writer. 'r' when it holds the lock with n1 documents flushed
 * and n2 more written but not flushed; then obeys f(lush) c(ompact)
 * q(uit). */
static int child_writer(void *arg) {
    xp_arg *a = arg;
    zippy_root *r;
    zippy_coll *c;
    if (OPEN_RW(a->dir, &r, &c)) return say(a->out, 'e'), 10;
    if (put_n(c, 0, a->n1) || zippy_coll_flush(c)) return 11;
    if (put_n(c, a->n1, a->n1 + a->n2)) return 12;
    if (say(a->out, 'r')) return 13;
    for (;;) {
        char cmd = hear(a->in);
        if (cmd == 'f') {
            if (zippy_coll_flush(c)) return 14;
            say(a->out, 'F');
        } else if (cmd == 'c') {
            if (zippy_delete(c, "p00000", 6) || zippy_coll_compact(c)) return 15;
            say(a->out, 'C');
        } else if (cmd == 'q') {
            return close_coll(r, c) ? 16 : 0;
        } else {
            return 17;
        }
    }
}

/* Every document the reader sees is whole, and p<from>.. p<max-1> seen
 * form a prefix. */
static const char *check_prefix(zippy_coll *c, int from, int max, int *seen_out) {
    zippy_buf b = ZIPPY_BUF_INIT;
    int seen = 0, gap = -1;
    const char *why = NULL;
    for (int i = from; i < max && !why; i++) {
        char id[32], doc[64];
        snprintf(id, sizeof id, "p%05d", i);
        snprintf(doc, sizeof doc, "{\"i\":%d}", i);
        int rc = zippy_get(c, id, strlen(id), 0, &b);
        if (rc == ZIPPY_ENOTFOUND) { if (gap < 0) gap = i; continue; }
        if (rc) why = WHY("get %s: %d %s", id, rc, zippy_errmsg());
        else if (strcmp(b.ptr, doc)) why = WHY("get %s: %s", id, b.ptr);
        else if (gap >= 0) why = WHY("%s visible but p%05d is not", id, gap);
        seen++;
    }
    zippy_buf_free(&b);
    if (!why && count_of(c) != (uint64_t)seen) why = WHY("count %llu, %d visible", (unsigned long long)count_of(c), seen);
    *seen_out = seen;
    return why;
}

TEST(test_cross_process_lock_and_refresh) {
    const char *dir = tmpdir();
    int p2c[2], c2p[2];
    CHECK_EQ(pipe(p2c), 0);
    CHECK_EQ(pipe(c2p), 0);
    xp_arg a = {dir, p2c[0], c2p[1], 600, 300};
    pid_t pid = fork_child(child_writer, &a);
    CHECK(pid > 0);
    char ch = hear(c2p[0]);
    CHECKF(ch == 'r', "child said %c", ch);
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/collections/c/meta/lock", dir);
    /* writable open: refused, naming the child's pid */
    zippy_root *r;
    zippy_coll *c;
    int rc = OPEN_RW(dir, &r, &c);
    char msg[1024], want[64];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    snprintf(want, sizeof want, "locked by pid %d", (int)pid);
    const char *why = NULL;
    int seen = 0;
    if (rc != ZIPPY_ELOCKED) why = WHY("writable open while the child writes: %d (%s)", rc, msg);
    else if (!strstr(msg, want)) why = WHY("message \"%s\" lacks \"%s\"", msg, want);
    if (rc == 0) close_coll(r, c);
    /* read-only: works, a consistent prefix */
    zippy_root *rr = NULL;
    zippy_coll *rc_ = NULL;
    if (!why && OPEN_RO(dir, &rr, &rc_)) why = WHY("read-only open: %s", zippy_errmsg());
    if (!why) why = check_prefix(rc_, 0, 900, &seen);
    if (!why && seen < 600) why = WHY("only %d of the 600 flushed documents visible", seen);
    zippy_verify_report vr;
    if (!why && zippy_coll_verify(rc_, &vr)) why = WHY("verify: %s", zippy_errmsg());
    /* after the child's flush, refresh shows everything */
    if (!why && (say(p2c[1], 'f') || hear(c2p[0]) != 'F')) why = "child flush";
    if (!why && (rc = zippy_coll_refresh(rc_))) why = WHY("refresh: %s", zippy_errmsg());
    if (!why) why = check_prefix(rc_, 0, 900, &seen);
    if (!why && seen != 900) why = WHY("%d visible after refresh, expected 900", seen);
    /* a compaction by the writer: refresh reloads; a scan opened before
     * it reports EBUSY or goes on correctly, never garbage */
    zippy_scan *sc = NULL;
    if (!why && zippy_scan_open(&sc, rc_, NULL)) why = WHY("scan_open: %s", zippy_errmsg());
    const char *id, *doc;
    size_t idlen, doclen;
    if (!why && zippy_scan_next(sc, &id, &idlen, &doc, &doclen) != 1) why = "scan_next";
    if (!why && (say(p2c[1], 'c') || hear(c2p[0]) != 'C')) why = "child compact";
    if (!why && (rc = zippy_coll_refresh(rc_))) why = WHY("refresh after compact: %s", zippy_errmsg());
    if (!why) {
        int k;
        while ((k = zippy_scan_next(sc, &id, &idlen, &doc, &doclen)) == 1) {
            int i = atoi(id + 1);
            char d[64];
            snprintf(d, sizeof d, "{\"i\":%d}", i);
            if (idlen != 6 || doclen != strlen(d) || memcmp(doc, d, doclen)) {
                why = WHY("scan across a compaction: %.*s = %.*s", (int)idlen, id, (int)doclen, doc);
                break;
            }
        }
        if (!why && k < 0 && k != ZIPPY_EBUSY) why = WHY("scan across a compaction: %d %s", k, zippy_errmsg());
    }
    zippy_scan_close(sc);
    if (!why) {
        why = check_prefix(rc_, 1, 900, &seen); /* p00000 was deleted */
        if (!why && seen != 899) why = WHY("%d visible after compaction, expected 899", seen);
    }
    if (rc_) close_coll(rr, rc_);
    say(p2c[1], 'q');
    int st = wait_child(pid);
    close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
    CHECK_OK(why);
    CHECK_EQ(st, 0);
    /* the child is gone: the parent may write; the lock file stays */
    struct stat sb;
    CHECK_EQ(stat(lock, &sb), 0);
    CHECKF(OPEN_RW(dir, &r, &c) == 0, "writable open after the child exited: %s", zippy_errmsg());
    CHECK_EQ(count_of(c), 899);
    CHECK_EQ(zippy_put(c, "parent", 6, "{}", 2), 0);
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(stat(lock, &sb), 0);
}

/* A reader refreshing in a loop while another process writes and
 * flushes: never an error, the count never goes down, everything seen is
 * whole. */
typedef struct stream_arg {
    const char *dir;
    int out, n;
} stream_arg;

static int child_stream(void *arg) {
    stream_arg *a = arg;
    zippy_root *r;
    zippy_coll *c;
    if (OPEN_RW(a->dir, &r, &c)) return 10;
    say(a->out, 'r');
    for (int i = 0; i < a->n; i += 50) {
        if (put_n(c, i, i + 50)) return 11;
        if (zippy_coll_flush(c)) return 12;
    }
    return close_coll(r, c) ? 13 : 0;
}

TEST(test_cross_process_refresh_while_writing) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(OPEN_RW(dir, &r, &c), 0);
    CHECK_EQ(close_coll(r, c), 0);
    int c2p[2];
    CHECK_EQ(pipe(c2p), 0);
    int n = quick() ? 1500 : 4000;
    stream_arg a = {dir, c2p[1], n};
    pid_t pid = fork_child(child_stream, &a);
    CHECK(pid > 0);
    CHECK_EQ(hear(c2p[0]), 'r');
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    const char *why = NULL;
    uint64_t last = 0;
    int rounds = 0;
    zippy_buf b = ZIPPY_BUF_INIT;
    for (;;) {
        int done = waitpid(pid, NULL, WNOHANG) == pid;
        int rc = zippy_coll_refresh(c);
        if (rc) { why = WHY("refresh: %d %s", rc, zippy_errmsg()); break; }
        uint64_t cnt = count_of(c);
        if (cnt < last) { why = WHY("count went from %llu to %llu", (unsigned long long)last, (unsigned long long)cnt); break; }
        last = cnt;
        if (cnt > 0) {
            char id[32], doc[64];
            int i = (int)(cnt - 1);
            snprintf(id, sizeof id, "p%05d", i);
            snprintf(doc, sizeof doc, "{\"i\":%d}", i);
            rc = zippy_get(c, id, strlen(id), 0, &b);
            if (rc || strcmp(b.ptr, doc)) { why = WHY("get %s: %d", id, rc); break; }
        }
        rounds++;
        if (done) break;
    }
    zippy_buf_free(&b);
    if (!why) {
        int rc = zippy_coll_refresh(c);
        if (rc || count_of(c) != (uint64_t)n) why = WHY("final: %d, count %llu", rc, (unsigned long long)count_of(c));
    }
    close_coll(r, c);
    close(c2p[0]);
    close(c2p[1]);
    CHECK_OK(why);
    CHECK(rounds > 0);
}

/* ------------------------------------------------------------------ */
/* Group commit                                                        */
/* ------------------------------------------------------------------ */

typedef struct gc_arg {
    zippy_coll *c;
    int t, n;
    char err[256];
} gc_arg;

static void *gc_writer(void *arg) {
    gc_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        char id[32], doc[64];
        snprintf(id, sizeof id, "g%d_%04d", a->t, i);
        snprintf(doc, sizeof doc, "{\"t\":%d,\"i\":%d}", a->t, i);
        int rc = zippy_put(a->c, id, strlen(id), doc, strlen(doc));
        if (rc) { snprintf(a->err, sizeof a->err, "put %s: %s", id, zippy_errmsg()); return NULL; }
    }
    return NULL;
}

TEST(test_sync_always_group_commit) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_coll(dir, "c", ZIPPY_OPEN_CREATE, ZIPPY_SYNC_ALWAYS, &r, &c), 0);
    int n = quick() ? 60 : 200;
    gc_arg a[NW];
    pthread_t th[NW];
    for (int t = 0; t < NW; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].c = c;
        a[t].t = t;
        a[t].n = n;
        CHECK_EQ(pthread_create(&th[t], NULL, gc_writer, &a[t]), 0);
    }
    for (int t = 0; t < NW; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < NW; t++) CHECKF(!a[t].err[0], "%s", a[t].err);
    /* durable on return: every line is in the file before any close */
    char path[4096];
    snprintf(path, sizeof path, "%s/collections/c/meta/data.jsonl", dir);
    size_t len;
    char *log = t_read_file(path, &len);
    CHECK(log);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += log[i] == '\n';
    int all = 1;
    for (int t = 0; t < NW && all; t++)
        for (int i = 0; i < n && all; i++) {
            char line[96];
            snprintf(line, sizeof line, "{\"_id\":\"g%d_%04d\",\"t\":%d,\"i\":%d}\n", t, i, t, i);
            all = strstr(log, line) != NULL;
        }
    free(log);
    CHECK_EQ(lines, NW * n);
    CHECK(all);
    CHECK_EQ(count_of(c), (uint64_t)(NW * n));
    CHECK_EQ(close_coll(r, c), 0);
    CHECK_EQ(OPEN_RO(dir, &r, &c), 0);
    CHECK_EQ(count_of(c), (uint64_t)(NW * n));
    zippy_verify_report vr;
    CHECK_EQ(zippy_coll_verify(c, &vr), 0);
    close_coll(r, c);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(test_threads_one_handle);
    RUN_SEL(test_threads_separate_handles);
    RUN_SEL(test_two_handles_one_process);
    RUN_SEL(test_open_close_race);
    RUN_SEL(test_exited_threads_leave_no_memory);
    RUN_SEL(test_cross_process_lock_and_refresh);
    RUN_SEL(test_cross_process_refresh_while_writing);
    RUN_SEL(test_sync_always_group_commit);
    for (int i = 0; i < g_ndirs; i++) {
        if (!getenv("ZIPPY_KEEP")) t_rm_rf(g_dirs[i]); /* ZIPPY_KEEP=1 keeps them */
        free(g_dirs[i]);
    }
    TEST_END();
}
