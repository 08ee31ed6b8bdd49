/* crash_kill.c - SIGKILL crash test.
 *
 * One store in a temp dir. Each round forks a child that opens the
 * collection for writing and runs a script of puts, updates, deletes,
 * put_jsonl batches, flushes and (in some rounds) compactions; the parent
 * kills it with SIGKILL at a random moment (after a random delay, at once,
 * during a compaction or during a flush/checkpoint), reaps it, reopens the
 * store read-only and then writable, and checks the outcome against a model.
 *
 * Every data operation of a round has a sequence number; the script is
 * generated from a seed before the fork, so the parent knows it too. The
 * child reports through a pipe the sequence number up to which everything
 * is acknowledged (after each successful flush; with ZIPPY_SYNC_ALWAYS after
 * each write), and publishes in shared memory the end of the operation it
 * is about to start. After the kill each document must be in the state the
 * acknowledged prefix gives it or in the state of a later, started write;
 * an older state is an acknowledged write lost, anything else (including a
 * document whose bytes differ from what was written) is corruption. The
 * whole store must also equal some prefix of the script (a killed process
 * loses no page-cache data, so the log is an ordered prefix).
 *
 * Also reported: where the kills landed (open, writes, flush/checkpoint,
 * compaction), torn tails found at reopen, and temp files (index.bin.tmp,
 * manifest.json.tmp, data.jsonl.compact, zds.json.tmp) still present after
 * the writable reopen (not a failure here; test_faults checks them).
 *
 * Env: ZIPPY_CRASH_ROUNDS (default 220, ZIPPY_QUICK=1: 40),
 *      ZIPPY_CRASH_SEED (default: from the clock; printed),
 *      ZIPPY_CRASH_VERBOSE=1 (details of every round).
 */
#define CRASH_NAME "crash_kill"
#define CRASH_FILES 0
#define CRASH_LAYOUT ZIPPY_LAYOUT_JSONL
#define CRASH_LOG "data.jsonl"
#define CRASH_ROUNDS 220
#define NIDS 1500              /* ids d0000 .. d1499 */
#define BIG_DOC_MAX 160000     /* largest generated document */
#define BIG_PAD_MIN 30000      /* big documents: 30-150 KB of padding */
#define BIG_PAD_SPAN 120000
#define COMPACT_LOG_BYTES (8u << 20) /* parent compacts past this size */
#define TIMED_DELAY_MAX 30000  /* us before a timed kill */
#define FLUSH_DELAY_MAX 3000   /* us into the chosen flush */
#define FLUSH_NO_MAX 25        /* the kill waits for flush 1..this (FLUSH sync) */
#define FLUSH_SPAN 64          /* usual upper bound of writes between flushes */

#include "crash.h"
