/* cg_safetensors_read on arbitrary files. */
#include "fuzz_target.h"

CG_FUZZ_TARGET(check_safetensors_input)
