"""`make mutation`: mutmut over the modules that carry the README's guarantees."""
