/* json.h - libzippy's JSON: a strict RFC 8259 parser into an arena DOM that
 * keeps key order and exact number text, a compact/pretty writer, and a
 * one-pass validating minifier used on the write path. Internal.
 *
 * Limits: nesting deeper than ZJ_MAX_DEPTH is rejected; input must be valid
 * UTF-8 (overlongs, surrogates and code points past U+10FFFF rejected);
 * \u escapes must form valid scalar values (paired surrogates). Duplicate
 * keys are accepted (RFC 8259 allows them) and kept in order.
 */
#ifndef ZIPPY_JSON_H
#define ZIPPY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "zippy.h"

#define ZJ_MAX_DEPTH 256

typedef enum zj_type {
    ZJ_NULL = 0,
    ZJ_FALSE,
    ZJ_TRUE,
    ZJ_NUMBER,
    ZJ_STRING,
    ZJ_ARRAY,
    ZJ_OBJECT
} zj_type;

#define ZJ_NUM_INT 0x1u /* number text has no fraction and no exponent */

typedef struct zj_val zj_val;
struct zj_val {
    uint8_t type;  /* zj_type */
    uint8_t flags; /* ZJ_NUM_INT for integers */
    uint32_t len;  /* string: decoded bytes; number: text bytes;
                      array: items; object: members */
    union {
        const char *str;  /* string: decoded UTF-8 (not NUL-terminated; may
                             point into the input when it had no escapes);
                             number: the exact number text in the input */
        zj_val *items;    /* array: items[len] */
        zj_val *members;  /* object: members[2*i] = key (ZJ_STRING),
                             members[2*i+1] = value, in document order */
    } u;
};

/* Error detail of a failed parse. */
typedef struct zj_error {
    size_t offset;      /* byte offset of the problem in the input */
    unsigned line, col; /* 1-based */
    char msg[96];       /* e.g. "expected ':' after object key" */
} zj_error;

/* A document: owns the arena that values live in. Reuse one doc across
 * many parses (zj_doc_reset keeps the memory) for fast scans. */
typedef struct zj_doc zj_doc;
zj_doc *zj_doc_new(void);
void zj_doc_reset(zj_doc *d); /* frees all values, keeps the arena */
void zj_doc_free(zj_doc *d);
size_t zj_doc_bytes(const zj_doc *d); /* memory held by the arena */
/* Allocates from the doc's arena (for building values by hand). */
void *zj_doc_alloc(zj_doc *d, size_t n);

/* Parses exactly one JSON value (surrounding whitespace allowed) from
 * s[0..n). Values may point into s, which must outlive their use.
 * Returns ZIPPY_OK and *out, ZIPPY_EINVAL with *err filled (err may be
 * NULL), ZIPPY_ENOMEM. */
int zj_parse(zj_doc *d, const char *s, size_t n, zj_val **out, zj_error *err);

/* Object member lookup by key (first match), NULL if absent or v is not an
 * object. */
const zj_val *zj_get(const zj_val *obj, const char *key, size_t keylen);

/* Numbers. zj_num_i64 returns 1 and *out if the text is an integer that
 * fits int64, else 0. zj_num_double converts (strtod semantics). */
int zj_num_i64(const zj_val *v, int64_t *out);
double zj_num_double(const zj_val *v);
/* Exact comparison of two number values by their decimal text (big
 * integers and long fractions included): -1, 0, 1. */
int zj_num_cmp(const zj_val *a, const zj_val *b);

/* Deep equality (objects: same members in the same order). */
int zj_equal(const zj_val *a, const zj_val *b);

/* Serialisation. indent 0 = compact; >0 pretty with that many spaces.
 * Strings are re-escaped minimally (", \, control characters); numbers are
 * written as their exact text. Appends to out. */
int zj_write(zippy_buf *out, const zj_val *v, int indent);
/* Writes s as a JSON string literal (quotes included). */
int zj_write_string(zippy_buf *out, const char *s, size_t n);

/* ---- Write-path minifier ---- */

#define ZJ_MIN_STRIP_ID 0x1u /* leave the top-level "_id" member out */

typedef struct zj_min_info {
    int has_id;                /* top-level "_id" present */
    int id_is_string;          /* ... and its value is a string */
    char id[ZIPPY_ID_MAX + 1]; /* decoded id (NUL-terminated) if it fits */
    size_t id_len;             /* decoded length (may exceed ZIPPY_ID_MAX:
                                  then id[] holds only a prefix) */
    int has_reserved;          /* top-level key "$deleted" present */
    uint32_t id_keys;          /* top-level "_id" members seen (> 1: ambiguous) */
    uint32_t members;          /* top-level members written to out */
} zj_min_info;

/* Validates s[0..n) as exactly one JSON *object* (RFC 8259, depth limit,
 * UTF-8) and appends its compact form (insignificant whitespace removed,
 * every other byte kept, string escapes kept as written) to out. With out
 * NULL only validates. Fills *info (may be NULL). ZIPPY_EINVAL with *err
 * when invalid or not an object. Must run at well over 1 GB/s on compact
 * input: this is on every put. */
int zj_minify_object(const char *s, size_t n, unsigned flags, zippy_buf *out,
                     zj_min_info *info, zj_error *err);

/* Validates s[0..n) as one JSON value of any type (no output). */
int zj_validate(const char *s, size_t n, zj_error *err);

/* Fast path for lines written by zippy: if line starts with {"_id":"...",
 * (compact, no escapes in the id), sets *id and *idlen (pointing into line) and
 * *rest to the offset just after the id member's value (at ',' or '}'),
 * and returns 1; else 0. Does not validate the rest. */
int zj_line_id(const char *line, size_t n, const char **id, size_t *idlen,
               size_t *rest);

#endif
