"""The benchmark studies of spacy-bilstm, each run as `python -m benchmarks.<study>` from the
repository root (see benchmarks/README.md). Not part of the package that is shipped."""
