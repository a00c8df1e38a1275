/*
 * test_protocol: the vocabulary and the machine-readable contract.
 *
 * Table-driven over protocol_states: every state has a name, a help line,
 * a glyph, a bucket and colours, and a segment in it survives the trace
 * JSON both ways, is drawn and named in the ASCII legend, and becomes a
 * Chrome event of its category, so a state added to the table reaches
 * every output.  Then docs/protocol.json: its vocabulary equals the
 * engine's, its word lists equal the vocabulary, and real engine output
 * (the event lines of several runs, a trace JSON, the catalog) has the
 * shapes it describes, checked by a small validator of the JSON Schema
 * keywords the file uses (type, enum, required, properties,
 * additionalProperties, items, minimum, anyOf, $ref), which is shown to
 * refuse what it should.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocol.h"
#include "render.h"
#include "spec.h"
#include "summary.h"
#include "trace.h"
#include "trace_json.h"
#include "util.h"

#define MS NS_PER_MS

/* ---- the vocabulary ----------------------------------------------------- */

static bool is_colour(const char *s)
{
	if (!s || strlen(s) != 7 || s[0] != '#')
		return false;
	for (int i = 1; i < 7; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

/* Code points in UTF-8 text. */
static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void test_state_rows(void **state)
{
	(void)state;
	for (unsigned s = 0; s < ST__COUNT; s++) {
		const struct state_def *d = seg_state_def(s);
		const struct glyph_def *g;

		assert_non_null(d);
		assert_non_null(d->name);
		assert_true(strlen(d->name) > 0);
		assert_int_equal(seg_state_parse(d->name), (int)s);
		assert_string_equal(seg_state_name(s), d->name);
		assert_non_null(d->help);
		assert_true(strlen(d->help) > 0);
		assert_in_range(d->glyph, 1, PROTOCOL_GLYPHS - 1);
		g = &protocol_glyphs[d->glyph];
		assert_int_equal(strlen(g->plain), 1);
		assert_true((unsigned char)g->plain[0] > ' ' &&
			    (unsigned char)g->plain[0] < 0x7f);
		assert_int_equal(code_points(g->unicode), 1);
		assert_in_range(d->bucket, 0, BUCKET__COUNT - 1);
		assert_true(is_colour(d->colour));
		assert_true(is_colour(d->colour_dark));
		for (unsigned o = 0; o < s; o++)
			assert_string_not_equal(protocol_states[o].name,
						d->name);
	}
	assert_null(seg_state_def(ST__COUNT));
	/* Every glyph but the empty one draws some state. */
	for (unsigned g = 1; g < PROTOCOL_GLYPHS; g++) {
		bool used = false;

		for (unsigned s = 0; s < ST__COUNT; s++)
			used |= protocol_states[s].glyph == g;
		assert_true(used);
	}
}

/* Which run statuses end a run and which say it was stopped from outside:
 * the page reads both from the catalog, so they must be right there. */
static void test_run_status_flags(void **state)
{
	static const struct {
		const char *name;
		bool final, stopped;
	} want[] = {
		{"queued", false, false},  {"running", false, false},
		{"done", true, false},	   {"error", true, false},
		{"cancelled", true, true}, {"interrupted", true, true},
		{"deadlock", true, false},
	};
	json_t *vocab = protocol_vocabulary_json();
	json_t *list = json_object_get(vocab, "run_statuses");

	(void)state;
	assert_int_equal(json_array_size(list), RUN_STATUS_COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int s = run_status_parse(want[i].name);
		json_t *row;

		assert_true(s >= 0);
		assert_int_equal(run_status_final(s), want[i].final);
		assert_int_equal(run_status_stopped(s), want[i].stopped);
		row = json_array_get(list, (size_t)s);
		assert_string_equal(
			json_string_value(json_object_get(row, "name")),
			want[i].name);
		assert_int_equal(json_is_true(json_object_get(row, "final")),
				 want[i].final);
		assert_int_equal(json_is_true(json_object_get(row, "stopped")),
				 want[i].stopped);
	}
	json_decref(vocab);
}

/* A run of one task with one 10 ms segment in state s. */
static void one_segment_trace(struct trace *t, unsigned s)
{
	struct trace_lane *l;
	struct trace_task *k;
	struct trace_segment *seg;

	trace_init(t);
	util_strlcpy(t->id, "20261205-000000-protocol", sizeof(t->id));
	util_strlcpy(t->workload, "custom", sizeof(t->workload));
	util_strlcpy(t->model, "sequential", sizeof(t->model));
	t->params = json_object();
	t->options = json_object();
	t->status = RUN_DONE;
	util_strlcpy(t->started_at, "2026-12-05T00:00:00Z",
		     sizeof(t->started_at));
	t->host.cores = 2;
	l = trace_add_lane(t);
	l->kind = LANE_MAIN;
	util_strlcpy(l->name, "main", sizeof(l->name));
	k = trace_add_task(t);
	trace_task_set_name(t, k, "task 1");
	k->lane = 0;
	k->submit_ns = 0;
	k->start_ns = 0;
	k->end_ns = 10 * MS;
	k->status = TASK_OK;
	seg = trace_add_segment(t);
	*seg = (struct trace_segment){0, 10 * MS, 0, 0, 0, (uint8_t)s, false};
	summary_compute(t);
}

static void test_state_reaches_trace_json(void **state)
{
	(void)state;
	for (unsigned s = 0; s < ST__COUNT; s++) {
		struct trace t, back;
		json_t *j;
		char err[256];

		one_segment_trace(&t, s);
		assert_int_equal(t.summary.states_ns[s], 10 * MS);
		j = trace_to_json(&t);
		assert_non_null(j);
		assert_string_equal(
			json_string_value(json_object_get(
				json_array_get(json_object_get(j, "segments"),
					       0),
				"state")),
			protocol_states[s].name);
		assert_int_equal(
			json_integer_value(json_object_get(
				json_object_get(json_object_get(j, "summary"),
						"states"),
				protocol_states[s].name)),
			10 * MS);
		trace_init(&back);
		assert_int_equal(trace_from_json(j, &back, err, sizeof(err)),
				 0);
		assert_int_equal(back.n_segments, 1);
		assert_int_equal(back.segments[0].state, s);
		assert_int_equal(back.summary.states_ns[s], 10 * MS);
		json_decref(j);
		trace_free(&back);
		trace_free(&t);
	}
}

/* The ASCII timeline of t, with its legend, into *text (freed by the
 * caller). */
static void ascii_of(const struct trace *t, bool unicode, char **text)
{
	struct ascii_opts o = {.width = 80, .unicode = unicode};
	size_t len = 0;
	FILE *f;

	*text = NULL;
	f = open_memstream(text, &len);
	assert_non_null(f);
	assert_int_equal(render_ascii(t, &o, f), 0);
	fclose(f);
	assert_non_null(*text);
}

static void test_state_reaches_ascii_legend(void **state)
{
	(void)state;
	for (unsigned s = 0; s < ST__COUNT; s++) {
		const struct state_def *d = &protocol_states[s];
		const struct glyph_def *g = &protocol_glyphs[d->glyph];

		for (int unicode = 0; unicode < 2; unicode++) {
			const char *glyph = unicode ? g->unicode : g->plain;
			struct trace t;
			char *text, *legend, *row, want[64];

			one_segment_trace(&t, s);
			ascii_of(&t, unicode, &text);
			row = strstr(text, "task 1:");
			legend = strstr(text, "Legend:");
			assert_non_null(row);
			assert_non_null(legend);
			/* The row draws the state with its glyph ... */
			assert_true(strstr(row, glyph) != NULL &&
				    strstr(row, glyph) < legend);
			/* ... and the legend names it beside that glyph. */
			snprintf(want, sizeof(want), "%s %s", glyph, d->name);
			assert_non_null(strstr(legend, want));
			free(text);
			trace_free(&t);
		}
	}
}

static void test_state_reaches_chrome(void **state)
{
	(void)state;
	for (unsigned s = 0; s < ST__COUNT; s++) {
		struct trace t;
		json_t *chrome, *events, *ev;
		size_t i;
		bool found = false;

		one_segment_trace(&t, s);
		chrome = render_chrome(&t);
		assert_non_null(chrome);
		events = json_object_get(chrome, "traceEvents");
		json_array_foreach(events, i, ev) {
			const char *ph =
				json_string_value(json_object_get(ev, "ph"));
			const char *cat =
				json_string_value(json_object_get(ev, "cat"));

			if (ph && strcmp(ph, "X") == 0 && cat &&
			    strcmp(cat, protocol_states[s].name) == 0)
				found = true;
		}
		assert_true(found);
		json_decref(chrome);
		trace_free(&t);
	}
}

/* ---- docs/protocol.json ------------------------------------------------- */

static json_t *contract;

static json_t *load_contract(void)
{
	const char *data = getenv("OVERLAP_TESTDATA");
	char path[1024];
	json_error_t jerr;
	json_t *root;

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/../../docs/protocol.json", data);
	root = json_load_file(path, 0, &jerr);
	if (!root)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	return root;
}

static bool type_is(const json_t *v, const char *type)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	fail_msg("docs/protocol.json: unknown type \"%s\"", type);
	return false;
}

static bool shape_fail(char *why, size_t size, const char *path,
		       const char *what)
{
	snprintf(why, size, "%s: %s", path, what);
	return false;
}

/* True when v has the shape schema describes; else false with the first
 * mismatch, named by its path, in why. */
static bool shape_ok(const json_t *v, const json_t *schema, const char *path,
		     char *why, size_t size)
{
	const json_t *kw, *item;
	char sub[256];
	size_t i;

	kw = json_object_get(schema, "$ref");
	if (kw) {
		const char *ref = json_string_value(kw);
		const json_t *target = NULL;

		if (ref && strncmp(ref, "#/$defs/", 8) == 0)
			target = json_object_get(
				json_object_get(contract, "$defs"), ref + 8);
		if (!target)
			fail_msg("docs/protocol.json: no target for a $ref "
				 "at %s",
				 path);
		if (!shape_ok(v, target, path, why, size))
			return false;
	}
	kw = json_object_get(schema, "anyOf");
	if (kw) {
		bool any = false;

		json_array_foreach(kw, i, item) {
			if (shape_ok(v, item, path, why, size)) {
				any = true;
				break;
			}
		}
		if (!any)
			return false; /* why: the last alternative's */
	}
	kw = json_object_get(schema, "type");
	if (json_is_string(kw) && !type_is(v, json_string_value(kw)))
		return shape_fail(why, size, path, "not of its type");
	kw = json_object_get(schema, "enum");
	if (kw) {
		bool in = false;

		json_array_foreach(kw, i, item)
			in |= json_equal(v, item);
		if (!in)
			return shape_fail(why, size, path,
					  "not one of its words");
	}
	kw = json_object_get(schema, "minimum");
	if (kw && json_is_number(v) &&
	    json_number_value(v) < json_number_value(kw))
		return shape_fail(why, size, path, "below its minimum");
	kw = json_object_get(schema, "required");
	if (kw && json_is_object(v))
		json_array_foreach(kw, i, item) {
			if (!json_object_get(v, json_string_value(item))) {
				snprintf(sub, sizeof(sub), "no \"%s\"",
					 json_string_value(item));
				return shape_fail(why, size, path, sub);
			}
		}
	kw = json_object_get(schema, "properties");
	if (kw && json_is_object(v)) {
		const char *key;
		json_t *prop;

		json_object_foreach((json_t *)kw, key, prop) {
			const json_t *field = json_object_get(v, key);

			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (field && !shape_ok(field, prop, sub, why, size))
				return false;
		}
	}
	kw = json_object_get(schema, "additionalProperties");
	if (json_is_object(kw) && json_is_object(v)) {
		const char *key;
		json_t *field;

		json_object_foreach((json_t *)v, key, field) {
			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (!shape_ok(field, kw, sub, why, size))
				return false;
		}
	}
	kw = json_object_get(schema, "items");
	if (kw && json_is_array(v))
		json_array_foreach(v, i, item) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!shape_ok(item, kw, sub, why, size))
				return false;
		}
	return true;
}

static json_t *def_ref(const char *def)
{
	return json_pack("{s:s+}", "$ref", "#/$defs/", def);
}

static bool def_ok(const json_t *v, const char *def, char *why, size_t size)
{
	json_t *ref = def_ref(def);
	bool ok = shape_ok(v, ref, def, why, size);

	json_decref(ref);
	return ok;
}

static void assert_def(const json_t *v, const char *def)
{
	char why[512];

	if (!def_ok(v, def, why, sizeof(why)))
		fail_msg("%s", why);
}

/* An event line: its "type" names its shape in event_lines. */
static bool line_ok(const json_t *line, char *why, size_t size)
{
	const char *type = json_string_value(json_object_get(line, "type"));
	const json_t *shape;

	if (!type) {
		snprintf(why, size, "a line without a type");
		return false;
	}
	shape = json_object_get(json_object_get(contract, "event_lines"), type);
	if (!shape) {
		snprintf(why, size, "type \"%s\" is not in event_lines", type);
		return false;
	}
	return shape_ok(line, shape, type, why, size);
}

static char *run_binary(const char *args)
{
	const char *bin = getenv("OVERLAP_BIN");
	char cmd[1024], buf[65536];
	char *out = calloc(1, 1);
	size_t len = 0, n;
	FILE *p;

	assert_non_null(bin);
	snprintf(cmd, sizeof(cmd), "'%s' %s", bin, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		out = realloc(out, len + n + 1);
		assert_non_null(out);
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	assert_int_equal(pclose(p), 0);
	return out;
}

static int contract_setup(void **state)
{
	(void)state;
	contract = load_contract();
	return 0;
}

static int contract_teardown(void **state)
{
	(void)state;
	json_decref(contract);
	contract = NULL;
	return 0;
}

/* The contract's vocabulary is the engine's, and its word lists are the
 * vocabulary's. */
static void test_contract_vocabulary(void **state)
{
	json_t *engine = protocol_vocabulary_json();
	const json_t *doc = json_object_get(contract, "vocabulary");
	const json_t *defs = json_object_get(contract, "$defs");
	static const struct {
		const char *def;
		const char *list;
	} words[] = {
		{"state", "states"},
		{"run_status", "run_statuses"},
		{"task_status", "task_statuses"},
		{"lane_kind", "lane_kinds"},
		{"param_kind", "param_kinds"},
		{"counter", "counters"},
		{"bucket", "buckets"},
	};

	(void)state;
	assert_non_null(doc);
	if (!json_equal(engine, doc)) {
		char *a = json_dumps(engine, JSON_INDENT(2) | JSON_SORT_KEYS);

		fail_msg("docs/protocol.json's vocabulary differs from the "
			 "engine's, which is:\n%s",
			 a);
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const json_t *list = json_object_get(doc, words[i].list);
		const json_t *e = json_object_get(
			json_object_get(defs, words[i].def), "enum");
		json_t *names = json_array();
		size_t j;
		const json_t *item;

		assert_non_null(list);
		assert_non_null(e);
		json_array_foreach(list, j, item)
			json_array_append(
				names, json_is_string(item)
					       ? (json_t *)item
					       : json_object_get(item, "name"));
		if (!json_equal(names, e))
			fail_msg("$defs.%s.enum is not vocabulary.%s",
				 words[i].def, words[i].list);
		json_decref(names);
	}
	assert_int_equal(json_array_size(json_object_get(doc, "states")),
			 ST__COUNT);
	json_decref(engine);
}

/* Every line of a run's event stream has the shape of its type, and the
 * stream begins with the run and ends with the summary. */
static void check_events_of(const char *args, size_t *lines)
{
	char *out = run_binary(args), *line, *save = NULL;
	char first[16] = "", last[16] = "";

	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *obj = json_loads(line, 0, &jerr);
		char why[512];
		const char *type;

		if (!obj)
			fail_msg("%s: not JSON: %s", args, jerr.text);
		if (!line_ok(obj, why, sizeof(why)))
			fail_msg("%s: %s", args, why);
		type = json_string_value(json_object_get(obj, "type"));
		if (!first[0])
			util_strlcpy(first, type, sizeof(first));
		util_strlcpy(last, type, sizeof(last));
		json_decref(obj);
		(*lines)++;
	}
	assert_string_equal(first, "run");
	assert_string_equal(last, "summary");
	free(out);
}

static void test_contract_event_lines(void **state)
{
	static const char *const runs[] = {
		"run --workload fetch --model threads --set tasks=3 "
		"--set duration=20ms --format events",
		"run --workload counter --model asyncio --set tasks=3 "
		"--set increments=1000 --format events",
		"run --workload pipeline --model thread-pool --format events "
		"--set items=6",
		"run --workload crunch --model process-pool --set tasks=2 "
		"--set duration=5ms --set workers=2 --format events",
		"run --workload custom --model asyncio-executor --set "
		"'program=2 x (cpu 2ms, sleep 5ms)' --format events",
	};
	size_t lines = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		check_events_of(runs[i], &lines);
	/* Five runs: each a run, lanes, tasks, segments, a summary. */
	assert_true(lines > 5 * 4);
}

/* The line types protocol.h lists are the contract's, no more, no less
 * (the runner's error line aside: never stored), and the reader sorts a
 * line by them. */
static void test_line_types(void **state)
{
	const json_t *lines = json_object_get(contract, "event_lines");
	const char *key;
	json_t *v, *line;
	size_t listed = 0;

	(void)state;
	assert_true(json_is_object(lines));
	for (int t = 0; t < LINE_TYPE_COUNT; t++) {
		if (t == LINE_ERROR)
			continue;
		if (!json_object_get(lines, line_type_name((enum line_type)t)))
			fail_msg("docs/protocol.json has no \"%s\" line",
				 line_type_name((enum line_type)t));
		listed++;
	}
	json_object_foreach((json_t *)lines, key, v) {
		assert_int_not_equal(line_type_parse(key), -1);
	}
	assert_int_equal(json_object_size(lines), listed);
	assert_true(line_type_servers(LINE_END));
	assert_true(line_type_servers(LINE_STATUS));
	assert_false(line_type_servers(LINE_SEGMENT));
	assert_false(line_type_servers(-1));

	static const char seg[] =
		"{\"type\":\"segment\",\"segment\":{\"task\":1}}";
	assert_int_equal(protocol_line_read(seg, sizeof(seg) - 1, &line),
			 LINE_SEGMENT);
	v = protocol_line_body(line, LINE_SEGMENT);
	assert_int_equal(json_integer_value(json_object_get(v, "task")), 1);
	json_decref(line);

	static const char counter[] =
		"{\"type\":\"counter\",\"name\":\"queue_depth\"}";
	assert_int_equal(protocol_line_read(counter, sizeof(counter) - 1,
					    &line),
			 LINE_COUNTER);
	assert_ptr_equal(protocol_line_body(line, LINE_COUNTER), line);
	json_decref(line);

	static const char newer[] = "{\"type\":\"later\",\"x\":1}";
	assert_int_equal(protocol_line_read(newer, sizeof(newer) - 1, &line),
			 -1);
	assert_non_null(line);
	assert_null(protocol_line_body(line, -1));
	json_decref(line);

	static const char *const bad[] = {"7", "[1]", "{\"type\":3}",
					  "{\"segment\":{}}", "{\"type\":"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		line = (json_t *)1;
		assert_int_equal(protocol_line_read(bad[i], strlen(bad[i]),
						    &line),
				 -EINVAL);
		assert_null(line);
	}
}

static void test_contract_trace(void **state)
{
	char *out = run_binary("run --workload mixed --model thread-pool "
			       "--set tasks=4 --format json");
	json_error_t jerr;
	json_t *trace = json_loads(out, 0, &jerr);

	(void)state;
	if (!trace)
		fail_msg("trace: not JSON: %s", jerr.text);
	assert_def(trace, "trace");
	assert_true(json_array_size(json_object_get(trace, "segments")) > 0);
	json_decref(trace);
	free(out);
}

static void test_contract_catalog(void **state)
{
	char *out = run_binary("workloads --json");
	json_error_t jerr;
	json_t *catalog = json_loads(out, 0, &jerr), *direct, *engine;
	size_t i;

	(void)state;
	if (!catalog)
		fail_msg("catalog: not JSON: %s", jerr.text);
	assert_def(catalog, "catalog");
	/* The binary prints the catalog function's object, vocabulary and
	 * all: the same the server serves, which adds the interpreters it
	 * found on this machine to each engine. */
	json_array_foreach(json_object_get(catalog, "engines"), i, engine)
		json_object_del(engine, "interpreters");
	direct = spec_catalog_json();
	assert_true(json_equal(catalog, direct));
	json_decref(direct);
	json_decref(catalog);
	free(out);
}

/* The checks above can fail: a line with a word outside the vocabulary,
 * one without a required field, or a field of the wrong type is refused,
 * and so is a type of line the contract does not name. */
static void test_contract_refuses(void **state)
{
	json_t *seg = json_pack("{s:s, s:{s:i, s:i, s:s, s:i, s:i, s:s}}",
				"type", "segment", "segment", "task", 0, "lane",
				0, "state", "compute", "t0_ns", 0, "t1_ns", 5,
				"note", "");
	json_t *bad;
	char why[512];

	(void)state;
	assert_true(line_ok(seg, why, sizeof(why)));

	bad = json_deep_copy(seg);
	json_object_set_new(json_object_get(bad, "segment"), "state",
			    json_string("napping"));
	assert_false(line_ok(bad, why, sizeof(why)));
	assert_non_null(strstr(why, "segment.segment.state"));
	json_decref(bad);

	bad = json_deep_copy(seg);
	json_object_del(json_object_get(bad, "segment"), "lane");
	assert_false(line_ok(bad, why, sizeof(why)));
	assert_non_null(strstr(why, "\"lane\""));
	json_decref(bad);

	bad = json_deep_copy(seg);
	json_object_set_new(json_object_get(bad, "segment"), "t0_ns",
			    json_string("0"));
	assert_false(line_ok(bad, why, sizeof(why)));
	json_decref(bad);

	bad = json_deep_copy(seg);
	json_object_set_new(bad, "type", json_string("gossip"));
	assert_false(line_ok(bad, why, sizeof(why)));
	json_decref(bad);
	json_decref(seg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_rows),
		cmocka_unit_test(test_run_status_flags),
		cmocka_unit_test(test_state_reaches_trace_json),
		cmocka_unit_test(test_state_reaches_ascii_legend),
		cmocka_unit_test(test_state_reaches_chrome),
		cmocka_unit_test(test_contract_vocabulary),
		cmocka_unit_test(test_contract_refuses),
		cmocka_unit_test(test_contract_event_lines),
		cmocka_unit_test(test_line_types),
		cmocka_unit_test(test_contract_trace),
		cmocka_unit_test(test_contract_catalog),
	};

	return cmocka_run_group_tests(tests, contract_setup, contract_teardown);
}
