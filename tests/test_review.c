/* test_review.c - regressions for defects found in code review: fork
 * safety, compaction and reindex over damaged lines, scans that outlive
 * their handle. */
#include <errno.h>
#include <sys/wait.h>

#include "os.h"
#include "test.h"
#include "zippy.h"

static char *g_dir;

static int open_rw(zippy_root **r, zippy_coll **c) {
    int rc = zippy_root_open(r, g_dir, NULL);
    if (rc) return rc;
    rc = zippy_coll_open(c, *r, "c", NULL);
    if (rc) zippy_root_close(*r);
    return rc;
}

static int put(zippy_coll *c, const char *id, const char *doc) {
    return zippy_put(c, id, strlen(id), doc, strlen(doc));
}

static char *data_path(void) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/collections/c/meta/data.jsonl", g_dir);
    return p;
}

/* Replaces the first occurrence of from by to (same length) in the log. */
static int damage(const char *from, const char *to) {
    size_t n;
    char *d = t_read_file(data_path(), &n);
    if (!d) return -1;
    char *at = strstr(d, from);
    if (!at) { free(d); return -1; }
    memcpy(at, to, strlen(to));
    int rc = t_write_file(data_path(), d, n);
    free(d);
    return rc;
}

/* A child of a process that holds the writer must not share its engine. */
TEST(test_fork_child_does_not_share_the_writer) {
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(&r, &c), 0);
    CHECK_EQ(put(c, "a", "{\"v\":1}"), 0);
    CHECK_EQ(zippy_coll_flush(c), 0);
    pid_t pid = fork();
    if (pid == 0) {
        zippy_root *r2;
        zippy_coll *c2;
        int rc = open_rw(&r2, &c2);
        _exit(rc == ZIPPY_ELOCKED && strstr(zippy_errmsg(), "locked by pid") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's writable open was not refused with ELOCKED");
    CHECK_EQ(put(c, "b", "{\"v\":2}"), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    CHECK_EQ(open_rw(&r, &c), 0);
    uint64_t n = 0;
    zippy_count(c, &n);
    CHECK_EQ(n, 3); /* a, b and the earlier test's nothing: set up below */
    zippy_coll_close(c);
    zippy_root_close(r);
}

/* A live line whose id bytes were damaged must stop compaction. */
TEST(test_compact_refuses_to_drop_a_damaged_line) {
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(&r, &c), 0);
    CHECK_EQ(put(c, "q1", "{\"v\":1}"), 0);
    CHECK_EQ(put(c, "q2", "{\"v\":2}"), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    CHECK_EQ(damage("\"_id\":\"q1\"", "\"_id\":\"q9\""), 0);
    CHECK_EQ(open_rw(&r, &c), 0);
    uint64_t before = 0, after = 0;
    zippy_count(c, &before);
    int rc = zippy_coll_compact(c);
    CHECKF(rc == ZIPPY_ECORRUPT, "compact returned %d (%s)", rc, zippy_errmsg());
    zippy_count(c, &after);
    CHECK_EQ(before, after);
    zippy_buf b = ZIPPY_BUF_INIT;
    CHECK_EQ(zippy_get(c, "q1", 2, 0, &b), ZIPPY_ECORRUPT);
    zippy_buf_free(&b);
    zippy_coll_close(c);
    zippy_root_close(r);
    CHECK_EQ(damage("\"_id\":\"q9\"", "\"_id\":\"q1\""), 0); /* repair for the next test */
}

/* A reindex that meets an invalid last line keeps the previous state. */
TEST(test_failed_reindex_keeps_state) {
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(&r, &c), 0);
    CHECK_EQ(put(c, "z1", "{\"v\":1}"), 0);
    CHECK_EQ(put(c, "z2", "{\"last\":true}"), 0);
    CHECK_EQ(zippy_coll_flush(c), 0);
    uint64_t before = 0, after = 0;
    zippy_count(c, &before);
    CHECK_EQ(damage("\"last\":true}", "\"last\":tru}}"), 0);
    int rc = zippy_coll_reindex(c);
    CHECKF(rc == ZIPPY_ECORRUPT, "reindex returned %d", rc);
    zippy_count(c, &after);
    CHECK_EQ(before, after);
    zippy_coll_close(c);
    zippy_root_close(r);
    CHECK_EQ(damage("\"last\":tru}}", "\"last\":true}"), 0);
}

/* A scan keeps working after its collection handle was closed. */
TEST(test_scan_outlives_its_handle) {
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(&r, &c), 0);
    zippy_scan *s;
    CHECK_EQ(zippy_scan_open(&s, c, NULL), 0);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
    int k, rows = 0;
    const char *id, *doc;
    size_t il, dl;
    while ((k = zippy_scan_next(s, &id, &il, &doc, &dl)) == 1) rows++;
    zippy_scan_close(s);
    CHECK_EQ(k, 0);
    CHECK(rows > 0);
}

/* After a failed fdatasync the unsynced range is written again before the
 * next fdatasync is trusted (Linux may have marked the pages clean). */
TEST(test_sync_failure_rewrites_before_retry) {
    zippy_root *r;
    zippy_coll *c;
    CHECK_EQ(open_rw(&r, &c), 0);
    CHECK_EQ(put(c, "s1", "{\"v\":1}"), 0);
    zos_fault_set(ZOS_OP_FSYNC, 1, EIO, 0);
    int rc = zippy_coll_flush(c);
    zos_fault_clear();
    CHECKF(rc == ZIPPY_EIO, "flush with a failing fdatasync returned %d", rc);
    unsigned long writes = zos_op_count(ZOS_OP_WRITE), reads = zos_op_count(ZOS_OP_READ);
    CHECK_EQ(zippy_coll_flush(c), 0);
    CHECK(zos_op_count(ZOS_OP_WRITE) > writes && zos_op_count(ZOS_OP_READ) > reads);
    /* once good again, no more rewriting */
    writes = zos_op_count(ZOS_OP_WRITE);
    CHECK_EQ(put(c, "s2", "{\"v\":2}"), 0);
    CHECK_EQ(zippy_coll_flush(c), 0);
    CHECK_EQ(zos_op_count(ZOS_OP_WRITE), writes + 1);
    CHECK_EQ(zippy_coll_close(c), 0);
    zippy_root_close(r);
}

/* Closing the last writable handle gives the writer lock back even while
 * a read-only handle of the same collection stays open. */
TEST(test_writer_lock_released_with_last_writable_handle) {
    zippy_root *r;
    zippy_coll *ro, *rw;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ZIPPY_OPEN_READONLY;
    CHECK_EQ(zippy_root_open(&r, g_dir, NULL), 0);
    CHECK_EQ(zippy_coll_open(&ro, r, "c", &o), 0);
    CHECK_EQ(zippy_coll_open(&rw, r, "c", NULL), 0);
    CHECK_EQ(put(rw, "w1", "{}"), 0);
    CHECK_EQ(zippy_coll_close(rw), 0);
    pid_t pid = fork();
    if (pid == 0) {
        zippy_root *r2;
        zippy_coll *c2;
        int rc = open_rw(&r2, &c2);
        if (rc == 0) rc = put(c2, "w2", "{}");
        if (rc == 0) rc = zippy_coll_close(c2);
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process could not write after the writer closed");
    CHECK_EQ(zippy_coll_refresh(ro), 0);
    CHECK_EQ(zippy_exists(ro, "w2", 2), 1);
    CHECK_EQ(zippy_exists(ro, "w1", 2), 1);
    zippy_coll_close(ro);
    zippy_root_close(r);
}

/* Letters of any script include their combining marks (vowel signs,
 * viramas, accents), but an id does not start with one. */
TEST(test_ids_with_combining_marks) {
    CHECK_EQ(zippy_id_valid("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80", 18), 0);
    CHECK_EQ(zippy_id_valid("e\xCC\x81", 3), 0);
    CHECK_EQ(zippy_id_valid("\xCC\x81" "abc", 5), ZIPPY_EINVAL);
    CHECK_EQ(zippy_id_valid("a\xF0\x9F\x98\x80", 5), ZIPPY_EINVAL);
}

int main(void) {
    g_dir = t_tmpdir();
    {
        /* one document so that the fork test counts a, b and this one */
        zippy_root *r;
        zippy_coll *c;
        if (open_rw(&r, &c) || put(c, "seed", "{}") || zippy_coll_close(c)) return 2;
        zippy_root_close(r);
    }
    RUN(test_fork_child_does_not_share_the_writer);
    RUN(test_compact_refuses_to_drop_a_damaged_line);
    RUN(test_failed_reindex_keeps_state);
    RUN(test_scan_outlives_its_handle);
    RUN(test_sync_failure_rewrites_before_retry);
    RUN(test_writer_lock_released_with_last_writable_handle);
    RUN(test_ids_with_combining_marks);
    t_rm_rf(g_dir);
    free(g_dir);
    TEST_END();
}
