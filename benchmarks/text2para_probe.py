"""How much of a caption's colour-shape content survives Text2Para's six parameters?

Probes (sklearn: a logistic regression per colour-shape label, and one MLP 128-128 for all 32
labels) are fitted on train-split scenes and scored on test-split scenes, reading either the
384-d caption embedding or the six text parameters that SCVAR's Text2Para makes of it. The
score is the mean per-scene F1 of the predicted colour-shape pairs against the scene graph's
(the `colour-shape` group of `semantic_acc`, on ground truth instead of the recogniser). A
probe that reads the pairs from the embedding but not from the parameters locates the loss in
Text2Para, not in the generator. A last line trains a fresh Text2Para on the same captions for the
pairs alone (the auxiliary loss of `train.text_aux_weight`): what six numbers can hold.

    python benchmarks/text2para_probe.py [--checkpoint scvar-scenes64] [--train 4000] [--test 1000]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from gscsim.data.scenes.attributes import f1
from gscsim.data.scenes.dataset import scene_at
from gscsim.nn.text_encoder import embed
from gscsim.scvar.model import Text2Para
from gscsim.scvar.train import ColourShapeHead, colour_shape_targets, text_aux_loss
from gscsim.scvar.zoo import load_scvar


def split_features(split: str, count: int, text2para) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Embeddings [N, 384] and text parameters [N, 6] of a split's first `count` captions, and
    their scenes' colour-shape labels [N, 32]."""
    scenes = [scene_at(split, i) for i in range(count)]
    embedding = embed([c for _, c in scenes])
    with torch.no_grad():
        params = text2para(embedding)
    truth = colour_shape_targets(split, count).numpy()
    return {"caption embedding (384)": embedding.numpy(),
            "text parameters (6)": params.numpy()}, truth


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Labels [N, 32] predicted by one logistic regression per label (0 where a label never
    varies in training)."""
    predicted = np.zeros((len(test_x), train_y.shape[1]), np.float32)
    for j in range(train_y.shape[1]):
        if train_y[:, j].min() != train_y[:, j].max():
            probe = LogisticRegression(max_iter=2000).fit(train_x, train_y[:, j])
            predicted[:, j] = probe.predict(test_x)
    return predicted


def mlp_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Labels [N, 32] predicted by one multi-label MLP (hidden 128-128, seed 0)."""
    probe = MLPClassifier((128, 128), max_iter=500, random_state=0).fit(train_x, train_y)
    return probe.predict(test_x).astype(np.float32)


def six_numbers_trained_for_it(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                               steps: int = 3000) -> np.ndarray:
    """Labels [N, 32] from a fresh Text2Para + ColourShapeHead trained on the embeddings for the
    colour-shape pairs alone (AdamW lr 2e-3, batch 256, seed 0)."""
    torch.manual_seed(0)
    text2para, head = Text2Para(), ColourShapeHead(6)
    opt = torch.optim.AdamW([*text2para.parameters(), *head.parameters()], lr=2e-3)
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y).float()
    for _ in range(steps):
        rows = torch.randint(len(x), (256,))
        loss = text_aux_loss(text2para, head, x[rows], y[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (head(text2para(torch.from_numpy(test_x))) > 0).float().numpy()


def mean_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(f1(torch.from_numpy(predicted), torch.from_numpy(truth)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="scvar-scenes64")
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    _, text2para, _, _ = load_scvar(args.checkpoint)
    text2para.eval()
    train_x, train_y = split_features("train", args.train, text2para)
    test_x, test_y = split_features("test", args.test, text2para)
    print(f"{args.checkpoint}: probes fitted on {args.train} train captions, scored on "
          f"{args.test} test scenes (colour-shape pairs per scene: {test_y.sum(1).mean():.2f})")
    print("| probe reads | colour-shape F1, linear | colour-shape F1, MLP |\n|---|---|---|")
    for name in train_x:
        scores = [mean_f1(probe(train_x[name], train_y, test_x[name]), test_y)
                  for probe in (linear_probe, mlp_probe)]
        print(f"| {name} | {scores[0]:.3f} | {scores[1]:.3f} |")
    name = "caption embedding (384)"
    bound = mean_f1(six_numbers_trained_for_it(train_x[name], train_y, test_x[name]), test_y)
    print(f"A fresh Text2Para trained on these captions for the pairs alone: colour-shape F1 "
          f"{bound:.3f} from its six numbers")


if __name__ == "__main__":
    main()
