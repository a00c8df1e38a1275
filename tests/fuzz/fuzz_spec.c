/*
 * fuzz_spec: libFuzzer harness for the HTTP API's body reader
 * (spec_from_json in src/spec.h) and the program a valid spec builds.
 * A body is refused with a field and a message, or accepted; an accepted
 * spec written back (spec_to_json) reads again to the same spec, and its
 * workload builds a program.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "program.h"
#include "spec.h"
#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spec spec, again;
	struct spec_error err = {0};
	const struct workload *w;
	struct program prog;
	json_t *body, *back;

	/* The server refuses bodies over 64 KiB before parsing them. */
	if (size > 64 * 1024)
		return -1;
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
			  NULL);
	if (!body)
		return 0;
	memset(&spec, 0, sizeof(spec));
	if (spec_from_json(body, &spec, &err) < 0) {
		if (err.message[0] == '\0')
			abort(); /* every refusal says why */
		json_decref(body);
		return 0;
	}
	json_decref(body);
	back = spec_to_json(&spec);
	if (!back)
		abort();
	memset(&again, 0, sizeof(again));
	if (spec_from_json(back, &again, &err) < 0)
		abort(); /* what the server stored must read back */
	json_decref(back);
	w = workload_find(spec.workload);
	if (!w)
		abort();
	program_init(&prog);
	if (w->build(&spec, &prog, &err) < 0 && err.message[0] == '\0')
		abort();
	program_free(&prog);
	return 0;
}
