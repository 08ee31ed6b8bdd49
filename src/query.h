/* query.h - scan filters (Mongo-style) and projections. Internal.
 *
 * Filter language (a JSON object):
 *   {"a.b": 5}                    equality (arrays: any element equals, or
 *                                 the whole array equals)
 *   {"age": {"$gt": 25, "$lte": 60}}   $eq $ne $gt $gte $lt $lte
 *   {"x": {"$in": [1,2]}}  $nin  {"x": {"$exists": true}}
 *   {"$and": [f, ...]}  {"$or": [f, ...]}  {"$not": f}  {"x": {"$not": {...}}}
 * Several keys in one object are ANDed. Dot paths walk nested objects;
 * a numeric segment indexes an array; other segments over an array apply
 * to each element (any match). Comparisons ($gt...) only match values of
 * the same JSON type (numbers exactly by value, strings bytewise UTF-8,
 * booleans false<true); $ne/$nin match when the field is missing.
 */
#ifndef ZIPPY_QUERY_H
#define ZIPPY_QUERY_H

#include <stddef.h>

#include "json.h"
#include "zippy.h"

typedef struct zq_filter zq_filter;

/* Parses a filter. On ZIPPY_EINVAL the thread error message names the
 * problem (unknown operator, bad operand, malformed JSON with offset). */
int zq_filter_parse(zq_filter **out, const char *json, size_t len);
/* 1 if doc (the whole stored object, "_id" included) matches, else 0. */
int zq_filter_match(const zq_filter *f, const zj_val *doc);
void zq_filter_free(zq_filter *f);

typedef struct zq_proj zq_proj;

/* Parses a comma-separated list of dot paths ("name,address.city").
 * Empty segments and empty lists are ZIPPY_EINVAL. */
int zq_proj_parse(zq_proj **out, const char *fields, size_t len);
/* Appends the projection of doc as compact JSON to out: only the listed
 * paths, nested structure kept ({"address":{"city":..}}), keys in document
 * order, missing paths omitted. with_id: "_id" first (if doc has it);
 * otherwise "_id" appears only if listed. */
int zq_proj_apply(const zq_proj *p, const zj_val *doc, int with_id,
                  zippy_buf *out);
void zq_proj_free(zq_proj *p);

#endif
