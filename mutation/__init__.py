"""`make mutation`: mutmut over the modules that carry the README's guarantees."""


def function_of(mutant: str) -> str:
    """`pkg.mod.x_name__mutmut_12` -> `pkg.mod.x_name`: the function mutmut mutated."""
    return mutant.rpartition("__mutmut_")[0]
