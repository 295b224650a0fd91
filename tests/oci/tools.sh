# shellcheck shell=bash
# crane and oras, pinned, built once with `go install` into target/oci-tools
# (sourced; sets CRANE and ORAS; needs ROOT).
CRANE_VERSION=v0.22.1
ORAS_VERSION=v1.3.6
TOOLS=$ROOT/target/oci-tools
mkdir -p "$TOOLS"
if [ ! -x "$TOOLS/crane-$CRANE_VERSION" ]; then
    GOBIN=$TOOLS go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
    mv "$TOOLS/crane" "$TOOLS/crane-$CRANE_VERSION"
fi
if [ ! -x "$TOOLS/oras-$ORAS_VERSION" ]; then
    GOBIN=$TOOLS go install "oras.land/oras/cmd/oras@$ORAS_VERSION"
    mv "$TOOLS/oras" "$TOOLS/oras-$ORAS_VERSION"
fi
export CRANE=$TOOLS/crane-$CRANE_VERSION
export ORAS=$TOOLS/oras-$ORAS_VERSION
command -v skopeo >/dev/null || { apt-get update -qq && apt-get install -y -qq skopeo >/dev/null; }
