/* test_index.c - the persisted hash index (src/index.c) and the reader of
 * ZDS 0.1.x indexes. */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>

#include "index.h"
#include "os.h"
#include "util.h"

static char *g_dir;

static int quick(void) { return getenv("ZIPPY_QUICK") != NULL; }

static char *path_in(const char *name) {
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
    return p;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* The slot check exactly as documented in index.c and docs/FORMAT.md,
 * written out independently. */
static uint16_t doc_check(uint64_t hash, uint64_t off, uint32_t len,
                          uint32_t crc) {
    uint64_t w1 = off & ((1ull << 48) - 1), w2 = (uint64_t)len | (uint64_t)crc << 32;
    uint64_t x = hash ^ (w1 * 0x9E3779B97F4A7C15ull) ^ (w2 * 0xC2B2AE3D27D4EB4Full);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 33;
    return (uint16_t)(x & 0xffff);
}

/* Writes one slot in the documented layout. */
static void put_slot(unsigned char *s, const zi_entry *e) {
    z_put_le64(s, e->hash);
    z_put_le64(s + 8, e->off | (uint64_t)doc_check(e->hash, e->off, e->len,
                                                   e->crc) << 48);
    z_put_le32(s + 16, e->len);
    z_put_le32(s + 20, e->crc);
}

/* Fills the header of a hand-made image of nslots slots; count and live
 * are taken from the slots unless given (>= 0). */
static void finish_image(unsigned char *img, uint64_t nslots, long long count,
                         long long live, uint64_t covered) {
    uint64_t c = 0, l = 0;
    for (uint64_t i = 0; i < nslots; i++) {
        const unsigned char *s = img + 64 + 24 * i;
        if (z_le64(s)) {
            c++;
            l += (uint64_t)z_le32(s + 16) + 1;
        }
    }
    memcpy(img, ZI_MAGIC, 8);
    z_put_le32(img + 8, 1);
    z_put_le32(img + 12, 0);
    z_put_le64(img + 16, nslots);
    z_put_le64(img + 24, count >= 0 ? (uint64_t)count : c);
    z_put_le64(img + 32, covered);
    z_put_le64(img + 40, live >= 0 ? (uint64_t)live : l);
    z_put_le64(img + 48, z_hash64(img + 64, 24 * nslots));
    z_put_le64(img + 56, z_hash64(img, 56));
}

static void rehash_header(unsigned char *img) {
    z_put_le64(img + 56, z_hash64(img, 56));
}

static zi_entry mk(uint64_t hash, uint64_t off, uint32_t len, uint32_t crc) {
    zi_entry e = {hash, off, len, crc};
    return e;
}

/* Entry i of the synthetic data sets. */
static zi_entry entry_n(size_t i) {
    char id[32];
    int n = snprintf(id, sizeof id, "doc-%zu", i);
    return mk(zi_hash(id, (size_t)n), (uint64_t)i * 100, 40 + (uint32_t)(i % 50),
              (uint32_t)(i * 2654435761u));
}

static int same(const zi_entry *a, const zi_entry *b) {
    return a->hash == b->hash && a->off == b->off && a->len == b->len &&
           a->crc == b->crc;
}

/* 1 if probing finds exactly *want, 0 if not, or the error. */
static int find(const zi_index *ix, const zi_entry *want) {
    zi_probe p;
    zi_entry e;
    uint64_t slot;
    int r;
    zi_probe_init(ix, want->hash, &p);
    while ((r = zi_probe_next(ix, &p, &e, &slot)) == 1) {
        if (e.hash != want->hash) return -1000; /* never: wrong hash */
        if (e.off == want->off) return same(&e, want) ? 1 : -1001;
    }
    return r;
}

static int write_entries(const char *path, const zi_entry *v, size_t n,
                         uint64_t covered) {
    zi_builder *b;
    int rc = zi_builder_new(&b, n);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) rc = zi_builder_add(b, &v[i]);
    if (!rc) rc = zi_builder_write(b, path, covered);
    zi_builder_free(b);
    return rc;
}

static zi_entry *entries(size_t n) {
    zi_entry *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = entry_n(i);
    return v;
}

/* ------------------------------------------------------------------ */

TEST(test_hash_never_zero) {
    CHECK(zi_hash("a", 1) == z_hash64("a", 1));
    CHECK(zi_hash("", 0) != 0);
    for (int i = 0; i < 1000; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "%d", i);
        CHECK(zi_hash(id, (size_t)n) != 0);
    }
}

static void roundtrip(size_t n) {
    const char *path = path_in("rt.idx");
    zi_entry *v = entries(n);
    uint64_t covered = (uint64_t)n * 100 + 7, live = 0;
    for (size_t i = 0; i < n; i++) live += v[i].len + 1;
    CHECKF(write_entries(path, v, n, covered) == 0, "%s", zippy_errmsg());
    CHECK(!file_exists(path_in("rt.idx.tmp")));
    zi_index *ix;
    CHECKF(zi_open(&ix, path) == 0, "%s", zippy_errmsg());
    uint64_t slots = zi_slot_count(ix);
    CHECK_EQ(zi_count(ix), n);
    CHECK_EQ(zi_covered(ix), covered);
    CHECK_EQ(zi_live_bytes(ix), live);
    CHECK(slots >= 16 && (slots & (slots - 1)) == 0);
    CHECK(n * 10 <= slots * 7);               /* load <= 0.7 */
    CHECK(slots == 16 || n * 10 > slots / 2 * 7); /* and the smallest */
    CHECK_EQ(zi_file_size(ix), 64 + 24 * slots);
    for (size_t i = 0; i < n; i++) CHECK_EQ(find(ix, &v[i]), 1);
    for (size_t i = 0; i < 1000; i++) {
        char id[32];
        int k = snprintf(id, sizeof id, "absent-%zu", i);
        zi_entry miss = mk(zi_hash(id, (size_t)k), 1, 1, 1);
        CHECK_EQ(find(ix, &miss), 0);
    }
    CHECKF(zi_verify(ix) == 0, "%s", zippy_errmsg());

    /* The on-disk bytes follow the documented layout exactly. */
    size_t sz;
    unsigned char *f = (unsigned char *)t_read_file(path, &sz);
    CHECK(f && sz == 64 + 24 * slots);
    CHECK(memcmp(f, "ZPYIDX01", 8) == 0);
    CHECK_EQ(z_le32(f + 8), 1);
    CHECK_EQ(z_le32(f + 12), 0);
    CHECK_EQ(z_le64(f + 16), slots);
    CHECK_EQ(z_le64(f + 24), n);
    CHECK_EQ(z_le64(f + 32), covered);
    CHECK_EQ(z_le64(f + 40), live);
    CHECK(z_le64(f + 48) == z_hash64(f + 64, 24 * slots));
    CHECK(z_le64(f + 56) == z_hash64(f, 56));
    size_t occupied = 0;
    for (uint64_t i = 0; i < slots; i++) {
        const unsigned char *s = f + 64 + 24 * i;
        uint64_t h = z_le64(s), w = z_le64(s + 8);
        if (!h) {
            CHECK(w == 0 && z_le64(s + 16) == 0);
            continue;
        }
        occupied++;
        CHECK_EQ(w >> 48, doc_check(h, w & ZI_MAX_OFFSET, z_le32(s + 16),
                                    z_le32(s + 20)));
        zi_entry e;
        CHECK_EQ(zi_slot(ix, i, &e), 1);
        CHECK(e.hash == h && e.off == (w & ZI_MAX_OFFSET));
    }
    CHECK_EQ(occupied, n);
    zi_entry e;
    CHECK_EQ(zi_slot(ix, slots, &e), ZIPPY_EINVAL);
    free(f);
    zi_close(ix);
    free(v);
}

TEST(test_roundtrip_0) { roundtrip(0); }
TEST(test_roundtrip_1) { roundtrip(1); }
TEST(test_roundtrip_1000) { roundtrip(1000); }
TEST(test_roundtrip_100000) { roundtrip(quick() ? 20000 : 100000); }

TEST(test_rewrite_replaces) {
    const char *path = path_in("rw.idx");
    zi_entry a = mk(11, 1, 2, 3), b = mk(22, 4, 5, 6);
    CHECK_EQ(write_entries(path, &a, 1, 10), 0);
    CHECK_EQ(write_entries(path, &b, 1, 20), 0);
    zi_index *ix;
    CHECK_EQ(zi_open(&ix, path), 0);
    CHECK_EQ(find(ix, &a), 0);
    CHECK_EQ(find(ix, &b), 1);
    CHECK_EQ(zi_covered(ix), 20);
    zi_close(ix);
}

TEST(test_open_missing) {
    zi_index *ix = NULL;
    CHECK_EQ(zi_open(&ix, path_in("nope.idx")), ZIPPY_ENOTFOUND);
    CHECK(strstr(zippy_errmsg(), "nope.idx"));
    CHECK(ix == NULL);
}

/* Many entries with one hash (and chains running over the table's end). */
static void collisions(size_t same_n, uint64_t hash) {
    const char *path = path_in("coll.idx");
    size_t n = same_n + 200;
    zi_entry *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < same_n; i++) v[i] = mk(hash, 1000 + i * 10, 9, (uint32_t)i);
    for (size_t i = same_n; i < n; i++) v[i] = entry_n(i);
    CHECKF(write_entries(path, v, n, 1 << 20) == 0, "%s", zippy_errmsg());
    zi_index *ix;
    CHECK_EQ(zi_open(&ix, path), 0);
    for (size_t i = 0; i < n; i++) CHECK_EQ(find(ix, &v[i]), 1);
    /* The probe yields every entry of the hash exactly once. */
    zi_probe p;
    zi_entry e;
    uint64_t slot, prev_slot = UINT64_MAX;
    size_t got = 0;
    char *seen = calloc(same_n, 1);
    zi_probe_init(ix, hash, &p);
    int r;
    while ((r = zi_probe_next(ix, &p, &e, &slot)) == 1) {
        CHECK(e.hash == hash);
        CHECK(slot != prev_slot && slot < zi_slot_count(ix));
        prev_slot = slot;
        size_t k = (size_t)(e.off - 1000) / 10;
        CHECK(k < same_n && !seen[k] && e.crc == k);
        seen[k] = 1;
        got++;
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(got, same_n);
    CHECK_EQ(zi_probe_next(ix, &p, &e, &slot), 0); /* stays ended */
    CHECKF(zi_verify(ix) == 0, "%s", zippy_errmsg());
    zi_close(ix);
    free(seen);
    free(v);
}

TEST(test_collisions_few) { collisions(5, 0x123456789abcdef0ull); }
TEST(test_collisions_many) { collisions(1000, 0x42); }
/* Home at the last slot: the chain wraps around to slot 0. */
TEST(test_collisions_wrap) { collisions(300, ~0ull); }

TEST(test_hash_zero_stored_as_one) {
    const char *path = path_in("zero.idx");
    zi_entry a = mk(0, 5, 6, 7);
    CHECK_EQ(write_entries(path, &a, 1, 10), 0);
    zi_index *ix;
    CHECK_EQ(zi_open(&ix, path), 0);
    zi_probe p;
    zi_entry e;
    uint64_t slot;
    zi_probe_init(ix, 0, &p);
    CHECK_EQ(zi_probe_next(ix, &p, &e, &slot), 1);
    CHECK(e.hash == 1 && e.off == 5 && e.len == 6 && e.crc == 7);
    CHECK_EQ(zi_verify(ix), 0);
    zi_close(ix);
}

TEST(test_duplicate_rejected) {
    const char *path = path_in("dup.idx");
    zi_entry v[3] = {mk(7, 100, 1, 1), mk(7, 200, 1, 1), mk(7, 100, 2, 2)};
    CHECK_EQ(write_entries(path, v, 3, 10), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "duplicate"));
    CHECK(strstr(zippy_errmsg(), path));
    CHECK(!file_exists(path));
    CHECK(!file_exists(path_in("dup.idx.tmp")));
    /* Same across the end of the table (home = last slot, the run wraps). */
    zi_entry x[4] = {mk(~0ull, 1, 1, 1), mk(~0ull, 2, 1, 1), mk(5, 3, 1, 1),
                     mk(~0ull, 1, 1, 1)};
    CHECK_EQ(write_entries(path, x, 4, 10), ZIPPY_EINVAL);
    CHECK(!file_exists(path));
    CHECK(!file_exists(path_in("dup.idx.tmp")));
    x[3].off = 4;
    CHECK_EQ(write_entries(path, x, 4, 10), 0);
    zi_index *ix;
    CHECK_EQ(zi_open(&ix, path), 0);
    for (int i = 0; i < 4; i++) CHECK_EQ(find(ix, &x[i]), 1);
    CHECK_EQ(zi_verify(ix), 0);
    zi_close(ix);
    unlink(path);
    /* Same in a long chain (sorted check). */
    zi_entry *w = malloc(100 * sizeof *w);
    for (int i = 0; i < 100; i++) w[i] = mk(9, (uint64_t)i, 1, 1);
    w[99].off = 42;
    CHECK_EQ(write_entries(path, w, 100, 10), ZIPPY_EINVAL);
    CHECK(!file_exists(path));
    free(w);
}

TEST(test_offset_limit) {
    const char *path = path_in("lim.idx");
    zi_builder *b;
    CHECK_EQ(zi_builder_new(&b, 0), 0);
    zi_entry ok = mk(5, ZI_MAX_OFFSET, UINT32_MAX, UINT32_MAX);
    zi_entry big = mk(6, ZI_MAX_OFFSET + 1, 1, 1);
    CHECK_EQ(zi_builder_add(b, &ok), 0);
    CHECK_EQ(zi_builder_add(b, &big), ZIPPY_ETOOBIG);
    CHECK_EQ(zi_builder_count(b), 1);
    CHECK_EQ(zi_builder_write(b, path, 0), 0);
    zi_builder_free(b);
    zi_index *ix;
    CHECK_EQ(zi_open(&ix, path), 0);
    CHECK_EQ(find(ix, &ok), 1);
    CHECK(zi_live_bytes(ix) == (uint64_t)UINT32_MAX + 1);
    CHECK_EQ(zi_verify(ix), 0);
    zi_close(ix);
}

/* ---- header corruption ---- */

static unsigned char *small_index(size_t n, size_t *size) {
    const char *path = path_in("small.idx");
    zi_entry *v = entries(n);
    int rc = write_entries(path, v, n, 12345);
    free(v);
    if (rc) return NULL;
    return (unsigned char *)t_read_file(path, size);
}

TEST(test_header_bitflips) {
    size_t size;
    unsigned char *img = small_index(10, &size);
    CHECK(img);
    zi_index *ix;
    CHECK_EQ(zi_open_mem(&ix, img, size), 0);
    zi_close(ix);
    const char *path = path_in("flip.idx");
    for (int byte = 0; byte < 64; byte++)
        for (int bit = 0; bit < 8; bit++) {
            img[byte] ^= (unsigned char)(1u << bit);
            ix = NULL;
            CHECKF(zi_open_mem(&ix, img, size) == ZIPPY_ECORRUPT,
                   "byte %d bit %d", byte, bit);
            CHECK(ix == NULL);
            CHECK(strstr(zippy_errmsg(), "corrupt"));
            if (bit == byte % 8) { /* one bit per byte also through a file */
                CHECK_EQ(t_write_file(path, img, size), 0);
                CHECKF(zi_open(&ix, path) == ZIPPY_ECORRUPT, "byte %d", byte);
                CHECK(strstr(zippy_errmsg(), path));
            }
            img[byte] ^= (unsigned char)(1u << bit);
        }
    free(img);
}

TEST(test_header_fields) {
    /* Fields that are wrong but carry a valid header hash. */
    unsigned char img[64 + 24 * 32];
    const char *msg;
    zi_index *ix;
#define REJECT(setup, reason)                                                  \
    do {                                                                       \
        memset(img, 0, sizeof img);                                            \
        finish_image(img, 16, -1, -1, 0);                                      \
        setup;                                                                 \
        rehash_header(img);                                                    \
        CHECK_EQ(zi_open_mem(&ix, img, 64 + 24 * 16), ZIPPY_ECORRUPT);         \
        msg = zippy_errmsg();                                                  \
        CHECKF(strstr(msg, reason), "%s", msg);                                \
    } while (0)
    REJECT(z_put_le32(img + 8, 2), "version");
    REJECT(z_put_le32(img + 8, 0), "version");
    REJECT(z_put_le32(img + 12, 1), "flags");
    REJECT(z_put_le64(img + 16, 8), "power of two");
    REJECT(z_put_le64(img + 16, 0), "power of two");
    REJECT(z_put_le64(img + 16, 24), "power of two");
    REJECT(z_put_le64(img + 16, 32), "file size");
    REJECT(z_put_le64(img + 16, 1ull << 62), "file size");
    REJECT(z_put_le64(img + 24, 17), "count");
    REJECT(memcpy(img, "ZPYIDX02", 8), "magic");
#undef REJECT
    memset(img, 0, sizeof img);
    finish_image(img, 16, -1, -1, 0);
    CHECK_EQ(zi_open_mem(&ix, img, 64 + 24 * 16), 0);
    CHECK_EQ(zi_count(ix), 0);
    CHECK_EQ(zi_verify(ix), 0);
    zi_close(ix);
    CHECK_EQ(zi_open_mem(&ix, img, 64 + 24 * 16 + 1), ZIPPY_ECORRUPT);
    CHECK_EQ(zi_open_mem(&ix, img, 64 + 24 * 15), ZIPPY_ECORRUPT);
    CHECK_EQ(zi_open_mem(&ix, NULL, 0), ZIPPY_ECORRUPT);
}

TEST(test_truncated_and_wrong_size) {
    size_t size;
    unsigned char *img = small_index(100, &size);
    CHECK(img);
    const char *path = path_in("trunc.idx");
    size_t cuts[] = {0, 1, 8, 63, 64, 65, 64 + 24, size / 2, size - 24, size - 1};
    zi_index *ix;
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        CHECK_EQ(t_write_file(path, img, cuts[k]), 0);
        CHECKF(zi_open(&ix, path) == ZIPPY_ECORRUPT, "cut at %zu", cuts[k]);
        const char *msg = zippy_errmsg();
        CHECK(strstr(msg, path));
        if (cuts[k] == 0) CHECKF(strstr(msg, "empty"), "%s", msg);
        else if (cuts[k] < 64) CHECKF(strstr(msg, "too small"), "%s", msg);
        else CHECKF(strstr(msg, "size"), "%s", msg);
        CHECK_EQ(zi_open_mem(&ix, img, cuts[k]), ZIPPY_ECORRUPT);
    }
    unsigned char *big = malloc(size + 24);
    memcpy(big, img, size);
    memset(big + size, 0, 24);
    for (size_t extra = 1; extra <= 24; extra += 23) {
        CHECK_EQ(t_write_file(path, big, size + extra), 0);
        CHECK_EQ(zi_open(&ix, path), ZIPPY_ECORRUPT);
        CHECK(strstr(zippy_errmsg(), "size"));
    }
    CHECK_EQ(t_write_file(path, img, size), 0);
    CHECK_EQ(zi_open(&ix, path), 0);
    zi_close(ix);
    free(big);
    free(img);
}

/* ---- slot corruption ---- */

TEST(test_slot_bitflips) {
    /* 40 entries in 64 slots, a few sharing a hash. */
    const char *path = path_in("slots.idx");
    zi_entry v[40];
    for (size_t i = 0; i < 40; i++) v[i] = entry_n(i);
    for (size_t i = 30; i < 36; i++) v[i].hash = v[29].hash;
    CHECK_EQ(write_entries(path, v, 40, 4000), 0);
    size_t size;
    unsigned char *img = (unsigned char *)t_read_file(path, &size);
    CHECK(img && size == 64 + 24 * 64);
    unsigned long flips = 0, caught_by_probe = 0, check_collisions = 0;
    for (size_t slot = 0; slot < 64; slot++)
        for (int bit = 0; bit < 24 * 8; bit++) {
            unsigned char *byte = img + 64 + 24 * slot + bit / 8;
            *byte ^= (unsigned char)(1u << (bit % 8));
            flips++;
            zi_index *ix;
            CHECK_EQ(zi_open_mem(&ix, img, size), 0); /* O(1): not seen */
            CHECKF(zi_verify(ix) == ZIPPY_ECORRUPT, "slot %zu bit %d", slot, bit);
            for (size_t i = 0; i < 40; i++) {
                zi_probe p;
                zi_entry e;
                uint64_t at;
                int r, found = 0;
                zi_probe_init(ix, v[i].hash, &p);
                while ((r = zi_probe_next(ix, &p, &e, &at)) == 1) {
                    CHECK(e.hash == v[i].hash);
                    /* Any entry served must pass the caller's check against
                     * the data (here: be one of the real entries); a 16-bit
                     * check collision could serve a wrong one, which the
                     * data checksum then rejects. Count those. */
                    int real = 0;
                    for (size_t j = 0; j < 40; j++) real |= same(&e, &v[j]);
                    if (!real) check_collisions++;
                    if (same(&e, &v[i])) found = 1;
                }
                if (r < 0) {
                    CHECK_EQ(r, ZIPPY_ECORRUPT);
                    CHECK(strstr(zippy_errmsg(), "slot"));
                    caught_by_probe++;
                    continue;
                }
                /* A clean walk must have found the entry: a flip on its
                 * path is always reported. */
                CHECKF(found || check_collisions,
                       "slot %zu bit %d: entry %zu lost silently", slot, bit, i);
            }
            zi_entry e;
            int r = zi_slot(ix, slot, &e);
            if (r == 1) {
                int real = 0;
                for (size_t j = 0; j < 40; j++) real |= same(&e, &v[j]);
                if (!real) check_collisions++;
            } else {
                CHECKF(r == ZIPPY_ECORRUPT, "slot %zu bit %d: r=%d", slot, bit, r);
                char want[32];
                snprintf(want, sizeof want, "slot %zu ", slot);
                CHECKF(strstr(zippy_errmsg(), want), "%s", zippy_errmsg());
            }
            zi_close(ix);
            *byte ^= (unsigned char)(1u << (bit % 8));
        }
    CHECK(caught_by_probe > 0);
    CHECKF(check_collisions <= 4, "%lu of %lu flips kept a valid check",
           check_collisions, flips);
    free(img);
}

/* ---- zi_verify on hand-made tables ---- */

TEST(test_verify_handmade) {
    enum { N = 16 };
    unsigned char img[64 + 24 * N];
    zi_index *ix;
    zi_entry a = mk(3, 100, 10, 1), b = mk(3, 200, 20, 2), c = mk(4, 300, 30, 3);

    /* Valid: a@3, b@4, c@5 (home 4, displaced by b). */
    memset(img, 0, sizeof img);
    put_slot(img + 64 + 24 * 3, &a);
    put_slot(img + 64 + 24 * 4, &b);
    put_slot(img + 64 + 24 * 5, &c);
    finish_image(img, N, -1, -1, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECKF(zi_verify(ix) == 0, "%s", zippy_errmsg());
    CHECK_EQ(find(ix, &c), 1);
    zi_close(ix);

    /* Count and live bytes that disagree with the slots. */
    finish_image(img, N, 2, -1, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "count"));
    zi_close(ix);
    finish_image(img, N, -1, 61, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "live bytes"));
    zi_close(ix);

    /* A duplicate (hash, offset). */
    zi_entry a2 = mk(3, 100, 11, 9);
    put_slot(img + 64 + 24 * 6, &a2);
    finish_image(img, N, -1, -1, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "duplicate"), "%s", zippy_errmsg());
    zi_close(ix);

    /* An entry a lookup cannot reach (an empty slot before it). */
    memset(img, 0, sizeof img);
    put_slot(img + 64 + 24 * 3, &a);
    put_slot(img + 64 + 24 * 5, &b);
    finish_image(img, N, -1, -1, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECK_EQ(find(ix, &b), 0);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    CHECKF(strstr(zippy_errmsg(), "slot 5 cannot be reached"), "%s", zippy_errmsg());
    zi_close(ix);

    /* Slot array hash that does not match (slots themselves fine). */
    memset(img, 0, sizeof img);
    put_slot(img + 64 + 24 * 3, &a);
    finish_image(img, N, -1, -1, 1000);
    img[48] ^= 1;
    rehash_header(img);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    CHECK_EQ(find(ix, &a), 1);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "slot array hash"));
    zi_close(ix);

    /* An empty slot (hash 0) with leftovers in it. */
    memset(img, 0, sizeof img);
    put_slot(img + 64 + 24 * 3, &a);
    img[64 + 24 * 4 + 20] = 1;
    finish_image(img, N, -1, -1, 1000);
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    zi_probe p;
    zi_entry e;
    uint64_t at;
    zi_probe_init(ix, 3, &p);
    CHECK_EQ(zi_probe_next(ix, &p, &e, &at), 1);
    CHECK_EQ(zi_probe_next(ix, &p, &e, &at), ZIPPY_ECORRUPT);
    CHECK(strstr(zippy_errmsg(), "slot 4"));
    CHECK_EQ(zi_slot(ix, 4, &e), ZIPPY_ECORRUPT);
    CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
    zi_close(ix);
}

TEST(test_verify_long_chain_dup) {
    /* A chain long enough that zi_verify sorts to find duplicates. */
    enum { N = 256, M = 180 };
    static unsigned char img[64 + 24 * N];
    zi_index *ix;
    for (int dup = 0; dup < 2; dup++) {
        memset(img, 0, sizeof img);
        for (uint64_t i = 0; i < M; i++) {
            zi_entry e = mk(0x5005, i * 10, 5, (uint32_t)i);
            if (dup && i == M - 1) e.off = 70;
            put_slot(img + 64 + 24 * ((5 + i) % N), &e);
        }
        finish_image(img, N, -1, -1, 1000);
        CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
        if (dup) {
            CHECK_EQ(zi_verify(ix), ZIPPY_ECORRUPT);
            CHECKF(strstr(zippy_errmsg(), "duplicate"), "%s", zippy_errmsg());
        } else {
            CHECKF(zi_verify(ix) == 0, "%s", zippy_errmsg());
        }
        zi_close(ix);
    }
}

TEST(test_full_table) {
    /* Every slot occupied (no writer of ours does this, but a file may):
     * a miss walks each slot once and stops; verify still works. */
    enum { N = 16 };
    unsigned char img[64 + 24 * N];
    memset(img, 0, sizeof img);
    for (uint64_t i = 0; i < N; i++) {
        zi_entry e = mk(0x100 + i, i * 10, 5, (uint32_t)i);
        put_slot(img + 64 + 24 * i, &e);
    }
    finish_image(img, N, -1, -1, 1000);
    zi_index *ix;
    CHECK_EQ(zi_open_mem(&ix, img, sizeof img), 0);
    zi_probe p;
    zi_entry e;
    uint64_t at;
    zi_probe_init(ix, 0x999, &p);
    CHECK_EQ(zi_probe_next(ix, &p, &e, &at), 0);
    CHECK_EQ(p.steps, N);
    zi_entry want = mk(0x10f, 150, 5, 15);
    CHECK_EQ(find(ix, &want), 1);
    CHECKF(zi_verify(ix) == 0, "%s", zippy_errmsg());
    zi_close(ix);
}

/* ---- crash safety of the writer ---- */

static int has_content(const char *path, const zi_entry *v, size_t n) {
    zi_index *ix;
    if (zi_open(&ix, path)) return 0;
    int ok = zi_count(ix) == n && zi_verify(ix) == 0;
    for (size_t i = 0; ok && i < n; i++) ok = find(ix, &v[i]) == 1;
    zi_close(ix);
    return ok;
}

static void fault_loop(zos_op op, int err, size_t new_n) {
    const char *path = path_in("crash.idx");
    const char *tmp = path_in("crash.idx.tmp");
    zi_entry old_v[3] = {mk(1, 10, 1, 1), mk(2, 20, 2, 2), mk(3, 30, 3, 3)};
    zi_entry *new_v = entries(new_n);
    int ok = 0;
    for (unsigned long n = 1; n < 200; n++) {
        CHECK_EQ(write_entries(path, old_v, 3, 40), 0);
        zi_builder *b;
        CHECK_EQ(zi_builder_new(&b, 0), 0);
        for (size_t i = 0; i < new_n; i++) CHECK_EQ(zi_builder_add(b, &new_v[i]), 0);
        zos_fault_set(op, n, err, 0);
        int rc = zi_builder_write(b, path, 999);
        zos_fault_clear();
        zi_builder_free(b);
        if (rc == 0) {
            CHECK(n > 1);
            CHECK(has_content(path, new_v, new_n));
            ok = 1;
            break;
        }
        CHECKF(rc == (err == ENOSPC ? ZIPPY_ENOSPC : ZIPPY_EIO), "rc %d", rc);
        CHECKF(strstr(zippy_errmsg(), path), "%s", zippy_errmsg());
        CHECK(!file_exists(tmp));
        if ((op == ZOS_OP_FSYNC || op == ZOS_OP_OPEN) && n == 2) {
            /* The directory open/fsync after the rename: the new file is
             * in place, only its durability is unknown. */
            CHECK(has_content(path, new_v, new_n));
        } else {
            CHECKF(has_content(path, old_v, 3), "op %d n %lu", (int)op, n);
        }
    }
    CHECK(ok);
    free(new_v);
}

TEST(test_fault_write_eio) { fault_loop(ZOS_OP_WRITE, EIO, 60000); }
TEST(test_fault_write_enospc) { fault_loop(ZOS_OP_WRITE, ENOSPC, 1000); }
TEST(test_fault_fsync_eio) { fault_loop(ZOS_OP_FSYNC, EIO, 1000); }
TEST(test_fault_fsync_enospc) { fault_loop(ZOS_OP_FSYNC, ENOSPC, 10); }
TEST(test_fault_rename_eio) { fault_loop(ZOS_OP_RENAME, EIO, 1000); }
TEST(test_fault_rename_enospc) { fault_loop(ZOS_OP_RENAME, ENOSPC, 10); }
TEST(test_fault_open_eio) { fault_loop(ZOS_OP_OPEN, EIO, 10); }

TEST(test_fault_sticky_enospc) {
    const char *path = path_in("sticky.idx");
    zi_entry old_v[1] = {mk(1, 10, 1, 1)};
    zi_entry *v = entries(20000);
    CHECK_EQ(write_entries(path, old_v, 1, 40), 0);
    zos_fault_set(ZOS_OP_WRITE, 2, ENOSPC, ZOS_FAULT_STICKY);
    int rc = write_entries(path, v, 20000, 1);
    zos_fault_clear();
    CHECK_EQ(rc, ZIPPY_ENOSPC);
    CHECK(!file_exists(path_in("sticky.idx.tmp")));
    CHECK(has_content(path, old_v, 1));
    free(v);
}

TEST(test_short_writes) {
    /* A multi-chunk index: every write call cut in half once. */
    const char *path = path_in("short.idx");
    size_t n = 60000;
    zi_entry *v = entries(n);
    unsigned long before = zos_op_count(ZOS_OP_WRITE);
    CHECK_EQ(write_entries(path, v, n, 5), 0);
    unsigned long calls = zos_op_count(ZOS_OP_WRITE) - before;
    CHECK(calls >= 3);
    size_t ref_size;
    char *ref = t_read_file(path, &ref_size);
    CHECK(ref);
    for (unsigned long k = 1; k <= calls + 1; k++) {
        unlink(path);
        zos_fault_set(ZOS_OP_WRITE, k, 0, ZOS_FAULT_SHORT);
        int rc = write_entries(path, v, n, 5);
        zos_fault_clear();
        CHECKF(rc == 0, "short write %lu: %s", k, zippy_errmsg());
        size_t sz;
        char *got = t_read_file(path, &sz);
        CHECK(got && sz == ref_size && memcmp(got, ref, sz) == 0);
        free(got);
    }
    CHECK(has_content(path, v, n));
    free(ref);
    free(v);
}

/* ---- ZDS 0.1.x indexes ---- */

typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

static void b_put(bytes *b, const void *p, size_t n) {
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_u16(bytes *b, uint16_t v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    b_put(b, x, 2);
}
static void b_u32(bytes *b, uint32_t v) {
    unsigned char x[4];
    z_put_le32(x, v);
    b_put(b, x, 4);
}
static void b_u64(bytes *b, uint64_t v) {
    unsigned char x[8];
    z_put_le64(x, v);
    b_put(b, x, 8);
}
static void b_entry(bytes *b, const char *id, uint64_t off, uint32_t len) {
    b_u16(b, (uint16_t)strlen(id));
    b_put(b, id, strlen(id));
    b_u64(b, off);
    b_u32(b, len);
}
static bytes legacy_bin(uint32_t version, uint64_t count) {
    bytes b = {NULL, 0};
    b_put(&b, "ISDZ", 4);
    b_u32(&b, version);
    b_u64(&b, count);
    b_entry(&b, "alpha", 0, 20);
    b_entry(&b, "beta", 20, 31);
    b_entry(&b, "alpha", 51, 22); /* a later version of alpha */
    return b;
}

#define EXPECT_PARSE_ERR(buf, len, code, needle)                               \
    do {                                                                       \
        zl_list l_ = {NULL, 0, 0};                                             \
        int rc_ = zl_parse((buf), (len), &l_);                                 \
        CHECKF(rc_ == (code), "rc %d: %s", rc_, zippy_errmsg());               \
        CHECKF(strstr(zippy_errmsg(), (needle)), "%s", zippy_errmsg());        \
        CHECK(l_.v == NULL);                                                   \
    } while (0)

TEST(test_legacy_binary) {
    bytes b = legacy_bin(1, 3);
    zl_list l;
    CHECKF(zl_parse(b.p, b.n, &l) == 0, "%s", zippy_errmsg());
    CHECK_EQ(l.kind, 1);
    CHECK_EQ(l.n, 3);
    CHECK_STR(l.v[0].id, "alpha");
    CHECK_EQ(l.v[0].off, 0);
    CHECK_EQ(l.v[0].len, 20);
    CHECK_STR(l.v[1].id, "beta");
    CHECK_EQ(l.v[1].off, 20);
    CHECK_EQ(l.v[1].len, 31);
    CHECK_STR(l.v[2].id, "alpha"); /* duplicates kept, in order */
    CHECK_EQ(l.v[2].off, 51);
    zl_list_free(&l);
    CHECK(l.v == NULL && l.n == 0);
    zl_list_free(&l);

    /* Every truncation. */
    for (size_t cut = 0; cut < b.n; cut++) {
        zl_list t = {NULL, 0, 0};
        int rc = zl_parse(b.p, cut, &t);
        if (cut < 4) {
            CHECKF(rc == ZIPPY_EINVAL, "cut %zu", cut);
        } else {
            CHECKF(rc == ZIPPY_ECORRUPT, "cut %zu: %d", cut, rc);
            if (cut >= 16)
                CHECKF(strstr(zippy_errmsg(), "entry"), "%s", zippy_errmsg());
        }
    }
    free(b.p);

    /* Count lies. */
    b = legacy_bin(1, 4);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "entry 4 of 4");
    free(b.p);
    b = legacy_bin(1, UINT64_MAX);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "entry 4 of");
    free(b.p);
    b = legacy_bin(1, 2);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "trailing");
    free(b.p);
    b = legacy_bin(1, 0);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "trailing");
    free(b.p);
    /* A huge count over a short buffer must not allocate by the count. */
    b.p = NULL;
    b.n = 0;
    b_put(&b, "ISDZ", 4);
    b_u32(&b, 1);
    b_u64(&b, 1ull << 60);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "entry 1 of");
    free(b.p);

    /* Versions. */
    b = legacy_bin(2, 3);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "version 2");
    free(b.p);
    b = legacy_bin(0, 3);
    EXPECT_PARSE_ERR(b.p, b.n, ZIPPY_ECORRUPT, "version 0");
    free(b.p);

    /* Empty: header only. */
    b.p = NULL;
    b.n = 0;
    b_put(&b, "ISDZ", 4);
    b_u32(&b, 1);
    b_u64(&b, 0);
    CHECK_EQ(zl_parse(b.p, b.n, &l), 0);
    CHECK_EQ(l.n, 0);
    CHECK_EQ(l.kind, 1);
    zl_list_free(&l);

    /* Bad entries. */
    bytes c = {NULL, 0};
    b_put(&c, b.p, 8);
    b_u64(&c, 2);
    b_entry(&c, "ok", 0, 5);
    b_entry(&c, "", 5, 5);
    EXPECT_PARSE_ERR(c.p, c.n, ZIPPY_ECORRUPT, "entry 2 of 2: empty id");
    c.n = 16;
    b_entry(&c, "ok", 0, 5);
    b_entry(&c, "z", 5, 0);
    EXPECT_PARSE_ERR(c.p, c.n, ZIPPY_ECORRUPT, "entry 2 of 2: length 0");
    c.n = 16;
    b_entry(&c, "ok", UINT64_MAX, 5);
    b_entry(&c, "z", 5, 1);
    EXPECT_PARSE_ERR(c.p, c.n, ZIPPY_ECORRUPT, "entry 1 of 2: offset");
    c.n = 16;
    b_u16(&c, 3);
    b_put(&c, "a\0b", 3);
    b_u64(&c, 0);
    b_u32(&c, 1);
    b_entry(&c, "z", 5, 1);
    EXPECT_PARSE_ERR(c.p, c.n, ZIPPY_ECORRUPT, "entry 1 of 2: id contains");
    /* Long ids (u16 length) are fine. */
    c.n = 16;
    char *longid = malloc(65536);
    memset(longid, 'x', 65535);
    longid[65535] = 0;
    b_entry(&c, longid, 1, 2);
    b_entry(&c, "z", 5, 1);
    CHECKF(zl_parse(c.p, c.n, &l) == 0, "%s", zippy_errmsg());
    CHECK_EQ(strlen(l.v[0].id), 65535);
    CHECK_STR(l.v[1].id, "z");
    zl_list_free(&l);
    free(longid);
    free(c.p);
    free(b.p);
}

static int parse_text_ok(const char *s, zl_list *l) {
    return zl_parse(s, strlen(s), l);
}

TEST(test_legacy_text) {
    zl_list l;
    const char *t = "a\t0\t10\nb\t10\t20\r\n\n  \r\n\t\na\t30\t5";
    CHECKF(parse_text_ok(t, &l) == 0, "%s", zippy_errmsg());
    CHECK_EQ(l.kind, 2);
    CHECK_EQ(l.n, 3);
    CHECK_STR(l.v[0].id, "a");
    CHECK_EQ(l.v[0].off, 0);
    CHECK_EQ(l.v[0].len, 10);
    CHECK_STR(l.v[1].id, "b");
    CHECK_EQ(l.v[1].off, 10);
    CHECK_EQ(l.v[1].len, 20);
    CHECK_STR(l.v[2].id, "a");
    CHECK_EQ(l.v[2].off, 30);
    CHECK_EQ(l.v[2].len, 5);
    zl_list_free(&l);

    CHECK_EQ(parse_text_ok("ISDZ-1\t5\t6\n", &l), 0); /* not binary */
    CHECK_EQ(l.kind, 2);
    CHECK_STR(l.v[0].id, "ISDZ-1");
    zl_list_free(&l);
    CHECK_EQ(parse_text_ok("x y\t18446744073709551614\t1\n", &l), 0);
    CHECK_STR(l.v[0].id, "x y");
    CHECK(l.v[0].off == 18446744073709551614ull);
    zl_list_free(&l);
    CHECK_EQ(parse_text_ok("\xc3\xa9t\xc3\xa9\t1\t4294967295\r", &l), 0);
    CHECK_EQ(l.v[0].len, 4294967295u);
    zl_list_free(&l);

    struct {
        const char *text, *needle;
        size_t len; /* 0: strlen */
    } bad[] = {
        {"a\t0\t10\nb\t1x\t5\n", "line 2: bad offset", 0},
        {"a\t0\t10\nb\t-1\t5\n", "line 2: bad offset", 0},
        {"a\t0\t10\nb\t+1\t5\n", "line 2: bad offset", 0},
        {"a\t0\t10\nb\t\t5\n", "line 2: bad offset", 0},
        {"a\t0\t10\nb\t 1\t5\n", "line 2: bad offset", 0},
        {"a\t99999999999999999999\t5\n", "line 1: bad offset", 0},
        {"a\t0\t4294967296\n", "line 1: bad length", 0},
        {"a\t0\t\n", "line 1: bad length", 0},
        {"a\t0\t5 \n", "line 1: bad length", 0},
        {"a\t0\t5\r\r\n", "line 1: bad length", 0},
        {"a\t0\t0\n", "line 1: length 0", 0},
        {"a\t0\t10\n\n\nb\t5\n", "line 4: expected", 0},
        {"a\t0\t10\nb\n", "line 2: expected", 0},
        {"a\t0\t10\tx\n", "line 1: bad length", 0},
        {"a\t0\t10\n\t0\t10\n", "line 2: empty id", 0},
        {"a\t18446744073709551615\t1\n", "line 1: offset + length", 0},
        {"a\t0\t10\nb\0c\t1\t1\n", "line 2: id contains", 15},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        EXPECT_PARSE_ERR(bad[i].text, len, ZIPPY_ECORRUPT, bad[i].needle);
    }
}

TEST(test_legacy_not_an_index) {
    size_t size;
    unsigned char *img = small_index(3, &size);
    CHECK(img);
    EXPECT_PARSE_ERR(img, size, ZIPPY_EINVAL, "not a ZDS 0.1.x index");
    EXPECT_PARSE_ERR(img, 8, ZIPPY_EINVAL, "zippy index");
    free(img);
    EXPECT_PARSE_ERR("", 0, ZIPPY_EINVAL, "not a ZDS 0.1.x index");
    EXPECT_PARSE_ERR(NULL, 0, ZIPPY_EINVAL, "not a ZDS 0.1.x index");
    EXPECT_PARSE_ERR("\n\n\r\n", 4, ZIPPY_EINVAL, "not a ZDS 0.1.x index");
    EXPECT_PARSE_ERR("hello world\n", 12, ZIPPY_EINVAL, "not a ZDS");
    EXPECT_PARSE_ERR("\x01\x02\x03\x04\t\xff\x00", 7, ZIPPY_EINVAL, "not a ZDS");
    EXPECT_PARSE_ERR("ISD", 3, ZIPPY_EINVAL, "not a ZDS");
    unsigned char junk[256];
    for (int i = 0; i < 256; i++) junk[i] = (unsigned char)(i * 7 + 1);
    EXPECT_PARSE_ERR(junk, sizeof junk, ZIPPY_EINVAL, "not a ZDS");
}

/* ---- failing allocator ---- */

static long g_fail_after = -1; /* allocations left before failing; -1: never */
static unsigned long g_live_allocs;

static void *fail_malloc(size_t n) {
    if (g_fail_after == 0) return NULL;
    if (g_fail_after > 0) g_fail_after--;
    void *p = malloc(n);
    if (p) g_live_allocs++;
    return p;
}
static void *fail_realloc(void *p, size_t n) {
    if (g_fail_after == 0) return NULL;
    if (g_fail_after > 0) g_fail_after--;
    void *q = realloc(p, n);
    if (q && !p) g_live_allocs++;
    return q;
}
static void fail_free(void *p) {
    if (p) g_live_allocs--;
    free(p);
}

static int alloc_scenario(void) {
    const char *path = path_in("alloc.idx");
    zi_builder *b;
    int rc = zi_builder_new(&b, 4);
    if (rc) return rc;
    for (size_t i = 0; i < 5000 && !rc; i++) {
        zi_entry e = entry_n(i);
        if (i >= 4900) e.hash = 77; /* a long chain */
        rc = zi_builder_add(b, &e);
    }
    if (!rc) rc = zi_builder_write(b, path, 1);
    zi_builder_free(b);
    if (rc) return rc;
    zi_index *ix;
    if ((rc = zi_open(&ix, path))) return rc;
    rc = zi_verify(ix);
    zi_close(ix);
    if (rc) return rc;
    bytes bb = legacy_bin(1, 3);
    zl_list l;
    rc = zl_parse(bb.p, bb.n, &l);
    free(bb.p);
    if (rc) return rc;
    zl_list_free(&l);
    if ((rc = parse_text_ok("a\t1\t2\nb\t3\t4\n", &l))) return rc;
    zl_list_free(&l);
    return 0;
}

TEST(test_failing_allocator) {
    zippy_allocator fa = {fail_malloc, fail_realloc, fail_free};
    zippy_set_allocator(&fa);
    int rc = -1;
    long k;
    for (k = 0; k < 1000; k++) {
        unlink(path_in("alloc.idx"));
        g_live_allocs = 0;
        g_fail_after = k;
        rc = alloc_scenario();
        g_fail_after = -1;
        if (rc == 0) break;
        if (rc != ZIPPY_ENOMEM) break;
        if (g_live_allocs != 0) break;
        if (file_exists(path_in("alloc.idx.tmp"))) break;
    }
    zippy_set_allocator(NULL);
    CHECKF(rc == 0, "after %ld allocations: rc %d (%s), %lu live", k, rc,
           zippy_errmsg(), g_live_allocs);
    CHECK(k > 5);
    CHECK_EQ(g_live_allocs, 0);
}

int main(void) {
    g_dir = t_tmpdir();
    RUN(test_hash_never_zero);
    RUN(test_roundtrip_0);
    RUN(test_roundtrip_1);
    RUN(test_roundtrip_1000);
    RUN(test_roundtrip_100000);
    RUN(test_rewrite_replaces);
    RUN(test_open_missing);
    RUN(test_collisions_few);
    RUN(test_collisions_many);
    RUN(test_collisions_wrap);
    RUN(test_hash_zero_stored_as_one);
    RUN(test_duplicate_rejected);
    RUN(test_offset_limit);
    RUN(test_header_bitflips);
    RUN(test_header_fields);
    RUN(test_truncated_and_wrong_size);
    RUN(test_slot_bitflips);
    RUN(test_verify_handmade);
    RUN(test_verify_long_chain_dup);
    RUN(test_full_table);
    RUN(test_fault_write_eio);
    RUN(test_fault_write_enospc);
    RUN(test_fault_fsync_eio);
    RUN(test_fault_fsync_enospc);
    RUN(test_fault_rename_eio);
    RUN(test_fault_rename_enospc);
    RUN(test_fault_open_eio);
    RUN(test_fault_sticky_enospc);
    RUN(test_short_writes);
    RUN(test_legacy_binary);
    RUN(test_legacy_text);
    RUN(test_legacy_not_an_index);
    RUN(test_failing_allocator);
    t_rm_rf(g_dir);
    free(g_dir);
    TEST_END();
}
