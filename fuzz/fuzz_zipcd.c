/* fuzz_zipcd.c - the in-place ZIP reader (src/zipread.c) on arbitrary bytes.
 *
 * zr_open_mem parses the input; besides "no crash, no hang, no leak" the
 * target aborts when a promise of zipread.h is broken:
 *  - the result is ZIPPY_OK or one of the documented codes, with that code
 *    and a message naming the archive; *out is NULL on failure;
 *  - on success every entry has a valid name (zr_name_problem), is_dir
 *    matching its trailing '/', a method of 0 or 8, STORE sizes equal, its
 *    data inside the input and before the others' (no two entries'
 *    data ranges overlap), and zr_find returns it;
 *  - the path order is sorted with no duplicate keys, zr_prefix_range and
 *    zr_list_children agree with it;
 *  - zr_entry_bytes (entries up to 16 MiB) gives exactly usize bytes (STORE:
 *    a pointer into the input at data_off) or ZIPPY_ECORRUPT / ENOMEM.
 * Replayed from fuzz/corpus/fuzz_zipcd/ by `make fuzzers` + run_tests.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "zipread.h"
#include "zippy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LABEL "fuzz.zds"

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_zipcd: %s: %s\n", what, detail);
    abort();
}

typedef struct range {
    uint64_t start, end;
} range;

static int range_cmp(const void *pa, const void *pb) {
    const range *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* Byte order of keys (names less a directory's '/') with '/' first. */
static int key_cmp(const zr_entry *a, const zr_entry *b) {
    size_t la = a->name_len - a->is_dir, lb = b->name_len - b->is_dir;
    for (size_t i = 0; i < la && i < lb; i++) {
        unsigned char x = (unsigned char)a->name[i], y = (unsigned char)b->name[i];
        if (x == y) continue;
        if (x == '/') return -1;
        if (y == '/') return 1;
        return x < y ? -1 : 1;
    }
    return la < lb ? -1 : la > lb;
}

static void check_entries(const zr_archive *a, const uint8_t *data, size_t size) {
    size_t n = zr_count(a);
    range *r = calloc(n ? n : 1, sizeof *r);
    if (!r) die("out of memory", "ranges");
    for (size_t i = 0; i < n; i++) {
        const zr_entry *e = zr_entry_at(a, i);
        if (!e || !e->name) die("missing entry", "");
        if (strlen(e->name) != e->name_len) die("name length", e->name);
        const char *bad = zr_name_problem(e->name, e->name_len);
        if (bad) die(bad, e->name);
        if (e->is_dir != (e->name[e->name_len - 1] == '/')) die("is_dir", e->name);
        if (e->is_dir && e->usize) die("directory with data", e->name);
        if (e->method != ZR_STORE && e->method != ZR_DEFLATE) die("method", e->name);
        if (e->method == ZR_STORE && e->csize != e->usize) die("store sizes", e->name);
        if (e->data_off > size || e->csize > size - e->data_off) die("data outside", e->name);
        if (e->usize > ZR_BOMB_MIN && e->usize / ZR_BOMB_RATIO > e->csize)
            die("ratio", e->name);
        if (zr_find(a, e->name) != e) die("zr_find", e->name);
        if (zr_entry_index(a, e) != i) die("zr_entry_index", e->name);
        r[i].start = e->data_off;
        r[i].end = e->data_off + e->csize;
    }
    qsort(r, n, sizeof *r, range_cmp);
    for (size_t i = 1; i < n; i++)
        if (r[i].start < r[i - 1].end) die("overlapping data", "");
    free(r);

    for (size_t k = 0; k + 1 < n; k++)
        if (key_cmp(zr_sorted_at(a, k), zr_sorted_at(a, k + 1)) >= 0)
            die("path order", zr_sorted_at(a, k)->name);
    size_t first = 99;
    if (zr_prefix_range(a, "", &first) != n || first != 0) die("prefix range", "\"\"");
    char **v = NULL;
    size_t nv = 0;
    int rc = zr_list_children(a, "", &v, &nv);
    if (rc == 0) {
        size_t total = 0;
        for (size_t k = 0; k < nv; k++) {
            size_t cnt = zr_prefix_range(a, v[k], &first);
            size_t len = strlen(v[k]);
            if (v[k][len - 1] == '/') {
                /* The directory's own entry, if any, sits right before. */
                if (first > 0 && !strcmp(zr_sorted_at(a, first - 1)->name, v[k])) total++;
                total += cnt;
                if (cnt == 0 && !zr_find(a, v[k])) die("empty implicit dir", v[k]);
            } else {
                if (!zr_find(a, v[k])) die("child not found", v[k]);
                total++;
            }
        }
        if (total != n) die("children do not cover the archive", "");
    } else if (rc != ZIPPY_ENOMEM) {
        die("zr_list_children", zippy_errmsg());
    }
    zippy_strv_free(v);

    for (size_t i = 0; i < n; i++) {
        const zr_entry *e = zr_entry_at(a, i);
        if (e->usize > (16u << 20)) continue;
        for (int twice = 0; twice < (e->method == ZR_STORE ? 2 : 1); twice++) {
            const char *p = NULL;
            size_t len = 0;
            void *owned = NULL;
            rc = zr_entry_bytes(a, e, &p, &len, &owned);
            if (rc == ZIPPY_ECORRUPT || rc == ZIPPY_ENOMEM) {
                if (zippy_errcode() != rc || !strstr(zippy_errmsg(), LABEL))
                    die("entry error without its message", zippy_errmsg());
                break;
            }
            if (rc) die("zr_entry_bytes", zippy_errmsg());
            if (len != e->usize) die("length != usize", e->name);
            if (e->is_dir) {
                if (owned || len) die("directory bytes", e->name);
            } else if (e->method == ZR_STORE) {
                if (owned || (const uint8_t *)p != data + e->data_off) die("store pointer", e->name);
            } else {
                if (owned != (void *)p || p[len] != 0) die("deflate buffer", e->name);
            }
            z_free(owned);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zr_archive *a = (zr_archive *)&a;
    int rc = zr_open_mem(&a, data, size, LABEL);
    if (rc) {
        if (a) die("failure with a handle", zippy_errmsg());
        if (rc != ZIPPY_ECORRUPT && rc != ZIPPY_EUNSUPPORTED && rc != ZIPPY_ETOOBIG &&
            rc != ZIPPY_ENOMEM)
            die("undocumented result", zippy_errmsg());
        if (zippy_errcode() != rc || !strstr(zippy_errmsg(), "'" LABEL "'"))
            die("failure without its code or message", zippy_errmsg());
        return 0;
    }
    if (!a) die("success without a handle", "");
    check_entries(a, data, size);
    zr_close(a);
    return 0;
}
