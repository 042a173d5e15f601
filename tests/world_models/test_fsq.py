import pytest
import torch

from cosmos_sim.world_models.fsq import FSQ


def test_codebook_size_and_grid_values():
    fsq = FSQ([8, 8, 8, 5, 5, 5])
    assert fsq.codebook_size == 64_000 and fsq.dim == 6
    z = torch.linspace(-20, 20, 2001).view(-1, 1).expand(-1, 6).contiguous()
    codes = fsq(z)
    # Even levels (8): the grid is {-4..3}/4; odd levels (5): {-2..2}/2; every value is reached.
    assert sorted(codes[:, 0].unique().tolist()) == [v / 4 for v in range(-4, 4)]
    assert sorted(codes[:, 5].unique().tolist()) == [v / 2 for v in range(-2, 3)]


def test_indices_round_trip_every_code():
    fsq = FSQ([3, 4, 5])
    ids = torch.arange(fsq.codebook_size)
    codes = fsq.indices_to_codes(ids)
    assert codes.shape == (60, 3) and codes.abs().max() <= 1
    assert torch.equal(fsq.codes_to_indices(codes), ids)
    assert len({tuple(c) for c in codes.tolist()}) == 60  # a bijection


def test_straight_through_gradient_and_spatial_layout():
    fsq = FSQ([8, 5])
    z = torch.randn(2, 2, 4, 4, requires_grad=True)
    q = fsq(z)
    q.sum().backward()
    assert z.grad is not None and (z.grad > 0).all()  # tanh' > 0 passes through the rounding
    ids = fsq.codes_to_indices(q)
    assert ids.shape == (2, 4, 4) and torch.allclose(fsq.indices_to_codes(ids), q)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="levels"):
        FSQ([8, 1])
    fsq = FSQ([8, 5])
    with pytest.raises(ValueError, match=r"\(B, 2, \.\.\.\)"):
        fsq(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"\[0, 40\)"):
        fsq.indices_to_codes(torch.tensor([40]))
    with pytest.raises(ValueError, match="integer"):
        fsq.indices_to_codes(torch.tensor([1.0]))
