/* Models on devices: moving a model's tensors (in place, so that the parameter list, the
 * optimizer's positions and the caller's pointers stay valid) and its optimizer state. */
#include <stdio.h>

#include "backend/backend.h"
#include "core/device.h"
#include "core/error.h"
#include "nn/nn_internal.h"

int cg_model_place_tensors(cg_model *model) {
    for (int i = 0; i < model->layer_count; i++) {
        cg_layer *layer = model->layers[i];
        for (int j = 0; j < layer->tensor_count; j++)
            if (cg_tensor_move_(layer->tensors[j].tensor, model->device) != 0) return -1;
    }
    return 0;
}

int cg_model_to_device(cg_model *model, cg_device device) {
    if (!model) {
        cg_error_set("cg_model_to_device: model is NULL");
        return -1;
    }
    if (!cg_backend_get(device)) {
        char message[512];
        snprintf(message, sizeof message, "%s", cg_last_error());
        cg_error_set("cg_model_to_device: %s", message);
        return -1;
    }
    model->device = device;
    if (cg_model_place_tensors(model) != 0) return -1;
    return model->optimizer ? cg_optimizer_move_state(model->optimizer, device) : 0;
}

cg_device cg_model_device(const cg_model *model) {
    return model ? model->device : (cg_device){CG_DEVICE_CPU, 0};
}
