"""No citation a user cannot resolve: the tree cites papers (title + arXiv id), projects and ComfyUI files only.

Internal planning documents (numbered "seed" notes, issue numbers, the research notes kept outside the
repository) are not public, so no shipped file, test, workflow or page may point at them.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"seed \d{3}|seed's|\bissue \d+|\(issue\b|anchors\.md|comfyui-internals|architecture-review|"
                     r"aesthetics\.md|shared/research|shared/tools", re.IGNORECASE)
SUFFIXES = {".py", ".js", ".md", ".json", ".toml", ".txt", ".sh"}
#: this file names the patterns it looks for; the workflow test lists them for the same reason
ALLOWED = {Path("tests/unit/test_no_internal_citations.py"), Path("tests/inproc/test_workflows.py")}


def test_no_internal_citation_anywhere_in_the_tree():
    hits = []
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if not path.is_file() or path.suffix not in SUFFIXES or rel in ALLOWED:
            continue
        if rel.parts[0].startswith(".") or "__pycache__" in rel.parts:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if PATTERN.search(line):
                hits.append(f"{rel}:{n}: {line.strip()[:120]}")
    assert not hits, "internal citations:\n" + "\n".join(hits)
