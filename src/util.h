/* util.h - allocation, per-thread errors and byte buffers shared by all
 * modules of libzippy. Internal. */
#ifndef ZIPPY_UTIL_H
#define ZIPPY_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "zippy.h"

/* Allocation goes through the hook set by zippy_set_allocator. */
void *z_malloc(size_t n);
void *z_calloc(size_t n, size_t size); /* overflow-checked */
void *z_realloc(void *p, size_t n);
void z_free(void *p);
char *z_strdup(const char *s);
char *z_strndup(const char *s, size_t n);

/* Sets the calling thread's error (code + printf message); returns code. */
int z_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for a negative errno from the os layer: ENOSPC -> ZIPPY_ENOSPC,
 * ENOMEM -> ZIPPY_ENOMEM, EEXIST -> ZIPPY_EEXISTS, ENOENT -> ZIPPY_ENOTFOUND,
 * else ZIPPY_EIO. The strerror text is appended to the message. */
int z_err_os(int neg_errno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int z_err_nomem(void);
void z_err_clear(void);
/* Prefixes the current thread message with "prefix: " (adds context). */
void z_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* zippy_buf helpers (the buffer keeps a NUL after len). */
int zb_reserve(zippy_buf *b, size_t extra); /* ZIPPY_OK / ZIPPY_ENOMEM */
int zb_append(zippy_buf *b, const void *p, size_t n);
int zb_putc(zippy_buf *b, char c);
int zb_printf(zippy_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void zb_clear(zippy_buf *b) {
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

/* Checked size arithmetic: returns 0 on overflow. */
static inline int z_add_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline int z_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* 64-bit hash of bytes (XXH3) and the 32-bit line checksum. */
uint64_t z_hash64(const void *p, size_t n);
uint32_t z_checksum32(const void *p, size_t n);

/* Current UTC time as "2026-11-21T10:00:00Z" into buf (>= 21 bytes). */
void z_utc_now(char *buf, size_t cap);

/* Little-endian loads/stores. */
static inline uint16_t z_le16(const void *p) {
    const unsigned char *b = p;
    return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t z_le32(const void *p) {
    const unsigned char *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}
static inline uint64_t z_le64(const void *p) {
    const unsigned char *b = p;
    return (uint64_t)z_le32(b) | (uint64_t)z_le32(b + 4) << 32;
}
static inline void z_put_le32(void *p, uint32_t v) {
    unsigned char *b = p;
    b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16); b[3] = (unsigned char)(v >> 24);
}
static inline void z_put_le64(void *p, uint64_t v) {
    z_put_le32(p, (uint32_t)v);
    z_put_le32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

#endif
