"""lmkit.cluster.connect: which Ray it starts or joins, once; a missing ray is one line naming the extra.

A stand-in ``ray`` module records the calls, so these run without Ray and never start one (the tests of
the Ray encoder, tests/corpus/test_shards.py, start a real one)."""
import sys
import types

import pytest

from lmkit._extras import MissingExtra
from lmkit.cluster import connect


class FakeRay(types.ModuleType):
    """``ray.init``/``is_initialized``/``cluster_resources`` where a cluster runs (``running``) or none does."""

    def __init__(self, running: bool):
        super().__init__("ray")
        self.running, self.calls, self.initialized = running, [], False

    def is_initialized(self):
        return self.initialized

    def init(self, **options):
        self.calls.append(options)
        if options.get("address") == "auto" and not self.running:
            raise ConnectionError("Could not find any running Ray instance.")
        self.initialized = True

    def cluster_resources(self):
        return {"CPU": 2.0}

    def get_runtime_context(self):
        return types.SimpleNamespace(gcs_address="10.0.0.1:6379")


@pytest.fixture
def fake_ray(monkeypatch):
    def install(running=False):
        module = FakeRay(running)
        monkeypatch.setitem(sys.modules, "ray", module)
        return module
    return install


def test_local_starts_a_ray_of_num_cpus_even_with_ray_address_set(fake_ray):
    ray = fake_ray()
    connect("local", 2)
    assert ray.calls == [{"address": "local", "num_cpus": 2, "include_dashboard": False}]


def test_auto_joins_a_running_cluster_without_imposing_cpus(fake_ray):
    ray = fake_ray(running=True)
    connect("auto", 2)
    assert ray.calls == [{"address": "auto"}]


def test_auto_without_a_cluster_starts_a_local_one(fake_ray):
    ray = fake_ray(running=False)
    connect("auto", None)
    assert ray.calls == [{"address": "auto"}, {"address": "local", "num_cpus": None, "include_dashboard": False}]


def test_an_address_is_joined(fake_ray):
    ray = fake_ray()
    connect("ray://head:10001", 4)
    assert ray.calls == [{"address": "ray://head:10001"}]


def test_connect_is_idempotent(fake_ray):
    ray = fake_ray()
    connect("local", 2)
    connect("local", 1)
    connect("10.0.0.5:6379", None)
    assert len(ray.calls) == 1


@pytest.mark.parametrize("cluster, cpus, message", [("", None, "cluster must be 'local', 'auto' or a Ray address"),
                                                     (None, None, "cluster must be"),
                                                     ("local", 0, "num_cpus must be an integer >= 1 or None")])
def test_bad_arguments(fake_ray, cluster, cpus, message):
    ray = fake_ray()
    with pytest.raises(ValueError, match=message):
        connect(cluster, cpus)
    assert ray.calls == []


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'lmkit\[ray\]'"):
        connect("local", 2)


def test_cli_without_ray_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    from lmkit.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    path = tmp_path / "c.txt"
    path.write_text("a b\n", encoding="utf-8")
    assert main(["data", "encode", str(path), "--cluster", "local", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'lmkit[ray]'" in err
