"""Upload a validated bundle to the Hugging Face Hub: `create_repo(exist_ok=True)`, then
`upload_folder` of the bundle alone. The token is never printed, logged or written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardpipe.errors import UserError
from rewardpipe.publish.export import FILES, decoder_files, is_decoder_bundle

TOKEN_HELP = (
    "set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens) "
    "or run `hf auth login`"
)


def check_repo_id(repo_id: str | None) -> str:
    """`namespace/name` with the Hub's naming rules, else a UserError saying what is expected."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    expected = (
        "expected a Hub repo id like user/name (letters, digits, '-', '_', '.'; no '--' or '..'; "
        "at most 96 characters)"
    )
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise UserError(f"publish.repo_id: {expected}, got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UserError(f"publish.repo_id: {expected}, got {repo_id!r}") from exc
    return repo_id


def resolve_token() -> str | None:
    """`HF_TOKEN`, else the token that `hf auth login` saved (None when there is neither)."""
    from huggingface_hub import get_token

    return get_token()


def ready_to_push(repo_id: str | None) -> str:
    """Check the repo id and find the token before any work is done; returns the token."""
    check_repo_id(repo_id)
    token = resolve_token()
    if not token:
        raise UserError(f"publish.push is true but there is no Hugging Face token; {TOKEN_HELP}")
    return token


def push(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | None,
    private: bool = False,
    commit_message: str | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Create the repo if needed and upload the bundle files of `folder` in one commit; returns
    `{repo_id, private, url, revision, commit_url, commit_message}`. Any failure is a UserError
    that says what to do; the token never appears in it."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    if not token:
        raise UserError(f"cannot push to {repo_id}: no Hugging Face token; {TOKEN_HELP}")
    message = commit_message or "Upload reward model (rewardpipe)"
    api = HfApi(endpoint=endpoint, token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            allow_patterns=_patterns(Path(folder)),  # the bundle alone, not what else lies there
            commit_message=message,
            repo_type="model",
        )
    except Exception as exc:
        raise UserError(_explain(exc, repo_id, api.endpoint).replace(token, "***")) from None
    return {
        "repo_id": repo_id,
        "private": private,
        "url": str(url),
        "revision": info.oid,
        "commit_url": info.commit_url,
        "commit_message": message,
    }


def _patterns(folder: Path) -> list[str]:
    """The bundle's files: `FILES`, or a decoder bundle's files (with its tokenizer files)."""
    return decoder_files(folder) if is_decoder_bundle(folder) else list(FILES)


def _explain(exc: Exception, repo_id: str, endpoint: str) -> str:
    """What went wrong and what to do, without tracebacks (and without the token)."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    nothing = "nothing was committed"
    if isinstance(exc, OfflineModeIsEnabled):
        return f"cannot push to {repo_id}: HF_HUB_OFFLINE is set; unset it to upload ({nothing})"
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        server = (exc.server_message or "").strip().splitlines()
        detail = f" (server: {server[0]})" if server else ""
        if status == 401:
            return (
                f"cannot push to {repo_id}: the Hub rejected the token (401 Unauthorized){detail}; "
                f"{TOKEN_HELP} ({nothing})"
            )
        if status == 403:
            return (
                f"cannot push to {repo_id}: the token may not write there (403 Forbidden){detail}; "
                f"use a write token of the user or organisation '{repo_id.split('/')[0]}' "
                f"({nothing})"
            )
        if status == 404:
            return f"cannot push to {repo_id}: repository not found (404){detail}; check publish.repo_id"
        if status == 400:
            return f"cannot push to {repo_id}: the Hub refused the request (400){detail}; check publish.repo_id and the model card"
        return f"cannot push to {repo_id}: the Hub answered HTTP {status}{detail}; retry later ({nothing})"
    if isinstance(exc, httpx2.TransportError | OSError | ConnectionError):
        return (
            f"cannot push to {repo_id}: network error talking to {endpoint} "
            f"({type(exc).__name__}: {exc}); the upload may be incomplete: check the connection "
            "and run the publish stage again (re-uploading the bundle is safe)"
        )
    if isinstance(exc, ValueError):
        return f"cannot push to {repo_id}: {exc}"
    return f"cannot push to {repo_id}: {type(exc).__name__}: {exc}"
