/* Flag parsing for the cgrad tool: each subcommand describes its flags in a table, and one parser
 * reads, checks and stores them, so every flag reports a bad value the same way. */
#ifndef CGRAD_TOOL_CLI_ARGS_H
#define CGRAD_TOOL_CLI_ARGS_H

#include <stdbool.h>

/* Exit statuses: a usage error is any problem with the command line itself. */
enum { CLI_SUCCESS = 0, CLI_FAILURE = 1, CLI_USAGE_ERROR = 2 };

/* What cli_parse returns besides an exit status: the help was printed, nothing is left to do. */
enum { CLI_HELP_SHOWN = -1 };

typedef enum {
    CLI_SWITCH,              /* no value; sets a bool */
    CLI_TEXT,                /* any non-empty text; a const char * */
    CLI_CHOICE,              /* one of the words of choices; a const char * */
    CLI_POSITIVE_INTEGER,    /* an int >= 1 */
    CLI_SEED,                /* an integer >= 0; a uint64_t */
    CLI_POSITIVE_NUMBER,     /* a finite double > 0 */
    CLI_NON_NEGATIVE_NUMBER, /* a finite double >= 0 */
    CLI_FRACTION,            /* a double in [0, 1) */
    CLI_DEVICE,              /* cpu, cuda or cuda:N (cg_device_parse); a cg_device */
} cli_value_kind;

typedef struct {
    const char *name; /* "--epochs" */
    cli_value_kind kind;
    void *value;         /* where the value goes, of the type the kind names */
    const char *choices; /* CLI_CHOICE: the allowed words, "sgd|adam|adamw|rmsprop" */
    bool required;
} cli_flag;

typedef struct {
    const char *name;  /* "train" */
    const char *usage; /* the usage line: "cgrad train --model SPEC --data PATH [options]" */
    const char *help;  /* what --help prints after the usage line */
    const cli_flag *flags;
    int flag_count;
} cli_command;

/* Reads the arguments after the subcommand name into the flags' values ("--flag value" or
 * "--flag=value"; a repeated flag keeps its last value). Returns CLI_SUCCESS; CLI_HELP_SHOWN after
 * printing the help (--help, -h) to standard output; CLI_USAGE_ERROR after printing what is wrong
 * (an unknown flag, a missing or bad value, a missing required flag, a stray argument) and the
 * usage line to standard error; or CLI_FAILURE when out of memory. */
int cli_parse(const cli_command *command, int argc, char **argv);

/* Prints "cgrad NAME: message", the usage line and a pointer to --help to standard error, for
 * usage problems a command finds after parsing (flags that exclude each other); returns
 * CLI_USAGE_ERROR. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_usage_error(const cli_command *command, const char *format, ...);

#endif
