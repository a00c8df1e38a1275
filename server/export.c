/*
 * export: a run's trace as a Chrome trace or ASCII timeline (see
 * export.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "export.h"
#include "render.h"
#include "trace.h"

int export_render(struct runs *runs, const char *id, bool chrome, int width,
		  char **text, size_t *len, char *err, size_t err_size)
{
	struct trace t;
	json_t *json;
	int rc;

	*text = NULL;
	*len = 0;
	rc = runs_trace_json(runs, id, &json);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0)
		return -EIO;
	trace_init(&t);
	rc = trace_from_json(json, &t, err, err_size);
	json_decref(json);
	if (rc < 0) {
		trace_free(&t);
		return -EBADMSG;
	}
	if (chrome) {
		json_t *obj = render_chrome(&t);

		*text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
		*len = *text ? strlen(*text) : 0;
		json_decref(obj);
	} else {
		struct ascii_opts opts = {
			.width = width, .unicode = true, .summary = true};
		FILE *f = open_memstream(text, len);

		if (f) {
			render_ascii(&t, &opts, f);
			fclose(f);
		}
	}
	trace_free(&t);
	return *text ? 0 : -ENOMEM;
}
