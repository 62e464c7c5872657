"""Design: build a ResNet by hand and see its shapes, counts and diagram at once."""

import time

import streamlit as st

from explorer import PRESETS, ShapeMismatchError, SpecError, check, fmt, spec_from_json
from explorer.arch.layers import SHORTCUT_LABEL
from explorer.arch.presets import FAMILY, preset
from explorer.arch.reference import timm_twin, verified_against
from explorer.arch.share import closest_preset, spec_diff
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
from explorer.hall.budget import check_build, check_design
from explorer.inspect.look_inside import part_names
from ui import access, cache, charts, checkpoint, diagram_view, state
from ui.lecture import lecture_requested
from ui.look_inside import look_inside

PAINT_FIRST_SECONDS = 0.05  # see the diagram view below
lecture = lecture_requested()  # the router drew the switch
state.current_spec()
if (unbuildable := st.session_state.pop("url_network", None)) is not None:
    # the link's network in the controls, where the tutor below explains it; the totals show the preset
    st.session_state.pop("url_problem", None)
    state.load_into_widgets(unbuildable, state.current_base(), as_design=False)
state.url_warning()
state.ensure_widgets()


# ----- callbacks: they only load a spec into the widgets, before the next run draws them -----------
def load_upload() -> None:
    file = st.session_state.get("d_upload")
    if file is None:
        return
    try:
        if file.size > MAX_JSON_BYTES:
            raise SpecError("spec", f"{file.size:,} bytes; a spec file may be at most {MAX_JSON_BYTES:,}")
        spec = spec_from_json(file.getvalue())
        check(spec)
    except SpecError as exc:
        st.session_state.d_upload_error = f"{file.name}: {exc}"
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


# ----- controls ----------------------------------------------------------------------------------
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

# ----- the network the controls describe -----------------------------------------------------------
st.title("ResNet Explorer")
base = st.session_state.base
try:
    candidate = state.spec_from_widgets(edited)
    check(candidate)
except ShapeMismatchError as exc:
    st.error(f"**F(x) + x does not fit in block {exc.block}.**  \n{exc}")
    with st.container(border=True):
        st.markdown(
            f"A residual block outputs **F(x) + x**. In `{exc.block}` the branch F changes the tensor from "
            f"**{fmt.shape(exc.x_shape)}** to **{fmt.shape(exc.fx_shape)}**, so x no longer fits the sum. "
            "The seed's `Residual(..., use_1x1conv=True, strides=2)` solves exactly this: a 1x1 convolution "
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
    st.error(f"**Not a valid network:** {exc}")
    candidate = None
if candidate is not None:
    st.session_state.spec = candidate
    state.write_url(candidate, base)
else:
    st.caption("Showing the last valid network while the controls describe none.")
spec = st.session_state.spec
spec_json = spec.to_json(indent=None)
a = cache.analysis(spec_json)

# ----- numbers that matter -------------------------------------------------------------------------
batch = st.sidebar.number_input("Batch size (memory estimate)", min_value=1, max_value=65536, value=256, key="d_batch")
# on a projector, two big numbers per row; on a desk, four in a row
c1, c2, c3, c4 = [*st.columns(2), *st.columns(2)] if lecture else st.columns([1.5, 1, 1, 1.1])
c1.metric("Parameters", fmt.count(a.total_params), help=f"trainable: {fmt.count(a.trainable_params)}")
c2.metric("MACs per image", fmt.macs_short(a.macs), help=f"{fmt.count(a.macs)} multiply-adds")
c3.metric("Output", "B×" + "x".join(map(str, a.output_shape)), help=f"{a.depth} weighted layers deep")
c4.metric(f"Activations, batch {batch}", fmt.nbytes(a.activation_bytes(batch)), help="float32, estimate")
try:
    check_design(a.plan, access.limits())
except SpecError as exc:
    st.warning(f"**Too large to build or train on this server** (its numbers here are arithmetic): {exc}")
ref = verified_against(a.plan)
if ref:
    st.success(
        f"✓ Verified: torchvision publishes {ref.name} with {fmt.count(ref.params)} parameters and "
        f"{ref.gmacs:.3f} GMACs; this network has exactly that."
    )
if twin := timm_twin(spec):
    st.success(
        f"✓ Verified against timm's **{twin}**: its weights load strictly and give the same outputs; "
        f"parameters and MACs equal its own count (`python -m explorer.arch.timm_family`)."
    )
diff = spec_diff(preset(base), spec)
if diff:
    st.info(f"Edited from **{base}**: " + "; ".join(f"`{d}`" for d in diff))
else:
    st.caption(f"This is the preset **{base}**. The address bar holds the design: copy it to share.")
# the Train page takes this design, whatever network it showed last (?network=design)
st.page_link(
    "app_pages/train.py", label="Train this network", icon=":material/monitoring:", query_params={"network": "design"}
)

# ----- views: one at a time, so a rerun redraws only what is on screen -------------------------------
VIEWS = ["Diagram", "Layers", "Charts", "PyTorch code", "Import / export"]
view = st.radio("View", VIEWS, horizontal=True, key="d_view", label_visibility="collapsed")
if view == "Diagram":
    # at lecture size on a 1024-px projector three in a row cut the toggles' labels: two rows
    c1, c2, c3 = [*st.columns(2), st.container()] if lecture else st.columns([1, 1, 1.2], vertical_alignment="center")
    expand = c1.toggle("Draw every block", key="d_expand", help="Collapsed: a stage's identical blocks as 'block xN'")
    across = c2.toggle("Left to right", key="d_across", help="Wide and short, for slides")
    stages = [stage.name for stage in a.plan.stages]
    if st.session_state.get("d_page") not in stages:  # also a stage the edited design no longer has
        st.session_state.d_page = "all"
    page = c3.selectbox(
        "Show",
        ["all", *stages],
        key="d_page",
        format_func=lambda p: "the whole network" if p == "all" else p,
        help="One stage at a time: a deep network's diagram page by page",
    )
    # lecture type makes the stage table ~430 px wide: on a 1024-px projector it needs the larger share
    # (left to right, the diagram needs the page's width: the table goes below it)
    left, right = (st.container(), st.container()) if across else st.columns([1, 1.3] if lecture else [1.2, 1])
    dot = cache.diagram(spec_json, expand, "LR" if across else "TB", None if page == "all" else page)
    if st.session_state.get("d_drawn") != dot:
        # The browser lays the diagram out on its main thread (~0.5 s for d2l-resnet18): sent in
        # the same message as the totals it holds them back (0.68 s to show a new total). A pause
        # before sending a changed diagram lets the totals paint first: 0.12 s (benchmarks/ui_latency.py).
        time.sleep(PAINT_FIRST_SECONDS)
        st.session_state.d_drawn = dot
    with left:
        name = base if not diff else f"{base}-edited"  # the downloaded files' name
        diagram_view.diagram_controls(
            part_names(a.plan), st.session_state.get("d_look"), "d_clicks", "d_look", name, "d_look_panel"
        )
        st.graphviz_chart(dot, width="stretch" if lecture and not across else "content")
    kinds = sorted({SHORTCUT_LABEL[b.shortcut] for b in a.plan.blocks})
    left.caption("Skip connections: " + ", ".join(kinds) + ". Edges carry tensor shapes (channels x height x width).")
    with right:  # beside the diagram, where the click was: no scrolling to see what it shows
        with st.container(border=True, key="d_look_panel"):
            look_inside(spec_json, a.plan)
        unit = fmt.macs_unit(a.macs)
        st.dataframe(
            cache.stage_table(spec_json),
            hide_index=True,
            width="stretch",
            column_config={
                "params": st.column_config.NumberColumn(format="localized"),
                unit.name: st.column_config.NumberColumn(format=unit.format),
            },
        )
elif view == "Layers":
    st.dataframe(
        cache.layer_table(spec_json),
        hide_index=True,
        width="stretch",
        height=520,
        placeholder="—",  # no receptive field once pooled globally
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "MACs": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.caption("Receptive field: input pixels one output unit can see (theoretical, along the main path).")
elif view == "Charts":
    st.plotly_chart(charts.stage_bars([(base, a)]), width="stretch", key="d_stage_chart")
    st.plotly_chart(charts.shape_flow(a), width="stretch", key="d_flow_chart")
elif view == "PyTorch code":
    source = cache.code(spec_json, base if not diff else f"{base} (edited)")
    st.download_button("Download net.py", source, file_name="net.py", mime="text/x-python", key="d_code_dl")
    st.code(source, language="python")
else:
    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Spec (JSON)")
        st.download_button("Download spec.json", spec.to_json(), file_name="spec.json", key="d_json_dl")
        st.file_uploader(
            "Load a spec.json", type=["json"], key="d_upload", on_change=load_upload, max_upload_size=1
        )  # MB: a spec file is at most 100 kB
        if err := st.session_state.get("d_upload_error"):
            st.error(f"Could not load {err}")
        st.subheader("Weights")
        checkpoint.weights_panel()
        checkpoint.try_panel()
        st.subheader("ONNX")
        checkpoint.onnx_panel(spec)
    with c2:
        st.subheader("torchinfo summary")
        st.caption("Builds the model and runs a real forward pass — seconds for large networks.")
        if st.button("Run torchinfo", key="d_torchinfo"):
            try:  # torchinfo builds the network in this server's process: only if it fits
                check_build(a.plan, access.limits())
            except SpecError as exc:
                st.error(f"Not built here: {exc}")
            else:
                with st.spinner("Running a forward pass through torchinfo…"):
                    st.code(cache.torchinfo_summary(spec_json), language=None)
