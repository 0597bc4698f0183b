/* The MPI transport: blocking collectives on MPI_COMM_WORLD over host buffers, with counts cut
 * into pieces that fit MPI's int counts. Errors return to the caller (MPI_ERRORS_RETURN) rather
 * than ending the process.
 *
 * When every rank runs on one machine, sums go through a window of shared memory (MPI-3) instead
 * of MPI_Allreduce: the buckets are packed straight into each rank's slot (shared_place), each
 * rank sums its share of the elements over all the slots, then copies the others' summed shares.
 * That spares the copies through the kernel and the intermediate buffers of MPI_Allreduce
 * (docs/distributed.md has the times), and every rank sums in rank order, so all ranks get the
 * same bits. The slots are double-buffered: a rank may start the next piece while the others
 * still read the last one. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "distributed/buckets.h"
#include "distributed/transport.h"

enum { MAX_PIECE = INT_MAX / 2 };
/* Shares of a piece start on multiples of this many elements, so that no two ranks write to one
 * cache line. */
enum { SHARE_ALIGNMENT = 64 };
/* Elements summed at a time on the stack. */
enum { SUM_BLOCK = 512 };

/* The machine's ranks and their window, when the world is one machine. */
static struct {
    MPI_Comm node;
    MPI_Win window;
    int rank, size;
    char **slots; /* half h of rank r's slot (CG_BUCKET_BYTES) at [h * size + r] */
    int half;     /* the half the next piece uses */
} shared = {.node = MPI_COMM_NULL, .window = MPI_WIN_NULL};

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

/* Every rank of the machine has reached this point, and their writes to the window before it
 * are seen after it (the unified memory model's sync-barrier-sync). */
static bool node_sync(void) {
    MPI_Win_sync(shared.window);
    const bool ok = mpi_ok(MPI_Barrier(shared.node), "MPI_Barrier");
    MPI_Win_sync(shared.window);
    return ok;
}

/* The first element of rank's share of count elements. */
static int64_t share_start(int64_t count, int rank) {
    if (rank >= shared.size) return count;
    const int64_t start = count * rank / shared.size;
    return start - start % SHARE_ALIGNMENT;
}

/* out[lo, hi) = the sum of the slots' pieces over [lo, hi), in rank order, a block at a time
 * through a buffer on the stack (out may be one of the slots), one slot per pass (loops the
 * compiler vectorises); there are at least two slots. */
#define SUM_SHARE(type)                                                                            \
    do {                                                                                           \
        type block[SUM_BLOCK];                                                                     \
        for (int64_t at = lo; at < hi; at += SUM_BLOCK) {                                          \
            const int64_t n = hi - at < SUM_BLOCK ? hi - at : SUM_BLOCK;                           \
            const type *first = (const type *)slots[0] + at,                                       \
                       *second = (const type *)slots[1] + at;                                      \
            for (int64_t i = 0; i < n; i++)                                                        \
                block[i] = (type)(first[i] + second[i]);                                           \
            for (int r = 2; r < size; r++) {                                                       \
                const type *next = (const type *)slots[r] + at;                                    \
                for (int64_t i = 0; i < n; i++)                                                    \
                    block[i] = (type)(block[i] + next[i]);                                         \
            }                                                                                      \
            memcpy((type *)out + at, block, sizeof(type) * (size_t)n);                             \
        }                                                                                          \
    } while (0)

static void sum_share(char *out, char *const *slots, int size, cg_dtype dtype, int64_t lo,
                      int64_t hi) {
    switch (dtype) {
    case CG_FLOAT32: SUM_SHARE(float); break;
    case CG_FLOAT64: SUM_SHARE(double); break;
    case CG_INT32: SUM_SHARE(int32_t); break;
    case CG_INT64: SUM_SHARE(int64_t); break;
    default: SUM_SHARE(uint8_t); break;
    }
}

/* One piece (at most half a slot) summed through the window, in place. */
static int shared_sum_piece(char *piece, int64_t count, cg_dtype dtype) {
    const size_t element = cg_dtype_size(dtype);
    char *const *slots = shared.slots + shared.half * shared.size;
    shared.half ^= 1;
    char *mine = slots[shared.rank];
    /* A piece packed into the slot (shared_place) needs no copy. */
    if (piece != mine) memcpy(mine, piece, (size_t)count * element);
    if (!node_sync()) return -1;
    const int64_t lo = share_start(count, shared.rank), hi = share_start(count, shared.rank + 1);
    sum_share(mine, slots, shared.size, dtype, lo, hi);
    if (!node_sync()) return -1;
    for (int r = 0; r < shared.size; r++) {
        const int64_t from = share_start(count, r), to = share_start(count, r + 1);
        if (r != shared.rank || piece != mine)
            memcpy(piece + from * element, slots[r] + from * element,
                   (size_t)(to - from) * element);
    }
    return 0;
}

/* This rank's slot of the half the next piece uses, for buckets to be packed in place. */
static void *shared_place(void) {
    return shared.slots ? shared.slots[shared.half * shared.size + shared.rank] : NULL;
}

static int shared_all_reduce_sum(char *buffer, int64_t count, cg_dtype dtype) {
    const int64_t capacity = CG_BUCKET_BYTES / (int64_t)cg_dtype_size(dtype);
    for (int64_t done = 0; done < count;) {
        const int64_t piece = count - done < capacity ? count - done : capacity;
        if (shared_sum_piece(buffer + (size_t)done * cg_dtype_size(dtype), piece, dtype) != 0)
            return -1;
        done += piece;
    }
    return 0;
}

static int mpi_all_reduce_sum(void *buffer, int64_t count, cg_dtype dtype, void *userdata) {
    (void)userdata;
    if (shared.slots) return shared_all_reduce_sum(buffer, count, dtype);
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

static void *mpi_sum_start(void *buffer, int64_t count, cg_dtype dtype) {
    MPI_Request *request = malloc(sizeof *request);
    if (!request) {
        cg_error_set("distributed: out of memory for an MPI request");
        return NULL;
    }
    if (!mpi_ok(MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, mpi_type(dtype), MPI_SUM,
                               MPI_COMM_WORLD, request),
                "MPI_Iallreduce")) {
        free(request);
        return NULL;
    }
    return request;
}

static int mpi_sum_test(void *request, bool *done) {
    int flag = 0;
    const bool ok = mpi_ok(MPI_Test(request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    *done = ok && flag;
    if (!ok || flag) free(request);
    return ok ? 0 : -1;
}

static int mpi_sum_wait(void *request) {
    const bool ok = mpi_ok(MPI_Wait(request, MPI_STATUS_IGNORE), "MPI_Wait");
    free(request);
    return ok ? 0 : -1;
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

/* Frees the window and the machine's communicator, if there are any. */
static void shared_free(void) {
    if (shared.window != MPI_WIN_NULL) {
        MPI_Win_unlock_all(shared.window);
        MPI_Win_free(&shared.window);
    }
    if (shared.node != MPI_COMM_NULL) MPI_Comm_free(&shared.node);
    free(shared.slots);
    shared.slots = NULL;
}

/* Sets up the window when every rank is on this machine (node holds them all); otherwise, or when
 * the window cannot be had, sums go through MPI_Allreduce. Takes node over. */
static void shared_set_up(MPI_Comm node, int world_size) {
    shared.node = node;
    MPI_Comm_rank(node, &shared.rank);
    MPI_Comm_size(node, &shared.size);
    char *base = NULL;
    if (shared.size != world_size || world_size < 2 ||
        MPI_Win_allocate_shared(2 * CG_BUCKET_BYTES, 1, MPI_INFO_NULL, node, &base,
                                &shared.window) != MPI_SUCCESS)
        return;
    MPI_Win_set_errhandler(shared.window, MPI_ERRORS_RETURN);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, shared.window);
    char **slots = malloc(sizeof(char *) * 2 * (size_t)shared.size);
    for (int r = 0; slots && r < shared.size; r++) {
        MPI_Aint size;
        int unit;
        if (MPI_Win_shared_query(shared.window, r, &size, &unit, &slots[r]) != MPI_SUCCESS) {
            free(slots);
            return;
        }
        slots[shared.size + r] = slots[r] + CG_BUCKET_BYTES;
    }
    shared.slots = slots;
}

static int mpi_finalize(void) {
    shared_free();
    return mpi_ok(MPI_Finalize(), "MPI_Finalize") ? 0 : -1;
}

static void mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static const cg_transport mpi_transport = {mpi_barrier,   mpi_all_reduce_sum, shared_place,
                                           mpi_sum_start, mpi_sum_test,       mpi_sum_wait,
                                           mpi_broadcast, mpi_finalize,       mpi_abort};

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
    if (!mpi_ok(MPI_Comm_rank(node, &place->local_rank), "MPI_Comm_rank")) {
        MPI_Comm_free(&node);
        return NULL;
    }
    shared_set_up(node, place->size);
    return &mpi_transport;
}
