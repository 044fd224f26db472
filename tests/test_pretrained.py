"""Pretrained checkpoints: a local folder, or a Hub id resolved through the Hub cache."""

from __future__ import annotations

import dataclasses

import pytest

from rewardpipe import pretrained
from rewardpipe.errors import UserError
from rewardpipe.params import ModelParams

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def cache(tmp_path):
    """A Hub cache holding `org/tiny` at COMMIT (the default branch points at it)."""
    repo = tmp_path / "hub" / "models--org--tiny"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return tmp_path / "hub"


def test_hub_ids_and_paths_are_told_apart(tmp_path):
    assert pretrained.is_hub_id("Qwen/Qwen2.5-0.5B-Instruct") and pretrained.is_hub_id("gpt2")
    assert not pretrained.is_hub_id("./models/x") and not pretrained.is_hub_id("/a/b")
    assert not pretrained.is_hub_id("a/b/c")
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "name").mkdir()
    assert not pretrained.is_hub_id(str(tmp_path / "org" / "name"))


def test_a_local_folder_resolves_to_itself(tmp_path):
    assert pretrained.resolve(str(tmp_path)) == tmp_path
    with pytest.raises(UserError, match=r"a revision .* applies to a Hub repo id"):
        pretrained.resolve(str(tmp_path), "main")
    with pytest.raises(UserError, match="folder not found"):
        pretrained.resolve(str(tmp_path / "missing"))


def test_a_hub_id_resolves_from_the_cache_at_a_branch_or_commit(cache):
    for revision in (None, "main", COMMIT):
        folder = pretrained.resolve("org/tiny", revision, cache_dir=cache)
        assert folder == cache / "models--org--tiny" / "snapshots" / COMMIT
        assert pretrained.commit_of(folder) == COMMIT
    assert pretrained.commit_of(cache) is None


def test_an_unreachable_hub_id_names_the_repo_and_revision(cache):
    with pytest.raises(UserError, match=r"org/other at revision 'v1': not a local folder"):
        pretrained.resolve("org/other", "v1", cache_dir=cache)


def test_local_replaces_a_hub_id_by_its_folder(cache, tmp_path):
    params = ModelParams(backbone="decoder", pretrained="org/tiny", revision=COMMIT)
    got = pretrained.local(params, cache_dir=cache)
    assert got == dataclasses.replace(
        params, pretrained=str(cache / "models--org--tiny" / "snapshots" / COMMIT), revision=None
    )
    folder = ModelParams(backbone="bert", pretrained=str(tmp_path))
    assert pretrained.local(folder) is folder and pretrained.local(ModelParams()) == ModelParams()


def test_revision_needs_a_hub_id(tmp_path):
    with pytest.raises(UserError, match=r"model.revision"):
        ModelParams(backbone="bert", pretrained=str(tmp_path), revision="main").check()
    ModelParams(backbone="decoder", pretrained="org/tiny", revision="main").check()  # no I/O
    with pytest.raises(UserError, match=r"model.remat"):
        ModelParams(remat=True).check()
