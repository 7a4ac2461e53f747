# The two commands: `make run` (set up, migrate, demo data, serve) and `make test` (every test).
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv/bin

.PHONY: run test setup lint format

setup:
	@scripts/setup.sh

run: setup
	@$(VENV)/referloop migrate --no-input -v 0
	@$(VENV)/referloop demo --if-empty
	@$(VENV)/referloop serve --host $(HOST) --port $(PORT)

test:
	@scripts/setup.sh --test
	@scripts/test.sh

lint: setup
	@$(VENV)/ruff check .
	@$(VENV)/ruff format --check .

format: setup
	@$(VENV)/ruff format .
	@$(VENV)/ruff check --fix .
