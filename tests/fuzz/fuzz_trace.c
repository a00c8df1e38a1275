/*
 * fuzz_trace: libFuzzer harness for the trace reader (trace_from_json in
 * src/trace_json.h), which reads stored traces back for the exports.  Any
 * JSON is read into a trace or refused with a message; a trace that was
 * read is written out again (trace_to_json) without harm.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "trace.h"
#include "trace_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace t;
	char err[256] = "";
	json_t *root, *out;

	root = json_loadb((const char *)data, size, 0, NULL);
	if (!root)
		return 0;
	trace_init(&t);
	if (trace_from_json(root, &t, err, sizeof(err)) == 0) {
		out = trace_to_json(&t);
		if (!out)
			abort();
		json_decref(out);
	} else if (err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	trace_free(&t);
	json_decref(root);
	return 0;
}
