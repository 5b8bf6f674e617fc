"""The learning task: softmax regression on synthetic, slightly non-IID data (numpy only)."""

from __future__ import annotations

import numpy as np

FEATURES, CLASSES = 10, 3


def _centers() -> np.ndarray:
    # Fixed class centres shared by every node (a public constant of the task).
    return np.linspace(-1.5, 1.5, CLASSES * FEATURES).reshape(CLASSES, FEATURES) * np.array(
        [[1.0], [-1.0], [0.5]]
    )


def load_data(partition_id: int, num_partitions: int) -> tuple[np.ndarray, ...]:
    """This node's train and test split (deterministic per partition; synthetic data only)."""
    gen = np.random.default_rng(7919 * (partition_id + 1))
    n = 120 + 30 * (partition_id % 4)
    # Each node over-represents one class: a little non-IID.
    probs = np.full(CLASSES, 1.0)
    probs[partition_id % CLASSES] = 2.0
    y = gen.choice(CLASSES, size=n, p=probs / probs.sum())
    x = _centers()[y] + gen.normal(0, 1.0, (n, FEATURES))
    cut = int(0.8 * n)
    return x[:cut], y[:cut], x[cut:], y[cut:]


def initial_model() -> list[np.ndarray]:
    return [np.zeros((FEATURES, CLASSES), np.float32), np.zeros(CLASSES, np.float32)]


def _probs(model: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    logits = x @ model[0] + model[1]
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def train(
    model: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float
) -> list[np.ndarray]:
    """Full-batch gradient descent on the cross-entropy."""
    w, b = model[0].astype(np.float64), model[1].astype(np.float64)
    onehot = np.eye(CLASSES)[y]
    for _ in range(epochs):
        p = _probs([w, b], x)
        g = (p - onehot) / len(x)
        w -= lr * x.T @ g
        b -= lr * g.sum(axis=0)
    return [w.astype(np.float32), b.astype(np.float32)]


def evaluate(model: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(loss, accuracy)``."""
    p = _probs(model, x)
    loss = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
    return loss, float(np.mean(p.argmax(axis=1) == y))
