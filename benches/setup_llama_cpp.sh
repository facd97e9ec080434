#!/bin/sh
# Installs llama-cpp-python (the llama.cpp side of `polybrief bench`) from its
# source distribution, compiled for this machine's CPU (AVX2/FMA/...), as the
# comparison in the README was made. Takes several minutes.
set -eu
PYTHON=${PYTHON:-python3}
CMAKE_ARGS="-DGGML_NATIVE=ON" FORCE_CMAKE=1 \
    "$PYTHON" -m pip install --no-binary llama-cpp-python llama-cpp-python==0.3.36 numpy
"$PYTHON" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
