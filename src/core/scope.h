/* Per-thread scopes that own the temporaries created inside them. */
#ifndef CG_CORE_SCOPE_H
#define CG_CORE_SCOPE_H

#include "core/tensor.h"

/* Gives the innermost scope (if any) the reference held by a newly made tensor. False with an
 * error when the scope cannot grow; t is then not adopted and its creator must drop it. */
bool cg_scope_adopt(cg_tensor *t);

#endif
