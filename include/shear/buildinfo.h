// What this binary was built with (MPI, HDF5, OpenBLAS, CUDA stack): `shear --version`, stored in outputs.
#ifndef SHEAR_BUILDINFO_H
#define SHEAR_BUILDINFO_H
#include <stddef.h>
void build_info(char *buf, size_t len);
#endif
