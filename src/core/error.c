#include "core/error.h"

#include <stdio.h>

#include "cgrad.h"

static _Thread_local char error_message[1024];

void cg_error_set(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error_message, sizeof error_message, format, args);
    va_end(args);
}

const char *cg_last_error(void) { return error_message; }

void cg_clear_error(void) { error_message[0] = '\0'; }
