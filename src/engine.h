/* engine.h - the collection engine shared by all handles of one process.
 * Internal. One zengine per collection directory per process (found through
 * a registry keyed by the directory's real path), reference counted; the
 * public zippy_coll handles point to it. */
#ifndef ZIPPY_ENGINE_H
#define ZIPPY_ENGINE_H

#include <pthread.h>
#include <stdint.h>

#include "files.h"
#include "index.h"
#include "json.h"
#include "zippy.h"

/* One entry of the in-memory overlay: changes since the index checkpoint
 * (or, with no usable index, the whole live set). Entries are appended in
 * first-write order (dense, sequential); a table of (hash, entry) slots
 * finds them, so an insert touches one random 16-byte slot. */
typedef struct ov_entry {
    uint64_t hash;      /* zi_hash of the id */
    uint64_t off;       /* line offset in the log */
    uint64_t base_slot; /* slot of this id in the base index, or OV_NONE */
    uint32_t len, crc;  /* line length without '\n', checksum */
    uint32_t id_off;    /* id bytes in the overlay's id arena */
    uint16_t idlen;
    uint8_t deleted;    /* the latest write of this id is a delete */
    uint8_t pad;
} ov_entry;
#define OV_NONE UINT64_MAX

/* A slot: the high 32 bits of the id hash as a tag, and the entry's index
 * + 1 (0 = empty). 8 bytes, so the table stays small enough for caches. */
typedef struct ov_slot {
    uint32_t tag;
    uint32_t ent1;
} ov_slot;

typedef struct ov_map {
    ov_slot *s;
    uint64_t cap;    /* slots, a power of two */
    ov_entry *v;
    uint64_t n, vcap; /* entries */
    char *ids;
    size_t ids_len, ids_cap;
} ov_map;

/* A line superseded while scans were open: still live for those scans. */
typedef struct sup_rec {
    uint64_t key; /* line offset + 1; 0 = empty */
    uint64_t seq; /* wseq of the write that superseded it */
    uint32_t len, crc;
} sup_rec;

typedef struct zengine zengine;
struct zengine {
    /* identity */
    char *dir, *name, *root_path;
    char *data_path, *index_path, *manifest_path, *lock_path, *meta_dir, *schema_path;
    zengine *next; /* registry list */
    int refs;
    int writer_refs;       /* writable handles among refs */
    long pid;              /* process that opened it (fork safety) */
    pthread_rwlock_t rw;   /* state below */
    pthread_mutex_t sync_mu;
    /* files */
    int writable, lock_fd, data_fd;
    uint64_t data_ino;
    uint64_t data_size;    /* bytes written to the file */
    char *wbuf;            /* lines not yet written: offsets data_size.. */
    size_t wlen, wcap;
    uint64_t synced;       /* log bytes known durable */
    int sync_failed;       /* an fdatasync failed since: rewrite before trusting the next */
    char *map;             /* read-only mapping of data.jsonl */
    size_t map_cap;        /* mapped length (>= data_size when map != NULL) */
    /* index */
    zi_index *base;
    ov_map ov;
    uint64_t count;
    uint64_t generation;   /* bumped when offsets change (compact, reindex) */
    uint64_t wseq;         /* bumped by every put/delete */
    int active_scans;      /* open scans (they need sup) */
    sup_rec *sup;          /* lines superseded since the oldest open scan */
    uint64_t sup_cap, sup_n;
    int broken;            /* in-memory state lost: refuse work, never checkpoint */
    int index_gone;        /* index.bin removed by a failed compaction: rewrite it */
    char load_note[512];   /* what a read-only open had to work around (verify reports it) */
    int legacy;            /* lines may be in ZDS 0.1.x form */
    int strict;            /* meta/schema.json exists */
    char *schema;          /* canonical schema text; NULL until the first document */
    size_t schema_len;
    zj_doc *sdoc;          /* parse arena of the strict check (under rw) */
    zippy_buf stxt;        /* schema text of the document being checked */
    int sync_mode;
    /* Positional order for zippy_get_at: the live lines sorted by offset,
     * valid while (generation, log end) are those recorded. */
    pthread_mutex_t order_mu;
    struct live_ent *order;
    size_t norder;
    uint64_t order_gen, order_end;
    int order_ok;
    int dirty;             /* writes since the last checkpoint */
    char created[32];
    int layout;            /* ZIPPY_LAYOUT_JSONL or ZIPPY_LAYOUT_FILES */
    int manifest_layout;   /* layout our manifest records (0: none or foreign) */
    /* Files layout (docs/FORMAT.md 2a): docs/ is the truth; data_path and
     * index_path name the derived cache meta/cache.jsonl + meta/cache.idx,
     * which serves every read as the JSONL layout's log and index do. */
    char *docs_dir, *state_path, *order_path, *docindex_path, *gitignore_path;
    zf_map fstate;         /* docs/ fingerprints as the cache holds them */
    int state_ok;          /* fstate is valid for the cache */
    zf_map pend;           /* ids written to the cache since the last flush */
    int state_fd;          /* meta/files.state, appended at each flush (writer) */
    uint64_t state_size;   /* its bytes through the last good commit */
    uint64_t state_lines;  /* entry lines in it (rewritten when long) */
    int state_tail_dirty;  /* a failed append may have left bytes past state_size */
    uint64_t order_hash;   /* hash of meta/order.ids as last written or read */
    int order_dirty;       /* the scan order changed since order.ids was written */
    int rebuilding;        /* a writer's rebuild may write the cache out early */
    /* Archive-backed (a .zds opened in place, docs/FORMAT.md 5): read-only;
     * the *_path fields are entry names inside the archive, dir is the
     * registry key "<archive real path>!<name>". map points at the log's
     * bytes (zero copy for a STORE entry; ext_owned holds an inflated
     * DEFLATE one); no data fd; remap/munmap/refresh are no-ops. */
    struct zr_archive *zar;
    void *ext_owned;       /* inflated data.jsonl (DEFLATE), or NULL */
    void *ix_owned;        /* inflated index.bin (DEFLATE), or NULL */
};

int ze_acquire(zengine **out, const char *root_path, const char *name,
               const zippy_options *opts, int writable);
void ze_release(zengine *e);
/* Opens collection `name` of the store found under entry prefix `prefix`
 * ("" or "top/") of the archive at archive_path (its real path keys the
 * registry with "!name"): always read-only. root_label names the store in
 * messages and ze_is_open/ze_flush_root. */
int ze_acquire_archive(zengine **out, const char *archive_path, const char *prefix, const char *root_label,
                       const char *name, const zippy_options *opts);
/* Test hooks: the log bytes an open handle reads (the engine's map). */
const char *ze_coll_log_bytes(const zippy_coll *c, size_t *len);
int ze_flush(zengine *e, int force_checkpoint);
/* Makes a writable collection strict (see zippy.h); no-op if it is. */
int ze_make_strict(zengine *e);
/* Flushes every writable engine of this process whose root is root_path. */
int ze_flush_root(const char *root_path);
/* 1 if the collection is open through any handle of this process. */
int ze_is_open(const char *root_path, const char *name);
/* Count for zds.json updates. */
int ze_update_root_manifest(const char *root_path, const char *name,
                            uint64_t count, int layout, int remove);
/* Layout of an open handle's collection (ZIPPY_LAYOUT_JSONL or _FILES). */
int ze_coll_layout(const zippy_coll *c);
/* "jsonl" / "files" */
const char *ze_layout_name(int layout);

/* Valid collection name: 1-64 bytes of [A-Za-z0-9_.-], not starting '.'. */
int ze_name_valid(const char *name);

#endif
