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
    /* On a GPU, the sums queued there (a float64 vector, so that the GPU is not waited for at each
     * batch): the batch mean losses times their samples, each metric's sum, and the last batch's
     * loss, which cg_metric_totals_read copies into the fields below. NULL on the CPU, where the
     * fields are added to at each batch. */
    cg_tensor *sums;
    double loss_sum; /* batch mean loss times the batch's samples */
    /* Correct predictions (accuracies) or absolute errors (mae), and how many were counted. */
    double metric_sums[CG_METRIC_KIND_COUNT];
    int64_t metric_counts[CG_METRIC_KIND_COUNT];
    double batch_loss; /* of the last batch added */
} cg_metric_totals;

/* The CG_METRIC_* flag of a kind, and its logged name ("accuracy", "binary_accuracy", "mae"). */
unsigned cg_metric_flag(int kind);
const char *cg_metric_name(int kind);

/* Empty totals for the given metric flags, kept for a model on device. 0, or -1 with an error
 * (the device is not available); cg_metric_totals_release frees them either way. */
int cg_metric_totals_start(cg_metric_totals *totals, unsigned metrics, cg_device device);
/* Adds a batch: its outputs, its targets and its mean loss (a one-element tensor), without
 * waiting for a GPU. Records no graph. 0, or -1 with an error when the targets do not fit the
 * outputs. */
int cg_metric_totals_add(cg_metric_totals *totals, const cg_tensor *output, const cg_tensor *target,
                         const cg_tensor *loss);
/* Brings loss_sum, metric_sums and batch_loss up to date: on a GPU, copies the sums after the
 * queued batches. 0, or -1 with an error (a kernel failed, or an index was out of range). */
int cg_metric_totals_read(cg_metric_totals *totals);
/* Frees the device sums; the values read stay. */
void cg_metric_totals_release(cg_metric_totals *totals);
/* Sets started totals to the values of saved (as cg_metric_totals_read left them), e.g. from a
 * checkpoint taken inside an epoch. 0 or -1 with an error. */
int cg_metric_totals_restore(cg_metric_totals *totals, const cg_metric_totals *saved);
/* The mean loss over the samples read so far (NaN before any). */
double cg_metric_totals_loss(const cg_metric_totals *totals);
/* The value of metric kind (NaN when it is not computed or nothing was added). */
double cg_metric_totals_value(const cg_metric_totals *totals, int kind);

#endif
