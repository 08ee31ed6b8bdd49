/* os.c - the POSIX platform layer with fault injection (see os.h). */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- fault injection ---- */

typedef struct fault {
    atomic_ulong armed_at; /* op count at which the fault fires; 0 = off */
    atomic_int err;
    atomic_uint flags;
} fault;

static fault g_faults[ZOS_OP_COUNT];
static atomic_ulong g_counts[ZOS_OP_COUNT];

void zos_fault_set(zos_op op, unsigned long nth, int err, unsigned flags) {
    if (op >= ZOS_OP_COUNT) return;
    atomic_store(&g_faults[op].err, err);
    atomic_store(&g_faults[op].flags, flags);
    atomic_store(&g_faults[op].armed_at,
                 nth ? atomic_load(&g_counts[op]) + nth : 0);
}

void zos_fault_clear(void) {
    for (int i = 0; i < ZOS_OP_COUNT; i++) atomic_store(&g_faults[i].armed_at, 0);
}

unsigned long zos_op_count(zos_op op) {
    return op < ZOS_OP_COUNT ? atomic_load(&g_counts[op]) : 0;
}

/* Counts the call; returns 0 to proceed, -err to fail, 1 for a short write. */
static int fault_check(zos_op op) {
    unsigned long n = atomic_fetch_add(&g_counts[op], 1) + 1;
    unsigned long at = atomic_load(&g_faults[op].armed_at);
    if (!at) return 0;
    unsigned flags = atomic_load(&g_faults[op].flags);
    if (n == at || ((flags & ZOS_FAULT_STICKY) && n > at)) {
        if (!(flags & ZOS_FAULT_STICKY)) atomic_store(&g_faults[op].armed_at, 0);
        if (flags & ZOS_FAULT_SHORT) return 1;
        int e = atomic_load(&g_faults[op].err);
        return -(e ? e : EIO);
    }
    return 0;
}

#define FAULT(op)                                                              \
    do {                                                                       \
        int f_ = fault_check(op);                                              \
        if (f_ < 0) return f_;                                                 \
    } while (0)

/* ---- calls ---- */

int zos_open(const char *path, int flags, int mode) {
    FAULT(ZOS_OP_OPEN);
    int fd;
    do fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int zos_close(int fd) { return close(fd) ? -errno : 0; }

ssize_t zos_read(int fd, void *buf, size_t n) {
    FAULT(ZOS_OP_READ);
    ssize_t r;
    do r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

ssize_t zos_pread(int fd, void *buf, size_t n, uint64_t off) {
    FAULT(ZOS_OP_READ);
    ssize_t r;
    do r = pread(fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

ssize_t zos_write(int fd, const void *buf, size_t n) {
    int f = fault_check(ZOS_OP_WRITE);
    if (f < 0) return f;
    if (f == 1 && n > 1) n /= 2;
    ssize_t r;
    do r = write(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

ssize_t zos_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
    int f = fault_check(ZOS_OP_WRITE);
    if (f < 0) return f;
    if (f == 1 && n > 1) n /= 2;
    ssize_t r;
    do r = pwrite(fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

int zos_fsync(int fd) {
    FAULT(ZOS_OP_FSYNC);
    return fsync(fd) ? -errno : 0;
}

int zos_fdatasync(int fd) {
    FAULT(ZOS_OP_FSYNC);
    return fdatasync(fd) ? -errno : 0;
}

void zos_writeback_start(int fd, uint64_t off, uint64_t len) {
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)off; (void)len;
#endif
}

int zos_ftruncate(int fd, uint64_t size) {
    FAULT(ZOS_OP_TRUNCATE);
    return ftruncate(fd, (off_t)size) ? -errno : 0;
}

int zos_fstat_size(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st)) return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

int zos_stat(const char *path, int *is_dir, uint64_t *size) {
    struct stat st;
    if (stat(path, &st)) return -errno;
    if (is_dir) *is_dir = S_ISDIR(st.st_mode);
    if (size) *size = (uint64_t)st.st_size;
    return 0;
}

int zos_lstat_kind(const char *path, int *kind) {
    struct stat st;
    if (lstat(path, &st)) {
        if (errno == ENOENT) { *kind = 0; return 0; }
        return -errno;
    }
    *kind = S_ISREG(st.st_mode) ? 1 : S_ISDIR(st.st_mode) ? 2 : 3;
    return 0;
}

int zos_fstat_id(int fd, uint64_t *size, uint64_t *ino) {
    struct stat st;
    if (fstat(fd, &st)) return -errno;
    if (size) *size = (uint64_t)st.st_size;
    if (ino) *ino = (uint64_t)st.st_ino;
    return 0;
}

int zos_stat_id(const char *path, uint64_t *size, uint64_t *ino) {
    struct stat st;
    if (stat(path, &st)) return -errno;
    if (size) *size = (uint64_t)st.st_size;
    if (ino) *ino = (uint64_t)st.st_ino;
    return 0;
}

int zos_lstat_info(const char *path, zos_finfo *out) {
    struct stat st;
    memset(out, 0, sizeof *out);
    if (lstat(path, &st)) return errno == ENOENT ? 0 : -errno;
    out->kind = S_ISREG(st.st_mode) ? 1 : S_ISDIR(st.st_mode) ? 2 : 3;
    out->size = (uint64_t)st.st_size;
    out->ino = (uint64_t)st.st_ino;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    return 0;
}

int64_t zos_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int zos_realpath(const char *path, char **out) {
    char *rp = realpath(path, NULL); /* libc memory: copied into ours */
    if (!rp) return -errno;
    char *p = z_strdup(rp);
    free(rp);
    if (!p) return -ENOMEM;
    *out = p;
    return 0;
}

int zos_rename(const char *from, const char *to) {
    FAULT(ZOS_OP_RENAME);
    return rename(from, to) ? -errno : 0;
}

int zos_unlink(const char *path) {
    FAULT(ZOS_OP_UNLINK);
    return unlink(path) ? -errno : 0;
}

int zos_rmdir(const char *path) {
    FAULT(ZOS_OP_UNLINK);
    return rmdir(path) ? -errno : 0;
}

int zos_mkdir(const char *path, int mode) {
    FAULT(ZOS_OP_MKDIR);
    return mkdir(path, (mode_t)mode) ? -errno : 0;
}

int zos_flock(int fd, int op) {
    int r;
    do r = flock(fd, op);
    while (r && errno == EINTR);
    return r ? -errno : 0;
}

int zos_mmap(int fd, size_t len, void **out) {
    FAULT(ZOS_OP_MMAP);
    void *p = mmap(NULL, len ? len : 1, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
}

int zos_munmap(void *p, size_t len) {
    if (!p) return 0;
    return munmap(p, len ? len : 1) ? -errno : 0;
}

/* ---- helpers ---- */

int zos_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = zos_write(fd, p, n);
        if (w < 0) return (int)w;
        if (w == 0) return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int zos_pwrite_all(int fd, const void *buf, size_t n, uint64_t off) {
    const char *p = buf;
    while (n) {
        ssize_t w = zos_pwrite(fd, p, n, off);
        if (w < 0) return (int)w;
        if (w == 0) return -EIO;
        p += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return 0;
}

int zos_pread_all(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n) {
        ssize_t r = zos_pread(fd, p, n, off);
        if (r < 0) return (int)r;
        if (r == 0) return -EIO;
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return 0;
}

int zos_fsync_dir(const char *dir) {
    int fd = zos_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) return fd;
    int rc = zos_fsync(fd);
    close(fd);
    return rc;
}

int zos_fsync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return zos_fsync_dir(".");
    if (slash == path) return zos_fsync_dir("/");
    char *dir = z_strndup(path, (size_t)(slash - path));
    if (!dir) return -ENOMEM;
    int rc = zos_fsync_dir(dir);
    z_free(dir);
    return rc;
}

int zos_mkdir_p(const char *path, int mode) {
    size_t n = strlen(path);
    char *p = z_strndup(path, n);
    if (!p) return -ENOMEM;
    int rc = 0;
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        int is_dir = 0;
        if (zos_stat(p, &is_dir, NULL) != 0) {
            rc = zos_mkdir(p, mode);
            if (rc == -EEXIST) rc = 0;
            if (rc) break;
        } else if (!is_dir) {
            rc = -ENOTDIR;
            break;
        }
        p[i] = c;
    }
    z_free(p);
    return rc;
}

int zos_read_file(const char *path, char **out, size_t *len, size_t max) {
    int fd = zos_open(path, O_RDONLY, 0);
    if (fd < 0) return fd;
    uint64_t size = 0;
    int rc = zos_fstat_size(fd, &size);
    char *buf = NULL;
    if (rc) goto cleanup;
    if (size > max) { rc = -EFBIG; goto cleanup; }
    buf = z_malloc((size_t)size + 1);
    if (!buf) { rc = -ENOMEM; goto cleanup; }
    size_t got = 0;
    while (got < size) {
        ssize_t r = zos_read(fd, buf + got, (size_t)size - got);
        if (r < 0) { rc = (int)r; goto cleanup; }
        if (r == 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    *out = buf;
    if (len) *len = got;
    buf = NULL;
cleanup:
    z_free(buf);
    close(fd);
    return rc;
}

int zos_replace_file(const char *path, const void *data, size_t len) {
    size_t n = strlen(path);
    char *tmp = z_malloc(n + 8);
    if (!tmp) return -ENOMEM;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    int rc, fd = zos_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { rc = fd; goto cleanup; }
    rc = zos_write_all(fd, data, len);
    if (!rc) rc = zos_fsync(fd);
    close(fd);
    if (!rc) rc = zos_rename(tmp, path);
    if (rc) {
        unlink(tmp);
        goto cleanup;
    }
    rc = zos_fsync_parent(path);
cleanup:
    z_free(tmp);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zos_list_dir(const char *path, char ***out, size_t *count) {
    FAULT(ZOS_OP_OPEN);
    DIR *d = opendir(path);
    if (!d) return -errno;
    size_t n = 0, cap = 16;
    int rc = 0;
    char **v = z_malloc(cap * sizeof *v);
    if (!v) { closedir(d); return -ENOMEM; }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n + 1 >= cap) {
            char **nv = z_realloc(v, cap * 2 * sizeof *v);
            if (!nv) { rc = -ENOMEM; break; }
            v = nv;
            cap *= 2;
        }
        if (!(v[n] = z_strdup(e->d_name))) { rc = -ENOMEM; break; }
        n++;
    }
    closedir(d);
    v[n] = NULL;
    if (rc) { zippy_strv_free(v); return rc; }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    if (count) *count = n;
    return 0;
}

int zos_rm_rf(const char *path) {
    int kind = 0, rc = zos_lstat_kind(path, &kind);
    if (rc || kind == 0) return rc;
    if (kind != 2) return zos_unlink(path);
    char **v = NULL;
    rc = zos_list_dir(path, &v, NULL);
    if (rc) return rc;
    for (char **p = v; *p && !rc; p++) {
        size_t n = strlen(path) + strlen(*p) + 2;
        char *child = z_malloc(n);
        if (!child) { rc = -ENOMEM; break; }
        snprintf(child, n, "%s/%s", path, *p);
        rc = zos_rm_rf(child);
        z_free(child);
    }
    zippy_strv_free(v);
    return rc ? rc : zos_rmdir(path);
}
