"""Private helpers shared by the sknets estimators (validation, threads, randomness,
compile notices)."""

from ._compile import install as _install_compile_notice

_install_compile_notice()  # "compiling... (once)" on a first fit with an empty cache
