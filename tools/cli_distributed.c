/* MPI launch detection and the end of a distributed run for the tool. */
#include "cli_distributed.h"

#include <stdio.h>

#include "cli_args.h"

int cli_distributed_begin(int *argc, char ***argv) {
    if (cg_distributed_launch_size() <= 1) return CLI_SUCCESS;
    if (cg_distributed_init(argc, argv) == 0) return CLI_SUCCESS;
    fprintf(stderr, "cgrad: %s\n", cg_last_error());
    return CLI_FAILURE;
}

int cli_distributed_end(int status) {
    if (cg_distributed_world_size() > 1 && status != CLI_SUCCESS) {
        fprintf(stderr, "cgrad: rank %d of %d failed; ending every rank\n", cg_distributed_rank(),
                cg_distributed_world_size());
        fflush(NULL);
        cg_distributed_abort(status);
    }
    if (cg_distributed_finalize() != 0 && status == CLI_SUCCESS) {
        fprintf(stderr, "cgrad: %s\n", cg_last_error());
        return CLI_FAILURE;
    }
    return status;
}

bool cli_is_main_rank(void) { return cg_distributed_rank() == 0; }

cg_device cli_rank_device(cg_device device) {
    if (device.type != CG_DEVICE_CUDA || cg_distributed_world_size() == 1) return device;
    const int gpus = cg_cuda_device_count();
    if (gpus > 0) device.index = (device.index + cg_distributed_local_rank()) % gpus;
    return device;
}
