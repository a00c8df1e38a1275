/*
 * cmd_workloads: `overlap workloads`, the catalog as a table (each
 * workload's parameters, each model's options: type, default, limits,
 * help), or with --json as GET /api/workloads serves it.  Both come from
 * the same data (struct param_def), so they cannot disagree.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engines.h"
#include "model.h"
#include "spec.h"
#include "util.h"
#include "workload.h"

static const char *type_name(enum param_type t)
{
	switch (t) {
	case PARAM_INT:
		return "int";
	case PARAM_DURATION:
		return "duration";
	case PARAM_FLOAT:
		return "float";
	case PARAM_ENUM:
		return "enum";
	case PARAM_TEXT:
		return "text";
	}
	return "?";
}

static void print_param(FILE *f, const struct param_def *d)
{
	char range[64], lo[32], hi[32];
	const char *shown;

	switch (d->type) {
	case PARAM_INT:
		snprintf(range, sizeof(range), "%.0f..%.0f%s%s", d->min, d->max,
			 d->unit && d->unit[0] ? " " : "",
			 d->unit ? d->unit : "");
		break;
	case PARAM_FLOAT:
		snprintf(range, sizeof(range), "%g..%g", d->min, d->max);
		break;
	case PARAM_DURATION:
		snprintf(range, sizeof(range), "%s..%s",
			 util_format_duration_text((int64_t)d->min, lo,
						   sizeof(lo)),
			 util_format_duration_text((int64_t)d->max, hi,
						   sizeof(hi)));
		break;
	case PARAM_ENUM:
		snprintf(range, sizeof(range), "%s",
			 d->choices ? d->choices : "");
		break;
	case PARAM_TEXT:
		snprintf(range, sizeof(range), "<= %.0f bytes", d->max);
		break;
	}
	if (!d->def || !d->def[0])
		shown = "-";
	else if (strlen(d->def) > 12)
		shown = "(see below)";
	else
		shown = d->def;
	fprintf(f, "    %-16s %-8s %-12s %-24s %s\n", d->name,
		type_name(d->type), shown, range, d->help ? d->help : "");
	if (d->def && strlen(d->def) > 12)
		fprintf(f, "    %-16s %-8s default: %s\n", "", "", d->def);
}

/* The catalog as the server serves it: with the interpreters the cpython
 * engine can use on this machine. */
static json_t *catalog_with_interpreters(void)
{
	json_t *catalog = spec_catalog_json();

	engines_add_interpreters(catalog);
	return catalog;
}

int cmd_workloads(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	size_t i, j;
	int c;

	cli_cmd_name = "overlap workloads";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			as_json = true;
			break;
		case OPT_HELP:
			fputs("usage: overlap workloads [--json]\n\n"
			      "Lists the workloads with their parameters "
			      "(type, default, limits, help)\nand the models "
			      "with their options.\n",
			      stdout);
			return EXIT_OK;
		case OPT_VERSION:
			printf("overlap %s\n", OVERLAP_VERSION);
			return EXIT_OK;
		default:
			return cli_usage_error(
				"unknown option '%s' (see --help)",
				argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s' (see --help)",
				       argv[optind]);
	if (as_json)
		return cli_print_json(stdout, catalog_with_interpreters()) < 0
			       ? EXIT_RUN_FAILED
			       : EXIT_OK;

	printf("Workloads (overlap run --workload NAME --set KEY=VALUE):\n");
	for (i = 0; i < workload_catalog_count; i++) {
		const struct workload *w = workload_catalog[i];

		printf("\n  %s: %s\n", w->name, w->help);
		printf("    %-16s %-8s %-12s %-24s %s\n", "parameter", "type",
		       "default", "limits", "help");
		for (j = 0; j < w->n_params; j++)
			print_param(stdout, &w->params[j]);
	}
	printf("\nModels (overlap run --model NAME --set KEY=VALUE):\n");
	for (i = 0; i < model_catalog_count; i++) {
		const struct model_ops *m = model_catalog[i];

		printf("\n  %s: %s\n", m->name, m->help);
		printf("    %-16s %-8s %-12s %-24s %s\n", "option", "type",
		       "default", "limits", "help");
		for (j = 0; j < m->n_options; j++)
			print_param(stdout, &m->options[j]);
		for (j = 0; j < spec_common_options_count; j++)
			print_param(stdout, &spec_common_options[j]);
	}
	printf("\nDurations: 250ms, 1.5s, 50us (a bare number is "
	       "milliseconds).\n");
	return EXIT_OK;
}
