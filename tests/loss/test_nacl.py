"""NACL's binary form against monai.losses.NACLLoss on the two-class logits [0, z], value and gradient."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from monai.losses import NACLLoss as MonaiNACLLoss

from loss.nacl import NACLLoss

INDEX = torch.tensor([0])


@st.composite
def masks_and_logits(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    mask = draw(arrays(np.bool_, shape))
    logits = draw(arrays(np.float32, shape, elements=st.floats(-10, 10, width=32)))
    return mask, logits


@pytest.mark.parametrize("kernel, weight", [(3, 0.1), (1, 0.5), (5, 2.0)])
@settings(max_examples=15, deadline=None)
@given(masks_and_logits())
def test_binary_form_equals_monai_on_two_class_logits(kernel: int, weight: float, pair) -> None:
    mask, logits = pair
    z = torch.from_numpy(logits)[:, None].requires_grad_()
    ours = NACLLoss(kernel, weight)(z, torch.from_numpy(mask)[:, None].float(), INDEX)
    z_theirs = z.detach().clone().requires_grad_()
    theirs = MonaiNACLLoss(classes=2, dim=2, kernel_size=kernel, alpha=weight)(
        torch.cat([torch.zeros_like(z_theirs), z_theirs], dim=1), torch.from_numpy(mask).long())
    # float32 sums over up to 2 x 2 x 64 values, in a different order: a few ulps of a loss of order 1-10.
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6, abs=1e-6)
    ours.backward()
    theirs.backward()
    assert torch.allclose(z.grad, z_theirs.grad, rtol=1e-5, atol=1e-7)


def test_hand_value_on_a_3x3_image() -> None:
    # One foreground pixel in the centre of a 3 x 3 image, logits 0 but the centre's, 2. With kernel 3 the
    # foreground proportion m is 1/9 everywhere; the background one b is (n - m * 9) / 9 for a pixel whose
    # window holds n pixels of the image (4 at a corner, 6 at an edge, 9 in the centre).
    logits = torch.zeros(1, 1, 3, 3)
    logits[..., 1, 1] = 2.0
    gt = torch.zeros(1, 1, 3, 3)
    gt[..., 1, 1] = 1.0
    bce = (8 * math.log(2) + math.log(1 + math.exp(-2.0))) / 9
    distance = (8 / 9 + (2 - 1 / 9)) / 9
    background = (4 * 3 / 9 + 4 * 5 / 9 + 8 / 9) / 9
    expected = bce + 0.1 * (distance + background) / 2
    assert NACLLoss(3, 0.1)(logits, gt, INDEX).item() == pytest.approx(expected, rel=1e-6)


def test_zero_weight_is_plain_bce() -> None:
    logits, gt = torch.randn(2, 1, 6, 6), (torch.rand(2, 1, 6, 6) > 0.5).float()
    assert torch.equal(NACLLoss(3, 0.0)(logits, gt, INDEX), F.binary_cross_entropy_with_logits(logits, gt))


def test_runs_on_the_device_of_its_inputs() -> None:
    # The meta device has no data: an operand left on the CPU would raise.
    logits, gt = torch.empty(2, 1, 8, 8, device="meta"), torch.empty(2, 1, 8, 8, device="meta")
    loss = NACLLoss(3, 0.1)(logits, gt, INDEX.to("meta"))
    assert loss.device.type == "meta" and loss.shape == ()


@pytest.mark.parametrize("kernel", [0, 2, 4, -3, 3.0])
def test_rejects_a_kernel_without_a_centre(kernel) -> None:
    with pytest.raises(ValueError, match="--nacl_kernel must be an odd positive integer"):
        NACLLoss(kernel, 0.1)


@pytest.mark.parametrize("weight", [-0.1, math.nan, math.inf])
def test_rejects_a_negative_or_infinite_weight(weight: float) -> None:
    with pytest.raises(ValueError, match="--nacl_weight must be a number of at least 0"):
        NACLLoss(3, weight)
