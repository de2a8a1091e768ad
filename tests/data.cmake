# Data area: the domain sampler, the HDF5 token store and `shear prep`.
set(DATA_DIR ${CMAKE_CURRENT_BINARY_DIR}/data)
set(DATA_SRC ${CMAKE_CURRENT_SOURCE_DIR}/data)
# the tokenizer area's fixture (tokenizer.cmake, included after this file) writes it
set(DATA_TOKENIZER_JSON ${CMAKE_CURRENT_BINARY_DIR}/tokenizer/tokenizer.json)

# Sampler: chi-square of shares at a fixed seed, epochs are bijections, state round-trip, bad proportions die.
shear_unit_test(test_sampler test_sampler.c)
# 1, 2 and 3 ranks draw the same global batches (each rank takes its slice, rank 0 gathers and digests).
add_executable(test_sampler_ranks test_sampler_ranks.c)
target_link_libraries(test_sampler_ranks PRIVATE shearcore)
add_test(NAME sampler_ranks COMMAND bash ${DATA_SRC}/sampler_ranks.sh $<TARGET_FILE:test_sampler_ranks> ${SHEAR_MPIRUN})
set_tests_properties(sampler_ranks PROPERTIES LABELS "unit;mpi")

# Prep's pure parts: strict UTF-8 validation, the train/eval split by document.
shear_unit_test(test_prep test_prep.c)

# Store: parallel writer + serial reader round trip on 1 and 3 ranks; store_open refuses non-stores.
shear_unit_test(test_store test_store.c)
add_test(NAME test_store_np3 COMMAND ${SHEAR_MPIRUN} -np 3 $<TARGET_FILE:test_store> --writer-only)
set_tests_properties(test_store_np3 PROPERTIES LABELS "unit;mpi")
set_tests_properties(test_store PROPERTIES LABELS "unit;mpi") # calls MPI_Init itself

# `shear prep` on a synthetic corpus: identical stores on 1/2/3 ranks, counts and splits against an independent
# tokenization, bad inputs, skip/--force. SKIP (77) without the tokenizer.
foreach(mode ranks errors skip)
  add_test(NAME prep_${mode}
           COMMAND bash ${DATA_SRC}/prep_test.sh ${mode} $<TARGET_FILE:shear> ${DATA_TOKENIZER_JSON}
                   ${DATA_DIR}/prep_${mode} ${SHEAR_MPIRUN})
  set_tests_properties(prep_${mode} PROPERTIES FIXTURES_REQUIRED tokenizer_json SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS "mpi;data")
endforeach()
