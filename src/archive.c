/* archive.c - zippy_pack / zippy_unpack: a whole store as one standard ZIP.
 *
 * The ZIP format itself is libzip's job. What this file adds:
 *
 *  - All file I/O goes through the os layer (src/os.h), including the bytes
 *    libzip reads and writes: libzip is given "function sources" whose
 *    callbacks call zos_open / zos_pread / zos_pwrite / zos_fsync, so fault
 *    injection reaches every step and durability is in our hands.
 *  - pack: walks the store (sorted, forward slashes), refuses symlinks and
 *    special files, skips writer lock files and *.tmp files, writes the
 *    archive to "<zip>.tmp-<pid>", fsyncs it, renames it into place and
 *    fsyncs the directory. On failure nothing is left behind.
 *  - unpack: validates every entry before writing a byte (names, types,
 *    duplicates, file/dir clashes, encryption, zip-bomb ratios, size caps),
 *    then streams the entries into "<dest>.tmp-<pid>" checking sizes and
 *    CRCs, fsyncs files and directories, renames the directory into place
 *    and fsyncs its parent. On failure the temporary tree is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "engine.h"
#include "os.h"
#include "util.h"
#include "zipread.h"
#include "zippy.h"

#define AR_CHUNK (1u << 20)            /* unpack streaming buffer */
#define AR_BOMB_MIN (1ull << 20)       /* ratio check applies above this */
#define AR_BOMB_RATIO 100ull           /* max declared / compressed */
#define AR_TOTAL_MAX (1ull << 40)      /* max declared bytes of an archive */
#define AR_TOTAL_RATIO_MIN (64ull << 20) /* whole-archive ratio check floor */
#define AR_PROGRESS_STEP (1ull << 20)  /* progress: report about every MiB */

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Copies s into out for an error message: at most cap-1 bytes, with
 * control bytes shown as '?', and "..." when cut. */
static const char *shown(char *out, size_t cap, const char *s) {
    size_t n = strlen(s), i, o = 0;
    for (i = 0; i < n && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
    return out;
}

/* malloc'ed copy of path without trailing slashes ("/" stays "/"). */
static char *dup_trimmed(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    return z_strndup(path, n);
}

/* malloc'ed "a/b" (or "a<sep>b" with any separator string). */
static char *join3(const char *a, const char *sep, const char *b) {
    size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
    char *p = z_malloc(na + ns + nb + 1);
    if (!p) return NULL;
    memcpy(p, a, na);
    memcpy(p + na, sep, ns);
    memcpy(p + na + ns, b, nb + 1);
    return p;
}

/* "<path>.tmp-<pid>" */
static char *tmp_name(const char *path) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp-%ld", (long)getpid());
    return join3(path, "", suffix);
}

/* Maps an errno value to a zippy code (as z_err_os does). */
static int code_of_errno(int e) {
    switch (e) {
    case ENOSPC:
    case EDQUOT: return ZIPPY_ENOSPC;
    case ENOMEM: return ZIPPY_ENOMEM;
    case EEXIST: return ZIPPY_EEXISTS;
    case ENOENT: return ZIPPY_ENOTFOUND;
    default: return ZIPPY_EIO;
    }
}

/* Sets the thread error from a libzip error: "<what>: <libzip text>". */
static int zip_fail(zip_error_t *ze, const char *what) {
    int zc = zip_error_code_zip(ze), code;
    if (zip_error_system_type(ze) == ZIP_ET_SYS && zip_error_code_system(ze))
        code = code_of_errno(zip_error_code_system(ze));
    else switch (zc) {
        case ZIP_ER_NOZIP: code = ZIPPY_EINVAL; break;
        case ZIP_ER_INCONS:
        case ZIP_ER_CRC:
        case ZIP_ER_EOF:
        case ZIP_ER_ZLIB:
        case ZIP_ER_COMPRESSED_DATA: code = ZIPPY_ECORRUPT; break;
        case ZIP_ER_MEMORY: code = ZIPPY_ENOMEM; break;
        case ZIP_ER_MULTIDISK:
        case ZIP_ER_COMPNOTSUPP:
        case ZIP_ER_ENCRNOTSUPP:
        case ZIP_ER_NOPASSWD:
        case ZIP_ER_WRONGPASSWD: code = ZIPPY_EUNSUPPORTED; break;
        case ZIP_ER_EXISTS: code = ZIPPY_EEXISTS; break;
        case ZIP_ER_NOENT: code = ZIPPY_ENOTFOUND; break;
        case ZIP_ER_INVAL: code = ZIPPY_EINVAL; break;
        default: code = ZIPPY_EIO; break;
        }
    const char *extra = "";
    if (zc == ZIP_ER_CRC) extra = " (data does not match its checksum)";
    else if (zc == ZIP_ER_NOZIP) extra = " (or the file is truncated)";
    return z_err(code, "%s: %s%s", what, zip_error_strerror(ze), extra);
}

/* Modification time of path. The os layer has no call that returns it;
 * this is a read-only query with no fault to inject. */
static time_t path_mtime(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mtime : time(NULL);
}

/* ------------------------------------------------------------------ */
/* Entry-name rules (shared by pack and unpack)                        */
/* ------------------------------------------------------------------ */

/* NULL if name (len bytes, a ZIP entry name) is a safe relative path, else
 * the reason (zipread's rules, without its UTF-8 one). *is_dir is set when
 * it names a directory (trailing '/'). */
static const char *name_problem(const char *s, size_t len, int *is_dir) {
    *is_dir = len > 1 && s[len - 1] == '/';
    return zr_path_problem(s, len);
}

/* ------------------------------------------------------------------ */
/* libzip source reading a file through the os layer                   */
/* ------------------------------------------------------------------ */

typedef struct pack_state pack_state;

/* A read-only, seekable view of the first `size` bytes of a file. Used for
 * store files added by pack (size as walked: a file that shrinks meanwhile
 * fails, one that grows is cut at the walked size) and for the archive read
 * by unpack. Freed by libzip (ZIP_SOURCE_FREE). */
typedef struct in_src {
    char *path;
    int fd;
    uint64_t size, pos;
    time_t mtime;
    zip_error_t err;
    pack_state *pack; /* pack: progress + failing-file report; else NULL */
} in_src;

struct pack_state {
    zippy_progress_fn progress;
    void *progress_ctx;
    uint64_t done, total, reported;
    char failed[600]; /* path of the store file that failed to read */
};

static void pack_report(pack_state *ps, int force) {
    if (!ps->progress) return;
    uint64_t d = ps->done < ps->total ? ps->done : ps->total;
    if (!force && d - ps->reported < AR_PROGRESS_STEP) return;
    ps->reported = d;
    ps->progress(ps->progress_ctx, d, ps->total);
}

static zip_int64_t in_fail(in_src *s, int zip_code, int neg_errno) {
    zip_error_set(&s->err, zip_code, -neg_errno);
    if (s->pack && !s->pack->failed[0])
        shown(s->pack->failed, sizeof s->pack->failed, s->path);
    return -1;
}

static zip_int64_t in_cb(void *ud, void *data, zip_uint64_t len,
                         zip_source_cmd_t cmd) {
    in_src *s = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN: {
        /* O_NOFOLLOW: a symlink swapped in after the walk is not followed;
         * O_NONBLOCK: a FIFO swapped in does not hang the pack. */
        int fd = zos_open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
        if (fd < 0) return in_fail(s, ZIP_ER_OPEN, fd);
        s->fd = fd;
        s->pos = 0;
        return 0;
    }
    case ZIP_SOURCE_READ: {
        if (s->pos >= s->size) return 0;
        uint64_t want = s->size - s->pos;
        if (want > len) want = len;
        ssize_t r = zos_pread(s->fd, data, (size_t)want, s->pos);
        if (r < 0) return in_fail(s, ZIP_ER_READ, (int)r);
        /* EOF before the size we promised: the file shrank under us. */
        if (r == 0) return in_fail(s, ZIP_ER_READ, -EIO);
        s->pos += (uint64_t)r;
        if (s->pack) {
            s->pack->done += (uint64_t)r;
            pack_report(s->pack, 0);
        }
        return r;
    }
    case ZIP_SOURCE_CLOSE:
        if (s->fd >= 0) zos_close(s->fd);
        s->fd = -1;
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &s->err);
        if (!st) return -1;
        zip_stat_init(st);
        st->size = s->size;
        st->mtime = s->mtime;
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return (zip_int64_t)sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&s->err, data, len);
    case ZIP_SOURCE_FREE:
        if (s->fd >= 0) zos_close(s->fd);
        zip_error_fini(&s->err);
        z_free(s->path);
        z_free(s);
        return 0;
    case ZIP_SOURCE_SEEK: {
        zip_int64_t off =
            zip_source_seek_compute_offset(s->pos, s->size, data, len, &s->err);
        if (off < 0) return -1;
        s->pos = (uint64_t)off;
        return 0;
    }
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)s->pos;
    case ZIP_SOURCE_ACCEPT_EMPTY:
        return 0; /* an empty file is not a valid archive */
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(
            ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
            ZIP_SOURCE_SUPPORTS, ZIP_SOURCE_ACCEPT_EMPTY, -1);
    default:
        zip_error_set(&s->err, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

/* New source over path's first size bytes; NULL with the thread error set.
 * Takes no ownership of path (copies it). */
static zip_source_t *in_src_new(const char *path, uint64_t size, time_t mtime,
                                pack_state *ps) {
    in_src *s = z_calloc(1, sizeof *s);
    if (!s || !(s->path = z_strdup(path))) {
        z_free(s);
        z_err_nomem();
        return NULL;
    }
    s->fd = -1;
    s->size = size;
    s->mtime = mtime;
    s->pack = ps;
    zip_error_init(&s->err);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_function_create(in_cb, s, &ze);
    if (!src) {
        zip_fail(&ze, "creating a zip source");
        zip_error_fini(&ze);
        zip_error_fini(&s->err);
        z_free(s->path);
        z_free(s);
        return NULL;
    }
    zip_error_fini(&ze);
    return src;
}

/* ------------------------------------------------------------------ */
/* libzip source writing the new archive through the os layer          */
/* ------------------------------------------------------------------ */

/* The write target of pack: "<zip>.tmp-<pid>", created exclusively when
 * libzip starts writing, fsynced on commit, unlinked on rollback. Lives on
 * zippy_pack's stack; ZIP_SOURCE_FREE only closes. */
typedef struct out_src {
    const char *path;
    int fd;
    int created;   /* we created path and it is ours to remove */
    int committed; /* written completely and fsynced */
    uint64_t pos, size;
    zip_error_t err;
} out_src;

static zip_int64_t out_fail(out_src *o, int zip_code, int neg_errno) {
    zip_error_set(&o->err, zip_code, -neg_errno);
    return -1;
}

static void out_discard(out_src *o) {
    if (o->fd >= 0) zos_close(o->fd);
    o->fd = -1;
    if (o->created) zos_unlink(o->path);
    o->created = 0;
    o->committed = 0;
}

static zip_int64_t out_cb(void *ud, void *data, zip_uint64_t len,
                          zip_source_cmd_t cmd) {
    out_src *o = ud;
    switch (cmd) {
    case ZIP_SOURCE_STAT:
        /* The archive does not exist yet: libzip starts a new one. */
        if (!o->committed) return out_fail(o, ZIP_ER_READ, -ENOENT);
        {
            zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &o->err);
            if (!st) return -1;
            zip_stat_init(st);
            st->size = o->size;
            st->valid |= ZIP_STAT_SIZE;
            return (zip_int64_t)sizeof *st;
        }
    case ZIP_SOURCE_OPEN:
    case ZIP_SOURCE_READ:
    case ZIP_SOURCE_SEEK:
    case ZIP_SOURCE_TELL:
        /* Never needed for a new archive that is only written. */
        return out_fail(o, ZIP_ER_OPNOTSUPP, 0);
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_BEGIN_WRITE: {
        int fd = zos_open(o->path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) return out_fail(o, ZIP_ER_TMPOPEN, fd);
        o->fd = fd;
        o->created = 1;
        o->pos = o->size = 0;
        return 0;
    }
    case ZIP_SOURCE_WRITE: {
        int rc = zos_pwrite_all(o->fd, data, (size_t)len, o->pos);
        if (rc) return out_fail(o, ZIP_ER_WRITE, rc);
        o->pos += len;
        if (o->pos > o->size) o->size = o->pos;
        return (zip_int64_t)len;
    }
    case ZIP_SOURCE_SEEK_WRITE: {
        zip_int64_t off =
            zip_source_seek_compute_offset(o->pos, o->size, data, len, &o->err);
        if (off < 0) return -1;
        o->pos = (uint64_t)off;
        return 0;
    }
    case ZIP_SOURCE_TELL_WRITE:
        return (zip_int64_t)o->pos;
    case ZIP_SOURCE_COMMIT_WRITE: {
        /* Durability of the archive bytes: fsync before anyone can rename
         * the file into place. */
        int rc = zos_fsync(o->fd);
        if (rc) return out_fail(o, ZIP_ER_WRITE, rc);
        rc = zos_close(o->fd);
        o->fd = -1;
        if (rc) return out_fail(o, ZIP_ER_CLOSE, rc);
        o->committed = 1;
        return 0;
    }
    case ZIP_SOURCE_ROLLBACK_WRITE:
        out_discard(o);
        return 0;
    case ZIP_SOURCE_REMOVE:
        out_discard(o);
        return 0;
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&o->err, data, len);
    case ZIP_SOURCE_FREE:
        if (o->fd >= 0) zos_close(o->fd);
        o->fd = -1;
        return 0;
    case ZIP_SOURCE_ACCEPT_EMPTY:
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return ZIP_SOURCE_SUPPORTS_WRITABLE |
               ZIP_SOURCE_MAKE_COMMAND_BITMASK(ZIP_SOURCE_ACCEPT_EMPTY);
    default:
        return out_fail(o, ZIP_ER_OPNOTSUPP, 0);
    }
}

/* ------------------------------------------------------------------ */
/* pack                                                                */
/* ------------------------------------------------------------------ */

typedef struct pack_item {
    char *rel;  /* relative path, '/'-separated, no trailing slash */
    char *abs;  /* path on disk */
    int is_dir;
    uint64_t size;
    time_t mtime;
} pack_item;

typedef struct pack_list {
    pack_item *v;
    size_t n, cap;
    uint64_t total;
} pack_list;

static void pack_list_free(pack_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        z_free(l->v[i].rel);
        z_free(l->v[i].abs);
    }
    z_free(l->v);
}

static int pack_list_push(pack_list *l, pack_item it) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64, bytes;
        if (!z_mul_ok(cap, sizeof *l->v, &bytes)) return z_err_nomem();
        pack_item *v = z_realloc(l->v, bytes);
        if (!v) return z_err_nomem();
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = it;
    return ZIPPY_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Files that are never packed: leftovers of interrupted atomic writes
 * (*.tmp), the root's .zds.lock, and in meta/ the writer lock file and the engine's compaction
 * output (*.compact, removed by the engine when a writer opens). */
static int pack_skip(const char *dir_name, const char *name) {
    if (ends_with(name, ".tmp")) return 1;
    if (!dir_name) return strcmp(name, ".zds.lock") == 0; /* root lock file */
    if (strcmp(dir_name, "meta") != 0) return 0;
    return strcmp(name, "lock") == 0 || ends_with(name, ".compact");
}

/* Appends the tree under abs (relative name rel, NULL for the root) to l in
 * sorted depth-first order, directories before their contents. */
static int pack_walk(pack_list *l, const char *abs, const char *rel,
                     const char *dir_name) {
    char **names = NULL;
    char buf[256];
    int rc = zos_list_dir(abs, &names, NULL);
    if (rc) return z_err_os(rc, "pack: listing '%s'", shown(buf, sizeof buf, abs));
    for (char **p = names; *p && !rc; p++) {
        char *cabs = join3(abs, "/", *p);
        char *crel = rel ? join3(rel, "/", *p) : z_strdup(*p);
        if (!cabs || !crel) {
            rc = z_err_nomem();
            goto next;
        }
        int kind = 0;
        rc = zos_lstat_kind(cabs, &kind);
        if (rc) {
            rc = z_err_os(rc, "pack: '%s'", shown(buf, sizeof buf, cabs));
            goto next;
        }
        if (kind == 0) goto next; /* vanished since the listing */
        if (kind == 3) {
            struct stat st;
            int link = lstat(cabs, &st) == 0 && S_ISLNK(st.st_mode);
            rc = z_err(ZIPPY_EINVAL,
                       "pack: '%s' is a %s; a store holds only regular files "
                       "and directories",
                       shown(buf, sizeof buf, cabs),
                       link ? "symbolic link" : "special file");
            goto next;
        }
        if (kind == 1 && pack_skip(dir_name, *p)) goto next;
        int is_dir = 0;
        const char *why = name_problem(crel, strlen(crel), &is_dir);
        if (why) {
            rc = z_err(ZIPPY_EINVAL, "pack: cannot store '%s' in an archive: %s",
                       shown(buf, sizeof buf, cabs), why);
            goto next;
        }
        pack_item it = {crel, cabs, kind == 2, 0, path_mtime(cabs)};
        if (kind == 1) {
            rc = zos_stat(cabs, NULL, &it.size);
            if (rc) {
                rc = z_err_os(rc, "pack: '%s'", shown(buf, sizeof buf, cabs));
                goto next;
            }
            if (!z_add_ok(l->total, it.size, &l->total)) l->total = UINT64_MAX;
        }
        rc = pack_list_push(l, it);
        if (rc) goto next;
        cabs = crel = NULL; /* owned by the list now */
        if (kind == 2)
            rc = pack_walk(l, l->v[l->n - 1].abs, l->v[l->n - 1].rel, *p);
    next:
        z_free(cabs);
        z_free(crel);
    }
    zippy_strv_free(names);
    return rc;
}

/* Refuses an archive path inside the store (it would pack itself next
 * time, and the walk could meet its temporary file). */
static int pack_check_outside(const char *root, const char *zip_path) {
    char buf[256], buf2[256];
    const char *slash = strrchr(zip_path, '/');
    char *dir = slash ? z_strndup(zip_path, slash == zip_path ? 1 : (size_t)(slash - zip_path))
                      : z_strdup(".");
    if (!dir) return z_err_nomem();
    char *rroot = NULL, *rdir = NULL;
    int rc = ZIPPY_OK, r1 = zos_realpath(root, &rroot), r2 = zos_realpath(dir, &rdir);
    if (r2)
        rc = z_err_os(r2, "pack: directory of '%s'",
                      shown(buf, sizeof buf, zip_path));
    else if (r1)
        rc = z_err_os(r1, "pack: '%s'", shown(buf, sizeof buf, root));
    else {
        size_t n = strlen(rroot);
        if (strncmp(rdir, rroot, n) == 0 &&
            (rdir[n] == 0 || rdir[n] == '/' || (n == 1 && rroot[0] == '/')))
            rc = z_err(ZIPPY_EINVAL, "pack: archive '%s' would be inside the store '%s'",
                       shown(buf, sizeof buf, zip_path), shown(buf2, sizeof buf2, root));
    }
    z_free(rroot);
    z_free(rdir);
    z_free(dir);
    return rc;
}

/* Adds every item of l to za. */
static int pack_add_all(zip_t *za, pack_list *l, unsigned flags, pack_state *ps) {
    char buf[256];
    zip_int32_t method = (flags & ZIPPY_PACK_DEFLATE) ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    for (size_t i = 0; i < l->n; i++) {
        pack_item *it = &l->v[i];
        zip_int64_t idx;
        if (it->is_dir) {
            idx = zip_dir_add(za, it->rel, ZIP_FL_ENC_GUESS);
        } else {
            zip_source_t *src = in_src_new(it->abs, it->size, it->mtime, ps);
            if (!src) return zippy_errcode();
            idx = zip_file_add(za, it->rel, src, ZIP_FL_ENC_GUESS);
            if (idx < 0) zip_source_free(src);
        }
        /* Directories 0755, files 0644, as unpack creates them. */
        zip_uint32_t attr = it->is_dir ? (S_IFDIR | 0755u) : (S_IFREG | 0644u);
        if (idx < 0 ||
            (!it->is_dir && zip_set_file_compression(za, (zip_uint64_t)idx, method, 0)) ||
            zip_file_set_mtime(za, (zip_uint64_t)idx, it->mtime, 0) ||
            zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                             attr << 16)) {
            char what[400];
            snprintf(what, sizeof what, "pack: adding '%s'", shown(buf, sizeof buf, it->rel));
            return zip_fail(zip_get_error(za), what);
        }
    }
    return ZIPPY_OK;
}

int zippy_pack(const char *root_path, const char *zip_path, unsigned flags,
               zippy_progress_fn progress, void *progress_ctx) {
    char b1[256], b2[256];
    if (!root_path || !zip_path || !*root_path || !*zip_path)
        return z_err(ZIPPY_EINVAL, "pack: store path and archive path are required");
    if (flags & ~ZIPPY_PACK_DEFLATE)
        return z_err(ZIPPY_EINVAL, "pack: unknown flags 0x%x", flags);

    int rc;
    pack_list list = {0};
    pack_state ps = {progress, progress_ctx, 0, 0, 0, {0}};
    out_src out;
    memset(&out, 0, sizeof out);
    out.fd = -1;
    zip_error_init(&out.err);
    zip_t *za = NULL;
    char *root = dup_trimmed(root_path), *zp = dup_trimmed(zip_path), *tmp = NULL;
    if (!root || !zp || !(tmp = tmp_name(zp))) {
        rc = z_err_nomem();
        goto done;
    }
    out.path = tmp;

    /* The source must be a store. */
    int is_dir = 0, kind = 0, kind2 = 0;
    rc = zos_stat(root, &is_dir, NULL);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = z_err(ZIPPY_ENOTFOUND, "pack: store '%s' does not exist",
                   shown(b1, sizeof b1, root_path));
        goto done;
    }
    if (rc) {
        rc = z_err_os(rc, "pack: store '%s'", shown(b1, sizeof b1, root_path));
        goto done;
    }
    if (!is_dir) {
        rc = z_err(ZIPPY_EINVAL, "pack: '%s' is not a directory",
                   shown(b1, sizeof b1, root_path));
        goto done;
    }
    char *zds = join3(root, "/", "zds.json"), *colls = join3(root, "/", "collections");
    if (!zds || !colls) rc = z_err_nomem();
    if (!rc) rc = zos_lstat_kind(zds, &kind);
    if (!rc) rc = zos_lstat_kind(colls, &kind2);
    z_free(zds);
    z_free(colls);
    if (rc) {
        if (rc < 0) rc = z_err_os(rc, "pack: store '%s'", shown(b1, sizeof b1, root_path));
        goto done;
    }
    if (kind != 1 && kind2 != 2) {
        rc = z_err(ZIPPY_EINVAL,
                   "pack: '%s' is not a zippy store (no zds.json or collections/)",
                   shown(b1, sizeof b1, root_path));
        goto done;
    }

    /* The target must not exist. */
    rc = zos_lstat_kind(zp, &kind);
    if (rc) {
        rc = z_err_os(rc, "pack: archive '%s'", shown(b1, sizeof b1, zip_path));
        goto done;
    }
    if (kind) {
        rc = z_err(ZIPPY_EEXISTS, "pack: archive '%s' already exists",
                   shown(b1, sizeof b1, zip_path));
        goto done;
    }
    if ((rc = pack_check_outside(root, zp))) goto done;

    /* Writes made through handles of this process reach the files first. */
    rc = ze_flush_root(root);
    if (rc) {
        z_err_prefix("pack '%s': flushing open collections", shown(b1, sizeof b1, root_path));
        goto done;
    }

    /* Everything to add, checked before any byte is written. */
    if ((rc = pack_walk(&list, root, NULL, NULL))) goto done;
    ps.total = list.total;
    if (progress) progress(progress_ctx, 0, ps.total);

    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *dst = zip_source_function_create(out_cb, &out, &ze);
    if (dst) {
        za = zip_open_from_source(dst, ZIP_CREATE | ZIP_TRUNCATE, &ze);
        if (!za) zip_source_free(dst);
    }
    if (!za) {
        snprintf(b2, sizeof b2, "pack: creating '%s'", shown(b1, sizeof b1, tmp));
        rc = zip_fail(&ze, b2);
        zip_error_fini(&ze);
        goto done;
    }
    zip_error_fini(&ze);

    if ((rc = pack_add_all(za, &list, flags, &ps))) goto done;

    /* zip_close writes everything through out_cb and fsyncs on commit. */
    if (zip_close(za) != 0) {
        if (ps.failed[0])
            snprintf(b2, sizeof b2, "pack: reading '%s'", ps.failed);
        else
            snprintf(b2, sizeof b2, "pack: writing '%s'", shown(b1, sizeof b1, tmp));
        rc = zip_fail(zip_get_error(za), b2);
        goto done;
    }
    za = NULL;
    if (!out.committed) {
        rc = z_err(ZIPPY_EIO, "pack: archive '%s' was not written",
                   shown(b1, sizeof b1, tmp));
        goto done;
    }

    /* Into place, durably, without replacing anything that appeared. */
    rc = zos_lstat_kind(zp, &kind);
    if (!rc && kind) {
        rc = z_err(ZIPPY_EEXISTS, "pack: archive '%s' appeared meanwhile",
                   shown(b1, sizeof b1, zip_path));
        goto done;
    }
    rc = zos_rename(tmp, zp);
    if (rc) {
        rc = z_err_os(rc, "pack: renaming '%s' to '%s'", shown(b1, sizeof b1, tmp),
                      shown(b2, sizeof b2, zip_path));
        goto done;
    }
    out.created = 0; /* tmp is gone */
    rc = zos_fsync_parent(zp);
    if (rc) {
        rc = z_err_os(rc, "pack: syncing the directory of '%s'",
                      shown(b1, sizeof b1, zip_path));
        zos_unlink(zp); /* not durable: fail cleanly, leave nothing */
        goto done;
    }
    ps.done = ps.total;
    pack_report(&ps, 1);

done:
    if (za) zip_discard(za); /* frees out_cb's source */
    if (out.created || out.fd >= 0) out_discard(&out);
    zip_error_fini(&out.err);
    pack_list_free(&list);
    z_free(root);
    z_free(zp);
    z_free(tmp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* unpack                                                              */
/* ------------------------------------------------------------------ */

typedef struct unpack_item {
    char *name; /* validated relative path without trailing '/' */
    zip_uint64_t index;
    uint64_t size;
    int is_dir;
} unpack_item;

/* Path order with '/' below every other byte: a directory's contents come
 * right after it ("a" < "a/x" < "a-b"), so clashes are neighbours. */
static int path_cmp(const char *a, const char *b) {
    for (;; a++, b++) {
        unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca == cb) {
            if (!ca) return 0;
            continue;
        }
        if (!ca) return -1;
        if (!cb) return 1;
        if (ca == '/') return -1;
        if (cb == '/') return 1;
        return ca < cb ? -1 : 1;
    }
}

static int item_cmp(const void *a, const void *b) {
    return path_cmp(((const unpack_item *)a)->name, ((const unpack_item *)b)->name);
}

typedef struct unpack_job {
    const char *zip_path; /* as given (messages) */
    zip_t *za;
    unpack_item *items;
    size_t n;
    uint64_t total, done, reported;
    char *tmp;        /* the temporary directory */
    char **dirs;      /* directories created under tmp (absolute) */
    size_t ndirs, capdirs;
    char *parent;     /* relative parent directory made last */
    unsigned char *buf;
    zippy_progress_fn progress;
    void *progress_ctx;
} unpack_job;

static int entry_err(unpack_job *j, int code, zip_uint64_t index,
                     const char *name, const char *why) {
    char b1[256], b2[256];
    return z_err(code, "unpack '%s': entry %llu '%s': %s",
                 shown(b1, sizeof b1, j->zip_path), (unsigned long long)index,
                 shown(b2, sizeof b2, name), why);
}

static int entry_zip_err(unpack_job *j, zip_error_t *ze, zip_uint64_t index,
                         const char *name) {
    char b1[256], b2[256], what[600];
    snprintf(what, sizeof what, "unpack '%s': entry %llu '%s'",
             shown(b1, sizeof b1, j->zip_path), (unsigned long long)index,
             shown(b2, sizeof b2, name));
    return zip_fail(ze, what);
}

/* Checks every entry and fills j->items (sorted). Writes nothing. */
static int unpack_validate(unpack_job *j, uint64_t archive_size) {
    char b1[256], why[160];
    zip_int64_t n = zip_get_num_entries(j->za, 0);
    if (n < 0)
        return z_err(ZIPPY_ECORRUPT, "unpack '%s': cannot count entries",
                     shown(b1, sizeof b1, j->zip_path));
    j->items = z_calloc((size_t)n ? (size_t)n : 1, sizeof *j->items);
    if (!j->items) return z_err_nomem();
    for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
        const char *name = zip_get_name(j->za, i, ZIP_FL_ENC_RAW);
        if (!name) return entry_zip_err(j, zip_get_error(j->za), i, "?");
        int is_dir = 0;
        size_t len = strlen(name);
        const char *bad = name_problem(name, len, &is_dir);
        if (bad) return entry_err(j, ZIPPY_EINVAL, i, name, bad);

        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(j->za, i, ZIP_FL_ENC_RAW, &st) != 0)
            return entry_zip_err(j, zip_get_error(j->za), i, name);
        const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
                                  ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
        if ((st.valid & need) != need)
            return entry_err(j, ZIPPY_ECORRUPT, i, name, "incomplete entry header");
        if (st.encryption_method != ZIP_EM_NONE)
            return entry_err(j, ZIPPY_EINVAL, i, name,
                             "encrypted entries are not supported");

        zip_uint8_t opsys = 0;
        zip_uint32_t attr = 0;
        if (zip_file_get_external_attributes(j->za, i, 0, &opsys, &attr) != 0)
            return entry_zip_err(j, zip_get_error(j->za), i, name);
        if (opsys == ZIP_OPSYS_UNIX || opsys == ZIP_OPSYS_OS_X) {
            unsigned type = (attr >> 16) & S_IFMT;
            if (type == S_IFLNK)
                return entry_err(j, ZIPPY_EINVAL, i, name,
                                 "symbolic links are not allowed");
            if (type && type != S_IFREG && type != S_IFDIR)
                return entry_err(j, ZIPPY_EINVAL, i, name,
                                 "special files are not allowed");
            if (type == S_IFDIR && !is_dir)
                return entry_err(j, ZIPPY_EINVAL, i, name,
                                 "directory mode on a name without a trailing '/'");
        }
        if (is_dir && st.size != 0)
            return entry_err(j, ZIPPY_EINVAL, i, name, "directory entry with data");
        if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
            snprintf(why, sizeof why, "compression method %d is not supported",
                     (int)st.comp_method);
            return entry_err(j, ZIPPY_EUNSUPPORTED, i, name, why);
        }
        if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size)
            return entry_err(j, ZIPPY_ECORRUPT, i, name,
                             "stored entry whose sizes differ");
        if (st.size > AR_BOMB_MIN && st.comp_size <= UINT64_MAX / AR_BOMB_RATIO &&
            st.size > st.comp_size * AR_BOMB_RATIO) {
            snprintf(why, sizeof why,
                     "declares %llu bytes from %llu compressed (over %llux): "
                     "refusing a possible zip bomb",
                     (unsigned long long)st.size, (unsigned long long)st.comp_size,
                     AR_BOMB_RATIO);
            return entry_err(j, ZIPPY_EINVAL, i, name, why);
        }
        if (!z_add_ok(j->total, st.size, &j->total) || j->total > AR_TOTAL_MAX)
            return entry_err(j, ZIPPY_EINVAL, i, name,
                             "archive declares more than 1 TiB in total");

        unpack_item *it = &j->items[j->n];
        it->name = z_strndup(name, is_dir ? len - 1 : len);
        if (!it->name) return z_err_nomem();
        it->index = i;
        it->size = st.size;
        it->is_dir = is_dir;
        j->n++;
    }
    /* Overlapping entries can each look sane yet share one small
     * compressed kernel: bound the whole archive's ratio too. */
    if (j->total > AR_TOTAL_RATIO_MIN && j->total / AR_BOMB_RATIO > archive_size)
        return z_err(ZIPPY_EINVAL,
                     "unpack '%s': entries declare %llu bytes in a %llu-byte "
                     "archive (over %llux): refusing a possible zip bomb",
                     shown(b1, sizeof b1, j->zip_path), (unsigned long long)j->total,
                     (unsigned long long)archive_size, AR_BOMB_RATIO);

    qsort(j->items, j->n, sizeof *j->items, item_cmp);
    int is_store = 0;
    for (size_t k = 0; k < j->n; k++) {
        unpack_item *a = &j->items[k];
        if ((!a->is_dir && !strcmp(a->name, "zds.json")) ||
            !strcmp(a->name, "collections") || !strncmp(a->name, "collections/", 12))
            is_store = 1;
        if (k + 1 == j->n) break;
        unpack_item *b = &j->items[k + 1];
        if (!strcmp(a->name, b->name))
            return entry_err(j, ZIPPY_EINVAL, b->index, b->name,
                             a->is_dir == b->is_dir
                                 ? "duplicate name"
                                 : "names both a file and a directory");
        size_t la = strlen(a->name);
        if (!a->is_dir && !strncmp(a->name, b->name, la) && b->name[la] == '/')
            return entry_err(j, ZIPPY_EINVAL, b->index, b->name,
                             "lies under a name that is a file");
    }
    if (!is_store)
        return z_err(ZIPPY_EINVAL,
                     "unpack '%s': not a zippy store archive (no zds.json or "
                     "collections/)",
                     shown(b1, sizeof b1, j->zip_path));
    return ZIPPY_OK;
}

static int dirs_push(unpack_job *j, char *path) {
    if (j->ndirs == j->capdirs) {
        size_t cap = j->capdirs ? j->capdirs * 2 : 16, bytes;
        if (!z_mul_ok(cap, sizeof *j->dirs, &bytes)) return z_err_nomem();
        char **v = z_realloc(j->dirs, bytes);
        if (!v) return z_err_nomem();
        j->dirs = v;
        j->capdirs = cap;
    }
    j->dirs[j->ndirs++] = path;
    return ZIPPY_OK;
}

/* Makes tmp/<rel[0..len)> a directory (creating it if missing). */
static int make_dir(unpack_job *j, const char *rel, size_t len) {
    char b1[256];
    size_t nt = strlen(j->tmp);
    char *p = z_malloc(nt + 1 + len + 1);
    if (!p) return z_err_nomem();
    memcpy(p, j->tmp, nt);
    p[nt] = '/';
    memcpy(p + nt + 1, rel, len);
    p[nt + 1 + len] = 0;
    int rc = zos_mkdir(p, 0755);
    if (rc == 0) return dirs_push(j, p) ? (z_free(p), ZIPPY_ENOMEM) : ZIPPY_OK;
    if (rc == -EEXIST) {
        int kind = 0;
        rc = zos_lstat_kind(p, &kind);
        if (!rc && kind == 2) {
            z_free(p);
            return ZIPPY_OK;
        }
        if (!rc) rc = -ENOTDIR;
    }
    rc = z_err_os(rc, "unpack: creating directory '%s'", shown(b1, sizeof b1, p));
    z_free(p);
    return rc;
}

/* Creates every parent directory of rel under tmp. Entries come sorted,
 * so siblings share the parent made last: that one is remembered. */
static int make_parents(unpack_job *j, const char *rel) {
    const char *last = strrchr(rel, '/');
    if (!last) return ZIPPY_OK;
    size_t plen = (size_t)(last - rel);
    if (j->parent && strlen(j->parent) == plen && !memcmp(j->parent, rel, plen))
        return ZIPPY_OK;
    for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
        int rc = make_dir(j, rel, (size_t)(s - rel));
        if (rc) return rc;
    }
    z_free(j->parent);
    j->parent = z_strndup(rel, plen); /* NULL just means no shortcut */
    return ZIPPY_OK;
}

static int extract_file(unpack_job *j, const unpack_item *it) {
    char b1[256];
    int rc = ZIPPY_OK, fd = -1;
    char *path = join3(j->tmp, "/", it->name);
    if (!path) return z_err_nomem();
    zip_file_t *zf = zip_fopen_index(j->za, it->index, 0);
    if (!zf) {
        rc = entry_zip_err(j, zip_get_error(j->za), it->index, it->name);
        goto out;
    }
    fd = zos_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = z_err_os(fd, "unpack: creating '%s'", shown(b1, sizeof b1, path));
        goto out;
    }
    uint64_t got = 0;
    for (;;) {
        /* Read to EOF even past the declared size: libzip checks the CRC
         * (and its own size bookkeeping) only when it sees the end. */
        zip_int64_t r = zip_fread(zf, j->buf, AR_CHUNK);
        if (r < 0) {
            rc = entry_zip_err(j, zip_file_get_error(zf), it->index, it->name);
            goto out;
        }
        if (r == 0) break;
        got += (uint64_t)r;
        if (got > it->size) {
            rc = entry_err(j, ZIPPY_ECORRUPT, it->index, it->name,
                           "holds more data than its declared size");
            goto out;
        }
        int w = zos_write_all(fd, j->buf, (size_t)r);
        if (w) {
            rc = z_err_os(w, "unpack: writing '%s'", shown(b1, sizeof b1, path));
            goto out;
        }
        j->done += (uint64_t)r;
        if (j->progress && j->done - j->reported >= AR_PROGRESS_STEP) {
            j->reported = j->done;
            j->progress(j->progress_ctx, j->done, j->total);
        }
    }
    if (got != it->size) {
        rc = entry_err(j, ZIPPY_ECORRUPT, it->index, it->name,
                       "holds less data than its declared size");
        goto out;
    }
    int s = zos_fsync(fd);
    if (s) {
        rc = z_err_os(s, "unpack: syncing '%s'", shown(b1, sizeof b1, path));
        goto out;
    }
out:
    if (fd >= 0) {
        int c = zos_close(fd);
        if (c && !rc) rc = z_err_os(c, "unpack: closing '%s'", shown(b1, sizeof b1, path));
    }
    if (zf) zip_fclose(zf);
    z_free(path);
    return rc;
}

static int unpack_extract(unpack_job *j) {
    char b1[256];
    int rc;
    j->buf = z_malloc(AR_CHUNK);
    if (!j->buf) return z_err_nomem();
    if (j->progress) j->progress(j->progress_ctx, 0, j->total);
    /* Sorted order: every directory entry precedes its contents. */
    for (size_t k = 0; k < j->n; k++) {
        const unpack_item *it = &j->items[k];
        if ((rc = make_parents(j, it->name))) return rc;
        rc = it->is_dir ? make_dir(j, it->name, strlen(it->name)) : extract_file(j, it);
        if (rc) return rc;
    }
    /* The files are durable; now their names: every directory we made,
     * then the temporary root itself. */
    for (size_t k = j->ndirs; k-- > 0;) {
        rc = zos_fsync_dir(j->dirs[k]);
        if (rc) return z_err_os(rc, "unpack: syncing '%s'", shown(b1, sizeof b1, j->dirs[k]));
    }
    rc = zos_fsync_dir(j->tmp);
    if (rc) return z_err_os(rc, "unpack: syncing '%s'", shown(b1, sizeof b1, j->tmp));
    if (j->progress && j->reported != j->done)
        j->progress(j->progress_ctx, j->done, j->total);
    return ZIPPY_OK;
}

int zippy_unpack(const char *zip_path, const char *dest_path,
                 zippy_progress_fn progress, void *progress_ctx) {
    char b1[256], b2[256];
    if (!zip_path || !dest_path || !*zip_path || !*dest_path)
        return z_err(ZIPPY_EINVAL, "unpack: archive path and destination are required");

    int rc, tmp_made = 0;
    unpack_job j = {0};
    j.zip_path = zip_path;
    j.progress = progress;
    j.progress_ctx = progress_ctx;
    char *dest = dup_trimmed(dest_path);
    if (!dest || !(j.tmp = tmp_name(dest))) {
        rc = z_err_nomem();
        goto done;
    }

    /* Never write over anything: the destination must not exist. */
    int kind = 0;
    rc = zos_lstat_kind(dest, &kind);
    if (rc) {
        rc = z_err_os(rc, "unpack: destination '%s'", shown(b1, sizeof b1, dest_path));
        goto done;
    }
    if (kind) {
        rc = z_err(ZIPPY_EEXISTS, "unpack: destination '%s' already exists",
                   shown(b1, sizeof b1, dest_path));
        goto done;
    }

    int is_dir = 0;
    uint64_t zsize = 0;
    rc = zos_stat(zip_path, &is_dir, &zsize);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = z_err(ZIPPY_ENOTFOUND, "unpack: archive '%s' does not exist",
                   shown(b1, sizeof b1, zip_path));
        goto done;
    }
    if (rc) {
        rc = z_err_os(rc, "unpack: archive '%s'", shown(b1, sizeof b1, zip_path));
        goto done;
    }
    if (is_dir) {
        rc = z_err(ZIPPY_EINVAL, "unpack: archive '%s' is a directory",
                   shown(b1, sizeof b1, zip_path));
        goto done;
    }

    /* libzip reads the archive through in_cb, i.e. through the os layer. */
    zip_source_t *src = in_src_new(zip_path, zsize, 0, NULL);
    if (!src) {
        rc = zippy_errcode();
        goto done;
    }
    zip_error_t ze;
    zip_error_init(&ze);
    /* No ZIP_CHECKCONS: libzip 1.7 rejects valid archives with it (e.g.
     * Info-ZIP's forced ZIP64 headers). Nothing here trusts local headers:
     * names, sizes and types come from the central directory and are
     * checked below, and the data is checked against size and CRC. */
    j.za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!j.za) {
        zip_source_free(src);
        if (zip_error_code_zip(&ze) == ZIP_ER_EXISTS) /* libzip's name hash */
            rc = z_err(ZIPPY_EINVAL, "unpack '%s': duplicate entry names",
                       shown(b1, sizeof b1, zip_path));
        else {
            snprintf(b2, sizeof b2, "unpack '%s': cannot open", shown(b1, sizeof b1, zip_path));
            rc = zip_fail(&ze, b2);
        }
        zip_error_fini(&ze);
        goto done;
    }
    zip_error_fini(&ze);

    /* Every entry is checked before anything is created. */
    if ((rc = unpack_validate(&j, zsize))) goto done;

    rc = zos_mkdir(j.tmp, 0755);
    if (rc) {
        if (rc == -EEXIST)
            rc = z_err(ZIPPY_EEXISTS,
                       "unpack: temporary directory '%s' exists (another unpack "
                       "of the same destination?)",
                       shown(b1, sizeof b1, j.tmp));
        else
            rc = z_err_os(rc, "unpack: creating '%s'", shown(b1, sizeof b1, j.tmp));
        goto done;
    }
    tmp_made = 1;
    if ((rc = unpack_extract(&j))) goto done;

    rc = zos_lstat_kind(dest, &kind);
    if (!rc && kind) {
        rc = z_err(ZIPPY_EEXISTS, "unpack: destination '%s' appeared meanwhile",
                   shown(b1, sizeof b1, dest_path));
        goto done;
    }
    rc = zos_rename(j.tmp, dest);
    if (rc) {
        rc = z_err_os(rc, "unpack: renaming '%s' to '%s'", shown(b1, sizeof b1, j.tmp),
                      shown(b2, sizeof b2, dest_path));
        goto done;
    }
    tmp_made = 0;
    rc = zos_fsync_parent(dest);
    if (rc) {
        rc = z_err_os(rc, "unpack: syncing the directory of '%s'",
                      shown(b1, sizeof b1, dest_path));
        zos_rm_rf(dest); /* ours, and not durable: leave nothing */
        goto done;
    }

done:
    if (tmp_made) zos_rm_rf(j.tmp);
    if (j.za) zip_discard(j.za);
    for (size_t k = 0; k < j.n; k++) z_free(j.items[k].name);
    z_free(j.items);
    for (size_t k = 0; k < j.ndirs; k++) z_free(j.dirs[k]);
    z_free(j.dirs);
    z_free(j.parent);
    z_free(j.buf);
    z_free(j.tmp);
    z_free(dest);
    return rc;
}
