"""A tiny job program that follows the container contract, for runner tests.

Hyperparameters (SM_HPS): steps, sleep (s per step), fail (message: write output/failure, exit 1),
exit_code (exit with it, no failure file), ignore_term (SIGTERM does nothing), hog_mb (allocate),
spawn_child (leave a sleeping grandchild in the group).
"""

import json
import os
import signal
import subprocess
import sys
import time

hps = json.loads(os.environ["SM_HPS"])
root = os.environ["TLM_JOB_ROOT"]


def on_term(signum, frame):
    print("got SIGTERM, saving and leaving", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, signal.SIG_IGN if hps.get("ignore_term") else on_term)
print(f"fake job starting in {os.getcwd()} with {sorted(hps)}", flush=True)
print("env has AWS_SECRET_ACCESS_KEY:", "AWS_SECRET_ACCESS_KEY" in os.environ, flush=True)
if hps.get("spawn_child"):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
if hps.get("hog_mb"):
    blob = bytearray(hps["hog_mb"] * 1024 * 1024)
    print("allocated", len(blob), flush=True)
for step in range(1, int(hps.get("steps", 3)) + 1):
    print(f"metric: loss={1.0 / step:.4f} step={step}", flush=True)
    time.sleep(float(hps.get("sleep", 0)))
if hps.get("fail"):
    with open(os.path.join(root, "output", "failure"), "w") as f:
        f.write(hps["fail"])
    sys.exit(1)
if "exit_code" in hps:
    sys.exit(int(hps["exit_code"]))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.bin"), "wb") as f:
    f.write(b"weights")
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json"), "w") as f:
    json.dump({"accuracy": 0.75, "note": "text is ignored"}, f)
channel = os.environ.get("SM_CHANNEL_TRAIN")
if channel:
    print("train channel files:", sorted(os.listdir(channel)), flush=True)
print("done", flush=True)
