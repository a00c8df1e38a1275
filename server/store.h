/*
 * store: the server's data directory.  Runs live under DIR/runs as
 *
 *   <id>.meta    small JSON: the spec, the status, the summary (the index
 *                a restart reads; rewritten when the run ends)
 *   <id>.events  the run's live events, one JSON object a line, appended
 *                while it runs (line k is SSE event id k)
 *   <id>.json    the trace, written once when the run ends
 *
 * and compares under DIR/compares/<id>.json.  Every whole-file write is
 * atomic: a temporary dotfile in the same directory, write, fsync, rename,
 * fsync the directory, so a reader (or a restart) sees the old file or the
 * new one, never half of one.  Stale temporaries are removed at open.
 *
 * Names passed in are relative ("runs/<id>.json"); callers build them from
 * ids checked with store_id_valid(), so nothing from a request reaches a
 * path unchecked.  All functions are thread-safe (the store holds only
 * directory fds).
 */
#ifndef OVERLAP_STORE_H
#define OVERLAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "20261122-153012-ab12cd" plus the terminator. */
#define STORE_ID_SIZE 24

struct store;

/* Opens (creating if needed) dir, dir/runs and dir/compares, and removes
 * stale temporary files.  NULL with a message in err on failure. */
struct store *store_open(const char *dir, char *err, size_t err_size);
void store_close(struct store *st);

/* True when id has the exact form YYYYMMDD-HHMMSS-xxxxxx ([0-9a-z]). */
bool store_id_valid(const char *id);
/* A new id from the current UTC time and 6 random characters. */
void store_id_new(char id[STORE_ID_SIZE]);

/* Atomically replaces name with len bytes of data.  0 or -errno. */
int store_write(struct store *st, const char *name, const void *data,
		size_t len);
/* Reads the whole of name into a new NUL-terminated buffer (*data, free()
 * it).  0, -ENOENT, or another -errno. */
int store_read(struct store *st, const char *name, char **data, size_t *len);
/* Opens name for reading; returns the fd (O_CLOEXEC) or -errno. */
int store_open_read(struct store *st, const char *name);
/* Opens name for appending, creating it; returns the fd or -errno. */
int store_open_append(struct store *st, const char *name);
/* Removes name; a missing file is not an error.  0 or -errno. */
int store_remove(struct store *st, const char *name);
/* True when name exists. */
bool store_exists(struct store *st, const char *name);

/* Calls fn with the base name (suffix stripped) of every regular file in
 * sub ("runs") that ends in suffix (".meta").  0 or -errno. */
int store_list(struct store *st, const char *sub, const char *suffix,
	       void (*fn)(void *ctx, const char *base), void *ctx);

#endif
