"""d2l-resnet18 is exactly d2l's network: same parameters, same function, same shapes."""

import torch

import explorer
from explorer import build_model, plan_network

from .seed_d2l import seed_net, seed_to_explorer_names


def test_parameter_count_matches_seed():
    seed = seed_net()
    ours = build_model(explorer.preset("d2l-resnet18"))
    n = sum(p.numel() for p in seed.parameters())
    assert n == sum(p.numel() for p in ours.parameters()) == 11_178_378


def test_same_weights_compute_the_same_function():
    torch.manual_seed(0)
    seed = seed_net()
    ours = build_model(explorer.preset("d2l-resnet18"))
    ours.load_state_dict(seed_to_explorer_names(seed.state_dict()), strict=True)
    x = torch.rand(4, 1, 96, 96)
    for mode in ("train", "eval"):
        getattr(seed, mode)()
        getattr(ours, mode)()
        with torch.no_grad():
            torch.testing.assert_close(ours(x), seed(x), rtol=0, atol=1e-6)


def test_stage_shapes_as_the_seed_prints_them_at_224():
    # d2l's printout: 64x56x56, 64x56x56, 128x28x28, 256x14x14, 512x7x7, then (10,)
    plan = plan_network(explorer.preset("d2l-resnet18").with_input(1, 224, 224))
    assert [s.out_shape for s in plan.parts] == [
        (64, 56, 56),
        (64, 56, 56),
        (128, 28, 28),
        (256, 14, 14),
        (512, 7, 7),
        (10, 1, 1),
    ]
    x = torch.rand(1, 1, 224, 224)
    for layer, stage in zip(seed_net(), plan.parts[:5], strict=False):
        x = layer(x)
        assert tuple(x.shape[1:]) == stage.out_shape


def test_seed_residual_cell_shapes():
    # d2l's In[2]/In[3]: Residual(3,3) keeps 3x6x6; Residual(3,6,use_1x1conv,strides=2) gives 6x3x3.
    spec = explorer.spec_from_dict(
        {
            "input": {"channels": 3, "height": 6, "width": 6},
            "stem": {"kind": "cifar", "width": 3},
            "stages": [{"blocks": 1, "channels": 3, "stride": 1}, {"blocks": 1, "channels": 6, "stride": 2}],
            "conv_bias": True,
            "shortcut_bn": False,
        }
    )
    blocks = plan_network(spec).blocks
    assert (blocks[0].in_shape, blocks[0].out_shape, blocks[0].shortcut) == ((3, 6, 6), (3, 6, 6), "identity")
    assert (blocks[1].out_shape, blocks[1].shortcut) == ((6, 3, 3), "projection")
