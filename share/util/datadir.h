/*
 * datadir.h — where lmpipe's installed data (GPT-2's rank table, ...) is.
 *
 * A data file NAME is looked for, in order, in $LMPIPE_DATA_DIR, in the
 * build tree beside the running executable (BUILD/rel/bin/../../data, where
 * `make` puts fetched data), and in the installed LMPIPE_DATADIR
 * ($(PREFIX)/share/lmpipe). Never in the project's test data.
 */
#ifndef LMPIPE_DATADIR_H
#define LMPIPE_DATADIR_H

#include <stddef.h>

/* The first readable PATH for NAME (written into path[cap]), or NULL. */
const char *datadir_find(const char *name, char *path, size_t cap);

#endif
