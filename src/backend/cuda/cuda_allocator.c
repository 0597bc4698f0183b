/* The caching device allocator, one cache per GPU. Blocks are rounded up to size classes and
 * kept on a free list per class when freed; since every use of a block is queued on the GPU's one
 * stream, a freed block can be handed out again at once (stream order puts its next use after its
 * last one). A training step that repeats its shapes therefore calls cudaMalloc only in its first
 * iteration. When cudaMalloc runs out of memory the cache is returned to the driver and the
 * allocation tried once more. */
#include <stdlib.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_internal.h"
#include "core/error.h"

enum { SMALLEST_BLOCK = 512, SMALLEST_OCTAVE = 9, CLASSES_PER_OCTAVE = 8 };

/* The class of a request of size bytes and the size its blocks have. */
static int size_class(size_t size, size_t *rounded) {
    if (size <= SMALLEST_BLOCK) {
        *rounded = SMALLEST_BLOCK;
        return 0;
    }
    const int octave = 63 - __builtin_clzll((unsigned long long)(size - 1)); /* 2^octave < size */
    const size_t base = (size_t)1 << octave, step = base / CLASSES_PER_OCTAVE;
    const size_t steps = (size - base + step - 1) / step; /* 1..CLASSES_PER_OCTAVE */
    *rounded = base + steps * step;
    return 1 + (octave - SMALLEST_OCTAVE) * CLASSES_PER_OCTAVE + (int)steps - 1;
}

/* Pops a cached block of class cls, or NULL. Called with the cache locked. */
static void *pop_cached(cg_cuda_device *device, int cls, size_t rounded) {
    cg_cuda_free_list *list = &device->free_lists[cls];
    if (list->count == 0) return NULL;
    device->stats.cached_bytes -= rounded;
    return list->blocks[--list->count];
}

/* cudaFree of every cached block; called with the cache locked, after the GPU's queued work. */
static bool free_cached_locked(cg_cuda_device *device) {
    bool ok = true;
    for (int cls = 0; cls < CG_CUDA_BLOCK_CLASSES; cls++) {
        cg_cuda_free_list *list = &device->free_lists[cls];
        while (list->count > 0) {
            ok = cg_cuda_ok(cudaFree(list->blocks[--list->count]), "cuda: freeing cached memory") &&
                 ok;
            device->stats.system_frees++;
        }
    }
    device->stats.cached_bytes = 0;
    return ok;
}

static bool drain_queues(cg_cuda_device *device) {
    return cg_cuda_ok(cudaStreamSynchronize(device->copy_stream), "cuda: waiting for copies") &&
           cg_cuda_ok(cudaStreamSynchronize(device->stream), "cuda: waiting for kernels");
}

int cg_cuda_release_cached(cg_cuda_device *device) {
    if (!drain_queues(device)) return -1;
    pthread_mutex_lock(&device->cache_lock);
    const bool ok = free_cached_locked(device);
    pthread_mutex_unlock(&device->cache_lock);
    return ok ? 0 : -1;
}

/* A new block from the driver; on running out, once more after returning the cache. */
static void *system_alloc(cg_cuda_device *device, size_t rounded) {
    void *block = NULL;
    cudaError_t status = cudaMalloc(&block, rounded);
    if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* clears the error, which is not sticky */
        if (cg_cuda_release_cached(device) != 0) return NULL;
        status = cudaMalloc(&block, rounded);
    }
    if (status == cudaSuccess) return block;
    char what[160];
    snprintf(what, sizeof what, "cuda:%d: out of memory allocating %zu bytes (%zu in use)",
             device->index, rounded, device->stats.live_bytes);
    cg_cuda_ok(status, what);
    return NULL;
}

void *cg_cuda_alloc(cg_cuda_device *device, size_t nbytes) {
    size_t rounded;
    const int cls = size_class(nbytes, &rounded);
    if (cls >= CG_CUDA_BLOCK_CLASSES) {
        cg_error_set("cuda:%d: out of memory allocating %zu bytes", device->index, nbytes);
        return NULL;
    }
    pthread_mutex_lock(&device->cache_lock);
    void *block = pop_cached(device, cls, rounded);
    pthread_mutex_unlock(&device->cache_lock);
    const bool fresh = block == NULL;
    if (fresh) block = system_alloc(device, rounded);
    if (!block) return NULL;
    pthread_mutex_lock(&device->cache_lock);
    if (fresh) device->stats.system_allocs++;
    device->stats.live_bytes += rounded;
    if (device->stats.live_bytes > device->stats.peak_live_bytes)
        device->stats.peak_live_bytes = device->stats.live_bytes;
    pthread_mutex_unlock(&device->cache_lock);
    return block;
}

void cg_cuda_free(cg_cuda_device *device, void *block, size_t nbytes) {
    if (!block) return;
    size_t rounded;
    const int cls = size_class(nbytes, &rounded);
    pthread_mutex_lock(&device->cache_lock);
    cg_cuda_free_list *list = &device->free_lists[cls];
    if (list->count == list->capacity) {
        const int capacity = list->capacity ? 2 * list->capacity : 16;
        void **blocks = realloc(list->blocks, sizeof *blocks * (size_t)capacity);
        if (blocks) {
            list->blocks = blocks;
            list->capacity = capacity;
        }
    }
    device->stats.live_bytes -= rounded;
    if (list->count < list->capacity) {
        list->blocks[list->count++] = block;
        device->stats.cached_bytes += rounded;
    } else {
        /* No room to remember the block: give it back once no queued kernel can use it (a
         * failure can only be recorded, as free reports nothing). */
        if (cg_cuda_ok(cudaStreamSynchronize(device->stream), "cuda: waiting for kernels") &&
            cg_cuda_ok(cudaFree(block), "cuda: freeing memory"))
            device->stats.system_frees++;
    }
    pthread_mutex_unlock(&device->cache_lock);
}

int cg_cuda_allocator_stats(int index, cg_memory_stats *stats) {
    cg_cuda_device *device = cg_cuda_select(index);
    if (!device) return -1;
    pthread_mutex_lock(&device->cache_lock);
    *stats = device->stats;
    pthread_mutex_unlock(&device->cache_lock);
    return 0;
}

int cg_cuda_allocator_reset_peak(int index) {
    cg_cuda_device *device = cg_cuda_select(index);
    if (!device) return -1;
    pthread_mutex_lock(&device->cache_lock);
    device->stats.peak_live_bytes = device->stats.live_bytes;
    pthread_mutex_unlock(&device->cache_lock);
    return 0;
}

int cg_cuda_allocator_release_cached(int index) {
    cg_cuda_device *device = cg_cuda_select(index);
    return device ? cg_cuda_release_cached(device) : -1;
}
