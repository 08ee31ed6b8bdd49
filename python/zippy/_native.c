/* _native.c - the CPython extension of the zippy package, over libzippy.
 *
 * It includes only the public header (zippy.h). What lives here:
 *  - the JSON encoder: Python objects -> compact JSON text (no `json` module),
 *  - the JSON decoder: zippy_json_visit callbacks -> Python objects,
 *  - Root: a zippy_root handle; Collection: a zippy_coll handle with every
 *    document call (the Python classes of store.py subclass it, so the hot
 *    paths put/get/scan are C method calls with no Python frame between),
 *  - Scan: an iterator over zippy_scan rows,
 *  - module functions dumps/loads/schema_of/validate_id/id_valid/version.
 *
 * Errors: every ZIPPY_E* code raises the class zippy.errors._BY_CODE gives
 * for it, with zippy_errmsg() as its message and the code in `.code`.
 *
 * GIL: calls that do I/O or O(n) work (open, flush, close, compact, scan
 * open, ids, bulk writes, exports) run with the GIL released. Per-document
 * calls (get, put, exists, scan steps, get_at) keep it: they are memory
 * operations of a microsecond, shorter than a GIL hand-over. A put in
 * sync_writes mode (an fdatasync per put) releases it.
 *
 * fork: handles opened before a fork() keep working for reads in the child
 * (the engine is in the child's copy of memory). Writes through them are
 * refused there (they would append the parent's buffered data a second
 * time), and closing them in the child only forgets them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zippy.h"

#define MAX_DEPTH 256 /* nesting limit of the engine's parser (containers) */

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#define NCODES 15
static PyObject *g_exc_base;          /* zippy.errors.ZippyError */
static PyObject *g_exc_by_code[NCODES]; /* index -code */

static PyObject *exc_type(int code) {
    if (code < 0 && -code < NCODES && g_exc_by_code[-code]) return g_exc_by_code[-code];
    return g_exc_base;
}

/* Raises the exception of `code` with message msg (UTF-8, invalid bytes
 * replaced). Returns NULL. */
static PyObject *raise_msg(int code, const char *msg) {
    PyObject *type = exc_type(code);
    PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    if (!text) return NULL;
    PyObject *exc = PyObject_CallOneArg(type, text);
    Py_DECREF(text);
    if (!exc) return NULL;
    PyObject *c = PyLong_FromLong(code);
    if (c) {
        PyObject_SetAttrString(exc, "code", c);
        Py_DECREF(c);
    }
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Raises for a failed library call, with the thread's message. */
static PyObject *raise_zippy(int code) { return raise_msg(code, zippy_errmsg()); }

static PyObject *raise_fmt(int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return raise_msg(code, msg);
}

/* fork generation: bumped in every child. Handles remember the generation
 * they were opened in (cheaper than getpid(), a system call with glibc). */
static volatile unsigned long g_fork_gen;
static void on_fork_child(void) { g_fork_gen++; }

/* ------------------------------------------------------------------ */
/* Buffers                                                             */
/* ------------------------------------------------------------------ */

/* Growable byte buffer of the encoder; malloc-based so that it can be
 * filled with the GIL released. */
typedef struct {
    char *p;
    size_t len, cap;
} obuf;

static int ob_grow(obuf *b, size_t need) {
    size_t cap = b->cap ? b->cap : 512;
    while (cap - b->len < need) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}
static inline int ob_reserve(obuf *b, size_t n) { return b->cap - b->len >= n ? 0 : ob_grow(b, n); }
static inline int ob_put(obuf *b, const char *s, size_t n) {
    if (ob_reserve(b, n)) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}
static inline int ob_putc(obuf *b, char c) {
    if (ob_reserve(b, 1)) return -1;
    b->p[b->len++] = c;
    return 0;
}
static void ob_free(obuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* One cached buffer of each kind, taken for the duration of a call and
 * given back: a call re-entered (a finalizer run by the garbage collector
 * during an allocation, another thread while the GIL is released) finds
 * the slot empty and uses a fresh buffer, never one in use. GIL held. */
#define BUF_KEEP_MAX (1u << 20)
static obuf *g_obuf_slot;
static obuf *obuf_take(void) {
    obuf *b = g_obuf_slot;
    if (b) {
        g_obuf_slot = NULL;
        b->len = 0;
        return b;
    }
    b = calloc(1, sizeof *b);
    if (!b) PyErr_NoMemory();
    return b;
}
static void obuf_give(obuf *b) {
    if (!b) return;
    if (!g_obuf_slot && b->cap <= BUF_KEEP_MAX) {
        g_obuf_slot = b;
        return;
    }
    ob_free(b);
    free(b);
}

static zippy_buf *g_zbuf_slot;
static zippy_buf *zbuf_take(void) {
    zippy_buf *b = g_zbuf_slot;
    if (b) {
        g_zbuf_slot = NULL;
        return b;
    }
    b = calloc(1, sizeof *b);
    if (!b) PyErr_NoMemory();
    return b;
}
static void zbuf_give(zippy_buf *b) {
    if (!b) return;
    if (!g_zbuf_slot && b->cap <= BUF_KEEP_MAX) {
        g_zbuf_slot = b;
        return;
    }
    zippy_buf_free(b);
    free(b);
}

/* ------------------------------------------------------------------ */
/* Encoder: Python -> JSON                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    obuf *b;
    int depth;                  /* containers open */
    PyObject *stack[MAX_DEPTH]; /* the open containers (cycle check) */
    PyObject *key[MAX_DEPTH];   /* current key of an open dict, else NULL */
    Py_ssize_t idx[MAX_DEPTH];  /* current index of an open list */
} encoder;

static PyObject *s_tolist, *s_item; /* interned attribute names */

/* Paths longer than PATH_HEAD + PATH_TAIL parts are shown as their first
 * PATH_HEAD parts, "...", and their last PATH_TAIL parts. */
#define PATH_HEAD 5
#define PATH_TAIL 3

/* The key path of the value being encoded, e.g. "a.b[3]", for messages:
 * the key or index of the value in each open container. A dict with no
 * current key (its first key not reached yet, or a key that is not a str)
 * adds nothing: the path is then the dict's own. */
static PyObject *enc_path(const encoder *e) {
    if (e->depth == 0) return PyUnicode_FromString("the top level");
    PyObject *parts = PyList_New(0);
    if (!parts) return NULL;
    PyObject *r = NULL, *empty = NULL, *head = NULL, *tail = NULL;
    for (int i = 0; i < e->depth; i++) {
        PyObject *p;
        if (e->key[i])
            p = PyList_GET_SIZE(parts) == 0 ? PyUnicode_FromFormat("%U", e->key[i])
                                            : PyUnicode_FromFormat(".%U", e->key[i]);
        else if (PyDict_Check(e->stack[i]))
            continue;
        else
            p = PyUnicode_FromFormat("[%zd]", e->idx[i]);
        if (!p || PyList_Append(parts, p)) {
            Py_XDECREF(p);
            goto done;
        }
        Py_DECREF(p);
    }
    Py_ssize_t n = PyList_GET_SIZE(parts);
    if (n == 0) {
        r = PyUnicode_FromString("the top level");
        goto done;
    }
    if (!(empty = PyUnicode_FromString(""))) goto done;
    if (n <= PATH_HEAD + PATH_TAIL) {
        if ((head = PyUnicode_Join(empty, parts))) r = PyUnicode_FromFormat("key path %U", head);
        goto done;
    }
    PyObject *hl = PyList_GetSlice(parts, 0, PATH_HEAD);
    if (!hl) goto done;
    head = PyUnicode_Join(empty, hl);
    Py_DECREF(hl);
    if (!head) goto done;
    /* the tail's first part without its '.': "..." stands for it */
    PyObject *first = PyList_GET_ITEM(parts, n - PATH_TAIL);
    if (PyUnicode_GET_LENGTH(first) > 0 && PyUnicode_READ_CHAR(first, 0) == '.') {
        PyObject *bare = PyUnicode_Substring(first, 1, PyUnicode_GET_LENGTH(first));
        if (!bare) goto done;
        PyList_SetItem(parts, n - PATH_TAIL, bare); /* steals bare */
    }
    PyObject *tl = PyList_GetSlice(parts, n - PATH_TAIL, n);
    if (!tl) goto done;
    tail = PyUnicode_Join(empty, tl);
    Py_DECREF(tl);
    if (!tail) goto done;
    r = PyUnicode_FromFormat("key path %U...%U", head, tail);
done:
    Py_XDECREF(empty);
    Py_XDECREF(head);
    Py_XDECREF(tail);
    Py_DECREF(parts);
    return r;
}

/* Sets exception `type` with "<what> at <path><tail>". Returns -1. */
static int enc_error(const encoder *e, PyObject *type, const char *what, const char *tail) {
    PyObject *path = enc_path(e);
    if (!path) return -1;
    PyErr_Format(type, "%s at %U%s", what, path, tail ? tail : "");
    Py_DECREF(path);
    return -1;
}

static int enc_value(encoder *e, PyObject *o, int converted);

/* Bytes that JSON strings must escape (ASCII range). */
static unsigned char g_esc[128];
static void init_esc(void) {
    for (int c = 0; c < 0x20; c++) g_esc[c] = 1;
    g_esc['"'] = 1;
    g_esc['\\'] = 1;
}

/* Writes the escape of ASCII c (g_esc[c] set) at w; returns the new w. */
static inline char *put_escape(char *w, unsigned c) {
    static const char hex[] = "0123456789abcdef";
    *w++ = '\\';
    switch (c) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '\n': *w++ = 'n'; break;
    case '\r': *w++ = 'r'; break;
    case '\t': *w++ = 't'; break;
    case '\b': *w++ = 'b'; break;
    case '\f': *w++ = 'f'; break;
    default:
        *w++ = 'u';
        *w++ = '0';
        *w++ = '0';
        *w++ = hex[c >> 4];
        *w++ = hex[c & 15];
    }
    return w;
}

/* A str as a JSON string, encoded to UTF-8 straight from the str's
 * storage (never caching a UTF-8 copy in the object). Lone surrogates
 * cannot be UTF-8: ValueError. */
static int enc_str(encoder *e, PyObject *s) {
    obuf *b = e->b;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s)) return -1; /* legacy strings (before 3.12) */
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    size_t per = PyUnicode_IS_ASCII(s) ? 1 : kind == PyUnicode_1BYTE_KIND ? 2 : kind == PyUnicode_2BYTE_KIND ? 3 : 4;
    /* room for every character at its widest UTF-8 form, the quotes, and
     * one escape; more escapes re-reserve. */
    if (ob_reserve(b, (size_t)n * per + 8)) return -1;
    char *w = b->p + b->len;
    *w++ = '"';
    if (PyUnicode_IS_ASCII(s)) {
        const unsigned char *p = data;
        Py_ssize_t i = 0;
        while (i < n) {
            Py_ssize_t j = i;
            while (j < n && !g_esc[p[j]]) j++;
            memcpy(w, p + i, (size_t)(j - i));
            w += j - i;
            if (j == n) break;
            b->len = (size_t)(w - b->p);
            if (ob_reserve(b, (size_t)(n - j) + 8)) return -1;
            w = put_escape(b->p + b->len, p[j]);
            i = j + 1;
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (c < 0x80) {
                if (g_esc[c]) {
                    b->len = (size_t)(w - b->p);
                    if (ob_reserve(b, (size_t)(n - i) * per + 8)) return -1;
                    w = put_escape(b->p + b->len, c);
                } else {
                    *w++ = (char)c;
                }
            } else if (c < 0x800) {
                *w++ = (char)(0xC0 | (c >> 6));
                *w++ = (char)(0x80 | (c & 0x3F));
            } else if (c < 0x10000) {
                if (c >= 0xD800 && c <= 0xDFFF) {
                    b->len = (size_t)(w - b->p);
                    char what[96];
                    snprintf(what, sizeof what, "string with a lone surrogate (U+%04X, not valid UTF-8)",
                             (unsigned)c);
                    return enc_error(e, PyExc_ValueError, what, NULL);
                }
                *w++ = (char)(0xE0 | (c >> 12));
                *w++ = (char)(0x80 | ((c >> 6) & 0x3F));
                *w++ = (char)(0x80 | (c & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (c >> 18));
                *w++ = (char)(0x80 | ((c >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((c >> 6) & 0x3F));
                *w++ = (char)(0x80 | (c & 0x3F));
            }
        }
    }
    *w++ = '"';
    b->len = (size_t)(w - b->p);
    return 0;
}

/* Decimal digits of v at w (21 bytes of room); returns the new w. */
static inline char *put_ll(char *w, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *w++ = '-';
    while (n) *w++ = tmp[--n];
    return w;
}

/* int, of any size (exact decimal text). */
static int enc_int(encoder *e, PyObject *o) {
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (!overflow) {
        if (ob_reserve(e->b, 24)) return -1;
        e->b->len = (size_t)(put_ll(e->b->p + e->b->len, v) - e->b->p);
        return 0;
    }
    /* int.__repr__ even for subclasses (an IntEnum's str() is its name) */
    PyObject *r = PyLong_Type.tp_repr(o);
    if (!r) return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(r, &n);
    int rc = s ? ob_put(e->b, s, (size_t)n) : -1;
    Py_DECREF(r);
    return rc;
}

/* float, as repr() writes it (the shortest text that reads back exactly),
 * always with a '.' or an exponent so that it reads back as a float. */
static int enc_float(encoder *e, PyObject *o) {
    double d = PyFloat_AS_DOUBLE(o);
    if (!isfinite(d))
        return enc_error(e, PyExc_ValueError, isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity",
                         ": JSON has no NaN or Infinity (store None or a string instead)");
    if (d == floor(d) && fabs(d) < 1e15) {
        /* integral: repr() is "<digits>.0" in this range */
        if (ob_reserve(e->b, 32)) return -1;
        char *w = e->b->p + e->b->len;
        if (d == 0 && signbit(d)) *w++ = '-';
        w = put_ll(w, (long long)d);
        *w++ = '.';
        *w++ = '0';
        e->b->len = (size_t)(w - e->b->p);
        return 0;
    }
    /* Short decimals (prices, rounded scores): the first k with a k-decimal
     * c/10^k that reads back as d. Both c (< 2^53) and 10^k are exact
     * doubles, so c / 10^k is correctly rounded: it equals d exactly when
     * the text "c/10^k" parses to d. Trying k = 1, 2, ... finds the fewest
     * decimals, which in this range (repr's fixed notation) is repr's
     * shortest text. Everything else goes to dtoa. */
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
    double ad = fabs(d);
    if (ad >= 1e-4 && ad < 1e8) {
        for (int k = 1; k <= 7; k++) {
            double c = nearbyint(ad * p10[k]);
            if (c >= 9007199254740992.0) break;
            if (c / p10[k] != ad) continue;
            long long ci = (long long)c, ip = ci / (long long)p10[k], fp = ci % (long long)p10[k];
            if (ob_reserve(e->b, 40)) return -1;
            char *w = e->b->p + e->b->len;
            if (d < 0) *w++ = '-';
            w = put_ll(w, ip);
            *w++ = '.';
            char frac[8];
            for (int j = k - 1; j >= 0; j--) {
                frac[j] = (char)('0' + fp % 10);
                fp /= 10;
            }
            int fl = k;
            while (fl > 1 && frac[fl - 1] == '0') fl--;
            memcpy(w, frac, (size_t)fl);
            w += fl;
            e->b->len = (size_t)(w - e->b->p);
            return 0;
        }
    }
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s) return -1;
    int rc = ob_put(e->b, s, strlen(s));
    PyMem_Free(s);
    return rc;
}

/* Enters container o: cycle and depth checks. */
static int enc_enter(encoder *e, PyObject *o) {
    for (int i = 0; i < e->depth; i++)
        if (e->stack[i] == o) return enc_error(e, PyExc_ValueError, "circular reference", NULL);
    if (e->depth >= MAX_DEPTH) {
        char what[96];
        snprintf(what, sizeof what, "nesting deeper than %d levels (the depth limit; the document "
                 "itself is level 1)", MAX_DEPTH);
        return enc_error(e, PyExc_ValueError, what, NULL);
    }
    e->stack[e->depth] = o;
    e->key[e->depth] = NULL;
    e->idx[e->depth] = 0;
    e->depth++;
    return 0;
}

static int enc_member(encoder *e, PyObject *k, PyObject *v, int first) {
    int d = e->depth - 1;
    /* the previous member's key no longer names the value being encoded */
    e->key[d] = NULL;
    if (!PyUnicode_Check(k)) {
        PyObject *what = PyUnicode_FromFormat("key %R of type %s (JSON object keys must be str)", k,
                                              Py_TYPE(k)->tp_name);
        if (!what) return -1;
        const char *w = PyUnicode_AsUTF8(what);
        if (w) enc_error(e, PyExc_TypeError, w, NULL);
        Py_DECREF(what);
        return -1;
    }
    e->key[d] = k;
    if (!first && ob_putc(e->b, ',')) return -1;
    if (enc_str(e, k) || ob_putc(e->b, ':')) return -1;
    return enc_value(e, v, 0);
}

static int enc_dict(encoder *e, PyObject *o) {
    if (enc_enter(e, o) || ob_putc(e->b, '{')) return -1;
    int rc = 0, first = 1;
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v)) {
            /* held: encoding v may run Python code (tolist()) */
            Py_INCREF(k);
            Py_INCREF(v);
            rc = enc_member(e, k, v, first);
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc) return -1;
            first = 0;
        }
    } else {
        /* a dict subclass: its own items() order (OrderedDict, ...) */
        PyObject *items = PyMapping_Items(o);
        if (!items) return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *kv = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
                Py_DECREF(items);
                PyErr_SetString(PyExc_TypeError, "items() of a dict subclass must give (key, value) pairs");
                return -1;
            }
            if (enc_member(e, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1), first)) {
                Py_DECREF(items);
                return -1;
            }
            first = 0;
        }
        Py_DECREF(items);
    }
    e->depth--;
    return ob_putc(e->b, '}');
}

/* list or tuple */
static int enc_seq(encoder *e, PyObject *o) {
    if (enc_enter(e, o) || ob_putc(e->b, '[')) return -1;
    int d = e->depth - 1;
    int is_list = PyList_Check(o);
    for (Py_ssize_t i = 0; i < (is_list ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o)); i++) {
        PyObject *v = is_list ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i);
        e->idx[d] = i;
        if (i && ob_putc(e->b, ',')) return -1;
        Py_INCREF(v);
        int rc = enc_value(e, v, 0);
        Py_DECREF(v);
        if (rc) return -1;
    }
    e->depth--;
    return ob_putc(e->b, ']');
}

/* numpy values and the like: obj.tolist() (arrays and scalars), else
 * obj.item(), encoded once (a result that needs converting again is an
 * error, not a loop). 1 if o has neither method. */
static int enc_converted(encoder *e, PyObject *o) {
    PyObject *names[2] = {s_tolist, s_item};
    for (int i = 0; i < 2; i++) {
        PyObject *m = PyObject_GetAttr(o, names[i]);
        if (!m) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
            PyErr_Clear();
            continue;
        }
        if (!PyCallable_Check(m)) {
            Py_DECREF(m);
            continue;
        }
        PyObject *r = PyObject_CallNoArgs(m);
        Py_DECREF(m);
        if (!r) return -1;
        int rc = enc_value(e, r, 1);
        Py_DECREF(r);
        return rc;
    }
    return 1;
}

static int enc_value(encoder *e, PyObject *o, int converted) {
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type) return enc_str(e, o);
    if (t == &PyLong_Type) return enc_int(e, o);
    if (t == &PyFloat_Type) return enc_float(e, o);
    if (t == &PyDict_Type) return enc_dict(e, o);
    if (t == &PyList_Type) return enc_seq(e, o);
    if (o == Py_True) return ob_put(e->b, "true", 4);
    if (o == Py_False) return ob_put(e->b, "false", 5);
    if (o == Py_None) return ob_put(e->b, "null", 4);
    if (t == &PyTuple_Type) return enc_seq(e, o);
    if (PyUnicode_Check(o)) return enc_str(e, o);
    if (PyLong_Check(o)) return enc_int(e, o);
    if (PyFloat_Check(o)) return enc_float(e, o); /* numpy.float64 too */
    if (PyDict_Check(o)) return enc_dict(e, o);
    if (PyList_Check(o) || PyTuple_Check(o)) return enc_seq(e, o);
    if (!converted && !PyBytes_Check(o) && !PyByteArray_Check(o) && !PyAnySet_Check(o)) {
        int rc = enc_converted(e, o);
        if (rc <= 0) return rc;
    }
    char what[256];
    snprintf(what, sizeof what, "value of type %.100s", t->tp_name);
    return enc_error(e, PyExc_TypeError, what,
                     ": JSON documents hold dict, list, tuple, str, int, float, bool and None "
                     "(numpy values are converted with .tolist())");
}

/* Appends the JSON of o to b. -1 with an exception set on failure. */
static int encode_into(obuf *b, PyObject *o) {
    encoder e;
    e.b = b;
    e.depth = 0;
    return enc_value(&e, o, 0);
}

/* A document (a dict) into b. */
static int encode_doc(obuf *b, PyObject *doc) {
    if (!PyDict_Check(doc)) {
        PyErr_Format(PyExc_TypeError, "a document must be a dict, not %.100s", Py_TYPE(doc)->tp_name);
        return -1;
    }
    return encode_into(b, doc);
}

/* ------------------------------------------------------------------ */
/* Decoder: JSON -> Python (zippy_json_visit)                          */
/* ------------------------------------------------------------------ */

/* Callbacks return PYERR with a Python exception set; the library hands
 * that value back from zippy_json_visit (its own errors are negative). */
#define PYERR 1

typedef struct {
    PyObject *c;    /* the container (borrowed: owned by its parent or root) */
    PyObject *key;  /* dict: the pending key (owned) */
    Py_ssize_t i, n; /* list: next index, size */
    int is_dict;
} dframe;

typedef struct {
    PyObject *root;
    int depth;
    dframe f[MAX_DEPTH + 2];
} decoder;

/* Object keys repeat from one document to the next: a small direct-mapped
 * cache hands out the same str objects (hash already computed) instead of
 * decoding them again. GIL held. */
#define KC_SIZE 1024 /* power of two */
#define KC_MAXLEN 32
typedef struct {
    PyObject *s;
    uint32_t len;
    char bytes[KC_MAXLEN];
} kc_ent;
static kc_ent *g_kc;

/* Hash of a short key: its first and last 8 bytes (overlapping when
 * shorter), mixed with its length. */
static inline uint32_t kc_hash(const char *k, size_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, k, 8);
        memcpy(&b, k + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, k, 4);
        memcpy(&y, k + n - 4, 4);
        a = x;
        b = y;
    } else if (n > 0) {
        a = (uint64_t)(unsigned char)k[0] | (uint64_t)(unsigned char)k[n / 2] << 8 |
            (uint64_t)(unsigned char)k[n - 1] << 16;
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull) ^ n) * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 40);
}

static PyObject *key_object(const char *k, size_t n) {
    if (n > KC_MAXLEN || !g_kc) return PyUnicode_DecodeUTF8(k, (Py_ssize_t)n, "surrogatepass");
    kc_ent *ent = &g_kc[kc_hash(k, n) & (KC_SIZE - 1)];
    if (ent->s && ent->len == n && !memcmp(ent->bytes, k, n)) {
        Py_INCREF(ent->s);
        return ent->s;
    }
    PyObject *s = PyUnicode_DecodeUTF8(k, (Py_ssize_t)n, "surrogatepass");
    if (!s) return NULL;
    PyUnicode_InternInPlace(&s);
    Py_XSETREF(ent->s, Py_NewRef(s));
    ent->len = (uint32_t)n;
    memcpy(ent->bytes, k, n);
    return s;
}

/* Attaches a new value (stolen) to the current container, or makes it
 * the root. */
static int d_add(decoder *d, PyObject *v) {
    if (!v) return PYERR;
    if (d->depth == 0) {
        d->root = v;
        return 0;
    }
    dframe *f = &d->f[d->depth - 1];
    if (f->is_dict) {
        if (!f->key) {
            Py_DECREF(v);
            PyErr_SetString(PyExc_SystemError, "zippy: JSON value without a key");
            return PYERR;
        }
        int r = PyDict_SetItem(f->c, f->key, v);
        Py_DECREF(v);
        Py_CLEAR(f->key);
        return r ? PYERR : 0;
    }
    if (f->i >= f->n) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_SystemError, "zippy: JSON array longer than announced");
        return PYERR;
    }
    PyList_SET_ITEM(f->c, f->i++, v);
    return 0;
}

static int d_push(decoder *d, PyObject *c, int is_dict, size_t n) {
    if (!c) return PYERR;
    if (d->depth >= MAX_DEPTH + 1) {
        Py_DECREF(c);
        PyErr_SetString(PyExc_ValueError, "JSON nested too deeply");
        return PYERR;
    }
    if (d_add(d, c)) return PYERR; /* the parent owns it from now on */
    dframe *f = &d->f[d->depth++];
    f->c = c;
    f->key = NULL;
    f->i = 0;
    f->n = (Py_ssize_t)n;
    f->is_dict = is_dict;
    return 0;
}

static int v_begin_object(void *ctx, size_t members) {
    /* presized: no table growth while the members go in */
    return d_push(ctx, members > 5 ? _PyDict_NewPresized((Py_ssize_t)members) : PyDict_New(), 1, 0);
}
static int v_begin_array(void *ctx, size_t items) {
    if (items > (size_t)PY_SSIZE_T_MAX / sizeof(PyObject *)) {
        PyErr_NoMemory();
        return PYERR;
    }
    return d_push(ctx, PyList_New((Py_ssize_t)items), 0, items);
}
/* The library calls back in a valid order; these checks keep a broken
 * walk from reaching outside the frames. */
static int bad_walk(void) {
    PyErr_SetString(PyExc_SystemError, "zippy: JSON walk out of order");
    return PYERR;
}

static int v_end(void *ctx) {
    decoder *d = ctx;
    if (d->depth <= 0) return bad_walk();
    dframe *f = &d->f[d->depth - 1];
    if (!f->is_dict && f->i != f->n) {
        PyErr_SetString(PyExc_SystemError, "zippy: JSON array shorter than announced");
        return PYERR;
    }
    d->depth--;
    return 0;
}
static int v_key(void *ctx, const char *k, size_t len) {
    decoder *d = ctx;
    if (d->depth <= 0 || !d->f[d->depth - 1].is_dict) return bad_walk();
    dframe *f = &d->f[d->depth - 1];
    PyObject *s = key_object(k, len);
    if (!s) return PYERR;
    Py_XSETREF(f->key, s);
    return 0;
}
static int v_string(void *ctx, const char *s, size_t len) {
    return d_add(ctx, PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogatepass"));
}
static int v_number(void *ctx, const char *text, size_t len, int is_int) {
    char tmp[80];
    char *buf = tmp;
    PyObject *v;
    if (is_int && len <= 18) {
        const char *p = text, *end = text + len;
        int neg = *p == '-';
        if (neg) p++;
        long long x = 0;
        while (p < end) x = x * 10 + (*p++ - '0');
        return d_add(ctx, PyLong_FromLongLong(neg ? -x : x));
    }
    if (len >= sizeof tmp && !(buf = malloc(len + 1))) {
        PyErr_NoMemory();
        return PYERR;
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    if (is_int) {
        v = PyLong_FromString(buf, NULL, 10);
    } else {
        double x = PyOS_string_to_double(buf, NULL, NULL);
        v = (x == -1.0 && PyErr_Occurred()) ? NULL : PyFloat_FromDouble(x);
    }
    if (buf != tmp) free(buf);
    return d_add(ctx, v);
}
static int v_boolean(void *ctx, int value) { return d_add(ctx, Py_NewRef(value ? Py_True : Py_False)); }
static int v_null(void *ctx) { return d_add(ctx, Py_NewRef(Py_None)); }

static const zippy_json_visitor g_visitor = {v_begin_object, v_key, v_end, v_begin_array, v_end,
                                             v_string, v_number, v_boolean, v_null};

/* The Python value of json[0..len). NULL with an exception on failure. */
static PyObject *decode_json(const char *json, size_t len) {
    decoder d;
    d.root = NULL;
    d.depth = 0;
    int rc = zippy_json_visit(json, len, &g_visitor, &d);
    if (rc == 0 && d.root) return d.root;
    for (int i = 0; i < d.depth; i++) Py_XDECREF(d.f[i].key);
    Py_XDECREF(d.root);
    if (rc == PYERR) return NULL;
    if (rc == 0) {
        PyErr_SetString(PyExc_SystemError, "zippy: JSON visit produced no value");
        return NULL;
    }
    return raise_zippy(rc);
}

/* ------------------------------------------------------------------ */
/* Argument helpers                                                    */
/* ------------------------------------------------------------------ */

/* Maps vectorcall arguments onto out[0..nparams) by position and keyword
 * (absent: NULL). */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, int nparams, int nrequired, PyObject **out) {
    if (nargs > nparams) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fname, nparams,
                     nparams == 1 ? "" : "s", nargs);
        return -1;
    }
    for (int i = 0; i < nparams; i++) out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, j);
        int i;
        for (i = 0; i < nparams; i++)
            if (PyUnicode_CompareWithASCIIString(kw, names[i]) == 0) break;
        if (i == nparams) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, kw);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    for (int i = 0; i < nrequired; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    return 0;
}

/* A document id: str only. UTF-8 view valid while o lives. */
static int get_id(PyObject *o, const char **id, Py_ssize_t *len) {
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "a document id must be a str, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    *id = PyUnicode_AsUTF8AndSize(o, len);
    return *id ? 0 : -1;
}

static int opt_bool(PyObject *o, int dflt) { return o ? PyObject_IsTrue(o) : dflt; }

static int opt_ll(PyObject *o, long long dflt, long long *out, const char *what) {
    if (!o || o == Py_None) {
        *out = dflt;
        return 0;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, not %lld", what, v);
        return -1;
    }
    *out = v;
    return 0;
}

/* A C path from str/bytes/os.PathLike into *bytes (new ref). */
static const char *fs_path(PyObject *o, PyObject **bytes) {
    if (!PyUnicode_FSConverter(o, bytes)) return NULL;
    return PyBytes_AS_STRING(*bytes);
}

static PyObject *str_from(const char *s, size_t n) { return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape"); }

/* ------------------------------------------------------------------ */
/* Root                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    zippy_root *root;
    PyObject *path; /* str, as given */
    int readonly, create, sync;
    int inflight;   /* calls running with the GIL released */
    PyObject *weakreflist;
} RootObject;

static PyTypeObject Root_Type;

static int root_check(RootObject *r) {
    if (!r->root) {
        raise_fmt(ZIPPY_ECLOSED, "store %s is closed", r->path ? PyUnicode_AsUTF8(r->path) : "?");
        return -1;
    }
    return 0;
}

static int Root_init(RootObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "readonly", "create", "sync", NULL};
    PyObject *path;
    int readonly = 0, create = 1, sync = ZIPPY_SYNC_FLUSH;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ppi:Root", kwlist, &path, &readonly, &create, &sync)) return -1;
    if (self->root) {
        PyErr_SetString(PyExc_RuntimeError, "Root is already open");
        return -1;
    }
    PyObject *fspath = PyOS_FSPath(path);
    if (!fspath) return -1;
    PyObject *b = NULL;
    const char *p = fs_path(fspath, &b);
    if (!p) {
        Py_DECREF(fspath);
        return -1;
    }
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = (readonly ? ZIPPY_OPEN_READONLY : 0) | (create && !readonly ? ZIPPY_OPEN_CREATE : 0);
    o.sync = (zippy_sync_mode)sync;
    zippy_root *r = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_root_open(&r, p, &o);
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    if (rc) {
        Py_DECREF(fspath);
        raise_zippy(rc);
        return -1;
    }
    if (PyBytes_Check(fspath)) {
        PyObject *s = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(fspath));
        Py_DECREF(fspath);
        fspath = s;
        if (!fspath) {
            zippy_root_close(r);
            return -1;
        }
    }
    Py_XSETREF(self->path, fspath);
    self->root = r;
    self->readonly = readonly || zippy_root_writable(r) != 1; /* read-only, or an archive opened in place */
    self->create = create && !readonly;
    self->sync = sync;
    return 0;
}

static void Root_dealloc(RootObject *self) {
    if (self->weakreflist) PyObject_ClearWeakRefs((PyObject *)self);
    zippy_root_close(self->root); /* frees memory only: safe in a forked child */
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Root_close(RootObject *self, PyObject *unused) {
    if (self->inflight) return raise_fmt(ZIPPY_EBUSY, "store %s is in use by another thread", PyUnicode_AsUTF8(self->path));
    zippy_root_close(self->root);
    self->root = NULL;
    Py_RETURN_NONE;
}

static PyObject *strv_to_list(char **v, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (!l) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = str_from(v[i], strlen(v[i]));
        if (!s) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

static PyObject *Root_list(RootObject *self, PyObject *unused) {
    if (root_check(self)) return NULL;
    char **v = NULL;
    size_t n = 0;
    int rc;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_root_list(self->root, &v, &n);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) return raise_zippy(rc);
    PyObject *l = strv_to_list(v, n);
    zippy_strv_free(v);
    return l;
}

static PyObject *Root_has(RootObject *self, PyObject *name) {
    if (root_check(self)) return NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "a collection name must be a str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    const char *n = PyUnicode_AsUTF8(name);
    if (!n) return NULL;
    if (zippy_coll_name_valid(n)) Py_RETURN_FALSE;
    int rc = zippy_root_has(self->root, n);
    if (rc < 0) return raise_zippy(rc);
    return PyBool_FromLong(rc);
}

static PyObject *Root_info_json(RootObject *self, PyObject *unused) {
    if (root_check(self)) return NULL;
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_root_info_json(self->root, &b);
    Py_END_ALLOW_THREADS
    self->inflight--;
    PyObject *r = rc ? raise_zippy(rc) : str_from(b.ptr, b.len);
    zippy_buf_free(&b);
    return r;
}

static PyObject *Root_set_info(RootObject *self, PyObject *args) {
    const char *name = NULL, *desc = NULL;
    if (!PyArg_ParseTuple(args, "zz:set_info", &name, &desc)) return NULL;
    if (root_check(self)) return NULL;
    int rc = zippy_root_set_info(self->root, name, desc);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Root_drop(RootObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s:drop", &name)) return NULL;
    if (root_check(self)) return NULL;
    int rc;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_root_drop(self->root, name);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Root_get_closed(RootObject *self, void *c) { return PyBool_FromLong(self->root == NULL); }

static PyMethodDef Root_methods[] = {
    {"close", (PyCFunction)Root_close, METH_NOARGS, "Closes the root (collections opened from it stay open)."},
    {"list", (PyCFunction)Root_list, METH_NOARGS, "Sorted names of the collections."},
    {"has", (PyCFunction)Root_has, METH_O, "True if the collection exists (False for an invalid name)."},
    {"info_json", (PyCFunction)Root_info_json, METH_NOARGS, "The content of zds.json, counts refreshed."},
    {"set_info", (PyCFunction)Root_set_info, METH_VARARGS, "set_info(name, description): recorded in zds.json."},
    {"drop", (PyCFunction)Root_drop, METH_VARARGS, "drop(name): removes a collection and its files."},
    {NULL}};

static PyMemberDef Root_members[] = {
    {"path", T_OBJECT, offsetof(RootObject, path), READONLY, "The root's path, as given."},
    {"readonly", T_BOOL, offsetof(RootObject, readonly), READONLY, "True if opened read-only."},
    {NULL}};

static PyGetSetDef Root_getset[] = {{"closed", (getter)Root_get_closed, NULL, "True once closed.", NULL}, {NULL}};

static PyTypeObject Root_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zippy._native.Root",
    .tp_basicsize = sizeof(RootObject),
    .tp_dealloc = (destructor)Root_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Root(path, readonly=False, create=True, sync=SYNC_FLUSH): a zippy store directory.",
    .tp_weaklistoffset = offsetof(RootObject, weakreflist),
    .tp_methods = Root_methods,
    .tp_members = Root_members,
    .tp_getset = Root_getset,
    .tp_init = (initproc)Root_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Scan                                                                */
/* ------------------------------------------------------------------ */

enum { SCAN_DOCS, SCAN_PAIRS, SCAN_RAW, SCAN_IDS, SCAN_RAW_PAIRS };

/* Rows are read in chunks with the GIL released (the reads may wait for
 * the disk), copied into the scan's buffer, then turned into Python
 * objects one next() at a time with the GIL held. A chunk ends after
 * SCAN_CHUNK rows or SCAN_CHUNK_BYTES bytes, so a scan abandoned early has
 * read little ahead; the rows are the scan's snapshot either way. */
#define SCAN_CHUNK 64
#define SCAN_CHUNK_BYTES (256u << 10)

typedef struct {
    size_t id, idlen, doc, doclen; /* offsets into buf */
} scan_row_ref;

typedef struct {
    PyObject_HEAD
    zippy_scan *scan;
    int mode;
    int busy;
    int done;          /* the library scan has ended (or failed) */
    int err;           /* its error, raised once the rows before it are out */
    char *errmsg;      /* malloc'd copy of its message */
    obuf buf;
    scan_row_ref rows[SCAN_CHUNK];
    int nrows, pos;
} ScanObject;

static PyTypeObject Scan_Type;

static void scan_finish(ScanObject *s) {
    zippy_scan_close(s->scan);
    s->scan = NULL;
    ob_free(&s->buf);
    free(s->errmsg);
    s->errmsg = NULL;
    s->nrows = s->pos = 0;
}

/* Grows b without the GIL (no exception set). */
static int ob_reserve_nogil(obuf *b, size_t n) {
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 4) return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Reads the next chunk of rows; called with the GIL released. */
static void scan_fill_nogil(ScanObject *s) {
    const char *id, *doc;
    size_t idlen, doclen;
    s->buf.len = 0;
    s->nrows = s->pos = 0;
    while (s->nrows < SCAN_CHUNK && s->buf.len < SCAN_CHUNK_BYTES) {
        int rc = zippy_scan_next(s->scan, &id, &idlen, &doc, &doclen);
        if (rc <= 0) {
            s->done = 1;
            if (rc < 0) {
                s->err = rc;
                s->errmsg = strdup(zippy_errmsg());
            }
            return;
        }
        if (!doc) doclen = 0;
        if (ob_reserve_nogil(&s->buf, idlen + doclen)) {
            s->done = 1;
            s->err = ZIPPY_ENOMEM;
            return;
        }
        scan_row_ref *r = &s->rows[s->nrows++];
        r->id = s->buf.len;
        r->idlen = idlen;
        memcpy(s->buf.p + s->buf.len, id, idlen);
        s->buf.len += idlen;
        r->doc = s->buf.len;
        r->doclen = doclen;
        if (doclen) memcpy(s->buf.p + s->buf.len, doc, doclen);
        s->buf.len += doclen;
    }
}

static PyObject *Scan_next(ScanObject *s) {
    if (!s->scan) return NULL;
    if (s->busy) {
        PyErr_SetString(PyExc_ValueError, "scan already executing");
        return NULL;
    }
    if (s->pos == s->nrows) {
        if (!s->done) {
            s->busy = 1;
            Py_BEGIN_ALLOW_THREADS
            scan_fill_nogil(s);
            Py_END_ALLOW_THREADS
            s->busy = 0;
        }
        if (s->pos == s->nrows) {
            if (s->err == ZIPPY_ENOMEM && !s->errmsg) PyErr_NoMemory();
            else if (s->err) raise_msg(s->err, s->errmsg ? s->errmsg : zippy_strerror(s->err));
            scan_finish(s);
            return NULL;
        }
    }
    const scan_row_ref *row = &s->rows[s->pos++];
    const char *id = s->buf.p + row->id, *doc = s->buf.p + row->doc;
    size_t idlen = row->idlen, doclen = row->doclen;
    s->busy = 1;
    PyObject *r = NULL, *k, *v;
    switch (s->mode) {
    case SCAN_DOCS: r = decode_json(doc, doclen); break;
    case SCAN_RAW: r = PyBytes_FromStringAndSize(doc, (Py_ssize_t)doclen); break;
    case SCAN_IDS: r = str_from(id, idlen); break;
    default:
        k = str_from(id, idlen);
        v = !k ? NULL : s->mode == SCAN_PAIRS ? decode_json(doc, doclen) : PyBytes_FromStringAndSize(doc, (Py_ssize_t)doclen);
        if (k && v) r = PyTuple_Pack(2, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    s->busy = 0;
    return r;
}

static void Scan_dealloc(ScanObject *s) {
    scan_finish(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *Scan_close(ScanObject *s, PyObject *unused) {
    if (s->busy) {
        PyErr_SetString(PyExc_ValueError, "scan already executing");
        return NULL;
    }
    scan_finish(s);
    Py_RETURN_NONE;
}
static PyObject *Scan_enter(ScanObject *s, PyObject *unused) { return Py_NewRef(s); }
static PyObject *Scan_exit(ScanObject *s, PyObject *args) { return Scan_close(s, NULL); }

static PyMethodDef Scan_methods[] = {
    {"close", (PyCFunction)Scan_close, METH_NOARGS, "Ends the scan early, releasing it."},
    {"__enter__", (PyCFunction)Scan_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Scan_exit, METH_VARARGS, NULL},
    {NULL}};

static PyTypeObject Scan_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zippy._native.Scan",
    .tp_basicsize = sizeof(ScanObject),
    .tp_dealloc = (destructor)Scan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Iterator over the rows of a scan, in scan order (the order of each document's latest write: an "
              "update moves it to the end); sees the collection as of its start.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Scan_next,
    .tp_methods = Scan_methods,
};

/* ------------------------------------------------------------------ */
/* Collection                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    zippy_coll *coll;
    RootObject *root;  /* strong */
    PyObject *name;    /* str */
    unsigned long gen; /* g_fork_gen at open */
    int inflight;      /* calls running with the GIL released */
    int sync_always;
    Py_ssize_t batch_size, pending;
    PyObject *weakreflist;
} CollObject;

static PyTypeObject Coll_Type;

static int coll_closed(CollObject *c) {
    raise_fmt(ZIPPY_ECLOSED, "collection %s of store %s is closed", c->name ? PyUnicode_AsUTF8(c->name) : "?",
              c->root && c->root->path ? PyUnicode_AsUTF8(c->root->path) : "?");
    return -1;
}
#define CHECK_OPEN(c)                                                                                            \
    do {                                                                                                         \
        if (!(c)->coll) {                                                                                        \
            coll_closed(c);                                                                                      \
            return NULL;                                                                                         \
        }                                                                                                        \
    } while (0)

/* Writes through a handle inherited across fork() are refused. */
static int coll_check_write(CollObject *c) {
    if (!c->coll) return coll_closed(c);
    if (c->gen != g_fork_gen) {
        raise_fmt(ZIPPY_EREADONLY,
                  "collection %s of store %s was opened before fork(): a child process can read through it but "
                  "not write; open the store again in the child",
                  PyUnicode_AsUTF8(c->name), PyUnicode_AsUTF8(c->root->path));
        return -1;
    }
    return 0;
}

static PyObject *Coll_open(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"root", "name", "create", "strict", "sync", "batch_size", "layout"};
    PyObject *a[7];
    if (parse_args("_open", args, nargs, kwnames, names, 7, 2, a)) return NULL;
    if (!PyObject_TypeCheck(a[0], &Root_Type)) {
        PyErr_SetString(PyExc_TypeError, "_open(): root must be a zippy._native.Root");
        return NULL;
    }
    RootObject *root = (RootObject *)a[0];
    if (root_check(root)) return NULL;
    if (self->coll) {
        PyErr_SetString(PyExc_RuntimeError, "the collection handle is already open");
        return NULL;
    }
    if (!PyUnicode_Check(a[1])) {
        PyErr_Format(PyExc_TypeError, "a collection name must be a str, not %.100s", Py_TYPE(a[1])->tp_name);
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(a[1]);
    if (!name) return NULL;
    int create = opt_bool(a[2], root->create), strict = opt_bool(a[3], 0);
    long long sync, batch;
    if (create < 0 || strict < 0 || opt_ll(a[4], root->sync, &sync, "sync") || opt_ll(a[5], 0, &batch, "batch_size"))
        return NULL;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = (root->readonly ? ZIPPY_OPEN_READONLY : 0) | (create && !root->readonly ? ZIPPY_OPEN_CREATE : 0);
    o.sync = (zippy_sync_mode)sync;
    o.strict = strict;
    if (a[6] && a[6] != Py_None) {
        const char *lay = PyUnicode_Check(a[6]) ? PyUnicode_AsUTF8(a[6]) : NULL;
        if (lay && !strcmp(lay, "files")) o.layout = ZIPPY_LAYOUT_FILES;
        else if (lay && !strcmp(lay, "jsonl")) o.layout = ZIPPY_LAYOUT_JSONL;
        else {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "layout must be \"jsonl\" or \"files\", not %R", a[6]);
            return NULL;
        }
    }
    zippy_coll *c = NULL;
    int rc;
    root->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_coll_open(&c, root->root, name, &o);
    Py_END_ALLOW_THREADS
    root->inflight--;
    if (rc) return raise_zippy(rc);
    self->coll = c;
    Py_INCREF(root);
    Py_XSETREF(self->root, root);
    Py_INCREF(a[1]);
    Py_XSETREF(self->name, a[1]);
    self->gen = g_fork_gen;
    self->sync_always = sync == ZIPPY_SYNC_ALWAYS;
    self->batch_size = (Py_ssize_t)batch;
    self->pending = 0;
    Py_RETURN_NONE;
}

/* Runs fn on the handle without the GIL (it may do I/O); inflight keeps
 * close() from freeing the handle meanwhile. */
static int coll_call_nogil(CollObject *self, int (*fn)(zippy_coll *)) {
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(c);
    Py_END_ALLOW_THREADS
    self->inflight--;
    return rc;
}

static int coll_flush_nogil(CollObject *self) {
    int rc = coll_call_nogil(self, zippy_coll_flush);
    self->pending = 0;
    return rc;
}

/* Counts a write; flushes every batch_size writes (when set). */
static inline int coll_wrote(CollObject *self, Py_ssize_t n) {
    if (self->batch_size > 0 && (self->pending += n) >= self->batch_size) {
        int rc = coll_flush_nogil(self);
        if (rc) {
            raise_zippy(rc);
            return -1;
        }
    }
    return 0;
}

static int coll_put_json(CollObject *self, const char *id, Py_ssize_t idlen, const char *json, size_t len) {
    int rc;
    if (self->sync_always) {
        zippy_coll *c = self->coll;
        self->inflight++;
        Py_BEGIN_ALLOW_THREADS
        rc = zippy_put(c, id, (size_t)idlen, json, len);
        Py_END_ALLOW_THREADS
        self->inflight--;
    } else {
        rc = zippy_put(self->coll, id, (size_t)idlen, json, len);
    }
    if (rc) {
        raise_zippy(rc);
        return -1;
    }
    return coll_wrote(self, 1);
}

static int coll_put(CollObject *self, PyObject *idobj, PyObject *doc) {
    const char *id;
    Py_ssize_t idlen;
    if (coll_check_write(self) || get_id(idobj, &id, &idlen)) return -1;
    obuf *b = obuf_take();
    if (!b) return -1;
    int rc = encode_doc(b, doc);
    if (!rc) rc = coll_put_json(self, id, idlen, b->p, b->len);
    obuf_give(b);
    return rc;
}

static PyObject *Coll_put(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *a[2];
    if (nargs == 2 && !kwnames) {
        a[0] = args[0];
        a[1] = args[1];
    } else {
        static const char *const names[] = {"doc_id", "doc"};
        if (parse_args("put", args, nargs, kwnames, names, 2, 2, a)) return NULL;
    }
    if (coll_put(self, a[0], a[1])) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Coll_put_raw(CollObject *self, PyObject *args) {
    PyObject *idobj;
    Py_buffer json;
    if (!PyArg_ParseTuple(args, "Os*:put_raw", &idobj, &json)) return NULL;
    const char *id;
    Py_ssize_t idlen;
    int rc = coll_check_write(self) || get_id(idobj, &id, &idlen) ? -1
                                                                  : coll_put_json(self, id, idlen, json.buf, (size_t)json.len);
    PyBuffer_Release(&json);
    if (rc) return NULL;
    Py_RETURN_NONE;
}

/* get: 1 found (*out = doc), 0 absent (no exception), -1 error. */
static int coll_get(CollObject *self, PyObject *idobj, unsigned flags, int raw, PyObject **out) {
    const char *id;
    Py_ssize_t idlen;
    if (!self->coll) return coll_closed(self);
    if (get_id(idobj, &id, &idlen)) return -1;
    zippy_buf *b = zbuf_take();
    if (!b) return -1;
    int rc = zippy_get(self->coll, id, (size_t)idlen, flags, b);
    if (rc == ZIPPY_ENOTFOUND) {
        zbuf_give(b);
        return 0;
    }
    if (rc) {
        zbuf_give(b);
        raise_zippy(rc);
        return -1;
    }
    *out = raw ? PyBytes_FromStringAndSize(b->ptr, (Py_ssize_t)b->len) : decode_json(b->ptr, b->len);
    zbuf_give(b);
    return *out ? 1 : -1;
}

static PyObject *not_found(CollObject *self, PyObject *idobj) {
    const char *id = PyUnicode_AsUTF8(idobj);
    if (!id) return NULL;
    return raise_fmt(ZIPPY_ENOTFOUND, "document \"%s\" not found in collection %s", id, PyUnicode_AsUTF8(self->name));
}

static PyObject *Coll_get(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *a[2];
    if (nargs == 1 && !kwnames) {
        a[0] = args[0];
        a[1] = NULL;
    } else {
        static const char *const names[] = {"doc_id", "default"};
        if (parse_args("get", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    }
    PyObject *doc = NULL;
    int rc = coll_get(self, a[0], 0, 0, &doc);
    if (rc == 1) return doc;
    if (rc < 0) return NULL;
    if (a[1]) return Py_NewRef(a[1]);
    return not_found(self, a[0]);
}

static PyObject *Coll_get_raw(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"doc_id", "with_id"};
    PyObject *a[2];
    if (parse_args("get_raw", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    int with_id = opt_bool(a[1], 0);
    if (with_id < 0) return NULL;
    PyObject *doc = NULL;
    int rc = coll_get(self, a[0], with_id ? ZIPPY_GET_WITH_ID : 0, 1, &doc);
    if (rc == 1) return doc;
    if (rc < 0) return NULL;
    return not_found(self, a[0]);
}

static PyObject *Coll_delete(CollObject *self, PyObject *idobj) {
    const char *id;
    Py_ssize_t idlen;
    if (coll_check_write(self) || get_id(idobj, &id, &idlen)) return NULL;
    int rc;
    if (self->sync_always) {
        zippy_coll *c = self->coll;
        self->inflight++;
        Py_BEGIN_ALLOW_THREADS
        rc = zippy_delete(c, id, (size_t)idlen);
        Py_END_ALLOW_THREADS
        self->inflight--;
    } else {
        rc = zippy_delete(self->coll, id, (size_t)idlen);
    }
    if (rc) return raise_zippy(rc);
    if (coll_wrote(self, 1)) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Coll_exists(CollObject *self, PyObject *idobj) {
    const char *id;
    Py_ssize_t idlen;
    CHECK_OPEN(self);
    if (get_id(idobj, &id, &idlen)) return NULL;
    int rc = zippy_exists(self->coll, id, (size_t)idlen);
    if (rc < 0) return raise_zippy(rc);
    return PyBool_FromLong(rc);
}

static PyObject *Coll_count(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    uint64_t n;
    int rc = zippy_count(self->coll, &n);
    if (rc) return raise_zippy(rc);
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *Coll_list_doc_ids(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    char **v = NULL;
    size_t n = 0;
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_ids(c, &v, &n);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) return raise_zippy(rc);
    PyObject *l = strv_to_list(v, n);
    zippy_strv_free(v);
    return l;
}

/* Opens a scan with the GIL released (a full scan sorts the live set). */
static PyObject *coll_scan(CollObject *self, const char *filter, size_t filter_len, const char *fields, uint64_t limit,
                           uint64_t skip, int mode) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.filter = filter;
    so.filter_len = filter_len;
    so.fields = fields;
    so.limit = limit;
    so.skip = skip;
    if (mode == SCAN_IDS) so.flags |= ZIPPY_SCAN_IDS_ONLY;
    ScanObject *s = PyObject_New(ScanObject, &Scan_Type);
    if (!s) return NULL;
    s->scan = NULL;
    s->mode = mode;
    s->busy = s->done = s->err = 0;
    s->errmsg = NULL;
    s->buf.p = NULL;
    s->buf.len = s->buf.cap = 0;
    s->nrows = s->pos = 0;
    zippy_coll *c = self->coll;
    int rc;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_scan_open(&s->scan, c, &so);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) {
        Py_DECREF(s);
        return raise_zippy(rc);
    }
    return (PyObject *)s;
}

/* _scan(fields=None, filter=None, limit=0, skip=0, mode=SCAN_DOCS)
 * fields: None, "a,b.c" or a list of dot paths. filter: None, JSON text
 * (str/bytes) or a dict (encoded here). */
static PyObject *Coll_scan(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"fields", "filter", "limit", "skip", "mode"};
    PyObject *a[5];
    if (parse_args("_scan", args, nargs, kwnames, names, 5, 0, a)) return NULL;
    CHECK_OPEN(self);
    long long limit, skip, mode;
    if (opt_ll(a[2], 0, &limit, "limit") || opt_ll(a[3], 0, &skip, "skip") || opt_ll(a[4], SCAN_DOCS, &mode, "mode"))
        return NULL;
    if (mode > SCAN_RAW_PAIRS) {
        PyErr_Format(PyExc_ValueError, "unknown scan mode %lld", mode);
        return NULL;
    }
    PyObject *fields_s = NULL, *r = NULL;
    obuf *fb = NULL;
    const char *fields = NULL, *filter = NULL;
    size_t filter_len = 0;
    if (a[0] && a[0] != Py_None) {
        if (PyUnicode_Check(a[0])) {
            fields_s = Py_NewRef(a[0]);
        } else {
            PyObject *seq = PySequence_Fast(a[0], "fields must be a str or a sequence of str");
            if (!seq) return NULL;
            for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
                PyObject *f = PySequence_Fast_GET_ITEM(seq, i);
                if (!PyUnicode_Check(f)) {
                    PyErr_Format(PyExc_TypeError, "field names must be str, not %.100s", Py_TYPE(f)->tp_name);
                    Py_DECREF(seq);
                    return NULL;
                }
            }
            PyObject *comma = PyUnicode_FromString(",");
            fields_s = comma ? PyUnicode_Join(comma, seq) : NULL;
            Py_XDECREF(comma);
            Py_DECREF(seq);
            if (!fields_s) return NULL;
        }
        if (PyUnicode_GET_LENGTH(fields_s) > 0 && !(fields = PyUnicode_AsUTF8(fields_s))) goto done;
    }
    if (a[1] && a[1] != Py_None) {
        if (PyUnicode_Check(a[1])) {
            Py_ssize_t n;
            if (!(filter = PyUnicode_AsUTF8AndSize(a[1], &n))) goto done;
            filter_len = (size_t)n;
        } else if (PyBytes_Check(a[1])) {
            filter = PyBytes_AS_STRING(a[1]);
            filter_len = (size_t)PyBytes_GET_SIZE(a[1]);
        } else if (PyDict_Check(a[1])) {
            if (!(fb = calloc(1, sizeof *fb))) {
                PyErr_NoMemory();
                goto done;
            }
            if (encode_into(fb, a[1])) goto done;
            filter = fb->p;
            filter_len = fb->len;
        } else {
            PyErr_Format(PyExc_TypeError, "a filter must be a dict or JSON text, not %.100s", Py_TYPE(a[1])->tp_name);
            goto done;
        }
        if (filter_len == 0) filter = NULL;
    }
    r = coll_scan(self, filter, filter_len, fields, (uint64_t)limit, (uint64_t)skip, (int)mode);
done:
    Py_XDECREF(fields_s);
    if (fb) {
        ob_free(fb);
        free(fb);
    }
    return r;
}

static PyObject *Coll_ids_in_order(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    PyObject *s = coll_scan(self, NULL, 0, NULL, 0, 0, SCAN_IDS);
    if (!s) return NULL;
    PyObject *l = PySequence_List(s);
    Py_DECREF(s);
    return l;
}

/* Index i (negative from the end) into [0, count); -1 with IndexError. */
static int coll_index(CollObject *self, PyObject *io, uint64_t *out) {
    long long i = PyLong_AsLongLong(io);
    if (i == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_IndexError, "collection index out of range");
        }
        return -1;
    }
    if (i < 0) {
        uint64_t n;
        int rc = zippy_count(self->coll, &n);
        if (rc) {
            raise_zippy(rc);
            return -1;
        }
        if ((uint64_t)(-(i + 1)) >= n) {
            PyErr_Format(PyExc_IndexError, "collection index %lld out of range (count %llu)", i, (unsigned long long)n);
            return -1;
        }
        i += (long long)n;
    }
    *out = (uint64_t)i;
    return 0;
}

/* what: 0 doc, 1 id, 2 (id, doc) */
static PyObject *coll_at(CollObject *self, PyObject *io, int what) {
    CHECK_OPEN(self);
    uint64_t i;
    if (coll_index(self, io, &i)) return NULL;
    zippy_buf *b = zbuf_take();
    if (!b) return NULL;
    zippy_buf idb = ZIPPY_BUF_INIT;
    int rc = zippy_get_at(self->coll, i, 0, what ? &idb : NULL, b);
    PyObject *r = NULL;
    if (rc == ZIPPY_ENOTFOUND) {
        uint64_t n = 0;
        zippy_count(self->coll, &n);
        PyErr_Format(PyExc_IndexError, "collection index %llu out of range (count %llu)", (unsigned long long)i,
                     (unsigned long long)n);
    } else if (rc) {
        raise_zippy(rc);
    } else if (what == 1) {
        r = str_from(idb.ptr, idb.len);
    } else {
        PyObject *doc = decode_json(b->ptr, b->len);
        if (doc && what == 2) {
            PyObject *k = str_from(idb.ptr, idb.len);
            r = k ? PyTuple_Pack(2, k, doc) : NULL;
            Py_XDECREF(k);
            Py_DECREF(doc);
        } else {
            r = doc;
        }
    }
    zippy_buf_free(&idb);
    zbuf_give(b);
    return r;
}
static PyObject *Coll_get_at(CollObject *self, PyObject *i) { return coll_at(self, i, 0); }
static PyObject *Coll_id_at(CollObject *self, PyObject *i) { return coll_at(self, i, 1); }
static PyObject *Coll_item_at(CollObject *self, PyObject *i) { return coll_at(self, i, 2); }

static PyObject *Coll_flush(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    if (self->gen != g_fork_gen) Py_RETURN_NONE; /* nothing written here */
    int rc = coll_flush_nogil(self);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Coll_close(CollObject *self, PyObject *unused) {
    if (!self->coll) Py_RETURN_NONE;
    if (self->inflight)
        return raise_fmt(ZIPPY_EBUSY, "collection %s is in use by another thread", PyUnicode_AsUTF8(self->name));
    zippy_coll *c = self->coll;
    self->coll = NULL;
    if (self->gen != g_fork_gen) Py_RETURN_NONE; /* the parent's handle: forget it */
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_coll_close(c);
    Py_END_ALLOW_THREADS
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Coll_enter(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    return Py_NewRef(self);
}
static PyObject *Coll_exit(CollObject *self, PyObject *args) { return Coll_close(self, NULL); }

static PyObject *Coll_refresh(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    int rc = coll_call_nogil(self, zippy_coll_refresh);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Coll_compact(CollObject *self, PyObject *unused) {
    if (coll_check_write(self)) return NULL;
    int rc = coll_call_nogil(self, zippy_coll_compact);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Coll_reindex(CollObject *self, PyObject *unused) {
    if (coll_check_write(self)) return NULL;
    int rc = coll_call_nogil(self, zippy_coll_reindex);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *Coll_stats(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    zippy_stats st;
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_coll_stats(c, &st);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) return raise_zippy(rc);
    static const char *layouts[] = {"default", "jsonl", "files"};
    return Py_BuildValue("{sKsKsKsKsKsKsssOsO}", "count", (unsigned long long)st.count, "log_bytes",
                         (unsigned long long)st.log_bytes, "live_bytes", (unsigned long long)st.live_bytes, "log_lines",
                         (unsigned long long)st.log_lines, "index_bytes", (unsigned long long)st.index_bytes,
                         "indexed_bytes", (unsigned long long)st.indexed_bytes, "layout",
                         st.layout >= 0 && st.layout <= 2 ? layouts[st.layout] : "unknown", "strict",
                         st.strict ? Py_True : Py_False, "legacy", st.legacy ? Py_True : Py_False);
}

static PyObject *Coll_verify(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    zippy_verify_report vr;
    memset(&vr, 0, sizeof vr);
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_coll_verify(c, &vr);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc && rc != ZIPPY_ECORRUPT) return raise_zippy(rc);
    return Py_BuildValue("{sOsssKsKsKsKsK}", "ok", rc ? Py_False : Py_True, "message", rc ? zippy_errmsg() : "",
                         "lines", (unsigned long long)vr.lines, "live", (unsigned long long)vr.live, "bad_lines",
                         (unsigned long long)vr.bad_lines, "index_errors", (unsigned long long)vr.index_errors,
                         "first_bad_offset", (unsigned long long)vr.first_bad_offset);
}

static PyObject *Coll_schema(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    zippy_buf b = ZIPPY_BUF_INIT;
    int rc = zippy_coll_schema(self->coll, &b);
    PyObject *r = rc == ZIPPY_ENOTFOUND ? Py_NewRef(Py_None) : rc ? raise_zippy(rc) : str_from(b.ptr, b.len);
    zippy_buf_free(&b);
    return r;
}

static PyObject *Coll_get_strict(CollObject *self, void *c) {
    CHECK_OPEN(self);
    int rc = zippy_coll_strict(self->coll);
    if (rc < 0) return raise_zippy(rc);
    return PyBool_FromLong(rc);
}

/* Writes JSONL text with the GIL released. ids: NULL (each line's "_id")
 * or n pointers. */
/* The library names a batch's failing line first ("line N: Schema
 * mismatch: ..."); a SchemaError's message starts with "Schema mismatch:"
 * wherever it comes from, so the line goes after it:
 * "Schema mismatch: (line N of the batch) ...". */
static PyObject *raise_batch_error(int rc) {
    const char *msg = zippy_errmsg();
    static const char sm[] = "Schema mismatch: ";
    unsigned long long line;
    int used = 0;
    if (rc == ZIPPY_ESCHEMA && sscanf(msg, "line %llu: %n", &line, &used) == 1 && used > 0 &&
        !strncmp(msg + used, sm, sizeof sm - 1)) {
        PyObject *text = PyUnicode_FromFormat("Schema mismatch: (line %llu of the batch) %s", line,
                                              msg + used + sizeof sm - 1);
        if (!text) return NULL;
        const char *u = PyUnicode_AsUTF8(text);
        PyObject *r = u ? raise_msg(rc, u) : NULL;
        Py_DECREF(text);
        return r;
    }
    return raise_zippy(rc);
}

/* Writes JSONL lines in order. On a failure the lines before the failing
 * one stay written (the batch is not all-or-nothing). */
static PyObject *coll_put_jsonl(CollObject *self, const char *data, size_t len, const char *const *ids,
                                const size_t *idlens, size_t n) {
    uint64_t written = 0;
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_put_jsonl(c, data, len, ids, idlens, n, &written);
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) {
        /* the lines before the failing one are written: they count toward
         * batch_size (flushed by the next write) */
        if (self->batch_size > 0) self->pending += (Py_ssize_t)written;
        return raise_batch_error(rc);
    }
    if (coll_wrote(self, (Py_ssize_t)written)) return NULL;
    return PyLong_FromUnsignedLongLong(written);
}

/* Collects str ids from a sequence into pointer arrays (views into the
 * str objects, which `seq` keeps alive). */
static int collect_ids(PyObject *seq, const char ***ids, size_t **lens) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    *ids = PyMem_Malloc(sizeof(char *) * (size_t)(n ? n : 1));
    *lens = PyMem_Malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    if (!*ids || !*lens) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t l;
        if (get_id(PySequence_Fast_GET_ITEM(seq, i), &(*ids)[i], &l)) return -1;
        (*lens)[i] = (size_t)l;
    }
    return 0;
}

/* put_batch(items): items is a dict or an iterable of (id, doc) pairs.
 * Every document is encoded and every id checked before anything is
 * written; then one zippy_put_jsonl call writes them all. */
static PyObject *Coll_put_batch(CollObject *self, PyObject *items) {
    if (coll_check_write(self)) return NULL;
    PyObject *seq = PyDict_Check(items) ? PyMapping_Items(items) : PySequence_Fast(items, "put_batch() takes an iterable of (id, doc) pairs");
    if (!seq) return NULL;
    PyObject *r = NULL, *idseq = NULL;
    const char **ids = NULL;
    size_t *lens = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    obuf b = {NULL, 0, 0};
    if (!(idseq = PyList_New(n))) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(pair) && !PyList_Check(pair)) {
            PyErr_Format(PyExc_TypeError, "put_batch(): item %zd is a %.100s, not an (id, doc) pair", i,
                         Py_TYPE(pair)->tp_name);
            goto done;
        }
        if (PySequence_Fast_GET_SIZE(pair) != 2) {
            PyErr_Format(PyExc_TypeError, "put_batch(): item %zd has %zd members, not 2 (id, doc)", i,
                         PySequence_Fast_GET_SIZE(pair));
            goto done;
        }
        PyObject *id = PySequence_Fast_GET_ITEM(pair, 0), *doc = PySequence_Fast_GET_ITEM(pair, 1);
        const char *ip;
        Py_ssize_t il;
        if (get_id(id, &ip, &il)) goto done;
        if (zippy_id_valid(ip, (size_t)il)) {
            raise_zippy(ZIPPY_EINVAL);
            goto done;
        }
        PyList_SET_ITEM(idseq, i, Py_NewRef(id));
        if (encode_doc(&b, doc) || ob_putc(&b, '\n')) goto done;
    }
    if (collect_ids(idseq, &ids, &lens)) goto done;
    r = n ? coll_put_jsonl(self, b.p, b.len, ids, lens, (size_t)n) : PyLong_FromLong(0);
done:
    ob_free(&b);
    PyMem_Free(ids);
    PyMem_Free(lens);
    Py_XDECREF(idseq);
    Py_DECREF(seq);
    return r;
}

/* write_jsonl(data, ids=None): JSONL bytes (the last line may lack its
 * newline); ids names line i, else each line's "_id". */
static PyObject *Coll_write_jsonl(CollObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"data", "ids"};
    PyObject *a[2];
    if (parse_args("write_jsonl", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    if (coll_check_write(self)) return NULL;
    Py_buffer buf;
    PyObject *r = NULL, *seq = NULL, *str_bytes = NULL;
    const char **ids = NULL;
    size_t *lens = NULL, n = 0;
    if (PyUnicode_Check(a[0])) {
        if (!(str_bytes = PyUnicode_AsUTF8String(a[0]))) return NULL;
        a[0] = str_bytes;
    }
    if (PyObject_GetBuffer(a[0], &buf, PyBUF_SIMPLE)) {
        Py_XDECREF(str_bytes);
        return NULL;
    }
    if (a[1] && a[1] != Py_None) {
        if (!(seq = PySequence_Fast(a[1], "write_jsonl(): ids must be a sequence of str"))) goto done;
        if (collect_ids(seq, &ids, &lens)) goto done;
        n = (size_t)PySequence_Fast_GET_SIZE(seq);
    }
    r = coll_put_jsonl(self, buf.buf, (size_t)buf.len, ids, lens, n);
done:
    PyBuffer_Release(&buf);
    PyMem_Free(ids);
    PyMem_Free(lens);
    Py_XDECREF(seq);
    Py_XDECREF(str_bytes);
    return r;
}

/* Runs a whole scan with the GIL released: JSONL with "_id" into out
 * (when out is set), or just reading every line (preload). */
static int scan_all_nogil(zippy_coll *c, obuf *out, uint64_t *rows) {
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.flags = out ? ZIPPY_SCAN_WITH_ID : 0;
    zippy_scan *s;
    int rc = zippy_scan_open(&s, c, &so);
    if (rc) return rc;
    const char *id, *doc;
    size_t idlen, doclen;
    *rows = 0;
    while ((rc = zippy_scan_next(s, &id, &idlen, &doc, &doclen)) == 1) {
        (*rows)++;
        if (!out) continue;
        if (out->cap - out->len < doclen + 1) {
            size_t cap = out->cap ? out->cap : 65536;
            while (cap - out->len < doclen + 1) cap *= 2;
            char *p = realloc(out->p, cap);
            if (!p) {
                rc = ZIPPY_ENOMEM;
                break;
            }
            out->p = p;
            out->cap = cap;
        }
        memcpy(out->p + out->len, doc, doclen);
        out->len += doclen;
        out->p[out->len++] = '\n';
    }
    zippy_scan_close(s);
    return rc < 0 ? rc : 0;
}

static PyObject *Coll_read_jsonl_blob(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    obuf b = {NULL, 0, 0};
    uint64_t rows;
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = scan_all_nogil(c, &b, &rows);
    Py_END_ALLOW_THREADS
    self->inflight--;
    PyObject *r;
    if (rc == ZIPPY_ENOMEM)
        r = PyErr_NoMemory();
    else if (rc)
        r = raise_zippy(rc);
    else
        r = PyBytes_FromStringAndSize(b.p ? b.p : "", (Py_ssize_t)b.len);
    ob_free(&b);
    return r;
}

/* Reads every live document once (pages the log in, checks checksums) and
 * builds the positional order of get_at. Returns the number of documents. */
static PyObject *Coll_preload(CollObject *self, PyObject *unused) {
    CHECK_OPEN(self);
    uint64_t rows = 0;
    int rc;
    zippy_coll *c = self->coll;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = scan_all_nogil(c, NULL, &rows);
    if (!rc && rows) {
        zippy_buf tmp = ZIPPY_BUF_INIT;
        rc = zippy_get_at(c, 0, 0, NULL, &tmp);
        if (rc == ZIPPY_ENOTFOUND) rc = 0; /* emptied meanwhile */
        zippy_buf_free(&tmp);
    }
    Py_END_ALLOW_THREADS
    self->inflight--;
    if (rc) return raise_zippy(rc);
    return PyLong_FromUnsignedLongLong(rows);
}

/* Mapping protocol: s[id], s[id] = doc, del s[id], len(s), id in s */
static Py_ssize_t Coll_len(CollObject *self) {
    if (!self->coll) return coll_closed(self);
    uint64_t n;
    int rc = zippy_count(self->coll, &n);
    if (rc) {
        raise_zippy(rc);
        return -1;
    }
    return (Py_ssize_t)n;
}

static PyObject *Coll_subscript(CollObject *self, PyObject *id) {
    PyObject *doc = NULL;
    int rc = coll_get(self, id, 0, 0, &doc);
    if (rc == 1) return doc;
    if (rc < 0) return NULL;
    return not_found(self, id);
}

static int Coll_ass_subscript(CollObject *self, PyObject *id, PyObject *doc) {
    if (doc) return coll_put(self, id, doc);
    PyObject *r = Coll_delete(self, id);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* `id in s`: False for anything that cannot be an id (non-str, invalid). */
static int Coll_contains(CollObject *self, PyObject *id) {
    if (!self->coll) return coll_closed(self);
    if (!PyUnicode_Check(id)) return 0;
    Py_ssize_t idlen;
    const char *s = PyUnicode_AsUTF8AndSize(id, &idlen);
    if (!s) {
        PyErr_Clear();
        return 0;
    }
    if (zippy_id_valid(s, (size_t)idlen)) return 0;
    int rc = zippy_exists(self->coll, s, (size_t)idlen);
    if (rc < 0) {
        raise_zippy(rc);
        return -1;
    }
    return rc;
}

static void Coll_dealloc(CollObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakreflist) PyObject_ClearWeakRefs((PyObject *)self);
    if (self->coll && self->gen == g_fork_gen) {
        int rc = zippy_coll_close(self->coll);
        if (rc)
            PySys_WriteStderr("zippy: closing collection %s failed: %.500s\n",
                              self->name ? PyUnicode_AsUTF8(self->name) : "?", zippy_errmsg());
    }
    self->coll = NULL;
    Py_CLEAR(self->root);
    Py_CLEAR(self->name);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The root and name cannot be part of a cycle (a Root holds no Python
 * object but its path), so there is no tp_clear: a handle keeps them until
 * it is deallocated. Python subclasses add their __dict__ to the GC. */
static int Coll_traverse(CollObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->root);
    return 0;
}

static PyObject *Coll_get_closed(CollObject *self, void *c) { return PyBool_FromLong(self->coll == NULL); }
static PyObject *Coll_get_writable(CollObject *self, void *c) {
    return PyBool_FromLong(self->coll && zippy_coll_writable(self->coll) && self->gen == g_fork_gen);
}
static PyObject *Coll_get_root(CollObject *self, void *c) { return Py_NewRef(self->root ? (PyObject *)self->root : Py_None); }
static PyObject *Coll_get_name(CollObject *self, void *c) { return Py_NewRef(self->name ? self->name : Py_None); }
static PyObject *Coll_get_batch(CollObject *self, void *c) { return PyLong_FromSsize_t(self->batch_size); }
static int Coll_set_batch(CollObject *self, PyObject *v, void *c) {
    long long n;
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete batch_size");
        return -1;
    }
    if (opt_ll(v, 0, &n, "batch_size")) return -1;
    self->batch_size = (Py_ssize_t)n;
    return 0;
}

static PyMethodDef Coll_methods[] = {
    {"_open", (PyCFunction)(void (*)(void))Coll_open, METH_FASTCALL | METH_KEYWORDS,
     "_open(root, name, create=root's, strict=False, sync=root's, batch_size=0, layout=None)"},
    {"put", (PyCFunction)(void (*)(void))Coll_put, METH_FASTCALL | METH_KEYWORDS,
     "put(doc_id, doc): stores the dict doc under doc_id, replacing any earlier version."},
    {"put_raw", (PyCFunction)Coll_put_raw, METH_VARARGS, "put_raw(doc_id, json): stores JSON text (str or bytes)."},
    {"get", (PyCFunction)(void (*)(void))Coll_get, METH_FASTCALL | METH_KEYWORDS,
     "get(doc_id[, default]): a fresh dict; KeyError if absent unless default is given."},
    {"get_raw", (PyCFunction)(void (*)(void))Coll_get_raw, METH_FASTCALL | METH_KEYWORDS,
     "get_raw(doc_id, with_id=False): the document's compact JSON as bytes."},
    {"delete", (PyCFunction)Coll_delete, METH_O, "delete(doc_id): KeyError if absent."},
    {"exists", (PyCFunction)Coll_exists, METH_O, "exists(doc_id) -> bool."},
    {"count", (PyCFunction)Coll_count, METH_NOARGS, "Number of live documents."},
    {"list_doc_ids", (PyCFunction)Coll_list_doc_ids, METH_NOARGS, "Live ids, sorted."},
    {"ids_in_order", (PyCFunction)Coll_ids_in_order, METH_NOARGS,
     "Live ids in scan order, the order of each document's latest write (an update moves it to the end); "
     "position i is get_at(i)."},
    {"_scan", (PyCFunction)(void (*)(void))Coll_scan, METH_FASTCALL | METH_KEYWORDS,
     "_scan(fields=None, filter=None, limit=0, skip=0, mode=SCAN_DOCS) -> Scan"},
    {"get_at", (PyCFunction)Coll_get_at, METH_O, "get_at(i): the document at position i of the scan order (the order of each document's latest write: "
     "an update moves it to the end); negative i counts from the end."},
    {"id_at", (PyCFunction)Coll_id_at, METH_O, "id_at(i): the id at position i of the scan order (see get_at)."},
    {"item_at", (PyCFunction)Coll_item_at, METH_O, "item_at(i): (id, doc) at position i of the scan order (see get_at)."},
    {"flush", (PyCFunction)Coll_flush, METH_NOARGS, "Makes every earlier write durable."},
    {"close", (PyCFunction)Coll_close, METH_NOARGS, "Flushes and releases the handle (idempotent)."},
    {"__enter__", (PyCFunction)Coll_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Coll_exit, METH_VARARGS, NULL},
    {"refresh", (PyCFunction)Coll_refresh, METH_NOARGS, "Read-only handles: picks up other processes' writes."},
    {"compact", (PyCFunction)Coll_compact, METH_NOARGS, "Rewrites the log with live documents only."},
    {"reindex", (PyCFunction)Coll_reindex, METH_NOARGS, "Rebuilds the index from the log."},
    {"stats", (PyCFunction)Coll_stats, METH_NOARGS, "dict of the collection's statistics."},
    {"verify", (PyCFunction)Coll_verify, METH_NOARGS, "Checks every line and index entry; a report dict."},
    {"schema", (PyCFunction)Coll_schema, METH_NOARGS, "Canonical schema text of a strict collection, else None."},
    {"put_batch", (PyCFunction)Coll_put_batch, METH_O,
     "put_batch([(id, doc), ...]) or put_batch({id: doc}): checks every id and encodes every document, then "
     "writes them in order; returns the count. A write that fails (a strict schema mismatch: SchemaError "
     "\"Schema mismatch: (line N of the batch) ...\", N counting pairs from 1) keeps the documents before it."},
    {"write_jsonl", (PyCFunction)(void (*)(void))Coll_write_jsonl, METH_FASTCALL | METH_KEYWORDS,
     "write_jsonl(data, ids=None): writes JSONL bytes (or str) in order; returns the lines written. A line that "
     "fails (\"line N: ...\"; a strict schema mismatch: SchemaError \"Schema mismatch: (line N of the batch) "
     "...\") keeps the lines before it."},
    {"read_jsonl_blob", (PyCFunction)Coll_read_jsonl_blob, METH_NOARGS,
     "Every live document as JSONL bytes, \"_id\" first, in scan order."},
    {"_preload", (PyCFunction)Coll_preload, METH_NOARGS, "Reads every document once; returns the count read."},
    {NULL}};

static PyGetSetDef Coll_getset[] = {
    {"closed", (getter)Coll_get_closed, NULL, "True once closed.", NULL},
    {"writable", (getter)Coll_get_writable, NULL, "True if this handle may write.", NULL},
    {"is_strict", (getter)Coll_get_strict, NULL, "True if the collection is strict.", NULL},
    {"_native_root", (getter)Coll_get_root, NULL, "The zippy._native.Root it was opened from.", NULL},
    {"collection_name", (getter)Coll_get_name, NULL, "Name of the collection.", NULL},
    {"batch_size", (getter)Coll_get_batch, (setter)Coll_set_batch,
     "Flush automatically after this many writes (0: only on flush()/close()).", NULL},
    {NULL}};

static PyMappingMethods Coll_as_mapping = {(lenfunc)Coll_len, (binaryfunc)Coll_subscript,
                                           (objobjargproc)Coll_ass_subscript};
static PySequenceMethods Coll_as_sequence = {.sq_contains = (objobjproc)Coll_contains};

static PyTypeObject Coll_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zippy._native.Collection",
    .tp_basicsize = sizeof(CollObject),
    .tp_dealloc = (destructor)Coll_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A collection handle (subclassed by zippy.ZDSStore).",
    .tp_traverse = (traverseproc)Coll_traverse,
    .tp_weaklistoffset = offsetof(CollObject, weakreflist),
    .tp_methods = Coll_methods,
    .tp_getset = Coll_getset,
    .tp_as_mapping = &Coll_as_mapping,
    .tp_as_sequence = &Coll_as_sequence,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Module functions                                                    */
/* ------------------------------------------------------------------ */

static PyObject *mod_dumps(PyObject *m, PyObject *o) {
    obuf *b = obuf_take();
    if (!b) return NULL;
    PyObject *r = encode_into(b, o) ? NULL : PyUnicode_DecodeUTF8(b->p, (Py_ssize_t)b->len, NULL);
    obuf_give(b);
    return r;
}

/* A read-only view of JSON text from str or a bytes-like object. */
static int text_view(PyObject *o, Py_buffer *view, const char **p, size_t *n) {
    view->obj = NULL;
    if (PyUnicode_Check(o)) {
        Py_ssize_t l;
        if (!(*p = PyUnicode_AsUTF8AndSize(o, &l))) return -1;
        *n = (size_t)l;
        return 0;
    }
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE)) {
        PyErr_Format(PyExc_TypeError, "JSON text must be str or bytes-like, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    *p = view->buf;
    *n = (size_t)view->len;
    return 0;
}

static PyObject *mod_loads(PyObject *m, PyObject *o) {
    Py_buffer view;
    const char *p;
    size_t n;
    if (text_view(o, &view, &p, &n)) return NULL;
    PyObject *r = decode_json(p, n);
    if (view.obj) PyBuffer_Release(&view);
    return r;
}

static PyObject *mod_schema_of(PyObject *m, PyObject *o) {
    Py_buffer view;
    view.obj = NULL;
    const char *p;
    size_t n;
    obuf *b = NULL;
    if (PyDict_Check(o)) {
        if (!(b = obuf_take())) return NULL;
        if (encode_into(b, o)) {
            obuf_give(b);
            return NULL;
        }
        p = b->p;
        n = b->len;
    } else if (text_view(o, &view, &p, &n)) {
        return NULL;
    }
    zippy_buf out = ZIPPY_BUF_INIT;
    int rc = zippy_schema_of(p, n, &out);
    PyObject *r = rc ? raise_zippy(rc) : str_from(out.ptr, out.len);
    zippy_buf_free(&out);
    obuf_give(b);
    if (view.obj) PyBuffer_Release(&view);
    return r;
}

static PyObject *mod_validate_id(PyObject *m, PyObject *o) {
    const char *id;
    Py_ssize_t n;
    if (get_id(o, &id, &n)) return NULL;
    int rc = zippy_id_valid(id, (size_t)n);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *mod_id_valid(PyObject *m, PyObject *o) {
    if (!PyUnicode_Check(o)) Py_RETURN_FALSE;
    Py_ssize_t n;
    const char *id = PyUnicode_AsUTF8AndSize(o, &n);
    if (!id) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    return PyBool_FromLong(zippy_id_valid(id, (size_t)n) == ZIPPY_OK);
}

static PyObject *mod_collection_name_valid(PyObject *m, PyObject *o) {
    if (!PyUnicode_Check(o)) Py_RETURN_FALSE;
    const char *s = PyUnicode_AsUTF8(o);
    if (!s) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    return PyBool_FromLong(zippy_coll_name_valid(s) == ZIPPY_OK && strlen(s) == (size_t)PyUnicode_GET_LENGTH(o));
}

static PyObject *mod_strerror(PyObject *m, PyObject *o) {
    long c = PyLong_AsLong(o);
    if (c == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(zippy_strerror((int)c));
}

static PyObject *mod_version(PyObject *m, PyObject *unused) { return PyUnicode_FromString(zippy_version()); }

static PyObject *mod_pack(PyObject *m, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"root", "archive", "deflate", NULL};
    PyObject *rb = NULL, *ab = NULL;
    int deflate = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&|p:pack", kwlist, PyUnicode_FSConverter, &rb,
                                     PyUnicode_FSConverter, &ab, &deflate))
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_pack(PyBytes_AS_STRING(rb), PyBytes_AS_STRING(ab), deflate ? ZIPPY_PACK_DEFLATE : 0, NULL, NULL);
    Py_END_ALLOW_THREADS
    Py_DECREF(rb);
    Py_DECREF(ab);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyObject *mod_unpack(PyObject *m, PyObject *args) {
    PyObject *ab = NULL, *db = NULL;
    if (!PyArg_ParseTuple(args, "O&O&:unpack", PyUnicode_FSConverter, &ab, PyUnicode_FSConverter, &db)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zippy_unpack(PyBytes_AS_STRING(ab), PyBytes_AS_STRING(db), NULL, NULL);
    Py_END_ALLOW_THREADS
    Py_DECREF(ab);
    Py_DECREF(db);
    if (rc) return raise_zippy(rc);
    Py_RETURN_NONE;
}

static PyMethodDef mod_methods[] = {
    {"dumps", mod_dumps, METH_O, "dumps(obj) -> str: compact JSON, as documents are stored."},
    {"loads", mod_loads, METH_O, "loads(str | bytes) -> object (strict RFC 8259)."},
    {"schema_of", mod_schema_of, METH_O,
     "schema_of(doc or JSON text) -> str: the canonical schema text strict collections compare."},
    {"validate_id", mod_validate_id, METH_O, "validate_id(id): ValueError naming the problem if id is invalid."},
    {"id_valid", mod_id_valid, METH_O, "id_valid(id) -> bool."},
    {"collection_name_valid", mod_collection_name_valid, METH_O, "collection_name_valid(name) -> bool."},
    {"strerror", mod_strerror, METH_O, "strerror(code) -> short description of a ZIPPY_E* code."},
    {"version", mod_version, METH_NOARGS, "Version of the linked libzippy."},
    {"pack", (PyCFunction)(void (*)(void))mod_pack, METH_VARARGS | METH_KEYWORDS,
     "pack(root, archive, deflate=False): the store as a .zds (ZIP) archive."},
    {"unpack", mod_unpack, METH_VARARGS, "unpack(archive, dest): extracts a .zds archive into a new directory."},
    {NULL}};

static struct PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "zippy._native",
                                           "C core of the zippy package (over libzippy).", -1, mod_methods};

PyMODINIT_FUNC PyInit__native(void) {
    init_esc();
    if (!(s_tolist = PyUnicode_InternFromString("tolist")) || !(s_item = PyUnicode_InternFromString("item")))
        return NULL;
    if (!g_kc && !(g_kc = PyMem_RawCalloc(KC_SIZE, sizeof *g_kc))) return PyErr_NoMemory();
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, on_fork_child);
        atfork_done = 1;
    }
    PyObject *errors = PyImport_ImportModule("zippy.errors");
    if (!errors) return NULL;
    PyObject *base = PyObject_GetAttrString(errors, "ZippyError");
    PyObject *by_code = PyObject_GetAttrString(errors, "_BY_CODE");
    Py_DECREF(errors);
    if (!base || !by_code || !PyDict_Check(by_code)) {
        Py_XDECREF(base);
        Py_XDECREF(by_code);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ImportError, "zippy.errors._BY_CODE is not a dict");
        return NULL;
    }
    Py_XSETREF(g_exc_base, base);
    for (int i = 1; i < NCODES; i++) {
        PyObject *k = PyLong_FromLong(-i);
        PyObject *cls = k ? PyDict_GetItemWithError(by_code, k) : NULL;
        Py_XDECREF(k);
        if (!cls) {
            Py_DECREF(by_code);
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ImportError, "zippy.errors has no class for code %d", -i);
            return NULL;
        }
        Py_XSETREF(g_exc_by_code[i], Py_NewRef(cls));
    }
    Py_DECREF(by_code);

    if (PyType_Ready(&Root_Type) || PyType_Ready(&Scan_Type) || PyType_Ready(&Coll_Type)) return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Root", (PyObject *)&Root_Type) ||
        PyModule_AddObjectRef(m, "Collection", (PyObject *)&Coll_Type) ||
        PyModule_AddObjectRef(m, "Scan", (PyObject *)&Scan_Type) ||
        PyModule_AddStringConstant(m, "__version__", zippy_version()) ||
        PyModule_AddStringConstant(m, "HEADER_VERSION", ZIPPY_VERSION_STRING) ||
        PyModule_AddIntConstant(m, "FORMAT_VERSION", zippy_format_version()) ||
        PyModule_AddIntConstant(m, "SYNC_NONE", ZIPPY_SYNC_NONE) ||
        PyModule_AddIntConstant(m, "SYNC_FLUSH", ZIPPY_SYNC_FLUSH) ||
        PyModule_AddIntConstant(m, "SYNC_ALWAYS", ZIPPY_SYNC_ALWAYS) ||
        PyModule_AddIntConstant(m, "SCAN_DOCS", SCAN_DOCS) || PyModule_AddIntConstant(m, "SCAN_PAIRS", SCAN_PAIRS) ||
        PyModule_AddIntConstant(m, "SCAN_RAW", SCAN_RAW) || PyModule_AddIntConstant(m, "SCAN_IDS", SCAN_IDS) ||
        PyModule_AddIntConstant(m, "SCAN_RAW_PAIRS", SCAN_RAW_PAIRS) ||
        PyModule_AddIntConstant(m, "ID_MAX", ZIPPY_ID_MAX) || PyModule_AddIntConstant(m, "MAX_DEPTH", MAX_DEPTH) ||
        PyModule_AddObjectRef(m, "ZippyError", g_exc_base)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
