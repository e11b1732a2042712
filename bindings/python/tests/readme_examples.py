"""The README's ```python blocks, and the output their comments promise.

    python tests/readme_examples.py > examples.py   # the blocks as one module, for mypy --strict

A comment at the end of a `print(...)` call, or a comment line after a block's last statement,
is output the block promises; a trailing `...` means "starts with".
"""

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(readme: Path = README) -> list[str]:
    """The source of every ```python block, in order."""
    return re.findall(r"^```python\n(.*?)^```$", readme.read_text(), flags=re.S | re.M)


def promised_output(source: str) -> list[str]:
    """The output lines the block's comments promise, in order."""
    comments = {
        token.start[0]: token.string[1:].strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    tree = ast.parse(source)
    prints = sorted(
        node.end_lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id == "print" and node.end_lineno is not None
    )
    last = max((node.end_lineno or 0) for node in tree.body)
    lines = [line for line in prints if line in comments]
    lines += [line for line in sorted(comments) if line > last]
    return [comments[line] for line in lines]


if __name__ == "__main__":
    sys.stdout.write("\n".join(blocks()))
