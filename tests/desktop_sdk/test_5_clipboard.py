"""The clipboard, both ways: the API's text is what xclip reads inside, and the other way round."""

from conftest import eventually, sh


def test_set_clipboard_is_seen_inside(sandbox, desktop):
    desktop.set_clipboard("from-api")
    assert sh(sandbox, "xclip -selection clipboard -o") == "from-api"


def test_get_clipboard_sees_what_a_program_copied(sandbox, desktop):
    # xclip stays behind to serve the selection: a foreground command's leftovers are killed when it
    # ends, so it runs as a background command.
    sandbox.commands.run(
        "printf from-inside | xclip -selection clipboard -i >/dev/null 2>&1",
        background=True,
        timeout=900,
    )
    assert eventually("clipboard", lambda: desktop.get_clipboard() == "from-inside")


def test_history_keeps_what_was_set(desktop):
    desktop.set_clipboard("second-from-api")
    assert desktop.get_clipboard() == "second-from-api"
    history = desktop.get_clipboard_history()
    assert isinstance(history, list) and "from-api" in history, history
