#define _GNU_SOURCE /* memfd_create */

#include "parser_checks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cgrad.h"
#include "core/tensor.h"
#include "io/json.h"
#include "io/safetensors.h"

/* The bytes as a file that only this process sees (no disk, nothing left behind), under a path
 * the parsers can open; the descriptor to close, or -1. */
static int memory_file(const uint8_t *data, size_t size, char *path, size_t path_size) {
    const int fd = memfd_create("parser-input", MFD_CLOEXEC);
    if (fd < 0) return -1;
    for (size_t written = 0; written < size;) {
        const ssize_t count = write(fd, data + written, size - written);
        if (count <= 0) {
            close(fd);
            return -1;
        }
        written += (size_t)count;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

/* A rejection must say why. */
static const char *rejected(void) {
    return cg_last_error()[0] ? NULL : "the input was rejected without an error message";
}

/* The verdict of a check that started with live_before bytes of tensor memory: a parser that
 * kept some has leaked it. Also empties the allocator's cache, so that a long fuzzing run holds
 * no memory between inputs. */
static const char *verdict(size_t live_before, const char *violation) {
    const size_t live_after = cg_memory_get_stats().live_bytes;
    cg_memory_release_cached();
    if (!violation && live_after != live_before) return "the parser leaked tensor memory";
    return violation;
}

/* ----- data sets (CSV and IDX) ----- */

static const char *check_labels(const cg_dataset *dataset, int64_t samples) {
    const cg_tensor *labels = cg_dataset_labels(dataset);
    const int64_t classes = cg_dataset_class_count(dataset);
    if (!labels) return classes ? "classes without labels" : NULL;
    if (labels->ndim != 1 || labels->shape[0] != samples || !cg_tensor_is_contiguous(labels))
        return "labels of the wrong shape";
    if (classes > 0) {
        if (labels->dtype != CG_INT64) return "class labels that are not int64";
        const int64_t *indices = cg_tensor_data(labels);
        for (int64_t i = 0; i < samples; i++)
            if (indices[i] < 0 || indices[i] >= classes) return "a class index out of range";
        for (int64_t c = 0; c < classes; c++)
            if (!cg_dataset_class_name(dataset, c)) return "a class without a name";
        return NULL;
    }
    if (labels->dtype != CG_FLOAT32) return "numeric labels that are not float32";
    const float *values = cg_tensor_data(labels);
    for (int64_t i = 0; i < samples; i++)
        if (!isfinite(values[i])) return "a numeric label that is not finite";
    return NULL;
}

static const char *check_dataset(const cg_dataset *dataset) {
    const int64_t samples = cg_dataset_size(dataset);
    const int64_t feature_count = cg_dataset_feature_count(dataset);
    const cg_tensor *features = cg_dataset_features(dataset);
    if (samples <= 0 || feature_count <= 0 || !features) return "an empty data set";
    if (features->shape[0] != samples || cg_numel(features) != samples * feature_count ||
        !cg_tensor_is_contiguous(features))
        return "features whose shape disagrees with the sample count";
    if (features->dtype == CG_FLOAT32) {
        const float *values = cg_tensor_data(features);
        for (int64_t i = 0; i < samples * feature_count; i++)
            if (!isfinite(values[i])) return "a feature that is not finite";
    } else if (features->dtype != CG_UINT8) {
        return "features that are neither float32 nor uint8";
    }
    return check_labels(dataset, samples);
}

/* ----- CSV ----- */

static cg_csv_options csv_options_from(uint8_t mode, uint8_t custom_delimiter) {
    static const char delimiters[] = {',', ';', '\t'};
    cg_csv_options options = cg_csv_default_options();
    options.delimiter = (mode & 3) < 3 ? delimiters[mode & 3] : (char)custom_delimiter;
    options.has_header = !(mode & 4);
    switch (mode >> 3 & 3) {
    case 0: break;
    case 1: options.label_index = CG_CSV_NO_LABEL; break;
    case 2: options.label_index = custom_delimiter % 4; break;
    default: options.label_column = "species"; break;
    }
    return options;
}

/* The header of a file cg_csv_read accepted must read too, with one name per column. */
static const char *check_csv_header(const char *path, const cg_csv_options *options,
                                    const cg_dataset *dataset) {
    cg_name_list columns = {0};
    const int status = cg_csv_read_header(path, options, &columns);
    const int64_t expected =
        cg_dataset_feature_count(dataset) + (cg_dataset_labels(dataset) ? 1 : 0);
    const char *violation = NULL;
    if (status != 0)
        violation = "cg_csv_read_header rejects a file that cg_csv_read accepts";
    else if (columns.count != expected)
        violation = "cg_csv_read_header and cg_csv_read count different columns";
    for (int64_t i = 0; !violation && i < columns.count; i++)
        if (!columns.names[i]) violation = "a column without a name";
    for (int64_t i = 0; !violation && i < cg_dataset_feature_count(dataset); i++)
        if (!cg_dataset_feature_name(dataset, i)) violation = "a feature without a name";
    cg_name_list_free(&columns);
    return violation;
}

const char *check_csv_input(const uint8_t *data, size_t size) {
    if (size < 2) return NULL;
    const size_t live_before = cg_memory_get_stats().live_bytes;
    const cg_csv_options options = csv_options_from(data[0], data[1]);
    char path[64];
    const int fd = memory_file(data + 2, size - 2, path, sizeof path);
    if (fd < 0) return "cannot make an in-memory file";
    cg_dataset *dataset = cg_csv_read(path, &options);
    const char *violation = dataset ? check_dataset(dataset) : rejected();
    if (!violation && dataset) violation = check_csv_header(path, &options, dataset);
    if (!dataset) {
        /* A file that cannot be read may still have a readable header; it must not crash. */
        cg_name_list columns = {0};
        if (cg_csv_read_header(path, &options, &columns) != 0) violation = rejected();
        cg_name_list_free(&columns);
    }
    cg_dataset_free(dataset);
    close(fd);
    return verdict(live_before, violation);
}

/* ----- safetensors ----- */

static const char *check_safetensors_contents(const cg_safetensors_contents *contents,
                                              size_t file_size) {
    size_t data_bytes = 0;
    for (size_t i = 0; i < contents->tensor_count; i++) {
        const cg_safetensors_entry *entry = &contents->tensors[i];
        if (!entry->name || !entry->tensor) return "a tensor without a name or data";
        if (cg_safetensors_find(contents, entry->name) != entry->tensor)
            return "two tensors with one name";
        data_bytes += (size_t)cg_numel(entry->tensor) * cg_dtype_size(entry->tensor->dtype);
    }
    if (data_bytes > file_size) return "tensors larger than the file";
    for (size_t i = 0; i < contents->metadata_count; i++) {
        const cg_safetensors_metadata *entry = &contents->metadata[i];
        if (!entry->key || !entry->value) return "a metadata entry without a key or value";
        if (cg_safetensors_find_metadata(contents, entry->key) != entry->value)
            return "two metadata entries with one key";
    }
    return NULL;
}

const char *check_safetensors_input(const uint8_t *data, size_t size) {
    const size_t live_before = cg_memory_get_stats().live_bytes;
    char path[64];
    const int fd = memory_file(data, size, path, sizeof path);
    if (fd < 0) return "cannot make an in-memory file";
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    const char *violation = contents ? check_safetensors_contents(contents, size) : rejected();
    cg_safetensors_contents_free(contents);
    close(fd);
    return verdict(live_before, violation);
}

/* ----- JSON ----- */

/* Checks the value at index and everything nested in it: spans, counts, keys and strings. */
static const char *check_json_value(const cg_json_document *document, size_t index) {
    const cg_json_value *value = &document->values[index];
    if (value->span == 0 || index + value->span > document->count) return "a span out of range";
    if (value->type == CG_JSON_STRING) {
        const char *text = value->as.string.text;
        if (text < document->strings ||
            text + value->as.string.length >= document->strings + document->strings_used)
            return "a string outside the string buffer";
        return strlen(text) == value->as.string.length ? NULL : "a string of the wrong length";
    }
    if (value->type != CG_JSON_ARRAY && value->type != CG_JSON_OBJECT)
        return value->span == 1 ? NULL : "a scalar spanning other values";
    const uint32_t items = value->type == CG_JSON_OBJECT ? 2 * value->count : value->count;
    size_t child = index + 1;
    for (uint32_t i = 0; i < items; i++) {
        if (child >= index + value->span) return "a container with fewer values than its count";
        if (value->type == CG_JSON_OBJECT && i % 2 == 0 &&
            document->values[child].type != CG_JSON_STRING)
            return "an object key that is not a string";
        const char *violation = check_json_value(document, child);
        if (violation) return violation;
        child += document->values[child].span;
    }
    return child == index + value->span ? NULL : "a container whose span is not its values";
}

static const cg_json_value *write_json_value(cg_json_writer *writer, const cg_json_value *value) {
    switch (value->type) {
    case CG_JSON_NULL: cg_json_write_raw(writer, "null"); break;
    case CG_JSON_FALSE: cg_json_write_raw(writer, "false"); break;
    case CG_JSON_TRUE: cg_json_write_raw(writer, "true"); break;
    case CG_JSON_INTEGER: cg_json_write_integer(writer, value->as.integer); break;
    case CG_JSON_STRING: cg_json_write_string(writer, value->as.string.text); break;
    default: {
        const bool object = value->type == CG_JSON_OBJECT;
        cg_json_write_raw(writer, object ? "{" : "[");
        const cg_json_value *item = cg_json_first(value);
        for (uint32_t i = 0; i < value->count; i++) {
            if (i) cg_json_write_raw(writer, ",");
            if (object) {
                item = write_json_value(writer, item);
                cg_json_write_raw(writer, ":");
            }
            item = write_json_value(writer, item);
        }
        cg_json_write_raw(writer, object ? "}" : "]");
    }
    }
    return cg_json_next(value);
}

static bool same_json_values(const cg_json_value *a, const cg_json_value *b) {
    if (a->type != b->type || a->span != b->span || a->count != b->count) return false;
    if (a->type == CG_JSON_INTEGER) return a->as.integer == b->as.integer;
    if (a->type != CG_JSON_STRING) return true;
    return a->as.string.length == b->as.string.length &&
           memcmp(a->as.string.text, b->as.string.text, a->as.string.length) == 0;
}

/* Writes the document back and parses it again: the same values must come back. */
static const char *check_json_round_trip(const cg_json_document *document) {
    cg_json_writer writer = {0};
    write_json_value(&writer, document->values);
    if (writer.failed) {
        cg_json_writer_free(&writer);
        return "an accepted document cannot be written back";
    }
    cg_json_document again;
    const int status = cg_json_parse(writer.text, writer.length, &again);
    cg_json_writer_free(&writer);
    if (status != 0) return "a document written back does not parse";
    const char *violation =
        again.count == document->count ? NULL : "a document written back has other values";
    for (size_t i = 0; !violation && i < document->count; i++)
        if (!same_json_values(&document->values[i], &again.values[i]))
            violation = "a document written back parses to other values";
    cg_json_free(&again);
    return violation;
}

const char *check_json_input(const uint8_t *data, size_t size) {
    cg_json_document document;
    if (cg_json_parse((const char *)data, size, &document) != 0) return rejected();
    const char *violation = document.values[0].span == document.count
                                ? check_json_value(&document, 0)
                                : "the root does not span the document";
    if (!violation) violation = check_json_round_trip(&document);
    cg_json_free(&document);
    return violation;
}

/* ----- model specs ----- */

/* The spec an accepted model writes must read back to a model that writes the same spec. */
static const char *check_spec_round_trip(const cg_model *model) {
    char *written = cg_model_to_spec(model);
    if (!written) return "an accepted model cannot write its spec";
    cg_model *again = cg_model_from_spec(written);
    char *rewritten = again ? cg_model_to_spec(again) : NULL;
    const char *violation = NULL;
    if (!again)
        violation = "the spec of an accepted model does not read back";
    else if (!rewritten || strcmp(written, rewritten) != 0)
        violation = "the spec of an accepted model reads back to another model";
    else if (cg_model_is_built(model) &&
             cg_model_parameter_total(model) != cg_model_parameter_total(again))
        violation = "the spec of an accepted model reads back with other parameters";
    free(rewritten);
    free(written);
    cg_model_free(again);
    return violation;
}

const char *check_spec_input(const uint8_t *data, size_t size) {
    const size_t live_before = cg_memory_get_stats().live_bytes;
    char *text = malloc(size + 1);
    if (!text) return "out of memory copying the input";
    memcpy(text, data, size);
    text[size] = '\0';
    cg_model *model = cg_model_from_spec(text);
    const char *violation = model ? check_spec_round_trip(model) : rejected();
    cg_model_free(model);
    free(text);
    return verdict(live_before, violation);
}

/* ----- IDX ----- */

const char *check_idx_input(const uint8_t *data, size_t size) {
    enum { OPTION_BYTES = 3 };
    if (size < OPTION_BYTES) return NULL;
    const size_t live_before = cg_memory_get_stats().live_bytes;
    const bool with_labels = data[0] & 1;
    const size_t rest = size - OPTION_BYTES;
    const size_t split = ((size_t)data[1] | (size_t)data[2] << 8) % (rest + 1);
    char images_path[64], labels_path[64];
    const int images_fd = memory_file(data + OPTION_BYTES, split, images_path, sizeof images_path);
    const int labels_fd = with_labels ? memory_file(data + OPTION_BYTES + split, rest - split,
                                                    labels_path, sizeof labels_path)
                                      : -1;
    const char *violation = NULL;
    if (images_fd < 0 || (with_labels && labels_fd < 0)) {
        violation = "cannot make an in-memory file";
    } else {
        cg_dataset *dataset = cg_idx_read(images_path, with_labels ? labels_path : NULL);
        violation = dataset ? check_dataset(dataset) : rejected();
        if (!violation && dataset && with_labels != (cg_dataset_labels(dataset) != NULL))
            violation = "labels read without a label file, or lost";
        cg_dataset_free(dataset);
    }
    if (images_fd >= 0) close(images_fd);
    if (labels_fd >= 0) close(labels_fd);
    return verdict(live_before, violation);
}

/* ----- models and training checkpoints ----- */

/* A loaded model is built and writes its spec; when compiled, the file is also tried as a training
 * checkpoint of it, which must be accepted or refused with a reason. */
static const char *check_loaded_model(cg_model *model, const char *path) {
    if (!cg_model_is_built(model)) return "a loaded model is not built";
    char *spec = cg_model_to_spec(model);
    free(spec);
    if (!spec) return "a loaded model cannot write its spec";
    if (!cg_model_optimizer(model)) return NULL;
    cg_checkpoint_position position = {-1, -1};
    cg_clear_error();
    if (cg_checkpoint_load(model, path, &position) != 0) return rejected();
    return position.epoch >= 0 && position.batch >= 0
               ? NULL
               : "a checkpoint loads with a negative position";
}

const char *check_model_input(const uint8_t *data, size_t size) {
    const size_t live_before = cg_memory_get_stats().live_bytes;
    char path[64];
    const int fd = memory_file(data, size, path, sizeof path);
    if (fd < 0) return "cannot make an in-memory file";
    cg_clear_error();
    cg_model *model = cg_model_load(path);
    const char *violation = model ? check_loaded_model(model, path) : rejected();
    cg_model_free(model);
    close(fd);
    return verdict(live_before, violation);
}

parser_check parser_check_named(const char *name) {
    static const struct {
        const char *name;
        parser_check check;
    } checks[] = {{"csv", check_csv_input},   {"safetensors", check_safetensors_input},
                  {"json", check_json_input}, {"spec", check_spec_input},
                  {"idx", check_idx_input},   {"model", check_model_input}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(checks[i].name, name) == 0) return checks[i].check;
    return NULL;
}
