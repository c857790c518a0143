"""Network protections (SPEC §4, seed 002 §25, §25-2, §28): DNS blocking and traffic limits."""
