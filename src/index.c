/* index.c - meta/index.bin (the persisted id-hash table, see index.h) and
 * the reader of ZDS 0.1.x indexes.
 *
 * Slot check
 * ----------
 * (As in docs/FORMAT.md.) Every occupied slot carries a 16-bit check in
 * the high 16 bits of its second word. For a slot holding (hash, off, len,
 * crc), with w1 = off (48 bits) and w2 = len | crc << 32, all mod 2^64:
 *
 *     x = hash ^ (w1 * 0x9E3779B97F4A7C15) ^ (w2 * 0xC2B2AE3D27D4EB4F)
 *     x ^= x >> 33; x *= 0xFF51AFD7ED558CCD;
 *     x ^= x >> 33; x *= 0xC4CEB9FE1A85EC53; x ^= x >> 33
 *     check = x & 0xffff
 *     slot bytes 8..15 = le64(off | (uint64_t)check << 48)
 *
 * Each word enters through an odd multiplier (a bijection) and the
 * finaliser mixes every bit into the low 16, so any damage confined to one
 * field changes the check with probability 1 - 2^-16. It costs a few
 * cycles, which matters: every probe checks every slot it visits.
 *
 * An empty slot is 24 zero bytes and has no check; a slot whose hash is 0
 * but whose other bytes are not all zero is corrupt.
 *
 * Probing visits slots hash & (slots-1), +1, +2, ... (mod slots) and checks
 * every slot it visits, so a damaged slot anywhere on a lookup's path is
 * reported instead of silently ending or bending the chain.
 */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "util.h"

/* XXH3 (the slot-array hash of the header) inlined. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define ZI_VERSION 1u
#define OFF_MASK ZI_MAX_OFFSET

typedef unsigned long long ull;

/* ------------------------------------------------------------------ */
/* Slots                                                               */
/* ------------------------------------------------------------------ */

/* The check of a slot whose words are w0 = hash, w1 = offset (check bits
 * cleared) and w2 = len | crc << 32 (see the top of this file). */
static inline uint16_t slot_check(uint64_t w0, uint64_t w1, uint64_t w2) {
    uint64_t x = w0 ^ (w1 * 0x9E3779B97F4A7C15ull) ^ (w2 * 0xC2B2AE3D27D4EB4Full);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 33;
    return (uint16_t)x;
}

static inline void slot_store(unsigned char *s, const zi_entry *e) {
    uint64_t w2 = (uint64_t)e->len | (uint64_t)e->crc << 32;
    uint16_t c = slot_check(e->hash, e->off, w2);
    z_put_le64(s, e->hash);
    z_put_le64(s + 8, e->off | (uint64_t)c << 48);
    z_put_le64(s + 16, w2);
}

uint64_t zi_hash(const char *id, size_t idlen) {
    uint64_t h = z_hash64(id, idlen);
    return h ? h : 1;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

struct zi_index {
    const unsigned char *slots; /* base + ZI_HEADER_SIZE */
    uint64_t nslots, mask;
    uint64_t count, covered, live, slots_hash;
    const unsigned char *base;
    size_t size;
    void *map; /* non-NULL when zi_open mapped the file */
    char *name; /* path, or "<memory>" */
};

static int corrupt(const char *name, const char *why) {
    return z_err(ZIPPY_ECORRUPT, "index %s: corrupt: %s", name, why);
}

/* Checks the header of buf[0..size) and fills the table fields of ix.
 * Touches the first 64 bytes only. */
static int parse_header(zi_index *ix, const unsigned char *p, size_t size,
                        const char *name) {
    char why[160];
    if (size == 0) return corrupt(name, "empty file");
    if (size < ZI_HEADER_SIZE) {
        snprintf(why, sizeof why, "too small (%zu bytes; the header is 64)",
                 size);
        return corrupt(name, why);
    }
    if (memcmp(p, ZI_MAGIC, 8) != 0)
        return corrupt(name, "bad magic (not a zippy index)");
    uint32_t version = z_le32(p + 8);
    if (version != ZI_VERSION) {
        snprintf(why, sizeof why,
                 "unknown format version %u (this library reads %u)", version,
                 ZI_VERSION);
        return corrupt(name, why);
    }
    if (z_hash64(p, 56) != z_le64(p + 56))
        return corrupt(name, "header hash mismatch");
    uint32_t flags = z_le32(p + 12);
    if (flags != 0) {
        snprintf(why, sizeof why, "unknown header flags 0x%x", flags);
        return corrupt(name, why);
    }
    uint64_t n = z_le64(p + 16);
    if (n < 16 || (n & (n - 1)) != 0) {
        snprintf(why, sizeof why,
                 "slot count %llu is not a power of two >= 16", (ull)n);
        return corrupt(name, why);
    }
    if (n > (SIZE_MAX - ZI_HEADER_SIZE) / ZI_SLOT_SIZE ||
        size != ZI_HEADER_SIZE + ZI_SLOT_SIZE * n) {
        snprintf(why, sizeof why,
                 "file size %zu does not match %llu slots (64 + 24 * slots%s)",
                 size, (ull)n,
                 n <= (SIZE_MAX - ZI_HEADER_SIZE) / ZI_SLOT_SIZE &&
                         size < ZI_HEADER_SIZE + ZI_SLOT_SIZE * n
                     ? ": truncated"
                     : "");
        return corrupt(name, why);
    }
    uint64_t count = z_le64(p + 24);
    if (count > n) {
        snprintf(why, sizeof why, "entry count %llu exceeds slot count %llu",
                 (ull)count, (ull)n);
        return corrupt(name, why);
    }
    ix->base = p;
    ix->size = size;
    ix->slots = p + ZI_HEADER_SIZE;
    ix->nslots = n;
    ix->mask = n - 1;
    ix->count = count;
    ix->covered = z_le64(p + 32);
    ix->live = z_le64(p + 40);
    ix->slots_hash = z_le64(p + 48);
    return ZIPPY_OK;
}

static int open_common(zi_index **out, const unsigned char *p, size_t size,
                       const char *name, void *map) {
    zi_index tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = parse_header(&tmp, p, size, name);
    if (rc) return rc;
    zi_index *ix = z_malloc(sizeof *ix);
    char *nm = z_strdup(name);
    if (!ix || !nm) {
        z_free(ix);
        z_free(nm);
        return z_err_nomem();
    }
    *ix = tmp;
    ix->name = nm;
    ix->map = map;
    *out = ix;
    return ZIPPY_OK;
}

int zi_open(zi_index **out, const char *path) {
    int fd = zos_open(path, O_RDONLY, 0);
    if (fd < 0) return z_err_os(fd, "index %s: cannot open", path);
    uint64_t size = 0;
    int rc = zos_fstat_size(fd, &size);
    if (rc) {
        zos_close(fd);
        return z_err_os(rc, "index %s: cannot stat", path);
    }
    if (size < ZI_HEADER_SIZE) {
        zos_close(fd);
        zi_index tmp; /* reports "empty" / "too small" before reading */
        return parse_header(&tmp, (const unsigned char *)"", (size_t)size, path);
    }
    if (size > SIZE_MAX) {
        zos_close(fd);
        return corrupt(path, "file too large to map");
    }
    void *map = NULL;
    rc = zos_mmap(fd, (size_t)size, &map);
    zos_close(fd);
    if (rc) return z_err_os(rc, "index %s: cannot mmap", path);
    rc = open_common(out, map, (size_t)size, path, map);
    if (rc) zos_munmap(map, (size_t)size);
    return rc;
}

int zi_open_mem(zi_index **out, const void *buf, size_t len) {
    return open_common(out, buf ? buf : "", buf ? len : 0, "<memory>", NULL);
}

void zi_close(zi_index *ix) {
    if (!ix) return;
    if (ix->map) zos_munmap(ix->map, ix->size);
    z_free(ix->name);
    z_free(ix);
}

uint64_t zi_count(const zi_index *ix) { return ix->count; }
uint64_t zi_covered(const zi_index *ix) { return ix->covered; }
uint64_t zi_live_bytes(const zi_index *ix) { return ix->live; }
uint64_t zi_slot_count(const zi_index *ix) { return ix->nslots; }
uint64_t zi_file_size(const zi_index *ix) { return (uint64_t)ix->size; }

static int bad_slot(const zi_index *ix, uint64_t i, const char *why) {
    return z_err(ZIPPY_ECORRUPT, "index %s: corrupt: slot %llu %s", ix->name,
                 (ull)i, why);
}

/* Reads slot i: 1 (occupied, *e filled), 0 (empty) or ZIPPY_ECORRUPT. */
static inline int read_slot(const zi_index *ix, uint64_t i, zi_entry *e) {
    const unsigned char *s = ix->slots + i * ZI_SLOT_SIZE;
    uint64_t h = z_le64(s);
    uint64_t w = z_le64(s + 8);
    uint64_t w2 = z_le64(s + 16);
    if (h == 0) {
        if (w | w2) return bad_slot(ix, i, "is marked empty but is not zeroed");
        return 0;
    }
    if ((uint16_t)(w >> 48) != slot_check(h, w & OFF_MASK, w2))
        return bad_slot(ix, i, "fails its check");
    e->hash = h;
    e->off = w & OFF_MASK;
    e->len = (uint32_t)w2;
    e->crc = (uint32_t)(w2 >> 32);
    return 1;
}

void zi_prefetch(const zi_index *ix, uint64_t hash) {
    if (!ix) return;
    __builtin_prefetch(ix->slots + ((hash ? hash : 1) & ix->mask) * ZI_SLOT_SIZE);
}

void zi_probe_init(const zi_index *ix, uint64_t hash, zi_probe *p) {
    p->hash = hash ? hash : 1;
    p->pos = p->hash & ix->mask;
    p->steps = 0;
}

/* After ZIPPY_ECORRUPT the probe may be called again: it goes on past the
 * bad slot (useful to tools that salvage). A chain ends for good at an
 * empty slot or once every slot was visited. */
int zi_probe_next(const zi_index *ix, zi_probe *p, zi_entry *e,
                  uint64_t *slot) {
    const uint64_t n = ix->nslots;
    while (p->steps < n) {
        const uint64_t i = p->pos;
        const unsigned char *s = ix->slots + i * ZI_SLOT_SIZE;
        const uint64_t h = z_le64(s), w = z_le64(s + 8), w2 = z_le64(s + 16);
        p->pos = (i + 1) & ix->mask;
        p->steps++;
        if (h == 0) {
            p->steps = n; /* the chain ends here */
            if (w | w2)
                return bad_slot(ix, i, "is marked empty but is not zeroed");
            return 0;
        }
        if ((uint16_t)(w >> 48) != slot_check(h, w & OFF_MASK, w2))
            return bad_slot(ix, i, "fails its check");
        if (h == p->hash) {
            e->hash = h;
            e->off = w & OFF_MASK;
            e->len = (uint32_t)w2;
            e->crc = (uint32_t)(w2 >> 32);
            if (slot) *slot = i;
            return 1;
        }
    }
    return 0;
}

int zi_slot(const zi_index *ix, uint64_t i, zi_entry *e) {
    if (i >= ix->nslots)
        return z_err(ZIPPY_EINVAL, "index %s: slot %llu out of range (%llu slots)",
                     ix->name, (ull)i, (ull)ix->nslots);
    return read_slot(ix, i, e);
}

/* ---- zi_verify ---- */

typedef struct hpair {
    uint64_t hash, off;
} hpair;

static int cmp_hpair(const void *a, const void *b) {
    const hpair *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return 0;
}

static int dup_error(const zi_index *ix, uint64_t hash, uint64_t off) {
    return z_err(ZIPPY_ECORRUPT,
                 "index %s: corrupt: duplicate entry (hash %016llx, offset %llu)",
                 ix->name, (ull)hash, (ull)off);
}

/* Duplicate (hash, offset) pairs by sorting: O(n log n), for tables whose
 * chains are too long for the window scan below. */
static int dups_by_sort(const zi_index *ix, uint64_t occupied) {
    hpair *v = z_malloc((size_t)occupied * sizeof *v);
    if (!v) return z_err_nomem();
    size_t k = 0;
    for (uint64_t i = 0; i < ix->nslots; i++) {
        const unsigned char *s = ix->slots + i * ZI_SLOT_SIZE;
        uint64_t h = z_le64(s);
        if (!h) continue;
        v[k].hash = h;
        v[k].off = z_le64(s + 8) & OFF_MASK;
        k++;
    }
    qsort(v, k, sizeof *v, cmp_hpair);
    int rc = ZIPPY_OK;
    for (size_t j = 1; j < k && !rc; j++)
        if (v[j].hash == v[j - 1].hash && v[j].off == v[j - 1].off)
            rc = dup_error(ix, v[j].hash, v[j].off);
    z_free(v);
    return rc;
}

int zi_verify(const zi_index *ix) {
    const uint64_t n = ix->nslots, mask = ix->mask;
    /* Pass 1: every slot's check, the totals, and reachability: an entry
     * at slot i with home h is found by a lookup only if slots h..i are
     * all occupied, i.e. its displacement (i - h) mod n is smaller than
     * the run of occupied slots ending at i. The walk starts just after
     * an empty slot so that runs are measured from their start. */
    uint64_t start = 0, occupied = 0, live = 0, disp_sum = 0;
    int have_empty = 0;
    for (uint64_t i = 0; i < n; i++)
        if (z_le64(ix->slots + i * ZI_SLOT_SIZE) == 0) {
            start = (i + 1) & mask;
            have_empty = 1;
            break;
        }
    uint64_t run = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = (start + k) & mask;
        zi_entry e = {0, 0, 0, 0};
        int r = read_slot(ix, i, &e);
        if (r < 0) return r;
        if (r == 0) {
            run = 0;
            continue;
        }
        run++;
        occupied++;
        uint64_t disp = (i - (e.hash & mask)) & mask;
        if (have_empty && disp >= run)
            return bad_slot(ix, i, "cannot be reached from its home slot");
        disp_sum += disp;
        if (__builtin_add_overflow(live, (uint64_t)e.len + 1, &live))
            live = UINT64_MAX;
    }
    if (occupied != ix->count)
        return z_err(ZIPPY_ECORRUPT,
                     "index %s: corrupt: %llu occupied slots but the header "
                     "counts %llu entries",
                     ix->name, (ull)occupied, (ull)ix->count);
    if (live != ix->live)
        return z_err(ZIPPY_ECORRUPT,
                     "index %s: corrupt: entries hold %llu live bytes but the "
                     "header says %llu",
                     ix->name, (ull)live, (ull)ix->live);
    /* Pass 2: duplicate (hash, offset) pairs. Two entries with one hash
     * share a home h and, being reachable, both lie in one run after h:
     * the one with the smaller displacement sits between h and the other.
     * So comparing each entry with the slots from its home up to it finds
     * every duplicate, in sum-of-displacements time (about 1.2 per entry
     * at load 0.7). Tables with long chains are sorted instead. */
    if (disp_sum > 16 * n + 1024 || !have_empty) {
        int rc = dups_by_sort(ix, occupied);
        if (rc) return rc;
    } else {
        for (uint64_t i = 0; i < n; i++) {
            const unsigned char *s = ix->slots + i * ZI_SLOT_SIZE;
            uint64_t h = z_le64(s);
            if (!h) continue;
            uint64_t off = z_le64(s + 8) & OFF_MASK;
            for (uint64_t j = h & mask; j != i; j = (j + 1) & mask) {
                const unsigned char *t = ix->slots + j * ZI_SLOT_SIZE;
                if (z_le64(t) == h && (z_le64(t + 8) & OFF_MASK) == off)
                    return dup_error(ix, h, off);
            }
        }
    }
    /* Last, the whole array against the header: anything the checks above
     * could not see (e.g. a flipped bit that kept a slot's check valid). */
    if (XXH3_64bits(ix->slots, (size_t)(n * ZI_SLOT_SIZE)) != ix->slots_hash)
        return z_err(ZIPPY_ECORRUPT,
                     "index %s: corrupt: slot array hash mismatch", ix->name);
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* The builder collects entries in a flat array; zi_builder_write lays out
 * the table. The slot count is then known exactly (the smallest power of
 * two >= 16 with load <= 0.7), so no rehash is ever needed, and the table
 * is streamed to disk in slot order through a small buffer instead of
 * being built in a second, bigger array:
 *
 *  1. sort (home slot, entry number) keys (LSD radix sort);
 *  2. walking the entries in that order, entry k goes to
 *     max(home_k, pos_{k-1} + 1).
 *     That is a valid linear-probing layout: every slot between an entry's
 *     home and its position is occupied. A run that passes the last slot
 *     wraps to slot 0; the number w of wrapped entries is found by
 *     iterating w -> (entries past the end when the walk starts at slot w)
 *     from 0 to its fixed point (one or two rounds in practice);
 *  3. emit slots 0..w-1 (the wrapped entries), then the walk, zeros in the
 *     gaps, hashing the slot array as it goes; the header goes last, with
 *     a pwrite at offset 0.
 * Entries with equal (hash, offset) share a home, so after step 1 any
 * duplicates sit in one run of keys with equal homes. */
struct zi_builder {
    zi_entry *v;
    size_t n, cap;
    uint64_t live;
};

#define BUILDER_MAX_RESERVE (1u << 24)
#define BUILDER_MAX_ENTRIES (1ull << 31)

int zi_builder_new(zi_builder **out, uint64_t expected_entries) {
    size_t cap = expected_entries < 16 ? 16
               : expected_entries > BUILDER_MAX_RESERVE ? BUILDER_MAX_RESERVE
                                                        : (size_t)expected_entries;
    zi_builder *b = z_malloc(sizeof *b);
    zi_entry *v = z_malloc(cap * sizeof *v);
    if (!b || !v) {
        z_free(b);
        z_free(v);
        return z_err_nomem();
    }
    b->v = v;
    b->n = 0;
    b->cap = cap;
    b->live = 0;
    *out = b;
    return ZIPPY_OK;
}

int zi_builder_add(zi_builder *b, const zi_entry *e) {
    if (e->off > ZI_MAX_OFFSET)
        return z_err(ZIPPY_ETOOBIG,
                     "index: offset %llu is beyond the index limit %llu",
                     (ull)e->off, (ull)ZI_MAX_OFFSET);
    if (b->n == b->cap) {
        size_t bytes;
        if ((uint64_t)b->cap * 2 > BUILDER_MAX_ENTRIES ||
            !z_mul_ok(b->cap, 2 * sizeof *b->v, &bytes))
            return z_err(ZIPPY_ETOOBIG, "index: too many entries (limit %llu)",
                         (ull)BUILDER_MAX_ENTRIES);
        zi_entry *v = z_realloc(b->v, bytes);
        if (!v) return z_err_nomem();
        b->v = v;
        b->cap *= 2;
    }
    zi_entry *d = &b->v[b->n++];
    *d = *e;
    if (!d->hash) d->hash = 1;
    b->live += (uint64_t)e->len + 1;
    return ZIPPY_OK;
}

uint64_t zi_builder_count(const zi_builder *b) { return b->n; }

void zi_builder_free(zi_builder *b) {
    if (!b) return;
    z_free(b->v);
    z_free(b);
}

typedef struct layout {
    uint64_t nslots, mask;
    uint64_t *keys; /* home << 32 | entry number, sorted by home */
    size_t wrap;    /* entries that wrap to slots 0..wrap-1 */
} layout;

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/* LSD radix sort of (home, entry number) keys by home, RADIX_BITS per
 * pass. The histograms of all passes come from one read of the entries,
 * and the first pass scatters straight from the entries. (Sorting 8-byte
 * keys and gathering the entries while writing measured faster than
 * sorting the 24-byte entries themselves.) */
static int sort_keys(const zi_builder *b, layout *L, unsigned lg) {
    const size_t n = b->n;
    const unsigned passes = (lg + RADIX_BITS - 1) / RADIX_BITS; /* 1..3 */
    size_t(*pos)[RADIX_SIZE] = z_calloc(passes, sizeof *pos);
    uint64_t *k = z_malloc((n ? n : 1) * sizeof *k);
    uint64_t *t = z_malloc((n ? n : 1) * sizeof *t);
    if (!pos || !k || !t) {
        z_free(pos);
        z_free(k);
        z_free(t);
        return z_err_nomem();
    }
    const uint64_t mask = L->mask;
    for (size_t i = 0; i < n; i++) {
        uint64_t home = b->v[i].hash & mask;
        for (unsigned p = 0; p < passes; p++)
            pos[p][(home >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
    for (unsigned p = 0; p < passes; p++) {
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_SIZE; d++) {
            size_t c = pos[p][d];
            pos[p][d] = sum;
            sum += c;
        }
    }
    /* Pass 0 writes into whichever array makes the last pass end in k. */
    uint64_t *dst = passes % 2 ? k : t, *src;
    for (size_t i = 0; i < n; i++) {
        uint64_t home = b->v[i].hash & mask;
        dst[pos[0][home & (RADIX_SIZE - 1)]++] = home << 32 | (uint64_t)i;
    }
    for (unsigned p = 1; p < passes; p++) {
        src = dst;
        dst = src == k ? t : k;
        const unsigned shift = 32 + p * RADIX_BITS;
        size_t *ps = pos[p];
        for (size_t i = 0; i < n; i++)
            dst[ps[(src[i] >> shift) & (RADIX_SIZE - 1)]++] = src[i];
    }
    z_free(pos);
    z_free(dst == k ? t : k);
    L->keys = dst;
    return ZIPPY_OK;
}

#define KEY_HOME(k) ((k) >> 32)
#define KEY_ENTRY(b, k) (&(b)->v[(uint32_t)(k)])

static int dup_entry(const zi_entry *e) {
    return z_err(ZIPPY_EINVAL,
                 "index: duplicate entry (hash %016llx, offset %llu)",
                 (ull)e->hash, (ull)e->off);
}

/* Duplicate (hash, offset) pairs lie in one run of keys with one home.
 * Runs of up to SMALL_GROUP are checked pairwise while emitting (their
 * entries are in cache then); longer ones, rare unless hashes collide on
 * purpose, are sorted here. */
#define SMALL_GROUP 32

static int check_big_groups(const zi_builder *b, const layout *L) {
    const size_t n = b->n;
    const uint64_t *keys = L->keys;
    for (size_t g = 0, end; g < n; g = end) {
        uint64_t home = KEY_HOME(keys[g]);
        for (end = g + 1; end < n && KEY_HOME(keys[end]) == home; end++) {}
        size_t m = end - g;
        if (m <= SMALL_GROUP) continue;
        hpair *h = z_malloc(m * sizeof *h);
        if (!h) return z_err_nomem();
        for (size_t i = 0; i < m; i++) {
            const zi_entry *x = KEY_ENTRY(b, keys[g + i]);
            h[i].hash = x->hash;
            h[i].off = x->off;
        }
        qsort(h, m, sizeof *h, cmp_hpair);
        for (size_t i = 1; i < m; i++)
            if (h[i].hash == h[i - 1].hash && h[i].off == h[i - 1].off) {
                zi_entry e = {h[i].hash, h[i].off, 0, 0};
                z_free(h);
                return dup_entry(&e);
            }
        z_free(h);
    }
    return ZIPPY_OK;
}

/* Entries whose position passes the last slot when the walk starts at
 * slot `start` (they are a suffix of the sorted keys). */
static size_t overflow_from(const layout *L, size_t n, uint64_t start) {
    uint64_t next = start;
    size_t over = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t home = KEY_HOME(L->keys[i]);
        uint64_t pos = home > next ? home : next;
        if (pos >= L->nslots) over++;
        next = pos + 1;
    }
    return over;
}

static int plan(const zi_builder *b, layout *L) {
    uint64_t nslots = 16;
    unsigned lg = 4;
    while ((uint64_t)b->n * 10 > nslots * 7) {
        nslots <<= 1;
        lg++;
    }
    L->nslots = nslots;
    L->mask = nslots - 1;
    L->keys = NULL;
    L->wrap = 0;
    if (nslots > (SIZE_MAX - ZI_HEADER_SIZE) / ZI_SLOT_SIZE)
        return z_err(ZIPPY_ETOOBIG, "index: too many entries");
    int rc = sort_keys(b, L, lg);
    if (!rc) rc = check_big_groups(b, L);
    if (rc) {
        z_free(L->keys);
        L->keys = NULL;
        return rc;
    }
    /* w only grows and is at most n, so this ends. */
    size_t w = 0;
    for (;;) {
        size_t o = overflow_from(L, b->n, w);
        if (o == w) break;
        w = o;
    }
    L->wrap = w;
    return ZIPPY_OK;
}

#define EMIT_SLOTS 43690 /* ~1 MiB of slots per write */
#define EMIT_CAP (ZI_HEADER_SIZE + (size_t)EMIT_SLOTS * ZI_SLOT_SIZE)

typedef struct emitter {
    int fd;
    uint64_t written;   /* bytes written so far (file offset) */
    unsigned char *buf; /* EMIT_CAP bytes */
    size_t used;        /* bytes in buf */
    size_t hashed_from; /* first byte of buf that is slot data */
    int zerr;           /* a ZIPPY_E* error (message set), not an errno */
    XXH3_state_t st;
} emitter;

static int emit_flush(emitter *em) {
    XXH3_64bits_update(&em->st, em->buf + em->hashed_from,
                       em->used - em->hashed_from);
    int rc = zos_write_all(em->fd, em->buf, em->used);
    /* Start writeback now: the final fsync then has little left to wait for. */
    if (!rc) zos_writeback_start(em->fd, em->written, em->used);
    em->written += em->used;
    em->used = 0;
    em->hashed_from = 0;
    return rc;
}

static int emit_zeros(emitter *em, uint64_t nzero) {
    while (nzero) {
        size_t room = (EMIT_CAP - em->used) / ZI_SLOT_SIZE;
        size_t k = nzero < room ? (size_t)nzero : room;
        memset(em->buf + em->used, 0, k * ZI_SLOT_SIZE);
        em->used += k * ZI_SLOT_SIZE;
        nzero -= k;
        if (EMIT_CAP - em->used < ZI_SLOT_SIZE) {
            int rc = emit_flush(em);
            if (rc) return rc;
        }
    }
    return 0;
}

static inline int emit_slot(emitter *em, const zi_entry *e) {
    slot_store(em->buf + em->used, e);
    em->used += ZI_SLOT_SIZE;
    if (EMIT_CAP - em->used < ZI_SLOT_SIZE) return emit_flush(em);
    return 0;
}

/* 1 if e repeats the (hash, offset) of the entry of one of keys[from..i). */
static inline int dup_in(const zi_builder *b, const uint64_t *keys,
                         size_t from, size_t i, const zi_entry *e) {
    for (size_t j = from; j < i; j++) {
        const zi_entry *x = KEY_ENTRY(b, keys[j]);
        if (x->hash == e->hash && x->off == e->off) return 1;
    }
    return 0;
}

/* Writes the whole file to fd: slots in order, then the header. Returns
 * 0, a negative errno, or -1 with em->zerr set. */
static int emit_table(const zi_builder *b, const layout *L, emitter *em,
                      uint64_t covered) {
    const size_t n = b->n, w = L->wrap;
    const uint64_t *keys = L->keys;
    int rc;
    XXH3_64bits_reset(&em->st);
    em->zerr = 0;
    memset(em->buf, 0, ZI_HEADER_SIZE); /* the header is written last */
    em->used = em->hashed_from = ZI_HEADER_SIZE;
    for (size_t i = n - w; i < n; i++) {
        /* Its run of equal homes may begin before the wrap: look back
         * over all of it (longer runs were checked in plan). */
        const zi_entry *e = KEY_ENTRY(b, keys[i]);
        size_t from = i;
        while (from > 0 && i - from < SMALL_GROUP - 1 &&
               KEY_HOME(keys[from - 1]) == KEY_HOME(keys[i]))
            from--;
        if (dup_in(b, keys, from, i, e)) {
            em->zerr = dup_entry(e);
            return -1;
        }
        if ((rc = emit_slot(em, e))) return rc;
    }
    uint64_t next = w, group_home = UINT64_MAX;
    size_t group = 0; /* first key of the current run of equal homes */
    for (size_t i = 0; i < n - w; i++) {
        if (i + 16 < n) __builtin_prefetch(KEY_ENTRY(b, keys[i + 16]));
        const uint64_t home = KEY_HOME(keys[i]);
        const zi_entry *e = KEY_ENTRY(b, keys[i]);
        if (home != group_home) {
            group_home = home;
            group = i;
        } else if (i - group < SMALL_GROUP && dup_in(b, keys, group, i, e)) {
            em->zerr = dup_entry(e);
            return -1;
        }
        if (home > next) {
            if ((rc = emit_zeros(em, home - next))) return rc;
            next = home;
        }
        if ((rc = emit_slot(em, e))) return rc;
        next++;
    }
    if (next > L->nslots) { /* cannot happen (see plan); never run away */
        em->zerr = z_err(ZIPPY_EINVAL, "index: internal error: layout overflow");
        return -1;
    }
    if ((rc = emit_zeros(em, L->nslots - next))) return rc;
    if (em->used && (rc = emit_flush(em))) return rc;

    unsigned char h[ZI_HEADER_SIZE];
    memcpy(h, ZI_MAGIC, 8);
    z_put_le32(h + 8, ZI_VERSION);
    z_put_le32(h + 12, 0);
    z_put_le64(h + 16, L->nslots);
    z_put_le64(h + 24, (uint64_t)n);
    z_put_le64(h + 32, covered);
    z_put_le64(h + 40, b->live);
    z_put_le64(h + 48, XXH3_64bits_digest(&em->st));
    z_put_le64(h + 56, z_hash64(h, 56));
    return zos_pwrite_all(em->fd, h, ZI_HEADER_SIZE, 0);
}

int zi_builder_write(zi_builder *b, const char *path, uint64_t covered) {
    layout L;
    int rc = plan(b, &L);
    if (rc) {
        z_err_prefix("index %s", path);
        return rc;
    }
    size_t plen = strlen(path);
    char *tmp = z_malloc(plen + 5);
    unsigned char *buf = z_malloc(EMIT_CAP);
    emitter em; /* on the stack: XXH3_state_t wants 64-byte alignment */
    if (!tmp || !buf) {
        z_free(tmp);
        z_free(buf);
        z_free(L.keys);
        z_err_nomem();
        z_err_prefix("index %s", path);
        return ZIPPY_ENOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    const char *what = "cannot create";
    int fd = zos_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    what = "cannot write";
    em.fd = fd;
    em.written = 0;
    em.buf = buf;
    rc = emit_table(b, &L, &em, covered);
    if (!rc) {
        what = "cannot fsync";
        rc = zos_fsync(fd);
    }
    {
        int crc = zos_close(fd);
        if (!rc && crc) {
            what = "cannot close";
            rc = crc;
        }
    }
    if (rc && em.zerr) {
        zos_unlink(tmp);
        z_free(tmp);
        z_free(buf);
        z_free(L.keys);
        z_err_prefix("index %s", path);
        return em.zerr;
    }
    if (rc) goto fail_unlink;
    rc = zos_rename(tmp, path);
    if (rc) {
        what = "cannot rename into place";
        goto fail_unlink;
    }
    z_free(tmp);
    z_free(buf);
    z_free(L.keys);
    /* The new index is in place; only the rename may not be durable yet. */
    rc = zos_fsync_parent(path);
    if (rc) return z_err_os(rc, "index %s: cannot fsync its directory", path);
    return ZIPPY_OK;

fail_unlink:
    zos_unlink(tmp);
fail:
    rc = z_err_os(rc, "index %s: %s %s", path, what, tmp);
    z_free(tmp);
    z_free(buf);
    z_free(L.keys);
    return rc;
}

/* ------------------------------------------------------------------ */
/* ZDS 0.1.x indexes                                                   */
/* ------------------------------------------------------------------ */

/* Both parsers run twice over the input: the first pass checks everything
 * and sizes the result, the second fills one allocation that holds the
 * entry array followed by the NUL-terminated ids (so the list is freed
 * with one z_free of v, and allocation is bounded by the input size, never
 * by a count read from it).
 *
 * Duplicate ids are kept, in file order: ZDS 0.1.x appended an entry for
 * each write, so the caller decides (usually the last one wins). An id that
 * is empty or contains a NUL byte is corrupt; other id rules are the
 * caller's. A length counts the newline, so 0 is corrupt. */

static int legacy_alloc(zl_list *out, size_t n, size_t idbytes, int kind,
                        char **ids) {
    size_t a, t;
    if (!z_mul_ok(n, sizeof(zl_entry), &a) || !z_add_ok(a, idbytes, &t) ||
        !z_add_ok(t, n, &t))
        return z_err(ZIPPY_ETOOBIG, "ZDS index too large");
    zl_entry *v = z_malloc(t);
    if (!v) return z_err_nomem();
    out->v = v;
    out->n = n;
    out->kind = kind;
    *ids = (char *)v + a;
    return ZIPPY_OK;
}

static int bin_corrupt(uint64_t k, uint64_t count, const char *why) {
    return z_err(ZIPPY_ECORRUPT, "ZDS binary index: entry %llu of %llu: %s",
                 (ull)k, (ull)count, why);
}

static int parse_binary(const unsigned char *p, size_t len, zl_list *out) {
    if (len < 16)
        return z_err(ZIPPY_ECORRUPT,
                     "ZDS binary index: truncated header (%zu of 16 bytes)", len);
    uint32_t version = z_le32(p + 4);
    if (version != 1)
        return z_err(ZIPPY_ECORRUPT,
                     "ZDS binary index: unsupported version %u (expected 1)",
                     version);
    const uint64_t count = z_le64(p + 8);
    size_t pos = 16, idbytes = 0;
    uint64_t k;
    /* Every entry takes >= 15 bytes (u16, a 1-byte id, u64, u32), so this
     * loop ends within len / 15 steps whatever count claims. */
    for (k = 0; k < count; k++) {
        if (len - pos < 2) return bin_corrupt(k + 1, count, "truncated");
        size_t idlen = z_le16(p + pos);
        if (idlen == 0) return bin_corrupt(k + 1, count, "empty id");
        if (len - pos - 2 < idlen + 12)
            return bin_corrupt(k + 1, count, "truncated");
        if (memchr(p + pos + 2, 0, idlen))
            return bin_corrupt(k + 1, count, "id contains a NUL byte");
        uint64_t off = z_le64(p + pos + 2 + idlen);
        uint32_t ln = z_le32(p + pos + 2 + idlen + 8);
        if (ln == 0)
            return bin_corrupt(k + 1, count, "length 0 (it counts the newline)");
        if (off > UINT64_MAX - ln)
            return bin_corrupt(k + 1, count, "offset + length overflows");
        pos += 2 + idlen + 12;
        idbytes += idlen;
    }
    if (pos != len)
        return z_err(ZIPPY_ECORRUPT,
                     "ZDS binary index: %zu trailing bytes after entry %llu, "
                     "the last the header counts",
                     len - pos, (ull)count);
    char *ids;
    int rc = legacy_alloc(out, (size_t)count, idbytes, 1, &ids);
    if (rc) return rc;
    pos = 16;
    for (size_t i = 0; i < (size_t)count; i++) {
        size_t idlen = z_le16(p + pos);
        zl_entry *e = &out->v[i];
        memcpy(ids, p + pos + 2, idlen);
        ids[idlen] = 0;
        e->id = ids;
        ids += idlen + 1;
        e->off = z_le64(p + pos + 2 + idlen);
        e->len = z_le32(p + pos + 2 + idlen + 8);
        pos += 2 + idlen + 12;
    }
    return ZIPPY_OK;
}

/* Parses a decimal number in [s, e) with at most max; 0 on success. */
static int parse_dec(const unsigned char *s, const unsigned char *e,
                     uint64_t max, uint64_t *out) {
    if (s == e) return -1;
    uint64_t v = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int is_blank(const unsigned char *s, const unsigned char *e) {
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

/* One text line [s, e) without its '\n' (a final '\r' still on it). */
typedef struct text_line {
    const unsigned char *id, *id_end;
    uint64_t off;
    uint32_t len;
} text_line;

static int parse_text_line(const unsigned char *s, const unsigned char *e,
                           size_t lineno, text_line *t) {
    const char *why;
    if (e > s && e[-1] == '\r') e--;
    const unsigned char *tab1 = memchr(s, '\t', (size_t)(e - s));
    const unsigned char *tab2 =
        tab1 ? memchr(tab1 + 1, '\t', (size_t)(e - tab1 - 1)) : NULL;
    uint64_t off, len;
    if (!tab1 || !tab2) {
        why = "expected \"id<TAB>offset<TAB>length\"";
    } else if (tab1 == s) {
        why = "empty id";
    } else if (memchr(s, 0, (size_t)(tab1 - s))) {
        why = "id contains a NUL byte";
    } else if (parse_dec(tab1 + 1, tab2, UINT64_MAX, &off)) {
        why = "bad offset (expected a decimal number)";
    } else if (parse_dec(tab2 + 1, e, UINT32_MAX, &len)) {
        why = "bad length (expected a decimal number below 2^32)";
    } else if (len == 0) {
        why = "length 0 (it counts the newline)";
    } else if (off > UINT64_MAX - len) {
        why = "offset + length overflows";
    } else {
        t->id = s;
        t->id_end = tab1;
        t->off = off;
        t->len = (uint32_t)len;
        return ZIPPY_OK;
    }
    return z_err(ZIPPY_ECORRUPT, "ZDS text index: line %zu: %s", lineno, why);
}

/* Text if the first non-blank line has a tab and no control bytes. */
static int looks_like_text(const unsigned char *p, size_t len) {
    const unsigned char *s = p, *end = p + len;
    while (s < end) {
        const unsigned char *nl = memchr(s, '\n', (size_t)(end - s));
        const unsigned char *e = nl ? nl : end;
        if (!is_blank(s, e)) {
            int tab = 0;
            for (const unsigned char *q = s; q < e; q++) {
                if (*q == '\t') tab = 1;
                else if ((*q < 0x20 && *q != '\r') || *q == 0x7f) return 0;
            }
            return tab;
        }
        s = nl ? nl + 1 : end;
    }
    return 0; /* blank only */
}

static int parse_text(const unsigned char *p, size_t len, zl_list *out) {
    const unsigned char *end = p + len;
    size_t n = 0, idbytes = 0, lineno = 0;
    text_line t = {NULL, NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        char *ids = NULL;
        size_t k = 0;
        if (pass == 1) {
            int rc = legacy_alloc(out, n, idbytes, 2, &ids);
            if (rc) return rc;
        }
        lineno = 0;
        for (const unsigned char *s = p; s < end;) {
            const unsigned char *nl = memchr(s, '\n', (size_t)(end - s));
            const unsigned char *e = nl ? nl : end;
            lineno++;
            if (!is_blank(s, e)) {
                int rc = parse_text_line(s, e, lineno, &t);
                if (rc) return rc; /* only in pass 0 */
                size_t idlen = (size_t)(t.id_end - t.id);
                if (pass == 0) {
                    n++;
                    idbytes += idlen;
                } else {
                    zl_entry *en = &out->v[k++];
                    memcpy(ids, t.id, idlen);
                    ids[idlen] = 0;
                    en->id = ids;
                    ids += idlen + 1;
                    en->off = t.off;
                    en->len = t.len;
                }
            }
            s = nl ? nl + 1 : end;
        }
    }
    return ZIPPY_OK;
}

int zl_parse(const void *buf, size_t len, zl_list *out) {
    const unsigned char *p = buf;
    if (!p || len == 0)
        return z_err(ZIPPY_EINVAL, "not a ZDS 0.1.x index: empty");
    if (len >= 8 && memcmp(p, ZI_MAGIC, 8) == 0)
        return z_err(ZIPPY_EINVAL,
                     "not a ZDS 0.1.x index: this is a zippy index (%s)",
                     ZI_MAGIC);
    /* A binary index has control bytes (its version) in its first "line";
     * a text index whose first id happens to start with ISDZ has not. */
    int text = looks_like_text(p, len);
    if (!text && len >= 4 && memcmp(p, "ISDZ", 4) == 0)
        return parse_binary(p, len, out);
    if (text) return parse_text(p, len, out);
    return z_err(ZIPPY_EINVAL,
                 "not a ZDS 0.1.x index: neither \"ISDZ\" binary nor "
                 "\"id<TAB>offset<TAB>length\" text");
}

void zl_list_free(zl_list *l) {
    if (!l) return;
    z_free(l->v);
    l->v = NULL;
    l->n = 0;
}
