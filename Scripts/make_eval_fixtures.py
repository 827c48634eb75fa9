#!/usr/bin/env python3
"""Regenerates Tests/TelmePipelineTests/Fixtures/evaluation/cases.json: label sets scored by
scikit-learn, the reference for `telme evaluate`'s metrics (EvaluationMetricsTests.swift).

Each case gives the model's labels (the order telme reports in), the gold and predicted labels
(as indices into `classes`), and sklearn's numbers:
- accuracy_score;
- precision_recall_fscore_support(gold, pred, average='weighted') and average='macro' with the
  default labels=None (the classes present in gold or predictions), as the TelME paper scores;
- per class: precision_recall_fscore_support(..., average=None, labels=classes), zero_division
  left at its default ("warn": 0 where undefined);
- confusion_matrix(gold, pred, labels=classes).
`classes` is the model's labels followed by any other label that occurs, in code point order.

It also writes Tests/TelmeCLITests/Fixtures/evaluate-gold.csv (the CLI corpus with other gold
labels: some right, one empty, one the model does not have, one row no record matches) and
evaluate-expected.json, sklearn's numbers for the PyTorch predictions of
text-meld-reference.json (official speaker numbering) against those gold labels.

Run with the project's venv (needs scikit-learn): `/work/venv/bin/python Scripts/make_eval_fixtures.py`.
"""
import csv
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "Tests", "TelmePipelineTests", "Fixtures", "evaluation")
CLI = os.path.join(os.path.dirname(HERE), "Tests", "TelmeCLITests", "Fixtures")

MELD = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
IEMOCAP = ["ang", "exc", "fru", "hap", "neu", "sad"]


def case(name, labels, gold, pred):
    assert len(gold) == len(pred) and gold
    extra = sorted(set(gold + pred) - set(labels))  # Python sorts str by code point, as numpy does
    classes = list(labels) + extra
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        wp, wr, wf, _ = precision_recall_fscore_support(gold, pred, average="weighted")
        mp, mr, mf, _ = precision_recall_fscore_support(gold, pred, average="macro")
        p, r, f, s = precision_recall_fscore_support(gold, pred, average=None, labels=classes)
    cm = confusion_matrix(gold, pred, labels=classes)
    index = {c: i for i, c in enumerate(classes)}
    return {
        "name": name,
        "labels": list(labels),
        "classes": classes,
        "gold": [index[g] for g in gold],
        "predicted": [index[q] for q in pred],
        "accuracy": float(accuracy_score(gold, pred)),
        "weighted": {"precision": float(wp), "recall": float(wr), "f1": float(wf)},
        "macro": {"precision": float(mp), "recall": float(mr), "f1": float(mf)},
        "precision": [float(x) for x in p],
        "recall": [float(x) for x in r],
        "f1": [float(x) for x in f],
        "support": [int(x) for x in s],
        "confusion": cm.tolist(),
    }


def random_case(name, rng, labels, n, weights=None, accuracy=0.6, pred_labels=None):
    """Gold drawn with `weights`; each prediction right with probability `accuracy`, else a
    label drawn from `pred_labels` (default: the model's)."""
    k = len(labels)
    w = np.asarray(weights if weights is not None else np.ones(k), dtype=float)
    gold = [labels[i] for i in rng.choice(k, size=n, p=w / w.sum())]
    choices = pred_labels or labels
    pred = [g if rng.random() < accuracy else choices[rng.integers(len(choices))] for g in gold]
    return case(name, labels, gold, pred)


def main():
    rng = np.random.default_rng(20240607)
    cases = [
        # sklearn's documentation example (string labels, weighted = 0.267).
        case("sklearn-doc", ["cat", "dog", "pig"],
             ["cat", "dog", "pig", "cat", "dog", "pig"], ["cat", "pig", "dog", "cat", "cat", "dog"]),
        case("perfect", MELD, MELD + ["neutral"] * 3, MELD + ["neutral"] * 3),
        case("all-wrong", MELD, ["anger", "joy", "neutral", "neutral", "fear"],
             ["joy", "neutral", "sadness", "anger", "surprise"]),
        case("single-class-right", MELD, ["neutral"] * 5, ["neutral"] * 5),
        case("single-class-gold", MELD, ["neutral"] * 6, ["neutral", "joy", "neutral", "anger", "neutral", "joy"]),
        case("single-class-predicted", MELD, ["neutral", "joy", "anger", "neutral", "fear"], ["neutral"] * 5),
        case("one-pair", MELD, ["fear"], ["disgust"]),
        # anger and disgust in gold, never predicted (precision 0 by convention).
        case("never-predicted", MELD,
             ["anger", "disgust", "joy", "joy", "neutral", "neutral", "neutral", "sadness"],
             ["joy", "neutral", "joy", "joy", "neutral", "neutral", "sadness", "sadness"]),
        # surprise and fear predicted, never gold (weight 0 in the weighted average, but in the macro).
        case("never-gold", MELD,
             ["joy", "joy", "neutral", "neutral", "neutral", "sadness"],
             ["surprise", "joy", "fear", "neutral", "neutral", "sadness"]),
        # gold labels the model does not have (a capitalised label, another scheme's label).
        case("unknown-gold", MELD,
             ["Neutral", "neutral", "joy", "excited", "anger", "Neutral"],
             ["neutral", "neutral", "joy", "joy", "anger", "neutral"]),
        # extra labels sorted by code point: "Z" < "a" < "z" < "Ä"
        case("unknown-gold-order", ["b"], ["\u00c4rger", "z", "a", "Z", "b"], ["b", "b", "b", "b", "b"]),
        case("iemocap-small", IEMOCAP,
             ["ang", "exc", "fru", "hap", "neu", "sad", "fru", "fru", "neu", "exc"],
             ["ang", "hap", "fru", "exc", "neu", "neu", "ang", "fru", "sad", "exc"]),
    ]
    # MELD's test-set class frequencies (neutral-heavy), at the test set's size.
    meld_weights = [345, 68, 50, 402, 1256, 208, 281]
    cases.append(random_case("random-meld-test-size", rng, MELD, 2610, meld_weights, accuracy=0.65))
    cases.append(random_case("random-meld-small", rng, MELD, 37, meld_weights, accuracy=0.5))
    cases.append(random_case("random-meld-rare-absent", rng, MELD, 60, [0, 0, 0, 5, 20, 3, 4], accuracy=0.4))
    cases.append(random_case("random-iemocap", rng, IEMOCAP, 1623, [170, 299, 381, 144, 384, 245], accuracy=0.7))
    cases.append(random_case("random-iemocap-low", rng, IEMOCAP, 200, None, accuracy=0.2))
    many = [f"c{i:02d}" for i in range(20)]  # 8 to 128 classes: numpy's eight-way partial sums
    cases.append(random_case("random-20-classes", rng, many, 500, rng.random(20) + 0.05, accuracy=0.5))
    lots = [f"k{i:03d}" for i in range(150)]  # over 128 classes: numpy's pairwise halves
    cases.append(random_case("random-150-classes", rng, lots, 3000, rng.random(150) + 0.01, accuracy=0.3))
    for seed in range(6):
        n = int(rng.integers(1, 400))
        cases.append(random_case(f"random-mixed-{seed}", rng, MELD, n, rng.random(7) ** 3,
                                 accuracy=float(rng.random())))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f,
                  ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")
    cli_case()


def cli_case():
    with open(os.path.join(CLI, "corpus.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(os.path.join(CLI, "text-meld-reference.json"), encoding="utf-8") as f:
        predicted = [MELD[u["label"]] for u in json.load(f)["official"]]
    header, body = rows[0], rows[1:]
    assert len(body) == len(predicted) == 8
    emotion = header.index("Emotion")
    # right, right, right, wrong, right, (none), wrong, not a model label
    gold = [predicted[0], predicted[1], predicted[2], None, predicted[4], "", None, "Anger"]
    for i, g in enumerate(gold):
        if g is None:
            g = next(label for label in MELD if label != predicted[i])
        body[i][emotion] = g
    extra = list(body[-1])
    extra[header.index("Dialogue_ID")] = "3"
    extra[header.index("Utterance_ID")] = "0"
    extra[header.index("Sr No.")] = "9"
    extra[emotion] = "joy"
    gold_path = os.path.join(CLI, "evaluate-gold.csv")
    with open(gold_path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerows([header] + body + [extra])
    pairs = [(row[emotion], p) for row, p in zip(body, predicted) if row[emotion]]
    expected = case("cli", MELD, [g for g, _ in pairs], [p for _, p in pairs])
    expected.update(records=len(body), evaluated=len(pairs), without_gold=len(body) - len(pairs),
                    gold_rows_without_record=1, predicted_labels=predicted)
    path = os.path.join(CLI, "evaluate-expected.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{gold_path}, {path}: {len(pairs)} scored pairs")


if __name__ == "__main__":
    main()
