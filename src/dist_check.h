// Private to src/dist*.c: the one MPI_CHECK. dist_init sets MPI_ERRORS_RETURN on the world and node
// communicators, so a failing MPI call returns its code here and becomes one shear_die naming the call.
#ifndef SHEAR_DIST_CHECK_H
#define SHEAR_DIST_CHECK_H

#include <mpi.h>

#include "shear/common.h"

#define MPI_CHECK(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { char s_[MPI_MAX_ERROR_STRING]; int l_ = 0; \
    MPI_Error_string(rc_, s_, &l_); SHEAR_DIE("MPI call %s failed: %s; check the mpirun command and the network", #call, s_); } } while (0)

#endif
