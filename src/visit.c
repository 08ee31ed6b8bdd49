/* visit.c - zippy_json_visit: the library's JSON parser exposed as a walk
 * with callbacks, so the Python and Node front ends build native values
 * without a parser of their own.
 *
 * The text is parsed into a DOM first (so nothing is visited when it is
 * invalid, and begin_* know their sizes), then walked. Each thread keeps
 * one DOM arena for reuse: small documents then cost no allocation. */
#include <pthread.h>

#include "json.h"
#include "util.h"

static pthread_key_t doc_key;
static pthread_once_t doc_once = PTHREAD_ONCE_INIT;
static int doc_key_ok;

static void doc_destroy(void *p) { zj_doc_free(p); }
static void doc_key_init(void) { doc_key_ok = pthread_key_create(&doc_key, doc_destroy) == 0; }

/* Arenas that grew past this are dropped after use, not cached. */
#define VISIT_KEEP_BYTES (1u << 20)

static int walk(const zj_val *v, const zippy_json_visitor *vis, void *ctx) {
    int rc;
    uint32_t i;
    switch (v->type) {
    case ZJ_NULL: return vis->null(ctx);
    case ZJ_FALSE: return vis->boolean(ctx, 0);
    case ZJ_TRUE: return vis->boolean(ctx, 1);
    case ZJ_NUMBER: return vis->number(ctx, v->u.str, v->len, (v->flags & ZJ_NUM_INT) != 0);
    case ZJ_STRING: return vis->string(ctx, v->u.str, v->len);
    case ZJ_ARRAY:
        if ((rc = vis->begin_array(ctx, v->len))) return rc;
        for (i = 0; i < v->len; i++)
            if ((rc = walk(&v->u.items[i], vis, ctx))) return rc;
        return vis->end_array(ctx);
    case ZJ_OBJECT:
        if ((rc = vis->begin_object(ctx, v->len))) return rc;
        for (i = 0; i < v->len; i++) {
            const zj_val *k = &v->u.members[2 * i];
            if ((rc = vis->key(ctx, k->u.str, k->len))) return rc;
            if ((rc = walk(&v->u.members[2 * i + 1], vis, ctx))) return rc;
        }
        return vis->end_object(ctx);
    default: return z_err(ZIPPY_ECORRUPT, "json: unknown value type %d", v->type);
    }
}

int zippy_json_visit(const char *json, size_t len, const zippy_json_visitor *v, void *ctx) {
    zj_doc *d = NULL;
    zj_val *root = NULL;
    zj_error err;
    int rc;

    if (!v || !v->begin_object || !v->key || !v->end_object || !v->begin_array || !v->end_array || !v->string ||
        !v->number || !v->boolean || !v->null)
        return z_err(ZIPPY_EINVAL, "json visit: every visitor callback must be set");
    if (!json && len) return z_err(ZIPPY_EINVAL, "json visit: NULL text");
    pthread_once(&doc_once, doc_key_init);
    if (doc_key_ok && (d = pthread_getspecific(doc_key)) != NULL) {
        pthread_setspecific(doc_key, NULL); /* taken: a callback may recurse */
    }
    if (!d && !(d = zj_doc_new())) return ZIPPY_ENOMEM;

    rc = zj_parse(d, json ? json : "", len, &root, &err);
    if (rc == ZIPPY_EINVAL)
        rc = z_err(ZIPPY_EINVAL, "invalid JSON at line %u, column %u: %s", err.line, err.col, err.msg);
    if (rc) goto cleanup;
    rc = walk(root, v, ctx);

cleanup:
    zj_doc_reset(d);
    if (doc_key_ok && !pthread_getspecific(doc_key) && zj_doc_bytes(d) <= VISIT_KEEP_BYTES &&
        pthread_setspecific(doc_key, d) == 0)
        d = NULL;
    zj_doc_free(d);
    return rc;
}
