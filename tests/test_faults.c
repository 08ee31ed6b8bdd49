/* test_faults.c - fault injection through the platform layer (src/os.h).
 *
 * For each kind of system call (open, write, read, fsync, rename, unlink,
 * mkdir, truncate, mmap) and n = 1, 2, ... the nth call fails (EIO or
 * ENOSPC; or a write is short) during a fixed sequence of operations on a
 * store with existing data: puts that overflow the 1 MiB append buffer,
 * flush, more puts, deletes, a put_jsonl batch, flush, compact, puts,
 * reindex, puts, close. The loop over n ends when the sequence completes
 * without reaching the nth call.
 *
 * Every scenario runs in a forked process (a crash is reported, not fatal)
 * on a fresh copy of a template store, and checks:
 *  - each failed call returns ZIPPY_ENOSPC for ENOSPC and ZIPPY_EIO for EIO,
 *    with zippy_errmsg() naming a file of the store;
 *  - after a failure the handle still shows exactly the documents of every
 *    successful write (a failed call changes nothing, loses nothing); only
 *    a failed compact or reindex may instead leave the handle refusing
 *    every call with ZIPPY_EIO until it is closed (fail-stop);
 *  - once the fault is cleared, a retried flush on the same handle succeeds
 *    (policy RETRY: the writes a failed put or flush kept in the buffer are
 *    then durable) and nothing fails afterwards;
 *  - short writes are invisible (no call fails, data exact);
 *  - after clearing the faults the store reopens read-only and writable
 *    without repair, zippy_coll_verify passes, every write acknowledged by
 *    a successful flush or close is present byte for byte, other documents
 *    are in an acknowledged or a later written state (never garbled), count
 *    and scan agree, the store takes new writes, and the temporary files
 *    (index.bin.tmp, manifest.json.tmp, data.jsonl.compact, zds.json.tmp)
 *    are gone after the writable reopen.
 * The same matrix runs on a store whose log is still empty (its first
 * write maps the file), and a shorter sequence (flushed writes, a failing
 * compaction, acknowledged writes, close) checks each step of compaction
 * with no reindex to hide its effects. Sticky faults (ZOS_FAULT_STICKY:
 * every call from the nth on fails, as on a full disk) run the sequence
 * with the fault left on until the end (policy PERSIST), plus a 3 MB
 * put_jsonl import into a full disk that is freed (retried flush) or not
 * (close fails). Temp files as a crash leaves them must go at a writable
 * reopen. Stores live in /dev/shm: the faults are simulated, so the file
 * system's durability plays no part, and fsync there costs nothing.
 *
 * ZIPPY_QUICK=1 samples n instead of trying every value and runs fewer
 * cells; ZIPPY_FAULTS_KEEP=1 keeps the last store after a failure;
 * ZIPPY_FAULTS_VERBOSE=1 prints every scenario with a problem.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "os.h"
#include "zippy.h"

#define POOL 4000  /* ids x0000 .. x3999 */
#define NBASE 300  /* x0000 .. x0299 exist in the template */
#define SEQ_IDS 600 /* the main sequence touches x0000 .. x0599 */
#define COLL "f"
#define ABSENT (-1)
#define GARBLED (-2)

static char *g_base, *g_tmpl, *g_tmpl_empty, *g_dir; /* templates (NBASE documents, none), scenario store */
static int g_quick, g_verbose;

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int idstr(char *b, unsigned id) { return sprintf(b, "x%04u", id); }

/* Size classes, in the low 2 bits of a version. */
enum { C_SMALL, C_MEDIUM, C_BIG, C_KB };

static char g_doc[64 << 10];
#define NOISE (1u << 17)
static char g_noise[NOISE]; /* deterministic filler, made once by main */

static void init_noise(void) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (uint32_t i = 0; i < NOISE; i++) g_noise[i] = al[mix64(i ^ 0xF00D) % 62];
}

/* The document of (id, version v): a pure function, compact JSON as zippy
 * returns it, so reads can be compared byte for byte. */
static size_t make_doc(char *buf, unsigned id, int64_t v) {
    uint64_t h = mix64((uint64_t)v * 0x100000001B3ull ^ id);
    size_t pad;
    switch (v & 3) {
    case C_SMALL: pad = 10 + h % 200; break;
    case C_MEDIUM: pad = 6000 + h % 4000; break;
    case C_BIG: pad = 28000 + h % 8000; break;
    default: pad = 800 + h % 400; break;
    }
    int n = sprintf(buf, "{\"v\":%lld,\"i\":\"x%04u\",\"n\":[%u,{\"q\":null},false],\"p\":\"", (long long)v, id,
                    (unsigned)(h & 0xfff));
    memcpy(buf + n, g_noise + (h >> 16) % (NOISE - pad), pad);
    memcpy(buf + n + pad, "\"}", 3);
    return (size_t)n + pad + 2;
}

/* Version of a document read back, or GARBLED. */
static int64_t decode_doc(const char *doc, size_t len, unsigned id) {
    long long v;
    unsigned i;
    if (sscanf(doc, "{\"v\":%lld,\"i\":\"x%u\"", &v, &i) != 2 || i != id) return GARBLED;
    size_t n = make_doc(g_doc, id, v);
    if (n != len || memcmp(g_doc, doc, n)) return GARBLED;
    return v;
}

static void vstr(char *b, size_t cap, int64_t v) {
    if (v == ABSENT) snprintf(b, cap, "absent");
    else if (v == GARBLED) snprintf(b, cap, "garbled");
    else snprintf(b, cap, "version %lld", (long long)v);
}

/* ------------------------------------------------------------------ */
/* Files (plain libc: never counted by the fault layer)                */
/* ------------------------------------------------------------------ */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)flag; (void)f;
    return remove(p);
}
static void rm_tree(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int copy_tree(const char *from, const char *to) {
    struct stat st;
    if (lstat(from, &st)) return -1;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(to, 0755) && errno != EEXIST) return -1;
        DIR *d = opendir(from);
        if (!d) return -1;
        struct dirent *e;
        int rc = 0;
        while (!rc && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char a[4096], b[4096];
            snprintf(a, sizeof a, "%s/%s", from, e->d_name);
            snprintf(b, sizeof b, "%s/%s", to, e->d_name);
            rc = copy_tree(a, b);
        }
        closedir(d);
        return rc;
    }
    size_t n = 0;
    char *data = t_read_file(from, &n);
    if (!data) return -1;
    int rc = t_write_file(to, data, n);
    free(data);
    return rc;
}

static const char *const temp_names[] = {"collections/" COLL "/meta/index.bin.tmp",
                                         "collections/" COLL "/meta/manifest.json.tmp",
                                         "collections/" COLL "/meta/data.jsonl.compact", "zds.json.tmp"};
#define NTEMP (sizeof temp_names / sizeof *temp_names)

/* Bit i set if temp_names[i] exists in dir. */
static unsigned temp_files(const char *dir) {
    unsigned m = 0;
    for (size_t i = 0; i < NTEMP; i++) {
        char p[4600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, temp_names[i]);
        if (stat(p, &st) == 0) m |= 1u << i;
    }
    return m;
}

static void temp_list(unsigned m, char *out, size_t cap) {
    out[0] = 0;
    for (size_t i = 0; i < NTEMP; i++)
        if (m & (1u << i)) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? ", " : "", strrchr(temp_names[i], '/') ? strrchr(temp_names[i], '/') + 1 : temp_names[i]);
        }
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */
/* ------------------------------------------------------------------ */

enum { POL_RETRY, POL_PERSIST, POL_NONE };
enum { SEQ_MAIN, SEQ_IMPORT, SEQ_BUFFER, SEQ_FLUSH, SEQ_COMPACT };

typedef struct result {
    int fired;          /* the nth call happened */
    int nfail;          /* calls that returned an error */
    int nproblems;
    int took_effect;    /* failed writes visible afterwards (allowed) */
    int dead;           /* handles left unusable by a failed compact/reindex */
    int lost, garbled, bad_reopens; /* found by the reopens */
    unsigned left_before, left_after; /* temp files (bit sets) */
    char first_call[400];
    char problem[1200];
    char reopen_problem[600]; /* first problem found by the reopens */
} result;

typedef struct pend {
    uint16_t id;
    int64_t v;
} pend;

typedef struct scen {
    zos_op op;
    int err;
    unsigned flags;
    unsigned long nth;
    int policy, seq, empty;
    unsigned nids; /* ids the sequence can touch: x0000 .. nids-1 */
    zippy_root *root;
    zippy_coll *c;
    int cleared;
    int dead; /* the handle refuses every call (fail-stop) */
    int64_t *cur, *acked; /* the handle's state; the durable state */
    pend *pend;           /* writes since the last acknowledgement */
    size_t npend, cappend;
    int64_t next_v;
    uint64_t rng;
    result res;
} scen;

static void problem(scen *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(scen *S, const char *fmt, ...) {
    if (S->res.nproblems++) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->res.problem, sizeof S->res.problem, fmt, ap);
    va_end(ap);
}

/* A problem found after reopening: also kept apart, so that a report
 * shows what an earlier problem led to. */
static void reopen_problem(scen *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reopen_problem(scen *S, const char *fmt, ...) {
    char b[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (!S->res.reopen_problem[0]) snprintf(S->res.reopen_problem, sizeof S->res.reopen_problem, "%s", b);
    problem(S, "%s", b);
}

static unsigned rnd(scen *S, unsigned n) { return (unsigned)(mix64(S->rng++) % n); }

static int64_t new_version(scen *S, int cls) { return (S->next_v++ << 2) | cls; }

static void pend_add(scen *S, unsigned id, int64_t v) {
    if (S->npend == S->cappend) {
        S->cappend = S->cappend ? S->cappend * 2 : 1024;
        S->pend = realloc(S->pend, S->cappend * sizeof *S->pend);
        if (!S->pend) abort();
    }
    S->pend[S->npend++] = (pend){(uint16_t)id, v};
}

/* Everything the handle shows is now durable. */
static void ack(scen *S) {
    memcpy(S->acked, S->cur, POOL * sizeof *S->acked);
    S->npend = 0;
}

/* State of id through the handle (ABSENT, GARBLED, a version, or -3 on an
 * error, with a problem noted). */
static int64_t handle_state(scen *S, unsigned id, zippy_buf *b) {
    char s[16];
    int k = idstr(s, id);
    int rc = zippy_get(S->c, s, (size_t)k, 0, b);
    if (rc == ZIPPY_ENOTFOUND) return ABSENT;
    if (rc) {
        problem(S, "get %s through the handle: rc %d: %s", s, rc, zippy_errmsg());
        return -3;
    }
    return decode_doc(b->ptr, b->len, id);
}

/* After a failed call: the handle must show exactly the model, or, where
 * may_die allows it (a failed compact or reindex), refuse every call with
 * ZIPPY_EIO until it is closed (fail-stop; the store is then reopened). A
 * failed put or flush must leave the handle usable: its buffered writes
 * can only be saved by a retried flush. */
static void check_handle(scen *S, const char *after, int may_die) {
    if (!S->c) return;
    zippy_buf b = ZIPPY_BUF_INIT;
    uint64_t present = 0, count = 0;
    char s[16];
    int k = idstr(s, 0);
    int rc = zippy_get(S->c, s, (size_t)k, 0, &b);
    if (rc == ZIPPY_EIO) {
        if (!may_die)
            problem(S, "after the failed %s the handle refuses reads (%s): its buffered writes cannot be retried",
                    after, zippy_errmsg());
        S->dead = 1;
        S->res.dead++;
        for (unsigned id = 0; id < S->nids; id++) {
            k = idstr(s, id);
            if ((rc = zippy_get(S->c, s, (size_t)k, 0, &b)) != ZIPPY_EIO) {
                problem(S, "after the failed %s the handle refuses x0000 but get %s returns %d", after, s, rc);
                break;
            }
        }
        if ((rc = zippy_count(S->c, &count)) != ZIPPY_EIO)
            problem(S, "after the failed %s the handle refuses reads but count returns %d", after, rc);
        zippy_buf_free(&b);
        return;
    }
    for (unsigned id = 0; id < S->nids; id++) {
        int64_t v = handle_state(S, id, &b);
        if (v == -3) break;
        if (v != S->cur[id]) {
            char a[40], e[40];
            vstr(a, sizeof a, v);
            vstr(e, sizeof e, S->cur[id]);
            problem(S, "after the failed %s the handle shows x%04u %s, expected %s", after, id, a, e);
            break;
        }
        present += v != ABSENT;
    }
    rc = zippy_count(S->c, &count);
    if (rc || count != present)
        problem(S, "after the failed %s the handle counts %llu documents (rc %d), it shows %llu", after,
                (unsigned long long)count, rc, (unsigned long long)present);
    zippy_buf_free(&b);
}

/* Records a failed call and checks its code and message. */
static void call_failed(scen *S, const char *what, int rc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    int code = zippy_errcode();
    S->res.nfail++;
    if (!S->res.first_call[0]) snprintf(S->res.first_call, sizeof S->res.first_call, "%s: rc %d: %s", what, rc, msg);
    if (S->policy == POL_NONE) {
        problem(S, "%s failed with short writes (they must be retried): rc %d: %s", what, rc, msg);
    } else if (S->cleared) {
        problem(S, "%s failed after the fault was cleared: rc %d: %s", what, rc, msg);
    } else {
        int want = S->err == ENOSPC ? ZIPPY_ENOSPC : ZIPPY_EIO;
        if (rc != want)
            problem(S, "%s returned %d (%s), expected %d (%s): %s", what, rc, zippy_strerror(rc), want,
                    zippy_strerror(want), msg);
        else if (code != rc)
            problem(S, "%s returned %d but zippy_errcode() is %d", what, rc, code);
        else if (!strstr(msg, g_dir))
            problem(S, "%s: the message names no file of the store: \"%s\"", what, msg);
    }
}

/* After a failed call (and the resync of what it touched): check the
 * handle, then with POL_RETRY clear the fault and retry the flush (unless
 * the handle is dead). */
static void after_failure(scen *S, const char *what, int may_die) {
    check_handle(S, what, may_die);
    if (S->policy == POL_RETRY && !S->cleared) {
        zos_fault_clear();
        S->cleared = 1;
        if (S->c && !S->dead) {
            int rc = zippy_coll_flush(S->c);
            if (rc) problem(S, "flush retried after the failed %s (fault cleared): rc %d: %s", what, rc, zippy_errmsg());
            else ack(S);
        }
    }
}

static void op_open(scen *S) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = 0;
    o.sync = ZIPPY_SYNC_FLUSH;
    int rc = zippy_root_open(&S->root, g_dir, &o);
    if (rc) {
        S->root = NULL;
        call_failed(S, "root open", rc);
    } else if ((rc = zippy_coll_open(&S->c, S->root, COLL, &o))) {
        S->c = NULL;
        call_failed(S, "collection open", rc);
    }
    if (rc && S->policy == POL_RETRY) {
        zos_fault_clear();
        S->cleared = 1;
    }
}

static void op_put(scen *S, unsigned id, int cls) {
    if (!S->c || S->dead) return;
    char s[16], what[64];
    int k = idstr(s, id);
    int64_t v = new_version(S, cls);
    size_t n = make_doc(g_doc, id, v);
    int rc = zippy_put(S->c, s, (size_t)k, g_doc, n);
    pend_add(S, id, v); /* on failure: may or may not be there */
    if (!rc) {
        S->cur[id] = v;
        return;
    }
    snprintf(what, sizeof what, "put %s", s);
    call_failed(S, what, rc);
    zippy_buf b = ZIPPY_BUF_INIT;
    if (handle_state(S, id, &b) == v) {
        S->cur[id] = v;
        S->res.took_effect++;
    }
    zippy_buf_free(&b);
    after_failure(S, what, 0);
}

static void op_del(scen *S, unsigned id) {
    if (!S->c || S->dead || S->cur[id] == ABSENT) return;
    char s[16], what[64];
    int k = idstr(s, id);
    int rc = zippy_delete(S->c, s, (size_t)k);
    pend_add(S, id, ABSENT);
    if (!rc) {
        S->cur[id] = ABSENT;
        return;
    }
    snprintf(what, sizeof what, "delete %s", s);
    call_failed(S, what, rc);
    zippy_buf b = ZIPPY_BUF_INIT;
    if (handle_state(S, id, &b) == ABSENT) {
        S->cur[id] = ABSENT;
        S->res.took_effect++;
    }
    zippy_buf_free(&b);
    after_failure(S, what, 0);
}

/* put_jsonl of n lines (ids[i], class cls); with_ids: ids as an array. */
static void op_jsonl(scen *S, const unsigned *ids, size_t n, int cls, int with_ids) {
    if (!S->c || S->dead) return;
    size_t cap = n * 40000 + 64, len = 0;
    char *data = malloc(cap);
    const char **idv = calloc(n, sizeof *idv);
    size_t *idl = calloc(n, sizeof *idl);
    char (*idb)[16] = calloc(n, 16);
    int64_t *vs = calloc(n, sizeof *vs);
    if (!data || !idv || !idl || !idb || !vs) abort();
    for (size_t i = 0; i < n; i++) {
        vs[i] = new_version(S, cls);
        size_t dn = make_doc(g_doc, ids[i], vs[i]);
        idl[i] = (size_t)idstr(idb[i], ids[i]);
        idv[i] = idb[i];
        if (with_ids) {
            memcpy(data + len, g_doc, dn);
            len += dn;
        } else {
            len += (size_t)sprintf(data + len, "{\"_id\":\"%s\",", idb[i]);
            memcpy(data + len, g_doc + 1, dn - 1);
            len += dn - 1;
        }
        data[len++] = '\n';
    }
    uint64_t written = 0;
    int rc = zippy_put_jsonl(S->c, data, len, with_ids ? idv : NULL, with_ids ? idl : NULL, with_ids ? n : 0,
                             &written);
    for (size_t i = 0; i < n; i++) {
        pend_add(S, ids[i], vs[i]);
        if (i < written) S->cur[ids[i]] = vs[i];
    }
    if (rc) {
        call_failed(S, "put_jsonl", rc);
        if (written >= n) problem(S, "put_jsonl failed (rc %d) but reports all %zu lines written", rc, n);
        after_failure(S, "put_jsonl", 0);
    } else if (written != n) {
        problem(S, "put_jsonl succeeded but wrote %llu of %zu lines", (unsigned long long)written, n);
    }
    free(data);
    free(idv);
    free(idl);
    free(idb);
    free(vs);
}

static void op_flush(scen *S) {
    if (!S->c || S->dead) return;
    int rc = zippy_coll_flush(S->c);
    if (!rc) {
        ack(S);
        return;
    }
    call_failed(S, "flush", rc);
    after_failure(S, "flush", 0);
}

static void op_compact(scen *S) {
    if (!S->c || S->dead) return;
    int rc = zippy_coll_compact(S->c);
    if (!rc) return;
    call_failed(S, "compact", rc);
    after_failure(S, "compact", 1);
}

static void op_reindex(scen *S) {
    if (!S->c || S->dead) return;
    int rc = zippy_coll_reindex(S->c);
    if (!rc) return;
    call_failed(S, "reindex", rc);
    after_failure(S, "reindex", 1);
}

static void op_close(scen *S) {
    if (S->c && S->dead) {
        (void)zippy_coll_close(S->c); /* the store is reopened next */
        S->c = NULL;
    } else if (S->c) {
        int rc = zippy_coll_close(S->c);
        S->c = NULL;
        if (!rc) ack(S);
        else {
            call_failed(S, "close", rc);
            if (S->policy == POL_RETRY && !S->cleared) {
                zos_fault_clear();
                S->cleared = 1;
            }
        }
    }
    zippy_root_close(S->root);
    S->root = NULL;
}

static void arm(scen *S) { zos_fault_set(S->op, S->nth, S->err, S->flags); }

/* The fixed sequence of the matrix. The fault is armed before the open. */
static void seq_main(scen *S) {
    unsigned ids[64];
    arm(S);
    op_open(S);
    /* 40 puts of ~32 KB: the 1 MiB buffer is written out inside a put */
    for (unsigned i = 0; i < 40; i++) op_put(S, i < 30 ? i : 300 + i, C_BIG);
    op_flush(S);
    for (unsigned i = 0; i < 150; i++) op_put(S, rnd(S, SEQ_IDS), i % 10 == 9 ? C_MEDIUM : C_SMALL);
    for (unsigned i = 0, d = 0; i < 200 && d < 15; i++) {
        unsigned id = rnd(S, SEQ_IDS);
        if (S->cur[id] != ABSENT) {
            op_del(S, id);
            d++;
        }
    }
    for (unsigned i = 0; i < 60; i++) ids[i % 64] = rnd(S, SEQ_IDS);
    op_jsonl(S, ids, 60, C_MEDIUM, 0);
    op_flush(S);
    op_compact(S);
    for (unsigned i = 0; i < 50; i++) op_put(S, rnd(S, SEQ_IDS), i == 25 ? C_BIG : C_SMALL);
    op_reindex(S);
    for (unsigned i = 0; i < 30; i++) op_put(S, rnd(S, SEQ_IDS), C_SMALL);
    for (unsigned i = 0; i < 5; i++) op_del(S, rnd(S, SEQ_IDS));
    for (unsigned i = 0; i < 10; i++) ids[i] = rnd(S, SEQ_IDS);
    op_jsonl(S, ids, 10, C_SMALL, 1);
    op_close(S);
}

/* A 3000-line import (~3 MB) into an open store; the fault (a full disk)
 * is armed after the open. */
static void seq_import(scen *S) {
    op_open(S);
    for (unsigned i = 0; i < 20; i++) op_put(S, i, C_SMALL); /* buffered, not yet flushed */
    arm(S);
    static unsigned ids[3000];
    for (unsigned i = 0; i < 3000; i++) ids[i] = i % 10 == 0 ? i / 10 : 600 + i;
    op_jsonl(S, ids, 3000, C_KB, 0);
    op_flush(S);
    op_close(S);
}

/* Buffered small puts, then big puts with the nth write failing. */
static void seq_buffer(scen *S) {
    op_open(S);
    for (unsigned i = 0; i < 100; i++) op_put(S, 300 + i, C_SMALL);
    arm(S);
    for (unsigned i = 0; i < 40; i++) op_put(S, 400 + i, C_BIG);
    op_close(S);
}

/* Puts, then a flush whose nth fsync fails. */
static void seq_flush(scen *S) {
    op_open(S);
    for (unsigned i = 0; i < 200; i++) op_put(S, i, i % 50 ? C_SMALL : C_MEDIUM);
    arm(S);
    op_flush(S);
    for (unsigned i = 0; i < 10; i++) op_put(S, 500 + i, C_SMALL);
    op_close(S);
}

/* Documents flushed, then a compaction with the nth call failing, then
 * writes that a flush and the close acknowledge. */
static void seq_compact(scen *S) {
    op_open(S);
    for (unsigned i = 0; i < 60; i++) op_put(S, i * 7 % SEQ_IDS, i % 20 ? C_SMALL : C_MEDIUM);
    for (unsigned i = 0; i < 5; i++) op_del(S, i * 11);
    op_flush(S);
    arm(S);
    op_compact(S);
    for (unsigned i = 0; i < 10; i++) op_put(S, i * 13 % SEQ_IDS, C_SMALL);
    op_flush(S);
    op_close(S);
}

/* Reopens the store after the faults were cleared and checks it against
 * the model; fills state[]. */
static void check_store(scen *S, int readonly, int64_t *state) {
    const char *mode = readonly ? "read-only reopen" : "writable reopen";
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_scan *sc = NULL;
    zippy_buf b = ZIPPY_BUF_INIT;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = readonly ? ZIPPY_OPEN_READONLY : 0;
    uint8_t *seen = calloc(POOL, 1);
    char s[16];
    int rc;
    for (unsigned id = 0; id < POOL; id++) state[id] = GARBLED;
    if ((rc = zippy_root_open(&root, g_dir, &o)) || (rc = zippy_coll_open(&c, root, COLL, &o))) {
        S->res.bad_reopens++;
        reopen_problem(S, "%s failed: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    zippy_verify_report vr;
    if ((rc = zippy_coll_verify(c, &vr))) {
        S->res.bad_reopens++;
        reopen_problem(S, "%s: verify: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    uint64_t present = 0, count = 0, rows = 0;
    for (unsigned id = 0; id < S->nids; id++) {
        int k = idstr(s, id);
        rc = zippy_get(c, s, (size_t)k, 0, &b);
        int64_t v = rc == ZIPPY_ENOTFOUND ? ABSENT : rc ? -3 : decode_doc(b.ptr, b.len, id);
        if (v == -3) {
            reopen_problem(S, "%s: get %s: rc %d: %s", mode, s, rc, zippy_errmsg());
            goto out;
        }
        state[id] = v;
        present += v != ABSENT;
        if (v == GARBLED) {
            S->res.garbled++;
            reopen_problem(S, "%s: document %s is garbled (%zu bytes: %.80s)", mode, s, b.len, b.ptr);
            continue;
        }
        int ok = v == S->acked[id];
        for (size_t i = 0; !ok && i < S->npend; i++) ok = S->pend[i].id == id && S->pend[i].v == v;
        if (!ok) {
            char a[40], e[40];
            if (S->acked[id] != ABSENT && (v == ABSENT || v < S->acked[id])) S->res.lost++;
            vstr(a, sizeof a, v);
            vstr(e, sizeof e, S->acked[id]);
            reopen_problem(S, "%s: %s is %s, acknowledged %s%s", mode, s, a, e,
                    S->acked[id] != ABSENT && v != ABSENT && v < S->acked[id] ? " (acknowledged write lost)"
                    : S->acked[id] != ABSENT && v == ABSENT                 ? " (acknowledged document lost)"
                                                                            : "");
        }
    }
    if ((rc = zippy_count(c, &count))) reopen_problem(S, "%s: count: rc %d", mode, rc);
    if ((rc = zippy_scan_open(&sc, c, NULL))) {
        reopen_problem(S, "%s: scan: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    const char *sid, *doc;
    size_t sidlen, doclen;
    while ((rc = zippy_scan_next(sc, &sid, &sidlen, &doc, &doclen)) == 1) {
        unsigned x;
        rows++;
        if (sidlen != 5 || sscanf(sid, "x%4u", &x) != 1 || x >= S->nids || seen[x]) {
            reopen_problem(S, "%s: scan returned an unknown or repeated id \"%.*s\"", mode, (int)sidlen, sid);
            break;
        }
        seen[x] = 1;
        if (decode_doc(doc, doclen, x) != state[x]) {
            reopen_problem(S, "%s: scan shows x%04u differently from get", mode, x);
            break;
        }
    }
    if (rc < 0) reopen_problem(S, "%s: scan: rc %d: %s", mode, rc, zippy_errmsg());
    if (count != present || rows != present)
        reopen_problem(S, "%s: count %llu, scan rows %llu, documents found by get %llu", mode, (unsigned long long)count,
                (unsigned long long)rows, (unsigned long long)present);
out:
    zippy_scan_close(sc);
    if (c && (rc = zippy_coll_close(c))) reopen_problem(S, "%s: close: rc %d: %s", mode, rc, zippy_errmsg());
    zippy_root_close(root);
    zippy_buf_free(&b);
    free(seen);
}

/* The recovered store takes a write and keeps it. */
static void check_writable(scen *S) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_buf b = ZIPPY_BUF_INIT;
    int64_t v = new_version(S, C_SMALL);
    size_t n = make_doc(g_doc, POOL - 1, v);
    char s[16];
    int k = idstr(s, POOL - 1), rc;
    if ((rc = zippy_root_open(&root, g_dir, NULL)) || (rc = zippy_coll_open(&c, root, COLL, NULL)) ||
        (rc = zippy_put(c, s, (size_t)k, g_doc, n))) {
        problem(S, "write after recovery: rc %d: %s", rc, zippy_errmsg());
        zippy_coll_close(c);
        zippy_root_close(root);
        return;
    }
    rc = zippy_coll_close(c);
    c = NULL;
    if (rc) problem(S, "close after recovery: rc %d: %s", rc, zippy_errmsg());
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ZIPPY_OPEN_READONLY;
    zippy_root_close(root);
    root = NULL;
    if ((rc = zippy_root_open(&root, g_dir, &o)) || (rc = zippy_coll_open(&c, root, COLL, &o)) ||
        (rc = zippy_get(c, s, (size_t)k, 0, &b)) || decode_doc(b.ptr, b.len, POOL - 1) != v)
        problem(S, "the write after recovery is not there: rc %d", rc);
    zippy_coll_close(c);
    zippy_root_close(root);
    zippy_buf_free(&b);
}

static void scenario_child(scen *S, int wfd) {
    S->cur = malloc(POOL * sizeof *S->cur);
    S->acked = malloc(POOL * sizeof *S->acked);
    int64_t *ro = malloc(POOL * sizeof *ro), *rw = malloc(POOL * sizeof *rw);
    int lost_ro;
    if (!S->cur || !S->acked || !ro || !rw) abort();
    for (unsigned id = 0; id < POOL; id++)
        S->cur[id] = id < NBASE && !S->empty ? ((int64_t)(id + 1) << 2 | C_SMALL) : ABSENT;
    ack(S);
    S->next_v = 100000;
    S->nids = S->seq == SEQ_IMPORT ? POOL - 1 : SEQ_IDS; /* x3999: check_writable's */
    S->rng = 12345;
    unsigned long before = zos_op_count(S->op);
    switch (S->seq) {
    case SEQ_MAIN: seq_main(S); break;
    case SEQ_IMPORT: seq_import(S); break;
    case SEQ_BUFFER: seq_buffer(S); break;
    case SEQ_FLUSH: seq_flush(S); break;
    case SEQ_COMPACT: seq_compact(S); break;
    }
    S->res.fired = zos_op_count(S->op) - before >= S->nth;
    zos_fault_clear();
    S->res.left_before = temp_files(g_dir);
    check_store(S, 1, ro);
    lost_ro = S->res.lost;
    S->res.lost = 0;
    check_store(S, 0, rw);
    if (lost_ro > S->res.lost) S->res.lost = lost_ro;
    S->res.left_after = temp_files(g_dir);
    for (unsigned id = 0; id < S->nids; id++)
        if (ro[id] != rw[id]) {
            char a[40], e[40];
            vstr(a, sizeof a, ro[id]);
            vstr(e, sizeof e, rw[id]);
            problem(S, "x%04u is %s in the read-only reopen, %s in the writable one", id, a, e);
            break;
        }
    check_writable(S);
    ssize_t w = write(wfd, &S->res, sizeof S->res);
    (void)w;
    free(S->cur);
    free(S->acked);
    free(S->pend);
    free(ro);
    free(rw);
}

/* Checks a store left behind by a crashed scenario: it must reopen and
 * verify (the model died with the process). */
static void check_after_crash(result *r) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_verify_report vr;
    int rc;
    size_t l = strlen(r->problem);
    if ((rc = zippy_root_open(&root, g_dir, NULL)) || (rc = zippy_coll_open(&c, root, COLL, NULL)) ||
        (rc = zippy_coll_verify(c, &vr)))
        snprintf(r->problem + l, sizeof r->problem - l, "; the store left behind does not reopen/verify: rc %d: %s",
                 rc, zippy_errmsg());
    zippy_coll_close(c);
    zippy_root_close(root);
}

static const char *sig_name(int s) {
    return s == SIGSEGV ? "SIGSEGV" : s == SIGBUS ? "SIGBUS" : s == SIGABRT ? "SIGABRT" : "a signal";
}

/* Runs one scenario on a fresh copy of the template in a child process. */
static void run_scenario(zos_op op, int err, unsigned flags, unsigned long nth, int policy, int seq, int empty,
                         result *r) {
    memset(r, 0, sizeof *r);
    rm_tree(g_dir);
    if (copy_tree(empty ? g_tmpl_empty : g_tmpl, g_dir)) {
        snprintf(r->problem, sizeof r->problem, "cannot copy the template store");
        r->nproblems = 1;
        return;
    }
    int pfd[2];
    if (pipe(pfd)) { perror("pipe"); exit(2); }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(pfd[0]);
        scen S;
        memset(&S, 0, sizeof S);
        S.op = op;
        S.err = err;
        S.flags = flags;
        S.nth = nth;
        S.policy = policy;
        S.seq = seq;
        S.empty = empty;
        scenario_child(&S, pfd[1]);
        close(pfd[1]);
        free(g_tmpl);
        free(g_tmpl_empty);
        free(g_dir);
        free(g_base);
        exit(0); /* not _exit: leak checkers (LSan, valgrind) check this process too */
    }
    close(pfd[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t k = read(pfd[0], (char *)r + got, sizeof *r - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (got != sizeof *r || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (got != sizeof *r) memset(r, 0, sizeof *r);
        r->fired = 1;
        r->nproblems++;
        size_t l = strlen(r->problem);
        if (WIFSIGNALED(st))
            snprintf(r->problem + l, sizeof r->problem - l, "%sthe scenario process died of %s (%d)",
                     l ? "; " : "", sig_name(WTERMSIG(st)), WTERMSIG(st));
        else
            snprintf(r->problem + l, sizeof r->problem - l, "%sthe scenario process exited with status %d",
                     l ? "; " : "", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        if (got != sizeof *r) check_after_crash(r);
    }
}

/* ------------------------------------------------------------------ */
/* The matrix                                                          */
/* ------------------------------------------------------------------ */

static const char *const op_names[ZOS_OP_COUNT] = {"open", "write", "read", "fsync", "rename",
                                                   "unlink", "mkdir", "truncate", "mmap"};

/* Totals over every scenario, for the summary and the temp-file test. */
static unsigned g_scenarios, g_fired, g_failed_calls, g_problem_scenarios;
static unsigned g_lost, g_lost_scenarios, g_garbled, g_bad_reopens;
static unsigned g_left_after[NTEMP], g_left_before[NTEMP];
static char g_left_after_example[400];

static unsigned long next_n(unsigned long n) {
    if (!g_quick || n < 4) return n + 1;
    return n + 1 + n / 3;
}

/* One cell: op/err/flags/policy/sequence, n = 1, 2, ... until the fault no
 * longer fires. Prints PASS or FAIL with the first problems. */
static void run_cell(const char *name, zos_op op, int err, unsigned flags, int policy, int seq, int empty,
                     unsigned long max_n) {
    unsigned long n, scen_n = 0, fired = 0, calls = 0, bad = 0, effect = 0, dead = 0;
    unsigned before = 0;
    char details[3][1600];
    unsigned long details_n[3];
    int nd = 0;
    for (n = 1; n <= max_n; n = next_n(n)) {
        result r;
        run_scenario(op, err, flags, n, policy, seq, empty, &r);
        scen_n++;
        g_scenarios++;
        calls += (unsigned long)r.nfail;
        g_failed_calls += (unsigned)r.nfail;
        effect += (unsigned long)r.took_effect;
        dead += r.dead > 0;
        before |= r.left_before;
        for (size_t i = 0; i < NTEMP; i++) {
            if (r.left_before & (1u << i)) g_left_before[i]++;
            if (r.left_after & (1u << i)) g_left_after[i]++;
        }
        if (r.left_after && !g_left_after_example[0]) {
            char l[200];
            temp_list(r.left_after, l, sizeof l);
            snprintf(g_left_after_example, sizeof g_left_after_example, "%s: n=%lu left %s (first failure: %.200s)",
                     name, n, l, r.first_call[0] ? r.first_call : "none");
        }
        g_lost += (unsigned)r.lost;
        g_lost_scenarios += r.lost > 0;
        g_garbled += (unsigned)r.garbled;
        g_bad_reopens += (unsigned)r.bad_reopens;
        if (r.nproblems) {
            bad++;
            g_problem_scenarios++;
            char d[sizeof details[0]];
            int then = r.reopen_problem[0] && strcmp(r.reopen_problem, r.problem);
            snprintf(d, sizeof d, "%s [first failed call: %.300s]%s%.500s%s", r.problem,
                     r.first_call[0] ? r.first_call : "none", then ? " [then, after reopening: " : "",
                     then ? r.reopen_problem : "", then ? "]" : "");
            if (g_verbose) printf("    %s n=%lu: %s\n", name, n, d);
            if (nd < 3) {
                details_n[nd] = n;
                memcpy(details[nd++], d, sizeof d);
            }
        }
        if (r.fired) {
            fired++;
            g_fired++;
        } else {
            break;
        }
    }
    char lb[200];
    temp_list(before, lb, sizeof lb);
    if (bad) {
        t_failed_count++;
        printf("FAIL %s: %lu of %lu scenarios have problems (n=1..%lu, %lu faults fired, %lu calls failed)\n", name,
               bad, scen_n, n, fired, calls);
        for (int i = 0; i < nd; i++) printf("    n=%lu: %s\n", details_n[i], details[i]);
    } else {
        t_passed_count++;
        char extra[300] = "";
        if (effect) snprintf(extra, sizeof extra, ", %lu failed writes took effect", effect);
        if (dead) {
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, ", handle left unusable (fail-stop) %lu times", dead);
        }
        if (lb[0]) {
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "; failures left %s until the reopen", lb);
        }
        printf("PASS %s (n=1..%lu: %lu faults fired, %lu calls failed%s)\n", name, n, fired, calls, extra);
    }
    fflush(stdout);
}

/* Temp files as a crash (kill -9, power loss) in the middle of a
 * checkpoint, a manifest update or a compaction leaves them: a writable
 * reopen must remove them (a read-only one must ignore them), and the
 * store must be intact. */
static void crash_leftovers(void) {
    const char *name = "crash_leftovers_removed_by_reopen";
    char why[600] = "";
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_buf b = ZIPPY_BUF_INIT;
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    char s[16];
    int rc;
    rm_tree(g_dir);
    if (copy_tree(g_tmpl, g_dir)) snprintf(why, sizeof why, "cannot copy the template store");
    for (size_t i = 0; !why[0] && i < NTEMP; i++) {
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", g_dir, temp_names[i]);
        if (t_write_file(p, "{\"half\":", 9)) snprintf(why, sizeof why, "cannot create %s", p);
    }
    for (int pass = 0; !why[0] && pass < 2; pass++) {
        if ((rc = zippy_root_open(&root, g_dir, pass ? NULL : &ro)) ||
            (rc = zippy_coll_open(&c, root, COLL, pass ? NULL : &ro))) {
            snprintf(why, sizeof why, "%s open with leftovers: rc %d: %s", pass ? "writable" : "read-only", rc,
                     zippy_errmsg());
            break;
        }
        for (unsigned id = 0; id < NBASE && !why[0]; id++) {
            int k = idstr(s, id);
            if ((rc = zippy_get(c, s, (size_t)k, 0, &b)) || decode_doc(b.ptr, b.len, id) != ((int64_t)(id + 1) << 2))
                snprintf(why, sizeof why, "document %s wrong after a reopen with leftovers: rc %d", s, rc);
        }
        if (!why[0] && (rc = zippy_coll_verify(c, NULL)))
            snprintf(why, sizeof why, "verify: rc %d: %s", rc, zippy_errmsg());
        if ((rc = zippy_coll_close(c)) && !why[0]) snprintf(why, sizeof why, "close: rc %d: %s", rc, zippy_errmsg());
        c = NULL;
        zippy_root_close(root);
        root = NULL;
        unsigned m = temp_files(g_dir);
        if (!why[0] && pass == 0 && m != (1u << NTEMP) - 1) {
            char l[300];
            temp_list(((1u << NTEMP) - 1) & ~m, l, sizeof l);
            snprintf(why, sizeof why, "a read-only open removed %s", l);
        }
        if (!why[0] && pass == 1 && m) {
            char l[300];
            temp_list(m, l, sizeof l);
            snprintf(why, sizeof why, "a writable reopen left %s in place", l);
        }
    }
    zippy_coll_close(c);
    zippy_root_close(root);
    zippy_buf_free(&b);
    if (why[0]) {
        t_failed_count++;
        printf("FAIL %s: %s\n", name, why);
    } else {
        t_passed_count++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

/* Makes a template: ndocs small documents, flushed and closed. */
static int make_template(const char *dir, unsigned ndocs) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    char s[16];
    int rc = zippy_root_open(&root, dir, NULL);
    if (!rc) rc = zippy_coll_open(&c, root, COLL, NULL);
    for (unsigned id = 0; !rc && id < ndocs; id++) {
        int64_t v = (int64_t)(id + 1) << 2 | C_SMALL;
        size_t n = make_doc(g_doc, id, v);
        int k = idstr(s, id);
        rc = zippy_put(c, s, (size_t)k, g_doc, n);
    }
    if (c) {
        int r = zippy_coll_close(c);
        if (!rc) rc = r;
    }
    zippy_root_close(root);
    if (rc) printf("FAIL template: rc %d: %s\n", rc, zippy_errmsg());
    return rc;
}

int main(void) {
    const char *e = getenv("ZIPPY_QUICK");
    g_quick = e && *e && strcmp(e, "0");
    e = getenv("ZIPPY_FAULTS_VERBOSE");
    g_verbose = e && *e && strcmp(e, "0");
    (void)t_cur_name; /* test.h's RUN() is not used: one line per cell */
    (void)t_cur_failed;
    init_noise();
    /* The faults are simulated, so the store's file system need not be
     * durable: use /dev/shm, where fsync costs nothing (hundreds of
     * scenarios, each with dozens of fsyncs, take minutes on a disk).
     * ZIPPY_FAULTS_TMPDIR picks another place. */
    struct stat shm;
    if ((e = getenv("ZIPPY_FAULTS_TMPDIR")) && *e)
        setenv("TMPDIR", e, 1);
    else if (stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    char *base = g_base = t_tmpdir();
    size_t bl = strlen(base) + 16;
    g_tmpl = malloc(bl);
    g_tmpl_empty = malloc(bl);
    g_dir = malloc(bl);
    snprintf(g_tmpl, bl, "%s/tmpl", base);
    snprintf(g_tmpl_empty, bl, "%s/empty", base);
    snprintf(g_dir, bl, "%s/s", base);
    if (make_template(g_tmpl, NBASE) || make_template(g_tmpl_empty, 0)) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    const unsigned long MAXN = 5000;
    char name[80];

    /* Single faults, EIO and ENOSPC, for every kind of call. */
    static const zos_op ops[] = {ZOS_OP_WRITE, ZOS_OP_FSYNC, ZOS_OP_RENAME, ZOS_OP_OPEN, ZOS_OP_TRUNCATE,
                                 ZOS_OP_MMAP, ZOS_OP_READ, ZOS_OP_UNLINK, ZOS_OP_MKDIR};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        snprintf(name, sizeof name, "fault_%s_EIO", op_names[ops[i]]);
        run_cell(name, ops[i], EIO, 0, POL_RETRY, SEQ_MAIN, 0, MAXN);
        if (g_quick && ops[i] != ZOS_OP_WRITE && ops[i] != ZOS_OP_FSYNC) continue;
        snprintf(name, sizeof name, "fault_%s_ENOSPC", op_names[ops[i]]);
        run_cell(name, ops[i], ENOSPC, 0, POL_RETRY, SEQ_MAIN, 0, MAXN);
    }
    /* A collection whose log is still empty: the first write maps it. */
    static const zos_op empty_ops[] = {ZOS_OP_MMAP, ZOS_OP_WRITE, ZOS_OP_FSYNC, ZOS_OP_OPEN};
    for (size_t i = 0; i < (g_quick ? 1 : sizeof empty_ops / sizeof *empty_ops); i++) {
        snprintf(name, sizeof name, "empty_store_fault_%s_EIO", op_names[empty_ops[i]]);
        run_cell(name, empty_ops[i], EIO, 0, POL_RETRY, SEQ_MAIN, 1, MAXN);
    }
    /* Compaction failing at each step, followed by acknowledged writes and
     * a reopen (no reindex in between to hide what the failure did). */
    static const zos_op compact_ops[] = {ZOS_OP_WRITE, ZOS_OP_FSYNC, ZOS_OP_RENAME, ZOS_OP_OPEN, ZOS_OP_MMAP,
                                         ZOS_OP_UNLINK};
    for (size_t i = 0; i < sizeof compact_ops / sizeof *compact_ops; i++) {
        snprintf(name, sizeof name, "compact_fault_%s_EIO", op_names[compact_ops[i]]);
        run_cell(name, compact_ops[i], EIO, 0, POL_RETRY, SEQ_COMPACT, 0, MAXN);
    }
    /* Short writes: one, and every write from the nth on. */
    run_cell("short_write", ZOS_OP_WRITE, 0, ZOS_FAULT_SHORT, POL_NONE, SEQ_MAIN, 0, MAXN);
    run_cell("short_write_sticky", ZOS_OP_WRITE, 0, ZOS_FAULT_SHORT | ZOS_FAULT_STICKY, POL_NONE, SEQ_MAIN, 0,
             g_quick ? 1 : 8);
    /* Sticky faults: the disk stays full / the device stays broken until
     * the end of the sequence. */
    run_cell("sticky_write_ENOSPC", ZOS_OP_WRITE, ENOSPC, ZOS_FAULT_STICKY, POL_PERSIST, SEQ_MAIN, 0, MAXN);
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (ops[i] == ZOS_OP_MKDIR) continue;
        if (g_quick && ops[i] != ZOS_OP_FSYNC && ops[i] != ZOS_OP_OPEN && ops[i] != ZOS_OP_MMAP) continue;
        snprintf(name, sizeof name, "sticky_%s_EIO", op_names[ops[i]]);
        run_cell(name, ops[i], EIO, ZOS_FAULT_STICKY, POL_PERSIST, SEQ_MAIN, 0, MAXN);
    }
    /* A big import into a full disk: freed later (retried flush), or not
     * (close fails, reopen). */
    run_cell("disk_full_import_then_freed", ZOS_OP_WRITE, ENOSPC, ZOS_FAULT_STICKY, POL_RETRY, SEQ_IMPORT, 0, MAXN);
    run_cell("disk_full_import_stays_full", ZOS_OP_WRITE, ENOSPC, ZOS_FAULT_STICKY, POL_PERSIST, SEQ_IMPORT, 0, MAXN);
    /* A failed put keeps the buffered writes; a failed flush is retried. */
    run_cell("failed_put_keeps_buffer", ZOS_OP_WRITE, EIO, 0, POL_RETRY, SEQ_BUFFER, 0, MAXN);
    run_cell("failed_flush_retried", ZOS_OP_FSYNC, EIO, 0, POL_RETRY, SEQ_FLUSH, 0, MAXN);
    run_cell("failed_flush_retried_ENOSPC", ZOS_OP_WRITE, ENOSPC, 0, POL_RETRY, SEQ_FLUSH, 0, MAXN);

    crash_leftovers();
    /* Temp files must not survive a writable reopen. */
    unsigned left = 0;
    char ll[400] = "";
    for (size_t i = 0; i < NTEMP; i++) {
        left += g_left_after[i];
        if (g_left_after[i]) {
            size_t l = strlen(ll);
            snprintf(ll + l, sizeof ll - l, "%s%s in %u", l ? ", " : "", strrchr(temp_names[i], '/') ? strrchr(temp_names[i], '/') + 1 : temp_names[i], g_left_after[i]);
        }
    }
    if (left) {
        t_failed_count++;
        printf("FAIL temp_files_gone_after_reopen: temp files survive a writable reopen (%s scenarios); e.g. %s\n", ll,
               g_left_after_example);
    } else {
        t_passed_count++;
        printf("PASS temp_files_gone_after_reopen\n");
    }
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    char lb[400] = "";
    for (size_t i = 0; i < NTEMP; i++)
        if (g_left_before[i]) {
            size_t l = strlen(lb);
            snprintf(lb + l, sizeof lb - l, "%s%s in %u", l ? ", " : "", strrchr(temp_names[i], '/') ? strrchr(temp_names[i], '/') + 1 : temp_names[i], g_left_before[i]);
        }
    printf("fault scenarios: %u, faults fired: %u, failed calls: %u, scenarios with problems: %u; "
           "temp files left by failures before reopen: %s; %.1f s\n",
           g_scenarios, g_fired, g_failed_calls, g_problem_scenarios, lb[0] ? lb : "none",
           (double)(ts1.tv_sec - ts0.tv_sec) + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e9);
    printf("after clearing the faults: acknowledged writes lost: %u (in %u scenarios), garbled documents: %u, "
           "failed reopens/verifies: %u\n", g_lost, g_lost_scenarios, g_garbled, g_bad_reopens);
    /* The scenario store is rebuilt for every scenario: keep it only on
     * request (it lives in memory when under /dev/shm). */
    if (!t_failed_count || !(e = getenv("ZIPPY_FAULTS_KEEP")) || !*e) t_rm_rf(base);
    else printf("stores kept in %s\n", base);
    free(g_tmpl);
    free(g_tmpl_empty);
    free(g_dir);
    free(base);
    TEST_END();
}
