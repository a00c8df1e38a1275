/*
 * workload: the catalog, and the first four recipes (fetch, crunch, mixed,
 * custom).
 *
 * Each workload is a table of parameters plus a build() that reads the
 * validated spec and appends tasks to a program.  Adding a workload is one
 * `const struct workload workload_x` (in any file, e.g. workload_sync.c)
 * and one line in workload_catalog[] below; nothing else changes, because
 * the CLI, the server's form and the validation all read the table.
 *
 * Tasks that do the same thing share one range of steps, so 100,000
 * identical fetches cost one step; only jitter or a list of durations gives
 * each task its own.
 */
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define MS(x) ((double)(x)*NS_PER_MS)
#define SEC(x) ((double)(x)*NS_PER_S)

/* Workloads defined in other files. */
extern const struct workload workload_fetch;
extern const struct workload workload_crunch;
extern const struct workload workload_mixed;
extern const struct workload workload_custom;
extern const struct workload workload_counter;	/* workload_sync.c */
extern const struct workload workload_pipeline; /* workload_sync.c */
extern const struct workload workload_scraper;	/* workload_sync.c */
extern const struct workload workload_files;	/* workload_sync.c */

/* The catalog, in the order the CLI and the page list it. */
const struct workload *const workload_catalog[] = {
	&workload_fetch,   &workload_crunch,   &workload_mixed,
	&workload_counter, &workload_pipeline, &workload_scraper,
	&workload_files,   &workload_custom,
};
const size_t workload_catalog_count =
	sizeof(workload_catalog) / sizeof(workload_catalog[0]);

const struct workload *workload_find(const char *name)
{
	size_t i;

	for (i = 0; i < workload_catalog_count; i++)
		if (strcmp(workload_catalog[i]->name, name) == 0)
			return workload_catalog[i];
	return NULL;
}

static void set_error(struct spec_error *err, const char *field, int column,
		      const char *message)
{
	snprintf(err->field, sizeof(err->field), "params.%s", field);
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = column;
}

/* A step that waits: net (a real request to the latency peer) or sleep. */
static struct step wait_step(const char *io, int64_t ns)
{
	struct step s = {0};

	s.kind = strcmp(io, "sleep") == 0 ? STEP_SLEEP : STEP_NET;
	s.ns = ns;
	return s;
}

/* ---- fetch -------------------------------------------------------------- */

#define FETCH_MAX_DURATIONS 1000

static const struct param_def fetch_params[] = {
	{"tasks", PARAM_INT, "tasks", "3", 1, 100000, NULL,
	 "how many requests run"},
	{"duration", PARAM_DURATION, "ms", "1s", 0, SEC(60), NULL,
	 "how long each request waits for its reply"},
	{"durations", PARAM_TEXT, "", "", 0, 4096, NULL,
	 "a list such as 1.5s,2s,1s: one request per entry (overrides tasks "
	 "and duration; at most 1000)"},
	{"jitter", PARAM_FLOAT, "", "0", 0, 1, NULL,
	 "each wait is scaled by a random factor in [1-jitter, 1+jitter]"},
	{"seed", PARAM_INT, "", "1", 0, 2147483647, NULL,
	 "seed of the jitter, so a run can be repeated"},
	{"io", PARAM_ENUM, "", "net", 0, 0, "net|sleep",
	 "net: a real request over loopback TCP; sleep: time.sleep"},
};

/* splitmix64: small, fast, and the same sequence on every machine, so a
 * seed reproduces a run's jitter exactly. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform01(uint64_t *state)
{
	return (double)(splitmix64(state) >> 11) / (double)(1ULL << 53);
}

/* Parses "1.5s,2s,1s" into ns[] (at most max entries).  Returns the count,
 * or -EINVAL with err naming the entry. */
static int parse_duration_list(const char *text, int64_t *ns, size_t max,
			       const struct param_def *def,
			       struct spec_error *err)
{
	char buf[64], message[256], limit[32];
	const char *p = text;
	size_t n = 0;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int64_t v;

		if (n == max) {
			snprintf(message, sizeof(message),
				 "durations: at most %zu entries", max);
			set_error(err, "durations", 0, message);
			return -EINVAL;
		}
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (util_parse_duration(buf, &v) < 0) {
			snprintf(message, sizeof(message),
				 "durations: entry %zu: expected a duration "
				 "such as 1.5s (got '%s')",
				 n + 1, buf);
			set_error(err, "durations", 0, message);
			return -EINVAL;
		}
		if (v < (int64_t)def->min || v > (int64_t)def->max) {
			bool low = v < (int64_t)def->min;

			util_format_duration_text(low ? (int64_t)def->min
						      : (int64_t)def->max,
						  limit, sizeof(limit));
			snprintf(message, sizeof(message),
				 "durations: entry %zu: must be at %s %s "
				 "(got '%s')",
				 n + 1, low ? "least" : "most", limit, buf);
			set_error(err, "durations", 0, message);
			return -EINVAL;
		}
		ns[n++] = v;
		if (!end)
			return (int)n;
		p = end + 1;
	}
}

static int fetch_build(const struct spec *spec, struct program *p,
		       struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	const char *io = spec_text(ps, "io");
	double jitter = spec_float(ps, "jitter");
	uint64_t rng = (uint64_t)spec_int(ps, "seed");
	int64_t ns[FETCH_MAX_DURATIONS];
	int64_t n_tasks, i;
	bool listed = spec_given(ps, "durations") &&
		      spec_text(ps, "durations")[0] != '\0';

	if (listed) {
		int n = parse_duration_list(spec_text(ps, "durations"), ns,
					    FETCH_MAX_DURATIONS,
					    &fetch_params[1], err);
		if (n < 0)
			return n;
		n_tasks = n;
	} else {
		n_tasks = spec_int(ps, "tasks");
	}
	if (!listed && jitter == 0) {
		/* Every request the same: one shared step. */
		uint32_t first = program_add_step(
			p, wait_step(io, spec_ns(ps, "duration")));

		for (i = 0; i < n_tasks; i++)
			program_add_task(p, "request", (uint32_t)i + 1, first,
					 1);
		return 0;
	}
	for (i = 0; i < n_tasks; i++) {
		int64_t base = listed ? ns[i] : spec_ns(ps, "duration");
		double factor = 1.0;
		uint32_t first;

		if (jitter > 0)
			factor = 1.0 - jitter + 2.0 * jitter * uniform01(&rng);
		first = program_add_step(
			p, wait_step(io, (int64_t)((double)base * factor)));
		program_add_task(p, "request", (uint32_t)i + 1, first, 1);
	}
	return 0;
}

const struct workload workload_fetch = {
	.name = "fetch",
	.help = "requests that wait on I/O: waiting overlaps under threads "
		"and asyncio",
	.params = fetch_params,
	.n_params = sizeof(fetch_params) / sizeof(fetch_params[0]),
	.build = fetch_build,
};

/* ---- crunch ------------------------------------------------------------- */

static const struct param_def crunch_params[] = {
	{"tasks", PARAM_INT, "tasks", "2", 1, 10000, NULL,
	 "how many CPU-bound tasks run"},
	{"duration", PARAM_DURATION, "ms", "1s", MS(1), SEC(60), NULL,
	 "computation per task, as one core does it"},
	{"iterations", PARAM_INT, "iterations", "0", 0, 1e12, NULL,
	 "exact loop iterations per task instead of a duration (0: use "
	 "duration)"},
};

static int crunch_build(const struct spec *spec, struct program *p,
			struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	int64_t n_tasks = spec_int(ps, "tasks"), i;
	int64_t iterations = spec_int(ps, "iterations");
	struct step s = {0};
	uint32_t first;

	(void)err;
	s.kind = STEP_CPU;
	if (iterations > 0)
		s.n = iterations; /* the duration is what it takes */
	else
		s.ns = spec_ns(ps, "duration");
	first = program_add_step(p, s);
	for (i = 0; i < n_tasks; i++)
		program_add_task(p, "task", (uint32_t)i + 1, first, 1);
	return 0;
}

const struct workload workload_crunch = {
	.name = "crunch",
	.help = "CPU-bound tasks: the GIL serialises them, processes use "
		"the cores",
	.params = crunch_params,
	.n_params = sizeof(crunch_params) / sizeof(crunch_params[0]),
	.build = crunch_build,
};

/* ---- mixed -------------------------------------------------------------- */

static const struct param_def mixed_params[] = {
	{"tasks", PARAM_INT, "tasks", "3", 1, 100000, NULL,
	 "how many tasks run"},
	{"compute", PARAM_DURATION, "ms", "20ms", 0, SEC(10), NULL,
	 "computation before the wait"},
	{"wait", PARAM_DURATION, "ms", "200ms", 0, SEC(60), NULL,
	 "the wait in the middle"},
	{"compute_after", PARAM_DURATION, "ms", "10ms", 0, SEC(10), NULL,
	 "computation after the wait"},
	{"io", PARAM_ENUM, "", "net", 0, 0, "net|sleep",
	 "net: a real request over loopback TCP; sleep: time.sleep"},
};

static int mixed_build(const struct spec *spec, struct program *p,
		       struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	int64_t n_tasks = spec_int(ps, "tasks"), i;
	struct step cpu = {0};
	uint32_t first;

	(void)err;
	cpu.kind = STEP_CPU;
	cpu.ns = spec_ns(ps, "compute");
	first = program_add_step(p, cpu);
	program_add_step(p,
			 wait_step(spec_text(ps, "io"), spec_ns(ps, "wait")));
	cpu.ns = spec_ns(ps, "compute_after");
	program_add_step(p, cpu);
	for (i = 0; i < n_tasks; i++)
		program_add_task(p, "task", (uint32_t)i + 1, first, 3);
	return 0;
}

const struct workload workload_mixed = {
	.name = "mixed",
	.help = "compute, wait, compute: the wait overlaps, the computation "
		"may not",
	.params = mixed_params,
	.n_params = sizeof(mixed_params) / sizeof(mixed_params[0]),
	.build = mixed_build,
};

/* ---- custom ------------------------------------------------------------- */

static const struct param_def custom_params[] = {
	{"program", PARAM_TEXT, "", "3 x (cpu 20ms, net 200ms, cpu 10ms)", 0,
	 4096, NULL,
	 "tasks in the step language: N x (step, step, ...); groups "
	 "separated by ';'"},
};

static int custom_build(const struct spec *spec, struct program *p,
			struct spec_error *err)
{
	struct steps_error serr;
	char message[256];
	int rc;

	rc = steps_parse(spec_text(&spec->params, "program"), p, &serr);
	if (rc < 0) {
		snprintf(message, sizeof(message), "program: column %d: %s",
			 serr.column, serr.message);
		set_error(err, "program", serr.column, message);
	}
	return rc;
}

const struct workload workload_custom = {
	.name = "custom",
	.help = "tasks written in the step language, e.g. 4 x (cpu 20ms, "
		"net 200ms)",
	.params = custom_params,
	.n_params = sizeof(custom_params) / sizeof(custom_params[0]),
	.build = custom_build,
	.disk_param = "program",
};
