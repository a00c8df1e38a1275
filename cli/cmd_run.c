/*
 * cmd_run: `overlap run`, one workload under one model.
 *
 * The spec comes from the options (--workload, --model, --set and its
 * shorthands) or whole from --spec FILE|- (what the server writes to the
 * runners it starts); either way it is validated by the engine
 * (spec_validate) before anything runs.  The trace is printed in the
 * format asked for; `--format events` streams it as it happens
 * (events.h).  SIGTERM and SIGINT cancel the run with its trace whole.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "events.h"
#include "render.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "trace_json.h"
#include "util.h"

#define SPEC_FILE_MAX_BYTES (1 << 20)

static const struct option run_options[] = {
	{"workload", required_argument, NULL, OPT_WORKLOAD},
	{"model", required_argument, NULL, OPT_MODEL},
	{"set", required_argument, NULL, OPT_SET},
	{"tasks", required_argument, NULL, OPT_TASKS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"gil", required_argument, NULL, OPT_GIL},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"python", required_argument, NULL, OPT_PYTHON},
	{"out", required_argument, NULL, OPT_OUT},
	{"spec", required_argument, NULL, OPT_SPEC},
	{"id", required_argument, NULL, OPT_ID},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"plain", no_argument, NULL, OPT_PLAIN},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const char run_usage[] =
	"usage: overlap run --workload NAME --model NAME [options]\n"
	"\n"
	"Runs one workload under one concurrency model and prints its "
	"timeline.\n"
	"\n"
	"  --workload NAME      fetch, crunch, mixed, custom, ... (see "
	"'overlap workloads')\n"
	"  --model NAME         sequential, threads, thread-pool, ...\n"
	"  --set KEY=VALUE      any parameter or option, e.g. --set "
	"jitter=0.2\n"
	"  --tasks N            shorthand for --set tasks=N\n"
	"  --duration D         shorthand for --set duration=D (200ms, "
	"1.5s, 50us)\n"
	"  --workers N          shorthand for --set workers=N\n"
	"  --gil on|off         shorthand for --set gil=on|off\n"
	"  --engine E           overlap (the models, default) or cpython (the "
	"same\n"
	"                       program in a real Python interpreter)\n"
	"  --python PATH        the interpreter of --engine cpython (default: "
	"python3)\n"
	"  --format F           ascii (default on a terminal), json, chrome "
	"or events\n"
	"  --out FILE           write there instead of standard output\n"
	"  --spec FILE|-        the spec as JSON {workload, model, params, "
	"options}\n"
	"  --id ID              the run's id, recorded in the trace\n"
	"  --width N            columns of the ASCII timeline\n"
	"  --plain              ASCII glyphs only\n"
	"  --help, --version\n"
	"\n"
	"Exit status: 0 when the run finished, 1 when it ended in error, "
	"deadlock\nor cancel, 2 on bad usage.\n";

static bool valid_run_id(const char *id)
{
	size_t n = 0;

	for (; *id; id++, n++)
		if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_')
			return false;
	return n > 0 && n < 40;
}

/* Reads the spec's JSON from a file, or standard input for "-". */
static json_t *read_spec_json(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	json_error_t jerr;
	json_t *root;
	char *buf;
	size_t n;

	if (!f) {
		cli_usage_error("--spec: cannot open '%s': %s", path,
				strerror(errno));
		return NULL;
	}
	buf = util_xcalloc(1, SPEC_FILE_MAX_BYTES + 1);
	n = fread(buf, 1, SPEC_FILE_MAX_BYTES + 1, f);
	if (f != stdin)
		fclose(f);
	if (n > SPEC_FILE_MAX_BYTES) {
		free(buf);
		cli_usage_error("--spec: at most %d bytes",
				SPEC_FILE_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(buf, n, 0, &jerr);
	free(buf);
	if (!root)
		cli_usage_error(
			"--spec: invalid JSON at line %d, column %d: %s",
			jerr.line, jerr.column, jerr.text);
	return root;
}

/* Applies a's values to spec.  For compare (lenient), a model option the
 * model does not have is skipped.  Returns 0 or EXIT_USAGE (printed). */

/* Builds the spec from the arguments.  Returns 0 or EXIT_USAGE (printed). */
static int build_spec(const struct run_args *a, struct spec *spec)
{
	struct spec_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	if (a->spec_path) {
		json_t *root;

		if (a->workload || a->model)
			return cli_usage_error(
				"--spec: give the workload and the "
				"model inside the spec, not as "
				"--%s",
				a->workload ? "workload" : "model");
		root = read_spec_json(a->spec_path);
		if (!root)
			return EXIT_USAGE;
		rc = spec_from_json(root, spec, &err);
		json_decref(root);
		if (rc < 0)
			return cli_usage_error("--spec: %s", err.message);
	} else {
		if (!a->workload)
			return cli_usage_error("--workload: required (see "
					       "'overlap workloads')");
		if (!a->model)
			return cli_usage_error(
				"--model: required (see 'overlap "
				"workloads')");
		rc = spec_init(spec, a->workload, a->model, &err);
		if (rc < 0)
			return cli_spec_usage_error(a, &err);
	}
	rc = cli_apply_sets(a, spec, false);
	if (rc)
		return rc;
	rc = cli_apply_engine(a, spec, a->engines);
	if (rc)
		return rc;
	if (a->id) {
		if (!valid_run_id(a->id))
			return cli_usage_error(
				"--id: expected up to 39 letters, "
				"digits, '-' or '_' (got '%s')",
				a->id);
		util_strlcpy(spec->id, a->id, sizeof(spec->id));
	}
	rc = spec_validate(spec, &err);
	if (rc < 0)
		return cli_spec_usage_error(a, &err);
	return 0;
}

static int exit_for_status(const struct trace *t)
{
	return t->status == RUN_DONE ? EXIT_OK : EXIT_RUN_FAILED;
}

static void on_cancel_signal(int sig)
{
	(void)sig;
	run_request_cancel();
}

/* SIGTERM (the server's cancel) and SIGINT (Ctrl-C) stop a run as
 * cancelled, with its trace whole and printed; a second one ends the
 * process as the signal does (SA_RESETHAND). */
static void cancel_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int cmd_run(int argc, char **argv)
{
	struct run_args *a = util_xcalloc(1, sizeof(*a));
	struct spec *spec = util_xcalloc(1, sizeof(*spec));
	struct events_writer writer;
	struct run_hooks hooks = {0};
	struct spec_error err;
	struct trace trace;
	enum cli_format fmt;
	FILE *out = NULL;
	int rc;

	cli_cmd_name = "overlap run";
	rc = cli_parse_run_args(argc, argv, run_options, run_usage, a);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto out_free_args;
	}
	rc = build_spec(a, spec);
	if (rc)
		goto out_free_args;
	rc = cli_parse_format(a->format, false,
			      a->out && strcmp(a->out, "-") ? stderr : stdout,
			      &fmt);
	if (rc)
		goto out_free_args;
	if (!a->format && a->out && strcmp(a->out, "-"))
		fmt = FMT_JSON; /* a file gets the trace */
	out = cli_open_out(a);
	if (!out) {
		rc = EXIT_USAGE;
		goto out_free_args;
	}

	trace_init(&trace);
	memset(&err, 0, sizeof(err));
	if (fmt == FMT_EVENTS) {
		if (events_start(&writer, out) < 0) {
			fprintf(stderr, "%s: cannot start a thread\n",
				cli_cmd_name);
			cli_discard_out(out);
			rc = EXIT_RUN_FAILED;
			goto out_free_trace;
		}
		hooks.sink = events_sink;
		hooks.sink_ctx = &writer;
		hooks.on_start = events_on_start;
	}
	cancel_on_signals();
	rc = run_execute(spec, &hooks, &trace, &err);
	if (rc == -EINVAL && err.field[0] && fmt != FMT_EVENTS) {
		/* The interpreter cannot run this spec (gil=off on a GIL
		 * build): bad usage, naming the option; nothing ran. */
		rc = cli_spec_usage_error(a, &err);
		cli_close_out(out);
		goto out_free_trace;
	}
	if (rc < 0) {
		trace.status = RUN_ERROR;
		util_strlcpy(trace.message, err.message, sizeof(trace.message));
		fprintf(stderr, "%s: %s\n", cli_cmd_name,
			err.message[0] ? err.message : strerror(-rc));
	}
	switch (fmt) {
	case FMT_EVENTS:
		events_finish(&writer, &trace);
		break;
	case FMT_JSON:
		if (rc == 0)
			cli_print_stream(out,
					 render_stream_json(&trace, 2, true));
		break;
	case FMT_CHROME:
		if (rc == 0)
			cli_print_stream(out,
					 render_stream_chrome(&trace, 2, true));
		break;
	case FMT_ASCII:
		if (rc == 0) {
			struct ascii_opts o = {
				.width = cli_ascii_width(a, out),
				.unicode = cli_ascii_unicode(a),
				.summary = true,
			};
			render_ascii(&trace, &o, out);
		}
		break;
	}
	if (rc == 0 && trace.status != RUN_DONE) {
		const char *st = run_status_name((enum run_status)trace.status);

		if (trace_message_names_status(&trace))
			fprintf(stderr, "%s: the run ended in %s\n",
				cli_cmd_name, trace.message);
		else
			fprintf(stderr,
				"%s: the run ended with status %s%s%s\n",
				cli_cmd_name, st, trace.message[0] ? ": " : "",
				trace.message);
	}
	rc = rc < 0 ? EXIT_RUN_FAILED : exit_for_status(&trace);
	if (cli_close_out(out) < 0)
		rc = EXIT_RUN_FAILED;
out_free_trace:
	trace_free(&trace);
out_free_args:
	free(spec);
	free(a);
	return rc;
}
