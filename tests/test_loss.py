import pytest
import torch

from ssflow.settings.config import LossConfig
from ssflow.model.flow import FlowOutput
from ssflow.model.loss import constrained_loss, hinge_loss, self_supervised_loss


def test_constrained_keeps_only_synthetic_samples_below_the_bound():
    normal = torch.tensor([1.0, 2.0])
    synthetic = torch.tensor([1.5, 2.4, 3.0, float("inf")])
    loss, kept = constrained_loss(normal, synthetic, LossConfig(kind="constrained", weight=0.5, margin=0.5))
    # bound = max normal (2.0) + margin 0.5: keeps 1.5 and 2.4.
    assert kept == pytest.approx(0.5)
    assert loss.item() == pytest.approx(0.5 * 1.5 - 0.5 * (1.5 + 2.4) / 2)


def test_constrained_with_nothing_kept_is_maximum_likelihood():
    normal = torch.tensor([1.0, 2.0])
    loss, kept = constrained_loss(normal, torch.tensor([5.0]), LossConfig(kind="constrained", margin=0.0))
    assert kept == 0.0
    assert loss.item() == pytest.approx(1.5)


def test_hinge_stops_pushing_past_the_margin():
    normal = torch.tensor([1.0, 3.0])  # mean 2
    synthetic = torch.tensor([2.5, 4.0], requires_grad=True)
    loss, active = hinge_loss(normal, synthetic, LossConfig(kind="hinge", weight=0.5, margin=1.0))
    assert loss.item() == pytest.approx(0.5 * 2.0 + 0.5 * (0.5 + 0.0) / 2)
    assert active == pytest.approx(0.5)
    loss.backward()
    assert synthetic.grad[1].item() == 0.0 and synthetic.grad[0].item() < 0


def test_pixel_hinge_pushes_only_masked_positions():
    z_normal = torch.zeros(1, 2, 4, 4)
    z_synthetic = torch.zeros(1, 2, 4, 4, requires_grad=True)
    output = FlowOutput([torch.cat([z_normal, z_synthetic])], [torch.zeros(2)])
    masks = torch.zeros(1, 1, 16, 16)
    masks[..., :8, :8] = 1.0  # the top-left quarter: positions (0..1, 0..1) at 4x4
    result = self_supervised_loss(output, 1, masks, LossConfig(kind="pixel_hinge", weight=0.5, margin=1.0))
    result.loss.backward()
    moved = z_synthetic.grad.abs().sum(1)[0] > 0
    # z = 0 has zero gradient for 0.5 z^2, so look at which positions enter the hinge instead.
    assert result.active == pytest.approx(1.0)
    assert not moved.any()  # gradient of z^2 at 0 is 0; the loss value carries the hinge
    expected_nll = 0.5 * torch.log(torch.tensor(2 * torch.pi)).item()
    assert result.loss.item() == pytest.approx(0.5 * expected_nll + 0.5 * 1.0)


def test_pixel_hinge_gradient_points_masked_latents_away_from_zero():
    z_normal = torch.zeros(1, 2, 4, 4)
    z_synthetic = torch.full((1, 2, 4, 4), 0.1, requires_grad=True)
    output = FlowOutput([torch.cat([z_normal, z_synthetic])], [torch.zeros(2)])
    masks = torch.zeros(1, 1, 16, 16)
    masks[..., :8, :8] = 1.0
    result = self_supervised_loss(output, 1, masks, LossConfig(kind="pixel_hinge", weight=0.5, margin=1.0))
    result.loss.backward()
    grad = z_synthetic.grad[0].abs().sum(0)
    assert (grad[:2, :2] > 0).all()
    assert (grad[2:, :] == 0).all() and (grad[:, 2:] == 0).all()
    assert (z_synthetic.grad[0, :, :2, :2] < 0).all()  # descending raises |z| there


def test_all_kinds_give_finite_losses():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(4, 3, 4, 4, generator=generator)
    output = FlowOutput([z], [torch.zeros(4)])
    masks = torch.zeros(2, 1, 16, 16)
    masks[:, :, 4:12, 4:12] = 1
    for kind in ("constrained", "hinge", "pixel_hinge"):
        result = self_supervised_loss(output, 2, masks, LossConfig(kind=kind))
        assert torch.isfinite(result.loss)
