// C entry points of the CUDA backend that host code may call (compiled only when SHEAR_HAVE_CUDA).
#ifndef SHEAR_CUDA_INFO_H
#define SHEAR_CUDA_INFO_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
// One line: cudart, driver, cuBLAS, NCCL versions and the number of visible devices.
void cuda_build_info(char *buf, size_t len);
#ifdef __cplusplus
}
#endif
#endif
