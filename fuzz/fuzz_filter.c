/* fuzz_filter.c - fuzzes filter parsing/matching and projections.
 *
 * Input: FILTER '\n' DOCUMENT [ '\n' FIELDS ]  (the document runs to the
 * second newline; everything after it is the projection field list).
 * Checks, abort()ing when broken:
 *  - a rejected filter gives ZIPPY_EINVAL and a "filter: " message;
 *  - matching returns 0/1 and allocates nothing;
 *  - {"$not":F} == !F, {"$and":[F,F]} == F, {"$or":[F,{"$not":F}]} == 1;
 *  - a projection is a valid JSON object, and projecting it again with the
 *    same fields gives the same bytes;
 *  - every allocation is freed by the end of the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "query.h"
#include "util.h"

static long g_allocs, g_live;

static void *c_malloc(size_t n) {
    void *p = malloc(n);
    if (p) g_allocs++, g_live++;
    return p;
}
static void *c_realloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (q) {
        g_allocs++;
        if (!p) g_live++;
    }
    return q;
}
static void c_free(void *p) {
    if (p) g_live--;
    free(p);
}
static const zippy_allocator hooks = {c_malloc, c_realloc, c_free};

static void die(const char *what) {
    fprintf(stderr, "fuzz_filter: broken invariant: %s\n", what);
    abort();
}

/* Parses prefix + f + suffix as a filter and matches it; -1 if rejected. */
static int wrapped(const char *pre, const char *f, size_t n, const char *mid,
                   const char *suf, const zj_val *doc) {
    size_t lp = strlen(pre), lm = strlen(mid), ls = strlen(suf);
    size_t tot = lp + n + lm + (lm ? n : 0) + ls;
    char *s = malloc(tot);
    if (!s) return -1;
    char *w = s;
    memcpy(w, pre, lp), w += lp;
    memcpy(w, f, n), w += n;
    if (lm) {
        memcpy(w, mid, lm), w += lm;
        memcpy(w, f, n), w += n;
    }
    memcpy(w, suf, ls);
    zq_filter *q = NULL;
    int m = -1;
    if (zq_filter_parse(&q, s, tot) == ZIPPY_OK) {
        long before = g_allocs;
        m = zq_filter_match(q, doc);
        if (g_allocs != before) die("match allocated");
        zq_filter_free(q);
    }
    free(s);
    return m;
}

static void check_filter(const char *f, size_t n, const zj_val *doc) {
    zq_filter *q = NULL;
    int rc = zq_filter_parse(&q, f, n);
    if (rc != ZIPPY_OK) {
        if (q) die("out set on failure");
        if (rc != ZIPPY_EINVAL || zippy_errcode() != ZIPPY_EINVAL)
            die("filter rejected without ZIPPY_EINVAL");
        if (strncmp(zippy_errmsg(), "filter: ", 8) != 0)
            die("filter error message lacks context");
        return;
    }
    if (!doc) {
        zq_filter_free(q);
        return;
    }
    long before = g_allocs;
    int m = zq_filter_match(q, doc);
    if (g_allocs != before) die("match allocated");
    if (m != 0 && m != 1) die("match not 0/1");
    if (zq_filter_match(q, doc) != m) die("match not deterministic");
    zq_filter_free(q);

    int r = wrapped("{\"$not\":", f, n, "", "}", doc);
    if (r >= 0 && r != !m) die("$not F != !F");
    r = wrapped("{\"$and\":[", f, n, ",", "]}", doc);
    if (r >= 0 && r != m) die("$and [F,F] != F");
    r = wrapped("{\"$or\":[", f, n, ",{\"$not\":", "}]}", doc);
    if (r >= 0 && r != 1) die("$or [F, $not F] != 1");
}

static void check_proj(const char *fields, size_t n, const zj_val *doc) {
    zq_proj *p = NULL;
    int rc = zq_proj_parse(&p, fields, n);
    if (rc != ZIPPY_OK) {
        if (p) die("proj out set on failure");
        if (rc != ZIPPY_EINVAL && rc != ZIPPY_ETOOBIG) die("proj rc");
        if (strncmp(zippy_errmsg(), "fields: ", 8) != 0)
            die("fields error message lacks context");
        return;
    }
    if (doc) {
        for (int with_id = 0; with_id < 2; with_id++) {
            zippy_buf a = ZIPPY_BUF_INIT, b = ZIPPY_BUF_INIT;
            if (zq_proj_apply(p, doc, with_id, &a) != ZIPPY_OK)
                die("proj apply failed");
            if (a.len < 2 || a.ptr[0] != '{' || a.ptr[a.len - 1] != '}')
                die("projection not an object");
            zj_doc *d = zj_doc_new();
            zj_val *v = NULL;
            if (!d) die("zj_doc_new");
            if (zj_parse(d, a.ptr, a.len, &v, NULL) != ZIPPY_OK)
                die("projection is not valid JSON");
            if (zq_proj_apply(p, v, with_id, &b) != ZIPPY_OK)
                die("re-projection failed");
            if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
                die("projection not idempotent");
            zj_doc_free(d);
            zippy_buf_free(&a);
            zippy_buf_free(&b);
        }
    }
    zq_proj_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zippy_set_allocator(&hooks);
    g_live = 0;
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t flen = nl ? (size_t)(nl - s) : size;
    const char *ds = nl ? nl + 1 : NULL;
    size_t dlen = 0;
    const char *fields = NULL;
    size_t fieldslen = 0;
    if (ds) {
        size_t rest = size - flen - 1;
        const char *nl2 = memchr(ds, '\n', rest);
        dlen = nl2 ? (size_t)(nl2 - ds) : rest;
        if (nl2) {
            fields = nl2 + 1;
            fieldslen = rest - dlen - 1;
        }
    }

    zj_doc *d = zj_doc_new();
    if (!d) die("zj_doc_new");
    zj_val *doc = NULL;
    if (ds && zj_parse(d, ds, dlen, &doc, NULL) != ZIPPY_OK) doc = NULL;
    if (!ds) {
        /* no document: match against a small fixed one */
        static const char fixed[] =
            "{\"_id\":\"x\",\"a\":{\"b\":[1,{\"c\":\"s\"}]},\"n\":-1.5e3,"
            "\"t\":[\"u\",\"v\"],\"z\":null,\"f\":false}";
        if (zj_parse(d, fixed, sizeof fixed - 1, &doc, NULL) != ZIPPY_OK)
            die("fixed doc");
    }

    check_filter(s, flen, doc);
    if (fields) check_proj(fields, fieldslen, doc);

    zj_doc_free(d);
    zippy_set_allocator(NULL);
    if (g_live != 0) die("allocations leaked");
    return 0;
}
