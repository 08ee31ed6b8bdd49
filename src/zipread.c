/* zipread.c - read-only ZIP reader for .zds archives opened in place (see
 * zipread.h for the byte layouts and the API).
 *
 * libzip (archive.c) reads through its own file abstraction and copies
 * every entry; opening in place needs entry offsets into one mapping and
 * validation we control, so this is a small reader of its own.
 *
 * Opening does all the checking, in one pass over the central directory
 * plus two sorts, so the work is O(size + n log n) whatever the bytes:
 *
 *  1. find the EOCD (scanning back at most 65535 + 22 bytes) and, if its
 *     locator precedes it, the ZIP64 EOCD; refuse multi-disk archives;
 *     the central directory must lie between the entries and the end
 *     records, and its size must hold the entry count (>= 46 bytes each:
 *     this bounds every allocation by the file size);
 *  2. parse each central entry (name, extra and comment inside the
 *     directory; ZIP64 extra resolved), check its name, flags, method,
 *     Unix type, sizes and zip-bomb ratio, then its local header (present,
 *     same name / method / encryption bit, data before the directory);
 *  3. the directory must end exactly after the last entry;
 *  4. sort by local header offset: no two entries' [header, data end)
 *     ranges may overlap (overlapping entries are the kernel of
 *     "many entries, one compressed blob" zip bombs);
 *  5. sort by path: duplicates, a file and a directory of the same path,
 *     and entries under a file are refused. The sorted order stays for
 *     zr_find and the listing helpers.
 */
#include "zipread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "os.h"
#include "util.h"
#include "zippy.h"

typedef unsigned long long ull;

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define EOCD_SIZE 22u
#define LOC64_SIZE 20u
#define EOCD64_SIZE 56u
#define CEN_SIZE 46u
#define LOCAL_SIZE 30u
#define COMMENT_MAX 65535u
#define EXTRA_ZIP64 0x0001u

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_STRONG_ENCRYPTION 0x0040u

/* Host systems (high byte of "version made by") whose external attributes
 * carry a Unix st_mode in their high 16 bits: Unix and OS X. */
#define HOST_UNIX 3u
#define HOST_OSX 19u
/* st_mode type bits, spelled out: the values are fixed by the ZIP
 * convention, not by the platform we run on. */
#define M_IFMT 0170000u
#define M_IFDIR 0040000u
#define M_IFREG 0100000u
#define M_IFLNK 0120000u

struct zr_archive {
    const unsigned char *data;
    size_t len;
    void *map;   /* owned mapping of len bytes (zr_open), or NULL */
    void *heap;  /* owned copy when the file cannot be mapped, or NULL */
    char *label;
    zr_entry *ents; /* n, central-directory order */
    size_t n;
    char *names;                /* every name, NUL-terminated, one block */
    const zr_entry **sorted;    /* n, path order (see zipread.h) */
    unsigned char *crc_ok;      /* n: STORE data CRC verified (atomic) */
};

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c == 0xe0) k = 2, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec) k = 2;
        else if (c == 0xed) k = 2, hi = 0x9f;
        else if (c >= 0xee && c <= 0xef) k = 2;
        else if (c == 0xf0) k = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) k = 3;
        else if (c == 0xf4) k = 3, hi = 0x8f;
        else return 0;
        if (n - i <= k) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

const char *zr_path_problem(const char *name, size_t len) {
    const unsigned char *s = (const unsigned char *)name;
    if (len == 0) return "empty name";
    if (len > ZR_NAME_MAX) return "name longer than 4096 bytes";
    if (s[0] == '/') return "absolute path (escapes the root)";
    if (len >= 2 && s[1] == ':' &&
        ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return "drive letter (escapes the root)";
    size_t n = len;
    if (s[n - 1] == '/') n--; /* a directory entry */
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned c = i < n ? s[i] : '/';
        if (c == '\\') return "backslash in name (escapes the root on Windows)";
        if (c == 0) return "NUL byte in name";
        if (c < 0x20 || c == 0x7f) return "control character in name";
        if (c != '/') continue;
        size_t seg = i - start;
        if (seg == 0) return "empty path segment";
        if (seg == 1 && s[start] == '.') return "'.' path segment";
        if (seg == 2 && s[start] == '.' && s[start + 1] == '.')
            return "'..' path segment (escapes the root)";
        if (seg > ZR_SEGMENT_MAX) return "path segment longer than 255 bytes";
        start = i + 1;
    }
    return NULL;
}

const char *zr_name_problem(const char *name, size_t len) {
    const char *why = zr_path_problem(name, len);
    if (!why && !utf8_valid((const unsigned char *)name, len)) why = "name is not valid UTF-8";
    return why;
}

/* s[0..n) made printable for a message: control bytes (and, unless the
 * whole is valid UTF-8, bytes >= 0x80) become '?'; cut with "..." at a
 * character boundary to fit cap. */
static const char *shown(char *out, size_t cap, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    int utf8 = utf8_valid(u, n);
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned c = u[i];
        int cont = utf8 && (c & 0xc0) == 0x80;
        if (o + 8 > cap && !cont) break; /* room for 3 cont. + "..." + NUL */
        out[o++] = (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) ? '?' : (char)c;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
    return out;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* "archive '<label>': <message>" */
static int fail(const char *label, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const char *label, int code, const char *fmt, ...) {
    char msg[640], b[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return z_err(code, "archive '%s': %s", shown(b, sizeof b, label, strlen(label)), msg);
}

/* "archive '<label>': entry <i> '<name>': <message>" */
static int ent_fail(const char *label, int code, size_t i, const char *name,
                    size_t nlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int ent_fail(const char *label, int code, size_t i, const char *name,
                    size_t nlen, const char *fmt, ...) {
    char msg[512], b1[256], b2[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return z_err(code, "archive '%s': entry %zu '%s': %s",
                 shown(b1, sizeof b1, label, strlen(label)), i,
                 shown(b2, sizeof b2, name, nlen), msg);
}

/* ------------------------------------------------------------------ */
/* Path order                                                          */
/* ------------------------------------------------------------------ */

/* Bytes compared unsigned with '/' first: a directory's entries then sort
 * right after it and before any sibling that extends its name ("a", "a/x",
 * "a!"). Keys are names without the trailing '/' of directories. */
static int key_cmp(const char *a, size_t la, const char *b, size_t lb) {
    size_t m = la < lb ? la : lb, i = 0;
    /* Names in one archive share long prefixes ("collections/x/docs/"):
     * skip equal bytes a word at a time. */
    for (uint64_t x, y; i + 8 <= m; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) break;
    }
    while (i < m && a[i] == b[i]) i++;
    if (i == m) return la < lb ? -1 : la > lb;
    unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
    if (ca == '/') return -1;
    if (cb == '/') return 1;
    return ca < cb ? -1 : 1;
}

static size_t key_len(const zr_entry *e) { return (size_t)e->name_len - e->is_dir; }

static int entry_path_cmp(const void *pa, const void *pb) {
    const zr_entry *a = *(const zr_entry *const *)pa, *b = *(const zr_entry *const *)pb;
    int c = key_cmp(a->name, key_len(a), b->name, key_len(b));
    if (c) return c;
    return a < b ? -1 : a > b; /* duplicates: keep archive order, stable */
}

/* Like key_cmp, but a key that starts with the prefix compares equal. */
static int prefix_cmp(const zr_entry *e, const char *p, size_t lp) {
    size_t lk = key_len(e);
    if (lk >= lp) {
        int c = key_cmp(e->name, lp, p, lp);
        return c;
    }
    return key_cmp(e->name, lk, p, lp);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

typedef struct cd_info {
    uint64_t count, cd_off, cd_size;
    uint64_t cd_limit; /* where the end records start */
} cd_info;

/* Locates the end records and the central directory. */
static int parse_end(const unsigned char *d, size_t len, const char *label,
                     cd_info *ci) {
    if (len < EOCD_SIZE)
        return fail(label, ZIPPY_ECORRUPT,
                    "not a ZIP archive: %zu bytes is shorter than an end of "
                    "central directory record",
                    len);
    size_t lo = len - EOCD_SIZE > COMMENT_MAX ? len - EOCD_SIZE - COMMENT_MAX : 0;
    size_t eocd = SIZE_MAX, seen = SIZE_MAX;
    for (size_t p = len - EOCD_SIZE + 1; p-- > lo;) {
        if (z_le32(d + p) != SIG_EOCD) continue;
        if (seen == SIZE_MAX) seen = p;
        /* The comment must end the file: a signature inside a comment
         * (or trailing bytes) is not taken for the record. */
        if (p + EOCD_SIZE + z_le16(d + p + 20) == len) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX) {
        if (seen != SIZE_MAX)
            return fail(label, ZIPPY_ECORRUPT,
                        "end of central directory record at offset %zu does not "
                        "end the file (trailing bytes or a bad comment length)",
                        seen);
        return fail(label, ZIPPY_ECORRUPT,
                    "not a ZIP archive: no end of central directory record in "
                    "its last %zu bytes",
                    len - lo);
    }
    const unsigned char *e = d + eocd;
    uint32_t disk = z_le16(e + 4), cd_disk = z_le16(e + 6);
    uint64_t here = z_le16(e + 8), total = z_le16(e + 10);
    ci->cd_size = z_le32(e + 12);
    ci->cd_off = z_le32(e + 16);
    ci->cd_limit = eocd;

    if (eocd >= LOC64_SIZE && z_le32(d + eocd - LOC64_SIZE) == SIG_LOC64) {
        const unsigned char *l = d + eocd - LOC64_SIZE;
        uint64_t loc = eocd - LOC64_SIZE;
        uint32_t e64_disk = z_le32(l + 4), disks = z_le32(l + 16);
        uint64_t e64 = z_le64(l + 8);
        if (e64_disk != 0 || disks > 1)
            return fail(label, ZIPPY_EUNSUPPORTED,
                        "multi-disk archives are not supported (ZIP64 locator "
                        "names disk %u of %u)",
                        e64_disk, disks);
        if (e64 > loc || loc - e64 < EOCD64_SIZE)
            return fail(label, ZIPPY_ECORRUPT,
                        "ZIP64 end of central directory record (offset %llu) "
                        "points outside the file",
                        (ull)e64);
        const unsigned char *r = d + e64;
        if (z_le32(r) != SIG_EOCD64)
            return fail(label, ZIPPY_ECORRUPT,
                        "no ZIP64 end of central directory record at offset %llu",
                        (ull)e64);
        uint64_t rsize = z_le64(r + 4);
        if (rsize < EOCD64_SIZE - 12 || rsize > loc - e64 - 12)
            return fail(label, ZIPPY_ECORRUPT,
                        "ZIP64 end of central directory record at offset %llu "
                        "declares a bad size (%llu)",
                        (ull)e64, (ull)rsize);
        disk = z_le32(r + 16);
        cd_disk = z_le32(r + 20);
        here = z_le64(r + 24);
        total = z_le64(r + 32);
        ci->cd_size = z_le64(r + 40);
        ci->cd_off = z_le64(r + 48);
        ci->cd_limit = e64;
    }
    if (disk != 0 || cd_disk != 0 || here != total)
        return fail(label, ZIPPY_EUNSUPPORTED,
                    "multi-disk archives are not supported (disk %u, central "
                    "directory on disk %u, %llu of %llu entries here)",
                    disk, cd_disk, (ull)here, (ull)total);
    if (ci->cd_off > ci->cd_limit || ci->cd_size > ci->cd_limit - ci->cd_off)
        return fail(label, ZIPPY_ECORRUPT,
                    "central directory (offset %llu, %llu bytes) points outside "
                    "the file (its end records start at offset %llu)",
                    (ull)ci->cd_off, (ull)ci->cd_size, (ull)ci->cd_limit);
    if (total > ZR_MAX_ENTRIES)
        return fail(label, ZIPPY_ETOOBIG,
                    "%llu entries (the limit is %u)", (ull)total, ZR_MAX_ENTRIES);
    if (total * CEN_SIZE > ci->cd_size)
        return fail(label, ZIPPY_ECORRUPT,
                    "a central directory of %llu bytes cannot hold the %llu "
                    "entries it declares",
                    (ull)ci->cd_size, (ull)total);
    ci->count = total;
    return ZIPPY_OK;
}

/* The values of a central entry that may live in its ZIP64 extra field. */
typedef struct wide {
    uint64_t usize, csize, lho;
    uint32_t disk;
} wide;

/* Resolves the all-ones fields of w from the ZIP64 extra field in
 * x[0..xlen). Returns NULL or the problem. */
static const char *resolve_zip64(const unsigned char *x, size_t xlen, wide *w) {
    int need_u = w->usize == 0xffffffffu, need_c = w->csize == 0xffffffffu,
        need_o = w->lho == 0xffffffffu, need_d = w->disk == 0xffffu;
    const unsigned char *z64 = NULL;
    size_t z64len = 0;
    while (xlen >= 4) {
        unsigned id = z_le16(x), sz = z_le16(x + 2);
        if (sz > xlen - 4) return "extra field runs past the entry's extra data";
        if (id == EXTRA_ZIP64 && !z64) {
            z64 = x + 4;
            z64len = sz;
        }
        x += 4 + sz;
        xlen -= 4 + sz;
    }
    /* 1-3 bytes left over: padding some writers add; nothing can hide in it. */
    if (!(need_u | need_c | need_o | need_d)) return NULL;
    size_t want = 8u * (size_t)(need_u + need_c + need_o) + 4u * (size_t)need_d;
    if (!z64)
        return "sizes or offset hold 0xFFFFFFFF but there is no ZIP64 extra field";
    if (z64len < want) return "ZIP64 extra field too short for the values it must hold";
    if (need_u) w->usize = z_le64(z64), z64 += 8;
    if (need_c) w->csize = z_le64(z64), z64 += 8;
    if (need_o) w->lho = z_le64(z64), z64 += 8;
    if (need_d) w->disk = z_le32(z64);
    return NULL;
}

typedef struct span {
    uint64_t start, end; /* [local header, end of data) */
    size_t index;
} span;

static int span_cmp(const void *pa, const void *pb) {
    const span *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Parses central entry i at d + *pos (moved past it) into a->ents[i] with
 * its name copied to *name_at (moved past its NUL); records its span. */
static int parse_entry(zr_archive *a, const cd_info *ci, size_t i, uint64_t *pos,
                       char **name_at, uint64_t *total, span *sp) {
    const unsigned char *d = a->data;
    const char *label = a->label;
    uint64_t cd_end = ci->cd_off + ci->cd_size;
    uint64_t p = *pos;
    if (cd_end - p < CEN_SIZE)
        return fail(label, ZIPPY_ECORRUPT,
                    "entry %zu: the central directory ends inside its header "
                    "(offset %llu)",
                    i, (ull)p);
    const unsigned char *c = d + p;
    if (z_le32(c) != SIG_CENTRAL)
        return fail(label, ZIPPY_ECORRUPT,
                    "entry %zu: no central directory header at offset %llu",
                    i, (ull)p);
    unsigned made_by = z_le16(c + 4), flags = z_le16(c + 8), method = z_le16(c + 10);
    uint32_t crc = z_le32(c + 16), ext = z_le32(c + 38);
    size_t nlen = z_le16(c + 28), xlen = z_le16(c + 30), clen = z_le16(c + 32);
    wide w = {z_le32(c + 24), z_le32(c + 20), z_le32(c + 42), z_le16(c + 34)};
    if (cd_end - p - CEN_SIZE < (uint64_t)nlen + xlen + clen)
        return fail(label, ZIPPY_ECORRUPT,
                    "entry %zu (offset %llu): name, extra field or comment runs "
                    "past the central directory",
                    i, (ull)p);
    const char *raw = (const char *)c + CEN_SIZE;
    *pos = p + CEN_SIZE + nlen + xlen + clen;

    const char *bad = zr_name_problem(raw, nlen);
    if (bad) return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen, "%s", bad);
    int is_dir = raw[nlen - 1] == '/';
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION))
        return ent_fail(label, ZIPPY_EUNSUPPORTED, i, raw, nlen,
                        "encrypted entries are not supported");
    if (method != ZR_STORE && method != ZR_DEFLATE)
        return ent_fail(label, ZIPPY_EUNSUPPORTED, i, raw, nlen,
                        "compression method %u is not supported (only STORE and "
                        "DEFLATE)",
                        method);
    bad = resolve_zip64((const unsigned char *)raw + nlen, xlen, &w);
    if (bad) return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen, "%s", bad);
    if (w.disk != 0)
        return ent_fail(label, ZIPPY_EUNSUPPORTED, i, raw, nlen,
                        "starts on disk %u: multi-disk archives are not supported",
                        w.disk);

    unsigned host = made_by >> 8;
    if (host == HOST_UNIX || host == HOST_OSX) {
        unsigned type = (ext >> 16) & M_IFMT;
        if (type == M_IFLNK)
            return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                            "symbolic links are not allowed");
        if (type && type != M_IFREG && type != M_IFDIR)
            return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                            "special files are not allowed (mode %06o)",
                            (ext >> 16) & 0177777u);
        if (type == M_IFDIR && !is_dir)
            return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                            "directory mode on a name without a trailing '/'");
    }
    if (is_dir && w.usize != 0)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "directory entry with %llu bytes of data", (ull)w.usize);
    if (method == ZR_STORE && w.csize != w.usize)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "stored entry with compressed size %llu but size %llu "
                        "(sizes that lie)",
                        (ull)w.csize, (ull)w.usize);
    if (w.usize > ZR_BOMB_MIN && w.csize <= UINT64_MAX / ZR_BOMB_RATIO &&
        w.usize > w.csize * ZR_BOMB_RATIO)
        return ent_fail(label, ZIPPY_ETOOBIG, i, raw, nlen,
                        "declares %llu bytes from %llu compressed: inflates past "
                        "%llu times its compressed size (possible zip bomb)",
                        (ull)w.usize, (ull)w.csize, ZR_BOMB_RATIO);
    if (w.usize > SIZE_MAX - 1)
        return ent_fail(label, ZIPPY_ETOOBIG, i, raw, nlen,
                        "%llu bytes do not fit in memory", (ull)w.usize);
    if (w.usize > ZR_TOTAL_MAX - *total)
        return ent_fail(label, ZIPPY_ETOOBIG, i, raw, nlen,
                        "the entries declare more than 64 GiB in total");
    *total += w.usize;

    /* The local header: where the data starts, and a second copy of the
     * name, method and encryption bit that must agree. */
    if (w.lho > ci->cd_off || ci->cd_off - w.lho < LOCAL_SIZE)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "local header offset %llu points outside the entries "
                        "(the central directory starts at %llu)",
                        (ull)w.lho, (ull)ci->cd_off);
    const unsigned char *l = d + w.lho;
    if (z_le32(l) != SIG_LOCAL)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "no local header at offset %llu", (ull)w.lho);
    size_t lnlen = z_le16(l + 26), lxlen = z_le16(l + 28);
    uint64_t room = ci->cd_off - w.lho - LOCAL_SIZE;
    if ((uint64_t)lnlen + lxlen > room)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "local header at offset %llu runs into the central "
                        "directory",
                        (ull)w.lho);
    if (lnlen != nlen || memcmp(l + LOCAL_SIZE, raw, nlen) != 0) {
        char b[200];
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "its local header (offset %llu) names '%s' (names that lie)",
                        (ull)w.lho,
                        shown(b, sizeof b, (const char *)l + LOCAL_SIZE, lnlen));
    }
    unsigned lflags = z_le16(l + 6), lmethod = z_le16(l + 8);
    if (lmethod != method || ((lflags ^ flags) & FLAG_ENCRYPTED))
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "its local header says method %u%s, the central directory "
                        "method %u%s",
                        lmethod, lflags & FLAG_ENCRYPTED ? " encrypted" : "", method,
                        flags & FLAG_ENCRYPTED ? " encrypted" : "");
    uint64_t data_off = w.lho + LOCAL_SIZE + lnlen + lxlen;
    if (w.csize > ci->cd_off - data_off)
        return ent_fail(label, ZIPPY_ECORRUPT, i, raw, nlen,
                        "its %llu bytes of data at offset %llu run past the start "
                        "of the central directory at %llu (sizes that lie)",
                        (ull)w.csize, (ull)data_off, (ull)ci->cd_off);

    zr_entry *e = &a->ents[i];
    memcpy(*name_at, raw, nlen);
    (*name_at)[nlen] = 0;
    e->name = *name_at;
    *name_at += nlen + 1;
    e->name_len = (uint16_t)nlen;
    e->data_off = data_off;
    e->csize = w.csize;
    e->usize = w.usize;
    e->crc32 = crc;
    e->method = (uint16_t)method;
    e->is_dir = (uint8_t)is_dir;
    sp->start = w.lho;
    sp->end = data_off + w.csize;
    sp->index = i;
    return ZIPPY_OK;
}

/* Step 4: no entry's header or data may overlap another's. */
static int check_overlaps(const zr_archive *a, span *sp) {
    if (a->n < 2) return ZIPPY_OK;
    qsort(sp, a->n, sizeof *sp, span_cmp);
    size_t reach = 0; /* the span reaching furthest so far */
    for (size_t k = 1; k < a->n; k++) {
        if (sp[k].start < sp[reach].end) {
            const zr_entry *e = &a->ents[sp[k].index], *o = &a->ents[sp[reach].index];
            char b[200];
            return ent_fail(a->label, ZIPPY_ECORRUPT, sp[k].index, e->name, e->name_len,
                            "its local header or data overlaps entry %zu '%s' "
                            "(overlapping entries)",
                            sp[reach].index, shown(b, sizeof b, o->name, o->name_len));
        }
        if (sp[k].end > sp[reach].end) reach = k;
    }
    return ZIPPY_OK;
}

/* Step 5: path order, and the clashes it makes adjacent. */
static int sort_names(zr_archive *a) {
    int in_order = 1;
    for (size_t i = 0; i < a->n; i++) {
        a->sorted[i] = &a->ents[i];
        if (i && in_order && entry_path_cmp(&a->sorted[i - 1], &a->sorted[i]) > 0)
            in_order = 0;
    }
    /* zippy pack writes entries in path order: then there is nothing to do. */
    if (!in_order) qsort(a->sorted, a->n, sizeof *a->sorted, entry_path_cmp);
    for (size_t k = 0; k + 1 < a->n; k++) {
        const zr_entry *x = a->sorted[k], *y = a->sorted[k + 1];
        size_t lx = key_len(x), ly = key_len(y);
        const zr_entry *later = x < y ? y : x, *first = x < y ? x : y;
        char b[200];
        if (lx == ly && !memcmp(x->name, y->name, lx))
            return ent_fail(a->label, ZIPPY_ECORRUPT, (size_t)(later - a->ents),
                            later->name, later->name_len, "%s entry %zu '%s'",
                            x->is_dir == y->is_dir
                                ? "duplicate name: the same as"
                                : "names both a file and a directory, with",
                            (size_t)(first - a->ents),
                            shown(b, sizeof b, first->name, first->name_len));
        if (!x->is_dir && ly > lx && y->name[lx] == '/' && !memcmp(x->name, y->name, lx))
            return ent_fail(a->label, ZIPPY_ECORRUPT, (size_t)(y - a->ents), y->name,
                            y->name_len, "lies under entry %zu '%s', which is a file",
                            (size_t)(x - a->ents), shown(b, sizeof b, x->name, x->name_len));
    }
    return ZIPPY_OK;
}

/* Builds the handle over data[0..len); on success it takes map / heap. */
static int open_common(zr_archive **out, const void *data, size_t len,
                       const char *label, void *map, void *heap) {
    int rc;
    zr_archive *a = NULL;
    span *sp = NULL;
    *out = NULL;
    a = z_calloc(1, sizeof *a);
    if (!a || !(a->label = z_strdup(label ? label : "<memory>"))) {
        rc = z_err_nomem();
        goto cleanup;
    }
    a->data = data ? data : (const unsigned char *)"";
    a->len = data ? len : 0;

    cd_info ci = {0, 0, 0, 0};
    if ((rc = parse_end(a->data, a->len, a->label, &ci))) goto cleanup;
    a->n = (size_t)ci.count;
    /* n * 46 <= cd_size <= len: every size below is bounded by the file. */
    size_t cnt = a->n ? a->n : 1;
    a->ents = z_calloc(cnt, sizeof *a->ents);
    a->sorted = z_calloc(cnt, sizeof *a->sorted);
    a->crc_ok = z_calloc(cnt, 1);
    a->names = z_malloc((size_t)ci.cd_size + 1); /* names + NULs fit in it */
    sp = z_calloc(cnt, sizeof *sp);
    if (!a->ents || !a->sorted || !a->crc_ok || !a->names || !sp) {
        rc = z_err_nomem();
        goto cleanup;
    }
    uint64_t pos = ci.cd_off, total = 0;
    char *name_at = a->names;
    for (size_t i = 0; i < a->n; i++)
        if ((rc = parse_entry(a, &ci, i, &pos, &name_at, &total, &sp[i]))) goto cleanup;
    if (pos != ci.cd_off + ci.cd_size) {
        rc = fail(a->label, ZIPPY_ECORRUPT,
                  "the central directory holds %llu bytes after its %zu entries "
                  "(entry count and size disagree)",
                  (ull)(ci.cd_off + ci.cd_size - pos), a->n);
        goto cleanup;
    }
    if ((rc = check_overlaps(a, sp))) goto cleanup;
    if ((rc = sort_names(a))) goto cleanup;

    a->map = map;
    a->heap = heap;
    *out = a;
    a = NULL;
    rc = ZIPPY_OK;
cleanup:
    z_free(sp);
    zr_close(a); /* map / heap not yet attached: the caller keeps them */
    return rc;
}

/* ------------------------------------------------------------------ */
/* Open / close                                                        */
/* ------------------------------------------------------------------ */

int zr_open_mem(zr_archive **out, const void *data, size_t len, const char *label) {
    return open_common(out, data, len, label, NULL, NULL);
}

int zr_open(zr_archive **out, const char *path) {
    char b[256];
    int rc, fd = -1, is_dir = 0;
    uint64_t size = 0;
    void *map = NULL, *heap = NULL;
    *out = NULL;
    if (!path || !*path) return z_err(ZIPPY_EINVAL, "archive: a path is required");
    const char *sp = shown(b, sizeof b, path, strlen(path));

    rc = zos_stat(path, &is_dir, &size);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = z_err(ZIPPY_ENOTFOUND, "archive '%s' does not exist", sp);
        goto cleanup;
    }
    if (rc) {
        rc = z_err_os(rc, "archive '%s'", sp);
        goto cleanup;
    }
    if (is_dir) {
        rc = z_err(ZIPPY_EINVAL, "archive '%s' is a directory", sp);
        goto cleanup;
    }
    /* O_NONBLOCK: a FIFO put in the archive's place does not hang us. */
    fd = zos_open(path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) {
        rc = z_err_os(fd, "archive '%s': cannot open", sp);
        goto cleanup;
    }
    if ((rc = zos_fstat_size(fd, &size))) {
        rc = z_err_os(rc, "archive '%s': cannot stat", sp);
        goto cleanup;
    }
    if (size > SIZE_MAX - 1) {
        rc = z_err(ZIPPY_ETOOBIG, "archive '%s': %llu bytes do not fit in memory", sp,
                   (ull)size);
        goto cleanup;
    }
    if (size > 0) {
        rc = zos_mmap(fd, (size_t)size, &map);
        if (rc == -ENODEV) { /* not mappable (special file system): read it */
            map = NULL;
            if (!(heap = z_malloc((size_t)size))) {
                rc = z_err_nomem();
                goto cleanup;
            }
            rc = zos_pread_all(fd, heap, (size_t)size, 0);
            if (rc) {
                rc = z_err_os(rc, "archive '%s': cannot read", sp);
                goto cleanup;
            }
        } else if (rc) {
            map = NULL;
            rc = z_err_os(rc, "archive '%s': cannot map", sp);
            goto cleanup;
        }
    }
    zos_close(fd);
    fd = -1;
    rc = open_common(out, map ? map : heap, (size_t)size, path, map, heap);
    if (!rc) map = heap = NULL; /* the handle owns them */
cleanup:
    if (fd >= 0) zos_close(fd);
    if (map) zos_munmap(map, (size_t)size);
    z_free(heap);
    return rc;
}

void zr_close(zr_archive *a) {
    if (!a) return;
    if (a->map) zos_munmap(a->map, a->len);
    z_free(a->heap);
    z_free(a->ents);
    z_free(a->sorted);
    z_free(a->crc_ok);
    z_free(a->names);
    z_free(a->label);
    z_free(a);
}

/* ------------------------------------------------------------------ */
/* Lookup and listing                                                  */
/* ------------------------------------------------------------------ */

const char *zr_label(const zr_archive *a) { return a->label; }
size_t zr_count(const zr_archive *a) { return a->n; }

const zr_entry *zr_entry_at(const zr_archive *a, size_t i) {
    return i < a->n ? &a->ents[i] : NULL;
}

size_t zr_entry_index(const zr_archive *a, const zr_entry *e) {
    return (size_t)(e - a->ents);
}

const zr_entry *zr_sorted_at(const zr_archive *a, size_t pos) {
    return pos < a->n ? a->sorted[pos] : NULL;
}

const zr_entry *zr_find(const zr_archive *a, const char *name) {
    if (!name) return NULL;
    size_t len = strlen(name);
    if (len == 0) return NULL;
    int is_dir = name[len - 1] == '/';
    size_t klen = len - (size_t)is_dir, lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zr_entry *e = a->sorted[mid];
        int c = key_cmp(e->name, key_len(e), name, klen);
        if (c == 0) return e->is_dir == is_dir ? e : NULL;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t zr_prefix_range(const zr_archive *a, const char *prefix, size_t *first) {
    size_t lp = prefix ? strlen(prefix) : 0, lo = 0, hi = a->n;
    while (lo < hi) { /* first position not before the prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (prefix_cmp(a->sorted[mid], prefix, lp) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t start = lo;
    hi = a->n;
    while (lo < hi) { /* first position past it */
        size_t mid = lo + (hi - lo) / 2;
        if (prefix_cmp(a->sorted[mid], prefix, lp) <= 0) lo = mid + 1;
        else hi = mid;
    }
    *first = start;
    return lo - start;
}

int zr_list_children(const zr_archive *a, const char *dir, char ***out, size_t *count) {
    int rc;
    char **v = NULL;
    size_t nv = 0, cap = 0, first = 0;
    *out = NULL;
    if (count) *count = 0;
    size_t ld = dir ? strlen(dir) : 0;
    if (ld && dir[ld - 1] != '/') {
        char b[256];
        return fail(a->label, ZIPPY_EINVAL,
                    "listing '%s': not a directory name (no trailing '/')",
                    shown(b, sizeof b, dir, ld));
    }
    size_t n = zr_prefix_range(a, dir, &first);
    const char *last = NULL; /* the last child pushed, and its length */
    size_t last_len = 0;
    for (size_t k = 0; k <= n; k++) {
        if (nv + 1 >= cap) { /* room for one more and the NULL */
            size_t nc = cap ? cap * 2 : 8, bytes;
            if (!z_mul_ok(nc, sizeof *v, &bytes)) {
                rc = z_err_nomem();
                goto cleanup;
            }
            char **nvp = z_realloc(v, bytes);
            if (!nvp) {
                rc = z_err_nomem();
                goto cleanup;
            }
            v = nvp;
            cap = nc;
        }
        v[nv] = NULL;
        if (k == n) break;
        const zr_entry *e = a->sorted[first + k];
        const char *rest = e->name + ld;
        size_t rlen = key_len(e) - ld;
        const char *slash = memchr(rest, '/', rlen);
        size_t clen = slash ? (size_t)(slash - rest) : rlen;
        int child_dir = slash || e->is_dir;
        /* Path order keeps one child's entries together. */
        if (last && clen == last_len && !memcmp(rest, last, clen)) continue;
        char *s = z_malloc(clen + 2);
        if (!s) {
            rc = z_err_nomem();
            goto cleanup;
        }
        memcpy(s, rest, clen);
        if (child_dir) s[clen++] = '/';
        s[clen] = 0;
        v[nv++] = s;
        v[nv] = NULL;
        last = rest;
        last_len = slash ? (size_t)(slash - rest) : rlen;
    }
    *out = v;
    if (count) *count = nv;
    v = NULL;
    rc = ZIPPY_OK;
cleanup:
    zippy_strv_free(v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entry data                                                          */
/* ------------------------------------------------------------------ */

static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    size_t n;
    return z_mul_ok(items, size, &n) ? z_malloc(n) : Z_NULL;
}

static void zlib_free(voidpf opaque, voidpf p) {
    (void)opaque;
    z_free(p);
}

static uint32_t crc_of(const unsigned char *p, uint64_t n) {
    return (uint32_t)crc32_z(0, p, (z_size_t)n);
}

#define EFAIL(code, ...)                                                       \
    ent_fail(a->label, code, zr_entry_index(a, e), e->name, e->name_len, __VA_ARGS__)

/* Inflates e into a new buffer of usize + 1 bytes (NUL-terminated). Never
 * writes past usize: a stream that produces more, or less, is refused. */
static int inflate_entry(const zr_archive *a, const zr_entry *e, char **out) {
    int rc, zrc, inited = 0;
    size_t usize = (size_t)e->usize, done = 0;
    char *buf = z_malloc(usize + 1); /* usize < SIZE_MAX: checked at open */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (!buf) {
        rc = z_err_nomem();
        goto cleanup;
    }
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    zrc = inflateInit2(&zs, -MAX_WBITS); /* raw deflate, as in ZIP */
    if (zrc != Z_OK) {
        rc = zrc == Z_MEM_ERROR ? z_err_nomem()
                                : EFAIL(ZIPPY_ECORRUPT, "zlib cannot start (%d)", zrc);
        goto cleanup;
    }
    inited = 1;
    const unsigned char *in = a->data + e->data_off;
    uint64_t in_left = e->csize;
    unsigned char spare;
    for (;;) {
        if (zs.avail_in == 0 && in_left) { /* avail_in is 32 bits: feed chunks */
            uInt chunk = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            zs.next_in = (Bytef *)(uintptr_t)in;
            zs.avail_in = chunk;
            in += chunk;
            in_left -= chunk;
        }
        size_t room = usize - done;
        /* When the buffer is full, one spare byte tells whether the stream
         * wants to go on. */
        zs.next_out = room ? (Bytef *)buf + done : &spare;
        zs.avail_out = room ? (room > UINT_MAX ? UINT_MAX : (uInt)room) : 1;
        uInt before = zs.avail_out;
        zrc = inflate(&zs, Z_NO_FLUSH);
        size_t made = before - zs.avail_out;
        if (!room && made) {
            rc = EFAIL(ZIPPY_ECORRUPT,
                       "inflates to more than its declared %llu bytes (sizes that lie)",
                       (ull)e->usize);
            goto cleanup;
        }
        done += room ? made : 0;
        if (zrc == Z_STREAM_END) break;
        if (zrc == Z_OK) continue; /* progress was made */
        if (zrc == Z_MEM_ERROR) {
            rc = z_err_nomem();
            goto cleanup;
        }
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0)
            rc = EFAIL(ZIPPY_ECORRUPT,
                       "its %llu compressed bytes end inside the deflate stream "
                       "(%zu of %llu bytes inflated)",
                       (ull)e->csize, done, (ull)e->usize);
        else
            rc = EFAIL(ZIPPY_ECORRUPT, "invalid deflate data after %zu bytes (%s)", done,
                       zs.msg ? zs.msg : "zlib error");
        goto cleanup;
    }
    if (done != usize) {
        rc = EFAIL(ZIPPY_ECORRUPT,
                   "inflates to %zu bytes, not its declared %llu (sizes that lie)", done,
                   (ull)e->usize);
        goto cleanup;
    }
    uint32_t crc = crc_of((const unsigned char *)buf, usize);
    if (crc != e->crc32) {
        rc = EFAIL(ZIPPY_ECORRUPT,
                   "data does not match its CRC-32 (%08x, the central directory "
                   "says %08x)",
                   crc, e->crc32);
        goto cleanup;
    }
    buf[usize] = 0;
    *out = buf;
    buf = NULL;
    rc = ZIPPY_OK;
cleanup:
    if (inited) inflateEnd(&zs);
    z_free(buf);
    return rc;
}

int zr_entry_bytes(const zr_archive *a, const zr_entry *e, const char **ptr,
                   size_t *len, void **owned) {
    if (!a || !e || e < a->ents || e >= a->ents + a->n)
        return z_err(ZIPPY_EINVAL, "archive: entry does not belong to this archive");
    if (e->is_dir) {
        *ptr = "";
        *len = 0;
        *owned = NULL;
        return ZIPPY_OK;
    }
    if (e->method == ZR_STORE) {
        size_t i = zr_entry_index(a, e);
        const unsigned char *p = a->data + e->data_off;
        /* Checked once per handle; racing threads both check, harmlessly. */
        if (!__atomic_load_n(&a->crc_ok[i], __ATOMIC_ACQUIRE)) {
            uint32_t crc = crc_of(p, e->csize);
            if (crc != e->crc32)
                return EFAIL(ZIPPY_ECORRUPT,
                             "data does not match its CRC-32 (%08x, the central "
                             "directory says %08x)",
                             crc, e->crc32);
            __atomic_store_n(&a->crc_ok[i], 1, __ATOMIC_RELEASE);
        }
        *ptr = (const char *)p;
        *len = (size_t)e->usize;
        *owned = NULL;
        return ZIPPY_OK;
    }
    char *buf = NULL;
    int rc = inflate_entry(a, e, &buf);
    if (rc) return rc;
    *ptr = buf;
    *len = (size_t)e->usize;
    *owned = buf;
    return ZIPPY_OK;
}

int zr_read_file(const zr_archive *a, const char *name, char **out, size_t *len, size_t max) {
    const zr_entry *x = zr_find(a, name);
    if (!x || x->is_dir) return -ENOENT;
    if (x->usize > max) return -EFBIG;
    const char *p;
    size_t n;
    void *owned = NULL;
    int rc = zr_entry_bytes(a, x, &p, &n, &owned);
    if (rc) return rc == ZIPPY_ENOMEM ? -ENOMEM : -EIO;
    if (!owned) { /* STORE: copy out of the mapping */
        if (!(owned = z_malloc(n + 1))) return -ENOMEM;
        memcpy(owned, p, n);
        ((char *)owned)[n] = 0;
    }
    *out = owned; /* inflated buffers are NUL-terminated already */
    *len = n;
    return 0;
}
