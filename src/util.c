/* util.c - allocator hook, per-thread error state, zippy_buf, hashing. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- allocation ---- */

static zippy_allocator g_alloc = {malloc, realloc, free};

void zippy_set_allocator(const zippy_allocator *a) {
    if (a && a->malloc_fn && a->realloc_fn && a->free_fn)
        g_alloc = *a;
    else {
        g_alloc.malloc_fn = malloc;
        g_alloc.realloc_fn = realloc;
        g_alloc.free_fn = free;
    }
}

void *z_malloc(size_t n) { return g_alloc.malloc_fn(n ? n : 1); }
void *z_realloc(void *p, size_t n) { return g_alloc.realloc_fn(p, n ? n : 1); }
void z_free(void *p) {
    if (p) g_alloc.free_fn(p);
}
void *z_calloc(size_t n, size_t size) {
    size_t t;
    if (!z_mul_ok(n, size, &t)) return NULL;
    void *p = z_malloc(t);
    if (p) memset(p, 0, t);
    return p;
}
char *z_strndup(const char *s, size_t n) {
    char *p = z_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}
char *z_strdup(const char *s) { return z_strndup(s, strlen(s)); }

void zippy_buf_free(zippy_buf *b) {
    if (!b) return;
    z_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void zippy_strv_free(char **v) {
    if (!v) return;
    for (char **p = v; *p; p++) z_free(*p);
    z_free(v);
}

/* ---- errors ---- */

static _Thread_local int t_code;
static _Thread_local char t_msg[1024];

const char *zippy_errmsg(void) { return t_msg[0] ? t_msg : "no error"; }
int zippy_errcode(void) { return t_code; }
void z_err_clear(void) {
    t_code = 0;
    t_msg[0] = 0;
}

int z_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_msg, sizeof t_msg, fmt, ap);
    va_end(ap);
    t_code = code;
    return code;
}

int z_err_nomem(void) { return z_err(ZIPPY_ENOMEM, "out of memory"); }

int z_err_os(int neg_errno, const char *fmt, ...) {
    int e = -neg_errno;
    int code = e == ENOSPC || e == EDQUOT ? ZIPPY_ENOSPC
             : e == ENOMEM               ? ZIPPY_ENOMEM
             : e == EEXIST               ? ZIPPY_EEXISTS
             : e == ENOENT               ? ZIPPY_ENOTFOUND
             : e == EROFS || e == EACCES || e == EPERM ? ZIPPY_EIO
                                         : ZIPPY_EIO;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t_msg, sizeof t_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof t_msg)
        snprintf(t_msg + n, sizeof t_msg - (size_t)n, ": %s", strerror(e));
    t_code = code;
    return code;
}

void z_err_prefix(const char *fmt, ...) {
    char pre[512], old[sizeof t_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, t_msg, sizeof old);
    snprintf(t_msg, sizeof t_msg, "%s: %s", pre, old);
}

const char *zippy_strerror(int code) {
    switch (code) {
    case ZIPPY_OK: return "ok";
    case ZIPPY_ENOTFOUND: return "not found";
    case ZIPPY_EEXISTS: return "already exists";
    case ZIPPY_EINVAL: return "invalid argument";
    case ZIPPY_ECORRUPT: return "data corrupt";
    case ZIPPY_ELOCKED: return "locked by another process";
    case ZIPPY_EIO: return "I/O error";
    case ZIPPY_ENOMEM: return "out of memory";
    case ZIPPY_EREADONLY: return "read-only";
    case ZIPPY_ESCHEMA: return "schema mismatch";
    case ZIPPY_ENOSPC: return "no space left on device";
    case ZIPPY_ETOOBIG: return "too big";
    case ZIPPY_ECLOSED: return "handle closed";
    case ZIPPY_EBUSY: return "changed during iteration";
    case ZIPPY_EUNSUPPORTED: return "unsupported";
    default: return code > 0 ? strerror(code) : "unknown error";
    }
}

/* ---- buffers ---- */

int zb_reserve(zippy_buf *b, size_t extra) {
    size_t need;
    if (!z_add_ok(b->len, extra, &need) || !z_add_ok(need, 1, &need))
        return z_err(ZIPPY_ETOOBIG, "buffer size overflow");
    if (need <= b->cap) return ZIPPY_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = z_realloc(b->ptr, cap);
    if (!p) return z_err_nomem();
    b->ptr = p;
    b->cap = cap;
    return ZIPPY_OK;
}

int zb_append(zippy_buf *b, const void *p, size_t n) {
    if (b->cap - b->len <= n || !b->ptr) {
        int rc = zb_reserve(b, n);
        if (rc) return rc;
    }
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return ZIPPY_OK;
}

int zb_putc(zippy_buf *b, char c) { return zb_append(b, &c, 1); }

int zb_printf(zippy_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return z_err(ZIPPY_EINVAL, "bad format");
    int rc = zb_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ZIPPY_OK;
}

/* ---- hashing, time ---- */

uint64_t z_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }
uint32_t z_checksum32(const void *p, size_t n) {
    return (uint32_t)XXH3_64bits_withSeed(p, n, 0x5a49505059ull);
}

void z_utc_now(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *zippy_version(void) { return ZIPPY_VERSION_STRING; }
int zippy_version_number(void) { return ZIPPY_VERSION_NUMBER; }
int zippy_format_version(void) { return ZIPPY_FORMAT_VERSION; }
