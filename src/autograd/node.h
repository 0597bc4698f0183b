/* A node of the recorded graph: which op made a tensor, from which inputs, with what parameters,
 * and how to send a gradient back to those inputs. */
#ifndef CG_AUTOGRAD_NODE_H
#define CG_AUTOGRAD_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tensor.h"

enum { CG_NODE_MAX_INPUTS = 4, CG_NODE_MAX_SAVED = 2 };

/* Parameters an op records for its backward rule. */
typedef struct {
    int64_t ints[2 * CG_MAX_DIMS];
    double reals[4];
} cg_node_params;

/* Computes the gradient of each input from the output's gradient. grads[i] is set to a new
 * tensor (the engine owns it) or left NULL when input i gets no gradient. Runs with grad mode off;
 * may create temporaries freely (the engine runs it inside a scope). Returns 0 or -1. */
typedef int (*cg_backward_fn)(const cg_node *node, const cg_tensor *output,
                              const cg_tensor *grad_output, cg_tensor **grads);

typedef struct {
    const char *name;
    cg_backward_fn backward;
} cg_op_def;

struct cg_node {
    const cg_op_def *op;
    int input_count;
    cg_tensor *inputs[CG_NODE_MAX_INPUTS]; /* retained */
    int saved_count;
    cg_tensor *saved[CG_NODE_MAX_SAVED]; /* retained; extra tensors backward needs */
    cg_node_params params;
};

/* True when an op on these inputs must record a node (grad mode on and any input requires
 * grad). */
bool cg_needs_grad(cg_tensor *const *inputs, int count);

/* Records that output was made by op from inputs (retained) and marks it as requiring grad.
 * Returns the node so the op can fill params and saved tensors, or NULL with an error (the op
 * then releases output and returns NULL): out of memory, or, with anomaly detection on, a NaN or
 * an infinity in output. Call only when cg_needs_grad() is true, after computing output. */
cg_node *cg_node_attach(cg_tensor *output, const cg_op_def *op, cg_tensor *const *inputs,
                        int count);
/* Saves a tensor (retained) for backward. */
void cg_node_save(cg_node *node, cg_tensor *t);
/* Drops the node and its references. */
void cg_node_free(cg_node *node);

/* True when grad is a dense tensor that nothing but the backward engine can reach (no scope,
 * caller or other view holds it or its storage): a backward rule given such a grad_output may
 * overwrite it. */
bool cg_gradient_unshared(const cg_tensor *grad);

/* The gradient of a broadcast operand: sums grad over the dims in which shape was expanded. */
cg_tensor *cg_sum_to_shape(const cg_tensor *grad, int ndim, const int64_t *shape);

#endif
