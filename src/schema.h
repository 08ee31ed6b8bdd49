/* schema.h - document schemas for strict collections. Internal.
 *
 * A schema is the key set and JSON types of a document, recursively (see
 * "Strict schemas" in zippy.h). Its canonical text is compact JSON with
 * keys sorted by byte order; two documents have the same schema exactly
 * when their canonical texts are equal. */
#ifndef ZIPPY_SCHEMA_H
#define ZIPPY_SCHEMA_H

#include "json.h"

/* Appends the canonical schema text of object obj to out. With skip_id the
 * top-level "_id" member is left out (log lines carry it). A key repeated
 * in one object counts once, with its last value. */
int zs_of(const zj_val *obj, int skip_id, zippy_buf *out);

/* Appends the canonical text of a schema given as a parsed value (as stored
 * in meta/schema.json) to out. ZIPPY_ECORRUPT if it is not a schema. */
int zs_canon(const zj_val *schema, zippy_buf *out);

/* Appends to msg a description of how schema `got` differs from `want`
 * (both canonical texts): missing, unexpected and retyped fields by dot
 * path, at most a few, then a count of the rest. */
int zs_diff(const char *want, size_t wlen, const char *got, size_t glen, zippy_buf *msg);

#endif
