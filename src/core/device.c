/* Device values and names, the GPU queries of the public API, byte transfers between a storage
 * and the host, and in-place moves. The CUDA backend is reached only through its backend table
 * and the queries of backend/cuda/cuda_backend.h. */
#include "core/device.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#ifdef CG_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

static _Thread_local bool tf32_enabled;

cg_device cg_device_cpu(void) { return (cg_device){CG_DEVICE_CPU, 0}; }

cg_device cg_device_cuda(int index) { return (cg_device){CG_DEVICE_CUDA, index}; }

int cg_device_parse(const char *text, cg_device *device) {
    if (!text || !device) {
        cg_error_set("device: needs a text and a device to fill");
        return -1;
    }
    if (strcmp(text, "cpu") == 0) {
        *device = cg_device_cpu();
        return 0;
    }
    if (strcmp(text, "cuda") == 0) {
        *device = cg_device_cuda(0);
        return 0;
    }
    if (strncmp(text, "cuda:", 5) == 0 && text[5] >= '0' && text[5] <= '9') {
        char *end;
        const long index = strtol(text + 5, &end, 10);
        if (*end == '\0' && index <= INT_MAX) {
            *device = cg_device_cuda((int)index);
            return 0;
        }
    }
    cg_error_set("device: '%s' is not a device (expected cpu, cuda or cuda:N)", text);
    return -1;
}

#ifdef CG_HAVE_CUDA

int cg_cuda_device_count(void) { return cg_cuda_count_devices(); }

int cg_cuda_memory_stats(int index, cg_memory_stats *stats) {
    if (!stats) {
        cg_error_set("cuda memory stats: stats is NULL");
        return -1;
    }
    return cg_cuda_allocator_stats(index, stats);
}

int cg_cuda_memory_reset_peak(int index) { return cg_cuda_allocator_reset_peak(index); }

int cg_cuda_memory_release_cached(int index) { return cg_cuda_allocator_release_cached(index); }

#else

static const char no_cuda_backend[] = "this build of cgrad has no CUDA backend";

int cg_cuda_device_count(void) {
    cg_error_set("no CUDA device: %s", no_cuda_backend);
    return 0;
}

int cg_cuda_memory_stats(int index, cg_memory_stats *stats) {
    (void)stats;
    cg_error_set("cuda:%d is not available: %s", index, no_cuda_backend);
    return -1;
}

int cg_cuda_memory_reset_peak(int index) { return cg_cuda_memory_stats(index, NULL); }

int cg_cuda_memory_release_cached(int index) { return cg_cuda_memory_stats(index, NULL); }

#endif

bool cg_cuda_is_available(void) { return cg_cuda_device_count() > 0; }

bool cg_set_tf32_enabled(bool enabled) {
    const bool previous = tf32_enabled;
    tf32_enabled = enabled;
    return previous;
}

bool cg_is_tf32_enabled(void) { return tf32_enabled; }

int cg_storage_read(const cg_storage *storage, size_t offset, void *dst, size_t nbytes) {
    const char *src = (const char *)storage->data + offset;
    if (nbytes == 0) return 0;
    if (storage->device.type == CG_DEVICE_CPU) {
        memcpy(dst, src, nbytes);
        return 0;
    }
    const cg_backend *backend = cg_backend_get(storage->device);
    return backend ? backend->copy_to_host(dst, src, nbytes) : -1;
}

int cg_storage_write(cg_storage *storage, size_t offset, const void *src, size_t nbytes) {
    char *dst = (char *)storage->data + offset;
    if (nbytes == 0) return 0;
    if (storage->device.type == CG_DEVICE_CPU) {
        memcpy(dst, src, nbytes);
        return 0;
    }
    const cg_backend *backend = cg_backend_get(storage->device);
    return backend ? backend->copy_from_host(dst, src, nbytes) : -1;
}

int cg_tensor_move_(cg_tensor *t, cg_device device) {
    if (cg_device_equal(t->storage->device, device)) return 0;
    const bool previous = cg_set_grad_enabled(false);
    cg_tensor *moved = cg_to_device(t, device);
    cg_set_grad_enabled(previous);
    if (!moved) return -1;
    cg_tensor_unscope(moved);
    /* The copy's header leaves with the old storage, which goes once no view holds it. */
    cg_storage *old = t->storage;
    t->storage = moved->storage;
    t->offset = 0;
    memcpy(t->strides, moved->strides, sizeof t->strides);
    moved->storage = old;
    cg_tensor_decref(moved);
    cg_tensor_decref(t->grad);
    t->grad = NULL;
    return 0;
}
