"""The step's lr schedule between epochs."""
import pytest
import torch

from training.step import decay_lr


def test_lr_decay_compounds_after_every_epoch():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    lrs = []
    for epoch in range(1, 31):
        decay_lr(optimizer, epoch, 0.95, 10)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[8] == 1.0  # after epoch 9
    assert lrs[9] == pytest.approx(0.95)  # after epoch 10
    assert lrs[18] == pytest.approx(0.95 ** 10)  # after epoch 19
    assert lrs[19] == pytest.approx(0.95 ** 10 * 0.95 ** 2)  # after epoch 20
