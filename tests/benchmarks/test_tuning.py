"""The tuning study's summary of its stored runs."""
from benchmarks import records, tuning


def test_the_summary_names_the_units_of_runs_stored_before_the_units_were_recorded():
    runs = records.read_runs(records.RESULTS, "tuning")
    legacy = [run for run in runs if "units" not in run]
    assert legacy, "the stored tuning runs include runs from before --units"
    rows = tuning.summary_rows(runs)
    legacy_names = {(run["corpus"], run["name"]) for run in legacy}
    legacy_rows = [row for row in rows if (row["corpus"], row["name"]) in legacy_names]
    assert legacy_rows and all("units=sentences" in row["changes"] for row in legacy_rows)
