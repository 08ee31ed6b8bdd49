/* test_zds_inplace.c - .zds archives opened in place (docs/FORMAT.md 5):
 * every read answers as on the directory store, STORE entries are read
 * without a copy, writes are refused, hostile archives are refused, and
 * the archive is never modified. */
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../src/engine.h"
#include "../src/util.h"
#include "zippy.h"

static char *g_dir;

static void path(char *buf, size_t cap, const char *rel) { snprintf(buf, cap, "%s/%s", g_dir, rel); }

/* Builds store/ with users (updates, deletes, an unindexed tail) and
 * orders (jsonl), and files_c (files layout). */
static int build_store(const char *store, int with_files) {
    zippy_root *r = NULL;
    zippy_coll *u = NULL, *o = NULL;
    zippy_options op = ZIPPY_OPTIONS_INIT;
    op.flags = ZIPPY_OPEN_CREATE;
    if (zippy_root_open(&r, store, &op) || zippy_coll_open(&u, r, "users", &op) ||
        zippy_coll_open(&o, r, "orders", &op))
        return -1;
    char id[32], doc[128];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "u%03d", i);
        snprintf(doc, sizeof doc, "{\"name\":\"user %d\",\"age\":%d,\"tags\":[\"t%d\"]}", i, 20 + i % 30, i % 3);
        if (zippy_put(u, id, strlen(id), doc, strlen(doc))) return -1;
    }
    if (zippy_coll_flush(u)) return -1;
    /* updates and deletes after the checkpoint */
    if (zippy_put(u, "u005", 4, "{\"name\":\"five\",\"age\":99}", 24) || zippy_delete(u, "u007", 4) ||
        zippy_put(u, "z_new", 5, "{\"name\":\"new\",\"age\":1}", 22))
        return -1;
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "o%d", i);
        snprintf(doc, sizeof doc, "{\"total\":%d.5}", i);
        if (zippy_put(o, id, strlen(id), doc, strlen(doc))) return -1;
    }
    zippy_coll_close(u);
    zippy_coll_close(o);
    if (with_files) {
        zippy_coll *f = NULL;
        zippy_options fo = op;
        fo.layout = ZIPPY_LAYOUT_FILES;
        if (zippy_coll_open(&f, r, "files_c", &fo) || zippy_put(f, "d1", 2, "{\"a\":1}", 7)) return -1;
        for (int i = 0; i < 30; i++) {
            snprintf(id, sizeof id, "f%02d", (i * 7) % 30);
            snprintf(doc, sizeof doc, "{\"name\":\"file %d\",\"age\":%d,\"n\":[1,{\"x\":null}]}", i, 20 + i);
            if (zippy_put(f, id, strlen(id), doc, strlen(doc))) return -1;
        }
        char longid[300];
        memset(longid, 'L', 255);
        longid[255] = 0; /* a hashed file name */
        const char *j1 = "{\"name\":\"five\",\"age\":40}", *j2 = "{\"age\":33,\"s\":\"\xc3\xa9\"}",
                   *j3 = "{\"name\":\"three again\",\"age\":31}";
        if (zippy_put(f, "urn:isbn:1", 10, j1, strlen(j1)) || zippy_put(f, longid, 255, j2, strlen(j2)) ||
            zippy_coll_flush(f) || zippy_put(f, "f03", 3, j3, strlen(j3)) || zippy_delete(f, "f04", 3))
            return -1;
        zippy_coll_close(f);
    }
    zippy_root_close(r);
    return 0;
}

static int scan_all(zippy_coll *c, const char *filter, const char *fields, uint64_t limit, uint64_t skip,
                    zippy_buf *out) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = filter;
    so.fields = fields;
    so.limit = limit;
    so.skip = skip;
    zippy_scan *s = NULL;
    int rc = zippy_scan_open(&s, c, &so);
    if (rc) return rc;
    const char *id, *doc;
    size_t il, dl;
    while ((rc = zippy_scan_next(s, &id, &il, &doc, &dl)) == 1) {
        zb_append(out, id, il);
        zb_append(out, "\t", 1);
        zb_append(out, doc, dl);
        zb_append(out, "\n", 1);
    }
    zippy_scan_close(s);
    return rc;
}

/* 1 if p lies in a mapping of the file `file` (by /proc/self/maps). */
static int in_file_mapping(const void *p, const char *file) {
    char real[4096];
    if (!realpath(file, real)) return 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        char *slash = strchr(line, '/');
        if (!slash) continue;
        slash[strcspn(slash, "\n")] = 0;
        if (!strcmp(slash, real) && (uintptr_t)p >= lo && (uintptr_t)p < hi) found = 1;
    }
    fclose(f);
    return found;
}

/* Compares collection `name` of the directory store with the archive's.
 * store_method: 1 STORE, 0 DEFLATE, -1 files layout (an in-memory cache:
 * no log bytes to compare). */
static void compare_coll(zippy_root *dr, zippy_root *ar, const char *name, const char *zip, int store_method) {
    zippy_coll *d = NULL, *a = NULL;
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    CHECK(zippy_coll_open(&d, dr, name, &ro) == 0);
    CHECKF(zippy_coll_open(&a, ar, name, NULL) == 0, "%s", zippy_errmsg());
    CHECK(!zippy_coll_writable(a));
    uint64_t cd = 0, ca = 0;
    CHECK(zippy_count(d, &cd) == 0 && zippy_count(a, &ca) == 0);
    CHECK_EQ(ca, cd);
    CHECK(cd > 0);
    char **ids_d = NULL, **ids_a = NULL;
    size_t nd = 0, na = 0;
    CHECK(zippy_ids(d, &ids_d, &nd) == 0 && zippy_ids(a, &ids_a, &na) == 0);
    CHECK_EQ(na, nd);
    zippy_buf bd = ZIPPY_BUF_INIT, ba = ZIPPY_BUF_INIT;
    for (size_t i = 0; i < nd; i++) {
        CHECK_STR(ids_a[i], ids_d[i]);
        zb_clear(&bd);
        zb_clear(&ba);
        CHECK(zippy_get(d, ids_d[i], strlen(ids_d[i]), 0, &bd) == 0);
        CHECK(zippy_get(a, ids_d[i], strlen(ids_d[i]), 0, &ba) == 0);
        CHECKF(ba.len == bd.len && !memcmp(ba.ptr, bd.ptr, bd.len), "%s: %.*s vs %.*s", ids_d[i], (int)ba.len, ba.ptr, (int)bd.len, bd.ptr);
        CHECK_EQ(zippy_exists(a, ids_d[i], strlen(ids_d[i])), 1);
    }
    CHECK_EQ(zippy_exists(a, "u007", 4), 0); /* deleted */
    CHECK_EQ(zippy_exists(a, "nope", 4), 0);
    zippy_strv_free(ids_d);
    zippy_strv_free(ids_a);
    /* scans: full, filtered, projected, limit/skip */
    const char *filters[] = {NULL, "{\"age\":{\"$gt\":30}}", "{\"name\":\"five\"}"};
    for (int k = 0; k < 3; k++) {
        zb_clear(&bd);
        zb_clear(&ba);
        CHECK(scan_all(d, filters[k], k == 1 ? "name" : NULL, k == 2 ? 0 : 7, k == 1 ? 2 : 0, &bd) == 0);
        CHECK(scan_all(a, filters[k], k == 1 ? "name" : NULL, k == 2 ? 0 : 7, k == 1 ? 2 : 0, &ba) == 0);
        CHECKF(ba.len == bd.len && !memcmp(ba.ptr, bd.ptr, bd.len), "scan %d differs", k);
        zb_clear(&bd);
        zb_clear(&ba);
        CHECK(scan_all(d, filters[k], NULL, 0, 0, &bd) == 0 && scan_all(a, filters[k], NULL, 0, 0, &ba) == 0);
        CHECK(ba.len == bd.len && !memcmp(ba.ptr, bd.ptr, bd.len));
    }
    /* get_at */
    zippy_buf id1 = ZIPPY_BUF_INIT, id2 = ZIPPY_BUF_INIT;
    for (uint64_t i = 0; i < cd; i++) {
        zb_clear(&bd); zb_clear(&ba); zb_clear(&id1); zb_clear(&id2);
        CHECK(zippy_get_at(d, i, 0, &id1, &bd) == 0 && zippy_get_at(a, i, 0, &id2, &ba) == 0);
        CHECK(id1.len == id2.len && !memcmp(id1.ptr, id2.ptr, id1.len));
        CHECK(ba.len == bd.len && !memcmp(ba.ptr, bd.ptr, bd.len));
    }
    zippy_buf_free(&id1);
    zippy_buf_free(&id2);
    zippy_stats sd, sa;
    CHECK(zippy_coll_stats(d, &sd) == 0 && zippy_coll_stats(a, &sa) == 0);
    CHECK_EQ(sa.count, sd.count);
    if (store_method >= 0) {
        CHECK_EQ(sa.log_bytes, sd.log_bytes);
        CHECK_EQ(sa.live_bytes, sd.live_bytes);
    }
    zippy_verify_report vr;
    CHECKF(zippy_coll_verify(a, &vr) == 0, "%s", zippy_errmsg());
    CHECK_EQ(vr.bad_lines, 0);
    CHECK_EQ(vr.index_errors, 0);
    CHECK_EQ(zippy_coll_refresh(a), 0);
    /* Zero copy: the log of a STORE archive is read inside the archive's
     * own file mapping; a DEFLATE one from an inflated buffer. */
    size_t ll = 0;
    const char *lp = ze_coll_log_bytes(a, &ll);
    if (store_method >= 0) {
        CHECK(lp && ll == sd.log_bytes);
        CHECKF(in_file_mapping(lp, zip) == store_method, "log at %p: in archive mapping %d, want %d", (void *)lp,
               in_file_mapping(lp, zip), store_method);
    }
    /* writes refused, naming the archive */
    CHECK_EQ(zippy_put(a, "x", 1, "{}", 2), ZIPPY_EREADONLY);
    CHECKF(strstr(zippy_errmsg(), "archive opened in place: read-only") != NULL, "%s", zippy_errmsg());
    CHECK_EQ(zippy_delete(a, "u001", 4), ZIPPY_EREADONLY);
    CHECK_EQ(zippy_coll_compact(a), ZIPPY_EREADONLY);
    CHECK_EQ(zippy_coll_reindex(a), ZIPPY_EREADONLY);
    zippy_buf_free(&bd);
    zippy_buf_free(&ba);
    zippy_coll_close(d);
    zippy_coll_close(a);
}

static void file_sig(const char *p, struct stat *st, char **bytes, size_t *n) {
    stat(p, st);
    *bytes = t_read_file(p, n);
}

static void check_archive(const char *store, const char *zip, int store_method) {
    struct stat s1, s2;
    char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    file_sig(zip, &s1, &b1, &n1);
    CHECK(b1 != NULL);
    zippy_root *dr = NULL, *ar = NULL;
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    CHECK(zippy_root_open(&dr, store, &ro) == 0);
    CHECKF(zippy_root_open(&ar, zip, NULL) == 0, "%s", zippy_errmsg()); /* read-only forced */
    char **ld = NULL, **la = NULL;
    size_t nd = 0, na = 0;
    CHECK(zippy_root_list(dr, &ld, &nd) == 0 && zippy_root_list(ar, &la, &na) == 0);
    CHECK_EQ(na, nd);
    for (size_t i = 0; i < nd; i++) CHECK_STR(la[i], ld[i]);
    zippy_strv_free(ld);
    zippy_strv_free(la);
    CHECK_EQ(zippy_root_has(ar, "users"), 1);
    CHECK_EQ(zippy_root_has(ar, "nope"), 0);
    zippy_buf info = ZIPPY_BUF_INIT;
    CHECK(zippy_root_info_json(ar, &info) == 0);
    CHECKF(strstr(info.ptr, "\"users\": {\"count\": 40, \"layout\": \"jsonl\"}") != NULL, "%s", info.ptr);
    zippy_buf_free(&info);
    compare_coll(dr, ar, "users", zip, store_method);
    if (t_cur_failed) return;
    compare_coll(dr, ar, "orders", zip, store_method);
    if (t_cur_failed) return;
    /* A second open of the same collection shares the engine. */
    zippy_coll *c1 = NULL, *c2 = NULL;
    CHECK(zippy_coll_open(&c1, ar, "orders", NULL) == 0 && zippy_coll_open(&c2, ar, "orders", NULL) == 0);
    size_t l1, l2;
    CHECK(ze_coll_log_bytes(c1, &l1) == ze_coll_log_bytes(c2, &l2));
    zippy_coll_close(c2);
    /* The collection outlives its root. */
    zippy_root_close(ar);
    ar = NULL;
    uint64_t cnt = 0;
    CHECK(zippy_count(c1, &cnt) == 0 && cnt == 5);
    zippy_coll_close(c1);
    CHECK(zippy_root_open(&ar, zip, NULL) == 0);
    /* store-level writes refused */
    CHECK_EQ(zippy_root_set_info(ar, "n", "d"), ZIPPY_EREADONLY);
    CHECKF(strstr(zippy_errmsg(), "is an archive opened in place: read-only") != NULL, "%s", zippy_errmsg());
    CHECK_EQ(zippy_root_drop(ar, "users"), ZIPPY_EREADONLY);
    zippy_options cr = ZIPPY_OPTIONS_INIT;
    cr.flags = ZIPPY_OPEN_CREATE;
    zippy_coll *nc = NULL;
    CHECK_EQ(zippy_coll_open(&nc, ar, "newc", &cr), ZIPPY_EREADONLY);
    CHECK_EQ(zippy_coll_open(&nc, ar, "missing", NULL), ZIPPY_ENOTFOUND);
    zippy_root_close(ar);
    zippy_root_close(dr);
    /* not one byte changed */
    file_sig(zip, &s2, &b2, &n2);
    CHECK(b2 && n2 == n1 && !memcmp(b1, b2, n1));
    CHECK(s2.st_mtim.tv_sec == s1.st_mtim.tv_sec && s2.st_mtim.tv_nsec == s1.st_mtim.tv_nsec);
    free(b1);
    free(b2);
}

TEST(store_archive_in_place) {
    char store[4096], zip[4096];
    path(store, sizeof store, "s1");
    path(zip, sizeof zip, "s1.zds");
    CHECK(build_store(store, 0) == 0);
    CHECK(zippy_pack(store, zip, 0, NULL, NULL) == 0);
    check_archive(store, zip, 1);
}

TEST(deflate_archive_in_place) {
    char store[4096], zip[4096];
    path(store, sizeof store, "s2");
    path(zip, sizeof zip, "s2.zds");
    CHECK(build_store(store, 0) == 0);
    CHECK(zippy_pack(store, zip, ZIPPY_PACK_DEFLATE, NULL, NULL) == 0);
    check_archive(store, zip, 0);
}

TEST(zip_r_top_directory) {
    char d[4096], store[4096], zip[4096], cmd[9000];
    path(d, sizeof d, "zr");
    snprintf(store, sizeof store, "%s/store", d);
    path(zip, sizeof zip, "zr.zds");
    mkdir(d, 0755);
    CHECK(build_store(store, 0) == 0);
    snprintf(cmd, sizeof cmd, "cd '%s' && zip -qr ../zr.zds store", d);
    CHECK(system(cmd) == 0);
    check_archive(store, zip, 0); /* zip -r deflates */
    /* without index.bin: rebuilt in memory */
    snprintf(cmd, sizeof cmd, "cd '%s' && zip -qr ../zr2.zds store -x '*index.bin'", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "zr2.zds");
    check_archive(store, zip, 0);
}

/* A files-layout collection packed by zippy pack (with its derived cache
 * files, ignored) answers as the directory store. */
static void files_pack_case(const char *tag, unsigned flags) {
    char store[4096], zip[4096], rel[64];
    snprintf(rel, sizeof rel, "%s", tag);
    path(store, sizeof store, rel);
    snprintf(rel, sizeof rel, "%s.zds", tag);
    path(zip, sizeof zip, rel);
    CHECK(build_store(store, 1) == 0);
    CHECK(zippy_pack(store, zip, flags, NULL, NULL) == 0);
    zippy_root *dr = NULL, *ar = NULL;
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    CHECK(zippy_root_open(&dr, store, &ro) == 0);
    CHECKF(zippy_root_open(&ar, zip, NULL) == 0, "%s", zippy_errmsg());
    CHECK_EQ(zippy_root_has(ar, "files_c"), 1);
    compare_coll(dr, ar, "files_c", zip, -1);
    compare_coll(dr, ar, "users", zip, !(flags & ZIPPY_PACK_DEFLATE)); /* the others still open */
    zippy_coll *c = NULL;
    CHECK(zippy_coll_open(&c, ar, "files_c", NULL) == 0);
    uint64_t n = 0;
    CHECK(zippy_count(c, &n) == 0);
    CHECK_EQ(n, 32); /* d1, f00..f29 but f04, urn:isbn:1, the long id */
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK(zippy_get(c, "urn:isbn:1", 10, 0, &b) == 0);
    CHECKF(strstr(b.ptr, "five") != NULL, "%s", b.ptr);
    CHECK_EQ(zippy_exists(c, "f04", 3), 0);
    zippy_buf_free(&b);
    zippy_coll_close(c);
    zippy_root_close(ar);
    zippy_root_close(dr);
}

TEST(files_layout_pack_store) { files_pack_case("s3", 0); }
TEST(files_layout_pack_deflate) { files_pack_case("s3d", ZIPPY_PACK_DEFLATE); }

static void write_rel(const char *dir, const char *rel, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    CHECK(t_write_file(p, text, strlen(text)) == 0);
}

/* A store of the original ZDS (docs/<id>.json pretty or compact, order.ids,
 * no zippy meta files) zipped with zip -r opens in place. */
TEST(files_layout_original_zds_zip) {
    char d[4096], cmd[9000], zip[4096];
    path(d, sizeof d, "ozds");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/store/collections/books/docs/sub' '%s/store/collections/books/meta'", d,
             d);
    CHECK(system(cmd) == 0);
    write_rel(d, "store/collections/books/docs/b.json", "{\n  \"title\": \"B\",\n  \"n\": 2\n}\n");
    write_rel(d, "store/collections/books/docs/a.json", "{\"title\":\"A\",\"n\":1}");
    write_rel(d, "store/collections/books/docs/c.json", "{ \"title\" : \"C\" , \"n\" : 3 }\n");
    write_rel(d, "store/collections/books/docs/urn%3Ax.json", "{\"title\":\"X\",\"_id\":\"urn:x\"}");
    write_rel(d, "store/collections/books/docs/.hidden.json", "not json");
    write_rel(d, "store/collections/books/docs/sub/z.json", "not json either");
    /* c is missing from order.ids: it comes after the listed ones */
    write_rel(d, "store/collections/books/meta/order.ids", "b\nurn:x\ngone\na\n");
    write_rel(d, "store/collections/books/meta/journal.log", "whatever\n");
    snprintf(cmd, sizeof cmd, "cd '%s' && zip -qr ../ozds.zds store", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "ozds.zds");
    zippy_root *ar = NULL;
    zippy_coll *c = NULL;
    CHECKF(zippy_root_open(&ar, zip, NULL) == 0, "%s", zippy_errmsg());
    CHECKF(zippy_coll_open(&c, ar, "books", NULL) == 0, "%s", zippy_errmsg());
    uint64_t n = 0;
    CHECK(zippy_count(c, &n) == 0);
    CHECK_EQ(n, 4);
    zippy_buf all = ZIPPY_BUF_INIT, b = ZIPPY_BUF_INIT;
    CHECK(scan_all(c, NULL, NULL, 0, 0, &all) == 0);
    CHECKF(all.ptr && !strcmp(all.ptr, "b\t{\"title\":\"B\",\"n\":2}\n"
                                     "urn:x\t{\"title\":\"X\"}\n"
                                     "a\t{\"title\":\"A\",\"n\":1}\n"
                                     "c\t{\"title\":\"C\",\"n\":3}\n"),
           "%s", all.ptr ? all.ptr : "(empty)");
    zippy_buf id = ZIPPY_BUF_INIT;
    CHECK(zippy_get_at(c, 3, 0, &id, &b) == 0);
    CHECK(id.len == 1 && id.ptr[0] == 'c');
    zb_clear(&all);
    CHECK(scan_all(c, "{\"n\":{\"$gte\":2}}", "title", 0, 0, &all) == 0);
    CHECKF(all.ptr && !strcmp(all.ptr, "b\t{\"title\":\"B\"}\nc\t{\"title\":\"C\"}\n"), "%s",
           all.ptr ? all.ptr : "(empty)");
    CHECK_EQ(zippy_coll_refresh(c), 0);
    CHECK_EQ(zippy_put(c, "q", 1, "{}", 2), ZIPPY_EREADONLY);
    zippy_buf_free(&all);
    zippy_buf_free(&b);
    zippy_buf_free(&id);
    zippy_coll_close(c);
    zippy_root_close(ar);
    /* without order.ids: by name */
    snprintf(cmd, sizeof cmd, "cd '%s' && zip -qr ../ozds2.zds store -x '*order.ids'", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "ozds2.zds");
    CHECK(zippy_root_open(&ar, zip, NULL) == 0);
    CHECKF(zippy_coll_open(&c, ar, "books", NULL) == 0, "%s", zippy_errmsg());
    char **ids = NULL;
    size_t ni = 0;
    CHECK(zippy_ids(c, &ids, &ni) == 0);
    CHECK_EQ(ni, 4);
    zippy_buf scan = ZIPPY_BUF_INIT;
    CHECK(scan_all(c, NULL, "title", 0, 0, &scan) == 0);
    CHECKF(scan.ptr && !strcmp(scan.ptr, "a\t{\"title\":\"A\"}\nb\t{\"title\":\"B\"}\n"
                                       "c\t{\"title\":\"C\"}\nurn:x\t{\"title\":\"X\"}\n"),
           "%s", scan.ptr ? scan.ptr : "(empty)");
    zippy_buf_free(&scan);
    zippy_strv_free(ids);
    zippy_coll_close(c);
    zippy_root_close(ar);
}

/* An invalid document file in an archive is ZIPPY_ECORRUPT naming it. */
TEST(files_layout_bad_doc_in_archive) {
    char d[4096], cmd[9000], zip[4096];
    path(d, sizeof d, "bad");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/collections/c/docs'", d);
    CHECK(system(cmd) == 0);
    write_rel(d, "collections/c/docs/ok.json", "{\"a\":1}");
    write_rel(d, "collections/c/docs/broken.json", "{\"a\": 1,\n  oops}");
    snprintf(cmd, sizeof cmd, "cd '%s' && zip -qr ../bad.zds collections", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "bad.zds");
    zippy_root *ar = NULL;
    zippy_coll *c = NULL;
    CHECK(zippy_root_open(&ar, zip, NULL) == 0);
    CHECK_EQ(zippy_coll_open(&c, ar, "c", NULL), ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "collections/c/docs/broken.json") != NULL, "%s", zippy_errmsg());
    /* a name that is not a valid id, too */
    snprintf(cmd, sizeof cmd, "cd '%s' && rm collections/c/docs/broken.json && echo '{}' > 'collections/c/docs/my file.json' "
             "&& zip -qr ../bad2.zds collections", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "bad2.zds");
    zippy_root_close(ar);
    CHECK(zippy_root_open(&ar, zip, NULL) == 0);
    CHECK_EQ(zippy_coll_open(&c, ar, "c", NULL), ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "collections/c/docs/my file.json: not a valid document id") != NULL, "%s",
           zippy_errmsg());
    zippy_root_close(ar);
}

TEST(hostile_archives_refused) {
    char d[4096], zip[4096], cmd[9000];
    path(d, sizeof d, "h");
    mkdir(d, 0755);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p collections/c/meta && ln -s /etc/passwd collections/c/meta/data.jsonl && "
             "zip -qry ../h.zds collections", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "h.zds");
    zippy_root *r = NULL;
    int rc = zippy_root_open(&r, zip, NULL);
    CHECKF(rc == ZIPPY_ECORRUPT || rc == ZIPPY_EUNSUPPORTED, "rc %d", rc);
    CHECKF(strstr(zippy_errmsg(), "symbolic link") != NULL, "%s", zippy_errmsg());
    /* truncated archive */
    char store[4096], full[4096];
    path(store, sizeof store, "s4");
    path(full, sizeof full, "s4.zds");
    CHECK(build_store(store, 0) == 0);
    CHECK(zippy_pack(store, full, 0, NULL, NULL) == 0);
    size_t n = 0;
    char *b = t_read_file(full, &n);
    CHECK(b && n > 100);
    path(zip, sizeof zip, "trunc.zds");
    CHECK(t_write_file(zip, b, n - 30) == 0);
    free(b);
    rc = zippy_root_open(&r, zip, NULL);
    CHECKF(rc == ZIPPY_ECORRUPT || rc == ZIPPY_EUNSUPPORTED, "rc %d", rc);
    CHECK(strstr(zippy_errmsg(), "trunc.zds") != NULL);
    /* a ZIP with no store in it */
    snprintf(cmd, sizeof cmd, "cd '%s' && echo hi > a.txt && echo ho > b.txt && zip -q ../other.zds a.txt b.txt", d);
    CHECK(system(cmd) == 0);
    path(zip, sizeof zip, "other.zds");
    CHECK_EQ(zippy_root_open(&r, zip, NULL), ZIPPY_ENOTFOUND);
}

int main(int argc, char **argv) {
    t_select(argc, argv);
    g_dir = t_tmpdir();
    RUN_SEL(store_archive_in_place);
    RUN_SEL(deflate_archive_in_place);
    RUN_SEL(zip_r_top_directory);
    RUN_SEL(files_layout_pack_store);
    RUN_SEL(files_layout_pack_deflate);
    RUN_SEL(files_layout_original_zds_zip);
    RUN_SEL(files_layout_bad_doc_in_archive);
    RUN_SEL(hostile_archives_refused);
    if (!t_failed_count) t_rm_rf(g_dir);
    TEST_END();
}
