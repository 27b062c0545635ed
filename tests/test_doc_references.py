"""Every document the repository points to is in the repository.

A contributor who clones the repo must be able to follow each reference: a Markdown file named
in code, docs or scripts exists (next to the file that names it, or from the repository root),
and the team-internal notes that the docs/ pages replaced are named nowhere.
"""

from __future__ import annotations

import re

import pytest
from support.checkout import checkout_files

from dev.pack import REPO_ROOT

# A path ending in .md that is not part of a URL or of a longer path (e.g. `docs/svd.md`,
# `README.md`, `../docs/remote.md`).
MARKDOWN_PATH = re.compile(r"(?<![\w/.:-])((?:\.\.?/)*(?:[\w-]+/)*[\w.-]+\.md)\b")
# The notes docs/protocols.md and docs/svd_notes.md replaced (spelled in pieces, so this file
# does not name them itself).
REPLACED_NOTES = ("PROTOCOLS" + ".md", "SVD_NOTES" + ".md", "COMFYUI" + ".md")


def tracked_text_files() -> dict[str, str]:
    """Path → text of every file a clone would have that is UTF-8 text (binaries are skipped)."""
    texts = {}
    for name in checkout_files():
        path = REPO_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return texts


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    found = tracked_text_files()
    assert "README.md" in found and "docs/protocols.md" in found
    return found


def test_every_markdown_file_named_in_a_tracked_file_exists(texts):
    missing = []
    for name, text in texts.items():
        here = (REPO_ROOT / name).parent
        for match in MARKDOWN_PATH.finditer(text):
            reference = match.group(1)
            if not any((base / reference).is_file() for base in (here, REPO_ROOT)):
                line = text.count("\n", 0, match.start()) + 1
                missing.append(f"{name}:{line}: {reference}")
    assert not missing, "documents named but not in the repository:\n" + "\n".join(missing)


def test_the_replaced_team_notes_are_named_nowhere(texts):
    hits = [
        f"{name}: {note}"
        for name, text in texts.items()
        for note in REPLACED_NOTES
        if re.search(r"(?<![\w/.-])" + re.escape(note), text)
    ]
    assert not hits, "references to notes outside the repository:\n" + "\n".join(hits)


def test_the_reference_check_notices_a_missing_document():
    missing = "docs/no-such-page" + ".md"  # in pieces: this file is scanned too
    text = f"see {missing} and [remote](docs/remote.md), https://example.com/x/y.md"
    found = [m.group(1) for m in MARKDOWN_PATH.finditer(text)]
    assert found == [missing, "docs/remote.md"]
    assert not (REPO_ROOT / found[0]).exists() and (REPO_ROOT / found[1]).is_file()


def test_nothing_outside_the_repository_is_read_as_test_data(texts):
    outside = [
        f"{name}: {match.group(0)}"
        for name, text in texts.items()
        if name.startswith(("tests/", "bench/", "dev/"))
        for match in re.finditer("/work" + r"/shared[\w/.-]*", text)
    ]
    assert not outside, "\n".join(outside)
