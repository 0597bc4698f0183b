/* cg_json_parse on arbitrary text, with a write-back round trip of what it accepts. */
#include "fuzz_target.h"

CG_FUZZ_TARGET(check_json_input)
