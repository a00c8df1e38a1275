/*
 * jsonw: a JSON writer that streams, for documents too big to build as a
 * jansson tree first (a trace of 100,000 tasks is some 200 MiB as a tree,
 * a few MiB as text).  The caller says what comes next (begin an object,
 * a key, a number, end it); the text collects in the writer's buffer,
 * which the caller takes away whenever it likes (jsonw_take) and writes
 * wherever it goes: a file, an HTTP response read a chunk at a time.
 *
 * The text is byte for byte what jansson's json_dumps() writes for the
 * same values with JSON_INDENT(n) (or JSON_COMPACT when indent is 0) and
 * optionally JSON_ENSURE_ASCII: the same separators and line breaks, the
 * same escapes, reals with jansson's 17 significant digits.  So a stream
 * written here can replace a tree dumped by jansson without any reader
 * seeing a difference; the tests hold it to that.
 */
#ifndef OVERLAP_JSONW_H
#define OVERLAP_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONW_DEPTH_MAX 32

struct jsonw {
	char *buf; /* the text not yet taken: buf[0 .. len) */
	size_t len, cap;
	int err;	 /* 0, or -ENOMEM / -EINVAL once a write failed */
	unsigned indent; /* spaces a level; 0: compact */
	bool ascii;	 /* escape everything beyond ASCII */
	int depth;	 /* open containers */
	uint32_t count[JSONW_DEPTH_MAX]; /* values written in each */
	bool after_key;			 /* a key was written, not its value */
};

void jsonw_init(struct jsonw *w, unsigned indent, bool ensure_ascii);
void jsonw_free(struct jsonw *w);

void jsonw_begin_object(struct jsonw *w);
void jsonw_end_object(struct jsonw *w);
void jsonw_begin_array(struct jsonw *w);
void jsonw_end_array(struct jsonw *w);
/* An object's key; its value follows. */
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_real(struct jsonw *w, double v);
void jsonw_string(struct jsonw *w, const char *s);
void jsonw_null(struct jsonw *w);
/* A jansson value of any kind (borrowed), written at the current depth;
 * NULL writes null. */
void jsonw_value(struct jsonw *w, const json_t *v);
/* Raw text, as is (a newline after the document). */
void jsonw_raw(struct jsonw *w, const char *text, size_t len);

/* The buffered text: *len bytes at the returned pointer, valid until the
 * next write; jsonw_taken() says they have been used. */
const char *jsonw_peek(const struct jsonw *w, size_t *len);
void jsonw_taken(struct jsonw *w, size_t n);

#endif
