/* convert.c - zippy_coll_convert: changes a collection's storage layout in
 * place, crash-safely.
 *
 * The documents are copied, in scan order, into a fresh collection of the
 * target layout built in the hidden store <root>/.convert-<name>/; once
 * that copy is complete and flushed, two renames swap it in:
 *
 *   1. collections/<name>                    -> .convert-<name>/old
 *   2. .convert-<name>/collections/<name>    -> collections/<name>
 *
 * and the hidden directory is removed. zc_recover() (run by writable root
 * opens and by the next conversion) finishes or undoes an interrupted one:
 * collections/<name> missing means the crash fell between the renames, and
 * the complete copy is renamed into place; otherwise the leftover is
 * removed. Nothing acknowledged is lost at any point: until rename 2 the
 * original is intact (in place or at .convert-<name>/old). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "engine.h"
#include "os.h"
#include "util.h"

#define CONVERT_PREFIX ".convert-"
#define CONVERT_BATCH (4u << 20) /* bytes of JSONL per put_jsonl call */

static char *pathf(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *p = z_malloc(n);
    if (p) snprintf(p, n, fmt, a, b ? b : "");
    return p;
}

static int is_dir(const char *p) {
    int kind = 0;
    return zos_lstat_kind(p, &kind) == 0 && kind == 2;
}

/* Finishes or undoes an interrupted conversion of collection `name`. */
static int recover_one(const char *root_path, const char *name) {
    int rc = ZIPPY_OK, r, lock_fd = -1;
    char *lk = NULL;
    char *tmp = pathf("%s/" CONVERT_PREFIX "%s", root_path, name);
    char *live = pathf("%s/collections/%s", root_path, name);
    char *copy = tmp ? pathf("%s/collections/%s", tmp, name) : NULL;
    char *old = tmp ? pathf("%s/%s", tmp, "old") : NULL;
    char *cdir = pathf("%s/%s", root_path, "collections");
    if (!tmp || !live || !copy || !old || !cdir) { rc = z_err_nomem(); goto cleanup; }
    if (!is_dir(tmp)) goto cleanup;
    /* A conversion still running (in another process) holds this lock. */
    if (!(lk = pathf("%s/%s", tmp, "convert.lock"))) { rc = z_err_nomem(); goto cleanup; }
    if ((lock_fd = zos_open(lk, O_RDWR | O_CREAT, 0644)) < 0) {
        rc = z_err_os(lock_fd, "store %s: cannot open %s", root_path, lk);
        goto cleanup;
    }
    if ((r = zos_flock(lock_fd, LOCK_EX | LOCK_NB))) {
        if (r != -EWOULDBLOCK) rc = z_err_os(r, "store %s: cannot lock %s", root_path, lk);
        goto cleanup;
    }
    if (!is_dir(live)) {
        /* Between the renames (or before the first, if the collection had
         * vanished): the copy is complete only once the original moved. */
        const char *src = is_dir(old) && is_dir(copy) ? copy : is_dir(old) ? old : NULL;
        if (src) {
            if ((r = zos_rename(src, live)) || (r = zos_fsync_dir(cdir))) {
                rc = z_err_os(r, "store %s: cannot finish the interrupted conversion of collection %s", root_path,
                              name);
                goto cleanup;
            }
        }
    }
    if ((r = zos_rm_rf(tmp)) && r != -ENOENT)
        rc = z_err_os(r, "store %s: cannot remove %s", root_path, tmp);
    else
        (void)zos_fsync_dir(root_path);
cleanup:
    if (lock_fd >= 0) zos_close(lock_fd);
    z_free(lk);
    z_free(tmp);
    z_free(live);
    z_free(copy);
    z_free(old);
    z_free(cdir);
    return rc;
}

int zc_recover(const char *root_path) {
    char **names = NULL;
    size_t n = 0;
    int rc = ZIPPY_OK, r = zos_list_dir(root_path, &names, &n);
    if (r == -ENOENT) return ZIPPY_OK;
    if (r) return z_err_os(r, "store %s: cannot list it", root_path);
    size_t pl = strlen(CONVERT_PREFIX);
    for (size_t i = 0; i < n && !rc; i++)
        if (!strncmp(names[i], CONVERT_PREFIX, pl) && ze_name_valid(names[i] + pl))
            rc = recover_one(root_path, names[i] + pl);
    zippy_strv_free(names);
    return rc;
}

/* Copies every document of src into dst in scan order. */
static int copy_docs(zippy_coll *src, zippy_coll *dst, uint64_t *copied) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    zippy_scan *s = NULL;
    zippy_buf batch = ZIPPY_BUF_INIT;
    const char *id, *doc;
    size_t idlen, doclen;
    uint64_t w, total = 0;
    int rc;
    so.flags = ZIPPY_SCAN_WITH_ID;
    if ((rc = zippy_scan_open(&s, src, &so))) return rc;
    for (;;) {
        int k = zippy_scan_next(s, &id, &idlen, &doc, &doclen);
        if (k < 0) { rc = k; break; }
        if (k == 1 && ((rc = zb_append(&batch, doc, doclen)) || (rc = zb_putc(&batch, '\n')))) break;
        if (batch.len && (k == 0 || batch.len >= CONVERT_BATCH)) {
            if ((rc = zippy_put_jsonl(dst, batch.ptr, batch.len, NULL, NULL, 0, &w))) break;
            total += w;
            zb_clear(&batch);
        }
        if (k == 0) break;
    }
    zippy_scan_close(s);
    zippy_buf_free(&batch);
    if (!rc) *copied = total;
    return rc;
}

int zippy_coll_convert(zippy_root *root, const char *name, zippy_layout layout, zippy_progress_fn progress,
                       void *progress_ctx) {
    int rc, r, lock_fd = -1, tmp_fd = -1;
    zippy_coll *src = NULL, *dst = NULL;
    zippy_root *troot = NULL;
    char *tmp = NULL, *live = NULL, *copy = NULL, *old = NULL, *cdir = NULL, *lockp = NULL;
    uint64_t count = 0, copied = 0;
    zippy_stats st;
    (void)progress;
    (void)progress_ctx;
    if (!root) return z_err(ZIPPY_EINVAL, "convert: root is NULL");
    if (layout != ZIPPY_LAYOUT_JSONL && layout != ZIPPY_LAYOUT_FILES)
        return z_err(ZIPPY_EINVAL, "convert: the target layout must be jsonl or files");
    if (!ze_name_valid(name)) return z_err(ZIPPY_EINVAL, "invalid collection name \"%s\"", name ? name : "");
    const char *root_path = zippy_root_path(root);
    if (zippy_root_writable(root) != 1)
        return z_err(ZIPPY_EREADONLY, "store %s is read-only (opened read-only, or an archive opened in place): "
                                      "cannot convert collection %s", root_path, name);
    if (ze_is_open(root_path, name))
        return z_err(ZIPPY_ELOCKED, "collection %s in %s is open in this process; close it before converting it",
                     name, root_path);
    tmp = pathf("%s/" CONVERT_PREFIX "%s", root_path, name);
    live = pathf("%s/collections/%s", root_path, name);
    copy = tmp ? pathf("%s/collections/%s", tmp, name) : NULL;
    old = tmp ? pathf("%s/%s", tmp, "old") : NULL;
    cdir = pathf("%s/%s", root_path, "collections");
    lockp = live ? pathf("%s/%s", live, "meta/lock") : NULL;
    if (!tmp || !live || !copy || !old || !cdir || !lockp) { rc = z_err_nomem(); goto cleanup; }
    if ((rc = recover_one(root_path, name))) goto cleanup;
    if ((rc = zippy_root_has(root, name)) != 1) {
        if (rc == 0) rc = z_err(ZIPPY_ENOTFOUND, "collection %s not found in store %s", name, root_path);
        goto cleanup;
    }

    /* Hold the collection's writer lock ourselves for the whole conversion
     * and read through a read-only handle (readers take no lock): no writer
     * can change the original between the copy and the swap, and the
     * handle writes nothing into a directory about to be replaced. */
    z_free(lockp);
    if (!(lockp = pathf("%s/%s", live, "meta"))) { rc = z_err_nomem(); goto cleanup; }
    (void)zos_mkdir(lockp, 0755);
    z_free(lockp);
    if (!(lockp = pathf("%s/%s", live, "meta/lock"))) { rc = z_err_nomem(); goto cleanup; }
    if ((lock_fd = zos_open(lockp, O_RDWR | O_CREAT, 0644)) < 0) {
        rc = z_err_os(lock_fd, "collection %s: cannot open %s", name, lockp);
        goto cleanup;
    }
    if ((r = zos_flock(lock_fd, LOCK_EX | LOCK_NB))) {
        rc = r == -EWOULDBLOCK ? z_err(ZIPPY_ELOCKED, "collection %s in %s is locked by another process", name,
                                       root_path)
                               : z_err_os(r, "collection %s: cannot lock %s", name, lockp);
        goto cleanup;
    }
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ZIPPY_OPEN_READONLY;
    if ((rc = zippy_coll_open(&src, root, name, &o))) goto cleanup;
    if ((rc = zippy_coll_stats(src, &st)) || (rc = zippy_count(src, &count))) goto cleanup;
    if (st.layout == (int)layout) goto cleanup; /* already there */

    /* Our own lock on the hidden store: recovery leaves it alone while held. */
    {
        char *lk = pathf("%s/%s", tmp, "convert.lock");
        if (!lk) { rc = z_err_nomem(); goto cleanup; }
        if ((r = zos_mkdir_p(tmp, 0755)) && r != -EEXIST) rc = z_err_os(r, "cannot create %s", tmp);
        else if ((tmp_fd = zos_open(lk, O_RDWR | O_CREAT, 0644)) < 0) rc = z_err_os(tmp_fd, "cannot open %s", lk);
        else if ((r = zos_flock(tmp_fd, LOCK_EX | LOCK_NB))) rc = z_err_os(r, "cannot lock %s", lk);
        z_free(lk);
        if (rc) goto cleanup;
    }
    zippy_options to = ZIPPY_OPTIONS_INIT;
    to.layout = layout;
    to.strict = st.strict;
    to.sync = ZIPPY_SYNC_FLUSH;
    if ((rc = zippy_root_open(&troot, tmp, &to)) || (rc = zippy_coll_open(&dst, troot, name, &to))) goto cleanup;
    if ((rc = copy_docs(src, dst, &copied))) goto cleanup;
    if (copied != count) {
        rc = z_err(ZIPPY_ECORRUPT, "collection %s: %llu documents counted but %llu copied; nothing was changed", name,
                   (unsigned long long)count, (unsigned long long)copied);
        goto cleanup;
    }
    rc = zippy_coll_close(dst);
    dst = NULL;
    if (rc) goto cleanup;
    zippy_root_close(troot);
    troot = NULL;
    zippy_coll_close(src);
    src = NULL;

    if ((r = zos_rename(live, old)) || (r = zos_fsync_dir(cdir)) || (r = zos_fsync_dir(tmp))) {
        rc = z_err_os(r, "collection %s: cannot move the original aside", name);
        goto cleanup;
    }
    if ((r = zos_rename(copy, live)) || (r = zos_fsync_dir(cdir))) {
        rc = z_err_os(r, "collection %s: cannot move the converted copy into place (the next writable open of "
                         "the store finishes it)", name);
        goto cleanup;
    }
    zos_close(lock_fd); /* the lock file went aside with the original */
    lock_fd = -1;
    if ((r = zos_rm_rf(tmp)) && r != -ENOENT) {
        rc = z_err_os(r, "collection %s: converted, but %s could not be removed", name, tmp);
        goto cleanup;
    }
    (void)zos_fsync_dir(root_path);
    rc = ze_update_root_manifest(root_path, name, count, (int)layout, 0);
cleanup:
    zippy_coll_close(dst);
    zippy_root_close(troot);
    zippy_coll_close(src);
    if (rc && tmp && is_dir(tmp) && is_dir(live)) (void)zos_rm_rf(tmp); /* a failed copy: discard it */
    if (tmp_fd >= 0) zos_close(tmp_fd);
    if (lock_fd >= 0) zos_close(lock_fd);
    z_free(tmp);
    z_free(live);
    z_free(copy);
    z_free(old);
    z_free(cdir);
    z_free(lockp);
    return rc;
}
