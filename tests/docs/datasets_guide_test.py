"""The code of docs/datasets.md runs, offline, from a fresh interpreter."""

import pathlib
import re
import subprocess
import sys

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "datasets.md"
SKIP = "<!-- docs-test: skip"
BLOCK = re.compile(
    r"(<!-- docs-test: skip[^>]*-->\n)?```python\n(.*?)```", re.S
)


def guide_blocks():
    """The guide's python blocks, minus those marked to skip."""
    text = GUIDE.read_text()
    blocks = [(bool(skip), code) for skip, code in BLOCK.findall(text)]
    assert len(blocks) >= 4
    assert any(skip for skip, _ in blocks)
    return [code for skip, code in blocks if not skip]


def test_guide_code_runs(tmp_path):
    script = "\n".join(guide_blocks())
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(GUIDE.parents[1]),
        # Both entry points share one folder, so the data is prepared once.
        "TFDS_DATA_DIR": str(tmp_path / "tensorflow_datasets"),
        "KERAS_MTCRL_DATA": str(tmp_path),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "(36, 36, 1)" in out
    assert "pairs_mnist_n400_e100_s1" in out
    assert "('left', 'right') 3 100" in out
    prepared = tmp_path / "tensorflow_datasets" / "keras_mtcrl_multi_mnist"
    assert (prepared / "confounded" / "1.0.0").is_dir()
