/* Batches moved to a device one batch ahead: handing out batch k starts the copy of batch k + 1
 * (the backend's prefetch, which overlaps the kernels queued after it), and the kernels of batch
 * k + 1 wait for that copy when it is handed out in turn. */
#include "nn/device_batches.h"

#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"
#include "core/scope.h"

typedef struct {
    cg_batch_source base;
    cg_batch_source *inner;
    cg_device device;
    cg_tensor *next_x, *next_y; /* the batch on its way, owned here */
    int next_status;            /* what the inner source gave for it: 1 a batch, 0 the end */
} device_batches;

/* t on the device, owned by the caller outside any scope: a host tensor's copy to a GPU is
 * prefetched, any other copy is made at once. */
static cg_tensor *moved(const device_batches *batches, const cg_tensor *t) {
    const cg_device from = cg_tensor_device(t);
    cg_tensor *out;
    if (from.type == CG_DEVICE_CPU && batches->device.type != CG_DEVICE_CPU) {
        const cg_tensor *dense = cg_contiguous(t);
        out = dense ? cg_empty_on(cg_tensor_shape(t), cg_tensor_dtype(t), batches->device) : NULL;
        const cg_backend *backend = out ? cg_backend_get(batches->device) : NULL;
        const size_t bytes = (size_t)cg_numel(t) * cg_dtype_size(cg_tensor_dtype(t));
        if (out && (!backend || backend->prefetch_from_host(cg_tensor_data(out),
                                                            cg_tensor_data(dense), bytes) != 0))
            out = NULL;
    } else {
        out = cg_to_device(t, batches->device);
    }
    if (out) cg_tensor_unscope(out);
    return out;
}

/* Drops the batch on its way, once its copy is done (its memory may serve the next one). */
static void drop_next(device_batches *batches) {
    if (batches->next_x && batches->device.type != CG_DEVICE_CPU) {
        const cg_backend *backend = cg_backend_get(batches->device);
        if (backend) backend->await_prefetches();
    }
    cg_release(batches->next_x);
    cg_release(batches->next_y);
    batches->next_x = batches->next_y = NULL;
    batches->next_status = 0;
}

/* Takes the inner source's next batch and starts moving it. 0 or -1. */
static int fetch_next(device_batches *batches) {
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *x, *y;
    int status = cg_batch_source_next(batches->inner, &x, &y);
    if (status == 1) {
        batches->next_x = moved(batches, x);
        batches->next_y = y ? moved(batches, y) : NULL;
        if (!batches->next_x || (y && !batches->next_y)) status = -1;
    }
    cg_scope_end();
    cg_set_grad_enabled(grad_was_enabled);
    if (status < 0) {
        drop_next(batches);
        return -1;
    }
    batches->next_status = status;
    return 0;
}

static int device_start_epoch(cg_batch_source *source, int epoch) {
    device_batches *batches = (device_batches *)source;
    drop_next(batches);
    if (cg_batch_source_start_epoch(batches->inner, epoch) != 0) return -1;
    return fetch_next(batches);
}

/* Hands the batch on its way to the current scope, then starts the next one. */
static int device_next(cg_batch_source *source, cg_tensor **x, cg_tensor **y) {
    device_batches *batches = (device_batches *)source;
    *x = *y = NULL;
    if (batches->next_status != 1) return batches->next_status;
    if (batches->device.type != CG_DEVICE_CPU) {
        const cg_backend *backend = cg_backend_get(batches->device);
        if (!backend || backend->await_prefetches() != 0) return -1;
    }
    cg_tensor *next_x = batches->next_x, *next_y = batches->next_y;
    batches->next_x = batches->next_y = NULL;
    batches->next_status = 0;
    if (!cg_scope_adopt(next_x)) {
        cg_release(next_x);
        cg_release(next_y);
        return -1;
    }
    if (next_y && !cg_scope_adopt(next_y)) {
        cg_release(next_y);
        return -1;
    }
    *x = next_x;
    *y = next_y;
    return fetch_next(batches) == 0 ? 1 : -1;
}

static void device_free(cg_batch_source *source) {
    device_batches *batches = (device_batches *)source;
    drop_next(batches);
    cg_batch_source_free(batches->inner);
    free(batches);
}

static const cg_batch_source_class device_class = {device_start_epoch, device_next, device_free};

cg_batch_source *cg_batches_on_device(cg_batch_source *source, cg_device data_device,
                                      cg_device device) {
    if (!source || cg_device_equal(data_device, device)) return source;
    device_batches *batches = calloc(1, sizeof *batches);
    if (!batches) {
        cg_error_set("out of memory for the batches of a device");
        cg_batch_source_free(source);
        return NULL;
    }
    batches->base = *source;
    batches->base.source_class = &device_class;
    batches->inner = source;
    batches->device = device;
    return &batches->base;
}
