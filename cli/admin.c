/* admin.c - store and maintenance commands: init, list, info, stats,
 * compact, reindex, verify, pack, unpack.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define PL(n) ((n) == 1 ? "" : "s")

static const char *layout_name(int l);

/* ------------------------------------------------------------------ */
/* init                                                                */
/* ------------------------------------------------------------------ */

int cmd_init(const cli_command *cmd, cli_args *a) {
    const char *path = a->pos[0];
    zippy_root *root = NULL;
    zippy_options ro = ZIPPY_OPTIONS_INIT;
    ro.flags = ZIPPY_OPEN_READONLY;
    int existed = 0;
    if (zippy_root_open(&root, path, &ro) == ZIPPY_OK) {
        existed = 1;
        zippy_root_close(root);
        root = NULL;
    } else if (zippy_errcode() != ZIPPY_ENOTFOUND) {
        return cli_fail(cmd, path);
    }
    int rc = open_root(cmd, path, 2, &root);
    if (rc) return rc;
    if ((a->seen & (OPT_NAME | OPT_DESCRIPTION)) &&
        zippy_root_set_info(root, a->name, a->description) != ZIPPY_OK)
        rc = cli_fail(cmd, path);
    int coll_existed = 0;
    if (rc == EXIT_OK && (a->seen & OPT_COLLECTION)) {
        int h = zippy_root_has(root, a->collection);
        coll_existed = h == 1;
        zippy_coll *c = NULL;
        zippy_options co = ZIPPY_OPTIONS_INIT;
        zippy_stats st;
        co.strict = (a->seen & OPT_STRICT) != 0;
        co.layout = (zippy_layout)a->layout;
        if (zippy_coll_open(&c, root, a->collection, &co) != ZIPPY_OK)
            rc = cli_fail(cmd, a->collection);
        else if (a->layout != ZIPPY_LAYOUT_DEFAULT && zippy_coll_stats(c, &st) == ZIPPY_OK &&
                 st.layout != a->layout)
            rc = cli_error(cmd, "collection %s already exists with the %s layout (not %s)", a->collection,
                           layout_name(st.layout), layout_name(a->layout));
        if (c && zippy_coll_close(c) != ZIPPY_OK && rc == EXIT_OK)
            rc = cli_fail(cmd, a->collection);
    }
    zippy_root_close(root);
    if (rc) return rc;
    if (existed) cli_note(a, "store %s already exists", path);
    else cli_note(a, "initialized store %s", path);
    if (a->seen & OPT_COLLECTION) {
        if (coll_existed) cli_note(a, "collection %s already exists", a->collection);
        else cli_note(a, "created collection %s", a->collection);
    }
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* list / info                                                         */
/* ------------------------------------------------------------------ */

int cmd_list(const cli_command *cmd, cli_args *a) {
    zippy_root *root;
    int rc = open_root(cmd, a->pos[0], 0, &root);
    if (rc) return rc;
    char **names = NULL;
    if (zippy_root_list(root, &names, NULL) != ZIPPY_OK) {
        rc = cli_fail(cmd, a->pos[0]);
    } else {
        /* A collection that cannot be opened is reported; the others are
         * still listed. */
        for (char **p = names; *p; p++) {
            zippy_options o = ZIPPY_OPTIONS_INIT;
            o.flags = ZIPPY_OPEN_READONLY;
            zippy_coll *c = NULL;
            uint64_t n = 0;
            if (zippy_coll_open(&c, root, *p, &o) != ZIPPY_OK ||
                zippy_count(c, &n) != ZIPPY_OK) {
                int frc = cli_fail(cmd, *p);
                if (rc == EXIT_OK) rc = frc;
            } else
                printf("%s\t%llu\n", *p, (unsigned long long)n);
            zippy_coll_close(c);
        }
    }
    zippy_strv_free(names);
    zippy_root_close(root);
    return cli_finish_stdout(cmd, rc);
}

int cmd_info(const cli_command *cmd, cli_args *a) {
    zippy_root *root;
    int rc = open_root(cmd, a->pos[0], 0, &root);
    if (rc) return rc;
    zippy_buf b = ZIPPY_BUF_INIT;
    if (zippy_root_info_json(root, &b) != ZIPPY_OK) {
        rc = cli_fail(cmd, a->pos[0]);
    } else {
        size_t n = b.len;
        while (n > 0 && (b.ptr[n - 1] == '\n' || b.ptr[n - 1] == ' ')) n--;
        if (a->seen & OPT_PRETTY) out_pretty(stdout, b.ptr, n);
        else out_bytes(stdout, b.ptr, n);
        putchar('\n');
    }
    zippy_buf_free(&b);
    zippy_root_close(root);
    return cli_finish_stdout(cmd, rc);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */
/* ------------------------------------------------------------------ */

static const char *layout_name(int l) {
    return l == ZIPPY_LAYOUT_JSONL ? "jsonl" : l == ZIPPY_LAYOUT_FILES ? "files"
                                                                        : "default";
}

/* Distinct document schemas of a collection, counted. */
typedef struct schema_count {
    char *text;
    uint64_t n;
} schema_count;
typedef struct schema_tally {
    schema_count *v; /* open addressing, cap a power of two */
    size_t cap, used;
} schema_tally;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int tally_add(schema_tally *t, const char *s, size_t n) {
    if ((t->used + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        schema_count *nv = calloc(ncap, sizeof *nv);
        if (!nv) return -1;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i].text) continue;
            size_t j = fnv1a(t->v[i].text, strlen(t->v[i].text)) & (ncap - 1);
            while (nv[j].text) j = (j + 1) & (ncap - 1);
            nv[j] = t->v[i];
        }
        free(t->v);
        t->v = nv;
        t->cap = ncap;
    }
    size_t j = fnv1a(s, n) & (t->cap - 1);
    while (t->v[j].text && (strlen(t->v[j].text) != n || memcmp(t->v[j].text, s, n))) j = (j + 1) & (t->cap - 1);
    if (!t->v[j].text) {
        if (!(t->v[j].text = strndup(s, n))) return -1;
        t->used++;
    }
    t->v[j].n++;
    return 0;
}

static int by_count_desc(const void *a, const void *b) {
    const schema_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return strcmp(x->text, y->text);
}

/* Counts the schemas of every document; on success t->v is compacted and
 * sorted by count (t->used entries). */
static int tally_schemas(zippy_coll *c, schema_tally *t) {
    zippy_scan *s;
    zippy_buf sch = ZIPPY_BUF_INIT;
    const char *doc;
    size_t dl;
    int r;
    if (zippy_scan_open(&s, c, NULL) != ZIPPY_OK) return -1;
    while ((r = zippy_scan_next(s, NULL, NULL, &doc, &dl)) == 1) {
        if (zippy_schema_of(doc, dl, &sch) != ZIPPY_OK) break;
        if (tally_add(t, sch.ptr, sch.len)) {
            r = -1;
            break;
        }
    }
    zippy_scan_close(s);
    zippy_buf_free(&sch);
    if (r != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].text) t->v[k++] = t->v[i];
    for (size_t i = k; i < t->cap; i++) t->v[i].text = NULL;
    if (k) qsort(t->v, k, sizeof *t->v, by_count_desc);
    return 0;
}

#define STATS_SCHEMAS_SHOWN 10

int cmd_stats(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    schema_tally t = {NULL, 0, 0};
    zippy_buf schema = ZIPPY_BUF_INIT;
    int has_schema = 0;
    int rc = open_store(cmd, a, &s, 0, NULL);
    if (rc) return rc;
    zippy_stats st;
    if (zippy_coll_stats(s.coll, &st) != ZIPPY_OK) {
        rc = cli_fail(cmd, a->collection);
        goto cleanup;
    }
    if (st.strict) {
        has_schema = zippy_coll_schema(s.coll, &schema) == ZIPPY_OK;
    } else if (tally_schemas(s.coll, &t)) {
        rc = cli_fail(cmd, a->collection);
        goto cleanup;
    }
    unsigned long long dead_lines = st.log_lines > st.count ? st.log_lines - st.count : 0;
    unsigned long long dead_bytes =
        st.log_bytes > st.live_bytes ? st.log_bytes - st.live_bytes : 0;
    size_t shown = t.used < STATS_SCHEMAS_SHOWN ? t.used : STATS_SCHEMAS_SHOWN;
    if (a->seen & OPT_JSON) {
        fputs("{\"collection\":", stdout);
        out_json_string(stdout, a->collection, strlen(a->collection));
        printf(",\"count\":%llu,\"log_bytes\":%llu,\"live_bytes\":%llu,"
               "\"dead_bytes\":%llu,\"log_lines\":%llu,\"dead_lines\":%llu,"
               "\"index_bytes\":%llu,\"indexed_bytes\":%llu,\"layout\":\"%s\","
               "\"strict\":%s,\"legacy\":%s",
               (unsigned long long)st.count, (unsigned long long)st.log_bytes,
               (unsigned long long)st.live_bytes, dead_bytes,
               (unsigned long long)st.log_lines, dead_lines,
               (unsigned long long)st.index_bytes,
               (unsigned long long)st.indexed_bytes, layout_name(st.layout),
               st.strict ? "true" : "false", st.legacy ? "true" : "false");
        if (st.strict) {
            printf(",\"schema\":%s}\n", has_schema ? schema.ptr : "null");
        } else {
            printf(",\"schema_count\":%zu,\"schemas\":[", t.used);
            for (size_t i = 0; i < shown; i++)
                printf("%s{\"count\":%llu,\"schema\":%s}", i ? "," : "", (unsigned long long)t.v[i].n,
                       t.v[i].text);
            fputs("]}\n", stdout);
        }
    } else {
        printf("collection:    %s\n"
               "documents:     %llu\n"
               "log bytes:     %llu\n"
               "live bytes:    %llu\n"
               "dead bytes:    %llu\n"
               "log lines:     %llu\n"
               "dead lines:    %llu\n"
               "index bytes:   %llu\n"
               "indexed bytes: %llu\n"
               "layout:        %s\n"
               "strict:        %s\n"
               "legacy format: %s\n",
               a->collection, (unsigned long long)st.count,
               (unsigned long long)st.log_bytes, (unsigned long long)st.live_bytes,
               dead_bytes, (unsigned long long)st.log_lines, dead_lines,
               (unsigned long long)st.index_bytes,
               (unsigned long long)st.indexed_bytes, layout_name(st.layout),
               st.strict ? "yes" : "no", st.legacy ? "yes" : "no");
        if (st.strict) {
            printf("schema:        %s\n", has_schema ? schema.ptr : "(none yet)");
        } else {
            printf("schemas:       %zu\n", t.used);
            for (size_t i = 0; i < shown; i++)
                printf("  %10llu  %s\n", (unsigned long long)t.v[i].n, t.v[i].text);
            if (t.used > shown) printf("  ... %zu more\n", t.used - shown);
        }
    }
cleanup:
    for (size_t i = 0; i < t.cap; i++) free(t.v ? t.v[i].text : NULL);
    free(t.v);
    zippy_buf_free(&schema);
    return close_store(cmd, &s, rc);
}

/* ------------------------------------------------------------------ */
/* compact / reindex                                                   */
/* ------------------------------------------------------------------ */

int cmd_compact(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc = open_store(cmd, a, &s, 1, "compact");
    if (rc) return rc;
    zippy_stats before, after;
    int have = zippy_coll_stats(s.coll, &before) == ZIPPY_OK;
    if (zippy_coll_compact(s.coll) != ZIPPY_OK)
        return close_store(cmd, &s, cli_fail(cmd, a->collection));
    progress_end(&s.prog, 1);
    have = have && zippy_coll_stats(s.coll, &after) == ZIPPY_OK;
    rc = close_store(cmd, &s, rc);
    if (rc == EXIT_OK) {
        if (have)
            cli_note(a, "compacted %s: %llu document%s, log %llu -> %llu bytes",
                     a->collection, (unsigned long long)after.count,
                     PL(after.count),
                     (unsigned long long)before.log_bytes,
                     (unsigned long long)after.log_bytes);
        else
            cli_note(a, "compacted %s", a->collection);
    }
    return rc;
}

int cmd_convert(const cli_command *cmd, cli_args *a) {
    if (!(a->seen & OPT_LAYOUT) || a->layout == ZIPPY_LAYOUT_DEFAULT)
        return cli_usage_error(cmd, "say which layout: --to files or --to jsonl");
    zippy_root *root;
    struct stat sb;
    if (stat(a->pos[0], &sb) == 0 && S_ISREG(sb.st_mode)) /* a .zds opened in place */
        return cli_error(cmd, "store %s is an archive opened in place: read-only", a->pos[0]);
    int rc = open_root(cmd, a->pos[0], 1, &root);
    if (rc) return rc;
    const char *to = a->layout == ZIPPY_LAYOUT_FILES ? "files" : "jsonl";
    if (zippy_coll_convert(root, a->collection, (zippy_layout)a->layout, NULL, NULL) != ZIPPY_OK)
        rc = cli_fail(cmd, a->collection);
    zippy_root_close(root);
    if (rc == EXIT_OK) cli_note(a, "collection %s now uses the %s layout", a->collection, to);
    return rc;
}

int cmd_reindex(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc = open_store(cmd, a, &s, 1, "reindex");
    if (rc) return rc;
    if (zippy_coll_reindex(s.coll) != ZIPPY_OK)
        return close_store(cmd, &s, cli_fail(cmd, a->collection));
    progress_end(&s.prog, 1);
    uint64_t n = 0;
    int have = zippy_count(s.coll, &n) == ZIPPY_OK;
    rc = close_store(cmd, &s, rc);
    if (rc == EXIT_OK) {
        if (have)
            cli_note(a, "reindexed %s: %llu document%s", a->collection,
                     (unsigned long long)n, PL(n));
        else
            cli_note(a, "reindexed %s", a->collection);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* verify                                                              */
/* ------------------------------------------------------------------ */

/* Verifies one collection; prints its result line. */
static int verify_one(const cli_command *cmd, cli_args *a, zippy_root *root,
                      const char *name) {
    progress prog;
    progress_init(&prog, "verify", (a->seen & OPT_QUIET) != 0);
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = ZIPPY_OPEN_READONLY;
    if (prog.enabled) {
        o.progress = progress_cb;
        o.progress_ctx = &prog;
    }
    zippy_coll *c = NULL;
    if (zippy_coll_open(&c, root, name, &o) != ZIPPY_OK) {
        progress_end(&prog, 0);
        printf("%s: ERROR (cannot open)\n", name);
        return cli_fail(cmd, name);
    }
    zippy_verify_report r;
    memset(&r, 0, sizeof r);
    int v = zippy_coll_verify(c, &r);
    progress_end(&prog, 0);
    int rc = EXIT_OK;
    if (v == ZIPPY_OK) {
        printf("%s: ok (%llu line%s, %llu document%s)\n", name,
               (unsigned long long)r.lines, PL(r.lines),
               (unsigned long long)r.live, PL(r.live));
    } else if (v == ZIPPY_ECORRUPT) {
        printf("%s: CORRUPT (%llu line%s, %llu document%s, %llu bad line%s, "
               "%llu index error%s, first problem at byte %llu)\n",
               name, (unsigned long long)r.lines, PL(r.lines),
               (unsigned long long)r.live, PL(r.live),
               (unsigned long long)r.bad_lines, PL(r.bad_lines),
               (unsigned long long)r.index_errors, PL(r.index_errors),
               (unsigned long long)r.first_bad_offset);
        rc = cli_fail(cmd, name);
    } else {
        printf("%s: ERROR (verify failed)\n", name);
        rc = cli_fail(cmd, name);
    }
    zippy_coll_close(c);
    return rc;
}

int cmd_verify(const cli_command *cmd, cli_args *a) {
    zippy_root *root;
    int rc = open_root(cmd, a->pos[0], 0, &root);
    if (rc) return rc;
    if (a->seen & OPT_COLLECTION) {
        rc = verify_one(cmd, a, root, a->collection);
    } else {
        char **names = NULL;
        if (zippy_root_list(root, &names, NULL) != ZIPPY_OK) {
            rc = cli_fail(cmd, a->pos[0]);
        } else {
            if (!names[0]) cli_note(a, "store %s has no collections", a->pos[0]);
            for (char **p = names; *p; p++) {
                int r = verify_one(cmd, a, root, *p);
                if (r && !rc) rc = r;
                fflush(stdout);
            }
        }
        zippy_strv_free(names);
    }
    zippy_root_close(root);
    return cli_finish_stdout(cmd, rc);
}

/* ------------------------------------------------------------------ */
/* pack / unpack                                                       */
/* ------------------------------------------------------------------ */

int cmd_pack(const cli_command *cmd, cli_args *a) {
    progress prog;
    progress_init(&prog, "pack", (a->seen & OPT_QUIET) != 0);
    unsigned fl = (a->seen & OPT_DEFLATE) ? ZIPPY_PACK_DEFLATE : 0;
    int r = zippy_pack(a->pos[0], a->pos[1], fl, prog.enabled ? progress_cb : NULL,
                       prog.enabled ? &prog : NULL);
    progress_end(&prog, r == ZIPPY_OK);
    if (r != ZIPPY_OK) return cli_fail(cmd, NULL);
    cli_note(a, "packed %s into %s", a->pos[0], a->pos[1]);
    return EXIT_OK;
}

int cmd_unpack(const cli_command *cmd, cli_args *a) {
    progress prog;
    progress_init(&prog, "unpack", (a->seen & OPT_QUIET) != 0);
    int r = zippy_unpack(a->pos[0], a->pos[1], prog.enabled ? progress_cb : NULL,
                         prog.enabled ? &prog : NULL);
    progress_end(&prog, r == ZIPPY_OK);
    if (r != ZIPPY_OK) return cli_fail(cmd, NULL);
    cli_note(a, "unpacked %s into %s", a->pos[0], a->pos[1]);
    return EXIT_OK;
}
