# Activation recomputation (run.recompute, src/forward.c): the loss and every gradient bitwise equal to
# recompute off (unit test on a GQA model with and without masks), and shear train / shear prune on the decks
# of tests/train.cmake and tests/prune.cmake give exactly (==, not within a tolerance) the loss curves and final
# weights of their recompute-off runs on the same rank count.
shear_unit_test(test_recompute test_recompute.c)
set(TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train)
set(RECOMPUTE_DIR ${CMAKE_CURRENT_BINARY_DIR}/recompute)
add_test(NAME recompute_train
         COMMAND ${SHEAR_MPIRUN} -np 1 $<TARGET_FILE:shear> train ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                 --set data.store=${TRAIN_DIR}/tokens.h5 --set run.out_dir=${RECOMPUTE_DIR}/train --set run.threads=1
                 --set run.recompute=1)
set_tests_properties(recompute_train PROPERTIES FIXTURES_REQUIRED train_store FIXTURES_SETUP recompute_train
                     LABELS mpi TIMEOUT 300)
add_test(NAME recompute_train_same
         COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/recompute/same_run.py loss
                 ${TRAIN_DIR}/np1 ${RECOMPUTE_DIR}/train model.h5)
set_tests_properties(recompute_train_same PROPERTIES FIXTURES_REQUIRED "train_np1;recompute_train" LABELS mpi)
add_test(NAME recompute_prune
         COMMAND ${SHEAR_MPIRUN} -np 1 $<TARGET_FILE:shear> prune ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml
                 --set prune.source=${TRAIN_DIR}/np1/model.h5 --set data.store=${TRAIN_DIR}/tokens.h5
                 --set run.out_dir=${RECOMPUTE_DIR}/prune --set run.threads=1 --set run.recompute=1)
set_tests_properties(recompute_prune PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                     FIXTURES_SETUP recompute_prune LABELS "mpi;prune" TIMEOUT 600)
add_test(NAME recompute_prune_same
         COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/recompute/same_run.py lm_loss
                 ${CMAKE_CURRENT_BINARY_DIR}/prune/np1 ${RECOMPUTE_DIR}/prune pruned.h5)
set_tests_properties(recompute_prune_same PROPERTIES FIXTURES_REQUIRED "prune_np1;recompute_prune"
                     LABELS "mpi;prune")
