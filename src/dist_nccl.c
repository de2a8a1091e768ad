// NCCL half of the distributed glue (shear/dist_nccl.h): GPU selection, one communicator per group of ranks, fp32 collectives on device buffers,
// and the abort path. Only this file and kernels/cuda include CUDA or NCCL headers (DESIGN.md dependency rules); the
// backend itself (device count, selection, its stream) is reached through the ops interface, ops_cuda().
//
// Failure handling, per ../shared/spec/hpc.md: NCCL has no timeout of its own, so every collective here waits
// for completion inside a watchdog bracket, polling ncclCommGetAsyncError (a peer or network failure becomes an
// error naming NCCL's last message instead of a silent hang); any fatal error goes through shear_die, whose dist
// hook calls dist_nccl_abort_all (ncclCommAbort, never ncclCommDestroy, which can block on a dead peer) and then
// MPI_Abort.
#include "shear/dist_nccl.h"

#include "shear/common.h"

#ifdef SHEAR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "shear/ops.h"
#include "shear/watchdog.h"

// One NCCL communicator over one group of ranks. Today there is one group, data parallel over all ranks; tensor
// or pipeline groups become more NcclGroup members of DistNccl, each from its own MPI_Comm_split and unique id.
typedef struct {
    const char *name; // "data-parallel": names the group in errors
    MPI_Comm mpi;     // the group's ranks; the unique id travels over it
    int rank, size;   // in the group
    ncclComm_t comm;
} NcclGroup;

typedef struct {
    int device;  // the CUDA device this rank drives
    NcclGroup dp; // data-parallel group (all ranks)
} DistNccl;

#define MPI_CHECK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { char s_[MPI_MAX_ERROR_STRING]; int l_ = 0; \
    MPI_Error_string(rc_, s_, &l_); SHEAR_DIE("MPI call %s failed: %s; check the mpirun command and the network", #call, s_); } } while (0)

#define CUDA_CHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) shear_die(__FILE__, __LINE__, \
    "CUDA error %s (%s) in %s; hint: a kernel queued before this collective may have faulted: rerun with " \
    "CUDA_LAUNCH_BLOCKING=1", cudaGetErrorName(e_), cudaGetErrorString(e_), #call); } while (0)

// ---- live communicators and the abort handshake ----
// The fatal hook may run on the watchdog thread while the main thread is inside an NCCL call on the same
// communicator, and ncclCommAbort frees it. Dekker-style flags (sequentially consistent atomics) keep the two
// apart: the main thread marks itself busy, then checks `aborting` and parks if set; the aborter sets
// `aborting`, then waits (bounded) until the main thread is not busy. Either one sees the other's flag.
#define NCCL_MAX_LIVE 8
static _Atomic(ncclComm_t) live[NCCL_MAX_LIVE];
static atomic_int aborting, busy;

static void park(void) {
    for (;;) pause(); // the aborting thread ends the process
}

static void use_begin(void) {
    atomic_store(&busy, 1);
    if (atomic_load(&aborting)) {
        atomic_store(&busy, 0);
        park();
    }
}

static void use_end(void) { atomic_store(&busy, 0); }

void dist_nccl_abort_all(void) {
    atomic_store(&aborting, 1);
    // a call in flight on the main thread (an enqueue, an error query) ends quickly; a stuck one is waited 2 s
    for (int i = 0; i < 2000 && atomic_load(&busy); i++) usleep(1000);
    for (int i = 0; i < NCCL_MAX_LIVE; i++) {
        ncclComm_t c = atomic_exchange(&live[i], (ncclComm_t)NULL);
        if (c) ncclCommAbort(c); // its result does not matter: the process is ending
    }
}

static void live_add(ncclComm_t c) {
    for (int i = 0; i < NCCL_MAX_LIVE; i++) {
        ncclComm_t expect = NULL;
        if (atomic_compare_exchange_strong(&live[i], &expect, c)) return;
    }
    SHEAR_DIE("more than %d NCCL communicators: raise NCCL_MAX_LIVE in %s", NCCL_MAX_LIVE, __FILE__);
}

static void live_remove(ncclComm_t c) {
    for (int i = 0; i < NCCL_MAX_LIVE; i++) {
        ncclComm_t expect = c;
        if (atomic_compare_exchange_strong(&live[i], &expect, (ncclComm_t)NULL)) return;
    }
}

// ---- errors ----
static const char *nccl_hint(ncclResult_t r) {
    switch (r) {
    case ncclUnhandledCudaError:
        return "a CUDA call inside NCCL failed: check the GPU (nvidia-smi) and that each rank drives its own device";
    case ncclSystemError:
        return "a system call or the network failed (often a peer died, or NCCL picked the wrong interface): rerun "
               "with NCCL_DEBUG=INFO; set NCCL_SOCKET_IFNAME / NCCL_IB_HCA to the cluster fabric";
    case ncclRemoteError:
        return "a peer rank failed or disconnected: look for its error above; NCCL_DEBUG=INFO names the peer";
    case ncclInvalidUsage:
        return "NCCL was used wrongly (two ranks on one GPU, or ranks calling different collectives): rerun with "
               "NCCL_DEBUG=INFO";
    case ncclInvalidArgument:
        return "a bad argument (a host pointer, or a buffer on another device): this is a bug in Shear, please "
               "report it with NCCL_DEBUG=INFO output";
    case ncclInternalError:
        return "NCCL failed internally: rerun with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,COLL and report it";
    default:
        return "rerun with NCCL_DEBUG=INFO for NCCL's own log";
    }
}

static __attribute__((noreturn)) void nccl_die(const NcclGroup *g, const char *call, ncclResult_t r, const char *file,
                                               int line) {
    atomic_store(&busy, 0); // this thread is the one aborting: it must not wait for itself
    const char *last = ncclGetLastError(g ? g->comm : NULL);
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char where[160] = "";
    if (g) snprintf(where, sizeof where, " in the %s group (rank %d of %d)", g->name, g->rank, g->size);
    shear_die(file, line, "NCCL error in %s%s on host %s: %s; NCCL says: %s; hint: %s", call, where, host,
              ncclGetErrorString(r), last && *last ? last : "(nothing)", nccl_hint(r));
}

#define NCCL_CHECK(g, call) do { ncclResult_t r_ = (call); if (r_ != ncclSuccess) nccl_die((g), #call, r_, __FILE__, \
    __LINE__); } while (0)

// ---- device selection and groups ----

// Two local ranks on one physical GPU is an error: NCCL refuses it ("Duplicate GPU detected"), so no knob can
// allow sharing. The check compares device UUIDs, not counts: under --gpus-per-task=1 every rank sees one
// device, number 0, yet each is a different GPU.
static void check_unique_gpu(const Dist *d, int dev, const char *host) {
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    char *all = shear_malloc((size_t)d->local_size * 16); // [local_size, 16] UUIDs
    MPI_CHECK(MPI_Allgather(prop.uuid.bytes, 16, MPI_BYTE, all, 16, MPI_BYTE, d->node));
    for (int j = 0; j < d->local_size; j++) {
        if (j == d->local_rank || memcmp(all + (size_t)j * 16, prop.uuid.bytes, 16) != 0) continue;
        free(all);
        SHEAR_DIE("local ranks %d and %d on host %s both drive GPU %d (%s): %d ranks on this node, %d visible "
                  "GPU(s); NCCL runs one rank per GPU, so start at most one rank per GPU (mpirun -npernode, or "
                  "Slurm --ntasks-per-node equal to --gpus-per-node) or give each rank its own device "
                  "(--gpus-per-task=1, CUDA_VISIBLE_DEVICES)", j < d->local_rank ? j : d->local_rank,
                  j < d->local_rank ? d->local_rank : j, host, dev, prop.name, d->local_size,
                  ops_cuda()->device_count());
    }
    free(all);
}

static void group_init(NcclGroup *g, const char *name, MPI_Comm parent) {
    g->name = name;
    MPI_CHECK(MPI_Comm_dup(parent, &g->mpi));
    MPI_CHECK(MPI_Comm_rank(g->mpi, &g->rank));
    MPI_CHECK(MPI_Comm_size(g->mpi, &g->size));
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (g->rank == 0) NCCL_CHECK(g, ncclGetUniqueId(&id));
    watchdog_enter("bcast(nccl unique id)", -1);
    MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, g->mpi));
    watchdog_leave();
    watchdog_enter("ncclCommInitRank", -1);
    use_begin();
    NCCL_CHECK(g, ncclCommInitRank(&g->comm, g->size, id, g->rank));
    use_end();
    watchdog_leave();
    live_add(g->comm);
}

static void group_free(NcclGroup *g) {
    if (!g->comm) return;
    watchdog_enter("ncclCommFinalize", -1);
    use_begin();
    NCCL_CHECK(g, ncclCommFinalize(g->comm)); // flushes pending work; a blocking communicator returns when done
    use_end();
    watchdog_leave();
    live_remove(g->comm);
    NCCL_CHECK(g, ncclCommDestroy(g->comm));
    g->comm = NULL;
    MPI_Comm_free(&g->mpi);
}

void dist_nccl_init(Dist *d) {
    if (d->nccl) return;
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    const ShearOps *cu = ops_cuda();
    int count = cu->device_count();
    if (count <= 0) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        SHEAR_DIE("rank %d (host %s): the CUDA backend needs a GPU per rank and none is visible "
                  "(CUDA_VISIBLE_DEVICES=%s); run on GPU nodes (--gpus-per-node) or use the CPU backend", d->rank,
                  host, vis ? vis : "unset");
    }
    int dev = d->local_rank % count;
    cu->select_device(dev); // first: every later CUDA and NCCL call of this process lands on this GPU
    check_unique_gpu(d, dev, host);
    DistNccl *n = shear_calloc(1, sizeof *n);
    n->device = dev;
    group_init(&n->dp, "data-parallel", MPI_COMM_WORLD);
    d->nccl = n;
    int version = 0;
    ncclGetVersion(&version);
    shear_log("shear: NCCL %d.%d.%d, %d ranks, data-parallel group of %d; rank 0 drives GPU %d\n", version / 10000,
              (version % 10000) / 100, version % 100, d->size, n->dp.size, dev);
}

void dist_nccl_free(Dist *d) {
    DistNccl *n = d->nccl;
    if (!n) return;
    group_free(&n->dp);
    free(n);
    d->nccl = NULL;
}

// ---- collectives ----

static const NcclGroup *dp_group(const Dist *d, const char *what) {
    if (!d->nccl)
        SHEAR_DIE("%s on the CUDA backend needs NCCL, and dist_nccl_init was not called: call it right after "
                  "dist_init when the backend is cuda", what);
    return &((const DistNccl *)d->nccl)->dp;
}

// Waits for the stream while polling the communicator: a failed peer or network shows up as an asynchronous
// NCCL error here rather than as a kernel that never finishes.
static void wait_done(const NcclGroup *g, cudaStream_t st, const char *call) {
    for (;;) {
        cudaError_t e = cudaStreamQuery(st);
        if (e == cudaSuccess) return;
        if (e != cudaErrorNotReady) CUDA_CHECK(e);
        ncclResult_t async = ncclSuccess;
        use_begin();
        NCCL_CHECK(g, ncclCommGetAsyncError(g->comm, &async));
        use_end();
        if (async != ncclSuccess && async != ncclInProgress) nccl_die(g, call, async, __FILE__, __LINE__);
        sched_yield();
    }
}

void dist_nccl_allreduce_sum(const Dist *d, float *buf, size_t n) {
    const NcclGroup *g = dp_group(d, "allreduce");
    if (n == 0 || g->size == 1) return;
    cudaStream_t st = (cudaStream_t)ops_cuda()->stream();
    watchdog_enter("allreduce", -1);
    use_begin();
    NCCL_CHECK(g, ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, g->comm, st));
    use_end();
    wait_done(g, st, "ncclAllReduce");
    watchdog_leave();
}

void dist_nccl_reduce_scatter_sum(const Dist *d, const float *send, float *recv, size_t count) {
    const NcclGroup *g = dp_group(d, "reduce-scatter");
    if (count == 0) return;
    cudaStream_t st = (cudaStream_t)ops_cuda()->stream();
    watchdog_enter("reduce_scatter", -1);
    use_begin();
    NCCL_CHECK(g, ncclReduceScatter(send, recv, count, ncclFloat32, ncclSum, g->comm, st));
    use_end();
    wait_done(g, st, "ncclReduceScatter");
    watchdog_leave();
}

void dist_nccl_allgather(const Dist *d, float *buf, size_t count) {
    const NcclGroup *g = dp_group(d, "allgather");
    if (count == 0 || g->size == 1) return;
    cudaStream_t st = (cudaStream_t)ops_cuda()->stream();
    watchdog_enter("allgather", -1);
    use_begin();
    // in place: NCCL's rule is sendbuff == recvbuff + rank * sendcount
    NCCL_CHECK(g, ncclAllGather(buf + (size_t)g->rank * count, buf, count, ncclFloat32, g->comm, st));
    use_end();
    wait_done(g, st, "ncclAllGather");
    watchdog_leave();
}

#else // no CUDA in this build: the CUDA backend cannot have been selected, so any call is a wiring bug

static __attribute__((noreturn)) void no_cuda(const char *fn) {
    SHEAR_DIE("%s: this shear was built without CUDA (nvcc was not found at configure time); rebuild with the "
              "CUDA toolkit (-DSHEAR_CUDA=ON) or use the CPU backend", fn);
}

void dist_nccl_init(Dist *d) { no_cuda("dist_nccl_init"); }
void dist_nccl_free(Dist *d) {}
void dist_nccl_allreduce_sum(const Dist *d, float *buf, size_t n) { no_cuda("dist_nccl_allreduce_sum"); }
void dist_nccl_reduce_scatter_sum(const Dist *d, const float *send, float *recv, size_t count) {
    no_cuda("dist_nccl_reduce_scatter_sum");
}
void dist_nccl_allgather(const Dist *d, float *buf, size_t count) { no_cuda("dist_nccl_allgather"); }
void dist_nccl_abort_all(void) {}

#endif
