/* zipread.h - a read-only ZIP reader for opening .zds archives in place.
 * Internal.
 *
 * zr_open maps the archive, parses its central directory and validates the
 * whole archive before returning a handle: every rule in docs/FORMAT.md
 * section 5 (names, types, duplicates, encryption, methods, zip bombs, sizes
 * and offsets) is checked at open, so a caller never sees a hostile entry.
 * STORE entries are then read in place (zero copy, CRC-checked once);
 * DEFLATE entries are inflated on request into a caller-owned buffer.
 *
 * Layouts read (little-endian; offsets in bytes):
 *
 *   end of central directory (EOCD), 22 bytes + comment, at the file's end
 *     0 sig 50 4b 05 06   4 u16 this disk       6 u16 disk of the CD
 *     8 u16 entries here 10 u16 entries total  12 u32 CD size
 *    16 u32 CD offset    20 u16 comment length 22 comment
 *   ZIP64 EOCD locator, 20 bytes, right before the EOCD
 *     0 sig 50 4b 06 07   4 u32 disk of the ZIP64 EOCD
 *     8 u64 offset of the ZIP64 EOCD          16 u32 total disks
 *   ZIP64 EOCD record, 56 bytes + extensible data
 *     0 sig 50 4b 06 06   4 u64 size of the rest (>= 44)
 *    12 u16 made by      14 u16 needed         16 u32 this disk
 *    20 u32 disk of CD   24 u64 entries here   32 u64 entries total
 *    40 u64 CD size      48 u64 CD offset
 *   central directory entry, 46 bytes + name + extra + comment
 *     0 sig 50 4b 01 02   4 u16 made by (host in the high byte: 3 = Unix)
 *     6 u16 needed        8 u16 flags (bit 0 encrypted, 3 data descriptor)
 *    10 u16 method       12 u32 DOS time+date  16 u32 CRC-32
 *    20 u32 compressed   24 u32 uncompressed   28 u16 name length
 *    30 u16 extra length 32 u16 comment length 34 u16 disk start
 *    36 u16 internal attributes                38 u32 external attributes
 *    42 u32 local header offset                46 name, extra, comment
 *   local header, 30 bytes + name + extra, then the entry's data
 *     0 sig 50 4b 03 04   4 u16 needed          6 u16 flags
 *     8 u16 method       10 u32 DOS time+date  14 u32 CRC-32
 *    18 u32 compressed   22 u32 uncompressed   26 u16 name length
 *    28 u16 extra length 30 name, extra, data
 *   ZIP64 extra field (id 0x0001) in a central entry: u64 uncompressed,
 *   u64 compressed, u64 local header offset, u32 disk start: each present
 *   only when its 32-bit (16-bit for the disk) field holds all ones.
 *
 * The central directory is authoritative for sizes, CRC and method; the
 * local header must be present with the same name, method and encryption
 * bit, and only tells where the data starts.
 *
 * A handle is immutable after open (the "CRC checked" marks of STORE
 * entries are set atomically), so one handle may be shared by threads.
 * The archive file must not be truncated while a handle maps it (a read
 * past the new end would fault, as with any mmap): .zds files are replaced,
 * never rewritten in place.
 */
#ifndef ZIPPY_ZIPREAD_H
#define ZIPPY_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

/* Limits enforced at open (ZIPPY_ETOOBIG). */
#define ZR_MAX_ENTRIES 10000000u          /* entries in one archive */
#define ZR_NAME_MAX 4096u                 /* bytes of an entry name */
#define ZR_SEGMENT_MAX 255u               /* bytes of one path segment */
#define ZR_BOMB_MIN (1ull << 20)          /* the ratio rule applies above this */
#define ZR_BOMB_RATIO 100ull              /* max uncompressed / compressed */
#define ZR_TOTAL_MAX (64ull << 30)        /* sum of uncompressed sizes */

#define ZR_STORE 0
#define ZR_DEFLATE 8

typedef struct zr_entry {
    const char *name;      /* NUL-terminated, validated relative path
                              ("a/b.json"); directories end in '/' */
    uint64_t data_off;     /* offset of the entry's data in the archive
                              (after its local header) */
    uint64_t csize, usize; /* compressed / uncompressed sizes (ZIP64
                              resolved); usize fits in size_t */
    uint32_t crc32;
    uint16_t method;       /* ZR_STORE or ZR_DEFLATE */
    uint16_t name_len;     /* strlen(name), <= ZR_NAME_MAX */
    uint8_t is_dir;
} zr_entry;

typedef struct zr_archive zr_archive;

/* Parses and validates the archive held in data[0..len). The bytes are not
 * copied: they must outlive the handle. label names the archive in error
 * messages (copied). On failure *out is NULL and the thread error says
 * what is wrong, naming the entry (index and name) or byte offset:
 * ZIPPY_ECORRUPT (malformed or hostile), ZIPPY_EUNSUPPORTED (encryption,
 * methods other than STORE/DEFLATE, multi-disk), ZIPPY_ETOOBIG (a ZR_*
 * limit, including the zip-bomb ratio), ZIPPY_ENOMEM. */
int zr_open_mem(zr_archive **out, const void *data, size_t len, const char *label);

/* Maps the file at path read-only and parses it as zr_open_mem does, with
 * path as the label; the mapping belongs to the handle. A file that cannot
 * be mapped (ENODEV: some special file systems) is read into memory
 * instead. ZIPPY_ENOTFOUND if missing, ZIPPY_EINVAL if a directory,
 * ZIPPY_EIO (or ENOMEM) if the os layer fails; else as zr_open_mem. */
int zr_open(zr_archive **out, const char *path);

void zr_close(zr_archive *a); /* NULL ok */

/* The label given at open (the path for zr_open). */
const char *zr_label(const zr_archive *a);

/* Number of entries (files and directory entries). */
size_t zr_count(const zr_archive *a);

/* Entry i (< zr_count) in central-directory order. The entry and its name
 * belong to the handle and stay valid until zr_close. */
const zr_entry *zr_entry_at(const zr_archive *a, size_t i);

/* Index (central-directory order) of e, an entry of a. */
size_t zr_entry_index(const zr_archive *a, const zr_entry *e);

/* The entry named exactly `name` ("dir/" for a directory entry), or NULL.
 * O(log n). Owned by the handle. */
const zr_entry *zr_find(const zr_archive *a, const char *name);

/* The entry's bytes, checked against its size and CRC-32.
 * STORE: *ptr points into the archive (zero copy, valid until zr_close),
 * *owned = NULL; the CRC is checked on the first call only.
 * DEFLATE: the entry is inflated into a new buffer, *ptr = *owned, which
 * the caller releases with z_free(*owned); a NUL follows the len bytes.
 * Directories: *len = 0, *ptr = "", *owned = NULL.
 * ZIPPY_ECORRUPT naming the entry if the data does not inflate to exactly
 * usize bytes or fails its CRC; ZIPPY_ENOMEM. Outputs are set only on
 * success. */
int zr_entry_bytes(const zr_archive *a, const zr_entry *e, const char **ptr,
                   size_t *len, void **owned);

/* The whole entry `name` as a NUL-terminated buffer the caller frees with
 * z_free, like zos_read_file: 0, or -ENOENT (absent or a directory),
 * -EFBIG (over max bytes), -EIO (fails its checks: the thread error says
 * why), -ENOMEM. */
int zr_read_file(const zr_archive *a, const char *name, char **out, size_t *len, size_t max);

/* ---- listing, in path order ----
 * Entries are also kept sorted by name without its trailing '/', comparing
 * bytes with '/' before every other byte. In that order the entries under
 * a directory are contiguous and directly follow the directory itself. */

/* Entry at position pos (< zr_count) of the path order. */
const zr_entry *zr_sorted_at(const zr_archive *a, size_t pos);

/* Entries whose names start with `prefix` (e.g. "collections/users/docs/"
 * lists everything below that directory, not the directory entry itself;
 * "" lists all): returns how many and sets *first to the position of the
 * first one for zr_sorted_at. O(log n). */
size_t zr_prefix_range(const zr_archive *a, const char *prefix, size_t *first);

/* Names of the immediate children of directory `dir` ("" for the top, else
 * ending in '/', e.g. "collections/"), in path order, each once, with a
 * trailing '/' for a directory (one with an entry of its own or with
 * entries below it): "collections/" -> {"logs/", "users/"}. A
 * NULL-terminated vector freed with zippy_strv_free; *count (may be NULL)
 * gets its length. Zero children give an empty vector. */
int zr_list_children(const zr_archive *a, const char *dir, char ***out,
                     size_t *count);

/* NULL if name[0..len) is an acceptable entry name (the rules of zr_open:
 * relative, no empty / "." / ".." segments, no backslash, NUL or control
 * byte, no drive letter, valid UTF-8, within ZR_NAME_MAX / ZR_SEGMENT_MAX),
 * else the reason, e.g. "'..' path segment (escapes the root)". */
const char *zr_name_problem(const char *name, size_t len);
/* The same rules without the UTF-8 one (what pack and unpack apply: they
 * accept names in other encodings from other tools). */
const char *zr_path_problem(const char *name, size_t len);

#endif
