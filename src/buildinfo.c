// Build facts for `shear --version` and for every file Shear writes.
#include "shear/buildinfo.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "shear/ops.h"

void build_info(char *buf, size_t len) {
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int mlen = 0;
    MPI_Get_library_version(mpi, &mlen); // not a collective: no dist helper needed
    char *nl = strchr(mpi, ',');
    if (nl) *nl = 0; // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char cuda[256] = "cuda backend not built";
    const ShearOps *cu = ops_cuda(); // NULL: the CUDA backend is not built
    if (cu) cu->version_info(cuda, sizeof cuda);
    snprintf(buf, len, "shear %s (%s); %s; HDF5 %u.%u.%u (parallel); %s", SHEAR_VERSION, SHEAR_GIT, mpi, maj, min,
             rel, cuda);
}
