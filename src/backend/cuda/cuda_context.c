/* One context per GPU, set up at its first use and kept for the life of the process (like the
 * CUDA primary context it lives in): its streams, cuBLAS handle, block cache and staging
 * buffers. Also the device count and the conversion of CUDA and cuBLAS statuses into errors. */
#include <stdatomic.h>
#include <string.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_internal.h"
#include "core/error.h"

static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static int device_count;
static char unavailable_reason[256];

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static cg_cuda_device devices[CG_CUDA_MAX_DEVICES];
static atomic_bool device_ready[CG_CUDA_MAX_DEVICES];

bool cg_cuda_ok(cudaError_t status, const char *what) {
    if (status == cudaSuccess) return true;
    cg_error_set("%s: %s (%s)", what, cudaGetErrorString(status), cudaGetErrorName(status));
    return false;
}

bool cg_cublas_ok(cublasStatus_t status, const char *what) {
    if (status == CUBLAS_STATUS_SUCCESS) return true;
    cg_error_set("%s: %s (%s)", what, cublasGetStatusString(status), cublasGetStatusName(status));
    return false;
}

int cg_cuda_launched(const char *kernel) { return cg_cuda_ok(cudaGetLastError(), kernel) ? 0 : -1; }

/* The count is asked once: without a driver every later CUDA call would fail the same way. */
static void count_devices(void) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        snprintf(unavailable_reason, sizeof unavailable_reason, "%s (%s)",
                 cudaGetErrorString(status), cudaGetErrorName(status));
        count = 0;
    } else if (count == 0) {
        snprintf(unavailable_reason, sizeof unavailable_reason, "the machine has no CUDA GPU");
    }
    device_count = count < CG_CUDA_MAX_DEVICES ? count : CG_CUDA_MAX_DEVICES;
}

int cg_cuda_count_devices(void) {
    pthread_once(&count_once, count_devices);
    if (device_count == 0) cg_error_set("no CUDA device: %s", unavailable_reason);
    return device_count;
}

static void destroy_device(cg_cuda_device *device) {
    for (int i = 0; i < CG_CUDA_STAGING_BUFFERS; i++) {
        if (device->staging[i].released) cudaEventDestroy(device->staging[i].released);
        if (device->staging[i].data) cudaFreeHost(device->staging[i].data);
    }
    if (device->index_fault) cudaFreeHost(device->index_fault);
    if (device->cublas) cublasDestroy(device->cublas);
    if (device->kernels_queued) cudaEventDestroy(device->kernels_queued);
    if (device->prefetch_done) cudaEventDestroy(device->prefetch_done);
    if (device->copy_stream) cudaStreamDestroy(device->copy_stream);
    if (device->stream) cudaStreamDestroy(device->stream);
    memset(device, 0, sizeof *device);
}

/* Creates the context of GPU index (already current); false with an error, nothing kept. */
static bool setup_device(cg_cuda_device *device, int index) {
    memset(device, 0, sizeof *device);
    device->index = index;
    const unsigned no_timing = cudaEventDisableTiming;
    bool ok = cg_cuda_ok(cudaStreamCreateWithFlags(&device->stream, cudaStreamNonBlocking),
                         "cuda: creating a stream") &&
              cg_cuda_ok(cudaStreamCreateWithFlags(&device->copy_stream, cudaStreamNonBlocking),
                         "cuda: creating a stream") &&
              cg_cuda_ok(cudaEventCreateWithFlags(&device->kernels_queued, no_timing),
                         "cuda: creating an event") &&
              cg_cuda_ok(cudaEventCreateWithFlags(&device->prefetch_done, no_timing),
                         "cuda: creating an event") &&
              cg_cublas_ok(cublasCreate(&device->cublas), "cuda: creating the cuBLAS handle") &&
              cg_cublas_ok(cublasSetStream(device->cublas, device->stream),
                           "cuda: setting the cuBLAS stream") &&
              cg_cuda_ok(cudaHostAlloc((void **)&device->index_fault,
                                       3 * sizeof *device->index_fault, cudaHostAllocMapped),
                         "cuda: allocating the index fault record") &&
              cg_cuda_ok(cudaHostGetDevicePointer((void **)&device->index_fault_on_device,
                                                  device->index_fault, 0),
                         "cuda: mapping the index fault record");
    for (int i = 0; ok && i < CG_CUDA_STAGING_BUFFERS; i++)
        ok = cg_cuda_ok(cudaHostAlloc(&device->staging[i].data, CG_CUDA_STAGING_BYTES,
                                      cudaHostAllocDefault),
                        "cuda: allocating pinned staging memory") &&
             cg_cuda_ok(cudaEventCreateWithFlags(&device->staging[i].released, no_timing),
                        "cuda: creating an event");
    if (!ok) {
        destroy_device(device);
        return false;
    }
    memset(device->index_fault, 0, 3 * sizeof *device->index_fault);
    pthread_mutex_init(&device->cublas_lock, NULL);
    pthread_mutex_init(&device->cache_lock, NULL);
    pthread_mutex_init(&device->staging_lock, NULL);
    return true;
}

static bool make_current(int index) {
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess && current == index) return true;
    char what[64];
    snprintf(what, sizeof what, "cuda:%d: selecting the device", index);
    return cg_cuda_ok(cudaSetDevice(index), what);
}

cg_cuda_device *cg_cuda_select(int index) {
    const int count = cg_cuda_count_devices();
    if (index < 0 || index >= count) {
        if (count == 0)
            cg_error_set("cuda:%d is not available: %s", index, unavailable_reason);
        else
            cg_error_set("cuda:%d is not available: the machine has %d CUDA device%s", index, count,
                         count == 1 ? "" : "s");
        return NULL;
    }
    if (!make_current(index)) return NULL;
    if (atomic_load_explicit(&device_ready[index], memory_order_acquire)) return &devices[index];
    pthread_mutex_lock(&setup_lock);
    bool ready = atomic_load_explicit(&device_ready[index], memory_order_relaxed);
    if (!ready && setup_device(&devices[index], index)) {
        atomic_store_explicit(&device_ready[index], true, memory_order_release);
        ready = true;
    }
    pthread_mutex_unlock(&setup_lock);
    return ready ? &devices[index] : NULL;
}

cg_cuda_device *cg_cuda_device_of(const cg_tensor *t) {
    return cg_cuda_select(t->storage->device.index);
}

cg_cuda_device *cg_cuda_current(void) {
    int index = 0;
    if (!cg_cuda_ok(cudaGetDevice(&index), "cuda: reading the current device")) return NULL;
    return cg_cuda_select(index);
}

int cg_cuda_synchronize(cg_cuda_device *device) {
    char what[64];
    snprintf(what, sizeof what, "cuda:%d: a kernel failed", device->index);
    if (!cg_cuda_ok(cudaStreamSynchronize(device->stream), what)) return -1;
    volatile unsigned long long *fault = device->index_fault;
    if (!fault[0]) return 0;
    cg_error_set(
        "cuda:%d: index %lld is out of range for a dimension of size %lld (met by a gather "
        "or scatter_add queued before this point, such as a class label of cross_entropy or "
        "one_hot)",
        device->index, (long long)fault[1], (long long)fault[2]);
    fault[0] = 0;
    return -1;
}
