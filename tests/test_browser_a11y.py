"""WCAG 2.1 AA in a real browser: axe-core (npm, pinned in package.json) on every page, at a desk's
1280x800 and on a projector's 1024x768 at 150% in lecture mode; no serious or critical violation.
On the same loads, every chart's title and tick labels: inside the chart, none over another, the
toolbar over none of them.

One page load per page and size (browser tests are the suite's slowest): the Design page's other
views are checked on the same load, by clicking them."""

import pytest

from tests.browser import MARKS, ROOT, expect_text

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [
    *MARKS,
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: `npm ci` at the repository root"),
]
PAGES = {  # url path: what shows once the page has drawn
    "": "Parameters",
    "train": "Run history",
    "compare": "Compare two networks",
    "why-residuals": "Why residual",
    "challenge": "Class challenge",
}
VIEWS = ["Layers", "Charts", "PyTorch code", "Import / export"]
RUN = """async () => {
  const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact,
                   nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " " + n.failureSummary) }));
}"""


CHART_BOXES = """() => {
  const problems = [];
  const apart = (a, b) => a.right <= b.left + 1 || b.right <= a.left + 1
                          || a.bottom <= b.top + 1 || b.bottom <= a.top + 1;
  document.querySelectorAll(".js-plotly-plot").forEach((plot, n) => {
    const frame = plot.querySelector("svg.main-svg").getBoundingClientRect();
    const inside = (r) => r.left >= frame.left - 1 && r.right <= frame.right + 1
                          && r.top >= frame.top - 1 && r.bottom <= frame.bottom + 1;
    const labels = [...plot.querySelectorAll(".g-gtitle text, .annotation-text")].map((e) => e.getBoundingClientRect());
    labels.forEach((r) => { if (r.width && !inside(r)) problems.push(`chart ${n}: a title is cut`); });
    const bar = plot.querySelector(".modebar");
    if (bar && bar.getBoundingClientRect().width) labels.forEach((r) => {
      if (!apart(r, bar.getBoundingClientRect())) problems.push(`chart ${n}: the toolbar is over a title`); });
    plot.querySelectorAll(".xaxislayer-above, .yaxislayer-above").forEach((axis) => {
      const ticks = [...axis.querySelectorAll("text")].map((e) => e.getBoundingClientRect()).filter((r) => r.width);
      ticks.forEach((r, i) => {
        if (!inside(r)) problems.push(`chart ${n}: a tick label is cut`);
        if (i && !apart(ticks[i - 1], r)) problems.push(`chart ${n}: tick labels overlap`);
      });
    });
  });
  return problems;
}"""


def _violations(page, where: str) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = [f"{where}: {v['id']} ({v['impact']}): {v['nodes']}" for v in page.evaluate(RUN)]
    return found + [f"{where}: {problem}" for problem in page.evaluate(CHART_BOXES)]


@pytest.mark.parametrize(
    ("size", "scale", "lecture"),
    [((1280, 800), 1, "0"), ((683, 512), 1.5, "1")],
    ids=["desk", "projector-lecture"],
)
def test_every_page_is_accessible_and_its_charts_readable(server, browser, size, scale, lecture):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, device_scale_factor=scale)
    page = context.new_page()
    found = []
    for path, shown in PAGES.items():
        page.goto(f"{server}/{path}?lecture={lecture}")
        expect_text(page, shown)
        page.wait_for_timeout(700)  # the charts and the diagram drawn
        found += _violations(page, path or "design")
        if path == "":
            for view in VIEWS:
                page.get_by_text(view, exact=True).first.click()
                page.wait_for_timeout(700)
                found += _violations(page, f"design/{view}")
                if view == "Charts":  # the measurement measures: two charts, their titles and ticks
                    counted = "s => document.querySelectorAll(s).length"
                    assert page.evaluate(counted, ".js-plotly-plot") == 2
                    assert page.evaluate(counted, ".js-plotly-plot .xaxislayer-above text") >= 10
    context.close()
    assert found == []
