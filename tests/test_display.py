"""Tables for people (issue 10, items 2 and 3): dates as datetime64, numbers formatted."""

import numpy as np
import pandas as pd
import pytest

import notelib as nl
from notelib.io.display import Table, column_kind, seconds, table
from notelib.paths import Paths


@pytest.fixture(scope="module")
def terms():
    return nl.load_terms()


def test_schedule_filters_and_indexes_by_date_as_pandas_does(terms):
    s = nl.payment_schedule(terms)
    assert pd.api.types.is_datetime64_any_dtype(s["date"])
    assert pd.api.types.is_datetime64_any_dtype(s["pay_date"])
    # the payment dates after 1 Jun 2006: 1 Jul and 1 Oct 2006, then ten in 2007
    assert len(s[s["date"] > "2006-06-01"]) == 2 + 10
    # 1 Apr-1 Jul 2006: 91 days x 837.50 = 76,212.50, paid Monday 3 Jul
    row = s.set_index("date").loc["2006-07-01"]
    assert row["interest"] == 76_212.50 and row["pay_date"] == pd.Timestamp("2006-07-03")
    assert s["accrual_start"].iloc[0] == pd.Timestamp("2005-11-01")  # the Issue Date
    assert pd.isna(s.set_index("date").loc["2007-02-01", "accrual_start"])  # installment only


def test_every_returned_table_holds_datetime64_dates(terms):
    h = nl.conversion_price_history(terms, [nl.Split("2006-06-05", 0.1)])
    r = nl.redemption_by_date(terms, ["2006-06-15"], 0.30)
    closes = pd.DataFrame({0: np.full(560, 0.30)}, index=pd.bdate_range("2005-09-01", periods=560))
    res = nl.simulate(terms, closes)
    for frame, cols in ((h, ["date"]), (r, ["date"]), (res.by_payment, ["date", "pay_date"]),
                        (res.summary.by_date, ["date", "pay_date"])):
        for c in cols:
            assert pd.api.types.is_datetime64_any_dtype(frame[c]), c
    # and functions still take them back: the price in effect on a Timestamp from the table
    assert nl.price_on(h, h["date"].iloc[1]) == 2.20  # 0.22 / 0.1 after the 1-for-10 split


def test_tables_show_dollars_shares_percentages_and_prices(terms):
    s = nl.payment_schedule(terms)
    assert isinstance(s, Table)
    text, html = repr(s), s._repr_html_()
    assert "$51,087.50" in text and "$3,350,000.00" in text  # first coupon, the balance
    assert "2006-01-03" in text and "00:00:00" not in text
    assert "&#36;51,087.50" in html and "$" not in html  # Lab does not typeset it as LaTeX
    # a filtered table keeps its formats
    assert "$76,212.50" in repr(s[s["date"] > "2006-06-01"])
    frame = table(pd.DataFrame({"p_shares": [0.25], "shares_issued_p50": [1522728.0],
                                "conversion_price": [0.2639999845288902],
                                "cash_paid_mean": [1.5e7]}))
    shown = repr(frame)
    assert "25.0%" in shown and "1,522,728" in shown and "$0.264" in shown
    assert "$15,000,000.00" in shown and "e+" not in shown and "0.26399" not in shown


def test_terms_table_reads_as_the_note_does(terms):
    t = terms.table()
    assert t.loc["principal", "value"] == "$3,350,000.00"
    assert t.loc["interest_rate", "value"] == "9%"
    assert t.loc["conversion_price", "value"] == "$0.22"
    assert t.loc["ownership_cap", "value"] == "9.90%"


@pytest.mark.parametrize("name, kind", [
    ("p_shares", "percent"), ("shares_value", "dollars"), ("parity_price", "price"),
    ("parity", "dollars"), ("shares_issued_p95", "shares"), ("ownership_p50", "percent"),
    ("principal_shares", "dollars"), ("highest_close", "price"), ("outstanding_p5", "shares"),
    ("path", None)])
def test_column_kinds_from_names(name, kind):
    assert column_kind(name, np.dtype(float)) == kind


def test_booleans_and_text_are_left_alone():
    assert column_kind("in_shares", np.dtype(bool)) is None
    assert column_kind("kind", np.dtype(object)) is None
    assert column_kind("date", np.dtype("datetime64[ns]")) == "date"


def test_long_tables_are_cut_as_pandas_cuts_them(terms):
    # 5,000 paths: the HTML stays small (display.min_rows rows), not 5,000 rows
    paths = Paths(pd.bdate_range("2005-09-01", periods=560), np.full((560, 50), 0.30))
    by_path = nl.simulate(terms, paths).by_path
    with pd.option_context("display.max_rows", 20, "display.min_rows", 6):
        assert by_path._repr_html_().count("<tr>") < 12


def test_negative_dollars_put_the_sign_first():
    from notelib.io.display import dollars

    assert dollars(-36441.639) == "-$36,441.64"
    assert dollars(0.0) == "$0.00" and dollars(1234.5, 0) == "$1,234"


@pytest.mark.parametrize("value, std_error, text", [
    (4_508_524, 10_986, "$4.51M ± $0.02M"),   # 2 x 10,986 = 21,972: the band's digit is 0.02M
    (3_540_000, 1_500, "$3.540M ± $0.003M"),  # 3,000: shown to the thousandth of a million
    (4_500_000, 50_000, "$4.5M ± $0.1M"),     # 100,000
    (603_000, 25_500, "$603K ± $51K"),        # below a million: thousands
    (-1_320_000, 25_000, "-$1.32M ± $0.05M"),
])
def test_monte_carlo_dollars_are_shown_to_their_precision(value, std_error, text):
    from notelib.io.display import money_band

    assert money_band(value, std_error) == text


@pytest.mark.parametrize("t, text", [
    (1.374, "1.37s"),      # from 1 s up: two places
    (12.345, "12.35s"),    # stored as 12.3450000000000006...: two places, 12.35
    (0.3118, "0.312s"),    # 10^-1 <= t < 1: three places, three figures
    (0.0044, "0.00440s"),  # 4.4 ms: five places (at two, the bench printed 0.00s)
    (0.0, "0.00s"),
    (float("nan"), "nans"),  # never a crash on a time a clock could not give
])
def test_seconds_keep_three_significant_figures(t, text):
    assert seconds(t) == text


def test_text_columns_read_from_the_left_and_numbers_stay_right():
    """A table's text columns (here the 1st and 3rd cells of a row, with no index shown) get
    a left-aligned style scoped to that table; the number column none; the same table gives
    the same HTML on every run (the scope's name is a hash of the table, not a random id)."""
    import re

    import pandas as pd

    from notelib.io.display import table

    frame = pd.DataFrame({"holder": ["Laurus", "Bridge"], "shares": [1.0, 2.0],
                          "source": ["8-K", "form"]})
    html = table(frame, {"shares": "shares"})._repr_html_()
    name = re.search(r'class="dataframe[^"]* (nl-[0-9a-f]{10})"', html).group(1)
    assert f".{name} td:nth-child(1)" in html and f".{name} td:nth-child(3)" in html
    assert "nth-child(2)" not in html
    assert html == table(frame, {"shares": "shares"})._repr_html_()
    assert "text-align: left" not in table(frame[["shares"]])._repr_html_()
