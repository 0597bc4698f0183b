/* Batch normalisation per feature of (N, F) inputs and per channel of (N, C, H, W) inputs, with
 * PyTorch's conventions: biased batch variance to normalise, unbiased variance in the running
 * estimate, running = (1 - momentum) * running + momentum * batch. */

#include "core/error.h"
#include "core/tensor.h"
#include "nn/layers.h"

static const double MOMENTUM = 0.1, EPSILON = 1e-5;

static int batch_norm_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    if (input_shape.ndim != 1 && input_shape.ndim != 3) {
        char text[64];
        cg_error_set("expects samples of shape (F) or (C, H, W), got %s",
                     cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    const cg_shape channels = CG_SHAPE(input_shape.dims[0]);
    cg_scope_begin();
    const bool ok = cg_layer_add_parameter(layer, "weight", cg_ones(channels, CG_FLOAT32)) &&
                    cg_layer_add_parameter(layer, "bias", cg_zeros(channels, CG_FLOAT32)) &&
                    cg_layer_add_buffer(layer, "running_mean", cg_zeros(channels, CG_FLOAT32)) &&
                    cg_layer_add_buffer(layer, "running_var", cg_ones(channels, CG_FLOAT32));
    cg_scope_end();
    *output_shape = input_shape;
    return ok ? 0 : -1;
}

/* running += momentum * (batch - running), the same as PyTorch's blend; records no graph. */
static int update_running_statistics(cg_layer *layer, const cg_tensor *x, cg_dims dims) {
    const bool previous = cg_set_grad_enabled(false);
    cg_tensor *running_mean = cg_layer_tensor(layer, "running_mean");
    cg_tensor *running_var = cg_layer_tensor(layer, "running_var");
    const cg_tensor *batch_mean = cg_mean(x, dims, false);
    const cg_tensor *batch_var = cg_var(x, dims, true, false);
    const int status =
        batch_mean && batch_var &&
                cg_add_scaled_(running_mean, cg_sub(batch_mean, running_mean), MOMENTUM) == 0 &&
                cg_add_scaled_(running_var, cg_sub(batch_var, running_var), MOMENTUM) == 0
            ? 0
            : -1;
    cg_set_grad_enabled(previous);
    return status;
}

static cg_tensor *batch_norm_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    const int64_t channels = layer->input_shape.dims[0];
    const bool images = layer->input_shape.ndim == 3;
    const cg_dims dims = images ? CG_DIMS(0, 2, 3) : CG_DIMS(0);
    const cg_shape per_channel = images ? CG_SHAPE(1, channels, 1, 1) : CG_SHAPE(1, channels);
    if (training && cg_numel(x) / channels < 2) {
        cg_error_set("training needs more than one value per channel, got input %s",
                     cg_shape_text(x));
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *mean, *var;
    if (training) {
        mean = cg_mean(x, dims, true);
        var = cg_var(x, dims, false, true);
        if (update_running_statistics(layer, x, dims) != 0) mean = NULL;
    } else {
        mean = cg_reshape(cg_layer_tensor(layer, "running_mean"), per_channel);
        var = cg_reshape(cg_layer_tensor(layer, "running_var"), per_channel);
    }
    cg_tensor *normalized = cg_div(cg_sub(x, mean), cg_sqrt(cg_add_scalar(var, EPSILON)));
    cg_tensor *scaled =
        cg_mul(normalized, cg_reshape(cg_layer_tensor(layer, "weight"), per_channel));
    cg_tensor *result =
        cg_keep(cg_add(scaled, cg_reshape(cg_layer_tensor(layer, "bias"), per_channel)));
    cg_scope_end();
    return result;
}

static int batch_norm_config(const cg_layer *layer, char *buffer, size_t size) {
    (void)layer;
    if (size) buffer[0] = '\0';
    return 0;
}

static const cg_layer_class BATCH_NORM_CLASS = {
    .type = "batchnorm",
    .build = batch_norm_build,
    .forward = batch_norm_forward,
    .config = batch_norm_config,
};

cg_layer *cg_layer_batch_norm(void) { return cg_layer_new(&BATCH_NORM_CLASS, NULL); }

cg_layer *cg_batch_norm_from_spec(const char *arguments) {
    if (cg_spec_expect_end(arguments, "batchnorm", "no arguments") != 0) return NULL;
    return cg_layer_batch_norm();
}
