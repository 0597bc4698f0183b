/* The fully connected layer: y = activation(x @ weight^T + bias), weight stored (out, in) like
 * PyTorch's Linear so that state dicts carry the same names and layouts. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/layers.h"

typedef struct {
    int64_t units;
    cg_dense_options options;
} dense_state;

static int dense_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    const dense_state *state = layer->state;
    if (input_shape.ndim != 1) {
        char text[64];
        cg_error_set("expects samples of 1 dim, got %s (add a flatten layer before it)",
                     cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    const int64_t in = input_shape.dims[0];
    cg_scope_begin();
    const cg_initializer initializer =
        cg_initializer_resolve(state->options.initializer, state->options.activation);
    bool ok = cg_layer_add_parameter(
        layer, "weight",
        cg_initial_weight(initializer, CG_SHAPE(state->units, in), in, state->units));
    if (ok && !state->options.no_bias)
        ok = cg_layer_add_parameter(layer, "bias", cg_zeros(CG_SHAPE(state->units), CG_FLOAT32));
    cg_scope_end();
    *output_shape = CG_SHAPE(state->units);
    return ok ? 0 : -1;
}

static cg_tensor *dense_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    const dense_state *state = layer->state;
    /* One fused op: the product, the bias and the activation make one tensor, not three. */
    return cg_linear(x, cg_layer_tensor(layer, "weight"),
                     state->options.no_bias ? NULL : cg_layer_tensor(layer, "bias"),
                     state->options.activation);
}

static int dense_config(const cg_layer *layer, char *buffer, size_t size) {
    const dense_state *state = layer->state;
    const cg_activation activation = state->options.activation;
    snprintf(buffer, size, "%lld%s%s%s", (long long)state->units,
             activation != CG_ACTIVATION_NONE ? " " : "",
             activation != CG_ACTIVATION_NONE ? cg_activation_name(activation) : "",
             state->options.no_bias ? " no_bias" : "");
    return 0;
}

static const cg_layer_class DENSE_CLASS = {
    .type = "dense",
    .build = dense_build,
    .forward = dense_forward,
    .config = dense_config,
    .destroy = free,
};

cg_layer *cg_layer_dense_with(int64_t units, const cg_dense_options *options) {
    const cg_dense_options defaults = {0};
    if (!options) options = &defaults;
    if (units <= 0) {
        cg_error_set("cg_layer_dense: units must be positive, got %lld", (long long)units);
        return NULL;
    }
    if ((unsigned)options->activation >= CG_ACTIVATION_COUNT ||
        (unsigned)options->initializer > CG_INIT_ZEROS) {
        cg_error_set("cg_layer_dense: unknown activation %d or initializer %d",
                     (int)options->activation, (int)options->initializer);
        return NULL;
    }
    dense_state *state = malloc(sizeof *state);
    if (!state) {
        cg_error_set("cg_layer_dense: out of memory");
        return NULL;
    }
    *state = (dense_state){.units = units, .options = *options};
    return cg_layer_new(&DENSE_CLASS, state);
}

cg_layer *cg_layer_dense(int64_t units, cg_activation activation) {
    return cg_layer_dense_with(units, &(cg_dense_options){.activation = activation});
}

cg_layer *cg_dense_from_spec(const char *arguments) {
    static const char *const usage = "UNITS [ACTIVATION] [no_bias]";
    char word[64];
    cg_dense_options options = {0};
    int64_t units;
    cg_spec_next_word(&arguments, word, sizeof word);
    if (cg_spec_positive_integer("dense", "UNITS (a positive integer)", word, &units) != 0)
        return NULL;
    if (cg_spec_next_word(&arguments, word, sizeof word) && strcmp(word, "no_bias") != 0) {
        if (cg_activation_parse(word, &options.activation) != 0) {
            cg_error_set("dense expects ACTIVATION (none, relu, sigmoid, tanh, softmax, "
                         "leaky_relu or gelu), got '%s'",
                         word);
            return NULL;
        }
        cg_spec_next_word(&arguments, word, sizeof word);
    }
    if (strcmp(word, "no_bias") == 0) {
        options.no_bias = true;
    } else if (word[0]) {
        cg_error_set("dense takes %s; unexpected '%s'", usage, word);
        return NULL;
    }
    if (cg_spec_expect_end(arguments, "dense", usage) != 0) return NULL;
    return cg_layer_dense_with(units, &options);
}
