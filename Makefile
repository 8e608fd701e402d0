# The two set-up commands of README.md: `make demo` and `make test`. Both first create (or
# reuse, in seconds) the environment in .venv with scripts/setup_env.sh.
PY      := .venv/bin/python
DATA    ?= data/workcell
OUT     ?= outputs/demo
CONFIG  ?= model/configs/workcell/fusion_xattn_stgcnpp.py
WORKERS ?= 1
# The demo trains a short schedule (about 20 minutes in all on 2 CPU cores); the benchmark
# (benchmarks/workcell_accuracy.py) trains the config's full schedule.
DEMO_EPOCHS ?= 8
# ... and its timeline head a short schedule too, without augmented feature copies (the
# shipped head: the config's 60 epochs and one augmented copy).
DEMO_TIMELINE_EPOCHS ?= 20
# A rendered test video (operator 5 is in the test split of seed 0) for the raw-video chain,
# and the package that reads it: the shipped recognizer and timeline head trained with features
# extracted from the train/val videos (an hour of extraction on 2 cores, so not part of the
# demo: docs/training.md section 10); the recognizer the demo trains sees annotations only.
DEMO_VIDEO ?= op05_seq000
DEMO_VIDEO_PACKAGE ?= trained_models/workcell_pixels

.PHONY: env demo test lint pixels-package

env:
	./scripts/setup_env.sh

# generate -> ingest -> train -> timeline head -> evaluate on the built-in workcell dataset,
# then the raw-video chain on a test video: the shipped detector, pose model and video package
demo: env
	$(PY) -m jobs.make_dataset --out $(DATA) --overwrite
	$(PY) -m jobs.ingest --dataset $(DATA) --out $(DATA)/features --overwrite
	$(PY) -m jobs.train --config $(CONFIG) --table $(DATA)/features --work-dir $(OUT) \
		--num-workers $(WORKERS) --overwrite --cfg-options train_cfg.max_epochs=$(DEMO_EPOCHS)
	$(PY) -m jobs.train_timeline --package $(OUT)/package --table $(DATA)/features \
		--cfg-options train_cfg.epochs=$(DEMO_TIMELINE_EPOCHS) features.augmented_copies=0
	$(PY) -m jobs.evaluate --package $(OUT)/package --table $(DATA)/features \
		--out $(OUT)/eval --frozen-test-set benchmarks/workcell_test_set.json
	$(PY) -m jobs.infer --video $(DATA)/videos/$(DEMO_VIDEO).mp4 --package $(DEMO_VIDEO_PACKAGE) \
		--annotation $(DATA)/annotations/$(DEMO_VIDEO).json --out $(OUT)/infer

# The recognizer for features from raw video (docs/training.md section 10): the train and val
# videos' features extracted with the shipped detector and pose model (about an hour on 2
# cores), the perception fine-tune chosen on validation, then its timeline head. The result is
# $(PIXELS_OUT)/package; copy it to trained_models/workcell_pixels to ship it.
PIXELS_OUT ?= outputs/perception
PIXELS_TABLE ?= $(DATA)/extracted-train-val
PIXELS_CONFIG ?= model/configs/workcell_finetune/fusion_xattn_stgcnpp_perception.py
# more overrides of the fine-tune, e.g. PIXELS_OPTIONS="train_cfg.max_epochs=6"
PIXELS_OPTIONS ?=

pixels-package: env
	$(PY) -m jobs.extract --dataset $(DATA) --splits train val --out $(PIXELS_TABLE) \
		--config model/configs/extraction/workcell.py
	$(PY) -m jobs.train --config $(PIXELS_CONFIG) --table $(DATA)/features \
		--work-dir $(PIXELS_OUT) --num-workers $(WORKERS) --overwrite \
		--cfg-options dataset.extra_tables="('$(PIXELS_TABLE)',)" $(PIXELS_OPTIONS)
	$(PY) -m jobs.train_timeline --package $(PIXELS_OUT)/package --table $(PIXELS_TABLE) \
		--cache-dir $(PIXELS_OUT)/step_cache

test: env
	$(PY) -m pytest

lint: env
	.venv/bin/ruff check .
