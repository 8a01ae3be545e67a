"""A screen recording: started once, stopped, downloaded, and played by ffprobe inside the sandbox."""

import time

from conftest import refused, sh


def test_record_stop_download_and_play(sandbox, desktop):
    started = desktop.start_recording()
    assert started.recording_id
    with refused(409):
        desktop.start_recording()
    assert desktop.get_recording_status(started.recording_id).status.value == "recording"
    time.sleep(2)
    stopped = desktop.stop_recording(started.recording_id)
    assert stopped.duration > 0, stopped
    status = desktop.get_recording_status(started.recording_id)
    # (hopx-ai's RecordingInfo.is_ready compares its enum with a string: always False.)
    assert status.status.value == "stopped", status
    video = desktop.download_recording(started.recording_id)
    assert len(video) > 1000, len(video)
    sandbox.files.write_bytes("/workspace/recording.mp4", video)
    duration = sh(
        sandbox,
        "ffprobe -v error -show_entries format=duration -of csv=p=0 /workspace/recording.mp4",
    )
    assert float(duration) > 0.5, duration


def test_a_second_recording_after_the_first(desktop):
    again = desktop.start_recording(fps=5, format="mp4", quality="low")
    time.sleep(1)
    assert desktop.stop_recording(again.recording_id).duration > 0


def test_unknown_recording_is_not_found(desktop):
    for call in (desktop.get_recording_status, desktop.download_recording, desktop.stop_recording):
        with refused(404):
            call("no-such-recording")
