#include "autograd/anomaly.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

static _Thread_local bool anomaly_detection;

bool cg_set_anomaly_detection(bool enabled) {
    const bool previous = anomaly_detection;
    anomaly_detection = enabled;
    return previous;
}

bool cg_is_anomaly_detection_enabled(void) { return anomaly_detection; }

typedef enum { VALUES_FINITE, VALUES_NAN, VALUES_INFINITE, CHECK_FAILED } values_kind;

/* The sum of one tensor made from t, as a double (NaN when the ops failed; *ok says so). */
static double summed(cg_tensor *t, bool *ok) {
    cg_tensor *sum = cg_sum(t, CG_ALL_DIMS, false);
    *ok = *ok && sum;
    return sum ? cg_item(sum) : NAN;
}

/* Whether t holds a NaN, else an infinity. Written with ops, so it runs on t's device: x * 0 is
 * 0 for every finite x and NaN for NaN and infinity, and only NaN differs from itself. */
static values_kind classify(const cg_tensor *t) {
    if (!cg_dtype_is_float(t->dtype) || cg_shape_numel(t->ndim, t->shape) == 0)
        return VALUES_FINITE;
    const bool grad_enabled = cg_set_grad_enabled(false);
    cg_scope_begin();
    bool ok = true;
    values_kind kind = VALUES_FINITE;
    if (isnan(summed(cg_mul_scalar(t, 0.0), &ok)))
        kind = summed(cg_ne(t, t), &ok) > 0 ? VALUES_NAN : VALUES_INFINITE;
    cg_scope_end();
    cg_set_grad_enabled(grad_enabled);
    return ok ? kind : CHECK_FAILED;
}

static const char *kind_name(values_kind kind) { return kind == VALUES_NAN ? "NaN" : "infinity"; }

/* "[3x4], [4]" into text, with "; input 0 already held NaN" for each input that did. */
static void describe_inputs(char *text, size_t size, cg_tensor *const *inputs, int count) {
    size_t used = (size_t)snprintf(text, size, "inputs: ");
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%s", i ? ", " : "",
                                 cg_shape_text(inputs[i]));
    for (int i = 0; i < count && used < size; i++) {
        const values_kind kind = classify(inputs[i]);
        if (kind == VALUES_NAN || kind == VALUES_INFINITE)
            used += (size_t)snprintf(text + used, size - used, "; input %d already held %s", i,
                                     kind_name(kind));
    }
}

bool cg_anomaly_check_output(const cg_tensor *output, const cg_op_def *op, cg_tensor *const *inputs,
                             int count) {
    if (!anomaly_detection) return true;
    const values_kind kind = classify(output);
    if (kind == VALUES_FINITE) return true;
    if (kind == CHECK_FAILED) return false;
    char described[512];
    describe_inputs(described, sizeof described, inputs, count);
    cg_error_set("anomaly: %s produced %s in the forward pass; %s", op->name, kind_name(kind),
                 described);
    return false;
}

bool cg_anomaly_check_gradient(const cg_tensor *gradient, const cg_node *node, int input_index) {
    if (!anomaly_detection) return true;
    const values_kind kind = classify(gradient);
    if (kind == VALUES_FINITE) return true;
    if (kind == CHECK_FAILED) return false;
    char described[512];
    describe_inputs(described, sizeof described, node->inputs, node->input_count);
    cg_error_set("anomaly: the gradient of input %d is %s in the backward pass of %s; %s",
                 input_index, kind_name(kind), node->op->name, described);
    return false;
}
