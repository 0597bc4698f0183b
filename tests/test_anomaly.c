/* Anomaly detection: off by default and per thread; when on, the first op whose recorded output,
 * or whose gradient in the backward pass, holds a NaN or an infinity fails with an error naming
 * the op, the pass and the input shapes, and fit passes that error up. */
#include <pthread.h>
#include <string.h>

#include "fit_problems.h"
#include "test.h"

/* Runs a check with anomaly detection on and restores the setting after, so that a failed CHECK
 * (which returns from the check) cannot leave it on for the tests that follow. */
static void with_anomaly_detection(void (*check)(void)) {
    const bool was_on = cg_set_anomaly_detection(true);
    check();
    cg_set_anomaly_detection(was_on);
}

/* A float32 leaf that requires grad. */
static cg_tensor *variable(const double *values, cg_shape shape) {
    return cg_set_requires_grad(cg_to_dtype(cg_from_array(values, shape, CG_FLOAT64), CG_FLOAT32),
                                true);
}

TEST(anomaly_detection_is_off_by_default_and_set_returns_the_previous_setting) {
    CHECK(!cg_is_anomaly_detection_enabled());
    CHECK(!cg_set_anomaly_detection(true));
    CHECK(cg_is_anomaly_detection_enabled());
    CHECK(cg_set_anomaly_detection(false));
    CHECK(!cg_is_anomaly_detection_enabled());
    /* Off, a NaN goes through silently, as it always did. */
    cg_scope_begin();
    cg_tensor *x = variable((double[]){-1, 1}, CG_SHAPE(2));
    cg_tensor *y = cg_log(x);
    CHECK(y && isnan(cg_get(y, (int64_t[]){0})));
    CHECK(cg_backward(cg_sum(y, CG_ALL_DIMS, false)) == 0);
    cg_scope_end();
}

static void forward_nan_check(void) {
    cg_scope_begin();
    cg_tensor *x = variable((double[]){1, 2, 3, 4, 5, 6, 7, -8, 9, 10, 11, 12}, CG_SHAPE(3, 4));
    cg_clear_error();
    CHECK(cg_log(x) == NULL);
    CHECK(strcmp(cg_last_error(), "anomaly: log produced NaN in the forward pass; inputs: [3x4]") ==
          0);
    /* A chain of ops fails at its first offender and names it. */
    CHECK_ERROR(cg_sum(cg_sqrt(cg_mul_scalar(x, 2.0)), CG_ALL_DIMS, false),
                "anomaly: sqrt produced NaN in the forward pass; inputs: [3x4]");
    cg_scope_end();
}

TEST(anomaly_detection_names_the_op_that_made_a_nan) { with_anomaly_detection(forward_nan_check); }

static void forward_infinity_check(void) {
    cg_scope_begin();
    cg_tensor *a = variable((double[]){1, 2, 3}, CG_SHAPE(3));
    cg_tensor *b = cg_from_array((float[]){1, 0, 2}, CG_SHAPE(3), CG_FLOAT32);
    CHECK_ERROR(cg_div(a, b),
                "anomaly: div produced infinity in the forward pass; inputs: [3], [3]");
    /* exp(100) overflows float32. */
    CHECK_ERROR(cg_exp(cg_mul_scalar(a, 50.0)), "anomaly: exp produced infinity");
    cg_scope_end();
}

TEST(anomaly_detection_names_the_op_that_made_an_infinity) {
    with_anomaly_detection(forward_infinity_check);
}

static void backward_check(void) {
    cg_scope_begin();
    /* 1 / 1e-30 is a finite float32, but its derivative for the divisor, -1 / 1e-60, is not. */
    cg_tensor *a = variable((double[]){1}, CG_SHAPE(1));
    cg_tensor *b = variable((double[]){1e-30}, CG_SHAPE(1));
    cg_tensor *quotient = cg_div(a, b);
    CHECK(quotient);
    CHECK_ERROR(cg_backward(cg_sum(quotient, CG_ALL_DIMS, false)),
                "anomaly: the gradient of input 1 is infinity in the backward pass of div; "
                "inputs: [1], [1]");
    /* sqrt is finite at 0, its derivative 1 / (2 sqrt(x)) is not. */
    cg_tensor *x = variable((double[]){0, 4}, CG_SHAPE(2));
    cg_tensor *root = cg_sqrt(x);
    CHECK(root);
    CHECK_ERROR(cg_backward(cg_sum(root, CG_ALL_DIMS, false)),
                "anomaly: the gradient of input 0 is infinity in the backward pass of sqrt; "
                "inputs: [2]");
    cg_scope_end();
}

TEST(anomaly_detection_names_the_backward_rule_that_made_an_infinity) {
    with_anomaly_detection(backward_check);
}

static void unrecorded_input_check(void) {
    cg_scope_begin();
    /* Data that records no graph is not checked when made; the first recorded op it reaches
     * reports it as an input that already held the NaN. */
    cg_tensor *data = cg_log(cg_from_array((float[]){-1, 1, 2}, CG_SHAPE(3), CG_FLOAT32));
    CHECK(data && isnan(cg_get(data, (int64_t[]){0})));
    cg_tensor *w = variable((double[]){1, 2, 3}, CG_SHAPE(3));
    CHECK_ERROR(cg_mul(data, w), "anomaly: mul produced NaN in the forward pass; inputs: [3], [3]; "
                                 "input 0 already held NaN");
    /* Nor are ops run with grad mode off. */
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    cg_tensor *unchecked = cg_log(cg_neg(w));
    cg_set_grad_enabled(grad_was_enabled);
    CHECK(unchecked && isnan(cg_get(unchecked, (int64_t[]){0})));
    cg_scope_end();
}

TEST(anomaly_detection_checks_recorded_ops_and_names_bad_inputs) {
    with_anomaly_detection(unrecorded_input_check);
}

static void finite_training_check(void) {
    /* Detection changes nothing while every value is finite. */
    labelled_data data = two_blobs(32, 11);
    cg_model *model = blob_classifier(0.1, true);
    CHECK(data.x && model);
    cg_fit_options options = {.epochs = 3, .batch_size = 8, .verbose = CG_VERBOSE_SILENT};
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history && cg_history_epochs(history) == 3);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(anomaly_detection_leaves_finite_training_alone) {
    with_anomaly_detection(finite_training_check);
}

/* A layer that multiplies its input by NaN in its third training call. */
static int passthrough_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *poison_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    int *training_calls = cg_layer_state(layer);
    if (training) ++*training_calls;
    return cg_mul_scalar(x, training && *training_calls == 3 ? NAN : 1.0);
}

static const cg_layer_class POISON_CLASS = {
    .type = "poison", .build = passthrough_build, .forward = poison_forward};

static void fit_failure_check(void) {
    labelled_data data = two_blobs(16, 13);
    int training_calls = 0;
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE),
                                    cg_layer_new(&POISON_CLASS, &training_calls));
    CHECK(data.x && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    cg_fit_options options = {.epochs = 2, .batch_size = 4, .verbose = CG_VERBOSE_SILENT};
    options.callbacks = CG_CALLBACKS(cg_terminate_on_nan());
    /* fit fails at the op instead of stopping on a NaN loss one batch later. */
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options),
                "anomaly: mul_scalar produced NaN in the forward pass; inputs: [4x2]");
    CHECK(training_calls == 3);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(anomaly_detection_fails_fit_at_the_op_that_made_a_nan) {
    with_anomaly_detection(fit_failure_check);
}

static void *read_setting(void *result) {
    *(bool *)result = cg_is_anomaly_detection_enabled();
    return NULL;
}

static void per_thread_check(void) {
    bool seen_by_other_thread = true;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, read_setting, &seen_by_other_thread) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(cg_is_anomaly_detection_enabled());
    CHECK(!seen_by_other_thread);
}

TEST(anomaly_detection_is_per_thread) { with_anomaly_detection(per_thread_check); }
