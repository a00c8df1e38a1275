/*
 * jsonline: is a runner's line one well-formed JSON object?  A runner writes
 * hundreds of thousands of lines a second while a large run streams; the
 * server passes them on to viewers as they are and needs only to know that
 * each is sound (and its type), so it checks them without building them.
 * The rules are jansson's for what json_loadb accepts with no flags: RFC
 * 8259 syntax, UTF-8 text without overlong forms or surrogates, no \u0000,
 * integers that fit in 64 bits, reals that do not overflow a double, and
 * nesting at most JSONLINE_DEPTH_MAX deep (deeper: refused).
 */
#ifndef OVERLAP_JSONLINE_H
#define OVERLAP_JSONLINE_H

#include <stdbool.h>
#include <stddef.h>

#define JSONLINE_DEPTH_MAX 64

/* True when line[0..len) is exactly one JSON object, with optional
 * whitespace around it. */
bool jsonline_is_object(const char *line, size_t len);

#endif
