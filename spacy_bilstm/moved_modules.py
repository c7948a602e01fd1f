"""Module paths that were renamed. Pickle stores the module path of every class and function
it saves, so a pipeline pickled before a rename names the old path: each old path stays an
alias of its new module (spaCy's own to_disk stores registered names only, never paths)."""
import sys
from importlib import import_module

MOVED_MODULES = {
    "spacy_bilstm.layers.tagger": "spacy_bilstm.layers.tagger_layer",
    "spacy_bilstm.layers.char_cnn": "spacy_bilstm.layers.char_cnn_layer",
    "spacy_bilstm.nn.charcnn": "spacy_bilstm.nn.char_cnn",
}


def alias_moved_modules() -> None:
    for old_path, new_path in MOVED_MODULES.items():
        sys.modules.setdefault(old_path, import_module(new_path))
