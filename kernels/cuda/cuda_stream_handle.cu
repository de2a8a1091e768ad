// C entry to the backend stream (see cuda_ops.h): cuda_stream() has C++ linkage and a CUDA type.
#include "cuda_common.cuh"

extern "C" void *cuda_stream_handle(void) { return (void *)cuda_stream(); }
