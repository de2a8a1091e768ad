// CUDA emulation: NCCL (include/nccl.h) on MPI, so that an emulated multi-rank run goes through Shear's real
// NCCL code (src/dist_nccl.c). One NCCL communicator is one MPI communicator, made by MPI_Comm_split of
// MPI_COMM_WORLD with a color hashed from the unique id; so, unlike real NCCL, every rank of the world must call
// ncclCommInitRank together (dist_nccl.c does: its one group is the world). Collectives run at once (emulated
// streams are synchronous) on device buffers, which are host memory here, and check what real NCCL checks:
// device pointers, datatypes, in-place layouts, two ranks on one GPU. Reductions are in a fixed order (ranks 0..n-1
// after an MPI all-gather), so a sum does not depend on MPI's algorithm and is bitwise the same on every rank.
// SHEAR_CUDA_EMU_NCCL_FAIL=OP:N:RESULT makes the N-th call of OP (init, allreduce, reducescatter, allgather,
// broadcast) return RESULT, for tests of the failure paths.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <type_traits>
#include <vector>

#include "emu_internal.h"
#include "nccl.h"

struct ncclComm {
    MPI_Comm mpi; // this communicator's ranks, errors returned (MPI_ERRORS_RETURN) rather than fatal
    int rank, nranks;
};

namespace {

constexpr char MAGIC[16] = {'c', 'u', 'd', 'a', '-', 'e', 'm', 'u', ' ', 'n', 'c', 'c', 'l', ' ', 'i', 'd'};
constexpr size_t CHUNK_BYTES = 4 << 20; // per rank and MPI call: bounds the temporaries and keeps counts in int

std::mutex g_lock; // the live set and the last error: ncclCommAbort may come from a watchdog thread
std::set<const ncclComm *> g_live;
char g_last[1024];

ncclResult_t err(ncclResult_t r, const char *fmt, ...) {
    std::lock_guard<std::mutex> g(g_lock);
    int k = snprintf(g_last, sizeof g_last, EMU_PREFIX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last + k, sizeof g_last - k, fmt, ap);
    va_end(ap);
    if (getenv("NCCL_DEBUG")) fprintf(stderr, "NCCL WARN %s\n", g_last); // as NCCL_DEBUG=WARN shows it
    return r;
}

ncclResult_t mpi_err(int rc, const char *what) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return err(ncclSystemError, "%s failed: %s", what, s);
}
#define MPI_TRY(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) return mpi_err(rc_, #call); } while (0)

// ---- failure injection ----
enum Op { OP_INIT, OP_ALLREDUCE, OP_REDUCESCATTER, OP_ALLGATHER, OP_BROADCAST, OP_COUNT };
const char *const OP_NAMES[OP_COUNT] = {"init", "allreduce", "reducescatter", "allgather", "broadcast"};

struct Inject {
    int op = -1, result = 0;
    long n = 0;
    std::atomic<long> calls[OP_COUNT] = {};
    Inject() {
        const char *s = getenv("SHEAR_CUDA_EMU_NCCL_FAIL");
        if (!s || !*s) return;
        char name[32] = "";
        char tail = 0;
        if (sscanf(s, "%31[a-z]:%ld:%d%c", name, &n, &result, &tail) == 3 && n >= 1 && result >= 1 && result <= 7)
            for (int i = 0; i < OP_COUNT; i++)
                if (strcmp(name, OP_NAMES[i]) == 0) op = i;
        if (op < 0) { // a typo must not make a failure test pass without failing anything
            fprintf(stderr, EMU_PREFIX "SHEAR_CUDA_EMU_NCCL_FAIL=%s is not OP:N:RESULT (OP one of init, allreduce, "
                            "reducescatter, allgather, broadcast; N >= 1; RESULT an ncclResult_t 1..7)\n", s);
            exit(2);
        }
    }
};

ncclResult_t injected(Op op) {
    static Inject inj;
    const long call = ++inj.calls[op];
    if (op != inj.op || call != inj.n) return ncclSuccess;
    return err((ncclResult_t)inj.result, "injected failure: call %ld of %s returns %s (SHEAR_CUDA_EMU_NCCL_FAIL)",
               call, OP_NAMES[op], ncclGetErrorString((ncclResult_t)inj.result));
}

// ---- checks shared by the collectives ----
bool live(const ncclComm *c) {
    std::lock_guard<std::mutex> g(g_lock);
    return c && g_live.count(c);
}

ncclResult_t check_comm(const ncclComm *c, const char *call) {
    if (live(c)) return ncclSuccess;
    return err(ncclInvalidArgument, "%s: comm %p is not a live communicator (never made, destroyed or aborted)",
               call, (const void *)c);
}

size_t type_size(ncclDataType_t t) {
    static const size_t sizes[ncclNumTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
    return (unsigned)t < ncclNumTypes ? sizes[t] : 0;
}

ncclResult_t prologue(Op op, const char *call, const ncclComm *c, ncclDataType_t t, cudaStream_t st, size_t *es) {
    if (ncclResult_t r = injected(op)) return r;
    if (ncclResult_t r = check_comm(c, call)) return r;
    if (!(*es = type_size(t))) return err(ncclInvalidArgument, "%s: datatype %d is not an NCCL datatype", call, (int)t);
    // a bad stream, or a fault left by an earlier kernel: NCCL's own kernel launch would fail the same way
    if (cudaError_t e = cudaStreamQuery(st))
        return err(ncclUnhandledCudaError, "%s: stream %p: %s", call, (void *)st, cudaGetErrorString(e));
    return ncclSuccess;
}

ncclResult_t check_reduce(const char *call, ncclDataType_t t, ncclRedOp_t op) {
    if (t != ncclFloat32 && t != ncclInt32)
        return err(ncclInvalidArgument, "%s: reductions of datatype %d are not emulated (float32 and int32 are)",
                   call, (int)t);
    if ((unsigned)op >= ncclNumOps) return err(ncclInvalidArgument, "%s: %d is not a reduction op", call, (int)op);
    return ncclSuccess;
}

ncclResult_t check_buf(const char *call, const char *name, const void *p, size_t bytes) {
    if (emu_is_device_range(p, bytes)) return ncclSuccess;
    char d[160];
    emu_describe_pointer(p, d, sizeof d);
    return err(ncclInvalidArgument, "%s: %s %p is not device memory for its %zu bytes: %s", call, name, p, bytes, d);
}

// int32 sums and products wrap, as on the GPU (signed overflow would be undefined here)
template <typename T> T combine(T a, T b, ncclRedOp_t op) {
    using U = typename std::conditional<std::is_integral<T>::value, uint32_t, T>::type;
    switch (op) {
    case ncclProd: return (T)((U)a * (U)b);
    case ncclMax: return a < b ? b : a;
    case ncclMin: return b < a ? b : a;
    default: return (T)((U)a + (U)b); // sum, avg
    }
}

// out[i] = rows[0][i] op rows[1][i] op ... in rank order; rows is [n, L]
template <typename T> void reduce_rows(void *out, const char *rows, size_t L, int n, ncclRedOp_t op) {
    T *o = (T *)out;
    const T *r = (const T *)rows;
    for (size_t i = 0; i < L; i++) {
        T acc = r[i];
        for (int q = 1; q < n; q++) acc = combine(acc, r[(size_t)q * L + i], op);
        o[i] = op == ncclAvg ? acc / (T)n : acc;
    }
}

void reduce_rows(ncclDataType_t t, void *out, const char *rows, size_t L, int n, ncclRedOp_t op) {
    if (t == ncclFloat32) reduce_rows<float>(out, rows, L, n, op);
    else reduce_rows<int32_t>(out, rows, L, n, op);
}

uint64_t fnv(const void *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

} // namespace

extern "C" {

ncclResult_t ncclGetVersion(int *version) {
    if (!version) return err(ncclInvalidArgument, "ncclGetVersion: version is NULL");
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
    }
}

const char *ncclGetLastError(ncclComm_t) { return g_last; } // process-wide, as in NCCL

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return err(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
    static std::atomic<int> counter{0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(id, 0, sizeof *id);
    memcpy(id->internal, MAGIC, sizeof MAGIC);
    const long long fields[4] = {(long long)getpid(), (long long)ts.tv_sec, (long long)ts.tv_nsec, ++counter};
    memcpy(id->internal + 16, fields, sizeof fields);
    gethostname(id->internal + 48, 64);
    id->internal[111] = 0;
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (!comm) return err(ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
    *comm = nullptr;
    if (ncclResult_t r = injected(OP_INIT)) return r;
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down)
        return err(ncclInvalidUsage, "ncclCommInitRank: MPI is %s, and the NCCL emulation runs on MPI: call "
                   "MPI_Init first, and make communicators before MPI_Finalize", up ? "finalized" : "not initialized");
    // every rank splits, even one with bad arguments, so that none waits in MPI_Comm_split for it
    const uint64_t h = fnv(id.internal, sizeof id.internal);
    MPI_Comm mc;
    MPI_TRY(MPI_Comm_split(MPI_COMM_WORLD, (int)((h ^ (h >> 32)) & 0x7fffffff), rank, &mc));
    MPI_Comm_set_errhandler(mc, MPI_ERRORS_RETURN);
    int size = 0, me = 0, dev = 0;
    MPI_Comm_size(mc, &size);
    MPI_Comm_rank(mc, &me);
    struct { char host[64]; char uuid[16]; int dev; } who;
    memset(&who, 0, sizeof who);
    gethostname(who.host, sizeof who.host - 1);
    cudaDeviceProp prop;
    memset(&prop, 0, sizeof prop);
    cudaError_t ce = cudaGetDevice(&dev);
    if (ce == cudaSuccess) ce = cudaGetDeviceProperties(&prop, dev);
    ncclResult_t bad = ncclSuccess;
    if (memcmp(id.internal, MAGIC, sizeof MAGIC) != 0)
        bad = err(ncclInvalidArgument, "ncclCommInitRank: the unique id was not made by ncclGetUniqueId (is it "
                  "broadcast to every rank from the one that made it?)");
    else if (nranks < 1 || rank < 0 || rank >= nranks)
        bad = err(ncclInvalidArgument, "ncclCommInitRank: rank %d is not one of 0..nranks-1 (nranks %d)", rank, nranks);
    else if (size != nranks || me != rank)
        bad = err(ncclInvalidArgument, "ncclCommInitRank: %d rank(s) called it with this unique id, but nranks is %d "
                  "(and this rank, rank %d of them, says it is rank %d): every rank must pass the same nranks and "
                  "its own rank", size, nranks, me, rank);
    else if (ce != cudaSuccess)
        bad = err(ncclUnhandledCudaError, "ncclCommInitRank: no current CUDA device: %s", cudaGetErrorString(ce));
    int any = bad != ncclSuccess; // one rank refused: all are, rather than the others waiting for it
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, mc));
    if (any && !bad)
        bad = err(ncclInvalidArgument, "ncclCommInitRank: another rank of this communicator was refused (see its "
                  "error)");
    if (!bad) { // two ranks on one GPU, as NCCL detects it: the same host and device UUID
        memcpy(who.uuid, prop.uuid.bytes, 16);
        who.dev = dev;
        std::vector<decltype(who)> all(size);
        MPI_TRY(MPI_Allgather(&who, sizeof who, MPI_BYTE, all.data(), sizeof who, MPI_BYTE, mc));
        for (int p = 0; p < size && !bad; p++)
            for (int q = p + 1; q < size && !bad; q++)
                if (!strcmp(all[p].host, all[q].host) && !memcmp(all[p].uuid, all[q].uuid, 16))
                    bad = err(ncclInvalidUsage, "Duplicate GPU detected : rank %d and rank %d both on CUDA device %d "
                              "of host %s (the same UUID)", q, p, all[q].dev, all[q].host);
    }
    if (bad) {
        MPI_Comm_free(&mc); // every rank of mc gets here: it is refused as a whole
        return bad;
    }
    ncclComm *c = new ncclComm{mc, rank, nranks};
    std::lock_guard<std::mutex> g(g_lock);
    g_live.insert(c);
    *comm = c;
    return ncclSuccess;
}

// A blocking communicator has nothing in flight: nothing to flush.
ncclResult_t ncclCommFinalize(ncclComm_t comm) { return check_comm(comm, "ncclCommFinalize"); }

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    if (!comm) return ncclSuccess; // as NCCL
    if (ncclResult_t r = check_comm(comm, "ncclCommDestroy")) return r;
    {
        std::lock_guard<std::mutex> g(g_lock);
        g_live.erase(comm);
    }
    MPI_Comm_free(&comm->mpi);
    delete comm;
    return ncclSuccess;
}

// Makes the communicator unusable, and frees nothing on purpose: MPI_Comm_free is collective (a dead peer could
// hang it), and another thread may still be inside an MPI call on it. The process is ending anyway.
ncclResult_t ncclCommAbort(ncclComm_t comm) {
    if (!comm) return ncclSuccess;
    if (ncclResult_t r = check_comm(comm, "ncclCommAbort")) return r;
    std::lock_guard<std::mutex> g(g_lock);
    g_live.erase(comm);
    return ncclSuccess;
}

// Collectives finish before they return, and a failure is their result: nothing is ever pending.
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError) {
    if (ncclResult_t r = check_comm(comm, "ncclCommGetAsyncError")) return r;
    if (!asyncError) return err(ncclInvalidArgument, "ncclCommGetAsyncError: asyncError is NULL");
    *asyncError = ncclSuccess;
    return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int *count) {
    if (ncclResult_t r = check_comm(comm, "ncclCommCount")) return r;
    if (!count) return err(ncclInvalidArgument, "ncclCommCount: count is NULL");
    *count = comm->nranks;
    return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank) {
    if (ncclResult_t r = check_comm(comm, "ncclCommUserRank")) return r;
    if (!rank) return err(ncclInvalidArgument, "ncclCommUserRank: rank is NULL");
    *rank = comm->rank;
    return ncclSuccess;
}

// In place (sendbuff == recvbuff) needs nothing special: every chunk is gathered into a temporary first.
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t t, ncclRedOp_t op,
                           ncclComm_t c, cudaStream_t st) {
    const char *call = "ncclAllReduce";
    size_t es;
    if (ncclResult_t r = prologue(OP_ALLREDUCE, call, c, t, st, &es)) return r;
    if (ncclResult_t r = check_reduce(call, t, op)) return r;
    if (count == 0) return ncclSuccess;
    if (ncclResult_t r = check_buf(call, "sendbuff", sendbuff, count * es)) return r;
    if (ncclResult_t r = check_buf(call, "recvbuff", recvbuff, count * es)) return r;
    const size_t step = CHUNK_BYTES / es;
    std::vector<char> rows;
    for (size_t o = 0; o < count; o += step) {
        const size_t L = count - o < step ? count - o : step;
        rows.resize((size_t)c->nranks * L * es);
        MPI_TRY(MPI_Allgather((const char *)sendbuff + o * es, (int)(L * es), MPI_BYTE, rows.data(), (int)(L * es),
                              MPI_BYTE, c->mpi));
        reduce_rows(t, (char *)recvbuff + o * es, rows.data(), L, c->nranks, op);
    }
    return ncclSuccess;
}

// In place (recvbuff == sendbuff + rank * recvcount): a chunk of the own block is packed before it is written.
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t t,
                               ncclRedOp_t op, ncclComm_t c, cudaStream_t st) {
    const char *call = "ncclReduceScatter";
    size_t es;
    if (ncclResult_t r = prologue(OP_REDUCESCATTER, call, c, t, st, &es)) return r;
    if (ncclResult_t r = check_reduce(call, t, op)) return r;
    if (recvcount == 0) return ncclSuccess;
    const int n = c->nranks;
    if (ncclResult_t r = check_buf(call, "sendbuff", sendbuff, n * recvcount * es)) return r;
    if (ncclResult_t r = check_buf(call, "recvbuff", recvbuff, recvcount * es)) return r;
    const size_t step = CHUNK_BYTES / es;
    std::vector<char> pack, rows;
    for (size_t o = 0; o < recvcount; o += step) {
        const size_t L = recvcount - o < step ? recvcount - o : step, b = L * es;
        pack.resize(n * b);
        rows.resize(n * b);
        for (int j = 0; j < n; j++) memcpy(&pack[j * b], (const char *)sendbuff + (j * recvcount + o) * es, b);
        MPI_TRY(MPI_Alltoall(pack.data(), (int)b, MPI_BYTE, rows.data(), (int)b, MPI_BYTE, c->mpi));
        reduce_rows(t, (char *)recvbuff + o * es, rows.data(), L, n, op);
    }
    return ncclSuccess;
}

// In place (sendbuff == recvbuff + rank * sendcount): the own block is rewritten with its own bytes.
ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t t, ncclComm_t c,
                           cudaStream_t st) {
    const char *call = "ncclAllGather";
    size_t es;
    if (ncclResult_t r = prologue(OP_ALLGATHER, call, c, t, st, &es)) return r;
    if (sendcount == 0) return ncclSuccess;
    const int n = c->nranks;
    if (ncclResult_t r = check_buf(call, "sendbuff", sendbuff, sendcount * es)) return r;
    if (ncclResult_t r = check_buf(call, "recvbuff", recvbuff, n * sendcount * es)) return r;
    const size_t step = CHUNK_BYTES / es;
    std::vector<char> rows;
    for (size_t o = 0; o < sendcount; o += step) {
        const size_t L = sendcount - o < step ? sendcount - o : step, b = L * es;
        rows.resize(n * b);
        MPI_TRY(MPI_Allgather((const char *)sendbuff + o * es, (int)b, MPI_BYTE, rows.data(), (int)b, MPI_BYTE,
                              c->mpi));
        for (int j = 0; j < n; j++) memcpy((char *)recvbuff + (j * sendcount + o) * es, &rows[j * b], b);
    }
    return ncclSuccess;
}

// sendbuff matters on the root only, as in NCCL.
ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t t, int root,
                           ncclComm_t c, cudaStream_t st) {
    const char *call = "ncclBroadcast";
    size_t es;
    if (ncclResult_t r = prologue(OP_BROADCAST, call, c, t, st, &es)) return r;
    if (root < 0 || root >= c->nranks)
        return err(ncclInvalidArgument, "%s: root %d is not one of the %d ranks", call, root, c->nranks);
    if (count == 0) return ncclSuccess;
    const size_t bytes = count * es;
    if (c->rank == root) {
        if (ncclResult_t r = check_buf(call, "sendbuff", sendbuff, bytes)) return r;
    }
    if (ncclResult_t r = check_buf(call, "recvbuff", recvbuff, bytes)) return r;
    if (c->rank == root && sendbuff != recvbuff) memmove(recvbuff, sendbuff, bytes);
    for (size_t o = 0; o < bytes; o += CHUNK_BYTES) {
        const size_t b = bytes - o < CHUNK_BYTES ? bytes - o : CHUNK_BYTES;
        MPI_TRY(MPI_Bcast((char *)recvbuff + o, (int)b, MPI_BYTE, root, c->mpi));
    }
    return ncclSuccess;
}

} // extern "C"
