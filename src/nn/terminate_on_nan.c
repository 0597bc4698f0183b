/* Stops training at the first batch whose loss is not a finite number: nothing useful can follow
 * once the weights are NaN. The reason points to anomaly detection, which names the op that made
 * the first NaN: with it on, that op fails the batch before a NaN loss can reach this callback. */
#include <math.h>
#include <stdio.h>

#include "nn/callbacks.h"

static int on_batch_end(cg_train_state *state, void *userdata) {
    (void)userdata;
    if (isfinite(state->batch_loss)) return 0;
    state->stop_training = true;
    snprintf(state->stop_reason, sizeof state->stop_reason, "loss is %s at epoch %d, batch %d%s",
             isnan(state->batch_loss) ? "NaN" : "infinite", state->epoch + 1, state->batch + 1,
             cg_is_anomaly_detection_enabled()
                 ? ""
                 : " (cg_set_anomaly_detection(true) finds the op that made it)");
    return 0;
}

cg_callback *cg_terminate_on_nan(void) {
    const cg_callback_hooks hooks = {.on_batch_end = on_batch_end};
    return cg_callback_new(&hooks, NULL);
}
