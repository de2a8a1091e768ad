# FLOP accounting (src/flops.c) and the up-front memory estimate (src/memest.c): unit tests against independent
# counts and measured memory, and train / prune decks that cannot fit failing before they allocate.
shear_unit_test(test_flops test_flops.c)
shear_unit_test(test_memest test_memest.c)
set_tests_properties(test_memest PROPERTIES TIMEOUT 300)
set(MEMEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/memest)
string(REPLACE ";" " " MEMEST_MPIRUN "${SHEAR_MPIRUN}") # one argument; the script splits it
add_test(NAME memest_fail_early
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/memest/fail_early.sh $<TARGET_FILE:shear>
                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${MEMEST_DIR}
                 "${MEMEST_MPIRUN}" ${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5)
set_tests_properties(memest_fail_early PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS mpi TIMEOUT 300)
