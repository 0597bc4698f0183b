/* Callbacks: the hook interface, the built-in callbacks and the progress display. */
#include <stdlib.h>
#include <string.h>

#include "fit_problems.h"
#include "nn/callbacks.h"
#include "temp_dir.h"
#include "test.h"

static const cg_fit_options QUIET = {.verbose = CG_VERBOSE_SILENT};

/* ----- the hook interface ----- */

typedef struct {
    char events[64];
    int length;
    bool state_wrong;
    int destroy_calls;
} hook_log;

static void log_event(cg_train_state *state, hook_log *log, char event) {
    if (log->length < (int)sizeof log->events - 1) log->events[log->length++] = event;
    if (state->epochs != 2 || !state->model || !state->history) log->state_wrong = true;
}

static int log_train_begin(cg_train_state *state, void *userdata) {
    log_event(state, userdata, 'T');
    return 0;
}

static int log_epoch_begin(cg_train_state *state, void *userdata) {
    log_event(state, userdata, 'E');
    return 0;
}

static int log_batch_end(cg_train_state *state, void *userdata) {
    hook_log *log = userdata;
    log_event(state, log, 'B');
    if (state->batches != 3 || state->batch < 0 || state->batch > 2 || !isfinite(state->batch_loss))
        log->state_wrong = true;
    return 0;
}

static int log_epoch_end(cg_train_state *state, void *userdata) {
    hook_log *log = userdata;
    log_event(state, log, 'e');
    const double *loss = cg_history_series(state->history, "loss");
    const int epochs = cg_history_epochs(state->history);
    if (epochs != state->epoch + 1 || cg_train_state_value(state, "loss") != loss[epochs - 1] ||
        !isnan(cg_train_state_value(state, "not_logged")))
        log->state_wrong = true;
    return 0;
}

static int log_train_end(cg_train_state *state, void *userdata) {
    log_event(state, userdata, 't');
    return 0;
}

static void count_destroy(void *userdata) { ((hook_log *)userdata)->destroy_calls++; }

static int fail(cg_train_state *state, void *userdata) {
    (void)state;
    (void)userdata;
    return -1;
}

TEST(custom_callback_sees_every_hook_in_order) {
    labelled_data data = two_blobs(10, 31);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    hook_log log = {0};
    const cg_callback_hooks hooks = {.on_train_begin = log_train_begin,
                                     .on_epoch_begin = log_epoch_begin,
                                     .on_batch_end = log_batch_end,
                                     .on_epoch_end = log_epoch_end,
                                     .on_train_end = log_train_end,
                                     .destroy = count_destroy};
    cg_fit_options options = QUIET;
    options.epochs = 2;
    options.batch_size = 4;
    options.callbacks = CG_CALLBACKS(cg_callback_new(&hooks, &log));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    log.events[log.length] = '\0';
    CHECK(strcmp(log.events, "TEBBBeEBBBet") == 0);
    CHECK(!log.state_wrong);
    CHECK(log.destroy_calls == 1);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* What a batch-end hook saw: the batch loss and the running loss at each batch it read them. */
typedef struct {
    int only_batch; /* -1: reads every batch (no wants_batch_values hook) */
    int calls;
    double batch_loss[2][3], running_loss[2][3];
} batch_reader;

static bool wants_one_batch(const cg_train_state *state, void *userdata) {
    return state->batch == ((batch_reader *)userdata)->only_batch;
}

static int read_batch_values(cg_train_state *state, void *userdata) {
    batch_reader *reader = userdata;
    reader->calls++;
    if (reader->only_batch < 0 || state->batch == reader->only_batch) {
        reader->batch_loss[state->epoch][state->batch] = state->batch_loss;
        reader->running_loss[state->epoch][state->batch] = cg_train_state_value(state, "loss");
    }
    return 0;
}

/* fit reads the batch values (waiting for a GPU) only for a hook that asks: a hook that asks at
 * batch 1 sees there what a hook reading every batch sees, and the history is the same. */
static cg_history *train_with_reader(const labelled_data *data, batch_reader *reader) {
    cg_manual_seed(7);
    cg_model *model = blob_classifier(0.1, false);
    const cg_callback_hooks hooks = {.on_batch_end = read_batch_values,
                                     .wants_batch_values =
                                         reader->only_batch < 0 ? NULL : wants_one_batch};
    cg_fit_options options = QUIET;
    options.epochs = 2;
    options.batch_size = 4;
    options.callbacks = CG_CALLBACKS(cg_callback_new(&hooks, reader));
    cg_history *history = model ? cg_fit(model, data->x, data->y, &options) : NULL;
    cg_model_free(model);
    return history;
}

TEST(batch_values_are_read_only_for_a_hook_that_asks) {
    labelled_data data = two_blobs(10, 33);
    batch_reader every = {.only_batch = -1}, second = {.only_batch = 1};
    cg_history *all = train_with_reader(&data, &every);
    cg_history *some = train_with_reader(&data, &second);
    CHECK(all && some);
    if (all && some) {
        CHECK(every.calls == 6 && second.calls == 6);
        for (int epoch = 0; epoch < 2; epoch++) {
            CHECK(isfinite(every.batch_loss[epoch][1]) && every.batch_loss[epoch][1] > 0);
            CHECK(second.batch_loss[epoch][1] == every.batch_loss[epoch][1]);
            CHECK(second.running_loss[epoch][1] == every.running_loss[epoch][1]);
            /* The running mean over batches 0 and 1 (4 samples each) lies between them. */
            const double low = fmin(every.batch_loss[epoch][0], every.batch_loss[epoch][1]);
            const double high = fmax(every.batch_loss[epoch][0], every.batch_loss[epoch][1]);
            CHECK(every.running_loss[epoch][1] >= low && every.running_loss[epoch][1] <= high);
        }
        const char *series[] = {"loss", "accuracy"};
        for (int i = 0; i < 2; i++)
            for (int epoch = 0; epoch < 2; epoch++)
                CHECK(cg_history_series(all, series[i])[epoch] ==
                      cg_history_series(some, series[i])[epoch]);
    }
    cg_history_free(all);
    cg_history_free(some);
    labelled_data_release(&data);
}

TEST(failing_hook_aborts_fit_with_an_error) {
    labelled_data data = two_blobs(10, 32);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    hook_log log = {0};
    cg_fit_options options = QUIET;
    options.callbacks = CG_CALLBACKS(cg_callback_new(
        &(cg_callback_hooks){.on_epoch_end = fail, .destroy = count_destroy}, &log));
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "callback 0 failed in on_epoch_end");
    CHECK(log.destroy_calls == 1);
    /* A constructor that failed leaves a NULL in the list: fit fails and frees the others. */
    log.destroy_calls = 0;
    options.callbacks =
        CG_CALLBACKS(cg_callback_new(&(cg_callback_hooks){.destroy = count_destroy}, &log),
                     cg_reduce_lr_on_plateau(NULL, 2.0, 1, 0.0));
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options), "callback 1 is NULL");
    CHECK(log.destroy_calls == 1);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(callback_constructors_reject_bad_options) {
    CHECK_ERROR(cg_early_stopping(&(cg_early_stopping_options){.patience = -1}), "patience");
    CHECK_ERROR(cg_early_stopping(&(cg_early_stopping_options){.min_delta = -0.1}), "min_delta");
    CHECK_ERROR(cg_early_stopping(&(cg_early_stopping_options){.mode = (cg_monitor_mode)7}),
                "mode");
    CHECK_ERROR(cg_model_checkpoint("", NULL, CG_MODE_AUTO), "path");
    CHECK_ERROR(cg_reduce_lr_on_plateau(NULL, 1.5, 1, 0.0), "factor");
    CHECK_ERROR(cg_csv_logger(NULL), "path");
    CHECK_ERROR(cg_progress_bar(stdout, (cg_verbosity)9), "verbosity");
    CHECK_ERROR(cg_callback_new(NULL, NULL), "hooks");
}

TEST(monitor_mode_auto_maximises_accuracy_names) {
    cg_monitor monitor;
    CHECK(cg_monitor_init(&monitor, "test", "val_accuracy", CG_MODE_AUTO, 0.0) == 0);
    CHECK(monitor.maximize);
    CHECK(cg_monitor_improved(&monitor, 0.5, 0) && !cg_monitor_improved(&monitor, 0.4, 1));
    CHECK(cg_monitor_init(&monitor, "test", NULL, CG_MODE_AUTO, 0.1) == 0);
    CHECK(!monitor.maximize && strcmp(monitor.name, "val_loss") == 0);
    CHECK(cg_monitor_improved(&monitor, 1.0, 0));
    CHECK(!cg_monitor_improved(&monitor, 0.95, 1)); /* within min_delta */
    CHECK(cg_monitor_improved(&monitor, 0.85, 2) && monitor.best_epoch == 2);
    CHECK(!cg_monitor_improved(&monitor, NAN, 3));
    CHECK(cg_monitor_init(&monitor, "test", "accuracy", CG_MODE_MIN, 0.0) == 0);
    CHECK(!monitor.maximize);
}

/* ----- early stopping ----- */

enum { MAX_RECORDED_EPOCHS = 8 };

/* Copies of the weights at each epoch end. */
typedef struct {
    parameter_copies parameters[MAX_RECORDED_EPOCHS];
    cg_tensor *running_means[MAX_RECORDED_EPOCHS]; /* of the batch-norm layer 1, if any */
    int count;
} weight_recorder;

static int record_weights(cg_train_state *state, void *userdata) {
    weight_recorder *recorder = userdata;
    if (recorder->count == MAX_RECORDED_EPOCHS) return -1;
    recorder->parameters[recorder->count] = copy_parameters(state->model);
    const cg_tensor *running_mean =
        cg_model_layer_count(state->model) > 1
            ? cg_layer_tensor(cg_model_layer(state->model, 1), "running_mean")
            : NULL;
    recorder->running_means[recorder->count] = running_mean ? cg_clone(running_mean) : NULL;
    recorder->count++;
    return 0;
}

static void weight_recorder_release(weight_recorder *recorder) {
    for (int i = 0; i < recorder->count; i++) {
        parameter_copies_release(&recorder->parameters[i]);
        cg_release(recorder->running_means[i]);
    }
    recorder->count = 0;
}

static cg_callback *weight_recording(weight_recorder *recorder) {
    return cg_callback_new(&(cg_callback_hooks){.on_epoch_end = record_weights}, recorder);
}

TEST(early_stopping_stops_after_patience_epochs_without_improvement) {
    labelled_data data = two_blobs(16, 33);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    cg_fit_options options = QUIET;
    options.epochs = 10;
    options.batch_size = 8;
    /* The learning rate never changes, so only epoch 0 improves on "no value yet". */
    options.callbacks = CG_CALLBACKS(cg_early_stopping(
        &(cg_early_stopping_options){.monitor = "lr", .patience = 2, .mode = CG_MODE_MAX}));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(cg_history_epochs(history) == 3);
    CHECK(cg_history_stopped_epoch(history) == 2);
    CHECK(cg_history_best_epoch(history) == -1); /* nothing restored */
    CHECK(strstr(cg_history_stop_reason(history), "lr did not improve for 2 epochs"));
    cg_history_free(history);
    /* min_delta: a loss must fall by more than it to count as better. */
    options.callbacks = CG_CALLBACKS(cg_early_stopping(
        &(cg_early_stopping_options){.monitor = "loss", .patience = 1, .min_delta = 1e9}));
    history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(cg_history_stopped_epoch(history) == 1);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(early_stopping_restores_the_best_weights_and_buffers) {
    labelled_data data = two_blobs(16, 34);
    cg_model *model = cg_sequential(cg_layer_dense(4, CG_ACTIVATION_NONE), cg_layer_batch_norm(),
                                    cg_layer_activation(CG_ACTIVATION_RELU),
                                    cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(data.x && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    weight_recorder recorder = {0};
    cg_fit_options options = QUIET;
    options.epochs = 10;
    options.batch_size = 4;
    options.callbacks = CG_CALLBACKS(
        weight_recording(&recorder),
        cg_early_stopping(&(cg_early_stopping_options){
            .monitor = "lr", .patience = 2, .mode = CG_MODE_MAX, .restore_best_weights = true}));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(recorder.count == 3);
    CHECK(cg_history_stopped_epoch(history) == 2 && cg_history_best_epoch(history) == 0);
    /* Training moved the weights after epoch 0, and fit put epoch 0's back. */
    CHECK(!parameters_equal(model, &recorder.parameters[2]));
    CHECK(parameters_equal(model, &recorder.parameters[0]));
    const cg_tensor *running_mean = cg_layer_tensor(cg_model_layer(model, 1), "running_mean");
    CHECK_TENSOR_CLOSE(running_mean, recorder.running_means[0], 0, 0);
    cg_history_free(history);
    weight_recorder_release(&recorder);
    cg_model_free(model);
    labelled_data_release(&data);
}

TEST(early_stopping_names_the_missing_monitor) {
    labelled_data data = two_blobs(8, 35);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    cg_fit_options options = QUIET;
    options.callbacks = CG_CALLBACKS(cg_early_stopping(NULL)); /* val_loss, but no validation */
    CHECK_ERROR(cg_fit(model, data.x, data.y, &options),
                "\"val_loss\" is not logged (logged: loss, accuracy, lr)");
    cg_model_free(model);
    labelled_data_release(&data);
}

/* ----- learning rate ----- */

TEST(reduce_lr_on_plateau_multiplies_the_rate_after_patience_epochs) {
    /* Zero weights, zero targets: the loss is 0 from the start and never improves. */
    cg_scope_begin();
    cg_tensor *x = cg_keep(cg_reshape(cg_linspace(-1, 1, 8, CG_FLOAT32), CG_SHAPE(8, 1)));
    cg_scope_end();
    cg_tensor *y = cg_zeros(CG_SHAPE(8, 1), CG_FLOAT32);
    cg_model *model = cg_sequential(
        cg_layer_dense_with(1, &(cg_dense_options){.no_bias = true, .initializer = CG_INIT_ZEROS}));
    CHECK(x && y && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, 0) == 0);
    cg_fit_options options = QUIET;
    options.epochs = 7;
    options.batch_size = 8;
    options.callbacks = CG_CALLBACKS(cg_reduce_lr_on_plateau("loss", 0.5, 2, 0.02));
    cg_history *history = cg_fit(model, x, y, &options);
    CHECK(history);
    /* The log holds the rate each epoch trained with; a cut applies from the next epoch. */
    const double expected[7] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
    const double *rates = cg_history_series(history, "lr");
    for (int epoch = 0; epoch < 7; epoch++)
        CHECK_NEAR(rates[epoch], expected[epoch], 1e-12);
    CHECK_NEAR(cg_optimizer_learning_rate(cg_model_optimizer(model)), 0.02, 1e-12); /* min_lr */
    cg_history_free(history);
    cg_model_free(model);
    cg_release(x);
    cg_release(y);
}

TEST(lr_scheduler_sets_each_epoch_rate_from_the_initial_rate) {
    labelled_data data = two_blobs(8, 36);
    cg_model *model = blob_classifier(0.08, false);
    CHECK(data.x && model);
    const cg_lr_schedule halve_every_two = {.kind = CG_SCHEDULE_STEP, .step_size = 2, .gamma = 0.5};
    cg_fit_options options = QUIET;
    options.epochs = 5;
    options.callbacks = CG_CALLBACKS(cg_lr_scheduler(halve_every_two));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    const double expected[5] = {0.08, 0.08, 0.04, 0.04, 0.02};
    for (int epoch = 0; epoch < 5; epoch++)
        CHECK_NEAR(cg_history_series(history, "lr")[epoch], expected[epoch], 1e-12);
    cg_history_free(history);
    /* A continued run starts from the optimizer's rate then: here set back to 0.08. */
    cg_optimizer_set_learning_rate(cg_model_optimizer(model), 0.08);
    options.initial_epoch = 3;
    options.callbacks = CG_CALLBACKS(cg_lr_scheduler(halve_every_two));
    history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(cg_history_epochs(history) == 2);
    CHECK_NEAR(cg_history_series(history, "lr")[0], 0.04, 1e-12);
    CHECK_NEAR(cg_history_series(history, "lr")[1], 0.02, 1e-12);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* ----- stop on NaN ----- */

/* A layer that passes its input through, except that its fifth training call gives NaN. */
typedef struct {
    int training_calls;
} poison_state;

static int poison_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *poison_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    poison_state *state = cg_layer_state(layer);
    if (training) state->training_calls++;
    return cg_mul_scalar(x, training && state->training_calls == 5 ? NAN : 1.0);
}

static const cg_layer_class POISON_CLASS = {
    .type = "poison", .build = poison_build, .forward = poison_forward};

TEST(terminate_on_nan_names_the_epoch_and_batch) {
    labelled_data data = two_blobs(16, 37);
    poison_state poison = {0};
    cg_model *model =
        cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE), cg_layer_new(&POISON_CLASS, &poison));
    CHECK(data.x && model);
    CHECK(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    cg_fit_options options = QUIET;
    options.epochs = 5;
    options.batch_size = 4; /* 4 batches an epoch: call 5 is epoch 2, batch 1 */
    options.callbacks = CG_CALLBACKS(cg_terminate_on_nan());
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    CHECK(strcmp(cg_history_stop_reason(history),
                 "loss is NaN at epoch 2, batch 1 (cg_set_anomaly_detection(true) finds the op "
                 "that made it)") == 0);
    CHECK(cg_history_stopped_epoch(history) == 1);
    CHECK(cg_history_epochs(history) == 2);
    CHECK(poison.training_calls == 5); /* no batch ran after the NaN */
    CHECK(isnan(cg_history_series(history, "loss")[1]));
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* ----- files ----- */

TEST(csv_logger_writes_a_header_and_a_row_per_epoch) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    labelled_data data = two_blobs(16, 38);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    const char *path = temp_dir_file(&dir, "log.csv");
    cg_fit_options options = QUIET;
    options.epochs = 3;
    options.validation_split = 0.25;
    options.callbacks = CG_CALLBACKS(cg_csv_logger(path));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    FILE *file = fopen(path, "r");
    CHECK(file);
    char line[512];
    CHECK(fgets(line, sizeof line, file));
    CHECK(strcmp(line, "epoch,loss,accuracy,val_loss,val_accuracy,lr\n") == 0);
    int rows = 0;
    while (fgets(line, sizeof line, file)) {
        char *cursor = line;
        CHECK(strtol(cursor, &cursor, 10) == rows);
        for (int column = 0; column < 5; column++) {
            CHECK(*cursor == ',');
            const double value = strtod(cursor + 1, &cursor);
            const double logged =
                cg_history_series(history, cg_history_series_name(history, column))[rows];
            CHECK_NEAR(value, logged, 1e-9 * fabs(logged));
        }
        CHECK(*cursor == '\n');
        rows++;
    }
    fclose(file);
    CHECK(rows == 3);
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
    temp_dir_remove(&dir);
}

TEST(model_checkpoint_keeps_the_best_epoch) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    labelled_data data = two_blobs(16, 39);
    cg_model *model = blob_classifier(0.5, false);
    CHECK(data.x && model);
    const char *path = temp_dir_file(&dir, "best.safetensors");
    weight_recorder recorder = {0};
    cg_fit_options options = QUIET;
    options.epochs = 4;
    options.batch_size = 4;
    options.callbacks =
        CG_CALLBACKS(weight_recording(&recorder), cg_model_checkpoint(path, "loss", CG_MODE_AUTO));
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    CHECK(history);
    const double *loss = cg_history_series(history, "loss");
    int best = 0;
    for (int epoch = 1; epoch < 4; epoch++)
        if (loss[epoch] < loss[best]) best = epoch;
    cg_model *saved = cg_model_load(path);
    CHECK(saved);
    CHECK(parameters_equal(saved, &recorder.parameters[best]));
    cg_model_free(saved);
    cg_history_free(history);
    weight_recorder_release(&recorder);
    cg_model_free(model);
    labelled_data_release(&data);
    temp_dir_remove(&dir);
}

/* ----- progress ----- */

/* What fit printed with the given verbosity (malloc'd), for a 2-epoch run with validation. */
static char *progress_text(cg_verbosity verbose) {
    labelled_data data = two_blobs(20, 40);
    cg_model *model = blob_classifier(0.1, false);
    FILE *out = tmpfile();
    char *text = NULL;
    if (data.x && model && out) {
        cg_fit_options options = {.epochs = 2, .batch_size = 4, .validation_split = 0.2};
        options.verbose = verbose;
        options.output = out;
        cg_history *history = cg_fit(model, data.x, data.y, &options);
        if (history) text = file_text(out);
        cg_history_free(history);
    }
    if (out) fclose(out);
    cg_model_free(model);
    labelled_data_release(&data);
    return text;
}

static int count_char(const char *text, char wanted) {
    int count = 0;
    for (; *text; text++)
        count += *text == wanted;
    return count;
}

TEST(progress_lines_print_one_line_per_epoch) {
    char *text = progress_text(CG_VERBOSE_LINES);
    CHECK(text);
    const bool shape_ok = count_char(text, '\n') == 2 && count_char(text, '\r') == 0 &&
                          strncmp(text, "Epoch 1/2 - ", 12) == 0 && strstr(text, "\nEpoch 2/2 - ");
    char *second = strstr(text, "\nEpoch 2/2");
    const bool values_ok = second && strstr(second, " - loss: ") &&
                           strstr(second, " - accuracy: ") && strstr(second, " - val_loss: ") &&
                           strstr(second, " - val_accuracy: ") && !strstr(text, "lr:");
    free(text);
    CHECK(shape_ok);
    CHECK(values_ok);
}

TEST(progress_auto_is_lines_off_a_terminal_and_silent_prints_nothing) {
    char *automatic = progress_text(CG_VERBOSE_AUTO);
    char *silent = progress_text(CG_VERBOSE_SILENT);
    const bool automatic_ok =
        automatic && count_char(automatic, '\n') == 2 && count_char(automatic, '\r') == 0;
    const bool silent_ok = silent && *silent == '\0';
    free(automatic);
    free(silent);
    CHECK(automatic_ok);
    CHECK(silent_ok);
}

TEST(progress_bar_redraws_in_place_and_ends_each_epoch_with_its_values) {
    char *text = progress_text(CG_VERBOSE_BAR);
    CHECK(text);
    const bool ok = count_char(text, '\n') == 2 && strstr(text, "\rEpoch 1/2 [") &&
                    strstr(text, "] 1/4 - ETA ") &&
                    strstr(text, "\rEpoch 2/2 [==============================] 4/4 - ") &&
                    strstr(text, " - val_loss: ");
    free(text);
    CHECK(ok);
}
