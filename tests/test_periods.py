import pandas as pd
import pytest

from tradeanomaly.periods import (normalise_period, normalise_periods, period_ordinal, period_range, season,
                                  shift)


@pytest.mark.parametrize("raw,want", [
    ("2013", "2013"), (2013, "2013"), (2013.0, "2013"), ("2013Q1", "2013-Q1"), ("2013-Q4", "2013-Q4"),
    ("2024M2", "2024-02"), ("2024M12", "2024-12"), ("2024-02", "2024-02"), ("202402", "2024-02"),
    ("2001.10", "2001-10"), ("2001.1", "2001-01"), ("2024M13", None), ("abc", None), ("", None), (None, None),
])
def test_normalise(raw, want):
    assert normalise_period(raw) == want


def test_vectorised_and_arithmetic():
    s = pd.Series(["2024M1", "2024M2", "x"])
    assert normalise_periods(s).tolist() == ["2024-01", "2024-02", ""]
    assert shift("2019-12", 1) == "2020-01" and shift("2019-Q1", -1) == "2018-Q4" and shift("2019", 2) == "2021"
    assert period_range("2019-11", "2020-02") == ["2019-11", "2019-12", "2020-01", "2020-02"]
    o = period_ordinal(pd.Series(["2019-12", "2020-01", "2019-Q4", "2020-Q1", "2019"]))
    assert o[1] - o[0] == 1 and o[3] - o[2] == 1 and o[4] == 2019
    assert season(pd.Series(["2019-12", "2019-Q3", "2019"])).tolist() == [12, 3, 0]
