/* Writing training checkpoints (the layout is in nn/checkpoint.h): the model file with the
 * optimizer's state and the history as tensors and the rest as metadata text, numbers written so
 * that they read back to the same bits (%.17g, hexadecimal for the random stream). One writer,
 * cg_safetensors_write, makes every model file and checkpoint atomic. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/callbacks.h"
#include "nn/checkpoint.h"

#define CHECKPOINT_FORMAT_VERSION "1"

/* The longest metadata value: a callback's state text. */
enum { CALLBACK_STATE_MAX = 512 };

static const char *const CHECKPOINT_PREFIXES[] = {"optimizer.", "history.", "training."};

bool cg_checkpoint_tensor_name(const char *name) {
    for (size_t i = 0; i < sizeof CHECKPOINT_PREFIXES / sizeof CHECKPOINT_PREFIXES[0]; i++)
        if (strncmp(name, CHECKPOINT_PREFIXES[i], strlen(CHECKPOINT_PREFIXES[i])) == 0) return true;
    return false;
}

/* What a checkpoint adds to the model file; every string and tensor is owned here. */
typedef struct {
    cg_safetensors_entry *tensors;
    size_t tensor_count, tensor_capacity;
    cg_safetensors_metadata *metadata;
    size_t metadata_count, metadata_capacity;
} checkpoint_parts;

static char *copy_text(const char *text) {
    char *copy = malloc(strlen(text) + 1);
    if (copy) strcpy(copy, text);
    return copy;
}

static int add_tensor(checkpoint_parts *parts, const char *name, cg_tensor *tensor) {
    if (!tensor) return -1;
    if (parts->tensor_count == parts->tensor_capacity) {
        const size_t capacity = parts->tensor_capacity ? parts->tensor_capacity * 2 : 16;
        cg_safetensors_entry *grown = realloc(parts->tensors, capacity * sizeof *grown);
        if (!grown) {
            cg_release(tensor);
            cg_error_set("out of memory");
            return -1;
        }
        parts->tensors = grown;
        parts->tensor_capacity = capacity;
    }
    char *copy = copy_text(name);
    if (!copy) {
        cg_release(tensor);
        cg_error_set("out of memory");
        return -1;
    }
    cg_tensor_unscope(tensor);
    parts->tensors[parts->tensor_count++] = (cg_safetensors_entry){copy, tensor};
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
add_value(checkpoint_parts *parts, const char *key, const char *format, ...) {
    if (parts->metadata_count == parts->metadata_capacity) {
        const size_t capacity = parts->metadata_capacity ? parts->metadata_capacity * 2 : 32;
        cg_safetensors_metadata *grown = realloc(parts->metadata, capacity * sizeof *grown);
        if (!grown) {
            cg_error_set("out of memory");
            return -1;
        }
        parts->metadata = grown;
        parts->metadata_capacity = capacity;
    }
    char value[CALLBACK_STATE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    char *key_copy = copy_text(key), *value_copy = copy_text(value);
    if (!key_copy || !value_copy) {
        free(key_copy);
        free(value_copy);
        cg_error_set("out of memory");
        return -1;
    }
    parts->metadata[parts->metadata_count++] = (cg_safetensors_metadata){key_copy, value_copy};
    return 0;
}

static void free_parts(checkpoint_parts *parts) {
    for (size_t i = 0; i < parts->tensor_count; i++) {
        free((char *)parts->tensors[i].name);
        cg_release(parts->tensors[i].tensor);
    }
    for (size_t i = 0; i < parts->metadata_count; i++) {
        free((char *)parts->metadata[i].key);
        free((char *)parts->metadata[i].value);
    }
    free(parts->tensors);
    free(parts->metadata);
}

/* The slot tensors (copies on the CPU), the step counts and the options, learning rate included. */
static int add_optimizer(checkpoint_parts *parts, const cg_model *model) {
    const cg_optimizer *optimizer = model->optimizer;
    const cg_optimizer_options o = cg_optimizer_get_options(optimizer);
    const int positions = cg_optimizer_state_positions(optimizer);
    if (add_value(parts, "optimizer.options", "%.17g %.17g %d %.17g %.17g %.17g %.17g %.17g %.17g",
                  o.learning_rate, o.momentum, (int)o.nesterov, o.beta1, o.beta2, o.epsilon, o.rho,
                  o.weight_decay, o.clip_norm) != 0 ||
        add_value(parts, "optimizer.positions", "%d", positions) != 0)
        return -1;
    if (positions <= 0) return 0;
    cg_tensor *steps = cg_empty(CG_SHAPE(positions), CG_INT64);
    for (int i = 0; steps && i < positions; i++)
        ((int64_t *)cg_tensor_data(steps))[i] = cg_optimizer_state_steps(optimizer, i);
    int status = add_tensor(parts, "optimizer.steps", steps);
    char name[CG_NAME_MAX + 64];
    for (int i = 0; status == 0 && i < positions; i++) {
        for (int slot = 0; status == 0 && slot < cg_optimizer_state_slots(optimizer); slot++) {
            const cg_tensor *tensor = cg_optimizer_state_tensor(optimizer, i, slot);
            if (!tensor) continue;
            snprintf(name, sizeof name, "optimizer.%s.%s", cg_model_parameter_name(model, i),
                     cg_optimizer_state_slot_name(optimizer, slot));
            status = add_tensor(parts, name, cg_to_device(tensor, cg_device_cpu()));
        }
    }
    return status;
}

/* The rows' epochs and one float64 series per logged quantity, with the stop and best epochs. */
static int add_history(checkpoint_parts *parts, const cg_history *history) {
    const int rows = cg_history_epochs(history);
    if (add_value(parts, "history.stopped_epoch", "%d", cg_history_stopped_epoch(history)) != 0 ||
        add_value(parts, "history.best_epoch", "%d", cg_history_best_epoch(history)) != 0 ||
        add_value(parts, "history.stop_reason", "%s", cg_history_stop_reason(history)) != 0)
        return -1;
    if (rows == 0) return 0;
    cg_tensor *epochs = cg_empty(CG_SHAPE(rows), CG_INT64);
    for (int row = 0; epochs && row < rows; row++)
        ((int64_t *)cg_tensor_data(epochs))[row] = cg_history_epoch_index(history, row);
    int status = add_tensor(parts, "history.epochs", epochs);
    char name[CG_NAME_MAX + 32];
    for (int i = 0; status == 0 && i < cg_history_series_count(history); i++) {
        const char *series = cg_history_series_name(history, i);
        snprintf(name, sizeof name, "history.series.%s", series);
        status = add_tensor(
            parts, name,
            cg_from_array(cg_history_series(history, series), CG_SHAPE(rows), CG_FLOAT64));
    }
    return status;
}

/* fit's settings, the running epoch's totals (mid-epoch) and each callback's state. */
static int add_fit(checkpoint_parts *parts, const cg_fit_context *fit, bool mid_epoch) {
    if (add_value(parts, "training.seed", "%016" PRIx64, fit->seed) != 0 ||
        add_value(parts, "training.batch_size", "%d", fit->batch_size) != 0 ||
        add_value(parts, "training.shuffle", "%d", (int)fit->shuffle) != 0 ||
        add_value(parts, "training.callbacks", "%d", fit->callback_count) != 0)
        return -1;
    if (mid_epoch) {
        cg_metric_totals *t = fit->totals;
        if (cg_metric_totals_read(t) != 0 ||
            add_value(
                parts, "training.totals",
                "%" PRId64 " %.17g %.17g %.17g %.17g %" PRId64 " %" PRId64 " %" PRId64 " %.17g",
                t->samples, t->loss_sum, t->metric_sums[0], t->metric_sums[1], t->metric_sums[2],
                t->metric_counts[0], t->metric_counts[1], t->metric_counts[2], t->batch_loss) != 0)
            return -1;
    }
    char key[48], state[CALLBACK_STATE_MAX];
    for (int i = 0; i < fit->callback_count; i++) {
        if (cg_callback_save_state(fit->callbacks[i], state, sizeof state) != 0) return -1;
        snprintf(key, sizeof key, "training.callback.%d", i);
        if (add_value(parts, key, "%s", state) != 0) return -1;
    }
    return 0;
}

static int add_position(checkpoint_parts *parts, const cg_train_state *state) {
    const cg_rng_state rng = cg_rng_get_state();
    return add_value(parts, CG_CHECKPOINT_FORMAT_KEY, "%s", CHECKPOINT_FORMAT_VERSION) == 0 &&
                   add_value(parts, "training.epoch", "%d", state->epoch) == 0 &&
                   add_value(parts, "training.batch", "%d", state->batch) == 0 &&
                   add_value(parts, "training.stop", "%d", (int)state->stop_training) == 0 &&
                   add_value(parts, "training.stop_reason", "%s", state->stop_reason) == 0 &&
                   add_value(parts, "training.rng", "%016" PRIx64 " %016" PRIx64, rng.seed,
                             rng.offset) == 0
               ? 0
               : -1;
}

int cg_checkpoint_save(const cg_train_state *state, const char *path) {
    const char *function = "cg_checkpoint_save";
    if (!state || !state->model || !path || !*path) {
        cg_error_set("%s: needs a train state with a model, and a path", function);
        return -1;
    }
    if (!state->model->compiled) {
        cg_model_file_error(function, path, "the model is not compiled (no optimizer to save)");
        return -1;
    }
    if (state->epoch < 0 || state->batch < 0) {
        cg_model_file_error(function, path, "epoch %d and batch %d must be >= 0", state->epoch,
                            state->batch);
        return -1;
    }
    checkpoint_parts parts = {0};
    int status = add_position(&parts, state);
    if (status == 0) status = add_optimizer(&parts, state->model);
    if (status == 0 && state->history) status = add_history(&parts, state->history);
    if (status == 0 && state->fit) status = add_fit(&parts, state->fit, state->batch > 0);
    if (status != 0)
        cg_model_file_error(function, path, "%s", cg_last_error());
    else
        status = cg_model_file_write(state->model, path, function, parts.tensors,
                                     parts.tensor_count, parts.metadata, parts.metadata_count);
    free_parts(&parts);
    return status;
}
