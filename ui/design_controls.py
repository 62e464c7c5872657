"""The Design page's controls: every field of a spec in the sidebar, the stage table, and the
callbacks that load a spec into them (a file, the tutor's one-click projection)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import PRESETS, ShapeMismatchError, SpecError, check, fmt, spec_from_json
from explorer.arch.presets import FAMILY, preset
from explorer.arch.share import closest_preset
from explorer.arch.spec import (
    ACTIVATIONS,
    ANTI_ALIASES,
    ATTENTIONS,
    BLOCKS,
    BOTTLENECKS,
    MAX_JSON_BYTES,
    NORMS,
    SHORTCUT_HELP,
    SHORTCUT_NAME,
    SHORTCUTS,
    STEM_POOLS,
    STEMS,
    STRIDE_ON,
)
from ui import state, uploads
from ui.text import plain


def load_upload() -> None:
    file = st.session_state.get("d_upload")
    if file is None:
        return
    try:
        if file.size > MAX_JSON_BYTES:
            uploads.drop(file)  # from the server's memory now, not when the session ends
            raise SpecError("spec", f"{file.size:,} bytes; a spec file may be at most {MAX_JSON_BYTES:,}")
        spec = spec_from_json(file.getvalue())
        check(spec)
    except SpecError as exc:
        st.session_state.d_upload_error = plain(f"{file.name}: {exc}")
        return
    state.load_into_widgets(spec, closest_preset(spec))
    st.session_state.d_upload_error = None


def use_projection(stage: int, stage_override: bool) -> None:
    """The tutor's one-click fix: a 1x1 projection where the shapes differ (d2l's use_1x1conv)."""
    if stage_override:
        frame = st.session_state.d_stages_current.copy()
        frame.loc[frame.index[stage], "shortcut"] = "B"
        st.session_state.d_stages_base = frame.reset_index(drop=True)
        st.session_state.d_stages_ver += 1
    else:
        st.session_state.d_shortcut = "B"


def family_options(bottleneck: bool) -> None:
    """The options timm's ResNets add (each named as timm and the papers name it)."""
    c1, c2 = st.columns(2)
    c1.selectbox("Norm", NORMS, key="d_norm", help="group: GroupNorm, 32 groups (resnet50_gn); frozen: fixed BN")
    c2.selectbox("Activation", ACTIVATIONS, key="d_act")
    c1.selectbox("Attention", ATTENTIONS, key="d_attn", help="se: squeeze-and-excitation (SENet); eca: ECA-Net")
    c2.number_input("SE reduction", key="d_se", min_value=1, step=1, help="16 in SENet, 4 in ResNet-RS")
    c1.selectbox("Anti-aliasing", ANTI_ALIASES, key="d_aa", help="blur before subsampling (Zhang 2019)")
    c2.selectbox("Stride on", STRIDE_ON, key="d_stride_on", disabled=not bottleneck, help="1x1: He et al.'s v1")
    pools = [None, *STEM_POOLS]
    c1.selectbox("Stem pool", pools, key="d_stem_pool", format_func=lambda p: p or "the stem's own",
                 help="conv: a strided 3x3 conv instead of the max-pool (ResNet-RS)")  # fmt: skip
    c2.toggle("Stem norm", key="d_stem_norm", help="Norm and activation after the stem; off in ResNetV2")
    strides = sorted({None, 8, 16, 32, st.session_state.d_os}, key=lambda v: v or 0)
    c1.selectbox("Output stride", strides, key="d_os", format_func=lambda v: "no dilation" if v is None else str(v),
                 help="Past it, strides become dilation (segmentation and detection backbones)")  # fmt: skip
    c2.number_input("First conv ÷", key="d_reduce", min_value=1, step=1, help="SENet-154: 2")
    c1.number_input("Projection kernel", key="d_skipk", min_value=1, max_value=3, step=2, help="SENet-154: 3")
    c2.number_input("Drop path", key="d_droppath", min_value=0.0, max_value=0.9, step=0.05, help="stochastic depth")
    c1.number_input("Dropout", key="d_dropout", min_value=0.0, max_value=0.9, step=0.05, help="before the classifier")


def sidebar(lecture: bool) -> pd.DataFrame:
    """Draw the controls in the sidebar; returns the stage table as edited."""
    with st.sidebar:
        st.header("Network")
        picked = st.selectbox(
            "Start from a preset",
            [*PRESETS, *sorted(set(FAMILY) - set(PRESETS))],
            key="d_preset",
            help="Loads a preset, or any of timm's verified ResNets (type to search), into the controls below.",
        )
        if picked != st.session_state.d_loaded_preset:
            state.load_into_widgets(preset(picked), picked, set_picker=False)
        with st.expander("Input and classes", expanded=not lecture):
            c1, c2, c3 = st.columns(3)
            c1.number_input("Channels", key="d_in_c", step=1)
            c2.number_input("Height", key="d_in_h", step=1)
            c3.number_input("Width", key="d_in_w", step=1)
            st.number_input("Classes", key="d_classes", step=1)
        with st.expander("Stem and blocks", expanded=not lecture):
            st.selectbox(
                "Stem",
                STEMS,
                key="d_stem_kind",
                help="imagenet: 7x7/2 conv + max-pool; cifar: 3x3 conv; deep: three 3x3 (ResNet-C); "
                "tiered: the same, narrower first (timm's resnet*t)",
            )
            c1, c2 = st.columns(2)
            c1.number_input("Stem width", key="d_stem_width", step=1)
            c2.selectbox(
                "Block",
                BLOCKS,
                key="d_block",
                help="basic: two 3x3; bottleneck: 1x1-3x3-1x1 (x4); preact: BN-ReLU before each conv (ResNet v2)",
            )
            bottleneck = st.session_state.d_block in BOTTLENECKS
            c1, c2 = st.columns(2)
            c1.number_input("Groups", key="d_groups", step=1, disabled=not bottleneck, help="ResNeXt: 32")
            c2.number_input("Width/group", key="d_wpg", step=1, disabled=not bottleneck, help="wide ResNet-50-2: 128")
        with st.expander("Shortcuts and switches", expanded=not lecture):
            st.selectbox(
                "Shortcut where shapes change",
                SHORTCUTS,
                key="d_shortcut",
                format_func=SHORTCUT_NAME.get,
                help="\n".join(f"- **{SHORTCUT_NAME[k]}**: {text}" for k, text in SHORTCUT_HELP.items()),
            )
            st.toggle("Residual connections", key="d_residual", help="Off: the plain network, same layers, no skips")
            st.toggle("Batch norm", key="d_bn")
            st.toggle("Bias in every conv (d2l)", key="d_bias")
            st.toggle("BN after a 1x1 projection", key="d_projbn")
            st.toggle("Zero-init each branch's last BN", key="d_zeroinit", help="Every block starts as the identity")
        with st.expander("ResNet family options", expanded=False):
            family_options(bottleneck)
        st.subheader("Stages")
        edited = st.data_editor(
            st.session_state.d_stages_base,
            key=f"d_stages_{st.session_state.d_stages_ver}",
            num_rows="dynamic",
            width="stretch",
            # narrow columns: the four fit the side panel on a 1024-px projector at 150% zoom
            column_config={
                "blocks": st.column_config.NumberColumn("blocks", min_value=1, step=1, required=True, width=68),
                "channels": st.column_config.NumberColumn("channels", min_value=1, step=1, required=True, width=86),
                "stride": st.column_config.SelectboxColumn("stride", options=[1, 2], required=True, width=64),
                "shortcut": st.column_config.SelectboxColumn(
                    "shortcut", options=[state.NETWORK_DEFAULT, *SHORTCUTS], required=True, width=86
                ),
            },
        )
        st.session_state.d_stages_current = edited
        st.caption("One row per stage: blocks, channels (bottleneck output is 4x), stride 2 halves the size.")

    return edited


def network_from_controls(edited: pd.DataFrame, base: str) -> None:
    """The network the controls describe becomes the session's design (and the URL's); where it
    is none, say why (F(x) + x not fitting gets the tutor and its one-click fix) and keep the last."""
    try:
        candidate = state.spec_from_widgets(edited)
        check(candidate)
    except ShapeMismatchError as exc:
        st.error(f"**F(x) + x does not fit in block {exc.block}.**  \n{plain(exc)}")
        with st.container(border=True):
            st.markdown(
                f"A residual block outputs **F(x) + x**. In `{exc.block}` the branch F changes the tensor from "
                f"**{fmt.shape(exc.x_shape)}** to **{fmt.shape(exc.fx_shape)}**, so x no longer fits the sum. "
                "d2l's `Residual(..., use_1x1conv=True, strides=2)` solves exactly this: a 1x1 convolution "
                "on the shortcut maps x to F(x)'s channels and stride."
            )
            st.button(
                "Use a 1x1 projection here",
                key="d_fix",
                type="primary",
                on_click=use_projection,
                args=(exc.stage, exc.field.startswith("stages[")),
            )
        candidate = None
    except SpecError as exc:
        st.error(f"**Not a valid network:** {plain(exc)}")
        candidate = None
    if candidate is not None:
        st.session_state.spec = candidate
        state.write_url(candidate, base)
    else:
        st.caption("Showing the last valid network while the controls describe none.")
