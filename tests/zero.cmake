# ZeRO-1 (run.zero, src/zero.c, src/dist_shard.c): sharded Adam state against plain data parallel.
#   zero_unit_npN   reduce-scatter, norm, AdamW step + all-gather equal the replicated path bit for bit (exact
#                   gradients), and checkpoint parts write the same datasets and checksums as replicated items
#                   and load back across splits; 1, 2 and 3 ranks
#   zero_train, zero_prune   the real commands: zero=1 vs zero=0 on 1, 2, 3 ranks and resumes across zero and
#                   rank counts (tests/zero/zero_test.sh says what is exact and what is within which tolerance)
set(ZERO_SRC ${CMAKE_CURRENT_SOURCE_DIR}/zero)
set(ZERO_DIR ${CMAKE_CURRENT_BINARY_DIR}/zero)
set(ZERO_TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train)
add_executable(test_zero zero/test_zero.c)
target_link_libraries(test_zero PRIVATE shearcore)
foreach(np 1 2 3)
  add_test(NAME zero_unit_np${np}
           COMMAND ${CMAKE_COMMAND} -E env OMP_NUM_THREADS=1 ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:test_zero>
                   ${ZERO_DIR}/unit_np${np})
  set_tests_properties(zero_unit_np${np} PROPERTIES LABELS "mpi;zero" TIMEOUT 120)
endforeach()
add_test(NAME zero_train
         COMMAND bash ${ZERO_SRC}/zero_test.sh $<TARGET_FILE:shear> train ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                 ${ZERO_DIR}/train --set data.store=${ZERO_TRAIN_DIR}/tokens.h5)
set_tests_properties(zero_train PROPERTIES FIXTURES_REQUIRED train_store LABELS "mpi;zero" TIMEOUT 600)
add_test(NAME zero_prune
         COMMAND bash ${ZERO_SRC}/zero_test.sh $<TARGET_FILE:shear> prune ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml
                 ${ZERO_DIR}/prune --set data.store=${ZERO_TRAIN_DIR}/tokens.h5
                 --set prune.source=${ZERO_TRAIN_DIR}/np1/model.h5)
set_tests_properties(zero_prune PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS "mpi;zero" TIMEOUT 600)
