"""The text a decoder reward model reads for a (question, solution) pair, the Hugging Face way.

A tokenizer folder's chat template renders `[user: question, assistant: solution]` as
transformers' `apply_chat_template(..., tokenize=False)` does; without one the text is
`question + "\\n\\n" + solution + eos_token`. transformers is not needed at runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.parser
import jinja2.runtime
import jinja2.utils
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from rewardpipe.errors import UserError
from rewardpipe.io import read_json, read_text

CONFIG_FILE = "tokenizer_config.json"
TOKENIZER_FILE = "tokenizer.json"
TEMPLATE_FILE = "chat_template.jinja"
TEMPLATE_DIR = "chat_templates"
# transformers' named special tokens (SPECIAL_TOKENS_ATTRIBUTES); templates see them as variables.
NAMED_TOKENS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


@dataclass(frozen=True)
class PromptFormat:
    """A tokenizer and its chat template (None: the plain fallback format)."""

    tokenizer: Tokenizer
    special_tokens: dict[str, str]
    chat_template: str | None = None
    template_source: str = ""  # `file` or `file: field`, for error messages
    _compiled: jinja2.Template | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = None
        if self.chat_template is not None:
            compiled = compile_template(self.chat_template, self.template_source)
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_folder(cls, folder: str | Path) -> PromptFormat:
        """Read `tokenizer_config.json`, `tokenizer.json` and any `chat_template.jinja` (or
        `chat_templates/*.jinja`), which take priority over the config's `chat_template`."""
        folder = Path(folder)
        config_path = folder / CONFIG_FILE
        config = read_json(config_path)
        if not isinstance(config, dict):
            raise UserError(f"{config_path}: expected a JSON object, got {type(config).__name__}")
        special_tokens = _special_tokens(config, config_path)
        template, source = _chat_template(folder, config, config_path)
        if template is None and "eos_token" not in special_tokens:
            raise UserError(
                f"{config_path}: eos_token: missing (needed to end the text when there is no "
                "chat_template)"
            )
        return cls(
            tokenizer=_load_tokenizer(folder / TOKENIZER_FILE),
            special_tokens=special_tokens,
            chat_template=template,
            template_source=source,
        )

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens.get("eos_token")

    @property
    def bos_token(self) -> str | None:
        return self.special_tokens.get("bos_token")

    def format(self, question: str, solution: str) -> str:
        """The rendered chat template, else `question + "\\n\\n" + solution + eos_token`."""
        if self._compiled is None:
            return question + "\n\n" + solution + str(self.eos_token)
        messages = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": solution},
        ]
        return render_template(
            self._compiled,
            self.template_source,
            messages=messages,
            tools=None,
            documents=None,
            add_generation_prompt=False,
            **self.special_tokens,
        )

    def encode(self, question: str, solution: str, max_len: int) -> list[int]:
        """Token ids of `format(question, solution)`, at most `max_len` of them.

        With a chat template no special tokens are added: the template writes its own (BOS
        included), as `apply_chat_template(..., tokenize=True)` and so TRL's RewardTrainer do.
        Without one the tokenizer adds its usual ones (e.g. a BOS), unless the text already
        starts with the BOS token. A longer sequence keeps its first `max_len - 1` tokens and
        its last token, which the reward head reads.
        """
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        text = self.format(question, solution)
        add_special = self._compiled is None and not (
            self.bos_token and text.startswith(self.bos_token)
        )
        ids = self.tokenizer.encode(text, add_special_tokens=add_special).ids
        if len(ids) > max_len:
            ids = [*ids[: max_len - 1], ids[-1]]
        return ids

    def pad_id(self, vocab_size: int, preferred: int | None = None) -> int:
        """A pad id that no formatted text contains, so that transformers' pooling (the last
        token whose id is not pad_token_id) reads the same token as the mask does.

        In order: `preferred` (config.json's pad_token_id), the tokenizer's pad_token, the first
        embedding row beyond the tokenizer's vocabulary, then the first special token; the first
        that is below `vocab_size` and absent from a formatted probe pair wins. (A text that
        itself spells the chosen special token, or a template ending in a content token, could
        still differ; neither happens with the supported families' templates.)"""
        used = set(self.encode("What is 2 + 3?", "2 + 3 = 5. #### 5", max_len=1 << 30))
        vocab = self.tokenizer.get_vocab_size(with_added_tokens=True)
        pad_token = self.special_tokens.get("pad_token")
        added = self.tokenizer.get_added_tokens_decoder()
        candidates = [
            preferred,
            self.tokenizer.token_to_id(pad_token) if pad_token else None,
            *range(vocab, min(vocab + 1, vocab_size)),
            *sorted(i for i, token in added.items() if token.special),
        ]
        for candidate in candidates:
            if candidate is not None and 0 <= candidate < vocab_size and candidate not in used:
                return int(candidate)
        raise UserError(
            f"{self.template_source or TOKENIZER_FILE}: no token id free for padding (every "
            "special token appears in formatted text and the vocabulary fills the embeddings)"
        )


def _token(value: Any, where: str) -> str | None:
    """A special token from the config: a string, or a dict (AddedToken) with a `content` string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise UserError(f"{where}: expected a string or an object with a 'content' string")


def _special_tokens(config: dict[str, Any], path: Path) -> dict[str, str]:
    """The template variables transformers passes: the named tokens, other top-level `*_token`
    keys, and a dict of `extra_special_tokens`; unset (null) ones are left out."""
    tokens: dict[str, str] = {}
    for key, value in config.items():
        is_token = key in NAMED_TOKENS or (
            key.endswith("_token") and isinstance(value, (str, dict))
        )
        if is_token and (token := _token(value, f"{path}: {key}")) is not None:
            tokens[key] = token
    extra = config.get("extra_special_tokens")
    if isinstance(extra, dict):
        for key, value in extra.items():
            if (token := _token(value, f"{path}: extra_special_tokens.{key}")) is not None:
                tokens[key] = token
    return tokens


def _chat_template(
    folder: Path, config: dict[str, Any], config_path: Path
) -> tuple[str | None, str]:
    """(template, where it came from); the "default" one where there are several by name."""
    templates: dict[str, tuple[str, str]] = {}
    where = str(folder / TEMPLATE_DIR)
    if (folder / TEMPLATE_FILE).is_file():
        templates["default"] = (read_text(folder / TEMPLATE_FILE), str(folder / TEMPLATE_FILE))
    if (folder / TEMPLATE_DIR).is_dir():
        for path in sorted((folder / TEMPLATE_DIR).glob("*.jinja")):
            templates[path.name.removesuffix(".jinja")] = (read_text(path), str(path))
    if not templates:
        value = config.get("chat_template")
        where = f"{config_path}: chat_template"
        if value is None:
            return None, ""
        if isinstance(value, str):
            return value, where
        if not isinstance(value, list):
            raise UserError(
                f"{where}: expected a string or a list of {{name, template}} objects, "
                f"got {type(value).__name__}"
            )
        for n, item in enumerate(value):
            if not (
                isinstance(item, dict)
                and isinstance(item.get("name"), str)
                and isinstance(item.get("template"), str)
            ):
                raise UserError(
                    f"{where}[{n}]: expected an object with 'name' and 'template' strings"
                )
            templates[item["name"]] = (item["template"], f"{where}[{n}]")
    if "default" not in templates:
        names = ", ".join(sorted(templates)) or "none"
        raise UserError(f"{where}: no template is named 'default' (found: {names})")
    return templates["default"]


def _load_tokenizer(path: Path) -> Tokenizer:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises plain Exception
        raise UserError(f"{path}: not a valid tokenizer file ({exc})") from exc


class _Generation(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` (transformers' assistant-mask tag) renders its
    body unchanged here; without the tag such templates would not parse."""

    tags = {"generation"}  # noqa: RUF012 (jinja's own class attribute)

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_generation_support")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _generation_support(self, caller: jinja2.runtime.Macro) -> str:
        return caller()


class _TemplateDict:
    """`dict(...)` for templates, without the attribute access of the real type."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


class _TemplateNamespace(jinja2.utils.Namespace):
    """`namespace(...)` that refuses underscore names, as transformers' does."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # so that namespace(self=...) works
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"chat templates cannot store underscore-prefixed attributes on a namespace: {name!r}"
            )


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Not jinja's own filter: that one escapes HTML characters, which transformers' does not.
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


def compile_template(template: str, source: str) -> jinja2.Template:
    """The environment of transformers' `_compile_jinja_template`; a syntax error names `source`."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _TemplateDict()
    env.globals["namespace"] = _TemplateNamespace
    try:
        return env.from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise UserError(
            f"{source}: line {exc.lineno}: not a valid template: {exc.message}"
        ) from exc


def render_template(compiled: jinja2.Template, source: str, **variables: Any) -> str:
    """`compiled.render(**variables)`; a failure (e.g. `raise_exception`) is a UserError naming
    `source`."""
    try:
        return compiled.render(**variables)
    except jinja2.TemplateError as exc:
        raise UserError(f"{source}: the template failed: {exc.message or exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise UserError(f"{source}: the template failed: {type(exc).__name__}: {exc}") from exc
