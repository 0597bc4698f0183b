/* A way for the training loop to learn, during one backward pass, when a leaf's gradient is
 * final: the engine walks the graph in topological order, so once it reaches a leaf no node left
 * to run can add to that leaf's .grad. Data-parallel training uses it to start averaging a
 * bucket of gradients over the ranks while the pass goes on. Per thread; internal to the
 * library. */
#ifndef CG_AUTOGRAD_LEAF_HOOK_H
#define CG_AUTOGRAD_LEAF_HOOK_H

#include "core/tensor.h"

/* Called with a leaf that requires grad once its .grad holds every contribution of the running
 * backward pass. Returns 0, or -1 with an error, which fails the backward pass. */
typedef int (*cg_leaf_grad_hook)(cg_tensor *leaf, void *userdata);

/* Sets this thread's hook (NULL: none) and returns the previous one through *previous and
 * *previous_userdata when they are not NULL, so that a caller can restore it after its backward
 * call. */
void cg_leaf_grad_hook_set(cg_leaf_grad_hook hook, void *userdata, cg_leaf_grad_hook *previous,
                           void **previous_userdata);

#endif
