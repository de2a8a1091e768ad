# Training engine: MPI data parallel gives the same loss curve on 1, 2 and 3 ranks (uneven splits of a global
# batch of 8 in 4 micro-batches: 3 ranks get 1, 1, 2), and bad command lines / decks fail with a clear message.
set(TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train)
set(TRAIN_SRC ${CMAKE_CURRENT_SOURCE_DIR}/train)
add_test(NAME train_store_setup COMMAND ${CMAKE_COMMAND} -E make_directory ${TRAIN_DIR})
add_test(NAME train_make_store COMMAND ${SHEAR_PYTHON} ${TRAIN_SRC}/make_store.py ${TRAIN_DIR}/tokens.h5)
# both set the fixture up, so a subset of the tests (ctest -L cuda-emu) that needs the store runs both
set_tests_properties(train_store_setup PROPERTIES FIXTURES_SETUP train_store)
set_tests_properties(train_make_store PROPERTIES DEPENDS train_store_setup FIXTURES_SETUP train_store)
foreach(np 1 2 3)
  add_test(NAME train_mpi_np${np}
           COMMAND ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:shear> train ${TRAIN_SRC}/deck.yaml
                   --set data.store=${TRAIN_DIR}/tokens.h5 --set run.out_dir=${TRAIN_DIR}/np${np} --set run.threads=1)
  set_tests_properties(train_mpi_np${np} PROPERTIES FIXTURES_REQUIRED train_store FIXTURES_SETUP train_np${np}
                       LABELS mpi TIMEOUT 300)
endforeach()
add_test(NAME train_mpi_same_curve
         COMMAND ${SHEAR_PYTHON} ${TRAIN_SRC}/check_ranks.py ${TRAIN_DIR}/np1/metrics.jsonl
                 ${TRAIN_DIR}/np2/metrics.jsonl ${TRAIN_DIR}/np3/metrics.jsonl)
set_tests_properties(train_mpi_same_curve PROPERTIES FIXTURES_REQUIRED "train_np1;train_np2;train_np3" LABELS mpi)
add_test(NAME train_model_file_loads
         COMMAND $<TARGET_FILE:shear> train ${TRAIN_SRC}/deck.yaml --init ${TRAIN_DIR}/np1/model.h5
                 --set data.store=${TRAIN_DIR}/tokens.h5 --set run.out_dir=${TRAIN_DIR}/cont --set train.steps=2 --set optim.warmup=0)
set_tests_properties(train_model_file_loads PROPERTIES FIXTURES_REQUIRED train_np1)
add_test(NAME cli_errors COMMAND bash ${TRAIN_SRC}/cli_errors.sh $<TARGET_FILE:shear> ${TRAIN_DIR}/cli
                                 ${TRAIN_DIR}/tokens.h5 ${TRAIN_DIR}/np1/model.h5)
set_tests_properties(cli_errors PROPERTIES FIXTURES_REQUIRED "train_store;train_np1")
# a small store runs out many times in 100 steps: the epoch line is printed at epochs 1, 2, 4, 8, ... only
add_test(NAME train_epoch_log
         COMMAND bash -c "rm -rf \"$1\" && exec \"$0\" train \"$2\" --set data.store=\"$3\" --set run.out_dir=\"$1\" --set train.steps=100 --set run.threads=1"
                 $<TARGET_FILE:shear> ${TRAIN_DIR}/epochs ${TRAIN_SRC}/deck.yaml ${TRAIN_DIR}/tokens.h5)
set_tests_properties(train_epoch_log PROPERTIES FIXTURES_REQUIRED train_store
                     PASS_REGULAR_EXPRESSION "epoch 4 starts with a new shuffle"
                     FAIL_REGULAR_EXPRESSION "epoch (3|5|6|7) starts")
# run.device: cuda where no GPU can run it: one clear error, nothing written (skips where a GPU is visible)
add_test(NAME train_device_error COMMAND bash ${TRAIN_SRC}/device_error.sh $<TARGET_FILE:shear> ${TRAIN_SRC}/deck.yaml
                                         ${TRAIN_DIR}/tokens.h5 ${TRAIN_DIR}/device)
set_tests_properties(train_device_error PROPERTIES FIXTURES_REQUIRED train_store SKIP_RETURN_CODE 77)
