/* json.c - strict RFC 8259 JSON for libzippy: arena DOM parser, writer,
 * exact number comparison and the write-path validating minifier.
 *
 * Design notes
 *  - Nothing here recurses on input structure while parsing: zj_parse and
 *    the minifier are iterative state machines with a fixed frame stack of
 *    ZJ_MAX_DEPTH entries. zj_equal/zj_write recurse over values, which for
 *    parsed documents is bounded by ZJ_MAX_DEPTH (deeper hand-built values
 *    are refused).
 *  - zj_parse builds the children of open containers on a reusable value
 *    stack (kept in the doc across resets) and copies them into the arena in
 *    one block when the container closes. Nothing is malloc'ed per value.
 *  - Strings: one pass of 16-byte SSE2 compares builds bitmaps of quotes
 *    and of "special" bytes ('\\', control, non-ASCII) over a window of up
 *    to 2 KB (a whole small document). A cursor then walks the quote bits
 *    in order, so finding the end of the next string costs a blsr/tzcnt on
 *    a register instead of a load/compare chain that depends on where the
 *    previous token ended; the parser only checks that the cursor agrees
 *    with its position. Strings with escapes, non-ASCII bytes, or that are
 *    long or cross the window take a validating slow path, after which the
 *    cursor is resynchronised. Portable scalar code replaces SSE2 when
 *    __SSE2__ is not defined.
 *  - Copies of input to output (minifier) are done in runs with memcpy.
 *  - zj_parse and the minifier share the scanning helpers and report the
 *    same error (message and offset) for the same input.
 */
#include "json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define COLD __attribute__((cold, noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#define COLD
#define ALWAYS_INLINE inline
#endif

/* ------------------------------------------------------------------ */
/* Arena                                                               */
/* ------------------------------------------------------------------ */

typedef struct zj_chunk {
    struct zj_chunk *next;
    size_t size; /* usable bytes after the header */
} zj_chunk;

/* The header is 16 bytes, so chunk data keeps malloc's 16-byte alignment. */
#define CHUNK_DATA(c) ((char *)(c) + sizeof(zj_chunk))
#define ARENA_MIN_CHUNK 4096u
#define ARENA_MAX_GROW (16u << 20)
#define STACK_MIN 64u

struct zj_doc {
    char *cur, *end;   /* bump region of the current chunk */
    zj_chunk *chunks;  /* newest (current) first */
    size_t total;      /* sum of chunk sizes */
    zj_val *stk;       /* value stack of zj_parse, kept across parses */
    size_t stk_cap;
};

zj_doc *zj_doc_new(void) {
    zj_doc *d = z_malloc(sizeof *d);
    if (!d) {
        z_err_nomem();
        return NULL;
    }
    memset(d, 0, sizeof *d);
    return d;
}

static void free_chunks(zj_chunk *c, const zj_chunk *keep) {
    while (c) {
        zj_chunk *nx = c->next;
        if (c != keep) z_free(c);
        c = nx;
    }
}

void zj_doc_reset(zj_doc *d) {
    if (!d || !d->chunks) return;
    zj_chunk *head = d->chunks;
    if (head->next) {
        /* Several chunks: replace them by one chunk as large as all of them
         * together, so the next document of this size needs no malloc. If
         * that allocation fails keep the biggest chunk. */
        zj_chunk *big = head;
        for (zj_chunk *c = head; c; c = c->next)
            if (c->size > big->size) big = c;
        size_t total = d->total;
        free_chunks(head, big);
        big->next = NULL;
        zj_chunk *nc = NULL;
        if (total > big->size && total <= SIZE_MAX - sizeof(zj_chunk))
            nc = z_malloc(sizeof(zj_chunk) + total);
        if (nc) {
            z_free(big);
            nc->next = NULL;
            nc->size = total;
            big = nc;
        }
        d->chunks = head = big;
        d->total = big->size;
    }
    d->cur = CHUNK_DATA(head);
    d->end = d->cur + head->size;
}

size_t zj_doc_bytes(const zj_doc *d) { return d ? d->total + d->stk_cap * sizeof(zj_val) : 0; }

void zj_doc_free(zj_doc *d) {
    if (!d) return;
    free_chunks(d->chunks, NULL);
    z_free(d->stk);
    z_free(d);
}

static NOINLINE void *arena_alloc_slow(zj_doc *d, size_t n, size_t align) {
    size_t last = d->chunks ? d->chunks->size : 0;
    size_t size = last < ARENA_MIN_CHUNK ? ARENA_MIN_CHUNK
                  : last >= ARENA_MAX_GROW ? last : last * 2;
    size_t need;
    if (!z_add_ok(n, align, &need) || !z_add_ok(need, sizeof(zj_chunk), &need))
        return NULL;
    if (size < need) size = need;
    zj_chunk *c = z_malloc(sizeof(zj_chunk) + size);
    if (!c) return NULL;
    c->next = d->chunks;
    c->size = size;
    d->chunks = c;
    d->total += size;
    uintptr_t p = ((uintptr_t)CHUNK_DATA(c) + align - 1) & ~(uintptr_t)(align - 1);
    d->cur = (char *)p + n;
    d->end = CHUNK_DATA(c) + size;
    return (void *)p;
}

/* n > 0; align a power of two <= 16. */
static ALWAYS_INLINE void *arena_alloc(zj_doc *d, size_t n, size_t align) {
    uintptr_t p = ((uintptr_t)d->cur + align - 1) & ~(uintptr_t)(align - 1);
    uintptr_t end = (uintptr_t)d->end;
    if (LIKELY(d->cur && p <= end && end - p >= n)) {
        d->cur = (char *)p + n;
        return (void *)p;
    }
    return arena_alloc_slow(d, n, align);
}

void *zj_doc_alloc(zj_doc *d, size_t n) {
    if (!d) return NULL;
    void *p = arena_alloc(d, n ? n : 1, 16);
    if (!p) z_err_nomem();
    return p;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static const char E_VALUE[] = "expected a value";
static const char E_KEY[] = "expected '\"' to start an object key";
static const char E_COLON[] = "expected ':' after object key";
static const char E_OBJ_NEXT[] = "expected ',' or '}' after object member";
static const char E_ARR_NEXT[] = "expected ',' or ']' after array item";
static const char E_TRAIL[] = "expected end of input after the value";
static const char E_DEPTH[] = "nesting deeper than 256 levels";
static const char E_LITERAL[] = "expected 'true', 'false' or 'null'";
static const char E_MINUS[] = "expected a digit after '-'";
static const char E_LEADZERO[] = "leading zeros are not allowed in numbers";
static const char E_FRAC[] = "expected a digit after '.'";
static const char E_EXP[] = "expected a digit in the exponent";
static const char E_UNTERM[] = "expected '\"' to close the string";
static const char E_CTRL[] = "control character in string (must be escaped)";
static const char E_ESCAPE[] = "invalid escape (expected one of \\\" \\\\ \\/ "
                               "\\b \\f \\n \\r \\t \\uXXXX)";
static const char E_HEX[] = "expected 4 hex digits after \\u";
static const char E_SURR[] = "unpaired surrogate in \\u escape";
static const char E_UTF8[] = "invalid UTF-8 byte sequence";
static const char E_NOTOBJ[] = "expected '{': a document must be a JSON object";
static const char E_TOOLONG[] = "string or container too large";

_Static_assert(ZJ_MAX_DEPTH == 256, "update E_DEPTH");

static COLD int fail(const char *s, size_t n, const char *pos, const char *msg,
                     zj_error *err) {
    size_t off = (size_t)(pos - s);
    if (off > n) off = n;
    unsigned line = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') {
            line++;
            ls = i + 1;
        }
    unsigned col = (unsigned)(off - ls + 1);
    if (err) {
        err->offset = off;
        err->line = line;
        err->col = col;
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    }
    return z_err(ZIPPY_EINVAL, "invalid JSON at byte %zu (line %u, col %u): %s",
                 off, line, col, msg);
}

/* ------------------------------------------------------------------ */
/* Scanning helpers (shared by the parser and the minifier)            */
/* ------------------------------------------------------------------ */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static ALWAYS_INLINE uint64_t load64(const char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Bytes that end the fast path inside a string: '"', '\\', < 0x20, >= 0x80.
 * SWAR: the lowest flagged byte is exact (borrows only spoil higher ones). */
static ALWAYS_INLINE uint64_t swar_special(uint64_t x) {
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t t = ((q - ONES) & ~q) | ((b - ONES) & ~b) |
                 ((x - ONES * 0x20) & ~x) | x;
    return t & HIGHS;
}

static const unsigned char special_tab[256] = {
    /* 0x00-0x1f control, '"', '\\', 0x80-0xff */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* First byte in [p, e) that is '"', '\\', a control byte or non-ASCII;
 * e if none. */
static ALWAYS_INLINE const char *find_special(const char *p, const char *e) {
#ifdef __SSE2__
    const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
    const __m128i vc = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed x < 0x20 catches control bytes and bytes >= 0x80 */
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vb)),
            _mm_cmplt_epi8(x, vc));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (e - p >= 8) {
        uint64_t t = swar_special(load64(p));
        if (t) return p + (__builtin_ctzll(t) >> 3);
        p += 8;
    }
    while (p < e && !special_tab[(unsigned char)*p]) p++;
    return p;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0. */
static ALWAYS_INLINE int utf8_seq(const unsigned char *p, const unsigned char *e) {
    unsigned c = p[0];
    size_t left = (size_t)(e - p);
    if (c >= 0xC2 && c <= 0xDF) {
        if (left >= 2 && (p[1] & 0xC0) == 0x80) return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static ALWAYS_INLINE int hexval(unsigned c) {
    if (c - '0' < 10) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6) return (int)(c - 'a' + 10);
    return -1;
}

/* 4 hex digits at p (bounds checked by the caller): value or -1. */
static ALWAYS_INLINE long hex4(const char *p) {
    int a = hexval((unsigned char)p[0]), b = hexval((unsigned char)p[1]);
    int c = hexval((unsigned char)p[2]), d = hexval((unsigned char)p[3]);
    if ((a | b | c | d) < 0) return -1;
    return (long)(a << 12 | b << 8 | c << 4 | d);
}

typedef struct scan_err {
    const char *pos;
    const char *msg;
} scan_err;

/* String scanning works on a window of bitmaps over up to WIN_BYTES of
 * input: bit i of q is set when base[i] is '"', bit i of s when base[i] is
 * '\\', a control byte or a non-ASCII byte, or i is past the window. One
 * fill (a tight loop of 16-byte SSE2 compares) covers a whole small
 * document; the end of each string is then found with one load, a shift and
 * a tzcnt instead of a load/compare/movemask chain per string. */
#define WIN_WORDS 32
#define WIN_BYTES (64 * WIN_WORDS)

typedef struct strwin {
    const char *base;
    size_t len;     /* bytes covered (positions >= len are flagged in s) */
    size_t nw;      /* words holding positions < len */
    const char *s0; /* start of the input: loads never go below it */
    uint64_t q[WIN_WORDS + 1], s[WIN_WORDS + 1]; /* + one flagged word */
} strwin;

#ifdef __SSE2__
/* Masks of one 16-byte block: quotes into *mq, other specials into *ms. */
static ALWAYS_INLINE void block_masks(const char *p, uint32_t *mq, uint32_t *ms) {
    const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
    const __m128i vc = _mm_set1_epi8(0x20);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    *mq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq));
    /* signed 0x20 > x: control bytes and bytes >= 0x80 */
    *ms = (uint32_t)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(x, vb), _mm_cmpgt_epi8(vc, x)));
}
#endif

/* Fills the window at p (p < e). */
static NOINLINE void win_fill(strwin *w, const char *p, const char *e) {
    size_t avail = (size_t)(e - p);
    size_t len = avail < WIN_BYTES ? avail : WIN_BYTES;
    size_t nw = (len + 63) / 64; /* words holding positions < len */
    w->base = p;
    w->len = len;
    w->nw = nw;
    for (size_t i = nw; i <= WIN_WORDS && i <= nw + 1; i++) {
        w->q[i] = 0;
        w->s[i] = ~0ull;
    }
#ifdef __SSE2__
    if (LIKELY(e - w->s0 >= 16)) {
        uint32_t a, b, c, d, f, g, h, k;
        size_t i = 0, wi = 0;
        for (; i + 64 <= len; i += 64, wi++) {
            block_masks(p + i, &a, &b);
            block_masks(p + i + 16, &c, &d);
            block_masks(p + i + 32, &f, &g);
            block_masks(p + i + 48, &h, &k);
            w->q[wi] = a | (uint64_t)c << 16 | (uint64_t)f << 32 | (uint64_t)h << 48;
            w->s[wi] = b | (uint64_t)d << 16 | (uint64_t)g << 32 | (uint64_t)k << 48;
        }
        if (i < len) {
            /* last, partial word: full 16-byte blocks, then the 16 bytes
             * ending at p+len (inside the input) for the remainder */
            uint64_t q = 0, s = 0;
            size_t j = 0, r = len - i;
            for (; j + 16 <= r; j += 16) {
                block_masks(p + i + j, &a, &b);
                q |= (uint64_t)a << j;
                s |= (uint64_t)b << j;
            }
            if (j < r) {
                size_t v = r - j; /* valid bits, 1..15 */
                block_masks(p + len - 16, &a, &b);
                q |= (uint64_t)(a >> (16 - v)) << j;
                s |= (uint64_t)(b >> (16 - v)) << j;
            }
            w->q[wi] = q;
            w->s[wi] = s | ~0ull << r; /* r < 64 */
        }
        return;
    }
#endif
    for (size_t i = 0; i < nw; i++) {
        uint64_t q = 0, s = 0;
        for (size_t j = 0; j < 64; j++) {
            size_t k = i * 64 + j;
            if (k >= len) {
                s |= ~0ull << j;
                break;
            }
            unsigned char c = (unsigned char)p[k];
            if (c == '"') q |= 1ull << j;
            else if (special_tab[c]) s |= 1ull << j;
        }
        w->q[i] = q;
        w->s[i] = s;
    }
}

/* Bits of the bitmap starting at position off: at least 57 valid bits
 * (higher bits read as 0). Little-endian byte view of the words. */
static ALWAYS_INLINE uint64_t win_bits(const uint64_t *m, size_t off) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return load64((const char *)m + (off >> 3)) >> (off & 7);
#else
    size_t i = off >> 6;
    unsigned sh = (unsigned)(off & 63);
    return (m[i] >> sh) | ((m[i + 1] << 1) << (63 - sh));
#endif
}

/* Slow path of scan_str: p is inside a string (after the opening quote or
 * after an escape/UTF-8 sequence). Returns the closing quote or NULL (with
 * *se). Sets *esc when the string has escapes. */
static NOINLINE const char *scan_str_slow(strwin *w, const char *p, const char *e,
                                          int *esc, scan_err *se) {
    for (;;) {
        size_t off = (size_t)((uintptr_t)p - (uintptr_t)w->base);
        if (off >= w->len) {
            if (p >= e) goto unterminated;
            win_fill(w, p, e);
            off = 0;
        }
        uint64_t m = win_bits(w->q, off) | win_bits(w->s, off);
        if (!m) {
            p += 64 - (off & 7); /* those bits were all valid and clear */
            continue;
        }
        p += __builtin_ctzll(m);
        if ((size_t)((uintptr_t)p - (uintptr_t)w->base) >= w->len) continue;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p;
        if (c == '\\') {
            *esc = 1;
            if (e - p < 2) goto unterminated;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                break;
            case 'u': {
                long u = e - p >= 6 ? hex4(p + 2) : -1;
                if (u < 0) {
                    se->pos = p;
                    se->msg = E_HEX;
                    return NULL;
                }
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long l = -1;
                    if (e - p >= 12 && p[6] == '\\' && p[7] == 'u')
                        l = hex4(p + 8);
                    if (l < 0xDC00 || l > 0xDFFF) {
                        se->pos = p;
                        se->msg = E_SURR;
                        return NULL;
                    }
                    p += 12;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    se->pos = p;
                    se->msg = E_SURR;
                    return NULL;
                } else {
                    p += 6;
                }
                break;
            }
            default:
                se->pos = p;
                se->msg = E_ESCAPE;
                return NULL;
            }
        } else if (c < 0x20) {
            se->pos = p;
            se->msg = E_CTRL;
            return NULL;
        } else {
            /* non-ASCII: validate this and any directly following sequences */
            do {
                int k = utf8_seq((const unsigned char *)p, (const unsigned char *)e);
                if (!k) {
                    se->pos = p;
                    se->msg = E_UTF8;
                    return NULL;
                }
                p += k;
            } while (p < e && (unsigned char)*p >= 0x80);
        }
    }
unterminated:
    se->pos = e;
    se->msg = E_UNTERM;
    return NULL;
}

/* p is just after an opening quote. Returns the closing quote or NULL. */
static ALWAYS_INLINE const char *scan_str(strwin *w, const char *p, const char *e,
                                          int *esc, scan_err *se) {
    size_t off = (size_t)((uintptr_t)p - (uintptr_t)w->base);
    if (LIKELY(off < w->len)) {
        uint64_t q = win_bits(w->q, off), s = win_bits(w->s, off);
        /* the first quote, with no special byte before it */
        if (LIKELY(q && !(s & ((q & (0 - q)) - 1)))) return p + __builtin_ctzll(q);
    }
    return scan_str_slow(w, p, e, esc, se);
}

#define ISDIGIT(c) ((unsigned)((unsigned char)(c) - '0') < 10u)

/* Number of consecutive ASCII digits at p (SWAR, 8 bytes at a time). */
static ALWAYS_INLINE size_t digit_run(const char *p, const char *e) {
    const char *b = p;
    while (e - p >= 8) {
        uint64_t x = load64(p);
        /* nonzero byte = not a digit: high nibble must be 3 before and after
         * adding 6 (carries only spoil bytes above a non-digit) */
        uint64_t nd = ((x & (ONES * 0xF0)) ^ (ONES * 0x30)) |
                      (((x + ONES * 0x06) & (ONES * 0xF0)) ^ (ONES * 0x30));
        if (nd) {
            uint64_t t = (nd | ((nd & (ONES * 0x7F)) + ONES * 0x7F)) & HIGHS;
            return (size_t)(p - b) + (__builtin_ctzll(t) >> 3);
        }
        p += 8;
    }
    while (p < e && ISDIGIT(*p)) p++;
    return (size_t)(p - b);
}

/* p is at '-' or a digit. Returns the end of the number or NULL. */
static ALWAYS_INLINE const char *scan_num(const char *p, const char *e, int *isint,
                                          scan_err *se) {
    if (*p == '-') {
        p++;
        if (UNLIKELY(p >= e || !ISDIGIT(*p))) {
            se->pos = p;
            se->msg = E_MINUS;
            return NULL;
        }
    }
    if (*p == '0') {
        p++;
        if (UNLIKELY(p < e && ISDIGIT(*p))) {
            se->pos = p - 1;
            se->msg = E_LEADZERO;
            return NULL;
        }
    } else {
        p += digit_run(p, e);
    }
    *isint = 1;
    if (p < e && *p == '.') {
        size_t k = digit_run(++p, e);
        if (UNLIKELY(!k)) {
            se->pos = p;
            se->msg = E_FRAC;
            return NULL;
        }
        p += k;
        *isint = 0;
    }
    if (p < e && (*p | 0x20) == 'e') {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        size_t k = digit_run(p, e);
        if (UNLIKELY(!k)) {
            se->pos = p;
            se->msg = E_EXP;
            return NULL;
        }
        p += k;
        *isint = 0;
    }
    return p;
}

static ALWAYS_INLINE int is_ws(unsigned char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static NOINLINE const char *skip_ws_slow(const char *p, const char *e) {
#ifdef __SSE2__
    /* indentation runs: 16 bytes at a time */
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r'), tb = _mm_set1_epi8('\t');
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, nl)),
                                  _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, tb)));
        unsigned other = ~(unsigned)_mm_movemask_epi8(ws) & 0xFFFFu;
        if (other) return p + __builtin_ctz(other);
        p += 16;
    }
#endif
    while (p < e && is_ws((unsigned char)*p)) p++;
    return p;
}

static ALWAYS_INLINE const char *skip_ws(const char *p, const char *e) {
    if (LIKELY(p < e && (unsigned char)*p > ' ')) return p;
    return skip_ws_slow(p, e);
}

/* Literal at p: 1 if s[0..len) matches (bounds checked). */
static ALWAYS_INLINE int lit(const char *p, const char *e, const char *w, size_t len) {
    return (size_t)(e - p) >= len && memcmp(p, w, len) == 0;
}

static ALWAYS_INLINE void put_utf8(char **op, unsigned long cp) {
    unsigned char *o = (unsigned char *)*op;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *op = (char *)o;
}

/* Decodes the validated string body [p, e) (between the quotes). Writes at
 * most cap bytes to dst and returns the full decoded length. */
static size_t decode_str(char *dst, size_t cap, const char *p, const char *e) {
    size_t len = 0;
    while (p < e) {
        const char *bs = memchr(p, '\\', (size_t)(e - p));
        const char *stop = bs ? bs : e;
        size_t run = (size_t)(stop - p);
        if (len < cap) memcpy(dst + len, p, run < cap - len ? run : cap - len);
        len += run;
        if (!bs) break;
        char tmp[4], *o = tmp;
        p = bs + 2;
        switch (bs[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(bs + 2);
            p = bs + 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(bs + 8);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p = bs + 12;
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = bs[1]; break; /* " \ / */
        }
        size_t k = (size_t)(o - tmp);
        for (size_t i = 0; i < k; i++, len++)
            if (len < cap) dst[len] = tmp[i];
    }
    return len;
}

/* Decodes the validated string body [p, e) into dst, which has room for
 * e - p bytes (decoding never grows a string). Returns the length. */
static size_t decode_into(char *dst, const char *p, const char *e) {
    char *o = dst;
    for (;;) {
        /* copy up to the next backslash, 8 bytes at a time */
        while (e - p >= 8) {
            uint64_t x = load64(p), b = x ^ (ONES * '\\');
            uint64_t t = (b - ONES) & ~b & HIGHS;
            memcpy(o, &x, 8); /* room: o trails p by the bytes saved */
            if (t) {
                size_t k = (size_t)__builtin_ctzll(t) >> 3;
                o += k;
                p += k;
                goto escape;
            }
            o += 8;
            p += 8;
        }
        while (p < e && *p != '\\') *o++ = *p++;
        if (p >= e) return (size_t)(o - dst);
    escape:
        switch (p[1]) {
        case 'b': *o++ = '\b'; p += 2; break;
        case 'f': *o++ = '\f'; p += 2; break;
        case 'n': *o++ = '\n'; p += 2; break;
        case 'r': *o++ = '\r'; p += 2; break;
        case 't': *o++ = '\t'; p += 2; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(p + 2);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(p + 2);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = p[1]; p += 2; break; /* " \ / */
        }
    }
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */
/* ------------------------------------------------------------------ */

static NOINLINE int grow_stack(zj_doc *d) {
    size_t nc = d->stk_cap ? d->stk_cap * 2 : STACK_MIN;
    size_t bytes;
    if (!z_mul_ok(nc, sizeof(zj_val), &bytes)) return ZIPPY_ENOMEM;
    zj_val *ns = z_realloc(d->stk, bytes);
    if (!ns) return ZIPPY_ENOMEM;
    d->stk = ns;
    d->stk_cap = nc;
    return ZIPPY_OK;
}

/* Stores the string with body (p, q) that has escapes (or is too long)
 * into v. Returns 0, or -1 with se->msg set (too long) or NULL (no memory). */
static NOINLINE int set_escaped(zj_doc *d, zj_val *v, const char *p,
                                const char *q, scan_err *se) {
    size_t len = (size_t)(q - p - 1);
    if (len > UINT32_MAX) {
        se->pos = p;
        se->msg = E_TOOLONG;
        return -1;
    }
    v->type = ZJ_STRING;
    v->flags = 0;
    char *dst = arena_alloc(d, len ? len : 1, 1);
    if (!dst) {
        se->msg = NULL;
        return -1;
    }
    size_t dl = decode_into(dst, p + 1, q);
    d->cur = dst + dl; /* give back what decoding did not use */
    v->len = (uint32_t)dl;
    v->u.str = dst;
    return 0;
}

/* Slow path for a string value or key at p (opening quote) that the window
 * fast path did not resolve: escapes, non-ASCII, long strings, window
 * refills. Stores it into v. Returns the closing quote, or NULL with
 * se->msg set (invalid) or NULL (out of memory). */
static NOINLINE const char *parse_str_slow(zj_doc *d, strwin *w, zj_val *v,
                                           const char *p, const char *e,
                                           scan_err *se) {
    int esc = 0;
    const char *q = scan_str_slow(w, p + 1, e, &esc, se);
    if (!q) return NULL;
    if (esc || (size_t)(q - p - 1) > UINT32_MAX) {
        if (set_escaped(d, v, p, q, se)) return NULL;
    } else {
        v->type = ZJ_STRING;
        v->flags = 0;
        v->len = (uint32_t)(q - p - 1);
        v->u.str = p + 1;
    }
    return q;
}

/* Quote cursor: walks the quote bits of the window in order. In valid JSON
 * the quotes come in pairs (open, close) except for escaped ones, which the
 * slow path handles; so the next string's quotes are found by clearing the
 * lowest bits (a 1-cycle dependency) instead of computing from the
 * parser's position. The parser only checks that the opening quote found
 * is where it is, and resyncs the cursor after every slow path. */
typedef struct qcur {
    uint64_t bits;   /* quote bits of word w not consumed yet */
    const char *wp;  /* base + 64 * w */
    size_t w;
} qcur;

/* The next quote, or NULL when the window has no more. */
static ALWAYS_INLINE const char *qnext(const strwin *w, qcur *c) {
    while (UNLIKELY(!c->bits)) {
        if (++c->w >= w->nw) return NULL;
        c->bits = w->q[c->w];
        c->wp += 64;
    }
    const char *r = c->wp + __builtin_ctzll(c->bits);
    c->bits &= c->bits - 1;
    return r;
}

/* Cursor at the first quote at or after x. */
static ALWAYS_INLINE void qsync(const strwin *w, qcur *c, const char *x) {
    size_t off = (size_t)((uintptr_t)x - (uintptr_t)w->base);
    if (off >= w->len) {
        c->w = w->nw;
        c->bits = 0;
        return;
    }
    c->w = off >> 6;
    c->wp = w->base + 64 * c->w;
    c->bits = w->q[c->w] & (~0ull << (off & 63));
}

/* Fast path for the string opening at p: its closing quote when the cursor
 * agrees, the string is in the window, shorter than 57 bytes and has no
 * special byte; NULL otherwise (then the caller takes the slow path and
 * resyncs the cursor). */
static ALWAYS_INLINE const char *scan_fast(const strwin *w, qcur *c, const char *p) {
    const char *o = qnext(w, c);
    if (UNLIKELY(o != p)) return NULL;
    size_t ow = c->w;
    const char *cl = qnext(w, c);
    if (UNLIKELY(!cl)) return NULL;
    /* common case: both quotes in a word without special bytes */
    if (LIKELY(c->w == ow && !w->s[ow])) return cl;
    size_t n = (size_t)(cl - o - 1);
    size_t off = (size_t)(o + 1 - w->base);
    if (UNLIKELY(n >= 57 || (win_bits(w->s, off) & ((1ull << n) - 1)))) return NULL;
    return cl;
}

/* Writes a whole value: one 8-byte store for type/flags/len (padding
 * included) and one for the pointer. */
static ALWAYS_INLINE void set_val(zj_val *v, unsigned type, unsigned flags,
                                  uint32_t len, const void *ptr) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    _Static_assert(offsetof(zj_val, flags) == 1 && offsetof(zj_val, len) == 4 &&
                       offsetof(zj_val, u) == 8, "zj_val layout");
    uint64_t h = (uint64_t)type | (uint64_t)flags << 8 | (uint64_t)len << 32;
    memcpy(v, &h, 8);
#else
    v->type = (uint8_t)type;
    v->flags = (uint8_t)flags;
    v->len = len;
#endif
    v->u.str = (const char *)ptr;
}

/* Copies n values (small n is the common case: an inline loop beats a call
 * to memcpy). */
static ALWAYS_INLINE void copy_vals(zj_val *dst, const zj_val *src, size_t n) {
#ifdef __SSE2__
    _Static_assert(sizeof(zj_val) == 16, "zj_val is 16 bytes");
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 1));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), a);
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 1), b);
    }
    if (i < n)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm_loadu_si128((const __m128i *)(const void *)(src + i)));
#else
    memcpy(dst, src, n * sizeof(zj_val));
#endif
}

static NOINLINE int grow_stack_at(zj_doc *d, zj_val **sp, zj_val **sp_end) {
    size_t idx = (size_t)(*sp - d->stk);
    if (grow_stack(d)) return ZIPPY_ENOMEM;
    *sp = d->stk + idx;
    *sp_end = d->stk + d->stk_cap;
    return ZIPPY_OK;
}

int zj_parse(zj_doc *d, const char *s, size_t n, zj_val **out, zj_error *err) {
    if (!s) {
        if (n) return z_err(ZIPPY_EINVAL, "zj_parse: NULL input");
        s = "";
    }
    const char *p = s, *const e = s + n;
    if (UNLIKELY(!d->stk) && grow_stack(d)) goto nomem;
    zj_val *sp = d->stk, *sp_end = d->stk + d->stk_cap; /* value stack */
    size_t fstart[ZJ_MAX_DEPTH];
    unsigned char fobj[ZJ_MAX_DEPTH];
    int depth = 0, inobj = 0;
    scan_err se;
    const char *q;
    strwin w;
    qcur qc = {0, NULL, 0};
    w.base = NULL;
    w.len = 0;
    w.nw = 0;
    w.s0 = s;

    /* The checks come in the order compact JSON needs them; whitespace is
     * handled where it is found. */
value:
    if (UNLIKELY(p >= e)) {
        se.pos = p;
        se.msg = E_VALUE;
        goto fail;
    }
    if (UNLIKELY(sp >= sp_end) && grow_stack_at(d, &sp, &sp_end)) goto nomem;
    if (LIKELY(*p == '"')) goto string;
    switch (*p) {
    case ' ': case '\t': case '\n': case '\r':
        p = skip_ws_slow(p, e);
        goto value;
    case '{':
    case '[':
        if (UNLIKELY(depth >= ZJ_MAX_DEPTH)) {
            se.pos = p;
            se.msg = E_DEPTH;
            goto fail;
        }
        {
            int obj = *p == '{';
            p = skip_ws(p + 1, e);
            if (p < e && *p == (obj ? '}' : ']')) { /* empty */
                p++;
                set_val(sp, obj ? ZJ_OBJECT : ZJ_ARRAY, 0, 0, NULL);
                sp++;
                goto after;
            }
            fstart[depth] = (size_t)(sp - d->stk);
            fobj[depth++] = (unsigned char)obj;
            inobj = obj;
            if (obj) goto key;
            goto value;
        }
    case 't':
        if (UNLIKELY(!lit(p, e, "true", 4))) goto badlit;
        set_val(sp, ZJ_TRUE, 0, 0, NULL);
        p += 4;
        goto scalar;
    case 'f':
        if (UNLIKELY(!lit(p, e, "false", 5))) goto badlit;
        set_val(sp, ZJ_FALSE, 0, 0, NULL);
        p += 5;
        goto scalar;
    case 'n':
        if (UNLIKELY(!lit(p, e, "null", 4))) goto badlit;
        set_val(sp, ZJ_NULL, 0, 0, NULL);
        p += 4;
    scalar:
        sp++;
        goto after;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9': {
        int isint;
        q = scan_num(p, e, &isint, &se);
        if (UNLIKELY(!q)) goto fail;
        if (UNLIKELY((size_t)(q - p) > UINT32_MAX)) {
            se.pos = p;
            se.msg = E_TOOLONG;
            goto fail;
        }
        set_val(sp, ZJ_NUMBER, isint ? ZJ_NUM_INT : 0, (uint32_t)(q - p), p);
        sp++;
        p = q;
        goto after;
    }
    default:
        se.pos = p;
        se.msg = E_VALUE;
        goto fail;
    }

badlit:
    se.pos = p;
    se.msg = E_LITERAL;
    goto fail;

key:
    /* p is after '{' (not at '}') or after ',' */
    if (UNLIKELY(p >= e || *p != '"')) {
        p = skip_ws(p, e);
        if (p >= e || *p != '"') {
            se.pos = p;
            se.msg = E_KEY;
            goto fail;
        }
    }
    if (UNLIKELY(sp >= sp_end) && grow_stack_at(d, &sp, &sp_end)) goto nomem;
    q = scan_fast(&w, &qc, p);
    if (LIKELY(q != NULL)) {
        set_val(sp, ZJ_STRING, 0, (uint32_t)(q - p - 1), p + 1);
    } else {
        q = parse_str_slow(d, &w, sp, p, e, &se);
        if (UNLIKELY(!q)) goto strfail;
        qsync(&w, &qc, q + 1);
    }
    sp++;
    p = q + 1;
    if (LIKELY(p < e && *p == ':')) {
        p++;
        goto value;
    }
    p = skip_ws(p, e);
    if (UNLIKELY(p >= e || *p != ':')) {
        se.pos = p;
        se.msg = E_COLON;
        goto fail;
    }
    p++;
    goto value;

string:
    q = scan_fast(&w, &qc, p);
    if (LIKELY(q != NULL)) {
        set_val(sp, ZJ_STRING, 0, (uint32_t)(q - p - 1), p + 1);
    } else {
        q = parse_str_slow(d, &w, sp, p, e, &se);
        if (UNLIKELY(!q)) goto strfail;
        qsync(&w, &qc, q + 1);
    }
    sp++;
    p = q + 1;

after:
    if (UNLIKELY(depth == 0)) goto done;
    if (LIKELY(p < e)) {
        unsigned char c = (unsigned char)*p;
        if (c == ',') {
            p++;
            if (inobj) goto key;
            goto value;
        }
        if (c == (inobj ? '}' : ']')) {
            /* close: move the children into the arena */
            zj_val *st = d->stk + fstart[--depth];
            size_t cnt = (size_t)(sp - st);
            if (UNLIKELY(cnt > UINT32_MAX)) {
                se.pos = p;
                se.msg = E_TOOLONG;
                goto fail;
            }
            zj_val *arr = arena_alloc(d, cnt * sizeof(zj_val), 8);
            if (UNLIKELY(!arr)) goto nomem;
            copy_vals(arr, st, cnt);
            set_val(st, inobj ? ZJ_OBJECT : ZJ_ARRAY, 0,
                    (uint32_t)(inobj ? cnt / 2 : cnt), arr);
            sp = st + 1;
            p++;
            inobj = depth ? fobj[depth - 1] : 0;
            goto after;
        }
        if (is_ws(c)) {
            p = skip_ws_slow(p, e);
            goto after;
        }
    }
    se.pos = p;
    se.msg = inobj ? E_OBJ_NEXT : E_ARR_NEXT;
    goto fail;

done:
    if (p != e) p = skip_ws_slow(p, e);
    if (UNLIKELY(p != e)) {
        se.pos = p;
        se.msg = E_TRAIL;
        goto fail;
    }
    {
        zj_val *root = arena_alloc(d, sizeof(zj_val), 8);
        if (!root) goto nomem;
        *root = d->stk[0];
        *out = root;
    }
    return ZIPPY_OK;

strfail:
    if (!se.msg) goto nomem;
fail:
    return fail(s, n, se.pos, se.msg, err);
nomem:
    if (err) {
        err->offset = (size_t)(p - s);
        err->line = err->col = 0;
        snprintf(err->msg, sizeof err->msg, "out of memory");
    }
    return z_err_nomem();
}

/* ------------------------------------------------------------------ */
/* Access                                                              */
/* ------------------------------------------------------------------ */

const zj_val *zj_get(const zj_val *obj, const char *key, size_t keylen) {
    if (!obj || obj->type != ZJ_OBJECT) return NULL;
    const zj_val *m = obj->u.members;
    for (uint32_t i = 0; i < obj->len; i++) {
        const zj_val *k = &m[2 * i];
        if (k->len == keylen && (keylen == 0 || memcmp(k->u.str, key, keylen) == 0))
            return &m[2 * i + 1];
    }
    return NULL;
}

int zj_num_i64(const zj_val *v, int64_t *out) {
    if (!v || v->type != ZJ_NUMBER || v->len == 0) return 0;
    const char *p = v->u.str, *e = p + v->len;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= e) return 0;
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < e; p++) {
        if (!ISDIGIT(*p)) return 0;
        unsigned dgt = (unsigned)(*p - '0');
        if (acc > (lim - dgt) / 10) return 0;
        acc = acc * 10 + dgt;
    }
    if (out) {
        if (neg)
            *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        else
            *out = (int64_t)acc;
    }
    return 1;
}

double zj_num_double(const zj_val *v) {
    if (!v || v->type != ZJ_NUMBER || v->len == 0) return NAN;
    char sbuf[128], *buf = sbuf;
    size_t n = v->len;
    if (n >= sizeof sbuf) {
        buf = z_malloc(n + 1);
        if (!buf) return NAN;
    }
    memcpy(buf, v->u.str, n);
    buf[n] = 0;
    /* strtod follows LC_NUMERIC: use its decimal point */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
        char *dot = memchr(buf, '.', n);
        if (dot) *dot = dp[0];
    }
    double r = strtod(buf, NULL);
    if (buf != sbuf) z_free(buf);
    return r;
}

/* Decomposition of a number text: value = (neg ? -1 : 1) * 0.D * 10^(k+exp)
 * where D is the digit string [ds, de) (a '.' inside is skipped) with no
 * leading or trailing zeros; zero when D is empty. */
typedef struct numparts {
    int neg, zero;
    const char *ds, *de;
    int64_t k;
    int eneg;
    const char *es; /* exponent digits, leading zeros stripped */
    size_t elen;
} numparts;

static void num_split(const zj_val *v, numparts *np) {
    const char *p = v->u.str, *e = p + v->len;
    memset(np, 0, sizeof *np);
    np->es = e; /* no exponent: empty digit string */
    if (p < e && *p == '-') {
        np->neg = 1;
        p++;
    }
    const char *is = p;
    while (p < e && ISDIGIT(*p)) p++;
    const char *ie = p, *fs = p, *fe = p;
    if (p < e && *p == '.') {
        fs = ++p;
        while (p < e && ISDIGIT(*p)) p++;
        fe = p;
    }
    if (p < e && (*p | 0x20) == 'e') {
        p++;
        if (p < e && (*p == '+' || *p == '-')) np->eneg = *p++ == '-';
        while (p < e && *p == '0') p++;
        np->es = p;
        while (p < e && ISDIGIT(*p)) p++;
        np->elen = (size_t)(p - np->es);
    }
    /* first significant digit */
    const char *q = is;
    while (q < ie && *q == '0') q++;
    if (q < ie) {
        np->ds = q;
        np->k = (int64_t)(ie - q);
    } else {
        q = fs;
        while (q < fe && *q == '0') q++;
        if (q == fe) {
            np->zero = 1;
            return;
        }
        np->ds = q;
        np->k = -(int64_t)(q - fs);
    }
    /* last significant digit */
    const char *r = fe > fs ? fe : ie;
    for (;;) {
        const char *c = r - 1;
        if (*c == '.') {
            r = c;
            continue;
        }
        if (*c != '0') break;
        r = c;
    }
    np->de = r;
}

static int sgn64(int64_t x) { return (x > 0) - (x < 0); }

static int dec_cmp(const char *a, size_t an, const char *b, size_t bn) {
    if (an != bn) return an < bn ? -1 : 1;
    int c = an ? memcmp(a, b, an) : 0;
    return (c > 0) - (c < 0);
}

/* 1 if decimal a == b + 1 (no leading zeros; empty means 0). */
static int dec_succ(const char *a, size_t an, const char *b, size_t bn) {
    if (bn == 0) return an == 1 && a[0] == '1';
    size_t i = bn;
    while (i > 0 && b[i - 1] == '9') i--;
    if (i == 0) {
        if (an != bn + 1 || a[0] != '1') return 0;
        for (size_t j = 1; j < an; j++)
            if (a[j] != '0') return 0;
        return 1;
    }
    i--; /* b[i] is the digit that increments */
    if (an != bn || memcmp(a, b, i) != 0 || a[i] != b[i] + 1) return 0;
    for (size_t j = i + 1; j < an; j++)
        if (a[j] != '0') return 0;
    return 1;
}

#define LO_DIGITS 15
#define LO_SCALE 1000000000000000ll /* 10^15 */

static int64_t dec_lo(const char *s, size_t n) {
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

/* Compares the decimal exponents k+exp of two non-zero numbers exactly. */
static int exp_cmp(const numparts *a, const numparts *b) {
    size_t ahn = a->elen > LO_DIGITS ? a->elen - LO_DIGITS : 0;
    size_t bhn = b->elen > LO_DIGITS ? b->elen - LO_DIGITS : 0;
    int64_t alo = dec_lo(a->es + ahn, a->elen - ahn);
    int64_t blo = dec_lo(b->es + bhn, b->elen - bhn);
    int as = a->elen && a->eneg ? -1 : 1, bs = b->elen && b->eneg ? -1 : 1;
    int64_t D = b->k - a->k; /* want sign(expA - expB - D) */
    if (ahn == 0 && bhn == 0) return sgn64(as * alo - bs * blo - D);
    /* at least one |exp| >= 10^15, far beyond |D| */
    if (as != bs) return as;
    int64_t M; /* |expA| - |expB| when small enough */
    if (dec_cmp(a->es, ahn, b->es, bhn) == 0)
        M = alo - blo;
    else if (dec_succ(a->es, ahn, b->es, bhn))
        M = LO_SCALE + alo - blo;
    else if (dec_succ(b->es, bhn, a->es, ahn))
        M = -(LO_SCALE + blo - alo);
    else
        return as * dec_cmp(a->es, ahn, b->es, bhn);
    return sgn64(as * M - D);
}

static int digits_cmp(const numparts *a, const numparts *b) {
    const char *p = a->ds, *q = b->ds;
    for (;;) {
        if (p < a->de && *p == '.') p++;
        if (q < b->de && *q == '.') q++;
        int pe = p >= a->de, qe = q >= b->de;
        if (pe || qe) return pe && qe ? 0 : pe ? -1 : 1;
        if (*p != *q) return *p < *q ? -1 : 1;
        p++;
        q++;
    }
}

int zj_num_cmp(const zj_val *a, const zj_val *b) {
    if (a->type != ZJ_NUMBER || b->type != ZJ_NUMBER)
        return (a->type > b->type) - (a->type < b->type);
    numparts x, y;
    num_split(a, &x);
    num_split(b, &y);
    if (x.zero || y.zero) {
        if (x.zero && y.zero) return 0;
        if (x.zero) return y.neg ? 1 : -1;
        return x.neg ? -1 : 1;
    }
    if (x.neg != y.neg) return x.neg ? -1 : 1;
    int c = exp_cmp(&x, &y);
    if (!c) c = digits_cmp(&x, &y);
    return x.neg ? -c : c;
}

static int equal_rec(const zj_val *a, const zj_val *b, int depth) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case ZJ_NULL: case ZJ_TRUE: case ZJ_FALSE:
        return 1;
    case ZJ_NUMBER:
        return zj_num_cmp(a, b) == 0;
    case ZJ_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->u.str, b->u.str, a->len) == 0);
    case ZJ_ARRAY:
    case ZJ_OBJECT: {
        if (a->len != b->len) return 0;
        if (depth >= ZJ_MAX_DEPTH) return 0;
        size_t n = a->type == ZJ_OBJECT ? 2 * (size_t)a->len : a->len;
        for (size_t i = 0; i < n; i++)
            if (!equal_rec(&a->u.items[i], &b->u.items[i], depth + 1)) return 0;
        return 1;
    }
    }
    return 0;
}

int zj_equal(const zj_val *a, const zj_val *b) {
    if (a == b) return 1;
    if (!a || !b) return 0;
    return equal_rec(a, b, 0);
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

/* First byte in [p, e) that must be escaped: '"', '\\' or < 0x20. */
static ALWAYS_INLINE const char *find_escape(const char *p, const char *e) {
#ifdef __SSE2__
    const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
    const __m128i v1f = _mm_set1_epi8(0x1f);
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vb)),
            _mm_cmpeq_epi8(_mm_min_epu8(x, v1f), x)); /* x <= 0x1f */
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (e - p >= 8) {
        uint64_t x = load64(p);
        uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
        uint64_t t = (((q - ONES) & ~q) | ((b - ONES) & ~b) |
                      ((x - ONES * 0x20) & ~x)) & HIGHS;
        if (t) return p + (__builtin_ctzll(t) >> 3);
        p += 8;
    }
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20) break;
        p++;
    }
    return p;
}

int zj_write_string(zippy_buf *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t need;
    if (!z_add_ok(n, 2, &need)) return z_err(ZIPPY_ETOOBIG, "string too large");
    int rc = zb_reserve(out, need);
    if (rc) return rc;
    out->ptr[out->len++] = '"';
    const char *p = s, *e = s + n;
    while (p < e) {
        const char *q = find_escape(p, e);
        if (q > p) {
            /* room for the run and the closing quote was reserved above or
             * by the escape branch below */
            memcpy(out->ptr + out->len, p, (size_t)(q - p));
            out->len += (size_t)(q - p);
        }
        if (q >= e) break;
        unsigned char c = (unsigned char)*q;
        char esc[6];
        size_t k = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        /* the escaped byte was counted once; keep the rest + quote fitting */
        rc = zb_reserve(out, (size_t)(e - q) - 1 + k + 1);
        if (rc) return rc;
        memcpy(out->ptr + out->len, esc, k);
        out->len += k;
        p = q + 1;
    }
    out->ptr[out->len++] = '"';
    out->ptr[out->len] = 0;
    return ZIPPY_OK;
}

static int put_indent(zippy_buf *b, int indent, int level) {
    size_t n = (size_t)indent * (size_t)level;
    int rc = zb_reserve(b, n + 1);
    if (rc) return rc;
    b->ptr[b->len++] = '\n';
    memset(b->ptr + b->len, ' ', n);
    b->len += n;
    b->ptr[b->len] = 0;
    return ZIPPY_OK;
}

static int write_rec(zippy_buf *b, const zj_val *v, int indent, int level) {
    int rc;
    switch (v->type) {
    case ZJ_NULL: return zb_append(b, "null", 4);
    case ZJ_TRUE: return zb_append(b, "true", 4);
    case ZJ_FALSE: return zb_append(b, "false", 5);
    case ZJ_NUMBER: return zb_append(b, v->u.str, v->len);
    case ZJ_STRING: return zj_write_string(b, v->u.str, v->len);
    case ZJ_ARRAY:
    case ZJ_OBJECT: {
        int obj = v->type == ZJ_OBJECT;
        if (level >= ZJ_MAX_DEPTH)
            return z_err(ZIPPY_EINVAL, "zj_write: nesting deeper than %d",
                         ZJ_MAX_DEPTH);
        if ((rc = zb_putc(b, obj ? '{' : '['))) return rc;
        for (uint32_t i = 0; i < v->len; i++) {
            if (i && (rc = zb_putc(b, ','))) return rc;
            if (indent > 0 && (rc = put_indent(b, indent, level + 1))) return rc;
            const zj_val *item = obj ? &v->u.members[2 * i] : &v->u.items[i];
            if (obj) {
                if ((rc = zj_write_string(b, item->u.str, item->len))) return rc;
                if ((rc = indent > 0 ? zb_append(b, ": ", 2) : zb_putc(b, ':')))
                    return rc;
                item++;
            }
            if ((rc = write_rec(b, item, indent, level + 1))) return rc;
        }
        if (indent > 0 && v->len && (rc = put_indent(b, indent, level))) return rc;
        return zb_putc(b, obj ? '}' : ']');
    }
    }
    return z_err(ZIPPY_EINVAL, "zj_write: bad value type %d", v->type);
}

int zj_write(zippy_buf *out, const zj_val *v, int indent) {
    if (!v) return z_err(ZIPPY_EINVAL, "zj_write: NULL value");
    int rc = zb_reserve(out, 0); /* make sure ptr exists (NUL kept) */
    if (rc) return rc;
    return write_rec(out, v, indent < 0 ? 0 : indent, 0);
}

/* ------------------------------------------------------------------ */
/* Validating minifier                                                 */
/* ------------------------------------------------------------------ */

enum { KEY_OTHER = 0, KEY_ID = 1, KEY_DELETED = 2 };

/* Classifies a top-level key given its raw body [p, q) with escapes. */
static NOINLINE int classify_escaped_key(const char *p, const char *q) {
    char buf[9];
    size_t dl = decode_str(buf, sizeof buf, p, q);
    if (dl == 3 && memcmp(buf, "_id", 3) == 0) return KEY_ID;
    if (dl == 8 && memcmp(buf, "$deleted", 8) == 0) return KEY_DELETED;
    return KEY_OTHER;
}

/* The core shared by zj_minify_object (emit/obj_only) and zj_validate.
 * With emit, *o points into a buffer with room for n bytes; the compact
 * output is written there and *o advanced. Bytes are copied in runs: `run`
 * is the start of input not yet copied; a run is flushed only where bytes
 * are dropped (whitespace, a stripped "_id" member). */
static ALWAYS_INLINE int min_core(const char *s, size_t n, unsigned flags,
                                  char **op, zj_min_info *info, zj_error *err,
                                  const int emit, const int obj_only) {
    const char *p = s, *const e = s + n, *run = s, *q;
    char *o = emit ? *op : NULL, *omark = NULL;
    unsigned char fobj[ZJ_MAX_DEPTH];
    int depth = 0, inobj = 0, esc;
    int strip_pending = 0, drop_comma = 0;
    uint32_t members = 0;
    scan_err se;
    strwin w;
    qcur qc = {0, NULL, 0};
    w.base = NULL;
    w.len = 0;
    w.nw = 0;
    w.s0 = s;
    const int strip = obj_only && (flags & ZJ_MIN_STRIP_ID);

#define FLUSH_TO(ptr)                                                          \
    do {                                                                       \
        if (emit) {                                                            \
            size_t l_ = (size_t)((ptr) - run);                                 \
            memcpy(o, run, l_);                                                \
            o += l_;                                                           \
        }                                                                      \
    } while (0)
#define SKIP_WS()                                                              \
    do {                                                                       \
        if (UNLIKELY(p < e && (unsigned char)*p <= ' ')) {                     \
            FLUSH_TO(p);                                                       \
            p = skip_ws_slow(p, e);                                            \
            run = p;                                                           \
        }                                                                      \
    } while (0)

    if (obj_only) {
        SKIP_WS();
        if (p >= e || *p != '{') {
            se.pos = p;
            se.msg = p >= e ? E_VALUE : E_NOTOBJ;
            goto fail;
        }
    }

value:
    if (UNLIKELY(p >= e)) {
        se.pos = p;
        se.msg = E_VALUE;
        goto fail;
    }
    if (LIKELY(*p == '"')) {
        q = scan_fast(&w, &qc, p);
        if (UNLIKELY(!q)) {
            esc = 0;
            q = scan_str_slow(&w, p + 1, e, &esc, &se);
            if (UNLIKELY(!q)) goto fail;
            qsync(&w, &qc, q + 1);
        }
        p = q + 1;
        goto after;
    }
    switch (*p) {
    case ' ': case '\t': case '\n': case '\r':
        FLUSH_TO(p);
        p = skip_ws_slow(p, e);
        run = p;
        goto value;
    case '{':
    case '[':
        if (UNLIKELY(depth >= ZJ_MAX_DEPTH)) {
            se.pos = p;
            se.msg = E_DEPTH;
            goto fail;
        }
        {
            int obj = *p == '{';
            p++;
            SKIP_WS();
            if (p < e && *p == (obj ? '}' : ']')) {
                p++;
                goto after;
            }
            fobj[depth++] = (unsigned char)obj;
            inobj = obj;
            if (obj) goto key;
            goto value;
        }
    case 't':
        if (UNLIKELY(!lit(p, e, "true", 4))) goto badlit;
        p += 4;
        goto after;
    case 'f':
        if (UNLIKELY(!lit(p, e, "false", 5))) goto badlit;
        p += 5;
        goto after;
    case 'n':
        if (UNLIKELY(!lit(p, e, "null", 4))) goto badlit;
        p += 4;
        goto after;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9': {
        int isint;
        q = scan_num(p, e, &isint, &se);
        if (UNLIKELY(!q)) goto fail;
        p = q;
        goto after;
    }
    default:
        se.pos = p;
        se.msg = E_VALUE;
        goto fail;
    }

badlit:
    se.pos = p;
    se.msg = E_LITERAL;
    goto fail;

key:
    /* p is after '{' (not at '}') or after ',' */
    if (UNLIKELY(p >= e || *p != '"')) {
        SKIP_WS();
        if (p >= e || *p != '"') {
            se.pos = p;
            se.msg = E_KEY;
            goto fail;
        }
    }
    {
        const char *k0 = p;
        esc = 0;
        q = scan_fast(&w, &qc, p);
        if (UNLIKELY(!q)) {
            q = scan_str_slow(&w, p + 1, e, &esc, &se);
            if (UNLIKELY(!q)) goto fail;
            qsync(&w, &qc, q + 1);
        }
        p = q + 1;
        if (obj_only && depth == 1) {
            int kind = KEY_OTHER;
            size_t kl = (size_t)(q - k0 - 1);
            if (UNLIKELY(esc))
                kind = classify_escaped_key(k0 + 1, q);
            else if (kl == 3 && memcmp(k0 + 1, "_id", 3) == 0)
                kind = KEY_ID;
            else if (kl == 8 && memcmp(k0 + 1, "$deleted", 8) == 0)
                kind = KEY_DELETED;
            if (LIKELY(kind == KEY_OTHER)) {
                members++;
            } else if (kind == KEY_DELETED) {
                if (info) info->has_reserved = 1;
                members++;
            } else {
                /* "_id": record the first one's value if it is a string */
                if (info) info->id_keys++;
                if (info && !info->has_id) {
                    info->has_id = 1;
                    const char *vp = skip_ws(p, e);
                    if (vp < e && *vp == ':') {
                        vp = skip_ws(vp + 1, e);
                        if (vp < e && *vp == '"') {
                            int vesc = 0;
                            scan_err se2;
                            const char *vq = scan_str(&w, vp + 1, e, &vesc, &se2);
                            if (vq) {
                                info->id_is_string = 1;
                                info->id_len = decode_str(info->id, ZIPPY_ID_MAX,
                                                          vp + 1, vq);
                                info->id[info->id_len < ZIPPY_ID_MAX
                                             ? info->id_len : ZIPPY_ID_MAX] = 0;
                            }
                            qsync(&w, &qc, p); /* the window may have moved */
                        }
                    }
                }
                if (strip) {
                    FLUSH_TO(k0);
                    run = k0;
                    omark = o;
                    strip_pending = 1;
                } else {
                    members++;
                }
            }
        }
    }
    if (LIKELY(p < e && *p == ':')) {
        p++;
        goto value;
    }
    SKIP_WS();
    if (UNLIKELY(p >= e || *p != ':')) {
        se.pos = p;
        se.msg = E_COLON;
        goto fail;
    }
    p++;
    goto value;

after:
    if (UNLIKELY(depth <= 1)) {
        if (depth == 0) goto done;
        if (UNLIKELY(strip_pending)) {
            /* drop the member [k0, p) and one comma next to it */
            strip_pending = 0;
            run = p;
            if (emit) {
                o = omark;
                if (o[-1] == ',')
                    o--;
                else
                    drop_comma = 1;
            } else {
                drop_comma = 1;
            }
        }
    }
    if (LIKELY(p < e)) {
        unsigned char c = (unsigned char)*p;
        if (c == ',') {
            if (UNLIKELY(drop_comma) && depth == 1) {
                drop_comma = 0;
                FLUSH_TO(p);
                run = p + 1;
            }
            p++;
            if (inobj) goto key;
            goto value;
        }
        if (c == (inobj ? '}' : ']')) {
            p++;
            depth--;
            inobj = depth ? fobj[depth - 1] : 0;
            if (depth == 0) drop_comma = 0;
            goto after;
        }
        if (is_ws(c)) {
            FLUSH_TO(p);
            p = skip_ws_slow(p, e);
            run = p;
            goto after;
        }
    }
    se.pos = p;
    se.msg = inobj ? E_OBJ_NEXT : E_ARR_NEXT;
    goto fail;

done:
    FLUSH_TO(p);
    run = p;
    if (p != e) p = skip_ws_slow(p, e);
    if (UNLIKELY(p != e)) {
        se.pos = p;
        se.msg = E_TRAIL;
        goto fail;
    }
    if (emit) *op = o;
    if (obj_only && info) info->members = members;
    return ZIPPY_OK;

fail:
    return fail(s, n, se.pos, se.msg, err);
#undef FLUSH_TO
#undef SKIP_WS
}

static NOINLINE int min_emit(const char *s, size_t n, unsigned flags, char **op,
                             zj_min_info *info, zj_error *err) {
    return min_core(s, n, flags, op, info, err, 1, 1);
}

static NOINLINE int min_check(const char *s, size_t n, unsigned flags,
                              zj_min_info *info, zj_error *err) {
    return min_core(s, n, flags, NULL, info, err, 0, 1);
}

static void info_clear(zj_min_info *info) {
    /* not the whole id[] buffer: this runs on every put */
    info->has_id = info->id_is_string = info->has_reserved = 0;
    info->id_keys = 0;
    info->id[0] = 0;
    info->id_len = 0;
    info->members = 0;
}

int zj_minify_object(const char *s, size_t n, unsigned flags, zippy_buf *out,
                     zj_min_info *info, zj_error *err) {
    if (info) info_clear(info);
    if (!s) {
        if (n) return z_err(ZIPPY_EINVAL, "zj_minify_object: NULL input");
        s = "";
    }
    if (!out) return min_check(s, n, flags, info, err);
    int rc = zb_reserve(out, n);
    if (rc) return rc;
    char *o = out->ptr + out->len;
    rc = min_emit(s, n, flags, &o, info, err);
    if (rc == ZIPPY_OK) out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    if (rc && info) info_clear(info);
    return rc;
}

static NOINLINE int validate_any(const char *s, size_t n, zj_error *err) {
    return min_core(s, n, 0, NULL, NULL, err, 0, 0);
}

int zj_validate(const char *s, size_t n, zj_error *err) {
    if (!s) {
        if (n) return z_err(ZIPPY_EINVAL, "zj_validate: NULL input");
        s = "";
    }
    return validate_any(s, n, err);
}

/* ------------------------------------------------------------------ */
/* Line id fast path                                                   */
/* ------------------------------------------------------------------ */

int zj_line_id(const char *line, size_t n, const char **id, size_t *idlen,
               size_t *rest) {
    static const char pre[] = "{\"_id\":\"";
    const size_t pl = sizeof pre - 1;
    if (!line || n <= pl || memcmp(line, pre, pl) != 0) return 0;
    const char *p = line + pl, *e = line + n;
    const char *q = p;
    for (;;) {
        q = find_special(q, e);
        if (q >= e) return 0;
        if (*q == '"') break;
        if (*q == '\\') return 0;
        q++; /* control or non-ASCII byte: not validated here */
    }
    size_t r = (size_t)(q + 1 - line);
    if (r >= n || (line[r] != ',' && line[r] != '}')) return 0;
    if (id) *id = p;
    if (idlen) *idlen = (size_t)(q - p);
    if (rest) *rest = r;
    return 1;
}
