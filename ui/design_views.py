"""The Design page's views, one on screen at a time (a rerun redraws only what is shown): the
diagram with the part looked into, the layer table, the charts, the PyTorch code, import/export."""

from __future__ import annotations

import streamlit as st

from explorer import Analysis, ResNetSpec, SpecError, fmt
from explorer.arch.layers import SHORTCUT_LABEL
from explorer.arch.presets import preset
from explorer.arch.reference import timm_twin, verified_against
from explorer.arch.share import spec_diff
from explorer.hall.budget import check_build, check_design
from ui import access, cache, chart_text, charts, checkpoint, design_controls, diagram_view
from ui.admission import heavy, plan_bytes
from ui.look_inside import look_inside
from ui.text import plain


def totals(a: Analysis) -> None:
    """The numbers that matter, above the views."""
    batch = st.sidebar.number_input(
        "Batch size (memory estimate)", min_value=1, max_value=65536, value=256, key="d_batch"
    )
    # four in a row: at 1280 px beside the wide sidebar the row is 710 px, and each column keeps 150 px
    # (BASE_CSS) only with these weights; on a projector in lecture mode compact (LECTURE_TOTALS_CSS)
    c1, c2, c3, c4 = st.columns([1.3, 1, 1, 1])
    c1.metric("Parameters", fmt.count(a.total_params), help=f"trainable: {fmt.count(a.trainable_params)}")
    c2.metric("MACs per image", fmt.macs_short(a.macs), help=f"{fmt.count(a.macs)} multiply-adds")
    c3.metric("Output", "B×" + "x".join(map(str, a.output_shape)), help=f"{a.depth} weighted layers deep")
    c4.metric(f"Activations, batch {batch}", fmt.nbytes(a.activation_bytes(batch)), help="float32, estimate")


# Lecture mode: the first screen of a 1024x768 projector at 150% (683x512 CSS px) holds the totals and
# the top of the diagram (issue 23: the four big totals filled it). The notes go below the view.
LECTURE_TOTALS_CSS = """
<style>
  .st-key-d_head h1 { font-size: 1.8rem !important; padding: 0 0 0.25rem 0; }
  /* "25,557,032" is 157 px at 1.3rem of 22 px: four in a row fit 640 px (the first column 178 px) */
  .st-key-d_head [data-testid="stHorizontalBlock"] > div { min-width: 0 !important; }
  .st-key-d_head [data-testid="stMetricValue"], .st-key-d_head [data-testid="stMetricValue"] * {
    font-size: 1.3rem !important; }
  .st-key-d_head [data-testid="stMetricLabel"] * { font-size: 0.9rem !important; }
  .st-key-d_head [data-testid="stVerticalBlock"] { row-gap: 0.5rem; }
  /* the five views on one line */
  .st-key-d_view [data-testid="stMarkdownContainer"] p { font-size: 1rem; }
  .st-key-d_view [data-testid="stRadioGroup"] { gap: 0.2rem 0.6rem !important; }
  .st-key-d_view [data-testid="stRadioOption"] { margin-right: 0 !important; padding-right: 0 !important; }
</style>
"""


def edits(spec: ResNetSpec, base: str) -> list[str]:
    """How the design differs from its preset (empty for the preset itself)."""
    return spec_diff(preset(base), spec)


def notes(a: Analysis, base: str, diff: list[str]) -> None:
    """The server's limit if it is passed, the verified marks, how the design differs from its preset."""
    try:
        check_design(a.plan, access.limits())
    except SpecError as exc:
        st.warning(f"**Too large to build or train on this server** (its numbers here are arithmetic): {plain(exc)}")
    ref = verified_against(a.plan)
    if ref:
        st.success(
            f"✓ Verified: torchvision publishes {ref.name} with {fmt.count(ref.params)} parameters and "
            f"{ref.gmacs:.3f} GMACs; this network has exactly that."
        )
    if twin := timm_twin(a.plan.spec):
        st.success(
            f"✓ Verified against timm's **{twin}**: its weights load strictly and give the same outputs; "
            f"parameters and MACs equal its own count (`python -m explorer.arch.timm_family`)."
        )
    if diff:
        st.info(f"Edited from **{base}**: " + "; ".join(f"`{d}`" for d in diff))
    else:
        st.caption(f"This is the preset **{base}**. The address bar holds the design: copy it to share.")
    # the Train page takes this design, whatever network it showed last (?network=design)
    train = "app_pages/train.py"
    st.page_link(train, label="Train this network", icon=":material/monitoring:", query_params={"network": "design"})


VIEWS = ["Diagram", "Layers", "Charts", "PyTorch code", "Import / export"]


def diagram(spec_json: str, a: Analysis, lecture: bool, name: str) -> None:
    """The block diagram (click a part to look inside it) beside the part's panel and the stage table."""
    # in lecture mode the switches go to the (folded) sidebar: the diagram starts on the first screen
    options = st.sidebar.expander("Diagram", expanded=True) if lecture else st.container()
    with options:
        c1, c2, c3 = [st.container()] * 3 if lecture else st.columns([1, 1, 1.2], vertical_alignment="center")
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
    svg = cache.diagram(spec_json, expand, "LR" if across else "TB", None if page == "all" else page)
    zoom = "fit" if across else diagram_view.LECTURE_ZOOM if lecture else diagram_view.DESK_ZOOM
    with left:
        look = st.session_state.get("d_look")
        diagram_view.diagram(svg, "d_clicks", name, zoom, look, target="d_look", panel="d_look_panel")
        kinds = sorted({SHORTCUT_LABEL[b.shortcut] for b in a.plan.blocks})
        st.caption(f"Skip connections: {', '.join(kinds)}. Edges carry tensor shapes (channels x height x width).")
        with st.expander("The diagram as text"):  # what a screen reader reads instead of the picture
            st.markdown(cache.diagram_outline(spec_json))
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


def layers(spec_json: str) -> None:
    """Every layer: shape, parameters, MACs, receptive field."""
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


def charts_view(base: str, a: Analysis) -> None:
    """Parameters and MACs per stage; spatial size against channels."""
    chart_text.plot(st, charts.stage_bars([(base, a)]), "d_stage_chart")
    chart_text.plot(st, charts.shape_flow(a), "d_flow_chart")


def code(spec_json: str, title: str) -> None:
    """The standalone PyTorch source of the design."""
    source = cache.code(spec_json, title)
    st.download_button("Download net.py", source, file_name="net.py", mime="text/x-python", key="d_code_dl")
    # wrapped, not scrolled sideways: a scrolling box would need focus to be read by keyboard (axe-core)
    st.code(source, language="python", wrap_lines=True)


def import_export(spec: ResNetSpec, a: Analysis, spec_json: str) -> None:
    """The spec as JSON, a checkpoint opened or exported (ONNX), torchinfo's summary."""
    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Spec (JSON)")
        st.download_button("Download spec.json", spec.to_json(), file_name="spec.json", key="d_json_dl")
        st.file_uploader(
            "Load a spec.json", type=["json"], key="d_upload", on_change=design_controls.load_upload, max_upload_size=1
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
            try:  # torchinfo builds the network (in a process of its own): only if it fits
                check_build(a.plan, access.limits())
                with heavy(plan_bytes(a.plan), "torchinfo"), st.spinner("Running a forward pass through torchinfo…"):
                    summary = cache.torchinfo_summary(spec_json)
            except SpecError as exc:
                st.error(f"Not built here: {plain(exc)}")
            else:
                st.code(summary, language=None)
