/*
 * fuzz_jsonline: a differential harness for the server's check of a
 * runner's event line (jsonline_is_object in server/jsonline.h) against
 * jansson, which parses the same lines later (a summary, a stored
 * trace).  The check is a fast path beside jansson: it must never accept
 * what jansson refuses, and what it accepts is exactly one object.  (It
 * may refuse more: such a line takes jansson's path.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "jsonline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *v;

	if (!jsonline_is_object((const char *)data, size))
		return 0;
	v = json_loadb((const char *)data, size, 0, &jerr);
	if (!v || !json_is_object(v)) {
		fprintf(stderr,
			"jsonline accepted what jansson refuses: %s (line %d, "
			"column %d)\n",
			v ? "not an object" : jerr.text, jerr.line,
			jerr.column);
		abort();
	}
	json_decref(v);
	return 0;
}
