#!/bin/sh
# Print the Python that `make` builds .venv with (`make PYTHON=...` overrides it).
#
# The distribution's own interpreter (/usr/bin/python3) when it is 3.11 or later and can
# make a virtual environment with pip; else the first python3 on PATH. Distributions build
# CPython with profile-guided and link-time optimisation and link the interpreter into
# the executable; a version manager's default build (pyenv: no --enable-optimizations,
# the interpreter in a shared libpython called through the PLT) runs the same edgewise
# code ~15% more instructions and ~20% more time (docs/performance.md, "The interpreter").
for py in /usr/bin/python3 python3; do
  if command -v "$py" >/dev/null 2>&1 &&
     "$py" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    command -v "$py"
    exit 0
  fi
done
echo python3
