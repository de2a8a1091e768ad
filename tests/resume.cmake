# Exact restart inside the real commands (src/run_ckpt.c): straight vs resumed runs of train and prune on 2 ranks,
# resume on 1 and 3 ranks, SIGUSR1 to mpirun and the wall-clock budget. Checkpoint files themselves: ckpt.cmake.
set(RESUME_SRC ${CMAKE_CURRENT_SOURCE_DIR}/resume)
set(RESUME_DIR ${CMAKE_CURRENT_BINARY_DIR}/resume)
set(RESUME_TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train)
add_test(NAME resume_train
         COMMAND bash ${RESUME_SRC}/resume_test.sh $<TARGET_FILE:shear> train ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                 ${RESUME_DIR}/train --set data.store=${RESUME_TRAIN_DIR}/tokens.h5)
set_tests_properties(resume_train PROPERTIES FIXTURES_REQUIRED train_store LABELS "mpi;resume" TIMEOUT 600)
add_test(NAME resume_prune
         COMMAND bash ${RESUME_SRC}/resume_test.sh $<TARGET_FILE:shear> prune ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml
                 ${RESUME_DIR}/prune --set data.store=${RESUME_TRAIN_DIR}/tokens.h5
                 --set prune.source=${RESUME_TRAIN_DIR}/np1/model.h5)
set_tests_properties(resume_prune PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS "mpi;resume" TIMEOUT 600)
add_test(NAME resume_signal
         COMMAND bash ${RESUME_SRC}/signal_test.sh $<TARGET_FILE:shear> ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                 ${RESUME_DIR}/signal --set data.store=${RESUME_TRAIN_DIR}/tokens.h5)
set_tests_properties(resume_signal PROPERTIES FIXTURES_REQUIRED train_store LABELS "mpi;resume" TIMEOUT 600)
