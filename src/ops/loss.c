/* Losses composed from differentiable ops inside a scope of their own, so their gradients come
 * from those ops' backward rules and their temporaries are freed on return. */
#include <string.h>

#include "ops/ops.h"

typedef cg_tensor *(*elementwise_loss_fn)(const cg_tensor *prediction, const cg_tensor *target);

static bool check_reduction(const char *op, cg_reduction reduction) {
    if ((unsigned)reduction <= CG_REDUCTION_NONE) return true;
    cg_error_set("%s: invalid reduction %d", op, (int)reduction);
    return false;
}

/* Called inside the loss's scope: the result is kept by the caller. */
static cg_tensor *reduce_losses(cg_tensor *losses, cg_reduction reduction) {
    switch (reduction) {
    case CG_REDUCTION_MEAN: return cg_mean(losses, CG_ALL_DIMS, false);
    case CG_REDUCTION_SUM: return cg_sum(losses, CG_ALL_DIMS, false);
    default: return losses;
    }
}

static cg_tensor *squared_error(const cg_tensor *prediction, const cg_tensor *target) {
    cg_tensor *difference = cg_sub(prediction, target);
    return cg_mul(difference, difference);
}

static cg_tensor *absolute_error(const cg_tensor *prediction, const cg_tensor *target) {
    return cg_abs(cg_sub(prediction, target));
}

/* log(1 + e^x) - x*y: softplus is computed as max(x, 0) + log1p(e^-|x|), so no exp overflows
 * for large |x|, and its derivative sigmoid(x) makes the gradient sigmoid(x) - y everywhere. */
static cg_tensor *binary_cross_entropy(const cg_tensor *logits, const cg_tensor *target) {
    return cg_sub(cg_softplus(logits), cg_mul(logits, target));
}

/* A loss over prediction and target of one float dtype, device and shape. */
static cg_tensor *pairwise_loss(const char *op, elementwise_loss_fn elementwise,
                                const cg_tensor *prediction, const cg_tensor *target,
                                cg_reduction reduction) {
    if (!prediction || !target) return NULL;
    if (!check_reduction(op, reduction) || !cg_require_float(op, prediction) ||
        !cg_require_same_kind(op, prediction, target))
        return NULL;
    if (prediction->ndim != target->ndim ||
        memcmp(prediction->shape, target->shape, sizeof(int64_t) * (size_t)prediction->ndim)) {
        cg_error_set("%s: prediction of shape %s and target of shape %s must have the same shape",
                     op, cg_shape_text(prediction), cg_shape_text(target));
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *out = cg_keep(reduce_losses(elementwise(prediction, target), reduction));
    cg_scope_end();
    return out;
}

cg_tensor *cg_mse_loss(const cg_tensor *prediction, const cg_tensor *target,
                       cg_reduction reduction) {
    return pairwise_loss("mse_loss", squared_error, prediction, target, reduction);
}

cg_tensor *cg_l1_loss(const cg_tensor *prediction, const cg_tensor *target,
                      cg_reduction reduction) {
    return pairwise_loss("l1_loss", absolute_error, prediction, target, reduction);
}

cg_tensor *cg_bce_with_logits(const cg_tensor *logits, const cg_tensor *target,
                              cg_reduction reduction) {
    return pairwise_loss("bce_with_logits", binary_cross_entropy, logits, target, reduction);
}

cg_tensor *cg_cross_entropy(const cg_tensor *logits, const cg_tensor *labels,
                            cg_reduction reduction) {
    if (!logits || !labels) return NULL;
    if (!check_reduction("cross_entropy", reduction) || !cg_require_float("cross_entropy", logits))
        return NULL;
    if (logits->ndim != 2) {
        cg_error_set("cross_entropy: logits must have shape [N, C], got %s", cg_shape_text(logits));
        return NULL;
    }
    if (labels->ndim != 1 || labels->shape[0] != logits->shape[0]) {
        cg_error_set("cross_entropy: labels must have shape [N] = [%lld] for logits of shape %s, "
                     "got %s",
                     (long long)logits->shape[0], cg_shape_text(logits), cg_shape_text(labels));
        return NULL;
    }
    if (!cg_check_class_labels("cross_entropy", labels, logits->shape[1])) return NULL;
    cg_scope_begin();
    cg_tensor *log_probs = cg_log_softmax(logits, 1);
    cg_tensor *picked = cg_squeeze(cg_gather(log_probs, 1, cg_unsqueeze(labels, 1)), 1);
    cg_tensor *out = cg_keep(reduce_losses(cg_neg(picked), reduction));
    cg_scope_end();
    return out;
}
