// CUDA emulation: the data types of CUDA's library_types.h that cuBLAS and NCCL calls name (values as CUDA 13).
#ifndef SHEAR_CUDA_EMU_LIBRARY_TYPES_H
#define SHEAR_CUDA_EMU_LIBRARY_TYPES_H
typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;
#endif
