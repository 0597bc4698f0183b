/* What a model remembers of its training data, kept in its metadata: the feature and class names
 * (JSON arrays of strings), the label column, and the standardisation statistics (numbers
 * separated by commas, written with 17 digits so they read back exactly). A key recorded with an
 * empty value means "none", so that recording again replaces every part of an earlier record. With
 * it, a saved model turns new data into its inputs (cg_model_prepare_data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/dataset.h"
#include "io/json.h"

#define FEATURES_KEY "data.features"
#define CLASSES_KEY "data.classes"
#define LABEL_KEY "data.label"
#define MEAN_KEY "data.standardize.mean"
#define STD_KEY "data.standardize.std"

/* The "%g" text of a numeric label: the name of its class. */
enum { LABEL_TEXT_SIZE = 32 };
static void label_text(double value, char text[LABEL_TEXT_SIZE]) {
    snprintf(text, LABEL_TEXT_SIZE, "%g", value);
}

/* ----- encoding the record ----- */

/* names as a JSON array of strings ("" for no names); malloc'd, NULL with an error. */
static char *names_to_json(char *const *names, int64_t count) {
    if (!names) return cg_string_copy("", 0);
    cg_json_writer writer = {0};
    cg_json_write_raw(&writer, "[");
    for (int64_t i = 0; i < count; i++) {
        if (i) cg_json_write_raw(&writer, ", ");
        cg_json_write_string(&writer, names[i]);
    }
    cg_json_write_raw(&writer, "]");
    if (writer.failed) {
        cg_json_writer_free(&writer);
        return NULL;
    }
    return writer.text;
}

/* values joined by commas ("" for no values); malloc'd, NULL with an error. */
static char *numbers_to_text(const double *values, int64_t count) {
    enum { NUMBER_SIZE = 32 };
    char *text = malloc((size_t)(values ? count : 0) * NUMBER_SIZE + 1);
    if (!text) {
        cg_error_set("cg_model_record_data: out of memory for %lld statistics", (long long)count);
        return NULL;
    }
    size_t used = 0;
    text[0] = '\0';
    for (int64_t i = 0; values && i < count; i++)
        used += (size_t)snprintf(text + used, NUMBER_SIZE + 1, "%s%.17g", i ? "," : "", values[i]);
    return text;
}

/* Sets key to value and frees value; -1 when value is NULL (its error is set) or setting fails. */
static int set_owned_metadata(cg_model *model, const char *key, char *value) {
    const int status = value ? cg_model_set_metadata(model, key, value) : -1;
    free(value);
    return status;
}

int cg_model_record_data(cg_model *model, const cg_dataset *dataset, const char *label_column,
                         const cg_standardizer *standardizer) {
    if (!model || !dataset) {
        cg_error_set("cg_model_record_data: needs a model and a data set");
        return -1;
    }
    const int64_t features = cg_dataset_feature_count(dataset);
    if (standardizer && cg_standardizer_feature_count(standardizer) != features) {
        cg_error_set("cg_model_record_data: the standardizer has %lld features, the data set %lld",
                     (long long)cg_standardizer_feature_count(standardizer), (long long)features);
        return -1;
    }
    const int64_t statistics = cg_standardizer_feature_count(standardizer);
    const bool recorded =
        set_owned_metadata(model, FEATURES_KEY, names_to_json(dataset->feature_names, features)) ==
            0 &&
        set_owned_metadata(model, CLASSES_KEY,
                           names_to_json(dataset->class_names, dataset->class_count)) == 0 &&
        cg_model_set_metadata(model, LABEL_KEY, label_column ? label_column : "") == 0 &&
        set_owned_metadata(model, MEAN_KEY,
                           numbers_to_text(cg_standardizer_mean(standardizer), statistics)) == 0 &&
        set_owned_metadata(model, STD_KEY,
                           numbers_to_text(cg_standardizer_std(standardizer), statistics)) == 0;
    return recorded ? 0 : -1;
}

/* ----- reading it back ----- */

/* The value of key, or NULL when it is absent or empty. */
static const char *recorded_value(const cg_model *model, const char *key) {
    const char *value = cg_model_metadata(model, key);
    return value && value[0] ? value : NULL;
}

static int names_from_json(const char *key, const char *text, cg_name_list *list) {
    cg_json_document document;
    if (cg_json_parse(text, strlen(text), &document) != 0) {
        char cause[512];
        snprintf(cause, sizeof cause, "%s", cg_last_error());
        cg_error_set("model metadata '%s': %s", key, cause);
        return -1;
    }
    const cg_json_value *root = &document.values[0];
    bool valid = root->type == CG_JSON_ARRAY;
    const cg_json_value *item = cg_json_first(root);
    for (uint32_t i = 0; valid && i < root->count; i++, item = cg_json_next(item))
        valid = item->type == CG_JSON_STRING;
    list->names = valid ? calloc(root->count ? root->count : 1, sizeof *list->names) : NULL;
    item = cg_json_first(root);
    for (uint32_t i = 0; list->names && i < root->count; i++, item = cg_json_next(item)) {
        list->names[i] = cg_string_copy(item->as.string.text, item->as.string.length);
        if (!list->names[i]) break;
        list->count++;
    }
    const bool read = list->names && list->count == (int64_t)root->count;
    cg_json_free(&document);
    if (!valid)
        cg_error_set("model metadata '%s': expected a JSON array of strings", key);
    else if (!list->names)
        cg_error_set("model metadata '%s': out of memory", key);
    if (!read) cg_name_list_free(list);
    return read ? 0 : -1;
}

static int recorded_names(const cg_model *model, const char *key, cg_name_list *list) {
    if (!list) {
        cg_error_set("model metadata '%s': no list to fill", key);
        return -1;
    }
    *list = (cg_name_list){0};
    const char *text = recorded_value(model, key);
    return text ? names_from_json(key, text, list) : 0;
}

int cg_model_feature_names(const cg_model *model, cg_name_list *list) {
    return recorded_names(model, FEATURES_KEY, list);
}

int cg_model_class_names(const cg_model *model, cg_name_list *list) {
    return recorded_names(model, CLASSES_KEY, list);
}

const char *cg_model_label_column(const cg_model *model) {
    return recorded_value(model, LABEL_KEY);
}

/* The comma-separated numbers of key into a malloc'd array; NULL with an error. */
static double *numbers_from_text(const char *key, const char *text, int64_t *count) {
    int64_t capacity = 1;
    for (const char *c = text; *c; c++)
        capacity += *c == ',';
    double *values = malloc(sizeof *values * (size_t)capacity);
    if (!values) {
        cg_error_set("model metadata '%s': out of memory", key);
        return NULL;
    }
    const char *at = text;
    for (*count = 0; *count < capacity; ++*count) {
        char *end;
        values[*count] = strtod(at, &end);
        const bool last = *count + 1 == capacity;
        if (end == at || *end != (last ? '\0' : ',')) {
            cg_error_set("model metadata '%s': value %lld is not a number", key,
                         (long long)(*count + 1));
            free(values);
            return NULL;
        }
        at = end + 1;
    }
    return values;
}

int cg_model_standardizer(const cg_model *model, cg_standardizer **standardizer) {
    if (!standardizer) {
        cg_error_set("cg_model_standardizer: no standardizer pointer to set");
        return -1;
    }
    *standardizer = NULL;
    const char *mean_text = recorded_value(model, MEAN_KEY);
    const char *std_text = recorded_value(model, STD_KEY);
    if (!mean_text && !std_text) return 0;
    int64_t mean_count = 0, std_count = 0;
    double *mean = mean_text ? numbers_from_text(MEAN_KEY, mean_text, &mean_count) : NULL;
    double *std = mean && std_text ? numbers_from_text(STD_KEY, std_text, &std_count) : NULL;
    if (mean && std && mean_count != std_count)
        cg_error_set("model metadata: %lld means but %lld standard deviations",
                     (long long)mean_count, (long long)std_count);
    else if (mean && std)
        *standardizer = cg_standardizer_new(mean_count, mean, std);
    else if (!mean_text || !std_text)
        cg_error_set("model metadata: '%s' is recorded without '%s'",
                     mean_text ? MEAN_KEY : STD_KEY, mean_text ? STD_KEY : MEAN_KEY);
    free(mean);
    free(std);
    return *standardizer ? 0 : -1;
}

/* ----- turning data into a model's inputs ----- */

/* Fills columns[i] with the data set's column of the model's feature i: by name when both sides
 * have names, by position otherwise. -1 with an error naming a missing column. */
static int match_columns(const cg_name_list *wanted, const cg_dataset *dataset, int64_t *columns) {
    const int64_t available = cg_dataset_feature_count(dataset);
    const bool by_name = wanted->count > 0 && dataset->feature_names;
    if (!by_name && wanted->count > 0 && wanted->count != available) {
        cg_error_set("the model takes %lld features, the data has %lld", (long long)wanted->count,
                     (long long)available);
        return -1;
    }
    const int64_t count = wanted->count > 0 ? wanted->count : available;
    for (int64_t i = 0; i < count; i++) {
        columns[i] = by_name ? -1 : i;
        for (int64_t c = 0; by_name && c < available && columns[i] < 0; c++)
            if (strcmp(dataset->feature_names[c], wanted->names[i]) == 0) columns[i] = c;
        if (columns[i] < 0) {
            cg_error_set("the data has no column \"%s\", an input of the model", wanted->names[i]);
            return -1;
        }
    }
    return 0;
}

/* The data set's feature columns listed in columns (count of them), as a new tensor of the same
 * dtype; the features themselves, cloned, when columns lists every one in order. */
static cg_tensor *take_columns(const cg_dataset *dataset, const int64_t *columns, int64_t count) {
    const cg_tensor *features = dataset->features;
    const int64_t available = cg_dataset_feature_count(dataset);
    bool identity = count == available;
    for (int64_t i = 0; identity && i < count; i++)
        identity = columns[i] == i;
    if (identity) return cg_clone(features);
    const int64_t rows = cg_dataset_size(dataset);
    cg_tensor *out = cg_empty(CG_SHAPE(rows, count), features->dtype);
    if (!out) return NULL;
    const size_t element = cg_dtype_size(features->dtype);
    const char *source = cg_tensor_data(features);
    char *destination = cg_tensor_data(out);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < count; i++)
            memcpy(destination + ((size_t)(r * count + i)) * element,
                   source + ((size_t)(r * available + columns[i])) * element, element);
    return out;
}

/* Copies of names[columns[i]] (NULL when names is NULL); false with an error. */
static bool copy_names(char *const *names, const int64_t *columns, int64_t count, char ***copy) {
    *copy = NULL;
    if (!names) return true;
    char **out = calloc((size_t)(count ? count : 1), sizeof *out);
    for (int64_t i = 0; out && i < count; i++) {
        const char *name = names[columns ? columns[i] : i];
        out[i] = cg_string_copy(name, strlen(name));
        if (!out[i]) {
            cg_string_array_free(out, i);
            return false;
        }
    }
    if (!out) cg_error_set("out of memory copying %lld names", (long long)count);
    *copy = out;
    return out != NULL;
}

/* The class index in classes of each label of dataset (class names, or numeric values by their
 * "%g" text), as a new int64 tensor; NULL with an error naming a class the list lacks. */
static cg_tensor *renumber_labels(const cg_dataset *dataset, const cg_name_list *classes) {
    const int64_t rows = cg_dataset_size(dataset);
    cg_tensor *labels = cg_empty(CG_SHAPE(rows), CG_INT64);
    if (!labels) return NULL;
    int64_t *out = cg_tensor_data(labels);
    const bool named = dataset->class_count > 0;
    for (int64_t r = 0; r < rows; r++) {
        char text[LABEL_TEXT_SIZE];
        const char *name = text;
        if (named)
            name = dataset->class_names[((const int64_t *)cg_tensor_data(dataset->labels))[r]];
        else
            label_text(((const float *)cg_tensor_data(dataset->labels))[r], text);
        out[r] = -1;
        for (int64_t c = 0; c < classes->count && out[r] < 0; c++)
            if (strcmp(classes->names[c], name) == 0) out[r] = c;
        if (out[r] < 0) {
            cg_error_set("the data has the class \"%s\" (row %lld), which the model does not know",
                         name, (long long)(r + 1));
            cg_release(labels);
            return NULL;
        }
    }
    return labels;
}

/* A new data set of the chosen columns, with the labels (when wanted) renumbered to classes when
 * the list has some. */
static cg_dataset *select_data(const cg_dataset *dataset, const int64_t *columns, int64_t count,
                               const cg_name_list *classes, bool with_labels) {
    const bool labelled = with_labels && dataset->labels;
    const bool renumber = classes->count > 0 && labelled;
    cg_tensor *features = take_columns(dataset, columns, count);
    cg_tensor *labels = !labelled  ? NULL
                        : renumber ? renumber_labels(dataset, classes)
                                   : cg_clone(dataset->labels);
    char **feature_names = NULL, **class_names = NULL;
    const int64_t class_count = renumber ? classes->count : labelled ? dataset->class_count : 0;
    char *const *class_source = renumber ? classes->names : labelled ? dataset->class_names : NULL;
    const bool made = features && (labels || !labelled) &&
                      copy_names(dataset->feature_names, columns, count, &feature_names) &&
                      copy_names(class_source, NULL, class_count, &class_names);
    if (!made) {
        cg_release(features);
        cg_release(labels);
        cg_string_array_free(feature_names, count);
        return NULL;
    }
    cg_dataset *selected =
        cg_dataset_new(features, labels, feature_names, class_count, class_names);
    if (selected) selected->feature_scale = dataset->feature_scale;
    return selected;
}

static cg_dataset *prepare(const cg_model *model, const cg_dataset *dataset, bool with_labels) {
    if (!model || !dataset) {
        cg_error_set("%s: needs a model and a data set",
                     with_labels ? "cg_model_prepare_data" : "cg_model_prepare_inputs");
        return NULL;
    }
    /* A record without classes is one of numeric labels; class names cannot stand for them. */
    const char *recorded_classes = cg_model_metadata(model, CLASSES_KEY);
    if (with_labels && recorded_classes && !recorded_classes[0] && dataset->class_count > 0) {
        cg_error_set("the data has class names as labels, but the model was trained on numeric "
                     "labels");
        return NULL;
    }
    cg_name_list features = {0}, classes = {0};
    cg_standardizer *standardizer = NULL;
    cg_dataset *prepared = NULL;
    int64_t *columns = NULL;
    if (cg_model_feature_names(model, &features) == 0 &&
        cg_model_class_names(model, &classes) == 0 &&
        cg_model_standardizer(model, &standardizer) == 0) {
        const int64_t count = features.count ? features.count : cg_dataset_feature_count(dataset);
        columns = malloc(sizeof *columns * (size_t)(count ? count : 1));
        if (!columns)
            cg_error_set("cg_model_prepare_data: out of memory");
        else if (match_columns(&features, dataset, columns) == 0)
            prepared = select_data(dataset, columns, count, &classes, with_labels);
    }
    if (prepared && standardizer && cg_standardizer_apply(standardizer, prepared) != 0) {
        cg_dataset_free(prepared);
        prepared = NULL;
    }
    free(columns);
    cg_standardizer_free(standardizer);
    cg_name_list_free(&features);
    cg_name_list_free(&classes);
    return prepared;
}

cg_dataset *cg_model_prepare_data(const cg_model *model, const cg_dataset *dataset) {
    return prepare(model, dataset, true);
}

cg_dataset *cg_model_prepare_inputs(const cg_model *model, const cg_dataset *dataset) {
    return prepare(model, dataset, false);
}

/* ----- numeric labels as classes ----- */

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cg_dataset_labels_to_classes(cg_dataset *dataset) {
    if (!dataset || !dataset->labels) {
        cg_error_set("cg_dataset_labels_to_classes: the data set has no labels");
        return -1;
    }
    if (dataset->class_count > 0) return 0;
    if (dataset->labels->dtype != CG_FLOAT32) {
        cg_error_set("cg_dataset_labels_to_classes: numeric labels must be float32, got %s",
                     cg_dtype_name(dataset->labels->dtype));
        return -1;
    }
    const int64_t rows = cg_dataset_size(dataset);
    const float *values = cg_tensor_data(dataset->labels);
    double *sorted = malloc(sizeof *sorted * (size_t)rows);
    char **names = calloc((size_t)rows, sizeof *names);
    int64_t count = 0;
    bool made = sorted && names;
    for (int64_t r = 0; made && r < rows; r++)
        sorted[r] = values[r];
    if (made) qsort(sorted, (size_t)rows, sizeof *sorted, compare_doubles);
    /* Values with the same text are one class, as cg_model_prepare_data matches them by text. */
    for (int64_t r = 0; made && r < rows; r++) {
        char text[LABEL_TEXT_SIZE];
        label_text(sorted[r], text);
        if (count > 0 && strcmp(names[count - 1], text) == 0) continue;
        names[count] = cg_string_copy(text, strlen(text));
        made = names[count++] != NULL;
    }
    free(sorted);
    const cg_name_list classes = {count, names};
    cg_tensor *labels = made ? renumber_labels(dataset, &classes) : NULL;
    if (!labels) {
        if (!made) cg_error_set("cg_dataset_labels_to_classes: out of memory");
        cg_string_array_free(names, count);
        return -1;
    }
    cg_tensor_unscope(labels);
    cg_tensor_decref(dataset->labels);
    dataset->labels = labels;
    dataset->class_names = names;
    dataset->class_count = count;
    return 0;
}
