#!/usr/bin/env python3
# Generates chat_template_expectations.json: what Hugging Face's apply_chat_template renders for each
# fixture template in chat_templates/, so the Swift interpreter can be checked against it byte for byte.
#
# It compiles every template with transformers' own _compile_jinja_template (ImmutableSandboxedEnvironment,
# trim_blocks=True, lstrip_blocks=True, loopcontrols, HF's tojson/raise_exception/strftime_now/namespace)
# and renders it the way render_jinja_template does: messages, tools, documents, add_generation_prompt and
# the special tokens as keyword arguments. strftime_now is replaced by a fixed date (passed as a render
# variable, which shadows the global) so the output does not depend on the day it was generated.
#
# Used: transformers 5.23.0, jinja2 3.1.6, Python 3 (pip install transformers jinja2; no torch needed).
# Run from this folder: python3 generate_chat_template_expectations.py

import datetime
import json
import os

import jinja2
import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "chat_templates")
FIXED_NOW = datetime.datetime(2024, 9, 26, 14, 5, 9)

SYSTEM = {"role": "system", "content": "You are a helpful assistant"}
CONVERSATION = [
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you"},
    {"role": "assistant", "content": "   I am an assistant   "},
    {"role": "user", "content": "Another question"},
]
UNICODE = [{"role": "user", "content": "Ça va? 日本語 🙂 \"quotes\" 'single' back\\slash\n  new line\t"}]
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
            "required": ["city"],
        },
    },
}]

# Special tokens per template, as each model's tokenizer passes them (special_tokens_map).
TOKENS = {
    "smollm2-135m-instruct": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "llama-3-8b-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-3.1-8b-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-3.2-3b-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "gemma-7b-it": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "gemma-2-2b-it": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "qwen2.5-7b-instruct": {"eos_token": "<|im_end|>"},
    "phi-3-mini": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "phi-3.5-mini-instruct": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "seed-oss-36b-instruct": {"bos_token": "<seed:bos>", "eos_token": "<seed:eos>"},
}
DEFAULT_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}

# Extra cases for some templates: (name, messages, add_generation_prompt, extra variables, use fixed now).
EXTRA = {
    "llama-3.1-8b-instruct": [
        ("tools in user message", [SYSTEM] + CONVERSATION[:1], True, {"tools": TOOLS}, False),
        ("tools in system message", [SYSTEM] + CONVERSATION[:1], True,
         {"tools": TOOLS, "tools_in_user_message": False}, False),
        ("builtin tools", [SYSTEM] + CONVERSATION[:1], True,
         {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}, False),
        ("date string", CONVERSATION[:1], True, {"date_string": "01 Jan 2025"}, False),
    ],
    "llama-3.2-3b-instruct": [
        ("strftime_now date", [SYSTEM] + CONVERSATION, True, {}, True),
        ("date string", CONVERSATION[:1], True, {"date_string": "01 Jan 2025"}, False),
        ("tools in user message", CONVERSATION[:1], True, {"tools": TOOLS, "date_string": "01 Jan 2025"}, False),
    ],
    "mistral-7b-instruct-v0.3": [("tools", [SYSTEM] + CONVERSATION, True, {"tools": TOOLS}, False)],
    "mistral-nemo-instruct-2407": [("tools", CONVERSATION, True, {"tools": TOOLS}, False)],
    "qwen2.5-7b-instruct": [
        ("tools", [SYSTEM] + CONVERSATION, True, {"tools": TOOLS}, False),
        ("tools without system", CONVERSATION[:1], True, {"tools": TOOLS}, False),
    ],
    "granite-3.0-8b-instruct": [("tools", [SYSTEM] + CONVERSATION, True, {"tools": TOOLS * 2}, False)],
    "yandexgpt-5-lite-8b-instruct": [("tools", CONVERSATION, True, {"tools": TOOLS}, False)],
}


def tagged(value):
    """JSON that keeps dict order and Python types apart: {"dict": [[key, value], ...]}, {"int": 1}, …"""
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"double": value}
    if isinstance(value, str):
        return {"string": value}
    if value is None:
        return {"none": True}
    if isinstance(value, list):
        return {"list": [tagged(item) for item in value]}
    return {"dict": [[key, tagged(item)] for key, item in value.items()]}


def render(template, messages, add_generation_prompt, variables, fixed_now):
    context = {"tools": None, "documents": None, **variables}
    if fixed_now:
        context["strftime_now"] = FIXED_NOW.strftime
    try:
        return {"expected": _compile_jinja_template(template).render(
            messages=[dict(message) for message in messages], add_generation_prompt=add_generation_prompt, **context)}
    except jinja2.exceptions.TemplateError as error:
        kind = "raised" if type(error) is jinja2.exceptions.TemplateError else type(error).__name__
        return {"error": {"kind": kind, "message": str(error)}}


def cases_for(name):
    standard = [
        ("with system", [SYSTEM] + CONVERSATION, True, {}, False),
        ("without system", CONVERSATION, True, {}, False),
        ("single user", CONVERSATION[:1], True, {}, False),
        ("no generation prompt", [SYSTEM] + CONVERSATION[:4], False, {}, False),
        ("unicode and escapes", UNICODE, True, {}, False),
        ("roles out of order", [CONVERSATION[0], CONVERSATION[0]], True, {}, False),
    ]
    if name == "llama-3.2-3b-instruct":
        standard = [(label, messages, prompt, {"date_string": "26 Jul 2024", **extra}, now)
                    for label, messages, prompt, extra, now in standard]
    return standard + EXTRA.get(name, [])


def main():
    cases = []
    for file_name in sorted(os.listdir(TEMPLATES)):
        if not file_name.endswith(".jinja"):
            continue
        name = file_name[: -len(".jinja")]
        with open(os.path.join(TEMPLATES, file_name), encoding="utf-8", newline="") as handle:
            template = handle.read()
        for label, messages, prompt, extra, fixed_now in cases_for(name):
            variables = {**TOKENS.get(name, DEFAULT_TOKENS), **extra}
            case = {
                "template": file_name,
                "name": label,
                "messages": messages,
                "add_generation_prompt": prompt,
                "variables": {key: tagged(value) for key, value in variables.items()},
                "now": [FIXED_NOW.year, FIXED_NOW.month, FIXED_NOW.day, FIXED_NOW.hour, FIXED_NOW.minute,
                        FIXED_NOW.second] if fixed_now else None,
            }
            case.update(render(template, messages, prompt, variables, fixed_now))
            cases.append(case)
    document = {
        "note": "Generated by generate_chat_template_expectations.py with transformers' _compile_jinja_template; "
                "do not edit by hand.",
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "cases": cases,
    }
    with open(os.path.join(HERE, "chat_template_expectations.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
