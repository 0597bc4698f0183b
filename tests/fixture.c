/* Parses the line-based fixture format: `case`, `attr` and `tensor` lines (see
 * tests/fixtures/make_fixtures.py). Every malformed line is reported with its file and line. */
#include "fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum { TOKEN_SIZE = 64, MAX_FIXTURE_ELEMENTS = 1 << 20 };

typedef struct {
    const char *source;
    int line;
    const char *cursor; /* next character of the current line */
    const char *line_end;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool
parse_error(const parser *p, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("%s:%d: %s", p->source, p->line, message);
    return false;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Copies the next space-separated token of the line into token. 1 when one was read, 0 at the end
 * of the line, -1 (with an error) when it is too long. */
static int read_token(parser *p, char token[TOKEN_SIZE]) {
    while (p->cursor < p->line_end && is_blank(*p->cursor))
        p->cursor++;
    const char *start = p->cursor;
    while (p->cursor < p->line_end && !is_blank(*p->cursor))
        p->cursor++;
    const size_t length = (size_t)(p->cursor - start);
    if (length == 0) return 0;
    if (length >= TOKEN_SIZE) {
        parse_error(p, "token '%.20s...' is longer than %d characters", start, TOKEN_SIZE - 1);
        return -1;
    }
    memcpy(token, start, length);
    token[length] = '\0';
    return 1;
}

/* Reads a token that must be there; what names it in the error when it is missing. */
static bool expect_token(parser *p, char token[TOKEN_SIZE], const char *what) {
    const int status = read_token(p, token);
    if (status == 0) return parse_error(p, "missing %s", what);
    return status == 1;
}

static bool expect_line_end(parser *p) {
    char token[TOKEN_SIZE];
    const int status = read_token(p, token);
    if (status == 1) return parse_error(p, "unexpected '%s' at the end of the line", token);
    return status == 0;
}

static bool parse_double(const parser *p, const char *token, double *value) {
    char *end;
    errno = 0;
    *value = strtod(token, &end);
    if (end == token || *end != '\0' || errno == ERANGE)
        return parse_error(p, "'%s' is not a number", token);
    return true;
}

static bool parse_integer(const parser *p, const char *token, int64_t low, int64_t high,
                          int64_t *value) {
    char *end;
    errno = 0;
    const long long parsed = strtoll(token, &end, 10);
    if (end == token || *end != '\0' || errno == ERANGE)
        return parse_error(p, "'%s' is not an integer", token);
    if (parsed < low || parsed > high)
        return parse_error(p, "%lld is outside [%lld, %lld]", parsed, (long long)low,
                           (long long)high);
    *value = parsed;
    return true;
}

static bool copy_name(const parser *p, char *dst, const char *token, const char *what) {
    if (strlen(token) >= FIXTURE_NAME_SIZE)
        return parse_error(p, "%s '%s' is too long", what, token);
    strcpy(dst, token);
    return true;
}

static fixture_case *current_case(const parser *p, fixture_file *file, const char *kind) {
    if (file->case_count == 0) {
        parse_error(p, "'%s' line before any 'case' line", kind);
        return NULL;
    }
    return &file->cases[file->case_count - 1];
}

/* case NAME OP */
static bool parse_case(parser *p, fixture_file *file) {
    char name[TOKEN_SIZE], op[TOKEN_SIZE];
    if (!expect_token(p, name, "case name") || !expect_token(p, op, "op name") ||
        !expect_line_end(p))
        return false;
    for (int i = 0; i < file->case_count; i++)
        if (strcmp(file->cases[i].name, name) == 0)
            return parse_error(p, "case '%s' repeats the one on line %d", name,
                               file->cases[i].line);
    fixture_case *cases = realloc(file->cases, sizeof *cases * (size_t)(file->case_count + 1));
    if (!cases) return parse_error(p, "out of memory");
    file->cases = cases;
    fixture_case *fixture = &cases[file->case_count++];
    memset(fixture, 0, sizeof *fixture);
    fixture->line = p->line;
    return copy_name(p, fixture->name, name, "case name") &&
           copy_name(p, fixture->op, op, "op name");
}

/* attr NAME V1 V2 ... */
static bool parse_attr(parser *p, fixture_file *file) {
    fixture_case *fixture = current_case(p, file, "attr");
    char token[TOKEN_SIZE];
    if (!fixture || !expect_token(p, token, "attribute name")) return false;
    if (fixture_find_attr(fixture, token))
        return parse_error(p, "attribute '%s' appears twice in case '%s'", token, fixture->name);
    if (fixture->attr_count == FIXTURE_MAX_ATTRS)
        return parse_error(p, "more than %d attributes in case '%s'", FIXTURE_MAX_ATTRS,
                           fixture->name);
    fixture_attr *attr = &fixture->attrs[fixture->attr_count];
    memset(attr, 0, sizeof *attr);
    if (!copy_name(p, attr->name, token, "attribute name")) return false;
    int status;
    while ((status = read_token(p, token)) == 1) {
        if (attr->count == CG_MAX_DIMS)
            return parse_error(p, "attribute '%s' has more than %d values", attr->name,
                               CG_MAX_DIMS);
        if (!parse_double(p, token, &attr->values[attr->count++])) return false;
    }
    if (status < 0) return false;
    fixture->attr_count++;
    return true;
}

static bool parse_dtype(const parser *p, const char *token, cg_dtype *dtype) {
    const cg_dtype allowed[] = {CG_FLOAT64, CG_INT64, CG_INT32};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strcmp(token, cg_dtype_name(allowed[i])) == 0) {
            *dtype = allowed[i];
            return true;
        }
    }
    return parse_error(p, "unknown dtype '%s' (float64, int64 or int32)", token);
}

/* The ndim, the sizes and the colon of a tensor line. */
static bool parse_shape(parser *p, cg_shape *shape) {
    char token[TOKEN_SIZE];
    int64_t value = 0;
    if (!expect_token(p, token, "number of dims") ||
        !parse_integer(p, token, 0, CG_MAX_DIMS, &value))
        return false;
    shape->ndim = (int)value;
    int64_t numel = 1;
    for (int d = 0; d < shape->ndim; d++) {
        if (!expect_token(p, token, "size") ||
            !parse_integer(p, token, 0, MAX_FIXTURE_ELEMENTS, &shape->dims[d]))
            return false;
        numel *= shape->dims[d];
        if (numel > MAX_FIXTURE_ELEMENTS)
            return parse_error(p, "more than %d elements", MAX_FIXTURE_ELEMENTS);
    }
    if (!expect_token(p, token, "':' after the sizes")) return false;
    if (strcmp(token, ":") != 0)
        return parse_error(p, "expected ':' after the sizes, not '%s'", token);
    return true;
}

/* Reads exactly numel values of dtype into data. */
static bool parse_values(parser *p, cg_dtype dtype, int64_t numel, void *data) {
    char token[TOKEN_SIZE];
    int64_t count = 0;
    int status;
    while ((status = read_token(p, token)) == 1) {
        if (count == numel)
            return parse_error(p, "more than the %lld values the sizes give", (long long)numel);
        bool ok;
        int64_t integer = 0;
        if (dtype == CG_FLOAT64) {
            ok = parse_double(p, token, &((double *)data)[count]);
        } else if (dtype == CG_INT64) {
            ok = parse_integer(p, token, INT64_MIN, INT64_MAX, &((int64_t *)data)[count]);
        } else {
            ok = parse_integer(p, token, INT32_MIN, INT32_MAX, &integer);
            ((int32_t *)data)[count] = (int32_t)integer;
        }
        if (!ok) return false;
        count++;
    }
    if (status < 0) return false;
    if (count < numel)
        return parse_error(p, "%lld values, the sizes give %lld", (long long)count,
                           (long long)numel);
    return true;
}

/* tensor NAME DTYPE NDIM D1 ... DN : X1 ... XM */
static bool parse_tensor(parser *p, fixture_file *file) {
    fixture_case *fixture = current_case(p, file, "tensor");
    char name[TOKEN_SIZE], token[TOKEN_SIZE];
    if (!fixture || !expect_token(p, name, "tensor name")) return false;
    if (fixture_find_tensor(fixture, name))
        return parse_error(p, "tensor '%s' appears twice in case '%s'", name, fixture->name);
    if (fixture->tensor_count == FIXTURE_MAX_TENSORS)
        return parse_error(p, "more than %d tensors in case '%s'", FIXTURE_MAX_TENSORS,
                           fixture->name);
    fixture_tensor *entry = &fixture->tensors[fixture->tensor_count];
    cg_dtype dtype = CG_FLOAT64;
    cg_shape shape;
    if (!copy_name(p, entry->name, name, "tensor name") || !expect_token(p, token, "dtype") ||
        !parse_dtype(p, token, &dtype) || !parse_shape(p, &shape))
        return false;
    int64_t numel = 1;
    for (int d = 0; d < shape.ndim; d++)
        numel *= shape.dims[d];
    void *data = malloc(cg_dtype_size(dtype) * (size_t)(numel ? numel : 1));
    if (!data) return parse_error(p, "out of memory");
    bool ok = parse_values(p, dtype, numel, data);
    if (ok) {
        entry->tensor = cg_from_array(data, shape, dtype);
        ok = entry->tensor ? true : parse_error(p, "tensor '%s': %s", name, cg_last_error());
    }
    free(data);
    if (ok) fixture->tensor_count++;
    return ok;
}

static bool parse_line(parser *p, fixture_file *file) {
    while (p->cursor < p->line_end && is_blank(*p->cursor))
        p->cursor++;
    if (p->cursor == p->line_end || *p->cursor == '#') return true; /* blank or comment */
    char kind[TOKEN_SIZE];
    if (read_token(p, kind) < 0) return false;
    if (strcmp(kind, "case") == 0) return parse_case(p, file);
    if (strcmp(kind, "attr") == 0) return parse_attr(p, file);
    if (strcmp(kind, "tensor") == 0) return parse_tensor(p, file);
    return parse_error(p, "unknown line kind '%s' (case, attr or tensor)", kind);
}

fixture_file *fixture_parse(const char *text, const char *source) {
    fixture_file *file = calloc(1, sizeof *file);
    if (!file) {
        cg_error_set("%s: out of memory", source);
        return NULL;
    }
    snprintf(file->path, sizeof file->path, "%s", source);
    parser p = {.source = source};
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        p.line++;
        p.cursor = line;
        p.line_end = end;
        if (!parse_line(&p, file)) {
            fixture_free(file);
            return NULL;
        }
        line = *end ? end + 1 : end;
    }
    return file;
}

fixture_file *fixture_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cg_error_set("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t length = 0, capacity = 0;
    for (;;) {
        if (length + 1 >= capacity) {
            capacity = capacity ? 2 * capacity : 1 << 16;
            char *grown = realloc(text, capacity);
            if (!grown) break;
            text = grown;
        }
        const size_t read = fread(text + length, 1, capacity - length - 1, f);
        length += read;
        if (read == 0) break;
    }
    const bool read_all = text && !ferror(f) && feof(f);
    fclose(f);
    fixture_file *file = NULL;
    if (read_all) {
        text[length] = '\0';
        file = fixture_parse(text, path);
    } else {
        cg_error_set("%s: cannot read the file", path);
    }
    free(text);
    return file;
}

void fixture_free(fixture_file *file) {
    if (!file) return;
    for (int i = 0; i < file->case_count; i++)
        for (int t = 0; t < file->cases[i].tensor_count; t++)
            cg_release(file->cases[i].tensors[t].tensor);
    free(file->cases);
    free(file);
}

cg_tensor *fixture_find_tensor(const fixture_case *fixture, const char *name) {
    for (int i = 0; i < fixture->tensor_count; i++)
        if (strcmp(fixture->tensors[i].name, name) == 0) return fixture->tensors[i].tensor;
    return NULL;
}

const fixture_attr *fixture_find_attr(const fixture_case *fixture, const char *name) {
    for (int i = 0; i < fixture->attr_count; i++)
        if (strcmp(fixture->attrs[i].name, name) == 0) return &fixture->attrs[i];
    return NULL;
}
