/* The JSON reader is a recursive descent over the text, bounded by CG_JSON_MAX_DEPTH, that appends
 * every value to one array (see json.h). Strings are decoded into one buffer as long as the text:
 * every escape is at least as long as what it decodes to, and each string's two quotes pay for
 * its terminating NUL. */
#include "io/json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct {
    const unsigned char *text;
    size_t length, at;
    cg_json_document *document;
} json_parser;

static int parse_value(json_parser *parser, int depth);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
json_error(size_t offset, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("json: byte %zu: %s", offset, message);
}

/* The length of the well-formed UTF-8 sequence at bytes, or 0 (overlong forms, surrogates and
 * code points above U+10FFFF are not well formed). It stops at the first byte that is not a
 * continuation byte, so a NUL-terminated string is never read past its end. */
static size_t utf8_sequence_length(const unsigned char *bytes, size_t available) {
    const unsigned char lead = bytes[0];
    size_t length;
    uint32_t code, smallest;
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, code = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, code = lead & 0x0F, smallest = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, code = lead & 0x07, smallest = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < length; i++) {
        if (i >= available || (bytes[i] & 0xC0) != 0x80) return 0;
        code = code << 6 | (bytes[i] & 0x3F);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return length;
}

static size_t utf8_encode(uint32_t code, char *out) {
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | code >> 6);
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | code >> 12);
        out[1] = (char)(0x80 | (code >> 6 & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | code >> 18);
    out[1] = (char)(0x80 | (code >> 12 & 0x3F));
    out[2] = (char)(0x80 | (code >> 6 & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

static void skip_whitespace(json_parser *parser) {
    while (parser->at < parser->length) {
        const unsigned char c = parser->text[parser->at];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        parser->at++;
    }
}

static bool next_is(const json_parser *parser, unsigned char c) {
    return parser->at < parser->length && parser->text[parser->at] == c;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Appends a value of type at the current position; its index, or -1 with an error. */
static int64_t push_value(json_parser *parser, cg_json_type type) {
    cg_json_document *document = parser->document;
    if (document->count == document->capacity) {
        /* Every value takes at least one byte of text, so the text's length bounds the count. */
        size_t capacity = document->capacity ? document->capacity * 2 : 16;
        if (capacity > parser->length) capacity = parser->length;
        cg_json_value *values = realloc(document->values, capacity * sizeof *values);
        if (!values) {
            json_error(parser->at, "out of memory for %zu values", capacity);
            return -1;
        }
        document->values = values;
        document->capacity = capacity;
    }
    document->values[document->count] =
        (cg_json_value){.type = type, .span = 1, .offset = (uint32_t)parser->at};
    return (int64_t)document->count++;
}

/* Four hex digits at position into *code; false with an error. */
static bool read_hex4(const json_parser *parser, size_t position, uint32_t *code) {
    *code = 0;
    for (size_t i = position; i < position + 4; i++) {
        const unsigned char c = i < parser->length ? parser->text[i] : 0;
        uint32_t digit;
        if (is_digit(c))
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else {
            json_error(position - 2, "invalid \\u escape (expected four hex digits)");
            return false;
        }
        *code = *code << 4 | digit;
    }
    return true;
}

/* Decodes the escape at the current position (on the backslash) into *out, advancing both. */
static int parse_escape(json_parser *parser, char **out) {
    const size_t start = parser->at;
    if (start + 1 == parser->length) {
        json_error(start, "unterminated escape");
        return -1;
    }
    static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    const unsigned char kind = parser->text[start + 1];
    const char *simple = kind ? strchr(escapes, kind) : NULL;
    if (simple) {
        *(*out)++ = decoded[simple - escapes];
        parser->at += 2;
        return 0;
    }
    if (kind != 'u') {
        json_error(start, "invalid escape '\\%c'", kind);
        return -1;
    }
    uint32_t code;
    if (!read_hex4(parser, start + 2, &code)) return -1;
    parser->at += 6;
    if (code >= 0xD800 && code <= 0xDBFF) {
        uint32_t low;
        const bool has_low = next_is(parser, '\\') && parser->at + 1 < parser->length &&
                             parser->text[parser->at + 1] == 'u';
        if (!has_low || !read_hex4(parser, parser->at + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
            json_error(start, "unpaired surrogate \\u%04" PRIX32, code);
            return -1;
        }
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        parser->at += 6;
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
        json_error(start, "unpaired surrogate \\u%04" PRIX32, code);
        return -1;
    } else if (code == 0) {
        json_error(start, "\\u0000 is not supported (strings are C strings)");
        return -1;
    }
    *out += utf8_encode(code, *out);
    return 0;
}

static int parse_string(json_parser *parser, int64_t index) {
    cg_json_document *document = parser->document;
    const size_t start = parser->at++;
    char *const first = document->strings + document->strings_used;
    char *out = first;
    for (;;) {
        if (parser->at == parser->length) {
            json_error(start, "unterminated string");
            return -1;
        }
        const unsigned char c = parser->text[parser->at];
        if (c == '"') break;
        if (c == '\\') {
            if (parse_escape(parser, &out) < 0) return -1;
            continue;
        }
        if (c < 0x20) {
            json_error(parser->at, "control character 0x%02x in a string (it must be escaped)", c);
            return -1;
        }
        const size_t length =
            utf8_sequence_length(parser->text + parser->at, parser->length - parser->at);
        if (!length) {
            json_error(parser->at, "invalid UTF-8 in a string");
            return -1;
        }
        memcpy(out, parser->text + parser->at, length);
        out += length;
        parser->at += length;
    }
    parser->at++;
    *out = '\0';
    document->values[index].as.string.text = first;
    document->values[index].as.string.length = (uint32_t)(out - first);
    document->strings_used += (size_t)(out - first) + 1;
    return 0;
}

static int parse_integer(json_parser *parser, int64_t index) {
    const size_t start = parser->at;
    const bool negative = next_is(parser, '-');
    if (negative) parser->at++;
    if (parser->at == parser->length || !is_digit(parser->text[parser->at])) {
        json_error(start, "expected a digit");
        return -1;
    }
    if (parser->text[parser->at] == '0' && parser->at + 1 < parser->length &&
        is_digit(parser->text[parser->at + 1])) {
        json_error(start, "leading zeros are not allowed");
        return -1;
    }
    /* Accumulated as a negative number, which reaches INT64_MIN. */
    int64_t value = 0;
    bool overflow = false;
    while (parser->at < parser->length && is_digit(parser->text[parser->at])) {
        const int digit = parser->text[parser->at++] - '0';
        overflow = overflow || __builtin_mul_overflow(value, 10, &value) ||
                   __builtin_sub_overflow(value, digit, &value);
    }
    if (!negative && !overflow) overflow = __builtin_sub_overflow(0, value, &value);
    if (overflow) {
        json_error(start, "integer out of the int64 range");
        return -1;
    }
    if (next_is(parser, '.') || next_is(parser, 'e') || next_is(parser, 'E')) {
        json_error(start, "only integers are supported (no fraction or exponent)");
        return -1;
    }
    parser->document->values[index].as.integer = value;
    return 0;
}

static int parse_literal(json_parser *parser, const char *word) {
    const size_t length = strlen(word);
    if (parser->length - parser->at < length ||
        memcmp(parser->text + parser->at, word, length) != 0) {
        json_error(parser->at, "invalid literal (expected '%s')", word);
        return -1;
    }
    parser->at += length;
    return 0;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_unique_keys(const cg_json_value *object) {
    if (object->count < 2) return 0;
    const char **keys = malloc(object->count * sizeof *keys);
    if (!keys) {
        json_error(object->offset, "out of memory checking the keys of an object");
        return -1;
    }
    const cg_json_value *key = cg_json_first(object);
    for (uint32_t i = 0; i < object->count; i++, key = cg_json_next(cg_json_next(key)))
        keys[i] = key->as.string.text;
    qsort(keys, object->count, sizeof *keys, compare_strings);
    int status = 0;
    for (uint32_t i = 1; i < object->count && status == 0; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            json_error(object->offset, "duplicate key \"%s\" in the object", keys[i]);
            status = -1;
        }
    }
    free(keys);
    return status;
}

static int parse_array(json_parser *parser, int64_t index, int depth) {
    const size_t start = parser->at++;
    uint32_t count = 0;
    skip_whitespace(parser);
    if (next_is(parser, ']')) {
        parser->at++;
        return 0;
    }
    for (;;) {
        if (parse_value(parser, depth + 1) < 0) return -1;
        count++;
        skip_whitespace(parser);
        if (next_is(parser, ']')) break;
        if (!next_is(parser, ',')) {
            json_error(parser->at, "expected ',' or ']' in the array that starts at byte %zu",
                       start);
            return -1;
        }
        parser->at++;
    }
    parser->at++;
    parser->document->values[index].count = count;
    return 0;
}

static int parse_object(json_parser *parser, int64_t index, int depth) {
    const size_t start = parser->at++;
    uint32_t count = 0;
    skip_whitespace(parser);
    if (next_is(parser, '}')) {
        parser->at++;
        return 0;
    }
    for (;;) {
        skip_whitespace(parser);
        if (!next_is(parser, '"')) {
            json_error(parser->at, "expected a string key in the object that starts at byte %zu",
                       start);
            return -1;
        }
        if (parse_value(parser, depth + 1) < 0) return -1;
        skip_whitespace(parser);
        if (!next_is(parser, ':')) {
            json_error(parser->at, "expected ':' after a key");
            return -1;
        }
        parser->at++;
        if (parse_value(parser, depth + 1) < 0) return -1;
        count++;
        skip_whitespace(parser);
        if (next_is(parser, '}')) break;
        if (!next_is(parser, ',')) {
            json_error(parser->at, "expected ',' or '}' in the object that starts at byte %zu",
                       start);
            return -1;
        }
        parser->at++;
    }
    parser->at++;
    cg_json_value *object = &parser->document->values[index];
    object->count = count;
    return check_unique_keys(object);
}

static int parse_value(json_parser *parser, int depth) {
    skip_whitespace(parser);
    if (parser->at == parser->length) {
        json_error(parser->at, "unexpected end of text (expected a value)");
        return -1;
    }
    const unsigned char c = parser->text[parser->at];
    cg_json_type type;
    const char *literal = NULL;
    switch (c) {
    case '"': type = CG_JSON_STRING; break;
    case '[': type = CG_JSON_ARRAY; break;
    case '{': type = CG_JSON_OBJECT; break;
    case 'n': type = CG_JSON_NULL, literal = "null"; break;
    case 'f': type = CG_JSON_FALSE, literal = "false"; break;
    case 't': type = CG_JSON_TRUE, literal = "true"; break;
    default:
        if (c != '-' && !is_digit(c)) {
            if (c > 0x20 && c < 0x7F)
                json_error(parser->at, "unexpected character '%c' (expected a value)", c);
            else
                json_error(parser->at, "unexpected byte 0x%02x (expected a value)", c);
            return -1;
        }
        type = CG_JSON_INTEGER;
    }
    if ((type == CG_JSON_ARRAY || type == CG_JSON_OBJECT) && depth >= CG_JSON_MAX_DEPTH) {
        json_error(parser->at, "nested deeper than %d levels", CG_JSON_MAX_DEPTH);
        return -1;
    }
    const int64_t index = push_value(parser, type);
    if (index < 0) return -1;
    int status;
    switch (type) {
    case CG_JSON_STRING: status = parse_string(parser, index); break;
    case CG_JSON_ARRAY: status = parse_array(parser, index, depth); break;
    case CG_JSON_OBJECT: status = parse_object(parser, index, depth); break;
    case CG_JSON_INTEGER: status = parse_integer(parser, index); break;
    default: status = parse_literal(parser, literal); break;
    }
    if (status == 0)
        parser->document->values[index].span = (uint32_t)(parser->document->count - (size_t)index);
    return status;
}

int cg_json_parse(const char *text, size_t length, cg_json_document *document) {
    *document = (cg_json_document){0};
    if (length >= UINT32_MAX) {
        cg_error_set("json: the text is %zu bytes, more than this reader takes", length);
        return -1;
    }
    document->strings = malloc(length ? length : 1);
    if (!document->strings) {
        cg_error_set("json: out of memory for a text of %zu bytes", length);
        return -1;
    }
    json_parser parser = {(const unsigned char *)text, length, 0, document};
    int status = parse_value(&parser, 0);
    if (status == 0) {
        skip_whitespace(&parser);
        if (parser.at != length) {
            json_error(parser.at, "unexpected text after the value");
            status = -1;
        }
    }
    if (status < 0) cg_json_free(document);
    return status;
}

void cg_json_free(cg_json_document *document) {
    free(document->values);
    free(document->strings);
    *document = (cg_json_document){0};
}

const cg_json_value *cg_json_member(const cg_json_value *object, const char *key) {
    if (object->type != CG_JSON_OBJECT || object->count == 0) return NULL;
    const cg_json_value *member = cg_json_first(object);
    for (uint32_t i = 0; i < object->count; i++, member = cg_json_next(member + 1)) {
        if (strcmp(member->as.string.text, key) == 0) return member + 1;
    }
    return NULL;
}

const char *cg_json_type_name(cg_json_type type) {
    static const char *const names[] = {"null",   "false", "true",  "integer",
                                        "string", "array", "object"};
    return (unsigned)type < sizeof names / sizeof *names ? names[type] : "unknown";
}

/* ----- writer ----- */

static void append(cg_json_writer *writer, const char *bytes, size_t count) {
    if (writer->failed) return;
    if (writer->length + count + 1 > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity * 2 : 256;
        if (capacity < writer->length + count + 1) capacity = writer->length + count + 1;
        char *text = realloc(writer->text, capacity);
        if (!text) {
            cg_error_set("json: out of memory growing a text to %zu bytes", capacity);
            writer->failed = true;
            return;
        }
        writer->text = text;
        writer->capacity = capacity;
    }
    memcpy(writer->text + writer->length, bytes, count);
    writer->length += count;
    writer->text[writer->length] = '\0';
}

void cg_json_write_raw(cg_json_writer *writer, const char *text) {
    append(writer, text, strlen(text));
}

void cg_json_write_string(cg_json_writer *writer, const char *text) {
    append(writer, "\"", 1);
    const unsigned char *c = (const unsigned char *)text;
    while (*c && !writer->failed) {
        static const char short_escapes[] = "\b\f\n\r\t\"\\";
        const char *escape = *c < 0x20 || *c == '"' || *c == '\\'
                                 ? memchr(short_escapes, *c, sizeof short_escapes - 1)
                                 : NULL;
        char buffer[8];
        size_t length = 1;
        if (escape) {
            buffer[0] = '\\';
            buffer[1] = "bfnrt\"\\"[escape - short_escapes];
            append(writer, buffer, 2);
        } else if (*c < 0x20) {
            snprintf(buffer, sizeof buffer, "\\u%04x", *c);
            append(writer, buffer, 6);
        } else {
            length = utf8_sequence_length(c, 4);
            if (!length) {
                cg_error_set("json: invalid UTF-8 at byte %zu of a string",
                             (size_t)(c - (const unsigned char *)text));
                writer->failed = true;
                return;
            }
            append(writer, (const char *)c, length);
        }
        c += length;
    }
    append(writer, "\"", 1);
}

void cg_json_write_integer(cg_json_writer *writer, int64_t value) {
    char buffer[24];
    snprintf(buffer, sizeof buffer, "%" PRId64, value);
    cg_json_write_raw(writer, buffer);
}

void cg_json_writer_free(cg_json_writer *writer) {
    free(writer->text);
    *writer = (cg_json_writer){0};
}
