/* A libFuzzer target made of a parser check (tests/parser_checks.h): crashes, undefined behaviour
 * and leaks are reported by the sanitizers; a broken promise is printed, then the target aborts so
 * that libFuzzer keeps the input. */
#ifndef CG_FUZZ_TARGET_H
#define CG_FUZZ_TARGET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "parser_checks.h"

#define CG_FUZZ_TARGET(check)                                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                 \
        const char *violation = check(data, size);                                                 \
        if (violation) {                                                                           \
            fprintf(stderr, "broken promise: %s\n", violation);                                    \
            abort();                                                                               \
        }                                                                                          \
        return 0;                                                                                  \
    }

#endif
