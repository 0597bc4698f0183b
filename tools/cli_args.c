#include "cli_args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrad.h>

static void print_usage_problem(const cli_command *command, const char *format, va_list args) {
    fprintf(stderr, "cgrad %s: ", command->name);
    vfprintf(stderr, format, args);
    fprintf(stderr, "\nusage: %s\nRun 'cgrad %s --help' for every option.\n", command->usage,
            command->name);
}

int cli_usage_error(const cli_command *command, const char *format, ...) {
    va_list args;
    va_start(args, format);
    print_usage_problem(command, format, args);
    va_end(args);
    return CLI_USAGE_ERROR;
}

static const cli_flag *find_flag(const cli_command *command, const char *name, size_t length) {
    for (int i = 0; i < command->flag_count; i++) {
        const char *flag = command->flags[i].name;
        if (strlen(flag) == length && strncmp(flag, name, length) == 0) return &command->flags[i];
    }
    return NULL;
}

static bool is_choice(const char *choices, const char *word) {
    const size_t length = strlen(word);
    for (const char *at = choices; *at;) {
        const size_t choice_length = strcspn(at, "|");
        if (choice_length == length && strncmp(at, word, length) == 0) return true;
        at += choice_length + (at[choice_length] == '|');
    }
    return false;
}

/* Parses a whole decimal integer in [minimum, maximum]; false for anything else. */
static bool parse_integer(const char *text, unsigned long long minimum, unsigned long long maximum,
                          unsigned long long *value) {
    if (text[0] < '0' || text[0] > '9') return false; /* strtoull takes blanks and signs */
    char *end;
    errno = 0;
    *value = strtoull(text, &end, 10);
    return *end == '\0' && errno == 0 && *value >= minimum && *value <= maximum;
}

static bool parse_number(const char *text, double *value) {
    char *end;
    errno = 0;
    *value = strtod(text, &end);
    return end != text && *end == '\0' && errno == 0 && isfinite(*value);
}

/* What a value of the kind must be, for the message about a bad one. */
static const char *expected_value(const cli_flag *flag) {
    switch (flag->kind) {
    case CLI_POSITIVE_INTEGER: return "a positive integer";
    case CLI_SEED: return "an integer >= 0";
    case CLI_POSITIVE_NUMBER: return "a number > 0";
    case CLI_NON_NEGATIVE_NUMBER: return "a number >= 0";
    case CLI_FRACTION: return "a number in [0, 1)";
    case CLI_TEXT: return "a non-empty value";
    case CLI_DEVICE: return "cpu, cuda or cuda:N";
    default: return flag->choices;
    }
}

/* Checks text and stores it; false when it is not a value of the flag's kind. */
static bool store_value(const cli_flag *flag, const char *text) {
    unsigned long long integer;
    double number;
    switch (flag->kind) {
    case CLI_TEXT: *(const char **)flag->value = text; return text[0] != '\0';
    case CLI_CHOICE: *(const char **)flag->value = text; return is_choice(flag->choices, text);
    case CLI_DEVICE: return cg_device_parse(text, (cg_device *)flag->value) == 0;
    case CLI_POSITIVE_INTEGER:
        if (!parse_integer(text, 1, INT_MAX, &integer)) return false;
        *(int *)flag->value = (int)integer;
        return true;
    case CLI_SEED:
        if (!parse_integer(text, 0, UINT64_MAX, &integer)) return false;
        *(uint64_t *)flag->value = (uint64_t)integer;
        return true;
    case CLI_POSITIVE_NUMBER:
    case CLI_NON_NEGATIVE_NUMBER:
    case CLI_FRACTION:
        if (!parse_number(text, &number)) return false;
        *(double *)flag->value = number;
        return flag->kind == CLI_POSITIVE_NUMBER       ? number > 0
               : flag->kind == CLI_NON_NEGATIVE_NUMBER ? number >= 0
                                                       : number >= 0 && number < 1;
    default: return false;
    }
}

static void print_help(const cli_command *command) {
    printf("usage: %s\n\n%s", command->usage, command->help);
}

/* Reads the flag at argv[*index] (and its value); returns CLI_SUCCESS or a usage error. */
static int parse_flag(const cli_command *command, int argc, char **argv, int *index, bool *seen) {
    const char *argument = argv[*index];
    const char *equals = strchr(argument, '=');
    const size_t name_length = equals ? (size_t)(equals - argument) : strlen(argument);
    const cli_flag *flag = argument[0] == '-' ? find_flag(command, argument, name_length) : NULL;
    if (!flag && argument[0] == '-')
        return cli_usage_error(command, "unknown flag '%.*s'", (int)name_length, argument);
    if (!flag) return cli_usage_error(command, "unexpected argument '%s'", argument);
    seen[flag - command->flags] = true;
    if (flag->kind == CLI_SWITCH) {
        if (equals) return cli_usage_error(command, "%s takes no value", flag->name);
        *(bool *)flag->value = true;
        return CLI_SUCCESS;
    }
    const char *text = equals ? equals + 1 : NULL;
    /* A following flag is not a value: "--epochs --quiet" lacks the number. */
    if (!equals && *index + 1 < argc && strncmp(argv[*index + 1], "--", 2) != 0)
        text = argv[++*index];
    if (!text) return cli_usage_error(command, "%s needs a value", flag->name);
    if (!store_value(flag, text))
        return cli_usage_error(command, "%s: expected %s, got '%s'", flag->name,
                               expected_value(flag), text);
    return CLI_SUCCESS;
}

int cli_parse(const cli_command *command, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(command);
            return CLI_HELP_SHOWN;
        }
    }
    bool *seen = calloc((size_t)command->flag_count + 1, sizeof *seen);
    if (!seen) {
        fprintf(stderr, "cgrad %s: out of memory\n", command->name);
        return CLI_FAILURE;
    }
    int status = CLI_SUCCESS;
    for (int i = 0; status == CLI_SUCCESS && i < argc; i++)
        status = parse_flag(command, argc, argv, &i, seen);
    for (int i = 0; status == CLI_SUCCESS && i < command->flag_count; i++)
        if (command->flags[i].required && !seen[i])
            status = cli_usage_error(command, "%s is required", command->flags[i].name);
    free(seen);
    return status;
}
