/* cg_compile: the loss, optimizer and metrics a model trains with. */
#include "core/error.h"
#include "nn/nn_internal.h"

enum { KNOWN_METRICS = CG_METRIC_ACCURACY | CG_METRIC_BINARY_ACCURACY | CG_METRIC_MAE };

/* Why loss and metrics cannot go together, or NULL. Accuracy compares an argmax with class
 * labels and binary accuracy the sign of a logit with 0/1 targets, so each needs the loss that
 * gives its targets that meaning. */
static const char *compile_problem(const cg_model *model, const cg_optimizer *optimizer,
                                   cg_loss loss, unsigned metrics) {
    if (!model) return "no model";
    if (!optimizer) return "no optimizer (did its constructor fail?)";
    if ((unsigned)loss >= CG_LOSS_COUNT) return "unknown loss";
    if (metrics & ~(unsigned)KNOWN_METRICS) return "unknown metric flags";
    if ((metrics & CG_METRIC_ACCURACY) && loss != CG_LOSS_CROSS_ENTROPY)
        return "the accuracy metric needs the cross_entropy loss (class labels)";
    if ((metrics & CG_METRIC_BINARY_ACCURACY) && loss != CG_LOSS_BINARY_CROSS_ENTROPY)
        return "the binary accuracy metric needs the binary_cross_entropy loss (logits)";
    return NULL;
}

int cg_compile(cg_model *model, cg_optimizer *optimizer, cg_loss loss, unsigned metrics) {
    const char *problem = compile_problem(model, optimizer, loss, metrics);
    if (problem) {
        cg_error_set("cg_compile: %s (loss %d, metrics 0x%x)", problem, (int)loss, metrics);
        /* The model owns the optimizer from the call on, so a rejected one is freed here. */
        if (!model || optimizer != model->optimizer) cg_optimizer_free(optimizer);
        return -1;
    }
    if (model->optimizer != optimizer) cg_optimizer_free(model->optimizer);
    model->optimizer = optimizer;
    model->loss = loss;
    model->metrics = metrics;
    model->compiled = true;
    return 0;
}

cg_optimizer *cg_model_optimizer(const cg_model *model) { return model ? model->optimizer : NULL; }

cg_loss cg_model_loss(const cg_model *model) { return model ? model->loss : CG_LOSS_CROSS_ENTROPY; }

unsigned cg_model_metrics(const cg_model *model) { return model ? model->metrics : 0; }
