/*
 * util: small helpers shared by every layer: the monotonic clock, duration
 * parsing and formatting, and checked allocation.
 *
 * Durations are int64_t nanoseconds everywhere in overlap; the only place a
 * user's text ("1.5s", "200ms", "50us") turns into nanoseconds is
 * util_parse_duration(), so the CLI, the step language and the server agree.
 */
#ifndef OVERLAP_UTIL_H
#define OVERLAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* The release: what --version prints (CLI and server alike) and what a
 * trace names as its engine ("overlap 0.1.0"). */
#define OVERLAP_VERSION "0.1.0"

/* CLOCK_MONOTONIC in nanoseconds; system-wide, so it agrees across the
 * processes of one run. */
int64_t util_mono_ns(void);

/* Parses "250ms", "1.5s", "50us", "2000ns"; a bare number is taken as
 * milliseconds (the HTTP API's number form).  Returns 0 and sets *out_ns,
 * or -EINVAL for garbage or a missing/unknown unit after a number that is
 * not bare, -ERANGE when it does not fit. */
int util_parse_duration(const char *text, int64_t *out_ns);

/* Like util_parse_duration but reports how many characters were consumed
 * (the step language parses durations inside longer text).  *used is 0 on
 * failure. */
int util_parse_duration_prefix(const char *text, int64_t *out_ns, size_t *used);

/* Formats a duration the way a person reads it: "850 us", "20.0 ms",
 * "1.50 s".  Returns buf. */
char *util_format_duration(int64_t ns, char *buf, size_t size);

/* Formats a duration in the form util_parse_duration() reads back, in the
 * largest unit that keeps it short and exact: "60s", "1.5s", "100ms",
 * "50us", "0s".  Used for limits in error messages.  Returns buf. */
char *util_format_duration_text(int64_t ns, char *buf, size_t size);

/* Allocation that aborts the process on failure: used only where running
 * out of memory leaves nothing sensible to do (the run process). */
void *util_xcalloc(size_t n, size_t size);
void *util_xrealloc(void *p, size_t size);
char *util_xstrdup(const char *s);

/* Copies at most size-1 bytes and always terminates. */
void util_strlcpy(char *dst, const char *src, size_t size);

#endif
