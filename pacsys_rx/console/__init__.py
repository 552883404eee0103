"""The subcommands of ``pacsys-rx``: read, monitor, write, demo (``sim`` lives in pacsys_rx.cli)."""
