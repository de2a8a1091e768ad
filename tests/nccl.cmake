# NCCL data parallel (src/dist_nccl.c), only when the CUDA backend is built. Label "gpu"; every test exits 77
# (skipped) without a CUDA device, as in CI. nccl_collectives_np2 needs two GPUs on the node (else skips).
if(SHEAR_CUDA_ON)
  add_executable(test_nccl nccl/test_nccl.c)
  target_link_libraries(test_nccl PRIVATE shearcore)
  foreach(np 1 2)
    add_test(NAME nccl_collectives_np${np} COMMAND ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:test_nccl>)
    set_tests_properties(nccl_collectives_np${np} PROPERTIES LABELS "gpu;mpi" SKIP_RETURN_CODE 77 TIMEOUT 300)
  endforeach()
  add_test(NAME nccl_failure_modes COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nccl/modes.sh $<TARGET_FILE:test_nccl>
                                           ${SHEAR_MPIRUN})
  set_tests_properties(nccl_failure_modes PROPERTIES LABELS "gpu;mpi" SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
