/* crash_files.c - SIGKILL crash test of the file-per-document layout.
 *
 * Modelled on crash_kill.c (read its comment): each round forks a child that
 * opens a files-layout collection (docs/<id>.json + the derived cache) and
 * runs a seeded script of puts, updates, deletes, put_jsonl batches, flushes
 * and (in some rounds) compactions; the parent kills it with SIGKILL at a
 * random moment (after a delay, at once, during a compaction or during a
 * flush), reopens the store read-only (which must change nothing and see a
 * consistent store) and then writable, verifies it (every docs file parses
 * and equals the cache's document) and checks every document against the
 * model: it must be in its acknowledged state or in the state of a later
 * started write. A flush of this layout is not atomic across files, so the
 * store need not equal a prefix of the script (reported as a figure only),
 * but no acknowledged write may be lost and no file may be torn.
 *
 * Also reported: where the kills landed, and temp files left after a
 * writable reopen (a failure: the writable open removes them).
 *
 * Env: ZIPPY_CRASH_ROUNDS (default 200, ZIPPY_QUICK=1: 40),
 *      ZIPPY_CRASH_SEED (default: from the clock; printed),
 *      ZIPPY_CRASH_VERBOSE=1 (details of every round).
 */
#define CRASH_NAME "crash_files"
#define CRASH_FILES 1
#define CRASH_LAYOUT ZIPPY_LAYOUT_FILES
#define CRASH_LOG "cache.jsonl"
#define CRASH_ROUNDS 200
#define NIDS 400               /* ids d0000 .. d0399 */
#define BIG_DOC_MAX 40000      /* largest generated document */
#define BIG_PAD_MIN 5000       /* big documents: 5-35 KB of padding */
#define BIG_PAD_SPAN 30000
#define COMPACT_LOG_BYTES (4u << 20) /* parent compacts past this size */
#define TIMED_DELAY_MAX 150000 /* us before a timed kill */
#define FLUSH_DELAY_MAX 20000  /* us into the chosen flush */
#define FLUSH_NO_MAX 8         /* the kill waits for flush 1..this (FLUSH sync) */
#define FLUSH_SPAN 40          /* usual upper bound of writes between flushes */

#include "crash.h"
