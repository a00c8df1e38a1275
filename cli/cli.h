/*
 * cli: what the `overlap` subcommands share: their exit codes, the
 * options of run and compare (parsed once into struct run_args), the one
 * line of bad usage that names the option the user typed, and the output
 * (formats, the ASCII timeline's width and glyphs, --out).
 *
 * Every value a user gives is kept as text, in the order given, and goes
 * to spec_set() (src/spec.h), so the CLI, the server and the page share
 * one validation and one set of error messages; the CLI only translates a
 * field ("params.tasks") back into the option typed ("--tasks").  Only
 * main() exits: a subcommand returns its exit code.
 */
#ifndef OVERLAP_CLI_H
#define OVERLAP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "spec.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_RUN_FAILED 1 /* the run ended in error, deadlock, cancel */
#define EXIT_USAGE 2

#define CLI_MAX_SETS 64

/* One value for the spec, in the order given, with the option that carried
 * it, so an error can name that option. */
struct set_arg {
	char option[16]; /* "--tasks", or "--set" */
	char key[64];
	const char *value;
};

struct run_args {
	const char *workload;
	const char *model;
	const char *models;  /* compare, sweep */
	const char *engines; /* --engine: run one name, compare a list */
	const char *python;  /* --python: the interpreter of engine cpython */
	const char *param;   /* sweep: NAME=v1,v2,... */
	const char *format;
	const char *out;
	const char *spec_path;
	const char *id;
	int width; /* 0: find out */
	bool plain;
	struct set_arg sets[CLI_MAX_SETS];
	size_t n_sets;
};

/* getopt_long values of the long options (above any character). */
enum {
	OPT_WORKLOAD = 256,
	OPT_MODEL,
	OPT_MODELS,
	OPT_PARAM,
	OPT_SET,
	OPT_TASKS,
	OPT_DURATION,
	OPT_WORKERS,
	OPT_GIL,
	OPT_FORMAT,
	OPT_OUT,
	OPT_SPEC,
	OPT_ID,
	OPT_WIDTH,
	OPT_PLAIN,
	OPT_JSON,
	OPT_HELP,
	OPT_VERSION,
	OPT_ENGINE,
	OPT_PYTHON,
};

enum cli_format { FMT_ASCII, FMT_JSON, FMT_CHROME, FMT_EVENTS };

/* "overlap run" in messages; each subcommand sets it first. */
extern const char *cli_cmd_name;

/* Prints "CMD: message" on stderr; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int cli_usage_error(const char *fmt, ...);

/* Parses run's or compare's options (opts) into a.  Returns 0,
 * EXIT_USAGE (printed), or -1 when --help/--version was answered. */
int cli_parse_run_args(int argc, char **argv, const struct option *opts,
		       const char *usage, struct run_args *a);

/* Prints a spec error as one usage line naming the option the user typed:
 * "overlap run: --tasks: must be at most 100000 (got 200000)".  Returns
 * EXIT_USAGE. */
int cli_spec_usage_error(const struct run_args *a,
			 const struct spec_error *err);

/* Applies a's values to spec.  For compare (lenient), the values go through
 * the compare plan (plan_set: a model option the model does not have is
 * left out).  Returns 0 or EXIT_USAGE (printed). */
int cli_apply_sets(const struct run_args *a, struct spec *spec, bool lenient);

/* Sets spec's engine (engine: "overlap" or "cpython"; NULL keeps the
 * spec's) and a's --python.  0 or EXIT_USAGE (printed). */
int cli_apply_engine(const struct run_args *a, struct spec *spec,
		     const char *engine);

/* --format, or the default for out (ascii on a terminal, json otherwise).
 * compare takes ascii and json only.  0 or EXIT_USAGE (printed). */
int cli_parse_format(const char *text, bool compare, FILE *out,
		     enum cli_format *fmt);

/* Columns for the ASCII timeline: --width, the terminal, $COLUMNS, 100. */
int cli_ascii_width(const struct run_args *a, FILE *out);
/* Box-drawing glyphs only where the locale says UTF-8 and not --plain. */
bool cli_ascii_unicode(const struct run_args *a);

/* --out, or standard output; NULL (printed) when it cannot be opened.
 * --out is written through a temporary file beside it ("FILE.tmp-XXXXXX")
 * that cli_close_out() renames over FILE once it is whole. */
FILE *cli_open_out(const struct run_args *a);
/* Flushes and closes (standard output is only flushed), and puts the
 * file in place.  0 or -EIO (printed; the temporary file is removed). */
int cli_close_out(FILE *f);
/* Closes without putting anything in place (an output never written). */
void cli_discard_out(FILE *f);
/* Writes a streamed export (render.h) and a newline, and frees it.  0,
 * -ENOMEM (s NULL) or -EIO. */
struct render_stream;
int cli_print_stream(FILE *f, struct render_stream *s);
/* Prints obj indented and steals it.  0, -ENOMEM (obj NULL) or -EIO. */
int cli_print_json(FILE *f, json_t *obj);

/* The subcommands, one file each (cmd_*.c): argv[0] is the subcommand's
 * name; they return the exit code. */
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_workloads(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
