/* The MPI transport: blocking collectives on MPI_COMM_WORLD over host buffers, with counts cut
 * into pieces that fit MPI's int counts. Errors return to the caller (MPI_ERRORS_RETURN) rather
 * than ending the process. */
#include <limits.h>
#include <mpi.h>

#include "core/error.h"
#include "distributed/transport.h"

enum { MAX_PIECE = INT_MAX / 2 };

static bool mpi_ok(int status, const char *what) {
    if (status == MPI_SUCCESS) return true;
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, message, &length);
    cg_error_set("distributed: %s failed: %.*s", what, length, message);
    return false;
}

static MPI_Datatype mpi_type(cg_dtype dtype) {
    switch (dtype) {
    case CG_FLOAT32: return MPI_FLOAT;
    case CG_FLOAT64: return MPI_DOUBLE;
    case CG_INT32: return MPI_INT32_T;
    case CG_INT64: return MPI_INT64_T;
    default: return MPI_UINT8_T;
    }
}

static int mpi_barrier(void) { return mpi_ok(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier") ? 0 : -1; }

static int mpi_all_reduce_sum(void *buffer, int64_t count, cg_dtype dtype, void *userdata) {
    (void)userdata;
    char *at = buffer;
    for (int64_t done = 0; done < count;) {
        const int piece = count - done < MAX_PIECE ? (int)(count - done) : MAX_PIECE;
        if (!mpi_ok(MPI_Allreduce(MPI_IN_PLACE, at + (size_t)done * cg_dtype_size(dtype), piece,
                                  mpi_type(dtype), MPI_SUM, MPI_COMM_WORLD),
                    "MPI_Allreduce"))
            return -1;
        done += piece;
    }
    return 0;
}

static int mpi_broadcast(void *buffer, int64_t count, cg_dtype dtype, void *userdata) {
    const int root = *(const int *)userdata;
    char *at = buffer;
    for (int64_t done = 0; done < count;) {
        const int piece = count - done < MAX_PIECE ? (int)(count - done) : MAX_PIECE;
        if (!mpi_ok(MPI_Bcast(at + (size_t)done * cg_dtype_size(dtype), piece, mpi_type(dtype),
                              root, MPI_COMM_WORLD),
                    "MPI_Bcast"))
            return -1;
        done += piece;
    }
    return 0;
}

static int mpi_finalize(void) { return mpi_ok(MPI_Finalize(), "MPI_Finalize") ? 0 : -1; }

static void mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static const cg_transport mpi_transport = {mpi_barrier, mpi_all_reduce_sum, mpi_broadcast,
                                           mpi_finalize, mpi_abort};

const cg_transport *cg_mpi_transport_init(int *argc, char ***argv, cg_world_place *place) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized && !mpi_ok(MPI_Init(argc, argv), "MPI_Init")) return NULL;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm node;
    if (!mpi_ok(MPI_Comm_rank(MPI_COMM_WORLD, &place->rank), "MPI_Comm_rank") ||
        !mpi_ok(MPI_Comm_size(MPI_COMM_WORLD, &place->size), "MPI_Comm_size") ||
        !mpi_ok(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, place->rank,
                                    MPI_INFO_NULL, &node),
                "MPI_Comm_split_type"))
        return NULL;
    const bool ranked = mpi_ok(MPI_Comm_rank(node, &place->local_rank), "MPI_Comm_rank");
    MPI_Comm_free(&node);
    return ranked ? &mpi_transport : NULL;
}
