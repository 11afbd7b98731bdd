"""`keras-mtcrl launch`: local workers with TF_CONFIG, output, exit code."""

import io
import json

from keras_mtcrl_cli import local_cluster


def test_tf_configs_name_every_worker_and_its_index():
    configs = local_cluster.tf_configs([5000, 5001])
    assert configs[0]["cluster"] == {
        "worker": ["127.0.0.1:5000", "127.0.0.1:5001"]
    }
    assert [c["task"]["index"] for c in configs] == [0, 1]
    json.dumps(configs)  # what TF_CONFIG holds


def test_train_gets_multiworker_unless_a_strategy_is_given():
    assert local_cluster.worker_command(["train", "synthetic"])[-2:] == [
        "--strategy", "multiworker",
    ]  # fmt: skip
    given = ["train", "synthetic", "--strategy=one"]
    assert local_cluster.worker_command(given) == given
    assert local_cluster.worker_command(["list"]) == ["list"]


def test_outputs_are_prefixed_and_a_failure_is_the_exit_code():
    stream = io.StringIO()
    assert local_cluster.launch(["list"], workers=2, stream=stream) == 0
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("[worker 0] synthetic") for line in lines)
    assert any(line.startswith("[worker 1] synthetic") for line in lines)
    stream = io.StringIO()
    code = local_cluster.launch(["list", "--bogus"], workers=2, stream=stream)
    assert code == 2
    assert "[worker 1] " in stream.getvalue()


def test_launch_needs_a_command(capsys):
    try:
        local_cluster.main(["--workers", "2"])
    except SystemExit as exit:
        assert exit.code == 2
    assert "command after `--`" in capsys.readouterr().err
