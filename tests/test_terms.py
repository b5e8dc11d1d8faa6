"""NoteTerms and load_terms: defaults with provenance, overrides, and every bad input."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml

from notelib import DEFAULT_TERMS, NoteTerms, TermsError, load_terms


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_TERMS.read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "terms.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_come_from_the_note():
    t = load_terms()
    # preamble: 9% interest, 16% Default Interest, 360-day year, quarterly Jan/Apr/Jul/Oct 1,
    # prepayments from 1 Jan 2007, maturity 1 Oct 2007; II.B.1 $0.22; I.A 120%; II.A.1 9.9%
    assert (t.interest_rate, t.default_rate, t.day_count) == (0.09, 0.16, "ACT/360")
    assert t.interest_months == (1, 4, 7, 10) and t.payment_day == 1
    assert t.first_prepayment_date == dt.date(2007, 1, 1)
    assert t.maturity_date == dt.date(2007, 10, 1)
    assert (t.conversion_price, t.redemption_premium, t.ownership_cap) == (0.22, 1.20, 0.099)
    assert (t.share_payment_threshold, t.share_payment_lookback) == (1.15, 10)
    # II.D.3 $2,000 a day; V.H 24%; V.G $25,000; I.A.10/12/14 thresholds
    assert t.delivery_default_per_day == 2000 and t.late_payment_rate == 0.24
    assert t.min_denomination == 25000
    assert (t.material_contract_default, t.judgment_threshold, t.indebtedness_threshold) == (
        500_000, 250_000, 750_000)


def test_blanks_are_labelled_assumptions():
    t = load_terms()
    # about $3.35M owed at 31 Oct 2005; one tenth per installment; November 2005 issue
    assert t.principal == 3_350_000 and t.monthly_prepayment == 335_000
    assert t.issue_date.year == 2005 and t.issue_date.month == 11
    for name in ("principal", "monthly_prepayment", "issue_date"):
        assert t.provenance[name].kind == "assumption"
        assert t.provenance[name].source  # the reason is given
    assert t.provenance["conversion_price"].kind == "contract"
    assert t.provenance["conversion_price"].clause == "II.B.1"


def test_every_entry_has_clause_and_provenance(raw):
    for name, entry in raw.items():
        assert entry["provenance"] in ("contract", "public-filing", "assumption"), name
        assert "clause" in entry, name
        if entry["provenance"] == "public-filing":
            assert entry.get("source"), name


def test_table_lists_every_term():
    table = load_terms().table()
    assert {"value", "clause", "provenance", "source"} <= set(table.columns)
    assert len(table) == len(dataclasses.fields(NoteTerms)) - 1  # all but the provenance map
    assert table.loc["redemption_premium", "clause"] == "I.A"


def test_terms_are_immutable():
    t = load_terms()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.principal = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.provenance["principal"] = None  # type: ignore[index]


def test_overrides_are_validated_and_labelled():
    t = load_terms(conversion_price=0.02, day_count="30/360")
    assert t.conversion_price == 0.02 and t.provenance["conversion_price"].kind == "override"
    with pytest.raises(TermsError, match="conversion_price.*-0.1.*greater than 0"):
        t.replace(conversion_price=-0.1)
    with pytest.raises(TermsError, match="unknown term 'conversion_prise'.*conversion_price"):
        load_terms(conversion_prise=0.1)


def test_maturity_in_shares_switch_is_a_term():
    assert load_terms().maturity_in_shares is False  # Article IV: cash at maturity
    assert load_terms(maturity_in_shares=True).maturity_in_shares is True


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("principal", 0, "principal' = 0.0: must be greater than 0"),
        ("principal", -5, "principal' = -5.0: must be greater than 0"),
        ("conversion_price", 0, "conversion_price' = 0.0: must be greater than 0"),
        ("conversion_price", -0.22, "conversion_price' = -0.22: must be greater than 0"),
        ("maturity_date", dt.date(2005, 11, 1), "maturity_date.*must be after the issue date"),
        ("maturity_date", dt.date(2004, 1, 1), "maturity_date.*must be after the issue date"),
        ("first_prepayment_date", dt.date(2008, 1, 1), "first_prepayment_date.*on or before maturity"),
        ("monthly_prepayment", 400_000, r"9 installments of it exceed the principal 3,350,000.00"),
        ("interest_rate", 1.5, "interest_rate' = 1.5: must be a rate in \\[0, 1\\]"),
        ("interest_rate", -0.01, "interest_rate' = -0.01: must be a rate in \\[0, 1\\]"),
        ("default_rate", 16, "default_rate' = 16.0: must be a rate in \\[0, 1\\]"),
        ("late_payment_rate", 24, "late_payment_rate' = 24.0: must be a rate in \\[0, 1\\]"),
        ("interest_months", [0, 4], "interest_months.*months numbered 1 to 12"),
        ("interest_months", [1, 13], "interest_months.*months numbered 1 to 12"),
        ("interest_months", [], "interest_months.*months numbered 1 to 12"),
        ("day_count", "ACT/ACT", "day_count' = 'ACT/ACT': must be one of"),
        ("payment_day", 31, "payment_day' = 31"),
        ("principal", "lots", "principal' = 'lots': must be a number"),
        ("share_payment_lookback", 2.5, "share_payment_lookback' = 2.5: must be a whole number"),
        ("ownership_cap", 0, "ownership_cap' = 0.0: must be in \\(0, 1\\]"),
        ("rounding", "dollar", "rounding' = 'dollar': must be one of \\('cent', 'none'\\)"),
        ("redemption_over_cap", "drop", "redemption_over_cap' = 'drop': must be one of"),
        ("default_interest_from", "late", "default_interest_from' = 'late': must be one of "
                                          "\\('due-date', 'pay-date'\\)"),
        ("purchase_agreement_cure_days", -1, "purchase_agreement_cure_days' = -1: must not be"),
        ("conversion_price", 0.2234567, "conversion_price' = 0.2234567: has more decimals than "
                                        "price_decimals = 6"),
        ("conversion_price", 1e-7, "conversion_price' = 1e-07: has more decimals"),
        ("principal", 100.005, "principal' = 100.005: must be in whole cents"),
        ("monthly_prepayment", 0.001, "monthly_prepayment' = 0.001: must be in whole cents"),
        ("interest_rate", float("inf"), "interest_rate' = inf: must be finite"),
        ("redemption_premium", float("nan"), "redemption_premium' = nan: must be finite"),
    ],
)
def test_bad_values_in_file_name_field_value_rule(tmp_path, raw, field, value, message):
    raw[field]["value"] = value
    with pytest.raises(TermsError, match=message):
        load_terms(write(tmp_path, raw))


def test_nine_installments_exactly_equal_to_the_principal_are_allowed():
    # 9 x 372,222.22 = 3,349,999.98 <= 3,350,000: fine; the last 0.02 is due at maturity
    assert load_terms(monthly_prepayment=372_222.22).monthly_prepayment == 372_222.22


def test_unknown_key_in_file_is_an_error(tmp_path, raw):
    raw["converson_price"] = raw.pop("conversion_price")
    with pytest.raises(TermsError, match="unknown term 'converson_price'.*did you mean 'conversion_price'"):
        load_terms(write(tmp_path, raw))


def test_unknown_key_inside_an_entry_is_an_error(tmp_path, raw):
    raw["principal"]["vaule"] = 1
    with pytest.raises(TermsError, match="term 'principal': unknown keys \\['vaule'\\]"):
        load_terms(write(tmp_path, raw))


def test_missing_term_is_an_error(tmp_path, raw):
    del raw["default_rate"]
    with pytest.raises(TermsError, match="lacks the terms: default_rate"):
        load_terms(write(tmp_path, raw))


@pytest.mark.parametrize("bad", ["2005-13-01", "1 Nov 2005", "2005/11/01", 20051101])
def test_malformed_dates(tmp_path, raw, bad):
    raw["issue_date"]["value"] = bad
    with pytest.raises(TermsError, match=f"issue_date' = {bad!r}: must be a date written YYYY-MM-DD"):
        load_terms(write(tmp_path, raw))


def test_iso_date_strings_are_accepted(tmp_path, raw):
    raw["issue_date"]["value"] = "2005-11-15"
    assert load_terms(write(tmp_path, raw)).issue_date == dt.date(2005, 11, 15)


def test_missing_file(tmp_path):
    with pytest.raises(TermsError, match="terms file not found: .*nope.yaml"):
        load_terms(tmp_path / "nope.yaml")


def test_not_yaml_and_not_a_mapping(tmp_path):
    (tmp_path / "a.yaml").write_text("principal: [unclosed")
    with pytest.raises(TermsError, match="not valid YAML"):
        load_terms(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("- just a list")
    with pytest.raises(TermsError, match="must be a mapping"):
        load_terms(tmp_path / "b.yaml")


def test_provenance_rules(tmp_path, raw):
    raw["principal"]["provenance"] = "guess"
    with pytest.raises(TermsError, match="principal': provenance = 'guess'"):
        load_terms(write(tmp_path, raw))
    raw["principal"]["provenance"] = "public-filing"
    with pytest.raises(TermsError, match="public-filing term must give its 'source'"):
        load_terms(write(tmp_path, raw))
    raw["principal"] = {"value": 1e6, "clause": "preamble", "provenance": "assumption"}
    with pytest.raises(TermsError, match="assumption must say why"):
        load_terms(write(tmp_path, raw))


def test_accrual_start_after_issue_is_refused():
    with pytest.raises(TermsError, match="accrual_start.*on or before the issue date"):
        load_terms(accrual_start=dt.date(2005, 12, 1))


def test_a_yaml_text_read_again_is_not_parsed_again_but_an_edit_is_seen(tmp_path):
    """Sweep cells read the same files many times: a text parsed once is reused (a copy:
    changing what one caller got changes nothing for the next), and an edited file is read
    afresh."""
    from notelib.io import safeyaml

    f = tmp_path / "x.yaml"
    f.write_text("a: 1\nb: [1, 2]\n")
    first = safeyaml.load_yaml(f)
    first["b"].append(3)
    assert safeyaml.load_yaml(f) == {"a": 1, "b": [1, 2]}
    f.write_text("a: 2\nb: [1, 2]\n")
    assert safeyaml.load_yaml(f)["a"] == 2
    f.write_text("a: [\n")
    with pytest.raises(safeyaml.YamlError, match="not valid YAML"):
        safeyaml.load_yaml(f)


def test_the_lines_errors_name_come_from_the_text_read_not_a_second_parse(tmp_path, monkeypatch):
    """The cap table asks for its keys' and lists' lines on every load: they are kept with the
    text's data, so asking parses nothing again, and an edited file gives its new lines."""
    from notelib.io import safeyaml

    parses = []
    parse = safeyaml._Loader.get_single_node
    monkeypatch.setattr(safeyaml._Loader, "get_single_node",
                        lambda self: parses.append(1) or parse(self))
    f = tmp_path / "x.yaml"
    f.write_text("a: 1\nitems:\n  - x: 1\n  - x: 2\n\n  - x: 3\nb: [4]\n")
    safeyaml.load_yaml(f)
    # keys on lines 1, 2 and 7; the items of "items" start on lines 3, 4 and 6
    assert safeyaml.key_lines(f) == {"a": 1, "items": 2, "b": 7}
    assert safeyaml.sequence_lines(f, "items") == [3, 4, 6]
    assert safeyaml.sequence_lines(f, "b") == [7] and safeyaml.sequence_lines(f, "a") == []
    assert len(parses) == 1
    safeyaml.key_lines(f)["a"] = 99  # a caller's copy: the kept lines do not change
    assert safeyaml.key_lines(f)["a"] == 1
    f.write_text("items:\n\n  - x: 1\n")  # edited, not read by load_yaml: parsed afresh
    assert safeyaml.key_lines(f) == {"items": 1} and safeyaml.sequence_lines(f, "items") == [3]
    assert len(parses) == 3
