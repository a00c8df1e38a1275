/*
 * util: the clock, durations as people write them, and checked allocation.
 *
 * Durations are parsed by hand rather than with strtod(): strtod accepts
 * "inf", "nan", hex floats and exponents, depends on the locale, and rounds
 * "0.1s" through binary floating point.  Here the integer and fractional
 * digits are kept apart and scaled by the unit in integer arithmetic, so
 * "1.5s" is exactly 1500000000 ns and a value too large for int64_t is
 * reported as -ERANGE instead of wrapping.
 *
 * A sign is accepted so that "-5ms" reaches the caller's range check and is
 * reported as "must be at least 0s" rather than as garbage.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

int64_t util_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static bool is_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' ||
	       (unsigned char)c >= 0x80;
}

int util_parse_duration_prefix(const char *text, int64_t *out_ns, size_t *used)
{
	const char *p = text;
	bool negative = false;
	int64_t whole = 0;
	int64_t frac_num = 0, frac_den = 1;
	int64_t unit_ns = NS_PER_MS; /* a bare number is milliseconds */
	bool any_digit = false, overflow = false;
	const char *after_number;

	*used = 0;
	if (*p == '-' || *p == '+') {
		negative = *p == '-';
		p++;
	}
	while (isdigit((unsigned char)*p)) {
		any_digit = true;
		if (whole > (INT64_MAX - (*p - '0')) / 10)
			overflow = true;
		else
			whole = whole * 10 + (*p - '0');
		p++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			any_digit = true;
			/* Nine decimals resolve a nanosecond of a second;
			 * further digits cannot change the result. */
			if (frac_den < NS_PER_S) {
				frac_num = frac_num * 10 + (*p - '0');
				frac_den *= 10;
			}
			p++;
		}
	}
	if (!any_digit)
		return -EINVAL;
	after_number = p;
	while (*p == ' ')
		p++;
	if (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80) {
		size_t n_units = protocol_duration_units_count;
		size_t i;
		bool found = false;

		for (i = 0; i < n_units; i++) {
			const struct duration_unit *u =
				&protocol_duration_units[i];
			size_t len = strlen(u->suffix);

			if (strncmp(p, u->suffix, len) == 0 &&
			    !is_word_char(p[len])) {
				unit_ns = u->ns;
				p += len;
				found = true;
				break;
			}
		}
		if (!found) {
			/* "20kg" is garbage; "20 x" in longer text is a bare
			 * number followed by something else, but only when
			 * a space separates them. */
			if (p == after_number)
				return -EINVAL;
			p = after_number;
		}
	} else {
		p = after_number;
		if (is_word_char(*p))
			return -EINVAL;
	}
	if (overflow || whole > INT64_MAX / unit_ns)
		return -ERANGE;
	{
		int64_t ns = whole * unit_ns;
		/* frac_num < frac_den <= 1e9 and unit_ns <= 1e9: fits. */
		int64_t frac_ns = frac_num * unit_ns / frac_den;

		if (ns > INT64_MAX - frac_ns)
			return -ERANGE;
		ns += frac_ns;
		*out_ns = negative ? -ns : ns;
	}
	*used = (size_t)(p - text);
	return 0;
}

int util_parse_duration(const char *text, int64_t *out_ns)
{
	size_t used;
	int64_t ns;
	int rc;

	while (isspace((unsigned char)*text))
		text++;
	rc = util_parse_duration_prefix(text, &ns, &used);
	if (rc < 0)
		return rc;
	text += used;
	while (isspace((unsigned char)*text))
		text++;
	if (*text != '\0')
		return -EINVAL;
	*out_ns = ns;
	return 0;
}

/* Three significant digits: "850 us", "20.0 ms", "1.50 s". */
static int format_scaled(char *buf, size_t size, const char *sign, double value,
			 const char *unit)
{
	if (value < 9.995)
		return snprintf(buf, size, "%s%.2f %s", sign, value, unit);
	if (value < 99.95)
		return snprintf(buf, size, "%s%.1f %s", sign, value, unit);
	return snprintf(buf, size, "%s%.0f %s", sign, value, unit);
}

char *util_format_duration(int64_t ns, char *buf, size_t size)
{
	const char *sign = "";
	uint64_t mag;

	if (size == 0)
		return buf;
	if (ns < 0) {
		sign = "-";
		mag = (uint64_t)0 - (uint64_t)ns;
	} else {
		mag = (uint64_t)ns;
	}
	/* Each threshold sits where rounding would print "1000" of the
	 * smaller unit. */
	if (mag < 1000)
		snprintf(buf, size, "%s%llu ns", sign, (unsigned long long)mag);
	else if (mag < 999500)
		format_scaled(buf, size, sign, (double)mag / NS_PER_US, "us");
	else if (mag < 999500000)
		format_scaled(buf, size, sign, (double)mag / NS_PER_MS, "ms");
	else
		format_scaled(buf, size, sign, (double)mag / NS_PER_S, "s");
	return buf;
}

char *util_format_duration_text(int64_t ns, char *buf, size_t size)
{
	static const struct duration_unit units[] = {
		{"s", NS_PER_S},
		{"ms", NS_PER_MS},
		{"us", NS_PER_US},
	};
	const char *sign = ns < 0 ? "-" : "";
	uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	size_t i;

	if (mag == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	/* The largest unit in which at most three decimals are exact:
	 * 1500 ms is "1.5s", 1500 us is "1.5ms", 7 ns is "7ns". */
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t u = (uint64_t)units[i].ns;
		uint64_t whole = mag / u, rest = mag % u;
		char frac[16];
		int digits;

		if (rest % (u / 1000) != 0 || whole == 0)
			continue;
		rest /= u / 1000; /* now in thousandths */
		if (rest == 0) {
			snprintf(buf, size, "%s%llu%s", sign,
				 (unsigned long long)whole, units[i].suffix);
			return buf;
		}
		digits = 3;
		while (rest % 10 == 0) {
			rest /= 10;
			digits--;
		}
		snprintf(frac, sizeof(frac), "%0*llu", digits,
			 (unsigned long long)rest);
		snprintf(buf, size, "%s%llu.%s%s", sign,
			 (unsigned long long)whole, frac, units[i].suffix);
		return buf;
	}
	snprintf(buf, size, "%s%lluns", sign, (unsigned long long)mag);
	return buf;
}

static void out_of_memory(size_t bytes)
{
	fprintf(stderr, "overlap: out of memory (%zu bytes)\n", bytes);
	abort();
}

void *util_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size);
	return p;
}

void *util_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (!q)
		out_of_memory(size);
	return q;
}

char *util_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		out_of_memory(strlen(s) + 1);
	return d;
}

void util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len;

	if (size == 0)
		return;
	len = strlen(src);
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}
