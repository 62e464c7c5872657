"""The ResNet family against timm's own implementation (timm 1.x, pretrained=False: no download).

The walk over every model checks, on the meta device, that the spec read off timm's model is the
one timm_family.json records as verified (or that the file says why it cannot be expressed), with
equal parameter counts. Outputs and MACs are compared for the smallest model of each distinct set
of options; `python -m explorer.arch.timm_family` compares them for all 95 (2.5 minutes here) and wrote
the file.
"""

import pytest

from explorer import plan_network
from explorer.arch import timm_family as tf
from explorer.arch.presets import FAMILY, PRESETS, TIMM_PRESETS, UNEXPRESSED
from explorer.arch.reference import timm_twin, verified_against
from explorer.arch.spec import ResNetSpec

NAMES = [*tf.resnet_names(), *tf.V2_NAMES]


def _options(spec: ResNetSpec) -> set[tuple[str, str]]:
    """What distinguishes a family member beyond its depth and widths, one (field, value) each."""
    data = spec.to_dict() | {"stem": (spec.stem.kind, spec.stem.pool, spec.stem.norm)}
    skip = ("stages", "width_per_group", "groups", "input")
    return {(k, str(v)) for k, v in data.items() if k not in skip} | {
        ("grouped", str(spec.groups > 1)),
        ("wide", str(spec.width_per_group > 64)),
    }


def _representatives() -> list[str]:
    """The smallest members that between them show every option value (a greedy cover)."""
    by_size = sorted(FAMILY, key=lambda name: plan_network(FAMILY[name]).macs)
    chosen, covered = [], set()
    for name in by_size:
        for option in sorted(_options(FAMILY[name]) - covered):
            first = next(n for n in by_size if option in _options(FAMILY[n]))
            if first not in chosen:
                chosen.append(first)
                covered |= _options(FAMILY[first])
    return sorted(chosen)


def test_every_timm_resnet_is_verified_or_explained(record_property):
    results = [tf.structure(name, macs=False) for name in NAMES]
    for r in results:
        if r.spec is None:
            assert UNEXPRESSED.get(r.name) == r.reason, r.name
        else:
            assert FAMILY.get(r.name) == r.spec, f"{r.name}: timm_family.json is stale; run --write"
            assert r.params[0] == r.params[1], r.name
    assert set(FAMILY) | set(UNEXPRESSED) == set(NAMES)
    in_resnet = [r for r in results if not r.name.startswith("resnetv2")]
    covered = sum(r.name in FAMILY for r in in_resnet)
    v2 = f"resnetv2: {len(FAMILY) - covered} of {len(tf.V2_NAMES)}"
    record_property("report", f"timm coverage: {covered} of {len(in_resnet)} ({v2})")
    record_property("report", "not expressed: " + "; ".join(f"{name}: {why}" for name, why in UNEXPRESSED.items()))
    assert len(in_resnet) == 81 and covered >= 70


@pytest.mark.parametrize("name", _representatives())
def test_outputs_parameters_and_macs_equal_timms(name):
    """Strict load of timm's randomised weights (BN statistics too), eval-mode logits within 1e-5
    at 64 and 97 px, parameters and MACs (torch's FLOP counter on timm's model) equal the plan's."""
    r = tf.check(name)
    assert r.spec == FAMILY[name]
    assert r.params[0] == r.params[1] and r.macs[0] == r.macs[1], r
    assert r.max_diff <= tf.TOLERANCE, r


def test_the_representatives_cover_every_option():
    covered = set().union(*(_options(FAMILY[name]) for name in _representatives()))
    everything = set().union(*(_options(spec) for spec in FAMILY.values()))
    assert covered == everything
    assert {"se", "eca"} <= {FAMILY[n].attention for n in _representatives()}
    assert {"avg", "blur"} <= {FAMILY[n].anti_alias for n in _representatives()}


@pytest.mark.parametrize("name", TIMM_PRESETS)
def test_timm_presets_are_the_verified_specs(name):
    assert PRESETS[name] == FAMILY[name] and timm_twin(PRESETS[name]) == name
    assert verified_against(plan_network(PRESETS[name])) is None  # timm's, not torchvision's


def test_torchvision_presets_are_verified_by_both():
    resnet50 = PRESETS["resnet50"]
    assert verified_against(plan_network(resnet50)).name == "resnet50" and timm_twin(resnet50) == "resnet50"
    mini = PRESETS["resnet-mini"]
    assert verified_against(plan_network(mini)) is None and timm_twin(mini) is None
