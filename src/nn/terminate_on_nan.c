/* Stops training at the first batch whose loss is not a finite number: nothing useful can follow
 * once the weights are NaN. The reason points to anomaly detection, which names the op that made
 * the first NaN: with it on, that op fails the batch before a NaN loss can reach this callback.
 * On a GPU, where reading the loss waits for the step, the loss is read every GPU_CHECK_INTERVAL
 * batches and at the epoch's last: then the epoch's running loss, which a single NaN or infinite
 * batch loss makes NaN or infinite, is checked too. */
#include <math.h>
#include <stdio.h>

#include "nn/callbacks.h"

enum { GPU_CHECK_INTERVAL = 32 };

static bool wants_batch_values(const cg_train_state *state, void *userdata) {
    (void)userdata;
    return cg_model_device(state->model).type == CG_DEVICE_CPU ||
           (state->batch + 1) % GPU_CHECK_INTERVAL == 0 || state->batch + 1 == state->batches;
}

static int on_batch_end(cg_train_state *state, void *userdata) {
    if (!wants_batch_values(state, userdata)) return 0;
    const double running = cg_train_state_value(state, "loss");
    const double loss = isfinite(state->batch_loss) ? running : state->batch_loss;
    if (isfinite(loss)) return 0;
    state->stop_training = true;
    snprintf(state->stop_reason, sizeof state->stop_reason, "loss is %s at epoch %d, batch %d%s",
             isnan(loss) ? "NaN" : "infinite", state->epoch + 1, state->batch + 1,
             cg_is_anomaly_detection_enabled()
                 ? ""
                 : " (cg_set_anomaly_detection(true) finds the op that made it)");
    return 0;
}

cg_callback *cg_terminate_on_nan(void) {
    const cg_callback_hooks hooks = {.on_batch_end = on_batch_end,
                                     .wants_batch_values = wants_batch_values};
    return cg_callback_new(&hooks, NULL);
}
