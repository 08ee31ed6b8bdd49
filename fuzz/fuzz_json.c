/* fuzz_json.c - libFuzzer target for src/json.c.
 *
 * Invariants checked on every input (abort() on violation):
 *  - zj_parse succeeds <=> zj_validate succeeds, and on failure both report
 *    the same offset and message;
 *  - zj_minify_object succeeds <=> zj_parse succeeds with an object;
 *  - a parsed value written compact (and pretty) re-parses to an equal
 *    value, and writing that again gives the same bytes;
 *  - the minified text re-parses to an equal value and minifies to itself;
 *    without any backslash in the input it equals the compact writer output;
 *  - with ZJ_MIN_STRIP_ID the output equals the value minus its top-level
 *    "_id" members, and the report (has_id, id, members, has_reserved)
 *    matches the DOM;
 *  - zj_line_id agrees with the minifier's report when it accepts a line;
 *  - zj_num_cmp is reflexive, antisymmetric and agrees with the order of
 *    the doubles (strtod is monotonic);
 *  - zippy_json_visit accepts exactly what zj_parse accepts, and its walk,
 *    written back as JSON, equals the compact writer's output;
 *  - zippy_schema_of accepts exactly the objects; the schema text is
 *    canonical (zs_canon of it gives it back) and differs from itself in
 *    nothing (zs_diff is empty).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "schema.h"
#include "util.h"

#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_json: invariant failed: %s (line %d)\n", #c, \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

static zj_doc *g_doc;
static zippy_buf b_w1, b_w2, b_min, b_min2, b_strip, b_vis, b_sch, b_sch2;

/* Visitor that writes the walk back as compact JSON into b_vis. */
static int vis_need_comma[ZJ_MAX_DEPTH + 2], vis_depth, vis_after_key;
static void vis_sep(void) {
    if (vis_after_key) { vis_after_key = 0; return; }
    if (vis_depth > 0) {
        if (vis_need_comma[vis_depth]) REQUIRE(zb_putc(&b_vis, ',') == ZIPPY_OK);
        vis_need_comma[vis_depth] = 1;
    }
}
static int vis_open(char c) {
    vis_sep();
    REQUIRE(vis_depth <= ZJ_MAX_DEPTH);
    vis_need_comma[++vis_depth] = 0;
    return zb_putc(&b_vis, c);
}
static int vb_obj(void *c, size_t n) { (void)c; (void)n; return vis_open('{'); }
static int vb_arr(void *c, size_t n) { (void)c; (void)n; return vis_open('['); }
static int vb_end_obj(void *c) { (void)c; vis_depth--; return zb_putc(&b_vis, '}'); }
static int vb_end_arr(void *c) { (void)c; vis_depth--; return zb_putc(&b_vis, ']'); }
static int vb_key(void *c, const char *k, size_t n) {
    (void)c;
    vis_sep();
    vis_after_key = 1;
    int rc = zj_write_string(&b_vis, k, n);
    return rc ? rc : zb_putc(&b_vis, ':');
}
static int vb_str(void *c, const char *s, size_t n) { (void)c; vis_sep(); return zj_write_string(&b_vis, s, n); }
static int vb_num(void *c, const char *s, size_t n, int is_int) {
    (void)c;
    REQUIRE(!is_int == (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)));
    vis_sep();
    return zb_append(&b_vis, s, n);
}
static int vb_bool(void *c, int b) { (void)c; vis_sep(); return zb_append(&b_vis, b ? "true" : "false", b ? 4 : 5); }
static int vb_null(void *c) { (void)c; vis_sep(); return zb_append(&b_vis, "null", 4); }
static const zippy_json_visitor VIS = {vb_obj, vb_key, vb_end_obj, vb_arr, vb_end_arr, vb_str, vb_num, vb_bool, vb_null};

static int is_id_key(const zj_val *k) {
    return k->len == 3 && memcmp(k->u.str, "_id", 3) == 0;
}

static void check_numbers(const zj_val *v, const zj_val **prev, int depth) {
    if (depth > ZJ_MAX_DEPTH) return;
    if (v->type == ZJ_NUMBER) {
        REQUIRE(zj_num_cmp(v, v) == 0);
        if (*prev) {
            int c = zj_num_cmp(*prev, v);
            REQUIRE(c >= -1 && c <= 1);
            REQUIRE(zj_num_cmp(v, *prev) == -c);
            double a = zj_num_double(*prev), b = zj_num_double(v);
            if (c < 0) REQUIRE(a <= b);
            if (c > 0) REQUIRE(a >= b);
            if (c == 0) REQUIRE(a == b);
        }
        int64_t x;
        if (zj_num_i64(v, &x)) REQUIRE((v->flags & ZJ_NUM_INT) && (double)x == zj_num_double(v));
        *prev = v;
        return;
    }
    if (v->type == ZJ_ARRAY)
        for (uint32_t i = 0; i < v->len; i++) check_numbers(&v->u.items[i], prev, depth + 1);
    if (v->type == ZJ_OBJECT)
        for (uint32_t i = 0; i < v->len; i++)
            check_numbers(&v->u.members[2 * i + 1], prev, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_doc) {
        g_doc = zj_doc_new();
        REQUIRE(g_doc);
    }
    const char *s = (const char *)data;
    zj_doc_reset(g_doc);

    zj_val *v = NULL;
    zj_error e1, e2;
    int rp = zj_parse(g_doc, s, size, &v, &e1);
    int rv = zj_validate(s, size, &e2);
    REQUIRE(rp == ZIPPY_OK || rp == ZIPPY_EINVAL);
    REQUIRE(rp == rv);
    if (rp != ZIPPY_OK) {
        REQUIRE(e1.offset == e2.offset && strcmp(e1.msg, e2.msg) == 0);
        REQUIRE(e1.offset <= size && e1.line >= 1 && e1.col >= 1);
    }

    /* minifier: only objects */
    zj_min_info mi;
    zb_clear(&b_min);
    int rm = zj_minify_object(s, size, 0, &b_min, &mi, NULL);
    REQUIRE(rm == ((rp == ZIPPY_OK && v->type == ZJ_OBJECT) ? ZIPPY_OK : ZIPPY_EINVAL));
    zj_min_info mi2;
    REQUIRE(zj_minify_object(s, size, ZJ_MIN_STRIP_ID, NULL, &mi2, NULL) == rm);
    zb_clear(&b_vis);
    vis_depth = vis_after_key = 0;
    int rvis = zippy_json_visit(s, size, &VIS, NULL);
    REQUIRE(rvis == rp);
    if (rp != ZIPPY_OK) {
        REQUIRE(b_vis.len == 0);
        return 0;
    }

    /* writer round trips */
    zb_clear(&b_w1);
    REQUIRE(zj_write(&b_w1, v, 0) == ZIPPY_OK);
    zj_val *v2;
    REQUIRE(zj_parse(g_doc, b_w1.ptr, b_w1.len, &v2, NULL) == ZIPPY_OK);
    REQUIRE(zj_equal(v, v2) && zj_equal(v2, v));
    zb_clear(&b_w2);
    REQUIRE(zj_write(&b_w2, v2, 0) == ZIPPY_OK);
    REQUIRE(b_w1.len == b_w2.len && memcmp(b_w1.ptr, b_w2.ptr, b_w1.len) == 0);
    zb_clear(&b_w2);
    REQUIRE(zj_write(&b_w2, v, 2) == ZIPPY_OK);
    REQUIRE(zj_parse(g_doc, b_w2.ptr, b_w2.len, &v2, NULL) == ZIPPY_OK);
    REQUIRE(zj_equal(v, v2));

    REQUIRE(vis_depth == 0 && b_vis.len == b_w1.len && memcmp(b_vis.ptr, b_w1.ptr, b_w1.len) == 0);

    const zj_val *prev = NULL;
    check_numbers(v, &prev, 0);

    int rs = zippy_schema_of(s, size, &b_sch);
    REQUIRE(rs == (v->type == ZJ_OBJECT ? ZIPPY_OK : ZIPPY_EINVAL));
    if (v->type != ZJ_OBJECT) return 0;
    REQUIRE(zj_parse(g_doc, b_sch.ptr, b_sch.len, &v2, NULL) == ZIPPY_OK);
    zb_clear(&b_sch2);
    REQUIRE(zs_canon(v2, &b_sch2) == ZIPPY_OK);
    REQUIRE(b_sch2.len == b_sch.len && memcmp(b_sch2.ptr, b_sch.ptr, b_sch.len) == 0);
    zb_clear(&b_sch2);
    REQUIRE(zs_diff(b_sch.ptr, b_sch.len, b_sch.ptr, b_sch.len, &b_sch2) == ZIPPY_OK && b_sch2.len == 0);

    /* minified output */
    REQUIRE(b_min.len <= size);
    REQUIRE(zj_parse(g_doc, b_min.ptr, b_min.len, &v2, NULL) == ZIPPY_OK);
    REQUIRE(zj_equal(v, v2));
    zb_clear(&b_min2);
    REQUIRE(zj_minify_object(b_min.ptr, b_min.len, 0, &b_min2, NULL, NULL) == ZIPPY_OK);
    REQUIRE(b_min2.len == b_min.len && memcmp(b_min2.ptr, b_min.ptr, b_min.len) == 0);
    if (!memchr(s, '\\', size))
        REQUIRE(b_min.len == b_w1.len && memcmp(b_min.ptr, b_w1.ptr, b_w1.len) == 0);

    /* the report matches the DOM */
    uint32_t nid = 0;
    const zj_val *first_id = NULL;
    int reserved = 0;
    for (uint32_t i = 0; i < v->len; i++) {
        const zj_val *k = &v->u.members[2 * i];
        if (is_id_key(k)) {
            if (!first_id) first_id = k + 1;
            nid++;
        }
        if (k->len == 8 && memcmp(k->u.str, "$deleted", 8) == 0) reserved = 1;
    }
    REQUIRE(mi.members == v->len);
    REQUIRE(mi2.members == v->len - nid);
    REQUIRE(mi.has_id == (first_id != NULL) && mi2.has_id == mi.has_id);
    REQUIRE(mi.has_reserved == reserved && mi2.has_reserved == reserved);
    if (first_id) {
        REQUIRE(mi.id_is_string == (first_id->type == ZJ_STRING));
        if (mi.id_is_string) {
            REQUIRE(mi.id_len == first_id->len);
            size_t k = mi.id_len < ZIPPY_ID_MAX ? mi.id_len : ZIPPY_ID_MAX;
            REQUIRE(memcmp(mi.id, first_id->u.str, k) == 0 && mi.id[k] == 0);
            REQUIRE(mi2.id_len == mi.id_len && memcmp(mi2.id, mi.id, k) == 0);
        }
    }

    /* stripped output = the members that are not "_id" */
    zb_clear(&b_strip);
    REQUIRE(zj_minify_object(s, size, ZJ_MIN_STRIP_ID, &b_strip, &mi2, NULL) == ZIPPY_OK);
    REQUIRE(zj_parse(g_doc, b_strip.ptr, b_strip.len, &v2, NULL) == ZIPPY_OK);
    REQUIRE(v2->type == ZJ_OBJECT && v2->len == v->len - nid);
    for (uint32_t i = 0, j = 0; i < v->len; i++) {
        const zj_val *k = &v->u.members[2 * i];
        if (is_id_key(k)) continue;
        REQUIRE(zj_equal(k, &v2->u.members[2 * j]));
        REQUIRE(zj_equal(k + 1, &v2->u.members[2 * j + 1]));
        j++;
    }

    /* the line-id fast path agrees with the report */
    const char *id;
    size_t idlen, rest;
    if (zj_line_id(s, size, &id, &idlen, &rest)) {
        REQUIRE(rest < size && (s[rest] == ',' || s[rest] == '}'));
        REQUIRE(mi.has_id && mi.id_is_string && mi.id_len == idlen);
        size_t k = idlen < ZIPPY_ID_MAX ? idlen : ZIPPY_ID_MAX;
        REQUIRE(memcmp(mi.id, id, k) == 0);
    }
    return 0;
}
