/* Initial weights of the layers with a weight matrix or kernel (dense, conv2d): He normal keeps
 * the variance of relu-like activations through deep stacks; Glorot uniform suits the others. */
#include <math.h>

#include "nn/layers.h"

cg_initializer cg_initializer_resolve(cg_initializer initializer, cg_activation activation) {
    if (initializer != CG_INIT_AUTO) return initializer;
    switch (activation) {
    case CG_ACTIVATION_RELU:
    case CG_ACTIVATION_LEAKY_RELU:
    case CG_ACTIVATION_GELU: return CG_INIT_HE_NORMAL;
    default: return CG_INIT_GLOROT_UNIFORM;
    }
}

cg_tensor *cg_initial_weight(cg_initializer initializer, cg_shape shape, int64_t fan_in,
                             int64_t fan_out) {
    switch (initializer) {
    case CG_INIT_HE_NORMAL:
        return cg_mul_scalar(cg_randn(shape, CG_FLOAT32), sqrt(2.0 / (double)fan_in));
    case CG_INIT_ZEROS: return cg_zeros(shape, CG_FLOAT32);
    default: {
        const double limit = sqrt(6.0 / (double)(fan_in + fan_out));
        return cg_add_scalar(cg_mul_scalar(cg_rand(shape, CG_FLOAT32), 2 * limit), -limit);
    }
    }
}
