#!/usr/bin/env python3
"""Reference fixture for the `overlong` shaper of @policy-lab/rewards, from verl's formula.

verl cannot be installed here, so its soft overlong penalty (DAPORewardManager.__call__ with an
overlong buffer, verl/workers/reward_manager/dapo.py at the commit below, read through the code
index) is written out again here in plain Python: with the response's valid length L (the
attention mask of the response, the stop token included), L_max = max_resp_len and the buffer
length B, the expected length is L_max - B and the reward gains min(-(L - (L_max - B)) / B * f, 0).

    /usr/bin/python3 packages/rewards/reference/generate.py          # rewrite the fixture
    /usr/bin/python3 packages/rewards/reference/generate.py --out DIR

No package beyond the standard library.
"""

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = {
    "framework": "verl",
    "repo": "volcengine/verl",
    "file": "verl/workers/reward_manager/dapo.py",
    "commit": "003364bc724da7d6efb63834fa1c496e1a55c888",
    "function": "DAPORewardManager.__call__",
}


def verl_overlong(valid_response_length, max_resp_len, buffer_len, penalty_factor):
    """One response's overlong reward, step by step as the reward manager computes it."""
    expected_len = max_resp_len - buffer_len
    exceed_len = valid_response_length - expected_len
    return min(-exceed_len / buffer_len * penalty_factor, 0)


def cases():
    out = []
    # DAPO's own proportion (buffer 4096 of 20480 = 0.2) at a small limit, every length 0..L_max.
    for max_len, buffer_len, factor in [(20, 4, 1.0), (16, 8, 1.0), (10, 2, 0.5), (32, 32, 2.0)]:
        lengths = list(range(0, max_len + 1))
        out.append(
            {
                "name": f"max_resp_len {max_len}, buffer {buffer_len}, penalty_factor {factor}",
                "maxResponseLength": max_len,
                "bufferLength": buffer_len,
                "penaltyFactor": factor,
                "lengths": lengths,
                "rewards": [verl_overlong(n, max_len, buffer_len, factor) for n in lengths],
            }
        )
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(HERE), help="folder to write verl-overlong.json to")
    args = parser.parse_args()
    fixture = {"generator": "packages/rewards/reference/generate.py", "reference": REFERENCE, "cases": cases()}
    path = Path(args.out) / "verl-overlong.json"
    path.write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    main()
