/* files.c - names, document texts, id maps and the state journal of the
 * file-per-document layout (see files.h). */
#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

size_t zf_name_of(const char *id, size_t idlen, char out[ZF_NAME_MAX + 1], int *hashed) {
    char enc[3 * ZIPPY_ID_MAX + 1];
    size_t n = 0;
    if (idlen > ZIPPY_ID_MAX) idlen = ZIPPY_ID_MAX; /* callers pass valid ids */
    for (size_t i = 0; i < idlen; i++) {
        char c = id[i];
        if (c == ':' || c == ';') {
            enc[n++] = '%';
            enc[n++] = '3';
            enc[n++] = c == ':' ? 'A' : 'B';
        } else {
            enc[n++] = c;
        }
    }
    *hashed = 0;
    if (n + 10 <= ZF_NAME_MAX) { /* the temp name ".<name>.json.tmp" must fit too */
        memcpy(out, enc, n);
        memcpy(out + n, ".json", 6);
        return n + 5;
    }
    /* Long: a readable prefix cut at a character boundary (never inside a
     * UTF-8 sequence or a %XX escape), then the hash of the whole id. */
    size_t k = ZF_PREFIX_MAX;
    while (k > 0 && ((unsigned char)enc[k] & 0xC0) == 0x80) k--;
    if (k >= 1 && enc[k - 1] == '%') k -= 1;
    else if (k >= 2 && enc[k - 2] == '%') k -= 2;
    *hashed = 1;
    int m = snprintf(out, ZF_NAME_MAX + 1, "%.*s~%016llx.json", (int)k, enc,
                     (unsigned long long)z_hash64(id, idlen));
    return (size_t)m;
}

static int ends_with(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

static int is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int zf_name_parse(const char *name, char id[ZIPPY_ID_MAX + 1], size_t *idlen) {
    size_t n = strlen(name);
    if (name[0] == '.') return n > 10 && ends_with(name, n, ".json.tmp") ? ZF_NAME_TEMP : ZF_NAME_HIDDEN;
    if (n <= 5 || !ends_with(name, n, ".json")) return ZF_NAME_BAD;
    size_t stem = n - 5;
    const char *tilde = memchr(name, '~', stem);
    if (tilde) {
        /* <prefix>~<16 lowercase hex>.json; the file's "_id" decides. */
        size_t pre = (size_t)(tilde - name);
        if (stem - pre != 17 || pre == 0) return ZF_NAME_BAD;
        for (size_t i = pre + 1; i < stem; i++)
            if (!is_lower_hex(name[i])) return ZF_NAME_BAD;
        return ZF_NAME_HASHED;
    }
    size_t k = 0;
    for (size_t i = 0; i < stem; i++) {
        char c = name[i];
        if (c == '%') {
            if (i + 2 >= stem || name[i + 1] != '3' || (name[i + 2] != 'A' && name[i + 2] != 'B'))
                return ZF_NAME_BAD;
            c = name[i + 2] == 'A' ? ':' : ';';
            i += 2;
        }
        if (k == ZIPPY_ID_MAX) return ZF_NAME_BAD;
        id[k++] = c;
    }
    id[k] = 0;
    if (zippy_id_valid(id, k) != ZIPPY_OK) return ZF_NAME_BAD;
    /* Only the canonical spelling: one file per id. */
    char canon[ZF_NAME_MAX + 1];
    int hashed;
    size_t cn = zf_name_of(id, k, canon, &hashed);
    if (hashed || cn != n || memcmp(canon, name, n)) return ZF_NAME_BAD;
    *idlen = k;
    return ZF_NAME_ID;
}

/* ------------------------------------------------------------------ */
/* Document texts                                                      */
/* ------------------------------------------------------------------ */

int zf_doc_text(const char *line, size_t len, int with_id, zj_doc *doc, zippy_buf *out) {
    zj_val *v;
    zj_doc_reset(doc);
    int rc = zj_parse(doc, line, len, &v, NULL);
    if (rc == ZIPPY_ENOMEM) return z_err_nomem();
    if (rc || v->type != ZJ_OBJECT) return z_err(ZIPPY_ECORRUPT, "unparsable cache line");
    zj_val top = *v;
    if (!with_id && top.len && top.u.members[0].len == 3 && !memcmp(top.u.members[0].u.str, "_id", 3)) {
        top.u.members += 2;
        top.len--;
    }
    zb_clear(out);
    if ((rc = zj_write(out, &top, 2))) return rc;
    return zb_putc(out, '\n');
}

int zf_same_json(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen == blen && !memcmp(a, b, alen)) return 1;
    zj_doc *da = zj_doc_new(), *db = zj_doc_new();
    zippy_buf ca = ZIPPY_BUF_INIT, cb = ZIPPY_BUF_INIT;
    zj_val *va, *vb;
    int rc;
    if (!da || !db) { rc = z_err_nomem(); goto cleanup; }
    if (zj_parse(da, a, alen, &va, NULL) || zj_parse(db, b, blen, &vb, NULL)) { rc = 0; goto cleanup; }
    if ((rc = zj_write(&ca, va, 0)) || (rc = zj_write(&cb, vb, 0))) goto cleanup;
    rc = ca.len == cb.len && !memcmp(ca.ptr, cb.ptr, ca.len);
cleanup:
    zippy_buf_free(&ca);
    zippy_buf_free(&cb);
    zj_doc_free(da);
    zj_doc_free(db);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Id maps                                                             */
/* ------------------------------------------------------------------ */

zf_ent *zf_map_find(const zf_map *m, const char *id, size_t idlen) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)z_hash64(id, idlen) & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (!s) return NULL;
        zf_ent *x = &m->v[s - 1];
        if (x->idlen == idlen && !memcmp(x->id, id, idlen)) return x;
    }
}

static int map_grow(zf_map *m) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint32_t *ns = z_calloc(ncap, sizeof *ns);
    if (!ns) return z_err_nomem();
    for (size_t k = 0; k < m->n; k++) {
        size_t j = (size_t)z_hash64(m->v[k].id, m->v[k].idlen) & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = (uint32_t)(k + 1);
    }
    z_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return ZIPPY_OK;
}

int zf_map_put(zf_map *m, const char *id, size_t idlen, zf_ent **out) {
    zf_ent *x = zf_map_find(m, id, idlen);
    int rc;
    if (x) {
        if (x->dead) {
            x->dead = 0;
            m->live++;
        }
        *out = x;
        return ZIPPY_OK;
    }
    if ((m->n + 1) * 2 > m->cap && (rc = map_grow(m))) return rc;
    if (m->n >= UINT32_MAX - 1) return z_err(ZIPPY_ETOOBIG, "too many documents");
    if (m->n == m->vcap) {
        size_t nv = m->vcap ? m->vcap * 2 : 64;
        zf_ent *v = z_realloc(m->v, nv * sizeof *v);
        if (!v) return z_err_nomem();
        m->v = v;
        m->vcap = nv;
    }
    char *copy = z_strndup(id, idlen);
    if (!copy) return z_err_nomem();
    x = &m->v[m->n];
    memset(x, 0, sizeof *x);
    x->id = copy;
    x->idlen = (uint16_t)idlen;
    size_t mask = m->cap - 1, j = (size_t)z_hash64(id, idlen) & mask;
    while (m->slots[j]) j = (j + 1) & mask;
    m->slots[j] = (uint32_t)++m->n;
    m->live++;
    *out = x;
    return ZIPPY_OK;
}

void zf_map_del(zf_map *m, zf_ent *x) {
    if (x && !x->dead) {
        x->dead = 1;
        m->live--;
    }
}

void zf_map_clear(zf_map *m) {
    for (size_t i = 0; i < m->n; i++) z_free(m->v[i].id);
    z_free(m->v);
    z_free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ */
/* The state journal                                                   */
/* ------------------------------------------------------------------ */

/* Strict unsigned / signed decimal fields separated by one space. */
static int take_u64(const char **p, const char *e, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    if (s >= e || *s < '0' || *s > '9') return 0;
    while (s < e && *s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    *out = v;
    *p = s;
    return 1;
}
static int take_i64(const char **p, const char *e, int64_t *out) {
    int neg = *p < e && **p == '-';
    if (neg) (*p)++;
    uint64_t v;
    if (!take_u64(p, e, &v) || v > INT64_MAX) return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}
static int take_sp(const char **p, const char *e) {
    if (*p < e && **p == ' ') { (*p)++; return 1; }
    return 0;
}
static int take_hex(const char **p, const char *e, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    int k = 0;
    for (; s < e && k < 16 && is_lower_hex(*s); s++, k++) v = v << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
    if (k != 16) return 0;
    *out = v;
    *p = s;
    return 1;
}

typedef struct commit {
    uint64_t size, ino, order_hash;
    int64_t written_ns;
} commit;

static int parse_commit(const char *p, const char *e, commit *c) {
    return take_sp(&p, e) && take_u64(&p, e, &c->size) && take_sp(&p, e) && take_u64(&p, e, &c->ino) &&
           take_sp(&p, e) && take_hex(&p, e, &c->order_hash) && take_sp(&p, e) && take_i64(&p, e, &c->written_ns) &&
           p == e;
}

int zf_state_parse(const char *text, size_t len, uint64_t cache_size, uint64_t cache_ino, zf_map *m,
                   uint64_t *order_hash, size_t *match_end) {
    size_t ml = sizeof ZF_STATE_MAGIC - 1;
    zf_map_clear(m);
    if (len < ml || memcmp(text, ZF_STATE_MAGIC, ml)) return 0;
    /* Pass 1: the last complete commit line that matches. */
    const char *end = NULL;
    commit c = {0}, want = {0};
    for (const char *p = text + ml, *e = text + len; p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl) break;
        if (*p == '=' && parse_commit(p + 1, nl, &c) && c.size == cache_size && c.ino == cache_ino) {
            end = nl + 1;
            want = c;
        }
        p = nl + 1;
    }
    if (!end) return 0;
    /* Pass 2: entries up to it. Entries of one block are racy when their
     * mtime is within ZF_RACY_NS of that block's commit. */
    size_t *blk = NULL, nblk = 0, capblk = 0;
    int rc = ZIPPY_OK;
    for (const char *p = text + ml; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *q = p;
        if (*p == '=') {
            if (parse_commit(p + 1, nl, &c))
                for (size_t i = 0; i < nblk; i++) {
                    zf_ent *x = &m->v[blk[i]];
                    x->racy = x->fp.mtime_ns >= c.written_ns - ZF_RACY_NS;
                }
            nblk = 0;
        } else if (*p == '-') {
            q = p + 1;
            if (take_sp(&q, nl) && q < nl) zf_map_del(m, zf_map_find(m, q, (size_t)(nl - q)));
        } else {
            zf_fp fp;
            if (take_u64(&q, nl, &fp.size) && take_sp(&q, nl) && take_i64(&q, nl, &fp.mtime_ns) && take_sp(&q, nl) &&
                take_i64(&q, nl, &fp.ctime_ns) && take_sp(&q, nl) && take_u64(&q, nl, &fp.ino) && take_sp(&q, nl) &&
                q < nl && nl - q <= ZIPPY_ID_MAX) {
                zf_ent *x;
                if (nblk == capblk) {
                    size_t ncap = capblk ? capblk * 2 : 256;
                    size_t *nb = z_realloc(blk, ncap * sizeof *nb);
                    if (!nb) { rc = z_err_nomem(); break; }
                    blk = nb;
                    capblk = ncap;
                }
                if ((rc = zf_map_put(m, q, (size_t)(nl - q), &x))) break;
                x->fp = fp;
                x->racy = 1; /* until its commit says otherwise */
                blk[nblk++] = (size_t)(x - m->v);
            }
        }
        p = nl + 1;
    }
    z_free(blk);
    if (rc) {
        zf_map_clear(m);
        return rc;
    }
    *order_hash = want.order_hash;
    *match_end = (size_t)(end - text);
    return 1;
}

int zf_state_entry(zippy_buf *out, const zf_ent *x) {
    int rc = zb_printf(out, "%llu %lld %lld %llu ", (unsigned long long)x->fp.size, (long long)x->fp.mtime_ns,
                       (long long)x->fp.ctime_ns, (unsigned long long)x->fp.ino);
    if (!rc) rc = zb_append(out, x->id, x->idlen);
    return rc ? rc : zb_putc(out, '\n');
}

int zf_state_removed(zippy_buf *out, const char *id, size_t idlen) {
    int rc = zb_append(out, "- ", 2);
    if (!rc) rc = zb_append(out, id, idlen);
    return rc ? rc : zb_putc(out, '\n');
}

int zf_state_commit(zippy_buf *out, uint64_t cache_size, uint64_t cache_ino, uint64_t order_hash, int64_t now_ns) {
    return zb_printf(out, "= %llu %llu %016llx %lld\n", (unsigned long long)cache_size, (unsigned long long)cache_ino,
                     (unsigned long long)order_hash, (long long)now_ns);
}

uint64_t zf_order_hash(const char *text, size_t len) { return text ? z_hash64(text, len) : 0; }
