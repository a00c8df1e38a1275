/*
 * files: the page's static files, served from one directory (web/).
 *
 * A URL path maps to a regular file under the directory and nothing else:
 * "/" is index.html; a path with an empty, "." or ".." segment, or any
 * segment starting with a dot (dotfiles, .git), is not found; directories
 * are not found (no listings); the file is opened with openat2()
 * RESOLVE_BENEATH, so not even a symlink inside web/ can lead out of it.
 * libmicrohttpd has already percent-decoded the path, so an encoded
 * "%2e%2e" arrives as ".." and is refused like the plain one.
 */
#ifndef OVERLAP_FILES_H
#define OVERLAP_FILES_H

#include <microhttpd.h>
#include <stdbool.h>

struct files;

/* Opens dir.  NULL when it cannot be opened (the server then serves the
 * API only and answers 404 for pages). */
struct files *files_open(const char *dir);
void files_close(struct files *f);

/* A response for url (the decoded path), with its Content-Type set, or
 * NULL when there is no such file (404).  *cacheable tells whether the
 * file may be cached by the browser (vendor files under node_modules). */
struct MHD_Response *files_response(struct files *f, const char *url,
				    int *cacheable);

/* Whether url would be served (a regular file, by the same rules). */
bool files_exists(struct files *f, const char *url);

/* The Content-Type for a file name, by its extension. */
const char *files_content_type(const char *name);

#endif
