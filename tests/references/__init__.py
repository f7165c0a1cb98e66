"""Plain-numpy references (loops, no Numba) that the tests compare sknets' kernels and
layers against."""
