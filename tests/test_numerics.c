/* Stable forms: logits of +-1e4, whose exponentials overflow float32 and float64 alike (e^1e4),
 * through softmax, log-softmax, logsumexp, cross-entropy and binary cross-entropy with logits give
 * finite, correct values and gradients in both dtypes. Anomaly detection stays on throughout, so
 * no value of any op in the forward or backward pass may be NaN or infinite either. */
#include "test.h"

static const cg_dtype FLOAT_DTYPES[] = {CG_FLOAT32, CG_FLOAT64};
enum { FLOAT_DTYPE_COUNT = 2 };

/* A float64 tensor of the values (expected results). */
static cg_tensor *expected(const double *values, cg_shape shape) {
    return cg_from_array(values, shape, CG_FLOAT64);
}

/* A leaf of the values in dtype that requires grad. */
static cg_tensor *leaf(const double *values, cg_shape shape, cg_dtype dtype) {
    return cg_set_requires_grad(cg_to_dtype(expected(values, shape), dtype), true);
}

/* float32 carries about 7 digits: at 1e4 its values are 1e-3 apart. */
static double tolerance(cg_dtype dtype) { return dtype == CG_FLOAT32 ? 2e-3 : 1e-9; }

/* Runs a case in each float dtype with anomaly detection on, and restores the setting after (a
 * failed CHECK returns from the case only). */
static void in_each_float_dtype(void (*run_case)(cg_dtype dtype)) {
    const bool anomaly_was_on = cg_set_anomaly_detection(true);
    for (int k = 0; k < FLOAT_DTYPE_COUNT && !test_failed(); k++)
        run_case(FLOAT_DTYPES[k]);
    cg_set_anomaly_detection(anomaly_was_on);
}

static void softmax_and_log_softmax_case(cg_dtype dtype) {
    const double logits[] = {1e4, -1e4, 0, -1e4, -1e4, -1e4};
    const double weights[] = {1, 2, 3, 4, 5, 6};
    const double third = 1.0 / 3.0, log3 = log(3.0);
    const double tol = tolerance(dtype);
    cg_scope_begin();
    cg_tensor *w = cg_to_dtype(expected(weights, CG_SHAPE(2, 3)), dtype);
    cg_tensor *x = leaf(logits, CG_SHAPE(2, 3), dtype);
    cg_tensor *probabilities = cg_softmax(x, 1);
    CHECK_TENSOR_CLOSE(probabilities,
                       expected((double[]){1, 0, 0, third, third, third}, CG_SHAPE(2, 3)), tol, 0);
    CHECK(cg_backward(cg_sum(cg_mul(probabilities, w), CG_ALL_DIMS, false)) == 0);
    /* d/dx sum(w softmax(x)) = s (w - sum(s w)): 0 where one logit dominates. */
    CHECK_TENSOR_CLOSE(cg_grad(x), expected((double[]){0, 0, 0, -third, 0, third}, CG_SHAPE(2, 3)),
                       tol, 0);
    cg_zero_grad(x);
    cg_tensor *log_probabilities = cg_log_softmax(x, 1);
    CHECK_TENSOR_CLOSE(log_probabilities,
                       expected((double[]){0, -2e4, -1e4, -log3, -log3, -log3}, CG_SHAPE(2, 3)),
                       tol, 1e-7);
    CHECK(cg_backward(cg_sum(cg_mul(log_probabilities, w), CG_ALL_DIMS, false)) == 0);
    /* d/dx sum(w log_softmax(x)) = w - s sum(w). */
    CHECK_TENSOR_CLOSE(cg_grad(x), expected((double[]){-5, 2, 3, -1, 0, 1}, CG_SHAPE(2, 3)), tol,
                       0);
    cg_scope_end();
}

TEST(softmax_and_log_softmax_of_extreme_logits) {
    in_each_float_dtype(softmax_and_log_softmax_case);
}

static void logsumexp_case(cg_dtype dtype) {
    const double logits[] = {1e4, -1e4, 1e4, -1e4, -1e4, -1e4};
    const double third = 1.0 / 3.0;
    const double tol = tolerance(dtype);
    cg_scope_begin();
    cg_tensor *x = leaf(logits, CG_SHAPE(2, 3), dtype);
    cg_tensor *total = cg_logsumexp(x, CG_DIMS(1), false);
    CHECK_TENSOR_CLOSE(total, expected((double[]){1e4 + log(2.0), -1e4 + log(3.0)}, CG_SHAPE(2)),
                       tol, 1e-7);
    CHECK(cg_backward(cg_sum(total, CG_ALL_DIMS, false)) == 0);
    /* The gradient of logsumexp is the softmax. */
    CHECK_TENSOR_CLOSE(
        cg_grad(x), expected((double[]){0.5, 0, 0.5, third, third, third}, CG_SHAPE(2, 3)), tol, 0);
    cg_scope_end();
}

TEST(logsumexp_of_extreme_logits) { in_each_float_dtype(logsumexp_case); }

static void cross_entropy_case(cg_dtype dtype) {
    const double logits[] = {1e4, -1e4, 0, -1e4, 1e4, 5e3};
    const double tol = tolerance(dtype);
    cg_scope_begin();
    cg_tensor *x = leaf(logits, CG_SHAPE(2, 3), dtype);
    cg_tensor *labels = cg_from_array((int64_t[]){1, 2}, CG_SHAPE(2), CG_INT64);
    /* Row 0 bets everything on class 0 against label 1: 1e4 - (-1e4). Row 1 on class 1 against
     * label 2: 1e4 - 5e3. */
    CHECK_TENSOR_CLOSE(cg_cross_entropy(x, labels, CG_REDUCTION_NONE),
                       expected((double[]){2e4, 5e3}, CG_SHAPE(2)), tol, 1e-7);
    cg_tensor *loss = cg_cross_entropy(x, labels, CG_REDUCTION_MEAN);
    CHECK_NEAR(cg_item(loss), 1.25e4, tol * 1e4);
    CHECK(cg_backward(loss) == 0);
    /* (softmax - one_hot) / N. */
    CHECK_TENSOR_CLOSE(cg_grad(x), expected((double[]){0.5, -0.5, 0, 0, 0.5, -0.5}, CG_SHAPE(2, 3)),
                       tol, 0);
    cg_scope_end();
}

TEST(cross_entropy_of_extreme_logits) { in_each_float_dtype(cross_entropy_case); }

static void binary_cross_entropy_case(cg_dtype dtype) {
    const double logits[] = {1e4, -1e4, 1e4, -1e4, 0};
    const double targets[] = {1, 0, 0, 1, 0.5};
    const double tol = tolerance(dtype);
    cg_scope_begin();
    cg_tensor *x = leaf(logits, CG_SHAPE(5), dtype);
    cg_tensor *target = cg_to_dtype(expected(targets, CG_SHAPE(5)), dtype);
    /* max(x, 0) - x t + log(1 + e^-|x|): 0 when confidently right, |x| when confidently
     * wrong, log 2 at x = 0. */
    CHECK_TENSOR_CLOSE(cg_bce_with_logits(x, target, CG_REDUCTION_NONE),
                       expected((double[]){0, 0, 1e4, 1e4, log(2.0)}, CG_SHAPE(5)), tol, 1e-7);
    cg_tensor *loss = cg_bce_with_logits(x, target, CG_REDUCTION_MEAN);
    CHECK_NEAR(cg_item(loss), (2e4 + log(2.0)) / 5, tol * 1e4);
    CHECK(cg_backward(loss) == 0);
    /* (sigmoid(x) - t) / N. */
    CHECK_TENSOR_CLOSE(cg_grad(x), expected((double[]){0, 0, 0.2, -0.2, 0}, CG_SHAPE(5)), tol, 0);
    cg_scope_end();
}

TEST(binary_cross_entropy_of_extreme_logits) { in_each_float_dtype(binary_cross_entropy_case); }
