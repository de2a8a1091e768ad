# Model families end to end (tests/families/): a tiny random model of each family with its real tokenizer through
# import -> prep -> prune -> finalize -> train -> eval -> export -> import -> export on 2 ranks, checked against
# the PyTorch reference (check_family.py), and the decks of the real runs (inputs/llama3.1-8b, inputs/qwen3-1.7b)
# validated by `shear` itself without a GPU (check_decks.py).
#   families_<family>      family_pipeline.sh: llama3-tied (Llama 3.1 tokenizer, vocab 128256, tied, llama3 RoPE),
#                          qwen2 (Qwen3 tokenizer, vocab 151936, q/k/v biases), qwen3 (Qwen3 tokenizer, tied, q/k
#                          norms, head_dim 24), mistral (LLaMA-2 tokenizer, vocab 32000, sliding_window 4096).
#                          SKIP (77) without the tokenizer file (tokenizer_setup / tokenizer_bytelevel_setup: npm) or
#                          the small corpus (corpus_small: the Debian archive), saying how to get it.
#   families_decks         every deck is read and validated up to the weights (one rank, memory not checked)
#   families_decks_memory  the same on the decks' own rank counts: each must fit 78 GiB per GPU (80 GB H100/A100)
set(FAMILIES_DIR ${CMAKE_CURRENT_BINARY_DIR}/families)
set(FAMILIES_SRC ${CMAKE_CURRENT_SOURCE_DIR}/families)
# the tokenizer area's fixtures (tokenizer.cmake, included after this file) write the tokenizers there
set(FAMILIES_TOKENIZERS "${CMAKE_CURRENT_BINARY_DIR}/tokenizer ${CMAKE_SOURCE_DIR}/inputs/tokenizer")
set(FAMILIES_CORPUS "${CMAKE_BINARY_DIR}/corpus/small ${CMAKE_SOURCE_DIR}/corpus/small")
string(REPLACE ";" " " FAMILIES_MPIRUN "${SHEAR_MPIRUN}")
set(FAMILIES_ENV "SHEAR_PYTHON=${SHEAR_PYTHON};MPIRUN=${FAMILIES_MPIRUN};FAMILY_TOKENIZER_DIRS=${FAMILIES_TOKENIZERS}"
    "FAMILY_CORPUS_DIRS=${FAMILIES_CORPUS};OMP_NUM_THREADS=1")

foreach(family llama3-tied qwen2 qwen3 mistral)
  string(REPLACE "-" "_" name ${family})
  add_test(NAME families_${name}
           COMMAND ${CMAKE_COMMAND} -E env SHEAR=$<TARGET_FILE:shear>
                   bash ${FAMILIES_SRC}/family_pipeline.sh ${family} ${FAMILIES_DIR}/${family})
  if(family STREQUAL "mistral")
    set(fixture tokenizer_json)
  else()
    set(fixture bytelevel_json)
  endif()
  set_tests_properties(families_${name} PROPERTIES LABELS "families;mpi" SKIP_RETURN_CODE 77 TIMEOUT 300
                       FIXTURES_REQUIRED ${fixture} DEPENDS corpus_small ENVIRONMENT "${FAMILIES_ENV}")
endforeach()

set(FAMILIES_DECKS ${CMAKE_SOURCE_DIR}/inputs/llama3.1-8b ${CMAKE_SOURCE_DIR}/inputs/qwen3-1.7b)
add_test(NAME families_decks
         COMMAND ${SHEAR_PYTHON} ${FAMILIES_SRC}/check_decks.py $<TARGET_FILE:shear> ${FAMILIES_DIR}/decks
                 ${FAMILIES_DECKS})
set_tests_properties(families_decks PROPERTIES LABELS families TIMEOUT 120 ENVIRONMENT "${FAMILIES_ENV}")
add_test(NAME families_decks_memory
         COMMAND ${SHEAR_PYTHON} ${FAMILIES_SRC}/check_decks.py $<TARGET_FILE:shear> ${FAMILIES_DIR}/decks_memory
                 --gpu-mem 78G ${FAMILIES_DECKS})
set_tests_properties(families_decks_memory PROPERTIES LABELS "families;mpi" TIMEOUT 300
                     ENVIRONMENT "${FAMILIES_ENV}")
