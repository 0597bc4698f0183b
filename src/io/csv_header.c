/* The column names of a CSV file, read from its first record alone, so that a program can choose
 * how to read a file (which column is the label) before reading it whole. The quoting rules are
 * cg_csv_read's: a field that starts with a quote is quoted and a doubled quote inside it stands
 * for one; unquoted fields are trimmed of spaces and tabs; blank lines before the record are
 * skipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/dataset.h"

void cg_name_list_free(cg_name_list *list) {
    if (!list) return;
    cg_string_array_free(list->names, list->count);
    *list = (cg_name_list){0};
}

typedef struct {
    FILE *stream;
    const char *path;
    int delimiter; /* as fgetc returns it: a byte >= 0x80 must not compare equal to EOF */
    int line;
    char *field; /* the field being read */
    size_t length, capacity;
    cg_name_list *names;
    size_t names_capacity;
} header_reader;

static bool append_char(header_reader *reader, char c) {
    if (reader->length + 1 >= reader->capacity) {
        const size_t capacity = reader->capacity ? reader->capacity * 2 : 64;
        char *grown = realloc(reader->field, capacity);
        if (!grown) {
            cg_error_set("csv: '%s': out of memory reading the header", reader->path);
            return false;
        }
        reader->field = grown;
        reader->capacity = capacity;
    }
    reader->field[reader->length++] = c;
    return true;
}

static bool add_name(header_reader *reader, const char *text, size_t length) {
    cg_name_list *names = reader->names;
    if ((size_t)names->count == reader->names_capacity) {
        const size_t capacity = reader->names_capacity ? reader->names_capacity * 2 : 16;
        char **grown = realloc(names->names, capacity * sizeof *grown);
        if (!grown) {
            cg_error_set("csv: '%s': out of memory reading the header", reader->path);
            return false;
        }
        names->names = grown;
        reader->names_capacity = capacity;
    }
    char *name = cg_string_copy(text, length);
    if (name) names->names[names->count++] = name;
    return name != NULL;
}

static bool is_blank(int c) { return c == ' ' || c == '\t'; }

/* Reads a quoted field after its opening quote; returns the character after the closing quote
 * and the blanks that follow it, or EOF - 1 with an error. */
static int read_quoted(header_reader *reader) {
    const int start_line = reader->line;
    for (;;) {
        int c = getc(reader->stream);
        if (c == EOF) {
            cg_error_set("csv: '%s' line %d: unterminated quote (no closing '\"')", reader->path,
                         start_line);
            return EOF - 1;
        }
        if (c == '"') {
            c = getc(reader->stream);
            if (c != '"') {
                while (is_blank(c) && c != reader->delimiter)
                    c = getc(reader->stream);
                if (c != reader->delimiter && c != '\n' && c != '\r' && c != EOF) {
                    cg_error_set("csv: '%s' line %d: unexpected '%c' after a closing quote",
                                 reader->path, reader->line, c);
                    return EOF - 1;
                }
                return c;
            }
        }
        if (c == '\n') reader->line++;
        if (!append_char(reader, (char)c)) return EOF - 1;
    }
}

/* Reads an unquoted field starting with c; returns the character that ends it. */
static int read_unquoted(header_reader *reader, int c) {
    while (c != reader->delimiter && c != '\n' && c != '\r' && c != EOF) {
        if (!append_char(reader, (char)c)) return EOF - 1;
        c = getc(reader->stream);
    }
    return c;
}

/* Reads one record into the name list; sets *blank for an empty line and *at_end when the file
 * ended before it. false with an error. */
static bool read_record(header_reader *reader, bool *blank, bool *at_end) {
    *at_end = false;
    for (int column = 1;; column++) {
        reader->length = 0;
        int c = getc(reader->stream);
        if (c == EOF && column == 1) {
            *at_end = true;
            return true;
        }
        const bool quoted = c == '"';
        const int terminator = quoted ? read_quoted(reader) : read_unquoted(reader, c);
        if (terminator == EOF - 1) return false;
        size_t start = 0, end = reader->length;
        while (!quoted && start < end && is_blank(reader->field[start]))
            start++;
        while (!quoted && end > start && is_blank(reader->field[end - 1]))
            end--;
        if (!add_name(reader, reader->field ? reader->field + start : "", end - start))
            return false;
        if (terminator == reader->delimiter) continue;
        if (terminator == '\r') {
            const int next = getc(reader->stream);
            if (next != '\n' && next != EOF) ungetc(next, reader->stream);
        }
        reader->line++;
        *blank = column == 1 && !quoted && end == start;
        return true;
    }
}

static void skip_byte_order_mark(FILE *stream) {
    if (getc(stream) != 0xEF || getc(stream) != 0xBB || getc(stream) != 0xBF) rewind(stream);
}

/* Reads the first non-blank record of the open file into reader->names. */
static bool read_first_record(header_reader *reader) {
    skip_byte_order_mark(reader->stream);
    for (;;) {
        bool blank = false, at_end = false;
        if (!read_record(reader, &blank, &at_end)) return false;
        if (at_end) {
            cg_error_set("csv: '%s': the file is empty", reader->path);
            return false;
        }
        if (!blank) return true;
        cg_name_list_free(reader->names);
        reader->names_capacity = 0;
    }
}

/* Replaces the names by "column_1", "column_2", ... for a file without a header. */
static bool generate_names(header_reader *reader) {
    const int64_t count = reader->names->count;
    cg_name_list_free(reader->names);
    reader->names_capacity = 0;
    for (int64_t c = 0; c < count; c++) {
        char name[32];
        const int length = snprintf(name, sizeof name, "column_%lld", (long long)(c + 1));
        if (!add_name(reader, name, (size_t)length)) return false;
    }
    return true;
}

int cg_csv_read_header(const char *path, const cg_csv_options *options, cg_name_list *columns) {
    const cg_csv_options chosen = options ? *options : cg_csv_default_options();
    if (!columns) {
        cg_error_set("csv: cg_csv_read_header needs a list for the names");
        return -1;
    }
    *columns = (cg_name_list){0};
    if (!cg_csv_check_options(path, &chosen)) return -1;
    header_reader reader = {.path = path,
                            .delimiter = (unsigned char)chosen.delimiter,
                            .line = 1,
                            .names = columns};
    reader.stream = fopen(path, "rb");
    if (!reader.stream) {
        cg_error_set("csv: '%s': cannot open: %s", path, strerror(errno));
        return -1;
    }
    bool read = read_first_record(&reader) && (chosen.has_header || generate_names(&reader));
    if (read && ferror(reader.stream)) {
        cg_error_set("csv: '%s': read error", path);
        read = false;
    }
    fclose(reader.stream);
    free(reader.field);
    if (!read) cg_name_list_free(columns);
    return read ? 0 : -1;
}
