/* Running the built example programs from tests, as a user would. */
#ifndef CG_TEST_EXAMPLE_RUNNER_H
#define CG_TEST_EXAMPLE_RUNNER_H

enum { EXAMPLE_OUTPUT_SIZE = 1 << 16 };

/* Runs the example program name with arguments (a shell fragment) and collects its standard
 * output into output (EXAMPLE_OUTPUT_SIZE bytes). Returns its exit status, -1 when it did not
 * exit normally, or -2 when the program was not built. */
int run_example(const char *name, const char *arguments, char *output);

/* The number printed after "<label>: " (e.g. "multi-layer test accuracy"), or NaN. */
double reported_value(const char *output, const char *label);

#endif
