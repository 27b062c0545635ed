"""The workflow helper: --set by id or title, validation against object_info, UI → API conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from svd_suite_client.errors import WorkflowError
from svd_suite_client.jobs import image_loader
from svd_suite_client.uiformat import ui_to_api
from svd_suite_client.workflow import (
    apply_assignments,
    coerce,
    load_workflow,
    parse_assignment,
    validate,
)

OBJECT_INFO = json.loads((Path(__file__).resolve().parent / "data" / "comfyui" / "object_info_subset.json").read_text())


def graph() -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0},
            "_meta": {"title": "Canvas"},
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "a"},
            "_meta": {"title": "Save"},
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}, "_meta": {"title": "Save"}},
    }


def test_assignment_values_parse_as_json_else_string():
    assert parse_assignment("12.seed=5") == ("12", "seed", 5)
    assert parse_assignment("Canvas.color=0.5") == ("Canvas", "color", 0.5)
    assert parse_assignment("Save.filename_prefix=svd/run") == ("Save", "filename_prefix", "svd/run")
    assert parse_assignment("My v1.2 node.flag=true") == ("My v1.2 node", "flag", True)


def test_assignment_without_input_name_is_refused():
    with pytest.raises(WorkflowError, match="NODE_ID_OR_TITLE.input=value"):
        parse_assignment("seed=5")


def test_set_by_title_and_by_node_id():
    prompt = apply_assignments(graph(), ["Canvas.width=128", "2.filename_prefix=out/x"])
    assert prompt["1"]["inputs"]["width"] == 128
    assert prompt["2"]["inputs"]["filename_prefix"] == "out/x"


def test_ambiguous_title_error_lists_matching_ids_and_titles():
    with pytest.raises(WorkflowError) as caught:
        apply_assignments(graph(), ["Save.filename_prefix=x"])
    text = str(caught.value)
    assert "ambiguous" in text and "2, 3" in text and "Canvas" in text


def test_unknown_title_error_lists_titles():
    with pytest.raises(WorkflowError, match=r"no node with id or title 'Nope'.*1: Canvas \(EmptyImage\)"):
        apply_assignments(graph(), ["Nope.x=1"])


def test_input_the_node_lacks_is_refused_naming_its_inputs_closest_first():
    for target in ("1", "Canvas"):
        with pytest.raises(WorkflowError) as caught:
            apply_assignments(graph(), [f"{target}.widht=7"], OBJECT_INFO)
        text = str(caught.value)
        assert text.startswith(
            f"cannot set '{target}.widht=7': node 1 (EmptyImage) has no input 'widht' (did you mean 'width'?)"
        )
        listed = text.split("closest first: ")[1].split(", ")
        assert listed[0] == "width" and sorted(listed) == ["batch_size", "color", "height", "width"]
        assert "\n" not in text


def test_input_with_no_close_match_still_lists_every_input():
    with pytest.raises(WorkflowError) as caught:
        apply_assignments(graph(), ["2.bananna=7"], OBJECT_INFO)
    text = str(caught.value)
    assert "node 2 (SaveImage) has no input 'bananna'; its inputs, closest first:" in text
    assert sorted(text.split("closest first: ")[1].split(", ")) == ["filename_prefix", "images"]


def test_known_inputs_and_unknown_classes_are_set_as_before():
    prompt = graph()
    prompt["4"] = {"class_type": "NotOnThisServer", "inputs": {}}
    prompt["1"]["inputs"]["custom"] = 1  # a name the graph already has is kept settable
    apply_assignments(prompt, ["Canvas.width=9", "4.anything=1", "1.custom=2"], OBJECT_INFO)
    assert (prompt["1"]["inputs"]["width"], prompt["4"]["inputs"]["anything"]) == (9, 1)
    assert prompt["1"]["inputs"]["custom"] == 2


def test_valid_graph_has_no_problems():
    assert validate(graph(), OBJECT_INFO) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda g: g["1"].__setitem__("class_type", "NoSuchNode"), "node 1 (NoSuchNode): unknown node class"),
        (
            lambda g: g["2"]["inputs"].pop("images"),
            "node 2 (SaveImage) input images: required input is missing",
        ),
        (
            lambda g: g["1"]["inputs"].__setitem__("width", 0),
            "node 1 (EmptyImage) input width: value 0 is below the minimum 1",
        ),
        (
            lambda g: g["1"]["inputs"].__setitem__("width", "wide"),
            "node 1 (EmptyImage) input width: expected an integer",
        ),
        (
            lambda g: g["2"]["inputs"].__setitem__("filename_prefix", 3),
            "node 2 (SaveImage) input filename_prefix: expected a string",
        ),
        (
            lambda g: g["2"]["inputs"].__setitem__("images", ["9", 0]),
            "node 2 (SaveImage) input images: linked to node 9",
        ),
        (
            lambda g: g["2"]["inputs"].__setitem__("images", 5),
            "node 2 (SaveImage) input images: expected a link to another node's IMAGE output",
        ),
    ],
)
def test_validation_names_node_class_and_input(change, expected):
    prompt = graph()
    change(prompt)
    problems = validate(prompt, OBJECT_INFO)
    assert any(p.startswith(expected) for p in problems), problems


def test_value_not_in_combo_is_reported_with_the_choices():
    prompt = {"1": {"class_type": "KSampler", "inputs": {"sampler_name": "nope"}}}
    problems = validate(prompt, OBJECT_INFO)
    assert any("input sampler_name: value 'nope' is not one of ['euler'" in p for p in problems), problems


def test_linked_output_of_wrong_type_is_reported():
    prompt = graph()
    prompt["2"]["inputs"]["images"] = ["4", 0]
    prompt["4"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "x"}}
    assert any("does not match input type IMAGE" in p for p in validate(prompt, OBJECT_INFO))


def test_whole_floats_become_ints_for_int_inputs():
    prompt = graph()
    prompt["1"]["inputs"]["width"] = 128.0
    assert coerce(prompt, OBJECT_INFO)["1"]["inputs"]["width"] == 128
    assert isinstance(prompt["1"]["inputs"]["width"], int)


def test_load_refuses_ui_format_without_object_info_and_says_how_to_export(tmp_path):
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"nodes": [], "links": []}))
    with pytest.raises(WorkflowError, match=r"Export \(API\)"):
        load_workflow(path)


def test_load_refuses_non_workflow_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"a": 1}))
    with pytest.raises(WorkflowError, match="not an API-format workflow"):
        load_workflow(path)


def test_image_loader_requires_exactly_one_loadimage():
    with pytest.raises(WorkflowError, match="has none"):
        image_loader(graph())
    two = {"1": {"class_type": "LoadImage", "inputs": {}}, "2": {"class_type": "LoadImage", "inputs": {}}}
    with pytest.raises(WorkflowError, match="ambiguous: LoadImage nodes 1, 2"):
        image_loader(two)


def ui_workflow() -> dict:
    """EmptyImage(width from a PrimitiveNode) → Reroute → SaveImage, a KSampler-free seed case, a Note."""
    return {
        "nodes": [
            {
                "id": 1,
                "type": "EmptyImage",
                "mode": 0,
                "title": "Canvas",
                "inputs": [{"name": "width", "type": "INT", "link": 4, "widget": {"name": "width"}}],
                "widgets_values": [96, 48, 2, 255],
            },
            {"id": 2, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": 1}]},
            {
                "id": 3,
                "type": "SaveImage",
                "mode": 0,
                "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
                "widgets_values": ["ui/test"],
            },
            {"id": 4, "type": "Note", "mode": 0, "widgets_values": ["remember"]},
            {
                "id": 5,
                "type": "PrimitiveNode",
                "mode": 0,
                "outputs": [{"links": [4]}],
                "widgets_values": [96, "fixed"],
            },
        ],
        "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"], [4, 5, 0, 1, 0, "INT"]],
    }


def test_ui_conversion_names_widgets_and_resolves_reroutes_notes_and_primitives():
    prompt = ui_to_api(ui_workflow(), OBJECT_INFO)
    assert set(prompt) == {"1", "3"}
    assert prompt["1"]["inputs"] == {"width": 96, "height": 48, "batch_size": 2, "color": 255}
    assert prompt["1"]["_meta"]["title"] == "Canvas"
    assert prompt["3"]["inputs"] == {"images": ["1", 0], "filename_prefix": "ui/test"}
    assert validate(prompt, OBJECT_INFO) == []


def test_ui_conversion_skips_control_after_generate_value_after_seed():
    ui = {
        "nodes": [
            {
                "id": 7,
                "type": "KSampler",
                "mode": 0,
                "inputs": [],
                "widgets_values": [42, "randomize", 20, 7.5, "euler", "normal", 1.0],
            }
        ],
        "links": [],
    }
    inputs = ui_to_api(ui, OBJECT_INFO)["7"]["inputs"]
    assert inputs == {
        "seed": 42,
        "steps": 20,
        "cfg": 7.5,
        "sampler_name": "euler",
        "scheduler": "normal",
        "denoise": 1.0,
    }


def test_ui_conversion_refuses_unknown_node_class_with_export_hint():
    ui = {"nodes": [{"id": 1, "type": "SomeoneElsesNode", "mode": 0, "widgets_values": []}], "links": []}
    with pytest.raises(WorkflowError, match=r"SomeoneElsesNode.*Export \(API\)"):
        ui_to_api(ui, OBJECT_INFO)


def test_bundled_workflows_use_design_node_ids_and_have_titles():
    from svd_suite_client.bundled import bundled_names, bundled_workflow

    names = set(bundled_names())
    expected = {
        "svd_img2vid.json",
        "svd_xt_img2vid.json",
        "remote_fal.json",
        "remote_replicate.json",
        "remote_segmind.json",
        "auto_engine.json",
    }
    assert expected <= names
    for name in expected:
        prompt = load_workflow(bundled_workflow(name))
        assert all(node.get("_meta", {}).get("title") for node in prompt.values()), name
        classes = {node["class_type"] for node in prompt.values()}
        assert {"LoadImage", "SVDSuite_SaveVideo"} <= classes, name
        assert len([c for c in classes if c == "LoadImage"]) == 1


def test_numbers_become_text_for_combos_of_numbers_as_text():
    info = {"Pick": {"input": {"required": {"frames": [["14", "25"], {}]}}, "output": []}}
    prompt = coerce({"1": {"class_type": "Pick", "inputs": {"frames": 25}}}, info)
    assert prompt["1"]["inputs"]["frames"] == "25" and validate(prompt, info) == []
