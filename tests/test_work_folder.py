"""The PostgreSQL-backed service's work folder: a killed process's folder (its download, up to the size
limit) is removed by the next process to start; a living process's never is."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.service.work_folder import WorkFolder, remove_abandoned

HOLD = (
    "import sys; from toolkit.service.work_folder import WorkFolder\n"
    "f = WorkFolder(parent=sys.argv[1]); (f.path / 'upload.cc5txt').write_bytes(b'x' * 1000)\n"
    "print(f.path, flush=True); sys.stdin.read()\n"
)


def _holder(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(parent)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


@pytest.mark.skipif(sys.platform == "win32", reason="left-overs are looked for with fcntl (POSIX)")
def test_a_killed_process_folder_is_removed_by_the_next_start_and_a_living_one_is_kept(tmp_path: Path) -> None:
    killed, killed_folder = _holder(tmp_path)
    living, living_folder = _holder(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert (killed_folder / "upload.cc5txt").exists()  # SIGKILL: nothing of its own cleaned it

        mine = WorkFolder(parent=tmp_path)
        assert not killed_folder.exists()
        assert (living_folder / "upload.cc5txt").exists()
        assert mine.path.is_dir() and mine.path.name.startswith("toolkit-import-")

        # this process's own folder is held too: a second start here keeps it
        second = WorkFolder(parent=tmp_path)
        assert mine.path.is_dir() and second.path.is_dir()
        second.cleanup()
        mine.cleanup()
        assert not mine.path.exists()
        assert remove_abandoned(tmp_path, "toolkit-import-") == 0  # the living process's stays
        assert living_folder.exists()
    finally:
        living.kill()
        living.wait(10)
    assert remove_abandoned(tmp_path, "toolkit-import-") == 1
    assert not living_folder.exists()


def test_folders_it_did_not_make_are_left_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "toolkit-import-someone-else"
    foreign.mkdir()
    (foreign / "data").write_text("keep")
    folder = WorkFolder(parent=tmp_path)
    assert (foreign / "data").read_text() == "keep"
    folder.cleanup()
    folder.cleanup()  # idempotent
    forgotten = WorkFolder(parent=tmp_path).path
    gc.collect()  # never cleaned up: removed when collected, as a TemporaryDirectory
    assert forgotten.parent == tmp_path and not forgotten.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toolkit-import-someone-else"]
