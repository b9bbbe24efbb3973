#!/usr/bin/env bash
# Render every overlay with kustomize (built from its Go module when missing) and check the result
# offline: Kubernetes schemas, custom-resource schemas, and consistency with the code.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
KUSTOMIZE_VERSION=v5.7.1
KUSTOMIZE="$(command -v kustomize || true)"
if [ -z "$KUSTOMIZE" ]; then
  KUSTOMIZE="$CACHE_DIR/bin/kustomize"
  if [ ! -x "$KUSTOMIZE" ]; then
    command -v go >/dev/null || { echo "go is required to build kustomize" >&2; exit 1; }
    echo "[k8s] building kustomize $KUSTOMIZE_VERSION from its Go module" >&2
    GOBIN="$CACHE_DIR/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi
fi
mkdir -p "$CACHE_DIR/k8s"
rendered=()
for overlay in "$HERE"/overlays/*/; do
  name="$(basename "$overlay")"
  "$KUSTOMIZE" build "$overlay" > "$CACHE_DIR/k8s/$name.yaml"
  rendered+=("$CACHE_DIR/k8s/$name.yaml")
done
"$ROOT/.venv/bin/python" "$HERE/check.py" "${rendered[@]}"
