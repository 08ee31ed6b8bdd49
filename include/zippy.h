/* zippy.h - the public API of libzippy, a human-readable document store.
 *
 * A *root* directory holds *collections*; a collection holds JSON documents
 * (objects) keyed by string ids. Every front end (CLI, Python, Node, DuckDB)
 * uses only this header.
 *
 * Conventions
 *  - Handles are opaque. Every open/create has a close; close accepts NULL.
 *  - Functions return an int: ZIPPY_OK (0) or a negative ZIPPY_E* code.
 *    Outputs go through `out` parameters, set only on success.
 *  - After a failure, zippy_errmsg() gives a message for the calling thread
 *    that names the store, collection, id or byte offset involved.
 *  - Ids and documents are passed as (pointer, length); they need not be
 *    NUL-terminated. Documents are UTF-8 JSON text (RFC 8259).
 *  - Returned memory: each comment says who owns it. zippy_buf results are
 *    owned by the caller and reused across calls (free with zippy_buf_free).
 *  - Handles may be used from several threads at once.
 *
 * Versions are kept apart: the API version (ZIPPY_VERSION_*), the ABI
 * version (soname libzippy.so.ZIPPY_ABI_VERSION) and the on-disk format
 * version (ZIPPY_FORMAT_VERSION, described in docs/FORMAT.md).
 */
#ifndef ZIPPY_H
#define ZIPPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ZIPPY_EXTERN __attribute__((visibility("default")))
#else
#define ZIPPY_EXTERN
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define ZIPPY_VERSION_MAJOR 0
#define ZIPPY_VERSION_MINOR 2
#define ZIPPY_VERSION_PATCH 0
#define ZIPPY_VERSION_STRING "0.2.0"
#define ZIPPY_VERSION_NUMBER                                                   \
    (ZIPPY_VERSION_MAJOR * 10000 + ZIPPY_VERSION_MINOR * 100 +                 \
     ZIPPY_VERSION_PATCH)
#define ZIPPY_ABI_VERSION 1    /* bumped on any incompatible ABI change */
#define ZIPPY_FORMAT_VERSION 1 /* on-disk format written by this library */

/* Run-time versions (of the library actually linked). Static strings. */
ZIPPY_EXTERN const char *zippy_version(void);
ZIPPY_EXTERN int zippy_version_number(void);
ZIPPY_EXTERN int zippy_format_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

enum {
    ZIPPY_OK = 0,
    ZIPPY_ENOTFOUND = -1, /* no such document / collection / store */
    ZIPPY_EEXISTS = -2,   /* target already exists */
    ZIPPY_EINVAL = -3,    /* bad argument: invalid id, malformed JSON, ... */
    ZIPPY_ECORRUPT = -4,  /* data failed a checksum or structural check */
    ZIPPY_ELOCKED = -5,   /* another process holds the writer lock */
    ZIPPY_EIO = -6,       /* an operating-system I/O call failed */
    ZIPPY_ENOMEM = -7,    /* allocation failed */
    ZIPPY_EREADONLY = -8, /* write through a read-only handle or store */
    ZIPPY_ESCHEMA = -9,   /* strict-mode schema mismatch */
    ZIPPY_ENOSPC = -10,   /* disk full (nothing was lost: retry later) */
    ZIPPY_ETOOBIG = -11,  /* input over a documented size limit */
    ZIPPY_ECLOSED = -12,  /* handle already closed */
    ZIPPY_EBUSY = -13,    /* state changed under an iterator (compaction) */
    ZIPPY_EUNSUPPORTED = -14 /* feature or format version not supported */
};

/* Short static description of a code (also accepts positive errno values). */
ZIPPY_EXTERN const char *zippy_strerror(int code);
/* Message of the last failure on the calling thread. Owned by the library,
 * valid until the thread's next zippy call. Never NULL. */
ZIPPY_EXTERN const char *zippy_errmsg(void);
/* Code of the last failure on the calling thread (0 if none). */
ZIPPY_EXTERN int zippy_errcode(void);

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

/* Caller-owned growable byte buffer. Initialise with ZIPPY_BUF_INIT; the
 * library grows it as needed and leaves a NUL after ptr[len] (not counted).
 * Reuse it across calls to avoid allocations; release with zippy_buf_free. */
typedef struct zippy_buf {
    char *ptr;
    size_t len;
    size_t cap;
} zippy_buf;
#define ZIPPY_BUF_INIT {NULL, 0, 0}
ZIPPY_EXTERN void zippy_buf_free(zippy_buf *buf);

/* Frees a NULL-terminated string vector returned by the library. */
ZIPPY_EXTERN void zippy_strv_free(char **strv);

/* Replaces the allocator used for every allocation the library makes
 * (for tests and embedding). Call before any other function. Passing NULLs
 * restores malloc/realloc/free. */
typedef struct zippy_allocator {
    void *(*malloc_fn)(size_t);
    void *(*realloc_fn)(void *, size_t);
    void (*free_fn)(void *);
} zippy_allocator;
ZIPPY_EXTERN void zippy_set_allocator(const zippy_allocator *a);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/* When writes become durable. */
typedef enum zippy_sync_mode {
    ZIPPY_SYNC_NONE = 0,   /* never fsync: the OS decides (fastest) */
    ZIPPY_SYNC_FLUSH = 1,  /* fdatasync on flush() and close() (default) */
    ZIPPY_SYNC_ALWAYS = 2  /* every put/delete is durable on return; writes
                              from concurrent threads share one fdatasync.
                              If that sync fails the call returns the error
                              but the write stays applied (visible); a later
                              successful flush makes it durable */
} zippy_sync_mode;

/* Storage layout of a collection (docs/FORMAT.md 2 and 2a). Every call
 * works the same on both. With FILES each document is a pretty-printed file
 * docs/<id>.json (for git and hand editing: files edited, added or removed
 * by hand are seen at the next open or zippy_coll_refresh; an invalid file
 * fails them with ZIPPY_ECORRUPT naming it); a flush is recoverable, not
 * atomic: after a crash each document is its old or its new version. */
typedef enum zippy_layout {
    ZIPPY_LAYOUT_DEFAULT = 0, /* keep the collection's; JSONL for new ones */
    ZIPPY_LAYOUT_JSONL = 1,   /* meta/data.jsonl + meta/index.bin */
    ZIPPY_LAYOUT_FILES = 2    /* docs/<id>.json, one file per document */
} zippy_layout;

#define ZIPPY_OPEN_READONLY 0x1u /* never write: refuse puts, change no file */
#define ZIPPY_OPEN_CREATE 0x2u   /* create the root / collection if missing */

/* Progress callback for long operations: done and total in bytes of data
 * (total 0 if unknown). Called from the calling thread, with the
 * collection's locks held: it must not call back into the library. */
typedef void (*zippy_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Versioned options: initialise with ZIPPY_OPTIONS_INIT, then set fields.
 * Newer libraries accept older `version`s. */
#define ZIPPY_OPTIONS_VERSION 1
typedef struct zippy_options {
    unsigned version;
    unsigned flags;          /* ZIPPY_OPEN_* */
    zippy_sync_mode sync;    /* durability mode of writers */
    int strict;              /* strict schema (see "Strict schemas") */
    zippy_layout layout;     /* new collections: storage layout (existing
                                ones keep theirs) */
    zippy_progress_fn progress; /* optional, for long operations */
    void *progress_ctx;
} zippy_options;
#define ZIPPY_OPTIONS_INIT                                                     \
    {ZIPPY_OPTIONS_VERSION, ZIPPY_OPEN_CREATE, ZIPPY_SYNC_FLUSH, 0,            \
     ZIPPY_LAYOUT_DEFAULT, NULL, NULL}

/* ------------------------------------------------------------------ */
/* Root                                                                */
/* ------------------------------------------------------------------ */

typedef struct zippy_root zippy_root;

/* Opens the store at `path` (a directory with zds.json and collections/).
 * With ZIPPY_OPEN_CREATE a missing store is created (zds.json written).
 * opts may be NULL (defaults). Stores written by ZDS 0.1.x open too.
 * A path that is a regular file is opened as a .zds/.zip archive in place,
 * read-only whatever opts say (writes fail with ZIPPY_EREADONLY): the
 * archive is validated first (docs/FORMAT.md 5.2), STORE entries are read
 * through the mapping, DEFLATE ones inflated once. */
ZIPPY_EXTERN int zippy_root_open(zippy_root **out, const char *path,
                                 const zippy_options *opts);
/* Closes the root. Collections opened from it stay valid until closed. */
ZIPPY_EXTERN void zippy_root_close(zippy_root *root);
/* The root's path as given to open. Owned by the handle. */
ZIPPY_EXTERN const char *zippy_root_path(const zippy_root *root);
/* 1 if collections may be written through this root; 0 if it was opened
 * read-only or is an archive opened in place (see zippy_root_open). */
ZIPPY_EXTERN int zippy_root_writable(const zippy_root *root);
/* Sets the dataset name / description recorded in zds.json. */
ZIPPY_EXTERN int zippy_root_set_info(zippy_root *root, const char *name,
                                     const char *description);
/* Names of the collections, sorted. *out is a NULL-terminated vector owned
 * by the caller (zippy_strv_free); *count may be NULL. */
ZIPPY_EXTERN int zippy_root_list(zippy_root *root, char ***out,
                                 size_t *count);
/* 1 if the collection exists, 0 if not, or a negative error. */
ZIPPY_EXTERN int zippy_root_has(zippy_root *root, const char *name);
/* Writes the content of zds.json (counts refreshed) into out. */
ZIPPY_EXTERN int zippy_root_info_json(zippy_root *root, zippy_buf *out);
/* Removes a collection and its files. Fails with ZIPPY_ELOCKED while it
 * is open anywhere. */
ZIPPY_EXTERN int zippy_root_drop(zippy_root *root, const char *name);

/* ------------------------------------------------------------------ */
/* Collection                                                          */
/* ------------------------------------------------------------------ */

typedef struct zippy_coll zippy_coll;

/* ZIPPY_OK if name is a valid collection name (see zippy_coll_open), else
 * ZIPPY_EINVAL with a message naming it. */
ZIPPY_EXTERN int zippy_coll_name_valid(const char *name);

/* Opens collection `name` (1-64 bytes of [A-Za-z0-9_.-], not starting
 * with '.'). opts NULL: the root's options. A writable open takes the
 * collection's writer lock (ZIPPY_ELOCKED names the holder's pid when
 * another process has it); handles opened in one process share one engine,
 * so a write through one is visible through all at once. */
ZIPPY_EXTERN int zippy_coll_open(zippy_coll **out, zippy_root *root,
                                 const char *name, const zippy_options *opts);
/* Flushes (as zippy_coll_flush) and releases the handle. Returns the flush
 * result; the handle is released either way. NULL is fine. When the last
 * handle of a collection in this process closes and that final flush fails
 * (e.g. ZIPPY_ENOSPC), writes not yet flushed are lost: call
 * zippy_coll_flush first and retry it until it succeeds if they matter.
 * Scans opened from the handle stay usable until they are closed. */
ZIPPY_EXTERN int zippy_coll_close(zippy_coll *coll);
/* Makes every earlier write durable per the sync mode: writes the log,
 * fdatasyncs it (unless ZIPPY_SYNC_NONE) and checkpoints the index and
 * manifest crash-safely when enough changed since the last checkpoint. */
ZIPPY_EXTERN int zippy_coll_flush(zippy_coll *coll);
/* Read-only handles: picks up writes made by other processes since open. */
ZIPPY_EXTERN int zippy_coll_refresh(zippy_coll *coll);
/* Name of the collection. Owned by the handle. */
ZIPPY_EXTERN const char *zippy_coll_name(const zippy_coll *coll);
/* 1 if this handle may write, else 0. */
ZIPPY_EXTERN int zippy_coll_writable(const zippy_coll *coll);

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

#define ZIPPY_ID_MAX 255      /* bytes */
#define ZIPPY_DOC_MAX (64u << 20) /* bytes of JSON per document */

/* Checks an id: 1-255 bytes of UTF-8 letters/digits (any script, with
 * combining marks after the first character) and _ - . @ : + = ; not
 * starting with '.', no "..". ZIPPY_OK or ZIPPY_EINVAL. */
ZIPPY_EXTERN int zippy_id_valid(const char *id, size_t idlen);

/* Stores `json` (a JSON object) under `id`, replacing any earlier version.
 * A top-level "_id" in json must equal id (it is not stored twice); the
 * top-level key "$deleted" is reserved. Key order is kept. */
ZIPPY_EXTERN int zippy_put(zippy_coll *coll, const char *id, size_t idlen,
                           const char *json, size_t len);

#define ZIPPY_GET_WITH_ID 0x1u /* include "_id" as the first key */
/* Reads document `id` as compact JSON into out (replacing its content).
 * ZIPPY_ENOTFOUND if absent; ZIPPY_ECORRUPT if its bytes fail their
 * checksum (never served). */
ZIPPY_EXTERN int zippy_get(zippy_coll *coll, const char *id, size_t idlen,
                           unsigned flags, zippy_buf *out);
/* 1 if present, 0 if not, or a negative error (ZIPPY_ECORRUPT when its
 * line fails its checksum, as for zippy_get). */
ZIPPY_EXTERN int zippy_exists(zippy_coll *coll, const char *id, size_t idlen);
/* Deletes `id`; ZIPPY_ENOTFOUND if absent. */
ZIPPY_EXTERN int zippy_delete(zippy_coll *coll, const char *id, size_t idlen);
/* Number of live documents. */
ZIPPY_EXTERN int zippy_count(zippy_coll *coll, uint64_t *out);
/* Live ids sorted by byte order: NULL-terminated vector owned by the
 * caller (zippy_strv_free); *count may be NULL. */
ZIPPY_EXTERN int zippy_ids(zippy_coll *coll, char ***out, size_t *count);

/* Writes many documents at once from JSONL text (one object per line, the
 * last line may lack its newline; blank lines are skipped). With ids NULL
 * each line's top-level "_id" is its id; otherwise ids[i] (of idlens[i]
 * bytes) names line i and nids must equal the number of lines. On error
 * nothing after the failing line is written and the message names its line
 * number; *written (may be NULL) counts lines stored. */
ZIPPY_EXTERN int zippy_put_jsonl(zippy_coll *coll, const char *data,
                                 size_t len, const char *const *ids,
                                 const size_t *idlens, size_t nids,
                                 uint64_t *written);

/* The document at position `index` (0-based) of the scan order (insertion
 * order; an updated document takes the place of its latest write). id_out
 * (may be NULL) receives the id, doc_out the compact JSON as zippy_get.
 * ZIPPY_ENOTFOUND if index >= count. The first call after a write builds
 * the order in O(n log n); later calls are O(1). */
ZIPPY_EXTERN int zippy_get_at(zippy_coll *coll, uint64_t index, unsigned flags,
                              zippy_buf *id_out, zippy_buf *doc_out);

/* ------------------------------------------------------------------ */
/* Scans                                                               */
/* ------------------------------------------------------------------ */

typedef struct zippy_scan zippy_scan;

#define ZIPPY_SCAN_WITH_ID 0x1u  /* rows include "_id" as the first key */
#define ZIPPY_SCAN_IDS_ONLY 0x2u /* rows carry ids only (doc is NULL) */

#define ZIPPY_SCAN_OPTIONS_VERSION 1
typedef struct zippy_scan_options {
    unsigned version;
    unsigned flags;         /* ZIPPY_SCAN_* */
    const char *filter;     /* Mongo-style JSON filter, NULL for all */
    size_t filter_len;      /* 0: strlen(filter) */
    const char *fields;     /* projection "a,b.c" (dot paths), NULL for all */
    uint64_t limit;         /* 0: no limit */
    uint64_t skip;          /* rows to skip after filtering */
} zippy_scan_options;
#define ZIPPY_SCAN_OPTIONS_INIT {ZIPPY_SCAN_OPTIONS_VERSION, 0, NULL, 0, NULL, 0, 0}

/* Starts a scan over the live documents in insertion order (an updated
 * document takes the place of its latest write). The scan sees the
 * collection as of this call. ZIPPY_EINVAL names a bad filter or field. */
ZIPPY_EXTERN int zippy_scan_open(zippy_scan **out, zippy_coll *coll,
                                 const zippy_scan_options *opts);
/* Next row: returns 1 and sets the out pointers, 0 at the end, or a
 * negative error (ZIPPY_ECORRUPT names the id and byte offset; ZIPPY_EBUSY
 * if the collection was compacted meanwhile). Pointers are owned by the
 * scan and valid until the next call or close. id is not NUL-terminated;
 * doc is compact JSON (projected if fields were given). */
ZIPPY_EXTERN int zippy_scan_next(zippy_scan *scan, const char **id,
                                 size_t *idlen, const char **doc,
                                 size_t *doclen);
ZIPPY_EXTERN void zippy_scan_close(zippy_scan *scan);

/* ------------------------------------------------------------------ */
/* Strict schemas                                                      */
/* ------------------------------------------------------------------ */

/* A document's schema is its key set and JSON types, recursively: an object
 * maps each key to the schema of its value; arrays are "array" (elements
 * are not inspected); other values are "string", "number", "boolean" or
 * "null". Key order does not matter. Its canonical text is compact JSON
 * with keys sorted by byte order, e.g. {"age":"number","tags":"array"}.
 *
 * A strict collection (zippy_options.strict when it is created, or on an
 * empty collection) takes its schema from its first document and refuses
 * any later document with another schema with ZIPPY_ESCHEMA, whose message
 * starts "Schema mismatch:" and names every difference. Opening an existing
 * flexible collection with strict set makes it strict if all its documents
 * share one schema (else ZIPPY_ESCHEMA). Mode and schema persist. */

/* Canonical schema text of the JSON object json[0..len) into out. */
ZIPPY_EXTERN int zippy_schema_of(const char *json, size_t len, zippy_buf *out);
/* The collection's schema text into out: ZIPPY_OK if it is strict and has
 * one, ZIPPY_ENOTFOUND if it is strict with no document yet or flexible
 * (then zippy_coll_strict tells which). */
ZIPPY_EXTERN int zippy_coll_schema(zippy_coll *coll, zippy_buf *out);
/* 1 if the collection is strict, 0 if flexible, or a negative error. */
ZIPPY_EXTERN int zippy_coll_strict(zippy_coll *coll);

/* ------------------------------------------------------------------ */
/* JSON for front ends                                                 */
/* ------------------------------------------------------------------ */

/* Callbacks of zippy_json_visit, in document order. A callback returning
 * non-zero stops the walk; zippy_json_visit then returns that value.
 * Strings and keys are decoded UTF-8 (escapes resolved; may contain NUL),
 * valid only during the call. Numbers come as their exact text; is_int is
 * 1 when the text has no fraction and no exponent. begin_* get the number
 * of members or items that follow. */
typedef struct zippy_json_visitor {
    int (*begin_object)(void *ctx, size_t members);
    int (*key)(void *ctx, const char *key, size_t len);
    int (*end_object)(void *ctx);
    int (*begin_array)(void *ctx, size_t items);
    int (*end_array)(void *ctx);
    int (*string)(void *ctx, const char *s, size_t len);
    int (*number)(void *ctx, const char *text, size_t len, int is_int);
    int (*boolean)(void *ctx, int value);
    int (*null)(void *ctx);
} zippy_json_visitor;
/* Parses json[0..len) (one strict RFC 8259 value, nesting up to 256) and
 * walks it. ZIPPY_EINVAL with a message giving line and column if it is
 * not valid JSON; nothing is visited then. Every callback must be set. */
ZIPPY_EXTERN int zippy_json_visit(const char *json, size_t len,
                                  const zippy_json_visitor *v, void *ctx);

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */
/* ------------------------------------------------------------------ */

typedef struct zippy_stats {
    uint64_t count;        /* live documents */
    uint64_t log_bytes;    /* size of the data log */
    uint64_t live_bytes;   /* bytes of live lines (incl. newline) */
    uint64_t log_lines;    /* lines in the log, including dead ones */
    uint64_t index_bytes;  /* size of the index file */
    uint64_t indexed_bytes;/* log bytes the index covers */
    int layout;            /* zippy_layout */
    int strict;
    int legacy;            /* 1 if the on-disk format is ZDS 0.1.x */
} zippy_stats;
/* Fills *out. Reads the whole log (to count dead lines). */
ZIPPY_EXTERN int zippy_coll_stats(zippy_coll *coll, zippy_stats *out);

/* Rewrites the log with live documents only, crash-safely (see
 * docs/FORMAT.md). Stops with ZIPPY_ECORRUPT, changing nothing, if a line
 * cannot be read or fails its checksum. On an I/O failure nothing
 * acknowledged is lost; if it struck after the new log was in place and the
 * in-memory state could not be rebuilt, the handle answers ZIPPY_EIO until
 * it is closed (the next open rebuilds the index). Open scans of the
 * collection end with ZIPPY_EBUSY. */
ZIPPY_EXTERN int zippy_coll_compact(zippy_coll *coll);
/* Rebuilds the index from the log alone. On failure the previous state is
 * kept. */
ZIPPY_EXTERN int zippy_coll_reindex(zippy_coll *coll);

/* Converts collection `name` to `layout` (ZIPPY_LAYOUT_JSONL or
 * ZIPPY_LAYOUT_FILES) in place, crash-safely: the documents are copied in
 * scan order into a new collection, which replaces the old one by renames
 * (docs/FORMAT.md). A crash at any point leaves the old or the new
 * collection, never a mix; the next writable open finishes the job. Fails
 * with ZIPPY_ELOCKED while the collection is open anywhere. Already in that
 * layout: ZIPPY_OK, nothing done. progress is reserved (pass NULL). */
ZIPPY_EXTERN int zippy_coll_convert(zippy_root *root, const char *name,
                                    zippy_layout layout,
                                    zippy_progress_fn progress,
                                    void *progress_ctx);

typedef struct zippy_verify_report {
    uint64_t lines;        /* lines checked */
    uint64_t live;         /* live documents checked */
    uint64_t bad_lines;    /* unparsable lines or checksum mismatches */
    uint64_t index_errors; /* index entries that are wrong or missing */
    uint64_t first_bad_offset; /* byte offset of the first problem */
} zippy_verify_report;
/* Checks every line and every index entry. Returns ZIPPY_OK when clean,
 * ZIPPY_ECORRUPT (message names the first offset/id) when not; *out is
 * filled in both cases. Changes nothing. */
ZIPPY_EXTERN int zippy_coll_verify(zippy_coll *coll, zippy_verify_report *out);

/* ------------------------------------------------------------------ */
/* Archives                                                            */
/* ------------------------------------------------------------------ */

#define ZIPPY_PACK_DEFLATE 0x1u /* compress entries (default: STORE) */
/* Packs the store at root_path into a ZIP file at zip_path (ZIP64 when
 * needed), written to a temporary file and renamed into place. Fails with
 * ZIPPY_EEXISTS if zip_path exists. Collections open for writing in this
 * process are flushed first. */
ZIPPY_EXTERN int zippy_pack(const char *root_path, const char *zip_path,
                            unsigned flags, zippy_progress_fn progress,
                            void *progress_ctx);
/* Extracts a .zds/.zip archive into dest_path, which must not exist. Any
 * entry that would land outside dest (absolute, "..", symlink, duplicate)
 * fails the whole call before anything is written. */
ZIPPY_EXTERN int zippy_unpack(const char *zip_path, const char *dest_path,
                              zippy_progress_fn progress, void *progress_ctx);

#ifdef __cplusplus
}
#endif

#endif /* ZIPPY_H */
