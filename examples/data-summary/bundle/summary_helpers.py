"""Helpers for the data-summary example; shipped in its extra file (a ZIP)."""

import pandas as pd

GROUP_BY = "species"


def load_measurements(path):
    """The field measurements, one row per captured animal."""
    return pd.read_csv(path)


def numeric_columns(frame):
    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]


def summarize(frame, column):
    """Count, mean, standard deviation, minimum and maximum of `column` per species."""
    summary = (
        frame.groupby(GROUP_BY)[column]
        .agg(["count", "mean", "std", "min", "max"])
        .round(2)
        .reset_index()
    )
    summary.insert(1, "column", column)
    return summary
