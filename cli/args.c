/* args.c - the command-line parser.
 *
 * Rules (the same for every command):
 *  - options and positionals may be mixed in any order;
 *  - long options: "--name value" or "--name=value"; flags take no value
 *    ("--pretty=yes" is an error);
 *  - short options: "-c value" or "-cvalue"; flags may be grouped ("-pq");
 *  - "--" ends the options: everything after it is positional, so an id
 *    starting with '-' can be given as "-- -id" (or "-i -id");
 *  - "-" alone is a positional (stdin for import / put);
 *  - an option given twice: the last one wins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct opt_def {
    unsigned bit;
    const char *lng;
    char shrt;
    int has_arg;
} opt_def;

static const opt_def k_opts[] = {
    {OPT_COLLECTION, "collection", 'c', 1},
    {OPT_ID, "id", 'i', 1},
    {OPT_DATA, "data", 'd', 1},
    {OPT_WHERE, "where", 'w', 1},
    {OPT_FIELDS, "fields", 'f', 1},
    {OPT_LIMIT, "limit", 'l', 1},
    {OPT_SKIP, "skip", 's', 1},
    {OPT_IDS_ONLY, "ids-only", 0, 0},
    {OPT_PRETTY, "pretty", 'p', 0},
    {OPT_JSON, "json", 0, 0},
    {OPT_DEFLATE, "deflate", 0, 0},
    {OPT_NAME, "name", 0, 1},
    {OPT_DESCRIPTION, "description", 0, 1},
    {OPT_WITH_ID, "with-id", 0, 0},
    {OPT_QUIET, "quiet", 'q', 0},
    {OPT_STRICT, "strict", 0, 0},
    {OPT_LAYOUT, "layout", 0, 1},
    {OPT_LAYOUT, "to", 0, 1}, /* convert --to: the same values */
    {OPT_HELP, "help", 'h', 0},
};
#define N_OPTS (sizeof k_opts / sizeof k_opts[0])

static const opt_def *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(k_opts[i].lng) == len && !memcmp(k_opts[i].lng, name, len))
            return &k_opts[i];
    return NULL;
}

static const opt_def *find_short(char c) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (k_opts[i].shrt == c) return &k_opts[i];
    return NULL;
}

/* Strict unsigned decimal. */
static int parse_u64(const char *s, uint64_t *out) {
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int apply(const cli_command *cmd, const opt_def *o, const char *shown,
                 const char *val, cli_args *a) {
    if (o->bit != OPT_HELP && o->bit != OPT_QUIET && !(cmd->opts & o->bit))
        return cli_usage_error(cmd, "option '%s' is not valid here", shown);
    a->seen |= o->bit;
    switch (o->bit) {
    case OPT_COLLECTION: a->collection = val; break;
    case OPT_ID: a->id = val; break;
    case OPT_DATA: a->data = val; break;
    case OPT_WHERE: a->where = val; break;
    case OPT_FIELDS: a->fields = val; break;
    case OPT_NAME: a->name = val; break;
    case OPT_DESCRIPTION: a->description = val; break;
    case OPT_LAYOUT:
        if (!strcmp(val, "files")) a->layout = ZIPPY_LAYOUT_FILES;
        else if (!strcmp(val, "jsonl")) a->layout = ZIPPY_LAYOUT_JSONL;
        else return cli_usage_error(cmd, "%s must be 'files' or 'jsonl', not '%s'", shown, val);
        break;
    case OPT_LIMIT:
        if (parse_u64(val, &a->limit))
            return cli_usage_error(cmd, "%s needs a non-negative integer, not '%s'",
                                   shown, val);
        break;
    case OPT_SKIP:
        if (parse_u64(val, &a->skip))
            return cli_usage_error(cmd, "%s needs a non-negative integer, not '%s'",
                                   shown, val);
        break;
    default: break; /* flags: the bit is enough */
    }
    return 0;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *a) {
    memset(a, 0, sizeof *a);
    a->collection = "default";
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == 0) {
            if (a->npos == MAX_POSITIONALS)
                return cli_usage_error(cmd, "too many arguments");
            a->pos[a->npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = 1;
            continue;
        }
        if (arg[1] == '-') { /* long option */
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            const opt_def *o = find_long(name, nlen);
            if (!o) return cli_usage_error(cmd, "unknown option '%.*s'",
                                           (int)(nlen + 2), arg);
            const char *val = NULL;
            if (o->has_arg) {
                if (eq) val = eq + 1;
                else if (i + 1 < argc) val = argv[++i];
                else return cli_usage_error(cmd, "option '--%s' needs a value",
                                            o->lng);
            } else if (eq) {
                return cli_usage_error(cmd, "option '--%s' takes no value",
                                       o->lng);
            }
            char shown[64];
            snprintf(shown, sizeof shown, "--%s", o->lng);
            int rc = apply(cmd, o, shown, val, a);
            if (rc) return rc;
            continue;
        }
        /* one or more short options */
        for (const char *p = arg + 1; *p; p++) {
            const opt_def *o = find_short(*p);
            char shown[3] = {'-', *p, 0};
            if (!o) return cli_usage_error(cmd, "unknown option '%s'", shown);
            const char *val = NULL;
            if (o->has_arg) {
                if (p[1]) val = p + 1;
                else if (i + 1 < argc) val = argv[++i];
                else return cli_usage_error(cmd, "option '%s' needs a value",
                                            shown);
            }
            int rc = apply(cmd, o, shown, val, a);
            if (rc) return rc;
            if (o->has_arg) break; /* the rest of the word was the value */
        }
    }
    if (a->seen & OPT_HELP) return -1;
    if (a->npos < cmd->min_pos)
        return cli_usage_error(cmd, "missing argument");
    if (a->npos > cmd->max_pos)
        return cli_usage_error(cmd, "unexpected argument '%s'",
                               a->pos[cmd->max_pos]);
    return 0;
}
