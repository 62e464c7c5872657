"""The diagram made clickable, zoomable and pannable in the browser.

st.graphviz_chart draws the DOT in the page (Graphviz compiled to WebAssembly) and offers neither
clicks nor zoom. This component (st.components.v2: its script runs in the page, not in an iframe)
finds the drawn SVG, makes each part whose SVG id the diagram set (stem, blocks, head) answer a
click with its module name, outlines the part being looked into, and adds zoom buttons; dragging
a diagram larger than its box pans it. The click comes back as the trigger value `picked`.
"""

from __future__ import annotations

import streamlit as st

ZOOMS = (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)  # the steps of the - and + buttons
PNG_SCALE = 3  # a 300-pt wide diagram becomes 1,200 px: sharp on a 1080p slide
MAX_PNG_SIDE = 16_000  # px: browsers refuse larger canvases

_HTML = """
<div class="bar">
  <button data-zoom="-1" title="Zoom out">−</button><span class="level">100%</span>
  <button data-zoom="1" title="Zoom in">+</button><button data-zoom="0" title="Whole diagram on one screen">Fit</button>
  <button class="save" data-save="svg">Download SVG</button><button class="save" data-save="png">Download PNG</button>
</div>
<div class="hint">Click a block to look inside it; drag to pan.</div>
"""

_CSS = """
/* in rem, so lecture mode's larger root type reaches the toolbar too */
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem; font-family: inherit; }
.save { font-size: 0.875rem; margin-left: 0.4rem; }
button { font: inherit; font-size: 0.95rem; min-width: 2.1rem; padding: 0.125rem 0.6rem; cursor: pointer;
         background: white; border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; color: rgb(49, 51, 63); }
button:hover { border-color: #d9480f; color: #d9480f; }
.level { min-width: 2.75rem; text-align: center; font-size: 0.875rem; }
.hint { font-size: 0.8rem; color: rgb(110, 110, 110); margin-top: 0.25rem; font-family: inherit; }
"""

_JS = """
export default function ({ parentElement, data, setTriggerValue }) {
  const ZOOMS = data.zooms;
  const state = (window.__diagramView = window.__diagramView || { zoom: 1.0 });
  clearInterval(state.timer);  // one timer per page: a rerun's new data replaces the old
  state.data = data;
  state.pick = setTriggerValue;
  const level = parentElement.querySelector(".level");
  function chart() {
    const all = document.querySelectorAll('[data-testid="stGraphVizChart"]');
    return all.length ? all[all.length - 1] : null;
  }
  function apply(svg, box) {
    // the natural size is the viewBox in points; zoom scales it, the chart's box scrolls
    if (!svg.dataset.w) { svg.dataset.w = svg.viewBox.baseVal.width; svg.dataset.h = svg.viewBox.baseVal.height; }
    let zoom = state.zoom;
    if (zoom === "fit") {
      const room = Math.max(200, window.innerHeight - box.getBoundingClientRect().top - 24);
      zoom = Math.min(1.0, room / svg.dataset.h, box.parentElement.clientWidth / svg.dataset.w);
    }
    svg.setAttribute("width", svg.dataset.w * zoom + "pt");
    svg.setAttribute("height", svg.dataset.h * zoom + "pt");
    svg.style.maxWidth = "none";
    // a diagram wider than the page (left to right, or zoomed in) scrolls inside its box
    box.style.overflow = "auto";
    box.style.maxHeight = zoom > 1 ? "80vh" : "none";
    box.style.cursor = box.scrollWidth > box.clientWidth || zoom > 1 ? "grab" : "auto";
    level.textContent = Math.round(zoom * 100) + "%";
  }
  function reveal() {
    // a narrow page (a projector at 150%) stacks the panel below the diagram: after a click, go to it
    if (!state.scrollTo || Date.now() - state.scrollTo < 600) return;  // wait for the redrawn panel
    state.scrollTo = null;
    const panel = document.querySelector(".st-key-" + state.data.panel);
    const box = chart();
    if (!panel || !box) return;
    const top = panel.getBoundingClientRect().top;
    const stacked = top >= box.getBoundingClientRect().bottom - 1;
    if (stacked && top > window.innerHeight * 0.5) panel.scrollIntoView({ block: "start" });
  }
  function wire() {
    reveal();
    const box = chart();
    const svg = box && box.querySelector("svg");
    if (!svg || !svg.viewBox.baseVal || !svg.viewBox.baseVal.width) return;
    apply(svg, box);
    svg.querySelectorAll("g.node").forEach((node) => {
      if (!state.data.parts.includes(node.id)) return;
      const shape = node.querySelector("path, polygon");
      if (shape) {
        const picked = node.id === state.data.picked;
        shape.setAttribute("stroke", picked ? "#d9480f" : "black");
        shape.setAttribute("stroke-width", picked ? "3" : "1");
      }
      if (node.dataset.wired) return;
      node.dataset.wired = "1";
      node.style.cursor = "pointer";
      node.addEventListener("click", (event) => {
        if (box.dataset.dragged === "1") return;  // the end of a pan, not a click
        event.stopPropagation();
        state.scrollTo = Date.now();  // bring the part's panel into view once the page has redrawn it
        state.pick("picked", node.id);
      });
    });
    if (!box.dataset.pan) {
      box.dataset.pan = "1";
      let start = null;
      box.addEventListener("mousedown", (e) => {
        start = { x: e.clientX, y: e.clientY, left: box.scrollLeft, top: box.scrollTop };
        box.dataset.dragged = "0";
      });
      window.addEventListener("mousemove", (e) => {
        if (!start) return;
        const dx = e.clientX - start.x, dy = e.clientY - start.y;
        if (Math.abs(dx) + Math.abs(dy) > 4) box.dataset.dragged = "1";
        box.scrollLeft = start.left - dx;
        box.scrollTop = start.top - dy;
      });
      window.addEventListener("mouseup", () => { start = null; });
    }
  }
  function serialise(svg) {
    const copy = svg.cloneNode(true);
    const box = svg.viewBox.baseVal;
    copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    copy.setAttribute("xmlns:xlink", "http://www.w3.org/1999/xlink");
    copy.setAttribute("width", box.width);
    copy.setAttribute("height", box.height);
    copy.removeAttribute("style");
    return new XMLSerializer().serializeToString(copy);
  }
  function save(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }
  function download(kind) {
    const svg = chart() && chart().querySelector("svg");
    if (!svg) return;
    const name = state.data.name;
    if (kind === "svg") return save(new Blob([serialise(svg)], { type: "image/svg+xml" }), name + ".svg");
    const box = svg.viewBox.baseVal;
    const scale = Math.min(data.scale, data.max_side / Math.max(box.width, box.height));
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(box.width * scale);
      canvas.height = Math.round(box.height * scale);
      const pen = canvas.getContext("2d");
      pen.fillStyle = "white";
      pen.fillRect(0, 0, canvas.width, canvas.height);
      pen.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => save(blob, name + ".png"), "image/png");
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(serialise(svg));
  }
  parentElement.querySelectorAll("button.save").forEach((button) => {
    button.onclick = () => download(button.dataset.save);
  });
  parentElement.querySelectorAll("button[data-zoom]").forEach((button) => {
    button.onclick = () => {
      const step = Number(button.dataset.zoom);
      if (step === 0) { state.zoom = "fit"; }
      else {
        const now = state.zoom === "fit" ? 1.0 : state.zoom;
        const at = ZOOMS.findIndex((z) => z >= now - 1e-9);
        state.zoom = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (at < 0 ? ZOOMS.length - 1 : at) + step))];
      }
      wire();
    };
  });
  wire();
  state.timer = setInterval(wire, 400);  // the chart is redrawn after each change of the design
  return () => clearInterval(state.timer);
}
"""

_component = st.components.v2.component("diagram_view", html=_HTML, css=_CSS, js=_JS)


def diagram_controls(parts: list[str], picked: str | None, key: str, target: str, name: str, panel: str) -> None:
    """Zoom and download buttons for the diagram drawn next on the page (saved as `name`.svg/.png),
    and clicks on its parts: a click puts the part's module name ("layer2.0") in
    st.session_state[target] before the rerun it causes, and brings the container keyed `panel`
    into view if it is off screen."""
    _component(
        data={
            "parts": parts,
            "picked": picked,
            "zooms": list(ZOOMS),
            "name": name,
            "panel": panel,
            "scale": PNG_SCALE,
            "max_side": MAX_PNG_SIDE,
        },  # fmt: skip
        key=key,
        on_picked_change=lambda: st.session_state.update({target: st.session_state[key].get("picked")}),
        height="content",
    )
