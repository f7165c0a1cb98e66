"""Private helpers shared by the sknets estimators (validation, threads, randomness)."""
