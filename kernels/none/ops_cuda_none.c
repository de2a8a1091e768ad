// ops_cuda() of a build without the CUDA backend (CMakeLists.txt compiles this file only then): there is none.
#include "shear/ops.h"

const ShearOps *ops_cuda(void) { return NULL; }
