# The CPU backend of the ops interface: finite-difference gradients, forward references, the ADD/NULL contract.
shear_unit_test(test_ops_grad test_ops_grad.c)
