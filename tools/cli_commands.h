/* The subcommands of the cgrad tool. Each takes the arguments after its name and returns the
 * process's exit status (CLI_SUCCESS, CLI_FAILURE or CLI_USAGE_ERROR). */
#ifndef CGRAD_TOOL_CLI_COMMANDS_H
#define CGRAD_TOOL_CLI_COMMANDS_H

int cli_train(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_summary(int argc, char **argv);
int cli_plot(int argc, char **argv);

#endif
