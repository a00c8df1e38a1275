/*
 * export: a run's trace as a Chrome trace or ASCII timeline (see
 * export.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "export.h"
#include "render.h"
#include "trace_json.h"

/* MHD reads a response in blocks of this size. */
#define EXPORT_BLOCK_BYTES 65536

/* One download in progress: the trace it reads and where its text is.
 * Owned by the response (export_free). */
struct export_job {
	struct trace t;
	struct render_stream *stream; /* the Chrome trace; NULL: ASCII */
	char *ascii;		      /* the ASCII text, drawn whole */
	const char *text;	      /* the chunk being sent ... */
	size_t len, off;	      /* ... its length, and how much went */
};

static void export_free(void *cls)
{
	struct export_job *j = cls;

	render_stream_free(j->stream);
	free(j->ascii);
	trace_free(&j->t);
	free(j);
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct export_job *j = cls;
	size_t n;

	(void)pos;
	if (j->off == j->len) {
		int rc;

		if (!j->stream)
			return MHD_CONTENT_READER_END_OF_STREAM;
		rc = render_stream_next(j->stream, &j->text, &j->len);
		j->off = 0;
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (rc == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = j->len - j->off < max ? j->len - j->off : max;
	memcpy(buf, j->text + j->off, n);
	j->off += n;
	return (ssize_t)n;
}

int export_response(struct runs *runs, const char *id, bool chrome, int width,
		    struct MHD_Response **resp, char *err, size_t err_size)
{
	struct export_job *j;
	json_t *json = NULL;
	int rc, fd = -1;

	*resp = NULL;
	rc = runs_trace(runs, id, &json, &fd);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0)
		return -EIO;
	j = calloc(1, sizeof(*j));
	if (!j) {
		json_decref(json);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	trace_init(&j->t);
	if (json) {
		/* A run still going, folded from its events. */
		rc = trace_from_json(json, &j->t, err, err_size);
		json_decref(json);
	} else {
		/* A stored trace, read from its file a piece at a time. */
		rc = trace_from_json_fd(fd, &j->t, err, err_size);
		close(fd);
	}
	if (rc < 0) {
		export_free(j);
		return rc == -EINVAL ? -EBADMSG : rc == -ENOMEM ? rc : -EIO;
	}
	if (chrome) {
		/* Compact and UTF-8 as it is, as the server always sent. */
		j->stream = render_stream_chrome(&j->t, 0, false);
		if (!j->stream)
			goto out_nomem;
	} else {
		struct ascii_opts opts = {
			.width = width, .unicode = true, .summary = true};
		size_t len = 0;
		FILE *f = open_memstream(&j->ascii, &len);

		if (!f)
			goto out_nomem;
		render_ascii(&j->t, &opts, f);
		if (fclose(f) != 0 || !j->ascii)
			goto out_nomem;
		j->text = j->ascii;
		j->len = len;
	}
	*resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
						  EXPORT_BLOCK_BYTES,
						  export_read, j, export_free);
	if (!*resp)
		goto out_nomem;
	return 0;

out_nomem:
	export_free(j);
	return -ENOMEM;
}
