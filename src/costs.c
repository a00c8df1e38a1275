/*
 * costs: CPython's measured costs, kept in a file (costs.h says what and
 * why).
 *
 * The measuring is Python's business (src/cpython/costs.py, found beside
 * the build directory or through $OVERLAP_CPYTHON); this file runs it,
 * checks what it printed before keeping it (a figure out of range would
 * make every later run wrong), and stores it the way the server stores a
 * run: a temporary file, fsync, rename, fsync of the directory, so a
 * reader never sees half a file.
 */
#include "costs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "util.h"

#define COSTS_FORMAT "overlap-python-costs"
#define COSTS_VERSION 1
/* Anything a figure may be: a start-up of a minute is a broken machine. */
#define COSTS_MAX_NS (60 * NS_PER_S)
#define COSTS_MAX_NS_PER_BYTE 1000.0
/* What the script may print (a few hundred bytes in practice). */
#define COSTS_MAX_OUTPUT (64 * 1024)

static const char *const start_names[COSTS__STARTS] = {
	[COSTS_FORK] = "fork",
	[COSTS_SPAWN] = "spawn",
	[COSTS_FORKSERVER] = "forkserver",
};

/* costs.h says how these were measured. */
const struct python_memory costs_memory = {
	.thread_bytes = 13100 + 2180,
	.thread_reserved_bytes = 8 * 1024 * 1024 + 4096,
	.task_bytes = 1130,
	.future_bytes = 1600,
	.process_bytes =
		{
			[COSTS_FORK] = 13900000,
			[COSTS_SPAWN] = 17100000,
			[COSTS_FORKSERVER] = 14900000,
		},
	.interpreter_bytes = 4370000,
};

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t size,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int costs_path(char *out, size_t size)
{
	const char *env = getenv("OVERLAP_COSTS");
	const char *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env && env[0])
		n = snprintf(out, size, "%s", env);
	else if (cache && cache[0] == '/')
		n = snprintf(out, size, "%s/overlap/costs.json", cache);
	else if (home && home[0])
		n = snprintf(out, size, "%s/.cache/overlap/costs.json", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- reading ------------------------------------------------------------ */

static int get_ns(json_t *obj, const char *name, const char *shown,
		  bool required, int64_t *out, char *why, size_t size)
{
	json_t *v = json_object_get(obj, name);

	*out = 0;
	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > COSTS_MAX_NS)
		return fail(why, size,
			    "%s: expected nanoseconds from 0 to %lld", shown,
			    (long long)COSTS_MAX_NS);
	*out = json_integer_value(v);
	return 0;
}

static int costs_parse(json_t *root, struct python_costs *out, char *why,
		       size_t size)
{
	json_t *starts = json_object_get(root, "process_start_ns");
	json_t *python = json_object_get(root, "python");
	json_t *per_byte = json_object_get(root, "ipc_ns_per_byte");
	const char *version;
	char shown[64];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root) ||
	    !json_is_string(json_object_get(root, "format")) ||
	    strcmp(json_string_value(json_object_get(root, "format")),
		   COSTS_FORMAT) != 0)
		return fail(why, size, "format: expected \"%s\"", COSTS_FORMAT);
	if (json_integer_value(json_object_get(root, "version")) !=
	    COSTS_VERSION)
		return fail(why, size, "version: expected %d", COSTS_VERSION);
	if (!json_is_object(starts))
		return fail(why, size, "process_start_ns: expected an object");
	for (int s = 0; s < COSTS__STARTS; s++) {
		snprintf(shown, sizeof(shown), "process_start_ns.%s",
			 start_names[s]);
		/* forkserver is not on every platform. */
		rc = get_ns(starts, start_names[s], shown,
			    s != COSTS_FORKSERVER, &out->process_start_ns[s],
			    why, size);
		if (rc < 0)
			return rc;
	}
	rc = get_ns(root, "process_task_ns", "process_task_ns", true,
		    &out->process_task_ns, why, size);
	if (!rc)
		rc = get_ns(root, "thread_start_ns", "thread_start_ns", true,
			    &out->thread_start_ns, why, size);
	if (!rc)
		rc = get_ns(root, "task_switch_ns", "task_switch_ns", false,
			    &out->task_switch_ns, why, size);
	if (rc < 0)
		return rc;
	if (!json_is_number(per_byte) || json_number_value(per_byte) < 0 ||
	    json_number_value(per_byte) > COSTS_MAX_NS_PER_BYTE)
		return fail(why, size,
			    "ipc_ns_per_byte: expected a number from 0 to %g",
			    COSTS_MAX_NS_PER_BYTE);
	out->ipc_ns_per_byte = json_number_value(per_byte);
	version = json_string_value(json_object_get(python, "version"));
	if (!version)
		return fail(why, size, "python.version: expected a string");
	util_strlcpy(out->python_version, version, sizeof(out->python_version));
	return 0;
}

int costs_load(const char *path, struct python_costs *out, char *why,
	       size_t why_size)
{
	json_error_t jerr;
	json_t *root;
	char inner[160];
	int rc;

	root = json_load_file(path, 0, &jerr);
	if (!root) {
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			snprintf(why, why_size, "%s: no such file", path);
			return -ENOENT;
		}
		return fail(why, why_size, "%s: line %d: %s", path, jerr.line,
			    jerr.text);
	}
	rc = costs_parse(root, out, inner, sizeof(inner));
	json_decref(root);
	if (rc < 0)
		snprintf(why, why_size, "%s: %s", path, inner);
	return rc;
}

/* ---- measuring ---------------------------------------------------------- */

/* src/cpython/costs.py: under $OVERLAP_CPYTHON, else beside the build
 * directory of this binary (build/overlap, build/tests/test_x,
 * build/san-thread/tests/test_x). */
static int script_path(char *out, size_t size)
{
	static const char *const rel[] = {"/../src/cpython",
					  "/../../src/cpython",
					  "/../../../src/cpython"};
	const char *env = getenv("OVERLAP_CPYTHON");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && env[0]) {
		snprintf(out, size, "%s/costs.py", env);
		return access(out, R_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, size, "%.*s%s/costs.py", PATH_MAX - 64, exe,
			 rel[i]);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/* Runs python on the script; what it printed goes into a new string. */
static int run_script(const char *python, const char *script, bool quick,
		      char **output, char *why, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	int pipe_fds[2], status, rc = 0;
	pid_t pid;

	*output = NULL;
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return rc;
	}
	if (pid == 0) {
		char *argv[] = {(char *)python, (char *)script,
				quick ? "--quick" : NULL, NULL};

		dup2(pipe_fds[1], STDOUT_FILENO);
		execvp(python, argv);
		fprintf(stderr, "overlap calibrate: cannot run %s: %s\n",
			python, strerror(errno));
		_exit(127);
	}
	close(pipe_fds[1]);
	buf = util_xcalloc(1, COSTS_MAX_OUTPUT + 1);
	for (;;) {
		ssize_t n =
			read(pipe_fds[0], buf + len, COSTS_MAX_OUTPUT - len);

		if (n > 0) {
			len += (size_t)n;
			if (len == COSTS_MAX_OUTPUT)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(pipe_fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = fail(why, size, "%s %s failed (%s %d)", python, script,
			  WIFEXITED(status) ? "exit status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status)
					    : WTERMSIG(status));
		free(buf);
		return rc;
	}
	*output = buf;
	return 0;
}

/* mkdir -p of path's directory. */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];

	util_strlcpy(dir, path, sizeof(dir));
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* Writes text to path through a temporary beside it: a reader sees the
 * old file or the new one, whole. */
static int write_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t len = strlen(text), done = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	rc = make_parent(path);
	if (rc < 0)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		rc = -errno;
out_close:
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	/* The rename is only durable once the directory is. */
	util_strlcpy(dir, path, sizeof(dir));
	char *slash = strrchr(dir, '/');

	if (slash) {
		*slash = '\0';
		fd = open(slash == dir ? "/" : dir,
			  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

int costs_calibrate(const char *python, const char *path, bool quick, char *why,
		    size_t why_size)
{
	struct python_costs costs;
	char script[PATH_MAX], inner[160];
	char *output = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	if (!python || !python[0])
		python = "python3";
	rc = script_path(script, sizeof(script));
	if (rc < 0) {
		snprintf(why, why_size,
			 "cannot find src/cpython/costs.py beside the build "
			 "directory (set OVERLAP_CPYTHON to its directory)");
		return rc;
	}
	rc = run_script(python, script, quick, &output, why, why_size);
	if (rc < 0)
		return rc;
	root = json_loads(output, 0, &jerr);
	if (!root) {
		rc = fail(why, why_size, "%s printed no JSON: %s", script,
			  jerr.text);
		goto out_free;
	}
	rc = costs_parse(root, &costs, inner, sizeof(inner));
	if (rc < 0) {
		snprintf(why, why_size, "%s printed %s", script, inner);
		goto out_free;
	}
	rc = write_atomic(path, output);
	if (rc < 0)
		snprintf(why, why_size, "cannot write %s: %s", path,
			 strerror(-rc));
out_free:
	json_decref(root);
	free(output);
	return rc;
}

int costs_get(struct python_costs *out, char *why, size_t why_size)
{
	char path[PATH_MAX];
	int rc = costs_path(path, sizeof(path));

	if (rc < 0) {
		snprintf(why, why_size,
			 "no place for the costs file: set OVERLAP_COSTS or "
			 "HOME");
		return rc;
	}
	rc = costs_load(path, out, why, why_size);
	if (rc != -ENOENT)
		return rc;
	/* First use: measure now (a few seconds), once. */
	rc = costs_calibrate(NULL, path, false, why, why_size);
	if (rc < 0)
		return rc;
	return costs_load(path, out, why, why_size);
}
