/*
 * cmd_compare: `overlap compare`, one workload under several models, one
 * after another (so that runs do not steal each other's cores), their
 * timelines on one time axis and a table of wall time and speedup.
 *
 * Which models run and which options each gets is the compare plan
 * (src/plan.h), shared with the server's POST /api/compares.  A workload
 * parameter that is wrong is bad usage for every model; a model that
 * rejects the spec is skipped with its reason.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "model.h"
#include "plan.h"
#include "render.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "trace_json.h"
#include "util.h"

static const struct option compare_options[] = {
	{"workload", required_argument, NULL, OPT_WORKLOAD},
	{"models", required_argument, NULL, OPT_MODELS},
	{"set", required_argument, NULL, OPT_SET},
	{"tasks", required_argument, NULL, OPT_TASKS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"gil", required_argument, NULL, OPT_GIL},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"python", required_argument, NULL, OPT_PYTHON},
	{"out", required_argument, NULL, OPT_OUT},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"plain", no_argument, NULL, OPT_PLAIN},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const char compare_usage[] =
	"usage: overlap compare --workload NAME [--models a,b,c] [options]\n"
	"\n"
	"Runs one workload under several models, one after another, and "
	"prints\ntheir timelines on one time axis and a table of wall time "
	"and speedup.\n"
	"\n"
	"  --workload NAME      the workload (see 'overlap workloads')\n"
	"  --models a,b,c       default: every model that accepts the spec\n"
	"  --set KEY=VALUE, --tasks N, --duration D, --workers N, --gil "
	"on|off\n"
	"                       as for 'overlap run'; a model option applies "
	"to the\n"
	"                       models that have it\n"
	"  --engine overlap,cpython\n"
	"                       each model under each engine: the model and "
	"the same\n"
	"                       program in a real Python interpreter, side by "
	"side\n"
	"  --python PATH        the interpreter of engine cpython (default: "
	"python3)\n"
	"  --format F           ascii (default on a terminal) or json "
	"({runs: [trace...]})\n"
	"  --out FILE, --width N, --plain, --help, --version\n";

struct compare_entry {
	const struct model_ops *model;
	const char *engine; /* SPEC_ENGINE_* */
	char name[48];	    /* "threads", or "threads (cpython)" */
	bool skipped;
	char reason[300];
	struct trace trace;
	bool ran;
	int rc;
};

/* The models of --models, in the order given (a model named twice runs
 * once), or the whole catalog.  0 or EXIT_USAGE (printed). */
static int compare_models(const struct run_args *a, struct plan_models *list)
{
	char *names, *save = NULL, *name;

	plan_all_models(list);
	if (!a->models)
		return 0;
	list->n = 0;
	names = util_xstrdup(a->models);
	for (name = strtok_r(names, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		if (plan_add_model(list, name) == -ENOENT) {
			char all[256];

			cli_usage_error("--models: unknown model '%s' "
					"(expected %s)",
					name,
					plan_model_names(all, sizeof(all)));
			free(names);
			return EXIT_USAGE;
		}
	}
	free(names);
	if (list->n == 0)
		return cli_usage_error("--models: expected a list such as "
				       "sequential,threads");
	return 0;
}

/* The engines of --engine, in the order given: ["overlap"] without it.
 * 0 or EXIT_USAGE (printed). */
static int compare_engines(const struct run_args *a, const char **engines,
			   size_t *n)
{
	char *names, *save = NULL, *name;

	*n = 0;
	if (!a->engines) {
		engines[(*n)++] = SPEC_ENGINE_OVERLAP;
		return 0;
	}
	names = util_xstrdup(a->engines);
	for (name = strtok_r(names, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		const char *e = strcmp(name, SPEC_ENGINE_OVERLAP) == 0
					? SPEC_ENGINE_OVERLAP
				: strcmp(name, SPEC_ENGINE_CPYTHON) == 0
					? SPEC_ENGINE_CPYTHON
					: NULL;

		if (!e || *n == 2 || (*n == 1 && engines[0] == e)) {
			cli_usage_error("--engine: expected overlap, cpython "
					"or overlap,cpython (got '%s')",
					a->engines);
			free(names);
			return EXIT_USAGE;
		}
		engines[(*n)++] = e;
	}
	free(names);
	return *n ? 0
		  : cli_usage_error("--engine: expected overlap, cpython "
				    "or overlap,cpython");
}

/* Prepares one model's spec: a workload parameter that is wrong is bad
 * usage for every model (EXIT_USAGE); a model that rejects the spec is
 * skipped with the reason. */
static int compare_prepare(const struct run_args *a, struct compare_entry *e,
			   struct spec *spec)
{
	struct spec_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = spec_init(spec, a->workload, e->model->name, &err);
	if (rc < 0)
		return cli_spec_usage_error(a, &err);
	rc = cli_apply_sets(a, spec, true);
	if (rc)
		return rc;
	rc = cli_apply_engine(a, spec, e->engine);
	if (rc)
		return rc;
	rc = spec_validate(spec, &err);
	if (rc < 0) {
		e->skipped = true;
		snprintf(e->reason, sizeof(e->reason), "%s", err.message);
	}
	return 0;
}

/* A --set key no model and not the workload knows is bad usage. */
static int compare_check_keys(const struct run_args *a,
			      const struct compare_entry *entries, size_t n)
{
	size_t i, j;

	for (i = 0; i < a->n_sets; i++) {
		const char *key = a->sets[i].key;
		bool known = false;

		if (strncmp(key, "params.", 7) == 0 ||
		    strncmp(key, "options.", 8) == 0)
			key = strchr(key, '.') + 1;
		for (j = 0; j < n && !known; j++) {
			struct spec *probe = util_xcalloc(1, sizeof(*probe));
			struct spec_error err;

			if (spec_init(probe, a->workload,
				      entries[j].model->name, &err) == 0)
				known = spec_find(&probe->params, key) ||
					spec_find(&probe->options, key);
			free(probe);
		}
		/* --workers and --gil are for the models that have them;
		 * comparing only models without them is not a mistake. */
		if (!known && (strcmp(a->sets[i].option, "--workers") == 0 ||
			       strcmp(a->sets[i].option, "--gil") == 0))
			continue;
		if (!known)
			return cli_usage_error(
				"%s%s%s: not a parameter of %s or "
				"an option of any model compared",
				a->sets[i].option,
				strcmp(a->sets[i].option, "--set") ? "" : " ",
				strcmp(a->sets[i].option, "--set")
					? ""
					: a->sets[i].key,
				a->workload);
	}
	return 0;
}

static void print_compare_table(FILE *f, struct compare_entry *entries,
				size_t n)
{
	const struct compare_entry *base = NULL;
	const char *base_name = "sequential";
	size_t i;
	char wall[32];

	for (i = 0; i < n; i++)
		if (entries[i].ran &&
		    strcmp(entries[i].model->name, "sequential") == 0)
			base = &entries[i];
	if (!base) {
		for (i = 0; i < n; i++)
			if (entries[i].ran &&
			    (!base || entries[i].trace.summary.wall_ns >
					      base->trace.summary.wall_ns))
				base = &entries[i];
		base_name = "the slowest";
	}
	fprintf(f, "%-18s %10s %9s %12s %9s %15s\n", "model", "wall", "speedup",
		"parallelism", "CPU util", "peak in flight");
	for (i = 0; i < n; i++) {
		const struct compare_entry *e = &entries[i];
		const struct trace_summary *s = &e->trace.summary;
		double speedup = 0;

		if (e->skipped) {
			fprintf(f, "%-18s skipped: %s\n", e->name, e->reason);
			continue;
		}
		if (!e->ran) {
			fprintf(f, "%-18s failed: %s\n", e->name, e->reason);
			continue;
		}
		if (base && s->wall_ns > 0)
			speedup = (double)base->trace.summary.wall_ns /
				  (double)s->wall_ns;
		fprintf(f, "%-18s %10s %8.2fx %12.2f %8.0f%% %15lld%s%s\n",
			e->name,
			util_format_duration(s->wall_ns, wall, sizeof(wall)),
			speedup, s->parallelism, s->cpu_util * 100.0,
			(long long)s->peak_inflight,
			e->trace.status == RUN_DONE ? "" : "  ",
			e->trace.status == RUN_DONE
				? ""
				: run_status_name(
					  (enum run_status)e->trace.status));
	}
	if (base && strcmp(base_name, "sequential") == 0)
		fprintf(f, "speedup: against sequential\n");
	else if (base)
		fprintf(f, "speedup: against the slowest run (%s)\n",
			base->name);
}

int cmd_compare(int argc, char **argv)
{
	struct run_args *a = util_xcalloc(1, sizeof(*a));
	struct spec *spec = util_xcalloc(1, sizeof(*spec));
	struct compare_entry *entries = NULL;
	bool progress = isatty(STDERR_FILENO);
	size_t n = 0, i, runnable = 0;
	int64_t axis_ns = 0;
	enum cli_format fmt;
	FILE *out = NULL;
	struct plan_models models;
	const char *engines[2];
	size_t n_engines = 0;
	int rc;

	cli_cmd_name = "overlap compare";
	rc = cli_parse_run_args(argc, argv, compare_options, compare_usage, a);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto out_free;
	}
	if (!a->workload) {
		rc = cli_usage_error("--workload: required (see 'overlap "
				     "workloads')");
		goto out_free;
	}
	rc = cli_parse_format(a->format, true,
			      a->out && strcmp(a->out, "-") ? stderr : stdout,
			      &fmt);
	if (rc)
		goto out_free;
	if (!a->format && a->out && strcmp(a->out, "-"))
		fmt = FMT_JSON;
	rc = compare_models(a, &models);
	if (rc)
		goto out_free;
	rc = compare_engines(a, engines, &n_engines);
	if (rc)
		goto out_free;
	/* Each model under each engine, a model's engines side by side. */
	n = models.n * n_engines;
	entries = util_xcalloc(n, sizeof(*entries));
	for (i = 0; i < n; i++) {
		entries[i].model = models.models[i / n_engines];
		entries[i].engine = engines[i % n_engines];
		if (n_engines > 1 || a->engines)
			snprintf(entries[i].name, sizeof(entries[i].name),
				 "%s (%s)", entries[i].model->name,
				 entries[i].engine);
		else
			snprintf(entries[i].name, sizeof(entries[i].name), "%s",
				 entries[i].model->name);
	}
	for (i = 0; i < n; i++)
		trace_init(&entries[i].trace);
	rc = compare_check_keys(a, entries, n);
	if (rc)
		goto out_free_traces;
	for (i = 0; i < n; i++) {
		rc = compare_prepare(a, &entries[i], spec);
		if (rc)
			goto out_free_traces;
		if (entries[i].skipped)
			fprintf(stderr, "%s: skipping %s: %s\n", cli_cmd_name,
				entries[i].name, entries[i].reason);
		else
			runnable++;
	}
	if (runnable == 0) {
		rc = cli_usage_error("no model accepts this spec");
		goto out_free_traces;
	}
	out = cli_open_out(a);
	if (!out) {
		rc = EXIT_USAGE;
		goto out_free_traces;
	}

	/* One after another, so that runs do not steal each other's cores. */
	rc = EXIT_OK;
	for (i = 0; i < n; i++) {
		struct compare_entry *e = &entries[i];
		struct spec_error err;
		int r;

		if (e->skipped)
			continue;
		if (compare_prepare(a, e, spec) != 0 || e->skipped)
			continue;
		if (progress)
			fprintf(stderr, "%s: running %s ...\n", cli_cmd_name,
				e->name);
		memset(&err, 0, sizeof(err));
		r = run_execute(spec, NULL, &e->trace, &err);
		if (r < 0) {
			snprintf(e->reason, sizeof(e->reason), "%s",
				 err.message[0] ? err.message : strerror(-r));
			fprintf(stderr, "%s: %s: %s\n", cli_cmd_name, e->name,
				e->reason);
			rc = EXIT_RUN_FAILED;
			continue;
		}
		e->ran = true;
		if (e->trace.status != RUN_DONE)
			rc = EXIT_RUN_FAILED;
		if (e->trace.summary.wall_ns > axis_ns)
			axis_ns = e->trace.summary.wall_ns;
	}

	if (fmt == FMT_JSON) {
		json_t *root = json_object(), *runs = json_array();
		json_t *skipped = json_array();

		for (i = 0; i < n; i++) {
			if (entries[i].ran)
				json_array_append_new(
					runs, trace_to_json(&entries[i].trace));
			else
				json_array_append_new(
					skipped,
					json_pack("{s:s, s:s}", "model",
						  entries[i].model->name,
						  "reason", entries[i].reason));
		}
		json_object_set_new(root, "runs", runs);
		json_object_set_new(root, "skipped", skipped);
		cli_print_json(out, root);
	} else {
		struct ascii_opts o = {
			.width = cli_ascii_width(a, out),
			.unicode = cli_ascii_unicode(a),
			.summary = false,
			.axis_ns = axis_ns,
		};

		for (i = 0; i < n; i++) {
			if (!entries[i].ran)
				continue;
			/* render_ascii's title names the model. */
			render_ascii(&entries[i].trace, &o, out);
			fputc('\n', out);
		}
		print_compare_table(out, entries, n);
	}
	if (cli_close_out(out) < 0)
		rc = EXIT_RUN_FAILED;
out_free_traces:
	for (i = 0; i < n; i++)
		trace_free(&entries[i].trace);
out_free:
	free(entries);
	free(spec);
	free(a);
	return rc;
}
