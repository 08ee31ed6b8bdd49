/* cli.h - shared declarations of the zippy command-line tool.
 *
 * The tool uses only the public API (zippy.h). Layout:
 *   main.c      command table, dispatch, global help and version
 *   args.c      the argument parser (options anywhere, --opt=value, --)
 *   docs.c      put, get, delete, exists, count, ids, scan, export, import
 *   admin.c     init, list, info, stats, compact, reindex, verify, pack, unpack
 *   output.c    stdout helpers: JSON pretty-printer, string escaping
 *   progress.c  progress bar on stderr (only when stderr is a terminal)
 */
#ifndef ZIPPY_CLI_H
#define ZIPPY_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zippy.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

/* Options known to the parser; each command accepts a subset (bitmask). */
enum {
    OPT_COLLECTION = 1u << 0,  /* -c, --collection NAME */
    OPT_ID = 1u << 1,          /* -i, --id ID */
    OPT_DATA = 1u << 2,        /* -d, --data JSON */
    OPT_WHERE = 1u << 3,       /* -w, --where FILTER */
    OPT_FIELDS = 1u << 4,      /* -f, --fields a,b.c */
    OPT_LIMIT = 1u << 5,       /* -l, --limit N */
    OPT_SKIP = 1u << 6,        /* -s, --skip N */
    OPT_IDS_ONLY = 1u << 7,    /* --ids-only */
    OPT_PRETTY = 1u << 8,      /* -p, --pretty */
    OPT_JSON = 1u << 9,        /* --json */
    OPT_DEFLATE = 1u << 10,    /* --deflate */
    OPT_NAME = 1u << 11,       /* --name N */
    OPT_DESCRIPTION = 1u << 12,/* --description D */
    OPT_WITH_ID = 1u << 13,    /* --with-id */
    OPT_QUIET = 1u << 14,      /* -q, --quiet */
    OPT_HELP = 1u << 15,       /* -h, --help (every command) */
    OPT_STRICT = 1u << 16,     /* --strict */
    OPT_LAYOUT = 1u << 17      /* --layout files|jsonl */
};

#define MAX_POSITIONALS 32

typedef struct cli_args {
    const char *collection; /* defaults to "default" */
    const char *id;
    const char *data;
    const char *where;
    const char *fields;
    uint64_t limit;
    uint64_t skip;
    unsigned seen;          /* OPT_* bits given on the command line */
    const char *name;
    const char *description;
    int layout;             /* zippy_layout of --layout (DEFAULT if absent) */
    const char *pos[MAX_POSITIONALS];
    int npos;
} cli_args;

typedef struct cli_command cli_command;
typedef int (*cli_fn)(const cli_command *cmd, cli_args *a);

struct cli_command {
    const char *name;
    cli_fn fn;
    unsigned opts;       /* accepted OPT_* (OPT_HELP is always accepted) */
    int min_pos, max_pos;/* positional argument counts */
    const char *usage;   /* "STORE [-c NAME] ID" (after "zippy <name> ") */
    const char *summary; /* one line for `zippy --help` */
    const char *help;    /* the rest of `zippy <name> --help` */
};

/* main.c */
extern const char *g_prog; /* "zippy" */
const cli_command *cli_find(const char *name);
/* Prints "zippy CMD: <fmt>" + the usage line to stderr; returns EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the library's last message as "zippy CMD: msg" (adding `ctx` in
 * front when the message does not already mention it); returns EXIT_ERR. */
int cli_fail(const cli_command *cmd, const char *ctx);
/* Prints "zippy CMD: <fmt>" to stderr; returns EXIT_ERR. */
int cli_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints a status line to stderr unless --quiet. */
void cli_note(const cli_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Checks stdout for write errors; returns rc or EXIT_ERR. */
int cli_finish_stdout(const cli_command *cmd, int rc);
void cli_print_help(const cli_command *cmd, FILE *f);

/* args.c: parses argv (after the command name). Returns 0, or EXIT_USAGE
 * after printing a message, or -1 when --help was asked for. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *a);

/* output.c */
/* Writes compact JSON `s` reformatted with 2-space indentation (no final
 * newline). Works on the text: tracks strings and escapes, needs no parse;
 * whitespace outside strings in the input is dropped. */
void out_pretty(FILE *f, const char *s, size_t n);
/* Writes `s` as a JSON string literal (with quotes). */
void out_json_string(FILE *f, const char *s, size_t n);
/* Writes n bytes (fwrite). */
void out_bytes(FILE *f, const char *s, size_t n);

/* progress.c */
typedef struct progress {
    int enabled;        /* stderr is a TTY and not --quiet */
    const char *label;
    int unit_docs;      /* 1: counts are documents, 0: bytes */
    uint64_t done, total, extra_bytes;
    double start, last_draw;
    int drawn;          /* something is on the line */
} progress;
void progress_init(progress *p, const char *label, int quiet);
/* Updates the counters and redraws at most ~10 times a second. */
void progress_update(progress *p, uint64_t done, uint64_t total);
/* zippy_progress_fn adapter: ctx is a progress*. */
void progress_cb(void *ctx, uint64_t done, uint64_t total);
/* Draws the final state (if anything was shown or counted) and ends the
 * line. keep=0 erases the bar instead. */
void progress_end(progress *p, int keep);

/* Commands (docs.c, admin.c). */
int cmd_init(const cli_command *c, cli_args *a);
int cmd_put(const cli_command *c, cli_args *a);
int cmd_get(const cli_command *c, cli_args *a);
int cmd_delete(const cli_command *c, cli_args *a);
int cmd_exists(const cli_command *c, cli_args *a);
int cmd_count(const cli_command *c, cli_args *a);
int cmd_ids(const cli_command *c, cli_args *a);
int cmd_scan(const cli_command *c, cli_args *a);
int cmd_export(const cli_command *c, cli_args *a);
int cmd_import(const cli_command *c, cli_args *a);
int cmd_list(const cli_command *c, cli_args *a);
int cmd_info(const cli_command *c, cli_args *a);
int cmd_stats(const cli_command *c, cli_args *a);
int cmd_compact(const cli_command *c, cli_args *a);
int cmd_convert(const cli_command *c, cli_args *a);
int cmd_reindex(const cli_command *c, cli_args *a);
int cmd_verify(const cli_command *c, cli_args *a);
int cmd_pack(const cli_command *c, cli_args *a);
int cmd_unpack(const cli_command *c, cli_args *a);
int cmd_version(const cli_command *c, cli_args *a);
int cmd_help(const cli_command *c, cli_args *a);

/* Shared helpers of the commands (docs.c). */
typedef struct store_ctx {
    zippy_root *root;
    zippy_coll *coll;
    progress prog;
} store_ctx;
/* Opens a.pos[0] and collection a->collection. mode: 0 read-only,
 * 1 writable (store and collection must exist), 2 writable creating both.
 * with_progress: route the library's progress through ctx->prog. */
int open_store(const cli_command *cmd, cli_args *a, store_ctx *ctx, int mode,
               const char *progress_label);
/* Closes the collection (flushing; reports a failed flush) and the root. */
int close_store(const cli_command *cmd, store_ctx *ctx, int rc);
/* Opens only the root (mode as above). */
int open_root(const cli_command *cmd, const char *path, int mode,
              zippy_root **out);

#endif
