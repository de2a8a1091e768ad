# MPI behind dist.h: a failing MPI call in a dist helper is one shear_die (MPI_CHECK), exit 1, naming the call.
add_executable(test_dist_check ${CMAKE_CURRENT_SOURCE_DIR}/test_dist_check.c)
target_link_libraries(test_dist_check PRIVATE shearcore)
add_test(NAME dist_mpi_check
         COMMAND bash -c "out=$(\"$0\" 2>&1); rc=$?; echo \"$out\"; [ $rc -eq 1 ] && echo \"$out\" | grep -q 'shear: error: MPI call MPI_Bcast.* failed'"
                 $<TARGET_FILE:test_dist_check>)
# it starts MPI: label mpi too, so the ASan run checks it with leak detection off (Open MPI plugin allocations)
set_tests_properties(dist_mpi_check PROPERTIES LABELS "unit;mpi" TIMEOUT 60)
