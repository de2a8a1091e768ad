// Sharded collectives for ZeRO-1 (see dist.h): reduce-scatter and all-gather of float buffers. The CPU backend
// goes through MPI, the CUDA backend through NCCL (dist_nccl.c). Both are bracketed for the hang watchdog.
#include <limits.h>
#include <string.h>

#include "shear/common.h"
#include "shear/dist.h"
#include "shear/dist_nccl.h"
#include "shear/watchdog.h"

#define MPI_CHECK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { char s_[MPI_MAX_ERROR_STRING]; int l_ = 0; \
    MPI_Error_string(rc_, s_, &l_); SHEAR_DIE("MPI call %s failed: %s; check the mpirun command and the network", #call, s_); } } while (0)

static void check_backend(const ShearOps *ops, const char *what, size_t count) {
    SHEAR_CHECK(!ops->is_device, "%s: backend '%s' has no MPI path (it goes through NCCL)", what, ops->name);
    // MPI counts are int; zero.c keeps buckets far below this
    SHEAR_CHECK(count <= (size_t)INT_MAX, "%s: %zu floats per rank exceed MPI's int count; use smaller buckets", what,
                count);
}

void dist_reduce_scatter_sum(const Dist *d, const ShearOps *ops, const float *send, float *recv, size_t count) {
    if (d->size == 1) {
        ops->copy(recv, send, count * sizeof(float));
        return;
    }
    if (ops->is_device) {
        dist_nccl_reduce_scatter_sum(d, send, recv, count);
        return;
    }
    check_backend(ops, "dist_reduce_scatter_sum", count);
    watchdog_enter("reduce_scatter", -1);
    MPI_CHECK(MPI_Reduce_scatter_block(send, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_allgather(const Dist *d, const ShearOps *ops, float *buf, size_t count) {
    if (d->size == 1) return;
    if (ops->is_device) {
        dist_nccl_allgather(d, buf, count);
        return;
    }
    check_backend(ops, "dist_allgather", count);
    watchdog_enter("allgather", -1);
    MPI_CHECK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)count, MPI_FLOAT, MPI_COMM_WORLD));
    watchdog_leave();
}
