#!/usr/bin/env bash
# Creates (or reuses) the project environment in .venv: PyTorch, a locally built MMCV 2.1.0 with
# its compiled ops, MMAction2 / MMDetection / MMPose, Ray and this project in editable mode.
#
# Idempotent: the environment is stamped with a hash of pyproject.toml and this script; when the
# stamp matches, the script returns in a second. The MMCV wheel (about 10 minutes to build on
# 2 cores) is cached outside the repo in $WORKCELL_CACHE (default ~/.cache/workcell-action),
# keyed by the mmcv, torch and Python versions, so a fresh clone on the same machine reuses it.
#
# Environment variables:
#   PYTHON            interpreter to build the venv from (default: python3.11)
#   VENV              environment folder (default: <repo>/.venv)
#   WORKCELL_CACHE    wheel cache folder (default: ~/.cache/workcell-action)
#   MMCV_FORCE_CUDA=1 build MMCV's CUDA ops too (needs nvcc; use on GPU hosts that run detectors)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3.11}"
cache="${WORKCELL_CACHE:-$HOME/.cache/workcell-action}"
force_cuda="${MMCV_FORCE_CUDA:-0}"

step() { printf '\n[setup_env] %s\n' "$*"; }
fail() { printf '\n[setup_env] FAILED: %s\n' "$*" >&2; exit 1; }
trap 'fail "command \"$BASH_COMMAND\" exited with status $? (line $LINENO)"' ERR

# Debian's Chromium for the live view's browser tests (tests/test_live_view.py), installed
# where this script may run apt-get (as root); elsewhere those tests are skipped, saying why.
if ! command -v chromium >/dev/null && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    step "installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y --no-install-recommends chromium >/dev/null; } ||
        echo "[setup_env] chromium could not be installed: the browser tests will be skipped"
fi

stamp_file="$venv/.workcell-stamp"
stamp="$(cat "$repo/pyproject.toml" "$repo/scripts/setup_env.sh" | sha256sum | cut -c1-16)-cuda$force_cuda"
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
    echo "[setup_env] environment $venv is up to date"
    exit 0
fi

command -v "$python" >/dev/null || fail "$python not found; set PYTHON to a Python 3.11 interpreter"
if [[ ! -x "$venv/bin/python" ]]; then
    step "creating virtual environment $venv"
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip install --disable-pip-version-check)

# Versions come from pyproject.toml so that they are written down exactly once.
read_pins() {
    "$py" - "$repo/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    doc = tomllib.load(f)
deps = {d.split("==")[0]: d for d in doc["project"]["dependencies"]}
mm = doc["tool"]["workcell"]["openmmlab"]
print(deps["torch"], deps["torchvision"], deps["numpy"], mm["mmcv"],
      " ".join(mm["no_deps"]), "|", " ".join(mm["from_source"]))
PY
}
read -r torch_req torchvision_req numpy_req mmcv_version rest <<<"$(read_pins)"
no_deps_reqs="${rest%%|*}"
from_source_reqs="${rest#*|}"

step "installing build tools, $torch_req, $torchvision_req"
# setuptools 80.x: torch 2.14 needs >= 77, and mmcv 2.1.0's setup.py imports pkg_resources,
# which setuptools 81 removes.
"${pip[@]}" "setuptools==80.9.0" wheel "cython==3.3.1" "$numpy_req" "$torch_req" "$torchvision_req"

torch_version="$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')"
py_tag="$("$py" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')"
ops="cpu"; [[ "$force_cuda" == "1" ]] && ops="cuda"
mmcv_dir="$cache/mmcv-$mmcv_version-torch$torch_version-$py_tag-$ops"
if ! ls "$mmcv_dir"/mmcv-*.whl >/dev/null 2>&1; then
    step "building mmcv $mmcv_version with compiled $ops ops (about 10 minutes on 2 cores; cached in $mmcv_dir)"
    build="$(mktemp -d)"
    "$py" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation "mmcv==$mmcv_version" -d "$build"
    tar -xzf "$build/mmcv-$mmcv_version.tar.gz" -C "$build"
    # torch >= 2.5 headers need C++20; mmcv 2.1.0 hard-codes older standards.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' \
        "$build/mmcv-$mmcv_version/setup.py"
    mkdir -p "$mmcv_dir"
    (cd "$build/mmcv-$mmcv_version" &&
        MMCV_WITH_OPS=1 FORCE_CUDA="$force_cuda" MAX_JOBS="$(nproc)" \
        "$py" -m pip wheel --disable-pip-version-check --no-deps --no-build-isolation \
            -w "$mmcv_dir" .)
    rm -rf "$build"
fi
step "installing mmcv from $mmcv_dir"
"${pip[@]}" --no-deps "$mmcv_dir"/mmcv-*.whl

step "building $from_source_reqs from source (NumPy 2 ABI)"
# shellcheck disable=SC2086
"${pip[@]}" --no-build-isolation --no-binary xtcocotools $from_source_reqs

step "installing $no_deps_reqs without their declared dependencies"
# shellcheck disable=SC2086
"${pip[@]}" --no-deps $no_deps_reqs

step "installing the project and its pinned dependencies"
"${pip[@]}" -e "$repo[dev]"

step "checking that the stack imports"
(cd "$repo" && "$py" -c '
import model  # installs the MMAction2 packaging fix before mmaction is imported
import mmcv.ops, mmaction.models, mmdet.apis, mmdet.models.trackers, mmpose.apis, ray, pyarrow, torch
print("torch", torch.__version__, "| cuda available:", torch.cuda.is_available(),
      "| mmcv ops:", mmcv.ops.nms is not None, "| ray", ray.__version__)
')

echo "$stamp" >"$stamp_file"
step "environment ready: $venv"
