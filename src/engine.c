/* engine.c - the JSONL collection engine: log, overlay, recovery, reads,
 * writes, scans and maintenance.
 *
 * State of a collection = meta/data.jsonl (the truth) + meta/index.bin (a
 * hash table covering the first `covered` bytes of the log, mmapped: the
 * "base") + an in-memory overlay of every change after `covered`. Opening
 * maps the index and indexes only the tail past `covered` (catch-up), so
 * it costs O(tail), not O(documents). A checkpoint folds the overlay into
 * a new index file (crash-safe replace).
 *
 * Locking: one rwlock per engine; readers share it, writers take it
 * exclusively. fdatasync runs outside it (group commit, sync_mu).
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wctype.h>

#include "json.h"
#include "os.h"
#include "query.h"
#include "schema.h"
#include "util.h"
#include "zipread.h"

#define WBUF_CAP (1u << 20)
#define SCAN_PREFETCH_BYTES 4096 /* how far ahead a scan prefetches index slots */
#define TOMB_SUFFIX ",\"$deleted\":true}"
#define TOMB_SUFFIX_LEN (sizeof TOMB_SUFFIX - 1)
#define MANIFEST_MAX (1u << 20)

/* The files layout (end of this file). */
static int files_flush_locked(zengine *e, int force);
static int files_load(zengine *e, int writable, zippy_progress_fn prog, void *pctx);
static int files_refresh_locked(zengine *e);
static int files_verify_docs(zengine *e, zippy_verify_report *r, char *first, size_t cap);
static int files_commit(zengine *e, int force_checkpoint);
static int files_sync(zengine *e, int rebuild, zippy_progress_fn prog, void *pctx);
static int files_write_order(zengine *e);

struct zippy_coll {
    zengine *e;
    int writable;
    int closed;
    zippy_progress_fn progress; /* for compact, reindex, verify */
    void *progress_ctx;
};

/* ------------------------------------------------------------------ */
/* Ids and names                                                       */
/* ------------------------------------------------------------------ */

static pthread_once_t g_loc_once = PTHREAD_ONCE_INIT;
static locale_t g_utf8_loc;
static wctype_t g_combining;
static void loc_init(void) {
    g_utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (g_utf8_loc) g_combining = wctype_l("combining", g_utf8_loc);
}

/* Combining marks (vowel signs, viramas, accents) belong to the letters of
 * many scripts (Devanagari "हिन्दी", decomposed Latin): allowed after a
 * letter or digit, never first. */
static int id_mark_ok(uint32_t cp) {
    if (cp < 0x300) return 0;
    pthread_once(&g_loc_once, loc_init);
    if (g_utf8_loc && g_combining) return iswctype_l((wint_t)cp, g_combining, g_utf8_loc) != 0;
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x0900 && cp <= 0x0903) || (cp >= 0x093A && cp <= 0x094F) ||
           (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F);
}

/* Decodes one UTF-8 scalar value strictly; returns its length or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* ASCII bytes allowed in ids: letters, digits, _ - . @ : + = */
static const unsigned char g_id_ascii[128] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['_'] = 1, ['-'] = 1, ['.'] = 1, ['@'] = 1, [':'] = 1, ['+'] = 1, ['='] = 1,
};

static int id_char_ok(uint32_t cp) {
    if (cp < 0x80) return g_id_ascii[cp];
    pthread_once(&g_loc_once, loc_init);
    if (g_utf8_loc) return iswalnum_l((wint_t)cp, g_utf8_loc) != 0;
    /* Without a UTF-8 locale: the letter and digit blocks of the major
     * scripts (no symbols, punctuation or emoji), so that no id accepted
     * here is refused where the locale exists. */
    static const uint32_t blocks[][2] = {
        {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377},
        {0x037B, 0x037D}, {0x0386, 0x0386}, {0x0388, 0x03FF}, {0x0400, 0x0481}, {0x048A, 0x052F},
        {0x0531, 0x0556}, {0x0561, 0x0587}, {0x05D0, 0x05EA}, {0x0620, 0x064A}, {0x0660, 0x0669},
        {0x0904, 0x0939}, {0x0966, 0x096F}, {0x0E01, 0x0E30}, {0x0E50, 0x0E59}, {0x10A0, 0x10FF},
        {0x1100, 0x11FF}, {0x1E00, 0x1FBC}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x3400, 0x4DBF},
        {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xFF10, 0xFF19}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
        {0x20000, 0x2FA1F},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (cp >= blocks[i][0] && cp <= blocks[i][1]) return 1;
    return 0;
}

int zippy_id_valid(const char *id, size_t idlen) {
    if (!id || idlen == 0)
        return z_err(ZIPPY_EINVAL, "invalid id \"\": ids must be 1 to %d bytes", ZIPPY_ID_MAX);
    if (idlen > ZIPPY_ID_MAX)
        return z_err(ZIPPY_EINVAL, "invalid id \"%.40s...\": %zu bytes, ids are at most %d bytes",
                     id, idlen, ZIPPY_ID_MAX);
    if (id[0] == '.')
        return z_err(ZIPPY_EINVAL, "invalid id \"%.*s\": ids must not start with '.'", (int)idlen, id);
    const unsigned char *s = (const unsigned char *)id;
    /* Fast path: plain ASCII ids. */
    size_t i0 = 0;
    while (i0 < idlen && s[i0] < 0x80 && g_id_ascii[s[i0]] && !(s[i0] == '.' && i0 + 1 < idlen && s[i0 + 1] == '.'))
        i0++;
    if (i0 == idlen) return ZIPPY_OK;
    for (size_t i = 0; i < idlen;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, idlen - i, &cp);
        if (!k)
            return z_err(ZIPPY_EINVAL, "invalid id \"%.*s\": not valid UTF-8 at byte %zu",
                         (int)idlen, id, i);
        if (!id_char_ok(cp) && !(i > 0 && id_mark_ok(cp)))
            return z_err(ZIPPY_EINVAL,
                         "invalid id \"%.*s\": character at byte %zu is not allowed "
                         "(letters, digits and _ - . @ : + = only)", (int)idlen, id, i);
        if (cp == '.' && i + 1 < idlen && s[i + 1] == '.')
            return z_err(ZIPPY_EINVAL, "invalid id \"%.*s\": ids must not contain \"..\"", (int)idlen, id);
        i += k;
    }
    return ZIPPY_OK;
}

int zippy_coll_name_valid(const char *name) {
    if (ze_name_valid(name)) return ZIPPY_OK;
    return z_err(ZIPPY_EINVAL, "invalid collection name \"%s\": use 1-64 of A-Z a-z 0-9 _ - . (not starting with "
                 "'.', no \"..\")", name ? name : "");
}

int ze_name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return strstr(name, "..") == NULL;
}

/* ------------------------------------------------------------------ */
/* Overlay map                                                         */
/* ------------------------------------------------------------------ */

static const char *ov_id(const ov_map *m, const ov_entry *x) { return m->ids + x->id_off; }

#define OV_TAG(h) ((uint32_t)((h) >> 32))

/* Slot of id, or of the empty slot where it would go (*found says). */
static uint64_t ov_find_slot(const ov_map *m, uint64_t h, const char *id, size_t idlen, int *found) {
    uint64_t mask = m->cap - 1;
    uint32_t tag = OV_TAG(h);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
        const ov_slot *sl = &m->s[i];
        if (!sl->ent1) { *found = 0; return i; }
        if (sl->tag == tag) {
            const ov_entry *x = &m->v[sl->ent1 - 1];
            if (x->hash == h && x->idlen == idlen && !memcmp(ov_id(m, x), id, idlen)) { *found = 1; return i; }
        }
    }
}

static ov_entry *ov_find(const ov_map *m, uint64_t h, const char *id, size_t idlen) {
    if (!m->n) return NULL;
    int found;
    uint64_t i = ov_find_slot(m, h, id, idlen, &found);
    return found ? &m->v[m->s[i].ent1 - 1] : NULL;
}

static int ov_grow(ov_map *m) {
    uint64_t ncap = m->cap ? m->cap * 2 : 1024;
    if (ncap > (1ull << 32)) return z_err(ZIPPY_ETOOBIG, "too many changed ids before a checkpoint");
    ov_slot *ns = z_calloc((size_t)ncap, sizeof *ns);
    if (!ns) return z_err_nomem();
    /* Rehash from the dense entry array: sequential reads. */
    for (uint64_t k = 0; k < m->n; k++) {
        uint64_t h = m->v[k].hash, j = h & (ncap - 1);
        while (ns[j].ent1) j = (j + 1) & (ncap - 1);
        ns[j].tag = OV_TAG(h);
        ns[j].ent1 = (uint32_t)(k + 1);
    }
    z_free(m->s);
    m->s = ns;
    m->cap = ncap;
    return ZIPPY_OK;
}

/* Finds or appends the entry for id; *isnew tells which, *slot where. */
static int ov_upsert(ov_map *m, uint64_t h, const char *id, size_t idlen, ov_entry **out, int *isnew,
                     uint64_t *slot) {
    int rc, found = 0;
    uint64_t i = 0;
    if (m->cap) {
        i = ov_find_slot(m, h, id, idlen, &found);
        if (found) { *out = &m->v[m->s[i].ent1 - 1]; *isnew = 0; *slot = i; return ZIPPY_OK; }
    }
    if ((m->n + 1) * 2 > m->cap) {
        if ((rc = ov_grow(m))) return rc;
        i = ov_find_slot(m, h, id, idlen, &found);
    }
    if (m->n == m->vcap) {
        uint64_t nv = m->vcap ? m->vcap * 2 : 512;
        ov_entry *v = z_realloc(m->v, (size_t)nv * sizeof *v);
        if (!v) return z_err_nomem();
        m->v = v;
        m->vcap = nv;
    }
    if (m->ids_len + idlen + 1 > m->ids_cap) {
        size_t ncap = m->ids_cap ? m->ids_cap * 2 : 16384;
        while (ncap < m->ids_len + idlen + 1) ncap *= 2;
        if (ncap > UINT32_MAX) return z_err(ZIPPY_ETOOBIG, "too many changed ids before a checkpoint");
        char *ni = z_realloc(m->ids, ncap);
        if (!ni) return z_err_nomem();
        m->ids = ni;
        m->ids_cap = ncap;
    }
    ov_entry *x = &m->v[m->n];
    memset(x, 0, sizeof *x);
    x->hash = h;
    x->id_off = (uint32_t)m->ids_len;
    x->idlen = (uint16_t)idlen;
    x->base_slot = OV_NONE;
    memcpy(m->ids + m->ids_len, id, idlen);
    m->ids[m->ids_len + idlen] = 0;
    m->ids_len += idlen + 1;
    m->s[i].tag = OV_TAG(h);
    m->s[i].ent1 = (uint32_t)++m->n;
    *out = x;
    *isnew = 1;
    *slot = i;
    return ZIPPY_OK;
}

/* Undoes the latest insert (the entry at slot, appended last). */
static void ov_remove_last(ov_map *m, uint64_t slot) {
    uint64_t mask = m->cap - 1, i = slot, j = i;
    m->n--;
    m->ids_len = m->v[m->n].id_off;
    for (;;) {
        m->s[i].ent1 = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->s[j].ent1) return;
            uint64_t home = m->v[m->s[j].ent1 - 1].hash & mask;
            /* move j back to i unless its home lies cyclically in (i, j] */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
        }
        m->s[i] = m->s[j];
        i = j;
    }
}

static void ov_clear(ov_map *m) {
    z_free(m->s);
    z_free(m->v);
    z_free(m->ids);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ */
/* Log access                                                          */
/* ------------------------------------------------------------------ */

static uint64_t log_end(const zengine *e) { return e->data_size + e->wlen; }

/* Pointer to log bytes [off, off+len) or NULL if out of range. */
static const char *log_at(const zengine *e, uint64_t off, uint64_t len) {
    if (off + len < off || off + len > log_end(e)) return NULL;
    if (off >= e->data_size) return e->wbuf + (off - e->data_size);
    if (off + len > e->data_size) return NULL; /* never straddles */
    return e->map + off;
}

/* The complete line at pos (ending before end): its bytes and length, or
 * NULL when no newline ends it in time. Lines never straddle the file and
 * the append buffer: the buffer is written out whole. */
static const char *log_line(const zengine *e, uint64_t pos, uint64_t end, size_t *len) {
    uint64_t lim = pos < e->data_size && e->data_size < end ? e->data_size : end;
    if (pos >= lim) return NULL;
    const char *p = log_at(e, pos, lim - pos);
    const char *nl = p ? memchr(p, '\n', (size_t)(lim - pos)) : NULL;
    if (!nl) return NULL;
    *len = (size_t)(nl - p);
    return p;
}

/* (Re)maps data.jsonl so that [0, data_size) is readable. */
/* Makes [0, size) of data.jsonl readable through e->map. The new mapping
 * is made before the old one goes, so a failure leaves reads working. */
static int remap_to(zengine *e, uint64_t size, int force) {
    if (e->zar) return ZIPPY_OK; /* external bytes: fixed */
    if (!force && e->map && size <= e->map_cap) return ZIPPY_OK;
    void *p = NULL;
    size_t cap = 0;
    if (size > 0) {
        /* Reserve room to grow so appends rarely remap. Pages past EOF are
         * never touched. */
        cap = (size_t)size;
        if (e->writable) cap += cap / 2 + (64u << 20);
        int rc = zos_mmap(e->data_fd, cap, &p);
        if (rc) return z_err_os(rc, "collection %s: cannot map %s", e->name, e->data_path);
    }
    if (e->map) zos_munmap(e->map, e->map_cap);
    e->map = p;
    e->map_cap = cap;
    return ZIPPY_OK;
}

static int remap(zengine *e, int force) { return remap_to(e, e->data_size, force); }

/* Writes the append buffer to the file. On failure the buffer is kept, so
 * nothing is lost and every line stays readable. */
static int write_out(zengine *e) {
    if (!e->wlen) return ZIPPY_OK;
    /* On failure the buffer is kept and the next attempt rewrites the same
     * range. The file is not cut back: a reader in another process may have
     * mapped what did get written (cutting would turn its reads into
     * SIGBUS); a partial tail left by a crash is cut by the next writer. */
    int rc = zos_pwrite_all(e->data_fd, e->wbuf, e->wlen, e->data_size);
    if (rc)
        return z_err_os(rc, "collection %s: cannot write %s at byte offset %llu", e->name,
                        e->data_path, (unsigned long long)e->data_size);
    if ((rc = remap_to(e, e->data_size + e->wlen, 0))) return rc;
    /* Overlap the disk with the caller: the flush's fdatasync then finds
     * most of the log already on its way. */
    if (e->sync_mode != ZIPPY_SYNC_NONE) zos_writeback_start(e->data_fd, e->data_size, e->wlen);
    e->data_size += e->wlen;
    e->wlen = 0;
    return ZIPPY_OK;
}

static int append_line(zengine *e, const char *line, size_t n, uint64_t *off) {
    int rc;
    *off = 0;
    /* Files layout: the cache file grows only at a flush, right before the
     * commit in files.state that matches it (readers then see a cache that
     * matches a commit), so lines stay buffered until then; a read-only
     * handle keeps the changes it found in docs/ here, in memory only. A
     * writer's rebuild (no files.state yet) may write out early. */
    int keep = e->layout == ZIPPY_LAYOUT_FILES && !(e->writable && e->rebuilding);
    if (e->wlen + n > e->wcap && !keep && (rc = write_out(e))) return rc;
    if (e->wlen + n > e->wcap) {
        size_t ncap = e->wcap ? e->wcap : WBUF_CAP;
        while (ncap < e->wlen + n) ncap *= 2;
        char *nb = z_realloc(e->wbuf, ncap);
        if (!nb) return z_err_nomem();
        e->wbuf = nb;
        e->wcap = ncap;
    }
    *off = log_end(e);
    memcpy(e->wbuf + e->wlen, line, n);
    e->wlen += n;
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Lines and lookups                                                   */
/* ------------------------------------------------------------------ */

typedef struct loc {
    uint64_t off;
    uint32_t len, crc;
    uint64_t base_slot;
    int verified; /* the line's checksum was already checked */
} loc;

/* Id of a log line. Fast path for zippy's own lines; legacy lines are
 * parsed (doc must then be non-NULL). *tomb set for delete markers. */
static int line_id(const zengine *e, const char *line, size_t len, zj_doc *doc,
                   const char **id, size_t *idlen, int *tomb) {
    size_t rest;
    if (zj_line_id(line, len, id, idlen, &rest)) {
        *tomb = len - rest == TOMB_SUFFIX_LEN && !memcmp(line + rest, TOMB_SUFFIX, TOMB_SUFFIX_LEN);
        return ZIPPY_OK;
    }
    *tomb = 0;
    if (!e->legacy || !doc) return ZIPPY_ECORRUPT;
    zj_val *v;
    zj_doc_reset(doc);
    int rc = zj_parse(doc, line, len, &v, NULL);
    if (rc == ZIPPY_ENOMEM) return z_err_nomem();
    if (rc || v->type != ZJ_OBJECT) return ZIPPY_ECORRUPT;
    const zj_val *idv = zj_get(v, "_id", 3);
    if (!idv || idv->type != ZJ_STRING) return ZIPPY_ECORRUPT;
    *id = idv->u.str;
    *idlen = idv->len;
    return ZIPPY_OK;
}

/* Looks id up in the base index. 1 found (*l), 0 not, <0 error. With
 * verify, candidate lines must match their checksum. */
static int base_find(const zengine *e, uint64_t h, const char *id, size_t idlen, int verify, loc *l) {
    if (!e->base) return 0;
    zi_probe p;
    zi_entry ent;
    uint64_t slot;
    int rc;
    zi_probe_init(e->base, h, &p);
    while ((rc = zi_probe_next(e->base, &p, &ent, &slot)) == 1) {
        const char *line = log_at(e, ent.off, ent.len);
        if (!line)
            return z_err(ZIPPY_ECORRUPT, "collection %s: index entry %llu points past the end of %s",
                         e->name, (unsigned long long)slot, e->data_path);
        if (verify && z_checksum32(line, ent.len) != ent.crc)
            return z_err(ZIPPY_ECORRUPT,
                         "collection %s: document \"%.*s\": line at byte offset %llu of %s fails its checksum",
                         e->name, (int)idlen, id, (unsigned long long)ent.off, e->data_path);
        const char *lid;
        size_t lidlen, rest;
        if (zj_line_id(line, ent.len, &lid, &lidlen, &rest) && lidlen == idlen && !memcmp(lid, id, idlen)) {
            l->off = ent.off;
            l->len = ent.len;
            l->crc = ent.crc;
            l->base_slot = slot;
            l->verified = verify;
            return 1;
        }
    }
    if (rc < 0) z_err_prefix("collection %s", e->name);
    return rc;
}

/* Current location of id: 1 live, 0 absent/deleted, <0 error. */
static int lookup(const zengine *e, uint64_t h, const char *id, size_t idlen, int verify, loc *l) {
    ov_entry *x = ov_find(&e->ov, h, id, idlen);
    if (x) {
        if (x->deleted) return 0;
        l->off = x->off;
        l->len = x->len;
        l->crc = x->crc;
        l->base_slot = x->base_slot;
        l->verified = 0;
        return 1;
    }
    return base_find(e, h, id, idlen, verify, l);
}

/* Is the line at off (with this id) the live version of id? */
static int line_is_live(const zengine *e, uint64_t h, const char *id, size_t idlen, uint64_t off, loc *l) {
    ov_entry *x = ov_find(&e->ov, h, id, idlen);
    if (x) {
        if (x->deleted || x->off != off) return 0;
        l->off = x->off; l->len = x->len; l->crc = x->crc; l->base_slot = x->base_slot;
        return 1;
    }
    if (!e->base) return 0;
    zi_probe p;
    zi_entry ent;
    uint64_t slot;
    int rc;
    zi_probe_init(e->base, h, &p);
    while ((rc = zi_probe_next(e->base, &p, &ent, &slot)) == 1) {
        if (ent.off == off) {
            l->off = ent.off; l->len = ent.len; l->crc = ent.crc; l->base_slot = slot;
            return 1;
        }
    }
    if (rc < 0) z_err_prefix("collection %s", e->name);
    return rc;
}

/* ---- lines superseded under open scans ---- */

static int sup_add(zengine *e, uint64_t off, uint32_t len, uint32_t crc, uint64_t seq) {
    if ((e->sup_n + 1) * 2 > e->sup_cap) {
        uint64_t ncap = e->sup_cap ? e->sup_cap * 2 : 256;
        sup_rec *nv = z_calloc((size_t)ncap, sizeof *nv);
        if (!nv) return z_err_nomem();
        for (uint64_t i = 0; i < e->sup_cap; i++) {
            if (!e->sup[i].key) continue;
            uint64_t j = z_hash64(&e->sup[i].key, 8) & (ncap - 1);
            while (nv[j].key) j = (j + 1) & (ncap - 1);
            nv[j] = e->sup[i];
        }
        z_free(e->sup);
        e->sup = nv;
        e->sup_cap = ncap;
    }
    uint64_t key = off + 1, mask = e->sup_cap - 1, j = z_hash64(&key, 8) & mask;
    while (e->sup[j].key && e->sup[j].key != key) j = (j + 1) & mask;
    if (!e->sup[j].key) e->sup_n++;
    e->sup[j].key = key;
    e->sup[j].seq = seq;
    e->sup[j].len = len;
    e->sup[j].crc = crc;
    return ZIPPY_OK;
}

static const sup_rec *sup_find(const zengine *e, uint64_t off) {
    if (!e->sup_n) return NULL;
    uint64_t key = off + 1, mask = e->sup_cap - 1, j = z_hash64(&key, 8) & mask;
    for (; e->sup[j].key; j = (j + 1) & mask)
        if (e->sup[j].key == key) return &e->sup[j];
    return NULL;
}

static void sup_clear(zengine *e) {
    z_free(e->sup);
    e->sup = NULL;
    e->sup_cap = e->sup_n = 0;
}

/* Records a write of id at (off,len,crc) or a delete; keeps count. */
static int note_write(zengine *e, uint64_t h, const char *id, size_t idlen, int del,
                      uint64_t off, uint32_t len, uint32_t crc) {
    ov_entry *x = NULL;
    int isnew = 0, rc, was_live;
    loc old = {0};
    uint64_t slot = 0;
    if ((rc = ov_upsert(&e->ov, h, id, idlen, &x, &isnew, &slot))) return rc;
    if (isnew) {
        rc = base_find(e, h, id, idlen, 0, &old);
        if (rc < 0) {
            ov_remove_last(&e->ov, slot);
            return rc;
        }
        x->base_slot = rc == 1 ? old.base_slot : OV_NONE;
        was_live = rc == 1;
    } else {
        was_live = !x->deleted;
        old.off = x->off;
        old.len = x->len;
        old.crc = x->crc;
    }
    if (was_live && e->active_scans && (rc = sup_add(e, old.off, old.len, old.crc, e->wseq + 1))) {
        if (isnew) ov_remove_last(&e->ov, slot);
        return rc;
    }
    e->wseq++;
    x->deleted = (uint8_t)del;
    x->off = off;
    x->len = len;
    x->crc = crc;
    if (del && was_live) e->count--;
    if (!del && !was_live) e->count++;
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Manifest                                                            */
/* ------------------------------------------------------------------ */

/* Reads a whole meta file as zos_read_file does (negative errno), from
 * the archive when the collection lives in one. */
static int ze_read_file(const zengine *e, const char *path, char **out, size_t *len, size_t max) {
    return e->zar ? zr_read_file(e->zar, path, out, len, max) : zos_read_file(path, out, len, max);
}

static int manifest_write(zengine *e) {
    char now[32];
    z_utc_now(now, sizeof now);
    if (!e->created[0]) memcpy(e->created, now, sizeof now);
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc = zb_printf(&b,
                       "{\n  \"format\": \"zippy\",\n  \"format_version\": %d,\n  \"layout\": \"%s\",\n"
                       "  \"strict\": %s,\n  \"created\": \"%s\",\n  \"modified\": \"%s\",\n"
                       "  \"count\": %llu\n}\n",
                       ZIPPY_FORMAT_VERSION, ze_layout_name(e->layout), e->strict ? "true" : "false", e->created, now,
                       (unsigned long long)e->count);
    if (!rc) {
        int r = zos_replace_file(e->manifest_path, b.ptr, b.len);
        if (r) rc = z_err_os(r, "collection %s: cannot write %s", e->name, e->manifest_path);
    }
    if (!rc) e->manifest_layout = e->layout;
    zippy_buf_free(&b);
    return rc;
}

const char *ze_layout_name(int layout) { return layout == ZIPPY_LAYOUT_FILES ? "files" : "jsonl"; }

/* Reads meta/manifest.json. *ours = 1 if written by zippy (then
 * e->manifest_layout is the layout it records). Missing: 0. */
static int manifest_read(zengine *e, int *ours) {
    char *txt = NULL;
    size_t n = 0;
    *ours = 0;
    e->manifest_layout = 0;
    int r = ze_read_file(e, e->manifest_path, &txt, &n, MANIFEST_MAX);
    if (r == -ENOENT) return ZIPPY_OK;
    if (r) return z_err_os(r, "collection %s: cannot read %s", e->name, e->manifest_path);
    zj_doc *d = zj_doc_new();
    zj_val *v;
    int rc = ZIPPY_OK;
    if (!d) { rc = z_err_nomem(); goto cleanup; }
    if (zj_parse(d, txt, n, &v, NULL) || v->type != ZJ_OBJECT) goto cleanup; /* foreign: legacy */
    const zj_val *f = zj_get(v, "format", 6);
    if (!f || f->type != ZJ_STRING || f->len != 5 || memcmp(f->u.str, "zippy", 5)) goto cleanup;
    *ours = 1;
    const zj_val *fv = zj_get(v, "format_version", 14);
    int64_t ver = 0;
    if (fv && zj_num_i64(fv, &ver) && ver > ZIPPY_FORMAT_VERSION) {
        rc = z_err(ZIPPY_EUNSUPPORTED, "collection %s: format version %lld is newer than this library's %d",
                   e->name, (long long)ver, ZIPPY_FORMAT_VERSION);
        goto cleanup;
    }
    const zj_val *lay = zj_get(v, "layout", 6);
    e->manifest_layout = ZIPPY_LAYOUT_JSONL;
    if (lay && lay->type == ZJ_STRING && lay->len == 5 && !memcmp(lay->u.str, "files", 5))
        e->manifest_layout = ZIPPY_LAYOUT_FILES;
    else if (lay && lay->type == ZJ_STRING && !(lay->len == 5 && !memcmp(lay->u.str, "jsonl", 5))) {
        rc = z_err(ZIPPY_EUNSUPPORTED, "collection %s: layout \"%.*s\" is not supported by this version",
                   e->name, (int)lay->len, lay->u.str);
        goto cleanup;
    }
    const zj_val *cr = zj_get(v, "created", 7);
    if (cr && cr->type == ZJ_STRING && cr->len < sizeof e->created) {
        memcpy(e->created, cr->u.str, cr->len);
        e->created[cr->len] = 0;
    }
cleanup:
    zj_doc_free(d);
    z_free(txt);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Strict schema (meta/schema.json)                                     */
/* ------------------------------------------------------------------ */

#define SCHEMA_FILE_MAX (1u << 20)

/* Reads meta/schema.json: present means strict. Its "schema" is null until
 * the first document. */
static int schema_read(zengine *e) {
    char *txt = NULL;
    size_t n = 0;
    zj_doc *d = NULL;
    zj_val *v;
    zippy_buf canon = ZIPPY_BUF_INIT;
    int rc = ZIPPY_OK;
    z_free(e->schema);
    e->schema = NULL;
    e->schema_len = 0;
    e->strict = 0;
    int r = ze_read_file(e, e->schema_path, &txt, &n, SCHEMA_FILE_MAX);
    if (r == -ENOENT) return ZIPPY_OK;
    if (r) return z_err_os(r, "collection %s: cannot read %s", e->name, e->schema_path);
    if (!(d = zj_doc_new())) { rc = z_err_nomem(); goto cleanup; }
    const zj_val *sv;
    if (zj_parse(d, txt, n, &v, NULL) || v->type != ZJ_OBJECT || !(sv = zj_get(v, "schema", 6)) ||
        (sv->type != ZJ_NULL && (rc = zs_canon(sv, &canon)))) {
        if (rc == ZIPPY_ENOMEM) goto cleanup;
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s is not a valid schema file", e->name, e->schema_path);
        goto cleanup;
    }
    e->strict = 1;
    if (sv->type != ZJ_NULL) {
        e->schema = canon.ptr;
        e->schema_len = canon.len;
        canon.ptr = NULL;
    }
cleanup:
    zippy_buf_free(&canon);
    zj_doc_free(d);
    z_free(txt);
    return rc;
}

/* Writes meta/schema.json crash-safely (schema NULL: none yet). */
static int schema_write(zengine *e, const char *schema, size_t len) {
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc = zb_printf(&b, "{\"strict\": true, \"schema\": %.*s}\n", schema ? (int)len : 4, schema ? schema : "null");
    if (!rc) {
        int r = zos_replace_file(e->schema_path, b.ptr, b.len);
        if (r) rc = z_err_os(r, "collection %s: cannot write %s", e->name, e->schema_path);
    }
    zippy_buf_free(&b);
    return rc;
}

/* Schema text of a log line into e->stxt (caller holds rw for writing). */
static int line_schema(zengine *e, const char *line, size_t len) {
    zj_val *v;
    int rc;
    if (!e->sdoc && !(e->sdoc = zj_doc_new())) return z_err_nomem();
    zj_doc_reset(e->sdoc);
    if ((rc = zj_parse(e->sdoc, line, len, &v, NULL)))
        return rc == ZIPPY_ENOMEM ? z_err_nomem() : z_err(ZIPPY_EINVAL, "collection %s: unparsable line", e->name);
    zb_clear(&e->stxt);
    return zs_of(v, 1, &e->stxt);
}

/* Strict check of a line about to be written for id (rw held for
 * writing). The first document of a strict collection fixes its schema,
 * made durable before the document is written. */
static int schema_check(zengine *e, const char *id, size_t idlen, const char *line, size_t len) {
    int rc;
    if ((rc = line_schema(e, line, len))) return rc;
    if (!e->schema) {
        char *copy = z_malloc(e->stxt.len + 1);
        if (!copy) return z_err_nomem();
        memcpy(copy, e->stxt.ptr, e->stxt.len + 1);
        /* A read-only handle (files layout: a hand-edited document applied
         * in memory) keeps the schema in memory only. */
        if (e->writable && (rc = schema_write(e, copy, e->stxt.len))) {
            z_free(copy);
            return rc;
        }
        e->schema = copy;
        e->schema_len = e->stxt.len;
        return ZIPPY_OK;
    }
    if (e->stxt.len == e->schema_len && !memcmp(e->stxt.ptr, e->schema, e->schema_len)) return ZIPPY_OK;
    zippy_buf msg = ZIPPY_BUF_INIT;
    rc = zs_diff(e->schema, e->schema_len, e->stxt.ptr, e->stxt.len, &msg);
    if (rc == ZIPPY_ENOMEM) rc = z_err_nomem();
    else
        rc = z_err(ZIPPY_ESCHEMA, "Schema mismatch: document \"%.*s\" does not fit the schema of collection %s: %s"
                                  " (schema %.*s%s; document %.*s%s)",
                   (int)idlen, id, e->name, msg.ptr ? msg.ptr : "?", e->schema_len > 300 ? 300 : (int)e->schema_len,
                   e->schema, e->schema_len > 300 ? "..." : "", e->stxt.len > 300 ? 300 : (int)e->stxt.len,
                   e->stxt.ptr, e->stxt.len > 300 ? "..." : "");
    zippy_buf_free(&msg);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Loading, recovery, checkpoints                                       */
/* ------------------------------------------------------------------ */

/* Checks one complete line (without '\n') at off; notes it in the overlay
 * when note != 0. Returns ZIPPY_OK, or ZIPPY_ECORRUPT if it is not a
 * valid line (message set). */
static int take_line(zengine *e, zj_doc *doc, const char *line, size_t len, uint64_t off, int note) {
    const char *id;
    size_t idlen;
    int tomb, rc = ZIPPY_ECORRUPT;
    /* Only a line that is really invalid may be called so: an allocation
     * failure must never make a writer cut the log. */
    /* The id is checked structurally only (1-255 bytes; the JSON validator
     * checks UTF-8): never cut a line because of a character-class rule
     * that another libc or locale might answer differently. */
    if (len > ZIPPY_DOC_MAX + 512 || (rc = line_id(e, line, len, doc, &id, &idlen, &tomb)) ||
        (rc = idlen == 0 || idlen > ZIPPY_ID_MAX ? ZIPPY_ECORRUPT : ZIPPY_OK) || (rc = zj_validate(line, len, NULL))) {
        if (rc == ZIPPY_ENOMEM) return z_err_nomem();
        return z_err(ZIPPY_ECORRUPT, "collection %s: invalid line at byte offset %llu of %s", e->name,
                     (unsigned long long)off, e->data_path);
    }
    if (!note) return ZIPPY_OK;
    return note_write(e, zi_hash(id, idlen), id, idlen, tomb, off, (uint32_t)len,
                      tomb ? 0 : z_checksum32(line, len));
}

/* Indexes the lines of the file in [from, data_size) into the overlay.
 * A torn tail (a last line without newline, or invalid lines with no valid
 * line after them) ends the good part: *good_end. An invalid line followed
 * by valid ones is corruption. */
static int catch_up(zengine *e, uint64_t from, uint64_t *good_end, zippy_progress_fn prog, void *pctx) {
    zj_doc *doc = zj_doc_new();
    if (!doc) return z_err_nomem();
    int rc = ZIPPY_OK;
    uint64_t pos = from, end = e->data_size, next_report = pos + (8u << 20);
    while (pos < end) {
        const char *p = e->map + pos;
        const char *nl = memchr(p, '\n', (size_t)(end - pos));
        if (!nl) break; /* torn last line */
        size_t len = (size_t)(nl - p);
        rc = take_line(e, doc, p, len, pos, 1);
        if (rc == ZIPPY_ECORRUPT && zj_validate(p, len, NULL) == ZIPPY_OK) {
            /* A torn write cannot leave complete JSON and a newline: this
             * line was written whole, so it is damage, not a tail to cut. */
            z_err(ZIPPY_ECORRUPT, "collection %s: the line at byte offset %llu of %s is JSON but not a document "
                  "(no string \"_id\" of 1-%d bytes)", e->name, (unsigned long long)pos, e->data_path, ZIPPY_ID_MAX);
            goto cleanup;
        }
        if (rc == ZIPPY_ECORRUPT) {
            /* Torn tail or corruption? Look for any valid line after. */
            uint64_t q = pos + len + 1;
            int later_valid = 0;
            while (q < end) {
                const char *qp = e->map + q;
                const char *qn = memchr(qp, '\n', (size_t)(end - q));
                if (!qn) break;
                int k = take_line(e, doc, qp, (size_t)(qn - qp), q, 0);
                if (k == ZIPPY_ENOMEM) { rc = k; goto cleanup; }
                if (k == ZIPPY_OK) { later_valid = 1; break; }
                q += (uint64_t)(qn - qp) + 1;
            }
            if (later_valid) {
                z_err(ZIPPY_ECORRUPT, "collection %s: invalid line at byte offset %llu of %s (valid lines follow it)",
                      e->name, (unsigned long long)pos, e->data_path);
                goto cleanup;
            }
            rc = ZIPPY_OK;
            break;
        }
        if (rc) goto cleanup;
        pos += len + 1;
        if (prog && pos >= next_report) { prog(pctx, pos, end); next_report = pos + (8u << 20); }
    }
    *good_end = pos;
cleanup:
    zj_doc_free(doc);
    return rc;
}

static int check_legacy_line_id(const zengine *e, const char *line, size_t len, const char *id, size_t idlen,
                                uint64_t off);

/* ZDS 0.1.x index: the entries decide which lines are live. */
static int load_legacy_index(zengine *e, const zl_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        const zl_entry *x = &l->v[i];
        size_t idlen = strlen(x->id);
        if (x->len == 0 || x->off + x->len > e->data_size || e->map[x->off + x->len - 1] != '\n')
            return z_err(ZIPPY_ECORRUPT,
                         "collection %s: ZDS index entry for \"%s\" (offset %llu, length %u) does not match %s",
                         e->name, x->id, (unsigned long long)x->off, x->len, e->data_path);
        if (zippy_id_valid(x->id, idlen)) return ZIPPY_ECORRUPT;
        const char *line = e->map + x->off;
        int rc = check_legacy_line_id(e, line, x->len - 1, x->id, idlen, x->off);
        if (rc) return rc;
        rc = note_write(e, zi_hash(x->id, idlen), x->id, idlen, 0, x->off, x->len - 1,
                            z_checksum32(line, x->len - 1));
        if (rc) return rc;
    }
    return ZIPPY_OK;
}

/* Drops the in-memory state and the open files, except the writer lock. */
static void engine_unload_data(zengine *e) {
    zi_close(e->base);
    e->base = NULL;
    ov_clear(&e->ov);
    if (e->zar) {
        z_free(e->ext_owned);
        z_free(e->ix_owned);
        e->ext_owned = e->ix_owned = NULL;
    } else if (e->map) {
        zos_munmap(e->map, e->map_cap);
    }
    e->map = NULL;
    e->map_cap = 0;
    if (e->data_fd >= 0) zos_close(e->data_fd);
    e->data_fd = -1;
    e->wlen = 0;
    e->data_size = e->count = 0;
    e->legacy = 0;
    if (e->state_fd >= 0) zos_close(e->state_fd);
    e->state_fd = -1;
    e->state_size = e->state_lines = 0;
    e->state_tail_dirty = 0;
    zf_map_clear(&e->fstate);
    zf_map_clear(&e->pend);
    e->state_ok = 0;
    e->order_dirty = 0;
    e->order_hash = 0;
    e->rebuilding = 0;
}

static void engine_unload(zengine *e) {
    engine_unload_data(e);
    if (e->lock_fd >= 0) zos_close(e->lock_fd); /* releases the flock */
    e->lock_fd = -1;
    e->writable = 0;
}

static int take_writer_lock(zengine *e) {
    int fd = zos_open(e->lock_path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return z_err_os(fd, "collection %s: cannot open lock file %s", e->name, e->lock_path);
    int r = zos_flock(fd, LOCK_EX | LOCK_NB);
    if (r == -EWOULDBLOCK) {
        char buf[32] = {0};
        ssize_t n = zos_pread(fd, buf, sizeof buf - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        zos_close(fd);
        if (pid > 0)
            return z_err(ZIPPY_ELOCKED, "collection %s in %s is locked by pid %ld (another writer)", e->name,
                         e->root_path, pid);
        return z_err(ZIPPY_ELOCKED, "collection %s in %s is locked by another process", e->name, e->root_path);
    }
    if (r) {
        zos_close(fd);
        return z_err_os(r, "collection %s: cannot lock %s", e->name, e->lock_path);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if ((r = zos_ftruncate(fd, 0)) || (r = zos_pwrite_all(fd, pid, (size_t)n, 0))) {
        zos_close(fd);
        return z_err_os(r, "collection %s: cannot write lock file %s", e->name, e->lock_path);
    }
    e->lock_fd = fd;
    return ZIPPY_OK;
}

static int checkpoint(zengine *e);
static int compact_locked(zengine *e, zippy_progress_fn prog, void *pctx);

/* Replays the whole log into an empty overlay (no usable index). */
/* Replays the whole log into a fresh overlay (no usable index). With
 * need_full, a log that does not replay to its end (an invalid tail) is an
 * error. On any failure the previous state is kept. Open scans end with
 * ZIPPY_EBUSY (the replay is not a change they should see). */
static int rebuild_from_log(zengine *e, uint64_t *good_end, int need_full, zippy_progress_fn prog, void *pctx) {
    zi_index *old_base = e->base;
    ov_map old_ov = e->ov;
    uint64_t old_count = e->count;
    int old_scans = e->active_scans;
    e->base = NULL;
    memset(&e->ov, 0, sizeof e->ov);
    e->count = 0;
    e->active_scans = 0; /* no snapshot records for the replay */
    int rc = catch_up(e, 0, good_end, prog, pctx);
    e->active_scans = old_scans;
    if (!rc && need_full && *good_end != e->data_size)
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s has an invalid line at byte offset %llu", e->name,
                   e->data_path, (unsigned long long)*good_end);
    if (rc) {
        /* Keep the state we had: a failed rebuild must not lose it. */
        ov_clear(&e->ov);
        e->ov = old_ov;
        e->base = old_base;
        e->count = old_count;
        return rc;
    }
    zi_close(old_base);
    ov_clear(&old_ov);
    e->generation++;
    sup_clear(e);
    return ZIPPY_OK;
}

/* Opens the files and builds the in-memory state. Leaves e unloaded on
 * failure. */
/* For the files layout this loads the cache (the caller holds the writer
 * lock already, and a failure keeps it). */
static int engine_load(zengine *e, int writable, zippy_progress_fn prog, void *pctx) {
    int rc, r, ours = 0, rebuilt = 0, took_lock = 0;
    char *ixbuf = NULL;
    zl_list ll = {0};
    e->data_fd = -1;
    e->load_note[0] = 0;
    if (writable && e->lock_fd < 0) {
        if ((rc = take_writer_lock(e))) goto cleanup;
        took_lock = 1;
    }
    e->writable = writable;
    if ((rc = manifest_read(e, &ours)) || (rc = schema_read(e))) goto cleanup;
    if (e->layout == ZIPPY_LAYOUT_FILES) ours = 1; /* the cache is always in our format */
    if (e->zar) {
        /* External bytes: the log entry in the archive (no entry: empty). */
        const zr_entry *x = zr_find(e->zar, e->data_path);
        e->data_size = e->map_cap = 0;
        e->data_ino = 0;
        if (x && !x->is_dir) {
            const char *p;
            size_t n;
            if ((rc = zr_entry_bytes(e->zar, x, &p, &n, &e->ext_owned))) goto cleanup;
            e->map = n ? (char *)p : NULL;
            e->data_size = e->map_cap = n;
        }
    } else {
    r = zos_open(e->data_path, writable ? O_RDWR | O_CREAT : O_RDONLY, 0644);
    if (r < 0) {
        rc = z_err_os(r, "collection %s: cannot open %s", e->name, e->data_path);
        goto cleanup;
    }
    e->data_fd = r;
    if ((r = zos_fstat_id(e->data_fd, &e->data_size, &e->data_ino))) {
        rc = z_err_os(r, "collection %s: cannot stat %s", e->name, e->data_path);
        goto cleanup;
    }
    if ((rc = remap(e, 1))) goto cleanup;
    }

    uint64_t good_end = e->data_size, from = 0;
    size_t ixlen = 0;
    const char *ixp = NULL; /* archive: the index entry's bytes */
    size_t ixl = 0;
    int have_index_file = 0, zippy_index = 0;
    if (e->zar) {
        const zr_entry *x = zr_find(e->zar, e->index_path);
        have_index_file = x && !x->is_dir;
        if (have_index_file) {
            if ((rc = zr_entry_bytes(e->zar, x, &ixp, &ixl, &e->ix_owned))) goto cleanup;
            zippy_index = ixl >= 8 && !memcmp(ixp, ZI_MAGIC, 8);
        }
    } else {
    r = zos_read_file(e->index_path, &ixbuf, &ixlen, 16);
    have_index_file = r == 0 || r == -EFBIG;
    }
    if (have_index_file && !e->zar) {
        /* Peek at the magic without reading the whole file. */
        char magic[8] = {0};
        int fd = zos_open(e->index_path, O_RDONLY, 0);
        if (fd >= 0) {
            ssize_t n = zos_pread(fd, magic, 8, 0);
            zippy_index = n == 8 && !memcmp(magic, ZI_MAGIC, 8);
            zos_close(fd);
        }
    }
    z_free(ixbuf);
    ixbuf = NULL;
    if (zippy_index || ours) {
        ours = 1;
        rc = !zippy_index ? ZIPPY_ENOTFOUND
             : e->zar   ? zi_open_mem(&e->base, ixp, ixl)
                        : zi_open(&e->base, e->index_path);
        if (rc != ZIPPY_OK && (zippy_index || have_index_file))
            snprintf(e->load_note, sizeof e->load_note, "collection %s: %s is unusable (%s); the index was rebuilt "
                     "from the log", e->name, e->index_path, zippy_errmsg());
        if (rc == ZIPPY_OK) {
            uint64_t cov = zi_covered(e->base);
            if (cov > e->data_size) {
                zi_close(e->base); /* mismatched: claims data the log lacks */
                e->base = NULL;
                snprintf(e->load_note, sizeof e->load_note,
                         "collection %s: %s covers %llu bytes but %s ends at byte offset %llu (data was lost "
                         "there); the index was rebuilt from the log", e->name, e->index_path,
                         (unsigned long long)cov, e->data_path, (unsigned long long)e->data_size);
            } else if (cov > 0 && e->map[cov - 1] != '\n') {
                /* Damage inside the covered range (a line end overwritten):
                 * reported, never rebuilt around; a writer must not append
                 * to a line that does not end. */
                snprintf(e->load_note, sizeof e->load_note,
                         "collection %s: byte offset %llu of %s should end a line but is not a newline", e->name,
                         (unsigned long long)(cov - 1), e->data_path);
                if (writable) {
                    rc = z_err(ZIPPY_ECORRUPT, "%s; refusing to write (repair the file, then reindex)", e->load_note);
                    goto cleanup;
                }
                from = cov;
                e->count = zi_count(e->base);
            } else {
                from = cov;
                e->count = zi_count(e->base);
            }
        }
        rc = ZIPPY_OK;
        if (!e->base) {
            rebuilt = 1;
            rc = rebuild_from_log(e, &good_end, 0, prog, pctx);
        } else {
            rc = catch_up(e, from, &good_end, prog, pctx);
        }
        if (rc) goto cleanup;
    } else {
        /* ZDS 0.1.x, or a store with neither manifest nor index. */
        size_t len = 0;
        const char *ixpath = e->index_path;
        char bak[4200], cmp[4200];
        snprintf(bak, sizeof bak, "%s.zds", e->index_path);
        snprintf(cmp, sizeof cmp, "%s.compact", e->data_path);
        if (!e->zar && zos_stat(bak, NULL, NULL) == 0 && zos_stat(e->index_path, NULL, NULL) != 0 &&
            zos_stat(cmp, NULL, NULL) == 0) {
            /* A conversion stopped before its new log replaced the old
             * one: the set-aside ZDS index still describes the old log. */
            if (writable && (r = zos_rename(bak, e->index_path)) == 0) (void)zos_fsync_dir(e->meta_dir);
            else ixpath = bak;
        }
        r = ze_read_file(e, ixpath, &ixbuf, &len, (size_t)1 << 34);
        e->legacy = 1;
        if (r == 0 && len > 0) {
            /* A ZDS 0.1.x index decides which documents are live; one we
             * cannot read must not be guessed around (deleted documents
             * would come back). */
            if ((rc = zl_parse(ixbuf, len, &ll)) == ZIPPY_ENOMEM) goto cleanup;
            if (rc) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", zippy_errmsg());
                rc = z_err(ZIPPY_ECORRUPT, "collection %s: the ZDS index %s cannot be read (%s); refusing to guess "
                           "which documents are deleted", e->name, e->index_path, msg);
                goto cleanup;
            }
            if ((rc = load_legacy_index(e, &ll))) goto cleanup;
        } else {
            if (r && r != -ENOENT) { rc = z_err_os(r, "collection %s: cannot read %s", e->name, e->index_path); goto cleanup; }
            rebuilt = 1;
            if ((rc = rebuild_from_log(e, &good_end, 0, prog, pctx))) goto cleanup;
        }
        rc = ZIPPY_OK;
    }
    if (good_end < e->data_size) {
        if (writable) {
            /* Torn tail: cut it away so appends start on a line boundary. */
            if ((r = zos_ftruncate(e->data_fd, good_end)) || (r = zos_fdatasync(e->data_fd))) {
                rc = z_err_os(r, "collection %s: cannot truncate the torn tail of %s", e->name, e->data_path);
                goto cleanup;
            }
        }
        /* A crash leaves at most a last line without its newline: normal,
         * not worth a verify failure. Complete lines that are not valid
         * are damage, and verify reports them. */
        if (!writable && memchr(e->map + good_end, '\n', (size_t)(e->data_size - good_end)))
            snprintf(e->load_note, sizeof e->load_note,
                     "collection %s: %llu bytes at byte offset %llu of %s are not valid lines; a writer will "
                     "cut them as a torn tail", e->name, (unsigned long long)(e->data_size - good_end),
                     (unsigned long long)good_end, e->data_path);
        e->data_size = good_end;
    }
    e->synced = e->data_size;
    if (writable) e->load_note[0] = 0; /* a writer repaired what it found */
    if (writable) {
        if (e->data_size == 0 && !ours) {
            /* A new collection (or an empty old one): nothing to index yet;
             * the manifest marks it as ours. */
            e->legacy = 0;
            if ((rc = manifest_write(e)) || (rc = ze_update_root_manifest(e->root_path, e->name, 0, e->layout, 0)))
                goto cleanup;
        } else if (e->legacy) {
            /* Convert ZDS 0.1.x to our format: canonical lines + index. */
            if ((rc = compact_locked(e, prog, pctx))) goto cleanup;
        } else if ((rebuilt && e->data_size > 0) || !ours) {
            if ((rc = checkpoint(e))) goto cleanup;
        }
        /* Leftovers of interrupted crash-safe writes (only the writer ever
         * creates them, and we are the writer). */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.compact", e->data_path);
        (void)zos_unlink(tmp);
        snprintf(tmp, sizeof tmp, "%s.zds", e->index_path);
        (void)zos_unlink(tmp); /* after a finished conversion */
        snprintf(tmp, sizeof tmp, "%s.tmp", e->index_path);
        (void)zos_unlink(tmp);
        snprintf(tmp, sizeof tmp, "%s.tmp", e->manifest_path);
        (void)zos_unlink(tmp);
        if (e->layout == ZIPPY_LAYOUT_FILES) {
            snprintf(tmp, sizeof tmp, "%s.tmp", e->state_path);
            (void)zos_unlink(tmp);
            snprintf(tmp, sizeof tmp, "%s.tmp", e->order_path);
            (void)zos_unlink(tmp);
        }
    }
cleanup:
    z_free(ixbuf);
    zl_list_free(&ll);
    if (rc) {
        int saved = rc;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        if (took_lock) engine_unload(e);
        else engine_unload_data(e);
        z_err(saved, "%s", msg);
    }
    return rc;
}

/* Bitmap of the base slots the overlay supersedes (caller frees with
 * z_free); NULL on allocation failure. Caller holds rw. */
static uint8_t *superseded_slots(const zengine *e) {
    uint64_t slots = zi_slot_count(e->base);
    uint8_t *bits = z_calloc((size_t)(slots / 8 + 1), 1);
    if (!bits) return NULL;
    for (uint64_t i = 0; i < e->ov.n; i++) {
        uint64_t bs = e->ov.v[i].base_slot;
        if (bs != OV_NONE) bits[bs / 8] |= (uint8_t)(1u << (bs % 8));
    }
    return bits;
}

/* engine_load for readers, which take no lock: if a compaction replaced
 * data.jsonl while we opened it and the index, the pair may not belong
 * together; load again until the log we mapped is still the one in place. */
static int engine_load_stable(zengine *e, int writable, zippy_progress_fn prog, void *pctx) {
    int rc = ZIPPY_OK;
    for (int attempt = 0; attempt < 5; attempt++) {
        rc = engine_load(e, writable, prog, pctx);
        if (rc || writable || e->zar) return rc;
        uint64_t ino = 0;
        if (zos_stat_id(e->data_path, NULL, &ino) || ino == e->data_ino) return ZIPPY_OK;
        engine_unload(e);
    }
    return z_err(ZIPPY_EBUSY, "collection %s: %s keeps being replaced; try again", e->name, e->data_path);
}

/* fdatasync of the log, making [0, target) durable. After a failed
 * fdatasync, Linux may have marked the dirty pages clean, so a later one
 * can succeed without those bytes on disk: the range since the last good
 * sync is written again first. Caller holds sync_mu (fd stays valid). */
static int log_sync(zengine *e, int fd, uint64_t target) {
    int r;
    if (e->sync_failed && e->synced < target) {
        size_t cap = 1u << 20;
        char *buf = z_malloc(cap);
        if (!buf) return z_err_nomem();
        for (uint64_t off = e->synced; off < target;) {
            size_t n = target - off < cap ? (size_t)(target - off) : cap;
            if ((r = zos_pread_all(fd, buf, n, off)) || (r = zos_pwrite_all(fd, buf, n, off))) {
                z_free(buf);
                return z_err_os(r, "collection %s: cannot rewrite %s at byte offset %llu", e->name, e->data_path,
                                (unsigned long long)off);
            }
            off += n;
        }
        z_free(buf);
    }
    if ((r = zos_fdatasync(fd))) {
        e->sync_failed = 1;
        return z_err_os(r, "collection %s: cannot sync %s", e->name, e->data_path);
    }
    e->sync_failed = 0;
    if (target > e->synced) e->synced = target;
    return ZIPPY_OK;
}

/* Folds the overlay into a new index file. Caller holds rw exclusively. */
static int checkpoint(zengine *e) {
    int rc;
    zi_builder *b = NULL;
    uint8_t *superseded = NULL;
    if (e->broken) return z_err(ZIPPY_EIO, "collection %s: not checkpointed after an earlier failure", e->name);
    if ((rc = write_out(e))) return rc;
    if (e->synced < e->data_size && e->sync_mode != ZIPPY_SYNC_NONE) {
        /* The index must never claim bytes the disk may not have (with
         * sync mode none the caller gave that guarantee up). */
        if ((rc = log_sync(e, e->data_fd, e->data_size))) return rc;
    }
    if ((rc = zi_builder_new(&b, e->count))) goto cleanup;
    if (e->base) {
        uint64_t slots = zi_slot_count(e->base);
        if (!(superseded = superseded_slots(e))) { rc = z_err_nomem(); goto cleanup; }
        for (uint64_t s = 0; s < slots; s++) {
            if (superseded[s / 8] & (1u << (s % 8))) continue;
            zi_entry ent;
            int k = zi_slot(e->base, s, &ent);
            if (k < 0) {
                /* A corrupt index is rebuilt from the log. */
                uint64_t ge;
                z_free(superseded);
                superseded = NULL;
                zi_builder_free(b);
                b = NULL;
                if ((rc = rebuild_from_log(e, &ge, 1, NULL, NULL))) goto cleanup;
                return checkpoint(e);
            }
            if (k == 1 && (rc = zi_builder_add(b, &ent))) goto cleanup;
        }
    }
    for (uint64_t i = 0; i < e->ov.n; i++) {
        const ov_entry *x = &e->ov.v[i];
        if (x->deleted) continue;
        zi_entry ent = {x->hash, x->off, x->len, x->crc};
        if ((rc = zi_builder_add(b, &ent))) goto cleanup;
    }
    if ((rc = zi_builder_write(b, e->index_path, e->data_size))) goto cleanup;
    zi_index *nb = NULL;
    if ((rc = zi_open(&nb, e->index_path))) goto cleanup;
    zi_close(e->base);
    e->base = nb;
    ov_clear(&e->ov);
    e->count = zi_count(nb);
    e->dirty = 0;
    if ((rc = manifest_write(e))) goto cleanup;
    rc = ze_update_root_manifest(e->root_path, e->name, e->count, e->layout, 0);
cleanup:
    z_free(superseded);
    zi_builder_free(b);
    return rc;
}

/* Writes the canonical form of a log line (`_id` first, compact) to out.
 * Lines already canonical are copied. */
static int canonical_line(const zengine *e, const char *line, size_t len, zj_doc *doc, zippy_buf *out) {
    const char *id;
    size_t idlen, rest;
    if (!e->legacy && zj_line_id(line, len, &id, &idlen, &rest)) return zb_append(out, line, len);
    zj_val *v;
    zj_doc_reset(doc);
    int prc = zj_parse(doc, line, len, &v, NULL);
    if (prc == ZIPPY_ENOMEM) return z_err_nomem();
    if (prc || v->type != ZJ_OBJECT)
        return z_err(ZIPPY_ECORRUPT, "collection %s: unparsable line in %s", e->name, e->data_path);
    const zj_val *idv = zj_get(v, "_id", 3);
    if (!idv || idv->type != ZJ_STRING)
        return z_err(ZIPPY_ECORRUPT, "collection %s: a line of %s has no string \"_id\"", e->name, e->data_path);
    int rc = zb_append(out, "{\"_id\":", 7);
    if (!rc) rc = zj_write_string(out, idv->u.str, idv->len);
    for (uint32_t i = 0; !rc && i < v->len; i++) {
        const zj_val *k = &v->u.members[2 * i];
        if (k->len == 3 && !memcmp(k->u.str, "_id", 3)) continue;
        if (!(rc = zb_putc(out, ',')) && !(rc = zj_write_string(out, k->u.str, k->len)) &&
            !(rc = zb_putc(out, ':')))
            rc = zj_write(out, &v->u.members[2 * i + 1], 0);
    }
    if (!rc) rc = zb_putc(out, '}');
    return rc;
}

/* Rewrites the log with live lines only (canonical form) and a fresh
 * index. Crash order: new log synced -> index removed -> log renamed ->
 * index written; a crash in between leaves a complete log and no index,
 * which the next open rebuilds. Caller holds rw exclusively. */
static int compact_locked(zengine *e, zippy_progress_fn prog, void *pctx) {
    int rc, r, fd = -1, late_rc = ZIPPY_OK, moved_aside = 0;
    char bak[4200];
    zi_builder *b = NULL;
    zj_doc *doc = zj_doc_new();
    zippy_buf out = ZIPPY_BUF_INIT;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.compact", e->data_path);
    if (!doc) return z_err_nomem();
    if ((rc = write_out(e))) goto cleanup;
    if ((rc = zi_builder_new(&b, e->count))) goto cleanup;
    fd = zos_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { rc = z_err_os(fd, "collection %s: cannot create %s", e->name, tmp); goto cleanup; }
    uint64_t pos = 0, newoff = 0, end = e->data_size, next_report = 8u << 20;
    while (pos < end) {
        const char *p = e->map + pos;
        const char *nl = memchr(p, '\n', (size_t)(end - pos));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - pos);
        const char *id;
        size_t idlen;
        int tomb;
        loc l;
        rc = line_id(e, p, len, doc, &id, &idlen, &tomb);
        if (rc == ZIPPY_ENOMEM) goto cleanup;
        /* An unreadable line is dropped only if it is provably dead: the
         * count check below stops the compaction if any live document
         * went missing. */
        if (rc == ZIPPY_OK && !tomb) {
            char idcopy[ZIPPY_ID_MAX + 1];
            if (idlen > ZIPPY_ID_MAX) goto next;
            memcpy(idcopy, id, idlen);
            uint64_t h = zi_hash(idcopy, idlen);
            rc = line_is_live(e, h, idcopy, idlen, pos, &l);
            if (rc < 0) goto cleanup;
            if (rc == 1) {
                if (z_checksum32(p, len) != l.crc) {
                    rc = z_err(ZIPPY_ECORRUPT,
                               "collection %s: document \"%.*s\" at byte offset %llu fails its checksum; "
                               "compaction stopped, nothing changed", e->name, (int)idlen, idcopy,
                               (unsigned long long)pos);
                    goto cleanup;
                }
                size_t start = out.len;
                if ((rc = canonical_line(e, p, len, doc, &out))) goto cleanup;
                size_t nlen = out.len - start;
                zi_entry ent = {h, newoff, (uint32_t)nlen, z_checksum32(out.ptr + start, nlen)};
                if ((rc = zb_putc(&out, '\n')) || (rc = zi_builder_add(b, &ent))) goto cleanup;
                newoff += nlen + 1;
                if (out.len >= WBUF_CAP) {
                    if ((r = zos_write_all(fd, out.ptr, out.len))) {
                        rc = z_err_os(r, "collection %s: cannot write %s", e->name, tmp);
                        goto cleanup;
                    }
                    zb_clear(&out);
                }
            }
        }
    next:
        rc = ZIPPY_OK;
        pos += len + 1;
        if (prog && pos >= next_report) { prog(pctx, pos, end); next_report = pos + (8u << 20); }
    }
    if (zi_builder_count(b) != e->count) {
        /* A live document's line did not show up as live (its id bytes are
         * damaged): dropping it silently is not an option. */
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: %llu live documents expected, %llu found in %s; some lines are "
                   "damaged (run verify); compaction stopped, nothing changed", e->name,
                   (unsigned long long)e->count, (unsigned long long)zi_builder_count(b), e->data_path);
        goto cleanup;
    }
    if (out.len && (r = zos_write_all(fd, out.ptr, out.len))) {
        rc = z_err_os(r, "collection %s: cannot write %s", e->name, tmp);
        goto cleanup;
    }
    if ((r = zos_fsync(fd))) { rc = z_err_os(r, "collection %s: cannot sync %s", e->name, tmp); goto cleanup; }
    zos_close(fd);
    fd = -1;
    /* A ZDS 0.1.x index is the only record of which old lines are deleted:
     * keep it aside (index.bin.zds) until the new log is in place. While
     * data.jsonl.compact exists the old log is still current, so an open
     * after a crash puts the backup back (see legacy_backup). */
    snprintf(bak, sizeof bak, "%s.zds", e->index_path);
    r = e->legacy ? zos_rename(e->index_path, bak) : zos_unlink(e->index_path);
    if (r && r != -ENOENT) { rc = z_err_os(r, "collection %s: cannot remove %s", e->name, e->index_path); goto drop_tmp; }
    moved_aside = e->legacy && r == 0;
    e->index_gone = 1; /* the old log stays usable; its next checkpoint rewrites the index */
    if ((r = zos_fsync_dir(e->meta_dir)) || (r = zos_rename(tmp, e->data_path))) {
        rc = z_err_os(r, "collection %s: cannot replace %s", e->name, e->data_path);
        goto drop_tmp;
    }
    /* The rename happened: whatever else fails, the engine must follow the
     * new file (appends to the old, unlinked one would be lost). */
    if ((r = zos_fsync_dir(e->meta_dir)))
        late_rc = z_err_os(r, "collection %s: cannot sync the directory of %s", e->name, e->data_path);
    /* From here the new log is in place: switch to it. Until the new index
     * is open the in-memory state must be rebuilt from the new log, or the
     * engine refuses further work (the next open rebuilds the index). */
    zi_close(e->base);
    e->base = NULL;
    ov_clear(&e->ov);
    e->count = 0;
    if (e->map) zos_munmap(e->map, e->map_cap);
    e->map = NULL;
    zos_close(e->data_fd);
    e->data_size = e->synced = newoff;
    e->wlen = 0;
    e->legacy = 0;
    e->generation++;
    sup_clear(e);
    e->data_fd = zos_open(e->data_path, O_RDWR, 0);
    if (e->data_fd < 0) {
        rc = z_err_os(e->data_fd, "collection %s: cannot reopen %s", e->name, e->data_path);
        e->broken = 1;
        goto cleanup;
    }
    (void)zos_fstat_id(e->data_fd, NULL, &e->data_ino);
    if ((rc = remap(e, 1))) { e->broken = 1; goto cleanup; }
    rc = zi_builder_write(b, e->index_path, newoff);
    if (!rc) rc = zi_open(&e->base, e->index_path);
    if (rc) {
        char msg[1024];
        uint64_t ge;
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        if (rebuild_from_log(e, &ge, 1, NULL, NULL)) e->broken = 1;
        z_err(rc, "%s", msg);
        goto cleanup;
    }
    e->count = zi_count(e->base);
    e->dirty = 0;
    e->index_gone = 0;
    (void)zos_unlink(bak);
    if ((rc = manifest_write(e))) goto cleanup;
    rc = ze_update_root_manifest(e->root_path, e->name, e->count, e->layout, 0);
    if (prog) prog(pctx, end, end);
    if (!rc && late_rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        (void)msg;
        rc = late_rc;
    }
    goto cleanup;
drop_tmp:
    /* The old log is still current. Put a set-aside ZDS index back; if even
     * that fails, leave data.jsonl.compact in place: it tells the next open
     * to restore the backup. */
    if (!moved_aside || zos_rename(bak, e->index_path) == 0) (void)zos_unlink(tmp);
cleanup:
    if (fd >= 0) {
        zos_close(fd);
        (void)zos_unlink(tmp);
    }
    zippy_buf_free(&out);
    zi_builder_free(b);
    zj_doc_free(doc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Registry and handles                                                 */
/* ------------------------------------------------------------------ */

static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static zengine *g_engines;

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = z_malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void engine_free(zengine *e) {
    if (!e) return;
    engine_unload(e);
    sup_clear(e);
    z_free(e->wbuf);
    z_free(e->dir);
    z_free(e->name);
    z_free(e->root_path);
    z_free(e->data_path);
    z_free(e->index_path);
    z_free(e->manifest_path);
    z_free(e->schema_path);
    z_free(e->schema);
    zj_doc_free(e->sdoc);
    zippy_buf_free(&e->stxt);
    z_free(e->lock_path);
    z_free(e->meta_dir);
    z_free(e->docs_dir);
    z_free(e->state_path);
    z_free(e->order_path);
    z_free(e->docindex_path);
    z_free(e->gitignore_path);
    pthread_rwlock_destroy(&e->rw);
    pthread_mutex_destroy(&e->sync_mu);
    pthread_mutex_destroy(&e->order_mu);
    z_free(e->order);
    zr_close(e->zar);
    z_free(e);
}

/* Which layout the collection at e->dir has (FORMAT.md 2a): the one its
 * manifest records; else files when it has docs/ and no meta/data.jsonl;
 * else JSONL, except that a new collection takes opts->layout. */
static int detect_layout(zengine *e, const zippy_options *opts, int writable) {
    int ours = 0, kind = 0;
    int rc = manifest_read(e, &ours);
    if (rc) return rc;
    if (ours && e->manifest_layout) {
        e->layout = e->manifest_layout;
        return ZIPPY_OK;
    }
    char *data = path_join(e->meta_dir, "data.jsonl");
    if (!data) return z_err_nomem();
    int has_data = zos_stat(data, NULL, NULL) == 0;
    z_free(data);
    int has_docs = zos_lstat_kind(e->docs_dir, &kind) == 0 && kind == 2;
    if (has_data) e->layout = ZIPPY_LAYOUT_JSONL;
    else if (has_docs) e->layout = ZIPPY_LAYOUT_FILES;
    else if (writable && opts && opts->layout == ZIPPY_LAYOUT_FILES) e->layout = ZIPPY_LAYOUT_FILES;
    else e->layout = ZIPPY_LAYOUT_JSONL;
    return ZIPPY_OK;
}

/* Loads the collection's state (writable: as the writer). */
static int ze_load(zengine *e, int writable, zippy_progress_fn prog, void *pctx) {
    if (e->layout == ZIPPY_LAYOUT_FILES) return files_load(e, writable, prog, pctx);
    return engine_load_stable(e, writable, prog, pctx);
}

/* A new, unregistered engine for collection `name`. It takes *key (the
 * registry key, z_malloc'ed; set to NULL). Its files are named under
 * base (the collection directory, or its entry prefix in an archive;
 * NULL: the key itself). NULL with the message set on ENOMEM. */
static zengine *engine_new(char **key, const char *name, const char *root_label, const char *base) {
    zengine *e = z_calloc(1, sizeof *e);
    if (!e) {
        z_err_nomem();
        return NULL;
    }
    pthread_rwlock_init(&e->rw, NULL);
    pthread_mutex_init(&e->sync_mu, NULL);
    pthread_mutex_init(&e->order_mu, NULL);
    e->data_fd = e->lock_fd = e->state_fd = -1;
    e->pid = getpid();
    e->dir = *key;
    *key = NULL;
    if (!base) base = e->dir;
    e->name = z_strdup(name);
    e->root_path = z_strdup(root_label);
    e->meta_dir = path_join(base, "meta");
    e->manifest_path = e->meta_dir ? path_join(e->meta_dir, "manifest.json") : NULL;
    e->schema_path = e->meta_dir ? path_join(e->meta_dir, "schema.json") : NULL;
    e->lock_path = e->meta_dir ? path_join(e->meta_dir, "lock") : NULL;
    e->docs_dir = path_join(base, "docs");
    e->state_path = e->meta_dir ? path_join(e->meta_dir, "files.state") : NULL;
    e->order_path = e->meta_dir ? path_join(e->meta_dir, "order.ids") : NULL;
    e->docindex_path = e->meta_dir ? path_join(e->meta_dir, "doc_index.jsonl") : NULL;
    e->gitignore_path = e->meta_dir ? path_join(e->meta_dir, ".gitignore") : NULL;
    e->wcap = WBUF_CAP;
    e->wbuf = z_malloc(e->wcap);
    if (!e->name || !e->root_path || !e->manifest_path || !e->lock_path || !e->schema_path || !e->docs_dir ||
        !e->state_path || !e->order_path || !e->docindex_path || !e->gitignore_path || !e->wbuf) {
        engine_free(e);
        z_err_nomem();
        return NULL;
    }
    return e;
}

int ze_acquire(zengine **out, const char *root_path, const char *name, const zippy_options *opts, int writable) {
    int rc = ZIPPY_OK, r;
    char *dir = NULL, *real = NULL, *cdir = NULL;
    zengine *e = NULL;
    int create = opts && (opts->flags & ZIPPY_OPEN_CREATE) && writable;
    if (!ze_name_valid(name))
        return z_err(ZIPPY_EINVAL, "invalid collection name \"%s\": use 1-64 of A-Z a-z 0-9 _ - . (not starting with '.')",
                     name ? name : "");
    cdir = path_join(root_path, "collections");
    dir = cdir ? path_join(cdir, name) : NULL;
    if (!dir) { rc = z_err_nomem(); goto cleanup; }
    if (create) {
        char *meta = path_join(dir, "meta");
        if (!meta) { rc = z_err_nomem(); goto cleanup; }
        int existed = 0;
        zos_stat(meta, &existed, NULL);
        r = zos_mkdir_p(meta, 0755);
        if (!r && !existed) r = zos_fsync_dir(cdir);
        z_free(meta);
        if (r) { rc = z_err_os(r, "cannot create collection %s in %s", name, root_path); goto cleanup; }
    }
    if ((r = zos_realpath(dir, &real))) {
        rc = r == -ENOENT ? z_err(ZIPPY_ENOTFOUND, "collection %s not found in store %s", name, root_path)
                          : z_err_os(r, "collection %s in %s", name, root_path);
        goto cleanup;
    }
    pthread_mutex_lock(&g_reg_mu);
    /* Engines inherited through fork() belong to the parent (its lock, its
     * file offsets): a child opens its own and meets the parent's lock. */
    for (e = g_engines; e; e = e->next)
        if (e->pid == getpid() && !strcmp(e->dir, real)) break;
    if (e) {
        if (writable && !e->writable) {
            /* Upgrade a shared read-only engine to a writer. */
            pthread_mutex_lock(&e->sync_mu);
            pthread_rwlock_wrlock(&e->rw);
            engine_unload(e);
            rc = ze_load(e, 1, opts ? opts->progress : NULL, opts ? opts->progress_ctx : NULL);
            if (rc) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", zippy_errmsg());
                if (ze_load(e, 0, NULL, NULL) == ZIPPY_OK) z_err(rc, "%s", msg);
                else e->broken = 1;
            }
            e->generation++;
            pthread_rwlock_unlock(&e->rw);
            pthread_mutex_unlock(&e->sync_mu);
            if (rc) { pthread_mutex_unlock(&g_reg_mu); goto cleanup; }
        }
        if (writable && opts && (int)opts->sync > e->sync_mode) e->sync_mode = (int)opts->sync;
        e->refs++;
        if (writable) e->writer_refs++;
        pthread_mutex_unlock(&g_reg_mu);
        *out = e;
        goto cleanup;
    }
    if (!(e = engine_new(&real, name, root_path, NULL))) { pthread_mutex_unlock(&g_reg_mu); rc = ZIPPY_ENOMEM; goto cleanup; }
    e->sync_mode = opts ? opts->sync : ZIPPY_SYNC_FLUSH;
    if ((rc = detect_layout(e, opts, writable))) {
        pthread_mutex_unlock(&g_reg_mu);
        engine_free(e);
        goto cleanup;
    }
    int files = e->layout == ZIPPY_LAYOUT_FILES;
    e->data_path = path_join(e->meta_dir, files ? "cache.jsonl" : "data.jsonl");
    e->index_path = path_join(e->meta_dir, files ? "cache.idx" : "index.bin");
    if (!e->data_path || !e->index_path) {
        pthread_mutex_unlock(&g_reg_mu);
        rc = z_err_nomem();
        engine_free(e);
        goto cleanup;
    }
    rc = ze_load(e, writable, opts ? opts->progress : NULL, opts ? opts->progress_ctx : NULL);
    if (rc) {
        pthread_mutex_unlock(&g_reg_mu);
        engine_free(e);
        goto cleanup;
    }
    e->refs = 1;
    e->writer_refs = writable ? 1 : 0;
    e->next = g_engines;
    g_engines = e;
    pthread_mutex_unlock(&g_reg_mu);
    *out = e;
cleanup:
    z_free(real);
    z_free(dir);
    z_free(cdir);
    return rc;
}

int ze_acquire_archive(zengine **out, const char *archive_path, const char *prefix, const char *root_label,
                       const char *name, const zippy_options *opts) {
    int rc = ZIPPY_OK, r;
    char *real = NULL, *key = NULL, *dir = NULL;
    zengine *e = NULL;
    if (!ze_name_valid(name))
        return z_err(ZIPPY_EINVAL, "invalid collection name \"%s\": use 1-64 of A-Z a-z 0-9 _ - . (not starting with '.')",
                     name ? name : "");
    if ((r = zos_realpath(archive_path, &real))) return z_err_os(r, "store %s", archive_path);
    size_t kn = strlen(real) + strlen(name) + 2, dn = strlen(prefix) + strlen(name) + 16;
    key = z_malloc(kn);
    dir = z_malloc(dn);
    if (!key || !dir) { rc = z_err_nomem(); goto cleanup; }
    snprintf(key, kn, "%s!%s", real, name);
    snprintf(dir, dn, "%scollections/%s", prefix, name);
    pthread_mutex_lock(&g_reg_mu);
    for (e = g_engines; e; e = e->next)
        if (e->pid == getpid() && !strcmp(e->dir, key)) break;
    if (e) {
        e->refs++;
        pthread_mutex_unlock(&g_reg_mu);
        *out = e;
        goto cleanup;
    }
    /* Paths of its files are entry names inside the archive. */
    if (!(e = engine_new(&key, name, root_label, dir))) { pthread_mutex_unlock(&g_reg_mu); rc = ZIPPY_ENOMEM; goto cleanup; }
    e->data_path = path_join(e->meta_dir, "data.jsonl");
    e->index_path = path_join(e->meta_dir, "index.bin");
    e->sync_mode = ZIPPY_SYNC_NONE;
    e->layout = ZIPPY_LAYOUT_JSONL;
    if (!e->data_path || !e->index_path) {
        pthread_mutex_unlock(&g_reg_mu);
        rc = z_err_nomem();
        engine_free(e);
        goto cleanup;
    }
    if ((rc = zr_open(&e->zar, real))) {
        pthread_mutex_unlock(&g_reg_mu);
        engine_free(e);
        goto cleanup;
    }
    {
        size_t first = 0;
        char *pre = path_join(dir, ""), *dp = path_join(e->docs_dir, "");
        int ours = 0;
        if (!pre || !dp) rc = z_err_nomem();
        else if (zr_prefix_range(e->zar, pre, &first) == 0 && !zr_find(e->zar, pre))
            rc = z_err(ZIPPY_ENOTFOUND, "collection %s not found in store %s", name, root_label);
        if (!rc) rc = manifest_read(e, &ours);
        if (!rc) {
            const zr_entry *d = zr_find(e->zar, e->data_path);
            size_t nd = zr_prefix_range(e->zar, dp, &first);
            /* The files layout (FORMAT.md 2a) is read from docs/ into an
             * in-memory cache, built once (the archive never changes). */
            if ((ours && e->manifest_layout == ZIPPY_LAYOUT_FILES) || (!ours && !d && nd > 0)) {
                e->layout = ZIPPY_LAYOUT_FILES;
                z_free(e->data_path);
                z_free(e->index_path);
                e->data_path = path_join(e->meta_dir, "cache.jsonl");
                e->index_path = path_join(e->meta_dir, "cache.idx");
                if (!e->data_path || !e->index_path) rc = z_err_nomem();
            }
        }
        z_free(pre);
        z_free(dp);
        zippy_progress_fn prog = opts ? opts->progress : NULL;
        void *pctx = opts ? opts->progress_ctx : NULL;
        if (!rc) rc = e->layout == ZIPPY_LAYOUT_FILES ? files_load(e, 0, prog, pctx) : engine_load(e, 0, prog, pctx);
    }
    if (rc) {
        pthread_mutex_unlock(&g_reg_mu);
        engine_free(e);
        goto cleanup;
    }
    e->refs = 1;
    e->writer_refs = 0;
    e->next = g_engines;
    g_engines = e;
    pthread_mutex_unlock(&g_reg_mu);
    *out = e;
cleanup:
    z_free(real);
    z_free(key);
    z_free(dir);
    return rc;
}

const char *ze_coll_log_bytes(const zippy_coll *c, size_t *len) {
    *len = c && c->e ? (size_t)c->e->data_size : 0;
    return c && c->e ? c->e->map : NULL;
}

void ze_release(zengine *e) {
    if (!e) return;
    pthread_mutex_lock(&g_reg_mu);
    if (--e->refs > 0) {
        pthread_mutex_unlock(&g_reg_mu);
        return;
    }
    /* Flush and release the writer lock while still registered, so that a
     * concurrent open in this process waits instead of finding the lock
     * file held by the dying engine. */
    if (e->writable) (void)ze_flush(e, 1);
    engine_unload(e);
    for (zengine **pp = &g_engines; *pp; pp = &(*pp)->next)
        if (*pp == e) { *pp = e->next; break; }
    pthread_mutex_unlock(&g_reg_mu);
    engine_free(e);
}

/* Checkpoint when the unindexed part has grown past 1/8 of the indexed
 * one (so catch-up at open stays a small fraction of a rebuild), or past
 * a million changes. */
/* 1 if the index file does not reflect the whole log. */
static int index_stale(const zengine *e) {
    uint64_t covered = e->base ? zi_covered(e->base) : 0;
    return e->ov.n != 0 || covered != log_end(e) || e->index_gone;
}

/* At flush, checkpoint only once the unindexed tail is worth it: past 1/8
 * of what the index covers and past CKPT_MIN_TAIL bytes (so catch-up at the
 * next open stays a small fraction of a rebuild and a few tens of ms), or
 * past a million changes. Durability never waits for it: the log is the
 * truth, synced by the flush; close always checkpoints. */
#define CKPT_MIN_TAIL (64ull << 20)
static int want_checkpoint(const zengine *e) {
    if (!index_stale(e)) return 0;
    uint64_t covered = e->base ? zi_covered(e->base) : 0, tail = log_end(e) - covered;
    return (tail >= CKPT_MIN_TAIL && tail * 8 >= covered) || e->ov.n >= (1u << 20) || e->index_gone;
}

int ze_flush(zengine *e, int force_checkpoint) {
    int rc = ZIPPY_OK;
    pthread_mutex_lock(&e->sync_mu);
    pthread_rwlock_wrlock(&e->rw);
    if (!e->writable) goto unlock;
    if (e->layout == ZIPPY_LAYOUT_FILES) {
        /* Everything under rw: file writes, renames and syncs of a files
         * flush are not worth overlapping with other writers. */
        rc = e->broken ? z_err(ZIPPY_EIO, "collection %s: not flushed after an earlier failure", e->name)
                       : files_flush_locked(e, force_checkpoint);
        goto unlock;
    }
    rc = write_out(e);
    uint64_t target = e->data_size;
    int fd = e->data_fd;
    int ck = !rc && (force_checkpoint ? index_stale(e) : want_checkpoint(e));
    pthread_rwlock_unlock(&e->rw);
    if (!rc && e->sync_mode != ZIPPY_SYNC_NONE && e->synced < target) rc = log_sync(e, fd, target);
    pthread_rwlock_wrlock(&e->rw);
    if (!rc && ck) rc = checkpoint(e);
unlock:
    pthread_rwlock_unlock(&e->rw);
    pthread_mutex_unlock(&e->sync_mu);
    return rc;
}

int ze_is_open(const char *root_path, const char *name) {
    char *cd = path_join(root_path, "collections"), *dir = cd ? path_join(cd, name) : NULL;
    char *real = NULL;
    int open = 0;
    if (dir) (void)zos_realpath(dir, &real);
    if (real) {
        pthread_mutex_lock(&g_reg_mu);
        for (zengine *e = g_engines; e; e = e->next)
            if (e->pid == getpid() && !strcmp(e->dir, real)) open = 1;
        pthread_mutex_unlock(&g_reg_mu);
    }
    z_free(real);
    z_free(dir);
    z_free(cd);
    return open;
}

int ze_flush_root(const char *root_path) {
    char *real = NULL;
    if (zos_realpath(root_path, &real)) return ZIPPY_OK;
    size_t n = strlen(real);
    int rc = ZIPPY_OK;
    pthread_mutex_lock(&g_reg_mu);
    for (zengine *e = g_engines; e; e = e->next) {
        if (e->pid == getpid() && e->writable && !strncmp(e->dir, real, n) && e->dir[n] == '/') {
            int r = ze_flush(e, 1);
            if (r && !rc) rc = r;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
    z_free(real);
    return rc;
}

/* Syncs the log up to end (group commit: one fdatasync serves every
 * thread whose write it covers). */
static int sync_upto(zengine *e, uint64_t end) {
    int rc = ZIPPY_OK;
    pthread_mutex_lock(&e->sync_mu);
    if (e->synced < end) {
        pthread_rwlock_wrlock(&e->rw);
        rc = write_out(e);
        uint64_t target = e->data_size;
        int fd = e->data_fd;
        pthread_rwlock_unlock(&e->rw);
        if (!rc) rc = log_sync(e, fd, target);
    }
    pthread_mutex_unlock(&e->sync_mu);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public: collections                                                  */
/* ------------------------------------------------------------------ */

#define CHECK_HANDLE(c)                                                        \
    do {                                                                       \
        if (!(c)) return z_err(ZIPPY_EINVAL, "collection handle is NULL");     \
        if ((c)->closed) return z_err(ZIPPY_ECLOSED, "collection handle is closed"); \
        if ((c)->e->broken)                                                    \
            return z_err(ZIPPY_EIO, "collection %s: an earlier I/O failure left its state unusable; "  \
                         "close and reopen it", (c)->e->name);                  \
    } while (0)

#define CHECK_WRITABLE(c)                                                      \
    do {                                                                       \
        if ((c)->e->zar)                                                       \
            return z_err(ZIPPY_EREADONLY, "store %s is an archive opened in place: read-only", \
                         (c)->e->root_path);                                   \
        if (!(c)->writable)                                                    \
            return z_err(ZIPPY_EREADONLY, "collection %s was opened read-only", (c)->e->name); \
    } while (0)

int ze_coll_new(zippy_coll **out, zengine *e, int writable, zippy_progress_fn prog, void *pctx) {
    zippy_coll *c = z_calloc(1, sizeof *c);
    if (!c) return z_err_nomem();
    c->e = e;
    c->writable = writable;
    c->progress = prog;
    c->progress_ctx = pctx;
    *out = c;
    return ZIPPY_OK;
}

/* The last writable handle of an engine that read-only handles (or scans)
 * still use: checkpoint and give the writer lock back, so that another
 * process can write. If the flush fails the engine stays the writer (its
 * buffered writes are not dropped). */
static int ze_writer_release(zengine *e) {
    int rc = ZIPPY_OK;
    pthread_mutex_lock(&g_reg_mu);
    if (--e->writer_refs == 0 && e->refs > 1 && e->writable) {
        rc = ze_flush(e, 1);
        if (rc == ZIPPY_OK) {
            pthread_mutex_lock(&e->sync_mu);
            pthread_rwlock_wrlock(&e->rw);
            if (e->lock_fd >= 0) zos_close(e->lock_fd);
            e->lock_fd = -1;
            e->writable = 0;
            pthread_rwlock_unlock(&e->rw);
            pthread_mutex_unlock(&e->sync_mu);
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
    return rc;
}

int zippy_coll_close(zippy_coll *c) {
    if (!c) return ZIPPY_OK;
    int rc = ZIPPY_OK;
    if (!c->closed && c->writable) {
        rc = ze_flush(c->e, 0);
        int r2 = ze_writer_release(c->e);
        if (!rc) rc = r2;
    }
    if (!c->closed) ze_release(c->e);
    z_free(c);
    return rc;
}

int zippy_coll_flush(zippy_coll *c) {
    CHECK_HANDLE(c);
    if (!c->writable) return ZIPPY_OK;
    return ze_flush(c->e, 0);
}

const char *zippy_coll_name(const zippy_coll *c) { return c ? c->e->name : NULL; }
int zippy_coll_writable(const zippy_coll *c) { return c && !c->closed && c->writable && c->e->writable; }

int zippy_coll_refresh(zippy_coll *c) {
    CHECK_HANDLE(c);
    zengine *e = c->e;
    int rc = ZIPPY_OK;
    pthread_mutex_lock(&e->sync_mu);
    pthread_rwlock_wrlock(&e->rw);
    if (e->layout == ZIPPY_LAYOUT_FILES) {
        /* docs/ may have been edited by hand: sync again. */
        rc = files_refresh_locked(e);
        goto unlock;
    }
    if (e->writable || e->zar) goto unlock; /* the writer is always current; an archive never changes */
    uint64_t fsize, fino;
    int r = zos_stat_id(e->data_path, &fsize, &fino);
    if (r) { rc = z_err_os(r, "collection %s: %s", e->name, e->data_path); goto unlock; }
    if (fino != e->data_ino || fsize < e->data_size) {
        /* Replaced (compaction) or cut: load afresh. */
        engine_unload(e);
        rc = engine_load_stable(e, 0, NULL, NULL);
        if (rc) e->broken = 1; /* empty now: never answer as if it were */
        e->generation++;
    } else if (fsize > e->data_size) {
        uint64_t old = e->data_size, good_end;
        e->data_size = fsize;
        if ((rc = remap(e, 1)) == ZIPPY_OK) rc = catch_up(e, old, &good_end, NULL, NULL);
        if (rc == ZIPPY_OK) e->data_size = good_end;
        else e->data_size = old;
    }
unlock:
    pthread_rwlock_unlock(&e->rw);
    pthread_mutex_unlock(&e->sync_mu);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public: documents                                                    */
/* ------------------------------------------------------------------ */

/* Builds the log line {"_id":"<id>",<members>}\n for a put: the id
 * prefix, then the minified document appended in place with its '{'
 * turned into ','. Ids need no escaping (their alphabet has no '"' or
 * '\\' or control characters). */
/* With from_file (a pretty document file) the limit applies to the
 * document's compact form instead of its text. */
static int make_line_ex(const zengine *e, const char *id, size_t idlen, const char *json, size_t len,
                        zippy_buf *line, int from_file) {
    zj_min_info info;
    zj_error jerr;
    int rc;
    (void)e;
    if (len > ZIPPY_DOC_MAX && !from_file)
        return z_err(ZIPPY_ETOOBIG, "document \"%.*s\" is %zu bytes; the limit is %u", (int)idlen, id, len,
                     ZIPPY_DOC_MAX);
    zb_clear(line);
    if ((rc = zb_reserve(line, len + idlen + 16))) return rc;
    memcpy(line->ptr, "{\"_id\":\"", 8);
    memcpy(line->ptr + 8, id, idlen);
    line->ptr[8 + idlen] = '"';
    size_t p = line->len = 9 + idlen;
    rc = zj_minify_object(json, len, ZJ_MIN_STRIP_ID, line, &info, &jerr);
    if (rc == ZIPPY_EINVAL)
        return z_err(ZIPPY_EINVAL, "document \"%.*s\": malformed JSON at byte %zu (line %u, column %u): %s",
                     (int)idlen, id, jerr.offset, jerr.line, jerr.col, jerr.msg);
    if (rc) return rc;
    if (info.id_keys > 1)
        return z_err(ZIPPY_EINVAL, "document \"%.*s\": more than one top-level \"_id\"", (int)idlen, id);
    if (info.has_id && (!info.id_is_string || info.id_len != idlen || memcmp(info.id, id, idlen)))
        return z_err(ZIPPY_EINVAL, "document \"%.*s\": its \"_id\" field does not match the id", (int)idlen, id);
    if (info.has_reserved)
        return z_err(ZIPPY_EINVAL, "document \"%.*s\": the top-level key \"$deleted\" is reserved", (int)idlen, id);
    if (info.members) {
        line->ptr[p] = ',';
    } else {
        line->ptr[p] = '}';
        line->len = p + 1;
    }
    if (from_file && line->len - p > ZIPPY_DOC_MAX)
        return z_err(ZIPPY_ETOOBIG, "document \"%.*s\" is %zu bytes in compact form; the limit is %u", (int)idlen, id,
                     line->len - p, ZIPPY_DOC_MAX);
    return zb_putc(line, '\n');
}

static int make_line(const zengine *e, const char *id, size_t idlen, const char *json, size_t len,
                     zippy_buf *line) {
    return make_line_ex(e, id, idlen, json, len, line, 0);
}

/* Per-thread line buffer (freed when the thread exits). */
static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;
static void tls_free(void *p) {
    zippy_buf_free(p);
    z_free(p);
}
static void tls_init(void) { pthread_key_create(&g_tls_key, tls_free); }
static zippy_buf *tls_line(void) {
    pthread_once(&g_tls_once, tls_init);
    zippy_buf *b = pthread_getspecific(g_tls_key);
    if (!b && (b = z_calloc(1, sizeof *b)) && pthread_setspecific(g_tls_key, b)) {
        z_free(b);
        b = NULL;
    }
    return b;
}

/* Appends a prepared line (with '\n') for id to the log (the cache of
 * the files layout); caller holds rw. */
static int cache_put_locked(zengine *e, const char *id, size_t idlen, const char *line, size_t n, int del) {
    uint64_t off;
    int rc;
    if (e->strict && !del && (rc = schema_check(e, id, idlen, line, n - 1))) return rc;
    if ((rc = append_line(e, line, n, &off))) return rc;
    rc = note_write(e, zi_hash(id, idlen), id, idlen, del, off, (uint32_t)(n - 1),
                    del ? 0 : z_checksum32(line, n - 1));
    if (rc) e->wlen -= n; /* undo the append: the state did not change */
    e->dirty = 1;
    if (!rc) e->order_dirty = 1;
    return rc;
}

/* A write through the API: to the log, and for the files layout also a
 * pending file operation for id (done at the next flush from the cache's
 * latest version, so the last write of an id wins). */
static int put_line_locked(zengine *e, const char *id, size_t idlen, const char *line, size_t n, int del) {
    if (e->layout == ZIPPY_LAYOUT_FILES) {
        /* Noted first: a pending id whose write then fails only makes the
         * flush rewrite its file as it already is. */
        zf_ent *x;
        int rc = zf_map_put(&e->pend, id, idlen, &x);
        if (rc) return rc;
    }
    return cache_put_locked(e, id, idlen, line, n, del);
}

/* Files layout: a flush is due when this much is buffered (the cache file
 * only grows at flushes). */
#define FILES_AUTOFLUSH (32u << 20)

/* After a write: the files layout flushes now when the sync mode or the
 * buffered amount asks for it (caller holds no lock). */
static int after_write(zengine *e, uint64_t end, int always, int files_due) {
    if (e->layout == ZIPPY_LAYOUT_FILES) return always || files_due ? ze_flush(e, 0) : ZIPPY_OK;
    return always ? sync_upto(e, end) : ZIPPY_OK;
}

int zippy_put(zippy_coll *c, const char *id, size_t idlen, const char *json, size_t len) {
    CHECK_HANDLE(c);
    CHECK_WRITABLE(c);
    int rc;
    if ((rc = zippy_id_valid(id, idlen))) return rc;
    if (!json) return z_err(ZIPPY_EINVAL, "document \"%.*s\": JSON is NULL", (int)idlen, id);
    zengine *e = c->e;
    zippy_buf *line = tls_line();
    if (!line) return z_err_nomem();
    if ((rc = make_line(e, id, idlen, json, len, line))) return rc;
    pthread_rwlock_wrlock(&e->rw);
    rc = put_line_locked(e, id, idlen, line->ptr, line->len, 0);
    uint64_t end = log_end(e);
    int always = e->sync_mode == ZIPPY_SYNC_ALWAYS, due = e->wlen >= FILES_AUTOFLUSH;
    pthread_rwlock_unlock(&e->rw);
    if (!rc) rc = after_write(e, end, always, due);
    return rc;
}

int zippy_delete(zippy_coll *c, const char *id, size_t idlen) {
    CHECK_HANDLE(c);
    CHECK_WRITABLE(c);
    int rc;
    if ((rc = zippy_id_valid(id, idlen))) return rc;
    zengine *e = c->e;
    char line[ZIPPY_ID_MAX + 64];
    int n = snprintf(line, sizeof line, "{\"_id\":\"%.*s\"%s\n", (int)idlen, id, TOMB_SUFFIX);
    loc l;
    pthread_rwlock_wrlock(&e->rw);
    uint64_t h = zi_hash(id, idlen);
    rc = lookup(e, h, id, idlen, 0, &l);
    if (rc == 0)
        rc = z_err(ZIPPY_ENOTFOUND, "document \"%.*s\" not found in collection %s", (int)idlen, id, e->name);
    else if (rc == 1)
        rc = put_line_locked(e, id, idlen, line, (size_t)n, 1);
    uint64_t end = log_end(e);
    int due = e->wlen >= FILES_AUTOFLUSH;
    pthread_rwlock_unlock(&e->rw);
    if (!rc) rc = after_write(e, end, e->sync_mode == ZIPPY_SYNC_ALWAYS, due);
    return rc;
}

/* Writes the document of a verified line to out. */
/* Document of a canonical line (ours): the line itself, or "{" + what
 * follows the _id member. */
static int emit_canonical(const char *line, size_t len, unsigned flags, zippy_buf *out) {
    const char *id;
    size_t idlen, rest;
    int rc;
    if (!zj_line_id(line, len, &id, &idlen, &rest)) return z_err(ZIPPY_ECORRUPT, "line without a leading \"_id\"");
    if (flags & ZIPPY_GET_WITH_ID) return zb_append(out, line, len);
    if (line[rest] == '}') return zb_append(out, "{}", 2);
    if ((rc = zb_putc(out, '{'))) return rc;
    return zb_append(out, line + rest + 1, len - rest - 1);
}

static int emit_doc(const zengine *e, const char *line, size_t len, unsigned flags, zippy_buf *out) {
    if (!e->legacy) return emit_canonical(line, len, flags, out);
    /* ZDS 0.1.x line: re-serialise compactly with _id first. */
    zj_doc *doc = zj_doc_new();
    if (!doc) return z_err_nomem();
    zippy_buf tmp = ZIPPY_BUF_INIT;
    int rc = canonical_line(e, line, len, doc, &tmp);
    zj_doc_free(doc);
    if (!rc) rc = emit_canonical(tmp.ptr, tmp.len, flags, out);
    zippy_buf_free(&tmp);
    return rc;
}

/* For ZDS 0.1.x indexes (which carry no checksum of their own): the line
 * an entry points at must carry that entry's id. */
static int check_legacy_line_id(const zengine *e, const char *line, size_t len, const char *id, size_t idlen,
                                uint64_t off) {
    if (!e->legacy) return ZIPPY_OK;
    zj_doc *doc = zj_doc_new();
    if (!doc) return z_err_nomem();
    const char *lid;
    size_t lidlen;
    int tomb, rc = line_id(e, line, len, doc, &lid, &lidlen, &tomb);
    if (rc == ZIPPY_OK && (tomb || lidlen != idlen || memcmp(lid, id, idlen)))
        rc = z_err(ZIPPY_ECORRUPT,
                   "collection %s: the index entry of \"%.*s\" points at byte offset %llu of %s, a line of another "
                   "document", e->name, (int)idlen, id, (unsigned long long)off, e->data_path);
    else if (rc == ZIPPY_ECORRUPT)
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: unparsable line at byte offset %llu of %s", e->name,
                   (unsigned long long)off, e->data_path);
    zj_doc_free(doc);
    return rc;
}

int zippy_get(zippy_coll *c, const char *id, size_t idlen, unsigned flags, zippy_buf *out) {
    CHECK_HANDLE(c);
    int rc;
    if ((rc = zippy_id_valid(id, idlen))) return rc;
    if (!out) return z_err(ZIPPY_EINVAL, "output buffer is NULL");
    zengine *e = c->e;
    loc l;
    pthread_rwlock_rdlock(&e->rw);
    rc = lookup(e, zi_hash(id, idlen), id, idlen, 1, &l);
    if (rc == 0) {
        rc = z_err(ZIPPY_ENOTFOUND, "document \"%.*s\" not found in collection %s", (int)idlen, id, e->name);
    } else if (rc == 1) {
        const char *line = log_at(e, l.off, l.len);
        if (!line)
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: document \"%.*s\" points past the end of %s", e->name,
                       (int)idlen, id, e->data_path);
        else if (!l.verified && z_checksum32(line, l.len) != l.crc)
            rc = z_err(ZIPPY_ECORRUPT,
                       "collection %s: document \"%.*s\" at byte offset %llu of %s fails its checksum", e->name,
                       (int)idlen, id, (unsigned long long)l.off, e->data_path);
        else if ((rc = check_legacy_line_id(e, line, l.len, id, idlen, l.off)) == ZIPPY_OK) {
            zb_clear(out);
            rc = emit_doc(e, line, l.len, flags, out);
        }
    }
    pthread_rwlock_unlock(&e->rw);
    return rc;
}

int zippy_exists(zippy_coll *c, const char *id, size_t idlen) {
    CHECK_HANDLE(c);
    int rc;
    if ((rc = zippy_id_valid(id, idlen))) return rc;
    loc l;
    pthread_rwlock_rdlock(&c->e->rw);
    /* verified like a get: a damaged document is reported, not "absent" */
    rc = lookup(c->e, zi_hash(id, idlen), id, idlen, 1, &l);
    pthread_rwlock_unlock(&c->e->rw);
    return rc;
}

int zippy_count(zippy_coll *c, uint64_t *out) {
    CHECK_HANDLE(c);
    pthread_rwlock_rdlock(&c->e->rw);
    *out = c->e->count;
    pthread_rwlock_unlock(&c->e->rw);
    return ZIPPY_OK;
}

int zippy_put_jsonl(zippy_coll *c, const char *data, size_t len, const char *const *ids, const size_t *idlens,
                    size_t nids, uint64_t *written) {
    CHECK_HANDLE(c);
    CHECK_WRITABLE(c);
    zengine *e = c->e;
    int rc = ZIPPY_OK;
    uint64_t nw = 0, lineno = 0;
    size_t pos = 0, k = 0;
    if (ids) {
        /* Count lines first so a mismatch changes nothing. */
        size_t lines = 0;
        for (size_t p = 0; p < len;) {
            const char *nl = memchr(data + p, '\n', len - p);
            size_t l = nl ? (size_t)(nl - data - p) : len - p;
            size_t b = 0;
            while (b < l && (data[p + b] == ' ' || data[p + b] == '\t' || data[p + b] == '\r')) b++;
            if (b < l) lines++;
            p += l + 1;
        }
        if (lines != nids)
            return z_err(ZIPPY_EINVAL, "collection %s: %zu ids given for %zu JSONL lines", e->name, nids, lines);
    }
    zippy_buf *line = tls_line();
    if (!line) return z_err_nomem();
    pthread_rwlock_wrlock(&e->rw);
    while (pos < len) {
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - p) : len - pos;
        pos += l + 1;
        lineno++;
        size_t b = 0;
        while (b < l && (p[b] == ' ' || p[b] == '\t' || p[b] == '\r')) b++;
        if (b == l) continue; /* blank */
        const char *id;
        size_t idlen;
        char idbuf[ZIPPY_ID_MAX + 1];
        if (ids) {
            id = ids[k];
            idlen = idlens ? idlens[k] : strlen(ids[k]);
            k++;
        } else {
            /* One pass: minify (without _id) behind room for the longest
             * prefix, then slide it next to the real one. */
            zj_min_info info;
            zj_error jerr;
            const size_t room = 9 + ZIPPY_ID_MAX;
            zb_clear(line);
            if (l > ZIPPY_DOC_MAX + ZIPPY_ID_MAX + 16) {
                rc = z_err(ZIPPY_ETOOBIG, "line %llu: %zu bytes; the limit is %u plus the \"_id\" member",
                           (unsigned long long)lineno, l, ZIPPY_DOC_MAX);
                break;
            }
            if ((rc = zb_reserve(line, room + l + 2))) break;
            line->len = room;
            rc = zj_minify_object(p, l, ZJ_MIN_STRIP_ID, line, &info, &jerr);
            if (rc == ZIPPY_EINVAL) {
                rc = z_err(ZIPPY_EINVAL, "line %llu: malformed JSON at column %zu: %s", (unsigned long long)lineno,
                           jerr.offset + 1, jerr.msg);
                break;
            }
            if (rc) break;
            if (!info.has_id || !info.id_is_string) {
                rc = z_err(ZIPPY_EINVAL, "line %llu: no string \"_id\" field", (unsigned long long)lineno);
                break;
            }
            if (info.id_keys > 1) {
                rc = z_err(ZIPPY_EINVAL, "line %llu: more than one top-level \"_id\"", (unsigned long long)lineno);
                break;
            }
            if (info.id_len > ZIPPY_ID_MAX) {
                rc = z_err(ZIPPY_EINVAL, "line %llu: \"_id\" is longer than %d bytes", (unsigned long long)lineno,
                           ZIPPY_ID_MAX);
                break;
            }
            if (info.has_reserved) {
                rc = z_err(ZIPPY_EINVAL, "line %llu: the top-level key \"$deleted\" is reserved",
                           (unsigned long long)lineno);
                break;
            }
            memcpy(idbuf, info.id, info.id_len);
            id = idbuf;
            idlen = info.id_len;
            if ((rc = zippy_id_valid(id, idlen))) {
                z_err_prefix("line %llu", (unsigned long long)lineno);
                break;
            }
            size_t body = line->len - room, pre = 9 + idlen;
            memcpy(line->ptr, "{\"_id\":\"", 8);
            memcpy(line->ptr + 8, id, idlen);
            line->ptr[8 + idlen] = '"';
            memmove(line->ptr + pre, line->ptr + room, body);
            line->len = pre + body;
            if (info.members) line->ptr[pre] = ',';
            else { line->ptr[pre] = '}'; line->len = pre + 1; }
            line->ptr[line->len++] = '\n';
            line->ptr[line->len] = 0;
            if ((rc = put_line_locked(e, id, idlen, line->ptr, line->len, 0))) {
                z_err_prefix("line %llu", (unsigned long long)lineno);
                break;
            }
            nw++;
            continue;
        }
        if ((rc = zippy_id_valid(id, idlen)) ||
            (rc = make_line(e, id, idlen, p, l, line)) ||
            (rc = put_line_locked(e, id, idlen, line->ptr, line->len, 0))) {
            z_err_prefix("line %llu", (unsigned long long)lineno);
            break;
        }
        nw++;
    }
    uint64_t end = log_end(e);
    int due = e->wlen >= FILES_AUTOFLUSH;
    pthread_rwlock_unlock(&e->rw);
    if (!rc) rc = after_write(e, end, e->sync_mode == ZIPPY_SYNC_ALWAYS, due);
    if (written) *written = nw;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public: scans                                                        */
/* ------------------------------------------------------------------ */

struct zippy_scan {
    zippy_coll *c;
    zengine *e;
    uint64_t pos, end, gen;
    unsigned flags;
    uint64_t limit, skip, emitted, skipped;
    uint64_t count0, wseq0, live_seen; /* to notice lines lost to damage */
    int registered;                    /* counted in e->active_scans */
    int has_ref;                       /* holds a reference on e */
    uint64_t cur_off;                  /* offset of the current line */
    uint64_t pf_pos;                   /* lines before this were prefetched */
    /* Full scans walk the live lines directly: (offset, length, checksum)
     * of every live document at open, sorted by offset. NULL: walk every
     * line of the log and probe the index for each (limited scans). */
    struct live_ent *lv;
    size_t nlv, ilv;
    zq_filter *filter;
    zq_proj *proj;
    zj_doc *doc;
    zippy_buf out, canon;
    char id[ZIPPY_ID_MAX + 1];
    size_t idlen;
};

typedef struct live_ent {
    uint64_t off;
    uint32_t len, crc;
} live_ent;

#define SCAN_SORTED_MAX (16u << 20) /* live documents; above, probe per line */

static int cmp_live(const void *a, const void *b) {
    uint64_t x = ((const live_ent *)a)->off, y = ((const live_ent *)b)->off;
    return x < y ? -1 : x > y;
}

/* Sorts by offset: LSD radix sort on the 48-bit offsets for large n. */
static int sort_live(live_ent *a, size_t n) {
    if (n < 4096) {
        qsort(a, n, sizeof *a, cmp_live);
        return ZIPPY_OK;
    }
    live_ent *tmp = z_malloc(n * sizeof *tmp);
    size_t *cnt = z_malloc(65536 * sizeof *cnt);
    if (!tmp || !cnt) {
        z_free(tmp);
        z_free(cnt);
        return ZIPPY_ENOMEM;
    }
    live_ent *src = a, *dst = tmp;
    for (int shift = 0; shift < 48; shift += 16) {
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[(src[i].off >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t k = 0; k < 65536; k++) {
            size_t c = cnt[k];
            cnt[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[cnt[(src[i].off >> shift) & 0xffff]++] = src[i];
        live_ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a); /* 3 passes: the result is in tmp */
    z_free(tmp);
    z_free(cnt);
    return ZIPPY_OK;
}

/* Collects the live lines of e (caller holds rw), sorted by offset, into
 * *out (caller frees) and *n. Fails (ZIPPY_ENOMEM, ZIPPY_ECORRUPT: a damaged
 * index slot or counts that disagree, ZIPPY_ETOOBIG) without a message:
 * callers fall back to walking the log, which reports problems where it
 * meets them. */
static int build_live(const zengine *e, live_ent **out, size_t *nout) {
    if (e->count > SCAN_SORTED_MAX) return ZIPPY_ETOOBIG;
    uint64_t slots = e->base ? zi_slot_count(e->base) : 0;
    uint8_t *sup = NULL;
    live_ent *v = z_malloc((size_t)(e->count ? e->count : 1) * sizeof *v);
    size_t n = 0;
    int rc = ZIPPY_ECORRUPT;
    if (!v) return ZIPPY_ENOMEM;
    if (e->base) {
        if (!(sup = superseded_slots(e))) { rc = ZIPPY_ENOMEM; goto fail; }
        for (uint64_t i = 0; i < slots; i++) {
            zi_entry ent;
            if (sup[i / 8] & (1u << (i % 8))) continue;
            int k = zi_slot(e->base, i, &ent);
            if (k < 0) goto fail;
            if (k == 0) continue;
            if (n == e->count) goto fail;
            v[n].off = ent.off;
            v[n].len = ent.len;
            v[n].crc = ent.crc;
            n++;
        }
    }
    for (uint64_t i = 0; i < e->ov.n; i++) {
        const ov_entry *x = &e->ov.v[i];
        if (x->deleted) continue;
        if (n == e->count) goto fail;
        v[n].off = x->off;
        v[n].len = x->len;
        v[n].crc = x->crc;
        n++;
    }
    if (n != e->count) goto fail;
    if (sort_live(v, n)) { rc = ZIPPY_ENOMEM; goto fail; }
    z_free(sup);
    *out = v;
    *nout = n;
    return ZIPPY_OK;
fail:
    z_free(sup);
    z_free(v);
    return rc;
}

/* For a full scan: the live lines, or NULL to walk the log instead. */
static void collect_live(zippy_scan *s) {
    live_ent *v;
    size_t n;
    if (build_live(s->e, &v, &n) == ZIPPY_OK) {
        s->lv = v;
        s->nlv = n;
    }
}

int zippy_scan_open(zippy_scan **out, zippy_coll *c, const zippy_scan_options *opts) {
    CHECK_HANDLE(c);
    int rc = ZIPPY_OK;
    zippy_scan *s = z_calloc(1, sizeof *s);
    if (!s) return z_err_nomem();
    s->c = c;
    s->e = c->e;
    if (opts) {
        s->flags = opts->flags;
        s->limit = opts->limit;
        s->skip = opts->skip;
        if (opts->filter && (rc = zq_filter_parse(&s->filter, opts->filter,
                                                   opts->filter_len ? opts->filter_len : strlen(opts->filter))))
            goto cleanup;
        if (opts->fields && (rc = zq_proj_parse(&s->proj, opts->fields, strlen(opts->fields)))) goto cleanup;
    }
    if (!(s->doc = zj_doc_new())) { rc = z_err_nomem(); goto cleanup; }
    pthread_mutex_lock(&g_reg_mu);
    s->e->refs++; /* the scan outlives its handle safely */
    s->has_ref = 1;
    pthread_mutex_unlock(&g_reg_mu);
    pthread_rwlock_wrlock(&s->e->rw);
    s->end = log_end(s->e);
    s->gen = s->e->generation;
    s->count0 = s->e->count;
    s->wseq0 = s->e->wseq;
    s->e->active_scans++;
    s->registered = 1;
    if (!s->limit) collect_live(s);
    pthread_rwlock_unlock(&s->e->rw);
    *out = s;
    s = NULL;
cleanup:
    zippy_scan_close(s);
    return rc;
}

void zippy_scan_close(zippy_scan *s) {
    if (!s) return;
    if (s->registered) {
        pthread_rwlock_wrlock(&s->e->rw);
        if (--s->e->active_scans == 0) sup_clear(s->e);
        pthread_rwlock_unlock(&s->e->rw);
    }
    if (s->has_ref) ze_release(s->e);
    z_free(s->lv);
    zq_filter_free(s->filter);
    zq_proj_free(s->proj);
    zj_doc_free(s->doc);
    zippy_buf_free(&s->out);
    zippy_buf_free(&s->canon);
    z_free(s);
}

/* Produces the row for a live, verified line into s->out. 1 if the row
 * passes the filter, 0 if not, <0 error. */
static int scan_row(zippy_scan *s, const char *line, size_t len) {
    zengine *e = s->e;
    int rc;
    zb_clear(&s->out);
    if (s->flags & ZIPPY_SCAN_IDS_ONLY && !s->filter) return 1;
    if (!s->filter && !s->proj) {
        rc = emit_doc(e, line, len, (s->flags & ZIPPY_SCAN_WITH_ID) ? ZIPPY_GET_WITH_ID : 0, &s->out);
        return rc ? rc : 1;
    }
    zj_val *v;
    zj_error jerr;
    zj_doc_reset(s->doc);
    rc = zj_parse(s->doc, line, len, &v, &jerr);
    if (rc == ZIPPY_ENOMEM) return z_err_nomem();
    if (rc || v->type != ZJ_OBJECT)
        return z_err(ZIPPY_ECORRUPT, "collection %s: unparsable document \"%s\" at byte offset %llu", e->name, s->id,
                     (unsigned long long)s->cur_off);
    if (s->filter && !zq_filter_match(s->filter, v)) return 0;
    if (s->flags & ZIPPY_SCAN_IDS_ONLY) return 1;
    if (s->proj) {
        rc = zq_proj_apply(s->proj, v, (s->flags & ZIPPY_SCAN_WITH_ID) != 0, &s->out);
        return rc ? rc : 1;
    }
    rc = emit_doc(e, line, len, (s->flags & ZIPPY_SCAN_WITH_ID) ? ZIPPY_GET_WITH_ID : 0, &s->out);
    return rc ? rc : 1;
}

int zippy_scan_next(zippy_scan *s, const char **id, size_t *idlen, const char **doc, size_t *doclen) {
    if (!s) return z_err(ZIPPY_EINVAL, "scan is NULL");
    zengine *e = s->e;
    int rc = 0;
    if (s->limit && s->emitted >= s->limit) return 0;
    pthread_rwlock_rdlock(&e->rw);
    if (e->generation != s->gen) {
        rc = z_err(ZIPPY_EBUSY, "collection %s was compacted or reloaded during the scan", e->name);
        goto unlock;
    }
    while (s->lv && s->ilv < s->nlv) {
        const live_ent *v = &s->lv[s->ilv++];
        s->cur_off = v->off;
        const char *p = log_at(e, v->off, (uint64_t)v->len + 1);
        const char *lid;
        size_t lidlen;
        int tomb, idok = p && line_id(e, p, v->len, s->doc, &lid, &lidlen, &tomb) == ZIPPY_OK && !tomb &&
                         lidlen <= ZIPPY_ID_MAX;
        if (idok) {
            memcpy(s->id, lid, lidlen);
            s->id[lidlen] = 0;
            s->idlen = lidlen;
        }
        if (!p || p[v->len] != '\n' || z_checksum32(p, v->len) != v->crc) {
            if (idok)
                rc = z_err(ZIPPY_ECORRUPT,
                           "collection %s: document \"%s\" at byte offset %llu of %s fails its checksum", e->name,
                           s->id, (unsigned long long)v->off, e->data_path);
            else
                rc = z_err(ZIPPY_ECORRUPT, "collection %s: the document at byte offset %llu of %s fails its checksum",
                           e->name, (unsigned long long)v->off, e->data_path);
            goto unlock;
        }
        if (!idok) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: invalid line at byte offset %llu of %s", e->name,
                       (unsigned long long)v->off, e->data_path);
            goto unlock;
        }
        s->live_seen++;
        rc = scan_row(s, p, v->len);
        if (rc < 0) goto unlock;
        if (rc == 0) continue;
        if (s->skipped < s->skip) { s->skipped++; rc = 0; continue; }
        s->emitted++;
        if (id) *id = s->id;
        if (idlen) *idlen = s->idlen;
        if (doc) *doc = (s->flags & ZIPPY_SCAN_IDS_ONLY) ? NULL : s->out.ptr;
        if (doclen) *doclen = (s->flags & ZIPPY_SCAN_IDS_ONLY) ? 0 : s->out.len;
        rc = 1;
        goto unlock;
    }
    if (s->lv) {
        rc = 0;
        goto unlock;
    }
    while (s->pos < s->end) {
        uint64_t off = s->pos;
        /* Index slots are random accesses: ask for those of the next lines
         * early, so the probes below find them in cache. */
        if (e->base && s->pf_pos <= off + SCAN_PREFETCH_BYTES / 2) {
            uint64_t q = s->pf_pos > off ? s->pf_pos : off, lim = off + SCAN_PREFETCH_BYTES;
            size_t ql;
            const char *qp, *qid;
            size_t qidlen, qrest;
            while (q < lim && (qp = log_line(e, q, s->end, &ql))) {
                if (zj_line_id(qp, ql, &qid, &qidlen, &qrest)) zi_prefetch(e->base, zi_hash(qid, qidlen));
                q += ql + 1;
            }
            s->pf_pos = q > lim ? q : lim;
        }
        size_t len;
        const char *p = log_line(e, off, s->end, &len);
        if (!p) { s->pos = s->end; break; }
        s->pos = off + len + 1;
        s->cur_off = off;
        const char *lid;
        size_t lidlen;
        int tomb;
        if (line_id(e, p, len, s->doc, &lid, &lidlen, &tomb)) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: invalid line at byte offset %llu of %s", e->name,
                       (unsigned long long)off, e->data_path);
            break;
        }
        if (tomb || lidlen > ZIPPY_ID_MAX) continue;
        memcpy(s->id, lid, lidlen);
        s->id[lidlen] = 0;
        s->idlen = lidlen;
        loc l;
        rc = line_is_live(e, zi_hash(s->id, lidlen), s->id, lidlen, off, &l);
        if (rc < 0) break;
        if (rc == 0) {
            /* Superseded after this scan began: still part of its snapshot. */
            const sup_rec *sr = sup_find(e, off);
            if (!sr || sr->seq <= s->wseq0) continue;
            l.len = sr->len;
            l.crc = sr->crc;
        }
        if (l.len != len || z_checksum32(p, len) != l.crc) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: document \"%s\" at byte offset %llu of %s fails its checksum",
                       e->name, s->id, (unsigned long long)off, e->data_path);
            break;
        }
        s->live_seen++;
        rc = scan_row(s, p, len);
        if (rc < 0) break;
        if (rc == 0) continue;
        if (s->skipped < s->skip) { s->skipped++; rc = 0; continue; }
        s->emitted++;
        if (id) *id = s->id;
        if (idlen) *idlen = s->idlen;
        if (doc) *doc = (s->flags & ZIPPY_SCAN_IDS_ONLY) ? NULL : s->out.ptr;
        if (doclen) *doclen = (s->flags & ZIPPY_SCAN_IDS_ONLY) ? 0 : s->out.len;
        rc = 1;
        goto unlock;
    }
    if (rc > 0) rc = 0;
    if (rc == 0 && s->pos >= s->end && s->live_seen != s->count0) {
        /* A damaged line no longer carries its id, so the walk skipped it:
         * the index knows more live documents than the log showed. */
        rc = z_err(ZIPPY_ECORRUPT,
                   "collection %s: the scan found %llu live documents but the index holds %llu: some lines of %s "
                   "are damaged (run verify to locate them)", e->name, (unsigned long long)s->live_seen,
                   (unsigned long long)s->count0, e->data_path);
        s->live_seen = s->count0; /* report once */
    }
unlock:
    pthread_rwlock_unlock(&e->rw);
    return rc;
}

/* zippy_get_at without the order (too many documents, or a damaged index
 * slot): a scan skipping `index` rows, which reports damage it meets. */
static int get_at_by_scan(zippy_coll *c, uint64_t index, unsigned flags, zippy_buf *id_out, zippy_buf *doc_out) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    zippy_scan *s = NULL;
    const char *id, *doc;
    size_t idlen, doclen;
    so.flags = (flags & ZIPPY_GET_WITH_ID) ? ZIPPY_SCAN_WITH_ID : 0;
    so.skip = index;
    so.limit = 1;
    int rc = zippy_scan_open(&s, c, &so);
    if (rc) return rc;
    rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen);
    if (rc == 0)
        rc = z_err(ZIPPY_ENOTFOUND, "position %llu is past the end of collection %s", (unsigned long long)index,
                   c->e->name);
    if (rc == 1) {
        zb_clear(doc_out);
        rc = zb_append(doc_out, doc, doclen);
        if (!rc && id_out) {
            zb_clear(id_out);
            rc = zb_append(id_out, id, idlen);
        }
    }
    zippy_scan_close(s);
    return rc;
}

int zippy_get_at(zippy_coll *c, uint64_t index, unsigned flags, zippy_buf *id_out, zippy_buf *doc_out) {
    CHECK_HANDLE(c);
    if (!doc_out) return z_err(ZIPPY_EINVAL, "output buffer is NULL");
    zengine *e = c->e;
    live_ent ent;
    int rc = ZIPPY_OK, have = 0;
    pthread_rwlock_rdlock(&e->rw);
    if (index >= e->count) {
        rc = z_err(ZIPPY_ENOTFOUND, "position %llu is past the end of collection %s (%llu documents)",
                   (unsigned long long)index, e->name, (unsigned long long)e->count);
        goto unlock;
    }
    pthread_mutex_lock(&e->order_mu);
    uint64_t end = log_end(e);
    if (!e->order_ok || e->order_gen != e->generation || e->order_end != end) {
        live_ent *v;
        size_t n;
        z_free(e->order);
        e->order = NULL;
        e->order_ok = 0;
        if (build_live(e, &v, &n) == ZIPPY_OK) {
            e->order = v;
            e->norder = n;
            e->order_gen = e->generation;
            e->order_end = end;
            e->order_ok = 1;
        }
    }
    if (e->order_ok && index < e->norder) {
        ent = e->order[index];
        have = 1;
    }
    pthread_mutex_unlock(&e->order_mu);
    if (have) {
        const char *p = log_at(e, ent.off, (uint64_t)ent.len + 1);
        if (!p || p[ent.len] != '\n' || z_checksum32(p, ent.len) != ent.crc) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: the document at byte offset %llu of %s fails its checksum",
                       e->name, (unsigned long long)ent.off, e->data_path);
            goto unlock;
        }
        const char *id;
        size_t idlen, rest;
        zb_clear(doc_out);
        if ((rc = emit_doc(e, p, ent.len, ZIPPY_GET_WITH_ID, doc_out))) goto unlock;
        if (!zj_line_id(doc_out->ptr, doc_out->len, &id, &idlen, &rest)) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: invalid line at byte offset %llu of %s", e->name,
                       (unsigned long long)ent.off, e->data_path);
            goto unlock;
        }
        if (id_out) {
            zb_clear(id_out);
            if ((rc = zb_append(id_out, id, idlen))) goto unlock;
        }
        if (!(flags & ZIPPY_GET_WITH_ID)) {
            /* {"_id":"x",rest} -> {rest} */
            size_t tail = doc_out->len - rest - 1;
            memmove(doc_out->ptr + 1, doc_out->ptr + rest + 1, tail);
            doc_out->len = tail + 1;
            if (doc_out->len == 1) doc_out->ptr[doc_out->len++] = '}';
            doc_out->ptr[doc_out->len] = 0;
        }
    }
unlock:
    pthread_rwlock_unlock(&e->rw);
    if (!rc && !have) rc = get_at_by_scan(c, index, flags, id_out, doc_out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public: strict schemas                                               */
/* ------------------------------------------------------------------ */

/* Id of a live line for messages (into buf). */
static void line_id_text(const zengine *e, const char *p, size_t len, char *buf, size_t cap) {
    zj_doc *d = zj_doc_new();
    const char *id;
    size_t idlen;
    int tomb;
    if (d && line_id(e, p, len, d, &id, &idlen, &tomb) == ZIPPY_OK)
        snprintf(buf, cap, "%.*s", (int)idlen, id);
    else
        snprintf(buf, cap, "?");
    zj_doc_free(d);
}

int ze_make_strict(zengine *e) {
    int rc = ZIPPY_OK;
    live_ent *v = NULL;
    size_t n = 0;
    char *first = NULL;
    size_t first_len = 0, first_i = 0;
    pthread_rwlock_wrlock(&e->rw);
    if (e->strict || !e->writable) goto unlock; /* nothing to do, or nothing to persist */
    if (e->count) {
        if ((rc = build_live(e, &v, &n))) {
            rc = z_err(rc == ZIPPY_ENOMEM ? ZIPPY_ENOMEM : ZIPPY_ECORRUPT,
                       "collection %s: cannot make it strict: its documents cannot be listed (%s); run verify",
                       e->name, zippy_strerror(rc));
            goto unlock;
        }
        for (size_t i = 0; i < n; i++) {
            const char *p = log_at(e, v[i].off, (uint64_t)v[i].len + 1);
            if (!p || z_checksum32(p, v[i].len) != v[i].crc) {
                rc = z_err(ZIPPY_ECORRUPT, "collection %s: the document at byte offset %llu of %s fails its checksum",
                           e->name, (unsigned long long)v[i].off, e->data_path);
                goto unlock;
            }
            if ((rc = line_schema(e, p, v[i].len))) goto unlock;
            if (!first) {
                if (!(first = z_malloc(e->stxt.len + 1))) { rc = z_err_nomem(); goto unlock; }
                memcpy(first, e->stxt.ptr, e->stxt.len + 1);
                first_len = e->stxt.len;
                first_i = i;
                continue;
            }
            if (e->stxt.len == first_len && !memcmp(e->stxt.ptr, first, first_len)) continue;
            char a[ZIPPY_ID_MAX + 1], b[ZIPPY_ID_MAX + 1];
            const char *fp = log_at(e, v[first_i].off, v[first_i].len);
            zippy_buf msg = ZIPPY_BUF_INIT;
            line_id_text(e, fp, v[first_i].len, a, sizeof a);
            line_id_text(e, p, v[i].len, b, sizeof b);
            rc = zs_diff(first, first_len, e->stxt.ptr, e->stxt.len, &msg);
            if (rc == ZIPPY_ENOMEM) rc = z_err_nomem();
            else
                rc = z_err(ZIPPY_ESCHEMA,
                           "Schema mismatch: collection %s cannot be made strict: documents \"%s\" and \"%s\" have "
                           "different schemas: %s", e->name, a, b, msg.ptr ? msg.ptr : "?");
            zippy_buf_free(&msg);
            goto unlock;
        }
    }
    if ((rc = schema_write(e, first, first_len))) goto unlock;
    e->strict = 1;
    z_free(e->schema);
    e->schema = first;
    e->schema_len = first_len;
    first = NULL;
    rc = manifest_write(e);
unlock:
    pthread_rwlock_unlock(&e->rw);
    z_free(first);
    z_free(v);
    return rc;
}

int zippy_coll_strict(zippy_coll *c) {
    CHECK_HANDLE(c);
    pthread_rwlock_rdlock(&c->e->rw);
    int s = c->e->strict;
    pthread_rwlock_unlock(&c->e->rw);
    return s;
}

int zippy_coll_schema(zippy_coll *c, zippy_buf *out) {
    CHECK_HANDLE(c);
    if (!out) return z_err(ZIPPY_EINVAL, "output buffer is NULL");
    zengine *e = c->e;
    int rc;
    pthread_rwlock_rdlock(&e->rw);
    if (!e->strict)
        rc = z_err(ZIPPY_ENOTFOUND, "collection %s is not strict: it has no schema", e->name);
    else if (!e->schema)
        rc = z_err(ZIPPY_ENOTFOUND, "collection %s is strict but has no schema yet (no document)", e->name);
    else {
        zb_clear(out);
        rc = zb_append(out, e->schema, e->schema_len);
    }
    pthread_rwlock_unlock(&e->rw);
    return rc;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int zippy_ids(zippy_coll *c, char ***out, size_t *count) {
    CHECK_HANDLE(c);
    zippy_scan_options o = ZIPPY_SCAN_OPTIONS_INIT;
    o.flags = ZIPPY_SCAN_IDS_ONLY;
    zippy_scan *s = NULL;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = zippy_scan_open(&s, c, &o);
    const char *id;
    size_t idlen;
    while (rc == ZIPPY_OK) {
        int k = zippy_scan_next(s, &id, &idlen, NULL, NULL);
        if (k < 0) { rc = k; break; }
        if (k == 0) break;
        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 256;
            char **nv = z_realloc(v, ncap * sizeof *v);
            if (!nv) { rc = z_err_nomem(); break; }
            v = nv;
            cap = ncap;
        }
        if (!(v[n] = z_strndup(id, idlen))) { rc = z_err_nomem(); break; }
        n++;
    }
    zippy_scan_close(s);
    if (rc == ZIPPY_OK && !v && !(v = z_malloc(sizeof *v))) rc = z_err_nomem();
    if (rc) {
        if (v) { v[n] = NULL; zippy_strv_free(v); }
        return rc;
    }
    v[n] = NULL;
    qsort(v, n, sizeof *v, cmp_strp);
    *out = v;
    if (count) *count = n;
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Public: maintenance                                                  */
/* ------------------------------------------------------------------ */

int zippy_coll_compact(zippy_coll *c) {
    CHECK_HANDLE(c);
    CHECK_WRITABLE(c);
    zengine *e = c->e;
    pthread_mutex_lock(&e->sync_mu);
    pthread_rwlock_wrlock(&e->rw);
    int rc;
    if (e->layout == ZIPPY_LAYOUT_FILES) {
        /* Compact the cache; files.state then names the new cache file. */
        rc = files_flush_locked(e, 0);
        if (!rc) rc = compact_locked(e, c->progress, c->progress_ctx);
        if (!rc) rc = files_commit(e, 1);
    } else {
        rc = compact_locked(e, c->progress, c->progress_ctx);
    }
    pthread_rwlock_unlock(&e->rw);
    pthread_mutex_unlock(&e->sync_mu);
    return rc;
}

/* 1 (and *bad) if a document the index holds fails its checksum: a
 * rebuild would give it a fresh checksum and hide the damage. Damaged
 * index slots are not counted (rebuilding is their cure). */
static int live_checksum_damage(const zengine *e, uint64_t *bad) {
    uint64_t slots = e->base ? zi_slot_count(e->base) : 0;
    for (uint64_t i = 0; i < slots + e->ov.n; i++) {
        zi_entry ent;
        if (i < slots) {
            if (zi_slot(e->base, i, &ent) != 1) continue;
            /* superseded slots point at old lines, which are intact or not
             * independently of liveness: check them too */
        } else {
            const ov_entry *x = &e->ov.v[i - slots];
            if (x->deleted) continue;
            ent.off = x->off;
            ent.len = x->len;
            ent.crc = x->crc;
        }
        const char *p = log_at(e, ent.off, ent.len);
        if (p && z_checksum32(p, ent.len) != ent.crc) {
            *bad = ent.off;
            return 1;
        }
    }
    return 0;
}

int zippy_coll_reindex(zippy_coll *c) {
    CHECK_HANDLE(c);
    CHECK_WRITABLE(c);
    zengine *e = c->e;
    pthread_mutex_lock(&e->sync_mu);
    pthread_rwlock_wrlock(&e->rw);
    uint64_t good_end, bad = 0;
    int rc;
    if (e->layout == ZIPPY_LAYOUT_FILES) {
        /* The cache is derived: rebuild it from docs/, keeping the order
         * (order.ids) when the cache can still list it. */
        rc = files_flush_locked(e, 0);
        if (!rc && e->order_dirty) (void)files_write_order(e);
        if (!rc) rc = files_sync(e, 1, c->progress, c->progress_ctx);
        pthread_rwlock_unlock(&e->rw);
        pthread_mutex_unlock(&e->sync_mu);
        return rc;
    }
    rc = write_out(e);
    if (!rc && live_checksum_damage(e, &bad))
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: the document at byte offset %llu of %s fails its checksum; a "
                   "reindex would hide the damage (repair or delete it first; verify lists every damaged line)",
                   e->name, (unsigned long long)bad, e->data_path);
    if (!rc) rc = rebuild_from_log(e, &good_end, 1, c->progress, c->progress_ctx);
    if (!rc) rc = checkpoint(e);
    pthread_rwlock_unlock(&e->rw);
    pthread_mutex_unlock(&e->sync_mu);
    return rc;
}

#define LINE_UNREADABLE 2

/* Liveness of the log line p (len bytes) at pos, for the whole-log walks of
 * stats and verify: 1 live (*l filled, idc holds the id), 0 a tombstone or
 * a superseded line, LINE_UNREADABLE when it carries no id (checked
 * structurally, as recovery does), or a negative error from the index. */
static int line_live(const zengine *e, const char *p, size_t len, uint64_t pos, zj_doc *doc,
                     char idc[ZIPPY_ID_MAX + 1], loc *l) {
    const char *id;
    size_t idlen;
    int tomb;
    if (line_id(e, p, len, doc, &id, &idlen, &tomb) || idlen == 0 || idlen > ZIPPY_ID_MAX) return LINE_UNREADABLE;
    if (tomb) return 0;
    memcpy(idc, id, idlen);
    idc[idlen] = 0;
    return line_is_live(e, zi_hash(idc, idlen), idc, idlen, pos, l);
}

int zippy_coll_stats(zippy_coll *c, zippy_stats *out) {
    CHECK_HANDLE(c);
    zengine *e = c->e;
    zippy_stats st;
    memset(&st, 0, sizeof st);
    zj_doc *doc = zj_doc_new();
    if (!doc) return z_err_nomem();
    int rc = ZIPPY_OK;
    pthread_rwlock_rdlock(&e->rw);
    st.count = e->count;
    st.log_bytes = log_end(e);
    st.index_bytes = e->base ? zi_file_size(e->base) : 0;
    st.indexed_bytes = e->base ? zi_covered(e->base) : 0;
    st.layout = e->layout;
    st.strict = e->strict;
    st.legacy = e->legacy;
    uint64_t pos = 0, end = log_end(e);
    while (pos < end) {
        size_t len;
        const char *p = log_line(e, pos, end, &len);
        if (!p) break;
        char idc[ZIPPY_ID_MAX + 1];
        loc l;
        st.log_lines++;
        if (line_live(e, p, len, pos, doc, idc, &l) == 1) st.live_bytes += len + 1;
        pos += len + 1;
    }
    pthread_rwlock_unlock(&e->rw);
    zj_doc_free(doc);
    *out = st;
    return rc;
}

int zippy_coll_verify(zippy_coll *c, zippy_verify_report *out) {
    CHECK_HANDLE(c);
    zengine *e = c->e;
    zippy_verify_report r;
    /* Files layout: docs/ must be current to be compared with the cache. */
    if (e->layout == ZIPPY_LAYOUT_FILES && c->writable) {
        int frc = ze_flush(e, 0);
        if (frc) return frc;
    }
    memset(&r, 0, sizeof r);
    r.first_bad_offset = UINT64_MAX;
    zj_doc *doc = zj_doc_new();
    if (!doc) return z_err_nomem();
    char first[1024] = "";
    pthread_rwlock_rdlock(&e->rw);
    if (e->load_note[0]) {
        r.index_errors++;
        snprintf(first, sizeof first, "%s", e->load_note);
    }
    if (e->base && zi_verify(e->base)) {
        r.index_errors++;
        if (!first[0]) snprintf(first, sizeof first, "collection %s: %s", e->name, zippy_errmsg());
    }
    uint64_t pos = 0, end = log_end(e);
    while (pos < end) {
        size_t len;
        const char *p = log_line(e, pos, end, &len);
        if (!p) break;
        char idc[ZIPPY_ID_MAX + 1];
        loc l;
        r.lines++;
        int k = line_live(e, p, len, pos, doc, idc, &l);
        if (k == LINE_UNREADABLE || zj_validate(p, len, NULL)) {
            r.bad_lines++;
            if (pos < r.first_bad_offset) r.first_bad_offset = pos;
            if (!first[0])
                snprintf(first, sizeof first, "collection %s: invalid line at byte offset %llu of %s", e->name,
                         (unsigned long long)pos, e->data_path);
        } else if (k < 0) {
            r.index_errors++;
            if (!first[0]) snprintf(first, sizeof first, "%s", zippy_errmsg());
        } else if (k == 1) {
            r.live++;
            if (l.len != len || z_checksum32(p, len) != l.crc) {
                r.bad_lines++;
                if (pos < r.first_bad_offset) r.first_bad_offset = pos;
                if (!first[0])
                    snprintf(first, sizeof first,
                             "collection %s: document \"%s\" at byte offset %llu of %s fails its checksum",
                             e->name, idc, (unsigned long long)pos, e->data_path);
            }
        }
        pos += len + 1;
        if (c->progress && (r.lines & 0xffff) == 0) c->progress(c->progress_ctx, pos, end * 2);
    }
    if (pos < end) {
        r.bad_lines++;
        if (pos < r.first_bad_offset) r.first_bad_offset = pos;
        if (!first[0])
            snprintf(first, sizeof first, "collection %s: unterminated line at byte offset %llu of %s", e->name,
                     (unsigned long long)pos, e->data_path);
    }
    /* Every index entry must point at an intact line start. */
    uint8_t *sup = NULL;
    uint64_t slots = e->base ? zi_slot_count(e->base) : 0;
    if (e->base) sup = superseded_slots(e);
    for (uint64_t i = 0; i < slots + e->ov.n; i++) {
        zi_entry ent;
        if (i < slots) {
            if (!sup || (sup[i / 8] & (1u << (i % 8)))) continue;
            int k = zi_slot(e->base, i, &ent);
            if (k < 0) { r.index_errors++; if (!first[0]) snprintf(first, sizeof first, "%s", zippy_errmsg()); continue; }
            if (k == 0) continue;
        } else {
            const ov_entry *x = &e->ov.v[i - slots];
            if (x->deleted) continue;
            ent.hash = x->hash;
            ent.off = x->off;
            ent.len = x->len;
            ent.crc = x->crc;
        }
        const char *p = log_at(e, ent.off, (uint64_t)ent.len + 1);
        const char *prev = ent.off > 0 ? log_at(e, ent.off - 1, 1) : "\n";
        if (!p || !prev || p[ent.len] != '\n' || *prev != '\n' || z_checksum32(p, ent.len) != ent.crc) {
            /* A line that still carries this entry's id was reported by
             * the line pass already. */
            const char *lid;
            size_t lidlen, rest;
            if (p && prev && *prev == '\n' && zj_line_id(p, ent.len, &lid, &lidlen, &rest) &&
                zi_hash(lid, lidlen) == ent.hash)
                continue;
            r.bad_lines++;
            if (ent.off < r.first_bad_offset) r.first_bad_offset = ent.off;
            if (!first[0])
                snprintf(first, sizeof first,
                         "collection %s: the document indexed at byte offset %llu of %s is damaged (checksum or "
                         "line boundary)", e->name, (unsigned long long)ent.off, e->data_path);
        }
        if (c->progress && (i & 0xffff) == 0) c->progress(c->progress_ctx, end + end * i / (slots + e->ov.n), end * 2);
    }
    z_free(sup);
    if (r.live != e->count) {
        r.index_errors++;
        if (!first[0])
            snprintf(first, sizeof first, "collection %s: index counts %llu documents, the log holds %llu live",
                     e->name, (unsigned long long)e->count, (unsigned long long)r.live);
    }
    int frc = e->layout == ZIPPY_LAYOUT_FILES ? files_verify_docs(e, &r, first, sizeof first) : ZIPPY_OK;
    pthread_rwlock_unlock(&e->rw);
    if (frc) {
        zj_doc_free(doc);
        return frc;
    }
    zj_doc_free(doc);
    if (r.first_bad_offset == UINT64_MAX) r.first_bad_offset = 0;
    if (out) *out = r;
    if (r.bad_lines || r.index_errors) return z_err(ZIPPY_ECORRUPT, "%s", first);
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Files layout                                                         */
/* ------------------------------------------------------------------ */
/*
 * docs/<file>.json is the truth (docs/FORMAT.md 2a). The JSONL engine above
 * runs over a derived cache, meta/cache.jsonl + meta/cache.idx, so reads,
 * scans, get_at, count and stats work exactly as for the JSONL layout.
 * meta/files.state records which version (fingerprint) of each docs file the
 * cache holds, as of a cache size and inode (a commit):
 *  - open/refresh: list docs/; with a matching commit only files whose
 *    fingerprint changed are read (and deleted files dropped), else the
 *    cache is rebuilt from docs/ (order: meta/order.ids, else the original
 *    ZDS's meta/doc_index.jsonl, then the other files by name). A read-only
 *    handle applies all this in memory (append_line keeps lines buffered).
 *  - writes go to the cache at once and to docs/ at flush: for each pending
 *    id its latest version from the cache goes to docs/.<file>.tmp, fsync,
 *    rename (or unlink for a delete), then docs/ is fsynced once, the cache
 *    written and fdatasynced, and a commit appended to files.state.
 *  - a crash leaves each file old or new (never torn); a cache that matches
 *    no commit is rebuilt, temp files are removed by the next writer.
 */

int ze_coll_layout(const zippy_coll *c) { return c && c->e ? c->e->layout : ZIPPY_LAYOUT_JSONL; }

#define FILES_READ_MAX ((size_t)ZIPPY_DOC_MAX * 4) /* pretty text may exceed the compact limit */
#define META_TEXT_MAX ((size_t)1 << 34)
#define FILES_GITIGNORE "cache.jsonl\ncache.idx\nfiles.state\nlock\n*.tmp\n*.compact\n"

static int files_sync_mode(const zengine *e) { return e->sync_mode != ZIPPY_SYNC_NONE; }

/* Lists docs/ as zos_list_dir does (sorted names, negative errno). In an
 * archive: the entries directly under <dir>/docs/ whose names end in
 * ".json" (subdirectories and other names are not documents there). */
static int files_list(const zengine *e, char ***names, size_t *nn) {
    if (!e->zar) return zos_list_dir(e->docs_dir, names, nn);
    char *dir = path_join(e->docs_dir, ""), **v = NULL;
    size_t n = 0, k = 0;
    if (!dir) return -ENOMEM;
    int rc = zr_list_children(e->zar, dir, &v, &n);
    z_free(dir);
    if (rc) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        if (l > 5 && v[i][l - 1] != '/' && !memcmp(v[i] + l - 5, ".json", 5)) v[k++] = v[i];
        else z_free(v[i]);
    }
    v[k] = NULL;
    *names = v;
    *nn = k;
    return 0;
}

/* lstat of a listed docs/ path (an archive's listed entries are files). */
static int files_stat(const zengine *e, const char *path, zos_finfo *fi) {
    if (!e->zar) return zos_lstat_info(path, fi);
    memset(fi, 0, sizeof *fi);
    fi->kind = 1;
    return 0;
}

/* Reads docs/<name> and makes its cache line ({"_id":"<id>",...}\n) in
 * line. With hashed the file's "_id" gives the id (into id, *idlen), else
 * id is given. A bad file is ZIPPY_ECORRUPT naming it (never skipped). */
static int files_read_doc(zengine *e, const char *name, int hashed, char id[ZIPPY_ID_MAX + 1], size_t *idlen,
                          zippy_buf *line, zj_doc *doc) {
    char *path = path_join(e->docs_dir, name), *txt = NULL;
    size_t n = 0;
    int rc = ZIPPY_OK, r;
    if (!path) return z_err_nomem();
    r = ze_read_file(e, path, &txt, &n, FILES_READ_MAX);
    if (r == -EFBIG) {
        rc = z_err(ZIPPY_ETOOBIG, "collection %s: %s is over %zu bytes", e->name, path, FILES_READ_MAX);
        goto cleanup;
    }
    if (r) {
        rc = z_err_os(r, "collection %s: cannot read %s", e->name, path);
        goto cleanup;
    }
    if (hashed) {
        zj_val *v;
        zj_error je;
        zj_doc_reset(doc);
        rc = zj_parse(doc, txt, n, &v, &je);
        if (rc == ZIPPY_ENOMEM) { rc = z_err_nomem(); goto cleanup; }
        if (rc) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s: malformed JSON at byte %zu (line %u, column %u): %s",
                       e->name, path, je.offset, je.line, je.col, je.msg);
            goto cleanup;
        }
        const zj_val *idv = v->type == ZJ_OBJECT ? zj_get(v, "_id", 3) : NULL;
        char canon[ZF_NAME_MAX + 1];
        int h2 = 0;
        if (!idv || idv->type != ZJ_STRING || idv->len == 0 || idv->len > ZIPPY_ID_MAX ||
            zippy_id_valid(idv->u.str, idv->len) != ZIPPY_OK ||
            (zf_name_of(idv->u.str, idv->len, canon, &h2), !h2 || strcmp(canon, name))) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s: a file with a hashed name must hold, as \"_id\", the id "
                       "that gives that name", e->name, path);
            goto cleanup;
        }
        memcpy(id, idv->u.str, idv->len);
        id[idv->len] = 0;
        *idlen = idv->len;
    }
    rc = make_line_ex(e, id, *idlen, txt, n, line, 1);
    if (rc == ZIPPY_EINVAL || rc == ZIPPY_ETOOBIG) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        rc = z_err(rc == ZIPPY_EINVAL ? ZIPPY_ECORRUPT : rc, "collection %s: %s: %s", e->name, path, msg);
    }
cleanup:
    z_free(txt);
    z_free(path);
    return rc;
}

/* A refused cache write of a docs file names the file too. */
static int files_put_err(zengine *e, int rc, const char *id, size_t idlen) {
    char name[ZF_NAME_MAX + 1], msg[1024];
    int hashed;
    zf_name_of(id, idlen, name, &hashed);
    snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    return z_err(rc, "%s (file %s/%s)", msg, e->docs_dir, name);
}

/* Puts a docs file's line into the cache unless the cache already holds an
 * equal document (re-read racy files change nothing). */
static int files_take(zengine *e, const char *id, size_t idlen, const zippy_buf *line, int *changed) {
    loc l;
    int rc = lookup(e, zi_hash(id, idlen), id, idlen, 0, &l);
    if (rc < 0) return rc;
    if (rc == 1) {
        const char *cur = log_at(e, l.off, l.len);
        int same = cur ? zf_same_json(cur, l.len, line->ptr, line->len - 1) : 0;
        if (same < 0) return same;
        if (same) return ZIPPY_OK;
    }
    if ((rc = cache_put_locked(e, id, idlen, line->ptr, line->len, 0))) return files_put_err(e, rc, id, idlen);
    *changed = 1;
    return ZIPPY_OK;
}

static int files_delete_cached(zengine *e, const char *id, size_t idlen, int *changed) {
    loc l;
    int rc = lookup(e, zi_hash(id, idlen), id, idlen, 0, &l);
    if (rc <= 0) return rc;
    char line[ZIPPY_ID_MAX + 64];
    int n = snprintf(line, sizeof line, "{\"_id\":\"%.*s\"%s\n", (int)idlen, id, TOMB_SUFFIX);
    if ((rc = cache_put_locked(e, id, idlen, line, (size_t)n, 1))) return rc;
    *changed = 1;
    return ZIPPY_OK;
}

/* Empties the cache for a rebuild. A writer first removes files.state (so
 * that no commit can match the new cache), then cache.idx and cache.jsonl;
 * a reader drops its mapping and works in memory. */
static int files_reset_cache(zengine *e) {
    int r;
    zi_close(e->base);
    e->base = NULL;
    ov_clear(&e->ov);
    e->count = 0;
    e->wlen = 0;
    e->generation++;
    sup_clear(e);
    zf_map_clear(&e->fstate);
    e->state_ok = 0;
    e->order_dirty = 1;
    if (e->map) zos_munmap(e->map, e->map_cap);
    e->map = NULL;
    e->map_cap = 0;
    if (e->data_fd >= 0) zos_close(e->data_fd);
    e->data_fd = -1;
    e->data_size = e->synced = 0;
    if (!e->writable) return ZIPPY_OK;
    if (e->state_fd >= 0) zos_close(e->state_fd);
    e->state_fd = -1;
    if (((r = zos_unlink(e->state_path)) && r != -ENOENT) || ((r = zos_unlink(e->index_path)) && r != -ENOENT) ||
        (r = zos_fsync_dir(e->meta_dir)) || ((r = zos_unlink(e->data_path)) && r != -ENOENT)) {
        e->broken = 1;
        return z_err_os(r, "collection %s: cannot reset the cache in %s", e->name, e->meta_dir);
    }
    r = zos_open(e->data_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (r < 0) {
        e->broken = 1;
        return z_err_os(r, "collection %s: cannot create %s", e->name, e->data_path);
    }
    e->data_fd = r;
    e->sync_failed = 0;
    e->index_gone = 0;
    (void)zos_fstat_id(e->data_fd, NULL, &e->data_ino);
    return ZIPPY_OK;
}

/* Writes meta/order.ids: the live ids in scan order, one per line. */
static int files_write_order(zengine *e) {
    live_ent *v = NULL;
    size_t n = 0;
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc = build_live(e, &v, &n), r;
    if (rc) return z_err(rc == ZIPPY_ENOMEM ? rc : ZIPPY_ECORRUPT, "collection %s: cannot list its documents for "
                         "%s (%s); run verify", e->name, e->order_path, zippy_strerror(rc));
    if ((rc = zb_reserve(&b, 1))) goto cleanup;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *p = log_at(e, v[i].off, v[i].len), *id;
        size_t idlen, rest;
        if (!p || !zj_line_id(p, v[i].len, &id, &idlen, &rest)) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: invalid cache line at byte offset %llu of %s", e->name,
                       (unsigned long long)v[i].off, e->data_path);
            break;
        }
        if (!(rc = zb_append(&b, id, idlen))) rc = zb_putc(&b, '\n');
    }
    if (rc) goto cleanup;
    if ((r = zos_replace_file(e->order_path, b.ptr, b.len))) {
        rc = z_err_os(r, "collection %s: cannot write %s", e->name, e->order_path);
        goto cleanup;
    }
    e->order_hash = zf_order_hash(b.ptr, b.len);
    e->order_dirty = 0;
cleanup:
    zippy_buf_free(&b);
    z_free(v);
    return rc;
}

/* Replaces meta/files.state with the whole map and one commit for the
 * cache as it is (written out and synced by the caller). */
static int files_state_rewrite(zengine *e) {
    zippy_buf b = ZIPPY_BUF_INIT;
    int64_t now = zos_now_ns();
    int rc = zb_append(&b, ZF_STATE_MAGIC, sizeof ZF_STATE_MAGIC - 1), r;
    for (size_t i = 0; i < e->fstate.n && !rc; i++) {
        zf_ent *x = &e->fstate.v[i];
        if (x->dead) continue;
        rc = zf_state_entry(&b, x);
        x->racy = x->fp.mtime_ns >= now - ZF_RACY_NS;
    }
    if (!rc) rc = zf_state_commit(&b, e->data_size, e->data_ino, e->order_hash, now);
    if (rc) goto cleanup;
    if (e->state_fd >= 0) zos_close(e->state_fd);
    e->state_fd = -1;
    if ((r = zos_replace_file(e->state_path, b.ptr, b.len))) {
        rc = z_err_os(r, "collection %s: cannot write %s", e->name, e->state_path);
        goto cleanup;
    }
    r = zos_open(e->state_path, O_RDWR, 0);
    if (r >= 0) {
        e->state_fd = r;
        e->state_size = b.len;
        e->state_lines = e->fstate.live;
        e->state_tail_dirty = 0;
    }
cleanup:
    zippy_buf_free(&b);
    return rc;
}

/* Appends entry lines (in b) and a commit for the cache as it is. */
static int files_state_append(zengine *e, zippy_buf *b) {
    int rc, r;
    if (e->state_fd < 0) return files_state_rewrite(e);
    if ((rc = zf_state_commit(b, e->data_size, e->data_ino, e->order_hash, zos_now_ns()))) return rc;
    if (e->state_tail_dirty && (r = zos_ftruncate(e->state_fd, e->state_size)))
        return z_err_os(r, "collection %s: cannot truncate %s", e->name, e->state_path);
    e->state_tail_dirty = 0;
    if ((r = zos_pwrite_all(e->state_fd, b->ptr, b->len, e->state_size)) ||
        (files_sync_mode(e) && (r = zos_fdatasync(e->state_fd)))) {
        e->state_tail_dirty = 1;
        return z_err_os(r, "collection %s: cannot append to %s", e->name, e->state_path);
    }
    e->state_size += b->len;
    return ZIPPY_OK;
}

/* Writes the cache's latest version of id to docs/ (or removes its file). */
static int files_write_doc(zengine *e, const char *id, size_t idlen, zippy_buf *txt, zj_doc *doc) {
    char name[ZF_NAME_MAX + 1], tname[ZF_NAME_MAX + 8];
    int hashed, rc, r, fd = -1;
    loc l;
    zf_name_of(id, idlen, name, &hashed);
    snprintf(tname, sizeof tname, ".%s.tmp", name);
    char *path = path_join(e->docs_dir, name), *tmp = path_join(e->docs_dir, tname);
    if (!path || !tmp) { rc = z_err_nomem(); goto cleanup; }
    rc = lookup(e, zi_hash(id, idlen), id, idlen, 0, &l);
    if (rc < 0) goto cleanup;
    if (rc == 0) {
        r = zos_unlink(path);
        rc = r && r != -ENOENT ? z_err_os(r, "collection %s: cannot remove %s", e->name, path) : ZIPPY_OK;
        goto cleanup;
    }
    const char *line = log_at(e, l.off, l.len);
    if (!line) {
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: document \"%.*s\" points past the end of %s", e->name, (int)idlen,
                   id, e->data_path);
        goto cleanup;
    }
    if ((rc = zf_doc_text(line, l.len, hashed, doc, txt))) goto cleanup;
    fd = zos_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { rc = z_err_os(fd, "collection %s: cannot create %s", e->name, tmp); goto cleanup; }
    if ((r = zos_write_all(fd, txt->ptr, txt->len)) || (files_sync_mode(e) && (r = zos_fsync(fd)))) {
        rc = z_err_os(r, "collection %s: cannot write %s", e->name, tmp);
        goto cleanup;
    }
    zos_close(fd);
    fd = -1;
    if ((r = zos_rename(tmp, path))) {
        rc = z_err_os(r, "collection %s: cannot rename %s to %s", e->name, tmp, path);
        goto cleanup;
    }
    rc = ZIPPY_OK;
cleanup:
    if (fd >= 0) zos_close(fd);
    if (rc && tmp) (void)zos_unlink(tmp);
    z_free(path);
    z_free(tmp);
    return rc;
}

/* Makes the cache durable and files.state (and order.ids, when the order
 * changed) describe it. Writer only. */
static int files_commit(zengine *e, int force_checkpoint) {
    int rc;
    if ((rc = write_out(e))) return rc;
    if (files_sync_mode(e) && e->synced < e->data_size && (rc = log_sync(e, e->data_fd, e->data_size))) return rc;
    if ((force_checkpoint ? index_stale(e) : want_checkpoint(e)) && (rc = checkpoint(e))) return rc;
    if ((e->order_dirty || !e->order_hash) && (rc = files_write_order(e))) return rc;
    return files_state_rewrite(e);
}

/* The flush of the files layout (caller holds sync_mu and rw). */
static int files_flush_locked(zengine *e, int force) {
    int rc = ZIPPY_OK, r;
    zippy_buf txt = ZIPPY_BUF_INIT, st = ZIPPY_BUF_INIT;
    zj_doc *doc = NULL;
    char *path = NULL;
    if (!e->writable) return ZIPPY_OK;
    uint64_t before = e->data_size;
    if (e->pend.live) {
        if (!(doc = zj_doc_new())) return z_err_nomem();
        for (size_t i = 0; i < e->pend.n; i++) {
            const zf_ent *x = &e->pend.v[i];
            if (!x->dead && (rc = files_write_doc(e, x->id, x->idlen, &txt, doc))) goto cleanup;
        }
        if (files_sync_mode(e) && (r = zos_fsync_dir(e->docs_dir))) {
            rc = z_err_os(r, "collection %s: cannot sync %s", e->name, e->docs_dir);
            goto cleanup;
        }
    }
    if ((rc = write_out(e))) goto cleanup;
    if (files_sync_mode(e) && e->synced < e->data_size && (rc = log_sync(e, e->data_fd, e->data_size)))
        goto cleanup;
    if (e->pend.live || e->data_size != before) {
        int64_t now = zos_now_ns();
        for (size_t i = 0; i < e->pend.n; i++) {
            const zf_ent *x = &e->pend.v[i];
            char name[ZF_NAME_MAX + 1];
            int hashed;
            zos_finfo fi;
            if (x->dead) continue;
            zf_name_of(x->id, x->idlen, name, &hashed);
            z_free(path);
            if (!(path = path_join(e->docs_dir, name))) { rc = z_err_nomem(); goto cleanup; }
            if ((r = zos_lstat_info(path, &fi))) {
                rc = z_err_os(r, "collection %s: cannot stat %s", e->name, path);
                goto cleanup;
            }
            if (fi.kind == 1) {
                zf_ent *s;
                if ((rc = zf_map_put(&e->fstate, x->id, x->idlen, &s))) goto cleanup;
                s->fp = (zf_fp){fi.size, fi.ino, fi.mtime_ns, fi.ctime_ns};
                s->racy = fi.mtime_ns >= now - ZF_RACY_NS;
                rc = zf_state_entry(&st, s);
            } else {
                zf_map_del(&e->fstate, zf_map_find(&e->fstate, x->id, x->idlen));
                rc = zf_state_removed(&st, x->id, x->idlen);
            }
            if (rc) goto cleanup;
            e->state_lines++;
        }
        if ((rc = files_state_append(e, &st))) goto cleanup;
        zf_map_clear(&e->pend);
    }
    if (force) {
        if (index_stale(e) && (rc = checkpoint(e))) goto cleanup;
        if (e->order_dirty || !e->order_hash) {
            if ((rc = files_write_order(e))) goto cleanup;
            zb_clear(&st);
            /* A long journal is rewritten; else one commit names the new
             * order.ids. */
            rc = e->state_lines > 2 * e->fstate.live + 1024 ? files_state_rewrite(e) : files_state_append(e, &st);
        } else if (e->state_fd < 0 || e->state_lines > 2 * e->fstate.live + 1024) {
            rc = files_state_rewrite(e);
        }
    } else if (want_checkpoint(e)) {
        rc = checkpoint(e);
    }
cleanup:
    z_free(path);
    zippy_buf_free(&txt);
    zippy_buf_free(&st);
    zj_doc_free(doc);
    return rc;
}

/* Adds docs file names[x->aux - 1] to the (fresh) cache and its fingerprint
 * to fstate. */
static int files_add(zengine *e, const zf_ent *x, char **names, zippy_buf *line, zj_doc *doc, int64_t now) {
    const char *name = names[x->aux - 1];
    char id[ZIPPY_ID_MAX + 1];
    size_t idlen = x->idlen;
    zf_ent *s;
    memcpy(id, x->id, idlen + 1);
    int rc = files_read_doc(e, name, strchr(name, '~') != NULL, id, &idlen, line, doc);
    if (rc == ZIPPY_ENOTFOUND) return ZIPPY_OK; /* removed since the listing: gone */
    if (rc) return rc;
    if ((rc = cache_put_locked(e, id, idlen, line->ptr, line->len, 0))) return files_put_err(e, rc, id, idlen);
    if ((rc = zf_map_put(&e->fstate, id, idlen, &s))) return rc;
    s->fp = x->fp;
    s->racy = x->fp.mtime_ns >= now - ZF_RACY_NS;
    return ZIPPY_OK;
}

/* Brings the cache in line with docs/ (incrementally, or rebuilt). Caller
 * holds rw exclusively (or is loading). A writer then commits. */
static int files_sync(zengine *e, int rebuild, zippy_progress_fn prog, void *pctx) {
    char **names = NULL, *otxt = NULL, *dtxt = NULL, *path = NULL;
    size_t nn = 0, olen = 0, dlen = 0;
    zf_map seen = {0};
    zj_doc *doc = zj_doc_new();
    zippy_buf line = ZIPPY_BUF_INIT;
    uint8_t *added = NULL;
    int rc = ZIPPY_OK, r, changed = 0, state_changed = 0;
    int64_t now = zos_now_ns();
    (void)prog;
    (void)pctx;
    if (!doc) return z_err_nomem();
    r = files_list(e, &names, &nn);
    if (r == -ENOENT) {
        names = NULL;
        nn = 0;
        if (e->writable && (((r = zos_mkdir(e->docs_dir, 0755)) && r != -EEXIST) || (r = zos_fsync_dir(e->dir)))) {
            rc = z_err_os(r, "collection %s: cannot create %s", e->name, e->docs_dir);
            goto cleanup;
        }
    } else if (r) {
        rc = z_err_os(r, "collection %s: cannot list %s", e->name, e->docs_dir);
        goto cleanup;
    }
    for (size_t i = 0; i < nn; i++) {
        char id[ZIPPY_ID_MAX + 1];
        size_t idlen = 0;
        zos_finfo fi;
        int k = zf_name_parse(names[i], id, &idlen);
        if (k == ZF_NAME_HIDDEN) continue;
        z_free(path);
        if (!(path = path_join(e->docs_dir, names[i]))) { rc = z_err_nomem(); goto cleanup; }
        if (k == ZF_NAME_TEMP) {
            if (e->writable) (void)zos_unlink(path); /* an interrupted write of ours */
            continue;
        }
        if (k == ZF_NAME_BAD) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s: not a valid document id (rename it)", e->name, path);
            goto cleanup;
        }
        if ((r = files_stat(e, path, &fi))) {
            rc = z_err_os(r, "collection %s: cannot stat %s", e->name, path);
            goto cleanup;
        }
        if (fi.kind == 0) continue; /* removed meanwhile */
        if (fi.kind != 1) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s: not a regular file", e->name, path);
            goto cleanup;
        }
        if (k == ZF_NAME_HASHED && (rc = files_read_doc(e, names[i], 1, id, &idlen, &line, doc))) {
            if (rc != ZIPPY_ENOTFOUND) goto cleanup;
            rc = ZIPPY_OK; /* removed since the listing */
            continue;
        }
        zf_ent *x;
        if ((rc = zf_map_put(&seen, id, idlen, &x))) goto cleanup;
        if (x->aux) {
            rc = z_err(ZIPPY_ECORRUPT, "collection %s: %s and %s both hold document \"%s\"", e->name,
                       names[x->aux - 1], names[i], id);
            goto cleanup;
        }
        x->aux = (uint32_t)(i + 1);
        x->fp = (zf_fp){fi.size, fi.ino, fi.mtime_ns, fi.ctime_ns};
    }
    r = ze_read_file(e, e->order_path, &otxt, &olen, META_TEXT_MAX);
    if (r && r != -ENOENT) {
        rc = z_err_os(r, "collection %s: cannot read %s", e->name, e->order_path);
        goto cleanup;
    }
    uint64_t ohash = zf_order_hash(otxt, olen);
    if (!e->state_ok || ohash != e->order_hash) rebuild = 1;
    if (rebuild) {
        if ((rc = files_reset_cache(e))) goto cleanup;
        if (!(added = z_calloc(seen.n + 1, 1))) { rc = z_err_nomem(); goto cleanup; }
        e->rebuilding = 1;
        /* The order: meta/order.ids, else the original ZDS's
         * meta/doc_index.jsonl ("_id" or "id" per line); stale or unknown
         * entries are skipped; then the other files by name. */
        const char *src = otxt;
        size_t slen = olen;
        int from_index = 0;
        zj_doc *ldoc = NULL;
        if (!otxt && ze_read_file(e, e->docindex_path, &dtxt, &dlen, META_TEXT_MAX) == 0) {
            src = dtxt;
            slen = dlen;
            from_index = 1;
            if (!(ldoc = zj_doc_new())) { rc = z_err_nomem(); goto rebuild_done; }
        }
        for (size_t p = 0; src && p < slen && !rc;) {
            const char *lp = src + p, *nl = memchr(lp, '\n', slen - p);
            size_t ll = nl ? (size_t)(nl - lp) : slen - p;
            p += ll + 1;
            const char *cand = lp;
            size_t clen = ll;
            if (from_index) {
                zj_val *v;
                const zj_val *iv;
                zj_doc_reset(ldoc);
                if (zj_parse(ldoc, lp, ll, &v, NULL) || v->type != ZJ_OBJECT) continue;
                if (!((iv = zj_get(v, "_id", 3)) && iv->type == ZJ_STRING) &&
                    !((iv = zj_get(v, "id", 2)) && iv->type == ZJ_STRING))
                    continue;
                cand = iv->u.str;
                clen = iv->len;
            } else if (clen && cand[clen - 1] == '\r') {
                clen--;
            }
            zf_ent *x = clen ? zf_map_find(&seen, cand, clen) : NULL;
            if (!x || added[x - seen.v]) continue;
            added[x - seen.v] = 1;
            rc = files_add(e, x, names, &line, doc, now);
        }
        for (size_t i = 0; i < seen.n && !rc; i++)
            if (!added[i]) rc = files_add(e, &seen.v[i], names, &line, doc, now);
    rebuild_done:
        zj_doc_free(ldoc);
        e->rebuilding = 0;
        if (rc) goto cleanup;
        changed = 1;
        if (!e->writable) e->order_hash = ohash; /* the next refresh need not rebuild */
    } else {
        /* Files gone: their documents go. */
        for (size_t i = 0; i < e->fstate.n; i++) {
            zf_ent *s = &e->fstate.v[i];
            if (s->dead || zf_map_find(&seen, s->id, s->idlen)) continue;
            if ((rc = files_delete_cached(e, s->id, s->idlen, &changed))) goto cleanup;
            zf_map_del(&e->fstate, s);
            state_changed = 1;
        }
        /* New, changed or racy files, in name order. */
        for (size_t i = 0; i < seen.n; i++) {
            const zf_ent *x = &seen.v[i];
            zf_ent *s = zf_map_find(&e->fstate, x->id, x->idlen);
            if (s && !s->dead && !s->racy && !memcmp(&s->fp, &x->fp, sizeof x->fp)) continue;
            const char *name = names[x->aux - 1];
            char id[ZIPPY_ID_MAX + 1];
            size_t idlen = x->idlen;
            memcpy(id, x->id, idlen + 1);
            rc = files_read_doc(e, name, strchr(name, '~') != NULL, id, &idlen, &line, doc);
            if (rc == ZIPPY_ENOTFOUND) {
                /* removed since the listing: as if it had not been listed */
                if ((rc = files_delete_cached(e, id, idlen, &changed))) goto cleanup;
                if (s) zf_map_del(&e->fstate, s);
                state_changed = 1;
                continue;
            }
            if (rc || (rc = files_take(e, id, idlen, &line, &changed)) || (rc = zf_map_put(&e->fstate, id, idlen, &s)))
                goto cleanup;
            s->fp = x->fp;
            s->racy = x->fp.mtime_ns >= now - ZF_RACY_NS;
            state_changed = 1;
        }
    }
    e->state_ok = 1;
    if (e->writable && (changed || state_changed || e->state_fd < 0)) {
        rc = files_commit(e, rebuild);
        /* A damaged cache (a line that lost its id) is rebuilt. */
        if (rc == ZIPPY_ECORRUPT && !rebuild) rc = files_sync(e, 1, prog, pctx);
    }
cleanup:
    e->rebuilding = 0;
    z_free(path);
    z_free(added);
    z_free(otxt);
    z_free(dtxt);
    zippy_strv_free(names);
    zf_map_clear(&seen);
    zippy_buf_free(&line);
    zj_doc_free(doc);
    return rc;
}

/* Opens a files-layout collection: the cache (or, read-only without one,
 * an empty in-memory cache), files.state, then a sync with docs/. */
static int files_load(zengine *e, int writable, zippy_progress_fn prog, void *pctx) {
    int rc = ZIPPY_OK, r, ours = 0;
    char *st = NULL;
    size_t sl = 0;
    e->data_fd = e->state_fd = -1;
    e->load_note[0] = 0;
    if (writable && (rc = take_writer_lock(e))) return rc;
    e->writable = writable;
    /* Problems of these are the collection's, not the cache's. */
    if ((rc = manifest_read(e, &ours)) || (rc = schema_read(e))) goto fail;
    /* An archive's derived cache files (packed from a store) are ignored:
     * the cache is built in memory from its docs/, once. */
    if (writable || (!e->zar && zos_stat(e->data_path, NULL, NULL) == 0)) {
        rc = writable ? engine_load(e, 1, prog, pctx) : engine_load_stable(e, 0, prog, pctx);
        e->writable = writable;
        if (rc == ZIPPY_ECORRUPT) {
            /* The cache is derived: start it afresh (a reader, in memory). */
            rc = ZIPPY_OK;
            e->load_note[0] = 0;
            if (writable) {
                if (((r = zos_unlink(e->state_path)) && r != -ENOENT) ||
                    ((r = zos_unlink(e->index_path)) && r != -ENOENT) ||
                    ((r = zos_unlink(e->data_path)) && r != -ENOENT) || (r = zos_fsync_dir(e->meta_dir))) {
                    rc = z_err_os(r, "collection %s: cannot remove its damaged cache", e->name);
                    goto fail;
                }
                rc = engine_load(e, 1, prog, pctx);
            } else if ((rc = manifest_read(e, &ours)) == ZIPPY_OK) {
                rc = schema_read(e);
            }
        }
        if (rc) goto fail;
    }
    if (e->data_fd >= 0) {
        r = zos_read_file(e->state_path, &st, &sl, META_TEXT_MAX);
        if (r == 0) {
            size_t match_end = 0;
            int k = zf_state_parse(st, sl, e->data_size, e->data_ino, &e->fstate, &e->order_hash, &match_end);
            if (k < 0) { rc = k; goto fail; }
            e->state_ok = k == 1;
            if (writable && k == 1 && match_end == sl && (r = zos_open(e->state_path, O_RDWR, 0)) >= 0) {
                e->state_fd = r;
                e->state_size = sl;
                e->state_lines = e->fstate.n;
            }
        }
    }
    if ((rc = files_sync(e, !e->state_ok, prog, pctx))) goto fail;
    if (writable) {
        /* A git repository of the store holds docs/, order.ids, manifest.json
         * and schema.json: the rest of meta/ is derived or private. */
        if (zos_stat(e->gitignore_path, NULL, NULL) == -ENOENT &&
            (r = zos_replace_file(e->gitignore_path, FILES_GITIGNORE, sizeof FILES_GITIGNORE - 1))) {
            rc = z_err_os(r, "collection %s: cannot write %s", e->name, e->gitignore_path);
            goto fail;
        }
        if (e->manifest_layout != ZIPPY_LAYOUT_FILES &&
            ((rc = manifest_write(e)) || (rc = ze_update_root_manifest(e->root_path, e->name, e->count, e->layout, 0))))
            goto fail;
    }
    z_free(st);
    return ZIPPY_OK;
fail:
    z_free(st);
    {
        int saved = rc;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", zippy_errmsg());
        engine_unload(e);
        z_err(saved, "%s", msg);
    }
    return rc;
}

/* zippy_coll_refresh of the files layout (caller holds sync_mu and rw). A
 * writer flushes, then syncs; a reader syncs in memory, or reloads once it
 * holds much in memory. */
static int files_refresh_locked(zengine *e) {
    int rc;
    if (e->zar) return ZIPPY_OK; /* an archive never changes */
    if (e->writable) {
        if ((rc = files_flush_locked(e, 0))) return rc;
        return files_sync(e, 0, NULL, NULL);
    }
    if (e->wlen < (64u << 20)) return files_sync(e, 0, NULL, NULL);
    engine_unload(e);
    rc = files_load(e, 0, NULL, NULL);
    e->generation++;
    if (rc) e->broken = 1; /* empty now: never answer as if it were */
    return rc;
}

/* verify's docs/ pass: every file a valid document equal to the cache's,
 * every cached document a file. Caller holds rw (read). */
static int files_verify_docs(zengine *e, zippy_verify_report *r, char *first, size_t cap) {
    char **names = NULL, *path = NULL;
    size_t nn = 0;
    uint64_t matched = 0;
    zj_doc *doc = zj_doc_new();
    zippy_buf line = ZIPPY_BUF_INIT;
    int rc = ZIPPY_OK, k;
    if (!doc) return z_err_nomem();
    k = files_list(e, &names, &nn);
    if (k && k != -ENOENT) {
        r->bad_lines++;
        if (!first[0]) snprintf(first, cap, "collection %s: cannot list %s", e->name, e->docs_dir);
        goto cleanup;
    }
    for (size_t i = 0; i < nn; i++) {
        char id[ZIPPY_ID_MAX + 1];
        size_t idlen = 0;
        zos_finfo fi;
        int kind = zf_name_parse(names[i], id, &idlen);
        if (kind == ZF_NAME_HIDDEN || kind == ZF_NAME_TEMP) continue;
        z_free(path);
        if (!(path = path_join(e->docs_dir, names[i]))) { rc = z_err_nomem(); goto cleanup; }
        const char *why = NULL;
        char msg[1024];
        loc l;
        if (kind == ZF_NAME_BAD) why = "not a valid document id (rename it)";
        else if (files_stat(e, path, &fi) || fi.kind != 1) why = "not a regular file";
        else if ((k = files_read_doc(e, names[i], kind == ZF_NAME_HASHED, id, &idlen, &line, doc))) {
            if (k == ZIPPY_ENOMEM) { rc = k; goto cleanup; }
            snprintf(msg, sizeof msg, "%s", zippy_errmsg());
            r->bad_lines++;
            if (!first[0]) snprintf(first, cap, "%s", msg);
            continue;
        } else if ((k = lookup(e, zi_hash(id, idlen), id, idlen, 1, &l)) < 0) {
            snprintf(msg, sizeof msg, "%s", zippy_errmsg());
            r->bad_lines++;
            if (!first[0]) snprintf(first, cap, "%s", msg);
            continue;
        } else if (k == 0) {
            why = "not in the cache (refresh, or reindex)";
        } else {
            const char *cur = log_at(e, l.off, l.len);
            int same = cur ? zf_same_json(cur, l.len, line.ptr, line.len - 1) : 0;
            if (same < 0) { rc = same; goto cleanup; }
            if (!same) why = "differs from the cache (refresh, or reindex)";
            else matched++;
        }
        if (why) {
            r->bad_lines++;
            if (!first[0]) snprintf(first, cap, "collection %s: %s: %s", e->name, path, why);
        }
    }
    if (matched != e->count) {
        r->index_errors++;
        if (!first[0])
            snprintf(first, cap, "collection %s: the cache holds %llu documents, %s has %llu matching files "
                     "(refresh, or reindex)", e->name, (unsigned long long)e->count, e->docs_dir,
                     (unsigned long long)matched);
    }
cleanup:
    z_free(path);
    zippy_strv_free(names);
    zippy_buf_free(&line);
    zj_doc_free(doc);
    return rc;
}
