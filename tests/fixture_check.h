/* Checks an op against the PyTorch cases of a fixture file. Each case holds the op's inputs x,
 * weight and bias (those it takes), its output out, a weight w of the loss sum(out * w), and that
 * loss's gradients grad_x, grad_weight and grad_bias. */
#ifndef CG_TEST_FIXTURE_CHECK_H
#define CG_TEST_FIXTURE_CHECK_H

#include <stdbool.h>

#include "fixture.h"

/* Runs the case's op on inputs (x, weight, bias; NULL where the case has none); file names the
 * fixture file in failures. */
typedef cg_tensor *(*fixture_op_runner)(const char *file, const fixture_case *fixture,
                                        cg_tensor *const *inputs);

/* The case's attribute name as count values, or NULL after failing the test. */
const double *fixture_attr_values(const char *file, const fixture_case *fixture, const char *name,
                                  int count);

/* Runs every case of the fixture file at path (relative to the source tree) through run in float64
 * (to 1e-10) and float32 (to 1e-4), comparing the output and the gradients; fails the test at the
 * first difference and returns false. */
bool fixture_check_op_cases(const char *path, fixture_op_runner run);

#endif
