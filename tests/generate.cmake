# shear generate (issue 18): the sampler's distribution (test_sample), the CPU generation ops against the
# training ops (test_ops_cached), greedy generation against the PyTorch
# reference with and without the KV cache, seeded sampling, EOS and the length limit (generate_check), and
# every bad input of the command (generate_cli_errors).
shear_unit_test(test_sample test_sample.c)
shear_unit_test(test_ops_cached test_ops_cached.c)
set_tests_properties(test_sample PROPERTIES TIMEOUT 120)
add_test(NAME generate_check
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/generate/check.sh $<TARGET_FILE:shear> ${CMAKE_CURRENT_BINARY_DIR}/generate
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(generate_check PROPERTIES LABELS "generate;parity" TIMEOUT 900
                     ENVIRONMENT "SHEAR_PYTHON=${SHEAR_PYTHON};OMP_NUM_THREADS=2")
add_test(NAME generate_cli_errors
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/generate/cli_errors.sh $<TARGET_FILE:shear>
                 ${CMAKE_CURRENT_BINARY_DIR}/generate_errors ${CMAKE_SOURCE_DIR})
set_tests_properties(generate_cli_errors PROPERTIES LABELS generate TIMEOUT 300
                     ENVIRONMENT "SHEAR_PYTHON=${SHEAR_PYTHON};OMP_NUM_THREADS=2")
