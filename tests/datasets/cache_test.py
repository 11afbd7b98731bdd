import pathlib

import pytest

from keras_mtcrl.datasets import cache


def test_environment_variable_sets_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "root"))
    path = cache.get_cache_dir("movielens")
    assert path == tmp_path / "root" / "movielens"
    assert path.is_dir()


def test_explicit_cache_dir_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "env"))
    path = cache.get_cache_dir("x", cache_dir=tmp_path / "explicit")
    assert path == tmp_path / "explicit" / "x"
    assert not (tmp_path / "env").exists()


def test_default_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = cache.get_cache_dir()
    assert path == tmp_path / ".cache" / "keras_mtcrl"
    assert path.is_dir()


def test_empty_environment_variable_means_default(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.get_cache_dir("a") == pathlib.Path(
        tmp_path, ".cache", "keras_mtcrl", "a"
    )


def test_unwritable_location_names_the_variable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="KERAS_MTCRL_DATA"):
        cache.get_cache_dir("movielens", cache_dir=blocker)
