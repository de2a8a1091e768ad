# Bad-input suite (issue 19): well over 100 inputs with one planted defect each (decks, --set, command lines,
# model files, checkpoints, token stores, safetensors, config.json, tokenizer.json, text), each must exit 1 or 2
# with one error line within 60 s and leave no *.tmp and no partial output; a few run on 2 ranks
# (tests/badinput/suite.py says the exact contract). It builds its own good inputs (tests/train/make_store.py,
# a 2-step run of tests/train/deck.yaml, tests/hf/make_hf.py + shear import). The LLaMA-2 tokenizer.json of
# tokenizer_setup (tests/tokenizer.cmake) is used when it exists; without it those cases are skipped with a note.
# its own folder: the suite empties it first and removes every *.tmp under it, which must never reach the
# checkpoints that badinput_{die_ranks,write_fail,slow_save} write in tests/badinput/<case> at the same time
set(BADINPUT_SUITE_DIR ${CMAKE_CURRENT_BINARY_DIR}/badinput/suite)
string(REPLACE ";" " " BADINPUT_MPIRUN "${SHEAR_MPIRUN}")
add_test(NAME badinput_suite
         COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/badinput/suite.py $<TARGET_FILE:shear> ${BADINPUT_SUITE_DIR}
                 --tokenizer ${CMAKE_CURRENT_BINARY_DIR}/tokenizer/tokenizer.json --mpirun "${BADINPUT_MPIRUN}")
# DEPENDS only orders: when tokenizer_setup runs in the same ctest invocation it runs first
set_tests_properties(badinput_suite PROPERTIES LABELS "badinput;mpi" TIMEOUT 600 DEPENDS tokenizer_setup
                     ENVIRONMENT "OMP_NUM_THREADS=1")
