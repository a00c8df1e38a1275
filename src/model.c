/*
 * model: the catalog of concurrency models.
 *
 * Each model lives in its own file behind struct model_ops (model.h); this
 * file only lists them.  Adding a model is one `extern` line in model.h and
 * one line in model_catalog[] below.  The order is the order the CLI, the
 * page and `overlap compare` show them in: from no concurrency to the most.
 */
#include "model.h"

#include <string.h>
#include <unistd.h>

const struct model_ops *const model_catalog[] = {
	&model_sequential,	 &model_threads,      &model_thread_pool,
	&model_interpreter_pool, &model_process_pool, &model_asyncio,
	&model_asyncio_executor,
};
const size_t model_catalog_count =
	sizeof(model_catalog) / sizeof(model_catalog[0]);

const struct model_ops *model_find(const char *name)
{
	size_t i;

	for (i = 0; i < model_catalog_count; i++)
		if (strcmp(model_catalog[i]->name, name) == 0)
			return model_catalog[i];
	return NULL;
}

static uint32_t cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)n : 1;
}

uint32_t model_default_thread_workers(void)
{
	uint32_t n = cores() + 4;

	return n < 32 ? n : 32;
}

uint32_t model_default_process_workers(void)
{
	return cores();
}
