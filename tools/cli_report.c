#include "cli_report.h"

#include <math.h>
#include <stdarg.h>

#include <cgrad.h>

#include "cli_args.h"

int cli_fail(const char *command, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "cgrad %s: ", command);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return CLI_FAILURE;
}

int cli_fail_library(const char *command) { return cli_fail(command, "%s", cg_last_error()); }

void cli_json_member(FILE *out, const char *name, double value, bool first) {
    fprintf(out, "%s\"%s\": ", first ? "" : ", ", name);
    if (isfinite(value))
        fprintf(out, "%.6g", value);
    else
        fputs("null", out);
}
