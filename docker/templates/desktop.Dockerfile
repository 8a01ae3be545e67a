# Warren template "desktop": code-interpreter + an X desktop an agent can drive and a person can watch.
#   Xvfb (the display), openbox (a light EWMH window manager, so wmctrl sees and moves windows), x11vnc
#   (RFB on localhost only; the agent bridges it to WebSocket for noVNC), xdotool and wmctrl (input and
#   windows), xclip (clipboard), ffmpeg (x11grab recordings), tesseract-ocr (OCR), ImageMagick (only the
#   benchmark's screenshot baseline: the agent screenshots through the X protocol without forking),
#   Chromium, xterm (xfonts-base: its fixed fonts) and mousepad for an agent to drive, noVNC's static
#   viewer.
# The warren-agent starts and supervises the display stack when it finds Xvfb (see docs/desktop.md).
# Masked systemd units (symlinks to /dev/null, "writable" to anyone) are removed: no systemd runs here.
# Chromium cannot use its own sandbox under the default hardening: the `chromium` wrapper here passes
# --no-sandbox --disable-dev-shm-usage.
ARG BASE=warren/template-code-interpreter:latest
FROM ${BASE}

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      xvfb openbox x11vnc xdotool wmctrl xclip x11-utils x11-xserver-utils \
      ffmpeg tesseract-ocr tesseract-ocr-eng imagemagick \
      chromium xterm xfonts-base mousepad novnc fonts-dejavu-core \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && find / -xdev -lname /dev/null \( -path '/usr/lib/systemd/*' -o -path '/etc/systemd/*' \) -delete \
 && echo 'export CHROMIUM_FLAGS="$CHROMIUM_FLAGS --no-sandbox --disable-dev-shm-usage --no-first-run"' \
      > /etc/chromium.d/warren-no-sandbox

# User code opens its windows on the desktop by default.
ENV DISPLAY=:1

USER 1000:1000
