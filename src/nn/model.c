/* Sequential models: the layer list, building, the forward pass, parameters, metadata and the
 * compiled training configuration. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/layers.h"
#include "ops/ops.h"

static bool same_shape(cg_shape a, cg_shape b) {
    if (a.ndim != b.ndim) return false;
    for (int d = 0; d < a.ndim; d++)
        if (a.dims[d] != b.dims[d]) return false;
    return true;
}

/* Rewrites the current error as "function: layer index (type): message". */
static void blame_layer(const char *function, int index, const cg_layer *layer) {
    char message[768];
    snprintf(message, sizeof message, "%s", cg_last_error());
    cg_error_set("%s: layer %d (%s): %s", function, index, layer->layer_class->type, message);
}

cg_model *cg_sequential_of(cg_layer *const *layers, int count) {
    bool complete = layers && count >= 0;
    for (int i = 0; complete && i < count; i++)
        complete = layers[i] != NULL;
    cg_model *model = complete ? calloc(1, sizeof *model) : NULL;
    if (complete && !model) cg_error_set("cg_sequential: out of memory");
    if (!layers && count != 0) cg_error_set("cg_sequential: no layer array");
    if (!model) {
        for (int i = 0; layers && i < count; i++)
            cg_layer_free(layers[i]);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        if (cg_model_add(model, layers[i]) != 0) {
            /* The model owns the layers added so far; free the ones it never saw. */
            for (int j = i + 1; j < count; j++)
                cg_layer_free(layers[j]);
            cg_model_free(model);
            return NULL;
        }
    }
    return model;
}

/* Gathers the trainable parameters and their state-dict names from the layers. */
static int collect_parameters(cg_model *model) {
    int count = 0;
    for (int i = 0; i < model->layer_count; i++)
        for (int j = 0; j < model->layers[i]->tensor_count; j++)
            count += model->layers[i]->tensors[j].trainable;
    cg_tensor **parameters = malloc(sizeof *parameters * (size_t)(count ? count : 1));
    char **names = calloc((size_t)(count ? count : 1), sizeof *names);
    bool ok = parameters && names;
    int next = 0;
    for (int i = 0; ok && i < model->layer_count; i++) {
        const cg_layer *layer = model->layers[i];
        for (int j = 0; ok && j < layer->tensor_count; j++) {
            if (!layer->tensors[j].trainable) continue;
            char name[CG_NAME_MAX + 16];
            snprintf(name, sizeof name, "%d.%s", i, layer->tensors[j].name);
            parameters[next] = layer->tensors[j].tensor;
            names[next] = malloc(strlen(name) + 1);
            ok = names[next] != NULL;
            if (ok) strcpy(names[next++], name);
        }
    }
    for (int i = 0; i < model->parameter_count; i++)
        free(model->parameter_names[i]);
    free(model->parameter_names);
    free(model->parameters);
    model->parameters = NULL;
    model->parameter_names = NULL;
    model->parameter_count = 0;
    if (!ok) {
        for (int i = 0; names && i < next; i++)
            free(names[i]);
        free(names);
        free(parameters);
        cg_error_set("cg_model_build: out of memory for the parameter list");
        return -1;
    }
    model->parameters = parameters;
    model->parameter_names = names;
    model->parameter_count = count;
    return 0;
}

/* Builds one layer for samples of input_shape; a layer built by an earlier, failed model build
 * is kept when the shape matches. */
static int build_layer(cg_layer *layer, int index, cg_shape input_shape) {
    if (layer->built) {
        if (same_shape(layer->input_shape, input_shape)) return 0;
        char built_text[64], given_text[64];
        cg_error_set("cg_model_build: layer %d (%s) was built for samples of %s, not %s", index,
                     layer->layer_class->type,
                     cg_shape_format(layer->input_shape, built_text, sizeof built_text),
                     cg_shape_format(input_shape, given_text, sizeof given_text));
        return -1;
    }
    cg_shape output_shape = {0};
    if (layer->layer_class->build(layer, input_shape, &output_shape) != 0) {
        blame_layer("cg_model_build", index, layer);
        return -1;
    }
    bool valid = output_shape.ndim >= 0 && output_shape.ndim < CG_MAX_DIMS;
    for (int d = 0; valid && d < output_shape.ndim; d++)
        valid = output_shape.dims[d] > 0;
    if (!valid) {
        cg_error_set("cg_model_build: layer %d (%s) gave an invalid output shape (%d dims)", index,
                     layer->layer_class->type, output_shape.ndim);
        return -1;
    }
    layer->input_shape = input_shape;
    layer->output_shape = output_shape;
    layer->built = true;
    return 0;
}

int cg_model_add(cg_model *model, cg_layer *layer) {
    if (!model || !layer) {
        if (!model) cg_error_set("cg_model_add: no model");
        cg_layer_free(layer);
        return -1;
    }
    if (layer->owned_by_model) {
        cg_error_set("cg_model_add: the %s layer already belongs to a model",
                     layer->layer_class->type);
        return -1;
    }
    if (model->layer_count == model->layer_capacity) {
        const int capacity = model->layer_capacity ? model->layer_capacity * 2 : 8;
        cg_layer **layers = realloc(model->layers, sizeof *layers * (size_t)capacity);
        if (!layers) {
            cg_error_set("cg_model_add: out of memory");
            cg_layer_free(layer);
            return -1;
        }
        model->layers = layers;
        model->layer_capacity = capacity;
    }
    layer->owned_by_model = true;
    model->layers[model->layer_count++] = layer;
    if (!model->built) return 0;
    /* A layer added to a built model is built at once, so the model stays usable. */
    if (build_layer(layer, model->layer_count - 1, model->output_shape) != 0) {
        model->layer_count--;
        cg_layer_destroy(layer);
        return -1;
    }
    model->output_shape = layer->output_shape;
    return collect_parameters(model) == 0 ? cg_model_place_tensors(model) : -1;
}

int cg_model_build(cg_model *model, cg_shape input_shape) {
    if (!model) {
        cg_error_set("cg_model_build: no model");
        return -1;
    }
    char text[64], built_text[64];
    if (model->built) {
        if (same_shape(model->input_shape, input_shape)) return 0;
        cg_error_set("cg_model_build: the model is built for samples of %s, not %s",
                     cg_shape_format(model->input_shape, built_text, sizeof built_text),
                     cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    bool valid = input_shape.ndim >= 0 && input_shape.ndim < CG_MAX_DIMS;
    for (int d = 0; valid && d < input_shape.ndim; d++)
        valid = input_shape.dims[d] > 0;
    if (!valid) {
        cg_error_set("cg_model_build: invalid sample shape %s (need positive sizes and fewer "
                     "than %d dims)",
                     cg_shape_format(input_shape, text, sizeof text), CG_MAX_DIMS);
        return -1;
    }
    cg_shape shape = input_shape;
    for (int i = 0; i < model->layer_count; i++) {
        if (build_layer(model->layers[i], i, shape) != 0) return -1;
        shape = model->layers[i]->output_shape;
    }
    if (collect_parameters(model) != 0 || cg_model_place_tensors(model) != 0) return -1;
    model->input_shape = input_shape;
    model->output_shape = shape;
    model->built = true;
    return 0;
}

bool cg_model_is_built(const cg_model *model) { return model && model->built; }

cg_shape cg_model_input_shape(const cg_model *model) {
    return model ? model->input_shape : (cg_shape){0};
}

cg_shape cg_model_output_shape(const cg_model *model) {
    return model ? model->output_shape : (cg_shape){0};
}

/* The shape of x without its batch dim. */
static cg_shape sample_shape(const cg_tensor *x) {
    cg_shape shape = {.ndim = x->ndim - 1};
    for (int d = 1; d < x->ndim; d++)
        shape.dims[d - 1] = x->shape[d];
    return shape;
}

static bool check_forward_input(cg_model *model, const cg_tensor *x) {
    if (x->ndim < 1) {
        cg_error_set("cg_model_forward: expects a batch with the samples along dim 0, got a "
                     "tensor with no dims");
        return false;
    }
    if (!cg_require_float("cg_model_forward", x)) return false;
    if (!model->built && cg_model_build(model, sample_shape(x)) != 0) return false;
    if (!same_shape(sample_shape(x), model->input_shape)) {
        char text[64];
        cg_error_set("cg_model_forward: the model takes samples of %s (a batch N x %s), got %s",
                     cg_shape_format(model->input_shape, text, sizeof text), text,
                     cg_shape_text(x));
        return false;
    }
    if (model->parameter_count > 0 && model->parameters[0]->dtype != x->dtype) {
        cg_error_set("cg_model_forward: the input is %s but the parameters are %s (convert one "
                     "of them, e.g. with cg_model_to_dtype)",
                     cg_dtype_name(x->dtype), cg_dtype_name(model->parameters[0]->dtype));
        return false;
    }
    return true;
}

/* A custom layer returning another shape than its build announced would break the layers after
 * it in confusing ways; say which layer it was. */
static bool check_layer_output(int index, const cg_layer *layer, const cg_tensor *y,
                               int64_t batch) {
    bool valid = y->ndim == layer->output_shape.ndim + 1 && y->shape[0] == batch;
    valid = valid && same_shape(sample_shape(y), layer->output_shape);
    if (!valid) {
        char text[64];
        cg_error_set("cg_model_forward: layer %d (%s) returned %s, but its build announced "
                     "samples of %s",
                     index, layer->layer_class->type, cg_shape_text(y),
                     cg_shape_format(layer->output_shape, text, sizeof text));
    }
    return valid;
}

cg_tensor *cg_model_forward(cg_model *model, const cg_tensor *x, bool training) {
    if (!model || !x) {
        if (!model) cg_error_set("cg_model_forward: no model");
        return NULL;
    }
    if (!check_forward_input(model, x)) return NULL;
    if (model->layer_count == 0) return cg_alias(x);
    cg_scope_begin();
    const cg_tensor *h = x;
    for (int i = 0; h && i < model->layer_count; i++) {
        cg_layer *layer = model->layers[i];
        const cg_tensor *y = layer->layer_class->forward(layer, h, training);
        if (!y) blame_layer("cg_model_forward", i, layer);
        h = y && check_layer_output(i, layer, y, x->shape[0]) ? y : NULL;
    }
    cg_tensor *result = cg_keep((cg_tensor *)h);
    cg_scope_end();
    return result;
}

int cg_model_layer_count(const cg_model *model) { return model ? model->layer_count : 0; }

cg_layer *cg_model_layer(const cg_model *model, int index) {
    if (!model || index < 0 || index >= model->layer_count) {
        cg_error_set("cg_model_layer: no layer %d (the model has %d)", index,
                     model ? model->layer_count : 0);
        return NULL;
    }
    return model->layers[index];
}

cg_tensor *const *cg_model_parameters(const cg_model *model, int *count) {
    if (count) *count = model ? model->parameter_count : 0;
    return model ? model->parameters : NULL;
}

const char *cg_model_parameter_name(const cg_model *model, int index) {
    if (!model || index < 0 || index >= model->parameter_count) {
        cg_error_set("cg_model_parameter_name: no parameter %d (the model has %d)", index,
                     model ? model->parameter_count : 0);
        return NULL;
    }
    return model->parameter_names[index];
}

int64_t cg_model_parameter_total(const cg_model *model) {
    int64_t total = 0;
    for (int i = 0; model && i < model->parameter_count; i++)
        total += cg_numel(model->parameters[i]);
    return total;
}

void cg_model_zero_grad(cg_model *model) {
    for (int i = 0; model && i < model->parameter_count; i++)
        cg_zero_grad(model->parameters[i]);
}

int cg_model_to_dtype(cg_model *model, cg_dtype dtype) {
    if (!model || (dtype != CG_FLOAT32 && dtype != CG_FLOAT64)) {
        cg_error_set("cg_model_to_dtype: needs a model and float32 or float64, got %s",
                     cg_dtype_name(dtype));
        return -1;
    }
    /* The conversions are new leaves, so no graph may link them to the old tensors. */
    const bool previous = cg_set_grad_enabled(false);
    int status = 0;
    for (int i = 0; status == 0 && i < model->layer_count; i++) {
        cg_layer *layer = model->layers[i];
        for (int j = 0; status == 0 && j < layer->tensor_count; j++) {
            cg_named_tensor *entry = &layer->tensors[j];
            if (!cg_dtype_is_float(entry->tensor->dtype) || entry->tensor->dtype == dtype) continue;
            cg_tensor *converted = cg_to_dtype(entry->tensor, dtype);
            if (!converted) {
                status = -1;
                continue;
            }
            cg_tensor_unscope(converted);
            converted->requires_grad = entry->trainable;
            cg_tensor_decref(entry->tensor);
            entry->tensor = converted;
        }
    }
    cg_set_grad_enabled(previous);
    return collect_parameters(model) == 0 ? status : -1;
}

int cg_model_set_metadata(cg_model *model, const char *key, const char *value) {
    if (!model || !key || !*key || !value) {
        cg_error_set("cg_model_set_metadata: needs a model, a non-empty key and a value");
        return -1;
    }
    char *copy = malloc(strlen(value) + 1);
    if (!copy) {
        cg_error_set("cg_model_set_metadata: out of memory for '%s'", key);
        return -1;
    }
    strcpy(copy, value);
    for (int i = 0; i < model->metadata_count; i++) {
        if (strcmp(model->metadata[i].key, key) == 0) {
            free(model->metadata[i].value);
            model->metadata[i].value = copy;
            return 0;
        }
    }
    cg_metadata_entry *entries =
        realloc(model->metadata, sizeof *entries * (size_t)(model->metadata_count + 1));
    char *key_copy = malloc(strlen(key) + 1);
    if (entries) model->metadata = entries;
    if (!entries || !key_copy) {
        free(key_copy);
        free(copy);
        cg_error_set("cg_model_set_metadata: out of memory for '%s'", key);
        return -1;
    }
    strcpy(key_copy, key);
    model->metadata[model->metadata_count++] = (cg_metadata_entry){key_copy, copy};
    return 0;
}

const char *cg_model_metadata(const cg_model *model, const char *key) {
    for (int i = 0; model && key && i < model->metadata_count; i++)
        if (strcmp(model->metadata[i].key, key) == 0) return model->metadata[i].value;
    return NULL;
}

void cg_model_free(cg_model *model) {
    if (!model) return;
    for (int i = 0; i < model->layer_count; i++)
        cg_layer_destroy(model->layers[i]);
    free(model->layers);
    for (int i = 0; i < model->parameter_count; i++)
        free(model->parameter_names[i]);
    free(model->parameter_names);
    free(model->parameters);
    for (int i = 0; i < model->metadata_count; i++) {
        free(model->metadata[i].key);
        free(model->metadata[i].value);
    }
    free(model->metadata);
    cg_optimizer_free(model->optimizer);
    free(model);
}

int cg_model_visit_tensors(const cg_model *model, cg_model_tensor_visitor visit, void *userdata) {
    if (!model || !visit) {
        cg_error_set("cg_model_visit_tensors: needs a model and a visitor");
        return -1;
    }
    for (int i = 0; i < model->layer_count; i++) {
        const cg_layer *layer = model->layers[i];
        for (int j = 0; j < layer->tensor_count; j++) {
            char name[CG_NAME_MAX + 16];
            snprintf(name, sizeof name, "%d.%s", i, layer->tensors[j].name);
            const int status =
                visit(name, layer->tensors[j].tensor, layer->tensors[j].trainable, userdata);
            if (status != 0) return status;
        }
    }
    return 0;
}
