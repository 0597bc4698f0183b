/* cg_model_save and cg_model_load: a saved and loaded model has the same structure, the same bits
 * in every tensor and bit-identical predictions; compile settings and metadata come back; a model
 * PyTorch wrote loads and predicts as PyTorch did; every file that is not a valid model, and every
 * truncation of one, gives an error naming the file. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/safetensors.h"
#include "nn/nn_internal.h"
#include "temp_dir.h"
#include "tensor_bits.h"
#include "test.h"

/* ----- helpers ----- */

enum { MAX_MODEL_TENSORS = 32 };

/* A model's tensors as cg_model_visit_tensors lists them. */
typedef struct {
    int count;
    char names[MAX_MODEL_TENSORS][CG_NAME_MAX + 16];
    cg_tensor *tensors[MAX_MODEL_TENSORS];
    bool trainable[MAX_MODEL_TENSORS];
} tensor_set;

static int collect(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    tensor_set *set = userdata;
    if (set->count == MAX_MODEL_TENSORS) return -1;
    snprintf(set->names[set->count], sizeof set->names[0], "%s", name);
    set->tensors[set->count] = tensor;
    set->trainable[set->count++] = trainable;
    return 0;
}

/* Same names, kinds, dtypes, shapes and bits, in the same order. */
static bool same_tensors(const cg_model *a, const cg_model *b, int *count) {
    tensor_set set_a = {0}, set_b = {0};
    if (cg_model_visit_tensors(a, collect, &set_a) != 0 ||
        cg_model_visit_tensors(b, collect, &set_b) != 0 || set_a.count != set_b.count)
        return false;
    for (int i = 0; i < set_a.count; i++) {
        if (strcmp(set_a.names[i], set_b.names[i]) != 0 ||
            set_a.trainable[i] != set_b.trainable[i] ||
            !tensors_identical(set_a.tensors[i], set_b.tensors[i])) {
            test_fail(__FILE__, __LINE__, "tensor %s differs", set_a.names[i]);
            return false;
        }
    }
    *count = set_a.count;
    return true;
}

/* What cg_model_summary prints (malloc'd), or NULL. */
static char *summary_text(const cg_model *model) {
    FILE *file = tmpfile();
    char *text = NULL;
    if (file && cg_model_summary(model, file) == 0) {
        const long length = ftell(file);
        text = length >= 0 ? calloc(1, (size_t)length + 1) : NULL;
        rewind(file);
        if (text && fread(text, 1, (size_t)length, file) != (size_t)length) {
            free(text);
            text = NULL;
        }
    }
    if (file) fclose(file);
    return text;
}

static bool same_strings(char *a, char *b) {
    const bool same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* Same layers (types and shapes), spec text, summary and parameter names. */
static bool same_structure(const cg_model *a, const cg_model *b) {
    if (cg_model_layer_count(a) != cg_model_layer_count(b) ||
        cg_model_parameter_total(a) != cg_model_parameter_total(b))
        return false;
    for (int i = 0; i < cg_model_layer_count(a); i++) {
        if (strcmp(cg_layer_type(cg_model_layer(a, i)), cg_layer_type(cg_model_layer(b, i))) != 0)
            return false;
    }
    int count_a, count_b;
    cg_model_parameters(a, &count_a);
    cg_model_parameters(b, &count_b);
    for (int i = 0; count_a == count_b && i < count_a; i++) {
        if (strcmp(cg_model_parameter_name(a, i), cg_model_parameter_name(b, i)) != 0) return false;
    }
    const cg_shape in_a = cg_model_input_shape(a), in_b = cg_model_input_shape(b);
    const cg_shape out_a = cg_model_output_shape(a), out_b = cg_model_output_shape(b);
    return count_a == count_b && memcmp(&in_a, &in_b, sizeof in_a) == 0 &&
           memcmp(&out_a, &out_b, sizeof out_a) == 0 &&
           same_strings(cg_model_to_spec(a), cg_model_to_spec(b)) &&
           same_strings(summary_text(a), summary_text(b));
}

/* Dense, batch norm (with running statistics moved by training passes and a random scale and
 * shift), dropout and dense again, built for 4 features. */
static cg_model *sample_model(void) {
    cg_model *model = cg_sequential(cg_layer_dense(8, CG_ACTIVATION_RELU), cg_layer_batch_norm(),
                                    cg_layer_dropout(0.25), cg_layer_dense(3, CG_ACTIVATION_NONE));
    if (!model || cg_model_build(model, CG_SHAPE(4)) != 0) {
        cg_model_free(model);
        return NULL;
    }
    const bool grad_enabled = cg_set_grad_enabled(false);
    cg_scope_begin();
    bool ok = true;
    for (int i = 0; ok && i < 3; i++)
        ok = cg_model_forward(model, cg_randn(CG_SHAPE(16, 4), CG_FLOAT32), true) != NULL;
    cg_layer *batch_norm = cg_model_layer(model, 1);
    ok = ok &&
         cg_copy_(cg_layer_tensor(batch_norm, "weight"), cg_rand(CG_SHAPE(8), CG_FLOAT32)) == 0 &&
         cg_copy_(cg_layer_tensor(batch_norm, "bias"), cg_randn(CG_SHAPE(8), CG_FLOAT32)) == 0;
    cg_scope_end();
    cg_set_grad_enabled(grad_enabled);
    if (ok) return model;
    cg_model_free(model);
    return NULL;
}

/* Both models' eval-mode predictions for x have the same bits. */
static bool same_predictions(cg_model *a, cg_model *b, const cg_tensor *x) {
    cg_tensor *prediction_a = cg_predict(a, x, 0), *prediction_b = cg_predict(b, x, 0);
    const bool same = tensors_identical(prediction_a, prediction_b);
    cg_release(prediction_a);
    cg_release(prediction_b);
    return same;
}

/* cg_model_load(path) must fail with an error naming path and containing reason. */
static bool expect_load_error(const char *path, const char *reason, int line) {
    cg_clear_error();
    cg_model *model = cg_model_load(path);
    const bool failed = model == NULL;
    cg_model_free(model);
    return test_expect_file_error(failed, path, reason, __FILE__, line);
}

/* ----- round trips ----- */

TEST(model_save_load_round_trip_is_bit_identical) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "model.safetensors");
    cg_model *model = sample_model();
    CHECK(model);
    CHECK(cg_model_set_metadata(model, "classes", "setosa,versicolor,virginica") == 0);
    CHECK(cg_model_set_metadata(model, "format", "a user key named like the format's") == 0);
    CHECK(cg_compile(model, cg_adam(0.05), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0);
    const int saved = cg_model_save(model, path);
    cg_model *loaded = saved == 0 ? cg_model_load(path) : NULL;
    const int entry_count = temp_dir_entry_count(&dir);
    temp_dir_remove(&dir);
    cg_tensor *x = cg_randn(CG_SHAPE(10, 4), CG_FLOAT32);
    int tensor_count = 0;
    const bool structure = loaded && same_structure(model, loaded);
    const bool tensors = loaded && same_tensors(model, loaded, &tensor_count);
    const bool predictions = loaded && same_predictions(model, loaded, x);
    const cg_tensor *running_mean = cg_layer_tensor(cg_model_layer(model, 1), "running_mean");
    const bool statistics_moved = fabs(cg_get(running_mean, (int64_t[]){0})) > 0;
    cg_release(x);
    const char *classes = cg_model_metadata(loaded, "classes");
    const char *format = cg_model_metadata(loaded, "format");
    const bool metadata = classes && strcmp(classes, "setosa,versicolor,virginica") == 0 &&
                          format && strcmp(format, "a user key named like the format's") == 0 &&
                          !cg_model_metadata(loaded, "user.classes") && loaded->metadata_count == 2;
    const cg_optimizer *optimizer = cg_model_optimizer(loaded);
    const bool compiled = optimizer && cg_optimizer_get_kind(optimizer) == CG_OPTIMIZER_ADAM &&
                          cg_optimizer_learning_rate(optimizer) ==
                              cg_optimizer_defaults(CG_OPTIMIZER_ADAM).learning_rate &&
                          cg_model_loss(loaded) == CG_LOSS_CROSS_ENTROPY &&
                          cg_model_metrics(loaded) == CG_METRIC_ACCURACY;
    cg_model_free(loaded);
    cg_model_free(model);
    CHECK(saved == 0 && loaded);
    CHECK(entry_count == 1);
    CHECK(structure);
    CHECK(tensors && tensor_count == 8); /* 2 dense x 2, batch norm 2 parameters + 2 buffers */
    CHECK(statistics_moved);
    CHECK(predictions);
    CHECK(metadata);
    CHECK(compiled);
}

TEST(model_save_load_keeps_an_uncompiled_model_uncompiled) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "plain.safetensors");
    cg_model *model = cg_sequential(cg_layer_dense(5, CG_ACTIVATION_TANH),
                                    cg_layer_dense_with(2, &(cg_dense_options){.no_bias = true}));
    CHECK(model && cg_model_build(model, CG_SHAPE(3)) == 0);
    const int saved = cg_model_save(model, path);
    cg_model *loaded = saved == 0 ? cg_model_load(path) : NULL;
    temp_dir_remove(&dir);
    cg_tensor *x = cg_randn(CG_SHAPE(6, 3), CG_FLOAT32);
    int tensor_count = 0;
    const bool same = loaded && same_structure(model, loaded) &&
                      same_tensors(model, loaded, &tensor_count) &&
                      same_predictions(model, loaded, x);
    const bool uncompiled = loaded && !cg_model_optimizer(loaded) && loaded->metadata_count == 0;
    cg_release(x);
    cg_model_free(loaded);
    cg_model_free(model);
    CHECK(saved == 0);
    CHECK(same && tensor_count == 3);
    CHECK(uncompiled);
}

TEST(model_save_load_keeps_float64_models) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "float64.safetensors");
    cg_model *model = sample_model();
    CHECK(model && cg_model_to_dtype(model, CG_FLOAT64) == 0);
    const int saved = cg_model_save(model, path);
    cg_model *loaded = saved == 0 ? cg_model_load(path) : NULL;
    temp_dir_remove(&dir);
    cg_tensor *x = cg_randn(CG_SHAPE(7, 4), CG_FLOAT64);
    int tensor_count = 0;
    const bool same =
        loaded && same_tensors(model, loaded, &tensor_count) && same_predictions(model, loaded, x);
    const bool float64 =
        loaded && cg_tensor_dtype(cg_model_parameters(loaded, &(int){0})[0]) == CG_FLOAT64;
    cg_release(x);
    cg_model_free(loaded);
    cg_model_free(model);
    CHECK(saved == 0);
    CHECK(same && tensor_count == 8);
    CHECK(float64);
}

/* ----- the model PyTorch wrote (tests/fixtures/make_safetensors_fixture.py) ----- */

/* The numbers of a space-separated text as a new float32 tensor of the given columns. */
static cg_tensor *numbers_tensor(const char *text, int64_t columns) {
    float values[64];
    int64_t count = 0;
    for (char *end; text && count < 64; text = end) {
        const double value = strtod(text, &end);
        if (end == text) break;
        values[count++] = (float)value;
    }
    return count && count % columns == 0
               ? cg_from_array(values, CG_SHAPE(count / columns, columns), CG_FLOAT32)
               : NULL;
}

TEST(model_load_reads_a_model_pytorch_wrote_and_predicts_like_pytorch) {
    cg_model *model = cg_model_load(test_source_path("tests/fixtures/torch_model.safetensors"));
    CHECK(model);
    cg_tensor *x = numbers_tensor(cg_model_metadata(model, "input"), 3);
    cg_tensor *expected = numbers_tensor(cg_model_metadata(model, "expected_output"), 2);
    cg_tensor *predicted = x ? cg_predict(model, x, 0) : NULL;
    const bool compiled = cg_model_optimizer(model) &&
                          cg_optimizer_get_kind(cg_model_optimizer(model)) == CG_OPTIMIZER_ADAM &&
                          cg_model_loss(model) == CG_LOSS_CROSS_ENTROPY &&
                          cg_model_metrics(model) == CG_METRIC_ACCURACY;
    const int layers = cg_model_layer_count(model);
    cg_model_free(model);
    CHECK(compiled && layers == 4);
    CHECK(x && expected && predicted && cg_numel(expected) == 10);
    CHECK_TENSOR_CLOSE(predicted, expected, 1e-6, 1e-5);
    cg_release(x);
    cg_release(expected);
    cg_release(predicted);
}

/* ----- errors ----- */

TEST(model_save_needs_a_built_model_and_a_writable_place) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_model *unbuilt = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    cg_model *built = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(unbuilt && built && cg_model_build(built, CG_SHAPE(3)) == 0);
    const char *path = temp_dir_file(&dir, "unbuilt.safetensors");
    const char *nowhere = temp_dir_file(&dir, "missing/model.safetensors");
    CHECK_ERROR(cg_model_save(NULL, path), "cg_model_save: needs a model and a path");
    CHECK_ERROR(cg_model_save(unbuilt, path), "the model is not built");
    CHECK(strstr(cg_last_error(), path));
    CHECK_ERROR(cg_model_save(built, nowhere), "cannot create the temporary file");
    CHECK(strstr(cg_last_error(), nowhere) && strncmp(cg_last_error(), "cg_model_save: ", 15) == 0);
    CHECK_ERROR(cg_model_load(NULL), "cg_model_load: no path given");
    const int entry_count = temp_dir_entry_count(&dir);
    cg_model_free(unbuilt);
    cg_model_free(built);
    temp_dir_remove(&dir);
    CHECK(entry_count == 0);
}

/* A safetensors file at path with the given metadata and, for the architecture
 * "input 2 / dense 3", a weight (dtype and shape given), a bias unless no_bias, and a tensor named
 * extra when extra is not NULL. */
typedef struct {
    const cg_safetensors_metadata *metadata;
    size_t metadata_count;
    cg_dtype weight_dtype;
    cg_shape weight_shape;
    bool no_bias;
    const char *extra;
} crafted_file;

static bool write_crafted(const char *path, const crafted_file *file) {
    cg_tensor *weight = cg_zeros(file->weight_shape, file->weight_dtype);
    cg_tensor *bias = cg_zeros(CG_SHAPE(3), CG_FLOAT32);
    cg_safetensors_entry entries[3] = {{"0.weight", weight}};
    size_t count = 1;
    if (!file->no_bias) entries[count++] = (cg_safetensors_entry){"0.bias", bias};
    if (file->extra) entries[count++] = (cg_safetensors_entry){file->extra, bias};
    const int status =
        cg_safetensors_write(path, entries, count, file->metadata, file->metadata_count);
    cg_release(weight);
    cg_release(bias);
    return status == 0;
}

TEST(model_load_rejects_files_that_are_not_valid_models) {
#define MODEL_KEYS                                                                                 \
    {"format", "cgrad"}, { "format_version", "1" }
#define ARCHITECTURE                                                                               \
    { "architecture", "input 2\ndense 3\n" }
    static const cg_safetensors_metadata no_format[] = {{"source", "elsewhere"}};
    static const cg_safetensors_metadata version_2[] = {
        {"format", "cgrad"}, {"format_version", "2"}, ARCHITECTURE};
    static const cg_safetensors_metadata no_architecture[] = {MODEL_KEYS};
    static const cg_safetensors_metadata bad_layer[] = {MODEL_KEYS,
                                                        {"architecture", "input 2\nwobble 3\n"}};
    static const cg_safetensors_metadata no_input[] = {MODEL_KEYS, {"architecture", "dense 3\n"}};
    static const cg_safetensors_metadata valid[] = {MODEL_KEYS, ARCHITECTURE};
    static const cg_safetensors_metadata bad_loss[] = {
        MODEL_KEYS, ARCHITECTURE, {"loss", "hinge"}, {"metrics", ""}, {"optimizer", "adam"}};
    static const cg_safetensors_metadata bad_metric[] = {MODEL_KEYS,
                                                         ARCHITECTURE,
                                                         {"loss", "cross_entropy"},
                                                         {"metrics", "accuracy,f1"},
                                                         {"optimizer", "adam"}};
    static const cg_safetensors_metadata bad_optimizer[] = {
        MODEL_KEYS, ARCHITECTURE, {"loss", "mse"}, {"metrics", "mae"}, {"optimizer", "lion"}};
    static const cg_safetensors_metadata no_optimizer[] = {
        MODEL_KEYS, ARCHITECTURE, {"loss", "mse"}, {"metrics", ""}};
    static const cg_safetensors_metadata mismatched[] = {MODEL_KEYS,
                                                         ARCHITECTURE,
                                                         {"loss", "mse"},
                                                         {"metrics", "binary_accuracy"},
                                                         {"optimizer", "sgd"}};
#undef MODEL_KEYS
#undef ARCHITECTURE
    const cg_shape good = CG_SHAPE(3, 2);
    const struct {
        crafted_file file;
        const char *error;
    } cases[] = {
        {{no_format, 1, CG_FLOAT32, good, false, NULL}, "not a cgrad model"},
        {{version_2, 3, CG_FLOAT32, good, false, NULL}, "format_version '2' is not supported"},
        {{no_architecture, 2, CG_FLOAT32, good, false, NULL}, "the metadata has no architecture"},
        {{bad_layer, 3, CG_FLOAT32, good, false, NULL}, "architecture: "},
        {{no_input, 3, CG_FLOAT32, good, false, NULL}, "the architecture has no input line"},
        {{valid, 3, CG_FLOAT32, good, true, NULL}, "tensor '0.bias' is missing from the file"},
        {{valid, 3, CG_FLOAT32, CG_SHAPE(2, 3), false, NULL},
         "tensor '0.weight' has shape [2x3] in the file, but the architecture makes it [3x2]"},
        {{valid, 3, CG_INT32, good, false, NULL},
         "tensor '0.weight' is int32 in the file, but the architecture makes it float32"},
        {{valid, 3, CG_FLOAT32, good, false, "0.scale"},
         "unexpected tensor '0.scale' (the architecture has no such tensor)"},
        {{bad_loss, 6, CG_FLOAT32, good, false, NULL}, "hinge"},
        {{bad_metric, 6, CG_FLOAT32, good, false, NULL}, "unknown metric 'f1'"},
        {{bad_optimizer, 6, CG_FLOAT32, good, false, NULL}, "unknown optimizer 'lion'"},
        {{no_optimizer, 5, CG_FLOAT32, good, false, NULL},
         "the metadata has a loss but no optimizer"},
        {{mismatched, 6, CG_FLOAT32, good, false, NULL}, "binary accuracy"},
    };
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof cases / sizeof *cases; i++) {
        char name[64];
        snprintf(name, sizeof name, "case-%02zu.safetensors", i);
        const char *path = temp_dir_file(&dir, name);
        ok = write_crafted(path, &cases[i].file) &&
             expect_load_error(path, cases[i].error, __LINE__);
        if (!ok) test_fail(__FILE__, __LINE__, "case %zu", i);
    }
    /* The same file with a bias and nothing wrong loads. */
    const char *path = temp_dir_file(&dir, "valid.safetensors");
    const crafted_file valid_file = {valid, 3, CG_FLOAT32, good, false, NULL};
    cg_model *model = ok && write_crafted(path, &valid_file) ? cg_model_load(path) : NULL;
    cg_model_free(model);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(model);
}

TEST(model_load_of_truncated_files_gives_clean_errors) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *whole = temp_dir_file(&dir, "whole.safetensors");
    cg_model *model = sample_model();
    CHECK(model);
    const int saved = cg_model_save(model, whole);
    cg_model_free(model);
    size_t size = 0;
    unsigned char *bytes = saved == 0 ? read_file(whole, &size) : NULL;
    const size_t header_end = bytes ? 8 + (size_t)bytes[0] + ((size_t)bytes[1] << 8) : 0;
    const size_t lengths[] = {0,
                              4,
                              7,
                              8,
                              9,
                              header_end / 2,
                              header_end - 1,
                              header_end,
                              header_end + 1,
                              (header_end + size) / 2,
                              size - 1};
    const char *path = temp_dir_file(&dir, "truncated.safetensors");
    bool ok = bytes && header_end < size;
    for (size_t i = 0; ok && i < sizeof lengths / sizeof *lengths; i++)
        ok = write_file(path, bytes, lengths[i]) &&
             expect_load_error(path, "cg_model_load: ", __LINE__);
    free(bytes);
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(model_load_reports_every_allocation_failure) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "model.safetensors");
    cg_model *model = sample_model();
    CHECK(model);
    const int saved = cg_model_save(model, path);
    cg_model *loaded = NULL;
    bool errors_named = true;
    int failures = 0;
    for (long n = 1; saved == 0 && !loaded && n < 1000; n++) {
        cg_memory_release_cached();
        cg_alloc_fail_after(n);
        cg_clear_error();
        loaded = cg_model_load(path);
        cg_alloc_fail_after(0);
        if (!loaded) {
            failures++;
            errors_named = errors_named && strstr(cg_last_error(), "cg_model_load: ") &&
                           strstr(cg_last_error(), path);
        }
    }
    int tensor_count = 0;
    const bool same = loaded && same_tensors(model, loaded, &tensor_count);
    cg_model_free(loaded);
    cg_model_free(model);
    temp_dir_remove(&dir);
    CHECK(saved == 0 && same);
    CHECK(failures > 0 && errors_named);
}

/* A 112-byte file whose architecture line declares 200 million weights and which holds no tensor
 * once made cg_model_load allocate about 800 MB before it looked at the tensors. Rebuilding the
 * architecture may now take only what the file's tensors justify. */
TEST(model_load_allocates_no_more_than_the_file_justifies) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "crafted.safetensors");
    const char header[] = "{\"__metadata__\": {\"format\": \"cgrad\", \"format_version\": \"1\", "
                          "\"architecture\": \"input 10000\\ndense 20000\"}}";
    unsigned char file[8 + sizeof header - 1] = {sizeof header - 1};
    memcpy(file + 8, header, sizeof header - 1);
    CHECK(sizeof file == 112);
    CHECK(write_file(path, file, sizeof file));
    const size_t peak_before = cg_memory_get_stats().peak_live_bytes;
    CHECK_ERROR(cg_model_load(path), "would pass the limit");
    CHECK(strstr(cg_last_error(), path) != NULL);
    CHECK(cg_memory_get_stats().peak_live_bytes < peak_before + ((size_t)8 << 20));
    /* A genuine file of that architecture is still read (a smaller one, to keep the test fast). */
    cg_model *model = cg_model_from_spec("input 300\ndense 200\n");
    CHECK(model && cg_model_save(model, path) == 0);
    cg_model *loaded = cg_model_load(path);
    int tensor_count = 0;
    const bool same = loaded && same_tensors(model, loaded, &tensor_count);
    cg_model_free(loaded);
    cg_model_free(model);
    temp_dir_remove(&dir);
    CHECK(same && tensor_count == 2);
}
