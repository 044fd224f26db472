"""chat_format renders and tokenizes like transformers' apply_chat_template (where installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from rewardpipe.chat_format import PromptFormat
from rewardpipe.errors import UserError

# Qwen2.5-Instruct's template as published, tools branch included (format() never passes tools).
QWEN25_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.'
    "\\n\\nYou are provided with function signatures within <tools></tools> XML tags:"
    '\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and'
    " arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call>'
    '<|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful"
    " assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or'
    ' (message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    "            {{- tool_call.name }}\n"
    '            {{- \'", "arguments": \' }}\n'
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

# Meta-Llama-3-8B-Instruct's template.
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)

# Gemma 3 (gemma-3-*-it)'s template.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    '    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    '        {%- set role = "model" -%}\n'
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    '        {{ raise_exception("Invalid content type") }}\n'
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

# (special tokens, the BOS the tokenizer's post-processor adds or None, tokenizer_config.json)
FAMILIES = {
    "qwen2.5": (
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        None,
        {
            "bos_token": None,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "unk_token": None,
            "chat_template": QWEN25_TEMPLATE,
            "model_max_length": 131072,
        },
    ),
    "llama3": (
        [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ],
        "<|begin_of_text|>",
        {
            "bos_token": "<|begin_of_text|>",
            "eos_token": "<|eot_id|>",
            "chat_template": LLAMA3_TEMPLATE,
            "model_max_length": 1000000000000000019884624838656,
        },
    ),
    "gemma3": (
        [
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<start_of_image>",
            "<end_of_image>",
            "<image_soft_token>",
        ],
        "<bos>",
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": {
                "__type": "AddedToken",
                "content": "<bos>",
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
            },
            "eos_token": "<eos>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
            # As a list of named templates, the older way to store several.
            "chat_template": [{"name": "default", "template": GEMMA3_TEMPLATE}],
        },
    ),
}

PAIRS = [
    ("What is 2 + 3?", "2 + 3 = 5. #### 5"),
    ("  Natalia sold 48 clips.\nHow many? ", "\n48 / 2 = 24 \n#### 72\n\n"),
    ("Ünïcödé — “quotes” <b>&amp;</b>", "日本語 🙂 ok"),
    ("", ""),
]

TRAINING_TEXT = [q + " " + s for q, s in PAIRS] * 3 + ["the user assistant model system"] * 3


def make_folder(folder: Path, tokens: list[str], bos: str | None, config: dict) -> Path:
    """A tokenizer folder: a tiny byte-level BPE with `tokens` as special tokens, a post-processor
    that adds `bos` (as Llama 3's and Gemma's do), and `config` as tokenizer_config.json."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer=trainer)
    if bos is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokens.index(bos))]
        )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture(params=sorted(FAMILIES))
def family_folder(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    tokens, bos, config = FAMILIES[request.param]
    return make_folder(tmp_path / request.param, tokens, bos, config)


def transformers_tokenizer(folder: Path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    return transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def chat(question: str, solution: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": solution}]


def test_format_matches_transformers(family_folder: Path) -> None:
    fmt = PromptFormat.from_folder(family_folder)
    reference = transformers_tokenizer(family_folder)
    for question, solution in PAIRS:
        expected = reference.apply_chat_template(chat(question, solution), tokenize=False)
        assert fmt.format(question, solution) == expected


def test_encode_matches_transformers(family_folder: Path) -> None:
    fmt = PromptFormat.from_folder(family_folder)
    reference = transformers_tokenizer(family_folder)
    for question, solution in PAIRS:
        expected = reference.apply_chat_template(
            chat(question, solution), tokenize=True, return_dict=False
        )
        assert fmt.encode(question, solution, max_len=10_000) == expected


def test_templates_render_their_known_shape(tmp_path: Path) -> None:
    """Without transformers too: the system prompt, BOS and role names each family writes."""
    expected = {
        "qwen2.5": "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nA.<|im_end|>\n",
        "llama3": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA.<|eot_id|>",
        "gemma3": "<bos><start_of_turn>user\nQ?<end_of_turn>\n<start_of_turn>model\nA.<end_of_turn>\n",
    }
    for name, (tokens, bos, config) in FAMILIES.items():
        fmt = PromptFormat.from_folder(make_folder(tmp_path / name, tokens, bos, config))
        assert fmt.format("Q?", "A.") == expected[name]
        ids = fmt.encode("Q?", "A.", max_len=100)
        assert fmt.tokenizer.decode(ids, skip_special_tokens=False) == expected[name]
        if bos is not None:  # the template's BOS, not a second one from the post-processor
            assert ids.count(fmt.tokenizer.token_to_id(bos)) == 1


def test_truncation_keeps_the_last_token(tmp_path: Path) -> None:
    tokens, bos, config = FAMILIES["llama3"]
    fmt = PromptFormat.from_folder(make_folder(tmp_path, tokens, bos, config))
    full = fmt.encode("What is 2 + 3?", "2 + 3 = 5. #### 5", max_len=10_000)
    assert full[-1] == fmt.tokenizer.token_to_id("<|eot_id|>")
    assert fmt.encode("What is 2 + 3?", "2 + 3 = 5. #### 5", max_len=6) == [*full[:5], full[-1]]
    assert fmt.encode("What is 2 + 3?", "2 + 3 = 5. #### 5", max_len=1) == [full[-1]]
    assert fmt.encode("What is 2 + 3?", "2 + 3 = 5. #### 5", max_len=len(full)) == full
    with pytest.raises(ValueError):
        fmt.encode("q", "s", max_len=0)


def test_no_template_falls_back_to_question_solution_eos(tmp_path: Path) -> None:
    tokens, bos, _ = FAMILIES["llama3"]
    folder = make_folder(tmp_path, tokens, bos, {"eos_token": {"content": "<|end_of_text|>"}})
    folder_bos = make_folder(
        tmp_path / "bos", tokens, bos, {"bos_token": bos, "eos_token": "<|end_of_text|>"}
    )
    for fmt in (PromptFormat.from_folder(folder), PromptFormat.from_folder(folder_bos)):
        assert fmt.chat_template is None
        assert fmt.format("Q?", "A.") == "Q?\n\nA.<|end_of_text|>"
        ids = fmt.encode("Q?", "A.", max_len=100)
        # The tokenizer adds its BOS (once) to text that has none.
        assert ids[0] == fmt.tokenizer.token_to_id(bos)
        assert (
            ids[1:] == fmt.tokenizer.encode("Q?\n\nA.<|end_of_text|>", add_special_tokens=False).ids
        )
        assert ids[-1] == fmt.tokenizer.token_to_id("<|end_of_text|>")
    already = PromptFormat.from_folder(folder_bos).encode(bos + "Q?", "A.", max_len=100)
    assert already.count(fmt.tokenizer.token_to_id(bos)) == 1


def test_chat_template_jinja_file_takes_priority(tmp_path: Path) -> None:
    tokens, bos, config = FAMILIES["qwen2.5"]
    folder = make_folder(tmp_path, tokens, bos, config)
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}",
        encoding="utf-8",
    )
    fmt = PromptFormat.from_folder(folder)
    assert fmt.format("Q", "A") == "[user]Q[assistant]A<|im_end|>"
    assert fmt.template_source == str(folder / "chat_template.jinja")


def test_template_features_transformers_provides(tmp_path: Path) -> None:
    tokens, bos, config = FAMILIES["qwen2.5"]
    template = (
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
        "{% if m.role == 'assistant' %}{% break %}{% endif %}{% endfor %}{{ ns.n }}|"
        "{{ {'q': messages[0].content, 'x': '<é>'} | tojson }}|"
        "{{ dict(a=1) | tojson }}|{% generation %}{{ messages[1].content }}{% endgeneration %}|"
        "{{ strftime_now('%Y') | length }}|{{ pad_token }}|{{ add_generation_prompt }}"
    )
    fmt = PromptFormat.from_folder(
        make_folder(tmp_path, tokens, bos, config | {"chat_template": template})
    )
    assert fmt.format("Q", "A") == '2|{"q": "Q", "x": "<é>"}|{"a": 1}|A|4|<|endoftext|>|False'


def test_raise_exception_is_a_user_error_naming_the_config(tmp_path: Path) -> None:
    tokens, bos, config = FAMILIES["gemma3"]
    template = "{{ raise_exception('Conversation roles must alternate user/assistant') }}"
    folder = make_folder(tmp_path, tokens, bos, config | {"chat_template": template})
    fmt = PromptFormat.from_folder(folder)
    with pytest.raises(UserError, match="Conversation roles must alternate") as info:
        fmt.format("Q", "A")
    assert str(folder / "tokenizer_config.json") in str(info.value)
    assert "chat_template" in str(info.value)


def test_gemma_template_rejects_a_bad_role_order(tmp_path: Path) -> None:
    """The official template's own raise_exception, reached by an assistant-first variant."""
    tokens, bos, config = FAMILIES["gemma3"]
    swapped = GEMMA3_TEMPLATE.replace(
        "{%- for message in loop_messages -%}", "{%- for message in loop_messages | reverse -%}"
    )
    folder = make_folder(tmp_path, tokens, bos, config | {"chat_template": swapped})
    with pytest.raises(
        UserError, match=r"tokenizer_config\.json: chat_template.*roles must alternate"
    ):
        PromptFormat.from_folder(folder).format("Q", "A")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"chat_template": 3}, "chat_template: expected a string or a list"),
        ({"chat_template": [{"name": "default"}]}, r"chat_template\[0\]: expected an object"),
        (
            {"chat_template": [{"name": "tool_use", "template": "x"}]},
            r"chat_template: no template is named 'default' \(found: tool_use\)",
        ),
        ({"chat_template": "{% if %}"}, "chat_template: line 1: not a valid template"),
        ({"eos_token": 5, "chat_template": "x"}, "eos_token: expected a string"),
        ({"eos_token": {"text": "</s>"}}, "eos_token: expected a string or an object"),
        ({"bos_token": "<s>"}, "eos_token: missing"),
    ],
)
def test_config_errors_name_the_file_and_field(
    tmp_path: Path, config: object, message: str
) -> None:
    tokens, bos, _ = FAMILIES["llama3"]
    folder = make_folder(tmp_path, tokens, bos, {})
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UserError, match=message) as info:
        PromptFormat.from_folder(folder)
    assert "tokenizer_config.json" in str(info.value)


def test_missing_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"tokenizer_config\.json: file not found"):
        PromptFormat.from_folder(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text('{"eos_token": "</s>"}', encoding="utf-8")
    with pytest.raises(UserError, match=r"tokenizer\.json: file not found"):
        PromptFormat.from_folder(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match=r"tokenizer\.json: not a valid tokenizer file"):
        PromptFormat.from_folder(tmp_path)
