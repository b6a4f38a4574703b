"""Reads TensorBoard event files with the `tensorboard` package's own reader (independent of
blindspot's writer) and prints {tag: [steps...]} as JSON. Usage: read_events.py RUN_DIR"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
print(json.dumps(out))
