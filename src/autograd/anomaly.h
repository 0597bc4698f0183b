/* Anomaly detection: while it is on (per thread), every output an op records in the graph and
 * every gradient the backward engine computes is checked for NaN and infinity, so that the first
 * op to produce one fails and names itself, instead of a NaN loss surfacing many ops later. */
#ifndef CG_AUTOGRAD_ANOMALY_H
#define CG_AUTOGRAD_ANOMALY_H

#include <stdbool.h>

#include "autograd/node.h"

/* True when anomaly detection is off or output holds only finite values. Otherwise false with
 * the error "anomaly: OP produced NaN in the forward pass; inputs: [3x4]" (saying which inputs
 * already held a NaN or an infinity), or with the error of a check that could not run. */
bool cg_anomaly_check_output(const cg_tensor *output, const cg_op_def *op, cg_tensor *const *inputs,
                             int count);
/* The same for the gradient a backward rule computed for input input_index of node:
 * "anomaly: the gradient of input 1 is NaN in the backward pass of div; inputs: [3], [3]". */
bool cg_anomaly_check_gradient(const cg_tensor *gradient, const cg_node *node, int input_index);

#endif
