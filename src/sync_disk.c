/*
 * sync_disk: the files of a program's disk steps.  Each task that has a
 * disk step on a file object uses its own file in the run's private
 * directory; the files a task reads are written before the run starts and
 * dropped from the page cache, so a read step reads the disk (as far as
 * the kernel lets an unprivileged process ask).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync_internal.h"

#define DISK_CHUNK_BYTES (64 * 1024)

/* A task's file of a disk step: "<tmpdir>/<object name>.<task>", so tasks
 * that share a step never share a file. */
int sync__file_path(const struct sync_rt *rt, uint32_t obj, uint32_t task,
		    char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s.%u", rt->tmpdir,
			 rt->prog->objects[obj].name, task);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int sync__disk_write(const char *path, int64_t bytes)
{
	char *buf = malloc(DISK_CHUNK_BYTES);
	int fd, err = 0;
	int64_t done = 0;

	if (!buf)
		return -ENOMEM;
	memset(buf, 'o', DISK_CHUNK_BYTES);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	while (done < bytes) {
		size_t n = bytes - done < DISK_CHUNK_BYTES
				   ? (size_t)(bytes - done)
				   : DISK_CHUNK_BYTES;
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_close;
		}
		done += w;
	}
	if (fsync(fd) < 0)
		err = -errno;
out_close:
	close(fd);
out_free:
	free(buf);
	return err;
}

int sync__disk_read(const char *path, int64_t bytes)
{
	char *buf = malloc(DISK_CHUNK_BYTES);
	int fd, err = 0;
	int64_t done = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	while (done < bytes) {
		ssize_t r = read(fd, buf, DISK_CHUNK_BYTES);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		done += r;
	}
	close(fd);
out_free:
	free(buf);
	return err;
}

int sync__files_prepare(struct sync_rt *rt, char *msg, size_t msg_size)
{
	const struct program *p = rt->prog;
	char path[512];

	for (uint32_t t = 0; t < p->n_tasks; t++) {
		const struct task_def *td = &p->tasks[t];

		for (uint32_t i = 0; i < td->n_steps; i++) {
			const struct step *s = &p->steps[td->first_step + i];
			int err, fd;

			if (!valid_disk_step(rt, s) || s->aux != 0)
				continue;
			err = sync__file_path(rt, s->object, t, path,
					      sizeof(path));
			if (err == 0)
				err = sync__disk_write(path, s->n);
			if (err < 0) {
				snprintf(msg, msg_size,
					 "files: cannot prepare %.160s for "
					 "reading: %s",
					 path, strerror(-err));
				return err;
			}
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
				close(fd);
			}
		}
	}
	return 0;
}

void sync__files_remove(struct sync_rt *rt)
{
	const struct program *p = rt->prog;
	char path[512];

	if (rt->tmpdir[0] == '\0')
		return;
	for (uint32_t t = 0; t < p->n_tasks; t++) {
		const struct task_def *td = &p->tasks[t];

		for (uint32_t i = 0; i < td->n_steps; i++) {
			const struct step *s = &p->steps[td->first_step + i];

			if (valid_disk_step(rt, s) &&
			    sync__file_path(rt, s->object, t, path,
					    sizeof(path)) == 0)
				unlink(path);
		}
	}
	if (rt->own_tmpdir)
		rmdir(rt->tmpdir);
}

bool sync__program_has_files(const struct program *p)
{
	for (size_t i = 0; i < p->n_objects; i++)
		if (p->objects[i].kind == OBJ_FILE)
			return true;
	return false;
}
