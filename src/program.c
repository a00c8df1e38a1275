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
 *
 * Somewhat over 1,000 lines: the parser, its table of words and the words
 * as the catalog lists them sit side by side, so a new step is two
 * neighbouring rows; the builders are the seam to cut along.
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

uint32_t program_add_task(struct program *p, const char *label, uint32_t number,
			  uint32_t first, uint32_t n)
{
	struct task_def *t;
	const char *owned = program_label(p, label);

	grow((void **)&p->tasks, p->n_tasks, sizeof(*p->tasks));
	t = &p->tasks[p->n_tasks];
	t->label = owned;
	t->number = number;
	t->first_step = first;
	t->n_steps = n;
	t->flags = 0;
	t->timeout_ns = 0;
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
	[STEP_CPU_NOGIL] = "cpu-nogil",
	[STEP_BLOCK] = "block",
	[STEP_COND_WAIT] = "cond wait",
	[STEP_COND_NOTIFY] = "cond notify",
	[STEP_TIMER] = "timer",
	[STEP_FAIL] = "fail",
	[STEP_CANCEL] = "cancel",
	[STEP_SEND] = "send",
	[STEP_RECV] = "recv",
};

const char *step_kind_name(enum step_kind kind)
{
	if ((unsigned)kind >= STEP__COUNT || !step_kind_names[kind])
		return "?";
	return step_kind_names[kind];
}

static const char *const object_kind_names[OBJ__COUNT] = {
	[OBJ_LOCK] = "lock",	       [OBJ_SEMAPHORE] = "semaphore",
	[OBJ_QUEUE] = "queue",	       [OBJ_COUNTER] = "counter",
	[OBJ_BARRIER] = "barrier",     [OBJ_EVENT] = "event",
	[OBJ_LIMITER] = "limiter",     [OBJ_FILE] = "file",
	[OBJ_CONDITION] = "condition", [OBJ_PIPE] = "pipe",
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
/* The synchronisation steps and their objects. */
#define STEPS_MAX_NAME 31
#define STEPS_MAX_COUNT 100000		   /* sem, queue, barrier values */
#define STEPS_MAX_INCR 10000000		   /* incr NAME N */
#define STEPS_MAX_DISK_BYTES (256LL << 20) /* disk read|write BYTES */
#define STEPS_QUEUE_CAPACITY 10		   /* a queue nobody declared */
#define STEPS_PIPE_MESSAGES 1024	   /* unread messages a pipe holds */
#define STEPS_PIPE_DEFAULT_BYTES 64	   /* send NAME with no size */

struct parser {
	const char *text;
	size_t pos;
	struct program *prog;
	struct steps_error *err;
	uint64_t total_steps; /* steps over all tasks so far */
	/* The group being parsed: its tasks' numbers are (group_first,
	 * group_first + group_count]; a cancel step may not name them. */
	uint32_t group_first, group_count;
	/* The highest task a cancel step names, and where: checked when
	 * every task is known. */
	int64_t cancel_max;
	size_t cancel_pos;
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
static int arg_object(struct parser *p, const struct step_word *w,
		      struct step *s);
static int arg_incr(struct parser *p, const struct step_word *w,
		    struct step *s);
static int parse_choice(struct parser *p, const char *choices);
static int arg_event(struct parser *p, const struct step_word *w,
		     struct step *s);
static int arg_disk(struct parser *p, const struct step_word *w,
		    struct step *s);
static int arg_cond(struct parser *p, const struct step_word *w,
		    struct step *s);
static int arg_none(struct parser *p, const struct step_word *w,
		    struct step *s);
static int arg_cancel(struct parser *p, const struct step_word *w,
		      struct step *s);
static int arg_send(struct parser *p, const struct step_word *w,
		    struct step *s);
static int parse_bytes(struct parser *p, const char *after, int64_t *out);

/* One row per step word.  The list in the "unknown step" error is made
 * from this table, so it is always accurate. */
static const struct step_word step_words[] = {
	{"cpu", STEP_CPU, arg_duration},
	{"sleep", STEP_SLEEP, arg_duration},
	{"net", STEP_NET, arg_duration},
	{"disk", STEP_DISK, arg_disk},
	{"lock", STEP_LOCK, arg_object},
	{"unlock", STEP_UNLOCK, arg_object},
	{"acquire", STEP_ACQUIRE, arg_object},
	{"release", STEP_RELEASE, arg_object},
	{"put", STEP_PUT, arg_object},
	{"get", STEP_GET, arg_object},
	{"incr", STEP_INCR, arg_incr},
	{"barrier", STEP_BARRIER, arg_object},
	{"event", STEP_EVENT_WAIT, arg_event},
	{"cond", STEP_COND_WAIT, arg_cond},
	{"cpu-nogil", STEP_CPU_NOGIL, arg_duration},
	{"block", STEP_BLOCK, arg_duration},
	{"timer", STEP_TIMER, arg_duration},
	{"fail", STEP_FAIL, arg_none},
	{"cancel", STEP_CANCEL, arg_cancel},
	{"send", STEP_SEND, arg_send},
	{"recv", STEP_RECV, arg_object},
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
		return fail_at(p, start, "'%s' takes at most %s (got %s)",
			       w->word,
			       util_format_duration_text(STEPS_MAX_STEP_NS,
							 limit, sizeof(limit)),
			       token_at(p, start, shown, sizeof(shown)));
	if (rc < 0)
		return fail_at(p, start,
			       "expected a duration such as 20ms after '%s'",
			       w->word);
	p->pos = start + used;
	s->ns = ns;
	return 0;
}

static int arg_none(struct parser *p, const struct step_word *w, struct step *s)
{
	(void)p;
	(void)w;
	(void)s;
	return 0;
}

/* cancel N: task.cancel() on task N, which belongs to another group (a
 * task of its own group would cancel itself, or its twin). */
static int arg_cancel(struct parser *p, const struct step_word *w,
		      struct step *s)
{
	size_t pos;
	int64_t n = 0;

	(void)w;
	skip_space(p);
	pos = p->pos;
	if (!isdigit((unsigned char)p->text[pos]))
		return fail_at(p, pos,
			       "expected a task's number after 'cancel', as "
			       "in cancel 2");
	while (isdigit((unsigned char)p->text[p->pos]) && n <= STEPS_MAX_TASKS)
		n = n * 10 + (p->text[p->pos++] - '0');
	if (!at_separator(p->text[p->pos]) || n < 1 || n > STEPS_MAX_TASKS)
		return fail_at(p, pos,
			       "'cancel' takes a task's number, 1 to %d",
			       STEPS_MAX_TASKS);
	if (n > p->group_first && n <= p->group_first + p->group_count)
		return fail_at(p, pos,
			       "'cancel %lld' names a task of its own group; "
			       "a task cancels another group's task",
			       (long long)n);
	if (n > p->cancel_max) {
		p->cancel_max = n;
		p->cancel_pos = pos;
	}
	s->n = n - 1;
	return 0;
}

/* ---- objects: names, declarations, the steps that use them ----------- */

static bool is_name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* NAME := a letter or '_', then letters, digits, '_' or '-'. */
static int parse_name(struct parser *p, const char *after, char *name)
{
	size_t start, len = 0;

	skip_space(p);
	start = p->pos;
	if (!is_name_start(p->text[start]))
		return fail_at(p, start, "expected a name such as q after '%s'",
			       after);
	while (is_name_char(p->text[start + len]))
		len++;
	if (len > STEPS_MAX_NAME)
		return fail_at(p, start, "a name has at most %d characters",
			       STEPS_MAX_NAME);
	memcpy(name, p->text + start, len);
	name[len] = '\0';
	p->pos = start + len;
	return 0;
}

static int find_object(const struct program *prog, const char *name)
{
	for (size_t i = 0; i < prog->n_objects; i++)
		if (strcmp(prog->objects[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The object a step names, made with its default count on first use; an
 * existing one must be of the kind the step needs. */
static int use_object(struct parser *p, size_t name_pos, const char *name,
		      enum object_kind kind, int64_t def_count, uint32_t *index)
{
	int i = find_object(p->prog, name);

	if (i < 0) {
		*index = program_add_object(p->prog, kind, def_count, name);
		return 0;
	}
	if (p->prog->objects[i].kind != (uint8_t)kind) {
		const char *is = object_kind_name(
			(enum object_kind)p->prog->objects[i].kind);
		const char *want = object_kind_name(kind);

		return fail_at(p, name_pos, "'%s' is %s %s, not %s %s", name,
			       strchr("aeiou", is[0]) ? "an" : "a", is,
			       strchr("aeiou", want[0]) ? "an" : "a", want);
	}
	*index = (uint32_t)i;
	return 0;
}

/* lock, unlock, acquire, release, put, get, barrier: NAME. */
static int arg_object(struct parser *p, const struct step_word *w,
		      struct step *s)
{
	enum object_kind kind;
	int64_t def = 0;
	char name[STEPS_MAX_NAME + 1];
	size_t pos;
	int rc;

	switch (w->kind) {
	case STEP_LOCK:
	case STEP_UNLOCK:
		kind = OBJ_LOCK;
		break;
	case STEP_ACQUIRE:
	case STEP_RELEASE:
		kind = OBJ_SEMAPHORE;
		def = 1;
		break;
	case STEP_PUT:
	case STEP_GET:
		kind = OBJ_QUEUE;
		def = STEPS_QUEUE_CAPACITY;
		break;
	case STEP_INCR:
		kind = OBJ_COUNTER;
		break;
	case STEP_BARRIER:
		kind = OBJ_BARRIER; /* 0: every task that uses it (finish) */
		break;
	case STEP_COND_WAIT:
	case STEP_COND_NOTIFY:
		kind = OBJ_CONDITION;
		break;
	case STEP_SEND:
	case STEP_RECV:
		kind = OBJ_PIPE;
		def = STEPS_PIPE_MESSAGES;
		break;
	default:
		kind = OBJ_EVENT;
		break;
	}
	skip_space(p);
	pos = p->pos;
	rc = parse_name(p, w->word, name);
	if (rc == 0)
		rc = use_object(p, pos, name, kind, def, &s->object);
	return rc;
}

/* Reads a whole number of at most max at p->pos; -EINVAL (no error set)
 * when there is none. */
static int parse_count(struct parser *p, int64_t max, int64_t *out)
{
	size_t pos = p->pos;
	int64_t v = 0;

	if (!isdigit((unsigned char)p->text[pos]))
		return -EINVAL;
	while (isdigit((unsigned char)p->text[pos])) {
		if (v <= max)
			v = v * 10 + (p->text[pos] - '0');
		pos++;
	}
	if (!at_separator(p->text[pos]) && p->text[pos] != '=')
		return -EINVAL;
	p->pos = pos;
	*out = v;
	return 0;
}

/* incr NAME [N] [call]: call puts a Python function call between the
 * read and the write (STEP_F_CALL). */
static int arg_incr(struct parser *p, const struct step_word *w, struct step *s)
{
	size_t pos;
	int rc = arg_object(p, w, s);

	if (rc < 0)
		return rc;
	s->n = 1;
	skip_space(p);
	pos = p->pos;
	if (isdigit((unsigned char)p->text[pos]) &&
	    (parse_count(p, STEPS_MAX_INCR, &s->n) < 0 || s->n < 1 ||
	     s->n > STEPS_MAX_INCR))
		return fail_at(p, pos,
			       "'incr' takes 1 to %d increments (got %s)",
			       STEPS_MAX_INCR,
			       token_at(p, pos, (char[24]){0}, 24));
	skip_space(p);
	pos = p->pos;
	if (!isalpha((unsigned char)p->text[pos]))
		return 0;
	if (parse_choice(p, "call") < 0)
		return fail_at(p, pos,
			       "'incr' takes 'call' or nothing after its "
			       "count (got %s)",
			       token_at(p, pos, (char[24]){0}, 24));
	s->flags |= STEP_F_CALL;
	return 0;
}

/* Reads one of the words in choices ("set|wait") at p->pos; returns its
 * index or -1. */
static int parse_choice(struct parser *p, const char *choices)
{
	size_t len = 0;
	int index = 0;

	skip_space(p);
	while (isalpha((unsigned char)p->text[p->pos + len]) ||
	       (len > 0 && p->text[p->pos + len] == '_'))
		len++;
	for (const char *c = choices; *c; index++) {
		size_t n = strcspn(c, "|");

		if (n == len && len && strncmp(c, p->text + p->pos, n) == 0) {
			p->pos += len;
			return index;
		}
		c += n;
		if (*c == '|')
			c++;
	}
	return -1;
}

/* event set NAME | event wait NAME */
static int arg_event(struct parser *p, const struct step_word *w,
		     struct step *s)
{
	int which;

	skip_space(p);
	which = parse_choice(p, "set|wait");
	if (which < 0)
		return fail_at(p, p->pos,
			       "expected 'set' or 'wait' after "
			       "'event'");
	s->kind = (uint8_t)(which == 0 ? STEP_EVENT_SET : STEP_EVENT_WAIT);
	return arg_object(p, w, s);
}

/* cond wait NAME | cond notify NAME [all]: Condition.wait() and
 * notify() or notify_all(), each inside `with cond:`. */
static int arg_cond(struct parser *p, const struct step_word *w, struct step *s)
{
	size_t pos;
	int which, rc;

	skip_space(p);
	which = parse_choice(p, "wait|notify");
	if (which < 0)
		return fail_at(p, p->pos,
			       "expected 'wait' or 'notify' after 'cond'");
	s->kind = (uint8_t)(which == 0 ? STEP_COND_WAIT : STEP_COND_NOTIFY);
	rc = arg_object(p, w, s);
	if (rc < 0 || which == 0)
		return rc;
	s->n = 1;
	skip_space(p);
	pos = p->pos;
	if (!isalpha((unsigned char)p->text[pos]))
		return 0;
	if (parse_choice(p, "all") < 0 || !at_separator(p->text[p->pos]))
		return fail_at(p, pos,
			       "'cond notify' takes 'all' or nothing after "
			       "its name (got %s)",
			       token_at(p, pos, (char[24]){0}, 24));
	s->n = 0; /* notify_all */
	return 0;
}

/* send NAME [BYTES]: a message of BYTES (64 when not given) down pipe
 * NAME. */
static int arg_send(struct parser *p, const struct step_word *w, struct step *s)
{
	int rc = arg_object(p, w, s);

	if (rc < 0)
		return rc;
	s->n = STEPS_PIPE_DEFAULT_BYTES;
	skip_space(p);
	if (!isdigit((unsigned char)p->text[p->pos]))
		return 0;
	return parse_bytes(p, "send NAME", &s->n);
}

/* BYTES: a whole number with an optional unit: B, KB, MB, GB (powers of
 * 1000) or KiB, MiB, GiB (of 1024), 1 byte to 256 MiB. */
static int parse_bytes(struct parser *p, const char *after, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t bytes;
	} units[] = {{"B", 1},	       {"KB", 1000},	   {"kB", 1000},
		     {"MB", 1000000},  {"GB", 1000000000}, {"KiB", 1024},
		     {"MiB", 1 << 20}, {"GiB", 1 << 30}};
	size_t pos, len = 0, i;
	uint64_t v = 0;

	skip_space(p);
	pos = p->pos;
	while (isdigit((unsigned char)p->text[pos + len])) {
		if (v <= (uint64_t)STEPS_MAX_DISK_BYTES)
			v = v * 10 + (uint64_t)(p->text[pos + len] - '0');
		len++;
	}
	if (len == 0)
		return fail_at(p, pos,
			       "expected a size such as 64KiB after '%s'",
			       after);
	p->pos = pos + len;
	if (!at_separator(p->text[p->pos])) {
		size_t ulen = 0;

		while (isalpha((unsigned char)p->text[p->pos + ulen]))
			ulen++;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ulen &&
			    strncmp(units[i].unit, p->text + p->pos, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]) ||
		    !at_separator(p->text[p->pos + ulen]))
			return fail_at(p, pos,
				       "expected a size such as 64KiB, 1MB or "
				       "4096 after '%s'",
				       after);
		v = v > (uint64_t)STEPS_MAX_DISK_BYTES
			    ? v
			    : v * (uint64_t)units[i].bytes;
		p->pos += ulen;
	}
	if (v < 1 || v > (uint64_t)STEPS_MAX_DISK_BYTES)
		return fail_at(p, pos, "'%s' takes 1 byte to 256 MiB (got %s)",
			       after, token_at(p, pos, (char[24]){0}, 24));
	*out = (int64_t)v;
	return 0;
}

/* disk read|write BYTES */
static int arg_disk(struct parser *p, const struct step_word *w, struct step *s)
{
	int which, n_files = 0, rc;
	size_t i;
	char name[STEPS_MAX_NAME + 1];

	(void)w;
	skip_space(p);
	which = parse_choice(p, "read|write");
	if (which < 0)
		return fail_at(p, p->pos,
			       "expected 'read' or 'write' after 'disk'");
	s->aux = which; /* 0 read, 1 write + fsync */
	rc = parse_bytes(p, which ? "disk write" : "disk read", &s->n);
	if (rc < 0)
		return rc;
	/* Each disk step has its own file object; each task its own file
	 * of it (sync.c). */
	for (i = 0; i < p->prog->n_objects; i++)
		n_files += p->prog->objects[i].kind == OBJ_FILE;
	snprintf(name, sizeof(name), "file%d", n_files + 1);
	s->object = program_add_object(p->prog, OBJ_FILE, 0, name);
	return 0;
}

/* rlock NAME | condition NAME | pipe NAME: declarations without a value, the word
 * [start, start + len).  Returns 0 (declared), 1 (not one of them) or
 * -EINVAL. */
static int parse_bare_decl(struct parser *p, size_t start, size_t len)
{
	static const struct {
		const char *word;
		enum object_kind kind;
		int64_t count;
	} words[] = {{"rlock", OBJ_LOCK, LOCK_REENTRANT},
		     {"condition", OBJ_CONDITION, 0},
		     {"pipe", OBJ_PIPE, STEPS_PIPE_MESSAGES}};
	char name[STEPS_MAX_NAME + 1];
	size_t i, name_pos;
	int rc;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == len &&
		    strncmp(words[i].word, p->text + start, len) == 0)
			break;
	if (i == sizeof(words) / sizeof(words[0]))
		return 1;
	p->pos = start + len;
	skip_space(p);
	name_pos = p->pos;
	rc = parse_name(p, words[i].word, name);
	if (rc < 0)
		return rc;
	skip_space(p);
	if (!at_separator(p->text[p->pos]) || p->text[p->pos] == ',' ||
	    p->text[p->pos] == '(' || p->text[p->pos] == ')')
		return fail_at(p, p->pos,
			       "expected ';' or the end after '%s %s' (a "
			       "declaration stands alone)",
			       words[i].word, name);
	if (find_object(p->prog, name) >= 0)
		return fail_at(p, name_pos,
			       "'%s' is declared twice or after a step that "
			       "uses it (declare it first)",
			       name);
	program_add_object(p->prog, words[i].kind, words[i].count, name);
	return 0;
}

/* decl := ( sem | semaphore | queue | barrier ) NAME '=' INT
 *       | counter NAME '=' ( none | lock | atomic )
 *       | value NAME [ '=' ( get_lock | manager ) ]
 *       | array NAME '=' INT
 * Declarations come before the steps that use the object.  Returns 1 when
 * the text at p->pos is no declaration (a barrier step). */
static int parse_decl(struct parser *p)
{
	static const struct {
		const char *word;
		enum object_kind kind;
		int64_t min;
	} words[] = {
		{"sem", OBJ_SEMAPHORE, 0},   {"semaphore", OBJ_SEMAPHORE, 0},
		{"queue", OBJ_QUEUE, 1},     {"barrier", OBJ_BARRIER, 1},
		{"counter", OBJ_COUNTER, 0}, {"value", OBJ_COUNTER, 0},
		{"array", OBJ_COUNTER, 1}};
	bool is_value, is_array;
	int64_t size = 0;
	size_t start = p->pos, len = 0, name_pos, i;
	char name[STEPS_MAX_NAME + 1];
	int64_t value = 0;
	uint32_t idx;
	int rc;

	while (isalpha((unsigned char)p->text[start + len]))
		len++;
	rc = parse_bare_decl(p, start, len);
	if (rc <= 0)
		return rc;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == len &&
		    strncmp(words[i].word, p->text + start, len) == 0)
			break;
	if (i == sizeof(words) / sizeof(words[0]))
		return 1;
	is_value = strcmp(words[i].word, "value") == 0;
	is_array = strcmp(words[i].word, "array") == 0;
	p->pos = start + len;
	skip_space(p);
	name_pos = p->pos;
	rc = parse_name(p, words[i].word, name);
	if (rc < 0) {
		if (words[i].kind != OBJ_BARRIER)
			return rc;
		p->pos = start; /* "barrier NAME" is a step: it says so */
		return 1;
	}
	skip_space(p);
	if (p->text[p->pos] != '=' && is_value) {
		/* value NAME: a Value whose += takes its lock for the read
		 * and for the write, not around both. */
		value = CTR_MODE_VALUE;
		goto declare;
	}
	if (p->text[p->pos] != '=') {
		if (words[i].kind == OBJ_BARRIER) {
			p->pos = start;
			return 1;
		}
		return fail_at(p, p->pos,
			       "expected '=' after '%s %s', as in "
			       "%s %s=%s",
			       words[i].word, name, words[i].word, name,
			       is_array			      ? "4"
			       : words[i].kind == OBJ_COUNTER ? "lock"
							      : "3");
	}
	p->pos++;
	skip_space(p);
	if (is_value) {
		size_t pos = p->pos;

		int which = parse_choice(p, "get_lock|manager");

		if (which < 0 || !at_separator(p->text[p->pos]))
			return fail_at(p, pos,
				       "expected get_lock or manager after "
				       "'value %s=' (or nothing: value %s)",
				       name, name);
		value = which == 0 ? CTR_MODE_VALUE_LOCKED : CTR_MODE_MANAGER;
	} else if (is_array) {
		size_t pos = p->pos;

		if (parse_count(p, ARRAY_MAX_SIZE, &size) < 0 || size < 1 ||
		    size > ARRAY_MAX_SIZE || !at_separator(p->text[p->pos]))
			return fail_at(p, pos,
				       "'array %s=' takes 1 to %d elements "
				       "(got %s)",
				       name, ARRAY_MAX_SIZE,
				       token_at(p, pos, (char[24]){0}, 24));
		value = CTR_MODE_ARRAY;
	} else if (words[i].kind == OBJ_COUNTER) {
		size_t pos = p->pos;
		int which = parse_choice(p, "none|lock|atomic");

		if (which < 0 || !at_separator(p->text[p->pos]))
			return fail_at(p, pos,
				       "expected none, lock or atomic after "
				       "'counter %s='",
				       name);
		value = which;
	} else {
		size_t pos = p->pos;

		if (parse_count(p, STEPS_MAX_COUNT, &value) < 0 ||
		    value < words[i].min || value > STEPS_MAX_COUNT)
			return fail_at(p, pos,
				       "'%s %s=' takes %lld to %d (got %s)",
				       words[i].word, name,
				       (long long)words[i].min, STEPS_MAX_COUNT,
				       token_at(p, pos, (char[24]){0}, 24));
	}
declare:
	if (find_object(p->prog, name) >= 0)
		return fail_at(p, name_pos,
			       "'%s' is declared twice or after a step that "
			       "uses it (declare it first)",
			       name);
	idx = program_add_object(p->prog, words[i].kind, value, name);
	p->prog->objects[idx].size = size;
	return 0;
}

/* After a whole text: a barrier nobody declared waits for every task that
 * uses it. */
static void finish_objects(struct program *prog, size_t first_object)
{
	for (size_t o = first_object; o < prog->n_objects; o++) {
		int64_t parties = 0;

		if (prog->objects[o].kind != OBJ_BARRIER ||
		    prog->objects[o].count != 0)
			continue;
		for (size_t t = 0; t < prog->n_tasks; t++) {
			const struct task_def *td = &prog->tasks[t];

			for (uint32_t i = 0; i < td->n_steps; i++) {
				const struct step *st =
					&prog->steps[td->first_step + i];

				if (st->kind == STEP_BARRIER &&
				    st->object == o) {
					parties++;
					break;
				}
			}
		}
		prog->objects[o].count = parties > 0 ? parties : 1;
	}
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
	/* A word is letters, with inner hyphens (cpu-nogil). */
	while (isalpha((unsigned char)p->text[start + len]) ||
	       (len > 0 && p->text[start + len] == '-' &&
		isalpha((unsigned char)p->text[start + len + 1])))
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
		char expected[160] = "";
		size_t used = 0;

		for (i = 0; i < N_STEP_WORDS && used < sizeof(expected); i++)
			used += (size_t)snprintf(expected + used,
						 sizeof(expected) - used,
						 "%s%s",
						 i == 0 ? ""
						 : i + 1 == N_STEP_WORDS
							 ? " or "
							 : ", ",
						 step_words[i].word);
		return fail_at(p, start, "unknown step '%s' (expected %s)",
			       token_at(p, start, shown, sizeof(shown)),
			       expected);
	}
	if (w->kind == STEP_TIMER && *count > 0)
		return fail_at(p, start,
			       "'timer' comes first in its task "
			       "(threading.Timer waits, then runs the "
			       "task)");
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
	uint32_t flags = 0;
	int64_t timeout_ns = 0;
	char shown[24];
	int rc;

	skip_space(p);
	start = p->pos;
	rc = parse_decl(p);
	if (rc <= 0)
		return rc; /* a declaration, or its error */
	if (strncmp(p->text + p->pos, "daemon", 6) == 0 &&
	    (p->text[p->pos + 6] == '(' ||
	     isspace((unsigned char)p->text[p->pos + 6]))) {
		flags |= TASK_F_DAEMON;
		p->pos += 6;
		skip_space(p);
	}
	if (strncmp(p->text + p->pos, "timeout", 7) == 0 &&
	    isspace((unsigned char)p->text[p->pos + 7])) {
		static const struct step_word tw = {"timeout", STEP_SLEEP,
						    arg_duration};
		struct step ts = {0};

		p->pos += 7;
		rc = arg_duration(p, &tw, &ts);
		if (rc < 0)
			return rc;
		if (ts.ns <= 0)
			return fail_at(p, p->pos - 1,
				       "'timeout' takes a duration above 0");
		timeout_ns = ts.ns;
		skip_space(p);
	}
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
	p->group_first = *number;
	p->group_count = (uint32_t)repeat;
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
	for (i = 0; i < repeat; i++) {
		uint32_t t = program_add_task(p->prog, "task", ++*number, first,
					      n_steps);

		p->prog->tasks[t].flags = flags;
		p->prog->tasks[t].timeout_ns = timeout_ns;
	}
	return 0;
}

int steps_parse(const char *text, struct program *prog, struct steps_error *err)
{
	struct parser p = {.text = text, .prog = prog, .err = err};
	uint32_t number = (uint32_t)prog->n_tasks;
	size_t first_object = prog->n_objects;
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
		if (p.text[p.pos] == '\0') {
			if (p.cancel_max > (int64_t)prog->n_tasks)
				return fail_at(&p, p.cancel_pos,
					       "'cancel %lld': the program has "
					       "%zu tasks",
					       (long long)p.cancel_max,
					       prog->n_tasks);
			finish_objects(prog, first_object);
			return 0;
		}
		if (p.text[p.pos] != ';')
			return fail_at(&p, p.pos,
				       "expected ',', ';' or the end");
		p.pos++;
	}
}

/* ---- the words for the catalog ------------------------------------------ */

/* Models whose Python has no such primitive.  asyncio has no RLock: an
 * asyncio.Lock taken twice by one task waits for itself. */
#define REFUSED_ASYNCIO "asyncio,asyncio-executor"
/* Pools have no Timer, and their executor's shutdown waits for every
 * task, so nothing in them is a daemon. */
#define REFUSED_POOLS "thread-pool,process-pool,interpreter-pool"

/* Interpreters share no objects (model_interpreter_pool.c): every step
 * that meets the other tasks on one is refused by interpreter-pool. */
const struct step_doc program_step_docs[] = {
	{"cpu", "cpu DUR", "pure-Python computation that holds the GIL", ""},
	{"cpu-nogil", "cpu-nogil DUR",
	 "computation in a C extension that releases the GIL (as NumPy, "
	 "hashlib or zlib do): under gil=on it overlaps with other threads "
	 "and waits for no GIL",
	 ""},
	{"sleep", "sleep DUR",
	 "time.sleep, or await asyncio.sleep in a coroutine", ""},
	{"block", "block DUR",
	 "a blocking time.sleep: in a coroutine it blocks the event loop and "
	 "every other task waits, ready; elsewhere a sleep",
	 ""},
	{"net", "net DUR", "a request whose reply comes DUR later", ""},
	{"disk", "disk read|write BYTES", "a file read, or a write and fsync",
	 ""},
	{"lock", "lock NAME",
	 "Lock.acquire (a plain Lock taken twice by one task deadlocks)",
	 "interpreter-pool"},
	{"unlock", "unlock NAME", "Lock.release", "interpreter-pool"},
	{"acquire", "acquire NAME", "Semaphore.acquire", "interpreter-pool"},
	{"release", "release NAME", "Semaphore.release", "interpreter-pool"},
	{"put", "put NAME", "Queue.put", "interpreter-pool"},
	{"get", "get NAME", "Queue.get", "interpreter-pool"},
	{"incr", "incr NAME [N] [call]", "counter.value += 1, N times",
	 "interpreter-pool"},
	{"barrier", "barrier NAME", "Barrier.wait", "interpreter-pool"},
	{"event set", "event set NAME", "Event.set", "interpreter-pool"},
	{"event wait", "event wait NAME", "Event.wait", "interpreter-pool"},
	{"cond wait", "cond wait NAME",
	 "with cond: cond.wait(): waits for a notify (one given before the "
	 "wait is lost)",
	 "interpreter-pool"},
	{"cond notify", "cond notify NAME [all]",
	 "with cond: cond.notify(), or notify_all() with all",
	 "interpreter-pool"},
	{"timer", "timer DUR",
	 "first in a task: threading.Timer(DUR, task).start(), or "
	 "loop.call_later in asyncio: the task waits DUR, then runs",
	 REFUSED_POOLS},
	{"fail", "fail",
	 "raise RuntimeError: the task ends as error; under asyncio the "
	 "option group says what its caller does then",
	 ""},
	{"cancel", "cancel N",
	 "task.cancel() on task N (of another group): it is cancelled where "
	 "it waits and ends as cancelled",
	 "sequential,threads," REFUSED_POOLS},
	{"timeout", "timeout DUR [N x] (steps)",
	 "async with asyncio.timeout(DUR) around the task's steps: when it "
	 "expires the task is cancelled where it waits and ends as timeout",
	 "sequential,threads," REFUSED_POOLS},
	{"daemon", "daemon [N x] (steps)",
	 "a daemon thread (Thread(daemon=True)), or in asyncio a task never "
	 "awaited: the run does not wait for it, and it is cancelled when "
	 "the other tasks have ended",
	 "sequential," REFUSED_POOLS},
	{"sem", "sem NAME=N", "declares a Semaphore(N)", "interpreter-pool"},
	{"queue", "queue NAME=N", "declares a Queue(maxsize=N)",
	 "interpreter-pool"},
	{"barrier", "barrier NAME=N", "declares a Barrier(N)",
	 "interpreter-pool"},
	{"counter", "counter NAME=none|lock|atomic",
	 "declares a shared counter and how it is guarded", "interpreter-pool"},
	{"value", "value NAME[=get_lock|manager]",
	 "declares NAME a multiprocessing.Value('q', 0), shared memory that "
	 "incr updates with NAME.value += 1: its read and its write each take "
	 "the Value's lock, but not both at once, so processes still lose "
	 "updates; =get_lock puts with NAME.get_lock(): around it, exact and "
	 "twice as slow; =manager makes it a Manager().Value, held by the "
	 "manager's process: each read and each write is a round trip to it "
	 "(ipc), and updates are lost between them (not under asyncio, whose "
	 "loop it would block)",
	 "interpreter-pool"},
	{"array", "array NAME=N",
	 "declares NAME a multiprocessing.Array('q', N) that incr updates "
	 "with NAME[i % N] += 1, i the task's index: tasks with an element "
	 "each lose nothing, tasks sharing one lose updates, and every read "
	 "and write takes the array's one lock",
	 "interpreter-pool"},
	{"rlock", "rlock NAME",
	 "declares NAME an RLock: its owner may lock it again (and unlocks "
	 "it as often)",
	 REFUSED_ASYNCIO ",interpreter-pool"},
	{"condition", "condition NAME", "declares a Condition",
	 "interpreter-pool"},
	{"pipe", "pipe NAME",
	 "declares NAME a multiprocessing.Pipe(duplex=False) (send and recv "
	 "also make one on first use)",
	 REFUSED_ASYNCIO ",interpreter-pool"},
	{"send", "send NAME [BYTES]",
	 "conn.send(bytes(BYTES)) on pipe NAME (64 bytes when not given): "
	 "the message is pickled and copied into the pipe (ipc)",
	 REFUSED_ASYNCIO ",interpreter-pool"},
	{"recv", "recv NAME",
	 "conn.recv() on pipe NAME: waits for a message (queue-wait), then "
	 "copies it out and unpickles it (ipc)",
	 REFUSED_ASYNCIO ",interpreter-pool"},
};
const size_t program_step_docs_count =
	sizeof(program_step_docs) / sizeof(program_step_docs[0]);

static bool model_in(const char *list, const char *model)
{
	size_t n = strlen(model);

	for (const char *c = list; *c;) {
		size_t len = strcspn(c, ",");

		if (len == n && strncmp(c, model, n) == 0)
			return true;
		c += len;
		if (*c == ',')
			c++;
	}
	return false;
}

int program_check_model(const struct program *p, const char *model, char *msg,
			size_t size)
{
	for (size_t i = 0; i < p->n_objects; i++) {
		const struct object_def *o = &p->objects[i];

		if (o->kind == OBJ_PIPE && model_in(REFUSED_ASYNCIO, model)) {
			snprintf(msg, size,
				 "program: pipe '%s': %s has no Pipe a "
				 "coroutine can wait on (recv would block "
				 "the event loop); use an asyncio.Queue "
				 "(put, get), or run it under threads or "
				 "process-pool",
				 o->name, model);
			return -EINVAL;
		}

		if (o->kind == OBJ_COUNTER && o->count == CTR_MODE_MANAGER &&
		    model_in(REFUSED_ASYNCIO, model)) {
			snprintf(msg, size,
				 "program: value '%s=manager': under %s a "
				 "Manager's proxy would block the event loop "
				 "at every read and write; use value %s (or "
				 "a counter), or run it under threads or "
				 "process-pool",
				 o->name, model, o->name);
			return -EINVAL;
		}

		if (o->kind == OBJ_LOCK && o->count == LOCK_REENTRANT &&
		    model_in(REFUSED_ASYNCIO, model)) {
			snprintf(msg, size,
				 "program: rlock '%s': %s has no RLock "
				 "(asyncio.Lock is not re-entrant); declare "
				 "it a plain lock, or run it under threads",
				 o->name, model);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < p->n_tasks; i++) {
		const struct task_def *t = &p->tasks[i];
		char name[48];

		if (t->n_steps > 0 &&
		    p->steps[t->first_step].kind == STEP_TIMER &&
		    model_in(REFUSED_POOLS, model)) {
			program_task_name(p, (uint32_t)i, name, sizeof(name));
			snprintf(msg, size,
				 "program: %s's timer: %s has no Timer (its "
				 "workers take tasks as they come); use "
				 "threads or asyncio",
				 name, model);
			return -EINVAL;
		}
		if (t->timeout_ns > 0 &&
		    model_in("sequential,threads," REFUSED_POOLS, model)) {
			program_task_name(p, (uint32_t)i, name, sizeof(name));
			snprintf(msg, size,
				 "program: %s's timeout: %s cannot cancel a "
				 "task where it waits (a thread is never "
				 "cancelled; give each blocking call its own "
				 "timeout); use asyncio",
				 name, model);
			return -EINVAL;
		}
		for (uint32_t k = 0; k < t->n_steps; k++) {
			const struct step *s = &p->steps[t->first_step + k];

			if (s->kind != STEP_CANCEL ||
			    !model_in("sequential,threads," REFUSED_POOLS,
				      model))
				continue;
			program_task_name(p, (uint32_t)i, name, sizeof(name));
			snprintf(msg, size,
				 "program: %s's cancel: %s cannot cancel a "
				 "task (a thread is never cancelled, and "
				 "Future.cancel() stops only a task not yet "
				 "started); use asyncio",
				 name, model);
			return -EINVAL;
		}
		if ((t->flags & TASK_F_DAEMON) &&
		    model_in("sequential," REFUSED_POOLS, model)) {
			program_task_name(p, (uint32_t)i, name, sizeof(name));
			snprintf(msg, size,
				 "program: %s is a daemon: %s waits for every "
				 "task it runs; use threads or asyncio",
				 name, model);
			return -EINVAL;
		}
	}
	return 0;
}
