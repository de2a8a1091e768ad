# Failure handling: a hung rank is caught by the watchdog (run.watchdog) and a dying rank takes the job down
# with it, both within seconds, on the CPU with MPI (the same paths serve NCCL on GPUs). Uses train's store.
foreach(mode hang die)
  add_test(NAME watchdog_${mode}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/watchdog/failure.sh ${mode} $<TARGET_FILE:shear>
                   ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5
                   ${CMAKE_CURRENT_BINARY_DIR}/watchdog/${mode} ${SHEAR_MPIRUN})
  set_tests_properties(watchdog_${mode} PROPERTIES FIXTURES_REQUIRED train_store LABELS mpi TIMEOUT 120)
endforeach()
