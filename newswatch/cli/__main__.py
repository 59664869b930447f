"""``python -m newswatch.cli``: the same command as the ``newswatch`` console script (the local stack
starts its SMTP sink this way)."""

from newswatch.cli import main

main()
