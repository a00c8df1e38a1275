/*
 * cli: the options, errors and output the subcommands share (see cli.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "plan.h"
#include "render.h"
#include "util.h"

const char *cli_cmd_name = "overlap";

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* Long options that are shorthands for --set NAME=VALUE. */
static const struct {
	int opt;
	const char *name;
} shorthand_options[] = {
	{OPT_TASKS, "tasks"},
	{OPT_DURATION, "duration"},
	{OPT_WORKERS, "workers"},
	{OPT_GIL, "gil"},
};

static int add_set(struct run_args *a, const char *option, const char *key,
		   const char *value)
{
	struct set_arg *s;

	if (a->n_sets == CLI_MAX_SETS)
		return cli_usage_error("%s: at most %d values", option,
				       CLI_MAX_SETS);
	s = &a->sets[a->n_sets++];
	util_strlcpy(s->option, option, sizeof(s->option));
	util_strlcpy(s->key, key, sizeof(s->key));
	s->value = value;
	return 0;
}

static int parse_width(const char *text, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 20 || v > 1000)
		return cli_usage_error(
			"--width: must be a whole number from 20 "
			"to 1000 (got '%s')",
			text);
	*out = (int)v;
	return 0;
}

/* Returns 0, EXIT_USAGE, or -1 when --help/--version was answered. */
int cli_parse_run_args(int argc, char **argv, const struct option *opts,
		       const char *usage, struct run_args *a)
{
	int c, rc;
	size_t i;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_WORKLOAD:
			a->workload = optarg;
			break;
		case OPT_MODEL:
			a->model = optarg;
			break;
		case OPT_MODELS:
			a->models = optarg;
			break;
		case OPT_PARAM:
			a->param = optarg;
			break;
		case OPT_SET: {
			const char *eq = strchr(optarg, '=');
			char key[64];

			if (!eq || eq == optarg)
				return cli_usage_error("--set: expected "
						       "KEY=VALUE (got '%s')",
						       optarg);
			if ((size_t)(eq - optarg) >= sizeof(key))
				return cli_usage_error("--set: key too long");
			memcpy(key, optarg, (size_t)(eq - optarg));
			key[eq - optarg] = '\0';
			rc = add_set(a, "--set", key, eq + 1);
			if (rc)
				return rc;
			break;
		}
		case OPT_TASKS:
		case OPT_DURATION:
		case OPT_WORKERS:
		case OPT_GIL:
			for (i = 0; i < sizeof(shorthand_options) /
						sizeof(shorthand_options[0]);
			     i++) {
				char option[32];

				if (shorthand_options[i].opt != c)
					continue;
				snprintf(option, sizeof(option), "--%s",
					 shorthand_options[i].name);
				rc = add_set(a, option,
					     shorthand_options[i].name, optarg);
				if (rc)
					return rc;
			}
			break;
		case OPT_FORMAT:
			a->format = optarg;
			break;
		case OPT_ENGINE:
			a->engines = optarg;
			break;
		case OPT_PYTHON:
			a->python = optarg;
			break;
		case OPT_OUT:
			a->out = optarg;
			break;
		case OPT_SPEC:
			a->spec_path = optarg;
			break;
		case OPT_ID:
			a->id = optarg;
			break;
		case OPT_WIDTH:
			rc = parse_width(optarg, &a->width);
			if (rc)
				return rc;
			break;
		case OPT_PLAIN:
			a->plain = true;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return -1;
		case OPT_VERSION:
			printf("overlap %s\n", OVERLAP_VERSION);
			return -1;
		case ':':
			return cli_usage_error("%s: requires a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(
				"unknown option '%s' (see --help)",
				argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s' (see --help)",
				       argv[optind]);
	return 0;
}

/* ---- errors, from a spec field back to the option ----------------------- */

/* Prints a spec error as one usage line naming the option the user typed:
 * "overlap run: --tasks: must be at most 100000 (got 200000)". */
int cli_spec_usage_error(const struct run_args *a, const struct spec_error *err)
{
	const char *dot = strchr(err->field, '.');
	const char *key = dot ? dot + 1 : err->field;
	const char *message = err->message;
	const struct set_arg *from = NULL;
	size_t i, klen = strlen(key);
	char option[96];

	for (i = 0; i < a->n_sets; i++) {
		const char *k = a->sets[i].key;

		if (strcmp(k, key) == 0 || strcmp(k, err->field) == 0)
			from = &a->sets[i];
	}
	if (a->spec_path && !from)
		return cli_usage_error("--spec: %s", message);
	/* The message starts with the parameter's name, which the option
	 * already says. */
	if (strncmp(message, key, klen) == 0 && message[klen] == ':' &&
	    message[klen + 1] == ' ')
		message += klen + 2;
	if (from && strcmp(from->option, "--set") != 0)
		snprintf(option, sizeof(option), "%s", from->option);
	else if (from || dot)
		snprintf(option, sizeof(option), "--set %s", key);
	else
		snprintf(option, sizeof(option), "--%s", err->field);
	return cli_usage_error("%s: %s", option, message);
}

int cli_apply_sets(const struct run_args *a, struct spec *spec, bool lenient)
{
	struct spec_error err;
	bool applied;
	size_t i;

	for (i = 0; i < a->n_sets; i++) {
		const struct set_arg *s = &a->sets[i];
		int rc;

		memset(&err, 0, sizeof(err));
		if (lenient)
			rc = plan_set(spec, s->key, s->value, &applied, &err);
		else
			rc = spec_set(spec, s->key, s->value, &err);
		if (rc == -ENOENT && strcmp(s->option, "--set") != 0)
			return cli_usage_error("%s: the %s model has no "
					       "option %s",
					       s->option, spec->model, s->key);
		if (rc < 0)
			return cli_spec_usage_error(a, &err);
	}
	return 0;
}

int cli_apply_engine(const struct run_args *a, struct spec *spec,
		     const char *engine)
{
	if (engine && strcmp(engine, SPEC_ENGINE_OVERLAP) != 0 &&
	    strcmp(engine, SPEC_ENGINE_CPYTHON) != 0)
		return cli_usage_error("--engine: must be overlap or cpython "
				       "(got '%s')",
				       engine);
	if (engine)
		util_strlcpy(spec->engine, engine, sizeof(spec->engine));
	if (!a->python)
		return 0;
	if (!a->python[0] || strlen(a->python) >= sizeof(spec->python))
		return cli_usage_error("--python: expected the path of an "
				       "interpreter, at most %zu bytes",
				       sizeof(spec->python) - 1);
	if (strcmp(spec->engine, SPEC_ENGINE_CPYTHON) != 0)
		return cli_usage_error("--python: chooses the interpreter of "
				       "--engine cpython");
	util_strlcpy(spec->python, a->python, sizeof(spec->python));
	return 0;
}

/* ---- output ------------------------------------------------------------- */

int cli_parse_format(const char *text, bool compare, FILE *out,
		     enum cli_format *fmt)
{
	if (!text) {
		*fmt = isatty(fileno(out)) ? FMT_ASCII : FMT_JSON;
		return 0;
	}
	if (strcmp(text, "ascii") == 0)
		*fmt = FMT_ASCII;
	else if (strcmp(text, "json") == 0)
		*fmt = FMT_JSON;
	else if (!compare && strcmp(text, "chrome") == 0)
		*fmt = FMT_CHROME;
	else if (!compare && strcmp(text, "events") == 0)
		*fmt = FMT_EVENTS;
	else if (compare)
		return cli_usage_error("--format: must be one of ascii, json "
				       "(got '%s')",
				       text);
	else
		return cli_usage_error("--format: must be one of ascii, json, "
				       "chrome, events (got '%s')",
				       text);
	return 0;
}

/* Columns for the ASCII timeline: --width, the terminal, $COLUMNS, 100. */
int cli_ascii_width(const struct run_args *a, FILE *out)
{
	struct winsize ws;
	const char *env;

	if (a->width)
		return a->width;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	env = getenv("COLUMNS");
	if (env && atoi(env) >= 20 && atoi(env) <= 1000)
		return atoi(env);
	return 100;
}

/* Box-drawing glyphs only where the locale says UTF-8. */
bool cli_ascii_unicode(const struct run_args *a)
{
	static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
	size_t i;

	if (a->plain)
		return false;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && v[0])
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

/* The file --out names, and the temporary file beside it that is written
 * first and renamed over it once whole: a reader of the file (a script,
 * the server) never sees half an output, and a failed run leaves the old
 * file as it was.  One output a process. */
static char out_path[4096];
static char out_tmp[4096 + 16];

FILE *cli_open_out(const struct run_args *a)
{
	mode_t mask;
	FILE *f;
	int fd;

	if (!a->out || strcmp(a->out, "-") == 0)
		return stdout;
	if (snprintf(out_path, sizeof(out_path), "%s", a->out) >=
	    (int)sizeof(out_path)) {
		cli_usage_error("--out: the path is longer than %zu bytes",
				sizeof(out_path) - 1);
		return NULL;
	}
	snprintf(out_tmp, sizeof(out_tmp), "%s.tmp-XXXXXX", a->out);
	fd = mkstemp(out_tmp);
	if (fd < 0) {
		cli_usage_error("--out: cannot write '%s': %s", a->out,
				strerror(errno));
		return NULL;
	}
	/* The permissions fopen() would have given, not mkstemp's 0600. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	f = fdopen(fd, "w");
	if (!f) {
		cli_usage_error("--out: cannot write '%s': %s", a->out,
				strerror(errno));
		close(fd);
		unlink(out_tmp);
		return NULL;
	}
	return f;
}

int cli_close_out(FILE *f)
{
	int rc = 0;

	if (fflush(f) != 0)
		rc = -EIO;
	if (f != stdout && fsync(fileno(f)) != 0)
		rc = -EIO;
	if (f != stdout && fclose(f) != 0)
		rc = -EIO;
	if (f != stdout && rc == 0 && rename(out_tmp, out_path) != 0)
		rc = -EIO;
	if (rc) {
		fprintf(stderr, "%s: writing the output failed: %s\n",
			cli_cmd_name, strerror(errno));
		if (f != stdout)
			unlink(out_tmp);
	}
	return rc;
}

void cli_discard_out(FILE *f)
{
	if (f == stdout)
		return;
	fclose(f);
	unlink(out_tmp);
}

int cli_print_stream(FILE *f, struct render_stream *s)
{
	int rc = s ? render_stream_write(s, f) : -ENOMEM;

	if (rc == 0 && fputc('\n', f) == EOF)
		rc = -EIO;
	render_stream_free(s);
	return rc;
}

int cli_print_json(FILE *f, json_t *obj)
{
	int rc;

	if (!obj)
		return -ENOMEM;
	rc = json_dumpf(obj, f, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', f);
	json_decref(obj);
	return rc < 0 ? -EIO : 0;
}
