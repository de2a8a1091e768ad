# run.precision: bf16 (issue 15) in shear train and shear prune on the CPU backend: the tiny decks' runs within 2%
# of fp32 every 10th step, exact restart in bf16, checkpoints resumed across precisions (tests/precision/). The
# ops themselves: test_ops_bf16 (ops.cmake); the whole model against PyTorch: parity_bf16_* (parity.cmake).
add_test(NAME precision_bf16_runs
         COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/precision/check_bf16.py $<TARGET_FILE:shear>
                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml
                 ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5
                 ${CMAKE_CURRENT_BINARY_DIR}/precision)
set_tests_properties(precision_bf16_runs PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS "resume"
                     TIMEOUT 600)
