/* query.c - Mongo-style scan filters and field projections (see query.h).
 *
 * Filters are compiled once into a small tree of nodes (AND / OR / NOT /
 * predicate). Paths are split into segments at parse time and operands stay
 * in the parsed filter DOM, so zq_filter_match never allocates.
 *
 * Semantics (the exact choices):
 *  - A filter is a JSON object; its members are ANDed; {} matches all.
 *  - Top-level operators: $and / $or (non-empty array of filter objects),
 *    $not (one filter object). Any other $-key at top level is an error.
 *  - A field value that is an object whose keys all start with '$' is an
 *    operator object; its operators are ANDed. An object without $-keys is
 *    a literal (deep, key-order-sensitive equality). Mixing both kinds of
 *    keys in one object is an error.
 *  - Operators: $eq, $ne (= not $eq), $gt $gte $lt $lte (operand must be a
 *    number, string, boolean or null), $in / $nin (operand must be an array;
 *    $nin = not $in), $exists (operand must be true or false; $exists:false
 *    = not $exists:true), $not (operand: a non-empty operator object;
 *    matches when the operators do not, including when the field is
 *    missing).
 *  - Equality: same JSON type and equal value; numbers compare by exact
 *    value (1e2 == 100, big integers exact), objects member by member in
 *    order. null equals only null (a missing field is not null).
 *  - Comparisons only hold between values of the same kind: numbers
 *    (exact), strings (bytewise, then shorter first), booleans
 *    (false < true), null (null <= null, null >= null). Anything else,
 *    including arrays/objects against a scalar, does not match.
 *  - A field value that is an array matches $eq/$in when the whole array
 *    equals the operand or any element (one level) equals it; comparisons
 *    match when any element (one level) satisfies them.
 *  - Paths: "a.b.c" walks objects (first member with the key). A canonical
 *    decimal segment ("0", "12"; no leading zeros, at most 18 digits)
 *    applied to an array indexes it (and only that: elements' "0" keys are
 *    not looked at); any other segment applied to an array is looked up in
 *    each element that is an object (nested arrays are skipped), and the
 *    predicate holds if it holds through any of them. Everything else
 *    (a scalar on the way, an index out of range): the field is missing.
 *  - $exists:true holds when the path reaches any value (null included).
 *
 * Projections: see the comment at the start of the Projections section.
 */
#include "query.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* A tiny bump arena: everything a compiled filter/projection needs is   */
/* freed at once.                                                        */
/* ------------------------------------------------------------------ */

typedef struct qchunk {
    struct qchunk *next;
    size_t used, cap;
} qchunk;

#define Q_ALIGN 16u
#define Q_HDR ((sizeof(qchunk) + Q_ALIGN - 1) & ~(size_t)(Q_ALIGN - 1))
#define Q_CHUNK 4096u

static void *q_alloc(qchunk **head, size_t n) {
    size_t need;
    if (!z_add_ok(n, Q_ALIGN - 1, &need)) return NULL;
    need &= ~(size_t)(Q_ALIGN - 1);
    if (need == 0) need = Q_ALIGN;
    qchunk *c = *head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > Q_CHUNK ? need : Q_CHUNK, tot;
        if (!z_add_ok(cap, Q_HDR, &tot)) return NULL;
        c = z_malloc(tot);
        if (!c) return NULL;
        c->next = *head;
        c->used = 0;
        c->cap = cap;
        *head = c;
    }
    void *p = (char *)c + Q_HDR + c->used;
    c->used += need;
    return p;
}

static void q_arena_free(qchunk *c) {
    while (c) {
        qchunk *n = c->next;
        z_free(c);
        c = n;
    }
}

/* ------------------------------------------------------------------ */
/* Compiled filter                                                      */
/* ------------------------------------------------------------------ */

enum { QN_AND, QN_OR, QN_NOT, QN_PRED };
enum { QO_EQ, QO_GT, QO_GTE, QO_LT, QO_LTE, QO_IN, QO_EXISTS };

typedef struct qseg {
    const char *s;
    uint32_t len;
    int64_t idx; /* array index if the segment is canonical decimal, or -1 */
} qseg;

typedef struct qpath {
    uint32_t n;
    qseg *seg;
} qpath;

typedef struct qnode qnode;
struct qnode {
    uint8_t kind;      /* QN_* */
    uint8_t op;        /* QO_* (predicates) */
    uint32_t n;        /* children (AND/OR: n, NOT: 1) */
    qnode *kids;       /* contiguous children */
    const qpath *path; /* predicates */
    const zj_val *arg; /* predicates: the operand (in the filter DOM) */
};

struct zq_filter {
    qchunk *arena;
    zj_doc *doc;
    char *text; /* copy of the filter text (DOM values may point into it) */
    qnode root;
};

/* ---- matching (no allocation) ---- */

/* Integer text of at most 18 digits (fits int64): its value. */
static int q_small_int(const zj_val *v, int64_t *out) {
    if (!(v->flags & ZJ_NUM_INT) || v->len == 0 || v->len > 18) return 0;
    const char *p = v->u.str, *e = p + v->len;
    int neg = *p == '-';
    p += neg;
    if (p == e) return 0;
    int64_t x = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return 0;
        x = x * 10 + (*p - '0');
    }
    *out = neg ? -x : x;
    return 1;
}

/* Exact numeric comparison: a fast path for small integers, else the
 * decimal comparison of json.c. */
static int q_num_cmp(const zj_val *a, const zj_val *b) {
    int64_t x, y;
    if (q_small_int(a, &x) && q_small_int(b, &y)) return (x > y) - (x < y);
    return zj_num_cmp(a, b);
}

static int q_num_eq(const zj_val *a, const zj_val *b) {
    if (a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0) return 1;
    return q_num_cmp(a, b) == 0;
}

static int q_str_cmp(const zj_val *a, const zj_val *b) {
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->u.str, b->u.str, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Deep equality (zj_equal: numbers by exact value, objects in order), with
 * a fast path for scalars. */
static int q_equal(const zj_val *a, const zj_val *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case ZJ_NUMBER: return q_num_eq(a, b);
    case ZJ_STRING:
        return a->len == b->len &&
               (a->len == 0 || memcmp(a->u.str, b->u.str, a->len) == 0);
    case ZJ_ARRAY:
    case ZJ_OBJECT: return zj_equal(a, b);
    default: return 1; /* null, false, true */
    }
}

/* v equals a, or v is an array with an element equal to a. */
static int q_eq_any(const zj_val *v, const zj_val *a) {
    if (q_equal(v, a)) return 1;
    if (v->type == ZJ_ARRAY)
        for (uint32_t i = 0; i < v->len; i++)
            if (q_equal(&v->u.items[i], a)) return 1;
    return 0;
}

static int q_is_bool(const zj_val *v) {
    return v->type == ZJ_TRUE || v->type == ZJ_FALSE;
}

static int q_cmp_ok(int op, const zj_val *v, const zj_val *a) {
    int c;
    switch (a->type) {
    case ZJ_NUMBER:
        if (v->type != ZJ_NUMBER) return 0;
        c = q_num_cmp(v, a);
        break;
    case ZJ_STRING:
        if (v->type != ZJ_STRING) return 0;
        c = q_str_cmp(v, a);
        break;
    case ZJ_TRUE:
    case ZJ_FALSE:
        if (!q_is_bool(v)) return 0;
        c = (v->type == ZJ_TRUE) - (a->type == ZJ_TRUE);
        break;
    case ZJ_NULL:
        if (v->type != ZJ_NULL) return 0;
        c = 0;
        break;
    default: return 0; /* rejected at parse time */
    }
    switch (op) {
    case QO_GT: return c > 0;
    case QO_GTE: return c >= 0;
    case QO_LT: return c < 0;
    default: return c <= 0; /* QO_LTE */
    }
}

/* The predicate on one value the path reached. */
static int q_test(const qnode *n, const zj_val *v) {
    const zj_val *a = n->arg;
    switch (n->op) {
    case QO_EXISTS: return 1;
    case QO_EQ: return q_eq_any(v, a);
    case QO_IN:
        for (uint32_t i = 0; i < a->len; i++)
            if (q_eq_any(v, &a->u.items[i])) return 1;
        return 0;
    default:
        if (q_cmp_ok(n->op, v, a)) return 1;
        if (v->type == ZJ_ARRAY)
            for (uint32_t i = 0; i < v->len; i++)
                if (q_cmp_ok(n->op, &v->u.items[i], a)) return 1;
        return 0;
    }
}

static const zj_val *q_member(const zj_val *obj, const qseg *sg) {
    const zj_val *m = obj->u.members;
    for (uint32_t i = 0; i < obj->len; i++, m += 2)
        if (m->len == sg->len &&
            (sg->len == 0 || (m->u.str[0] == sg->s[0] &&
                              memcmp(m->u.str, sg->s, sg->len) == 0)))
            return m + 1;
    return NULL;
}

/* 1 if the path from segment i on, starting at v, reaches a value that
 * satisfies the predicate. Recursion depth is bounded by the document's
 * nesting (every call descends one level). */
static int q_walk(const qnode *n, const zj_val *v, uint32_t i) {
    const qpath *p = n->path;
    while (i < p->n) {
        const qseg *sg = &p->seg[i];
        if (v->type == ZJ_OBJECT) {
            v = q_member(v, sg);
            if (!v) return 0;
            i++;
        } else if (v->type == ZJ_ARRAY) {
            if (sg->idx >= 0) {
                if ((uint64_t)sg->idx >= v->len) return 0;
                v = &v->u.items[sg->idx];
                i++;
                continue;
            }
            for (uint32_t k = 0; k < v->len; k++) {
                const zj_val *e = &v->u.items[k];
                if (e->type != ZJ_OBJECT) continue;
                const zj_val *c = q_member(e, sg);
                if (c && q_walk(n, c, i + 1)) return 1;
            }
            return 0;
        } else {
            return 0;
        }
    }
    return q_test(n, v);
}

static int q_match(const qnode *n, const zj_val *doc) {
    switch (n->kind) {
    case QN_AND:
        for (uint32_t i = 0; i < n->n; i++)
            if (!q_match(&n->kids[i], doc)) return 0;
        return 1;
    case QN_OR:
        for (uint32_t i = 0; i < n->n; i++)
            if (q_match(&n->kids[i], doc)) return 1;
        return 0;
    case QN_NOT: return !q_match(&n->kids[0], doc);
    default: return q_walk(n, doc, 0);
    }
}

int zq_filter_match(const zq_filter *f, const zj_val *doc) {
    if (!f || !doc) return 0;
    return q_match(&f->root, doc);
}

/* ---- parsing ---- */

typedef struct qparse {
    qchunk **arena;
} qparse;

/* Keys are printed in messages with at most this many bytes. */
#define Q_NAME_MAX 80
#define Q_NAME(v) (int)((v)->len > Q_NAME_MAX ? Q_NAME_MAX : (v)->len), (v)->u.str

static int q_nomem(void) { return z_err_nomem(); }

static int q_is_op(const zj_val *key) {
    return key->len > 0 && key->u.str[0] == '$';
}

static int q_key_is(const zj_val *key, const char *s) {
    size_t n = strlen(s);
    return key->len == n && memcmp(key->u.str, s, n) == 0;
}

static int64_t q_seg_index(const char *s, uint32_t len) {
    if (len == 0 || len > 18) return -1;
    if (s[0] == '0' && len > 1) return -1;
    int64_t v = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int q_parse_path(qparse *qp, const zj_val *key, const qpath **out) {
    const char *s = key->u.str;
    uint32_t len = key->len, nseg = 1;
    if (len == 0) return z_err(ZIPPY_EINVAL, "filter: empty field name");
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] != '.') continue;
        if (i == 0 || i + 1 == len || s[i + 1] == '.')
            return z_err(ZIPPY_EINVAL,
                         "filter: empty segment in field path \"%.*s\"",
                         Q_NAME(key));
        nseg++;
    }
    qpath *p = q_alloc(qp->arena, sizeof *p);
    qseg *sg = p ? q_alloc(qp->arena, (size_t)nseg * sizeof *sg) : NULL;
    if (!sg) return q_nomem();
    uint32_t start = 0, k = 0;
    for (uint32_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') continue;
        sg[k].s = s + start;
        sg[k].len = i - start;
        sg[k].idx = q_seg_index(s + start, i - start);
        k++;
        start = i + 1;
    }
    p->n = nseg;
    p->seg = sg;
    *out = p;
    return ZIPPY_OK;
}

static int q_kids(qparse *qp, qnode *n, int kind, uint32_t count) {
    n->kind = (uint8_t)kind;
    n->n = count;
    n->kids = NULL;
    if (count == 0) return ZIPPY_OK;
    n->kids = q_alloc(qp->arena, (size_t)count * sizeof *n->kids);
    if (!n->kids) return q_nomem();
    memset(n->kids, 0, (size_t)count * sizeof *n->kids);
    return ZIPPY_OK;
}

static void q_pred(qnode *n, int op, const qpath *path, const zj_val *arg) {
    n->kind = QN_PRED;
    n->op = (uint8_t)op;
    n->n = 0;
    n->kids = NULL;
    n->path = path;
    n->arg = arg;
}

/* A predicate wrapped in NOT. */
static int q_not_pred(qparse *qp, qnode *n, int op, const qpath *path,
                      const zj_val *arg) {
    int rc = q_kids(qp, n, QN_NOT, 1);
    if (rc) return rc;
    q_pred(&n->kids[0], op, path, arg);
    return ZIPPY_OK;
}

static int q_parse_ops(qparse *qp, const zj_val *field, const qpath *path,
                       const zj_val *ops, qnode *out);

/* One operator of an operator object. */
static int q_parse_op(qparse *qp, const zj_val *field, const qpath *path,
                      const zj_val *key, const zj_val *arg, qnode *out) {
    static const struct { const char *name; int op; } cmp[] = {
        {"$gt", QO_GT}, {"$gte", QO_GTE}, {"$lt", QO_LT}, {"$lte", QO_LTE}};
    if (!q_is_op(key))
        return z_err(ZIPPY_EINVAL,
                     "filter: field \"%.*s\" mixes $-operators and plain "
                     "keys (\"%.*s\")",
                     Q_NAME(field), Q_NAME(key));
    if (q_key_is(key, "$eq")) {
        q_pred(out, QO_EQ, path, arg);
        return ZIPPY_OK;
    }
    if (q_key_is(key, "$ne")) return q_not_pred(qp, out, QO_EQ, path, arg);
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        if (!q_key_is(key, cmp[i].name)) continue;
        if (arg->type == ZJ_ARRAY || arg->type == ZJ_OBJECT)
            return z_err(ZIPPY_EINVAL,
                         "filter: %s for field \"%.*s\" needs a number, "
                         "string, boolean or null",
                         cmp[i].name, Q_NAME(field));
        q_pred(out, cmp[i].op, path, arg);
        return ZIPPY_OK;
    }
    if (q_key_is(key, "$in") || q_key_is(key, "$nin")) {
        int neg = key->len == 4;
        if (arg->type != ZJ_ARRAY)
            return z_err(ZIPPY_EINVAL,
                         "filter: %s for field \"%.*s\" needs an array",
                         neg ? "$nin" : "$in", Q_NAME(field));
        if (neg) return q_not_pred(qp, out, QO_IN, path, arg);
        q_pred(out, QO_IN, path, arg);
        return ZIPPY_OK;
    }
    if (q_key_is(key, "$exists")) {
        if (!q_is_bool(arg))
            return z_err(ZIPPY_EINVAL,
                         "filter: $exists for field \"%.*s\" needs true or "
                         "false",
                         Q_NAME(field));
        if (arg->type == ZJ_FALSE)
            return q_not_pred(qp, out, QO_EXISTS, path, arg);
        q_pred(out, QO_EXISTS, path, arg);
        return ZIPPY_OK;
    }
    if (q_key_is(key, "$not")) {
        if (arg->type != ZJ_OBJECT || arg->len == 0)
            return z_err(ZIPPY_EINVAL,
                         "filter: $not for field \"%.*s\" needs a non-empty "
                         "operator object",
                         Q_NAME(field));
        for (uint32_t i = 0; i < arg->len; i++) {
            const zj_val *k = &arg->u.members[2 * i];
            if (!q_is_op(k))
                return z_err(ZIPPY_EINVAL,
                             "filter: $not for field \"%.*s\" needs an "
                             "operator object, not key \"%.*s\"",
                             Q_NAME(field), Q_NAME(k));
        }
        int rc = q_kids(qp, out, QN_NOT, 1);
        if (rc) return rc;
        return q_parse_ops(qp, field, path, arg, &out->kids[0]);
    }
    return z_err(ZIPPY_EINVAL,
                 "filter: unknown operator \"%.*s\" for field \"%.*s\"",
                 Q_NAME(key), Q_NAME(field));
}

/* An operator object {"$gt": 1, "$lt": 5} on one field (operators ANDed). */
static int q_parse_ops(qparse *qp, const zj_val *field, const qpath *path,
                       const zj_val *ops, qnode *out) {
    const zj_val *m = ops->u.members;
    if (ops->len == 1) return q_parse_op(qp, field, path, &m[0], &m[1], out);
    int rc = q_kids(qp, out, QN_AND, ops->len);
    for (uint32_t i = 0; i < ops->len && !rc; i++)
        rc = q_parse_op(qp, field, path, &m[2 * i], &m[2 * i + 1],
                        &out->kids[i]);
    return rc;
}

static int q_parse_filter(qparse *qp, const zj_val *f, qnode *out);

static int q_parse_logic(qparse *qp, const zj_val *key, const zj_val *arg,
                         qnode *out) {
    if (q_key_is(key, "$and") || q_key_is(key, "$or")) {
        const char *name = key->len == 4 ? "$and" : "$or";
        if (arg->type != ZJ_ARRAY || arg->len == 0)
            return z_err(ZIPPY_EINVAL,
                         "filter: %s needs a non-empty array of filters",
                         name);
        int rc = q_kids(qp, out, key->len == 4 ? QN_AND : QN_OR, arg->len);
        for (uint32_t i = 0; i < arg->len && !rc; i++) {
            if (arg->u.items[i].type != ZJ_OBJECT)
                return z_err(ZIPPY_EINVAL,
                             "filter: %s element %u is not an object", name,
                             (unsigned)i);
            rc = q_parse_filter(qp, &arg->u.items[i], &out->kids[i]);
        }
        return rc;
    }
    if (q_key_is(key, "$not")) {
        if (arg->type != ZJ_OBJECT)
            return z_err(ZIPPY_EINVAL, "filter: $not needs a filter object");
        int rc = q_kids(qp, out, QN_NOT, 1);
        if (rc) return rc;
        return q_parse_filter(qp, arg, &out->kids[0]);
    }
    return z_err(ZIPPY_EINVAL, "filter: unknown operator \"%.*s\"",
                 Q_NAME(key));
}

/* {"field": value-or-operators} */
static int q_parse_field(qparse *qp, const zj_val *key, const zj_val *val,
                         qnode *out) {
    const qpath *path = NULL;
    int rc = q_parse_path(qp, key, &path);
    if (rc) return rc;
    if (val->type == ZJ_OBJECT && val->len > 0) {
        const zj_val *m = val->u.members;
        uint32_t ops = 0;
        const zj_val *op = NULL, *plain = NULL;
        for (uint32_t i = 0; i < val->len; i++) {
            if (q_is_op(&m[2 * i])) {
                ops++;
                if (!op) op = &m[2 * i];
            } else if (!plain) {
                plain = &m[2 * i];
            }
        }
        if (ops == val->len) return q_parse_ops(qp, key, path, val, out);
        if (ops)
            return z_err(ZIPPY_EINVAL,
                         "filter: field \"%.*s\" mixes $-operators (\"%.*s\") "
                         "and plain keys (\"%.*s\")",
                         Q_NAME(key), Q_NAME(op), Q_NAME(plain));
    }
    q_pred(out, QO_EQ, path, val);
    return ZIPPY_OK;
}

static int q_parse_member(qparse *qp, const zj_val *key, const zj_val *val,
                          qnode *out) {
    if (q_is_op(key)) return q_parse_logic(qp, key, val, out);
    return q_parse_field(qp, key, val, out);
}

static int q_parse_filter(qparse *qp, const zj_val *f, qnode *out) {
    if (f->type != ZJ_OBJECT)
        return z_err(ZIPPY_EINVAL, "filter: must be a JSON object");
    const zj_val *m = f->u.members;
    if (f->len == 1) return q_parse_member(qp, &m[0], &m[1], out);
    int rc = q_kids(qp, out, QN_AND, f->len);
    for (uint32_t i = 0; i < f->len && !rc; i++)
        rc = q_parse_member(qp, &m[2 * i], &m[2 * i + 1], &out->kids[i]);
    return rc;
}

void zq_filter_free(zq_filter *f) {
    if (!f) return;
    q_arena_free(f->arena);
    zj_doc_free(f->doc);
    z_free(f->text);
    z_free(f);
}

int zq_filter_parse(zq_filter **out, const char *json, size_t len) {
    if (!out || (!json && len))
        return z_err(ZIPPY_EINVAL, "filter: no filter given");
    zq_filter *f = z_calloc(1, sizeof *f);
    if (!f) return q_nomem();
    f->text = z_malloc(len ? len : 1);
    f->doc = zj_doc_new();
    if (!f->text || !f->doc) {
        zq_filter_free(f);
        return q_nomem();
    }
    if (len) memcpy(f->text, json, len);
    zj_val *v = NULL;
    zj_error e;
    memset(&e, 0, sizeof e);
    int rc = zj_parse(f->doc, f->text, len, &v, &e);
    if (rc == ZIPPY_ENOMEM) {
        zq_filter_free(f);
        return q_nomem();
    }
    if (rc) {
        zq_filter_free(f);
        return z_err(ZIPPY_EINVAL,
                     "filter: invalid JSON at byte %zu (line %u, column %u): "
                     "%s",
                     e.offset, e.line, e.col, e.msg);
    }
    qparse qp = {&f->arena};
    rc = q_parse_filter(&qp, v, &f->root);
    if (rc) {
        zq_filter_free(f);
        return rc;
    }
    *out = f;
    return ZIPPY_OK;
}

/* ------------------------------------------------------------------ */
/* Projections                                                          */
/* ------------------------------------------------------------------ */
/*
 * The field list is compiled into a trie of key names. Applying it walks
 * the document's members in document order and keeps those with a trie
 * node:
 *  - a node that was listed itself ("a") keeps the value whole, even if
 *    longer paths below it were listed too ("a" + "a.b" -> all of "a");
 *  - a node only on the way to listed paths ("a" for "a.b") keeps:
 *      an object: its projection, if that has at least one member;
 *      an array: the projection of each element that is an object, in
 *        order; elements that are not objects or project to nothing are
 *        left out, and the array itself is left out if nothing remains
 *        ({"items":[{"name":..},{"name":..}]} for "items.name");
 *      anything else: nothing (the path is missing).
 *  - Segments are plain key names: "tags.0" looks up key "0" (no array
 *    indexing in projections).
 *  - with_id: the document's first "_id" member is written first and no
 *    "_id" member is written again. Without it "_id" is written only when
 *    listed, in its document position.
 *  - Duplicate keys in the document are each projected, in order.
 * A document that is not an object projects to {}.
 */

typedef struct pnode pnode;
struct pnode {
    pnode *next; /* sibling */
    pnode *kids;
    const char *name;
    uint32_t len;
    int whole;
};

struct zq_proj {
    qchunk *arena;
    pnode root;
};

void zq_proj_free(zq_proj *p) {
    if (!p) return;
    q_arena_free(p->arena);
    z_free(p);
}

static pnode *p_find(const pnode *parent, const char *s, size_t n) {
    for (pnode *k = parent->kids; k; k = k->next)
        if (k->len == n && (n == 0 || memcmp(k->name, s, n) == 0)) return k;
    return NULL;
}

static int p_add(zq_proj *p, const char *s, size_t n, size_t off) {
    if (n == 0)
        return z_err(ZIPPY_EINVAL, "fields: empty field name at byte %zu",
                     off);
    if (n > UINT32_MAX)
        return z_err(ZIPPY_ETOOBIG, "fields: field name too long");
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' && (i == 0 || i + 1 == n || s[i + 1] == '.'))
            return z_err(ZIPPY_EINVAL,
                         "fields: empty segment in path \"%.*s\"",
                         (int)(n > Q_NAME_MAX ? Q_NAME_MAX : n), s);
    pnode *cur = &p->root;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') continue;
        if (cur->whole) return ZIPPY_OK; /* a prefix is already whole */
        size_t sl = i - start;
        pnode *k = p_find(cur, s + start, sl);
        if (!k) {
            k = q_alloc(&p->arena, sizeof *k);
            char *name = k ? q_alloc(&p->arena, sl) : NULL;
            if (!name) return q_nomem();
            memcpy(name, s + start, sl);
            k->name = name;
            k->len = (uint32_t)sl;
            k->kids = NULL;
            k->whole = 0;
            k->next = cur->kids;
            cur->kids = k;
        }
        cur = k;
        start = i + 1;
    }
    cur->whole = 1;
    return ZIPPY_OK;
}

static int p_is_space(char c) { return c == ' ' || c == '\t'; }

int zq_proj_parse(zq_proj **out, const char *fields, size_t len) {
    if (!out || (!fields && len))
        return z_err(ZIPPY_EINVAL, "fields: no field list given");
    zq_proj *p = z_calloc(1, sizeof *p);
    if (!p) return q_nomem();
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && fields[i] != ',') continue;
        size_t a = start, b = i;
        while (a < b && p_is_space(fields[a])) a++;
        while (b > a && p_is_space(fields[b - 1])) b--;
        int rc = p_add(p, fields + a, b - a, start);
        if (rc) {
            zq_proj_free(p);
            return rc;
        }
        start = i + 1;
    }
    *out = p;
    return ZIPPY_OK;
}

static void p_truncate(zippy_buf *b, size_t len) {
    b->len = len;
    if (b->ptr) b->ptr[len] = 0;
}

static int p_value(const pnode *n, const zj_val *v, zippy_buf *out);

/* Writes member (key, v) for trie node k if it has content; *count is the
 * number of members already written in the enclosing object. */
static int p_member(const pnode *k, const zj_val *key, const zj_val *v,
                    zippy_buf *out, uint32_t *count) {
    size_t mark = out->len;
    int rc = ZIPPY_OK;
    if (*count) rc = zb_putc(out, ',');
    if (!rc) rc = zj_write_string(out, key->u.str, key->len);
    if (!rc) rc = zb_putc(out, ':');
    if (rc) return rc;
    if (k->whole) {
        rc = zj_write(out, v, 0);
        if (rc) return rc;
        (*count)++;
        return ZIPPY_OK;
    }
    rc = p_value(k, v, out);
    if (rc < 0) return rc;
    if (rc == 0)
        p_truncate(out, mark);
    else
        (*count)++;
    return ZIPPY_OK;
}

/* Projects v below node n. Returns >0 if something was written, 0 if
 * nothing remains (the caller drops what was written), <0 on error. */
static int p_value(const pnode *n, const zj_val *v, zippy_buf *out) {
    uint32_t count = 0;
    int rc;
    if (v->type == ZJ_OBJECT) {
        if ((rc = zb_putc(out, '{'))) return rc;
        const zj_val *m = v->u.members;
        for (uint32_t i = 0; i < v->len; i++, m += 2) {
            const pnode *k = p_find(n, m->u.str, m->len);
            if (k && (rc = p_member(k, m, m + 1, out, &count))) return rc;
        }
        if ((rc = zb_putc(out, '}'))) return rc;
        return count > 0;
    }
    if (v->type == ZJ_ARRAY) {
        if ((rc = zb_putc(out, '['))) return rc;
        for (uint32_t i = 0; i < v->len; i++) {
            const zj_val *e = &v->u.items[i];
            if (e->type != ZJ_OBJECT) continue;
            size_t mark = out->len;
            if (count && (rc = zb_putc(out, ','))) return rc;
            rc = p_value(n, e, out);
            if (rc < 0) return rc;
            if (rc == 0)
                p_truncate(out, mark);
            else
                count++;
        }
        if ((rc = zb_putc(out, ']'))) return rc;
        return count > 0;
    }
    return 0;
}

static int p_is_id(const zj_val *key) {
    return key->len == 3 && memcmp(key->u.str, "_id", 3) == 0;
}

static int p_apply(const zq_proj *p, const zj_val *doc, int with_id,
                   zippy_buf *out) {
    uint32_t count = 0;
    int rc = zb_putc(out, '{');
    if (rc) return rc;
    if (doc->type == ZJ_OBJECT) {
        const zj_val *m = doc->u.members;
        if (with_id) {
            for (uint32_t i = 0; i < doc->len; i++) {
                if (!p_is_id(&m[2 * i])) continue;
                if ((rc = zj_write_string(out, "_id", 3)) ||
                    (rc = zb_putc(out, ':')) ||
                    (rc = zj_write(out, &m[2 * i + 1], 0)))
                    return rc;
                count = 1;
                break;
            }
        }
        for (uint32_t i = 0; i < doc->len; i++, m += 2) {
            if (with_id && p_is_id(m)) continue;
            const pnode *k = p_find(&p->root, m->u.str, m->len);
            if (k && (rc = p_member(k, m, m + 1, out, &count))) return rc;
        }
    }
    return zb_putc(out, '}');
}

int zq_proj_apply(const zq_proj *p, const zj_val *doc, int with_id,
                  zippy_buf *out) {
    if (!p || !doc || !out)
        return z_err(ZIPPY_EINVAL, "projection: missing argument");
    size_t start = out->len;
    int rc = p_apply(p, doc, with_id, out);
    if (rc) p_truncate(out, start);
    return rc;
}
