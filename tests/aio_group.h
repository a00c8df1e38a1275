/*
 * aio_group: what asyncio's option group must do to one program, checked
 * alike on the engine's trace (test_asyncio) and real Python's
 * (test_cpython), so both engines are held to one claim.  The program:
 * task 1 raises after a short sleep; tasks 2 and 3 wait longer (a sleep,
 * a request), then compute.
 */
#ifndef OVERLAP_TEST_AIO_GROUP_H
#define OVERLAP_TEST_AIO_GROUP_H

#include "trace.h"

#define AIO_GROUP_PROGRAM                                                      \
	"(sleep 40ms, fail); (sleep 250ms, cpu 1ms); (net 250ms, cpu 1ms)"

/* The groups, in the order the option lists them. */
extern const char *const aio_groups[4];

/* The run of AIO_GROUP_PROGRAM with group did what Python does:
 * return_exceptions and wait_first let tasks 2 and 3 finish, gather and
 * taskgroup cancel them where they wait (asyncio.run after main returned,
 * or the group before main resumes); main resumes early, on the main
 * lane, for the task that woke it. */
void assert_group_run(const struct trace *t, const char *group);

#endif
