/*
 * test_cli: the `overlap` binary as users and the server call it.
 *
 * Runs $OVERLAP_BIN (set by `make unit-test`) as a child with pipes for
 * its standard input, output and error, and checks the contract of
 * docs/DESIGN.md sections 4 and 5: bad usage exits 2 with exactly one line
 * naming the option; `workloads` lists the whole catalog; `run --format
 * json` prints a trace with every contract field; `run --spec - --format
 * events` (what the server starts) prints NDJSON from the run line to the
 * summary line; `compare` runs several models.  Runs use tens of
 * milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cpython.h"
#include "model.h"
#include "step_programs.h"
#include "util.h"
#include "workload.h"

#define MAX_ARGS 32

struct result {
	int status; /* exit code, or 128 + signal */
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
};

static const char *overlap_bin(void)
{
	return getenv("OVERLAP_BIN");
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Runs the binary with args (NULL-terminated), feeding input (may be
 * NULL) on its standard input. */
/* Nonzero: the child's limit of open files (soft and hard). */
static rlim_t child_nofile;

static void run_overlap(struct result *r, const char *input,
			const char *const *args)
{
	int in[2], out[2], err[2];
	const char *argv[MAX_ARGS + 2];
	size_t n = 0, written = 0, in_len = input ? strlen(input) : 0;
	struct pollfd fds[3];
	pid_t pid;
	int status;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	argv[n++] = overlap_bin();
	while (args[n - 1] && n <= MAX_ARGS) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (child_nofile)
			setrlimit(RLIMIT_NOFILE,
				  &(struct rlimit){child_nofile, child_nofile});
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (in_len == 0) {
		close(in[1]);
		in[1] = -1;
	}
	fds[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
	fds[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
	fds[2] = (struct pollfd){.fd = in[1], .events = POLLOUT};
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		char buf[65536];
		int i;

		fds[2].fd = in[1];
		if (poll(fds, 3, -1) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		for (i = 0; i < 2; i++) {
			ssize_t got;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			got = read(fds[i].fd, buf, sizeof(buf));
			if (got <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
			} else if (i == 0) {
				append(&r->out, &r->out_len, buf, (size_t)got);
			} else {
				append(&r->err, &r->err_len, buf, (size_t)got);
			}
		}
		if (in[1] >= 0 && fds[2].revents) {
			ssize_t put =
				write(in[1], input + written, in_len - written);

			if (put > 0)
				written += (size_t)put;
			if (put < 0 || written == in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status)
				      : 128 + WTERMSIG(status);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static int skip_without_binary(void **state)
{
	(void)state;
	if (!overlap_bin()) {
		fprintf(stderr, "OVERLAP_BIN is not set; run through "
				"`make unit-test`\n");
		return -1;
	}
	return 0;
}

/* ---- bad usage ---------------------------------------------------------- */

struct usage_case {
	const char *input; /* standard input, or NULL */
	const char *args[14];
	const char *line; /* the whole line, or its start when prefix */
	int prefix;
};

static const struct usage_case usage_cases[] = {
	{NULL,
	 {"calibrate", "--bogus"},
	 "overlap calibrate: unknown option '--bogus'",
	 0},
	{NULL,
	 {"calibrate", "now"},
	 "overlap calibrate: unexpected argument 'now'",
	 0},
	{NULL,
	 {"run", "--workload", "counter", "--model", "threads", "--set",
	  "python=3.9", "--gil", "off"},
	 "overlap run: --set python: 3.9 has no free-threaded build",
	 1},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--tasks",
	  "200000"},
	 "overlap run: --tasks: must be at most 100000 (got 200000)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--tasks", "0"},
	 "overlap run: --tasks: must be at least 1 (got 0)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--tasks",
	  "20000"},
	 "overlap run: --tasks: at most 10000 tasks under threads (got "
	 "20000)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--duration",
	  "abc"},
	 "overlap run: --duration: expected a duration such as 200ms or 1.5s "
	 "(got 'abc')",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--duration",
	  "90s"},
	 "overlap run: --duration: must be at most 60s (got 90s)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--gil", "maybe"},
	 "overlap run: --gil: must be one of on, off (got 'maybe')",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "thread-pool", "--workers",
	  "-1"},
	 "overlap run: --workers: must be at least 0 (got -1)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "sequential", "--workers",
	  "4"},
	 "overlap run: --workers: the sequential model has no option workers",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--set",
	  "jitter=2"},
	 "overlap run: --set jitter: must be at most 1 (got 2)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--set",
	  "nope=1"},
	 "overlap run: --set nope: not a parameter of fetch",
	 1},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--set", "tasks"},
	 "overlap run: --set: expected KEY=VALUE (got 'tasks')",
	 0},
	{NULL,
	 {"run", "--workload", "custom", "--model", "threads", "--set",
	  "program=cpu 1ms; frob a"},
	 "overlap run: --set program: column 10: unknown step 'frob' "
	 "(expected cpu, sleep",
	 1},
	{NULL,
	 {"run", "--workload", "nope", "--model", "threads"},
	 "overlap run: --workload: unknown 'nope' (expected fetch",
	 1},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "fibers"},
	 "overlap run: --model: unknown 'fibers' (expected sequential",
	 1},
	{NULL,
	 {"run", "--workload", "fetch"},
	 "overlap run: --model: required",
	 1},
	{NULL,
	 {"run", "--model", "threads"},
	 "overlap run: --workload: "
	 "required",
	 1},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--bogus"},
	 "overlap run: unknown option '--bogus' (see --help)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--tasks"},
	 "overlap run: --tasks: requires a value",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "stray"},
	 "overlap run: unexpected argument 'stray' (see --help)",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--format",
	  "xml"},
	 "overlap run: --format: must be one of ascii, json, chrome, events "
	 "(got 'xml')",
	 0},
	{NULL,
	 {"run", "--workload", "fetch", "--model", "threads", "--width", "5"},
	 "overlap run: --width: must be a whole number from 20 to 1000 (got "
	 "'5')",
	 0},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "200000}}",
	 {"run", "--spec", "-"},
	 "overlap run: --spec: tasks: must be at most 100000 (got 200000)",
	 0},
	{"{\"workload\":\"fetch\",",
	 {"run", "--spec", "-"},
	 "overlap run: --spec: invalid JSON",
	 1},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"x\":1}",
	 {"run", "--spec", "-"},
	 "overlap run: --spec: x: unknown key",
	 1},
	{NULL,
	 {"run", "--spec", "/nonexistent/spec.json"},
	 "overlap run: --spec: cannot open '/nonexistent/spec.json'",
	 1},
	{NULL,
	 {"compare", "--workload", "fetch", "--models", "sequential,fibers"},
	 "overlap compare: --models: unknown model 'fibers'",
	 1},
	{NULL,
	 {"compare", "--models", "sequential"},
	 "overlap compare: --workload: required",
	 1},
	{NULL,
	 {"compare", "--workload", "fetch", "--format", "chrome"},
	 "overlap compare: --format: must be one of ascii, json (got "
	 "'chrome')",
	 0},
	{NULL,
	 {"compare", "--workload", "fetch", "--tasks", "200000"},
	 "overlap compare: --tasks: must be at most 100000 (got 200000)",
	 0},
	{NULL,
	 {"compare", "--workload", "fetch", "--set", "nope=1"},
	 "overlap compare: --set nope: not a parameter of fetch",
	 1},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "process-pool"},
	 "overlap sweep: --param: expected NAME=v1,v2,... such as "
	 "workers=1,2,4 (got 'nothing')",
	 0},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "process-pool", "--param",
	  "workers=1,2,1000"},
	 "overlap sweep: --param: values: workers: must be at most",
	 1},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "asyncio", "--param",
	  "workers=1,2"},
	 "overlap sweep: --param: the asyncio model has no parameter or "
	 "option workers",
	 0},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "threads", "--param",
	  "gil=1,2"},
	 "overlap sweep: --param: param: gil is not a number",
	 1},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "threads", "--param",
	  "tasks=1,,2"},
	 "overlap sweep: --param: values: an empty value in the list",
	 0},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "threads", "--param",
	  "tasks=1,2", "--engine", "pypy"},
	 "overlap sweep: --engine: must be overlap or cpython (got 'pypy')",
	 0},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "threads", "--param",
	  "tasks=1,2", "--python", "python3"},
	 "overlap sweep: --python: chooses the interpreter of --engine cpython",
	 0},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "interpreter-pool",
	  "--param", "workers=1,2", "--engine", "cpython"},
	 "overlap sweep: --engine: interpreter-pool needs Python 3.14's "
	 "InterpreterPoolExecutor",
	 1},
	{NULL,
	 {"sweep", "--workload", "crunch", "--model", "threads", "--param",
	  "tasks=1,2", "--engine", "cpython", "--python",
	  "/nonexistent/python3"},
	 "overlap sweep: --python: no interpreter '/nonexistent/python3'",
	 1},
	{NULL,
	 {"workloads", "--bogus"},
	 "overlap workloads: unknown option '--bogus' (see --help)",
	 0},
	{NULL, {"frob"}, "overlap: unknown command 'frob'", 1},
	{NULL, {NULL}, "usage: overlap COMMAND", 1},
};

static void test_bad_usage(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		const struct usage_case *c = &usage_cases[i];
		struct result r;
		const char *nl;

		run_overlap(&r, c->input, c->args);
		if (r.status != 2)
			fail_msg("%s %s: exit %d, expected 2 (stderr: %s)",
				 c->args[0] ? c->args[0] : "", c->line,
				 r.status, r.err);
		assert_int_equal(r.out_len, 0);
		nl = strchr(r.err, '\n');
		if (c->args[0]) {
			/* Exactly one line. */
			if (!nl || nl[1] != '\0')
				fail_msg("'%s': not one line: '%s'", c->line,
					 r.err);
		}
		if (c->prefix ? strncmp(r.err, c->line, strlen(c->line)) != 0
			      : strncmp(r.err, c->line, strlen(c->line)) != 0 ||
					r.err[strlen(c->line)] != '\n')
			fail_msg("got '%s', expected '%s'", r.err, c->line);
		result_free(&r);
	}
}

static void test_help_and_version(void **state)
{
	static const char *const commands[] = {"run", "compare", "sweep",
					       "workloads", "serve"};
	struct result r;
	size_t i;

	(void)state;
	run_overlap(&r, NULL, (const char *[]){"--version", NULL});
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "overlap " OVERLAP_VERSION "\n");
	result_free(&r);
	run_overlap(&r, NULL, (const char *[]){"--help", NULL});
	assert_int_equal(r.status, 0);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		assert_non_null(strstr(r.out, commands[i]));
	result_free(&r);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char want[64];

		run_overlap(&r, NULL,
			    (const char *[]){commands[i], "--help", NULL});
		if (r.status != 0)
			fail_msg("%s --help: exit %d", commands[i], r.status);
		snprintf(want, sizeof(want), "overlap %s", commands[i]);
		if (!strstr(r.out, want) || !strstr(r.out, "usage"))
			fail_msg("%s --help: '%s'", commands[i], r.out);
		result_free(&r);
		run_overlap(&r, NULL,
			    (const char *[]){commands[i], "--version", NULL});
		assert_int_equal(r.status, 0);
		assert_string_equal(r.out, "overlap " OVERLAP_VERSION "\n");
		result_free(&r);
	}
}

/* ---- the catalog -------------------------------------------------------- */

static void test_workloads_lists_catalog(void **state)
{
	struct result r;
	json_error_t jerr;
	json_t *cat, *w;
	size_t i, j;

	(void)state;
	run_overlap(&r, NULL, (const char *[]){"workloads", NULL});
	assert_int_equal(r.status, 0);
	for (i = 0; i < workload_catalog_count; i++) {
		const struct workload *wl = workload_catalog[i];

		if (!strstr(r.out, wl->name))
			fail_msg("workloads does not list %s", wl->name);
		for (j = 0; j < wl->n_params; j++)
			if (!strstr(r.out, wl->params[j].name))
				fail_msg("workloads does not list %s's %s",
					 wl->name, wl->params[j].name);
	}
	for (i = 0; i < model_catalog_count; i++)
		if (!strstr(r.out, model_catalog[i]->name))
			fail_msg("workloads does not list model %s",
				 model_catalog[i]->name);
	result_free(&r);

	run_overlap(&r, NULL, (const char *[]){"workloads", "--json", NULL});
	assert_int_equal(r.status, 0);
	cat = json_loads(r.out, 0, &jerr);
	assert_non_null(cat);
	assert_int_equal(json_array_size(json_object_get(cat, "workloads")),
			 workload_catalog_count);
	assert_int_equal(json_array_size(json_object_get(cat, "models")),
			 model_catalog_count);
	json_array_foreach(json_object_get(cat, "workloads"), i, w)
		assert_string_equal(
			json_string_value(json_object_get(w, "name")),
			workload_catalog[i]->name);
	json_decref(cat);
	result_free(&r);
}

/* The catalog's steps and models against each other, as the command line
 * runs them: every word of vocabulary.steps has a small program
 * (step_programs.h); every model that refuses the word (refused_by)
 * exits 2 with one line naming --set program and the model; every other
 * model runs it to the end, and the run shows the word's state.  The
 * catalog names every model, with every option it takes. */
static json_t *catalog_json(void)
{
	struct result r;
	json_t *cat;

	run_overlap(&r, NULL, (const char *[]){"workloads", "--json", NULL});
	assert_int_equal(r.status, 0);
	cat = json_loads(r.out, 0, NULL);
	assert_non_null(cat);
	result_free(&r);
	return cat;
}

static bool json_list_has(const json_t *list, const char *name)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x) {
		const char *v =
			json_is_string(x)
				? json_string_value(x)
				: json_string_value(json_object_get(x, "name"));

		if (v && strcmp(v, name) == 0)
			return true;
	}
	return false;
}

/* The segments of a trace in state (with note, when not NULL). */
static size_t count_state(const json_t *t, const char *state, const char *note)
{
	size_t i, n = 0;
	json_t *s;

	json_array_foreach(json_object_get(t, "segments"), i, s) {
		if (strcmp(json_string_value(json_object_get(s, "state")),
			   state) != 0)
			continue;
		if (note &&
		    strcmp(json_string_value(json_object_get(s, "note")),
			   note) != 0)
			continue;
		n++;
	}
	return n;
}

static void check_step_run(const struct step_program *sp, const char *model)
{
	char program[512], what[640];
	struct result r;
	json_t *t, *run, *task;
	const char *status;
	bool alone = strcmp(model, "sequential") == 0;
	size_t i;

	snprintf(program, sizeof(program), "program=%s", sp->program);
	snprintf(what, sizeof(what), "%s under %s ('%s')", sp->step, model,
		 sp->program);
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "custom", "--model",
				     model, "--set", program, "--format",
				     "json", NULL});
	t = json_loads(r.out, 0, NULL);
	if (!t)
		fail_msg("%s: exit %d, no trace: %s", what, r.status, r.err);
	run = json_object_get(t, "run");
	status = json_string_value(json_object_get(run, "status"));
	if (alone && sp->alone == ALONE_DEADLOCK) {
		char name[32];

		/* One task at a time: the first waits for the second. */
		snprintf(name, sizeof(name), "'%s'", sp->note);
		if (r.status != 1 || strcmp(status, "deadlock") != 0 ||
		    !strstr(json_string_value(json_object_get(run, "message")),
			    name))
			fail_msg("%s: exit %d, %s: %s", what, r.status, status,
				 r.err);
		json_decref(t);
		result_free(&r);
		return;
	}
	if (r.status != 0 || strcmp(status, "done") != 0)
		fail_msg("%s: exit %d, %s: %s", what, r.status, status, r.err);
	json_array_foreach(json_object_get(t, "tasks"), i, task) {
		const char *want = i == 0 ? sp->first : "ok";
		const char *got =
			json_string_value(json_object_get(task, "status"));

		if (strcmp(got, want) != 0)
			fail_msg("%s: task %zu ended %s, not %s", what, i + 1,
				 got, want);
	}
	if (alone && sp->alone == ALONE_NO_WAIT) {
		/* Nothing waits for a task that has already finished. */
		if (count_state(t, sp->state, NULL) != 0)
			fail_msg("%s: %s one task at a time", what, sp->state);
	} else if (count_state(t, sp->state, sp->note) == 0) {
		fail_msg("%s: no %s segment%s%s", what, sp->state,
			 sp->note ? " noted " : "", sp->note ? sp->note : "");
	}
	json_decref(t);
	result_free(&r);
}

static void check_step_refused(const struct step_program *sp, const char *model)
{
	char program[512];
	struct result r;
	const char *nl;

	snprintf(program, sizeof(program), "program=%s", sp->program);
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "custom", "--model",
				     model, "--set", program, "--format",
				     "json", NULL});
	nl = strchr(r.err, '\n');
	if (r.status != 2 || r.out_len != 0 || !nl || nl[1] != '\0' ||
	    strncmp(r.err, "overlap run: --set program: ",
		    strlen("overlap run: --set program: ")) != 0 ||
	    !strstr(r.err, model))
		fail_msg("%s under %s: exit %d, '%s'", sp->step, model,
			 r.status, r.err);
	result_free(&r);
}

static void test_catalog_steps_by_model(void **state)
{
	json_t *cat = catalog_json();
	json_t *models = json_object_get(cat, "models");
	json_t *steps =
		json_object_get(json_object_get(cat, "vocabulary"), "steps");
	json_t *step, *m;
	size_t i, j, runs = 0, refusals = 0;

	(void)state;
	/* Every model, interpreter-pool among them, with its options. */
	assert_true(json_list_has(models, "interpreter-pool"));
	for (i = 0; i < model_catalog_count; i++) {
		const struct model_ops *ops = model_catalog[i];
		json_t *opts = NULL;

		json_array_foreach(models, j, m)
			if (strcmp(json_string_value(json_object_get(m, "name")),
				   ops->name) == 0)
				opts = json_object_get(m, "options");
		if (!opts)
			fail_msg("the catalog has no model %s", ops->name);
		for (j = 0; j < ops->n_options; j++)
			if (!json_list_has(opts, ops->options[j].name))
				fail_msg("%s's option %s is not listed",
					 ops->name, ops->options[j].name);
	}
	/* Every word has a program, and every program a word. */
	for (i = 0; i < sizeof(step_programs) / sizeof(*step_programs); i++)
		if (!json_list_has(steps, step_programs[i].step))
			fail_msg("the catalog has no step %s",
				 step_programs[i].step);
	json_array_foreach(steps, i, step) {
		const char *name =
			json_string_value(json_object_get(step, "name"));
		const struct step_program *sp = step_program_for(name);
		json_t *refused = json_object_get(step, "refused_by");

		if (!sp)
			fail_msg("step %s has no program in step_programs.h",
				 name);
		assert_true(json_is_array(refused));
		assert_non_null(
			json_string_value(json_object_get(step, "syntax")));
		json_array_foreach(refused, j, m)
			if (!json_list_has(models, json_string_value(m)))
				fail_msg("%s: refused by unknown model %s",
					 name, json_string_value(m));
		json_array_foreach(models, j, m) {
			const char *model =
				json_string_value(json_object_get(m, "name"));

			if (json_list_has(refused, model)) {
				check_step_refused(sp, model);
				refusals++;
			} else {
				check_step_run(sp, model);
				runs++;
			}
		}
	}
	print_message("%zu runs, %zu refusals\n", runs, refusals);
	assert_true(runs > 0 && refusals > 0);
	json_decref(cat);
}

/* ---- runs --------------------------------------------------------------- */

static void require_fields(const json_t *obj, const char *what,
			   const char *const *fields)
{
	size_t i;

	if (!json_is_object(obj))
		fail_msg("%s is not an object", what);
	for (i = 0; fields[i]; i++)
		if (!json_object_get(obj, fields[i]))
			fail_msg("%s lacks '%s'", what, fields[i]);
}

static void check_trace(const json_t *t, const char *workload,
			const char *model, size_t n_tasks)
{
	const json_t *run = json_object_get(t, "run");
	const json_t *x;
	size_t i;

	require_fields(t, "trace",
		       (const char *[]){"format", "version", "run", "lanes",
					"tasks", "segments", "summary", NULL});
	assert_string_equal(json_string_value(json_object_get(t, "format")),
			    "overlap-trace");
	assert_int_equal(json_integer_value(json_object_get(t, "version")), 1);
	require_fields(run, "run",
		       (const char *[]){"id", "workload", "model", "params",
					"options", "status", "started_at",
					"host", NULL});
	require_fields(json_object_get(run, "host"), "run.host",
		       (const char *[]){"cores", "kernel", "engine", NULL});
	assert_string_equal(json_string_value(json_object_get(run, "workload")),
			    workload);
	assert_string_equal(json_string_value(json_object_get(run, "model")),
			    model);
	assert_string_equal(json_string_value(json_object_get(run, "status")),
			    "done");
	assert_true(json_array_size(json_object_get(t, "lanes")) >= 1);
	json_array_foreach(json_object_get(t, "lanes"), i, x)
		require_fields(x, "lane",
			       (const char *[]){"id", "kind", "name", "os_id",
						NULL});
	assert_int_equal(json_array_size(json_object_get(t, "tasks")), n_tasks);
	json_array_foreach(json_object_get(t, "tasks"), i, x) {
		require_fields(x, "task",
			       (const char *[]){"id", "name", "lane",
						"submit_ns", "start_ns",
						"end_ns", "status", "note",
						NULL});
		assert_string_equal(
			json_string_value(json_object_get(x, "status")), "ok");
	}
	/* Every task waited at least once. */
	assert_true(json_array_size(json_object_get(t, "segments")) >= n_tasks);
	json_array_foreach(json_object_get(t, "segments"), i, x)
		require_fields(x, "segment",
			       (const char *[]){"task", "lane", "state",
						"t0_ns", "t1_ns", "note",
						NULL});
	require_fields(json_object_get(t, "summary"), "summary",
		       (const char *[]){"wall_ns", "task_time_ns", "speedup",
					"parallelism", "cpu_util",
					"peak_inflight", "states", "checks",
					"diagnosis", NULL});
	require_fields(json_object_get(json_object_get(t, "summary"),
				       "diagnosis"),
		       "summary.diagnosis",
		       (const char *[]){"bound", "recommend", "why", NULL});
}

static void test_run_json(void **state)
{
	struct result r;
	json_error_t jerr;
	json_t *t;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "fetch", "--model",
				     "threads", "--tasks", "3", "--duration",
				     "20ms", "--format", "json", "--id",
				     "cli-test-1", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	t = json_loads(r.out, 0, &jerr);
	if (!t)
		fail_msg("not JSON: %s", jerr.text);
	check_trace(t, "fetch", "threads", 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(t, "run"), "id")),
			    "cli-test-1");
	json_decref(t);
	result_free(&r);
}

/* Requests that cannot open a socket end as error with what Python says,
 * and the others go on: 100 threads' requests hold two descriptors each
 * (the socket and the peer's end) against a limit of 80. */
static void test_run_out_of_files(void **state)
{
	struct result r;
	json_t *t, *task;
	size_t i, ok = 0, failed = 0;

	(void)state;
	child_nofile = 80;
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "fetch", "--model",
				     "threads", "--tasks", "100", "--duration",
				     "500ms", "--set", "io=net", "--format",
				     "json", NULL});
	child_nofile = 0;
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	t = json_loads(r.out, 0, NULL);
	assert_non_null(t);
	json_array_foreach(json_object_get(t, "tasks"), i, task) {
		const char *st =
			json_string_value(json_object_get(task, "status"));
		const char *note =
			json_string_value(json_object_get(task, "note"));

		if (strcmp(st, "ok") == 0) {
			ok++;
			continue;
		}
		assert_string_equal(st, "error");
		assert_string_equal(note,
				    "OSError: [Errno 24] Too many open files");
		failed++;
	}
	assert_true(ok > 0);
	assert_true(failed > 0);
	assert_int_equal(ok + failed, 100);
	json_decref(t);
	result_free(&r);
}

/* Without a terminal and without --format, the trace is JSON. */
static void test_run_default_format_is_json(void **state)
{
	struct result r;
	json_error_t jerr;
	json_t *t;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "fetch", "--model",
				     "sequential", "--tasks", "2", "--duration",
				     "5ms", "--set", "io=sleep", NULL});
	assert_int_equal(r.status, 0);
	t = json_loads(r.out, 0, &jerr);
	assert_non_null(t);
	check_trace(t, "fetch", "sequential", 2);
	json_decref(t);
	result_free(&r);
}

static void test_run_events_from_spec(void **state)
{
	struct result r;
	char *line, *save = NULL;
	size_t n_lines = 0, n_segments = 0;
	json_t *first = NULL, *last = NULL;

	(void)state;
	run_overlap(&r,
		    "{\"workload\":\"mixed\",\"model\":\"thread-pool\","
		    "\"params\":{\"tasks\":3,\"compute\":\"2ms\",\"wait\":10,"
		    "\"compute_after\":\"1ms\"},\"options\":{\"workers\":2}}",
		    (const char *[]){"run", "--spec", "-", "--format", "events",
				     NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	assert_true(r.out_len > 0 && r.out[r.out_len - 1] == '\n');
	for (line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *ev = json_loads(line, 0, &jerr);
		const char *type;

		if (!ev)
			fail_msg("line %zu is not JSON: %s", n_lines + 1, line);
		type = json_string_value(json_object_get(ev, "type"));
		assert_non_null(type);
		n_segments += strcmp(type, "segment") == 0;
		if (!first)
			first = json_incref(ev);
		json_decref(last);
		last = ev;
		n_lines++;
	}
	assert_non_null(first);
	assert_string_equal(json_string_value(json_object_get(first, "type")),
			    "run");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(first, "run"), "model")),
			    "thread-pool");
	assert_string_equal(json_string_value(json_object_get(last, "type")),
			    "summary");
	assert_string_equal(json_string_value(json_object_get(last, "status")),
			    "done");
	/* compute, io, compute for each of 3 tasks at least. */
	assert_true(n_segments >= 9);
	json_decref(first);
	json_decref(last);
	result_free(&r);
}

static void test_run_ascii_plain(void **state)
{
	struct result r;
	size_t i;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "fetch", "--model",
				     "threads", "--tasks", "2", "--duration",
				     "10ms", "--format", "ascii", "--plain",
				     "--width", "60", NULL});
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "request 1"));
	assert_non_null(strstr(r.out, "request 2"));
	for (i = 0; i < r.out_len; i++)
		if ((unsigned char)r.out[i] >= 0x80)
			fail_msg("--plain printed a non-ASCII byte at %zu", i);
	result_free(&r);
}

static void test_run_out_file(void **state)
{
	char path[] = "/tmp/overlap-test-cli-XXXXXX";
	struct result r;
	json_error_t jerr;
	json_t *t;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	run_overlap(&r, NULL,
		    (const char *[]){"run", "--workload", "crunch", "--model",
				     "sequential", "--tasks", "1", "--duration",
				     "2ms", "--out", path, NULL});
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 0);
	t = json_load_file(path, 0, &jerr);
	unlink(path);
	if (!t)
		fail_msg("--out file is not JSON: %s", jerr.text);
	check_trace(t, "crunch", "sequential", 1);
	json_decref(t);
	result_free(&r);
}

static void test_compare_json(void **state)
{
	struct result r;
	json_error_t jerr;
	json_t *root, *runs, *t;
	size_t i;
	static const char *const models[] = {"sequential", "threads"};

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"compare", "--workload", "fetch",
				     "--models", "sequential,threads",
				     "--tasks", "2", "--duration", "10ms",
				     "--workers", "2", "--format", "json",
				     NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	root = json_loads(r.out, 0, &jerr);
	assert_non_null(root);
	runs = json_object_get(root, "runs");
	assert_int_equal(json_array_size(runs), 2);
	json_array_foreach(runs, i, t)
		check_trace(t, "fetch", models[i], 2);
	json_decref(root);
	result_free(&r);
}

static void test_compare_ascii_table(void **state)
{
	struct result r;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"compare", "--workload", "fetch",
				     "--models", "threads,sequential",
				     "--tasks", "2", "--duration", "10ms",
				     "--format", "ascii", "--plain", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.out, "speedup"));
	assert_non_null(strstr(r.out, "parallelism"));
	assert_non_null(strstr(r.out, "peak in flight"));
	assert_non_null(strstr(r.out, "against sequential"));
	/* The table lists the models in the order asked. */
	assert_true(strstr(r.out, "\nthreads ") <
		    strstr(r.out, "\nsequential "));
	result_free(&r);
}

/*
 * A sweep of the process pool's workers over CPU-bound tasks: one point per
 * value, in order, each a run of its own with its wall time and speedup.
 * Checked by the runs' structure, not by a time.
 */
static void test_sweep_workers_json(void **state)
{
	static const long long workers[] = {1, 2, 4};
	struct result r;
	json_error_t jerr;
	json_t *root, *points, *p;
	size_t i;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"sweep", "--workload", "crunch", "--model",
				     "process-pool", "--param", "workers=1,2,4",
				     "--tasks", "4", "--duration", "100ms",
				     "--format", "json", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	root = json_loads(r.out, 0, &jerr);
	if (!root)
		fail_msg("not JSON: %s", jerr.text);
	assert_string_equal(json_string_value(json_object_get(root, "param")),
			    "workers");
	points = json_object_get(root, "points");
	assert_int_equal(json_array_size(points), 3);
	json_array_foreach(points, i, p) {
		assert_string_equal(
			json_string_value(json_object_get(p, "model")),
			"process-pool");
		assert_int_equal(
			json_integer_value(json_object_get(p, "value")),
			workers[i]);
		assert_true(json_integer_value(json_object_get(p, "wall_ns")) >
			    0);
		assert_true(json_real_value(json_object_get(p, "speedup")) > 0);
		assert_non_null(json_string_value(json_object_get(p, "run")));
	}
	/* Each point is its own run. */
	assert_string_not_equal(json_string_value(json_object_get(
					json_array_get(points, 0), "run")),
				json_string_value(json_object_get(
					json_array_get(points, 1), "run")));
	/* That two workers compute at once where one could not is the
	 * process pool's structure, tested on its trace (test_process_pool); the
	 * speedups here are what a busy machine leaves of it. */
	json_decref(root);
	result_free(&r);
}

/* The ASCII form: a row and a bar per point, and Amdahl's law for a count
 * of workers; a model without the parameter is left out when none is
 * named. */
static void test_sweep_ascii(void **state)
{
	struct result r;

	(void)state;
	run_overlap(&r, NULL,
		    (const char *[]){"sweep", "--workload", "fetch", "--models",
				     "thread-pool", "--param", "workers=1,2",
				     "--tasks", "2", "--duration", "10ms",
				     "--set", "io=sleep", "--format", "ascii",
				     "--plain", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.out, "\n1                thread-pool"));
	assert_non_null(strstr(r.out, "\n2                thread-pool"));
	assert_non_null(strstr(r.out, "x  #"));
	assert_non_null(strstr(r.out, "Amdahl's law allows"));
	result_free(&r);
}

/* --engine cpython: every point runs in the interpreter and the output
 * names it; a model the engine has no equivalent for is left out, with
 * the reason on stderr, when the models are not named; what the
 * interpreter cannot run is refused before any point runs. */
static void test_sweep_cpython(void **state)
{
	struct cpython_info py;
	struct result r;
	json_error_t jerr;
	json_t *root, *points, *p;
	size_t i;

	(void)state;
	if (cpython_probe("", &py) < 0)
		skip();
	run_overlap(&r, NULL,
		    (const char *[]){"sweep", "--workload", "fetch", "--models",
				     "thread-pool,interpreter-pool", "--param",
				     "workers=1,2", "--tasks", "2",
				     "--duration", "10ms", "--set", "io=sleep",
				     "--engine", "cpython", "--format", "json",
				     NULL});
	/* Named, interpreter-pool is refused: the engine has none. */
	assert_int_equal(r.status, 2);
	assert_int_equal(r.out_len, 0);
	result_free(&r);
	run_overlap(&r, NULL,
		    (const char *[]){"sweep", "--workload", "crunch", "--param",
				     "workers=1,2", "--tasks", "2",
				     "--duration", "10ms", "--engine",
				     "cpython", "--format", "json", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.err, "leaves out interpreter-pool"));
	root = json_loads(r.out, 0, &jerr);
	if (!root)
		fail_msg("not JSON: %s", jerr.text);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(root, "engine"), "name")),
			    "cpython");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(root, "engine"), "version")),
		py.version);
	points = json_object_get(root, "points");
	/* thread-pool, process-pool and asyncio-executor have workers. */
	assert_true(json_array_size(points) >= 4);
	json_array_foreach(points, i, p) {
		assert_string_not_equal(
			json_string_value(json_object_get(p, "model")),
			"interpreter-pool");
		assert_string_equal(
			json_string_value(json_object_get(p, "status")),
			"done");
	}
	json_decref(root);
	result_free(&r);
	if (strcmp(py.build, "gil") != 0)
		return;
	run_overlap(&r, NULL,
		    (const char *[]){"sweep", "--workload", "crunch", "--model",
				     "threads", "--param", "tasks=1,2", "--gil",
				     "off", "--engine", "cpython", NULL});
	assert_int_equal(r.status, 2);
	assert_int_equal(r.out_len, 0);
	assert_non_null(strstr(r.err, "overlap sweep: --gil: off needs a "
				      "free-threaded Python"));
	result_free(&r);
}

/* A model that rejects the spec is skipped, with the reason. */
static void test_compare_skips(void **state)
{
	struct result r;
	json_error_t jerr;
	json_t *root;
	const struct model_ops *threads = model_find("threads");
	char tasks[32];

	(void)state;
	assert_non_null(threads);
	snprintf(tasks, sizeof(tasks), "%u", threads->max_tasks + 1);
	run_overlap(&r, NULL,
		    (const char *[]){"compare", "--workload", "fetch",
				     "--models", "threads,asyncio", "--tasks",
				     tasks, "--duration", "1ms", "--format",
				     "json", NULL});
	if (r.status != 0)
		fail_msg("exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.err, "skipping threads"));
	root = json_loads(r.out, 0, &jerr);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "runs")), 1);
	assert_int_equal(json_array_size(json_object_get(root, "skipped")), 1);
	json_decref(root);
	result_free(&r);
}

/* SIGTERM (what the server sends to cancel) stops a run as cancelled with
 * its trace whole: the runner streams its events, is signalled once a
 * wait has opened, and still writes the rest, the wait closed at the stop,
 * every task ended, the summary last; it exits 1. */
static void test_run_sigterm_cancels(void **state)
{
	int out[2];
	pid_t pid;
	char *buf = NULL;
	size_t len = 0;
	bool signalled = false;
	int status;
	char *line, *save = NULL;
	size_t segments = 0, ended = 0;
	json_t *summary = NULL;

	(void)state;
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(overlap_bin(), "overlap", "run", "--workload", "fetch",
		      "--model", "threads", "--tasks", "2", "--duration", "30s",
		      "--set", "io=sleep", "--format", "events", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(out[0], chunk, sizeof(chunk));

		if (n <= 0)
			break;
		append(&buf, &len, chunk, (size_t)n);
		if (!signalled && strstr(buf, "\"type\":\"open\"")) {
			kill(pid, SIGTERM);
			signalled = true;
		}
	}
	close(out[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(signalled);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(line, 0, NULL);
		const char *type =
			json_string_value(json_object_get(ev, "type"));

		assert_non_null(type);
		/* A busy machine may add a thread's gil-wait or runnable:
		 * the sleeps are what the stop cuts. */
		const char *state = json_string_value(json_object_get(
			json_object_get(ev, "segment"), "state"));

		if (strcmp(type, "segment") == 0 && state &&
		    strcmp(state, "sleep") == 0)
			segments++;
		if (strcmp(type, "task") == 0 &&
		    json_is_integer(json_object_get(json_object_get(ev, "task"),
						    "end_ns")))
			ended++;
		json_decref(summary);
		summary = ev;
	}
	/* The last line is the summary, of a cancelled run. */
	assert_string_equal(json_string_value(json_object_get(summary, "type")),
			    "summary");
	assert_string_equal(
		json_string_value(json_object_get(summary, "status")),
		"cancelled");
	assert_int_equal(segments, 2); /* both sleeps, cut at the stop */
	assert_true(ended >= 2);
	json_decref(summary);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_workloads_lists_catalog),
		cmocka_unit_test(test_catalog_steps_by_model),
		cmocka_unit_test(test_run_json),
		cmocka_unit_test(test_run_out_of_files),
		cmocka_unit_test(test_run_default_format_is_json),
		cmocka_unit_test(test_run_events_from_spec),
		cmocka_unit_test(test_run_ascii_plain),
		cmocka_unit_test(test_run_out_file),
		cmocka_unit_test(test_compare_json),
		cmocka_unit_test(test_compare_ascii_table),
		cmocka_unit_test(test_compare_skips),
		cmocka_unit_test(test_sweep_workers_json),
		cmocka_unit_test(test_sweep_ascii),
		cmocka_unit_test(test_sweep_cpython),
		cmocka_unit_test(test_run_sigterm_cancels),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, skip_without_binary, NULL);
}
