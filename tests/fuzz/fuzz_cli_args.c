/* cli_parse, the cgrad tool's flag parser, on arbitrary argument lists: the input split at NUL
 * bytes, against a command with a flag of every kind. Whatever it accepts must be stored as the
 * kind promises. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"

enum { MAX_ARGUMENTS = 64 };

typedef struct {
    bool quiet;
    const char *data, *optimizer;
    int epochs;
    uint64_t seed;
    double learning_rate, weight_decay, validation_split;
} flag_values;

static const char *broken_promise(const flag_values *values) {
    if (!values->data || !values->data[0]) return "a required text flag accepted empty";
    if (values->optimizer && strcmp(values->optimizer, "sgd") != 0 &&
        strcmp(values->optimizer, "adam") != 0 && strcmp(values->optimizer, "adamw") != 0)
        return "a choice outside its list";
    if (values->epochs < 1) return "a positive integer below 1";
    if (!(values->learning_rate > 0) || !isfinite(values->learning_rate))
        return "a positive number that is not";
    if (!(values->weight_decay >= 0) || !isfinite(values->weight_decay))
        return "a non-negative number that is not";
    if (!(values->validation_split >= 0 && values->validation_split < 1))
        return "a fraction outside [0, 1)";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *arguments[MAX_ARGUMENTS];
    int count = 0;
    for (size_t at = 0; at < size && count < MAX_ARGUMENTS; at += strlen(text + at) + 1)
        arguments[count++] = text + at;
    flag_values values = {.epochs = 1, .learning_rate = 0.01};
    const cli_flag flags[] = {
        {"--quiet", CLI_SWITCH, &values.quiet, NULL, false},
        {"--data", CLI_TEXT, &values.data, NULL, true},
        {"--optimizer", CLI_CHOICE, &values.optimizer, "sgd|adam|adamw", false},
        {"--epochs", CLI_POSITIVE_INTEGER, &values.epochs, NULL, false},
        {"--seed", CLI_SEED, &values.seed, NULL, false},
        {"--learning-rate", CLI_POSITIVE_NUMBER, &values.learning_rate, NULL, false},
        {"--weight-decay", CLI_NON_NEGATIVE_NUMBER, &values.weight_decay, NULL, false},
        {"--validation-split", CLI_FRACTION, &values.validation_split, NULL, false},
    };
    const cli_command command = {"train", "cgrad train --data PATH [options]", "", flags,
                                 (int)(sizeof flags / sizeof flags[0])};
    const int status = cli_parse(&command, count, arguments);
    const char *violation = status == CLI_SUCCESS ? broken_promise(&values) : NULL;
    if (violation) {
        fprintf(stderr, "broken promise: %s\n", violation);
        abort();
    }
    free(text);
    return 0;
}
