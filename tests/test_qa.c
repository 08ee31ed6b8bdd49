/* test_qa.c - QA regression tests through the public API (include/zippy.h).
 *
 * Tests named test_qa_bug_* reproduce bugs found in QA and fail until they
 * are fixed; the others pin behaviour that held up under QA and is worth
 * keeping.
 */
#include "test.h"

#include <dlfcn.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zippy.h"

/* ------------------------------------------------------------------ */
/* newlocale() interposer: lets one child process run as if the system */
/* had no C.UTF-8 locale (musl-less containers, stripped images).      */
/* ------------------------------------------------------------------ */

static int g_no_utf8_locale;

locale_t newlocale(int mask, const char *locale, locale_t base) {
    if (g_no_utf8_locale) return (locale_t)0;
    locale_t (*real)(int, const char *, locale_t) = NULL;
    void *sym = dlsym(RTLD_NEXT, "newlocale");
    memcpy(&real, &sym, sizeof real); /* object to function pointer, portably */
    return real ? real(mask, locale, base) : (locale_t)0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char *g_dirs[64];
static int g_ndirs;
static const char *g_self;

static const char *tmpdir(void) {
    char *d = t_tmpdir();
    if (g_ndirs < 64) g_dirs[g_ndirs++] = d;
    return d;
}

static int open_rw(const char *dir, const char *name, zippy_root **r, zippy_coll **c) {
    int rc = zippy_root_open(r, dir, NULL);
    if (rc) return rc;
    rc = zippy_coll_open(c, *r, name, NULL);
    if (rc) zippy_root_close(*r);
    return rc;
}

static void close_rw(zippy_root *r, zippy_coll *c) {
    zippy_coll_close(c);
    zippy_root_close(r);
}

static int put_s(zippy_coll *c, const char *id, const char *json) {
    return zippy_put(c, id, strlen(id), json, strlen(json));
}

/* ------------------------------------------------------------------ */
/* Bugs                                                                */
/* ------------------------------------------------------------------ */

/* A second top-level "_id" that disagrees with the id is dropped silently
 * instead of being refused. (test_engine.c's
 * test_refused_duplicate_id_members passes 22 as the length of these
 * 23-byte documents, so it only ever sees malformed JSON.) */
TEST(test_qa_bug_duplicate_id_members) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(dir, "c", &r, &c), ZIPPY_OK);
    int rc1 = put_s(c, "e3", "{\"_id\":\"e3\",\"_id\":\"zz\"}");
    int rc2 = put_s(c, "e4", "{\"_id\":\"zz\",\"_id\":\"e4\"}");
    const char *line = "{\"_id\":\"p\",\"_id\":\"q\",\"v\":1}\n";
    uint64_t w = 99;
    int rc3 = zippy_put_jsonl(c, line, strlen(line), NULL, NULL, 0, &w);
    close_rw(r, c);
    CHECKF(rc1 == ZIPPY_EINVAL, "put e3 {\"_id\":\"e3\",\"_id\":\"zz\"} returned %d, expected ZIPPY_EINVAL", rc1);
    CHECKF(rc2 == ZIPPY_EINVAL, "put e4 {\"_id\":\"zz\",\"_id\":\"e4\"} returned %d", rc2);
    CHECKF(rc3 == ZIPPY_EINVAL && w == 0, "put_jsonl of a line with \"_id\" p and q returned %d, wrote %llu", rc3,
           (unsigned long long)w);
}

/* A document of exactly ZIPPY_DOC_MAX bytes is accepted by zippy_put, but
 * its exported line ({"_id":"big",...}) is refused by zippy_put_jsonl,
 * which applies the document limit to the whole line including "_id":
 * `zippy export a | zippy import b` cannot copy such a collection. */
TEST(test_qa_bug_max_document_export_import) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c, *c2;
    size_t n = ZIPPY_DOC_MAX;
    char *doc = malloc(n);
    CHECK(doc);
    memcpy(doc, "{\"s\":\"", 6);
    memset(doc + 6, 'x', n - 8);
    memcpy(doc + n - 2, "\"}", 2);
    CHECK_EQ(open_rw(dir, "a", &r, &c), ZIPPY_OK);
    int rc = zippy_put(c, "big", 3, doc, n);
    free(doc);
    zippy_buf line = ZIPPY_BUF_INIT;
    if (rc == ZIPPY_OK) rc = zippy_get(c, "big", 3, ZIPPY_GET_WITH_ID, &line);
    zippy_coll_close(c);
    if (rc) { zippy_root_close(r); zippy_buf_free(&line); }
    CHECKF(rc == ZIPPY_OK, "put/get of a %zu-byte document: %s", n, zippy_errmsg());
    CHECK_EQ(zippy_coll_open(&c2, r, "b", NULL), ZIPPY_OK);
    uint64_t w = 0;
    rc = zippy_put_jsonl(c2, line.ptr, line.len, NULL, NULL, 0, &w);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    size_t linelen = line.len;
    zippy_buf_free(&line);
    close_rw(r, c2);
    CHECKF(rc == ZIPPY_OK && w == 1, "re-importing the exported %zu-byte line: rc %d: %s", linelen, rc, msg);
}

/* Which ids are valid depends on the environment: without a C.UTF-8
 * locale (newlocale fails) the fallback accepts emoji and most symbols.
 * A store written there holds ids that a normal system then rejects
 * (rebuilding its index fails: "invalid line ... valid lines follow it").
 * Runs in a fresh process (the locale is looked up once per process). */
static int no_locale_child(void) {
    g_no_utf8_locale = 1;
    int bad = 0;
    if (zippy_id_valid("a\xF0\x9F\x98\x80", 5) != ZIPPY_EINVAL) { printf("  'a<emoji>' accepted\n"); bad = 1; }
    if (zippy_id_valid("\xC2\xBD", 2) != ZIPPY_EINVAL) { printf("  '1/2 sign' accepted\n"); bad = 1; }
    if (zippy_id_valid("\xE2\x82\xAC", 3) != ZIPPY_EINVAL) { printf("  'euro sign' accepted\n"); bad = 1; }
    if (zippy_id_valid("\xE6\x97\xA5\xE6\x9C\xAC", 6) != ZIPPY_OK) { printf("  CJK refused\n"); bad = 1; }
    fflush(stdout);
    return bad;
}

TEST(test_qa_bug_id_rules_depend_on_locale) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("ZIPPY_QA_CHILD", "no_locale", 1);
        /* argv[0], not /proc/self/exe: under valgrind that is valgrind */
        execl(g_self, g_self, (char *)NULL);
        execl("/proc/self/exe", g_self, (char *)NULL);
        _exit(3);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "without a C.UTF-8 locale zippy_id_valid answers differently (child status %d)", st);
}

/* ------------------------------------------------------------------ */
/* Behaviour that held up                                              */
/* ------------------------------------------------------------------ */

/* Values come back byte for byte: numbers as written, escapes as given,
 * key order and duplicate keys kept, through put/get and put_jsonl. */
TEST(test_qa_exact_round_trip) {
    static const char *docs[] = {
        "{\"n\":1e400,\"m\":-0,\"f\":-0.0,\"big\":123456789012345678901234567890123,\"e\":1E+2}",
        "{\"s\":\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\"\\\\\",\"raw\":\"\xC3\xA9\xE6\x97\xA5\",\"nul\":\"a\\u0000b\"}",
        "{\"z\":1,\"a\":2,\"z\":3,\"o\":{\"_id\":\"nested\",\"$deleted\":true},\"arr\":[[],{},[{}]]}",
        "{}",
    };
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    zippy_buf b = ZIPPY_BUF_INIT;
    char jsonl[2048] = "";
    CHECK_EQ(open_rw(dir, "c", &r, &c), ZIPPY_OK);
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%d", i);
        CHECKF(put_s(c, id, docs[i]) == ZIPPY_OK, "%s: %s", id, zippy_errmsg());
        CHECK_EQ(zippy_get(c, id, strlen(id), 0, &b), ZIPPY_OK);
        CHECK_STR(b.ptr, docs[i]);
        CHECK_EQ(zippy_get(c, id, strlen(id), ZIPPY_GET_WITH_ID, &b), ZIPPY_OK);
        strcat(jsonl, b.ptr);
        strcat(jsonl, i == 1 ? "\r\n\r\n" : "\n");
    }
    zippy_coll *c2;
    CHECK_EQ(zippy_coll_open(&c2, r, "copy", NULL), ZIPPY_OK);
    uint64_t w = 0;
    CHECKF(zippy_put_jsonl(c2, jsonl, strlen(jsonl) - 1, NULL, NULL, 0, &w) == ZIPPY_OK, "%s", zippy_errmsg());
    CHECK_EQ(w, 4);
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%d", i);
        CHECK_EQ(zippy_get(c2, id, strlen(id), 0, &b), ZIPPY_OK);
        CHECK_STR(b.ptr, docs[i]);
    }
    zippy_coll_close(c2);
    close_rw(r, c);
    zippy_buf_free(&b);
}

/* Ids: letters and digits of many scripts are accepted; emoji, symbols,
 * lone combining marks, spaces and the length limit are refused. */
TEST(test_qa_id_alphabet) {
    static const char *good[] = {
        "h\xC3\xA9llo",                     /* héllo */
        "\xCE\xA9\xCE\xBC\xCE\xAD\xCE\xB3\xCE\xB1", /* Greek */
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", /* 日本語 */
        "\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A", /* Arabic */
        "\xD9\xA1\xD9\xA2\xD9\xA3",         /* Arabic-Indic digits */
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", /* Cyrillic */
        "\xEA\xB0\x80\xEB\x82\x98",         /* Hangul */
        "a=b+c@d:e_f-g.h",
        "-x",
    };
    static const char *bad[] = {
        "\xF0\x9F\x98\x80",                 /* emoji */
        "a\xE2\x9D\xA4",                    /* heavy heart */
        "\xCC\x80x",                        /* combining grave first */
        "\xC2\xBD",                         /* ½ */
        "a b", "a/b", "a\\b", ".x", "a..b", "a\"b",
        "\xEF\xBB\xBF" "a",                 /* BOM */
        "a\xE2\x80\x8B" "b",                /* zero width space */
        "\xFF",                             /* not UTF-8 */
        "\xC0\xAF",                         /* overlong '/' */
        "\xED\xA0\x80",                     /* surrogate */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECKF(zippy_id_valid(good[i], strlen(good[i])) == ZIPPY_OK, "good id %zu refused: %s", i, zippy_errmsg());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECKF(zippy_id_valid(bad[i], strlen(bad[i])) == ZIPPY_EINVAL, "bad id %zu accepted", i);
    char id[300];
    memset(id, 'a', sizeof id);
    CHECK_EQ(zippy_id_valid(id, 255), ZIPPY_OK);
    CHECK_EQ(zippy_id_valid(id, 256), ZIPPY_EINVAL);
    CHECK_EQ(zippy_id_valid("a\0b", 3), ZIPPY_EINVAL);
    CHECK_EQ(zippy_id_valid("", 0), ZIPPY_EINVAL);
}

/* Number comparisons in filters are exact (no rounding through double). */
TEST(test_qa_filter_numbers_exact) {
    const char *dir = tmpdir();
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(dir, "c", &r, &c), ZIPPY_OK);
    CHECK_EQ(put_s(c, "f", "{\"n\":100000000000000000001}"), ZIPPY_OK);
    CHECK_EQ(put_s(c, "g", "{\"n\":100000000000000000000}"), ZIPPY_OK);
    CHECK_EQ(put_s(c, "e", "{\"n\":1e400}"), ZIPPY_OK);
    CHECK_EQ(put_s(c, "h", "{\"n\":0.1}"), ZIPPY_OK);
    CHECK_EQ(put_s(c, "z", "{\"n\":-0}"), ZIPPY_OK);
    static const struct { const char *filter, *want; } cases[] = {
        {"{\"n\":100000000000000000001}", "f;"},
        {"{\"n\":1e20}", "g;"},
        {"{\"n\":{\"$gt\":100000000000000000000}}", "f;e;"},
        {"{\"n\":{\"$gte\":100000000000000000000.5}}", "f;e;"},
        {"{\"n\":1e401}", ""},
        {"{\"n\":{\"$gt\":1e399}}", "e;"},
        {"{\"n\":0.10000000000000001}", ""},
        {"{\"n\":0}", "z;"},
        {"{\"n\":{\"$in\":[10e-2,\"0.1\"]}}", "h;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
        so.flags = ZIPPY_SCAN_IDS_ONLY;
        so.filter = cases[i].filter;
        zippy_scan *s;
        CHECKF(zippy_scan_open(&s, c, &so) == ZIPPY_OK, "%s: %s", cases[i].filter, zippy_errmsg());
        char got[256] = "";
        const char *id, *doc;
        size_t idl, dl;
        int k;
        while ((k = zippy_scan_next(s, &id, &idl, &doc, &dl)) == 1) {
            strncat(got, id, idl);
            strcat(got, ";");
        }
        zippy_scan_close(s);
        CHECK_EQ(k, 0);
        CHECKF(strcmp(got, cases[i].want) == 0, "%s: got \"%s\", want \"%s\"", cases[i].filter, got, cases[i].want);
    }
    close_rw(r, c);
}

int main(int argc, char **argv) {
    (void)argc;
    g_self = argv[0];
    const char *child = getenv("ZIPPY_QA_CHILD");
    if (child && !strcmp(child, "no_locale")) return no_locale_child();
    RUN(test_qa_bug_duplicate_id_members);
    RUN(test_qa_bug_max_document_export_import);
    RUN(test_qa_bug_id_rules_depend_on_locale);
    RUN(test_qa_exact_round_trip);
    RUN(test_qa_id_alphabet);
    RUN(test_qa_filter_numbers_exact);
    for (int i = 0; i < g_ndirs; i++) t_rm_rf(g_dirs[i]);
    TEST_END();
}
