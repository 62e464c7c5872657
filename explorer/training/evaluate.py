"""The test set's pass after an epoch: loss, accuracy and, after the last, the confusion matrix and
the first misclassified images (kept with the run). Sharded over the processes of a distributed
run; their sums are combined before any number is read."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import DeviceBatches
from .distributed import World

MISCLASSIFIED_KEPT = 32


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: DeviceBatches, autocast: Any, classes: int, batch_size: int, world: World, final: bool
) -> dict[str, Any]:
    """{"loss", "acc", "confusion" (final only), "misclassified" (final, main process only)}."""
    model.eval()
    device, k = next(model.parameters()).device, classes
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    confusion = torch.zeros(k * k, device=device, dtype=torch.int64)
    wrong = []
    # the training batch size, so the convolutions reuse the kernels cuDNN already chose
    for idx, x, y in batches.test_batches(batch_size, world.rank, world.size):
        with autocast:
            out = model(x)
        out = out.float()
        loss_sum += F.cross_entropy(out, y, reduction="sum")
        pred = out.argmax(1)
        correct += (pred == y).sum()
        confusion += torch.bincount(y * k + pred, minlength=k * k)
        if final and world.is_main and sum(len(w[0]) for w in wrong) < MISCLASSIFIED_KEPT:
            miss = pred != y
            wrong.append((idx[miss], y[miss], pred[miss]))
    n = torch.tensor(float(len(batches.data.y_test)), device=device)
    loss_sum, correct = world.sum(loss_sum, correct)
    confusion = world.sum_tensor(confusion)
    result = {"loss": float(loss_sum) / float(n), "acc": float(correct) / float(n), "confusion": None}
    result["misclassified"] = []
    if final:
        result["confusion"] = confusion.view(k, k).tolist()
        for idx, true, pred in wrong:
            for i, t, p in zip(idx.tolist(), true.tolist(), pred.tolist(), strict=True):
                image = batches.data.x_test[i].cpu()
                result["misclassified"].append({"index": i, "true": t, "pred": p, "image": image})
        result["misclassified"] = result["misclassified"][:MISCLASSIFIED_KEPT]
    return result
