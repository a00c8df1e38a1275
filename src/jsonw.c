/*
 * jsonw: streaming JSON text in jansson's exact format.
 *
 * Each container remembers how many values it holds so far; before a
 * value (or a key) the writer puts what jansson puts between two: nothing
 * before the first but the line break and indent, a comma and the line
 * break before the others.  The closing bracket of a non-empty container
 * goes on its own line at the container's indent; an empty one closes on
 * the same line ("[]", "{}").  Without an indent the separators are "," and
 * ":", as JSON_COMPACT gives.  Reals are printed as jansson prints them:
 * %.17g, ".0" added when that reads as an integer, and the exponent
 * without its '+' or leading zeros.
 */
#include "jsonw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonw_init(struct jsonw *w, unsigned indent, bool ensure_ascii)
{
	memset(w, 0, sizeof(*w));
	w->indent = indent;
	w->ascii = ensure_ascii;
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static bool reserve(struct jsonw *w, size_t more)
{
	size_t cap;
	char *b;

	if (w->err)
		return false;
	if (w->len + more <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + more)
		cap *= 2;
	b = realloc(w->buf, cap);
	if (!b) {
		w->err = -ENOMEM;
		return false;
	}
	w->buf = b;
	w->cap = cap;
	return true;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_indent(struct jsonw *w, int depth)
{
	size_t n = (size_t)depth * w->indent;

	if (!w->indent || !reserve(w, n + 1))
		return;
	w->buf[w->len++] = '\n';
	memset(w->buf + w->len, ' ', n);
	w->len += n;
}

/* What comes before a value (or a key) in the current container. */
static void before_value(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->count[w->depth - 1]++ > 0)
		put(w, ",", 1);
	put_indent(w, w->depth);
}

static void open_container(struct jsonw *w, char bracket)
{
	before_value(w);
	if (w->depth == JSONW_DEPTH_MAX) {
		w->err = -EINVAL;
		return;
	}
	put(w, &bracket, 1);
	w->count[w->depth++] = 0;
}

static void close_container(struct jsonw *w, char bracket)
{
	if (w->depth == 0) {
		w->err = -EINVAL;
		return;
	}
	w->depth--;
	if (w->count[w->depth] > 0)
		put_indent(w, w->depth);
	put(w, &bracket, 1);
}

void jsonw_begin_object(struct jsonw *w)
{
	open_container(w, '{');
}

void jsonw_end_object(struct jsonw *w)
{
	close_container(w, '}');
}

void jsonw_begin_array(struct jsonw *w)
{
	open_container(w, '[');
}

void jsonw_end_array(struct jsonw *w)
{
	close_container(w, ']');
}

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and
 * sets *cp, or 0 for bytes that are not UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static void put_escaped(struct jsonw *w, uint32_t cp)
{
	char seq[16];
	int n;

	switch (cp) {
	case '\\':
		put(w, "\\\\", 2);
		return;
	case '"':
		put(w, "\\\"", 2);
		return;
	case '\b':
		put(w, "\\b", 2);
		return;
	case '\f':
		put(w, "\\f", 2);
		return;
	case '\n':
		put(w, "\\n", 2);
		return;
	case '\r':
		put(w, "\\r", 2);
		return;
	case '\t':
		put(w, "\\t", 2);
		return;
	default:
		break;
	}
	if (cp < 0x10000) {
		n = snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)cp);
	} else {
		cp -= 0x10000;
		n = snprintf(seq, sizeof(seq), "\\u%04X\\u%04X",
			     (unsigned)(0xD800 | ((cp & 0xFFC00) >> 10)),
			     (unsigned)(0xDC00 | (cp & 0x3FF)));
	}
	put(w, seq, (size_t)n);
}

/* A string in quotes, escaped as jansson escapes it.  Bytes that are not
 * UTF-8 (which jansson never holds) are written as U+FFFD. */
static void put_string(struct jsonw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), run = 0;

	put(w, "\"", 1);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_next(s + i, n - i, &cp);

		if (len == 1 && cp >= 0x20 && cp != '"' && cp != '\\') {
			run++;
			i++;
			continue;
		}
		if (len > 1 && !w->ascii) {
			run += len;
			i += len;
			continue;
		}
		put(w, str + i - run, run);
		run = 0;
		if (len == 0) {
			put_escaped(w, 0xFFFD);
			i++;
		} else {
			put_escaped(w, cp);
			i += len;
		}
	}
	put(w, str + n - run, run);
	put(w, "\"", 1);
}

void jsonw_key(struct jsonw *w, const char *key)
{
	before_value(w);
	put_string(w, key);
	put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
	w->after_key = true;
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	before_value(w);
	put(w, num, (size_t)n);
}

void jsonw_real(struct jsonw *w, double v)
{
	char num[40];
	int n = snprintf(num, sizeof(num), "%.17g", v);
	char *e;

	if (!strchr(num, '.') && !strchr(num, 'e')) {
		memcpy(num + n, ".0", 3);
		n += 2;
	}
	e = strchr(num, 'e');
	if (e) {
		char *from = e + 1, *to = e + 1;

		if (*from == '-')
			from++, to++;
		if (*from == '+')
			from++;
		while (*from == '0' && from[1])
			from++;
		memmove(to, from, strlen(from) + 1);
		n = (int)strlen(num);
	}
	before_value(w);
	put(w, num, (size_t)n);
}

void jsonw_string(struct jsonw *w, const char *s)
{
	before_value(w);
	put_string(w, s ? s : "");
}

void jsonw_null(struct jsonw *w)
{
	before_value(w);
	put(w, "null", 4);
}

void jsonw_value(struct jsonw *w, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT:
		jsonw_begin_object(w);
		json_object_foreach((json_t *)v, key, item) {
			jsonw_key(w, key);
			jsonw_value(w, item);
		}
		jsonw_end_object(w);
		break;
	case JSON_ARRAY:
		jsonw_begin_array(w);
		json_array_foreach(v, i, item)
			jsonw_value(w, item);
		jsonw_end_array(w);
		break;
	case JSON_STRING:
		jsonw_string(w, json_string_value(v));
		break;
	case JSON_INTEGER:
		jsonw_int(w, json_integer_value(v));
		break;
	case JSON_REAL:
		jsonw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		before_value(w);
		put(w, "true", 4);
		break;
	case JSON_FALSE:
		before_value(w);
		put(w, "false", 5);
		break;
	default:
		jsonw_null(w);
		break;
	}
}

void jsonw_raw(struct jsonw *w, const char *text, size_t len)
{
	put(w, text, len);
}

const char *jsonw_peek(const struct jsonw *w, size_t *len)
{
	*len = w->len;
	return w->buf;
}

void jsonw_taken(struct jsonw *w, size_t n)
{
	if (n >= w->len) {
		w->len = 0;
		return;
	}
	memmove(w->buf, w->buf + n, w->len - n);
	w->len -= n;
}
