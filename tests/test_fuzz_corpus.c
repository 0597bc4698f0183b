/* The fuzz corpora in the ordinary suite: every seed and every input kept because it broke a
 * parser (tests/fuzz/corpus/<parser>/regression-*) goes through the same check as in the fuzz
 * targets, so make test and make test-asan replay them on every run; then one test per bug fuzzing
 * found, stating the fixed behaviour. */
#define _POSIX_C_SOURCE 200809L /* opendir */

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "parser_checks.h"
#include "temp_dir.h"
#include "test.h"

/* Runs every file of tests/fuzz/corpus/<parser> through its check; the number of files, or -1. */
static int replay_corpus(const char *parser) {
    char directory_path[4096];
    snprintf(directory_path, sizeof directory_path, "%s", test_source_path("tests/fuzz/corpus/"));
    strncat(directory_path, parser, sizeof directory_path - strlen(directory_path) - 1);
    DIR *directory = opendir(directory_path);
    if (!directory) {
        test_fail(__FILE__, __LINE__, "cannot open the corpus %s", directory_path);
        return -1;
    }
    const parser_check check = parser_check_named(parser);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(directory)) != NULL;) {
        if (entry->d_name[0] == '.') continue;
        char path[8192];
        const int length = snprintf(path, sizeof path, "%s/%s", directory_path, entry->d_name);
        size_t size = 0;
        unsigned char *data =
            length > 0 && (size_t)length < sizeof path ? read_file(path, &size) : NULL;
        const char *violation = data ? check(data, size) : "unreadable";
        if (violation) test_fail(__FILE__, __LINE__, "%s/%s: %s", parser, entry->d_name, violation);
        free(data);
        count++;
    }
    closedir(directory);
    return count;
}

TEST(fuzz_corpora_replay_without_a_broken_promise) {
    const char *const parsers[] = {"csv", "safetensors", "json", "spec", "idx", "model"};
    for (size_t i = 0; i < sizeof parsers / sizeof parsers[0]; i++)
        CHECK(replay_corpus(parsers[i]) > 0);
    cg_clear_error();
}

/* Found by fuzz_safetensors (corpus/safetensors/seed-every-dtype): the dtype table had no code for
 * uint8, so any dtype the reader did not know made it compare against a NULL code, and writing
 * a uint8 tensor crashed the same way. */
TEST(safetensors_reads_and_writes_uint8_and_rejects_unknown_dtypes) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "bytes.safetensors");
    cg_tensor *bytes = cg_from_array((uint8_t[]){0, 7, 255}, CG_SHAPE(3), CG_UINT8);
    const cg_safetensors_entry entries[] = {{"bytes", bytes}};
    const int written = cg_safetensors_write(path, entries, 1, NULL, 0);
    cg_release(bytes);
    CHECK(written == 0);
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    CHECK(contents && contents->tensor_count == 1);
    const cg_tensor *read = cg_safetensors_find(contents, "bytes");
    const bool same = read && cg_tensor_dtype(read) == CG_UINT8 &&
                      cg_get(read, (int64_t[]){2}) == 255 && cg_get(read, (int64_t[]){1}) == 7;
    cg_safetensors_contents_free(contents);
    CHECK(same);
    /* A header naming a dtype outside the table, followed by its two bytes of data. */
    const char header[] = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}";
    unsigned char file[8 + sizeof header + 1] = {sizeof header - 1};
    memcpy(file + 8, header, sizeof header - 1);
    CHECK(write_file(path, file, sizeof file));
    CHECK_ERROR(cg_safetensors_read(path),
                "dtype 'BF16' is not supported (F32, F64, I32, I64 or U8)");
    temp_dir_remove(&dir);
}

/* Found by fuzz_spec (corpus/spec/seed-large-sizes): input sizes whose product overflows int64
 * reached the flatten layer's size arithmetic (undefined behaviour); the spec now rejects them. */
TEST(spec_rejects_input_sizes_too_large_for_a_tensor) {
    CHECK_ERROR(cg_model_from_spec("input 9223372036854775807 2\nflatten\n"),
                "spec line 1: input sizes [9223372036854775807x2] make a sample too large");
    CHECK_ERROR(cg_model_from_spec("input 4294967296 4294967296\ndense 2\n"), "too large");
    cg_model *model = cg_model_from_spec("input 1000 1000 100\nflatten\n");
    CHECK(model);
    CHECK(cg_model_output_shape(model).dims[0] == 100000000);
    cg_model_free(model);
}
