/* test_schema.c - strict schemas, positional reads (zippy_get_at) and the
 * JSON visitor of the public API. */
#include <pthread.h>

#include "test.h"
#include "zippy.h"

static zippy_buf g_buf = ZIPPY_BUF_INIT, g_id = ZIPPY_BUF_INIT;

static int opencoll(const char *dir, const char *name, int strict, unsigned flags, zippy_root **r, zippy_coll **c) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = flags;
    o.strict = strict;
    int rc = zippy_root_open(r, dir, &o);
    if (rc) return rc;
    rc = zippy_coll_open(c, *r, name, &o);
    if (rc) {
        zippy_root_close(*r);
        *r = NULL;
    }
    return rc;
}
static void closeall(zippy_root *r, zippy_coll *c) {
    zippy_coll_close(c);
    zippy_root_close(r);
}
static int put_s(zippy_coll *c, const char *id, const char *json) {
    return zippy_put(c, id, strlen(id), json, strlen(json));
}
static int schema_s(const char *json) { return zippy_schema_of(json, strlen(json), &g_buf); }

/* ---- JSON visitor: rebuilds compact JSON text ---- */

typedef struct vctx {
    zippy_buf out;
    int first[300]; /* per depth: no item written yet */
    int depth, after_key, stop_at, calls;
} vctx;

static void sep(vctx *v) {
    if (v->after_key) {
        v->after_key = 0;
        return;
    }
    if (v->depth > 0) {
        if (!v->first[v->depth]) {
            char c = ',';
            zippy_buf *b = &v->out;
            b->ptr = realloc(b->ptr, b->len + 2);
            b->ptr[b->len++] = c;
        }
        v->first[v->depth] = 0;
    }
}
static void app(vctx *v, const char *s, size_t n) {
    v->out.ptr = realloc(v->out.ptr, v->out.len + n + 1);
    memcpy(v->out.ptr + v->out.len, s, n);
    v->out.len += n;
    v->out.ptr[v->out.len] = 0;
}
static int tick(vctx *v) { return ++v->calls == v->stop_at ? 42 : 0; }
static int v_bo(void *c, size_t n) {
    vctx *v = c;
    char t[32];
    sep(v);
    snprintf(t, sizeof t, "{#%zu", n);
    app(v, t, strlen(t));
    v->first[++v->depth] = 1;
    return tick(v);
}
static int v_key(void *c, const char *k, size_t n) {
    vctx *v = c;
    sep(v);
    app(v, "K", 1);
    app(v, k, n);
    app(v, ":", 1);
    v->after_key = 1;
    return tick(v);
}
static int v_eo(void *c) {
    vctx *v = c;
    v->depth--;
    app(v, "}", 1);
    return tick(v);
}
static int v_ba(void *c, size_t n) {
    vctx *v = c;
    char t[32];
    sep(v);
    snprintf(t, sizeof t, "[#%zu", n);
    app(v, t, strlen(t));
    v->first[++v->depth] = 1;
    return tick(v);
}
static int v_ea(void *c) {
    vctx *v = c;
    v->depth--;
    app(v, "]", 1);
    return tick(v);
}
static int v_str(void *c, const char *s, size_t n) {
    vctx *v = c;
    sep(v);
    app(v, "S", 1);
    app(v, s, n);
    return tick(v);
}
static int v_num(void *c, const char *s, size_t n, int is_int) {
    vctx *v = c;
    sep(v);
    app(v, is_int ? "I" : "F", 1);
    app(v, s, n);
    return tick(v);
}
static int v_bool(void *c, int b) {
    vctx *v = c;
    sep(v);
    app(v, b ? "true" : "false", b ? 4 : 5);
    return tick(v);
}
static int v_null(void *c) {
    vctx *v = c;
    sep(v);
    app(v, "null", 4);
    return tick(v);
}
static const zippy_json_visitor VIS = {v_bo, v_key, v_eo, v_ba, v_ea, v_str, v_num, v_bool, v_null};

static int visit(const char *json, vctx *v) {
    memset(v, 0, sizeof *v);
    v->stop_at = -1;
    app(v, "", 0);
    return zippy_json_visit(json, strlen(json), &VIS, v);
}

TEST(visit_all_types) {
    vctx v;
    CHECK_EQ(visit("{\"a\":1,\"b\":[true,false,null,-2.5e3],\"c\":{\"d\":\"x\\u00e9\\n\"},\"e\":[]}", &v), 0);
    CHECK_STR(v.out.ptr, "{#4Ka:I1,Kb:[#4true,false,null,F-2.5e3],Kc:{#1Kd:Sx\xc3\xa9\n},Ke:[#0]}");
    free(v.out.ptr);
    CHECK_EQ(visit("  \"top\" ", &v), 0);
    CHECK_STR(v.out.ptr, "Stop");
    free(v.out.ptr);
    /* 2^64 and beyond stay exact text */
    CHECK_EQ(visit("[18446744073709551616,1E400,-0]", &v), 0);
    CHECK_STR(v.out.ptr, "[#3I18446744073709551616,F1E400,I-0]");
    free(v.out.ptr);
}

TEST(visit_embedded_nul_and_dup_keys) {
    vctx v;
    const char *j = "{\"k\":\"a\\u0000b\",\"k\":2}";
    CHECK_EQ(visit(j, &v), 0);
    CHECK_EQ(v.out.len, strlen("{#2Kk:Sa") + 1 + strlen("b,Kk:I2}"));
    CHECK(memcmp(v.out.ptr, "{#2Kk:Sa\0b,Kk:I2}", v.out.len) == 0);
    free(v.out.ptr);
}

TEST(visit_errors_and_stop) {
    vctx v;
    CHECK_EQ(visit("{\"a\":1,}", &v), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "line 1"));
    CHECK_EQ(v.calls, 0); /* nothing visited when invalid */
    free(v.out.ptr);
    CHECK_EQ(visit("[1,2", &v), ZIPPY_EINVAL);
    free(v.out.ptr);
    CHECK_EQ(visit("", &v), ZIPPY_EINVAL);
    free(v.out.ptr);
    memset(&v, 0, sizeof v);
    v.stop_at = 3;
    app(&v, "", 0);
    const char *j = "[1,2,3,4]";
    CHECK_EQ(zippy_json_visit(j, strlen(j), &VIS, &v), 42);
    CHECK_EQ(v.calls, 3);
    free(v.out.ptr);
    zippy_json_visitor bad = VIS;
    bad.null = NULL;
    CHECK_EQ(zippy_json_visit("1", 1, &bad, &v), ZIPPY_EINVAL);
    /* nesting limit */
    char deep[700];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600] = 0;
    CHECK_EQ(visit(deep, &v), ZIPPY_EINVAL);
    free(v.out.ptr);
}

/* A callback may visit again (the arena of the outer walk is in use). */
static int nested_ok;
static int v_str_nested(void *c, const char *s, size_t n) {
    vctx inner;
    (void)c;
    int rc = visit("{\"x\":[1]}", &inner);
    nested_ok = rc == 0 && strcmp(inner.out.ptr, "{#1Kx:[#1I1]}") == 0;
    free(inner.out.ptr);
    return v_str(c, s, n);
}
TEST(visit_reentrant) {
    zippy_json_visitor vis = VIS;
    vis.string = v_str_nested;
    vctx v;
    memset(&v, 0, sizeof v);
    v.stop_at = -1;
    app(&v, "", 0);
    const char *j = "[\"a\",{\"b\":\"c\"}]";
    CHECK_EQ(zippy_json_visit(j, strlen(j), &vis, &v), 0);
    CHECK(nested_ok);
    CHECK_STR(v.out.ptr, "[#2Sa,{#1Kb:Sc}]");
    free(v.out.ptr);
}

/* ---- schema text ---- */

TEST(schema_canonical) {
    CHECK_EQ(schema_s("{\"b\":1,\"a\":\"x\",\"c\":[1,\"y\"],\"d\":null,\"e\":true,\"f\":{\"z\":1.5,\"y\":{}}}"), 0);
    CHECK_STR(g_buf.ptr, "{\"a\":\"string\",\"b\":\"number\",\"c\":\"array\",\"d\":\"null\",\"e\":\"boolean\","
                         "\"f\":{\"y\":{},\"z\":\"number\"}}");
    /* key order does not matter; a repeated key counts once (last wins) */
    CHECK_EQ(schema_s("{\"k\":\"s\",\"k\":false,\"a\":0}"), 0);
    CHECK_STR(g_buf.ptr, "{\"a\":\"number\",\"k\":\"boolean\"}");
    CHECK_EQ(schema_s("{}"), 0);
    CHECK_STR(g_buf.ptr, "{}");
    /* keys with quotes and unicode are escaped as JSON */
    CHECK_EQ(schema_s("{\"q\\\"k\":1,\"\xc3\xa9\":2}"), 0);
    CHECK_STR(g_buf.ptr, "{\"q\\\"k\":\"number\",\"\xc3\xa9\":\"number\"}");
    CHECK_EQ(schema_s("[1]"), ZIPPY_EINVAL);
    CHECK_EQ(schema_s("{\"a\":"), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "malformed"));
}

/* ---- strict collections ---- */

TEST(strict_first_document_fixes_schema) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "s", 1, ZIPPY_OPEN_CREATE, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "no schema yet"));
    CHECK_EQ(put_s(c, "u1", "{\"name\":\"Al\",\"age\":3,\"addr\":{\"city\":\"X\"}}"), 0);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"addr\":{\"city\":\"string\"},\"age\":\"number\",\"name\":\"string\"}");
    /* same schema, other key order and values: accepted */
    CHECK_EQ(put_s(c, "u2", "{\"age\":4.5,\"addr\":{\"city\":\"Y\"},\"name\":\"Bo\"}"), 0);
    /* _id given in the document does not count */
    CHECK_EQ(put_s(c, "u3", "{\"_id\":\"u3\",\"age\":1,\"addr\":{\"city\":\"\"},\"name\":\"\"}"), 0);
    /* a retyped field, a missing one and an unexpected nested one */
    CHECK_EQ(put_s(c, "u4", "{\"age\":\"old\",\"addr\":{\"city\":\"Z\",\"zip\":1}}"), ZIPPY_ESCHEMA);
    const char *m = zippy_errmsg();
    CHECK(strncmp(m, "Schema mismatch:", 16) == 0);
    CHECKF(strstr(m, "field \"age\" is string, the schema has number"), "%s", m);
    CHECKF(strstr(m, "missing field \"name\" (string)"), "%s", m);
    CHECKF(strstr(m, "unexpected field \"addr.zip\" (number)"), "%s", m);
    CHECKF(strstr(m, "\"u4\""), "%s", m);
    CHECK_EQ(zippy_exists(c, "u4", 2), 0);
    uint64_t n;
    CHECK_EQ(zippy_count(c, &n), 0);
    CHECK_EQ(n, 3);
    /* the batch path stops at the offending line */
    const char *jl = "{\"_id\":\"j1\",\"age\":1,\"addr\":{\"city\":\"\"},\"name\":\"\"}\n"
                     "{\"_id\":\"j2\",\"age\":1,\"addr\":null,\"name\":\"\"}\n";
    uint64_t w = 99;
    CHECK_EQ(zippy_put_jsonl(c, jl, strlen(jl), NULL, NULL, 0, &w), ZIPPY_ESCHEMA);
    CHECK_EQ(w, 1);
    CHECKF(strstr(zippy_errmsg(), "field \"addr\" is null, the schema has object"), "%s", zippy_errmsg());
    /* deletes are not checked */
    CHECK_EQ(zippy_delete(c, "u1", 2), 0);
    closeall(r, c);

    /* mode and schema persist; strict=0 on open does not relax it */
    CHECK_EQ(opencoll(dir, "s", 0, 0, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    CHECK_EQ(put_s(c, "u5", "{\"x\":1}"), ZIPPY_ESCHEMA);
    CHECK_EQ(put_s(c, "u5", "{\"name\":\"n\",\"age\":0,\"addr\":{\"city\":\"c\"}}"), 0);
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.strict, 1);
    closeall(r, c);
    size_t sz;
    char p[4200];
    snprintf(p, sizeof p, "%s/collections/s/meta/manifest.json", dir);
    char *man = t_read_file(p, &sz);
    CHECK(man && strstr(man, "\"strict\": true"));
    free(man);
    /* read-only opens see the schema too */
    CHECK_EQ(opencoll(dir, "s", 0, ZIPPY_OPEN_READONLY, &r, &c), 0);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), 0);
    CHECK(strstr(g_buf.ptr, "\"city\""));
    closeall(r, c);
    t_rm_rf(dir);
    free(dir);
}

TEST(strict_on_existing_collection) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "a", 0, ZIPPY_OPEN_CREATE, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 0);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "not strict"));
    CHECK_EQ(put_s(c, "1", "{\"a\":1,\"b\":\"x\"}"), 0);
    CHECK_EQ(put_s(c, "2", "{\"b\":\"y\",\"a\":2}"), 0);
    CHECK_EQ(put_s(c, "3", "{\"a\":1}"), 0);
    closeall(r, c);
    /* mixed documents: refused, nothing changes */
    CHECK_EQ(opencoll(dir, "a", 1, 0, &r, &c), ZIPPY_ESCHEMA);
    CHECKF(strstr(zippy_errmsg(), "cannot be made strict") && strstr(zippy_errmsg(), "\"3\""), "%s",
           zippy_errmsg());
    CHECK_EQ(opencoll(dir, "a", 0, 0, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 0);
    CHECK_EQ(zippy_delete(c, "3", 1), 0);
    closeall(r, c);
    /* uniform: becomes strict with that schema */
    CHECK_EQ(opencoll(dir, "a", 1, 0, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"a\":\"number\",\"b\":\"string\"}");
    CHECK_EQ(put_s(c, "4", "{\"a\":1}"), ZIPPY_ESCHEMA);
    /* a second handle of the same engine sees the mode */
    zippy_coll *c2;
    CHECK_EQ(zippy_coll_open(&c2, r, "a", NULL), 0);
    CHECK_EQ(zippy_coll_strict(c2), 1);
    zippy_coll_close(c2);
    closeall(r, c);
    /* an empty collection becomes strict at once */
    CHECK_EQ(opencoll(dir, "b", 0, ZIPPY_OPEN_CREATE, &r, &c), 0);
    closeall(r, c);
    CHECK_EQ(opencoll(dir, "b", 1, 0, &r, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    closeall(r, c);
    /* a damaged schema file is reported, not ignored */
    char p[4200];
    snprintf(p, sizeof p, "%s/collections/b/meta/schema.json", dir);
    CHECK_EQ(t_write_file(p, "{\"strict\": true, \"schema\": {\"a\": \"numbr\"}}", 42), 0);
    CHECK_EQ(opencoll(dir, "b", 0, 0, &r, &c), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "schema.json"));
    t_rm_rf(dir);
    free(dir);
}

TEST(strict_survives_compaction) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "s", 1, ZIPPY_OPEN_CREATE, &r, &c), 0);
    for (int i = 0; i < 50; i++) {
        char id[16], doc[64];
        snprintf(id, sizeof id, "d%d", i % 10);
        snprintf(doc, sizeof doc, "{\"n\":%d,\"t\":[%d]}", i, i);
        CHECK_EQ(put_s(c, id, doc), 0);
    }
    CHECK_EQ(zippy_coll_compact(c), 0);
    CHECK_EQ(put_s(c, "x", "{\"n\":\"s\",\"t\":[]}"), ZIPPY_ESCHEMA);
    CHECK_EQ(put_s(c, "x", "{\"n\":1,\"t\":[\"any\",{}]}"), 0); /* array elements are not inspected */
    closeall(r, c);
    t_rm_rf(dir);
    free(dir);
}

/* ---- positional reads ---- */

TEST(get_at_order) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "p", 0, ZIPPY_OPEN_CREATE, &r, &c), 0);
    CHECK_EQ(zippy_get_at(c, 0, 0, &g_id, &g_buf), ZIPPY_ENOTFOUND);
    CHECK_EQ(put_s(c, "b", "{\"v\":1}"), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":2}"), 0);
    CHECK_EQ(put_s(c, "c", "{}"), 0);
    CHECK_EQ(zippy_get_at(c, 0, 0, &g_id, &g_buf), 0);
    CHECK_STR(g_id.ptr, "b");
    CHECK_STR(g_buf.ptr, "{\"v\":1}");
    CHECK_EQ(zippy_get_at(c, 2, 0, &g_id, &g_buf), 0);
    CHECK_STR(g_id.ptr, "c");
    CHECK_STR(g_buf.ptr, "{}");
    CHECK_EQ(zippy_get_at(c, 2, ZIPPY_GET_WITH_ID, NULL, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"_id\":\"c\"}");
    CHECK_EQ(zippy_get_at(c, 3, 0, &g_id, &g_buf), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "past the end"));
    /* an update moves the document to the end; a delete closes the gap */
    CHECK_EQ(put_s(c, "b", "{\"v\":3}"), 0);
    CHECK_EQ(zippy_get_at(c, 0, 0, &g_id, &g_buf), 0);
    CHECK_STR(g_id.ptr, "a");
    CHECK_EQ(zippy_get_at(c, 2, 0, &g_id, &g_buf), 0);
    CHECK_STR(g_id.ptr, "b");
    CHECK_STR(g_buf.ptr, "{\"v\":3}");
    CHECK_EQ(zippy_delete(c, "a", 1), 0);
    CHECK_EQ(zippy_get_at(c, 0, ZIPPY_GET_WITH_ID, &g_id, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"_id\":\"c\"}");
    CHECK_EQ(zippy_get_at(c, 2, 0, &g_id, &g_buf), ZIPPY_ENOTFOUND);
    /* same order as a scan, across flush, compaction and reopen */
    for (int i = 0; i < 300; i++) {
        char id[16], doc[32];
        snprintf(id, sizeof id, "k%03d", (i * 7) % 100);
        snprintf(doc, sizeof doc, "{\"i\":%d}", i);
        CHECK_EQ(put_s(c, id, doc), 0);
        if (i == 150) CHECK_EQ(zippy_coll_flush(c), 0);
    }
    for (int round = 0; round < 3; round++) {
        if (round == 1) CHECK_EQ(zippy_coll_compact(c), 0);
        if (round == 2) {
            closeall(r, c);
            CHECK_EQ(opencoll(dir, "p", 0, ZIPPY_OPEN_READONLY, &r, &c), 0);
        }
        zippy_scan *s;
        CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
        const char *id, *doc;
        size_t il, dl;
        uint64_t k = 0;
        while (zippy_scan_next(s, &id, &il, &doc, &dl) == 1) {
            CHECK_EQ(zippy_get_at(c, k, 0, &g_id, &g_buf), 0);
            CHECK(g_id.len == il && memcmp(g_id.ptr, id, il) == 0);
            CHECK(g_buf.len == dl && memcmp(g_buf.ptr, doc, dl) == 0);
            k++;
        }
        zippy_scan_close(s);
        uint64_t n;
        CHECK_EQ(zippy_count(c, &n), 0);
        CHECK_EQ(k, n);
        CHECK_EQ(n, 102);
    }
    closeall(r, c);
    t_rm_rf(dir);
    free(dir);
}

TEST(get_at_detects_damage) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "d", 0, ZIPPY_OPEN_CREATE, &r, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"v\":\"aaaa\"}"), 0);
    CHECK_EQ(put_s(c, "b", "{\"v\":\"bbbb\"}"), 0);
    closeall(r, c);
    char p[4200];
    size_t n;
    snprintf(p, sizeof p, "%s/collections/d/meta/data.jsonl", dir);
    char *data = t_read_file(p, &n);
    CHECK(data);
    char *hit = strstr(data, "bbbb");
    CHECK(hit);
    hit[1] = 'X';
    CHECK_EQ(t_write_file(p, data, n), 0);
    free(data);
    CHECK_EQ(opencoll(dir, "d", 0, ZIPPY_OPEN_READONLY, &r, &c), 0);
    CHECK_EQ(zippy_get_at(c, 0, 0, &g_id, &g_buf), 0);
    CHECK_EQ(zippy_get_at(c, 1, 0, &g_id, &g_buf), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "checksum"));
    closeall(r, c);
    t_rm_rf(dir);
    free(dir);
}

/* Readers racing a writer: get_at never returns a torn or wrong row. */
typedef struct race {
    zippy_coll *c;
    int stop, bad;
} race;
static void *race_reader(void *p) {
    race *x = p;
    zippy_buf id = ZIPPY_BUF_INIT, doc = ZIPPY_BUF_INIT;
    while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
        uint64_t n;
        if (zippy_count(x->c, &n) || n == 0) continue;
        int rc = zippy_get_at(x->c, n - 1, 0, &id, &doc);
        if (rc == ZIPPY_ENOTFOUND) continue; /* shrank meanwhile */
        char want[64];
        if (rc == 0) snprintf(want, sizeof want, "{\"id\":\"%.*s\"}", (int)id.len, id.ptr);
        if (rc != 0 || strcmp(want, doc.ptr) != 0) x->bad++;
    }
    zippy_buf_free(&id);
    zippy_buf_free(&doc);
    return NULL;
}
TEST(get_at_concurrent) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(opencoll(dir, "r", 0, ZIPPY_OPEN_CREATE, &r, &c), 0);
    race x = {c, 0, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race_reader, &x);
    for (int i = 0; i < 3000; i++) {
        char id[16], doc[64];
        snprintf(id, sizeof id, "i%d", i % 500);
        snprintf(doc, sizeof doc, "{\"id\":\"%s\"}", id);
        if (put_s(c, id, doc)) x.bad++;
        if (i % 700 == 0) zippy_delete(c, id, strlen(id));
    }
    __atomic_store_n(&x.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ(x.bad, 0);
    closeall(r, c);
    t_rm_rf(dir);
    free(dir);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(visit_all_types);
    RUN_SEL(visit_embedded_nul_and_dup_keys);
    RUN_SEL(visit_errors_and_stop);
    RUN_SEL(visit_reentrant);
    RUN_SEL(schema_canonical);
    RUN_SEL(strict_first_document_fixes_schema);
    RUN_SEL(strict_on_existing_collection);
    RUN_SEL(strict_survives_compaction);
    RUN_SEL(get_at_order);
    RUN_SEL(get_at_detects_damage);
    RUN_SEL(get_at_concurrent);
    zippy_buf_free(&g_buf);
    zippy_buf_free(&g_id);
    TEST_END();
}
