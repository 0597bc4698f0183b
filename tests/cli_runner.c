#define _POSIX_C_SOURCE 200809L

#include "cli_runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "temp_dir.h"

/* Reads at most size - 1 bytes of stream into buffer, NUL-terminated. */
static void read_all(FILE *stream, char *buffer, size_t size) {
    size_t used = 0, got;
    while (used + 1 < size && (got = fread(buffer + used, 1, size - 1 - used, stream)) > 0)
        used += got;
    buffer[used] = '\0';
}

bool run_cli(const char *arguments, cli_run *run) {
    run->status = -2;
    run->out[0] = run->err[0] = '\0';
    char program[1024];
    snprintf(program, sizeof program, "%s/cgrad", CG_BINARY_DIR);
    temp_dir dir;
    if (access(program, X_OK) != 0 || !temp_dir_create(&dir)) return false;
    const char *error_path = temp_dir_file(&dir, "stderr.txt");
    const size_t size = strlen(program) + strlen(arguments) + strlen(error_path) + 16;
    char *command = malloc(size);
    FILE *pipe = NULL;
    if (command) {
        snprintf(command, size, "'%s' %s 2>'%s'", program, arguments, error_path);
        pipe = popen(command, "r");
    }
    if (pipe) {
        read_all(pipe, run->out, sizeof run->out);
        const int status = pclose(pipe);
        run->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        FILE *errors = fopen(error_path, "r");
        if (errors) {
            read_all(errors, run->err, sizeof run->err);
            fclose(errors);
        }
    }
    free(command);
    temp_dir_remove(&dir);
    return pipe != NULL;
}

const char *last_line(const char *text) {
    static char line[4096];
    size_t end = strlen(text);
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    const size_t length = end - start < sizeof line - 1 ? end - start : sizeof line - 1;
    memcpy(line, text + start, length);
    line[length] = '\0';
    return line;
}

double json_value(const char *line, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(line, pattern);
    double value;
    return at && sscanf(at + strlen(pattern), "%lf", &value) == 1 ? value : NAN;
}
