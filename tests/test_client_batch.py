"""The batch manifest: one appended line per finished image, read back by --resume after a kill.

These stop a Manifest at the exact points a SIGKILL can hit (mid-line, after the outputs are
placed, between claiming a folder and renaming into it) by making that step raise;
test_client_cli.py SIGKILLs real `svd-suite batch` runs against the real server, again and again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from svd_suite_client import manifest as manifest_module
from svd_suite_client.errors import ComfyClientError
from svd_suite_client.manifest import JOURNAL, SUMMARY, Manifest


class Killed(BaseException):
    """Stands in for SIGKILL at one chosen step (nothing after it runs)."""


def finish(manifest: Manifest, name: str, content: bytes = b"output") -> list[Path]:
    """What a worker does once an image's prompt is done: download into staging, commit."""
    staging = manifest.staging_dir()
    output = staging / "ComfyUI_00001_.png"
    output.write_bytes(content)
    return manifest.commit(name, staging, [output], {"server": "http://s", "prompt_id": name})


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / JOURNAL).read_bytes().splitlines()]


def kill_at(manifest: Manifest, event: str) -> None:
    append = manifest._append

    def append_or_die(record):
        if record.get("event") == event:
            raise Killed(event)
        append(record)

    manifest._append = append_or_die


def output_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def test_each_finished_image_appends_one_line_and_rewrites_nothing(tmp_path):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    try:
        finish(manifest, "first.png")
        before = (tmp_path / JOURNAL).read_bytes()
        inode = (tmp_path / JOURNAL).stat().st_ino
        sizes = []
        for i in range(300):
            finish(manifest, f"img{i}.png")
            sizes.append((tmp_path / JOURNAL).stat().st_size)
        after = (tmp_path / JOURNAL).read_bytes()
    finally:
        manifest.close()
    assert after.startswith(before) and (tmp_path / JOURNAL).stat().st_ino == inode
    growth = [b - a for a, b in zip(sizes, sizes[1:], strict=False)]
    assert max(growth) < 400  # the same few hundred bytes for image 2 and image 300
    assert not (tmp_path / SUMMARY).exists()  # the whole-batch summary is written once, at the end


def test_resume_skips_done_images_and_cuts_off_a_half_written_line(tmp_path):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    finish(manifest, "a.png")
    manifest.close()
    with open(tmp_path / JOURNAL, "ab") as journal:
        journal.write(b'{"event": "done", "folder": "b", "image": "b.pn')  # killed mid-write
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    try:
        assert manifest.is_done("a.png") and not manifest.is_done("b.png")
        finish(manifest, "b.png")
    finally:
        manifest.close()
    done = [r["image"] for r in records(tmp_path) if r["event"] == "done"]  # every line parses
    assert done == ["a.png", "b.png"] and output_folders(tmp_path) == ["a", "b"]


def test_image_killed_after_its_folder_was_placed_is_recognised_as_done(tmp_path):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    kill_at(manifest, "done")
    with pytest.raises(Killed):
        finish(manifest, "a.png")
    manifest.close()
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    try:
        assert manifest.is_done("a.png") and manifest.recognised == ["a.png"]
        assert manifest.done["a.png"]["outputs"] == [str(tmp_path / "a" / "ComfyUI_00001_.png")]
    finally:
        manifest.close()
    assert [r["image"] for r in records(tmp_path) if r["event"] == "done"] == ["a.png"]
    assert output_folders(tmp_path) == ["a"]


@pytest.mark.parametrize("step", ["placing", "rename"])
def test_image_killed_before_its_folder_was_placed_is_redone_in_place(tmp_path, monkeypatch, step):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    if step == "placing":
        kill_at(manifest, "placing")
    else:
        monkeypatch.setattr(manifest_module.os, "rename", lambda *a: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        finish(manifest, "a.png")
    manifest.close()
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".svd-suite-staging-")]
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    try:
        assert not manifest.is_done("a.png")
        assert output_folders(tmp_path) == []  # the half-done staging folder is cleared away
        outputs = finish(manifest, "a.png", b"again")
    finally:
        manifest.close()
    assert outputs == [tmp_path / "a" / "ComfyUI_00001_.png"] and outputs[0].read_bytes() == b"again"
    assert output_folders(tmp_path) == ["a"]


def test_a_claim_taken_over_by_another_image_is_not_mistaken_for_done(tmp_path, monkeypatch):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    monkeypatch.setattr(manifest_module.os, "rename", lambda *a: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        finish(manifest, "a.png")  # claimed folder "a", killed before the rename
    manifest.close()
    monkeypatch.undo()
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    finish(manifest, "a.jpg")  # the same stem: takes folder "a"
    manifest.close()
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    try:
        assert manifest.is_done("a.jpg") and not manifest.is_done("a.png")
    finally:
        manifest.close()


def test_without_resume_a_new_journal_starts_and_earlier_outputs_stay(tmp_path):
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    finish(manifest, "a.png", b"first")
    manifest.close()
    manifest = Manifest(tmp_path, "wf.json", resume=False)
    try:
        assert not manifest.is_done("a.png")
        assert finish(manifest, "a.png", b"second") == [tmp_path / "a_1" / "ComfyUI_00001_.png"]
    finally:
        manifest.close()
    assert (tmp_path / "a" / "ComfyUI_00001_.png").read_bytes() == b"first"


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path):
    first = Manifest(tmp_path, "wf.json", resume=False)
    try:
        with pytest.raises(ComfyClientError, match="another svd-suite batch is writing to"):
            Manifest(tmp_path, "wf.json", resume=True)
    finally:
        first.close()


def test_resume_counts_images_done_in_an_older_manifest_json(tmp_path):
    (tmp_path / SUMMARY).write_text(
        json.dumps({"workflow": "wf.json", "done": {"a.png": {"outputs": []}}, "failed": {"b.png": "x"}})
    )
    manifest = Manifest(tmp_path, "wf.json", resume=True)
    try:
        assert manifest.is_done("a.png") and not manifest.is_done("b.png")
    finally:
        manifest.close()
    assert [r["image"] for r in records(tmp_path) if r["event"] == "done"] == ["a.png"]
