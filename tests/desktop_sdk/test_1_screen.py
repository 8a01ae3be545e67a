"""Screenshots and the display: sizes read from the PNGs' own headers."""

from conftest import HEIGHT, WIDTH, png_size, refused


def test_screenshot_is_the_whole_screen(blank, desktop):
    assert png_size(blank) == (WIDTH, HEIGHT)
    assert png_size(desktop.screenshot()) == (WIDTH, HEIGHT)


def test_screenshot_region_is_the_region(desktop):
    assert png_size(desktop.screenshot_region(10, 20, 300, 200)) == (300, 200)
    assert png_size(desktop.screenshot_region(WIDTH - 5, HEIGHT - 7, 5, 7)) == (5, 7)


def test_region_off_the_screen_is_refused(desktop):
    with refused(400, "INVALID_COORDINATES"):
        desktop.screenshot_region(WIDTH - 10, 0, 100, 100)
    with refused(400, "INVALID_COORDINATES"):
        desktop.screenshot_region(0, 0, 0, 10)


def test_display_and_resolutions(desktop):
    display = desktop.get_display()
    assert (display.width, display.height) == (WIDTH, HEIGHT)
    sizes = desktop.get_available_resolutions()
    assert sizes and (1024, 768) in sizes, sizes


def test_set_resolution_changes_the_screenshots(desktop):
    try:
        changed = desktop.set_resolution(1024, 768)
        assert (changed.width, changed.height) == (1024, 768)
        assert png_size(desktop.screenshot()) == (1024, 768)
        display = desktop.get_display()
        assert (display.width, display.height) == (1024, 768)
    finally:
        desktop.set_resolution(WIDTH, HEIGHT)
    assert png_size(desktop.screenshot()) == (WIDTH, HEIGHT)


def test_impossible_resolution_is_refused(desktop):
    with refused(400):
        desktop.set_resolution(5000, 10)
    display = desktop.get_display()
    assert (display.width, display.height) == (WIDTH, HEIGHT)
