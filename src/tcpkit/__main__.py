"""``python -m tcpkit``: the same as the ``tcpkit`` command."""

import sys

from tcpkit.tools.cli import main

sys.exit(main())
