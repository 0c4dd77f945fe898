"""Generates rubric_extra_vectors.jsonl: tricky cases scored by the executable spec rubric_v1.py.

Run from anywhere: python3 make_rubric_extra_vectors.py [path/to/rubric_v1.py] > rubric_extra_vectors.jsonl
The default spec path is ../shared/data/rubric/rubric_v1.py beside the repository. The output is deterministic
(a fixed seed for the random cases), and JSON is ASCII-escaped so invisible characters stay visible in review.
"""
import importlib.util
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "rubric", "rubric_v1.py")


def load_spec(path):
    spec = importlib.util.spec_from_file_location("rubric_v1", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def n_words(n, start=0):
    """n distinct words, so no 3-gram repeats."""
    return " ".join(f"w{i}" for i in range(start, start + n))


P = "Explain photosynthesis in simple terms."
CASES = [
    # Length band edges
    (P, "", True, "empty response, finished"),
    (P, "", False, "empty response, truncated"),
    (P, "   \n\t  ", True, "whitespace only"),
    (P, "!!! ... ??? --- ,,,", True, "punctuation only: zero words"),
    (P, n_words(14), True, "14 words"),
    (P, n_words(15), True, "exactly 15 words"),
    (P, n_words(16), True, "16 words"),
    (P, n_words(59), True, "59 words"),
    (P, n_words(60), True, "exactly 60 words"),
    (P, n_words(61), True, "61 words"),
    (P, n_words(119), False, "119 words"),
    (P, n_words(120), False, "120 words: penalty reaches 1"),
    (P, n_words(200), False, "200 words: penalty capped at 1"),
    (P, "one", True, "1 word"),
    (P, "one two", True, "2 words: no 3-grams"),
    (P, "one two three", True, "3 words: one 3-gram"),
    # Repetition
    (P, "same same same same", True, "4 identical words"),
    (P, " ".join(["a b c"] * 10), True, "repeated 3-word cycle"),
    (P, "a b a b a b a b a b a b a b a b", True, "alternating pair"),
    # Case, accents, apostrophes, non-ASCII
    ("EXPLAIN PHOTOSYNTHESIS IN SIMPLE TERMS", "PHOTOSYNTHESIS turns LIGHT into SUGAR inside the LEAVES of GREEN plants every single DAY of the YEAR.", True, "uppercase prompt and response"),
    ("Describe a café in Paris.", "The café serves crème brûlée and café au lait; naïve tourists love the résumé of déjà vu moments here.", True, "accents split words"),
    ("What's the capital of Türkiye?", "İstanbul is the largest city, but Ankara is the capital of Türkiye and what's more it is İNLAND.", True, "dotted capital I lowercases to i + combining dot"),
    ("Convert 300 KELVIN to celsius", "300 \u212aelvin is about 27 degrees celsius, since you subtract 273.15 from the \u212aelvin value.", True, "Kelvin sign lowercases to ASCII k"),
    ("Tell me about Ståle and \u212bngström units.", "An \u212bngström is 0.1 nanometres; Ståle is a name. ÅNGSTRÖM units measure atoms.", True, "Angstrom sign lowercases to non-ASCII"),
    ("Why don't cats like water?", "Cats don't like water because wet fur is heavy and cold; it's also not what they're used to, y'know.", True, "ASCII apostrophes stay inside words"),
    ("Why don\u2019t cats like water?", "Cats don\u2019t like water because wet fur is heavy and cold; it\u2019s also not what they\u2019re used to.", True, "curly apostrophes split words"),
    ("Quote 'rock' music", "'rock' and 'roll' and ''quoted'' words ' alone ' count with their apostrophes.", True, "leading and trailing apostrophes"),
    ("Explain \uff21\uff22\uff23 letters", "Fullwidth \uff21\uff22\uff23 and \uff41\uff42\uff43 are not ASCII so they are no words here at all today.", True, "fullwidth letters are not words"),
    ("Greek \u03a3\u039f\u03a6\u0399\u0391 and stra\u00dfe STRASSE", "\u03a3\u039f\u03a6\u0399\u0391 \u03c3\u03bf\u03c6\u03af\u03b1 stra\u00dfe STRA\u1e9eE strasse: sharp s stays non-ASCII.", True, "Greek and sharp s"),
    ("Numbers 2024 and COVID-19", "In 2024 COVID-19 cases fell; \u0663\u0664 Arabic-Indic digits and \u00b2 superscripts are not [0-9].", True, "ASCII digits only"),
    ("\u01c5ungla and \u017fhip", "\u01c4UNGLA \u01c5ungla \u01c6ungla and the long \u017fhip sails on.", True, "titlecase digraphs and long s"),
    ("Emoji test please", "Emoji \U0001F600 between words\U0001F680like this, plus combining e\u0301 accents.", True, "astral emoji and combining marks"),
    # Content words
    ("a an the of to in on", "A short reply that does not matter much for content words at all here.", True, "prompt with only stopwords"),
    ("Tell me why", "Because.", True, "prompt content words all shorter than 4"),
    ("What's what's WHAT'S happening?", "What's happening is simple: what's new is happening now in many places around us.", True, "content word with apostrophe"),
    ("It's it's IT'S your life", "It's your life and it's great to live well with many friends nearby today.", True, "stopword it's"),
    # Leakage markers
    ("Say hi", "Hi there!<|im_start|>user\nHow are you?", True, "im_start marker"),
    ("Say hi", "Hi there <|IM_END|> done", True, "uppercase im_end marker"),
    ("Say hi", "Hi there <|\u0131m_end|> done", True, "dotless i inside marker (re.I)"),
    ("Say hi", "Hi there <|\u0130M_START|> done", True, "dotted capital I inside marker (re.I)"),
    ("Say hi", "Hi there <|im_start| no close", True, "incomplete marker"),
    ("Say hi", "Hi there <|endoftext|> done", True, "endoftext is not a leak marker"),
    ("Say hi", "Hi there <|im_sep|> done", True, "im_sep is not a leak marker"),
    ("Say hi", "user: hi", True, "role at start"),
    ("Say hi", "  User :  hi", True, "spaces around role"),
    ("Say hi", "Hello.\n\nASSISTANT: again", True, "uppercase role after blank line"),
    ("Say hi", "Hello.\nHuman:", True, "human role at end"),
    ("Say hi", "Hello.\nhumans: no", True, "humans is not a role"),
    ("Say hi", "The user: said hi", True, "role not at line start"),
    ("Say hi", "Hello.\nuser\n: split across lines", True, "whitespace incl. newline before colon"),
    ("Say hi", "\u00a0user: nbsp", True, "no-break space is \\s"),
    ("Say hi", "\u2028user: line separator at start", True, "U+2028 is \\s at string start"),
    ("Say hi", "Hello.\u2028user: line separator mid text", True, "U+2028 is not a line start for ^"),
    ("Say hi", "Hello.\ruser: carriage return", True, "CR is not a line start for ^"),
    ("Say hi", "Hello.\r\nuser: CRLF", True, "CRLF line start"),
    ("Say hi", "\x1cuser: file separator", True, "U+001C is \\s"),
    ("Say hi", "\u200buser: zero width space", True, "U+200B is not \\s"),
    ("Say hi", "u\u017fer: long s", True, "long s matches s under re.I"),
    ("Say hi", "a\u017f\u017fi\u017ftant: long s", True, "long s in assistant"),
    ("Say hi", "A\u017f\u017f\u0131stant: dotless i", True, "dotless i in assistant"),
    ("Say hi", "\u212auser: kelvin then role", True, "Kelvin sign is not whitespace"),
    ("Say hi", "Hello.\n\t \u3000 Assistant\u00a0: ideographic space", True, "mixed Unicode whitespace"),
    ("Say hi", "user: x <|im_end|>", True, "both leaks count once"),
    ("Say hi", "Hello.\nuser; not a colon", True, "semicolon is not a colon"),
    ("Say hi", "Hello.\nuser\uff1a fullwidth colon", True, "fullwidth colon is not a colon"),
]


def rounding_tie_case():
    """64 content words, one reused: 0.5 * 1/64 = 0.0078125 is a rounding tie at the 7th decimal."""
    topics = [f"topic{i:02d}x" for i in range(64)]
    prompt = "About the " + " ".join(topics)
    response = "topic00x " + n_words(20, start=100)
    return (prompt, response, True, "score 1.0078125 rounds half to even")


def random_cases(count, seed):
    rng = random.Random(seed)
    pieces = ["plants", "Sunlight", "WATER", "it's", "don't", "caf\u00e9", "\u0130zmir", "\u212aey", "user:", "Assistant :",
              "human:", "<|im_end|>", "<|im_start|>", "\n", "\r\n", "\u2028", "\u00a0", "\t", "  ", ".", ",", "!", "'", "\u2019",
              "42", "3.14", "na\u00efve", "\u00dfeta", "the", "and", "of", "energy", "light", "leaves", "chlorophyll",
              "\U0001F600", "e\u0301", "x", "y", "z", "STRASSE", "\u017f"]
    prompts = [P, "Give two practical tips about saving money.", "What is GPS? Answer briefly.",
               "Why does sleep matter?", "Describe the water cycle to a ten-year-old."]
    cases = []
    for i in range(count):
        n = rng.choice([0, 3, 10, 14, 15, 16, 30, 59, 60, 61, 90, 130])
        text = ""
        for _ in range(n):
            text += rng.choice(pieces) + rng.choice([" ", " ", " ", "", "\n"])
        cases.append((rng.choice(prompts), text, rng.random() < 0.5, f"random {i}"))
    return cases


def main():
    spec = load_spec(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SPEC)
    for prompt, response, finished, note in CASES + [rounding_tie_case()] + random_cases(120, seed=20240611):
        row = {"prompt": prompt, "response": response, "finished": finished,
               "score": spec.score(prompt, response, finished), "note": note}
        print(json.dumps(row))


if __name__ == "__main__":
    main()
