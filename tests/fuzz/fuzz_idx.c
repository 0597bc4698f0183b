/* cg_idx_read on arbitrary image and label files, raw or gzip-compressed. */
#include "fuzz_target.h"

CG_FUZZ_TARGET(check_idx_input)
