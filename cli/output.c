/* output.c - writing JSON to stdout: the pretty-printer and string escaping.
 *
 * The pretty-printer reformats JSON text without parsing it: it copies
 * strings verbatim (tracking backslash escapes so that a quoted '{' or '"'
 * is not taken for structure), drops whitespace outside strings, and puts
 * newlines and indentation around { } [ ] , and a space after ':'. Empty
 * objects and arrays stay "{}" and "[]". Invalid input produces garbage
 * out but never reads out of bounds.
 */
#include <string.h>

#include "cli.h"

static void indent(FILE *f, int depth) {
    putc('\n', f);
    for (int i = 0; i < depth; i++) fputs("  ", f);
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Index of the next non-whitespace byte at or after i (n if none). */
static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && is_ws(s[i])) i++;
    return i;
}

void out_pretty(FILE *f, const char *s, size_t n) {
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') { /* copy the whole string literal */
            size_t j = i + 1;
            while (j < n && s[j] != '"') {
                if (s[j] == '\\' && j + 1 < n) j++;
                j++;
            }
            if (j < n) j++; /* closing quote */
            fwrite(s + i, 1, j - i, f);
            i = j - 1;
            continue;
        }
        switch (c) {
        case '{':
        case '[': {
            size_t k = skip_ws(s, i + 1, n);
            char close = c == '{' ? '}' : ']';
            if (k < n && s[k] == close) { /* empty container */
                putc(c, f);
                putc(close, f);
                i = k;
                break;
            }
            putc(c, f);
            depth++;
            indent(f, depth);
            break;
        }
        case '}':
        case ']':
            if (depth > 0) depth--;
            indent(f, depth);
            putc(c, f);
            break;
        case ',':
            putc(',', f);
            indent(f, depth);
            break;
        case ':':
            fputs(": ", f);
            break;
        default:
            if (!is_ws(c)) putc(c, f);
            break;
        }
    }
}

void out_json_string(FILE *f, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20) {
                fputs("\\u00", f);
                putc(hex[c >> 4], f);
                putc(hex[c & 15], f);
            } else {
                putc((char)c, f);
            }
        }
    }
    putc('"', f);
}

void out_bytes(FILE *f, const char *s, size_t n) {
    if (n) fwrite(s, 1, n, f);
}
