"""What the fuzz tests share: the seed and number of cases (FUZZ_SEED, FUZZ_CASES), the
mutation of a real-looking input, and the report of unexpected exceptions."""
import os
import random

SEED = int(os.environ.get("FUZZ_SEED", "8"))
# 2,000 by default keeps the whole suite within CI's 15 minutes; FUZZ_CASES=100000 searches deeper.
N_CASES = int(os.environ.get("FUZZ_CASES", "2000"))

PIECES = [
    " ", "\t", "\n", "\r\n", "\r", "\ufeff", "\u00a0", "\u2028", "\x00", "-DOCSTART-", "B-", "I-PER", "E-LOC", "S-X",
    "L-", "U-ORG", "O", "{", "}", "[", "]", '"', ":", ",", '"text"', '"spans"', '"tokens"', "\\ud800", "\\u00e9",
    "NaN", "1e999", "-1", "99999999999999999999", "true", "null", "\u00e9", "\U0001f600", "\x85",
]


def mutate(rng: random.Random, text: str) -> bytes:
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
        choice = rng.random()
        position = rng.randint(0, len(data))
        if choice < 0.25 and data:
            del data[position : position + rng.randint(1, 8)]
        elif choice < 0.5:
            data[position:position] = rng.choice(PIECES).encode("utf-8", "surrogatepass")
        elif choice < 0.65 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.75:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif choice < 0.85:
            data = data[:position]
        else:
            start = rng.randint(0, len(data))
            data[position:position] = data[start : start + rng.randint(1, 40)]
    return bytes(data)


def report(unexpected, total):
    shown = "\n\n".join(f"input {data!r}:\n{trace}" for data, trace in unexpected[:3])
    return f"{len(unexpected)} of {total} inputs raised unexpected exceptions; first ones:\n{shown}"
