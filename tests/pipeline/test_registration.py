"""The factory and architectures resolve through the package's entry points."""
import subprocess
import sys

import spacy
from spacy.language import Language

from spacy_bilstm import BiLSTMEntityRecognizer


def test_factory_and_architectures_resolve_through_entry_points_without_import():
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en'); nlp.add_pipe('bilstm_ner')\n"
        "assert 'spacy_bilstm' in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_entry_point_name_resolves_in_spacys_registry():
    from importlib.metadata import entry_points

    from spacy.util import registry

    architectures = [ep for ep in entry_points(group="spacy_architectures") if ep.name.startswith("spacy-bilstm.")]
    assert {ep.name for ep in architectures} >= {
        "spacy-bilstm.BiLSTMCRF.v1", "spacy-bilstm.BiLSTMCRF.v2", "spacy-bilstm.WordCharEmbed.v1",
        "spacy-bilstm.WordCharEmbed.v2", "spacy-bilstm.WordCharEmbed.v3", "spacy-bilstm.CharCNN.v1",
        "spacy-bilstm.Tok2VecCharEmbed.v1", "spacy-bilstm.Tok2VecCharEmbed.v2",
    }
    for ep in architectures:
        assert registry.architectures.get(ep.name) is ep.load()
    callbacks = [ep for ep in entry_points(group="spacy_callbacks") if ep.name.startswith("spacy-bilstm.")]
    assert {ep.name for ep in callbacks} == {
        "spacy-bilstm.InitializeFrozenTransformers.v1", "spacy-bilstm.CacheFrozenTransformerOutputs.v1",
        "spacy-bilstm.Rehearse.v1", "spacy-bilstm.Rehearse.v2",
    }
    for ep in callbacks:
        assert registry.callbacks.get(ep.name) is ep.load()
    factories = [ep for ep in entry_points(group="spacy_factories") if ep.value.startswith("spacy_bilstm")]
    assert [ep.name for ep in factories] == ["bilstm_ner"]
    assert Language.has_factory("bilstm_ner")
    assert isinstance(spacy.blank("en").add_pipe("bilstm_ner"), BiLSTMEntityRecognizer)
