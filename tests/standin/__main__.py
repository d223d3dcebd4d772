"""python -m tests.standin: serve a stand-in until Ctrl-C (see cli.py)."""

from tests.standin.cli import main

raise SystemExit(main())
