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
#include "distributed/world.h"

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

/* A list split into the tensors for NCCL and the rest (for the buckets), each in order, with the
 * host tensors' weights. */
typedef struct {
    cg_tensor **host, **gpu;
    double *host_weights;
    int host_count, gpu_count;
} transport_split;

static void split_free(transport_split *split) {
    free(split->host);
    free(split->gpu);
    free(split->host_weights);
}

/* Tensor t times weight, in place, through the ops of its device: for GPU tensors before NCCL
 * sums them, and for every tensor in a world of one. */
static int weigh_in_place(cg_tensor *t, double weight) {
    if (weight == 1) return 0;
    cg_scope_begin();
    const int status = cg_copy_(t, cg_mul_scalar(t, weight));
    cg_scope_end();
    return status;
}

/* Splits the list (weights NULL: all 1); GPU tensors are weighted here, host ones as they are
 * packed. */
static int split_by_transport(const char *op, cg_tensor *const *tensors, const double *weights,
                              int count, transport_split *split) {
    const size_t capacity = (size_t)count + 1;
    *split = (transport_split){malloc(sizeof(cg_tensor *) * capacity),
                               malloc(sizeof(cg_tensor *) * capacity),
                               malloc(sizeof(double) * capacity), 0, 0};
    if (!split->host || !split->gpu || !split->host_weights) {
        cg_error_set("%s: out of memory for a list of %d tensors", op, count);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        const double weight = weights ? weights[i] : 1;
        if (through_nccl(tensors[i])) {
            if (weigh_in_place(tensors[i], weight) != 0) return -1;
            split->gpu[split->gpu_count++] = tensors[i];
        } else {
            split->host_weights[split->host_count] = weight;
            split->host[split->host_count++] = tensors[i];
        }
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

/* Float tensors where the reduction needs them: all of them for the mean (weights NULL), those
 * with a weight other than 1 for a weighted sum. */
static int check_float_dtypes(const char *op, cg_tensor *const *tensors, const double *weights,
                              int count) {
    for (int i = 0; i < count; i++)
        if ((!weights || weights[i] != 1) && tensors[i]->dtype != CG_FLOAT32 &&
            tensors[i]->dtype != CG_FLOAT64) {
            cg_error_set("%s: %s needs float tensors, but tensor %d is %s", op,
                         weights ? "a weight other than 1" : "the mean", i,
                         cg_dtype_name(tensors[i]->dtype));
            return -1;
        }
    return 0;
}

/* The sum (weighted, or the mean) over the ranks: host tensors through the buckets, GPU tensors
 * through NCCL. */
static int reduce(const char *op, cg_tensor *const *tensors, const double *weights, int count,
                  bool mean) {
    if (place.size == 1) {
        for (int i = 0; weights && i < count; i++)
            if (weigh_in_place(tensors[i], weights[i]) != 0) return -1;
        return 0;
    }
    /* The mean scales the sums in the buffer, so not in place. */
    const cg_bucket_place sum_place = mean ? NULL : transport->sum_place;
    const cg_bucket_exchange exchange = mean ? average_buffer : transport->all_reduce_sum;
    bool host_only = true;
    for (int i = 0; host_only && i < count; i++)
        host_only = !through_nccl(tensors[i]);
    /* A list of host tensors alone (every step of data-parallel fit on CPUs) goes as it is. */
    if (host_only)
        return cg_buckets_run(tensors, weights, count, CG_BUCKET_BYTES, sum_place, exchange, NULL);
    transport_split split;
    int status = split_by_transport(op, tensors, weights, count, &split);
    if (status == 0)
        status = cg_buckets_run(split.host, split.host_weights, split.host_count, CG_BUCKET_BYTES,
                                sum_place, exchange, NULL);
#ifdef CG_HAVE_NCCL
    if (status == 0 && split.gpu_count > 0)
        status = cg_nccl_all_reduce(split.gpu, split.gpu_count, mean, &place, transport);
#endif
    split_free(&split);
    return status;
}

int cg_distributed_all_reduce(cg_tensor *const *tensors, int count, cg_all_reduce_op op) {
    const char *self = "cg_distributed_all_reduce";
    if (check_list(self, tensors, count) != 0) return -1;
    if (op != CG_ALL_REDUCE_SUM && op != CG_ALL_REDUCE_MEAN) {
        cg_error_set("%s: unknown reduction %d", self, (int)op);
        return -1;
    }
    if (op == CG_ALL_REDUCE_MEAN && check_float_dtypes(self, tensors, NULL, count) != 0) return -1;
    return reduce(self, tensors, NULL, count, op == CG_ALL_REDUCE_MEAN);
}

int cg_distributed_all_reduce_weighted(cg_tensor *const *tensors, const double *weights,
                                       int count) {
    const char *self = "cg_distributed_all_reduce_weighted";
    if (check_list(self, tensors, count) != 0) return -1;
    if (count > 0 && !weights) {
        cg_error_set("%s: the weights are NULL", self);
        return -1;
    }
    if (check_float_dtypes(self, tensors, weights, count) != 0) return -1;
    return reduce(self, tensors, weights, count, false);
}

bool cg_distributed_sums_in_shared_memory(void) {
    return place.size > 1 && transport->sum_place() != NULL;
}

void *cg_distributed_sum_start(void *buffer, int64_t count, cg_dtype dtype) {
    return transport->sum_start(buffer, count, dtype);
}

int cg_distributed_sum_test(void *request, bool *done) {
    return transport->sum_test(request, done);
}

int cg_distributed_sum_wait(void *request) { return transport->sum_wait(request); }

int cg_distributed_broadcast(cg_tensor *const *tensors, int count, int root) {
    const char *self = "cg_distributed_broadcast";
    if (check_list(self, tensors, count) != 0) return -1;
    if (root < 0 || root >= place.size) {
        cg_error_set("%s: root %d is not a rank of the world of %d", self, root, place.size);
        return -1;
    }
    if (place.size == 1) return 0;
    return cg_buckets_run(tensors, NULL, count, CG_BUCKET_BYTES, NULL, transport->broadcast, &root);
}

void cg_distributed_abort(int code) {
    if (place.size > 1) transport->abort(code);
}
