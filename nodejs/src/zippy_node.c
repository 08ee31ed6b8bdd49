/* zippy_node.c - the Node.js binding of libzippy (N-API, C11).
 *
 * Uses only the public header <zippy.h> and <node_api.h>. The JavaScript
 * layer (nodejs/index.js) gives the classes their shape (defaults, option
 * objects, async iteration); this file does the work that must be fast or
 * needs C: JS values -> JSON text, JSON text -> JS values when the text
 * holds integers beyond 2^53, batched scans, and error mapping.
 *
 * Values crossing into JS: handles are napi externals (finalizers close
 * what JS forgot to close). Document text usually goes back as a JS string
 * that index.js hands to JSON.parse (V8's parser beats building objects
 * through N-API calls several times over); only text with a run of 16 or
 * more digits - a possible integer beyond 2^53 - is built here, through
 * zippy_json_visit, so such integers come back exact as BigInt.
 */
#define NAPI_VERSION 8
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* newlocale, strtod_l */
#endif
#include <node_api.h>
#include <zippy.h>

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Growable byte buffer of the addon (kept apart from zippy_buf so
 * external Buffers can be handed to V8 and freed with free()). */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_grow(sbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 256;
    if (need < b->len) return -1; /* overflow */
    if (need <= b->cap) return 0;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}
#define SB_RESERVE(b, n) ((b)->cap - (b)->len > (size_t)(n) ? 0 : sb_grow((b), (n)))

static int sb_put(sbuf *b, const void *p, size_t n)
{
    if (SB_RESERVE(b, n)) return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Per-env (per main thread or worker) state. */
typedef struct {
    sbuf enc;             /* encoder output, reused */
    sbuf tmp;             /* scratch for strings needing escapes */
    zippy_buf doc;        /* document reads, reused */
    napi_ref object_proto;/* Object.prototype, to spot plain objects */
} state;

#ifdef ZIPPY_NODE_DEBUG
#define CHECK(call)                                                            \
    do {                                                                       \
        if ((call) != napi_ok) {                                               \
            fprintf(stderr, "zippy_node.c:%d: %s failed\n", __LINE__, #call); \
            return NULL;                                                       \
        }                                                                      \
    } while (0)
#else
#define CHECK(call)                                                            \
    do {                                                                       \
        if ((call) != napi_ok) return NULL;                                    \
    } while (0)
#endif

static const char *code_name(int rc)
{
    switch (rc) {
    case ZIPPY_ENOTFOUND: return "ZIPPY_ENOTFOUND";
    case ZIPPY_EEXISTS: return "ZIPPY_EEXISTS";
    case ZIPPY_EINVAL: return "ZIPPY_EINVAL";
    case ZIPPY_ECORRUPT: return "ZIPPY_ECORRUPT";
    case ZIPPY_ELOCKED: return "ZIPPY_ELOCKED";
    case ZIPPY_EIO: return "ZIPPY_EIO";
    case ZIPPY_ENOMEM: return "ZIPPY_ENOMEM";
    case ZIPPY_EREADONLY: return "ZIPPY_EREADONLY";
    case ZIPPY_ESCHEMA: return "ZIPPY_ESCHEMA";
    case ZIPPY_ENOSPC: return "ZIPPY_ENOSPC";
    case ZIPPY_ETOOBIG: return "ZIPPY_ETOOBIG";
    case ZIPPY_ECLOSED: return "ZIPPY_ECLOSED";
    case ZIPPY_EBUSY: return "ZIPPY_EBUSY";
    case ZIPPY_EUNSUPPORTED: return "ZIPPY_EUNSUPPORTED";
    default: return "ZIPPY_ERROR";
    }
}

/* Throws an Error with .code (ZIPPY_E*) and .errno (the negative code). */
static napi_value throw_code(napi_env env, int rc, const char *msg)
{
    napi_value m, c, err, num;
    if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok ||
        napi_create_string_utf8(env, code_name(rc), NAPI_AUTO_LENGTH, &c) != napi_ok ||
        napi_create_error(env, c, m, &err) != napi_ok)
        return NULL;
    if (napi_create_int32(env, rc, &num) == napi_ok)
        napi_set_named_property(env, err, "errno", num);
    napi_throw(env, err);
    return NULL;
}

/* Throws the calling thread's last library error. */
static napi_value throw_zippy(napi_env env, int rc)
{
    const char *msg = zippy_errmsg();
    if (!msg || !*msg) msg = zippy_strerror(rc);
    return throw_code(env, rc, msg);
}

static napi_value throw_type(napi_env env, const char *msg)
{
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
}

static napi_value throw_nomem(napi_env env)
{
    return throw_code(env, ZIPPY_ENOMEM, "out of memory");
}

static state *get_state(napi_env env)
{
    void *d = NULL;
    napi_get_instance_data(env, &d);
    return d;
}

static napi_value js_undefined(napi_env env)
{
    napi_value v;
    napi_get_undefined(env, &v);
    return v;
}

static napi_value js_bool(napi_env env, int b)
{
    napi_value v;
    napi_get_boolean(env, b != 0, &v);
    return v;
}

/* Reads a JS string argument into buf (NUL-terminated). Returns its byte
 * length, or -1 after throwing (not a string: TypeError; too long: the
 * limit exceeded, as an Error with code ZIPPY_EINVAL). */
static long get_str(napi_env env, napi_value v, char *buf, size_t cap, const char *what)
{
    size_t n = 0;
    napi_status s = napi_get_value_string_utf8(env, v, buf, cap, &n);
    if (s == napi_string_expected) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a string", what);
        throw_type(env, msg);
        return -1;
    }
    if (s != napi_ok) return -1;
    if (n + 1 >= cap) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s is too long (at most %zu bytes)", what, cap - 2);
        throw_code(env, ZIPPY_EINVAL, msg);
        return -1;
    }
    return (long)n;
}

/* Reads a JS string into a malloc'd NUL-terminated copy (any length). */
static char *get_str_dup(napi_env env, napi_value v, const char *what, size_t *len_out)
{
    size_t n = 0;
    napi_status s = napi_get_value_string_utf8(env, v, NULL, 0, &n);
    if (s == napi_string_expected) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a string", what);
        throw_type(env, msg);
        return NULL;
    }
    if (s != napi_ok) return NULL;
    char *p = malloc(n + 1);
    if (!p) {
        throw_nomem(env);
        return NULL;
    }
    if (napi_get_value_string_utf8(env, v, p, n + 1, &n) != napi_ok) {
        free(p);
        return NULL;
    }
    if (len_out) *len_out = n;
    return p;
}

#define ID_CAP (ZIPPY_ID_MAX + 2)

/* Reads an id argument: a string (else TypeError). Length and characters
 * are checked by the library, whose message names the id. */
static long get_id(napi_env env, napi_value v, char id[ID_CAP])
{
    return get_str(env, v, id, ID_CAP, "id");
}

/* ------------------------------------------------------------------ */
/* JSON text -> JS value                                               */
/* ------------------------------------------------------------------ */

static locale_t c_locale; /* "C" numbers for strtod_l, whatever setlocale says */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

#define IS_DIGIT(c) ((unsigned)((unsigned char)(c) - '0') < 10u)

/* 1 if p[0..n) has a run of 16+ digits (a possible integer beyond 2^53;
 * false positives, such as digits in a string, only cost the slower exact
 * path). Such a run covers an index = 15 mod 16: only those are looked at
 * first. */
static int has_long_digit_run(const char *p, size_t n)
{
    for (size_t i = 15; i < n; i += 16) {
        if (!IS_DIGIT(p[i])) continue;
        size_t a = i, b = i;
        while (a > 0 && IS_DIGIT(p[a - 1])) a--;
        while (b + 1 < n && IS_DIGIT(p[b + 1])) b++;
        if (b - a + 1 >= 16) return 1;
    }
    return 0;
}

static int is_ascii(const char *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)p[i];
    return !(acc & 0x8080808080808080ull);
}

/* Classifies document text: bit 1 = has a byte >= 0x80, bit 2 = has a run
 * of 16+ digits. */
static int classify(const char *p, size_t n)
{
    return (is_ascii(p, n) ? 0 : 1) | (has_long_digit_run(p, n) ? 2 : 0);
}

/* Exact integer text -> Number (if within +-(2^53-1)) or BigInt. */
static napi_status make_integer(napi_env env, const char *t, size_t len, napi_value *out)
{
    int neg = len && t[0] == '-';
    const char *d = t + neg;
    size_t n = len - (size_t)neg;
    if (n <= 15) { /* < 10^15 < 2^53: exact as a double, -0 kept */
        char tmp[24];
        memcpy(tmp, t, len);
        tmp[len] = 0;
        return napi_create_double(env, strtod_l(tmp, NULL, c_locale), out);
    }
    size_t cap = n / 19 + 2, count = 1;
    uint64_t stackw[8], *w = cap <= 8 ? stackw : malloc(cap * sizeof *w);
    if (!w) return napi_generic_failure;
    w[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t carry = (uint64_t)(d[i] - '0');
        for (size_t k = 0; k < count; k++) {
            unsigned __int128 x = (unsigned __int128)w[k] * 10u + carry;
            w[k] = (uint64_t)x;
            carry = (uint64_t)(x >> 64);
        }
        if (carry) w[count++] = carry;
    }
    napi_status s;
    if (count == 1 && w[0] <= 9007199254740991ull)
        s = napi_create_double(env, neg ? -(double)w[0] : (double)w[0], out);
    else
        s = napi_create_bigint_words(env, neg, count, w, out);
    if (w != stackw) free(w);
    return s;
}

typedef struct {
    napi_value container;
    napi_value key;
    uint32_t index;
    int is_array;
} frame;

#define MAX_DEPTH 260
typedef struct {
    napi_env env;
    napi_value root;
    int top; /* index of the innermost open container, -1 before the root */
    frame st[MAX_DEPTH];
} builder;

static int attach(builder *b, napi_value v)
{
    if (b->top < 0) {
        b->root = v;
        return 0;
    }
    frame *f = &b->st[b->top];
    if (f->is_array) return napi_set_element(b->env, f->container, f->index++, v) != napi_ok;
    return napi_set_property(b->env, f->container, f->key, v) != napi_ok;
}

static int v_push(builder *b, napi_value v, int is_array)
{
    if (attach(b, v)) return 1;
    if (b->top + 1 >= MAX_DEPTH) return 1;
    frame *f = &b->st[++b->top];
    f->container = v;
    f->index = 0;
    f->is_array = is_array;
    f->key = NULL;
    return 0;
}

static int v_begin_object(void *ctx, size_t members)
{
    builder *b = ctx;
    napi_value o;
    (void)members;
    if (napi_create_object(b->env, &o) != napi_ok) return 1;
    return v_push(b, o, 0);
}

static int v_begin_array(void *ctx, size_t items)
{
    builder *b = ctx;
    napi_value a;
    if (napi_create_array_with_length(b->env, items, &a) != napi_ok) return 1;
    return v_push(b, a, 1);
}

static int v_end(void *ctx)
{
    builder *b = ctx;
    b->top--;
    return 0;
}

static int v_key(void *ctx, const char *k, size_t len)
{
    builder *b = ctx;
    return napi_create_string_utf8(b->env, k, len, &b->st[b->top].key) != napi_ok;
}

static int v_string(void *ctx, const char *s, size_t len)
{
    builder *b = ctx;
    napi_value v;
    if (napi_create_string_utf8(b->env, s, len, &v) != napi_ok) return 1;
    return attach(b, v);
}

static int v_number(void *ctx, const char *t, size_t len, int is_int)
{
    builder *b = ctx;
    napi_value v;
    if (is_int) {
        if (make_integer(b->env, t, len, &v) != napi_ok) return 1;
    } else {
        char stackt[64], *tmp = len < sizeof stackt ? stackt : malloc(len + 1);
        if (!tmp) return 1;
        memcpy(tmp, t, len);
        tmp[len] = 0;
        double d = strtod_l(tmp, NULL, c_locale);
        if (tmp != stackt) free(tmp);
        if (napi_create_double(b->env, d, &v) != napi_ok) return 1;
    }
    return attach(b, v);
}

static int v_boolean(void *ctx, int value)
{
    builder *b = ctx;
    napi_value v;
    if (napi_get_boolean(b->env, value != 0, &v) != napi_ok) return 1;
    return attach(b, v);
}

static int v_null(void *ctx)
{
    builder *b = ctx;
    napi_value v;
    if (napi_get_null(b->env, &v) != napi_ok) return 1;
    return attach(b, v);
}

static const zippy_json_visitor visitor = {
    v_begin_object, v_key, v_end, v_begin_array, v_end,
    v_string, v_number, v_boolean, v_null,
};

/* JSON text -> JS value built here (the exact path). NULL after throwing. */
static napi_value build_value(napi_env env, const char *json, size_t len)
{
    builder *b = malloc(sizeof *b);
    if (!b) return throw_nomem(env);
    b->env = env;
    b->root = NULL;
    b->top = -1;
    int rc = zippy_json_visit(json, len, &visitor, b);
    napi_value r = b->root;
    free(b);
    if (rc < 0) return throw_zippy(env, rc);
    if (rc > 0 || !r) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (!pending) throw_code(env, ZIPPY_ENOMEM, "could not build the JS value of a document");
        return NULL;
    }
    return r;
}

/* Document text -> what index.js expects: a string (to be JSON.parse'd
 * there) or, when the text may hold an integer beyond 2^53, the value. */
static napi_value text_result(napi_env env, const char *json, size_t len)
{
    napi_value v;
    int cls = classify(json, len);
    if (cls & 2) return build_value(env, json, len);
    if (cls & 1)
        CHECK(napi_create_string_utf8(env, json, len, &v));
    else
        CHECK(napi_create_string_latin1(env, json, len, &v));
    return v;
}

/* ------------------------------------------------------------------ */
/* JS value -> JSON text                                               */
/* ------------------------------------------------------------------ */

/* The encoder appends compact JSON to st->enc. On failure it returns -1
 * with an exception pending (or err set) and the path of the offending
 * value collected in reverse while unwinding. */
typedef struct {
    napi_env env;
    state *st;
    sbuf *out;
    napi_value proto;      /* Object.prototype */
    int depth;
    napi_value stack[MAX_DEPTH]; /* containers being encoded */
    /* error */
    int failed;            /* 1: our error in msg (TypeError); 2: JS exception pending */
    int code;              /* 0: TypeError; else a ZIPPY_E* code (Error) */
    const char *tcode;     /* .code of a TypeError */
    int skip_segs;         /* path segments to drop (inside a cycle) */
    char msg[200];
    char path[512];        /* built from the leaf up */
    /* top-level checks for batched writes */
    const char *id;
    size_t idlen;
    int check_top;
} encoder;

static const char hexd[] = "0123456789abcdef";

/* Appends s[0..n) as a JSON string body with escapes. */
static int put_escaped(sbuf *b, const char *s, size_t n)
{
    if (SB_RESERVE(b, n * 6 + 2)) return -1;
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hexd[c >> 4]; *o++ = hexd[c & 15];
        }
    }
    b->len = (size_t)(o - b->p);
    return 0;
}

static int enc_fail(encoder *e, int code, const char *msg)
{
    e->failed = 1;
    e->code = code;
    e->tcode = "ERR_INVALID_ARG_VALUE";
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

static int enc_js_failed(encoder *e)
{
    bool pending = false;
    napi_is_exception_pending(e->env, &pending);
    if (pending) {
        e->failed = 2;
        return -1;
    }
    return enc_fail(e, ZIPPY_ENOMEM, "could not read a value of the document");
}

/* Prepends a path segment ("key" or "[i]") while an error unwinds. */
static void path_prepend(encoder *e, const char *seg, size_t n, int is_index)
{
    if (e->skip_segs > 0) {
        e->skip_segs--;
        return;
    }
    size_t cur = strlen(e->path);
    size_t add = n + (cur && e->path[0] != '[' ? 1 : 0);
    (void)is_index;
    if (cur + add + 1 > sizeof e->path) return;
    memmove(e->path + add, e->path, cur + 1);
    memcpy(e->path, seg, n);
    if (add > n) e->path[n] = '.';
}

/* Appends a JS string, escaped and quoted. */
static int enc_string(encoder *e, napi_value v)
{
    sbuf *b = e->out;
    size_t n = 0;
    if (SB_RESERVE(b, 256)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    size_t avail = b->cap - b->len - 1; /* room after the opening quote */
    char *dst = b->p + b->len + 1;
    if (napi_get_value_string_utf8(e->env, v, dst, avail, &n) != napi_ok) return enc_js_failed(e);
    if (n + 4 >= avail) { /* maybe cut: ask for the length and redo */
        if (napi_get_value_string_utf8(e->env, v, NULL, 0, &n) != napi_ok) return enc_js_failed(e);
        if (SB_RESERVE(b, n + 8)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
        dst = b->p + b->len + 1;
        if (napi_get_value_string_utf8(e->env, v, dst, n + 1, &n) != napi_ok) return enc_js_failed(e);
    }
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)dst[i];
        if (c < 0x20 || c == '"' || c == '\\') break;
    }
    if (i == n) { /* common case: nothing to escape */
        b->p[b->len] = '"';
        b->len += n + 1;
        b->p[b->len++] = '"';
        return 0;
    }
    /* move the raw text to scratch, then write it escaped */
    sbuf *t = &e->st->tmp;
    t->len = 0;
    if (sb_put(t, dst, n)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    b->p[b->len++] = '"';
    if (put_escaped(b, t->p, n)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    b->p[b->len++] = '"';
    return 0;
}

static int put_i64(sbuf *b, int64_t v)
{
    char tmp[24], *q = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--q = '-';
    return sb_put(b, q, (size_t)(tmp + sizeof tmp - q));
}

static int enc_number(encoder *e, napi_value v)
{
    double d;
    if (napi_get_value_double(e->env, v, &d) != napi_ok) return enc_js_failed(e);
    if (!isfinite(d))
        return enc_fail(e, 0, isnan(d) ? "NaN cannot be stored as JSON"
                                       : "Infinity cannot be stored as JSON");
    if (d == trunc(d) && fabs(d) <= 9007199254740991.0) /* -0 writes 0 */
        return put_i64(e->out, (int64_t)d) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    if (d == trunc(d)) {
        /* An integral double beyond 2^53: written with an exponent so it
         * reads back as a Number, not as a BigInt. Shortest exact form. */
        char tmp[40];
        for (int prec = 0; prec < 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*e", prec, d);
            if (strtod_l(tmp, NULL, c_locale) == d) break;
        }
        return sb_put(e->out, tmp, strlen(tmp)) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    }
    /* Fractions: V8's shortest round-trip form (Number#toString), which is
     * always valid JSON for finite values. */
    napi_value s;
    char tmp[40];
    size_t n = 0;
    if (napi_coerce_to_string(e->env, v, &s) != napi_ok ||
        napi_get_value_string_utf8(e->env, s, tmp, sizeof tmp, &n) != napi_ok)
        return enc_js_failed(e);
    return sb_put(e->out, tmp, n) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
}

static int enc_bigint(encoder *e, napi_value v)
{
    int64_t i64;
    bool lossless = false;
    if (napi_get_value_bigint_int64(e->env, v, &i64, &lossless) != napi_ok) return enc_js_failed(e);
    if (lossless) return put_i64(e->out, i64) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    size_t count = 0;
    int sign = 0;
    if (napi_get_value_bigint_words(e->env, v, NULL, &count, NULL) != napi_ok) return enc_js_failed(e);
    uint64_t *w = malloc((count ? count : 1) * sizeof *w);
    char *digits = malloc(count * 20 + 2);
    if (!w || !digits) {
        free(w);
        free(digits);
        return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    }
    if (napi_get_value_bigint_words(e->env, v, &sign, &count, w) != napi_ok) {
        free(w);
        free(digits);
        return enc_js_failed(e);
    }
    /* repeated division by 10^19, least significant chunk first */
    size_t nd = 0, live = count;
    while (live && !w[live - 1]) live--;
    while (live) {
        unsigned __int128 rem = 0;
        for (size_t k = live; k-- > 0;) {
            unsigned __int128 cur = (rem << 64) | w[k];
            w[k] = (uint64_t)(cur / 10000000000000000000ull);
            rem = cur % 10000000000000000000ull;
        }
        while (live && !w[live - 1]) live--;
        uint64_t chunk = (uint64_t)rem;
        for (int k = 0; k < 19 && (live || chunk); k++) {
            digits[nd++] = (char)('0' + chunk % 10);
            chunk /= 10;
        }
    }
    if (!nd) digits[nd++] = '0';
    int rc = 0;
    if (SB_RESERVE(e->out, nd + 1)) rc = enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    else {
        if (sign) e->out->p[e->out->len++] = '-';
        while (nd) e->out->p[e->out->len++] = digits[--nd];
    }
    free(w);
    free(digits);
    return rc;
}

static int enc_value(encoder *e, napi_value v, int in_array);

/* Called when nesting passes the limit: a cycle or a very deep value. */
static int enc_too_deep(encoder *e)
{
    for (int i = 0; i < e->depth; i++)
        for (int j = i + 1; j < e->depth; j++) {
            bool same = false;
            if (napi_strict_equals(e->env, e->stack[i], e->stack[j], &same) == napi_ok && same) {
                /* report the path down to the first repeat only */
                e->skip_segs = e->depth - j;
                return enc_fail(e, 0, "circular structure: an object contains itself");
            }
        }
    e->skip_segs = MAX_DEPTH + 1; /* the path would only repeat itself */
    return enc_fail(e, ZIPPY_EINVAL, "nesting deeper than 256 levels");
}

static int enc_array(encoder *e, napi_value a)
{
    uint32_t n = 0;
    if (napi_get_array_length(e->env, a, &n) != napi_ok) return enc_js_failed(e);
    if (sb_put(e->out, "[", 1)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        napi_value x;
        if (i && sb_put(e->out, ",", 1)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
        if (napi_get_element(e->env, a, i, &x) != napi_ok || enc_value(e, x, 1)) {
            if (!e->failed) enc_js_failed(e);
            char seg[24];
            int k = snprintf(seg, sizeof seg, "[%u]", i);
            path_prepend(e, seg, (size_t)k, 1);
            return -1;
        }
    }
    return sb_put(e->out, "]", 1) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
}

static int enc_tojson(encoder *e, napi_value v, napi_value fn, int in_array);

/* allow_tojson: o is a plain object whose own toJSON (if any) applies; not
 * for the result of a toJSON call (JSON.stringify calls it once). */
static int enc_object(encoder *e, napi_value o, int allow_tojson)
{
    napi_value keys;
    uint32_t n = 0;
    int top = e->depth == 1 && e->check_top;
    size_t start = e->out->len;
    if (napi_get_all_property_names(e->env, o, napi_key_own_only,
                                    napi_key_enumerable | napi_key_skip_symbols,
                                    napi_key_numbers_to_strings, &keys) != napi_ok ||
        napi_get_array_length(e->env, keys, &n) != napi_ok)
        return enc_js_failed(e);
    if (sb_put(e->out, "{", 1)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
    int first = 1;
    for (uint32_t i = 0; i < n; i++) {
        napi_value k, x;
        napi_valuetype t;
        if (napi_get_element(e->env, keys, i, &k) != napi_ok ||
            napi_get_property(e->env, o, k, &x) != napi_ok || napi_typeof(e->env, x, &t) != napi_ok)
            return enc_js_failed(e);
        if (t == napi_function && allow_tojson) {
            char kb[8];
            size_t kl = 0;
            if (napi_get_value_string_utf8(e->env, k, kb, sizeof kb, &kl) == napi_ok && kl == 6 &&
                !memcmp(kb, "toJSON", 6)) {
                e->out->len = start; /* an own toJSON: it gives the value */
                return enc_tojson(e, o, x, 0);
            }
        }
        /* skipped as JSON.stringify skips them */
        if (t == napi_undefined || t == napi_function || t == napi_symbol || t == napi_external) continue;
        size_t mark = e->out->len;
        if (!first && sb_put(e->out, ",", 1)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
        size_t kstart = e->out->len + 1;
        if (enc_string(e, k)) return -1;
        size_t klen = e->out->len - 1 - kstart;
        if (top) {
            const char *kp = e->out->p + kstart;
            if (klen == 8 && !memcmp(kp, "$deleted", 8))
                return enc_fail(e, ZIPPY_EINVAL, "the top-level key \"$deleted\" is reserved");
            if (klen == 3 && !memcmp(kp, "_id", 3)) {
                /* must equal the id; not stored twice (as zippy_put) */
                char idv[ID_CAP];
                size_t m = 0;
                if (t != napi_string ||
                    napi_get_value_string_utf8(e->env, x, idv, sizeof idv, &m) != napi_ok ||
                    m != e->idlen || memcmp(idv, e->id, m))
                    return enc_fail(e, ZIPPY_EINVAL, "the document's \"_id\" differs from the id it is stored under");
                e->out->len = mark;
                continue;
            }
        }
        if (sb_put(e->out, ":", 1)) return enc_fail(e, ZIPPY_ENOMEM, "out of memory");
        if (enc_value(e, x, 0)) {
            if (e->failed != 2) {
                size_t kl = 0;
                char seg[128];
                napi_get_value_string_utf8(e->env, k, seg, sizeof seg, &kl);
                path_prepend(e, seg, kl, 0);
            }
            return -1;
        }
        first = 0;
    }
    return sb_put(e->out, "}", 1) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
}

static int enc_value(encoder *e, napi_value v, int in_array)
{
    napi_valuetype t;
    if (napi_typeof(e->env, v, &t) != napi_ok) return enc_js_failed(e);
    switch (t) {
    case napi_string: return enc_string(e, v);
    case napi_number: return enc_number(e, v);
    case napi_boolean: {
        bool b;
        if (napi_get_value_bool(e->env, v, &b) != napi_ok) return enc_js_failed(e);
        return sb_put(e->out, b ? "true" : "false", b ? 4 : 5) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    }
    case napi_null:
    case napi_undefined: /* these four reach here only inside arrays: null */
    case napi_function:  /* there, as JSON.stringify writes them */
    case napi_symbol:
    case napi_external:
        return sb_put(e->out, "null", 4) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    case napi_bigint: return enc_bigint(e, v);
    case napi_object: break;
    }
    (void)in_array;
    if (e->depth >= 256) return enc_too_deep(e);
    e->stack[e->depth++] = v;
    int rc;
    bool is_array = false;
    if (napi_is_array(e->env, v, &is_array) != napi_ok) return enc_js_failed(e);
    if (is_array) {
        rc = enc_array(e, v);
    } else {
        napi_value proto;
        bool plain = false;
        if (napi_get_prototype(e->env, v, &proto) != napi_ok) return enc_js_failed(e);
        napi_valuetype pt;
        napi_typeof(e->env, proto, &pt);
        if (pt == napi_null) plain = true;
        else if (napi_strict_equals(e->env, proto, e->proto, &plain) != napi_ok) return enc_js_failed(e);
        napi_value fn;
        napi_valuetype ft = napi_undefined;
        if (!plain) {
            if (napi_get_named_property(e->env, v, "toJSON", &fn) != napi_ok ||
                napi_typeof(e->env, fn, &ft) != napi_ok)
                return enc_js_failed(e);
        }
        if (ft == napi_function) {
            e->depth--;
            return enc_tojson(e, v, fn, in_array);
        }
        rc = enc_object(e, v, plain);
    }
    e->depth--;
    return rc;
}

/* Dates and other values with toJSON, as JSON.stringify: the value is what
 * toJSON returns (called once, with the key "" - our keys are not passed). */
static int enc_tojson(encoder *e, napi_value v, napi_value fn, int in_array)
{
    napi_value r, arg;
    napi_valuetype rt;
    if (napi_create_string_utf8(e->env, "", 0, &arg) != napi_ok ||
        napi_call_function(e->env, v, fn, 1, &arg, &r) != napi_ok || napi_typeof(e->env, r, &rt) != napi_ok)
        return enc_js_failed(e);
    if (rt == napi_undefined || rt == napi_function || rt == napi_symbol)
        return sb_put(e->out, "null", 4) ? enc_fail(e, ZIPPY_ENOMEM, "out of memory") : 0;
    if (rt != napi_object) return enc_value(e, r, in_array);
    if (e->depth >= 256) return enc_too_deep(e);
    e->stack[e->depth++] = r;
    bool arr = false;
    napi_is_array(e->env, r, &arr);
    int rc = arr ? enc_array(e, r) : enc_object(e, r, 0);
    e->depth--;
    return rc;
}

static void enc_init(encoder *e, napi_env env, state *st, sbuf *out)
{
    e->env = env;
    e->st = st;
    e->out = out;
    e->depth = 0;
    e->failed = 0;
    e->code = 0;
    e->msg[0] = 0;
    e->path[0] = 0;
    e->tcode = NULL;
    e->skip_segs = 0;
    e->id = NULL;
    e->idlen = 0;
    e->check_top = 0;
    napi_get_reference_value(env, st->object_proto, &e->proto);
}

/* Throws the encoder's error (unless a JS exception is already pending). */
static napi_value enc_throw(encoder *e, const char *what)
{
    if (e->failed == 2) return NULL;
    char msg[800];
    if (e->path[0])
        snprintf(msg, sizeof msg, "%s: %s (at %s)", what, e->msg, e->path);
    else
        snprintf(msg, sizeof msg, "%s: %s", what, e->msg);
    if (e->code == 0) {
        napi_throw_type_error(e->env, e->tcode, msg);
        return NULL;
    }
    return throw_code(e->env, e->code, msg);
}

/* Encodes a document (a non-array object) into out (appending). */
static int encode_doc(encoder *e, napi_value doc)
{
    napi_valuetype t;
    bool arr = false;
    if (napi_typeof(e->env, doc, &t) != napi_ok) return enc_js_failed(e);
    if (t == napi_object) napi_is_array(e->env, doc, &arr);
    if (t != napi_object || arr) {
        const char *what = arr ? "an array" : t == napi_null ? "null" : t == napi_undefined ? "undefined"
                         : t == napi_string ? "a string" : t == napi_number ? "a number"
                         : t == napi_boolean ? "a boolean" : t == napi_bigint ? "a bigint"
                         : t == napi_function ? "a function" : "not an object";
        char msg[120];
        snprintf(msg, sizeof msg, "a document must be a plain object, got %s", what);
        enc_fail(e, 0, msg);
        e->tcode = "ERR_INVALID_ARG_TYPE";
        return -1;
    }
    return enc_value(e, doc, 0);
}

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    zippy_root *root;
    int readonly;
} root_h;

typedef struct {
    zippy_coll *coll;
    zippy_root *own_root; /* root opened for this store alone, or NULL */
    /* pending batch (BulkWriter): JSONL lines and their ids */
    sbuf pend;
    sbuf pend_ids;        /* ids, each NUL-terminated */
    size_t pend_n;
    size_t batch;         /* 0: write through */
    int writable;
    /* ZdsStore's batchSize: flush after this many writes (0: never) */
    uint64_t flush_every, since_flush;
    struct writer *w;     /* background writer of full batches, or NULL */
} coll_h;

/* A BulkWriter's full batches are written by a thread of their own while
 * the main thread encodes the next batch (JSON encoding in V8 and the
 * library's write take about as long each: on two cores they overlap).
 * One batch at a time is in flight; everything else on the handle waits
 * for it first (coll_sync), and its error is thrown there. */
typedef struct writer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;             /* a batch is being written */
    int stop;
    coll_h *c;
    sbuf data, ids;       /* the batch in flight (owned by the thread while busy) */
    size_t n;
    int err;              /* first unreported error of a background batch */
    char errmsg[600];
} writer;

#define PEND_MAX_BYTES (16u << 20) /* a batch is written at this size too */

typedef struct {
    zippy_scan *scan;
    int busy;             /* an async batch is running */
    int close_after;      /* close requested while busy */
    sbuf out, ends;       /* batch buffers, reused */
} scan_h;

static void root_finalize(napi_env env, void *data, void *hint)
{
    root_h *r = data;
    (void)env; (void)hint;
    zippy_root_close(r->root);
    free(r);
}

static int coll_drain(coll_h *c);
static void writer_stop(coll_h *c);

static void coll_release(coll_h *c)
{
    writer_stop(c);
    if (c->coll) {
        coll_drain(c);
        zippy_coll_close(c->coll);
        c->coll = NULL;
    }
    zippy_root_close(c->own_root);
    c->own_root = NULL;
    sb_free(&c->pend);
    sb_free(&c->pend_ids);
}

static void coll_finalize(napi_env env, void *data, void *hint)
{
    (void)env; (void)hint;
    coll_release(data);
    free(data);
}

static void scan_finalize(napi_env env, void *data, void *hint)
{
    scan_h *s = data;
    (void)env; (void)hint;
    zippy_scan_close(s->scan);
    sb_free(&s->out);
    sb_free(&s->ends);
    free(s);
}

static void *get_ext(napi_env env, napi_value v)
{
    void *p = NULL;
    if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
        throw_type(env, "invalid handle");
        return NULL;
    }
    return p;
}

static coll_h *get_coll(napi_env env, napi_value v)
{
    coll_h *c = get_ext(env, v);
    if (c && !c->coll) {
        throw_code(env, ZIPPY_ECLOSED, "the store is closed");
        return NULL;
    }
    return c;
}

static root_h *get_root(napi_env env, napi_value v)
{
    root_h *r = get_ext(env, v);
    if (r && !r->root) {
        throw_code(env, ZIPPY_ECLOSED, "the root is closed");
        return NULL;
    }
    return r;
}

/* Writes n JSONL lines of data, named by the NUL-separated ids, with one
 * zippy_put_jsonl call. Safe off the main thread. */
static int write_batch(zippy_coll *coll, const sbuf *data, const sbuf *idv, size_t n, uint64_t *written)
{
    const char **ids = malloc(n * sizeof *ids);
    size_t *lens = malloc(n * sizeof *lens);
    int rc = ZIPPY_ENOMEM;
    if (ids && lens) {
        const char *p = idv->p;
        for (size_t i = 0; i < n; i++) {
            ids[i] = p;
            lens[i] = strlen(p);
            p += lens[i] + 1;
        }
        rc = zippy_put_jsonl(coll, data->p, data->len, ids, lens, n, written);
    }
    free(ids);
    free(lens);
    return rc;
}

/* Writes the pending batch on the calling thread. Lines before a failing
 * one are stored; the rest are dropped (the error goes to the caller). */
static int coll_drain(coll_h *c)
{
    if (!c->pend_n) return 0;
    uint64_t written = 0;
    int rc = write_batch(c->coll, &c->pend, &c->pend_ids, c->pend_n, &written);
    c->pend.len = 0;
    c->pend_ids.len = 0;
    c->pend_n = 0;
    return rc;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy) break; /* stop, nothing in flight */
        pthread_mutex_unlock(&w->mu);
        uint64_t written = 0;
        int rc = write_batch(w->c->coll, &w->data, &w->ids, w->n, &written);
        char msg[sizeof w->errmsg];
        if (rc)
            snprintf(msg, sizeof msg, "a batch of %zu documents failed after %llu were written: %s",
                     w->n, (unsigned long long)written, zippy_errmsg());
        pthread_mutex_lock(&w->mu);
        if (rc && !w->err) {
            w->err = rc;
            memcpy(w->errmsg, msg, sizeof msg);
        }
        w->data.len = w->ids.len = 0;
        w->n = 0;
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until no batch is in flight; returns (and clears) its error. */
static int writer_wait(writer *w, char *msg, size_t cap)
{
    pthread_mutex_lock(&w->mu);
    while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->err;
    if (rc) snprintf(msg, cap, "%s", w->errmsg);
    w->err = 0;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void writer_stop(coll_h *c)
{
    writer *w = c->w;
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    sb_free(&w->data);
    sb_free(&w->ids);
    free(w);
    c->w = NULL;
}

/* Hands the pending batch to the writer thread (started on first use);
 * writes it here if no thread can be had. 0, or -1 after throwing the
 * previous batch's error (the pending batch then stays pending). */
static int coll_submit(napi_env env, coll_h *c)
{
    if (!c->w) {
        writer *w = calloc(1, sizeof *w);
        if (w) {
            w->c = c;
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv, NULL);
            if (pthread_create(&w->th, NULL, writer_main, w)) {
                pthread_mutex_destroy(&w->mu);
                pthread_cond_destroy(&w->cv);
                free(w);
                w = NULL;
            }
        }
        c->w = w;
        if (!w) {
            int rc = coll_drain(c);
            if (rc) throw_zippy(env, rc);
            return rc ? -1 : 0;
        }
    }
    writer *w = c->w;
    char msg[sizeof w->errmsg];
    int rc = writer_wait(w, msg, sizeof msg);
    if (rc) {
        throw_code(env, rc, msg);
        return -1;
    }
    pthread_mutex_lock(&w->mu);
    sbuf t = w->data; /* swap: the thread's emptied buffers are reused here */
    w->data = c->pend;
    c->pend = t;
    t = w->ids;
    w->ids = c->pend_ids;
    c->pend_ids = t;
    w->n = c->pend_n;
    c->pend_n = 0;
    w->busy = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Before any other use of the handle: waits for the batch in flight and
 * writes what is pending. 0, or -1 after throwing. */
static int coll_sync(napi_env env, coll_h *c)
{
    if (c->w) {
        char msg[sizeof c->w->errmsg];
        int rc = writer_wait(c->w, msg, sizeof msg);
        if (rc) {
            throw_code(env, rc, msg);
            return -1;
        }
    }
    if (c->pend_n) {
        int rc = coll_drain(c);
        if (rc) {
            throw_zippy(env, rc);
            return -1;
        }
    }
    return 0;
}

#define DRAIN_OR_THROW(env, c)                                                 \
    do {                                                                       \
        if (((c)->w || (c)->pend_n) && coll_sync(env, c)) return NULL;         \
    } while (0)

/* A batch is full: hand it over (or write it) */
#define SUBMIT_OR_THROW(env, c)                                                \
    do {                                                                       \
        if (coll_submit(env, c)) return NULL;                                  \
    } while (0)

/* Gets the callback's arguments (up to 8); missing ones are undefined. */
#define ARGS(n)                                                                \
    size_t argc = (n);                                                         \
    napi_value argv[(n) > 0 ? (n) : 1];                                        \
    CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));               \
    for (size_t ai_ = argc; ai_ < (size_t)(n); ai_++) napi_get_undefined(env, &argv[ai_])

static int is_nullish(napi_env env, napi_value v)
{
    napi_valuetype t;
    napi_typeof(env, v, &t);
    return t == napi_undefined || t == napi_null;
}

static int get_flag(napi_env env, napi_value v)
{
    bool b = false;
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_boolean) napi_get_value_bool(env, v, &b);
    else if (t == napi_number) {
        int32_t i = 0;
        napi_get_value_int32(env, v, &i);
        return i;
    }
    return b;
}

/* ------------------------------------------------------------------ */
/* Module functions                                                    */
/* ------------------------------------------------------------------ */

static napi_value f_version(napi_env env, napi_callback_info info)
{
    napi_value v;
    (void)info;
    CHECK(napi_create_string_utf8(env, zippy_version(), NAPI_AUTO_LENGTH, &v));
    return v;
}

/* rootOpen(path, readonly) -> handle */
static napi_value f_root_open(napi_env env, napi_callback_info info)
{
    ARGS(2);
    char *path = get_str_dup(env, argv[0], "root", NULL);
    if (!path) return NULL;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    int ro = get_flag(env, argv[1]);
    o.flags = ro ? ZIPPY_OPEN_READONLY : ZIPPY_OPEN_CREATE;
    zippy_root *root = NULL;
    int rc = zippy_root_open(&root, path, &o);
    free(path);
    if (rc) return throw_zippy(env, rc);
    root_h *r = calloc(1, sizeof *r);
    if (!r) {
        zippy_root_close(root);
        return throw_nomem(env);
    }
    r->root = root;
    r->readonly = ro;
    napi_value ext;
    if (napi_create_external(env, r, root_finalize, NULL, &ext) != napi_ok) {
        root_finalize(env, r, NULL);
        return NULL;
    }
    return ext;
}

static napi_value f_root_close(napi_env env, napi_callback_info info)
{
    ARGS(1);
    root_h *r = get_ext(env, argv[0]);
    if (!r) return NULL;
    zippy_root_close(r->root);
    r->root = NULL;
    return js_undefined(env);
}

static napi_value strv_to_array(napi_env env, char **v, size_t n)
{
    napi_value arr;
    CHECK(napi_create_array_with_length(env, n, &arr));
    for (size_t i = 0; i < n; i++) {
        napi_value s;
        CHECK(napi_create_string_utf8(env, v[i], NAPI_AUTO_LENGTH, &s));
        CHECK(napi_set_element(env, arr, (uint32_t)i, s));
    }
    return arr;
}

static napi_value f_root_list(napi_env env, napi_callback_info info)
{
    ARGS(1);
    root_h *r = get_root(env, argv[0]);
    if (!r) return NULL;
    char **v = NULL;
    size_t n = 0;
    int rc = zippy_root_list(r->root, &v, &n);
    if (rc) return throw_zippy(env, rc);
    napi_value arr = strv_to_array(env, v, n);
    zippy_strv_free(v);
    return arr;
}

/* rootWritable(rootHandle) -> false for read-only roots and archives opened in place. */
static napi_value f_root_writable(napi_env env, napi_callback_info info)
{
    ARGS(1);
    root_h *r = get_root(env, argv[0]);
    if (!r) return NULL;
    return js_bool(env, zippy_root_writable(r->root) == 1);
}

static napi_value f_root_has(napi_env env, napi_callback_info info)
{
    ARGS(2);
    root_h *r = get_root(env, argv[0]);
    if (!r) return NULL;
    char name[80];
    if (get_str(env, argv[1], name, sizeof name, "collection name") < 0) return NULL;
    if (zippy_coll_name_valid(name)) return js_bool(env, 0);
    int rc = zippy_root_has(r->root, name);
    if (rc < 0) return throw_zippy(env, rc);
    return js_bool(env, rc);
}

/* collOpen(rootHandle | null, path, name, readonly, strict, files) -> handle.
 * With no root handle the store opens (and owns) its own root. files: a new
 * collection uses the file-per-document layout (an existing one keeps its
 * own). */
static napi_value f_coll_open(napi_env env, napi_callback_info info)
{
    ARGS(6);
    char name[80];
    if (get_str(env, argv[2], name, sizeof name, "collection name") < 0) return NULL;
    int ro = get_flag(env, argv[3]), strict = get_flag(env, argv[4]), files = get_flag(env, argv[5]);
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ro ? ZIPPY_OPEN_READONLY : ZIPPY_OPEN_CREATE;
    o.strict = strict;
    o.layout = files ? ZIPPY_LAYOUT_FILES : ZIPPY_LAYOUT_DEFAULT;
    zippy_root *root = NULL, *own = NULL;
    int rc;
    if (is_nullish(env, argv[0])) {
        char *path = get_str_dup(env, argv[1], "root", NULL);
        if (!path) return NULL;
        rc = zippy_root_open(&own, path, &o);
        free(path);
        if (rc) return throw_zippy(env, rc);
        root = own;
    } else {
        root_h *r = get_root(env, argv[0]);
        if (!r) return NULL;
        root = r->root;
        if (r->readonly) o.flags = ZIPPY_OPEN_READONLY;
    }
    zippy_coll *coll = NULL;
    rc = zippy_coll_open(&coll, root, name, &o);
    if (rc) {
        napi_value r = throw_zippy(env, rc);
        zippy_root_close(own);
        return r;
    }
    coll_h *c = calloc(1, sizeof *c);
    if (!c) {
        zippy_coll_close(coll);
        zippy_root_close(own);
        return throw_nomem(env);
    }
    c->coll = coll;
    c->own_root = own;
    c->writable = zippy_coll_writable(coll);
    napi_value ext;
    if (napi_create_external(env, c, coll_finalize, NULL, &ext) != napi_ok) {
        coll_finalize(env, c, NULL);
        return NULL;
    }
    return ext;
}

static napi_value f_coll_close(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_ext(env, argv[0]);
    if (!c) return NULL;
    if (!c->coll) return js_undefined(env); /* closing twice is fine */
    char msg[sizeof ((writer *)0)->errmsg] = "";
    int rc = c->w ? writer_wait(c->w, msg, sizeof msg) : 0;
    writer_stop(c);
    int rc2 = coll_drain(c);
    if (rc2 && !rc) snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    if (!rc) rc = rc2;
    rc2 = zippy_coll_close(c->coll);
    if (rc2 && !rc) snprintf(msg, sizeof msg, "%s", zippy_errmsg());
    if (!rc) rc = rc2;
    c->coll = NULL;
    coll_release(c);
    if (rc) return throw_code(env, rc, msg);
    return js_undefined(env);
}

static napi_value f_flush(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    DRAIN_OR_THROW(env, c);
    int rc = zippy_coll_flush(c->coll);
    if (rc) return throw_zippy(env, rc);
    return js_undefined(env);
}

/* configure(handle, batch, flushEvery): batch > 0 buffers puts and writes
 * them batch at a time (BulkWriter); flushEvery > 0 flushes after that many
 * writes (ZdsStore's batchSize: bounds what a crash can lose). */
static napi_value f_configure(napi_env env, napi_callback_info info)
{
    ARGS(3);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    int64_t n = 0, every = 0;
    napi_get_value_int64(env, argv[1], &n);
    napi_get_value_int64(env, argv[2], &every);
    DRAIN_OR_THROW(env, c);
    c->batch = n > 0 ? (size_t)n : 0;
    c->flush_every = every > 0 ? (uint64_t)every : 0;
    c->since_flush = 0;
    return js_undefined(env);
}

/* Counts n writes; flushes when flush_every is reached. */
static int count_writes(coll_h *c, uint64_t n)
{
    if (!c->flush_every) return 0;
    c->since_flush += n;
    if (c->since_flush < c->flush_every) return 0;
    c->since_flush = 0;
    return zippy_coll_flush(c->coll);
}

static napi_value f_put(napi_env env, napi_callback_info info)
{
    ARGS(3);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char id[ID_CAP];
    long idlen = get_id(env, argv[1], id);
    if (idlen < 0) return NULL;
    state *st = get_state(env);
    encoder e;
    if (c->batch) {
        int rc = zippy_id_valid(id, (size_t)idlen);
        if (rc) return throw_zippy(env, rc);
        if (!c->writable)
            return throw_code(env, ZIPPY_EREADONLY, "the store is read-only: writes are refused");
        size_t mark = c->pend.len;
        enc_init(&e, env, st, &c->pend);
        e.id = id;
        e.idlen = (size_t)idlen;
        e.check_top = 1;
        if (encode_doc(&e, argv[2])) {
            c->pend.len = mark;
            return enc_throw(&e, "cannot store document");
        }
        if (c->pend.len - mark > ZIPPY_DOC_MAX) {
            c->pend.len = mark;
            return throw_code(env, ZIPPY_ETOOBIG, "document is larger than 64 MiB");
        }
        if (sb_put(&c->pend, "\n", 1) || sb_put(&c->pend_ids, id, (size_t)idlen + 1)) {
            c->pend.len = mark;
            return throw_nomem(env);
        }
        if (++c->pend_n >= c->batch || c->pend.len >= PEND_MAX_BYTES) SUBMIT_OR_THROW(env, c);
        return js_undefined(env);
    }
    DRAIN_OR_THROW(env, c); /* keep the order of writes */
    st->enc.len = 0;
    enc_init(&e, env, st, &st->enc);
    if (encode_doc(&e, argv[2])) return enc_throw(&e, "cannot store document");
    int rc = zippy_put(c->coll, id, (size_t)idlen, st->enc.p, st->enc.len);
    if (st->enc.cap > (1u << 20)) sb_free(&st->enc); /* don't keep a huge buffer */
    if (!rc) rc = count_writes(c, 1);
    if (rc) return throw_zippy(env, rc);
    return js_undefined(env);
}

/* putJson(handle, id, json) -> stored: json is JSON.stringify's text of a
 * plain object (index.js sends documents here when that text is exact: no
 * NaN or Infinity turned into null, no BigInt, no top-level "_id" or
 * "$deleted"). Batched when the handle batches, else written through.
 * Returns false, storing nothing, when the text has a run of 16+ digits:
 * an integral Number beyond 2^53 that JSON.stringify wrote in full would
 * read back as a BigInt, so index.js then uses put() (exact encoder). */
static napi_value f_put_json(napi_env env, napi_callback_info info)
{
    ARGS(3);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char id[ID_CAP];
    long idlen = get_id(env, argv[1], id);
    if (idlen < 0) return NULL;
    if (!c->batch) {
        state *st = get_state(env);
        size_t n = 0;
        st->enc.len = 0;
        if (SB_RESERVE(&st->enc, 4096)) return throw_nomem(env);
        CHECK(napi_get_value_string_utf8(env, argv[2], st->enc.p, st->enc.cap, &n));
        if (n + 4 >= st->enc.cap) {
            CHECK(napi_get_value_string_utf8(env, argv[2], NULL, 0, &n));
            if (SB_RESERVE(&st->enc, n + 1)) return throw_nomem(env);
            CHECK(napi_get_value_string_utf8(env, argv[2], st->enc.p, st->enc.cap, &n));
        }
        if (has_long_digit_run(st->enc.p, n)) return js_bool(env, 0);
        int rc = zippy_put(c->coll, id, (size_t)idlen, st->enc.p, n);
        if (st->enc.cap > (1u << 20)) sb_free(&st->enc);
        if (!rc) rc = count_writes(c, 1);
        if (rc) return throw_zippy(env, rc);
        return js_bool(env, 1);
    }
    int rc = zippy_id_valid(id, (size_t)idlen);
    if (rc) return throw_zippy(env, rc);
    if (!c->writable)
        return throw_code(env, ZIPPY_EREADONLY, "the store is read-only: writes are refused");
    sbuf *b = &c->pend;
    size_t mark = b->len, n = 0;
    if (SB_RESERVE(b, 4096)) return throw_nomem(env);
    CHECK(napi_get_value_string_utf8(env, argv[2], b->p + b->len, b->cap - b->len, &n));
    if (n + 4 >= b->cap - b->len) {
        CHECK(napi_get_value_string_utf8(env, argv[2], NULL, 0, &n));
        if (SB_RESERVE(b, n + 2)) return throw_nomem(env);
        CHECK(napi_get_value_string_utf8(env, argv[2], b->p + b->len, b->cap - b->len, &n));
    }
    if (n > ZIPPY_DOC_MAX) return throw_code(env, ZIPPY_ETOOBIG, "document is larger than 64 MiB");
    if (has_long_digit_run(b->p + b->len, n)) return js_bool(env, 0);
    b->len += n;
    b->p[b->len++] = '\n';
    if (sb_put(&c->pend_ids, id, (size_t)idlen + 1)) {
        b->len = mark;
        return throw_nomem(env);
    }
    if (++c->pend_n >= c->batch || b->len >= PEND_MAX_BYTES) SUBMIT_OR_THROW(env, c);
    return js_bool(env, 1);
}

/* get(handle, id, flags): flags 1 = with _id, 2 = undefined when missing */
static napi_value f_get(napi_env env, napi_callback_info info)
{
    ARGS(3);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char id[ID_CAP];
    long idlen = get_id(env, argv[1], id);
    if (idlen < 0) return NULL;
    int flags = get_flag(env, argv[2]);
    DRAIN_OR_THROW(env, c);
    state *st = get_state(env);
    int rc = zippy_get(c->coll, id, (size_t)idlen, (flags & 1) ? ZIPPY_GET_WITH_ID : 0, &st->doc);
    if (rc == ZIPPY_ENOTFOUND && (flags & 2)) return js_undefined(env);
    if (rc) return throw_zippy(env, rc);
    napi_value r = text_result(env, st->doc.ptr, st->doc.len);
    if (st->doc.cap > (1u << 20)) zippy_buf_free(&st->doc);
    return r;
}

static napi_value f_get_at(napi_env env, napi_callback_info info)
{
    ARGS(2);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    double d = -1;
    if (napi_get_value_double(env, argv[1], &d) != napi_ok || d != trunc(d) || d < 0)
        return throw_type(env, "index must be a non-negative integer");
    DRAIN_OR_THROW(env, c);
    state *st = get_state(env);
    int rc = zippy_get_at(c->coll, (uint64_t)d, ZIPPY_GET_WITH_ID, NULL, &st->doc);
    if (rc == ZIPPY_ENOTFOUND) {
        char msg[120];
        snprintf(msg, sizeof msg, "index %.0f is out of range (not found)", d);
        return throw_code(env, rc, msg);
    }
    if (rc) return throw_zippy(env, rc);
    napi_value r = text_result(env, st->doc.ptr, st->doc.len);
    if (st->doc.cap > (1u << 20)) zippy_buf_free(&st->doc);
    return r;
}

static napi_value f_delete(napi_env env, napi_callback_info info)
{
    ARGS(2);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char id[ID_CAP];
    long idlen = get_id(env, argv[1], id);
    if (idlen < 0) return NULL;
    DRAIN_OR_THROW(env, c);
    int rc = zippy_delete(c->coll, id, (size_t)idlen);
    if (!rc) rc = count_writes(c, 1);
    if (rc) return throw_zippy(env, rc);
    return js_undefined(env);
}

static napi_value f_exists(napi_env env, napi_callback_info info)
{
    ARGS(2);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char id[ID_CAP];
    long idlen = get_id(env, argv[1], id);
    if (idlen < 0) return NULL;
    DRAIN_OR_THROW(env, c);
    int rc = zippy_exists(c->coll, id, (size_t)idlen);
    if (rc < 0) return throw_zippy(env, rc);
    return js_bool(env, rc);
}

static napi_value f_count(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    DRAIN_OR_THROW(env, c);
    uint64_t n = 0;
    int rc = zippy_count(c->coll, &n);
    if (rc) return throw_zippy(env, rc);
    napi_value v;
    CHECK(napi_create_double(env, (double)n, &v));
    return v;
}

/* pending(handle) -> documents buffered and not yet written */
static napi_value f_pending(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    napi_value v;
    CHECK(napi_create_double(env, (double)c->pend_n, &v));
    return v;
}

static napi_value f_writable(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    return js_bool(env, zippy_coll_writable(c->coll));
}

static napi_value f_strict(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    int rc = zippy_coll_strict(c->coll);
    if (rc < 0) return throw_zippy(env, rc);
    return js_bool(env, rc);
}

/* ids(handle) -> the live ids joined by "\n" (index.js splits them: one
 * string crosses the boundary instead of one per id). */
static napi_value f_ids(napi_env env, napi_callback_info info)
{
    ARGS(1);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    DRAIN_OR_THROW(env, c);
    char **v = NULL;
    size_t n = 0;
    int rc = zippy_ids(c->coll, &v, &n);
    if (rc) return throw_zippy(env, rc);
    sbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        if ((i && sb_put(&b, "\n", 1)) || sb_put(&b, v[i], strlen(v[i]))) {
            zippy_strv_free(v);
            sb_free(&b);
            return throw_nomem(env);
        }
    }
    zippy_strv_free(v);
    napi_value s;
    napi_status ns = napi_create_string_utf8(env, b.p ? b.p : "", b.len, &s);
    sb_free(&b);
    return ns == napi_ok ? s : NULL;
}

/* putJsonl(handle, data: Buffer|TypedArray|string, ids: string[] | null) */
static napi_value f_put_jsonl(napi_env env, napi_callback_info info)
{
    ARGS(3);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    const char *data = NULL;
    size_t len = 0;
    char *owned = NULL;
    bool is_buf = false, is_ta = false;
    napi_is_buffer(env, argv[1], &is_buf);
    if (!is_buf) napi_is_typedarray(env, argv[1], &is_ta);
    if (is_buf) {
        void *p;
        CHECK(napi_get_buffer_info(env, argv[1], &p, &len));
        data = p;
    } else if (is_ta) {
        napi_typedarray_type tt;
        size_t n, off;
        void *p;
        napi_value ab;
        CHECK(napi_get_typedarray_info(env, argv[1], &tt, &n, &p, &ab, &off));
        if (tt != napi_uint8_array && tt != napi_int8_array && tt != napi_uint8_clamped_array)
            return throw_type(env, "writeJsonl: data must be a Buffer, a Uint8Array or a string");
        data = p;
        len = n;
    } else {
        napi_valuetype t;
        napi_typeof(env, argv[1], &t);
        if (t != napi_string) return throw_type(env, "writeJsonl: data must be a Buffer, a Uint8Array or a string");
        owned = get_str_dup(env, argv[1], "data", &len);
        if (!owned) return NULL;
        data = owned;
    }
    const char **ids = NULL;
    size_t *lens = NULL, nids = 0;
    char *idmem = NULL;
    napi_value result = NULL;
    if (!is_nullish(env, argv[2])) {
        bool arr = false;
        napi_is_array(env, argv[2], &arr);
        if (!arr) {
            throw_type(env, "writeJsonl: ids must be an array of strings");
            goto done;
        }
        uint32_t n = 0;
        napi_get_array_length(env, argv[2], &n);
        nids = n;
        ids = malloc((n ? n : 1) * sizeof *ids);
        lens = malloc((n ? n : 1) * sizeof *lens);
        idmem = malloc((size_t)(n ? n : 1) * ID_CAP);
        if (!ids || !lens || !idmem) {
            throw_nomem(env);
            goto done;
        }
        for (uint32_t i = 0; i < n; i++) {
            napi_value x;
            if (napi_get_element(env, argv[2], i, &x) != napi_ok) goto done;
            char *slot = idmem + (size_t)i * ID_CAP;
            long l = get_id(env, x, slot);
            if (l < 0) goto done;
            ids[i] = slot;
            lens[i] = (size_t)l;
        }
    }
    if ((c->w || c->pend_n) && coll_sync(env, c)) goto done;
    {
        uint64_t written = 0;
        int rc = zippy_put_jsonl(c->coll, data, len, ids, lens, nids, &written);
        if (!rc) rc = count_writes(c, written);
        if (rc) {
            throw_zippy(env, rc);
            goto done;
        }
        napi_create_double(env, (double)written, &result);
    }
done:
    free(owned);
    free(ids);
    free(lens);
    free(idmem);
    return result;
}

/* toJson(value) -> compact JSON text (filters for scans). */
static napi_value f_to_json(napi_env env, napi_callback_info info)
{
    ARGS(1);
    state *st = get_state(env);
    encoder e;
    sbuf out = {0};
    enc_init(&e, env, st, &out);
    if (enc_value(&e, argv[0], 0)) {
        sb_free(&out);
        return enc_throw(&e, "cannot convert to JSON");
    }
    napi_value s;
    napi_status ns = napi_create_string_utf8(env, out.p ? out.p : "", out.len, &s);
    sb_free(&out);
    return ns == napi_ok ? s : NULL;
}

/* ------------------------------------------------------------------ */
/* Scans                                                               */
/* ------------------------------------------------------------------ */

/* scanOpen(handle, filter|null, fields|null, flags, limit, skip) */
static napi_value f_scan_open(napi_env env, napi_callback_info info)
{
    ARGS(6);
    coll_h *c = get_coll(env, argv[0]);
    if (!c) return NULL;
    char *filter = NULL, *fields = NULL;
    size_t flen = 0;
    if (!is_nullish(env, argv[1]) && !(filter = get_str_dup(env, argv[1], "where", &flen))) return NULL;
    if (!is_nullish(env, argv[2]) && !(fields = get_str_dup(env, argv[2], "fields", NULL))) {
        free(filter);
        return NULL;
    }
    int64_t flags = 0, limit = 0, skip = 0;
    napi_get_value_int64(env, argv[3], &flags);
    napi_get_value_int64(env, argv[4], &limit);
    napi_get_value_int64(env, argv[5], &skip);
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.flags = (unsigned)flags;
    so.filter = filter;
    so.filter_len = flen;
    so.fields = fields && *fields ? fields : NULL;
    so.limit = limit > 0 ? (uint64_t)limit : 0;
    so.skip = skip > 0 ? (uint64_t)skip : 0;
    zippy_scan *scan = NULL;
    if ((c->w || c->pend_n) && coll_sync(env, c)) {
        free(filter);
        free(fields);
        return NULL;
    }
    int rc = zippy_scan_open(&scan, c->coll, &so);
    free(filter);
    free(fields);
    if (rc) return throw_zippy(env, rc);
    scan_h *s = calloc(1, sizeof *s);
    if (!s) {
        zippy_scan_close(scan);
        return throw_nomem(env);
    }
    s->scan = scan;
    napi_value ext;
    if (napi_create_external(env, s, scan_finalize, NULL, &ext) != napi_ok) {
        scan_finalize(env, s, NULL);
        return NULL;
    }
    return ext;
}

/* Batch output modes. */
enum { MODE_ARRAY = 0, MODE_JSONL = 1, MODE_RAW = 2, MODE_IDS = 3 };

/* Reads up to max_rows rows / about max_bytes into out. MODE_ARRAY: "[r,r]";
 * MODE_JSONL: "r\n r\n"; MODE_RAW: rows back to back, their end offsets in
 * ends; MODE_IDS: ids joined by "\n". Returns rows read (0 at the end) or a
 * negative code. Safe off the main thread. */
static long read_batch(zippy_scan *scan, int mode, size_t max_rows, size_t max_bytes, sbuf *out,
                       sbuf *ends)
{
    size_t rows = 0;
    if (mode == MODE_ARRAY && sb_put(out, "[", 1)) return ZIPPY_ENOMEM;
    while (rows < max_rows && out->len < max_bytes) {
        const char *id, *doc;
        size_t idlen, doclen;
        int r = zippy_scan_next(scan, &id, &idlen, &doc, &doclen);
        if (r < 0) return r;
        if (r == 0) break;
        int bad = 0;
        switch (mode) {
        case MODE_ARRAY:
            bad = (rows && sb_put(out, ",", 1)) || sb_put(out, doc, doclen);
            break;
        case MODE_JSONL:
            bad = sb_put(out, doc, doclen) || sb_put(out, "\n", 1);
            break;
        case MODE_RAW: {
            double end;
            bad = sb_put(out, doc, doclen);
            end = (double)out->len;
            bad = bad || sb_put(ends, &end, sizeof end);
            break;
        }
        case MODE_IDS:
            bad = (rows && sb_put(out, "\n", 1)) || sb_put(out, id, idlen);
            break;
        }
        if (bad) return ZIPPY_ENOMEM;
        rows++;
    }
    if (mode == MODE_ARRAY && sb_put(out, "]", 1)) return ZIPPY_ENOMEM;
    return (long)rows;
}

static void free_cb(napi_env env, void *data, void *hint)
{
    (void)env; (void)hint;
    free(data);
}

/* Hands a malloc'd buffer to JS without copying (or copies it when the
 * runtime forbids external buffers). Takes ownership of b->p. */
static napi_value buffer_from(napi_env env, sbuf *b)
{
    napi_value v;
    if (!b->len) {
        sb_free(b);
        void *p;
        CHECK(napi_create_buffer(env, 0, &p, &v));
        return v;
    }
    napi_status s = napi_create_external_buffer(env, b->len, b->p, free_cb, NULL, &v);
    if (s == napi_ok) {
        b->p = NULL;
        b->len = b->cap = 0;
        return v;
    }
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
        sb_free(b);
        return NULL;
    }
    void *dst;
    s = napi_create_buffer_copy(env, b->len, b->p, &dst, &v);
    sb_free(b);
    return s == napi_ok ? v : NULL;
}

/* Empties a buffer that is reused from batch to batch (fresh multi-MiB
 * allocations are mmapped by malloc and cost a page fault per page). */
static void sb_recycle(sbuf *b)
{
    b->len = 0;
    if (b->cap > (64u << 20)) sb_free(b);
}

/* Turns a batch read into its JS result (see scanNext). out and ends are
 * the scan's buffers: recycled, or handed to V8 (JSONL, RAW). */
static napi_value batch_result(napi_env env, int mode, long rows, sbuf *out, sbuf *ends)
{
    napi_value v = NULL;
    if (rows == 0 && mode != MODE_JSONL) {
        napi_get_null(env, &v);
    } else if (mode == MODE_ARRAY) {
        v = text_result(env, out->p, out->len);
    } else if (mode == MODE_JSONL) {
        v = buffer_from(env, out);
    } else if (mode == MODE_RAW) {
        napi_value buf, ab, ta, arr;
        void *abp;
        size_t n = ends->len;
        if ((buf = buffer_from(env, out)) &&
            napi_create_arraybuffer(env, n, &abp, &ab) == napi_ok) {
            memcpy(abp, ends->p, n);
            if (napi_create_typedarray(env, napi_float64_array, n / sizeof(double), ab, 0, &ta) == napi_ok &&
                napi_create_array_with_length(env, 2, &arr) == napi_ok &&
                napi_set_element(env, arr, 0, buf) == napi_ok && napi_set_element(env, arr, 1, ta) == napi_ok)
                v = arr;
        }
    } else { /* MODE_IDS */
        if (napi_create_string_utf8(env, out->p, out->len, &v) != napi_ok) v = NULL;
    }
    sb_recycle(out);
    sb_recycle(ends);
    return v;
}

/* scanNext(scan, mode, maxRows, maxBytes) -> batch or null at the end. */
static napi_value f_scan_next(napi_env env, napi_callback_info info)
{
    ARGS(4);
    scan_h *s = get_ext(env, argv[0]);
    if (!s) return NULL;
    if (s->busy) return throw_code(env, ZIPPY_EBUSY, "a batch of this scan is already being read");
    if (!s->scan) return throw_code(env, ZIPPY_ECLOSED, "the scan is closed");
    int32_t mode = 0;
    int64_t max_rows = 0, max_bytes = 0;
    napi_get_value_int32(env, argv[1], &mode);
    napi_get_value_int64(env, argv[2], &max_rows);
    napi_get_value_int64(env, argv[3], &max_bytes);
    if (max_rows <= 0) max_rows = INT64_MAX;
    if (max_bytes <= 0) max_bytes = 64 << 20;
    s->out.len = s->ends.len = 0;
    long rows = read_batch(s->scan, mode, (size_t)max_rows, (size_t)max_bytes, &s->out, &s->ends);
    if (rows < 0) {
        sb_recycle(&s->out);
        sb_recycle(&s->ends);
        return throw_zippy(env, (int)rows);
    }
    return batch_result(env, mode, rows, &s->out, &s->ends);
}

typedef struct {
    napi_async_work work;
    napi_deferred deferred;
    napi_ref scan_ref; /* keeps the scan external alive */
    scan_h *s;
    int mode;
    size_t max_rows, max_bytes;
    long rows;
    char errmsg[512];
} batch_job;

static void job_execute(napi_env env, void *data)
{
    batch_job *j = data;
    (void)env;
    scan_h *s = j->s;
    s->out.len = s->ends.len = 0;
    j->rows = read_batch(s->scan, j->mode, j->max_rows, j->max_bytes, &s->out, &s->ends);
    if (j->rows < 0) snprintf(j->errmsg, sizeof j->errmsg, "%s", zippy_errmsg());
}

static void job_complete(napi_env env, napi_status status, void *data)
{
    batch_job *j = data;
    scan_h *s = j->s;
    s->busy = 0;
    napi_value result = NULL;
    if (status != napi_ok) {
        napi_value m, err;
        napi_create_string_utf8(env, "the scan batch was cancelled", NAPI_AUTO_LENGTH, &m);
        napi_create_error(env, NULL, m, &err);
        napi_reject_deferred(env, j->deferred, err);
    } else if (j->rows < 0) {
        napi_value m, c, err;
        napi_create_string_utf8(env, j->errmsg[0] ? j->errmsg : zippy_strerror((int)j->rows),
                                NAPI_AUTO_LENGTH, &m);
        napi_create_string_utf8(env, code_name((int)j->rows), NAPI_AUTO_LENGTH, &c);
        napi_create_error(env, c, m, &err);
        napi_reject_deferred(env, j->deferred, err);
    } else {
        result = batch_result(env, j->mode, j->rows, &s->out, &s->ends);
        if (result) {
            napi_resolve_deferred(env, j->deferred, result);
        } else {
            napi_value err;
            bool pending = false;
            napi_is_exception_pending(env, &pending);
            if (pending) napi_get_and_clear_last_exception(env, &err);
            else {
                napi_value m;
                napi_create_string_utf8(env, "could not convert a scan batch", NAPI_AUTO_LENGTH, &m);
                napi_create_error(env, NULL, m, &err);
            }
            napi_reject_deferred(env, j->deferred, err);
        }
    }
    if (s->close_after) {
        zippy_scan_close(s->scan);
        s->scan = NULL;
    }
    sb_recycle(&s->out);
    sb_recycle(&s->ends);
    napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->scan_ref);
    free(j);
}

/* scanNextAsync(scan, mode, maxRows, maxBytes) -> Promise of a batch: the
 * rows are read on the libuv thread pool, so the event loop keeps running. */
static napi_value f_scan_next_async(napi_env env, napi_callback_info info)
{
    ARGS(4);
    scan_h *s = get_ext(env, argv[0]);
    if (!s) return NULL;
    if (s->busy) return throw_code(env, ZIPPY_EBUSY, "a batch of this scan is already being read");
    if (!s->scan) return throw_code(env, ZIPPY_ECLOSED, "the scan is closed");
    batch_job *j = calloc(1, sizeof *j);
    if (!j) return throw_nomem(env);
    int32_t mode = 0;
    int64_t max_rows = 0, max_bytes = 0;
    napi_get_value_int32(env, argv[1], &mode);
    napi_get_value_int64(env, argv[2], &max_rows);
    napi_get_value_int64(env, argv[3], &max_bytes);
    j->s = s;
    j->mode = mode;
    j->max_rows = max_rows > 0 ? (size_t)max_rows : 1000;
    j->max_bytes = max_bytes > 0 ? (size_t)max_bytes : (1u << 20);
    napi_value promise, name;
    if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
        napi_create_reference(env, argv[0], 1, &j->scan_ref) != napi_ok ||
        napi_create_string_utf8(env, "zippy.scan", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok) {
        free(j);
        return NULL;
    }
    if (napi_queue_async_work(env, j->work) != napi_ok) return NULL;
    s->busy = 1;
    return promise;
}

static napi_value f_scan_close(napi_env env, napi_callback_info info)
{
    ARGS(1);
    scan_h *s = get_ext(env, argv[0]);
    if (!s) return NULL;
    if (s->busy) s->close_after = 1;
    else {
        zippy_scan_close(s->scan);
        s->scan = NULL;
    }
    return js_undefined(env);
}

/* ------------------------------------------------------------------ */
/* Module                                                              */
/* ------------------------------------------------------------------ */

static void state_free(napi_env env, void *data, void *hint)
{
    state *st = data;
    (void)hint;
    sb_free(&st->enc);
    sb_free(&st->tmp);
    zippy_buf_free(&st->doc);
    napi_delete_reference(env, st->object_proto);
    free(st);
}

static napi_value init(napi_env env, napi_value exports)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale) return throw_nomem(env);
    state *st = calloc(1, sizeof *st);
    if (!st) return throw_nomem(env);
    napi_value global, object, proto;
    CHECK(napi_get_global(env, &global));
    CHECK(napi_get_named_property(env, global, "Object", &object));
    CHECK(napi_get_named_property(env, object, "prototype", &proto));
    CHECK(napi_create_reference(env, proto, 1, &st->object_proto));
    CHECK(napi_set_instance_data(env, st, state_free, NULL));

    static const struct {
        const char *name;
        napi_callback fn;
    } fns[] = {
        {"version", f_version},     {"rootOpen", f_root_open},   {"rootClose", f_root_close},
        {"rootList", f_root_list},  {"rootHas", f_root_has}, {"rootWritable", f_root_writable},     {"collOpen", f_coll_open},
        {"collClose", f_coll_close},{"flush", f_flush},          {"configure", f_configure},
        {"put", f_put},             {"putJson", f_put_json},             {"get", f_get},              {"getAt", f_get_at},
        {"del", f_delete},          {"exists", f_exists},        {"count", f_count},
        {"pending", f_pending},     {"writable", f_writable},    {"strict", f_strict},
        {"ids", f_ids},             {"putJsonl", f_put_jsonl},   {"toJson", f_to_json},
        {"scanOpen", f_scan_open},   {"scanNext", f_scan_next},
        {"scanNextAsync", f_scan_next_async},                    {"scanClose", f_scan_close},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        napi_value f;
        CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
        CHECK(napi_set_named_property(env, exports, fns[i].name, f));
    }
    return exports;
}

NAPI_MODULE(zippy, init)
