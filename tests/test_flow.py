import math

import numpy as np
import pytest
import torch
from FrEIA.modules import AllInOneBlock

from ssflow.settings.config import FlowConfig
from ssflow.model.flow import HardPermutationBlock, MultiScaleFlow, image_nll_per_dim, position_energy
from ssflow.model.subnets import subnet_constructor


def _perturbed_flow(pattern: str = "CA", seed: int = 0) -> MultiScaleFlow:
    flow = MultiScaleFlow([8, 12], FlowConfig(coupling_blocks=3, block_pattern=pattern, hidden_channels=16,
                                              attention_heads=4), seed=seed)
    # The last subnet layer starts at zero (identity flow); give it weights so the test means something.
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(1)
        for parameter in flow.parameters():
            if parameter.requires_grad:  # the fixed permutations must stay orthogonal
                parameter.add_(0.05 * torch.randn_like(parameter))
    return flow.eval()


def _features(n: int = 3) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(n, 8, 6, 6, generator=generator), torch.randn(n, 12, 3, 3, generator=generator)]


@pytest.mark.parametrize("pattern", ["C", "A", "CA", "CCA"])
def test_flow_inverse_reconstructs_input(pattern):
    flow = _perturbed_flow(pattern)
    x = _features()
    with torch.no_grad():
        output = flow(x)
        back = flow.inverse(output.z)
    assert any((z - xi).abs().max() > 1e-2 for z, xi in zip(output.z, x)), "flow must not be the identity"
    for original, rebuilt in zip(x, back):
        torch.testing.assert_close(rebuilt, original, atol=1e-4, rtol=1e-4)


def test_log_det_matches_numerical_jacobian():
    flow = MultiScaleFlow([4], FlowConfig(coupling_blocks=2, block_pattern="C", hidden_channels=8), seed=0)
    with torch.no_grad():
        for parameter in flow.parameters():
            if parameter.requires_grad:
                parameter.add_(0.1 * torch.randn_like(parameter))
    flow = flow.double().eval()
    x = torch.randn(1, 4, 2, 2, dtype=torch.float64)
    log_det = flow([x]).log_jac_det[0]

    def mapping(flat: torch.Tensor) -> torch.Tensor:
        return flow([flat.view(1, 4, 2, 2)]).z[0].flatten()

    jacobian = torch.autograd.functional.jacobian(mapping, x.flatten())
    sign, numerical = torch.linalg.slogdet(jacobian)
    assert sign.item() > 0
    assert log_det.item() == pytest.approx(numerical.item(), abs=1e-6)


def test_nll_sign_and_scale():
    flow = _perturbed_flow("C")
    with torch.no_grad():
        output = flow(_features())
    nll = image_nll_per_dim(output)
    z_term = sum((0.5 * z.pow(2) + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1) for z in output.z)
    dims = sum(z[0].numel() for z in output.z)
    expected = (z_term - sum(output.log_jac_det)) / dims
    torch.testing.assert_close(nll, expected)
    # An expanding flow (log det > 0) makes data more likely: NLL must go down with log det.
    assert (nll < z_term / dims).tolist() == (sum(output.log_jac_det) > 0).tolist()


def test_position_energy_shapes():
    output = _perturbed_flow("C")(_features(2))
    assert [tuple(e.shape) for e in position_energy(output)] == [(2, 6, 6), (2, 3, 3)]


def test_construction_is_seeded_and_leaves_global_rng_alone():
    import numpy as np

    state = np.random.get_state()[1].copy()
    a = MultiScaleFlow([8], FlowConfig(coupling_blocks=2), seed=3)
    b = MultiScaleFlow([8], FlowConfig(coupling_blocks=2), seed=3)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(pa, pb, msg=name)
    assert (np.random.get_state()[1] == state).all()


def test_hard_permutation_block_equals_freia_block_in_both_directions():
    def block(cls):
        with torch.random.fork_rng():
            torch.manual_seed(3)
            np_state = np.random.get_state()
            np.random.seed(3)  # FrEIA draws the permutation from numpy's global generator
            try:
                return cls([(12, 5, 5)], subnet_constructor=subnet_constructor("C", 16), affine_clamping=2.0,
                           **({} if cls is HardPermutationBlock else {"permute_soft": False}))
            finally:
                np.random.set_state(np_state)

    ours, freia = block(HardPermutationBlock), block(AllInOneBlock)
    with torch.no_grad():
        for module in (ours, freia):
            module.global_offset.add_(0.3)
            module.subnet.project_out.weight.fill_(0.02)
    assert ours.state_dict().keys() == freia.state_dict().keys()
    x = torch.randn(2, 12, 5, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        (z_ours,), jac_ours = ours([x])
        (z_freia,), jac_freia = freia([x])
        (back,), _ = ours([z_ours], rev=True)
    assert not torch.equal(z_ours, x)
    assert torch.equal(z_ours, z_freia)
    assert torch.equal(jac_ours, jac_freia)
    torch.testing.assert_close(back, x, atol=1e-5, rtol=1e-5)
