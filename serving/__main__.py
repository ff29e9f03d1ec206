"""`python -m serving` runs the `influence` command line."""

from serving.cli import main

main()
