"""DynTek's convertible paper beside the 9% notes, as one :class:`Stack` read from
data/instruments (issue 39): the Laurus term note, the bridge notes and the warrants of the
cap table (with the Laurus warrant), each warrant named to its holder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..captable import CapTable
from .bridge import BridgeNotes, load_bridge_notes
from .instruments import (INSTRUMENTS, Field, InstrumentError, Reader, price, PRICE,
                          read_instrument)
from .termnote import TermNote, load_term_note


PUBLIC = "Public and others"  # every share no instrument's holder holds


@dataclass(frozen=True)
class StackWarrant:
    """A warrant in the stack: its shares, strike (None: not known, never exercised for
    cash), expiry (None: not known, taken as beyond the horizon) and holder."""

    name: str
    holder: str
    shares: int
    strike: Fraction | None
    expires: dt.date | None


@dataclass(frozen=True)
class Stack:
    """The instruments beside the 9% notes, and the assumptions on their holders."""

    note_holder: str  # who holds the 9% notes
    term_note: TermNote | None
    bridge: BridgeNotes | None
    warrants: tuple[StackWarrant, ...]
    exercise_multiple: Fraction  # a warrant is exercised when the close reaches this x strike
    fields: dict[str, Field]  # the warrants file's (provenance)

    @property
    def holders(self) -> list[str]:
        """Every holder the stack names, the 9% noteholders first, then "Public and others"."""
        out = [self.note_holder]
        for name in ([self.term_note.holder] if self.term_note else []) + (
                [self.bridge.holder] if self.bridge else []) + [w.holder for w in self.warrants]:
            if name not in out:
                out.append(name)
        return [*out, PUBLIC]

    @classmethod
    def nine_percent_only(cls, holder: str = "9% noteholders") -> Stack:
        """The 9% notes alone (the stack's figures are then the engine's own)."""
        return cls(holder, None, None, (), Fraction(3, 2), {})


def load_stack(captable: CapTable, folder: str | Path = INSTRUMENTS) -> Stack:
    """Every instrument file in ``folder`` (one per kind), with the warrants of
    ``captable``."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml")) \
        if folder.is_dir() else []
    if not files:
        raise InstrumentError(f"{folder}: no instrument files (*.yaml) found")
    kinds: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in files:
        kind, raw = read_instrument(path)
        if kind in kinds:
            raise InstrumentError(f"{path}: a second {kind} file (the first is "
                                  f"{kinds[kind][0].name}); one file per kind")
        kinds[kind] = (path, raw)
    note_holder = "9% noteholders"
    if "nine-percent-note" in kinds:
        path, raw = kinds["nine-percent-note"]
        r = Reader(path, raw, ("terms",))
        r.field("terms", lambda v: v if v == "case" else 1 / 0,
                "'case' (the case's own terms file)")
        note_holder = r.holder
    term = load_term_note(kinds["term-note"][0]) if "term-note" in kinds else None
    bridge = load_bridge_notes(kinds["bridge-notes"][0]) if "bridge-notes" in kinds else None
    warrants: list[StackWarrant] = []
    multiple, fields = Fraction(3, 2), {}
    if "warrants" in kinds:
        path, raw = kinds["warrants"]
        r = Reader(path, raw, ("from_captable", "exercise_multiple", "holders"))
        r.field("from_captable", lambda v: v if v is True else 1 / 0, "true")
        multiple = r.field("exercise_multiple", price, PRICE)
        names = {w.name for w in captable.warrants}

        def holders(v: object) -> dict[str, str]:
            if not isinstance(v, dict) or not all(
                    k in names and isinstance(h, str) and h.strip() for k, h in v.items()):
                raise ValueError(v)
            return v

        named = r.field("holders", holders, "a mapping of the cap table's warrant names "
                        f"({'; '.join(sorted(names))}) to their holders")
        fields = r.fields
        warrants = [StackWarrant(w.name, named.get(w.name, r.holder), w.shares,
                                 None if w.strike is None else Fraction(str(w.strike)),
                                 w.expires) for w in captable.warrants]
    if term is not None:
        warrants.append(StackWarrant(f"{term.name} warrant", term.holder, term.warrant_shares,
                                     term.warrant_strike, term.warrant_expires))
    stack = Stack(note_holder, term, bridge, tuple(warrants), multiple, fields)
    _check_names(stack, folder)
    return stack


def _check_names(stack: Stack, folder: Path) -> None:
    """Holders and labels name one thing each: no holder is called "Public and others"
    (the rest of the shares), and no two instruments share a label in the charts."""
    if PUBLIC in stack.holders[:-1]:
        raise InstrumentError(f"{folder}: a holder is named {PUBLIC!r}, the name of the "
                              "shares no instrument holds; name it otherwise")
    labels = ["9% notes", "Warrants"] + [n.short for n in (stack.term_note, stack.bridge) if n]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise InstrumentError(f"{folder}: two instruments are labelled {twice[0]!r} (short "
                              "names must differ from each other, '9% notes' and 'Warrants')")
