/* be_zippy.c - zippy (libzippy, public API only) as a backend of the
 * anchors harness (../shared/anchors-bench). scripts/bench_anchors.sh
 * copies the harness to build/anchors/, drops this file into its src/ and
 * links build/libzippy.a.
 *
 * The store directory is a zippy root with one collection "docs"; key = the
 * record's id, value = the generated document (which carries an "id"
 * member, not "_id", so the store adds "_id" to its log line and gives the
 * document back byte for byte without it).
 *   load, durable : ZIPPY_SYNC_FLUSH, N zippy_put, zippy_coll_flush (the
 *                   log is fdatasynced and the index checkpointed)
 *   load, nosync  : ZIPPY_SYNC_NONE, N zippy_put, zippy_coll_flush
 *   reads         : the store opened read-only; scan = zippy_scan_next
 *                   over everything; get = zippy_get into one reused
 *                   zippy_buf per handle.
 */
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "zippy.h"

typedef struct {
    zippy_root *root;
    zippy_coll *coll;
    zippy_buf buf;
} zp_t;

#define ZCHECK(call)                                                           \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ < 0)                                                           \
            ZB_DIE("zippy: %s: %s (%s)", #call, zippy_strerror(rc_),          \
                   zippy_errmsg());                                            \
    } while (0)

static void *zp_open(const char *dir, const char *variant, int create,
                     int durable, size_t n) {
    (void)variant;
    (void)n;
    zp_t *z = calloc(1, sizeof *z);
    if (!z) ZB_DIE("out of memory");
    zippy_options o = ZIPPY_OPTIONS_INIT;
    if (create) {
        o.flags = ZIPPY_OPEN_CREATE;
        o.sync = durable ? ZIPPY_SYNC_FLUSH : ZIPPY_SYNC_NONE;
    } else {
        o.flags = ZIPPY_OPEN_READONLY;
        o.sync = ZIPPY_SYNC_NONE;
    }
    ZCHECK(zippy_root_open(&z->root, dir, &o));
    ZCHECK(zippy_coll_open(&z->coll, z->root, "docs", NULL));
    return z;
}

static void zp_load(void *h, const zb_record *recs, size_t n) {
    zp_t *z = h;
    for (size_t k = 0; k < n; k++)
        ZCHECK(zippy_put(z->coll, recs[k].id, recs[k].idlen, recs[k].doc,
                         recs[k].len));
    ZCHECK(zippy_coll_flush(z->coll)); /* durable (SYNC_FLUSH) on return */
}

static size_t zp_scan(void *h, zb_visit_fn fn, void *ctx) {
    zp_t *z = h;
    zippy_scan *s = NULL;
    const char *id, *doc;
    size_t idlen, len, count = 0;
    int rc;
    ZCHECK(zippy_scan_open(&s, z->coll, NULL));
    while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &len)) == 1) {
        fn(ctx, doc, len);
        count++;
    }
    ZCHECK(rc);
    zippy_scan_close(s);
    return count;
}

static size_t zp_get_many(void *h, const char *const *ids,
                          const uint32_t *idlens, size_t count, zb_visit_fn fn,
                          void *ctx) {
    zp_t *z = h;
    size_t hits = 0;
    for (size_t i = 0; i < count; i++) {
        int rc = zippy_get(z->coll, ids[i], idlens[i], 0, &z->buf);
        if (rc == ZIPPY_ENOTFOUND) continue;
        ZCHECK(rc);
        fn(ctx, z->buf.ptr, z->buf.len);
        hits++;
    }
    return hits;
}

static void zp_close(void *h) {
    zp_t *z = h;
    ZCHECK(zippy_coll_close(z->coll));
    zippy_root_close(z->root);
    zippy_buf_free(&z->buf);
    free(z);
}

const zb_backend zb_backend_zippy = {.name = "zippy",
                                     .variant = "",
                                     .open = zp_open,
                                     .load = zp_load,
                                     .scan = zp_scan,
                                     .get_many = zp_get_many,
                                     .close = zp_close};
