/*
 * program: building the arrays a run executes, and the step language.
 *
 * The builders grow plain arrays (doubling) and abort on out of memory: a
 * program is built once, before anything runs, and a run that cannot hold
 * its own program has nothing sensible left to do.
 *
 * The step language is parsed by hand, one token at a time, so that every
 * error can say the exact column and what was expected there.  The step
 * words live in one table (step_words[]): adding a step is one row naming
 * the word, its kind and the function that parses its argument.  A group
 * "N x (...)" adds N tasks that share one range of steps, so "10000 x
 * (net 1s)" costs one step, not ten thousand.
 */
#include "program.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- building ----------------------------------------------------------- */

void program_init(struct program *p)
{
	memset(p, 0, sizeof(*p));
}

void program_free(struct program *p)
{
	size_t i;

	for (i = 0; i < p->n_labels; i++)
		free(p->labels[i]);
	free(p->labels);
	free(p->steps);
	free(p->tasks);
	free(p->objects);
	free(p->requests);
	program_init(p);
}

/* Grows *arr (of elem_size elements, n in use) so one more fits.  The
 * capacity is not stored: it is the next power of two at or above n, so
 * growth happens exactly when n is a power of two. */
static void grow(void **arr, size_t n, size_t elem_size)
{
	size_t cap;

	if (n != 0 && (n & (n - 1)) != 0)
		return;
	cap = n ? n * 2 : 8;
	if (n != 0 && n < 8)
		return; /* the first allocation holds 8 */
	*arr = util_xrealloc(*arr, cap * elem_size);
}

uint32_t program_add_step(struct program *p, struct step s)
{
	grow((void **)&p->steps, p->n_steps, sizeof(*p->steps));
	p->steps[p->n_steps] = s;
	return (uint32_t)p->n_steps++;
}

uint32_t program_add_object(struct program *p, enum object_kind kind,
			    int64_t count, const char *name)
{
	struct object_def *o;

	grow((void **)&p->objects, p->n_objects, sizeof(*p->objects));
	o = &p->objects[p->n_objects];
	memset(o, 0, sizeof(*o));
	o->kind = (uint8_t)kind;
	o->count = count;
	util_strlcpy(o->name, name ? name : "", sizeof(o->name));
	return (uint32_t)p->n_objects++;
}

uint32_t program_add_request(struct program *p, struct request_def r)
{
	grow((void **)&p->requests, p->n_requests, sizeof(*p->requests));
	p->requests[p->n_requests] = r;
	return (uint32_t)p->n_requests++;
}

const char *program_label(struct program *p, const char *label)
{
	size_t i;

	/* Programs have a handful of distinct labels; a linear search
	 * keeps one copy of each. */
	for (i = 0; i < p->n_labels; i++)
		if (strcmp(p->labels[i], label) == 0)
			return p->labels[i];
	grow((void **)&p->labels, p->n_labels, sizeof(*p->labels));
	p->labels[p->n_labels] = util_xstrdup(label);
	return p->labels[p->n_labels++];
}

uint32_t program_add_task(struct program *p, const char *label,
			  uint32_t number, uint32_t first, uint32_t n)
{
	struct task_def *t;
	const char *owned = program_label(p, label);

	grow((void **)&p->tasks, p->n_tasks, sizeof(*p->tasks));
	t = &p->tasks[p->n_tasks];
	t->label = owned;
	t->number = number;
	t->first_step = first;
	t->n_steps = n;
	return (uint32_t)p->n_tasks++;
}

char *program_task_name(const struct program *p, uint32_t task, char *buf,
			size_t size)
{
	if (task >= p->n_tasks)
		snprintf(buf, size, "task ?%u", task);
	else
		snprintf(buf, size, "%s %u", p->tasks[task].label,
			 p->tasks[task].number);
	return buf;
}

static const char *const step_kind_names[STEP__COUNT] = {
	[STEP_CPU] = "cpu",
	[STEP_SLEEP] = "sleep",
	[STEP_NET] = "net",
	[STEP_DISK] = "disk",
	[STEP_LOCK] = "lock",
	[STEP_UNLOCK] = "unlock",
	[STEP_ACQUIRE] = "acquire",
	[STEP_RELEASE] = "release",
	[STEP_PUT] = "put",
	[STEP_GET] = "get",
	[STEP_INCR] = "incr",
	[STEP_BARRIER] = "barrier",
	[STEP_EVENT_SET] = "event set",
	[STEP_EVENT_WAIT] = "event wait",
	[STEP_REQUEST] = "request",
	[STEP_CONSUME] = "consume",
	[STEP_CLOSE] = "close",
};

const char *step_kind_name(enum step_kind kind)
{
	if ((unsigned)kind >= STEP__COUNT || !step_kind_names[kind])
		return "?";
	return step_kind_names[kind];
}

static const char *const object_kind_names[OBJ__COUNT] = {
	[OBJ_LOCK] = "lock",	   [OBJ_SEMAPHORE] = "semaphore",
	[OBJ_QUEUE] = "queue",	   [OBJ_COUNTER] = "counter",
	[OBJ_BARRIER] = "barrier", [OBJ_EVENT] = "event",
	[OBJ_LIMITER] = "limiter", [OBJ_FILE] = "file",
};

const char *object_kind_name(enum object_kind kind)
{
	if ((unsigned)kind >= OBJ__COUNT || !object_kind_names[kind])
		return "?";
	return object_kind_names[kind];
}

/* ---- the step language -------------------------------------------------- */

/* Limits of one program text.  Tasks and steps are also limited by the spec
 * (per model); these keep a short text from asking for a huge program
 * before that check can run. */
#define STEPS_MAX_TEXT_BYTES 4096
#define STEPS_MAX_REPEAT 10000
#define STEPS_MAX_TASKS 100000
#define STEPS_MAX_TOTAL_STEPS 2000000
#define STEPS_MAX_STEP_NS (600 * NS_PER_S)

struct parser {
	const char *text;
	size_t pos;
	struct program *prog;
	struct steps_error *err;
	uint64_t total_steps; /* steps over all tasks so far */
};

struct step_word;
/* Parses what follows the step word at p->pos into s.  Returns 0 or
 * -EINVAL with the error set. */
typedef int (*step_arg_fn)(struct parser *p, const struct step_word *w,
			   struct step *s);

struct step_word {
	const char *word;
	enum step_kind kind;
	step_arg_fn parse_arg;
};

static int arg_duration(struct parser *p, const struct step_word *w,
			struct step *s);

/* One row per step word.  The list in the "unknown step" error is made
 * from this table, so it is always accurate. */
static const struct step_word step_words[] = {
	{"cpu", STEP_CPU, arg_duration},
	{"sleep", STEP_SLEEP, arg_duration},
	{"net", STEP_NET, arg_duration},
};

#define N_STEP_WORDS (sizeof(step_words) / sizeof(step_words[0]))

__attribute__((format(printf, 3, 4))) static int
fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	p->err->column = (int)pos + 1;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_space(struct parser *p)
{
	while (isspace((unsigned char)p->text[p->pos]))
		p->pos++;
}

/* The text of the token at pos, for quoting in an error: up to the next
 * space or separator, at most 16 bytes. */
static const char *token_at(const struct parser *p, size_t pos, char *buf,
			    size_t size)
{
	size_t n = 0;
	const char *s = p->text + pos;

	while (s[n] && !isspace((unsigned char)s[n]) && !strchr(",;()", s[n]) &&
	       n + 1 < size && n < 16)
		n++;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static bool at_separator(char c)
{
	return c == '\0' || c == ',' || c == ';' || c == ')' || c == '(' ||
	       isspace((unsigned char)c);
}

static int arg_duration(struct parser *p, const struct step_word *w,
			struct step *s)
{
	size_t start, used = 0;
	int64_t ns = 0;
	char shown[24], limit[24];
	int rc;

	skip_space(p);
	start = p->pos;
	if (p->text[start] == '-' || p->text[start] == '+')
		rc = -EINVAL; /* a sign is never meant here */
	else
		rc = util_parse_duration_prefix(p->text + start, &ns, &used);
	if (rc == 0 && !at_separator(p->text[start + used]))
		rc = -EINVAL;
	if (rc == -ERANGE || (rc == 0 && ns > STEPS_MAX_STEP_NS))
		return fail_at(p, start,
			       "'%s' takes at most %s (got %s)", w->word,
			       util_format_duration_text(
				       STEPS_MAX_STEP_NS, limit,
				       sizeof(limit)),
			       token_at(p, start, shown, sizeof(shown)));
	if (rc < 0)
		return fail_at(p, start,
			       "expected a duration such as 20ms after '%s'",
			       w->word);
	p->pos = start + used;
	s->ns = ns;
	return 0;
}

static int parse_step(struct parser *p, uint32_t *count)
{
	size_t start, len, i;
	const struct step_word *w = NULL;
	struct step s;
	char shown[24];
	int rc;

	skip_space(p);
	start = p->pos;
	len = 0;
	while (isalpha((unsigned char)p->text[start + len]))
		len++;
	if (len == 0)
		return fail_at(p, start, "expected a step such as cpu 20ms");
	for (i = 0; i < N_STEP_WORDS; i++) {
		if (strlen(step_words[i].word) == len &&
		    strncmp(step_words[i].word, p->text + start, len) == 0) {
			w = &step_words[i];
			break;
		}
	}
	if (!w) {
		char expected[128] = "";
		size_t used = 0;

		for (i = 0; i < N_STEP_WORDS && used < sizeof(expected); i++)
			used += (size_t)snprintf(
				expected + used, sizeof(expected) - used,
				"%s%s",
				i == 0		      ? ""
				: i + 1 == N_STEP_WORDS ? " or "
							: ", ",
				step_words[i].word);
		return fail_at(p, start, "unknown step '%s' (expected %s)",
			       token_at(p, start, shown, sizeof(shown)),
			       expected);
	}
	p->pos = start + len;
	memset(&s, 0, sizeof(s));
	s.kind = (uint8_t)w->kind;
	rc = w->parse_arg(p, w, &s);
	if (rc < 0)
		return rc;
	program_add_step(p->prog, s);
	(*count)++;
	return 0;
}

/* steps := step { ',' step } ; stops before anything that is not ','. */
static int parse_steps(struct parser *p, uint32_t *count)
{
	int rc;

	for (;;) {
		rc = parse_step(p, count);
		if (rc < 0)
			return rc;
		skip_space(p);
		if (p->text[p->pos] != ',')
			return 0;
		p->pos++;
	}
}

static int parse_group(struct parser *p, uint32_t *number)
{
	size_t start, count_pos;
	uint64_t repeat = 1;
	uint32_t first = (uint32_t)p->prog->n_steps, n_steps = 0, i;
	char shown[24];
	int rc;

	skip_space(p);
	start = p->pos;
	if (isdigit((unsigned char)p->text[p->pos])) {
		count_pos = p->pos;
		repeat = 0;
		while (isdigit((unsigned char)p->text[p->pos])) {
			if (repeat <= STEPS_MAX_REPEAT)
				repeat = repeat * 10 +
					 (uint64_t)(p->text[p->pos] - '0');
			p->pos++;
		}
		if (repeat < 1 || repeat > STEPS_MAX_REPEAT)
			return fail_at(p, count_pos,
				       "repeat count must be 1 to %d (got %s)",
				       STEPS_MAX_REPEAT,
				       token_at(p, count_pos, shown,
						sizeof(shown)));
		skip_space(p);
		if (p->text[p->pos] != 'x' && p->text[p->pos] != 'X')
			return fail_at(p, p->pos,
				       "expected 'x' after the repeat count, "
				       "as in 3 x (cpu 20ms)");
		p->pos++;
		skip_space(p);
	}
	if (p->text[p->pos] == '(') {
		size_t open = p->pos;

		p->pos++;
		rc = parse_steps(p, &n_steps);
		if (rc < 0)
			return rc;
		skip_space(p);
		if (p->text[p->pos] != ')') {
			if (p->text[p->pos] == '\0')
				return fail_at(p, p->pos,
					       "expected ')' to close the '(' "
					       "at column %zu",
					       open + 1);
			return fail_at(p, p->pos, "expected ',' or ')'");
		}
		p->pos++;
	} else {
		rc = parse_steps(p, &n_steps);
		if (rc < 0)
			return rc;
	}
	if (p->prog->n_tasks + repeat > STEPS_MAX_TASKS)
		return fail_at(p, start, "at most %d tasks in a program",
			       STEPS_MAX_TASKS);
	p->total_steps += repeat * n_steps;
	if (p->total_steps > STEPS_MAX_TOTAL_STEPS)
		return fail_at(p, start,
			       "at most %d steps in all tasks together",
			       STEPS_MAX_TOTAL_STEPS);
	for (i = 0; i < repeat; i++)
		program_add_task(p->prog, "task", ++*number, first, n_steps);
	return 0;
}

int steps_parse(const char *text, struct program *prog,
		struct steps_error *err)
{
	struct parser p = {.text = text, .prog = prog, .err = err};
	uint32_t number = (uint32_t)prog->n_tasks;
	size_t len = strlen(text);
	int rc;

	memset(err, 0, sizeof(*err));
	if (len > STEPS_MAX_TEXT_BYTES)
		return fail_at(&p, STEPS_MAX_TEXT_BYTES,
			       "the program is %zu bytes; at most %d", len,
			       STEPS_MAX_TEXT_BYTES);
	for (;;) {
		rc = parse_group(&p, &number);
		if (rc < 0)
			return rc;
		skip_space(&p);
		if (p.text[p.pos] == '\0')
			return 0;
		if (p.text[p.pos] != ';')
			return fail_at(&p, p.pos,
				       "expected ',', ';' or the end");
		p.pos++;
	}
}
