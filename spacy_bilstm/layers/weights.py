"""A torch module's weights as bytes and back. A model directory is untrusted input: weights are
read with `weights_only=True` and loaded with `load_state_dict(strict=True)`, and every failure
says what is wrong with the file and what to do."""
import io
import pickle
import re

import torch

from ..errors import ModelLoadError


def serialize_state(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def deserialize_state(module: torch.nn.Module, state_bytes: bytes, device: "torch.device") -> torch.nn.Module:
    try:
        state = torch.load(io.BytesIO(state_bytes), map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message goes on to suggest weights_only=False: not advice to pass on.
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        raise ModelLoadError(
            "Refused to load the torch weights: besides tensors they hold Python objects"
            + (f" (such as {found.group(1)})" if found else "")
            + ", which could run code when loaded, so the file was not unpickled. It was not written by "
            "spacy-bilstm or was tampered with; use a pipeline from a source you trust, or retrain."
        ) from None
    except Exception as error:  # torch raises several types for truncated or damaged files
        raise ModelLoadError(
            f"The torch weights could not be read ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}): the model file is truncated or corrupted. "
            f"Restore the pipeline directory from a good copy, or retrain."
        ) from None
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError, ValueError) as error:
        details = [line.strip() for line in str(error).splitlines() if line.strip()][:4]
        raise ModelLoadError(
            f"The stored weights do not fit this model: {' '.join(details)} Check that the config (widths, "
            f"depth, bidirectional, labels) is the one the model was trained with, or retrain."
        ) from None
    return module.to(device)
