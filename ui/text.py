"""Text stays text: whatever a user typed or a link carried, escaped before Streamlit renders it.

`st.markdown`, `st.subheader`, `st.warning`, `st.caption`, button labels and most text elements
render Markdown and KaTeX: a challenge name `[Lecturer solutions](http://...)` became a link,
`![](http://...)` made every viewer's browser fetch an image, and `$\\rule{40em}{40em}$` drew a black
block over the projected board (issue 22). CommonMark lets a backslash escape any ASCII punctuation
mark, and remark-math (Streamlit's KaTeX) reads `\\$` as a dollar, so every punctuation mark is
escaped: links, images, emphasis, code, HTML, autolinks (`http\\://`), Streamlit's `:red[...]` and
`:material/...:` directives and math all stay the characters typed. Line breaks become spaces (a
name cannot start a heading or a list). Plotly's labels read a little HTML instead: `plotly_text`.
"""

from __future__ import annotations

import html
import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark, CommonMark's escapable set
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c]+")


def plain(value: object) -> str:
    """`value` as Markdown that shows exactly its characters (line breaks as spaces)."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


def plotly_text(value: object) -> str:
    """`value` for a Plotly title, label or hover text, which read <a href>, <b> and entities."""
    return html.escape(_LINE_BREAKS.sub(" ", str(value)), quote=True)
