/* Activation functions by enum, with their names for specs and summaries. */
#include <string.h>

#include "core/error.h"
#include "nn/nn_internal.h"
#include "ops/epilogue.h"
#include "ops/ops.h"

static const char *const ACTIVATION_NAMES[CG_ACTIVATION_COUNT] = {
    [CG_ACTIVATION_NONE] = "none",       [CG_ACTIVATION_RELU] = "relu",
    [CG_ACTIVATION_SIGMOID] = "sigmoid", [CG_ACTIVATION_TANH] = "tanh",
    [CG_ACTIVATION_SOFTMAX] = "softmax", [CG_ACTIVATION_LEAKY_RELU] = "leaky_relu",
    [CG_ACTIVATION_GELU] = "gelu",
};

cg_tensor *cg_activate(const cg_tensor *x, cg_activation activation) {
    if (!x) return NULL;
    switch (activation) {
    case CG_ACTIVATION_NONE: return cg_alias(x);
    case CG_ACTIVATION_RELU: return cg_relu(x);
    case CG_ACTIVATION_SIGMOID: return cg_sigmoid(x);
    case CG_ACTIVATION_TANH: return cg_tanh(x);
    case CG_ACTIVATION_SOFTMAX: return cg_softmax(x, -1);
    case CG_ACTIVATION_LEAKY_RELU: return cg_leaky_relu(x, CG_LEAKY_RELU_SLOPE);
    case CG_ACTIVATION_GELU: return cg_gelu(x);
    case CG_ACTIVATION_COUNT: break;
    }
    cg_error_set("cg_activate: unknown activation %d", (int)activation);
    return NULL;
}

const char *cg_activation_name(cg_activation activation) {
    if ((unsigned)activation >= CG_ACTIVATION_COUNT) return "invalid";
    return ACTIVATION_NAMES[activation];
}

int cg_activation_parse(const char *name, cg_activation *activation) {
    for (int i = 0; name && i < CG_ACTIVATION_COUNT; i++) {
        if (strcmp(name, ACTIVATION_NAMES[i]) == 0) {
            if (activation) *activation = (cg_activation)i;
            return 0;
        }
    }
    cg_error_set("unknown activation '%s' (expected none, relu, sigmoid, tanh, softmax, "
                 "leaky_relu or gelu)",
                 name ? name : "(null)");
    return -1;
}
