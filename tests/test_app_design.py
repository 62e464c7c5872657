"""The Design, Compare and Why residuals? pages through Streamlit's AppTest: controls change
numbers, links carry designs, errors show."""

import pandas as pd
from streamlit.testing.v1 import AppTest

import explorer
from explorer.arch.share import to_query

from .apptest import APP, diagrams, figures, metric, shown


def test_design_default_is_the_seed_network(app):
    app.run()
    assert not app.exception
    assert metric(app, "Parameters") == "11,178,378"
    assert metric(app, "MACs") == "0.319 G"
    assert "d2l-resnet18" in app.caption[0].value or any("d2l-resnet18" in c.value for c in app.caption)
    svg = diagrams(app)[0]
    assert ">identity</text>" in svg and ">1x1 projection</text>" in svg and ">(128, /2)</text>" in svg
    assert any("- layer2.0: 3×3 conv, 128, /2, BN, ReLU" in m.value for m in app.markdown)  # the outline
    stages = app.dataframe[0].value  # under a billion MACs: in millions, so the head's 5,120 is not 0.000
    analysis = explorer.analyze(explorer.preset("d2l-resnet18"))
    assert list(stages["MMACs"]) == [s.macs / 1e6 for s in analysis.stages] and stages["MMACs"].iloc[-1] == 0.00512


def test_the_diagram_pages_by_stage_and_looks_inside_the_head(app):
    app.run()
    app.selectbox(key="d_preset").set_value("resnet152").run()
    app.selectbox(key="d_page").set_value("layer3").run()
    svg = diagrams(app)[0]
    assert ">from layer2</text>" in svg and ">to layer4</text>" in svg and 'data-part="stem"' not in svg
    app.selectbox(key="d_look").set_value("head").run()
    assert not app.exception
    assert any("fc: 2048×1000 + 1000 = 2,049,000" in c.value for c in app.code)
    app.selectbox(key="d_preset").set_value("resnet20").run()  # three stages: layer3 is still there
    app.selectbox(key="d_page").set_value("layer3").run()
    app.selectbox(key="d_preset").set_value("d2l-resnet18").run()
    assert not app.exception


def test_changing_the_preset_changes_totals_and_url(app):
    app.run()
    app.selectbox(key="d_preset").set_value("resnet50").run()
    assert metric(app, "Parameters") == "25,557,032"
    assert app.query_params["preset"] == "resnet50"
    assert any("Verified" in s.value for s in app.success)
    assert app.number_input(key="d_in_c").value == 3
    assert "GMACs" in app.dataframe[0].value  # 4.1 billion MACs: counted in billions, as torchvision does


def test_bad_value_shows_error_and_keeps_last_result(app):
    app.run()
    app.number_input(key="d_in_h").set_value(5000).run()
    assert not app.exception
    assert any("input.height: 5000 is out of range; allowed 1..4096" in shown(e.value) for e in app.error)
    assert metric(app, "Parameters") == "11,178,378"
    app.number_input(key="d_in_h").set_value(64).run()
    assert not app.error


def test_edits_go_into_the_url_and_back(app):
    app.run()
    app.number_input(key="d_classes").set_value(7).run()
    app.toggle(key="d_residual").set_value(False).run()
    params = dict(app.query_params.items())
    assert params == {"preset": "d2l-resnet18", "classes": "7", "residual": "0"}
    assert any("num_classes: 10 -> 7" in i.value for i in app.info)
    fresh = AppTest.from_file(APP, default_timeout=60)  # a fresh browser opening that URL
    for key, value in params.items():
        fresh.query_params[key] = value
    fresh.run()
    expected = explorer.analyze(explorer.spec_from_dict({**explorer.preset("d2l-resnet18").to_dict(), "num_classes": 7,
                                                         "residual": False}))  # fmt: skip
    assert metric(fresh, "Parameters") == f"{expected.total_params:,}"
    assert fresh.toggle(key="d_residual").value is False


def test_url_with_an_edited_stage_table(app):
    spec = explorer.preset("resnet18").with_classes(10)
    spec = explorer.spec_from_dict({**spec.to_dict(), "stages": [{"blocks": 1, "channels": 32, "stride": 1}]})
    for key, value in to_query(spec, "resnet18").items():
        app.query_params[key] = value
    app.run()
    assert metric(app, "Parameters") == f"{explorer.analyze(spec).total_params:,}"


def test_garbage_url_warns_and_falls_back(app):
    app.query_params["preset"] = "resnet9000"
    app.query_params["stages"] = "lots"
    app.run()
    assert not app.exception
    assert any("could not be used" in w.value and "resnet9000" in w.value for w in app.warning)
    assert metric(app, "Parameters") == "11,178,378"


def test_shape_mismatch_tutor_offers_the_projection(app):
    app.run()
    app.selectbox(key="d_shortcut").set_value("identity").run()
    assert any("F(x) + x does not fit in block layer2.0" in e.value for e in app.error)
    assert any("use_1x1conv=True" in m.value for m in app.markdown)
    app.button(key="d_fix").click().run()
    assert not app.error
    assert app.selectbox(key="d_shortcut").value == "B"
    assert metric(app, "Parameters") == "11,178,378"


def test_stage_table_edits_change_the_totals(app):
    app.run()
    key = f"d_stages_{app.session_state['d_stages_ver']}"
    app.session_state[key] = {"edited_rows": {3: {"blocks": 3}}, "added_rows": [], "deleted_rows": []}
    app.run()
    expected = explorer.spec_from_dict(
        {**explorer.preset("d2l-resnet18").to_dict(), "stages": [
            {"blocks": 2, "channels": 64, "stride": 1}, {"blocks": 2, "channels": 128, "stride": 2},
            {"blocks": 2, "channels": 256, "stride": 2}, {"blocks": 3, "channels": 512, "stride": 2}]}
    )  # fmt: skip
    assert metric(app, "Parameters") == f"{explorer.analyze(expected).total_params:,}"
    app.session_state[key] = {"edited_rows": {}, "added_rows": [{"blocks": None}], "deleted_rows": []}
    app.run()
    assert any("stages[4]" in shown(e.value) for e in app.error)


def test_compare_page(app):
    app.run()
    app.switch_page("app_pages/compare.py").run()
    assert not app.exception
    assert metric(app, "Parameters, A") == "11,178,378"  # both networks' totals: A, the design
    assert metric(app, "Parameters, B") == "11,689,512"  # B: resnet18
    stages = app.dataframe[0].value
    assert list(stages.columns) == ["stage", "A output", "B output", "A params", "B params", "A GMACs", "B GMACs"]
    assert stages["B GMACs"][0] == explorer.analyze(explorer.preset("resnet18")).stages[0].macs / 1e9
    app.text_input(key="c_stages_B").set_value("3x64s1,4x128s2,6x256s2,3x512s2").run()
    assert metric(app, "Parameters, B") == "21,797,672"  # resnet34's stages
    assert len(diagrams(app)) == 2
    app.text_input(key="c_stages_B").set_value("3x64").run()
    assert any("Network B is not valid" in e.value for e in app.error)


def test_compare_marks_only_what_differs():
    """resnet18 against resnet34: the four stages' parameters and MACs differ, not the stem's or the
    head's, no output shape; resnet18 against itself with 10 classes: only the head differs."""
    from ui.compare_sides import differing_cells

    def table(a: str, b: str, classes: int = 1000) -> pd.DataFrame:
        sa, sb = explorer.analyze(explorer.preset(a)), explorer.analyze(explorer.preset(b).with_classes(classes))
        return pd.DataFrame(
            [
                {"stage": x.name, "A output": x.output_shape, "B output": y.output_shape}
                | {"A params": x.params, "B params": y.params, "A GMACs": x.macs / 1e9, "B GMACs": y.macs / 1e9}
                for x, y in zip(sa.stages, sb.stages, strict=True)
            ]
        )

    cells = differing_cells(table("resnet18", "resnet34"), "GMACs")
    assert cells[:5] == [(1, "stage"), (1, "A params"), (1, "B params"), (1, "A GMACs"), (1, "B GMACs")]
    assert len(cells) == 4 * 5 and {row for row, _ in cells} == {1, 2, 3, 4}
    assert not any("output" in column for _, column in cells)
    head = differing_cells(table("resnet18", "resnet18", classes=10), "GMACs")
    assert {row for row, _ in head} == {5} and (5, "A output") in head


def test_why_residuals_page(app):
    app.run()
    app.switch_page("app_pages/why_residuals.py").run()
    assert not app.exception
    assert metric(app, "Residual block") == "0"  # the contrast, in the numbers themselves
    assert metric(app, "The same block without its shortcut") == "1.00"
    assert any(m.value.startswith("**Shattering:** the gradients at neighbouring inputs") for m in app.markdown)
    app.toggle(key="w_bn").set_value(True).run()
    assert not app.exception
    assert app.get("graphviz_chart")  # the block built step by step
    flow = figures(app)[0]["layout"]
    assert flow["font"]["size"] == 16 and "tickfont" not in flow["xaxis"]  # Streamlit's own tick labels
    app.toggle(key="lecture").set_value(True).run()  # lecture mode: the charts' type grows with the page's
    flow = figures(app)[0]["layout"]
    assert flow["font"]["size"] == flow["xaxis"]["tickfont"]["size"] == flow["legend"]["font"]["size"] == 20


def test_family_options_change_the_network_the_url_and_the_timm_mark(app):
    """The ResNet family's options on the Design page: resnet50 with SE at 1/4, a strided-conv
    stem pool and ResNet-D shortcuts is timm's resnetrs50, and the page says it is verified."""
    app.run()
    app.selectbox(key="d_preset").set_value("resnet50").run()
    app.selectbox(key="d_attn").set_value("se").run()
    assert metric(app, "Parameters") == "28,088,024"  # timm's seresnet50
    assert app.query_params["attn"] == "se"
    assert any("timm's **seresnet50**" in s.value for s in app.success)
    app.number_input(key="d_se").set_value(4).run()
    app.selectbox(key="d_stem_kind").set_value("deep").run()
    app.selectbox(key="d_stem_pool").set_value("conv").run()
    app.selectbox(key="d_shortcut").set_value("D").run()
    assert not app.exception and metric(app, "Parameters") == "35,691,912"
    assert any("timm's **resnetrs50**" in s.value for s in app.success)
    assert app.query_params["stem"] == "deep:64:conv" and app.query_params["se"] == "4"
    app.selectbox(key="d_aa").set_value("blur").run()
    app.selectbox(key="d_block").set_value("preact").run()  # blur needs a post-activation block
    assert any(shown(e.value).startswith("**Not a valid network:** anti_alias:") for e in app.error)
    assert metric(app, "Parameters") == "35,691,912"  # the last valid network stays


def test_a_timm_name_in_the_url_opens_its_network(app):
    app.query_params["preset"] = "seresnext26t_32x4d"
    app.run()
    assert not app.exception and metric(app, "Parameters") == "16,806,976"
    assert any("timm's **seresnext26t_32x4d**" in s.value for s in app.success)
