/*
 * datadir.h — where lmpipe's installed data (GPT-2's rank table, HellaSwag's
 * validation items, ...) is.
 *
 * A data file NAME is looked for, in order, in $LMPIPE_DATA_DIR, in the
 * build tree beside the running executable (BUILD/rel/bin/../../data, where
 * `make` puts fetched data), and in the installed LMPIPE_DATADIR
 * ($(PREFIX)/share/lmpipe). Never in the project's test data. Every tool
 * searches through here, so they all find the same file.
 */
#ifndef LMPIPE_DATADIR_H
#define LMPIPE_DATADIR_H

#include <stddef.h>

/* The installed data's directory; the Makefile sets it from PREFIX. */
#ifndef LMPIPE_DATADIR
#define LMPIPE_DATADIR "/usr/local/share/lmpipe"
#endif

/* HellaSwag's validation items: lm-eval hellaswag's default --data, and
 * lm-train's default --hellaswag. */
#define DATADIR_HELLASWAG "hellaswag_val.jsonl"

/* The first readable PATH for NAME (written into path[cap]), or NULL with
 * an error recorded that names the places searched. */
const char *datadir_find(const char *name, char *path, size_t cap);

/* datadir_find(DATADIR_HELLASWAG, ...): the one HellaSwag search. */
const char *datadir_hellaswag(char *path, size_t cap);

#endif
