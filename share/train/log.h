/*
 * log.h — the training log: JSON lines, written by lm-train, read by lm-stat.
 *
 * The first line describes the run:
 *     {"run": "NAME", "config": {...model config...}, "batch_tokens": N, ...}
 * then one object a step, and one an evaluation, with the fields that apply:
 *     {"step": 10, "tokens": 5242880, "loss": 6.12, "lr": 6e-05,
 *      "grad_norm": 1.9, "ms": 412.0, "tok_s": 1272000, "mfu": 0.41}
 *     {"step": 250, "tokens": 131072000, "val_loss": 4.02, "hellaswag": 0.27}
 * A field that does not apply is absent (NaN in log_record). Readers ignore
 * fields they do not know, so the format can grow.
 */
#ifndef LMPIPE_TRAIN_LOG_H
#define LMPIPE_TRAIN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
	long step;
	double tokens;      /* tokens trained on so far, all ranks */
	double loss;        /* train loss of this step */
	double val_loss;
	double hellaswag;   /* acc_norm, 0..1 */
	double lr;
	double grad_norm;
	double ms;          /* wall time of the step */
	double tok_s;
	double mfu;         /* 0..1 */
} log_record;

/* A record with every measurement absent (NaN). */
log_record log_record_empty(long step, double tokens);

typedef struct {
	FILE *fp;
	char *path;
} train_log;

/* Open PATH for appending (a resumed run continues its log). */
int train_log_open(train_log *log, const char *path);
/* Before a resumed run appends to PATH: a last line without its newline (a
 * crash mid-write) is cut off, so the next record starts a line of its own.
 * *dropped gets the bytes removed (0: the log was whole, or is absent). */
int train_log_repair(const char *path, long *dropped);
/* The run line: NAME, the model config as JSON text, extra fields as a JSON
 * object text (or NULL). */
int train_log_run(train_log *log, const char *name, const char *config_json,
		  const char *extra_json);
/* One record, flushed, so a killed run keeps every line it wrote. */
int train_log_write(train_log *log, const log_record *r);
int train_log_close(train_log *log);

/* A whole log read back: the run's name and config, every record. */
typedef struct {
	char *path;
	char *name;             /* from the run line, else the file name */
	char *config_json;      /* NULL if no run line */
	log_record *records;
	size_t n_records;
	long torn_line;         /* the torn last line left out (a crash mid-write), 0 none */
} run_log;

/* Read PATH; lines that are not JSON objects are an error naming the line,
 * and so is an empty file or one that cannot be read (a directory), except
 * a last line without its newline: torn by a crash mid-write, it is left
 * out and its number put in torn_line.
 * A run that was resumed has several run lines: later ones are skipped, and
 * records that repeat an earlier step replace it (the resumed run redid it). */
int run_log_read(run_log *run, const char *path);
void run_log_free(run_log *run);

#endif
