/* test.h - the tiny unit-test harness used by tests/test_*.c.
 *
 * Each TEST is a function; main() lists them with RUN(). A failed CHECK
 * prints "FAIL name: file:line: expr" and ends that test. Every binary prints
 * "PASS name" / "FAIL name" lines that scripts/run_tests.sh counts, and
 * exits non-zero if anything failed.
 */
#ifndef ZIPPY_TEST_H
#define ZIPPY_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_failed_count, t_passed_count, t_cur_failed;
static const char *t_cur_name;

#define TEST(name) static void name(void)

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("FAIL %s: %s:%d: %s\n", t_cur_name, __FILE__, __LINE__, #c);\
            t_cur_failed = 1;                                                  \
            return;                                                            \
        }                                                                      \
    } while (0)

/* CHECK with a printf-style explanation on failure. */
#define CHECKF(c, ...)                                                         \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("FAIL %s: %s:%d: %s: ", t_cur_name, __FILE__, __LINE__, #c);\
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
            t_cur_failed = 1;                                                  \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    CHECKF((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a),   \
           (long long)(b))
#define CHECK_STR(a, b)                                                        \
    CHECKF(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
#define CHECK_MEM(p, n, s)                                                     \
    CHECKF((n) == strlen(s) && memcmp((p), (s), (n)) == 0, "\"%.*s\" != \"%s\"", \
           (int)(n), (const char *)(p), (s))

#define RUN(name)                                                              \
    do {                                                                       \
        t_cur_name = #name;                                                    \
        t_cur_failed = 0;                                                      \
        name();                                                                \
        if (t_cur_failed)                                                      \
            t_failed_count++;                                                  \
        else {                                                                 \
            t_passed_count++;                                                  \
            printf("PASS %s\n", #name);                                        \
        }                                                                      \
        fflush(stdout);                                                        \
    } while (0)

/* With arguments, a test binary runs only the tests whose names contain one
 * of them: call t_select(argc, argv) first, then RUN_SEL(name). */
static int t_sel_argc;
static char **t_sel_argv;
static inline void t_select(int argc, char **argv) {
    t_sel_argc = argc;
    t_sel_argv = argv;
}
static inline int t_selected(const char *name) {
    if (t_sel_argc < 2) return 1;
    for (int i = 1; i < t_sel_argc; i++)
        if (strstr(name, t_sel_argv[i])) return 1;
    return 0;
}
#define RUN_SEL(name)                                                          \
    do {                                                                       \
        if (t_selected(#name)) RUN(name);                                      \
    } while (0)

#define TEST_END()                                                             \
    do {                                                                       \
        printf("%d passed, %d failed\n", t_passed_count, t_failed_count);      \
        return t_failed_count ? 1 : 0;                                         \
    } while (0)

/* A fresh empty directory under $TMPDIR (or /tmp); removed by t_rm_rf.
 * Returns a static-lifetime malloc'ed path. */
static inline char *t_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/zippy-test-XXXXXX", base ? base : "/tmp");
    char *p = mkdtemp(tmpl);
    if (!p) { perror("mkdtemp"); exit(2); }
    return strdup(p);
}

static inline void t_rm_rf(const char *path) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: %s failed\n", cmd);
}

/* Writes/reads whole files (for building reference stores byte by byte). */
static inline int t_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}
static inline char *t_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); fclose(f); return NULL; }
    b[sz] = 0;
    fclose(f);
    if (n) *n = (size_t)sz;
    return b;
}

#endif
