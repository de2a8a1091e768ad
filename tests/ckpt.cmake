# Checkpoints and stopping: parallel HDF5 save/load on 1, 2 and 3 ranks under both MPI-IO backends, atomic
# commit and retention, refusal of corrupt/truncated/reshaped checkpoints with fallback, a rank killed
# mid-save, signal- and budget-driven stops with exit 75, `shear info`.
set(CKPT_DIR ${CMAKE_CURRENT_BINARY_DIR}/ckpt)
set(CKPT_SRC ${CMAKE_CURRENT_SOURCE_DIR}/ckpt)
add_executable(test_ckpt test_ckpt.c)
target_link_libraries(test_ckpt PRIVATE shearcore)
add_test(NAME ckpt_unit COMMAND test_ckpt unit)
set_tests_properties(ckpt_unit PROPERTIES LABELS unit)
foreach(mode ranks_ompio ranks_romio321 commit corrupt kill stop info)
  add_test(NAME ckpt_${mode}
           COMMAND bash ${CKPT_SRC}/ckpt_test.sh ${mode} $<TARGET_FILE:test_ckpt> $<TARGET_FILE:shear>
                   ${CKPT_DIR}/${mode} ${SHEAR_PYTHON} ${SHEAR_MPIRUN})
  set_tests_properties(ckpt_${mode} PROPERTIES LABELS "mpi;ckpt" TIMEOUT 180 ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()
