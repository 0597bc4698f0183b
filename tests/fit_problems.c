#include "fit_problems.h"

#include <stdlib.h>

#include "test.h"

labelled_data two_blobs(int64_t count, uint64_t seed) {
    float *features = malloc(sizeof(float) * (size_t)count * 2);
    int64_t *labels = malloc(sizeof(int64_t) * (size_t)count);
    labelled_data data = {NULL, NULL};
    cg_manual_seed(seed);
    cg_tensor *noise = cg_randn(CG_SHAPE(count, 2), CG_FLOAT32);
    if (features && labels &&
        cg_copy_to_array(noise, features, sizeof(float) * (size_t)count * 2) == 0) {
        for (int64_t i = 0; i < count; i++) {
            labels[i] = i % 2;
            for (int j = 0; j < 2; j++)
                features[i * 2 + j] = 0.5f * features[i * 2 + j] + (labels[i] ? 1.5f : -1.5f);
        }
        data.x = cg_from_array(features, CG_SHAPE(count, 2), CG_FLOAT32);
        data.y = cg_from_array(labels, CG_SHAPE(count), CG_INT64);
    }
    cg_release(noise);
    free(features);
    free(labels);
    return data;
}

void labelled_data_release(labelled_data *data) {
    cg_release(data->x);
    cg_release(data->y);
    *data = (labelled_data){NULL, NULL};
}

cg_model *blob_classifier(double learning_rate, bool with_dropout) {
    cg_model *model =
        with_dropout ? cg_sequential(cg_layer_dense(8, CG_ACTIVATION_RELU), cg_layer_dropout(0.2),
                                     cg_layer_dense(2, CG_ACTIVATION_NONE))
                     : cg_sequential(cg_layer_dense(8, CG_ACTIVATION_RELU),
                                     cg_layer_dense(2, CG_ACTIVATION_NONE));
    if (!model || cg_model_build(model, CG_SHAPE(2)) != 0 ||
        cg_compile(model, cg_sgd(learning_rate, 0.0, false), CG_LOSS_CROSS_ENTROPY,
                   CG_METRIC_ACCURACY) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

parameter_copies copy_parameters(const cg_model *model) {
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    parameter_copies copies = {calloc((size_t)(count ? count : 1), sizeof(cg_tensor *)), count};
    /* Plain copies: no graph may link them to the parameters. */
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    for (int i = 0; copies.items && i < count; i++)
        copies.items[i] = cg_clone(parameters[i]);
    cg_set_grad_enabled(grad_was_enabled);
    return copies;
}

void parameter_copies_release(parameter_copies *copies) {
    for (int i = 0; copies->items && i < copies->count; i++)
        cg_release(copies->items[i]);
    free(copies->items);
    *copies = (parameter_copies){NULL, 0};
}

bool parameters_equal(const cg_model *model, const parameter_copies *copies) {
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    if (count != copies->count) return false;
    bool equal = true;
    cg_scope_begin();
    for (int i = 0; equal && i < count; i++)
        equal = cg_item(cg_max(cg_abs(cg_sub(cg_detach(parameters[i]), copies->items[i])),
                               CG_ALL_DIMS, false)) == 0.0;
    cg_scope_end();
    return equal;
}

void load_parameters(cg_model *model, const parameter_copies *copies) {
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    for (int i = 0; i < count && i < copies->count; i++)
        cg_copy_(parameters[i], copies->items[i]);
}

char *file_text(FILE *file) {
    const long size = ftell(file);
    char *text = size >= 0 ? calloc((size_t)size + 1, 1) : NULL;
    rewind(file);
    if (text && fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        return NULL;
    }
    return text;
}
