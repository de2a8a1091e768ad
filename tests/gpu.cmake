# The CUDA backend (kernels/cuda) against the CPU backend, only when the CUDA backend is built:
# - test_cuda_ops (gpu/test_cuda_ops.c per op, gpu/test_cuda_cached.c KV cache ops, gpu/test_cuda_bf16.c bf16
#   GEMMs, gpu/test_cuda_gemm.c the GEMMs' algorithm table, gpu/test_cuda_model.c whole model,
#   gpu/cuda_parity.c helpers):
#   every ShearOps member on the same random inputs (odd shapes, GQA and MHA, gates and grads NULL
#   and not, += onto non-zero grads), a whole model forward/backward with and without pruning gates, and 10 AdamW
#   steps on both backends. Label "gpu"; exits 77 (skipped) on machines without a CUDA device, such as CI.
#   validation/gpu/run_gpu_checks.sh runs it on a GPU machine, also under compute-sanitizer.
if(SHEAR_CUDA_ON)
  add_executable(test_cuda_ops gpu/test_cuda_ops.c gpu/test_cuda_cached.c gpu/test_cuda_bf16.c gpu/test_cuda_gemm.c
                 gpu/test_cuda_model.c gpu/cuda_parity.c)
  target_link_libraries(test_cuda_ops PRIVATE shearcore)
  # the backend's own header (cuda_select_device, cuda_device_count): a test may look inside kernels/cuda
  target_include_directories(test_cuda_ops PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/kernels/cuda)
  # emulated: test_cuda_gemm.c also reads the emulated cuBLASLt's count of heuristic queries
  if(SHEAR_CUDA_EMU)
    target_compile_definitions(test_cuda_ops PRIVATE SHEAR_TEST_CUDA_EMU=1)
  endif()
  add_test(NAME test_cuda_ops COMMAND test_cuda_ops)
  set_tests_properties(test_cuda_ops PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
