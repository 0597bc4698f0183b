/* The transports behind include/cgrad/distributed.h. world.c keeps the world of one and calls a
 * transport only when the world holds more ranks: MPI for host buffers (mpi_transport.c) and, in
 * builds with CUDA and NCCL, NCCL for tensors on GPUs (nccl_transport.c). */
#ifndef CG_DISTRIBUTED_TRANSPORT_H
#define CG_DISTRIBUTED_TRANSPORT_H

#include "cgrad.h"

typedef struct {
    int rank, size, local_rank;
} cg_world_place;

typedef struct {
    int (*barrier)(void);
    /* In place over the ranks' host buffers of count elements of dtype; the signature of a
     * bucket exchange (distributed/buckets.h). userdata is unused by the sum and points to the
     * root rank (an int) for the broadcast. 0, or -1 with an error. */
    int (*all_reduce_sum)(void *buffer, int64_t count, cg_dtype dtype, void *userdata);
    /* Where all_reduce_sum finds its next buffer (up to CG_BUCKET_BYTES) without copying it, or
     * NULL (the bucket place of distributed/buckets.h). */
    void *(*sum_place)(void);
    /* all_reduce_sum started without waiting, over at most INT_MAX / 2 elements (not through
     * shared memory): a request to pass to sum_test until it says done, or to sum_wait, either
     * of which frees it once done; NULL with an error. */
    void *(*sum_start)(void *buffer, int64_t count, cg_dtype dtype);
    /* Advances the sum and sets *done. 0, or -1 with an error (the request is then freed). */
    int (*sum_test)(void *request, bool *done);
    /* Waits for the sum. 0, or -1 with an error. */
    int (*sum_wait)(void *request);
    int (*broadcast)(void *buffer, int64_t count, cg_dtype dtype, void *userdata);
    int (*finalize)(void);
    void (*abort)(int code);
} cg_transport;

/* Initialises MPI and fills *place; NULL with an error when MPI cannot start. */
const cg_transport *cg_mpi_transport_init(int *argc, char ***argv, cg_world_place *place);

/* Sums (or averages, with mean) tensors on CUDA devices over the ranks with NCCL, in place; the
 * communicator is set up at the first call, its id passed on by transport. 0, or -1 with an
 * error. */
int cg_nccl_all_reduce(cg_tensor *const *tensors, int count, bool mean, const cg_world_place *place,
                       const cg_transport *transport);
/* Frees the NCCL communicator, if one was set up. */
void cg_nccl_finalize(void);

#endif
