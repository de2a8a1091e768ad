# The CPU backend of the ops interface: finite-difference gradients, forward references, the ADD/NULL contract.
shear_unit_test(test_ops_grad test_ops_grad.c)
# classifier_kd (distillation): finite differences, a naive reference and its identities, on the same harness
shear_unit_test(test_ops_kd test_ops_kd.c)
set_tests_properties(test_ops_kd PROPERTIES LABELS "unit;kd")
