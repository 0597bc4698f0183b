/* Copies between host memory and the current GPU. Uploads pass through pinned staging buffers in
 * chunks, so that they are asynchronous: the host returns once its data sits in a staging buffer,
 * and a buffer is refilled only when the copy out of it is done. Prefetches run on the copy
 * stream, after the kernels queued before them but alongside those queued later; the kernel
 * stream waits for them at cg_cuda_await_prefetches. Downloads wait for the kernels before them. */
#include <string.h>

#include "backend/cuda/cuda_internal.h"

/* Queues the upload of nbytes from src to dst on stream, chunk by chunk through the staging
 * buffers. */
static int staged_upload(cg_cuda_device *device, cudaStream_t stream, char *dst, const char *src,
                         size_t nbytes) {
    bool ok = true;
    pthread_mutex_lock(&device->staging_lock);
    for (size_t done = 0; ok && done < nbytes;) {
        cg_cuda_staging_buffer *buffer = &device->staging[device->next_staging];
        device->next_staging = (device->next_staging + 1) % CG_CUDA_STAGING_BUFFERS;
        const size_t left = nbytes - done;
        const size_t chunk = left < CG_CUDA_STAGING_BYTES ? left : CG_CUDA_STAGING_BYTES;
        ok = !buffer->in_use ||
             cg_cuda_ok(cudaEventSynchronize(buffer->released), "cuda: waiting for an upload");
        if (ok) {
            memcpy(buffer->data, src + done, chunk);
            ok = cg_cuda_ok(cudaMemcpyAsync(dst + done, buffer->data, chunk, cudaMemcpyHostToDevice,
                                            stream),
                            "cuda: copying to the device") &&
                 cg_cuda_ok(cudaEventRecord(buffer->released, stream), "cuda: recording an event");
            buffer->in_use = ok;
        }
        done += chunk;
    }
    pthread_mutex_unlock(&device->staging_lock);
    return ok ? 0 : -1;
}

int cg_cuda_copy_from_host(void *dst, const void *src, size_t nbytes) {
    cg_cuda_device *device = cg_cuda_current();
    return device ? staged_upload(device, device->stream, dst, src, nbytes) : -1;
}

int cg_cuda_copy_to_host(void *dst, const void *src, size_t nbytes) {
    cg_cuda_device *device = cg_cuda_current();
    if (!device) return -1;
    if (!cg_cuda_ok(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, device->stream),
                    "cuda: copying to the host"))
        return -1;
    return cg_cuda_synchronize(device);
}

/* The copy stream first waits for the kernels queued so far: they may still use the block that
 * dst was allocated from. */
int cg_cuda_prefetch_from_host(void *dst, const void *src, size_t nbytes) {
    cg_cuda_device *device = cg_cuda_current();
    if (!device ||
        !cg_cuda_ok(cudaEventRecord(device->kernels_queued, device->stream),
                    "cuda: recording an event") ||
        !cg_cuda_ok(cudaStreamWaitEvent(device->copy_stream, device->kernels_queued, 0),
                    "cuda: ordering a prefetch") ||
        staged_upload(device, device->copy_stream, dst, src, nbytes) != 0)
        return -1;
    return cg_cuda_ok(cudaEventRecord(device->prefetch_done, device->copy_stream),
                      "cuda: recording an event")
               ? 0
               : -1;
}

int cg_cuda_await_prefetches(void) {
    cg_cuda_device *device = cg_cuda_current();
    return device && cg_cuda_ok(cudaStreamWaitEvent(device->stream, device->prefetch_done, 0),
                                "cuda: waiting for prefetches")
               ? 0
               : -1;
}
