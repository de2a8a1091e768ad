# Dynamic batch loading and evaluation: src/dbl.c, src/dbl_csv.c, src/evaluate.c, `shear eval` (src/cmd_eval.c).
# test_dbl: both update rules against hand-computed values, proportions stay a distribution under extreme losses,
# NaN/Inf are errors, the spec's scaling-law rows (1.3B, 2.7B from 7B/13B/70B), CSV errors, the metrics record,
# the eval window rule.
shear_unit_test(test_dbl test_dbl.c)
set_tests_properties(test_dbl PROPERTIES LABELS "unit;dbl")

set(EVAL_DIR ${CMAKE_CURRENT_BINARY_DIR}/eval)
set(EVAL_SRC ${CMAKE_CURRENT_SOURCE_DIR}/eval)
# written by tokenizer_setup (tests/tokenizer.cmake, fixture tokenizer_json); the text checks skip without it
set(EVAL_TOKENIZER ${CMAKE_CURRENT_BINARY_DIR}/tokenizer/tokenizer.json)
add_test(NAME eval_store COMMAND sh -c "mkdir -p '${EVAL_DIR}' && '${SHEAR_PYTHON}' \
'${CMAKE_CURRENT_SOURCE_DIR}/train/make_store.py' '${EVAL_DIR}/tokens.h5' --eval 5")
set_tests_properties(eval_store PROPERTIES FIXTURES_SETUP eval_store LABELS dbl)

# text mode: PyTorch reference on the same windows (ids from `shear tokenize`), window rule, 1/2/3 ranks
add_test(NAME eval_text_parity
         COMMAND ${SHEAR_PYTHON} ${EVAL_SRC}/text_check.py $<TARGET_FILE:shear> ${EVAL_TOKENIZER} ${EVAL_DIR}/text
                 ${SHEAR_MPIRUN})
set_tests_properties(eval_text_parity PROPERTIES FIXTURES_REQUIRED tokenizer_json SKIP_RETURN_CODE 77
                     LABELS "dbl;mpi" TIMEOUT 300)
# deck mode: per-domain losses against the reference on a synthetic store, 1 and 2 ranks
add_test(NAME eval_deck_parity
         COMMAND ${SHEAR_PYTHON} ${EVAL_SRC}/deck_check.py $<TARGET_FILE:shear> ${EVAL_DIR}/tokens.h5 ${EVAL_DIR}/deck
                 ${SHEAR_MPIRUN})
set_tests_properties(eval_deck_parity PROPERTIES FIXTURES_REQUIRED eval_store LABELS "dbl;mpi" TIMEOUT 300)
# bad command lines, files and decks
add_test(NAME eval_cli_errors
         COMMAND bash ${EVAL_SRC}/cli_errors.sh $<TARGET_FILE:shear> ${EVAL_DIR}/cli ${EVAL_DIR}/tokens.h5
                 ${EVAL_TOKENIZER})
set_tests_properties(eval_cli_errors PROPERTIES FIXTURES_REQUIRED "eval_store;tokenizer_json" LABELS dbl TIMEOUT 300)

# test_metrics: every metrics.jsonl record (src/metrics.c): fields and their order, JSON validity, the resume cut
shear_unit_test(test_metrics test_metrics.c)
set_tests_properties(test_metrics PROPERTIES LABELS "unit;dbl")
