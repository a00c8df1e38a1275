/*
 * engines: the interpreters the server allows (see engines.h).
 *
 * Finding them starts each candidate once (tens of milliseconds each, a
 * second or two with launcher scripts), so the list is made on first use,
 * under a mutex, and kept for the server's life: an interpreter installed
 * later needs a restart.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cpython.h"
#include "engines.h"
#include "util.h"

#define ENGINES_MAX_INTERPRETERS 32

static pthread_mutex_t found_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cpython_info found[ENGINES_MAX_INTERPRETERS];
static size_t n_found; /* protected by found_lock, with searched */
static bool searched;

static size_t interpreters(const struct cpython_info **out)
{
	pthread_mutex_lock(&found_lock);
	if (!searched) {
		n_found = cpython_discover(found, ENGINES_MAX_INTERPRETERS);
		searched = true;
	}
	pthread_mutex_unlock(&found_lock);
	*out = found; /* written once, before searched was set */
	return n_found;
}

static void *discover_main(void *arg)
{
	const struct cpython_info *list;

	(void)arg;
	interpreters(&list);
	return NULL;
}

void engines_discover_async(void)
{
	pthread_t thread;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, discover_main, NULL) != 0)
		discover_main(NULL);
	pthread_attr_destroy(&attr);
}

int engines_check(const struct spec *spec, struct spec_error *err)
{
	const struct cpython_info *list;
	size_t n;
	char msg[256];

	if (strcmp(spec->engine, SPEC_ENGINE_CPYTHON) != 0)
		return 0;
	n = interpreters(&list);
	if (!spec->python[0])
		/* python3 on PATH: the first found, when it was. */
		return n ? cpython_check(spec, &list[0], err) : 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].path, spec->python) == 0)
			return cpython_check(spec, &list[i], err);
	snprintf(msg, sizeof(msg),
		 "python: not an interpreter this server offers (%zu found; "
		 "see engines in GET /api/workloads)",
		 n);
	util_strlcpy(err->field, "python", sizeof(err->field));
	util_strlcpy(err->message, msg, sizeof(err->message));
	err->column = 0;
	return -EINVAL;
}

void engines_add_interpreters(json_t *catalog)
{
	json_t *engines = json_object_get(catalog, "engines");
	const struct cpython_info *list;
	json_t *entry, *arr = json_array();
	size_t n = interpreters(&list), i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b}",
						     "path", list[i].path,
						     "version", list[i].version,
						     "build", list[i].build,
						     "default", i == 0));
	json_array_foreach(engines, i, entry) {
		const char *name =
			json_string_value(json_object_get(entry, "name"));

		if (name && strcmp(name, SPEC_ENGINE_CPYTHON) == 0) {
			json_object_set(entry, "interpreters", arr);
			break;
		}
	}
	json_decref(arr);
}
