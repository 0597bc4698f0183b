/* cgrad distributed: data-parallel training over MPI (docs/distributed.md). A program started by
 * mpirun calls cg_distributed_init once; cg_fit and cg_fit_dataset then train data-parallel by
 * themselves when the world holds more than one rank. Without MPI in the build, or before init,
 * the same functions act as a world of one (rank 0 of 1, all-reduce and broadcast leave the
 * tensors as they are), so programs need no #ifdef. Included by cgrad.h; the conventions written
 * there apply here too. */
#ifndef CGRAD_DISTRIBUTED_H
#define CGRAD_DISTRIBUTED_H

#include "cgrad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CG_ALL_REDUCE_SUM = 0, CG_ALL_REDUCE_MEAN } cg_all_reduce_op;

/* Whether this build of cgrad has the MPI transport. */
bool cg_distributed_available(void);

/* Joins the job the program was launched in (MPI_Init; argc and argv may be NULL). Without MPI
 * in the build: 0 as a world of one, or -1 with an error when the program was launched by
 * mpirun with more than one rank. Calling it again is a no-op. 0 or -1 with an error. */
int cg_distributed_init(int *argc, char ***argv);
/* Leaves the job (MPI_Finalize) after the last collective call; the world is then one rank
 * again. 0, or -1 with an error. */
int cg_distributed_finalize(void);

/* This process's rank in [0, world size), the number of ranks, and the rank among those on the
 * same machine (which picks the GPU of this rank): 0, 1 and 0 in a world of one. */
int cg_distributed_rank(void);
int cg_distributed_world_size(void);
int cg_distributed_local_rank(void);

/* Waits until every rank has called it. 0, or -1 with an error. */
int cg_distributed_barrier(void);
/* Replaces each tensor by the sum (or mean) of that tensor over the ranks, in place. Every rank
 * passes tensors of the same shapes and dtypes in the same order; they must be contiguous and
 * need not all share a device or dtype. Small tensors travel packed together in a few large
 * messages; tensors on CUDA devices go through NCCL when the build has it. Empty tensors and a
 * count of 0 are allowed. 0, or -1 with an error (the tensors are then unspecified). */
int cg_distributed_all_reduce(cg_tensor *const *tensors, int count, cg_all_reduce_op op);
/* Copies each tensor of rank root into the same tensor of every other rank, in place; same
 * requirements as cg_distributed_all_reduce. 0, or -1 with an error. */
int cg_distributed_broadcast(cg_tensor *const *tensors, int count, int root);

/* Ends every rank of the job with exit status code (MPI_Abort), for a program's top level once
 * one rank cannot go on; in a world of one it returns and the caller exits as usual. The
 * library itself never calls it. */
void cg_distributed_abort(int code);

/* The world size that the launcher (mpirun's OMPI_COMM_WORLD_SIZE, or PMI_SIZE) gave this
 * process's environment; 1 when it was not launched by an MPI launcher. */
int cg_distributed_launch_size(void);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_DISTRIBUTED_H */
