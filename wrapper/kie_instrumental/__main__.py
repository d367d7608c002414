"""python -m kie_instrumental: the same as the `kie-instrumental` command."""

from ._cli import main

raise SystemExit(main())
