/* The CSV reader, the train/test split and feature standardisation: Iris, quoting, delimiters,
 * label choices, every malformed input the reader reports, and arbitrary bytes. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "temp_dir.h"
#include "test.h"

/* ----- helpers ----- */

/* Writes length bytes to a file called name in a new temporary directory, reads it with the
 * options and removes it again, so that each case names its own file in error messages. */
static cg_dataset *read_bytes(const char *name, const char *bytes, size_t length,
                              const cg_csv_options *options) {
    const char *tmp = getenv("TMPDIR");
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/cgrad-csv-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        test_fail(__FILE__, __LINE__, "cannot create a temporary directory from %s", dir);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "wb");
    const bool written = file && fwrite(bytes, 1, length, file) == length;
    if (file) fclose(file);
    cg_dataset *dataset = written ? cg_csv_read(path, options) : NULL;
    if (!written) test_fail(__FILE__, __LINE__, "cannot write %s", path);
    remove(path);
    rmdir(dir);
    return dataset;
}

static cg_dataset *read_text(const char *name, const char *text, const cg_csv_options *options) {
    return read_bytes(name, text, strlen(text), options);
}

static cg_dataset *read_iris(void) { return cg_csv_read(test_source_path("data/iris.csv"), NULL); }

/* The elements of a tensor as doubles in a malloc'd array (NULL on failure). */
static double *values_of(const cg_tensor *t) {
    const int64_t n = cg_numel(t);
    double *values = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    cg_scope_begin();
    const bool copied = values && cg_copy_to_array(cg_to_dtype(t, CG_FLOAT64), values,
                                                   sizeof(double) * (size_t)n) == 0;
    cg_scope_end();
    if (copied) return values;
    free(values);
    return NULL;
}

static double feature_at(const cg_dataset *d, int64_t row, int64_t column) {
    const int64_t index[2] = {row, column};
    return cg_get(cg_dataset_features(d), index);
}

static double label_at(const cg_dataset *d, int64_t row) {
    const int64_t index[1] = {row};
    return cg_get(cg_dataset_labels(d), index);
}

/* How many samples of d have each class (counts has room for the class count). */
static bool count_classes(const cg_dataset *d, int64_t *counts) {
    double *labels = values_of(cg_dataset_labels(d));
    if (!labels) return false;
    for (int64_t c = 0; c < cg_dataset_class_count(d); c++)
        counts[c] = 0;
    for (int64_t i = 0; i < cg_dataset_size(d); i++)
        counts[(int64_t)labels[i]]++;
    free(labels);
    return true;
}

/* ----- reading ----- */

TEST(csv_reads_iris) {
    cg_dataset *iris = read_iris();
    CHECK(iris != NULL);
    CHECK(cg_dataset_size(iris) == 150);
    CHECK(cg_dataset_feature_count(iris) == 4);
    CHECK(cg_tensor_dtype(cg_dataset_features(iris)) == CG_FLOAT32);
    CHECK(cg_dim(cg_dataset_features(iris), 0) == 150 && cg_dim(cg_dataset_features(iris), 1) == 4);
    CHECK(cg_tensor_dtype(cg_dataset_labels(iris)) == CG_INT64);
    CHECK(cg_dataset_class_count(iris) == 3);
    CHECK(strcmp(cg_dataset_class_name(iris, 0), "setosa") == 0);
    CHECK(strcmp(cg_dataset_class_name(iris, 1), "versicolor") == 0);
    CHECK(strcmp(cg_dataset_class_name(iris, 2), "virginica") == 0);
    CHECK(strcmp(cg_dataset_feature_name(iris, 0), "sepal_length") == 0);
    CHECK(strcmp(cg_dataset_feature_name(iris, 3), "petal_width") == 0);
    int64_t counts[3];
    CHECK(count_classes(iris, counts));
    CHECK(counts[0] == 50 && counts[1] == 50 && counts[2] == 50);
    /* First row 5.1,3.5,1.4,0.2,setosa and last row 5.9,3.0,5.1,1.8,virginica. */
    CHECK_NEAR(feature_at(iris, 0, 0), 5.1, 1e-6);
    CHECK_NEAR(feature_at(iris, 0, 3), 0.2, 1e-6);
    CHECK_NEAR(feature_at(iris, 149, 2), 5.1, 1e-6);
    CHECK_NEAR(feature_at(iris, 149, 3), 1.8, 1e-6);
    CHECK_NEAR(label_at(iris, 0), 0, 0);
    CHECK_NEAR(label_at(iris, 149), 2, 0);
    CHECK_ERROR(cg_dataset_class_name(iris, 3), "out of range");
    CHECK_ERROR(cg_dataset_feature_name(iris, -1), "out of range");
    cg_dataset_free(iris);
}

TEST(csv_dataset_outlives_the_scope_it_was_read_in) {
    cg_scope_begin();
    cg_dataset *iris = read_iris();
    cg_scope_end();
    CHECK(iris != NULL);
    CHECK_NEAR(feature_at(iris, 1, 0), 4.9, 1e-6);
    cg_dataset_free(iris);
}

TEST(csv_quoted_fields_crlf_and_blank_lines) {
    const char *text = "\"name, with comma\",\"say \"\"hi\"\"\",label\r\n"
                       "\"1.5\", 2 ,\"multi\r\nline, class\"\r\n"
                       "\r\n"
                       "  -3e2  ,4,plain\r\n"
                       "5,6,  plain\r\n"
                       "\r\n\r\n";
    cg_dataset *d = read_text("quoted.csv", text, NULL);
    CHECK(d != NULL);
    CHECK(cg_dataset_size(d) == 3);
    CHECK(strcmp(cg_dataset_feature_name(d, 0), "name, with comma") == 0);
    CHECK(strcmp(cg_dataset_feature_name(d, 1), "say \"hi\"") == 0);
    CHECK(cg_dataset_class_count(d) == 2);
    CHECK(strcmp(cg_dataset_class_name(d, 0), "multi\r\nline, class") == 0);
    CHECK(strcmp(cg_dataset_class_name(d, 1), "plain") == 0);
    CHECK_NEAR(feature_at(d, 0, 0), 1.5, 1e-6);
    CHECK_NEAR(feature_at(d, 0, 1), 2.0, 0);
    CHECK_NEAR(feature_at(d, 1, 0), -300.0, 0);
    CHECK_NEAR(label_at(d, 0), 0, 0);
    CHECK_NEAR(label_at(d, 1), 1, 0);
    CHECK_NEAR(label_at(d, 2), 1, 0);
    cg_dataset_free(d);
}

TEST(csv_last_line_without_newline_and_byte_order_mark) {
    cg_dataset *d = read_text("bom.csv", "\xEF\xBB\xBFx,y\n1,a\n2,b", NULL);
    CHECK(d != NULL);
    CHECK(cg_dataset_size(d) == 2);
    CHECK(strcmp(cg_dataset_feature_name(d, 0), "x") == 0);
    CHECK(strcmp(cg_dataset_class_name(d, 1), "b") == 0);
    CHECK_NEAR(feature_at(d, 1, 0), 2.0, 0);
    cg_dataset_free(d);
}

TEST(csv_other_delimiters_and_no_header) {
    cg_csv_options options = cg_csv_default_options();
    options.delimiter = ';';
    options.has_header = false;
    CHECK_ERROR(read_text("semicolons.csv", "1,5;2;a\n3;4;b\n", &options),
                "semicolons.csv' line 1, column 1: the feature \"1,5\" is not a number");
    cg_dataset *d = read_text("semicolons.csv", "1.5;2;a\n3;4;b\n", &options);
    CHECK(d != NULL);
    CHECK(cg_dataset_size(d) == 2 && cg_dataset_feature_count(d) == 2);
    CHECK(strcmp(cg_dataset_feature_name(d, 1), "column_2") == 0);
    CHECK(strcmp(cg_dataset_class_name(d, 0), "a") == 0);
    CHECK_NEAR(feature_at(d, 1, 1), 4.0, 0);
    cg_dataset_free(d);

    options = cg_csv_default_options();
    options.delimiter = '\t';
    options.label_index = CG_CSV_NO_LABEL;
    d = read_text("tabs.tsv", "x\ty\n1\t 2\n3\t4\n", &options);
    CHECK(d != NULL);
    CHECK(cg_dataset_feature_count(d) == 2);
    CHECK(cg_dataset_labels(d) == NULL && cg_dataset_class_count(d) == 0);
    CHECK_NEAR(feature_at(d, 0, 1), 2.0, 0);
    cg_dataset_free(d);
}

TEST(csv_numeric_labels_are_float_values) {
    cg_dataset *d = read_text("regression.csv", "a,b,target\n1,2,0.5\n3,4, -1.25 \n", NULL);
    CHECK(d != NULL);
    CHECK(cg_tensor_dtype(cg_dataset_labels(d)) == CG_FLOAT32);
    CHECK(cg_dataset_class_count(d) == 0);
    CHECK_NEAR(label_at(d, 0), 0.5, 0);
    CHECK_NEAR(label_at(d, 1), -1.25, 0);
    CHECK_ERROR(cg_dataset_class_name(d, 0), "out of range");
    cg_dataset_free(d);
}

TEST(csv_label_by_name_and_by_index) {
    const char *text = "id,species,weight\n1,cat,2.5\n2,dog,30\n3,cat,3.5\n";
    cg_csv_options options = cg_csv_default_options();
    options.label_column = "species";
    options.label_index = 0; /* the name takes precedence */
    cg_dataset *by_name = read_text("animals.csv", text, &options);
    options = cg_csv_default_options();
    options.label_index = 1;
    cg_dataset *by_index = read_text("animals.csv", text, &options);
    CHECK(by_name != NULL && by_index != NULL);
    for (int which = 0; which < 2; which++) {
        const cg_dataset *d = which ? by_index : by_name;
        CHECK(cg_dataset_feature_count(d) == 2);
        CHECK(strcmp(cg_dataset_feature_name(d, 0), "id") == 0);
        CHECK(strcmp(cg_dataset_feature_name(d, 1), "weight") == 0);
        CHECK(cg_dataset_class_count(d) == 2);
        CHECK(strcmp(cg_dataset_class_name(d, 1), "dog") == 0);
        CHECK_NEAR(feature_at(d, 1, 1), 30.0, 0);
        CHECK_NEAR(label_at(d, 2), 0, 0);
    }
    cg_dataset_free(by_name);
    cg_dataset_free(by_index);

    options.label_index = 0; /* then "species" is a feature and cannot be read as a number */
    CHECK_ERROR(read_text("animals.csv", text, &options),
                "animals.csv' line 2, column 2 (\"species\"): the feature \"cat\" is not a number");
}

/* ----- malformed input: each error names the file, the line and the column ----- */

TEST(csv_reports_ragged_rows) {
    CHECK_ERROR(read_text("short.csv", "a,b,c\n1,2,x\n4,5\n", NULL),
                "short.csv' line 3, column 3 (\"c\"): missing field");
    CHECK_ERROR(read_text("long.csv", "a,b\n1,x\n3,y,5\n", NULL),
                "long.csv' line 3, column 3: extra field");
}

TEST(csv_reports_non_numeric_and_empty_cells) {
    CHECK_ERROR(read_text("letters.csv", "a,b,c\n1,2,x\n1,oops,y\n", NULL),
                "letters.csv' line 3, column 2 (\"b\"): the feature \"oops\" is not a number");
    CHECK_ERROR(read_text("partial.csv", "a,b\n12abc,x\n", NULL),
                "partial.csv' line 2, column 1 (\"a\")");
    CHECK_ERROR(read_text("huge.csv", "a,b\n1e39,x\n", NULL),
                "huge.csv' line 2, column 1 (\"a\"): the feature \"1e39\" is not a finite");
    CHECK_ERROR(read_text("hole.csv", "a,b,c\n1,2,x\n1, ,y\n", NULL),
                "hole.csv' line 3, column 2 (\"b\"): the feature \"\" is empty");
    CHECK_ERROR(read_text("nolabel.csv", "a,b\n1,x\n2,\n", NULL),
                "nolabel.csv' line 3, column 2 (\"b\"): the label is empty");
}

TEST(csv_reports_quoting_errors) {
    CHECK_ERROR(read_text("open.csv", "a,b\n1,x\n2,\"never closed\n3,y\n", NULL),
                "open.csv' line 3, column 2: unterminated quote");
    CHECK_ERROR(read_text("after.csv", "a,b\n\"1\"2,x\n", NULL),
                "after.csv' line 2, column 1: unexpected '2' after a closing quote");
    /* A quoted line end inside a field still counts towards the line numbers after it. */
    CHECK_ERROR(read_text("lines.csv", "v,label\n1,\"two\nlines\"\nbad,z\n", NULL),
                "lines.csv' line 4, column 1");
}

TEST(csv_reports_label_choice_errors) {
    cg_csv_options options = cg_csv_default_options();
    options.label_column = "nope";
    CHECK_ERROR(read_text("names.csv", "a,b\n1,x\n", &options),
                "names.csv' line 1: no column named \"nope\"");
    options.has_header = false;
    CHECK_ERROR(read_text("names.csv", "1,x\n", &options), "needs a header");
    options = cg_csv_default_options();
    options.label_index = 2;
    CHECK_ERROR(read_text("index.csv", "a,b\n1,x\n", &options), "index.csv': label_index 2");
    options.label_index = -3;
    CHECK_ERROR(read_text("index.csv", "a,b\n1,x\n", &options), "out of range");
    CHECK_ERROR(read_text("single.csv", "label\nx\n", NULL), "single.csv': no feature columns");
    options = cg_csv_default_options();
    options.delimiter = '"';
    CHECK_ERROR(read_text("quote.csv", "a,b\n1,x\n", &options), "delimiter");
}

TEST(csv_reports_empty_files_and_unreadable_paths) {
    CHECK_ERROR(read_text("empty.csv", "", NULL), "empty.csv': the file is empty");
    CHECK_ERROR(read_text("blank.csv", "\n  \r\n\n", NULL), "blank.csv': the file is empty");
    CHECK_ERROR(read_text("header.csv", "a,b,c\n\n", NULL), "header.csv': the file has a header");
    CHECK_ERROR(read_bytes("binary.csv", "a,b\n1,x\n2\0,y\n", 13, NULL),
                "binary.csv' line 3: contains a NUL byte");
    CHECK_ERROR(cg_csv_read(test_source_path("data/no-such-file.csv"), NULL),
                "no-such-file.csv': cannot open");
    CHECK_ERROR(cg_csv_read(NULL, NULL), "path is NULL");
}

/* Every prefix of a tricky file, then many random byte mutations of it: each read must either
 * succeed or fail with a message, never crash or read out of bounds (run under the sanitizer). */
TEST(csv_survives_truncated_and_mutated_input) {
    const char *valid = "\"a\",b ,\"c\"\"d\"\r\n1,\"2\",\"x,\r\ny\"\n 3 ,4e1,\"\"\n\n";
    const size_t length = strlen(valid);
    char mutated[64];
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (size_t round = 0; round < 400; round++) {
        size_t size = round < length ? round : length;
        memcpy(mutated, valid, size);
        if (round >= length) {
            static const char alphabet[] = ",\"\r\n x1.e\t;";
            for (int edits = 0; edits < 3; edits++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                const size_t at = (size_t)(state >> 33) % size;
                mutated[at] = alphabet[(state >> 20) % (sizeof alphabet - 1)];
            }
        }
        cg_clear_error();
        cg_dataset *d = read_bytes("fuzz.csv", mutated, size, NULL);
        if (d) {
            CHECK(cg_dataset_size(d) > 0);
            cg_dataset_free(d);
        } else {
            CHECK(strstr(cg_last_error(), "fuzz.csv") != NULL);
        }
    }
}

/* ----- split ----- */

enum { IRIS_WIDTH = 5 }; /* four features and the label of a sample */

static int compare_samples(const void *a, const void *b) {
    const double *x = a, *y = b;
    for (int i = 0; i < IRIS_WIDTH; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* The samples of d (features then label) appended to rows; returns the next free row. */
static double *append_samples(const cg_dataset *d, double *rows) {
    double *features = values_of(cg_dataset_features(d));
    double *labels = values_of(cg_dataset_labels(d));
    for (int64_t i = 0; features && labels && i < cg_dataset_size(d); i++) {
        memcpy(rows, features + 4 * i, 4 * sizeof(double));
        rows[4] = labels[i];
        rows += IRIS_WIDTH;
    }
    free(features);
    free(labels);
    return rows;
}

/* train and test together hold exactly the samples of whole, as multisets. */
static bool is_partition(const cg_dataset *whole, const cg_dataset *train, const cg_dataset *test) {
    double all[150 * IRIS_WIDTH] = {0}, parts[150 * IRIS_WIDTH] = {0};
    append_samples(whole, all);
    append_samples(test, append_samples(train, parts));
    qsort(all, 150, sizeof(double) * IRIS_WIDTH, compare_samples);
    qsort(parts, 150, sizeof(double) * IRIS_WIDTH, compare_samples);
    return memcmp(all, parts, sizeof all) == 0;
}

static bool same_values(const cg_tensor *a, const cg_tensor *b) {
    double *x = values_of(a), *y = values_of(b);
    const bool same = x && y && cg_numel(a) == cg_numel(b) &&
                      memcmp(x, y, sizeof(double) * (size_t)cg_numel(a)) == 0;
    free(x);
    free(y);
    return same;
}

TEST(split_partitions_the_samples) {
    cg_dataset *iris = read_iris(), *train, *test;
    CHECK(iris != NULL);
    const cg_rng_state before = cg_rng_get_state();
    CHECK(cg_dataset_split(iris, 0.2, false, 7, &train, &test) == 0);
    const cg_rng_state after = cg_rng_get_state();
    CHECK(before.seed == after.seed && before.offset == after.offset);
    CHECK(cg_dataset_size(train) == 120 && cg_dataset_size(test) == 30);
    CHECK(cg_dataset_feature_count(test) == 4 && cg_dataset_class_count(test) == 3);
    CHECK(strcmp(cg_dataset_class_name(test, 2), "virginica") == 0);
    CHECK(strcmp(cg_dataset_feature_name(train, 1), "sepal_width") == 0);
    CHECK(is_partition(iris, train, test));
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(iris);
}

TEST(split_stratified_keeps_class_proportions) {
    cg_dataset *iris = read_iris(), *train, *test;
    CHECK(iris != NULL);
    CHECK(cg_dataset_split(iris, 0.2, true, 42, &train, &test) == 0);
    int64_t train_counts[3], test_counts[3];
    CHECK(count_classes(train, train_counts) && count_classes(test, test_counts));
    for (int c = 0; c < 3; c++) {
        CHECK(train_counts[c] == 40);
        CHECK(test_counts[c] == 10);
    }
    CHECK(is_partition(iris, train, test));
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(iris);
}

TEST(split_is_reproducible_for_a_seed) {
    cg_dataset *iris = read_iris(), *train_a, *test_a, *train_b, *test_b, *train_c, *test_c;
    CHECK(iris != NULL);
    CHECK(cg_dataset_split(iris, 0.3, true, 5, &train_a, &test_a) == 0);
    CHECK(cg_dataset_split(iris, 0.3, true, 5, &train_b, &test_b) == 0);
    CHECK(cg_dataset_split(iris, 0.3, true, 6, &train_c, &test_c) == 0);
    CHECK(same_values(cg_dataset_features(test_a), cg_dataset_features(test_b)));
    CHECK(same_values(cg_dataset_labels(train_a), cg_dataset_labels(train_b)));
    CHECK(!same_values(cg_dataset_features(test_a), cg_dataset_features(test_c)));
    cg_dataset *parts[] = {train_a, test_a, train_b, test_b, train_c, test_c, iris};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        cg_dataset_free(parts[i]);
}

TEST(split_reports_bad_arguments) {
    cg_dataset *iris = read_iris(), *train = iris, *test = iris;
    CHECK(iris != NULL);
    CHECK_ERROR(cg_dataset_split(iris, 0.0, false, 1, &train, &test), "test_fraction");
    CHECK(train == NULL && test == NULL);
    CHECK_ERROR(cg_dataset_split(iris, 1.0, false, 1, &train, &test), "test_fraction");
    CHECK_ERROR(cg_dataset_split(iris, NAN, false, 1, &train, &test), "test_fraction");
    CHECK_ERROR(cg_dataset_split(iris, 0.001, false, 1, &train, &test), "leaves a part empty");
    CHECK_ERROR(cg_dataset_split(NULL, 0.5, false, 1, &train, &test), "must not be NULL");
    cg_dataset_free(iris);
    cg_dataset *values = read_text("values.csv", "a,y\n1,0.5\n2,1.5\n", NULL);
    CHECK(values != NULL);
    CHECK_ERROR(cg_dataset_split(values, 0.5, true, 1, &train, &test), "needs class labels");
    CHECK(cg_dataset_split(values, 0.5, false, 1, &train, &test) == 0);
    CHECK(cg_dataset_size(train) == 1 && cg_dataset_size(test) == 1);
    CHECK(cg_tensor_dtype(cg_dataset_labels(test)) == CG_FLOAT32);
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(values);
}

/* ----- standardisation ----- */

TEST(standardizer_centres_and_scales_the_training_part) {
    cg_dataset *iris = read_iris(), *train, *test;
    CHECK(iris != NULL);
    CHECK(cg_dataset_split(iris, 0.2, true, 3, &train, &test) == 0);
    cg_standardizer *s = cg_standardizer_fit(train);
    CHECK(s != NULL && cg_standardizer_feature_count(s) == 4);

    /* The learned statistics against the tensor ops' mean and population variance. */
    cg_scope_begin();
    double mean[4], variance[4];
    cg_tensor *features = cg_to_dtype(cg_dataset_features(train), CG_FLOAT64);
    CHECK(cg_copy_to_array(cg_mean(features, CG_DIMS(0), false), mean, sizeof mean) == 0);
    CHECK(cg_copy_to_array(cg_var(features, CG_DIMS(0), false, false), variance, sizeof variance) ==
          0);
    cg_scope_end();
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(cg_standardizer_mean(s)[j], mean[j], 1e-9);
        CHECK_NEAR(cg_standardizer_std(s)[j], sqrt(variance[j]), 1e-9);
    }

    const double raw = feature_at(test, 0, 2);
    CHECK(cg_standardizer_apply(s, train) == 0);
    CHECK(cg_standardizer_apply(s, test) == 0);
    CHECK_NEAR(feature_at(test, 0, 2), (raw - mean[2]) / sqrt(variance[2]), 1e-5);
    cg_scope_begin();
    features = cg_to_dtype(cg_dataset_features(train), CG_FLOAT64);
    CHECK(cg_copy_to_array(cg_mean(features, CG_DIMS(0), false), mean, sizeof mean) == 0);
    CHECK(cg_copy_to_array(cg_var(features, CG_DIMS(0), false, false), variance, sizeof variance) ==
          0);
    cg_scope_end();
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(mean[j], 0.0, 1e-6);
        CHECK_NEAR(variance[j], 1.0, 1e-5);
    }
    cg_standardizer_free(s);
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(iris);
}

TEST(standardizer_leaves_constant_features_centred) {
    cg_dataset *d = read_text("constant.csv", "a,b,l\n1,5,x\n2,5,y\n3,5,x\n", NULL);
    CHECK(d != NULL);
    cg_standardizer *s = cg_standardizer_fit(d);
    CHECK(s != NULL);
    CHECK_NEAR(cg_standardizer_mean(s)[1], 5.0, 0);
    CHECK_NEAR(cg_standardizer_std(s)[1], 1.0, 0);
    CHECK_NEAR(cg_standardizer_std(s)[0], sqrt(2.0 / 3.0), 1e-12);
    CHECK(cg_standardizer_apply(s, d) == 0);
    CHECK_NEAR(feature_at(d, 2, 1), 0.0, 0);
    CHECK_NEAR(feature_at(d, 2, 0), 1.0 / sqrt(2.0 / 3.0), 1e-6);
    cg_dataset *wider = read_text("wider.csv", "a,b,c,l\n1,2,3,x\n", NULL);
    CHECK(wider != NULL);
    CHECK_ERROR(cg_standardizer_apply(s, wider), "fitted on 2 features, the data set has 3");
    CHECK_ERROR(cg_standardizer_fit(NULL), "empty or NULL");
    cg_standardizer_free(s);
    cg_dataset_free(wider);
    cg_dataset_free(d);
}

/* A delimiter byte of 0x80 or more once compared equal to EOF in the header reader, which then
 * added empty names until memory ran out. */
TEST(csv_header_reader_takes_any_byte_as_delimiter) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "high-delimiter.csv");
    CHECK(write_file(path, "a\xff" "b", 3));
    cg_csv_options options = cg_csv_default_options();
    options.delimiter = (char)0xff;
    cg_name_list names;
    const int status = cg_csv_read_header(path, &options, &names);
    const bool two_names = status == 0 && names.count == 2 && strcmp(names.names[0], "a") == 0 &&
                           strcmp(names.names[1], "b") == 0;
    if (status == 0) cg_name_list_free(&names);
    temp_dir_remove(&dir);
    CHECK(two_names);
}

/* Min-max scaling maps the training part onto [0, 1] and travels with a model like a
 * standardizer, since it is the same per-feature (x - offset) / scale. */
TEST(min_max_scaler_maps_training_features_onto_the_unit_interval) {
    cg_dataset *iris = cg_csv_read(test_source_path("data/iris.csv"), NULL);
    CHECK(iris);
    cg_standardizer *scaler = cg_min_max_scaler_fit(iris);
    CHECK(scaler);
    /* Iris's sepal length spans 4.3 to 7.9 (from the file; independent of the scaler). */
    CHECK_NEAR(cg_standardizer_mean(scaler)[0], 4.3, 1e-6);
    CHECK_NEAR(cg_standardizer_std(scaler)[0], 7.9 - 4.3, 1e-6);
    CHECK(cg_standardizer_apply(scaler, iris) == 0);
    cg_scope_begin();
    cg_tensor *features = cg_dataset_features(iris);
    const double low = cg_item(cg_min(features, CG_ALL_DIMS, false));
    const double high = cg_item(cg_max(features, CG_ALL_DIMS, false));
    cg_tensor *column_max = cg_max(features, CG_DIMS(0), false);
    const double smallest_column_max = cg_item(cg_min(column_max, CG_ALL_DIMS, false));
    cg_scope_end();
    cg_standardizer_free(scaler);
    cg_dataset_free(iris);
    CHECK_NEAR(low, 0.0, 1e-6);
    CHECK_NEAR(high, 1.0, 1e-6);
    CHECK_NEAR(smallest_column_max, 1.0, 1e-6);
}
