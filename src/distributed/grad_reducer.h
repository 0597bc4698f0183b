/* The gradient all-reduce of a data-parallel step, overlapped with the backward pass: the
 * parameters are assigned to buckets in reverse order (the order in which a backward pass through
 * a stack of layers finishes their gradients), the same on every rank; the engine's leaf hook
 * (autograd/leaf_hook.h) tells the reducer when a gradient is final, and each bucket's
 * non-blocking sum starts as soon as it and every bucket before it are complete, so all ranks
 * start the same sums in the same order. The hook also tests the sums in flight, which is what
 * advances them in an MPI without a progress thread. The last bucket carries a header of extra
 * values (the ranks' status flags) and starts after the backward pass. */
#ifndef CG_DISTRIBUTED_GRAD_REDUCER_H
#define CG_DISTRIBUTED_GRAD_REDUCER_H

#include "cgrad.h"

/* The largest bucket, but for a single tensor larger than that, which has a bucket of its own:
 * small, so that the first buckets start early in the backward pass. */
enum { CG_GRAD_BUCKET_BYTES = 1 << 20 };

typedef struct cg_grad_reducer cg_grad_reducer;

/* Whether the reducer takes these parameters: float tensors of one dtype in host memory, the
 * world more than one rank. Otherwise the step reduces after the backward pass. */
bool cg_grad_reducer_fits(cg_tensor *const *parameters, int count);

/* A reducer for parameters (the model's, in the model's order) and a header of header_count values
 * of their dtype, with its buckets cut and its buffer made, for as many steps as the parameters
 * keep their shapes. For each step, call cg_grad_reducer_begin, install cg_grad_reducer_hook for
 * the backward pass, then call cg_grad_reducer_finish. NULL with an error when out of memory. */
cg_grad_reducer *cg_grad_reducer_new(cg_tensor *const *parameters, int count, int header_count);

/* Starts a step over parameters (the list the reducer was made for; their tensors may have been
 * replaced by others of the same shapes) whose gradients are summed over the ranks times weight:
 * every gradient pending, nothing started, the header zeros. 0, or -1 with an error when the
 * parameters no longer match the buckets. */
int cg_grad_reducer_begin(cg_grad_reducer *reducer, cg_tensor *const *parameters, int count,
                          double weight);

/* The leaf hook (cg_leaf_grad_hook) for the reducer given as userdata. */
int cg_grad_reducer_hook(cg_tensor *leaf, void *reducer);

/* The reducer's header: header_count values of the parameters' dtype, zeros after
 * cg_grad_reducer_begin, which the caller sets before cg_grad_reducer_finish and reads, summed,
 * after it. */
void *cg_grad_reducer_header(cg_grad_reducer *reducer);

/* After the backward pass (which may have failed), once every parameter has a gradient (the
 * caller gives zeros to those without): starts the buckets left, the header in the last, waits
 * for every sum and writes the sums back into the gradients and the header. 0, or -1 with an
 * error. */
int cg_grad_reducer_finish(cg_grad_reducer *reducer);

/* Frees the reducer; NULL is ignored. */
void cg_grad_reducer_free(cg_grad_reducer *reducer);

/* How many buckets the reducer cuts, and how many of them the hook started. */
void cg_grad_reducer_counts(const cg_grad_reducer *reducer, int *buckets, int *started_by_hook);

#endif
