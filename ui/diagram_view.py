"""The block diagram in the page: painted, zoomed, clicked and walked by keyboard.

The server lays the diagram out (explorer/arch/diagram_svg.py, cached per design): the browser only
paints an <svg>. Graphviz in the browser had frozen the page for 0.8-0.9 s after each change of a
ResNet-50 (issue 23). This component (st.components.v2: its script runs in the page, not in an
iframe) holds the SVG, scales it so that 100% sets its text at the page's body size (22 px in
lecture mode), and makes each part (stem, blocks, head) answer a click, Enter or Space with its
module name; the arrow keys move between parts. The click comes back as the trigger value `picked`.
"""

from __future__ import annotations

import streamlit as st

ZOOMS = (0.25, 0.5, 0.67, 0.75, 0.85, 1.0, 1.25, 1.5, 2.0, 3.0)  # the steps of the - and + buttons
PNG_SCALE = 3  # a 300-px wide diagram becomes 900 px: sharp on a 1080p slide
MAX_PNG_SIDE = 16_000  # px: browsers refuse larger canvases
DESK_ZOOM = 0.75  # 12-px text beside a 16-px page: the diagram's boxes are dense, a page of them fits
LECTURE_ZOOM = 1.25  # the size of lecture mode's paragraphs (1.25rem, ui/lecture.py): read from the back

_HTML = """
<div class="rx-diagram">
  <div class="bar">
    <button data-zoom="-1" title="Zoom out" aria-label="Zoom out">−</button><span class="level">100%</span>
    <button data-zoom="1" title="Zoom in" aria-label="Zoom in">+</button><button data-zoom="0"
      title="Fill the width">Fit</button>
    <button class="save" data-save="svg">Download SVG</button><button class="save" data-save="png">Download PNG</button>
    <span class="hint">Click a block (or Tab, Enter) to look inside it.</span>
  </div>
  <div class="canvas" tabindex="-1"></div>
</div>
"""

# scoped to .rx-diagram: the component's styles are not isolated (so the page's lecture type reaches it)
_CSS = """
.rx-diagram .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem; font-family: inherit; }
.rx-diagram .save { font-size: 0.875rem; margin-left: 0.4rem; }
.rx-diagram button { font: inherit; font-size: 0.95rem; min-width: 2.1rem; padding: 0.125rem 0.6rem;
  cursor: pointer; background: white; border: 1px solid rgba(49, 51, 63, 0.4); border-radius: 0.5rem;
  color: rgb(49, 51, 63); }
.rx-diagram button:hover { border-color: #b83c0c; color: #b83c0c; }
.rx-diagram .level { min-width: 2.75rem; text-align: center; font-size: 0.875rem; }
.rx-diagram .hint { font-size: 0.8rem; color: rgb(85, 87, 97); margin-left: 0.4rem; font-family: inherit; }
.rx-diagram .canvas { margin-top: 0.4rem; }
.rx-diagram .canvas { overflow: auto; max-width: 100%; }
.rx-diagram .canvas svg { display: block; max-width: none; }
.rx-diagram g.part { cursor: pointer; }
.rx-diagram g.part:focus { outline: none; }
.rx-diagram g.part:focus-visible rect.frame { stroke: #1c58b8; stroke-width: 4px; }
.rx-diagram g.part.picked rect.frame { stroke: #b83c0c; stroke-width: 3px; }
"""

_JS = """
export default function ({ parentElement, data, setTriggerValue }) {
  const views = (window.__rxDiagrams = window.__rxDiagrams || {});
  const state = (views[data.key] = views[data.key] || {});
  const root = parentElement.querySelector(".rx-diagram");
  const box = root.querySelector(".canvas");
  const level = root.querySelector(".level");
  if (state.mode !== data.mode) { state.mode = data.mode; state.zoom = data.zoom; }  // a new default
  if (box.dataset.svg !== data.svg) {  // painted, not laid out: the server did the layout
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.part : null;
    box.innerHTML = data.svg;
    box.dataset.svg = data.svg;
    const again = focused && box.querySelector('g.part[data-part="' + CSS.escape(focused) + '"]');
    if (again) again.focus({ preventScroll: true });
  }
  const svg = box.querySelector("svg");
  const parts = Array.from(box.querySelectorAll("g.part"));
  function bodyPx() { return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16; }
  function apply() {
    const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
    const unit = bodyPx() / Number(svg.dataset.font);  // px per unit at 100%
    let zoom = state.zoom;
    if (zoom === "fit") zoom = Math.max(0.05, (box.clientWidth - 2) / (w * unit));
    svg.setAttribute("width", (w * unit * zoom).toFixed(1));
    svg.setAttribute("height", (h * unit * zoom).toFixed(1));
    box.style.cursor = box.scrollWidth > box.clientWidth + 1 ? "grab" : "auto";
    level.textContent = Math.round(zoom * 100) + "%";
  }
  function pick(part) {
    state.pending = part.dataset.part;
    setTriggerValue("picked", part.dataset.part);
  }
  parts.forEach((part, i) => {
    part.classList.toggle("picked", part.dataset.part === data.picked);
    part.setAttribute("aria-pressed", part.dataset.part === data.picked ? "true" : "false");
    part.onclick = (event) => { if (box.dataset.dragged !== "1") pick(part); };
    part.onkeydown = (event) => {
      const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(part); }
      else if (step) {
        event.preventDefault();
        const next = parts[Math.max(0, Math.min(parts.length - 1, i + step))];
        next.focus();
        next.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    };
  });
  // after a pick the page redraws the part's panel: bring it on screen (stacked below the diagram on
  // a narrow page; scrolled away beside a long one) if it is not there
  if (state.pending && state.pending === data.picked) {
    state.pending = null;
    setTimeout(() => {
      const panel = document.querySelector(".st-key-" + data.panel);
      if (!panel) return;
      const r = panel.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight * 0.6) panel.scrollIntoView({ block: "start" });
    }, 250);
  }
  if (!box.dataset.pan) {  // dragging a diagram larger than its box pans it
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
  function serialise() {
    const copy = svg.cloneNode(true);
    copy.setAttribute("width", svg.viewBox.baseVal.width);
    copy.setAttribute("height", svg.viewBox.baseVal.height);
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
    if (kind === "svg") return save(new Blob([serialise()], { type: "image/svg+xml" }), data.name + ".svg");
    const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
    const scale = Math.min(data.scale, data.max_side / Math.max(w, h));
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      const pen = canvas.getContext("2d");
      pen.fillStyle = "white";
      pen.fillRect(0, 0, canvas.width, canvas.height);
      pen.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => save(blob, data.name + ".png"), "image/png");
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(serialise());
  }
  root.querySelectorAll("button.save").forEach((button) => { button.onclick = () => download(button.dataset.save); });
  root.querySelectorAll("button[data-zoom]").forEach((button) => {
    button.onclick = () => {
      const step = Number(button.dataset.zoom);
      if (step === 0) { state.zoom = "fit"; }
      else {
        const now = state.zoom === "fit" ? Number(level.textContent.replace("%", "")) / 100 : state.zoom;
        const at = step > 0 ? data.zooms.findIndex((z) => z > now + 1e-9)
                            : data.zooms.findLastIndex((z) => z < now - 1e-9);
        if (at >= 0) state.zoom = data.zooms[at];
      }
      apply();
    };
  });
  apply();
  const watch = new ResizeObserver(() => { if (state.zoom === "fit") apply(); });  // Fit follows the width
  watch.observe(box);
  return () => watch.disconnect();
}
"""

_component = st.components.v2.component("diagram_view", html=_HTML, css=_CSS, js=_JS, isolate_styles=False)


def diagram(svg: str, key: str, name: str, zoom: float | str, picked: str | None = None,
            target: str | None = None, panel: str = "") -> None:  # fmt: skip
    """The server-drawn diagram `svg` with zoom and download buttons (saved as `name`.svg/.png) at
    `zoom` (1.0: text at the page's body size; "fit": the width it has). With `target`, a click (or
    Enter) on a part puts its module name ("layer2.0") in st.session_state[target] before the rerun
    it causes, and brings the container keyed `panel` on screen if it is not."""

    def on_pick() -> None:
        if target is not None:
            st.session_state[target] = st.session_state[key].get("picked")

    _component(
        data={
            "svg": svg,
            "key": key,
            "mode": f"{zoom}",
            "zoom": zoom,
            "picked": picked,
            "zooms": list(ZOOMS),
            "name": name,
            "panel": panel,
            "scale": PNG_SCALE,
            "max_side": MAX_PNG_SIDE,
        },
        key=key,
        on_picked_change=on_pick,
        height="content",
    )
