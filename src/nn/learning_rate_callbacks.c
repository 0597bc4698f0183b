/* Callbacks that set the optimizer's learning rate: on a plateau of a monitored quantity, or from
 * a schedule at the start of each epoch. Both keep their state in training checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/callbacks.h"

typedef struct {
    cg_monitor monitor;
    double factor, min_lr;
    int patience, epochs_without_improvement;
} plateau_reduction;

static int reduce_on_train_begin(cg_train_state *state, void *userdata) {
    (void)state;
    plateau_reduction *reduction = userdata;
    cg_monitor_reset(&reduction->monitor);
    reduction->epochs_without_improvement = 0;
    return 0;
}

static int reduce_on_epoch_end(cg_train_state *state, void *userdata) {
    plateau_reduction *reduction = userdata;
    double value;
    if (cg_monitor_read(&reduction->monitor, "cg_reduce_lr_on_plateau", state, &value) != 0)
        return -1;
    if (cg_monitor_improved(&reduction->monitor, value, state->epoch)) {
        reduction->epochs_without_improvement = 0;
        return 0;
    }
    if (++reduction->epochs_without_improvement < reduction->patience) return 0;
    reduction->epochs_without_improvement = 0;
    cg_optimizer *optimizer = cg_model_optimizer(state->model);
    const double rate = cg_optimizer_learning_rate(optimizer);
    const double reduced = fmax(rate * reduction->factor, reduction->min_lr);
    if (reduced < rate) cg_optimizer_set_learning_rate(optimizer, reduced);
    return 0;
}

static int reduce_save_state(void *userdata, char *buffer, size_t size) {
    const plateau_reduction *reduction = userdata;
    return cg_monitor_save(&reduction->monitor, &reduction->epochs_without_improvement, 1, buffer,
                           size);
}

static int reduce_load_state(void *userdata, const char *text) {
    plateau_reduction *reduction = userdata;
    return cg_monitor_load(&reduction->monitor, "cg_reduce_lr_on_plateau", text,
                           &reduction->epochs_without_improvement, 1);
}

cg_callback *cg_reduce_lr_on_plateau(const char *monitor, double factor, int patience,
                                     double min_lr) {
    if (!(factor > 0 && factor < 1) || patience < 0 || !(min_lr >= 0)) {
        cg_error_set("cg_reduce_lr_on_plateau: needs 0 < factor < 1, patience >= 0 and "
                     "min_lr >= 0, got %g, %d and %g",
                     factor, patience, min_lr);
        return NULL;
    }
    plateau_reduction *reduction = calloc(1, sizeof *reduction);
    if (!reduction) {
        cg_error_set("cg_reduce_lr_on_plateau: out of memory");
        return NULL;
    }
    if (cg_monitor_init(&reduction->monitor, "cg_reduce_lr_on_plateau", monitor, CG_MODE_AUTO,
                        0.0) != 0) {
        free(reduction);
        return NULL;
    }
    reduction->factor = factor;
    reduction->min_lr = min_lr;
    reduction->patience = patience;
    const cg_callback_hooks hooks = {.on_train_begin = reduce_on_train_begin,
                                     .on_epoch_end = reduce_on_epoch_end,
                                     .destroy = free,
                                     .save_state = reduce_save_state,
                                     .load_state = reduce_load_state};
    return cg_callback_new(&hooks, reduction);
}

typedef struct {
    cg_lr_schedule schedule;
    double initial_rate; /* the optimizer's rate when training began */
} scheduled_rate;

static int schedule_on_train_begin(cg_train_state *state, void *userdata) {
    scheduled_rate *scheduled = userdata;
    scheduled->initial_rate = cg_optimizer_learning_rate(cg_model_optimizer(state->model));
    return 0;
}

static int schedule_on_epoch_begin(cg_train_state *state, void *userdata) {
    scheduled_rate *scheduled = userdata;
    const double rate =
        cg_lr_schedule_rate(&scheduled->schedule, scheduled->initial_rate, state->epoch);
    if (!isfinite(rate) || rate < 0) {
        cg_error_set("cg_lr_scheduler: the schedule gives rate %g at epoch %d", rate, state->epoch);
        return -1;
    }
    cg_optimizer_set_learning_rate(cg_model_optimizer(state->model), rate);
    return 0;
}

/* The initial rate, exactly: a resumed run's optimizer holds the scheduled rate instead. */
static int schedule_save_state(void *userdata, char *buffer, size_t size) {
    const scheduled_rate *scheduled = userdata;
    snprintf(buffer, size, "%.17g", scheduled->initial_rate);
    return 0;
}

static int schedule_load_state(void *userdata, const char *text) {
    scheduled_rate *scheduled = userdata;
    char *end;
    const double rate = strtod(text, &end);
    if (end == text || *end != '\0' || !(rate >= 0) || isinf(rate)) {
        cg_error_set("cg_lr_scheduler: state \"%s\" is not an initial learning rate", text);
        return -1;
    }
    scheduled->initial_rate = rate;
    return 0;
}

cg_callback *cg_lr_scheduler(cg_lr_schedule schedule) {
    scheduled_rate *scheduled = malloc(sizeof *scheduled);
    if (!scheduled) {
        cg_error_set("cg_lr_scheduler: out of memory");
        return NULL;
    }
    *scheduled = (scheduled_rate){.schedule = schedule};
    const cg_callback_hooks hooks = {.on_train_begin = schedule_on_train_begin,
                                     .on_epoch_begin = schedule_on_epoch_begin,
                                     .destroy = free,
                                     .save_state = schedule_save_state,
                                     .load_state = schedule_load_state};
    return cg_callback_new(&hooks, scheduled);
}
