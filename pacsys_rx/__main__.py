"""``python -m pacsys_rx``: the ``pacsys-rx`` command."""

import sys

from pacsys_rx.cli import main

sys.exit(main())
