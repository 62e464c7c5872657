"""ResNet Explorer's library: describe a ResNet, analyse it, build it, export it. No UI here.

>>> import explorer
>>> spec = explorer.preset("d2l-resnet18")
>>> explorer.analyze(spec).total_params
11178378
"""

from .analysis import Analysis, LayerInfo, StageInfo, analyze, analyze_plan
from .codegen import to_code
from .model import build_model, init_weights
from .plan import BlockPlan, LayerPlan, NetworkPlan, ShapeMismatchError, StagePlan, plan_network
from .presets import DEFAULT_PRESET, PRESETS, TORCHVISION_PRESETS, preset
from .spec import InputSpec, ResNetSpec, SpecError, StageSpec, StemSpec, spec_from_dict, spec_from_json

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
    "init_weights",
    "plan_network",
    "preset",
    "spec_from_dict",
    "spec_from_json",
    "to_code",
]
