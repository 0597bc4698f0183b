/* Bitwise tensor comparison for the save and load tests, where "close" is not enough. */
#ifndef CG_TEST_TENSOR_BITS_H
#define CG_TEST_TENSOR_BITS_H

#include <stdbool.h>

#include "cgrad.h"

/* The same dtype, the same shape and the same bits in every element (NaNs included). */
bool tensors_identical(const cg_tensor *a, const cg_tensor *b);

#endif
