#!/usr/bin/env bash
# One-shot device check of the cupy backend, in at most 8 minutes on an H100/H200 (issue 20):
#   1. the tests on the real cupy backend (pytest -k "cupy or cuda"; -n 8 with pytest-xdist),
#   2. the headline job: examples/train_lenet.py --backend cupy, 2 epochs (the 2nd is timed),
#   3. benchmarks/bench_gpu.py: a LeNet epoch, a ResNet-18 step against PyTorch CUDA,
# then a summary table against the targets (LeNet epoch < 1 s, ResNet-18 step <= 2x PyTorch).
#
#   bash benchmarks/gpu_check.sh            # on a machine with an NVIDIA GPU and CuPy
#   bash benchmarks/gpu_check.sh --dry-run  # anywhere: on the CPU through the CuPy stand-in
#                                           # (tests/cupy_standin), small sizes, no time limit
# Environment: PYTHON (default python3); MINICNN_DATA, the Fashion-MNIST folder if it is not
# in a default place; PYTHONPATH to find minicnn when it is not installed; GPU_CHECK_OUT, the
# folder for the logs (default: a new temporary one). Exit status 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${GPU_CHECK_OUT:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

DRY_RUN=0
if [ "${1:-}" = "--dry-run" ]; then
    DRY_RUN=1
    export PYTHONPATH="$PWD/tests/cupy_standin:$PWD/tests:$PYTHONPATH"
    LENET_ARGS=(--epochs 2 --train-subset 1024 --test-subset 512)
    BENCH_ARGS=(--dry-run --repeats 1 --profile-steps 1)
    LIMITS=(1800 600 900)  # seconds for the three steps: a CPU is slow, nothing to hurry for
else
    LENET_ARGS=(--epochs 2)
    BENCH_ARGS=(--repeats 5)
    LIMITS=(240 90 120)  # 7.5 minutes at most; an H200 took 20 s, 15 s and 40 s
fi

echo "gpu_check: logs in $OUT (dry run: $DRY_RUN)"
"$PY" - <<'EOF' | tee "$OUT/versions.txt"
import platform, numpy
line = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
for name in ("cupy", "torch", "numba"):
    try:
        module = __import__(name)
        line.append(f"{name} {module.__version__}")
    except Exception as error:  # noqa: BLE001 (a broken install is reported, not fatal)
        line.append(f"{name} missing ({type(error).__name__})")
print(", ".join(line))
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

PYTEST_ARGS=(-q -p no:cacheprovider -k "cupy or cuda")
"$PY" -c "import xdist" 2>/dev/null && [ "$DRY_RUN" = 0 ] && PYTEST_ARGS+=(-n 8)
"$PY" -c "import pytest_timeout" 2>/dev/null && PYTEST_ARGS+=(--timeout 300)

status=0
step() {  # step NAME LIMIT COMMAND...: run with a time limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "$rc $((SECONDS - start))" >"$OUT/$name.status"
    tail -n 4 "$OUT/$name.log"
    if [ "$rc" != 0 ]; then
        status=1
        echo "!! $name failed (exit $rc$([ "$rc" = 124 ] && echo ", over its ${limit} s")); last lines:"
        tail -n 30 "$OUT/$name.log"
    fi
}

step tests "${LIMITS[0]}" "$PY" -m pytest "${PYTEST_ARGS[@]}" tests
step lenet "${LIMITS[1]}" "$PY" examples/train_lenet.py --backend cupy "${LENET_ARGS[@]}" \
    --no-progress --out "$OUT/lenet_run"
step bench "${LIMITS[2]}" "$PY" benchmarks/bench_gpu.py "${BENCH_ARGS[@]}" --json "$OUT/bench.json"

"$PY" - "$OUT" <<'EOF'
import json, os, re, sys
out = sys.argv[1]

def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

def status(name):
    try:
        rc, seconds = open(os.path.join(out, name + ".status")).read().split()
        return ("ok" if rc == "0" else f"FAILED (exit {rc})") + f", {seconds} s"
    except OSError:
        return "not run"

log = open(os.path.join(out, "tests.log")).read() if os.path.exists(os.path.join(out, "tests.log")) else ""
counts = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", log, re.M)
bench, lenet = load("bench.json"), load("lenet_run/result.json")
history = lenet.get("history", {})
rows = [("device", bench.get("device", "?"), ""),
        ("tests on cupy (-k 'cupy or cuda')", counts[-1] if counts else status("tests"), "no failures"),
        ("train_lenet.py --backend cupy", status("lenet"), "runs")]
if history:
    rows.append(("  last epoch", f"{history['seconds'][-1]:.2f} s, {history['examples_per_sec'][-1]:,.0f} examples/s, "
                 f"loss {history['loss'][-1]:.3f}, test acc {history['test_acc'][-1]:.3f}", ""))
if "lenet_epoch_s" in bench:
    rows.append(("LeNet epoch (bench, batch 256)", f"{bench['lenet_epoch_s']:.2f} s", "< 1 s on H100/H200"))
if "resnet_step_ms" in bench:
    rows.append(("ResNet-18 step, minicnn", f"{bench['resnet_step_ms']:.1f} ms", ""))
    rows.append(("ResNet-18 step, host time alone", f"{bench['resnet_host_ms']:.1f} ms", ""))
if "resnet_launches" in bench:
    rows.append(("ResNet-18 step, kernel launches", f"{bench['resnet_launches']} (stand-in count)", ""))
if "torch_resnet_step_ms" in bench:
    ratio = bench["resnet_step_ms"] / bench["torch_resnet_step_ms"]
    rows.append(("ResNet-18 step, PyTorch CUDA", f"{bench['torch_resnet_step_ms']:.1f} ms", ""))
    rows.append(("ResNet-18 minicnn / PyTorch", f"{ratio:.2f}x", "<= 2x"))
rows.append(("bench_gpu.py", status("bench"), "runs"))
width = max(len(r[0]) for r in rows)
value_width = max(len(r[1]) for r in rows)
print("\n== summary")
for name, value, target in rows:
    print(f"{name:<{width}}  {value:<{value_width}}  {target}")
EOF
exit $status
