#include "nn/metrics.h"

#include <math.h>

#include "core/error.h"

/* Each metric is a sum over the batch (correct predictions or absolute errors) and the number of
 * predictions it was summed over; the pass's value is the ratio of the totals. */
typedef cg_tensor *(*metric_sum_fn)(const cg_tensor *output, const cg_tensor *target,
                                    int64_t *count);

static cg_tensor *targets_like_outputs(const char *metric, const cg_tensor *output,
                                       const cg_tensor *target) {
    if (!output || !target) return NULL; /* an earlier op failed and set the error */
    if (cg_numel(target) != cg_numel(output)) {
        char output_text[64], target_text[64];
        cg_error_set("%s: targets of shape %s do not match outputs of shape %s", metric,
                     cg_shape_format(cg_tensor_shape(target), target_text, sizeof target_text),
                     cg_shape_format(cg_tensor_shape(output), output_text, sizeof output_text));
        return NULL;
    }
    return cg_reshape(cg_to_dtype(target, cg_tensor_dtype(output)), cg_tensor_shape(output));
}

static bool is_integer(cg_dtype dtype) { return dtype == CG_INT32 || dtype == CG_INT64; }

/* Class labels, or one-hot (probability) rows whose argmax is the class. */
static cg_tensor *correct_classes(const cg_tensor *output, const cg_tensor *target,
                                  int64_t *count) {
    if (cg_ndim(output) < 2) {
        char text[64];
        cg_error_set("accuracy: outputs must have a class dim, got shape %s",
                     cg_shape_format(cg_tensor_shape(output), text, sizeof text));
        return NULL;
    }
    cg_tensor *predicted = cg_argmax(output, -1, false);
    cg_tensor *labels = is_integer(cg_tensor_dtype(target)) ? cg_to_dtype(target, CG_INT64)
                                                            : cg_argmax(target, -1, false);
    cg_tensor *matched = targets_like_outputs("accuracy", predicted, labels);
    *count = cg_numel(predicted);
    return cg_sum(cg_eq(predicted, matched), CG_ALL_DIMS, false);
}

/* Logits above 0 against targets above 0.5. */
static cg_tensor *correct_binary(const cg_tensor *output, const cg_tensor *target, int64_t *count) {
    cg_tensor *targets = targets_like_outputs("binary_accuracy", output, target);
    const cg_device device = cg_tensor_device(output);
    cg_tensor *zero = cg_full_on(CG_SCALAR_SHAPE, 0.0, cg_tensor_dtype(output), device);
    cg_tensor *half = cg_full_on(CG_SCALAR_SHAPE, 0.5, cg_tensor_dtype(output), device);
    *count = cg_numel(output);
    return cg_sum(cg_eq(cg_gt(output, zero), cg_gt(targets, half)), CG_ALL_DIMS, false);
}

static cg_tensor *absolute_errors(const cg_tensor *output, const cg_tensor *target,
                                  int64_t *count) {
    *count = cg_numel(output);
    return cg_sum(cg_abs(cg_sub(output, targets_like_outputs("mae", output, target))), CG_ALL_DIMS,
                  false);
}

static const struct {
    unsigned flag;
    const char *name;
    metric_sum_fn sum;
} METRICS[CG_METRIC_KIND_COUNT] = {
    [CG_METRIC_KIND_ACCURACY] = {CG_METRIC_ACCURACY, "accuracy", correct_classes},
    [CG_METRIC_KIND_BINARY_ACCURACY] = {CG_METRIC_BINARY_ACCURACY, "binary_accuracy",
                                        correct_binary},
    [CG_METRIC_KIND_MAE] = {CG_METRIC_MAE, "mae", absolute_errors},
};

unsigned cg_metric_flag(int kind) { return METRICS[kind].flag; }

const char *cg_metric_name(int kind) { return METRICS[kind].name; }

/* The positions in the sums vector. */
enum { SUM_LOSS = 0, SUM_METRICS = 1, SUM_BATCH_LOSS = SUM_METRICS + CG_METRIC_KIND_COUNT, SUMS };

/* On the CPU, where reading a value costs nothing, each batch's values are added to the doubles
 * at once; on a GPU the batches add to the sums vector there, in the same double arithmetic. */
int cg_metric_totals_start(cg_metric_totals *totals, unsigned metrics, cg_device device) {
    *totals = (cg_metric_totals){.metrics = metrics, .batch_loss = NAN};
    if (device.type == CG_DEVICE_CPU) return 0;
    totals->sums = cg_zeros_on(CG_SHAPE(SUMS), CG_FLOAT64, device);
    return totals->sums ? 0 : -1;
}

/* Adds value * scale to the sum at: the double at host, or the element at of the sums vector. */
static int add_to_sum(cg_metric_totals *totals, int at, double *host, const cg_tensor *value,
                      double scale) {
    if (!value) return -1;
    if (!totals->sums) {
        *host += cg_item(value) * scale;
        return 0;
    }
    cg_tensor *slot = cg_narrow(totals->sums, 0, at, 1);
    cg_tensor *as_double = cg_to_dtype(value, CG_FLOAT64);
    return slot && as_double ? cg_add_scaled_(slot, as_double, scale) : -1;
}

int cg_metric_totals_add(cg_metric_totals *totals, const cg_tensor *output, const cg_tensor *target,
                         const cg_tensor *loss) {
    const int64_t samples = cg_dim(output, 0);
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    cg_scope_begin();
    int status = samples < 0 ? -1 : 0;
    for (int kind = 0; status == 0 && kind < CG_METRIC_KIND_COUNT; kind++) {
        if (!(totals->metrics & METRICS[kind].flag)) continue;
        int64_t count = 0;
        status = add_to_sum(totals, SUM_METRICS + kind, &totals->metric_sums[kind],
                            METRICS[kind].sum(output, target, &count), 1.0);
        totals->metric_counts[kind] += count;
    }
    if (status == 0 && !totals->sums) totals->batch_loss = cg_item(loss);
    if (status == 0)
        status = add_to_sum(totals, SUM_LOSS, &totals->loss_sum, loss, (double)samples);
    if (status == 0 && totals->sums)
        status = cg_copy_(cg_narrow(totals->sums, 0, SUM_BATCH_LOSS, 1), loss);
    cg_scope_end();
    cg_set_grad_enabled(grad_was_enabled);
    if (status != 0) return -1;
    totals->samples += samples;
    return 0;
}

int cg_metric_totals_read(cg_metric_totals *totals) {
    if (!totals->sums) return 0;
    double sums[SUMS];
    if (cg_copy_to_array(totals->sums, sums, sizeof sums) != 0) return -1;
    totals->loss_sum = sums[SUM_LOSS];
    for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++)
        totals->metric_sums[kind] = sums[SUM_METRICS + kind];
    totals->batch_loss = sums[SUM_BATCH_LOSS];
    return 0;
}

void cg_metric_totals_release(cg_metric_totals *totals) {
    cg_release(totals->sums);
    totals->sums = NULL;
}

int cg_metric_totals_restore(cg_metric_totals *totals, const cg_metric_totals *saved) {
    cg_tensor *kept = totals->sums;
    if (kept) {
        double sums[SUMS] = {[SUM_LOSS] = saved->loss_sum, [SUM_BATCH_LOSS] = saved->batch_loss};
        for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++)
            sums[SUM_METRICS + kind] = saved->metric_sums[kind];
        cg_scope_begin();
        cg_tensor *values =
            cg_to_device(cg_from_array(sums, CG_SHAPE(SUMS), CG_FLOAT64), cg_tensor_device(kept));
        const int status = values ? cg_copy_(kept, values) : -1;
        cg_scope_end();
        if (status != 0) return -1;
    }
    *totals = *saved;
    totals->sums = kept;
    return 0;
}

double cg_metric_totals_loss(const cg_metric_totals *totals) {
    return totals->samples > 0 ? totals->loss_sum / (double)totals->samples : NAN;
}

double cg_metric_totals_value(const cg_metric_totals *totals, int kind) {
    if (!(totals->metrics & METRICS[kind].flag) || totals->metric_counts[kind] == 0) return NAN;
    return totals->metric_sums[kind] / (double)totals->metric_counts[kind];
}
