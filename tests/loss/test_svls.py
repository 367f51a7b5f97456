"""SVLS against the authors' two-class formulation (mobarakol/SVLS), written here from their code's facts:
a k x k Gaussian (sigma) with the 1 / (2 pi sigma^2) factor, normalised to sum 1, its centre weight replaced by
the sum of the other weights and the whole divided by that sum; one-hot labels replicate-padded by k // 2,
filtered per class and divided by the kernel's sum; then softmax cross-entropy summed over the classes and
averaged over pixels."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from loss.svls import SVLSLoss

INDEX = torch.tensor([0])


def authors_kernel(size: int, sigma: float) -> torch.Tensor:
    grid = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij"), dim=-1).double()
    variance = sigma**2
    gaussian = torch.exp(-((grid - (size - 1) / 2) ** 2).sum(-1) / (2 * variance)) / (2 * math.pi * variance)
    gaussian = gaussian / gaussian.sum()
    neighbours_sum = 1 - gaussian[size // 2, size // 2]
    gaussian[size // 2, size // 2] = neighbours_sum
    return gaussian / neighbours_sum


def authors_loss(two_class_logits: torch.Tensor, labels: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    kernel = authors_kernel(size, sigma)
    one_hot = F.one_hot(labels, num_classes=2).permute(0, 3, 1, 2).double()
    padded = F.pad(one_hot, (size // 2,) * 4, mode="replicate")
    soft = F.conv2d(padded, kernel.expand(2, 1, size, size), groups=2) / kernel.sum()
    return -(soft * F.log_softmax(two_class_logits, dim=1)).sum(dim=1).mean()


@st.composite
def masks_and_logits(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    mask = draw(arrays(np.bool_, shape))
    logits = draw(arrays(np.float64, shape, elements=st.floats(-10, 10)))
    return mask, logits


@pytest.mark.parametrize("size, sigma", [(3, 1.0), (5, 2.0)])
@settings(max_examples=15, deadline=None)
@given(masks_and_logits())
def test_binary_form_equals_the_authors_two_class_cross_entropy(size, sigma, pair) -> None:
    mask, logits = pair
    z = torch.from_numpy(logits)[:, None].requires_grad_()
    ours = SVLSLoss(size, sigma)(z, torch.from_numpy(mask)[:, None].double(), INDEX)
    z_theirs = z.detach().clone().requires_grad_()
    theirs = authors_loss(torch.cat([torch.zeros_like(z_theirs), z_theirs], dim=1), torch.from_numpy(mask).long(),
                          size, sigma)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12, abs=1e-12)
    ours.backward()
    theirs.backward()
    assert torch.allclose(z.grad, z_theirs.grad, rtol=1e-10, atol=1e-14)


def test_default_filter_is_the_authors_3x3_sigma_1_kernel() -> None:
    # Weights of a 3 x 3 Gaussian with sigma 1: centre 1, edges e^-1/2, corners e^-1, before normalising.
    edge, corner = math.exp(-0.5), math.exp(-1.0)
    neighbours = 4 * edge + 4 * corner
    expected = torch.tensor([[corner, edge, corner], [edge, neighbours, edge], [corner, edge, corner]]) / (2 * neighbours)
    kernel = SVLSLoss(3, 1.0).kernel
    assert kernel.shape == (3, 3)
    assert torch.allclose(kernel, expected.double(), atol=1e-15)
    assert torch.allclose(kernel, authors_kernel(3, 1.0) / authors_kernel(3, 1.0).sum(), atol=1e-15)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_a_mask_without_boundary_trains_as_plain_bce(value: float) -> None:
    # The image border is no boundary: replicate padding keeps the targets at exactly 0 or 1 there too.
    logits, gt = torch.randn(2, 1, 7, 5), torch.full((2, 1, 7, 5), value)
    loss = SVLSLoss(3, 1.0)
    assert torch.equal(loss.target(gt), gt)
    assert torch.allclose(loss(logits, gt, INDEX), F.binary_cross_entropy_with_logits(logits, gt), rtol=1e-6)


def test_only_pixels_next_to_a_boundary_get_soft_targets() -> None:
    gt = torch.zeros(1, 1, 5, 6)
    gt[..., :3] = 1  # foreground in columns 0-2, background in 3-5: a vertical edge between columns 2 and 3
    target = SVLSLoss(3, 1.0).target(gt)[0, 0]
    edge, corner = math.exp(-0.5), math.exp(-1.0)
    across = (edge + 2 * corner) / (8 * (edge + corner))  # the weight of the column across the edge
    assert ((target[:, 2:4] > 0) & (target[:, 2:4] < 1)).all()
    assert torch.allclose(target[:, 2], torch.full((5,), 1 - across), atol=1e-6)
    assert torch.allclose(target[:, 3], torch.full((5,), across), atol=1e-6)
    assert torch.equal(target[:, :2], torch.ones(5, 2)) and torch.equal(target[:, 4:], torch.zeros(5, 2))


def test_runs_on_the_device_of_its_inputs() -> None:
    # The meta device has no data: an operand left on the CPU would raise.
    logits, gt = torch.empty(2, 1, 8, 8, device="meta"), torch.empty(2, 1, 8, 8, device="meta")
    loss = SVLSLoss(3, 1.0)(logits, gt, INDEX.to("meta"))
    assert loss.device.type == "meta" and loss.shape == ()


@pytest.mark.parametrize("kernel", [0, 1, 2, 4, -3, 3.0])
def test_rejects_a_kernel_without_centre_and_neighbours(kernel) -> None:
    with pytest.raises(ValueError, match="--svls_kernel must be an odd integer of at least 3"):
        SVLSLoss(kernel, 1.0)


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.nan, math.inf])
def test_rejects_a_sigma_that_is_not_positive(sigma: float) -> None:
    with pytest.raises(ValueError, match="--svls_sigma must be a positive number"):
        SVLSLoss(3, sigma)
