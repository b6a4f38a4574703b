"""Reads TensorBoard event files with the `tensorboard` package's own reader (independent of
blindspot's writer) and prints {tag: [[step, value], ...]} for scalars as JSON, plus
"__images__": {tag: [[step, width, height], ...]}. Usage: read_events.py RUN_DIR"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
acc.Reload()
out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
out["__images__"] = {tag: [[e.step, e.width, e.height] for e in acc.Images(tag)] for tag in acc.Tags()["images"]}
print(json.dumps(out))
