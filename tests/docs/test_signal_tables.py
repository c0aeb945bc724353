"""docs/integrating.md's signal tables against postpurchase/signals.py and the code that
sends them: every signal documented once, with the arguments it really carries."""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

from django.dispatch import Signal

from postpurchase import events, signals

from .tables import DOCS, code_names, section, tables

PACKAGE = Path(signals.__file__).parent
IDENTIFIER = re.compile(r"^[a-z_]+$")
DEFINED = {name for name, value in vars(signals).items() if isinstance(value, Signal)}


def documented(heading: str, name_column: str, args_column: str) -> dict[str, list[str]]:
    """{signal name: [argument names]} from the first table of the section."""
    rows = tables(section("integrating.md", heading))[0]
    found: dict[str, list[str]] = {}
    for row in rows:
        (name,) = code_names(row[name_column])
        assert name not in found, f"{name} is documented twice"
        found[name] = [a for a in code_names(row[args_column]) if IDENTIFIER.match(a)]
    return found


INBOUND = documented("Inbound signals", "Signal", "Keyword arguments")
OUTBOUND = documented("Outbound signals", "Signal", "Arguments")


@cache
def send_sites() -> dict[str, dict[str, set[str]]]:
    """For each outbound signal the app sends: the keyword arguments and the senders
    at the places that send it, read from the source (``signals.emit(signals.x,
    Sender, a=...)``, or ``signals.x, {"a": ...}`` handed to emit() later)."""
    sites: dict[str, dict[str, set[str]]] = {}

    def site(name: str) -> dict[str, set[str]]:
        return sites.setdefault(name, {"kwargs": set(), "senders": set(), "direct": set()})

    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                if func.attr == "emit" and node.args and _signal_name(node.args[0]):
                    entry = site(_signal_name(node.args[0]))
                    entry["kwargs"] |= {k.arg for k in node.keywords if k.arg}
                    entry["senders"].add(ast.unparse(node.args[1]))
                elif func.attr in ("send", "send_robust") and _signal_name(func.value):
                    site(_signal_name(func.value))["direct"].add(str(path.relative_to(PACKAGE)))
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                name, kwargs = node.elts
                if _signal_name(name) and isinstance(kwargs, ast.Dict):
                    site(_signal_name(name))["kwargs"] |= {k.value for k in kwargs.keys}
    return sites


def _signal_name(node: ast.AST) -> str:
    """ "x" for ``signals.x`` when x is one of our signals, else ""."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "signals"
        and node.attr in DEFINED
    ):
        return node.attr
    return ""


def test_every_signal_is_documented_once_and_every_documented_one_exists():
    assert not set(INBOUND) & set(OUTBOUND)
    assert set(INBOUND) | set(OUTBOUND) == DEFINED


def test_the_inbound_table_lists_the_signals_the_app_receives():
    assert set(INBOUND) == set(signals.ORDER_SIGNALS) | {"review_submitted"}


def test_inbound_arguments_are_the_ones_the_receivers_read():
    receivers = {name: events._order_receiver(name) for name in signals.ORDER_SIGNALS}
    receivers["review_submitted"] = events.on_review_submitted
    for name, receiver in receivers.items():
        read = set(inspect.signature(receiver).parameters) - {"sender", "kwargs"}
        assert set(INBOUND[name]) == read, name


def test_inbound_signals_record_the_event_of_their_name():
    rows = tables(section("integrating.md", "Inbound signals"))[0]
    for row in rows:
        assert code_names(row["Signal"]) == code_names(row["Event recorded"])


def test_outbound_arguments_are_the_ones_the_app_sends():
    sites = send_sites()
    for name, args in OUTBOUND.items():
        assert name in sites, f"{name} is documented but never sent"
        assert set(args) == sites[name]["kwargs"], name


def test_documented_senders_are_the_ones_the_app_sends_with():
    rows = tables(section("integrating.md", "Outbound signals"))[0]
    sites = send_sites()
    for row in rows:
        (name,) = code_names(row["Signal"])
        named = {s for s in sites[name]["senders"] if IDENTIFIER.match(s.lower())}
        if named:  # type(step) is documented in words
            assert set(code_names(row["`sender`"])) == named, name


def test_outbound_signals_all_wait_for_the_commit():
    """The docs promise every outbound signal goes out after commit: through emit()."""
    direct = {n: s["direct"] for n, s in send_sites().items() if s["direct"]}
    assert direct == {}


def test_no_docs_page_names_a_signal_that_does_not_exist():
    for page in DOCS.rglob("*.md"):
        for name in re.findall(r"\bsignals\.([a-z_]+)\b", page.read_text(encoding="utf-8")):
            assert name in DEFINED | {"py", "emit"}, f"{page.name}: signals.{name}"
