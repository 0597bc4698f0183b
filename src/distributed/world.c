/* The world the public functions of include/cgrad/distributed.h see: one rank until
 * cg_distributed_init joins an MPI job, then the ranks of that job through its transport. The
 * collectives check their arguments the same way in both, so a program that is wrong in a world
 * of one is told so before it runs on many. */
#include <stdlib.h>

#include "cgrad/distributed.h"
#include "core/error.h"
#include "core/tensor.h"
#include "distributed/buckets.h"
#include "distributed/transport.h"

static cg_world_place place = {0, 1, 0};
static const cg_transport *transport; /* NULL in a world of one */

bool cg_distributed_available(void) {
#ifdef CG_HAVE_MPI
    return true;
#else
    return false;
#endif
}

int cg_distributed_launch_size(void) {
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        const long size = value ? strtol(value, NULL, 10) : 0;
        if (size >= 1 && size <= 1 << 24) return (int)size;
    }
    return 1;
}

int cg_distributed_init(int *argc, char ***argv) {
    if (transport) return 0;
#ifdef CG_HAVE_MPI
    cg_world_place joined;
    const cg_transport *mpi = cg_mpi_transport_init(argc, argv, &joined);
    if (!mpi) return -1;
    place = joined;
    transport = mpi;
    return 0;
#else
    (void)argc;
    (void)argv;
    if (cg_distributed_launch_size() > 1) {
        cg_error_set("cg_distributed_init: launched as one of %d ranks, but this cgrad was built "
                     "without MPI (install an MPI such as libopenmpi-dev and rebuild)",
                     cg_distributed_launch_size());
        return -1;
    }
    return 0;
#endif
}

int cg_distributed_finalize(void) {
    if (!transport) return 0;
#ifdef CG_HAVE_NCCL
    cg_nccl_finalize();
#endif
    const int status = transport->finalize();
    transport = NULL;
    place = (cg_world_place){0, 1, 0};
    return status;
}

int cg_distributed_rank(void) { return place.rank; }
int cg_distributed_world_size(void) { return place.size; }
int cg_distributed_local_rank(void) { return place.local_rank; }

int cg_distributed_barrier(void) { return place.size > 1 ? transport->barrier() : 0; }

/* What a collective is given: tensors of the list, contiguous. */
static int check_list(const char *op, cg_tensor *const *tensors, int count) {
    if (count < 0 || (count > 0 && !tensors)) {
        cg_error_set("%s: the tensor list is NULL or its count %d is negative", op, count);
        return -1;
    }
    for (int i = 0; i < count; i++)
        if (!tensors[i] || !cg_tensor_is_contiguous(tensors[i])) {
            cg_error_set("%s: tensor %d of the list is %s", op, i,
                         tensors[i] ? "not contiguous" : "NULL");
            return -1;
        }
    return 0;
}

/* Whether tensor t's sum goes through NCCL. */
static bool through_nccl(const cg_tensor *t) {
#ifdef CG_HAVE_NCCL
    return cg_tensor_device(t).type == CG_DEVICE_CUDA;
#else
    (void)t;
    return false;
#endif
}

/* Splits the list into the tensors for NCCL and the rest (for the buckets), in order. */
static int split_by_transport(const char *op, cg_tensor *const *tensors, int count,
                              cg_tensor ***host, int *host_count, cg_tensor ***gpu,
                              int *gpu_count) {
    *host = malloc(sizeof(cg_tensor *) * (size_t)(count + 1));
    *gpu = malloc(sizeof(cg_tensor *) * (size_t)(count + 1));
    if (!*host || !*gpu) {
        cg_error_set("%s: out of memory for a list of %d tensors", op, count);
        return -1;
    }
    *host_count = *gpu_count = 0;
    for (int i = 0; i < count; i++) {
        if (through_nccl(tensors[i]))
            (*gpu)[(*gpu_count)++] = tensors[i];
        else
            (*host)[(*host_count)++] = tensors[i];
    }
    return 0;
}

/* The reduced sums divided by the world size, for the mean. */
static int average_buffer(void *buffer, int64_t count, cg_dtype dtype, void *userdata) {
    (void)userdata;
    if (transport->all_reduce_sum(buffer, count, dtype, NULL) != 0) return -1;
    const double scale = 1.0 / (double)place.size;
    if (dtype == CG_FLOAT32)
        for (int64_t i = 0; i < count; i++)
            ((float *)buffer)[i] = (float)((double)((float *)buffer)[i] * scale);
    else
        for (int64_t i = 0; i < count; i++)
            ((double *)buffer)[i] *= scale;
    return 0;
}

static int check_mean_dtypes(cg_tensor *const *tensors, int count) {
    for (int i = 0; i < count; i++)
        if (tensors[i]->dtype != CG_FLOAT32 && tensors[i]->dtype != CG_FLOAT64) {
            cg_error_set("cg_distributed_all_reduce: the mean needs float tensors, but tensor %d "
                         "is %s",
                         i, cg_dtype_name(tensors[i]->dtype));
            return -1;
        }
    return 0;
}

int cg_distributed_all_reduce(cg_tensor *const *tensors, int count, cg_all_reduce_op op) {
    const char *self = "cg_distributed_all_reduce";
    if (check_list(self, tensors, count) != 0) return -1;
    if (op != CG_ALL_REDUCE_SUM && op != CG_ALL_REDUCE_MEAN) {
        cg_error_set("%s: unknown reduction %d", self, (int)op);
        return -1;
    }
    if (op == CG_ALL_REDUCE_MEAN && check_mean_dtypes(tensors, count) != 0) return -1;
    if (place.size == 1) return 0;
    cg_tensor **host = NULL, **gpu = NULL;
    int host_count = 0, gpu_count = 0;
    int status = split_by_transport(self, tensors, count, &host, &host_count, &gpu, &gpu_count);
    if (status == 0)
        status = cg_buckets_run(
            host, host_count, CG_BUCKET_BYTES,
            op == CG_ALL_REDUCE_MEAN ? average_buffer : transport->all_reduce_sum, NULL);
#ifdef CG_HAVE_NCCL
    if (status == 0 && gpu_count > 0)
        status = cg_nccl_all_reduce(gpu, gpu_count, op == CG_ALL_REDUCE_MEAN, &place, transport);
#endif
    free(host);
    free(gpu);
    return status;
}

int cg_distributed_broadcast(cg_tensor *const *tensors, int count, int root) {
    const char *self = "cg_distributed_broadcast";
    if (check_list(self, tensors, count) != 0) return -1;
    if (root < 0 || root >= place.size) {
        cg_error_set("%s: root %d is not a rank of the world of %d", self, root, place.size);
        return -1;
    }
    if (place.size == 1) return 0;
    return cg_buckets_run(tensors, count, CG_BUCKET_BYTES, transport->broadcast, &root);
}

void cg_distributed_abort(int code) {
    if (place.size > 1) transport->abort(code);
}
