# Documentation that must follow the code.
add_test(NAME readme_keys COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/readme_keys.sh $<TARGET_FILE:shear>
                                  ${CMAKE_SOURCE_DIR}/README.md)
