/* fuzz_index.c - libFuzzer target for the index readers: zi_open_mem and
 * everything reachable from an opened index (probing, zi_slot, zi_verify),
 * and zl_parse for ZDS 0.1.x indexes. Must never crash, hang or leak.
 *
 * Random bytes almost never carry a valid header hash or slot checks, so
 * besides the input as given, the target also tries copies "repaired" in
 * the ways a careful forger would: with the header hash recomputed, and
 * with every slot check and both hashes recomputed. That lets the fuzzer
 * reach the slot walk and zi_verify's consistency checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "util.h"

static void exercise(const unsigned char *data, size_t size) {
    zi_index *ix;
    if (zi_open_mem(&ix, data, size) != 0) return;
    uint64_t n = zi_slot_count(ix);
    if (zi_file_size(ix) != size || n < 16 || (n & (n - 1))) abort();
    if (zi_count(ix) > n) abort();

    /* Probe the hashes of the first slots, some taken from the input, and
     * a few fixed ones (0 maps to 1). */
    uint64_t hashes[12];
    size_t nh = 0;
    for (uint64_t i = 0; i < 6 && i < n; i++)
        hashes[nh++] = z_le64(data + ZI_HEADER_SIZE + i * ZI_SLOT_SIZE);
    hashes[nh++] = 0;
    hashes[nh++] = 1;
    hashes[nh++] = z_le64(data + 16);
    hashes[nh++] = ~0ull;
    for (size_t k = 0; k < nh; k++) {
        zi_probe p;
        zi_entry e;
        uint64_t slot, seen = 0;
        int r;
        zi_probe_init(ix, hashes[k], &p);
        while ((r = zi_probe_next(ix, &p, &e, &slot)) != 0) {
            if (r == 1) {
                if (slot >= n || e.off > ZI_MAX_OFFSET) abort();
                if (e.hash != (hashes[k] ? hashes[k] : 1)) abort();
            } else if (r != ZIPPY_ECORRUPT) {
                abort();
            }
            if (++seen > n) abort(); /* each slot at most once */
        }
    }
    uint64_t occupied = 0;
    for (uint64_t i = 0; i < n; i++) {
        zi_entry e;
        int r = zi_slot(ix, i, &e);
        if (r == 1) occupied++;
        else if (r != 0 && r != ZIPPY_ECORRUPT) abort();
    }
    zi_entry e;
    if (zi_slot(ix, n, &e) != ZIPPY_EINVAL) abort();
    int v = zi_verify(ix);
    if (v != 0 && v != ZIPPY_ECORRUPT && v != ZIPPY_ENOMEM) abort();
    if (v == 0 && occupied != zi_count(ix)) abort();
    zi_close(ix);
}

static void fix_header_hash(unsigned char *p) {
    z_put_le64(p + 56, z_hash64(p, 56));
}

/* Makes the copy as valid as its bytes allow: magic, version, flags, the
 * slot count the size implies, every occupied slot's check (as documented
 * in index.c), the entry count, live bytes and both hashes. What is left
 * for zi_verify to find is structure: duplicates, unreachable entries. */
static void fix_all(unsigned char *p, size_t size) {
    memcpy(p, ZI_MAGIC, 8);
    z_put_le32(p + 8, 1);
    z_put_le32(p + 12, 0);
    size_t n = (size - ZI_HEADER_SIZE) / ZI_SLOT_SIZE;
    if (n >= 16 && !(n & (n - 1))) z_put_le64(p + 16, n);
    uint64_t count = 0, live = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *s = p + ZI_HEADER_SIZE + i * ZI_SLOT_SIZE;
        if (!z_le64(s)) continue;
        uint64_t w0 = z_le64(s), w1 = z_le64(s + 8) & ((1ull << 48) - 1), w2 = z_le64(s + 16);
        uint64_t x = w0 ^ (w1 * 0x9E3779B97F4A7C15ull) ^ (w2 * 0xC2B2AE3D27D4EB4Full);
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDull;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53ull;
        x ^= x >> 33;
        uint16_t c = (uint16_t)x;
        s[14] = (unsigned char)c;
        s[15] = (unsigned char)(c >> 8);
        count++;
        live += (uint64_t)z_le32(s + 16) + 1;
    }
    z_put_le64(p + 24, count);
    z_put_le64(p + 40, live);
    z_put_le64(p + 48, z_hash64(p + ZI_HEADER_SIZE, n * ZI_SLOT_SIZE));
    fix_header_hash(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    exercise(data, size);

    if (size >= ZI_HEADER_SIZE) {
        unsigned char *copy = malloc(size);
        if (copy) {
            memcpy(copy, data, size);
            fix_header_hash(copy);
            exercise(copy, size);
            fix_all(copy, size);
            exercise(copy, size);
            free(copy);
        }
    }

    zl_list l;
    int r = zl_parse(data, size, &l);
    if (r == 0) {
        if (l.kind != 1 && l.kind != 2) abort();
        size_t total = 0;
        for (size_t i = 0; i < l.n; i++) {
            size_t idlen = strlen(l.v[i].id);
            if (idlen == 0 || l.v[i].len == 0) abort();
            total += idlen;
        }
        if (total > size) abort();
        zl_list_free(&l);
    } else if (r != ZIPPY_EINVAL && r != ZIPPY_ECORRUPT && r != ZIPPY_ENOMEM) {
        abort();
    }
    return 0;
}
