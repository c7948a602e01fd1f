"""What the process tests share: the texts the ruler pipeline is run over, and JSONL files."""
import json
from pathlib import Path

TEXTS = [
    "Apple opened an office in New York.",
    "Nothing to see here",
    "",
    "Ada Lovelace never visited new york or Apple .",
    "Ünïcödé café near New York",
]


def write_jsonl(path: Path, lines) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def read_jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]
