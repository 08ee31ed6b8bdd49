/* root.c - the store root: zds.json, the collection list, opening
 * collections (through the engine registry). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "convert.h"
#include "engine.h"
#include "json.h"
#include "os.h"
#include "util.h"
#include "zipread.h"

#define ROOT_JSON_MAX (16u << 20)

struct zippy_root {
    char *path;
    zippy_options opts;
    zr_archive *zar; /* a .zds archive opened in place (read-only), or NULL */
    char *prefix;    /* entry prefix of the store in it: "" or "top/" */
};

static char *join2(const char *a, const char *b);

#define ARCHIVE_RO(root) \
    z_err(ZIPPY_EREADONLY, "store %s is an archive opened in place: read-only", (root)->path)

/* Opens the archive at path as a store root: the store is at the top
 * (zds.json or collections/) or under the one top directory (zip -r). */
static int root_open_archive(zippy_root **out, const char *path, const zippy_options *o) {
    zr_archive *a = NULL;
    char **top = NULL, *prefix = NULL;
    size_t ntop = 0, first;
    zippy_root *root = NULL;
    int rc = zr_open(&a, path);
    if (rc) return rc;
    if (zr_find(a, "zds.json") || zr_prefix_range(a, "collections/", &first) || zr_find(a, "collections/")) {
        prefix = z_strdup("");
    } else if ((rc = zr_list_children(a, "", &top, &ntop)) == ZIPPY_OK) {
        if (ntop == 1 && top[0][strlen(top[0]) - 1] == '/') {
            char zj[ZR_NAME_MAX + 32], cd[ZR_NAME_MAX + 32];
            snprintf(zj, sizeof zj, "%szds.json", top[0]);
            snprintf(cd, sizeof cd, "%scollections/", top[0]);
            if (zr_find(a, zj) || zr_prefix_range(a, cd, &first) || zr_find(a, cd)) prefix = z_strdup(top[0]);
            else rc = z_err(ZIPPY_ENOTFOUND, "no zippy store in archive %s (no zds.json or collections/ at its "
                            "top or in %s)", path, top[0]);
        } else {
            rc = z_err(ZIPPY_ENOTFOUND, "no zippy store in archive %s (no zds.json or collections/ at its top)", path);
        }
        if (!rc && !prefix) rc = z_err_nomem();
    }
    zippy_strv_free(top);
    if (!rc && !prefix) rc = z_err_nomem();
    if (!rc) {
        root = z_calloc(1, sizeof *root);
        if (!root || !(root->path = z_strdup(path))) rc = z_err_nomem();
    }
    if (rc) {
        if (root) z_free(root->path);
        z_free(root);
        z_free(prefix);
        zr_close(a);
        return rc;
    }
    root->opts = *o;
    root->opts.flags = (root->opts.flags | ZIPPY_OPEN_READONLY) & ~ZIPPY_OPEN_CREATE;
    root->zar = a;
    root->prefix = prefix;
    *out = root;
    return ZIPPY_OK;
}

/* Reads a store-level file (zds.json) of the root, from the archive when
 * it is one; like zos_read_file. */
static int root_read_file(const zippy_root *root, const char *name, char **out, size_t *len, size_t max) {
    char ent[ZR_NAME_MAX + 64];
    if (!root->zar) {
        char *p = join2(root->path, name);
        if (!p) return -ENOMEM;
        int r = zos_read_file(p, out, len, max);
        z_free(p);
        return r;
    }
    snprintf(ent, sizeof ent, "%s%s", root->prefix, name);
    return zr_read_file(root->zar, ent, out, len, max);
}

int ze_coll_new(zippy_coll **out, zengine *e, int writable, zippy_progress_fn prog, void *pctx);

static char *join2(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = z_malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Takes the root's lock file (serialises zds.json updates across
 * processes). Returns the fd or a negative error (message set). */
static int root_lock(const char *root) {
    char *p = join2(root, ".zds.lock");
    if (!p) return z_err_nomem();
    int fd = zos_open(p, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        int rc = z_err_os(fd, "store %s: cannot open %s", root, p);
        z_free(p);
        return rc;
    }
    z_free(p);
    int r = zos_flock(fd, LOCK_EX);
    if (r) {
        zos_close(fd);
        return z_err_os(r, "store %s: cannot lock", root);
    }
    return fd;
}

/* The last path component of root without trailing slashes, into buf. */
static const char *store_basename(const char *root, char *buf, size_t cap) {
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && root[b - 1] != '/') b--;
    size_t len = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(buf, root + b, len);
    buf[len] = 0;
    return buf;
}

static int is_key(const zj_val *k, const char *name) {
    size_t n = strlen(name);
    return k->len == n && !memcmp(k->u.str, name, n);
}

/* Appends the "collections" object: the old entries with coll set to
 * count (or removed, or added). */
static int write_colls(zippy_buf *b, const zj_val *colls, const char *coll, uint64_t count, int layout,
                       int remove) {
    int rc = zb_putc(b, '{'), first = 1, done = 0;
    if (colls && colls->type == ZJ_OBJECT) {
        for (uint32_t i = 0; !rc && i < colls->len; i++) {
            const zj_val *k = &colls->u.members[2 * i], *cv = &colls->u.members[2 * i + 1];
            int match = coll && k->len == strlen(coll) && !memcmp(k->u.str, coll, k->len);
            if (match && remove) continue;
            rc = zb_append(b, first ? "\n    " : ",\n    ", first ? 5 : 6);
            first = 0;
            rc = rc ? rc : zj_write_string(b, k->u.str, k->len);
            if (match) {
                rc = rc ? rc : zb_printf(b, ": {\"count\": %llu, \"layout\": \"%s\"}", (unsigned long long)count,
                                         ze_layout_name(layout));
                done = 1;
            } else {
                rc = rc ? rc : zb_append(b, ": ", 2);
                rc = rc ? rc : zj_write(b, cv, 0);
            }
        }
    }
    if (!rc && coll && !remove && !done) {
        rc = zb_append(b, first ? "\n    " : ",\n    ", first ? 5 : 6);
        first = 0;
        rc = rc ? rc : zj_write_string(b, coll, strlen(coll));
        rc = rc ? rc : zb_printf(b, ": {\"count\": %llu, \"layout\": \"%s\"}", (unsigned long long)count,
                                 ze_layout_name(layout));
    }
    return rc ? rc : zb_append(b, first ? "}" : "\n  }", first ? 1 : 4);
}

/* Rewrites zds.json: name/description when given, the collection's count
 * (or its removal), "modified"; every other member, known or not, is kept
 * in its place. A zds.json of a newer format version is not rewritten.
 * Caller holds the root lock. */
static int write_root_json(const char *root, const char *set_name, const char *set_desc, const char *coll,
                           uint64_t count, int layout, int remove) {
    char *path = join2(root, "zds.json"), *txt = NULL;
    zj_doc *d = zj_doc_new();
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc = ZIPPY_OK, r;
    zj_val *v = NULL;
    size_t n = 0;
    char now[32], base[256];
    z_utc_now(now, sizeof now);
    if (!path || !d) { rc = z_err_nomem(); goto cleanup; }
    r = zos_read_file(path, &txt, &n, ROOT_JSON_MAX);
    if (r && r != -ENOENT) { rc = z_err_os(r, "store %s: cannot read %s", root, path); goto cleanup; }
    if (!r && (zj_parse(d, txt, n, &v, NULL) || v->type != ZJ_OBJECT)) v = NULL; /* unreadable: rewrite */
    const zj_val *fv = v ? zj_get(v, "format_version", 14) : NULL;
    int64_t ver = 0;
    if (fv && zj_num_i64(fv, &ver) && ver > ZIPPY_FORMAT_VERSION) {
        rc = z_err(ZIPPY_EUNSUPPORTED, "store %s: zds.json has format version %lld, newer than this library's %d",
                   root, (long long)ver, ZIPPY_FORMAT_VERSION);
        goto cleanup;
    }
    int seen_name = 0, seen_desc = 0, seen_fmt = 0, seen_ver = 0, seen_created = 0, seen_mod = 0, seen_colls = 0;
    rc = zb_putc(&b, '{');
    int first = 1;
#define SEP() (rc = rc ? rc : zb_append(&b, first ? "\n  " : ",\n  ", first ? 3 : 4), first = 0)
    for (uint32_t i = 0; v && !rc && i < v->len; i++) {
        const zj_val *k = &v->u.members[2 * i], *val = &v->u.members[2 * i + 1];
        SEP();
        rc = rc ? rc : zj_write_string(&b, k->u.str, k->len);
        rc = rc ? rc : zb_append(&b, ": ", 2);
        if (rc) break;
        if (is_key(k, "name") && !seen_name) {
            seen_name = 1;
            rc = set_name ? zj_write_string(&b, set_name, strlen(set_name)) : zj_write(&b, val, 0);
        } else if (is_key(k, "description") && !seen_desc) {
            seen_desc = 1;
            rc = set_desc ? zj_write_string(&b, set_desc, strlen(set_desc)) : zj_write(&b, val, 0);
        } else if (is_key(k, "format") && !seen_fmt) {
            seen_fmt = 1;
            rc = zb_append(&b, "\"zippy\"", 7);
        } else if (is_key(k, "format_version") && !seen_ver) {
            seen_ver = 1;
            rc = zb_printf(&b, "%d", ZIPPY_FORMAT_VERSION);
        } else if (is_key(k, "modified") && !seen_mod) {
            seen_mod = 1;
            rc = zb_printf(&b, "\"%s\"", now);
        } else if (is_key(k, "collections") && !seen_colls) {
            seen_colls = 1;
            rc = write_colls(&b, val, coll, count, layout, remove);
        } else {
            if (is_key(k, "created")) seen_created = 1;
            rc = zj_write(&b, val, 0);
        }
    }
    if (!seen_name) {
        SEP();
        const char *nm = set_name ? set_name : store_basename(root, base, sizeof base);
        rc = rc ? rc : zb_append(&b, "\"name\": ", 8);
        rc = rc ? rc : zj_write_string(&b, nm, strlen(nm));
    }
    if (!seen_desc) {
        SEP();
        rc = rc ? rc : zb_append(&b, "\"description\": ", 15);
        rc = rc ? rc : (set_desc ? zj_write_string(&b, set_desc, strlen(set_desc)) : zb_append(&b, "\"\"", 2));
    }
    if (!seen_fmt) { SEP(); rc = rc ? rc : zb_append(&b, "\"format\": \"zippy\"", 17); }
    if (!seen_ver) { SEP(); rc = rc ? rc : zb_printf(&b, "\"format_version\": %d", ZIPPY_FORMAT_VERSION); }
    if (!seen_created) { SEP(); rc = rc ? rc : zb_printf(&b, "\"created\": \"%s\"", now); }
    if (!seen_mod) { SEP(); rc = rc ? rc : zb_printf(&b, "\"modified\": \"%s\"", now); }
    if (!seen_colls) {
        SEP();
        rc = rc ? rc : zb_append(&b, "\"collections\": ", 15);
        rc = rc ? rc : write_colls(&b, NULL, coll, count, layout, remove);
    }
#undef SEP
    rc = rc ? rc : zb_append(&b, "\n}\n", 3);
    if (rc) goto cleanup;
    r = zos_replace_file(path, b.ptr, b.len);
    if (r) rc = z_err_os(r, "store %s: cannot write %s", root, path);
cleanup:
    zippy_buf_free(&b);
    zj_doc_free(d);
    z_free(txt);
    z_free(path);
    return rc;
}

int ze_update_root_manifest(const char *root, const char *name, uint64_t count, int layout, int remove) {
    int fd = root_lock(root);
    if (fd < 0) return fd;
    /* Under the lock nobody else is writing zds.json.tmp: a leftover one
     * comes from a crash. */
    char *tmp = join2(root, "zds.json.tmp");
    if (tmp) (void)zos_unlink(tmp);
    z_free(tmp);
    int rc = write_root_json(root, NULL, NULL, name, count, layout, remove);
    zos_close(fd);
    return rc;
}

int zippy_root_open(zippy_root **out, const char *path, const zippy_options *opts) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    if (opts) {
        o.flags = opts->flags;
        o.sync = opts->sync;
        o.strict = opts->strict;
        o.layout = opts->layout;
        if (opts->version >= 1) {
            o.progress = opts->progress;
            o.progress_ctx = opts->progress_ctx;
        }
    }
    if (!path || !*path) return z_err(ZIPPY_EINVAL, "store path is empty");
    if (o.flags & ZIPPY_OPEN_READONLY) o.flags &= ~ZIPPY_OPEN_CREATE;
    {
        int dir = 1;
        if (zos_stat(path, &dir, NULL) == 0 && !dir) return root_open_archive(out, path, &o);
    }
    char *zj = join2(path, "zds.json"), *cd = join2(path, "collections");
    int rc = ZIPPY_OK, is_dir = 0, r;
    zippy_root *root = NULL;
    if (!zj || !cd) { rc = z_err_nomem(); goto cleanup; }
    int has_json = zos_stat(zj, NULL, NULL) == 0;
    int has_colls = zos_stat(cd, &is_dir, NULL) == 0 && is_dir;
    if (!has_json && !has_colls) {
        if (!(o.flags & ZIPPY_OPEN_CREATE)) {
            rc = z_err(ZIPPY_ENOTFOUND, "no zippy store at %s (no zds.json or collections/)", path);
            goto cleanup;
        }
        int existed = zos_stat(path, &is_dir, NULL) == 0;
        if (existed && !is_dir) { rc = z_err(ZIPPY_EINVAL, "store path %s is not a directory", path); goto cleanup; }
        if ((r = zos_mkdir_p(cd, 0755)) || (r = zos_fsync_dir(path)) || (r = zos_fsync_parent(path))) {
            rc = z_err_os(r, "cannot create store %s", path);
            goto cleanup;
        }
    } else if (!has_colls && !(o.flags & ZIPPY_OPEN_READONLY)) {
        if ((r = zos_mkdir_p(cd, 0755))) { rc = z_err_os(r, "cannot create %s", cd); goto cleanup; }
    }
    if (!(o.flags & ZIPPY_OPEN_READONLY)) {
        int fd = root_lock(path);
        if (fd < 0) { rc = fd; goto cleanup; }
        char *tmp = join2(path, "zds.json.tmp"); /* a crash's leftover */
        if (tmp) (void)zos_unlink(tmp);
        z_free(tmp);
        rc = zos_stat(zj, NULL, NULL) == 0 ? ZIPPY_OK : write_root_json(path, NULL, NULL, NULL, 0, ZIPPY_LAYOUT_JSONL, 0);
        if (!rc) rc = zc_recover(path); /* layout conversions a crash interrupted */
        zos_close(fd);
        if (rc) goto cleanup;
    }
    if (!(o.flags & ZIPPY_OPEN_READONLY)) {
        /* Refuse up front to write a store of a newer format. */
        char *txt = NULL;
        size_t n = 0;
        zj_doc *d = zj_doc_new();
        zj_val *v;
        int64_t ver = 0;
        if (d && zos_read_file(zj, &txt, &n, ROOT_JSON_MAX) == 0 && zj_parse(d, txt, n, &v, NULL) == ZIPPY_OK &&
            v->type == ZJ_OBJECT && zj_get(v, "format_version", 14) &&
            zj_num_i64(zj_get(v, "format_version", 14), &ver) && ver > ZIPPY_FORMAT_VERSION)
            rc = z_err(ZIPPY_EUNSUPPORTED, "store %s has format version %lld, newer than this library's %d; "
                       "open it read-only or upgrade zippy", path, (long long)ver, ZIPPY_FORMAT_VERSION);
        zj_doc_free(d);
        z_free(txt);
        if (rc) goto cleanup;
    }
    root = z_calloc(1, sizeof *root);
    if (!root || !(root->path = z_strdup(path))) { rc = z_err_nomem(); goto cleanup; }
    root->opts = o;
    *out = root;
    root = NULL;
cleanup:
    if (root) { z_free(root->path); z_free(root); }
    z_free(zj);
    z_free(cd);
    return rc;
}

void zippy_root_close(zippy_root *root) {
    if (!root) return;
    zr_close(root->zar);
    z_free(root->prefix);
    z_free(root->path);
    z_free(root);
}

const char *zippy_root_path(const zippy_root *root) { return root ? root->path : NULL; }

int zippy_root_writable(const zippy_root *root) {
    return root && !(root->opts.flags & ZIPPY_OPEN_READONLY);
}

int zippy_root_set_info(zippy_root *root, const char *name, const char *description) {
    if (!root) return z_err(ZIPPY_EINVAL, "root is NULL");
    if (root->zar) return ARCHIVE_RO(root);
    if (root->opts.flags & ZIPPY_OPEN_READONLY) return z_err(ZIPPY_EREADONLY, "store %s was opened read-only", root->path);
    int fd = root_lock(root->path);
    if (fd < 0) return fd;
    int rc = write_root_json(root->path, name, description, NULL, 0, ZIPPY_LAYOUT_JSONL, 0);
    zos_close(fd);
    return rc;
}

static int archive_list(zippy_root *root, char ***out, size_t *count) {
    char dir[ZR_NAME_MAX + 32], **all = NULL;
    size_t n = 0, k = 0;
    snprintf(dir, sizeof dir, "%scollections/", root->prefix);
    int rc = zr_list_children(root->zar, dir, &all, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(all[i]);
        if (l > 1 && all[i][l - 1] == '/') {
            all[i][l - 1] = 0;
            if (ze_name_valid(all[i])) {
                char *t = all[k];
                all[k++] = all[i];
                all[i] = t;
                continue;
            }
        }
    }
    for (size_t i = k; i < n; i++) { z_free(all[i]); all[i] = NULL; }
    *out = all;
    if (count) *count = k;
    return ZIPPY_OK;
}

int zippy_root_list(zippy_root *root, char ***out, size_t *count) {
    if (!root) return z_err(ZIPPY_EINVAL, "root is NULL");
    if (root->zar) return archive_list(root, out, count);
    char *cd = join2(root->path, "collections");
    char **all = NULL, **v = NULL;
    size_t n = 0, k = 0;
    int rc = ZIPPY_OK;
    if (!cd) return z_err_nomem();
    int r = zos_list_dir(cd, &all, &n);
    if (r == -ENOENT) {
        r = 0;
        all = NULL;
        n = 0;
    }
    if (r) { rc = z_err_os(r, "store %s: cannot list %s", root->path, cd); goto cleanup; }
    v = z_calloc(n + 1, sizeof *v);
    if (!v) { rc = z_err_nomem(); goto cleanup; }
    for (size_t i = 0; i < n; i++) {
        char *sub = join2(cd, all[i]);
        int is_dir = 0;
        if (sub && ze_name_valid(all[i]) && zos_stat(sub, &is_dir, NULL) == 0 && is_dir) {
            v[k++] = all[i];
            all[i] = z_strdup(""); /* moved */
        }
        z_free(sub);
    }
    v[k] = NULL;
    *out = v;
    v = NULL;
    if (count) *count = k;
cleanup:
    zippy_strv_free(all);
    zippy_strv_free(v);
    z_free(cd);
    return rc;
}

int zippy_root_has(zippy_root *root, const char *name) {
    if (!root) return z_err(ZIPPY_EINVAL, "root is NULL");
    if (!ze_name_valid(name)) return 0;
    if (root->zar) {
        char d[ZR_NAME_MAX + 96];
        size_t first;
        snprintf(d, sizeof d, "%scollections/%s/", root->prefix, name);
        return zr_prefix_range(root->zar, d, &first) > 0 || zr_find(root->zar, d) != NULL;
    }
    char *cd = join2(root->path, "collections"), *p = cd ? join2(cd, name) : NULL;
    int is_dir = 0, has = p && zos_stat(p, &is_dir, NULL) == 0 && is_dir;
    z_free(p);
    z_free(cd);
    return has;
}

int zippy_root_info_json(zippy_root *root, zippy_buf *out) {
    if (!root || !out) return z_err(ZIPPY_EINVAL, "root or buffer is NULL");
    char **names = NULL;
    size_t n = 0;
    int rc = zippy_root_list(root, &names, &n);
    if (rc) return rc;
    /* Refresh the counts from the collections themselves. */
    zippy_options o = root->opts;
    o.flags = ZIPPY_OPEN_READONLY;
    zippy_buf b = ZIPPY_BUF_INIT;
    char *path = join2(root->path, "zds.json"), *txt = NULL;
    zj_doc *d = zj_doc_new();
    zj_val *v = NULL;
    size_t len = 0;
    if (!path || !d) { rc = z_err_nomem(); goto cleanup; }
    if (root_read_file(root, "zds.json", &txt, &len, ROOT_JSON_MAX) == 0 && (zj_parse(d, txt, len, &v, NULL) || v->type != ZJ_OBJECT))
        v = NULL;
    rc = zb_append(&b, "{", 1);
    int first = 1;
    for (uint32_t i = 0; v && !rc && i < v->len; i++) {
        const zj_val *k = &v->u.members[2 * i];
        if (k->len == 11 && !memcmp(k->u.str, "collections", 11)) continue;
        rc = zb_append(&b, first ? "\n  " : ",\n  ", first ? 3 : 4);
        first = 0;
        rc = rc ? rc : zj_write_string(&b, k->u.str, k->len);
        rc = rc ? rc : zb_append(&b, ": ", 2);
        rc = rc ? rc : zj_write(&b, &v->u.members[2 * i + 1], 0);
    }
    rc = rc ? rc : zb_append(&b, first ? "\n  \"collections\": {" : ",\n  \"collections\": {", first ? 19 : 20);
    for (size_t i = 0; !rc && i < n; i++) {
        zippy_coll *c = NULL;
        uint64_t cnt = 0;
        int orc = zippy_coll_open(&c, root, names[i], &o), layout = ZIPPY_LAYOUT_JSONL;
        if (orc == ZIPPY_OK) {
            zippy_count(c, &cnt);
            layout = ze_coll_layout(c);
        }
        zippy_coll_close(c);
        rc = zb_append(&b, i ? ",\n    " : "\n    ", i ? 6 : 5);
        rc = rc ? rc : zj_write_string(&b, names[i], strlen(names[i]));
        if (orc == ZIPPY_OK)
            rc = rc ? rc : zb_printf(&b, ": {\"count\": %llu, \"layout\": \"%s\"}", (unsigned long long)cnt,
                                     ze_layout_name(layout));
        else
            rc = rc ? rc : zb_printf(&b, ": {\"error\": \"%s\"}", zippy_strerror(orc));
    }
    rc = rc ? rc : zb_append(&b, n ? "\n  }\n}\n" : "}\n}\n", n ? 7 : 4);
    if (!rc) {
        zb_clear(out);
        rc = zb_append(out, b.ptr, b.len);
    }
cleanup:
    zippy_buf_free(&b);
    zj_doc_free(d);
    z_free(txt);
    z_free(path);
    zippy_strv_free(names);
    return rc;
}

int zippy_root_drop(zippy_root *root, const char *name) {
    if (!root) return z_err(ZIPPY_EINVAL, "root is NULL");
    if (root->zar) return ARCHIVE_RO(root);
    if (root->opts.flags & ZIPPY_OPEN_READONLY) return z_err(ZIPPY_EREADONLY, "store %s was opened read-only", root->path);
    if (!ze_name_valid(name)) return z_err(ZIPPY_EINVAL, "invalid collection name \"%s\"", name ? name : "");
    if (ze_is_open(root->path, name))
        return z_err(ZIPPY_ELOCKED, "collection %s in %s is open in this process; close it before dropping it", name,
                     root->path);
    /* Opening as the writer proves no other process has it open for writing. */
    zippy_options o = root->opts;
    o.flags &= ~ZIPPY_OPEN_CREATE;
    zippy_coll *c = NULL;
    int rc = zippy_coll_open(&c, root, name, &o);
    if (rc) return rc;
    zippy_coll_close(c);
    char *cd = join2(root->path, "collections"), *p = cd ? join2(cd, name) : NULL, *tmp = NULL;
    if (!p) { rc = z_err_nomem(); goto cleanup; }
    size_t n = strlen(p) + 32;
    tmp = z_malloc(n);
    if (!tmp) { rc = z_err_nomem(); goto cleanup; }
    snprintf(tmp, n, "%s/.drop-%s-%ld", cd, name, (long)getpid());
    int r = zos_rename(p, tmp);
    if (!r) r = zos_fsync_dir(cd);
    if (r) { rc = z_err_os(r, "store %s: cannot remove collection %s", root->path, name); goto cleanup; }
    (void)zos_rm_rf(tmp);
    rc = ze_update_root_manifest(root->path, name, 0, ZIPPY_LAYOUT_JSONL, 1);
cleanup:
    z_free(tmp);
    z_free(p);
    z_free(cd);
    return rc;
}

int zippy_coll_open(zippy_coll **out, zippy_root *root, const char *name, const zippy_options *opts) {
    if (!out || !root) return z_err(ZIPPY_EINVAL, "root or out is NULL");
    const zippy_options *o = opts ? opts : &root->opts;
    int ro = (o->flags & ZIPPY_OPEN_READONLY) || (root->opts.flags & ZIPPY_OPEN_READONLY);
    zippy_options eff = *o;
    if (ro) eff.flags = (eff.flags | ZIPPY_OPEN_READONLY) & ~ZIPPY_OPEN_CREATE;
    zengine *e = NULL;
    if (root->zar && (o->flags & ZIPPY_OPEN_CREATE)) {
        /* "create if missing" on an archive: fine for a collection it holds
         * (opened read-only), a write for one it does not. */
        int h = zippy_root_has(root, name);
        if (h < 0) return h;
        if (h == 0) return ARCHIVE_RO(root);
        eff.flags &= ~ZIPPY_OPEN_CREATE;
    }
    int rc = root->zar ? ze_acquire_archive(&e, root->path, root->prefix, root->path, name, &eff)
                       : ze_acquire(&e, root->path, name, &eff, !ro);
    if (rc) return rc;
    if (!ro && eff.strict && (rc = ze_make_strict(e))) {
        ze_release(e);
        return rc;
    }
    rc = ze_coll_new(out, e, !ro, eff.progress, eff.progress_ctx);
    if (rc) ze_release(e);
    return rc;
}
