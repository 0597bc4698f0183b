/* The tool under an MPI launcher: `mpirun -np N cgrad train ...` makes N ranks that train one
 * model data-parallel (docs/distributed.md). */
#ifndef CGRAD_TOOL_CLI_DISTRIBUTED_H
#define CGRAD_TOOL_CLI_DISTRIBUTED_H

#include <stdbool.h>

#include <cgrad.h>

/* Joins the job when an MPI launcher started the tool with more than one rank. CLI_SUCCESS, or
 * CLI_FAILURE with a message on standard error. */
int cli_distributed_begin(int *argc, char ***argv);
/* Leaves the job with the command's exit status: a failed rank ends every rank (the others may
 * be waiting for it), with a message naming it. Returns the exit status. */
int cli_distributed_end(int status);

/* Whether this rank prints results and writes files: rank 0 (the only one when not
 * distributed). */
bool cli_is_main_rank(void);

/* The GPU of this rank: device moved on by the rank's local rank among the machine's GPUs, so
 * that the ranks of one machine use different GPUs; device itself on the CPU or in a world of
 * one. */
cg_device cli_rank_device(cg_device device);

#endif
