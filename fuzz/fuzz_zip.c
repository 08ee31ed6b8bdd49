/* fuzz_zip.c - zippy_unpack on arbitrary bytes.
 *
 * Each input is written to <base>/jail/in.zip and unpacked into
 * <base>/jail/out, then the jail is removed. Besides "no crash, no hang"
 * the target checks what unpack promises, and aborts when it is broken:
 *  - the result is ZIPPY_OK or a documented negative code, with a message;
 *  - nothing appears outside the jail, and inside it only in.zip plus, on
 *    success, out/ (no out.tmp-* leftovers, nothing beside them);
 *  - a successful unpack holds only regular files and directories.
 * Replayed from fuzz/corpus/fuzz_zip/ by `make fuzzers` + run_tests.sh.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os.h"
#include "zippy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_base[4096];

static void remove_base(void) {
    if (g_base[0]) zos_rm_rf(g_base);
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_zip: %s: %s\n", what, detail);
    abort();
}

/* Aborts unless dir holds exactly the names in want (NULL-terminated). */
static void expect_only(const char *dir, const char *const *want) {
    DIR *d = opendir(dir);
    if (!d) die("cannot list", dir);
    struct dirent *e;
    size_t seen = 0, nwant = 0;
    while (want[nwant]) nwant++;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t i = 0;
        while (want[i] && strcmp(want[i], e->d_name)) i++;
        if (!want[i]) die("unexpected entry", e->d_name);
        seen++;
    }
    closedir(d);
    if (seen != nwant) die("missing entry in", dir);
}

/* Aborts if the tree under path holds anything but files and dirs. */
static void expect_plain_tree(const char *path, int depth) {
    struct stat st;
    if (lstat(path, &st) != 0) die("lstat failed", path);
    if (S_ISREG(st.st_mode)) return;
    if (!S_ISDIR(st.st_mode)) die("not a regular file or directory", path);
    if (depth > 2100) die("tree too deep", path);
    DIR *d = opendir(path);
    if (!d) die("cannot list", path);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child) die("out of memory", path);
        snprintf(child, n, "%s/%s", path, e->d_name);
        expect_plain_tree(child, depth + 1);
        free(child);
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_base[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_base, sizeof g_base, "%s/zippy-fuzz-zip-XXXXXX", tmp ? tmp : "/tmp");
        if (!mkdtemp(g_base)) die("mkdtemp failed", g_base);
        atexit(remove_base);
    }
    char jail[4200], in[4300], out[4300];
    snprintf(jail, sizeof jail, "%s/jail", g_base);
    snprintf(in, sizeof in, "%s/in.zip", jail);
    snprintf(out, sizeof out, "%s/out", jail);
    if (mkdir(jail, 0755) != 0) die("mkdir failed", jail);

    FILE *f = fopen(in, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        die("cannot write", in);

    int rc = zippy_unpack(in, out, NULL, NULL);

    if (rc > 0 || rc < ZIPPY_EUNSUPPORTED) die("undocumented result", zippy_errmsg());
    if (rc < 0 && (zippy_errcode() != rc || !zippy_errmsg()[0]))
        die("failure without its code or message", zippy_errmsg());
    static const char *const base_names[] = {"jail", NULL};
    static const char *const fail_names[] = {"in.zip", NULL};
    static const char *const ok_names[] = {"in.zip", "out", NULL};
    expect_only(g_base, base_names);
    expect_only(jail, rc == 0 ? ok_names : fail_names);
    if (rc == 0) expect_plain_tree(out, 0);

    if (zos_rm_rf(jail) != 0) die("cannot clean", jail);
    return 0;
}
