from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dermview.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dermview", *args], capture_output=True, text=True)


@pytest.mark.parametrize("layout", ["data_dir", "published_layout", "kaggle_layout"])
def test_info_json(layout, request, capsys):
    path = request.getfixturevalue(layout)
    assert main(["info", "--archive", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 10015
    assert info["lesions"] == 7470
    assert info["missing_images"] == 0
    assert info["unlisted_files"] == 0
    assert info["by_dx"]["mel"] == 1113 and info["by_dx"]["nv"] == 6705
    assert info["by_dx_type"]["confocal"] == 69


def test_info_text_in_a_real_process(data_dir):
    result = run_cli("info", "--archive", str(data_dir))
    assert result.returncode == 0
    assert "Melanoma (mel)" in result.stdout and "1,113" in result.stdout


def test_bad_archive_is_one_line_and_status_2(tmp_path):
    result = run_cli("info", "--archive", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dermview: error: No HAM10000 metadata")
    assert "Traceback" not in result.stderr


def test_a_command_runs_numpys_products_on_one_blas_thread(data_dir, capsys):
    """OpenBLAS's second thread only spins on dermview's products (model/threads.py: 7.8 against 3.9
    CPU-seconds for 170 queries)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert main(["info", "--archive", str(data_dir)]) == 0
        after = blas_threads()
    capsys.readouterr()
    assert before == {2} and after == {1}


def test_the_blas_limit_holds_when_numpy_was_not_loaded_yet():
    """threadpoolctl limits only the libraries already loaded: a process that sets the limit first must
    still get one thread."""
    code = ("import sys\nfrom dermview.model.threads import use_one_blas_thread\n"
            "assert 'numpy' not in sys.modules\nuse_one_blas_thread()\n"
            "from threadpoolctl import threadpool_info\n"
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1]"
