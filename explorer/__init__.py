"""ResNet Explorer's library: describe a ResNet, analyse it, build it, export it. No UI here.

>>> import explorer
>>> spec = explorer.preset("d2l-resnet18")
>>> explorer.analyze(spec).total_params
11178378
"""

from .arch.analysis import Analysis, LayerInfo, StageInfo, analyze, analyze_plan
from .arch.checkpoint import load_state_dict, spec_from_state_dict
from .arch.codegen import to_code
from .arch.export import to_onnx
from .arch.layers import BlockPlan, LayerPlan, NetworkPlan, StagePlan
from .arch.model import build_model, init_weights
from .arch.plan import ShapeMismatchError, check, plan_network
from .arch.presets import DEFAULT_PRESET, PRESETS, TORCHVISION_PRESETS, preset
from .arch.spec import InputSpec, ResNetSpec, SpecError, StageSpec, StemSpec, spec_from_dict, spec_from_json

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "TORCHVISION_PRESETS",
    "Analysis",
    "BlockPlan",
    "InputSpec",
    "LayerInfo",
    "LayerPlan",
    "NetworkPlan",
    "ResNetSpec",
    "ShapeMismatchError",
    "SpecError",
    "StageInfo",
    "StagePlan",
    "StageSpec",
    "StemSpec",
    "analyze",
    "analyze_plan",
    "build_model",
    "check",
    "init_weights",
    "plan_network",
    "preset",
    "spec_from_dict",
    "spec_from_json",
    "spec_from_state_dict",
    "spec_from_timm",
    "load_state_dict",
    "to_code",
    "to_onnx",
]


def spec_from_timm(name: str, input_size: tuple[int, int] = (224, 224)) -> ResNetSpec:
    """The spec of timm's model `name`, read off timm's own model (timm must be installed)."""
    from .arch.timm_family import spec_from_timm as read

    return read(name, input_size)
