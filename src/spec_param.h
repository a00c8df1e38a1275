/*
 * spec_param: a run spec's parts and their values: the parameter
 * definitions every catalog entry lists (struct param_def), the values a
 * spec holds, and their parsing and lookups.  Workloads and models read
 * their parameters through it; spec.h checks a spec against the catalogs.
 *
 * Values are given in the CLI's text form ("200ms", "4", "on").  JSON
 * numbers are accepted by the server by formatting them as text first; a
 * bare number for a duration means milliseconds.
 */
#ifndef OVERLAP_SPEC_PARAM_H
#define OVERLAP_SPEC_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct param_def {
	const char *name;
	enum param_type type;
	const char *unit;    /* "tasks", "ms", "bytes", "" */
	const char *def;     /* default, in text form; "" means unset */
	double min, max;     /* see enum param_type */
	const char *choices; /* PARAM_ENUM only: "a|b|c" */
	const char *help;    /* one line */
};

/* A run's disk budget: the bytes its disk steps read and write, in all
 * tasks together (the files workload's files x size, a custom program's
 * disk steps), so no run can fill the disk. */
#define SPEC_MAX_DISK_BYTES (1024LL * 1024 * 1024)

/* The longest text value (a step program, a list of durations). */
#define SPEC_TEXT_MAX 4096

struct param_value {
	const struct param_def *def;  /* borrowed from the catalog */
	bool given;		      /* set by the user, not the default */
	int64_t i;		      /* PARAM_INT, PARAM_DURATION (ns) */
	double f;		      /* PARAM_FLOAT */
	char text[SPEC_TEXT_MAX + 1]; /* PARAM_ENUM, PARAM_TEXT; also the
				       * raw text of every value as given */
};

#define SPEC_MAX_VALUES 24

struct param_set {
	size_t count;
	struct param_value values[SPEC_MAX_VALUES];
};

/* The engines a spec may name (struct spec.engine). */
#define SPEC_ENGINE_OVERLAP "overlap" /* this program's models */
#define SPEC_ENGINE_CPYTHON "cpython" /* a real interpreter (cpython.h) */

struct spec {
	char id[40];		  /* run id, set by the caller (may be "") */
	char workload[32];	  /* catalog name */
	char model[32];		  /* catalog name */
	char engine[16];	  /* SPEC_ENGINE_*; spec_init sets overlap */
	char python[256];	  /* cpython: the interpreter; "" is python3
				   * on PATH.  The server allows only the
				   * interpreters it found itself. */
	struct param_set params;  /* the workload's parameters */
	struct param_set options; /* the model's options */
};

/* A user-facing error: field names the parameter ("params.tasks",
 * "options.workers", "workload", "model"); message says what is wrong and the
 * limit ("tasks: at most 100000, got 200000"); column is 1-based for errors
 * inside a text value such as a step program, 0 otherwise. */
struct spec_error {
	char field[64];
	char message[256];
	int column;
};

/* Lookups by name; the name must exist (a programming error aborts). */
int64_t spec_int(const struct param_set *set, const char *name);
int64_t spec_ns(const struct param_set *set, const char *name);
double spec_float(const struct param_set *set, const char *name);
const char *spec_text(const struct param_set *set, const char *name);
bool spec_given(const struct param_set *set, const char *name);
const struct param_value *spec_find(const struct param_set *set,
				    const char *name);

/* Parses one value of a definition into out without touching a spec. */
int spec_parse_value(const struct param_def *def, const char *text,
		     struct param_value *out, struct spec_error *err,
		     const char *field_prefix);

/* What spec.c shares with this file. */
/* Fills err (when not NULL) with field and the formatted message;
 * returns rc.  Every user-facing error of a spec is written with it. */
__attribute__((format(printf, 4, 5))) int spec_fail(struct spec_error *err,
						    int rc, const char *field,
						    const char *fmt, ...);
/* A user's text for a one-line message: itself when short, else its first
 * 36 bytes and "...", in buf.  Returns buf. */
const char *spec_quoted(const char *text, char *buf, size_t size);
/* A whole number written strictly (no hex, no junk; "1e6" and "4.0" are
 * whole).  0, or -EINVAL / -ERANGE. */
int spec_parse_int(const char *s, int64_t *out);
/* Appends to set a value for each of defs[0..n), at its default; a bad
 * default in a catalog aborts. */
void spec_fill_defaults(struct param_set *set, const struct param_def *defs,
			size_t n);

#endif
