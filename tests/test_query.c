/* test_query.c - filters and projections (src/query.c). */
#include "test.h"

#include "json.h"
#include "query.h"
#include "util.h"

/* ---- helpers ---- */

#define PARSE_FAILED (-1000)

/* 1/0 = match result; PARSE_FAILED + code if the filter or doc is bad. */
static int M(const char *filter, const char *doc) {
    zq_filter *f = NULL;
    int rc = zq_filter_parse(&f, filter, strlen(filter));
    if (rc) return PARSE_FAILED + rc;
    zj_doc *d = zj_doc_new();
    zj_val *v = NULL;
    if (!d || zj_parse(d, doc, strlen(doc), &v, NULL) != ZIPPY_OK) {
        zj_doc_free(d);
        zq_filter_free(f);
        return PARSE_FAILED - 100;
    }
    int m = zq_filter_match(f, v);
    zj_doc_free(d);
    zq_filter_free(f);
    return m;
}

/* Expects filter to be rejected with ZIPPY_EINVAL and a message containing
 * every NULL-terminated needle. Returns NULL if fine, else a reason. */
static const char *bad_filter(const char *filter, ...) {
    static char why[512];
    zq_filter *f = NULL;
    z_err_clear();
    int rc = zq_filter_parse(&f, filter, strlen(filter));
    if (rc != ZIPPY_EINVAL) {
        zq_filter_free(f);
        snprintf(why, sizeof why, "%s: rc %d", filter, rc);
        return why;
    }
    if (zippy_errcode() != ZIPPY_EINVAL) return "errcode not set";
    va_list ap;
    va_start(ap, filter);
    const char *needle;
    while ((needle = va_arg(ap, const char *))) {
        if (!strstr(zippy_errmsg(), needle)) {
            snprintf(why, sizeof why, "%s: message \"%s\" lacks \"%s\"",
                     filter, zippy_errmsg(), needle);
            va_end(ap);
            return why;
        }
    }
    va_end(ap);
    return NULL;
}

#define CHECK_BAD(...)                                                         \
    do {                                                                       \
        const char *why_ = bad_filter(__VA_ARGS__, (const char *)NULL);        \
        CHECKF(why_ == NULL, "%s", why_);                                      \
    } while (0)

/* Projection of doc with fields into a static string ("ERR <rc>" on error). */
static const char *P(const char *fields, const char *doc, int with_id) {
    static char res[4096];
    zq_proj *p = NULL;
    int rc = zq_proj_parse(&p, fields, strlen(fields));
    if (rc) {
        snprintf(res, sizeof res, "ERR %d", rc);
        return res;
    }
    zj_doc *d = zj_doc_new();
    zj_val *v = NULL;
    if (!d || zj_parse(d, doc, strlen(doc), &v, NULL) != ZIPPY_OK) {
        zj_doc_free(d);
        zq_proj_free(p);
        return "ERR doc";
    }
    zippy_buf b = ZIPPY_BUF_INIT;
    rc = zq_proj_apply(p, v, with_id, &b);
    if (rc)
        snprintf(res, sizeof res, "ERR %d", rc);
    else
        snprintf(res, sizeof res, "%.*s", (int)b.len, b.ptr);
    zippy_buf_free(&b);
    zj_doc_free(d);
    zq_proj_free(p);
    return res;
}

/* ---- equality ---- */

TEST(eq_scalars) {
    CHECK_EQ(M("{\"a\":5}", "{\"a\":5}"), 1);
    CHECK_EQ(M("{\"a\":5}", "{\"a\":6}"), 0);
    CHECK_EQ(M("{\"a\":5}", "{\"a\":\"5\"}"), 0);
    CHECK_EQ(M("{\"a\":5}", "{\"b\":5}"), 0);
    CHECK_EQ(M("{\"a\":\"x\"}", "{\"a\":\"x\"}"), 1);
    CHECK_EQ(M("{\"a\":\"x\"}", "{\"a\":\"xy\"}"), 0);
    CHECK_EQ(M("{\"a\":\"\"}", "{\"a\":\"\"}"), 1);
    CHECK_EQ(M("{\"a\":true}", "{\"a\":true}"), 1);
    CHECK_EQ(M("{\"a\":true}", "{\"a\":false}"), 0);
    CHECK_EQ(M("{\"a\":true}", "{\"a\":1}"), 0);
    CHECK_EQ(M("{\"a\":{\"$eq\":5}}", "{\"a\":5}"), 1);
    CHECK_EQ(M("{\"a\":{\"$eq\":5}}", "{\"a\":4}"), 0);
    /* null equals only null; a missing field is not null */
    CHECK_EQ(M("{\"a\":null}", "{\"a\":null}"), 1);
    CHECK_EQ(M("{\"a\":null}", "{\"b\":1}"), 0);
    CHECK_EQ(M("{\"a\":null}", "{\"a\":0}"), 0);
    CHECK_EQ(M("{\"a\":null}", "{\"a\":false}"), 0);
    /* escaped keys and values compare decoded */
    CHECK_EQ(M("{\"caf\\u00e9\":\"\\u0041\"}", "{\"caf\xc3\xa9\":\"A\"}"), 1);
    /* _id is a field like any other */
    CHECK_EQ(M("{\"_id\":\"k1\"}", "{\"_id\":\"k1\",\"x\":1}"), 1);
}

TEST(eq_numbers_exact) {
    CHECK_EQ(M("{\"a\":100}", "{\"a\":1e2}"), 1);
    CHECK_EQ(M("{\"a\":1e2}", "{\"a\":100}"), 1);
    CHECK_EQ(M("{\"a\":100}", "{\"a\":100.000}"), 1);
    CHECK_EQ(M("{\"a\":0.1}", "{\"a\":1e-1}"), 1);
    CHECK_EQ(M("{\"a\":0}", "{\"a\":-0}"), 1);
    CHECK_EQ(M("{\"a\":1.5}", "{\"a\":1.50000000000000000001}"), 0);
    /* integers past 2^53 and past 2^64 stay exact */
    CHECK_EQ(M("{\"a\":9007199254740993}", "{\"a\":9007199254740993}"), 1);
    CHECK_EQ(M("{\"a\":9007199254740993}", "{\"a\":9007199254740992}"), 0);
    CHECK_EQ(M("{\"a\":123456789012345678901234567890}",
               "{\"a\":123456789012345678901234567890}"), 1);
    CHECK_EQ(M("{\"a\":123456789012345678901234567890}",
               "{\"a\":123456789012345678901234567891}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":123456789012345678901234567890}}",
               "{\"a\":123456789012345678901234567891}"), 1);
    CHECK_EQ(M("{\"a\":{\"$lt\":123456789012345678901234567890}}",
               "{\"a\":123456789012345678901234567891}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":18446744073709551615}}",
               "{\"a\":18446744073709551616}"), 1);
    CHECK_EQ(M("{\"a\":{\"$gt\":-18446744073709551615}}",
               "{\"a\":-18446744073709551616}"), 0);
    /* numbers inside objects and arrays compare by value too */
    CHECK_EQ(M("{\"o\":{\"x\":[1,2e0]}}", "{\"o\":{\"x\":[1.0,2]}}"), 1);
}

/* The small-integer fast path agrees with zj_num_cmp on every pair. */
TEST(num_cmp_consistent) {
    const char *nums[] = {"0", "-0", "1", "-1", "25", "30", "1e2", "100",
                          "100.5", "-100", "999999999999999999",
                          "-999999999999999999", "1000000000000000000",
                          "-1000000000000000000", "9223372036854775807",
                          "9223372036854775808", "-9223372036854775808",
                          "123456789012345678", "123456789012345678.0",
                          "1.5e-7", "0.0000001"};
    size_t n = sizeof nums / sizeof nums[0];
    zj_doc *d = zj_doc_new();
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            zj_val *a, *b;
            CHECK_EQ(zj_parse(d, nums[i], strlen(nums[i]), &a, NULL), 0);
            CHECK_EQ(zj_parse(d, nums[j], strlen(nums[j]), &b, NULL), 0);
            int c = zj_num_cmp(a, b);
            char flt[256], doc[128];
            snprintf(doc, sizeof doc, "{\"x\":%s}", nums[i]);
            snprintf(flt, sizeof flt, "{\"x\":{\"$lt\":%s}}", nums[j]);
            CHECKF(M(flt, doc) == (c < 0), "%s < %s", nums[i], nums[j]);
            snprintf(flt, sizeof flt, "{\"x\":{\"$gte\":%s}}", nums[j]);
            CHECKF(M(flt, doc) == (c >= 0), "%s >= %s", nums[i], nums[j]);
            snprintf(flt, sizeof flt, "{\"x\":%s}", nums[j]);
            CHECKF(M(flt, doc) == (c == 0), "%s == %s", nums[i], nums[j]);
        }
    }
    zj_doc_free(d);
    CHECK_EQ(M("{\"x\":{\"$lt\":1000000000000000000}}",
               "{\"x\":999999999999999999}"), 1);
    CHECK_EQ(M("{\"x\":{\"$gt\":-1000000000000000000}}",
               "{\"x\":-999999999999999999}"), 1);
}

TEST(eq_objects_and_arrays) {
    /* object literal: deep, order-sensitive */
    CHECK_EQ(M("{\"o\":{\"a\":1,\"b\":2}}", "{\"o\":{\"a\":1,\"b\":2}}"), 1);
    CHECK_EQ(M("{\"o\":{\"a\":1,\"b\":2}}", "{\"o\":{\"b\":2,\"a\":1}}"), 0);
    CHECK_EQ(M("{\"o\":{\"a\":1}}", "{\"o\":{\"a\":1,\"b\":2}}"), 0);
    CHECK_EQ(M("{\"o\":{}}", "{\"o\":{}}"), 1);
    CHECK_EQ(M("{\"o\":{}}", "{\"o\":[]}"), 0);
    /* nested $-keys inside a literal are plain data */
    CHECK_EQ(M("{\"o\":{\"a\":{\"$gt\":1}}}", "{\"o\":{\"a\":{\"$gt\":1}}}"), 1);
    CHECK_EQ(M("{\"o\":{\"$eq\":{\"$gt\":1}}}", "{\"o\":{\"$gt\":1}}"), 1);
    /* array field: any element, or the whole array */
    CHECK_EQ(M("{\"t\":\"x\"}", "{\"t\":[\"w\",\"x\"]}"), 1);
    CHECK_EQ(M("{\"t\":\"z\"}", "{\"t\":[\"w\",\"x\"]}"), 0);
    CHECK_EQ(M("{\"t\":[\"w\",\"x\"]}", "{\"t\":[\"w\",\"x\"]}"), 1);
    CHECK_EQ(M("{\"t\":[\"x\",\"w\"]}", "{\"t\":[\"w\",\"x\"]}"), 0);
    CHECK_EQ(M("{\"t\":[\"x\"]}", "{\"t\":[[\"x\"],1]}"), 1);
    CHECK_EQ(M("{\"t\":\"x\"}", "{\"t\":[[\"x\"]]}"), 0); /* one level only */
    CHECK_EQ(M("{\"t\":[]}", "{\"t\":[]}"), 1);
    CHECK_EQ(M("{\"t\":{\"a\":1}}", "{\"t\":[{\"a\":1},2]}"), 1);
}

/* ---- comparisons ---- */

TEST(cmp_numbers) {
    const char *d = "{\"age\":30}";
    CHECK_EQ(M("{\"age\":{\"$gt\":25}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$gt\":30}}", d), 0);
    CHECK_EQ(M("{\"age\":{\"$gte\":30}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$gte\":31}}", d), 0);
    CHECK_EQ(M("{\"age\":{\"$lt\":31}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$lt\":30}}", d), 0);
    CHECK_EQ(M("{\"age\":{\"$lte\":30}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$lte\":29.999}}", d), 0);
    CHECK_EQ(M("{\"age\":{\"$gt\":25,\"$lte\":60}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$gt\":25,\"$lte\":29}}", d), 0);
    CHECK_EQ(M("{\"age\":{\"$gt\":2.99e1}}", d), 1);
    CHECK_EQ(M("{\"age\":{\"$gte\":3e1,\"$lte\":3e1}}", d), 1);
    CHECK_EQ(M("{\"x\":{\"$lt\":0}}", "{\"x\":-0.5}"), 1);
    CHECK_EQ(M("{\"x\":{\"$lt\":-1}}", "{\"x\":-0.5}"), 0);
    CHECK_EQ(M("{\"x\":{\"$gt\":1e-300}}", "{\"x\":1e-299}"), 1);
    /* missing field: no comparison matches */
    CHECK_EQ(M("{\"age\":{\"$lt\":100}}", "{}"), 0);
}

TEST(cmp_type_mismatch) {
    CHECK_EQ(M("{\"a\":{\"$gt\":5}}", "{\"a\":\"6\"}"), 0);
    CHECK_EQ(M("{\"a\":{\"$lt\":5}}", "{\"a\":\"4\"}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":5}}", "{\"a\":true}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":5}}", "{\"a\":null}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":5}}", "{\"a\":{\"b\":9}}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gte\":\"\"}}", "{\"a\":0}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gte\":false}}", "{\"a\":0}"), 0);
    CHECK_EQ(M("{\"a\":{\"$gte\":null}}", "{\"a\":0}"), 0);
    CHECK_EQ(M("{\"a\":{\"$lte\":null}}", "{\"a\":false}"), 0);
}

TEST(cmp_strings_bools_null) {
    CHECK_EQ(M("{\"s\":{\"$gt\":\"abc\"}}", "{\"s\":\"abd\"}"), 1);
    CHECK_EQ(M("{\"s\":{\"$gt\":\"abc\"}}", "{\"s\":\"abc\"}"), 0);
    CHECK_EQ(M("{\"s\":{\"$gt\":\"ab\"}}", "{\"s\":\"abc\"}"), 1);
    CHECK_EQ(M("{\"s\":{\"$lt\":\"ab\"}}", "{\"s\":\"a\"}"), 1);
    CHECK_EQ(M("{\"s\":{\"$lt\":\"B\"}}", "{\"s\":\"a\"}"), 0); /* bytewise */
    CHECK_EQ(M("{\"s\":{\"$gt\":\"z\"}}", "{\"s\":\"\xc3\xa9\"}"), 1);
    CHECK_EQ(M("{\"s\":{\"$gte\":\"\"}}", "{\"s\":\"\"}"), 1);
    CHECK_EQ(M("{\"s\":{\"$lt\":\"\"}}", "{\"s\":\"\"}"), 0);
    CHECK_EQ(M("{\"b\":{\"$gt\":false}}", "{\"b\":true}"), 1);
    CHECK_EQ(M("{\"b\":{\"$gt\":false}}", "{\"b\":false}"), 0);
    CHECK_EQ(M("{\"b\":{\"$lt\":true}}", "{\"b\":false}"), 1);
    CHECK_EQ(M("{\"b\":{\"$gte\":true}}", "{\"b\":true}"), 1);
    CHECK_EQ(M("{\"b\":{\"$lte\":false}}", "{\"b\":true}"), 0);
    CHECK_EQ(M("{\"n\":{\"$gte\":null}}", "{\"n\":null}"), 1);
    CHECK_EQ(M("{\"n\":{\"$lte\":null}}", "{\"n\":null}"), 1);
    CHECK_EQ(M("{\"n\":{\"$gt\":null}}", "{\"n\":null}"), 0);
    CHECK_EQ(M("{\"n\":{\"$lt\":null}}", "{\"n\":null}"), 0);
}

TEST(cmp_arrays) {
    const char *d = "{\"v\":[1,\"x\",50]}";
    CHECK_EQ(M("{\"v\":{\"$gt\":40}}", d), 1);
    CHECK_EQ(M("{\"v\":{\"$gt\":50}}", d), 0);
    CHECK_EQ(M("{\"v\":{\"$lt\":2}}", d), 1);
    CHECK_EQ(M("{\"v\":{\"$gte\":\"x\"}}", d), 1);
    /* different elements may satisfy different operators (MongoDB too) */
    CHECK_EQ(M("{\"v\":{\"$gt\":40,\"$lt\":2}}", d), 1);
    CHECK_EQ(M("{\"v\":{\"$gt\":5}}", "{\"v\":[]}"), 0);
    CHECK_EQ(M("{\"v\":{\"$gt\":5}}", "{\"v\":[[9]]}"), 0);
}

/* ---- $ne $in $nin $exists ---- */

TEST(ne_in_nin) {
    CHECK_EQ(M("{\"a\":{\"$ne\":5}}", "{\"a\":4}"), 1);
    CHECK_EQ(M("{\"a\":{\"$ne\":5}}", "{\"a\":5}"), 0);
    CHECK_EQ(M("{\"a\":{\"$ne\":5}}", "{\"a\":5.0}"), 0);
    CHECK_EQ(M("{\"a\":{\"$ne\":5}}", "{}"), 1);
    CHECK_EQ(M("{\"a\":{\"$ne\":null}}", "{}"), 1);
    CHECK_EQ(M("{\"a\":{\"$ne\":null}}", "{\"a\":null}"), 0);
    CHECK_EQ(M("{\"t\":{\"$ne\":\"x\"}}", "{\"t\":[\"w\",\"x\"]}"), 0);
    CHECK_EQ(M("{\"t\":{\"$ne\":\"z\"}}", "{\"t\":[\"w\",\"x\"]}"), 1);

    CHECK_EQ(M("{\"a\":{\"$in\":[1,2,3]}}", "{\"a\":2}"), 1);
    CHECK_EQ(M("{\"a\":{\"$in\":[1,2,3]}}", "{\"a\":2e0}"), 1);
    CHECK_EQ(M("{\"a\":{\"$in\":[1,2,3]}}", "{\"a\":4}"), 0);
    CHECK_EQ(M("{\"a\":{\"$in\":[1,\"x\",null]}}", "{\"a\":null}"), 1);
    CHECK_EQ(M("{\"a\":{\"$in\":[1,\"x\",null]}}", "{}"), 0);
    CHECK_EQ(M("{\"a\":{\"$in\":[]}}", "{\"a\":1}"), 0);
    CHECK_EQ(M("{\"a\":{\"$in\":[[1,2]]}}", "{\"a\":[1,2]}"), 1);
    CHECK_EQ(M("{\"t\":{\"$in\":[\"q\",\"x\"]}}", "{\"t\":[\"w\",\"x\"]}"), 1);
    CHECK_EQ(M("{\"t\":{\"$in\":[\"q\"]}}", "{\"t\":[\"w\",\"x\"]}"), 0);

    CHECK_EQ(M("{\"a\":{\"$nin\":[1,2]}}", "{\"a\":3}"), 1);
    CHECK_EQ(M("{\"a\":{\"$nin\":[1,2]}}", "{\"a\":1}"), 0);
    CHECK_EQ(M("{\"a\":{\"$nin\":[1,2]}}", "{}"), 1);
    CHECK_EQ(M("{\"a\":{\"$nin\":[]}}", "{}"), 1);
    CHECK_EQ(M("{\"t\":{\"$nin\":[\"x\"]}}", "{\"t\":[\"w\",\"x\"]}"), 0);
}

TEST(exists) {
    CHECK_EQ(M("{\"a\":{\"$exists\":true}}", "{\"a\":1}"), 1);
    CHECK_EQ(M("{\"a\":{\"$exists\":true}}", "{\"a\":null}"), 1);
    CHECK_EQ(M("{\"a\":{\"$exists\":true}}", "{\"b\":1}"), 0);
    CHECK_EQ(M("{\"a\":{\"$exists\":false}}", "{\"b\":1}"), 1);
    CHECK_EQ(M("{\"a\":{\"$exists\":false}}", "{\"a\":null}"), 0);
    CHECK_EQ(M("{\"a.b\":{\"$exists\":true}}", "{\"a\":{\"b\":false}}"), 1);
    CHECK_EQ(M("{\"a.b\":{\"$exists\":true}}", "{\"a\":5}"), 0);
    CHECK_EQ(M("{\"a.b\":{\"$exists\":true}}",
               "{\"a\":[{\"c\":1},{\"b\":[]}]}"), 1);
    CHECK_EQ(M("{\"a.b\":{\"$exists\":false}}",
               "{\"a\":[{\"c\":1},{\"d\":[]}]}"), 1);
    CHECK_EQ(M("{\"t.3\":{\"$exists\":true}}", "{\"t\":[1,2,3]}"), 0);
    CHECK_EQ(M("{\"t.2\":{\"$exists\":true}}", "{\"t\":[1,2,3]}"), 1);
}

/* ---- paths ---- */

TEST(paths) {
    const char *d = "{\"a\":{\"b\":{\"c\":7}},\"tags\":[\"x\",\"y\"],"
                    "\"items\":[{\"name\":\"pen\",\"qty\":2},"
                    "{\"name\":\"ink\",\"qty\":10},5,[{\"name\":\"deep\"}]],"
                    "\"m\":{\"0\":\"zero\"},\"x.y\":1}";
    CHECK_EQ(M("{\"a.b.c\":7}", d), 1);
    CHECK_EQ(M("{\"a.b.c\":8}", d), 0);
    CHECK_EQ(M("{\"a.b\":{\"c\":7}}", d), 1);
    CHECK_EQ(M("{\"a.b.c.d\":7}", d), 0);
    CHECK_EQ(M("{\"a.x.c\":7}", d), 0);
    CHECK_EQ(M("{\"tags.0\":\"x\"}", d), 1);
    CHECK_EQ(M("{\"tags.1\":\"x\"}", d), 0);
    CHECK_EQ(M("{\"tags.1\":\"y\"}", d), 1);
    CHECK_EQ(M("{\"tags.2\":{\"$exists\":false}}", d), 1);
    CHECK_EQ(M("{\"tags.01\":\"y\"}", d), 0); /* not canonical: a key */
    CHECK_EQ(M("{\"items.name\":\"ink\"}", d), 1);
    CHECK_EQ(M("{\"items.name\":\"deep\"}", d), 0); /* nested array skipped */
    CHECK_EQ(M("{\"items.name\":\"cap\"}", d), 0);
    CHECK_EQ(M("{\"items.qty\":{\"$gt\":5}}", d), 1);
    CHECK_EQ(M("{\"items.qty\":{\"$gt\":50}}", d), 0);
    CHECK_EQ(M("{\"items.1.name\":\"ink\"}", d), 1);
    CHECK_EQ(M("{\"items.0.name\":\"ink\"}", d), 0);
    CHECK_EQ(M("{\"items.3.0.name\":\"deep\"}", d), 1);
    CHECK_EQ(M("{\"items.name\":{\"$ne\":\"ink\"}}", d), 0);
    CHECK_EQ(M("{\"items.name\":{\"$nin\":[\"cap\"]}}", d), 1);
    CHECK_EQ(M("{\"m.0\":\"zero\"}", d), 1); /* numeric key on an object */
    CHECK_EQ(M("{\"x.y\":1}", d), 0);        /* dots always split */
    CHECK_EQ(M("{\"tags.99999999999999999999\":1}", d), 0);
    /* arrays of arrays of objects through numeric + name segments */
    CHECK_EQ(M("{\"g.k\":3}", "{\"g\":[{\"k\":[1,2]},{\"k\":[3]}]}"), 1);
    CHECK_EQ(M("{\"g.k\":[3]}", "{\"g\":[{\"k\":[1,2]},{\"k\":[3]}]}"), 1);
    /* documents that are not objects never have fields */
    CHECK_EQ(M("{\"a\":1}", "[1]"), 0);
    CHECK_EQ(M("{\"a\":{\"$exists\":false}}", "7"), 1);
    CHECK_EQ(M("{}", "7"), 1);
}

/* ---- logic ---- */

TEST(logic) {
    const char *d = "{\"a\":1,\"b\":2,\"c\":\"x\"}";
    CHECK_EQ(M("{}", d), 1);
    CHECK_EQ(M("{\"a\":1,\"b\":2}", d), 1);
    CHECK_EQ(M("{\"a\":1,\"b\":3}", d), 0);
    CHECK_EQ(M("{\"$and\":[{\"a\":1},{\"b\":2}]}", d), 1);
    CHECK_EQ(M("{\"$and\":[{\"a\":1},{\"b\":3}]}", d), 0);
    CHECK_EQ(M("{\"$or\":[{\"a\":5},{\"b\":2}]}", d), 1);
    CHECK_EQ(M("{\"$or\":[{\"a\":5},{\"b\":3}]}", d), 0);
    CHECK_EQ(M("{\"$or\":[{}]}", d), 1);
    CHECK_EQ(M("{\"$not\":{\"a\":1}}", d), 0);
    CHECK_EQ(M("{\"$not\":{\"a\":2}}", d), 1);
    CHECK_EQ(M("{\"$not\":{}}", d), 0);
    CHECK_EQ(M("{\"$not\":{\"$or\":[{\"a\":5},{\"b\":3}]}}", d), 1);
    CHECK_EQ(M("{\"$or\":[{\"$and\":[{\"a\":1},{\"c\":\"y\"}]},"
               "{\"$not\":{\"b\":{\"$lt\":2}}}]}", d), 1);
    CHECK_EQ(M("{\"$or\":[{\"$and\":[{\"a\":1},{\"c\":\"y\"}]},"
               "{\"$not\":{\"b\":{\"$lte\":2}}}]}", d), 0);
    CHECK_EQ(M("{\"a\":1,\"$or\":[{\"b\":9},{\"c\":\"x\"}]}", d), 1);
    CHECK_EQ(M("{\"a\":2,\"$or\":[{\"b\":9},{\"c\":\"x\"}]}", d), 0);
    /* field-level $not, including on missing fields */
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$gt\":5}}}", d), 1);
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$lt\":5}}}", d), 0);
    CHECK_EQ(M("{\"z\":{\"$not\":{\"$gt\":5}}}", d), 1);
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$gt\":0,\"$lt\":2}}}", d), 0);
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$gt\":0,\"$lt\":1}}}", d), 1);
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$not\":{\"$eq\":1}}}}", d), 1);
    CHECK_EQ(M("{\"a\":{\"$not\":{\"$in\":[1,2]}},\"b\":2}", d), 0);
    CHECK_EQ(M("{\"a\":{\"$gte\":1,\"$not\":{\"$eq\":2}}}", d), 1);
    /* a repeated key is simply ANDed */
    CHECK_EQ(M("{\"a\":1,\"a\":2}", d), 0);
    CHECK_EQ(M("{\"a\":{\"$gt\":0},\"a\":{\"$lt\":2}}", d), 1);
}

/* ---- invalid filters ---- */

TEST(invalid_filters) {
    CHECK_BAD("{\"a\":{\"$foo\":1}}", "$foo", "\"a\"");
    CHECK_BAD("{\"$foo\":1}", "$foo");
    CHECK_BAD("{\"$nor\":[{\"a\":1}]}", "$nor");
    CHECK_BAD("{\"a\":{\"$in\":5}}", "$in", "\"a\"", "array");
    CHECK_BAD("{\"a\":{\"$nin\":{\"x\":1}}}", "$nin", "\"a\"");
    CHECK_BAD("{\"$and\":{\"a\":1}}", "$and");
    CHECK_BAD("{\"$and\":[]}", "$and", "non-empty");
    CHECK_BAD("{\"$or\":[]}", "$or");
    CHECK_BAD("{\"$or\":5}", "$or");
    CHECK_BAD("{\"$or\":[{\"a\":1},5]}", "$or", "element 1");
    CHECK_BAD("{\"$and\":[{\"a\":{\"$bad\":1}}]}", "$bad", "\"a\"");
    CHECK_BAD("{\"$not\":[{\"a\":1}]}", "$not");
    CHECK_BAD("{\"$not\":{\"$in\":[1]}}", "$in");
    CHECK_BAD("{\"a\":{\"$gt\":1,\"b\":2}}", "\"a\"", "\"b\"", "mixes");
    CHECK_BAD("{\"a\":{\"b\":2,\"$gt\":1}}", "\"a\"", "$gt", "\"b\"");
    CHECK_BAD("{\"a\":{\"$exists\":1}}", "$exists", "\"a\"");
    CHECK_BAD("{\"a\":{\"$exists\":\"yes\"}}", "$exists");
    CHECK_BAD("{\"a\":{\"$not\":5}}", "$not", "\"a\"");
    CHECK_BAD("{\"a\":{\"$not\":{}}}", "$not", "\"a\"");
    CHECK_BAD("{\"a\":{\"$not\":{\"b\":1}}}", "\"a\"", "\"b\"");
    CHECK_BAD("{\"a\":{\"$not\":{\"$zz\":1}}}", "$zz", "\"a\"");
    CHECK_BAD("{\"a\":{\"$gt\":[1]}}", "$gt", "\"a\"");
    CHECK_BAD("{\"a\":{\"$lte\":{}}}", "$lte", "\"a\"");
    CHECK_BAD("{\"a..b\":1}", "a..b");
    CHECK_BAD("{\".a\":1}", ".a");
    CHECK_BAD("{\"a.\":1}", "a.");
    CHECK_BAD("{\"\":1}", "empty field");
    CHECK_BAD("[1]", "object");
    CHECK_BAD("5", "object");
    CHECK_BAD("\"a\"", "object");
    /* malformed JSON: the byte offset is named */
    CHECK_BAD("{\"a\": }", "invalid JSON", "byte 6");
    CHECK_BAD("{\"a\":1", "invalid JSON", "byte 6");
    CHECK_BAD("{\"a\":1} x", "invalid JSON", "byte 8");
    CHECK_BAD("", "invalid JSON", "byte 0");
    /* long names are cut in messages, not overflowing anything */
    char big[3000];
    memset(big, 'k', sizeof big);
    memcpy(big, "{\"a\":{\"$", 8);
    memcpy(big + sizeof big - 6, "\":1}}", 6);
    CHECK_BAD(big, "unknown operator", "\"a\"");
}

/* the filter text need not outlive the filter, nor be NUL-terminated */
TEST(filter_owns_text) {
    char *txt = strdup("{\"name\":\"bob\",\"n\":{\"$gt\":12345678901234567890}}XX");
    zq_filter *f = NULL;
    CHECK_EQ(zq_filter_parse(&f, txt, strlen(txt) - 2), ZIPPY_OK);
    memset(txt, '#', strlen(txt));
    free(txt);
    zj_doc *d = zj_doc_new();
    zj_val *v;
    const char *doc = "{\"name\":\"bob\",\"n\":12345678901234567891}";
    CHECK_EQ(zj_parse(d, doc, strlen(doc), &v, NULL), ZIPPY_OK);
    int m = zq_filter_match(f, v);
    zj_doc_free(d);
    zq_filter_free(f);
    zq_filter_free(NULL);
    CHECK_EQ(m, 1);
}

/* ---- allocation accounting ---- */

static long a_live, a_count, a_fail_at;

static void *a_malloc(size_t n) {
    if (a_fail_at && ++a_count == a_fail_at) return NULL;
    if (!a_fail_at) a_count++;
    void *p = malloc(n);
    if (p) a_live++;
    return p;
}
static void *a_realloc(void *p, size_t n) {
    if (a_fail_at && ++a_count == a_fail_at) return NULL;
    if (!a_fail_at) a_count++;
    void *q = realloc(p, n);
    if (q && !p) a_live++;
    return q;
}
static void a_free(void *p) {
    if (p) a_live--;
    free(p);
}
static const zippy_allocator a_hooks = {a_malloc, a_realloc, a_free};

static void a_reset(long fail_at) {
    a_live = 0;
    a_count = 0;
    a_fail_at = fail_at;
}

TEST(match_does_not_allocate) {
    const char *flt = "{\"$or\":[{\"a.b\":{\"$in\":[1,2,[3]]}},"
                      "{\"t\":{\"$not\":{\"$gt\":\"m\"}}},"
                      "{\"items.q\":{\"$gte\":1e300,\"$ne\":null}}]}";
    const char *doc = "{\"a\":[{\"b\":[9,8]},{\"b\":7}],\"t\":\"z\","
                      "\"items\":[{\"q\":1},{\"q\":\"x\"}]}";
    zippy_set_allocator(&a_hooks);
    a_reset(0);
    zq_filter *f = NULL;
    zj_doc *d = zj_doc_new();
    zj_val *v = NULL;
    int rc = zq_filter_parse(&f, flt, strlen(flt));
    int rc2 = d ? zj_parse(d, doc, strlen(doc), &v, NULL) : -1;
    long before = a_count;
    int m = (rc || rc2) ? -1 : zq_filter_match(f, v);
    for (int i = 0; i < 1000 && m >= 0; i++) zq_filter_match(f, v);
    long after = a_count;
    zq_filter_free(f);
    zj_doc_free(d);
    long live = a_live;
    zippy_set_allocator(NULL);
    CHECK_EQ(rc, ZIPPY_OK);
    CHECK_EQ(rc2, ZIPPY_OK);
    CHECK_EQ(m, 0);
    CHECK_EQ(after, before);
    CHECK_EQ(live, 0);
}

TEST(filter_parse_nomem) {
    const char *flt = "{\"a.b.c\":{\"$gt\":1,\"$lt\":9},\"$or\":[{\"x\":1},"
                      "{\"y\":{\"$nin\":[1,2]}},{\"$not\":{\"z\":{\"$not\":"
                      "{\"$exists\":false}}}}],\"s\":\"text with \\\"esc\\\"\"}";
    int ok = 0;
    long n;
    for (n = 1; n < 10000 && !ok; n++) {
        zippy_set_allocator(&a_hooks);
        a_reset(n);
        zq_filter *f = NULL;
        int rc = zq_filter_parse(&f, flt, strlen(flt));
        if (rc == ZIPPY_OK) {
            ok = 1;
            zq_filter_free(f);
        }
        long live = a_live;
        zippy_set_allocator(NULL);
        if (!ok) {
            CHECKF(rc == ZIPPY_ENOMEM, "n=%ld rc=%d (%s)", n, rc,
                   zippy_errmsg());
            CHECK(f == NULL);
        }
        CHECKF(live == 0, "n=%ld leaked %ld", n, live);
    }
    CHECK(ok);
    CHECK(n > 2); /* some failures were exercised */
}

TEST(proj_nomem) {
    const char *fields = "name, address.city ,items.name,zz.y,a";
    const char *doc = "{\"_id\":\"k\",\"name\":\"N\",\"address\":{\"city\":"
                      "\"C\",\"zip\":1},\"items\":[{\"name\":\"p\"},{\"q\":1}],"
                      "\"a\":[1,2,{\"b\":\"long string value to force a "
                      "buffer growth past sixty-four bytes ......\"}]}";
    const char *want = "{\"_id\":\"k\",\"name\":\"N\",\"address\":{\"city\":"
                       "\"C\"},\"items\":[{\"name\":\"p\"}],\"a\":[1,2,{\"b\":"
                       "\"long string value to force a buffer growth past "
                       "sixty-four bytes ......\"}]}";
    int ok = 0;
    long n;
    /* parse */
    for (n = 1; n < 10000 && !ok; n++) {
        zippy_set_allocator(&a_hooks);
        a_reset(n);
        zq_proj *p = NULL;
        int rc = zq_proj_parse(&p, fields, strlen(fields));
        if (rc == ZIPPY_OK) {
            ok = 1;
            zq_proj_free(p);
        }
        long live = a_live;
        zippy_set_allocator(NULL);
        if (!ok) CHECKF(rc == ZIPPY_ENOMEM, "n=%ld rc=%d", n, rc);
        CHECKF(live == 0, "n=%ld leaked %ld", n, live);
    }
    CHECK(ok);
    /* apply (the projection and doc made with the normal allocator) */
    zq_proj *p = NULL;
    CHECK_EQ(zq_proj_parse(&p, fields, strlen(fields)), ZIPPY_OK);
    zj_doc *d = zj_doc_new();
    zj_val *v;
    CHECK_EQ(zj_parse(d, doc, strlen(doc), &v, NULL), ZIPPY_OK);
    ok = 0;
    int bad = 0;
    for (n = 1; n < 10000 && !ok && !bad; n++) {
        zippy_buf b = ZIPPY_BUF_INIT;
        zippy_set_allocator(&a_hooks);
        a_reset(n);
        int rc = zq_proj_apply(p, v, 1, &b);
        if (rc == ZIPPY_OK)
            ok = b.len == strlen(want) && memcmp(b.ptr, want, b.len) == 0
                     ? 1 : (bad = 2);
        else if (rc != ZIPPY_ENOMEM || b.len != 0)
            bad = 1;
        zippy_buf_free(&b);
        long live = a_live;
        zippy_set_allocator(NULL);
        if (live) bad = 3;
    }
    zj_doc_free(d);
    zq_proj_free(p);
    CHECK_EQ(bad, 0);
    CHECK(ok);
}

/* ---- projections ---- */

TEST(proj_basic) {
    const char *d = "{\"_id\":\"u1\",\"name\":\"Ann\",\"age\":30,"
                    "\"address\":{\"street\":\"Main\",\"city\":\"Oslo\","
                    "\"geo\":{\"lat\":1,\"lon\":2}}}";
    CHECK_STR(P("name", d, 0), "{\"name\":\"Ann\"}");
    CHECK_STR(P("name,address.city", d, 0),
              "{\"name\":\"Ann\",\"address\":{\"city\":\"Oslo\"}}");
    /* document order, not list order */
    CHECK_STR(P("address.city,name", d, 0),
              "{\"name\":\"Ann\",\"address\":{\"city\":\"Oslo\"}}");
    CHECK_STR(P("address.geo.lon,address.street", d, 0),
              "{\"address\":{\"street\":\"Main\",\"geo\":{\"lon\":2}}}");
    CHECK_STR(P("address", d, 0),
              "{\"address\":{\"street\":\"Main\",\"city\":\"Oslo\","
              "\"geo\":{\"lat\":1,\"lon\":2}}}");
    /* trimming around names */
    CHECK_STR(P("  name ,\tage\t", d, 0), "{\"name\":\"Ann\",\"age\":30}");
    /* missing paths are omitted (also the empty parent) */
    CHECK_STR(P("nope", d, 0), "{}");
    CHECK_STR(P("address.nope,age", d, 0), "{\"age\":30}");
    CHECK_STR(P("name.first", d, 0), "{}");
    CHECK_STR(P("address.geo.lat.x,age", d, 0), "{\"age\":30}");
    /* overlapping paths: the shorter one wins, in either order */
    CHECK_STR(P("address,address.city", d, 0),
              "{\"address\":{\"street\":\"Main\",\"city\":\"Oslo\","
              "\"geo\":{\"lat\":1,\"lon\":2}}}");
    CHECK_STR(P("address.geo.lat,address.geo,name", d, 0),
              "{\"name\":\"Ann\",\"address\":{\"geo\":{\"lat\":1,\"lon\":2}}}");
    CHECK_STR(P("age,age", d, 0), "{\"age\":30}");
    /* appends to what is already in the buffer */
    zq_proj *p = NULL;
    CHECK_EQ(zq_proj_parse(&p, "age", 3), ZIPPY_OK);
    zj_doc *doc = zj_doc_new();
    zj_val *v;
    CHECK_EQ(zj_parse(doc, d, strlen(d), &v, NULL), ZIPPY_OK);
    zippy_buf b = ZIPPY_BUF_INIT;
    zb_append(&b, "X", 1);
    int rc = zq_proj_apply(p, v, 0, &b);
    zj_doc_free(doc);
    zq_proj_free(p);
    zq_proj_free(NULL);
    CHECK_EQ(rc, ZIPPY_OK);
    CHECK_MEM(b.ptr, b.len, "X{\"age\":30}");
    zippy_buf_free(&b);
}

TEST(proj_with_id) {
    const char *d = "{\"name\":\"Ann\",\"_id\":\"u1\",\"age\":30}";
    CHECK_STR(P("age", d, 1), "{\"_id\":\"u1\",\"age\":30}");
    CHECK_STR(P("age", d, 0), "{\"age\":30}");
    CHECK_STR(P("age,_id", d, 0), "{\"_id\":\"u1\",\"age\":30}");
    CHECK_STR(P("name,_id", d, 0), "{\"name\":\"Ann\",\"_id\":\"u1\"}");
    CHECK_STR(P("name,_id", d, 1), "{\"_id\":\"u1\",\"name\":\"Ann\"}");
    CHECK_STR(P("nope", d, 1), "{\"_id\":\"u1\"}");
    CHECK_STR(P("age", "{\"age\":1}", 1), "{\"age\":1}");
    CHECK_STR(P("age", "[1,2]", 1), "{}");
}

TEST(proj_arrays) {
    const char *d = "{\"items\":[{\"name\":\"pen\",\"qty\":2},{\"qty\":3},"
                    "7,{\"name\":\"ink\"},[{\"name\":\"deep\"}]],"
                    "\"tags\":[\"a\",\"b\"],\"e\":[]}";
    CHECK_STR(P("items.name", d, 0),
              "{\"items\":[{\"name\":\"pen\"},{\"name\":\"ink\"}]}");
    CHECK_STR(P("items.qty,items.name", d, 0),
              "{\"items\":[{\"name\":\"pen\",\"qty\":2},{\"qty\":3},"
              "{\"name\":\"ink\"}]}");
    CHECK_STR(P("items.zz", d, 0), "{}");
    CHECK_STR(P("tags", d, 0), "{\"tags\":[\"a\",\"b\"]}");
    CHECK_STR(P("tags.0", d, 0), "{}"); /* no array indexing */
    CHECK_STR(P("e", d, 0), "{\"e\":[]}");
    CHECK_STR(P("e.x", d, 0), "{}");
    CHECK_STR(P("g.h.i", "{\"g\":[{\"h\":[{\"i\":1},{\"j\":2}]},{\"h\":5}]}",
                0),
              "{\"g\":[{\"h\":[{\"i\":1}]}]}");
}

TEST(proj_keys_and_dups) {
    /* keys are compared decoded and written re-escaped */
    CHECK_STR(P("a\"b,caf\xc3\xa9",
                "{\"a\\\"b\":1,\"caf\\u00e9\":2,\"x\":3}", 0),
              "{\"a\\\"b\":1,\"caf\xc3\xa9\":2}");
    /* duplicate keys in the document are each kept */
    CHECK_STR(P("a", "{\"a\":1,\"b\":2,\"a\":3}", 0), "{\"a\":1,\"a\":3}");
    /* names may contain spaces inside */
    CHECK_STR(P(" first name ", "{\"first name\":\"Al\"}", 0),
              "{\"first name\":\"Al\"}");
    /* numbers and strings keep their exact text */
    CHECK_STR(P("n,s", "{\"n\":1.50e+10,\"s\":\"\\u00e9\\n\"}", 0),
              "{\"n\":1.50e+10,\"s\":\"\xc3\xa9\\n\"}");
}

TEST(proj_invalid) {
    const char *bad[] = {"", ",", "a,", ",a", "a,,b", "a..b", ".a", "a.",
                         " ", " , ", "a, ,b", "a.b.", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zq_proj *p = NULL;
        z_err_clear();
        int rc = zq_proj_parse(&p, bad[i], strlen(bad[i]));
        CHECKF(rc == ZIPPY_EINVAL, "\"%s\" -> %d", bad[i], rc);
        CHECK(p == NULL);
        CHECKF(strstr(zippy_errmsg(), "empty") != NULL, "\"%s\": %s", bad[i],
               zippy_errmsg());
    }
    zq_proj *p = NULL;
    CHECK_EQ(zq_proj_parse(&p, "a..b", 4), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "a..b") != NULL);
    CHECK_EQ(zq_proj_parse(&p, "x, ,y", 5), ZIPPY_EINVAL);
    CHECK(strstr(zippy_errmsg(), "byte 2") != NULL);
}

/* A larger randomized cross-check: $not F == !F, $or [F, $not F] == 1. */
TEST(negation_consistency) {
    const char *filters[] = {
        "{\"a\":1}", "{\"a\":{\"$gt\":0}}", "{\"a.b\":{\"$in\":[1,\"x\"]}}",
        "{\"t\":\"x\",\"a\":{\"$exists\":true}}", "{\"a\":{\"$ne\":null}}",
        "{\"$or\":[{\"a\":{\"$lt\":1}},{\"t.1\":\"y\"}]}",
        "{\"a\":{\"$not\":{\"$gte\":1}}}"};
    const char *docs[] = {
        "{}", "{\"a\":1}", "{\"a\":0}", "{\"a\":null}",
        "{\"a\":[{\"b\":1},{\"b\":2}]}", "{\"a\":{\"b\":\"x\"},\"t\":[\"x\",\"y\"]}",
        "{\"t\":\"x\",\"a\":[]}", "{\"a\":\"1\"}"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        char neg[512], taut[1024];
        snprintf(neg, sizeof neg, "{\"$not\":%s}", filters[i]);
        snprintf(taut, sizeof taut, "{\"$or\":[%s,%s]}", filters[i], neg);
        for (size_t j = 0; j < sizeof docs / sizeof docs[0]; j++) {
            int m = M(filters[i], docs[j]);
            CHECKF(m == 0 || m == 1, "%s on %s: %d", filters[i], docs[j], m);
            CHECKF(M(neg, docs[j]) == !m, "%s on %s", neg, docs[j]);
            CHECK_EQ(M(taut, docs[j]), 1);
        }
    }
}

int main(void) {
    RUN(eq_scalars);
    RUN(eq_numbers_exact);
    RUN(num_cmp_consistent);
    RUN(eq_objects_and_arrays);
    RUN(cmp_numbers);
    RUN(cmp_type_mismatch);
    RUN(cmp_strings_bools_null);
    RUN(cmp_arrays);
    RUN(ne_in_nin);
    RUN(exists);
    RUN(paths);
    RUN(logic);
    RUN(invalid_filters);
    RUN(filter_owns_text);
    RUN(match_does_not_allocate);
    RUN(filter_parse_nomem);
    RUN(proj_nomem);
    RUN(proj_basic);
    RUN(proj_with_id);
    RUN(proj_arrays);
    RUN(proj_keys_and_dups);
    RUN(proj_invalid);
    RUN(negation_consistency);
    TEST_END();
}
