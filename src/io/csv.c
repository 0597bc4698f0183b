/* Reading CSV files into data sets. The file is read whole and split into fields in place
 * (unescaping a quoted field never makes it longer), so memory stays a small multiple of the
 * file's size; then the cells are converted column by column. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/dataset.h"

/* What find_label_column returns besides a column index. */
enum { NO_LABEL_COLUMN = -1, LABEL_COLUMN_ERROR = -2 };

typedef struct {
    size_t first_field;
    size_t line; /* 1-based line where the record starts */
} csv_record;

typedef struct {
    const char *path;
    char delimiter;
    char *buffer; /* the file's bytes, one spare byte at the end; fields point into it */
    size_t length;
    char **fields; /* NUL-terminated, unescaped; unquoted fields trimmed of spaces and tabs */
    size_t field_count, field_capacity;
    csv_record *records;
    size_t record_count, record_capacity;
    size_t header_count; /* 1 when the first record names the columns */
} csv_file;

cg_csv_options cg_csv_default_options(void) {
    return (cg_csv_options){
        .delimiter = ',', .has_header = true, .label_column = NULL, .label_index = -1};
}

static size_t record_width(const csv_file *file, size_t record) {
    const size_t end =
        record + 1 < file->record_count ? file->records[record + 1].first_field : file->field_count;
    return end - file->records[record].first_field;
}

static const char *cell(const csv_file *file, size_t record, size_t column) {
    return file->fields[file->records[record].first_field + column];
}

/* Sets "csv: 'path' line L, column C ("name"): message", leaving out the line or column when 0
 * and the name when the file has no header or the column is not in it. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
csv_error(const csv_file *file, size_t line, size_t column, const char *format, ...);

static void csv_error(const csv_file *file, size_t line, size_t column, const char *format, ...) {
    char message[512], where[160] = "";
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (line && column && file->header_count && column <= record_width(file, 0))
        snprintf(where, sizeof where, " line %zu, column %zu (\"%.80s\")", line, column,
                 cell(file, 0, column - 1));
    else if (line && column)
        snprintf(where, sizeof where, " line %zu, column %zu", line, column);
    else if (line)
        snprintf(where, sizeof where, " line %zu", line);
    cg_error_set("csv: '%s'%s: %s", file->path, where, message);
}

static bool read_whole_file(csv_file *file) {
    FILE *stream = fopen(file->path, "rb");
    if (!stream) {
        csv_error(file, 0, 0, "cannot open: %s", strerror(errno));
        return false;
    }
    size_t capacity = 1 << 16;
    file->buffer = malloc(capacity);
    while (file->buffer) {
        file->length += fread(file->buffer + file->length, 1, capacity - 1 - file->length, stream);
        if (file->length < capacity - 1 || capacity > SIZE_MAX / 2) break;
        char *larger = realloc(file->buffer, capacity * 2);
        if (!larger) free(file->buffer);
        file->buffer = larger;
        capacity *= 2;
    }
    const bool failed = ferror(stream) || !file->buffer;
    if (!file->buffer)
        csv_error(file, 0, 0, "out of memory reading the file");
    else if (failed)
        csv_error(file, 0, 0, "read error: %s", strerror(errno));
    fclose(stream);
    return !failed;
}

/* array (count elements of size bytes), grown by doubling *capacity when it has no room for one
 * more; NULL when out of memory, leaving array as it was. */
static void *reserve_one(void *array, size_t count, size_t *capacity, size_t size) {
    if (count < *capacity) return array;
    const size_t larger = *capacity ? *capacity * 2 : 256;
    void *grown = larger < SIZE_MAX / size ? realloc(array, larger * size) : NULL;
    if (grown) *capacity = larger;
    return grown;
}

static bool add_field(csv_file *file, char *text) {
    char **fields =
        reserve_one(file->fields, file->field_count, &file->field_capacity, sizeof *fields);
    if (!fields) {
        csv_error(file, 0, 0, "out of memory splitting the file into fields");
        return false;
    }
    file->fields = fields;
    file->fields[file->field_count++] = text;
    return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Unescapes the quoted field starting at *position (on the opening quote) into out, leaving
 * *position after the closing quote and the blanks that may follow it. Returns the end of the
 * unescaped text, or NULL with an error. */
static char *read_quoted(const csv_file *file, size_t *position, size_t *line, size_t column,
                         char *out) {
    const size_t start_line = *line;
    size_t at = *position + 1;
    for (;;) {
        if (at == file->length) {
            csv_error(file, start_line, column, "unterminated quote (no closing '\"')");
            return NULL;
        }
        const char c = file->buffer[at++];
        if (c == '"' && (at == file->length || file->buffer[at] != '"')) break;
        if (c == '"') at++; /* a doubled quote stands for one */
        if (c == '\n') ++*line;
        *out++ = c;
    }
    while (at < file->length && is_blank(file->buffer[at]) && file->buffer[at] != file->delimiter)
        at++;
    const char next = at < file->length ? file->buffer[at] : '\n';
    if (next != file->delimiter && next != '\n' && next != '\r') {
        csv_error(file, *line, column, "unexpected '%c' after a closing quote", next);
        return NULL;
    }
    *position = at;
    return out;
}

/* The unquoted field starting at *position, trimmed in place; leaves *position on the delimiter
 * or line end after it. Returns the field's first character and sets *end past its last. */
static char *read_unquoted(const csv_file *file, size_t *position, char **end) {
    size_t at = *position;
    while (at < file->length && file->buffer[at] != file->delimiter && file->buffer[at] != '\n' &&
           file->buffer[at] != '\r')
        at++;
    char *text = file->buffer + *position, *stop = file->buffer + at;
    while (text < stop && is_blank(*text))
        text++;
    while (stop > text && is_blank(stop[-1]))
        stop--;
    *position = at;
    *end = stop;
    return text;
}

/* Splits one record starting at *position into fields; false with an error. Sets *blank when
 * the record is an empty line (one empty unquoted field). */
static bool read_record(csv_file *file, size_t *position, size_t *line, bool *blank) {
    for (size_t column = 1;; column++) {
        const bool quoted = *position < file->length && file->buffer[*position] == '"';
        char *text = file->buffer + *position, *end;
        if (quoted)
            end = read_quoted(file, position, line, column, text);
        else
            text = read_unquoted(file, position, &end);
        if (!end) return false;
        const char terminator = *position < file->length ? file->buffer[*position] : '\n';
        *end = '\0'; /* at or before the terminator, which was saved */
        if (!add_field(file, text)) return false;
        if (*position < file->length) ++*position;
        if (terminator == file->delimiter) continue;
        if (terminator == '\r' && *position < file->length && file->buffer[*position] == '\n')
            ++*position;
        ++*line;
        *blank = column == 1 && !quoted && text[0] == '\0';
        return true;
    }
}

static bool tokenize(csv_file *file) {
    const char *nul = memchr(file->buffer, '\0', file->length);
    if (nul) {
        size_t line = 1;
        for (const char *c = file->buffer; c < nul; c++)
            line += *c == '\n';
        csv_error(file, line, 0, "contains a NUL byte (is it a text file?)");
        return false;
    }
    size_t position = 0, line = 1;
    if (file->length >= 3 && memcmp(file->buffer, "\xEF\xBB\xBF", 3) == 0) position = 3;
    while (position < file->length) {
        const csv_record record = {file->field_count, line};
        bool blank;
        if (!read_record(file, &position, &line, &blank)) return false;
        if (blank) {
            file->field_count = record.first_field;
            continue;
        }
        csv_record *records =
            reserve_one(file->records, file->record_count, &file->record_capacity, sizeof *records);
        if (!records) {
            csv_error(file, 0, 0, "out of memory splitting the file into records");
            return false;
        }
        file->records = records;
        file->records[file->record_count++] = record;
    }
    return true;
}

/* Every record must have as many fields as the first. */
static bool check_rectangular(const csv_file *file) {
    const size_t width = record_width(file, 0);
    for (size_t r = 1; r < file->record_count; r++) {
        const size_t fields = record_width(file, r);
        if (fields < width)
            csv_error(file, file->records[r].line, fields + 1,
                      "missing field: the row has %zu fields, line %zu has %zu", fields,
                      file->records[0].line, width);
        else if (fields > width)
            csv_error(file, file->records[r].line, width + 1,
                      "extra field: the row has %zu fields, line %zu has %zu", fields,
                      file->records[0].line, width);
        if (fields != width) return false;
    }
    return true;
}

/* The label's column index, NO_LABEL_COLUMN, or LABEL_COLUMN_ERROR with an error. */
static long find_label_column(const csv_file *file, const cg_csv_options *options) {
    const size_t width = record_width(file, 0);
    if (options->label_column) {
        if (!file->header_count) {
            csv_error(file, 0, 0, "label_column \"%s\" needs a header (has_header is false)",
                      options->label_column);
            return LABEL_COLUMN_ERROR;
        }
        for (size_t c = 0; c < width; c++)
            if (strcmp(cell(file, 0, c), options->label_column) == 0) return (long)c;
        csv_error(file, file->records[0].line, 0, "no column named \"%s\" in the header",
                  options->label_column);
        return LABEL_COLUMN_ERROR;
    }
    if (options->label_index == CG_CSV_NO_LABEL) return NO_LABEL_COLUMN;
    if (options->label_index == CG_CSV_LAST_COLUMN) return (long)width - 1;
    if (options->label_index < 0 || (size_t)options->label_index >= width) {
        csv_error(file, 0, 0, "label_index %d is out of range for %zu columns",
                  options->label_index, width);
        return LABEL_COLUMN_ERROR;
    }
    return options->label_index;
}

/* Parses a number with optional surrounding blanks into *value, a finite float32. Returns NULL,
 * or what is wrong with the text. */
static const char *parse_number(const char *text, double *value) {
    while (is_blank(*text))
        text++;
    if (*text == '\0') return "is empty";
    char *end;
    *value = strtod(text, &end);
    while (is_blank(*end))
        end++;
    if (end == text || *end != '\0') return "is not a number";
    return isfinite((float)*value) ? NULL : "is not a finite float32 number";
}

static cg_tensor *read_features(const csv_file *file, long label_column) {
    const size_t width = record_width(file, 0);
    const int64_t rows = (int64_t)(file->record_count - file->header_count);
    const int64_t columns = (int64_t)width - (label_column >= 0);
    cg_tensor *features = cg_empty(CG_SHAPE(rows, columns), CG_FLOAT32);
    if (!features) return NULL;
    float *out = cg_tensor_data(features);
    for (size_t r = file->header_count; r < file->record_count; r++) {
        for (size_t c = 0; c < width; c++) {
            if ((long)c == label_column) continue;
            double value;
            const char *problem = parse_number(cell(file, r, c), &value);
            if (problem) {
                csv_error(file, file->records[r].line, c + 1, "the feature \"%.60s\" %s",
                          cell(file, r, c), problem);
                cg_release(features);
                return NULL;
            }
            *out++ = (float)value;
        }
    }
    return features;
}

static char **read_feature_names(const csv_file *file, long label_column) {
    const size_t width = record_width(file, 0);
    char **names = calloc(width, sizeof *names);
    if (!names) {
        csv_error(file, 0, 0, "out of memory for %zu column names", width);
        return NULL;
    }
    size_t count = 0;
    for (size_t c = 0; c < width; c++) {
        if ((long)c == label_column) continue;
        char generated[32];
        snprintf(generated, sizeof generated, "column_%zu", c + 1);
        const char *name = file->header_count ? cell(file, 0, c) : generated;
        names[count] = cg_string_copy(name, strlen(name));
        if (!names[count]) {
            cg_string_array_free(names, (int64_t)count);
            return NULL;
        }
        count++;
    }
    return names;
}

/* Class names in order of first appearance, with an open-addressing hash table from name to
 * index so that many distinct labels still read in linear time. */
typedef struct {
    char **names;
    size_t count, capacity;
    size_t *slots; /* index + 1 into names; 0 marks an empty slot */
    size_t slot_count;
} class_table;

static size_t hash_text(const char *text) {
    size_t hash = 14695981039346656037ull & SIZE_MAX; /* FNV-1a */
    for (; *text; text++)
        hash = (hash ^ (unsigned char)*text) * 1099511628211ull;
    return hash;
}

static size_t *find_slot(const class_table *table, const char *name) {
    size_t i = hash_text(name) & (table->slot_count - 1);
    while (table->slots[i] && strcmp(table->names[table->slots[i] - 1], name) != 0)
        i = (i + 1) & (table->slot_count - 1);
    return &table->slots[i];
}

/* Keeps the table at most half full so probes stay short. */
static bool grow_slots(class_table *table) {
    if (table->slot_count > 2 * (table->count + 1)) return true;
    const size_t slot_count = table->slot_count ? table->slot_count * 2 : 64;
    size_t *old_slots = table->slots;
    const size_t old_count = table->slot_count;
    table->slots = calloc(slot_count, sizeof *table->slots);
    if (!table->slots) {
        table->slots = old_slots;
        return false;
    }
    table->slot_count = slot_count;
    for (size_t i = 0; i < old_count; i++)
        if (old_slots[i]) *find_slot(table, table->names[old_slots[i] - 1]) = old_slots[i];
    free(old_slots);
    return true;
}

/* The index of name, added when new; -1 with an error when out of memory. */
static int64_t class_index(const csv_file *file, class_table *table, const char *name) {
    char **names = reserve_one(table->names, table->count, &table->capacity, sizeof *names);
    if (names) table->names = names;
    if (!names || !grow_slots(table)) {
        csv_error(file, 0, 0, "out of memory collecting class names");
        return -1;
    }
    size_t *slot = find_slot(table, name);
    if (*slot) return (int64_t)(*slot - 1);
    table->names[table->count] = cg_string_copy(name, strlen(name));
    if (!table->names[table->count]) return -1;
    *slot = ++table->count;
    return (int64_t)(*slot - 1);
}

static bool label_is_numeric(const csv_file *file, long label_column) {
    for (size_t r = file->header_count; r < file->record_count; r++) {
        double value;
        if (parse_number(cell(file, r, (size_t)label_column), &value)) return false;
    }
    return true;
}

static cg_tensor *read_numeric_labels(const csv_file *file, long label_column) {
    cg_tensor *labels =
        cg_empty(CG_SHAPE((int64_t)(file->record_count - file->header_count)), CG_FLOAT32);
    if (!labels) return NULL;
    float *out = cg_tensor_data(labels);
    for (size_t r = file->header_count; r < file->record_count; r++) {
        double value = 0.0;
        parse_number(cell(file, r, (size_t)label_column), &value); /* checked by the caller */
        *out++ = (float)value;
    }
    return labels;
}

/* int64 class indices into *labels and the names into the table; false with an error. */
static bool read_class_labels(const csv_file *file, long label_column, class_table *classes,
                              cg_tensor **labels) {
    *labels = cg_empty(CG_SHAPE((int64_t)(file->record_count - file->header_count)), CG_INT64);
    if (!*labels) return false;
    int64_t *out = cg_tensor_data(*labels);
    for (size_t r = file->header_count; r < file->record_count; r++) {
        const char *name = cell(file, r, (size_t)label_column);
        if (name[0] == '\0') {
            csv_error(file, file->records[r].line, (size_t)label_column + 1, "the label is empty");
            return false;
        }
        const int64_t index = class_index(file, classes, name);
        if (index < 0) return false;
        *out++ = index;
    }
    return true;
}

/* Builds the data set from the tokenized file; NULL with an error. */
static cg_dataset *build_dataset(const csv_file *file, long label_column) {
    const size_t width = record_width(file, 0);
    if (label_column >= 0 && width == 1) {
        csv_error(file, 0, 0, "no feature columns: the only column is the label");
        return NULL;
    }
    cg_tensor *features = read_features(file, label_column);
    cg_tensor *labels = NULL;
    class_table classes = {0};
    bool ok = features != NULL;
    if (ok && label_column >= 0 && label_is_numeric(file, label_column))
        ok = (labels = read_numeric_labels(file, label_column)) != NULL;
    else if (ok && label_column >= 0)
        ok = read_class_labels(file, label_column, &classes, &labels);
    char **names = ok ? read_feature_names(file, label_column) : NULL;
    free(classes.slots);
    if (!names) {
        cg_release(features);
        cg_release(labels);
        cg_string_array_free(classes.names, (int64_t)classes.count);
        return NULL;
    }
    return cg_dataset_new(features, labels, names, (int64_t)classes.count, classes.names);
}

bool cg_csv_check_options(const char *path, const cg_csv_options *options) {
    if (!path) {
        cg_error_set("csv: path is NULL");
        return false;
    }
    const char d = options->delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d == '\0') {
        cg_error_set("csv: '%s': the delimiter cannot be a quote, a line end or NUL", path);
        return false;
    }
    return true;
}

cg_dataset *cg_csv_read(const char *path, const cg_csv_options *options) {
    const cg_csv_options chosen = options ? *options : cg_csv_default_options();
    if (!cg_csv_check_options(path, &chosen)) return NULL;
    csv_file file = {.path = path, .delimiter = chosen.delimiter};
    cg_dataset *dataset = NULL;
    if (read_whole_file(&file) && tokenize(&file)) {
        file.header_count = chosen.has_header && file.record_count > 0;
        long label_column = LABEL_COLUMN_ERROR;
        if (file.record_count == 0)
            csv_error(&file, 0, 0, "the file is empty");
        else if (file.record_count == file.header_count)
            csv_error(&file, 0, 0, "the file has a header but no data rows");
        else if (check_rectangular(&file))
            label_column = find_label_column(&file, &chosen);
        if (label_column != LABEL_COLUMN_ERROR) dataset = build_dataset(&file, label_column);
    }
    free(file.buffer);
    free(file.fields);
    free(file.records);
    return dataset;
}
