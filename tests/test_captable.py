"""The cap table and the historical what-if."""

import pandas as pd
import pytest
import yaml

from notelib import load_terms
from notelib.captable import DEFAULT_CAPTABLE, CapTableError, load_captable
from notelib.value.whatif import historical_what_if


def test_default_captable_from_public_facts():
    c = load_captable()
    assert c.common == 60_437_621  # 10-Q cover, 14 Feb 2005
    # warrants 491,400 + 1,000,000 + 3,701,923 + 1,150,000 = 6,343,323
    assert sum(w.shares for w in c.warrants) == 6_343_323
    # Laurus: 6,649,999 / 0.25 = 26,599,996 shares
    assert c.convertibles[0].shares == 26_599_996
    assert c.other_dilutive == 32_943_319 and c.fully_diluted == 93_380_940


def test_the_amendment_warrants_expiry_is_a_labelled_assumption():
    (w,) = [w for w in load_captable().warrants if w.issued_for == "amendment"]
    assert (w.shares, w.strike) == (491_400, 0.22)  # Prospect News, 1 Nov 2005
    assert str(w.expires) == "2009-10-15" and w.expiry_source.startswith("assumption: ")
    assert load_captable().split(0.1).warrants[0].expires == w.expires  # a split keeps it


def test_split_divides_counts_and_multiplies_prices():
    c = load_captable().split(0.1)
    assert c.common == 6_043_762  # 60,437,621 / 10, fraction dropped
    assert c.convertibles[0].conversion_price == pytest.approx(2.5)
    assert c.convertibles[0].shares == 2_660_000  # 6,649,999 / 2.5 = 2,659,999.6 -> up


@pytest.mark.parametrize("change, message", [
    (lambda d: d["common_outstanding"].update(value=-1), "common_outstanding = -1"),
    (lambda d: d["warrants"][0].update(shares=1.5), r"warrants\[0\].shares = 1.5"),
    (lambda d: d["warrants"][0].update(strike=0), r"warrants\[0\].strike = 0"),
    (lambda d: d["convertibles"][0].update(conversion_price=-1), "conversion_price = -1"),
    (lambda d: d["warrants"][1].pop("source"), r"warrants\[1\]: needs provenance"),
    (lambda d: d.update(holders=[]), r"unknown keys \['holders'\]"),
    (lambda d: d["warrants"][0].update(strik=0.2), r"warrants\[0\]: unknown keys \['strik'\]"),
    (lambda d: d.update(as_of="soon"), "as_of = 'soon'"),
    (lambda d: d["warrants"][0].update(expires="2009-10-15"), r"warrants\[0\].expires: write it"),
    (lambda d: d["warrants"][0]["expires"].update(value="soon"),
     r"warrants\[0\].expires.value = 'soon'"),
    (lambda d: d["warrants"][0]["expires"].update(provenance="guess"),
     r"warrants\[0\].expires: needs provenance"),
    (lambda d: d["warrants"][0].update(issued_for="merger"), r"issued_for = 'merger'"),
])
def test_bad_captable(tmp_path, change, message):
    data = yaml.safe_load(DEFAULT_CAPTABLE.read_text())
    change(data)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CapTableError, match=message):
        load_captable(path)
    with pytest.raises(CapTableError, match="not found"):
        load_captable(tmp_path / "none.yaml")


def test_historical_what_if():
    t = historical_what_if(load_terms()).set_index(["case", "date"])
    jan, apr, jul = (pd.Timestamp(d) for d in ("2006-01-01", "2006-04-01", "2006-07-01"))
    # before the sale both cases convert 3,350,000 / 0.22 -> 15,227,273 shares
    assert t.loc[("ratchet", jan), "issuable_on_conversion"] == 15_227_273
    # after the sale: ratchet to $0.02 -> 3,350,000 / 0.02 = 167,500,000; waived: unchanged
    assert t.loc[("ratchet", apr), "conversion_price"] == 0.02
    assert t.loc[("ratchet", apr), "issuable_on_conversion"] == 167_500_000
    assert t.loc[("waived", apr), "issuable_on_conversion"] == 15_227_273
    # after the 1-for-10 split: $0.20 -> 16,750,000; waived $2.20 -> 1,522,727.3 -> 1,522,728
    assert t.loc[("ratchet", jul), "issuable_on_conversion"] == 16_750_000
    assert t.loc[("waived", jul), "issuable_on_conversion"] == 1_522_728
    # on the post-split basis the April peak is 167,500,000 x 0.1 = 16,750,000 and January's
    # 15,227,273 x 0.1 = 1,522,727.3 -> 1,522,727 (a split drops fractions, reading 24)
    assert t.loc[("ratchet", apr), "issuable_final_basis"] == 16_750_000
    assert t.loc[("ratchet", jan), "issuable_final_basis"] == 1_522_727
    assert t.loc[("ratchet", jul), "issuable_final_basis"] == 16_750_000
    # shares outstanding: 60,437,621 + 225,000,000 sold = 285,437,621; /10 -> 28,543,762
    assert t.loc[("ratchet", apr), "outstanding"] == 285_437_621
    assert t.loc[("waived", jul), "outstanding"] == 28_543_762
    # fully diluted on 1 Jul 2006 (ratchet): 16,750,000 / (28,543,762 + 16,750,000 + others/10)
    others = load_captable().split(0.1).other_dilutive
    assert t.loc[("ratchet", jul), "fully_diluted_ownership"] == pytest.approx(
        16_750_000 / (28_543_762 + 16_750_000 + others))
