/* bench_json.c - throughput of libzippy's JSON code against cJSON on
 * generated JSONL records (~200 bytes each, deterministic).
 *
 * Usage: bench_json [N [METHOD]]   (N records, default 100000; METHOD runs
 * only the methods whose name contains it, e.g. "parse", for profiling)
 * Prints MB/s and docs/s (best of 5 runs) for zj_parse (+ zj_doc_reset per
 * line), zj_minify_object, zj_validate and cJSON_ParseWithLength +
 * cJSON_Delete, and each one's speed-up over cJSON. A benchmark, not a test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "util.h"

#define RUNS 5

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

static double now(void) {
    struct timespec ts;
    /* thread CPU time: the machine is shared, so wall time would count the
     * time this thread spends descheduled */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *data;
    size_t *off; /* line i is data[off[i] .. off[i+1]-1) (newline excluded) */
    size_t n;
} lines_t;

static void gen(zippy_buf *b, lines_t *L, size_t n) {
    static const char *tags[] = {"trial", "early-adopter", "beta-tester", "premium",
                                 "enterprise", "churned", "vip", "newsletter"};
    static const char *src[] = {"mobile", "web", "api", "import"};
    L->off = malloc((n + 1) * sizeof *L->off);
    for (size_t i = 1; i <= n; i++) {
        L->off[i - 1] = b->len;
        zb_printf(b,
                  "{\"id\":\"record_%08zu\",\"name\":\"User %zu\",\"email\":\"user%zu@corp."
                  "example.io\",\"age\":%u,\"score\":%u.%u,\"active\":%s,\"tags\":[",
                  i, i, i, 18 + rnd(60), rnd(100), rnd(10), rnd(2) ? "true" : "false");
        unsigned nt = 1 + rnd(3);
        for (unsigned t = 0; t < nt; t++)
            zb_printf(b, "%s\"%s\"", t ? "," : "", tags[rnd(8)]);
        zb_printf(b, "],\"metadata\":{\"created\":\"2025-%02u-%02u\",\"source\":\"%s\"}}\n",
                  1 + rnd(12), 1 + rnd(28), src[rnd(4)]);
    }
    L->off[n] = b->len;
    L->data = b->ptr;
    L->n = n;
}

#define LINE(L, i) ((L)->data + (L)->off[i])
#define LLEN(L, i) ((L)->off[(i) + 1] - (L)->off[i] - 1)

static volatile uint64_t sink;

static double run_parse(const lines_t *L) {
    zj_doc *d = zj_doc_new();
    uint64_t acc = 0;
    double t0 = now();
    for (size_t i = 0; i < L->n; i++) {
        zj_val *v;
        zj_doc_reset(d);
        if (zj_parse(d, LINE(L, i), LLEN(L, i), &v, NULL)) {
            fprintf(stderr, "zj_parse failed on line %zu: %s\n", i + 1, zippy_errmsg());
            exit(1);
        }
        acc += v->len;
    }
    double t = now() - t0;
    sink += acc;
    zj_doc_free(d);
    return t;
}

static double run_minify(const lines_t *L) {
    zippy_buf out = ZIPPY_BUF_INIT;
    zj_min_info mi;
    uint64_t acc = 0;
    double t0 = now();
    for (size_t i = 0; i < L->n; i++) {
        zb_clear(&out);
        if (zj_minify_object(LINE(L, i), LLEN(L, i), ZJ_MIN_STRIP_ID, &out, &mi, NULL)) {
            fprintf(stderr, "zj_minify_object failed on line %zu: %s\n", i + 1,
                    zippy_errmsg());
            exit(1);
        }
        acc += out.len + mi.members;
    }
    double t = now() - t0;
    sink += acc;
    zippy_buf_free(&out);
    return t;
}

static double run_validate(const lines_t *L) {
    uint64_t acc = 0;
    double t0 = now();
    for (size_t i = 0; i < L->n; i++) {
        if (zj_validate(LINE(L, i), LLEN(L, i), NULL)) {
            fprintf(stderr, "zj_validate failed on line %zu\n", i + 1);
            exit(1);
        }
        acc++;
    }
    double t = now() - t0;
    sink += acc;
    return t;
}

static double run_cjson(const lines_t *L) {
    uint64_t acc = 0;
    double t0 = now();
    for (size_t i = 0; i < L->n; i++) {
        cJSON *j = cJSON_ParseWithLength(LINE(L, i), LLEN(L, i));
        if (!j) {
            fprintf(stderr, "cJSON failed on line %zu\n", i + 1);
            exit(1);
        }
        acc += (uint64_t)(j->child != NULL);
        cJSON_Delete(j);
    }
    double t = now() - t0;
    sink += acc;
    return t;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    if (n == 0) n = 1;
    zippy_buf b = ZIPPY_BUF_INIT;
    lines_t L;
    gen(&b, &L, n);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += LLEN(&L, i);
    printf("bench_json: %zu records, %.1f MB, %.1f bytes/record (best of %d, thread CPU time)\n", n,
           (double)bytes / 1e6, (double)bytes / (double)n, RUNS);
    printf("sample: %.*s\n", (int)LLEN(&L, 0), LINE(&L, 0));

    struct { const char *name; double (*fn)(const lines_t *); double t; } m[] = {
        {"zj_parse", run_parse, 0},
        {"zj_minify_object", run_minify, 0},
        {"zj_validate", run_validate, 0},
        {"cJSON_Parse+Delete", run_cjson, 0},
    };
    const size_t nm = sizeof m / sizeof *m;
    const char *only = argc > 2 ? argv[2] : NULL;
    /* The methods take turns (one warm-up round, then RUNS rounds, best
     * time kept) so that they all see the same machine conditions. */
    for (size_t i = 0; i < nm; i++) m[i].t = 1e30;
    for (int r = 0; r <= RUNS; r++)
        for (size_t i = 0; i < nm; i++) {
            if (only && !strstr(m[i].name, only)) continue;
            double t = m[i].fn(&L);
            if (r > 0 && t < m[i].t) m[i].t = t;
        }
    if (only) {
        for (size_t i = 0; i < nm; i++)
            if (strstr(m[i].name, only))
                printf("%-20s %10.0f MB/s %12.0f docs/s\n", m[i].name,
                       (double)bytes / m[i].t / 1e6, (double)n / m[i].t);
        zippy_buf_free(&b);
        free(L.off);
        return 0;
    }
    double tc = m[nm - 1].t;
    printf("%-20s %10s %12s %10s\n", "method", "MB/s", "docs/s", "vs cJSON");
    for (size_t i = 0; i < nm; i++)
        printf("%-20s %10.0f %12.0f %9.2fx\n", m[i].name, (double)bytes / m[i].t / 1e6,
               (double)n / m[i].t, tc / m[i].t);
    zippy_buf_free(&b);
    free(L.off);
    return 0;
}
