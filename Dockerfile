# Low-Bit Lab for a class: the README's "Hosting" steps in a container (make serve).
#   docker build -t lowbit-lab .
#   docker run --rm --init -p 8501:8501 --cpus 2 --memory 3g lowbit-lab
# Debian 12 with Python 3.11, as the lab is tested; torch comes from PyTorch's CPU index (the
# plain PyPI wheel of torch==2.13.0 brings CUDA, ~2.5 GB more).
FROM python:3.11-slim-bookworm

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 \
    PORT=8501
# make serve would apt-get install haproxy itself; doing it here keeps it in a cached layer
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make haproxy \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /lab
COPY requirements.txt Makefile ./
# step 1 of the README: the virtual environment with requirements.txt (make's own stamp)
RUN make PY=python3 .venv/.stamp-run
COPY . .
# step 2: compile the numba kernels once into the image (the first visitor waits for nothing)
RUN .venv/bin/python -c "import lowbit_core.training._preload" || true
EXPOSE 8501
# step 3: what `make serve` runs (one Streamlit process per core the container sees, HAProxy on
# :PORT), started directly so that it is PID 1 and gets `docker stop`'s SIGTERM (make as PID 1
# would not pass it on); it stops every child cleanly. Run with --init to reap orphans.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=4)"
CMD [".venv/bin/python", "-m", "ui.serve", "--host", "0.0.0.0"]
