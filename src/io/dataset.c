/* Data sets: accessors, the seeded train/test split and feature standardisation. */
#include "io/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

char *cg_string_copy(const char *text, size_t length) {
    char *copy = malloc(length + 1);
    if (!copy) {
        cg_error_set("out of memory copying a name of %zu bytes", length);
        return NULL;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

void cg_string_array_free(char **strings, int64_t count) {
    if (!strings) return;
    for (int64_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

/* A deep copy of count strings into *copy (NULL stays NULL); false with an error. */
static bool string_array_copy(char **strings, int64_t count, char ***copy) {
    *copy = NULL;
    if (!strings) return true;
    char **out = calloc((size_t)count, sizeof *out);
    if (!out) {
        cg_error_set("out of memory copying %lld names", (long long)count);
        return false;
    }
    for (int64_t i = 0; i < count; i++) {
        out[i] = cg_string_copy(strings[i], strlen(strings[i]));
        if (!out[i]) {
            cg_string_array_free(out, i);
            return false;
        }
    }
    *copy = out;
    return true;
}

/* Elements per sample of a tensor whose first dim indexes samples: F for features, 1 for labels. */
static int64_t sample_numel(const cg_tensor *t) {
    return cg_shape_numel(t->ndim - 1, t->shape + 1);
}

cg_dataset *cg_dataset_new(cg_tensor *features, cg_tensor *labels, char **feature_names,
                           int64_t class_count, char **class_names) {
    cg_dataset *dataset = malloc(sizeof *dataset);
    if (!dataset) {
        cg_error_set("out of memory allocating a data set");
        cg_release(features);
        cg_release(labels);
        cg_string_array_free(feature_names, sample_numel(features));
        cg_string_array_free(class_names, class_count);
        return NULL;
    }
    cg_tensor_unscope(features);
    if (labels) cg_tensor_unscope(labels);
    *dataset = (cg_dataset){features, 1.0, labels, feature_names, class_names, class_count};
    return dataset;
}

void cg_dataset_free(cg_dataset *dataset) {
    if (!dataset) return;
    cg_string_array_free(dataset->feature_names, sample_numel(dataset->features));
    cg_string_array_free(dataset->class_names, dataset->class_count);
    cg_tensor_decref(dataset->features);
    if (dataset->labels) cg_tensor_decref(dataset->labels);
    free(dataset);
}

cg_tensor *cg_dataset_features(const cg_dataset *dataset) {
    return dataset ? dataset->features : NULL;
}

cg_tensor *cg_dataset_labels(const cg_dataset *dataset) { return dataset ? dataset->labels : NULL; }

double cg_dataset_feature_scale(const cg_dataset *dataset) {
    return dataset ? dataset->feature_scale : 0.0;
}

cg_shape cg_dataset_sample_shape(const cg_dataset *dataset) {
    cg_shape shape = {.ndim = 0};
    if (!dataset) return shape;
    shape.ndim = dataset->features->ndim - 1;
    memcpy(shape.dims, dataset->features->shape + 1, sizeof(int64_t) * (size_t)shape.ndim);
    return shape;
}

int64_t cg_dataset_size(const cg_dataset *dataset) {
    return dataset ? dataset->features->shape[0] : 0;
}

int64_t cg_dataset_feature_count(const cg_dataset *dataset) {
    return dataset ? sample_numel(dataset->features) : 0;
}

int64_t cg_dataset_class_count(const cg_dataset *dataset) {
    return dataset ? dataset->class_count : 0;
}

const char *cg_dataset_class_name(const cg_dataset *dataset, int64_t index) {
    if (!dataset || index < 0 || index >= dataset->class_count) {
        cg_error_set("dataset: class %lld is out of range (%lld classes)", (long long)index,
                     (long long)cg_dataset_class_count(dataset));
        return NULL;
    }
    return dataset->class_names[index];
}

const char *cg_dataset_feature_name(const cg_dataset *dataset, int64_t index) {
    const int64_t count = cg_dataset_feature_count(dataset);
    if (!dataset || index < 0 || index >= count) {
        cg_error_set("dataset: feature %lld is out of range (%lld features)", (long long)index,
                     (long long)count);
        return NULL;
    }
    if (!dataset->feature_names) {
        cg_error_set("dataset: the features have no names");
        return NULL;
    }
    return dataset->feature_names[index];
}

/* ----- split ----- */

/* The rows listed in rows[0..count) of t, in that order, as a new tensor. */
static cg_tensor *take_rows(const cg_tensor *t, const int64_t *rows, int64_t count) {
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    cg_tensor *out = cg_tensor_new(t->ndim, shape, t->dtype, t->storage->device);
    if (!out) return NULL;
    const size_t row_bytes = (size_t)sample_numel(t) * cg_dtype_size(t->dtype);
    const char *source = cg_tensor_data(t);
    char *destination = cg_tensor_data(out);
    for (int64_t i = 0; i < count; i++)
        memcpy(destination + (size_t)i * row_bytes, source + (size_t)rows[i] * row_bytes,
               row_bytes);
    return out;
}

static cg_dataset *take_samples(const cg_dataset *dataset, const int64_t *rows, int64_t count) {
    cg_tensor *features = take_rows(dataset->features, rows, count);
    cg_tensor *labels = dataset->labels ? take_rows(dataset->labels, rows, count) : NULL;
    char **feature_names = NULL, **class_names = NULL;
    const bool copied =
        features && (labels || !dataset->labels) &&
        string_array_copy(dataset->feature_names, sample_numel(features), &feature_names) &&
        string_array_copy(dataset->class_names, dataset->class_count, &class_names);
    if (!copied) {
        cg_release(features);
        cg_release(labels);
        cg_string_array_free(feature_names, sample_numel(dataset->features));
        return NULL;
    }
    cg_dataset *part =
        cg_dataset_new(features, labels, feature_names, dataset->class_count, class_names);
    if (part) part->feature_scale = dataset->feature_scale;
    return part;
}

/* A seeded Fisher-Yates permutation of 0..n-1; it uses its own stream so that splitting leaves
 * the thread's generator (and with it weight initialisation) untouched. */
static void shuffle_rows(int64_t *rows, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++)
        rows[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(cg_random_bits(seed, (uint64_t)i) % (uint64_t)(i + 1));
        const int64_t swap = rows[i];
        rows[i] = rows[j];
        rows[j] = swap;
    }
}

/* Marks which of the shuffled rows go to test: the first ones overall, or the first ones of each
 * class (round(fraction * class size) of them) when stratified. Returns the test count or -1. */
static int64_t choose_test_rows(const cg_dataset *dataset, const int64_t *rows, double fraction,
                                bool stratified, bool *in_test) {
    const int64_t n = cg_dataset_size(dataset);
    if (!stratified) {
        const int64_t test_count = llround(fraction * (double)n);
        for (int64_t i = 0; i < n; i++)
            in_test[rows[i]] = i < test_count;
        return test_count;
    }
    const int64_t classes = dataset->class_count;
    const int64_t *labels = cg_tensor_data(dataset->labels);
    int64_t *quota = calloc((size_t)classes, sizeof *quota);
    if (!quota) {
        cg_error_set("split: out of memory");
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes) {
            cg_error_set("split: label %lld of sample %lld is not a class in [0, %lld)",
                         (long long)labels[i], (long long)i, (long long)classes);
            free(quota);
            return -1;
        }
        quota[labels[i]]++;
    }
    for (int64_t c = 0; c < classes; c++)
        quota[c] = llround(fraction * (double)quota[c]);
    int64_t test_count = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t label = labels[rows[i]];
        in_test[rows[i]] = quota[label] > 0;
        if (quota[label] > 0) {
            quota[label]--;
            test_count++;
        }
    }
    free(quota);
    return test_count;
}

static bool check_split_arguments(const cg_dataset *dataset, double test_fraction, bool stratified,
                                  cg_dataset **train, cg_dataset **test) {
    if (!dataset || !train || !test) {
        cg_error_set("split: the data set and both outputs must not be NULL");
        return false;
    }
    if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
        cg_error_set("split: test_fraction must be in (0, 1), got %g", test_fraction);
        return false;
    }
    if (stratified && dataset->class_count == 0) {
        cg_error_set("split: a stratified split needs class labels");
        return false;
    }
    return true;
}

int cg_dataset_split(const cg_dataset *dataset, double test_fraction, bool stratified,
                     uint64_t seed, cg_dataset **train, cg_dataset **test) {
    if (train) *train = NULL;
    if (test) *test = NULL;
    if (!check_split_arguments(dataset, test_fraction, stratified, train, test)) return -1;
    const int64_t n = cg_dataset_size(dataset);
    int64_t *rows = malloc(sizeof *rows * (size_t)n);
    int64_t *parts = malloc(sizeof *parts * (size_t)n); /* test rows, then train rows */
    bool *in_test = malloc(sizeof *in_test * (size_t)n);
    int64_t test_count = -1;
    if (!rows || !parts || !in_test)
        cg_error_set("split: out of memory for %lld samples", (long long)n);
    else {
        shuffle_rows(rows, n, seed);
        test_count = choose_test_rows(dataset, rows, test_fraction, stratified, in_test);
    }
    if (test_count == 0 || test_count == n)
        cg_error_set("split: a test fraction of %g of %lld samples leaves a part empty",
                     test_fraction, (long long)n);
    if (test_count > 0 && test_count < n) {
        int64_t next_test = 0, next_train = test_count;
        for (int64_t i = 0; i < n; i++)
            parts[in_test[rows[i]] ? next_test++ : next_train++] = rows[i];
        *test = take_samples(dataset, parts, test_count);
        *train = *test ? take_samples(dataset, parts + test_count, n - test_count) : NULL;
    }
    free(rows);
    free(parts);
    free(in_test);
    if (*train && *test) return 0;
    cg_dataset_free(*test);
    *test = NULL;
    return -1;
}

/* ----- standardisation ----- */

struct cg_standardizer {
    int64_t feature_count;
    double *mean;
    double *std;
};

/* The standardizer works on float32 features in place; image bytes would need a float copy of
 * the whole set, which is what keeping them uint8 avoids. */
static bool require_float_features(const cg_dataset *dataset) {
    if (dataset->features->dtype == CG_FLOAT32) return true;
    cg_error_set("standardizer: the features are %s (an image data set, scaled by %g when batches "
                 "are made); standardise float32 features, or train on the scaled images as they "
                 "are",
                 cg_dtype_name(dataset->features->dtype), dataset->feature_scale);
    return false;
}

/* The per-feature statistics of a fit: (offset, scale) pairs, filled by one of the fitters. */
typedef void (*feature_statistics)(const float *x, int64_t n, int64_t f, double *offset,
                                   double *scale);

/* Mean and population standard deviation, two passes in double: no cancellation for large N. */
static void z_score_statistics(const float *x, int64_t n, int64_t f, double *mean, double *std) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++)
            mean[j] += x[i * f + j];
    for (int64_t j = 0; j < f; j++)
        mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++)
            std[j] += (x[i * f + j] - mean[j]) * (x[i * f + j] - mean[j]);
    for (int64_t j = 0; j < f; j++)
        std[j] = sqrt(std[j] / (double)n);
}

/* Minimum and range, so that (x - min) / range maps the fitted data onto [0, 1]. */
static void min_max_statistics(const float *x, int64_t n, int64_t f, double *low, double *range) {
    for (int64_t j = 0; j < f; j++) {
        double lowest = x[j], highest = x[j];
        for (int64_t i = 1; i < n; i++) {
            lowest = fmin(lowest, x[i * f + j]);
            highest = fmax(highest, x[i * f + j]);
        }
        low[j] = lowest;
        range[j] = highest - lowest;
    }
}

static cg_standardizer *fit_scaler(const cg_dataset *dataset, feature_statistics statistics) {
    const int64_t n = cg_dataset_size(dataset), f = cg_dataset_feature_count(dataset);
    if (n == 0) {
        cg_error_set("standardizer: cannot fit an empty or NULL data set");
        return NULL;
    }
    if (!require_float_features(dataset)) return NULL;
    cg_standardizer *s = malloc(sizeof *s);
    double *offset = calloc((size_t)f, sizeof *offset), *scale = calloc((size_t)f, sizeof *scale);
    if (!s || !offset || !scale) {
        cg_error_set("standardizer: out of memory for %lld features", (long long)f);
        free(s);
        free(offset);
        free(scale);
        return NULL;
    }
    statistics(cg_tensor_data(dataset->features), n, f, offset, scale);
    /* A constant feature is centred, not divided by zero. */
    for (int64_t j = 0; j < f; j++)
        if (scale[j] == 0.0) scale[j] = 1.0;
    *s = (cg_standardizer){f, offset, scale};
    return s;
}

cg_standardizer *cg_standardizer_fit(const cg_dataset *dataset) {
    return fit_scaler(dataset, z_score_statistics);
}

cg_standardizer *cg_min_max_scaler_fit(const cg_dataset *dataset) {
    return fit_scaler(dataset, min_max_statistics);
}

cg_standardizer *cg_standardizer_new(int64_t feature_count, const double *mean, const double *std) {
    bool valid = feature_count > 0 && mean && std;
    for (int64_t j = 0; valid && j < feature_count; j++)
        valid = isfinite(mean[j]) && isfinite(std[j]) && std[j] > 0.0;
    if (!valid) {
        cg_error_set("standardizer: needs at least one feature, finite means and positive finite "
                     "standard deviations");
        return NULL;
    }
    cg_standardizer *s = malloc(sizeof *s);
    double *mean_copy = malloc(sizeof *mean_copy * (size_t)feature_count);
    double *std_copy = malloc(sizeof *std_copy * (size_t)feature_count);
    if (!s || !mean_copy || !std_copy) {
        cg_error_set("standardizer: out of memory for %lld features", (long long)feature_count);
        free(s);
        free(mean_copy);
        free(std_copy);
        return NULL;
    }
    memcpy(mean_copy, mean, sizeof *mean_copy * (size_t)feature_count);
    memcpy(std_copy, std, sizeof *std_copy * (size_t)feature_count);
    *s = (cg_standardizer){feature_count, mean_copy, std_copy};
    return s;
}

int cg_standardizer_apply(const cg_standardizer *standardizer, cg_dataset *dataset) {
    if (!standardizer || !dataset) {
        cg_error_set("standardizer: apply needs a standardizer and a data set");
        return -1;
    }
    const int64_t n = cg_dataset_size(dataset), f = cg_dataset_feature_count(dataset);
    if (!require_float_features(dataset)) return -1;
    if (f != standardizer->feature_count) {
        cg_error_set("standardizer: fitted on %lld features, the data set has %lld",
                     (long long)standardizer->feature_count, (long long)f);
        return -1;
    }
    float *x = cg_tensor_data(dataset->features);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++)
            x[i * f + j] = (float)((x[i * f + j] - standardizer->mean[j]) / standardizer->std[j]);
    return 0;
}

int64_t cg_standardizer_feature_count(const cg_standardizer *standardizer) {
    return standardizer ? standardizer->feature_count : 0;
}

const double *cg_standardizer_mean(const cg_standardizer *standardizer) {
    return standardizer ? standardizer->mean : NULL;
}

const double *cg_standardizer_std(const cg_standardizer *standardizer) {
    return standardizer ? standardizer->std : NULL;
}

void cg_standardizer_free(cg_standardizer *standardizer) {
    if (!standardizer) return;
    free(standardizer->mean);
    free(standardizer->std);
    free(standardizer);
}
