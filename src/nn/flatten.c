/* Flattens each sample to one dim, e.g. images (C, H, W) before dense layers. */
#include "core/error.h"
#include "nn/layers.h"

static int flatten_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    int64_t features = 1;
    for (int d = 0; d < input_shape.ndim; d++) {
        if (input_shape.dims[d] < 0 ||
            (input_shape.dims[d] > 0 && features > INT64_MAX / input_shape.dims[d])) {
            char text[128];
            cg_error_set("flatten: samples of shape %s have too many elements",
                         cg_shape_format(input_shape, text, sizeof text));
            return -1;
        }
        features *= input_shape.dims[d];
    }
    *output_shape = CG_SHAPE(features);
    return 0;
}

static cg_tensor *flatten_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    return cg_reshape(x, CG_SHAPE(cg_dim(x, 0), layer->output_shape.dims[0]));
}

static int flatten_config(const cg_layer *layer, char *buffer, size_t size) {
    (void)layer;
    if (size) buffer[0] = '\0';
    return 0;
}

static const cg_layer_class FLATTEN_CLASS = {
    .type = "flatten",
    .build = flatten_build,
    .forward = flatten_forward,
    .config = flatten_config,
};

cg_layer *cg_layer_flatten(void) { return cg_layer_new(&FLATTEN_CLASS, NULL); }

cg_layer *cg_flatten_from_spec(const char *arguments) {
    if (cg_spec_expect_end(arguments, "flatten", "no arguments") != 0) return NULL;
    return cg_layer_flatten();
}
