"""The block diagram as SVG and PNG, for slides: exactly the picture on screen.

The browser lays the diagram out (st.graphviz_chart renders DOT with Graphviz compiled to
WebAssembly), so the picture exists only there: two buttons in a component iframe (same origin
as the page, downloads allowed) serialise that SVG, or draw it on a canvas at three times its size
for a PNG. The server needs no Graphviz binary.
"""

from __future__ import annotations

import json

import streamlit.components.v1 as components

PNG_SCALE = 3  # a 300-pt wide diagram becomes 1,200 px: sharp on a 1080p slide
MAX_PNG_SIDE = 16_000  # px: browsers refuse larger canvases

_HTML = """
<style>
  body { margin: 0; font-family: "Source Sans Pro", sans-serif; }
  button { font: inherit; font-size: 14px; padding: 4px 12px; margin: 2px 8px 2px 0; cursor: pointer;
           border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 8px; background: white; color: rgb(49, 51, 63); }
  button:hover { border-color: #d9480f; color: #d9480f; }
  span { font-size: 13px; color: rgb(120, 120, 120); }
</style>
<button id="svg">Download SVG</button><button id="png">Download PNG</button><span id="note"></span>
<script>
const NAME = __NAME__, SCALE = __SCALE__, MAX_SIDE = __MAX__;
const note = (text) => { document.getElementById("note").textContent = text; };
function diagram() {
  const found = window.parent.document.querySelectorAll('[data-testid="stGraphVizChart"] svg');
  return found.length ? found[found.length - 1] : null;
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
document.getElementById("svg").onclick = () => {
  const svg = diagram();
  if (!svg) return note("The diagram is still being drawn.");
  save(new Blob([serialise(svg)], {type: "image/svg+xml"}), NAME + ".svg");
};
document.getElementById("png").onclick = () => {
  const svg = diagram();
  if (!svg) return note("The diagram is still being drawn.");
  const box = svg.viewBox.baseVal;
  const scale = Math.min(SCALE, MAX_SIDE / Math.max(box.width, box.height));
  const image = new Image();
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(box.width * scale);
    canvas.height = Math.round(box.height * scale);
    const pen = canvas.getContext("2d");
    pen.fillStyle = "white";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.drawImage(image, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => save(blob, NAME + ".png"), "image/png");
  };
  image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(serialise(svg));
};
</script>
"""


def download_buttons(name: str) -> None:
    """'Download SVG' and 'Download PNG' of the diagram on the page, saved as `name`.svg/.png."""
    html = (
        _HTML.replace("__NAME__", json.dumps(name))
        .replace("__SCALE__", str(PNG_SCALE))
        .replace("__MAX__", str(MAX_PNG_SIDE))
    )
    components.html(html, height=40)
