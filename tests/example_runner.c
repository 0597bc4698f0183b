#define _POSIX_C_SOURCE 200809L

#include "example_runner.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int run_example(const char *name, const char *arguments, char *output) {
    char program[1024], command[4096];
    snprintf(program, sizeof program, "%s/%s", CG_BINARY_DIR, name);
    if (access(program, X_OK) != 0) return -2;
    snprintf(command, sizeof command, "'%s' %s", program, arguments);
    FILE *pipe = popen(command, "r");
    if (!pipe) return -1;
    size_t used = 0, got;
    while ((got = fread(output + used, 1, EXAMPLE_OUTPUT_SIZE - 1 - used, pipe)) > 0)
        used += got;
    output[used] = '\0';
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double reported_value(const char *output, const char *label) {
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s: ", label);
    const char *line = strstr(output, prefix);
    double value;
    return line && sscanf(line + strlen(prefix), "%lf", &value) == 1 ? value : NAN;
}
