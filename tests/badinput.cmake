# Issue 19: bad data and failing file systems never crash a run. Each script prints one line per check.
# (The deck size/depth limits are test_deck_limits in deck.cmake; stores and model files in badinput_data.cmake;
# the 100+-case suite in badinput_suite.cmake.)
set(BADINPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/badinput)
set(BADINPUT_SRC ${CMAKE_CURRENT_SOURCE_DIR}/badinput)
foreach(case die_ranks write_fail slow_save)
  add_test(NAME badinput_${case}
           COMMAND bash ${BADINPUT_SRC}/${case}.sh $<TARGET_FILE:shear> ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${BADINPUT_DIR}/${case} ${SHEAR_MPIRUN})
  set_tests_properties(badinput_${case} PROPERTIES FIXTURES_REQUIRED train_store LABELS "mpi;badinput" TIMEOUT 180)
endforeach()
