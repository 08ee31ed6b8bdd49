/* progress.c - a one-line progress bar on stderr.
 *
 * Shown only when stderr is a terminal (and not --quiet): when stderr is a
 * file or a pipe nothing at all is written, so logs stay clean. Redraws are
 * limited to about ten a second; the line is rewritten in place with '\r'
 * and cleared to the end with ESC[K.
 *
 *   import  [#########...........]  45%  12.3 MiB / 27.1 MiB  5.2 MiB/s
 *   import  12.3 MiB  5.2 MiB/s                   (total unknown: a pipe)
 *   export  [####################] 100%  1200 / 1200 docs  310.2 KiB  ...
 */
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BAR_WIDTH 24

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_cols(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void fmt_bytes(char *out, size_t cap, double v) {
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) snprintf(out, cap, "%.0f %s", v, units[u]);
    else snprintf(out, cap, "%.1f %s", v, units[u]);
}

void progress_init(progress *p, const char *label, int quiet) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = p->enabled ? now_s() : 0;
}

static void draw(progress *p, double t) {
    char line[256], a[32], b[32], r[32];
    size_t n = 0;
    double el = t - p->start;
    double rate = el > 0.05 ? (double)(p->unit_docs ? p->extra_bytes : p->done) / el
                            : 0.0;
    n += (size_t)snprintf(line + n, sizeof line - n, "%-7s ", p->label);
    if (p->total > 0) {
        uint64_t d = p->done > p->total ? p->total : p->done;
        int pct = (int)(d * 100.0 / (double)p->total);
        int fill = (int)(d * (double)BAR_WIDTH / (double)p->total);
        line[n++] = '[';
        for (int i = 0; i < BAR_WIDTH; i++) line[n++] = i < fill ? '#' : '.';
        line[n++] = ']';
        n += (size_t)snprintf(line + n, sizeof line - n, " %3d%%", pct);
    }
    if (p->unit_docs) {
        fmt_bytes(b, sizeof b, (double)p->extra_bytes);
        if (p->total > 0)
            n += (size_t)snprintf(line + n, sizeof line - n, "  %llu / %llu docs  %s",
                                  (unsigned long long)p->done,
                                  (unsigned long long)p->total, b);
        else
            n += (size_t)snprintf(line + n, sizeof line - n, "  %llu docs  %s",
                                  (unsigned long long)p->done, b);
    } else {
        fmt_bytes(a, sizeof a, (double)p->done);
        if (p->total > 0) {
            fmt_bytes(b, sizeof b, (double)p->total);
            n += (size_t)snprintf(line + n, sizeof line - n, "  %s / %s", a, b);
        } else {
            n += (size_t)snprintf(line + n, sizeof line - n, "  %s", a);
        }
    }
    if (rate > 0) {
        fmt_bytes(r, sizeof r, rate);
        snprintf(line + n, sizeof line - n, "  %s/s", r);
    }
    int cols = term_cols();
    if ((int)strlen(line) > cols - 1) line[cols - 1] = 0;
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
    p->last_draw = t;
}

void progress_update(progress *p, uint64_t done, uint64_t total) {
    p->done = done;
    p->total = total;
    if (!p->enabled) return;
    double t = now_s();
    if (p->drawn && t - p->last_draw < 0.1) return; /* throttle */
    draw(p, t);
}

void progress_cb(void *ctx, uint64_t done, uint64_t total) {
    progress_update((progress *)ctx, done, total);
}

void progress_end(progress *p, int keep) {
    if (!p->enabled) return;
    if (keep && (p->drawn || p->done || p->total)) {
        draw(p, now_s());
        fputc('\n', stderr);
    } else if (p->drawn) {
        fputs("\r\033[K", stderr);
    }
    fflush(stderr);
    p->drawn = 0;
}
