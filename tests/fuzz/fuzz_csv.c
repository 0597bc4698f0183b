/* cg_csv_read and cg_csv_read_header on arbitrary files, with options from the first bytes. */
#include "fuzz_target.h"

CG_FUZZ_TARGET(check_csv_input)
