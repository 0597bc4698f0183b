/* The loss and the compiled metrics summed over the batches of a pass, so that a pass's value is
 * the mean over its samples whatever the batch sizes (fit's epochs, evaluate, validation). */
#ifndef CG_NN_METRICS_H
#define CG_NN_METRICS_H

#include "cgrad.h"

/* The metrics in the order they are logged. */
enum {
    CG_METRIC_KIND_ACCURACY = 0,
    CG_METRIC_KIND_BINARY_ACCURACY,
    CG_METRIC_KIND_MAE,
    CG_METRIC_KIND_COUNT
};

typedef struct {
    unsigned metrics; /* CG_METRIC_* flags to compute */
    int64_t samples;
    double loss_sum; /* batch mean loss times the batch's samples */
    /* Correct predictions (accuracies) or absolute errors (mae), and how many were counted. */
    double metric_sums[CG_METRIC_KIND_COUNT];
    int64_t metric_counts[CG_METRIC_KIND_COUNT];
} cg_metric_totals;

/* The CG_METRIC_* flag of a kind, and its logged name ("accuracy", "binary_accuracy", "mae"). */
unsigned cg_metric_flag(int kind);
const char *cg_metric_name(int kind);

/* Empty totals for the given metric flags. */
cg_metric_totals cg_metric_totals_start(unsigned metrics);
/* Adds a batch: its outputs, its targets and its mean loss. Records no graph. 0, or -1 with an
 * error when the targets do not fit the outputs. */
int cg_metric_totals_add(cg_metric_totals *totals, const cg_tensor *output, const cg_tensor *target,
                         double batch_loss);
/* The mean loss over the samples added so far (NaN before any). */
double cg_metric_totals_loss(const cg_metric_totals *totals);
/* The value of metric kind (NaN when it is not computed or nothing was added). */
double cg_metric_totals_value(const cg_metric_totals *totals, int kind);

#endif
