/*
 * cmd_sweep: `overlap sweep`, one workload at several values of one
 * parameter or option (--param workers=1,2,4), under one model or several,
 * one run after another (so that runs do not steal each other's cores),
 * printed as a small table with a bar of the speedup per point, or as JSON
 * ({param, points: [{model, value, wall_ns, speedup, run}]}).
 *
 * What can be swept and how its values are checked is the engine's sweep
 * plan (src/sweep.h), shared with POST /api/sweeps.  A model without the
 * parameter is skipped with its reason; a value a model refuses is bad
 * usage, named as --param.
 *
 * --engine cpython runs every point in a real Python interpreter (the
 * reference engine, src/cpython.h).  What that interpreter cannot run is
 * refused before the first point starts, with the option that asked for
 * it; a model the engine has no equivalent for is left out (or, named
 * with --model, refused).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cpython.h"
#include "model.h"
#include "plan.h"
#include "run.h"
#include "spec.h"
#include "sweep.h"
#include "trace.h"
#include "util.h"

/* Columns of a point's bar at the largest speedup of the sweep. */
#define SWEEP_BAR_COLUMNS 30

static const struct option sweep_options[] = {
	{"workload", required_argument, NULL, OPT_WORKLOAD},
	{"model", required_argument, NULL, OPT_MODEL},
	{"models", required_argument, NULL, OPT_MODELS},
	{"param", required_argument, NULL, OPT_PARAM},
	{"set", required_argument, NULL, OPT_SET},
	{"tasks", required_argument, NULL, OPT_TASKS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"gil", required_argument, NULL, OPT_GIL},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"python", required_argument, NULL, OPT_PYTHON},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"out", required_argument, NULL, OPT_OUT},
	{"plain", no_argument, NULL, OPT_PLAIN},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const char sweep_usage[] =
	"usage: overlap sweep --workload NAME --param NAME=v1,v2,... "
	"[--models a,b] [options]\n"
	"\n"
	"Runs one workload at each value of one parameter or option, one run "
	"after\nanother, and prints wall time and speedup against the value.\n"
	"\n"
	"  --workload NAME      the workload (see 'overlap workloads')\n"
	"  --param NAME=V,V,... a number among the workload's parameters or "
	"the\n"
	"                       models' options (workers, tasks, duration, "
	"...),\n"
	"                       at most 16 values\n"
	"  --model NAME, --models a,b,c\n"
	"                       default: every model that has the parameter\n"
	"  --set KEY=VALUE, --tasks N, --duration D, --workers N, --gil "
	"on|off\n"
	"                       as for 'overlap run', the same at every point\n"
	"  --engine E           overlap (the models, default) or cpython (every "
	"point\n"
	"                       in a real Python interpreter)\n"
	"  --python PATH        the interpreter of --engine cpython (default: "
	"python3)\n"
	"  --format F           ascii (default on a terminal) or json\n"
	"                       ({param, points: [{model, value, wall_ns, "
	"speedup, run}]})\n"
	"  --out FILE, --plain, --help, --version\n";

struct sweep_point {
	const struct model_ops *model;
	const char *text;   /* the value as given */
	double value;	    /* as a number (durations in ms) */
	struct trace trace; /* after the run */
	bool ran;
	char reason[300];
};

/* The models: --model, --models, or every model in the catalog (those
 * without the parameter are skipped later).  0 or EXIT_USAGE. */
static int sweep_models(const struct run_args *a, struct plan_models *list)
{
	char *names, *save = NULL, *name;
	const char *given = a->models ? a->models : a->model;

	plan_all_models(list);
	if (a->model && a->models)
		return cli_usage_error("--model and --models: give one");
	if (!given)
		return 0;
	list->n = 0;
	names = util_xstrdup(given);
	for (name = strtok_r(names, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		if (plan_add_model(list, name) == -ENOENT) {
			char all[256];

			cli_usage_error("%s: unknown model '%s' (expected %s)",
					a->models ? "--models" : "--model",
					name,
					plan_model_names(all, sizeof(all)));
			free(names);
			return EXIT_USAGE;
		}
	}
	free(names);
	if (list->n == 0)
		return cli_usage_error("--models: expected a list such as "
				       "thread-pool,process-pool");
	return 0;
}

/* A spec error met while preparing a point, as one usage line: the
 * sweep's own fields name --param. */
static int sweep_usage_error(const struct run_args *a,
			     const struct spec_error *err)
{
	if (strcmp(err->field, "param") == 0 ||
	    strcmp(err->field, "values") == 0)
		return cli_usage_error("--param: %s", err->message);
	return cli_spec_usage_error(a, err);
}

#define REFUSED_SIZE 256

/* Prepares the spec of model m at value (NULL: without the sweep's value,
 * to resolve the parameter).  0, EXIT_USAGE (printed), -ENOENT when the
 * model has no such parameter (p untouched), or (value NULL) -EPERM when
 * the engine cannot run the model, the reason in refused (REFUSED_SIZE
 * bytes). */
static int sweep_prepare(const struct run_args *a, const struct model_ops *m,
			 const char *key, const char *value, struct spec *spec,
			 struct sweep_param *p, char *refused)
{
	struct spec_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = spec_init(spec, a->workload, m->name, &err);
	if (rc < 0)
		return cli_spec_usage_error(a, &err);
	rc = cli_apply_sets(a, spec, true);
	if (rc)
		return rc;
	rc = cli_apply_engine(a, spec, a->engines);
	if (rc)
		return rc;
	rc = sweep_resolve(spec, key, p, &err);
	if (rc == -ENOENT)
		return -ENOENT;
	if (rc < 0)
		return sweep_usage_error(a, &err);
	if (!value) {
		/* A model the engine has no equivalent for (spec.c says so
		 * under "model"); other faults are the values' to report. */
		if (spec_validate(spec, &err) < 0 &&
		    strcmp(err.field, "model") == 0) {
			util_strlcpy(refused, err.message, REFUSED_SIZE);
			return -EPERM;
		}
		return 0;
	}
	rc = spec_set(spec, p->field, value, &err);
	if (rc == 0)
		rc = spec_validate(spec, &err);
	if (rc < 0) {
		char msg[sizeof(err.message) + 64];

		/* The message names the parameter; the option is --param. */
		snprintf(msg, sizeof(msg), "%s (under %s)", err.message,
			 m->name);
		util_strlcpy(err.message, msg, sizeof(err.message));
		util_strlcpy(err.field, "param", sizeof(err.field));
		return sweep_usage_error(a, &err);
	}
	return 0;
}

static void print_table(FILE *f, const char *name, struct sweep_point *pts,
			size_t n, bool unicode)
{
	const char *full = unicode ? "\u2588" : "#";
	double top = 0;
	char wall[32];

	for (size_t i = 0; i < n; i++)
		if (pts[i].ran && pts[i].trace.summary.speedup > top)
			top = pts[i].trace.summary.speedup;
	fprintf(f, "%-16s %-18s %10s %9s  %s\n", name, "model", "wall",
		"speedup", "speedup as a bar");
	for (size_t i = 0; i < n; i++) {
		const struct sweep_point *p = &pts[i];
		const struct trace_summary *s = &p->trace.summary;
		int cols;

		if (!p->ran) {
			fprintf(f, "%-16s %-18s failed: %s\n", p->text,
				p->model->name, p->reason);
			continue;
		}
		fprintf(f, "%-16s %-18s %10s %8.2fx  ", p->text, p->model->name,
			util_format_duration(s->wall_ns, wall, sizeof(wall)),
			s->speedup);
		cols = top > 0 ? (int)(s->speedup / top * SWEEP_BAR_COLUMNS +
				       0.5)
			       : 0;
		for (int c = 0; c < cols; c++)
			fputs(full, f);
		if (p->trace.status != RUN_DONE)
			fprintf(f, " %s",
				run_status_name(
					(enum run_status)p->trace.status));
		fputc('\n', f);
	}
}

/* Amdahl's law per model, fitted to its smallest value, in one line each,
 * when the parameter counts things that run at once. */
static void print_amdahl(FILE *f, const char *name, struct sweep_point *pts,
			 size_t n)
{
	if (!sweep_counts_parallel(name))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct sweep_point *first = NULL, *last = NULL;
		struct sweep_amdahl law;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen = seen || pts[j].model == pts[i].model;
		if (seen)
			continue;
		for (size_t j = i; j < n; j++) {
			if (pts[j].model != pts[i].model || !pts[j].ran ||
			    pts[j].trace.status != RUN_DONE)
				continue;
			if (!first || pts[j].value < first->value)
				first = &pts[j];
			if (!last || pts[j].value > last->value)
				last = &pts[j];
		}
		if (!first || first == last ||
		    !sweep_amdahl_fit(first->value,
				      first->trace.summary.wall_ns,
				      first->trace.summary.speedup, &law))
			continue;
		fprintf(f,
			"%s: %.1f%% serial at %s %s, so Amdahl's law allows "
			"%.2fx at %s; measured %.2fx\n",
			pts[i].model->name, law.serial_share * 100, name,
			first->text, sweep_amdahl_at(&law, last->value),
			last->text, last->trace.summary.speedup);
	}
}

static json_t *points_json(const char *name, const char *workload,
			   struct sweep_point *pts, size_t n)
{
	json_t *points = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct sweep_point *p = &pts[i];
		json_t *one = json_pack("{s:s, s:o, s:s}", "model",
					p->model->name, "value",
					sweep_number_json(p->value),
					"value_text", p->text);

		if (p->ran) {
			json_object_set_new(
				one, "wall_ns",
				json_integer(p->trace.summary.wall_ns));
			json_object_set_new(
				one, "speedup",
				json_real(p->trace.summary.speedup));
			json_object_set_new(one, "run",
					    json_string(p->trace.id));
			json_object_set_new(
				one, "status",
				json_string(run_status_name(
					(enum run_status)p->trace.status)));
		} else {
			json_object_set_new(one, "wall_ns", json_null());
			json_object_set_new(one, "speedup", json_null());
			json_object_set_new(one, "run", json_null());
			json_object_set_new(one, "status",
					    json_string("error"));
			json_object_set_new(one, "message",
					    json_string(p->reason));
		}
		json_array_append_new(points, one);
	}
	return json_pack("{s:s, s:s, s:o}", "param", name, "workload", workload,
			 "points", points);
}

/* Under --engine cpython, asks the interpreter its version once (into
 * *py) and refuses, before any point runs, what it cannot run of spec.
 * 0 or EXIT_USAGE (printed). */
static int sweep_check_interpreter(const struct run_args *a,
				   const struct spec *spec,
				   struct cpython_info *py)
{
	struct spec_error err = {0};
	int rc;

	if (strcmp(spec->engine, SPEC_ENGINE_CPYTHON) != 0)
		return 0;
	if (!py->version[0]) {
		rc = cpython_probe(spec->python, py);
		if (rc < 0)
			return cli_usage_error("--python: no interpreter '%s' "
					       "(%s)",
					       spec->python[0] ? spec->python
							       : "python3",
					       strerror(-rc));
	}
	if (cpython_check(spec, py, &err) < 0)
		return cli_spec_usage_error(a, &err);
	return 0;
}

/* The engine every point ran in: {"name": "overlap"}, or CPython's name,
 * version, build and path. */
static json_t *engine_json(const struct cpython_info *py)
{
	if (!py->version[0])
		return json_pack("{s:s}", "name", SPEC_ENGINE_OVERLAP);
	return json_pack("{s:s, s:s, s:s, s:s}", "name", SPEC_ENGINE_CPYTHON,
			 "version", py->version, "build", py->build, "path",
			 py->path);
}

int cmd_sweep(int argc, char **argv)
{
	struct run_args *a = util_xcalloc(1, sizeof(*a));
	struct spec *spec = util_xcalloc(1, sizeof(*spec));
	struct sweep_point *pts = NULL;
	const char *values[SWEEP_VALUES_MAX];
	char key[64], buf[1024];
	const char *eq;
	bool progress = isatty(STDERR_FILENO);
	struct plan_models models;
	struct spec_error err;
	struct cpython_info py = {0};
	char refused[REFUSED_SIZE];
	enum cli_format fmt;
	size_t n_values = 0, n = 0, i, v;
	FILE *out = NULL;
	int rc;

	cli_cmd_name = "overlap sweep";
	rc = cli_parse_run_args(argc, argv, sweep_options, sweep_usage, a);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto out_free;
	}
	if (!a->workload) {
		rc = cli_usage_error("--workload: required (see 'overlap "
				     "workloads')");
		goto out_free;
	}
	eq = a->param ? strchr(a->param, '=') : NULL;
	if (!eq || eq == a->param || (size_t)(eq - a->param) >= sizeof(key)) {
		rc = cli_usage_error("--param: expected NAME=v1,v2,... such as "
				     "workers=1,2,4 (got '%s')",
				     a->param ? a->param : "nothing");
		goto out_free;
	}
	memcpy(key, a->param, (size_t)(eq - a->param));
	key[eq - a->param] = '\0';
	memset(&err, 0, sizeof(err));
	if (sweep_split(eq + 1, buf, sizeof(buf), values, &n_values, &err)) {
		rc = sweep_usage_error(a, &err);
		goto out_free;
	}
	rc = cli_parse_format(a->format, true,
			      a->out && strcmp(a->out, "-") ? stderr : stdout,
			      &fmt);
	if (rc)
		goto out_free;
	if (!a->format && a->out && strcmp(a->out, "-"))
		fmt = FMT_JSON;
	rc = sweep_models(a, &models);
	if (rc)
		goto out_free;

	/* Every point is prepared (and so checked) before any runs. */
	pts = util_xcalloc(models.n * n_values, sizeof(*pts));
	for (i = 0; i < models.n; i++) {
		struct sweep_param p;

		rc = sweep_prepare(a, models.models[i], key, NULL, spec, &p,
				   refused);
		if (rc == -EPERM) {
			if (models.named) {
				rc = cli_usage_error("--engine: %s",
						     strncmp(refused,
							     "model: ", 7) == 0
							     ? refused + 7
							     : refused);
				goto out_free_traces;
			}
			fprintf(stderr, "%s: leaves out %s: %s\n", cli_cmd_name,
				models.models[i]->name, refused);
			continue;
		}
		if (rc == -ENOENT) {
			if (models.named) {
				rc = cli_usage_error(
					"--param: the %s model has no "
					"parameter or option %s",
					models.models[i]->name, key);
				goto out_free_traces;
			}
			continue;
		}
		if (rc)
			goto out_free_traces;
		memset(&err, 0, sizeof(err));
		if (sweep_check(&p, values, n_values, &err)) {
			rc = sweep_usage_error(a, &err);
			goto out_free_traces;
		}
		for (v = 0; v < n_values; v++) {
			rc = sweep_prepare(a, models.models[i], key, values[v],
					   spec, &p, refused);
			if (rc)
				goto out_free_traces;
			rc = sweep_check_interpreter(a, spec, &py);
			if (rc)
				goto out_free_traces;
			pts[n].model = models.models[i];
			pts[n].text = values[v];
			pts[n].value = sweep_number(&p, values[v]);
			trace_init(&pts[n].trace);
			n++;
		}
	}
	if (n == 0) {
		rc = cli_usage_error("--param: no model has %s with %s", key,
				     a->workload);
		goto out_free_traces;
	}
	out = cli_open_out(a);
	if (!out) {
		rc = EXIT_USAGE;
		goto out_free_traces;
	}

	rc = EXIT_OK;
	for (i = 0; i < n; i++) {
		struct sweep_point *pt = &pts[i];
		struct sweep_param p;
		int r;

		if (sweep_prepare(a, pt->model, key, pt->text, spec, &p,
				  refused))
			continue;
		if (progress)
			fprintf(stderr, "%s: %s at %s %s ...\n", cli_cmd_name,
				pt->model->name, key, pt->text);
		memset(&err, 0, sizeof(err));
		r = run_execute(spec, NULL, &pt->trace, &err);
		if (r < 0) {
			snprintf(pt->reason, sizeof(pt->reason), "%s",
				 err.message[0] ? err.message : strerror(-r));
			fprintf(stderr, "%s: %s at %s %s: %s\n", cli_cmd_name,
				pt->model->name, key, pt->text, pt->reason);
			rc = EXIT_RUN_FAILED;
			continue;
		}
		pt->ran = true;
		if (pt->trace.status != RUN_DONE)
			rc = EXIT_RUN_FAILED;
	}

	if (fmt == FMT_JSON) {
		json_t *root = points_json(key, a->workload, pts, n);

		json_object_set_new(root, "engine", engine_json(&py));
		cli_print_json(out, root);
	} else {
		fprintf(out, "%s: %s at %zu values", a->workload, key,
			n_values);
		if (py.version[0])
			fprintf(out, ", in CPython %s (%s)", py.version,
				py.path);
		fputc('\n', out);
		print_table(out, key, pts, n, cli_ascii_unicode(a));
		print_amdahl(out, key, pts, n);
		fprintf(out, "speedup: the tasks' own work one after another "
			     "over the wall time\n");
	}
	if (cli_close_out(out) < 0)
		rc = EXIT_RUN_FAILED;
out_free_traces:
	for (i = 0; i < n; i++)
		trace_free(&pts[i].trace);
out_free:
	free(pts);
	free(spec);
	free(a);
	return rc;
}
