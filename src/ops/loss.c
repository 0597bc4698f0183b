/* Losses composed from differentiable ops inside a scope of their own, so their gradients come
 * from those ops' backward rules and their temporaries are freed on return; cross-entropy's
 * per-sample losses are one op with the softmax fused in, whose gradient is softmax - onehot. */
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

/* The gradient of each sample's loss -log_softmax(logits)[label] is softmax(logits) - onehot:
 * one exp of the saved log-probabilities, a -1 added at each label and a scaling by the
 * sample's output gradient, where the composed ops would run the backward of a gather (zeros and
 * a scatter) and of log_softmax. */
static int cross_entropy_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                                  cg_tensor **grads) {
    (void)out;
    const cg_tensor *log_probs = node->saved[0], *index = node->saved[1];
    const cg_backend *backend = cg_tensor_backend(log_probs);
    const int64_t samples = log_probs->shape[0], classes = log_probs->shape[1];
    const double no_params[2] = {0, 0};
    cg_tensor *grad = cg_empty_like(log_probs);
    cg_tensor *minus_one =
        cg_new_like_shape(log_probs, 2, (const int64_t[]){samples, 1}, log_probs->dtype);
    cg_tensor *scale = cg_tensor_new_view(g, 2, (const int64_t[]){samples, classes},
                                          (const int64_t[]){g->strides[0], 0}, g->offset);
    if (!grad || !minus_one || !scale ||
        backend->unary(CG_UNARY_EXP, no_params, log_probs, grad) != 0 ||
        backend->fill(minus_one, -1.0) != 0 ||
        backend->scatter_add(grad, 1, index, minus_one) != 0 ||
        backend->binary(CG_BINARY_MUL, grad, scale, grad) != 0)
        return -1;
    grads[0] = grad;
    return 0;
}

static const cg_op_def cross_entropy_op = {"cross_entropy", cross_entropy_backward};

/* Each sample's loss -log_softmax(logits)[label] as one op over the logits, its node keeping the
 * log-probabilities and the labels (as an (N, 1) index). Called inside the loss's scope. */
static cg_tensor *sample_cross_entropy(const cg_tensor *logits, const cg_tensor *labels) {
    const cg_backend *backend = cg_tensor_backend(logits);
    const int64_t samples = logits->shape[0];
    const double no_params[2] = {0, 0};
    cg_tensor *log_probs = cg_empty_like(logits);
    cg_tensor *index = cg_tensor_new_view(labels, 2, (const int64_t[]){samples, 1},
                                          (const int64_t[]){labels->strides[0], 1}, labels->offset);
    cg_tensor *picked = cg_new_like_shape(logits, 2, (const int64_t[]){samples, 1}, logits->dtype);
    cg_tensor *losses = cg_new_like_shape(logits, 1, &samples, logits->dtype);
    cg_tensor *picked_line =
        picked ? cg_tensor_new_view(picked, 1, &samples, (const int64_t[]){1}, picked->offset)
               : NULL;
    if (!log_probs || !index || !losses || !picked_line ||
        backend->softmax(logits, 1, true, log_probs) != 0 ||
        backend->gather(log_probs, 1, index, picked) != 0 ||
        backend->unary(CG_UNARY_NEG, no_params, picked_line, losses) != 0)
        return NULL;
    cg_tensor *inputs[1] = {(cg_tensor *)logits};
    if (cg_needs_grad(inputs, 1)) {
        cg_node *node = cg_node_attach(losses, &cross_entropy_op, inputs, 1);
        if (!node) return NULL;
        cg_node_save(node, log_probs);
        cg_node_save(node, index);
    }
    return losses;
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
    if (!cg_device_equal(logits->storage->device, labels->storage->device)) {
        char dl[32], dy[32];
        cg_error_set("cross_entropy: logits on %s and labels on %s must be on one device",
                     cg_device_name(logits->storage->device, dl, sizeof dl),
                     cg_device_name(labels->storage->device, dy, sizeof dy));
        return NULL;
    }
    if (!cg_check_class_labels("cross_entropy", labels, logits->shape[1])) return NULL;
    cg_scope_begin();
    cg_tensor *out = cg_keep(reduce_losses(sample_cross_entropy(logits, labels), reduction));
    cg_scope_end();
    return out;
}
