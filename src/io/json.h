/* A small strict JSON reader and a writer, enough for safetensors headers.
 *
 * The reader takes objects, arrays, strings (every escape, \uXXXX and surrogate pairs included),
 * integers that fit in int64, true, false and null, nested at most CG_JSON_MAX_DEPTH deep. It
 * rejects numbers with a fraction or an exponent, invalid UTF-8, duplicate keys in an object and
 * \u0000 (so every string is a C string). Errors read "json: byte N: reason". Memory is bounded by
 * the input: one value per input byte at most, and decoded strings are never longer than their
 * source. */
#ifndef CG_IO_JSON_H
#define CG_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CG_JSON_MAX_DEPTH = 32 };

typedef enum {
    CG_JSON_NULL,
    CG_JSON_FALSE,
    CG_JSON_TRUE,
    CG_JSON_INTEGER,
    CG_JSON_STRING,
    CG_JSON_ARRAY,
    CG_JSON_OBJECT,
} cg_json_type;

/* A parsed value. A document's values sit in one array in text order: an array's items follow
 * it, and an object's keys (as strings) each followed by its value. span counts the value and
 * everything nested in it, so cg_json_next steps over a whole subtree. */
typedef struct {
    cg_json_type type;
    uint32_t span;
    uint32_t count;  /* items of an array, members of an object */
    uint32_t offset; /* byte offset of the value in the text, for error messages */
    union {
        int64_t integer;
        struct {
            const char *text; /* NUL-terminated UTF-8 */
            uint32_t length;
        } string;
    } as;
} cg_json_value;

typedef struct {
    cg_json_value *values; /* values[0] is the root */
    size_t count, capacity;
    char *strings; /* the decoded strings */
    size_t strings_used;
} cg_json_document;

/* Parses length bytes of text (no terminating NUL needed). 0, or -1 with an error naming the byte
 * offset; the document holds nothing after a failure. */
int cg_json_parse(const char *text, size_t length, cg_json_document *document);
void cg_json_free(cg_json_document *document);

/* The first item of an array or first key of an object (check count first). */
static inline const cg_json_value *cg_json_first(const cg_json_value *container) {
    return container + 1;
}
/* The value after value and everything nested in it: the next item, key or value. */
static inline const cg_json_value *cg_json_next(const cg_json_value *value) {
    return value + value->span;
}
/* The value of key in object, or NULL. */
const cg_json_value *cg_json_member(const cg_json_value *object, const char *key);
/* "null", "string", "object", ... for error messages. */
const char *cg_json_type_name(cg_json_type type);

/* Builds JSON text in a growing buffer. After a failure (out of memory, invalid UTF-8) writes do
 * nothing and failed stays set, so a sequence of writes needs one check at the end. */
typedef struct {
    char *text; /* NUL-terminated */
    size_t length, capacity;
    bool failed; /* an error was set */
} cg_json_writer;

void cg_json_write_raw(cg_json_writer *writer, const char *text);
/* text as a quoted JSON string; fails when text is not valid UTF-8. */
void cg_json_write_string(cg_json_writer *writer, const char *text);
void cg_json_write_integer(cg_json_writer *writer, int64_t value);
void cg_json_writer_free(cg_json_writer *writer);

#endif
