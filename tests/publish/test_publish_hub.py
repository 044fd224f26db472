"""Upload to a local mock Hub (127.0.0.1): success, privacy, errors, and the token kept secret.
Nothing here contacts huggingface.co: every call names the mock's endpoint."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import numpy as np
import pytest
from mock_hub import MockHub
from publish_support import tiny_model_folder, write_eval

from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.publish import build_bundle, export, hub
from rewardpipe.publish.card import CardOptions

TOKEN = "hf_mockSECRETtoken0123456789"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    options = CardOptions(license="apache-2.0", model_ref="alice/tiny-rm", model_name="tiny-rm")
    model = tiny_model_folder(root / "model")
    build_bundle(
        model,
        write_eval(root / "eval.json"),
        root / "export",
        options,
        git_revision=None,
        params_sha256=None,
    )
    return root / "export"


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift HF_HUB_OFFLINE for this test only (the mock is the only server it talks to)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_push_uploads_the_bundle_in_one_commit(bundle_dir: Path, online: None) -> None:
    with MockHub(TOKEN) as mock:
        result = hub.push(
            bundle_dir,
            "alice/tiny-rm",
            token=TOKEN,
            commit_message="first model",
            endpoint=mock.url,
        )
    (commit,) = mock.state.commits
    assert commit.repo_id == "alice/tiny-rm" and commit.revision == "main"
    assert commit.summary == "first model"
    assert sorted(commit.files) == sorted(export.FILES)
    for name, data in commit.files.items():
        assert data == (bundle_dir / name).read_bytes()
    assert mock.state.repos["alice/tiny-rm"]["private"] is False
    assert result["revision"] == commit.oid
    assert result["commit_url"] == f"{mock.url}/alice/tiny-rm/commit/{commit.oid}"
    assert result["url"] == f"{mock.url}/alice/tiny-rm"
    assert set(mock.state.authorizations) == {f"Bearer {TOKEN}"}


def test_private_flag_and_existing_repo(bundle_dir: Path, online: None) -> None:
    with MockHub(TOKEN) as mock:
        hub.push(bundle_dir, "alice/secret-rm", token=TOKEN, private=True, endpoint=mock.url)
        second = hub.push(
            bundle_dir, "alice/secret-rm", token=TOKEN, private=True, endpoint=mock.url
        )
    assert mock.state.repos["alice/secret-rm"]["payload"]["visibility"] == "private"
    assert len(mock.state.commits) == 2  # the second create_repo hit 409 and went on
    assert second["commit_message"] == "Upload reward model (rewardpipe)"


def test_only_bundle_files_are_uploaded(bundle_dir: Path, tmp_path: Path, online: None) -> None:
    folder = Path(shutil.copytree(bundle_dir, tmp_path / "export"))
    (folder / "notes.txt").write_text("private notes")
    with MockHub(TOKEN) as mock:
        hub.push(folder, "alice/tiny-rm", token=TOKEN, endpoint=mock.url)
    assert sorted(mock.state.commits[0].files) == sorted(export.FILES)


def test_uploaded_files_load_with_from_pretrained_by_repo_id(
    bundle_dir: Path, tmp_path: Path, online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user downloads from the Hub is exactly what was committed: it loads and scores
    like the local bundle (snapshot_download is replaced by the mock's committed files)."""
    with MockHub(TOKEN) as mock:
        hub.push(bundle_dir, "alice/tiny-rm", token=TOKEN, endpoint=mock.url)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for name, data in mock.state.commits[0].files.items():
        (snapshot / name).write_bytes(data)
    calls = []

    def fake_snapshot_download(repo_id: str, **kwargs: object) -> str:
        calls.append((repo_id, kwargs))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    model = RewardModel.from_pretrained("alice/tiny-rm", revision="v1")
    assert calls[0][0] == "alice/tiny-rm" and calls[0][1]["revision"] == "v1"
    assert set(calls[0][1]["allow_patterns"]) == {
        "model.safetensors",
        "model.safetensors.index.json",  # sharded decoder weights
        "model-*-of-*.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",  # a decoder's prompt format
        "special_tokens_map.json",
        "chat_template.jinja",
        "chat_templates/*",
    }
    local = RewardModel.from_pretrained(bundle_dir)
    np.testing.assert_allclose(export.probe_scores(model), export.probe_scores(local), atol=1e-6)


def test_401_says_what_to_do(bundle_dir: Path, online: None) -> None:
    with MockHub(TOKEN) as mock, pytest.raises(UserError) as err:
        hub.push(bundle_dir, "alice/tiny-rm", token="hf_wrongTOKEN", endpoint=mock.url)
    message = str(err.value)
    assert "401" in message and "HF_TOKEN" in message and "hf auth login" in message
    assert "hf_wrongTOKEN" not in message
    assert not mock.state.commits


def test_403_says_what_to_do(bundle_dir: Path, online: None) -> None:
    with MockHub(TOKEN, fail="forbidden") as mock, pytest.raises(UserError) as err:
        hub.push(bundle_dir, "someorg/tiny-rm", token=TOKEN, endpoint=mock.url)
    assert (
        "403" in str(err.value) and "write token" in str(err.value) and "someorg" in str(err.value)
    )
    assert TOKEN not in str(err.value)
    assert not mock.state.commits


def test_connection_dropped_mid_upload(
    bundle_dir: Path, online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub retries the commit with backoff; no need to wait for real
    monkeypatch.setattr(huggingface_hub.utils._http.time, "sleep", lambda seconds: None)
    with MockHub(TOKEN, fail="drop_commit") as mock, pytest.raises(UserError) as err:
        hub.push(bundle_dir, "alice/tiny-rm", token=TOKEN, endpoint=mock.url)
    message = str(err.value)
    assert "network error" in message and "run the publish stage again" in message
    assert TOKEN not in message
    assert not mock.state.commits
    assert ("POST", "/api/models/alice/tiny-rm/commit/main") in mock.state.requests


def test_server_unreachable(bundle_dir: Path, online: None) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match=r"network error talking to http://127\.0\.0\.1"):
        hub.push(bundle_dir, "alice/tiny-rm", token=TOKEN, endpoint=f"http://127.0.0.1:{port}")


@pytest.mark.parametrize(
    "repo_id", ["no-namespace", "a/b/c", "alice/bad--name", "alice/.hidden", "", None]
)
def test_invalid_repo_id_fails_before_any_request(
    bundle_dir: Path, online: None, repo_id: object
) -> None:
    with (
        MockHub(TOKEN) as mock,
        pytest.raises(UserError, match=r"publish\.repo_id: expected a Hub repo id"),
    ):
        hub.push(bundle_dir, repo_id, token=TOKEN, endpoint=mock.url)  # type: ignore[arg-type]
    assert mock.state.requests == []


def test_no_token(bundle_dir: Path, online: None) -> None:
    with (
        MockHub(TOKEN) as mock,
        pytest.raises(UserError, match="no Hugging Face token; set HF_TOKEN"),
    ):
        hub.push(bundle_dir, "alice/tiny-rm", token=None, endpoint=mock.url)
    assert mock.state.requests == []


def test_offline_mode_is_explained(bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with MockHub(TOKEN) as mock, pytest.raises(UserError, match="HF_HUB_OFFLINE is set"):
        hub.push(bundle_dir, "alice/tiny-rm", token=TOKEN, endpoint=mock.url)
    assert mock.state.requests == []


def test_resolve_token_reads_hf_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert hub.resolve_token() is None
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert hub.resolve_token() == TOKEN
