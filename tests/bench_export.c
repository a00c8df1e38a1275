/*
 * bench_export: what writing a big trace costs, per format.
 *
 * `overlap run` of 100,000 asyncio tasks x 1 s (io=sleep) with --format
 * events, json and chrome, each in a child process of its own: the
 * child's wall time and its peak resident memory (wait4's ru_maxrss), so
 * the run itself is in every row and the difference between rows is the
 * export.  JSON and the Chrome trace are streamed from the trace
 * (render.h); events are written as the run goes.
 *
 * Prints markdown table rows: | measure | value | target |, and the load
 * average it started under: the machine may be shared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

struct result {
	double wall_s;
	double peak_mib;
	long bytes;
};

static int run_format(const char *bin, const char *format, struct result *r)
{
	char out[] = "/tmp/overlap-bench-export-XXXXXX";
	int fd = mkstemp(out), status;
	int64_t t0 = util_mono_ns();
	struct rusage ru;
	pid_t pid;

	if (fd < 0)
		return -errno;
	close(fd);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl(bin, bin, "run", "--workload", "fetch", "--model",
		      "asyncio", "--tasks", "100000", "--duration", "1s",
		      "--set", "io=sleep", "--format", format, "--out", out,
		      (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	r->wall_s = (double)(util_mono_ns() - t0) / NS_PER_S;
	r->peak_mib = (double)ru.ru_maxrss / 1024.0;
	{
		FILE *f = fopen(out, "r");

		r->bytes = -1;
		if (f) {
			fseek(f, 0, SEEK_END);
			r->bytes = ftell(f);
			fclose(f);
		}
	}
	unlink(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_export: --format %s exited %d\n", format,
			status);
		return -1;
	}
	return 0;
}

int main(void)
{
	const char *bin = getenv("OVERLAP_BIN");
	static const char *const formats[] = {"events", "json", "chrome"};
	struct result r[3];
	double load[1] = {0};

	if (!bin)
		bin = "build/overlap";
	getloadavg(load, 1);
	printf("\n| measure | value | target |\n| --- | --- | --- |\n");
	printf("| machine load average (1 min) when bench_export started | "
	       "%.2f | - |\n",
	       load[0]);
	for (int i = 0; i < 3; i++)
		if (run_format(bin, formats[i], &r[i]) < 0)
			return 1;
	for (int i = 0; i < 3; i++)
		printf("| overlap run, 100,000 asyncio tasks x 1 s, --format "
		       "%s: wall; peak memory; output | %.2f s (%.2fx "
		       "events); %.0f MiB; %.1f MiB | %s |\n",
		       formats[i], r[i].wall_s, r[i].wall_s / r[0].wall_s,
		       r[i].peak_mib, (double)r[i].bytes / (1024.0 * 1024.0),
		       i == 0 ? "-" : "<= 64 MiB, <= 1.5x events");
	return 0;
}
