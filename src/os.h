/* os.h - the platform layer: every system call that touches the disk.
 *
 * The rest of the library calls these instead of libc so that tests can
 * inject faults (EIO, ENOSPC, short writes) at the Nth call of a kind, as
 * SQLite's os_unix.c and libgit2's failalloc do. Every function returns
 * 0 (or a count) on success and a negative errno on failure; errno is
 * not relied upon by callers.
 */
#ifndef ZIPPY_OS_H
#define ZIPPY_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum zos_op {
    ZOS_OP_OPEN = 0, /* open (any mode, also directories) */
    ZOS_OP_WRITE,    /* write / pwrite */
    ZOS_OP_READ,     /* read / pread */
    ZOS_OP_FSYNC,    /* fsync / fdatasync (files and directories) */
    ZOS_OP_RENAME,
    ZOS_OP_UNLINK,   /* unlink / rmdir */
    ZOS_OP_MKDIR,
    ZOS_OP_TRUNCATE,
    ZOS_OP_MMAP,
    ZOS_OP_COUNT
} zos_op;

#define ZOS_FAULT_SHORT 0x1u  /* a write transfers half its bytes, no error */
#define ZOS_FAULT_STICKY 0x2u /* every call from the Nth on fails (disk full) */

/* Arms a fault: the nth call of `op` counted from now (1 = the next one)
 * fails with -err (or is short). Only one fault per op at a time. Thread-safe
 * enough for tests (atomic counters). */
void zos_fault_set(zos_op op, unsigned long nth, int err, unsigned flags);
void zos_fault_clear(void);
/* Calls of `op` made since the process started (for tests to size loops). */
unsigned long zos_op_count(zos_op op);

int zos_open(const char *path, int flags, int mode); /* fd or -errno */
int zos_close(int fd);
ssize_t zos_read(int fd, void *buf, size_t n);
ssize_t zos_pread(int fd, void *buf, size_t n, uint64_t off);
ssize_t zos_write(int fd, const void *buf, size_t n);
ssize_t zos_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int zos_fsync(int fd);
int zos_fdatasync(int fd);
int zos_ftruncate(int fd, uint64_t size);
/* Starts writeback of [off, off+len) without waiting (a hint: the later
 * fdatasync has less left to do). Errors are ignored by design. */
void zos_writeback_start(int fd, uint64_t off, uint64_t len);
int zos_fstat_size(int fd, uint64_t *size);
int zos_stat(const char *path, int *is_dir, uint64_t *size); /* -ENOENT... */
int zos_lstat_kind(const char *path, int *kind); /* 0 none,1 file,2 dir,3 other */
/* Size and inode (identity) of an open file or a path. */
int zos_fstat_id(int fd, uint64_t *size, uint64_t *ino);
int zos_stat_id(const char *path, uint64_t *size, uint64_t *ino);
/* What identifies a version of a file (lstat, symlinks not followed):
 * kind as zos_lstat_kind (0 when missing: returns 0), size, inode, mtime
 * and ctime in nanoseconds. */
typedef struct zos_finfo {
    int kind;
    uint64_t size, ino;
    int64_t mtime_ns, ctime_ns;
} zos_finfo;
int zos_lstat_info(const char *path, zos_finfo *out);
/* Wall-clock time in nanoseconds (the clock file times come from). */
int64_t zos_now_ns(void);
/* Canonical absolute path, in memory from z_malloc (caller frees). */
int zos_realpath(const char *path, char **out);
int zos_rename(const char *from, const char *to);
int zos_unlink(const char *path);
int zos_rmdir(const char *path);
int zos_mkdir(const char *path, int mode); /* -EEXIST if it exists */
int zos_flock(int fd, int op);             /* LOCK_EX|LOCK_NB etc. */
/* Maps [0,len) of fd read-only (shared). *out set on success. */
int zos_mmap(int fd, size_t len, void **out);
int zos_munmap(void *p, size_t len);

/* Helpers built on the calls above. */
int zos_write_all(int fd, const void *buf, size_t n);          /* loops */
int zos_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
int zos_pread_all(int fd, void *buf, size_t n, uint64_t off);  /* -EIO on EOF */
int zos_fsync_dir(const char *dir);
int zos_fsync_parent(const char *path); /* fsync of the directory holding path */
int zos_mkdir_p(const char *path, int mode);
/* Reads a whole file into a malloc'ed (z_malloc) NUL-terminated buffer. */
int zos_read_file(const char *path, char **out, size_t *len, size_t max);
/* Crash-safe replace: writes path.tmp, fsyncs, renames over path, fsyncs the
 * directory. On failure path is untouched and the temp file removed. */
int zos_replace_file(const char *path, const void *data, size_t len);
/* Lists the entries of a directory (no "." / ".."), sorted, as a
 * NULL-terminated vector (free with zippy_strv_free). */
int zos_list_dir(const char *path, char ***out, size_t *count);
/* Removes a directory tree (for drop and tests). */
int zos_rm_rf(const char *path);

#endif
