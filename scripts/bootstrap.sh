#!/usr/bin/env bash
# Set-up shared by `make run` and `make test`: Debian packages, the virtual environment and the
# Python packages. Safe to run again: each step is skipped when already done.
#   scripts/bootstrap.sh            packages for running (headless rendering)
#   scripts/bootstrap.sh --test     also Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- Debian packages ----------------------------------------------------------------------
packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 libosmesa6)
[[ "${1:-}" == "--test" ]] && packages+=(chromium)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
      sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "warning: not a Debian-like system; install EGL/OSMesa (and Chromium for tests) yourself" >&2
fi

# --- virtual environment ------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || { echo "$PYTHON not found: the project needs Python 3.11" >&2; exit 1; }
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating the virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# Not quiet: a first install takes minutes, and pip's lines are its progress.
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)

stamp="$VENV/.installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  say "installing Python packages (torch: CPU build, pinned by constraints.txt)"
  "${pip[@]}" install --upgrade pip setuptools wheel
  # torch first, so nothing else can pull a CUDA build. Where pip finds no CPU build
  # (no local wheel), take it from PyTorch's CPU index.
  if ! "${pip[@]}" install -c constraints.txt "torch==2.13.0+cpu" 2>/dev/null; then
    "${pip[@]}" install -c constraints.txt "torch==2.13.0+cpu" \
      --extra-index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
  fi
  # The project's dependencies (pyproject.toml), then the checkout itself on the path through a
  # .pth file: the code runs from this folder, with no build step and no editable-install shim.
  "$VENV/bin/python" - >"$VENV/requirements.txt" <<'PY'
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["dev"]))
PY
  "${pip[@]}" install -c constraints.txt -r "$VENV/requirements.txt"
  "$VENV/bin/python" -m pip uninstall -y -q eft-crowd 2>/dev/null || true  # an older editable install
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$PWD" >"$site/eft_crowd.pth"
  # pyrender 0.1.45 pins PyOpenGL 3.1.0, whose OSMesa binding lacks OSMesaCreateContextAttribs;
  # 3.1.10 works with pyrender for both EGL and OSMesa (tested by tests/fitting/render).
  "${pip[@]}" install -c constraints.txt --no-deps "pyopengl==3.1.10"
  echo "$want" >"$stamp"
fi
