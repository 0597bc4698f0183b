/* The layer object every layer type shares: its class, its state and its named tensors. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/nn_internal.h"

cg_layer *cg_layer_new(const cg_layer_class *layer_class, void *state) {
    if (!layer_class || !layer_class->type || !layer_class->build || !layer_class->forward) {
        cg_error_set("cg_layer_new: a layer class needs a type name, build and forward");
        if (layer_class && layer_class->destroy) layer_class->destroy(state);
        return NULL;
    }
    cg_layer *layer = calloc(1, sizeof *layer);
    if (!layer) {
        cg_error_set("cg_layer_new: out of memory for a %s layer", layer_class->type);
        if (layer_class->destroy) layer_class->destroy(state);
        return NULL;
    }
    layer->layer_class = layer_class;
    layer->state = state;
    return layer;
}

void *cg_layer_state(const cg_layer *layer) { return layer ? layer->state : NULL; }

const char *cg_layer_type(const cg_layer *layer) { return layer ? layer->layer_class->type : NULL; }

/* Registers value under name; on failure the layer still takes value and releases it. */
static cg_tensor *add_tensor(cg_layer *layer, const char *name, cg_tensor *value, bool trainable) {
    const char *function = trainable ? "cg_layer_add_parameter" : "cg_layer_add_buffer";
    if (!layer || !value) {
        if (!layer) cg_error_set("%s: no layer", function);
        cg_release(value);
        return NULL;
    }
    const char *type = layer->layer_class->type;
    const char *problem = NULL;
    if (!name || !*name || strlen(name) >= CG_NAME_MAX)
        problem = "needs a name of 1 to 63 characters";
    else if (cg_layer_tensor(layer, name))
        problem = "already has a tensor of that name";
    else if (layer->tensor_count == CG_LAYER_MAX_TENSORS)
        problem = "has no room for another tensor (at most 8)";
    else if (trainable && !cg_dtype_is_float(value->dtype))
        problem = "needs a floating-point tensor for a trainable parameter";
    else if (value->grad_fn)
        problem = "needs a leaf tensor (detach it or create it without a graph)";
    if (problem) {
        cg_error_set("%s: %s layer %s, tensor '%s'", function, type, problem, name ? name : "");
        cg_release(value);
        return NULL;
    }
    /* The layer holds the creation reference; a scope open while the layer is built (a lazy
     * build inside a training step) must not free it. */
    cg_tensor_unscope(value);
    value->requires_grad = trainable;
    cg_named_tensor *slot = &layer->tensors[layer->tensor_count++];
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->tensor = value;
    slot->trainable = trainable;
    return value;
}

cg_tensor *cg_layer_add_parameter(cg_layer *layer, const char *name, cg_tensor *value) {
    return add_tensor(layer, name, value, true);
}

cg_tensor *cg_layer_add_buffer(cg_layer *layer, const char *name, cg_tensor *value) {
    return add_tensor(layer, name, value, false);
}

cg_tensor *cg_layer_tensor(const cg_layer *layer, const char *name) {
    for (int i = 0; layer && name && i < layer->tensor_count; i++)
        if (strcmp(layer->tensors[i].name, name) == 0) return layer->tensors[i].tensor;
    return NULL;
}

void cg_layer_destroy(cg_layer *layer) {
    if (!layer) return;
    for (int i = 0; i < layer->tensor_count; i++)
        cg_tensor_decref(layer->tensors[i].tensor);
    if (layer->layer_class->destroy) layer->layer_class->destroy(layer->state);
    free(layer);
}

void cg_layer_free(cg_layer *layer) {
    /* A model's layer is freed with the model; freeing it here would leave the model dangling. */
    if (layer && !layer->owned_by_model) cg_layer_destroy(layer);
}

int cg_layer_spec_line(const cg_layer *layer, char *buffer, size_t size) {
    if (!layer || !buffer || size == 0) {
        cg_error_set("cg_layer_spec_line: needs a layer and a buffer");
        return -1;
    }
    const cg_layer_class *layer_class = layer->layer_class;
    if (!layer_class->config) {
        cg_error_set("cg_layer_spec_line: layer type '%s' has no config function, so it cannot "
                     "be written as a spec line",
                     layer_class->type);
        return -1;
    }
    char arguments[256] = "";
    if (layer_class->config(layer, arguments, sizeof arguments) != 0) return -1;
    const int written =
        snprintf(buffer, size, "%s%s%s", layer_class->type, arguments[0] ? " " : "", arguments);
    if (written < 0 || (size_t)written >= size) {
        cg_error_set("cg_layer_spec_line: the %s line does not fit in %zu bytes", layer_class->type,
                     size);
        return -1;
    }
    return 0;
}
