"""``python -m nomadjail ...`` is the ``nomadjail`` command."""

from .cli.main import main

main()
