/*
 * test_steps: the step language.
 *
 * Valid programs are checked by the program they build: how many tasks,
 * which steps each runs (kind and duration, in order), and that repeated
 * tasks share one range of steps.  Invalid programs are checked by the
 * exact column and message, because pointing at the right character is
 * the whole point of the errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "program.h"
#include "util.h"

#define MS NS_PER_MS

/* A task's expected steps, written "cpu 20ms" style as kind + ns. */
struct want_step {
	enum step_kind kind;
	int64_t ns;
};

struct valid_case {
	const char *text;
	size_t n_tasks;
	size_t n_steps; /* distinct steps stored */
	/* The steps of the first and the last task. */
	struct want_step first[4];
	size_t n_first;
	struct want_step last[4];
	size_t n_last;
};

static const struct valid_case valid_cases[] = {
	{"cpu 20ms", 1, 1, {{STEP_CPU, 20 * MS}}, 1, {{STEP_CPU, 20 * MS}}, 1},
	{"3 x (cpu 20ms, net 200ms, cpu 10ms)",
	 3,
	 3,
	 {{STEP_CPU, 20 * MS}, {STEP_NET, 200 * MS}, {STEP_CPU, 10 * MS}},
	 3,
	 {{STEP_CPU, 20 * MS}, {STEP_NET, 200 * MS}, {STEP_CPU, 10 * MS}},
	 3},
	{"3 x (cpu 20ms, net 200ms, cpu 10ms); sleep 1s",
	 4,
	 4,
	 {{STEP_CPU, 20 * MS}, {STEP_NET, 200 * MS}, {STEP_CPU, 10 * MS}},
	 3,
	 {{STEP_SLEEP, 1000 * MS}},
	 1},
	{"2x(sleep 1.5s)",
	 2,
	 1,
	 {{STEP_SLEEP, 1500 * MS}},
	 1,
	 {{STEP_SLEEP, 1500 * MS}},
	 1},
	{"2 X sleep 5ms, net 1ms",
	 2,
	 2,
	 {{STEP_SLEEP, 5 * MS}, {STEP_NET, 1 * MS}},
	 2,
	 {{STEP_SLEEP, 5 * MS}, {STEP_NET, 1 * MS}},
	 2},
	{"  cpu   50us ,\n net 0ms ;\tsleep 3  ",
	 2,
	 3,
	 {{STEP_CPU, 50 * NS_PER_US}, {STEP_NET, 0}},
	 2,
	 {{STEP_SLEEP, 3 * MS}},
	 1},
	{"10000 x (net 1s)",
	 10000,
	 1,
	 {{STEP_NET, 1000 * MS}},
	 1,
	 {{STEP_NET, 1000 * MS}},
	 1},
	{"net 600s",
	 1,
	 1,
	 {{STEP_NET, 600000 * MS}},
	 1,
	 {{STEP_NET, 600000 * MS}},
	 1},
	{"cpu 20 ms", 1, 1, {{STEP_CPU, 20 * MS}}, 1, {{STEP_CPU, 20 * MS}}, 1},
	{"2 x (cpu-nogil 20ms, block 5ms); sleep 1ms",
	 3,
	 3,
	 {{STEP_CPU_NOGIL, 20 * MS}, {STEP_BLOCK, 5 * MS}},
	 2,
	 {{STEP_SLEEP, 1 * MS}},
	 1},
};

static void check_steps(const struct program *p, uint32_t task,
			const struct want_step *want, size_t n,
			const char *text)
{
	const struct task_def *t = &p->tasks[task];
	size_t i;

	if (t->n_steps != n)
		fail_msg("'%s': task %u has %u steps, expected %zu", text, task,
			 t->n_steps, n);
	for (i = 0; i < n; i++) {
		const struct step *s = &p->steps[t->first_step + i];

		if (s->kind != want[i].kind || s->ns != want[i].ns)
			fail_msg("'%s': task %u step %zu is %s %lld, expected "
				 "%s %lld",
				 text, task, i,
				 step_kind_name((enum step_kind)s->kind),
				 (long long)s->ns, step_kind_name(want[i].kind),
				 (long long)want[i].ns);
	}
}

static void test_valid_programs(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *c = &valid_cases[i];
		struct steps_error err;
		struct program p;
		int rc;

		program_init(&p);
		rc = steps_parse(c->text, &p, &err);
		if (rc != 0)
			fail_msg("'%s': column %d: %s", c->text, err.column,
				 err.message);
		assert_int_equal(p.n_tasks, c->n_tasks);
		assert_int_equal(p.n_steps, c->n_steps);
		check_steps(&p, 0, c->first, c->n_first, c->text);
		check_steps(&p, (uint32_t)p.n_tasks - 1, c->last, c->n_last,
			    c->text);
		for (k = 0; k < p.n_tasks; k++) {
			char name[48];

			assert_string_equal(p.tasks[k].label, "task");
			assert_int_equal(p.tasks[k].number, k + 1);
			snprintf(name, sizeof(name), "task %zu", k + 1);
			assert_string_equal(program_task_name(&p, (uint32_t)k,
							      name,
							      sizeof(name)),
					    name);
		}
		program_free(&p);
	}
}

static void test_repeat_shares_steps(void **state)
{
	struct steps_error err;
	struct program p;
	size_t i;

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("4 x (cpu 1ms, net 2ms); 2 x (sleep "
				     "3ms)",
				     &p, &err),
			 0);
	assert_int_equal(p.n_tasks, 6);
	assert_int_equal(p.n_steps, 3);
	for (i = 0; i < 4; i++) {
		assert_int_equal(p.tasks[i].first_step, 0);
		assert_int_equal(p.tasks[i].n_steps, 2);
	}
	for (i = 4; i < 6; i++) {
		assert_int_equal(p.tasks[i].first_step, 2);
		assert_int_equal(p.tasks[i].n_steps, 1);
	}
	/* One label string for all of them. */
	assert_ptr_equal(p.tasks[0].label, p.tasks[5].label);
	assert_int_equal(p.n_labels, 1);
	program_free(&p);
}

static void test_numbers_continue(void **state)
{
	struct steps_error err;
	struct program p;

	(void)state;
	program_init(&p);
	program_add_task(&p, "producer", 1,
			 program_add_step(&p, (struct step){.kind = STEP_CPU}),
			 1);
	assert_int_equal(steps_parse("2 x sleep 1ms", &p, &err), 0);
	assert_int_equal(p.n_tasks, 3);
	assert_int_equal(p.tasks[1].number, 2);
	assert_int_equal(p.tasks[2].number, 3);
	program_free(&p);
}

struct error_case {
	const char *text;
	int column;
	const char *message;
};

static const struct error_case error_cases[] = {
	{"", 1, "expected a step such as cpu 20ms"},
	{"   ", 4, "expected a step such as cpu 20ms"},
	{"cpu", 4, "expected a duration such as 20ms after 'cpu'"},
	{"3 x (cpu 20ms, cpu abc)", 20,
	 "expected a duration such as 20ms after 'cpu'"},
	{"3 x (cpu 20ms, net 200ms, cpu 1kg)", 31,
	 "expected a duration such as 20ms after 'cpu'"},
	{"sleep -5ms", 7, "expected a duration such as 20ms after 'sleep'"},
	{"net 20mx", 5, "expected a duration such as 20ms after 'net'"},
	{"net 601s", 5, "'net' takes at most 600s (got 601s)"},
	{"cpu 99999999999999999999s", 5,
	 "'cpu' takes at most 600s (got 9999999999999999)"},
	/* The list of step words grows with the language: only its start
	 * is fixed ("..." marks a prefix). */
	{"frob a", 1, "unknown step 'frob' (expected cpu, sleep..."},
	{"cpu 1ms, spin 4096", 10, "unknown step 'spin' (expected cpu..."},
	{"2 x (cpu 1ms, wait 1s)", 15,
	 "unknown step 'wait' (expected cpu, sleep..."},
	{"0 x (cpu 1ms)", 1, "repeat count must be 1 to 10000 (got 0)"},
	{"10001 x (cpu 1ms)", 1, "repeat count must be 1 to 10000 (got 10001)"},
	{"3 (cpu 1ms)", 3,
	 "expected 'x' after the repeat count, as in 3 x (cpu 20ms)"},
	{"3 x (cpu 1ms", 13, "expected ')' to close the '(' at column 5"},
	{"3 x (cpu 1ms net 2ms)", 14, "expected ',' or ')'"},
	{"cpu 1ms net 2ms", 9, "expected ',', ';' or the end"},
	{"cpu 1ms;", 9, "expected a step such as cpu 20ms"},
	{"cpu 1ms,", 9, "expected a step such as cpu 20ms"},
	{"cpu 1ms; ; net 1ms", 10, "expected a step such as cpu 20ms"},
	{"(cpu 1ms))", 10, "expected ',', ';' or the end"},
	{"x (cpu 1ms)", 1, "unknown step 'x' (expected cpu, sleep..."},
	{"cpu 1ms\nnet", 9, "expected ',', ';' or the end"},
	{"cpu 1ms;\nnet", 13, "expected a duration such as 20ms after 'net'"},
	{"()", 2, "expected a step such as cpu 20ms"},
	{"incr c 10 cal", 11,
	 "'incr' takes 'call' or nothing after its count (got cal)"},
	{"incr c awaits", 8,
	 "'incr' takes 'call' or nothing after its count (got awaits)"},
	{"cpu,", 4, "expected a duration such as 20ms after 'cpu'"},
	{"cpu-nogil", 10, "expected a duration such as 20ms after 'cpu-nogil'"},
	{"block 1x", 7, "expected a duration such as 20ms after 'block'"},
	{"cpu- 1ms", 4, "expected a duration such as 20ms after 'cpu'"},
	{"cond c", 6, "expected 'wait' or 'notify' after 'cond'"},
	{"cond notify c most", 15,
	 "'cond notify' takes 'all' or nothing after its name (got most)"},
	{"cond wait", 10, "expected a name such as q after 'cond'"},
	{"rlock r, lock r", 8,
	 "expected ';' or the end after 'rlock r' (a declaration stands "
	 "alone)"},
	{"lock r; rlock r", 15,
	 "'r' is declared twice or after a step that uses it (declare it "
	 "first)"},
	{"condition c; event set c", 24, "'c' is a condition, not an event"},
	{"cpu 1ms, timer 5ms", 10,
	 "'timer' comes first in its task (threading.Timer waits, then runs "
	 "the task)"},
	{"daemon", 1, "unknown step 'daemon' (expected cpu, sleep..."},
	{"timeout (sleep 1s)", 9,
	 "expected a duration such as 20ms after 'timeout'"},
	{"timeout 0ms (sleep 1s)", 11, "'timeout' takes a duration above 0"},
	{"cancel", 7,
	 "expected a task's number after 'cancel', as in cancel 2"},
	{"cancel 0; sleep 1s", 8,
	 "'cancel' takes a task's number, 1 to 100000"},
	{"sleep 1s; 2 x (sleep 1ms, cancel 3)", 34,
	 "'cancel 3' names a task of its own group; a task cancels another "
	 "group's task"},
	{"(sleep 1ms, cancel 4); cancel 9; sleep 1s", 31,
	 "'cancel 9': the program has 3 tasks"},
	{"fail 2", 6, "expected ',', ';' or the end"},
	{"15 x (net 1ms); 10000 x (net 1ms); 10000 x (net 1ms); 10000 x "
	 "(net 1ms); 10000 x (net 1ms); 10000 x (net 1ms); 10000 x (net "
	 "1ms); 10000 x (net 1ms); 10000 x (net 1ms); 10000 x (net 1ms); "
	 "10000 x (net 1ms)",
	 188, "at most 100000 tasks in a program"},
};

/* incr NAME [N] [call]: call marks the step, a count is optional before
 * it, and nothing else is marked. */
static void test_incr_call(void **state)
{
	struct steps_error err;
	struct program p;

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("incr c 5 call, incr c call, incr c 2, "
				     "incr c",
				     &p, &err),
			 0);
	assert_int_equal(p.n_steps, 4);
	assert_int_equal(p.steps[0].kind, STEP_INCR);
	assert_int_equal(p.steps[0].n, 5);
	assert_int_equal(p.steps[0].flags, STEP_F_CALL);
	assert_int_equal(p.steps[1].n, 1);
	assert_int_equal(p.steps[1].flags, STEP_F_CALL);
	assert_int_equal(p.steps[2].n, 2);
	assert_int_equal(p.steps[2].flags, 0);
	assert_int_equal(p.steps[3].flags, 0);
	program_free(&p);
}

static void test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		struct steps_error err;
		struct program p;
		int rc;

		size_t len = strlen(c->message);
		bool prefix = len > 3 &&
			      strcmp(c->message + len - 3, "...") == 0;

		program_init(&p);
		rc = steps_parse(c->text, &p, &err);
		if (rc != -EINVAL || err.column != c->column ||
		    (prefix ? strncmp(err.message, c->message, len - 3)
			    : strcmp(err.message, c->message)) != 0)
			fail_msg("'%s': rc %d column %d '%s'; expected column "
				 "%d '%s'",
				 c->text, rc, err.column, err.message,
				 c->column, c->message);
		program_free(&p);
	}
}

static void test_total_steps_limit(void **state)
{
	/* 10000 tasks x 201 steps > 2,000,000 steps in all. */
	char *text = malloc(4096);
	struct steps_error err;
	struct program p;
	size_t used, i;

	(void)state;
	used = (size_t)snprintf(text, 4096, "10000 x (");
	for (i = 0; i < 201; i++)
		used += (size_t)snprintf(text + used, 4096 - used, "%scpu 1",
					 i ? "," : "");
	snprintf(text + used, 4096 - used, ")");
	program_init(&p);
	assert_int_equal(steps_parse(text, &p, &err), -EINVAL);
	assert_int_equal(err.column, 1);
	assert_string_equal(err.message,
			    "at most 2000000 steps in all tasks together");
	program_free(&p);
	free(text);
}

static void test_text_limit(void **state)
{
	char *text = malloc(5000);
	struct steps_error err;
	struct program p;
	size_t used = 0;

	(void)state;
	while (used < 4090)
		used += (size_t)snprintf(text + used, 5000 - used, "cpu 1ms;");
	used += (size_t)snprintf(text + used, 5000 - used, "cpu 1ms");
	program_init(&p);
	assert_int_equal(steps_parse(text, &p, &err), -EINVAL);
	assert_int_equal(err.column, 4097);
	assert_non_null(strstr(err.message, "at most 4096"));
	program_free(&p);
	free(text);
}

/* value declares a multiprocessing.Value, a counter that incr updates:
 * bare, its += unguarded; =get_lock, inside its lock.  Anything else
 * after '=' is refused at its column. */
static void test_value_decl(void **state)
{
	struct steps_error err;
	struct program p;

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("value v; value w = get_lock; "
				     "2 x (incr v, incr w 3)",
				     &p, &err),
			 0);
	assert_int_equal(p.n_objects, 2);
	assert_int_equal(p.objects[0].kind, OBJ_COUNTER);
	assert_int_equal(p.objects[0].count, CTR_MODE_VALUE);
	assert_int_equal(p.objects[1].kind, OBJ_COUNTER);
	assert_int_equal(p.objects[1].count, CTR_MODE_VALUE_LOCKED);
	assert_int_equal(p.steps[0].kind, STEP_INCR);
	assert_int_equal(p.steps[0].object, 0);
	assert_int_equal(p.steps[1].object, 1);
	assert_int_equal(p.steps[1].n, 3);
	program_free(&p);

	program_init(&p);
	assert_int_equal(steps_parse("value v=lock; incr v", &p, &err),
			 -EINVAL);
	assert_int_equal(err.column, 9);
	assert_non_null(strstr(err.message, "expected get_lock"));
	program_free(&p);
	program_init(&p);
	assert_int_equal(steps_parse("incr v; value v", &p, &err), -EINVAL);
	assert_non_null(strstr(err.message, "declared twice"));
	program_free(&p);
}

/* value NAME=manager and array NAME=N: counters incr updates, a Manager's
 * Value (refused by the asyncio models, whose loop its round trips would
 * block) and an Array of N elements; a size outside 1..ARRAY_MAX_SIZE, or
 * none, is an error at its column. */
static void test_manager_and_array_decl(void **state)
{
	static const struct {
		const char *text, *message;
		int column;
	} bad[] = {
		{"array a=0; incr a", "takes 1 to 4096", 9},
		{"array a=4097; incr a", "takes 1 to 4096", 9},
		{"array a; incr a", "expected '='", 8},
		{"value v=shared; incr v", "expected get_lock or manager", 9},
	};
	struct steps_error err;
	struct program p;
	char msg[256];

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("value m=manager; array a = 3; "
				     "2 x (incr m 5, incr a 7)",
				     &p, &err),
			 0);
	assert_int_equal(p.n_objects, 2);
	assert_int_equal(p.objects[0].kind, OBJ_COUNTER);
	assert_int_equal(p.objects[0].count, CTR_MODE_MANAGER);
	assert_int_equal(p.objects[0].size, 0);
	assert_int_equal(p.objects[1].kind, OBJ_COUNTER);
	assert_int_equal(p.objects[1].count, CTR_MODE_ARRAY);
	assert_int_equal(p.objects[1].size, 3);
	assert_int_equal(p.steps[1].object, 1);
	assert_int_equal(p.steps[1].n, 7);
	assert_int_equal(
		program_check_model(&p, "process-pool", msg, sizeof(msg)), 0);
	assert_int_equal(program_check_model(&p, "threads", msg, sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "asyncio", msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "value 'm=manager'"));
	program_free(&p);

	/* An Array is shared memory a coroutine may update too. */
	program_init(&p);
	assert_int_equal(steps_parse("array a=2; 2 x (incr a)", &p, &err), 0);
	assert_int_equal(program_check_model(&p, "asyncio", msg, sizeof(msg)),
			 0);
	program_free(&p);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		program_init(&p);
		assert_int_equal(steps_parse(bad[i].text, &p, &err), -EINVAL);
		print_message("%s: %d: %s\n", bad[i].text, err.column,
			      err.message);
		assert_non_null(strstr(err.message, bad[i].message));
		assert_int_equal(err.column, bad[i].column);
		program_free(&p);
	}
}

/* pipe declares a multiprocessing.Pipe that send and recv use (and make
 * on first use); send carries 64 bytes unless given a size; asyncio
 * refuses a pipe, naming it. */
static void test_pipe_decl(void **state)
{
	struct steps_error err;
	struct program p;
	char msg[256];

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("pipe p; (send p, send p 1MiB, send q "
				     "10); (recv p, recv p, recv q)",
				     &p, &err),
			 0);
	assert_int_equal(p.n_objects, 2);
	assert_int_equal(p.objects[0].kind, OBJ_PIPE);
	assert_int_equal(p.objects[1].kind, OBJ_PIPE);
	assert_string_equal(p.objects[1].name, "q");
	assert_int_equal(p.steps[0].kind, STEP_SEND);
	assert_int_equal(p.steps[0].n, 64);
	assert_int_equal(p.steps[1].n, 1 << 20);
	assert_int_equal(p.steps[2].n, 10);
	assert_int_equal(p.steps[2].object, 1);
	assert_int_equal(p.steps[3].kind, STEP_RECV);
	assert_int_equal(
		program_check_model(&p, "process-pool", msg, sizeof(msg)), 0);
	assert_int_equal(program_check_model(&p, "asyncio", msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "pipe 'p'"));
	program_free(&p);

	program_init(&p);
	assert_int_equal(steps_parse("send p 1TB", &p, &err), -EINVAL);
	assert_int_equal(err.column, 8);
	program_free(&p);
	program_init(&p);
	assert_int_equal(steps_parse("queue p=1; send p", &p, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'p' is a queue, not a pipe"));
	program_free(&p);
}

/* rlock declares a re-entrant lock that the lock steps use; condition a
 * condition the cond steps use, which a cond step also makes on first
 * use; notify takes one waiter, notify all every one (n 0). */
static void test_rlock_condition(void **state)
{
	struct steps_error err;
	struct program p;

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("rlock r; condition c; lock r, lock r, "
				     "cond wait c, cond notify c, cond notify "
				     "c all, cond wait d, unlock r, unlock r",
				     &p, &err),
			 0);
	assert_int_equal(p.n_objects, 3);
	assert_int_equal(p.objects[0].kind, OBJ_LOCK);
	assert_int_equal(p.objects[0].count, LOCK_REENTRANT);
	assert_int_equal(p.objects[1].kind, OBJ_CONDITION);
	assert_int_equal(p.objects[2].kind, OBJ_CONDITION);
	assert_string_equal(p.objects[2].name, "d");
	assert_int_equal(p.n_steps, 8);
	assert_int_equal(p.steps[0].kind, STEP_LOCK);
	assert_int_equal(p.steps[1].object, 0);
	assert_int_equal(p.steps[2].kind, STEP_COND_WAIT);
	assert_int_equal(p.steps[3].kind, STEP_COND_NOTIFY);
	assert_int_equal(p.steps[3].n, 1);
	assert_int_equal(p.steps[4].kind, STEP_COND_NOTIFY);
	assert_int_equal(p.steps[4].n, 0);
	assert_int_equal(p.steps[5].object, 2);
	program_free(&p);

	/* A plain lock is not re-entrant. */
	program_init(&p);
	assert_int_equal(steps_parse("lock a, lock a", &p, &err), 0);
	assert_int_equal(p.objects[0].count, 0);
	program_free(&p);
}

/* daemon marks every task of its group; timer is a task's first step. */
static void test_daemon_timer(void **state)
{
	struct steps_error err;
	struct program p;
	char msg[256];

	(void)state;
	program_init(&p);
	assert_int_equal(steps_parse("daemon 2 x (timer 50ms, sleep 1s); "
				     "daemon(sleep 1ms); cpu 1ms",
				     &p, &err),
			 0);
	assert_int_equal(p.n_tasks, 4);
	assert_int_equal(p.tasks[0].flags, TASK_F_DAEMON);
	assert_int_equal(p.tasks[1].flags, TASK_F_DAEMON);
	assert_int_equal(p.tasks[2].flags, TASK_F_DAEMON);
	assert_int_equal(p.tasks[3].flags, 0);
	assert_int_equal(p.steps[p.tasks[0].first_step].kind, STEP_TIMER);
	assert_int_equal(p.steps[p.tasks[0].first_step].ns, 50 * MS);
	assert_int_equal(program_check_model(&p, "threads", msg, sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "asyncio", msg, sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "thread-pool", msg,
					     sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "task 1's timer"));
	program_free(&p);

	program_init(&p);
	assert_int_equal(steps_parse("sleep 1ms; daemon (sleep 1s)", &p, &err),
			 0);
	assert_int_equal(program_check_model(&p, "sequential", msg,
					     sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "task 2 is a daemon"));
	program_free(&p);

	/* timeout DUR around a group's tasks: asyncio's alone. */
	program_init(&p);
	assert_int_equal(steps_parse("daemon timeout 50ms 2 x (net 1s); net "
				     "1s",
				     &p, &err),
			 0);
	assert_int_equal(p.n_tasks, 3);
	assert_int_equal(p.tasks[0].timeout_ns, 50 * MS);
	assert_int_equal(p.tasks[1].flags, TASK_F_DAEMON);
	assert_int_equal(p.tasks[2].timeout_ns, 0);
	assert_int_equal(program_check_model(&p, "asyncio-executor", msg,
					     sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "threads", msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "task 1's timeout"));
	program_free(&p);
}

/* The catalog's words: every step word of the language is documented;
 * rlock and the pipe's words are refused by the asyncio models, and every
 * word that meets the other tasks on an object by interpreter-pool. */
static void test_step_docs(void **state)
{
	static const char *const words[] = {
		"cpu",	     "cpu-nogil",   "sleep",	 "block",
		"net",	     "disk",	    "lock",	 "unlock",
		"acquire",   "release",	    "put",	 "get",
		"incr",	     "barrier",	    "event set", "event wait",
		"cond wait", "cond notify", "rlock",	 "condition",
		"value",     "timer",	    "daemon",	 "timeout",
		"fail",	     "cancel",	    "pipe",	 "send",
		"recv",	     "array"};
	struct program p;
	char msg[256];

	(void)state;
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t i;

		for (i = 0; i < program_step_docs_count; i++)
			if (strcmp(program_step_docs[i].name, words[w]) == 0)
				break;
		if (i == program_step_docs_count)
			fail_msg("'%s' is not in the catalog", words[w]);
		assert_true(strlen(program_step_docs[i].help) > 0);
		if (strcmp(words[w], "rlock") == 0 ||
		    strcmp(words[w], "pipe") == 0 ||
		    strcmp(words[w], "send") == 0 ||
		    strcmp(words[w], "recv") == 0)
			assert_string_equal(program_step_docs[i].refused_by,
					    "asyncio,asyncio-executor,"
					    "interpreter-pool");
		else if (strcmp(words[w], "cancel") == 0)
			assert_string_equal(program_step_docs[i].refused_by,
					    "sequential,threads,thread-pool,"
					    "process-pool,interpreter-pool");
		else if (w < 6 || strcmp(words[w], "fail") == 0)
			assert_string_equal(program_step_docs[i].refused_by,
					    "");
		else if (strcmp(words[w], "timer") != 0 &&
			 strcmp(words[w], "daemon") != 0 &&
			 strcmp(words[w], "timeout") != 0)
			assert_string_equal(program_step_docs[i].refused_by,
					    "interpreter-pool");
	}
	program_init(&p);
	assert_int_equal(steps_parse("rlock r; lock r", &p,
				     &(struct steps_error){0}),
			 0);
	assert_int_equal(program_check_model(&p, "threads", msg, sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "asyncio-executor", msg,
					     sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "rlock 'r'"));
	program_free(&p);

	/* cancel N names a task of another group; only asyncio has it. */
	program_init(&p);
	assert_int_equal(steps_parse("sleep 1s, fail; 2 x (sleep 1ms, cancel "
				     "1)",
				     &p, &(struct steps_error){0}),
			 0);
	assert_int_equal(p.steps[1].kind, STEP_FAIL);
	assert_int_equal(p.steps[3].kind, STEP_CANCEL);
	assert_int_equal(p.steps[3].n, 0);
	assert_int_equal(program_check_model(&p, "asyncio", msg, sizeof(msg)),
			 0);
	assert_int_equal(program_check_model(&p, "thread-pool", msg,
					     sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "task 2's cancel: thread-pool"));
	program_free(&p);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(step_kind_name(STEP_CPU), "cpu");
	assert_string_equal(step_kind_name(STEP_NET), "net");
	assert_string_equal(step_kind_name(STEP_EVENT_WAIT), "event wait");
	assert_string_equal(step_kind_name(STEP_CPU_NOGIL), "cpu-nogil");
	assert_string_equal(step_kind_name(STEP_COND_NOTIFY), "cond notify");
	assert_string_equal(object_kind_name(OBJ_CONDITION), "condition");
	assert_string_equal(step_kind_name(STEP__COUNT), "?");
	assert_string_equal(object_kind_name(OBJ_QUEUE), "queue");
	assert_string_equal(object_kind_name(OBJ__COUNT), "?");
}

static void test_builders(void **state)
{
	struct program p;
	uint32_t i, o;
	char name[32];

	(void)state;
	program_init(&p);
	/* Enough to cross several growth steps. */
	for (i = 0; i < 1000; i++)
		assert_int_equal(
			program_add_step(&p, (struct step){.kind = STEP_SLEEP,
							   .ns = i}),
			i);
	for (i = 0; i < 1000; i++)
		assert_int_equal(p.steps[i].ns, i);
	o = program_add_object(&p, OBJ_QUEUE, 5,
			       "a name longer than thirty-one bytes");
	assert_int_equal(o, 0);
	assert_int_equal(p.objects[0].count, 5);
	assert_int_equal(strlen(p.objects[0].name), 31);
	assert_int_equal(program_add_task(&p, "request", 7, 3, 2), 0);
	assert_string_equal(program_task_name(&p, 0, name, sizeof(name)),
			    "request 7");
	assert_ptr_equal(program_label(&p, "request"), p.tasks[0].label);
	program_free(&p);
	assert_null(p.steps);
	assert_int_equal(p.n_tasks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_programs),
		cmocka_unit_test(test_repeat_shares_steps),
		cmocka_unit_test(test_numbers_continue),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_incr_call),
		cmocka_unit_test(test_total_steps_limit),
		cmocka_unit_test(test_text_limit),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rlock_condition),
		cmocka_unit_test(test_value_decl),
		cmocka_unit_test(test_manager_and_array_decl),
		cmocka_unit_test(test_pipe_decl),
		cmocka_unit_test(test_step_docs),
		cmocka_unit_test(test_daemon_timer),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
