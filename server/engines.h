/*
 * engines: which interpreters a client may ask the server to run.
 *
 * A spec with engine cpython may name an interpreter ("python").  The
 * server runs only the ones it found itself (cpython_discover: python3,
 * python3.N and python3.Nt on its PATH, and pyenv's versions), compared
 * by exact path, so a client can never make it execute a file of its
 * choosing.  The search runs once, on first use, and is kept.
 */
#ifndef OVERLAP_ENGINES_H
#define OVERLAP_ENGINES_H

#include <jansson.h>

#include "spec.h"

/* Starts finding the interpreters in a thread of its own, so that the
 * first request that needs them waits less.  Safe to call again. */
void engines_discover_async(void);

/* 0 when spec may run here: an overlap spec, or a cpython spec whose
 * python is "" (python3 on the server's PATH) or one of the interpreters
 * found, and which that interpreter can run.  -EINVAL with err naming
 * "python" (not offered), "options.gil" (gil=off on a GIL build) or
 * "params.program" (an asyncio barrier before 3.11) otherwise. */
int engines_check(const struct spec *spec, struct spec_error *err);

/* Adds "interpreters": [{path, version, build, default}] to the cpython
 * entry of catalog.engines (borrowed; modified in place). */
void engines_add_interpreters(json_t *catalog);

#endif
