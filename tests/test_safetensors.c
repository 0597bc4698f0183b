/* safetensors files: round trips of every dtype and odd shapes, the file PyTorch wrote, every
 * malformed file the reader rejects (each error naming the file and the reason), truncation,
 * byte mutations and allocation failures, and the atomic write that keeps the old file when
 * writing the new one fails. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "io/safetensors.h"
#include "temp_dir.h"
#include "tensor_bits.h"
#include "test.h"

/* ----- helpers ----- */

/* A file of an 8-byte little-endian header_length, the header text and data_size zero bytes. */
static bool write_raw(const char *path, uint64_t header_length, const char *header,
                      size_t data_size) {
    const size_t text_length = strlen(header), size = 8 + text_length + data_size;
    unsigned char *bytes = calloc(1, size);
    if (!bytes) return false;
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(header_length >> (8 * i));
    memcpy(bytes + 8, header, text_length);
    const bool written = write_file(path, bytes, size);
    free(bytes);
    return written;
}

/* Reading path must fail with an error naming path and containing reason. */
static bool expect_read_error(const char *path, const char *reason, int line) {
    cg_clear_error();
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    const bool failed = contents == NULL;
    cg_safetensors_contents_free(contents);
    return test_expect_file_error(failed, path, reason, __FILE__, line);
}

/* ----- round trips ----- */

TEST(safetensors_round_trip_keeps_every_dtype_and_odd_shapes) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "tensors.safetensors");
    const int64_t wide[5] = {INT64_MIN, -1, 0, (int64_t)1 << 40, INT64_MAX};
    cg_tensor *base = cg_randn(CG_SHAPE(2, 3, 1), CG_FLOAT64);
    cg_safetensors_entry entries[] = {
        {"matrix", cg_randn(CG_SHAPE(2, 3), CG_FLOAT32)},
        {"scalar", cg_scalar(-1.0 / 3.0, CG_FLOAT64)},
        {"empty", cg_empty(CG_SHAPE(0), CG_INT32)},
        {"wide", cg_from_array(wide, CG_SHAPE(1, 1, 1, 5), CG_INT64)},
        {"no rows", cg_zeros(CG_SHAPE(0, 4), CG_FLOAT32)},
        {"transposed", cg_transpose(base, 0, 1)}, /* not contiguous */
        {"eight dims", cg_randint(-5, 5, CG_SHAPE(1, 2, 1, 2, 1, 2, 1, 1), CG_INT32)},
        {"caf\xc3\xa9 \"quoted\"", cg_full(CG_SHAPE(3), 2.5, CG_FLOAT32)},
    };
    const size_t count = sizeof entries / sizeof *entries;
    const cg_safetensors_metadata metadata[] = {
        {"note", "Zo\xc3\xab said \"hi\"\n\ttab \\ slash"},
        {"empty", ""},
    };
    const int status = cg_safetensors_write(path, entries, count, metadata, 2);
    cg_safetensors_contents *contents = status == 0 ? cg_safetensors_read(path) : NULL;
    bool all_identical = contents && contents->tensor_count == count;
    for (size_t i = 0; all_identical && i < count; i++)
        all_identical =
            tensors_identical(cg_safetensors_find(contents, entries[i].name), entries[i].tensor);
    const bool metadata_kept =
        contents && contents->metadata_count == 2 &&
        strcmp(cg_safetensors_find_metadata(contents, "note"), metadata[0].value) == 0 &&
        strcmp(cg_safetensors_find_metadata(contents, "empty"), "") == 0 &&
        cg_safetensors_find_metadata(contents, "missing") == NULL;
    size_t size;
    unsigned char *file = read_file(path, &size);
    uint64_t header_length = 0;
    for (int i = 7; file && i >= 0; i--)
        header_length = header_length << 8 | file[i];
    free(file);
    const int entry_count = temp_dir_entry_count(&dir);
    cg_safetensors_contents_free(contents);
    for (size_t i = 0; i < count; i++)
        cg_release(entries[i].tensor);
    cg_release(base);
    temp_dir_remove(&dir);
    CHECK(status == 0);
    CHECK(all_identical);
    CHECK(metadata_kept);
    CHECK(header_length > 0 && (8 + header_length) % 8 == 0); /* the data starts aligned */
    CHECK(entry_count == 1);                                  /* no temporary file left */
}

TEST(safetensors_round_trip_of_nothing) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "empty.safetensors");
    const int status = cg_safetensors_write(path, NULL, 0, NULL, 0);
    cg_safetensors_contents *contents = status == 0 ? cg_safetensors_read(path) : NULL;
    const bool empty = contents && contents->tensor_count == 0 && contents->metadata_count == 0;
    cg_safetensors_contents_free(contents);
    temp_dir_remove(&dir);
    CHECK(status == 0 && empty);
}

TEST(safetensors_replacing_a_file_leaves_only_the_new_one) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "replace.safetensors");
    cg_tensor *first = cg_full(CG_SHAPE(2), 1.0, CG_FLOAT32);
    cg_tensor *second = cg_full(CG_SHAPE(3), 2.0, CG_FLOAT64);
    const int status_first =
        cg_safetensors_write(path, &(cg_safetensors_entry){"x", first}, 1, NULL, 0);
    const int status_second =
        cg_safetensors_write(path, &(cg_safetensors_entry){"x", second}, 1, NULL, 0);
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    const bool replaced = contents && tensors_identical(cg_safetensors_find(contents, "x"), second);
    cg_safetensors_contents_free(contents);
    const int entry_count = temp_dir_entry_count(&dir);
    cg_release(first);
    cg_release(second);
    temp_dir_remove(&dir);
    CHECK(status_first == 0 && status_second == 0);
    CHECK(replaced);
    CHECK(entry_count == 1);
}

TEST(safetensors_read_tensors_outlive_the_callers_scope) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "scoped.safetensors");
    cg_tensor *t = cg_full(CG_SHAPE(4), 3.0, CG_FLOAT32);
    const int status = cg_safetensors_write(path, &(cg_safetensors_entry){"t", t}, 1, NULL, 0);
    cg_scope_begin();
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    cg_scope_end();
    const bool intact = contents && tensors_identical(cg_safetensors_find(contents, "t"), t);
    cg_safetensors_contents_free(contents);
    cg_release(t);
    temp_dir_remove(&dir);
    CHECK(status == 0 && intact);
}

/* ----- the file written by PyTorch (tests/fixtures/make_safetensors_fixture.py) ----- */

/* Element i of the fixture's tensor number k, by the script's formula. */
static double fixture_value(cg_dtype dtype, int64_t i, int k) {
    switch (dtype) {
    case CG_FLOAT32:
    case CG_FLOAT64: {
        const double value = (double)(i + 1 + 10 * k) / 3.0 * (i % 2 ? -1.0 : 1.0);
        return dtype == CG_FLOAT32 ? (double)(float)value : value;
    }
    case CG_INT32: return (double)((i - 3) * 100000 - k);
    default: return (double)((i - 2) * ((int64_t)1 << 40) + k);
    }
}

static double element_at(const void *elements, cg_dtype dtype, int64_t i) {
    switch (dtype) {
    case CG_FLOAT32: return ((const float *)elements)[i];
    case CG_FLOAT64: return ((const double *)elements)[i];
    case CG_INT32: return ((const int32_t *)elements)[i];
    default: return (double)((const int64_t *)elements)[i];
    }
}

static const struct {
    const char *name;
    cg_dtype dtype;
    cg_shape shape;
} TORCH_TENSORS[] = {
    {"0.weight", CG_FLOAT32, {2, {4, 3}}},
    {"0.bias", CG_FLOAT32, {1, {4}}},
    {"1.weight", CG_FLOAT32, {1, {4}}},
    {"1.bias", CG_FLOAT32, {1, {4}}},
    {"1.running_mean", CG_FLOAT32, {1, {4}}},
    {"1.running_var", CG_FLOAT32, {1, {4}}},
    {"1.num_batches_tracked", CG_INT64, {0, {0}}},
    {"3.weight", CG_FLOAT32, {2, {2, 4}}},
    {"3.bias", CG_FLOAT32, {1, {2}}},
    {"extra.float64", CG_FLOAT64, {3, {2, 2, 2}}},
    {"extra.int32", CG_INT32, {1, {5}}},
    {"extra.empty", CG_FLOAT32, {2, {0, 3}}},
    {"extra.scalar", CG_FLOAT64, {0, {0}}},
};

/* Checks one fixture tensor's dtype, shape and values; false with a failure reported. */
static bool check_fixture_tensor(const cg_safetensors_contents *contents, int k) {
    const cg_tensor *t = cg_safetensors_find(contents, TORCH_TENSORS[k].name);
    const cg_shape expected = TORCH_TENSORS[k].shape;
    if (!t || cg_tensor_dtype(t) != TORCH_TENSORS[k].dtype || cg_ndim(t) != expected.ndim ||
        memcmp(cg_tensor_shape(t).dims, expected.dims, sizeof(int64_t) * (size_t)expected.ndim)) {
        test_fail(__FILE__, __LINE__, "tensor %s is missing or has the wrong dtype or shape",
                  TORCH_TENSORS[k].name);
        return false;
    }
    int64_t elements[16]; /* room for the largest fixture tensor, aligned for every dtype */
    bool ok = cg_copy_to_array(t, elements, sizeof elements) == 0;
    for (int64_t i = 0; ok && i < cg_numel(t); i++) {
        const double actual = element_at(elements, TORCH_TENSORS[k].dtype, i);
        const double wanted = fixture_value(TORCH_TENSORS[k].dtype, i, k);
        if (actual != wanted) {
            test_fail(__FILE__, __LINE__, "%s element %lld: %.17g, expected %.17g",
                      TORCH_TENSORS[k].name, (long long)i, actual, wanted);
            ok = false;
        }
    }
    return ok;
}

TEST(safetensors_reads_the_file_pytorch_wrote) {
    cg_safetensors_contents *contents =
        cg_safetensors_read(test_source_path("tests/fixtures/torch_tensors.safetensors"));
    CHECK(contents);
    const int count = (int)(sizeof TORCH_TENSORS / sizeof *TORCH_TENSORS);
    bool ok = contents->tensor_count == (size_t)count;
    for (int k = 0; ok && k < count; k++)
        ok = check_fixture_tensor(contents, k);
    const char *source = cg_safetensors_find_metadata(contents, "source");
    ok = ok && source && strcmp(source, "pytorch") == 0 && contents->metadata_count == 1;
    cg_safetensors_contents_free(contents);
    CHECK(ok);
}

/* ----- malformed files ----- */

TEST(safetensors_rejects_files_too_short_or_with_absurd_header_lengths) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *empty = temp_dir_file(&dir, "empty.safetensors");
    const char *seven = temp_dir_file(&dir, "seven.safetensors");
    const char *huge = temp_dir_file(&dir, "huge-length.safetensors");
    const char *longer = temp_dir_file(&dir, "longer-than-file.safetensors");
    const bool written = write_file(empty, "", 0) && write_file(seven, "\x02\0\0\0\0\0\0", 7) &&
                         write_raw(huge, (uint64_t)1 << 40, "{}", 0) &&
                         write_raw(longer, 100, "{\"a\":1}", 13);
    const bool ok =
        written && expect_read_error(empty, "the file is 0 bytes, too short", __LINE__) &&
        expect_read_error(seven, "the file is 7 bytes, too short", __LINE__) &&
        expect_read_error(huge, "the header length 1099511627776 is over the limit", __LINE__) &&
        expect_read_error(longer, "the header length 100 is larger than the 20 bytes", __LINE__) &&
        expect_read_error(temp_dir_file(&dir, "missing.safetensors"), "cannot open", __LINE__) &&
        expect_read_error(dir.path, "not a regular file", __LINE__);
    temp_dir_remove(&dir);
    CHECK(written && ok);
}

TEST(safetensors_rejects_every_malformed_header_naming_file_and_field) {
#define TENSOR(dtype, shape, offsets)                                                              \
    "{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}"
    static const struct {
        const char *header;
        size_t data_size;
        const char *error;
    } cases[] = {
        {"{abc", 0, "the header is not valid JSON: json: byte 1: expected a string key"},
        {"{\"a\":1,\"a\":2}", 0, "not valid JSON: json: byte 0: duplicate key \"a\""},
        {"[1,2]", 0, "the header must be a JSON object, not array"},
        {"{\"a\":1}", 0, "tensor 'a': expected an object, found integer"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'dtype'"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
         "tensor 'a': missing field 'shape'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
         "tensor 'a': missing field 'data_offsets'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":0}}", 4,
         "tensor 'a': unknown field 'extra'"},
        {"{\"a\":" TENSOR("5", "[1]", "[0,4]") "}", 4,
         "tensor 'a': dtype must be a string, not integer"},
        {"{\"a\":" TENSOR("\"F16\"", "[1]", "[0,2]") "}", 2,
         "tensor 'a': dtype 'F16' is not supported"},
        {"{\"a\":" TENSOR("\"f32\"", "[1]", "[0,4]") "}", 4,
         "tensor 'a': dtype 'f32' is not supported"},
        {"{\"a\":" TENSOR("\"F32\"", "3", "[0,12]") "}", 12,
         "tensor 'a': shape must be an array, not integer"},
        {"{\"a\":" TENSOR("\"F32\"", "[-1]", "[0,4]") "}", 4,
         "tensor 'a': shape[0] must be a non-negative integer"},
        {"{\"a\":" TENSOR("\"F32\"", "[1,\"2\"]", "[0,8]") "}", 8,
         "tensor 'a': shape[1] must be a non-negative integer"},
        {"{\"a\":" TENSOR("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4,
         "tensor 'a': shape has 9 entries, at most 8 allowed"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "{}") "}", 4,
         "tensor 'a': data_offsets must be an array, not object"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0]") "}", 4,
         "tensor 'a': data_offsets must hold two integers"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0,4,8]") "}", 8,
         "tensor 'a': data_offsets has 3 entries, at most 2 allowed"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0,-4]") "}", 4,
         "tensor 'a': data_offsets[1] must be a non-negative integer"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[8,4]") "}", 8,
         "tensor 'a': data_offsets [8, 4] end before they begin"},
        {"{\"a\":" TENSOR("\"F32\"", "[4]", "[0,16]") "}", 8,
         "tensor 'a': data_offsets [0, 16] go past the end of the 8-byte data"},
        {"{\"a\":" TENSOR("\"F32\"", "[3]", "[0,8]") "}", 8,
         "tensor 'a': data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12"},
        {"{\"a\":" TENSOR("\"F32\"", "[4294967296,4294967296]", "[0,4]") "}", 4,
         "tensor 'a': shape [4294967296x4294967296] overflows"},
        {"{\"a\":" TENSOR("\"I64\"", "[4611686018427387904,2]", "[0,8]") "}", 8,
         "tensor 'a': shape [4611686018427387904x2] overflows"},
        {"{\"a\":" TENSOR("\"F32\"", "[2]", "[0,8]") ",\"b\":" TENSOR("\"F32\"", "[2]",
                                                                      "[4,12]") "}",
         12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"},
        {"{\"b\":" TENSOR("\"F32\"", "[2]", "[4,12]") ",\"a\":" TENSOR("\"F32\"", "[2]",
                                                                       "[0,8]") "}",
         12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0,4]") ",\"b\":" TENSOR("\"F32\"", "[1]",
                                                                      "[8,12]") "}",
         12, "tensor 'b': data_offsets [8, 12] leave 4 unused bytes before it"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[4,8]") "}", 8,
         "tensor 'a': data_offsets [4, 8] leave 4 unused bytes before it"},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0,4]") ",\"a\":" TENSOR("\"F32\"", "[1]",
                                                                      "[4,8]") "}",
         8, "duplicate key \"a\""},
        {"{\"a\":" TENSOR("\"F32\"", "[1]", "[0,4]") "}", 8,
         "4 bytes of trailing data after the last tensor"},
        {"{}", 3, "3 bytes of trailing data after the last tensor"},
        {"{\"__metadata__\":3}", 0, "__metadata__ must be an object, not integer"},
        {"{\"__metadata__\":{\"k\":[\"v\"]}}", 0,
         "__metadata__ 'k': the value must be a string, not array"},
    };
#undef TENSOR
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof cases / sizeof *cases; i++) {
        char name[64];
        snprintf(name, sizeof name, "case-%02zu.safetensors", i);
        const char *path = temp_dir_file(&dir, name);
        ok = write_raw(path, strlen(cases[i].header), cases[i].header, cases[i].data_size) &&
             expect_read_error(path, cases[i].error, __LINE__);
        if (!ok) test_fail(__FILE__, __LINE__, "case %zu: %s", i, cases[i].header);
    }
    temp_dir_remove(&dir);
    CHECK(ok);
}

/* A small valid file with two tensors and metadata, at path; its bytes in *bytes (malloc'd). */
static bool write_sample(const char *path, unsigned char **bytes, size_t *size) {
    cg_tensor *a = cg_randn(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *b = cg_randint(-9, 9, CG_SHAPE(4), CG_INT64);
    const cg_safetensors_entry entries[] = {{"a", a}, {"b", b}};
    const cg_safetensors_metadata metadata[] = {{"key", "value"}};
    const int status = cg_safetensors_write(path, entries, 2, metadata, 1);
    cg_release(a);
    cg_release(b);
    *bytes = status == 0 ? read_file(path, size) : NULL;
    return *bytes != NULL;
}

TEST(safetensors_every_truncation_is_a_clean_error) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    unsigned char *bytes;
    size_t size;
    const bool written = write_sample(temp_dir_file(&dir, "whole.safetensors"), &bytes, &size);
    const char *path = temp_dir_file(&dir, "truncated.safetensors");
    bool ok = written;
    for (size_t length = 0; ok && length < size; length++)
        ok = write_file(path, bytes, length) &&
             expect_read_error(path, length < 8 ? "too short" : "", __LINE__);
    free(bytes);
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(safetensors_survives_every_single_byte_mutation_of_the_header) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    unsigned char *bytes;
    size_t size;
    const bool written = write_sample(temp_dir_file(&dir, "whole.safetensors"), &bytes, &size);
    const char *path = temp_dir_file(&dir, "mutated.safetensors");
    static const unsigned char replacements[] = {'"', ']', '9', 0x00, 0xff};
    const size_t header_end = written ? 8 + (size_t)bytes[0] + ((size_t)bytes[1] << 8) : 0;
    int accepted = 0, rejected = 0;
    bool ok = written;
    for (size_t at = 0; ok && at < header_end; at++) {
        for (size_t r = 0; ok && r < sizeof replacements; r++) {
            const unsigned char original = bytes[at];
            bytes[at] = replacements[r];
            ok = write_file(path, bytes, size);
            bytes[at] = original;
            cg_clear_error();
            cg_safetensors_contents *contents = ok ? cg_safetensors_read(path) : NULL;
            if (contents)
                accepted++;
            else if (strstr(cg_last_error(), path))
                rejected++;
            else
                ok = false;
            cg_safetensors_contents_free(contents);
        }
    }
    free(bytes);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(rejected > 0 && accepted > 0); /* e.g. a digit of the data changed */
}

TEST(safetensors_read_reports_every_allocation_failure) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "sample.safetensors");
    unsigned char *bytes;
    size_t size;
    const bool written = write_sample(path, &bytes, &size);
    free(bytes);
    cg_safetensors_contents *contents = NULL;
    bool errors_named = true;
    int failures = 0;
    for (long n = 1; written && !contents && n < 100; n++) {
        cg_memory_release_cached();
        cg_alloc_fail_after(n);
        cg_clear_error();
        contents = cg_safetensors_read(path);
        cg_alloc_fail_after(0);
        if (!contents) {
            failures++;
            errors_named = errors_named && strstr(cg_last_error(), path) &&
                           strstr(cg_last_error(), "out of memory");
        }
    }
    const bool read = contents && contents->tensor_count == 2;
    cg_safetensors_contents_free(contents);
    temp_dir_remove(&dir);
    CHECK(written && read);
    CHECK(failures > 0 && errors_named);
}

/* ----- writing: invalid input and atomicity ----- */

TEST(safetensors_write_rejects_invalid_input_and_creates_nothing) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "rejected.safetensors");
    cg_tensor *t = cg_ones(CG_SHAPE(2), CG_FLOAT32);
    const cg_safetensors_metadata twice[] = {{"k", "1"}, {"k", "2"}};
    const cg_safetensors_metadata bad_value[] = {{"k", "\xc3("}};
    const cg_safetensors_entry duplicates[] = {{"w", t}, {"v", t}, {"w", t}};
    const cg_safetensors_entry bad_name[] = {{"fine", t}, {"bad\xff", t}};
    cg_clear_error();
    CHECK_ERROR(cg_safetensors_write(path, duplicates, 3, NULL, 0), "two tensors are named 'w'");
    CHECK_ERROR(cg_safetensors_write(path, &(cg_safetensors_entry){"__metadata__", t}, 1, NULL, 0),
                "'__metadata__' is reserved");
    CHECK_ERROR(cg_safetensors_write(path, &(cg_safetensors_entry){"w", NULL}, 1, NULL, 0),
                "tensor 0 ('w') has no tensor");
    CHECK_ERROR(cg_safetensors_write(path, NULL, 0, twice, 2),
                "two metadata entries have the key 'k'");
    CHECK_ERROR(cg_safetensors_write(path, bad_name, 2, NULL, 0),
                "tensor name 1: json: invalid UTF-8");
    CHECK_ERROR(cg_safetensors_write(path, NULL, 0, bad_value, 1),
                "metadata value 0: json: invalid UTF-8");
    CHECK(strstr(cg_last_error(), path));
    CHECK_ERROR(cg_safetensors_write(NULL, NULL, 0, NULL, 0), "no path given");
    const int entry_count = temp_dir_entry_count(&dir);
    cg_release(t);
    temp_dir_remove(&dir);
    CHECK(entry_count == 0);
}

/* Writes one tensor to path, the "old" file of the atomicity tests; its bytes in *bytes. */
static bool write_old_file(const char *path, unsigned char **bytes, size_t *size) {
    cg_tensor *old = cg_full(CG_SHAPE(4), 7.0, CG_FLOAT32);
    const int status = cg_safetensors_write(path, &(cg_safetensors_entry){"old", old}, 1, NULL, 0);
    cg_release(old);
    *bytes = status == 0 ? read_file(path, size) : NULL;
    return *bytes != NULL;
}

/* path still holds exactly the old bytes, and dir holds nothing else. */
static bool old_file_intact(const temp_dir *dir, const char *path, const unsigned char *old,
                            size_t old_size) {
    size_t size;
    unsigned char *now = read_file(path, &size);
    const bool same = now && size == old_size && memcmp(now, old, size) == 0;
    free(now);
    return same && temp_dir_entry_count(dir) == 1 && !temp_dir_has_entry_containing(dir, ".tmp.");
}

TEST(safetensors_failed_write_keeps_the_old_file_out_of_memory) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "model.safetensors");
    unsigned char *old;
    size_t old_size;
    const bool written = write_old_file(path, &old, &old_size);
    cg_tensor *base = cg_randn(CG_SHAPE(3, 4), CG_FLOAT32);
    cg_tensor *transposed = cg_transpose(base, 0, 1); /* written through a copy */
    /* The copy is made after the temporary file is opened, so the failure is mid-write. */
    cg_memory_release_cached();
    cg_alloc_fail_after(1);
    cg_clear_error();
    const int status =
        cg_safetensors_write(path, &(cg_safetensors_entry){"new", transposed}, 1, NULL, 0);
    cg_alloc_fail_after(0);
    const bool reported = strstr(cg_last_error(), path) && strstr(cg_last_error(), "out of memory");
    const bool intact = written && old_file_intact(&dir, path, old, old_size);
    free(old);
    cg_release(transposed);
    cg_release(base);
    temp_dir_remove(&dir);
    CHECK(written);
    CHECK(status == -1 && reported);
    CHECK(intact);
}

TEST(safetensors_failed_write_keeps_the_old_file_disk_full) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "model.safetensors");
    unsigned char *old;
    size_t old_size;
    const bool written = write_old_file(path, &old, &old_size);
    struct rlimit previous;
    if (getrlimit(RLIMIT_FSIZE, &previous) != 0 || previous.rlim_cur < 8192) {
        free(old);
        temp_dir_remove(&dir);
        SKIP("cannot lower the file size limit here");
    }
    /* A file size limit makes writes past 4 KiB fail as on a full disk (EFBIG, not a signal). */
    cg_tensor *big = cg_zeros(CG_SHAPE(4096), CG_FLOAT32);
    struct rlimit limited = previous;
    limited.rlim_cur = 4096;
    void (*previous_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    const bool limited_ok = setrlimit(RLIMIT_FSIZE, &limited) == 0;
    cg_clear_error();
    const int status = cg_safetensors_write(path, &(cg_safetensors_entry){"big", big}, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &previous);
    signal(SIGXFSZ, previous_handler);
    const bool reported = strstr(cg_last_error(), path) && strstr(cg_last_error(), strerror(EFBIG));
    const bool intact = written && old_file_intact(&dir, path, old, old_size);
    free(old);
    cg_release(big);
    temp_dir_remove(&dir);
    CHECK(written && limited_ok);
    CHECK(status == -1 && reported);
    CHECK(intact);
}

TEST(safetensors_failed_rename_removes_the_temporary_file) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    /* A directory where the file should go: everything is written, then the rename fails. */
    const char *path = temp_dir_file(&dir, "occupied.safetensors");
    const bool made = mkdir(path, 0700) == 0;
    cg_tensor *t = cg_ones(CG_SHAPE(2), CG_FLOAT32);
    cg_clear_error();
    const int status = cg_safetensors_write(path, &(cg_safetensors_entry){"t", t}, 1, NULL, 0);
    const bool reported = strstr(cg_last_error(), path) &&
                          strstr(cg_last_error(), "cannot rename the temporary file over it");
    const bool clean =
        temp_dir_entry_count(&dir) == 1 && !temp_dir_has_entry_containing(&dir, ".tmp.");
    cg_release(t);
    temp_dir_remove(&dir);
    CHECK(made);
    CHECK(status == -1 && reported);
    CHECK(clean);
}

TEST(safetensors_write_into_a_missing_directory_fails_cleanly) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "missing/model.safetensors");
    cg_tensor *t = cg_ones(CG_SHAPE(2), CG_FLOAT32);
    cg_clear_error();
    const int status = cg_safetensors_write(path, &(cg_safetensors_entry){"t", t}, 1, NULL, 0);
    const bool reported = strstr(cg_last_error(), path) &&
                          strstr(cg_last_error(), "cannot create the temporary file");
    const int entry_count = temp_dir_entry_count(&dir);
    cg_release(t);
    temp_dir_remove(&dir);
    CHECK(status == -1 && reported);
    CHECK(entry_count == 0);
}
