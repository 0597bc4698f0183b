/* Reading back the training log that cg_csv_logger writes: a header "epoch,<series...>", then one
 * row of numbers per epoch ("nan" where a value was not finite). The history it gives draws the
 * same chart as the one fit returned. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/history.h"

typedef struct {
    const char *path;
    int line_number;
    char **columns; /* the series names, after "epoch" */
    int column_count;
    cg_history *history;
} log_reader;

/* Sets "cg_history_read_csv: 'path' line N: message". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
log_error(const log_reader *reader, const char *format, ...);

static void log_error(const log_reader *reader, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("cg_history_read_csv: '%s' line %d: %s", reader->path, reader->line_number,
                 message);
}

/* Removes a trailing line end ("\n" or "\r\n"). */
static void chomp(char *line) { line[strcspn(line, "\r\n")] = '\0'; }

static int read_header(log_reader *reader, char *line) {
    char *save = NULL;
    const char *first = strtok_r(line, ",", &save);
    if (!first || strcmp(first, "epoch") != 0) {
        log_error(reader, "expected a header starting with \"epoch\" (a log of cg_csv_logger)");
        return -1;
    }
    for (char *name = strtok_r(NULL, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        char **columns =
            realloc(reader->columns, sizeof *columns * (size_t)(reader->column_count + 1));
        char *copy = columns ? malloc(strlen(name) + 1) : NULL;
        if (columns) reader->columns = columns;
        if (!copy) {
            log_error(reader, "out of memory");
            return -1;
        }
        reader->columns[reader->column_count++] = strcpy(copy, name);
    }
    if (reader->column_count > 0) return 0;
    log_error(reader, "the header names no series after \"epoch\"");
    return -1;
}

/* Parses the next comma-separated number of *cursor into *value; false when there is none. */
static bool next_number(char **cursor, double *value) {
    char *end;
    errno = 0;
    *value = strtod(*cursor, &end);
    if (end == *cursor || errno == ERANGE || (*end != ',' && *end != '\0')) return false;
    *cursor = *end == ',' ? end + 1 : end;
    return true;
}

static int read_row(log_reader *reader, char *line) {
    char *cursor = line;
    double epoch;
    if (!next_number(&cursor, &epoch) || epoch < 0 || epoch != (double)(int)epoch) {
        log_error(reader, "the epoch \"%.40s\" is not a whole number >= 0", line);
        return -1;
    }
    for (int i = 0; i < reader->column_count; i++) {
        double value;
        const char *start = cursor;
        if (!*cursor || !next_number(&cursor, &value)) {
            log_error(reader, "%s: expected a number, got \"%.40s\"", reader->columns[i], start);
            return -1;
        }
        if (cg_history_record(reader->history, reader->columns[i], (int)epoch, value) != 0) {
            char cause[256];
            snprintf(cause, sizeof cause, "%s", cg_last_error());
            log_error(reader, "%s", cause);
            return -1;
        }
    }
    if (*cursor == '\0') return 0;
    log_error(reader, "more values than the %d series of the header", reader->column_count);
    return -1;
}

static int read_lines(log_reader *reader, FILE *file) {
    char *line = NULL;
    size_t capacity = 0;
    int status = 0;
    bool header_read = false;
    while (status == 0 && getline(&line, &capacity, file) >= 0) {
        reader->line_number++;
        chomp(line);
        if (line[0] == '\0') continue;
        status = header_read ? read_row(reader, line) : read_header(reader, line);
        header_read = true;
    }
    free(line);
    if (status == 0 && cg_history_epochs(reader->history) == 0) {
        cg_error_set("cg_history_read_csv: '%s': no epochs in the file", reader->path);
        status = -1;
    }
    return status;
}

cg_history *cg_history_read_csv(const char *path) {
    FILE *file = path ? fopen(path, "r") : NULL;
    if (!file) {
        cg_error_set("cg_history_read_csv: cannot open '%s': %s", path ? path : "(null)",
                     strerror(errno));
        return NULL;
    }
    log_reader reader = {.path = path, .history = cg_history_new()};
    int status = reader.history ? read_lines(&reader, file) : -1;
    if (status == 0 && ferror(file)) {
        cg_error_set("cg_history_read_csv: '%s': read error", path);
        status = -1;
    }
    fclose(file);
    for (int i = 0; i < reader.column_count; i++)
        free(reader.columns[i]);
    free(reader.columns);
    if (status == 0) return reader.history;
    cg_history_free(reader.history);
    return NULL;
}
