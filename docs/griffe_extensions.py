"""Griffe extension used by the API reference (mkdocs.yml); not part of the site.

The ``operators/`` folder is installed as ``pacsys_rx.operators`` through a setuptools
package-dir mapping, so griffe cannot find ``pacsys_rx.operators`` by path. This extension loads
the folder as the top-level package ``operators`` and attaches it to ``pacsys_rx``, so the
reference documents (and cross-references) it under its installed name.
"""

from __future__ import annotations

from typing import Any

import griffe


class OperatorsAsSubpackage(griffe.Extension):
    """Make ``pacsys_rx.operators`` resolve to the ``operators/`` folder."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "pacsys_rx" or "operators" in pkg.members:
            return
        pkg.set_member("operators", loader.load("operators"))
