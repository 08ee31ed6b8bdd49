/* convert.h - in-place layout conversion (zippy_coll_convert). Internal. */
#ifndef ZIPPY_CONVERT_H
#define ZIPPY_CONVERT_H

/* Finishes or undoes conversions of the store at root_path that a crash
 * interrupted (see convert.c). Run by writable root opens. */
int zc_recover(const char *root_path);

#endif
