#!/usr/bin/env bash
# Creates (or reuses) the virtual environment $VENV (default .venv) with the CPU build of
# torch and spacy-bilstm (editable, with the extras in $EXTRAS, default dev) installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# torch first and pinned: on this project's machines and CI (PyPI only, a local wheel of it),
# torch==2.13.0 is the CPU build; any other request for torch pulls a multi-GB CUDA build. Once it
# is installed, spacy-bilstm's torch range installs nothing more. Elsewhere, ask for the CPU build:
#   TORCH=torch TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh
TORCH="${TORCH:-torch==2.13.0}"
"$VENV/bin/python" -m pip install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH"
# EXTRAS: the optional dependencies to add (default "dev": tests, Dask, plots); empty for none.
EXTRAS="${EXTRAS-dev}"
"$VENV/bin/python" -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
"$VENV/bin/spacy-bilstm" --version
