"""``python -m nodes.headless queue|run …`` (see ``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
