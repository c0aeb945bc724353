"""The app's catalogues are complete: every string of postpurchase/ that goes through
gettext has a ru and a uk translation, none fuzzy, with the placeholders and HTML tags of
the original. docs/contributing.md says how to update them."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

APP = Path(__file__).resolve().parent.parent / "postpurchase"
LANGUAGES = ["ru", "uk"]
# The invocation documented in docs/contributing.md, run from postpurchase/.
EXTENSIONS = ["html", "txt", "py", "mjml"]

PYTHON_FORMAT = re.compile(r"%(?:\([^)]+\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
# {{ coupon.code }}, {% include ... %}, str.format fields such as {name}.
BRACES = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[A-Za-z_][\w.]*\}")
HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def catalogue(language: str, root: Path = APP) -> polib.POFile:
    return polib.pofile(str(root / "locale" / language / "LC_MESSAGES" / "django.po"))


def lacking(po: polib.POFile) -> list[str]:
    """The msgids of ``po`` without a full translation, or marked fuzzy."""
    bad = []
    for entry in po:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            forms = [entry.msgstr_plural.get(i, "") for i in range(3)]
            complete = all(forms)
        else:
            complete = bool(entry.msgstr)
        if not complete or "fuzzy" in entry.flags:
            bad.append(entry.msgid)
    return bad


def markers(text: str, python_format: bool) -> Counter[str]:
    found = BRACES.findall(text) + HTML_TAG.findall(text)
    if python_format:
        found += PYTHON_FORMAT.findall(text)
    return Counter(found)


def placeholder_mismatches(po: polib.POFile) -> list[str]:
    """Entries whose translation drops, adds or changes a placeholder or HTML tag."""
    bad = []
    for entry in po.translated_entries():
        python_format = "python-format" in entry.flags
        if entry.msgid_plural:
            # Every form (ru and uk have three) carries the plural msgid's placeholders.
            pairs = [(entry.msgid_plural, form) for form in entry.msgstr_plural.values()]
        else:
            pairs = [(entry.msgid, entry.msgstr)]
        for source, translation in pairs:
            if markers(source, python_format) != markers(translation, python_format):
                bad.append(f"{entry.msgid!r} -> {translation!r}")
    return bad


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_catalogue_is_translated(language):
    missing = lacking(catalogue(language))
    assert not missing, f"{len(missing)} untranslated or fuzzy in {language}: {missing[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_and_tags(language):
    bad = placeholder_mismatches(catalogue(language))
    assert not bad, f"{language}: " + "\n".join(bad)


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_entries_have_the_three_forms(language):
    po = catalogue(language)
    assert "nplurals=3;" in po.metadata["Plural-Forms"]
    for entry in po:
        if entry.msgid_plural and not entry.obsolete:
            assert sorted(entry.msgstr_plural) == [0, 1, 2], entry.msgid


def test_the_checks_catch_a_dropped_placeholder_and_a_missing_form():
    """The helpers above can fail: a lost %(n)d, a lost tag, an empty plural form."""
    po = polib.POFile()
    po.append(polib.POEntry(msgid="%(n)d sent", msgstr="отправлено", flags=["python-format"]))
    po.append(polib.POEntry(msgid="at <b>%(e)s</b>", msgstr="на %(e)s", flags=["python-format"]))
    po.append(
        polib.POEntry(
            msgid="%(n)s done",
            msgid_plural="%(n)s done",
            msgstr_plural={0: "%(n)s готов", 1: "%(n)s готовы", 2: ""},
            flags=["python-format"],
        )
    )
    assert len(placeholder_mismatches(po)) == 2
    assert lacking(po) == ["%(n)s done"]


def test_the_catalogue_holds_every_gettext_string_of_the_app(tmp_path, monkeypatch):
    """makemessages over a copy of the app adds nothing untranslated: no string in the
    code or the templates is missing from the committed catalogues. Needs GNU gettext
    (xgettext, msgmerge), as makemessages does."""
    copy = tmp_path / "postpurchase"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=LANGUAGES, extensions=EXTENSIONS, verbosity=0)
    for language in LANGUAGES:
        missing = lacking(catalogue(language, copy))
        assert not missing, (
            f"{len(missing)} strings of the app lack a {language} translation (run "
            f"makemessages as docs/contributing.md says and translate them): {missing[:20]}"
        )
