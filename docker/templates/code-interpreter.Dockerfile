# Warren template "code-interpreter": base + python3 with numpy, pandas and matplotlib (Debian packages),
# pip, Node.js 18, git. Matplotlib renders off-screen (Agg) and its font cache is built at image build
# time, so the first plot in a sandbox does not pay for it.
ARG BASE=warren/template-base:latest
FROM ${BASE}

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-pip python3-numpy python3-pandas python3-matplotlib \
      nodejs git \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

USER 1000:1000
RUN python3 -c 'import matplotlib.pyplot, numpy, pandas'
