"""A job program that counts its launches, for Map crash tests: it appends its ``item`` to the
file ``launches`` on start, then, if ``hold`` is true, waits (up to 120 s) for the file ``release``
to exist; it exits 1 if ``fail`` is true, else writes a model file and exits 0."""

import json
import os
import sys
import time

hps = json.loads(os.environ["SM_HPS"])
with open(hps["launches"], "a") as f:
    f.write(f"{hps['item']}\n")
if hps.get("hold"):
    deadline = time.time() + 120
    while not os.path.exists(hps["release"]) and time.time() < deadline:
        time.sleep(0.05)
if hps.get("fail"):
    with open(os.path.join(os.environ["TLM_JOB_ROOT"], "output", "failure"), "w") as f:
        f.write(f"item {hps['item']} failed")
    sys.exit(1)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.bin"), "wb") as f:
    f.write(b"weights")
