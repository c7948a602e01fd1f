#!/usr/bin/env bash
# From a fresh checkout to a trained, evaluated, packaged NER pipeline on the sample corpus:
#   bash scripts/quickstart.sh
# Creates .venv if absent, installs the CPU build of torch and spacy-bilstm, then converts,
# trains briefly (a couple of minutes on 2 CPU cores), evaluates, packages and tags.
# Everything it writes goes to quickstart-output/ (QUICKSTART_OUTPUT to change it); the
# environment is .venv (VENV to change it), the one scripts/test.sh uses: either script can run
# before the other.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${QUICKSTART_OUTPUT:-quickstart-output}"
TRAIN_STEPS="${QUICKSTART_STEPS:-300}"
EVAL_FREQUENCY=$(( TRAIN_STEPS > 0 && TRAIN_STEPS < 25 ? TRAIN_STEPS : 25 ))
VENV="${VENV:-.venv}"

step() { printf '\n=== %s\n' "$*"; }

step "Environment"
# $VENV with the CPU build of torch installed first, then spacy-bilstm (see scripts/setup.sh).
# The extras a previous scripts/setup.sh installed (tests, Dask) stay installed.
VENV="$VENV" EXTRAS="" bash scripts/setup.sh
# shellcheck disable=SC1091
. "$VENV/bin/activate"

step "Convert the sample corpus"
mkdir -p "$OUT/corpus"
spacy-bilstm convert corpora/sample/train.conll "$OUT/corpus/train.spacy"
spacy-bilstm convert corpora/sample/dev.conll "$OUT/corpus/dev.spacy"

step "Train (${TRAIN_STEPS} steps; drop --training.max_steps for a full run)"
spacy-bilstm train bilstm_crf --output "$OUT/training" \
    --train "$OUT/corpus/train.spacy" --dev "$OUT/corpus/dev.spacy" --seed 0 \
    --training.max_steps "$TRAIN_STEPS" --training.eval_frequency "$EVAL_FREQUENCY"

step "Evaluate model-best on the dev set"
spacy-bilstm evaluate "$OUT/training/model-best" "$OUT/corpus/dev.spacy" \
    --output "$OUT/metrics.json" --predictions "$OUT/predictions.conll"

step "Package"
spacy-bilstm package "$OUT/training/model-best" "$OUT/packages" --name sample_ner --version 0.1.0 --force
WHEEL="$(ls "$OUT"/packages/en_sample_ner-0.1.0/dist/en_sample_ner-0.1.0-*.whl)"
pip uninstall --quiet --yes en_sample_ner >/dev/null 2>&1 || true
pip install --quiet "$WHEEL"

step "Tag a few sentences with spacy.load(\"en_sample_ner\")"
python - <<'PYTHON'
import spacy

nlp = spacy.load("en_sample_ner")
sentences = [
    "Angela Merkel met the president of France in Paris on Monday.",
    "Siemens Energy will build a wind farm off the coast of Scotland.",
    "The European Commission fined Google 2.4 billion euros.",
]
for doc in nlp.pipe(sentences):
    scores = doc.spans["bilstm_ner"].attrs["scores"]
    print(doc.text)
    for ent, score in zip(doc.spans["bilstm_ner"], scores):
        print(f"    {ent.text:<24} {ent.label_:<5} p={score:.2f}")
    if not len(doc.spans["bilstm_ner"]):
        print("    (no entities)")
PYTHON

step "Done"
echo "Pipeline:    $OUT/training/model-best"
echo "Scores:      $OUT/metrics.json"
echo "Predictions: $OUT/predictions.conll"
echo "Package:     $WHEEL"
