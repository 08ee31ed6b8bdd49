/* files.h - pieces of the file-per-document layout (docs/<file>.json) that
 * do not depend on the engine's state: id <-> file name encoding, the text
 * of a document file, an id map, and the meta/files.state journal. The
 * engine (engine.c, "Files layout") drives them; docs/FORMAT.md section 2a
 * specifies the files. Internal.
 */
#ifndef ZIPPY_FILES_H
#define ZIPPY_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "os.h"
#include "zippy.h"

#define ZF_NAME_MAX 255    /* bytes of a file name (NAME_MAX) */
#define ZF_PREFIX_MAX 200  /* encoded id bytes kept in a hashed name */

/* ---- names ---- */

/* The file name of id (with ".json") into out, NUL-terminated; returns its
 * length. ':' and ';' are written %3A and %3B; a name that would exceed
 * ZF_NAME_MAX bytes becomes <prefix>~<16 hex of z_hash64(id)>.json and
 * *hashed is set (such a file carries "_id" as its first member). */
size_t zf_name_of(const char *id, size_t idlen, char out[ZF_NAME_MAX + 1], int *hashed);

enum {
    ZF_NAME_ID = 0,     /* a document; id decoded into id[] */
    ZF_NAME_HASHED = 1, /* a document with a hashed name: its "_id" names it */
    ZF_NAME_TEMP = 2,   /* ".<name>.json.tmp": an interrupted write of ours */
    ZF_NAME_HIDDEN = 3, /* any other name starting with '.': not ours, ignored */
    ZF_NAME_BAD = 4     /* not the name of a valid id (message set) */
};
/* Classifies a docs/ entry name and decodes its id (ZF_NAME_ID). A name is
 * accepted only in its canonical form (zf_name_of of its id). */
int zf_name_parse(const char *name, char id[ZIPPY_ID_MAX + 1], size_t *idlen);

/* ---- document files ---- */

/* The file text of a canonical cache line {"_id":...,...}: the document
 * pretty-printed with 2-space indentation and a final newline, without its
 * "_id" member unless with_id. doc is a scratch parse arena. */
int zf_doc_text(const char *line, size_t len, int with_id, zj_doc *doc, zippy_buf *out);

/* 1 if the two JSON texts hold equal values once re-serialised compactly
 * (string escapes normalised, numbers by their text), 0 if not, <0 error. */
int zf_same_json(const char *a, size_t alen, const char *b, size_t blen);

/* ---- id maps ---- */

/* File fingerprint: what changes when a file is replaced or edited. */
typedef struct zf_fp {
    uint64_t size, ino;
    int64_t mtime_ns, ctime_ns;
} zf_fp;

typedef struct zf_ent {
    char *id;        /* NUL-terminated (z_malloc) */
    uint16_t idlen;
    uint8_t dead;    /* removed (kept for the map's probing) */
    uint8_t racy;    /* recorded in the same tick as its mtime: re-check */
    uint32_t aux;    /* caller's use */
    zf_fp fp;
} zf_ent;

typedef struct zf_map {
    uint32_t *slots; /* entry index + 1, 0 = empty */
    size_t cap;      /* slots, a power of two */
    zf_ent *v;       /* entries in insertion order */
    size_t n, vcap, live;
} zf_map;

/* Entry of id or NULL. */
zf_ent *zf_map_find(const zf_map *m, const char *id, size_t idlen);
/* Finds or adds id; *out is its entry (revived if it was dead). */
int zf_map_put(zf_map *m, const char *id, size_t idlen, zf_ent **out);
void zf_map_del(zf_map *m, zf_ent *x);
void zf_map_clear(zf_map *m);

/* ---- meta/files.state ---- */

/* A journal of fingerprints (FORMAT.md 2a.3):
 *   zippy files state 1
 *   <size> <mtime_ns> <ctime_ns> <ino> <id>      a document file
 *   - <id>                                        a removed one
 *   = <cache bytes> <cache inode> <order hash> <written ns>   commit
 * The map as of a commit line describes docs/ when cache.jsonl is exactly
 * that commit's size and inode. */
#define ZF_STATE_MAGIC "zippy files state 1\n"
#define ZF_RACY_NS 2000000000ll /* files changed this close to a commit are re-read */

/* Parses text; fills m (cleared first) as of the last commit matching
 * (cache_size, cache_ino) and returns 1 (*order_hash set, *match_end the
 * offset just past that commit line), or 0 if none matches. ZIPPY_ENOMEM
 * only. */
int zf_state_parse(const char *text, size_t len, uint64_t cache_size, uint64_t cache_ino, zf_map *m,
                   uint64_t *order_hash, size_t *match_end);
/* Appends one entry line / a removal line / a commit line to out. */
int zf_state_entry(zippy_buf *out, const zf_ent *x);
int zf_state_removed(zippy_buf *out, const char *id, size_t idlen);
int zf_state_commit(zippy_buf *out, uint64_t cache_size, uint64_t cache_ino, uint64_t order_hash, int64_t now_ns);

/* Hash of the content of meta/order.ids (0 for a missing file). */
uint64_t zf_order_hash(const char *text, size_t len);

#endif
