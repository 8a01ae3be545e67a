"""The pointer: where it goes is what `xdotool getmouselocation` reports inside the sandbox."""

from conftest import eventually, find_window, sh


def pointer(sandbox) -> tuple[int, int]:
    fields = dict(f.split(":") for f in sh(sandbox, "xdotool getmouselocation").split())
    return int(fields["x"]), int(fields["y"])


def test_move_moves_the_pointer(sandbox, desktop):
    desktop.move(321, 234)
    assert pointer(sandbox) == (321, 234)


def test_drag_ends_where_it_was_told(sandbox, desktop):
    desktop.drag(400, 300, 450, 330)
    assert pointer(sandbox) == (450, 330)
    desktop.drag(500, 300, 520, 310, button="right")
    assert pointer(sandbox) == (520, 310)


def test_drag_drop_ends_where_it_was_told(sandbox, desktop):
    desktop.drag_drop(600, 500, 610, 520)
    assert pointer(sandbox) == (610, 520)


def test_click_and_scroll_return(sandbox, desktop):
    desktop.click(900, 700, button="right")  # openbox's root menu
    desktop.press("Escape")
    desktop.click(900, 700, clicks=2)
    assert pointer(sandbox) == (900, 700)
    for direction in ("up", "down", "left", "right"):
        desktop.scroll(3, direction)


def test_a_drag_moves_a_window(sandbox, desktop):
    window = find_window(desktop, "warren-term")
    # Alt + drag moves a window anywhere in it (openbox's default binding).
    start = (window.x + 30, window.y + 30)
    sh(sandbox, "xdotool keydown alt")
    try:
        desktop.drag(*start, start[0] + 100, start[1] + 50)
    finally:
        sh(sandbox, "xdotool keyup alt")
    eventually(
        "warren-term moved",
        lambda: (w := find_window(desktop, "warren-term")).x >= window.x + 80 and w.y >= window.y + 30,
    )
