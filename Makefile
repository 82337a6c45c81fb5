# The two commands: `make run` and `make test`. Both install what they need and are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest system-deps bench proto clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Debian packages the test suite drives as real peers (Prosody, ejabberd).
system-deps:
	./scripts/install-system-deps.sh

run: $(STAMP)
	$(BIN)/pushrelay serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

## Regenerate the Status protobuf code (grpcio-tools is the protoc; the output is committed).
PROTO_DIR := src/pushrelay/protocols/status/proto
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I $(PROTO_DIR) --python_out=$(PROTO_DIR) --pyi_out=$(PROTO_DIR) \
		$(PROTO_DIR)/application_metadata_message.proto $(PROTO_DIR)/push_notifications.proto

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
