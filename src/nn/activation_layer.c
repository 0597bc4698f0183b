/* A layer that only applies an activation; its spec line is "activation NAME". */
#include <stdlib.h>

#include "core/error.h"
#include "nn/layers.h"

static int activation_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *activation_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    return cg_activate(x, *(const cg_activation *)layer->state);
}

static int activation_config(const cg_layer *layer, char *buffer, size_t size) {
    snprintf(buffer, size, "%s", cg_activation_name(*(const cg_activation *)layer->state));
    return 0;
}

static const cg_layer_class ACTIVATION_CLASS = {
    .type = "activation",
    .build = activation_build,
    .forward = activation_forward,
    .config = activation_config,
    .destroy = free,
};

cg_layer *cg_layer_activation(cg_activation activation) {
    if ((unsigned)activation >= CG_ACTIVATION_COUNT) {
        cg_error_set("cg_layer_activation: unknown activation %d", (int)activation);
        return NULL;
    }
    cg_activation *state = malloc(sizeof *state);
    if (!state) {
        cg_error_set("cg_layer_activation: out of memory");
        return NULL;
    }
    *state = activation;
    return cg_layer_new(&ACTIVATION_CLASS, state);
}

cg_layer *cg_activation_layer_from_spec(const char *arguments) {
    char word[64];
    cg_activation activation;
    cg_spec_next_word(&arguments, word, sizeof word);
    if (cg_activation_parse(word, &activation) != 0) {
        cg_error_set("activation expects NAME (none, relu, sigmoid, tanh, softmax, leaky_relu or "
                     "gelu), got '%s'",
                     word);
        return NULL;
    }
    if (cg_spec_expect_end(arguments, "activation", "NAME") != 0) return NULL;
    return cg_layer_activation(activation);
}
