"""Issue 35, "inputs that cannot hurt": every input file (ledger, closes, terms, cap table) is
read through its public loader, and a bad one gets a one-line error naming the file, the line
or entry, the field and the rule; nothing nonsensical is accepted, nothing valid is lost.

Expected messages come from the rules (README.md's ledger section, data/ledger/README.md,
data/prices/README.md and the note's Article I.A), not from the code's output."""

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from notelib import load_terms, note_state
from notelib.book import state
from notelib.book.ledger import LAST_DAY, MAX_NOTICES, LedgerError, parse_ledger
from notelib.book.state import load_ledger
from notelib.captable import DEFAULT_CAPTABLE, CapTableError, load_captable
from notelib.contract.adjustments import (MAX_SHARES, AdjustmentError, CashDistribution,
                                          Issuance)
from notelib.contract.terms import DEFAULT_TERMS, MAX_DAYS, TermsError
from notelib.io.safeyaml import MAX_DIGITS, YamlError, load_yaml
from notelib.jobs import cli
from notelib.paths import PRICES, PathError, load_closes

ROOT = Path(__file__).resolve().parent.parent
D = dt.date
HEAD = "unrecorded_payments: cash\nentries:\n"
TERMS = DEFAULT_TERMS.read_text()
CAPTABLE = DEFAULT_CAPTABLE.read_text()
CLOSES = "date,close\n2005-10-03,0.22\n2005-10-04,0.2215\n2005-10-05,0.2216\n"
BIG = "9" * 5000  # past Python's 4,300-digit limit for reading an int


def write(tmp_path: Path, text: str | bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def ledger(tmp_path: Path, *entries: str, head: str = HEAD) -> Path:
    return write(tmp_path, head + "".join(f"  - {e}\n" for e in entries), "ledger.yaml")


def one_line_naming(exc: Exception, path: Path, *fragments: str) -> str:
    """The message, checked: one line, the file's path and each fragment in it."""
    message = str(exc)
    assert "\n" not in message, message
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# ---- item 1: an `event` entry is I.A.5-8 or I.A.11 (README: "an event with no cure period")

@pytest.mark.parametrize("clause, kind", [
    (1, "payment"), (2, "delivery_failure"), (3, "registration_lapse"), (4, "registration_lapse"),
    (9, "covenant_breach"), (10, "material_contract_default"), (12, "judgment"),
    (13, "trading_suspension"), (14, "indebtedness_acceleration")])
def test_an_event_entry_is_refused_for_an_event_with_its_own_kind(tmp_path, clause, kind):
    # I.A.1 follows from the payments (cured by paying the arrears); the others have a kind
    # with their cure period (I.A.2, 3, 4, 9, 10, 12, 13) or threshold (I.A.14)
    path = ledger(tmp_path, f"{{date: 2006-03-01, kind: event, clause: {clause}}}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", f"clause = {clause}", "I.A.5-8 or I.A.11",
                    kind)


@pytest.mark.parametrize("clause", [5, 6, 7, 8, 11])
def test_an_event_entry_records_the_events_without_a_cure_period(terms, clause):
    entry = {"date": D(2006, 3, 1), "kind": "event", "clause": clause}
    book = parse_ledger({"entries": [entry], "unrecorded_payments": "cash"}, None, terms)
    events = note_state(terms, "2006-03-10", ledger=book).events.set_index("clause")
    assert events.loc[f"I.A.{clause}", "status"] == "triggered"


# ---- item 2: dates written YYYY-MM-DD, in every file

@pytest.mark.parametrize("written", ["2006-3-9", "2006-03-9", "2006-3-09"])
def test_a_ledger_date_without_two_digit_month_and_day_is_refused(tmp_path, written):
    path = ledger(tmp_path, f"{{date: {written}, kind: split, ratio: 0.1}}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", f"'{written}'", "YYYY-MM-DD", "entries[0].date")


@pytest.mark.parametrize("written", ["'2006-3-9'", "20060309", "'20060309'", "'2006-W10-4'",
                                     "2006-03-09T10:00:00"])
def test_a_ledger_date_in_another_form_is_refused(tmp_path, written):
    path = ledger(tmp_path, f"{{date: {written}, kind: split, ratio: 0.1}}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", "date = ", "YYYY-MM-DD")


def test_a_date_field_of_an_entry_is_checked_too(tmp_path):
    path = ledger(tmp_path, "{date: 2006-03-09, kind: covenant_breach, cured_on: 2006-3-20}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", "'2006-3-20'", "entries[0].cured_on")


@pytest.mark.parametrize("written", ["20051003", "2005-10-3", "2005-W40-1", "10/03/2005",
                                     "2005-10-03 00:00:00"])
def test_a_closes_date_not_written_yyyy_mm_dd_is_refused(tmp_path, written):
    path = write(tmp_path, f"date,close\n{written},0.22\n", "closes.csv")
    with pytest.raises(PathError) as err:
        load_closes(path)
    one_line_naming(err.value, path, "line 2", f"date = '{written}'", "YYYY-MM-DD")


def test_terms_and_cap_table_dates_are_written_yyyy_mm_dd(tmp_path):
    path = write(tmp_path, TERMS.replace("value: 2005-11-01", "value: 2005-11-1", 1), "t.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "'2005-11-1'", "YYYY-MM-DD", "issue_date.value")
    path = write(tmp_path, TERMS.replace("value: 2005-11-01", "value: '20051101'", 1), "u.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "issue_date", "'20051101'", "YYYY-MM-DD")
    path = write(tmp_path, CAPTABLE.replace("as_of: 2005-11-01", "as_of: 2005-11-1"), "c.yaml")
    with pytest.raises(CapTableError) as err:
        load_captable(path)
    one_line_naming(err.value, path, "line 5", "'2005-11-1'", "YYYY-MM-DD", "as_of")


def test_a_quoted_iso_date_is_a_date_in_terms_and_cap_table(tmp_path):
    # "a quoted date is a date" (README), written exactly YYYY-MM-DD
    path = write(tmp_path, TERMS.replace("value: 2005-11-01", "value: '2005-11-01'", 1), "t.yaml")
    assert load_terms(path) == load_terms()
    path = write(tmp_path, CAPTABLE.replace("as_of: 2005-11-01", "as_of: '2005-11-01'"), "c.yaml")
    assert load_captable(path) == load_captable()


def test_the_shipped_files_and_readme_examples_still_load(terms):
    for path in sorted((ROOT / "data").rglob("*.yaml")):
        load_yaml(path)
    for path in sorted((ROOT / "data" / "ledger").glob("*.yaml")):
        assert len(load_ledger(path)) >= 1
    for path in sorted((ROOT / "data" / "prices").glob("*.csv")):
        assert load_closes(path, terms=terms).n_paths == 1
    load_terms(ROOT / "data" / "terms" / "dyntek-2004-original.yaml")
    assert load_captable().common == 60_437_621
    # the ledger README's worked examples (data/ledger/README.md)
    readme = (ROOT / "data" / "ledger" / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert len(blocks) == 2
    for block in blocks:
        assert len(parse_ledger(yaml.safe_load(block), None, terms)) == 2


# ---- item 3: a source is text

@pytest.mark.parametrize("source", ["[8-K, 10-Q]", "42", "{a: b}", "'   '"])
def test_a_ledger_source_is_text(tmp_path, source):
    path = ledger(tmp_path, "{date: 2006-06-05, kind: split, ratio: 0.1, provenance: "
                            f"public-filing, source: {source}}}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", "source")


@pytest.mark.parametrize("source", ["[8-K, 10-Q]", "42", "'  '"])
def test_a_terms_source_is_text(tmp_path, source):
    text = TERMS.replace("  provenance: contract\n  source: SEC Exhibit 10.8",
                         f"  provenance: public-filing\n  source: {source}\n  x: SEC", 1)
    text = text.replace("\n  x: SEC Exhibit 10.8 of DynTek, Inc. (CIK 879465), document "
                        "a05-20181_1ex10d8", "", 1)
    path = write(tmp_path, text, "t.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "line 8", "term 'name'", "source")


@pytest.mark.parametrize("source", ["[Prospect News, 8-K]", "42", "'  '"])
def test_a_cap_table_source_is_text(tmp_path, source):
    text = CAPTABLE.replace("source: Prospect News PIPE Daily, 1 Nov 2005\n",
                            f"source: {source}\n", 1)
    path = write(tmp_path, text, "c.yaml")
    with pytest.raises(CapTableError) as err:
        load_captable(path)
    one_line_naming(err.value, path, "line 13", "warrants[0].source", "must be text")


def test_a_note_is_text(tmp_path):
    path = ledger(tmp_path, "{date: 2006-06-05, kind: split, ratio: 0.1, note: [a, b]}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", "note = ['a', 'b']", "text")


# ---- item 4: share counts have a ceiling

def test_the_ceilings():
    # the largest listed companies have a few hundred billion shares; DynTek had 6 x 10^7
    assert MAX_SHARES == 10**12
    # a year of days: the note's longest period is 90 days (I.A.12)
    assert MAX_DAYS == 366


@pytest.mark.parametrize("entry, field", [
    ("{date: 2006-03-08, kind: issuance, shares: %d, price: 0.02}", "shares"),
    ("{date: 2006-03-08, kind: holder_sale, shares: %d}", "shares"),
    ("{date: 2006-01-03, kind: payment, shares: %d}", "shares"),
    ("{date: 2006-03-08, kind: distribution, amount: 1000, shares_outstanding: %d}",
     "shares_outstanding"),
])
@pytest.mark.parametrize("count", [10**30, 10**12 + 1])
def test_a_ledger_share_count_past_the_ceiling_is_refused(tmp_path, entry, field, count):
    path = ledger(tmp_path, entry % count)
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, "line 3", f"{field} = {count:,}", "1,000,000,000,000")


def test_the_ceiling_itself_is_a_count(terms):
    entry = {"date": D(2006, 3, 8), "kind": "issuance", "shares": 10**12, "price": 0.3}
    assert parse_ledger({"entries": [entry]}, None, terms).entries[0]["shares"] == 10**12


def test_issuance_and_distribution_counts_have_the_ceiling():
    assert Issuance(D(2006, 3, 8), 0.02, 10**12).shares == 10**12
    with pytest.raises(AdjustmentError, match="Issuance.shares = 1,000,000,000,001: more than "
                                              "1,000,000,000,000 shares"):
        Issuance(D(2006, 3, 8), 0.02, 10**12 + 1)
    with pytest.raises(AdjustmentError, match="CashDistribution.shares_outstanding"):
        CashDistribution(D(2006, 3, 8), 1000, 10**30)


@pytest.mark.parametrize("old, new, field", [
    ("value: 60437621", "value: 10000000000000", "common_outstanding"),
    ("shares: 491400", "shares: 1000000000000000000000000000000", "warrants[0].shares"),
    ("conversion_price: 0.25", "conversion_price: 0.000001", "convertibles[0].conversion_price"),
])
def test_a_cap_table_count_past_the_ceiling_is_refused(tmp_path, old, new, field):
    # the convertible: $6,649,999 at $0.000001 converts into 6.6 x 10^12 shares
    path = write(tmp_path, CAPTABLE.replace(old, new, 1), "c.yaml")
    with pytest.raises(CapTableError) as err:
        load_captable(path)
    one_line_naming(err.value, path, field, "1,000,000,000,000")


# ---- item 5: a number of thousands of digits

def test_a_5000_digit_amount_in_a_ledger_names_the_file_and_key(tmp_path):
    path = ledger(tmp_path, f"{{date: 2006-01-03, kind: payment, cash: {BIG}}}")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    message = one_line_naming(err.value, path, "line 3", "entries[0].cash", "5,000 digits",
                              f"the {MAX_DIGITS}")
    assert "4300" not in message


def test_a_5000_digit_amount_in_terms_names_the_file_and_key(tmp_path):
    path = write(tmp_path, TERMS.replace("value: 3350000.00", f"value: {BIG}", 1), "t.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "line 16", "principal.value", "5,000 digits")


def test_a_400_digit_number_does_not_overflow_a_float(tmp_path):
    # 10^400 is past a float's 1.8 x 10^308: refused as written, not an OverflowError
    path = write(tmp_path, TERMS.replace("value: 3350000.00", "value: 1" + "0" * 400, 1), "t.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "principal.value", "401 digits")
    with pytest.raises(TermsError, match="term 'principal' = 1000.*: must be finite"):
        load_terms(principal=10**400)


# ---- the rest of the attack, file by file

@pytest.mark.parametrize("entries, fragments", [
    (["{date: 2006-01-03, kind: paymnet, cash: 51087.50}"], ["line 3", "did you mean 'payment'"]),
    (["{date: 2006-01-03, kind: payment, cash: .nan}"], ["line 3", "cash = nan", "finite"]),
    (["{date: 2006-01-03, kind: payment, cash: '51087.50'}"], ["cash = '51087.50'"]),
    (["{date: 2006-01-03, kind: payment, cash: 1e300}"], ["cash = 1e+300", "at most"]),
    (["{date: 2006-03-09, kind: judgment, amount: 100000000000000}"], ["amount = ", "at most"]),
    # only what is owed may be paid after the Maturity Date, and the calendars end in 2050
    (["{date: 2060-01-05, kind: payment, cash: 1}"], ["line 3", "after 2049-12-31"]),
    (["{date: 2006-03-09, kind: registration_lapse, end: 9999-12-31}"], ["end = 9999-12-31"]),
    (["{date: 2006-03-09, kind: delivery_failure, failure_date: 1900-01-01}"],
     ["failure_date = 1900-01-01", "Issue Date 2005-11-01"]),
    # the failure comes before the Holder's notice of it (I.A.2), the payment after the
    # record date (II.C.3(a))
    (["{date: 2006-03-09, kind: delivery_failure, failure_date: 2006-04-01}"],
     ["failure_date = 2006-04-01 is after the entry's own date"]),
    (["{date: 2006-03-08, kind: distribution, amount: 1000, shares_outstanding: 60000000, "
      "payment_date: 2006-03-01}"], ["payment_date = 2006-03-01 is before"]),
    (["{date: 2006-06-05, kind: split, ratio: 0.1}", "{date: 2006-03-08, kind: issuance, "
      "shares: 100, price: 0.02}"], ["line 4", "out of order"]),
    (["&a {date: 2006-06-05, kind: split, ratio: 0.1}", "*a"], ["line 4", "aliases"]),
    (["!!python/object/apply:os.system ['true']"], ["line 3", "tag"]),
    (["? [a, b]\n    : 1"], ["line 3", "a key is a plain name"]),
    (["{date: 2006-06-05, kind: split, ratio: 0.1, ratio: 10}"], ["duplicate key 'ratio'"]),
])
def test_bad_ledgers(tmp_path, entries, fragments):
    path = ledger(tmp_path, *entries)
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, *fragments)


@pytest.mark.parametrize("text, fragments", [
    ("", ["a ledger is a mapping with 'entries'"]),
    ("entires: []\n", ["unknown key 'entires'", "did you mean 'entries'"]),
    ("note: [a]\nentries: []\n", ["note = ['a']", "text"]),
    (bytes(range(256)), ["not UTF-8"]),
    ("entries:\n\t- {date: 2006-06-05, kind: split, ratio: 0.1}\n", ["not valid YAML", "line 2"]),
    ("entries: []\nx: \x01\n", ["not valid YAML", "line 2", "U+0001"]),
])
def test_bad_ledger_files(tmp_path, text, fragments):
    path = write(tmp_path, text, "ledger.yaml")
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, *fragments)


def test_notices_have_a_ceiling(terms):
    # each notice is checked against the books replayed to its day: thousands took minutes
    day = D(2006, 1, 2)
    entries = [{"date": day + dt.timedelta(days=i), "kind": "notice", "event": 9}
               for i in range(MAX_NOTICES)]
    assert len(parse_ledger({"entries": entries}, None, terms)) == MAX_NOTICES
    entries.append({"date": day + dt.timedelta(days=MAX_NOTICES), "kind": "notice", "event": 9})
    with pytest.raises(LedgerError, match=f"line {MAX_NOTICES + 1} .*more than {MAX_NOTICES} "
                                          "notices"):
        parse_ledger({"entries": entries}, None, terms)


def test_the_ledgers_last_day_is_the_states():
    assert LAST_DAY == state.LAST_DAY


@pytest.mark.parametrize("text, fragments", [
    ("date,close\n2005-10-03,0.22,7\n", ["line 2", "3 fields, the header has 2"]),
    ("date,close\n2005-10-03,0,22\n", ["line 2", "3 fields", "a point"]),
    ("date,close,close\n2005-10-03,0.22,0.5\n", ["line 1", "['close'] appear twice"]),
    ("Date,Close\n2005-10-03,0.22\n", ["line 1", "missing columns"]),
    ("date,close\n2005-10-03,0.22\n2005-10-03,0.23\n", ["line 3", "duplicate of line 2"]),
    ("date,close\n2005-10-04,0.22\n2005-10-03,0.23\n", ["line 3", "sort the rows"]),
    ("date,close\n2005-10-03,inf\n", ["line 2", "close = 'inf'"]),
    ("date,close\n2005-10-03,1e400\n", ["line 2", "must be from 0.0001 to 100000"]),
    (f"date,close\n2005-10-03,{BIG}\n", ["line 2", "5,000 characters"]),
    ("date,close\n1800-01-02,0.22\n", ["line 2", "XNAS sessions are known from 1990"]),
    ("date,close\n2005-10-03,0.22\n\n2005-10-04,abc\n", ["line 4", "close = 'abc'"]),
    ("date,close\n2005-10-03,0.22\n\x00\n", ["NUL"]),
    ("  \n", ["the file is empty"]),
])
def test_bad_closes(tmp_path, text, fragments):
    path = write(tmp_path, text, "closes.csv")
    with pytest.raises(PathError) as err:
        load_closes(path)
    one_line_naming(err.value, path, *fragments)


@pytest.mark.parametrize("variant", [
    lambda t: "\ufeff" + t,  # a byte-order mark, as Excel writes UTF-8
    lambda t: t.replace("\n", "\r\n"),  # Windows line endings
    lambda t: t.replace(",", " , "),  # spaces around the values
    lambda t: t.replace("2005-10-04,0.2215", '"2005-10-04","0.2215"'),  # quoted values
    lambda t: t.replace("2005-10-04", "\n2005-10-04"),  # a blank line
])
def test_harmless_closes_variants_read_the_same(tmp_path, variant):
    got = load_closes(write(tmp_path, variant(CLOSES), "closes.csv"))
    want = load_closes(write(tmp_path, CLOSES, "clean.csv"))
    assert got.to_frame().equals(want.to_frame())


@pytest.mark.parametrize("variant", [lambda t: "\ufeff" + t, lambda t: t.replace("\n", "\r\n")])
def test_harmless_yaml_variants_read_the_same(tmp_path, variant):
    assert load_terms(write(tmp_path, variant(TERMS), "t.yaml")) == load_terms()
    assert load_captable(write(tmp_path, variant(CAPTABLE), "c.yaml")) == load_captable()
    text = (ROOT / "data" / "ledger" / "dyntek-2005.yaml").read_text()
    got = load_ledger(write(tmp_path, variant(text), "l.yaml"))
    assert [(e.date, e.kind, e.fields) for e in got.entries] == \
        [(e.date, e.kind, e.fields) for e in load_ledger().entries]


def term(name: str, value: str) -> str:
    """The default terms with ``name``'s value written ``value``."""
    start = TERMS.index(f"\n{name}:\n  value: ") + len(f"\n{name}:\n  value: ")
    return TERMS[:start] + value + TERMS[TERMS.index("\n", start):]


@pytest.mark.parametrize("name, value, fragments", [
    # periods: the note's longest is 90 days (I.A.12)
    ("share_payment_lookback", "1000000000", ["at most 366 days"]),
    ("judgment_days", "1000000000000000", ["at most 366 days"]),
    ("principal", "1e300", ["term 'principal'", "at most $10,000,000,000,000"]),
    ("maturity_date", "2300-10-01", ["term 'maturity_date' = 2300-10-01", "2048-12-31"]),
    ("issue_date", "1800-01-01", ["term 'issue_date' = 1800-01-01", "1992-01-01"]),
    ("conversion_price", "1e300", ["term 'conversion_price'", "share price"]),
    ("interest_months", "[1, 1]", ["term 'interest_months'", "distinct"]),
    ("maturity_in_shares", "yes", ["term 'maturity_in_shares' = 'yes'", "true or false"]),
])
def test_bad_terms(tmp_path, name, value, fragments):
    path = write(tmp_path, term(name, value), "t.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    line = TERMS[:TERMS.index(f"\n{name}:\n")].count("\n") + 2
    one_line_naming(err.value, path, f"line {line}", *fragments)


@pytest.mark.parametrize("old, new, fragments", [
    ("  - name: Amendment warrants to the 9% noteholders\n    shares", "  - shares",
     ["line 13", "warrants[0].name = None", "text"]),
    ("warrants:\n", "warrants: none\nx:\n", ["unknown keys ['x']"]),
    ("common_outstanding:\n  value: 60437621\n", "common_outstanding:\n  value: 0\n",
     ["common_outstanding = 0", ">= 1"]),
    ("strike: 0.22", "strike: .nan", ["warrants[0].strike = nan"]),
    ("as_of: 2005-11-01", "as_of: 1800-11-01", ["as_of = 1800-11-01"]),
])
def test_bad_cap_tables(tmp_path, old, new, fragments):
    path = write(tmp_path, CAPTABLE.replace(old, new, 1), "c.yaml")
    with pytest.raises(CapTableError) as err:
        load_captable(path)
    one_line_naming(err.value, path, *fragments)


def test_a_cap_table_that_is_not_a_mapping_of_lists(tmp_path):
    head = "as_of: 2005-11-01\ncommon_outstanding: {value: 1, provenance: assumption, source: x}\n"
    for tail, fragment in (("warrants:\n  - 5\n", "warrants[0] = 5: must be a mapping"),
                           ("warrants: {a: 1}\n", "warrants = {'a': 1}: must be a list")):
        path = write(tmp_path, head + tail, "c.yaml")
        with pytest.raises(CapTableError) as err:
            load_captable(path)
        one_line_naming(err.value, path, fragment)


# ---- the command line: one line on stderr, exit 2

@pytest.mark.parametrize("flag, name, text", [
    ("--ledger", "l.yaml", HEAD + "  - {date: 2006-03-01, kind: event, clause: 1}\n"),
    ("--ledger", "l.yaml", HEAD + f"  - {{date: 2006-01-03, kind: payment, cash: {BIG}}}\n"),
    ("--prices", "p.csv", "date,close\n20051003,0.22\n"),
    ("--terms", "t.yaml", TERMS.replace("value: 3350000.00", "value: -1", 1)),
])
def test_status_prints_one_line_naming_the_file(tmp_path, capsys, flag, name, text):
    path = write(tmp_path, text, name)
    assert cli.main(["status", flag, str(path), "--as-of", "2006-06-15"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and err.startswith("notelib status: ")


def test_the_default_files_still_give_the_status(capsys):
    assert PRICES.is_file()
    assert cli.main(["status", "--as-of", "2006-06-15"]) == 0
    assert "Performing" in capsys.readouterr().out


def test_yaml_values_are_named_by_their_keys(tmp_path):
    path = write(tmp_path, "a: 1\nb: [1, {c: 2006-02-30}]\n", "x.yaml")
    with pytest.raises(YamlError, match=r"line 2: '2006-02-30' is not a date .*\(at b\[1\]\.c\)"):
        load_yaml(path)


# ---- the closing attack's last cases

@pytest.mark.parametrize("entries, fragments", [
    # II.C.1: the price divides by the new shares per old share: $0.22 / 10,000 = $0.000022,
    # below the hundredth of a cent of params.BOUNDS
    (["{date: 2006-06-05, kind: split, ratio: 10000}"],
     ["line 3", "ratio = 10000", "$2.2e-05", "$0.0001 to $100,000"]),
    # $0.22 / 0.0001 = $2,200 (allowed), / 0.0001 again = $22,000,000 (refused on line 4)
    (["{date: 2006-06-05, kind: split, ratio: 0.0001}",
      "{date: 2006-06-06, kind: split, ratio: 0.0001}"], ["line 4", "$2.2e+07"]),
])
def test_splits_that_take_the_conversion_price_out_of_bounds_are_refused(tmp_path, entries,
                                                                          fragments):
    path = ledger(tmp_path, *entries)
    with pytest.raises(LedgerError) as err:
        load_ledger(path)
    one_line_naming(err.value, path, *fragments)


def test_splits_that_come_back_within_bounds_load(terms):
    # 1-for-10,000 then 10,000-for-1: $0.22 -> $2,200 -> $0.22, each within the bounds
    entries = [{"date": D(2006, 6, 5), "kind": "split", "ratio": 0.0001},
               {"date": D(2006, 6, 6), "kind": "split", "ratio": 10000}]
    assert len(parse_ledger({"entries": entries}, None, terms)) == 2


def test_a_redemption_payment_needs_a_notice_before_it(tmp_path, terms):
    # I.A: the Mandatory Redemption Amount is owed after the Holder's notice (or an automatic
    # event): a payment of it with none is a mistake in the ledger, not cash to ignore
    path = ledger(tmp_path, "{date: 2006-05-01, kind: redemption_payment, cash: 1000}")
    with pytest.raises(LedgerError) as err:
        note_state(terms, D(2006, 9, 25), ledger=load_ledger(path, terms))
    message = str(err.value)
    assert "line 3 (redemption_payment on 2006-05-01)" in message
    assert "no Mandatory Redemption Notice in effect before it" in message


@pytest.mark.parametrize("name", ["''", "'   '", "'" + "x" * 121 + "'"])
def test_a_terms_name_is_text_of_1_to_120_characters(tmp_path, name):
    path = write(tmp_path, re.sub(r"(name:\n  value: )[^\n]*", lambda m: m.group(1) + name, TERMS,
                                  count=1), "terms.yaml")
    with pytest.raises(TermsError) as err:
        load_terms(path)
    one_line_naming(err.value, path, "term 'name'", "1 to 120 characters")
