/* Per-thread scopes that own the temporaries created inside them. */
#ifndef CG_CORE_SCOPE_H
#define CG_CORE_SCOPE_H

#include "core/tensor.h"

/* Gives the innermost scope (if any) the reference held by a newly made tensor. */
void cg_scope_adopt(cg_tensor *t);

#endif
