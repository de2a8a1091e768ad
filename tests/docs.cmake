# Documentation that must follow the code.
add_test(NAME readme_keys COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/readme_keys.sh $<TARGET_FILE:shear>
                                  ${CMAKE_SOURCE_DIR}/README.md)
# The claim tables of the READMEs are the tables the validation commands wrote (validation/results/): they
# cannot drift from the code's numbers without this test failing.
add_test(NAME readme_results COMMAND ${SHEAR_PYTHON} ${CMAKE_SOURCE_DIR}/tools/results_tables.py --check
                                     ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/validation/README.md)
set_tests_properties(readme_results PROPERTIES LABELS docs)
