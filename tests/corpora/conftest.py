import pytest


@pytest.fixture(scope="session")
def real_corpora(shared_dir):
    """The folder of real corpora (CoNLL-2003, WNUT-17, WikiANN ...) in the shared data folder."""
    corpora = shared_dir / "corpora"
    if not corpora.is_dir():
        pytest.skip(f"the real-corpus tests need {corpora}, which is absent")
    return corpora
