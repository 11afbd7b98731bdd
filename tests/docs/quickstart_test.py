"""The getting-started example runs (tiny sizes)."""

import importlib.util
import pathlib

import numpy as np

PATH = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"


def _load_quickstart():
    spec = importlib.util.spec_from_file_location(
        "docs_quickstart", PATH / "quickstart.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_trains_and_prints_the_graph(capsys):
    quickstart = _load_quickstart()
    model = quickstart.main(num_train=64, num_eval=32, epochs=1, batch_size=32)
    graph = model.causal_graph()
    assert graph.shape == (2, 4)
    assert np.all((graph > 0) & (graph < 1))
    printed = capsys.readouterr().out
    assert "test_shifted" in printed
    assert "m3" in printed
