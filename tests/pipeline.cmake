# The whole method in minutes: tools/pipeline.sh (the main job's stages) on the synthetic store of train.cmake
# with the decks of tests/pipeline/, then the stages' contracts.
set(PIPE_DIR ${CMAKE_CURRENT_BINARY_DIR}/pipeline)
add_test(NAME pipeline_reduced
         COMMAND ${CMAKE_COMMAND} -E env SHEAR=$<TARGET_FILE:shear> SHEAR_RANKS=2
                 bash ${CMAKE_SOURCE_DIR}/tools/pipeline.sh ${CMAKE_CURRENT_SOURCE_DIR}/pipeline
                 ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${PIPE_DIR})
set_tests_properties(pipeline_reduced PROPERTIES FIXTURES_REQUIRED train_store FIXTURES_SETUP pipeline
                     WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} LABELS "mpi;pipeline" TIMEOUT 900)
add_test(NAME pipeline_contracts COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/check_pipeline.py ${PIPE_DIR})
set_tests_properties(pipeline_contracts PROPERTIES FIXTURES_REQUIRED pipeline LABELS pipeline)
add_test(NAME pipeline_skips_finished_stages
         COMMAND ${CMAKE_COMMAND} -E env SHEAR=$<TARGET_FILE:shear> SHEAR_RANKS=2
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/rerun_skips.sh ${CMAKE_CURRENT_SOURCE_DIR}/pipeline
                 ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${PIPE_DIR})
set_tests_properties(pipeline_skips_finished_stages PROPERTIES FIXTURES_REQUIRED pipeline DEPENDS pipeline_contracts
                     WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} LABELS pipeline)
