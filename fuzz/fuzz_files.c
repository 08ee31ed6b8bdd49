/* fuzz_files.c - libFuzzer target for the parsers of the files layout
 * (src/files.c): docs/ entry names and the meta/files.state journal.
 *
 * The first input byte picks the parser; the rest is its input.
 *  - names: zf_name_parse never reads past the name; an accepted document
 *    name decodes to a valid id whose canonical name (zf_name_of) is the
 *    name itself; a hashed name has the "~<16 hex>.json" form;
 *  - state: zf_state_parse (with the cache size and inode taken from the
 *    input) either finds no matching commit, or gives a map whose live
 *    entries, written back with zf_state_entry and a commit line, parse
 *    again to the same ids and fingerprints.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "util.h"

#define REQUIRE(c)                                                                                  \
    do {                                                                                            \
        if (!(c)) {                                                                                 \
            fprintf(stderr, "fuzz_files: invariant failed: %s (line %d)\n", #c, __LINE__);          \
            abort();                                                                                \
        }                                                                                           \
    } while (0)

static void check_name(const uint8_t *data, size_t size) {
    char name[ZF_NAME_MAX + 64];
    if (size > sizeof name - 1) size = sizeof name - 1;
    memcpy(name, data, size);
    name[size] = 0;
    char id[ZIPPY_ID_MAX + 1];
    size_t idlen = 0;
    int k = zf_name_parse(name, id, &idlen);
    REQUIRE(k >= ZF_NAME_ID && k <= ZF_NAME_BAD);
    size_t n = strlen(name);
    if (k == ZF_NAME_ID) {
        REQUIRE(idlen >= 1 && idlen <= ZIPPY_ID_MAX);
        REQUIRE(zippy_id_valid(id, idlen) == ZIPPY_OK);
        char back[ZF_NAME_MAX + 1];
        int hashed = 1;
        size_t bl = zf_name_of(id, idlen, back, &hashed);
        REQUIRE(!hashed && bl == n && memcmp(back, name, n) == 0);
    } else if (k == ZF_NAME_HASHED) {
        const char *t = strrchr(name, '~');
        REQUIRE(t && n >= 5 && !strcmp(name + n - 5, ".json") && strlen(t) == 1 + 16 + 5);
    } else if (k == ZF_NAME_TEMP || k == ZF_NAME_HIDDEN) {
        REQUIRE(name[0] == '.');
    }
}

static void check_state(const uint8_t *data, size_t size) {
    if (size < 16) return;
    uint64_t csize, cino;
    memcpy(&csize, data, 8);
    memcpy(&cino, data + 8, 8);
    csize %= 1000; /* small numbers, so inputs can match them */
    cino %= 1000;
    const char *text = (const char *)data + 16;
    size_t len = size - 16;
    zf_map m, m2;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);
    uint64_t oh = 0, oh2 = 0;
    size_t end = 0, end2 = 0;
    int k = zf_state_parse(text, len, csize, cino, &m, &oh, &end);
    REQUIRE(k == 0 || k == 1 || k == ZIPPY_ENOMEM);
    if (k == 1) {
        REQUIRE(end <= len);
        zippy_buf out = ZIPPY_BUF_INIT;
        REQUIRE(zb_append(&out, ZF_STATE_MAGIC, strlen(ZF_STATE_MAGIC)) == ZIPPY_OK);
        size_t live = 0;
        for (size_t i = 0; i < m.n; i++) {
            if (m.v[i].dead) continue;
            live++;
            REQUIRE(zf_state_entry(&out, &m.v[i]) == ZIPPY_OK);
        }
        REQUIRE(zf_state_commit(&out, csize, cino, oh, 1) == ZIPPY_OK);
        REQUIRE(zf_state_parse(out.ptr, out.len, csize, cino, &m2, &oh2, &end2) == 1);
        REQUIRE(oh2 == oh && end2 == out.len);
        size_t live2 = 0;
        for (size_t i = 0; i < m2.n; i++) {
            if (m2.v[i].dead) continue;
            live2++;
            const zf_ent *a = zf_map_find(&m, m2.v[i].id, m2.v[i].idlen);
            REQUIRE(a && !a->dead && a->fp.size == m2.v[i].fp.size && a->fp.ino == m2.v[i].fp.ino &&
                    a->fp.mtime_ns == m2.v[i].fp.mtime_ns && a->fp.ctime_ns == m2.v[i].fp.ctime_ns);
        }
        REQUIRE(live2 == live);
        zippy_buf_free(&out);
    }
    zf_map_clear(&m);
    zf_map_clear(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1)
        check_state(data + 1, size - 1);
    else
        check_name(data + 1, size - 1);
    return 0;
}
