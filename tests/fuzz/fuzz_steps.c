/*
 * fuzz_steps: libFuzzer harness for the step language's parser
 * (steps_parse in src/program.h), which reads a custom workload's
 * program straight from a request.  Any input either parses into a
 * program or is refused with a column inside the text and a message;
 * nothing else (no crash, no leak, no undefined behaviour) may happen.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct steps_error err = {0};
	struct program p;
	char *text;
	int rc;

	/* The spec never hands the parser more than its longest text. */
	if (size > SPEC_TEXT_MAX)
		return -1;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	program_init(&p);
	rc = steps_parse(text, &p, &err);
	if (rc < 0 && (err.message[0] == '\0' || err.column < 0 ||
		       (size_t)err.column > strlen(text) + 1))
		abort(); /* a refusal says where and why */
	program_free(&p);
	free(text);
	return 0;
}
