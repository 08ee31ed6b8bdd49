/* schema.c - canonical document schemas and their differences, for strict
 * collections (see schema.h). */
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "util.h"

typedef struct member {
    const zj_val *key, *val;
    uint32_t pos;
} member;

static int key_cmp(const zj_val *a, const zj_val *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->u.str, b->u.str, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int member_cmp(const void *pa, const void *pb) {
    const member *a = pa, *b = pb;
    int c = key_cmp(a->key, b->key);
    if (c) return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static const char *leaf_name(const zj_val *v) {
    switch (v->type) {
    case ZJ_NULL: return "null";
    case ZJ_FALSE:
    case ZJ_TRUE: return "boolean";
    case ZJ_NUMBER: return "number";
    case ZJ_STRING: return "string";
    case ZJ_ARRAY: return "array";
    default: return NULL;
    }
}

/* Members of obj sorted by key; for a repeated key only its last member is
 * kept. *out is owned by the caller (z_free). */
static int sorted_members(const zj_val *obj, int skip_id, member **out, size_t *nout) {
    size_t n = 0;
    member *m = z_malloc((obj->len ? obj->len : 1) * sizeof *m);
    if (!m) return z_err_nomem();
    for (uint32_t i = 0; i < obj->len; i++) {
        const zj_val *k = &obj->u.members[2 * i];
        if (skip_id && k->len == 3 && !memcmp(k->u.str, "_id", 3)) continue;
        m[n].key = k;
        m[n].val = &obj->u.members[2 * i + 1];
        m[n].pos = i;
        n++;
    }
    qsort(m, n, sizeof *m, member_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && key_cmp(m[i].key, m[i + 1].key) == 0) continue; /* a later one wins */
        m[w++] = m[i];
    }
    *out = m;
    *nout = w;
    return ZIPPY_OK;
}

/* schema_mode 0: v is a document value; 1: v is a stored schema value. */
static int write_schema(const zj_val *v, int skip_id, int schema_mode, zippy_buf *out) {
    if (v->type != ZJ_OBJECT) {
        if (schema_mode) {
            static const char *const names[] = {"null", "boolean", "number", "string", "array"};
            if (v->type != ZJ_STRING) return ZIPPY_ECORRUPT;
            for (size_t i = 0; i < sizeof names / sizeof *names; i++)
                if (v->len == strlen(names[i]) && !memcmp(v->u.str, names[i], v->len))
                    return zb_printf(out, "\"%s\"", names[i]);
            return ZIPPY_ECORRUPT;
        }
        return zb_printf(out, "\"%s\"", leaf_name(v));
    }
    member *m;
    size_t n;
    int rc = sorted_members(v, skip_id, &m, &n);
    if (rc) return rc;
    rc = zb_putc(out, '{');
    for (size_t i = 0; !rc && i < n; i++) {
        if (i && (rc = zb_putc(out, ','))) break;
        if ((rc = zj_write_string(out, m[i].key->u.str, m[i].key->len)) || (rc = zb_putc(out, ':'))) break;
        rc = write_schema(m[i].val, 0, schema_mode, out);
    }
    if (!rc) rc = zb_putc(out, '}');
    z_free(m);
    return rc;
}

int zs_of(const zj_val *obj, int skip_id, zippy_buf *out) {
    if (!obj || obj->type != ZJ_OBJECT) return z_err(ZIPPY_EINVAL, "a schema is taken of a JSON object");
    return write_schema(obj, skip_id, 0, out);
}

int zs_canon(const zj_val *schema, zippy_buf *out) {
    if (!schema || schema->type != ZJ_OBJECT) return ZIPPY_ECORRUPT;
    return write_schema(schema, 0, 1, out);
}

/* ---- differences ---- */

#define DIFF_SHOWN 8

typedef struct diff_ctx {
    zippy_buf *msg;
    char path[1024];
    size_t n; /* differences found */
} diff_ctx;

/* Name of a schema value: "object" or its (short) type string. */
typedef struct tname { char s[16]; } tname;
static tname type_of(const zj_val *v) {
    tname t;
    if (v->type == ZJ_OBJECT || v->type != ZJ_STRING || v->len >= sizeof t.s) {
        strcpy(t.s, v->type == ZJ_OBJECT ? "object" : "?");
    } else {
        memcpy(t.s, v->u.str, v->len);
        t.s[v->len] = 0;
    }
    return t;
}

static int note(diff_ctx *d, size_t plen, const zj_val *key, const char *fmt, const char *a, const char *b) {
    if (d->n++ >= DIFF_SHOWN) return ZIPPY_OK;
    int rc = d->n > 1 ? zb_append(d->msg, "; ", 2) : ZIPPY_OK;
    if (!rc) rc = zb_printf(d->msg, fmt, (int)plen, d->path, plen ? "." : "", (int)key->len, key->u.str, a, b);
    return rc;
}

static int diff_obj(diff_ctx *d, size_t plen, const zj_val *want, const zj_val *got) {
    member *mw = NULL, *mg = NULL;
    size_t nw, ng, i = 0, j = 0;
    int rc = sorted_members(want, 0, &mw, &nw);
    if (!rc) rc = sorted_members(got, 0, &mg, &ng);
    while (!rc && (i < nw || j < ng)) {
        int c = i == nw ? 1 : j == ng ? -1 : key_cmp(mw[i].key, mg[j].key);
        if (c < 0) {
            rc = note(d, plen, mw[i].key, "missing field \"%.*s%s%.*s\" (%s)%s", type_of(mw[i].val).s, "");
            i++;
        } else if (c > 0) {
            rc = note(d, plen, mg[j].key, "unexpected field \"%.*s%s%.*s\" (%s)%s", type_of(mg[j].val).s, "");
            j++;
        } else {
            const zj_val *a = mw[i].val, *b = mg[j].val;
            if (a->type == ZJ_OBJECT && b->type == ZJ_OBJECT) {
                size_t klen = mw[i].key->len, sub = plen + (plen ? 1 : 0) + klen;
                if (sub < sizeof d->path) {
                    if (plen) d->path[plen] = '.';
                    memcpy(d->path + sub - klen, mw[i].key->u.str, klen);
                    rc = diff_obj(d, sub, a, b);
                } else {
                    rc = diff_obj(d, plen, a, b); /* path too long to show: named from here */
                }
            } else if (strcmp(type_of(a).s, type_of(b).s) != 0) {
                rc = note(d, plen, mw[i].key, "field \"%.*s%s%.*s\" is %s, the schema has %s", type_of(b).s,
                          type_of(a).s);
            }
            i++;
            j++;
        }
    }
    z_free(mw);
    z_free(mg);
    return rc;
}

int zs_diff(const char *want, size_t wlen, const char *got, size_t glen, zippy_buf *msg) {
    zj_doc *dw = zj_doc_new(), *dg = zj_doc_new();
    zj_val *vw, *vg;
    int rc = ZIPPY_ENOMEM;
    if (!dw || !dg) goto cleanup;
    if ((rc = zj_parse(dw, want, wlen, &vw, NULL)) || (rc = zj_parse(dg, got, glen, &vg, NULL))) goto cleanup;
    if (vw->type != ZJ_OBJECT || vg->type != ZJ_OBJECT) { rc = ZIPPY_ECORRUPT; goto cleanup; }
    diff_ctx d;
    d.msg = msg;
    d.n = 0;
    if ((rc = diff_obj(&d, 0, vw, vg))) goto cleanup;
    if (d.n > DIFF_SHOWN) rc = zb_printf(msg, "; and %zu more", d.n - DIFF_SHOWN);
cleanup:
    zj_doc_free(dw);
    zj_doc_free(dg);
    return rc;
}

int zippy_schema_of(const char *json, size_t len, zippy_buf *out) {
    zj_doc *d;
    zj_val *v;
    zj_error err;
    int rc;
    if (!out) return z_err(ZIPPY_EINVAL, "schema: output buffer is NULL");
    if (!json) return z_err(ZIPPY_EINVAL, "schema: JSON is NULL");
    if (!(d = zj_doc_new())) return ZIPPY_ENOMEM;
    rc = zj_parse(d, json, len, &v, &err);
    if (rc == ZIPPY_EINVAL)
        rc = z_err(ZIPPY_EINVAL, "schema: malformed JSON at line %u, column %u: %s", err.line, err.col, err.msg);
    else if (!rc && v->type != ZJ_OBJECT)
        rc = z_err(ZIPPY_EINVAL, "schema: a document must be a JSON object");
    if (!rc) {
        zb_clear(out);
        rc = zs_of(v, 0, out);
    }
    zj_doc_free(d);
    return rc;
}
