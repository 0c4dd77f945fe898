# make_tokenizer_vectors.py: writes tokenizer_vectors.json, reference token ids and pre-token pieces
# from Hugging Face `tokenizers` (an independent implementation) for TokenizerTests. Not run by tests.
#
# Generated with: Python 3.11.7, tokenizers 0.23.3, transformers 5.23.0, gguf 0.19.0, regex 2026.11.15.
# Run: python3 make_tokenizer_vectors.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
#
# The reference tokenizer is built from the GGUF's vocabulary and merges with the pre-tokenizer SmolLM2's
# own tokenizer.json uses (Digits(individual_digits) then ByteLevel), which is llama.cpp's `smollm`
# split (see ../shared/design/FACTS.md). transformers' GGUF loader is also run, through its converter
# functions (its file reader needs torch): it has no `smollm` entry, so it falls back to the plain GPT-2
# split and keeps runs of digits together. Strings where it differs are listed under
# `transformers_gguf_differs` for the record; the tests follow llama.cpp.
# Bytes with no token in the vocabulary (21 here, e.g. U+0004) are dropped by both libraries, but HF then
# merges across the gap (" \u0006!" → " !", "!\u0004!" → "!!") while llama.cpp does not; no string here has such a
# gap inside a piece, and the Swift tests check llama.cpp's behaviour on a handmade vocabulary.
# Pre-token pieces come from `tokenizers`' Split with the patterns (Oniguruma), cross-checked here
# against the Python `regex` module.

import hashlib
import json
import os
import sys
from importlib.metadata import version

import gguf
import regex
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "..", "..", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# llama.cpp's adaptation of Qwen2's tokenizer.json pattern (one digit a piece).
QWEN2 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "12345",
    "3.14",
    "Pi is 3.14159 and e is 2.71828; 1,000,000 and 2024-01-01.",
    "What is 12 + 35?",
    "I'm sure you're right, they've said we'll see, he'd go, it's fine, don't.",
    "DON'T SHOUT, I'M HERE, WE'LL SEE",
    "'s 't 're 've 'm 'll 'd",
    "multiple   spaces    here",
    "line one\nline two\n\nline four",
    "tabs\tand\t\ttabs",
    "trailing spaces   ",
    "   leading spaces",
    "\n\n\n",
    " ",
    "a",
    "windows\r\nline endings\r\n",
    "!!!???...,,,;;;",
    "a+b=c; x*y/z <= 10 && (p || q)",
    "def f(x):\n    return x ** 2  # square\n",
    "#!/usr/bin/env bash\necho \"$HOME\" | grep -v '^#'",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "café naïve résumé façade São Paulo Zürich",
    "combining e\u0301 versus precomposed \u00e9",
    "Ελληνικά και Русский язык",
    "日本語のテキストです。",
    "中文：你好，世界！",
    "한국어 문장입니다",
    "emoji 😀🎉👍🏽",
    "family 👨‍👩‍👧‍👦 and flag 🇫🇷",
    "mixed: English, 日本語, العربية, עברית, हिन्दी",
    "١٢٣ Arabic-Indic digits, ½ ² Ⅻ",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "zero\u200bwidth\u200djoiner",
    "Math: ∑ x² ≤ ∞, α β γ",
    "ASCII art: ¯\\_(ツ)_/¯",
    "Controls \u0001\u0007 and DEL \u007f; separators \u001c\u001f, NEL \u0085, LS \u2028 end",
    "bytes without tokens: a\u0004b \u0006\u0013\u0014\u0016\u001d",
    "A long word: pneumonoultramicroscopicsilicovolcanoconiosis",
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "text with <|endoftext|> inside",
    "<|im_start|><|im_end|><|im_start|>",
    "almost special <|im_start| and <im_end|>",
    "<repo_name>proxima<file_sep>main.swift",
]


def field(reader, name):
    return reader.fields[name].contents()


def reference_tokenizer(tokens, merges, types):
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                               merges=[tuple(m.split(" ", 1)) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(tokens, types) if ty == 3])
    return tok


def transformers_gguf_tokenizer(tokens, merges, types):
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer
    tokenizer_dict = {"tokenizer_type": "gpt2", "pre_tokenizer_type": "smollm", "tokens": tokens,
                      "merges": merges, "token_type": types}
    backend, _ = convert_gguf_tokenizer("llama", tokenizer_dict)
    return backend


def pieces(pre_tokenizer, text):
    return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)]


def regex_pieces(pattern, text, digits_first):
    stretches = regex.split(r"(\p{N})", text) if digits_first else [text]
    out = []
    for stretch in stretches:
        if digits_first and regex.fullmatch(r"\p{N}", stretch):
            out.append(stretch)
        elif stretch:
            out.extend(regex.findall(pattern, stretch))
    return out


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    reader = gguf.GGUFReader(model)
    tokens = field(reader, "tokenizer.ggml.tokens")
    merges = field(reader, "tokenizer.ggml.merges")
    types = field(reader, "tokenizer.ggml.token_type")
    with open(model, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()

    reference = reference_tokenizer(tokens, merges, types)
    plain = reference_tokenizer(tokens, merges, types)
    plain.encode_special_tokens = True
    hf_gguf = transformers_gguf_tokenizer(tokens, merges, types)

    splitters = {
        "gpt2": (pre_tokenizers.Split(Regex(GPT2), behavior="isolated"), GPT2, False),
        "smollm": (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                            pre_tokenizers.Split(Regex(GPT2), behavior="isolated")]), GPT2, True),
        "llama-bpe": (pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"), LLAMA3, False),
        "qwen2": (pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"), QWEN2, False),
    }

    encode_cases, pretokenize_cases, differs = [], [], []
    for text in TEXTS:
        ids = reference.encode(text, add_special_tokens=False).ids
        encode_cases.append({"text": text, "ids": ids, "decoded": reference.decode(ids, skip_special_tokens=False),
                             "ids_without_special": plain.encode(text, add_special_tokens=False).ids})
        hf_ids = hf_gguf.encode(text, add_special_tokens=False).ids
        if hf_ids != ids:
            differs.append({"text": text, "transformers_gguf_ids": hf_ids})
        case = {"text": text}
        for name, (splitter, pattern, digits_first) in splitters.items():
            case[name] = pieces(splitter, text)
            assert case[name] == regex_pieces(pattern, text, digits_first), (name, text)
        pretokenize_cases.append(case)

    out = {
        "generator": "Tests/TokenizerTests/Fixtures/make_tokenizer_vectors.py",
        "versions": {name: version(name) for name in ["tokenizers", "transformers", "gguf", "regex"]},
        "model_sha256": sha,
        "note": "ids: the GGUF vocabulary + merges in HF tokenizers with SmolLM2's pre-tokenizer, control "
                "tokens matched whole; decoded: those ids decoded (the text less bytes that have no token); ids_without_special: the same with special tokens not matched; "
                "pretokenize: pieces per pre-tokenizer from tokenizers' Split (checked against Python regex); "
                "transformers_gguf_differs: where transformers' GGUF loader (no smollm split) disagrees.",
        "encode": encode_cases,
        "pretokenize": pretokenize_cases,
        "transformers_gguf_differs": differs,
    }
    with open(os.path.join(HERE, "tokenizer_vectors.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(encode_cases)} strings, {len(differs)} where transformers' GGUF tokenizer differs")


if __name__ == "__main__":
    main()
