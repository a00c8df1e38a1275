/*
 * jsonline: a JSON syntax check without building anything (jsonline.h).
 * A recursive descent over the bytes; the depth is bounded, so a hostile
 * line cannot exhaust the stack.  Numbers are held to what jansson can
 * represent, as jansson does (tests/fuzz/fuzz_jsonline.c checks the two
 * against each other).
 */
#include "jsonline.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	const unsigned char *p, *end;
	int depth;
};

static bool value(struct scan *s);

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool literal(struct scan *s, const char *word)
{
	for (; *word; word++, s->p++)
		if (s->p >= s->end || *s->p != (unsigned char)*word)
			return false;
	return true;
}

static bool digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

/* What jansson makes of a number it has read: an integer must fit in
 * json_int_t (strtoll, no ERANGE) and a real must not overflow a double
 * (strtod, not HUGE_VAL); either is refused otherwise.  A real overflows
 * only with an exponent or with more than 308 digits before the point,
 * and an integer only with 19 digits or more: the lines a runner writes
 * pass without a conversion. */
static bool number_fits(const unsigned char *start, const unsigned char *end,
			size_t int_digits, bool real)
{
	size_t len = (size_t)(end - start);
	char small[64], *text = small;
	bool ok;

	if (!real && int_digits < 19)
		return true;
	if (real && int_digits <= 308 && !memchr(start, 'e', len) &&
	    !memchr(start, 'E', len))
		return true;
	if (len >= sizeof(small)) {
		text = malloc(len + 1);
		if (!text)
			return false;
	}
	memcpy(text, start, len);
	text[len] = '\0';
	errno = 0;
	if (real) {
		double v = strtod(text, NULL);

		ok = !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
	} else {
		(void)strtoll(text, NULL, 10);
		ok = errno != ERANGE;
	}
	if (text != small)
		free(text);
	return ok;
}

static bool number(struct scan *s)
{
	const unsigned char *start = s->p, *int_start;
	size_t int_digits;
	bool real = false;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return false;
	int_start = s->p;
	if (*s->p == '0') {
		s->p++;
		/* No leading zeros. */
		if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			return false;
	} else if (!digits(s)) {
		return false;
	}
	int_digits = (size_t)(s->p - int_start);
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		real = true;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		real = true;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	return number_fits(start, s->p, int_digits, real);
}

static int hex4(struct scan *s)
{
	int v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++, s->p++) {
		unsigned char c = *s->p;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* After a backslash's \u: one code point, a surrogate pair whole. */
static bool unicode_escape(struct scan *s)
{
	int cp = hex4(s);

	if (cp <= 0) /* bad hex, or \u0000 */
		return false;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return false; /* a low surrogate alone */
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		int low;

		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
			return false;
		s->p += 2;
		low = hex4(s);
		if (low < 0xDC00 || low > 0xDFFF)
			return false;
	}
	return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80: well formed, not
 * overlong, not a surrogate, at most U+10FFFF. */
static bool utf8_sequence(struct scan *s)
{
	unsigned char c = *s->p;
	int n;
	uint32_t cp, min;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		cp = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2;
		cp = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return false;
	}
	if (s->end - s->p <= n)
		return false;
	for (int i = 1; i <= n; i++) {
		if ((s->p[i] & 0xC0) != 0x80)
			return false;
		cp = (cp << 6) | (s->p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return false;
	s->p += n + 1;
	return true;
}

static bool string(struct scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			if (!utf8_sequence(s))
				return false;
			continue;
		}
		s->p++;
		if (c != '\\')
			continue;
		if (s->p >= s->end)
			return false;
		c = *s->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			break;
		case 'u':
			if (!unicode_escape(s))
				return false;
			break;
		default:
			return false;
		}
	}
	return false;
}

static bool object(struct scan *s)
{
	s->p++; /* { */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"' || !string(s))
			return false;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		s->p++;
		if (!value(s))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == '}') {
			s->p++;
			return true;
		}
		if (*s->p != ',')
			return false;
		s->p++;
	}
}

static bool array(struct scan *s)
{
	s->p++; /* [ */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return true;
	}
	for (;;) {
		if (!value(s))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == ']') {
			s->p++;
			return true;
		}
		if (*s->p != ',')
			return false;
		s->p++;
	}
}

static bool value(struct scan *s)
{
	bool ok;

	skip_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
	case '[':
		if (++s->depth > JSONLINE_DEPTH_MAX)
			return false;
		ok = *s->p == '{' ? object(s) : array(s);
		s->depth--;
		return ok;
	case '"':
		return string(s);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s);
	}
}

bool jsonline_is_object(const char *line, size_t len)
{
	struct scan s = {(const unsigned char *)line,
			 (const unsigned char *)line + len, 0};

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{' || !value(&s))
		return false;
	skip_ws(&s);
	return s.p == s.end;
}
