#!/usr/bin/env bash
# Builds the billing_rules wheel, installs it into an existing venv, and checks it:
# mypy.stubtest against the installed module, mypy --strict on the README's examples, then the
# pytest suite (which also runs the examples).
#   bash bindings/python/test.sh path/to/venv/bin/python
set -euo pipefail

python="${1:?usage: test.sh PATH_TO_VENV_PYTHON}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT

"$python" -m maturin build --release --quiet -i "$python" -m "$here/Cargo.toml" -o "$wheels"
"$python" -m pip install --quiet --force-reinstall --no-deps "$wheels"/billing_rules-*.whl

# Run from outside the source tree so the installed wheel, not python/, is what is imported.
cd "$wheels"
"$python" -m mypy.stubtest billing_rules
"$python" "$here/tests/readme_examples.py" > "$wheels/readme_examples.py"
"$python" -m mypy --strict --no-incremental "$wheels/readme_examples.py"
"$python" -m pytest -q -p no:cacheprovider "$here/tests"
