/* test_convert.c - zippy_coll_convert: layout changes in place, their
 * crash recovery, and refusals. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"
#include "zippy.h"

static zippy_buf g_buf = ZIPPY_BUF_INIT;

static int open_root(const char *dir, zippy_root **r) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    return zippy_root_open(r, dir, &o);
}
static int open_coll(zippy_root *r, const char *name, zippy_layout layout, int strict, zippy_coll **c) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.layout = layout;
    o.strict = strict;
    return zippy_coll_open(c, r, name, &o);
}
static int put_s(zippy_coll *c, const char *id, const char *json) {
    return zippy_put(c, id, strlen(id), json, strlen(json));
}
static int exists_path(const char *dir, const char *rel) {
    char p[4300];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0;
}

/* Every document in scan order as one string "id=doc;...". */
static char *dump(zippy_coll *c) {
    zippy_scan *s;
    zippy_buf out = ZIPPY_BUF_INIT;
    const char *id, *doc;
    size_t il, dl;
    if (zippy_scan_open(&s, c, NULL)) return NULL;
    while (zippy_scan_next(s, &id, &il, &doc, &dl) == 1) {
        char *p = realloc(out.ptr, out.len + il + dl + 3);
        if (!p) break;
        out.ptr = p;
        memcpy(out.ptr + out.len, id, il);
        out.len += il;
        out.ptr[out.len++] = '=';
        memcpy(out.ptr + out.len, doc, dl);
        out.len += dl;
        out.ptr[out.len++] = ';';
        out.ptr[out.len] = 0;
    }
    zippy_scan_close(s);
    return out.ptr ? out.ptr : strdup("");
}

static void fill(zippy_coll *c, int n) {
    for (int i = 0; i < n; i++) {
        char id[32], doc[96];
        snprintf(id, sizeof id, "d%03d", (i * 37) % n);
        snprintf(doc, sizeof doc, "{\"i\":%d,\"s\":\"x%d\",\"a\":[%d,{\"k\":null}]}", i, i, i);
        put_s(c, id, doc);
    }
}

TEST(convert_round_trip) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_JSONL, 0, &c), 0);
    fill(c, 60);
    CHECK_EQ(zippy_delete(c, "d007", 4), 0);
    char *before = dump(c);
    CHECK(before && strlen(before) > 100);
    /* open: refused */
    CHECK_EQ(zippy_coll_convert(r, "c", ZIPPY_LAYOUT_FILES, NULL, NULL), ZIPPY_ELOCKED);
    CHECK(strstr(zippy_errmsg(), "open in this process"));
    CHECK_EQ(zippy_coll_close(c), 0);

    CHECK_EQ(zippy_coll_convert(r, "c", ZIPPY_LAYOUT_FILES, NULL, NULL), 0);
    CHECK(exists_path(dir, "collections/c/docs/d001.json"));
    CHECK(!exists_path(dir, "collections/c/docs/d007.json"));
    CHECK(!exists_path(dir, "collections/c/meta/data.jsonl"));
    CHECK(!exists_path(dir, ".convert-c"));
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_DEFAULT, 0, &c), 0);
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_FILES);
    char *mid = dump(c);
    CHECK_STR(mid, before);
    CHECK_EQ(zippy_coll_close(c), 0);
    /* same layout: nothing to do */
    CHECK_EQ(zippy_coll_convert(r, "c", ZIPPY_LAYOUT_FILES, NULL, NULL), 0);

    CHECK_EQ(zippy_coll_convert(r, "c", ZIPPY_LAYOUT_JSONL, NULL, NULL), 0);
    CHECK(exists_path(dir, "collections/c/meta/data.jsonl"));
    CHECK(!exists_path(dir, "collections/c/docs"));
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_DEFAULT, 0, &c), 0);
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_JSONL);
    char *after = dump(c);
    CHECK_STR(after, before);
    CHECK_EQ(zippy_coll_close(c), 0);
    CHECK_EQ(zippy_root_info_json(r, &g_buf), 0);
    CHECKF(strstr(g_buf.ptr, "\"layout\": \"jsonl\""), "%s", g_buf.ptr);
    free(before);
    free(mid);
    free(after);
    /* refusals */
    CHECK_EQ(zippy_coll_convert(r, "nope", ZIPPY_LAYOUT_FILES, NULL, NULL), ZIPPY_ENOTFOUND);
    CHECK_EQ(zippy_coll_convert(r, "c", ZIPPY_LAYOUT_DEFAULT, NULL, NULL), ZIPPY_EINVAL);
    CHECK_EQ(zippy_coll_convert(r, "../x", ZIPPY_LAYOUT_FILES, NULL, NULL), ZIPPY_EINVAL);
    zippy_root_close(r);
    t_rm_rf(dir);
    free(dir);
}

TEST(convert_keeps_strict) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK_EQ(open_coll(r, "s", ZIPPY_LAYOUT_JSONL, 1, &c), 0);
    CHECK_EQ(put_s(c, "a", "{\"n\":1}"), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    CHECK_EQ(zippy_coll_convert(r, "s", ZIPPY_LAYOUT_FILES, NULL, NULL), 0);
    CHECK_EQ(open_coll(r, "s", ZIPPY_LAYOUT_DEFAULT, 0, &c), 0);
    CHECK_EQ(zippy_coll_strict(c), 1);
    CHECK_EQ(put_s(c, "b", "{\"n\":\"x\"}"), ZIPPY_ESCHEMA);
    CHECK_EQ(zippy_coll_schema(c, &g_buf), 0);
    CHECK_STR(g_buf.ptr, "{\"n\":\"number\"}");
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    t_rm_rf(dir);
    free(dir);
}

/* Another process holding the writer lock: refused, nothing changed. */
TEST(convert_locked_elsewhere) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_JSONL, 0, &c), 0);
    fill(c, 5);
    CHECK_EQ(zippy_coll_close(c), 0);
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        zippy_root *cr;
        zippy_coll *cc;
        char ch = 0;
        if (open_root(dir, &cr) || open_coll(cr, "c", ZIPPY_LAYOUT_DEFAULT, 0, &cc)) _exit(1);
        if (write(up[1], "x", 1) != 1) _exit(1);
        if (read(down[0], &ch, 1) != 1) _exit(1); /* wait for the parent */
        _exit(0);
    }
    char ch;
    CHECK(read(up[0], &ch, 1) == 1);
    int rc = zippy_coll_convert(r, "c", ZIPPY_LAYOUT_FILES, NULL, NULL);
    char m[512];
    snprintf(m, sizeof m, "%s", zippy_errmsg());
    CHECK(write(down[1], "y", 1) == 1);
    waitpid(pid, NULL, 0);
    CHECK_EQ(rc, ZIPPY_ELOCKED);
    CHECK(strstr(m, "locked"));
    CHECK(exists_path(dir, "collections/c/meta/data.jsonl"));
    CHECK(!exists_path(dir, ".convert-c"));
    zippy_root_close(r);
    t_rm_rf(dir);
    free(dir);
}

/* A crash between the two renames: the next writable open of the store
 * puts the complete copy in place; a crash before them discards it. */
TEST(convert_recovery) {
    char *dir = t_tmpdir();
    zippy_root *r;
    zippy_coll *c;
    char cmd[9000];
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_JSONL, 0, &c), 0);
    fill(c, 20);
    char *want = dump(c);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    /* Simulate: copy made (a files collection in the hidden store) and the
     * original moved aside, then the crash. */
    char hidden[4200];
    snprintf(hidden, sizeof hidden, "%s/.convert-c", dir);
    CHECK_EQ(open_root(hidden, &r), 0);
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_FILES, 0, &c), 0);
    {
        zippy_root *r0;
        zippy_coll *c0;
        zippy_options o = ZIPPY_OPTIONS_INIT;
        o.flags = ZIPPY_OPEN_READONLY; /* a writable open would clean the hidden store up */
        CHECK_EQ(zippy_root_open(&r0, dir, &o), 0);
        CHECK_EQ(zippy_coll_open(&c0, r0, "c", &o), 0);
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.flags = ZIPPY_SCAN_WITH_ID;
        zippy_scan *s;
        const char *id, *doc;
        size_t il, dl;
        CHECK_EQ(zippy_scan_open(&s, c0, &so), 0);
        while (zippy_scan_next(s, &id, &il, &doc, &dl) == 1) CHECK_EQ(zippy_put_jsonl(c, doc, dl, NULL, NULL, 0, NULL), 0);
        zippy_scan_close(s);
        zippy_coll_close(c0);
        zippy_root_close(r0);
    }
    int crc = zippy_coll_close(c);
    CHECKF(crc == 0, "%d %s", crc, zippy_errmsg());
    zippy_root_close(r);
    snprintf(cmd, sizeof cmd, "mv '%s/collections/c' '%s/old'", dir, hidden);
    CHECK(system(cmd) == 0);
    /* a read-only open does not repair */
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    CHECK_EQ(zippy_root_open(&r, dir, &ro), 0);
    CHECK_EQ(zippy_root_has(r, "c"), 0);
    zippy_root_close(r);
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK(!exists_path(dir, ".convert-c"));
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_DEFAULT, 0, &c), 0);
    zippy_stats st;
    CHECK_EQ(zippy_coll_stats(c, &st), 0);
    CHECK_EQ(st.layout, ZIPPY_LAYOUT_FILES);
    char *got = dump(c);
    CHECK_STR(got, want);
    free(got);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);

    /* crash before the renames: a partial hidden copy is discarded */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/collections/c/docs' && echo '{' > '%s/collections/c/docs/junk.json'",
             hidden, hidden);
    CHECK(system(cmd) == 0);
    CHECK_EQ(open_root(dir, &r), 0);
    CHECK(!exists_path(dir, ".convert-c"));
    CHECK_EQ(open_coll(r, "c", ZIPPY_LAYOUT_DEFAULT, 0, &c), 0);
    got = dump(c);
    CHECK_STR(got, want);
    free(got);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    free(want);
    t_rm_rf(dir);
    free(dir);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    RUN_SEL(convert_round_trip);
    RUN_SEL(convert_keeps_strict);
    RUN_SEL(convert_locked_elsewhere);
    RUN_SEL(convert_recovery);
    zippy_buf_free(&g_buf);
    TEST_END();
}
