/* main.c - the zippy command-line tool: command table, dispatch, help.
 *
 * Exit status: 0 success, 1 error (a message on stderr naming the store,
 * collection, id or byte offset), 2 usage error (a short usage line).
 * `exists` follows grep: 0 present, 1 absent, 2 error.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"

const char *g_prog = "zippy";

#define COMMON_HELP                                                            \
    "  -c, --collection NAME  collection (default: \"default\")\n"

static const cli_command k_commands[] = {
    {"init", cmd_init, OPT_COLLECTION | OPT_NAME | OPT_DESCRIPTION | OPT_STRICT | OPT_LAYOUT, 1, 1,
     "STORE [-c NAME] [--layout files|jsonl] [--strict] [--name N] [--description D]",
     "create a store (and a collection)",
     "Creates the store directory STORE (zds.json, collections/) if it does\n"
     "not exist yet. Running it on an existing store is fine: it only adds\n"
     "what is missing (the collection given with -c) and records --name and\n"
     "--description in zds.json when given.\n\n"
     "  -c, --collection NAME  also create this collection\n"
     "      --layout L         storage layout of a new collection: jsonl (the\n"
     "                         default: one log file) or files (one pretty\n"
     "                         JSON file per document in docs/, for git and\n"
     "                         hand editing); an existing collection must\n"
     "                         already have that layout\n"
     "      --strict           make it strict: its first document fixes the\n"
     "                         schema (key set and JSON types) of all others;\n"
     "                         an existing collection qualifies if all its\n"
     "                         documents share one schema\n"
     "      --name N           dataset name recorded in zds.json\n"
     "      --description D    dataset description recorded in zds.json\n"},
    {"put", cmd_put, OPT_COLLECTION | OPT_ID | OPT_DATA | OPT_STRICT | OPT_LAYOUT, 1, 3,
     "STORE [-c NAME] (-i ID | ID) [-d JSON | JSON | < FILE] [--strict] [--layout L]",
     "store a document under an id (replaces it)",
     "Stores the JSON object under ID, replacing any earlier version. The\n"
     "document comes from -d, else the argument after the id, else stdin\n"
     "(\"-\" also means stdin). The store and collection are created if\n"
     "missing. A top-level \"_id\" in the document must equal ID.\n\n" COMMON_HELP
     "  -i, --id ID            document id (else the first argument)\n"
     "  -d, --data JSON        the document (else the next argument or stdin)\n"
     "      --strict           make the collection strict first (see init)\n"
     "      --layout L         layout if the collection is created (see init)\n"},
    {"get", cmd_get, OPT_COLLECTION | OPT_ID | OPT_PRETTY | OPT_WITH_ID, 1, 2,
     "STORE [-c NAME] (-i ID | ID) [--pretty] [--with-id]",
     "print a document",
     "Prints the document stored under ID as compact JSON on one line,\n"
     "without its \"_id\". Exit 1 if there is no such document.\n\n" COMMON_HELP
     "  -i, --id ID            document id (else the argument)\n"
     "  -p, --pretty           indent with 2 spaces\n"
     "      --with-id          include \"_id\" as the first key\n"},
    {"delete", cmd_delete, OPT_COLLECTION | OPT_ID, 1, 2,
     "STORE [-c NAME] (-i ID | ID)", "delete a document",
     "Deletes the document stored under ID. Exit 1 if there is none.\n\n" COMMON_HELP
     "  -i, --id ID            document id (else the argument)\n"},
    {"exists", cmd_exists, OPT_COLLECTION | OPT_ID, 1, 2,
     "STORE [-c NAME] (-i ID | ID)", "test whether a document exists",
     "Prints nothing. Exit status (as grep): 0 if the document exists, 1 if\n"
     "it does not, 2 on any error (missing store or collection, invalid id,\n"
     "usage).\n\n" COMMON_HELP
     "  -i, --id ID            document id (else the argument)\n"},
    {"count", cmd_count, OPT_COLLECTION, 1, 1, "STORE [-c NAME]",
     "print the number of documents", "Prints the number of live documents.\n\n" COMMON_HELP},
    {"ids", cmd_ids, OPT_COLLECTION, 1, 1, "STORE [-c NAME]",
     "print every id, sorted",
     "Prints the id of every live document, one per line, in byte order.\n\n" COMMON_HELP},
    {"scan", cmd_scan,
     OPT_COLLECTION | OPT_WHERE | OPT_FIELDS | OPT_LIMIT | OPT_SKIP |
         OPT_IDS_ONLY | OPT_PRETTY,
     1, 1,
     "STORE [-c NAME] [-w FILTER] [-f FIELDS] [-l N] [-s N] [--ids-only] [--pretty]",
     "query documents",
     "Prints the matching documents in insertion order, one JSON object per\n"
     "line with \"_id\" first.\n\n" COMMON_HELP
     "  -w, --where FILTER     Mongo-style filter, e.g. '{\"age\":{\"$gt\":25}}'\n"
     "  -f, --fields LIST      projection: comma-separated dot paths (a,b.c)\n"
     "  -l, --limit N          at most N rows (0 prints nothing)\n"
     "  -s, --skip N           skip the first N matching rows\n"
     "      --ids-only         print only the ids, one per line\n"
     "  -p, --pretty           indent each document with 2 spaces\n"},
    {"export", cmd_export, OPT_COLLECTION | OPT_WHERE, 1, 1,
     "STORE [-c NAME] [-w FILTER] > FILE.jsonl", "write documents as JSONL",
     "Writes every live document (or those matching -w) to stdout, one JSON\n"
     "object per line with \"_id\" first: the input format of import.\n\n" COMMON_HELP
     "  -w, --where FILTER     export only the matching documents\n"},
    {"import", cmd_import, OPT_COLLECTION | OPT_STRICT | OPT_LAYOUT, 1, MAX_POSITIONALS,
     "STORE [-c NAME] [FILE | -]... [--strict] [--layout L]", "load documents from JSONL",
     "Reads JSON Lines (one object per line, each with an \"_id\") from the\n"
     "files, or stdin when none is given or for \"-\", and stores them. The\n"
     "input is streamed in blocks of 4 MiB. The store and collection are\n"
     "created if missing. Prints \"imported N documents\" on stderr. On a bad\n"
     "line the message names the file and line number; the lines before it\n"
     "are kept, nothing after it is written, and the exit status is 1.\n\n" COMMON_HELP
     "      --strict           make the collection strict first (see init)\n"
     "      --layout L         layout if the collection is created (see init)\n"},
    {"list", cmd_list, 0, 1, 1, "STORE", "list collections with counts",
     "Prints one line per collection, sorted by name: NAME<TAB>COUNT.\n"},
    {"info", cmd_info, OPT_PRETTY, 1, 1, "STORE [--pretty]",
     "print the store's zds.json",
     "Prints the store description (zds.json, counts refreshed) as JSON.\n\n"
     "  -p, --pretty           indent with 2 spaces\n"},
    {"stats", cmd_stats, OPT_COLLECTION | OPT_JSON, 1, 1,
     "STORE [-c NAME] [--json]", "print collection statistics",
     "Prints the collection's statistics: documents, log size, live and dead\n"
     "bytes and lines, index size, layout, and schemas: a strict collection's\n"
     "schema, or for a flexible one how many documents have each distinct\n"
     "schema (the 10 most common are listed).\n\n" COMMON_HELP
     "      --json             print one JSON object instead\n"},
    {"compact", cmd_compact, OPT_COLLECTION, 1, 1, "STORE [-c NAME]",
     "rewrite the log without dead lines",
     "Rewrites the collection's data log with live documents only\n"
     "(crash-safely) and prints the bytes reclaimed.\n\n" COMMON_HELP},
    {"convert", cmd_convert, OPT_COLLECTION | OPT_LAYOUT, 1, 1, "STORE [-c NAME] --to files|jsonl",
     "change a collection's layout in place",
     "Converts the collection to the file-per-document layout (files:\n"
     "docs/<id>.json) or to the JSONL log (jsonl), in place and crash-safely:\n"
     "the documents are copied in scan order into a new collection that\n"
     "replaces the old one by renames; after a crash the next writable open\n"
     "of the store finishes or undoes the job. The collection must not be\n"
     "open elsewhere. Already in that layout: nothing to do (exit 0).\n\n" COMMON_HELP
     "      --to LAYOUT        files or jsonl\n"},
    {"reindex", cmd_reindex, OPT_COLLECTION, 1, 1, "STORE [-c NAME]",
     "rebuild the index from the log",
     "Rebuilds the collection's index from its data log.\n\n" COMMON_HELP},
    {"verify", cmd_verify, OPT_COLLECTION, 1, 1, "STORE [-c NAME]",
     "check data and index integrity",
     "Checks every line and index entry of the collection given with -c, or\n"
     "of every collection when -c is not given, and prints one result line\n"
     "per collection. Changes nothing. Exit 1 if any problem was found.\n\n"
     "  -c, --collection NAME  verify only this collection\n"},
    {"pack", cmd_pack, OPT_DEFLATE, 2, 2, "STORE ARCHIVE.zds [--deflate]",
     "pack a store into a ZIP archive",
     "Writes the whole store into a ZIP archive (a .zds file). ARCHIVE must\n"
     "not exist.\n\n"
     "      --deflate          compress the entries (default: stored)\n"},
    {"unpack", cmd_unpack, 0, 2, 2, "ARCHIVE.zds DEST",
     "extract an archive into a new store",
     "Extracts a .zds/.zip archive into DEST, which must not exist. Unsafe\n"
     "archives (entries outside DEST) are refused before anything is written.\n"},
    {"version", cmd_version, 0, 0, 0, "", "print versions",
     "Prints the versions of the tool, the library and the on-disk format.\n"},
    {"help", cmd_help, 0, 0, 1, "[COMMAND]", "show help for a command",
     "Shows the list of commands, or the help of COMMAND.\n"},
};
#define N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

const cli_command *cli_find(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(k_commands[i].name, name)) return &k_commands[i];
    return NULL;
}

void cli_print_help(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: %s %s%s%s\n\n%s.\n\n%s", g_prog, cmd->name,
            *cmd->usage ? " " : "", cmd->usage, cmd->summary, cmd->help);
    fprintf(f, "  -q, --quiet            no status line or progress bar\n"
               "  -h, --help             show this help\n");
}

static void print_main_help(FILE *f) {
    fprintf(f,
            "zippy %s - a human-readable JSON document store\n\n"
            "usage: %s COMMAND [ARGS] [OPTIONS]\n"
            "       %s COMMAND --help\n\n"
            "Commands:\n",
            ZIPPY_VERSION_STRING, g_prog, g_prog);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(f,
            "\nOptions may come before or after the arguments; \"--\" ends them.\n"
            "-c/--collection defaults to \"default\".\n"
            "Exit status: 0 ok, 1 error (message on stderr), 2 usage error.\n");
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s %s: ", g_prog, cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s %s%s%s\nTry '%s %s --help'.\n", g_prog,
            cmd->name, *cmd->usage ? " " : "", cmd->usage, g_prog, cmd->name);
    return EXIT_USAGE;
}

int cli_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s %s: ", g_prog, cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_ERR;
}

int cli_fail(const cli_command *cmd, const char *ctx) {
    const char *msg = zippy_errmsg();
    size_t cl = strlen(cmd->name); /* "pack: ..." after "zippy pack: " */
    if (!strncmp(msg, cmd->name, cl) && msg[cl] == ':' && msg[cl + 1] == ' ')
        msg += cl + 2;
    if (ctx && *ctx && !strstr(msg, ctx))
        fprintf(stderr, "%s %s: %s: %s\n", g_prog, cmd->name, ctx, msg);
    else
        fprintf(stderr, "%s %s: %s\n", g_prog, cmd->name, msg);
    return EXIT_ERR;
}

void cli_note(const cli_args *a, const char *fmt, ...) {
    if (a->seen & OPT_QUIET) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_finish_stdout(const cli_command *cmd, int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        cli_error(cmd, "error writing to stdout: %s", strerror(e));
        return rc ? rc : EXIT_ERR;
    }
    return rc;
}

int cmd_version(const cli_command *c, cli_args *a) {
    (void)a;
    printf("zippy %s (libzippy %s, format %d)\n", ZIPPY_VERSION_STRING,
           zippy_version(), zippy_format_version());
    return cli_finish_stdout(c, EXIT_OK);
}

int cmd_help(const cli_command *c, cli_args *a) {
    if (a->npos == 0) {
        print_main_help(stdout);
        return cli_finish_stdout(c, EXIT_OK);
    }
    const cli_command *t = cli_find(a->pos[0]);
    if (!t) return cli_usage_error(c, "unknown command '%s'", a->pos[0]);
    cli_print_help(t, stdout);
    return cli_finish_stdout(c, EXIT_OK);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_main_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        print_main_help(stdout);
        return cli_finish_stdout(cli_find("help"), EXIT_OK);
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V"))
        name = "version";
    const cli_command *cmd = cli_find(name);
    if (!cmd) {
        fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", g_prog,
                name, g_prog);
        return EXIT_USAGE;
    }
    cli_args a;
    int rc = cli_parse(cmd, argc - 2, argv + 2, &a);
    if (rc < 0) {
        cli_print_help(cmd, stdout);
        return cli_finish_stdout(cmd, EXIT_OK);
    }
    if (rc) return rc;
    return cmd->fn(cmd, &a);
}
