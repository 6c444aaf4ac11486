"""`python -m gateway` is the `hookgate` command."""

from gateway.cli import main

main()
