/* bench_zippy.c - throughput of libzippy over its public API on the anchor
 * workload (see docs/BENCH.md and ../shared/anchors-bench/README.md).
 *
 *   bench_zippy [-n N] [--1m] [-r RUNS] [--dir DIR] [--gets K] [--keep]
 *               [--tsv FILE] [--no-warmup] [--only PHASES]
 *
 * Records are deterministic JSON objects of about 200 bytes,
 *   {"id":"record_00000001","name":"User 1","email":"user1@corp.example.io",
 *    "age":25,"score":71.7,"active":true,"tags":[...],"metadata":{...}}
 * keyed by their "id" ("record_%08llu"). Record i depends only on (42, i);
 * the bytes are the same as the anchors harness generates, so the numbers
 * of both can be put side by side.
 *
 * Every run does, in this order (each write phase on a fresh store):
 *   warm-up        untimed SYNC_NONE load (page-cache reuse, see the
 *                  anchors README "Noise")
 *   write_nosync   open + N zippy_put + zippy_coll_flush, ZIPPY_SYNC_NONE
 *   write_durable  the same with ZIPPY_SYNC_FLUSH; the timer stops when
 *                  flush returns (every record durable)
 *   close          zippy_coll_close + zippy_root_close after that load
 *   put_jsonl      one zippy_put_jsonl of the N lines (ids given), flush
 *   put_jsonl_id   the same with "_id" inside every line (ids parsed)
 *   child "get"    fresh process: open (ms), 10k random gets (cold; the
 *                  rate includes the open, as in the anchors harness),
 *                  an untimed full scan, 10k other random gets (warm)
 *   child "scan"   fresh process: open + full scan (cold), full scan
 *                  (warm), scan with filter {"age":{"$gt":40}}, scan with
 *                  projection "name,age,metadata.source"
 * Every result is verified: counts, and a checksum over the returned
 * bytes that must equal the generator's (get and plain scans).
 *
 * Internal: bench_zippy --child get|scan DIR N GETS prints result lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zippy.h"

#define SEED 42u
#define COLL "bench"
#define FILTER "{\"age\":{\"$gt\":40}}"
#define FIELDS "name,age,metadata.source"
#define MAX_SAMPLES 64
#define MAX_GROUPS 64

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    fputs("bench_zippy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* Dies with the library's message when rc is an error. */
static void zcheck(int rc, const char *what) {
    if (rc < 0) die("%s: %s (%s)", what, zippy_strerror(rc), zippy_errmsg());
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

/* splitmix64 step */
static uint64_t mix_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Order-independent per document, reads every byte: sum of 8-byte words
 * (tail bytes shifted into place), plus the length. */
static uint64_t doc_sum(const char *p, size_t len) {
    uint64_t acc0 = len, acc1 = 0, w;
    size_t k = 0;
    for (; k + 16 <= len; k += 16) {
        memcpy(&w, p + k, 8);
        acc0 += w;
        memcpy(&w, p + k + 8, 8);
        acc1 += w;
    }
    for (; k + 8 <= len; k += 8) {
        memcpy(&w, p + k, 8);
        acc0 += w;
    }
    for (unsigned sh = 0; k < len; k++, sh += 8) acc1 += (uint64_t)(unsigned char)p[k] << sh;
    return acc0 + acc1 * 0x100000001B3ull;
}

/* ------------------------------------------------------------------ */
/* Record generator                                                    */
/* ------------------------------------------------------------------ */

static const char *const TAG_NAMES[10] = {
    "premium", "verified", "early-adopter", "newsletter", "enterprise",
    "beta-tester", "mobile-user", "power-user", "subscriber", "trial"};
static const char *const SOURCE_NAMES[5] = {"web", "mobile", "api", "import", "referral"};
static const char *const DOMAIN_NAMES[4] = {"example.com", "example.org", "mail.example.net",
                                            "corp.example.io"};

/* Append-only writer into a fixed buffer. */
typedef struct out {
    char *p;
    size_t len, cap;
} out;

static void put_str(out *o, const char *s) {
    size_t n = strlen(s);
    if (o->len + n >= o->cap) die("record buffer too small");
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_u64(out *o, uint64_t v, int width) {
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k < width) tmp[k++] = '0';
    if (o->len + (size_t)k >= o->cap) die("record buffer too small");
    while (k) o->p[o->len++] = tmp[--k];
}

/* Field values of record i (shared by the generator and the filter's
 * expected count). */
typedef struct rec_fields {
    unsigned age, score10, ntags, month, day, tag0, tagstep;
    int active;
    const char *source, *domain;
} rec_fields;

static void rec_fields_of(uint64_t i, rec_fields *f) {
    uint64_t s = ((uint64_t)SEED << 32) ^ (i * 0xD1B54A32D192ED03ull);
    uint64_t a = mix_next(&s), b = mix_next(&s), c = mix_next(&s);
    static const unsigned steps[4] = {1, 3, 7, 9};
    f->age = 18 + (unsigned)(a % 62);
    f->score10 = (unsigned)((a >> 8) % 1001);
    f->active = (int)((a >> 20) & 1);
    f->ntags = 1 + (unsigned)((a >> 24) % 3);
    f->month = 1 + (unsigned)((a >> 32) % 12);
    f->day = 1 + (unsigned)((a >> 40) % 28);
    f->source = SOURCE_NAMES[(a >> 48) % 5];
    f->domain = DOMAIN_NAMES[(c >> 8) % 4];
    f->tag0 = (unsigned)(b % 10);
    f->tagstep = steps[(b >> 8) % 4];
}

static size_t format_id(uint64_t i, char *buf) {
    out o = {buf, 0, 32};
    put_str(&o, "record_");
    put_u64(&o, i, 8);
    buf[o.len] = 0;
    return o.len;
}

/* Writes record i (1-based) into buf; with_id != 0 puts "_id":"<id>" first.
 * Returns the length (no newline, NUL-terminated). */
static size_t gen_doc(uint64_t i, int with_id, char *buf, size_t cap) {
    rec_fields f;
    rec_fields_of(i, &f);
    out o = {buf, 0, cap};
    put_str(&o, "{");
    if (with_id) {
        put_str(&o, "\"_id\":\"record_");
        put_u64(&o, i, 8);
        put_str(&o, "\",");
    }
    put_str(&o, "\"id\":\"record_");
    put_u64(&o, i, 8);
    put_str(&o, "\",\"name\":\"User ");
    put_u64(&o, i, 1);
    put_str(&o, "\",\"email\":\"user");
    put_u64(&o, i, 1);
    put_str(&o, "@");
    put_str(&o, f.domain);
    put_str(&o, "\",\"age\":");
    put_u64(&o, f.age, 1);
    put_str(&o, ",\"score\":");
    put_u64(&o, f.score10 / 10, 1);
    put_str(&o, ".");
    put_u64(&o, f.score10 % 10, 1);
    put_str(&o, f.active ? ",\"active\":true,\"tags\":[" : ",\"active\":false,\"tags\":[");
    for (unsigned t = 0; t < f.ntags; t++) {
        put_str(&o, t ? ",\"" : "\"");
        put_str(&o, TAG_NAMES[(f.tag0 + t * f.tagstep) % 10]);
        put_str(&o, "\"");
    }
    put_str(&o, "],\"metadata\":{\"created\":\"2025-");
    put_u64(&o, f.month, 2);
    put_str(&o, "-");
    put_u64(&o, f.day, 2);
    put_str(&o, "\",\"source\":\"");
    put_str(&o, f.source);
    put_str(&o, "\"}}");
    buf[o.len] = 0;
    return o.len;
}

/* All N records in one arena. */
typedef struct dataset {
    size_t n;
    char *arena;
    const char **id, **doc;
    size_t *idlen, *len;
    uint64_t bytes; /* sum of doc lengths */
} dataset;

#define REC_SLOT 320

static void dataset_make(dataset *d, size_t n) {
    d->n = n;
    d->arena = xmalloc(n * REC_SLOT);
    d->id = xmalloc(n * sizeof *d->id);
    d->doc = xmalloc(n * sizeof *d->doc);
    d->idlen = xmalloc(n * sizeof *d->idlen);
    d->len = xmalloc(n * sizeof *d->len);
    d->bytes = 0;
    for (size_t k = 0; k < n; k++) {
        char *slot = d->arena + k * REC_SLOT;
        d->id[k] = slot;
        d->idlen[k] = format_id(k + 1, slot);
        char *doc = slot + 32;
        d->doc[k] = doc;
        d->len[k] = gen_doc(k + 1, 0, doc, REC_SLOT - 32);
        d->bytes += d->len[k];
    }
}

static void dataset_free(dataset *d) {
    free(d->arena);
    free(d->id);
    free(d->doc);
    free(d->idlen);
    free(d->len);
    memset(d, 0, sizeof *d);
}

/* JSONL text of all records (with_id: "_id" first in every line). */
static char *make_jsonl(size_t n, int with_id, size_t *outlen) {
    size_t cap = n * (REC_SLOT + 32) + 1, len = 0;
    char *buf = xmalloc(cap);
    for (size_t k = 0; k < n; k++) {
        len += gen_doc(k + 1, with_id, buf + len, cap - len);
        buf[len++] = '\n';
    }
    *outlen = len;
    return buf;
}

/* Random ids in [1, n]: pass 0 = draws [0, k), pass 1 = draws [k, 2k). */
static void random_ids(size_t n, unsigned pass, size_t k, uint64_t *v) {
    uint64_t s = SEED;
    for (size_t j = 0; j < (size_t)pass * k; j++) (void)mix_next(&s);
    for (size_t j = 0; j < k; j++) v[j] = 1 + mix_next(&s) % n;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (dir) {
            struct dirent *e;
            while ((e = readdir(dir))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(dir);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *q = tmp + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(tmp, 0755);
            *q = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST) die("mkdir %s: %s", path, strerror(errno));
}

static long long dir_bytes(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return 0;
    if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
    long long total = 0;
    DIR *dir = opendir(path);
    if (!dir) return 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        total += dir_bytes(sub);
    }
    closedir(dir);
    return total;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

/* A result line: "R <phase> <n> <count> <bytes> <seconds>"; count 0 means
 * "report the time" (open, close). */
static void emit(FILE *f, const char *phase, size_t n, uint64_t count, uint64_t bytes, double secs) {
    fprintf(f, "R\t%s\t%zu\t%llu\t%llu\t%.9f\n", phase, n, (unsigned long long)count,
            (unsigned long long)bytes, secs);
    fflush(f);
}

typedef struct group {
    char phase[48];
    size_t n;
    int k;
    uint64_t count;
    double secs[MAX_SAMPLES], bytes[MAX_SAMPLES];
} group;

static group G[MAX_GROUPS];
static int ngroups;
static FILE *g_tsv;

static void record(const char *phase, size_t n, uint64_t count, uint64_t bytes, double secs) {
    if (g_tsv) emit(g_tsv, phase, n, count, bytes, secs);
    group *g = NULL;
    for (int i = 0; i < ngroups; i++)
        if (G[i].n == n && !strcmp(G[i].phase, phase)) g = &G[i];
    if (!g) {
        if (ngroups == MAX_GROUPS) die("too many result groups");
        g = &G[ngroups++];
        snprintf(g->phase, sizeof g->phase, "%s", phase);
        g->n = n;
    }
    if (g->k == MAX_SAMPLES) return;
    g->count = count;
    g->secs[g->k] = secs;
    g->bytes[g->k] = (double)bytes;
    g->k++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int k) {
    double t[MAX_SAMPLES];
    memcpy(t, v, sizeof(double) * (size_t)k);
    qsort(t, (size_t)k, sizeof(double), cmp_double);
    return k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
}

static const char *human(double x, char *buf, size_t cap) {
    if (x >= 1e6) snprintf(buf, cap, "%.2fM", x / 1e6);
    else if (x >= 1e5) snprintf(buf, cap, "%.0fk", x / 1e3);
    else if (x >= 1e3) snprintf(buf, cap, "%.1fk", x / 1e3);
    else snprintf(buf, cap, "%.0f", x);
    return buf;
}

static const struct {
    const char *phase, *label;
} LABELS[] = {
    {"write_nosync", "bulk write, SYNC_NONE (open+put+flush)"},
    {"write_durable", "bulk write, durable (open+put+flush)"},
    {"close_after_durable", "close after durable write"},
    {"put_jsonl", "put_jsonl import, ids given, durable"},
    {"put_jsonl_id", "put_jsonl import, \"_id\" in lines, durable"},
    {"open_cold", "open in a fresh process"},
    {"get_cold", "cold: open + 10k random gets"},
    {"get_cold_only", "cold: the 10k gets alone"},
    {"get_warm", "warm: 10k random gets after a scan"},
    {"scan_cold", "full scan, fresh process (incl. open)"},
    {"scan_warm", "full scan, warm"},
    {"scan_filter", "scan, filter " FILTER},
    {"scan_project", "scan, projection \"" FIELDS "\""},
};

static void print_table(size_t n, int runs) {
    int any = 0;
    for (int i = 0; i < ngroups; i++) any |= G[i].n == n;
    if (!any) return;
    printf("\n### zippy, N=%zu: median of %d runs\n\n", n, runs);
    printf("| phase | median | min | max | spread | MB/s |\n|---|---:|---:|---:|---:|---:|\n");
    for (size_t l = 0; l < sizeof LABELS / sizeof LABELS[0]; l++) {
        for (int i = 0; i < ngroups; i++) {
            group *g = &G[i];
            if (g->n != n || strcmp(g->phase, LABELS[l].phase) || !g->k) continue;
            double lo = g->secs[0], hi = g->secs[0];
            for (int j = 1; j < g->k; j++) {
                lo = g->secs[j] < lo ? g->secs[j] : lo;
                hi = g->secs[j] > hi ? g->secs[j] : hi;
            }
            double md = median_of(g->secs, g->k);
            double spread = md > 0 ? 100 * (hi - lo) / md : 0;
            if (!g->count) {
                printf("| %s | %.2f ms | %.2f ms | %.2f ms | %.0f%% | – |\n", LABELS[l].label, 1e3 * md,
                       1e3 * lo, 1e3 * hi, spread);
            } else {
                char a[32], b[32], c[32];
                double rate[MAX_SAMPLES], mbs[MAX_SAMPLES];
                for (int j = 0; j < g->k; j++) {
                    rate[j] = (double)g->count / g->secs[j];
                    mbs[j] = g->bytes[j] / g->secs[j] / 1e6;
                }
                /* fastest run = smallest time */
                printf("| %s | %s rec/s | %s | %s | %.0f%% | %.0f |\n", LABELS[l].label,
                       human(median_of(rate, g->k), a, sizeof a), human((double)g->count / hi, b, sizeof b),
                       human((double)g->count / lo, c, sizeof c), spread, median_of(mbs, g->k));
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Store helpers                                                       */
/* ------------------------------------------------------------------ */

static void store_open(const char *dir, unsigned flags, zippy_sync_mode sync, zippy_root **root,
                       zippy_coll **coll) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = flags;
    o.sync = sync;
    zcheck(zippy_root_open(root, dir, &o), "zippy_root_open");
    zcheck(zippy_coll_open(coll, *root, COLL, NULL), "zippy_coll_open");
}

static void store_close(zippy_root *root, zippy_coll *coll) {
    zcheck(zippy_coll_close(coll), "zippy_coll_close");
    zippy_root_close(root);
}

/* Fresh store in dir, all records put one by one, flushed. Returns the
 * seconds from before the open to the return of the flush; the store is
 * left open in *root / *coll. */
static double load_puts(const dataset *d, const char *dir, zippy_sync_mode sync, zippy_root **root,
                        zippy_coll **coll) {
    rm_rf(dir);
    double t0 = now_s();
    store_open(dir, ZIPPY_OPEN_CREATE, sync, root, coll);
    for (size_t k = 0; k < d->n; k++)
        zcheck(zippy_put(*coll, d->id[k], d->idlen[k], d->doc[k], d->len[k]), "zippy_put");
    zcheck(zippy_coll_flush(*coll), "zippy_coll_flush");
    return now_s() - t0;
}

static void check_count(zippy_coll *coll, size_t n, const char *what) {
    uint64_t c = 0;
    zcheck(zippy_count(coll, &c), "zippy_count");
    if (c != n) die("%s: count %llu, expected %zu", what, (unsigned long long)c, n);
}

/* ------------------------------------------------------------------ */
/* Child phases (fresh processes)                                      */
/* ------------------------------------------------------------------ */

typedef struct idset {
    char (*buf)[32];
    size_t *len;
    uint64_t expect; /* sum of doc_sum over the expected documents */
    size_t k;
} idset;

static void idset_make(idset *s, size_t n, unsigned pass, size_t k) {
    uint64_t *num = xmalloc(k * sizeof *num);
    char doc[REC_SLOT];
    s->buf = xmalloc(k * sizeof *s->buf);
    s->len = xmalloc(k * sizeof *s->len);
    s->k = k;
    s->expect = 0;
    random_ids(n, pass, k, num);
    for (size_t j = 0; j < k; j++) {
        s->len[j] = format_id(num[j], s->buf[j]);
        s->expect += doc_sum(doc, gen_doc(num[j], 0, doc, sizeof doc));
    }
    free(num);
}

static void idset_free(idset *s) {
    free(s->buf);
    free(s->len);
}

/* k gets into one reused buffer; every document must start with its id and
 * the checksums must add up to the generator's. */
static uint64_t run_gets(zippy_coll *coll, const idset *s, zippy_buf *buf, const char *what) {
    uint64_t sum = 0, bytes = 0;
    size_t bad = 0;
    for (size_t j = 0; j < s->k; j++) {
        zcheck(zippy_get(coll, s->buf[j], s->len[j], 0, buf), "zippy_get");
        if (buf->len < 8 + s->len[j] || memcmp(buf->ptr + 7, s->buf[j], s->len[j])) bad++;
        sum += doc_sum(buf->ptr, buf->len);
        bytes += buf->len;
    }
    if (bad || sum != s->expect) die("%s: %zu documents with a wrong id, checksum %s", what, bad,
                                     sum == s->expect ? "ok" : "MISMATCH");
    return bytes;
}

typedef struct scan_result {
    uint64_t rows, bytes, sum;
} scan_result;

static scan_result run_scan(zippy_coll *coll, const char *filter, const char *fields) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = filter;
    so.fields = fields;
    zippy_scan *sc = NULL;
    zcheck(zippy_scan_open(&sc, coll, (filter || fields) ? &so : NULL), "zippy_scan_open");
    scan_result r = {0, 0, 0};
    const char *id, *doc;
    size_t idlen, doclen;
    int rc;
    while ((rc = zippy_scan_next(sc, &id, &idlen, &doc, &doclen)) == 1) {
        r.rows++;
        r.bytes += doclen;
        r.sum += doc_sum(doc, doclen);
    }
    zcheck(rc, "zippy_scan_next");
    zippy_scan_close(sc);
    return r;
}

static uint64_t expected_scan_sum(size_t n) {
    char doc[REC_SLOT];
    uint64_t s = 0;
    for (size_t i = 1; i <= n; i++) s += doc_sum(doc, gen_doc(i, 0, doc, sizeof doc));
    return s;
}

static uint64_t expected_filter_rows(size_t n) {
    uint64_t c = 0;
    rec_fields f;
    for (size_t i = 1; i <= n; i++) {
        rec_fields_of(i, &f);
        c += f.age > 40;
    }
    return c;
}

static void child_get(const char *dir, size_t n, size_t gets) {
    idset cold, warm;
    idset_make(&cold, n, 0, gets);
    idset_make(&warm, n, 1, gets);
    zippy_buf buf = ZIPPY_BUF_INIT;
    zippy_root *root;
    zippy_coll *coll;
    double t0 = now_s();
    store_open(dir, ZIPPY_OPEN_READONLY, ZIPPY_SYNC_NONE, &root, &coll);
    double t1 = now_s();
    uint64_t bytes = run_gets(coll, &cold, &buf, "cold gets");
    double t2 = now_s();
    emit(stdout, "open_cold", n, 0, 0, t1 - t0);
    emit(stdout, "get_cold", n, gets, bytes, t2 - t0);
    emit(stdout, "get_cold_only", n, gets, bytes, t2 - t1);
    scan_result warmup = run_scan(coll, NULL, NULL); /* touch everything once */
    if (warmup.rows != n) die("warm-up scan: %llu rows, expected %zu", (unsigned long long)warmup.rows, n);
    double t3 = now_s();
    bytes = run_gets(coll, &warm, &buf, "warm gets");
    double t4 = now_s();
    emit(stdout, "get_warm", n, gets, bytes, t4 - t3);
    store_close(root, coll);
    zippy_buf_free(&buf);
    idset_free(&cold);
    idset_free(&warm);
}

static void child_scan(const char *dir, size_t n) {
    uint64_t want = expected_scan_sum(n), want_filter = expected_filter_rows(n);
    zippy_root *root;
    zippy_coll *coll;
    double t0 = now_s();
    store_open(dir, ZIPPY_OPEN_READONLY, ZIPPY_SYNC_NONE, &root, &coll);
    scan_result r = run_scan(coll, NULL, NULL);
    double t1 = now_s();
    if (r.rows != n || r.sum != want)
        die("cold scan: %llu rows of %zu, checksum %s", (unsigned long long)r.rows, n,
            r.sum == want ? "ok" : "MISMATCH");
    emit(stdout, "scan_cold", n, r.rows, r.bytes, t1 - t0);

    t0 = now_s();
    r = run_scan(coll, NULL, NULL);
    t1 = now_s();
    if (r.rows != n || r.sum != want) die("warm scan: wrong rows or checksum");
    emit(stdout, "scan_warm", n, r.rows, r.bytes, t1 - t0);

    t0 = now_s();
    r = run_scan(coll, FILTER, NULL);
    t1 = now_s();
    if (r.rows != want_filter)
        die("filter scan: %llu rows, expected %llu", (unsigned long long)r.rows, (unsigned long long)want_filter);
    /* rate = documents examined per second (all n), bytes = rows returned */
    emit(stdout, "scan_filter", n, n, r.bytes, t1 - t0);

    t0 = now_s();
    r = run_scan(coll, NULL, FIELDS);
    t1 = now_s();
    if (r.rows != n) die("projection scan: %llu rows, expected %zu", (unsigned long long)r.rows, n);
    emit(stdout, "scan_project", n, r.rows, r.bytes, t1 - t0);
    store_close(root, coll);
}

/* Runs "self --child <what> dir n gets" and records its result lines. */
static void spawn_child(const char *self, const char *what, const char *dir, size_t n, size_t gets) {
    int fds[2];
    if (pipe(fds)) die("pipe: %s", strerror(errno));
    char nbuf[32], gbuf[32];
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    snprintf(gbuf, sizeof gbuf, "%zu", gets);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "--child", what, dir, nbuf, gbuf, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char phase[64];
        size_t cn;
        unsigned long long count, bytes;
        double secs;
        if (sscanf(line, "R\t%63s\t%zu\t%llu\t%llu\t%lf", phase, &cn, &count, &bytes, &secs) == 5)
            record(phase, cn, count, bytes, secs);
    }
    if (f) fclose(f);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) die("child %s failed (status %d)", what, st);
}

/* ------------------------------------------------------------------ */
/* One N                                                               */
/* ------------------------------------------------------------------ */

typedef struct config {
    int runs, warmup, keep;
    size_t gets;
    const char *dir, *only;
    char self[4096];
} config;

static int want(const config *c, const char *phase) {
    if (!c->only) return 1;
    const char *p = c->only;
    size_t len = strlen(phase);
    while ((p = strstr(p, phase))) {
        if ((p == c->only || p[-1] == ',') && (p[len] == 0 || p[len] == ',')) return 1;
        p += len;
    }
    return 0;
}

static void bench_n(const config *cf, size_t n) {
    char base[4096], d_nosync[4200], d_durable[4200], d_jsonl[4200];
    snprintf(base, sizeof base, "%s/%zu", cf->dir, n);
    snprintf(d_nosync, sizeof d_nosync, "%s/nosync", base);
    snprintf(d_durable, sizeof d_durable, "%s/durable", base);
    snprintf(d_jsonl, sizeof d_jsonl, "%s/jsonl", base);
    mkdir_p(base);

    double t = now_s();
    dataset d;
    dataset_make(&d, n);
    size_t jl_len = 0, jl_id_len = 0;
    char *jl = want(cf, "put_jsonl") ? make_jsonl(n, 0, &jl_len) : NULL;
    char *jl_id = want(cf, "put_jsonl_id") ? make_jsonl(n, 1, &jl_id_len) : NULL;
    fprintf(stderr, "N=%zu: %.2f MB of JSON (%.1f B/doc), generated in %.2f s\n", n, (double)d.bytes / 1e6,
            (double)d.bytes / (double)n, now_s() - t);

    zippy_root *root;
    zippy_coll *coll;
    int have_durable = 0;
    for (int r = 0; r < cf->runs; r++) {
        double rs = now_s();
        if (cf->warmup) {
            load_puts(&d, d_nosync, ZIPPY_SYNC_NONE, &root, &coll);
            store_close(root, coll);
        }
        if (want(cf, "write_nosync")) {
            double s = load_puts(&d, d_nosync, ZIPPY_SYNC_NONE, &root, &coll);
            check_count(coll, n, "write_nosync");
            store_close(root, coll);
            record("write_nosync", n, n, d.bytes, s);
        }
        rm_rf(d_nosync);
        if (want(cf, "write_durable") || !have_durable) {
            double s = load_puts(&d, d_durable, ZIPPY_SYNC_FLUSH, &root, &coll);
            check_count(coll, n, "write_durable");
            double c0 = now_s();
            store_close(root, coll);
            double c1 = now_s();
            if (want(cf, "write_durable")) {
                record("write_durable", n, n, d.bytes, s);
                record("close_after_durable", n, 0, 0, c1 - c0);
            }
            have_durable = 1;
        }
        if (jl) {
            rm_rf(d_jsonl);
            uint64_t written = 0;
            double t0 = now_s();
            store_open(d_jsonl, ZIPPY_OPEN_CREATE, ZIPPY_SYNC_FLUSH, &root, &coll);
            zcheck(zippy_put_jsonl(coll, jl, jl_len, d.id, d.idlen, n, &written), "zippy_put_jsonl");
            zcheck(zippy_coll_flush(coll), "zippy_coll_flush");
            double t1 = now_s();
            if (written != n) die("put_jsonl wrote %llu of %zu", (unsigned long long)written, n);
            check_count(coll, n, "put_jsonl");
            store_close(root, coll);
            record("put_jsonl", n, n, jl_len, t1 - t0);
        }
        if (jl_id) {
            rm_rf(d_jsonl);
            uint64_t written = 0;
            double t0 = now_s();
            store_open(d_jsonl, ZIPPY_OPEN_CREATE, ZIPPY_SYNC_FLUSH, &root, &coll);
            zcheck(zippy_put_jsonl(coll, jl_id, jl_id_len, NULL, NULL, 0, &written), "zippy_put_jsonl");
            zcheck(zippy_coll_flush(coll), "zippy_coll_flush");
            double t1 = now_s();
            if (written != n) die("put_jsonl (_id) wrote %llu of %zu", (unsigned long long)written, n);
            check_count(coll, n, "put_jsonl_id");
            store_close(root, coll);
            record("put_jsonl_id", n, n, jl_id_len, t1 - t0);
        }
        rm_rf(d_jsonl);
        if (want(cf, "get")) spawn_child(cf->self, "get", d_durable, n, cf->gets);
        if (want(cf, "scan")) spawn_child(cf->self, "scan", d_durable, n, cf->gets);
        fprintf(stderr, "  N=%zu run %d/%d: %.1f s\n", n, r + 1, cf->runs, now_s() - rs);
    }
    if (have_durable) fprintf(stderr, "  size on disk after the durable load: %.1f MB\n", (double)dir_bytes(d_durable) / 1e6);
    if (!cf->keep) rm_rf(base);
    free(jl);
    free(jl_id);
    dataset_free(&d);
}

static void usage(void) __attribute__((noreturn));
static void usage(void) {
    fprintf(stderr,
            "usage: bench_zippy [-n N] [--1m] [-r RUNS] [--dir DIR] [--gets K] [--keep]\n"
            "                   [--tsv FILE] [--no-warmup] [--only PHASES]\n"
            "  -n N         records (default 100000)\n"
            "  --1m         also run N=1,000,000\n"
            "  -r RUNS      runs per N (default 5 at N<=100k, 3 above); medians reported\n"
            "  --dir DIR    where stores are written (default build/bench-data)\n"
            "  --gets K     random gets per pass (default 10000)\n"
            "  --keep       keep the stores\n"
            "  --tsv FILE   also append every measurement as a result line to FILE\n"
            "  --no-warmup  skip the untimed warm-up load before each run\n"
            "  --only LIST  comma list of write_nosync,write_durable,put_jsonl,\n"
            "               put_jsonl_id,get,scan (default all)\n");
    exit(1);
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "--child")) {
        size_t n = strtoull(argv[4], NULL, 10), gets = strtoull(argv[5], NULL, 10);
        if (!n || !gets) usage();
        if (!strcmp(argv[2], "get")) child_get(argv[3], n, gets);
        else if (!strcmp(argv[2], "scan")) child_scan(argv[3], n);
        else usage();
        return 0;
    }
    config cf = {0, 1, 0, 10000, "build/bench-data", NULL, {0}};
    size_t n = 100000, extra = 0;
    const char *tsv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-n") && more) n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--1m")) extra = 1000000;
        else if (!strcmp(a, "-r") && more) cf.runs = atoi(argv[++i]);
        else if (!strcmp(a, "--dir") && more) cf.dir = argv[++i];
        else if (!strcmp(a, "--gets") && more) cf.gets = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--keep")) cf.keep = 1;
        else if (!strcmp(a, "--tsv") && more) tsv = argv[++i];
        else if (!strcmp(a, "--no-warmup")) cf.warmup = 0;
        else if (!strcmp(a, "--only") && more) cf.only = argv[++i];
        else usage();
    }
    if (!n || !cf.gets || cf.runs < 0 || cf.runs > MAX_SAMPLES) usage();
    if (extra == n) extra = 0;
    ssize_t sl = readlink("/proc/self/exe", cf.self, sizeof cf.self - 1);
    if (sl <= 0) die("readlink /proc/self/exe: %s", strerror(errno));
    cf.self[sl] = 0;
    if (tsv && !(g_tsv = fopen(tsv, "a"))) die("cannot open %s: %s", tsv, strerror(errno));
    mkdir_p(cf.dir);

    printf("zippy %s bench: %zu random gets per pass, filter %s, projection \"%s\"\n", zippy_version(), cf.gets,
           FILTER, FIELDS);
    fflush(stdout);
    size_t ns[2] = {n, extra};
    int runs_used[2] = {0, 0};
    for (int j = 0; j < 2; j++) {
        if (!ns[j]) continue;
        config c = cf;
        if (!c.runs) c.runs = ns[j] <= 100000 ? 5 : 3;
        runs_used[j] = c.runs;
        bench_n(&c, ns[j]);
    }
    for (int j = 0; j < 2; j++)
        if (ns[j]) print_table(ns[j], runs_used[j]);
    printf("\nrec/s = records per second (scan_filter: documents examined per second);\n"
           "MB/s = bytes of JSON passed in or returned per second (1 MB = 10^6 B).\n"
           "min/max are the slowest and fastest runs; spread = (max-min)/median of the times.\n");
    if (g_tsv) fclose(g_tsv);
    return 0;
}
