/*
 * store: the data directory (see store.h).
 *
 * The store keeps one fd for the data directory and opens everything
 * relative to it with openat() and friends, so a name can never climb out
 * (O_NOFOLLOW on the last component, and names are built from checked
 * ids).  Atomic replacement is the classic sequence: write a temporary
 * dotfile beside the target, fsync it, renameat() over the target, fsync
 * the directory so the rename itself survives a power cut.  Temporaries
 * are named ".<name>.tmp-<random>", so the listing (which skips dotfiles)
 * never shows them and store_open() can sweep the ones a crash left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

struct store {
	int dir_fd;
};

static const char *const store_subdirs[] = {"runs", "compares", "sweeps"};

static void random_chars(char *out, size_t n)
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char raw[32];

	if (n > sizeof(raw))
		n = sizeof(raw);
	if (getrandom(raw, n, 0) != (ssize_t)n) {
		/* getrandom on Linux does not fail for small sizes once the
		 * pool is up; fall back to the clock rather than abort. */
		uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
		for (size_t i = 0; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			raw[i] = (unsigned char)(x >> 33);
		}
	}
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[raw[i] % 36];
}

bool store_id_valid(const char *id)
{
	/* YYYYMMDD-HHMMSS-xxxxxx */
	static const char shape[] = "99999999-999999-aaaaaa";

	if (!id)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = id[i];
		if (shape[i] == '9' && !(c >= '0' && c <= '9'))
			return false;
		if (shape[i] == '-' && c != '-')
			return false;
		if (shape[i] == 'a' &&
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return id[sizeof(shape) - 1] == '\0';
}

void store_id_new(char id[STORE_ID_SIZE])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(id, STORE_ID_SIZE, "%Y%m%d-%H%M%S-", &tm);
	random_chars(id + 16, 6);
	id[22] = '\0';
}

static bool is_stale_tmp(const char *name)
{
	return name[0] == '.' && strstr(name, ".tmp-") != NULL;
}

static void sweep_tmp(int dir_fd, const char *sub)
{
	int fd = openat(dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (is_stale_tmp(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

struct store *store_open(const char *dir, char *err, size_t err_size)
{
	struct store *st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_size, "cannot create data directory %s: %s",
			 dir, strerror(errno));
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0) {
		snprintf(err, err_size, "cannot open data directory %s: %s",
			 dir, strerror(errno));
		goto out_free;
	}
	for (size_t i = 0; i < sizeof(store_subdirs) / sizeof(*store_subdirs);
	     i++) {
		if (mkdirat(st->dir_fd, store_subdirs[i], 0700) < 0 &&
		    errno != EEXIST) {
			snprintf(err, err_size, "cannot create %s/%s: %s", dir,
				 store_subdirs[i], strerror(errno));
			goto out_close;
		}
		sweep_tmp(st->dir_fd, store_subdirs[i]);
	}
	if (faccessat(st->dir_fd, "runs", W_OK, 0) < 0) {
		snprintf(err, err_size, "data directory %s/runs: %s", dir,
			 strerror(errno));
		goto out_close;
	}
	return st;

out_close:
	close(st->dir_fd);
out_free:
	free(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	close(st->dir_fd);
	free(st);
}

/* Splits "runs/x.json" into the directory part (opened as an fd) and the
 * last component. */
static int open_parent(struct store *st, const char *name, const char **base)
{
	const char *slash = strrchr(name, '/');
	char sub[64];
	int fd;

	if (!slash) {
		*base = name;
		return dup(st->dir_fd);
	}
	if ((size_t)(slash - name) >= sizeof(sub))
		return -ENAMETOOLONG;
	memcpy(sub, name, (size_t)(slash - name));
	sub[slash - name] = '\0';
	*base = slash + 1;
	fd = openat(st->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_write(struct store *st, const char *name, const void *data,
		size_t len)
{
	const char *base;
	char tmp[256], rnd[8];
	int dir_fd, fd, rc;

	dir_fd = open_parent(st, name, &base);
	if (dir_fd < 0)
		return dir_fd;
	random_chars(rnd, 6);
	rnd[6] = '\0';
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", base, rnd) >=
	    sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out_close_dir;
	}
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out_close_dir;
	}
	rc = write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dir_fd, tmp, dir_fd, base) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dir_fd, tmp, 0);
		goto out_close_dir;
	}
	/* The rename is only durable once the directory is. */
	if (fsync(dir_fd) < 0)
		rc = -errno;
out_close_dir:
	close(dir_fd);
	return rc;
}

int store_open_read(struct store *st, const char *name)
{
	int fd = openat(st->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int store_open_append(struct store *st, const char *name)
{
	int fd = openat(st->dir_fd, name,
			O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			0600);
	return fd < 0 ? -errno : fd;
}

int store_read(struct store *st, const char *name, char **data, size_t *len)
{
	struct stat sb;
	char *buf = NULL;
	size_t size, got = 0;
	int fd, rc = 0;

	*data = NULL;
	*len = 0;
	fd = store_open_read(st, name);
	if (fd < 0)
		return fd;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		goto out_close;
	}
	/* The file may grow while read (an events file being appended):
	 * read what is there, up to EOF. */
	size = (size_t)sb.st_size + 1;
	buf = malloc(size);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (got + 1 >= size) {
			char *bigger = realloc(buf, size * 2);
			if (!bigger) {
				rc = -ENOMEM;
				goto out_free;
			}
			buf = bigger;
			size *= 2;
		}
		n = read(fd, buf + got, size - got - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	goto out_close;

out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

int store_remove(struct store *st, const char *name)
{
	if (unlinkat(st->dir_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool store_exists(struct store *st, const char *name)
{
	return faccessat(st->dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_list(struct store *st, const char *sub, const char *suffix,
	       void (*fn)(void *ctx, const char *base), void *ctx)
{
	size_t suffix_len = strlen(suffix);
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(st->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char base[256];

		if (de->d_name[0] == '.' || n <= suffix_len ||
		    n - suffix_len >= sizeof(base) ||
		    strcmp(de->d_name + n - suffix_len, suffix) != 0)
			continue;
		memcpy(base, de->d_name, n - suffix_len);
		base[n - suffix_len] = '\0';
		fn(ctx, base);
	}
	closedir(d);
	return 0;
}
