/* cg_fit, cg_evaluate and cg_predict on small generated problems, and the training history. */
#include <stdlib.h>
#include <string.h>

#include "fit_problems.h"
#include "nn/history.h"
#include "test.h"

static const cg_fit_options QUIET = {.verbose = CG_VERBOSE_SILENT};

/* ----- history ----- */

TEST(history_keeps_series_in_epoch_rows) {
    cg_history *history = cg_history_new();
    CHECK(history);
    CHECK(cg_history_record(history, "loss", 3, 0.5) == 0);
    CHECK(cg_history_record(history, "loss", 4, 0.25) == 0);
    CHECK(cg_history_record(history, "val_loss", 4, 0.75) == 0);
    CHECK(cg_history_record(history, "loss", 4, 0.125) == 0); /* the latest epoch may change */
    CHECK(cg_history_epochs(history) == 2);
    CHECK(cg_history_epoch_index(history, 0) == 3 && cg_history_epoch_index(history, 1) == 4);
    CHECK(cg_history_series_count(history) == 2);
    CHECK(strcmp(cg_history_series_name(history, 1), "val_loss") == 0);
    const double *loss = cg_history_series(history, "loss");
    const double *validation = cg_history_series(history, "val_loss");
    CHECK(loss && validation && !cg_history_series(history, "accuracy"));
    CHECK_NEAR(loss[0], 0.5, 0);
    CHECK_NEAR(loss[1], 0.125, 0);
    CHECK(isnan(validation[0])); /* added later: earlier epochs have no value */
    CHECK_NEAR(validation[1], 0.75, 0);
    CHECK(cg_history_stopped_epoch(history) == -1 && cg_history_best_epoch(history) == -1);
    CHECK(strcmp(cg_history_stop_reason(history), "") == 0);
    CHECK_ERROR(cg_history_record(history, "loss", 2, 1.0), "recorded after epoch 4");
    CHECK_ERROR(cg_history_epoch_index(history, 2), "out of range");
    cg_history_set_stopped(history, 4, "enough");
    cg_history_set_best_epoch(history, 3);
    CHECK(cg_history_stopped_epoch(history) == 4 && cg_history_best_epoch(history) == 3);
    CHECK(strcmp(cg_history_stop_reason(history), "enough") == 0);
    cg_history_free(history);
}

/* ----- fit ----- */

TEST(fit_learns_separable_blobs) {
    labelled_data data = two_blobs(64, 11);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    cg_fit_options options = QUIET;
    options.epochs = 12;
    options.batch_size = 16;
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(cg_history_epochs(history) == 12);
    const double *loss = cg_history_series(history, "loss");
    const double *accuracy = cg_history_series(history, "accuracy");
    CHECK(loss && accuracy);
    CHECK(loss[11] < 0.5 * loss[0]);
    CHECK(accuracy[11] >= 0.95);
    cg_evaluation evaluation;
    CHECK(cg_evaluate(model, data.x, data.y, 0, &evaluation) == 0);
    CHECK(evaluation.accuracy >= 0.95 && evaluation.samples == 64);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(fit_logs_every_series_for_every_epoch) {
    labelled_data data = two_blobs(40, 12);
    cg_model *model = blob_classifier(0.05, false);
    CHECK(data.x && model);
    cg_fit_options options = QUIET;
    options.epochs = 3;
    options.batch_size = 8;
    options.validation_split = 0.25;
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    const char *expected[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"};
    CHECK(cg_history_series_count(history) == 5);
    for (int i = 0; i < 5; i++)
        CHECK(strcmp(cg_history_series_name(history, i), expected[i]) == 0);
    CHECK(cg_history_epochs(history) == 3);
    for (int epoch = 0; epoch < 3; epoch++) {
        CHECK(cg_history_epoch_index(history, epoch) == epoch);
        for (int i = 0; i < 4; i++)
            CHECK(isfinite(cg_history_series(history, expected[i])[epoch]));
        CHECK_NEAR(cg_history_series(history, "lr")[epoch], 0.05, 1e-15);
    }
    CHECK(cg_history_stopped_epoch(history) == -1);
    CHECK(strcmp(cg_history_stop_reason(history), "") == 0);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* Trains a copy of the same initial weights with a seed; returns the trained parameters. */
static parameter_copies train_from(const parameter_copies *initial, const labelled_data *data,
                                   uint64_t seed) {
    cg_model *model = blob_classifier(0.1, true);
    parameter_copies trained = {NULL, 0};
    if (!model) return trained;
    load_parameters(model, initial);
    cg_fit_options options = QUIET;
    options.epochs = 2;
    options.batch_size = 4;
    options.seed = seed;
    cg_history *history = cg_fit(model, data->x, data->y, &options);
    if (history) trained = copy_parameters(model);
    cg_history_free(history);
    cg_model_free(model);
    return trained;
}

static bool copies_equal(const parameter_copies *a, const parameter_copies *b) {
    bool equal = a->count == b->count && a->count > 0;
    cg_scope_begin();
    for (int i = 0; equal && i < a->count; i++)
        equal =
            cg_item(cg_max(cg_abs(cg_sub(a->items[i], b->items[i])), CG_ALL_DIMS, false)) == 0.0;
    cg_scope_end();
    return equal;
}

TEST(fit_shuffles_and_drops_reproducibly_for_a_seed) {
    labelled_data data = two_blobs(24, 13);
    cg_model *reference = blob_classifier(0.1, true);
    CHECK(data.x && reference);
    parameter_copies initial = copy_parameters(reference);
    parameter_copies first = train_from(&initial, &data, 7);
    parameter_copies again = train_from(&initial, &data, 7);
    parameter_copies other = train_from(&initial, &data, 8);
    const bool same_seed_equal = copies_equal(&first, &again);
    const bool other_seed_equal = copies_equal(&first, &other);
    const bool trained = first.count > 0 && !copies_equal(&first, &initial);
    parameter_copies_release(&initial);
    parameter_copies_release(&first);
    parameter_copies_release(&again);
    parameter_copies_release(&other);
    cg_model_free(reference);
    labelled_data_release(&data);
    CHECK(trained);
    CHECK(same_seed_equal);
    CHECK(!other_seed_equal);
}

TEST(fit_continued_at_initial_epoch_matches_a_straight_run) {
    labelled_data data = two_blobs(20, 14);
    cg_model *straight = blob_classifier(0.1, true);
    cg_model *resumed = blob_classifier(0.1, true);
    CHECK(data.x && straight && resumed);
    /* Momentum keeps state in the optimizer, which the continued run carries over. */
    CHECK(cg_compile(straight, cg_sgd(0.1, 0.9, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    CHECK(cg_compile(resumed, cg_sgd(0.1, 0.9, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    parameter_copies initial = copy_parameters(straight);
    load_parameters(resumed, &initial);
    cg_fit_options options = QUIET;
    options.batch_size = 6;
    options.epochs = 4;
    cg_history *whole = cg_fit(straight, data.x, data.y, &options);
    options.epochs = 2;
    cg_history *part1 = cg_fit(resumed, data.x, data.y, &options);
    options.initial_epoch = 2;
    options.epochs = 4;
    cg_history *part2 = cg_fit(resumed, data.x, data.y, &options);
    CHECK(whole && part1 && part2);
    CHECK(cg_history_epochs(part2) == 2 && cg_history_epoch_index(part2, 0) == 2);
    CHECK_NEAR(cg_history_series(part2, "loss")[1], cg_history_series(whole, "loss")[3], 0);
    parameter_copies final_weights = copy_parameters(straight);
    CHECK(parameters_equal(resumed, &final_weights));
    CHECK(!parameters_equal(resumed, &initial));
    parameter_copies_release(&final_weights);
    parameter_copies_release(&initial);
    cg_history_free(whole);
    cg_history_free(part1);
    cg_history_free(part2);
    cg_model_free(straight);
    cg_model_free(resumed);
    labelled_data_release(&data);
}

/* Checks at each epoch end that val_loss is the loss on the expected validation samples and that
 * the epoch had the expected number of batches. */
typedef struct {
    const cg_tensor *validation_x, *validation_y, *other_x, *other_y;
    int expected_batches;
    int checked_epochs;
    bool mismatch;
} validation_probe;

static int probe_validation(cg_train_state *state, void *userdata) {
    validation_probe *probe = userdata;
    cg_evaluation expected, other;
    if (cg_evaluate(state->model, probe->validation_x, probe->validation_y, 0, &expected) != 0 ||
        cg_evaluate(state->model, probe->other_x, probe->other_y, 0, &other) != 0)
        return -1;
    const double logged = cg_train_state_value(state, "val_loss");
    if (fabs(logged - expected.loss) > 1e-6 || fabs(logged - other.loss) < 1e-6 ||
        state->batches != probe->expected_batches)
        probe->mismatch = true;
    probe->checked_epochs++;
    return 0;
}

TEST(validation_split_takes_the_last_samples) {
    labelled_data data = two_blobs(20, 15);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    cg_tensor *last_x = cg_narrow(data.x, 0, 15, 5), *last_y = cg_narrow(data.y, 0, 15, 5);
    cg_tensor *first_x = cg_narrow(data.x, 0, 0, 5), *first_y = cg_narrow(data.y, 0, 0, 5);
    /* 15 training samples in batches of 5: 3 batches (4 if the split were ignored). */
    validation_probe probe = {last_x, last_y, first_x, first_y, 3, 0, false};
    cg_fit_options options = QUIET;
    options.epochs = 2;
    options.batch_size = 5;
    options.validation_split = 0.25;
    options.callbacks = CG_CALLBACKS(
        cg_callback_new(&(cg_callback_hooks){.on_epoch_end = probe_validation}, &probe));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(probe.checked_epochs == 2 && !probe.mismatch);
    cg_history_free(history);
    cg_release(last_x);
    cg_release(last_y);
    cg_release(first_x);
    cg_release(first_y);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(explicit_validation_set_is_evaluated_each_epoch) {
    labelled_data train = two_blobs(16, 16), validation = two_blobs(6, 17);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(train.x && validation.x && model);
    validation_probe probe = {validation.x, validation.y, train.x, train.y, 4, 0, false};
    cg_fit_options options = QUIET;
    options.epochs = 2;
    options.batch_size = 4;
    options.validation_x = validation.x;
    options.validation_y = validation.y;
    options.callbacks = CG_CALLBACKS(
        cg_callback_new(&(cg_callback_hooks){.on_epoch_end = probe_validation}, &probe));
    cg_history *history = cg_fit(model, train.x, train.y, &options);
    CHECK(history);
    CHECK(probe.checked_epochs == 2 && !probe.mismatch);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&train);
    labelled_data_release(&validation);
}

TEST(fit_builds_an_unbuilt_model_from_the_sample_shape) {
    /* Samples of shape 2x1, flattened by the first layer. */
    labelled_data data = two_blobs(12, 18);
    CHECK(data.x);
    cg_tensor *images = cg_reshape(data.x, CG_SHAPE(12, 2, 1));
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(images && model);
    CHECK(cg_compile(model, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0);
    CHECK(!cg_model_is_built(model));
    cg_history *history = cg_fit(model, images, data.y, &QUIET);
    CHECK(history);
    CHECK(cg_model_is_built(model));
    const cg_shape input = cg_model_input_shape(model);
    CHECK(input.ndim == 2 && input.dims[0] == 2 && input.dims[1] == 1);
    CHECK(cg_history_epochs(history) == 1);
    CHECK_ERROR(cg_fit(model, data.x, data.y, &QUIET), "the model takes 2x1");
    cg_history_free(history);
    cg_release(images);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(fit_regression_with_float_targets_logs_mae) {
    /* y = 2x - 1 on [-1, 1]. */
    cg_scope_begin();
    cg_tensor *x = cg_keep(cg_reshape(cg_linspace(-1, 1, 32, CG_FLOAT32), CG_SHAPE(32, 1)));
    cg_tensor *y = cg_keep(cg_add_scalar(cg_mul_scalar(x, 2.0), -1.0));
    cg_scope_end();
    cg_model *model = cg_sequential(cg_layer_dense(1, CG_ACTIVATION_NONE));
    CHECK(x && y && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0.0, false), CG_LOSS_MSE, CG_METRIC_MAE) == 0);
    cg_fit_options options = QUIET;
    options.epochs = 30;
    options.batch_size = 8;
    cg_history *history = cg_fit(model, x, y, &options);
    CHECK(history);
    const double *mae = cg_history_series(history, "mae");
    CHECK(mae && !cg_history_series(history, "accuracy"));
    CHECK(mae[29] < 0.05 && mae[29] < mae[0]);
    cg_history_free(history);
    cg_model_free(model);
    cg_release(x);
    cg_release(y);
}

static bool destroyed;
static void note_destroyed(void *userdata) {
    (void)userdata;
    destroyed = true;
}

TEST(fit_rejects_bad_arguments_and_still_frees_its_callbacks) {
    labelled_data data = two_blobs(10, 19);
    cg_model *model = blob_classifier(0.1, false);
    cg_model *uncompiled = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(data.x && model && uncompiled);
    cg_tensor *fewer_labels = cg_narrow(data.y, 0, 0, 9);
    CHECK_ERROR(cg_fit(uncompiled, data.x, data.y, &QUIET), "not compiled");
    CHECK_ERROR(cg_fit(model, data.x, fewer_labels, &QUIET), "x has 10 samples but y has 9");
    cg_fit_options options = QUIET;
    options.validation_split = 1.5;
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "validation_split");
    options.validation_split = 0.95; /* 0 training samples of 10 */
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "leaves one part empty");
    options.validation_split = 0.5;
    options.validation_x = data.x;
    options.validation_y = data.y;
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "not both");
    options = QUIET;
    options.initial_epoch = 3;
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "initial_epoch");
    options.initial_epoch = 0;
    options.batch_size = -2;
    destroyed = false;
    options.callbacks =
        CG_CALLBACKS(cg_callback_new(&(cg_callback_hooks){.destroy = note_destroyed}, NULL));
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "batch_size");
    CHECK(destroyed);
    cg_release(fewer_labels);
    cg_model_free(uncompiled);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* ----- evaluate and predict ----- */

TEST(evaluate_equals_the_loss_and_accuracy_of_the_whole_set) {
    labelled_data data = two_blobs(37, 20);
    cg_model *model = blob_classifier(0.1, true);
    CHECK(data.x && model);
    cg_evaluation evaluation;
    CHECK(cg_evaluate(model, data.x, data.y, 8, &evaluation) == 0); /* 4 full batches and 5 */
    cg_scope_begin();
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    cg_tensor *output = cg_model_forward(model, data.x, false);
    const double loss = cg_item(cg_loss_compute(CG_LOSS_CROSS_ENTROPY, output, data.y));
    const double correct =
        cg_item(cg_sum(cg_eq(cg_argmax(output, 1, false), data.y), CG_ALL_DIMS, false));
    cg_set_grad_enabled(grad_was_enabled);
    cg_scope_end();
    CHECK_NEAR(evaluation.loss, loss, 1e-5);
    CHECK_NEAR(evaluation.accuracy, correct / 37.0, 1e-12);
    CHECK(isnan(evaluation.mae) && isnan(evaluation.binary_accuracy));
    CHECK(evaluation.samples == 37);
    CHECK_ERROR(cg_evaluate(model, data.x, data.y, 8, NULL), "result");
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(evaluate_mae_of_a_regression_equals_the_mean_absolute_error) {
    cg_scope_begin();
    cg_tensor *x = cg_keep(cg_reshape(cg_linspace(-2, 2, 13, CG_FLOAT32), CG_SHAPE(13, 1)));
    cg_tensor *y = cg_keep(cg_mul(x, x));
    cg_scope_end();
    cg_model *model =
        cg_sequential(cg_layer_dense(4, CG_ACTIVATION_TANH), cg_layer_dense(1, CG_ACTIVATION_NONE));
    CHECK(x && y && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, CG_METRIC_MAE) == 0);
    cg_evaluation evaluation;
    CHECK(cg_evaluate(model, x, y, 5, &evaluation) == 0);
    cg_scope_begin();
    cg_tensor *error = cg_sub(cg_predict(model, x, 0), y);
    const double mse = cg_item(cg_mean(cg_mul(error, error), CG_ALL_DIMS, false));
    const double mae = cg_item(cg_mean(cg_abs(error), CG_ALL_DIMS, false));
    cg_scope_end();
    CHECK_NEAR(evaluation.loss, mse, 1e-5);
    CHECK_NEAR(evaluation.mae, mae, 1e-5);
    CHECK(isnan(evaluation.accuracy));
    cg_model_free(model);
    cg_release(x);
    cg_release(y);
}

TEST(predict_equals_a_forward_pass_in_evaluation_mode) {
    labelled_data data = two_blobs(21, 21);
    cg_model *model = blob_classifier(0.1, true);
    CHECK(data.x && model);
    cg_tensor *predicted = cg_predict(model, data.x, 8);
    CHECK(predicted);
    CHECK(cg_ndim(predicted) == 2 && cg_dim(predicted, 0) == 21 && cg_dim(predicted, 1) == 2);
    CHECK(!cg_requires_grad(predicted));
    cg_scope_begin();
    CHECK_TENSOR_CLOSE(predicted, cg_model_forward(model, data.x, false), 1e-6, 1e-6);
    cg_scope_end();
    CHECK_ERROR(cg_predict(model, data.y, 8), "x has samples of shape");
    CHECK_ERROR(cg_predict(model, data.x, -1), "batch_size");
    cg_release(predicted);
    cg_model_free(model);
    labelled_data_release(&data);
}
