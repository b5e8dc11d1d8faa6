"""What a simulation returns: per payment, per path and a summary (:class:`SimulationResult`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..captable import CapTable
from ..contract.terms import NoteTerms
from ..io.display import table
from .plan import EngineError

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class Summary:
    """``by_date`` and ``by_path`` tables of a run, shown formatted; ``summary["by_date"]``
    works as well as ``summary.by_date``."""

    by_date: pd.DataFrame
    by_path: pd.DataFrame

    def __getitem__(self, key: str) -> pd.DataFrame:
        if key not in ("by_date", "by_path"):
            raise KeyError(f"{key!r}: the summary holds 'by_date' and 'by_path'")
        return getattr(self, key)

    def keys(self) -> tuple[str, str]:
        return ("by_date", "by_path")

    def __repr__(self) -> str:
        p = self.by_path
        return (f"Summary({len(self.by_date)} payment dates; median cash paid "
                f"${p.loc['p50', 'cash_paid']:,.2f}, median shares issued "
                f"{p.loc['p50', 'shares_issued']:,.0f}, 95th-percentile ownership "
                f"{p.loc['p95', 'noteholder_ownership']:.1%})")

    def _repr_html_(self) -> str:
        cols = ["date", "pay_date", "p_shares", "cash_paid_mean", "shares_issued_p50",
                "exposure_p95", "ownership_p50", "ownership_p95"]
        per_date = table(self.by_date[cols].set_index("date"))._repr_html_()
        return (f"<p><b>Per path (percentiles)</b></p>{table(self.by_path)._repr_html_()}"
                f"<p><b>By date</b></p>{per_date}")


@dataclass
class SimulationResult:
    """The engine's output: per payment, per path and a summary (see :func:`simulate`)."""

    def __repr__(self) -> str:
        return (f"SimulationResult({self.n_paths:,} paths x {len(self.schedule)} payment dates"
                f"{'' if self.kept_payments else '; by_payment not kept'}; "
                f".summary, .by_path, .by_payment)")

    def _repr_html_(self) -> str:
        return (f"<p><b>{self.n_paths:,} paths x {len(self.schedule)} payment dates</b></p>"
                + self.summary._repr_html_())

    terms: NoteTerms
    schedule: pd.DataFrame
    captable: CapTable
    n_paths: int
    arrays: dict[str, np.ndarray]
    kept_payments: bool
    prices_at_pay: np.ndarray  # the Conversion Price in effect on each pay date
    split_factor: np.ndarray  # product of split ratios up to each payment date

    @property
    def other_dilutive(self) -> int:
        """Warrants and other convertibles after every split of the run."""
        return self.captable.split(float(self.split_factor[-1])).other_dilutive

    @property
    def by_path(self) -> pd.DataFrame:
        """One row per path: cash paid, shares issued (by source), their value, ownership and
        the Holder's peak holding after a payment."""
        a = self.arrays
        shares = a["payment_shares"] + a["conversion_shares"] + a["redemption_shares"]
        return table(pd.DataFrame({
            "cash_paid": a["cash_paid"] / 100,
            "shares_issued": shares,
            "payment_shares": a["payment_shares"],
            "conversion_shares": a["conversion_shares"],
            "redemption_shares": a["redemption_shares"],
            "shares_value": a["share_value"],
            "payment_shares_value": a["payment_value"],
            "principal_cash": a["principal_cash"] / 100,
            "principal_shares": a["principal_shares"] / 100,
            "principal_converted": a["principal_converted"] / 100,
            "principal_redeemed": a["principal_redeemed"] / 100,
            "shares_outstanding": a["outstanding"],
            "noteholder_ownership": a["issued"] / a["outstanding"],
            "fully_diluted_ownership": a["issued"] / (a["outstanding"] + self.other_dilutive),
            # the Holder's own holding at its highest after a payment: Payment Shares are not
            # capped (reading 21), so it may pass the 9.9% its conversions may not
            "peak_holding": (a["per_held"] / a["per_outstanding"]).max(axis=0)
            if len(self.schedule) else np.zeros(self.n_paths),
        }).rename_axis("path"))

    @property
    def by_payment(self) -> pd.DataFrame:
        """One row per path and payment date (kept for runs up to ``keep_payments`` paths)."""
        if not self.kept_payments:
            raise EngineError(f"by_payment was not kept for {self.n_paths:,} paths; pass "
                              "keep_payments=True or use by_path and summary")
        a = self.arrays
        n_pay = len(self.schedule)
        cols = {"path": np.tile(np.arange(self.n_paths), n_pay),
                "date": np.repeat(self.schedule["date"].to_numpy(), self.n_paths),
                "pay_date": np.repeat(self.schedule["pay_date"].to_numpy(), self.n_paths)}
        cols["conversion_price"] = np.repeat(self.prices_at_pay, self.n_paths)
        cols["split_factor"] = np.repeat(self.split_factor, self.n_paths)
        for key, scale in (("interest", 100), ("principal", 100), ("allowed", None),
                           ("in_shares", None), ("cash_paid", 100), ("shares_issued", None),
                           ("shares_value", None), ("exposure", 100), ("balance", 100),
                           ("outstanding", None), ("issued", None)):
            v = a[f"per_{key}"].reshape(-1)
            cols[key] = v / scale if scale else v
        df = pd.DataFrame(cols)
        df["noteholder_ownership"] = df["issued"] / df["outstanding"]
        df = df.sort_values(["path", "date"], kind="stable").reset_index(drop=True)
        return table(df, {"split_factor": "factor"}, dates=("date", "pay_date"))

    @property
    def summary(self) -> Summary:
        """``by_date``: probability of paying in shares (``p_shares``) and that the Holder has
        converted (``p_converted``) by each date; percentiles of cash, shares, exposure,
        shares outstanding, ``ownership`` (shares issued to noteholders, cumulative, over
        outstanding) and ``holding`` (what the Holder holds after its sales, over
        outstanding); ownership among paths that converted
        (``ownership_converted_p*``) and Payment Shares among paths paying in shares
        (``shares_if_paid_p*``). ``by_path``: percentiles of the per-path totals."""
        a = self.arrays
        q = list(PERCENTILES)
        sched = self.schedule
        by_date = pd.DataFrame({"date": sched["date"], "pay_date": sched["pay_date"],
                                "p_shares": a["per_in_shares"].mean(axis=1),
                                "cash_paid_mean": a["per_cash_paid"].mean(axis=1) / 100,
                                "shares_value_mean": a["per_shares_value"].mean(axis=1)})
        ownership = a["per_issued"] / a["per_outstanding"]  # cumulative issued to noteholders
        holding = a["per_held"] / a["per_outstanding"]  # what the Holder holds, after sales
        converted = a["per_converted"] > 0
        in_shares = a["per_in_shares"]
        by_date["shares_issued_mean"] = a["per_shares_issued"].mean(axis=1)
        by_date["p_converted"] = converted.mean(axis=1)
        for key, values in (("cash_paid", a["per_cash_paid"] / 100),
                            ("shares_issued", a["per_shares_issued"]),
                            ("exposure", a["per_exposure"] / 100),
                            ("outstanding", a["per_outstanding"]), ("ownership", ownership),
                            ("holding", holding)):
            pct = np.percentile(values, q, axis=1)
            for p, row in zip(q, pct):
                by_date[f"{key}_p{p}"] = row
        # the outcome is bimodal (converted or not): percentiles among the paths that did,
        # and the Payment Shares of the paths paying in shares (NaN where there are none)
        for key, values, where in (("ownership_converted", ownership, converted),
                                   ("shares_if_paid", a["per_shares_issued"], in_shares)):
            masked = np.where(where, values.astype(np.float64), np.nan)
            empty = ~where.any(axis=1)
            masked[empty] = 0.0  # nanpercentile warns on an all-NaN row
            pct = np.nanpercentile(masked, q, axis=1)
            pct[:, empty] = np.nan
            for p, row in zip(q, pct):
                by_date[f"{key}_p{p}"] = row
        totals = self.by_path[["cash_paid", "shares_issued", "shares_value",
                               "noteholder_ownership", "fully_diluted_ownership"]]
        by_path = totals.quantile([p / 100 for p in q]).rename_axis("percentile")
        by_path.index = [f"p{p}" for p in q]
        by_path.loc["mean"] = totals.mean()
        return Summary(table(by_date, dates=("date", "pay_date")), table(by_path))


