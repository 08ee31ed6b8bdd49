/* index.h - meta/index.bin of the JSONL layout: a persisted open-addressing
 * hash table id-hash -> (offset, length, checksum) of the live line, opened
 * with mmap in O(1). Internal. Byte layout (little-endian):
 *
 *   header, 64 bytes
 *     0  magic "ZPYIDX01"
 *     8  u32 format version (1)        12 u32 flags (0)
 *    16  u64 slot count (power of two >= 16)
 *    24  u64 live entries              32 u64 covered: data.jsonl bytes
 *                                          the table accounts for
 *    40  u64 live bytes (sum of len+1) 48 u64 XXH3 of the slot array
 *    56  u64 XXH3 of header bytes 0..55
 *   slots, 24 bytes each, at 64 + 24*i
 *     0  u64 id hash (z_hash64 of the id; 0 is stored as 1; 0 = empty)
 *     8  u64 offset (low 48 bits) | slot check (high 16 bits: a 64-bit
 *           mix of the other fields, see index.c and docs/FORMAT.md)
 *    16  u32 line length (without '\n')
 *    20  u32 line checksum (z_checksum32 of the line without '\n')
 *   Linear probing from hash & (slots-1). File size = 64 + 24*slots.
 *
 * Opening checks the header hash and the file size only (O(1)); each slot's
 * 16-bit check catches a corrupt slot when it is read; zi_verify checks all.
 */
#ifndef ZIPPY_INDEX_H
#define ZIPPY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define ZI_MAGIC "ZPYIDX01"
#define ZI_HEADER_SIZE 64
#define ZI_SLOT_SIZE 24
#define ZI_MAX_OFFSET ((1ull << 48) - 1)

typedef struct zi_entry {
    uint64_t hash; /* z_hash64(id), never 0 (see zi_hash) */
    uint64_t off;  /* byte offset of the line in data.jsonl */
    uint32_t len;  /* line length without the newline */
    uint32_t crc;  /* z_checksum32 of the line without the newline */
} zi_entry;

/* z_hash64(id) with 0 mapped to 1 (0 marks an empty slot). */
uint64_t zi_hash(const char *id, size_t idlen);

typedef struct zi_index zi_index;

/* Opens and mmaps path. ZIPPY_ENOTFOUND if missing; ZIPPY_ECORRUPT (message
 * says why: magic, version, header hash, size) if unusable. */
int zi_open(zi_index **out, const char *path);
/* Same over a caller-owned buffer (kept, not copied; for fuzzing/tests). */
int zi_open_mem(zi_index **out, const void *buf, size_t len);
void zi_close(zi_index *ix);

uint64_t zi_count(const zi_index *ix);
uint64_t zi_covered(const zi_index *ix);
uint64_t zi_live_bytes(const zi_index *ix);
uint64_t zi_slot_count(const zi_index *ix);
uint64_t zi_file_size(const zi_index *ix);

/* Probing for one hash: init, then call next until it returns 0.
 * next returns 1 with *e and *slot for each occupied slot holding `hash`,
 * 0 when an empty slot ends the chain (or the table was walked once), or
 * ZIPPY_ECORRUPT when a slot on the way fails its check. */
typedef struct zi_probe {
    uint64_t hash, pos, steps;
} zi_probe;
void zi_probe_init(const zi_index *ix, uint64_t hash, zi_probe *p);
/* Hints the CPU to load the home slot of hash (for sequential scans that
 * know the next ids before they look them up). */
void zi_prefetch(const zi_index *ix, uint64_t hash);
int zi_probe_next(const zi_index *ix, zi_probe *p, zi_entry *e, uint64_t *slot);

/* Slot i: 1 and *e if occupied, 0 if empty, ZIPPY_ECORRUPT if bad. */
int zi_slot(const zi_index *ix, uint64_t i, zi_entry *e);

/* Full check: slot-array hash, every slot check, entry count and live
 * bytes against the header. ZIPPY_OK or ZIPPY_ECORRUPT (message). */
int zi_verify(const zi_index *ix);

/* Builds a new table in memory and writes it crash-safely. */
typedef struct zi_builder zi_builder;
int zi_builder_new(zi_builder **out, uint64_t expected_entries);
/* Adds an entry; the caller guarantees ids are unique. Grows as needed. */
int zi_builder_add(zi_builder *b, const zi_entry *e);
uint64_t zi_builder_count(const zi_builder *b);
/* Writes path (temp + fsync + rename + fsync dir) with the given covered
 * size. */
int zi_builder_write(zi_builder *b, const char *path, uint64_t covered);
void zi_builder_free(zi_builder *b);

/* ---- ZDS 0.1.x indexes (read only) ---- */

typedef struct zl_entry {
    char *id; /* NUL-terminated, owned by the list */
    uint64_t off;
    uint32_t len; /* including the newline, as ZDS wrote it */
} zl_entry;

typedef struct zl_list {
    zl_entry *v;
    size_t n;
    int kind; /* 1: binary "ISDZ" index, 2: text "id\toffset\tlength" */
} zl_list;

/* Parses a ZDS 0.1.x index from memory: binary (magic "ISDZ", u32 version
 * 1, u64 count, then per entry u16 id length, id bytes, u64 offset, u32
 * length) or text (one "id\toffset\tlength" per line). ZIPPY_EINVAL if buf
 * is neither (e.g. a zippy index); ZIPPY_ECORRUPT if it is truncated or
 * inconsistent (message names the entry). Ids are not validated here. */
int zl_parse(const void *buf, size_t len, zl_list *out);
void zl_list_free(zl_list *l);

#endif
