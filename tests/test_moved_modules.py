"""A pipeline pickled before a module was renamed names the old module path; it still loads."""
import importlib
import pickle

import pytest

from spacy_bilstm.moved_modules import MOVED_MODULES


def _pickled_under_old_path(obj, new_path: str, old_path: str) -> bytes:
    # Protocol 0 writes a global as "c<module>\n<name>\n", so the path can be swapped in place.
    pickled = pickle.dumps(obj, protocol=0)
    assert f"c{new_path}\n".encode() in pickled
    return pickled.replace(f"c{new_path}\n".encode(), f"c{old_path}\n".encode())


@pytest.mark.parametrize("old_path,new_path", sorted(MOVED_MODULES.items()))
def test_a_pickle_naming_an_old_module_path_loads_the_renamed_modules_objects(old_path, new_path):
    new_module = importlib.import_module(new_path)
    public = [value for name, value in vars(new_module).items()
              if not name.startswith("_") and getattr(value, "__module__", None) == new_path]
    assert public
    for obj in public:
        assert pickle.loads(_pickled_under_old_path(obj, new_path, old_path)) is obj
