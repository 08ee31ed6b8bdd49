/* test_json.c - unit tests of src/json.c (parser, writer, numbers,
 * minifier, validator, line-id fast path, allocation failures). */
#include "test.h"

#include <math.h>

#include "json.h"
#include "util.h"

/* ---- helpers ---- */

static zj_doc *g_doc;

static zj_val *P(const char *s) {
    zj_val *v = NULL;
    zj_error e;
    if (zj_parse(g_doc, s, strlen(s), &v, &e) != ZIPPY_OK) return NULL;
    return v;
}

/* compact (indent 0) or pretty serialisation into a static buffer */
static const char *W(const zj_val *v, int indent) {
    static zippy_buf b = ZIPPY_BUF_INIT;
    zb_clear(&b);
    if (zj_write(&b, v, indent) != ZIPPY_OK) return "<write failed>";
    return b.ptr;
}

static const char *MIN(const char *s, unsigned flags, zj_min_info *info) {
    static zippy_buf b = ZIPPY_BUF_INIT;
    zb_clear(&b);
    zj_error e;
    if (zj_minify_object(s, strlen(s), flags, &b, info, &e) != ZIPPY_OK)
        return "<invalid>";
    return b.ptr;
}

/* ---- valid / invalid inputs ---- */

static const char *valid_docs[] = {
    "0", "-0", "1", "-1", "123", "0.5", "-0.5", "1e5", "1E5", "1e+5", "1e-5",
    "1.5e10", "-0.0e-0", "123456789012345678901234567890",
    "1.000000000000000000000000000001", "true", "false", "null",
    "\"\"", "\"abc\"", "\" \"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\u0000\"", "\"\\u00e9\"", "\"\\uD83D\\uDE00\"", "\"\\ud83d\\ude00\"",
    "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"",
    "\"\xf4\x8f\xbf\xbf\"", "\"\xef\xbf\xbf\"", "\"\xed\x9f\xbf\"",
    "\"\x7f\"", "[]", "{}", "[ ]", "{ }", " [1, 2, 3] ", "\t\r\n null \n",
    "[[],[[]],{}]", "{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}",
    "{\"\":\"\"}", "{\"a\":1,\"a\":2}", "[\"a\\u0041\"]",
    "{\"k\" : 1 , \"l\" :\n[ true , false ] }",
    "\"0123456789abcdef0123456789abcdef\\n0123456789abcdef\"",
    "\"a long string without escapes that is longer than sixteen bytes\"",
};

static const char *invalid_docs[] = {
    "", " ", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "01", "-01", "00", "-",
    "1.", ".5", "+1", "1.e5", "1e", "1e+", "-a", "NaN", "Infinity",
    "-Infinity", "'a'", "{'a':1}", "[1 2]", "{\"a\" 1}", "{\"a\":}",
    "{a:1}", "{1:1}", "// c\n1", "/* c */ 1", "[1] // c", "tru", "nul",
    "falsey", "truex", "[true false]", "\"abc", "\"abc\\\"", "\"\\x\"",
    "\"\\u12\"", "\"\\u12G4\"", "\"\\uD800\"", "\"\\uDC00\"",
    "\"\\uD800\\u0041\"", "\"\\uD800x\"", "\"\\uDBFF\\uDBFF\"",
    "\"\x01\"", "\"\n\"", "\"\t\"", "\"\x1f\"", "\"\x80\"", "\"\xc0\x80\"",
    "\"\xc1\xbf\"", "\"\xe0\x80\x80\"", "\"\xe0\x9f\xbf\"",
    "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"", "\"\xf0\x80\x80\x80\"",
    "\"\xf0\x8f\xbf\xbf\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"",
    "\"\xff\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"",
    "\"\xc3\x28\"", "1 2", "[] []", "{} x", "[1]]", "{\"a\":1}}", "[",
    "{", "{\"a\"", "{\"a\":", "{\"a\":1", "[1", "]", "}", ":", ",",
    "\xef\xbb\xbf{}", "[\"\xc3\xa9\" \xc3\xa9]", "1\x00", "[1,\x00]",
    "[0x10]", "[1e5.5]", "[-]", "[.]", "[\"a\"\"b\"]", "{\"a\":1 \"b\":2}",
    "\"\\u",
};

TEST(test_valid) {
    for (size_t i = 0; i < sizeof valid_docs / sizeof *valid_docs; i++) {
        const char *s = valid_docs[i];
        zj_val *v = NULL;
        zj_error e;
        int rc = zj_parse(g_doc, s, strlen(s), &v, &e);
        CHECKF(rc == ZIPPY_OK, "parse [%s]: %s", s, e.msg);
        CHECKF(zj_validate(s, strlen(s), &e) == ZIPPY_OK, "validate [%s]", s);
        /* compact and pretty output re-parse to an equal value */
        for (int ind = 0; ind <= 4; ind += 2) {
            const char *w = W(v, ind);
            char *copy = strdup(w);
            zj_val *v2 = NULL;
            CHECKF(zj_parse(g_doc, copy, strlen(copy), &v2, &e) == ZIPPY_OK,
                   "reparse [%s]", copy);
            CHECKF(zj_equal(v, v2), "roundtrip [%s] -> [%s]", s, copy);
            free(copy);
        }
    }
}

TEST(test_invalid) {
    for (size_t i = 0; i < sizeof invalid_docs / sizeof *invalid_docs; i++) {
        const char *s = invalid_docs[i];
        size_t n = strlen(s);
        if (!strcmp(s, "1\x00") || !strcmp(s, "[1,\x00]")) n = strlen(s) + 1;
        zj_val *v = NULL;
        zj_error e1, e2;
        memset(&e1, 0, sizeof e1);
        memset(&e2, 0, sizeof e2);
        int rc = zj_parse(g_doc, s, n, &v, &e1);
        CHECKF(rc == ZIPPY_EINVAL, "parse accepted [%s]", s);
        CHECKF(e1.msg[0] != 0 && e1.line >= 1 && e1.col >= 1, "no error detail [%s]", s);
        CHECKF(e1.offset <= n, "offset past the end [%s]", s);
        CHECK(zippy_errcode() == ZIPPY_EINVAL);
        CHECK(strstr(zippy_errmsg(), e1.msg) != NULL);
        CHECKF(zj_validate(s, n, &e2) == ZIPPY_EINVAL, "validate accepted [%s]", s);
        CHECKF(e1.offset == e2.offset && !strcmp(e1.msg, e2.msg),
               "parse/validate disagree on [%s]: %zu %s / %zu %s", s, e1.offset,
               e1.msg, e2.offset, e2.msg);
        /* the same text inside an object is rejected by the minifier */
        char buf[256];
        snprintf(buf, sizeof buf, "{\"k\":%s}", s);
        zippy_buf out = ZIPPY_BUF_INIT;
        if (n == strlen(s))
            CHECKF(zj_minify_object(buf, strlen(buf), 0, &out, NULL, &e2) ==
                       ZIPPY_EINVAL, "minify accepted [%s]", buf);
        zippy_buf_free(&out);
    }
}

TEST(test_error_messages) {
    struct { const char *s; size_t off; unsigned line, col; const char *msg; } c[] = {
        {"{\n  \"a\": 1,\n  \"b\" 2\n}", 18, 3, 7, "expected ':' after object key"},
        {"[1,]", 3, 1, 4, "expected a value"},
        {"{\"a\":1,}", 7, 1, 8, "expected '\"' to start an object key"},
        {"[1 2]", 3, 1, 4, "expected ',' or ']' after array item"},
        {"{\"a\":1 \"b\"}", 7, 1, 8, "expected ',' or '}' after object member"},
        {"01", 0, 1, 1, "leading zeros are not allowed in numbers"},
        {"1.", 2, 1, 3, "expected a digit after '.'"},
        {"-", 1, 1, 2, "expected a digit after '-'"},
        {"1e+", 3, 1, 4, "expected a digit in the exponent"},
        {"\"ab", 3, 1, 4, "expected '\"' to close the string"},
        {"[\"a\\qb\"]", 3, 1, 4, NULL},
        {"\"\\uD800\"", 1, 1, 2, "unpaired surrogate in \\u escape"},
        {"\n\n  \"\xc3\x28\"", 5, 3, 4, "invalid UTF-8 byte sequence"},
        {"[1] x", 4, 1, 5, "expected end of input after the value"},
        {"[tru]", 1, 1, 2, "expected 'true', 'false' or 'null'"},
        {"\"a\x01\"", 2, 1, 3, "control character in string (must be escaped)"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        zj_val *v;
        zj_error e;
        CHECK(zj_parse(g_doc, c[i].s, strlen(c[i].s), &v, &e) == ZIPPY_EINVAL);
        CHECKF(e.offset == c[i].off && e.line == c[i].line && e.col == c[i].col,
               "[%s]: got %zu %u:%u (%s)", c[i].s, e.offset, e.line, e.col, e.msg);
        if (c[i].msg) CHECK_STR(e.msg, c[i].msg);
    }
    /* the thread message names the position */
    zj_val *v;
    CHECK(zj_parse(g_doc, "[1,]", 4, &v, NULL) == ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "byte 3") && strstr(zippy_errmsg(), "line 1"));
}

TEST(test_dom) {
    const char *s = "{\"a\":[1,\"x\",true,false,null,{}],\"b\":-1.5e3,\"c\":\"d\\ne\"}";
    zj_val *v = P(s);
    CHECK(v && v->type == ZJ_OBJECT && v->len == 3);
    CHECK_MEM(v->u.members[0].u.str, v->u.members[0].len, "a");
    const zj_val *a = zj_get(v, "a", 1);
    CHECK(a && a->type == ZJ_ARRAY && a->len == 6);
    CHECK(a->u.items[0].type == ZJ_NUMBER && (a->u.items[0].flags & ZJ_NUM_INT));
    CHECK(a->u.items[1].type == ZJ_STRING);
    CHECK_MEM(a->u.items[1].u.str, a->u.items[1].len, "x");
    /* unescaped strings point into the input */
    CHECK(a->u.items[1].u.str > s && a->u.items[1].u.str < s + strlen(s));
    CHECK(a->u.items[2].type == ZJ_TRUE && a->u.items[3].type == ZJ_FALSE);
    CHECK(a->u.items[4].type == ZJ_NULL);
    CHECK(a->u.items[5].type == ZJ_OBJECT && a->u.items[5].len == 0);
    const zj_val *b = zj_get(v, "b", 1);
    CHECK(b && b->type == ZJ_NUMBER && !(b->flags & ZJ_NUM_INT));
    CHECK_MEM(b->u.str, b->len, "-1.5e3");
    CHECK(zj_num_double(b) == -1500.0);
    const zj_val *c = zj_get(v, "c", 1);
    CHECK(c && c->len == 3 && memcmp(c->u.str, "d\ne", 3) == 0);
    CHECK(!(c->u.str >= s && c->u.str < s + strlen(s))); /* decoded copy */
    CHECK(zj_get(v, "zz", 2) == NULL);
    CHECK(zj_get(a, "a", 1) == NULL);
    CHECK(zj_get(NULL, "a", 1) == NULL);
    /* scalars at top level */
    v = P(" 42 ");
    CHECK(v && v->type == ZJ_NUMBER && v->len == 2);
    v = P("\"s\"");
    CHECK(v && v->type == ZJ_STRING && v->len == 1);
}

TEST(test_order_and_duplicates) {
    zj_val *v = P("{\"b\":1,\"a\":2,\"b\":3,\"c\":{\"z\":1,\"y\":2}}");
    CHECK(v && v->len == 4);
    CHECK_MEM(v->u.members[0].u.str, v->u.members[0].len, "b");
    CHECK_MEM(v->u.members[2].u.str, v->u.members[2].len, "a");
    CHECK_MEM(v->u.members[4].u.str, v->u.members[4].len, "b");
    CHECK_MEM(v->u.members[6].u.str, v->u.members[6].len, "c");
    const zj_val *b = zj_get(v, "b", 1);
    CHECK_MEM(b->u.str, b->len, "1"); /* first match */
    CHECK_STR(W(v, 0), "{\"b\":1,\"a\":2,\"b\":3,\"c\":{\"z\":1,\"y\":2}}");
    zj_val *w = P("{\"a\":2,\"b\":1,\"b\":3,\"c\":{\"z\":1,\"y\":2}}");
    CHECK(!zj_equal(v, w)); /* order matters */
}

TEST(test_big_numbers) {
    const char *big = "[123456789012345678901234567890,-98765432109876543210987654321,"
                      "1.00000000000000000000000000000000000001,"
                      "1e999999,1E-999999,9223372036854775808]";
    zj_val *v = P(big);
    CHECK(v);
    CHECK_STR(W(v, 0), big);
    CHECK(v->u.items[0].flags & ZJ_NUM_INT);
    CHECK(!(v->u.items[2].flags & ZJ_NUM_INT));
    CHECK(!(v->u.items[3].flags & ZJ_NUM_INT));
    int64_t x;
    CHECK(!zj_num_i64(&v->u.items[0], &x));
    CHECK(!zj_num_i64(&v->u.items[5], &x)); /* INT64_MAX + 1 */
    CHECK(isinf(zj_num_double(&v->u.items[3])));
    CHECK(zj_num_double(&v->u.items[4]) == 0.0);
}

TEST(test_num_i64) {
    struct { const char *s; int ok; int64_t v; } c[] = {
        {"0", 1, 0}, {"-0", 1, 0}, {"42", 1, 42}, {"-42", 1, -42},
        {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0}, {"-9223372036854775809", 0, 0},
        {"99999999999999999999", 0, 0}, {"1.0", 0, 0}, {"1e2", 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        zj_val *v = P(c[i].s);
        CHECK(v);
        int64_t x = 7;
        CHECKF(zj_num_i64(v, &x) == c[i].ok, "%s", c[i].s);
        if (c[i].ok) CHECKF(x == c[i].v, "%s -> %lld", c[i].s, (long long)x);
    }
    CHECK(!zj_num_i64(P("\"1\""), NULL));
    CHECK(zj_num_double(P("0.1")) == 0.1);
    CHECK(zj_num_double(P("-2.5e-3")) == -2.5e-3);
    CHECK(zj_num_double(P("12345678901234567890")) == 12345678901234567890.0);
    CHECK(isnan(zj_num_double(P("null"))));
    /* long number text (heap copy path) */
    char buf[400];
    memset(buf, '1', 300);
    strcpy(buf + 300, ".5");
    CHECK(zj_num_double(P(buf)) > 1e299);
}

static int ncmp(const char *a, const char *b) {
    zj_val *x = P(a), *y = P(b);
    if (!x || !y) return 99;
    return zj_num_cmp(x, y);
}

TEST(test_num_cmp) {
    struct { const char *a, *b; int r; } c[] = {
        {"1", "1", 0}, {"1e2", "100", 0}, {"100", "100.0", 0},
        {"1e2", "100.000", 0}, {"0.01e4", "100", 0}, {"10e1", "1E+2", 0},
        {"0", "-0", 0}, {"0.0", "-0e10", 0}, {"0e-5", "0", 0},
        {"1", "2", -1}, {"2", "1", 1}, {"-1", "1", -1}, {"-1", "-2", 1},
        {"0", "1e-999", -1}, {"-1e-999", "0", -1}, {"0", "-5", 1},
        {"1.5", "1.45", 1}, {"1.05", "1.5", -1}, {"99", "100", -1},
        {"0.999", "1", -1}, {"12345678901234567890123", "12345678901234567890124", -1},
        {"12345678901234567890123", "1.2345678901234567890123e22", 0},
        {"123456789012345678901234567890", "123456789012345678901234567891", -1},
        {"-123456789012345678901234567890", "-123456789012345678901234567891", 1},
        {"9223372036854775808", "9223372036854775807", 1},
        {"1e1000", "1e999", 1}, {"1e-1000", "1e-999", -1}, {"1e1000", "9e999", 1},
        {"1.00000000000000000000000000001", "1", 1}, {"5e-1", "0.5", 0},
        {"-5e-1", "-0.50", 0}, {"0.1", "0.10000000000000000001", -1},
        {"123.456", "1234.56e-1", 0}, {"1e+0", "1", 0}, {"1e-0", "1.0", 0},
        {"0.0001e5", "10", 0}, {"-0.00", "0e7", 0},
        /* huge exponents: compared exactly */
        {"1e99999999999999999999", "1e99999999999999999998", 1},
        {"1e99999999999999999999", "10e99999999999999999998", 0},
        {"1e100000000000000000000", "1e99999999999999999999", 1},
        {"10e99999999999999999999", "1e100000000000000000000", 0},
        {"1e-99999999999999999999", "1e-99999999999999999998", -1},
        {"1e-99999999999999999999", "1e99999999999999999999", -1},
        {"1e1000000000000000", "1e999999999999999", 1},
        {"1e1000000000000000", "10e999999999999999", 0},
        {"1e2000000000000000", "1e1000000000000000", 1},
        {"-1e99999999999999999999", "-1e99999999999999999998", -1},
        {"1e000000000000000000000000002", "100", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        CHECKF(ncmp(c[i].a, c[i].b) == c[i].r, "%s vs %s: %d", c[i].a, c[i].b,
               ncmp(c[i].a, c[i].b));
        CHECKF(ncmp(c[i].b, c[i].a) == -c[i].r, "%s vs %s (swapped)", c[i].b, c[i].a);
    }
}

TEST(test_equal) {
    CHECK(zj_equal(P("{\"a\":[1,2,{\"b\":null}]}"), P("{ \"a\" : [ 1 , 2.0 , { \"b\" : null } ] }")));
    CHECK(zj_equal(P("\"\\u0041\""), P("\"A\"")));
    CHECK(zj_equal(P("1e2"), P("100")));
    CHECK(!zj_equal(P("1"), P("\"1\"")));
    CHECK(!zj_equal(P("[1,2]"), P("[1,2,3]")));
    CHECK(!zj_equal(P("[1,2]"), P("[2,1]")));
    CHECK(!zj_equal(P("{\"a\":1}"), P("{\"b\":1}")));
    CHECK(!zj_equal(P("{\"a\":1}"), P("{\"a\":2}")));
    CHECK(!zj_equal(P("true"), P("false")));
    CHECK(zj_equal(P("null"), P("null")));
    CHECK(!zj_equal(P("\"ab\""), P("\"abc\"")));
    CHECK(zj_equal(P("{}"), P("{}")) && zj_equal(P("[]"), P("[]")));
    CHECK(!zj_equal(P("{}"), P("[]")));
    CHECK(!zj_equal(P("{}"), NULL) && zj_equal(NULL, NULL));
}

TEST(test_strings) {
    zj_val *v = P("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    CHECK(v && v->len == 8 && memcmp(v->u.str, "\"\\/\b\f\n\r\t", 8) == 0);
    v = P("\"a\\u0000b\"");
    CHECK(v && v->len == 3 && memcmp(v->u.str, "a\0b", 3) == 0);
    v = P("\"\\u00e9\\u20AC\"");
    CHECK(v && v->len == 5 && memcmp(v->u.str, "\xc3\xa9\xe2\x82\xac", 5) == 0);
    v = P("\"x\\uD83D\\uDE00y\"");
    CHECK(v && v->len == 6 && memcmp(v->u.str, "x\xf0\x9f\x98\x80y", 6) == 0);
    v = P("\"\\udbff\\udfff\"");
    CHECK(v && v->len == 4 && memcmp(v->u.str, "\xf4\x8f\xbf\xbf", 4) == 0);
    v = P("\"\\u0800\\u07ff\\u007f\"");
    CHECK(v && v->len == 6 && memcmp(v->u.str, "\xe0\xa0\x80\xdf\xbf\x7f", 6) == 0);
    /* writer: minimal escapes, non-ASCII kept */
    v = P("\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f \\u0001\\u001f \\u007f \xc3\xa9 / \\/\"");
    CHECK(v);
    CHECK_STR(W(v, 0), "\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f \\u0001\\u001f \x7f \xc3\xa9 / /\"");
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK(zj_write_string(&b, "", 0) == ZIPPY_OK);
    CHECK_STR(b.ptr, "\"\"");
    zb_clear(&b);
    /* long strings with escapes spread around (SIMD + tail paths) */
    char in[200], exp[600];
    size_t el = 0;
    exp[el++] = '"';
    for (int i = 0; i < 199; i++) {
        char ch = (char)(i % 7 == 3 ? '"' : i % 11 == 5 ? '\n' : i % 13 == 0 ? 1 : 'a' + i % 26);
        in[i] = ch;
        if (ch == '"') { exp[el++] = '\\'; exp[el++] = '"'; }
        else if (ch == '\n') { exp[el++] = '\\'; exp[el++] = 'n'; }
        else if (ch == 1) { memcpy(exp + el, "\\u0001", 6); el += 6; }
        else exp[el++] = ch;
    }
    exp[el++] = '"';
    exp[el] = 0;
    CHECK(zj_write_string(&b, in, 199) == ZIPPY_OK);
    CHECK_STR(b.ptr, exp);
    /* and it parses back to the same bytes */
    zj_val *r = P(b.ptr);
    CHECK(r && r->len == 199 && memcmp(r->u.str, in, 199) == 0);
    zippy_buf_free(&b);
}

TEST(test_utf8_positions) {
    /* invalid bytes at every position relative to the 16-byte SIMD blocks */
    char buf[80];
    for (int pos = 0; pos < 40; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[0] = '"';
        buf[1 + pos] = (char)0xC0;
        buf[2 + pos] = (char)0x80;
        buf[60] = '"';
        zj_val *v;
        zj_error e;
        CHECK(zj_parse(g_doc, buf, 61, &v, &e) == ZIPPY_EINVAL);
        CHECK_EQ(e.offset, 1 + pos);
        CHECK(zj_validate(buf, 61, &e) == ZIPPY_EINVAL);
        CHECK_EQ(e.offset, 1 + pos);
        /* valid 4-byte sequence at the same place */
        memcpy(buf + 1 + pos, "\xf0\x9f\x98\x80", 4);
        CHECK(zj_parse(g_doc, buf, 61, &v, &e) == ZIPPY_OK);
        CHECK(v->len == 59);
        /* quote right at the position */
        buf[1 + pos] = '"';
        CHECK(zj_parse(g_doc, buf, (size_t)(2 + pos), &v, &e) == ZIPPY_OK);
        CHECK_EQ(v->len, pos);
    }
}

static char *nested(int depth, int obj) {
    char *s = malloc((size_t)depth * 8 + 16);
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        if (obj) { memcpy(s + n, "{\"a\":", 5); n += 5; }
        else s[n++] = '[';
    }
    s[n++] = '1';
    for (int i = 0; i < depth; i++) s[n++] = obj ? '}' : ']';
    s[n] = 0;
    return s;
}

TEST(test_depth) {
    for (int obj = 0; obj < 2; obj++) {
        char *ok = nested(ZJ_MAX_DEPTH, obj), *bad = nested(ZJ_MAX_DEPTH + 1, obj);
        zj_val *v;
        zj_error e;
        CHECK(zj_parse(g_doc, ok, strlen(ok), &v, &e) == ZIPPY_OK);
        CHECK(zj_validate(ok, strlen(ok), &e) == ZIPPY_OK);
        CHECK_STR(W(v, 0), ok);
        zj_val *v2;
        CHECK(zj_parse(g_doc, ok, strlen(ok), &v2, &e) == ZIPPY_OK);
        CHECK(zj_equal(v, v2));
        int rc = zj_parse(g_doc, bad, strlen(bad), &v, &e);
        CHECK(rc == ZIPPY_EINVAL);
        CHECK(strstr(e.msg, "nesting") != NULL);
        CHECK_EQ(e.offset, obj ? 5 * ZJ_MAX_DEPTH : ZJ_MAX_DEPTH);
        CHECK(zj_validate(bad, strlen(bad), &e) == ZIPPY_EINVAL);
        zippy_buf b = ZIPPY_BUF_INIT;
        if (obj) {
            CHECK(zj_minify_object(ok, strlen(ok), 0, &b, NULL, &e) == ZIPPY_OK);
            CHECK_STR(b.ptr, ok);
            CHECK(zj_minify_object(bad, strlen(bad), 0, &b, NULL, &e) == ZIPPY_EINVAL);
        }
        zippy_buf_free(&b);
        free(ok);
        free(bad);
    }
    /* an empty container at depth limit + 1 is rejected too */
    char s[600];
    size_t n = 0;
    for (int i = 0; i < ZJ_MAX_DEPTH; i++) s[n++] = '[';
    s[n++] = '{';
    s[n++] = '}';
    for (int i = 0; i < ZJ_MAX_DEPTH; i++) s[n++] = ']';
    zj_val *v;
    CHECK(zj_parse(g_doc, s, n, &v, NULL) == ZIPPY_EINVAL);
    CHECK(zj_validate(s, n, NULL) == ZIPPY_EINVAL);
    /* very deep input fails cleanly without recursion */
    size_t big = 1 << 20;
    char *deep = malloc(big);
    memset(deep, '[', big);
    CHECK(zj_parse(g_doc, deep, big, &v, NULL) == ZIPPY_EINVAL);
    CHECK(zj_validate(deep, big, NULL) == ZIPPY_EINVAL);
    free(deep);
}

TEST(test_write) {
    zj_val *v = P(" { \"a\" : [ 1 , 2 , { } , [ ] , { \"x\" : null } ] , \"b\" : \"s\" , \"c\" : {} } ");
    CHECK(v);
    CHECK_STR(W(v, 0), "{\"a\":[1,2,{},[],{\"x\":null}],\"b\":\"s\",\"c\":{}}");
    CHECK_STR(W(v, 2),
              "{\n"
              "  \"a\": [\n"
              "    1,\n"
              "    2,\n"
              "    {},\n"
              "    [],\n"
              "    {\n"
              "      \"x\": null\n"
              "    }\n"
              "  ],\n"
              "  \"b\": \"s\",\n"
              "  \"c\": {}\n"
              "}");
    CHECK_STR(W(P("[true,false]"), 4), "[\n    true,\n    false\n]");
    CHECK_STR(W(P("[]"), 2), "[]");
    CHECK_STR(W(P("{}"), 2), "{}");
    CHECK_STR(W(P("5"), 2), "5");
    CHECK_STR(W(P("-0.0e+5"), 0), "-0.0e+5");
    /* appends */
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK(zb_append(&b, "x=", 2) == ZIPPY_OK);
    CHECK(zj_write(&b, P("[1]"), 0) == ZIPPY_OK);
    CHECK_STR(b.ptr, "x=[1]");
    zippy_buf_free(&b);
}

TEST(test_minify) {
    zj_min_info mi;
    CHECK_STR(MIN(" { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : \"x  y\\n \\\" z\" } \n", 0, &mi),
              "{\"a\":[1,2],\"b\":\"x  y\\n \\\" z\"}");
    CHECK(!mi.has_id && mi.members == 2 && !mi.has_reserved);
    CHECK_STR(MIN("{}", 0, &mi), "{}");
    CHECK(mi.members == 0);
    CHECK_STR(MIN(" {  } ", 0, &mi), "{}");
    /* _id stripped at the top level: first, middle, last, only */
    CHECK_STR(MIN("{\"_id\":\"k1\",\"a\":1,\"b\":2}", ZJ_MIN_STRIP_ID, &mi), "{\"a\":1,\"b\":2}");
    CHECK(mi.has_id && mi.id_is_string && mi.id_len == 2 && !strcmp(mi.id, "k1"));
    CHECK(mi.members == 2);
    CHECK_STR(MIN("{\"a\":1,\"_id\":\"k\",\"b\":2}", ZJ_MIN_STRIP_ID, &mi), "{\"a\":1,\"b\":2}");
    CHECK_STR(MIN("{\"a\":1,\"b\":2,\"_id\":\"k\"}", ZJ_MIN_STRIP_ID, &mi), "{\"a\":1,\"b\":2}");
    CHECK_STR(MIN("{\"_id\":\"k\"}", ZJ_MIN_STRIP_ID, &mi), "{}");
    CHECK(mi.members == 0 && mi.has_id);
    CHECK_STR(MIN(" { \"_id\" : \"k\" , \"a\" : [ 1 ] } ", ZJ_MIN_STRIP_ID, &mi), "{\"a\":[1]}");
    CHECK_STR(MIN("{ \"a\" : 1 , \"_id\" : { \"x\" : [ 1 , 2 ] } , \"b\" : 2 }", ZJ_MIN_STRIP_ID, &mi),
              "{\"a\":1,\"b\":2}");
    CHECK(mi.has_id && !mi.id_is_string);
    CHECK_STR(MIN("{\"_id\":1,\"_id\":2,\"a\":3}", ZJ_MIN_STRIP_ID, &mi), "{\"a\":3}");
    CHECK_STR(MIN("{\"_id\":1 , \"_id\":2 }", ZJ_MIN_STRIP_ID, &mi), "{}");
    /* without the flag the member is kept but reported */
    CHECK_STR(MIN("{\"_id\":\"k\",\"a\":1}", 0, &mi), "{\"_id\":\"k\",\"a\":1}");
    CHECK(mi.has_id && mi.id_is_string && !strcmp(mi.id, "k") && mi.members == 2);
    /* nested _id is not the document's */
    CHECK_STR(MIN("{\"a\":{\"_id\":\"n\"},\"b\":[{\"_id\":1}]}", ZJ_MIN_STRIP_ID, &mi),
              "{\"a\":{\"_id\":\"n\"},\"b\":[{\"_id\":1}]}");
    CHECK(!mi.has_id);
    /* _id not a string */
    CHECK_STR(MIN("{\"_id\":42}", 0, &mi), "{\"_id\":42}");
    CHECK(mi.has_id && !mi.id_is_string && mi.id_len == 0);
    /* escaped key and value are decoded for the report */
    CHECK_STR(MIN("{\"\\u005fid\":\"a\\u0062\\n\",\"x\":1}", ZJ_MIN_STRIP_ID, &mi), "{\"x\":1}");
    CHECK(mi.has_id && mi.id_is_string && mi.id_len == 3 && !memcmp(mi.id, "ab\n", 4));
    /* long id: prefix kept, full length reported */
    char big[700];
    strcpy(big, "{\"_id\":\"");
    memset(big + 8, 'x', 600);
    strcpy(big + 608, "\"}");
    CHECK_STR(MIN(big, ZJ_MIN_STRIP_ID, &mi), "{}");
    CHECK(mi.id_len == 600 && strlen(mi.id) == ZIPPY_ID_MAX);
    /* reserved key */
    CHECK_STR(MIN("{\"$deleted\":true}", 0, &mi), "{\"$deleted\":true}");
    CHECK(mi.has_reserved && mi.members == 1);
    MIN("{\"\\u0024deleted\":1}", 0, &mi);
    CHECK(mi.has_reserved);
    MIN("{\"a\":{\"$deleted\":1}}", 0, &mi);
    CHECK(!mi.has_reserved);
    MIN("{\"$deletedx\":1,\"_idx\":2,\"_i\":3}", 0, &mi);
    CHECK(!mi.has_reserved && !mi.has_id && mi.members == 3);
    /* not an object */
    const char *nonobj[] = {"[]", "[{}]", "\"x\"", "1", "null", "true", "", "  "};
    for (size_t i = 0; i < sizeof nonobj / sizeof *nonobj; i++) {
        CHECK_STR(MIN(nonobj[i], 0, &mi), "<invalid>");
        CHECK(!mi.has_id && mi.members == 0);
    }
    zj_error e;
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK(zj_minify_object("[1]", 3, 0, &b, NULL, &e) == ZIPPY_EINVAL);
    CHECK(strstr(e.msg, "object") != NULL && e.offset == 0);
    /* failure leaves out unchanged; output is appended */
    CHECK(zb_append(&b, "pre", 3) == ZIPPY_OK);
    CHECK(zj_minify_object("{\"a\": tru}", 10, 0, &b, NULL, &e) == ZIPPY_EINVAL);
    CHECK_STR(b.ptr, "pre");
    CHECK(zj_minify_object("{\"a\": true}", 11, 0, &b, NULL, &e) == ZIPPY_OK);
    CHECK_STR(b.ptr, "pre{\"a\":true}");
    /* out NULL: validation and report only */
    CHECK(zj_minify_object("{\"_id\":\"z\", \"b\":1}", 18, ZJ_MIN_STRIP_ID, NULL, &mi, &e) == ZIPPY_OK);
    CHECK(mi.has_id && !strcmp(mi.id, "z") && mi.members == 1);
    CHECK(zj_minify_object("{\"a\":1,}", 8, 0, NULL, &mi, &e) == ZIPPY_EINVAL);
    zippy_buf_free(&b);
}

/* ---- random documents ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void ws(zippy_buf *b) {
    static const char w[] = " \t\n\r";
    int k = (int)rnd(4) == 0 ? (int)rnd(3) : 0;
    while (k--) zb_putc(b, w[rnd(4)]);
}

static void gen_string(zippy_buf *b) {
    static const char *pieces[] = {"a", "bc", " ", "\\n", "\\\"", "\\\\", "\\u00e9",
                                   "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80", "_id", "0123456789abcdef", "\\/"};
    zb_putc(b, '"');
    int n = (int)rnd(8);
    if (rnd(10) == 0) n += 30;
    while (n--) zb_printf(b, "%s", pieces[rnd(sizeof pieces / sizeof *pieces)]);
    zb_putc(b, '"');
}

static void gen_value(zippy_buf *b, int depth) {
    static const char *nums[] = {"0", "-0", "1", "-12", "3.25", "1e10", "-2.5E-3",
                                 "123456789012345678901234567890", "0.000001", "7e+0"};
    int t = (int)rnd(depth > 5 ? 5 : 7);
    switch (t) {
    case 0: zb_printf(b, "null"); break;
    case 1: zb_printf(b, rnd(2) ? "true" : "false"); break;
    case 2: zb_printf(b, "%s", nums[rnd(10)]); break;
    case 3: case 4: gen_string(b); break;
    case 5: {
        zb_putc(b, '[');
        int n = (int)rnd(5);
        for (int i = 0; i < n; i++) {
            if (i) zb_putc(b, ',');
            ws(b);
            gen_value(b, depth + 1);
            ws(b);
        }
        zb_putc(b, ']');
        break;
    }
    default: {
        zb_putc(b, '{');
        int n = (int)rnd(5);
        for (int i = 0; i < n; i++) {
            if (i) zb_putc(b, ',');
            ws(b);
            gen_string(b);
            ws(b);
            zb_putc(b, ':');
            ws(b);
            gen_value(b, depth + 1);
            ws(b);
        }
        zb_putc(b, '}');
    }
    }
}

TEST(test_random_roundtrip) {
    zippy_buf in = ZIPPY_BUF_INIT, m = ZIPPY_BUF_INIT, w = ZIPPY_BUF_INIT;
    zj_doc *d = zj_doc_new();
    for (int iter = 0; iter < 3000; iter++) {
        zb_clear(&in);
        ws(&in);
        if (iter % 2) {
            zb_putc(&in, '{');
            int n = (int)rnd(6);
            for (int i = 0; i < n; i++) {
                if (i) zb_putc(&in, ',');
                ws(&in);
                if (rnd(4) == 0) zb_printf(&in, "\"_id\"");
                else gen_string(&in);
                ws(&in);
                zb_putc(&in, ':');
                ws(&in);
                gen_value(&in, 1);
                ws(&in);
            }
            zb_putc(&in, '}');
        } else {
            gen_value(&in, 0);
        }
        ws(&in);
        zj_doc_reset(d);
        zj_val *v, *v2;
        zj_error e;
        CHECKF(zj_parse(d, in.ptr, in.len, &v, &e) == ZIPPY_OK, "[%s]: %s", in.ptr, e.msg);
        CHECK(zj_validate(in.ptr, in.len, &e) == ZIPPY_OK);
        zb_clear(&w);
        CHECK(zj_write(&w, v, 0) == ZIPPY_OK);
        CHECK(zj_parse(d, w.ptr, w.len, &v2, &e) == ZIPPY_OK);
        CHECK(zj_equal(v, v2));
        if (v->type == ZJ_OBJECT) {
            /* minify == compact writer output when escapes are written the
             * same way; at least the values must be equal */
            zj_min_info mi;
            zb_clear(&m);
            CHECK(zj_minify_object(in.ptr, in.len, 0, &m, &mi, &e) == ZIPPY_OK);
            CHECK(mi.members == v->len);
            CHECK(zj_parse(d, m.ptr, m.len, &v2, &e) == ZIPPY_OK);
            CHECK(zj_equal(v, v2));
            /* minifying minified output is the identity */
            zippy_buf m2 = ZIPPY_BUF_INIT;
            CHECK(zj_minify_object(m.ptr, m.len, 0, &m2, NULL, &e) == ZIPPY_OK);
            CHECK(m2.len == m.len && !memcmp(m2.ptr, m.ptr, m.len));
            zippy_buf_free(&m2);
            /* with stripping: same as the DOM without "_id" members */
            zb_clear(&m);
            CHECK(zj_minify_object(in.ptr, in.len, ZJ_MIN_STRIP_ID, &m, &mi, &e) == ZIPPY_OK);
            CHECK(zj_parse(d, m.ptr, m.len, &v2, &e) == ZIPPY_OK);
            CHECK(zj_get(v2, "_id", 3) == NULL);
            uint32_t j = 0;
            for (uint32_t i = 0; i < v->len; i++) {
                const zj_val *k = &v->u.members[2 * i];
                if (k->len == 3 && !memcmp(k->u.str, "_id", 3)) continue;
                CHECK(j < v2->len);
                CHECK(zj_equal(k, &v2->u.members[2 * j]));
                CHECK(zj_equal(k + 1, &v2->u.members[2 * j + 1]));
                j++;
            }
            CHECK(j == v2->len && mi.members == j);
            CHECK(mi.has_id == (zj_get(v, "_id", 3) != NULL));
        }
        /* pretty output */
        zb_clear(&w);
        CHECK(zj_write(&w, v, 2) == ZIPPY_OK);
        CHECK(zj_parse(d, w.ptr, w.len, &v2, &e) == ZIPPY_OK);
        CHECK(zj_equal(v, v2));
        /* every strict prefix is invalid (for containers and strings) */
        if (in.ptr[0] == '{' || in.ptr[0] == '[' || in.ptr[0] == '"') {
            size_t cut = rnd((uint32_t)in.len);
            zj_val *v3;
            int rp = zj_parse(d, in.ptr, cut, &v3, &e);
            int rv = zj_validate(in.ptr, cut, &e);
            CHECK(rp == rv);
        }
    }
    zj_doc_free(d);
    zippy_buf_free(&in);
    zippy_buf_free(&m);
    zippy_buf_free(&w);
}

/* Long documents: strings of every length around the 57/64-byte fast-path
 * limits and across 2 KB scan-window refills, with escapes, escaped quotes
 * and UTF-8 at varying positions; each one must decode to its source. */
TEST(test_long_docs) {
    zippy_buf in = ZIPPY_BUF_INIT, m = ZIPPY_BUF_INIT;
    char *src[400];
    size_t srclen[400];
    int ns = 0;
    for (int round = 0; round < 4; round++) {
        zb_clear(&in);
        zb_putc(&in, '[');
        ns = 0;
        for (int i = 0; i < 400; i++) {
            size_t len = i < 300 ? (size_t)i : (size_t)rnd(3000);
            char *raw = malloc(len * 6 + 8), *dec = malloc(len * 4 + 8);
            size_t rl = 0, dl = 0;
            for (size_t k = 0; k < len; k++) {
                uint32_t r = rnd(round == 0 ? 1000 : 40);
                if (r == 0) { raw[rl++] = '\\'; raw[rl++] = '"'; dec[dl++] = '"'; } /* escaped quote */
                else if (r == 1) { memcpy(raw + rl, "\\n", 2); rl += 2; dec[dl++] = '\n'; }
                else if (r == 2) { memcpy(raw + rl, "\xc3\xa9", 2); rl += 2; memcpy(dec + dl, "\xc3\xa9", 2); dl += 2; }
                else if (r == 3) { memcpy(raw + rl, "\\u20ac", 6); rl += 6; memcpy(dec + dl, "\xe2\x82\xac", 3); dl += 3; }
                else { char c = (char)('a' + (k + (size_t)i) % 26); raw[rl++] = c; dec[dl++] = c; }
            }
            if (i) zb_printf(&in, "%s", round == 2 ? " ,\n" : ",");
            zb_putc(&in, '"');
            zb_append(&in, raw, rl);
            zb_putc(&in, '"');
            if (i % 7 == 3) zb_printf(&in, ",%d", i); /* numbers in between */
            free(raw);
            src[ns] = dec;
            srclen[ns++] = dl;
        }
        zb_putc(&in, ']');
        zj_doc *d = zj_doc_new();
        zj_val *v;
        zj_error e;
        CHECKF(zj_parse(d, in.ptr, in.len, &v, &e) == ZIPPY_OK, "round %d: %s at %zu", round, e.msg, e.offset);
        CHECK(zj_validate(in.ptr, in.len, &e) == ZIPPY_OK);
        int j = 0;
        for (uint32_t k = 0; k < v->len; k++) {
            const zj_val *it = &v->u.items[k];
            if (it->type != ZJ_STRING) continue;
            CHECK(j < ns);
            CHECKF(it->len == srclen[j] && memcmp(it->u.str, src[j], srclen[j]) == 0,
                   "round %d string %d (len %zu)", round, j, srclen[j]);
            j++;
        }
        CHECK(j == ns);
        /* the same strings as object keys and values through the minifier */
        zb_clear(&m);
        zippy_buf o = ZIPPY_BUF_INIT;
        zb_printf(&o, "{");
        int npairs = 0;
        const zj_val *pend = NULL;
        for (uint32_t k = 0; k < v->len; k++) {
            const zj_val *it = &v->u.items[k];
            if (!pend) { /* keys must be strings */
                if (it->type == ZJ_STRING) pend = it;
                continue;
            }
            if (npairs++) zb_putc(&o, ',');
            zj_write(&o, pend, 0);
            zb_putc(&o, ':');
            zj_write(&o, it, 0);
            pend = NULL;
        }
        zb_putc(&o, '}');
        zj_val *ov, *mv;
        CHECK(zj_parse(d, o.ptr, o.len, &ov, &e) == ZIPPY_OK);
        CHECK(zj_minify_object(o.ptr, o.len, ZJ_MIN_STRIP_ID, &m, NULL, &e) == ZIPPY_OK);
        CHECK(m.len == o.len && memcmp(m.ptr, o.ptr, o.len) == 0);
        CHECK(zj_parse(d, m.ptr, m.len, &mv, &e) == ZIPPY_OK && zj_equal(ov, mv));
        /* cutting the text anywhere never makes it valid, and parse and
         * validate agree on the error */
        for (int c = 0; c < 200; c++) {
            size_t cut = rnd((uint32_t)in.len);
            zj_error e1, e2;
            CHECK(zj_parse(d, in.ptr, cut, &v, &e1) == ZIPPY_EINVAL);
            CHECK(zj_validate(in.ptr, cut, &e2) == ZIPPY_EINVAL);
            CHECK(e1.offset == e2.offset);
        }
        zippy_buf_free(&o);
        zj_doc_free(d);
        for (int k = 0; k < ns; k++) free(src[k]);
    }
    zippy_buf_free(&in);
    zippy_buf_free(&m);
}

TEST(test_line_id) {
    const char *id;
    size_t idlen, rest;
    const char *l1 = "{\"_id\":\"user_1\",\"a\":1}";
    CHECK(zj_line_id(l1, strlen(l1), &id, &idlen, &rest) == 1);
    CHECK_MEM(id, idlen, "user_1");
    CHECK(rest == 15 && l1[rest] == ',');
    const char *l2 = "{\"_id\":\"x\"}";
    CHECK(zj_line_id(l2, strlen(l2), &id, &idlen, &rest) == 1);
    CHECK_MEM(id, idlen, "x");
    CHECK(l2[rest] == '}');
    const char *l3 = "{\"_id\":\"a-long-identifier-with-more-than-16-bytes@x.y\",\"b\":2}";
    CHECK(zj_line_id(l3, strlen(l3), &id, &idlen, &rest) == 1);
    CHECK_MEM(id, idlen, "a-long-identifier-with-more-than-16-bytes@x.y");
    const char *l4 = "{\"_id\":\"\xc3\xa9t\xc3\xa9\",\"b\":2}";
    CHECK(zj_line_id(l4, strlen(l4), &id, &idlen, &rest) == 1 && idlen == 5);
    const char *no[] = {
        "{\"name\":\"x\",\"_id\":\"y\"}", "{\"_id\":\"a\\\"b\",\"c\":1}",
        "{\"_id\":\"a\\u0041\"}", "{\"_id\": \"a\"}", "{ \"_id\":\"a\"}",
        "{\"_id\":1}", "{\"_id\":\"abc", "{\"_id\":\"", "{\"_id\":", "", "{",
        "[\"_id\",\"x\"]", "{\"_id\":\"a\" ,\"b\":1}", "{\"_id\":\"a\"",
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECKF(zj_line_id(no[i], strlen(no[i]), &id, &idlen, &rest) == 0, "%s", no[i]);
    /* length bound is respected */
    CHECK(zj_line_id(l1, 14, &id, &idlen, &rest) == 0);
    CHECK(zj_line_id(l1, 15, &id, &idlen, &rest) == 0);
    CHECK(zj_line_id(l1, 16, &id, &idlen, &rest) == 1);
}

TEST(test_doc_reuse) {
    zj_doc *d = zj_doc_new();
    CHECK(d);
    /* a big document then many small ones on the same doc */
    zippy_buf b = ZIPPY_BUF_INIT;
    zb_putc(&b, '[');
    for (int i = 0; i < 100000; i++) zb_printf(&b, "%s{\"k\\n%d\":[%d,\"v\\t\"]}", i ? "," : "", i, i);
    zb_putc(&b, ']');
    zj_val *v;
    zj_error e;
    for (int round = 0; round < 3; round++) {
        zj_doc_reset(d);
        CHECK(zj_parse(d, b.ptr, b.len, &v, &e) == ZIPPY_OK);
        CHECK(v->len == 100000);
        const zj_val *last = &v->u.items[99999];
        CHECK(last->len == 1 && last->u.members[0].len == 7);
        CHECK(!memcmp(last->u.members[0].u.str, "k\n99999", 7));
    }
    for (int i = 0; i < 1000; i++) {
        zj_doc_reset(d);
        CHECK(zj_parse(d, "{\"a\":[1,2]}", 11, &v, &e) == ZIPPY_OK);
    }
    void *p = zj_doc_alloc(d, 100);
    CHECK(p && ((uintptr_t)p & 15) == 0);
    memset(p, 1, 100);
    CHECK(zj_doc_alloc(d, 0) != NULL);
    p = zj_doc_alloc(d, 1 << 20);
    CHECK(p);
    memset(p, 2, 1 << 20);
    zj_doc_reset(d);
    zj_doc_reset(d);
    zj_doc_free(d);
    zj_doc_free(NULL);
    zj_doc_reset(NULL);
    zippy_buf_free(&b);
}

TEST(test_null_inputs) {
    zj_val *v;
    zj_error e;
    CHECK(zj_parse(g_doc, NULL, 0, &v, &e) == ZIPPY_EINVAL);
    CHECK(zj_validate(NULL, 0, &e) == ZIPPY_EINVAL);
    CHECK(zj_minify_object(NULL, 0, 0, NULL, NULL, &e) == ZIPPY_EINVAL);
    CHECK(zj_line_id(NULL, 0, NULL, NULL, NULL) == 0);
    CHECK(zj_parse(g_doc, "1", 1, &v, NULL) == ZIPPY_OK);
}

/* ---- allocation failures ---- */

static long fa_countdown, fa_live;
static void *fa_malloc(size_t n) {
    if (fa_countdown-- == 0) return NULL;
    void *p = malloc(n);
    if (p) fa_live++;
    return p;
}
static void *fa_realloc(void *p, size_t n) {
    if (fa_countdown-- == 0) return NULL;
    void *q = realloc(p, n);
    if (q && !p) fa_live++;
    return q;
}
static void fa_free(void *p) {
    if (p) fa_live--;
    free(p);
}

/* One full workload; returns ZIPPY_OK or the first failure code. */
static int fa_workload(const char *big, size_t bign) {
    zj_doc *d = zj_doc_new();
    if (!d) return ZIPPY_ENOMEM;
    int rc = ZIPPY_OK;
    zj_val *v;
    zippy_buf out = ZIPPY_BUF_INIT;
    for (int round = 0; round < 3 && rc == ZIPPY_OK; round++) {
        rc = zj_parse(d, big, bign, &v, NULL);
        if (rc) break;
        if (!zj_doc_alloc(d, 5000)) { rc = ZIPPY_ENOMEM; break; }
        rc = zj_write(&out, v, round);
        if (rc) break;
        rc = zj_minify_object(big, bign, ZJ_MIN_STRIP_ID, &out, NULL, NULL);
        if (rc) break;
        if (zj_num_double(&v->u.members[3]) != 0.5) rc = ZIPPY_EINVAL;
        zj_doc_reset(d);
    }
    zippy_buf_free(&out);
    zj_doc_free(d);
    return rc;
}

TEST(test_alloc_failures) {
    /* a document needing several arena chunks and stack growth */
    zippy_buf b = ZIPPY_BUF_INIT;
    zb_printf(&b, "{\"_id\":\"x\",\"n\":0.5,\"a\":[");
    for (int i = 0; i < 3000; i++) zb_printf(&b, "%s\"s\\n%d\"", i ? "," : "", i);
    zb_printf(&b, "],\"long\":1");
    for (int i = 0; i < 299; i++) zb_putc(&b, '0');
    zb_putc(&b, '}');
    size_t n = b.len;
    char *big = malloc(n);
    memcpy(big, b.ptr, n);
    zippy_buf_free(&b);
    zippy_allocator fa = {fa_malloc, fa_realloc, fa_free};
    int ok = 0;
    for (long k = 0; k < 10000 && !ok; k++) {
        fa_countdown = k;
        fa_live = 0;
        zippy_set_allocator(&fa);
        int rc = fa_workload(big, n);
        zippy_set_allocator(NULL);
        CHECKF(rc == ZIPPY_OK || rc == ZIPPY_ENOMEM, "k=%ld rc=%d", k, rc);
        CHECKF(fa_live == 0, "k=%ld: %ld blocks leaked", k, fa_live);
        if (rc == ZIPPY_OK) {
            ok = 1;
            CHECKF(k > 5, "only %ld allocations?", k);
        }
    }
    CHECK(ok);
    free(big);
}

int main(void) {
    g_doc = zj_doc_new();
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_error_messages);
    RUN(test_dom);
    RUN(test_order_and_duplicates);
    RUN(test_big_numbers);
    RUN(test_num_i64);
    RUN(test_num_cmp);
    RUN(test_equal);
    RUN(test_strings);
    RUN(test_utf8_positions);
    RUN(test_depth);
    RUN(test_write);
    RUN(test_minify);
    RUN(test_random_roundtrip);
    RUN(test_long_docs);
    RUN(test_line_id);
    RUN(test_doc_reuse);
    RUN(test_null_inputs);
    RUN(test_alloc_failures);
    zj_doc_free(g_doc);
    TEST_END();
}
