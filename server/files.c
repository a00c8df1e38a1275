/*
 * files: static files from web/ (see files.h).
 *
 * The lexical checks (no dot segments, no dotfiles, no backslashes) refuse
 * the obvious attacks with a clear rule; openat2(RESOLVE_BENEATH) makes
 * the kernel refuse whatever they miss.  Responses come from the fd
 * (sendfile) with the size known, so large vendor files cost no copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"

#define FILES_PATH_MAX 1024

struct files {
	int dir_fd;
};

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{"html", "text/html; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"json", "application/json"},
	{"map", "application/json"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"ico", "image/x-icon"},
	{"txt", "text/plain; charset=utf-8"},
	{"md", "text/plain; charset=utf-8"},
	{"woff2", "font/woff2"},
	{"wasm", "application/wasm"},
};

const char *files_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && !strchr(dot, '/')) {
		for (size_t i = 0;
		     i < sizeof(content_types) / sizeof(*content_types); i++)
			if (strcasecmp(dot + 1, content_types[i].ext) == 0)
				return content_types[i].type;
	}
	return "application/octet-stream";
}

struct files *files_open(const char *dir)
{
	struct files *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dir_fd < 0) {
		free(f);
		return NULL;
	}
	return f;
}

void files_close(struct files *f)
{
	if (!f)
		return;
	close(f->dir_fd);
	free(f);
}

/* The relative path for url, or false when url is refused. */
static bool map_path(const char *url, char *rel, size_t size)
{
	const char *p;
	size_t n;

	if (url[0] != '/')
		return false;
	if (strcmp(url, "/") == 0)
		url = "/index.html";
	n = strlen(url + 1);
	if (n == 0 || n >= size || strchr(url, '\\'))
		return false;
	/* Every segment must be non-empty and must not start with '.'. */
	for (p = url; *p; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
			return false;
	}
	memcpy(rel, url + 1, n + 1);
	return true;
}

static int open_beneath(int dir_fd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) {
		/* Kernels before 5.6: no symlinks at all then. */
		fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	return (int)fd;
}

bool files_exists(struct files *f, const char *url)
{
	char rel[FILES_PATH_MAX];
	struct stat sb;
	bool regular;
	int fd;

	if (!f || !map_path(url, rel, sizeof(rel)))
		return false;
	fd = open_beneath(f->dir_fd, rel);
	if (fd < 0)
		return false;
	regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
	close(fd);
	return regular;
}

struct MHD_Response *files_response(struct files *f, const char *url,
				    int *cacheable)
{
	char rel[FILES_PATH_MAX];
	struct MHD_Response *resp;
	struct stat sb;
	int fd;

	*cacheable = 0;
	if (!f || !map_path(url, rel, sizeof(rel)))
		return NULL;
	fd = open_beneath(f->dir_fd, rel);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return NULL;
	}
	resp = MHD_create_response_from_fd((size_t)sb.st_size, fd);
	if (!resp) {
		close(fd);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				files_content_type(rel));
	*cacheable = strncmp(rel, "node_modules/", 13) == 0;
	return resp;
}
