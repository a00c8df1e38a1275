/*
 * main: the `overlap` command line.
 *
 * One binary, a few subcommands found in a small table (subcommands[]):
 * run, compare, workloads, calibrate (cli/cmd_*.c), serve (the server,
 * server/), and hidden ones the engine starts itself (the process pool's
 * spawned workers).  Each subcommand parses its own options with
 * getopt_long and returns its exit code: 0, 1 when a run did not finish,
 * 2 on bad usage with one line naming the bad option.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "server.h"
#include "util.h"
#include "worker.h"

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv); /* argv[0] is the name */
	const char *help;		    /* NULL: hidden */
};

static const struct subcommand subcommands[] = {
	{"run", cmd_run, "run a workload under one model"},
	{"compare", cmd_compare, "run a workload under several models"},
	{"sweep", cmd_sweep,
	 "run a workload at several values of one "
	 "parameter"},
	{"workloads", cmd_workloads, "list workloads, parameters and models"},
	{"serve", server_main, "serve the web page and the HTTP API"},
	{"calibrate", cmd_calibrate, "measure this machine's CPython costs"},
	/* Hidden subcommands the engine starts itself (help = NULL) go
	 * here, e.g. the process pool's spawned workers:
	 *   {"worker", worker_main, NULL},   (worker.h) */
	{"worker", worker_main, NULL},
};

static void print_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: overlap COMMAND [options]\n\n"
		   "Runs workloads under Python-style concurrency models and "
		   "shows how\ntheir tasks overlap.\n\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (subcommands[i].help)
			fprintf(f, "  %-10s %s\n", subcommands[i].name,
				subcommands[i].help);
	fprintf(f, "\n'overlap COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("overlap %s\n", OVERLAP_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	return cli_usage_error("unknown command '%s' (expected run, compare, "
			       "sweep, workloads, serve or calibrate)",
			       argv[1]);
}
