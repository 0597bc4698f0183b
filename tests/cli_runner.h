/* Running the built cgrad tool from tests, as a user would: arguments in, exit status, standard
 * output and standard error out. */
#ifndef CG_TEST_CLI_RUNNER_H
#define CG_TEST_CLI_RUNNER_H

#include <stdbool.h>

enum { CLI_OUTPUT_SIZE = 1 << 16 };

typedef struct {
    int status; /* the exit status; -1 when it did not exit normally */
    char out[CLI_OUTPUT_SIZE];
    char err[CLI_OUTPUT_SIZE];
} cli_run;

/* Runs the built tool with arguments (a shell fragment; quote paths) and fills *run. false, with
 * run->status -2, when the tool was not built or the run could not be started. */
bool run_cli(const char *arguments, cli_run *run);

/* The last line of text (without its line end) in a static buffer; "" for empty text. */
const char *last_line(const char *text);

/* The number after "\"key\": " in a JSON line; NaN when the key is missing or its value is not a
 * number (null). */
double json_value(const char *line, const char *key);

#endif
