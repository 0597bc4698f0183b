#include "backend/backend.h"

#include "core/error.h"

const cg_backend *cg_backend_get(cg_device device) {
    if (device.type == CG_DEVICE_CPU) return &cg_cpu_backend;
    cg_error_set("device cuda:%d is not available: this build of cgrad has no CUDA backend",
                 device.index);
    return NULL;
}
