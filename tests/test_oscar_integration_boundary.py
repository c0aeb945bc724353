"""The Oscar integration stays optional, and docs/oscar.md shows its tested code.

Its own tests run against a real django-oscar in another virtualenv (tests_oscar/,
.ci/oscar.sh); these need neither Oscar nor that virtualenv.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import postpurchase

PACKAGE = Path(postpurchase.__file__).parent
ROOT = PACKAGE.parent
OSCAR_PACKAGE = PACKAGE / "contrib" / "oscar"
#: A code block of docs/oscar.md copied from a tested file says which, just above it.
TESTED_BLOCK = re.compile(r"<!-- tested: (?P<path>\S+) -->\n```(?:\w+)\n(?P<code>.*?)```", re.S)


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module or ""


def test_only_the_oscar_integration_imports_oscar():
    importers = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if OSCAR_PACKAGE not in path.parents
        and any(name == "oscar" or name.startswith("oscar.") for name in _imports(path))
    ]
    assert importers == []


def test_docs_oscar_md_shows_the_tested_code():
    doc = (ROOT / "docs" / "oscar.md").read_text()
    blocks = list(TESTED_BLOCK.finditer(doc))
    assert len(blocks) >= 4, "the settings, the status map and the checkout fork at least"
    for block in blocks:
        source = (ROOT / block["path"]).read_text()
        assert block["code"] in source, f"docs/oscar.md's block from {block['path']} changed"
