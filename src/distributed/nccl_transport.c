/* The NCCL transport for tensors on CUDA devices: one communicator over the ranks, each on the GPU
 * of its tensors, set up at the first all-reduce from an id that rank 0 makes and the MPI
 * transport passes on. The all-reduces of a call go in one NCCL group on the stream of the CUDA
 * backend, so they are ordered after the kernels that computed the tensors, and the call returns
 * once they are done. */
#include <nccl.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "core/error.h"
#include "core/tensor.h"
#include "distributed/transport.h"

static ncclComm_t communicator;
static bool communicator_ready;

static bool nccl_ok(ncclResult_t status, const char *what) {
    if (status == ncclSuccess) return true;
    cg_error_set("distributed: %s failed: %s", what, ncclGetErrorString(status));
    return false;
}

static ncclDataType_t nccl_type(cg_dtype dtype) {
    switch (dtype) {
    case CG_FLOAT32: return ncclFloat32;
    case CG_FLOAT64: return ncclFloat64;
    case CG_INT32: return ncclInt32;
    case CG_INT64: return ncclInt64;
    default: return ncclUint8;
    }
}

static int set_up(const cg_world_place *place, const cg_transport *transport) {
    if (communicator_ready) return 0;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int root = 0;
    if (place->rank == 0 && !nccl_ok(ncclGetUniqueId(&id), "ncclGetUniqueId")) return -1;
    if (transport->broadcast(&id, (int64_t)sizeof id, CG_UINT8, &root) != 0 ||
        !nccl_ok(ncclCommInitRank(&communicator, place->size, id, place->rank), "ncclCommInitRank"))
        return -1;
    communicator_ready = true;
    return 0;
}

int cg_nccl_all_reduce(cg_tensor *const *tensors, int count, bool mean, const cg_world_place *place,
                       const cg_transport *transport) {
    cg_cuda_device *device = cg_cuda_device_of(tensors[0]);
    if (!device || set_up(place, transport) != 0) return -1;
    for (int i = 1; i < count; i++)
        if (cg_tensor_device(tensors[i]).index != device->index) {
            cg_error_set("cg_distributed_all_reduce: the CUDA tensors of one rank must share a "
                         "GPU, but tensor %d is on cuda:%d and the first on cuda:%d",
                         i, cg_tensor_device(tensors[i]).index, device->index);
            return -1;
        }
    bool ok = nccl_ok(ncclGroupStart(), "ncclGroupStart");
    for (int i = 0; ok && i < count; i++) {
        void *data = cg_tensor_data(tensors[i]);
        ok = nccl_ok(ncclAllReduce(data, data, (size_t)cg_numel(tensors[i]),
                                   nccl_type(tensors[i]->dtype), mean ? ncclAvg : ncclSum,
                                   communicator, device->stream),
                     "ncclAllReduce");
    }
    ok = nccl_ok(ncclGroupEnd(), "ncclGroupEnd") && ok;
    return ok ? cg_cuda_synchronize(device) : -1;
}

void cg_nccl_finalize(void) {
    if (communicator_ready) ncclCommDestroy(communicator);
    communicator_ready = false;
}
