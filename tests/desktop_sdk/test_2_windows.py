"""Windows opened by commands inside the sandbox, listed, focused, resized, minimized and closed."""

from conftest import active_window, eventually, find_window, open_xterm, png_size, refused, sh


def test_a_command_opens_a_window_get_windows_lists(sandbox, desktop):
    window = open_xterm(sandbox, desktop, "warren-term")
    assert window.width > 0 and window.height > 0
    assert window.id and isinstance(window.id, int)


def test_focus_window_activates_it(sandbox, desktop):
    first = find_window(desktop, "warren-term")
    second = open_xterm(sandbox, desktop, "warren-other", geometry="40x8+700+400")
    desktop.focus_window(first.id)
    eventually("warren-term active", lambda: active_window(sandbox) == first.id)
    desktop.focus_window(second.id)
    eventually("warren-other active", lambda: active_window(sandbox) == second.id)


def test_click_on_a_window_focuses_it(sandbox, desktop):
    first = find_window(desktop, "warren-term")
    second = find_window(desktop, "warren-other")
    desktop.focus_window(second.id)
    eventually("warren-other active", lambda: active_window(sandbox) == second.id)
    desktop.click(first.x + first.width // 2, first.y + first.height // 2)
    eventually("a click activates warren-term", lambda: active_window(sandbox) == first.id)


def test_resize_window_changes_its_size(sandbox, desktop):
    before = find_window(desktop, "warren-other")
    target = (before.width + 200, before.height + 120)
    desktop.resize_window(before.id, *target)

    def grown():
        now = find_window(desktop, "warren-other")
        # xterm rounds to whole character cells: it moves towards the target, within a cell or two.
        return now if now.width > before.width + 100 and now.height > before.height + 60 else None

    now = eventually("warren-other resized", grown)
    assert abs(now.width - target[0]) < 40 and abs(now.height - target[1]) < 60, (now, target)


def test_capture_window_is_that_window(desktop):
    window = find_window(desktop, "warren-other")
    image = desktop.capture_window(window.id)
    width, height = png_size(image)
    assert abs(width - window.width) <= 20 and abs(height - window.height) <= 40, (width, height, window)
    assert png_size(desktop.capture_window()) > (0, 0)  # no id: the active window


def test_minimize_window_hides_it(sandbox, desktop):
    window = find_window(desktop, "warren-other")
    desktop.minimize_window(window.id)
    eventually(
        "warren-other iconified",
        lambda: "_NET_WM_STATE_HIDDEN" in sh(sandbox, f"xprop -id {window.id} _NET_WM_STATE"),
    )


def test_close_window_removes_it(desktop):
    window = find_window(desktop, "warren-other")
    desktop.close_window(window.id)
    eventually("warren-other gone", lambda: find_window(desktop, "warren-other") is None)


def test_unknown_window_is_not_found(desktop):
    for call in (desktop.focus_window, desktop.close_window, desktop.minimize_window):
        with refused(404, "WINDOW_NOT_FOUND"):
            call(0x7FFFFFF)
    with refused(404, "WINDOW_NOT_FOUND"):
        desktop.resize_window(0x7FFFFFF, 100, 100)
    with refused(404, "WINDOW_NOT_FOUND"):
        desktop.capture_window(0x7FFFFFF)
