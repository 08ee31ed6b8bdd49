/* docs.c - document commands: put, get, delete, exists, count, ids, scan,
 * export, import; and the store-opening helpers shared with admin.c.
 *
 * Read-only commands open with ZIPPY_OPEN_READONLY and without
 * ZIPPY_OPEN_CREATE: they change no file and work while another process
 * writes. put and import create the store and the collection if missing;
 * delete needs both to exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define IMPORT_BLOCK (4u << 20)              /* bytes per zippy_put_jsonl */
#define IMPORT_LINE_MAX (ZIPPY_DOC_MAX + 4096) /* longest line accepted */

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static unsigned mode_flags(int mode) {
    return mode == 0 ? ZIPPY_OPEN_READONLY : mode == 2 ? ZIPPY_OPEN_CREATE : 0;
}

int open_root(const cli_command *cmd, const char *path, int mode,
              zippy_root **out) {
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = mode_flags(mode);
    if (zippy_root_open(out, path, &o) != ZIPPY_OK) return cli_fail(cmd, path);
    return EXIT_OK;
}

int open_store(const cli_command *cmd, cli_args *a, store_ctx *ctx, int mode,
               const char *progress_label) {
    memset(ctx, 0, sizeof *ctx);
    progress_init(&ctx->prog, progress_label ? progress_label : cmd->name,
                  !progress_label || (a->seen & OPT_QUIET));
    /* A refused name must not leave a new store behind. */
    if (zippy_coll_name_valid(a->collection) != ZIPPY_OK) return cli_fail(cmd, a->collection);
    int rc = open_root(cmd, a->pos[0], mode, &ctx->root);
    if (rc) return rc;
    zippy_options o = ZIPPY_OPTIONS_INIT;
    o.flags = mode_flags(mode);
    o.strict = (a->seen & OPT_STRICT) != 0;
    o.layout = (zippy_layout)a->layout;
    if (progress_label && ctx->prog.enabled) {
        o.progress = progress_cb;
        o.progress_ctx = &ctx->prog;
    }
    if (zippy_coll_open(&ctx->coll, ctx->root, a->collection, &o) != ZIPPY_OK) {
        progress_end(&ctx->prog, 0);
        rc = cli_fail(cmd, a->collection);
        zippy_root_close(ctx->root);
        ctx->root = NULL;
        return rc;
    }
    return EXIT_OK;
}

int close_store(const cli_command *cmd, store_ctx *ctx, int rc) {
    progress_end(&ctx->prog, 0);
    if (ctx->coll) {
        const char *name = zippy_coll_name(ctx->coll);
        char copy[80];
        snprintf(copy, sizeof copy, "%s", name ? name : "");
        if (zippy_coll_close(ctx->coll) != ZIPPY_OK && rc == EXIT_OK)
            rc = cli_fail(cmd, copy);
        ctx->coll = NULL;
    }
    zippy_root_close(ctx->root);
    ctx->root = NULL;
    return cli_finish_stdout(cmd, rc);
}

/* ------------------------------------------------------------------ */
/* Ids and input                                                       */
/* ------------------------------------------------------------------ */

/* Copies s for a message: control bytes become '?', long ids are cut. */
static const char *shown(const char *s, char *buf, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (s[i]) buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = 0;
    return buf;
}

/* The document id: -i, else the first argument after the store. Sets
 * *next to the index of the following positional. */
static int take_id(const cli_command *cmd, cli_args *a, const char **id,
                   int *next) {
    if (a->id) {
        *id = a->id;
        *next = 1;
    } else if (a->npos >= 2) {
        *id = a->pos[1];
        *next = 2;
    } else {
        return cli_usage_error(cmd, "missing document id");
    }
    return 0;
}

/* Validates an id before anything is opened (so put creates nothing for an
 * invalid id). Returns 0 or `fail_rc` after a message. */
static int check_id(const cli_command *cmd, const char *id, int fail_rc) {
    if (zippy_id_valid(id, strlen(id)) == ZIPPY_OK) return 0;
    char b[300];
    cli_error(cmd,
              "invalid id '%s': ids are 1-%d bytes of letters, digits and "
              "_-.@:+=, not starting with '.' and without '..'",
              shown(id, b, sizeof b), ZIPPY_ID_MAX);
    return fail_rc;
}

/* Reads all of fd (at most max bytes) into *out (malloc'ed, NUL added). */
static int read_all(int fd, size_t max, char **out, size_t *len) {
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    if (!b) return -ENOMEM;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                free(b);
                return -EFBIG;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(b);
            return -e;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > max) {
        free(b);
        return -EFBIG;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* put / get / delete / exists                                         */
/* ------------------------------------------------------------------ */

int cmd_put(const cli_command *cmd, cli_args *a) {
    const char *id = NULL;
    int next = 1, rc;
    if ((rc = take_id(cmd, a, &id, &next))) return rc;
    const char *data = a->data;
    if (data && a->npos > next)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[next]);
    if (!data && a->npos > next + 1)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[next + 1]);
    if (!data && a->npos > next && strcmp(a->pos[next], "-") != 0)
        data = a->pos[next];
    if (data && !strcmp(data, "-")) data = NULL; /* -d - : stdin */
    if ((rc = check_id(cmd, id, EXIT_ERR))) return rc;

    char *owned = NULL;
    size_t len = 0;
    if (!data) {
        if (isatty(STDIN_FILENO))
            return cli_usage_error(cmd, "no document given (use -d JSON, an "
                                        "argument, or stdin)");
        int e = read_all(STDIN_FILENO, ZIPPY_DOC_MAX + 4096, &owned, &len);
        if (e == -EFBIG)
            return cli_error(cmd, "document on stdin for id '%s' is over %u bytes",
                             id, ZIPPY_DOC_MAX);
        if (e) return cli_error(cmd, "reading stdin: %s", strerror(-e));
        data = owned;
    } else {
        len = strlen(data);
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
                       data[len - 1] == ' ' || data[len - 1] == '\t'))
        len--;

    store_ctx s;
    if ((rc = open_store(cmd, a, &s, 2, NULL))) {
        free(owned);
        return rc;
    }
    if (zippy_put(s.coll, id, strlen(id), data, len) != ZIPPY_OK)
        rc = cli_fail(cmd, id);
    free(owned);
    rc = close_store(cmd, &s, rc);
    if (rc == EXIT_OK) cli_note(a, "stored '%s' in %s", id, a->collection);
    return rc;
}

int cmd_get(const cli_command *cmd, cli_args *a) {
    const char *id = NULL;
    int next = 1, rc;
    if ((rc = take_id(cmd, a, &id, &next))) return rc;
    if (a->npos > next)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[next]);
    if ((rc = check_id(cmd, id, EXIT_ERR))) return rc;
    store_ctx s;
    if ((rc = open_store(cmd, a, &s, 0, NULL))) return rc;
    zippy_buf b = ZIPPY_BUF_INIT;
    unsigned fl = (a->seen & OPT_WITH_ID) ? ZIPPY_GET_WITH_ID : 0;
    if (zippy_get(s.coll, id, strlen(id), fl, &b) != ZIPPY_OK) {
        rc = cli_fail(cmd, id);
    } else {
        if (a->seen & OPT_PRETTY) out_pretty(stdout, b.ptr, b.len);
        else out_bytes(stdout, b.ptr, b.len);
        putchar('\n');
    }
    zippy_buf_free(&b);
    return close_store(cmd, &s, rc);
}

int cmd_delete(const cli_command *cmd, cli_args *a) {
    const char *id = NULL;
    int next = 1, rc;
    if ((rc = take_id(cmd, a, &id, &next))) return rc;
    if (a->npos > next)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[next]);
    if ((rc = check_id(cmd, id, EXIT_ERR))) return rc;
    store_ctx s;
    if ((rc = open_store(cmd, a, &s, 1, NULL))) return rc;
    if (zippy_delete(s.coll, id, strlen(id)) != ZIPPY_OK) rc = cli_fail(cmd, id);
    rc = close_store(cmd, &s, rc);
    if (rc == EXIT_OK) cli_note(a, "deleted '%s' from %s", id, a->collection);
    return rc;
}

int cmd_exists(const cli_command *cmd, cli_args *a) {
    const char *id = NULL;
    int next = 1, rc;
    if ((rc = take_id(cmd, a, &id, &next))) return rc;
    if (a->npos > next)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[next]);
    if ((rc = check_id(cmd, id, EXIT_USAGE))) return rc;
    store_ctx s;
    if (open_store(cmd, a, &s, 0, NULL)) return EXIT_USAGE;
    int r = zippy_exists(s.coll, id, strlen(id));
    if (r < 0) {
        cli_fail(cmd, id);
        rc = EXIT_USAGE;
    } else {
        rc = r == 1 ? EXIT_OK : EXIT_ERR;
    }
    rc = close_store(cmd, &s, rc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* count / ids                                                         */
/* ------------------------------------------------------------------ */

int cmd_count(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc;
    if ((rc = open_store(cmd, a, &s, 0, NULL))) return rc;
    uint64_t n;
    if (zippy_count(s.coll, &n) != ZIPPY_OK) rc = cli_fail(cmd, a->collection);
    else printf("%llu\n", (unsigned long long)n);
    return close_store(cmd, &s, rc);
}

int cmd_ids(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc;
    if ((rc = open_store(cmd, a, &s, 0, NULL))) return rc;
    char **ids = NULL;
    if (zippy_ids(s.coll, &ids, NULL) != ZIPPY_OK) {
        rc = cli_fail(cmd, a->collection);
    } else {
        for (char **p = ids; *p; p++) {
            fputs(*p, stdout);
            putchar('\n');
        }
    }
    zippy_strv_free(ids);
    return close_store(cmd, &s, rc);
}

/* ------------------------------------------------------------------ */
/* scan / export                                                       */
/* ------------------------------------------------------------------ */

/* Runs a scan and prints its rows. prog (may be NULL) counts documents. */
static int run_scan(const cli_command *cmd, cli_args *a, store_ctx *s,
                    zippy_scan_options *so, int pretty, progress *prog) {
    zippy_scan *sc = NULL;
    if (zippy_scan_open(&sc, s->coll, so) != ZIPPY_OK)
        return cli_fail(cmd, a->collection);
    int rc = EXIT_OK;
    if ((a->seen & OPT_LIMIT) && a->limit == 0) { /* --limit 0: no rows */
        zippy_scan_close(sc);
        return rc;
    }
    uint64_t rows = 0, bytes = 0;
    for (;;) {
        const char *id, *doc;
        size_t idlen, doclen;
        int r = zippy_scan_next(sc, &id, &idlen, &doc, &doclen);
        if (r == 0) break;
        if (r < 0) {
            rc = cli_fail(cmd, a->collection);
            break;
        }
        if (so->flags & ZIPPY_SCAN_IDS_ONLY) {
            out_bytes(stdout, id, idlen);
        } else if (pretty) {
            out_pretty(stdout, doc, doclen);
        } else {
            out_bytes(stdout, doc, doclen);
        }
        putchar('\n');
        if (ferror(stdout)) break; /* reported by close_store */
        rows++;
        if (prog) {
            bytes += doclen + 1;
            prog->extra_bytes = bytes;
            progress_update(prog, rows, prog->total);
        }
    }
    zippy_scan_close(sc);
    return rc;
}

int cmd_scan(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc;
    if ((rc = open_store(cmd, a, &s, 0, NULL))) return rc;
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.flags = (a->seen & OPT_IDS_ONLY) ? ZIPPY_SCAN_IDS_ONLY : ZIPPY_SCAN_WITH_ID;
    so.filter = a->where;
    so.filter_len = a->where ? strlen(a->where) : 0;
    so.fields = a->fields;
    so.limit = a->limit;
    so.skip = a->skip;
    if (a->where && !*a->where) so.filter = NULL;
    if (a->fields && !*a->fields) so.fields = NULL;
    rc = run_scan(cmd, a, &s, &so, (a->seen & OPT_PRETTY) != 0, NULL);
    return close_store(cmd, &s, rc);
}

int cmd_export(const cli_command *cmd, cli_args *a) {
    store_ctx s;
    int rc;
    if ((rc = open_store(cmd, a, &s, 0, NULL))) return rc;
    progress prog;
    progress_init(&prog, "export", (a->seen & OPT_QUIET) != 0);
    prog.unit_docs = 1;
    if (isatty(STDOUT_FILENO)) prog.enabled = 0; /* would mix with the rows */
    if (prog.enabled && !a->where) {
        uint64_t n = 0;
        if (zippy_count(s.coll, &n) == ZIPPY_OK) prog.total = n;
    }
    zippy_scan_options so = ZIPPY_SCAN_OPTIONS_INIT;
    so.flags = ZIPPY_SCAN_WITH_ID;
    so.filter = a->where && *a->where ? a->where : NULL;
    rc = run_scan(cmd, a, &s, &so, 0, &prog);
    progress_end(&prog, rc == EXIT_OK);
    return close_store(cmd, &s, rc);
}

/* ------------------------------------------------------------------ */
/* import                                                              */
/* ------------------------------------------------------------------ */

typedef struct import_src {
    const char *name; /* as given ("-" for stdin) */
    const char *shown;/* for messages ("stdin" for "-") */
    int fd;
} import_src;

static int is_blank_line(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

/* 1-based number, within buf[0..len), of the line after the first
 * `stored` non-blank lines: the line that zippy_put_jsonl refused. */
static uint64_t failing_line(const char *buf, size_t len, uint64_t stored) {
    uint64_t line = 1, seen = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (!is_blank_line(buf + i, end - i)) {
            if (seen == stored) return line;
            seen++;
        }
        if (!nl) break;
        i = end + 1;
        line++;
    }
    return line;
}

static uint64_t count_lines(const char *p, size_t n) {
    uint64_t c = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++) c++;
    return c;
}

/* Streams one source into the collection. */
static int import_one(const cli_command *cmd, zippy_coll *coll,
                      const import_src *src, progress *prog,
                      uint64_t *bytes_done, uint64_t *written) {
    size_t cap = IMPORT_BLOCK, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_error(cmd, "out of memory");
    uint64_t line_base = 0; /* lines of this source already stored */
    int eof = 0, rc = EXIT_OK;
    for (;;) {
        while (!eof && len < cap) {
            ssize_t r = read(src->fd, buf + len, cap - len);
            if (r < 0) {
                if (errno == EINTR) continue;
                rc = cli_error(cmd, "reading %s: %s", src->shown, strerror(errno));
                goto out;
            }
            if (r == 0) {
                eof = 1;
                break;
            }
            len += (size_t)r;
            *bytes_done += (uint64_t)r;
            progress_update(prog, *bytes_done, prog->total);
        }
        size_t cut = len;
        if (!eof) {
            const char *p = buf + len;
            while (p > buf && p[-1] != '\n') p--;
            if (p == buf) { /* no newline in a full block: a long line */
                if (cap >= IMPORT_LINE_MAX) {
                    rc = cli_error(cmd, "%s line %llu: line longer than %u bytes",
                                   src->shown, (unsigned long long)line_base + 1,
                                   (unsigned)IMPORT_LINE_MAX);
                    goto out;
                }
                size_t ncap = cap * 2 > IMPORT_LINE_MAX ? IMPORT_LINE_MAX : cap * 2;
                char *nb = realloc(buf, ncap);
                if (!nb) {
                    rc = cli_error(cmd, "out of memory");
                    goto out;
                }
                buf = nb;
                cap = ncap;
                continue;
            }
            cut = (size_t)(p - buf);
        }
        if (cut == 0) break; /* eof and nothing left */
        uint64_t w = 0;
        int r = zippy_put_jsonl(coll, buf, cut, NULL, NULL, 0, &w);
        *written += w;
        if (r != ZIPPY_OK) {
            /* The library numbers lines within the block ("line N: ...");
             * report the line number within the whole source instead. */
            const char *msg = zippy_errmsg();
            uint64_t local = failing_line(buf, cut, w);
            if (!strncmp(msg, "line ", 5) && msg[5] >= '0' && msg[5] <= '9') {
                char *end;
                unsigned long long n = strtoull(msg + 5, &end, 10);
                if (end[0] == ':' && end[1] == ' ') {
                    local = n;
                    msg = end + 2;
                }
            }
            cli_error(cmd, "%s line %llu: %s", src->shown,
                      (unsigned long long)(line_base + local), msg);
            rc = EXIT_ERR;
            goto out;
        }
        line_base += count_lines(buf, cut);
        memmove(buf, buf + cut, len - cut);
        len -= cut;
    }
out:
    free(buf);
    return rc;
}

int cmd_import(const cli_command *cmd, cli_args *a) {
    import_src srcs[MAX_POSITIONALS];
    int nsrc = a->npos > 1 ? a->npos - 1 : 1;
    int rc = EXIT_OK, opened = 0, stdin_used = 0;
    uint64_t total = 0;
    int total_known = 1;
    for (int i = 0; i < nsrc; i++) {
        const char *name = a->npos > 1 ? a->pos[i + 1] : "-";
        srcs[i].name = name;
        if (!strcmp(name, "-")) {
            if (stdin_used++)
                return cli_usage_error(cmd, "stdin ('-') given twice");
            srcs[i].shown = "stdin";
            srcs[i].fd = STDIN_FILENO;
        } else {
            srcs[i].shown = name;
            srcs[i].fd = open(name, O_RDONLY | O_CLOEXEC);
            if (srcs[i].fd < 0) {
                rc = cli_error(cmd, "cannot open %s: %s", name, strerror(errno));
                break;
            }
        }
        opened = i + 1;
        struct stat st;
        if (fstat(srcs[i].fd, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else
            total_known = 0;
    }
    store_ctx s;
    memset(&s, 0, sizeof s);
    if (rc == EXIT_OK) rc = open_store(cmd, a, &s, 2, NULL);
    if (rc == EXIT_OK) {
        progress prog;
        progress_init(&prog, "import", (a->seen & OPT_QUIET) != 0);
        prog.total = total_known ? total : 0;
        uint64_t done = 0, written = 0;
        for (int i = 0; i < nsrc && rc == EXIT_OK; i++)
            rc = import_one(cmd, s.coll, &srcs[i], &prog, &done, &written);
        progress_end(&prog, rc == EXIT_OK);
        rc = close_store(cmd, &s, rc);
        if (rc == EXIT_OK)
            cli_note(a, "imported %llu document%s into %s",
                     (unsigned long long)written, written == 1 ? "" : "s",
                     a->collection);
        else if (written > 0)
            fprintf(stderr, "%s import: kept the %llu document%s stored before "
                            "the error\n",
                    g_prog, (unsigned long long)written, written == 1 ? "" : "s");
        else
            fprintf(stderr, "%s import: nothing was imported\n", g_prog);
    }
    for (int i = 0; i < opened; i++)
        if (srcs[i].fd != STDIN_FILENO) close(srcs[i].fd);
    return rc;
}
