/* crash.h - the SIGKILL crash-test harness shared by crash_kill.c (JSONL
 * layout) and crash_files.c (file-per-document layout); their comments
 * describe the test. Each defines, before including this file:
 *   CRASH_NAME, CRASH_FILES (0/1), CRASH_LAYOUT, CRASH_LOG (the log file in
 *   meta/), CRASH_ROUNDS, NIDS, BIG_DOC_MAX, BIG_PAD_MIN, BIG_PAD_SPAN,
 *   COMPACT_LOG_BYTES, TIMED_DELAY_MAX, FLUSH_DELAY_MAX (microseconds),
 *   FLUSH_NO_MAX, FLUSH_SPAN.
 */
#ifndef ZIPPY_CRASH_H
#define ZIPPY_CRASH_H

#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "zippy.h"

#define MAX_STEPS 150000       /* script length per round (never reached) */
#define COLL "c"

/* ------------------------------------------------------------------ */
/* Deterministic randomness and documents                              */
/* ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

typedef struct rng { uint64_t s; } rng;
static uint64_t rnext(rng *r) { return mix64(r->s++); }
static uint64_t rbelow(rng *r, uint64_t n) { return n ? rnext(r) % n : 0; }

static int idstr(char *buf, unsigned id) { return sprintf(buf, "d%04u", id); }

/* The document written by round r, sequence s for id: a pure function, so
 * the parent can check the bytes read back exactly. Compact JSON in the
 * form zippy stores and returns it. 1 in 400 (1 in 40 in a third of the
 * rounds) is big (BIG_PAD_MIN to BIG_PAD_MIN + BIG_PAD_SPAN bytes of
 * padding) so that the 1 MiB append buffer overflows in the middle of puts. */
static size_t make_doc(char *buf, uint32_t r, uint32_t s, unsigned id) {
    uint64_t h = mix64(((uint64_t)r << 32 | s) ^ ((uint64_t)id << 20) ^ 0x5EEDull);
    uint64_t big_every = mix64(r) % 3 == 0 ? 40 : 400; /* rounds with many big documents */
    size_t pad = h % big_every == 0 ? BIG_PAD_MIN + (size_t)(h >> 20) % BIG_PAD_SPAN : 8 + (size_t)(h >> 20) % 240;
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    int n = sprintf(buf, "{\"r\":%u,\"s\":%u,\"k\":\"d%04u\",\"a\":[%u,{\"b\":\"%c\"},true,null],"
                         "\"u\":\"\xc3\xa9\xe2\x9c\x93\",\"p\":\"",
                    r, s, id, (unsigned)(h & 0xffff), al[h % 36]);
    uint64_t x = h;
    for (size_t i = 0; i < pad; i++) {
        if (i % 8 == 0) x = mix64(x);
        buf[n + i] = al[(x >> (8 * (i % 8))) % 36];
    }
    n += (int)pad;
    memcpy(buf + n, "\"}", 3);
    return (size_t)n + 2;
}

/* ------------------------------------------------------------------ */
/* The script of a round                                               */
/* ------------------------------------------------------------------ */

enum { S_PUT, S_DEL, S_BATCH, S_LINE, S_FLUSH, S_COMPACT };

typedef struct step {
    uint8_t kind;
    uint8_t flag;   /* S_BATCH: 1 = ids given as an array */
    uint16_t n;     /* S_BATCH: number of S_LINE steps that follow */
    uint32_t id;    /* S_PUT, S_DEL, S_LINE */
    uint32_t seq;   /* data steps: sequence number; S_BATCH: first seq */
} step;

typedef struct dop { /* data operation number seq */
    uint32_t id;
    uint8_t del;
} dop;

enum { K_TIMED, K_NOW, K_COMPACT, K_FLUSH, K_MODES };
static const char *const kill_names[K_MODES] = {"timed", "immediate", "in-compaction", "in-flush"};

typedef struct plan {
    uint32_t round;
    int sync;           /* ZIPPY_SYNC_FLUSH or ZIPPY_SYNC_ALWAYS */
    int kill_mode;
    uint32_t delay_us;  /* after fork (K_TIMED) or after the event */
    uint32_t flush_no;  /* K_FLUSH: which flush (1-based) */
    size_t nsteps;
    uint32_t nops;
    step *steps;
    dop *ops;
} plan;

static void make_plan(plan *p, uint64_t seed, uint32_t round) {
    rng r = {mix64(seed ^ ((uint64_t)round * 0x100000001B3ull))};
    p->round = round;
    p->sync = rbelow(&r, 4) == 0 ? ZIPPY_SYNC_ALWAYS : ZIPPY_SYNC_FLUSH;
    uint64_t m = rbelow(&r, 100);
    p->kill_mode = m < 58 ? K_TIMED : m < 66 ? K_NOW : m < 83 ? K_COMPACT : K_FLUSH;
    p->delay_us = 0;
    if (p->kill_mode == K_TIMED) p->delay_us = (uint32_t)rbelow(&r, TIMED_DELAY_MAX + 1);
    if (p->kill_mode == K_COMPACT) p->delay_us = (uint32_t)rbelow(&r, 6001);
    if (p->kill_mode == K_FLUSH) p->delay_us = (uint32_t)rbelow(&r, FLUSH_DELAY_MAX + 1);
    p->flush_no = 1 + (uint32_t)rbelow(&r, p->sync == ZIPPY_SYNC_ALWAYS ? 3 : FLUSH_NO_MAX);
    /* Compaction: always where the kill waits for it, else 1 round in 50. */
    int compacts = p->kill_mode == K_COMPACT || rbelow(&r, 50) == 0;
    uint32_t compact_at = (uint32_t)rbelow(&r, p->sync == ZIPPY_SYNC_ALWAYS ? 20 : 400);
    /* A quarter of the FLUSH rounds flush rarely: megabytes pile up in the
     * append buffer and are written out in the middle of puts. */
    uint32_t flush_span = rbelow(&r, 4) == 0 ? NIDS : FLUSH_SPAN;
    uint32_t flush_every = 1 + (uint32_t)rbelow(&r, flush_span), since_flush = 0;
    size_t ns = 0;
    uint32_t seq = 0;
    while (ns + 40 < MAX_STEPS) {
        if (compacts && seq >= compact_at) {
            p->steps[ns++] = (step){S_COMPACT, 0, 0, 0, seq};
            compacts = 0;
        }
        uint64_t k = rbelow(&r, 100);
        if (k < 78) {
            uint32_t id = (uint32_t)rbelow(&r, NIDS);
            p->steps[ns++] = (step){S_PUT, 0, 0, id, seq};
            p->ops[seq++] = (dop){id, 0};
            since_flush++;
        } else if (k < 95) {
            uint32_t id = (uint32_t)rbelow(&r, NIDS);
            p->steps[ns++] = (step){S_DEL, 0, 0, id, seq};
            p->ops[seq++] = (dop){id, 1};
            since_flush++;
        } else {
            uint16_t n = (uint16_t)(2 + rbelow(&r, 24));
            p->steps[ns++] = (step){S_BATCH, (uint8_t)rbelow(&r, 2), n, 0, seq};
            for (uint16_t i = 0; i < n; i++) {
                /* a few repeated ids inside one batch */
                uint32_t id = i > 0 && rbelow(&r, 10) == 0 ? p->ops[seq - 1].id : (uint32_t)rbelow(&r, NIDS);
                p->steps[ns++] = (step){S_LINE, 0, 0, id, seq};
                p->ops[seq++] = (dop){id, 0};
            }
            since_flush += n;
        }
        int flush_now = p->sync == ZIPPY_SYNC_ALWAYS ? rbelow(&r, 40) == 0 : since_flush >= flush_every;
        if (flush_now) {
            p->steps[ns++] = (step){S_FLUSH, 0, 0, 0, seq};
            since_flush = 0;
            flush_every = 1 + (uint32_t)rbelow(&r, flush_span);
        }
    }
    p->nsteps = ns;
    p->nops = seq;
}

/* Version code of a document: round << 32 | seq; -1 = absent. */
#define ABSENT (-1)
static int64_t vcode(uint32_t r, uint32_t s) { return (int64_t)((uint64_t)r << 32 | s); }

/* ------------------------------------------------------------------ */
/* Child                                                               */
/* ------------------------------------------------------------------ */

enum { M_READY = 1, M_ACK, M_FLUSH, M_COMPACT, M_ERR, M_DONE };
typedef struct msg {
    uint32_t type, pad;
    uint64_t val;
} msg;

/* Shared between parent and child (MAP_SHARED anonymous page). */
typedef struct shared {
    volatile uint64_t started; /* ops [0, started) may have been applied */
    volatile int phase;        /* what the child is doing (for figures) */
} shared;
enum { PH_OPEN, PH_WRITE, PH_FLUSH, PH_COMPACT, PH_CLOSE, PH_IDLE };
static const char *const phase_names[] = {"open", "write", "flush", "compact", "close", "idle"};

static void send_msg(int fd, uint32_t type, uint64_t val) {
    msg m = {type, 0, val};
    ssize_t w;
    do w = write(fd, &m, sizeof m);
    while (w < 0 && errno == EINTR);
}

static void child_fail(int fd, const char *what, uint64_t at, int rc) {
    fprintf(stderr, CRASH_NAME " child: %s at step %llu: rc %d: %s\n", what, (unsigned long long)at, rc,
            zippy_errmsg());
    send_msg(fd, M_ERR, at);
    _exit(3);
}

static char g_doc[BIG_DOC_MAX + 512];

static void child_main(const char *dir, const plan *p, int fd, shared *sh) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = 0;
    o.sync = (zippy_sync_mode)p->sync;
    o.layout = CRASH_LAYOUT;
    sh->phase = PH_OPEN;
    int rc = zippy_root_open(&root, dir, &o);
    if (rc) child_fail(fd, "root open", 0, rc);
    if ((rc = zippy_coll_open(&c, root, COLL, &o))) child_fail(fd, "collection open", 0, rc);
    send_msg(fd, M_READY, 0);
    int always = p->sync == ZIPPY_SYNC_ALWAYS;
    uint32_t done = 0, nflush = 0; /* ops [0, done) returned */
    char id[16];
    char *batch = malloc((size_t)30 * (BIG_DOC_MAX + 600));
    const char *bids[32];
    size_t blens[32];
    char bidbuf[32][16];
    if (!batch) child_fail(fd, "malloc", 0, -1);
    for (size_t i = 0; i < p->nsteps; i++) {
        const step *s = &p->steps[i];
        switch (s->kind) {
        case S_PUT: {
            sh->phase = PH_WRITE;
            __atomic_store_n(&sh->started, (uint64_t)s->seq + 1, __ATOMIC_SEQ_CST);
            size_t n = make_doc(g_doc, p->round, s->seq, s->id);
            int k = idstr(id, s->id);
            if ((rc = zippy_put(c, id, (size_t)k, g_doc, n))) child_fail(fd, "put", i, rc);
            done = s->seq + 1;
            if (always) send_msg(fd, M_ACK, done);
            break;
        }
        case S_DEL: {
            sh->phase = PH_WRITE;
            __atomic_store_n(&sh->started, (uint64_t)s->seq + 1, __ATOMIC_SEQ_CST);
            int k = idstr(id, s->id);
            rc = zippy_delete(c, id, (size_t)k);
            if (rc && rc != ZIPPY_ENOTFOUND) child_fail(fd, "delete", i, rc);
            done = s->seq + 1;
            if (always) send_msg(fd, M_ACK, done);
            break;
        }
        case S_BATCH: {
            sh->phase = PH_WRITE;
            size_t len = 0;
            for (uint16_t j = 0; j < s->n; j++) {
                const step *l = &p->steps[i + 1 + j];
                size_t n = make_doc(g_doc, p->round, l->seq, l->id);
                if (s->flag) { /* ids array, lines without _id */
                    blens[j] = (size_t)idstr(bidbuf[j], l->id);
                    bids[j] = bidbuf[j];
                    memcpy(batch + len, g_doc, n);
                    len += n;
                } else {
                    len += (size_t)sprintf(batch + len, "{\"_id\":\"d%04u\",", l->id);
                    memcpy(batch + len, g_doc + 1, n - 1);
                    len += n - 1;
                }
                if (j + 1 < s->n || (s->seq & 1)) batch[len++] = '\n'; /* last newline optional */
            }
            __atomic_store_n(&sh->started, (uint64_t)s->seq + s->n, __ATOMIC_SEQ_CST);
            uint64_t written = 0;
            rc = zippy_put_jsonl(c, batch, len, s->flag ? bids : NULL, s->flag ? blens : NULL,
                                 s->flag ? s->n : 0, &written);
            if (rc || written != s->n) child_fail(fd, "put_jsonl", i, rc);
            done = s->seq + s->n;
            if (always) send_msg(fd, M_ACK, done);
            i += s->n;
            break;
        }
        case S_FLUSH:
            sh->phase = PH_FLUSH;
            send_msg(fd, M_FLUSH, ++nflush);
            if ((rc = zippy_coll_flush(c))) child_fail(fd, "flush", i, rc);
            send_msg(fd, M_ACK, done);
            break;
        case S_COMPACT:
            sh->phase = PH_COMPACT;
            send_msg(fd, M_COMPACT, done);
            if ((rc = zippy_coll_compact(c))) child_fail(fd, "compact", i, rc);
            break;
        }
    }
    sh->phase = PH_CLOSE;
    if ((rc = zippy_coll_close(c))) child_fail(fd, "close", p->nsteps, rc);
    send_msg(fd, M_ACK, done);
    zippy_root_close(root);
    sh->phase = PH_IDLE;
    send_msg(fd, M_DONE, done);
    for (;;) pause();
}

/* ------------------------------------------------------------------ */
/* Parent: observing the store                                         */
/* ------------------------------------------------------------------ */

static int parse_id(const char *id, size_t n) {
    if (n != 5 || id[0] != 'd') return -1;
    int v = 0;
    for (size_t i = 1; i < 5; i++) {
        if (id[i] < '0' || id[i] > '9') return -1;
        v = v * 10 + (id[i] - '0');
    }
    return v < NIDS ? v : -1;
}

/* Decodes a document read back: its version code, or -2 if its bytes are
 * not exactly what make_doc wrote for that version. */
static int64_t decode_doc(const char *doc, size_t len, unsigned id) {
    unsigned r, s;
    if (sscanf(doc, "{\"r\":%u,\"s\":%u,", &r, &s) != 2) return -2;
    size_t n = make_doc(g_doc, r, s, id);
    if (n != len || memcmp(g_doc, doc, n)) return -2;
    return vcode(r, s);
}

#if CRASH_FILES
static const char *const temp_names[] = {"collections/" COLL "/meta/cache.idx.tmp",
                                         "collections/" COLL "/meta/manifest.json.tmp",
                                         "collections/" COLL "/meta/cache.jsonl.compact",
                                         "collections/" COLL "/meta/files.state.tmp",
                                         "collections/" COLL "/meta/order.ids.tmp", "zds.json.tmp",
                                         "collections/" COLL "/docs/.*.tmp"};
#else
static const char *const temp_names[] = {"collections/" COLL "/meta/index.bin.tmp",
                                         "collections/" COLL "/meta/manifest.json.tmp",
                                         "collections/" COLL "/meta/data.jsonl.compact", "zds.json.tmp"};
#endif

#define NTEMP (sizeof temp_names / sizeof *temp_names)
static unsigned g_temp_seen[NTEMP]; /* rounds where each was left */

/* Lists the temp files present in dir into out; returns how many. */
static int temp_files(const char *dir, char *out, size_t cap) {
    int n = 0;
    out[0] = 0;
    for (size_t i = 0; i < NTEMP; i++) {
        char p[4600];
        struct stat st;
        int found = 0;
        if (strstr(temp_names[i], "*")) {
            snprintf(p, sizeof p, "%s/collections/" COLL "/docs", dir);
            DIR *d = opendir(p);
            struct dirent *de;
            while (d && (de = readdir(d)))
                if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp")) found = 1;
            if (d) closedir(d);
        } else {
            snprintf(p, sizeof p, "%s/%s", dir, temp_names[i]);
            found = stat(p, &st) == 0;
        }
        if (found) {
            g_temp_seen[i]++;
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", n ? ", " : "", temp_names[i]);
            n++;
        }
    }
    return n;
}

#if CRASH_FILES
/* Number of document files in docs/ (each must be a complete document:
 * the reopen checks that, an invalid file fails it). */
static int docs_files(const char *dir) {
    char p[4600];
    int n = 0;
    snprintf(p, sizeof p, "%s/collections/" COLL "/docs", dir);
    DIR *d = opendir(p);
    struct dirent *de;
    while (d && (de = readdir(d))) n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}
#endif

/* Opens the store (read-only or writable) and reads the state of every id
 * into actual[]. Returns 0 if the store opened and passed every structural
 * check, else -1 with the reason in why. Garbled documents are recorded as
 * -2 in actual[] (and make it return -1 too). With compact_big, a writable
 * pass compacts the store when the log is large and re-checks it. */
static int observe(const char *dir, int readonly, int compact_big, int64_t *actual, uint64_t *log_bytes,
                   char *why, size_t whylen) {
    zippy_root *root = NULL;
    zippy_coll *c = NULL;
    zippy_scan *sc = NULL;
    zippy_buf b = ZIPPY_BUF_INIT;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = readonly ? ZIPPY_OPEN_READONLY : 0;
    int rc, ret = -1;
    const char *mode = readonly ? "read-only" : "writable";
    char id[16];
    uint8_t *seen = calloc(NIDS, 1);
    why[0] = 0;
    if ((rc = zippy_root_open(&root, dir, &o))) {
        snprintf(why, whylen, "%s root open: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    if ((rc = zippy_coll_open(&c, root, COLL, &o))) {
        snprintf(why, whylen, "%s open: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        zippy_verify_report vr;
        if ((rc = zippy_coll_verify(c, &vr))) {
            snprintf(why, whylen, "%s verify: rc %d: %s (bad lines %llu, index errors %llu)", mode, rc,
                     zippy_errmsg(), (unsigned long long)vr.bad_lines, (unsigned long long)vr.index_errors);
            goto out;
        }
        uint64_t present = 0, count = 0, rows = 0;
        int garbled = 0;
        for (unsigned i = 0; i < NIDS; i++) {
            int k = idstr(id, i);
            rc = zippy_get(c, id, (size_t)k, 0, &b);
            int64_t v;
            if (rc == ZIPPY_ENOTFOUND) v = ABSENT;
            else if (rc) {
                snprintf(why, whylen, "%s get %s: rc %d: %s", mode, id, rc, zippy_errmsg());
                goto out;
            } else {
                v = decode_doc(b.ptr, b.len, i);
                if (v == -2 && !garbled++)
                    snprintf(why, whylen, "%s: document %s is garbled (%zu bytes: %.60s...)", mode, id, b.len,
                             b.ptr);
                present++;
            }
            if (pass == 1 && v != actual[i]) {
                snprintf(why, whylen, "document %s changed across compaction: %lld -> %lld", id,
                         (long long)actual[i], (long long)v);
                goto out;
            }
            actual[i] = v;
        }
        if (garbled) goto out;
        if ((rc = zippy_count(c, &count))) {
            snprintf(why, whylen, "%s count: rc %d: %s", mode, rc, zippy_errmsg());
            goto out;
        }
        memset(seen, 0, NIDS);
        if ((rc = zippy_scan_open(&sc, c, NULL))) {
            snprintf(why, whylen, "%s scan open: rc %d: %s", mode, rc, zippy_errmsg());
            goto out;
        }
        const char *sid, *doc;
        size_t sidlen, doclen;
        while ((rc = zippy_scan_next(sc, &sid, &sidlen, &doc, &doclen)) == 1) {
            int x = parse_id(sid, sidlen);
            rows++;
            if (x < 0 || seen[x]) {
                snprintf(why, whylen, "%s scan: %s id \"%.*s\"", mode, x < 0 ? "unknown" : "duplicate",
                         (int)sidlen, sid);
                goto out;
            }
            seen[x] = 1;
            if (actual[x] < 0 || decode_doc(doc, doclen, (unsigned)x) != actual[x]) {
                snprintf(why, whylen, "%s scan: document %.*s differs from get (%.60s)", mode, (int)sidlen, sid,
                         doc);
                goto out;
            }
        }
        if (rc < 0) {
            snprintf(why, whylen, "%s scan: rc %d: %s", mode, rc, zippy_errmsg());
            goto out;
        }
        zippy_scan_close(sc);
        sc = NULL;
        if (count != present || rows != present) {
            snprintf(why, whylen, "%s: count %llu, scan rows %llu, documents found by get %llu", mode,
                     (unsigned long long)count, (unsigned long long)rows, (unsigned long long)present);
            goto out;
        }
        zippy_stats st;
        if ((rc = zippy_coll_stats(c, &st))) {
            snprintf(why, whylen, "%s stats: rc %d: %s", mode, rc, zippy_errmsg());
            goto out;
        }
        *log_bytes = st.log_bytes;
        if (pass == 0 && (readonly || !compact_big || st.log_bytes < COMPACT_LOG_BYTES)) break;
        if (pass == 0 && (rc = zippy_coll_compact(c))) {
            snprintf(why, whylen, "parent compaction: rc %d: %s", rc, zippy_errmsg());
            goto out;
        }
    }
    if ((rc = zippy_coll_close(c))) {
        c = NULL;
        snprintf(why, whylen, "%s close: rc %d: %s", mode, rc, zippy_errmsg());
        goto out;
    }
    c = NULL;
    ret = 0;
out:
    zippy_scan_close(sc);
    zippy_coll_close(c);
    zippy_root_close(root);
    zippy_buf_free(&b);
    free(seen);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Parent: one round                                                   */
/* ------------------------------------------------------------------ */

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

typedef struct totals {
    unsigned kills, lost, corrupt, nonprefix, child_errors, temp_left, clean_exits, torn;
    unsigned by_phase[6];
    uint64_t acked_ops, started_ops;
} totals;

static int g_verbose;

/* Result of an op on the model. */
static int64_t op_result(const plan *p, uint32_t seq) {
    return p->ops[seq].del ? ABSENT : vcode(p->round, seq);
}

/* Runs round p against the store in dir; base[] is the state before it and
 * becomes the state after it. Prints one PASS/FAIL line. */
static void run_round(const char *dir, plan *p, int64_t *base, shared *sh, totals *T) {
    char name[64], why[1024] = "";
    snprintf(name, sizeof name, "round_%u", p->round);
    int pfd[2];
    if (pipe(pfd)) { perror("pipe"); exit(2); }
    sh->started = 0;
    sh->phase = PH_OPEN;
    fflush(stdout);
    fflush(stderr);
    double t0 = now_us();
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(pfd[0]);
        child_main(dir, p, pfd[1], sh);
        _exit(0);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);

    /* Wait for the kill moment, reading the child's messages. */
    uint64_t acked = 0;
    int child_err = 0, done = 0, open_ok = 0;
    double deadline = p->kill_mode == K_NOW ? t0 : p->kill_mode == K_TIMED ? t0 + p->delay_us : t0 + 2e6;
    int eof = 0;
    for (;;) {
        double t = now_us();
        if (t >= deadline || child_err || eof) break;
        double wait_ms = (deadline - t) / 1000.0;
        struct pollfd pf = {pfd[0], POLLIN, 0};
        /* Short poll slices keep the kill close to its moment. */
        int pr = poll(&pf, 1, wait_ms > 1 ? 1 : 0);
        if (pr <= 0) continue;
        msg m;
        ssize_t r;
        while ((r = read(pfd[0], &m, sizeof m)) == (ssize_t)sizeof m) {
            if (m.type == M_ACK && m.val > acked) acked = m.val;
            else if (m.type == M_READY) open_ok = 1;
            else if (m.type == M_ERR) child_err = 1;
            else if (m.type == M_DONE) done = 1;
            else if (m.type == M_COMPACT && p->kill_mode == K_COMPACT && deadline > now_us() + p->delay_us)
                deadline = now_us() + p->delay_us;
            else if (m.type == M_FLUSH && p->kill_mode == K_FLUSH && m.val == p->flush_no)
                deadline = now_us() + p->delay_us;
        }
        if (r == 0) eof = 1;
    }
    double killed_at = now_us() - t0;
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    /* Acks written before the kill are still in the pipe. */
    fcntl(pfd[0], F_SETFL, 0);
    msg m;
    ssize_t r;
    while ((r = read(pfd[0], &m, sizeof m)) == (ssize_t)sizeof m) {
        if (m.type == M_ACK && m.val > acked) acked = m.val;
        else if (m.type == M_READY) open_ok = 1;
        else if (m.type == M_ERR) child_err = 1;
        else if (m.type == M_DONE) done = 1;
    }
    close(pfd[0]);
    int phase = sh->phase;
    uint64_t started = __atomic_load_n(&sh->started, __ATOMIC_SEQ_CST);
    if (started < acked) started = acked;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        T->kills++;
        T->by_phase[phase]++;
    }
    if (done) T->clean_exits++;
    T->acked_ops += acked;
    T->started_ops += started;
    int failed = 0;
    if (child_err) {
        T->child_errors++;
        snprintf(why, sizeof why, "the child failed a call (see stderr)");
        failed = 1;
    }

    /* Reopen read-only first (sees the store exactly as the crash left it),
     * then writable (repairs a torn tail), and compare. */
    int64_t *ro = malloc(NIDS * sizeof *ro), *rw = malloc(NIDS * sizeof *rw);
    uint64_t log_bytes = 0;
    char w2[1024], data_path[4200];
    int corrupt = 0;
    struct stat dst;
    snprintf(data_path, sizeof data_path, "%s/collections/" COLL "/meta/" CRASH_LOG, dir);
    uint64_t raw_size = stat(data_path, &dst) == 0 ? (uint64_t)dst.st_size : 0;
    if (observe(dir, 1, 0, ro, &log_bytes, w2, sizeof w2)) {
        corrupt = 1;
        snprintf(why, sizeof why, "%s", w2);
    } else if (raw_size > log_bytes) {
        T->torn++; /* the kill cut a line: the reopen must ignore / cut it */
    }
    if (observe(dir, 0, 1, rw, &log_bytes, w2, sizeof w2)) {
        if (!corrupt) snprintf(why, sizeof why, "%s", w2);
        corrupt = 1;
    }
    if (!corrupt) {
        for (unsigned i = 0; i < NIDS; i++)
            if (ro[i] != rw[i]) {
                corrupt = 1;
                snprintf(why, sizeof why, "d%04u: read-only reopen sees %lld, writable reopen sees %lld", i,
                         (long long)ro[i], (long long)rw[i]);
                break;
            }
    }
    char tl[512];
    if (temp_files(dir, tl, sizeof tl)) {
        T->temp_left++;
#if CRASH_FILES
        if (!corrupt) snprintf(why, sizeof why, "temp files present after a writable reopen: %s", tl);
        corrupt = 1;
#else
        if (g_verbose) printf("note %s: temp files present after a writable reopen: %s\n", name, tl);
#endif
    }
#if CRASH_FILES
    {
        /* files.state names the cache after the writable reopen's commit */
        char sp[4300];
        snprintf(sp, sizeof sp, "%s/collections/" COLL "/meta/files.state", dir);
        struct stat sst;
        if (stat(sp, &sst) != 0) {
            if (!corrupt) snprintf(why, sizeof why, "no files.state after a writable reopen");
            corrupt = 1;
        }
    }
#endif

    /* Compare with the model. */
    unsigned lost = 0, unexpected = 0;
    int nonprefix = 0;
    if (!corrupt) {
        int64_t *st = malloc(NIDS * sizeof *st);
        uint8_t *ok = calloc(NIDS, 1), *older = calloc(NIDS, 1);
        memcpy(st, base, NIDS * sizeof *st);
        for (unsigned i = 0; i < NIDS; i++)
            if (rw[i] == base[i]) older[i] = 1;
        for (uint64_t s = 0; s < acked; s++) {
            uint32_t id = p->ops[s].id;
            st[id] = op_result(p, (uint32_t)s);
            if (rw[id] == st[id]) older[id] = 1;
        }
        /* st = the acknowledged state. */
        long mismatch = 0;
        for (unsigned i = 0; i < NIDS; i++) {
            ok[i] = rw[i] == st[i];
            mismatch += !ok[i];
        }
        int prefix_found = mismatch == 0;
        for (uint64_t s = acked; s < started; s++) {
            uint32_t id = p->ops[s].id;
            int64_t v = op_result(p, (uint32_t)s);
            if (v == rw[id]) ok[id] = 1;
            mismatch -= st[id] != rw[id];
            st[id] = v;
            mismatch += st[id] != rw[id];
            if (mismatch == 0) prefix_found = 1;
        }
        char first[256] = "";
        for (unsigned i = 0; i < NIDS; i++) {
            if (ok[i]) continue;
            if (older[i]) lost++;
            else unexpected++;
            if (!first[0])
                snprintf(first, sizeof first, "d%04u is %s (version %lld)", i,
                         older[i] ? "older than acknowledged" : "in a state never written", (long long)rw[i]);
        }
        nonprefix = !prefix_found && !lost && !unexpected;
        if (lost || unexpected) {
            snprintf(why, sizeof why, "%u acknowledged documents lost, %u in unexpected states; first: %s", lost,
                     unexpected, first);
        } else if (nonprefix) {
            snprintf(why, sizeof why, "the store equals no prefix of the operations in [%llu, %llu]",
                     (unsigned long long)acked, (unsigned long long)started);
        }
        free(st);
        free(ok);
        free(older);
    }
    T->lost += lost;
    if (corrupt || unexpected) T->corrupt++;
    if (nonprefix) T->nonprefix++;
    /* The files layout may end in a non-prefix state (see crash_files.c). */
    failed |= corrupt || lost || unexpected || (!CRASH_FILES && nonprefix);

    const char *sync = p->sync == ZIPPY_SYNC_ALWAYS ? "ALWAYS" : "FLUSH";
    if (failed) {
        t_failed_count++;
        printf("FAIL %s: %s (sync %s, kill %s at %.1f ms in %s, acked %llu, started %llu)\n", name, why, sync,
               kill_names[p->kill_mode], killed_at / 1000, phase_names[phase], (unsigned long long)acked,
               (unsigned long long)started);
    } else {
        t_passed_count++;
#if CRASH_FILES
        printf("PASS %s (sync %s, kill %s at %.1f ms in %s%s, acked %llu of %llu started ops, %d files, cache %.1f MB)\n",
               name, sync, kill_names[p->kill_mode], killed_at / 1000, phase_names[phase], open_ok ? "" : " before open",
               (unsigned long long)acked, (unsigned long long)started, docs_files(dir), (double)log_bytes / 1048576.0);
#else
        printf("PASS %s (sync %s, kill %s at %.1f ms in %s%s, acked %llu of %llu started ops, log %.1f MB)\n", name,
               sync, kill_names[p->kill_mode], killed_at / 1000, phase_names[phase], open_ok ? "" : " before open",
               (unsigned long long)acked, (unsigned long long)started, (double)log_bytes / 1048576.0);
#endif
    }
    fflush(stdout);
    /* The store as found becomes the baseline of the next round (after a
     * corrupt reopen: best effort, later rounds may fail in cascade). */
    memcpy(base, rw, NIDS * sizeof *base);
    free(ro);
    free(rw);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

int main(void) {
    const char *e;
    unsigned rounds = CRASH_ROUNDS;
    if ((e = getenv("ZIPPY_QUICK")) && *e && strcmp(e, "0")) rounds = 40;
    if ((e = getenv("ZIPPY_CRASH_ROUNDS")) && *e) rounds = (unsigned)strtoul(e, NULL, 10);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if ((e = getenv("ZIPPY_CRASH_SEED")) && *e) seed = strtoull(e, NULL, 0);
    g_verbose = (e = getenv("ZIPPY_CRASH_VERBOSE")) && *e && strcmp(e, "0");
    (void)t_cur_name; /* test.h's RUN() is not used: one line per round */
    (void)t_cur_failed;
    printf(CRASH_NAME ": %u rounds, seed %llu (rerun with ZIPPY_CRASH_SEED=%llu)\n", rounds,
           (unsigned long long)seed, (unsigned long long)seed);

    char *dir = t_tmpdir();
    shared *sh = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    plan p;
    p.steps = malloc(MAX_STEPS * sizeof *p.steps);
    p.ops = malloc(MAX_STEPS * sizeof *p.ops);
    int64_t *base = malloc(NIDS * sizeof *base);
    if (sh == MAP_FAILED || !p.steps || !p.ops || !base) { perror("alloc"); return 2; }

    /* Round 0: half of the ids, written and closed by the parent. */
    {
        zippy_root *root = NULL;
        zippy_coll *c = NULL;
        char id[16];
        zippy_options o = ZIPPY_OPTIONS_INIT;
        o.layout = CRASH_LAYOUT;
        int rc = zippy_root_open(&root, dir, &o);
        if (!rc) rc = zippy_coll_open(&c, root, COLL, &o);
        for (unsigned i = 0; !rc && i < NIDS; i++) {
            base[i] = ABSENT;
            if (i % 2) continue;
            size_t n = make_doc(g_doc, 0, i, i);
            int k = idstr(id, i);
            rc = zippy_put(c, id, (size_t)k, g_doc, n);
            base[i] = vcode(0, i);
        }
        if (!rc) rc = zippy_coll_close(c);
        else zippy_coll_close(c);
        zippy_root_close(root);
        if (rc) {
            printf("FAIL setup: rc %d: %s\n", rc, zippy_errmsg());
            printf("0 passed, 1 failed\n");
            return 1;
        }
    }

    totals T;
    memset(&T, 0, sizeof T);
    double t0 = now_us();
    for (unsigned r = 1; r <= rounds; r++) {
        make_plan(&p, seed, r);
        run_round(dir, &p, base, sh, &T);
    }
    double secs = (now_us() - t0) / 1e6;

    printf("kill moments: in open %u, writing %u, in flush %u, in compaction %u, in close %u, idle %u\n",
           T.by_phase[PH_OPEN], T.by_phase[PH_WRITE], T.by_phase[PH_FLUSH], T.by_phase[PH_COMPACT],
           T.by_phase[PH_CLOSE], T.by_phase[PH_IDLE]);
    printf("ops acknowledged %llu of %llu started; %.1f s; rounds where the child exited on its own: %u\n",
           (unsigned long long)T.acked_ops, (unsigned long long)T.started_ops, secs, T.clean_exits);
    char tl[400] = "";
    for (size_t i = 0; i < NTEMP; i++)
        if (g_temp_seen[i]) {
            size_t l = strlen(tl);
            snprintf(tl + l, sizeof tl - l, "%s%s in %u", l ? ", " : "", strrchr(temp_names[i], '/') ? strrchr(temp_names[i], '/') + 1 : temp_names[i], g_temp_seen[i]);
        }
    printf("torn %s at reopen: %u; temp files left after a writable reopen: %u rounds%s%s%s; "
           "non-prefix states%s: %u; child errors: %u\n", CRASH_FILES ? "cache tails" : "tails found", T.torn, T.temp_left, tl[0] ? " (" : "", tl,
           tl[0] ? ")" : "", CRASH_FILES ? " (allowed)" : "", T.nonprefix, T.child_errors);
    printf("crash points: %u, acknowledged writes lost: %u, corrupt reopens: %u\n", T.kills, T.lost, T.corrupt);
    if (T.kills < rounds) {
        printf("FAIL crash_points: only %u of %u rounds ended in a SIGKILL\n", T.kills, rounds);
        t_failed_count++;
    }
    if (!t_failed_count) t_rm_rf(dir);
    else printf("store kept for inspection: %s\n", dir);
    free(p.steps);
    free(p.ops);
    free(base);
    free(dir);
    TEST_END();
}

#endif
