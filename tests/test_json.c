/* The JSON reader and writer behind safetensors headers: values and navigation, escapes, integer
 * limits, every rejected input with its byte offset, nesting and memory bounds, and round trips
 * through the writer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "test.h"

static int parse_text(const char *text, cg_json_document *document) {
    return cg_json_parse(text, strlen(text), document);
}

TEST(json_parses_nested_values_in_text_order) {
    cg_json_document document;
    CHECK(parse_text(" {\"a\": [1, -2, {\"b\": null}], \"c\": \"text\", \"d\": true, \"e\": false,"
                     " \"f\": {}, \"g\": []} ",
                     &document) == 0);
    const cg_json_value *root = document.values;
    CHECK(root->type == CG_JSON_OBJECT && root->count == 6 && root->offset == 1);
    CHECK(root->span == document.count);

    const cg_json_value *a = cg_json_member(root, "a");
    CHECK(a && a->type == CG_JSON_ARRAY && a->count == 3);
    const cg_json_value *first = cg_json_first(a), *second = cg_json_next(first);
    const cg_json_value *third = cg_json_next(second);
    CHECK(first->type == CG_JSON_INTEGER && first->as.integer == 1);
    CHECK(second->type == CG_JSON_INTEGER && second->as.integer == -2);
    CHECK(third->type == CG_JSON_OBJECT && third->count == 1);
    CHECK(cg_json_member(third, "b") && cg_json_member(third, "b")->type == CG_JSON_NULL);
    /* Stepping over the array lands on the next key. */
    CHECK(cg_json_next(a)->type == CG_JSON_STRING &&
          strcmp(cg_json_next(a)->as.string.text, "c") == 0);

    const cg_json_value *c = cg_json_member(root, "c");
    CHECK(c && c->type == CG_JSON_STRING && strcmp(c->as.string.text, "text") == 0 &&
          c->as.string.length == 4);
    CHECK(cg_json_member(root, "d")->type == CG_JSON_TRUE);
    CHECK(cg_json_member(root, "e")->type == CG_JSON_FALSE);
    CHECK(cg_json_member(root, "f")->type == CG_JSON_OBJECT &&
          cg_json_member(root, "f")->count == 0);
    CHECK(cg_json_member(root, "g")->type == CG_JSON_ARRAY &&
          cg_json_member(root, "g")->count == 0);
    CHECK(cg_json_member(root, "missing") == NULL);
    CHECK(cg_json_member(a, "a") == NULL); /* not an object */
    CHECK(strcmp(cg_json_type_name(CG_JSON_ARRAY), "array") == 0);
    cg_json_free(&document);
}

TEST(json_decodes_every_escape) {
    cg_json_document document;
    CHECK(parse_text("\"\\\"\\\\\\/\\b\\f\\n\\r\\t|\\u00e9|\\u20AC|\\ud83d\\ude00|\xc3\xa9\"",
                     &document) == 0);
    const char expected[] = "\"\\/\b\f\n\r\t|\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80|\xc3\xa9";
    CHECK(document.values->type == CG_JSON_STRING);
    CHECK(document.values->as.string.length == sizeof expected - 1);
    CHECK(memcmp(document.values->as.string.text, expected, sizeof expected) == 0);
    cg_json_free(&document);
}

TEST(json_integers_cover_the_int64_range) {
    cg_json_document document;
    CHECK(parse_text("[0, -0, 9223372036854775807, -9223372036854775808]", &document) == 0);
    const cg_json_value *item = cg_json_first(document.values);
    CHECK(item->as.integer == 0);
    CHECK(cg_json_next(item)->as.integer == 0);
    item = cg_json_next(cg_json_next(item));
    CHECK(item->as.integer == INT64_MAX);
    CHECK(cg_json_next(item)->as.integer == INT64_MIN);
    cg_json_free(&document);
    CHECK_ERROR(parse_text("9223372036854775808", &document), "byte 0: integer out of the int64");
    CHECK_ERROR(parse_text("[-9223372036854775809]", &document), "byte 1: integer out of");
    CHECK_ERROR(parse_text("[99999999999999999999999]", &document), "integer out of");
}

TEST(json_reads_only_the_given_length) {
    cg_json_document document;
    CHECK(cg_json_parse("12345", 3, &document) == 0);
    CHECK(document.values->as.integer == 123);
    cg_json_free(&document);
    CHECK_ERROR(cg_json_parse("\"abc\"", 4, &document), "byte 0: unterminated string");
}

TEST(json_rejects_malformed_text_naming_the_byte) {
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"", "byte 0: unexpected end of text"},
        {"   ", "byte 3: unexpected end of text"},
        {"{", "byte 1: expected a string key"},
        {"{\"a\" 1}", "byte 5: expected ':'"},
        {"{\"a\":1,}", "byte 7: expected a string key"},
        {"{\"a\":1 \"b\":2}", "byte 7: expected ',' or '}'"},
        {"{1:2}", "byte 1: expected a string key"},
        {"[1,]", "byte 3: unexpected character ']'"},
        {"[1 2]", "byte 3: expected ',' or ']'"},
        {"[", "byte 1: unexpected end of text"},
        {"01", "byte 0: leading zeros"},
        {"-01", "byte 0: leading zeros"},
        {"1.5", "byte 0: only integers"},
        {"[2e3]", "byte 1: only integers"},
        {"-", "byte 0: expected a digit"},
        {"-x", "byte 0: expected a digit"},
        {"+1", "byte 0: unexpected character '+'"},
        {"\"abc", "byte 0: unterminated string"},
        {"\"a\x01\"", "byte 2: control character 0x01"},
        {"\"a\nb\"", "byte 2: control character 0x0a"},
        {"\"\\x\"", "byte 1: invalid escape '\\x'"},
        {"\"\\", "byte 1: unterminated escape"},
        {"\"\\u12\"", "byte 1: invalid \\u escape"},
        {"\"\\u12G4\"", "byte 1: invalid \\u escape"},
        {"\"\\ud800\"", "byte 1: unpaired surrogate \\uD800"},
        {"\"\\ud800\\u0041\"", "byte 1: unpaired surrogate"},
        {"\"\\udc00\"", "byte 1: unpaired surrogate \\uDC00"},
        {"\"\\u0000\"", "byte 1: \\u0000 is not supported"},
        {"\"\xff\"", "byte 1: invalid UTF-8"},
        {"\"\xc3\"", "byte 1: invalid UTF-8"},             /* truncated sequence */
        {"\"\xc0\xaf\"", "byte 1: invalid UTF-8"},         /* overlong '/' */
        {"\"\xed\xa0\x80\"", "byte 1: invalid UTF-8"},     /* an encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", "byte 1: invalid UTF-8"}, /* above U+10FFFF */
        {"tru", "byte 0: invalid literal (expected 'true')"},
        {"nul", "byte 0: invalid literal (expected 'null')"},
        {"falsy", "byte 0: invalid literal (expected 'false')"},
        {"{\"a\":1,\"b\":2,\"a\":3}", "byte 0: duplicate key \"a\""},
        {"[{\"k\":1,\"k\":1}]", "byte 1: duplicate key \"k\""},
        {"1 2", "byte 2: unexpected text after the value"},
        {"{} x", "byte 3: unexpected text after the value"},
        {"@", "byte 0: unexpected character '@'"},
        {"\x80", "byte 0: unexpected byte 0x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cg_json_document document;
        cg_clear_error();
        const int status = parse_text(cases[i].text, &document);
        if (status == 0 || !strstr(cg_last_error(), cases[i].error) ||
            strncmp(cg_last_error(), "json: ", 6) != 0) {
            test_fail(__FILE__, __LINE__, "case %zu (%s): status %d, error \"%s\", expected \"%s\"",
                      i, cases[i].text, status, cg_last_error(), cases[i].error);
            if (status == 0) cg_json_free(&document);
            return;
        }
        CHECK(document.values == NULL && document.count == 0 && document.strings == NULL);
    }
}

/* "[[[...]]]" nested depth deep. */
static char *nested_arrays(int depth) {
    char *text = malloc(2 * (size_t)depth + 1);
    if (!text) return NULL;
    memset(text, '[', (size_t)depth);
    memset(text + depth, ']', (size_t)depth);
    text[2 * depth] = '\0';
    return text;
}

TEST(json_nesting_is_bounded) {
    char *deepest = nested_arrays(CG_JSON_MAX_DEPTH);
    char *too_deep = nested_arrays(CG_JSON_MAX_DEPTH + 1);
    CHECK(deepest && too_deep);
    cg_json_document document;
    const int deepest_status = parse_text(deepest, &document);
    if (deepest_status == 0) {
        CHECK(document.count == CG_JSON_MAX_DEPTH);
        cg_json_free(&document);
    }
    cg_clear_error();
    const int too_deep_status = parse_text(too_deep, &document);
    free(deepest);
    free(too_deep);
    CHECK(deepest_status == 0);
    CHECK(too_deep_status == -1 && strstr(cg_last_error(), "byte 32: nested deeper than 32"));
}

TEST(json_memory_stays_within_the_input_size) {
    /* The densest input there is: one value per two bytes. */
    enum { ITEMS = 5000 };
    char *text = malloc(2 * ITEMS + 2);
    CHECK(text);
    text[0] = '[';
    for (int i = 0; i < ITEMS; i++) {
        text[1 + 2 * i] = '7';
        text[2 + 2 * i] = i + 1 < ITEMS ? ',' : ']';
    }
    text[2 * ITEMS + 1] = '\0';
    const size_t length = strlen(text);
    cg_json_document document;
    const int status = cg_json_parse(text, length, &document);
    free(text);
    CHECK(status == 0);
    CHECK(document.count == ITEMS + 1 && document.values->count == ITEMS);
    CHECK(document.capacity <= length);
    cg_json_free(&document);

    /* Escapes decode to fewer bytes than they take. */
    const char *escaped = "[\"\\u00e9\\u00e9\",\"\\ud83d\\ude00\",\"\\n\",\"\"]";
    CHECK(parse_text(escaped, &document) == 0);
    CHECK(document.strings_used <= strlen(escaped));
    cg_json_free(&document);
}

TEST(json_writer_escapes_strings) {
    cg_json_writer writer = {0};
    cg_json_write_raw(&writer, "[");
    cg_json_write_string(&writer, "a\"b\\c\n\t\x01\x1f \xc3\xa9/");
    cg_json_write_raw(&writer, ",");
    cg_json_write_integer(&writer, INT64_MIN);
    cg_json_write_raw(&writer, "]");
    CHECK(!writer.failed);
    CHECK(strcmp(writer.text,
                 "[\"a\\\"b\\\\c\\n\\t\\u0001\\u001f \xc3\xa9/\",-9223372036854775808]") == 0);
    CHECK(writer.length == strlen(writer.text));
    cg_json_writer_free(&writer);
}

TEST(json_writer_output_parses_back_to_the_same_string) {
    char original[160];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        original[n++] = (char)c; /* every ASCII character, controls included */
    const char *multibyte = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    memcpy(original + n, multibyte, strlen(multibyte) + 1);
    cg_json_writer writer = {0};
    cg_json_write_string(&writer, original);
    CHECK(!writer.failed);
    cg_json_document document;
    const int status = cg_json_parse(writer.text, writer.length, &document);
    cg_json_writer_free(&writer);
    CHECK(status == 0);
    const bool same = strcmp(document.values->as.string.text, original) == 0;
    cg_json_free(&document);
    CHECK(same);
}

TEST(json_writer_rejects_invalid_utf8_and_stays_failed) {
    cg_json_writer writer = {0};
    cg_json_write_string(&writer, "ok");
    CHECK(!writer.failed);
    cg_clear_error();
    cg_json_write_string(&writer, "bad \xff byte");
    const bool failed = writer.failed;
    const size_t length = writer.length;
    cg_json_write_raw(&writer, "more");
    const bool unchanged = writer.length == length;
    cg_json_writer_free(&writer);
    CHECK(failed && unchanged);
    CHECK(strstr(cg_last_error(), "json: invalid UTF-8 at byte 4 of a string"));
}

TEST(json_survives_every_single_byte_mutation) {
    const char *valid = "{\"__metadata__\":{\"k\":\"v\\u00e9\"},\"w\":{\"dtype\":\"F32\","
                        "\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    const size_t length = strlen(valid);
    char *text = malloc(length);
    CHECK(text);
    static const char replacements[] = {'"', '\\', '{', '}', '[',  ']',        ',',       ':',
                                        '0', '-',  'u', ' ', '\0', (char)0xff, (char)0xc3};
    int parsed = 0, rejected = 0;
    for (size_t at = 0; at < length; at++) {
        for (size_t r = 0; r < sizeof replacements; r++) {
            memcpy(text, valid, length);
            text[at] = replacements[r];
            cg_json_document document;
            cg_clear_error();
            if (cg_json_parse(text, length, &document) == 0) {
                parsed++;
                cg_json_free(&document);
            } else if (strncmp(cg_last_error(), "json: byte ", 11) == 0) {
                rejected++;
            }
        }
    }
    free(text);
    CHECK(parsed > 0 && rejected > 0);
    CHECK((size_t)(parsed + rejected) == length * sizeof replacements);
}
