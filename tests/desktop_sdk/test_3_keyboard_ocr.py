"""Typing into a focused xterm, then reading it back off the screen with OCR."""

import pytest
from hopx_ai.errors import HopxError

from conftest import HEIGHT, WIDTH, active_window, eventually, find_window, refused


@pytest.fixture(scope="module")
def typed(sandbox, desktop):
    window = find_window(desktop, "warren-term")
    desktop.focus_window(window.id)
    eventually("warren-term active", lambda: active_window(sandbox) == window.id)
    desktop.type("hello warren")
    return window


def test_typed_text_is_on_the_screen(typed, blank, desktop):
    text = eventually(
        "OCR reads the typed text",
        lambda: (t := desktop.ocr(0, 0, WIDTH, HEIGHT)) and "warren" in t.lower() and t,
    )
    assert "hello" in text.lower() or "warren" in text.lower()
    assert desktop.screenshot() != blank


def test_ocr_of_the_window_region(typed, desktop):
    window = typed
    text = desktop.ocr(window.x, window.y, window.width, window.height)
    assert "warren" in text.lower(), text


def test_find_element_and_get_bounds(typed, desktop):
    element = desktop.find_element("warren")
    assert element is not None
    for found in (element, desktop.get_bounds("warren")):
        assert {"x", "y", "width", "height"} <= set(found), found
        assert found["width"] > 0 and found["height"] > 0, found
        # Inside the xterm the text was typed into.
        assert typed.x <= found["x"] < typed.x + typed.width, (found, typed)
        assert typed.y <= found["y"] < typed.y + typed.height, (found, typed)


def test_find_element_of_absent_text_is_none(typed, desktop):
    assert desktop.find_element("zyxwvutsrq") is None


def test_wait_for_present_and_absent_text(typed, desktop):
    element = desktop.wait_for("warren", timeout=10)
    assert {"x", "y", "width", "height"} <= set(element), element
    with pytest.raises(HopxError) as caught:
        desktop.wait_for("qqxxzzyy", timeout=2)
    assert 400 <= (caught.value.status_code or 0) < 500, caught.value


def test_ocr_of_an_empty_region_is_empty_text(desktop):
    # The bottom right corner of the bare root window: nothing drawn there.
    assert desktop.ocr(WIDTH - 60, HEIGHT - 60, 50, 50).strip() == ""


def test_press_return_runs_the_typed_line(typed, sandbox, desktop):
    desktop.combination(["ctrl"], "u")  # the shell drops "hello warren", typed without a Return
    desktop.type("echo $((6*7))warren")
    desktop.press("Return")
    eventually(
        "the shell ran the typed line",
        lambda: "42warren" in desktop.ocr(typed.x, typed.y, typed.width, typed.height).replace(" ", ""),
    )


def test_combination_and_hotkey(typed, sandbox, desktop):
    # ctrl+u erases the line typed so far in the xterm's shell; ctrl+c abandons one.
    desktop.type("zzdroppedzz")
    desktop.combination(["ctrl"], "u")
    desktop.press("Return")
    desktop.type("yydroppedyy")
    desktop.hotkey(["ctrl"], "c")
    desktop.combination(["ctrl"], "a")
    history = eventually(
        "the shell saw the lines",
        lambda: (t := desktop.ocr(typed.x, typed.y, typed.width, typed.height).lower())
        and "yydroppedyy" in t.replace(" ", "") and t,
    )
    assert "zzdroppedzz" not in history.replace(" ", ""), history


def test_unknown_key_is_refused(desktop):
    with refused(400):
        desktop.press("NoSuchKey")
    with refused(400):
        desktop.combination(["nosuchmodifier"], "a")
