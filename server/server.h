/*
 * server: `overlap serve`, the HTTP API and the page (docs/DESIGN.md
 * section 1).
 */
#ifndef OVERLAP_SERVER_H
#define OVERLAP_SERVER_H

/* The serve subcommand: argv[0] is "serve".  Returns the exit code. */
int server_main(int argc, char **argv);

#endif
