# Corpus recipe (inputs/corpus): the text transforms alone, then a real small-profile build from Debian
# packages into the build tree with contract checks (sizes, JSONL, UTF-8, manifest checksums; never exact
# bytes). The build needs `apt-get download`; without the archive it reports SKIP (77). The .debs stay cached
# in the build tree and a finished corpus is not rebuilt, so re-runs take seconds.
add_test(NAME corpus_text
  COMMAND ${SHEAR_PYTHON} ${CMAKE_SOURCE_DIR}/tests/corpus/test_corpus_text.py ${CMAKE_SOURCE_DIR}/inputs/corpus)
set_tests_properties(corpus_text PROPERTIES LABELS "corpus")

add_test(NAME corpus_small
  COMMAND ${SHEAR_PYTHON} ${CMAKE_SOURCE_DIR}/tests/corpus/check_corpus.py
          --build ${CMAKE_SOURCE_DIR}/inputs/corpus/build_corpus.sh
          --cache ${CMAKE_BINARY_DIR}/corpus/debcache
          --profile small
          ${CMAKE_BINARY_DIR}/corpus/small)
set_tests_properties(corpus_small PROPERTIES LABELS "corpus;network" SKIP_RETURN_CODE 77 TIMEOUT 1200)
