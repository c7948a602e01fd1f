"""The `spacy-bilstm` command line. Each command lives in its own module as a thin
`*_cli` wrapper over a plain function that tests call directly."""
from ._app import app

# Command modules register themselves on `app` when imported (one import line each).
from . import process  # noqa: F401
from . import convert, corpora  # noqa: F401
from . import evaluate, package, train  # noqa: F401
from . import calibrate  # noqa: F401
from . import export  # noqa: F401
from . import select  # noqa: F401


def main() -> None:
    app()
