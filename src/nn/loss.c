/* The losses a model is compiled with: shape and dtype checks in front of the loss ops. */
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/nn_internal.h"

static const char *const LOSS_NAMES[CG_LOSS_COUNT] = {
    [CG_LOSS_CROSS_ENTROPY] = "cross_entropy",
    [CG_LOSS_BINARY_CROSS_ENTROPY] = "binary_cross_entropy",
    [CG_LOSS_MSE] = "mse",
    [CG_LOSS_MAE] = "mae",
};

static cg_tensor *cross_entropy(const cg_tensor *output, const cg_tensor *target) {
    const bool integer_labels = target->dtype == CG_INT64 || target->dtype == CG_INT32;
    if (output->ndim != 2 || target->ndim != 1 || !integer_labels ||
        target->shape[0] != output->shape[0]) {
        cg_error_set("cg_loss_compute: cross_entropy expects outputs (N, C) and int32 or int64 "
                     "class labels (N); got outputs %s and %s labels %s",
                     cg_shape_text(output), cg_dtype_name(target->dtype), cg_shape_text(target));
        return NULL;
    }
    return cg_cross_entropy(output, target, CG_REDUCTION_MEAN);
}

/* The target in the output's shape and dtype. Targets (N) for outputs (N, 1) are reshaped
 * rather than broadcast, which would silently compare every output with every target. */
static cg_tensor *conforming_target(const char *loss_name, const cg_tensor *output,
                                    const cg_tensor *target) {
    cg_shape shape = cg_tensor_shape(target);
    const bool column_output = output->ndim == 2 && output->shape[1] == 1 && target->ndim == 1;
    if (column_output) shape = CG_SHAPE(target->shape[0], 1);
    bool same_shape = shape.ndim == output->ndim;
    for (int d = 0; same_shape && d < shape.ndim; d++)
        same_shape = shape.dims[d] == output->shape[d];
    if (!same_shape) {
        cg_error_set("cg_loss_compute: %s expects targets of the outputs' shape %s, got %s",
                     loss_name, cg_shape_text(output), cg_shape_text(target));
        return NULL;
    }
    cg_tensor *reshaped =
        column_output ? cg_reshape(target, shape) : cg_retain((cg_tensor *)target);
    if (!reshaped || reshaped->dtype == output->dtype) return reshaped;
    cg_tensor *converted = cg_to_dtype(reshaped, output->dtype);
    cg_release(reshaped);
    return converted;
}

cg_tensor *cg_loss_compute(cg_loss loss, const cg_tensor *output, const cg_tensor *target) {
    if (!output || !target) return NULL;
    if ((unsigned)loss >= CG_LOSS_COUNT) {
        cg_error_set("cg_loss_compute: unknown loss %d", (int)loss);
        return NULL;
    }
    if (!cg_require_float("cg_loss_compute", output)) return NULL;
    if (loss == CG_LOSS_CROSS_ENTROPY) return cross_entropy(output, target);
    cg_tensor *conformed = conforming_target(LOSS_NAMES[loss], output, target);
    if (!conformed) return NULL;
    cg_tensor *result = NULL;
    switch (loss) {
    case CG_LOSS_BINARY_CROSS_ENTROPY:
        result = cg_bce_with_logits(output, conformed, CG_REDUCTION_MEAN);
        break;
    case CG_LOSS_MSE: result = cg_mse_loss(output, conformed, CG_REDUCTION_MEAN); break;
    case CG_LOSS_MAE: result = cg_l1_loss(output, conformed, CG_REDUCTION_MEAN); break;
    default: break;
    }
    cg_release(conformed);
    return result;
}

const char *cg_loss_name(cg_loss loss) {
    if ((unsigned)loss >= CG_LOSS_COUNT) return "invalid";
    return LOSS_NAMES[loss];
}

int cg_loss_parse(const char *name, cg_loss *loss) {
    for (int i = 0; name && i < CG_LOSS_COUNT; i++) {
        if (strcmp(name, LOSS_NAMES[i]) == 0) {
            if (loss) *loss = (cg_loss)i;
            return 0;
        }
    }
    cg_error_set("unknown loss '%s' (expected cross_entropy, binary_cross_entropy, mse or mae)",
                 name ? name : "(null)");
    return -1;
}
