/*
 * cmd_calibrate: `overlap calibrate [--python PATH] [--out FILE] [--quick]`.
 * Runs the calibration of CPython's costs (costs.h: what is measured, by
 * which script, and where it is kept), stores it, and prints the figures
 * the option costs=python will charge.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "costs.h"
#include "util.h"

static void print_costs(FILE *f, const struct python_costs *c, const char *path)
{
	char a[32], b[32], d[32];

	fprintf(f, "CPython %s on this machine (%s):\n", c->python_version,
		path);
	fprintf(f, "  process pool, start to first result  fork %s, spawn %s",
		util_format_duration(c->process_start_ns[COSTS_FORK], a,
				     sizeof(a)),
		util_format_duration(c->process_start_ns[COSTS_SPAWN], b,
				     sizeof(b)));
	if (c->process_start_ns[COSTS_FORKSERVER])
		fprintf(f, ", forkserver %s",
			util_format_duration(
				c->process_start_ns[COSTS_FORKSERVER], d,
				sizeof(d)));
	fprintf(f, "\n  process pool, round trip per task    %s\n",
		util_format_duration(c->process_task_ns, a, sizeof(a)));
	fprintf(f, "  process pool, per byte of argument   %.2f ns\n",
		c->ipc_ns_per_byte);
	fprintf(f, "  thread start                         %s\n",
		util_format_duration(c->thread_start_ns, a, sizeof(a)));
	fprintf(f, "  asyncio task switch                  %s\n",
		util_format_duration(c->task_switch_ns, a, sizeof(a)));
}

int cmd_calibrate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"python", required_argument, NULL, 'p'},
		{"out", required_argument, NULL, 'o'},
		{"quick", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *python = NULL;
	char path[PATH_MAX] = "", why[512];
	struct python_costs costs;
	bool quick = false;
	int c, rc;

	cli_cmd_name = "overlap calibrate";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			python = optarg;
			break;
		case 'o':
			util_strlcpy(path, optarg, sizeof(path));
			break;
		case 'q':
			quick = true;
			break;
		case 'h':
			printf("usage: overlap calibrate [--python PATH] "
			       "[--out FILE] [--quick]\n\n"
			       "Measures what CPython costs on this machine "
			       "(a worker process's start-up\nwith fork, "
			       "spawn and forkserver, a thread's start, a "
			       "process pool's round\ntrip and cost per byte, "
			       "an asyncio task switch) and keeps it for "
			       "the\noption costs=python.\n\n"
			       "  --python PATH  the interpreter to measure "
			       "(default: python3 on PATH)\n"
			       "  --out FILE     where to keep it (default: "
			       "$OVERLAP_COSTS, else\n"
			       "                 "
			       "$XDG_CACHE_HOME/overlap/costs.json)\n"
			       "  --quick        fewer rounds\n");
			return 0;
		default:
			return cli_usage_error("unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'",
				       argv[optind]);
	if (!path[0] && costs_path(path, sizeof(path)) < 0)
		return cli_usage_error("--out: no default place (set HOME or "
				       "OVERLAP_COSTS)");
	rc = costs_calibrate(python, path, quick, why, sizeof(why));
	if (rc == 0)
		rc = costs_load(path, &costs, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", cli_cmd_name, why);
		return 1;
	}
	print_costs(stdout, &costs, path);
	return 0;
}
