/* cg_model_from_spec on arbitrary text, with a round trip through cg_model_to_spec. */
#include "fuzz_target.h"

/* A spec may ask for a model of any size ("input 100000" then "dense 100000" is 40 GB of
 * weights): that memory is what the text asks for, not a parser fault. Allocations over 32 MiB
 * therefore fail as out of memory, which the library must report as an error; that keeps each
 * run fast and exercises the error path of model building. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1:max_allocation_size_mb=32";
}

CG_FUZZ_TARGET(check_spec_input)
