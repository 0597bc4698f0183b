/* cg_model_load and cg_checkpoint_load on arbitrary files. */
#include "fuzz_target.h"

CG_FUZZ_TARGET(check_model_input)
