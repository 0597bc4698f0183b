/* How the cgrad tool reports: failures as one line on standard error, results as text for people
 * or as JSON for programs. */
#ifndef CGRAD_TOOL_CLI_REPORT_H
#define CGRAD_TOOL_CLI_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/* Prints "cgrad COMMAND: message" to standard error; returns CLI_FAILURE. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_fail(const char *command, const char *format, ...);

/* Prints "cgrad COMMAND: <the library's last error>" to standard error; returns CLI_FAILURE. */
int cli_fail_library(const char *command);

/* Writes "name": value as a JSON member (a number, or null for NaN and infinities), preceded by a
 * comma unless first. */
void cli_json_member(FILE *out, const char *name, double value, bool first);

#endif
