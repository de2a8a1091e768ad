# Input decks (src/deck.c, src/deck_schema.c) and `shear keys` (src/cmd_keys.c).
shear_unit_test(test_deck test_deck.c)

# The real executable prints the README's key table.
add_test(NAME deck_keys_cli COMMAND shear keys)
set_tests_properties(deck_keys_cli PROPERTIES LABELS unit
                     PASS_REGULAR_EXPRESSION "\\| `optim\\.lr` \\| number \\| `1e-3` \\|")
# issue 19: decks over 1 MiB or nested deeper than a deck can be are refused at once (ASan with the unit label)
shear_unit_test(test_deck_limits test_deck_limits.c)
set_tests_properties(test_deck_limits PROPERTIES TIMEOUT 60)
