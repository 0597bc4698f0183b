/* The 2-D convolution layer: y = activation(conv2d(x, weight) + bias) over samples (C, H, W), the
 * weight stored (F, C, K, K) like PyTorch's Conv2d so that state dicts carry the same names and
 * layouts. Its spec line is "conv2d FILTERS KERNEL [stride=S] [padding=same|valid] [ACTIVATION]
 * [no_bias]". */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/layers.h"

typedef struct {
    int64_t filters;
    int kernel_size;
    cg_conv2d_layer_options options; /* stride resolved: at least 1 */
} conv2d_state;

/* Output positions along a side of size pixels, as cg_conv2d computes them. */
static int64_t output_size(const conv2d_state *state, int64_t size) {
    const int64_t stride = state->options.stride;
    if (state->options.padding_same) return (size + stride - 1) / stride;
    return (size - state->kernel_size) / stride + 1;
}

static int conv2d_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    const conv2d_state *state = layer->state;
    /* "same" padding makes room for any kernel; "valid" needs the kernel to fit. */
    const int64_t window = state->options.padding_same ? 1 : state->kernel_size;
    if (cg_check_image_input(input_shape, window, "kernel") != 0) return -1;
    const int64_t channels = input_shape.dims[0], filters = state->filters;
    const int64_t area = (int64_t)state->kernel_size * state->kernel_size;
    /* Sizes from a spec can be anything: the weight must stay within what a tensor can hold. */
    int64_t fan_in, fan_out, weight_count;
    if (__builtin_mul_overflow(channels, area, &fan_in) ||
        __builtin_mul_overflow(filters, area, &fan_out) ||
        __builtin_mul_overflow(fan_in, filters, &weight_count) || weight_count > INT64_MAX / 8) {
        cg_error_set("%lld filters of %dx%d over %lld channels make a weight too large for a "
                     "tensor",
                     (long long)filters, state->kernel_size, state->kernel_size,
                     (long long)channels);
        return -1;
    }
    const cg_initializer initializer =
        cg_initializer_resolve(CG_INIT_AUTO, state->options.activation);
    const cg_shape weight_shape =
        CG_SHAPE(filters, channels, state->kernel_size, state->kernel_size);
    cg_scope_begin();
    bool ok = cg_layer_add_parameter(layer, "weight",
                                     cg_initial_weight(initializer, weight_shape, fan_in, fan_out));
    if (ok && !state->options.no_bias)
        ok = cg_layer_add_parameter(layer, "bias", cg_zeros(CG_SHAPE(filters), CG_FLOAT32));
    cg_scope_end();
    *output_shape = CG_SHAPE(filters, output_size(state, input_shape.dims[1]),
                             output_size(state, input_shape.dims[2]));
    return ok ? 0 : -1;
}

static cg_tensor *conv2d_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    const conv2d_state *state = layer->state;
    /* The activation is fused into the convolution: one tensor of the output's size, not two. */
    const cg_conv2d_options options = {.stride_h = state->options.stride,
                                       .stride_w = state->options.stride,
                                       .padding_same = state->options.padding_same,
                                       .activation = state->options.activation};
    return cg_conv2d(x, cg_layer_tensor(layer, "weight"),
                     state->options.no_bias ? NULL : cg_layer_tensor(layer, "bias"), &options);
}

static int conv2d_config(const cg_layer *layer, char *buffer, size_t size) {
    const conv2d_state *state = layer->state;
    const cg_conv2d_layer_options *options = &state->options;
    size_t used =
        (size_t)snprintf(buffer, size, "%lld %d", (long long)state->filters, state->kernel_size);
    if (options->stride != 1 && used < size)
        used += (size_t)snprintf(buffer + used, size - used, " stride=%d", options->stride);
    if (options->padding_same && used < size)
        used += (size_t)snprintf(buffer + used, size - used, " padding=same");
    if (options->activation != CG_ACTIVATION_NONE && used < size)
        used += (size_t)snprintf(buffer + used, size - used, " %s",
                                 cg_activation_name(options->activation));
    if (options->no_bias && used < size) snprintf(buffer + used, size - used, " no_bias");
    return 0;
}

static const cg_layer_class CONV2D_CLASS = {
    .type = "conv2d",
    .build = conv2d_build,
    .forward = conv2d_forward,
    .config = conv2d_config,
    .destroy = free,
};

cg_layer *cg_layer_conv2d(int64_t filters, int kernel_size,
                          const cg_conv2d_layer_options *options) {
    const cg_conv2d_layer_options defaults = {0};
    if (!options) options = &defaults;
    if (filters <= 0 || kernel_size <= 0 || options->stride < 0) {
        cg_error_set("cg_layer_conv2d: filters and kernel_size must be positive and stride not "
                     "negative, got %lld, %d and %d",
                     (long long)filters, kernel_size, options->stride);
        return NULL;
    }
    if ((unsigned)options->activation >= CG_ACTIVATION_COUNT) {
        cg_error_set("cg_layer_conv2d: unknown activation %d", (int)options->activation);
        return NULL;
    }
    conv2d_state *state = malloc(sizeof *state);
    if (!state) {
        cg_error_set("cg_layer_conv2d: out of memory");
        return NULL;
    }
    *state = (conv2d_state){.filters = filters, .kernel_size = kernel_size, .options = *options};
    if (state->options.stride == 0) state->options.stride = 1;
    return cg_layer_new(&CONV2D_CLASS, state);
}

/* ----- the spec line ----- */

static const char CONV2D_USAGE[] =
    "FILTERS KERNEL [stride=S] [padding=same|valid] [ACTIVATION] [no_bias]";

/* Parses a positive integer that fits an int. */
static int spec_int(const char *what, const char *word, int *value) {
    int64_t parsed;
    if (cg_spec_positive_integer("conv2d", what, word, &parsed) != 0) return -1;
    if (parsed > INT_MAX) {
        cg_error_set("conv2d expects %s, got '%s' (too large)", what, word);
        return -1;
    }
    *value = (int)parsed;
    return 0;
}

/* Which optional words a line has given, so that none is given twice. */
enum { GIVEN_STRIDE = 1, GIVEN_PADDING = 2, GIVEN_ACTIVATION = 4, GIVEN_NO_BIAS = 8 };

/* Reads one optional word into options; -1 with an error for an unknown or repeated one. */
static int parse_option(const char *word, cg_conv2d_layer_options *options, unsigned *given) {
    unsigned kind;
    int status = 0;
    if (strncmp(word, "stride=", 7) == 0) {
        kind = GIVEN_STRIDE;
        status = spec_int("stride=S (S a positive integer)", word + 7, &options->stride);
    } else if (strncmp(word, "padding=", 8) == 0) {
        kind = GIVEN_PADDING;
        options->padding_same = strcmp(word + 8, "same") == 0;
        if (!options->padding_same && strcmp(word + 8, "valid") != 0) {
            cg_error_set("conv2d expects padding=same or padding=valid, got '%s'", word);
            status = -1;
        }
    } else if (strcmp(word, "no_bias") == 0) {
        kind = GIVEN_NO_BIAS;
        options->no_bias = true;
    } else if (cg_activation_parse(word, &options->activation) == 0) {
        kind = GIVEN_ACTIVATION;
    } else {
        cg_error_set("conv2d takes %s; unexpected '%s' (activations: none, relu, sigmoid, tanh, "
                     "softmax, leaky_relu, gelu)",
                     CONV2D_USAGE, word);
        return -1;
    }
    if (status == 0 && (*given & kind)) {
        cg_error_set("conv2d takes %s; '%s' repeats an option given before", CONV2D_USAGE, word);
        return -1;
    }
    *given |= kind;
    return status;
}

cg_layer *cg_conv2d_from_spec(const char *arguments) {
    char word[64];
    int64_t filters;
    int kernel_size;
    cg_spec_next_word(&arguments, word, sizeof word);
    if (cg_spec_positive_integer("conv2d", "FILTERS (a positive integer)", word, &filters) != 0)
        return NULL;
    cg_spec_next_word(&arguments, word, sizeof word);
    if (spec_int("KERNEL (a positive integer)", word, &kernel_size) != 0) return NULL;
    cg_conv2d_layer_options options = {0};
    unsigned given = 0;
    while (cg_spec_next_word(&arguments, word, sizeof word))
        if (parse_option(word, &options, &given) != 0) return NULL;
    return cg_layer_conv2d(filters, kernel_size, &options);
}
